//! The admin API (JSON over HTTP, bearer-token authenticated): provisioning tasks and
//! managing HPKE keys. Routes:
//!
//! | method | path | does |
//! |---|---|---|
//! | POST | `/admin/tasks` | create a task from a [`TaskSpec`] (idempotent; 409 on a different task with the same ID) |
//! | GET | `/admin/tasks` | list tasks |
//! | GET / DELETE | `/admin/tasks/{id}` | read / delete a task |
//! | GET | `/admin/tasks/{id}/stats` | Leader counters: uploaded, aggregated, rejected per error |
//! | GET | `/admin/hpke_configs` | the advertised and retiring HPKE configs |
//! | POST | `/admin/hpke_configs` | rotate: `{"kem": "x25519" \| "p256"}` becomes the advertised config |
//! | DELETE | `/admin/hpke_configs/{id}` | stop accepting a retiring config |
//!
//! Secrets are accepted but never returned.

use crate::error::Abort;
use crate::hpke::{HpkeKeypair, HpkeReceiverSet};
use crate::http::{Method, Request, Response};
use crate::messages::{
    BatchMode, Extensions, HpkeConfig, HpkeConfigId, HpkeKemId, Interval, Role, TaskConfiguration,
    TaskId, VdafConfig,
};
use crate::platform::Platform;
use crate::store::report_shard::{ShardReq, ShardResp};
use crate::store::tasks::{TaskReq, TaskResp};
use crate::task::{
    derive_task_id, AggregationSchedule, AggregatorTask, Secret, TaskError, TokenHash,
};
use prio::codec::{Decode, Encode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// The parts of a `TaskConfiguration`, as JSON. Times are POSIX seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskConfigSpec {
    /// `task_info` as UTF-8 text.
    pub task_info: String,
    /// Leader API base URL.
    pub leader_endpoint: String,
    /// Helper API base URL.
    pub helper_endpoint: String,
    /// Seconds per time unit.
    pub time_precision: u64,
    /// Smallest batch.
    pub min_batch_size: u64,
    /// `time_interval` or `leader_selected`.
    pub batch_mode: String,
    /// The VDAF, e.g. `{"type": "prio3_histogram", "length": 4, "chunk_length": 2}`.
    pub vdaf: VdafConfig,
    /// Reports before this time (POSIX seconds) are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_start: Option<u64>,
    /// Reports at or after this time (POSIX seconds) are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_end: Option<u64>,
}

/// Parses a batch mode name.
pub fn parse_batch_mode(s: &str) -> Option<BatchMode> {
    match s {
        "time_interval" | "1" => Some(BatchMode::TimeInterval),
        "leader_selected" | "2" => Some(BatchMode::LeaderSelected),
        _ => None,
    }
}

impl TaskConfigSpec {
    /// Builds the encoded-form configuration.
    pub fn to_config(&self) -> Result<TaskConfiguration, TaskError> {
        let batch_mode = parse_batch_mode(&self.batch_mode).ok_or_else(|| {
            TaskError::Invalid(format!("unknown batch mode {:?}", self.batch_mode))
        })?;
        let mut config = TaskConfiguration {
            task_info: self.task_info.as_bytes().to_vec(),
            leader_endpoint: self.leader_endpoint.clone(),
            helper_endpoint: self.helper_endpoint.clone(),
            time_precision: self.time_precision,
            min_batch_size: self.min_batch_size,
            batch_mode,
            vdaf: self.vdaf,
            extensions: Extensions::empty(),
        };
        if self.task_start.is_some() || self.task_end.is_some() {
            let p = self.time_precision.max(1);
            let start = self.task_start.unwrap_or(0) / p;
            let end = match self.task_end {
                Some(e) => e.div_ceil(p),
                None => u64::MAX,
            };
            if end <= start {
                return Err(TaskError::Invalid(
                    "task_end must be after task_start".into(),
                ));
            }
            config.set_task_interval(Some(Interval::new(start, end - start)));
        }
        Ok(config)
    }

