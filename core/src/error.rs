//! Request-level failures: the DAP problem types of RFC 9457 documents, and the typed
//! abort every handler returns.

use crate::messages::TaskId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The `urn:ietf:params:ppm:dap:error:*` problem types of DAP-18 section 3.7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DapErrorType {
    /// A message could not be parsed or was otherwise invalid.
    InvalidMessage,
    /// Unknown task ID.
    UnrecognizedTask,
    /// Unknown aggregation job ID.
    UnrecognizedAggregationJob,
    /// The batch boundary check of the query failed.
    BatchInvalid,
    /// Too few (or too many) reports in the batch.
    InvalidBatchSize,
    /// The aggregation parameter is invalid.
    InvalidAggregationParameter,
    /// The aggregators disagree on which reports a batch holds.
    BatchMismatch,
    /// The aggregators disagree on the aggregation step.
    StepMismatch,
    /// The query overlaps a batch that was already collected.
    BatchOverlap,
    /// An extension list holds an unknown extension.
    UnsupportedExtension,
    /// An extension list is out of order or holds a malformed extension.
    InvalidExtension,
    /// Taskprov: the aggregator opted out of the advertised task.
    InvalidTask,
}

impl DapErrorType {
    /// Every type, for tests and documentation.
    pub const ALL: [DapErrorType; 12] = [
        DapErrorType::InvalidMessage,
        DapErrorType::UnrecognizedTask,
        DapErrorType::UnrecognizedAggregationJob,
        DapErrorType::BatchInvalid,
        DapErrorType::InvalidBatchSize,
        DapErrorType::InvalidAggregationParameter,
        DapErrorType::BatchMismatch,
        DapErrorType::StepMismatch,
        DapErrorType::BatchOverlap,
        DapErrorType::UnsupportedExtension,
        DapErrorType::InvalidExtension,
        DapErrorType::InvalidTask,
    ];

    /// The token after `urn:ietf:params:ppm:dap:error:`.
    pub fn token(self) -> &'static str {
        match self {
            DapErrorType::InvalidMessage => "invalidMessage",
            DapErrorType::UnrecognizedTask => "unrecognizedTask",
            DapErrorType::UnrecognizedAggregationJob => "unrecognizedAggregationJob",
            DapErrorType::BatchInvalid => "batchInvalid",
            DapErrorType::InvalidBatchSize => "invalidBatchSize",
            DapErrorType::InvalidAggregationParameter => "invalidAggregationParameter",
            DapErrorType::BatchMismatch => "batchMismatch",
            DapErrorType::StepMismatch => "stepMismatch",
            DapErrorType::BatchOverlap => "batchOverlap",
            DapErrorType::UnsupportedExtension => "unsupportedExtension",
            DapErrorType::InvalidExtension => "invalidExtension",
            DapErrorType::InvalidTask => "invalidTask",
        }
    }

    /// The full URN used as the problem document's `type`.
    pub fn urn(self) -> String {
        format!("urn:ietf:params:ppm:dap:error:{}", self.token())
    }

    /// Parses a full URN.
    pub fn from_urn(urn: &str) -> Option<DapErrorType> {
        let token = urn.strip_prefix("urn:ietf:params:ppm:dap:error:")?;
        DapErrorType::ALL
            .iter()
            .copied()
            .find(|t| t.token() == token)
    }

    /// A short human-readable title.
    pub fn title(self) -> &'static str {
        match self {
            DapErrorType::InvalidMessage => "The message could not be parsed or was invalid",
            DapErrorType::UnrecognizedTask => "Unknown task",
            DapErrorType::UnrecognizedAggregationJob => "Unknown aggregation job",
            DapErrorType::BatchInvalid => "The query does not determine a valid batch",
            DapErrorType::InvalidBatchSize => "The batch holds an invalid number of reports",
            DapErrorType::InvalidAggregationParameter => "Invalid aggregation parameter",
            DapErrorType::BatchMismatch => "The aggregators disagree on the batch's reports",
            DapErrorType::StepMismatch => "The aggregators disagree on the aggregation step",
            DapErrorType::BatchOverlap => "The query overlaps an already collected batch",
            DapErrorType::UnsupportedExtension => "Unsupported extension",
            DapErrorType::InvalidExtension => "Invalid extension list",
            DapErrorType::InvalidTask => "The aggregator opted out of the task",
        }
    }
}

