//! The aggregator API: the provisioning interface a control plane uses to pair with this
//! aggregator, in the shape of Janus's aggregator API (`aggregator_api` crate), mounted
//! under `/api` of the same worker.
//!
//! | method | path (under `/api`) | does |
//! |---|---|---|
//! | GET | `/` | what this aggregator supports ([`AggregatorApiConfig`]) |
//! | GET | `/task_ids?pagination_token=ID` | task IDs in order, 1,000 per page |
//! | POST | `/tasks` | create a task (a Helper generates and returns the Leader's token once) |
//! | GET, PATCH, DELETE | `/tasks/{id}` | read; set or clear `deactivate_at`; delete (204, also when missing) |
//! | GET | `/tasks/{id}/metrics/uploads`, `/tasks/{id}/metrics/aggregations` | the Leader's counters |
//! | GET, PUT | `/hpke_configs` | this aggregator's HPKE key pairs; add one (pending) |
//! | GET, PATCH, DELETE | `/hpke_configs/{id}` | read; change state; delete |
//! | GET, POST, DELETE | `/taskprov/peer_aggregators` | taskprov peers (DELETE takes a JSON body) |
//! | GET, PUT, DELETE | `/key_rotation` | the HPKE key rotation schedule (an extension) |
//!
//! Every request carries `Authorization: Bearer <token>` with one of the deployment's
//! `AGGREGATOR_API_TOKENS` (401 otherwise; the API answers 404 when none are configured)
//! and accepts [`MEDIA_TYPE`] (406 otherwise); a request body is of that type (415
//! otherwise). Errors are RFC 9457 problem documents, never with a secret in them.

mod dp_json;
mod hpke_configs;
mod metrics;
pub mod rfc3339;
mod rotation;
mod taskprov;
mod tasks;
mod token_rotation;
pub mod types;

pub use hpke_configs::{HpkeConfigResp, PatchHpkeConfigReq, PutHpkeConfigReq};
pub use metrics::{GetTaskAggregationMetricsResp, GetTaskUploadMetricsResp};
pub use rotation::KeyRotationResp;
pub use taskprov::{
    normalize_endpoint, DeleteTaskprovPeerAggregatorReq, PostTaskprovPeerAggregatorReq,
    TaskprovPeerAggregatorResp,
};
pub use tasks::{GetTaskIdsResp, PatchTaskReq, PostTaskReq, TaskResp};

use crate::error::ProblemDocument;
use crate::http::{Method, Request, Response};
use crate::platform::Platform;
use crate::store::StoreError;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// The media type of every request and response body (Janus's, exactly).
pub const MEDIA_TYPE: &str = "application/vnd.janus.aggregator+json;version=0.1";

/// The features this aggregator advertises in `GET /`. `PostResourceCreation` and
/// `PutResourceCreation`: it accepts DAP-18's `POST` with server-chosen IDs and the `PUT`
/// with client-chosen IDs that Janus speaks.
pub const FEATURES: [&str; 6] = [
    "TokenHash",
    "UploadMetrics",
    "AggregationJobMetrics",
    "PureDpDiscreteLaplace",
    "PostResourceCreation",
    "PutResourceCreation",
];

/// `GET /`: what this aggregator is and supports (Janus's `AggregatorApiConfig`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatorApiConfig {
    /// `"DAP-18"`.
    pub protocol: String,
    /// This deployment's DAP URL, as peers name it.
    pub dap_url: String,
    /// `"Either"`: every task says which role this aggregator plays.
    pub role: String,
    /// The VDAFs (Janus's names, plus `Prio3MultihotCountVec`).
    pub vdafs: Vec<String>,
    /// `"TimeInterval"`, `"LeaderSelected"`.
    pub batch_modes: Vec<String>,
    /// See [`FEATURES`].
    pub features: Vec<String>,
    /// `"edap"`.
    pub software_name: String,
    /// The crate version.
    pub software_version: String,
}

