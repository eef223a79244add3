//! `/taskprov/peer_aggregators`: the aggregators this one would run taskprov-advertised
//! tasks with (Janus's shapes). Storage and routes only: taskprov provisioning itself is a
//! later issue. Tokens this aggregator checks are stored as hashes, the tokens it presents
//! as secrets; neither is ever returned.

use super::types::{AuthTokenJson, HpkeConfigJson, RoleJson, TOKEN_RULES};
use super::{body, json, ApiError};
use crate::http::{Request, Response};
use crate::messages::from_base64url;
use crate::platform::Platform;
use crate::store::tasks::{TaskReq, TaskResp};
use crate::task::{Secret, TokenHash};
use crate::taskprov::{AggregationMode, PeerRole, TaskprovPeer, TypedToken, TypedTokenHash};
use serde::{Deserialize, Serialize};

/// `POST /taskprov/peer_aggregators` (Janus's `PostTaskprovPeerAggregatorReq`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostTaskprovPeerAggregatorReq {
    /// The peer's DAP URL.
    pub endpoint: String,
    /// `Leader` or `Helper`: the peer's role.
    pub peer_role: RoleJson,
    /// Required when the peer is the Leader.
    #[serde(default)]
    pub aggregation_mode: Option<AggregationMode>,
    /// Where aggregate shares of the peer's tasks are sealed to.
    pub collector_hpke_config: HpkeConfigJson,
    /// The secret verification keys are derived from: 32 bytes, unpadded base64url.
    pub verify_key_init: Secret,
    /// Seconds reports are kept (`null`: the default).
    #[serde(default)]
    pub report_expiry_age: Option<u64>,
    /// Leader peer: the tokens it may present; Helper peer: the tokens presented to it.
    #[serde(default)]
    pub aggregator_auth_tokens: Vec<AuthTokenJson>,
    /// Helper peer: the tokens Collectors present to this aggregator (empty for a Leader).
    #[serde(default)]
    pub collector_auth_tokens: Vec<AuthTokenJson>,
}

/// A peer, without secrets (Janus's `TaskprovPeerAggregatorResp`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskprovPeerAggregatorResp {
    /// The peer's DAP URL (normalised).
    pub endpoint: String,
    /// The peer's role.
    pub peer_role: RoleJson,
    /// Where aggregate shares are sealed to.
    pub collector_hpke_config: HpkeConfigJson,
    /// Seconds reports are kept.
    pub report_expiry_age: Option<i64>,
}

/// `DELETE /taskprov/peer_aggregators` body (Janus's `DeleteTaskprovPeerAggregatorReq`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteTaskprovPeerAggregatorReq {
    /// The peer's DAP URL.
    pub endpoint: String,
    /// The peer's role.
    pub peer_role: RoleJson,
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

fn peer_role(r: RoleJson) -> Result<PeerRole, ApiError> {
    match r {
        RoleJson::Leader => Ok(PeerRole::Leader),
        RoleJson::Helper => Ok(PeerRole::Helper),
        _ => Err(bad("peer_role must be Leader or Helper")),
    }
}

/// Normalises a peer URL as a URL parser would for comparison: lowercase scheme and host,
/// `/` for an empty path. `None` unless it is an `http(s)://host...` URL.
pub fn normalize_endpoint(url: &str, allow_http: bool) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !(scheme == "https" || (allow_http && scheme == "http")) {
        return None;
    }
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty()
        || authority.contains('@')
        || !rest.bytes().all(|b| b.is_ascii_graphic())
    {
        return None;
    }
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    Some(format!(
        "{scheme}://{}{path}",
        authority.to_ascii_lowercase()
    ))
}

fn endpoint<P: Platform>(p: &P, url: &str) -> Result<String, ApiError> {
    let allow_http = p.config().limits.allow_http_endpoints;
    normalize_endpoint(url, allow_http).ok_or_else(|| {
        bad(if allow_http {
            "endpoint must be an http(s) URL"
        } else {
            "endpoint must be an https URL"
        })
    })
}

fn resp(peer: &TaskprovPeer) -> TaskprovPeerAggregatorResp {
    TaskprovPeerAggregatorResp {
        endpoint: peer.endpoint.clone(),
        peer_role: match peer.peer_role {
            PeerRole::Leader => RoleJson::Leader,
            PeerRole::Helper => RoleJson::Helper,
        },
        collector_hpke_config: HpkeConfigJson::from(&peer.collector_hpke_config),
        report_expiry_age: peer.report_expiry_age.map(|s| s as i64),
    }
}

fn checked(tokens: &[AuthTokenJson], name: &str) -> Result<(), ApiError> {
    match tokens.iter().all(AuthTokenJson::is_valid) {
        true => Ok(()),
        false => Err(bad(format!("{name}: {TOKEN_RULES}"))),
    }
}

