//! Taskprov under `wrangler dev --local`: a Leader and a Helper told only about each other
//! (taskprov peers through the aggregator API) run a task that neither was given, from an
//! advertised upload to an advertised collection; a tampered advertisement and an unknown
//! peer are refused with nothing stored. Needs the prebuilt worker (scripts/test builds it).

use edap_core::api::aggregator_api::types::HpkeConfigJson;
use edap_core::hpke::HpkeKeypair;
use edap_core::media::MediaType;
use edap_core::messages::*;
use edap_core::roles::client::Client;
use edap_core::roles::collector;
use edap_core::taskprov::header;
use edap_core::vdaf::{AggregateResult, Measurement};
use edap_testkit::base64url;
use edap_testkit::*;
use prio::codec::{Decode, Encode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(120);

fn task_ids(w: &Wrangler) -> Vec<Value> {
    let r = w.api("GET", "/task_ids", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["task_ids"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_task_runs_with_only_peer_configurations() {
    let cluster = Cluster::start("taskprov");
    let (leader, helper) = (&cluster.leader, &cluster.helper);
    let collector_key =
        HpkeKeypair::generate(HpkeConfigId(5), HpkeKemId::X25519_HKDF_SHA256).unwrap();
    let peer = |endpoint: String, role: &str| {
        json!({"endpoint": endpoint, "peer_role": role,
            "aggregation_mode": if role == "Leader" { json!("Synchronous") } else { Value::Null },
            "collector_hpke_config": HpkeConfigJson::from(&collector_key.config),
            "verify_key_init": base64url(&edap_core::rand::array::<32>()),
            "aggregator_auth_tokens": [{"type": "Bearer", "token": AGG_TOKEN}],
            "collector_auth_tokens": if role == "Helper" {
                json!([{"type": "Bearer", "token": COLLECTOR_TOKEN}])
            } else { json!([]) }})
    };
    // Both sides share one verify_key_init.
    let mut hp = peer(leader.url(), "Leader");
    let mut lp = peer(cluster.helper_url(), "Helper");
    lp["verify_key_init"] = hp["verify_key_init"].clone();
    hp["aggregation_mode"] = json!("Synchronous");
    for (w, body) in [(helper, hp), (leader, lp)] {
        let r = w.api("POST", "/taskprov/peer_aggregators", Some(body));
        assert_eq!(r.status, 201, "{}", r.text());
    }

    let config = TaskConfiguration {
        task_info: format!("taskprov-workers-{}", std::process::id()).into_bytes(),
        leader_endpoint: leader.url(),
        helper_endpoint: cluster.helper_url(),
        time_precision: 3600,
        min_batch_size: 10,
        batch_mode: BatchMode::TimeInterval,
        vdaf: VdafConfig::Prio3Count,
        extensions: Extensions::empty(),
    };
    let id = edap_core::task::derive_task_id(&config).unwrap();
    let advert = header::encode(&config).unwrap();
    let hpke = |w: &Wrangler| {
        let r = w.request("GET", "/hpke_config", &[], &[]);
        HpkeConfigList::get_decoded(&r.body).unwrap().0[0].clone()
    };
    let client = Client::new(id, config.clone(), hpke(leader), hpke(helper)).unwrap();
    let now = now_secs();
    let body = UploadRequest {
        reports: (0..12)
            .map(|i| client.report(&Measurement::Count(i % 3 == 0), now).unwrap())
            .collect(),
    }
    .get_encoded()
    .unwrap();
    let upload_ct = MediaType::UploadReq.as_str();
    let path = format!("/tasks/{id}/reports");

    // Refusals first: nothing is stored.
    let mut tampered = config.clone();
    tampered.min_batch_size = 1;
    let t = header::encode(&tampered).unwrap();
    let r = leader.request(
        "POST",
        &path,
        &[("content-type", &upload_ct), ("dap-taskprov", &t)],
        &body,
    );
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.text().contains("unrecognizedTask"), "{}", r.text());
    let mut stranger = config.clone();
    stranger.helper_endpoint = "http://127.0.0.1:9/".into();
    let sid = edap_core::task::derive_task_id(&stranger).unwrap();
    let r = leader.request(
        "POST",
        &format!("/tasks/{sid}/reports"),
        &[
            ("content-type", &upload_ct),
            ("dap-taskprov", &header::encode(&stranger).unwrap()),
        ],
        &body,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("invalidTask"), "{}", r.text());
    assert!(task_ids(leader).is_empty() && task_ids(helper).is_empty());

    // The advertised upload: the Leader opts in, then the Helper on the first job.
    let r = leader.request(
        "POST",
        &path,
        &[("content-type", &upload_ct), ("dap-taskprov", &advert)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.is_empty(), "every report accepted");

    let req = collector::collection_job_req(Query::TimeInterval(Interval::new(now / 3600, 1)));
    let auth = format!("Bearer {COLLECTOR_TOKEN}");
    let coll_ct = MediaType::CollectionJobReq.as_str();
    let r = leader.request(
        "POST",
        &format!("/tasks/{id}/collection_jobs"),
        &[
            ("content-type", &coll_ct),
            ("authorization", &auth),
            ("dap-taskprov", &advert),
        ],
        &req.get_encoded().unwrap(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let location = r.header("location").unwrap().to_string();
    let mut result = r.body.clone();
    let deadline = Instant::now() + WAIT;
    while result.is_empty() {
        assert!(Instant::now() < deadline, "the collection did not finish");
        std::thread::sleep(Duration::from_millis(500));
        let r = leader.request("GET", &location, &[("authorization", &auth)], &[]);
        assert!(r.status < 400, "{}", r.text());
        result = r.body;
    }
    let resp = CollectionJobResp::get_decoded(&result).unwrap();
    let got = collector::finish(&id, &config, &collector_key, &req, &resp).unwrap();
    assert_eq!(got.report_count, 12);
    assert_eq!(got.result, AggregateResult::Scalar(4));
    assert_eq!(task_ids(helper), vec![json!(id.to_base64url())]);
}
