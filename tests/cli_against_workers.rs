//! The `edap` binary against the real workers: a Leader and a Helper under `wrangler dev`
//! (started by `edap-testkit`, the Helper behind its fault proxy), set up and used only
//! through the CLI: `hpke-keygen`, `task new`, `task provision`, `upload --file`,
//! `collect --json`. Needs the prebuilt worker (scripts/test builds it); builds `edap` itself
//! if needed (see `common`).

mod common;

use common::*;
use edap_testkit::{now_secs, Cluster, AGG_TOKEN, API_TOKEN, COLLECTOR_TOKEN};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const SCHEDULE: &str = r#"{"min_job_size": 20, "max_job_size": 500, "max_wait_secs": 1, "report_shards": 4, "bucket_shards": 2, "replay_shards": 4}"#;

/// The CLI set-up of one cluster: a scratch directory, the collector key and its public
/// config.
struct Setup<'a> {
    cluster: &'a Cluster,
    dir: TempDir,
    key: String,
    hpke_config: String,
}

impl<'a> Setup<'a> {
    fn new(cluster: &'a Cluster, name: &str) -> Setup<'a> {
        let dir = TempDir::new(name);
        let key = dir.s("collector.json");
        let out = edap(&dir.0.join("cache"), &["hpke-keygen", "--out", &key], &[]);
        let hpke_config = out.ok().trim().to_string();
        Setup {
            cluster,
            dir,
            key,
            hpke_config,
        }
    }

    fn edap(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        edap(&self.dir.0.join("cache"), args, env)
    }

    /// `edap task new` for this cluster (Leader's URL, the proxy's URL for the Helper);
    /// returns the task file and the task ID.
    fn task_new(&self, name: &str, extra: &[&str]) -> (String, String) {
        let file = self.dir.s(&format!("{name}.json"));
        let info = format!("cli-against-workers {} {name}", std::process::id());
        let mut args = vec![
            "task".to_string(),
            "new".into(),
            "--leader".into(),
            self.cluster.leader.url(),
            "--helper".into(),
            self.cluster.helper_url(),
            "--task-info".into(),
            info,
            "--out".into(),
            file.clone(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.edap(&args, &[]).ok();
        let f: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        (file, f["task_id"].as_str().unwrap().to_string())
    }

    /// `edap task provision` on both aggregators through their aggregator APIs: the
    /// Helper first (its generated token goes to a 0600 file), then the Leader with that
    /// token and the Helper's dialect from its `GET /api/`. Secrets only in the
    /// environment and in files.
    fn provision(&self, file: &str) {
        let verify_key = format!("{file}.vk");
        std::fs::write(
            &verify_key,
            edap_testkit::base64url(&edap_core::rand::array::<32>()),
        )
        .unwrap();
        let token = format!("{file}.helper-token");
        let helper_api = format!("{}api", self.cluster.helper.url());
        for (role, url) in [
            ("helper", helper_api.clone()),
            ("leader", format!("{}api", self.cluster.leader.url())),
        ] {
            let mut args = vec![
                "task",
                "provision",
                "--api-url",
                &url,
                "--role",
                role,
                "--task",
                file,
                "--verify-key-file",
                &verify_key,
                "--collector-hpke-config",
                &self.hpke_config,
                "--schedule",
                SCHEDULE,
            ];
            if role == "leader" {
                args.extend([
                    "--aggregator-token-file",
                    &token,
                    "--helper-api-url",
                    &helper_api,
                ]);
            } else {
                args.extend(["--token-out", &token]);
            }
            let out = self.edap(
                &args,
                &[
                    ("EDAP_API_TOKEN", API_TOKEN),
                    (
                        "EDAP_COLLECTOR_TOKEN",
                        if role == "leader" {
                            COLLECTOR_TOKEN
                        } else {
                            ""
                        },
                    ),
                ],
            );
            let v: Value = serde_json::from_str(out.ok()).unwrap();
            assert_eq!(
                v["role"].as_str().map(str::to_lowercase).as_deref(),
                Some(role),
                "{v}"
            );
            let generated = std::fs::read_to_string(&token).unwrap();
            for secret in [API_TOKEN, AGG_TOKEN, COLLECTOR_TOKEN, generated.trim()] {
                assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
            }
        }
    }

    /// The Leader's counters for a task (through the aggregator API).
    fn stats(&self, task_id: &str) -> BTreeMap<String, u64> {
        self.cluster
            .leader
            .counters(&edap_core::messages::TaskId::from_base64url(task_id).unwrap())
    }

    fn uploaded(&self, task_id: &str) -> u64 {
        self.stats(task_id).get("uploaded").copied().unwrap_or(0)
    }

    /// `edap collect --json` over the hour starting at `hour`.
    fn collect(&self, file: &str, key: &str, hour: u64) -> Out {
        let start = hour.to_string();
        self.edap(
            &[
                "collect",
                "--task",
                file,
                "--key",
                key,
                "--start",
                &start,
                "--duration",
                "3600",
                "--json",
                "--timeout",
                "240",
            ],
            &[("EDAP_COLLECTOR_TOKEN", COLLECTOR_TOKEN)],
        )
    }
}

/// Uploads `lines` (one measurement per line) from a file at time `t` and collects the
/// hour: exactly `expected`.
fn upload_and_collect(
    s: &Setup<'_>,
    name: &str,
    task_args: &[&str],
    lines: &[String],
    expected: Value,
) {
    let (file, id) = s.task_new(name, task_args);
    s.provision(&file);
    let t = now_secs();
    let hour = t / 3600 * 3600;
    let measurements = s.dir.s(&format!("{name}-measurements.txt"));
    write(&measurements, &(lines.join("\n") + "\n"));
    let ts = t.to_string();
    let out = s.edap(
        &[
            "upload",
            "--task",
            &file,
            "--file",
            &measurements,
            "--time",
            &ts,
        ],
        &[],
    );
    let n = lines.len();
    assert_eq!(out.ok(), format!("accepted: {n}\nrejected: 0\n"), "{name}");
    assert_eq!(s.uploaded(&id), n as u64, "{name}");
    let out = s.collect(&file, &s.key, hour);
    let v: Value = serde_json::from_str(out.ok().trim())
        .unwrap_or_else(|e| panic!("{name}: not one JSON object ({e}): {out:#?}"));
    assert_eq!(
        v,
        json!({
            "report_count": n,
            "interval": {"start": hour, "duration": 3600},
            "result": expected,
        }),
        "{name}"
    );
    // Each report was stored once.
    assert_eq!(s.uploaded(&id), n as u64, "{name}");
}

#[test]
fn cli_uploads_and_collects_histogram_sum_and_count() {
    let cluster = Cluster::start("cli");
    let s = Setup::new(&cluster, "cli-flow");

    let mut hist = [0u64; 5];
    let lines: Vec<String> = (0..1000u64)
        .map(|i| {
            let b = (i * i + 3 * i) % 7 % 5;
            hist[b as usize] += 1;
            b.to_string()
        })
        .collect();
    upload_and_collect(
        &s,
        "histogram",
        &[
            "--vdaf",
            "histogram",
            "--length",
            "5",
            "--min-batch-size",
            "100",
        ],
        &lines,
        json!(hist),
    );

    let values: Vec<u64> = (0..100).map(|i| (i * 37 + 11) % 1001).collect();
    upload_and_collect(
        &s,
        "sum",
        &[
            "--vdaf",
            "sum",
            "--max-measurement",
            "1000",
            "--min-batch-size",
            "10",
        ],
        &values.iter().map(u64::to_string).collect::<Vec<_>>(),
        json!(values.iter().sum::<u64>()),
    );

    let bits: Vec<u64> = (0..100).map(|i| u64::from(i % 3 == 0)).collect();
    upload_and_collect(
        &s,
        "count",
        &["--vdaf", "count", "--min-batch-size", "10"],
        &bits.iter().map(u64::to_string).collect::<Vec<_>>(),
        json!(bits.iter().sum::<u64>()),
    );
}

#[test]
fn cli_bad_input_against_the_real_leader() {
    let cluster = Cluster::start("clibad");
    let s = Setup::new(&cluster, "cli-bad");
    let (file, id) = s.task_new("count", &["--vdaf", "count", "--min-batch-size", "10"]);
    s.provision(&file);
    let t = now_secs();
    let ts = t.to_string();
    let hour = t / 3600 * 3600;
    let good = s.dir.s("good.txt");
    write(&good, &"1\n0\n1\n1\n".repeat(5));
    let out = s.edap(
        &["upload", "--task", &file, "--file", &good, "--time", &ts],
        &[],
    );
    assert_eq!(out.ok(), "accepted: 20\nrejected: 0\n");
    assert_eq!(s.uploaded(&id), 20);
    let secrets = [API_TOKEN, AGG_TOKEN, COLLECTOR_TOKEN];

    // A malformed line: nothing is sent.
    let bad = s.dir.s("bad.txt");
    write(&bad, "1\n0\nyes?\n1\n");
    let e = s
        .edap(&["upload", "--task", &file, "--file", &bad], &[])
        .error_line(&secrets);
    assert!(
        e.contains("bad.txt line 3") && e.contains("\"yes?\""),
        "{e}"
    );
    assert_eq!(s.uploaded(&id), 20);

    // A measurement out of range (a count is 0 or 1).
    let e = s
        .edap(&["upload", "--task", &file, "-m", "1", "-m", "2"], &[])
        .error_line(&secrets);
    assert!(e.contains("--measurement #2"), "{e}");
    assert_eq!(s.uploaded(&id), 20);

    // A task the Leader does not know (never provisioned).
    let (unknown, unknown_id) = s.task_new("unknown", &["--vdaf", "count"]);
    let e = s
        .edap(&["upload", "--task", &unknown, "-m", "1"], &[])
        .error_line(&secrets);
    assert!(
        e.contains("unrecognizedTask") && e.contains("upload to the Leader"),
        "{e}"
    );
    let r = cluster
        .leader
        .api("GET", &format!("/tasks/{unknown_id}/metrics/uploads"), None);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(s.uploaded(&id), 20);

    // An unreachable Leader: a closed port.
    let port = edap_testkit::free_port();
    let dead = s.dir.s("dead.json");
    let dead_url = format!("http://127.0.0.1:{port}/");
    s.edap(
        &[
            "task",
            "new",
            "--leader",
            &dead_url,
            "--helper",
            &cluster.helper_url(),
            "--vdaf",
            "count",
            "--out",
            &dead,
        ],
        &[],
    )
    .ok();
    let e = s
        .edap(&["upload", "--task", &dead, "-m", "1"], &[])
        .error_line(&secrets);
    assert!(
        e.contains("cannot reach") && e.contains(&dead_url) && e.contains("3 attempts"),
        "{e}"
    );

    // The wrong collector key: a clear message, no key material, the job kept; the right
    // key then gets exactly the 20 reports uploaded once.
    let other = s.dir.s("other.json");
    s.edap(&["hpke-keygen", "--out", &other], &[]).ok();
    let out = s.collect(&file, &other, hour);
    let other_sk: Value = serde_json::from_str(&std::fs::read_to_string(&other).unwrap()).unwrap();
    let other_sk = other_sk["private_key"].as_str().unwrap().to_string();
    let e = out.error_line(&[API_TOKEN, AGG_TOKEN, COLLECTOR_TOKEN, &other_sk]);
    assert!(
        e.contains("cannot decrypt") && e.contains("wrong collector key"),
        "{e}"
    );
    let out = s.collect(&file, &s.key, hour);
    let v: Value = serde_json::from_str(out.ok().trim()).unwrap();
    assert_eq!(
        v,
        json!({"report_count": 20, "interval": {"start": hour, "duration": 3600}, "result": 15})
    );
    assert_eq!(s.uploaded(&id), 20);
}
