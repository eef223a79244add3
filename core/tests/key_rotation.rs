//! HPKE key rotation by itself: with a short schedule, the in-memory clock moved forward
//! drives several rotations without a single request; reports sealed to the old key keep
//! decrypting (at the Leader and the Helper) until it is deleted, then are
//! `outdated_config`; the schedule is read and set through the aggregator API.

mod common;

use common::*;
use edap_core::api::aggregator_api::{HpkeConfigResp, KeyRotationResp};
use edap_core::hpke::rotation::RotationSchedule;
use edap_core::hpke::HpkeKeyState;
use edap_core::http::Method;
use edap_core::messages::*;
use edap_core::platform::DeploymentConfig;
use edap_core::roles::client::{choose_config, Client};
use edap_core::vdaf::Measurement;
use prio::codec::Decode;

const PENDING: u64 = 600;
const ACTIVE: u64 = 3600;
const EXPIRED: u64 = 900;

fn config() -> DeploymentConfig {
    DeploymentConfig {
        hpke_config_max_age_secs: 600,
        key_rotation: RotationSchedule {
            pending_secs: PENDING,
            active_secs: ACTIVE,
            expired_secs: EXPIRED,
            ..RotationSchedule::default()
        },
        ..deployment_config()
    }
}

/// Moves the clock to `target_ms`, running every alarm due on the way (and nothing else).
fn advance_to(env: &Env, target_ms: u64) {
    loop {
        env.net.run_due_alarms(10_000);
        match env.net.next_alarm() {
            Some(t) if t <= target_ms => {
                if t > env.net.now_ms() {
                    env.net.advance_ms(t - env.net.now_ms());
                }
            }
            _ => break,
        }
    }
    if target_ms > env.net.now_ms() {
        env.net.advance_ms(target_ms - env.net.now_ms());
    }
    env.net.run_due_alarms(10_000);
}

fn keys(d: &edap_core::mem::MemDeployment) -> Vec<HpkeConfigResp> {
    let r = api(d, Method::Get, "/api/hpke_configs", None);
    assert_eq!(r.status, 200);
    serde_json::from_slice(&r.body).unwrap()
}

fn published(d: &edap_core::mem::MemDeployment) -> HpkeConfig {
    let r = d.request(Method::Get, "/hpke_config", &[], vec![]);
    choose_config(&HpkeConfigList::get_decoded(&r.body).unwrap())
        .unwrap()
        .clone()
}

fn measurements(env: &Env, client: &Client, n: u64) -> Vec<Report> {
    (0..n)
        .map(|i| {
            client
                .report(&Measurement::Count(i % 2 == 0), now_secs(env))
                .unwrap()
        })
        .collect()
}

