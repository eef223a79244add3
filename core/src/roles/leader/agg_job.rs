//! Leader aggregation jobs: one instance per job, created from a claim of pending reports
//! and driven by the instance's alarm until its output shares are committed.
//!
//! Every step is persisted before the next one starts and every external call is
//! idempotent (bucket registration and commit are keyed by job ID, the Helper's job by the
//! request bytes), so a crash at any point resumes without losing or double-counting a
//! report. Verification is deterministic given the persisted preparation time, so the
//! Leader recomputes its states instead of storing them.

use super::peer::{self, Creation, PeerAnswer, PeerState};
use crate::error::Abort;
use crate::http::{Method, OutboundRequest};
use crate::lifecycle;
use crate::media::MediaType;
use crate::messages::{
    AggJobEncoding, AggregationJobId, AggregationJobInitReq, AggregationJobResp, BatchId,
    Extension, Extensions, Report, ReportError, ReportShare, Role, TaskId, VerifyInit,
    VerifyRespResult, AGG_JOB_EXTENSION_LEADER_SELECTED_BATCH_ID,
};
use crate::observe::{self, Event, PeerResource};
use crate::platform::Platform;
use crate::roles::helper::JobBatch;
use crate::roles::{
    backoff_ms, open_input_share, shared_secrets, AggJobReq, AggJobResp, InputShareContext,
};
use crate::store::batch_index::IndexReq;
use crate::store::buckets::{self, BucketKey, BucketReq, BucketResp};
use crate::store::report_shard::{count, JobClaim, PeerFailure, PendingReport, ShardReq};
use crate::store::{get, key, put, shard_of, Kv};
use crate::task::{AggregatorTask, PeerDialect};
use crate::vdaf::{self, agg_share, DapVdaf, Transition};
use prio::codec::Decode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

// Storage schema (one instance per Leader aggregation job):
//   "L"               -> LeaderJob (task, phase, where the job stands at the Helper, attempts)
//   "r" || idx u32 BE -> PendingReport: the job's reports, in job order (deleted once
//                        committed); the whole instance goes a retention period after Done

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Phase {
    /// Reports stored; nothing else done.
    New,
    /// Verified and registered with the bucket shard: these reports go to the Helper.
    Prepared {
        included: Vec<u32>,
        rejected: Vec<(u32, ReportError)>,
    },
    /// Output shares committed; bookkeeping remains.
    Committed {
        aggregated: u64,
        rejected: Vec<(ReportError, u64)>,
        helper_rejected: Vec<(ReportError, u64)>,
    },
    /// Finished.
    Done,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct LeaderJob {
    task_id: TaskId,
    job: AggregationJobId,
    report_shard: u32,
    batch: Option<BatchId>,
    n_reports: u32,
    phase: Phase,
    attempts: u32,
    prepared_at: Option<u64>,
    helper: PeerState,
    helper_requests: u32,
}

enum Step {
    Committed,
    WaitUntil(u64),
    Abandon(String),
}

/// Handles `LeaderStart`: stores the claim (once) and asks for the alarm to run now.
pub fn start(
    kv: &mut impl Kv,
    req: AggJobReq,
    now_ms: u64,
) -> Result<(AggJobResp, Option<u64>), Abort> {
    let AggJobReq::LeaderStart {
        task_id,
        report_shard,
        claim,
    } = req
    else {
        return Err(Abort::Internal(
            "Helper request sent to a Leader job".into(),
        ));
    };
    if get::<LeaderJob>(kv, b"L")?.is_some() {
        return Ok((AggJobResp::Started, None));
    }
    let JobClaim {
        job,
        batch,
        reports,
    } = claim;
    // One batched write for every report of the job.
    let rows = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Ok((
                key(&[b"r", &(i as u32).to_be_bytes()]),
                crate::store::to_bytes(r)?,
            ))
        })
        .collect::<Result<Vec<_>, crate::store::StoreError>>()?;
    kv.put_many(&rows)?;
    put(
        kv,
        b"L",
        &LeaderJob {
            task_id,
            job,
            report_shard,
            batch,
            n_reports: reports.len() as u32,
            phase: Phase::New,
            attempts: 0,
            prepared_at: None,
            helper: PeerState::default(),
            helper_requests: 0,
        },
    )?;
    Ok((AggJobResp::Started, Some(now_ms)))
}

