//! Differential privacy (PureDpDiscreteLaplace): a noised collection differs from the exact
//! sum; over many collections of the same data the error averages out and its mean size
//! stays within what the strategy implies; ε out of range, or on a VDAF without a noise
//! mechanism, is refused by the aggregator API.

mod common;

use common::*;
use edap_core::dp::{signed, DpStrategy};
use edap_core::http::Method;
use edap_core::messages::*;
use edap_core::vdaf::{agg_share, AggregateResult, Measurement, Prio3Instance};

/// E|X| of discrete Laplace noise with scale `b`: 2p / (1 - p²), p = e^(-1/b).
fn mean_abs(b: f64) -> f64 {
    let p = (-1.0 / b).exp();
    2.0 * p / (1.0 - p * p)
}

/// Variance of discrete Laplace noise with scale `b`: 2p / (1 - p)².
fn variance(b: f64) -> f64 {
    let p = (-1.0 / b).exp();
    2.0 * p / ((1.0 - p) * (1.0 - p))
}

fn histogram() -> VdafConfig {
    VdafConfig::Prio3Histogram {
        length: 4,
        chunk_length: 2,
    }
}

#[test]
fn collections_are_noised_and_the_error_stays_within_the_bound() {
    // ε = 1, histogram sensitivity 2: each aggregator adds scale-2 noise to every bucket.
    let env = Env::build(EnvOptions {
        vdaf: histogram(),
        dp: DpStrategy::laplace(1, 1).unwrap(),
        ..EnvOptions::default()
    });
    let t: serde_json::Value = serde_json::from_slice(
        &api(
            &env.leader,
            Method::Get,
            &format!("/api/tasks/{}", env.task_id),
            None,
        )
        .body,
    )
    .unwrap();
    assert_eq!(
        t["vdaf"]["Prio3Histogram"]["dp_strategy"],
        serde_json::json!({"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[1], [1]]}})
    );
    const COLLECTIONS: usize = 25;
    let exact = [5i128, 5, 5, 5];
    let mut errors = Vec::new();
    let mut differs = false;
    for _ in 0..COLLECTIONS {
        let reports: Vec<Report> = (0..20)
            .map(|i| env.report(&Measurement::Bucket(i % 4)))
            .collect();
        assert!(env.upload(&reports).is_empty());
        let (c, _) = env
            .collect(Query::TimeInterval(env.current_interval()))
            .unwrap();
        assert_eq!(
            c.report_count, 20,
            "counts are exact; only the sums are noised"
        );
        let AggregateResult::Vector(v) = c.result else {
            panic!("{:?}", c.result)
        };
        for (got, want) in v.iter().zip(exact) {
            let e = signed(*got) - want;
            differs |= e != 0;
            errors.push(e as f64);
        }
        env.net.advance_ms(PRECISION * 1000);
    }
    assert!(differs, "no collection was noised");
    let n = errors.len() as f64;
    let mean = errors.iter().sum::<f64>() / n;
    let mean_abs_err = errors.iter().map(|e| e.abs()).sum::<f64>() / n;
    // The sum of the two aggregators' noise: mean 0, variance twice one's.
    let sd = (2.0 * variance(2.0)).sqrt();
    assert!(
        mean.abs() < 4.0 * sd / n.sqrt(),
        "biased: mean error {mean}"
    );
    assert!(
        mean_abs_err <= 2.0 * mean_abs(2.0) * 1.3 && mean_abs_err >= 0.5 * mean_abs(2.0),
        "mean |error| {mean_abs_err}, the strategy implies about {}",
        mean_abs(2.0) * 1.4
    );
}

#[test]
fn one_aggregators_noise_has_the_strategys_distribution() {
    let vdaf = VdafConfig::Prio3SumVec {
        length: 8,
        max_measurement: 1,
        chunk_length: 3,
    };
    let inst = Prio3Instance::for_dap(&vdaf).unwrap();
    // ε = 4, sensitivity (2^1 - 1) × 8 = 8: scale 2.
    let s = DpStrategy::laplace(4, 1).unwrap();
    let zero = agg_share::zero_dyn(&inst);
    let Prio3Instance::SumVec(v) = &inst else {
        unreachable!()
    };
    let mut samples = Vec::new();
    for _ in 0..500 {
        let noised = s.noise(&inst, zero.clone(), 100).unwrap();
        let share = agg_share::decode(v, &noised).unwrap();
        let entries: Vec<u128> = share.as_ref().iter().map(|f| u128::from(*f)).collect();
        samples.extend(entries.into_iter().map(|e| signed(e) as f64));
    }
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let mean_abs_err = samples.iter().map(|e| e.abs()).sum::<f64>() / n;
    assert!(
        mean.abs() < 4.0 * variance(2.0).sqrt() / n.sqrt(),
        "mean {mean}"
    );
    let want = mean_abs(2.0);
    assert!(
        (mean_abs_err - want).abs() < 0.1 * want,
        "mean |noise| {mean_abs_err}, expected {want}"
    );
    assert!(DpStrategy::None.noise(&inst, zero.clone(), 1).unwrap() == zero);
}

#[test]
fn epsilon_out_of_range_and_unsupported_vdafs_are_refused() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let collector =
        edap_core::hpke::HpkeKeypair::generate(HpkeConfigId(3), HpkeKemId::X25519_HKDF_SHA256)
            .unwrap();
    let post = |vdaf: serde_json::Value| {
        let mut c = env.config.clone();
        c.task_info = b"dp refusals".to_vec();
        let mut req = janus_post_task_req(
            &c,
            edap_core::api::aggregator_api::types::RoleJson::Helper,
            &base64url(&[9u8; 32]),
            &collector,
        );
        req.vdaf = None;
        let mut v = serde_json::to_value(&req).unwrap();
        v["vdaf"] = vdaf;
        api(&env.helper, Method::Post, "/api/tasks", Some(v))
    };
    let dp = |n: u64, d: u64| serde_json::json!({"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[n], [d]]}});
    for (n, d) in [(0, 1), (1, 0), (1, 1001), (1001, 1)] {
        let r = post(
            serde_json::json!({"Prio3Histogram": {"length": 4, "chunk_length": 2, "dp_strategy": dp(n, d)}}),
        );
        assert_eq!(r.status, 400, "{n}/{d}");
        let body = String::from_utf8_lossy(&r.body);
        assert!(body.contains("epsilon"), "{body}");
    }
    let r = post(
        serde_json::json!({"Prio3MultihotCountVec": {"length": 4, "chunk_length": 2, "max_weight": 2, "dp_strategy": dp(1, 1)}}),
    );
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("takes no differential privacy"));
    let r = post(
        serde_json::json!({"Prio3SumVec": {"length": 4, "chunk_length": 2, "max_measurement": 3, "dp_strategy": dp(1, 2)}}),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}
