//! An in-memory platform: aggregator deployments on a simulated network with a simulated
//! clock. Each state instance is a [`MemKv`] with an optional alarm, served by the same
//! [`instances`] dispatcher a Durable Object runs. Tests use it to run Leader and Helper
//! end to end natively, with faults injected on the network.

use crate::api;
use crate::http::{FetchError, Method, OutboundRequest, Request, Response};
use crate::instances::{self, AlarmChange, Instance};
use crate::messages::TaskId;
use crate::platform::{DeploymentConfig, Platform};
use crate::store::{MemKv, StoreError};
use crate::task::PeerDialect;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

struct MemInstance {
    kv: MemKv,
    alarm: Option<u64>,
}

/// How the network treats requests to one host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    /// Refuse this many connections (before delivering).
    pub refuse: u32,
    /// Answer this many requests with HTTP 503 without delivering them.
    pub unavailable: u32,
    /// Deliver this many requests but lose their answers (the caller sees a timeout).
    pub lose_answers: u32,
}

/// A rule that answers some requests to a host instead of delivering them (for example
/// 405 to one form of resource creation, to play a Helper that speaks only the other).
pub type Filter = Box<dyn Fn(&OutboundRequest) -> Option<Response>>;

/// A rule that changes the answers to some requests to a host after they were delivered
/// (for example a truncated body: the peer did the work, the answer is unusable).
pub type Mangler = Box<dyn Fn(&OutboundRequest, Response) -> Response>;

/// The simulated network and clock shared by deployments.
pub struct MemNetwork {
    clock: Cell<u64>,
    hosts: RefCell<Vec<(String, Weak<MemDeployment>)>>,
    faults: RefCell<HashMap<String, Fault>>,
    filters: RefCell<HashMap<String, Filter>>,
    manglers: RefCell<HashMap<String, Mangler>>,
    /// Every answer delivered over the network, in order (for tests that inspect them).
    pub answers: RefCell<Vec<Response>>,
    /// Requests sent, per host.
    pub requests: RefCell<HashMap<String, u64>>,
    /// Every request sent, in order (for tests that replay them).
    pub sent: RefCell<Vec<OutboundRequest>>,
}

impl MemNetwork {
    /// A network whose clock starts at `now_ms`.
    pub fn new(now_ms: u64) -> Rc<MemNetwork> {
        Rc::new(MemNetwork {
            clock: Cell::new(now_ms),
            hosts: RefCell::new(Vec::new()),
            faults: RefCell::new(HashMap::new()),
            filters: RefCell::new(HashMap::new()),
            manglers: RefCell::new(HashMap::new()),
            answers: RefCell::new(Vec::new()),
            requests: RefCell::new(HashMap::new()),
            sent: RefCell::new(Vec::new()),
        })
    }

    /// Current simulated time (ms).
    pub fn now_ms(&self) -> u64 {
        self.clock.get()
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: u64) {
        self.clock.set(self.clock.get() + ms);
    }

    /// Adds a deployment reachable at `base_url` (scheme and host, e.g. `http://leader.test`).
    pub fn deploy(self: &Rc<Self>, base_url: &str, config: DeploymentConfig) -> Rc<MemDeployment> {
        let d = Rc::new(MemDeployment {
            net: Rc::downgrade(self),
            config,
            instances: RefCell::new(HashMap::new()),
            logs: RefCell::new(Vec::new()),
            dialects: RefCell::new(HashMap::new()),
            responses: RefCell::new(Vec::new()),
        });
        self.hosts.borrow_mut().push((
            base_url.trim_end_matches('/').to_string(),
            Rc::downgrade(&d),
        ));
        d
    }

    /// Sets the fault plan for requests to `host` (a base URL given to [`Self::deploy`]).
    pub fn set_fault(&self, host: &str, fault: Fault) {
        self.faults
            .borrow_mut()
            .insert(host.trim_end_matches('/').to_string(), fault);
    }

    /// Answers requests to `host` that `filter` picks with its response (others pass).
    pub fn set_filter(&self, host: &str, filter: Filter) {
        self.filters
            .borrow_mut()
            .insert(host.trim_end_matches('/').to_string(), filter);
    }

    /// Passes the answers to requests to `host` through `mangler` once delivered.
    pub fn set_mangler(&self, host: &str, mangler: Mangler) {
        self.manglers
            .borrow_mut()
            .insert(host.trim_end_matches('/').to_string(), mangler);
    }

    /// Requests sent to `host` so far.
    pub fn requests_to(&self, host: &str) -> u64 {
        *self
            .requests
            .borrow()
            .get(host.trim_end_matches('/'))
            .unwrap_or(&0)
    }