/// Drives the job one alarm further. Returns when to run again (milliseconds), if ever.
pub async fn alarm<P: Platform>(p: &P, kv: &mut impl Kv) -> Result<Option<u64>, Abort> {
    let Some(mut job) = get::<LeaderJob>(kv, b"L")? else {
        return Ok(None);
    };
    let Some(task) = p.task(&job.task_id).await? else {
        // The task was deleted: the instance's alarm deletes everything.
        return Ok(None);
    };
    loop {
        match job.phase.clone() {
            Phase::Done => return Ok(None),
            Phase::Committed {
                aggregated,
                rejected,
                helper_rejected,
            } => {
                let result =
                    bookkeeping(p, &task, &job, aggregated, &rejected, &helper_rejected).await;
                if let Err(e) = result {
                    return retry(p, kv, &mut job, e);
                }
                return finish(p, kv, &mut job);
            }
            Phase::New | Phase::Prepared { .. } => {
                let inst = task.vdaf();
                let step = crate::with_prio3!(&inst, |v| drive(p, kv, &task, &mut job, v).await);
                match step {
                    Ok(Step::Committed) => {
                        job.attempts = 0;
                        put(kv, b"L", &job)?;
                    }
                    Ok(Step::WaitUntil(ms)) => {
                        put(kv, b"L", &job)?;
                        return Ok(Some(ms));
                    }
                    Ok(Step::Abandon(reason)) => {
                        if let Err(e) = abandon(p, &task, &job, &reason).await {
                            return retry(p, kv, &mut job, e);
                        }
                        return finish(p, kv, &mut job);
                    }
                    Err(e) => return retry(p, kv, &mut job, e),
                }
            }
        }
    }
}

/// Marks the job done, drops its reports and schedules the instance's deletion.
fn finish(p: &impl Platform, kv: &mut impl Kv, job: &mut LeaderJob) -> Result<Option<u64>, Abort> {
    kv.delete_range(b"r", b"s")?;
    job.phase = Phase::Done;
    put(kv, b"L", &*job)?;
    let at = p.now_ms() + p.config().leader_job_retention_secs.saturating_mul(1000);
    lifecycle::set_expiry(kv, at)?;
    Ok(Some(at))
}

fn retry(
    p: &impl Platform,
    kv: &mut impl Kv,
    job: &mut LeaderJob,
    e: Abort,
) -> Result<Option<u64>, Abort> {
    let _ = e;
    job.attempts += 1;
    put(kv, b"L", job)?;
    Ok(Some(p.now_ms() + backoff_ms(job.attempts - 1)))
}

fn load_reports(kv: &impl Kv, n: u32) -> Result<Vec<(PendingReport, Report)>, Abort> {
    let rows = kv.scan_prefix(b"r", n as usize)?;
    if rows.len() != n as usize {
        return Err(Abort::Internal("job reports missing".into()));
    }
    rows.into_iter()
        .map(|(_, v)| {
            let pr: PendingReport = crate::store::from_bytes(&v)?;
            let r = Report::get_decoded(&pr.report).map_err(|e| Abort::Internal(e.to_string()))?;
            Ok((pr, r))
        })
        .collect()
}

fn bucket_of(job: &LeaderJob, r: &Report) -> BucketKey {
    match job.batch {
        Some(b) => JobBatch::Batch(b).bucket(r.metadata.time.0),
        None => JobBatch::ByTime.bucket(r.metadata.time.0),
    }
}

