//! A Leader and a Helper on the in-memory platform, provisioned through the admin API, with
//! a Client and a Collector: the harness of the native end-to-end tests.
#![allow(dead_code)]

use edap_core::api::admin::{TaskConfigSpec, TaskSpec};
use edap_core::hpke::HpkeKeypair;
use edap_core::http::{Method, Response};
use edap_core::media::MediaType;
use edap_core::mem::{MemDeployment, MemNetwork};
use edap_core::messages::*;
use edap_core::platform::DeploymentConfig;
use edap_core::roles::client::Client;
use edap_core::roles::collector::{self, Collection};
use edap_core::task::{AggregationSchedule, TokenHash};
use edap_core::ProblemDocument;
use prio::codec::{Decode, Encode};
use std::collections::BTreeMap;
use std::rc::Rc;

pub const LEADER: &str = "http://leader.test";
pub const HELPER: &str = "http://helper.test";
pub const ADMIN_TOKEN: &str = "admin-secret";
pub const AGG_TOKEN: &str = "leader-to-helper-secret";
pub const COLLECTOR_TOKEN: &str = "collector-secret";
/// 2023-11-14T22:13:20Z, a whole number of hours.
pub const START_MS: u64 = 1_700_002_800_000;
pub const PRECISION: u64 = 3600;

pub struct Env {
    pub net: Rc<MemNetwork>,
    pub leader: Rc<MemDeployment>,
    pub helper: Rc<MemDeployment>,
    pub collector_key: HpkeKeypair,
    pub task_id: TaskId,
    pub config: TaskConfiguration,
    pub client: Client,
}

pub fn deployment_config() -> DeploymentConfig {
    DeploymentConfig {
        admin_token_hash: Some(TokenHash::of(ADMIN_TOKEN)),
        ..Default::default()
    }
}

pub fn schedule() -> AggregationSchedule {
    AggregationSchedule {
        min_job_size: 5,
        max_job_size: 8,
        max_wait_secs: 1,
        report_shards: 2,
        bucket_shards: 2,
        replay_shards: 3,
        batch_size_target: 0,
    }
}

pub fn now_secs(env: &Env) -> u64 {
    env.net.now_ms() / 1000
}

impl Env {
    pub fn new(vdaf: VdafConfig, mode: BatchMode, task_window: Option<(u64, u64)>) -> Env {
        Env::with_helper_config(vdaf, mode, task_window, deployment_config())
    }

    pub fn with_helper_config(
        vdaf: VdafConfig,
        mode: BatchMode,
        task_window: Option<(u64, u64)>,
        helper_config: DeploymentConfig,
    ) -> Env {
        let net = MemNetwork::new(START_MS);
        let leader = net.deploy(LEADER, deployment_config());
        let helper = net.deploy(HELPER, helper_config);
        let collector_key =
            HpkeKeypair::generate(HpkeConfigId(7), HpkeKemId::X25519_HKDF_SHA256).unwrap();
        let spec = TaskConfigSpec {
            task_info: "e2e".into(),
            leader_endpoint: format!("{LEADER}/"),
            helper_endpoint: format!("{HELPER}/"),
            time_precision: PRECISION,
            min_batch_size: 10,
            batch_mode: mode.as_str().into(),
            vdaf,
            task_start: task_window.map(|w| w.0),
            task_end: task_window.map(|w| w.1),
        };
        let verify_key = edap_core::messages::base64url(&edap_core::rand::array::<32>());
        let collector_cfg =
            edap_core::messages::base64url(&collector_key.config.get_encoded().unwrap());
        let mut task_id = None;
        for (d, role) in [(&leader, "leader"), (&helper, "helper")] {
            let spec = TaskSpec {
                role: role.into(),
                config: Some(spec.clone()),
                vdaf_verify_key: verify_key.clone(),
                collector_hpke_config: collector_cfg.clone(),
                aggregator_auth_token: Some(AGG_TOKEN.into()),
                collector_auth_token: (role == "leader").then(|| COLLECTOR_TOKEN.into()),
                schedule: Some(schedule()),
                ..Default::default()
            };
            let resp = admin(
                d,
                Method::Post,
                "/admin/tasks",
                Some(serde_json::to_value(&spec).unwrap()),
            );
            assert_eq!(
                resp.status,
                201,
                "provisioning: {}",
                String::from_utf8_lossy(&resp.body)
            );
            let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
            task_id = Some(TaskId::from_base64url(v["task_id"].as_str().unwrap()).unwrap());
        }
        let task_id = task_id.unwrap();
        let config = spec.to_config().unwrap();
        let hpke = |d: &MemDeployment| {
            let r = d.request(Method::Get, "/hpke_config", &[], vec![]);
            assert_eq!(r.status, 200);
            assert_eq!(
                r.headers.get("content-type"),
                Some(MediaType::HpkeConfigList.as_str().as_str())
            );
            let list = HpkeConfigList::get_decoded(&r.body).unwrap();
            edap_core::roles::client::choose_config(&list)
                .unwrap()
                .clone()
        };
        let client = Client::new(task_id, config.clone(), hpke(&leader), hpke(&helper)).unwrap();
        Env {
            net,
            leader,
            helper,
            collector_key,
            task_id,
            config,
            client,
        }
    }

