//! The Leader's requests to the Helper, shared by aggregation jobs and collection jobs:
//! authentication, creating a resource in the form the Helper understands (DAP-18's POST
//! with a server-chosen ID, or the PUT with a Leader-chosen ID that deployed peers speak),
//! polling it, and sorting the answer into ready, deferred (with the Helper's
//! `Retry-After`), refused, or retry later. Every failed exchange is logged and counted.

use crate::error::Abort;
use crate::http::{join_url, Headers, Method, OutboundRequest, Response};
use crate::media::MediaType;
use crate::observe::{self, Event, PeerResource};
use crate::platform::Platform;
use crate::roles::{resolve_location, retry_after_secs};
use crate::store::report_shard::{count, ShardReq};
use crate::task::{AggregatorTask, PeerDialect};
use crate::ProblemDocument;
use serde::{Deserialize, Serialize};

/// What the Helper answered.
pub enum PeerAnswer {
    /// The resource's representation.
    Ready(Vec<u8>),
    /// Deferred: ask again (GET its location) at this time (ms).
    Pending(u64),
    /// A client error: the job or share will not come, and the Helper did not create it.
    Refused {
        /// The HTTP status.
        #[allow(dead_code)] // kept for the callers' diagnostics
        status: u16,
        /// The Helper's problem document, if it sent one.
        problem: Option<ProblemDocument>,
        /// A readable description.
        detail: String,
    },
}

/// Where a resource being created at the Helper stands; persisted by the caller between
/// alarms, so that a retry polls the same resource or repeats the same creation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerState {
    /// The resource's URL once the Helper deferred it (polled with GET).
    pub location: Option<String>,
    /// The form of creation the Helper accepted.
    pub dialect: Option<PeerDialect>,
}

/// A resource to create at the Helper.
pub struct Creation<'a> {
    /// Aggregation job or aggregate share.
    pub resource: PeerResource,
    /// The collection URL path, e.g. `/tasks/{task}/aggregation_jobs`.
    pub path: String,
    /// The Leader's ID for the resource (the last path segment in the PUT form).
    pub id: [u8; 16],
    /// The request body's media type.
    pub media: MediaType,
    /// The request body in the POST form (DAP-18) and in the PUT form (the deployed peers'
    /// encoding); the same bytes where the encodings agree.
    pub body: [&'a [u8]; 2],
    /// Appended to the resource URL when polling (`step=0` for aggregation jobs).
    pub poll_query: Option<&'a str>,
    /// The report shard whose counters record failures.
    pub counter_shard: u32,
}

/// The header that carries the task's aggregator token and, for a taskprov task, the
/// `dap-taskprov` advertisement (sent on every request to the Helper, as the draft says).
pub fn auth_headers(task: &AggregatorTask) -> Headers {
    let mut h = Headers::default();
    if let Some(t) = &task.aggregator_auth_token {
        let (name, value) = task.peer_auth.header(&t.0);
        h.push(name, value);
    }
    if task.taskprov {
        // A stored configuration was decoded from bytes, so it encodes.
        if let Ok(v) = crate::taskprov::header::encode(&task.config) {
            h.push(crate::taskprov::header::HEADER, v);
        }
    }
    h
}

/// The forms to try, in order.
fn dialects<P: Platform>(p: &P, task: &AggregatorTask) -> Vec<PeerDialect> {
    match task.helper_dialect {
        PeerDialect::Post => vec![PeerDialect::Post],
        PeerDialect::Put => vec![PeerDialect::Put],
        PeerDialect::Auto => match p.dialect_hint(&task.task_id) {
            Some(PeerDialect::Put) => vec![PeerDialect::Put, PeerDialect::Post],
            _ => vec![PeerDialect::Post, PeerDialect::Put],
        },
    }
}

