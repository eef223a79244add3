//! A task as the JavaScript package names its parameters, turned into the DAP-18
//! `TaskConfiguration` exactly as `edap task new` builds it (through the core's
//! [`TaskConfigSpec::to_config`]), so that the bytes every HPKE AAD binds are the ones the
//! aggregators hold.

use edap_core::api::provision::TaskConfigSpec;
use edap_core::messages::{from_base64url, TaskConfiguration, TaskId, VdafConfig};
use edap_core::task::{derive_task_id, validate_config, TaskLimits};
use prio::codec::{Decode, Encode};
use serde::Deserialize;

/// Why task parameters do not make a task.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The parameters are not the documented JSON shape (a missing or unknown field, a
    /// wrong type).
    #[error("task parameters: {0}")]
    Shape(String),
    /// The parameters have the right shape but do not make a valid task.
    #[error("task parameters: {0}")]
    Invalid(String),
    /// An encoded configuration or task ID that does not decode.
    #[error("{0}")]
    Encoding(String),
}

/// The VDAF and its parameters, named as in `edap task new --vdaf`.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum VdafParams {
    /// Prio3Count.
    Count,
    /// Prio3Sum.
    Sum {
        /// Largest summand.
        #[serde(rename = "maxMeasurement")]
        max_measurement: u64,
    },
    /// Prio3SumVec.
    Sumvec {
        /// Vector length.
        length: u32,
        /// Largest entry.
        #[serde(rename = "maxMeasurement")]
        max_measurement: u64,
        /// Proof chunk length; prio's optimum when absent.
        #[serde(rename = "chunkLength", default)]
        chunk_length: Option<u32>,
    },
    /// Prio3Histogram.
    Histogram {
        /// Number of buckets.
        length: u32,
        /// Proof chunk length; prio's optimum when absent.
        #[serde(rename = "chunkLength", default)]
        chunk_length: Option<u32>,
    },
    /// Prio3MultihotCountVec.
    Multihot {
        /// Vector length.
        length: u32,
        /// Largest number of entries set.
        #[serde(rename = "maxWeight")]
        max_weight: u64,
        /// Proof chunk length; prio's optimum when absent.
        #[serde(rename = "chunkLength", default)]
        chunk_length: Option<u32>,
    },
}

/// `new Task({...})`'s parameters (times in POSIX seconds).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskParams {
    /// The task ID (base64url); derived from the configuration (taskprov rule) when absent,
    /// as `edap task new` does.
    #[serde(default)]
    pub id: Option<String>,
    /// The Leader's DAP API base URL.
    pub leader: String,
    /// The Helper's DAP API base URL.
    pub helper: String,
    /// The VDAF.
    pub vdaf: VdafParams,
    /// Seconds per time unit.
    pub time_precision_seconds: u64,
    /// Smallest batch.
    pub min_batch_size: u64,
    /// `time_interval` or `leader_selected`.
    pub batch_mode: String,
    /// The task's `task_info` text.
    pub task_info: String,
    /// Reports before this time are refused.
    #[serde(default)]
    pub task_start: Option<u64>,
    /// Reports at or after this time are refused.
    #[serde(default)]
    pub task_end: Option<u64>,
}

/// A task: its ID and configuration, checked.
#[derive(Clone, Debug)]
pub struct Task {
    /// The task ID.
    pub id: TaskId,
    /// The configuration every participant binds into HPKE AAD.
    pub config: TaskConfiguration,
}

fn bits(max: u64) -> usize {
    (64 - max.leading_zeros()) as usize
}

/// The given chunk length, or prio's optimum for the measurement length (the rule of
/// `edap task new`).
fn chunk(given: Option<u32>, measurement_length: usize) -> Result<u32, TaskError> {
    match given {
        Some(0) => Err(TaskError::Invalid("chunkLength must be at least 1".into())),
        Some(c) => Ok(c),
        None => u32::try_from(prio::vdaf::prio3::optimal_chunk_length(
            measurement_length.max(1),
        ))
        .map_err(|_| TaskError::Invalid("the measurement is too long".into())),
    }
}

fn positive(v: u64, name: &str) -> Result<u64, TaskError> {
    if v == 0 {
        Err(TaskError::Invalid(format!("{name} must be at least 1")))
    } else {
        Ok(v)
    }
}

impl VdafParams {
    /// The core's VDAF configuration, with the defaults of `edap task new`.
    pub fn to_config(&self) -> Result<VdafConfig, TaskError> {
        let length = |l: u32| positive(u64::from(l), "vdaf.length").map(|_| l);
        Ok(match *self {
            VdafParams::Count => VdafConfig::Prio3Count,
            VdafParams::Sum { max_measurement } => VdafConfig::Prio3Sum {
                max_measurement: positive(max_measurement, "vdaf.maxMeasurement")?,
            },
            VdafParams::Sumvec {
                length: l,
                max_measurement,
                chunk_length,
            } => {
                let length = length(l)?;
                let max_measurement = positive(max_measurement, "vdaf.maxMeasurement")?;
                VdafConfig::Prio3SumVec {
                    length,
                    max_measurement,
                    chunk_length: chunk(
                        chunk_length,
                        (length as usize).saturating_mul(bits(max_measurement)),
                    )?,
                }
            }
            VdafParams::Histogram {
                length: l,
                chunk_length,
            } => {
                let length = length(l)?;
                VdafConfig::Prio3Histogram {
                    length,
                    chunk_length: chunk(chunk_length, length as usize)?,
                }
            }
            VdafParams::Multihot {
                length: l,
                max_weight,
                chunk_length,
            } => {
                let length = length(l)?;
                let max_weight = positive(max_weight, "vdaf.maxWeight")?;
                VdafConfig::Prio3MultihotCountVec {
                    length,
                    chunk_length: chunk(
                        chunk_length,
                        (length as usize).saturating_add(bits(max_weight)),
                    )?,
                    max_weight,
                }
            }
        })
    }
}

