//! The inside of a state instance (a Durable Object in the worker, a `MemKv` in tests):
//! decodes a request envelope, runs the kind's state machine on the instance's own store
//! and says how the instance's alarm should change. Both platform adapters call
//! [`serve`] and [`alarm`]; neither has instance logic of its own.

use crate::error::Abort;
use crate::lifecycle;
use crate::messages::TaskId;
use crate::platform::Platform;
use crate::roles::{helper, leader, AggJobReq, CollJobReq};
use crate::store::{
    batch_index, buckets, from_bytes, replay, report_shard, tasks, to_bytes, ttl, Kv, StoreError,
};
use serde::{Deserialize, Serialize};

/// The kinds of state; each is one Durable Object class in the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// Tasks and HPKE keys (one instance).
    Tasks,
    /// Leader pending reports, per task and shard.
    ReportShard,
    /// Helper replay protection, per task and shard.
    Replay,
    /// Batch buckets, per task and shard.
    Buckets,
    /// Leader-selected batches at the Leader, per task.
    BatchIndex,
    /// One aggregation job.
    AggJob,
    /// One collection job (Leader) or aggregate share (Helper).
    CollJob,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 7] = [
        Kind::Tasks,
        Kind::ReportShard,
        Kind::Replay,
        Kind::Buckets,
        Kind::BatchIndex,
        Kind::AggJob,
        Kind::CollJob,
    ];

    /// The Durable Object binding that holds this kind.
    pub fn binding(self) -> &'static str {
        match self {
            Kind::Tasks => "TASK_STORE",
            Kind::ReportShard => "REPORT_SHARD",
            Kind::Replay => "REPLAY_GUARD",
            Kind::Buckets => "BATCH_BUCKETS",
            Kind::BatchIndex => "BATCH_INDEX",
            Kind::AggJob => "AGGREGATION_JOB",
            Kind::CollJob => "COLLECTION_JOB",
        }
    }
}

/// Names one instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Instance {
    /// Its kind.
    pub kind: Kind,
    /// Its task (all kinds but `Tasks`).
    pub task: Option<TaskId>,
    /// Shard number (4 bytes) or job/collection identifier.
    pub id: Vec<u8>,
}

impl Instance {
    /// The task store.
    pub fn tasks() -> Instance {
        Instance {
            kind: Kind::Tasks,
            task: None,
            id: Vec::new(),
        }
    }

    /// A numbered shard of a task.
    pub fn numbered(kind: Kind, task: &TaskId, n: u32) -> Instance {
        Instance {
            kind,
            task: Some(*task),
            id: n.to_be_bytes().to_vec(),
        }
    }

    /// A named instance of a task (a job).
    pub fn named(kind: Kind, task: &TaskId, id: &[u8]) -> Instance {
        Instance {
            kind,
            task: Some(*task),
            id: id.to_vec(),
        }
    }

    /// A stable name, unique within the kind (the Durable Object name).
    pub fn name(&self) -> String {
        match &self.task {
            Some(t) => format!("{}/{}", t, crate::messages::base64url(&self.id)),
            None => "global".to_string(),
        }
    }
}

/// How an instance's alarm should change after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlarmChange {
    /// Leave it.
    Keep,
    /// Fire at this time (ms) unless an earlier alarm is set.
    Earliest(u64),
    /// If no alarm is set, fire at this time (ms): the instance wrote entries that expire,
    /// and its alarm (which reschedules itself to the next expiry) must exist.
    Ensure(u64),
}

impl AlarmChange {
    /// Both changes at once.
    pub fn and(self, other: AlarmChange) -> AlarmChange {
        use AlarmChange::*;
        match (self, other) {
            (Keep, x) | (x, Keep) => x,
            (Earliest(a), Earliest(b)) => Earliest(a.min(b)),
            (Earliest(a), Ensure(_)) | (Ensure(_), Earliest(a)) => Earliest(a),
            (Ensure(a), Ensure(b)) => Ensure(a.min(b)),
        }
    }
}

/// What an envelope asks of an instance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Op {
    /// A request of the instance's kind (encoded).
    Request(#[serde(with = "crate::store::bytes")] Vec<u8>),
    /// The instance's task was deleted: delete everything now (the alarm runs at once and
    /// deletes in batches, whatever an isolate's cached copy of the task says).
    Purge,
}

