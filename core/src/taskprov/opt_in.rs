//! Opting in to an advertised task (taskprov "Opting into a Task"): which peer vouches for
//! it, whether this aggregator takes part, and the task it stores for it. Pure functions;
//! [`super::gate`] calls them with what it read from the task store.

use super::header::Advertisement;
use super::{PeerRole, TaskprovPeer};
use crate::api::aggregator_api::normalize_endpoint;
use crate::messages::Role;
use crate::task::{
    derive_verify_key, AggregatorTask, Secret, TaskLimits, TokenHash, DEFAULT_REPORT_EXPIRY_AGE,
};

/// Why this aggregator does not take part in an advertised task. Every reason is the
/// taskprov error `invalidTask`, except a wrong token (403).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptOut {
    /// No taskprov peer is configured for the other aggregator of the task.
    #[error("this aggregator is not peered with the {role} at {endpoint}")]
    UnknownPeer {
        /// `Leader` or `Helper`: the peer's role in the task.
        role: &'static str,
        /// The endpoint the configuration names.
        endpoint: String,
    },
    /// The configuration breaks a rule or a limit of this deployment, or has ended.
    #[error("opted out of the task: {0}")]
    Refused(String),
    /// The Leader's token is not one of the peer's.
    #[error("the token is not one of the taskprov peer's")]
    Token,
}

/// The peer that must vouch for a task this aggregator would serve in `role`: the task's
/// Leader for a Helper, its Helper for a Leader; found by normalised endpoint.
pub fn find_peer<'a>(
    peers: &'a [TaskprovPeer],
    advert: &Advertisement,
    role: Role,
) -> Result<&'a TaskprovPeer, OptOut> {
    let (peer_role, endpoint, name) = match role {
        Role::Helper => (PeerRole::Leader, &advert.config.leader_endpoint, "Leader"),
        _ => (PeerRole::Helper, &advert.config.helper_endpoint, "Helper"),
    };
    let unknown = || OptOut::UnknownPeer {
        role: name,
        endpoint: endpoint.clone(),
    };
    let normalised = normalize_endpoint(endpoint, true).ok_or_else(unknown)?;
    peers
        .iter()
        .find(|p| p.peer_role == peer_role && p.endpoint == normalised)
        .ok_or_else(unknown)
}

/// Whether `token` is one the peer's Leader may present (compared in constant time).
pub fn peer_accepts(peer: &TaskprovPeer, kind: crate::tokens::TokenKind, token: &str) -> bool {
    let hashes = match kind {
        crate::tokens::TokenKind::Aggregator => &peer.aggregator_auth_token_hashes,
        crate::tokens::TokenKind::Collector => &peer.collector_auth_token_hashes,
    };
    hashes
        .iter()
        .fold(false, |acc, h| h.hash.matches(token) | acc)
}

/// The task this aggregator stores when it opts in to `advert` in `role`, vouched for by
/// `peer`; `token` is the Leader's token a Helper was presented (already checked).
/// Validated against `limits`; a task whose interval has ended at `now` (POSIX seconds) is
/// refused, as the draft requires.
pub fn task_for(
    advert: &Advertisement,
    peer: &TaskprovPeer,
    role: Role,
    token: Option<&str>,
    limits: &TaskLimits,
    now: u64,
) -> Result<AggregatorTask, OptOut> {
    let vki: [u8; 32] = crate::messages::from_base64url(&peer.verify_key_init.0)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| OptOut::Refused("the peer's verify_key_init is unusable".into()))?;
    let config = &advert.config;
    if let Some(end) = config.task_interval().and_then(|i| i.end()) {
        if end.to_seconds(config.time_precision) <= now {
            return Err(OptOut::Refused("the task has ended".into()));
        }
    }
    let mut task = AggregatorTask::new(
        advert.task_id,
        config.clone(),
        role,
        derive_verify_key(&vki, &advert.task_id),
        peer.collector_hpke_config.clone(),
    );
    task.report_expiry_age = peer.report_expiry_age.unwrap_or(DEFAULT_REPORT_EXPIRY_AGE);
    task.taskprov = true;
    match role {
        Role::Helper => {
            let token = token.ok_or(OptOut::Token)?;
            task.aggregator_auth_token_hash = Some(TokenHash::of(token));
        }
        _ => {
            let presented = peer
                .aggregator_auth_tokens
                .first()
                .ok_or_else(|| OptOut::Refused("the Helper peer has no token to present".into()))?;
            task.aggregator_auth_token = Some(Secret(presented.token.0.clone()));
            task.peer_auth = presented.header;
            let collector = peer
                .collector_auth_token_hashes
                .first()
                .ok_or_else(|| OptOut::Refused("the Helper peer has no Collector token".into()))?;
            task.collector_auth_token_hash = Some(collector.hash);
        }
    }
    task.validate(limits)
        .map_err(|e| OptOut::Refused(e.to_string()))?;
    Ok(task)
}
