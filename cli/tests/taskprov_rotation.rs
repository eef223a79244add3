//! `edap` against an in-memory Leader and Helper: a taskprov task that neither aggregator
//! was given (only each other as taskprov peers) runs from `edap upload` to `edap collect`;
//! and after the key rotation deleted the key `edap` cached, `edap upload` gets
//! `outdated_config`, refetches and succeeds.

mod support;

use edap_core::api::aggregator_api::types::HpkeConfigJson;
use edap_core::hpke::rotation::RotationSchedule;
use edap_core::http::Method;
use edap_core::platform::DeploymentConfig;
use edap_core::task::TokenHash;
use serde_json::{json, Value};
use support::*;

fn task_new(agg: &Aggregators, file: &str) {
    agg.edap(&[
        "task",
        "new",
        "--leader",
        &agg.leader_url,
        "--helper",
        &agg.helper_url,
        "--out",
        file,
        "--vdaf",
        "count",
        "--min-batch-size",
        "10",
    ])
    .ok();
}

fn upload(agg: &Aggregators, task: &str, n: usize) -> Out {
    let mut args = vec!["upload".to_string(), "--task".into(), task.into()];
    for i in 0..n {
        args.extend(["-m".into(), (i % 2).to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    agg.edap(&args)
}

#[test]
fn a_taskprov_task_runs_from_edap_upload_to_edap_collect() {
    let agg = Aggregators::new("taskprov");
    let task = agg.path("task.json");
    let key = agg.path("collector.json");
    let kp = keygen(&agg.dir.path("cache"), &key, &[]);
    task_new(&agg, &task);
    let peer = |endpoint: &str, role: &str| {
        json!({"endpoint": endpoint, "peer_role": role,
            "aggregation_mode": if role == "Leader" { json!("Synchronous") } else { Value::Null },
            "collector_hpke_config": HpkeConfigJson::from(&kp.config),
            "verify_key_init": edap_core::messages::base64url(&[7u8; 32]),
            "aggregator_auth_tokens": [{"type": "Bearer", "token": AGG_TOKEN}],
            "collector_auth_tokens": if role == "Helper" {
                json!([{"type": "Bearer", "token": COLLECTOR_TOKEN}])
            } else { json!([]) }})
    };
    for (d, body) in [
        (&agg.helper, peer(&agg.leader_url, "Leader")),
        (&agg.leader, peer(&agg.helper_url, "Helper")),
    ] {
        let r = api(
            d,
            Method::Post,
            "/api/taskprov/peer_aggregators",
            Some(body),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    let start = bucket_start(3600).to_string();
    assert_eq!(upload(&agg, &task, 12).ok(), "accepted: 12\nrejected: 0\n");
    let out = agg.edap_with(
        &[
            "collect",
            "--task",
            &task,
            "--key",
            &key,
            "--json",
            "--timeout",
            "50",
            "--start",
            &start,
            "--duration",
            "3600",
        ],
        RunOpts {
            env: vec![("EDAP_COLLECTOR_TOKEN", COLLECTOR_TOKEN)],
            ..Default::default()
        },
    );
    let v: Value = serde_json::from_str(out.ok().trim()).unwrap();
    assert_eq!(v["report_count"], 12);
    assert_eq!(v["result"], 6);
}

#[test]
fn edap_refetches_configs_after_the_rotation_deleted_its_key() {
    let config = DeploymentConfig {
        api_token_hashes: vec![TokenHash::of(API_TOKEN)],
        hpke_config_max_age_secs: 600,
        key_rotation: RotationSchedule {
            pending_secs: 600,
            active_secs: 3600,
            expired_secs: 900,
            ..RotationSchedule::default()
        },
        ..DeploymentConfig::development()
    };
    let agg = Aggregators::with_config("rotation", config);
    let task = agg.path("task.json");
    let key = agg.path("collector.json");
    let kp = keygen(&agg.dir.path("cache"), &key, &[]);
    task_new(&agg, &task);
    let id = agg.provision(&task, &kp);
    assert_eq!(upload(&agg, &task, 10).ok(), "accepted: 10\nrejected: 0\n");
    // An hour and a quarter later (the simulated clock; edap's cache is an hour old at
    // most by its own clock): both aggregators rotated and deleted the key edap cached.
    // Alarms run when due, as a Durable Object's do, while the clock jumps ahead.
    let target = agg.net.now_ms() + (3600 + 900 + 60) * 1000;
    while let Some(t) = agg.net.next_alarm().filter(|t| *t <= target) {
        agg.net.advance_ms(t.saturating_sub(agg.net.now_ms()));
        agg.net.run_due_alarms(10_000);
    }
    agg.net.advance_ms(target - agg.net.now_ms());
    agg.net.run_due_alarms(10_000);
    let out = upload(&agg, &task, 10);
    assert_eq!(out.ok(), "accepted: 10\nrejected: 0\n");
    assert!(out.stderr.contains("outdated_config"), "{out:#?}");
    assert_eq!(agg.stats(&id).get("uploaded"), Some(&20));
}
