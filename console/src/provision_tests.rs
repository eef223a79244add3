//! Provisioning against a fake aggregator API: the order of requests, what each carries,
//! and the roll-back when the Leader fails after the Helper succeeded.

use super::*;
use edap_core::api::provision::TaskConfigSpec;
use edap_core::hpke::HpkeKeypair;
use edap_core::messages::{HpkeConfigId, HpkeKemId, VdafConfig};
use std::cell::RefCell;

type Call = (String, String, Option<serde_json::Value>);
type Answerer = Box<dyn Fn(&str, &str, Option<&serde_json::Value>) -> Result<ApiAnswer, String>>;

struct Fake {
    calls: RefCell<Vec<Call>>,
    answer: Answerer,
}

impl AggregatorApi for Fake {
    async fn send(
        &self,
        method: &str,
        url: &str,
        token: &str,
        body: Option<Vec<u8>>,
    ) -> Result<ApiAnswer, String> {
        assert!(
            token == "leader-api-token" || token == "helper-api-token",
            "{token}"
        );
        let v = body.map(|b| serde_json::from_slice(&b).unwrap());
        self.calls
            .borrow_mut()
            .push((method.to_string(), url.to_string(), v.clone()));
        (self.answer)(method, url, v.as_ref())
    }
}

fn info(dap_url: &str) -> AggregatorInfo {
    AggregatorInfo {
        protocol: "DAP-18".into(),
        dap_url: dap_url.into(),
        role: "Either".into(),
        vdafs: vec!["Prio3Histogram".into()],
        batch_modes: vec!["TimeInterval".into()],
        features: vec!["PostResourceCreation".into()],
        software_name: "edap".into(),
        software_version: "0".into(),
    }
}

fn endpoints() -> (Endpoint, Endpoint) {
    (
        Endpoint {
            name: "Leader L".into(),
            api_url: "https://l.example/api/".into(),
            token: "leader-api-token".into(),
            info: info("https://l.example/"),
        },
        Endpoint {
            name: "Helper H".into(),
            api_url: "https://h.example/api/".into(),
            token: "helper-api-token".into(),
            info: info("https://h.example/"),
        },
    )
}

fn plan() -> Plan {
    let spec = TaskConfigSpec {
        task_info: "colours [t1]".into(),
        leader_endpoint: "https://l.example/".into(),
        helper_endpoint: "https://h.example/".into(),
        time_precision: 3600,
        min_batch_size: 100,
        batch_mode: "time_interval".into(),
        vdaf: VdafConfig::Prio3Histogram {
            length: 3,
            chunk_length: 1,
        },
        task_start: None,
        task_end: None,
    };
    let key = HpkeKeypair::generate(HpkeConfigId(1), HpkeKemId::X25519_HKDF_SHA256).unwrap();
    Plan::new(
        spec.to_config().unwrap(),
        HpkeConfigJson::from(&key.config),
        base64url(&[5u8; 32]),
    )
    .unwrap()
}

/// The TaskResp an aggregator would answer for `req`.
fn task_resp(plan: &Plan, req: &serde_json::Value, token: Option<&str>) -> ApiAnswer {
    let v = serde_json::json!({
        "task_id": plan.task_id, "peer_aggregator_endpoint": req["peer_aggregator_endpoint"],
        "batch_mode": req["batch_mode"], "vdaf": req["vdaf"], "role": req["role"],
        "vdaf_verify_key": req["vdaf_verify_key"], "task_info": req["task_info"],
        "task_start": null, "task_duration": null, "report_expiry_age": 168,
        "min_batch_size": 100, "time_precision": 3600, "tolerable_clock_skew": 1,
        "aggregator_auth_token": token.map(|t| serde_json::json!({"type": "Bearer", "token": t})),
        "collector_hpke_config": req["collector_hpke_config"], "deactivate_at": null,
        "task_config": plan.encoded
    });
    ApiAnswer {
        status: 200,
        body: serde_json::to_vec(&v).unwrap(),
    }
}

fn run(f: Fake, p: &Plan) -> (Result<(), String>, Vec<Call>) {
    let (l, h) = endpoints();
    let r = futures::executor::block_on(provision(&f, &l, &h, p));
    (r, f.calls.into_inner())
}

