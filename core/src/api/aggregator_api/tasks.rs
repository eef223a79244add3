//! `/task_ids` and `/tasks[/{id}]`: creating, reading, deactivating and deleting tasks,
//! with Janus's `PostTaskReq` / `TaskResp` and our optional extension fields.

use super::types::{
    AuthTokenJson, BatchModeJson, HpkeConfigJson, RoleJson, TokenHashJson, VdafInstance,
};
use super::{body, dap_url, json, rfc3339, ApiError};
use crate::api::provision::{self, ProvisionError};
use crate::http::{Request, Response};
use crate::messages::{
    base64url, from_base64url, BatchMode, Extensions, Interval, Role, TaskConfiguration, TaskId,
    VdafConfig,
};
use crate::platform::Platform;
use crate::store::tasks::{TaskReq, TaskResp as StoreResp};
use crate::task::{
    AggregationSchedule, AggregatorTask, PeerDialect, Secret, TokenHash, DEFAULT_REPORT_EXPIRY_AGE,
};
use crate::taskprov::AggregationMode;
use prio::codec::{Decode, Encode};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

/// Task IDs per `GET /task_ids` page.
pub const PAGE_SIZE: u32 = 1000;

/// `POST /tasks`: Janus's `PostTaskReq`, and our extension fields (`task_id`,
/// `task_config`, `schedule`, `helper_dialect`, `report_expiry_age`,
/// `aggregator_auth_token_hash`), which Janus clients leave out. With `task_config` the
/// configuration fields may be left out; those given must agree with it. Times count
/// time-precision units; `time_precision` and `report_expiry_age` are seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostTaskReq {
    /// The peer's DAP URL, kept verbatim in the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_aggregator_endpoint: Option<String>,
    /// The batch mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_mode: Option<BatchModeJson>,
    /// Janus: required for a Helper. Accepted; this Helper answers a job asynchronously
    /// when it holds more reports than `HELPER_ASYNC_THRESHOLD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_mode: Option<AggregationMode>,
    /// The VDAF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdaf: Option<VdafInstance>,
    /// `Leader` or `Helper`: the role of this aggregator.
    pub role: RoleJson,
    /// The VDAF verification key, unpadded base64url of 32 bytes.
    pub vdaf_verify_key: Secret,
    /// `task_info`, unpadded base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_info: Option<String>,
    /// Start of the task interval (units); with `task_duration` or not at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_start: Option<u64>,
    /// Duration of the task interval (units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_duration: Option<u64>,
    /// Smallest batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_batch_size: Option<u64>,
    /// Seconds per time unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_precision: Option<u64>,
    /// Where aggregate shares are sealed to.
    pub collector_hpke_config: HpkeConfigJson,
    /// Leader: the token it presents to the Helper (its type picks the header). Helper:
    /// Janus requires `null` (a token is generated); here an explicit token is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregator_auth_token: Option<AuthTokenJson>,
    /// Leader: the hash of the Collector's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_auth_token_hash: Option<TokenHashJson>,
    /// Extension: the task ID (default: SHA-256 of the verification key, as Janus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
    /// Extension: the exact configuration, base64url of its DAP encoding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_config: Option<String>,
    /// Extension: aggregation scheduling (unset fields keep their defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<AggregationSchedule>,
    /// Extension, Leader: `auto`, `post` or `put`: how jobs are created at the Helper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helper_dialect: Option<PeerDialect>,
    /// Extension: seconds a report is kept after its time bucket (default one week).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_expiry_age: Option<u64>,
    /// Extension, Helper: the hash of the Leader's token, instead of generating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregator_auth_token_hash: Option<TokenHashJson>,
}

impl PostTaskReq {
    /// The request for `config` in Janus's fields only, as a Janus control plane sends it:
    /// the configuration's fields, no tokens, no aggregation mode and none of our
    /// extensions. Callers add what their role and peer need.
    pub fn for_config(
        config: &TaskConfiguration,
        role: RoleJson,
        vdaf_verify_key: Secret,
        collector_hpke_config: HpkeConfigJson,
    ) -> Self {
        let interval = config.task_interval();
        PostTaskReq {
            peer_aggregator_endpoint: Some(if role == RoleJson::Leader {
                config.helper_endpoint.clone()
            } else {
                config.leader_endpoint.clone()
            }),
            batch_mode: Some(config.batch_mode.into()),
            aggregation_mode: None,
            vdaf: Some((&config.vdaf).into()),
            role,
            vdaf_verify_key,
            task_info: Some(base64url(&config.task_info)),
            task_start: interval.map(|i| i.start.0),
            task_duration: interval.map(|i| i.duration.0),
            min_batch_size: Some(config.min_batch_size),
            time_precision: Some(config.time_precision),
            collector_hpke_config,
            aggregator_auth_token: None,
            collector_auth_token_hash: None,
            task_id: None,
            task_config: None,
            schedule: None,
            helper_dialect: None,
            report_expiry_age: None,
            aggregator_auth_token_hash: None,
        }
    }
}

