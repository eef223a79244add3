//! Upload messages: reports, upload requests and per-report errors.

use super::{Extensions, HpkeCiphertext, ReportId, TaskConfiguration, TaskId, Time};
use crate::codec::{get_opaque, get_rest, put_opaque, Prefix};
use prio::codec::{CodecError, Decode, Encode};
use std::fmt;
use std::io::Cursor;

/// `enum ReportError`: why one report was refused, in upload or aggregation.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum ReportError {
    /// batch_collected(1)
    BatchCollected = 1,
    /// report_replayed(2)
    ReportReplayed = 2,
    /// report_dropped(3)
    ReportDropped = 3,
    /// hpke_unknown_config_id(4)
    HpkeUnknownConfigId = 4,
    /// hpke_decrypt_error(5)
    HpkeDecryptError = 5,
    /// vdaf_verify_error(6)
    VdafVerifyError = 6,
    /// task_expired(7)
    TaskExpired = 7,
    /// invalid_message(8)
    InvalidMessage = 8,
    /// report_too_early(9)
    ReportTooEarly = 9,
    /// task_not_started(10)
    TaskNotStarted = 10,
    /// outdated_config(11)
    OutdatedConfig = 11,
}

impl ReportError {
    /// Every defined error, in codepoint order.
    pub const ALL: [ReportError; 11] = [
        ReportError::BatchCollected,
        ReportError::ReportReplayed,
        ReportError::ReportDropped,
        ReportError::HpkeUnknownConfigId,
        ReportError::HpkeDecryptError,
        ReportError::VdafVerifyError,
        ReportError::TaskExpired,
        ReportError::InvalidMessage,
        ReportError::ReportTooEarly,
        ReportError::TaskNotStarted,
        ReportError::OutdatedConfig,
    ];

    /// Parses a codepoint; `reserved(0)` and unknown values are refused.
    pub fn from_code(c: u8) -> Option<ReportError> {
        ReportError::ALL.iter().copied().find(|e| *e as u8 == c)
    }

    /// The spec's snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportError::BatchCollected => "batch_collected",
            ReportError::ReportReplayed => "report_replayed",
            ReportError::ReportDropped => "report_dropped",
            ReportError::HpkeUnknownConfigId => "hpke_unknown_config_id",
            ReportError::HpkeDecryptError => "hpke_decrypt_error",
            ReportError::VdafVerifyError => "vdaf_verify_error",
            ReportError::TaskExpired => "task_expired",
            ReportError::InvalidMessage => "invalid_message",
            ReportError::ReportTooEarly => "report_too_early",
            ReportError::TaskNotStarted => "task_not_started",
            ReportError::OutdatedConfig => "outdated_config",
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Encode for ReportError {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.push(*self as u8);
        Ok(())
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(1)
    }
}
impl Decode for ReportError {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        ReportError::from_code(u8::decode(r)?).ok_or(CodecError::UnexpectedValue)
    }
}

/// `struct ReportMetadata`: the public part of a report.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReportMetadata {
    /// Random report ID; the VDAF nonce.
    pub report_id: ReportId,
    /// Generation time, in units of the task's time precision.
    pub time: Time,
    /// Extensions visible to both aggregators.
    pub public_extensions: Extensions,
}

impl Encode for ReportMetadata {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.report_id.encode(out)?;
        self.time.encode(out)?;
        self.public_extensions.encode(out)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(16 + 8 + self.public_extensions.encoded_len()?)
    }
}
impl Decode for ReportMetadata {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(ReportMetadata {
            report_id: ReportId::decode(r)?,
            time: Time::decode(r)?,
            public_extensions: Extensions::decode(r)?,
        })
    }
}

