//! Driving a Leader collection job, one alarm at a time: wait until the batch is ready,
//! mark it, wait for jobs registered before the mark, ask the Helper for its share, seal
//! the Leader's. Any failure after the mark undoes it (and hands a leader-selected batch
//! back to the index), so that a refused collection loses no batch.

use super::{job_key, CollJob, Phase};
use crate::error::{Abort, DapErrorType};
use crate::hpke::{self, HpkeInfo};
use crate::lifecycle;
use crate::media::MediaType;
use crate::messages::{
    AggregateShare, AggregateShareAad, AggregateShareReq, BatchSelector, CollectionJobReq,
    CollectionJobResp, Interval, Query, Role,
};
use crate::observe::{self, Event, PeerResource};
use crate::platform::Platform;
use crate::roles::backoff_ms;
use crate::roles::leader::peer::{self, Creation, PeerAnswer};
use crate::store::batch_index::{IndexReq, IndexResp};
use crate::store::buckets::{BatchTarget, BucketTotal};
use crate::store::report_shard::{count, PeerFailure, ShardReq, ShardResp};
use crate::store::{get, put, Kv};
use crate::task::AggregatorTask;
use crate::vdaf::agg_share;
use prio::codec::{Decode, Encode};

use super::batch::{combine_buckets, mark_collected, unmark_collected};

/// A finished (or deleted) collection is kept for the task's report expiry age.
pub(super) fn keep_for<P: Platform>(
    p: &P,
    kv: &mut impl Kv,
    task: &AggregatorTask,
) -> Result<(), Abort> {
    let at = p
        .now_ms()
        .saturating_add(task.report_expiry_age.saturating_mul(1000));
    lifecycle::set_expiry(kv, at)?;
    Ok(())
}

/// Drives the current collection job one alarm further.
pub async fn alarm<P: Platform>(p: &P, kv: &mut impl Kv) -> Result<Option<u64>, Abort> {
    let Some(gen) = get::<u32>(kv, b"g")? else {
        return Ok(None);
    };
    let k = job_key(gen);
    let Some(mut job) = get::<CollJob>(kv, &k)? else {
        return Ok(None);
    };
    if matches!(job.phase, Phase::Ready(_) | Phase::Failed(_)) {
        return Ok(None);
    }
    let Some(task) = p.task(&job.task_id).await? else {
        // The task was deleted: the instance's alarm deletes everything.
        return Ok(None);
    };
    if job.deleted {
        // The Collector gave the job up: undo what it marked.
        release(p, &task, &job).await?;
        job.phase = Phase::Failed(Abort::NotFound("collection job was deleted".into()));
        put(kv, &k, &job)?;
        keep_for(p, kv, &task)?;
        return Ok(None);
    }
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
            if let Err(e) = release(p, &task, &job).await {
                // Keep the phase; undo the marks on the next alarm.
                put(kv, &k, &job)?;
                return Err(e);
            }
            p.log(&Event::CollectionFailed {
                task: observe::task(&task.task_id),
                job: observe::id16(&job.id.0),
                error: a.problem().type_,
            });
            let _ = p
                .report_shard(
                    &task.task_id,
                    0,
                    ShardReq::Count {
                        items: vec![count("collections_failed", 1)],
                    },
                )
                .await;
            job.phase = Phase::Failed(a);
            None
        }
    };
    put(kv, &k, &job)?;
    if matches!(job.phase, Phase::Ready(_) | Phase::Failed(_)) {
        keep_for(p, kv, &task)?;
    }
    Ok(next)
}

/// Undoes the job's marks (and returns a leader-selected batch to the index).
async fn release<P: Platform>(p: &P, task: &AggregatorTask, job: &CollJob) -> Result<(), Abort> {
    let target = match &job.phase {
        Phase::Marked(t) | Phase::Requesting { target: t, .. } => *t,
        _ => return Ok(()),
    };
    unmark_collected(p, task, job.id.0, target).await?;
    if let BatchTarget::Batch(_) = target {
        p.batch_index(
            &task.task_id,
            IndexReq::ReturnBatch {
                collection: job.id.0,
            },
        )
        .await?;
    }
    Ok(())
}

/// A job of the task was given up since the collection started: fail with its reason
/// instead of waiting for reports that will not come.
async fn failure_since<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    since_ms: u64,
) -> Result<Option<PeerFailure>, Abort> {
    let calls = (0..task.schedule.report_shards)
        .map(|s| p.report_shard(&task.task_id, s, ShardReq::LastFailure { since_ms }));
    for a in futures::future::join_all(calls).await {
        if let ShardResp::Failure(Some(f)) = a? {
            return Ok(Some(f));
        }
    }
    Ok(None)
}

