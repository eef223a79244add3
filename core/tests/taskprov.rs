//! Taskprov end to end in one process: a Leader and a Helper that share only a peer
//! configuration (no task provisioned anywhere) run a task from upload to collection; and
//! every refusal (tampered advertisement, unknown peer, unsupported VDAF, wrong token)
//! answers the right error and stores nothing.

mod common;

use common::{api, deployment_config, AGG_TOKEN, COLLECTOR_TOKEN, HELPER, LEADER, START_MS};
use edap_core::api::aggregator_api::types::HpkeConfigJson;
use edap_core::hpke::HpkeKeypair;
use edap_core::http::{Method, Response};
use edap_core::media::MediaType;
use edap_core::mem::{MemDeployment, MemNetwork};
use edap_core::messages::*;
use edap_core::roles::client::{choose_config, Client};
use edap_core::roles::collector;
use edap_core::taskprov::header;
use edap_core::vdaf::{AggregateResult, Measurement};
use edap_core::ProblemDocument;
use prio::codec::{Decode, Encode};
use std::rc::Rc;

const VERIFY_KEY_INIT: [u8; 32] = [42; 32];

struct Pair {
    net: Rc<MemNetwork>,
    leader: Rc<MemDeployment>,
    helper: Rc<MemDeployment>,
    collector_key: HpkeKeypair,
}

fn peer(endpoint: &str, role: &str, collector: &HpkeKeypair) -> serde_json::Value {
    let mut v = serde_json::json!({
        "endpoint": endpoint,
        "peer_role": role,
        "collector_hpke_config": HpkeConfigJson::from(&collector.config),
        "verify_key_init": base64url(&VERIFY_KEY_INIT),
        "report_expiry_age": null,
        "aggregator_auth_tokens": [{"type": "Bearer", "token": AGG_TOKEN}],
        "collector_auth_tokens": [],
    });
    if role == "Leader" {
        v["aggregation_mode"] = "Synchronous".into();
    } else {
        v["collector_auth_tokens"] =
            serde_json::json!([{"type": "Bearer", "token": COLLECTOR_TOKEN}]);
    }
    v
}