/// A task (Janus's `TaskResp`, plus `task_config`, `schedule` and `helper_dialect`).
/// Times count time-precision units; `time_precision` is seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResp {
    /// The task ID.
    pub task_id: TaskId,
    /// The peer's DAP URL.
    pub peer_aggregator_endpoint: String,
    /// The batch mode.
    pub batch_mode: BatchModeJson,
    /// The VDAF.
    pub vdaf: VdafInstance,
    /// This aggregator's role.
    pub role: RoleJson,
    /// The VDAF verification key. Janus returns it; we never do (secrets stay out of
    /// responses), so it is always absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdaf_verify_key: Option<Secret>,
    /// `task_info`, base64url.
    pub task_info: String,
    /// Start of the task interval (units).
    pub task_start: Option<u64>,
    /// Duration of the task interval (units).
    pub task_duration: Option<u64>,
    /// How long reports are kept (units, rounded up).
    pub report_expiry_age: Option<u64>,
    /// Smallest batch.
    pub min_batch_size: u64,
    /// Seconds per time unit.
    pub time_precision: u64,
    /// Tolerated clock skew (units, rounded up).
    pub tolerable_clock_skew: u64,
    /// Only in a Helper's answer to the `POST` that generated it: the Leader's token.
    pub aggregator_auth_token: Option<AuthTokenJson>,
    /// The Collector's HPKE config.
    pub collector_hpke_config: HpkeConfigJson,
    /// When uploads stop being accepted (RFC 3339).
    pub deactivate_at: Option<String>,
    /// Extension: the configuration, base64url of its DAP encoding.
    #[serde(default)]
    pub task_config: String,
    /// Extension: aggregation scheduling.
    #[serde(default)]
    pub schedule: Option<AggregationSchedule>,
    /// Extension, Leader: how jobs are created at the Helper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helper_dialect: Option<PeerDialect>,
    /// Extension: the task was provisioned in band, by taskprov (docs/taskprov.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub taskprov: bool,
}

/// `PATCH /tasks/{id}`: `{"deactivate_at": "<RFC 3339>"}` sets it, `null` clears it, an
/// absent field changes nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchTaskReq {
    /// The new value (`Some(None)`: clear).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub deactivate_at: Option<Option<String>>,
    /// Extension: token rotation. A Leader task: the token it presents to the Helper from
    /// now on. A Helper task: the token the Leader presents from now on; the old one stays
    /// accepted for `token_grace_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregator_auth_token: Option<AuthTokenJson>,
    /// Extension, Helper: the new Leader token's hash instead of the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregator_auth_token_hash: Option<TokenHashJson>,
    /// Extension, Leader: the new Collector token's hash; the old one stays accepted for
    /// `token_grace_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector_auth_token_hash: Option<TokenHashJson>,
    /// Extension: how long a replaced token stays accepted (seconds; default one day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_grace_secs: Option<u64>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `GET /task_ids`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetTaskIdsResp {
    /// IDs of this page, in order.
    pub task_ids: Vec<TaskId>,
    /// The last ID of the page (absent when the page is empty): pass it to get the next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination_token: Option<TaskId>,
}

pub(super) fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

fn parse_task_id(id: &str) -> Result<TaskId, ApiError> {
    TaskId::from_base64url(id).ok_or_else(|| bad("a task ID is 32 bytes of unpadded base64url"))
}

fn units(secs: u64, precision: u64) -> u64 {
    secs.div_ceil(precision.max(1))
}