fn hashes(tokens: &[AuthTokenJson]) -> Vec<TypedTokenHash> {
    tokens
        .iter()
        .map(|t| TypedTokenHash {
            header: t.header(),
            hash: TokenHash::of(t.token()),
        })
        .collect()
}

/// `GET /taskprov/peer_aggregators`.
pub(crate) async fn list<P: Platform>(p: &P) -> Result<Response, ApiError> {
    match p.tasks(TaskReq::Peers).await? {
        TaskResp::Peers(peers) => json(200, &peers.iter().map(resp).collect::<Vec<_>>()),
        _ => Err(ApiError::Internal("unexpected task store answer".into())),
    }
}

/// `POST /taskprov/peer_aggregators`: 201, also for the identical peer again; 409 if a
/// different peer with this endpoint and role exists (delete it first to change it).
pub(crate) async fn post<P: Platform>(p: &P, req: &Request) -> Result<Response, ApiError> {
    let r: PostTaskprovPeerAggregatorReq = body(req, false)?;
    let role = peer_role(r.peer_role)?;
    if role == PeerRole::Leader && r.aggregation_mode.is_none() {
        return Err(bad("aggregation_mode is required when peer_role is Leader"));
    }
    if role == PeerRole::Leader && !r.collector_auth_tokens.is_empty() {
        return Err(bad(
            "collector_auth_tokens must be empty when peer_role is Leader (Collectors talk to the Leader)",
        ));
    }
    let collector_hpke_config = r
        .collector_hpke_config
        .to_config()
        .filter(crate::hpke::is_supported)
        .ok_or_else(|| {
            bad("collector_hpke_config must have a base64url public key and supported algorithms")
        })?;
    let vki = from_base64url(&r.verify_key_init.0)
        .filter(|k| k.len() == 32)
        .ok_or_else(|| bad("verify_key_init must be 32 bytes of unpadded base64url"))?;
    checked(&r.aggregator_auth_tokens, "aggregator_auth_tokens")?;
    checked(&r.collector_auth_tokens, "collector_auth_tokens")?;
    let (checked_tokens, presented) = match role {
        PeerRole::Leader => (hashes(&r.aggregator_auth_tokens), Vec::new()),
        PeerRole::Helper => (
            Vec::new(),
            r.aggregator_auth_tokens
                .iter()
                .map(|t| TypedToken {
                    header: t.header(),
                    token: Secret(t.token().to_string()),
                })
                .collect(),
        ),
    };
    let peer = TaskprovPeer {
        endpoint: endpoint(p, &r.endpoint)?,
        peer_role: role,
        aggregation_mode: r.aggregation_mode,
        collector_hpke_config,
        verify_key_init: Secret(crate::messages::base64url(&vki)),
        report_expiry_age: r.report_expiry_age,
        aggregator_auth_token_hashes: checked_tokens,
        aggregator_auth_tokens: presented,
        collector_auth_token_hashes: hashes(&r.collector_auth_tokens),
    };
    match p.tasks(TaskReq::PutPeer(Box::new(peer.clone()))).await? {
        TaskResp::Stored(_) => json(201, &resp(&peer)),
        TaskResp::Conflict => Err(ApiError::Conflict(format!(
            "a {:?} peer at {} exists: delete it first to change it",
            peer.peer_role, peer.endpoint
        ))),
        _ => Err(ApiError::Internal("unexpected task store answer".into())),
    }
}

/// `DELETE /taskprov/peer_aggregators` with a JSON body: 204, also when missing.
pub(crate) async fn delete<P: Platform>(p: &P, req: &Request) -> Result<Response, ApiError> {
    let r: DeleteTaskprovPeerAggregatorReq = body(req, false)?;
    let role = peer_role(r.peer_role)?;
    let endpoint = endpoint(p, &r.endpoint)?;
    match p.tasks(TaskReq::DeletePeer { endpoint, role }).await? {
        TaskResp::Deleted(_) => Ok(Response::empty(204)),
        _ => Err(ApiError::Internal("unexpected task store answer".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_normalise_like_urls() {
        assert_eq!(
            normalize_endpoint("HTTPS://Leader.Example", false).as_deref(),
            Some("https://leader.example/")
        );
        assert_eq!(
            normalize_endpoint("https://l.example:8443/dap/", false).as_deref(),
            Some("https://l.example:8443/dap/")
        );
        assert_eq!(normalize_endpoint("http://l.example/", false), None);
        assert_eq!(
            normalize_endpoint("http://l.example/", true).as_deref(),
            Some("http://l.example/")
        );
        for bad in [
            "l.example",
            "ftp://l/",
            "https:///x",
            "https://u@l/",
            "https://l/ x",
        ] {
            assert_eq!(normalize_endpoint(bad, true), None, "{bad}");
        }
    }
}
