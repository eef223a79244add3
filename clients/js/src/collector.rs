//! The Collector: its key file (the JSON `edap hpke-keygen` writes), collection requests,
//! and reading a collection job's result with the core's [`collector::finish`].

use crate::task::Task;
use edap_core::hpke::HpkeKeypair;
use edap_core::messages::{
    base64url, BatchMode, CollectionJobReq, CollectionJobResp, HpkeConfigId, HpkeKemId, Interval,
    Query,
};
use edap_core::roles::collector::{self, CollectorError};
use edap_core::vdaf::AggregateResult;
use prio::codec::{Decode, Encode};
use serde::{Deserialize, Serialize};

/// Why a Collector operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The key file is not one `edap hpke-keygen` writes, or its keys do not match.
    #[error("{0}")]
    Key(String),
    /// The query does not fit the task.
    #[error("{0}")]
    Query(String),
    /// An aggregate share does not open with this key.
    #[error("cannot decrypt the {0}'s aggregate share: wrong collector key, or a result for another task or query")]
    Decrypt(&'static str),
    /// The Leader's answer does not decode or the shares do not combine.
    #[error("{0}")]
    Result(String),
}

/// A new X25519 key pair with config ID `id`.
pub fn generate(id: u8) -> Result<HpkeKeypair, CollectError> {
    HpkeKeypair::generate(HpkeConfigId(id), HpkeKemId::X25519_HKDF_SHA256)
        .map_err(|e| CollectError::Key(format!("cannot generate a key pair: {e}")))
}

/// Reads a key file, checking that the private key matches the public config (as
/// `edap collect` does). Messages never quote the file.
pub fn import(json: &str) -> Result<HpkeKeypair, CollectError> {
    let kp: HpkeKeypair = serde_json::from_str(json).map_err(|e| {
        if e.line() == 0 {
            // Well-formed JSON whose keys the core refused (it checks them while parsing).
            CollectError::Key(format!("the key pair is unusable: {e}"))
        } else {
            CollectError::Key(format!(
                "not an edap key file (expected the JSON written by `edap hpke-keygen`; problem at line {} column {})",
                e.line(),
                e.column()
            ))
        }
    })?;
    HpkeKeypair::from_parts(kp.config.clone(), kp.private_key().to_vec())
        .map_err(|e| CollectError::Key(format!("the key pair is unusable: {e}")))
}

/// The key file text, byte for byte what `edap hpke-keygen` writes.
pub fn export(kp: &HpkeKeypair) -> String {
    // Serializing bytes and integers to JSON cannot fail.
    let mut s = serde_json::to_string_pretty(kp).unwrap_or_default();
    s.push('\n');
    s
}

/// The public `HpkeConfig`, base64url (what the aggregators are given).
pub fn public_config(kp: &HpkeKeypair) -> String {
    base64url(&kp.config.get_encoded().unwrap_or_default())
}

/// A collection query in seconds, as the TypeScript layer passes it.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum QueryParams {
    /// A batch interval: start rounded down, end rounded up to the time precision.
    TimeInterval {
        /// POSIX seconds.
        start: u64,
        /// Seconds.
        duration: u64,
    },
    /// The next batch the Leader has ready.
    LeaderSelected,
}

/// The `CollectionJobReq` for a query, checked against the task's batch mode.
pub fn request(task: &Task, query_json: &str) -> Result<CollectionJobReq, CollectError> {
    let q: QueryParams =
        serde_json::from_str(query_json).map_err(|e| CollectError::Query(e.to_string()))?;
    let mode = task.config.batch_mode;
    let query = match q {
        QueryParams::LeaderSelected if mode == BatchMode::LeaderSelected => Query::LeaderSelected,
        QueryParams::LeaderSelected => {
            return Err(CollectError::Query(
                "this task uses time_interval batches: give a start and a duration".into(),
            ))
        }
        QueryParams::TimeInterval { start, duration } if mode == BatchMode::TimeInterval => {
            if duration == 0 {
                return Err(CollectError::Query(
                    "the duration must be at least 1 second".into(),
                ));
            }
            let end = start
                .checked_add(duration)
                .ok_or_else(|| CollectError::Query("start plus duration overflows".into()))?;
            let p = task.config.time_precision.max(1);
            let (s, e) = (start / p, end.div_ceil(p));
            Query::TimeInterval(Interval::new(s, e - s))
        }
        QueryParams::TimeInterval { .. } => return Err(CollectError::Query(
            "this task uses leader_selected batches: collect the next batch instead of an interval"
                .into(),
        )),
    };
    Ok(collector::collection_job_req(query))
}