    pub fn upload_raw(&self, body: Vec<u8>) -> Response {
        self.leader.request(
            Method::Post,
            &format!("/tasks/{}/reports", self.task_id),
            &[("content-type", &MediaType::UploadReq.as_str())],
            body,
        )
    }

    /// Uploads reports in one request; returns the refused ones as (id, error).
    pub fn upload(&self, reports: &[Report]) -> Vec<(ReportId, ReportError)> {
        let body = UploadRequest {
            reports: reports.to_vec(),
        }
        .get_encoded()
        .unwrap();
        let resp = self.upload_raw(body);
        assert_eq!(
            resp.status,
            200,
            "upload: {}",
            String::from_utf8_lossy(&resp.body)
        );
        if resp.body.is_empty() {
            return vec![];
        }
        assert_eq!(
            resp.headers.get("content-type"),
            Some(MediaType::UploadErrors.as_str().as_str())
        );
        UploadErrors::get_decoded(&resp.body)
            .unwrap()
            .status
            .into_iter()
            .map(|s| (s.id, s.error))
            .collect()
    }

    pub fn report(&self, m: &edap_core::vdaf::Measurement) -> Report {
        self.client.report(m, now_secs(self)).unwrap()
    }

    /// Runs alarms until no report is pending or in flight (bounded in simulated time).
    pub fn aggregate(&self) {
        self.net
            .run_until(120_000, || self.net.next_alarm().is_none());
    }

    pub fn stats(&self) -> BTreeMap<String, u64> {
        let r = admin(
            &self.leader,
            Method::Get,
            &format!("/admin/tasks/{}/stats", self.task_id),
            None,
        );
        assert_eq!(r.status, 200);
        serde_json::from_slice(&r.body).unwrap()
    }

    pub fn collection_post(&self, req: &CollectionJobReq) -> Response {
        self.leader.request(
            Method::Post,
            &format!("/tasks/{}/collection_jobs", self.task_id),
            &[
                ("content-type", &MediaType::CollectionJobReq.as_str()),
                ("authorization", &format!("Bearer {COLLECTOR_TOKEN}")),
            ],
            req.get_encoded().unwrap(),
        )
    }

    pub fn collection_get(&self, location: &str) -> Response {
        self.leader.request(
            Method::Get,
            location,
            &[("authorization", &format!("Bearer {COLLECTOR_TOKEN}"))],
            vec![],
        )
    }

    /// Runs a collection to completion: Ok(collection, location) or the problem document.
    #[allow(clippy::result_large_err)] // a test helper; the problem document is the point
    pub fn collect(&self, query: Query) -> Result<(Collection, String), ProblemDocument> {
        let req = collector::collection_job_req(query);
        let resp = self.collection_post(&req);
        if resp.status >= 400 {
            return Err(serde_json::from_slice(&resp.body).unwrap());
        }
        let location = resp.headers.get("location").expect("Location").to_string();
        let mut body = resp.body.clone();
        let mut problem = None;
        self.net.run_until(300_000, || {
            if !body.is_empty() || problem.is_some() {
                return true;
            }
            let r = self.collection_get(&location);
            if r.status >= 400 {
                problem = Some(serde_json::from_slice::<ProblemDocument>(&r.body).unwrap());
                return true;
            }
            body = r.body;
            !body.is_empty()
        });
        if let Some(p) = problem {
            return Err(p);
        }
        assert!(!body.is_empty(), "collection did not finish");
        let resp = CollectionJobResp::get_decoded(&body).unwrap();
        let c = collector::finish(
            &self.task_id,
            &self.config,
            &self.collector_key,
            &req,
            &resp,
        )
        .unwrap();
        Ok((c, location))
    }

    /// The batch interval covering the current hour.
    pub fn current_interval(&self) -> Interval {
        Interval::new(now_secs(self) / PRECISION, 1)
    }
}

pub fn admin(
    d: &MemDeployment,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Response {
    let body = body
        .map(|v| serde_json::to_vec(&v).unwrap())
        .unwrap_or_default();
    d.request(
        method,
        path,
        &[
            ("authorization", &format!("Bearer {ADMIN_TOKEN}")),
            ("content-type", "application/json"),
        ],
        body,
    )
}
