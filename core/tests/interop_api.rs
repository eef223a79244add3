//! The aggregator side of the interop test API, in process: tasks provisioned only through
//! `/internal/test/add_task`, then uploads and a collection with `DAP-Auth-Token`.

mod common;

use common::{PRECISION, START_MS};
use edap_core::hpke::HpkeKeypair;
use edap_core::http::{Method, Response};
use edap_core::media::MediaType;
use edap_core::mem::{MemDeployment, MemNetwork};
use edap_core::messages::*;
use edap_core::platform::DeploymentConfig;
use edap_core::roles::client::Client;
use edap_core::roles::collector;
use edap_core::vdaf::{AggregateResult, Measurement};
use prio::codec::{Decode, Encode};
use serde_json::{json, Value};

fn post(d: &MemDeployment, path: &str, body: Value) -> (u16, Value) {
    let r = d.request(
        Method::Post,
        path,
        &[("content-type", "application/json")],
        serde_json::to_vec(&body).unwrap(),
    );
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

fn hpke(d: &MemDeployment) -> HpkeConfig {
    let r = d.request(Method::Get, "/hpke_config", &[], vec![]);
    HpkeConfigList::get_decoded(&r.body).unwrap().0[0].clone()
}

#[test]
fn add_task_upload_collect() {
    let net = MemNetwork::new(START_MS);
    let cfg = DeploymentConfig::development();
    let leader = net.deploy("http://leader:8080", cfg.clone());
    let helper = net.deploy("http://helper:8080", cfg);
    for d in [&leader, &helper] {
        assert_eq!(post(d, "/internal/test/ready", json!({})).0, 200);
        let (s, v) = post(
            d,
            "/internal/test/endpoint_for_task",
            json!({"task_id": "x", "role": "leader", "hostname": "h"}),
        );
        assert_eq!(
            (s, v["status"].as_str(), v["endpoint"].as_str()),
            (200, Some("success"), Some("/"))
        );
        assert_eq!(post(d, "/internal/test/nope", json!({})).0, 404);
    }
    let task_id = TaskId::random();
    let collector_key =
        HpkeKeypair::generate(HpkeConfigId(3), HpkeKemId::X25519_HKDF_SHA256).unwrap();
    let vdaf = json!({"type": "Prio3Histogram", "length": "4", "chunk_length": "2"});
    let mut params = json!({
        "task_id": task_id.to_base64url(),
        "leader": "http://leader:8080/",
        "helper": "http://helper:8080/",
        "vdaf": vdaf,
        "leader_authentication_token": "leader-token",
        "collector_authentication_token": "collector-token",
        "vdaf_verify_key": base64url(&[7u8; 32]),
        "batch_mode": 1,
        "min_batch_size": "5",
        "time_precision": PRECISION,
        "collector_hpke_config": base64url(&collector_key.config.get_encoded().unwrap()),
    });
    params["role"] = json!("helper");
    let mut helper_params = params.clone();
    helper_params
        .as_object_mut()
        .unwrap()
        .remove("collector_authentication_token");
    assert_eq!(
        post(&helper, "/internal/test/add_task", helper_params).1["status"],
        "success"
    );
    params["role"] = json!("leader");
    assert_eq!(
        post(&leader, "/internal/test/add_task", params.clone()).1["status"],
        "success"
    );
    // A VDAF this deployment does not implement: a 200 answer with status "error".
    let mut bad = params.clone();
    bad["vdaf"] = json!({"type": "Poplar1", "bits": "8"});
    bad["task_id"] = json!(TaskId::random().to_base64url());
    let (s, v) = post(&leader, "/internal/test/add_task", bad);
    assert_eq!((s, v["status"].as_str()), (200, Some("error")));

    // The Client and Collector rebuild the same configuration from the same parameters.
    let config = edap_core::interop::task_config(&params).unwrap();
    let client = Client::new(task_id, config.clone(), hpke(&leader), hpke(&helper)).unwrap();
    let vdaf_cfg = config.vdaf;
    let ms: Vec<Measurement> = (0..9)
        .map(|i| {
            edap_core::interop::measurement_from_json(&vdaf_cfg, &json!((i % 4).to_string()))
                .unwrap()
        })
        .collect();
    let now = START_MS / 1000;
    let reports: Vec<Report> = ms.iter().map(|m| client.report(m, now).unwrap()).collect();
    let body = UploadRequest { reports }.get_encoded().unwrap();
    let r = leader.request(
        Method::Post,
        &format!("/tasks/{task_id}/reports"),
        &[("content-type", &MediaType::UploadReq.as_str())],
        body,
    );
    assert_eq!((r.status, r.body.len()), (200, 0));
    net.run_until(60_000, || net.next_alarm().is_none());
    // The Leader authenticated to the Helper with DAP-Auth-Token.
    let sent = net.sent.borrow().clone();
    let to_helper: Vec<_> = sent
        .iter()
        .filter(|r| r.url.starts_with("http://helper:8080"))
        .collect();
    assert!(!to_helper.is_empty());
    assert!(to_helper
        .iter()
        .all(|r| r.headers.get("dap-auth-token") == Some("leader-token")));

    let interval = Interval::new(now / PRECISION, 1);
    let req = collector::collection_job_req(Query::TimeInterval(interval));
    let auth = [
        ("content-type", MediaType::CollectionJobReq.as_str()),
        ("dap-auth-token", "collector-token".to_string()),
    ];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let r = leader.request(
        Method::Post,
        &format!("/tasks/{task_id}/collection_jobs"),
        &auth,
        req.get_encoded().unwrap(),
    );
    assert_eq!(r.status, 201);
    let loc = r.headers.get("location").unwrap().to_string();
    let mut result: Option<Response> = None;
    net.run_until(60_000, || {
        let g = leader.request(
            Method::Get,
            &loc,
            &[("dap-auth-token", "collector-token")],
            vec![],
        );
        let done = !g.body.is_empty();
        result = Some(g);
        done
    });
    let resp = CollectionJobResp::get_decoded(&result.unwrap().body).unwrap();
    let c = collector::finish(&task_id, &config, &collector_key, &req, &resp).unwrap();
    assert_eq!(c.report_count, 9);
    assert_eq!(
        edap_core::interop::result_to_json(&c.result),
        json!(["3", "2", "2", "2"])
    );
    assert_eq!(c.result, AggregateResult::Vector(vec![3, 2, 2, 2]));
}

#[test]
fn test_api_is_off_unless_enabled() {
    let net = MemNetwork::new(START_MS);
    let d = net.deploy("http://x", DeploymentConfig::default());
    let r = d.request(Method::Post, "/internal/test/ready", &[], b"{}".to_vec());
    assert_eq!(r.status, 404);
    // Enabling it is not enough outside a development deployment.
    let d = net.deploy(
        "http://y",
        DeploymentConfig {
            enable_test_api: true,
            ..DeploymentConfig::default()
        },
    );
    let r = d.request(Method::Post, "/internal/test/ready", &[], b"{}".to_vec());
    assert_eq!(r.status, 404);
}

fn base64url(b: &[u8]) -> String {
    edap_core::messages::base64url(b)
}
