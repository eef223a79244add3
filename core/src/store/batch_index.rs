//! Leader-selected batches of one task, at the Leader: which batches exist, how many
//! reports are assigned to and committed in each, which jobs are still out, and which
//! collection job took which batch. Batches fill in creation order and are handed out in
//! that order.

use super::{get, key, put, ttl, Kv, StoreError};
use crate::messages::{AggregationJobId, BatchId};
use serde::{Deserialize, Serialize};

// Storage schema (one instance per task):
//   "m"                    -> next creation order (u64)
//   "b" || order u64 BE    -> BatchInfo of a batch not yet taken by a collection job
//   "a" || claim_id (16)   -> the allocation answered for that claim (idempotency)
//   "r" || job_id (16)     -> ()  job outcome already counted (idempotency)
//   "c" || collection (16) -> (order, BatchInfo) of the batch that collection job took
//   "~" || at || key       -> ()  expiry index (store::ttl): every entry goes an expiry age
//                            after it was last written

/// Bookkeeping for one batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchInfo {
    /// The batch ID.
    pub id: BatchId,
    /// Reports assigned and not rejected.
    pub assigned: u64,
    /// Reports committed.
    pub committed: u64,
    /// Jobs assigned to the batch that have not reported their outcome.
    pub outstanding: u32,
    /// When the entry expires unless written again (its `ttl` entry).
    #[serde(default)]
    pub expires_at: u64,
}

/// A request to the batch index.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum IndexReq {
    /// Assigns `n` claimed reports to batches, filling the oldest open batch first;
    /// `target` is the batch size. Idempotent per claim.
    Assign {
        /// The claim.
        claim: AggregationJobId,
        /// Number of reports.
        n: u64,
        /// Reports per batch.
        target: u64,
        /// When what this request writes expires (POSIX seconds).
        expires_at: u64,
    },
    /// A job assigned to `batch` finished (or was abandoned).
    JobDone {
        /// The job.
        job: AggregationJobId,
        /// Its batch.
        batch: BatchId,
        /// Reports committed.
        committed: u64,
        /// Reports rejected (their places are freed for new reports).
        rejected: u64,
        /// When what this request writes expires (POSIX seconds).
        expires_at: u64,
    },
    /// Takes the oldest batch with at least `min_batch_size` committed reports and no job
    /// out, for `collection`. Idempotent per collection.
    NextBatch {
        /// The collection job.
        collection: [u8; 16],
        /// The task's minimum batch size.
        min_batch_size: u64,
        /// When what this request writes expires (POSIX seconds).
        expires_at: u64,
    },
    /// The collection that took a batch failed: the batch is offered again, so that a
    /// refused collection loses nothing.
    ReturnBatch {
        /// The collection job.
        collection: [u8; 16],
    },
}

/// The batch index's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexResp {
    /// For `Assign`: `(batch, count)` in order.
    Allocation(Vec<(BatchId, u64)>),
    /// For `JobDone`.
    Done,
    /// For `NextBatch`: the batch, or `None` when none is ready.
    Batch(Option<BatchInfo>),
}

/// Handles one request.
pub fn handle(kv: &mut impl Kv, req: IndexReq) -> Result<IndexResp, StoreError> {
    match req {
        IndexReq::Assign {
            claim,
            n,
            target,
            expires_at,
        } => {
            let akey = key(&[b"a", &claim.0]);
            if let Some(a) = get::<Vec<(BatchId, u64)>>(kv, &akey)? {
                return Ok(IndexResp::Allocation(a));
            }
            let target = target.max(1);
            let mut left = n;
            let mut alloc = Vec::new();
            let mut batches = kv.scan_prefix(b"b", usize::MAX)?.into_iter();
            while left > 0 {
                let (bkey, mut info) = match batches.next() {
                    Some((k, v)) => (k, super::from_bytes::<BatchInfo>(&v)?),
                    None => {
                        let order: u64 = get(kv, b"m")?.unwrap_or(0);
                        put(kv, b"m", &(order + 1))?;
                        let info = BatchInfo {
                            id: BatchId::random(),
                            assigned: 0,
                            committed: 0,
                            outstanding: 0,
                            expires_at: 0,
                        };
                        (key(&[b"b", &order.to_be_bytes()]), info)
                    }
                };
                if info.assigned >= target {
                    continue;
                }
                let take = left.min(target - info.assigned);
                info.assigned += take;
                info.outstanding += 1;
                left -= take;
                alloc.push((info.id, take));
                // A batch that is still being filled stays as long as its newest reports.
                if info.expires_at != expires_at {
                    ttl::clear(kv, info.expires_at, &bkey)?;
                    ttl::set(kv, expires_at, &bkey)?;
                    info.expires_at = expires_at;
                }
                put(kv, &bkey, &info)?;
            }
            put(kv, &akey, &alloc)?;
            ttl::set(kv, expires_at, &akey)?;
            Ok(IndexResp::Allocation(alloc))
        }
        IndexReq::JobDone {
            job,
            batch,
            committed,
            rejected,
            expires_at,
        } => {
            let rkey = key(&[b"r", &job.0]);
            if kv.get(&rkey)?.is_some() {
                return Ok(IndexResp::Done);
            }
            for (bkey, v) in kv.scan_prefix(b"b", usize::MAX)? {
                let mut info: BatchInfo = super::from_bytes(&v)?;
                if info.id == batch {
                    info.assigned = info.assigned.saturating_sub(rejected);
                    info.committed += committed;
                    info.outstanding = info.outstanding.saturating_sub(1);
                    put(kv, &bkey, &info)?;
                    break;
                }
            }
            kv.put(&rkey, &[])?;
            ttl::set(kv, expires_at, &rkey)?;
            Ok(IndexResp::Done)
        }
        IndexReq::NextBatch {
            collection,
            min_batch_size,
            expires_at,
        } => {
            let ckey = key(&[b"c", &collection]);
            if let Some((_, info)) = get::<(u64, BatchInfo)>(kv, &ckey)? {
                return Ok(IndexResp::Batch(Some(info)));
            }
            for (bkey, v) in kv.scan_prefix(b"b", usize::MAX)? {
                let info: BatchInfo = super::from_bytes(&v)?;
                if info.committed >= min_batch_size.max(1) && info.outstanding == 0 {
                    let order = u64::from_be_bytes(
                        bkey[1..9]
                            .try_into()
                            .map_err(|_| StoreError::Codec("batch key".into()))?,
                    );
                    kv.delete(&bkey)?;
                    ttl::clear(kv, info.expires_at, &bkey)?;
                    put(kv, &ckey, &(order, info.clone()))?;
                    ttl::set(kv, expires_at, &ckey)?;
                    return Ok(IndexResp::Batch(Some(info)));
                }
            }
            Ok(IndexResp::Batch(None))
        }
        IndexReq::ReturnBatch { collection } => {
            let ckey = key(&[b"c", &collection]);
            if let Some((order, info)) = get::<(u64, BatchInfo)>(kv, &ckey)? {
                kv.delete(&ckey)?;
                let bkey = key(&[b"b", &order.to_be_bytes()]);
                ttl::set(kv, info.expires_at, &bkey)?;
                put(kv, &bkey, &info)?;
            }
            Ok(IndexResp::Done)
        }
    }
}

