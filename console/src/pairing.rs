//! Pairing with an aggregator through its aggregator API (Janus's shape): `GET {api}/` with
//! the bearer token tells what it is. The console needs `protocol` DAP-18 and reads its
//! role, VDAFs, batch modes and features; each failure says what is wrong in words (an
//! unreachable URL, a wrong token, another protocol version, a URL that is no aggregator
//! API).

use edap_core::messages::{BatchMode, VdafConfig};
use edap_core::task::PeerDialect;
use serde::{Deserialize, Serialize};

/// The protocol the console speaks.
pub const PROTOCOL: &str = "DAP-18";

/// What an aggregator's `GET /` says about it (Janus's `AggregatorApiConfig`; fields a
/// foreign aggregator leaves out read as empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatorInfo {
    /// `DAP-18`.
    pub protocol: String,
    /// Its DAP URL, as tasks name it.
    #[serde(default)]
    pub dap_url: String,
    /// `Either`, `Leader` or `Helper`.
    #[serde(default)]
    pub role: String,
    /// VDAF names (`Prio3Count`, ...).
    #[serde(default)]
    pub vdafs: Vec<String>,
    /// `TimeInterval`, `LeaderSelected`.
    #[serde(default)]
    pub batch_modes: Vec<String>,
    /// Feature names (`PostResourceCreation`, `UploadMetrics`, ...).
    #[serde(default)]
    pub features: Vec<String>,
    /// Software name.
    #[serde(default)]
    pub software_name: String,
    /// Software version.
    #[serde(default)]
    pub software_version: String,
}

/// The role an aggregator plays in one task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskRole {
    /// Receives uploads, drives aggregation and collection.
    Leader,
    /// The other aggregator.
    Helper,
}

impl TaskRole {
    /// `Leader` or `Helper`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskRole::Leader => "Leader",
            TaskRole::Helper => "Helper",
        }
    }
}

/// The aggregator API name of a VDAF.
pub fn vdaf_name(v: &VdafConfig) -> &'static str {
    match v {
        VdafConfig::Prio3Count => "Prio3Count",
        VdafConfig::Prio3Sum { .. } => "Prio3Sum",
        VdafConfig::Prio3SumVec { .. } => "Prio3SumVec",
        VdafConfig::Prio3Histogram { .. } => "Prio3Histogram",
        VdafConfig::Prio3MultihotCountVec { .. } => "Prio3MultihotCountVec",
    }
}

/// The aggregator API name of a batch mode.
pub fn batch_mode_name(m: BatchMode) -> &'static str {
    match m {
        BatchMode::TimeInterval => "TimeInterval",
        BatchMode::LeaderSelected => "LeaderSelected",
    }
}

/// Reads the answer to `GET {api}/`: `Err` says why this is no usable aggregator.
pub fn interpret(status: u16, body: &[u8]) -> Result<AggregatorInfo, String> {
    match status {
        200..=299 => {}
        401 | 403 => {
            return Err(format!(
                "the aggregator refused the API token (HTTP {status}): check the token"
            ))
        }
        404 => {
            return Err(
                "no aggregator API at this URL (HTTP 404): check the URL, e.g. https://helper.example/api"
                    .into(),
            )
        }
        406 | 415 => {
            return Err(format!(
                "this server does not speak the aggregator API's media type (HTTP {status})"
            ))
        }
        s => return Err(format!("the aggregator API answered HTTP {s}")),
    }
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| "this URL does not answer like an aggregator API (no JSON)".to_string())?;
    let protocol = v
        .get("protocol")
        .and_then(|p| p.as_str())
        .ok_or("this URL does not answer like an aggregator API (no protocol field)")?;
    if protocol != PROTOCOL {
        return Err(format!(
            "the aggregator speaks {protocol}; the console needs {PROTOCOL}"
        ));
    }
    let info: AggregatorInfo = serde_json::from_value(v).map_err(|e| {
        format!(
            "the aggregator's description does not read: {}",
            edap_core::api::aggregator_api::types::redact_quoted(&e.to_string())
        )
    })?;
    if !matches!(info.role.as_str(), "Either" | "Leader" | "Helper") {
        return Err(format!(
            "the aggregator's role is {:?}; expected Either, Leader or Helper",
            info.role
        ));
    }
    if !(info.dap_url.starts_with("https://") || info.dap_url.starts_with("http://")) {
        return Err("the aggregator does not tell its DAP URL (dap_url)".into());
    }
    if info.vdafs.is_empty() || info.batch_modes.is_empty() {
        return Err("the aggregator lists no VDAFs or no batch modes".into());
    }
    Ok(info)
}

