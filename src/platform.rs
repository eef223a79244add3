//! The core's `Platform` on Workers: instances are Durable Objects, the peer is reached
//! with `fetch`, tasks and HPKE keys are cached per isolate.

use edap_core::hpke::HpkeReceiverSet;
use edap_core::http::{FetchError, Headers, Method, OutboundRequest, Response};
use edap_core::instances::Instance;
use edap_core::messages::TaskId;
use edap_core::platform::{DeploymentConfig, Platform};
use edap_core::store::tasks::{TaskReq, TaskResp};
use edap_core::store::StoreError;
use edap_core::task::AggregatorTask;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::{AbortSignal, Env, Fetch, RequestInit};

/// How long an isolate trusts its cached copy of a task or of the HPKE keys.
const CACHE_MS: u64 = 60_000;

thread_local! {
    static TASKS: RefCell<HashMap<TaskId, (AggregatorTask, u64)>> = RefCell::new(HashMap::new());
    static KEYS: RefCell<Option<(HpkeReceiverSet, u64)>> = const { RefCell::new(None) };
}

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

    /// Forgets cached tasks and keys (after the admin API changed them).
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
        let mut init = RequestInit::new();
        init.with_method(worker::Method::Post)
            .with_body(Some(js_sys::Uint8Array::from(envelope.as_slice()).into()));
        let req =
            worker::Request::new_with_init("https://instance.internal/", &init).map_err(backend)?;
        let mut resp = stub.fetch_with_request(req).await.map_err(backend)?;
        if resp.status_code() != 200 {
            return Err(StoreError::Backend(format!(
                "{} answered HTTP {}",
                instance.kind.binding(),
                resp.status_code()
            )));
        }
        resp.bytes().await.map_err(backend)
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
