//! Task files: `{"task_id", "task_config", "config"}`. The base64url `task_config` (the
//! DAP encoding of the `TaskConfiguration`) is authoritative: it is what every participant
//! binds into HPKE AAD and what the task ID is derived from (the taskprov rule).

use crate::error::{Error, Result};
use crate::files;
use crate::timefmt;
use clap::{Args, Subcommand, ValueEnum};
use edap_core::api::provision::TaskConfigSpec;
use edap_core::messages::{base64url, from_base64url, TaskConfiguration, TaskId, VdafConfig};
use edap_core::task::{derive_task_id, validate_config, TaskLimits};
use prio::codec::{Decode, Encode};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The JSON form of a task file.
#[derive(Serialize, Deserialize)]
pub struct TaskFileJson {
    /// base64url task ID.
    pub task_id: String,
    /// base64url of the encoded `TaskConfiguration`.
    pub task_config: String,
    /// The same configuration as JSON fields (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<TaskConfigSpec>,
}

/// A loaded and checked task.
#[derive(Clone, Debug)]
pub struct Task {
    /// The task ID, derived from `config`.
    pub id: TaskId,
    /// The configuration.
    pub config: TaskConfiguration,
}

/// Limits for checking a configuration locally: the deployment-independent sanity bounds of
/// the core, except the `min_batch_size` floor and the https rule, which each deployment
/// sets for itself.
fn local_limits() -> TaskLimits {
    TaskLimits {
        min_batch_size_floor: 1,
        allow_http_endpoints: true,
        ..TaskLimits::default()
    }
}

impl Task {
    /// Builds a task from a configuration, checking it.
    pub fn from_config(config: TaskConfiguration) -> Result<Task> {
        validate_config(&config, &local_limits()).map_err(|e| Error::Input(e.to_string()))?;
        let id = derive_task_id(&config).map_err(|e| Error::Input(e.to_string()))?;
        Ok(Task { id, config })
    }

    /// Decodes a base64url `task_config`.
    pub fn decode_config(b64: &str) -> Result<TaskConfiguration> {
        let bytes = from_base64url(b64.trim())
            .ok_or_else(|| Error::Input("the task configuration is not base64url".into()))?;
        TaskConfiguration::get_decoded(&bytes).map_err(|e| {
            Error::Input(format!(
                "the task configuration does not decode as a DAP-18 TaskConfiguration: {e}"
            ))
        })
    }

    /// Loads a task file, checking that its ID and JSON fields match the encoded form.
    pub fn load(path: &Path) -> Result<Task> {
        let text = files::read_text(path)?;
        let f: TaskFileJson = serde_json::from_str(&text).map_err(|e| {
            Error::file(
                path,
                format!("not a task file (expected JSON with task_id and task_config, as written by `edap task new`): {e}"),
            )
        })?;
        let config = Task::decode_config(&f.task_config).map_err(|e| Error::file(path, e))?;
        let derived = derive_task_id(&config).map_err(|e| Error::file(path, e))?;
        if TaskId::from_base64url(f.task_id.trim()) != Some(derived) {
            return Err(Error::file(
                path,
                format!(
                    "task_id {} does not match its task_config (which derives {derived})",
                    crate::error::one_line(&f.task_id, 60)
                ),
            ));
        }
        if let Some(spec) = &f.config {
            match spec.to_config() {
                Ok(c) if c == config => {}
                _ => {
                    return Err(Error::file(
                        path,
                        "its \"config\" fields disagree with its task_config; regenerate the file with `edap task new`",
                    ))
                }
            }
        }
        Task::from_config(config).map_err(|e| Error::file(path, e))
    }

    /// The task file JSON.
    pub fn to_json(&self) -> Result<String> {
        let encoded = self
            .config
            .get_encoded()
            .map_err(|e| Error::Input(format!("the configuration does not encode: {e}")))?;
        let f = TaskFileJson {
            task_id: self.id.to_base64url(),
            task_config: base64url(&encoded),
            config: Some(TaskConfigSpec::from_config(&self.config)),
        };
        let mut s = serde_json::to_string_pretty(&f)
            .map_err(|e| Error::Input(format!("cannot serialize the task: {e}")))?;
        s.push('\n');
        Ok(s)
    }
}

