//! The aggregator API client of the Worker: `fetch` with a timeout, bearer token, Janus's
//! media type.

use crate::provision::{AggregatorApi, ApiAnswer, API_MEDIA_TYPE};
use worker::{AbortSignal, Fetch, Headers, Method, Request, RequestInit};

/// Calls aggregator APIs, waiting at most `timeout_ms` per request.
pub struct WorkerFetch {
    /// Per-request limit.
    pub timeout_ms: u64,
}

fn method(m: &str) -> Method {
    match m {
        "POST" => Method::Post,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "PUT" => Method::Put,
        _ => Method::Get,
    }
}

impl AggregatorApi for WorkerFetch {
    async fn send(
        &self,
        m: &str,
        url: &str,
        token: &str,
        body: Option<Vec<u8>>,
    ) -> Result<ApiAnswer, String> {
        let headers = Headers::new();
        let set = |k: &str, v: &str| {
            headers
                .set(k, v)
                .map_err(|_| "a header value is not valid".to_string())
        };
        set("accept", API_MEDIA_TYPE)?;
        set("authorization", &format!("Bearer {token}"))?;
        let mut init = RequestInit::new();
        init.with_method(method(m));
        if let Some(b) = body {
            set("content-type", API_MEDIA_TYPE)?;
            init.with_body(Some(js_sys::Uint8Array::from(b.as_slice()).into()));
        }
        init.with_headers(headers.clone());
        let req = Request::new_with_init(url, &init).map_err(|e| format!("bad request: {e}"))?;
        let timeout = u32::try_from(self.timeout_ms).unwrap_or(u32::MAX);
        let signal = AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(timeout));
        let mut resp = Fetch::Request(req)
            .send_with_signal(&signal)
            .await
            .map_err(|e| {
                let msg = e.to_string();
                if msg.contains("TimeoutError") || msg.contains("aborted") {
                    format!("no answer within {} s", self.timeout_ms / 1000)
                } else {
                    msg
                }
            })?;
        let status = resp.status_code();
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("the answer broke off: {e}"))?;
        Ok(ApiAnswer { status, body })
    }
}
