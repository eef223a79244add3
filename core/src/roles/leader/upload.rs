//! Report upload at the Leader (DAP-18 section 4.5.2): per-report checks, then one batched
//! write per report shard, which also rejects replays.

use crate::error::Abort;
use crate::messages::{
    BatchMode, Report, ReportError, ReportUploadStatus, UploadErrors, UploadRequest,
};
use crate::platform::Platform;
use crate::store::buckets::{BucketKey, BucketReq, BucketResp};
use crate::store::report_shard::{PendingReport, ShardReq, ShardResp};
use crate::store::shard_of;
use crate::task::{check_report_time, AggregatorTask};
use prio::codec::{Decode, Encode};
use std::collections::BTreeMap;

/// Why the Leader refused a report at upload, in more detail than the report error the
/// Client sees (`task_not_started`, `task_expired` and an expired report all travel as
/// `report_dropped`): the counter names of `upload_rejected:*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Refusal {
    /// Sent to the Client as this error.
    Error(ReportError),
    /// Before the task's interval (`report_dropped`).
    TaskNotStarted,
    /// After the task's interval (`report_dropped`).
    TaskExpired,
}

impl Refusal {
    fn error(self) -> ReportError {
        match self {
            Refusal::Error(e) => e,
            Refusal::TaskNotStarted | Refusal::TaskExpired => ReportError::ReportDropped,
        }
    }

    fn name(self) -> String {
        match self {
            Refusal::Error(e) => e.to_string(),
            Refusal::TaskNotStarted => "task_not_started".into(),
            Refusal::TaskExpired => "task_expired".into(),
        }
    }
}