/// `edap task ...`
#[derive(Subcommand)]
pub enum TaskCmd {
    /// Create a task file from flags or from a TaskConfigSpec JSON file.
    ///
    /// The task ID is derived from the encoded configuration (SHA-256 as in taskprov), so
    /// everyone who uses the same file (Client, Collector, both aggregators) agrees on the
    /// same bytes and the same ID.
    New(NewArgs),
    /// Decode a task file (or a base64url task configuration) and print every field and
    /// the derived task ID.
    Show(ShowArgs),
    /// Provision a task on one aggregator through its aggregator API (POST
    /// {api-url}/tasks) and print the task as the aggregator answers it. Provision the
    /// Helper first: it generates the token the Leader must present, and prints it once.
    Provision(Box<crate::provision::ProvisionArgs>),
}

/// The VDAF choices of `task new`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum VdafKind {
    /// Prio3Count: each measurement is 0 or 1.
    Count,
    /// Prio3Sum: integers in [0, --max-measurement].
    Sum,
    /// Prio3SumVec: --length integers in [0, --max-measurement].
    Sumvec,
    /// Prio3Histogram: a bucket index in [0, --length).
    Histogram,
    /// Prio3MultihotCountVec: --length bits with at most --max-weight set.
    Multihot,
}

/// Batch modes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BatchModeArg {
    /// Batches are time intervals chosen by the Collector.
    #[value(name = "time_interval")]
    TimeInterval,
    /// The Leader forms batches; the Collector asks for "the next batch".
    #[value(name = "leader_selected")]
    LeaderSelected,
}

/// Arguments of `task new`.
#[derive(Args)]
pub struct NewArgs {
    /// Read every field from a TaskConfigSpec JSON file instead of flags (e.g.
    /// {"task_info": "...", "leader_endpoint": "...", "helper_endpoint": "...",
    /// "time_precision": 3600, "min_batch_size": 100, "batch_mode": "time_interval",
    /// "vdaf": {"type": "prio3_histogram", "length": 4, "chunk_length": 2}}).
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "leader", "helper", "vdaf", "length", "max_measurement", "chunk_length", "max_weight",
        "batch_mode", "time_precision", "min_batch_size", "task_start", "task_end", "task_info",
    ])]
    pub from_json: Option<PathBuf>,
    /// The Leader's DAP API base URL (e.g. https://leader.example/).
    #[arg(long, value_name = "URL", required_unless_present = "from_json")]
    pub leader: Option<String>,
    /// The Helper's DAP API base URL.
    #[arg(long, value_name = "URL", required_unless_present = "from_json")]
    pub helper: Option<String>,
    /// The VDAF.
    #[arg(long, value_enum, required_unless_present = "from_json")]
    pub vdaf: Option<VdafKind>,
    /// Vector length (sumvec, multihot) or number of buckets (histogram).
    #[arg(long, value_name = "N")]
    pub length: Option<u32>,
    /// Largest measurement (sum) or vector entry (sumvec).
    #[arg(long, value_name = "N")]
    pub max_measurement: Option<u64>,
    /// Proof chunk length (sumvec, histogram, multihot); default: prio's optimal choice
    /// for the measurement length.
    #[arg(long, value_name = "N")]
    pub chunk_length: Option<u32>,
    /// Largest number of set entries (multihot).
    #[arg(long, value_name = "N")]
    pub max_weight: Option<u64>,
    /// How reports are grouped into batches.
    #[arg(long, value_enum, default_value = "time_interval")]
    pub batch_mode: BatchModeArg,
    /// Seconds per time unit: report times are rounded down to it, and time-interval
    /// batches are multiples of it.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub time_precision: u64,
    /// Fewest reports a batch may hold before it is released to the Collector.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub min_batch_size: u64,
    /// Reports from before this time (POSIX seconds) are refused (rounded down to the time
    /// precision).
    #[arg(long, value_name = "SECS")]
    pub task_start: Option<u64>,
    /// Reports from this time on (POSIX seconds) are refused (rounded up to the time
    /// precision).
    #[arg(long, value_name = "SECS")]
    pub task_end: Option<u64>,
    /// Free text that distinguishes tasks with otherwise equal parameters (1 to 255 bytes).
    #[arg(long, value_name = "TEXT", default_value = "edap task")]
    pub task_info: String,
    /// Write the task file here (mode 0644) instead of printing it; the task ID is then
    /// printed.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite --out if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
}

