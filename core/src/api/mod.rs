//! The HTTP API of an aggregator, for both roles: the DAP-18 resources, the aggregator API
//! under `/api` (task provisioning, keys, metrics) and, when enabled, the interop test API.
//! [`handle`] never panics on bad input: every failure is an RFC 9457 problem document.
//!
//! Resources are created in both forms peers speak (see docs/architecture.md,
//! "Conformance"): DAP-18's `POST` to the collection URL with a server-chosen ID
//! (section "Resource Creation"), and `PUT` to a URL carrying a client-chosen ID, which the
//! deployed DAP-18 implementations still send. Both are idempotent: a repeat of the same
//! request finds the same resource; a `PUT` of a different request to an existing ID is a
//! conflict (409).

pub mod aggregator_api;
pub mod cors;
pub mod interop;
pub mod provision;

pub use aggregator_api::changes_state;

use crate::error::{Abort, DapErrorType};
use crate::http::{Method, Request, Response};
use crate::media::MediaType;
use crate::messages::{AggregateShareId, AggregationJobId, CollectionJobId, Role, TaskId};
use crate::platform::Platform;
use crate::roles::{helper, leader, AggJobReq, AggJobResp, CollJobReq, CollJobResp};
use crate::task::AggregatorTask;
use crate::taskprov::gate::{self, OptIn};
use crate::tokens::TokenKind;
use prio::codec::Encode;

/// Handles one request.
pub async fn handle<P: Platform>(p: &P, req: Request) -> Response {
    if let Some(r) = cors::preflight(&req) {
        return r;
    }
    let resp = match route(p, &req).await {
        Ok(r) => r,
        Err(a) => Response::problem(&a),
    };
    cors::decorate(&req, resp)
}

async fn route<P: Platform>(p: &P, req: &Request) -> Result<Response, Abort> {
    if req.body.len() > p.config().max_body_bytes {
        return Err(Abort::PayloadTooLarge(format!(
            "request bodies are limited to {} bytes",
            p.config().max_body_bytes
        )));
    }
    let method = req.method.unwrap_or(Method::Other);
    let segs: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["hpke_config"] => match method {
            Method::Get => hpke_config(p).await,
            _ => Err(Abort::MethodNotAllowed),
        },
        ["tasks", t, "reports"] => match method {
            Method::Post => upload(p, req, t).await,
            _ => Err(Abort::MethodNotAllowed),
        },
        ["tasks", t, "aggregation_jobs"] => match method {
            Method::Post => agg_job_init(p, req, t).await,
            _ => Err(Abort::MethodNotAllowed),
        },
        ["tasks", t, "aggregation_jobs", j] => match method {
            Method::Put => agg_job_put(p, req, t, j).await,
            _ => agg_job_resource(p, req, method, t, j).await,
        },
        ["tasks", t, "collection_jobs"] => match method {
            Method::Post => collection_create(p, req, t, None).await,
            _ => Err(Abort::MethodNotAllowed),
        },
        ["tasks", t, "collection_jobs", c] => match method {
            Method::Put => {
                let id = CollectionJobId::from_base64url(c)
                    .ok_or_else(|| Abort::invalid_message("malformed collection job ID"))?;
                collection_create(p, req, t, Some(id)).await
            }
            _ => collection_resource(p, req, method, t, c).await,
        },
        ["tasks", t, "aggregate_shares"] => match method {
            Method::Post => agg_share_create(p, req, t, None).await,
            _ => Err(Abort::MethodNotAllowed),
        },
        ["tasks", t, "aggregate_shares", a] => match method {
            Method::Put => {
                let id = AggregateShareId::from_base64url(a)
                    .ok_or_else(|| Abort::invalid_message("malformed aggregate share ID"))?;
                agg_share_create(p, req, t, Some(id)).await
            }
            _ => agg_share_resource(p, req, method, t, a).await,
        },
        ["api", rest @ ..] => Ok(aggregator_api::handle(p, req, method, rest).await),
        ["internal", "test", rest @ ..] => interop::handle(p, req, method, rest).await,
        _ => Err(Abort::NotFound(format!("no resource at {}", req.path))),
    }
}

