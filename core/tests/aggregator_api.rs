//! The aggregator API in process (`core::mem`): every route, its auth and media-type
//! errors, invalid input (400 with a problem document, nothing stored), pagination, HPKE
//! key states, taskprov peers, and a Leader+Helper pair created only through the API
//! serving uploads and a collection end to end. Request bodies copied from Janus's shapes
//! (docs: /work/notes/janus-dialect.md section 4) must deserialize.

mod common;

use common::*;
use edap_core::api::aggregator_api::types::{AuthTokenJson, RoleJson, TokenHashJson};
use edap_core::api::aggregator_api::{HpkeConfigResp, TaskResp, MEDIA_TYPE};
use edap_core::hpke::HpkeKeypair;
use edap_core::http::{Method, Response};
use edap_core::mem::{MemDeployment, MemNetwork};
use edap_core::messages::*;
use edap_core::platform::DeploymentConfig;
use edap_core::roles::client::Client;
use edap_core::task::{AuthHeader, TokenHash};
use edap_core::vdaf::Measurement;
use prio::codec::{Decode, Encode};
use serde_json::{json, Value};
use std::rc::Rc;

const DAP: &str = "https://dap.example/";

/// A change to a valid request body that makes it invalid.
type Edit = Box<dyn Fn(&mut Value)>;

fn alone(config: DeploymentConfig) -> (Rc<MemNetwork>, Rc<MemDeployment>) {
    let net = MemNetwork::new(START_MS);
    let d = net.deploy("https://dap.example", config);
    (net, d)
}

fn dev() -> DeploymentConfig {
    DeploymentConfig {
        dap_url: Some(DAP.into()),
        ..deployment_config()
    }
}

fn v(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&r.body)))
}

/// Asserts a problem document with `status`; returns its detail.
fn problem(r: &Response, status: u16) -> String {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.headers.get("content-type"),
        Some("application/problem+json")
    );
    let doc = v(r);
    assert_eq!(doc["status"], status);
    doc["detail"].as_str().unwrap_or_default().to_string()
}

fn task_ids(d: &MemDeployment) -> Vec<String> {
    let r = api(d, Method::Get, "/api/task_ids", None);
    assert_eq!(r.status, 200);
    serde_json::from_value(v(&r)["task_ids"].clone()).unwrap()
}

fn key(b: u8) -> String {
    base64url(&[b; 32])
}

fn collector() -> HpkeKeypair {
    HpkeKeypair::generate(HpkeConfigId(7), HpkeKemId::X25519_HKDF_SHA256).unwrap()
}

/// Janus's PostTaskReq example for a Helper (notes section 4.3), verbatim in shape.
fn janus_helper_body(vk: &str, collector: &HpkeKeypair) -> Value {
    json!({"peer_aggregator_endpoint": "https://example.com/",
        "batch_mode": "TimeInterval",
        "aggregation_mode": "Synchronous",
        "vdaf": {"Prio3SumVec": {"max_measurement": 4096, "length": 4, "chunk_length": 18,
                 "dp_strategy": {"dp_strategy": "NoDifferentialPrivacy"}}},
        "role": "Helper",
        "vdaf_verify_key": vk,
        "task_info": base64url(b"janus task"),
        "task_start": null, "task_duration": null,
        "min_batch_size": 100,
        "time_precision": 3600,
        "collector_hpke_config": {"id": 7, "kem_id": "X25519HkdfSha256", "kdf_id": "HkdfSha256",
            "aead_id": "Aes128Gcm", "public_key": base64url(&collector.config.public_key)},
        "aggregator_auth_token": null,
        "collector_auth_token_hash": null})
}

fn janus_leader_body(vk: &str, collector: &HpkeKeypair) -> Value {
    json!({"peer_aggregator_endpoint": "https://helper.example/dap",
        "batch_mode": {"LeaderSelected": {"batch_time_window_size": null}},
        "aggregation_mode": null,
        "vdaf": {"Prio3Sum": {"max_measurement": 255}},
        "role": "Leader",
        "vdaf_verify_key": vk,
        "task_info": base64url(b"janus leader task"),
        "task_start": 472_000, "task_duration": 24,
        "min_batch_size": 10,
        "time_precision": 3600,
        "collector_hpke_config": {"id": 7, "kem_id": "X25519HkdfSha256", "kdf_id": "HkdfSha256",
            "aead_id": "Aes128Gcm", "public_key": base64url(&collector.config.public_key)},
        "aggregator_auth_token": {"type": "DapAuth", "token": "leader-to-helper"},
        "collector_auth_token_hash": {"type": "Bearer", "hash": base64url(&TokenHash::of("collector").0)}})
}

