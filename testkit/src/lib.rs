//! `edap-testkit`: the harness of the end-to-end tests and of the benchmark (`edap-bench`):
//! a Leader and a Helper under `wrangler dev --local` on ephemeral loopback ports with their
//! own state directories, a fault proxy in front of the Helper, and DAP client/collector
//! helpers built on `edap-core`. Everything started is stopped by process group in `Drop`;
//! every wait is bounded.

pub mod cli;
pub mod http;
pub mod interop;
pub mod procstat;
pub mod proxy;

use edap_core::api::admin::{TaskConfigSpec, TaskSpec};
use edap_core::hpke::HpkeKeypair;
use edap_core::media::MediaType;
use edap_core::messages::*;
use edap_core::roles::client::Client;
use edap_core::roles::collector::{self, Collection};
use edap_core::task::AggregationSchedule;
use edap_core::vdaf::Measurement;
use http::HttpResponse;
use prio::codec::{Decode, Encode};
use proxy::Proxy;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const ADMIN_TOKEN: &str = "e2e-admin-token";
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

/// One `wrangler dev --local` instance, stopped (by process group) when dropped.
pub struct Wrangler {
    pub name: String,
    pub port: u16,
    /// wrangler's inspector (DevTools protocol) port of the current run.
    pub inspector_port: u16,
    persist: PathBuf,
    log: PathBuf,
    state_dir: PathBuf,
    vars: Vec<String>,
    running: bool,
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
        let mut w = Wrangler {
            name: name.to_string(),
            port: free_port(),
            inspector_port: 0,
            persist: dir.join(format!("{name}-state")),
            log: dir.join(format!("{name}.log")),
            state_dir: dir.join("pgids"),
            vars: vars.iter().map(|v| v.to_string()).collect(),
            running: false,
        };
        w.launch();
        w
    }

    fn launch(&mut self) {
        self.inspector_port = free_port();
        let mut args = vec![
            self.name.clone(),
            "wrangler.toml".into(),
            self.port.to_string(),
            self.inspector_port.to_string(),
            self.persist.display().to_string(),
            self.log.display().to_string(),
            "--var".into(),
            format!("ADMIN_TOKEN:{ADMIN_TOKEN}"),
        ];
        for v in &self.vars {
            args.push("--var".into());
            args.push(v.clone());
        }
        let out = wrangler_sh(&self.state_dir, "start_wrangler", &args);
        assert!(
            out.status.success(),
            "starting {}: {}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.running = true;
    }

    pub fn stop(&mut self) {
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

    pub fn admin(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> HttpResponse {
        let body = body
            .map(|v| serde_json::to_vec(&v).unwrap())
            .unwrap_or_default();
        self.request(
            method,
            path,
            &[
                ("authorization", &format!("Bearer {ADMIN_TOKEN}")),
                ("content-type", "application/json"),
            ],
            &body,
        )
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
        check_prerequisites();
        let n = CLUSTERS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("edap-e2e-{}-{label}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let leader = Wrangler::start(&format!("{label}-leader"), &dir, &[]);
        let helper = Wrangler::start(&format!("{label}-helper"), &dir, helper_vars);
        let proxy = Proxy::start(helper.port);
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
        static INFO: AtomicU32 = AtomicU32::new(0);
        let spec = TaskConfigSpec {
            task_info: format!(
                "e2e-{}-{}",
                std::process::id(),
                INFO.fetch_add(1, Ordering::Relaxed)
            ),
            leader_endpoint: self.leader.url(),
            helper_endpoint: self.helper_url(),
            time_precision: 3600,
            min_batch_size,
            batch_mode: mode.as_str().into(),
            vdaf,
            task_start: window.map(|w| w.0),
            task_end: window.map(|w| w.1),
        };
        let collector_key =
            HpkeKeypair::generate(HpkeConfigId(1), HpkeKemId::X25519_HKDF_SHA256).unwrap();
        let verify_key = base64url(&edap_core::rand::array::<32>());
        let mut task_id = None;
        for (w, role) in [(&self.leader, "leader"), (&self.helper, "helper")] {
            let spec = TaskSpec {
                role: role.into(),
                config: Some(spec.clone()),
                vdaf_verify_key: verify_key.clone(),
                collector_hpke_config: base64url(&collector_key.config.get_encoded().unwrap()),
                aggregator_auth_token: Some(AGG_TOKEN.into()),
                collector_auth_token: (role == "leader").then(|| COLLECTOR_TOKEN.into()),
                schedule: Some(schedule.clone()),
                ..Default::default()
            };
            let r = w.admin(
                "POST",
                "/admin/tasks",
                Some(serde_json::to_value(&spec).unwrap()),
            );
            assert_eq!(r.status, 201, "provisioning on {role}: {}", r.text());
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            task_id = Some(TaskId::from_base64url(v["task_id"].as_str().unwrap()).unwrap());
        }
        let task_id = task_id.unwrap();
        let config = spec.to_config().unwrap();
        let hpke = |port: u16| {
            let r = http::request(port, "GET", "/hpke_config", &[], &[]).unwrap();
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

    pub fn stats(&self) -> BTreeMap<String, u64> {
        let r = http::request(
            self.leader_port,
            "GET",
            &format!("/admin/tasks/{}/stats", self.task_id),
            &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
            &[],
        )
        .unwrap();
        assert_eq!(r.status, 200, "stats: {}", r.text());
        serde_json::from_slice(&r.body).unwrap()
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
                        || (k.starts_with("rejected:") && *k != "rejected:report_replayed")
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
        let req = collector::collection_job_req(query);
        let r = http::request(
            self.leader_port,
            "POST",
            &format!("/tasks/{}/collection_jobs", self.task_id),
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
        let location = r.header("location").expect("Location").to_string();
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
