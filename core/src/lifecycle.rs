//! Nothing kept forever: how an instance's state ends.
//!
//! * Entries with a lifetime (replay records, pending reports, buckets, marks, outcomes)
//!   are scheduled in the instance's expiry index ([`crate::store::ttl`]) when they are
//!   written, and the instance's alarm deletes what is due, [`EXPIRE_BATCH`] at a time.
//! * An instance whose work is finished (a job, a collection, an aggregate share) records
//!   when it may be forgotten ([`set_expiry`]); its alarm then deletes all of it.
//! * An instance whose task no longer exists deletes all of it, [`PURGE_BATCH`] keys per
//!   alarm ([`purge_some`]); deleting a task tells its numbered shards ([`purge_task`]) so
//!   that this happens at once, and every other instance of the task finds out at its next
//!   alarm (at most `DeploymentConfig::gc_recheck_secs` later).
//!
//! Storage (inside every instance): `"\0expire"` -> u64 ms after which the whole instance
//! may be deleted; `"\0instance"` (see [`crate::instances`]) is deleted last.

use crate::instances::{Instance, Kind};
use crate::messages::{BatchMode, Role};
use crate::platform::Platform;
use crate::store::{from_bytes, to_bytes, Kv, StoreError};
use crate::task::AggregatorTask;

/// Expired entries deleted per alarm; more are deleted by the next alarm, a second later.
pub const EXPIRE_BATCH: usize = 1_000;
/// Keys deleted per alarm while purging an instance.
pub const PURGE_BATCH: usize = 1_000;
/// An instance that wrote expiring entries has its alarm within this time (seconds); the
/// alarm then follows the expiry index. Entries are deleted at most this late.
pub const GC_CHECK_SECS: u64 = 3_600;

const EXPIRY_KEY: &[u8] = b"\0expire";
const IDENTITY_KEY: &[u8] = b"\0instance";

/// Records that the whole instance may be deleted at `at_ms` (the latest call wins).
pub fn set_expiry(kv: &mut impl Kv, at_ms: u64) -> Result<(), StoreError> {
    kv.put(EXPIRY_KEY, &to_bytes(&at_ms)?)
}

/// Cancels [`set_expiry`] (the instance has work again).
pub fn clear_expiry(kv: &mut impl Kv) -> Result<(), StoreError> {
    kv.delete(EXPIRY_KEY)
}

/// When the whole instance may be deleted, if that was recorded.
pub fn expiry(kv: &impl Kv) -> Result<Option<u64>, StoreError> {
    kv.get(EXPIRY_KEY)?.map(|b| from_bytes(&b)).transpose()
}

/// Deletes up to `limit` keys of the instance, its identity last. Returns true once the
/// instance holds nothing at all.
pub fn purge_some(kv: &mut impl Kv, limit: usize) -> Result<bool, StoreError> {
    // Everything after the identity key ("\0instance" sorts before "\0instancf").
    let mut after_identity = IDENTITY_KEY.to_vec();
    after_identity.push(0);
    let mut keys: Vec<Vec<u8>> = kv
        .scan(&[], IDENTITY_KEY, limit, false)?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    if keys.len() < limit {
        keys.extend(
            kv.scan(&after_identity, &[0xff; 9], limit - keys.len(), false)?
                .into_iter()
                .map(|(k, _)| k),
        );
    }
    let done = keys.len() < limit;
    if done {
        keys.push(IDENTITY_KEY.to_vec());
    }
    kv.delete_many(&keys)?;
    Ok(done)
}

/// After `task` was deleted from the task store: tells each of its numbered shards to
/// delete its state now. Job and collection instances delete theirs at their next alarm
/// (they find the task gone).
pub async fn purge_task<P: Platform>(p: &P, task: &AggregatorTask) -> Result<(), StoreError> {
    let s = &task.schedule;
    let mut shards: Vec<Instance> = Vec::new();
    let numbered =
        |kind: Kind, n: u32| (0..n).map(move |i| Instance::numbered(kind, &task.task_id, i));
    shards.extend(numbered(Kind::Buckets, s.bucket_shards));
    match task.role {
        Role::Leader => {
            shards.extend(numbered(Kind::ReportShard, s.report_shards));
            if task.config.batch_mode == BatchMode::LeaderSelected {
                shards.extend(numbered(Kind::BatchIndex, 1));
            }
        }
        _ => shards.extend(numbered(Kind::Replay, s.replay_shards)),
    }
    for r in futures::future::join_all(shards.iter().map(|i| p.purge(i))).await {
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemKv;

    #[test]
    fn purge_deletes_everything_in_batches_identity_last() {
        let mut kv = MemKv::new();
        kv.put(IDENTITY_KEY, b"me").unwrap();
        kv.put(b"\0aaa", b"x").unwrap();
        for i in 0u8..5 {
            kv.put(&[b'r', i], b"x").unwrap();
        }
        kv.put(&[0xfe, 1], b"x").unwrap();
        set_expiry(&mut kv, 5).unwrap();
        assert_eq!(expiry(&kv).unwrap(), Some(5));
        assert!(!purge_some(&mut kv, 3).unwrap());
        assert!(kv.get(IDENTITY_KEY).unwrap().is_some());
        assert!(!purge_some(&mut kv, 3).unwrap());
        assert!(kv.get(IDENTITY_KEY).unwrap().is_some());
        assert!(purge_some(&mut kv, 3).unwrap());
        assert_eq!(kv.len(), 0);
    }
}