/// Why an aggregator API request failed. The message is the problem document's `detail`
/// and never contains a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No API tokens are configured: the API is off (404).
    #[error("the aggregator API is not enabled on this deployment (set AGGREGATOR_API_TOKENS)")]
    Off,
    /// Missing or wrong bearer token (401).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// No such resource (404).
    #[error("{0}")]
    NotFound(String),
    /// The resource does not take this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// `Accept` does not accept [`MEDIA_TYPE`] (406).
    #[error("{0}")]
    NotAcceptable(String),
    /// The body is not of [`MEDIA_TYPE`] (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Malformed or invalid input (400).
    #[error("{0}")]
    BadRequest(String),
    /// Conflicts with what is stored (409).
    #[error("{0}")]
    Conflict(String),
    /// Storage failed; retry (503).
    #[error("{0}")]
    Unavailable(String),
    /// A broken invariant (500).
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::Unavailable(e.to_string())
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Off | ApiError::NotFound(_) => 404,
            ApiError::Unauthorized(_) => 401,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::NotAcceptable(_) => 406,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::BadRequest(_) => 400,
            ApiError::Conflict(_) => 409,
            ApiError::Unavailable(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    fn title(&self) -> &'static str {
        match self.status() {
            401 => "Unauthorized",
            404 => "Not Found",
            405 => "Method Not Allowed",
            406 => "Not Acceptable",
            415 => "Unsupported Media Type",
            400 => "Bad Request",
            409 => "Conflict",
            503 => "Service Unavailable",
            _ => "Internal Server Error",
        }
    }

    /// The RFC 9457 problem document response.
    pub fn response(&self) -> Response {
        let doc = ProblemDocument {
            type_: "about:blank".into(),
            title: self.title().into(),
            status: self.status(),
            detail: Some(self.to_string()),
            taskid: None,
            unsupported_extensions: None,
        };
        let r = Response {
            status: doc.status,
            headers: Default::default(),
            body: doc.to_json().into_bytes(),
        }
        .with_header("content-type", "application/problem+json");
        match self {
            ApiError::Unauthorized(_) => r.with_header("www-authenticate", "Bearer"),
            _ => r,
        }
    }
}

/// Whether `value` is [`MEDIA_TYPE`]: the type case-insensitively, whitespace around `;`
/// tolerated, the `version=0.1` parameter required (quoted or not), other parameters
/// ignored. An Accept entry with `q=0` does not count.
pub fn is_media_type(value: &str) -> bool {
    let mut parts = value.split(';').map(str::trim);
    let essence_ok = parts
        .next()
        .is_some_and(|e| e.eq_ignore_ascii_case("application/vnd.janus.aggregator+json"));
    let (mut version, mut q_zero) = (false, false);
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "version" => version = v == "0.1",
            "q" => q_zero = v.parse::<f32>().is_ok_and(|q| q <= 0.0),
            _ => {}
        }
    }
    essence_ok && version && !q_zero
}

/// Whether the request's `Accept` headers accept [`MEDIA_TYPE`] (a list containing it).
pub fn accepts(req: &Request) -> bool {
    req.headers
        .0
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("accept"))
        .flat_map(|(_, v)| v.split(','))
        .any(is_media_type)
}

/// Whether an HTTP exchange changed the state an isolate caches (tasks, HPKE keys): a
/// successful, authenticated, state-changing aggregator API request. The worker
/// invalidates its caches only then, so unauthenticated or failed requests cannot slow
/// uploads down.
pub fn changes_state(method: Method, path: &str, status: u16) -> bool {
    let api = path == "/api" || path.starts_with("/api/");
    let writes = matches!(
        method,
        Method::Post | Method::Put | Method::Patch | Method::Delete
    );
    api && writes && (200..300).contains(&status)
}

/// A success response with a JSON body of [`MEDIA_TYPE`].
pub(crate) fn json<T: Serialize>(status: u16, v: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(v).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Response {
        status,
        headers: Default::default(),
        body,
    }
    .with_header("content-type", MEDIA_TYPE))
}

