//! Job formation at the Leader: a report shard's alarm claims pending reports, assigns
//! leader-selected batches, and hands each claim to a new aggregation-job instance.

use crate::error::Abort;
use crate::messages::{BatchMode, TaskId};
use crate::platform::Platform;
use crate::roles::{backoff_ms, AggJobReq};
use crate::store::batch_index::{IndexReq, IndexResp};
use crate::store::report_shard::{self, ShardReq, ShardResp};
use crate::store::Kv;

/// Runs a report shard's alarm: forms due jobs and hands them off. Returns when to run
/// again (milliseconds), if reports remain pending or a hand-off must be retried.
pub async fn shard_alarm<P: Platform>(
    p: &P,
    kv: &mut impl Kv,
    task_id: &TaskId,
    shard: u32,
) -> Result<Option<u64>, Abort> {
    let Some(task) = p.task(task_id).await? else {
        return Ok(None);
    };
    let now_ms = p.now_ms();
    let plan = report_shard::handle(
        kv,
        ShardReq::Plan {
            now: now_ms / 1000,
            schedule: task.schedule.clone(),
            flush: false,
        },
    )?;
    let ShardResp::Claims { claims, alarm_at } = plan else {
        return Err(Abort::Internal("unexpected shard answer".into()));
    };
    let mut failed = false;
    for claim in claims {
        let parts = if task.config.batch_mode == BatchMode::LeaderSelected && claim.batch.is_none()
        {
            let assign = IndexReq::Assign {
                claim: claim.job,
                n: claim.reports.len() as u64,
                target: task.batch_size_target(),
                expires_at: task.retention().from_now(now_ms / 1000),
            };
            match p.batch_index(task_id, assign).await {
                Ok(IndexResp::Allocation(allocations)) => {
                    match report_shard::handle(
                        kv,
                        ShardReq::Split {
                            job: claim.job,
                            allocations,
                        },
                    )? {
                        ShardResp::Claims { claims, .. } => claims,
                        _ => return Err(Abort::Internal("unexpected shard answer".into())),
                    }
                }
                _ => {
                    failed = true;
                    continue;
                }
            }
        } else {
            vec![claim]
        };
        for part in parts {
            let job = part.job;
            let start = AggJobReq::LeaderStart {
                task_id: *task_id,
                report_shard: shard,
                claim: part,
            };
            match p.agg_job(task_id, &job, start).await {
                Ok(_) => {
                    report_shard::handle(kv, ShardReq::HandedOff { job })?;
                }
                Err(_) => failed = true,
            }
        }
    }
    let retry = failed.then(|| now_ms + backoff_ms(0));
    let planned = alarm_at.map(|s| s.saturating_mul(1000).max(now_ms));
    Ok(match (retry, planned) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}
