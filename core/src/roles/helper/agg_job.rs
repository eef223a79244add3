//! Helper aggregation jobs: one instance per job. A job created with DAP-18's `POST` is
//! named by a hash of the Leader's `AggregationJobInitReq`; one created with `PUT` (the form
//! deployed Leaders speak) by the ID the Leader chose. Either way an identical retry lands
//! on the same job and gets the stored answer. Small jobs are answered synchronously; large
//! ones are processed by the instance's alarm while the Leader polls. A finished job is
//! kept for the task's report expiry age (a Leader may retry that long), then deleted.

use super::{job_batch, JobBatch};
use crate::error::{Abort, DapErrorType};
use crate::lifecycle;
use crate::messages::{
    AggJobEncoding, AggregationJobId, AggregationJobInitReq, AggregationJobResp, ReportError,
    ReportId, Role, TaskId, Time, VerifyResp, VerifyRespResult,
};
use crate::platform::Platform;
use crate::roles::{open_input_share, shared_secrets, AggJobReq, AggJobResp, InputShareContext};
use crate::store::buckets::{self, BucketReq, BucketResp};
use crate::store::replay::ReplayReq;
use crate::store::{get, put, shard_of, Kv};
use crate::task::AggregatorTask;
use crate::vdaf::{self, agg_share, DapVdaf, Transition};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

// Storage schema (one instance per Helper aggregation job):
//   "m" -> HelperJob (task, request hash, step, state, response)
//   "q" -> the init request body, while an asynchronous job waits for its alarm

