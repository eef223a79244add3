//! The task wizard's input, in the subscriber's words, checked field by field and turned
//! into a DAP `TaskConfiguration` (through the core's `TaskConfigSpec::to_config`, so the
//! console, `edap task new` and the JS client build the same bytes).
//!
//! | field | meaning |
//! |---|---|
//! | `name` | what the task is called (also the start of its `task_info`) |
//! | `kind` | `count` (a yes/no question), `sum` (a number up to `max`), `histogram` (one choice among `labels`), `multihot` (up to `max_choices` of `labels`), `sumvec` (a number up to `max` per label) |
//! | `time_precision` | seconds per time window reports are grouped in |
//! | `min_batch_size` | fewest reports in any result: no result can describe fewer people |
//! | `batch_mode` | `time_interval` (results per time window) or `leader_selected` (the Leader forms batches) |
//! | `start`, `end` | optional POSIX seconds: reports outside are refused |
//! | `leader`, `helper`, `credential` | the aggregators and the collector credential, by ID |

use crate::error::FieldErrors;
use crate::validate;
use edap_core::api::provision::TaskConfigSpec;
use edap_core::messages::{BatchMode, TaskConfiguration, VdafConfig};
use edap_core::task::{validate_config, TaskLimits};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most labels of one task.
pub const MAX_LABELS: usize = 1000;
/// Most characters of one label.
pub const MAX_LABEL_CHARS: usize = 60;
/// Shortest time precision offered (seconds).
pub const MIN_TIME_PRECISION: u64 = 60;
/// Largest integer a JavaScript number holds exactly: the bound of `max`.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The wizard's JSON as sent; every field is optional here so that each missing or
/// mistyped one gets its own message.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct WizardRequest {
    /// Task name.
    #[serde(default)]
    pub name: Value,
    /// What is measured.
    #[serde(default)]
    pub kind: Value,
    /// Option or entry names.
    #[serde(default)]
    pub labels: Value,
    /// Largest value (sum, sumvec).
    #[serde(default)]
    pub max: Value,
    /// Most options chosen at once (multihot).
    #[serde(default)]
    pub max_choices: Value,
    /// Seconds per time window.
    #[serde(default)]
    pub time_precision: Value,
    /// Fewest reports per batch.
    #[serde(default)]
    pub min_batch_size: Value,
    /// `time_interval` or `leader_selected`.
    #[serde(default)]
    pub batch_mode: Value,
    /// Optional first second.
    #[serde(default)]
    pub start: Value,
    /// Optional end (exclusive).
    #[serde(default)]
    pub end: Value,
    /// Leader aggregator ID.
    #[serde(default)]
    pub leader: Value,
    /// Helper aggregator ID.
    #[serde(default)]
    pub helper: Value,
    /// Collector credential ID.
    #[serde(default)]
    pub credential: Value,
}

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A yes/no answer: Prio3Count.
    Count,
    /// A number in `[0, max]`: Prio3Sum.
    Sum,
    /// One of the labels: Prio3Histogram.
    Histogram,
    /// Up to `max_choices` of the labels: Prio3MultihotCountVec.
    Multihot,
    /// A number in `[0, max]` per label: Prio3SumVec.
    Sumvec,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }

    fn has_labels(self) -> bool {
        !matches!(self, Kind::Count | Kind::Sum)
    }
}

/// The measurement as the console remembers it (labels are not part of the DAP task).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasurementSpec {
    /// What is measured.
    pub kind: Kind,
    /// Option or entry names (empty for count and sum).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Largest value (sum, sumvec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// Most options chosen at once (multihot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_choices: Option<u64>,
}

/// A checked wizard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wizard {
    /// Task name.
    pub name: String,
    /// What is measured.
    pub measurement: MeasurementSpec,
    /// Seconds per time window.
    pub time_precision: u64,
    /// Fewest reports per batch.
    pub min_batch_size: u64,
    /// The batch mode.
    pub batch_mode: BatchMode,
    /// First second reports are accepted.
    pub start: Option<u64>,
    /// Reports from this second on are refused.
    pub end: Option<u64>,
    /// Leader aggregator ID.
    pub leader: String,
    /// Helper aggregator ID.
    pub helper: String,
    /// Collector credential ID.
    pub credential: String,
}

fn string(errors: &mut FieldErrors, field: &str, v: &Value, missing: &str) -> String {
    match v {
        Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
        Value::Null => {
            errors.add(field, missing);
            String::new()
        }
        Value::String(_) => {
            errors.add(field, missing);
            String::new()
        }
        _ => {
            errors.add(field, "must be text");
            String::new()
        }
    }
}

