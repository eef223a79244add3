//! Expiry of stored entries, shared by every kind of state: a kind schedules a key for
//! deletion at a time, and the instance's alarm deletes what is due in bounded batches
//! ([`due`]). The index lives in the instance's own store, so scheduling and the write it
//! belongs to are one atomic request.
//!
//! Storage schema (inside every instance that uses it):
//!   "~" || at u64 BE (POSIX seconds) || key  -> ()

use super::kv::Entries;
use super::{key, Kv, StoreError};
use serde::{Deserialize, Serialize};

const PREFIX: &[u8] = b"~";

/// How long a task keeps what it stores: what requests that write expiring entries carry,
/// so that synchronous state machines need not read the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// The task's time precision (seconds per time unit).
    pub time_precision: u64,
    /// Seconds a report is kept after the end of its time bucket.
    pub report_expiry_age: u64,
}

impl Retention {
    /// When a report (or a bucket) with wire time `time` expires (POSIX seconds): the end of
    /// its time bucket plus the expiry age.
    pub fn expires_at(&self, time_units: u64) -> u64 {
        let p = self.time_precision.max(1);
        time_units
            .saturating_mul(p)
            .saturating_add(p)
            .saturating_add(self.report_expiry_age)
    }

    /// When an entry written now (POSIX seconds) expires.
    pub fn from_now(&self, now: u64) -> u64 {
        now.saturating_add(self.report_expiry_age)
    }

    /// Whether a report with wire time `time` has expired at `now`.
    pub fn expired(&self, time_units: u64, now: u64) -> bool {
        self.expires_at(time_units) <= now
    }
}

/// The index row's key that schedules `k` for deletion at `at`.
pub fn index_key(at: u64, k: &[u8]) -> Vec<u8> {
    key(&[PREFIX, &at.to_be_bytes(), k])
}

/// The index row that schedules `k` for deletion at `at` (for a batched `put_many`).
pub fn row(at: u64, k: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (index_key(at, k), Vec::new())
}

/// Schedules `k` for deletion at `at`.
pub fn set(kv: &mut impl Kv, at: u64, k: &[u8]) -> Result<(), StoreError> {
    kv.put(&index_key(at, k), &[])
}

/// Cancels a deletion scheduled with [`set`].
pub fn clear(kv: &mut impl Kv, at: u64, k: &[u8]) -> Result<(), StoreError> {
    kv.delete(&index_key(at, k))
}

/// Up to `limit` keys due at `now`, oldest first, as `(index row, key)` pairs: the key
/// and its index row are deleted once handled.
pub fn due(kv: &impl Kv, now: u64, limit: usize) -> Result<Entries, StoreError> {
    let end = index_key(now.saturating_add(1), &[]);
    let rows = kv.scan(PREFIX, &end, limit, false)?;
    Ok(rows
        .into_iter()
        .map(|(ik, _)| {
            let k = ik[PREFIX.len() + 8..].to_vec();
            (ik, k)
        })
        .collect())
}

/// When the next scheduled deletion is due (POSIX seconds), if any.
pub fn next(kv: &impl Kv) -> Result<Option<u64>, StoreError> {
    let first = kv.scan_prefix(PREFIX, 1)?;
    Ok(first.into_iter().next().and_then(|(k, _)| {
        k.get(PREFIX.len()..PREFIX.len() + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
    }))
}

/// Deletes the due keys themselves and their index rows (for kinds whose expiring entries
/// need no bookkeeping). Returns how many keys were handled.
pub fn delete_due(kv: &mut impl Kv, now: u64, limit: usize) -> Result<u64, StoreError> {
    let due = due(kv, now, limit)?;
    let n = due.len() as u64;
    let mut gone = Vec::with_capacity(due.len() * 2);
    for (ik, k) in due {
        gone.push(k);
        gone.push(ik);
    }
    kv.delete_many(&gone)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemKv;

    #[test]
    fn due_entries_come_oldest_first_and_only_when_due() {
        let mut kv = MemKv::new();
        kv.put(b"a", b"1").unwrap();
        kv.put(b"b", b"2").unwrap();
        kv.put(b"c", b"3").unwrap();
        set(&mut kv, 20, b"b").unwrap();
        set(&mut kv, 10, b"a").unwrap();
        set(&mut kv, 30, b"c").unwrap();
        assert_eq!(next(&kv).unwrap(), Some(10));
        assert_eq!(delete_due(&mut kv, 9, 10).unwrap(), 0);
        assert_eq!(delete_due(&mut kv, 20, 1).unwrap(), 1);
        assert!(kv.get(b"a").unwrap().is_none());
        assert_eq!(kv.get(b"b").unwrap().as_deref(), Some(&b"2"[..]));
        clear(&mut kv, 30, b"c").unwrap();
        assert_eq!(delete_due(&mut kv, 100, 10).unwrap(), 1);
        assert!(kv.get(b"b").unwrap().is_none());
        assert_eq!(kv.get(b"c").unwrap().as_deref(), Some(&b"3"[..]));
        assert_eq!(next(&kv).unwrap(), None);
    }

    #[test]
    fn retention_counts_from_the_end_of_the_time_bucket() {
        let r = Retention {
            time_precision: 3600,
            report_expiry_age: 100,
        };
        assert_eq!(r.expires_at(2), 3 * 3600 + 100);
        assert!(!r.expired(2, 3 * 3600 + 99));
        assert!(r.expired(2, 3 * 3600 + 100));
        assert_eq!(r.from_now(5), 105);
    }
}