#[test]
fn config_auth_and_media_types() {
    let (_n, d) = alone(dev());
    let r = api(&d, Method::Get, "/api/", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("content-type"), Some(MEDIA_TYPE));
    assert_eq!(
        v(&r),
        json!({"protocol": "DAP-18", "dap_url": DAP, "role": "Either",
            "vdafs": ["Prio3Count", "Prio3Sum", "Prio3Histogram", "Prio3SumVec", "Prio3MultihotCountVec"],
            "batch_modes": ["TimeInterval", "LeaderSelected"],
            "features": ["TokenHash", "UploadMetrics", "AggregationJobMetrics", "PureDpDiscreteLaplace", "PostResourceCreation", "PutResourceCreation"],
            "software_name": "edap", "software_version": env!("CARGO_PKG_VERSION")})
    );
    assert_eq!(api(&d, Method::Get, "/api", None).status, 200);

    // Auth: none, wrong, another scheme, and a second configured token.
    let acc = ("accept", MEDIA_TYPE);
    problem(&d.request(Method::Get, "/api/", &[acc], vec![]), 401);
    let r = d.request(
        Method::Get,
        "/api/",
        &[acc, ("authorization", "Bearer nope")],
        vec![],
    );
    assert!(!problem(&r, 401).contains("nope"));
    assert_eq!(r.headers.get("www-authenticate"), Some("Bearer"));
    let basic = format!("Basic {API_TOKEN}");
    problem(
        &d.request(
            Method::Get,
            "/api/",
            &[acc, ("authorization", &basic)],
            vec![],
        ),
        401,
    );
    let (_n2, two) = alone(DeploymentConfig {
        api_token_hashes: vec![TokenHash::of("first"), TokenHash::of("second")],
        ..dev()
    });
    let r = two.request(
        Method::Get,
        "/api/",
        &[acc, ("authorization", "bearer second")],
        vec![],
    );
    assert_eq!(r.status, 200);
    // Auth comes before routing: an unknown path without a token is 401, with one 404.
    problem(&d.request(Method::Get, "/api/nowhere", &[acc], vec![]), 401);
    problem(&api(&d, Method::Get, "/api/nowhere", None), 404);
    problem(&api(&d, Method::Post, "/api/task_ids", None), 405);

    // Accept: missing, wrong, a list containing it, case and whitespace.
    let auth = format!("Bearer {API_TOKEN}");
    let with_accept = |a: Option<&str>| {
        let mut h = vec![("authorization", auth.as_str())];
        if let Some(a) = a {
            h.push(("accept", a));
        }
        d.request(Method::Get, "/api/", &h, vec![]).status
    };
    assert_eq!(with_accept(None), 406);
    assert_eq!(with_accept(Some("application/json")), 406);
    assert_eq!(with_accept(Some("*/*")), 406);
    assert_eq!(
        with_accept(Some("application/vnd.janus.aggregator+json")),
        406
    );
    assert_eq!(
        with_accept(Some(
            "text/html, Application/Vnd.Janus.Aggregator+Json ; version=0.1"
        )),
        200
    );
    problem(
        &d.request(Method::Get, "/api/", &[("authorization", &auth)], vec![]),
        406,
    );

    // Content-Type: wrong, missing for a body, parameters tolerated.
    let body = serde_json::to_vec(&json!({})).unwrap();
    let put = |ct: Option<&str>| {
        let mut h = vec![("authorization", auth.as_str()), acc];
        if let Some(ct) = ct {
            h.push(("content-type", ct));
        }
        d.request(Method::Put, "/api/hpke_configs", &h, body.clone())
    };
    problem(&put(Some("application/json")), 415);
    problem(&put(None), 415);
    assert_eq!(
        put(Some(
            "application/vnd.janus.aggregator+json; version=\"0.1\""
        ))
        .status,
        201
    );

    // Off without tokens; the DAP URL from Host, https in production.
    let (_n3, off) = alone(DeploymentConfig::development());
    problem(
        &off.request(
            Method::Get,
            "/api/",
            &[acc, ("authorization", &auth)],
            vec![],
        ),
        404,
    );
    let (_n4, prod) = alone(DeploymentConfig {
        api_token_hashes: vec![TokenHash::of(API_TOKEN)],
        ..DeploymentConfig::default()
    });
    let hosted = |d: &MemDeployment, host: Option<&str>| {
        let mut h = vec![("authorization", auth.as_str()), acc];
        if let Some(host) = host {
            h.push(("host", host));
        }
        d.request(Method::Get, "/api/", &h, vec![])
    };
    assert_eq!(
        v(&hosted(&prod, Some("DAP.example.org")))["dap_url"],
        "https://dap.example.org/"
    );
    problem(&hosted(&prod, None), 400);
    problem(&hosted(&prod, Some("evil/path")), 400);
    let (_n5, devhost) = alone(deployment_config());
    assert_eq!(
        v(&hosted(&devhost, Some("127.0.0.1:8787")))["dap_url"],
        "http://127.0.0.1:8787/"
    );
}

