//! `TaskConfiguration` (DAP-18 section 4.2) and the Prio3 configuration encodings
//! (appendix "VDAF Configuration Encodings").

use super::{BatchMode, Extension, Extensions, Interval};
use crate::codec::{get_len, get_opaque, put_opaque, take, Prefix};
use prio::codec::{CodecError, Decode, Encode};
use serde::{Deserialize, Serialize};
use std::io::Cursor;

/// Task extension codepoint of `task_interval`.
pub const TASK_EXTENSION_TASK_INTERVAL: u16 = 1;

/// A Prio3 variant and its parameters, as `vdaf_type` + `vdaf_configuration` encode them.
/// In JSON: `{"type": "prio3_histogram", "length": 4, "chunk_length": 2}`; in binary
/// formats: the DAP encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VdafConfig {
    /// Prio3Count (0x00000001): counts 0/1 measurements.
    Prio3Count,
    /// Prio3Sum (0x00000002): sums integers in `[0, max_measurement]`.
    Prio3Sum {
        /// Largest permitted summand.
        max_measurement: u64,
    },
    /// Prio3SumVec (0x00000003): sums vectors of integers in `[0, max_measurement]`.
    Prio3SumVec {
        /// Vector length.
        length: u32,
        /// Largest permitted element.
        max_measurement: u64,
        /// Proof chunk length.
        chunk_length: u32,
    },
    /// Prio3Histogram (0x00000004): one bucket index per measurement.
    Prio3Histogram {
        /// Number of buckets.
        length: u32,
        /// Proof chunk length.
        chunk_length: u32,
    },
    /// Prio3MultihotCountVec (0x00000005): bit vectors with at most `max_weight` ones.
    Prio3MultihotCountVec {
        /// Vector length.
        length: u32,
        /// Proof chunk length.
        chunk_length: u32,
        /// Largest number of set bits.
        max_weight: u64,
    },
}

/// The JSON form of [`VdafConfig`].
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[allow(clippy::enum_variant_names)] // the names are the JSON tags
enum VdafConfigJson {
    Prio3Count,
    Prio3Sum {
        max_measurement: u64,
    },
    Prio3SumVec {
        length: u32,
        max_measurement: u64,
        chunk_length: u32,
    },
    Prio3Histogram {
        length: u32,
        chunk_length: u32,
    },
    Prio3MultihotCountVec {
        length: u32,
        chunk_length: u32,
        max_weight: u64,
    },
}

impl Serialize for VdafConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let j = match *self {
                VdafConfig::Prio3Count => VdafConfigJson::Prio3Count,
                VdafConfig::Prio3Sum { max_measurement } => {
                    VdafConfigJson::Prio3Sum { max_measurement }
                }
                VdafConfig::Prio3SumVec {
                    length,
                    max_measurement,
                    chunk_length,
                } => VdafConfigJson::Prio3SumVec {
                    length,
                    max_measurement,
                    chunk_length,
                },
                VdafConfig::Prio3Histogram {
                    length,
                    chunk_length,
                } => VdafConfigJson::Prio3Histogram {
                    length,
                    chunk_length,
                },
                VdafConfig::Prio3MultihotCountVec {
                    length,
                    chunk_length,
                    max_weight,
                } => VdafConfigJson::Prio3MultihotCountVec {
                    length,
                    chunk_length,
                    max_weight,
                },
            };
            j.serialize(s)
        } else {
            let mut params = Vec::new();
            self.encode_params(&mut params)
                .map_err(serde::ser::Error::custom)?;
            (self.vdaf_type(), params).serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for VdafConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            Ok(match VdafConfigJson::deserialize(d)? {
                VdafConfigJson::Prio3Count => VdafConfig::Prio3Count,
                VdafConfigJson::Prio3Sum { max_measurement } => {
                    VdafConfig::Prio3Sum { max_measurement }
                }
                VdafConfigJson::Prio3SumVec {
                    length,
                    max_measurement,
                    chunk_length,
                } => VdafConfig::Prio3SumVec {
                    length,
                    max_measurement,
                    chunk_length,
                },
                VdafConfigJson::Prio3Histogram {
                    length,
                    chunk_length,
                } => VdafConfig::Prio3Histogram {
                    length,
                    chunk_length,
                },
                VdafConfigJson::Prio3MultihotCountVec {
                    length,
                    chunk_length,
                    max_weight,
                } => VdafConfig::Prio3MultihotCountVec {
                    length,
                    chunk_length,
                    max_weight,
                },
            })
        } else {
            let (t, params): (u32, Vec<u8>) = Deserialize::deserialize(d)?;
            VdafConfig::decode_params(t, &params).map_err(serde::de::Error::custom)
        }
    }
}

