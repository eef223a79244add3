//! Arbitrary and mutated requests against the router of both roles: never a panic, never
//! a 5xx, and every error is an RFC 9457 problem document.

mod common;

use common::*;
use edap_core::http::Method;
use edap_core::media::MediaType;
use edap_core::messages::*;
use edap_core::vdaf::Measurement;
use prio::codec::Encode;
use proptest::prelude::*;

fn paths(task: &TaskId) -> Vec<String> {
    vec![
        "/hpke_config".into(),
        format!("/tasks/{task}/reports"),
        format!("/tasks/{task}/aggregation_jobs"),
        format!("/tasks/{task}/aggregation_jobs/AAAAAAAAAAAAAAAAAAAAAA?step=0"),
        format!("/tasks/{task}/aggregation_jobs/not-base64!"),
        format!("/tasks/{task}/collection_jobs"),
        format!("/tasks/{task}/collection_jobs/AAAAAAAAAAAAAAAAAAAAAA"),
        format!("/tasks/{task}/aggregate_shares"),
        format!("/tasks/{task}/aggregate_shares/AAAAAAAAAAAAAAAAAAAAAA"),
        "/tasks/%%%/reports".into(),
        "/api/".into(),
        "/api/tasks".into(),
        format!("/api/tasks/{task}"),
        format!("/api/tasks/{task}/metrics/uploads"),
        "/api/task_ids?pagination_token=%%".into(),
        "/api/hpke_configs".into(),
        "/api/hpke_configs/1".into(),
        "/api/taskprov/peer_aggregators".into(),
        "/internal/test/add_task".into(),
        "/nowhere".into(),
    ]
}

fn mutate(mut b: Vec<u8>, ops: &[(u8, usize, u8)]) -> Vec<u8> {
    for (op, pos, val) in ops {
        match op % 4 {
            0 if !b.is_empty() => {
                let i = pos % b.len();
                b[i] ^= val | 1;
            }
            1 => b.truncate(pos % (b.len() + 1)),
            2 => b.insert(pos % (b.len() + 1), *val),
            _ => b.extend_from_slice(&[*val; 3]),
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn no_panic_no_5xx(
        which in 0usize..20,
        method in 0u8..5,
        media in 0usize..13,
        auth in 0u8..4,
        body_kind in 0u8..3,
        random_body in proptest::collection::vec(any::<u8>(), 0..300),
        ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..6),
        leader_side in any::<bool>(),
    ) {
        thread_local! {
            static ENV: Env = Env::new(VdafConfig::Prio3Count, BatchMode::TimeInterval, None);
        }
        ENV.with(|env| {
            let path = &paths(&env.task_id)[which];
            let m = [Method::Get, Method::Post, Method::Delete, Method::Put, Method::Patch][method as usize];
            let mut headers: Vec<(String, String)> = Vec::new();
            if media < MediaType::ALL.len() {
                headers.push(("content-type".into(), MediaType::ALL[media].as_str()));
            } else if media == 10 {
                headers.push(("content-type".into(), "application/json".into()));
            } else if media == 11 {
                headers.push(("content-type".into(), edap_core::api::aggregator_api::MEDIA_TYPE.into()));
                headers.push(("accept".into(), edap_core::api::aggregator_api::MEDIA_TYPE.into()));
            }
            match auth {
                0 => headers.push(("authorization".into(), format!("Bearer {AGG_TOKEN}"))),
                1 => headers.push(("authorization".into(), format!("Bearer {COLLECTOR_TOKEN}"))),
                2 => headers.push(("authorization".into(), format!("Bearer {API_TOKEN}"))),
                _ => {}
            }
            let body = match body_kind {
                0 => random_body,
                1 => {
                    // A valid upload, then mutated.
                    let r = env.report(&Measurement::Count(true));
                    mutate(UploadRequest { reports: vec![r] }.get_encoded().unwrap(), &ops)
                }
                _ => {
                    let req = edap_core::roles::collector::collection_job_req(Query::TimeInterval(env.current_interval()));
                    mutate(req.get_encoded().unwrap(), &ops)
                }
            };
            let h: Vec<(&str, &str)> = headers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let d = if leader_side { &env.leader } else { &env.helper };
            let r = d.request(m, path, &h, body);
            prop_assert!(r.status < 500, "{} {} -> {}: {}", m.as_str(), path, r.status, String::from_utf8_lossy(&r.body));
            if r.status >= 400 {
                prop_assert_eq!(r.headers.get("content-type"), Some("application/problem+json"));
                let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                prop_assert!(doc["type"].is_string() && doc["status"].as_u64() == Some(r.status as u64));
            }
            Ok(())
        })?;
    }
}
