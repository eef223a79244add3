//! `edap-testkit`: the harness of the end-to-end tests and of the benchmark (`edap-bench`):
//! a Leader and a Helper under `wrangler dev --local` on ephemeral loopback ports with their
//! own state directories, a fault proxy in front of the Helper, and DAP client/collector
//! helpers built on `edap-core`. Everything started is stopped by process group in `Drop`;
//! every wait is bounded.

pub mod cli;
pub mod http;
pub mod interop;
pub mod janus;
pub mod node;
pub mod procstat;
pub mod proxy;
pub mod workerd;

use edap_core::api::aggregator_api::types::{
    AuthTokenJson, HpkeConfigJson, RoleJson, TokenHashJson,
};
use edap_core::api::aggregator_api::{PostTaskReq, TaskResp, MEDIA_TYPE};
use edap_core::api::provision::TaskConfigSpec;
use edap_core::hpke::HpkeKeypair;
use edap_core::media::MediaType;
use edap_core::messages::*;
use edap_core::roles::client::Client;
use edap_core::roles::collector::{self, Collection};
use edap_core::task::{AggregationSchedule, AuthHeader, Secret};
use edap_core::vdaf::Measurement;
use http::HttpResponse;
use prio::codec::{Decode, Encode};
use proxy::Proxy;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The aggregator API token of every instance (`AGGREGATOR_API_TOKENS`).
pub const API_TOKEN: &str = "e2e-aggregator-api-token";
pub const AGG_TOKEN: &str = "e2e-aggregator-token";
pub const COLLECTOR_TOKEN: &str = "e2e-collector-token";

/// The repository root (the parent of `testkit/`), where `wrangler.toml`, `build/` and
/// `scripts/` live.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ lives inside the repository")
        .to_path_buf()
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn check_prerequisites() {
    let root = root();
    assert!(
        root.join("build/index_bg.wasm").exists(),
        "the worker is not built: run scripts/test (or `worker-build --release` after sourcing scripts/env.sh)"
    );
    assert!(
        root.join("node_modules/.bin/wrangler").exists(),
        "wrangler is not installed: run scripts/setup"
    );
}

/// One aggregator instance under `wrangler dev --local` (or workerd itself, see
/// [`Runtime`]), stopped (by process group) when dropped.
pub struct Wrangler {
    pub name: String,
    pub port: u16,
    /// wrangler's inspector (DevTools protocol) port of the current run.
    pub inspector_port: u16,
    persist: PathBuf,
    log: PathBuf,
    state_dir: PathBuf,
    vars: Vec<String>,
    /// The wrangler configuration (relative to the repository root) and the arguments
    /// after the harness's own; `None`: the aggregators' (`wrangler.toml`, `--env dev`,
    /// the aggregator API token).
    config: Option<(String, Vec<String>)>,
    running: bool,
    runtime: Runtime,
    workerd: Option<workerd::Workerd>,
}

/// What serves an aggregator instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// `wrangler dev --local --env dev`: the development server, its proxy in front of
    /// workerd (what `scripts/dev` runs and most tests use).
    WranglerDev,
    /// `workerd` itself serving the bundle `wrangler deploy` uploads, without the proxy
    /// (see [`workerd`]): what production runs, as the benchmark measures it.
    Workerd,
}

fn wrangler_sh(state_dir: &Path, script: &str, args: &[String]) -> std::process::Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". scripts/env.sh && . scripts/lib/wrangler.sh && export SKIP_WORKER_BUILD=1 && {script} \"$@\""
        ))
        .arg("wrangler-harness")
        .args(args)
        .current_dir(root())
        .env("EDAP_WRANGLER_STATE_DIR", state_dir)
        .output()
        .expect("bash")
}

impl Wrangler {
    /// Starts an instance; `vars` are extra `NAME:VALUE` deployment variables.
    pub fn start(name: &str, dir: &Path, vars: &[&str]) -> Wrangler {
        Wrangler::start_on(name, dir, free_port(), vars)
    }

