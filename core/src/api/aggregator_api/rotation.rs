//! `/key_rotation` (an extension; Janus configures its key rotator in a file): the HPKE key
//! rotation schedule the task store's alarm follows ([`crate::hpke::rotation`]).
//!
//! * `GET` shows the schedule in force, whether it is the stored one or the deployment's
//!   default (`KEY_*` variables), and when the next key change is due;
//! * `PUT` stores a schedule (every field optional, defaults as [`RotationSchedule`]'s);
//!   one the deployment cannot honour (a pending phase shorter than twice the isolate key
//!   cache, or keys deleted before cached `/hpke_config` answers expire) is 400;
//! * `DELETE` removes the stored one: the deployment's default applies again (204).

use super::{body, json, rfc3339, ApiError};
use crate::hpke::rotation::{next_due, RotationSchedule};
use crate::http::{Request, Response};
use crate::platform::{Platform, CACHE_SECS};
use crate::store::tasks::{TaskReq, TaskResp};
use serde::{Deserialize, Serialize};

/// `GET /key_rotation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotationResp {
    /// The schedule in force.
    pub schedule: RotationSchedule,
    /// `"stored"` (set through this API) or `"deployment"` (the `KEY_*` variables).
    pub source: String,
    /// When the alarm changes a key next (RFC 3339), if rotation is on and keys exist.
    pub next_change_at: Option<String>,
    /// The `Cache-Control` lifetime of `/hpke_config` that `expired_secs` must exceed.
    pub hpke_config_max_age_secs: u64,
    /// How long an isolate may serve cached keys (the shortest pending phase is twice it).
    pub key_cache_secs: u64,
}

async fn stored<P: Platform>(p: &P) -> Result<Option<RotationSchedule>, ApiError> {
    match p.tasks(TaskReq::GetRotation).await? {
        TaskResp::Rotation(s) => Ok(s),
        _ => Err(ApiError::Internal("unexpected task store answer".into())),
    }
}

async fn view<P: Platform>(p: &P, s: Option<RotationSchedule>) -> Result<Response, ApiError> {
    let source = if s.is_some() { "stored" } else { "deployment" };
    let schedule = s.unwrap_or_else(|| p.config().key_rotation.clone());
    let next = match p.tasks(TaskReq::Keys { initial: None }).await? {
        TaskResp::Keys(set) => next_due(&set, &schedule),
        _ => return Err(ApiError::Internal("unexpected task store answer".into())),
    };
    json(
        200,
        &KeyRotationResp {
            schedule,
            source: source.into(),
            next_change_at: next.map(rfc3339::format),
            hpke_config_max_age_secs: p.config().hpke_config_max_age_secs,
            key_cache_secs: CACHE_SECS,
        },
    )
}

/// `GET /key_rotation`.
pub(crate) async fn get<P: Platform>(p: &P) -> Result<Response, ApiError> {
    view(p, stored(p).await?).await
}

/// `PUT /key_rotation`.
pub(crate) async fn put<P: Platform>(p: &P, req: &Request) -> Result<Response, ApiError> {
    let s: RotationSchedule = body(req, false)?;
    s.validate(p.config().hpke_config_max_age_secs)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    match p.tasks(TaskReq::PutRotation(Some(s))).await? {
        TaskResp::Rotation(s) => view(p, s).await,
        _ => Err(ApiError::Internal("unexpected task store answer".into())),
    }
}

/// `DELETE /key_rotation`.
pub(crate) async fn delete<P: Platform>(p: &P) -> Result<Response, ApiError> {
    match p.tasks(TaskReq::PutRotation(None)).await? {
        TaskResp::Rotation(_) => Ok(Response::empty(204)),
        _ => Err(ApiError::Internal("unexpected task store answer".into())),
    }
}
