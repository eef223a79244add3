//! Prio3 dispatch: one [`Prio3Instance`] per task configuration, and generic ping-pong
//! helpers that the roles call through [`with_prio3!`](crate::with_prio3). Every VDAF object
//! crossing this boundary is bytes in, bytes out, with failures typed as [`ReportError`]s.

mod measurement;

pub use measurement::{AggregateResult, Measurement, MeasurementError};

use crate::messages::{ReportError, ReportId, TaskId, VdafConfig};
use prio::codec::{Decode, Encode, ParameterizedDecode};
use prio::topology::ping_pong::{
    PingPongContinuation, PingPongMessage, PingPongState, PingPongTopology,
};
use prio::vdaf::prio3::{Prio3Count, Prio3Histogram, Prio3MultihotCountVec, Prio3Sum, Prio3SumVec};
use prio::vdaf::{Aggregatable, Aggregator, Client, Collector, VdafError};

/// Length of a Prio3 verification key (XofTurboShake128 seed).
pub const VERIFY_KEY_LEN: usize = 32;

/// A Prio3 VDAF verification key.
pub type VerifyKey = [u8; VERIFY_KEY_LEN];

/// An instantiated Prio3 variant, built from a [`VdafConfig`].
#[derive(Clone, Debug)]
pub enum Prio3Instance {
    /// Prio3Count
    Count(Prio3Count),
    /// Prio3Sum
    Sum(Prio3Sum),
    /// Prio3SumVec
    SumVec(Prio3SumVec),
    /// Prio3Histogram
    Histogram(Prio3Histogram),
    /// Prio3MultihotCountVec
    MultihotCountVec(Prio3MultihotCountVec),
}

/// Runs `$body` with `$v` bound to the concrete Prio3 type inside `$inst`.
#[macro_export]
macro_rules! with_prio3 {
    ($inst:expr, |$v:ident| $body:expr) => {
        match $inst {
            $crate::vdaf::Prio3Instance::Count($v) => $body,
            $crate::vdaf::Prio3Instance::Sum($v) => $body,
            $crate::vdaf::Prio3Instance::SumVec($v) => $body,
            $crate::vdaf::Prio3Instance::Histogram($v) => $body,
            $crate::vdaf::Prio3Instance::MultihotCountVec($v) => $body,
        }
    };
}

impl Prio3Instance {
    /// Instantiates the VDAF for `num_aggregators` aggregators (DAP always uses 2).
    pub fn new(config: &VdafConfig, num_aggregators: u8) -> Result<Prio3Instance, VdafError> {
        let usize_of = |v: u64| {
            usize::try_from(v).map_err(|_| VdafError::Uncategorized("parameter too large".into()))
        };
        Ok(match *config {
            VdafConfig::Prio3Count => Prio3Instance::Count(Prio3Count::new_count(num_aggregators)?),
            VdafConfig::Prio3Sum { max_measurement } => {
                Prio3Instance::Sum(Prio3Sum::new_sum(num_aggregators, max_measurement)?)
            }
            VdafConfig::Prio3SumVec {
                length,
                max_measurement,
                chunk_length,
            } => Prio3Instance::SumVec(Prio3SumVec::new_sum_vec(
                num_aggregators,
                max_measurement as u128,
                length as usize,
                chunk_length as usize,
            )?),
            VdafConfig::Prio3Histogram {
                length,
                chunk_length,
            } => Prio3Instance::Histogram(Prio3Histogram::new_histogram(
                num_aggregators,
                length as usize,
                chunk_length as usize,
            )?),
            VdafConfig::Prio3MultihotCountVec {
                length,
                chunk_length,
                max_weight,
            } => Prio3Instance::MultihotCountVec(Prio3MultihotCountVec::new_multihot_count_vec(
                num_aggregators,
                length as usize,
                usize_of(max_weight)?,
                chunk_length as usize,
            )?),
        })
    }

    /// The DAP instantiation: two aggregators.
    pub fn for_dap(config: &VdafConfig) -> Result<Prio3Instance, VdafError> {
        Prio3Instance::new(config, 2)
    }
}

/// The VDAF context string: `"dap-18" || task_id`.
pub fn vdaf_context(task_id: &TaskId) -> Vec<u8> {
    let mut ctx = b"dap-18".to_vec();
    ctx.extend_from_slice(&task_id.0);
    ctx
}

/// What DAP needs of a VDAF beyond `prio`'s traits: conversions between our measurement and
/// result types and the VDAF's own. Implemented for the five Prio3 variants.
pub trait DapVdaf:
    Aggregator<VERIFY_KEY_LEN, 16, AggregationParam = ()> + Client<16> + Collector
{
    /// Converts a measurement, refusing the wrong variant or an out-of-range value.
    fn measurement(&self, m: &Measurement) -> Result<Self::Measurement, MeasurementError>;
    /// Converts an aggregate result.
    fn result(r: Self::AggregateResult) -> AggregateResult;
}

