//! Batch buckets (DAP-18 section 4.6.3.3): per bucket an aggregate share, a report count, a
//! checksum and the span of report times, plus the collected marks and the aggregation jobs
//! in flight. Sharded by aggregation job: each job commits to exactly one shard, and a
//! collection reads and marks every shard.

mod marks;

use super::{get, key, put, ttl, Kv, StoreError};
use crate::messages::{AggregationJobId, BatchId, Interval, ReportId, Time, VdafConfig};
use crate::vdaf::{agg_share, Prio3Instance};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
pub use ttl::Retention;

// Storage schema (one instance per task and shard):
//   "b"  || bucket_key          -> BucketEntry (aggregate share, count, checksum, time span)
//   "ci" || start u64 BE        -> CollectedRange: a collected time interval [start, end)
//   "cb" || batch_id (32)       -> BatchMark: the collection that took a leader-selected batch
//   "f"  || job_id (16)         -> Registration: a Leader job in flight and its buckets
//   "i"  || bucket_key || job   -> ()  (in-flight index by bucket)
//   "d"  || job_id (16)         -> the job's commit outcome, kept for idempotency
//   "~"  || at || key           -> ()  expiry index (store::ttl): buckets expire with their
//                                   reports, marks, outcomes and registrations an expiry age
//                                   after they were written
// bucket_key = 0x01 || start u64 BE (time_interval) | 0x02 || batch_id (leader_selected)

/// Identifies one batch bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BucketKey {
    /// A time-interval bucket: the report time (in time-precision units).
    Time(u64),
    /// A leader-selected batch.
    Batch(BatchId),
}

impl BucketKey {
    fn bytes(&self) -> Vec<u8> {
        match self {
            BucketKey::Time(t) => key(&[&[1], &t.to_be_bytes()]),
            BucketKey::Batch(b) => key(&[&[2], &b.0]),
        }
    }
}

/// The buckets a batch covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BatchTarget {
    /// Every time bucket inside the interval.
    Interval(Interval),
    /// One leader-selected batch.
    Batch(BatchId),
}

impl BatchTarget {
    fn bucket_range(&self) -> (Vec<u8>, Vec<u8>) {
        match self {
            BatchTarget::Interval(i) => {
                let end = i.end().map_or(u64::MAX, |e| e.0);
                (
                    BucketKey::Time(i.start.0).bytes(),
                    BucketKey::Time(end).bytes(),
                )
            }
            BatchTarget::Batch(b) => {
                let k = BucketKey::Batch(*b).bytes();
                let end = super::kv::prefix_end(&k);
                (k, end)
            }
        }
    }
}

/// The 32-byte checksum contribution of one report: SHA-256(report_id).
pub fn report_checksum(id: &ReportId) -> [u8; 32] {
    Sha256::digest(id.0).into()
}

pub use super::xor_checksum as xor_into;

/// What one aggregation job adds to one bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketDelta {
    /// The bucket.
    pub key: BucketKey,
    /// The job's contribution, in the same form as the stored bucket.
    pub entry: BucketEntry,
}

/// The stored contents of a bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEntry {
    /// Encoded aggregate share.
    #[serde(with = "crate::store::bytes")]
    pub agg_share: Vec<u8>,
    /// Reports committed.
    pub count: u64,
    /// XOR of SHA-256(report_id).
    pub checksum: [u8; 32],
    /// Earliest report time.
    pub min_time: u64,
    /// Latest report time.
    pub max_time: u64,
}

impl BucketEntry {
    /// Adds another contribution to this one.
    pub fn merge(&mut self, vdaf: &Prio3Instance, other: &BucketEntry) -> Result<(), StoreError> {
        self.agg_share = agg_share::merge_dyn(vdaf, &self.agg_share, &other.agg_share)
            .map_err(|e| StoreError::Codec(e.to_string()))?;
        self.count += other.count;
        xor_into(&mut self.checksum, &other.checksum);
        self.min_time = self.min_time.min(other.min_time);
        self.max_time = self.max_time.max(other.max_time);
        Ok(())
    }
}

/// Buckets combined over a batch (within one shard, or across shards with [`Self::merge`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketTotal {
    /// Encoded aggregate share; `None` when no bucket holds reports.
    pub agg_share: Option<Vec<u8>>,
    /// Reports committed.
    pub count: u64,
    /// XOR of SHA-256(report_id).
    pub checksum: [u8; 32],
    /// Smallest interval containing every report time.
    pub interval: Option<Interval>,
}

