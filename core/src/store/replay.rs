//! Replay protection: the set of report IDs an aggregator has aggregated, sharded by report
//! ID. Each ID remembers the aggregation job that claimed it, so a retried job is not a replay.

use super::{key, Kv, StoreError};
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
            let keys: Vec<Vec<u8>> = ids.iter().map(|id| key(&[b"s", &id.0])).collect();
            let owners = kv.get_many(&keys)?;
            let owner_bytes = super::to_bytes(&job)?;
            let mut claimed = std::collections::HashSet::new();
            let mut replayed = Vec::with_capacity(ids.len());
            let mut puts = Vec::new();
            for (k, owner) in keys.into_iter().zip(owners) {
                match owner {
                    Some(o) => replayed.push(super::from_bytes::<AggregationJobId>(&o)? != job),
                    // The same ID twice in one request: the second is a replay.
                    None if !claimed.insert(k.clone()) => replayed.push(true),
                    None => {
                        puts.push((k, owner_bytes.clone()));
                        replayed.push(false);
                    }
                }
            }
            kv.put_many(&puts)?;
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
