//! `ReportShard`: the Leader's pending reports of one task, sharded by report ID; replay
//! checked at upload; its alarm forms aggregation jobs.
//!
//! Storage (table `kv`):
//! ```text
//! "m"                          -> shard counters (next sequence number, pending count)
//! "r" || report_id (16)        -> report state and time; kept for replay protection
//! "q" || seq u64 BE            -> (report_id, arrival time): pending queue, oldest first
//! "x" || report_id             -> the encoded Report while pending or claimed
//! "t" || time u64 BE || id     -> ()  unfinished reports by time (collection readiness)
//! "j" || job_id (16)           -> reports claimed for an aggregation job
//! "s" || counter name          -> u64 statistics
//! ```
//! Logic: `edap_core::store::report_shard` (requests), `edap_core::roles::leader::shard_alarm`.

durable_class!(
    /// Pending reports of one task shard at the Leader.
    ReportShard
);
