//! The inside of a state instance (a Durable Object in the worker, a `MemKv` in tests):
//! decodes a request envelope, runs the kind's state machine on the instance's own store
//! and says how the instance's alarm should change. Both platform adapters call
//! [`serve`] and [`alarm`]; neither has instance logic of its own.

use crate::error::Abort;
use crate::messages::TaskId;
use crate::platform::Platform;
use crate::roles::{helper, leader, AggJobReq, CollJobReq};
use crate::store::{
    batch_index, buckets, from_bytes, replay, report_shard, tasks, to_bytes, Kv, StoreError,
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
}

/// The answer of an instance to one request.
pub struct Served {
    /// The encoded answer, to return to the caller.
    pub body: Vec<u8>,
    /// What to do with the alarm.
    pub alarm: AlarmChange,
}

const IDENTITY_KEY: &[u8] = b"\0instance";

fn encode_answer<T: Serialize>(r: Result<T, StoreError>) -> Vec<u8> {
    let inner: Result<Vec<u8>, StoreError> = r.and_then(|v| to_bytes(&v));
    // Encoding a Result of bytes or a short error string cannot fail.
    to_bytes(&inner).unwrap_or_default()
}

/// Runs one request inside an instance.
pub async fn serve<P: Platform>(p: &P, kv: &mut impl Kv, envelope: &[u8]) -> Served {
    if let Some(s) = serve_sync(kv, envelope, p.now_ms()) {
        return s;
    }
    match serve_async(p, kv, envelope).await {
        Ok(s) => s,
        Err(e) => Served {
            body: encode_answer::<()>(Err(e)),
            alarm: AlarmChange::Keep,
        },
    }
}

/// Whether requests to this kind are handled synchronously (no awaits, no other instance
/// called), so that a Durable Object can run them inside one storage transaction.
pub fn is_sync(kind: Kind) -> bool {
    !matches!(kind, Kind::AggJob | Kind::CollJob)
}

/// Reads the instance a request envelope is addressed to.
pub fn envelope_instance(envelope: &[u8]) -> Result<Instance, StoreError> {
    let (inst, _): (Instance, Vec<u8>) = from_bytes(envelope)?;
    Ok(inst)
}

/// Runs one request of a synchronous kind ([`is_sync`]); `None` for the other kinds.
pub fn serve_sync(kv: &mut impl Kv, envelope: &[u8], now_ms: u64) -> Option<Served> {
    match serve_sync_inner(kv, envelope, now_ms) {
        Ok(s) => s,
        Err(e) => Some(Served {
            body: encode_answer::<()>(Err(e)),
            alarm: AlarmChange::Keep,
        }),
    }
}

fn remember_identity(kv: &mut impl Kv, inst: &Instance) -> Result<(), StoreError> {
    if kv.get(IDENTITY_KEY)?.is_none() {
        kv.put(IDENTITY_KEY, &to_bytes(inst)?)?;
    }
    Ok(())
}

fn serve_sync_inner(
    kv: &mut impl Kv,
    envelope: &[u8],
    now: u64,
) -> Result<Option<Served>, StoreError> {
    let (inst, payload): (Instance, Vec<u8>) = from_bytes(envelope)?;
    if !is_sync(inst.kind) {
        return Ok(None);
    }
    remember_identity(kv, &inst)?;
    let keep = AlarmChange::Keep;
    let (body, alarm) = match inst.kind {
        Kind::Tasks => (
            encode_answer(tasks::handle(kv, from_bytes(&payload)?)),
            keep,
        ),
        Kind::ReportShard => {
            let r = report_shard::handle(kv, from_bytes(&payload)?);
            let alarm = match &r {
                Ok(report_shard::ShardResp::Put {
                    alarm_at: Some(s), ..
                }) => AlarmChange::Earliest(s.saturating_mul(1000).max(now)),
                _ => keep,
            };
            (encode_answer(r), alarm)
        }
        Kind::Replay => (
            encode_answer(replay::handle(kv, from_bytes(&payload)?)),
            keep,
        ),
        Kind::Buckets => (
            encode_answer(buckets::handle(kv, from_bytes(&payload)?)),
            keep,
        ),
        Kind::BatchIndex => (
            encode_answer(batch_index::handle(kv, from_bytes(&payload)?)),
            keep,
        ),
        Kind::AggJob | Kind::CollJob => return Ok(None),
    };
    Ok(Some(Served { body, alarm }))
}

async fn serve_async<P: Platform>(
    p: &P,
    kv: &mut impl Kv,
    envelope: &[u8],
) -> Result<Served, StoreError> {
    let (inst, payload): (Instance, Vec<u8>) = from_bytes(envelope)?;
    remember_identity(kv, &inst)?;
    let now = p.now_ms();
    let ms = |m: Option<u64>| m.map_or(AlarmChange::Keep, AlarmChange::Earliest);
    let (body, alarm) = match inst.kind {
        Kind::AggJob => {
            let req: AggJobReq = from_bytes(&payload)?;
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
            let req: CollJobReq = from_bytes(&payload)?;
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
                "synchronous kind sent to the async path".into(),
            ))
        }
    };
    Ok(Served { body, alarm })
}

/// Runs an instance's alarm. Returns when it should fire next (ms), if ever.
pub async fn alarm<P: Platform>(p: &P, kv: &mut impl Kv) -> Option<u64> {
    let inst: Instance = match kv.get(IDENTITY_KEY) {
        Ok(Some(b)) => from_bytes(&b).ok()?,
        _ => return None,
    };
    let task = inst.task?;
    let result: Result<Option<u64>, Abort> = match inst.kind {
        Kind::ReportShard => {
            let shard = u32::from_be_bytes(inst.id.as_slice().try_into().ok()?);
            leader::shard_alarm(p, kv, &task, shard).await
        }
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
    match result {
        Ok(next) => next,
        // Unexpected failure: try again later rather than give up on the instance.
        Err(_) => Some(p.now_ms() + 5_000),
    }
}