/// Loads the task a request addresses as `role` (see [`gate::task_for`]: taskprov
/// advertisements are checked, and opted into where `opt_in` allows).
async fn task_for<P: Platform>(
    p: &P,
    req: &Request,
    id: &str,
    role: Role,
    opt_in: OptIn,
) -> Result<AggregatorTask, Abort> {
    gate::task_for(p, req, id, role, opt_in).await
}

/// Checks the request's `kind` token: 401 without one, 403 if wrong ([`gate::authorize`]).
async fn authorize<P: Platform>(
    p: &P,
    req: &Request,
    task: &AggregatorTask,
    kind: TokenKind,
) -> Result<(), Abort> {
    gate::authorize(p, req, task, kind).await
}

async fn hpke_config<P: Platform>(p: &P) -> Result<Response, Abort> {
    let keys = p.hpke_keys().await?;
    let body = keys
        .config_list()
        .get_encoded()
        .map_err(|e| Abort::Internal(e.to_string()))?;
    Ok(
        Response::dap(200, MediaType::HpkeConfigList, body).with_header(
            "cache-control",
            format!("max-age={}", p.config().hpke_config_max_age_secs),
        ),
    )
}

async fn upload<P: Platform>(p: &P, req: &Request, t: &str) -> Result<Response, Abort> {
    let task = task_for(p, req, t, Role::Leader, OptIn::Allowed).await?;
    req.require_media_type(MediaType::UploadReq)?;
    let errors = leader::upload(p, &task, &req.body)
        .await
        .map_err(|a| a.with_task(task.task_id))?;
    if errors.status.is_empty() {
        return Ok(Response::empty(200));
    }
    let body = errors
        .get_encoded()
        .map_err(|e| Abort::Internal(e.to_string()))?;
    Ok(Response::dap(200, MediaType::UploadErrors, body))
}

fn agg_job_location(task: &TaskId, job: &AggregationJobId) -> String {
    format!("/tasks/{task}/aggregation_jobs/{job}")
}

fn helper_view(
    task: &AggregatorTask,
    job: &AggregationJobId,
    resp: AggJobResp,
    created: bool,
    retry: u64,
) -> Result<Response, Abort> {
    let loc = agg_job_location(&task.task_id, job);
    match resp {
        AggJobResp::Helper {
            resp: Some(body), ..
        } => Ok(Response::dap(
            if created { 201 } else { 200 },
            MediaType::AggregationJobResp,
            body,
        )
        .with_header("location", loc)),
        AggJobResp::Helper { step, resp: None } => {
            Ok(Response::empty(if created { 201 } else { 200 })
                .with_header("location", format!("{loc}?step={step}"))
                .with_header("retry-after", retry.to_string()))
        }
        AggJobResp::Deleted => Err(Abort::dap(
            DapErrorType::UnrecognizedAggregationJob,
            "the job was deleted",
        )),
        AggJobResp::Started => Err(Abort::Internal("unexpected job answer".into())),
    }
}

async fn agg_job_init<P: Platform>(p: &P, req: &Request, t: &str) -> Result<Response, Abort> {
    let task = task_for(p, req, t, Role::Helper, OptIn::Allowed).await?;
    authorize(p, req, &task, TokenKind::Aggregator).await?;
    req.require_media_type(MediaType::AggregationJobInitReq)?;
    let job = helper::job_id_for(&task.task_id, &req.body);
    agg_job_create(p, req, &task, job, None).await
}

/// `PUT /tasks/{t}/aggregation_jobs/{id}`: the Leader chose the job ID.
async fn agg_job_put<P: Platform>(
    p: &P,
    req: &Request,
    t: &str,
    j: &str,
) -> Result<Response, Abort> {
    let task = task_for(p, req, t, Role::Helper, OptIn::Allowed).await?;
    authorize(p, req, &task, TokenKind::Aggregator).await?;
    let job = AggregationJobId::from_base64url(j)
        .ok_or_else(|| Abort::invalid_message("malformed aggregation job ID"))?;
    req.require_media_type(MediaType::AggregationJobInitReq)?;
    agg_job_create(p, req, &task, job, Some(job)).await
}

