//! End to end in one process: many clients -> Leader -> Helper -> Collector, for every
//! Prio3 VDAF and both batch modes, with invalid reports mixed in and faults on the
//! Leader-Helper link. The collected aggregate must equal the sum of the honest
//! measurements exactly.

mod common;

use common::*;
use edap_core::http::Method;
use edap_core::media::MediaType;
use edap_core::mem::Fault;
use edap_core::messages::*;
use edap_core::vdaf::{AggregateResult, Measurement};
use prio::codec::Encode;

fn expected(vdaf: &VdafConfig, ms: &[Measurement]) -> AggregateResult {
    let mut r = AggregateResult::zero(vdaf);
    for m in ms {
        r.add(m);
    }
    r
}

fn errors_of(errs: &[(ReportId, ReportError)], id: ReportId) -> Option<ReportError> {
    errs.iter().find(|(i, _)| *i == id).map(|(_, e)| *e)
}

fn time_interval_case(vdaf: VdafConfig) {
    let start_secs = START_MS / 1000;
    let env = Env::new(
        vdaf,
        BatchMode::TimeInterval,
        Some((start_secs - 86_400, start_secs + 86_400)),
    );
    let now = now_secs(&env);
    let honest: Vec<Measurement> = (0..23).map(|i| measurement(&vdaf, i)).collect();
    let mut reports: Vec<Report> = honest.iter().map(|m| env.report(m)).collect();
    let m0 = measurement(&vdaf, 1);

    // Rejected at upload, each with its own error.
    let mut outdated = env.report(&m0);
    outdated.leader_encrypted_input_share.config_id = HpkeConfigId(200);
    let too_early = env.client.report(&m0, now + 2 * 86_400).unwrap();
    let outside = env.client.report(&m0, start_secs - 3 * 86_400).unwrap();
    let duplicate = reports[0].clone();
    // Rejected during aggregation.
    let bad_proof = env
        .client
        .report_tampered(ReportId::random(), &m0, now, |share| share[0] ^= 1)
        .unwrap();
    let mut corrupt = env.report(&m0);
    corrupt.helper_encrypted_input_share.payload[0] ^= 0x80;
    let mut unknown_helper_key = env.report(&m0);
    unknown_helper_key.helper_encrypted_input_share.config_id = HpkeConfigId(201);

    let mut upload = reports.clone();
    upload.extend([
        outdated.clone(),
        too_early.clone(),
        outside.clone(),
        duplicate,
        bad_proof,
        corrupt,
        unknown_helper_key,
    ]);
    // A deferred answer, a lost answer and two 503s on the way to the Helper: the Leader
    // retries byte-identical requests and nothing is counted twice.
    env.net.set_fault(
        HELPER,
        Fault {
            refuse: 1,
            unavailable: 1,
            lose_answers: 1,
        },
    );
    let errs = env.upload(&upload[..20]);
    let errs2 = env.upload(&upload[20..]);
    let errs: Vec<_> = errs.into_iter().chain(errs2).collect();
    assert_eq!(
        errors_of(&errs, outdated.metadata.report_id),
        Some(ReportError::OutdatedConfig)
    );
    assert_eq!(
        errors_of(&errs, too_early.metadata.report_id),
        Some(ReportError::ReportTooEarly)
    );
    assert_eq!(
        errors_of(&errs, outside.metadata.report_id),
        Some(ReportError::ReportDropped)
    );
    assert_eq!(
        errors_of(&errs, reports[0].metadata.report_id),
        Some(ReportError::ReportReplayed)
    );
    assert_eq!(errs.len(), 4, "unexpected upload errors {errs:?}");
    // A replay in a later request.
    let again = env.upload(&reports[1..2]);
    assert_eq!(
        again,
        vec![(reports[1].metadata.report_id, ReportError::ReportReplayed)]
    );

    env.aggregate();
    let stats = env.stats();
    assert_eq!(stats.get("aggregated"), Some(&23), "{stats:?}");
    // The Helper found the bad proof and both bad ciphertexts; an unknown HPKE config ID
    // is a decryption error (DAP-18 "Input Share Decryption").
    assert_eq!(
        stats.get("helper_rejected:vdaf_verify_error"),
        Some(&1),
        "{stats:?}"
    );
    assert_eq!(
        stats.get("helper_rejected:hpke_decrypt_error"),
        Some(&2),
        "{stats:?}"
    );
    // Refusals at upload are counted by reason, with the task-interval ones told apart.
    for (name, n) in [
        ("upload_rejected:outdated_config", 1),
        ("upload_rejected:report_too_early", 1),
        ("upload_rejected:task_not_started", 1),
        ("upload_rejected:report_replayed", 2),
    ] {
        assert_eq!(stats.get(name), Some(&n), "{name}: {stats:?}");
    }

    env.net.set_fault(
        HELPER,
        Fault {
            lose_answers: 1,
            ..Default::default()
        },
    );
    let (c, location) = env
        .collect(Query::TimeInterval(env.current_interval()))
        .unwrap();
    assert_eq!(c.report_count, 23);
    assert_eq!(c.result, expected(&vdaf, &honest));
    assert!(env.current_interval().contains_interval(&c.interval));

    // The bucket is collected: late reports for it are refused at upload.
    let late = env.report(&m0);
    assert_eq!(
        env.upload(std::slice::from_ref(&late)),
        vec![(late.metadata.report_id, ReportError::BatchCollected)]
    );
    // A second collection of the same bucket is refused.
    let del = env.leader.request(
        Method::Delete,
        &location,
        &[("authorization", &format!("Bearer {COLLECTOR_TOKEN}"))],
        vec![],
    );
    assert_eq!(del.status, 200);
    let err = env
        .collect(Query::TimeInterval(env.current_interval()))
        .unwrap_err();
    assert_eq!(err.type_, "urn:ietf:params:ppm:dap:error:batchOverlap");
    let wider = Interval::new(env.current_interval().start.0 - 1, 3);
    let err = env.collect(Query::TimeInterval(wider)).unwrap_err();
    assert_eq!(err.type_, "urn:ietf:params:ppm:dap:error:batchOverlap");
    reports.clear();
}

