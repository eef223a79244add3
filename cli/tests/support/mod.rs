//! Test harness: a Leader and a Helper from `edap_core::mem` (one `MemNetwork`, so the
//! Leader reaches the Helper in memory) behind a tiny single-threaded HTTP/1.1 server on
//! two loopback listeners, one per aggregator, and a runner for the `edap` binary.
//!
//! `MemNetwork` is `!Send`, so everything runs on the test thread: while `edap` runs as a
//! child process, the loop accepts connections without blocking, serves each one to
//! completion (`Connection: close`), sets the simulated clock to real time and runs due
//! alarms (the Leader's aggregation and collection work), sleeping ~5 ms when idle.
//! Every wait is bounded; a child still running after [`CHILD_TIMEOUT`] is killed.
#![allow(dead_code)]

use edap_core::api::aggregator_api::MEDIA_TYPE;
use edap_core::hpke::HpkeKeypair;
use edap_core::http::{Headers, Method, Request, Response};
use edap_core::mem::{MemDeployment, MemNetwork};
use edap_core::messages::{base64url, TaskId};
use edap_core::platform::DeploymentConfig;
use edap_core::task::{AggregationSchedule, TokenHash};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const API_TOKEN: &str = "test-aggregator-api-token";
pub const AGG_TOKEN: &str = "test-leader-to-helper-token";
pub const COLLECTOR_TOKEN: &str = "test-collector-token-s3cret";
/// Longest a single `edap` run may take.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub use edap_testkit::cli::{Out, TempDir};

/// Secrets no `edap` output may contain.
pub const SECRETS: &[&str] = &[COLLECTOR_TOKEN, API_TOKEN];

/// A scratch directory under the target directory, removed on drop.
pub fn temp_dir(name: &str) -> TempDir {
    TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR")), name)
}

/// Options of one `edap` run.
#[derive(Default)]
pub struct RunOpts<'a> {
    pub stdin: Option<&'a [u8]>,
    pub env: Vec<(&'a str, &'a str)>,
}

/// Runs `edap` without serving anything (for commands that need no network).
pub fn edap(cache: &Path, args: &[&str]) -> Out {
    run_child(cache, args, RunOpts::default(), || false)
}

fn run_child(
    cache: &Path,
    args: &[&str],
    opts: RunOpts<'_>,
    mut tick: impl FnMut() -> bool,
) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edap"));
    cmd.args(args)
        .env("XDG_CACHE_HOME", cache)
        .env_remove("EDAP_COLLECTOR_TOKEN")
        .env_remove("EDAP_API_TOKEN")
        .env_remove("EDAP_VERIFY_KEY")
        .env_remove("EDAP_HELPER_API_TOKEN")
        .env_remove("EDAP_AGGREGATOR_TOKEN")
        .env("COLUMNS", "60")
        .stdin(if opts.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn edap");
    let stdin_thread = opts.stdin.map(|data| {
        let data = data.to_vec();
        let mut w = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        })
    });
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + CHILD_TIMEOUT;
    let status = loop {
        let busy = tick();
        if let Some(status) = child.try_wait().expect("wait for edap") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("edap {args:?} did not finish within {CHILD_TIMEOUT:?}");
        }
        if !busy {
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    if let Some(t) = stdin_thread {
        let _ = t.join();
    }
    Out {
        code: status.code().unwrap_or(-1),
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
    }
}

struct Listener {
    tcp: TcpListener,
    deployment: Rc<MemDeployment>,
}

/// A Leader and a Helper served over loopback HTTP.
pub struct Aggregators {
    pub net: Rc<MemNetwork>,
    pub leader: Rc<MemDeployment>,
    pub helper: Rc<MemDeployment>,
    /// `http://127.0.0.1:PORT/`
    pub leader_url: String,
    pub helper_url: String,
    listeners: Vec<Listener>,
    /// Every request served, as (method, path).
    pub served: RefCell<Vec<(String, String)>>,
    pub dir: TempDir,
}

fn deployment_config() -> DeploymentConfig {
    DeploymentConfig {
        api_token_hashes: vec![TokenHash::of(API_TOKEN)],
        enable_test_api: false,
        ..DeploymentConfig::development()
    }
}