async fn drive<P: Platform, V: DapVdaf>(
    p: &P,
    kv: &mut impl Kv,
    task: &AggregatorTask,
    job: &mut LeaderJob,
    vdaf: &V,
) -> Result<Step, Abort> {
    let reports = load_reports(kv, job.n_reports)?;
    let keys = p.hpke_keys().await?;
    let now_secs = *job.prepared_at.get_or_insert(p.now_ms() / 1000);
    let cx = InputShareContext {
        task_id: &task.task_id,
        config: &task.config,
        role: Role::Leader,
        keys: &keys,
        now_secs,
        skew_secs: p.config().report_skew_secs,
        retention: task.retention(),
    };
    let ctx = vdaf::vdaf_context(&task.task_id);
    let dhs = shared_secrets(
        p,
        &keys,
        reports.iter().map(|(_, r)| &r.leader_encrypted_input_share),
    )
    .await;
    let prepare = |i: usize| {
        let r = &reports[i].1;
        let share = open_input_share(
            &cx,
            &r.metadata,
            &r.public_share,
            &r.leader_encrypted_input_share,
            dhs[i].as_ref(),
        )?;
        vdaf::leader_init(
            vdaf,
            &task.vdaf_verify_key,
            &ctx,
            &r.metadata.report_id,
            &r.public_share,
            &share.payload,
        )
    };
    let bucket_shard = shard_of(&job.job.0, task.schedule.bucket_shards);

    // 1. Verify and register (or, after a restart, re-verify what was registered).
    let (included, mut rejected, mut states) = match &job.phase {
        Phase::Prepared { included, rejected } => {
            let mut states = Vec::with_capacity(included.len());
            for i in included {
                match prepare(*i as usize) {
                    Ok(s) => states.push(s),
                    // Keys or task changed under us; the request can no longer be rebuilt.
                    Err(e) => return Ok(Step::Abandon(format!("report no longer verifies: {e}"))),
                }
            }
            (included.clone(), rejected.clone(), states)
        }
        _ => {
            let mut included = Vec::new();
            let mut rejected = Vec::new();
            let mut states = Vec::new();
            for i in 0..reports.len() {
                match prepare(i) {
                    Ok(s) => {
                        included.push(i as u32);
                        states.push(s);
                    }
                    Err(e) => rejected.push((i as u32, e)),
                }
            }
            let mut wanted: Vec<BucketKey> = included
                .iter()
                .map(|i| bucket_of(job, &reports[*i as usize].1))
                .collect();
            wanted.sort();
            wanted.dedup();
            let refused = match p
                .buckets(
                    &task.task_id,
                    bucket_shard,
                    BucketReq::Register {
                        job: job.job,
                        buckets: wanted,
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
            if !refused.is_empty() {
                let mut keep_inc = Vec::new();
                let mut keep_states = Vec::new();
                for (i, s) in included.into_iter().zip(states) {
                    if refused.contains(&bucket_of(job, &reports[i as usize].1)) {
                        rejected.push((i, ReportError::BatchCollected));
                    } else {
                        keep_inc.push(i);
                        keep_states.push(s);
                    }
                }
                included = keep_inc;
                states = keep_states;
            }
            job.phase = Phase::Prepared {
                included: included.clone(),
                rejected: rejected.clone(),
            };
            put(kv, b"L", &*job)?;
            (included, rejected, states)
        }
    };

    // 2. The Helper's answer.
    let mut out_shares: Vec<(u32, V::OutputShare)> = Vec::new();
    let mut helper_rejected: Vec<(u32, ReportError)> = Vec::new();
    if !included.is_empty() {
        let extensions = match job.batch {
            Some(b) => Extensions::new(vec![Extension {
                extension_type: AGG_JOB_EXTENSION_LEADER_SELECTED_BATCH_ID,
                extension_data: b.0.to_vec(),
            }])
            .map_err(|e| Abort::Internal(e.to_string()))?,
            None => Extensions::empty(),
        };
        let verify_inits = included
            .iter()
            .zip(&states)
            .map(|(i, (_, outbound))| {
                let r = &reports[*i as usize].1;
                VerifyInit {
                    report_share: ReportShare {
                        metadata: r.metadata.clone(),
                        public_share: r.public_share.clone(),
                        encrypted_input_share: r.helper_encrypted_input_share.clone(),
                    },
                    payload: outbound.clone(),
                }
            })
            .collect();
        let init = AggregationJobInitReq {
            verification_key_id: 0,
            agg_param: Vec::new(),
            extensions,
            verify_inits,
        };
        let resp = match send(p, task, job, &init).await? {
            Sent::Ready(resp) => resp,
            Sent::Wait(ms) => return Ok(Step::WaitUntil(ms)),
            Sent::Refused(reason) => return Ok(Step::Abandon(reason)),
        };
        // From here the Helper has committed this job: an answer the Leader cannot use is
        // never a reason to give the job up (that would count its reports at the Helper
        // only). It asks again until the answer is usable.
        if resp.verify_resps.len() != included.len()
            || resp
                .verify_resps
                .iter()
                .zip(&init.verify_inits)
                .any(|(a, b)| a.report_id != b.report_share.metadata.report_id)
        {
            return Err(unusable(p, task, job, "the Helper answered for other reports").await);
        }
        let mut finished = Vec::with_capacity(included.len());
        for ((i, (state, _)), vr) in included.iter().zip(states.drain(..)).zip(resp.verify_resps) {
            match vr.result {
                VerifyRespResult::Continue(payload) => {
                    match vdaf::continued(vdaf, &ctx, true, state, &payload) {
                        Ok(Transition::Finished { out_share }) => finished.push((*i, out_share)),
                        Ok(_) => {
                            let why = "more verification rounds than Prio3 has";
                            return Err(unusable(p, task, job, why).await);
                        }
                        Err(e) => rejected.push((*i, e)),
                    }
                }
                VerifyRespResult::Reject(e) => helper_rejected.push((*i, e)),
                VerifyRespResult::Finish => {
                    let why = "the Helper finished a report the Leader had not";
                    return Err(unusable(p, task, job, why).await);
                }
            }
        }
        out_shares = finished;
    }

    // 3. Commit, per bucket, once.
    let mut groups: BTreeMap<BucketKey, Vec<(u32, V::OutputShare)>> = BTreeMap::new();
    for (i, o) in out_shares {
        groups
            .entry(bucket_of(job, &reports[i as usize].1))
            .or_default()
            .push((i, o));
    }
    let mut deltas = Vec::with_capacity(groups.len());
    for (k, members) in &groups {
        let agg = agg_share::aggregate(vdaf, members.iter().map(|(_, o)| o.clone()))
            .map_err(|e| Abort::Internal(e.to_string()))?;
        let ids: Vec<_> = members
            .iter()
            .map(|(i, _)| {
                let m = &reports[*i as usize].1.metadata;
                (m.report_id, m.time)
            })
            .collect();
        deltas.push(buckets::delta(
            *k,
            agg_share::encode::<V>(&agg).map_err(|e| Abort::Internal(e.to_string()))?,
            &ids,
        ));
    }
    let refused = match p
        .buckets(
            &task.task_id,
            bucket_shard,
            BucketReq::Commit {
                job: job.job,
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
    let mut aggregated = 0u64;
    for (k, members) in &groups {
        if refused.contains(k) {
            rejected.extend(
                members
                    .iter()
                    .map(|(i, _)| (*i, ReportError::BatchCollected)),
            );
        } else {
            aggregated += members.len() as u64;
        }
    }
    let tally = |list: &[(u32, ReportError)]| {
        let mut counts: BTreeMap<ReportError, u64> = BTreeMap::new();
        for (_, e) in list {
            *counts.entry(*e).or_default() += 1;
        }
        counts.into_iter().collect()
    };
    job.phase = Phase::Committed {
        aggregated,
        rejected: tally(&rejected),
        helper_rejected: tally(&helper_rejected),
    };
    Ok(Step::Committed)
}

/// The Helper's answer cannot be used: log it, forget where the job stands (the next
/// attempt repeats the same creation request, which a Helper answers with the same job)
/// and retry later (the returned abort is retryable).
async fn unusable<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    job: &mut LeaderJob,
    why: &str,
) -> Abort {
    job.helper.location = None;
    peer::failed(
        p,
        task,
        &creation(task, job, [&[], &[]]),
        None,
        None,
        why.to_string(),
        true,
    )
    .await;
    Abort::Unavailable(why.to_string())
}

fn creation<'a>(task: &AggregatorTask, job: &LeaderJob, body: [&'a [u8]; 2]) -> Creation<'a> {
    Creation {
        resource: PeerResource::AggregationJob,
        path: format!("/tasks/{}/aggregation_jobs", task.task_id),
        id: job.job.0,
        media: MediaType::AggregationJobInitReq,
        body,
        poll_query: Some("step=0"),
        counter_shard: job.report_shard,
    }
}

