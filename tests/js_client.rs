//! The JavaScript package `@edap/dap` (clients/js) against the real workers: a Leader and a
//! Helper under `wrangler dev` (edap-testkit), one task per VDAF x batch mode x collector
//! (the JS Collector in Node, `edap collect`, and the JS Collector in headless Chromium),
//! two for the package inside a Worker of its own (clients/js/test/worker, under a third
//! `wrangler dev` that the JS test starts), and one for the wrong-key check. Their parameters go to a JSON file, and Node's test
//! runner runs clients/js/test/*.test.mjs with its path in `EDAP_JS_TEST_PARAMS`; this test
//! passes when that run exits 0.
//!
//! Needs the prebuilt worker and the built package (scripts/test builds both:
//! `worker-build --release`, `clients/js/build.sh`), Node >= 20, and for the browser test
//! Debian's chromium (scripts/setup installs it). The Node run is bounded in time and
//! stopped by process group, Chromium with it.

mod common;

use common::{edap_bin, TempDir};
use edap_core::messages::{base64url, BatchMode, VdafConfig};
use edap_testkit::{schedule, Cluster, COLLECTOR_TOKEN};
use prio::codec::Encode;
use prio::vdaf::prio3::optimal_chunk_length;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Every report of a test batch; tasks are provisioned with this `min_batch_size`.
const BATCH: u64 = 5;
/// Longest the whole Node run may take.
const NODE_TIMEOUT: Duration = Duration::from_secs(600);

fn package_dir() -> PathBuf {
    edap_testkit::root().join("clients/js")
}

fn chunk(len: u64) -> u32 {
    optimal_chunk_length(len as usize) as u32
}

/// The five VDAFs: the core's configuration and the same one in the package's terms.
fn vdafs() -> Vec<(&'static str, VdafConfig, Value)> {
    vec![
        ("count", VdafConfig::Prio3Count, json!({"type": "count"})),
        (
            "sum",
            VdafConfig::Prio3Sum {
                max_measurement: 100,
            },
            json!({"type": "sum", "maxMeasurement": 100}),
        ),
        (
            "sumvec",
            VdafConfig::Prio3SumVec {
                length: 3,
                max_measurement: 7,
                chunk_length: chunk(3 * 3),
            },
            json!({"type": "sumvec", "length": 3, "maxMeasurement": 7, "chunkLength": chunk(9)}),
        ),
        (
            "histogram",
            VdafConfig::Prio3Histogram {
                length: 5,
                chunk_length: chunk(5),
            },
            json!({"type": "histogram", "length": 5, "chunkLength": chunk(5)}),
        ),
        (
            "multihot",
            VdafConfig::Prio3MultihotCountVec {
                length: 4,
                chunk_length: chunk(4 + 2),
                max_weight: 2,
            },
            json!({"type": "multihot", "length": 4, "maxWeight": 2, "chunkLength": chunk(6)}),
        ),
    ]
}

/// Provisions one task and writes its task file and collector key file for `edap collect`.
fn provision(
    cluster: &Cluster,
    dir: &TempDir,
    name: &str,
    group: &str,
    (vdaf_name, vdaf, js_vdaf): &(&str, VdafConfig, Value),
    mode: BatchMode,
) -> Value {
    let t = cluster.task_with(*vdaf, mode, schedule(), BATCH, None);
    let encoded = base64url(&t.config.get_encoded().unwrap());
    let task_file = dir.s(&format!("{name}.task.json"));
    std::fs::write(
        &task_file,
        serde_json::to_string_pretty(&json!({
            "task_id": t.task_id.to_base64url(),
            "task_config": encoded,
        }))
        .unwrap(),
    )
    .unwrap();
    // Exactly what `edap hpke-keygen` writes.
    let key_file = dir.s(&format!("{name}.key.json"));
    let mut key = serde_json::to_string_pretty(&t.collector_key).unwrap();
    key.push('\n');
    std::fs::write(&key_file, key).unwrap();
    json!({
        "name": name,
        "group": group,
        "vdafName": vdaf_name,
        "id": t.task_id.to_base64url(),
        "encodedConfig": encoded,
        "params": {
            "leader": t.config.leader_endpoint,
            "helper": t.config.helper_endpoint,
            "vdaf": js_vdaf,
            "timePrecisionSeconds": t.config.time_precision,
            "minBatchSize": t.config.min_batch_size,
            "batchMode": mode.as_str(),
            "taskInfo": String::from_utf8_lossy(&t.config.task_info),
        },
        "taskFile": task_file,
        "keyFile": key_file,
    })
}