/// Encodes an envelope: the instance it is addressed to and what it asks.
pub fn envelope(instance: &Instance, op: &Op) -> Result<Vec<u8>, StoreError> {
    to_bytes(&(instance, op))
}

/// What an alarm leaves behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlarmOutcome {
    /// When the alarm should fire next (ms), if ever.
    pub next: Option<u64>,
    /// The instance deleted all its state: the platform may drop its storage.
    pub emptied: bool,
}

/// The answer of an instance to one request.
pub struct Served {
    /// The encoded answer, to return to the caller.
    pub body: Vec<u8>,
    /// What to do with the alarm.
    pub alarm: AlarmChange,
}

const IDENTITY_KEY: &[u8] = b"\0instance";

/// The longest the task store's alarm sleeps while key pairs are held (ms): a change the
/// alarm was not told about is picked up within this time.
const KEY_CHECK_MS: u64 = 3_600_000;

fn encode_answer<T: Serialize>(r: Result<T, StoreError>) -> Vec<u8> {
    let inner: Result<Vec<u8>, StoreError> = r.and_then(|v| to_bytes(&v));
    // Encoding a Result of bytes or a short error string cannot fail.
    to_bytes(&inner).unwrap_or_default()
}

/// The encoded successful answer `Ok(encoded v)`.
fn ok_answer<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    to_bytes(&Ok::<Vec<u8>, StoreError>(to_bytes(v)?))
}

/// The answer to a request that failed before its kind's handler answered (the caller
/// sees the error; a synchronous kind's writes were rolled back).
pub fn error_answer(e: StoreError) -> Served {
    Served {
        body: encode_answer::<()>(Err(e)),
        alarm: AlarmChange::Keep,
    }
}

/// Decodes a request envelope into the instance it is addressed to and what it asks.
pub fn open_envelope(envelope: &[u8]) -> Result<(Instance, Op), StoreError> {
    from_bytes(envelope)
}

/// Whether the kind keeps entries in an expiry index ([`ttl`]) that its alarm deletes.
fn has_ttl(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::ReportShard | Kind::Replay | Kind::Buckets | Kind::BatchIndex
    )
}

/// Whether requests to this kind are handled synchronously (no awaits, no other instance
/// called), so that a Durable Object can run them inside one storage transaction.
pub fn is_sync(kind: Kind) -> bool {
    !matches!(kind, Kind::AggJob | Kind::CollJob)
}

/// Runs one request inside an instance, decoding its envelope once. Synchronous kinds run
/// through [`transaction`], so a failed request leaves the store as it was.
pub async fn serve<P: Platform, K: Kv + Clone>(p: &P, kv: &mut K, envelope: &[u8]) -> Served {
    let (inst, op) = match open_envelope(envelope) {
        Ok(x) => x,
        Err(e) => return error_answer(e),
    };
    let payload = match op {
        Op::Request(payload) => payload,
        Op::Purge => return purge(kv, &inst, p.now_ms()).unwrap_or_else(error_answer),
    };
    if is_sync(inst.kind) {
        let now = p.now_ms();
        return transaction(kv, |kv| serve_sync(kv, &inst, &payload, now, false))
            .unwrap_or_else(error_answer);
    }
    serve_async(p, kv, &inst, &payload, false).await
}

/// Answers [`Op::Purge`]: the instance expires now, and its alarm runs now.
pub fn purge(kv: &mut impl Kv, inst: &Instance, now: u64) -> Result<Served, StoreError> {
    remember_identity(kv, inst)?;
    lifecycle::set_expiry(kv, 0)?;
    Ok(Served {
        body: ok_answer(&())?,
        alarm: AlarmChange::Earliest(now),
    })
}

/// Runs `f` and undoes its writes when it fails: the in-memory stand-in for a Durable
/// Object's `transactionSync`.
pub fn transaction<K: Kv + Clone, T>(
    kv: &mut K,
    f: impl FnOnce(&mut K) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let before = kv.clone();
    let r = f(kv);
    if r.is_err() {
        *kv = before;
    }
    r
}