/// Shards `measurement` for a report: returns the encoded public share and the encoded
/// Leader and Helper input shares.
pub fn shard<V: DapVdaf>(
    vdaf: &V,
    ctx: &[u8],
    measurement: &Measurement,
    report_id: &ReportId,
) -> Result<(Vec<u8>, [Vec<u8>; 2]), MeasurementError> {
    let m = vdaf.measurement(measurement)?;
    let (public_share, input_shares) = vdaf
        .shard(ctx, &m, &report_id.0)
        .map_err(|e| MeasurementError::Rejected(e.to_string()))?;
    let enc = |e: Result<Vec<u8>, _>| {
        e.map_err(|e: prio::codec::CodecError| MeasurementError::Rejected(e.to_string()))
    };
    let public = enc(public_share.get_encoded())?;
    let [leader, helper]: [_; 2] = input_shares
        .try_into()
        .map_err(|_| MeasurementError::Rejected("VDAF did not produce two input shares".into()))?;
    Ok((
        public,
        [enc(leader.get_encoded())?, enc(helper.get_encoded())?],
    ))
}

fn decode_shares<V: DapVdaf>(
    vdaf: &V,
    agg_id: usize,
    public_share: &[u8],
    input_share: &[u8],
) -> Result<(V::PublicShare, V::InputShare), ReportError> {
    let public = V::PublicShare::get_decoded_with_param(vdaf, public_share)
        .map_err(|_| ReportError::InvalidMessage)?;
    let input = V::InputShare::get_decoded_with_param(&(vdaf, agg_id), input_share)
        .map_err(|_| ReportError::InvalidMessage)?;
    Ok((public, input))
}

/// `ping_pong_leader_init`: the Leader's verification state and its outbound message.
pub fn leader_init<V: DapVdaf>(
    vdaf: &V,
    verify_key: &VerifyKey,
    ctx: &[u8],
    report_id: &ReportId,
    public_share: &[u8],
    input_share: &[u8],
) -> Result<(V::VerifyState, Vec<u8>), ReportError> {
    let (public, input) = decode_shares(vdaf, 0, public_share, input_share)?;
    let continued = vdaf
        .leader_initialized(verify_key, ctx, &(), &report_id.0, &public, &input)
        .map_err(|_| ReportError::VdafVerifyError)?;
    let outbound = continued
        .message
        .get_encoded()
        .map_err(|_| ReportError::InvalidMessage)?;
    Ok((continued.verifier_state, outbound))
}

/// A verification state transition with an outbound message or an output share.
#[derive(Clone, Debug)]
pub enum Transition<S, O> {
    /// More rounds follow: keep `state`, send `outbound`.
    Continued {
        /// The state to keep.
        state: S,
        /// The encoded ping-pong message for the peer.
        outbound: Vec<u8>,
    },
    /// Done here; the peer still needs `outbound`.
    FinishedWithOutbound {
        /// The output share to commit.
        out_share: O,
        /// The encoded ping-pong message for the peer.
        outbound: Vec<u8>,
    },
    /// Done; nothing to send.
    Finished {
        /// The output share to commit.
        out_share: O,
    },
}

fn evaluate<V: DapVdaf>(
    vdaf: &V,
    ctx: &[u8],
    continuation: PingPongContinuation<VERIFY_KEY_LEN, 16, V>,
) -> Result<Transition<V::VerifyState, V::OutputShare>, ReportError> {
    let state = continuation
        .evaluate(ctx, vdaf)
        .map_err(|_| ReportError::VdafVerifyError)?;
    let encode = |m: PingPongMessage| m.get_encoded().map_err(|_| ReportError::InvalidMessage);
    Ok(match state {
        PingPongState::Continued(c) => Transition::Continued {
            state: c.verifier_state,
            outbound: encode(c.message)?,
        },
        PingPongState::FinishedWithOutbound {
            output_share,
            message,
        } => Transition::FinishedWithOutbound {
            out_share: output_share,
            outbound: encode(message)?,
        },
        PingPongState::Finished { output_share } => Transition::Finished {
            out_share: output_share,
        },
    })
}

/// `ping_pong_helper_init`: the Helper's first transition, given the Leader's message.
pub fn helper_init<V: DapVdaf>(
    vdaf: &V,
    verify_key: &VerifyKey,
    ctx: &[u8],
    report_id: &ReportId,
    public_share: &[u8],
    input_share: &[u8],
    inbound: &[u8],
) -> Result<Transition<V::VerifyState, V::OutputShare>, ReportError> {
    let (public, input) = decode_shares(vdaf, 1, public_share, input_share)?;
    // DAP-18 maps every rejection by the ping-pong functions, including an undecodable
    // peer message, to vdaf_verify_error; only input-share decoding is invalid_message.
    let inbound =
        PingPongMessage::get_decoded(inbound).map_err(|_| ReportError::VdafVerifyError)?;
    let continuation = vdaf
        .helper_initialized(
            verify_key,
            ctx,
            &(),
            &report_id.0,
            &public,
            &input,
            &inbound,
        )
        .map_err(|_| ReportError::VdafVerifyError)?;
    evaluate(vdaf, ctx, continuation)
}