fn peer_failed(f: PeerFailure) -> Abort {
    Abort::BadGateway(format!(
        "the collection cannot complete: an aggregation job was given up: {}",
        f.reason
    ))
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
                        if !interval_ready(p, task, i, job.created_ms).await? {
                            return Ok(poll);
                        }
                        BatchTarget::Interval(i)
                    }
                    Query::LeaderSelected => {
                        let next = IndexReq::NextBatch {
                            collection: job.id.0,
                            min_batch_size: task.config.min_batch_size,
                            expires_at: task.retention().from_now(p.now_ms() / 1000),
                        };
                        match p.batch_index(&task.task_id, next).await? {
                            IndexResp::Batch(Some(info)) => BatchTarget::Batch(info.id),
                            IndexResp::Batch(None) => {
                                if let Some(f) = failure_since(p, task, job.created_ms).await? {
                                    return Err(peer_failed(f));
                                }
                                return Ok(poll);
                            }
                            other => {
                                return Err(Abort::Internal(format!(
                                    "unexpected index answer {other:?}"
                                )))
                            }
                        }
                    }
                };
                if let Err(e) = mark_collected(p, task, job.id.0, target).await {
                    if let BatchTarget::Batch(_) = target {
                        let back = IndexReq::ReturnBatch {
                            collection: job.id.0,
                        };
                        p.batch_index(&task.task_id, back).await?;
                    }
                    return Err(e);
                }
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
                job.phase = Phase::Ready(seal_result(task, &req, &total, helper_share)?);
                return Ok(None);
            }
            Phase::Ready(_) | Phase::Failed(_) => return Ok(None),
        }
    }
}

/// The Collector's `CollectionJobResp`: the Leader's share sealed beside the Helper's.
fn seal_result(
    task: &AggregatorTask,
    req: &CollectionJobReq,
    total: &BucketTotal,
    helper_share: AggregateShare,
) -> Result<Vec<u8>, Abort> {
    let inst = task.vdaf();
    let leader_share = total
        .agg_share
        .clone()
        .unwrap_or_else(|| agg_share::zero_dyn(&inst));
    // Differential privacy: this aggregator's noise, once (the sealed result is stored).
    let leader_share = task
        .dp_strategy
        .noise(&inst, leader_share, total.count)
        .map_err(|e| Abort::Internal(e.to_string()))?;
    let aad = AggregateShareAad {
        task_id: &task.task_id,
        task_config: &task.config,
        collection_job_req: req,
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
    CollectionJobResp {
        report_count: total.count,
        interval: total.interval.unwrap_or(Interval::new(0, 0)),
        leader_encrypted_agg_share: leader_ct,
        helper_encrypted_agg_share: helper_share.encrypted_aggregate_share,
    }
    .get_encoded()
    .map_err(|e| Abort::Internal(e.to_string()))
}

/// Whether every report uploaded for `i` has been aggregated and the batch is big enough.
/// Fails when an aggregation job was given up since `since_ms` and the batch is short.
async fn interval_ready<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    i: Interval,
    since_ms: u64,
) -> Result<bool, Abort> {
    let calls = (0..task.schedule.report_shards).map(|s| {
        p.report_shard(
            &task.task_id,
            s,
            ShardReq::Outstanding {
                interval: i,
                since_ms,
            },
        )
    });
    let mut outstanding = false;
    let mut failure = None;
    for a in futures::future::join_all(calls).await {
        match a? {
            ShardResp::Outstanding {
                outstanding: o,
                failure: f,
            } => {
                outstanding |= o;
                failure = failure.or(f);
            }
            other => {
                return Err(Abort::Internal(format!(
                    "unexpected shard answer {other:?}"
                )))
            }
        }
    }
    let c = combine_buckets(p, task, BatchTarget::Interval(i), false).await?;
    let ready = !outstanding && c.inflight == 0 && c.count >= task.config.min_batch_size;
    if !ready {
        if let Some(f) = failure {
            return Err(peer_failed(f));
        }
    }
    Ok(ready)
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
    let creation = Creation {
        resource: PeerResource::AggregateShare,
        path: format!("/tasks/{}/aggregate_shares", task.task_id),
        id: job.id.0,
        media: MediaType::AggregateShareReq,
        body: [&body, &body],
        poll_query: None,
        counter_shard: 0,
    };
    let mut state = job.helper.clone();
    let answer = peer::exchange(p, task, &mut state, &creation).await;
    job.helper = state;
    match answer? {
        PeerAnswer::Ready(b) => match AggregateShare::get_decoded(&b) {
            Ok(s) => Ok(HelperShare::Ready(s)),
            Err(e) => {
                let detail = format!("undecodable AggregateShare from the Helper: {e}");
                job.helper.location = None;
                peer::failed(p, task, &creation, None, None, detail.clone(), true).await;
                Err(Abort::Unavailable(detail))
            }
        },
        PeerAnswer::Pending(at) => Ok(HelperShare::Pending(at)),
        PeerAnswer::Refused {
            problem, detail, ..
        } => {
            // Pass the Helper's DAP error on to the Collector.
            let kind = problem
                .as_ref()
                .and_then(|d| d.dap_type())
                .unwrap_or(DapErrorType::InvalidMessage);
            Err(Abort::dap(kind, detail))
        }
    }
}