    /// Starts an instance on `port`.
    pub fn start_on(name: &str, dir: &Path, port: u16, vars: &[&str]) -> Wrangler {
        Wrangler::start_runtime(name, dir, port, vars, Runtime::WranglerDev)
    }

    /// Starts an instance on `port` under `runtime`.
    pub fn start_runtime(
        name: &str,
        dir: &Path,
        port: u16,
        vars: &[&str],
        runtime: Runtime,
    ) -> Wrangler {
        let vars = vars.iter().map(|v| v.to_string()).collect();
        Wrangler::launched(name, dir, port, vars, None, runtime)
    }

    /// An instance with its files under `dir`, started.
    fn launched(
        name: &str,
        dir: &Path,
        port: u16,
        vars: Vec<String>,
        config: Option<(String, Vec<String>)>,
        runtime: Runtime,
    ) -> Wrangler {
        let mut w = Wrangler {
            name: name.to_string(),
            port,
            inspector_port: 0,
            persist: dir.join(format!("{name}-state")),
            log: dir.join(format!("{name}.log")),
            state_dir: dir.join("pgids"),
            vars,
            config,
            running: false,
            runtime,
            workerd: None,
        };
        w.launch();
        w
    }

    /// Starts another worker of the repository: `config` (e.g. `console/wrangler.toml`)
    /// with `args` (e.g. `--env dev --var NAME:VALUE`), state in `dir/{name}-state`.
    pub fn start_config(
        name: &str,
        dir: &Path,
        port: u16,
        config: &str,
        args: &[String],
    ) -> Wrangler {
        Wrangler::launched(
            name,
            dir,
            port,
            Vec::new(),
            Some((config.to_string(), args.to_vec())),
            Runtime::WranglerDev,
        )
    }

    /// The directory `wrangler dev --persist-to` keeps this instance's state in.
    pub fn persist_dir(&self) -> &Path {
        &self.persist
    }

