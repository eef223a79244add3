//! Input-share decryption and validation (DAP-18 sections 4.6.1.4 and 4.6.1.5), shared by
//! both aggregators.

use crate::hpke::{HpkeError, HpkeInfo, HpkeReceiverSet};
use crate::messages::{
    HpkeCiphertext, InputShareAad, PlaintextInputShare, ReportError, ReportMetadata, Role,
    TaskConfiguration, TaskId,
};
use crate::task::check_report_time;
use prio::codec::{Decode, Encode};

/// What an aggregator knows when it opens input shares.
pub struct InputShareContext<'a> {
    /// The task.
    pub task_id: &'a TaskId,
    /// Its configuration.
    pub config: &'a TaskConfiguration,
    /// Leader or Helper (the recipient).
    pub role: Role,
    /// This aggregator's key pairs.
    pub keys: &'a HpkeReceiverSet,
    /// The time the checks are made at (POSIX seconds).
    pub now_secs: u64,
    /// Tolerated clock skew (seconds).
    pub skew_secs: u64,
}

/// Checks a report's time and extensions and opens its input share for this aggregator.
/// Every failure is the `ReportError` the spec assigns to it.
pub fn open_input_share(
    cx: &InputShareContext<'_>,
    metadata: &ReportMetadata,
    public_share: &[u8],
    ciphertext: &HpkeCiphertext,
) -> Result<PlaintextInputShare, ReportError> {
    check_report_time(cx.config, metadata.time, cx.now_secs, cx.skew_secs)?;
    let aad = InputShareAad {
        task_id: cx.task_id,
        task_config: cx.config,
        metadata,
        public_share,
    }
    .get_encoded()
    .map_err(|_| ReportError::InvalidMessage)?;
    let plaintext = cx
        .keys
        .open(ciphertext, HpkeInfo::InputShare(cx.role), &aad)
        .map_err(|e| match e {
            HpkeError::UnknownConfigId(_) => ReportError::HpkeUnknownConfigId,
            _ => ReportError::HpkeDecryptError,
        })?;
    let share =
        PlaintextInputShare::get_decoded(&plaintext).map_err(|_| ReportError::InvalidMessage)?;
    // No report extension types are defined, so any extension is unrecognized. (Sorting and
    // uniqueness within each list are enforced by decoding.)
    if !metadata.public_extensions.is_empty() || !share.private_extensions.is_empty() {
        return Err(ReportError::InvalidMessage);
    }
    Ok(share)
}
