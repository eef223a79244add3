//! The console's errors: what went wrong, in words a subscriber understands, with the HTTP
//! status of the JSON API. Form errors name the field they belong to, so the UI can show
//! each message next to its input. No message ever contains a secret (a password, a token).

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Messages per form field (`field name -> what is wrong`), in the order of the names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    /// Records the first message for `field` (later ones for the same field are dropped).
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message of `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// `Ok(())` when empty, else the errors.
    pub fn into_result(self) -> Result<(), ConsoleError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ConsoleError::Invalid(self))
        }
    }

    /// One field's error.
    pub fn one(field: &str, message: impl Into<String>) -> ConsoleError {
        let mut f = FieldErrors::new();
        f.add(field, message);
        ConsoleError::Invalid(f)
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        write!(f, "{}", parts.join("; "))
    }
}

/// Why a console request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsoleError {
    /// Form fields with invalid values (400, `fields` in the answer).
    #[error("{0}")]
    Invalid(FieldErrors),
    /// A request the API cannot read (400).
    #[error("{0}")]
    BadRequest(String),
    /// No session and no API token, or an expired or revoked one (401).
    #[error("sign in first (or send a valid API token)")]
    Unauthenticated,
    /// Signed in, but not allowed: a wrong CSRF token, a member doing an owner's task (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such resource in this account (404). Another account's resources answer the same.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with what is stored (409).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed sign-ins (429): wait `retry_after` seconds.
    #[error("{message}")]
    TooManyRequests {
        /// What to tell the user.
        message: String,
        /// Seconds until the next attempt may succeed.
        retry_after: u64,
    },
    /// An aggregator failed or refused (502).
    #[error("{0}")]
    Upstream(String),
    /// The database or a binding failed; retry (503).
    #[error("{0}")]
    Unavailable(String),
    /// A broken invariant or a missing configuration (500).
    #[error("{0}")]
    Internal(String),
}

/// The JSON body of an error answer.
#[derive(Serialize)]
struct ErrorBody<'a> {
    /// A stable code: `invalid`, `unauthenticated`, ...
    error: &'a str,
    /// What happened, in words.
    message: String,
    /// Per-field messages of an `invalid` answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a FieldErrors>,
}

impl ConsoleError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ConsoleError::Invalid(_) | ConsoleError::BadRequest(_) => 400,
            ConsoleError::Unauthenticated => 401,
            ConsoleError::Forbidden(_) => 403,
            ConsoleError::NotFound(_) => 404,
            ConsoleError::Conflict(_) => 409,
            ConsoleError::TooManyRequests { .. } => 429,
            ConsoleError::Upstream(_) => 502,
            ConsoleError::Unavailable(_) => 503,
            ConsoleError::Internal(_) => 500,
        }
    }

    /// The stable error code of the JSON answer.
    pub fn code(&self) -> &'static str {
        match self {
            ConsoleError::Invalid(_) => "invalid",
            ConsoleError::BadRequest(_) => "bad_request",
            ConsoleError::Unauthenticated => "unauthenticated",
            ConsoleError::Forbidden(_) => "forbidden",
            ConsoleError::NotFound(_) => "not_found",
            ConsoleError::Conflict(_) => "conflict",
            ConsoleError::TooManyRequests { .. } => "too_many_requests",
            ConsoleError::Upstream(_) => "aggregator_failed",
            ConsoleError::Unavailable(_) => "unavailable",
            ConsoleError::Internal(_) => "internal",
        }
    }

    /// The JSON body of the answer.
    pub fn body(&self) -> Vec<u8> {
        let fields = match self {
            ConsoleError::Invalid(f) => Some(f),
            _ => None,
        };
        let message = match self {
            ConsoleError::Invalid(f) => format!("please correct the highlighted fields ({f})"),
            other => other.to_string(),
        };
        serde_json::to_vec(&ErrorBody {
            error: self.code(),
            message,
            fields,
        })
        .unwrap_or_default()
    }

    /// A 404 for a resource kind.
    pub fn not_found(what: &str) -> ConsoleError {
        ConsoleError::NotFound(format!("no such {what} in this account"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_name_fields_and_codes() {
        let mut f = FieldErrors::new();
        f.add("email", "not an email address");
        f.add("email", "ignored: the first message stays");
        f.add("password", "too short");
        let e = ConsoleError::Invalid(f);
        assert_eq!(e.status(), 400);
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"], "invalid");
        assert_eq!(v["fields"]["email"], "not an email address");
        assert_eq!(v["fields"]["password"], "too short");
        let t = ConsoleError::TooManyRequests {
            message: "wait".into(),
            retry_after: 60,
        };
        assert_eq!(t.status(), 429);
        let v: serde_json::Value = serde_json::from_slice(&t.body()).unwrap();
        assert!(v.get("fields").is_none());
        assert_eq!(ConsoleError::Unauthenticated.status(), 401);
        assert_eq!(ConsoleError::not_found("task").status(), 404);
    }
}
