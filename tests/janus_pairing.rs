//! Pairing with Janus, the most deployed DAP-18 implementation (prebuilt in
//! `../shared/peers/janus`): every pairing of its Client, Collector, Leader and Helper with
//! ours, driven through the interop test API of each participant, with exact results for
//! every VDAF Janus supports and both batch modes.
//!
//! | Client | Collector | Leader | Helper |
//! |---|---|---|---|
//! | Janus | Janus (PUT collection jobs) | ours | ours |
//! | Janus | Janus | Janus (PUT aggregation jobs and aggregate shares) | ours |
//! | Janus | Janus | ours (speaks PUT to it) | Janus |
//! | ours | ours (falls back to PUT) | Janus | Janus |

mod common;

use common::*;
use edap_core::messages::TaskId;
use edap_testkit::janus::{self, JanusAggregator, JanusInterop};
use edap_testkit::{now_secs, Cluster};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const COLLECT_TIMEOUT: Duration = Duration::from_secs(180);
const COLLECTOR_TOKEN_J: &str = "janus-pairing-collector-token";
const LEADER_TOKEN_J: &str = "janus-pairing-leader-token";

fn post(port: u16, command: &str, body: &Value) -> Value {
    let r = edap_testkit::http::request(
        port,
        "POST",
        &format!("/internal/test/{command}"),
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    )
    .unwrap_or_else(|e| panic!("{command} on port {port}: {e}"));
    assert_eq!(r.status, 200, "{command} on port {port}: {}", r.text());
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

fn ok(port: u16, command: &str, body: &Value) -> Value {
    let v = post(port, command, body);
    assert_eq!(v["status"], "success", "{command} on port {port}: {v}");
    v
}

/// An aggregator as the other participants see it: its test-API port and DAP URL.
#[derive(Clone)]
struct Aggregator {
    port: u16,
    url: String,
}

struct Roles {
    client: u16,
    collector: u16,
    leader: Aggregator,
    helper: Aggregator,
}

impl Roles {
    /// Sets a task up on all four participants; returns the Client's parameters.
    fn add_task(&self, vdaf: &Value, batch_mode: u8) -> Value {
        let task_id = TaskId::random();
        let common = json!({
            "task_id": task_id.to_base64url(),
            "leader": self.leader.url,
            "helper": self.helper.url,
            "vdaf": vdaf,
            "batch_mode": batch_mode,
            "min_batch_size": 10,
            "time_precision": 3600,
        });
        let mut body = common.clone();
        body["collector_authentication_token"] = json!(COLLECTOR_TOKEN_J);
        let v = ok(self.collector, "add_task", &body);
        let hpke = v["collector_hpke_config"].as_str().unwrap().to_string();
        let verify_key = edap_core::messages::base64url(&edap_core::rand::array::<32>());
        for (role, port) in [("leader", self.leader.port), ("helper", self.helper.port)] {
            let mut body = common.clone();
            body["role"] = json!(role);
            body["vdaf_verify_key"] = json!(verify_key);
            body["leader_authentication_token"] = json!(LEADER_TOKEN_J);
            body["collector_hpke_config"] = json!(hpke);
            if role == "leader" {
                body["collector_authentication_token"] = json!(COLLECTOR_TOKEN_J);
            }
            ok(port, "add_task", &body);
        }
        common
    }

    fn upload(&self, task: &Value, measurement: Value, time: u64) {
        let mut body = task.clone();
        body["measurement"] = measurement;
        body["time"] = json!(time);
        ok(self.client, "upload", &body);
    }

    /// Starts a collection (retrying while the Leader says no batch is ready yet) and polls
    /// it, bounded, until it completes.
    fn collect(&self, task: &Value, query: Value) -> Value {
        let deadline = Instant::now() + COLLECT_TIMEOUT;
        let start = json!({"task_id": task["task_id"], "agg_param": "", "query": query});
        let handle = loop {
            let v = post(self.collector, "collection_start", &start);
            if v["status"] == "success" {
                break json!({"handle": v["handle"]});
            }
            assert!(Instant::now() < deadline, "collection_start: {v}");
            std::thread::sleep(Duration::from_millis(500));
        };
        loop {
            let v = post(self.collector, "collection_poll", &handle);
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
}

/// A VDAF, its measurements (as the interop API spells them) and the expected result.
struct Case {
    vdaf: Value,
    batch_mode: u8,
    measurements: Vec<Value>,
    expected: Value,
}

fn cases() -> Vec<Case> {
    let strings = |v: &[u64]| json!(v.iter().map(u64::to_string).collect::<Vec<_>>());
    let mut out = Vec::new();
    for batch_mode in [1u8, 2] {
        // Leader-selected batches hold min_batch_size (10) reports: upload exactly that.
        let n = if batch_mode == 1 { 12u64 } else { 10 };
        let count: Vec<u64> = (0..n).map(|i| u64::from(i % 3 == 0)).collect();
        out.push(Case {
            vdaf: json!({"type": "Prio3Count"}),
            batch_mode,
            measurements: count.iter().map(|c| json!(c.to_string())).collect(),
            expected: json!(count.iter().sum::<u64>().to_string()),
        });
        let hist: Vec<u64> = (0..n).map(|i| (i * 7) % 4).collect();
        let mut buckets = [0u64; 4];
        for b in &hist {
            buckets[*b as usize] += 1;
        }
        out.push(Case {
            vdaf: json!({"type": "Prio3Histogram", "length": "4", "chunk_length": "2"}),
            batch_mode,
            measurements: hist.iter().map(|b| json!(b.to_string())).collect(),
            expected: strings(&buckets),
        });
        if batch_mode == 1 {
            let sums: Vec<u64> = (0..n).map(|i| (i * 37) % 256).collect();
            out.push(Case {
                vdaf: json!({"type": "Prio3Sum", "max_measurement": "255"}),
                batch_mode,
                measurements: sums.iter().map(|s| json!(s.to_string())).collect(),
                expected: json!(sums.iter().sum::<u64>().to_string()),
            });
            let vecs: Vec<[u64; 3]> = (0..n).map(|i| [i % 4, 3, (i * 5) % 16]).collect();
            let mut total = [0u64; 3];
            for v in &vecs {
                for (t, x) in total.iter_mut().zip(v) {
                    *t += x;
                }
            }
            out.push(Case {
                vdaf: json!({"type": "Prio3SumVec", "max_measurement": "15", "length": "3", "chunk_length": "2"}),
                batch_mode,
                measurements: vecs.iter().map(|v| strings(v)).collect(),
                expected: strings(&total),
            });
        }
    }
    out
}

/// Runs every case through `roles`: all tasks first, then all uploads, then collections.
fn run_all(roles: &Roles, label: &str) {
    let t = now_secs();
    let hour = t / 3600 * 3600;
    let cases = cases();
    let tasks: Vec<Value> = cases
        .iter()
        .map(|c| roles.add_task(&c.vdaf, c.batch_mode))
        .collect();
    for (c, task) in cases.iter().zip(&tasks) {
        for m in &c.measurements {
            roles.upload(task, m.clone(), t);
        }
    }
    for (c, task) in cases.iter().zip(&tasks) {
        let query = match c.batch_mode {
            1 => json!({"type": 1, "batch_interval_start": hour, "batch_interval_duration": 3600}),
            _ => json!({"type": 2, "subtype": 1}),
        };
        let v = roles.collect(task, query);
        let what = format!("{label}: {} mode {}", c.vdaf, c.batch_mode);
        assert_eq!(
            v["report_count"],
            json!(c.measurements.len()),
            "{what}: {v}"
        );
        assert_eq!(v["result"], c.expected, "{what}: {v}");
        assert_eq!(v["interval_start"], json!(hour), "{what}: {v}");
    }
}

fn ours(cluster: &Cluster) -> (Aggregator, Aggregator) {
    (
        Aggregator {
            port: cluster.leader.port,
            url: cluster.leader.url(),
        },
        Aggregator {
            port: cluster.helper.port,
            url: cluster.helper_url(),
        },
    )
}

fn theirs(j: &JanusAggregator) -> Aggregator {
    Aggregator {
        port: j.port,
        url: j.url(),
    }
}

#[test]
fn janus_client_and_collector_with_our_leader_and_helper() {
    if !janus::enabled() {
        return;
    }
    let cluster = Cluster::start("janus-cc");
    let client = JanusInterop::start("janus_interop_client");
    let collector = JanusInterop::start("janus_interop_collector");
    let (leader, helper) = ours(&cluster);
    let roles = Roles {
        client: client.port,
        collector: collector.port,
        leader,
        helper,
    };
    run_all(&roles, "Janus client and collector, our aggregators");
    let logs = format!("{}{}", cluster.leader.log(), cluster.helper.log());
    for secret in [COLLECTOR_TOKEN_J, LEADER_TOKEN_J] {
        assert!(!logs.contains(secret), "a token reached a log");
    }
}

#[test]
fn janus_leader_with_our_helper() {
    if !janus::enabled() {
        return;
    }
    let cluster = Cluster::start("janus-jl");
    let janus_leader = JanusAggregator::start("leader");
    let client = JanusInterop::start("janus_interop_client");
    let collector = JanusInterop::start("janus_interop_collector");
    let (_, helper) = ours(&cluster);
    let roles = Roles {
        client: client.port,
        collector: collector.port,
        leader: theirs(&janus_leader),
        helper,
    };
    run_all(&roles, "Janus Leader, our Helper");
    // Janus created every job and share with PUT: our Helper served them.
    let log = cluster.helper.log();
    assert!(log.contains("PUT /tasks/"), "{log}");
}

#[test]
fn our_leader_with_janus_helper() {
    if !janus::enabled() {
        return;
    }
    let cluster = Cluster::start("janus-jh");
    let janus_helper = JanusAggregator::start("helper");
    let client = JanusInterop::start("janus_interop_client");
    let collector = JanusInterop::start("janus_interop_collector");
    let (leader, _) = ours(&cluster);
    let roles = Roles {
        client: client.port,
        collector: collector.port,
        leader,
        helper: theirs(&janus_helper),
    };
    run_all(&roles, "our Leader, Janus Helper");
}

#[test]
fn our_client_and_collector_with_janus_leader_and_helper() {
    if !janus::enabled() {
        return;
    }
    let dir = TempDir::new("janus-ours");
    let cache = dir.0.join("cache");
    let client = InteropServer::start(edap_bin(), "client", &cache);
    let collector = InteropServer::start(edap_bin(), "collector", &cache);
    let janus_leader = JanusAggregator::start("l2");
    let janus_helper = JanusAggregator::start("h2");
    let roles = Roles {
        client: client.port,
        collector: collector.port,
        leader: theirs(&janus_leader),
        helper: theirs(&janus_helper),
    };
    run_all(&roles, "our client and collector, Janus aggregators");
}