/// Runs `node --test` on the package's tests, bounded by [`NODE_TIMEOUT`]; the whole
/// process group (Node, its test files, Chromium) is killed when the time runs out.
fn run_node(params: &Path, log: &Path) -> (bool, String) {
    let mut tests: Vec<PathBuf> = std::fs::read_dir(package_dir().join("test"))
        .expect("clients/js/test")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    tests.sort();
    assert!(!tests.is_empty(), "no clients/js/test/*.test.mjs");
    let status = edap_testkit::node::run_tests(
        &package_dir(),
        &tests,
        &[("EDAP_JS_TEST_PARAMS", params)],
        log,
        NODE_TIMEOUT,
    );
    kill_leftover_groups(params.parent().expect("the scratch directory"));
    let text = std::fs::read_to_string(log).unwrap_or_default();
    match status {
        Some(s) => (s.success(), text),
        None => (
            false,
            format!("{text}\nnode --test did not finish within {NODE_TIMEOUT:?}"),
        ),
    }
}

/// Kills the process groups the JS tests recorded as `*.pgid` files in `dir` (servers they
/// start in groups of their own, such as `wrangler dev`), in case a test process died before
/// stopping them. Groups already gone are ignored.
fn kill_leftover_groups(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("pgid") {
            continue;
        }
        if let Some(pgid) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
            .filter(|p| *p > 1)
        {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[test]
fn js_package_against_workers() {
    assert!(
        package_dir().join("dist/entry/node.js").exists(),
        "the JS package is not built: run clients/js/build.sh (scripts/test does)"
    );
    let edap = edap_bin().to_path_buf();
    let cluster = Cluster::start("js");
    let dir = TempDir::new("js-client");
    let mut tasks = Vec::new();
    for v in vdafs() {
        for mode in [BatchMode::TimeInterval, BatchMode::LeaderSelected] {
            for group in ["node-js", "node-cli", "browser"] {
                let name = format!("{}-{}-{group}", v.0, mode.as_str());
                tasks.push(provision(&cluster, &dir, &name, group, &v, mode));
            }
        }
    }
    let all = vdafs();
    let count = &all[0];
    // The package inside a Cloudflare Worker (workerd), one task per batch mode.
    for (v, mode) in [
        (count, BatchMode::TimeInterval),
        (&all[4], BatchMode::LeaderSelected),
    ] {
        let name = format!("{}-{}-worker", v.0, mode.as_str());
        tasks.push(provision(&cluster, &dir, &name, "worker", v, mode));
    }
    tasks.push(provision(
        &cluster,
        &dir,
        "wrong-key",
        "wrong-key",
        count,
        BatchMode::TimeInterval,
    ));
    let params = json!({
        "leader": cluster.leader.url(),
        "helper": cluster.helper_url(),
        "collectorToken": COLLECTOR_TOKEN,
        "edap": edap,
        "scratch": dir.0,
        "batch": BATCH,
        "tasks": tasks,
    });
    let params_file = dir.path("params.json");
    std::fs::write(&params_file, serde_json::to_string_pretty(&params).unwrap()).unwrap();
    let (ok, output) = run_node(&params_file, &dir.path("node.log"));
    println!("{output}");
    assert!(ok, "node --test clients/js/test failed (output above)");
}
