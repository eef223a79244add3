//! Provisioning a task on two aggregators through their aggregator APIs: the Helper first
//! (it generates the token the Leader presents to it), then the Leader with that token. If
//! the Leader fails after the Helper succeeded, the Helper's task is deleted (and the
//! Leader's too, in case it was created and only the answer was lost), so no
//! half-provisioned task is left; the error says what happened.
//!
//! Both aggregators get the same encoded `TaskConfiguration` (`task_config`) and the task
//! ID derived from it (taskprov's rule, which `edap upload` and the JS client check), with
//! Janus's fields beside them (which must agree), so both hold byte-identical
//! configurations: they are part of every HPKE AAD.

use crate::pairing::{self, AggregatorInfo};
use edap_core::api::aggregator_api::types::{
    AuthTokenJson, HpkeConfigJson, RoleJson, TokenHashJson,
};
use edap_core::api::aggregator_api::{PostTaskReq, TaskResp, MEDIA_TYPE};
use edap_core::messages::{base64url, TaskConfiguration, TaskId};
use edap_core::task::{derive_task_id, Secret};
use edap_core::taskprov::AggregationMode;
use prio::codec::Encode;

/// An HTTP answer from an aggregator API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiAnswer {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
}

/// Sends aggregator API requests: `Err` for transport failures (refused, timeout), with
/// a message that names no secret.
#[allow(async_fn_in_trait)] // used within this crate, on one thread
pub trait AggregatorApi {
    /// `method url` with `Authorization: Bearer token`, Janus's media type in `Accept` and,
    /// with a body, in `Content-Type`.
    async fn send(
        &self,
        method: &str,
        url: &str,
        token: &str,
        body: Option<Vec<u8>>,
    ) -> Result<ApiAnswer, String>;
}

/// One aggregator, as provisioning needs it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// How the user calls it (in messages).
    pub name: String,
    /// Its aggregator API's base URL, with a trailing slash.
    pub api_url: String,
    /// Its aggregator API token.
    pub token: String,
    /// What its `GET /` said.
    pub info: AggregatorInfo,
}

/// `base` (ending in `/`) joined with `path` (without a leading `/`).
pub fn api_join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// The problem document's `detail` (or the start of the body) of an error answer.
pub fn detail(a: &ApiAnswer) -> String {
    let v: Option<serde_json::Value> = serde_json::from_slice(&a.body).ok();
    let text = v
        .as_ref()
        .and_then(|v| v.get("detail").or_else(|| v.get("message")))
        .and_then(|d| d.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&a.body).chars().take(300).collect());
    if text.trim().is_empty() {
        format!("HTTP {}", a.status)
    } else {
        format!("HTTP {}: {}", a.status, text.trim())
    }
}

/// `GET {api}/`: what the aggregator is, or why it cannot be paired.
pub async fn describe(
    api: &impl AggregatorApi,
    api_url: &str,
    token: &str,
) -> Result<AggregatorInfo, String> {
    let a = api
        .send("GET", api_url, token, None)
        .await
        .map_err(|e| format!("could not reach the aggregator API at {api_url}: {e}"))?;
    pairing::interpret(a.status, &a.body)
}

/// What both aggregators are given.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The configuration.
    pub config: TaskConfiguration,
    /// Its DAP encoding, base64url.
    pub encoded: String,
    /// The task ID derived from it.
    pub task_id: TaskId,
    /// The VDAF verification key, base64url of 32 random bytes.
    pub verify_key: String,
    /// Where aggregate shares are sealed to.
    pub collector_hpke_config: HpkeConfigJson,
    /// SHA-256 of the Collector's token, base64url.
    pub collector_token_hash: String,
}

impl Plan {
    /// A plan for `config` with a new verification key.
    pub fn new(
        config: TaskConfiguration,
        collector_hpke_config: HpkeConfigJson,
        collector_token_hash: String,
    ) -> Result<Plan, String> {
        let encoded = base64url(
            &config
                .get_encoded()
                .map_err(|e| format!("the configuration does not encode: {e}"))?,
        );
        let task_id = derive_task_id(&config).map_err(|e| e.to_string())?;
        Ok(Plan {
            config,
            encoded,
            task_id,
            verify_key: base64url(&edap_core::rand::array::<32>()),
            collector_hpke_config,
            collector_token_hash,
        })
    }

    /// The `POST /tasks` body for one role (Janus's fields and our extensions).
    pub fn request(&self, role: RoleJson) -> PostTaskReq {
        let mut req = PostTaskReq::for_config(
            &self.config,
            role,
            Secret(self.verify_key.clone()),
            self.collector_hpke_config.clone(),
        );
        req.aggregation_mode = (role == RoleJson::Helper).then_some(AggregationMode::Synchronous);
        req.task_id = Some(self.task_id);
        req.task_config = Some(self.encoded.clone());
        req
    }
}

