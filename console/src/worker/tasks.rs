//! Tasks: the wizard's input checked field by field, the two aggregators asked whether they
//! can serve it, the configuration built once, provisioned on the Helper and then the
//! Leader (nothing left behind when the Leader fails), and the task page's data: its
//! parameters, the client snippets and the Leader's metrics.

use super::aggregators::{self, Aggregator};
use super::auth::{role_in, Principal};
use super::credentials;
use super::db::args;
use super::fetcher::WorkerFetch;
use super::http::{Ctx, Req, Resp};
use crate::error::{ConsoleError, FieldErrors};
use crate::pairing::TaskRole;
use crate::provision::{self, api_join, detail, AggregatorApi, Endpoint, Plan};
use crate::snippet;
use crate::tokens::new_id;
use crate::wizard::{self, MeasurementSpec, WizardRequest};
use edap_core::api::provision::TaskConfigSpec;
use edap_core::messages::{from_base64url, TaskConfiguration, TaskId};
use prio::codec::Decode;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Row {
    id: String,
    name: String,
    dap_task_id: String,
    task_config: String,
    measurement: String,
    leader_id: String,
    helper_id: String,
    credential_id: String,
    created_at: u64,
}

const COLUMNS: &str = "id, name, dap_task_id, task_config, measurement, leader_id, helper_id, credential_id, created_at";

async fn find(ctx: &Ctx, account_id: &str, id: &str) -> Result<Row, ConsoleError> {
    ctx.db
        .first(
            &format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1 AND account_id = ?2"),
            args![id, account_id],
        )
        .await?
        .ok_or_else(|| ConsoleError::not_found("task"))
}

fn decode(row: &Row) -> Result<(TaskConfiguration, MeasurementSpec), ConsoleError> {
    let bad = || ConsoleError::Internal(format!("stored task {} is unreadable", row.id));
    let config = from_base64url(&row.task_config)
        .and_then(|b| TaskConfiguration::get_decoded(&b).ok())
        .ok_or_else(bad)?;
    let m = serde_json::from_str(&row.measurement).map_err(|_| bad())?;
    Ok((config, m))
}

async fn aggregator_ref(ctx: &Ctx, account_id: &str, id: &str, dap_url: &str) -> Value {
    let name = match aggregators::find(ctx, account_id, id).await {
        Ok(a) => a.name,
        Err(_) => id.to_string(),
    };
    json!({"id": id, "name": name, "dap_url": dap_url})
}

async fn to_json(ctx: &Ctx, account_id: &str, row: &Row) -> Result<Value, ConsoleError> {
    let (config, m) = decode(row)?;
    let spec = TaskConfigSpec::from_config(&config);
    let credential = match credentials::find(ctx, account_id, &row.credential_id).await {
        Ok(c) => json!({"id": c.id, "name": c.name, "hpke_config": c.hpke_config}),
        Err(_) => json!({"id": row.credential_id}),
    };
    Ok(json!({
        "id": row.id, "name": row.name, "task_id": row.dap_task_id, "task_config": row.task_config,
        "measurement": m, "vdaf": spec.vdaf, "task_info": spec.task_info,
        "time_precision": spec.time_precision, "min_batch_size": spec.min_batch_size,
        "batch_mode": spec.batch_mode, "task_start": spec.task_start, "task_end": spec.task_end,
        "leader": aggregator_ref(ctx, account_id, &row.leader_id, &spec.leader_endpoint).await,
        "helper": aggregator_ref(ctx, account_id, &row.helper_id, &spec.helper_endpoint).await,
        "credential": credential,
        "snippets": snippet::snippets(&row.dap_task_id, &row.task_config, &spec, &m),
        "created_at": row.created_at,
    }))
}

