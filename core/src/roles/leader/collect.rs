//! Collection at the Leader: validation of `CollectionJobReq`s, and collection-job
//! instances that wait until their batch is fully aggregated, mark it collected, obtain the
//! Helper's aggregate share and seal their own.
//!
//! Identical `CollectionJobReq`s map to the same instance (named by a hash of the request).
//! A repeated POST returns the existing job until the Collector deletes it or, for
//! leader-selected queries (whose requests are all identical), has fetched its result;
//! the next POST then starts a new generation and so the next batch.

use super::peer::{self, PeerAnswer};
use crate::error::{Abort, DapErrorType};
use crate::hpke::{self, HpkeInfo};
use crate::media::MediaType;
use crate::messages::{
    AggregateShare, AggregateShareAad, AggregateShareReq, BatchMode, BatchSelector,
    CollectionJobId, CollectionJobReq, CollectionJobResp, Interval, Query, Role, TaskId,
};
use crate::platform::Platform;
use crate::roles::{backoff_ms, CollJobReq, CollJobResp};
use crate::store::batch_index::{IndexReq, IndexResp};
use crate::store::buckets::{BatchTarget, BucketReq, BucketResp, BucketTotal};
use crate::store::report_shard::{ShardReq, ShardResp};
use crate::store::{get, key, put, Kv};
use crate::task::AggregatorTask;
use crate::vdaf::agg_share;
use prio::codec::{Decode, Encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

// Storage schema (one instance per distinct CollectionJobReq of a task):
//   "g"                -> current generation (u32)
//   "j" || gen u32 BE  -> CollJob: the request, its phase and result

/// Checks a `CollectionJobReq` against the task (both aggregators apply this).
pub fn validate_collection_req(task: &AggregatorTask, req: &CollectionJobReq) -> Result<(), Abort> {
    if req.query.batch_mode() != task.config.batch_mode {
        return Err(Abort::invalid_message(
            "query's batch mode does not match the task",
        ));
    }
    if !req.agg_param.is_empty() {
        return Err(Abort::dap(
            DapErrorType::InvalidAggregationParameter,
            "Prio3 takes an empty aggregation parameter",
        ));
    }
    if !req.extensions.is_empty() {
        let types: Vec<u16> = req.extensions.types().collect();
        return Err(Abort::Dap {
            kind: DapErrorType::UnsupportedExtension,
            detail: format!("unsupported collection job extensions {types:?}"),
            task_id: None,
            unsupported_extensions: types,
        });
    }
    if let Query::TimeInterval(i) = req.query {
        if i.duration.0 == 0 || i.end().is_none() {
            return Err(Abort::dap(
                DapErrorType::BatchInvalid,
                "the batch interval must span at least one time_precision and not overflow",
            ));
        }
    }
    Ok(())
}

/// Bucket totals over every shard, with the number of jobs still in flight.
pub struct Combined {
    /// Totals (with the merged aggregate share when read with shares).
    pub total: BucketTotal,
    /// Aggregation jobs in flight for the batch.
    pub inflight: u64,
}

impl std::ops::Deref for Combined {
    type Target = BucketTotal;
    fn deref(&self) -> &BucketTotal {
        &self.total
    }
}

/// Combines a batch's buckets across all bucket shards.
pub async fn combine_buckets<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    target: BatchTarget,
    with_shares: bool,
) -> Result<Combined, Abort> {
    let calls = (0..task.schedule.bucket_shards).map(|s| {
        let req = if with_shares {
            BucketReq::Read {
                vdaf: task.config.vdaf,
                target,
            }
        } else {
            BucketReq::Status { target }
        };
        p.buckets(&task.task_id, s, req)
    });
    let inst = task.vdaf();
    let mut combined = Combined {
        total: BucketTotal::default(),
        inflight: 0,
    };
    for answer in futures::future::join_all(calls).await {
        match answer? {
            BucketResp::Total(t) => combined.total.merge(&inst, &t)?,
            BucketResp::Status { inflight, count } => {
                combined.inflight += inflight;
                combined.total.count += count;
            }
            other => {
                return Err(Abort::Internal(format!(
                    "unexpected bucket answer {other:?}"
                )))
            }
        }
    }
    Ok(combined)
}