/// The request body as `T`. An empty body reads as `{}` when `empty_ok`.
pub(crate) fn body<T: DeserializeOwned>(req: &Request, empty_ok: bool) -> Result<T, ApiError> {
    if req.body.is_empty() && empty_ok {
        return parse(serde_json::json!({}));
    }
    if req.headers.get("content-type").is_none() {
        return Err(ApiError::UnsupportedMediaType(format!(
            "this request needs a body of Content-Type {MEDIA_TYPE}"
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::BadRequest(format!("the request body is not JSON: {e}")))?;
    parse(v)
}

/// Deserializes `v`; the error names the top-level field that failed (the one whose
/// removal makes the error go away or become "missing field"), with quoted input redacted.
fn parse<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, ApiError> {
    let err = match T::deserialize(&v) {
        Ok(t) => return Ok(t),
        Err(e) => e.to_string(),
    };
    let culprit = v.as_object().and_then(|obj| {
        obj.keys().find(|k| {
            let mut without = obj.clone();
            without.remove(*k);
            match T::deserialize(&serde_json::Value::Object(without)) {
                Ok(_) => true,
                Err(e) => e.to_string() == format!("missing field `{k}`"),
            }
        })
    });
    let msg = types::redact_quoted(&err);
    Err(ApiError::BadRequest(match culprit {
        Some(k) => format!("invalid request body: {k}: {msg}"),
        None => format!("invalid request body: {msg}"),
    }))
}

/// This deployment's DAP URL: `DAP_URL`, else `{scheme}://{Host}/` of the request (`https`
/// unless the deployment is a development one).
pub(crate) fn dap_url<P: Platform>(p: &P, req: &Request) -> Result<String, ApiError> {
    if let Some(u) = &p.config().dap_url {
        return Ok(u.clone());
    }
    let host = req
        .headers
        .get("host")
        .map(str::trim)
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .ok_or_else(|| {
            ApiError::BadRequest(
                "cannot tell this deployment's DAP URL: set DAP_URL, or send a Host header".into(),
            )
        })?;
    let scheme = if p.config().development {
        match req.scheme.as_deref() {
            Some("https") => "https",
            _ => "http",
        }
    } else {
        "https"
    };
    Ok(format!("{scheme}://{}/", host.to_ascii_lowercase()))
}

fn authorize(req: &Request, hashes: &[crate::task::TokenHash]) -> Result<(), ApiError> {
    let value = req
        .headers
        .get("authorization")
        .ok_or(ApiError::Unauthorized(
            "the aggregator API needs Authorization: Bearer <token>",
        ))?;
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .ok_or(ApiError::Unauthorized(
            "the aggregator API needs Authorization: Bearer <token>",
        ))?;
    // Every hash is compared (each in constant time), so timing does not tell which matched.
    let ok = hashes.iter().fold(false, |ok, h| h.matches(token) | ok);
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "the token is not an aggregator API token",
        ))
    }
}

/// Handles `/api/...` (`rest` are the path segments after `api`).
pub async fn handle<P: Platform>(p: &P, req: &Request, method: Method, rest: &[&str]) -> Response {
    match route(p, req, method, rest).await {
        Ok(r) => r,
        Err(e) => e.response(),
    }
}

fn not_allowed(method: Method, path: &str) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} is not allowed on {path}", method.as_str()))
}