/// `GET /accounts/{a}/tasks`: a summary of each.
pub async fn list(ctx: &Ctx, p: &Principal, account_id: &str) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    let rows: Vec<Row> = ctx
        .db
        .all(
            &format!("SELECT {COLUMNS} FROM tasks WHERE account_id = ?1 ORDER BY created_at DESC"),
            args![account_id],
        )
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let (config, m) = decode(&r)?;
        out.push(json!({
            "id": r.id, "name": r.name, "task_id": r.dap_task_id, "kind": m.kind,
            "batch_mode": config.batch_mode.as_str(), "min_batch_size": config.min_batch_size,
            "time_precision": config.time_precision, "created_at": r.created_at,
        }));
    }
    Ok(Resp::json(200, &json!({ "tasks": out })))
}

/// `GET /accounts/{a}/tasks/{t}`: everything the task page shows.
pub async fn get(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
    id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    let row = find(ctx, account_id, id).await?;
    Ok(Resp::json(200, &to_json(ctx, account_id, &row).await?))
}

/// Resolves and describes one of the task's aggregators; failures land on `field`.
async fn endpoint_for(
    ctx: &Ctx,
    account_id: &str,
    id: &str,
    field: &str,
    role: TaskRole,
    w: &wizard::Wizard,
) -> Result<Endpoint, ConsoleError> {
    let a: Aggregator = aggregators::find(ctx, account_id, id)
        .await
        .map_err(|e| match e {
            ConsoleError::NotFound(_) => {
                FieldErrors::one(field, "choose one of this account's aggregators")
            }
            other => other,
        })?;
    let name = a.name.clone();
    let ep = aggregators::endpoint(ctx, a)
        .await
        .map_err(|m| FieldErrors::one(field, format!("{name} cannot be used: {m}")))?;
    ep.info
        .can_serve(role, &w.measurement.vdaf(), w.batch_mode)
        .map_err(|m| {
            FieldErrors::one(
                field,
                format!("{name} cannot be this task's {}: {m}", role.as_str()),
            )
        })?;
    Ok(ep)
}

/// `POST /accounts/{a}/tasks`: the wizard.
pub async fn create(
    ctx: &Ctx,
    req: &Req,
    p: &Principal,
    account_id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    let r: WizardRequest = req.json()?;
    let w = wizard::check(&r, ctx.settings.min_batch_size_floor, ctx.now)
        .map_err(ConsoleError::Invalid)?;
    let credential = credentials::find(ctx, account_id, &w.credential)
        .await
        .map_err(|e| match e {
            ConsoleError::NotFound(_) => FieldErrors::one(
                "credential",
                "choose one of this account's collector credentials",
            ),
            other => other,
        })?;
    let leader = endpoint_for(ctx, account_id, &w.leader, "leader", TaskRole::Leader, &w).await?;
    let helper = endpoint_for(ctx, account_id, &w.helper, "helper", TaskRole::Helper, &w).await?;
    let id = new_id("tsk");
    let tag: String = id.chars().skip(4).take(8).collect();
    let spec = w.spec(
        &leader.info.dap_url,
        &helper.info.dap_url,
        &wizard::task_info(&w.name, &tag),
    );
    let config = w
        .to_config(&spec, &ctx.settings.task_limits())
        .map_err(ConsoleError::Invalid)?;
    let public = credential.public()?;
    let plan =
        Plan::new(config, public.hpke_json, public.token_hash).map_err(ConsoleError::Internal)?;
    let api = WorkerFetch {
        timeout_ms: ctx.settings.peer_timeout_ms,
    };
    provision::provision(&api, &leader, &helper, &plan)
        .await
        .map_err(ConsoleError::Upstream)?;
    let measurement =
        serde_json::to_string(&w.measurement).map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let stored = ctx
        .db
        .run(
            "INSERT INTO tasks (id, account_id, name, dap_task_id, task_config, measurement, leader_id, helper_id, credential_id, created_by, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            args![&id, account_id, &w.name, plan.task_id.to_base64url(), &plan.encoded, measurement,
                  &w.leader, &w.helper, &credential.id, p.actor(), ctx.now],
        )
        .await;
    if let Err(e) = stored {
        // Not recorded: remove it from both, so that nothing is left that no one sees.
        let _ = provision::delete_task(&api, &leader, &plan.task_id).await;
        let _ = provision::delete_task(&api, &helper, &plan.task_id).await;
        return Err(e);
    }
    let row = find(ctx, account_id, &id).await?;
    Ok(Resp::json(201, &to_json(ctx, account_id, &row).await?))
}

