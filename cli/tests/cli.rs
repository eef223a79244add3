//! The `edap` binary against an in-memory Leader and Helper served over loopback HTTP.

mod support;

use edap_core::api::provision::TaskConfigSpec;
use edap_core::messages::{from_base64url, HpkeConfig, TaskConfiguration, VdafConfig};
use edap_core::task::derive_task_id;
use prio::codec::Decode;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use support::*;

fn task_new(agg: &Aggregators, file: &str, extra: &[&str]) {
    let mut args = vec![
        "task",
        "new",
        "--leader",
        &agg.leader_url,
        "--helper",
        &agg.helper_url,
        "--out",
        file,
    ];
    args.extend_from_slice(extra);
    let out = agg.edap(&args);
    out.ok();
}

fn collect_json(agg: &Aggregators, task: &str, key: &str, query: &[&str]) -> Value {
    let mut args = vec![
        "collect",
        "--task",
        task,
        "--key",
        key,
        "--json",
        "--timeout",
        "50",
    ];
    args.extend_from_slice(query);
    let out = agg.edap_with(
        &args,
        RunOpts {
            env: vec![("EDAP_COLLECTOR_TOKEN", COLLECTOR_TOKEN)],
            ..Default::default()
        },
    );
    serde_json::from_str(out.ok().trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {out:#?}"))
}

#[test]
fn keygen_writes_a_private_file_and_prints_the_config() {
    let dir = temp_dir("keygen");
    let cache = dir.path("cache");
    let path = dir.s("collector.json");
    let out = edap(
        &cache,
        &["hpke-keygen", "--out", &path, "--id", "7", "--kem", "p256"],
    );
    let printed = out.ok().trim().to_string();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let config = HpkeConfig::get_decoded(&from_base64url(&printed).unwrap()).unwrap();
    assert_eq!(config.id.0, 7);
    assert_eq!(config.kem_id.0, 0x0010);
    let kp: edap_core::hpke::HpkeKeypair =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(kp.config, config);
    // The private key is in the file, never on stdout or stderr.
    let sk = edap_core::messages::base64url(kp.private_key());
    assert!(!out.stdout.contains(&sk) && !out.stderr.contains(&sk));

    // No silent overwrite; --force replaces the file, still 0600.
    let again = edap(&cache, &["hpke-keygen", "--out", &path]);
    assert!(
        again.error_line(SECRETS).contains("already exists"),
        "{again:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        serde_json::to_string_pretty(&kp).unwrap() + "\n"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    edap(&cache, &["hpke-keygen", "--out", &path, "--force"]).ok();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn task_new_and_show_round_trip() {
    let dir = temp_dir("tasknew");
    let cache = dir.path("cache");
    let file = dir.s("task.json");
    edap(
        &cache,
        &[
            "task",
            "new",
            "--leader",
            "https://leader.example/",
            "--helper",
            "https://helper.example/dap/",
            "--vdaf",
            "sumvec",
            "--length",
            "10",
            "--max-measurement",
            "255",
            "--batch-mode",
            "leader_selected",
            "--time-precision",
            "600",
            "--min-batch-size",
            "20",
            "--task-start",
            "1700000000",
            "--task-end",
            "1800000000",
            "--task-info",
            "round trip",
            "--out",
            &file,
        ],
    )
    .ok();
    let f: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let config = TaskConfiguration::get_decoded(
        &from_base64url(f["task_config"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let id = derive_task_id(&config).unwrap();
    assert_eq!(f["task_id"], id.to_base64url());
    let chunk = prio::vdaf::prio3::optimal_chunk_length(10 * 8) as u32;
    assert_eq!(
        config.vdaf,
        VdafConfig::Prio3SumVec {
            length: 10,
            max_measurement: 255,
            chunk_length: chunk
        }
    );
    assert_eq!(config.leader_endpoint, "https://leader.example/");
    assert_eq!(config.helper_endpoint, "https://helper.example/dap/");
    assert_eq!((config.time_precision, config.min_batch_size), (600, 20));
    assert_eq!(config.task_info, b"round trip");
    let spec = TaskConfigSpec::from_config(&config);
    assert_eq!(spec.batch_mode, "leader_selected");
    assert_eq!(
        (spec.task_start, spec.task_end),
        (Some(1_699_999_800), Some(1_800_000_000))
    );
    assert_eq!(serde_json::to_value(&spec).unwrap(), f["config"]);

    // show, from the file and from the bare configuration, names every field and the ID.
    let shown = edap(&cache, &["task", "show", &file]).ok().to_string();
    let by_config = edap(
        &cache,
        &[
            "task",
            "show",
            "--config",
            f["task_config"].as_str().unwrap(),
        ],
    );
    assert_eq!(by_config.ok(), shown);
    let row = |name: &str| {
        shown
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| panic!("no {name} in {shown}"))
    };
    assert_eq!(row("task_id"), id.to_base64url());
    assert_eq!(row("task_info"), "\"round trip\"");
    assert_eq!(row("leader_endpoint"), "https://leader.example/");
    assert_eq!(row("helper_endpoint"), "https://helper.example/dap/");
    assert_eq!(row("time_precision"), "600 s (10m)");
    assert_eq!(row("min_batch_size"), "20");
    assert_eq!(row("batch_mode"), "leader_selected");
    assert_eq!(
        row("vdaf"),
        format!("Prio3SumVec (length 10, max_measurement 255, chunk_length {chunk})")
    );
    assert_eq!(row("task_start"), "1699999800 (2023-11-14T22:10:00Z)");
    assert_eq!(row("task_end"), "1800000000 (2027-01-15T08:00:00Z)");
    assert_eq!(row("task_config"), f["task_config"].as_str().unwrap());
    let json = edap(&cache, &["task", "show", "--json", &file])
        .ok()
        .to_string();
    assert_eq!(json, std::fs::read_to_string(&file).unwrap());

    // --from-json with the same fields gives the same bytes and ID.
    let spec_file = dir.s("spec.json");
    std::fs::write(&spec_file, serde_json::to_string(&spec).unwrap()).unwrap();
    let from_json = edap(&cache, &["task", "new", "--from-json", &spec_file]);
    let g: Value = serde_json::from_str(from_json.ok()).unwrap();
    assert_eq!(g, f);

    // A tampered file is refused.
    let mut bad = f.clone();
    bad["task_id"] = json!(edap_core::messages::TaskId([1; 32]).to_base64url());
    let bad_file = dir.s("bad.json");
    std::fs::write(&bad_file, bad.to_string()).unwrap();
    let e = edap(&cache, &["task", "show", &bad_file]).error_line(SECRETS);
    assert!(e.contains("does not match"), "{e}");
    // Flags that do not fit the VDAF are refused.
    let e = edap(
        &cache,
        &[
            "task",
            "new",
            "--leader",
            "https://l/",
            "--helper",
            "https://h/",
            "--vdaf",
            "histogram",
        ],
    )
    .error_line(SECRETS);
    assert!(e.contains("--vdaf histogram needs --length"), "{e}");
}

#[test]
fn histogram_upload_then_collect() {
    let agg = Aggregators::new("histogram");
    let task = agg.path("task.json");
    let key = agg.path("collector.json");
    let kp = keygen(&agg.dir.path("cache"), &key, &[]);
    task_new(
        &agg,
        &task,
        &[
            "--vdaf",
            "histogram",
            "--length",
            "5",
            "--min-batch-size",
            "10",
        ],
    );
    let id = agg.provision(&task, &kp);
    agg.advertise_p256();

    let mut expected = [0u64; 5];
    let mut lines = String::new();
    for i in 0..1000u64 {
        let b = (i * i + 3 * i) % 7 % 5;
        expected[b as usize] += 1;
        lines.push_str(&format!("{b}\n"));
    }
    let file = agg.path("measurements.txt");
    std::fs::write(&file, lines).unwrap();
    let t = bucket_start(3600);
    let ts = t.to_string();
    let out = agg.edap(&["upload", "--task", &task, "--file", &file, "--time", &ts]);
    assert_eq!(out.ok(), "accepted: 1000\nrejected: 0\n");
    assert_eq!(agg.served_count("/reports"), 10);
    assert_eq!(agg.stats(&id).get("uploaded"), Some(&1000));

    let v = collect_json(
        &agg,
        &task,
        &key,
        &["--start", &ts, "--duration", "3600", "--keep"],
    );
    assert_eq!(
        v,
        json!({
            "report_count": 1000,
            "interval": {"start": t, "duration": 3600},
            "result": expected,
        })
    );
    // The job was kept: the same query finds it again; the table shows it, then it is
    // deleted.
    let out = agg.edap_with(
        &[
            "collect",
            "--task",
            &task,
            "--key",
            &key,
            "--start",
            &ts,
            "--duration",
            "3600",
        ],
        RunOpts {
            env: vec![("EDAP_COLLECTOR_TOKEN", COLLECTOR_TOKEN)],
            ..Default::default()
        },
    );
    let text = out.ok();
    assert!(text.contains("reports:   1000"), "{text}");
    assert!(
        text.contains(&format!("interval:  {}", rfc3339_via_show(t))),
        "{text}"
    );
    let max = *expected.iter().max().unwrap();
    for (i, n) in expected.iter().enumerate() {
        let line = text
            .lines()
            .find(|l| {
                l.split_whitespace().take(2).collect::<Vec<_>>() == [i.to_string(), n.to_string()]
            })
            .unwrap_or_else(|| panic!("no row for bucket {i} in {text}"));
        assert!(line.len() <= 60, "wider than COLUMNS: {line:?}");
        if *n == max {
            assert!(line.ends_with('#'), "{line}");
        }
    }
    assert_eq!(
        agg.served
            .borrow()
            .iter()
            .filter(|(m, _)| m == "DELETE")
            .count(),
        1
    );
}

/// The RFC 3339 form of `t`, as `task show` prints a task start (cross-checks the two).
fn rfc3339_via_show(t: u64) -> String {
    let dir = temp_dir(&format!("rfc{t}"));
    let out = edap(
        &dir.path("cache"),
        &[
            "task",
            "new",
            "--leader",
            "https://l/",
            "--helper",
            "https://h/",
            "--vdaf",
            "count",
            "--task-start",
            &t.to_string(),
            "--task-end",
            &(t + 3600).to_string(),
        ],
    );
    let f: Value = serde_json::from_str(out.ok()).unwrap();
    let shown = edap(
        &dir.path("cache"),
        &[
            "task",
            "show",
            "--config",
            f["task_config"].as_str().unwrap(),
        ],
    );
    let line = shown
        .ok()
        .lines()
        .find(|l| l.starts_with("task_start"))
        .unwrap()
        .to_string();
    line.split('(')
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .to_string()
}

#[test]
fn sum_from_stdin_json_then_collect() {
    let agg = Aggregators::new("sum");
    let task = agg.path("task.json");
    let key = agg.path("collector.json");
    let cache = agg.dir.path("cache");
    let kp = keygen(&cache, &key, &[]);
    task_new(
        &agg,
        &task,
        &[
            "--vdaf",
            "sum",
            "--max-measurement",
            "1000",
            "--min-batch-size",
            "10",
        ],
    );
    // Provision through `edap task provision` (over HTTP) this time: the Helper first,
    // whose generated token goes to a 0600 file, then the Leader with that token and the
    // Helper's dialect read from its aggregator API. No secret on the command line.
    let cfg =
        edap_core::messages::base64url(&prio::codec::Encode::get_encoded(&kp.config).unwrap());
    let vk_file = agg.path("verify.key");
    std::fs::write(&vk_file, edap_core::messages::base64url(&[9u8; 32])).unwrap();
    let token_file = agg.path("helper-token");
    let helper_api = format!("{}api", agg.helper_url);
    let leader_api = format!("{}api", agg.leader_url);
    let common = |api: &str, role: &str| -> Vec<String> {
        [
            "task",
            "provision",
            "--api-url",
            api,
            "--role",
            role,
            "--task",
            &task,
            "--verify-key-file",
            &vk_file,
            "--collector-hpke-config",
            &cfg,
            "--schedule",
            r#"{"min_job_size": 1, "max_wait_secs": 1, "report_shards": 2}"#,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut args = common(&helper_api, "helper");
    args.extend(["--token-out".to_string(), token_file.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = agg.edap_with(
        &args,
        RunOpts {
            env: vec![("EDAP_API_TOKEN", API_TOKEN)],
            ..Default::default()
        },
    );
    let v: Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(v["role"], "Helper");
    assert_eq!(
        v["aggregator_auth_token"],
        Value::Null,
        "written to the file instead"
    );
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(token.len(), 43, "32 random bytes, base64url");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let mut args = common(&leader_api, "leader");
    args.extend([
        "--aggregator-token-file".to_string(),
        token_file.clone(),
        "--helper-api-url".to_string(),
        helper_api.clone(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = agg.edap_with(
        &args,
        RunOpts {
            env: vec![
                ("EDAP_API_TOKEN", API_TOKEN),
                ("EDAP_COLLECTOR_TOKEN", COLLECTOR_TOKEN),
            ],
            ..Default::default()
        },
    );
    let v: Value = serde_json::from_str(out.ok()).unwrap();
    assert_eq!(v["role"], "Leader");
    assert_eq!(v["helper_dialect"], "post", "from the Helper's features");
    for secret in [COLLECTOR_TOKEN, API_TOKEN, token.as_str()] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    }
    // Provisioning the Helper again is idempotent; it has no token to give any more.
    let args = common(&helper_api, "helper");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let again = agg.edap_with(
        &args,
        RunOpts {
            env: vec![("EDAP_API_TOKEN", API_TOKEN)],
            ..Default::default()
        },
    );
    assert!(
        again.stderr.contains("already had this task"),
        "{}",
        again.stderr
    );
    // A wrong API token: a one-line error without the token.
    let out = agg.edap_with(
        &args,
        RunOpts {
            env: vec![("EDAP_API_TOKEN", "wrong-api-token")],
            ..Default::default()
        },
    );
    let e = out.error_line(&["wrong-api-token"]);
    assert!(e.contains("401") || e.contains("Unauthorized"), "{e}");
    let values: Vec<u64> = (0..50).map(|i| (i * 37) % 1001).collect();
    let stdin = serde_json::to_string(
        &values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if i % 2 == 0 {
                    json!(v)
                } else {
                    json!(v.to_string())
                }
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let t = bucket_start(3600);
    let ts = t.to_string();
    let out = agg.edap_with(
        &[
            "upload", "--task", &task, "--stdin", "--time", &ts, "--batch", "20",
        ],
        RunOpts {
            stdin: Some(stdin.as_bytes()),
            ..Default::default()
        },
    );
    assert_eq!(out.ok(), "accepted: 50\nrejected: 0\n");
    assert_eq!(agg.served_count("/reports"), 3);
    assert_eq!(agg.served_count("/hpke_config"), 2);
    // An interval that is not aligned to the time precision is refused, not widened.
    let out = agg.edap_with(
        &[
            "collect",
            "--task",
            &task,
            "--key",
            &key,
            "--start",
            &ts,
            "--duration",
            "1",
        ],
        RunOpts {
            env: vec![("EDAP_COLLECTOR_TOKEN", COLLECTOR_TOKEN)],
            ..Default::default()
        },
    );
    let line = out.error_line(&[]);
    assert!(line.contains("--duration 1 is not a multiple"), "{line}");
    let v = collect_json(&agg, &task, &key, &["--start", &ts, "--duration", "3600"]);
    assert_eq!(v["report_count"], 50);
    assert_eq!(v["result"], values.iter().sum::<u64>());
    assert_eq!(v["interval"], json!({"start": t, "duration": 3600}));
}

#[test]
fn count_leader_selected_with_refreshed_configs() {
    let agg = Aggregators::new("count");
    let task = agg.path("task.json");
    let key = agg.path("collector.json");
    let cache = agg.dir.path("cache");
    let kp = keygen(&cache, &key, &[]);
    task_new(
        &agg,
        &task,
        &[
            "--vdaf",
            "count",
            "--batch-mode",
            "leader_selected",
            "--min-batch-size",
            "50",
        ],
    );
    let id = agg.provision(&task, &kp);

    // A stale cached config list for the Leader (an ID it does not hold): the Leader
    // answers outdated_config, edap fetches fresh configs once and re-uploads.
    let stale = edap_core::hpke::HpkeKeypair::generate(
        edap_core::messages::HpkeConfigId(99),
        edap_core::messages::HpkeKemId::X25519_HKDF_SHA256,
    )
    .unwrap();
    let list = edap_core::messages::HpkeConfigList(vec![stale.config.clone()]);
    let dir = cache.join("edap");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!(
            "hpke-config-{}.json",
            edap_core::messages::base64url(agg.leader_url.as_bytes())
        )),
        json!({
            "endpoint": agg.leader_url,
            "fetched_at": now_secs(),
            "hpke_config_list": edap_core::messages::base64url(&prio::codec::Encode::get_encoded(&list).unwrap()),
        })
        .to_string(),
    )
    .unwrap();

    let mut args = vec!["upload", "--task", &task, "--batch", "30"];
    let ms: Vec<String> = (0..50)
        .map(|i| if i % 3 == 0 { "1" } else { "0" }.to_string())
        .collect();
    for m in &ms {
        args.extend(["-m", m]);
    }
    let out = agg.edap(&args);
    assert_eq!(out.ok(), "accepted: 50\nrejected: 0\n");
    assert!(out.stderr.contains("outdated_config"), "{out:#?}");
    // The stale list was used once, then both lists fetched fresh (Leader and Helper).
    assert_eq!(agg.served_count("/hpke_config"), 3);
    assert_eq!(agg.stats(&id).get("uploaded"), Some(&50));

    let v = collect_json(&agg, &task, &key, &["--leader-selected"]);
    assert_eq!(v["report_count"], 50);
    assert_eq!(v["result"], 17);

    // The configs are cached now: a second upload fetches nothing but the upload.
    let before = agg.served_count("/hpke_config");
    agg.edap(&["upload", "--task", &task, "-m", "1"]).ok();
    assert_eq!(agg.served_count("/hpke_config"), before);
}

#[test]
fn bad_measurements_upload_nothing() {
    let agg = Aggregators::new("badinput");
    let task = agg.path("task.json");
    let key = agg.path("collector.json");
    let kp = keygen(&agg.dir.path("cache"), &key, &[]);
    task_new(
        &agg,
        &task,
        &[
            "--vdaf",
            "histogram",
            "--length",
            "4",
            "--min-batch-size",
            "10",
        ],
    );
    let id = agg.provision(&task, &kp);

    let file = agg.path("m.txt");
    std::fs::write(&file, "0\n1\n\n2\nthree\n3\n").unwrap();
    let e = agg
        .edap(&["upload", "--task", &task, "--file", &file])
        .error_line(SECRETS);
    assert!(e.contains("m.txt line 5") && e.contains("\"three\""), "{e}");

    let e = agg
        .edap(&["upload", "--task", &task, "-m", "1", "-m", "4"])
        .error_line(SECRETS);
    assert!(
        e.contains("--measurement #2") && e.contains("bucket 4 is outside 0..4"),
        "{e}"
    );

    std::fs::write(&file, "[0, 1, 17]").unwrap();
    let e = agg
        .edap(&["upload", "--task", &task, "--file", &file])
        .error_line(SECRETS);
    assert!(e.contains("JSON element 3") && e.contains("outside"), "{e}");

    let e = agg.edap(&["upload", "--task", &task]).error_line(SECRETS);
    assert!(e.contains("no measurements"), "{e}");

    assert!(agg.served.borrow().is_empty(), "{:?}", agg.served.borrow());
    assert_eq!(agg.stats(&id).get("uploaded").copied().unwrap_or(0), 0);
}

#[test]
fn protocol_failures_are_one_line_errors() {
    let agg = Aggregators::new("failures");
    let cache = agg.dir.path("cache");
    let key = agg.path("collector.json");
    let other_key = agg.path("other.json");
    let kp = keygen(&cache, &key, &[]);
    keygen(&cache, &other_key, &[]); // same config ID 0, different key
    let task = agg.path("task.json");
    task_new(&agg, &task, &["--vdaf", "count", "--min-batch-size", "10"]);

    // Unknown task: the configs are fetched, the Leader refuses the upload.
    let e = agg
        .edap(&["upload", "--task", &task, "-m", "1"])
        .error_line(SECRETS);
    assert!(
        e.contains("unrecognizedTask") && e.contains("upload to the Leader"),
        "{e}"
    );
    let out = agg.edap_with(
        &[
            "collect",
            "--task",
            &task,
            "--key",
            &key,
            "--leader-selected",
        ],
        RunOpts {
            env: vec![("EDAP_COLLECTOR_TOKEN", COLLECTOR_TOKEN)],
            ..Default::default()
        },
    );
    assert!(
        out.error_line(SECRETS).contains("time_interval"),
        "{out:#?}"
    );
    let t = bucket_start(3600).to_string();
    let collect = |key: &str, token: &str| {
        agg.edap_with(
            &[
                "collect",
                "--task",
                &task,
                "--key",
                key,
                "--start",
                &t,
                "--duration",
                "3600",
                "--timeout",
                "50",
            ],
            RunOpts {
                env: vec![("EDAP_COLLECTOR_TOKEN", token)],
                ..Default::default()
            },
        )
    };
    let e = collect(&key, COLLECTOR_TOKEN).error_line(SECRETS);
    assert!(
        e.contains("unrecognizedTask") && e.contains("creating the collection job"),
        "{e}"
    );

    // Provisioned: 12 reports, then a collection with the wrong key, the wrong token, and
    // finally the right ones (the job was kept when decryption failed).
    agg.provision(&task, &kp);
    let mut args = vec!["upload", "--task", &task, "--time", &t];
    for _ in 0..12 {
        args.extend(["-m", "1"]);
    }
    assert_eq!(agg.edap(&args).ok(), "accepted: 12\nrejected: 0\n");
    // Reports the Leader refuses: exit status 2 and a count per reason.
    let future = (now_secs() + 3 * 86_400).to_string();
    let out = agg.edap(&[
        "upload", "--task", &task, "-m", "1", "-m", "0", "--time", &future,
    ]);
    assert_eq!(out.code, 2, "{out:#?}");
    assert_eq!(
        out.stdout,
        "accepted: 0\nrejected: 2\n  report_too_early: 2\n"
    );
    let e = collect(&key, "wrong-token").error_line(SECRETS);
    assert!(e.contains("forbidden") || e.contains("Forbidden"), "{e}");
    assert!(!e.contains("wrong-token"), "{e}");
    let out = collect(&other_key, COLLECTOR_TOKEN);
    let e = out.error_line(SECRETS);
    assert!(
        e.contains("cannot decrypt") && e.contains("wrong collector key"),
        "{e}"
    );
    let other: Value = serde_json::from_str(&std::fs::read_to_string(&other_key).unwrap()).unwrap();
    assert!(!out.stderr.contains(other["private_key"].as_str().unwrap()));
    let out = collect(&key, COLLECTOR_TOKEN);
    assert!(out.ok().contains("result:    12"), "{out:#?}");

    // A missing token is refused before any request.
    let n = agg.served.borrow().len();
    let out = agg.edap(&[
        "collect",
        "--task",
        &task,
        "--key",
        &key,
        "--start",
        &t,
        "--duration",
        "3600",
    ]);
    assert!(
        out.error_line(SECRETS).contains("EDAP_COLLECTOR_TOKEN"),
        "{out:#?}"
    );
    assert_eq!(agg.served.borrow().len(), n);

    // A Leader that is not there: a closed port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = agg.path("dead.json");
    let dead_url = format!("http://127.0.0.1:{port}/");
    edap(
        &cache,
        &[
            "task",
            "new",
            "--leader",
            &dead_url,
            "--helper",
            &agg.helper_url,
            "--vdaf",
            "count",
            "--out",
            &dead,
        ],
    )
    .ok();
    let e = agg
        .edap(&["upload", "--task", &dead, "-m", "1"])
        .error_line(SECRETS);
    assert!(
        e.contains("cannot reach") && e.contains(&dead_url) && e.contains("3 attempts"),
        "{e}"
    );
    let e = collect_dead(&agg, &dead, &key);
    assert!(e.contains("cannot reach"), "{e}");
}

fn collect_dead(agg: &Aggregators, task: &str, key: &str) -> String {
    agg.edap_with(
        &[
            "collect",
            "--task",
            task,
            "--key",
            key,
            "--start",
            "0",
            "--duration",
            "3600",
        ],
        RunOpts {
            env: vec![("EDAP_COLLECTOR_TOKEN", COLLECTOR_TOKEN)],
            ..Default::default()
        },
    )
    .error_line(SECRETS)
}