/// `struct Report`: what a Client uploads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Public metadata.
    pub metadata: ReportMetadata,
    /// `opaque public_share<0..2^32-1>`
    pub public_share: Vec<u8>,
    /// The Leader's sealed `PlaintextInputShare`.
    pub leader_encrypted_input_share: HpkeCiphertext,
    /// The Helper's sealed `PlaintextInputShare`.
    pub helper_encrypted_input_share: HpkeCiphertext,
}

impl Encode for Report {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.metadata.encode(out)?;
        put_opaque(out, Prefix::U32, &self.public_share)?;
        self.leader_encrypted_input_share.encode(out)?;
        self.helper_encrypted_input_share.encode(out)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(
            self.metadata.encoded_len()?
                + 4
                + self.public_share.len()
                + self.leader_encrypted_input_share.encoded_len()?
                + self.helper_encrypted_input_share.encoded_len()?,
        )
    }
}
impl Decode for Report {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(Report {
            metadata: ReportMetadata::decode(r)?,
            public_share: get_opaque(r, Prefix::U32, 0)?,
            leader_encrypted_input_share: HpkeCiphertext::decode(r)?,
            helper_encrypted_input_share: HpkeCiphertext::decode(r)?,
        })
    }
}

/// `struct { Report reports[message_length]; } UploadRequest`: one or more reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRequest {
    /// The reports, in the order the client sent them.
    pub reports: Vec<Report>,
}

impl Encode for UploadRequest {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        for r in &self.reports {
            r.encode(out)?;
        }
        Ok(())
    }
    fn encoded_len(&self) -> Option<usize> {
        self.reports.iter().map(|r| r.encoded_len()).sum()
    }
}
impl Decode for UploadRequest {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(UploadRequest {
            reports: get_rest(r)?,
        })
    }
}

/// `struct ReportUploadStatus`: one refused report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportUploadStatus {
    /// The refused report.
    pub id: ReportId,
    /// Why.
    pub error: ReportError,
}

impl Encode for ReportUploadStatus {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.id.encode(out)?;
        self.error.encode(out)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(17)
    }
}
impl Decode for ReportUploadStatus {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(ReportUploadStatus {
            id: ReportId::decode(r)?,
            error: ReportError::decode(r)?,
        })
    }
}

/// `struct { ReportUploadStatus status[message_length]; } UploadErrors`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UploadErrors {
    /// Refused reports, in request order.
    pub status: Vec<ReportUploadStatus>,
}

impl Encode for UploadErrors {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        for s in &self.status {
            s.encode(out)?;
        }
        Ok(())
    }
}
impl Decode for UploadErrors {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(UploadErrors {
            status: get_rest(r)?,
        })
    }
}

/// `struct PlaintextInputShare`: what each aggregator decrypts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaintextInputShare {
    /// Extensions only this aggregator sees.
    pub private_extensions: Extensions,
    /// `opaque payload<1..2^32-1>`: the VDAF input share.
    pub payload: Vec<u8>,
}

impl Encode for PlaintextInputShare {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.private_extensions.encode(out)?;
        put_opaque(out, Prefix::U32, &self.payload)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(self.private_extensions.encoded_len()? + 4 + self.payload.len())
    }
}
impl Decode for PlaintextInputShare {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(PlaintextInputShare {
            private_extensions: Extensions::decode(r)?,
            payload: get_opaque(r, Prefix::U32, 1)?,
        })
    }
}

/// `struct InputShareAad`: binds an input share to its task, configuration and report.
/// Encoding only (it is authenticated data, never received).
pub struct InputShareAad<'a> {
    /// The task.
    pub task_id: &'a TaskId,
    /// The task's configuration, byte for byte as agreed.
    pub task_config: &'a TaskConfiguration,
    /// The report's metadata.
    pub metadata: &'a ReportMetadata,
    /// The report's public share.
    pub public_share: &'a [u8],
}

impl Encode for InputShareAad<'_> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.task_id.encode(out)?;
        self.task_config.encode(out)?;
        self.metadata.encode(out)?;
        put_opaque(out, Prefix::U32, self.public_share)
    }
}