/// `PATCH /accounts/{a}/tasks/{t}`: rename (the configuration is fixed).
pub async fn rename(
    ctx: &Ctx,
    req: &Req,
    p: &Principal,
    account_id: &str,
    id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    find(ctx, account_id, id).await?;
    #[derive(Deserialize)]
    struct N {
        #[serde(default)]
        name: String,
    }
    let r: N = req.json()?;
    let mut e = FieldErrors::new();
    let name = crate::validate::name(&mut e, "name", &r.name);
    e.into_result()?;
    ctx.db
        .run(
            "UPDATE tasks SET name = ?1 WHERE id = ?2 AND account_id = ?3",
            args![&name, id, account_id],
        )
        .await?;
    get(ctx, p, account_id, id).await
}

fn task_id(row: &Row) -> Result<TaskId, ConsoleError> {
    TaskId::from_base64url(&row.dap_task_id)
        .ok_or_else(|| ConsoleError::Internal(format!("stored task {} has a bad task ID", row.id)))
}

/// `DELETE /accounts/{a}/tasks/{t}`: deletes it at the Leader (uploads stop), then the
/// Helper, then here; if an aggregator fails, the task stays so that it can be retried.
pub async fn delete(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
    id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    let row = find(ctx, account_id, id).await?;
    let tid = task_id(&row)?;
    let api = WorkerFetch {
        timeout_ms: ctx.settings.peer_timeout_ms,
    };
    for (agg_id, role) in [(&row.leader_id, "Leader"), (&row.helper_id, "Helper")] {
        let a = aggregators::find(ctx, account_id, agg_id).await?;
        provision::delete_at(&api, &a.api_url, &a.token, &tid)
            .await
            .map_err(|m| {
                ConsoleError::Upstream(format!(
                    "the {role} ({}) did not delete the task: {m}; try again",
                    a.name
                ))
            })?;
    }
    ctx.db
        .run(
            "DELETE FROM tasks WHERE id = ?1 AND account_id = ?2",
            args![id, account_id],
        )
        .await?;
    Ok(Resp::empty())
}

/// `GET /accounts/{a}/tasks/{t}/metrics`: the Leader's upload and aggregation counters.
pub async fn metrics(
    ctx: &Ctx,
    p: &Principal,
    account_id: &str,
    id: &str,
) -> Result<Resp, ConsoleError> {
    role_in(ctx, p, account_id).await?;
    let row = find(ctx, account_id, id).await?;
    let tid = task_id(&row)?;
    let leader = aggregators::find(ctx, account_id, &row.leader_id).await?;
    let api = WorkerFetch {
        timeout_ms: ctx.settings.peer_timeout_ms,
    };
    let mut out = json!({});
    for kind in ["uploads", "aggregations"] {
        let url = api_join(&leader.api_url, &format!("tasks/{tid}/metrics/{kind}"));
        let a = api
            .send("GET", &url, &leader.token, None)
            .await
            .map_err(|e| {
                ConsoleError::Upstream(format!("could not reach the Leader ({}): {e}", leader.name))
            })?;
        if a.status != 200 {
            return Err(ConsoleError::Upstream(format!(
                "the Leader ({}) did not give its {kind} metrics ({})",
                leader.name,
                detail(&a)
            )));
        }
        out[kind] = serde_json::from_slice(&a.body).map_err(|_| {
            ConsoleError::Upstream(format!("the Leader's {kind} metrics do not read"))
        })?;
    }
    Ok(Resp::json(200, &out))
}
