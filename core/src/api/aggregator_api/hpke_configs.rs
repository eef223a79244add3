//! `/hpke_configs[/{id}]`: this aggregator's HPKE key pairs and their states. A new key
//! pair starts `pending` (decrypting, not published); `active` ones are published in
//! `GET /hpke_config`; `expired` ones still decrypt; a deleted one is gone, and reports
//! sealed to it are `outdated_config`.

use super::types::{HpkeAeadJson, HpkeConfigJson, HpkeKdfJson, HpkeKemJson};
use super::{body, json, ApiError};
use crate::hpke::{HeldKeypair, HpkeKeyState, HpkeKeypair};
use crate::http::{Request, Response};
use crate::messages::{HpkeAeadId, HpkeConfigId, HpkeKdfId, HpkeKemId};
use crate::platform::{load_or_create_keys, Platform};
use crate::store::tasks::{TaskReq, TaskResp};
use serde::{Deserialize, Serialize};

/// One key pair (Janus's `HpkeConfigResp`, plus the times it entered its states).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpkeConfigResp {
    /// The public config.
    pub config: HpkeConfigJson,
    /// `pending`, `active` or `expired`.
    pub state: HpkeKeyState,
    /// Extension: when it last became pending (POSIX seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_at: Option<u64>,
    /// Extension: when it last became active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_at: Option<u64>,
    /// Extension: when it last became expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<u64>,
}

impl From<&HeldKeypair> for HpkeConfigResp {
    fn from(k: &HeldKeypair) -> HpkeConfigResp {
        HpkeConfigResp {
            config: HpkeConfigJson::from(&k.keypair.config),
            state: k.state,
            pending_at: k.pending_at,
            active_at: k.active_at,
            expired_at: k.expired_at,
        }
    }
}

/// `PUT /hpke_configs`: the algorithms of the new key pair (defaults: X25519HkdfSha256,
/// HkdfSha256, Aes128Gcm; P256HkdfSha256 is supported too).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutHpkeConfigReq {
    /// KEM.
    #[serde(default)]
    pub kem_id: Option<HpkeKemJson>,
    /// KDF.
    #[serde(default)]
    pub kdf_id: Option<HpkeKdfJson>,
    /// AEAD.
    #[serde(default)]
    pub aead_id: Option<HpkeAeadJson>,
}

/// `PATCH /hpke_configs/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchHpkeConfigReq {
    /// The new state.
    pub state: HpkeKeyState,
}

fn parse_id(id: &str) -> Result<HpkeConfigId, ApiError> {
    id.parse::<u8>().map(HpkeConfigId).map_err(|_| {
        ApiError::BadRequest("an HPKE config ID is a decimal number from 0 to 255".into())
    })
}

fn now_secs<P: Platform>(p: &P) -> u64 {
    p.now_ms() / 1000
}

/// `GET /hpke_configs`.
pub(crate) async fn list<P: Platform>(p: &P) -> Result<Response, ApiError> {
    let set = load_or_create_keys(p).await?;
    let all: Vec<HpkeConfigResp> = set.keys.iter().map(HpkeConfigResp::from).collect();
    json(200, &all)
}

/// `GET /hpke_configs/{id}`.
pub(crate) async fn get<P: Platform>(p: &P, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    let set = load_or_create_keys(p).await?;
    let k = set
        .entry(id)
        .ok_or_else(|| ApiError::NotFound(format!("no HPKE config {}", id.0)))?;
    json(200, &HpkeConfigResp::from(k))
}

/// `PUT /hpke_configs`: 201 with the new (pending) key pair under the lowest free ID.
pub(crate) async fn put<P: Platform>(p: &P, req: &Request) -> Result<Response, ApiError> {
    let r: PutHpkeConfigReq = body(req, true)?;
    let kem: HpkeKemId = r.kem_id.unwrap_or(HpkeKemJson::X25519HkdfSha256).into();
    let kdf: HpkeKdfId = r.kdf_id.unwrap_or(HpkeKdfJson::HkdfSha256).into();
    let aead: HpkeAeadId = r.aead_id.unwrap_or(HpkeAeadJson::Aes128Gcm).into();
    if !crate::hpke::is_supported_suite(kem, kdf, aead) {
        return Err(ApiError::BadRequest(
            "unsupported HPKE algorithms: supported are kem_id X25519HkdfSha256 or P256HkdfSha256 with kdf_id HkdfSha256 and aead_id Aes128Gcm".into(),
        ));
    }
    // The first key pair is created on first use; make sure it exists before adding one.
    load_or_create_keys(p).await?;
    // The store assigns the config ID.
    let keypair = HpkeKeypair::generate(HpkeConfigId(0), kem)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match p
        .tasks(TaskReq::AddKey {
            keypair,
            now: now_secs(p),
        })
        .await?
    {
        TaskResp::Key(Some(k)) => json(201, &HpkeConfigResp::from(&k)),
        TaskResp::Key(None) => Err(ApiError::Conflict(
            "all 256 HPKE config IDs are in use: delete a key pair first".into(),
        )),
        _ => Err(ApiError::Internal("unexpected task store answer".into())),
    }
}

/// `PATCH /hpke_configs/{id}`: 200 with an empty body.
pub(crate) async fn patch<P: Platform>(
    p: &P,
    req: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    let r: PatchHpkeConfigReq = body(req, false)?;
    match p
        .tasks(TaskReq::SetKeyState {
            id,
            state: r.state,
            now: now_secs(p),
        })
        .await?
    {
        TaskResp::Key(Some(_)) => Ok(Response::empty(200)),
        TaskResp::Key(None) => Err(ApiError::NotFound(format!("no HPKE config {}", id.0))),
        _ => Err(ApiError::Internal("unexpected task store answer".into())),
    }
}

/// `DELETE /hpke_configs/{id}`: 204, also when there is no such key pair.
pub(crate) async fn delete<P: Platform>(p: &P, id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id)?;
    match p.tasks(TaskReq::DeleteKey(id)).await? {
        TaskResp::Deleted(_) => Ok(Response::empty(204)),
        _ => Err(ApiError::Internal("unexpected task store answer".into())),
    }
}
