//! Collected marks of one bucket shard: which time intervals and leader-selected batches a
//! collection (Leader collection job or Helper aggregate-share request) has taken. A mark
//! can be undone by the collection that set it, so a refused collection changes nothing.

use super::super::{get, key, kv::prefix_end, put, ttl, Kv, StoreError};
use super::{BatchTarget, BucketKey};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct CollectedRange {
    end: u64,
    by: [u8; 16],
    /// When the mark expires (its `ttl` entry).
    at: u64,
}

/// The mark of a leader-selected batch.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct BatchMark {
    by: [u8; 16],
    at: u64,
}

fn range_key(start: u64) -> Vec<u8> {
    key(&[b"ci", &start.to_be_bytes()])
}

fn batch_key(id: &crate::messages::BatchId) -> Vec<u8> {
    key(&[b"cb", &id.0])
}

fn start_of(k: &[u8]) -> Result<u64, StoreError> {
    k.get(2..10)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| StoreError::Codec("range key".into()))
}

/// The last collected range starting before `end`, if it reaches past `start`.
fn range_overlapping(
    kv: &impl Kv,
    start: u64,
    end: u64,
) -> Result<Option<(u64, CollectedRange)>, StoreError> {
    let stop = if end == u64::MAX {
        prefix_end(b"ci")
    } else {
        range_key(end)
    };
    let found = kv.scan(b"ci", &stop, 1, true)?;
    if let Some((k, v)) = found.into_iter().next() {
        let r: CollectedRange = super::super::from_bytes(&v)?;
        if r.end > start {
            return Ok(Some((start_of(&k)?, r)));
        }
    }
    Ok(None)
}

/// Who collected bucket `b`, if anyone.
pub(super) fn collected_by(kv: &impl Kv, b: BucketKey) -> Result<Option<[u8; 16]>, StoreError> {
    match b {
        BucketKey::Time(t) => Ok(range_overlapping(kv, t, t.saturating_add(1))?.map(|(_, r)| r.by)),
        BucketKey::Batch(id) => Ok(get::<BatchMark>(kv, &batch_key(&id))?.map(|m| m.by)),
    }
}

/// Whether any bucket of `target` was collected by a collection other than `by` (an
/// identical mark by the same collection is not an overlap).
pub(super) fn overlaps(
    kv: &impl Kv,
    by: Option<[u8; 16]>,
    target: &BatchTarget,
) -> Result<bool, StoreError> {
    match target {
        BatchTarget::Interval(i) => {
            let end = i.end().map_or(u64::MAX, |e| e.0);
            Ok(match range_overlapping(kv, i.start.0, end)? {
                Some((s, r)) => !(Some(r.by) == by && s == i.start.0 && r.end == end),
                None => false,
            })
        }
        BatchTarget::Batch(id) => Ok(match get::<BatchMark>(kv, &batch_key(id))? {
            Some(m) => Some(m.by) != by,
            None => false,
        }),
    }
}

/// Marks `target` collected by `by`, to be forgotten at `expires_at`. The caller checked
/// [`overlaps`] first; marking the same target again by the same collection is a no-op.
pub(super) fn mark(
    kv: &mut impl Kv,
    by: [u8; 16],
    target: &BatchTarget,
    expires_at: u64,
) -> Result<(), StoreError> {
    match target {
        BatchTarget::Interval(i) => {
            let end = i
                .end()
                .ok_or_else(|| StoreError::Invariant("interval overflows".into()))?;
            if range_overlapping(kv, i.start.0, end.0)?.is_none() {
                let k = range_key(i.start.0);
                let r = CollectedRange {
                    end: end.0,
                    by,
                    at: expires_at,
                };
                put(kv, &k, &r)?;
                ttl::set(kv, expires_at, &k)?;
            }
        }
        BatchTarget::Batch(id) => {
            let k = batch_key(id);
            if get::<BatchMark>(kv, &k)?.is_none() {
                put(kv, &k, &BatchMark { by, at: expires_at })?;
                ttl::set(kv, expires_at, &k)?;
            }
        }
    }
    Ok(())
}

/// Removes the mark that `by` set on exactly `target`, if it set one. Marks of other
/// collections are left alone. Returns whether a mark was removed.
pub(super) fn unmark(
    kv: &mut impl Kv,
    by: [u8; 16],
    target: &BatchTarget,
) -> Result<bool, StoreError> {
    let (k, at) = match target {
        BatchTarget::Interval(i) => {
            let k = range_key(i.start.0);
            match get::<CollectedRange>(kv, &k)? {
                Some(r) if r.by == by && Some(r.end) == i.end().map(|e| e.0) => (k, r.at),
                _ => return Ok(false),
            }
        }
        BatchTarget::Batch(id) => {
            let k = batch_key(id);
            match get::<BatchMark>(kv, &k)? {
                Some(m) if m.by == by => (k, m.at),
                _ => return Ok(false),
            }
        }
    };
    kv.delete(&k)?;
    ttl::clear(kv, at, &k)?;
    Ok(true)
}
