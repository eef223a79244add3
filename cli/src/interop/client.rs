//! The Client role: `ready` and `upload` (one report per command).

use super::{task_config, task_id, Reply, Role};
use crate::error::{Error, Result};
use crate::hpke_cache;
use crate::http::{join, Http};
use crate::task::Task;
use crate::upload::{client_for, post_reports};
use edap_core::interop::{measurement_from_json, number};
use edap_core::messages::{HpkeConfigList, ReportError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a fetched HPKE config list is reused (across tasks: the lists belong to the
/// aggregators, not to tasks). A Leader that answers `outdated_config` or
/// `hpke_unknown_config_id` gets a fresh fetch and one more report.
const CONFIG_TTL: Duration = Duration::from_secs(60);

pub struct ClientRole {
    http: Http,
    configs: Mutex<HashMap<String, (Instant, HpkeConfigList)>>,
}

impl ClientRole {
    pub fn new() -> Result<ClientRole> {
        Ok(ClientRole {
            http: Http::new()?,
            configs: Mutex::new(HashMap::new()),
        })
    }

    /// The config list of `endpoint`: remembered unless `fresh` or too old.
    fn config_list(&self, who: &str, endpoint: &str, fresh: bool) -> Result<HpkeConfigList> {
        if !fresh {
            let cache = self.configs.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, list)) = cache.get(endpoint) {
                if at.elapsed() < CONFIG_TTL {
                    return Ok(list.clone());
                }
            }
        }
        let list = hpke_cache::fetch(&self.http, who, endpoint)?;
        self.configs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(endpoint.to_string(), (Instant::now(), list.clone()));
        Ok(list)
    }

    fn upload(&self, body: &Value) -> Result<()> {
        let task = Task {
            id: task_id(body)?,
            config: task_config(body)?,
        };
        let measurement = body
            .get("measurement")
            .ok_or_else(|| Error::Input("missing \"measurement\"".into()))?;
        let measurement = measurement_from_json(&task.config.vdaf, measurement)
            .map_err(|e| Error::Input(format!("measurement: {e}")))?;
        let time = match body.get("time") {
            None | Some(Value::Null) => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            t => number(t).ok_or_else(|| Error::Input("invalid \"time\"".into()))?,
        };
        let url = join(
            &task.config.leader_endpoint,
            &format!("/tasks/{}/reports", task.id),
        );
        for fresh in [false, true] {
            let leader = self.config_list("Leader", &task.config.leader_endpoint, fresh)?;
            let helper = self.config_list("Helper", &task.config.helper_endpoint, fresh)?;
            let report = client_for(&task, &leader, &helper)?
                .report(&measurement, time)
                .map_err(|e| Error::Protocol(format!("cannot build the report: {e}")))?;
            let id = report.metadata.report_id;
            let posted = post_reports(&self.http, &url, None, vec![report])?;
            let refused = posted
                .errors
                .status
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.error);
            match refused {
                None => return Ok(()),
                // A retried request: the first attempt stored the report.
                Some(ReportError::ReportReplayed) if posted.attempts > 1 => return Ok(()),
                Some(ReportError::OutdatedConfig | ReportError::HpkeUnknownConfigId) if !fresh => {}
                Some(e) => {
                    return Err(Error::Protocol(format!(
                        "the Leader rejected the report: {e}"
                    )))
                }
            }
        }
        Err(Error::Protocol(
            "the Leader rejected the report twice for its HPKE configuration, even after a fresh fetch".into(),
        ))
    }
}

impl Role for ClientRole {
    const NAME: &'static str = "client";
    const COMMANDS: &'static [&'static str] = &["ready", "upload"];

    fn handle(&self, command: &str, body: &Value) -> Reply {
        match command {
            "upload" => {
                let note = body
                    .get("task_id")
                    .and_then(Value::as_str)
                    .map(|t| format!("task={}", crate::error::one_line(t, 60)))
                    .unwrap_or_default();
                match self.upload(body) {
                    Ok(()) => Reply::success(json!({}), note),
                    Err(e) => Reply::error(&e, note),
                }
            }
            _ => Reply::new(json!({}), ""),
        }
    }
}