/// Handles an upload request body; returns the reports it refused, in request order.
pub async fn upload<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    body: &[u8],
) -> Result<UploadErrors, Abort> {
    let req = UploadRequest::get_decoded(body).map_err(Abort::invalid_message)?;
    if req.reports.len() > p.config().max_reports_per_upload {
        return Err(Abort::PayloadTooLarge(format!(
            "at most {} reports per request",
            p.config().max_reports_per_upload
        )));
    }
    let keys = p.hpke_keys().await?;
    let now = p.now_ms() / 1000;
    let mut errors: Vec<Option<Refusal>> = vec![None; req.reports.len()];
    let mut seen = std::collections::HashSet::new();
    for (i, r) in req.reports.iter().enumerate() {
        errors[i] = check(task, &keys, r, now, p.config().report_skew_secs).err();
        if errors[i].is_none() && !seen.insert(r.metadata.report_id) {
            errors[i] = Some(Refusal::Error(ReportError::ReportReplayed));
        }
    }

    // Reports for time buckets that were already collected are discarded here, so the
    // client learns it; aggregation would refuse them anyway.
    if task.config.batch_mode == BatchMode::TimeInterval {
        // Buckets this isolate just saw open are not asked about again.
        let idx: Vec<usize> = (0..req.reports.len())
            .filter(|i| errors[*i].is_none())
            .filter(|i| !p.bucket_recently_open(&task.task_id, req.reports[*i].metadata.time.0))
            .collect();
        if !idx.is_empty() {
            let keys = idx
                .iter()
                .map(|i| BucketKey::Time(req.reports[*i].metadata.time.0))
                .collect();
            match p
                .buckets(&task.task_id, 0, BucketReq::Collected { keys })
                .await?
            {
                BucketResp::Flags(flags) => {
                    let mut open = Vec::new();
                    for (i, collected) in idx.iter().zip(flags) {
                        if collected {
                            errors[*i] = Some(Refusal::Error(ReportError::BatchCollected));
                        } else {
                            open.push(req.reports[*i].metadata.time.0);
                        }
                    }
                    open.dedup();
                    p.remember_open_buckets(&task.task_id, &open);
                }
                other => {
                    return Err(Abort::Internal(format!(
                        "unexpected bucket answer {other:?}"
                    )))
                }
            }
        }
    }

    let mut by_shard: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, r) in req.reports.iter().enumerate() {
        if errors[i].is_none() {
            by_shard
                .entry(shard_of(
                    &r.metadata.report_id.0,
                    task.schedule.report_shards,
                ))
                .or_default()
                .push(i);
        }
    }
    // What was refused so far is counted by the first shard's request (or on its own).
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    for e in errors.iter().flatten() {
        *refused
            .entry(format!("upload_rejected:{}", e.name()))
            .or_default() += 1;
    }
    let mut counts: Vec<(String, u64)> = refused.into_iter().collect();
    if by_shard.is_empty() && !counts.is_empty() {
        p.report_shard(&task.task_id, 0, ShardReq::Count { items: counts })
            .await?;
        counts = Vec::new();
    }
    let mut calls = Vec::with_capacity(by_shard.len());
    for (shard, idxs) in &by_shard {
        let mut reports = Vec::with_capacity(idxs.len());
        for i in idxs {
            let r = &req.reports[*i];
            reports.push(PendingReport {
                report_id: r.metadata.report_id,
                time: r.metadata.time,
                report: r
                    .get_encoded()
                    .map_err(|e| Abort::Internal(e.to_string()))?,
            });
        }
        calls.push(p.report_shard(
            &task.task_id,
            *shard,
            ShardReq::Put {
                reports,
                now,
                schedule: task.schedule.clone(),
                retention: task.retention(),
                refused: std::mem::take(&mut counts),
            },
        ));
    }
    let answers = futures::future::join_all(calls).await;
    for ((_, idxs), answer) in by_shard.iter().zip(answers) {
        match answer? {
            ShardResp::Put { replayed, .. } => {
                for (i, r) in idxs.iter().zip(replayed) {
                    if r {
                        errors[*i] = Some(Refusal::Error(ReportError::ReportReplayed));
                    }
                }
            }
            other => {
                return Err(Abort::Internal(format!(
                    "unexpected shard answer {other:?}"
                )))
            }
        }
    }
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for e in errors.iter().flatten() {
        *by_reason.entry(e.name()).or_default() += 1;
    }
    if !by_reason.is_empty() {
        p.log(&crate::observe::Event::UploadRefused {
            task: crate::observe::task(&task.task_id),
            reports: req.reports.len() as u64,
            refused: by_reason,
        });
    }
    Ok(UploadErrors {
        status: req
            .reports
            .iter()
            .zip(errors)
            .filter_map(|(r, e)| {
                e.map(|e| ReportUploadStatus {
                    id: r.metadata.report_id,
                    error: e.error(),
                })
            })
            .collect(),
    })
}

fn check(
    task: &AggregatorTask,
    keys: &crate::hpke::HpkeReceiverSet,
    r: &Report,
    now: u64,
    skew: u64,
) -> Result<(), Refusal> {
    if keys.get(r.leader_encrypted_input_share.config_id).is_none() {
        return Err(Refusal::Error(ReportError::OutdatedConfig));
    }
    // Deactivated through the aggregator API (PATCH deactivate_at).
    if task.deactivate_at.is_some_and(|at| now >= at) {
        return Err(Refusal::Error(ReportError::TaskExpired));
    }
    match check_report_time(&task.config, r.metadata.time, now, skew) {
        // At upload the spec asks for report_dropped outside the task interval.
        Err(ReportError::TaskNotStarted) => return Err(Refusal::TaskNotStarted),
        Err(ReportError::TaskExpired) => return Err(Refusal::TaskExpired),
        other => other.map_err(Refusal::Error)?,
    }
    // Older than the expiry age: its replay record may already be gone (DAP-18 section
    // "Input Share Validation": report_dropped).
    if task.retention().expired(r.metadata.time.0, now) {
        return Err(Refusal::Error(ReportError::ReportDropped));
    }
    // No report extension is defined: any public extension is unrecognized.
    if !r.metadata.public_extensions.is_empty() {
        return Err(Refusal::Error(ReportError::InvalidMessage));
    }
    Ok(())
}
