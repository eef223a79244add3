//! The core's `Platform` on Workers: instances are Durable Objects, the peer is reached
//! with `fetch`, tasks and HPKE keys are cached per isolate.

use edap_core::hpke::HpkeReceiverSet;
use edap_core::http::{FetchError, Headers, Method, OutboundRequest, Response};
use edap_core::instances::Instance;
use edap_core::messages::TaskId;
use edap_core::platform::{DeploymentConfig, Platform};
use edap_core::store::tasks::{TaskReq, TaskResp};
use edap_core::store::StoreError;
use edap_core::task::{AggregatorTask, PeerDialect};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use worker::{AbortSignal, Env, Fetch, RequestInit};

/// How long an isolate trusts its cached copy of a task or of the HPKE keys.
const CACHE_MS: u64 = edap_core::platform::CACHE_SECS * 1000;

thread_local! {
    static TASKS: RefCell<HashMap<TaskId, (AggregatorTask, u64)>> = RefCell::new(HashMap::new());
    static KEYS: RefCell<Option<(HpkeReceiverSet, u64)>> = const { RefCell::new(None) };
    /// Which form of resource creation each task's Helper accepted (a per-isolate hint).
    static DIALECTS: RefCell<HashMap<TaskId, PeerDialect>> = RefCell::new(HashMap::new());
    /// Time buckets seen not collected, and when (a per-isolate hint, see
    /// `Platform::bucket_recently_open`).
    static OPEN_BUCKETS: RefCell<HashMap<(TaskId, u64), u64>> = RefCell::new(HashMap::new());
}

/// How long an isolate trusts that a time bucket is not collected.
const OPEN_BUCKET_MS: u64 = 5_000;
/// Buckets remembered per isolate before the memory is cleared.
const OPEN_BUCKETS_MAX: usize = 4_096;

/// The platform of one request or alarm.
pub struct WorkerPlatform {
    env: Env,
    config: Rc<DeploymentConfig>,
}