fn leader_selected_case(vdaf: VdafConfig) {
    let env = Env::new(vdaf, BatchMode::LeaderSelected, None);
    let honest: Vec<Measurement> = (0..20).map(|i| measurement(&vdaf, i)).collect();
    let reports: Vec<Report> = honest.iter().map(|m| env.report(m)).collect();
    env.net.set_fault(
        HELPER,
        Fault {
            refuse: 1,
            unavailable: 1,
            lose_answers: 1,
        },
    );
    assert!(env.upload(&reports[..13]).is_empty());
    assert!(env.upload(&reports[13..]).is_empty());
    env.aggregate();
    assert_eq!(env.stats().get("aggregated"), Some(&20));

    // Invalid reports, after the honest batches are formed: rejected, never collected.
    let m0 = measurement(&vdaf, 1);
    let bad_proof = env
        .client
        .report_tampered(ReportId::random(), &m0, now_secs(&env), |s| s[0] ^= 1)
        .unwrap();
    let mut corrupt = env.report(&m0);
    corrupt.helper_encrypted_input_share.payload[0] ^= 0x80;
    assert!(env.upload(&[bad_proof, corrupt]).is_empty());
    env.aggregate();
    let stats = env.stats();
    assert_eq!(
        stats.get("helper_rejected:vdaf_verify_error"),
        Some(&1),
        "{stats:?}"
    );
    assert_eq!(
        stats.get("helper_rejected:hpke_decrypt_error"),
        Some(&1),
        "{stats:?}"
    );

    // Two batches of exactly min_batch_size, handed out in order, together exact.
    let (a, _) = env.collect(Query::LeaderSelected).unwrap();
    let (b, _) = env.collect(Query::LeaderSelected).unwrap();
    assert_eq!((a.report_count, b.report_count), (10, 10));
    let mut total = a.result.clone();
    match (&mut total, &b.result) {
        (AggregateResult::Scalar(x), AggregateResult::Scalar(y)) => *x += y,
        (AggregateResult::Vector(x), AggregateResult::Vector(y)) => {
            x.iter_mut().zip(y).for_each(|(x, y)| *x += y)
        }
        _ => panic!("result kinds differ"),
    }
    assert_eq!(total, expected(&vdaf, &honest));

    // No third batch is ready: the collection job stays pending.
    let req = edap_core::roles::collector::collection_job_req(Query::LeaderSelected);
    let resp = env.collection_post(&req);
    assert_eq!(resp.status, 201);
    assert!(resp.body.is_empty());
    let loc = resp.headers.get("location").unwrap().to_string();
    env.net.run_until(30_000, || false);
    let r = env.collection_get(&loc);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert!(r.headers.get("retry-after").is_some());
}

#[test]
fn every_vdaf_time_interval() {
    for vdaf in vdafs() {
        time_interval_case(vdaf);
    }
}

#[test]
fn every_vdaf_leader_selected() {
    for vdaf in vdafs() {
        leader_selected_case(vdaf);
    }
}