fn with_query(url: &str, q: Option<&str>) -> String {
    match q {
        Some(q) if !url.contains(q.split('=').next().unwrap_or(q)) => {
            format!("{url}{}{q}", if url.contains('?') { '&' } else { '?' })
        }
        _ => url.to_string(),
    }
}

/// Records a failed exchange: one log line and one counter increment.
pub async fn failed<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    c: &Creation<'_>,
    status: Option<u16>,
    problem: Option<&ProblemDocument>,
    detail: String,
    retrying: bool,
) {
    p.log(&Event::HelperExchangeFailed {
        task: observe::task(&task.task_id),
        resource: c.resource,
        peer: observe::origin(&task.config.helper_endpoint),
        status,
        problem_type: problem.map(|d| d.type_.clone()),
        detail,
        retrying,
    });
    // Counting is best effort: the log line already says it.
    let _ = p
        .report_shard(
            &task.task_id,
            c.counter_shard,
            ShardReq::Count {
                items: vec![count("helper_exchange_failures", 1)],
            },
        )
        .await;
}

/// [`failed`] for an exchange that will be retried: logs and counts it, and gives the
/// `Unavailable` abort that makes the caller try again later.
async fn unavailable<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    c: &Creation<'_>,
    status: Option<u16>,
    problem: Option<&ProblemDocument>,
    detail: String,
) -> Abort {
    failed(p, task, c, status, problem, detail.clone(), true).await;
    Abort::Unavailable(detail)
}

/// Whether an answer says "no such route or method" rather than a DAP refusal: what a
/// Helper that speaks only the other form of creation answers.
fn wrong_form(resp: &Response) -> bool {
    (resp.status == 404 || resp.status == 405)
        && serde_json::from_slice::<ProblemDocument>(&resp.body)
            .ok()
            .and_then(|d| d.dap_type())
            .is_none()
}

/// Creates the resource, or polls it once the Helper deferred it. Connection failures,
/// timeouts, 408, 429 and 5xx are `Abort::Unavailable` (retry later); so is a `Location`
/// on another origin than the Helper's, which is never followed (the task's token goes
/// only to the host the task names).
pub async fn exchange<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    state: &mut PeerState,
    c: &Creation<'_>,
) -> Result<PeerAnswer, Abort> {
    let helper = &task.config.helper_endpoint;
    if let Some(loc) = state.location.clone() {
        let req = OutboundRequest {
            method: Method::Get,
            url: with_query(&loc, c.poll_query),
            headers: auth_headers(task),
            body: Vec::new(),
        };
        let resp = send(p, task, c, req).await?;
        if resp.status >= 400 {
            // The Helper forgot a resource it deferred: create it again (the same request,
            // so a Helper that still has it answers with it).
            state.location = None;
            let problem = serde_json::from_slice::<ProblemDocument>(&resp.body).ok();
            let detail = refusal_text(resp.status, &problem, "polling");
            return Err(unavailable(p, task, c, Some(resp.status), problem.as_ref(), detail).await);
        }
        let dialect = state.dialect.unwrap_or(PeerDialect::Post);
        return interpret(p, task, state, c, resp, dialect, &loc).await;
    }
    let forms = dialects(p, task);
    let mut tried = Vec::new();
    for (i, d) in forms.iter().enumerate() {
        let resource_url = join_url(
            helper,
            &format!("{}/{}", c.path, crate::messages::base64url(&c.id)),
        );
        let (method, url) = match d {
            PeerDialect::Put => (Method::Put, resource_url),
            _ => (Method::Post, join_url(helper, &c.path)),
        };
        let body = match d {
            PeerDialect::Put => c.body[1],
            _ => c.body[0],
        };
        let req = OutboundRequest {
            method,
            url: url.clone(),
            headers: auth_headers(task).with("content-type", c.media.as_str()),
            body: body.to_vec(),
        };
        let resp = send(p, task, c, req).await?;
        if wrong_form(&resp) && i + 1 < forms.len() {
            tried.push(format!(
                "{} {} (HTTP {})",
                method.as_str(),
                c.path,
                resp.status
            ));
            continue;
        }
        if wrong_form(&resp) {
            tried.push(format!(
                "{} {} (HTTP {})",
                method.as_str(),
                c.path,
                resp.status
            ));
            let detail = format!(
                "the Helper accepts no form of resource creation: {}",
                tried.join(", ")
            );
            failed(p, task, c, Some(resp.status), None, detail.clone(), false).await;
            return Ok(PeerAnswer::Refused {
                status: resp.status,
                problem: None,
                detail,
            });
        }
        if resp.status < 400 && task.helper_dialect == PeerDialect::Auto {
            p.remember_dialect(&task.task_id, *d);
        }
        state.dialect = Some(*d);
        return interpret(p, task, state, c, resp, *d, &url).await;
    }
    Err(Abort::Internal(
        "no form of resource creation to try".into(),
    ))
}