    fn route(&self, url: &str) -> Option<(String, Rc<MemDeployment>, String)> {
        self.hosts.borrow().iter().find_map(|(base, d)| {
            let rest = url.strip_prefix(base.as_str())?;
            if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')) {
                return None;
            }
            Some((base.clone(), d.upgrade()?, rest.to_string()))
        })
    }

    fn deployments(&self) -> Vec<Rc<MemDeployment>> {
        self.hosts
            .borrow()
            .iter()
            .filter_map(|(_, d)| d.upgrade())
            .collect()
    }

    /// Runs every alarm that is due, in time order, until none is due. Returns how many ran.
    pub fn run_due_alarms(&self, limit: usize) -> usize {
        let mut ran = 0;
        while ran < limit {
            let now = self.now_ms();
            let next = self
                .deployments()
                .into_iter()
                .flat_map(|d| {
                    d.due_alarms(now)
                        .into_iter()
                        .map(move |(t, k)| (t, k, d.clone()))
                })
                .min_by_key(|(t, _, _)| *t);
            let Some((_, key, d)) = next else { break };
            d.run_alarm(&key);
            ran += 1;
        }
        ran
    }

    /// The earliest pending alarm on the network, if any.
    pub fn next_alarm(&self) -> Option<u64> {
        self.deployments()
            .iter()
            .filter_map(|d| d.next_alarm())
            .min()
    }

    /// Runs alarms, jumping the clock to the next alarm whenever none is due, until `done`
    /// holds or `max_ms` of simulated time passes. Returns whether `done` held.
    pub fn run_until(&self, max_ms: u64, mut done: impl FnMut() -> bool) -> bool {
        let deadline = self.now_ms() + max_ms;
        loop {
            if done() {
                return true;
            }
            self.run_due_alarms(10_000);
            if done() {
                return true;
            }
            match self.next_alarm() {
                Some(t) if t <= deadline => {
                    if t > self.now_ms() {
                        self.clock.set(t);
                    }
                }
                _ => return done(),
            }
        }
    }
}

/// One aggregator deployment (what one `wrangler deploy` runs).
pub struct MemDeployment {
    net: Weak<MemNetwork>,
    config: DeploymentConfig,
    instances: RefCell<HashMap<String, Rc<RefCell<MemInstance>>>>,
    /// Every structured log line, in order.
    pub logs: RefCell<Vec<String>>,
    dialects: RefCell<HashMap<TaskId, PeerDialect>>,
    /// Every response this deployment's router gave to requests from outside (tests and
    /// peers), in order.
    pub responses: RefCell<Vec<Response>>,
}

fn key_of(i: &Instance) -> String {
    format!("{:?}:{}", i.kind, i.name())
}

impl MemDeployment {
    fn network(&self) -> Rc<MemNetwork> {
        // Deployments are created by and live inside the network.
        self.net.upgrade().expect("network dropped")
    }

    /// Handles an HTTP request, as the worker's fetch handler does.
    pub fn handle(&self, req: Request) -> Response {
        let resp = futures::executor::block_on(api::handle(self, req));
        self.responses.borrow_mut().push(resp.clone());
        resp
    }

    /// Convenience: builds and handles a request.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Response {
        let mut h = crate::http::Headers::default();
        for (k, v) in headers {
            h.push(k, *v);
        }
        self.handle(Request::new(method, path, h, body))
    }

    /// Number of state instances (for tests).
    pub fn instance_count(&self) -> usize {
        self.instances.borrow().len()
    }

    /// Stored keys per kind of state, over the instances of `task` (all tasks if `None`).
    pub fn keys_by_kind(&self, task: Option<&TaskId>) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        let prefix = task.map(|t| format!(":{t}/"));
        for (k, inst) in self.instances.borrow().iter() {
            if prefix.as_ref().is_some_and(|p| !k.contains(p.as_str())) {
                continue;
            }
            let kind = k.split(':').next().unwrap_or("").to_string();
            let n = inst.try_borrow().map(|i| i.kv.len()).unwrap_or(0);
            *out.entry(kind).or_insert(0) += n;
        }
        out
    }

    /// Stored keys over every instance of `task`.
    pub fn task_keys(&self, task: &TaskId) -> usize {
        self.keys_by_kind(Some(task)).values().sum()
    }

    fn due_alarms(&self, now: u64) -> Vec<(u64, String)> {
        self.instances
            .borrow()
            .iter()
            .filter_map(|(k, i)| {
                let t = i.try_borrow().ok()?.alarm?;
                (t <= now).then(|| (t, k.clone()))
            })
            .collect()
    }

    fn next_alarm(&self) -> Option<u64> {
        self.instances
            .borrow()
            .values()
            .filter_map(|i| i.try_borrow().ok()?.alarm)
            .min()
    }

    fn run_alarm(&self, key: &str) {
        let Some(inst) = self.instances.borrow().get(key).cloned() else {
            return;
        };
        let mut guard = inst.borrow_mut();
        guard.alarm = None;
        let MemInstance { kv, .. } = &mut *guard;
        let outcome = futures::executor::block_on(instances::alarm(self, kv));
        if let Some(t) = outcome.next {
            guard.alarm = Some(guard.alarm.map_or(t, |a| a.min(t)));
        }
    }

    /// Simulates a restart: pending alarms survive (they are durable), nothing else is kept
    /// in memory anyway.
    pub fn restart(&self) {}
}