fn remember_identity(kv: &mut impl Kv, inst: &Instance) -> Result<(), StoreError> {
    if kv.get(IDENTITY_KEY)?.is_none() {
        kv.put(IDENTITY_KEY, &to_bytes(inst)?)?;
    }
    Ok(())
}

/// Runs one request of a synchronous kind ([`is_sync`]). Any error is returned, not
/// answered, so that the caller can roll the store back before answering it.
/// `identity_known`: the platform knows this instance already stored its identity (a
/// Durable Object remembers it between requests), which saves a read.
pub fn serve_sync(
    kv: &mut impl Kv,
    inst: &Instance,
    payload: &[u8],
    now: u64,
    identity_known: bool,
) -> Result<Served, StoreError> {
    if !identity_known {
        remember_identity(kv, inst)?;
    }
    let mut tracked = crate::store::kv::Tracked::new(kv);
    let kv = &mut tracked;
    let keep = AlarmChange::Keep;
    let (body, alarm) = match inst.kind {
        Kind::Tasks => {
            let req: tasks::TaskReq = from_bytes(payload)?;
            // The rotation alarm looks again at once after a key change, and within an
            // hour of any key read (so a deployment that predates rotation starts it).
            let alarm = if tasks::touches_keys(&req) {
                AlarmChange::Earliest(now)
            } else if matches!(req, tasks::TaskReq::Keys { .. }) {
                AlarmChange::Earliest(now.saturating_add(KEY_CHECK_MS))
            } else {
                keep
            };
            (ok_answer(&tasks::handle(kv, req)?)?, alarm)
        }
        Kind::ReportShard => {
            let r = report_shard::handle(kv, from_bytes(payload)?)?;
            let alarm = match &r {
                report_shard::ShardResp::Put {
                    alarm_at: Some(s), ..
                }
                | report_shard::ShardResp::Released { alarm_at: Some(s) }
                | report_shard::ShardResp::Finished { alarm_at: Some(s) } => {
                    AlarmChange::Earliest(s.saturating_mul(1000).max(now))
                }
                _ => keep,
            };
            (ok_answer(&r)?, alarm)
        }
        Kind::Replay => (ok_answer(&replay::handle(kv, from_bytes(payload)?)?)?, keep),
        Kind::Buckets => (
            ok_answer(&buckets::handle(kv, from_bytes(payload)?)?)?,
            keep,
        ),
        Kind::BatchIndex => (
            ok_answer(&batch_index::handle(kv, from_bytes(payload)?)?)?,
            keep,
        ),
        Kind::AggJob | Kind::CollJob => {
            return Err(StoreError::Invariant(
                "asynchronous kind sent to the synchronous path".into(),
            ))
        }
    };
    // A request that wrote may have scheduled entries to expire: the instance needs an
    // alarm, which then follows the expiry index by itself (see `alarm`). Checking within
    // the hour spares this hot path a read of the index.
    let alarm = if has_ttl(inst.kind) && tracked.wrote {
        alarm.and(AlarmChange::Ensure(
            now.saturating_add(lifecycle::GC_CHECK_SECS * 1000),
        ))
    } else {
        alarm
    };
    Ok(Served { body, alarm })
}

fn earliest(a: AlarmChange, at: u64) -> AlarmChange {
    a.and(AlarmChange::Earliest(at))
}

/// Runs one request of an asynchronous kind (aggregation and collection jobs), whose
/// handlers persist each step themselves.
pub async fn serve_async<P: Platform>(
    p: &P,
    kv: &mut impl Kv,
    inst: &Instance,
    payload: &[u8],
    identity_known: bool,
) -> Served {
    match serve_async_inner(p, kv, inst, payload, identity_known).await {
        Ok(s) => s,
        Err(e) => error_answer(e),
    }
}