impl VdafConfig {
    /// The `vdaf_type` codepoint from the VDAF identifiers registry.
    pub fn vdaf_type(&self) -> u32 {
        match self {
            VdafConfig::Prio3Count => 1,
            VdafConfig::Prio3Sum { .. } => 2,
            VdafConfig::Prio3SumVec { .. } => 3,
            VdafConfig::Prio3Histogram { .. } => 4,
            VdafConfig::Prio3MultihotCountVec { .. } => 5,
        }
    }

    /// The spec's name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            VdafConfig::Prio3Count => "Prio3Count",
            VdafConfig::Prio3Sum { .. } => "Prio3Sum",
            VdafConfig::Prio3SumVec { .. } => "Prio3SumVec",
            VdafConfig::Prio3Histogram { .. } => "Prio3Histogram",
            VdafConfig::Prio3MultihotCountVec { .. } => "Prio3MultihotCountVec",
        }
    }

    fn encode_params(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        match *self {
            VdafConfig::Prio3Count => Ok(()),
            VdafConfig::Prio3Sum { max_measurement } => max_measurement.encode(out),
            VdafConfig::Prio3SumVec {
                length,
                max_measurement,
                chunk_length,
            } => {
                length.encode(out)?;
                max_measurement.encode(out)?;
                chunk_length.encode(out)
            }
            VdafConfig::Prio3Histogram {
                length,
                chunk_length,
            } => {
                length.encode(out)?;
                chunk_length.encode(out)
            }
            VdafConfig::Prio3MultihotCountVec {
                length,
                chunk_length,
                max_weight,
            } => {
                length.encode(out)?;
                chunk_length.encode(out)?;
                max_weight.encode(out)
            }
        }
    }

    fn decode_params(vdaf_type: u32, params: &[u8]) -> Result<Self, CodecError> {
        let r = &mut Cursor::new(params);
        let config = match vdaf_type {
            1 => VdafConfig::Prio3Count,
            2 => VdafConfig::Prio3Sum {
                max_measurement: u64::decode(r)?,
            },
            3 => VdafConfig::Prio3SumVec {
                length: u32::decode(r)?,
                max_measurement: u64::decode(r)?,
                chunk_length: u32::decode(r)?,
            },
            4 => VdafConfig::Prio3Histogram {
                length: u32::decode(r)?,
                chunk_length: u32::decode(r)?,
            },
            5 => VdafConfig::Prio3MultihotCountVec {
                length: u32::decode(r)?,
                chunk_length: u32::decode(r)?,
                max_weight: u64::decode(r)?,
            },
            _ => return Err(CodecError::UnexpectedValue),
        };
        if r.position() as usize != params.len() {
            return Err(CodecError::BytesLeftOver(
                params.len() - r.position() as usize,
            ));
        }
        Ok(config)
    }
}

