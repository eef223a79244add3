//! Known-answer test from draft-ietf-ppm-dap-taskprov, section "DAP-Taskprov Structured
//! Header": the example header value is a DAP-18 `TaskConfiguration`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edap_core::messages::{BatchMode, Interval, TaskConfiguration, TaskId, VdafConfig};
use prio::codec::{Decode, Encode};
use sha2::{Digest, Sha256};

/// The example from the draft: `DAP-Taskprov: :<this>:` (an RFC 9651 Byte Sequence, i.e.
/// standard base64 with padding between colons).
const HEADER: &str = ":BHRlc3QAG2h0dHBzOi8vbGVhZGVyLmV4YW1wbGUuY29tLwAbaHR0cHM6Ly9oZWxwZXIuZXhhbXBsZS5jb20vAAAAAAAAADwAAAAAAAAACgEAAAAAAAEAAAAUAAEAEAAAAAAAAAA8AAAAAAAAAGQ=:";

/// `SHA-256(SHA-256("dap-taskprov task id") || config)` over the decoded header bytes,
/// computed independently of this crate with Python's hashlib:
///
/// ```text
/// python3 -c "import base64,hashlib; b=base64.b64decode('BHRl...AGQ='); \
///   print(hashlib.sha256(hashlib.sha256(b'dap-taskprov task id').digest()+b).hexdigest())"
/// ```
const EXPECTED_TASK_ID_HEX: &str =
    "35848a898adb146b559385247c7e49db1cbd28af52e3c11cfb01d4fc4b490479";

/// The same bytes, spelled out field by field (TLS presentation language order).
const EXPECTED_CONFIG_HEX: &str = concat!(
    "04",
    "74657374", // task_info<1..2^8-1> = "test"
    "001b",
    "68747470733a2f2f6c65616465722e6578616d706c652e636f6d2f", // leader Url
    "001b",
    "68747470733a2f2f68656c7065722e6578616d706c652e636f6d2f", // helper Url
    "000000000000003c",                                       // time_precision = 60
    "000000000000000a",                                       // min_batch_size = 10
    "01",                                                     // batch_mode = time_interval
    "0000",                                                   // batch_config = empty
    "00000001",                                               // vdaf_type = Prio3Count
    "0000",                                                   // vdaf_configuration = empty
    "0014",                                                   // extensions<0..2^16-1>: 20 bytes
    "0001",
    "0010", // task_interval, 16 bytes
    "000000000000003c",
    "0000000000000064", // Interval {60, 100}
);

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn header_bytes() -> Vec<u8> {
    let inner = HEADER
        .strip_prefix(':')
        .and_then(|s| s.strip_suffix(':'))
        .expect("a Structured Field Byte Sequence is delimited by colons");
    STANDARD.decode(inner).expect("standard base64")
}

fn expected_config() -> TaskConfiguration {
    let mut config = TaskConfiguration {
        task_info: b"test".to_vec(),
        leader_endpoint: "https://leader.example.com/".into(),
        helper_endpoint: "https://helper.example.com/".into(),
        time_precision: 60,
        min_batch_size: 10,
        batch_mode: BatchMode::TimeInterval,
        vdaf: VdafConfig::Prio3Count,
        extensions: Default::default(),
    };
    config.set_task_interval(Some(Interval::new(60, 100)));
    config
}

#[test]
fn header_bytes_are_the_documented_layout() {
    assert_eq!(header_bytes(), hex(EXPECTED_CONFIG_HEX));
}

#[test]
fn header_decodes_to_the_documented_task_configuration() {
    let bytes = header_bytes();
    let config = TaskConfiguration::get_decoded(&bytes).expect("the draft's example decodes");
    assert_eq!(config, expected_config());
    assert_eq!(config.task_interval(), Some(Interval::new(60, 100)));
    assert_eq!(config.vdaf.vdaf_type(), 1);
}

#[test]
fn task_configuration_encodes_back_to_the_header_bytes() {
    let bytes = header_bytes();
    let decoded = TaskConfiguration::get_decoded(&bytes).unwrap();
    assert_eq!(decoded.get_encoded().unwrap(), bytes);
    assert_eq!(expected_config().get_encoded().unwrap(), bytes);
}

#[test]
fn task_id_matches_independent_computation() {
    let bytes = expected_config().get_encoded().unwrap();
    let prefix = Sha256::digest(b"dap-taskprov task id");
    let mut h = Sha256::new();
    h.update(prefix);
    h.update(&bytes);
    let task_id = TaskId(h.finalize().into());
    assert_eq!(task_id.as_bytes().to_vec(), hex(EXPECTED_TASK_ID_HEX));
    // The URL form used in DAP paths.
    assert_eq!(
        TaskId::from_base64url(&task_id.to_base64url()),
        Some(task_id)
    );
}

#[test]
fn core_derivation_matches_the_known_answer() {
    let derived = edap_core::task::derive_task_id(&expected_config()).unwrap();
    assert_eq!(derived.as_bytes().to_vec(), hex(EXPECTED_TASK_ID_HEX));
    // The taskprov verify key is 32 bytes and depends on both the secret and the task.
    let k1 = edap_core::task::derive_verify_key(&[1; 32], &derived);
    let k2 = edap_core::task::derive_verify_key(&[2; 32], &derived);
    assert_ne!(k1, k2);
    assert_ne!(
        k1,
        edap_core::task::derive_verify_key(&[1; 32], &TaskId([0; 32]))
    );
}
