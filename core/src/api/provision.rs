//! Provisioning shared by the aggregator API and the interop test API: storing a validated
//! task, deleting one, reading a task's counters, and the JSON form of a
//! `TaskConfiguration`'s parts that the CLI's task files and the tests use.

use crate::messages::{
    BatchMode, Extensions, Interval, Role, TaskConfiguration, TaskId, VdafConfig,
};
use crate::platform::Platform;
use crate::store::report_shard::{ShardReq, ShardResp};
use crate::store::tasks::{TaskReq, TaskResp};
use crate::store::StoreError;
use crate::task::{AggregatorTask, TaskError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The parts of a `TaskConfiguration`, as JSON. Times are POSIX seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskConfigSpec {
    /// `task_info` as UTF-8 text.
    pub task_info: String,
    /// Leader API base URL.
    pub leader_endpoint: String,
    /// Helper API base URL.
    pub helper_endpoint: String,
    /// Seconds per time unit.
    pub time_precision: u64,
    /// Smallest batch.
    pub min_batch_size: u64,
    /// `time_interval` or `leader_selected`.
    pub batch_mode: String,
    /// The VDAF, e.g. `{"type": "prio3_histogram", "length": 4, "chunk_length": 2}`.
    pub vdaf: VdafConfig,
    /// Reports before this time (POSIX seconds) are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_start: Option<u64>,
    /// Reports at or after this time (POSIX seconds) are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_end: Option<u64>,
}

/// Parses a batch mode name.
pub fn parse_batch_mode(s: &str) -> Option<BatchMode> {
    match s {
        "time_interval" | "1" => Some(BatchMode::TimeInterval),
        "leader_selected" | "2" => Some(BatchMode::LeaderSelected),
        _ => None,
    }
}

impl TaskConfigSpec {
    /// Builds the encoded-form configuration.
    pub fn to_config(&self) -> Result<TaskConfiguration, TaskError> {
        let batch_mode = parse_batch_mode(&self.batch_mode).ok_or_else(|| {
            TaskError::Invalid(format!("unknown batch mode {:?}", self.batch_mode))
        })?;
        let mut config = TaskConfiguration {
            task_info: self.task_info.as_bytes().to_vec(),
            leader_endpoint: self.leader_endpoint.clone(),
            helper_endpoint: self.helper_endpoint.clone(),
            time_precision: self.time_precision,
            min_batch_size: self.min_batch_size,
            batch_mode,
            vdaf: self.vdaf,
            extensions: Extensions::empty(),
        };
        if self.task_start.is_some() || self.task_end.is_some() {
            let p = self.time_precision.max(1);
            let start = self.task_start.unwrap_or(0) / p;
            let end = match self.task_end {
                Some(e) => e.div_ceil(p),
                None => u64::MAX,
            };
            if end <= start {
                return Err(TaskError::Invalid(
                    "task_end must be after task_start".into(),
                ));
            }
            config.set_task_interval(Some(Interval::new(start, end - start)));
        }
        Ok(config)
    }

    /// The inverse of [`Self::to_config`] (for display).
    pub fn from_config(c: &TaskConfiguration) -> TaskConfigSpec {
        let interval = c.task_interval();
        TaskConfigSpec {
            task_info: String::from_utf8_lossy(&c.task_info).into_owned(),
            leader_endpoint: c.leader_endpoint.clone(),
            helper_endpoint: c.helper_endpoint.clone(),
            time_precision: c.time_precision,
            min_batch_size: c.min_batch_size,
            batch_mode: c.batch_mode.as_str().to_string(),
            vdaf: c.vdaf,
            task_start: interval.map(|i| i.start.to_seconds(c.time_precision)),
            task_end: interval
                .and_then(|i| i.end())
                .map(|e| e.to_seconds(c.time_precision)),
        }
    }
}

/// Why a task was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The task breaks a rule or a limit of this deployment.
    #[error(transparent)]
    Invalid(#[from] TaskError),
    /// A different task is stored under the same ID (the stored one, when it could be read).
    #[error("a different task with ID {task_id} exists")]
    Conflict {
        /// The ID.
        task_id: TaskId,
        /// The stored task.
        existing: Option<Box<AggregatorTask>>,
    },
    /// The task store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates a task against this deployment's limits and stores it. Returns whether it was
/// newly created (`false`: the identical task was already stored).
pub async fn provision<P: Platform>(p: &P, task: &AggregatorTask) -> Result<bool, ProvisionError> {
    task.validate(&p.config().limits)?;
    match p.tasks(TaskReq::Put(Box::new(task.clone()))).await? {
        TaskResp::Stored(created) => Ok(created),
        TaskResp::Conflict => {
            let existing = match p.tasks(TaskReq::Get(task.task_id)).await? {
                TaskResp::Task(t) => t,
                _ => None,
            };
            Err(ProvisionError::Conflict {
                task_id: task.task_id,
                existing,
            })
        }
        _ => Err(StoreError::Invariant("unexpected task store answer".into()).into()),
    }
}

/// Deletes a task from the task store. Returns whether it existed.
pub async fn delete_task<P: Platform>(p: &P, task_id: &TaskId) -> Result<bool, StoreError> {
    let task = p.task(task_id).await?;
    match p.tasks(TaskReq::Delete(*task_id)).await? {
        TaskResp::Deleted(existed) => {
            // Every shard of the task deletes its state now; jobs and collections at
            // their next alarm (see crate::lifecycle).
            if let Some(t) = task {
                crate::lifecycle::purge_task(p, &t).await?;
            }
            Ok(existed)
        }
        _ => Err(StoreError::Invariant("unexpected task store answer".into())),
    }
}

/// Sums the Leader's report-shard counters for a task (empty for a Helper task).
pub async fn task_stats<P: Platform>(
    p: &P,
    task: &AggregatorTask,
) -> Result<BTreeMap<String, u64>, StoreError> {
    let mut totals = BTreeMap::new();
    if task.role != Role::Leader {
        return Ok(totals);
    }
    let calls =
        (0..task.schedule.report_shards).map(|s| p.report_shard(&task.task_id, s, ShardReq::Stats));
    for a in futures::future::join_all(calls).await {
        if let ShardResp::Stats(items) = a? {
            for (k, v) in items {
                *totals.entry(k).or_insert(0) += v;
            }
        }
    }
    Ok(totals)
}
