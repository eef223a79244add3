//! Batch buckets (DAP-18 section 4.6.3.3): per bucket an aggregate share, a report count, a
//! checksum and the span of report times, plus the collected marks and the aggregation jobs
//! in flight. Sharded by aggregation job: each job commits to exactly one shard, and a
//! collection reads and marks every shard.

use super::{get, key, put, Kv, StoreError};
use crate::messages::{AggregationJobId, BatchId, Interval, ReportId, Time, VdafConfig};
use crate::vdaf::{agg_share, Prio3Instance};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

// Storage schema (one instance per task and shard):
//   "b"  || bucket_key          -> BucketEntry (aggregate share, count, checksum, time span)
//   "ci" || start u64 BE        -> CollectedRange: a collected time interval [start, end)
//   "cb" || batch_id (32)       -> collector key (16) of a collected leader-selected batch
//   "f"  || job_id (16)         -> Registration: a Leader job in flight and its buckets
//   "i"  || bucket_key || job   -> ()  (in-flight index by bucket)
//   "d"  || job_id (16)         -> CommitOutcome: the job's commit, kept for idempotency
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

/// XORs `b` into `a`.
pub fn xor_into(a: &mut [u8; 32], b: &[u8; 32]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

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
    },
    /// Leader: the job ended without committing; forget its registration.
    Abandon {
        /// The job.
        job: AggregationJobId,
    },
    /// Reports committed to a batch and jobs still in flight for it.
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
    /// For `Abandon`.
    Done,
    /// For `Status`.
    Status {
        /// Jobs in flight.
        inflight: u64,
        /// Reports committed.
        count: u64,
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
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct CollectedRange {
    end: u64,
    by: [u8; 16],
}

/// The collected range that contains or precedes `t`, if it covers `t`.
fn range_covering(kv: &impl Kv, t: u64) -> Result<Option<(u64, CollectedRange)>, StoreError> {
    let start = b"ci".to_vec();
    let end = key(&[b"ci", &t.saturating_add(1).to_be_bytes()]);
    let end = if t == u64::MAX {
        super::kv::prefix_end(b"ci")
    } else {
        end
    };
    let found = kv.scan(&start, &end, 1, true)?;
    if let Some((k, v)) = found.into_iter().next() {
        let s = u64::from_be_bytes(
            k[2..10]
                .try_into()
                .map_err(|_| StoreError::Codec("range key".into()))?,
        );
        let r: CollectedRange = super::from_bytes(&v)?;
        if r.end > t {
            return Ok(Some((s, r)));
        }
    }
    Ok(None)
}

/// The last collected range starting before `end`, if it reaches past `start`.
fn range_overlapping(
    kv: &impl Kv,
    start: u64,
    end: u64,
) -> Result<Option<(u64, CollectedRange)>, StoreError> {
    let found = kv.scan(b"ci", &key(&[b"ci", &end.to_be_bytes()]), 1, true)?;
    if let Some((k, v)) = found.into_iter().next() {
        let s = u64::from_be_bytes(
            k[2..10]
                .try_into()
                .map_err(|_| StoreError::Codec("range key".into()))?,
        );
        let r: CollectedRange = super::from_bytes(&v)?;
        if r.end > start {
            return Ok(Some((s, r)));
        }
    }
    Ok(None)
}

fn collected_by(kv: &impl Kv, b: BucketKey) -> Result<Option<[u8; 16]>, StoreError> {
    match b {
        BucketKey::Time(t) => Ok(range_covering(kv, t)?.map(|(_, r)| r.by)),
        BucketKey::Batch(id) => get(kv, &key(&[b"cb", &id.0])),
    }
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
            }
        }
    }
    Ok(total)
}