impl AggregatorInfo {
    /// Whether this aggregator can play `role` in a task of `vdaf` and `mode`; else why not.
    pub fn can_serve(
        &self,
        role: TaskRole,
        vdaf: &VdafConfig,
        mode: BatchMode,
    ) -> Result<(), String> {
        if self.role != "Either" && self.role != role.as_str() {
            return Err(format!(
                "it serves only as {}, not as {}",
                self.role,
                role.as_str()
            ));
        }
        let v = vdaf_name(vdaf);
        if !self.vdafs.iter().any(|x| x == v) {
            return Err(format!(
                "it does not support {v} (it supports {})",
                self.vdafs.join(", ")
            ));
        }
        let m = batch_mode_name(mode);
        if !self.batch_modes.iter().any(|x| x == m) {
            return Err(format!(
                "it does not support {m} batches (it supports {})",
                self.batch_modes.join(", ")
            ));
        }
        Ok(())
    }

    /// How a Leader creates resources at this aggregator as its Helper.
    pub fn dialect(&self) -> PeerDialect {
        PeerDialect::from_features(&self.features)
    }

    /// Whether it reports upload and aggregation metrics.
    pub fn has_metrics(&self) -> bool {
        self.features.iter().any(|f| f == "UploadMetrics")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn edap_answer() -> Vec<u8> {
        serde_json::to_vec(&json!({
            "protocol": "DAP-18", "dap_url": "https://helper.example/", "role": "Either",
            "vdafs": ["Prio3Count", "Prio3Sum", "Prio3SumVec", "Prio3Histogram", "Prio3MultihotCountVec"],
            "batch_modes": ["TimeInterval", "LeaderSelected"],
            "features": ["TokenHash", "UploadMetrics", "PostResourceCreation"],
            "software_name": "edap", "software_version": "0.1.0"
        }))
        .unwrap()
    }

    #[test]
    fn reads_a_dap18_aggregator() {
        let info = interpret(200, &edap_answer()).unwrap();
        assert_eq!(info.dap_url, "https://helper.example/");
        assert_eq!(info.dialect(), PeerDialect::Post);
        assert!(info.has_metrics());
        let h = VdafConfig::Prio3Histogram {
            length: 4,
            chunk_length: 2,
        };
        assert!(info
            .can_serve(TaskRole::Helper, &h, BatchMode::LeaderSelected)
            .is_ok());
    }

    #[test]
    fn says_why_an_aggregator_is_unusable() {
        assert!(interpret(401, b"").unwrap_err().contains("token"));
        assert!(interpret(404, b"")
            .unwrap_err()
            .contains("no aggregator API"));
        assert!(interpret(500, b"").unwrap_err().contains("HTTP 500"));
        assert!(interpret(200, b"<html>").unwrap_err().contains("no JSON"));
        assert!(interpret(200, b"{}").unwrap_err().contains("no protocol"));
        // divviup's Janus 0.7: DAP-09 with query_types.
        let dap09 = json!({"protocol": "DAP-09", "dap_url": "https://j.example/", "role": "Either",
            "vdafs": ["Prio3Count"], "query_types": ["TimeInterval"], "features": []});
        let e = interpret(200, &serde_json::to_vec(&dap09).unwrap()).unwrap_err();
        assert!(e.contains("DAP-09") && e.contains("DAP-18"), "{e}");
        let no_url = json!({"protocol": "DAP-18", "role": "Either", "vdafs": ["Prio3Count"], "batch_modes": ["TimeInterval"]});
        assert!(interpret(200, &serde_json::to_vec(&no_url).unwrap())
            .unwrap_err()
            .contains("dap_url"));
        let bad_role = json!({"protocol": "DAP-18", "dap_url": "https://x.example/", "role": "Collector",
            "vdafs": ["Prio3Count"], "batch_modes": ["TimeInterval"]});
        assert!(interpret(200, &serde_json::to_vec(&bad_role).unwrap())
            .unwrap_err()
            .contains("role"));
    }

    #[test]
    fn refuses_tasks_it_cannot_serve() {
        let mut info = interpret(200, &edap_answer()).unwrap();
        info.role = "Helper".into();
        info.vdafs = vec!["Prio3Count".into()];
        info.batch_modes = vec!["TimeInterval".into()];
        info.features = vec![];
        assert!(info
            .can_serve(
                TaskRole::Leader,
                &VdafConfig::Prio3Count,
                BatchMode::TimeInterval
            )
            .unwrap_err()
            .contains("only as Helper"));
        let sum = VdafConfig::Prio3Sum { max_measurement: 9 };
        assert!(info
            .can_serve(TaskRole::Helper, &sum, BatchMode::TimeInterval)
            .unwrap_err()
            .contains("Prio3Sum"));
        assert!(info
            .can_serve(
                TaskRole::Helper,
                &VdafConfig::Prio3Count,
                BatchMode::LeaderSelected
            )
            .unwrap_err()
            .contains("LeaderSelected"));
        // A Janus-era peer without PostResourceCreation gets PUT.
        assert_eq!(info.dialect(), PeerDialect::Put);
        assert!(!info.has_metrics());
    }
}