/// Marks a batch collected by `by` in every shard; returns the jobs still in flight.
pub async fn mark_collected<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    by: [u8; 16],
    target: BatchTarget,
) -> Result<u64, Abort> {
    let mut inflight = 0;
    for s in 0..task.schedule.bucket_shards {
        match p
            .buckets(&task.task_id, s, BucketReq::MarkCollected { by, target })
            .await?
        {
            BucketResp::Marked { overlap: true, .. } => {
                return Err(Abort::dap(
                    DapErrorType::BatchOverlap,
                    "the batch overlaps a batch that was already collected",
                ))
            }
            BucketResp::Marked { inflight: n, .. } => inflight += n,
            other => {
                return Err(Abort::Internal(format!(
                    "unexpected bucket answer {other:?}"
                )))
            }
        }
    }
    Ok(inflight)
}

/// The instance name and the hash prefix of job IDs for a collection request body.
pub fn collection_name(task_id: &TaskId, body: &[u8]) -> [u8; 16] {
    let h = Sha256::new()
        .chain_update(b"edap collection job")
        .chain_update(task_id.0)
        .chain_update(body)
        .finalize();
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(&h[..12]);
    name
}

fn job_id(name: &[u8; 16], gen: u32) -> CollectionJobId {
    let mut id = *name;
    id[12..].copy_from_slice(&gen.to_be_bytes());
    CollectionJobId(id)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
enum Phase {
    Waiting,
    Marked(BatchTarget),
    Requesting {
        target: BatchTarget,
        total: BucketTotal,
    },
    Ready(Vec<u8>),
    Failed(Abort),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct CollJob {
    task_id: TaskId,
    id: CollectionJobId,
    req: Vec<u8>,
    phase: Phase,
    attempts: u32,
    helper_location: Option<String>,
    fetched: bool,
    deleted: bool,
}

fn view(job: &CollJob) -> Result<CollJobResp, Abort> {
    if job.deleted {
        return Err(Abort::NotFound("collection job was deleted".into()));
    }
    match &job.phase {
        Phase::Ready(b) => Ok(CollJobResp::Job {
            id: job.id.0,
            result: Some(b.clone()),
        }),
        Phase::Failed(a) => Err(a.clone()),
        _ => Ok(CollJobResp::Job {
            id: job.id.0,
            result: None,
        }),
    }
}

fn load(kv: &impl Kv, id: &CollectionJobId) -> Result<(Vec<u8>, CollJob), Abort> {
    let gen = u32::from_be_bytes(id.0[12..].try_into().expect("4 bytes"));
    let k = key(&[b"j", &gen.to_be_bytes()]);
    let job: CollJob =
        get(kv, &k)?.ok_or_else(|| Abort::NotFound("no such collection job".into()))?;
    if job.id != *id {
        return Err(Abort::NotFound("no such collection job".into()));
    }
    Ok((k, job))
}

/// Handles a request to a Leader collection-job instance named `name`.
pub async fn handle<P: Platform>(
    p: &P,
    kv: &mut impl Kv,
    name: [u8; 16],
    req: CollJobReq,
) -> Result<(CollJobResp, Option<u64>), Abort> {
    match req {
        CollJobReq::LeaderCreate { task_id, body } => {
            let current: Option<u32> = get(kv, b"g")?;
            if let Some(gen) = current {
                let job: CollJob = get(kv, &key(&[b"j", &gen.to_be_bytes()]))?
                    .ok_or_else(|| Abort::Internal("current collection job missing".into()))?;
                let used_up = job.deleted
                    || (job.fetched
                        && matches!(job.phase, Phase::Ready(_))
                        && is_leader_selected(&job.req));
                if !used_up {
                    return Ok((view(&job)?, None));
                }
            }
            let task = p
                .task(&task_id)
                .await?
                .ok_or_else(|| Abort::dap(DapErrorType::UnrecognizedTask, "unknown task"))?;
            let req = CollectionJobReq::get_decoded(&body).map_err(Abort::invalid_message)?;
            validate_collection_req(&task, &req)?;
            if let Query::TimeInterval(i) = req.query {
                let overlaps = (0..task.schedule.bucket_shards).map(|s| {
                    p.buckets(
                        &task_id,
                        s,
                        BucketReq::Overlaps {
                            by: None,
                            target: BatchTarget::Interval(i),
                        },
                    )
                });
                for a in futures::future::join_all(overlaps).await {
                    if a? == BucketResp::Overlaps(true) {
                        return Err(Abort::dap(
                            DapErrorType::BatchOverlap,
                            "the interval overlaps a batch that was already collected",
                        ));
                    }
                }
            }
            let gen = current.map_or(0, |g| g + 1);
            let job = CollJob {
                task_id,
                id: job_id(&name, gen),
                req: body,
                phase: Phase::Waiting,
                attempts: 0,
                helper_location: None,
                fetched: false,
                deleted: false,
            };
            put(kv, &key(&[b"j", &gen.to_be_bytes()]), &job)?;
            put(kv, b"g", &gen)?;
            Ok((view(&job)?, Some(p.now_ms())))
        }
        CollJobReq::LeaderGet { job, .. } => {
            let (k, mut j) = load(kv, &job)?;
            let v = view(&j)?;
            if matches!(j.phase, Phase::Ready(_)) && !j.fetched {
                j.fetched = true;
                put(kv, &k, &j)?;
            }
            Ok((v, None))
        }
        CollJobReq::LeaderDelete { job, .. } => {
            let (k, mut j) = load(kv, &job)?;
            j.deleted = true;
            put(kv, &k, &j)?;
            Ok((CollJobResp::Deleted, None))
        }
        _ => Err(Abort::Internal(
            "Helper request sent to a Leader collection job".into(),
        )),
    }
}

fn is_leader_selected(body: &[u8]) -> bool {
    CollectionJobReq::get_decoded(body)
        .is_ok_and(|r| r.query.batch_mode() == BatchMode::LeaderSelected)
}

/// Drives the current collection job one alarm further.
pub async fn alarm<P: Platform>(p: &P, kv: &mut impl Kv) -> Result<Option<u64>, Abort> {
    let Some(gen) = get::<u32>(kv, b"g")? else {
        return Ok(None);
    };
    let k = key(&[b"j", &gen.to_be_bytes()]);
    let Some(mut job) = get::<CollJob>(kv, &k)? else {
        return Ok(None);
    };
    if job.deleted || matches!(job.phase, Phase::Ready(_) | Phase::Failed(_)) {
        return Ok(None);
    }
    let Some(task) = p.task(&job.task_id).await? else {
        job.phase = Phase::Failed(Abort::dap(
            DapErrorType::UnrecognizedTask,
            "task was deleted",
        ));
        put(kv, &k, &job)?;
        return Ok(None);
    };
    let next = match advance(p, &task, &mut job).await {
        Ok(next) => {
            job.attempts = 0;
            next
        }
        Err(Abort::Unavailable(_)) => {
            job.attempts += 1;
            Some(p.now_ms() + backoff_ms(job.attempts - 1))
        }
        Err(a) => {
            job.phase = Phase::Failed(a);
            None
        }
    };
    put(kv, &k, &job)?;
    Ok(next)
}

async fn advance<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    job: &mut CollJob,
) -> Result<Option<u64>, Abort> {
    let poll = Some(p.now_ms() + p.config().retry_after_secs * 1000);
    let req = CollectionJobReq::get_decoded(&job.req).map_err(Abort::invalid_message)?;
    loop {
        match job.phase.clone() {
            Phase::Waiting => {
                let target = match req.query {
                    Query::TimeInterval(i) => {
                        if !interval_ready(p, task, i).await? {
                            return Ok(poll);
                        }
                        BatchTarget::Interval(i)
                    }
                    Query::LeaderSelected => {
                        match p
                            .batch_index(
                                &task.task_id,
                                IndexReq::NextBatch {
                                    collection: job.id.0,
                                    min_batch_size: task.config.min_batch_size,
                                },
                            )
                            .await?
                        {
                            IndexResp::Batch(Some(info)) => BatchTarget::Batch(info.id),
                            IndexResp::Batch(None) => return Ok(poll),
                            other => {
                                return Err(Abort::Internal(format!(
                                    "unexpected index answer {other:?}"
                                )))
                            }
                        }
                    }
                };
                mark_collected(p, task, job.id.0, target).await?;
                job.phase = Phase::Marked(target);
            }
            Phase::Marked(target) => {
                // Jobs registered before the mark still commit; wait for them.
                if combine_buckets(p, task, target, false).await?.inflight > 0 {
                    return Ok(poll);
                }
                let combined = combine_buckets(p, task, target, true).await?;
                if combined.count < task.config.min_batch_size {
                    return Err(Abort::dap(
                        DapErrorType::InvalidBatchSize,
                        format!(
                            "the batch holds {} reports, fewer than min_batch_size {}",
                            combined.count, task.config.min_batch_size
                        ),
                    ));
                }
                job.phase = Phase::Requesting {
                    target,
                    total: combined.total,
                };
            }
            Phase::Requesting { target, total } => {
                let helper_share =
                    match request_helper_share(p, task, job, &req, target, &total).await? {
                        HelperShare::Ready(s) => s,
                        HelperShare::Pending(at) => return Ok(Some(at)),
                    };
                let inst = task.vdaf();
                let leader_share = total
                    .agg_share
                    .clone()
                    .unwrap_or_else(|| agg_share::zero_dyn(&inst));
                let aad = AggregateShareAad {
                    task_id: &task.task_id,
                    task_config: &task.config,
                    collection_job_req: &req,
                }
                .get_encoded()
                .map_err(|e| Abort::Internal(e.to_string()))?;
                let leader_ct = hpke::seal(
                    &task.collector_hpke_config,
                    HpkeInfo::AggregateShare(Role::Leader),
                    &aad,
                    &leader_share,
                )
                .map_err(|e| Abort::Internal(e.to_string()))?;
                let resp = CollectionJobResp {
                    report_count: total.count,
                    interval: total.interval.unwrap_or(Interval::new(0, 0)),
                    leader_encrypted_agg_share: leader_ct,
                    helper_encrypted_agg_share: helper_share.encrypted_aggregate_share,
                };
                job.phase = Phase::Ready(
                    resp.get_encoded()
                        .map_err(|e| Abort::Internal(e.to_string()))?,
                );
                return Ok(None);
            }
            Phase::Ready(_) | Phase::Failed(_) => return Ok(None),
        }
    }
}

/// Whether every report uploaded for `i` has been aggregated and the batch is big enough.
async fn interval_ready<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    i: Interval,
) -> Result<bool, Abort> {
    let calls = (0..task.schedule.report_shards)
        .map(|s| p.report_shard(&task.task_id, s, ShardReq::Outstanding { interval: i }));
    for a in futures::future::join_all(calls).await {
        if a? == ShardResp::Outstanding(true) {
            return Ok(false);
        }
    }
    let c = combine_buckets(p, task, BatchTarget::Interval(i), false).await?;
    Ok(c.inflight == 0 && c.count >= task.config.min_batch_size)
}

