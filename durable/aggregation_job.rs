//! `AggregationJob`: one aggregation job. At the Leader, its alarm drives the job (verify,
//! register buckets, call the Helper, commit, finish); at the Helper, it stores the answer
//! to the Leader's request (and computes it in its alarm when the job is large).
//!
//! Storage (table `kv`):
//! ```text
//! Leader:  "L"                -> job state: phase, Helper location, attempts
//!          "r" || idx u32 BE  -> the job's reports in order
//! Helper:  "m"                -> request hash, step, state (pending / answer / failure)
//!          "q"                -> the request body while the job waits for its alarm
//! ```
//! Logic: `edap_core::roles::leader::agg_job`, `edap_core::roles::helper` (agg_job).

durable_class!(
    /// One aggregation job.
    AggregationJob
);
