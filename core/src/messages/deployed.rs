//! The two encodings of the aggregation-job messages that DAP-18 peers speak.
//!
//! DAP-18 (section "Helper Initialization") encodes `AggregationJobInitReq` as
//! `verification_key_id || agg_param<u32> || extensions<u16> || VerifyInit[rest]`, with the
//! leader-selected batch ID in the `leader_selected_batch_id` extension, and
//! `AggregationJobResp` / `AggregationJobContinueReq` lists to the end of the message. The
//! deployed DAP-18 implementations (Janus, as of its main branch of 2026-08-20) still use
//! the earlier drafts' encoding: a `PartialBatchSelector` (`batch_mode u8 || body<u16>`:
//! empty for time_interval, the batch ID for leader_selected) instead of the extensions,
//! and `<u32>` length prefixes on the three lists. Every other message is the same in both.
//!
//! Both are read into the same structs; [`AggJobEncoding`] says which bytes a peer gets.

use super::{
    AggregationJobContinueReq, AggregationJobInitReq, AggregationJobResp, BatchId, Extension,
    Extensions, AGG_JOB_EXTENSION_LEADER_SELECTED_BATCH_ID,
};
use crate::codec::{get_items, get_opaque, put_items, put_opaque, Prefix};
use prio::codec::{CodecError, Decode, Encode};
use serde::{Deserialize, Serialize};
use std::io::Cursor;

/// Which encoding of the aggregation-job messages a peer speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AggJobEncoding {
    /// As DAP-18 specifies.
    Dap18,
    /// As deployed peers send it: a partial batch selector and length-prefixed lists.
    PartialBatchSelector,
}

impl AggJobEncoding {
    /// The other encoding.
    pub fn other(self) -> AggJobEncoding {
        match self {
            AggJobEncoding::Dap18 => AggJobEncoding::PartialBatchSelector,
            AggJobEncoding::PartialBatchSelector => AggJobEncoding::Dap18,
        }
    }

    /// Encodes an init request. The deployed encoding has no room for extensions other
    /// than the leader-selected batch ID.
    pub fn encode_init(self, req: &AggregationJobInitReq) -> Result<Vec<u8>, CodecError> {
        match self {
            AggJobEncoding::Dap18 => req.get_encoded(),
            AggJobEncoding::PartialBatchSelector => {
                let mut out = Vec::new();
                req.verification_key_id.encode(&mut out)?;
                put_opaque(&mut out, Prefix::U32, &req.agg_param)?;
                let batch = req
                    .extensions
                    .get(AGG_JOB_EXTENSION_LEADER_SELECTED_BATCH_ID);
                if req.extensions.types().count() > usize::from(batch.is_some()) {
                    return Err(CodecError::UnexpectedValue);
                }
                match batch {
                    Some(id) => {
                        out.push(2);
                        put_opaque(&mut out, Prefix::U16, id)?;
                    }
                    None => {
                        out.push(1);
                        put_opaque(&mut out, Prefix::U16, &[])?;
                    }
                }
                put_items(&mut out, Prefix::U32, &req.verify_inits)?;
                Ok(out)
            }
        }
    }

    /// Decodes an init request, the whole body.
    pub fn decode_init(self, body: &[u8]) -> Result<AggregationJobInitReq, CodecError> {
        match self {
            AggJobEncoding::Dap18 => AggregationJobInitReq::get_decoded(body),
            AggJobEncoding::PartialBatchSelector => {
                let mut r = Cursor::new(body);
                let verification_key_id = u8::decode(&mut r)?;
                let agg_param = get_opaque(&mut r, Prefix::U32, 0)?;
                let mode = u8::decode(&mut r)?;
                let selector = get_opaque(&mut r, Prefix::U16, 0)?;
                let extensions = match (mode, selector.len()) {
                    (1, 0) => Extensions::empty(),
                    (2, 32) => {
                        BatchId::from_slice(&selector).ok_or(CodecError::UnexpectedValue)?;
                        Extensions::new(vec![Extension {
                            extension_type: AGG_JOB_EXTENSION_LEADER_SELECTED_BATCH_ID,
                            extension_data: selector,
                        }])?
                    }
                    _ => return Err(CodecError::UnexpectedValue),
                };
                let verify_inits = get_items(&mut r, Prefix::U32)?;
                if (r.position() as usize) != body.len() {
                    return Err(CodecError::BytesLeftOver(
                        body.len() - r.position() as usize,
                    ));
                }
                Ok(AggregationJobInitReq {
                    verification_key_id,
                    agg_param,
                    extensions,
                    verify_inits,
                })
            }
        }
    }

    /// Decodes an init request in whichever encoding it is in, trying `first` first.
    pub fn decode_init_any(
        first: AggJobEncoding,
        body: &[u8],
    ) -> Result<(AggregationJobInitReq, AggJobEncoding), CodecError> {
        match first.decode_init(body) {
            Ok(req) => Ok((req, first)),
            Err(e) => match first.other().decode_init(body) {
                Ok(req) => Ok((req, first.other())),
                Err(_) => Err(e),
            },
        }
    }

