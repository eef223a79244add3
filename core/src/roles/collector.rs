//! The Collector: builds collection requests, opens both aggregate shares and unshards.

use crate::hpke::{HpkeError, HpkeInfo, HpkeKeypair};
use crate::messages::{
    AggregateShareAad, CollectionJobReq, CollectionJobResp, Extensions, Interval, Query, Role,
    TaskConfiguration, TaskId,
};
use crate::vdaf::{self, AggregateResult, Prio3Instance};
use prio::codec::Encode;

/// Why a collection result could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// An aggregate share did not open with the collector's key.
    #[error("cannot decrypt the {0} aggregate share (wrong collector key, or the share was not made for this request)")]
    Decrypt(&'static str, #[source] HpkeError),
    /// The shares did not unshard.
    #[error("cannot combine aggregate shares: {0}")]
    Unshard(String),
    /// The task's VDAF configuration is invalid.
    #[error("VDAF: {0}")]
    Vdaf(String),
}

/// An aggregate result with its batch's metadata.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Collection {
    /// Reports in the batch.
    pub report_count: u64,
    /// Smallest interval containing the reports' times (time-precision units).
    pub interval: Interval,
    /// The aggregate.
    pub result: AggregateResult,
}

/// The `CollectionJobReq` for a query (Prio3: empty aggregation parameter, no extensions).
pub fn collection_job_req(query: Query) -> CollectionJobReq {
    CollectionJobReq {
        query,
        agg_param: Vec::new(),
        extensions: Extensions::empty(),
    }
}

/// Opens both aggregate shares of `resp` and unshards them.
pub fn finish(
    task_id: &TaskId,
    config: &TaskConfiguration,
    key: &HpkeKeypair,
    req: &CollectionJobReq,
    resp: &CollectionJobResp,
) -> Result<Collection, CollectorError> {
    let aad = AggregateShareAad {
        task_id,
        task_config: config,
        collection_job_req: req,
    }
    .get_encoded()
    .map_err(|e| CollectorError::Unshard(e.to_string()))?;
    let leader = key
        .open(
            &resp.leader_encrypted_agg_share,
            HpkeInfo::AggregateShare(Role::Leader),
            &aad,
        )
        .map_err(|e| CollectorError::Decrypt("leader", e))?;
    let helper = key
        .open(
            &resp.helper_encrypted_agg_share,
            HpkeInfo::AggregateShare(Role::Helper),
            &aad,
        )
        .map_err(|e| CollectorError::Decrypt("helper", e))?;
    let inst =
        Prio3Instance::for_dap(&config.vdaf).map_err(|e| CollectorError::Vdaf(e.to_string()))?;
    let shares = [leader, helper];
    let result = crate::with_prio3!(&inst, |v| vdaf::unshard(v, &shares, resp.report_count))
        .map_err(|e| CollectorError::Unshard(e.to_string()))?;
    Ok(Collection {
        report_count: resp.report_count,
        interval: resp.interval,
        result,
    })
}