async fn agg_job_create<P: Platform>(
    p: &P,
    req: &Request,
    task: &AggregatorTask,
    job: AggregationJobId,
    id: Option<AggregationJobId>,
) -> Result<Response, Abort> {
    let resp = p
        .agg_job(
            &task.task_id,
            &job,
            AggJobReq::HelperInit {
                task_id: task.task_id,
                id,
                body: req.body.clone(),
            },
        )
        .await
        .map_err(|a| a.with_task(task.task_id))?;
    helper_view(task, &job, resp, true, p.config().retry_after_secs)
}

async fn agg_job_resource<P: Platform>(
    p: &P,
    req: &Request,
    method: Method,
    t: &str,
    j: &str,
) -> Result<Response, Abort> {
    let task = task_for(p, req, t, Role::Helper, OptIn::No).await?;
    authorize(p, req, &task, TokenKind::Aggregator).await?;
    let job = AggregationJobId::from_base64url(j).ok_or_else(|| {
        Abort::dap(
            DapErrorType::UnrecognizedAggregationJob,
            "malformed aggregation job ID",
        )
    })?;
    let task_id = task.task_id;
    let call = |r| p.agg_job(&task_id, &job, r);
    let resp = match method {
        Method::Post => {
            req.require_media_type(MediaType::AggregationJobContinueReq)?;
            call(AggJobReq::HelperContinue {
                task_id,
                body: req.body.clone(),
            })
            .await
        }
        Method::Get => {
            let step = match req.query_param("step") {
                Some(s) => s
                    .parse::<u16>()
                    .map_err(|_| Abort::invalid_message("step must be an integer"))?,
                None => {
                    return Err(Abort::invalid_message(
                        "GET on an aggregation job needs the step parameter",
                    ))
                }
            };
            call(AggJobReq::HelperGet { task_id, step }).await
        }
        Method::Delete => {
            call(AggJobReq::HelperDelete { task_id })
                .await
                .map_err(|a| a.with_task(task_id))?;
            return Ok(Response::empty(200));
        }
        _ => return Err(Abort::MethodNotAllowed),
    }
    .map_err(|a| a.with_task(task_id))?;
    helper_view(&task, &job, resp, false, p.config().retry_after_secs)
}

fn collection_view(
    task: &TaskId,
    resp: CollJobResp,
    created: bool,
    retry: u64,
) -> Result<Response, Abort> {
    match resp {
        CollJobResp::Job { id, result } => {
            let loc = format!("/tasks/{task}/collection_jobs/{}", CollectionJobId(id));
            let status = if created { 201 } else { 200 };
            Ok(match result {
                Some(body) => Response::dap(status, MediaType::CollectionJobResp, body),
                None => Response::empty(status).with_header("retry-after", retry.to_string()),
            }
            .with_header("location", loc))
        }
        CollJobResp::Deleted => Ok(Response::empty(200)),
    }
}

/// `POST .../collection_jobs` (`id` = `None`) or `PUT .../collection_jobs/{id}`.
async fn collection_create<P: Platform>(
    p: &P,
    req: &Request,
    t: &str,
    id: Option<CollectionJobId>,
) -> Result<Response, Abort> {
    let task = task_for(p, req, t, Role::Leader, OptIn::No).await?;
    authorize(p, req, &task, TokenKind::Collector).await?;
    req.require_media_type(MediaType::CollectionJobReq)?;
    let name = match &id {
        Some(id) => crate::roles::collection_instance(id),
        None => leader::collect::collection_name(&task.task_id, &req.body),
    };
    let resp = p
        .collection_job(
            &task.task_id,
            &name,
            CollJobReq::LeaderCreate {
                task_id: task.task_id,
                id,
                body: req.body.clone(),
            },
        )
        .await
        .map_err(|a| a.with_task(task.task_id))?;
    if id.is_some() {
        // The PUT form's Collectors expect 201 and read the result with GET.
        return match resp {
            CollJobResp::Job { id, .. } => Ok(Response::empty(201).with_header(
                "location",
                format!(
                    "/tasks/{}/collection_jobs/{}",
                    task.task_id,
                    CollectionJobId(id)
                ),
            )),
            CollJobResp::Deleted => Err(Abort::NotFound("collection job was deleted".into())),
        };
    }
    collection_view(&task.task_id, resp, true, p.config().retry_after_secs)
}