#[test]
fn keys_rotate_on_schedule_and_old_reports_decrypt_until_deletion() {
    let env = Env::build(EnvOptions {
        leader_config: config(),
        helper_config: config(),
        ..EnvOptions::default()
    });
    let t0 = env.net.now_ms();
    let first = published(&env.leader);
    let first_helper = published(&env.helper);
    let old_client = env.client.clone();

    // The successor is pending before it is published, for at least PENDING seconds.
    advance_to(&env, t0 + (ACTIVE - PENDING + 10) * 1000);
    let k = keys(&env.leader);
    assert_eq!(k.len(), 2, "{k:?}");
    assert!(k.iter().any(|k| k.state == HpkeKeyState::Pending));
    assert_eq!(
        published(&env.leader),
        first,
        "a pending key is not published"
    );

    // After activation the new key is published, the old one is expired and still opens.
    advance_to(&env, t0 + (ACTIVE + 60) * 1000);
    assert_ne!(published(&env.leader), first);
    assert_ne!(published(&env.helper), first_helper);
    let old = keys(&env.leader)
        .into_iter()
        .find(|k| k.config.id == first.id.0)
        .unwrap();
    assert_eq!(old.state, HpkeKeyState::Expired);
    let refused = env.upload(&measurements(&env, &old_client, 10));
    assert!(refused.is_empty(), "{refused:?}");
    let (c, _) = env
        .collect(Query::TimeInterval(env.current_interval()))
        .expect("reports sealed to the expired keys aggregate at both aggregators");
    assert_eq!(c.report_count, 10);

    // Once deleted, reports sealed to it are outdated_config; fresh configs succeed.
    advance_to(&env, t0 + (ACTIVE + EXPIRED + 60) * 1000);
    assert!(keys(&env.leader).iter().all(|k| k.config.id != first.id.0));
    let refused = env.upload(&measurements(&env, &old_client, 3));
    assert_eq!(refused.len(), 3);
    assert!(refused
        .iter()
        .all(|(_, e)| *e == ReportError::OutdatedConfig));
    // (The next hour: the one above was collected.)
    advance_to(&env, t0 + 2 * ACTIVE * 1000 + 10_000);
    let fresh = Client::new(
        env.task_id,
        env.config.clone(),
        published(&env.leader),
        published(&env.helper),
    )
    .unwrap();
    let refused = env.upload(&measurements(&env, &fresh, 3));
    assert!(refused.is_empty(), "{refused:?}");

    // Several more rotations with no request at all: only the clock moves.
    let before = env.leader.logs.borrow().len();
    let t1 = env.net.now_ms();
    advance_to(&env, t1 + 3 * ACTIVE * 1000 + 1000);
    let activations = env.leader.logs.borrow()[before..]
        .iter()
        .filter(|l| l.contains("\"keys_rotated\"") && !l.contains("\"activated\":[]"))
        .count();
    assert!(activations >= 3, "{activations} activations");
    let k = keys(&env.leader);
    assert!(k.len() <= 3, "deleted keys are not kept: {k:?}");
    for key in &k {
        if let (Some(p), Some(a)) = (key.pending_at, key.active_at) {
            assert!(a >= p + PENDING, "published {} s after pending", a - p);
        }
    }
}

#[test]
fn the_schedule_is_read_and_set_through_the_api() {
    let env = Env::build(EnvOptions {
        leader_config: config(),
        ..EnvOptions::default()
    });
    let get = |d| {
        let r = api(d, Method::Get, "/api/key_rotation", None);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        serde_json::from_slice::<KeyRotationResp>(&r.body).unwrap()
    };
    let v = get(&env.leader);
    assert_eq!(v.source, "deployment");
    assert_eq!(v.schedule.active_secs, ACTIVE);
    assert!(v.next_change_at.is_some());

    let r = api(
        &env.leader,
        Method::Put,
        "/api/key_rotation",
        Some(serde_json::json!({"pending_secs": 900, "active_secs": 7200, "expired_secs": 1000})),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(get(&env.leader).source, "stored");
    assert_eq!(get(&env.leader).schedule.active_secs, 7200);
    for bad in [
        serde_json::json!({"pending_secs": 60}),
        serde_json::json!({"expired_secs": 600}),
        serde_json::json!({"active_secs": 900, "pending_secs": 900}),
        serde_json::json!({"kem": "x448"}),
        serde_json::json!({"bogus": 1}),
        serde_json::json!([1]),
    ] {
        let r = api(
            &env.leader,
            Method::Put,
            "/api/key_rotation",
            Some(bad.clone()),
        );
        assert_eq!(r.status, 400, "{bad}: {}", String::from_utf8_lossy(&r.body));
    }
    let r = api(&env.leader, Method::Delete, "/api/key_rotation", None);
    assert_eq!(r.status, 204);
    assert_eq!(get(&env.leader).source, "deployment");
    let r = api(&env.leader, Method::Post, "/api/key_rotation", None);
    assert_eq!(r.status, 405);

    // Switched off: the clock moves, the keys stay.
    let r = api(
        &env.leader,
        Method::Put,
        "/api/key_rotation",
        Some(serde_json::json!({"enabled": false})),
    );
    assert_eq!(r.status, 200);
    let first = published(&env.leader);
    advance_to(&env, env.net.now_ms() + 10 * ACTIVE * 1000);
    assert_eq!(published(&env.leader), first);
    assert_eq!(keys(&env.leader).len(), 1);
}