fn backend(e: worker::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl WorkerPlatform {
    /// A platform over this worker's bindings.
    pub fn new(env: Env) -> WorkerPlatform {
        let config = crate::settings::get(&env);
        WorkerPlatform { env, config }
    }

    /// Forgets cached tasks and keys (after the aggregator API changed them).
    pub fn invalidate_caches() {
        TASKS.with(|t| t.borrow_mut().clear());
        KEYS.with(|k| *k.borrow_mut() = None);
    }
}

fn method(m: Method) -> worker::Method {
    match m {
        Method::Get => worker::Method::Get,
        Method::Post => worker::Method::Post,
        Method::Put => worker::Method::Put,
        Method::Delete => worker::Method::Delete,
        Method::Patch => worker::Method::Patch,
        Method::Other => worker::Method::Options,
    }
}

impl Platform for WorkerPlatform {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn config(&self) -> &DeploymentConfig {
        &self.config
    }

    async fn call(&self, instance: &Instance, envelope: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let ns = self
            .env
            .durable_object(instance.kind.binding())
            .map_err(backend)?;
        let stub = ns
            .id_from_name(&instance.name())
            .and_then(|id| id.get_stub())
            .map_err(backend)?;
        // The stub's own `fetch(url, init)`, called directly: worker's Request and
        // Response wrappers would build headers and read the answer as a stream, which
        // costs more glue than the call itself.
        let stub: js_sys::Object = stub.into_rpc();
        let fetch: js_sys::Function = js_sys::Reflect::get(&stub, &"fetch".into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| StoreError::Backend("Durable Object stub without fetch".into()))?;
        let init = js_sys::Object::new();
        let set = |k: &str, v: &wasm_bindgen::JsValue| {
            js_sys::Reflect::set(&init, &k.into(), v)
                .map(|_| ())
                .map_err(|_| StoreError::Backend("building a Durable Object request".into()))
        };
        set("method", &"POST".into())?;
        set(
            "body",
            &js_sys::Uint8Array::from(envelope.as_slice()).into(),
        )?;
        let promise: js_sys::Promise = fetch
            .call2(&stub, &"https://instance.internal/".into(), &init)
            .map_err(|e| StoreError::Backend(format!("{e:?}")))?
            .dyn_into()
            .map_err(|_| StoreError::Backend("fetch did not return a promise".into()))?;
        let resp: web_sys::Response = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(|e| StoreError::Backend(format!("{e:?}")))?
            .dyn_into()
            .map_err(|_| StoreError::Backend("not a Response".into()))?;
        if resp.status() != 200 {
            return Err(StoreError::Backend(format!(
                "{} answered HTTP {}",
                instance.kind.binding(),
                resp.status()
            )));
        }
        let buf = resp
            .array_buffer()
            .map_err(|e| StoreError::Backend(format!("{e:?}")))?;
        let buf = wasm_bindgen_futures::JsFuture::from(buf)
            .await
            .map_err(|e| StoreError::Backend(format!("{e:?}")))?;
        Ok(js_sys::Uint8Array::new(&buf).to_vec())
    }

    async fn fetch(&self, req: OutboundRequest) -> Result<Response, FetchError> {
        let headers = worker::Headers::new();
        for (k, v) in &req.headers.0 {
            headers
                .set(k, v)
                .map_err(|e| FetchError::Connect(e.to_string()))?;
        }
        let mut init = RequestInit::new();
        init.with_method(method(req.method)).with_headers(headers);
        if !req.body.is_empty() {
            init.with_body(Some(js_sys::Uint8Array::from(req.body.as_slice()).into()));
        }
        let request = worker::Request::new_with_init(&req.url, &init)
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        let timeout = u32::try_from(self.config.peer_timeout_ms).unwrap_or(u32::MAX);
        let signal = AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(timeout));
        let mut resp = match Fetch::Request(request).send_with_signal(&signal).await {
            Ok(r) => r,
            Err(e) => {
                let msg = e.to_string();
                return Err(if msg.contains("TimeoutError") || msg.contains("aborted") {
                    FetchError::Timeout
                } else {
                    FetchError::Connect(msg)
                });
            }
        };
        let headers = Headers(resp.headers().entries().collect());
        let body = resp
            .bytes()
            .await
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        Ok(Response {
            status: resp.status_code(),
            headers,
            body,
        })
    }

    fn log(&self, event: &edap_core::observe::Event) {
        // One JSON object per line: Workers Logs and `wrangler tail` index its fields.
        let line = event.to_json_line();
        match event.level() {
            edap_core::observe::Level::Error => worker::console_error!("{line}"),
            edap_core::observe::Level::Warn => worker::console_warn!("{line}"),
            edap_core::observe::Level::Info => worker::console_log!("{line}"),
        }
    }

    fn bucket_recently_open(&self, task: &TaskId, bucket: u64) -> bool {
        let now = self.now_ms();
        OPEN_BUCKETS.with(|b| {
            b.borrow()
                .get(&(*task, bucket))
                .is_some_and(|at| now.saturating_sub(*at) < OPEN_BUCKET_MS)
        })
    }

    fn remember_open_buckets(&self, task: &TaskId, buckets: &[u64]) {
        let now = self.now_ms();
        OPEN_BUCKETS.with(|b| {
            let mut b = b.borrow_mut();
            if b.len() > OPEN_BUCKETS_MAX {
                b.clear();
            }
            for bucket in buckets {
                b.insert((*task, *bucket), now);
            }
        })
    }

    fn dialect_hint(&self, task: &TaskId) -> Option<PeerDialect> {
        DIALECTS.with(|d| d.borrow().get(task).copied())
    }

    fn remember_dialect(&self, task: &TaskId, dialect: PeerDialect) {
        DIALECTS.with(|d| d.borrow_mut().insert(*task, dialect));
    }

    async fn x25519_batch(
        &self,
        private_key: &[u8; 32],
        peers: &[[u8; 32]],
    ) -> Vec<Option<[u8; 32]>> {
        match crate::webcrypto::x25519_batch(private_key, peers).await {
            Some(shared) => shared,
            None => peers
                .iter()
                .map(|peer| edap_core::hpke::x25519_dh(private_key, peer))
                .collect(),
        }
    }

    async fn task(&self, id: &TaskId) -> Result<Option<AggregatorTask>, StoreError> {
        let now = self.now_ms();
        if let Some(t) = TASKS.with(|c| {
            c.borrow()
                .get(id)
                .filter(|(_, at)| now.saturating_sub(*at) < CACHE_MS)
                .map(|(t, _)| t.clone())
        }) {
            return Ok(Some(t));
        }
        let task = match self.tasks(TaskReq::Get(*id)).await? {
            TaskResp::Task(t) => t.map(|t| *t),
            _ => return Err(StoreError::Invariant("unexpected task store answer".into())),
        };
        if let Some(t) = &task {
            TASKS.with(|c| c.borrow_mut().insert(*id, (t.clone(), now)));
        }
        Ok(task)
    }

    async fn hpke_keys(&self) -> Result<HpkeReceiverSet, StoreError> {
        let now = self.now_ms();
        if let Some(k) = KEYS.with(|c| {
            c.borrow()
                .as_ref()
                .filter(|(_, at)| now.saturating_sub(*at) < CACHE_MS)
                .map(|(k, _)| k.clone())
        }) {
            return Ok(k);
        }
        let keys = edap_core::platform::load_or_create_keys(self).await?;
        KEYS.with(|c| *c.borrow_mut() = Some((keys.clone(), now)));
        Ok(keys)
    }
}
