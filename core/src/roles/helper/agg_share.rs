//! Helper aggregate shares: one instance per aggregate share, named by a hash of the
//! `AggregateShareReq` (DAP-18's POST) or by the ID the Leader chose (the PUT form of
//! deployed Leaders). The share is stored, so that a retried request changes nothing and
//! gets the same bytes. A refused request changes nothing at all: the count and checksum
//! are checked before the batch is marked collected, and a mark that a concurrent commit
//! made wrong is undone. A share is kept for the task's report expiry age, then deleted.

use crate::error::{Abort, DapErrorType};
use crate::hpke::{self, HpkeInfo};
use crate::lifecycle;
use crate::messages::{
    AggregateShare, AggregateShareAad, AggregateShareId, AggregateShareReq, BatchSelector, Query,
    Role, TaskId,
};
use crate::observe::{self, Event};
use crate::platform::Platform;
use crate::roles::leader::collect::{
    combine_buckets, mark_collected, unmark_collected, validate_collection_req,
};
use crate::roles::{CollJobReq, CollJobResp};
use crate::store::buckets::BatchTarget;
use crate::store::{get, put, Kv};
use crate::task::AggregatorTask;
use crate::vdaf::agg_share;
use prio::codec::{Decode, Encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

// Storage schema (one instance per aggregate share):
//   "a" -> HelperShare: the request's hash and the sealed share (only a share that was
//          computed is stored: a refusal leaves the instance as it was)

#[derive(Clone, Debug, Serialize, Deserialize)]
struct HelperShare {
    request_hash: [u8; 32],
    #[serde(with = "crate::store::bytes")]
    share: Vec<u8>,
    deleted: bool,
}

/// The aggregate share ID for a request: derived from the task and body.
pub fn share_id_for(task_id: &TaskId, body: &[u8]) -> AggregateShareId {
    let h = Sha256::new()
        .chain_update(b"edap aggregate share")
        .chain_update(task_id.0)
        .chain_update(body)
        .finalize();
    AggregateShareId(h[..16].try_into().expect("16 of 32 bytes"))
}

fn deleted() -> Abort {
    Abort::NotFound("the aggregate share was deleted".into())
}

fn answer(id: [u8; 16], s: &HelperShare) -> Result<CollJobResp, Abort> {
    if s.deleted {
        // Not "still pending" (an empty 200): the resource is gone (DAP-18 "Asynchronous
        // Request Handling").
        return Err(deleted());
    }
    Ok(CollJobResp::Job {
        id,
        result: Some(s.share.clone()),
    })
}

/// Handles a request to a Helper aggregate-share instance.
pub async fn handle<P: Platform>(
    p: &P,
    kv: &mut impl Kv,
    req: CollJobReq,
) -> Result<CollJobResp, Abort> {
    match req {
        CollJobReq::HelperCreate { task_id, id, body } => {
            let hash: [u8; 32] = Sha256::digest(&body).into();
            if let Some(s) = get::<HelperShare>(kv, b"a")? {
                if s.request_hash != hash {
                    return Err(Abort::invalid_message(
                        "aggregate share exists with a different request",
                    ));
                }
                return answer(id.0, &s);
            }
            let task = p
                .task(&task_id)
                .await?
                .ok_or_else(|| Abort::dap(DapErrorType::UnrecognizedTask, "unknown task"))?;
            let req = AggregateShareReq::get_decoded(&body).map_err(Abort::invalid_message)?;
            let target = validate(&task, &req)?;
            let share = match compute(p, &task, id, &req, target).await {
                Ok(share) => share,
                Err(a) => {
                    if !matches!(a, Abort::Unavailable(_)) {
                        p.log(&Event::CollectionFailed {
                            task: observe::task(&task.task_id),
                            job: observe::id16(&id.0),
                            error: a.problem().type_,
                        });
                    }
                    return Err(a);
                }
            };
            let s = HelperShare {
                request_hash: hash,
                share,
                deleted: false,
            };
            put(kv, b"a", &s)?;
            keep_for(p, kv, &task)?;
            answer(id.0, &s)
        }
        CollJobReq::HelperGet { .. } => {
            let s = get::<HelperShare>(kv, b"a")?
                .ok_or_else(|| Abort::NotFound("no such aggregate share".into()))?;
            // The ID is not known here; the router fills it in from the URL.
            answer([0; 16], &s)
        }
        CollJobReq::HelperDelete { .. } => {
            let mut s = get::<HelperShare>(kv, b"a")?
                .ok_or_else(|| Abort::NotFound("no such aggregate share".into()))?;
            s.deleted = true;
            put(kv, b"a", &s)?;
            Ok(CollJobResp::Deleted)
        }
        _ => Err(Abort::Internal(
            "Leader request sent to a Helper aggregate share".into(),
        )),
    }
}

/// A share answers retries for the task's report expiry age, then goes.
fn keep_for<P: Platform>(p: &P, kv: &mut impl Kv, task: &AggregatorTask) -> Result<(), Abort> {
    let at = p
        .now_ms()
        .saturating_add(task.report_expiry_age.saturating_mul(1000));
    lifecycle::set_expiry(kv, at)?;
    Ok(())
}

fn validate(task: &AggregatorTask, req: &AggregateShareReq) -> Result<BatchTarget, Abort> {
    // DAP-18 "Obtaining Aggregate Shares": an aggregation parameter that does not match
    // the batch's is an invalid message (the Leader's check answers
    // invalidAggregationParameter instead).
    if !req.collection_job_req.agg_param.is_empty() {
        return Err(Abort::invalid_message(
            "the aggregation parameter does not match the batch's (Prio3 takes none)",
        ));
    }
    validate_collection_req(task, &req.collection_job_req)?;
    if req.batch_selector.batch_mode() != task.config.batch_mode {
        return Err(Abort::invalid_message(
            "batch selector's batch mode does not match the task",
        ));
    }
    match (req.batch_selector, req.collection_job_req.query) {
        (BatchSelector::TimeInterval(sel), Query::TimeInterval(q)) => {
            if sel.duration.0 == 0 || sel.end().is_none() || !q.contains_interval(&sel) {
                return Err(Abort::dap(
                    DapErrorType::BatchInvalid,
                    "batch interval is empty or not inside the query",
                ));
            }
            Ok(BatchTarget::Interval(sel))
        }
        (BatchSelector::LeaderSelected(id), Query::LeaderSelected) => Ok(BatchTarget::Batch(id)),
        _ => Err(Abort::invalid_message(
            "batch selector does not match the query",
        )),
    }
}

async fn compute<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    id: AggregateShareId,
    req: &AggregateShareReq,
    target: BatchTarget,
) -> Result<Vec<u8>, Abort> {
    let mismatch = |count: u64| {
        Abort::dap(
            DapErrorType::BatchMismatch,
            format!(
                "the Helper aggregated {count} reports, the Leader {} (or the checksums differ)",
                req.report_count
            ),
        )
    };
    // Every check that can refuse the request comes before the batch is marked.
    let before = combine_buckets(p, task, target, false).await?;
    if before.count < task.config.min_batch_size {
        return Err(Abort::dap(
            DapErrorType::InvalidBatchSize,
            format!(
                "the batch holds {} reports, fewer than min_batch_size {}",
                before.count, task.config.min_batch_size
            ),
        ));
    }
    if before.count != req.report_count || before.checksum != req.checksum {
        return Err(mismatch(before.count));
    }
    mark_collected(p, task, id.0, target).await?;
    let total = match combine_buckets(p, task, target, true).await {
        Ok(t) => t,
        Err(a) => {
            unmark_collected(p, task, id.0, target).await?;
            return Err(a);
        }
    };
    if total.count != req.report_count || total.checksum != req.checksum {
        // A job committed between the check and the mark: undo the mark.
        unmark_collected(p, task, id.0, target).await?;
        return Err(mismatch(total.count));
    }
    let inst = task.vdaf();
    let share = total
        .total
        .agg_share
        .unwrap_or_else(|| agg_share::zero_dyn(&inst));
    // Differential privacy: this aggregator's noise, once (the sealed share is stored).
    let share = task
        .dp_strategy
        .noise(&inst, share, req.report_count)
        .map_err(|e| Abort::Internal(e.to_string()))?;
    let aad = AggregateShareAad {
        task_id: &task.task_id,
        task_config: &task.config,
        collection_job_req: &req.collection_job_req,
    }
    .get_encoded()
    .map_err(|e| Abort::Internal(e.to_string()))?;
    let ct = hpke::seal(
        &task.collector_hpke_config,
        HpkeInfo::AggregateShare(Role::Helper),
        &aad,
        &share,
    )
    .map_err(|e| Abort::Internal(e.to_string()))?;
    AggregateShare {
        encrypted_aggregate_share: ct,
    }
    .get_encoded()
    .map_err(|e| Abort::Internal(e.to_string()))
}