impl BucketTotal {
    /// Combines another total into this one.
    pub fn merge(&mut self, vdaf: &Prio3Instance, other: &BucketTotal) -> Result<(), StoreError> {
        if let Some(b) = &other.agg_share {
            self.agg_share = Some(match &self.agg_share {
                Some(a) => agg_share::merge_dyn(vdaf, a, b)
                    .map_err(|e| StoreError::Codec(e.to_string()))?,
                None => b.clone(),
            });
        }
        self.count += other.count;
        xor_into(&mut self.checksum, &other.checksum);
        self.interval = match (self.interval, other.interval) {
            (Some(a), Some(b)) => {
                let start = a.start.0.min(b.start.0);
                let end = a
                    .end()
                    .map_or(u64::MAX, |e| e.0)
                    .max(b.end().map_or(u64::MAX, |e| e.0));
                Some(Interval::new(start, end - start))
            }
            (a, b) => a.or(b),
        };
        Ok(())
    }
}

/// A request to one bucket shard.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum BucketReq {
    /// Leader: records that `job` will commit to `buckets`. Collected buckets are refused.
    Register {
        /// The job.
        job: AggregationJobId,
        /// Buckets it will touch.
        buckets: Vec<BucketKey>,
        /// Current time (POSIX seconds).
        now: u64,
        /// The task's retention.
        retention: Retention,
    },
    /// Commits a job's output shares, once. Buckets collected (and not registered by this
    /// job before collection) are refused and left untouched.
    Commit {
        /// The job.
        job: AggregationJobId,
        /// The task's VDAF (to merge shares).
        vdaf: VdafConfig,
        /// Per-bucket additions.
        deltas: Vec<BucketDelta>,
        /// Current time (POSIX seconds).
        now: u64,
        /// The task's retention.
        retention: Retention,
    },
    /// Leader: the job ended without committing; forget its registration.
    Abandon {
        /// The job.
        job: AggregationJobId,
    },
    /// Reports committed to a batch, their checksum, and jobs still in flight for it.
    Status {
        /// The batch.
        target: BatchTarget,
    },
    /// Marks a batch collected by `by` (idempotent for the same `by` and target).
    MarkCollected {
        /// The collection job (Leader) or aggregate-share request (Helper).
        by: [u8; 16],
        /// The batch.
        target: BatchTarget,
        /// Current time (POSIX seconds).
        now: u64,
        /// The task's retention.
        retention: Retention,
    },
    /// Undoes `by`'s mark of `target` (a refused or failed collection leaves no mark).
    Unmark {
        /// The collection that marked.
        by: [u8; 16],
        /// The batch.
        target: BatchTarget,
    },
    /// Whether any bucket of the batch was collected by someone other than `by`.
    Overlaps {
        /// The asking collection, if any.
        by: Option<[u8; 16]>,
        /// The batch.
        target: BatchTarget,
    },
    /// For each bucket, whether it is collected.
    Collected {
        /// The buckets.
        keys: Vec<BucketKey>,
    },
    /// Combines the buckets of a batch.
    Read {
        /// The task's VDAF.
        vdaf: VdafConfig,
        /// The batch.
        target: BatchTarget,
    },
}

/// The answer of a bucket shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BucketResp {
    /// For `Register` and `Commit`: buckets refused because they were collected.
    Refused(Vec<BucketKey>),
    /// For `Abandon` and `Unmark`.
    Done,
    /// For `Status`.
    Status {
        /// Jobs in flight.
        inflight: u64,
        /// Reports committed.
        count: u64,
        /// XOR of SHA-256(report_id) over the committed reports.
        checksum: [u8; 32],
    },
    /// For `MarkCollected`.
    Marked {
        /// Another collection already holds part of the batch; nothing was marked.
        overlap: bool,
        /// Jobs still in flight for the batch.
        inflight: u64,
    },
    /// For `Overlaps`.
    Overlaps(bool),
    /// For `Read`.
    Total(BucketTotal),
    /// For `Collected`: one flag per bucket.
    Flags(Vec<bool>),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Registration {
    buckets: Vec<BucketKey>,
    /// When the registration expires if its job never ends (its `ttl` entry).
    at: u64,
}

