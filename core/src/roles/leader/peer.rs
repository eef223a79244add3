//! The Leader's requests to the Helper, shared by aggregation jobs and collection jobs:
//! authentication, creating a resource or polling its `Location`, and sorting the answer
//! into ready, deferred (with the Helper's `Retry-After`), refused, or retry later.

use crate::error::Abort;
use crate::http::{join_url, Headers, Method, OutboundRequest};
use crate::media::MediaType;
use crate::platform::Platform;
use crate::roles::{resolve_location, retry_after_secs};
use crate::task::AggregatorTask;
use crate::ProblemDocument;

/// What the Helper answered.
pub enum PeerAnswer {
    /// The resource's representation.
    Ready(Vec<u8>),
    /// Deferred: ask again (GET its location) at this time (ms).
    Pending(u64),
    /// A client error: the job or share will not come.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The Helper's problem document, if it sent one.
        problem: Option<ProblemDocument>,
    },
}

impl PeerAnswer {
    /// A readable description of a refusal.
    pub fn refusal(status: u16, problem: &Option<ProblemDocument>) -> String {
        match problem {
            Some(p) => format!("the Helper refused ({p})"),
            None => format!("the Helper refused (HTTP {status})"),
        }
    }
}

/// The header that carries the task's aggregator token.
pub fn auth_headers(task: &AggregatorTask) -> Headers {
    let mut h = Headers::default();
    if let Some(t) = &task.aggregator_auth_token {
        let (name, value) = task.peer_auth.header(&t.0);
        h.push(name, value);
    }
    h
}

/// POSTs `body` to `{helper}{create_path}` or, once the Helper gave a `Location` for the
/// resource (kept in `location`), GETs it (with `poll_query` appended, e.g. `step=0`).
/// Connection failures, timeouts, 408, 429 and 5xx are `Abort::Unavailable` (retry later).
pub async fn exchange<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    location: &mut Option<String>,
    create_path: &str,
    media: MediaType,
    body: Vec<u8>,
    poll_query: Option<&str>,
) -> Result<PeerAnswer, Abort> {
    let helper = &task.config.helper_endpoint;
    let req = match location.as_deref() {
        Some(loc) => OutboundRequest {
            method: Method::Get,
            url: match poll_query {
                Some(q) if !loc.contains(q.split('=').next().unwrap_or(q)) => {
                    format!("{loc}{}{q}", if loc.contains('?') { '&' } else { '?' })
                }
                _ => loc.to_string(),
            },
            headers: auth_headers(task),
            body: Vec::new(),
        },
        None => OutboundRequest {
            method: Method::Post,
            url: join_url(helper, create_path),
            headers: auth_headers(task).with("content-type", media.as_str()),
            body,
        },
    };
    let resp = p
        .fetch(req)
        .await
        .map_err(|e| Abort::Unavailable(format!("Helper: {e}")))?;
    if resp.status >= 500 || resp.status == 429 || resp.status == 408 {
        return Err(Abort::Unavailable(format!(
            "Helper answered {}",
            resp.status
        )));
    }
    if resp.status >= 400 {
        return Ok(PeerAnswer::Refused {
            status: resp.status,
            problem: serde_json::from_slice(&resp.body).ok(),
        });
    }
    if let Some(loc) = resp.headers.get("location") {
        *location = Some(resolve_location(helper, loc));
    }
    if !resp.body.is_empty() {
        return Ok(PeerAnswer::Ready(resp.body));
    }
    if location.is_none() {
        return Ok(PeerAnswer::Refused {
            status: resp.status,
            problem: None,
        });
    }
    let secs = retry_after_secs(resp.headers.get("retry-after"));
    Ok(PeerAnswer::Pending(p.now_ms() + secs * 1000))
}
