//! The interop test API end to end against the real workers: `edap interop client` and
//! `edap interop collector` processes plus the Leader's and Helper's `/internal/test/*`
//! (on in the development environment of wrangler.toml), driven only through those
//! endpoints, the way the interop test runner drives four containers. Needs the prebuilt
//! worker (scripts/test builds it); builds `edap` itself if needed (see `common`).

mod common;

use common::*;
use edap_core::messages::{base64url, TaskId};
use edap_testkit::{now_secs, Cluster};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const COLLECT_TIMEOUT: Duration = Duration::from_secs(240);
const COLLECTOR_TOKEN_I: &str = "interop-collector-token-s3cret";
const LEADER_TOKEN_I: &str = "interop-leader-token-s3cret";

/// POSTs a JSON command to `127.0.0.1:port{path}`; returns the status and the JSON answer.
fn post(port: u16, path: &str, body: &Value) -> (u16, Value) {
    let r = edap_testkit::http::request(
        port,
        "POST",
        path,
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
    .unwrap_or_else(|e| panic!("POST {path} on port {port}: {e}"));
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

/// A command that must be recognized (200).
fn call(port: u16, command: &str, body: &Value) -> Value {
    let (status, v) = post(port, &format!("/internal/test/{command}"), body);
    assert_eq!(status, 200, "{command} on port {port}: {v}");
    v
}

/// A command that must succeed.
fn ok(port: u16, command: &str, body: &Value) -> Value {
    let v = call(port, command, body);
    assert_eq!(v["status"], "success", "{command} on port {port}: {v}");
    v
}

/// The four roles.
struct Roles {
    cluster: Cluster,
    client: InteropServer,
    collector: InteropServer,
    _dir: TempDir,
}

impl Roles {
    fn start() -> Roles {
        let cluster = Cluster::start("interop");
        let dir = TempDir::new("interop-workers");
        let cache = dir.0.join("cache");
        let client = InteropServer::start(edap_bin(), "client", &cache);
        let collector = InteropServer::start(edap_bin(), "collector", &cache);
        let r = Roles {
            cluster,
            client,
            collector,
            _dir: dir,
        };
        for port in r.ports() {
            assert_eq!(call(port, "ready", &json!({})), json!({}), "port {port}");
        }
        r
    }

    /// Client, Collector, Leader, Helper.
    fn ports(&self) -> [u16; 4] {
        [
            self.client.port,
            self.collector.port,
            self.cluster.leader.port,
            self.cluster.helper.port,
        ]
    }

    /// The DAP endpoint an aggregator names for a task, made absolute against `base` (the
    /// URL at which the other participants reach it: the proxy for the Helper).
    fn endpoint(&self, port: u16, base: &str, task_id: &TaskId, role: &str) -> String {
        let v = ok(
            port,
            "endpoint_for_task",
            &json!({"task_id": task_id.to_base64url(), "role": role, "hostname": "127.0.0.1"}),
        );
        let e = v["endpoint"].as_str().unwrap();
        if e.starts_with("http") {
            e.to_string()
        } else {
            format!(
                "{}/{}",
                base.trim_end_matches('/'),
                e.trim_start_matches('/')
            )
        }
    }

    /// Sets a task up on all four roles; returns the parameters the Client needs.
    fn add_task(&self, vdaf: Value, batch_mode: u8, min_batch_size: u64) -> Value {
        let task_id = TaskId::random();
        let c = &self.cluster;
        let leader = self.endpoint(c.leader.port, &c.leader.url(), &task_id, "leader");
        let helper = self.endpoint(c.helper.port, &c.helper_url(), &task_id, "helper");
        let common = json!({
            "task_id": task_id.to_base64url(),
            "leader": leader,
            "helper": helper,
            "vdaf": vdaf,
            "batch_mode": batch_mode,
            "min_batch_size": min_batch_size.to_string(),
            "time_precision": 3600,
        });
        let mut body = common.clone();
        body["collector_authentication_token"] = json!(COLLECTOR_TOKEN_I);
        let v = ok(self.collector.port, "add_task", &body);
        let hpke = v["collector_hpke_config"].as_str().unwrap().to_string();
        let verify_key = base64url(&edap_core::rand::array::<32>());
        for (role, port) in [("leader", c.leader.port), ("helper", c.helper.port)] {
            let mut body = common.clone();
            body["role"] = json!(role);
            body["vdaf_verify_key"] = json!(verify_key);
            body["leader_authentication_token"] = json!(LEADER_TOKEN_I);
            body["collector_hpke_config"] = json!(hpke);
            if role == "leader" {
                body["collector_authentication_token"] = json!(COLLECTOR_TOKEN_I);
            }
            ok(port, "add_task", &body);
        }
        common
    }

    fn upload(&self, task: &Value, measurement: Value, time: u64) {
        let mut body = task.clone();
        body["measurement"] = measurement;
        body["time"] = json!(time);
        ok(self.client.port, "upload", &body);
    }

    /// Starts a collection and polls it (bounded) until it completes.
    fn collect(&self, task: &Value, query: Value) -> Value {
        let v = ok(
            self.collector.port,
            "collection_start",
            &json!({"task_id": task["task_id"], "agg_param": "", "query": query}),
        );
        let handle = json!({"handle": v["handle"]});
        let deadline = Instant::now() + COLLECT_TIMEOUT;
        loop {
            let v = call(self.collector.port, "collection_poll", &handle);
            match v["status"].as_str() {
                Some("complete") => return v,
                Some("in progress") => {}
                _ => panic!("collection_poll: {v}"),
            }
            assert!(
                Instant::now() < deadline,
                "the collection did not complete within {COLLECT_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn check_logs(&self) {
        let logs = format!("{}{}", self.client.log(), self.collector.log());
        for secret in [COLLECTOR_TOKEN_I, LEADER_TOKEN_I] {
            assert!(!logs.contains(secret), "a token was logged: {logs}");
        }
    }
}

fn decimal_strings(v: &[u64]) -> Value {
    json!(v.iter().map(u64::to_string).collect::<Vec<_>>())
}

#[test]
fn interop_roles_against_the_workers_both_batch_modes() {
    let r = Roles::start();
    let t = now_secs();
    let hour = t / 3600 * 3600;

    // time_interval, Prio3Histogram: the hour's exact histogram.
    let hist_task = r.add_task(
        json!({"type": "Prio3Histogram", "length": "4", "chunk_length": "2"}),
        1,
        10,
    );
    let mut hist = [0u64; 4];
    for i in 0..60u64 {
        let b = (i * 5 + i / 4) % 4;
        hist[b as usize] += 1;
        r.upload(&hist_task, json!(b.to_string()), t);
    }

    // leader_selected, Prio3Sum: the Leader cuts batches of at least min_batch_size; two
    // "next batch" collections hold every report once.
    let sum_task = r.add_task(json!({"type": "Prio3Sum", "max_measurement": "255"}), 2, 10);
    let values: Vec<u64> = (0..20).map(|i| (i * 53 + 7) % 256).collect();
    for v in &values {
        r.upload(&sum_task, json!(v.to_string()), t);
    }

    let v = r.collect(
        &hist_task,
        json!({"type": 1, "batch_interval_start": hour, "batch_interval_duration": 3600}),
    );
    assert_eq!(
        v,
        json!({
            "status": "complete",
            "report_count": 60,
            "interval_start": hour,
            "interval_duration": 3600,
            "result": decimal_strings(&hist),
        })
    );

    let a = r.collect(&sum_task, json!({"type": 2}));
    let b = r.collect(&sum_task, json!({"type": 2, "subtype": 1}));
    let count = |v: &Value| v["report_count"].as_u64().unwrap();
    let sum = |v: &Value| v["result"].as_str().unwrap().parse::<u64>().unwrap();
    assert!(count(&a) >= 10 && count(&b) >= 10, "{a} {b}");
    assert_eq!(count(&a) + count(&b), 20, "{a} {b}");
    assert_eq!(sum(&a) + sum(&b), values.iter().sum::<u64>(), "{a} {b}");
    for v in [&a, &b] {
        assert_eq!(v["interval_start"], json!(hour), "{v}");
        assert_eq!(v["interval_duration"], json!(3600), "{v}");
    }

    // A report far in the future: the Client's answer names the Leader's ReportError.
    let mut body = sum_task.clone();
    body["measurement"] = json!("1");
    body["time"] = json!(t + 3 * 86_400);
    let v = call(r.client.port, "upload", &body);
    assert_eq!(v["status"], "error", "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("report_too_early"),
        "{v}"
    );
    // Unknown commands are 404 on all four roles.
    for port in r.ports() {
        let (status, _) = post(port, "/internal/test/no_such_command", &json!({}));
        assert_eq!(status, 404, "port {port}");
    }
    r.check_logs();
}
