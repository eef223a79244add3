//! Leader aggregation jobs: one instance per job, created from a claim of pending reports
//! and driven by the instance's alarm until its output shares are committed.
//!
//! Every step is persisted before the next one starts and every external call is
//! idempotent (bucket registration and commit are keyed by job ID, the Helper's job by the
//! request bytes), so a crash at any point resumes without losing or double-counting a
//! report. Verification is deterministic given the persisted preparation time, so the
//! Leader recomputes its states instead of storing them.

use super::peer::{self, PeerAnswer};
use crate::error::Abort;
use crate::http::{Method, OutboundRequest};
use crate::media::MediaType;
use crate::messages::{
    AggregationJobId, AggregationJobInitReq, AggregationJobResp, BatchId, Extension, Extensions,
    Report, ReportError, ReportShare, Role, TaskId, VerifyInit, VerifyRespResult,
    AGG_JOB_EXTENSION_LEADER_SELECTED_BATCH_ID,
};
use crate::platform::Platform;
use crate::roles::helper::JobBatch;
use crate::roles::{
    backoff_ms, open_input_share, shared_secrets, AggJobReq, AggJobResp, InputShareContext,
};
use crate::store::batch_index::IndexReq;
use crate::store::buckets::{self, BucketKey, BucketReq, BucketResp};
use crate::store::report_shard::{JobClaim, PendingReport, ShardReq};
use crate::store::{get, key, put, shard_of, Kv};
use crate::task::AggregatorTask;
use crate::vdaf::{self, agg_share, DapVdaf, Transition};
use prio::codec::{Decode, Encode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

// Storage schema (one instance per Leader aggregation job):
//   "L"               -> LeaderJob (task, phase, Helper location, attempts)
//   "r" || idx u32 BE -> PendingReport: the job's reports, in job order

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
    helper_location: Option<String>,
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
    for (i, r) in reports.iter().enumerate() {
        put(kv, &key(&[b"r", &(i as u32).to_be_bytes()]), r)?;
    }
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
            helper_location: None,
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
        // The task was deleted: nothing left to do.
        job.phase = Phase::Done;
        put(kv, b"L", &job)?;
        return Ok(None);
    };
    loop {
        match job.phase.clone() {
            Phase::Done => return Ok(None),
            Phase::Committed {
                aggregated,
                rejected,
            } => {
                let result = bookkeeping(p, &task, &job, aggregated, &rejected).await;
                if let Err(e) = result {
                    return retry(p, kv, &mut job, e);
                }
                kv.delete_range(b"r", b"s")?;
                job.phase = Phase::Done;
                put(kv, b"L", &job)?;
                return Ok(None);
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
                    Ok(Step::Abandon(_reason)) => {
                        if let Err(e) = abandon(p, &task, &job).await {
                            return retry(p, kv, &mut job, e);
                        }
                        job.phase = Phase::Done;
                        put(kv, b"L", &job)?;
                        return Ok(None);
                    }
                    Err(e) => return retry(p, kv, &mut job, e),
                }
            }
        }
    }
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
        if resp.verify_resps.len() != included.len()
            || resp
                .verify_resps
                .iter()
                .zip(&init.verify_inits)
                .any(|(a, b)| a.report_id != b.report_share.metadata.report_id)
        {
            return Ok(Step::Abandon(
                "the Helper answered for other reports".into(),
            ));
        }
        for ((i, (state, _)), vr) in included.iter().zip(states.drain(..)).zip(resp.verify_resps) {
            match vr.result {
                VerifyRespResult::Continue(payload) => {
                    match vdaf::continued(vdaf, &ctx, true, state, &payload) {
                        Ok(Transition::Finished { out_share }) => out_shares.push((*i, out_share)),
                        Ok(_) => {
                            return Ok(Step::Abandon(
                                "more verification rounds than Prio3 has".into(),
                            ))
                        }
                        Err(e) => rejected.push((*i, e)),
                    }
                }
                VerifyRespResult::Reject(e) => rejected.push((*i, e)),
                VerifyRespResult::Finish => {
                    return Ok(Step::Abandon(
                        "the Helper finished a report the Leader had not".into(),
                    ))
                }
            }
        }
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
    let mut counts: BTreeMap<ReportError, u64> = BTreeMap::new();
    for (_, e) in &rejected {
        *counts.entry(*e).or_default() += 1;
    }
    job.phase = Phase::Committed {
        aggregated,
        rejected: counts.into_iter().collect(),
    };
    Ok(Step::Committed)
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
    let body = init
        .get_encoded()
        .map_err(|e| Abort::Internal(e.to_string()))?;
    job.helper_requests += 1;
    let answer = peer::exchange(
        p,
        task,
        &mut job.helper_location,
        &format!("/tasks/{}/aggregation_jobs", task.task_id),
        MediaType::AggregationJobInitReq,
        body,
        Some("step=0"),
    )
    .await?;
    Ok(match answer {
        PeerAnswer::Ready(b) => match AggregationJobResp::get_decoded(&b) {
            Ok(r) => Sent::Ready(r),
            Err(e) => Sent::Refused(format!("undecodable AggregationJobResp: {e}")),
        },
        PeerAnswer::Pending(at) => Sent::Wait(at),
        PeerAnswer::Refused { status, problem } => {
            Sent::Refused(PeerAnswer::refusal(status, &problem))
        }
    })
}

async fn bookkeeping<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    job: &LeaderJob,
    aggregated: u64,
    rejected: &[(ReportError, u64)],
) -> Result<(), Abort> {
    if let Some(batch) = job.batch {
        p.batch_index(
            &task.task_id,
            IndexReq::JobDone {
                job: job.job,
                batch,
                committed: aggregated,
                rejected: rejected.iter().map(|(_, n)| n).sum(),
            },
        )
        .await?;
    }
    p.report_shard(
        &task.task_id,
        job.report_shard,
        ShardReq::Finish {
            job: job.job,
            aggregated,
            rejected: rejected.to_vec(),
            helper_requests: u64::from(job.helper_requests),
        },
    )
    .await?;
    Ok(())
}

/// Gives the job up: its reports go back to pending (see `ShardReq::Release`).
async fn abandon<P: Platform>(p: &P, task: &AggregatorTask, job: &LeaderJob) -> Result<(), Abort> {
    let shard = shard_of(&job.job.0, task.schedule.bucket_shards);
    p.buckets(&task.task_id, shard, BucketReq::Abandon { job: job.job })
        .await?;
    if let Some(loc) = &job.helper_location {
        // Best effort: let the Helper clean up. Its replay records stay.
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
            },
        )
        .await?;
    }
    p.report_shard(
        &task.task_id,
        job.report_shard,
        ShardReq::Release {
            job: job.job,
            now: p.now_ms() / 1000,
        },
    )
    .await?;
    Ok(())
}