/// A whole number from a JSON number or a decimal string; `None` (with a message) else.
fn integer(errors: &mut FieldErrors, field: &str, v: &Value, min: u64, max: u64) -> Option<u64> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        Value::Null => {
            errors.add(field, "enter a number");
            return None;
        }
        _ => None,
    };
    match n {
        None => errors.add(field, "enter a whole number"),
        Some(n) if n < min => errors.add(field, format!("must be at least {min}")),
        Some(n) if n > max => errors.add(field, format!("must be at most {max}")),
        Some(n) => return Some(n),
    }
    None
}

fn optional_time(errors: &mut FieldErrors, field: &str, v: &Value) -> Option<u64> {
    match v {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        other => integer(errors, field, other, 0, 253_402_300_799),
    }
}

fn labels(errors: &mut FieldErrors, kind: Kind, v: &Value) -> Vec<String> {
    if !kind.has_labels() {
        return Vec::new();
    }
    let items: Vec<String> = match v {
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().unwrap_or("").trim().to_string())
            .collect(),
        Value::String(s) => s.lines().map(|l| l.trim().to_string()).collect(),
        _ => Vec::new(),
    };
    let items: Vec<String> = items.into_iter().filter(|l| !l.is_empty()).collect();
    let fewest = if kind == Kind::Sumvec { 1 } else { 2 };
    if items.len() < fewest {
        errors.add(
            "labels",
            if fewest == 1 {
                "name at least one entry (one per line)".to_string()
            } else {
                "name at least two options (one per line)".to_string()
            },
        );
    } else if items.len() > MAX_LABELS {
        errors.add("labels", format!("use at most {MAX_LABELS} labels"));
    } else if let Some(l) = items.iter().find(|l| l.chars().count() > MAX_LABEL_CHARS) {
        errors.add(
            "labels",
            format!(
                "\"{}…\" is longer than {MAX_LABEL_CHARS} characters",
                l.chars().take(20).collect::<String>()
            ),
        );
    } else if let Some(l) = items.iter().find(|l| l.chars().any(char::is_control)) {
        errors.add("labels", format!("\"{l}\" contains a control character"));
    } else {
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = items.iter().find(|l| !seen.insert(l.to_lowercase())) {
            errors.add("labels", format!("\"{dup}\" is listed twice"));
        }
    }
    items
}

/// Checks every field; `min_batch_floor` is the smallest batch this deployment allows and
/// `now` the current time (an end must lie ahead).
pub fn check(r: &WizardRequest, min_batch_floor: u64, now: u64) -> Result<Wizard, FieldErrors> {
    let mut e = FieldErrors::new();
    let name = match &r.name {
        Value::String(s) => validate::name(&mut e, "name", s),
        _ => validate::name(&mut e, "name", ""),
    };
    let kind_text = string(&mut e, "kind", &r.kind, "choose what to measure");
    let kind = Kind::parse(&kind_text);
    if kind.is_none() && !kind_text.is_empty() {
        e.add(
            "kind",
            "choose one of: count, sum, histogram, multihot, sumvec",
        );
    }
    let kind = kind.unwrap_or(Kind::Count);
    let labels = labels(&mut e, kind, &r.labels);
    let max = match kind {
        Kind::Sum | Kind::Sumvec => integer(&mut e, "max", &r.max, 1, MAX_SAFE_INTEGER),
        _ => None,
    };
    let max_choices = match kind {
        Kind::Multihot => integer(
            &mut e,
            "max_choices",
            &r.max_choices,
            1,
            labels.len().max(1) as u64,
        ),
        _ => None,
    };
    let time_precision = integer(
        &mut e,
        "time_precision",
        &r.time_precision,
        MIN_TIME_PRECISION,
        7 * 24 * 3600,
    )
    .unwrap_or(3600);
    let min_batch_size = integer(
        &mut e,
        "min_batch_size",
        &r.min_batch_size,
        min_batch_floor.max(1),
        1_000_000_000,
    )
    .unwrap_or(0);
    let batch_mode = match string(
        &mut e,
        "batch_mode",
        &r.batch_mode,
        "choose how batches are formed",
    )
    .as_str()
    {
        "time_interval" => BatchMode::TimeInterval,
        "leader_selected" => BatchMode::LeaderSelected,
        "" => BatchMode::TimeInterval,
        _ => {
            e.add("batch_mode", "choose time_interval or leader_selected");
            BatchMode::TimeInterval
        }
    };
    let start = optional_time(&mut e, "start", &r.start);
    let end = optional_time(&mut e, "end", &r.end);
    if let Some(end) = end {
        if start.is_some_and(|s| end <= s) {
            e.add("end", "the end must be after the start");
        } else if end <= now {
            e.add("end", "the end must be in the future");
        }
    }
    let leader = string(&mut e, "leader", &r.leader, "choose the Leader");
    let helper = string(&mut e, "helper", &r.helper, "choose the Helper");
    if !leader.is_empty() && leader == helper {
        e.add(
            "helper",
            "the Helper must be another aggregator than the Leader",
        );
    }
    let credential = string(
        &mut e,
        "credential",
        &r.credential,
        "choose a collector credential",
    );
    if !e.is_empty() {
        return Err(e);
    }
    Ok(Wizard {
        name,
        measurement: MeasurementSpec {
            kind,
            labels,
            max,
            max_choices,
        },
        time_precision,
        min_batch_size,
        batch_mode,
        start,
        end,
        leader,
        helper,
        credential,
    })
}