#[test]
fn janus_task_bodies_create_idempotently() {
    let (_n, d) = alone(dev());
    let c = collector();
    // Helper: Janus's shape; a Bearer token is generated and returned once.
    let body = janus_helper_body(&key(1), &c);
    let r = api(&d, Method::Post, "/api/tasks", Some(body.clone()));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let t: TaskResp = serde_json::from_slice(&r.body).unwrap();
    let expected_id = TaskId(sha2_of(&[1; 32]));
    assert_eq!(t.task_id, expected_id, "task ID = SHA-256(vdaf_verify_key)");
    let token = match &t.aggregator_auth_token {
        Some(AuthTokenJson::Bearer(s)) => s.0.clone(),
        other => panic!("expected a generated Bearer token, got {other:?}"),
    };
    assert_eq!(from_base64url(&token).map(|b| b.len()), Some(32));
    let resp = v(&r);
    for field in [
        "task_id",
        "peer_aggregator_endpoint",
        "batch_mode",
        "vdaf",
        "role",
        "task_info",
        "task_start",
        "task_duration",
        "report_expiry_age",
        "min_batch_size",
        "time_precision",
        "tolerable_clock_skew",
        "aggregator_auth_token",
        "collector_hpke_config",
        "deactivate_at",
    ] {
        assert!(resp.get(field).is_some(), "TaskResp lacks Janus's {field}");
    }
    // Unlike Janus, the verification key never comes back.
    assert!(resp.get("vdaf_verify_key").is_none(), "{resp}");
    let sent_key = body["vdaf_verify_key"].as_str().unwrap();
    assert!(!String::from_utf8_lossy(&r.body).contains(sent_key));
    assert_eq!(resp["role"], "Helper");
    assert_eq!(resp["batch_mode"], "TimeInterval");
    assert_eq!(resp["vdaf"], body["vdaf"]);
    assert_eq!(resp["collector_hpke_config"], body["collector_hpke_config"]);
    assert_eq!(resp["peer_aggregator_endpoint"], "https://example.com/");
    assert_eq!(resp["report_expiry_age"], 168, "one week in hours");
    let config = TaskConfiguration::get_decoded(&from_base64url(&t.task_config).unwrap()).unwrap();
    assert_eq!(
        (
            config.leader_endpoint.as_str(),
            config.helper_endpoint.as_str(),
            config.task_interval()
        ),
        ("https://example.com/", DAP, None)
    );
    // GET never shows the token; the same request again is 200 without one.
    let g = v(&api(
        &d,
        Method::Get,
        &format!("/api/tasks/{}", t.task_id),
        None,
    ));
    assert_eq!(g["aggregator_auth_token"], Value::Null);
    let again = api(&d, Method::Post, "/api/tasks", Some(body.clone()));
    assert_eq!(again.status, 200);
    assert_eq!(v(&again)["aggregator_auth_token"], Value::Null);
    // A different task under the same ID: 409.
    let mut other = body.clone();
    other["min_batch_size"] = json!(200);
    problem(&api(&d, Method::Post, "/api/tasks", Some(other)), 409);

    // Leader: Janus's shape with a DapAuth token, leader-selected, a task interval.
    let lb = janus_leader_body(&key(2), &c);
    let r = api(&d, Method::Post, "/api/tasks", Some(lb.clone()));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let lt = v(&r);
    assert_eq!(lt["aggregator_auth_token"], Value::Null);
    assert_eq!(
        lt["batch_mode"],
        json!({"LeaderSelected": {"batch_time_window_size": null}})
    );
    assert_eq!(
        (lt["task_start"].clone(), lt["task_duration"].clone()),
        (json!(472_000), json!(24))
    );
    assert_eq!(lt["helper_dialect"], "auto");
    assert!(!String::from_utf8_lossy(&r.body).contains("leader-to-helper"));
    let ltc: TaskResp = serde_json::from_value(lt).unwrap();
    let lc = TaskConfiguration::get_decoded(&from_base64url(&ltc.task_config).unwrap()).unwrap();
    assert_eq!(lc.leader_endpoint, DAP);
    assert_eq!(
        lc.helper_endpoint, "https://helper.example/dap",
        "kept verbatim"
    );
    assert_eq!(lc.task_interval(), Some(Interval::new(472_000, 24)));
    assert_eq!(api(&d, Method::Post, "/api/tasks", Some(lb)).status, 200);

    // Our extensions: an explicit task ID and the exact configuration, which the other
    // fields must agree with.
    let id = TaskId([9; 32]);
    let mut ext = janus_helper_body(&key(3), &c);
    ext["task_id"] = json!(id.to_base64url());
    ext["task_config"] = json!(ltc.task_config);
    ext["vdaf"] = json!({"Prio3Sum": {"max_measurement": 255}});
    ext["batch_mode"] = json!({"LeaderSelected": {"batch_time_window_size": null}});
    ext["min_batch_size"] = json!(10);
    ext["task_info"] = json!(base64url(b"janus leader task"));
    ext["peer_aggregator_endpoint"] = json!(DAP);
    ext["task_start"] = json!(1);
    ext["task_duration"] = json!(24);
    let d2 = problem(&api(&d, Method::Post, "/api/tasks", Some(ext.clone())), 400);
    assert!(d2.contains("task_start"), "{d2}");
    ext["task_start"] = json!(472_000);
    ext["task_duration"] = json!(24);
    ext["schedule"] = json!({"min_job_size": 3});
    ext["report_expiry_age"] = json!(7200);
    ext["aggregator_auth_token_hash"] =
        json!({"type": "Bearer", "hash": base64url(&TokenHash::of("x").0)});
    let r = api(&d, Method::Post, "/api/tasks", Some(ext.clone()));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let e = v(&r);
    assert_eq!(e["task_id"], id.to_base64url());
    assert_eq!(
        e["aggregator_auth_token"],
        Value::Null,
        "not generated: given as a hash"
    );
    assert_eq!(e["schedule"]["min_job_size"], 3);
    assert_eq!(e["report_expiry_age"], 2);
    // Only the config fields: the rest may be left out with task_config.
    let minimal = json!({"role": "Helper", "vdaf_verify_key": key(4), "task_id": base64url(&[8; 32]),
        "task_config": ltc.task_config, "collector_hpke_config": ext["collector_hpke_config"]});
    assert_eq!(
        api(&d, Method::Post, "/api/tasks", Some(minimal)).status,
        200
    );
    assert_eq!(task_ids(&d).len(), 4);
}