enum Sent {
    Ready(AggregationJobResp),
    Wait(u64),
    Refused(String),
}

/// Sends the init request (or polls the Helper's job) and interprets the answer.
async fn send<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    job: &mut LeaderJob,
    init: &AggregationJobInitReq,
) -> Result<Sent, Abort> {
    let encode = |e: AggJobEncoding| {
        e.encode_init(init)
            .map_err(|err| Abort::Internal(format!("cannot encode the job ({e:?}): {err}")))
    };
    let dap18 = encode(AggJobEncoding::Dap18)?;
    let deployed = encode(AggJobEncoding::PartialBatchSelector)?;
    job.helper_requests += 1;
    let mut state = job.helper.clone();
    let answer = peer::exchange(
        p,
        task,
        &mut state,
        &creation(task, job, [&dap18, &deployed]),
    )
    .await;
    job.helper = state;
    // The answer comes in the encoding of the form the Helper accepted.
    let encoding = match job.helper.dialect {
        Some(PeerDialect::Put) => AggJobEncoding::PartialBatchSelector,
        _ => AggJobEncoding::Dap18,
    };
    let decode = |b: &[u8]| {
        encoding
            .decode_resp(b)
            .or_else(|e| encoding.other().decode_resp(b).map_err(|_| e))
    };
    Ok(match answer? {
        PeerAnswer::Ready(b) => match decode(&b) {
            Ok(r) => Sent::Ready(r),
            Err(e) => {
                let why = format!("undecodable AggregationJobResp: {e}");
                return Err(unusable(p, task, job, &why).await);
            }
        },
        PeerAnswer::Pending(at) => Sent::Wait(at),
        PeerAnswer::Refused { detail, .. } => Sent::Refused(detail),
    })
}

