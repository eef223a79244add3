//! `ReplayGuard`: report IDs the Helper has aggregated, sharded by report ID.
//!
//! Storage (table `kv`):
//! ```text
//! "s" || report_id (16)   -> the aggregation job (16) that claimed it
//! ```
//! Logic: `edap_core::store::replay`.

durable_class!(
    /// Replay protection for one task shard at the Helper.
    ReplayGuard
);
