//! What both aggregators do with a batch when collecting it: validate the request, combine
//! its buckets over every shard, mark it collected and undo the mark.

use crate::error::{Abort, DapErrorType};
use crate::messages::{CollectionJobReq, Query};
use crate::platform::Platform;
use crate::store::buckets::{BatchTarget, BucketReq, BucketResp, BucketTotal};
use crate::store::xor_checksum;
use crate::task::AggregatorTask;

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
    if !req.extensions.is_strictly_ordered() {
        return Err(Abort::dap(
            DapErrorType::InvalidExtension,
            "collection job extensions must be in strictly increasing order of type",
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
            BucketResp::Status {
                inflight,
                count,
                checksum,
            } => {
                combined.inflight += inflight;
                combined.total.count += count;
                xor_checksum(&mut combined.total.checksum, &checksum);
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

/// Marks a batch collected by `by` in every shard; returns the jobs still in flight. If
/// another collection holds part of the batch, the marks made so far are undone and the
/// answer is `batchOverlap`.
pub async fn mark_collected<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    by: [u8; 16],
    target: BatchTarget,
) -> Result<u64, Abort> {
    let mut inflight = 0;
    let now = p.now_ms() / 1000;
    for s in 0..task.schedule.bucket_shards {
        let req = BucketReq::MarkCollected {
            by,
            target,
            now,
            retention: task.retention(),
        };
        match p.buckets(&task.task_id, s, req).await? {
            BucketResp::Marked { overlap: true, .. } => {
                unmark_collected(p, task, by, target).await?;
                return Err(Abort::dap(
                    DapErrorType::BatchOverlap,
                    "the batch overlaps a batch that was already collected",
                ));
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

/// Undoes `by`'s marks of a batch in every shard (a refused or failed collection must not
/// leave the batch uncollectable).
pub async fn unmark_collected<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    by: [u8; 16],
    target: BatchTarget,
) -> Result<(), Abort> {
    let calls = (0..task.schedule.bucket_shards)
        .map(|s| p.buckets(&task.task_id, s, BucketReq::Unmark { by, target }));
    for a in futures::future::join_all(calls).await {
        a?;
    }
    Ok(())
}
