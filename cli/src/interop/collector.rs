//! The Collector role: `ready`, `add_task`, `collection_start` and `collection_poll`. Tasks
//! (with their key pairs and tokens) and collection jobs live in memory only, for as long
//! as the process runs.

use super::{string, task_config, task_id, Reply, Role};
use crate::collect::{create_job, decode_result, poll_once, Polled};
use crate::error::{one_line, Error, Result};
use crate::http::{Auth, Http};
use edap_core::hpke::HpkeKeypair;
use edap_core::interop::{number, result_to_json};
use edap_core::messages::{
    base64url, from_base64url, CollectionJobReq, HpkeConfigId, HpkeKemId, Interval, Query,
    TaskConfiguration, TaskId,
};
use edap_core::roles::collector;
use prio::codec::Encode;
use reqwest::Url;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A task registered with `add_task`.
struct CollectorTask {
    config: TaskConfiguration,
    key: HpkeKeypair,
    token: String,
}

/// A collection job started with `collection_start`.
#[derive(Clone)]
struct Job {
    task_id: TaskId,
    task: Arc<CollectorTask>,
    req: CollectionJobReq,
    url: Url,
    /// The result the Leader sent with its creation answer, if it did.
    immediate: Option<Vec<u8>>,
    /// The `complete` answer, once there is one (polls after that repeat it).
    done: Option<Value>,
}

#[derive(Default)]
struct State {
    tasks: HashMap<TaskId, Arc<CollectorTask>>,
    jobs: HashMap<String, Job>,
}

pub struct CollectorRole {
    http: Http,
    state: Mutex<State>,
}

/// The query object of `collection_start`: `{"type": 1, "batch_interval_start": secs,
/// "batch_interval_duration": secs}` or `{"type": 2}` (DAP-18 leader_selected has no
/// parameters: the Collector asks for the next batch).
fn query(v: &Value, precision: u64) -> Result<Query> {
    let p = precision.max(1);
    match number(v.get("type")) {
        Some(1) => {
            let start = number(v.get("batch_interval_start"))
                .ok_or_else(|| Error::Input("query: missing batch_interval_start".into()))?;
            let duration = number(v.get("batch_interval_duration"))
                .ok_or_else(|| Error::Input("query: missing batch_interval_duration".into()))?;
            if duration == 0 || start % p != 0 || duration % p != 0 {
                return Err(Error::Input(format!(
                    "query: the batch interval ({start} s, {duration} s long) is not a non-empty multiple of the task's time_precision ({p} s)"
                )));
            }
            Ok(Query::TimeInterval(Interval::new(start / p, duration / p)))
        }
        Some(2) => match number(v.get("subtype")) {
            None | Some(1) => Ok(Query::LeaderSelected),
            Some(0) => Err(Error::Input(
                "query: by-batch-ID queries do not exist in DAP-18 (leader_selected collects the next batch)".into(),
            )),
            Some(s) => Err(Error::Input(format!("query: unknown subtype {s}"))),
        },
        Some(t) => Err(Error::Input(format!("query: unknown type {t}"))),
        None => Err(Error::Input("query: missing or invalid type".into())),
    }
}