#[test]
fn helper_first_then_leader_with_its_token() {
    let p = plan();
    let p2 = p.clone();
    let fake = Fake {
        calls: RefCell::new(vec![]),
        answer: Box::new(move |_m, url, body| {
            let body = body.unwrap();
            Ok(if url.starts_with("https://h.example") {
                task_resp(&p2, body, Some("generated-by-helper"))
            } else {
                task_resp(&p2, body, None)
            })
        }),
    };
    let (r, calls) = run(fake, &p);
    r.unwrap();
    assert_eq!(calls.len(), 2);
    let (m, url, helper_req) = &calls[0];
    assert_eq!(
        (m.as_str(), url.as_str()),
        ("POST", "https://h.example/api/tasks")
    );
    let helper_req = helper_req.as_ref().unwrap();
    assert_eq!(helper_req["role"], "Helper");
    assert_eq!(helper_req["task_config"], p.encoded);
    assert_eq!(helper_req["task_id"], p.task_id.to_base64url());
    assert_eq!(helper_req["peer_aggregator_endpoint"], "https://l.example/");
    assert!(helper_req.get("aggregator_auth_token").is_none());
    let (_, url, leader_req) = &calls[1];
    assert_eq!(url, "https://l.example/api/tasks");
    let leader_req = leader_req.as_ref().unwrap();
    assert_eq!(leader_req["role"], "Leader");
    assert_eq!(
        leader_req["aggregator_auth_token"]["token"],
        "generated-by-helper"
    );
    assert_eq!(
        leader_req["collector_auth_token_hash"]["hash"],
        p.collector_token_hash
    );
    assert_eq!(leader_req["helper_dialect"], "post");
    assert_eq!(leader_req["vdaf_verify_key"], helper_req["vdaf_verify_key"]);
    assert_eq!(leader_req["task_config"], helper_req["task_config"]);
}

#[test]
fn a_failing_leader_leaves_neither_task() {
    for failure in ["503", "unreachable", "other config"] {
        let p = plan();
        let p2 = p.clone();
        let fake = Fake {
            calls: RefCell::new(vec![]),
            answer: Box::new(move |m, url, body| {
                if m == "DELETE" {
                    return Ok(ApiAnswer {
                        status: 204,
                        body: vec![],
                    });
                }
                if url.starts_with("https://h.example") {
                    return Ok(task_resp(&p2, body.unwrap(), Some("tok")));
                }
                match failure {
                    "503" => Ok(ApiAnswer {
                        status: 503,
                        body: br#"{"type":"about:blank","detail":"storage unavailable"}"#.to_vec(),
                    }),
                    "unreachable" => Err("connection refused".into()),
                    _ => {
                        let mut a = task_resp(&p2, body.unwrap(), None);
                        let mut v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
                        v["task_config"] = "AAAA".into();
                        a.body = serde_json::to_vec(&v).unwrap();
                        Ok(a)
                    }
                }
            }),
        };
        let (r, calls) = run(fake, &p);
        let e = r.unwrap_err();
        assert!(
            e.contains("the Leader (Leader L) did not create the task"),
            "{e}"
        );
        assert!(e.contains("nothing was left behind"), "{e}");
        let deletes: Vec<&str> = calls
            .iter()
            .filter(|c| c.0 == "DELETE")
            .map(|c| c.1.as_str())
            .collect();
        let id = p.task_id.to_base64url();
        assert_eq!(
            deletes,
            [
                format!("https://h.example/api/tasks/{id}"),
                format!("https://l.example/api/tasks/{id}")
            ],
            "{failure}"
        );
        if failure == "503" {
            assert!(e.contains("storage unavailable"), "{e}");
        }
    }
}

#[test]
fn a_refusing_helper_stops_before_the_leader() {
    let p = plan();
    let fake = Fake {
        calls: RefCell::new(vec![]),
        answer: Box::new(|_, _, _| {
            Ok(ApiAnswer {
                status: 400,
                body: br#"{"detail":"min_batch_size 100 is below this deployment's floor of 500"}"#
                    .to_vec(),
            })
        }),
    };
    let (r, calls) = run(fake, &p);
    let e = r.unwrap_err();
    assert!(
        e.contains("Helper (Helper H) did not create") && e.contains("floor of 500"),
        "{e}"
    );
    assert_eq!(calls.len(), 1);
}

#[test]
fn a_helper_without_token_or_with_another_id_is_rolled_back() {
    for case in ["no token", "other id"] {
        let p = plan();
        let p2 = p.clone();
        let fake = Fake {
            calls: RefCell::new(vec![]),
            answer: Box::new(move |m, _url, body| {
                if m == "DELETE" {
                    return Ok(ApiAnswer {
                        status: 404,
                        body: vec![],
                    });
                }
                let mut a = task_resp(&p2, body.unwrap(), (case == "other id").then_some("t"));
                if case == "other id" {
                    let mut v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
                    v["task_id"] = TaskId([1; 32]).to_base64url().into();
                    a.body = serde_json::to_vec(&v).unwrap();
                }
                Ok(a)
            }),
        };
        let (r, calls) = run(fake, &p);
        let e = r.unwrap_err();
        assert!(e.contains("nothing was left behind"), "{case}: {e}");
        assert_eq!(calls.iter().filter(|c| c.0 == "POST").count(), 1, "{case}");
        assert_eq!(calls.last().unwrap().0, "DELETE");
    }
}

#[test]
fn answers_are_described_without_bodies_that_say_nothing() {
    let a = ApiAnswer {
        status: 502,
        body: vec![],
    };
    assert_eq!(detail(&a), "HTTP 502");
    let a = ApiAnswer {
        status: 400,
        body: br#"{"detail":" bad vdaf "}"#.to_vec(),
    };
    assert_eq!(detail(&a), "HTTP 400: bad vdaf");
    assert_eq!(api_join("https://x/api/", "/tasks"), "https://x/api/tasks");
}
