//! `BatchIndex`: the Leader's leader-selected batches of one task: assignment of claimed
//! reports to batches, fill counts, and which collection job took which batch.
//!
//! Storage (table `kv`):
//! ```text
//! "m"                    -> next creation order
//! "b" || order u64 BE    -> a batch not yet taken: id, assigned, committed, jobs out
//! "a" || claim_id (16)   -> the allocation given to a claim (idempotency)
//! "r" || job_id (16)     -> ()  job outcome counted (idempotency)
//! "c" || collection (16) -> the batch a collection job took
//! ```
//! Logic: `edap_core::store::batch_index`.

durable_class!(
    /// Leader-selected batches of one task at the Leader.
    BatchIndex
);