/// Replaying a whole aggregation-job request and a whole aggregate-share request returns
/// the stored answers and changes nothing.
#[test]
fn replayed_requests_change_nothing() {
    let vdaf = VdafConfig::Prio3Histogram {
        length: 4,
        chunk_length: 2,
    };
    let env = Env::new(vdaf, BatchMode::TimeInterval, None);
    let honest: Vec<Measurement> = (0..12).map(|i| measurement(&vdaf, i)).collect();
    let reports: Vec<Report> = honest.iter().map(|m| env.report(m)).collect();
    assert!(env.upload(&reports).is_empty());
    env.aggregate();
    let sent = env.net.sent.borrow().clone();
    let init = sent
        .iter()
        .find(|r| r.url.ends_with("/aggregation_jobs") && r.method == Method::Post)
        .expect("an init request")
        .clone();
    let path = init.url.strip_prefix(HELPER).unwrap().to_string();
    let auth = format!("Bearer {AGG_TOKEN}");
    let first = env.helper.request(
        Method::Post,
        &path,
        &[
            ("content-type", &MediaType::AggregationJobInitReq.as_str()),
            ("authorization", &auth),
        ],
        init.body.clone(),
    );
    let second = env.helper.request(
        Method::Post,
        &path,
        &[
            ("content-type", &MediaType::AggregationJobInitReq.as_str()),
            ("authorization", &auth),
        ],
        init.body.clone(),
    );
    assert_eq!(first.status, 201);
    assert_eq!(first, second);
    // The replays did not count anything again: the collection still matches the Leader.
    let (c, _) = env
        .collect(Query::TimeInterval(env.current_interval()))
        .unwrap();
    assert_eq!(c.report_count, 12);
    assert_eq!(c.result, expected(&vdaf, &honest));
    // Replaying the aggregate-share request gives the same share.
    let sent = env.net.sent.borrow().clone();
    let share_req = sent
        .iter()
        .find(|r| r.url.ends_with("/aggregate_shares"))
        .unwrap()
        .clone();
    let path = share_req.url.strip_prefix(HELPER).unwrap().to_string();
    let h = [
        ("content-type", MediaType::AggregateShareReq.as_str()),
        ("authorization", auth.clone()),
    ];
    let h: Vec<(&str, &str)> = h.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let a = env
        .helper
        .request(Method::Post, &path, &h, share_req.body.clone());
    let b = env
        .helper
        .request(Method::Post, &path, &h, share_req.body.clone());
    assert_eq!(a.status, 201);
    assert_eq!(a, b);
    // A different request for the same batch is refused.
    let mut other = AggregateShareReq::get_decoded_helper(&share_req.body);
    other.report_count += 1;
    let c = env
        .helper
        .request(Method::Post, &path, &h, other.get_encoded().unwrap());
    assert_eq!(c.status, 400);
}

trait DecodeHelper {
    fn get_decoded_helper(b: &[u8]) -> Self;
}
impl DecodeHelper for AggregateShareReq {
    fn get_decoded_helper(b: &[u8]) -> Self {
        <AggregateShareReq as prio::codec::Decode>::get_decoded(b).unwrap()
    }
}

/// A Helper that defers every aggregation job (201 without a body, `Location` with
/// `?step=0`, `Retry-After`): the Leader polls with GET and the result is exact.
#[test]
fn asynchronous_helper() {
    let vdaf = VdafConfig::Prio3SumVec {
        length: 4,
        max_measurement: 7,
        chunk_length: 2,
    };
    let cfg = edap_core::platform::DeploymentConfig {
        helper_async_threshold: 0,
        ..deployment_config()
    };
    let env = Env::with_helper_config(vdaf, BatchMode::TimeInterval, None, cfg);
    let honest: Vec<Measurement> = (0..15).map(|i| measurement(&vdaf, i)).collect();
    let reports: Vec<Report> = honest.iter().map(|m| env.report(m)).collect();
    assert!(env.upload(&reports).is_empty());
    env.aggregate();
    let sent = env.net.sent.borrow().clone();
    let polls = sent
        .iter()
        .filter(|r| {
            r.method == Method::Get
                && r.url.contains("/aggregation_jobs/")
                && r.url.contains("step=0")
        })
        .count();
    assert!(polls > 0, "the Leader never polled the deferred jobs");
    let (c, _) = env
        .collect(Query::TimeInterval(env.current_interval()))
        .unwrap();
    assert_eq!(c.report_count, 15);
    assert_eq!(c.result, expected(&vdaf, &honest));
}
