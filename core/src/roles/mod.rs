//! The four DAP roles as state machines over messages and stored state:
//! [`client`] and [`collector`] are pure functions; [`leader`] and [`helper`] drive their
//! work through a [`Platform`](crate::platform::Platform).

pub mod client;
pub mod collector;
pub mod helper;
pub mod leader;

mod input_share;

pub use input_share::{open_input_share, shared_secrets, InputShareContext};

use crate::messages::{AggregateShareId, AggregationJobId, CollectionJobId, TaskId};
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
    /// Helper: `POST .../aggregation_jobs` (DAP-18) or `PUT .../aggregation_jobs/{id}`
    /// with this `AggregationJobInitReq` body.
    HelperInit {
        /// The task.
        task_id: TaskId,
        /// The Leader's job ID (PUT form); `None` when the Helper derives it (POST form).
        id: Option<AggregationJobId>,
        /// The request body.
        #[serde(with = "crate::store::bytes")]
        body: Vec<u8>,
    },
    /// Helper: `POST .../aggregation_jobs/{id}` with an `AggregationJobContinueReq` body.
    HelperContinue {
        /// The task.
        task_id: TaskId,
        /// The request body.
        #[serde(with = "crate::store::bytes")]
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
    /// Leader: create (or find) the collection job for a `CollectionJobReq`.
    LeaderCreate {
        /// The task.
        task_id: TaskId,
        /// The Collector's job ID (PUT form); `None` for DAP-18's POST, where the Leader
        /// derives it.
        id: Option<CollectionJobId>,
        /// The encoded `CollectionJobReq`.
        #[serde(with = "crate::store::bytes")]
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
    /// Helper: `POST .../aggregate_shares` (DAP-18) or `PUT .../aggregate_shares/{id}`
    /// with an `AggregateShareReq` body.
    HelperCreate {
        /// The task.
        task_id: TaskId,
        /// The resource ID (derived from the body for POST, the Leader's for PUT).
        id: AggregateShareId,
        /// The request body.
        #[serde(with = "crate::store::bytes")]
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

/// Resolves a URI reference (a `Location` header) against the URL of the request that
/// returned it (RFC 3986 section 5.2): absolute URIs, network-path (`//host/p`),
/// absolute-path (`/p`) and relative (`p`, `../p`, `?q`) references.
pub fn resolve_location(base: &str, reference: &str) -> String {
    let reference = reference.trim();
    let scheme_end = |s: &str| {
        s.find(':').filter(|&i| {
            i > 0
                && s[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && s.as_bytes()[0].is_ascii_alphabetic()
        })
    };
    if scheme_end(reference).is_some() {
        return reference.to_string();
    }
    let Some(scheme_len) = scheme_end(base) else {
        return reference.to_string();
    };
    let scheme = &base[..scheme_len];
    if let Some(rest) = reference.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    // base = scheme "://" authority path [?query] [#fragment]
    let after_scheme = &base[scheme_len + 1..];
    let (authority, base_rest) = match after_scheme.strip_prefix("//") {
        Some(a) => {
            let end = a.find(['/', '?', '#']).unwrap_or(a.len());
            (&a[..end], &a[end..])
        }
        None => ("", after_scheme),
    };
    let base_no_frag = base_rest.split('#').next().unwrap_or("");
    let (base_path, base_query) = match base_no_frag.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (base_no_frag, None),
    };
    let (path, query_and_fragment) = if reference.is_empty() {
        (
            base_path.to_string(),
            base_query.map(|q| format!("?{q}")).unwrap_or_default(),
        )
    } else if reference.starts_with('?') || reference.starts_with('#') {
        let extra = if reference.starts_with('#') {
            base_query.map(|q| format!("?{q}")).unwrap_or_default()
        } else {
            String::new()
        };
        (base_path.to_string(), format!("{extra}{reference}"))
    } else {
        let end = reference.find(['?', '#']).unwrap_or(reference.len());
        let (rpath, tail) = reference.split_at(end);
        let merged = if rpath.starts_with('/') {
            rpath.to_string()
        } else if !authority.is_empty() && base_path.is_empty() {
            format!("/{rpath}")
        } else {
            let dir = base_path.rfind('/').map_or("", |i| &base_path[..=i]);
            format!("{dir}{rpath}")
        };
        (remove_dot_segments(&merged), tail.to_string())
    };
    let authority = if authority.is_empty() && !after_scheme.starts_with("//") {
        String::new()
    } else {
        format!("//{authority}")
    };
    format!("{scheme}:{authority}{path}{query_and_fragment}")
}

/// RFC 3986 section 5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let absolute = path.starts_with('/');
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing_slash = i == last,
            ".." => {
                if out.len() > usize::from(absolute) {
                    out.pop();
                }
                trailing_slash = i == last;
            }
            s => {
                out.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut joined = out.join("/");
    if absolute && !joined.starts_with('/') {
        joined.insert(0, '/');
    }
    if trailing_slash && !joined.ends_with('/') {
        joined.push('/');
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_resolution_follows_rfc_3986() {
        let req = "https://h.example/dap/tasks/T/aggregation_jobs";
        // Absolute-path references replace the whole path, prefix included.
        assert_eq!(
            resolve_location(req, "/tasks/a"),
            "https://h.example/tasks/a"
        );
        assert_eq!(
            resolve_location("http://127.0.0.1:8788", "/x?step=0"),
            "http://127.0.0.1:8788/x?step=0"
        );
        // Absolute URIs stand as they are.
        assert_eq!(resolve_location("https://h/", "https://o/x"), "https://o/x");
        // Relative references merge with the request URL's directory.
        assert_eq!(
            resolve_location(req, "aggregation_jobs/J?step=0"),
            "https://h.example/dap/tasks/T/aggregation_jobs/J?step=0"
        );
        assert_eq!(
            resolve_location(req, "../U/aggregation_jobs/J"),
            "https://h.example/dap/tasks/U/aggregation_jobs/J"
        );
        assert_eq!(
            resolve_location(req, "./J"),
            "https://h.example/dap/tasks/T/J"
        );
        assert_eq!(
            resolve_location("https://h.example", "J"),
            "https://h.example/J"
        );
        // Network-path references keep the scheme and replace the authority.
        assert_eq!(
            resolve_location(req, "//other.example/x"),
            "https://other.example/x"
        );
        // Query-only references keep the path.
        assert_eq!(
            resolve_location(req, "?step=1"),
            "https://h.example/dap/tasks/T/aggregation_jobs?step=1"
        );
        // RFC 3986 section 5.4.1 examples.
        let base = "http://a/b/c/d;p?q";
        for (r, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g#s", "http://a/b/c/g#s"),
            (";x", "http://a/b/c/;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
        ] {
            assert_eq!(resolve_location(base, r), want, "reference {r:?}");
        }
        assert_eq!(retry_after_secs(Some("5")), 5);
        assert_eq!(retry_after_secs(Some("junk")), 1);
        assert_eq!(backoff_ms(0), 1000);
        assert_eq!(backoff_ms(10), 60_000);
    }
}