fn sha2_of(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

#[test]
fn invalid_input_is_400_and_stores_nothing() {
    let (_n, d) = alone(dev());
    let c = collector();
    let good = janus_leader_body(&key(5), &c);
    let secret = "leader-to-helper";
    let cases: Vec<(&str, Edit)> = vec![
        ("role", Box::new(|b| b["role"] = json!("Collector"))),
        ("role", Box::new(|b| b["role"] = json!("leader"))),
        (
            "vdaf_verify_key",
            Box::new(|b| b["vdaf_verify_key"] = json!(base64url(&[1; 16]))),
        ),
        (
            "vdaf_verify_key",
            Box::new(|b| b["vdaf_verify_key"] = json!("not base64!")),
        ),
        (
            "vdaf_verify_key",
            Box::new(|b| b["vdaf_verify_key"] = json!(7)),
        ),
        (
            "batch_time_window_size",
            Box::new(|b| {
                b["batch_mode"] = json!({"LeaderSelected": {"batch_time_window_size": 3}})
            }),
        ),
        (
            "batch_mode",
            Box::new(|b| b["batch_mode"] = json!("FixedSize")),
        ),
        (
            "epsilon",
            Box::new(|b| {
                b["vdaf"] = json!({"Prio3Histogram": {"length": 4, "chunk_length": 2,
            "dp_strategy": {"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[0], [1]]}}}})
            }),
        ),
        ("vdaf", Box::new(|b| b["vdaf"] = json!("Poplar1"))),
        (
            "VDAF length",
            Box::new(|b| b["vdaf"] = json!({"Prio3Histogram": {"length": 0, "chunk_length": 2}})),
        ),
        (
            "max_measurement",
            Box::new(|b| b["vdaf"] = json!({"Prio3Sum": {"max_measurement": 0}})),
        ),
        (
            "task_duration",
            Box::new(|b| b["task_duration"] = json!(null)),
        ),
        ("task_interval", Box::new(|b| b["task_duration"] = json!(0))),
        ("task_info", Box::new(|b| b["task_info"] = json!("***"))),
        ("task_info", Box::new(|b| b["task_info"] = json!(""))),
        (
            "min_batch_size",
            Box::new(|b| b["min_batch_size"] = json!(0)),
        ),
        (
            "min_batch_size",
            Box::new(|b| b["min_batch_size"] = json!(-1)),
        ),
        (
            "time_precision",
            Box::new(|b| b["time_precision"] = json!(0)),
        ),
        (
            "helper endpoint",
            Box::new(|b| b["peer_aggregator_endpoint"] = json!("ftp://helper.example/")),
        ),
        (
            "missing",
            Box::new(|b| {
                b.as_object_mut()
                    .unwrap()
                    .remove("peer_aggregator_endpoint");
            }),
        ),
        (
            "public_key",
            Box::new(|b| b["collector_hpke_config"]["public_key"] = json!("")),
        ),
        (
            "unsupported",
            Box::new(|b| b["collector_hpke_config"]["kem_id"] = json!({"Other": 99})),
        ),
        (
            "unsupported",
            Box::new(|b| b["collector_hpke_config"]["aead_id"] = json!("ChaCha20Poly1305")),
        ),
        (
            "u8",
            Box::new(|b| b["collector_hpke_config"]["id"] = json!(256)),
        ),
        (
            "aggregator_auth_token",
            Box::new(|b| b["aggregator_auth_token"] = json!(null)),
        ),
        (
            "aggregator_auth_token",
            Box::new(|b| {
                b["aggregator_auth_token"] =
                    json!({"type": "Bearer", "token": "leader-to-helper with spaces"})
            }),
        ),
        (
            "invalid type",
            Box::new(|b| b["aggregator_auth_token"] = json!("leader-to-helper")),
        ),
        (
            "unknown variant",
            Box::new(|b| {
                b["aggregator_auth_token"] = json!({"type": "Basic", "token": "leader-to-helper"})
            }),
        ),
        (
            "collector_auth_token_hash",
            Box::new(|b| b["collector_auth_token_hash"] = json!(null)),
        ),
        (
            "collector_auth_token_hash",
            Box::new(|b| b["collector_auth_token_hash"] = json!({"type": "Bearer", "hash": "abc"})),
        ),
        (
            "aggregator_auth_token_hash",
            Box::new(|b| {
                b["aggregator_auth_token_hash"] =
                    json!({"type": "Bearer", "hash": base64url(&[0; 32])})
            }),
        ),
        (
            "min_job_size",
            Box::new(|b| b["schedule"] = json!({"min_job_size": 0})),
        ),
        (
            "schedule",
            Box::new(|b| b["schedule"] = json!({"report_shards": "many"})),
        ),
        (
            "helper_dialect",
            Box::new(|b| b["helper_dialect"] = json!("telepathy")),
        ),
        (
            "report_expiry_age",
            Box::new(|b| b["report_expiry_age"] = json!(60)),
        ),
        ("task_id", Box::new(|b| b["task_id"] = json!("short"))),
        (
            "task_config",
            Box::new(|b| b["task_config"] = json!(base64url(b"garbage"))),
        ),
        (
            "disagrees",
            Box::new(|b| {
                b["task_config"] = json!(base64url(&common_config().get_encoded().unwrap()));
            }),
        ),
    ];
    for (want, edit) in &cases {
        let mut b = good.clone();
        edit(&mut b);
        let detail = problem(&api(&d, Method::Post, "/api/tasks", Some(b.clone())), 400);
        assert!(
            detail.to_lowercase().contains(&want.to_lowercase()),
            "{want}: {detail}"
        );
        assert!(!detail.contains(secret), "a secret in {detail}");
    }
    // Helper-only and Leader-only fields.
    let mut h = janus_helper_body(&key(6), &c);
    h["helper_dialect"] = json!("put");
    assert!(problem(&api(&d, Method::Post, "/api/tasks", Some(h)), 400).contains("helper_dialect"));
    let mut h = janus_helper_body(&key(6), &c);
    h["aggregator_auth_token"] = json!({"type": "Bearer", "token": "t"});
    h["aggregator_auth_token_hash"] = json!({"type": "Bearer", "hash": base64url(&[0; 32])});
    assert!(problem(&api(&d, Method::Post, "/api/tasks", Some(h)), 400).contains("not both"));
    // Not JSON, not an object, empty.
    let auth = format!("Bearer {API_TOKEN}");
    for body in [b"{".to_vec(), b"[]".to_vec(), Vec::new(), b"null".to_vec()] {
        let r = d.request(
            Method::Post,
            "/api/tasks",
            &[
                ("authorization", &auth),
                ("accept", MEDIA_TYPE),
                ("content-type", MEDIA_TYPE),
            ],
            body,
        );
        problem(&r, 400);
    }
    assert!(task_ids(&d).is_empty(), "nothing was stored");
    // The good body itself is fine.
    assert_eq!(api(&d, Method::Post, "/api/tasks", Some(good)).status, 200);
}

fn common_config() -> TaskConfiguration {
    edap_core::api::provision::TaskConfigSpec {
        task_info: "other".into(),
        leader_endpoint: DAP.into(),
        helper_endpoint: "https://somewhere.else/".into(),
        time_precision: 3600,
        min_batch_size: 10,
        batch_mode: "time_interval".into(),
        vdaf: VdafConfig::Prio3Count,
        task_start: None,
        task_end: None,
    }
    .to_config()
    .unwrap()
}

#[test]
fn task_ids_page_in_order() {
    let (_n, d) = alone(dev());
    let c = collector();
    let n = 1003;
    let mut created = Vec::new();
    for i in 0..n {
        let mut b = janus_helper_body(&base64url(&sha2_of(&(i as u32).to_be_bytes())), &c);
        b["vdaf"] = json!("Prio3Count");
        let r = api(&d, Method::Post, "/api/tasks", Some(b));
        assert_eq!(r.status, 200);
        created.push(v(&r)["task_id"].as_str().unwrap().to_string());
    }
    created.sort_by_key(|s| TaskId::from_base64url(s).unwrap());
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &token {
            Some(t) => format!("/api/task_ids?pagination_token={t}"),
            None => "/api/task_ids".into(),
        };
        let page = v(&api(&d, Method::Get, &path, None));
        let ids: Vec<String> = serde_json::from_value(page["task_ids"].clone()).unwrap();
        if ids.is_empty() {
            assert!(
                page.get("pagination_token").is_none(),
                "omitted on an empty page"
            );
            break;
        }
        assert!(ids.len() <= 1000);
        assert_eq!(
            page["pagination_token"].as_str(),
            ids.last().map(String::as_str)
        );
        token = ids.last().cloned();
        seen.extend(ids);
        pages += 1;
    }
    assert_eq!(pages, 2);
    assert_eq!(seen, created, "every ID once, in order");
    problem(
        &api(&d, Method::Get, "/api/task_ids?pagination_token=xyz", None),
        400,
    );
}

#[test]
fn task_resources_patch_delete_and_metrics() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let path = format!("/api/tasks/{}", env.task_id);
    let unknown = format!("/api/tasks/{}", TaskId([3; 32]));
    problem(&api(&env.leader, Method::Get, &unknown, None), 404);
    problem(
        &api(
            &env.leader,
            Method::Get,
            &format!("{unknown}/metrics/uploads"),
            None,
        ),
        404,
    );
    problem(
        &api(
            &env.leader,
            Method::Get,
            &format!("{unknown}/metrics/aggregations"),
            None,
        ),
        404,
    );
    problem(
        &api(
            &env.leader,
            Method::Patch,
            &unknown,
            Some(json!({"deactivate_at": null})),
        ),
        404,
    );
    problem(
        &api(&env.leader, Method::Get, "/api/tasks/not-an-id", None),
        400,
    );
    problem(&api(&env.leader, Method::Put, &path, None), 405);

    // Uploads and aggregation fill the metrics.
    let reports: Vec<Report> = (0..12)
        .map(|i| env.report(&Measurement::Count(i % 2 == 0)))
        .collect();
    assert!(env.upload(&reports).is_empty());
    env.aggregate();
    let u = v(&api(
        &env.leader,
        Method::Get,
        &format!("{path}/metrics/uploads"),
        None,
    ));
    assert_eq!(u["report_success"], 12);
    assert_eq!(u["counters"]["uploaded"], 12);
    for f in [
        "interval_collected",
        "report_decode_failure",
        "report_decrypt_failure",
        "report_expired",
        "report_outdated_key",
        "report_too_early",
        "task_not_started",
        "task_ended",
        "duplicate_extension",
    ] {
        assert_eq!(u[f], 0, "{f}");
    }
    let a = v(&api(
        &env.leader,
        Method::Get,
        &format!("{path}/metrics/aggregations"),
        None,
    ));
    assert_eq!(a["success"], 12);
    assert_eq!(a["helper_vdaf_verify_error"], 0);
    assert_eq!(a.as_object().unwrap().len(), 24);

    // PATCH deactivate_at: in the past refuses uploads with task_expired; null clears it.
    let now = now_secs(&env);
    let at = edap_core::api::aggregator_api::rfc3339::format(now - 10);
    let r = api(
        &env.leader,
        Method::Patch,
        &path,
        Some(json!({"deactivate_at": at})),
    );
    assert_eq!(r.status, 200);
    assert_eq!(v(&r)["deactivate_at"], at);
    let late = env.report(&Measurement::Count(true));
    assert_eq!(
        env.upload(std::slice::from_ref(&late)),
        vec![(late.metadata.report_id, ReportError::TaskExpired)]
    );
    let r = api(&env.leader, Method::Patch, &path, Some(json!({})));
    assert_eq!(
        v(&r)["deactivate_at"],
        at,
        "an absent field changes nothing"
    );
    for bad in [
        json!({"deactivate_at": "tomorrow"}),
        json!({"deactivate_at": 5}),
    ] {
        problem(&api(&env.leader, Method::Patch, &path, Some(bad)), 400);
    }
    let r = api(
        &env.leader,
        Method::Patch,
        &path,
        Some(json!({"deactivate_at": null})),
    );
    assert_eq!(v(&r)["deactivate_at"], Value::Null);
    assert!(env
        .upload(&[env.report(&Measurement::Count(true))])
        .is_empty());

    // DELETE: 204, then 404; also 204 for a task that does not exist.
    assert_eq!(api(&env.leader, Method::Delete, &path, None).status, 204);
    assert_eq!(api(&env.leader, Method::Delete, &path, None).status, 204);
    assert_eq!(api(&env.leader, Method::Delete, &unknown, None).status, 204);
    problem(&api(&env.leader, Method::Get, &path, None), 404);
    let r = env.upload_raw(
        UploadRequest {
            reports: vec![env.report(&Measurement::Count(true))],
        }
        .get_encoded()
        .unwrap(),
    );
    assert_eq!(r.status, 404, "unrecognizedTask");
}

fn keys(d: &MemDeployment) -> Vec<HpkeConfigResp> {
    let r = api(d, Method::Get, "/api/hpke_configs", None);
    assert_eq!(r.status, 200);
    serde_json::from_slice(&r.body).unwrap()
}

fn advertised(d: &MemDeployment) -> Vec<u8> {
    let r = d.request(Method::Get, "/hpke_config", &[], vec![]);
    HpkeConfigList::get_decoded(&r.body)
        .unwrap()
        .0
        .iter()
        .map(|c| c.id.0)
        .collect()
}

#[test]
fn hpke_key_states() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let l = &env.leader;
    let first = keys(l);
    assert_eq!(
        first.len(),
        1,
        "the first key is created active on first use"
    );
    assert_eq!(first[0].state, edap_core::hpke::HpkeKeyState::Active);
    assert_eq!(advertised(l), vec![1]);
    // PUT: pending under the lowest free ID; defaults X25519 / HKDF-SHA256 / AES-128-GCM.
    let r = api(l, Method::Put, "/api/hpke_configs", Some(json!({})));
    assert_eq!(r.status, 201);
    let pending: HpkeConfigResp = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v(&r)["state"], "pending");
    assert_eq!(v(&r)["config"]["kem_id"], "X25519HkdfSha256");
    assert_eq!(pending.config.id, 0);
    assert_eq!(advertised(l), vec![1], "pending is not advertised");
    let p256 = api(
        l,
        Method::Put,
        "/api/hpke_configs",
        Some(json!({"kem_id": "P256HkdfSha256"})),
    );
    assert_eq!(v(&p256)["config"]["id"], 2);
    for bad in [
        json!({"kdf_id": "HkdfSha512"}),
        json!({"aead_id": "Aes256Gcm"}),
        json!({"kem_id": "X448HkdfSha512"}),
        json!({"kem_id": {"Other": 1}}),
        json!({"kem_id": "nope"}),
    ] {
        problem(&api(l, Method::Put, "/api/hpke_configs", Some(bad)), 400);
    }
    assert_eq!(keys(l).len(), 3);

    // Reports sealed to the pending key decrypt: upload, aggregate, collect exactly.
    let pending_cfg = pending.config.to_config().unwrap();
    let helper_cfg = HpkeConfigList::get_decoded(
        &env.helper
            .request(Method::Get, "/hpke_config", &[], vec![])
            .body,
    )
    .unwrap()
    .0[0]
        .clone();
    let to_pending = Client::new(
        env.task_id,
        env.config.clone(),
        pending_cfg.clone(),
        helper_cfg.clone(),
    )
    .unwrap();
    let now = now_secs(&env);
    let batch1: Vec<Report> = (0..10)
        .map(|_| to_pending.report(&Measurement::Count(true), now).unwrap())
        .collect();
    assert!(env.upload(&batch1).is_empty());

    // Activate it (advertised first), expire the old one (still decrypts).
    let r = api(
        l,
        Method::Patch,
        "/api/hpke_configs/0",
        Some(json!({"state": "active"})),
    );
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(advertised(l), vec![0, 1]);
    assert_eq!(
        api(
            l,
            Method::Patch,
            "/api/hpke_configs/1",
            Some(json!({"state": "expired"}))
        )
        .status,
        200
    );
    assert_eq!(advertised(l), vec![0]);
    let g = v(&api(l, Method::Get, "/api/hpke_configs/1", None));
    assert_eq!(g["state"], "expired");
    assert!(g["active_at"].is_u64() && g["expired_at"].is_u64());
    let to_expired = env.client.clone();
    let batch2: Vec<Report> = (0..5)
        .map(|_| to_expired.report(&Measurement::Count(false), now).unwrap())
        .collect();
    assert!(env.upload(&batch2).is_empty());
    env.aggregate();
    let (c, _) = env
        .collect(Query::TimeInterval(env.current_interval()))
        .unwrap();
    assert_eq!(
        (c.report_count, c.result.clone()),
        (15, edap_core::vdaf::AggregateResult::Scalar(10))
    );

    // Deleted: outdated_config at upload; DELETE is 204 also when missing.
    assert_eq!(
        api(l, Method::Delete, "/api/hpke_configs/1", None).status,
        204
    );
    assert_eq!(
        api(l, Method::Delete, "/api/hpke_configs/1", None).status,
        204
    );
    let gone = to_expired.report(&Measurement::Count(true), now).unwrap();
    assert_eq!(
        env.upload(std::slice::from_ref(&gone)),
        vec![(gone.metadata.report_id, ReportError::OutdatedConfig)]
    );
    problem(&api(l, Method::Get, "/api/hpke_configs/1", None), 404);
    problem(
        &api(
            l,
            Method::Patch,
            "/api/hpke_configs/1",
            Some(json!({"state": "active"})),
        ),
        404,
    );
    problem(&api(l, Method::Get, "/api/hpke_configs/256", None), 400);
    problem(
        &api(
            l,
            Method::Patch,
            "/api/hpke_configs/0",
            Some(json!({"state": "retired"})),
        ),
        400,
    );
    problem(&api(l, Method::Post, "/api/hpke_configs", None), 405);
    // All 256 IDs taken: 409.
    for _ in 0..254 {
        assert_eq!(api(l, Method::Put, "/api/hpke_configs", None).status, 201);
    }
    problem(&api(l, Method::Put, "/api/hpke_configs", None), 409);
}

#[test]
fn pair_created_through_the_api_with_the_helpers_generated_token() {
    let net = MemNetwork::new(START_MS);
    let leader = net.deploy(
        LEADER,
        DeploymentConfig {
            dap_url: Some(format!("{LEADER}/")),
            ..deployment_config()
        },
    );
    let helper = net.deploy(
        HELPER,
        DeploymentConfig {
            dap_url: Some(format!("{HELPER}/")),
            ..deployment_config()
        },
    );
    let c = collector();
    let vk = key(11);
    // The control plane reads the Helper's features, creates the task on the Helper,
    // takes its token, then creates it on the Leader.
    let features: Vec<String> =
        serde_json::from_value(v(&api(&helper, Method::Get, "/api/", None))["features"].clone())
            .unwrap();
    let dialect = edap_core::task::PeerDialect::from_features(&features);
    assert_eq!(dialect, edap_core::task::PeerDialect::Post);
    let config = edap_core::api::provision::TaskConfigSpec {
        task_info: "pair".into(),
        leader_endpoint: format!("{LEADER}/"),
        helper_endpoint: format!("{HELPER}/"),
        time_precision: PRECISION,
        min_batch_size: 10,
        batch_mode: "time_interval".into(),
        vdaf: VdafConfig::Prio3Histogram {
            length: 4,
            chunk_length: 2,
        },
        task_start: None,
        task_end: None,
    }
    .to_config()
    .unwrap();
    let hreq = janus_post_task_req(&config, RoleJson::Helper, &vk, &c);
    let hr = api(
        &helper,
        Method::Post,
        "/api/tasks",
        Some(serde_json::to_value(&hreq).unwrap()),
    );
    assert_eq!(hr.status, 200, "{}", String::from_utf8_lossy(&hr.body));
    let ht: TaskResp = serde_json::from_slice(&hr.body).unwrap();
    let token = ht
        .aggregator_auth_token
        .clone()
        .expect("the Helper's generated token");
    let mut lreq = janus_post_task_req(&config, RoleJson::Leader, &vk, &c);
    lreq.aggregator_auth_token = Some(token.clone());
    lreq.collector_auth_token_hash = Some(TokenHashJson::of(&AuthTokenJson::new(
        AuthHeader::Bearer,
        COLLECTOR_TOKEN.into(),
    )));
    lreq.helper_dialect = Some(dialect);
    lreq.schedule = Some(schedule());
    let lr = api(
        &leader,
        Method::Post,
        "/api/tasks",
        Some(serde_json::to_value(&lreq).unwrap()),
    );
    assert_eq!(lr.status, 200, "{}", String::from_utf8_lossy(&lr.body));
    let lt: TaskResp = serde_json::from_slice(&lr.body).unwrap();
    assert_eq!(lt.task_id, ht.task_id);
    assert_eq!(
        lt.task_config, ht.task_config,
        "both built the same configuration"
    );

    // The Helper refuses a wrong token and takes the generated one.
    let jobs = format!("/tasks/{}/aggregation_jobs", ht.task_id);
    let ct = edap_core::media::MediaType::AggregationJobInitReq.as_str();
    let wrong = helper.request(
        Method::Post,
        &jobs,
        &[("authorization", "Bearer wrong"), ("content-type", &ct)],
        vec![1],
    );
    assert_eq!(wrong.status, 403);
    let right = format!("Bearer {}", token.token());
    let r = helper.request(
        Method::Post,
        &jobs,
        &[("authorization", &right), ("content-type", &ct)],
        vec![1],
    );
    assert_eq!(
        r.status,
        400,
        "past auth, a malformed job: {}",
        String::from_utf8_lossy(&r.body)
    );

    // Uploads and a collection, end to end, exact.
    let hpke = |d: &MemDeployment| {
        HpkeConfigList::get_decoded(&d.request(Method::Get, "/hpke_config", &[], vec![]).body)
            .unwrap()
            .0[0]
            .clone()
    };
    let client = Client::new(lt.task_id, config.clone(), hpke(&leader), hpke(&helper)).unwrap();
    let now = net.now_ms() / 1000;
    let ms: Vec<u64> = (0..20).map(|i| i % 4).collect();
    let reports: Vec<Report> = ms
        .iter()
        .map(|b| client.report(&Measurement::Bucket(*b), now).unwrap())
        .collect();
    let body = UploadRequest { reports }.get_encoded().unwrap();
    let up = leader.request(
        Method::Post,
        &format!("/tasks/{}/reports", lt.task_id),
        &[(
            "content-type",
            &edap_core::media::MediaType::UploadReq.as_str(),
        )],
        body,
    );
    assert_eq!((up.status, up.body.len()), (200, 0));
    net.run_until(120_000, || net.next_alarm().is_none());
    let req = edap_core::roles::collector::collection_job_req(Query::TimeInterval(Interval::new(
        now / PRECISION,
        1,
    )));
    let auth = format!("Bearer {COLLECTOR_TOKEN}");
    let cj = leader.request(
        Method::Post,
        &format!("/tasks/{}/collection_jobs", lt.task_id),
        &[
            (
                "content-type",
                &edap_core::media::MediaType::CollectionJobReq.as_str(),
            ),
            ("authorization", &auth),
        ],
        req.get_encoded().unwrap(),
    );
    assert!(cj.status < 300, "{}", String::from_utf8_lossy(&cj.body));
    let location = cj.headers.get("location").unwrap().to_string();
    let mut body = cj.body.clone();
    net.run_until(300_000, || {
        if body.is_empty() {
            body = leader
                .request(Method::Get, &location, &[("authorization", &auth)], vec![])
                .body;
        }
        !body.is_empty()
    });
    let resp = CollectionJobResp::get_decoded(&body).unwrap();
    let got = edap_core::roles::collector::finish(&lt.task_id, &config, &c, &req, &resp).unwrap();
    assert_eq!(got.report_count, 20);
    assert_eq!(
        got.result,
        edap_core::vdaf::AggregateResult::Vector(vec![5, 5, 5, 5])
    );
}

#[test]
fn taskprov_peer_aggregators() {
    let (_n, d) = alone(dev());
    let c = collector();
    let path = "/api/taskprov/peer_aggregators";
    let leader_peer = json!({"endpoint": "HTTPS://Leader.Example", "peer_role": "Leader",
        "aggregation_mode": "Synchronous",
        "collector_hpke_config": {"id": 7, "kem_id": "X25519HkdfSha256", "kdf_id": "HkdfSha256",
            "aead_id": "Aes128Gcm", "public_key": base64url(&c.config.public_key)},
        "verify_key_init": key(1), "report_expiry_age": 3600,
        "aggregator_auth_tokens": [{"type": "Bearer", "token": "peer-secret"}],
        "collector_auth_tokens": []});
    let r = api(&d, Method::Post, path, Some(leader_peer.clone()));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        v(&r),
        json!({"endpoint": "https://leader.example/", "peer_role": "Leader",
            "collector_hpke_config": leader_peer["collector_hpke_config"], "report_expiry_age": 3600})
    );
    assert!(!String::from_utf8_lossy(&r.body).contains("peer-secret"));
    // The identical peer again is fine; a different one under the same endpoint and role
    // conflicts (delete it first).
    assert_eq!(
        api(&d, Method::Post, path, Some(leader_peer.clone())).status,
        201
    );
    let mut changed = leader_peer.clone();
    changed["report_expiry_age"] = json!(7200);
    problem(&api(&d, Method::Post, path, Some(changed)), 409);
    let mut helper_peer = leader_peer.clone();
    helper_peer["peer_role"] = json!("Helper");
    helper_peer["aggregation_mode"] = json!(null);
    helper_peer["collector_auth_tokens"] =
        json!([{"type": "DapAuth", "token": "collector-secret"}]);
    assert_eq!(api(&d, Method::Post, path, Some(helper_peer)).status, 201);
    let list = v(&api(&d, Method::Get, path, None));
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains("secret"));
    let invalid: Vec<Edit> = vec![
        Box::new(|b| b["peer_role"] = json!("Collector")),
        Box::new(|b| b["aggregation_mode"] = json!(null)),
        Box::new(|b| b["aggregation_mode"] = json!("Sometimes")),
        Box::new(|b| b["verify_key_init"] = json!(base64url(&[1; 31]))),
        Box::new(|b| b["endpoint"] = json!("leader.example")),
        Box::new(|b| b["aggregator_auth_tokens"] = json!([{"type": "Bearer", "token": "a b"}])),
        Box::new(|b| b["collector_auth_tokens"] = json!([{"type": "Bearer", "token": "c"}])),
        Box::new(|b| b["collector_hpke_config"]["kem_id"] = json!({"Other": 3})),
        Box::new(|b| b["report_expiry_age"] = json!(-1)),
    ];
    for edit in &invalid {
        let mut b = leader_peer.clone();
        b["endpoint"] = json!("https://other.example/");
        edit(&mut b);
        let detail = problem(&api(&d, Method::Post, path, Some(b)), 400);
        assert!(!detail.contains("peer-secret"), "{detail}");
    }
    // DELETE takes {endpoint, peer_role}; 204 also when missing.
    let del = json!({"endpoint": "https://leader.example", "peer_role": "Leader"});
    assert_eq!(api(&d, Method::Delete, path, Some(del.clone())).status, 204);
    assert_eq!(api(&d, Method::Delete, path, Some(del)).status, 204);
    problem(&api(&d, Method::Delete, path, None), 415);
    problem(
        &api(
            &d,
            Method::Delete,
            path,
            Some(json!({"endpoint": "https://x/"})),
        ),
        400,
    );
    assert_eq!(
        v(&api(&d, Method::Get, path, None))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    problem(&api(&d, Method::Put, path, None), 405);
}