/// Handles one request.
pub fn handle(kv: &mut impl Kv, req: BucketReq) -> Result<BucketResp, StoreError> {
    match req {
        BucketReq::Register { job, buckets } => {
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
                if collected_by(kv, b)?.is_some() {
                    refused.push(b);
                } else if !accepted.contains(&b) {
                    accepted.push(b);
                }
            }
            for b in &accepted {
                kv.put(&key(&[b"i", &b.bytes(), &job.0]), &[])?;
            }
            put(kv, &reg_key, &Registration { buckets: accepted })?;
            Ok(BucketResp::Refused(refused))
        }
        BucketReq::Commit { job, vdaf, deltas } => {
            let done_key = key(&[b"d", &job.0]);
            if let Some(outcome) = get::<Vec<BucketKey>>(kv, &done_key)? {
                return Ok(BucketResp::Refused(outcome));
            }
            let instance =
                Prio3Instance::for_dap(&vdaf).map_err(|e| StoreError::Invariant(e.to_string()))?;
            let reg_key = key(&[b"f", &job.0]);
            let reg = get::<Registration>(kv, &reg_key)?;
            let mut refused = Vec::new();
            for d in deltas {
                let registered = reg.as_ref().is_some_and(|r| r.buckets.contains(&d.key));
                if !registered && collected_by(kv, d.key)?.is_some() {
                    refused.push(d.key);
                    continue;
                }
                let bkey = key(&[b"b", &d.key.bytes()]);
                let entry = match get::<BucketEntry>(kv, &bkey)? {
                    Some(mut e) => {
                        e.merge(&instance, &d.entry)?;
                        e
                    }
                    None => d.entry,
                };
                put(kv, &bkey, &entry)?;
            }
            if let Some(r) = reg {
                for b in r.buckets {
                    kv.delete(&key(&[b"i", &b.bytes(), &job.0]))?;
                }
                kv.delete(&reg_key)?;
            }
            put(kv, &done_key, &refused)?;
            Ok(BucketResp::Refused(refused))
        }
        BucketReq::Abandon { job } => {
            let reg_key = key(&[b"f", &job.0]);
            if let Some(r) = get::<Registration>(kv, &reg_key)? {
                for b in r.buckets {
                    kv.delete(&key(&[b"i", &b.bytes(), &job.0]))?;
                }
                kv.delete(&reg_key)?;
            }
            Ok(BucketResp::Done)
        }
        BucketReq::Status { target } => Ok(BucketResp::Status {
            inflight: inflight(kv, &target)?,
            count: read(kv, None, &target)?.count,
        }),
        BucketReq::MarkCollected { by, target } => {
            if overlaps(kv, Some(by), &target)? {
                return Ok(BucketResp::Marked {
                    overlap: true,
                    inflight: 0,
                });
            }
            match target {
                BatchTarget::Interval(i) => {
                    let end = i
                        .end()
                        .ok_or_else(|| StoreError::Invariant("interval overflows".into()))?;
                    let existing = range_overlapping(kv, i.start.0, end.0)?;
                    if existing.is_none() {
                        put(
                            kv,
                            &key(&[b"ci", &i.start.0.to_be_bytes()]),
                            &CollectedRange { end: end.0, by },
                        )?;
                    }
                }
                BatchTarget::Batch(id) => put(kv, &key(&[b"cb", &id.0]), &by)?,
            }
            Ok(BucketResp::Marked {
                overlap: false,
                inflight: inflight(kv, &target)?,
            })
        }
        BucketReq::Overlaps { by, target } => Ok(BucketResp::Overlaps(overlaps(kv, by, &target)?)),
        BucketReq::Collected { keys } => Ok(BucketResp::Flags(
            keys.into_iter()
                .map(|k| collected_by(kv, k).map(|c| c.is_some()))
                .collect::<Result<_, _>>()?,
        )),
        BucketReq::Read { vdaf, target } => {
            let instance =
                Prio3Instance::for_dap(&vdaf).map_err(|e| StoreError::Invariant(e.to_string()))?;
            Ok(BucketResp::Total(read(kv, Some(&instance), &target)?))
        }
    }
}

fn overlaps(kv: &impl Kv, by: Option<[u8; 16]>, target: &BatchTarget) -> Result<bool, StoreError> {
    match target {
        BatchTarget::Interval(i) => {
            let end = i.end().map_or(u64::MAX, |e| e.0);
            Ok(match range_overlapping(kv, i.start.0, end)? {
                // Only an identical range marked by the same collection is not an overlap.
                Some((s, r)) => !(Some(r.by) == by && s == i.start.0 && r.end == end),
                None => false,
            })
        }
        BatchTarget::Batch(id) => Ok(match get::<[u8; 16]>(kv, &key(&[b"cb", &id.0]))? {
            Some(owner) => Some(owner) != by,
            None => false,
        }),
    }
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