/// A decrypted collection, with numbers as decimal strings (they may exceed 2^53).
#[derive(Serialize, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Reports in the batch.
    pub report_count: u64,
    /// POSIX seconds.
    pub interval_start: u64,
    /// Seconds.
    pub interval_duration: u64,
    /// One string (Count, Sum) or one per entry.
    pub result: ResultJson,
}

/// The aggregate, exact.
#[derive(Serialize, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum ResultJson {
    /// Count and Sum.
    Scalar(String),
    /// SumVec, Histogram, MultihotCountVec.
    Vector(Vec<String>),
}

/// Opens both aggregate shares of an encoded `CollectionJobResp` and unshards them.
pub fn finish(
    task: &Task,
    key: &HpkeKeypair,
    req: &[u8],
    resp: &[u8],
) -> Result<Outcome, CollectError> {
    let req = CollectionJobReq::get_decoded(req).map_err(|e| {
        CollectError::Result(format!("the collection request does not decode: {e}"))
    })?;
    let resp = CollectionJobResp::get_decoded(resp).map_err(|e| {
        CollectError::Result(format!("the collection job's result does not decode: {e}"))
    })?;
    let c = collector::finish(&task.id, &task.config, key, &req, &resp).map_err(|e| match e {
        CollectorError::Decrypt(who, _) => CollectError::Decrypt(who),
        other => CollectError::Result(other.to_string()),
    })?;
    let p = task.config.time_precision;
    Ok(Outcome {
        report_count: c.report_count,
        interval_start: c.interval.start.to_seconds(p),
        interval_duration: c.interval.duration.0.saturating_mul(p),
        result: match c.result {
            AggregateResult::Scalar(v) => ResultJson::Scalar(v.to_string()),
            AggregateResult::Vector(v) => {
                ResultJson::Vector(v.iter().map(|x| x.to_string()).collect())
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(mode: &str) -> Task {
        Task::from_params_json(&format!(
            r#"{{"leader": "https://l.example/", "helper": "https://h.example/",
                "vdaf": {{"type": "count"}}, "timePrecisionSeconds": 60, "minBatchSize": 10,
                "batchMode": "{mode}", "taskInfo": "t"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn key_file_round_trip() {
        let kp = generate(7).unwrap();
        let text = export(&kp);
        assert!(text.ends_with("}\n"));
        let back = import(&text).unwrap();
        assert_eq!(back, kp);
        assert_eq!(export(&back), text);
        assert!(import("{}").is_err());
    }

    #[test]
    fn queries_follow_the_batch_mode() {
        let ti = task("time_interval");
        // The start is rounded down and the end up, as `edap collect` does.
        let r = request(
            &ti,
            r#"{"type": "time_interval", "start": 119, "duration": 2}"#,
        )
        .unwrap();
        assert_eq!(r.query, Query::TimeInterval(Interval::new(1, 2)));
        let r = request(
            &ti,
            r#"{"type": "time_interval", "start": 60, "duration": 60}"#,
        )
        .unwrap();
        assert_eq!(r.query, Query::TimeInterval(Interval::new(1, 1)));
        assert!(request(&ti, r#"{"type": "leader_selected"}"#).is_err());
        let ls = task("leader_selected");
        assert_eq!(
            request(&ls, r#"{"type": "leader_selected"}"#)
                .unwrap()
                .query,
            Query::LeaderSelected
        );
        assert!(request(
            &ls,
            r#"{"type": "time_interval", "start": 0, "duration": 60}"#
        )
        .is_err());
    }
}