#[test]
fn janus_request_bodies_deserialize() {
    use edap_core::api::aggregator_api::*;
    let c = collector();
    let t: PostTaskReq = serde_json::from_value(janus_helper_body(&key(1), &c)).unwrap();
    assert_eq!(t.role, RoleJson::Helper);
    let t: PostTaskReq = serde_json::from_value(janus_leader_body(&key(1), &c)).unwrap();
    assert!(matches!(
        t.aggregator_auth_token,
        Some(AuthTokenJson::DapAuth(_))
    ));
    let p: PatchTaskReq =
        serde_json::from_value(json!({"deactivate_at": "2026-01-01T00:00:00Z"})).unwrap();
    assert_eq!(p.deactivate_at, Some(Some("2026-01-01T00:00:00Z".into())));
    let p: PatchTaskReq = serde_json::from_value(json!({"deactivate_at": null})).unwrap();
    assert_eq!(p.deactivate_at, Some(None));
    let p: PatchTaskReq = serde_json::from_value(json!({})).unwrap();
    assert_eq!(p.deactivate_at, None);
    let h: PutHpkeConfigReq = serde_json::from_value(
        json!({"kem_id": "P256HkdfSha256", "kdf_id": "HkdfSha256", "aead_id": "Aes128Gcm"}),
    )
    .unwrap();
    assert!(h.kem_id.is_some());
    let _: PutHpkeConfigReq =
        serde_json::from_value(json!({"kem_id": null, "kdf_id": null, "aead_id": null})).unwrap();
    let s: PatchHpkeConfigReq = serde_json::from_value(json!({"state": "expired"})).unwrap();
    assert_eq!(s.state, edap_core::hpke::HpkeKeyState::Expired);
    let _: PostTaskprovPeerAggregatorReq = serde_json::from_value(json!({"endpoint": "https://leader.example/",
        "peer_role": "Leader", "aggregation_mode": "Asynchronous",
        "collector_hpke_config": {"id": 1, "kem_id": "X25519HkdfSha256", "kdf_id": "HkdfSha256", "aead_id": "Aes128Gcm", "public_key": base64url(&[1; 32])},
        "verify_key_init": key(2), "report_expiry_age": null,
        "aggregator_auth_tokens": [{"type": "Bearer", "token": "YWJj"}], "collector_auth_tokens": []})).unwrap();
    let _: DeleteTaskprovPeerAggregatorReq = serde_json::from_value(
        json!({"endpoint": "https://leader.example/", "peer_role": "Leader"}),
    )
    .unwrap();
    // The responses Janus clients read back deserialize as ours too.
    let _: GetTaskIdsResp = serde_json::from_value(json!({"task_ids": []})).unwrap();
    let _: HpkeConfigResp = serde_json::from_value(json!({"config": {"id": 1, "kem_id": {"Other": 9},
        "kdf_id": "HkdfSha384", "aead_id": "ChaCha20Poly1305", "public_key": "AAAA"}, "state": "pending"})).unwrap();
}
