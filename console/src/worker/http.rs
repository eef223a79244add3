//! Requests and answers of the JSON API, independent of the `worker` types: a request read
//! once (method, path segments, headers, body), an answer with headers, and the context
//! every handler gets (settings, database, time, the console's origin).

use super::db::Db;
use crate::error::ConsoleError;
use crate::session::CookiePolicy;
use crate::settings::Settings;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Most bytes of a request body.
pub const MAX_BODY: usize = 64 * 1024;

/// A request to the JSON API.
pub struct Req {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path below `/api/v1/`, split at `/`.
    pub segments: Vec<String>,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Req {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the method changes state.
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }

    /// The body as JSON of type `T` (`{}` when empty).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ConsoleError> {
        let body: &[u8] = if self.body.is_empty() {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| {
            ConsoleError::BadRequest(format!(
                "the request body is not the JSON this request takes: {}",
                edap_core::api::aggregator_api::types::redact_quoted(&e.to_string())
            ))
        })
    }
}

/// An answer.
pub struct Resp {
    /// Status.
    pub status: u16,
    /// Extra headers (`Content-Type` is JSON unless the body is empty).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Resp {
    /// A JSON answer.
    pub fn json(status: u16, value: &impl Serialize) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    /// An empty answer (204).
    pub fn empty() -> Resp {
        Resp {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The answer of an error.
    pub fn error(e: &ConsoleError) -> Resp {
        let mut r = Resp {
            status: e.status(),
            headers: Vec::new(),
            body: e.body(),
        };
        if let ConsoleError::TooManyRequests { retry_after, .. } = e {
            r.headers
                .push(("retry-after".into(), retry_after.to_string()));
        }
        r
    }

    /// Adds a header.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Resp {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// What every handler may use.
pub struct Ctx {
    /// Settings from the deployment's variables.
    pub settings: Settings,
    /// The database.
    pub db: Db,
    /// Now, POSIX seconds.
    pub now: u64,
    /// The console's origin (`scheme://host[:port]`), for invitation links and checks.
    pub origin: String,
    /// How the session cookie is set.
    pub cookies: CookiePolicy,
    /// The client's address (for sign-in limits).
    pub client_ip: String,
}
