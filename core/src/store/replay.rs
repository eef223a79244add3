//! Replay protection: the set of report IDs an aggregator has aggregated, sharded by report
//! ID. Each ID remembers the aggregation job that claimed it, so a retried job is not a replay.

use super::{get, key, put, Kv, StoreError};
use crate::messages::{AggregationJobId, ReportId};
use serde::{Deserialize, Serialize};

// Storage schema (one instance per task and shard):
//   "s" || report_id (16)  ->  aggregation job ID (16) that first claimed the report

/// A request to a replay-protection shard.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ReplayReq {
    /// Claims `ids` for `job`. IDs claimed by another job are replays.
    CheckAndInsert {
        /// The claiming job.
        job: AggregationJobId,
        /// The reports.
        ids: Vec<ReportId>,
    },
}

/// The answer: `replayed[i]` is true when `ids[i]` belongs to another job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayResp {
    /// One flag per requested ID.
    pub replayed: Vec<bool>,
}

/// Handles one request.
pub fn handle(kv: &mut impl Kv, req: ReplayReq) -> Result<ReplayResp, StoreError> {
    match req {
        ReplayReq::CheckAndInsert { job, ids } => {
            let mut replayed = Vec::with_capacity(ids.len());
            for id in ids {
                let k = key(&[b"s", &id.0]);
                match get::<AggregationJobId>(kv, &k)? {
                    Some(owner) => replayed.push(owner != job),
                    None => {
                        put(kv, &k, &job)?;
                        replayed.push(false);
                    }
                }
            }
            Ok(ReplayResp { replayed })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemKv;

    #[test]
    fn same_job_is_not_a_replay() {
        let mut kv = MemKv::new();
        let (j1, j2) = (AggregationJobId([1; 16]), AggregationJobId([2; 16]));
        let (a, b) = (ReportId([1; 16]), ReportId([2; 16]));
        let r = handle(
            &mut kv,
            ReplayReq::CheckAndInsert {
                job: j1,
                ids: vec![a, b],
            },
        )
        .unwrap();
        assert_eq!(r.replayed, vec![false, false]);
        let r = handle(
            &mut kv,
            ReplayReq::CheckAndInsert {
                job: j1,
                ids: vec![a],
            },
        )
        .unwrap();
        assert_eq!(r.replayed, vec![false]);
        let r = handle(
            &mut kv,
            ReplayReq::CheckAndInsert {
                job: j2,
                ids: vec![b, ReportId([3; 16])],
            },
        )
        .unwrap();
        assert_eq!(r.replayed, vec![true, false]);
    }
}