fn inflight(kv: &impl Kv, target: &BatchTarget) -> Result<u64, StoreError> {
    let (s, e) = target.bucket_range();
    Ok(kv
        .scan(&key(&[b"i", &s]), &key(&[b"i", &e]), usize::MAX, false)?
        .len() as u64)
}

fn read(
    kv: &impl Kv,
    vdaf: Option<&Prio3Instance>,
    target: &BatchTarget,
) -> Result<BucketTotal, StoreError> {
    let (s, e) = target.bucket_range();
    let mut total = BucketTotal::default();
    for (_, v) in kv.scan(&key(&[b"b", &s]), &key(&[b"b", &e]), usize::MAX, false)? {
        let entry: BucketEntry = super::from_bytes(&v)?;
        let part = BucketTotal {
            agg_share: vdaf.map(|_| entry.agg_share.clone()),
            count: entry.count,
            checksum: entry.checksum,
            interval: Some(Interval::new(
                entry.min_time,
                entry.max_time - entry.min_time + 1,
            )),
        };
        match vdaf {
            Some(v) => total.merge(v, &part)?,
            None => {
                total.count += part.count;
                xor_into(&mut total.checksum, &part.checksum);
            }
        }
    }
    Ok(total)
}

/// When a bucket's contents expire: with the reports it holds (the latest of them).
fn bucket_expiry(key: &BucketKey, entry: &BucketEntry, retention: &Retention) -> u64 {
    match key {
        BucketKey::Time(t) => retention.expires_at(*t),
        BucketKey::Batch(_) => retention.expires_at(entry.max_time),
    }
}

fn release_registration(kv: &mut impl Kv, job: &AggregationJobId) -> Result<(), StoreError> {
    let reg_key = key(&[b"f", &job.0]);
    if let Some(r) = get::<Registration>(kv, &reg_key)? {
        let mut gone: Vec<Vec<u8>> = r
            .buckets
            .iter()
            .map(|b| key(&[b"i", &b.bytes(), &job.0]))
            .collect();
        gone.push(reg_key.clone());
        kv.delete_many(&gone)?;
        ttl::clear(kv, r.at, &reg_key)?;
    }
    Ok(())
}

