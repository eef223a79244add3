//! Token rotation through `PATCH /tasks/{id}` (extension fields of [`PatchTaskReq`]): a
//! Helper replaces the Leader's token it accepts, a Leader the Collector's, each keeping
//! the replaced one accepted for a grace period ([`crate::tokens`]); a Leader replaces the
//! token it presents to its Helper.

use super::tasks::{bad, token, token_hash, PatchTaskReq};
use super::ApiError;
use crate::messages::Role;
use crate::platform::Platform;
use crate::store::tasks::{TaskReq, TaskResp as StoreResp};
use crate::task::{AggregatorTask, Secret, TokenHash};

/// The token changes of a `PATCH /tasks/{id}`, applied in the task store.
pub(super) async fn rotate_tokens<P: Platform>(
    p: &P,
    r: &PatchTaskReq,
    mut t: AggregatorTask,
) -> Result<AggregatorTask, ApiError> {
    use crate::tokens::{TokenKind, DEFAULT_GRACE_SECS, MAX_GRACE_SECS, MIN_GRACE_SECS};
    let grace = r.token_grace_secs.unwrap_or(DEFAULT_GRACE_SECS);
    if !(MIN_GRACE_SECS..=MAX_GRACE_SECS).contains(&grace) {
        return Err(bad(format!(
            "token_grace_secs must be between {MIN_GRACE_SECS} and {MAX_GRACE_SECS}"
        )));
    }
    let leader = t.role == Role::Leader;
    let mut reqs = Vec::new();
    let rotate = |kind, hash| TaskReq::RotateToken {
        id: t.task_id,
        kind,
        hash,
        grace_secs: grace,
        now: p.now_ms() / 1000,
    };
    match (&r.aggregator_auth_token, &r.aggregator_auth_token_hash) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "give aggregator_auth_token or aggregator_auth_token_hash, not both",
            ))
        }
        (Some(tok), None) => {
            let tok = token(tok, "aggregator_auth_token")?;
            reqs.push(if leader {
                TaskReq::SetPresentedToken {
                    id: t.task_id,
                    token: Secret(tok.token().to_string()),
                    header: tok.header(),
                }
            } else {
                rotate(TokenKind::Aggregator, TokenHash::of(tok.token()))
            });
        }
        (None, Some(h)) if !leader => reqs.push(rotate(
            TokenKind::Aggregator,
            token_hash(h, "aggregator_auth_token_hash")?,
        )),
        (None, Some(_)) => {
            return Err(bad(
                "aggregator_auth_token_hash applies to a Helper task; a Leader takes aggregator_auth_token",
            ))
        }
        (None, None) => {}
    }
    if let Some(h) = &r.collector_auth_token_hash {
        if !leader {
            return Err(bad("collector_auth_token_hash applies to a Leader task"));
        }
        reqs.push(rotate(
            TokenKind::Collector,
            token_hash(h, "collector_auth_token_hash")?,
        ));
    }
    for q in reqs {
        match p.tasks(q).await? {
            StoreResp::Task(Some(updated)) => t = *updated,
            StoreResp::Task(None) => {
                return Err(ApiError::NotFound(format!("no task {}", t.task_id)))
            }
            _ => return Err(ApiError::Internal("unexpected task store answer".into())),
        }
    }
    Ok(t)
}
