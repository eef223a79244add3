//! `CollectionJob`: at the Leader, the collection jobs for one distinct CollectionJobReq
//! (one generation at a time; the alarm waits for the batch, marks it collected, obtains
//! the Helper's share and seals the Leader's); at the Helper, one aggregate-share request
//! and its stored answer.
//!
//! Storage (table `kv`):
//! ```text
//! Leader:  "g"                -> current generation
//!          "j" || gen u32 BE  -> request, phase, result, Helper location
//! Helper:  "a"                -> request hash and the stored answer
//! ```
//! Logic: `edap_core::roles::leader::collect`, `edap_core::roles::helper` (agg_share).

durable_class!(
    /// One collection job (Leader) or aggregate share (Helper).
    CollectionJob
);