async fn bookkeeping<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    job: &LeaderJob,
    aggregated: u64,
    rejected: &[(ReportError, u64)],
    helper_rejected: &[(ReportError, u64)],
) -> Result<(), Abort> {
    let now = p.now_ms() / 1000;
    if let Some(batch) = job.batch {
        p.batch_index(
            &task.task_id,
            IndexReq::JobDone {
                job: job.job,
                batch,
                committed: aggregated,
                rejected: rejected.iter().chain(helper_rejected).map(|(_, n)| n).sum(),
                expires_at: task.retention().from_now(now),
            },
        )
        .await?;
    }
    p.report_shard(
        &task.task_id,
        job.report_shard,
        ShardReq::Finish {
            now,
            job: job.job,
            aggregated,
            rejected: rejected.to_vec(),
            helper_rejected: helper_rejected.to_vec(),
            helper_requests: u64::from(job.helper_requests),
        },
    )
    .await?;
    Ok(())
}

/// Gives the job up when the Helper refused it (so it holds none of it) or its reports can
/// no longer be verified: its reports go back to pending or are dropped (see
/// `ShardReq::Release`), collections waiting for them are told why, and it is logged.
async fn abandon<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    job: &LeaderJob,
    reason: &str,
) -> Result<(), Abort> {
    let now = p.now_ms() / 1000;
    let shard = shard_of(&job.job.0, task.schedule.bucket_shards);
    p.buckets(&task.task_id, shard, BucketReq::Abandon { job: job.job })
        .await?;
    if let Some(loc) = &job.helper.location {
        // Best effort: let the Helper clean up a job it deferred.
        let _ = p
            .fetch(OutboundRequest {
                method: Method::Delete,
                url: loc.split('?').next().unwrap_or(loc).to_string(),
                headers: peer::auth_headers(task),
                body: Vec::new(),
            })
            .await;
    }
    if let Some(batch) = job.batch {
        p.batch_index(
            &task.task_id,
            IndexReq::JobDone {
                job: job.job,
                batch,
                committed: 0,
                rejected: u64::from(job.n_reports),
                expires_at: task.retention().from_now(now),
            },
        )
        .await?;
    }
    let shard = job.report_shard;
    p.report_shard(
        &task.task_id,
        shard,
        ShardReq::JobFailed {
            failure: PeerFailure {
                at_ms: p.now_ms(),
                reason: reason.to_string(),
            },
        },
    )
    .await?;
    p.report_shard(
        &task.task_id,
        shard,
        ShardReq::Count {
            items: vec![count("jobs_abandoned", 1)],
        },
    )
    .await?;
    p.report_shard(
        &task.task_id,
        shard,
        ShardReq::Release {
            job: job.job,
            now,
            retention: task.retention(),
        },
    )
    .await?;
    p.log(&Event::JobAbandoned {
        task: observe::task(&task.task_id),
        job: observe::id16(&job.job.0),
        reports: u64::from(job.n_reports),
        reason: reason.to_string(),
    });
    Ok(())
}