    fn launch(&mut self) {
        if self.runtime == Runtime::Workerd {
            match &mut self.workerd {
                Some(w) => w.restart(),
                None => {
                    let token = format!("AGGREGATOR_API_TOKENS:{API_TOKEN}");
                    let mut vars: Vec<&str> = vec![&token];
                    vars.extend(self.vars.iter().map(String::as_str));
                    let dir = self.persist.parent().unwrap_or(Path::new("."));
                    self.workerd = Some(workerd::Workerd::start_on(
                        &self.name, dir, self.port, &vars,
                    ));
                }
            }
            self.inspector_port = self.workerd.as_ref().map_or(0, |w| w.inspector_port);
            self.running = true;
            return;
        }
        // A start-up can lose a port to another process between `free_port` and wrangler's
        // bind (its restart on the watcher's first event binds again), so a failed start is
        // tried once more on fresh inspector ports.
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.inspector_port = free_port();
            let config = match &self.config {
                Some((c, _)) => c.clone(),
                None => "wrangler.toml".into(),
            };
            let mut args = vec![
                self.name.clone(),
                config,
                self.port.to_string(),
                self.inspector_port.to_string(),
                self.persist.display().to_string(),
                self.log.display().to_string(),
            ];
            match &self.config {
                Some((_, extra)) => args.extend(extra.iter().cloned()),
                None => args.extend([
                    // The development environment of wrangler.toml (the top level is
                    // production).
                    "--env".into(),
                    "dev".into(),
                    "--var".into(),
                    format!("AGGREGATOR_API_TOKENS:{API_TOKEN}"),
                ]),
            }
            for v in &self.vars {
                args.push("--var".into());
                args.push(v.clone());
            }
            let out = wrangler_sh(&self.state_dir, "start_wrangler", &args);
            if out.status.success() {
                break;
            }
            let why = format!(
                "starting {}: {}{}",
                self.name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                attempt < 2 && why.contains("exited during start-up"),
                "{why}"
            );
            eprintln!("{why}\n(trying once more)");
            wrangler_sh(
                &self.state_dir,
                "stop_wrangler",
                std::slice::from_ref(&self.name),
            );
        }
        self.running = true;
    }

    pub fn stop(&mut self) {
        if let Some(w) = &mut self.workerd {
            w.stop();
            self.running = false;
        }
        if self.running {
            wrangler_sh(
                &self.state_dir,
                "stop_wrangler",
                std::slice::from_ref(&self.name),
            );
            self.running = false;
        }
    }

    /// Stops and starts again on the same port with the same state directory.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// The process group of the running instance (wrangler's node and the workerd it
    /// started), as `scripts/lib/wrangler.sh` recorded it.
    pub fn pgid(&self) -> Option<u32> {
        if !self.running {
            return None;
        }
        if let Some(w) = &self.workerd {
            return w.pgid();
        }
        std::fs::read_to_string(self.state_dir.join(format!("{}.pgid", self.name)))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The processes of the running instance.
    pub fn processes(&self) -> Vec<procstat::Proc> {
        self.pgid().map(procstat::group).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        if let Some(w) = &self.workerd {
            return w.log();
        }
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        http::request(self.port, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{} {path} on {}: {e}", method, self.name))
    }

    /// An aggregator API request (`path` under `/api`) with the token, Accept and, with a
    /// body, Content-Type.
    pub fn api(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> HttpResponse {
        let body = body
            .map(|v| serde_json::to_vec(&v).unwrap())
            .unwrap_or_default();
        let auth = format!("Bearer {API_TOKEN}");
        let mut h = vec![("authorization", auth.as_str()), ("accept", MEDIA_TYPE)];
        if !body.is_empty() {
            h.push(("content-type", MEDIA_TYPE));
        }
        self.request(method, &format!("/api{path}"), &h, &body)
    }

    /// The Leader's raw counters for a task (the `counters` of its upload metrics).
    pub fn counters(&self, task_id: &TaskId) -> BTreeMap<String, u64> {
        let r = self.api("GET", &format!("/tasks/{task_id}/metrics/uploads"), None);
        assert_eq!(r.status, 200, "metrics: {}", r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        serde_json::from_value(v["counters"].clone()).unwrap()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Wrangler {
    fn drop(&mut self) {
        self.stop();
    }
}

static CLUSTERS: AtomicU32 = AtomicU32::new(0);

/// A Leader and a Helper (behind a fault proxy).
pub struct Cluster {
    pub leader: Wrangler,
    pub helper: Wrangler,
    pub proxy: Proxy,
    pub dir: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.leader.stop();
        self.helper.stop();
        if std::thread::panicking() {
            eprintln!("state and logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Cluster {
    pub fn start(label: &str) -> Cluster {
        Cluster::start_with(label, &[])
    }

    /// Starts a cluster whose Helper gets extra deployment variables.
    pub fn start_with(label: &str, helper_vars: &[&str]) -> Cluster {
        Cluster::start_runtime(
            label,
            helper_vars,
            Runtime::WranglerDev,
            &std::env::temp_dir(),
        )
    }

    /// Starts a cluster under `runtime`, its state and logs in a new directory under `base`.
    pub fn start_runtime(
        label: &str,
        helper_vars: &[&str],
        runtime: Runtime,
        base: &Path,
    ) -> Cluster {
        check_prerequisites();
        let n = CLUSTERS.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("edap-e2e-{}-{label}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let leader =
            Wrangler::start_runtime(&format!("{label}-leader"), &dir, free_port(), &[], runtime);
        // The proxy first: the Helper's DAP URL, as the Leader and the tasks name it, is the
        // proxy's.
        let helper_port = free_port();
        let proxy = Proxy::start(helper_port);
        let dap_url = format!("DAP_URL:http://127.0.0.1:{}/", proxy.port);
        let mut vars = vec![dap_url.as_str()];
        vars.extend_from_slice(helper_vars);
        let helper = Wrangler::start_runtime(
            &format!("{label}-helper"),
            &dir,
            helper_port,
            &vars,
            runtime,
        );
        Cluster {
            leader,
            helper,
            proxy,
            dir,
        }
    }

    /// The Helper's URL as the Leader (and the task configuration) see it.
    pub fn helper_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.proxy.port)
    }

    /// Provisions a task on both aggregators.
    pub fn task(
        &self,
        vdaf: VdafConfig,
        mode: BatchMode,
        schedule: AggregationSchedule,
    ) -> TestTask {
        self.task_with(vdaf, mode, schedule, 10, None)
    }

    pub fn task_with(
        &self,
        vdaf: VdafConfig,
        mode: BatchMode,
        schedule: AggregationSchedule,
        min_batch_size: u64,
        window: Option<(u64, u64)>,
    ) -> TestTask {
        self.task_opts(
            vdaf,
            mode,
            schedule,
            TaskOptions {
                min_batch_size,
                window,
                ..TaskOptions::default()
            },
        )
    }

    /// Provisions a task with every option.
    pub fn task_opts(
        &self,
        vdaf: VdafConfig,
        mode: BatchMode,
        schedule: AggregationSchedule,
        opts: TaskOptions,
    ) -> TestTask {
        let TaskOptions {
            min_batch_size,
            window,
            helper_dialect,
            time_precision,
        } = opts;
        static INFO: AtomicU32 = AtomicU32::new(0);
        let spec = TaskConfigSpec {
            task_info: format!(
                "e2e-{}-{}",
                std::process::id(),
                INFO.fetch_add(1, Ordering::Relaxed)
            ),
            leader_endpoint: self.leader.url(),
            helper_endpoint: self.helper_url(),
            time_precision,
            min_batch_size,
            batch_mode: mode.as_str().into(),
            vdaf,
            task_start: window.map(|w| w.0),
            task_end: window.map(|w| w.1),
        };
        let collector_key =
            HpkeKeypair::generate(HpkeConfigId(1), HpkeKemId::X25519_HKDF_SHA256).unwrap();
        let verify_key = base64url(&edap_core::rand::array::<32>());
        let config = spec.to_config().unwrap();
        let encoded = base64url(&config.get_encoded().unwrap());
        let mut task_id = None;
        // Janus's fields only, the Helper first: each aggregator builds the configuration
        // from its DAP URL (the Leader's from the Host header, the Helper's from DAP_URL).
        for (w, role) in [
            (&self.helper, RoleJson::Helper),
            (&self.leader, RoleJson::Leader),
        ] {
            let mut req = post_task_req(&config, role, &verify_key, &collector_key);
            // The ID `edap task new` and the JS package derive from the parameters (the
            // taskprov rule), rather than Janus's SHA-256 of the verify key.
            req.task_id = Some(edap_core::task::derive_task_id(&config).unwrap());
            req.schedule = Some(schedule.clone());
            req.aggregator_auth_token =
                Some(AuthTokenJson::new(AuthHeader::Bearer, AGG_TOKEN.into()));
            if role == RoleJson::Leader {
                req.collector_auth_token_hash = Some(TokenHashJson::of(&AuthTokenJson::new(
                    AuthHeader::Bearer,
                    COLLECTOR_TOKEN.into(),
                )));
                req.helper_dialect = helper_dialect;
            }
            let r = w.api("POST", "/tasks", Some(serde_json::to_value(&req).unwrap()));
            assert_eq!(r.status, 200, "provisioning on {role:?}: {}", r.text());
            let t: TaskResp = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(
                t.task_config, encoded,
                "{role:?} built a different configuration"
            );
            task_id = Some(t.task_id);
        }
        let task_id = task_id.unwrap();
        let hpke = |port: u16| {
            // A GET, so safe to repeat: a loaded machine sometimes drops a connection.
            let mut attempt = 0;
            let r = loop {
                attempt += 1;
                match http::request(port, "GET", "/hpke_config", &[], &[]) {
                    Ok(r) => break r,
                    Err(e) if attempt >= 5 => panic!("hpke_config on port {port}: {e}"),
                    Err(_) => std::thread::sleep(Duration::from_millis(500)),
                }
            };
            assert_eq!(r.status, 200, "hpke_config: {}", r.text());
            let list = HpkeConfigList::get_decoded(&r.body).unwrap();
            edap_core::roles::client::choose_config(&list)
                .unwrap()
                .clone()
        };
        let client = Client::new(
            task_id,
            config.clone(),
            hpke(self.leader.port),
            hpke(self.proxy.port),
        )
        .unwrap();
        TestTask {
            task_id,
            config,
            client,
            collector_key,
            leader_port: self.leader.port,
        }
    }
}

/// Options of [`Cluster::task_opts`].
#[derive(Clone, Debug)]
pub struct TaskOptions {
    pub min_batch_size: u64,
    pub window: Option<(u64, u64)>,
    /// The Leader's `helper_dialect` (`None`: the API's default, auto).
    pub helper_dialect: Option<edap_core::task::PeerDialect>,
    /// Seconds per time unit.
    pub time_precision: u64,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            min_batch_size: 10,
            window: None,
            helper_dialect: None,
            time_precision: 3600,
        }
    }
}

/// A provisioned task with its Client and Collector key.
pub struct TestTask {
    pub task_id: TaskId,
    pub config: TaskConfiguration,
    pub client: Client,
    pub collector_key: HpkeKeypair,
    pub leader_port: u16,
}

impl TestTask {
    pub fn reports(&self, ms: &[Measurement]) -> Vec<Report> {
        let now = now_secs();
        ms.iter()
            .map(|m| self.client.report(m, now).unwrap())
            .collect()
    }

    pub fn upload_raw(&self, body: &[u8], content_type: &str) -> HttpResponse {
        http::request(
            self.leader_port,
            "POST",
            &format!("/tasks/{}/reports", self.task_id),
            &[("content-type", content_type)],
            body,
        )
        .expect("upload")
    }

    /// Uploads in requests of `bulk` reports; returns the refused (id, error) pairs.
    pub fn upload(&self, reports: &[Report], bulk: usize) -> Vec<(ReportId, ReportError)> {
        let mut refused = Vec::new();
        for chunk in reports.chunks(bulk.max(1)) {
            let body = UploadRequest {
                reports: chunk.to_vec(),
            }
            .get_encoded()
            .unwrap();
            let r = self.upload_raw(&body, &MediaType::UploadReq.as_str());
            assert_eq!(r.status, 200, "upload: {}", r.text());
            if !r.body.is_empty() {
                refused.extend(
                    UploadErrors::get_decoded(&r.body)
                        .unwrap()
                        .status
                        .into_iter()
                        .map(|s| (s.id, s.error)),
                );
            }
        }
        refused
    }

    /// The Leader's raw counters (the `counters` of the task's upload metrics).
    pub fn stats(&self) -> BTreeMap<String, u64> {
        let r = http::request(
            self.leader_port,
            "GET",
            &format!("/api/tasks/{}/metrics/uploads", self.task_id),
            &[
                ("authorization", &format!("Bearer {API_TOKEN}")),
                ("accept", MEDIA_TYPE),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(r.status, 200, "stats: {}", r.text());
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        serde_json::from_value(v["counters"].clone()).unwrap()
    }

    /// Waits (bounded) until `n` reports reached a final state at the Leader.
    pub fn wait_processed(&self, n: u64, timeout: Duration) -> BTreeMap<String, u64> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.stats();
            let done: u64 = s
                .iter()
                .filter(|(k, _)| {
                    *k == "aggregated"
                        || k.starts_with("rejected:")
                        || k.starts_with("helper_rejected:")
                })
                .map(|(_, v)| v)
                .sum();
            if done >= n {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "only {done} of {n} reports processed: {s:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn collector_headers(&self) -> Vec<(String, String)> {
        vec![("authorization".into(), format!("Bearer {COLLECTOR_TOKEN}"))]
    }

    /// Creates a collection job and polls it (bounded) until it has a result or fails.
    pub fn collect(&self, query: Query, timeout: Duration) -> Result<Collection, String> {
        self.collect_as(query, timeout, None)
    }

    /// Like [`Self::collect`], creating the job with `PUT` to a Collector-chosen ID (the
    /// form deployed Collectors speak) instead of DAP-18's `POST`.
    pub fn collect_put(&self, query: Query, timeout: Duration) -> Result<Collection, String> {
        self.collect_as(query, timeout, Some(CollectionJobId::random()))
    }

    fn collect_as(
        &self,
        query: Query,
        timeout: Duration,
        put_id: Option<CollectionJobId>,
    ) -> Result<Collection, String> {
        let req = collector::collection_job_req(query);
        let (method, path) = match put_id {
            Some(id) => (
                "PUT",
                format!("/tasks/{}/collection_jobs/{id}", self.task_id),
            ),
            None => ("POST", format!("/tasks/{}/collection_jobs", self.task_id)),
        };
        let r = http::request(
            self.leader_port,
            method,
            &path,
            &[
                ("content-type", &MediaType::CollectionJobReq.as_str()),
                ("authorization", &format!("Bearer {COLLECTOR_TOKEN}")),
            ],
            &req.get_encoded().unwrap(),
        )
        .unwrap();
        if r.status >= 400 {
            return Err(r.problem_type().unwrap_or_else(|| r.text()));
        }
        if put_id.is_some() {
            // The PUT form's Collectors require exactly 201.
            assert_eq!(r.status, 201, "{}", r.text());
        }
        let location = match put_id {
            Some(_) => path,
            None => r.header("location").expect("Location").to_string(),
        };
        let deadline = Instant::now() + timeout;
        let mut body = r.body;
        while body.is_empty() {
            assert!(
                Instant::now() < deadline,
                "collection did not finish within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(250));
            let hs = self.collector_headers();
            let hs: Vec<(&str, &str)> = hs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let g = http::request(self.leader_port, "GET", &location, &hs, &[]).unwrap();
            if g.status >= 400 {
                return Err(g.problem_type().unwrap_or_else(|| g.text()));
            }
            body = g.body;
        }
        let resp = CollectionJobResp::get_decoded(&body).unwrap();
        collector::finish(
            &self.task_id,
            &self.config,
            &self.collector_key,
            &req,
            &resp,
        )
        .map_err(|e| e.to_string())
    }

    pub fn current_interval(&self) -> Interval {
        let p = self.config.time_precision;
        Interval::new(now_secs() / p - 1, 3)
    }
}

/// The `POST /tasks` of a configuration in Janus's fields only (no tokens, no extension
/// field): what a Janus control plane sends.
pub fn post_task_req(
    config: &TaskConfiguration,
    role: RoleJson,
    verify_key: &str,
    collector_key: &HpkeKeypair,
) -> PostTaskReq {
    PostTaskReq::for_config(
        config,
        role,
        Secret(verify_key.to_string()),
        HpkeConfigJson::from(&collector_key.config),
    )
}

pub fn base64url(b: &[u8]) -> String {
    edap_core::messages::base64url(b)
}

pub fn schedule() -> AggregationSchedule {
    AggregationSchedule {
        min_job_size: 20,
        max_job_size: 500,
        max_wait_secs: 1,
        report_shards: 4,
        bucket_shards: 2,
        replay_shards: 4,
        batch_size_target: 0,
    }
}
