//! `/tasks/{id}/metrics/uploads` and `/tasks/{id}/metrics/aggregations`: Janus's counter
//! objects, filled from the Leader's report-shard counters (see `task_stats`), plus an
//! extension field `counters` with every raw counter. A counter not (yet) kept reads 0.

use super::{json, tasks, ApiError};
use crate::api::provision::task_stats;
use crate::http::Response;
use crate::messages::ReportError;
use crate::platform::Platform;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Janus's `TaskUploadCounter`, plus `counters`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetTaskUploadMetricsResp {
    /// Refused: their time bucket was collected.
    pub interval_collected: u64,
    /// Refused: malformed.
    pub report_decode_failure: u64,
    /// Refused: did not decrypt (this Leader opens shares during aggregation, so 0).
    pub report_decrypt_failure: u64,
    /// Refused: older than the report expiry age.
    pub report_expired: u64,
    /// Refused: sealed to an HPKE config this aggregator does not hold.
    pub report_outdated_key: u64,
    /// Accepted.
    pub report_success: u64,
    /// Refused: from the future.
    pub report_too_early: u64,
    /// Refused: before the task interval.
    pub task_not_started: u64,
    /// Refused: after the task interval or the task's `deactivate_at`.
    pub task_ended: u64,
    /// Refused for a duplicate extension (decoding refuses them: counted as malformed).
    pub duplicate_extension: u64,
    /// Extension: every raw counter of the task.
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
}

/// Janus's `TaskAggregationCounter`, plus `counters`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // each field counts the reports rejected for the error it names
pub struct GetTaskAggregationMetricsResp {
    /// Reports aggregated.
    pub success: u64,
    pub duplicate_extension: u64,
    pub public_share_encode_failure: u64,
    pub batch_collected: u64,
    pub report_replayed: u64,
    pub report_dropped: u64,
    pub hpke_unknown_config_id: u64,
    pub hpke_decrypt_failure: u64,
    pub vdaf_verify_error: u64,
    pub task_not_started: u64,
    pub task_expired: u64,
    pub invalid_message: u64,
    pub report_too_early: u64,
    pub helper_batch_collected: u64,
    pub helper_report_replayed: u64,
    pub helper_report_dropped: u64,
    pub helper_hpke_unknown_config_id: u64,
    pub helper_hpke_decrypt_failure: u64,
    pub helper_vdaf_verify_error: u64,
    pub helper_task_not_started: u64,
    pub helper_task_expired: u64,
    pub helper_invalid_message: u64,
    pub helper_report_too_early: u64,
    /// Extension: every raw counter of the task.
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
}

fn uploads(c: BTreeMap<String, u64>) -> GetTaskUploadMetricsResp {
    let n = |name: &str| c.get(name).copied().unwrap_or(0);
    let refused = |e: ReportError| n(&format!("upload_rejected:{}", e.as_str()));
    GetTaskUploadMetricsResp {
        interval_collected: refused(ReportError::BatchCollected),
        report_decode_failure: refused(ReportError::InvalidMessage),
        report_decrypt_failure: refused(ReportError::HpkeDecryptError),
        report_expired: refused(ReportError::ReportDropped),
        report_outdated_key: refused(ReportError::OutdatedConfig),
        report_success: n("uploaded"),
        report_too_early: refused(ReportError::ReportTooEarly),
        task_not_started: refused(ReportError::TaskNotStarted),
        task_ended: refused(ReportError::TaskExpired),
        duplicate_extension: 0,
        counters: c,
    }
}

fn aggregations(c: BTreeMap<String, u64>) -> GetTaskAggregationMetricsResp {
    let n = |name: &str| c.get(name).copied().unwrap_or(0);
    let ours = |e: ReportError| n(&format!("rejected:{}", e.as_str()));
    let helper = |e: ReportError| n(&format!("helper_rejected:{}", e.as_str()));
    use ReportError::*;
    GetTaskAggregationMetricsResp {
        success: n("aggregated"),
        duplicate_extension: 0,
        public_share_encode_failure: 0,
        batch_collected: ours(BatchCollected),
        report_replayed: ours(ReportReplayed),
        report_dropped: ours(ReportDropped),
        hpke_unknown_config_id: ours(HpkeUnknownConfigId),
        hpke_decrypt_failure: ours(HpkeDecryptError),
        vdaf_verify_error: ours(VdafVerifyError),
        task_not_started: ours(TaskNotStarted),
        task_expired: ours(TaskExpired),
        invalid_message: ours(InvalidMessage),
        report_too_early: ours(ReportTooEarly),
        helper_batch_collected: helper(BatchCollected),
        helper_report_replayed: helper(ReportReplayed),
        helper_report_dropped: helper(ReportDropped),
        helper_hpke_unknown_config_id: helper(HpkeUnknownConfigId),
        helper_hpke_decrypt_failure: helper(HpkeDecryptError),
        helper_vdaf_verify_error: helper(VdafVerifyError),
        helper_task_not_started: helper(TaskNotStarted),
        helper_task_expired: helper(TaskExpired),
        helper_invalid_message: helper(InvalidMessage),
        helper_report_too_early: helper(ReportTooEarly),
        counters: c,
    }
}

/// `GET /tasks/{id}/metrics/{uploads|aggregations}`.
pub(crate) async fn get<P: Platform>(p: &P, id: &str, kind: &str) -> Result<Response, ApiError> {
    let task = tasks::lookup(p, id).await?;
    let counters = task_stats(p, &task).await?;
    if kind == "uploads" {
        json(200, &uploads(counters))
    } else {
        json(200, &aggregations(counters))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_names_map_to_janus_fields() {
        let c: BTreeMap<String, u64> = [
            ("uploaded", 7),
            ("upload_rejected:outdated_config", 2),
            ("upload_rejected:task_expired", 3),
            ("aggregated", 5),
            ("rejected:vdaf_verify_error", 1),
            ("helper_rejected:report_replayed", 4),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let u = uploads(c.clone());
        assert_eq!(
            (u.report_success, u.report_outdated_key, u.task_ended),
            (7, 2, 3)
        );
        assert_eq!(u.report_too_early, 0, "a counter not kept reads 0");
        let a = aggregations(c.clone());
        assert_eq!(
            (a.success, a.vdaf_verify_error, a.helper_report_replayed),
            (5, 1, 4)
        );
        assert_eq!(a.counters, c);
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(v["counters"]["uploaded"], 7);
        assert_eq!(v.as_object().unwrap().len(), 11);
    }
}