    /// The inverse of [`Self::to_config`] (for display).
    pub fn from_config(c: &TaskConfiguration) -> TaskConfigSpec {
        let interval = c.task_interval();
        TaskConfigSpec {
            task_info: String::from_utf8_lossy(&c.task_info).into_owned(),
            leader_endpoint: c.leader_endpoint.clone(),
            helper_endpoint: c.helper_endpoint.clone(),
            time_precision: c.time_precision,
            min_batch_size: c.min_batch_size,
            batch_mode: c.batch_mode.as_str().to_string(),
            vdaf: c.vdaf,
            task_start: interval.map(|i| i.start.to_seconds(c.time_precision)),
            task_end: interval
                .and_then(|i| i.end())
                .map(|e| e.to_seconds(c.time_precision)),
        }
    }
}

/// A request to provision a task on this aggregator.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TaskSpec {
    /// `leader` or `helper`.
    pub role: String,
    /// The configuration as base64url of its DAP encoding (alternative to `config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_config: Option<String>,
    /// The configuration as JSON fields (alternative to `task_config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<TaskConfigSpec>,
    /// The task ID (base64url, 32 bytes); derived from the configuration (taskprov rule)
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The VDAF verification key, base64url (32 bytes).
    pub vdaf_verify_key: String,
    /// The Collector's `HpkeConfig`, base64url of its DAP encoding.
    pub collector_hpke_config: String,
    /// Leader: token presented to the Helper. Helper: token the Leader presents (hashed on receipt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregator_auth_token: Option<String>,
    /// Helper: SHA-256 (hex) of the Leader's token, instead of the token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregator_auth_token_hash: Option<String>,
    /// Leader: the Collector's token (hashed on receipt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_auth_token: Option<String>,
    /// Leader: SHA-256 (hex) of the Collector's token, instead of the token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_auth_token_hash: Option<String>,
    /// Leader: aggregation job scheduling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<AggregationSchedule>,
    /// Leader: `bearer` (default) or `dap_auth_token`, the header the token travels in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_auth: Option<crate::task::AuthHeader>,
}

fn bad(msg: impl Into<String>) -> TaskError {
    TaskError::Invalid(msg.into())
}

fn token_hash(
    plain: &Option<String>,
    hex: &Option<String>,
) -> Result<Option<TokenHash>, TaskError> {
    match (plain, hex) {
        (Some(t), _) if !t.is_empty() => Ok(Some(TokenHash::of(t))),
        (_, Some(h)) => {
            let v: TokenHash = serde_json::from_value(json!(h))
                .map_err(|_| bad("token hash must be 64 hex digits"))?;
            Ok(Some(v))
        }
        _ => Ok(None),
    }
}

impl TaskSpec {
    /// Builds the stored task (not yet validated against limits).
    pub fn into_task(self) -> Result<AggregatorTask, TaskError> {
        let role = Role::parse(&self.role)
            .filter(|r| r.is_aggregator())
            .ok_or_else(|| bad("role must be \"leader\" or \"helper\""))?;
        let config = match (&self.task_config, &self.config) {
            (Some(b64), None) => {
                let bytes = crate::messages::from_base64url(b64)
                    .ok_or_else(|| bad("task_config is not base64url"))?;
                TaskConfiguration::get_decoded(&bytes)
                    .map_err(|e| bad(format!("task_config does not decode: {e}")))?
            }
            (None, Some(spec)) => spec.to_config()?,
            _ => {
                return Err(bad(
                    "give exactly one of task_config (base64url) or config (JSON)",
                ))
            }
        };
        let task_id = match &self.task_id {
            Some(id) => TaskId::from_base64url(id)
                .ok_or_else(|| bad("task_id must be 32 bytes, base64url"))?,
            None => derive_task_id(&config)?,
        };
        let vdaf_verify_key = crate::messages::from_base64url(&self.vdaf_verify_key)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("vdaf_verify_key must be 32 bytes, base64url"))?;
        let collector_hpke_config = crate::messages::from_base64url(&self.collector_hpke_config)
            .and_then(|b| HpkeConfig::get_decoded(&b).ok())
            .ok_or_else(|| bad("collector_hpke_config must be an encoded HpkeConfig, base64url"))?;
        let (aggregator_auth_token, aggregator_auth_token_hash, collector_auth_token_hash) =
            match role {
                Role::Leader => (
                    self.aggregator_auth_token.clone().map(Secret),
                    None,
                    token_hash(&self.collector_auth_token, &self.collector_auth_token_hash)?,
                ),
                _ => (
                    None,
                    token_hash(
                        &self.aggregator_auth_token,
                        &self.aggregator_auth_token_hash,
                    )?,
                    None,
                ),
            };
        Ok(AggregatorTask {
            task_id,
            config,
            role,
            vdaf_verify_key,
            collector_hpke_config,
            aggregator_auth_token,
            aggregator_auth_token_hash,
            collector_auth_token_hash,
            schedule: self.schedule.unwrap_or_default(),
            peer_auth: self.peer_auth.unwrap_or_default(),
        })
    }
}

