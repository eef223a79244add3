//! Measurements and aggregate results of the five Prio3 variants, independent of `prio`'s
//! generic types, with text and JSON parsing for tools.

use super::DapVdaf;
use crate::messages::VdafConfig;
use prio::vdaf::prio3::{Prio3Count, Prio3Histogram, Prio3MultihotCountVec, Prio3Sum, Prio3SumVec};
use serde::{Deserialize, Serialize};

/// A Client's measurement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Measurement {
    /// Prio3Count: true counts one.
    Count(bool),
    /// Prio3Sum: an integer in `[0, max_measurement]`.
    Sum(u64),
    /// Prio3SumVec: integers in `[0, max_measurement]`; Prio3MultihotCountVec: 0/1 entries.
    Vector(Vec<u64>),
    /// Prio3Histogram: the bucket index.
    Bucket(u64),
}

/// Why a measurement does not fit its task's VDAF.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MeasurementError {
    /// Wrong shape (e.g. a vector for Prio3Count).
    #[error("expected {expected}")]
    WrongKind {
        /// What the VDAF takes.
        expected: &'static str,
    },
    /// Outside the VDAF's range.
    #[error("{0}")]
    OutOfRange(String),
    /// Text that does not parse.
    #[error("cannot parse {0:?} as a measurement")]
    Parse(String),
    /// The VDAF refused it while sharding.
    #[error("VDAF refused the measurement: {0}")]
    Rejected(String),
}

/// An aggregate result after unsharding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AggregateResult {
    /// Prio3Count and Prio3Sum.
    Scalar(u128),
    /// Prio3SumVec, Prio3Histogram and Prio3MultihotCountVec.
    Vector(Vec<u128>),
}

impl AggregateResult {
    /// Adds a plaintext measurement to a running total (for checking results in tests).
    pub fn add(&mut self, m: &Measurement) {
        match (self, m) {
            (AggregateResult::Scalar(s), Measurement::Count(b)) => *s += u128::from(*b),
            (AggregateResult::Scalar(s), Measurement::Sum(v)) => *s += u128::from(*v),
            (AggregateResult::Vector(v), Measurement::Bucket(i)) => {
                if let Some(x) = v.get_mut(*i as usize) {
                    *x += 1
                }
            }
            (AggregateResult::Vector(v), Measurement::Vector(m)) => {
                for (x, y) in v.iter_mut().zip(m) {
                    *x += u128::from(*y);
                }
            }
            _ => {}
        }
    }

    /// The result of aggregating no measurements for `config`.
    pub fn zero(config: &VdafConfig) -> AggregateResult {
        match *config {
            VdafConfig::Prio3Count | VdafConfig::Prio3Sum { .. } => AggregateResult::Scalar(0),
            VdafConfig::Prio3SumVec { length, .. }
            | VdafConfig::Prio3Histogram { length, .. }
            | VdafConfig::Prio3MultihotCountVec { length, .. } => {
                AggregateResult::Vector(vec![0; length as usize])
            }
        }
    }
}