async fn send<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    c: &Creation<'_>,
    req: OutboundRequest,
) -> Result<Response, Abort> {
    let resp = match p.fetch(req).await {
        Ok(r) => r,
        Err(e) => {
            let detail = format!("no answer from the Helper: {e}");
            return Err(unavailable(p, task, c, None, None, detail).await);
        }
    };
    if resp.status >= 500 || resp.status == 429 || resp.status == 408 {
        let problem = serde_json::from_slice::<ProblemDocument>(&resp.body).ok();
        let detail = format!("the Helper answered HTTP {}", resp.status);
        return Err(unavailable(p, task, c, Some(resp.status), problem.as_ref(), detail).await);
    }
    Ok(resp)
}

fn refusal_text(status: u16, problem: &Option<ProblemDocument>, doing: &str) -> String {
    match problem {
        Some(p) => format!("the Helper refused ({doing}): {p}"),
        None => format!("the Helper refused ({doing}) with HTTP {status}"),
    }
}

async fn interpret<P: Platform>(
    p: &P,
    task: &AggregatorTask,
    state: &mut PeerState,
    c: &Creation<'_>,
    resp: Response,
    dialect: PeerDialect,
    request_url: &str,
) -> Result<PeerAnswer, Abort> {
    let helper = &task.config.helper_endpoint;
    if resp.status >= 400 {
        let problem = serde_json::from_slice::<ProblemDocument>(&resp.body).ok();
        let detail = refusal_text(resp.status, &problem, "creating");
        failed(
            p,
            task,
            c,
            Some(resp.status),
            problem.as_ref(),
            detail.clone(),
            false,
        )
        .await;
        return Ok(PeerAnswer::Refused {
            status: resp.status,
            problem,
            detail,
        });
    }
    if !resp.body.is_empty() {
        return Ok(PeerAnswer::Ready(resp.body));
    }
    // Deferred. In the PUT form the resource's URL is the one the Leader chose (deployed
    // peers answer a relative Location without their path prefix, or none at all); in the
    // POST form it is the Location the Helper assigned.
    let location = match dialect {
        PeerDialect::Put => Some(join_url(
            helper,
            &format!("{}/{}", c.path, crate::messages::base64url(&c.id)),
        )),
        _ => resp
            .headers
            .get("location")
            .map(|l| resolve_location(request_url, l)),
    };
    let Some(location) = location else {
        let detail = "the Helper deferred the request without a Location".to_string();
        return Err(unavailable(p, task, c, Some(resp.status), None, detail).await);
    };
    if observe::origin(&location) != observe::origin(helper) {
        let detail = format!(
            "the Helper's Location points to {}, not to the Helper: not followed",
            observe::origin(&location)
        );
        return Err(unavailable(p, task, c, Some(resp.status), None, detail).await);
    }
    state.location = Some(location);
    let secs = retry_after_secs(resp.headers.get("retry-after"));
    Ok(PeerAnswer::Pending(p.now_ms() + secs * 1000))
}