/// The checks `edap task new` makes locally: the core's sanity bounds, without the
/// `min_batch_size` floor and the https rule, which each deployment sets for itself.
fn local_limits() -> TaskLimits {
    TaskLimits {
        min_batch_size_floor: 1,
        allow_http_endpoints: true,
        ..TaskLimits::default()
    }
}

fn parse_id(id: &str) -> Result<TaskId, TaskError> {
    TaskId::from_base64url(id.trim()).ok_or_else(|| {
        TaskError::Encoding(format!(
            "the task ID {:?} is not 32 bytes of unpadded base64url",
            short(id)
        ))
    })
}

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}

impl Task {
    /// A task from `new Task({...})`'s parameters as JSON.
    pub fn from_params_json(json: &str) -> Result<Task, TaskError> {
        let p: TaskParams = serde_json::from_str(json).map_err(|e| {
            // The JSON is the package's own serialisation: its line and column mean nothing
            // to the caller.
            let m = e.to_string();
            TaskError::Shape(match m.rfind(" at line ") {
                Some(i) => m[..i].to_string(),
                None => m,
            })
        })?;
        Task::from_params(&p)
    }

    /// A task from its parameters.
    pub fn from_params(p: &TaskParams) -> Result<Task, TaskError> {
        if p.time_precision_seconds == 0 {
            return Err(TaskError::Invalid(
                "timePrecisionSeconds must be at least 1".into(),
            ));
        }
        let spec = TaskConfigSpec {
            task_info: p.task_info.clone(),
            leader_endpoint: p.leader.clone(),
            helper_endpoint: p.helper.clone(),
            time_precision: p.time_precision_seconds,
            min_batch_size: p.min_batch_size,
            batch_mode: match p.batch_mode.as_str() {
                "time_interval" | "leader_selected" => p.batch_mode.clone(),
                other => {
                    return Err(TaskError::Invalid(format!(
                        "batchMode must be \"time_interval\" or \"leader_selected\", not {:?}",
                        short(other)
                    )))
                }
            },
            vdaf: p.vdaf.to_config()?,
            task_start: p.task_start,
            task_end: p.task_end,
        };
        let config = spec
            .to_config()
            .map_err(|e| TaskError::Invalid(e.to_string()))?;
        Task::from_config(config, p.id.as_deref())
    }

    /// A task from the base64url `TaskConfiguration`, with its ID (derived when absent).
    pub fn from_encoded(config_b64: &str, id: Option<&str>) -> Result<Task, TaskError> {
        let bytes = from_base64url(config_b64.trim()).ok_or_else(|| {
            TaskError::Encoding("the task configuration is not unpadded base64url".into())
        })?;
        let config = TaskConfiguration::get_decoded(&bytes).map_err(|e| {
            TaskError::Encoding(format!(
                "the task configuration does not decode as a DAP-18 TaskConfiguration: {e}"
            ))
        })?;
        Task::from_config(config, id)
    }

    fn from_config(config: TaskConfiguration, id: Option<&str>) -> Result<Task, TaskError> {
        validate_config(&config, &local_limits()).map_err(|e| TaskError::Invalid(e.to_string()))?;
        let id = match id {
            Some(id) => parse_id(id)?,
            None => derive_task_id(&config).map_err(|e| TaskError::Invalid(e.to_string()))?,
        };
        Ok(Task { id, config })
    }

    /// The base64url DAP encoding of the configuration.
    pub fn encoded_config(&self) -> String {
        // Encoding a validated configuration cannot fail: every length fits its prefix.
        edap_core::messages::base64url(&self.config.get_encoded().unwrap_or_default())
    }

    /// The configuration as the JSON fields of `edap task show --json` (`TaskConfigSpec`).
    pub fn describe_json(&self) -> String {
        serde_json::to_string(&TaskConfigSpec::from_config(&self.config)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(vdaf: &str) -> String {
        format!(
            r#"{{"leader": "https://l.example/", "helper": "https://h.example/", "vdaf": {vdaf},
                "timePrecisionSeconds": 3600, "minBatchSize": 100, "batchMode": "time_interval",
                "taskInfo": "edap task"}}"#
        )
    }

    #[test]
    fn defaults_follow_task_new() {
        let t = Task::from_params_json(&params(r#"{"type": "histogram", "length": 10}"#)).unwrap();
        assert_eq!(
            t.config.vdaf,
            VdafConfig::Prio3Histogram {
                length: 10,
                chunk_length: prio::vdaf::prio3::optimal_chunk_length(10) as u32
            }
        );
        assert_eq!(t.id, derive_task_id(&t.config).unwrap());
        let again = Task::from_encoded(&t.encoded_config(), None).unwrap();
        assert_eq!(again.config, t.config);
        assert_eq!(again.id, t.id);
    }

    #[test]
    fn refuses_typos_and_bad_values() {
        let e = Task::from_params_json(&params(r#"{"type": "sum", "max": 3}"#)).unwrap_err();
        assert!(e.to_string().contains("max"), "{e}");
        let e =
            Task::from_params_json(&params(r#"{"type": "sum", "maxMeasurement": 0}"#)).unwrap_err();
        assert!(e.to_string().contains("maxMeasurement"), "{e}");
        let e = Task::from_params_json(
            &params(r#"{"type": "count"}"#).replace("time_interval", "daily"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("batchMode"), "{e}");
        assert!(Task::from_encoded("not base64!", None).is_err());
        let t = Task::from_params_json(&params(r#"{"type": "count"}"#)).unwrap();
        assert!(Task::from_encoded(&t.encoded_config(), Some("short")).is_err());
    }
}
