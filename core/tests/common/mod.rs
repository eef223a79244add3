//! A Leader and a Helper on the in-memory platform, provisioned through the aggregator API
//! (Helper first, then Leader), with a Client and a Collector: the harness of the native
//! end-to-end tests, and of the benchmark's native floor (`edap-bench` includes this file:
//! it runs the product's own code path, minus the runtime).
#![allow(dead_code)]

use edap_core::api::aggregator_api::types::{
    AuthTokenJson, HpkeConfigJson, RoleJson, TokenHashJson,
};
use edap_core::api::aggregator_api::{PostTaskReq, TaskResp, MEDIA_TYPE};
use edap_core::api::provision::TaskConfigSpec;
use edap_core::hpke::HpkeKeypair;
use edap_core::http::{Method, Response};
use edap_core::media::MediaType;
use edap_core::mem::{MemDeployment, MemNetwork};
use edap_core::messages::*;
use edap_core::platform::DeploymentConfig;
use edap_core::roles::client::Client;
use edap_core::roles::collector::{self, Collection};
use edap_core::task::{AggregationSchedule, AuthHeader, Secret, TokenHash};
use edap_core::vdaf::Measurement;
use edap_core::ProblemDocument;
use prio::codec::{Decode, Encode};
use std::collections::BTreeMap;
use std::rc::Rc;

pub const LEADER: &str = "http://leader.test";
pub const HELPER: &str = "http://helper.test";
pub const API_TOKEN: &str = "aggregator-api-secret";
pub const AGG_TOKEN: &str = "leader-to-helper-secret";
pub const COLLECTOR_TOKEN: &str = "collector-secret";
/// 2023-11-14T22:13:20Z, a whole number of hours.
pub const START_MS: u64 = 1_700_002_800_000;
pub const PRECISION: u64 = 3600;

/// How an [`Env`] is set up.
pub struct EnvOptions {
    pub vdaf: VdafConfig,
    pub mode: BatchMode,
    pub task_window: Option<(u64, u64)>,
    pub helper_config: DeploymentConfig,
    pub leader_config: DeploymentConfig,
    pub helper_dialect: edap_core::task::PeerDialect,
    pub report_expiry_age: Option<u64>,
    /// The task's schedule on both aggregators (default: [`schedule`]).
    pub schedule: Option<AggregationSchedule>,
    /// Differential privacy of the task, on both aggregators.
    pub dp: edap_core::dp::DpStrategy,
}

impl Default for EnvOptions {
    fn default() -> Self {
        EnvOptions {
            vdaf: VdafConfig::Prio3Count,
            mode: BatchMode::TimeInterval,
            task_window: None,
            helper_config: deployment_config(),
            leader_config: deployment_config(),
            helper_dialect: edap_core::task::PeerDialect::Auto,
            report_expiry_age: None,
            schedule: None,
            dp: Default::default(),
        }
    }
}

pub struct Env {
    pub net: Rc<MemNetwork>,
    pub leader: Rc<MemDeployment>,
    pub helper: Rc<MemDeployment>,
    pub collector_key: HpkeKeypair,
    pub task_id: TaskId,
    pub config: TaskConfiguration,
    pub client: Client,
    /// The task's VDAF verification key (tests that play the Leader need it).
    pub verify_key: [u8; 32],
}

