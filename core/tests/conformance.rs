//! One test per deviation a line-by-line DAP-18 review found (issue 14): each answer is
//! exactly what the spec says. Where a test plays the Leader against the Helper itself, it
//! seals the Leader's input shares to its own key and runs the Leader's VDAF step.

mod common;

use common::*;
use edap_core::hpke::{HpkeKeypair, HpkeReceiverSet};
use edap_core::http::{Method, Response};
use edap_core::media::MediaType;
use edap_core::messages::*;
use edap_core::roles::client::Client;
use edap_core::roles::{collector, open_input_share, InputShareContext};
use edap_core::vdaf::{self, Measurement};
use prio::codec::{Decode, Encode};

fn problem(r: &Response) -> String {
    serde_json::from_slice::<edap_core::ProblemDocument>(&r.body)
        .map(|d| d.type_)
        .unwrap_or_else(|_| format!("HTTP {} {}", r.status, String::from_utf8_lossy(&r.body)))
}

fn dap(kind: &str) -> String {
    format!("urn:ietf:params:ppm:dap:error:{kind}")
}

/// `Extension extensions<0..2^16-1>` from `(type, data)` pairs in the given order.
fn raw_extensions(items: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, d) in items {
        body.extend_from_slice(&t.to_be_bytes());
        body.extend_from_slice(&(d.len() as u16).to_be_bytes());
        body.extend_from_slice(d);
    }
    let mut out = (body.len() as u16).to_be_bytes().to_vec();
    out.extend(body);
    out
}

fn unordered() -> Extensions {
    Extensions::get_decoded(&raw_extensions(&[(7, b""), (3, b"x")])).unwrap()
}

/// A test playing the Leader: its own HPKE key, the task's verify key, and a Client that
/// seals Leader shares to that key.
struct FakeLeader {
    keys: HpkeReceiverSet,
    client: Client,
}

impl FakeLeader {
    fn new(env: &Env) -> FakeLeader {
        let kp = HpkeKeypair::generate(HpkeConfigId(3), HpkeKemId::X25519_HKDF_SHA256).unwrap();
        let r = env.helper.request(Method::Get, "/hpke_config", &[], vec![]);
        let list = HpkeConfigList::get_decoded(&r.body).unwrap();
        let helper = edap_core::roles::client::choose_config(&list)
            .unwrap()
            .clone();
        let client =
            Client::new(env.task_id, env.config.clone(), kp.config.clone(), helper).unwrap();
        FakeLeader {
            keys: HpkeReceiverSet::single(kp),
            client,
        }
    }

    /// The Leader's `VerifyInit` for a report (a placeholder payload when the Leader's own
    /// share cannot be opened, e.g. for reports that carry extensions).
    fn verify_init(&self, env: &Env, r: &Report) -> VerifyInit {
        let cx = InputShareContext {
            task_id: &env.task_id,
            config: &env.config,
            role: Role::Leader,
            keys: &self.keys,
            now_secs: now_secs(env),
            skew_secs: 300,
            retention: edap_core::store::ttl::Retention {
                time_precision: PRECISION,
                report_expiry_age: edap_core::task::DEFAULT_REPORT_EXPIRY_AGE,
            },
        };
        let payload = match open_input_share(
            &cx,
            &r.metadata,
            &r.public_share,
            &r.leader_encrypted_input_share,
            None,
        ) {
            Ok(share) => {
                let inst = edap_core::vdaf::Prio3Instance::for_dap(&env.config.vdaf).unwrap();
                let ctx = vdaf::vdaf_context(&env.task_id);
                edap_core::with_prio3!(&inst, |v| vdaf::leader_init(
                    v,
                    &env.verify_key,
                    &ctx,
                    &r.metadata.report_id,
                    &r.public_share,
                    &share.payload
                )
                .unwrap()
                .1)
            }
            Err(_) => vec![0],
        };
        VerifyInit {
            report_share: ReportShare {
                metadata: r.metadata.clone(),
                public_share: r.public_share.clone(),
                encrypted_input_share: r.helper_encrypted_input_share.clone(),
            },
            payload,
        }
    }

    fn init(&self, env: &Env, reports: &[Report]) -> AggregationJobInitReq {
        AggregationJobInitReq {
            verification_key_id: 0,
            agg_param: Vec::new(),
            extensions: Extensions::empty(),
            verify_inits: reports.iter().map(|r| self.verify_init(env, r)).collect(),
        }
    }
}