/// Arguments of `task show`.
#[derive(Args)]
pub struct ShowArgs {
    /// The task file.
    #[arg(
        value_name = "FILE",
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    pub file: Option<PathBuf>,
    /// A base64url-encoded TaskConfiguration instead of a file.
    #[arg(long, value_name = "B64URL")]
    pub config: Option<String>,
    /// Print the task file JSON (normalized) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `edap task ...`.
pub fn run(cmd: TaskCmd) -> Result<()> {
    match cmd {
        TaskCmd::New(a) => new(a),
        TaskCmd::Show(a) => show(a),
        TaskCmd::Provision(a) => crate::provision::run(*a),
    }
}

fn need<T>(v: Option<T>, flag: &str, vdaf: &str) -> Result<T> {
    v.ok_or_else(|| Error::Input(format!("--vdaf {vdaf} needs {flag}")))
}

fn forbid(given: bool, flag: &str, vdaf: &str) -> Result<()> {
    if given {
        Err(Error::Input(format!(
            "{flag} does not apply to --vdaf {vdaf}"
        )))
    } else {
        Ok(())
    }
}

fn bits(max: u64) -> usize {
    (64 - max.leading_zeros()) as usize
}

/// The chunk length: the given one, or prio's optimum for the measurement length.
fn chunk(given: Option<u32>, measurement_length: usize) -> Result<u32> {
    match given {
        Some(0) => Err(Error::Input("--chunk-length must be at least 1".into())),
        Some(c) => Ok(c),
        None => u32::try_from(prio::vdaf::prio3::optimal_chunk_length(
            measurement_length.max(1),
        ))
        .map_err(|_| Error::Input("the measurement is too long".into())),
    }
}

/// The VDAF configuration from `task new` flags.
pub fn vdaf_from_args(a: &NewArgs) -> Result<VdafConfig> {
    let kind = need(a.vdaf, "--vdaf", "")?;
    let positive = |v: u64, flag: &str| {
        if v == 0 {
            Err(Error::Input(format!("{flag} must be at least 1")))
        } else {
            Ok(v)
        }
    };
    let length = |name: &str| -> Result<u32> {
        let l = need(a.length, "--length", name)?;
        positive(u64::from(l), "--length")?;
        Ok(l)
    };
    Ok(match kind {
        VdafKind::Count => {
            forbid(a.length.is_some(), "--length", "count")?;
            forbid(a.max_measurement.is_some(), "--max-measurement", "count")?;
            forbid(a.chunk_length.is_some(), "--chunk-length", "count")?;
            forbid(a.max_weight.is_some(), "--max-weight", "count")?;
            VdafConfig::Prio3Count
        }
        VdafKind::Sum => {
            forbid(a.length.is_some(), "--length", "sum")?;
            forbid(a.chunk_length.is_some(), "--chunk-length", "sum")?;
            forbid(a.max_weight.is_some(), "--max-weight", "sum")?;
            VdafConfig::Prio3Sum {
                max_measurement: positive(
                    need(a.max_measurement, "--max-measurement", "sum")?,
                    "--max-measurement",
                )?,
            }
        }
        VdafKind::Sumvec => {
            forbid(a.max_weight.is_some(), "--max-weight", "sumvec")?;
            let length = length("sumvec")?;
            let max_measurement = positive(
                need(a.max_measurement, "--max-measurement", "sumvec")?,
                "--max-measurement",
            )?;
            VdafConfig::Prio3SumVec {
                length,
                max_measurement,
                chunk_length: chunk(
                    a.chunk_length,
                    (length as usize).saturating_mul(bits(max_measurement)),
                )?,
            }
        }
        VdafKind::Histogram => {
            forbid(
                a.max_measurement.is_some(),
                "--max-measurement",
                "histogram",
            )?;
            forbid(a.max_weight.is_some(), "--max-weight", "histogram")?;
            let length = length("histogram")?;
            VdafConfig::Prio3Histogram {
                length,
                chunk_length: chunk(a.chunk_length, length as usize)?,
            }
        }
        VdafKind::Multihot => {
            forbid(a.max_measurement.is_some(), "--max-measurement", "multihot")?;
            let length = length("multihot")?;
            let max_weight = positive(
                need(a.max_weight, "--max-weight", "multihot")?,
                "--max-weight",
            )?;
            VdafConfig::Prio3MultihotCountVec {
                length,
                chunk_length: chunk(
                    a.chunk_length,
                    (length as usize).saturating_add(bits(max_weight)),
                )?,
                max_weight,
            }
        }
    })
}

/// The TaskConfigSpec from `task new` arguments.
pub fn spec_from_args(a: &NewArgs) -> Result<TaskConfigSpec> {
    if let Some(path) = &a.from_json {
        let text = files::read_text(path)?;
        return serde_json::from_str(&text)
            .map_err(|e| Error::file(path, format!("not a TaskConfigSpec JSON: {e}")));
    }
    Ok(TaskConfigSpec {
        task_info: a.task_info.clone(),
        leader_endpoint: need(a.leader.clone(), "--leader", "")?,
        helper_endpoint: need(a.helper.clone(), "--helper", "")?,
        time_precision: a.time_precision,
        min_batch_size: a.min_batch_size,
        batch_mode: match a.batch_mode {
            BatchModeArg::TimeInterval => "time_interval",
            BatchModeArg::LeaderSelected => "leader_selected",
        }
        .into(),
        vdaf: vdaf_from_args(a)?,
        task_start: a.task_start,
        task_end: a.task_end,
    })
}

fn new(a: NewArgs) -> Result<()> {
    let spec = spec_from_args(&a)?;
    if spec.time_precision == 0 {
        return Err(Error::Input("--time-precision must be at least 1".into()));
    }
    let config = spec.to_config().map_err(|e| Error::Input(e.to_string()))?;
    let task = Task::from_config(config)?;
    let json = task.to_json()?;
    match &a.out {
        Some(path) => {
            files::write_new(path, json.as_bytes(), 0o644, a.force)?;
            println!("{}", task.id);
        }
        None => print!("{json}"),
    }
    Ok(())
}

fn vdaf_text(v: &VdafConfig) -> String {
    match *v {
        VdafConfig::Prio3Count => "Prio3Count".into(),
        VdafConfig::Prio3Sum { max_measurement } => {
            format!("Prio3Sum (max_measurement {max_measurement})")
        }
        VdafConfig::Prio3SumVec {
            length,
            max_measurement,
            chunk_length,
        } => format!(
            "Prio3SumVec (length {length}, max_measurement {max_measurement}, chunk_length {chunk_length})"
        ),
        VdafConfig::Prio3Histogram {
            length,
            chunk_length,
        } => format!("Prio3Histogram (length {length}, chunk_length {chunk_length})"),
        VdafConfig::Prio3MultihotCountVec {
            length,
            chunk_length,
            max_weight,
        } => format!(
            "Prio3MultihotCountVec (length {length}, chunk_length {chunk_length}, max_weight {max_weight})"
        ),
    }
}

/// The human-readable description of a task, one field per line.
pub fn describe(task: &Task) -> Result<String> {
    let c = &task.config;
    let encoded = c
        .get_encoded()
        .map_err(|e| Error::Input(format!("the configuration does not encode: {e}")))?;
    let time = |s: u64| format!("{s} ({})", timefmt::rfc3339(s));
    let interval = c.task_interval();
    let rows: Vec<(&str, String)> = vec![
        ("task_id", task.id.to_base64url()),
        (
            "task_info",
            format!("{:?}", String::from_utf8_lossy(&c.task_info)),
        ),
        ("leader_endpoint", c.leader_endpoint.clone()),
        ("helper_endpoint", c.helper_endpoint.clone()),
        ("time_precision", timefmt::duration(c.time_precision)),
        ("min_batch_size", c.min_batch_size.to_string()),
        ("batch_mode", c.batch_mode.as_str().to_string()),
        ("vdaf", vdaf_text(&c.vdaf)),
        (
            "task_start",
            interval
                .map(|i| time(i.start.to_seconds(c.time_precision)))
                .unwrap_or_else(|| "(none)".into()),
        ),
        (
            "task_end",
            interval
                .and_then(|i| i.end())
                .map(|e| time(e.to_seconds(c.time_precision)))
                .unwrap_or_else(|| "(none)".into()),
        ),
        ("task_config", base64url(&encoded)),
    ];
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<16} {v}\n"));
    }
    Ok(out)
}

fn show(a: ShowArgs) -> Result<()> {
    let task = match (&a.file, &a.config) {
        (_, Some(b64)) => Task::from_config(Task::decode_config(b64)?)?,
        (Some(path), None) => Task::load(path)?,
        (None, None) => return Err(Error::Input("give a task FILE or --config".into())),
    };
    let text = if a.json {
        task.to_json()?
    } else {
        describe(&task)?
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Error::Input(format!("cannot write to stdout: {e}")))
}
