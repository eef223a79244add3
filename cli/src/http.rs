//! The shared blocking HTTP client: connect and request timeouts, at most three attempts
//! with exponential backoff for connection errors and 5xx answers only, and conversion of
//! error answers (RFC 9457 problem documents or bare statuses) into one-line errors.

use crate::error::{one_line, Error, Result};
use edap_core::media::MediaType;
use edap_core::{DapErrorType, ProblemDocument};
use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};
use std::time::Duration;

/// Attempts per request (the first try included).
pub const MAX_ATTEMPTS: u32 = 3;
/// The wait before the first retry; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Time allowed to establish a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a whole request and its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// The URL that answered (for resolving `Location`).
    pub url: Url,
    /// How many attempts it took (1 unless a retry happened).
    pub attempts: u32,
}

impl Answer {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the body is declared as the given DAP media type.
    pub fn is_media(&self, m: MediaType) -> bool {
        self.header("content-type")
            .and_then(MediaType::parse)
            .is_some_and(|t| t == m)
    }
}

/// One request to send.
pub struct Req<'a> {
    /// What the request is for, for error messages ("upload to the Leader").
    pub what: &'a str,
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: &'a str,
    /// The body's media type, if there is a body.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
    /// The credential to send, if any (marked sensitive, never printed).
    pub auth: Option<Auth<'a>>,
    /// The `Accept` header, if any.
    pub accept: Option<&'a str>,
    /// The `dap-taskprov` advertisement of the task, if any.
    pub taskprov: Option<&'a str>,
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// `Authorization: Bearer <token>` (what the tool's own task files use).
    Bearer(&'a str),
    /// `DAP-Auth-Token: <token>` (what the interop test design prescribes).
    DapAuthToken(&'a str),
}

impl<'a> Req<'a> {
    /// A request without a body.
    pub fn new(what: &'a str, method: Method, url: &'a str) -> Req<'a> {
        Req {
            what,
            method,
            url,
            content_type: None,
            body: Vec::new(),
            auth: None,
            accept: None,
            taskprov: None,
        }
    }

    /// Advertises the task (the `dap-taskprov` header, taskprov's task advertisement).
    pub fn taskprov(mut self, advert: Option<&'a str>) -> Req<'a> {
        self.taskprov = advert;
        self
    }

    /// Sets `Accept`.
    pub fn accept(mut self, media_type: &'a str) -> Req<'a> {
        self.accept = Some(media_type);
        self
    }

    /// Adds a body.
    pub fn body(mut self, content_type: impl Into<String>, body: Vec<u8>) -> Req<'a> {
        self.content_type = Some(content_type.into());
        self.body = body;
        self
    }

    /// Adds a bearer token.
    pub fn bearer(mut self, token: Option<&'a str>) -> Req<'a> {
        self.auth = token.map(Auth::Bearer);
        self
    }

    /// Adds a credential.
    pub fn auth(mut self, auth: Auth<'a>) -> Req<'a> {
        self.auth = Some(auth);
        self
    }
}

/// The blocking client.
pub struct Http {
    client: Client,
    first_backoff: Duration,
}

/// The innermost cause of an error chain (the useful part of reqwest's errors).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    one_line(&cur.to_string(), 200)
}

impl Http {
    /// A client with the tool's timeouts.
    pub fn new() -> Result<Http> {
        let client = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("edap/", env!("CARGO_PKG_VERSION")))
            // Location headers are followed by hand (they name DAP resources).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Input(format!("cannot set up HTTP: {}", root_cause(&e))))?;
        Ok(Http {
            client,
            first_backoff: FIRST_BACKOFF,
        })
    }

    /// Sends a request, retrying connection failures and 5xx answers (at most
    /// [`MAX_ATTEMPTS`] attempts). Returns whatever answer came last, whatever its status,
    /// unless no answer came at all.
    pub fn send(&self, req: &Req<'_>) -> Result<Answer> {
        let url = Url::parse(req.url).map_err(|e| {
            Error::Input(format!(
                "{}: invalid URL {:?}: {e}",
                req.what,
                one_line(req.url, 200)
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Input(format!(
                "{}: {url} is not an http(s) URL",
                req.what
            )));
        }
        let mut headers = HeaderMap::new();
        if let Some(ct) = &req.content_type {
            let v = HeaderValue::from_str(ct)
                .map_err(|_| Error::Input(format!("invalid content type {ct:?}")))?;
            headers.insert(CONTENT_TYPE, v);
        }
        if let Some(accept) = req.accept {
            let v = HeaderValue::from_str(accept)
                .map_err(|_| Error::Input(format!("invalid media type {accept:?}")))?;
            headers.insert(reqwest::header::ACCEPT, v);
        }
        if let Some(advert) = req.taskprov {
            let v = HeaderValue::from_str(advert)
                .map_err(|_| Error::Input("the task advertisement is not a header value".into()))?;
            headers.insert(HeaderName::from_static("dap-taskprov"), v);
        }
        if let Some(auth) = req.auth {
            let (name, value) = match auth {
                Auth::Bearer(token) => (AUTHORIZATION, format!("Bearer {token}")),
                Auth::DapAuthToken(token) => {
                    (HeaderName::from_static("dap-auth-token"), token.to_string())
                }
            };
            let mut v = HeaderValue::from_str(&value).map_err(|_| {
                Error::Input(
                    "the token contains characters that cannot be sent in an HTTP header".into(),
                )
            })?;
            v.set_sensitive(true);
            headers.insert(name, v);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut builder = self
                .client
                .request(req.method.clone(), url.clone())
                .headers(headers.clone());
            if req.content_type.is_some() || !req.body.is_empty() {
                builder = builder.body(req.body.clone());
            }
            match builder.send() {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if status >= 500 && attempt < MAX_ATTEMPTS {
                        std::thread::sleep(self.backoff(attempt));
                        continue;
                    }
                    let headers = resp.headers().clone();
                    let answer_url = resp.url().clone();
                    let body = resp
                        .bytes()
                        .map_err(|e| Error::Unreachable {
                            what: req.what.to_string(),
                            url: url.to_string(),
                            reason: format!("reading the answer: {}", root_cause(&e)),
                        })?
                        .to_vec();
                    return Ok(Answer {
                        status,
                        headers,
                        body,
                        url: answer_url,
                        attempts: attempt,
                    });
                }
                Err(e) if e.is_connect() && attempt < MAX_ATTEMPTS => {
                    std::thread::sleep(self.backoff(attempt));
                }
                Err(e) => {
                    let reason = if e.is_timeout() {
                        format!(
                            "no answer within {} s{}",
                            if e.is_connect() {
                                CONNECT_TIMEOUT.as_secs()
                            } else {
                                REQUEST_TIMEOUT.as_secs()
                            },
                            if attempt > 1 {
                                format!(" ({attempt} attempts)")
                            } else {
                                String::new()
                            }
                        )
                    } else if attempt > 1 {
                        format!("{} ({attempt} attempts)", root_cause(&e))
                    } else {
                        root_cause(&e)
                    };
                    return Err(Error::Unreachable {
                        what: req.what.to_string(),
                        url: url.to_string(),
                        reason,
                    });
                }
            }
        }
    }

    /// Sends a request and turns any non-2xx answer into an error.
    pub fn send_ok(&self, req: &Req<'_>) -> Result<Answer> {
        let a = self.send(req)?;
        if (200..300).contains(&a.status) {
            Ok(a)
        } else {
            Err(error_answer(req.what, &a))
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.first_backoff * (1u32 << (attempt - 1).min(8))
    }
}

/// The error for a non-2xx answer: the problem document if the body is one, else the
/// status with a short excerpt of the body.
pub fn error_answer(what: &str, a: &Answer) -> Error {
    if let Ok(doc) = serde_json::from_slice::<ProblemDocument>(&a.body) {
        let hint = match doc.dap_type() {
            Some(DapErrorType::UnrecognizedTask) => {
                "; the aggregator does not know this task (is it provisioned, and is the task file the one it was provisioned with?)".to_string()
            }
            _ if doc.status == 401 || doc.status == 403 || a.status == 401 || a.status == 403 => {
                "; check the token".to_string()
            }
            _ => String::new(),
        };
        let doc = ProblemDocument {
            type_: one_line(&doc.type_, 200),
            title: one_line(&doc.title, 200),
            detail: doc.detail.map(|d| one_line(&d, 300)),
            ..doc
        };
        return Error::Problem {
            what: what.to_string(),
            problem: Box::new(doc),
            hint,
        };
    }
    let text = String::from_utf8_lossy(&a.body);
    let text = one_line(&text, 200);
    let detail = if text.is_empty() {
        match a.status {
            401 | 403 => " (check the token)".to_string(),
            404 => " (not found: check the URL)".to_string(),
            _ => String::new(),
        }
    } else {
        format!(": {text}")
    };
    Error::Status {
        what: what.to_string(),
        status: a.status,
        detail,
    }
}

/// Joins an endpoint (with or without a trailing `/`) and a path starting with `/`.
pub fn join(endpoint: &str, path: &str) -> String {
    edap_core::http::join_url(endpoint, path)
}

/// Resolves a `Location` header against the URL that sent it (RFC 3986).
pub fn resolve(base: &Url, location: &str) -> Result<Url> {
    base.join(location.trim()).map_err(|e| {
        Error::Protocol(format!(
            "the server sent an invalid Location {:?}: {e}",
            one_line(location, 200)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_locations() {
        let base = Url::parse("https://l.example/dap/tasks/x/collection_jobs").unwrap();
        assert_eq!(
            resolve(&base, "/tasks/x/collection_jobs/y")
                .unwrap()
                .as_str(),
            "https://l.example/tasks/x/collection_jobs/y"
        );
        assert_eq!(
            resolve(&base, "https://o.example/z").unwrap().as_str(),
            "https://o.example/z"
        );
        assert_eq!(join("http://a/b/", "/c"), "http://a/b/c");
        assert_eq!(join("http://a/b", "/c"), "http://a/b/c");
    }
}