fn bits(max: u64) -> usize {
    (64 - max.leading_zeros()) as usize
}

fn chunk(measurement_length: usize) -> u32 {
    u32::try_from(prio::vdaf::prio3::optimal_chunk_length(
        measurement_length.max(1),
    ))
    .unwrap_or(u32::MAX)
}

impl MeasurementSpec {
    /// The VDAF, with prio's optimal chunk length (the default of `edap task new` and of
    /// the JS client).
    pub fn vdaf(&self) -> VdafConfig {
        let length = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
        match self.kind {
            Kind::Count => VdafConfig::Prio3Count,
            Kind::Sum => VdafConfig::Prio3Sum {
                max_measurement: self.max.unwrap_or(1),
            },
            Kind::Histogram => VdafConfig::Prio3Histogram {
                length,
                chunk_length: chunk(self.labels.len()),
            },
            Kind::Multihot => {
                let max_weight = self.max_choices.unwrap_or(1);
                VdafConfig::Prio3MultihotCountVec {
                    length,
                    chunk_length: chunk(self.labels.len().saturating_add(bits(max_weight))),
                    max_weight,
                }
            }
            Kind::Sumvec => {
                let max = self.max.unwrap_or(1);
                VdafConfig::Prio3SumVec {
                    length,
                    max_measurement: max,
                    chunk_length: chunk(self.labels.len().saturating_mul(bits(max))),
                }
            }
        }
    }
}

impl Wizard {
    /// The configuration's parts, with the aggregators' DAP URLs and the `task_info`.
    pub fn spec(
        &self,
        leader_dap_url: &str,
        helper_dap_url: &str,
        task_info: &str,
    ) -> TaskConfigSpec {
        TaskConfigSpec {
            task_info: task_info.to_string(),
            leader_endpoint: leader_dap_url.to_string(),
            helper_endpoint: helper_dap_url.to_string(),
            time_precision: self.time_precision,
            min_batch_size: self.min_batch_size,
            batch_mode: self.batch_mode.as_str().to_string(),
            vdaf: self.measurement.vdaf(),
            task_start: self.start,
            task_end: self.end,
        }
    }

    /// The DAP configuration, checked against `limits`; a failed check becomes a message
    /// on the field it concerns.
    pub fn to_config(
        &self,
        spec: &TaskConfigSpec,
        limits: &TaskLimits,
    ) -> Result<TaskConfiguration, FieldErrors> {
        let field_of = |msg: &str| -> &'static str {
            if msg.contains("min_batch_size") {
                "min_batch_size"
            } else if msg.contains("time_precision") {
                "time_precision"
            } else if msg.contains("task_end") || msg.contains("interval") {
                "end"
            } else if msg.contains("endpoint") {
                "leader"
            } else if msg.contains("task_info") {
                "name"
            } else if msg.contains("max_measurement") || msg.contains("cost") {
                "max"
            } else {
                "labels"
            }
        };
        let fail =
            |msg: String| FieldErrors(std::iter::once((field_of(&msg).to_string(), msg)).collect());
        let config = spec.to_config().map_err(|e| fail(e.to_string()))?;
        validate_config(&config, limits).map_err(|e| fail(e.to_string()))?;
        Ok(config)
    }
}

/// The task's `task_info`: its name and a short unique tag (two tasks of one name must not
/// share a configuration, and so a task ID), at most 255 bytes.
pub fn task_info(name: &str, tag: &str) -> String {
    let mut n = String::new();
    for c in name.chars() {
        if n.len() + c.len_utf8() > 200 {
            break;
        }
        n.push(c);
    }
    format!("{n} [{tag}]")
}

#[cfg(test)]
#[path = "wizard_tests.rs"]
mod tests;
