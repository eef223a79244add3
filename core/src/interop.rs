//! JSON forms of the interop test design (draft-dcook-ppm-dap-interop-test-design-07, with
//! the DAP-18 field changes): VDAF objects, measurements, results and the task
//! configuration every participant rebuilds from `add_task` parameters. Shared by the
//! aggregators' test API and the `edap interop` client and collector.

use crate::api::provision::{parse_batch_mode, TaskConfigSpec};
use crate::messages::{TaskConfiguration, VdafConfig};
use crate::vdaf::{AggregateResult, Measurement};
use serde_json::{json, Value};

/// The fixed `task_info` of interop tasks.
pub const TASK_INFO: &str = "task-info";

/// A number given as a decimal string or a JSON number.
pub fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn field(obj: &Value, name: &str) -> Result<u64, String> {
    number(obj.get(name)).ok_or_else(|| format!("missing or invalid {name:?}"))
}

/// Parses a VDAF object (`{"type": "Prio3Histogram", "length": "4", "chunk_length": "2"}`).
pub fn vdaf_from_json(v: &Value) -> Result<VdafConfig, String> {
    let t = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or("VDAF object without type")?;
    let u32_of = |n: u64, name: &str| u32::try_from(n).map_err(|_| format!("{name} too large"));
    Ok(match t {
        "Prio3Count" => VdafConfig::Prio3Count,
        "Prio3Sum" => VdafConfig::Prio3Sum {
            max_measurement: field(v, "max_measurement")?,
        },
        "Prio3SumVec" => VdafConfig::Prio3SumVec {
            length: u32_of(field(v, "length")?, "length")?,
            max_measurement: field(v, "max_measurement")?,
            chunk_length: u32_of(field(v, "chunk_length")?, "chunk_length")?,
        },
        "Prio3Histogram" => VdafConfig::Prio3Histogram {
            length: u32_of(field(v, "length")?, "length")?,
            chunk_length: u32_of(field(v, "chunk_length")?, "chunk_length")?,
        },
        "Prio3MultihotCountVec" => VdafConfig::Prio3MultihotCountVec {
            length: u32_of(field(v, "length")?, "length")?,
            chunk_length: u32_of(field(v, "chunk_length")?, "chunk_length")?,
            max_weight: field(v, "max_weight")?,
        },
        other => return Err(format!("unsupported VDAF {other:?}")),
    })
}

/// Parses a measurement for `vdaf` (decimal strings, arrays of them, or booleans).
pub fn measurement_from_json(vdaf: &VdafConfig, v: &Value) -> Result<Measurement, String> {
    let text = match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Bool(b) => Ok(u8::from(*b).to_string()),
                other => number(Some(other))
                    .map(|n| n.to_string())
                    .ok_or_else(|| format!("bad entry {other}")),
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        Value::Bool(b) => u8::from(*b).to_string(),
        other => number(Some(other))
            .map(|n| n.to_string())
            .ok_or_else(|| format!("bad measurement {other}"))?,
    };
    Measurement::parse(vdaf, &text).map_err(|e| e.to_string())
}

/// A result as the test design wants it: decimal strings.
pub fn result_to_json(r: &AggregateResult) -> Value {
    match r {
        AggregateResult::Scalar(x) => json!(x.to_string()),
        AggregateResult::Vector(v) => json!(v.iter().map(|x| x.to_string()).collect::<Vec<_>>()),
    }
}

/// Rebuilds the task configuration from test-API parameters: `leader`, `helper`, `vdaf`,
/// `batch_mode` (or the older `query_type`), `min_batch_size`, `time_precision`, and the
/// optional `task_start` / `task_end`.
pub fn task_config(body: &Value) -> Result<TaskConfiguration, String> {
    let s = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("missing {name:?}"))
    };
    let mode = number(body.get("batch_mode").or_else(|| body.get("query_type")))
        .ok_or("missing batch_mode")?;
    let spec = TaskConfigSpec {
        task_info: TASK_INFO.to_string(),
        leader_endpoint: s("leader")?,
        helper_endpoint: s("helper")?,
        time_precision: field(body, "time_precision")?,
        min_batch_size: field(body, "min_batch_size")?,
        batch_mode: parse_batch_mode(&mode.to_string())
            .ok_or_else(|| format!("unknown batch mode {mode}"))?
            .as_str()
            .to_string(),
        vdaf: vdaf_from_json(body.get("vdaf").ok_or("missing vdaf")?)?,
        task_start: number(body.get("task_start")),
        task_end: number(body.get("task_end")),
    };
    spec.to_config().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_test_design_objects() {
        let v = json!({"type": "Prio3SumVec", "length": "3", "max_measurement": "255", "chunk_length": 2});
        let cfg = vdaf_from_json(&v).unwrap();
        assert_eq!(
            cfg,
            VdafConfig::Prio3SumVec {
                length: 3,
                max_measurement: 255,
                chunk_length: 2
            }
        );
        assert_eq!(
            measurement_from_json(&cfg, &json!(["1", "2", "255"])).unwrap(),
            Measurement::Vector(vec![1, 2, 255])
        );
        assert!(measurement_from_json(&cfg, &json!(["1", "2", "256"])).is_err());
        let h = VdafConfig::Prio3Histogram {
            length: 4,
            chunk_length: 2,
        };
        assert_eq!(
            measurement_from_json(&h, &json!("3")).unwrap(),
            Measurement::Bucket(3)
        );
        assert_eq!(
            result_to_json(&AggregateResult::Vector(vec![1, 2])),
            json!(["1", "2"])
        );
        assert!(vdaf_from_json(&json!({"type": "Poplar1", "bits": "8"})).is_err());
        let body = json!({"leader": "http://l:8080/", "helper": "http://h:8080/", "vdaf": {"type": "Prio3Count"},
            "batch_mode": 2, "min_batch_size": "10", "time_precision": 3600});
        let c = task_config(&body).unwrap();
        assert_eq!(
            (c.task_info.as_slice(), c.min_batch_size),
            (TASK_INFO.as_bytes(), 10)
        );
    }
}
