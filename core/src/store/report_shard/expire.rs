//! Expiry at a report shard: replay records go when their reports expire (uploads that
//! old are refused as `report_dropped`, so the record is no longer needed). Pending reports
//! need no expiry of their own: a job claims them, and one older than the expiry age is
//! refused at aggregation as `report_dropped`.

use super::super::{ttl, Kv, StoreError};

/// Deletes up to `limit` expired entries. Returns how many were handled.
pub fn expire(kv: &mut impl Kv, now: u64, limit: usize) -> Result<u64, StoreError> {
    ttl::delete_due(kv, now, limit)
}