async fn post_task(
    api: &impl AggregatorApi,
    ep: &Endpoint,
    req: &PostTaskReq,
) -> Result<TaskResp, String> {
    let body = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    let a = api
        .send(
            "POST",
            &api_join(&ep.api_url, "tasks"),
            &ep.token,
            Some(body),
        )
        .await
        .map_err(|e| format!("could not reach it: {e}"))?;
    if a.status != 200 && a.status != 201 {
        return Err(format!("it refused the task ({})", detail(&a)));
    }
    serde_json::from_slice(&a.body).map_err(|_| "its answer is not a task".to_string())
}

/// `DELETE {api}/tasks/{id}` at `ep`; `Err` unless 2xx or 404.
pub async fn delete_task(
    api: &impl AggregatorApi,
    ep: &Endpoint,
    task_id: &TaskId,
) -> Result<(), String> {
    delete_at(api, &ep.api_url, &ep.token, task_id).await
}

/// `DELETE {api_url}tasks/{id}`; `Err` unless 2xx or 404 (already gone).
pub async fn delete_at(
    api: &impl AggregatorApi,
    api_url: &str,
    token: &str,
    task_id: &TaskId,
) -> Result<(), String> {
    let url = api_join(api_url, &format!("tasks/{task_id}"));
    match api.send("DELETE", &url, token, None).await {
        Ok(a) if (200..300).contains(&a.status) || a.status == 404 => Ok(()),
        Ok(a) => Err(detail(&a)),
        Err(e) => Err(e),
    }
}

fn check_same(role: &str, resp: &TaskResp, plan: &Plan) -> Result<(), String> {
    if resp.task_id != plan.task_id {
        return Err(format!(
            "the {role} stored the task under another ID ({}): it ignored the task_id extension",
            resp.task_id
        ));
    }
    if !resp.task_config.is_empty() && resp.task_config != plan.encoded {
        return Err(format!("the {role} built a different task configuration"));
    }
    Ok(())
}

/// Removes the task from the aggregators that may hold it; describes the outcome.
async fn roll_back(api: &impl AggregatorApi, eps: &[&Endpoint], task_id: &TaskId) -> String {
    let mut left = Vec::new();
    for ep in eps {
        if let Err(e) = delete_task(api, ep, task_id).await {
            left.push(format!("{} ({e})", ep.name));
        }
    }
    if left.is_empty() {
        "nothing was left behind".to_string()
    } else {
        format!(
            "removing the task failed at {}: delete task {task_id} there by hand",
            left.join(", ")
        )
    }
}

/// Provisions `plan` on `helper`, then `leader`. On failure, nothing is left provisioned
/// (or the message says where removing it failed).
pub async fn provision(
    api: &impl AggregatorApi,
    leader: &Endpoint,
    helper: &Endpoint,
    plan: &Plan,
) -> Result<(), String> {
    let h = post_task(api, helper, &plan.request(RoleJson::Helper))
        .await
        .map_err(|e| format!("the Helper ({}) did not create the task: {e}", helper.name))?;
    if let Err(e) = check_same("Helper", &h, plan) {
        let outcome = roll_back(api, &[helper], &plan.task_id).await;
        return Err(format!("{e}; {outcome}"));
    }
    let Some(token) = h.aggregator_auth_token.filter(AuthTokenJson::is_valid) else {
        let outcome = roll_back(api, &[helper], &plan.task_id).await;
        return Err(format!(
            "the Helper ({}) returned no token for the Leader (did it hold this task already?); {outcome}",
            helper.name
        ));
    };
    let mut req = plan.request(RoleJson::Leader);
    req.aggregator_auth_token = Some(token);
    req.collector_auth_token_hash = Some(TokenHashJson::Bearer(plan.collector_token_hash.clone()));
    req.helper_dialect = Some(helper.info.dialect());
    let result = post_task(api, leader, &req)
        .await
        .and_then(|l| check_same("Leader", &l, plan));
    if let Err(e) = result {
        let outcome = roll_back(api, &[helper, leader], &plan.task_id).await;
        return Err(format!(
            "the Leader ({}) did not create the task: {e}; the Helper's task was removed again, {outcome}",
            leader.name
        ));
    }
    Ok(())
}

/// The media type of aggregator API bodies (re-exported for the worker's client).
pub const API_MEDIA_TYPE: &str = MEDIA_TYPE;

#[cfg(test)]
#[path = "provision_tests.rs"]
mod tests;