#[derive(Clone, Debug, Serialize, Deserialize)]
enum JobState {
    Pending,
    Ready(#[serde(with = "crate::store::bytes")] Vec<u8>),
    Failed(Abort),
    Deleted,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct HelperJob {
    task_id: TaskId,
    /// The job's ID (derived from the request for POST, the Leader's for PUT).
    id: AggregationJobId,
    request_hash: [u8; 32],
    step: u16,
    state: JobState,
    /// The report IDs of the job, in order (to tell a continuation for other reports).
    report_ids: Vec<ReportId>,
    /// The encoding the Leader spoke, in which it gets its answers.
    encoding: AggJobEncoding,
}

/// The Helper's job ID for an init request: derived from the task and body.
pub fn job_id_for(task_id: &TaskId, body: &[u8]) -> AggregationJobId {
    let h = Sha256::new()
        .chain_update(b"edap helper job")
        .chain_update(task_id.0)
        .chain_update(body)
        .finalize();
    AggregationJobId(h[..16].try_into().expect("16 of 32 bytes"))
}

fn view(job: &HelperJob) -> Result<AggJobResp, Abort> {
    match &job.state {
        JobState::Pending => Ok(AggJobResp::Helper {
            step: job.step,
            resp: None,
        }),
        JobState::Ready(b) => Ok(AggJobResp::Helper {
            step: job.step,
            resp: Some(b.clone()),
        }),
        JobState::Failed(a) => Err(a.clone()),
        JobState::Deleted => Ok(AggJobResp::Deleted),
    }
}

fn unknown_job() -> Abort {
    Abort::dap(
        DapErrorType::UnrecognizedAggregationJob,
        "no such aggregation job",
    )
}

/// Handles one request to a Helper job instance. Returns the answer and, if processing was
/// deferred, when the instance's alarm should fire (milliseconds).
pub async fn handle<P: Platform>(
    p: &P,
    kv: &mut impl Kv,
    req: AggJobReq,
) -> Result<(AggJobResp, Option<u64>), Abort> {
    match req {
        AggJobReq::HelperInit { task_id, id, body } => {
            let hash: [u8; 32] = Sha256::digest(&body).into();
            if let Some(job) = get::<HelperJob>(kv, b"m")? {
                if job.request_hash != hash {
                    // Only possible in the PUT form: the Leader reused its job ID.
                    return Err(Abort::Conflict(
                        "an aggregation job with this ID exists with a different request".into(),
                    ));
                }
                return Ok((view(&job)?, None));
            }
            let task = p
                .task(&task_id)
                .await?
                .ok_or_else(|| Abort::dap(DapErrorType::UnrecognizedTask, "unknown task"))?;
            // PUT is the deployed peers' form, which also uses their encoding; either form
            // is read in either encoding and answered in the one it came in.
            let first = if id.is_some() {
                AggJobEncoding::PartialBatchSelector
            } else {
                AggJobEncoding::Dap18
            };
            let (req, encoding) =
                AggJobEncoding::decode_init_any(first, &body).map_err(Abort::invalid_message)?;
            validate_init(&task, &req)?;
            let job_id = id.unwrap_or_else(|| job_id_for(&task_id, &body));
            let mut job = HelperJob {
                task_id,
                id: job_id,
                request_hash: hash,
                step: 0,
                state: JobState::Pending,
                report_ids: req
                    .verify_inits
                    .iter()
                    .map(|v| v.report_share.metadata.report_id)
                    .collect(),
                encoding,
            };
            if req.verify_inits.len() > p.config().helper_async_threshold {
                put(kv, b"m", &job)?;
                kv.put(b"q", &body)?;
                return Ok((
                    AggJobResp::Helper {
                        step: 0,
                        resp: None,
                    },
                    Some(p.now_ms()),
                ));
            }
            job.state = JobState::Ready(process(p, &task, job_id, &req, encoding).await?);
            put(kv, b"m", &job)?;
            keep_for(p, kv, &task)?;
            Ok((view(&job)?, None))
        }
        AggJobReq::HelperGet { step, .. } => {
            let job = get::<HelperJob>(kv, b"m")?.ok_or_else(unknown_job)?;
            if matches!(job.state, JobState::Deleted) {
                return Err(unknown_job());
            }
            if step != job.step {
                return Err(Abort::dap(
                    DapErrorType::StepMismatch,
                    format!("the job is at step {}, not {step}", job.step),
                ));
            }
            Ok((view(&job)?, None))
        }
        AggJobReq::HelperContinue { body, .. } => {
            let job = get::<HelperJob>(kv, b"m")?.ok_or_else(unknown_job)?;
            if matches!(job.state, JobState::Deleted) {
                return Err(unknown_job());
            }
            let req = job
                .encoding
                .decode_continue(&body)
                .map_err(Abort::invalid_message)?;
            if req.step == 0 {
                return Err(Abort::invalid_message("continuation step must not be 0"));
            }
            // DAP-18 "Helper Continuation": a report ID the job does not hold is an invalid
            // message.
            if let Some(unknown) = req
                .verify_continues
                .iter()
                .find(|c| !job.report_ids.contains(&c.report_id))
            {
                return Err(Abort::invalid_message(format!(
                    "report {} is not part of this aggregation job",
                    unknown.report_id
                )));
            }
            // Prio3 verifies in one round: every report of the job reached a terminal state
            // at initialization, so there is no step to continue to.
            Err(Abort::dap(
                DapErrorType::StepMismatch,
                format!(
                    "the job finished at step {}; step {} does not exist",
                    job.step, req.step
                ),
            ))
        }
        AggJobReq::HelperDelete { .. } => {
            let Some(mut job) = get::<HelperJob>(kv, b"m")? else {
                return Err(unknown_job());
            };
            // Committed output shares and replay records live elsewhere and stay.
            job.state = JobState::Deleted;
            put(kv, b"m", &job)?;
            kv.delete(b"q")?;
            if let Some(task) = p.task(&job.task_id).await? {
                keep_for(p, kv, &task)?;
            }
            Ok((AggJobResp::Deleted, None))
        }
        AggJobReq::LeaderStart { .. } => Err(Abort::Internal(
            "Leader request sent to a Helper job".into(),
        )),
    }
}

/// Processes a deferred job. Returns when to run again, if ever.
pub async fn alarm<P: Platform>(p: &P, kv: &mut impl Kv) -> Result<Option<u64>, Abort> {
    let Some(mut job) = get::<HelperJob>(kv, b"m")? else {
        return Ok(None);
    };
    if !matches!(job.state, JobState::Pending) {
        return Ok(None);
    }
    let body = kv
        .get(b"q")?
        .ok_or_else(|| Abort::Internal("pending job lost its request".into()))?;
    let Some(task) = p.task(&job.task_id).await? else {
        job.state = JobState::Failed(Abort::dap(
            DapErrorType::UnrecognizedTask,
            "task was deleted",
        ));
        put(kv, b"m", &job)?;
        return Ok(None);
    };
    let req = job
        .encoding
        .decode_init(&body)
        .map_err(Abort::invalid_message)?;
    match process(p, &task, job.id, &req, job.encoding).await {
        Ok(resp) => job.state = JobState::Ready(resp),
        // Storage trouble: try again shortly; everything below is idempotent.
        Err(Abort::Unavailable(_)) => return Ok(Some(p.now_ms() + 1000)),
        Err(a) => job.state = JobState::Failed(a),
    }
    put(kv, b"m", &job)?;
    kv.delete(b"q")?;
    keep_for(p, kv, &task)?;
    Ok(None)
}

/// A finished job answers retries for the task's report expiry age, then goes.
fn keep_for<P: Platform>(p: &P, kv: &mut impl Kv, task: &AggregatorTask) -> Result<(), Abort> {
    let at = p
        .now_ms()
        .saturating_add(task.report_expiry_age.saturating_mul(1000));
    lifecycle::set_expiry(kv, at)?;
    Ok(())
}

fn validate_init(task: &AggregatorTask, req: &AggregationJobInitReq) -> Result<(), Abort> {
    job_batch(&task.config, &req.extensions)?;
    if req.verification_key_id != 0 {
        return Err(Abort::invalid_message(format!(
            "unknown verification key id {}",
            req.verification_key_id
        )));
    }
    if !req.agg_param.is_empty() {
        return Err(Abort::dap(
            DapErrorType::InvalidAggregationParameter,
            "Prio3 takes an empty aggregation parameter",
        ));
    }
    let mut ids: Vec<ReportId> = req
        .verify_inits
        .iter()
        .map(|v| v.report_share.metadata.report_id)
        .collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(Abort::invalid_message(
            "report IDs in the job are not distinct",
        ));
    }
    Ok(())
}

async fn process<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    job: AggregationJobId,
    req: &AggregationJobInitReq,
    encoding: AggJobEncoding,
) -> Result<Vec<u8>, Abort> {
    let keys = p.hpke_keys().await?;
    let batch = job_batch(&task.config, &req.extensions)?;
    let cx = InputShareContext {
        task_id: &task.task_id,
        config: &task.config,
        role: Role::Helper,
        keys: &keys,
        now_secs: p.now_ms() / 1000,
        skew_secs: p.config().report_skew_secs,
        retention: task.retention(),
    };
    let inst = task.vdaf();
    let resp = crate::with_prio3!(&inst, |v| process_with(p, task, job, req, batch, &cx, v)
        .await)?;
    encoding
        .encode_resp(&resp)
        .map_err(|e| Abort::Internal(e.to_string()))
}