async fn route<P: Platform>(
    p: &P,
    req: &Request,
    method: Method,
    rest: &[&str],
) -> Result<Response, ApiError> {
    if p.config().api_token_hashes.is_empty() {
        return Err(ApiError::Off);
    }
    authorize(req, &p.config().api_token_hashes)?;
    if !accepts(req) {
        return Err(ApiError::NotAcceptable(format!(
            "the aggregator API answers {MEDIA_TYPE}: send it in Accept"
        )));
    }
    if let Some(ct) = req.headers.get("content-type") {
        if !is_media_type(ct) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "request bodies must be {MEDIA_TYPE}"
            )));
        }
    }
    let path = format!("/api/{}", rest.join("/"));
    let bad = || not_allowed(method, &path);
    match rest {
        [] => match method {
            Method::Get => json(200, &config(p, req)?),
            _ => Err(bad()),
        },
        ["task_ids"] => match method {
            Method::Get => tasks::ids(p, req).await,
            _ => Err(bad()),
        },
        ["tasks"] => match method {
            Method::Post => tasks::post(p, req).await,
            _ => Err(bad()),
        },
        ["tasks", id] => match method {
            Method::Get => tasks::get(p, id).await,
            Method::Patch => tasks::patch(p, req, id).await,
            Method::Delete => tasks::delete(p, id).await,
            _ => Err(bad()),
        },
        ["tasks", id, "metrics", kind @ ("uploads" | "aggregations")] => match method {
            Method::Get => metrics::get(p, id, kind).await,
            _ => Err(bad()),
        },
        ["hpke_configs"] => match method {
            Method::Get => hpke_configs::list(p).await,
            Method::Put => hpke_configs::put(p, req).await,
            _ => Err(bad()),
        },
        ["hpke_configs", id] => match method {
            Method::Get => hpke_configs::get(p, id).await,
            Method::Patch => hpke_configs::patch(p, req, id).await,
            Method::Delete => hpke_configs::delete(p, id).await,
            _ => Err(bad()),
        },
        ["taskprov", "peer_aggregators"] => match method {
            Method::Get => taskprov::list(p).await,
            Method::Post => taskprov::post(p, req).await,
            Method::Delete => taskprov::delete(p, req).await,
            _ => Err(bad()),
        },
        ["key_rotation"] => match method {
            Method::Get => rotation::get(p).await,
            Method::Put => rotation::put(p, req).await,
            Method::Delete => rotation::delete(p).await,
            _ => Err(bad()),
        },
        _ => Err(ApiError::NotFound(format!(
            "no aggregator API resource at {path}"
        ))),
    }
}

fn config<P: Platform>(p: &P, req: &Request) -> Result<AggregatorApiConfig, ApiError> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
    Ok(AggregatorApiConfig {
        protocol: "DAP-18".into(),
        dap_url: dap_url(p, req)?,
        role: "Either".into(),
        vdafs: s(&[
            "Prio3Count",
            "Prio3Sum",
            "Prio3Histogram",
            "Prio3SumVec",
            "Prio3MultihotCountVec",
        ]),
        batch_modes: s(&["TimeInterval", "LeaderSelected"]),
        features: s(&FEATURES),
        software_name: "edap".into(),
        software_version: env!("CARGO_PKG_VERSION").into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Headers;

    #[test]
    fn media_type_parsing() {
        for ok in [
            MEDIA_TYPE,
            "Application/VND.Janus.Aggregator+JSON ; Version=0.1",
            "application/vnd.janus.aggregator+json; version=\"0.1\"; charset=utf-8",
        ] {
            assert!(is_media_type(ok), "{ok}");
        }
        for bad in [
            "application/vnd.janus.aggregator+json",
            "application/vnd.janus.aggregator+json;version=0.2",
            "application/json",
            "application/vnd.janus.aggregator+json;version=0.1;q=0",
            "*/*",
            "",
        ] {
            assert!(!is_media_type(bad), "{bad}");
        }
        let with = |v: &str| {
            Request::new(
                Method::Get,
                "/api/",
                Headers::default().with("accept", v),
                vec![],
            )
        };
        assert!(accepts(&with(&format!("text/html, {MEDIA_TYPE};q=0.5"))));
        assert!(!accepts(&with("application/json, */*")));
        assert!(!accepts(&Request::new(
            Method::Get,
            "/api/",
            Headers::default(),
            vec![]
        )));
    }

    #[test]
    fn only_successful_api_writes_change_state() {
        assert!(changes_state(Method::Post, "/api/tasks", 200));
        assert!(changes_state(Method::Patch, "/api/hpke_configs/3", 200));
        assert!(changes_state(Method::Delete, "/api/tasks/x", 204));
        assert!(changes_state(Method::Put, "/api/hpke_configs", 201));
        assert!(
            !changes_state(Method::Post, "/api/tasks", 401),
            "unauthenticated"
        );
        assert!(!changes_state(Method::Post, "/api/tasks", 400));
        assert!(!changes_state(Method::Get, "/api/tasks/x", 200));
        assert!(!changes_state(Method::Post, "/tasks/x/reports", 200));
        assert!(!changes_state(Method::Post, "/apix", 200));
        assert!(!changes_state(Method::Post, "/admin/tasks", 201));
    }
}