fn helper_request(
    env: &Env,
    method: Method,
    path: &str,
    media: Option<MediaType>,
    body: Vec<u8>,
) -> Response {
    let mut headers = vec![("authorization".to_string(), format!("Bearer {AGG_TOKEN}"))];
    if let Some(m) = media {
        headers.push(("content-type".into(), m.as_str()));
    }
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    env.helper.request(method, path, &h, body)
}

fn post_job(env: &Env, init: &AggregationJobInitReq) -> Response {
    helper_request(
        env,
        Method::Post,
        &format!("/tasks/{}/aggregation_jobs", env.task_id),
        Some(MediaType::AggregationJobInitReq),
        init.get_encoded().unwrap(),
    )
}

fn results(r: &Response) -> Vec<VerifyRespResult> {
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    AggregationJobResp::get_decoded(&r.body)
        .unwrap()
        .verify_resps
        .into_iter()
        .map(|v| v.result)
        .collect()
}

/// Row 1: out-of-order or repeated collection job extensions are `invalidExtension` at the
/// Leader and at the Helper.
#[test]
fn unordered_collection_job_extensions_are_invalid_extension() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let query = Query::TimeInterval(env.current_interval());
    let good = CollectionJobReq {
        query,
        agg_param: Vec::new(),
        extensions: Extensions::empty(),
    };
    // The same request with an out-of-order (and one with a repeated) extension list.
    for list in [
        raw_extensions(&[(9, b""), (2, b"")]),
        raw_extensions(&[(2, b""), (2, b"")]),
    ] {
        let mut body = good.get_encoded().unwrap();
        body.truncate(body.len() - 2);
        body.extend_from_slice(&list);
        let r = env.leader.request(
            Method::Post,
            &format!("/tasks/{}/collection_jobs", env.task_id),
            &[
                ("content-type", &MediaType::CollectionJobReq.as_str()),
                ("authorization", &format!("Bearer {COLLECTOR_TOKEN}")),
            ],
            body.clone(),
        );
        assert_eq!(problem(&r), dap("invalidExtension"));
        let cjr = CollectionJobReq::get_decoded(&body).unwrap();
        let share = AggregateShareReq {
            collection_job_req: cjr,
            batch_selector: BatchSelector::TimeInterval(env.current_interval()),
            report_count: 0,
            checksum: [0; 32],
        };
        let r = helper_request(
            &env,
            Method::Post,
            &format!("/tasks/{}/aggregate_shares", env.task_id),
            Some(MediaType::AggregateShareReq),
            share.get_encoded().unwrap(),
        );
        assert_eq!(problem(&r), dap("invalidExtension"));
    }
}

/// Row 2: one report with unordered public extensions is one invalid report
/// (`invalid_message`), in an upload and in an aggregation job; the others go on.
#[test]
fn a_report_with_unordered_extensions_is_only_that_report_invalid() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let now = now_secs(&env);
    let bad = env
        .client
        .report_with_public_extensions(&Measurement::Count(true), now, unordered())
        .unwrap();
    let good = env.report(&Measurement::Count(true));
    let errs = env.upload(&[bad.clone(), good]);
    assert_eq!(
        errs,
        vec![(bad.metadata.report_id, ReportError::InvalidMessage)]
    );

    let leader = FakeLeader::new(&env);
    let bad = leader
        .client
        .report_with_public_extensions(&Measurement::Count(true), now, unordered())
        .unwrap();
    let goods: Vec<Report> = (0..2)
        .map(|_| {
            leader
                .client
                .report(&Measurement::Count(false), now)
                .unwrap()
        })
        .collect();
    let init = leader.init(&env, &[goods[0].clone(), bad, goods[1].clone()]);
    let out = results(&post_job(&env, &init));
    assert!(matches!(out[0], VerifyRespResult::Continue(_)), "{out:?}");
    assert_eq!(
        out[1],
        VerifyRespResult::Reject(ReportError::InvalidMessage)
    );
    assert!(matches!(out[2], VerifyRespResult::Continue(_)), "{out:?}");
}

