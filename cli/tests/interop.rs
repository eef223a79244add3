//! `edap interop client` and `edap interop collector` against the in-memory Leader and Helper,
//! with the whole flow driven only through the four roles' `/internal/test/*` endpoints, the
//! way the interop test runner drives containers.
//!
//! The aggregators run on the test thread (see `support`): every call to any of the four
//! roles is sent from a helper thread while the test thread keeps serving the aggregators.

mod support;

use edap_core::messages::{base64url, TaskId};
use serde_json::{json, Value};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::*;

/// Longest one test-API call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(90);
/// Longest a collection may take to complete.
const COLLECT_TIMEOUT: Duration = Duration::from_secs(60);

use edap_testkit::interop::InteropServer as Server;

fn start_server(role: &str, cache: &std::path::Path) -> Server {
    Server::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_edap")),
        role,
        cache,
    )
}

/// POSTs `body` to `url` from a helper thread while serving the aggregators; returns the
/// status and the JSON answer (Null if the answer is not JSON).
fn post_raw(agg: &Aggregators, url: &str, body: Vec<u8>) -> (u16, Value) {
    let (tx, rx) = mpsc::channel();
    let url = url.to_string();
    std::thread::spawn(move || {
        let r = reqwest::blocking::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .unwrap()
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .map(|r| {
                let status = r.status().as_u16();
                let v = r
                    .bytes()
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(Value::Null);
                (status, v)
            })
            .map_err(|e| e.to_string());
        let _ = tx.send(r);
    });
    let deadline = Instant::now() + CALL_TIMEOUT + Duration::from_secs(5);
    loop {
        match rx.try_recv() {
            Ok(r) => return r.unwrap_or_else(|e| panic!("POST failed: {e}")),
            Err(mpsc::TryRecvError::Empty) => {}
            Err(e) => panic!("the request thread died: {e}"),
        }
        assert!(Instant::now() < deadline, "no answer within the deadline");
        if !agg.tick() {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn post(agg: &Aggregators, url: &str, body: Value) -> (u16, Value) {
    post_raw(agg, url, serde_json::to_vec(&body).unwrap())
}

/// A command that must be recognized (200); returns its answer.
fn call(agg: &Aggregators, url: &str, body: Value) -> Value {
    let (status, v) = post(agg, url, body);
    assert_eq!(status, 200, "{url}: {v}");
    v
}

/// A command that must succeed; returns its answer.
fn ok(agg: &Aggregators, url: &str, body: Value) -> Value {
    let v = call(agg, url, body);
    assert_eq!(v["status"], "success", "{url}: {v}");
    v
}

/// Serves the aggregators for `d`.
fn serve_for(agg: &Aggregators, d: Duration) {
    let until = Instant::now() + d;
    agg.serve_until("a pause", |_| Instant::now() >= until);
}

/// The four roles of one test.
struct Roles {
    agg: Aggregators,
    client: Server,
    collector: Server,
}

impl Roles {
    fn start(name: &str) -> Roles {
        let agg = Aggregators::with_config(name, test_api_config());
        let cache = agg.dir.path("cache");
        let client = start_server("client", &cache);
        let collector = start_server("collector", &cache);
        let roles = Roles {
            agg,
            client,
            collector,
        };
        // The runner waits for every container's `ready`.
        for url in [
            roles.client.cmd("ready"),
            roles.collector.cmd("ready"),
            format!("{}internal/test/ready", roles.agg.leader_url),
            format!("{}internal/test/ready", roles.agg.helper_url),
        ] {
            assert_eq!(call(&roles.agg, &url, json!({})), json!({}), "{url}");
        }
        roles
    }

    /// The aggregator's DAP endpoint for a task, as the runner builds it.
    fn endpoint(&self, base: &str, task_id: &TaskId, role: &str) -> String {
        let v = ok(
            &self.agg,
            &format!("{base}internal/test/endpoint_for_task"),
            json!({"task_id": task_id.to_base64url(), "role": role, "hostname": "127.0.0.1"}),
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
}

/// A task set up on all four roles through the test API.
struct InteropTask {
    params: Value,
}

const COLLECTOR_TOKEN_I: &str = "interop-collector-token-s3cret";
const LEADER_TOKEN_I: &str = "interop-leader-token-s3cret";

fn setup_task(r: &Roles, vdaf: Value, batch_mode: u8, min_batch_size: u64) -> InteropTask {
    let task_id = TaskId::random();
    let leader = r.endpoint(&r.agg.leader_url, &task_id, "leader");
    let helper = r.endpoint(&r.agg.helper_url, &task_id, "helper");
    let common = json!({
        "task_id": task_id.to_base64url(),
        "leader": leader,
        "helper": helper,
        "vdaf": vdaf,
        "batch_mode": batch_mode,
        "min_batch_size": min_batch_size,
        "time_precision": 3600,
    });
    let mut c = common.clone();
    c["collector_authentication_token"] = json!(COLLECTOR_TOKEN_I);
    let v = ok(&r.agg, &r.collector.cmd("add_task"), c);
    let hpke = v["collector_hpke_config"].as_str().unwrap().to_string();
    let verify_key = base64url(&edap_core::rand::array::<32>());
    for (role, base) in [("leader", &r.agg.leader_url), ("helper", &r.agg.helper_url)] {
        let mut a = common.clone();
        a["role"] = json!(role);
        a["vdaf_verify_key"] = json!(verify_key);
        a["leader_authentication_token"] = json!(LEADER_TOKEN_I);
        a["collector_hpke_config"] = json!(hpke);
        if role == "leader" {
            a["collector_authentication_token"] = json!(COLLECTOR_TOKEN_I);
        }
        ok(&r.agg, &format!("{base}internal/test/add_task"), a);
    }
    InteropTask { params: common }
}

impl InteropTask {
    fn upload_body(&self, measurement: Value, time: u64) -> Value {
        let mut b = self.params.clone();
        b["measurement"] = measurement;
        b["time"] = json!(time);
        b
    }

    /// Starts a collection and polls it (bounded) until it completes.
    fn collect(&self, r: &Roles, query: Value) -> Value {
        let v = ok(
            &r.agg,
            &r.collector.cmd("collection_start"),
            json!({"task_id": self.params["task_id"], "agg_param": "", "query": query}),
        );
        let handle = v["handle"].as_str().unwrap().to_string();
        let deadline = Instant::now() + COLLECT_TIMEOUT;
        loop {
            let v = call(
                &r.agg,
                &r.collector.cmd("collection_poll"),
                json!({"handle": handle}),
            );
            match v["status"].as_str() {
                Some("complete") => {
                    // Polling again repeats the result.
                    let again = call(
                        &r.agg,
                        &r.collector.cmd("collection_poll"),
                        json!({"handle": handle}),
                    );
                    assert_eq!(again, v);
                    return v;
                }
                Some("in progress") => {}
                _ => panic!("collection_poll: {v}"),
            }
            assert!(
                Instant::now() < deadline,
                "the collection did not complete within {COLLECT_TIMEOUT:?}"
            );
            serve_for(&r.agg, Duration::from_millis(200));
        }
    }
}

/// Checks that neither role logged a token, and that every command got one log line.
fn check_logs(r: &Roles, commands: usize) {
    let logs = format!("{}{}", r.client.log(), r.collector.log());
    for secret in [COLLECTOR_TOKEN_I, LEADER_TOKEN_I] {
        assert!(!logs.contains(secret), "a token was logged: {logs}");
    }
    let lines = logs.lines().filter(|l| l.contains(" -> ")).count();
    assert!(
        lines >= commands,
        "{lines} log lines for {commands} commands: {logs}"
    );
}

#[test]
fn time_interval_histogram_through_the_test_api() {
    let r = Roles::start("interop-ti");
    let vdaf = json!({"type": "Prio3Histogram", "length": "4", "chunk_length": "2"});
    let task = setup_task(&r, vdaf, 1, 10);
    let t = bucket_start(3600);
    let mut expected = [0u64; 4];
    for i in 0..30u64 {
        let b = (i * 7 + i / 3) % 4;
        expected[b as usize] += 1;
        ok(
            &r.agg,
            &r.client.cmd("upload"),
            task.upload_body(json!(b.to_string()), t),
        );
    }
    let v = task.collect(
        &r,
        json!({"type": 1, "batch_interval_start": t, "batch_interval_duration": 3600}),
    );
    assert_eq!(
        v,
        json!({
            "status": "complete",
            "report_count": 30,
            "interval_start": t,
            "interval_duration": 3600,
            "result": expected.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        })
    );
    check_logs(&r, 30 + 2);
}

#[test]
fn leader_selected_sum_through_the_test_api() {
    let r = Roles::start("interop-ls");
    let vdaf = json!({"type": "Prio3Sum", "max_measurement": "255"});
    let task = setup_task(&r, vdaf, 2, 20);
    let t = bucket_start(3600);
    let values: Vec<u64> = (0..20).map(|i| (i * 41 + 3) % 256).collect();
    for v in &values {
        ok(
            &r.agg,
            &r.client.cmd("upload"),
            task.upload_body(json!(v.to_string()), t),
        );
    }
    let v = task.collect(&r, json!({"type": 2, "subtype": 1}));
    assert_eq!(v["status"], "complete");
    assert_eq!(v["report_count"], 20);
    assert_eq!(v["result"], json!(values.iter().sum::<u64>().to_string()));
    assert_eq!(v["interval_start"], json!(t));
    assert_eq!(v["interval_duration"], json!(3600));
    check_logs(&r, 20 + 2);
}

#[test]
fn test_api_errors() {
    let r = Roles::start("interop-errors");
    let agg = &r.agg;
    // Unknown commands, other methods and non-JSON bodies.
    for server in [&r.client, &r.collector] {
        assert_eq!(post(agg, &server.cmd("nope"), json!({})).0, 404);
        assert_eq!(
            post(agg, &format!("{}/other", server.url), json!({})).0,
            404
        );
        let (s, v) = post_raw(agg, &server.cmd("ready"), b"{not json".to_vec());
        assert_eq!(s, 400, "{v}");
        assert_eq!(v["status"], "error");
        let get = reqwest::blocking::get(server.cmd("ready")).unwrap();
        assert_eq!(get.status().as_u16(), 405);
    }
    assert_eq!(
        post_raw(agg, &r.client.cmd("upload"), b"[1]".to_vec()).0,
        400
    );

    let vdaf = json!({"type": "Prio3Count"});
    let task = setup_task(&r, vdaf, 1, 10);
    let t = bucket_start(3600);
    let err = |v: Value| -> String {
        assert_eq!(v["status"], "error", "{v}");
        v["error"].as_str().unwrap().to_string()
    };
    // Bad measurements never reach the Leader.
    let e = err(call(
        agg,
        &r.client.cmd("upload"),
        task.upload_body(json!("2"), t),
    ));
    assert!(e.contains("measurement"), "{e}");
    // A report the Leader refuses: the error names the ReportError.
    let future = now_secs() + 3 * 86_400;
    let e = err(call(
        agg,
        &r.client.cmd("upload"),
        task.upload_body(json!("1"), future),
    ));
    assert!(e.contains("report_too_early"), "{e}");
    // A task the Leader does not know.
    let mut unknown = task.upload_body(json!("1"), t);
    unknown["task_id"] = json!(TaskId::random().to_base64url());
    let e = err(call(agg, &r.client.cmd("upload"), unknown));
    assert!(e.contains("unrecognizedTask"), "{e}");
    // Missing DAP-18 fields.
    let mut old = task.upload_body(json!("1"), t);
    old.as_object_mut().unwrap().remove("batch_mode");
    let e = err(call(agg, &r.client.cmd("upload"), old));
    assert!(e.contains("batch_mode"), "{e}");

    // Collector: a non-empty aggregation parameter, a misaligned interval, an unknown task,
    // an unknown handle, an unsupported VDAF.
    let start = |query: Value, agg_param: &str, task_id: &Value| {
        err(call(
            agg,
            &r.collector.cmd("collection_start"),
            json!({"task_id": task_id, "agg_param": agg_param, "query": query}),
        ))
    };
    let ti = json!({"type": 1, "batch_interval_start": t, "batch_interval_duration": 3600});
    let id = task.params["task_id"].clone();
    assert!(start(ti.clone(), "AAE", &id).contains("agg_param"));
    let e = start(
        json!({"type": 1, "batch_interval_start": t + 1, "batch_interval_duration": 3600}),
        "",
        &id,
    );
    assert!(e.contains("time_precision"), "{e}");
    let e = start(ti.clone(), "", &json!(TaskId::random().to_base64url()));
    assert!(e.contains("add_task"), "{e}");
    let e = err(call(
        agg,
        &r.collector.cmd("collection_poll"),
        json!({"handle": "nope"}),
    ));
    assert!(e.contains("unknown handle"), "{e}");
    let mut bad = task.params.clone();
    bad["vdaf"] = json!({"type": "Poplar1", "bits": "8"});
    bad["collector_authentication_token"] = json!(COLLECTOR_TOKEN_I);
    let e = err(call(agg, &r.collector.cmd("add_task"), bad));
    assert!(e.contains("Poplar1"), "{e}");
    // Too few reports: the job stays in progress (the Leader does not release the batch).
    ok(
        agg,
        &r.client.cmd("upload"),
        task.upload_body(json!("1"), t),
    );
    let v = ok(
        agg,
        &r.collector.cmd("collection_start"),
        json!({"task_id": id, "agg_param": "", "query": ti}),
    );
    serve_for(agg, Duration::from_millis(1500));
    let v = call(
        agg,
        &r.collector.cmd("collection_poll"),
        json!({"handle": v["handle"]}),
    );
    assert_eq!(v, json!({"status": "in progress"}));
    check_logs(&r, 12);
}
