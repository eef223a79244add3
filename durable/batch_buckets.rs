//! `BatchBuckets`: aggregate shares, report counts and checksums per batch bucket, the
//! collected marks and the aggregation jobs in flight, for one task, sharded by
//! aggregation job (a job commits to one shard; a collection reads and marks all).
//!
//! Storage (table `kv`):
//! ```text
//! "b"  || bucket_key            -> aggregate share, count, checksum, time span
//! "ci" || start u64 BE          -> a collected time interval [start, end) and its collector
//! "cb" || batch_id (32)         -> the collector of a collected leader-selected batch
//! "f"  || job_id (16)           -> a Leader job in flight and the buckets it registered
//! "i"  || bucket_key || job_id  -> ()  in-flight index by bucket
//! "d"  || job_id (16)           -> the job's commit outcome (commit-once)
//! bucket_key = 0x01 || time u64 BE  |  0x02 || batch_id
//! ```
//! Logic: `edap_core::store::buckets`.

durable_class!(
    /// Batch buckets of one task shard.
    BatchBuckets
);