/// Row 3: a Helper share sealed to an HPKE config ID the Helper does not have is
/// `hpke_decrypt_error`.
#[test]
fn an_unknown_hpke_config_id_is_a_decrypt_error() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let leader = FakeLeader::new(&env);
    let mut r = leader
        .client
        .report(&Measurement::Count(true), now_secs(&env))
        .unwrap();
    r.helper_encrypted_input_share.config_id = HpkeConfigId(99);
    let out = results(&post_job(&env, &leader.init(&env, &[r])));
    assert_eq!(
        out,
        vec![VerifyRespResult::Reject(ReportError::HpkeDecryptError)]
    );
}

fn share_req(env: &Env, agg_param: Vec<u8>, count: u64, checksum: [u8; 32]) -> Vec<u8> {
    let interval = env.current_interval();
    let mut cjr = collector::collection_job_req(Query::TimeInterval(interval));
    cjr.agg_param = agg_param;
    AggregateShareReq {
        collection_job_req: cjr,
        batch_selector: BatchSelector::TimeInterval(interval),
        report_count: count,
        checksum,
    }
    .get_encoded()
    .unwrap()
}

/// Row 4: a wrong aggregation parameter in the Helper's aggregate-share request is
/// `invalidMessage`.
#[test]
fn a_wrong_agg_param_at_the_helpers_aggregate_share_is_invalid_message() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let r = helper_request(
        &env,
        Method::Post,
        &format!("/tasks/{}/aggregate_shares", env.task_id),
        Some(MediaType::AggregateShareReq),
        share_req(&env, vec![1, 2], 0, [0; 32]),
    );
    assert_eq!(problem(&r), dap("invalidMessage"));
}

/// Row 5: a deleted aggregate share is gone: GET and a repeated POST answer an error, not
/// the empty 200 that means "still pending".
#[test]
fn a_deleted_aggregate_share_answers_an_error_not_pending() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let reports: Vec<Report> = (0..10)
        .map(|_| env.report(&Measurement::Count(true)))
        .collect();
    assert!(env.upload(&reports).is_empty());
    env.aggregate();
    let mut sum = [0u8; 32];
    for r in &reports {
        edap_core::store::buckets::xor_into(
            &mut sum,
            &edap_core::store::buckets::report_checksum(&r.metadata.report_id),
        );
    }
    let body = share_req(&env, Vec::new(), 10, sum);
    let path = format!("/tasks/{}/aggregate_shares", env.task_id);
    let created = helper_request(
        &env,
        Method::Post,
        &path,
        Some(MediaType::AggregateShareReq),
        body.clone(),
    );
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let location = created.headers.get("location").unwrap().to_string();
    let del = helper_request(&env, Method::Delete, &location, None, vec![]);
    assert!(del.status < 300);
    for r in [
        helper_request(&env, Method::Get, &location, None, vec![]),
        helper_request(
            &env,
            Method::Post,
            &path,
            Some(MediaType::AggregateShareReq),
            body,
        ),
    ] {
        assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
        assert!(
            !r.body.is_empty(),
            "a problem document, not an empty pending answer"
        );
    }
}

/// Row 6: continuations: an unknown or deleted job is `unrecognizedAggregationJob`, a
/// report ID the job does not hold `invalidMessage`, and a step past Prio3's one round
/// `stepMismatch`.
#[test]
fn continuation_errors_say_what_is_wrong() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let leader = FakeLeader::new(&env);
    let reports: Vec<Report> = (0..2)
        .map(|_| {
            leader
                .client
                .report(&Measurement::Count(true), now_secs(&env))
                .unwrap()
        })
        .collect();
    let created = post_job(&env, &leader.init(&env, &reports));
    assert_eq!(created.status, 201);
    let location = created.headers.get("location").unwrap().to_string();
    let cont = |ids: Vec<ReportId>| {
        AggregationJobContinueReq {
            step: 1,
            verify_continues: ids
                .into_iter()
                .map(|report_id| VerifyContinue {
                    report_id,
                    payload: vec![1],
                })
                .collect(),
        }
        .get_encoded()
        .unwrap()
    };
    let post = |loc: &str, body: Vec<u8>| {
        helper_request(
            &env,
            Method::Post,
            loc,
            Some(MediaType::AggregationJobContinueReq),
            body,
        )
    };
    let known = vec![reports[0].metadata.report_id];
    assert_eq!(
        problem(&post(&location, cont(known.clone()))),
        dap("stepMismatch")
    );
    assert_eq!(
        problem(&post(&location, cont(vec![ReportId::random()]))),
        dap("invalidMessage")
    );
    let unknown = format!(
        "/tasks/{}/aggregation_jobs/{}",
        env.task_id,
        AggregationJobId::random()
    );
    assert_eq!(
        problem(&post(&unknown, cont(known.clone()))),
        dap("unrecognizedAggregationJob")
    );
    let del = helper_request(&env, Method::Delete, &location, None, vec![]);
    assert!(del.status < 300);
    assert_eq!(
        problem(&post(&location, cont(known))),
        dap("unrecognizedAggregationJob")
    );
}

