//! Reading measurements: one per line in each VDAF's text form (`Measurement::parse`), or a
//! JSON array of measurements (JSON values or decimal strings). Everything is checked
//! against the task's VDAF before anything is sent.

use crate::error::{one_line, Error, Result};
use edap_core::messages::VdafConfig;
use edap_core::vdaf::Measurement;
use serde_json::Value;

fn is_vector(config: &VdafConfig) -> bool {
    matches!(
        config,
        VdafConfig::Prio3SumVec { .. } | VdafConfig::Prio3MultihotCountVec { .. }
    )
}

/// Parses one measurement given as text, naming `label` in errors.
pub fn parse_one(config: &VdafConfig, label: &str, text: &str) -> Result<Measurement> {
    Measurement::parse(config, text)
        .map_err(|e| Error::Input(format!("{label}: {}", one_line(&e.to_string(), 200))))
}

/// The text form of a JSON scalar.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn from_json(config: &VdafConfig, label: &str, v: &Value) -> Result<Measurement> {
    let text = match v {
        Value::Array(items) => {
            let parts = items
                .iter()
                .map(scalar_text)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    Error::Input(format!(
                        "{label}: vector entries must be numbers or decimal strings"
                    ))
                })?;
            format!("[{}]", parts.join(","))
        }
        other => scalar_text(other).ok_or_else(|| {
            Error::Input(format!(
                "{label}: expected a number, a decimal string or an array, got {}",
                match other {
                    Value::Null => "null",
                    _ => "an object",
                }
            ))
        })?,
    };
    parse_one(config, label, &text)
}

/// Parses the content of a measurement file (or stdin) named `label`.
pub fn parse_text(config: &VdafConfig, label: &str, text: &str) -> Result<Vec<Measurement>> {
    if text.trim_start().starts_with('[') {
        match serde_json::from_str::<Vec<Value>>(text) {
            // For vector VDAFs a flat array of numbers is one measurement on one line.
            Ok(items)
                if !is_vector(config)
                    || items
                        .iter()
                        .all(|v| matches!(v, Value::Array(_) | Value::String(_))) =>
            {
                return items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| from_json(config, &format!("{label}: JSON element {}", i + 1), v))
                    .collect();
            }
            Ok(_) => {}
            Err(e) if !is_vector(config) => {
                return Err(Error::Input(format!(
                    "{label}: starts with '[' but is not a JSON array of measurements (line {} column {}: {})",
                    e.line(),
                    e.column(),
                    one_line(&e.to_string(), 120)
                )));
            }
            Err(_) => {}
        }
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        out.push(parse_one(config, &format!("{label} line {}", n + 1), t)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIST: VdafConfig = VdafConfig::Prio3Histogram {
        length: 4,
        chunk_length: 2,
    };
    const VEC: VdafConfig = VdafConfig::Prio3SumVec {
        length: 3,
        max_measurement: 7,
        chunk_length: 2,
    };

    #[test]
    fn lines_and_json() {
        let ms = parse_text(&HIST, "f", "0\n\n# comment\n3\n 2 \n").unwrap();
        assert_eq!(
            ms,
            vec![
                Measurement::Bucket(0),
                Measurement::Bucket(3),
                Measurement::Bucket(2)
            ]
        );
        let ms = parse_text(&HIST, "f", "[1, \"2\", 3]").unwrap();
        assert_eq!(ms.len(), 3);
        let ms = parse_text(&VEC, "f", "[[1,2,3], [\"7\", 0, 0]]").unwrap();
        assert_eq!(ms[1], Measurement::Vector(vec![7, 0, 0]));
        // A flat array for a vector VDAF is one measurement in line form.
        let ms = parse_text(&VEC, "f", "[1,2,3]\n4,5,6\n").unwrap();
        assert_eq!(ms.len(), 2);
        let count = parse_text(&VdafConfig::Prio3Count, "f", "[true, 0, \"1\"]").unwrap();
        assert_eq!(count[0], Measurement::Count(true));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_text(&HIST, "m.txt", "0\n1\nabc\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "m.txt line 3: cannot parse \"abc\" as a measurement"
        );
        let e = parse_text(&HIST, "m.txt", "0\n9\n").unwrap_err();
        assert_eq!(e.to_string(), "m.txt line 2: bucket 9 is outside 0..4");
        let e = parse_text(&HIST, "m.txt", "[0, null]").unwrap_err();
        assert!(e.to_string().contains("JSON element 2"), "{e}");
        let e = parse_text(&HIST, "m.txt", "[0, 1").unwrap_err();
        assert!(e.to_string().contains("not a JSON array"), "{e}");
    }
}
