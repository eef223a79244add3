//! JavaScript measurements (JSON values) as the core's [`Measurement`], checked against the
//! task's VDAF by the core ([`Measurement::check`]) before anything is built or sent.
//!
//! Shapes: Count takes `true`/`false` or `0`/`1`; Sum an integer; Histogram a bucket index;
//! SumVec an array of integers; MultihotCountVec an array of booleans or `0`/`1`. Integers
//! must be exact non-negative JSON integers (the TypeScript layer writes `bigint`s as
//! integer literals).

use edap_core::messages::VdafConfig;
use edap_core::vdaf::Measurement;
use serde_json::Value;

/// Why measurement `index` of a batch does not fit the task.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("measurement {index} ({value}): {message}")]
pub struct Invalid {
    /// Its position in the batch (0 for a single measurement).
    pub index: usize,
    /// The value as JSON, shortened.
    pub value: String,
    /// What is wrong with it.
    pub message: String,
}

fn integer(v: &Value, what: &str) -> Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| {
            if n.as_i64().is_some() {
                format!("{what} must not be negative")
            } else {
                format!("{what} must be an integer from 0 to 2^64-1")
            }
        }),
        _ => Err(format!("{what} must be an integer, not {}", kind(v))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn bit(v: &Value, what: &str) -> Result<u64, String> {
    match v {
        Value::Bool(b) => Ok(u64::from(*b)),
        _ => integer(v, what),
    }
}

fn vector(
    v: &Value,
    entry: impl Fn(&Value, &str) -> Result<u64, String>,
) -> Result<Vec<u64>, String> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| entry(x, &format!("entry {i}")))
            .collect(),
        _ => Err(format!("expected an array, not {}", kind(v))),
    }
}

/// Converts and checks one measurement.
pub fn from_json(config: &VdafConfig, v: &Value) -> Result<Measurement, String> {
    let m = match config {
        VdafConfig::Prio3Count => match v {
            Value::Bool(b) => Measurement::Count(*b),
            Value::Number(n) if n.as_u64() == Some(0) => Measurement::Count(false),
            Value::Number(n) if n.as_u64() == Some(1) => Measurement::Count(true),
            _ => return Err("expected true, false, 0 or 1".into()),
        },
        VdafConfig::Prio3Sum { .. } => Measurement::Sum(integer(v, "the measurement")?),
        VdafConfig::Prio3Histogram { .. } => Measurement::Bucket(integer(v, "the bucket index")?),
        VdafConfig::Prio3SumVec { .. } => Measurement::Vector(vector(v, integer)?),
        VdafConfig::Prio3MultihotCountVec { .. } => Measurement::Vector(vector(v, bit)?),
    };
    m.check(config).map_err(|e| e.to_string())?;
    Ok(m)
}

fn shorten(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= 80 {
        s
    } else {
        format!("{}...", s.chars().take(77).collect::<String>())
    }
}

/// Converts and checks a JSON array of measurements; the first bad one is the error.
pub fn batch_from_json(config: &VdafConfig, json: &str) -> Result<Vec<Measurement>, Invalid> {
    let items: Vec<Value> = serde_json::from_str(json).map_err(|e| Invalid {
        index: 0,
        value: String::new(),
        message: format!("not a JSON array of measurements: {e}"),
    })?;
    items
        .iter()
        .enumerate()
        .map(|(index, v)| {
            from_json(config, v).map_err(|message| Invalid {
                index,
                value: shorten(v),
                message,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(config: VdafConfig, json: &str) -> Result<Vec<Measurement>, Invalid> {
        batch_from_json(&config, json)
    }

    #[test]
    fn every_shape() {
        assert_eq!(
            check(VdafConfig::Prio3Count, "[true, 0, 1, false]").unwrap(),
            vec![
                Measurement::Count(true),
                Measurement::Count(false),
                Measurement::Count(true),
                Measurement::Count(false)
            ]
        );
        let sum = VdafConfig::Prio3Sum {
            max_measurement: 10,
        };
        assert_eq!(check(sum, "[10]").unwrap(), vec![Measurement::Sum(10)]);
        let e = check(sum, "[1, 11]").unwrap_err();
        assert_eq!((e.index, e.value.as_str()), (1, "11"));
        assert!(e.message.contains("max_measurement 10"), "{e}");
        assert!(check(sum, "[1.5]").unwrap_err().message.contains("integer"));
        assert!(check(sum, "[-1]").unwrap_err().message.contains("negative"));
        let multihot = VdafConfig::Prio3MultihotCountVec {
            length: 3,
            chunk_length: 2,
            max_weight: 1,
        };
        assert_eq!(
            check(multihot, "[[true, false, 0]]").unwrap(),
            vec![Measurement::Vector(vec![1, 0, 0])]
        );
        let e = check(multihot, "[[1, 1, 0]]").unwrap_err();
        assert!(e.message.contains("max_weight"), "{e}");
        let hist = VdafConfig::Prio3Histogram {
            length: 4,
            chunk_length: 2,
        };
        let e = check(hist, r#"[0, "2"]"#).unwrap_err();
        assert_eq!(e.index, 1);
        assert!(e.message.contains("a string"), "{e}");
        let sumvec = VdafConfig::Prio3SumVec {
            length: 2,
            max_measurement: 3,
            chunk_length: 1,
        };
        let e = check(sumvec, "[[1, 2, 3]]").unwrap_err();
        assert!(e.message.contains("expected 2 entries"), "{e}");
    }
}