/// Row 7: the HPKE configuration favours a long cache lifetime (days), and it is the one
/// the deployment's key rotation honours.
#[test]
fn the_hpke_config_is_cacheable_for_days() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let r = env.leader.request(Method::Get, "/hpke_config", &[], vec![]);
    let cc = r.headers.get("cache-control").unwrap();
    let age: u64 = cc.strip_prefix("max-age=").unwrap().parse().unwrap();
    assert!(age >= 86_400, "{cc}");
    assert_eq!(age, deployment_config().hpke_config_max_age_secs);
}

/// Row 8: `Location` values of every RFC 3986 reference form are followed correctly.
#[test]
fn every_form_of_location_reference_is_followed() {
    for form in ["absolute", "absolute-path", "relative", "network-path"] {
        let env = Env::with_helper_config(
            VdafConfig::Prio3Count,
            BatchMode::TimeInterval,
            None,
            edap_core::platform::DeploymentConfig {
                // Every job is deferred, so the Leader must follow the Location.
                helper_async_threshold: 0,
                ..deployment_config()
            },
        );
        let rewrite = form;
        env.net.set_mangler(
            HELPER,
            Box::new(move |_req, mut resp| {
                if let Some(loc) = resp.headers.get("location").map(str::to_string) {
                    // Our Helper answers absolute-path references (/tasks/...).
                    let path = loc.clone();
                    let new = match rewrite {
                        "absolute" => format!("{HELPER}{path}"),
                        "network-path" => format!("//helper.test{path}"),
                        "relative" => path
                            .split_once("/aggregation_jobs")
                            .map(|(_, rest)| format!("aggregation_jobs{rest}"))
                            .unwrap_or(path),
                        _ => path,
                    };
                    resp.headers
                        .0
                        .retain(|(k, _)| !k.eq_ignore_ascii_case("location"));
                    resp.headers.push("location", new);
                }
                resp
            }),
        );
        let reports: Vec<Report> = (0..10)
            .map(|_| env.report(&Measurement::Count(true)))
            .collect();
        assert!(env.upload(&reports).is_empty());
        env.aggregate();
        let (c, _) = env
            .collect(Query::TimeInterval(env.current_interval()))
            .unwrap_or_else(|p| panic!("{form}: {p:?}"));
        assert_eq!(c.report_count, 10, "{form}");
        // The Leader polled the job at the Helper (GET ...?step=0), on the Helper's host.
        assert!(
            env.net.sent.borrow().iter().any(|r| r.method == Method::Get
                && r.url.starts_with(&format!("{HELPER}/tasks/"))
                && r.url.contains("step=0")),
            "{form}"
        );
    }
}

/// Row 8, continued: a Location on another host is never followed (the task's token
/// would go there).
#[test]
fn a_location_on_another_host_is_not_followed() {
    let env = Env::with_helper_config(
        VdafConfig::Prio3Count,
        BatchMode::TimeInterval,
        None,
        edap_core::platform::DeploymentConfig {
            helper_async_threshold: 0,
            ..deployment_config()
        },
    );
    env.net.set_mangler(
        HELPER,
        Box::new(|_req, mut resp| {
            if resp.headers.get("location").is_some() {
                resp.headers
                    .0
                    .retain(|(k, _)| !k.eq_ignore_ascii_case("location"));
                resp.headers.push("location", "http://attacker.test/steal");
            }
            resp
        }),
    );
    let reports: Vec<Report> = (0..6)
        .map(|_| env.report(&Measurement::Count(true)))
        .collect();
    assert!(env.upload(&reports).is_empty());
    env.net.run_until(20_000, || false);
    assert!(
        !env.net
            .sent
            .borrow()
            .iter()
            .any(|r| r.url.contains("attacker.test")),
        "the Leader sent a request to a host the task does not name"
    );
    assert!(env
        .leader
        .logs
        .borrow()
        .iter()
        .any(|l| l.contains("not followed")));
}