/// Two deployments, each told only about the other as a taskprov peer.
fn pair() -> Pair {
    let net = MemNetwork::new(START_MS);
    let leader = net.deploy(LEADER, deployment_config());
    let helper = net.deploy(HELPER, deployment_config());
    let collector_key =
        HpkeKeypair::generate(HpkeConfigId(7), HpkeKemId::X25519_HKDF_SHA256).unwrap();
    for (d, endpoint, role) in [
        (&helper, format!("{LEADER}/"), "Leader"),
        (&leader, format!("{HELPER}/"), "Helper"),
    ] {
        let r = api(
            d,
            Method::Post,
            "/api/taskprov/peer_aggregators",
            Some(peer(&endpoint, role, &collector_key)),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    Pair {
        net,
        leader,
        helper,
        collector_key,
    }
}

fn config(vdaf: VdafConfig) -> TaskConfiguration {
    TaskConfiguration {
        task_info: b"taskprov e2e".to_vec(),
        leader_endpoint: format!("{LEADER}/"),
        helper_endpoint: format!("{HELPER}/"),
        time_precision: 3600,
        min_batch_size: 10,
        batch_mode: BatchMode::TimeInterval,
        vdaf,
        extensions: Extensions::empty(),
    }
}

fn hpke(d: &MemDeployment) -> HpkeConfig {
    let r = d.request(Method::Get, "/hpke_config", &[], vec![]);
    choose_config(&HpkeConfigList::get_decoded(&r.body).unwrap())
        .unwrap()
        .clone()
}

fn task_ids(d: &MemDeployment) -> Vec<String> {
    let r = api(d, Method::Get, "/api/task_ids", None);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["task_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn upload(p: &Pair, id: &TaskId, advert: Option<&str>, reports: Vec<Report>) -> Response {
    let mut h = vec![(
        "content-type".to_string(),
        MediaType::UploadReq.as_str().to_string(),
    )];
    if let Some(a) = advert {
        h.push(("dap-taskprov".into(), a.into()));
    }
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let body = UploadRequest { reports }.get_encoded().unwrap();
    p.leader
        .request(Method::Post, &format!("/tasks/{id}/reports"), &h, body)
}

fn problem(r: &Response) -> ProblemDocument {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| panic!("HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body)))
}

fn assert_refused(r: &Response, status: u16, kind: &str, detail: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    let d = problem(r);
    assert_eq!(
        d.type_,
        format!("urn:ietf:params:ppm:dap:error:{kind}"),
        "{d:?}"
    );
    let got = d.detail.clone().unwrap_or_default();
    assert!(got.contains(detail), "detail {got:?} lacks {detail:?}");
}

#[test]
fn a_task_runs_from_upload_to_collection_with_only_peer_configurations() {
    let p = pair();
    let vdaf = VdafConfig::Prio3Histogram {
        length: 4,
        chunk_length: 2,
    };
    let c = config(vdaf);
    let id = edap_core::task::derive_task_id(&c).unwrap();
    let advert = header::encode(&c).unwrap();
    let client = Client::new(id, c.clone(), hpke(&p.leader), hpke(&p.helper)).unwrap();
    let now = p.net.now_ms() / 1000;
    let reports: Vec<Report> = (0..20)
        .map(|i| client.report(&Measurement::Bucket(i % 4), now).unwrap())
        .collect();

    // Without the advertisement the Leader does not know the task.
    let r = upload(&p, &id, None, reports.clone());
    assert_refused(&r, 404, "unrecognizedTask", "unknown task");
    assert!(task_ids(&p.leader).is_empty());

    let r = upload(&p, &id, Some(&advert), reports);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.body.is_empty(), "every report accepted");
    assert_eq!(task_ids(&p.leader), vec![id.to_string()]);
    assert!(
        task_ids(&p.helper).is_empty(),
        "the Helper learns of it from the Leader"
    );

    // Aggregation: the Leader advertises the task on its job; the Helper opts in.
    p.net.run_until(120_000, || p.net.next_alarm().is_none());
    assert_eq!(task_ids(&p.helper), vec![id.to_string()]);
    let sent = p.net.sent.borrow();
    let to_helper: Vec<_> = sent.iter().filter(|r| r.url.starts_with(HELPER)).collect();
    assert!(!to_helper.is_empty());
    for r in &to_helper {
        assert_eq!(
            r.headers.get("dap-taskprov"),
            Some(advert.as_str()),
            "{}",
            r.url
        );
    }
    drop(sent);
    // Both derived the same verification key from the shared secret: every report verified.
    let t: serde_json::Value = serde_json::from_slice(
        &api(&p.helper, Method::Get, &format!("/api/tasks/{id}"), None).body,
    )
    .unwrap();
    assert_eq!(t["taskprov"], true, "{t}");
    // The derived key stays inside (the API never returns a verify key); that both
    // derived the same one shows in the exact collection below.
    assert!(t.get("vdaf_verify_key").is_none(), "{t}");

    // Collection, advertised as the Collector must.
    let query = Query::TimeInterval(Interval::new(now / 3600, 1));
    let req = collector::collection_job_req(query);
    let auth = format!("Bearer {COLLECTOR_TOKEN}");
    let ct = MediaType::CollectionJobReq.as_str();
    let resp = p.leader.request(
        Method::Post,
        &format!("/tasks/{id}/collection_jobs"),
        &[
            ("content-type", &ct),
            ("authorization", &auth),
            ("dap-taskprov", &advert),
        ],
        req.get_encoded().unwrap(),
    );
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    let location = resp.headers.get("location").unwrap().to_string();
    let mut body = resp.body;
    p.net.run_until(300_000, || {
        if body.is_empty() {
            body = p
                .leader
                .request(Method::Get, &location, &[("authorization", &auth)], vec![])
                .body;
        }
        !body.is_empty()
    });
    let resp = CollectionJobResp::get_decoded(&body).unwrap();
    let got = collector::finish(&id, &c, &p.collector_key, &req, &resp).unwrap();
    assert_eq!(got.report_count, 20);
    assert_eq!(got.result, AggregateResult::Vector(vec![5, 5, 5, 5]));
}

/// What each aggregator holds for any task (stored keys of task instances, task IDs).
fn nothing_stored(p: &Pair) {
    assert!(task_ids(&p.leader).is_empty(), "the Leader stored a task");
    assert!(task_ids(&p.helper).is_empty(), "the Helper stored a task");
}

#[test]
fn without_any_peer_the_header_is_ignored() {
    let net = MemNetwork::new(START_MS);
    let leader = net.deploy(LEADER, deployment_config());
    let c = config(VdafConfig::Prio3Count);
    let id = edap_core::task::derive_task_id(&c).unwrap();
    let r = leader.request(
        Method::Post,
        &format!("/tasks/{id}/reports"),
        &[
            ("content-type", &MediaType::UploadReq.as_str()),
            ("dap-taskprov", &header::encode(&c).unwrap()),
        ],
        UploadRequest { reports: vec![] }.get_encoded().unwrap(),
    );
    assert_refused(&r, 404, "unrecognizedTask", "unknown task");
}

#[test]
fn the_leader_refuses_bad_advertisements_and_stores_nothing() {
    let p = pair();
    let c = config(VdafConfig::Prio3Count);
    let id = edap_core::task::derive_task_id(&c).unwrap();

    // Tampered: the advertised configuration is not the one the task ID derives from.
    let mut t = c.clone();
    t.min_batch_size = 1;
    let r = upload(&p, &id, Some(&header::encode(&t).unwrap()), vec![]);
    assert_refused(&r, 404, "unrecognizedTask", "derives task ID");
    // Malformed.
    let r = upload(&p, &id, Some("not*base64"), vec![]);
    assert_refused(&r, 400, "invalidTask", "malformed dap-taskprov header");

    // An unknown peer: the task names a Helper this Leader is not peered with.
    let mut u = c.clone();
    u.helper_endpoint = "http://stranger.test/".into();
    let uid = edap_core::task::derive_task_id(&u).unwrap();
    let r = upload(&p, &uid, Some(&header::encode(&u).unwrap()), vec![]);
    assert_refused(
        &r,
        400,
        "invalidTask",
        "not peered with the Helper at http://stranger.test/",
    );

    // A VDAF this Leader does not implement (a type code it does not know)...
    let mut bytes = c.get_encoded().unwrap();
    let vdaf_at = bytes.len() - 2 - 2 - 4;
    bytes[vdaf_at..vdaf_at + 4].copy_from_slice(&0xFFFF_1003u32.to_be_bytes());
    let vid = header::task_id_of(&bytes);
    let r = upload(&p, &vid, Some(&base64url(&bytes)), vec![]);
    assert_refused(
        &r,
        400,
        "invalidTask",
        "VDAF type 0xffff1003 is not implemented",
    );
    // ... or one it refuses (longer than MAX_VDAF_LENGTH).
    let big = config(VdafConfig::Prio3Histogram {
        length: 1_000_000,
        chunk_length: 1000,
    });
    let bid = edap_core::task::derive_task_id(&big).unwrap();
    let r = upload(&p, &bid, Some(&header::encode(&big).unwrap()), vec![]);
    assert_refused(&r, 400, "invalidTask", "exceeds the limit");
    nothing_stored(&p);
    assert_eq!(p.leader.keys_by_kind(None).get("ReportShard"), None);
}

fn agg_job_init(p: &Pair, id: &TaskId, advert: &str, token: &str) -> Response {
    let ct = MediaType::AggregationJobInitReq.as_str();
    let auth = format!("Bearer {token}");
    p.helper.request(
        Method::Post,
        &format!("/tasks/{id}/aggregation_jobs"),
        &[
            ("content-type", &ct),
            ("authorization", &auth),
            ("dap-taskprov", advert),
        ],
        vec![],
    )
}

#[test]
fn the_helper_refuses_bad_advertisements_and_stores_nothing() {
    let p = pair();
    let c = config(VdafConfig::Prio3Count);
    let id = edap_core::task::derive_task_id(&c).unwrap();
    let advert = header::encode(&c).unwrap();

    let mut t = c.clone();
    t.task_info = b"tampered".to_vec();
    let r = agg_job_init(&p, &id, &header::encode(&t).unwrap(), AGG_TOKEN);
    assert_refused(&r, 404, "unrecognizedTask", "derives task ID");

    let mut u = c.clone();
    u.leader_endpoint = "http://stranger.test/".into();
    let uid = edap_core::task::derive_task_id(&u).unwrap();
    let r = agg_job_init(&p, &uid, &header::encode(&u).unwrap(), AGG_TOKEN);
    assert_refused(
        &r,
        400,
        "invalidTask",
        "not peered with the Leader at http://stranger.test/",
    );

    let ended = {
        let mut e = c.clone();
        e.set_task_interval(Some(Interval::new(0, 10)));
        e
    };
    let eid = edap_core::task::derive_task_id(&ended).unwrap();
    let r = agg_job_init(&p, &eid, &header::encode(&ended).unwrap(), AGG_TOKEN);
    assert_refused(&r, 400, "invalidTask", "the task has ended");

    let big = config(VdafConfig::Prio3SumVec {
        length: 1_000_000,
        max_measurement: 1,
        chunk_length: 1000,
    });
    let bid = edap_core::task::derive_task_id(&big).unwrap();
    let r = agg_job_init(&p, &bid, &header::encode(&big).unwrap(), AGG_TOKEN);
    assert_refused(&r, 400, "invalidTask", "exceeds the limit");

    // The right peer, the wrong token: 403 before anything is stored.
    let r = agg_job_init(&p, &id, &advert, "not-the-token");
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    // Other routes do not opt in: an aggregation job GET is unrecognizedTask.
    let r = p.helper.request(
        Method::Get,
        &format!(
            "/tasks/{id}/aggregation_jobs/{}?step=0",
            AggregationJobId([1; 16])
        ),
        &[
            ("authorization", &format!("Bearer {AGG_TOKEN}")),
            ("dap-taskprov", &advert),
        ],
        vec![],
    );
    assert_refused(&r, 404, "unrecognizedTask", "unknown task");
    nothing_stored(&p);

    // The same advertisement with the peer's token is taken (and only then stored).
    let r = agg_job_init(&p, &id, &advert, AGG_TOKEN);
    assert_ne!(r.status, 403);
    assert_eq!(task_ids(&p.helper), vec![id.to_string()]);
}