/// The public view of a task (no secrets).
pub fn task_summary(t: &AggregatorTask) -> serde_json::Value {
    json!({
        "task_id": t.task_id.to_base64url(),
        "role": t.role.as_str(),
        "task_config": crate::messages::base64url(&t.config.get_encoded().unwrap_or_default()),
        "config": TaskConfigSpec::from_config(&t.config),
        "collector_hpke_config": crate::messages::base64url(&t.collector_hpke_config.get_encoded().unwrap_or_default()),
        "schedule": t.schedule,
    })
}

fn keys_json(set: &HpkeReceiverSet) -> serde_json::Value {
    let one = |k: &HpkeKeypair| {
        json!({
            "id": k.config.id.0,
            "kem_id": k.config.kem_id.0,
            "kdf_id": k.config.kdf_id.0,
            "aead_id": k.config.aead_id.0,
            "hpke_config": crate::messages::base64url(&k.config.get_encoded().unwrap_or_default()),
        })
    };
    json!({
        "advertised": set.advertised.iter().map(one).collect::<Vec<_>>(),
        "retiring": set.retiring.iter().map(one).collect::<Vec<_>>(),
    })
}

/// Stores a validated task. Returns `(created, task)`.
pub async fn provision<P: Platform>(
    p: &P,
    spec: TaskSpec,
) -> Result<(bool, AggregatorTask), Abort> {
    let task = spec
        .into_task()
        .map_err(|e| Abort::BadRequest(e.to_string()))?;
    task.validate(&p.config().limits)
        .map_err(|e| Abort::BadRequest(e.to_string()))?;
    match p.tasks(TaskReq::Put(Box::new(task.clone()))).await? {
        TaskResp::Stored(created) => Ok((created, task)),
        TaskResp::Conflict => Err(Abort::Conflict(format!(
            "a different task with ID {} exists",
            task.task_id
        ))),
        _ => Err(Abort::Internal("unexpected task store answer".into())),
    }
}

