//! Helper aggregate shares: one instance per `AggregateShareReq` (its ID is a hash of the
//! request), storing the answer, so that a retried request changes nothing and gets the
//! same bytes.

use crate::error::{Abort, DapErrorType};
use crate::hpke::{self, HpkeInfo};
use crate::messages::{
    AggregateShare, AggregateShareAad, AggregateShareId, AggregateShareReq, BatchSelector, Query,
    Role, TaskId,
};
use crate::platform::Platform;
use crate::roles::leader::collect::{combine_buckets, mark_collected, validate_collection_req};
use crate::roles::{CollJobReq, CollJobResp};
use crate::store::buckets::BatchTarget;
use crate::store::{get, put, Kv};
use crate::task::AggregatorTask;
use crate::vdaf::agg_share;
use prio::codec::{Decode, Encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

// Storage schema (one instance per aggregate-share request):
//   "a" -> HelperShare: the request's hash and the stored answer (share or abort)

#[derive(Clone, Debug, Serialize, Deserialize)]
struct HelperShare {
    request_hash: [u8; 32],
    answer: Result<Vec<u8>, Abort>,
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

fn answer(id: [u8; 16], s: &HelperShare) -> Result<CollJobResp, Abort> {
    if s.deleted {
        return Ok(CollJobResp::Deleted);
    }
    match &s.answer {
        Ok(b) => Ok(CollJobResp::Job {
            id,
            result: Some(b.clone()),
        }),
        Err(a) => Err(a.clone()),
    }
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
            let result = compute(p, &task, id, &req, target).await;
            if let Err(Abort::Unavailable(_)) = &result {
                // Nothing final happened; let the Leader retry.
                return result.map(|_| CollJobResp::Deleted);
            }
            let s = HelperShare {
                request_hash: hash,
                answer: result,
                deleted: false,
            };
            put(kv, b"a", &s)?;
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

fn validate(task: &AggregatorTask, req: &AggregateShareReq) -> Result<BatchTarget, Abort> {
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
    mark_collected(p, task, id.0, target).await?;
    let total = combine_buckets(p, task, target, true).await?;
    if total.count != req.report_count || total.checksum != req.checksum {
        return Err(Abort::dap(
            DapErrorType::BatchMismatch,
            format!(
                "the Helper aggregated {} reports, the Leader {} (or the checksums differ)",
                total.count, req.report_count
            ),
        ));
    }
    let inst = task.vdaf();
    let share = total
        .total
        .agg_share
        .unwrap_or_else(|| agg_share::zero_dyn(&inst));
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