async fn serve_async_inner<P: Platform>(
    p: &P,
    kv: &mut impl Kv,
    inst: &Instance,
    payload: &[u8],
    identity_known: bool,
) -> Result<Served, StoreError> {
    if !identity_known {
        remember_identity(kv, inst)?;
    }
    let now = p.now_ms();
    let ms = |m: Option<u64>| m.map_or(AlarmChange::Keep, AlarmChange::Earliest);
    let (body, alarm) = match inst.kind {
        Kind::AggJob => {
            let req: AggJobReq = from_bytes(payload)?;
            let r = match req {
                AggJobReq::LeaderStart { .. } => leader::agg_job::start(kv, req, now),
                other => helper::handle_agg_job(p, kv, other).await,
            };
            let alarm = match &r {
                Ok((_, a)) => ms(*a),
                Err(_) => AlarmChange::Keep,
            };
            (encode_answer(Ok(r.map(|(resp, _)| resp))), alarm)
        }
        Kind::CollJob => {
            let req: CollJobReq = from_bytes(payload)?;
            let name: [u8; 16] = inst
                .id
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Codec("collection instance name".into()))?;
            let r = match req {
                CollJobReq::LeaderCreate { .. }
                | CollJobReq::LeaderGet { .. }
                | CollJobReq::LeaderDelete { .. } => {
                    leader::collect::handle(p, kv, name, req).await
                }
                other => helper::handle_agg_share(p, kv, other)
                    .await
                    .map(|r| (r, None)),
            };
            let alarm = match &r {
                Ok((_, a)) => ms(*a),
                Err(_) => AlarmChange::Keep,
            };
            (encode_answer(Ok(r.map(|(resp, _)| resp))), alarm)
        }
        _ => {
            return Err(StoreError::Invariant(
                "synchronous kind sent to the asynchronous path".into(),
            ))
        }
    };
    // A finished instance must wake up to be deleted (or to notice its task is gone).
    let alarm = match lifecycle::expiry(kv)? {
        Some(at) => earliest(
            alarm,
            at.min(now.saturating_add(p.config().gc_recheck_secs.saturating_mul(1000))),
        ),
        None => alarm,
    };
    Ok(Served { body, alarm })
}

/// Runs an instance's alarm: its kind's work, then deletion of what expired. An instance
/// whose task no longer exists, or whose work finished and whose retention passed, deletes
/// everything it holds ([`lifecycle`]).
pub async fn alarm<P: Platform>(p: &P, kv: &mut impl Kv) -> AlarmOutcome {
    let idle = AlarmOutcome {
        next: None,
        emptied: false,
    };
    let inst: Instance = match kv.get(IDENTITY_KEY) {
        Ok(Some(b)) => match from_bytes(&b) {
            Ok(i) => i,
            Err(_) => return idle,
        },
        _ => return idle,
    };
    let now = p.now_ms();
    let retry = AlarmOutcome {
        next: Some(now + 5_000),
        emptied: false,
    };
    if inst.kind == Kind::Tasks {
        return AlarmOutcome {
            next: rotation_alarm(p, kv, now),
            emptied: false,
        };
    }
    let Some(task_id) = inst.task else {
        return idle;
    };
    let task = match p.task(&task_id).await {
        Ok(t) => t,
        // Storage trouble: try again later rather than give up on the instance.
        Err(_) => return retry,
    };
    let finished = lifecycle::expiry(kv).ok().flatten();
    if task.is_none() || finished.is_some_and(|at| at <= now) {
        return match lifecycle::purge_some(kv, lifecycle::PURGE_BATCH) {
            Ok(true) => AlarmOutcome {
                next: None,
                emptied: true,
            },
            Ok(false) => AlarmOutcome {
                next: Some(now + 1_000),
                emptied: false,
            },
            Err(_) => retry,
        };
    }
    let result: Result<Option<u64>, Abort> = match inst.kind {
        Kind::ReportShard => match shard_number(&inst.id) {
            Some(shard) => leader::shard_alarm(p, kv, &task_id, shard).await,
            None => Ok(None),
        },
        Kind::AggJob => {
            if matches!(kv.get(b"L"), Ok(Some(_))) {
                leader::agg_job::alarm(p, kv).await
            } else {
                helper::agg_job_alarm(p, kv).await
            }
        }
        Kind::CollJob => leader::collect::alarm(p, kv).await,
        _ => Ok(None),
    };
    let mut next = match result {
        Ok(next) => next,
        Err(_) => Some(now + 5_000),
    };
    let mut add = |at: u64| next = Some(next.map_or(at, |n| n.min(at)));
    if has_ttl(inst.kind) {
        let now_secs = now / 1000;
        let expired = match inst.kind {
            Kind::ReportShard => report_shard::expire(kv, now_secs, lifecycle::EXPIRE_BATCH),
            Kind::Replay => replay::expire(kv, now_secs, lifecycle::EXPIRE_BATCH),
            Kind::Buckets => buckets::expire(kv, now_secs, lifecycle::EXPIRE_BATCH),
            _ => batch_index::expire(kv, now_secs, lifecycle::EXPIRE_BATCH),
        };
        match expired {
            Ok(n) if n as usize >= lifecycle::EXPIRE_BATCH => add(now + 1_000),
            Ok(n) => {
                if n > 0 {
                    p.log(&crate::observe::Event::StateExpired {
                        task: crate::observe::task(&task_id),
                        kind: format!("{:?}", inst.kind),
                        deleted: n,
                    });
                }
                if let Ok(Some(at)) = ttl::next(kv) {
                    add(at.saturating_mul(1000));
                }
            }
            Err(_) => add(now + 5_000),
        }
    }
    if let Ok(Some(at)) = lifecycle::expiry(kv) {
        add(at.min(now.saturating_add(p.config().gc_recheck_secs.saturating_mul(1000))));
    }
    AlarmOutcome {
        next,
        emptied: false,
    }
}