/// The `TaskResp` of a stored task.
pub(crate) fn task_resp(t: &AggregatorTask, skew_secs: u64) -> TaskResp {
    let c = &t.config;
    let interval = c.task_interval();
    let leader = t.role == Role::Leader;
    TaskResp {
        task_id: t.task_id,
        peer_aggregator_endpoint: if leader {
            c.helper_endpoint.clone()
        } else {
            c.leader_endpoint.clone()
        },
        batch_mode: c.batch_mode.into(),
        vdaf: VdafInstance::from(&c.vdaf).with_dp(t.dp_strategy),
        role: if leader {
            RoleJson::Leader
        } else {
            RoleJson::Helper
        },
        vdaf_verify_key: None,
        task_info: base64url(&c.task_info),
        task_start: interval.map(|i| i.start.0),
        task_duration: interval.map(|i| i.duration.0),
        report_expiry_age: Some(units(t.report_expiry_age, c.time_precision)),
        min_batch_size: c.min_batch_size,
        time_precision: c.time_precision,
        tolerable_clock_skew: units(skew_secs, c.time_precision),
        aggregator_auth_token: None,
        collector_hpke_config: HpkeConfigJson::from(&t.collector_hpke_config),
        deactivate_at: t.deactivate_at.map(rfc3339::format),
        // A configuration that was validated always encodes.
        task_config: base64url(&c.get_encoded().unwrap_or_default()),
        schedule: Some(t.schedule.clone()),
        helper_dialect: leader.then_some(t.helper_dialect),
        taskprov: t.taskprov,
    }
}

/// Checks that a field given next to `task_config` agrees with it.
fn agree<T: PartialEq>(name: &str, given: Option<T>, actual: T) -> Result<(), ApiError> {
    match given {
        Some(g) if g != actual => Err(bad(format!(
            "{name} disagrees with task_config; leave it out or make it equal"
        ))),
        _ => Ok(()),
    }
}

fn need<T>(v: Option<T>, name: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| {
        bad(format!(
            "missing {name} (required unless task_config is given)"
        ))
    })
}

/// The configuration: `task_config`, or Janus's fields with `own` as this aggregator's
/// endpoint.
fn configuration(r: &PostTaskReq, role: Role, own: &str) -> Result<TaskConfiguration, ApiError> {
    let batch_mode = match r.batch_mode {
        None => None,
        Some(BatchModeJson::TimeInterval) => Some(BatchMode::TimeInterval),
        Some(BatchModeJson::LeaderSelected {
            batch_time_window_size: None,
        }) => Some(BatchMode::LeaderSelected),
        Some(BatchModeJson::LeaderSelected { .. }) => {
            return Err(bad(
                "batch_time_window_size is not supported: it must be null",
            ))
        }
    };
    let task_info = match &r.task_info {
        Some(s) => {
            Some(from_base64url(s).ok_or_else(|| bad("task_info must be unpadded base64url"))?)
        }
        None => None,
    };
    let interval = match (r.task_start, r.task_duration) {
        (Some(start), Some(duration)) => Some(Interval::new(start, duration)),
        (None, None) => None,
        _ => {
            return Err(bad(
                "give task_start and task_duration together, or neither",
            ))
        }
    };
    let vdaf = r.vdaf.as_ref().map(VdafConfig::from);
    if let Some(b64) = &r.task_config {
        let bytes =
            from_base64url(b64).ok_or_else(|| bad("task_config must be unpadded base64url"))?;
        let c = TaskConfiguration::get_decoded(&bytes).map_err(|e| {
            bad(format!(
                "task_config does not decode as a TaskConfiguration: {e}"
            ))
        })?;
        let peer = if role == Role::Leader {
            &c.helper_endpoint
        } else {
            &c.leader_endpoint
        };
        agree(
            "peer_aggregator_endpoint",
            r.peer_aggregator_endpoint.as_ref(),
            peer,
        )?;
        agree("batch_mode", batch_mode, c.batch_mode)?;
        agree("vdaf", vdaf, c.vdaf)?;
        agree("task_info", task_info, c.task_info.clone())?;
        agree(
            "task_start/task_duration",
            interval.map(Some),
            c.task_interval(),
        )?;
        agree("min_batch_size", r.min_batch_size, c.min_batch_size)?;
        agree("time_precision", r.time_precision, c.time_precision)?;
        return Ok(c);
    }
    let peer = need(
        r.peer_aggregator_endpoint.clone(),
        "peer_aggregator_endpoint",
    )?;
    let (leader_endpoint, helper_endpoint) = match role {
        Role::Leader => (own.to_string(), peer),
        _ => (peer, own.to_string()),
    };
    let mut c = TaskConfiguration {
        task_info: need(task_info, "task_info")?,
        leader_endpoint,
        helper_endpoint,
        time_precision: need(r.time_precision, "time_precision")?,
        min_batch_size: need(r.min_batch_size, "min_batch_size")?,
        batch_mode: need(batch_mode, "batch_mode")?,
        vdaf: need(vdaf, "vdaf")?,
        extensions: Extensions::empty(),
    };
    c.set_task_interval(interval);
    Ok(c)
}