/// A report's result at the Helper: its output share and outbound message, or why not.
type Outcome<V> = Result<(<V as prio::vdaf::Vdaf>::OutputShare, Vec<u8>), ReportError>;

async fn process_with<P: Platform, V: DapVdaf>(
    p: &P,
    task: &AggregatorTask,
    job: AggregationJobId,
    req: &AggregationJobInitReq,
    batch: JobBatch,
    cx: &InputShareContext<'_>,
    vdaf: &V,
) -> Result<AggregationJobResp, Abort> {
    let ctx = vdaf::vdaf_context(&task.task_id);
    // 1. Decrypt, validate and verify every report (the CPU-heavy part), with the HPKE
    //    shared values computed in one batch by the platform.
    let dhs = shared_secrets(
        p,
        cx.keys,
        req.verify_inits
            .iter()
            .map(|vi| &vi.report_share.encrypted_input_share),
    )
    .await;
    let mut outcomes: Vec<Outcome<V>> = req
        .verify_inits
        .iter()
        .zip(&dhs)
        .map(|(vi, dh)| {
            let rs = &vi.report_share;
            let share = open_input_share(
                cx,
                &rs.metadata,
                &rs.public_share,
                &rs.encrypted_input_share,
                dh.as_ref(),
            )?;
            match vdaf::helper_init(
                vdaf,
                &task.vdaf_verify_key,
                &ctx,
                &rs.metadata.report_id,
                &rs.public_share,
                &share.payload,
                &vi.payload,
            )? {
                Transition::FinishedWithOutbound {
                    out_share,
                    outbound,
                } => Ok((out_share, outbound)),
                // Prio3 always finishes at the Helper's first step.
                _ => Err(ReportError::VdafVerifyError),
            }
        })
        .collect();

    // 2. Replay protection for the reports that verified, one request per shard.
    let shards = task.schedule.replay_shards;
    let mut by_shard: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, o) in outcomes.iter().enumerate() {
        if o.is_ok() {
            let id = req.verify_inits[i].report_share.metadata.report_id;
            by_shard.entry(shard_of(&id.0, shards)).or_default().push(i);
        }
    }
    let calls = by_shard.iter().map(|(shard, idxs)| {
        let ids = idxs
            .iter()
            .map(|i| {
                let m = &req.verify_inits[*i].report_share.metadata;
                (m.report_id, m.time)
            })
            .collect();
        p.replay(
            &task.task_id,
            *shard,
            ReplayReq::CheckAndInsert {
                job,
                ids,
                retention: task.retention(),
            },
        )
    });
    let answers = futures::future::join_all(calls).await;
    for ((_, idxs), answer) in by_shard.iter().zip(answers) {
        for (i, replayed) in idxs.iter().zip(answer?.replayed) {
            if replayed {
                outcomes[*i] = Err(ReportError::ReportReplayed);
            }
        }
    }

    // 3. Commit output shares per bucket, once per job.
    let mut groups: BTreeMap<buckets::BucketKey, Vec<usize>> = BTreeMap::new();
    for (i, o) in outcomes.iter().enumerate() {
        if o.is_ok() {
            let t = req.verify_inits[i].report_share.metadata.time.0;
            groups.entry(batch.bucket(t)).or_default().push(i);
        }
    }
    let mut deltas = Vec::with_capacity(groups.len());
    for (key, idxs) in &groups {
        let shares = idxs
            .iter()
            .filter_map(|i| outcomes[*i].as_ref().ok().map(|(o, _)| o.clone()));
        let agg = agg_share::aggregate(vdaf, shares).map_err(|e| Abort::Internal(e.to_string()))?;
        let reports: Vec<(ReportId, Time)> = idxs
            .iter()
            .map(|i| {
                let m = &req.verify_inits[*i].report_share.metadata;
                (m.report_id, m.time)
            })
            .collect();
        deltas.push(buckets::delta(
            *key,
            agg_share::encode::<V>(&agg).map_err(|e| Abort::Internal(e.to_string()))?,
            &reports,
        ));
    }
    if !deltas.is_empty() {
        let shard = shard_of(&job.0, task.schedule.bucket_shards);
        let refused = match p
            .buckets(
                &task.task_id,
                shard,
                BucketReq::Commit {
                    job,
                    vdaf: task.config.vdaf,
                    deltas,
                    now: p.now_ms() / 1000,
                    retention: task.retention(),
                },
            )
            .await?
        {
            BucketResp::Refused(r) => r,
            other => {
                return Err(Abort::Internal(format!(
                    "unexpected bucket answer {other:?}"
                )))
            }
        };
        for key in refused {
            for i in &groups[&key] {
                outcomes[*i] = Err(ReportError::BatchCollected);
            }
        }
    }

    // 4. Answer in request order.
    let verify_resps = req
        .verify_inits
        .iter()
        .zip(outcomes)
        .map(|(vi, o)| VerifyResp {
            report_id: vi.report_share.metadata.report_id,
            result: match o {
                Ok((_, outbound)) => VerifyRespResult::Continue(outbound),
                Err(e) => VerifyRespResult::Reject(e),
            },
        })
        .collect();
    Ok(AggregationJobResp { verify_resps })
}
