//! Taskprov (draft-ietf-ppm-dap-taskprov): tasks provisioned in band. A Client advertises
//! a task's `TaskConfiguration` to the Leader in the `dap-taskprov` header of its upload; the
//! Leader opts in and advertises it to the Helper on every request of the task; the task ID
//! is the SHA-256 of the configuration and the VDAF verification key is derived from a
//! secret shared with the peer. Which peers this aggregator accepts advertisements from are
//! the taskprov peer aggregators of the aggregator API ([`TaskprovPeer`], kept in the task
//! store).
//!
//! * [`header`]: the header's value, parsed and encoded, and the advertised task's ID;
//! * [`opt_in`]: deciding to take part and the task stored for it (pure);
//! * [`gate`]: what a DAP route does with a request for a task ID: a known task, a task
//!   opted into now, or the taskprov refusal (`invalidTask`, `unrecognizedTask`).

pub mod gate;
pub mod header;
pub mod opt_in;

use crate::messages::HpkeConfig;
use crate::task::{AuthHeader, Secret, TokenHash};
use serde::{Deserialize, Serialize};

/// The role the peer plays in the tasks it advertises (the aggregator API's `peer_role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PeerRole {
    /// The peer is the Leader: this aggregator is the Helper of its tasks.
    Leader,
    /// The peer is the Helper: this aggregator is the Leader of its tasks.
    Helper,
}

impl PeerRole {
    /// One byte for storage keys.
    pub fn code(self) -> u8 {
        match self {
            PeerRole::Leader => 2,
            PeerRole::Helper => 3,
        }
    }
}

/// Whether a Helper answers aggregation jobs at once or later (the aggregator API's
/// `aggregation_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AggregationMode {
    /// Every job is answered in the response to its request.
    Synchronous,
    /// Jobs are answered "processing" and polled.
    Asynchronous,
}

/// A token with the header it travels in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedToken {
    /// `Authorization: Bearer` or `DAP-Auth-Token`.
    pub header: AuthHeader,
    /// The token.
    pub token: Secret,
}

/// The SHA-256 of a token with the header it is expected in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedTokenHash {
    /// `Authorization: Bearer` or `DAP-Auth-Token`.
    pub header: AuthHeader,
    /// SHA-256 of the token.
    pub hash: TokenHash,
}

/// A taskprov peer. The tokens this aggregator checks are kept as hashes; the ones it
/// presents to the peer are kept as secrets. `Debug` redacts secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskprovPeer {
    /// The peer's DAP endpoint (normalised: lowercase scheme and host, a path).
    pub endpoint: String,
    /// The role the peer plays.
    pub peer_role: PeerRole,
    /// For a Leader peer: how this aggregator, its Helper, answers.
    pub aggregation_mode: Option<AggregationMode>,
    /// Where aggregate shares of the peer's tasks are sealed to.
    #[serde(with = "crate::hpke::config_serde")]
    pub collector_hpke_config: HpkeConfig,
    /// The shared secret VDAF verification keys are derived from (base64url, 32 bytes).
    pub verify_key_init: Secret,
    /// Seconds a report of such a task is kept; `None`: the default.
    pub report_expiry_age: Option<u64>,
    /// A Leader peer: hashes of the tokens it may present to this aggregator.
    #[serde(default)]
    pub aggregator_auth_token_hashes: Vec<TypedTokenHash>,
    /// A Helper peer: the tokens this aggregator presents to it (the first one is used).
    #[serde(default)]
    pub aggregator_auth_tokens: Vec<TypedToken>,
    /// A Helper peer: hashes of the tokens Collectors present to this aggregator.
    #[serde(default)]
    pub collector_auth_token_hashes: Vec<TypedTokenHash>,
}