/// A checked token from the request.
pub(super) fn token(t: &AuthTokenJson, name: &str) -> Result<AuthTokenJson, ApiError> {
    if t.is_valid() {
        Ok(t.clone())
    } else {
        Err(bad(format!("{name}: {}", super::types::TOKEN_RULES)))
    }
}

pub(super) fn token_hash(h: &TokenHashJson, name: &str) -> Result<TokenHash, ApiError> {
    h.hash().ok_or_else(|| {
        bad(format!(
            "{name}.hash must be 32 bytes (SHA-256) of unpadded base64url"
        ))
    })
}

/// Builds the task of a `POST /tasks`; also the Leader token a Helper generated.
fn build(r: &PostTaskReq, own: &str) -> Result<(AggregatorTask, Option<AuthTokenJson>), ApiError> {
    let role = match r.role {
        RoleJson::Leader => Role::Leader,
        RoleJson::Helper => Role::Helper,
        _ => return Err(bad("role must be Leader or Helper")),
    };
    let vdaf_verify_key: [u8; 32] = from_base64url(&r.vdaf_verify_key.0)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| bad("vdaf_verify_key must be 32 bytes of unpadded base64url"))?;
    let collector_hpke_config = r.collector_hpke_config.to_config().ok_or_else(|| {
        bad("collector_hpke_config.public_key must be non-empty unpadded base64url")
    })?;
    let config = configuration(r, role, own)?;
    let task_id = r
        .task_id
        .unwrap_or_else(|| TaskId(Sha256::digest(vdaf_verify_key).into()));
    let mut task = AggregatorTask::new(
        task_id,
        config,
        role,
        vdaf_verify_key,
        collector_hpke_config,
    );
    task.schedule = r.schedule.clone().unwrap_or_default();
    task.report_expiry_age = r.report_expiry_age.unwrap_or(DEFAULT_REPORT_EXPIRY_AGE);
    task.helper_dialect = r.helper_dialect.unwrap_or_default();
    task.dp_strategy = r.vdaf.as_ref().map(VdafInstance::dp).unwrap_or_default();
    let mut generated = None;
    match role {
        Role::Leader => {
            if r.aggregator_auth_token_hash.is_some() {
                return Err(bad("aggregator_auth_token_hash applies to a Helper task; a Leader needs aggregator_auth_token"));
            }
            let t = token(
                r.aggregator_auth_token
                    .as_ref()
                    .ok_or_else(|| bad("a Leader task needs aggregator_auth_token"))?,
                "aggregator_auth_token",
            )?;
            task.peer_auth = t.header();
            task.aggregator_auth_token = Some(Secret(t.token().to_string()));
            task.collector_auth_token_hash = Some(token_hash(
                r.collector_auth_token_hash
                    .as_ref()
                    .ok_or_else(|| bad("a Leader task needs collector_auth_token_hash"))?,
                "collector_auth_token_hash",
            )?);
        }
        _ => {
            if r.helper_dialect.is_some() {
                return Err(bad("helper_dialect applies to a Leader task"));
            }
            task.aggregator_auth_token_hash = Some(
                match (&r.aggregator_auth_token, &r.aggregator_auth_token_hash) {
                    (Some(_), Some(_)) => {
                        return Err(bad(
                            "give aggregator_auth_token or aggregator_auth_token_hash, not both",
                        ))
                    }
                    (Some(t), None) => TokenHash::of(token(t, "aggregator_auth_token")?.token()),
                    (None, Some(h)) => token_hash(h, "aggregator_auth_token_hash")?,
                    (None, None) => {
                        let t =
                            AuthTokenJson::Bearer(Secret(base64url(&crate::rand::array::<32>())));
                        let h = TokenHash::of(t.token());
                        generated = Some(t);
                        h
                    }
                },
            );
        }
    }
    Ok((task, generated))
}

/// Whether `existing` is the task `new` asks for: equal except for the operational
/// `deactivate_at` and, when this request generated it, the Helper's token.
fn same_task(existing: &AggregatorTask, new: &AggregatorTask, generated: bool) -> bool {
    let mut e = existing.clone();
    e.deactivate_at = new.deactivate_at;
    if generated {
        e.aggregator_auth_token_hash = new.aggregator_auth_token_hash;
    }
    e == *new
}

