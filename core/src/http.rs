//! HTTP values without an HTTP stack: the router takes a [`Request`] and returns a
//! [`Response`]; the Leader sends [`OutboundRequest`]s through the platform.

use crate::error::Abort;
use crate::media::MediaType;

/// HTTP methods the API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// PATCH
    Patch,
    /// Anything else.
    Other,
}

impl Method {
    /// Parses a method name.
    pub fn parse(s: &str) -> Method {
        match s.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }

    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Other => "OPTIONS",
        }
    }
}

/// Header name/value pairs; names compare case-insensitively.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Adds a header.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_string(), value.into()));
    }

    /// Builder form of [`Self::push`].
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.push(name, value);
        self
    }
}

/// An inbound request.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The method.
    pub method: Option<Method>,
    /// The path, starting with `/`, percent-decoding not applied.
    pub path: String,
    /// The query string without `?` (may be empty).
    pub query: String,
    /// Request headers.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
    /// The URL scheme the request arrived with (`http` or `https`), when the server knows it.
    pub scheme: Option<String>,
}

impl Request {
    /// Builds a request.
    pub fn new(method: Method, path_and_query: &str, headers: Headers, body: Vec<u8>) -> Request {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Request {
            method: Some(method),
            path: path.to_string(),
            query: query.to_string(),
            headers,
            body,
            scheme: None,
        }
    }

    /// The value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// Fails with 415 unless the body's media type is `expected`.
    pub fn require_media_type(&self, expected: MediaType) -> Result<(), Abort> {
        match self.headers.get("content-type") {
            Some(ct) if MediaType::parse(ct) == Some(expected) => Ok(()),
            Some(ct) => Err(Abort::UnsupportedMediaType(format!(
                "expected {}, got {ct}",
                expected.as_str()
            ))),
            None => Err(Abort::UnsupportedMediaType(format!(
                "missing Content-Type, expected {}",
                expected.as_str()
            ))),
        }
    }

    /// The bearer token from `Authorization: Bearer` or `DAP-Auth-Token`, if any.
    pub fn auth_token(&self) -> Option<&str> {
        if let Some(v) = self.headers.get("authorization") {
            let (scheme, token) = v.split_once(' ')?;
            if scheme.eq_ignore_ascii_case("bearer") {
                return Some(token.trim());
            }
            return None;
        }
        self.headers.get("dap-auth-token").map(str::trim)
    }
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: Headers,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// An empty response.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Headers::default(),
            body: Vec::new(),
        }
    }

    /// A DAP message body.
    pub fn dap(status: u16, media: MediaType, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: Headers::default().with("content-type", media.as_str()),
            body,
        }
    }

    /// A JSON body.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: Headers::default().with("content-type", "application/json"),
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    /// An RFC 9457 problem document for `abort`.
    pub fn problem(abort: &Abort) -> Response {
        let doc = abort.problem();
        Response {
            status: doc.status,
            headers: Headers::default().with("content-type", "application/problem+json"),
            body: doc.to_json().into_bytes(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push(name, value);
        self
    }
}

/// A request to another server (the peer aggregator).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutboundRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: String,
    /// Headers (including authentication).
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

/// Why an outbound request got no HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum FetchError {
    /// Connection refused, DNS failure, reset...
    #[error("connection failed: {0}")]
    Connect(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
}

/// Joins a base URL (which may or may not end with `/`) and a path starting with `/`.
pub fn join_url(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}
