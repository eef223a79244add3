//! `TaskStore`: tasks and this aggregator's HPKE key pairs (one instance per deployment).
//!
//! Storage (table `kv`, keys and values as BLOBs):
//! ```text
//! "t" || task_id (32)   -> AggregatorTask, JSON (secrets included: tokens, verify key)
//! "k"                   -> HpkeReceiverSet, JSON: key pairs with their states
//! "p" || role || endpoint -> TaskprovPeer, JSON (tokens it checks as hashes)
//! "\0instance"          -> this instance's identity
//! ```
//! Why a Durable Object rather than KV: a task created through the aggregator API must be usable
//! by the next request (KV is eventually consistent, up to a minute), and key rotation needs
//! a read-modify-write. Reads are cached per isolate (see `src/platform.rs`), so the hot
//! path does not come here. Logic: `edap_core::store::tasks`.

durable_class!(
    /// Tasks and HPKE keys.
    TaskStore
);
