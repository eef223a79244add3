//! The aggregator side of the interop test API (`/internal/test/*`): `ready`,
//! `endpoint_for_task` and `add_task`. Served only when the deployment enables the test API
//! (`ENABLE_TEST_API`); it provisions tasks without authentication, so production
//! deployments leave it off. Every recognized command answers 200 with a JSON `status`.

use crate::api::provision::provision;
use crate::error::Abort;
use crate::http::{Method, Request, Response};
use crate::interop;
use crate::messages::{HpkeConfig, Role, TaskId};
use crate::platform::Platform;
use crate::task::{AggregationSchedule, AggregatorTask, AuthHeader, Secret, TokenHash};
use prio::codec::Decode;
use serde_json::{json, Value};

fn error(msg: impl std::fmt::Display) -> Response {
    Response::json(200, &json!({"status": "error", "error": msg.to_string()}))
}

/// Handles `/internal/test/<command>`.
pub async fn handle<P: Platform>(
    p: &P,
    req: &Request,
    method: Method,
    command: &[&str],
) -> Result<Response, Abort> {
    if !p.config().test_api_enabled() {
        return Err(Abort::NotFound(
            "the test API is not enabled on this deployment".into(),
        ));
    }
    if method != Method::Post {
        return Err(Abort::MethodNotAllowed);
    }
    let body: Value = if req.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return Err(Abort::BadRequest(format!("body is not JSON: {e}"))),
        }
    };
    match command {
        ["ready"] => Ok(Response::json(200, &json!({}))),
        ["endpoint_for_task"] => Ok(Response::json(
            200,
            &json!({"status": "success", "endpoint": "/"}),
        )),
        ["add_task"] => Ok(match add_task(p, &body).await {
            Ok(()) => Response::json(200, &json!({"status": "success"})),
            Err(e) => error(e),
        }),
        _ => Err(Abort::NotFound("no such test command".into())),
    }
}

async fn add_task<P: Platform>(p: &P, body: &Value) -> Result<(), String> {
    let s = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let role = match s("role").as_deref() {
        Some("leader") => Role::Leader,
        Some("helper") => Role::Helper,
        _ => return Err("role must be \"leader\" or \"helper\"".into()),
    };
    let config = interop::task_config(body)?;
    let task_id = TaskId::from_base64url(&s("task_id").ok_or("missing task_id")?)
        .ok_or("task_id must be 32 bytes, base64url")?;
    let vdaf_verify_key =
        crate::messages::from_base64url(&s("vdaf_verify_key").ok_or("missing vdaf_verify_key")?)
            .and_then(|k| k.try_into().ok())
            .ok_or("vdaf_verify_key must be 32 bytes, base64url")?;
    let collector_hpke_config = crate::messages::from_base64url(
        &s("collector_hpke_config").ok_or("missing collector_hpke_config")?,
    )
    .and_then(|b| HpkeConfig::get_decoded(&b).ok())
    .ok_or("collector_hpke_config must be an encoded HpkeConfig, base64url")?;
    let leader_token = s("leader_authentication_token")
        .filter(|t| !t.is_empty())
        .ok_or("missing leader_authentication_token")?;
    let mut task = AggregatorTask::new(
        task_id,
        config,
        role,
        vdaf_verify_key,
        collector_hpke_config,
    );
    // Test runs are short: form jobs quickly rather than waiting to fill them.
    task.schedule = AggregationSchedule {
        max_wait_secs: 1,
        ..Default::default()
    };
    // The test design's tokens travel in DAP-Auth-Token.
    task.peer_auth = AuthHeader::DapAuthToken;
    if role == Role::Leader {
        let collector = s("collector_authentication_token")
            .filter(|t| !t.is_empty())
            .ok_or("a leader needs collector_authentication_token")?;
        task.aggregator_auth_token = Some(Secret(leader_token));
        task.collector_auth_token_hash = Some(TokenHash::of(&collector));
    } else {
        task.aggregator_auth_token_hash = Some(TokenHash::of(&leader_token));
    }
    provision(p, &task)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