/// `struct TaskConfiguration`: the parameters every participant agrees on, bound into HPKE
/// authenticated data. Re-encoding a decoded value gives back the same bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskConfiguration {
    /// `opaque task_info<1..2^8-1>`
    pub task_info: Vec<u8>,
    /// `Url leader_aggregator_endpoint` (ASCII, kept byte for byte).
    pub leader_endpoint: String,
    /// `Url helper_aggregator_endpoint` (ASCII, kept byte for byte).
    pub helper_endpoint: String,
    /// Seconds per time unit.
    pub time_precision: u64,
    /// Smallest number of reports a batch may hold.
    pub min_batch_size: u64,
    /// How reports are grouped into batches (`batch_config` is empty for both modes).
    pub batch_mode: BatchMode,
    /// The VDAF and its parameters.
    pub vdaf: VdafConfig,
    /// Task extensions, sorted by type.
    pub extensions: Extensions,
}

impl TaskConfiguration {
    /// The `task_interval` extension's interval, if the task has one.
    pub fn task_interval(&self) -> Option<Interval> {
        self.extensions
            .get(TASK_EXTENSION_TASK_INTERVAL)
            .and_then(|d| Interval::get_decoded(d).ok())
    }

    /// Sets (or replaces) the `task_interval` extension.
    pub fn set_task_interval(&mut self, interval: Option<Interval>) {
        let mut items: Vec<Extension> = self
            .extensions
            .iter()
            .filter(|e| e.extension_type != TASK_EXTENSION_TASK_INTERVAL)
            .cloned()
            .collect();
        if let Some(i) = interval {
            items.push(Extension {
                extension_type: TASK_EXTENSION_TASK_INTERVAL,
                // Encoding a fixed-size Interval cannot fail.
                extension_data: i.get_encoded().unwrap_or_default(),
            });
        }
        // Types are unique: we removed the only possible duplicate above.
        self.extensions = Extensions::new(items).unwrap_or_default();
    }
}

fn get_url(r: &mut Cursor<&[u8]>) -> Result<String, CodecError> {
    let bytes = get_opaque(r, Prefix::U16, 1)?;
    if !bytes.is_ascii() {
        return Err(CodecError::UnexpectedValue);
    }
    String::from_utf8(bytes).map_err(|_| CodecError::UnexpectedValue)
}

impl Encode for TaskConfiguration {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        if self.task_info.is_empty() {
            return Err(CodecError::UnexpectedValue);
        }
        put_opaque(out, Prefix::U8, &self.task_info)?;
        put_opaque(out, Prefix::U16, self.leader_endpoint.as_bytes())?;
        put_opaque(out, Prefix::U16, self.helper_endpoint.as_bytes())?;
        self.time_precision.encode(out)?;
        self.min_batch_size.encode(out)?;
        self.batch_mode.encode(out)?;
        put_opaque(out, Prefix::U16, &[])?; // batch_config: empty for both batch modes
        self.vdaf.vdaf_type().encode(out)?;
        let mut params = Vec::new();
        self.vdaf.encode_params(&mut params)?;
        put_opaque(out, Prefix::U16, &params)?;
        self.extensions.encode(out)
    }
}

impl Decode for TaskConfiguration {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        let task_info = get_opaque(r, Prefix::U8, 1)?;
        let leader_endpoint = get_url(r)?;
        let helper_endpoint = get_url(r)?;
        let time_precision = u64::decode(r)?;
        let min_batch_size = u64::decode(r)?;
        let batch_mode = BatchMode::decode(r)?;
        let batch_config_len = get_len(r, Prefix::U16)?;
        if batch_config_len != 0 {
            // Both defined batch modes have an empty configuration.
            return Err(CodecError::UnexpectedValue);
        }
        let vdaf_type = u32::decode(r)?;
        let len = get_len(r, Prefix::U16)?;
        let vdaf = VdafConfig::decode_params(vdaf_type, take(r, len)?)?;
        let extensions = Extensions::decode(r)?;
        if let Some(d) = extensions.get(TASK_EXTENSION_TASK_INTERVAL) {
            Interval::get_decoded(d)?;
        }
        Ok(TaskConfiguration {
            task_info,
            leader_endpoint,
            helper_endpoint,
            time_precision,
            min_batch_size,
            batch_mode,
            vdaf,
            extensions,
        })
    }
}
