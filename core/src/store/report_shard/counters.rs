//! A report shard's counters and its record of the last job failure.

use super::super::{get, put, Kv, StoreError};
use serde::{Deserialize, Serialize};

/// The last time a job of this shard was given up, and why (no secrets: a status, a
/// problem type and words).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerFailure {
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// Why, in words.
    pub reason: String,
}

/// Adds to counters (kept in the shard's meta row, which most requests write anyway).
pub(super) fn add(kv: &mut impl Kv, items: &[(&str, u64)]) -> Result<(), StoreError> {
    if items.iter().all(|(_, n)| *n == 0) {
        return Ok(());
    }
    let mut m = super::meta(kv)?;
    m.count(items);
    put(kv, b"m", &m)
}

/// Every counter, by name.
pub(super) fn all(kv: &impl Kv) -> Result<Vec<(String, u64)>, StoreError> {
    Ok(super::meta(kv)?.counters.into_iter().collect())
}

/// Remembers a failure (the newest wins) and counts it as an abandoned job.
pub(super) fn record_failure(kv: &mut impl Kv, f: PeerFailure) -> Result<(), StoreError> {
    put(kv, b"pf", &f)
}

/// The last failure, if it happened at or after `since_ms`.
pub(super) fn last_failure(kv: &impl Kv, since_ms: u64) -> Result<Option<PeerFailure>, StoreError> {
    Ok(get::<PeerFailure>(kv, b"pf")?.filter(|f| f.at_ms >= since_ms))
}

/// A `(name, increment)` item for [`super::ShardReq::Count`].
pub fn count(name: &str, n: u64) -> (String, u64) {
    (name.to_string(), n)
}
