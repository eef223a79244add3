//! Aggregation-job messages exchanged between Leader and Helper.

use super::{Extensions, HpkeCiphertext, ReportError, ReportId, ReportMetadata};
use crate::codec::{get_opaque, get_rest, put_opaque, Prefix};
use prio::codec::{CodecError, Decode, Encode};
use std::io::Cursor;

/// Aggregation-job extension codepoint carrying the leader-selected batch ID.
pub const AGG_JOB_EXTENSION_LEADER_SELECTED_BATCH_ID: u16 = 1;

/// `struct ReportShare`: one report as the Helper sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportShare {
    /// The report's public metadata.
    pub metadata: ReportMetadata,
    /// `opaque public_share<0..2^32-1>`
    pub public_share: Vec<u8>,
    /// The Helper's sealed input share.
    pub encrypted_input_share: HpkeCiphertext,
}

impl Encode for ReportShare {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.metadata.encode(out)?;
        put_opaque(out, Prefix::U32, &self.public_share)?;
        self.encrypted_input_share.encode(out)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(
            self.metadata.encoded_len()?
                + 4
                + self.public_share.len()
                + self.encrypted_input_share.encoded_len()?,
        )
    }
}
impl Decode for ReportShare {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(ReportShare {
            metadata: ReportMetadata::decode(r)?,
            public_share: get_opaque(r, Prefix::U32, 0)?,
            encrypted_input_share: HpkeCiphertext::decode(r)?,
        })
    }
}

/// `struct VerifyInit`: a report share plus the Leader's first ping-pong message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyInit {
    /// The report share for the Helper.
    pub report_share: ReportShare,
    /// `opaque payload<1..2^32-1>`: an encoded ping-pong message.
    pub payload: Vec<u8>,
}

impl Encode for VerifyInit {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.report_share.encode(out)?;
        put_opaque(out, Prefix::U32, &self.payload)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(self.report_share.encoded_len()? + 4 + self.payload.len())
    }
}
impl Decode for VerifyInit {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(VerifyInit {
            report_share: ReportShare::decode(r)?,
            payload: get_opaque(r, Prefix::U32, 1)?,
        })
    }
}

/// `struct AggregationJobInitReq`: creates an aggregation job at the Helper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregationJobInitReq {
    /// Which prearranged VDAF verification key to use.
    pub verification_key_id: u8,
    /// `opaque agg_param<0..2^32-1>`
    pub agg_param: Vec<u8>,
    /// Aggregation-job extensions, sorted by type.
    pub extensions: Extensions,
    /// One entry per report, to the end of the message.
    pub verify_inits: Vec<VerifyInit>,
}

impl Encode for AggregationJobInitReq {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.verification_key_id.encode(out)?;
        put_opaque(out, Prefix::U32, &self.agg_param)?;
        self.extensions.encode(out)?;
        for vi in &self.verify_inits {
            vi.encode(out)?;
        }
        Ok(())
    }
    fn encoded_len(&self) -> Option<usize> {
        let mut n = 1 + 4 + self.agg_param.len() + self.extensions.encoded_len()?;
        for vi in &self.verify_inits {
            n += vi.encoded_len()?;
        }
        Some(n)
    }
}
impl Decode for AggregationJobInitReq {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(AggregationJobInitReq {
            verification_key_id: u8::decode(r)?,
            agg_param: get_opaque(r, Prefix::U32, 0)?,
            extensions: Extensions::decode(r)?,
            verify_inits: get_rest(r)?,
        })
    }
}

/// The body of a `VerifyResp`, selected by `VerifyRespType`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyRespResult {
    /// continue(0): carries the next ping-pong message.
    Continue(Vec<u8>),
    /// finish(1)
    Finish,
    /// reject(2)
    Reject(ReportError),
}

/// `struct VerifyResp`: the Helper's answer for one report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyResp {
    /// The report this answers.
    pub report_id: ReportId,
    /// What happened to it.
    pub result: VerifyRespResult,
}

impl Encode for VerifyResp {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.report_id.encode(out)?;
        match &self.result {
            VerifyRespResult::Continue(payload) => {
                out.push(0);
                put_opaque(out, Prefix::U32, payload)
            }
            VerifyRespResult::Finish => {
                out.push(1);
                Ok(())
            }
            VerifyRespResult::Reject(e) => {
                out.push(2);
                e.encode(out)
            }
        }
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(
            17 + match &self.result {
                VerifyRespResult::Continue(p) => 4 + p.len(),
                VerifyRespResult::Finish => 0,
                VerifyRespResult::Reject(_) => 1,
            },
        )
    }
}
impl Decode for VerifyResp {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        let report_id = ReportId::decode(r)?;
        let result = match u8::decode(r)? {
            0 => VerifyRespResult::Continue(get_opaque(r, Prefix::U32, 1)?),
            1 => VerifyRespResult::Finish,
            2 => VerifyRespResult::Reject(ReportError::decode(r)?),
            _ => return Err(CodecError::UnexpectedValue),
        };
        Ok(VerifyResp { report_id, result })
    }
}

/// `struct { VerifyResp verify_resps[message_length]; } AggregationJobResp`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AggregationJobResp {
    /// One entry per report, in request order.
    pub verify_resps: Vec<VerifyResp>,
}

impl Encode for AggregationJobResp {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        for v in &self.verify_resps {
            v.encode(out)?;
        }
        Ok(())
    }
    fn encoded_len(&self) -> Option<usize> {
        self.verify_resps.iter().map(|v| v.encoded_len()).sum()
    }
}
impl Decode for AggregationJobResp {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(AggregationJobResp {
            verify_resps: get_rest(r)?,
        })
    }
}

/// `struct VerifyContinue`: the Leader's next ping-pong message for one report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyContinue {
    /// The report.
    pub report_id: ReportId,
    /// `opaque payload<1..2^32-1>`
    pub payload: Vec<u8>,
}

impl Encode for VerifyContinue {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.report_id.encode(out)?;
        put_opaque(out, Prefix::U32, &self.payload)
    }
}
impl Decode for VerifyContinue {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(VerifyContinue {
            report_id: ReportId::decode(r)?,
            payload: get_opaque(r, Prefix::U32, 1)?,
        })
    }
}

/// `struct AggregationJobContinueReq`: advances a multi-round aggregation job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregationJobContinueReq {
    /// The step the Leader just reached (never 0).
    pub step: u16,
    /// One entry per report still in the job.
    pub verify_continues: Vec<VerifyContinue>,
}

impl Encode for AggregationJobContinueReq {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.step.encode(out)?;
        for v in &self.verify_continues {
            v.encode(out)?;
        }
        Ok(())
    }
}
impl Decode for AggregationJobContinueReq {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(AggregationJobContinueReq {
            step: u16::decode(r)?,
            verify_continues: get_rest(r)?,
        })
    }
}
