//! What a DAP route does with the task ID in its path: serve a task this aggregator holds,
//! opt in to a task advertised in the request's `dap-taskprov` header, or refuse.
//!
//! * A Leader opts in on upload; a Helper on the creation of an aggregation job or an
//!   aggregate share (both forms). Other routes only check an advertisement against the
//!   task they serve (the draft: a Collector's request for a task the Leader has not opted
//!   into yet is `unrecognizedTask`).
//! * An advertisement that does not derive the path's task ID is `unrecognizedTask`, and so
//!   is one for an unknown task when no taskprov peer of the other role is configured at all
//!   (taskprov is not in use: the header is ignored, as the draft says); one that is
//!   malformed, names no configured peer, or that this aggregator opts out of is
//!   `invalidTask` with a detail. A Helper checks the Leader's token against the peer's
//!   before it stores anything (401 without one, 403 if wrong). Nothing is stored unless
//!   the task is taken.

use super::header::{self, Advertisement};
use super::opt_in::{self, OptOut};
use super::TaskprovPeer;
use crate::api::provision::{self, ProvisionError};
use crate::error::{Abort, DapErrorType};
use crate::http::Request;
use crate::messages::{Role, TaskId};
use crate::platform::Platform;
use crate::store::tasks::{TaskReq, TaskResp};
use crate::task::AggregatorTask;
use crate::tokens::TokenKind;

/// Whether a route may opt in to an advertised task it does not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptIn {
    /// Upload (Leader), aggregation job or aggregate share creation (Helper).
    Allowed,
    /// Every other route.
    No,
}

fn unknown_task() -> Abort {
    Abort::dap(DapErrorType::UnrecognizedTask, "unknown task")
}

impl From<OptOut> for Abort {
    fn from(o: OptOut) -> Abort {
        match o {
            OptOut::Token => Abort::Forbidden(o.to_string()),
            _ => Abort::dap(DapErrorType::InvalidTask, o.to_string()),
        }
    }
}

/// The task a request addresses as this deployment's `role`, opting in to an advertised
/// one where `opt_in` allows. Unknown IDs, and tasks served in the other role, are
/// `unrecognizedTask`.
pub async fn task_for<P: Platform>(
    p: &P,
    req: &Request,
    id: &str,
    role: Role,
    opt_in: OptIn,
) -> Result<AggregatorTask, Abort> {
    let task_id = TaskId::from_base64url(id).ok_or_else(unknown_task)?;
    let advert = header::for_task(req, &task_id).map_err(|e| Abort::from(e).with_task(task_id))?;
    match (p.task(&task_id).await?, advert) {
        (Some(t), Some(a)) if t.role == role && t.config != a.config => Err(Abort::dap(
            DapErrorType::InvalidTask,
            "the advertised configuration differs from the task's",
        )
        .with_task(task_id)),
        (Some(t), _) if t.role == role => Ok(t),
        (None, Some(a)) if opt_in == OptIn::Allowed => provision_advertised(p, req, &a, role)
            .await
            .map_err(|e| e.with_task(task_id)),
        _ => Err(unknown_task().with_task(task_id)),
    }
}

async fn peers<P: Platform>(p: &P) -> Result<Vec<TaskprovPeer>, Abort> {
    match p.tasks(TaskReq::Peers).await? {
        TaskResp::Peers(v) => Ok(v),
        _ => Err(Abort::Internal("unexpected task store answer".into())),
    }
}

fn bearer(req: &Request) -> Result<&str, Abort> {
    req.auth_token()
        .ok_or_else(|| Abort::Unauthorized("this request must carry a bearer token".into()))
}

/// Opts in to `a` and stores the task; the stored task if another request stored the
/// same one first.
async fn provision_advertised<P: Platform>(
    p: &P,
    req: &Request,
    a: &Advertisement,
    role: Role,
) -> Result<AggregatorTask, Abort> {
    let peers = peers(p).await?;
    let peer_role = match role {
        Role::Helper => super::PeerRole::Leader,
        _ => super::PeerRole::Helper,
    };
    if !peers.iter().any(|x| x.peer_role == peer_role) {
        // No peer of that role at all: taskprov is not in use here, and the draft says an
        // aggregator that does not take part ignores the header.
        return Err(unknown_task());
    }
    let peer = opt_in::find_peer(&peers, a, role)?;
    let token = match role {
        Role::Helper => {
            let token = bearer(req)?;
            if !opt_in::peer_accepts(peer, TokenKind::Aggregator, token) {
                return Err(OptOut::Token.into());
            }
            Some(token)
        }
        _ => None,
    };
    let now = p.now_ms() / 1000;
    let task = opt_in::task_for(a, peer, role, token, &p.config().limits, now)?;
    match provision::provision(p, &task).await {
        Ok(_) => {
            p.log(&crate::observe::Event::TaskprovOptIn {
                task: crate::observe::task(&task.task_id),
                role: role.as_str().to_string(),
                peer: crate::observe::origin(&peer.endpoint),
            });
            Ok(task)
        }
        Err(ProvisionError::Invalid(e)) => Err(OptOut::Refused(e.to_string()).into()),
        Err(ProvisionError::Conflict {
            existing: Some(e), ..
        }) if e.taskprov && e.role == role && e.config == task.config => Ok(*e),
        Err(ProvisionError::Conflict { .. }) => Err(Abort::dap(
            DapErrorType::InvalidTask,
            "a different task is stored under the advertised task's ID",
        )),
        Err(ProvisionError::Store(e)) => Err(e.into()),
    }
}

/// Checks the request's `kind` token against the task: its current token, a replaced one
/// in its grace period, or (a taskprov task) any of its peer's current tokens. 401 without
/// a token, 403 if it is not valid.
pub async fn authorize<P: Platform>(
    p: &P,
    req: &Request,
    task: &AggregatorTask,
    kind: TokenKind,
) -> Result<(), Abort> {
    let token = bearer(req)?;
    if task.accepts(kind, token, p.now_ms() / 1000) {
        return Ok(());
    }
    if task.taskprov {
        let peers = peers(p).await?;
        let advert = Advertisement {
            config: task.config.clone(),
            bytes: Vec::new(),
            task_id: task.task_id,
        };
        if let Ok(peer) = opt_in::find_peer(&peers, &advert, task.role) {
            if opt_in::peer_accepts(peer, kind, token) {
                return Ok(());
            }
        }
    }
    Err(Abort::Forbidden(
        "the token is not valid for this task".into(),
    ))
}