/// `POST /tasks`: 200 with the task, new or identical to the stored one; 409 if a
/// different task has the ID.
pub(crate) async fn post<P: Platform>(p: &P, req: &Request) -> Result<Response, ApiError> {
    let r: PostTaskReq = body(req, false)?;
    let own = match r.task_config {
        Some(_) => String::new(),
        None => dap_url(p, req)?,
    };
    let (task, generated) = build(&r, &own)?;
    let skew = p.config().report_skew_secs;
    match provision::provision(p, &task).await {
        Ok(_) => {
            let mut resp = task_resp(&task, skew);
            resp.aggregator_auth_token = generated;
            json(200, &resp)
        }
        Err(ProvisionError::Invalid(e)) => Err(bad(e.to_string())),
        Err(ProvisionError::Conflict {
            existing: Some(e), ..
        }) if same_task(&e, &task, generated.is_some()) => json(200, &task_resp(&e, skew)),
        Err(e @ ProvisionError::Conflict { .. }) => Err(ApiError::Conflict(e.to_string())),
        Err(ProvisionError::Store(e)) => Err(e.into()),
    }
}

async fn stored<P: Platform>(p: &P, id: &TaskId) -> Result<AggregatorTask, ApiError> {
    match p.tasks(TaskReq::Get(*id)).await? {
        StoreResp::Task(Some(t)) => Ok(*t),
        StoreResp::Task(None) => Err(ApiError::NotFound(format!("no task {id}"))),
        _ => Err(ApiError::Internal("unexpected task store answer".into())),
    }
}

/// The stored task `id` (404 if there is none).
pub(crate) async fn lookup<P: Platform>(p: &P, id: &str) -> Result<AggregatorTask, ApiError> {
    stored(p, &parse_task_id(id)?).await
}

/// `GET /tasks/{id}`.
pub(crate) async fn get<P: Platform>(p: &P, id: &str) -> Result<Response, ApiError> {
    let t = lookup(p, id).await?;
    json(200, &task_resp(&t, p.config().report_skew_secs))
}

/// `PATCH /tasks/{id}`.
pub(crate) async fn patch<P: Platform>(
    p: &P,
    req: &Request,
    id: &str,
) -> Result<Response, ApiError> {
    let task_id = parse_task_id(id)?;
    let r: PatchTaskReq = body(req, false)?;
    let t = match r.deactivate_at.clone() {
        None => stored(p, &task_id).await?,
        Some(v) => {
            let at = match v {
                Some(s) => Some(rfc3339::parse(&s).ok_or_else(|| {
                    bad("deactivate_at must be an RFC 3339 date-time (e.g. 2026-01-01T00:00:00Z) or null")
                })?),
                None => None,
            };
            match p
                .tasks(TaskReq::SetDeactivateAt { id: task_id, at })
                .await?
            {
                StoreResp::Task(Some(t)) => *t,
                StoreResp::Task(None) => {
                    return Err(ApiError::NotFound(format!("no task {task_id}")))
                }
                _ => return Err(ApiError::Internal("unexpected task store answer".into())),
            }
        }
    };
    let t = super::token_rotation::rotate_tokens(p, &r, t).await?;
    json(200, &task_resp(&t, p.config().report_skew_secs))
}

/// `DELETE /tasks/{id}`: 204, also when there is no such task.
pub(crate) async fn delete<P: Platform>(p: &P, id: &str) -> Result<Response, ApiError> {
    provision::delete_task(p, &parse_task_id(id)?).await?;
    Ok(Response::empty(204))
}

/// `GET /task_ids?pagination_token=ID`.
pub(crate) async fn ids<P: Platform>(p: &P, req: &Request) -> Result<Response, ApiError> {
    let after = match req.query_param("pagination_token") {
        None | Some("") => None,
        Some(t) => Some(TaskId::from_base64url(t).ok_or_else(|| {
            bad("pagination_token must be a task ID (32 bytes of unpadded base64url)")
        })?),
    };
    let task_ids = match p
        .tasks(TaskReq::Ids {
            after,
            limit: PAGE_SIZE,
        })
        .await?
    {
        StoreResp::Ids(ids) => ids,
        _ => return Err(ApiError::Internal("unexpected task store answer".into())),
    };
    let pagination_token = task_ids.last().copied();
    json(
        200,
        &GetTaskIdsResp {
            task_ids,
            pagination_token,
        },
    )
}