/// Why a request was refused: a DAP problem type or a plain HTTP status. Everything a
/// handler can fail with; the HTTP layer turns it into an RFC 9457 document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Abort {
    /// A DAP protocol error.
    #[error("{}: {detail}", kind.token())]
    Dap {
        /// The problem type.
        kind: DapErrorType,
        /// Human-readable detail (never contains secrets).
        detail: String,
        /// The task, when known.
        task_id: Option<TaskId>,
        /// Unsupported extension codepoints (for `unsupportedExtension`).
        unsupported_extensions: Vec<u16>,
    },
    /// Missing credentials.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Credentials present but wrong.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// No such resource.
    #[error("not found: {0}")]
    NotFound(String),
    /// Method not allowed on this resource.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Wrong or missing `Content-Type`.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// A non-DAP request was malformed (admin API).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The resource exists but conflicts with the request (admin API).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request body is too large.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// A peer or storage failed; safe to retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The peer aggregator failed in a way that retrying will not fix (the request cannot
    /// complete; the detail says why).
    #[error("bad gateway: {0}")]
    BadGateway(String),
    /// A bug or broken invariant.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::store::StoreError> for Abort {
    fn from(e: crate::store::StoreError) -> Abort {
        Abort::Unavailable(e.to_string())
    }
}

impl Abort {
    /// A DAP abort with the given type and detail.
    pub fn dap(kind: DapErrorType, detail: impl Into<String>) -> Abort {
        Abort::Dap {
            kind,
            detail: detail.into(),
            task_id: None,
            unsupported_extensions: Vec::new(),
        }
    }

    /// `invalidMessage` with a detail.
    pub fn invalid_message(detail: impl fmt::Display) -> Abort {
        Abort::dap(DapErrorType::InvalidMessage, detail.to_string())
    }

    /// Attaches the task ID, for the problem document's `taskid` member.
    pub fn with_task(mut self, id: TaskId) -> Abort {
        if let Abort::Dap { task_id, .. } = &mut self {
            *task_id = Some(id);
        }
        self
    }

    /// The DAP problem type, if this is a DAP abort.
    pub fn dap_type(&self) -> Option<DapErrorType> {
        match self {
            Abort::Dap { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The HTTP status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Abort::Dap { kind, .. } => match kind {
                DapErrorType::UnrecognizedTask | DapErrorType::UnrecognizedAggregationJob => 404,
                _ => 400,
            },
            Abort::Unauthorized(_) => 401,
            Abort::Forbidden(_) => 403,
            Abort::NotFound(_) => 404,
            Abort::MethodNotAllowed => 405,
            Abort::UnsupportedMediaType(_) => 415,
            Abort::BadRequest(_) => 400,
            Abort::Conflict(_) => 409,
            Abort::PayloadTooLarge(_) => 413,
            Abort::Unavailable(_) => 503,
            Abort::BadGateway(_) => 502,
            Abort::Internal(_) => 500,
        }
    }

    /// The RFC 9457 problem document for this abort.
    pub fn problem(&self) -> ProblemDocument {
        let status = self.status();
        match self {
            Abort::Dap {
                kind,
                detail,
                task_id,
                unsupported_extensions,
            } => ProblemDocument {
                type_: kind.urn(),
                title: kind.title().to_string(),
                status,
                detail: Some(detail.clone()),
                taskid: task_id.map(|t| t.to_base64url()),
                unsupported_extensions: if unsupported_extensions.is_empty() {
                    None
                } else {
                    Some(unsupported_extensions.clone())
                },
            },
            other => ProblemDocument {
                type_: "about:blank".to_string(),
                title: http_reason(status).to_string(),
                status,
                detail: Some(other.to_string()),
                taskid: None,
                unsupported_extensions: None,
            },
        }
    }
}

/// The standard reason phrase for the status codes this crate uses.
pub fn http_reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemDocument {
    /// The problem type URI.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// Human-readable explanation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// The task ID, base64url without padding.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub taskid: Option<String>,
    /// Unsupported extension codepoints.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unsupported_extensions: Option<Vec<u16>>,
}

impl ProblemDocument {
    /// The DAP problem type, when `type` is a DAP URN.
    pub fn dap_type(&self) -> Option<DapErrorType> {
        DapErrorType::from_urn(&self.type_)
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        // Serializing a struct of strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Display for ProblemDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self
            .dap_type()
            .map(|t| t.token().to_string())
            .unwrap_or_else(|| self.title.clone());
        match &self.detail {
            Some(d) => write!(f, "{kind} (HTTP {}): {d}", self.status),
            None => write!(f, "{kind} (HTTP {})", self.status),
        }
    }
}