/// Deletes up to `limit` expired entries. Returns how many.
pub fn expire(kv: &mut impl Kv, now: u64, limit: usize) -> Result<u64, StoreError> {
    ttl::delete_due(kv, now, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemKv;

    #[test]
    fn fills_in_order_and_refills_after_rejections() {
        let mut kv = MemKv::new();
        let c = |i| AggregationJobId([i; 16]);
        let IndexResp::Allocation(a) = handle(
            &mut kv,
            IndexReq::Assign {
                claim: c(1),
                n: 7,
                target: 5,
                expires_at: 100,
            },
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.iter().map(|x| x.1).collect::<Vec<_>>(), vec![5, 2]);
        let (b1, b2) = (a[0].0, a[1].0);
        // Idempotent.
        assert_eq!(
            handle(
                &mut kv,
                IndexReq::Assign {
                    claim: c(1),
                    n: 7,
                    target: 5,
                    expires_at: 100,
                }
            )
            .unwrap(),
            IndexResp::Allocation(a.clone())
        );
        // Job in batch 1 commits 4, rejects 1: batch 1 has room for one more.
        handle(
            &mut kv,
            IndexReq::JobDone {
                job: c(10),
                batch: b1,
                committed: 4,
                rejected: 1,
                expires_at: 100,
            },
        )
        .unwrap();
        handle(
            &mut kv,
            IndexReq::JobDone {
                job: c(10),
                batch: b1,
                committed: 4,
                rejected: 1,
                expires_at: 100,
            },
        )
        .unwrap();
        let IndexResp::Allocation(a2) = handle(
            &mut kv,
            IndexReq::Assign {
                claim: c(2),
                n: 2,
                target: 5,
                expires_at: 100,
            },
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(a2, vec![(b1, 1), (b2, 1)]);
        // Not ready: batch 1 has jobs out.
        assert_eq!(
            handle(
                &mut kv,
                IndexReq::NextBatch {
                    collection: [9; 16],
                    min_batch_size: 4,
                    expires_at: 100,
                }
            )
            .unwrap(),
            IndexResp::Batch(None)
        );
        handle(
            &mut kv,
            IndexReq::JobDone {
                job: c(11),
                batch: b1,
                committed: 1,
                rejected: 0,
                expires_at: 100,
            },
        )
        .unwrap();
        let IndexResp::Batch(Some(info)) = handle(
            &mut kv,
            IndexReq::NextBatch {
                collection: [9; 16],
                min_batch_size: 4,
                expires_at: 100,
            },
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!((info.id, info.committed), (b1, 5));
        // The same collection gets the same batch; another gets nothing yet.
        assert!(
            matches!(handle(&mut kv, IndexReq::NextBatch { collection: [9; 16], min_batch_size: 4, expires_at: 100 }).unwrap(), IndexResp::Batch(Some(i)) if i.id == b1)
        );
        assert_eq!(
            handle(
                &mut kv,
                IndexReq::NextBatch {
                    collection: [8; 16],
                    min_batch_size: 4,
                    expires_at: 100,
                }
            )
            .unwrap(),
            IndexResp::Batch(None)
        );
    }
}