/// A development deployment with the aggregator API on (token [`API_TOKEN`]).
pub fn deployment_config() -> DeploymentConfig {
    DeploymentConfig {
        api_token_hashes: vec![TokenHash::of(API_TOKEN)],
        ..DeploymentConfig::development()
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
        Env::build(EnvOptions {
            vdaf,
            mode,
            task_window,
            helper_config,
            ..EnvOptions::default()
        })
    }

    pub fn build(o: EnvOptions) -> Env {
        let EnvOptions {
            vdaf,
            mode,
            task_window,
            helper_config,
            leader_config,
            helper_dialect,
            report_expiry_age,
            schedule: task_schedule,
            dp,
        } = o;
        let net = MemNetwork::new(START_MS);
        let leader = net.deploy(
            LEADER,
            DeploymentConfig {
                dap_url: leader_config.dap_url.clone().or(Some(format!("{LEADER}/"))),
                ..leader_config
            },
        );
        let helper = net.deploy(
            HELPER,
            DeploymentConfig {
                dap_url: helper_config.dap_url.clone().or(Some(format!("{HELPER}/"))),
                ..helper_config
            },
        );
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
        let config = spec.to_config().unwrap();
        let verify_key_bytes = edap_core::rand::array::<32>();
        let verify_key = edap_core::messages::base64url(&verify_key_bytes);
        let mut task_id = None;
        // Janus's fields only: each aggregator builds the configuration from its DAP URL.
        for (d, role) in [(&helper, RoleJson::Helper), (&leader, RoleJson::Leader)] {
            let leader_side = role == RoleJson::Leader;
            let mut req = janus_post_task_req(&config, role, &verify_key, &collector_key);
            req.schedule = Some(task_schedule.clone().unwrap_or_else(schedule));
            req.report_expiry_age = report_expiry_age;
            req.vdaf = req.vdaf.map(|v| v.with_dp(dp));
            if leader_side {
                req.helper_dialect = Some(helper_dialect);
            }
            req.aggregator_auth_token =
                Some(AuthTokenJson::new(AuthHeader::Bearer, AGG_TOKEN.into()));
            if leader_side {
                req.collector_auth_token_hash = Some(TokenHashJson::of(&AuthTokenJson::new(
                    AuthHeader::Bearer,
                    COLLECTOR_TOKEN.into(),
                )));
            }
            let resp = api(
                d,
                Method::Post,
                "/api/tasks",
                Some(serde_json::to_value(&req).unwrap()),
            );
            assert_eq!(
                resp.status,
                200,
                "provisioning: {}",
                String::from_utf8_lossy(&resp.body)
            );
            let t: TaskResp = serde_json::from_slice(&resp.body).unwrap();
            assert_eq!(
                t.task_config,
                edap_core::messages::base64url(&config.get_encoded().unwrap()),
                "the aggregator built a different configuration"
            );
            task_id = Some(t.task_id);
        }
        let task_id = task_id.unwrap();
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
            verify_key: verify_key_bytes,
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

    /// The Leader's raw counters (the `counters` of the task's upload metrics).
    pub fn stats(&self) -> BTreeMap<String, u64> {
        let r = api(
            &self.leader,
            Method::Get,
            &format!("/api/tasks/{}/metrics/uploads", self.task_id),
            None,
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        serde_json::from_value(v["counters"].clone()).unwrap()
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

/// The `PostTaskReq` of a task given as a configuration, in Janus's fields only (no
/// extension): what a Janus control plane sends. No tokens.
pub fn janus_post_task_req(
    config: &TaskConfiguration,
    role: RoleJson,
    verify_key: &str,
    collector_key: &HpkeKeypair,
) -> PostTaskReq {
    PostTaskReq::for_config(
        config,
        role,
        Secret(verify_key.to_string()),
        HpkeConfigJson::from(&collector_key.config),
    )
}

/// An aggregator API request with the right token, Accept and (with a body) Content-Type.
pub fn api(
    d: &MemDeployment,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Response {
    let body = body
        .map(|v| serde_json::to_vec(&v).unwrap())
        .unwrap_or_default();
    let auth = format!("Bearer {API_TOKEN}");
    let mut h = vec![("authorization", auth.as_str()), ("accept", MEDIA_TYPE)];
    if !body.is_empty() {
        h.push(("content-type", MEDIA_TYPE));
    }
    d.request(method, path, &h, body)
}

/// One small configuration of every Prio3 VDAF.
pub fn vdafs() -> Vec<VdafConfig> {
    vec![
        VdafConfig::Prio3Count,
        VdafConfig::Prio3Sum {
            max_measurement: 1000,
        },
        VdafConfig::Prio3SumVec {
            length: 4,
            max_measurement: 7,
            chunk_length: 2,
        },
        VdafConfig::Prio3Histogram {
            length: 4,
            chunk_length: 2,
        },
        VdafConfig::Prio3MultihotCountVec {
            length: 4,
            chunk_length: 2,
            max_weight: 2,
        },
    ]
}

/// The `i`-th test measurement for `vdaf` (valid for the configurations of [`vdafs`]).
pub fn measurement(vdaf: &VdafConfig, i: u64) -> Measurement {
    match vdaf {
        VdafConfig::Prio3Count => Measurement::Count(i.is_multiple_of(3)),
        VdafConfig::Prio3Sum { .. } => Measurement::Sum((i * 37) % 1001),
        VdafConfig::Prio3SumVec { .. } => {
            Measurement::Vector(vec![i % 8, (i * 3) % 8, (i * 5) % 8, 7])
        }
        VdafConfig::Prio3Histogram { .. } => Measurement::Bucket(i % 4),
        VdafConfig::Prio3MultihotCountVec { .. } => {
            let mut v = vec![0; 4];
            v[(i % 4) as usize] = 1;
            if i.is_multiple_of(2) {
                v[((i + 1) % 4) as usize] = 1;
            }
            Measurement::Vector(v)
        }
    }
}
