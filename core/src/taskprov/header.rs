//! The `dap-taskprov` header: a task advertisement.
//!
//! The draft makes the value a Structured Field Byte Sequence (`:` standard base64 `:`,
//! parameters ignored); Janus, the deployed Helper, sends and expects the unpadded base64url
//! of the encoded `TaskConfiguration`. Both forms are read; the base64url form is sent, so
//! that a Janus Helper reads what this Leader sends.

use crate::error::{Abort, DapErrorType};
use crate::http::Request;
use crate::messages::{base64url, TaskConfiguration, TaskId};
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use prio::codec::{Decode, Encode};
use sha2::{Digest, Sha256};

/// The header's name (HTTP header names compare case-insensitively).
pub const HEADER: &str = "dap-taskprov";

/// Why an advertisement was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdvertError {
    /// The header's value is not a configuration this aggregator can read.
    #[error("malformed dap-taskprov header: {0}")]
    Malformed(String),
    /// The configuration names a VDAF or batch mode this aggregator does not implement.
    #[error("unsupported task: {0}")]
    Unsupported(String),
    /// The configuration hashes to another task ID than the request's.
    #[error("the dap-taskprov advertisement derives task ID {derived}, not this request's task")]
    Mismatch {
        /// The ID the advertised configuration derives.
        derived: TaskId,
    },
}

impl From<AdvertError> for Abort {
    /// `Malformed` and `Unsupported` are the taskprov error `invalidTask`; a mismatch is
    /// `unrecognizedTask`, as the draft says for both Leader and Helper.
    fn from(e: AdvertError) -> Abort {
        let kind = match e {
            AdvertError::Mismatch { .. } => DapErrorType::UnrecognizedTask,
            _ => DapErrorType::InvalidTask,
        };
        Abort::dap(kind, e.to_string())
    }
}

/// An advertised task: the configuration, its exact bytes and the task ID they derive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertisement {
    /// The configuration.
    pub config: TaskConfiguration,
    /// Its encoding, as advertised (bound into every AAD, so kept byte for byte).
    pub bytes: Vec<u8>,
    /// `SHA-256(SHA-256("dap-taskprov task id") || bytes)`.
    pub task_id: TaskId,
}

/// The task ID of an encoded configuration (taskprov "Deriving the DAP Task ID").
pub fn task_id_of(encoded: &[u8]) -> TaskId {
    let mut h = Sha256::new();
    h.update(Sha256::digest(b"dap-taskprov task id"));
    h.update(encoded);
    TaskId(h.finalize().into())
}

/// The header value this aggregator sends for `config`: unpadded base64url.
pub fn encode(config: &TaskConfiguration) -> Result<String, AdvertError> {
    config
        .get_encoded()
        .map(|b| base64url(&b))
        .map_err(|e| AdvertError::Malformed(format!("configuration does not encode: {e}")))
}

fn engine(alphabet: &alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// The bytes a header value carries: `:base64:` (a Structured Field Byte Sequence, with
/// any parameters after it ignored) or base64url, padded or not.
fn value_bytes(value: &str) -> Result<Vec<u8>, AdvertError> {
    let v = value.trim();
    let decoded = match v.strip_prefix(':') {
        Some(rest) => {
            let (b64, _params) = rest
                .split_once(':')
                .ok_or_else(|| AdvertError::Malformed("unterminated byte sequence".into()))?;
            engine(&alphabet::STANDARD).decode(b64)
        }
        None => engine(&alphabet::URL_SAFE).decode(v),
    };
    decoded.map_err(|_| AdvertError::Malformed("the value is not base64".into()))
}

/// Names what is unsupported in a configuration that does not decode, if that is why:
/// walks to the batch mode and VDAF type without decoding the rest.
fn unsupported_part(b: &[u8]) -> Option<String> {
    let mut at = 1 + usize::from(*b.first()?);
    for _ in 0..2 {
        let len = u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?);
        at += 2 + usize::from(len);
    }
    at += 16;
    let mode = *b.get(at)?;
    if !(1..=2).contains(&mode) {
        return Some(format!("batch mode {mode} is not implemented"));
    }
    let cfg_len = u16::from_be_bytes(b.get(at + 1..at + 3)?.try_into().ok()?);
    at += 3 + usize::from(cfg_len);
    let vdaf = u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?);
    (!(1..=5).contains(&vdaf)).then(|| format!("VDAF type {vdaf:#010x} is not implemented"))
}