/// Handles one request.
pub fn handle(kv: &mut impl Kv, req: BucketReq) -> Result<BucketResp, StoreError> {
    match req {
        BucketReq::Register {
            job,
            buckets,
            now,
            retention,
        } => {
            if let Some(outcome) = get::<Vec<BucketKey>>(kv, &key(&[b"d", &job.0]))? {
                // Already committed: answer as the commit did.
                return Ok(BucketResp::Refused(outcome));
            }
            let reg_key = key(&[b"f", &job.0]);
            if let Some(reg) = get::<Registration>(kv, &reg_key)? {
                let refused = buckets
                    .into_iter()
                    .filter(|b| !reg.buckets.contains(b))
                    .collect();
                return Ok(BucketResp::Refused(refused));
            }
            let mut accepted = Vec::new();
            let mut refused = Vec::new();
            for b in buckets {
                if marks::collected_by(kv, b)?.is_some() {
                    refused.push(b);
                } else if !accepted.contains(&b) {
                    accepted.push(b);
                }
            }
            let rows: Vec<_> = accepted
                .iter()
                .map(|b| (key(&[b"i", &b.bytes(), &job.0]), Vec::new()))
                .collect();
            kv.put_many(&rows)?;
            let at = retention.from_now(now);
            put(
                kv,
                &reg_key,
                &Registration {
                    buckets: accepted,
                    at,
                },
            )?;
            ttl::set(kv, at, &reg_key)?;
            Ok(BucketResp::Refused(refused))
        }
        BucketReq::Commit {
            job,
            vdaf,
            deltas,
            now,
            retention,
        } => {
            let done_key = key(&[b"d", &job.0]);
            if let Some(outcome) = get::<Vec<BucketKey>>(kv, &done_key)? {
                return Ok(BucketResp::Refused(outcome));
            }
            let instance =
                Prio3Instance::for_dap(&vdaf).map_err(|e| StoreError::Invariant(e.to_string()))?;
            let reg = get::<Registration>(kv, &key(&[b"f", &job.0]))?;
            let mut refused = Vec::new();
            for d in deltas {
                let registered = reg.as_ref().is_some_and(|r| r.buckets.contains(&d.key));
                if !registered && marks::collected_by(kv, d.key)?.is_some() {
                    refused.push(d.key);
                    continue;
                }
                let bkey = key(&[b"b", &d.key.bytes()]);
                let entry = match get::<BucketEntry>(kv, &bkey)? {
                    Some(mut e) => {
                        let before = bucket_expiry(&d.key, &e, &retention);
                        e.merge(&instance, &d.entry)?;
                        let after = bucket_expiry(&d.key, &e, &retention);
                        if after != before {
                            ttl::clear(kv, before, &bkey)?;
                            ttl::set(kv, after, &bkey)?;
                        }
                        e
                    }
                    None => {
                        ttl::set(kv, bucket_expiry(&d.key, &d.entry, &retention), &bkey)?;
                        d.entry
                    }
                };
                put(kv, &bkey, &entry)?;
            }
            release_registration(kv, &job)?;
            put(kv, &done_key, &refused)?;
            ttl::set(kv, retention.from_now(now), &done_key)?;
            Ok(BucketResp::Refused(refused))
        }
        BucketReq::Abandon { job } => {
            release_registration(kv, &job)?;
            Ok(BucketResp::Done)
        }
        BucketReq::Status { target } => {
            let total = read(kv, None, &target)?;
            Ok(BucketResp::Status {
                inflight: inflight(kv, &target)?,
                count: total.count,
                checksum: total.checksum,
            })
        }
        BucketReq::MarkCollected {
            by,
            target,
            now,
            retention,
        } => {
            if marks::overlaps(kv, Some(by), &target)? {
                return Ok(BucketResp::Marked {
                    overlap: true,
                    inflight: 0,
                });
            }
            let at = match target {
                BatchTarget::Interval(i) => {
                    retention.expires_at(i.end().map_or(u64::MAX, |e| e.0).saturating_sub(1))
                }
                BatchTarget::Batch(_) => retention.from_now(now),
            };
            marks::mark(kv, by, &target, at)?;
            Ok(BucketResp::Marked {
                overlap: false,
                inflight: inflight(kv, &target)?,
            })
        }
        BucketReq::Unmark { by, target } => {
            marks::unmark(kv, by, &target)?;
            Ok(BucketResp::Done)
        }
        BucketReq::Overlaps { by, target } => {
            Ok(BucketResp::Overlaps(marks::overlaps(kv, by, &target)?))
        }
        BucketReq::Collected { keys } => Ok(BucketResp::Flags(
            keys.into_iter()
                .map(|k| marks::collected_by(kv, k).map(|c| c.is_some()))
                .collect::<Result<_, _>>()?,
        )),
        BucketReq::Read { vdaf, target } => {
            let instance =
                Prio3Instance::for_dap(&vdaf).map_err(|e| StoreError::Invariant(e.to_string()))?;
            Ok(BucketResp::Total(read(kv, Some(&instance), &target)?))
        }
    }
}

/// Deletes up to `limit` expired entries (buckets past their reports' expiry, old marks,
/// commit outcomes, registrations of jobs that never ended). Returns how many.
pub fn expire(kv: &mut impl Kv, now: u64, limit: usize) -> Result<u64, StoreError> {
    let due = ttl::due(kv, now, limit)?;
    let n = due.len() as u64;
    for (ik, k) in due {
        if k.first() == Some(&b'f') {
            // A job that never committed or abandoned: drop it and its in-flight entries.
            if let Some(job) = AggregationJobId::from_slice(&k[1..]) {
                release_registration(kv, &job)?;
            }
        }
        kv.delete_many(&[k, ik])?;
    }
    Ok(n)
}
/// Builds the delta for one bucket from aggregated output shares (helper for the roles).
pub fn delta(key: BucketKey, agg_share: Vec<u8>, reports: &[(ReportId, Time)]) -> BucketDelta {
    let mut checksum = [0u8; 32];
    for (id, _) in reports {
        xor_into(&mut checksum, &report_checksum(id));
    }
    BucketDelta {
        key,
        entry: BucketEntry {
            agg_share,
            count: reports.len() as u64,
            checksum,
            min_time: reports.iter().map(|(_, t)| t.0).min().unwrap_or(0),
            max_time: reports.iter().map(|(_, t)| t.0).max().unwrap_or(0),
        },
    }
}
