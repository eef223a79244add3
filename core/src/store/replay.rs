//! Replay protection: the set of report IDs an aggregator has aggregated, sharded by report
//! ID. Each ID remembers the aggregation job that claimed it, so a retried job is not a replay.

use super::{key, ttl, Kv, StoreError};
use crate::messages::{AggregationJobId, ReportId, Time};
use serde::{Deserialize, Serialize};

// Storage schema (one instance per task and shard):
//   "s" || report_id (16)  ->  aggregation job ID (16) that first claimed the report
//   "~" || at || key       ->  ()  expiry index (store::ttl): a record goes when its report
//                              expires (reports that old are refused as report_dropped)

/// A request to a replay-protection shard.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ReplayReq {
    /// Claims `ids` for `job`. IDs claimed by another job are replays.
    CheckAndInsert {
        /// The claiming job.
        job: AggregationJobId,
        /// The reports and their times.
        ids: Vec<(ReportId, Time)>,
        /// The task's retention.
        retention: ttl::Retention,
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
        ReplayReq::CheckAndInsert {
            job,
            ids,
            retention,
        } => {
            let keys: Vec<Vec<u8>> = ids.iter().map(|(id, _)| key(&[b"s", &id.0])).collect();
            let owners = kv.get_many(&keys)?;
            let owner_bytes = super::to_bytes(&job)?;
            let mut claimed = std::collections::HashSet::new();
            let mut replayed = Vec::with_capacity(ids.len());
            let mut puts = Vec::new();
            for ((k, owner), (_, time)) in keys.into_iter().zip(owners).zip(&ids) {
                match owner {
                    Some(o) => replayed.push(super::from_bytes::<AggregationJobId>(&o)? != job),
                    // The same ID twice in one request: the second is a replay.
                    None if !claimed.insert(k.clone()) => replayed.push(true),
                    None => {
                        puts.push(ttl::row(retention.expires_at(time.0), &k));
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

/// Deletes up to `limit` expired replay records. Returns how many.
pub fn expire(kv: &mut impl Kv, now: u64, limit: usize) -> Result<u64, StoreError> {
    ttl::delete_due(kv, now, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemKv;

    #[test]
    fn same_job_is_not_a_replay() {
        let retention = ttl::Retention {
            time_precision: 1,
            report_expiry_age: 10,
        };
        let t = |id: ReportId| (id, Time(5));
        let mut kv = MemKv::new();
        let (j1, j2) = (AggregationJobId([1; 16]), AggregationJobId([2; 16]));
        let (a, b) = (ReportId([1; 16]), ReportId([2; 16]));
        let r = handle(
            &mut kv,
            ReplayReq::CheckAndInsert {
                job: j1,
                ids: vec![t(a), t(b)],
                retention,
            },
        )
        .unwrap();
        assert_eq!(r.replayed, vec![false, false]);
        let r = handle(
            &mut kv,
            ReplayReq::CheckAndInsert {
                job: j1,
                ids: vec![t(a)],
                retention,
            },
        )
        .unwrap();
        assert_eq!(r.replayed, vec![false]);
        let r = handle(
            &mut kv,
            ReplayReq::CheckAndInsert {
                job: j2,
                ids: vec![t(b), t(ReportId([3; 16]))],
                retention,
            },
        )
        .unwrap();
        assert_eq!(r.replayed, vec![true, false]);
        // Records go when their reports expire (time 5 + precision 1 + age 10 = 16).
        assert_eq!(expire(&mut kv, 15, 100).unwrap(), 0);
        assert_eq!(expire(&mut kv, 16, 100).unwrap(), 3);
        assert_eq!(kv.len(), 0);
    }
}
