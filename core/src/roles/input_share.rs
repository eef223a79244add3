//! Input-share decryption and validation (DAP-18 sections 4.6.1.4 and 4.6.1.5), shared by
//! both aggregators.

use crate::hpke::{HpkeError, HpkeInfo, HpkeReceiverSet};
use crate::messages::{
    HpkeCiphertext, InputShareAad, PlaintextInputShare, ReportError, ReportMetadata, Role,
    TaskConfiguration, TaskId,
};
use crate::platform::Platform;
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
    /// How long the task keeps reports: older ones are `report_dropped`.
    pub retention: crate::store::ttl::Retention,
}

/// The X25519 shared values of a batch of input-share ciphertexts, computed through the
/// platform (see [`Platform::x25519_batch`]); `None` where a ciphertext is not for one of
/// this aggregator's X25519 keys. Opening then needs no scalar multiplication.
pub async fn shared_secrets<'a, P: Platform>(
    p: &P,
    keys: &HpkeReceiverSet,
    cts: impl Iterator<Item = &'a HpkeCiphertext>,
) -> Vec<Option<[u8; 32]>> {
    let cts: Vec<&HpkeCiphertext> = cts.collect();
    let mut out = vec![None; cts.len()];
    for kp in keys.keypairs() {
        let Some(sk) = kp.x25519_private_key() else {
            continue;
        };
        let (idx, peers): (Vec<usize>, Vec<[u8; 32]>) = cts
            .iter()
            .enumerate()
            .filter(|(_, ct)| ct.config_id == kp.config.id)
            .filter_map(|(i, ct)| Some((i, <[u8; 32]>::try_from(ct.enc.as_slice()).ok()?)))
            .unzip();
        if peers.is_empty() {
            continue;
        }
        for (i, dh) in idx.into_iter().zip(p.x25519_batch(&sk, &peers).await) {
            out[i] = dh;
        }
    }
    out
}

/// Checks a report's time and extensions and opens its input share for this aggregator,
/// using the precomputed X25519 shared value `dh` when there is one. Every failure is the
/// `ReportError` the spec assigns to it.
pub fn open_input_share(
    cx: &InputShareContext<'_>,
    metadata: &ReportMetadata,
    public_share: &[u8],
    ciphertext: &HpkeCiphertext,
    dh: Option<&[u8; 32]>,
) -> Result<PlaintextInputShare, ReportError> {
    check_report_time(cx.config, metadata.time, cx.now_secs, cx.skew_secs)?;
    // So old that its replay record may be gone (DAP-18 "Input Share Validation").
    if cx.retention.expired(metadata.time.0, cx.now_secs) {
        return Err(ReportError::ReportDropped);
    }
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
        .open_with_dh(ciphertext, HpkeInfo::InputShare(cx.role), &aad, dh)
        // DAP-18 "Input Share Decryption": an unrecognized configuration ID and a failed
        // decryption are both hpke_decrypt_error.
        .map_err(|_: HpkeError| ReportError::HpkeDecryptError)?;
    let share =
        PlaintextInputShare::get_decoded(&plaintext).map_err(|_| ReportError::InvalidMessage)?;
    // No report extension types are defined, so any extension is unrecognized. (Sorting and
    // uniqueness within each list are enforced by decoding.)
    if !metadata.public_extensions.is_empty() || !share.private_extensions.is_empty() {
        return Err(ReportError::InvalidMessage);
    }
    Ok(share)
}
