//! The four DAP roles as state machines over messages and stored state:
//! [`client`] and [`collector`] are pure functions; [`leader`] and [`helper`] drive their
//! work through a [`Platform`](crate::platform::Platform).

pub mod client;
pub mod collector;
pub mod helper;
pub mod leader;

mod input_share;

pub use input_share::{open_input_share, shared_secrets, InputShareContext};

use crate::messages::{AggregateShareId, CollectionJobId, TaskId};
use crate::store::report_shard::JobClaim;
use serde::{Deserialize, Serialize};

/// A request to an aggregation-job instance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum AggJobReq {
    /// Leader: create the job from a claim of pending reports and start driving it.
    LeaderStart {
        /// The task.
        task_id: TaskId,
        /// The report shard the claim came from.
        report_shard: u32,
        /// The reports.
        claim: JobClaim,
    },
    /// Helper: `POST .../aggregation_jobs` with this `AggregationJobInitReq` body.
    HelperInit {
        /// The task.
        task_id: TaskId,
        /// The request body.
        body: Vec<u8>,
    },
    /// Helper: `POST .../aggregation_jobs/{id}` with an `AggregationJobContinueReq` body.
    HelperContinue {
        /// The task.
        task_id: TaskId,
        /// The request body.
        body: Vec<u8>,
    },
    /// Helper: `GET .../aggregation_jobs/{id}?step=N`.
    HelperGet {
        /// The task.
        task_id: TaskId,
        /// The step the Leader asks about.
        step: u16,
    },
    /// Helper: `DELETE .../aggregation_jobs/{id}`.
    HelperDelete {
        /// The task.
        task_id: TaskId,
    },
}

/// An aggregation-job instance's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggJobResp {
    /// Leader: the job exists and is being driven.
    Started,
    /// Helper: the job's current state at `step`; `resp` is the encoded
    /// `AggregationJobResp` once ready.
    Helper {
        /// The job's step.
        step: u16,
        /// The response, when ready.
        resp: Option<Vec<u8>>,
    },
    /// Helper: deleted.
    Deleted,
}

/// A request to a collection-job instance (Leader) or aggregate-share instance (Helper).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum CollJobReq {
    /// Leader: create (or find) the collection job for a validated `CollectionJobReq`.
    LeaderCreate {
        /// The task.
        task_id: TaskId,
        /// The encoded `CollectionJobReq`.
        body: Vec<u8>,
    },
    /// Leader: poll a collection job.
    LeaderGet {
        /// The task.
        task_id: TaskId,
        /// The job.
        job: CollectionJobId,
    },
    /// Leader: delete a collection job.
    LeaderDelete {
        /// The task.
        task_id: TaskId,
        /// The job.
        job: CollectionJobId,
    },
    /// Helper: `POST .../aggregate_shares` with an `AggregateShareReq` body.
    HelperCreate {
        /// The task.
        task_id: TaskId,
        /// The resource ID (derived from the body).
        id: AggregateShareId,
        /// The request body.
        body: Vec<u8>,
    },
    /// Helper: `GET .../aggregate_shares/{id}`.
    HelperGet {
        /// The task.
        task_id: TaskId,
    },
    /// Helper: `DELETE .../aggregate_shares/{id}`.
    HelperDelete {
        /// The task.
        task_id: TaskId,
    },
}

/// A collection-job or aggregate-share instance's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CollJobResp {
    /// The job's ID and, when ready, its encoded result (`CollectionJobResp` or
    /// `AggregateShare`).
    Job {
        /// The collection job ID (Leader) or aggregate share ID (Helper).
        id: [u8; 16],
        /// The result, once ready.
        result: Option<Vec<u8>>,
    },
    /// Deleted.
    Deleted,
}

/// The instance name of a Leader collection job: its first 12 bytes (a hash of the
/// request), the last 4 being the generation.
pub fn collection_instance(job: &CollectionJobId) -> [u8; 16] {
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(&job.0[..12]);
    name
}

/// Parses `Retry-After` (delta seconds), clamped to `[1, 300]`.
pub fn retry_after_secs(v: Option<&str>) -> u64 {
    v.and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1)
        .clamp(1, 300)
}

/// Exponential backoff for the `attempt`-th retry: 1 s, 2 s, 4 s ... capped at 60 s.
pub fn backoff_ms(attempt: u32) -> u64 {
    1000u64.saturating_mul(1u64 << attempt.min(6)).min(60_000)
}

/// Resolves a `Location` header against the peer's base URL.
pub fn resolve_location(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let origin_end = base
        .find("://")
        .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(base.len());
    format!("{}{}", &base[..origin_end], location)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_resolution() {
        assert_eq!(
            resolve_location("https://h.example/dap/", "/tasks/a"),
            "https://h.example/tasks/a"
        );
        assert_eq!(
            resolve_location("http://127.0.0.1:8788", "/x?step=0"),
            "http://127.0.0.1:8788/x?step=0"
        );
        assert_eq!(resolve_location("https://h/", "https://o/x"), "https://o/x");
        assert_eq!(retry_after_secs(Some("5")), 5);
        assert_eq!(retry_after_secs(Some("junk")), 1);
        assert_eq!(backoff_ms(0), 1000);
        assert_eq!(backoff_ms(10), 60_000);
    }
}
