//! `ReportShard`: the Leader's pending reports of one task, sharded by report ID; replay
//! checked at upload; its alarm forms aggregation jobs.
//!
//! Storage (table `kv`):
//! ```text
//! "m"                          -> ShardMeta: next sequence number, claim cursor, pending
//!                                 count, oldest arrival, counters
//! "q" || seq u64 BE            -> a report with its body, in arrival order: pending from
//!                                 the claim cursor on, claimed by a job before it, deleted
//!                                 when the job finishes
//! "t" || time u64 BE           -> u64 reports of that time not yet finished
//! "j" || job_id (16)           -> reports claimed for an aggregation job
//! "pf"                         -> the last job failure
//! "~" || at u64 BE || "r" || id -> ()  the replay record, deleted when the report expires
//! ```
//! Logic: `edap_core::store::report_shard` (requests), `edap_core::roles::leader::shard_alarm`.

durable_class!(
    /// Pending reports of one task shard at the Leader.
    ReportShard
);