/// Parses one header value into the advertised task.
pub fn parse(value: &str) -> Result<Advertisement, AdvertError> {
    let bytes = value_bytes(value)?;
    let config =
        TaskConfiguration::get_decoded(&bytes).map_err(|e| match unsupported_part(&bytes) {
            Some(what) => AdvertError::Unsupported(what),
            None => AdvertError::Malformed(format!("not a TaskConfiguration: {e}")),
        })?;
    // Strict decoding re-encodes to the same bytes; refuse anything that would not, since
    // the configuration is bound into AADs byte for byte.
    if config.get_encoded().ok().as_deref() != Some(bytes.as_slice()) {
        return Err(AdvertError::Malformed(
            "non-canonical TaskConfiguration".into(),
        ));
    }
    Ok(Advertisement {
        task_id: task_id_of(&bytes),
        config,
        bytes,
    })
}

/// The advertisement a request carries, if any. More than one header (which the Workers
/// runtime joins with commas) is malformed.
pub fn from_request(req: &Request) -> Result<Option<Advertisement>, AdvertError> {
    let mut values = req
        .headers
        .0
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(HEADER))
        .map(|(_, v)| v.as_str());
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() || first.contains(',') {
        return Err(AdvertError::Malformed(
            "more than one dap-taskprov header".into(),
        ));
    }
    parse(first).map(Some)
}

/// [`from_request`], checked against the request's task ID.
pub fn for_task(req: &Request, task_id: &TaskId) -> Result<Option<Advertisement>, AdvertError> {
    match from_request(req)? {
        Some(a) if a.task_id != *task_id => Err(AdvertError::Mismatch { derived: a.task_id }),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{BatchMode, Extensions, VdafConfig};
    use crate::task::derive_task_id;

    fn config() -> TaskConfiguration {
        TaskConfiguration {
            task_info: b"t".to_vec(),
            leader_endpoint: "https://leader.example/".into(),
            helper_endpoint: "https://helper.example/".into(),
            time_precision: 60,
            min_batch_size: 10,
            batch_mode: BatchMode::TimeInterval,
            vdaf: VdafConfig::Prio3Count,
            extensions: Extensions::empty(),
        }
    }

    #[test]
    fn both_forms_parse_to_the_same_task() {
        let c = config();
        let bytes = c.get_encoded().unwrap();
        let ours = encode(&c).unwrap();
        assert!(!ours.contains('='));
        let sf = format!(
            ":{}:;x=1",
            base64::engine::general_purpose::STANDARD.encode(&bytes)
        );
        for v in [ours.as_str(), sf.as_str()] {
            let a = parse(v).unwrap();
            assert_eq!(a.config, c);
            assert_eq!(a.task_id, derive_task_id(&c).unwrap());
        }
    }

    #[test]
    fn refusals_say_why() {
        assert!(matches!(parse("%%%"), Err(AdvertError::Malformed(_))));
        assert!(matches!(parse(":abc"), Err(AdvertError::Malformed(_))));
        assert!(matches!(
            parse(&base64url(b"\x01t")),
            Err(AdvertError::Malformed(_))
        ));
        // A VDAF type this aggregator does not implement.
        let mut b = config().get_encoded().unwrap();
        let vdaf_at = 1 + 1 + 2 + 23 + 2 + 23 + 16 + 3;
        b[vdaf_at..vdaf_at + 4].copy_from_slice(&0xFFFF_1003u32.to_be_bytes());
        match parse(&base64url(&b)) {
            Err(AdvertError::Unsupported(d)) => assert!(d.contains("0xffff1003"), "{d}"),
            other => panic!("{other:?}"),
        }
        let a: Abort = AdvertError::Unsupported("x".into()).into();
        assert_eq!(a.dap_type(), Some(DapErrorType::InvalidTask));
        let m: Abort = AdvertError::Mismatch {
            derived: TaskId([0; 32]),
        }
        .into();
        assert_eq!(m.dap_type(), Some(DapErrorType::UnrecognizedTask));
    }

    #[test]
    fn a_request_carries_at_most_one() {
        let v = encode(&config()).unwrap();
        let id = derive_task_id(&config()).unwrap();
        let mut req = Request::default();
        assert_eq!(for_task(&req, &id), Ok(None));
        req.headers.push("DAP-Taskprov", v.clone());
        assert!(for_task(&req, &id).unwrap().is_some());
        assert!(matches!(
            for_task(&req, &TaskId([9; 32])),
            Err(AdvertError::Mismatch { .. })
        ));
        req.headers.push(HEADER, v);
        assert!(matches!(
            for_task(&req, &id),
            Err(AdvertError::Malformed(_))
        ));
    }
}
