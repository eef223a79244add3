//! Token rotation through `PATCH /api/tasks/{id}`: the Helper accepts the Leader's old and
//! new token, and the Leader the Collector's old and new token, during the grace period,
//! and only the new ones afterwards.

mod common;

use common::*;
use edap_core::api::aggregator_api::types::{AuthTokenJson, TokenHashJson};
use edap_core::http::Method;
use edap_core::media::MediaType;
use edap_core::messages::*;
use edap_core::task::AuthHeader;
use edap_core::vdaf::Measurement;

const NEW_AGG: &str = "rotated-leader-token";
const NEW_COLLECTOR: &str = "rotated-collector-token";

fn patch(d: &edap_core::mem::MemDeployment, id: &TaskId, body: serde_json::Value) -> u16 {
    let r = api(d, Method::Patch, &format!("/api/tasks/{id}"), Some(body));
    if r.status != 200 {
        eprintln!("{}", String::from_utf8_lossy(&r.body));
    }
    r.status
}

/// The status of an aggregate-share GET at the Helper with `token`: 403 for a refused
/// token, 404 (no such share) once the token passed.
fn helper_status(env: &Env, token: &str) -> u16 {
    env.helper
        .request(
            Method::Get,
            &format!(
                "/tasks/{}/aggregate_shares/{}",
                env.task_id,
                AggregateShareId([1; 16])
            ),
            &[("authorization", &format!("Bearer {token}"))],
            vec![],
        )
        .status
}

fn collector_status(env: &Env, token: &str) -> u16 {
    env.leader
        .request(
            Method::Get,
            &format!(
                "/tasks/{}/collection_jobs/{}",
                env.task_id,
                CollectionJobId([1; 16])
            ),
            &[("authorization", &format!("Bearer {token}"))],
            vec![],
        )
        .status
}

#[test]
fn old_and_new_tokens_work_during_the_grace_period_only() {
    let env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
    let id = env.task_id;
    let token =
        |t: &str| serde_json::to_value(AuthTokenJson::new(AuthHeader::Bearer, t.into())).unwrap();
    // The Helper rotates the Leader's token; the Leader still presents the old one.
    assert_eq!(
        patch(
            &env.helper,
            &id,
            serde_json::json!({"aggregator_auth_token": token(NEW_AGG), "token_grace_secs": 600})
        ),
        200
    );
    let reports: Vec<Report> = (0..10)
        .map(|i| env.report(&Measurement::Count(i % 2 == 0)))
        .collect();
    assert!(env.upload(&reports).is_empty());
    env.aggregate();
    assert_eq!(
        helper_status(&env, AGG_TOKEN),
        404,
        "the old token works in the grace period"
    );
    assert_eq!(helper_status(&env, NEW_AGG), 404);
    assert_eq!(helper_status(&env, "other"), 403);
    // The Leader switches to the new token it presents.
    assert_eq!(
        patch(
            &env.leader,
            &id,
            serde_json::json!({"aggregator_auth_token": token(NEW_AGG)})
        ),
        200
    );
    // The Leader rotates the Collector's token.
    let hash = serde_json::to_value(TokenHashJson::of(&AuthTokenJson::new(
        AuthHeader::Bearer,
        NEW_COLLECTOR.into(),
    )))
    .unwrap();
    assert_eq!(
        patch(
            &env.leader,
            &id,
            serde_json::json!({"collector_auth_token_hash": hash, "token_grace_secs": 600})
        ),
        200
    );
    assert_eq!(collector_status(&env, COLLECTOR_TOKEN), 404);
    assert_eq!(collector_status(&env, NEW_COLLECTOR), 404);

    // After the grace period only the new tokens work, and aggregation still does.
    env.net.advance_ms(601_000);
    assert_eq!(helper_status(&env, AGG_TOKEN), 403);
    assert_eq!(helper_status(&env, NEW_AGG), 404);
    assert_eq!(collector_status(&env, COLLECTOR_TOKEN), 403);
    assert_eq!(collector_status(&env, NEW_COLLECTOR), 404);
    let reports: Vec<Report> = (0..10)
        .map(|i| env.report(&Measurement::Count(i % 2 == 0)))
        .collect();
    assert!(env.upload(&reports).is_empty());
    env.aggregate();
    let req = edap_core::roles::collector::collection_job_req(Query::TimeInterval(
        env.current_interval(),
    ));
    let r = env.leader.request(
        Method::Post,
        &format!("/tasks/{id}/collection_jobs"),
        &[
            ("content-type", &MediaType::CollectionJobReq.as_str()),
            ("authorization", &format!("Bearer {NEW_COLLECTOR}")),
        ],
        prio::codec::Encode::get_encoded(&req).unwrap(),
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // Bad input is 400, never stored.
    for (d, body) in [
        (
            &env.helper,
            serde_json::json!({"aggregator_auth_token": token(NEW_AGG), "token_grace_secs": 5}),
        ),
        (
            &env.helper,
            serde_json::json!({"collector_auth_token_hash": hash}),
        ),
        (
            &env.leader,
            serde_json::json!({"aggregator_auth_token_hash": hash}),
        ),
        (
            &env.helper,
            serde_json::json!({"aggregator_auth_token": token(NEW_AGG), "aggregator_auth_token_hash": hash}),
        ),
        (
            &env.helper,
            serde_json::json!({"aggregator_auth_token": {"type": "Bearer", "token": "bad token!"}}),
        ),
    ] {
        assert_eq!(patch(d, &id, body.clone()), 400, "{body}");
    }
}