impl Measurement {
    /// Parses one measurement from text: `0`/`1`/`true`/`false` for Count, an integer for Sum
    /// and Histogram (bucket index), comma- or space-separated integers (or a JSON array)
    /// for the vector VDAFs. Checks the value against the configuration.
    pub fn parse(config: &VdafConfig, text: &str) -> Result<Measurement, MeasurementError> {
        let t = text.trim();
        let parse_u64 = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| MeasurementError::Parse(text.to_string()))
        };
        let m = match config {
            VdafConfig::Prio3Count => match t {
                "1" | "true" => Measurement::Count(true),
                "0" | "false" => Measurement::Count(false),
                _ => return Err(MeasurementError::Parse(text.to_string())),
            },
            VdafConfig::Prio3Sum { .. } => Measurement::Sum(parse_u64(t)?),
            VdafConfig::Prio3Histogram { .. } => Measurement::Bucket(parse_u64(t)?),
            VdafConfig::Prio3SumVec { .. } | VdafConfig::Prio3MultihotCountVec { .. } => {
                let inner = t.trim_start_matches('[').trim_end_matches(']');
                let items = inner
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(|s| match s {
                        "true" => Ok(1),
                        "false" => Ok(0),
                        s => parse_u64(s),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Measurement::Vector(items)
            }
        };
        m.check(config)?;
        Ok(m)
    }

    /// Checks shape and range against the configuration.
    pub fn check(&self, config: &VdafConfig) -> Result<(), MeasurementError> {
        match (config, self) {
            (VdafConfig::Prio3Count, Measurement::Count(_)) => Ok(()),
            (VdafConfig::Prio3Count, _) => Err(MeasurementError::WrongKind { expected: "0 or 1" }),
            (VdafConfig::Prio3Sum { max_measurement }, Measurement::Sum(v)) => {
                if v > max_measurement {
                    Err(MeasurementError::OutOfRange(format!(
                        "{v} is above max_measurement {max_measurement}"
                    )))
                } else {
                    Ok(())
                }
            }
            (VdafConfig::Prio3Sum { .. }, _) => Err(MeasurementError::WrongKind {
                expected: "an integer",
            }),
            (VdafConfig::Prio3Histogram { length, .. }, Measurement::Bucket(i)) => {
                if *i >= u64::from(*length) {
                    Err(MeasurementError::OutOfRange(format!(
                        "bucket {i} is outside 0..{length}"
                    )))
                } else {
                    Ok(())
                }
            }
            (VdafConfig::Prio3Histogram { .. }, _) => Err(MeasurementError::WrongKind {
                expected: "a bucket index",
            }),
            (
                VdafConfig::Prio3SumVec {
                    length,
                    max_measurement,
                    ..
                },
                Measurement::Vector(v),
            ) => {
                if v.len() != *length as usize {
                    return Err(MeasurementError::OutOfRange(format!(
                        "expected {length} entries, got {}",
                        v.len()
                    )));
                }
                if let Some(x) = v.iter().find(|x| *x > max_measurement) {
                    return Err(MeasurementError::OutOfRange(format!(
                        "entry {x} is above max_measurement {max_measurement}"
                    )));
                }
                Ok(())
            }
            (
                VdafConfig::Prio3MultihotCountVec {
                    length, max_weight, ..
                },
                Measurement::Vector(v),
            ) => {
                if v.len() != *length as usize {
                    return Err(MeasurementError::OutOfRange(format!(
                        "expected {length} entries, got {}",
                        v.len()
                    )));
                }
                if v.iter().any(|x| *x > 1) {
                    return Err(MeasurementError::OutOfRange(
                        "entries must be 0 or 1".into(),
                    ));
                }
                let weight = v.iter().sum::<u64>();
                if weight > *max_weight {
                    return Err(MeasurementError::OutOfRange(format!(
                        "{weight} entries set, max_weight is {max_weight}"
                    )));
                }
                Ok(())
            }
            (_, _) => Err(MeasurementError::WrongKind {
                expected: "a vector",
            }),
        }
    }
}

fn count_of(m: &Measurement) -> Option<u64> {
    match m {
        Measurement::Count(b) => Some(u64::from(*b)),
        Measurement::Sum(v) | Measurement::Bucket(v) => Some(*v),
        Measurement::Vector(_) => None,
    }
}

impl DapVdaf for Prio3Count {
    fn measurement(&self, m: &Measurement) -> Result<bool, MeasurementError> {
        match m {
            Measurement::Count(b) => Ok(*b),
            Measurement::Sum(v) | Measurement::Bucket(v) if *v <= 1 => Ok(*v == 1),
            _ => Err(MeasurementError::WrongKind { expected: "0 or 1" }),
        }
    }
    fn result(r: u64) -> AggregateResult {
        AggregateResult::Scalar(r.into())
    }
}

impl DapVdaf for Prio3Sum {
    fn measurement(&self, m: &Measurement) -> Result<u64, MeasurementError> {
        count_of(m).ok_or(MeasurementError::WrongKind {
            expected: "an integer",
        })
    }
    fn result(r: u64) -> AggregateResult {
        AggregateResult::Scalar(r.into())
    }
}

impl DapVdaf for Prio3Histogram {
    fn measurement(&self, m: &Measurement) -> Result<usize, MeasurementError> {
        let i = count_of(m).ok_or(MeasurementError::WrongKind {
            expected: "a bucket index",
        })?;
        usize::try_from(i).map_err(|_| MeasurementError::OutOfRange(format!("bucket {i}")))
    }
    fn result(r: Vec<u128>) -> AggregateResult {
        AggregateResult::Vector(r)
    }
}

impl DapVdaf for Prio3SumVec {
    fn measurement(&self, m: &Measurement) -> Result<Vec<u128>, MeasurementError> {
        match m {
            Measurement::Vector(v) => Ok(v.iter().map(|x| u128::from(*x)).collect()),
            _ => Err(MeasurementError::WrongKind {
                expected: "a vector",
            }),
        }
    }
    fn result(r: Vec<u128>) -> AggregateResult {
        AggregateResult::Vector(r)
    }
}

impl DapVdaf for Prio3MultihotCountVec {
    fn measurement(&self, m: &Measurement) -> Result<Vec<bool>, MeasurementError> {
        match m {
            Measurement::Vector(v) if v.iter().all(|x| *x <= 1) => {
                Ok(v.iter().map(|x| *x == 1).collect())
            }
            _ => Err(MeasurementError::WrongKind {
                expected: "a vector of 0/1",
            }),
        }
    }
    fn result(r: Vec<u128>) -> AggregateResult {
        AggregateResult::Vector(r)
    }
}