/// The task store's alarm: one key rotation step; the next alarm (ms).
fn rotation_alarm<P: Platform>(p: &P, kv: &mut impl Kv, now: u64) -> Option<u64> {
    let default = &p.config().key_rotation;
    match tasks::rotate_keys(kv, default, now / 1000) {
        Ok((r, next)) => {
            if !r.is_empty() {
                p.log(&crate::observe::Event::KeysRotated {
                    activated: r.activated,
                    expired: r.expired,
                    deleted: r.deleted,
                    created: r.created,
                });
            }
            next.map(|s| s.saturating_mul(1000).clamp(now + 1, now + KEY_CHECK_MS))
        }
        // Storage trouble: try again soon.
        Err(_) => Some(now + 5_000),
    }
}

/// The shard number of a numbered instance.
fn shard_number(id: &[u8]) -> Option<u32> {
    id.try_into().ok().map(u32::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{AggregationJobId, Interval, VdafConfig};
    use crate::store::buckets::{delta, BatchTarget, BucketKey, BucketReq, BucketResp};
    use crate::store::MemKv;
    use crate::vdaf::{agg_share, Prio3Instance};

    fn commit(
        kv: &mut MemKv,
        job: u8,
        deltas: Vec<crate::store::buckets::BucketDelta>,
    ) -> Result<Served, StoreError> {
        let inst = Instance::numbered(Kind::Buckets, &TaskId([1; 32]), 0);
        let req = BucketReq::Commit {
            job: AggregationJobId([job; 16]),
            vdaf: VdafConfig::Prio3Count,
            deltas,
            now: 0,
            retention: crate::store::ttl::Retention {
                time_precision: 1,
                report_expiry_age: 100,
            },
        };
        transaction(kv, |kv| {
            serve_sync(kv, &inst, &to_bytes(&req).unwrap(), 0, false)
        })
    }

    #[test]
    fn a_failed_synchronous_request_writes_nothing() {
        let zero = agg_share::zero_dyn(&Prio3Instance::for_dap(&VdafConfig::Prio3Count).unwrap());
        let mut kv = MemKv::new();
        commit(
            &mut kv,
            1,
            vec![delta(BucketKey::Time(2), zero.clone(), &[])],
        )
        .unwrap();
        let before = kv.len();
        // The first delta is valid; merging the second into bucket 2 fails to decode.
        let r = commit(
            &mut kv,
            2,
            vec![
                delta(BucketKey::Time(1), zero, &[]),
                delta(BucketKey::Time(2), vec![1, 2, 3], &[]),
            ],
        );
        assert!(r.is_err());
        assert_eq!(
            kv.len(),
            before,
            "the valid first delta must have been rolled back"
        );
        let status = crate::store::buckets::handle(
            &mut kv,
            BucketReq::Status {
                target: BatchTarget::Interval(Interval::new(1, 1)),
            },
        )
        .unwrap();
        assert_eq!(
            status,
            BucketResp::Status {
                inflight: 0,
                count: 0,
                checksum: [0; 32],
            }
        );
    }
}