/// Handles `/admin/...`.
pub async fn handle<P: Platform>(
    p: &P,
    req: &Request,
    method: Method,
    rest: &[&str],
) -> Result<Response, Abort> {
    let Some(hash) = &p.config().admin_token_hash else {
        return Err(Abort::NotFound(
            "the admin API is not enabled on this deployment".into(),
        ));
    };
    let token = req
        .auth_token()
        .ok_or_else(|| Abort::Unauthorized("the admin API needs a bearer token".into()))?;
    if !hash.matches(token) {
        return Err(Abort::Forbidden("wrong admin token".into()));
    }
    let json_body = || -> Result<serde_json::Value, Abort> {
        serde_json::from_slice(&req.body)
            .map_err(|e| Abort::BadRequest(format!("body is not JSON: {e}")))
    };
    match (method, rest) {
        (Method::Post, ["tasks"]) => {
            let spec: TaskSpec = serde_json::from_value(json_body()?)
                .map_err(|e| Abort::BadRequest(format!("invalid task: {e}")))?;
            let (created, task) = provision(p, spec).await?;
            Ok(Response::json(
                if created { 201 } else { 200 },
                &task_summary(&task),
            ))
        }
        (Method::Get, ["tasks"]) => match p.tasks(TaskReq::List).await? {
            TaskResp::Tasks(ts) => Ok(Response::json(
                200,
                &json!({ "tasks": ts.iter().map(task_summary).collect::<Vec<_>>() }),
            )),
            _ => Err(Abort::Internal("unexpected task store answer".into())),
        },
        (m, ["tasks", id, tail @ ..]) => {
            let task_id = TaskId::from_base64url(id)
                .ok_or_else(|| Abort::NotFound("malformed task ID".into()))?;
            match (m, tail) {
                (Method::Get, []) => match p.task(&task_id).await? {
                    Some(t) => Ok(Response::json(200, &task_summary(&t))),
                    None => Err(Abort::NotFound("no such task".into())),
                },
                (Method::Delete, []) => match p.tasks(TaskReq::Delete(task_id)).await? {
                    TaskResp::Deleted(true) => Ok(Response::empty(204)),
                    _ => Err(Abort::NotFound("no such task".into())),
                },
                (Method::Get, ["stats"]) => {
                    let t = p
                        .task(&task_id)
                        .await?
                        .ok_or_else(|| Abort::NotFound("no such task".into()))?;
                    Ok(Response::json(200, &json!(task_stats(p, &t).await?)))
                }
                _ => Err(Abort::MethodNotAllowed),
            }
        }
        (Method::Get, ["hpke_configs"]) => {
            Ok(Response::json(200, &keys_json(&p.hpke_keys().await?)))
        }
        (Method::Post, ["hpke_configs"]) => {
            let v = json_body()?;
            let kem = match v.get("kem").and_then(|k| k.as_str()).unwrap_or("x25519") {
                "x25519" => HpkeKemId::X25519_HKDF_SHA256,
                "p256" => HpkeKemId::P256_HKDF_SHA256,
                other => {
                    return Err(Abort::BadRequest(format!(
                        "unknown kem {other:?}; use x25519 or p256"
                    )))
                }
            };
            let current = p.hpke_keys().await?;
            let id = current
                .free_config_id()
                .ok_or_else(|| Abort::Conflict("all 256 HPKE config IDs are in use".into()))?;
            let kp = HpkeKeypair::generate(id, kem).map_err(|e| Abort::Internal(e.to_string()))?;
            match p.tasks(TaskReq::Rotate(kp)).await? {
                TaskResp::Keys(set) => Ok(Response::json(201, &keys_json(&set))),
                _ => Err(Abort::Internal("unexpected task store answer".into())),
            }
        }
        (Method::Delete, ["hpke_configs", id]) => {
            let id: u8 = id
                .parse()
                .map_err(|_| Abort::BadRequest("config id must be 0-255".into()))?;
            let current = p.hpke_keys().await?;
            if current
                .advertised
                .iter()
                .any(|k| k.config.id == HpkeConfigId(id))
            {
                return Err(Abort::Conflict(
                    "rotate before retiring the advertised config".into(),
                ));
            }
            match p.tasks(TaskReq::Retire(HpkeConfigId(id))).await? {
                TaskResp::Keys(set) => Ok(Response::json(200, &keys_json(&set))),
                _ => Err(Abort::Internal("unexpected task store answer".into())),
            }
        }
        _ => Err(Abort::NotFound("no such admin resource".into())),
    }
}

/// Sums the Leader's report-shard counters for a task.
pub async fn task_stats<P: Platform>(
    p: &P,
    task: &AggregatorTask,
) -> Result<BTreeMap<String, u64>, Abort> {
    let mut totals = BTreeMap::new();
    if task.role != Role::Leader {
        return Ok(totals);
    }
    let calls =
        (0..task.schedule.report_shards).map(|s| p.report_shard(&task.task_id, s, ShardReq::Stats));
    for a in futures::future::join_all(calls).await {
        if let ShardResp::Stats(items) = a? {
            for (k, v) in items {
                *totals.entry(k).or_insert(0) += v;
            }
        }
    }
    Ok(totals)
}