    /// Encodes a job response.
    pub fn encode_resp(self, resp: &AggregationJobResp) -> Result<Vec<u8>, CodecError> {
        match self {
            AggJobEncoding::Dap18 => resp.get_encoded(),
            AggJobEncoding::PartialBatchSelector => {
                let mut out = Vec::new();
                put_items(&mut out, Prefix::U32, &resp.verify_resps)?;
                Ok(out)
            }
        }
    }

    /// Decodes a job response.
    pub fn decode_resp(self, body: &[u8]) -> Result<AggregationJobResp, CodecError> {
        match self {
            AggJobEncoding::Dap18 => AggregationJobResp::get_decoded(body),
            AggJobEncoding::PartialBatchSelector => {
                let mut r = Cursor::new(body);
                let verify_resps = get_items(&mut r, Prefix::U32)?;
                if (r.position() as usize) != body.len() {
                    return Err(CodecError::BytesLeftOver(
                        body.len() - r.position() as usize,
                    ));
                }
                Ok(AggregationJobResp { verify_resps })
            }
        }
    }

    /// Decodes a continuation request.
    pub fn decode_continue(self, body: &[u8]) -> Result<AggregationJobContinueReq, CodecError> {
        match self {
            AggJobEncoding::Dap18 => AggregationJobContinueReq::get_decoded(body),
            AggJobEncoding::PartialBatchSelector => {
                let mut r = Cursor::new(body);
                let step = u16::decode(&mut r)?;
                let verify_continues = get_items(&mut r, Prefix::U32)?;
                if (r.position() as usize) != body.len() {
                    return Err(CodecError::BytesLeftOver(
                        body.len() - r.position() as usize,
                    ));
                }
                Ok(AggregationJobContinueReq {
                    step,
                    verify_continues,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{
        HpkeCiphertext, HpkeConfigId, ReportId, ReportMetadata, ReportShare, Time, VerifyInit,
        VerifyResp, VerifyRespResult,
    };

    fn init(batch: Option<[u8; 32]>) -> AggregationJobInitReq {
        let extensions = match batch {
            Some(b) => Extensions::new(vec![Extension {
                extension_type: AGG_JOB_EXTENSION_LEADER_SELECTED_BATCH_ID,
                extension_data: b.to_vec(),
            }])
            .unwrap(),
            None => Extensions::empty(),
        };
        AggregationJobInitReq {
            verification_key_id: 0,
            agg_param: Vec::new(),
            extensions,
            verify_inits: vec![VerifyInit {
                report_share: ReportShare {
                    metadata: ReportMetadata {
                        report_id: ReportId([7; 16]),
                        time: Time(9),
                        public_extensions: Extensions::empty(),
                    },
                    public_share: vec![1, 2],
                    encrypted_input_share: HpkeCiphertext {
                        config_id: HpkeConfigId(1),
                        enc: vec![3; 32],
                        payload: vec![4; 5],
                    },
                },
                payload: vec![5, 6],
            }],
        }
    }

    #[test]
    fn both_encodings_round_trip_and_are_told_apart() {
        for batch in [None, Some([8u8; 32])] {
            let req = init(batch);
            let deployed = AggJobEncoding::PartialBatchSelector
                .encode_init(&req)
                .unwrap();
            // verification_key_id, agg_param<u32>, then the partial batch selector.
            let mode = if batch.is_some() { 2 } else { 1 };
            assert_eq!(&deployed[..6], &[0, 0, 0, 0, 0, mode]);
            let dap18 = AggJobEncoding::Dap18.encode_init(&req).unwrap();
            assert_ne!(deployed, dap18);
            for (bytes, e) in [
                (&deployed, AggJobEncoding::PartialBatchSelector),
                (&dap18, AggJobEncoding::Dap18),
            ] {
                assert_eq!(e.decode_init(bytes).unwrap(), req);
                assert!(e.other().decode_init(bytes).is_err());
                for first in [AggJobEncoding::Dap18, AggJobEncoding::PartialBatchSelector] {
                    assert_eq!(
                        AggJobEncoding::decode_init_any(first, bytes).unwrap(),
                        (req.clone(), e)
                    );
                }
            }
        }
        let resp = AggregationJobResp {
            verify_resps: vec![VerifyResp {
                report_id: ReportId([7; 16]),
                result: VerifyRespResult::Continue(vec![1]),
            }],
        };
        let deployed = AggJobEncoding::PartialBatchSelector
            .encode_resp(&resp)
            .unwrap();
        assert_eq!(&deployed[..4], &((deployed.len() - 4) as u32).to_be_bytes());
        assert_eq!(
            AggJobEncoding::PartialBatchSelector
                .decode_resp(&deployed)
                .unwrap(),
            resp
        );
        assert!(AggJobEncoding::Dap18.decode_resp(&deployed).is_err());
    }

    #[test]
    fn the_deployed_encoding_has_no_room_for_other_extensions() {
        let mut req = init(None);
        req.extensions = Extensions::new(vec![Extension {
            extension_type: 0x7777,
            extension_data: vec![],
        }])
        .unwrap();
        assert!(AggJobEncoding::PartialBatchSelector
            .encode_init(&req)
            .is_err());
    }
}