async fn collection_resource<P: Platform>(
    p: &P,
    req: &Request,
    method: Method,
    t: &str,
    c: &str,
) -> Result<Response, Abort> {
    let task = task_for(p, req, t, Role::Leader, OptIn::No).await?;
    authorize(p, req, &task, TokenKind::Collector).await?;
    let job = CollectionJobId::from_base64url(c)
        .ok_or_else(|| Abort::NotFound("malformed collection job ID".into()))?;
    let name = crate::roles::collection_instance(&job);
    let task_id = task.task_id;
    let r = match method {
        Method::Get => CollJobReq::LeaderGet { task_id, job },
        Method::Delete => CollJobReq::LeaderDelete { task_id, job },
        _ => return Err(Abort::MethodNotAllowed),
    };
    let resp = p
        .collection_job(&task_id, &name, r)
        .await
        .map_err(|a| a.with_task(task_id))?;
    collection_view(&task_id, resp, false, p.config().retry_after_secs)
}

/// `POST .../aggregate_shares` (`id` = `None`) or `PUT .../aggregate_shares/{id}`.
async fn agg_share_create<P: Platform>(
    p: &P,
    req: &Request,
    t: &str,
    id: Option<AggregateShareId>,
) -> Result<Response, Abort> {
    let task = task_for(p, req, t, Role::Helper, OptIn::Allowed).await?;
    authorize(p, req, &task, TokenKind::Aggregator).await?;
    req.require_media_type(MediaType::AggregateShareReq)?;
    let id = id.unwrap_or_else(|| helper::share_id_for(&task.task_id, &req.body));
    let resp = p
        .collection_job(
            &task.task_id,
            &id.0,
            CollJobReq::HelperCreate {
                task_id: task.task_id,
                id,
                body: req.body.clone(),
            },
        )
        .await
        .map_err(|a| a.with_task(task.task_id))?;
    agg_share_view(&task.task_id, &id, resp, true)
}

fn agg_share_view(
    task: &TaskId,
    id: &AggregateShareId,
    resp: CollJobResp,
    created: bool,
) -> Result<Response, Abort> {
    match resp {
        CollJobResp::Job {
            result: Some(body), ..
        } => Ok(Response::dap(
            if created { 201 } else { 200 },
            MediaType::AggregateShare,
            body,
        )
        .with_header("location", format!("/tasks/{task}/aggregate_shares/{id}"))),
        CollJobResp::Job { result: None, .. } => {
            Err(Abort::Internal("aggregate share without a result".into()))
        }
        CollJobResp::Deleted => Ok(Response::empty(200)),
    }
}

async fn agg_share_resource<P: Platform>(
    p: &P,
    req: &Request,
    method: Method,
    t: &str,
    a: &str,
) -> Result<Response, Abort> {
    let task = task_for(p, req, t, Role::Helper, OptIn::No).await?;
    authorize(p, req, &task, TokenKind::Aggregator).await?;
    let id = AggregateShareId::from_base64url(a)
        .ok_or_else(|| Abort::NotFound("malformed aggregate share ID".into()))?;
    let task_id = task.task_id;
    let r = match method {
        Method::Get => CollJobReq::HelperGet { task_id },
        Method::Delete => CollJobReq::HelperDelete { task_id },
        _ => return Err(Abort::MethodNotAllowed),
    };
    let resp = p
        .collection_job(&task_id, &id.0, r)
        .await
        .map_err(|a| a.with_task(task_id))?;
    agg_share_view(&task_id, &id, resp, false)
}