impl CollectorRole {
    pub fn new() -> Result<CollectorRole> {
        Ok(CollectorRole {
            http: Http::new()?,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add_task(&self, body: &Value) -> Result<Value> {
        let id = task_id(body)?;
        let config = task_config(body)?;
        let token = string(body, "collector_authentication_token")?.to_string();
        if token.is_empty() {
            return Err(Error::Input(
                "collector_authentication_token is empty".into(),
            ));
        }
        edap_core::vdaf::Prio3Instance::for_dap(&config.vdaf)
            .map_err(|e| Error::Input(format!("VDAF: {e}")))?;
        let mut cid = [0u8];
        edap_core::rand::fill(&mut cid);
        let key = HpkeKeypair::generate(HpkeConfigId(cid[0]), HpkeKemId::X25519_HKDF_SHA256)
            .map_err(|e| Error::Input(format!("cannot generate a key pair: {e}")))?;
        let encoded = key
            .config
            .get_encoded()
            .map_err(|e| Error::Input(format!("cannot encode the HPKE config: {e}")))?;
        self.state()
            .tasks
            .insert(id, Arc::new(CollectorTask { config, key, token }));
        Ok(json!({"collector_hpke_config": base64url(&encoded)}))
    }

    fn collection_start(&self, body: &Value) -> Result<Value> {
        let id = task_id(body)?;
        let task = self
            .state()
            .tasks
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::Input(format!("unknown task {id} (add_task first)")))?;
        match body.get("agg_param") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                let param = from_base64url(s.trim().trim_end_matches('='))
                    .ok_or_else(|| Error::Input("agg_param is not base64url".into()))?;
                if !param.is_empty() {
                    return Err(Error::Input(
                        "agg_param must be empty: Prio3 has no aggregation parameter".into(),
                    ));
                }
            }
            Some(_) => return Err(Error::Input("agg_param is not a string".into())),
        }
        let q = query(
            body.get("query")
                .ok_or_else(|| Error::Input("missing \"query\"".into()))?,
            task.config.time_precision,
        )?;
        let req = collector::collection_job_req(q);
        let created = create_job(
            &self.http,
            &task.config.leader_endpoint,
            &id,
            &req,
            Auth::DapAuthToken(&task.token),
            None,
        )?;
        let handle = base64url(&edap_core::rand::array::<16>());
        self.state().jobs.insert(
            handle.clone(),
            Job {
                task_id: id,
                task,
                req,
                url: created.job,
                immediate: created.immediate,
                done: None,
            },
        );
        Ok(json!({"handle": handle}))
    }

    fn collection_poll(&self, body: &Value) -> Result<Value> {
        let handle = string(body, "handle")?;
        let job = self.state().jobs.get(handle).cloned().ok_or_else(|| {
            Error::Input(format!(
                "unknown handle {:?} (collection_start first)",
                one_line(handle, 60)
            ))
        })?;
        if let Some(done) = job.done {
            return Ok(done);
        }
        let result = match job.immediate {
            Some(b) => b,
            None => match poll_once(&self.http, Auth::DapAuthToken(&job.task.token), &job.url)? {
                Polled::Pending(_) => return Ok(json!({"status": "in progress"})),
                Polled::Ready(b) => b,
            },
        };
        let resp = decode_result(&result)?;
        let c = collector::finish(
            &job.task_id,
            &job.task.config,
            &job.task.key,
            &job.req,
            &resp,
        )
        .map_err(|e| Error::Collect(e.to_string()))?;
        let p = job.task.config.time_precision;
        let done = json!({
            "status": "complete",
            "report_count": c.report_count,
            "interval_start": c.interval.start.to_seconds(p),
            "interval_duration": c.interval.duration.0.saturating_mul(p),
            "result": result_to_json(&c.result),
        });
        if let Some(j) = self.state().jobs.get_mut(handle) {
            j.done = Some(done.clone());
        }
        Ok(done)
    }
}

impl Role for CollectorRole {
    const NAME: &'static str = "collector";
    const COMMANDS: &'static [&'static str] =
        &["ready", "add_task", "collection_start", "collection_poll"];

    fn handle(&self, command: &str, body: &Value) -> Reply {
        let field = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .map(|t| format!("{name}={}", one_line(t, 60)))
                .unwrap_or_default()
        };
        let (result, note) = match command {
            "add_task" => (self.add_task(body), field("task_id")),
            "collection_start" => (self.collection_start(body), field("task_id")),
            "collection_poll" => (self.collection_poll(body), field("handle")),
            _ => return Reply::new(json!({}), ""),
        };
        match result {
            Ok(v) if v.get("status").is_some() => Reply::new(v, note),
            Ok(v) => Reply::success(v, note),
            Err(e) => Reply::error(&e, note),
        }
    }
}