/// The Helper's aggregate share, or when to ask again.
enum HelperShare {
    Ready(AggregateShare),
    Pending(u64),
}

async fn request_helper_share<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    job: &mut CollJob,
    req: &CollectionJobReq,
    target: BatchTarget,
    total: &BucketTotal,
) -> Result<HelperShare, Abort> {
    let body = AggregateShareReq {
        collection_job_req: req.clone(),
        batch_selector: match target {
            BatchTarget::Interval(i) => BatchSelector::TimeInterval(i),
            BatchTarget::Batch(b) => BatchSelector::LeaderSelected(b),
        },
        report_count: total.count,
        checksum: total.checksum,
    }
    .get_encoded()
    .map_err(|e| Abort::Internal(e.to_string()))?;
    let answer = peer::exchange(
        p,
        task,
        &mut job.helper_location,
        &format!("/tasks/{}/aggregate_shares", task.task_id),
        MediaType::AggregateShareReq,
        body,
        None,
    )
    .await?;
    match answer {
        PeerAnswer::Ready(b) => AggregateShare::get_decoded(&b)
            .map(HelperShare::Ready)
            .map_err(|e| {
                Abort::Unavailable(format!("undecodable AggregateShare from the Helper: {e}"))
            }),
        PeerAnswer::Pending(at) => Ok(HelperShare::Pending(at)),
        PeerAnswer::Refused { status, problem } => {
            // Pass the Helper's DAP error on to the Collector.
            let kind = problem
                .as_ref()
                .and_then(|d| d.dap_type())
                .unwrap_or(DapErrorType::InvalidMessage);
            Err(Abort::dap(kind, PeerAnswer::refusal(status, &problem)))
        }
    }
}
