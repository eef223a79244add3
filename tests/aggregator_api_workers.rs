//! The aggregator API under `wrangler dev --local`: a Leader and a Helper paired only
//! through it (the Helper's generated token, the dialect from its features), serving
//! uploads and a collection with the exact result; the auth and media-type errors; and a
//! key change through the API reaching the same isolate's `/hpke_config` at once (its
//! caches are dropped after successful API writes only, see `api::changes_state`).
//! Needs the prebuilt worker (scripts/test builds it).

use edap_core::api::aggregator_api::types::{AuthTokenJson, RoleJson, TokenHashJson};
use edap_core::api::aggregator_api::{TaskResp, MEDIA_TYPE};
use edap_core::hpke::HpkeKeypair;
use edap_core::messages::*;
use edap_core::roles::client::Client;
use edap_core::task::{AuthHeader, PeerDialect};
use edap_core::vdaf::{AggregateResult, Measurement};
use edap_testkit::base64url;
use edap_testkit::http::HttpResponse;
use edap_testkit::*;
use prio::codec::{Decode, Encode};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(120);

fn v(r: &HttpResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|_| json!(r.text()))
}

fn problem(r: &HttpResponse, status: u16) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(v(r)["status"], status);
}

fn hpke_ids(w: &Wrangler) -> Vec<u8> {
    let r = w.request("GET", "/hpke_config", &[], &[]);
    assert_eq!(r.status, 200);
    HpkeConfigList::get_decoded(&r.body)
        .unwrap()
        .0
        .iter()
        .map(|c| c.id.0)
        .collect()
}

