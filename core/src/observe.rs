//! Observability without secrets: the structured events the aggregators log, one JSON
//! object per line. The platform decides where lines go (the Workers console, a test's
//! buffer); the core decides what they say. An event carries IDs, counts, HTTP statuses and
//! problem types, never a token, a key, a verify key or a report's contents.

use crate::messages::{base64url, TaskId};
use serde::Serialize;
use std::collections::BTreeMap;

/// How bad an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Expected refusals (bad client input).
    Info,
    /// Something failed and will be retried.
    Warn,
    /// Work was given up.
    Error,
}

/// Which exchange with the peer aggregator failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerResource {
    /// Creating or polling an aggregation job.
    AggregationJob,
    /// Creating or polling an aggregate share.
    AggregateShare,
}

/// One structured log event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A request from the Leader to the Helper failed: no answer, a 4xx/5xx, or an answer
    /// that does not decode. One line per failed exchange.
    HelperExchangeFailed {
        /// The task (base64url).
        task: String,
        /// What was being exchanged.
        resource: PeerResource,
        /// The Helper's origin (scheme, host and port: never a path or a token).
        peer: String,
        /// The HTTP status, when the Helper answered.
        status: Option<u16>,
        /// The problem document's `type`, when it sent one.
        problem_type: Option<String>,
        /// What went wrong, in words.
        detail: String,
        /// Whether the Leader will try again.
        retrying: bool,
    },
    /// The Leader gave an aggregation job up; its reports were released or dropped.
    JobAbandoned {
        /// The task.
        task: String,
        /// The Leader's job ID.
        job: String,
        /// Reports in the job.
        reports: u64,
        /// Why.
        reason: String,
    },
    /// A collection job (Leader) or aggregate-share request (Helper) ended in an error.
    CollectionFailed {
        /// The task.
        task: String,
        /// The collection job or aggregate-share ID.
        job: String,
        /// The problem type or status it ended with.
        error: String,
    },
    /// An upload request refused some of its reports.
    UploadRefused {
        /// The task.
        task: String,
        /// Reports in the request.
        reports: u64,
        /// Refused reports per report error.
        refused: BTreeMap<String, u64>,
    },
    /// State of a task was deleted because it expired or its task was deleted.
    StateExpired {
        /// The task.
        task: String,
        /// The kind of state.
        kind: String,
        /// Entries deleted by this pass.
        deleted: u64,
    },
    /// This aggregator opted in to a task advertised with taskprov and stored it.
    TaskprovOptIn {
        /// The task.
        task: String,
        /// This aggregator's role in it.
        role: String,
        /// The vouching peer's origin.
        peer: String,
    },
    /// The HPKE key rotation changed the key pairs (see `hpke::rotation`).
    KeysRotated {
        /// Config IDs that became active.
        activated: Vec<u8>,
        /// Config IDs that became expired.
        expired: Vec<u8>,
        /// Config IDs deleted.
        deleted: Vec<u8>,
        /// The config ID of a new pending key pair.
        created: Option<u8>,
    },
}

impl Event {
    /// The event's level.
    pub fn level(&self) -> Level {
        match self {
            Event::HelperExchangeFailed { retrying: true, .. } => Level::Warn,
            Event::HelperExchangeFailed { .. }
            | Event::JobAbandoned { .. }
            | Event::CollectionFailed { .. } => Level::Error,
            Event::UploadRefused { .. }
            | Event::StateExpired { .. }
            | Event::TaskprovOptIn { .. }
            | Event::KeysRotated { .. } => Level::Info,
        }
    }

    /// The event as one line of JSON, with its level.
    pub fn to_json_line(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "level".into(),
                serde_json::to_value(self.level()).unwrap_or_default(),
            );
        }
        v.to_string()
    }
}

/// A task ID as events spell it.
pub fn task(id: &TaskId) -> String {
    id.to_base64url()
}

/// A 16-byte job ID as events spell it.
pub fn id16(id: &[u8; 16]) -> String {
    base64url(id)
}

/// The origin (`scheme://host[:port]`) of a URL, for naming a peer without its path.
pub fn origin(url: &str) -> String {
    let Some(i) = url.find("://") else {
        return String::new();
    };
    let rest = &url[i + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // Userinfo (`user:secret@host`) never reaches a log.
    let host = &rest[..end];
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    format!("{}://{}", &url[..i], host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_drops_path_query_and_userinfo() {
        assert_eq!(
            origin("https://user:pw@h.example:8443/dap/tasks?x=1"),
            "https://h.example:8443"
        );
        assert_eq!(origin("http://127.0.0.1:8788/"), "http://127.0.0.1:8788");
        assert_eq!(origin("nonsense"), "");
    }

    #[test]
    fn events_are_one_json_line_with_a_level() {
        let e = Event::JobAbandoned {
            task: "t".into(),
            job: "j".into(),
            reports: 3,
            reason: "refused".into(),
        };
        let line = e.to_json_line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "job_abandoned");
        assert_eq!(v["level"], "error");
        assert_eq!(v["reports"], 3);
    }
}
