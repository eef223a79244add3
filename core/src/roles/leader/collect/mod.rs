//! Collection at the Leader: collection-job instances that wait until their batch is fully
//! aggregated, mark it collected, obtain the Helper's aggregate share and seal their own.
//!
//! A job is created with DAP-18's `POST` (identical `CollectionJobReq`s map to the same
//! instance, named by a hash of the request: a repeated POST returns the existing job
//! until the Collector deletes it, it failed, or, for leader-selected queries, whose
//! requests are all identical, its result was fetched; the next POST then starts a new
//! generation and so the next batch) or with `PUT` to a Collector-chosen ID (the form
//! deployed Collectors speak; one job per ID, and the unambiguous way to ask for the next
//! leader-selected batch). A failed collection undoes its marks, so the batch can be
//! collected again. A finished instance is deleted after the task's report expiry age.

mod batch;
mod drive;

pub use batch::{
    combine_buckets, mark_collected, unmark_collected, validate_collection_req, Combined,
};
pub use drive::alarm;

use super::peer::PeerState;
use crate::error::{Abort, DapErrorType};
use crate::lifecycle;
use crate::messages::{BatchMode, CollectionJobId, CollectionJobReq, Query, TaskId};
use crate::platform::Platform;
use crate::roles::{CollJobReq, CollJobResp};
use crate::store::buckets::{BatchTarget, BucketReq, BucketResp, BucketTotal};
use crate::store::{get, key, put, Kv};
use prio::codec::Decode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

// Storage schema (one instance per distinct POSTed CollectionJobReq, or per PUT job ID):
//   "g"                -> current generation (u32)
//   "j" || gen u32 BE  -> CollJob: the request, its phase and result (only the current and
//                         the previous generation are kept)
//   "p"                -> ()  present when the instance holds a PUT-created job

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

fn generation(id: &CollectionJobId) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&id.0[12..]);
    u32::from_be_bytes(b)
}

fn job_key(gen: u32) -> Vec<u8> {
    key(&[b"j", &gen.to_be_bytes()])
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
    helper: PeerState,
    fetched: bool,
    deleted: bool,
    /// When the job was created (ms): failures of aggregation jobs after this fail it.
    created_ms: u64,
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
    let k = job_key(generation(id));
    let job: CollJob =
        get(kv, &k)?.ok_or_else(|| Abort::NotFound("no such collection job".into()))?;
    if job.id != *id {
        return Err(Abort::NotFound("no such collection job".into()));
    }
    Ok((k, job))
}

fn is_leader_selected(body: &[u8]) -> bool {
    CollectionJobReq::get_decoded(body)
        .is_ok_and(|r| r.query.batch_mode() == BatchMode::LeaderSelected)
}

/// Handles a request to a Leader collection-job instance named `name`.
pub async fn handle<P: Platform>(
    p: &P,
    kv: &mut impl Kv,
    name: [u8; 16],
    req: CollJobReq,
) -> Result<(CollJobResp, Option<u64>), Abort> {
    match req {
        CollJobReq::LeaderCreate { task_id, id, body } => {
            let put_form = id.is_some();
            let is_put_instance = kv.get(b"p")?.is_some();
            let current: Option<u32> = get(kv, b"g")?;
            if let Some(gen) = current {
                let job: CollJob = get(kv, &job_key(gen))?
                    .ok_or_else(|| Abort::Internal("current collection job missing".into()))?;
                if put_form || is_put_instance {
                    // One job per Collector-chosen ID: the same request finds it again.
                    if id != Some(job.id) || job.req != body {
                        return Err(Abort::Conflict(
                            "a collection job with this ID exists with a different request".into(),
                        ));
                    }
                    return Ok((view(&job)?, None));
                }
                let used_up = job.deleted
                    || matches!(job.phase, Phase::Failed(_))
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
            let (job_id, gen) = match id {
                Some(id) => (id, generation(&id)),
                None => {
                    let gen = current.map_or(0, |g| g.wrapping_add(1));
                    (job_id(&name, gen), gen)
                }
            };
            let job = CollJob {
                task_id,
                id: job_id,
                req: body,
                phase: Phase::Waiting,
                attempts: 0,
                helper: PeerState::default(),
                fetched: false,
                deleted: false,
                created_ms: p.now_ms(),
            };
            // Generations before the previous one are no longer reachable by the Collector.
            if let Some(old) = current.and_then(|g| g.checked_sub(1)) {
                kv.delete(&job_key(old))?;
            }
            if put_form {
                kv.put(b"p", &[])?;
            }
            put(kv, &job_key(gen), &job)?;
            put(kv, b"g", &gen)?;
            lifecycle::clear_expiry(kv)?;
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
            if let Some(task) = p.task(&j.task_id).await? {
                drive::keep_for(p, kv, &task)?;
            }
            Ok((CollJobResp::Deleted, None))
        }
        _ => Err(Abort::Internal(
            "Helper request sent to a Leader collection job".into(),
        )),
    }
}