#[test]
fn pairing_through_the_aggregator_api() {
    let cluster = Cluster::start("api");
    let (leader, helper) = (&cluster.leader, &cluster.helper);

    // GET /: the Leader's DAP URL from the Host header, the Helper's from DAP_URL.
    let r = leader.api("GET", "/", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some(MEDIA_TYPE));
    assert_eq!(v(&r)["dap_url"], leader.url());
    assert_eq!(v(&r)["protocol"], "DAP-18");
    let hc = v(&helper.api("GET", "/", None));
    assert_eq!(hc["dap_url"], cluster.helper_url());
    let features: Vec<String> = serde_json::from_value(hc["features"].clone()).unwrap();
    let dialect = PeerDialect::from_features(&features);

    // Auth and media types.
    let auth = format!("Bearer {API_TOKEN}");
    problem(
        &leader.request("GET", "/api/", &[("accept", MEDIA_TYPE)], &[]),
        401,
    );
    problem(
        &leader.request(
            "GET",
            "/api/",
            &[("accept", MEDIA_TYPE), ("authorization", "Bearer no")],
            &[],
        ),
        401,
    );
    problem(
        &leader.request("GET", "/api/", &[("authorization", &auth)], &[]),
        406,
    );
    problem(
        &leader.request(
            "GET",
            "/api/",
            &[("authorization", &auth), ("accept", "application/json")],
            &[],
        ),
        406,
    );
    problem(
        &leader.request(
            "POST",
            "/api/tasks",
            &[
                ("authorization", &auth),
                ("accept", MEDIA_TYPE),
                ("content-type", "application/json"),
            ],
            b"{}",
        ),
        415,
    );
    problem(
        &leader.api("GET", &format!("/tasks/{}", TaskId([1; 32])), None),
        404,
    );
    problem(
        &leader.api("POST", "/tasks", Some(json!({"role": "Leader"}))),
        400,
    );

    // The Helper first: it generates the Leader's token and returns it once.
    let config = edap_core::api::provision::TaskConfigSpec {
        task_info: format!("api-workers-{}", std::process::id()),
        leader_endpoint: leader.url(),
        helper_endpoint: cluster.helper_url(),
        time_precision: 3600,
        min_batch_size: 10,
        batch_mode: "time_interval".into(),
        vdaf: VdafConfig::Prio3SumVec {
            length: 3,
            max_measurement: 15,
            chunk_length: 2,
        },
        task_start: None,
        task_end: None,
    }
    .to_config()
    .unwrap();
    let collector_key =
        HpkeKeypair::generate(HpkeConfigId(3), HpkeKemId::X25519_HKDF_SHA256).unwrap();
    let vk = base64url(&edap_core::rand::array::<32>());
    let mut hreq = post_task_req(&config, RoleJson::Helper, &vk, &collector_key);
    hreq.schedule = Some(schedule());
    let hr = helper.api("POST", "/tasks", Some(serde_json::to_value(&hreq).unwrap()));
    assert_eq!(hr.status, 200, "{}", hr.text());
    let ht: TaskResp = serde_json::from_slice(&hr.body).unwrap();
    let token = ht.aggregator_auth_token.clone().expect("a generated token");
    let again = helper.api("POST", "/tasks", Some(serde_json::to_value(&hreq).unwrap()));
    assert_eq!(
        (again.status, v(&again)["aggregator_auth_token"].clone()),
        (200, Value::Null)
    );
    let mut conflicting = hreq.clone();
    conflicting.min_batch_size = Some(11);
    problem(
        &helper.api(
            "POST",
            "/tasks",
            Some(serde_json::to_value(&conflicting).unwrap()),
        ),
        409,
    );

    // Then the Leader, with that token.
    let mut lreq = post_task_req(&config, RoleJson::Leader, &vk, &collector_key);
    lreq.schedule = Some(schedule());
    lreq.aggregator_auth_token = Some(token.clone());
    lreq.collector_auth_token_hash = Some(TokenHashJson::of(&AuthTokenJson::new(
        AuthHeader::Bearer,
        COLLECTOR_TOKEN.into(),
    )));
    lreq.helper_dialect = Some(dialect);
    let lr = leader.api("POST", "/tasks", Some(serde_json::to_value(&lreq).unwrap()));
    assert_eq!(lr.status, 200, "{}", lr.text());
    let lt: TaskResp = serde_json::from_slice(&lr.body).unwrap();
    assert_eq!((lt.task_id, &lt.task_config), (ht.task_id, &ht.task_config));
    assert_eq!(lt.task_config, base64url(&config.get_encoded().unwrap()));
    let ids = v(&leader.api("GET", "/task_ids", None));
    assert!(ids["task_ids"]
        .as_array()
        .unwrap()
        .contains(&json!(lt.task_id.to_base64url())));

    // The Helper takes the generated token and refuses a wrong one.
    let jobs = format!("/tasks/{}/aggregation_jobs", lt.task_id);
    let init = edap_core::media::MediaType::AggregationJobInitReq.as_str();
    let wrong = helper.request(
        "POST",
        &jobs,
        &[("content-type", &init), ("authorization", "Bearer wrong")],
        b"\x00",
    );
    assert_eq!(wrong.status, 403);
    let right = format!("Bearer {}", token.token());
    let r = helper.request(
        "POST",
        &jobs,
        &[("content-type", &init), ("authorization", &right)],
        b"\x00",
    );
    assert_eq!(r.status, 400, "past auth: {}", r.text());

    // Uploads, aggregation and a collection, exact.
    let hpke = |port: u16| {
        let r = edap_testkit::http::request(port, "GET", "/hpke_config", &[], &[]).unwrap();
        HpkeConfigList::get_decoded(&r.body).unwrap().0[0].clone()
    };
    let client = Client::new(
        lt.task_id,
        config.clone(),
        hpke(leader.port),
        hpke(cluster.proxy.port),
    )
    .unwrap();
    let task = TestTask {
        task_id: lt.task_id,
        config,
        client,
        collector_key,
        leader_port: leader.port,
    };
    let ms: Vec<Measurement> = (0..25u64)
        .map(|i| Measurement::Vector(vec![i % 16, 1, 15]))
        .collect();
    assert!(task.upload(&task.reports(&ms), 10).is_empty());
    let stats = task.wait_processed(25, WAIT);
    assert_eq!(stats.get("aggregated"), Some(&25));
    let m = v(&leader.api(
        "GET",
        &format!("/tasks/{}/metrics/aggregations", lt.task_id),
        None,
    ));
    assert_eq!(m["success"], 25);
    let u = v(&leader.api(
        "GET",
        &format!("/tasks/{}/metrics/uploads", lt.task_id),
        None,
    ));
    assert_eq!(u["report_success"], 25);
    let c = task
        .collect(Query::TimeInterval(task.current_interval()), WAIT)
        .unwrap();
    let sum = ms.iter().map(|m| match m {
        Measurement::Vector(v) => u128::from(v[0]),
        _ => 0,
    });
    assert_eq!(c.report_count, 25);
    assert_eq!(c.result, AggregateResult::Vector(vec![sum.sum(), 25, 375]));

    // A key activated through the API is advertised at once by this isolate, which had
    // the key set cached.
    assert_eq!(hpke_ids(helper), vec![1]);
    let p = helper.api(
        "PUT",
        "/hpke_configs",
        Some(json!({"kem_id": "P256HkdfSha256"})),
    );
    assert_eq!(p.status, 201, "{}", p.text());
    let id = v(&p)["config"]["id"].as_u64().unwrap();
    assert_eq!(hpke_ids(helper), vec![1], "pending is not advertised");
    let r = helper.api(
        "PATCH",
        &format!("/hpke_configs/{id}"),
        Some(json!({"state": "active"})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(hpke_ids(helper), vec![id as u8, 1]);
    assert_eq!(
        helper
            .api("DELETE", &format!("/hpke_configs/{id}"), None)
            .status,
        204
    );
    assert_eq!(hpke_ids(helper), vec![1]);

    // DELETE removes the task from the API at once.
    assert_eq!(
        leader
            .api("DELETE", &format!("/tasks/{}", lt.task_id), None)
            .status,
        204
    );
    problem(
        &leader.api("GET", &format!("/tasks/{}", lt.task_id), None),
        404,
    );
}