impl Platform for MemDeployment {
    fn now_ms(&self) -> u64 {
        self.network().now_ms()
    }

    fn config(&self) -> &DeploymentConfig {
        &self.config
    }

    fn log(&self, event: &crate::observe::Event) {
        self.logs.borrow_mut().push(event.to_json_line());
    }

    fn dialect_hint(&self, task: &TaskId) -> Option<PeerDialect> {
        self.dialects.borrow().get(task).copied()
    }

    fn remember_dialect(&self, task: &TaskId, dialect: PeerDialect) {
        self.dialects.borrow_mut().insert(*task, dialect);
    }

    // Holding the instance's borrow across the await is the point: like a Durable Object,
    // an instance serves one request at a time. A re-entrant call fails (try_borrow_mut)
    // instead of panicking.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn call(&self, instance: &Instance, envelope: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let key = key_of(instance);
        let inst = self
            .instances
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| {
                Rc::new(RefCell::new(MemInstance {
                    kv: MemKv::new(),
                    alarm: None,
                }))
            })
            .clone();
        let mut guard = inst
            .try_borrow_mut()
            .map_err(|_| StoreError::Backend(format!("instance {} re-entered", instance.name())))?;
        let MemInstance { kv, .. } = &mut *guard;
        let fut: Pin<Box<dyn Future<Output = instances::Served> + '_>> =
            Box::pin(instances::serve(self, kv, &envelope));
        let served = fut.await;
        match served.alarm {
            AlarmChange::Earliest(t) => guard.alarm = Some(guard.alarm.map_or(t, |a| a.min(t))),
            AlarmChange::Ensure(t) => guard.alarm = Some(guard.alarm.unwrap_or(t)),
            AlarmChange::Keep => {}
        }
        Ok(served.body)
    }

    async fn fetch(&self, req: OutboundRequest) -> Result<Response, FetchError> {
        let net = self.network();
        let (host, peer, path) = net
            .route(&req.url)
            .ok_or_else(|| FetchError::Connect(format!("no route to {}", req.url)))?;
        *net.requests.borrow_mut().entry(host.clone()).or_insert(0) += 1;
        net.sent.borrow_mut().push(req.clone());
        let fault = net.faults.borrow().get(&host).copied().unwrap_or_default();
        let mut next = fault;
        let outcome = if fault.refuse > 0 {
            next.refuse -= 1;
            Some(Err(FetchError::Connect("connection refused".into())))
        } else if fault.unavailable > 0 {
            next.unavailable -= 1;
            Some(Ok(Response::empty(503)))
        } else {
            None
        };
        net.faults.borrow_mut().insert(host.clone(), next);
        if let Some(o) = outcome {
            return o;
        }
        let filtered = net.filters.borrow().get(&host).and_then(|f| f(&req));
        if let Some(resp) = filtered {
            net.answers.borrow_mut().push(resp.clone());
            return Ok(resp);
        }
        let request = Request::new(req.method, &path, req.headers.clone(), req.body.clone());
        let fut: Pin<Box<dyn Future<Output = Response> + '_>> =
            Box::pin(api::handle(&*peer, request));
        let resp = fut.await;
        let resp = match net.manglers.borrow().get(&host) {
            Some(m) => m(&req, resp),
            None => resp,
        };
        let mut f = net.faults.borrow_mut();
        let entry = f.entry(host).or_default();
        if entry.lose_answers > 0 {
            entry.lose_answers -= 1;
            return Err(FetchError::Timeout);
        }
        drop(f);
        net.answers.borrow_mut().push(resp.clone());
        Ok(resp)
    }
}