/// `ping_pong_leader_continued` (or `helper_continued` when `is_leader` is false).
pub fn continued<V: DapVdaf>(
    vdaf: &V,
    ctx: &[u8],
    is_leader: bool,
    state: V::VerifyState,
    inbound: &[u8],
) -> Result<Transition<V::VerifyState, V::OutputShare>, ReportError> {
    // DAP-18 maps every rejection by the ping-pong functions, including an undecodable
    // peer message, to vdaf_verify_error; only input-share decoding is invalid_message.
    let inbound =
        PingPongMessage::get_decoded(inbound).map_err(|_| ReportError::VdafVerifyError)?;
    let continuation = if is_leader {
        vdaf.leader_continued(ctx, &(), state, &inbound)
    } else {
        vdaf.helper_continued(ctx, &(), state, &inbound)
    }
    .map_err(|_| ReportError::VdafVerifyError)?;
    evaluate(vdaf, ctx, continuation)
}

/// Aggregate shares kept as bytes between storage round trips.
pub mod agg_share {
    use super::*;

    /// Why an aggregate share could not be combined.
    #[derive(Debug, thiserror::Error)]
    #[error("aggregate share: {0}")]
    pub struct AggShareError(pub String);

    /// The encoded empty aggregate share (`agg_init`).
    pub fn zero<V: DapVdaf>(vdaf: &V) -> Vec<u8> {
        // Encoding a vector of field elements cannot fail.
        vdaf.aggregate_init(&()).get_encoded().unwrap_or_default()
    }

    /// Decodes an aggregate share.
    pub fn decode<V: DapVdaf>(vdaf: &V, bytes: &[u8]) -> Result<V::AggregateShare, AggShareError> {
        V::AggregateShare::get_decoded_with_param(&(vdaf, &()), bytes)
            .map_err(|e| AggShareError(e.to_string()))
    }

    /// Encodes an aggregate share.
    pub fn encode<V: DapVdaf>(share: &V::AggregateShare) -> Result<Vec<u8>, AggShareError> {
        share
            .get_encoded()
            .map_err(|e| AggShareError(e.to_string()))
    }

    /// Aggregates output shares into a new aggregate share.
    pub fn aggregate<V: DapVdaf>(
        vdaf: &V,
        out_shares: impl IntoIterator<Item = V::OutputShare>,
    ) -> Result<V::AggregateShare, AggShareError> {
        vdaf.aggregate(&(), out_shares)
            .map_err(|e| AggShareError(e.to_string()))
    }

    /// `merge` on encoded shares: `a + b`, encoded.
    pub fn merge<V: DapVdaf>(vdaf: &V, a: &[u8], b: &[u8]) -> Result<Vec<u8>, AggShareError> {
        let mut a = decode(vdaf, a)?;
        let b = decode(vdaf, b)?;
        a.merge(&b).map_err(|e| AggShareError(e.to_string()))?;
        encode::<V>(&a)
    }

    /// Merges encoded shares for a runtime-chosen VDAF.
    pub fn merge_dyn(inst: &Prio3Instance, a: &[u8], b: &[u8]) -> Result<Vec<u8>, AggShareError> {
        crate::with_prio3!(inst, |v| merge(v, a, b))
    }

    /// The encoded empty share for a runtime-chosen VDAF.
    pub fn zero_dyn(inst: &Prio3Instance) -> Vec<u8> {
        crate::with_prio3!(inst, |v| zero(v))
    }
}

/// Unshards two encoded aggregate shares into the aggregate result.
pub fn unshard<V: DapVdaf>(
    vdaf: &V,
    shares: &[Vec<u8>],
    report_count: u64,
) -> Result<AggregateResult, agg_share::AggShareError> {
    let decoded = shares
        .iter()
        .map(|s| agg_share::decode(vdaf, s))
        .collect::<Result<Vec<_>, _>>()?;
    let n = usize::try_from(report_count)
        .map_err(|_| agg_share::AggShareError("report count".into()))?;
    vdaf.unshard(&(), decoded, n)
        .map(V::result)
        .map_err(|e| agg_share::AggShareError(e.to_string()))
}

/// Encodes an output share (for storage between steps).
pub fn encode_out_share<V: DapVdaf>(out: &V::OutputShare) -> Vec<u8> {
    // Encoding a vector of field elements cannot fail.
    out.get_encoded().unwrap_or_default()
}

/// Decodes an output share.
pub fn decode_out_share<V: DapVdaf>(vdaf: &V, bytes: &[u8]) -> Option<V::OutputShare> {
    V::OutputShare::get_decoded_with_param(&(vdaf, &()), bytes).ok()
}

/// Decodes a value that is `Decode` (re-exported for the roles).
pub fn decode<D: Decode>(bytes: &[u8]) -> Option<D> {
    D::get_decoded(bytes).ok()
}
