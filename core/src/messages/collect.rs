//! Collection messages: queries, collection jobs, aggregate-share requests.

use super::{BatchId, BatchMode, Extensions, HpkeCiphertext, Interval, TaskConfiguration, TaskId};
use crate::codec::{get_array, get_len, get_opaque, put_opaque, take, Prefix};
use prio::codec::{CodecError, Decode, Encode};
use std::io::Cursor;

/// `struct Query { BatchMode batch_mode; opaque config<0..2^16-1>; }`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// time_interval: `TimeIntervalQueryConfig { Interval batch_interval; }`
    TimeInterval(Interval),
    /// leader_selected: empty config, "the next batch".
    LeaderSelected,
}

impl Query {
    /// The query's batch mode.
    pub fn batch_mode(&self) -> BatchMode {
        match self {
            Query::TimeInterval(_) => BatchMode::TimeInterval,
            Query::LeaderSelected => BatchMode::LeaderSelected,
        }
    }
}

impl Encode for Query {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.batch_mode().encode(out)?;
        match self {
            Query::TimeInterval(i) => put_opaque(out, Prefix::U16, &i.get_encoded()?),
            Query::LeaderSelected => put_opaque(out, Prefix::U16, &[]),
        }
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(match self {
            Query::TimeInterval(_) => 1 + 2 + 16,
            Query::LeaderSelected => 3,
        })
    }
}
impl Decode for Query {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        let mode = BatchMode::decode(r)?;
        let len = get_len(r, Prefix::U16)?;
        let config = take(r, len)?;
        Ok(match mode {
            BatchMode::TimeInterval => Query::TimeInterval(Interval::get_decoded(config)?),
            BatchMode::LeaderSelected if config.is_empty() => Query::LeaderSelected,
            BatchMode::LeaderSelected => return Err(CodecError::UnexpectedValue),
        })
    }
}

/// `struct CollectionJobReq`: what the Collector asks the Leader for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CollectionJobReq {
    /// Which batch.
    pub query: Query,
    /// `opaque agg_param<0..2^32-1>`
    pub agg_param: Vec<u8>,
    /// Collection-job extensions, sorted by type.
    pub extensions: Extensions,
}

impl Encode for CollectionJobReq {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.query.encode(out)?;
        put_opaque(out, Prefix::U32, &self.agg_param)?;
        self.extensions.encode(out)
    }
}
impl Decode for CollectionJobReq {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(CollectionJobReq {
            query: Query::decode(r)?,
            agg_param: get_opaque(r, Prefix::U32, 0)?,
            extensions: Extensions::decode(r)?,
        })
    }
}

/// `struct CollectionJobResp`: both encrypted aggregate shares and the batch's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionJobResp {
    /// Reports in the batch.
    pub report_count: u64,
    /// Smallest interval containing every report's time.
    pub interval: Interval,
    /// The Leader's aggregate share, sealed to the Collector.
    pub leader_encrypted_agg_share: HpkeCiphertext,
    /// The Helper's aggregate share, sealed to the Collector.
    pub helper_encrypted_agg_share: HpkeCiphertext,
}

impl Encode for CollectionJobResp {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.report_count.encode(out)?;
        self.interval.encode(out)?;
        self.leader_encrypted_agg_share.encode(out)?;
        self.helper_encrypted_agg_share.encode(out)
    }
}
impl Decode for CollectionJobResp {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(CollectionJobResp {
            report_count: u64::decode(r)?,
            interval: Interval::decode(r)?,
            leader_encrypted_agg_share: HpkeCiphertext::decode(r)?,
            helper_encrypted_agg_share: HpkeCiphertext::decode(r)?,
        })
    }
}

/// `struct BatchSelector { BatchMode batch_mode; opaque config<0..2^16-1>; }`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BatchSelector {
    /// time_interval: the batch interval.
    TimeInterval(Interval),
    /// leader_selected: the batch ID the Leader chose.
    LeaderSelected(BatchId),
}

impl BatchSelector {
    /// The selector's batch mode.
    pub fn batch_mode(&self) -> BatchMode {
        match self {
            BatchSelector::TimeInterval(_) => BatchMode::TimeInterval,
            BatchSelector::LeaderSelected(_) => BatchMode::LeaderSelected,
        }
    }
}

impl Encode for BatchSelector {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.batch_mode().encode(out)?;
        match self {
            BatchSelector::TimeInterval(i) => put_opaque(out, Prefix::U16, &i.get_encoded()?),
            BatchSelector::LeaderSelected(id) => put_opaque(out, Prefix::U16, &id.0),
        }
    }
}
impl Decode for BatchSelector {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        let mode = BatchMode::decode(r)?;
        let len = get_len(r, Prefix::U16)?;
        let config = take(r, len)?;
        Ok(match mode {
            BatchMode::TimeInterval => BatchSelector::TimeInterval(Interval::get_decoded(config)?),
            BatchMode::LeaderSelected => {
                BatchSelector::LeaderSelected(BatchId::get_decoded(config)?)
            }
        })
    }
}

/// `struct AggregateShareReq`: the Leader asks the Helper for its share of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateShareReq {
    /// The Collector's request, passed through.
    pub collection_job_req: CollectionJobReq,
    /// The batch the Leader chose.
    pub batch_selector: BatchSelector,
    /// The Leader's report count for the batch.
    pub report_count: u64,
    /// The Leader's checksum for the batch.
    pub checksum: [u8; 32],
}

impl Encode for AggregateShareReq {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.collection_job_req.encode(out)?;
        self.batch_selector.encode(out)?;
        self.report_count.encode(out)?;
        out.extend_from_slice(&self.checksum);
        Ok(())
    }
}
impl Decode for AggregateShareReq {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(AggregateShareReq {
            collection_job_req: CollectionJobReq::decode(r)?,
            batch_selector: BatchSelector::decode(r)?,
            report_count: u64::decode(r)?,
            checksum: get_array(r)?,
        })
    }
}

/// `struct AggregateShare { HpkeCiphertext encrypted_aggregate_share; }`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregateShare {
    /// The Helper's aggregate share, sealed to the Collector.
    pub encrypted_aggregate_share: HpkeCiphertext,
}

impl Encode for AggregateShare {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.encrypted_aggregate_share.encode(out)
    }
}
impl Decode for AggregateShare {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(AggregateShare {
            encrypted_aggregate_share: HpkeCiphertext::decode(r)?,
        })
    }
}

/// `struct AggregateShareAad`: binds an aggregate share to its task and collection request.
pub struct AggregateShareAad<'a> {
    /// The task.
    pub task_id: &'a TaskId,
    /// The task's configuration.
    pub task_config: &'a TaskConfiguration,
    /// The Collector's request.
    pub collection_job_req: &'a CollectionJobReq,
}

impl Encode for AggregateShareAad<'_> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.task_id.encode(out)?;
        self.task_config.encode(out)?;
        self.collection_job_req.encode(out)
    }
}
