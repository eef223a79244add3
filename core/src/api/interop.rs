//! The aggregator side of the interop test API (`/internal/test/*`): `ready`,
//! `endpoint_for_task` and `add_task`. Served only when the deployment enables the test API
//! (`ENABLE_TEST_API`); it provisions tasks without authentication, so production
//! deployments leave it off. Every recognized command answers 200 with a JSON `status`.

use crate::api::admin::{provision, TaskSpec};
use crate::error::Abort;
use crate::http::{Method, Request, Response};
use crate::interop;
use crate::platform::Platform;
use crate::task::{AggregationSchedule, AuthHeader};
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
    if !p.config().enable_test_api {
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
    let role = s("role").ok_or("missing role")?;
    let config = interop::task_config(body)?;
    let config_b64 = crate::messages::base64url(
        &prio::codec::Encode::get_encoded(&config).map_err(|e| e.to_string())?,
    );
    let spec = TaskSpec {
        role: role.clone(),
        task_config: Some(config_b64),
        task_id: Some(s("task_id").ok_or("missing task_id")?),
        vdaf_verify_key: s("vdaf_verify_key").ok_or("missing vdaf_verify_key")?,
        collector_hpke_config: s("collector_hpke_config").ok_or("missing collector_hpke_config")?,
        aggregator_auth_token: Some(
            s("leader_authentication_token").ok_or("missing leader_authentication_token")?,
        ),
        collector_auth_token: s("collector_authentication_token"),
        // Test runs are short: form jobs quickly rather than waiting to fill them.
        schedule: Some(AggregationSchedule {
            max_wait_secs: 1,
            ..Default::default()
        }),
        peer_auth: Some(AuthHeader::DapAuthToken),
        ..Default::default()
    };
    if role == "leader" && spec.collector_auth_token.is_none() {
        return Err("a leader needs collector_authentication_token".into());
    }
    provision(p, spec)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