/// Small and fast scheduling: a job as soon as one report waits, or after a second.
pub fn schedule() -> AggregationSchedule {
    AggregationSchedule {
        min_job_size: 1,
        max_job_size: 500,
        max_wait_secs: 1,
        report_shards: 2,
        bucket_shards: 2,
        replay_shards: 2,
        batch_size_target: 0,
    }
}

fn read_request(stream: &mut TcpStream) -> std::io::Result<Request> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 1 << 20 {
            return Err(std::io::Error::new(
                ErrorKind::InvalidData,
                "head too large",
            ));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "closed"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = Method::parse(first.next().unwrap_or_default());
    let target = first.next().unwrap_or("/").to_string();
    let mut headers = Headers::default();
    let mut length = 0usize;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse().unwrap_or(0);
            }
            headers.push(k, v);
        }
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(Request::new(method, &target, headers, body))
}

fn write_response(stream: &mut TcpStream, r: &Response) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        r.status,
        edap_core::error::http_reason(r.status)
    );
    for (k, v) in &r.headers.0 {
        if !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        r.body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(&r.body)?;
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

/// The deployment settings of the interop tests: the test API on, small batches allowed.
pub fn test_api_config() -> DeploymentConfig {
    DeploymentConfig {
        enable_test_api: true,
        ..deployment_config()
    }
}

impl Aggregators {
    pub fn new(name: &str) -> Aggregators {
        Aggregators::with_config(name, deployment_config())
    }

    /// Both aggregators with the given deployment settings.
    pub fn with_config(name: &str, config: DeploymentConfig) -> Aggregators {
        let bind = || {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_nonblocking(true).unwrap();
            let port = l.local_addr().unwrap().port();
            (l, format!("http://127.0.0.1:{port}"))
        };
        let (lt, lbase) = bind();
        let (ht, hbase) = bind();
        let net = MemNetwork::new(now_ms());
        let leader = net.deploy(&lbase, config.clone());
        let helper = net.deploy(&hbase, config);
        Aggregators {
            listeners: vec![
                Listener {
                    tcp: lt,
                    deployment: leader.clone(),
                },
                Listener {
                    tcp: ht,
                    deployment: helper.clone(),
                },
            ],
            net,
            leader,
            helper,
            leader_url: format!("{lbase}/"),
            helper_url: format!("{hbase}/"),
            served: RefCell::new(Vec::new()),
            dir: temp_dir(name),
        }
    }

    /// One turn of the server loop; returns whether anything happened.
    pub fn tick(&self) -> bool {
        let mut busy = false;
        for l in &self.listeners {
            match l.tcp.accept() {
                Ok((mut stream, _)) => {
                    busy = true;
                    if let Ok(req) = read_request(&mut stream) {
                        self.served.borrow_mut().push((
                            req.method.map(|m| m.as_str()).unwrap_or("?").to_string(),
                            req.path.clone(),
                        ));
                        let resp = l.deployment.handle(req);
                        let _ = write_response(&mut stream, &resp);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("accept: {e}"),
            }
        }
        let now = now_ms();
        if now > self.net.now_ms() {
            self.net.advance_ms(now - self.net.now_ms());
        }
        if self.net.run_due_alarms(1000) > 0 {
            busy = true;
        }
        busy
    }

    /// Runs `edap` while serving both aggregators.
    pub fn edap(&self, args: &[&str]) -> Out {
        self.edap_with(args, RunOpts::default())
    }

    pub fn edap_with(&self, args: &[&str], opts: RunOpts<'_>) -> Out {
        run_child(&self.dir.path("cache"), args, opts, || self.tick())
    }

    /// Serves until `done` holds (bounded).
    pub fn serve_until(&self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + CHILD_TIMEOUT;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            if !self.tick() {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// A path in this test's scratch directory.
    pub fn path(&self, name: &str) -> String {
        self.dir.s(name)
    }

    /// Requests served so far whose path ends with `suffix`.
    pub fn served_count(&self, suffix: &str) -> usize {
        self.served
            .borrow()
            .iter()
            .filter(|(_, p)| p.ends_with(suffix))
            .count()
    }

    /// Provisions the task file's task on both aggregators through the aggregator API,
    /// in-process (the exact configuration as `task_config`, the Helper first). Returns
    /// the task ID.
    pub fn provision(&self, task_file: &str, collector: &HpkeKeypair) -> TaskId {
        let f: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(task_file).unwrap()).unwrap();
        let verify_key = base64url(&edap_core::rand::array::<32>());
        let c = &collector.config;
        let mut id = None;
        for (d, role) in [(&self.helper, "Helper"), (&self.leader, "Leader")] {
            let mut req = serde_json::json!({
                "role": role,
                "task_id": f["task_id"],
                "task_config": f["task_config"],
                "vdaf_verify_key": verify_key,
                "collector_hpke_config": {"id": c.id.0, "kem_id": "X25519HkdfSha256",
                    "kdf_id": "HkdfSha256", "aead_id": "Aes128Gcm",
                    "public_key": base64url(&c.public_key)},
                "aggregator_auth_token": {"type": "Bearer", "token": AGG_TOKEN},
                "schedule": schedule(),
            });
            if role == "Leader" {
                req["collector_auth_token_hash"] = serde_json::json!({"type": "Bearer",
                    "hash": base64url(&TokenHash::of(COLLECTOR_TOKEN).0)});
            }
            let r = api(d, Method::Post, "/api/tasks", Some(req));
            assert_eq!(
                r.status,
                200,
                "provisioning: {}",
                String::from_utf8_lossy(&r.body)
            );
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            id = Some(TaskId::from_base64url(v["task_id"].as_str().unwrap()).unwrap());
        }
        id.unwrap()
    }

    /// Makes both aggregators advertise only a P-256 HPKE config (a new key pair made
    /// active, the old one expired). In unoptimized builds P-256 sealing and opening is
    /// about 2.5 times faster than X25519, which matters for tests with a thousand reports.
    pub fn advertise_p256(&self) {
        for d in [&self.leader, &self.helper] {
            let old: serde_json::Value =
                serde_json::from_slice(&api(d, Method::Get, "/api/hpke_configs", None).body)
                    .unwrap();
            let r = api(
                d,
                Method::Put,
                "/api/hpke_configs",
                Some(serde_json::json!({"kem_id": "P256HkdfSha256"})),
            );
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
            let new: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            let patch = |id: &serde_json::Value, state: &str| {
                let r = api(
                    d,
                    Method::Patch,
                    &format!("/api/hpke_configs/{id}"),
                    Some(serde_json::json!({ "state": state })),
                );
                assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            };
            patch(&new["config"]["id"], "active");
            for k in old.as_array().unwrap() {
                patch(&k["config"]["id"], "expired");
            }
        }
    }

    /// The Leader's counters for a task (the `counters` of its upload metrics).
    pub fn stats(&self, task: &TaskId) -> BTreeMap<String, u64> {
        let r = api(
            &self.leader,
            Method::Get,
            &format!("/api/tasks/{task}/metrics/uploads"),
            None,
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        serde_json::from_value(v["counters"].clone()).unwrap()
    }
}

/// An aggregator API request with the token, Accept and (with a body) Content-Type.
pub fn api(
    d: &MemDeployment,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Response {
    let body = body
        .map(|v| serde_json::to_vec(&v).unwrap())
        .unwrap_or_default();
    let auth = format!("Bearer {API_TOKEN}");
    let mut h = vec![("authorization", auth.as_str()), ("accept", MEDIA_TYPE)];
    if !body.is_empty() {
        h.push(("content-type", MEDIA_TYPE));
    }
    d.request(method, path, &h, body)
}

/// Generates a collector key file with `edap hpke-keygen` and loads it.
pub fn keygen(cache: &Path, path: &str, extra: &[&str]) -> HpkeKeypair {
    let mut args = vec!["hpke-keygen", "--out", path];
    args.extend_from_slice(extra);
    edap(cache, &args).ok();
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The start of the current time-precision unit (so a test's reports share one bucket).
pub fn bucket_start(precision: u64) -> u64 {
    now_secs() / precision * precision
}
