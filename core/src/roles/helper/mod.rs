//! The Helper: answers aggregation jobs and aggregate-share requests.

mod agg_job;
mod agg_share;

pub use agg_job::{alarm as agg_job_alarm, handle as handle_agg_job, job_id_for};
pub use agg_share::{handle as handle_agg_share, share_id_for};

use crate::error::{Abort, DapErrorType};
use crate::messages::{
    BatchId, BatchMode, Extensions, TaskConfiguration, AGG_JOB_EXTENSION_LEADER_SELECTED_BATCH_ID,
};
use crate::store::buckets::BucketKey;

/// The batch a Helper commits a job's reports to: the report time's bucket, or the batch
/// named by the `leader_selected_batch_id` extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobBatch {
    /// time_interval: bucket by report time.
    ByTime,
    /// leader_selected: one batch for the whole job.
    Batch(BatchId),
}

impl JobBatch {
    /// The bucket of a report with time `t`.
    pub fn bucket(&self, t: u64) -> BucketKey {
        match self {
            JobBatch::ByTime => BucketKey::Time(t),
            JobBatch::Batch(b) => BucketKey::Batch(*b),
        }
    }
}

/// Checks aggregation-job extensions against the task's batch mode.
pub fn job_batch(config: &TaskConfiguration, ext: &Extensions) -> Result<JobBatch, Abort> {
    // DAP-18 "Helper Initialization": out-of-order job extensions are an invalid message.
    if !ext.is_strictly_ordered() {
        return Err(Abort::invalid_message(
            "aggregation job extensions must be in strictly increasing order of type",
        ));
    }
    let unsupported: Vec<u16> = ext
        .types()
        .filter(|t| {
            !(*t == AGG_JOB_EXTENSION_LEADER_SELECTED_BATCH_ID
                && config.batch_mode == BatchMode::LeaderSelected)
        })
        .collect();
    if !unsupported.is_empty() {
        return Err(Abort::Dap {
            kind: DapErrorType::UnsupportedExtension,
            detail: format!("unsupported aggregation job extensions {unsupported:?}"),
            task_id: None,
            unsupported_extensions: unsupported,
        });
    }
    match config.batch_mode {
        BatchMode::TimeInterval => Ok(JobBatch::ByTime),
        BatchMode::LeaderSelected => {
            let data = ext
                .get(AGG_JOB_EXTENSION_LEADER_SELECTED_BATCH_ID)
                .ok_or_else(|| {
                    Abort::invalid_message("leader_selected_batch_id extension is missing")
                })?;
            let id = BatchId::from_slice(data).ok_or_else(|| {
                Abort::invalid_message("leader_selected_batch_id is not a batch ID")
            })?;
            Ok(JobBatch::Batch(id))
        }
    }
}
