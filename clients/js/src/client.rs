//! Upload bodies: the core's [`Client`] seals each measurement to the aggregators' HPKE
//! configurations, and the reports are encoded as one DAP-18 `UploadRequest`.

use crate::task::Task;
use edap_core::messages::{HpkeConfigList, Report, UploadErrors, UploadRequest};
use edap_core::roles::client::{choose_config, Client};
use edap_core::vdaf::Measurement;
use prio::codec::{Decode, Encode};

/// Why reports could not be built, or an answer not read.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// An aggregator's `/hpke_config` answer is unusable.
    #[error("{0}")]
    HpkeConfig(String),
    /// Building a report failed (the measurement was checked before, so this is a fault
    /// of the configuration or the platform).
    #[error("cannot build the report for measurement {index}: {message}")]
    Report {
        /// The measurement's position.
        index: usize,
        /// What failed.
        message: String,
    },
    /// The Leader's `upload-errors` answer does not decode.
    #[error("the Leader's upload-errors answer does not decode: {0}")]
    Answer(String),
}

/// The first supported configuration of an encoded `HpkeConfigList`.
fn choose(who: &str, list: &[u8]) -> Result<edap_core::messages::HpkeConfig, UploadError> {
    let list = HpkeConfigList::get_decoded(list).map_err(|e| {
        UploadError::HpkeConfig(format!(
            "the {who}'s /hpke_config answer is not an HpkeConfigList: {e}"
        ))
    })?;
    choose_config(&list).cloned().ok_or_else(|| {
        UploadError::HpkeConfig(format!(
            "the {who} advertises no HPKE configuration this client supports (X25519 or P-256 with HKDF-SHA256 and AES-128-GCM)"
        ))
    })
}

/// A Client for a task, sealing to the given encoded HPKE configuration lists.
pub fn client(task: &Task, leader_list: &[u8], helper_list: &[u8]) -> Result<Client, UploadError> {
    Client::new(
        task.id,
        task.config.clone(),
        choose("Leader", leader_list)?,
        choose("Helper", helper_list)?,
    )
    .map_err(|e| UploadError::HpkeConfig(e.to_string()))
}

/// One encoded `UploadRequest` and the base64url report ID of each of its reports.
pub struct UploadBody {
    /// The request body.
    pub body: Vec<u8>,
    /// Report IDs, in the order of the measurements.
    pub report_ids: Vec<String>,
}

/// Builds one report per `measurements[i]`, `i` in `indices`, all at `time_secs`.
pub fn upload_body(
    client: &Client,
    measurements: &[Measurement],
    indices: &[u32],
    time_secs: u64,
) -> Result<UploadBody, UploadError> {
    let mut reports: Vec<Report> = Vec::with_capacity(indices.len());
    for &i in indices {
        let index = i as usize;
        let m = measurements.get(index).ok_or_else(|| UploadError::Report {
            index,
            message: "no such measurement".into(),
        })?;
        let r = client
            .report(m, time_secs)
            .map_err(|e| UploadError::Report {
                index,
                message: e.to_string(),
            })?;
        reports.push(r);
    }
    let report_ids = reports
        .iter()
        .map(|r| r.metadata.report_id.to_base64url())
        .collect();
    let body = UploadRequest { reports }
        .get_encoded()
        .map_err(|e| UploadError::Report {
            index: 0,
            message: format!("cannot encode the upload request: {e}"),
        })?;
    Ok(UploadBody { body, report_ids })
}

/// The `(report ID, error name)` pairs of an `upload-errors` body (empty body: none).
pub fn upload_errors(body: &[u8]) -> Result<Vec<(String, &'static str)>, UploadError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let e = UploadErrors::get_decoded(body).map_err(|e| UploadError::Answer(e.to_string()))?;
    Ok(e.status
        .iter()
        .map(|s| (s.id.to_base64url(), s.error.as_str()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use edap_core::hpke::HpkeKeypair;
    use edap_core::messages::{HpkeConfigId, HpkeKemId};

    #[test]
    fn builds_a_body_of_reports() {
        let task = Task::from_params_json(
            r#"{"leader": "https://l.example/", "helper": "https://h.example/",
                "vdaf": {"type": "count"}, "timePrecisionSeconds": 60, "minBatchSize": 10,
                "batchMode": "leader_selected", "taskInfo": "t"}"#,
        )
        .unwrap();
        let list = |id| {
            let kp =
                HpkeKeypair::generate(HpkeConfigId(id), HpkeKemId::X25519_HKDF_SHA256).unwrap();
            HpkeConfigList(vec![kp.config]).get_encoded().unwrap()
        };
        let c = client(&task, &list(1), &list(2)).unwrap();
        let ms = vec![Measurement::Count(true), Measurement::Count(false)];
        let b = upload_body(&c, &ms, &[1, 0], 1_700_000_000).unwrap();
        let decoded = UploadRequest::get_decoded(&b.body).unwrap();
        assert_eq!(decoded.reports.len(), 2);
        assert_eq!(
            b.report_ids[0],
            decoded.reports[0].metadata.report_id.to_base64url()
        );
        assert!(upload_errors(&[]).unwrap().is_empty());
        assert!(client(&task, b"junk", &list(2)).is_err());
        assert!(upload_body(&c, &ms, &[2], 0).is_err());
    }
}
