//! Property tests for every DAP-18 wire type in `edap_core::messages`, plus targeted checks of
//! the decoder's strictness (draft-ietf-ppm-dap-18 section 4).
//!
//! For each type there are three properties:
//! * `roundtrip`: encode then decode gives back the value; `encoded_len()` (when `Some`) is the
//!   real length; one appended byte is refused.
//! * `arbitrary_bytes`: decoding arbitrary bytes never panics, and whatever decodes re-encodes
//!   to exactly the input (the encoding is canonical).
//! * `mutated_encoding`: the same, for valid encodings that were truncated, bit-flipped,
//!   overwritten or extended.

use edap_core::messages::*;
use prio::codec::{CodecError, Decode, Encode};
use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use std::fmt::Debug;

// ---------------------------------------------------------------------------------------------
// Generic checks
// ---------------------------------------------------------------------------------------------

/// 64 cases per property keeps the file at well under a second; set `PROPTEST_CASES` for a
/// deeper run.
fn cfg() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn check_roundtrip<T: Encode + Decode + PartialEq + Debug>(v: &T) -> Result<(), TestCaseError> {
    let bytes = v
        .get_encoded()
        .map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
    if let Some(n) = v.encoded_len() {
        prop_assert_eq!(n, bytes.len(), "encoded_len disagrees with the encoding");
    }
    let back = T::get_decoded(&bytes).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    prop_assert_eq!(&back, v);
    let mut longer = bytes.clone();
    longer.push(0);
    prop_assert!(
        T::get_decoded(&longer).is_err(),
        "a trailing byte was accepted"
    );
    Ok(())
}

/// Decoding must not panic; if it succeeds, the value must re-encode to the same bytes.
fn check_decode_total<T: Encode + Decode + Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = T::get_decoded(bytes) {
        let again = v
            .get_encoded()
            .map_err(|e| TestCaseError::fail(format!("decoded {v:?} but cannot re-encode: {e}")))?;
        prop_assert_eq!(
            again,
            bytes,
            "decoded {:?} from a non-canonical encoding",
            v
        );
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Mutation {
    Truncate(Index),
    FlipBit(Index, u8),
    Overwrite(Index, u8),
    Append(Vec<u8>),
    Insert(Index, u8),
    Remove(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        vec(any::<u8>(), 1..20).prop_map(Mutation::Append),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Remove),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Truncate(i) => {
                let n = i.index(bytes.len() + 1);
                bytes.truncate(n);
            }
            Mutation::Append(extra) => bytes.extend_from_slice(extra),
            Mutation::Insert(i, b) => {
                let n = i.index(bytes.len() + 1);
                bytes.insert(n, *b);
            }
            _ if bytes.is_empty() => {}
            Mutation::FlipBit(i, bit) => {
                let n = i.index(bytes.len());
                bytes[n] ^= 1 << bit;
            }
            Mutation::Overwrite(i, b) => {
                let n = i.index(bytes.len());
                bytes[n] = *b;
            }
            Mutation::Remove(i) => {
                let n = i.index(bytes.len());
                bytes.remove(n);
            }
        }
    }
    bytes
}

/// One module per type, each with the three properties.
macro_rules! wire_properties {
    ($($name:ident: $ty:ty = $strategy:expr;)*) => {$(
        mod $name {
            use super::*;

            proptest! {
                #![proptest_config(cfg())]

                #[test]
                fn roundtrip(v in $strategy) {
                    check_roundtrip::<$ty>(&v)?;
                }

                #[test]
                fn arbitrary_bytes(bytes in vec(any::<u8>(), 0..160)) {
                    check_decode_total::<$ty>(&bytes)?;
                }

                #[test]
                fn mutated_encoding(v in $strategy, mutations in vec(mutation(), 1..4)) {
                    let bytes: Vec<u8> = <$ty as Encode>::get_encoded(&v).unwrap();
                    check_decode_total::<$ty>(&mutate(bytes, &mutations))?;
                }
            }
        }
    )*};
}

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

fn bytes(range: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), range)
}

fn task_id() -> impl Strategy<Value = TaskId> {
    any::<[u8; 32]>().prop_map(TaskId)
}
fn report_id() -> impl Strategy<Value = ReportId> {
    any::<[u8; 16]>().prop_map(ReportId)
}
fn batch_id() -> impl Strategy<Value = BatchId> {
    any::<[u8; 32]>().prop_map(BatchId)
}
fn aggregation_job_id() -> impl Strategy<Value = AggregationJobId> {
    any::<[u8; 16]>().prop_map(AggregationJobId)
}
fn collection_job_id() -> impl Strategy<Value = CollectionJobId> {
    any::<[u8; 16]>().prop_map(CollectionJobId)
}
fn aggregate_share_id() -> impl Strategy<Value = AggregateShareId> {
    any::<[u8; 16]>().prop_map(AggregateShareId)
}
fn time() -> impl Strategy<Value = Time> {
    any::<u64>().prop_map(Time)
}
fn duration() -> impl Strategy<Value = Duration> {
    any::<u64>().prop_map(Duration)
}
fn interval() -> impl Strategy<Value = Interval> {
    (time(), duration()).prop_map(|(start, duration)| Interval { start, duration })
}
fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::Collector),
        Just(Role::Client),
        Just(Role::Leader),
        Just(Role::Helper)
    ]
}
fn extension() -> impl Strategy<Value = Extension> {
    (any::<u16>(), bytes(0..12)).prop_map(|(extension_type, extension_data)| Extension {
        extension_type,
        extension_data,
    })
}
fn extensions() -> impl Strategy<Value = Extensions> {
    btree_map(any::<u16>(), bytes(0..12), 0..4).prop_map(|m| {
        let items = m
            .into_iter()
            .map(|(extension_type, extension_data)| Extension {
                extension_type,
                extension_data,
            })
            .collect();
        Extensions::new(items).unwrap()
    })
}
fn batch_mode() -> impl Strategy<Value = BatchMode> {
    prop_oneof![
        Just(BatchMode::TimeInterval),
        Just(BatchMode::LeaderSelected)
    ]
}
fn hpke_config_with_id(id: u8) -> impl Strategy<Value = HpkeConfig> {
    (any::<u16>(), any::<u16>(), any::<u16>(), bytes(1..40)).prop_map(
        move |(kem, kdf, aead, public_key)| HpkeConfig {
            id: HpkeConfigId(id),
            kem_id: HpkeKemId(kem),
            kdf_id: HpkeKdfId(kdf),
            aead_id: HpkeAeadId(aead),
            public_key,
        },
    )
}
fn hpke_config() -> impl Strategy<Value = HpkeConfig> {
    any::<u8>().prop_flat_map(hpke_config_with_id)
}
fn hpke_config_list() -> impl Strategy<Value = HpkeConfigList> {
    // Non-empty, distinct IDs, in any order (the order is the server's preference).
    btree_set(any::<u8>(), 1..4)
        .prop_flat_map(|ids| ids.into_iter().map(hpke_config_with_id).collect::<Vec<_>>())
        .prop_shuffle()
        .prop_map(HpkeConfigList)
}
fn hpke_ciphertext() -> impl Strategy<Value = HpkeCiphertext> {
    (any::<u8>(), bytes(1..40), bytes(1..64)).prop_map(|(id, enc, payload)| HpkeCiphertext {
        config_id: HpkeConfigId(id),
        enc,
        payload,
    })
}
fn report_error() -> impl Strategy<Value = ReportError> {
    proptest::sample::select(ReportError::ALL.to_vec())
}
fn report_metadata() -> impl Strategy<Value = ReportMetadata> {
    (report_id(), time(), extensions()).prop_map(|(report_id, time, public_extensions)| {
        ReportMetadata {
            report_id,
            time,
            public_extensions,
        }
    })
}
fn report() -> impl Strategy<Value = Report> {
    (
        report_metadata(),
        bytes(0..40),
        hpke_ciphertext(),
        hpke_ciphertext(),
    )
        .prop_map(|(metadata, public_share, leader, helper)| Report {
            metadata,
            public_share,
            leader_encrypted_input_share: leader,
            helper_encrypted_input_share: helper,
        })
}
fn upload_request() -> impl Strategy<Value = UploadRequest> {
    vec(report(), 0..3).prop_map(|reports| UploadRequest { reports })
}
fn report_upload_status() -> impl Strategy<Value = ReportUploadStatus> {
    (report_id(), report_error()).prop_map(|(id, error)| ReportUploadStatus { id, error })
}
fn upload_errors() -> impl Strategy<Value = UploadErrors> {
    vec(report_upload_status(), 0..4).prop_map(|status| UploadErrors { status })
}
fn plaintext_input_share() -> impl Strategy<Value = PlaintextInputShare> {
    (extensions(), bytes(1..64)).prop_map(|(private_extensions, payload)| PlaintextInputShare {
        private_extensions,
        payload,
    })
}
fn vdaf_config() -> impl Strategy<Value = VdafConfig> {
    prop_oneof![
        Just(VdafConfig::Prio3Count),
        any::<u64>().prop_map(|max_measurement| VdafConfig::Prio3Sum { max_measurement }),
        (any::<u32>(), any::<u64>(), any::<u32>()).prop_map(
            |(length, max_measurement, chunk_length)| VdafConfig::Prio3SumVec {
                length,
                max_measurement,
                chunk_length,
            }
        ),
        (any::<u32>(), any::<u32>()).prop_map(|(length, chunk_length)| {
            VdafConfig::Prio3Histogram {
                length,
                chunk_length,
            }
        }),
        (any::<u32>(), any::<u32>(), any::<u64>()).prop_map(
            |(length, chunk_length, max_weight)| VdafConfig::Prio3MultihotCountVec {
                length,
                chunk_length,
                max_weight,
            }
        ),
    ]
}
/// An ASCII URL-ish string (the codec keeps any ASCII byte for byte).
fn url() -> impl Strategy<Value = String> {
    vec(0u8..0x80, 1..40).prop_map(|b| String::from_utf8(b).unwrap())
}
fn task_configuration() -> impl Strategy<Value = TaskConfiguration> {
    (
        bytes(1..12),
        url(),
        url(),
        any::<u64>(),
        any::<u64>(),
        batch_mode(),
        vdaf_config(),
        // Other task extensions (type >= 2), then an optional task_interval.
        btree_map(2u16..=u16::MAX, bytes(0..8), 0..3),
        proptest::option::of(interval()),
    )
        .prop_map(
            |(task_info, leader, helper, precision, min, mode, vdaf, other, interval)| {
                let other = other
                    .into_iter()
                    .map(|(extension_type, extension_data)| Extension {
                        extension_type,
                        extension_data,
                    })
                    .collect();
                let mut config = TaskConfiguration {
                    task_info,
                    leader_endpoint: leader,
                    helper_endpoint: helper,
                    time_precision: precision,
                    min_batch_size: min,
                    batch_mode: mode,
                    vdaf,
                    extensions: Extensions::new(other).unwrap(),
                };
                config.set_task_interval(interval);
                assert_eq!(config.task_interval(), interval);
                config
            },
        )
}
fn report_share() -> impl Strategy<Value = ReportShare> {
    (report_metadata(), bytes(0..40), hpke_ciphertext()).prop_map(
        |(metadata, public_share, encrypted_input_share)| ReportShare {
            metadata,
            public_share,
            encrypted_input_share,
        },
    )
}
fn verify_init() -> impl Strategy<Value = VerifyInit> {
    (report_share(), bytes(1..40)).prop_map(|(report_share, payload)| VerifyInit {
        report_share,
        payload,
    })
}
fn aggregation_job_init_req() -> impl Strategy<Value = AggregationJobInitReq> {
    (
        any::<u8>(),
        bytes(0..16),
        extensions(),
        vec(verify_init(), 0..3),
    )
        .prop_map(
            |(verification_key_id, agg_param, extensions, verify_inits)| AggregationJobInitReq {
                verification_key_id,
                agg_param,
                extensions,
                verify_inits,
            },
        )
}
fn verify_resp() -> impl Strategy<Value = VerifyResp> {
    let result = prop_oneof![
        bytes(1..40).prop_map(VerifyRespResult::Continue),
        Just(VerifyRespResult::Finish),
        report_error().prop_map(VerifyRespResult::Reject),
    ];
    (report_id(), result).prop_map(|(report_id, result)| VerifyResp { report_id, result })
}
fn aggregation_job_resp() -> impl Strategy<Value = AggregationJobResp> {
    vec(verify_resp(), 0..4).prop_map(|verify_resps| AggregationJobResp { verify_resps })
}
fn verify_continue() -> impl Strategy<Value = VerifyContinue> {
    (report_id(), bytes(1..40))
        .prop_map(|(report_id, payload)| VerifyContinue { report_id, payload })
}
fn aggregation_job_continue_req() -> impl Strategy<Value = AggregationJobContinueReq> {
    (any::<u16>(), vec(verify_continue(), 0..4)).prop_map(|(step, verify_continues)| {
        AggregationJobContinueReq {
            step,
            verify_continues,
        }
    })
}
fn query() -> impl Strategy<Value = Query> {
    prop_oneof![
        interval().prop_map(Query::TimeInterval),
        Just(Query::LeaderSelected)
    ]
}
fn collection_job_req() -> impl Strategy<Value = CollectionJobReq> {
    (query(), bytes(0..16), extensions()).prop_map(|(query, agg_param, extensions)| {
        CollectionJobReq {
            query,
            agg_param,
            extensions,
        }
    })
}
fn collection_job_resp() -> impl Strategy<Value = CollectionJobResp> {
    (
        any::<u64>(),
        interval(),
        hpke_ciphertext(),
        hpke_ciphertext(),
    )
        .prop_map(
            |(report_count, interval, leader, helper)| CollectionJobResp {
                report_count,
                interval,
                leader_encrypted_agg_share: leader,
                helper_encrypted_agg_share: helper,
            },
        )
}
fn batch_selector() -> impl Strategy<Value = BatchSelector> {
    prop_oneof![
        interval().prop_map(BatchSelector::TimeInterval),
        batch_id().prop_map(BatchSelector::LeaderSelected),
    ]
}
fn aggregate_share_req() -> impl Strategy<Value = AggregateShareReq> {
    (
        collection_job_req(),
        batch_selector(),
        any::<u64>(),
        any::<[u8; 32]>(),
    )
        .prop_map(
            |(collection_job_req, batch_selector, report_count, checksum)| AggregateShareReq {
                collection_job_req,
                batch_selector,
                report_count,
                checksum,
            },
        )
}
fn aggregate_share() -> impl Strategy<Value = AggregateShare> {
    hpke_ciphertext().prop_map(|encrypted_aggregate_share| AggregateShare {
        encrypted_aggregate_share,
    })
}

wire_properties! {
    task_id_props: TaskId = task_id();
    report_id_props: ReportId = report_id();
    batch_id_props: BatchId = batch_id();
    aggregation_job_id_props: AggregationJobId = aggregation_job_id();
    collection_job_id_props: CollectionJobId = collection_job_id();
    aggregate_share_id_props: AggregateShareId = aggregate_share_id();
    time_props: Time = time();
    duration_props: Duration = duration();
    interval_props: Interval = interval();
    role_props: Role = role();
    extension_props: Extension = extension();
    extensions_props: Extensions = extensions();
    batch_mode_props: BatchMode = batch_mode();
    hpke_config_props: HpkeConfig = hpke_config();
    hpke_config_list_props: HpkeConfigList = hpke_config_list();
    hpke_ciphertext_props: HpkeCiphertext = hpke_ciphertext();
    report_error_props: ReportError = report_error();
    report_metadata_props: ReportMetadata = report_metadata();
    report_props: Report = report();
    upload_request_props: UploadRequest = upload_request();
    report_upload_status_props: ReportUploadStatus = report_upload_status();
    upload_errors_props: UploadErrors = upload_errors();
    plaintext_input_share_props: PlaintextInputShare = plaintext_input_share();
    task_configuration_props: TaskConfiguration = task_configuration();
    report_share_props: ReportShare = report_share();
    verify_init_props: VerifyInit = verify_init();
    aggregation_job_init_req_props: AggregationJobInitReq = aggregation_job_init_req();
    verify_resp_props: VerifyResp = verify_resp();
    aggregation_job_resp_props: AggregationJobResp = aggregation_job_resp();
    verify_continue_props: VerifyContinue = verify_continue();
    aggregation_job_continue_req_props: AggregationJobContinueReq = aggregation_job_continue_req();
    query_props: Query = query();
    collection_job_req_props: CollectionJobReq = collection_job_req();
    collection_job_resp_props: CollectionJobResp = collection_job_resp();
    batch_selector_props: BatchSelector = batch_selector();
    aggregate_share_req_props: AggregateShareReq = aggregate_share_req();
    aggregate_share_props: AggregateShare = aggregate_share();
}

/// Every `VdafConfig` variant is generated (guards against a strategy silently losing one).
#[test]
fn every_vdaf_variant_roundtrips_in_a_task_configuration() {
    let variants = [
        VdafConfig::Prio3Count,
        VdafConfig::Prio3Sum {
            max_measurement: 255,
        },
        VdafConfig::Prio3SumVec {
            length: 10,
            max_measurement: 255,
            chunk_length: 9,
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
    ];
    let expected_params: [&[u8]; 5] = [
        &[],
        &[0, 0, 0, 0, 0, 0, 0, 255],
        &[0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 9],
        &[0, 0, 0, 4, 0, 0, 0, 2],
        &[0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2],
    ];
    for (i, (vdaf, params)) in variants.iter().zip(expected_params).enumerate() {
        let mut config = base_config();
        config.vdaf = *vdaf;
        let bytes = config.get_encoded().unwrap();
        assert_eq!(vdaf.vdaf_type(), i as u32 + 1);
        // vdaf_type, then vdaf_configuration<0..2^16-1>, then the (empty) extension list.
        let mut tail = (i as u32 + 1).to_be_bytes().to_vec();
        tail.extend_from_slice(&(params.len() as u16).to_be_bytes());
        tail.extend_from_slice(params);
        tail.extend_from_slice(&[0, 0]);
        assert!(bytes.ends_with(&tail), "{}: {bytes:02x?}", vdaf.name());
        assert_eq!(TaskConfiguration::get_decoded(&bytes).unwrap(), config);
    }
}

// ---------------------------------------------------------------------------------------------
// Targeted strictness tests
// ---------------------------------------------------------------------------------------------

fn base_config() -> TaskConfiguration {
    TaskConfiguration {
        task_info: b"info".to_vec(),
        leader_endpoint: "https://leader.example/".into(),
        helper_endpoint: "https://helper.example/".into(),
        time_precision: 3600,
        min_batch_size: 100,
        batch_mode: BatchMode::TimeInterval,
        vdaf: VdafConfig::Prio3Count,
        extensions: Extensions::empty(),
    }
}

fn ciphertext() -> HpkeCiphertext {
    HpkeCiphertext {
        config_id: HpkeConfigId(7),
        enc: vec![1, 2, 3],
        payload: vec![4, 5, 6, 7],
    }
}

fn metadata() -> ReportMetadata {
    ReportMetadata {
        report_id: ReportId([9; 16]),
        time: Time(1_700_000),
        public_extensions: Extensions::empty(),
    }
}

fn enc<T: Encode>(v: &T) -> Vec<u8> {
    v.get_encoded().unwrap()
}

/// Builds a TaskConfiguration encoding by hand, so each field can be made invalid.
struct RawConfig {
    task_info: Vec<u8>,
    leader: Vec<u8>,
    helper: Vec<u8>,
    batch_mode: u8,
    batch_config: Vec<u8>,
    vdaf_type: u32,
    vdaf_config: Vec<u8>,
    extensions: Vec<u8>,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            task_info: b"info".to_vec(),
            leader: b"https://leader.example/".to_vec(),
            helper: b"https://helper.example/".to_vec(),
            batch_mode: 1,
            batch_config: vec![],
            vdaf_type: 1,
            vdaf_config: vec![],
            extensions: vec![0, 0],
        }
    }
}

impl RawConfig {
    fn bytes(&self) -> Vec<u8> {
        let mut out = vec![self.task_info.len() as u8];
        out.extend_from_slice(&self.task_info);
        for url in [&self.leader, &self.helper] {
            out.extend_from_slice(&(url.len() as u16).to_be_bytes());
            out.extend_from_slice(url);
        }
        out.extend_from_slice(&3600u64.to_be_bytes());
        out.extend_from_slice(&100u64.to_be_bytes());
        out.push(self.batch_mode);
        out.extend_from_slice(&(self.batch_config.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.batch_config);
        out.extend_from_slice(&self.vdaf_type.to_be_bytes());
        out.extend_from_slice(&(self.vdaf_config.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.vdaf_config);
        out.extend_from_slice(&self.extensions);
        out
    }
    fn decode(&self) -> Result<TaskConfiguration, CodecError> {
        TaskConfiguration::get_decoded(&self.bytes())
    }
}

/// `Extension extensions<0..2^16-1>` from `(type, data)` pairs, in the given order.
fn raw_extensions(items: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, d) in items {
        body.extend_from_slice(&t.to_be_bytes());
        body.extend_from_slice(&(d.len() as u16).to_be_bytes());
        body.extend_from_slice(d);
    }
    let mut out = (body.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

#[test]
fn raw_config_builder_matches_the_encoder() {
    assert_eq!(RawConfig::default().bytes(), enc(&base_config()));
    assert_eq!(RawConfig::default().decode().unwrap(), base_config());
}

#[test]
fn trailing_bytes_are_refused() {
    fn refuses_trailing<T: Encode + Decode + Debug>(v: &T) {
        let mut b = enc(v);
        assert!(T::get_decoded(&b).is_ok());
        b.push(0);
        assert!(
            T::get_decoded(&b).is_err(),
            "{v:?} accepted a trailing byte"
        );
    }
    refuses_trailing(&TaskId([1; 32]));
    refuses_trailing(&Interval::new(1, 2));
    refuses_trailing(&Role::Leader);
    refuses_trailing(&BatchMode::LeaderSelected);
    refuses_trailing(&ReportError::VdafVerifyError);
    refuses_trailing(&Extensions::empty());
    refuses_trailing(&ciphertext());
    refuses_trailing(&metadata());
    refuses_trailing(&base_config());
    refuses_trailing(&Query::LeaderSelected);
    refuses_trailing(&Query::TimeInterval(Interval::new(5, 6)));
    refuses_trailing(&BatchSelector::LeaderSelected(BatchId([3; 32])));
    refuses_trailing(&VerifyResp {
        report_id: ReportId([1; 16]),
        result: VerifyRespResult::Finish,
    });
    refuses_trailing(&AggregateShare {
        encrypted_aggregate_share: ciphertext(),
    });
    // The nested length-prefixed configs must be consumed exactly, too.
    let mut q = vec![1, 0, 17];
    q.extend_from_slice(&enc(&Interval::new(5, 6)));
    q.push(0);
    assert!(
        Query::get_decoded(&q).is_err(),
        "time_interval query config of 17 bytes"
    );
    let mut s = vec![2, 0, 33];
    s.extend_from_slice(&[3; 33]);
    assert!(
        BatchSelector::get_decoded(&s).is_err(),
        "batch ID of 33 bytes"
    );
    let mut s = vec![2, 0, 31];
    s.extend_from_slice(&[3; 31]);
    assert!(
        BatchSelector::get_decoded(&s).is_err(),
        "batch ID of 31 bytes"
    );
    // vdaf_configuration longer or shorter than the variant's parameters.
    let long = RawConfig {
        vdaf_type: 2,
        vdaf_config: vec![0; 9],
        ..Default::default()
    };
    assert!(long.decode().is_err());
    let short = RawConfig {
        vdaf_type: 2,
        vdaf_config: vec![0; 7],
        ..Default::default()
    };
    assert!(short.decode().is_err());
    let count_with_params = RawConfig {
        vdaf_type: 1,
        vdaf_config: vec![0],
        ..Default::default()
    };
    assert!(count_with_params.decode().is_err());
}

#[test]
fn zero_length_lower_bounded_fields_are_refused() {
    // HpkeCiphertext: enc<1..2^16-1>, payload<1..2^32-1>.
    let good = enc(&ciphertext());
    assert!(HpkeCiphertext::get_decoded(&good).is_ok());
    let empty_enc = [&[7u8, 0, 0][..], &[0, 0, 0, 1, 0xaa]].concat();
    assert!(HpkeCiphertext::get_decoded(&empty_enc).is_err());
    let empty_payload = [&[7u8, 0, 1, 0xaa][..], &[0, 0, 0, 0]].concat();
    assert!(HpkeCiphertext::get_decoded(&empty_payload).is_err());

    // HpkeConfig: public_key<1..2^16-1>.
    let empty_key = [7u8, 0, 0x20, 0, 1, 0, 1, 0, 0];
    assert!(HpkeConfig::get_decoded(&empty_key).is_err());
    let one_byte_key = [7u8, 0, 0x20, 0, 1, 0, 1, 0, 1, 0xaa];
    assert!(HpkeConfig::get_decoded(&one_byte_key).is_ok());

    // HpkeConfigList<10..2^16-1>: empty is refused, a single minimal config accepted.
    assert!(HpkeConfigList::get_decoded(&[0, 0]).is_err());
    let one = [&[0u8, 10][..], &one_byte_key].concat();
    assert_eq!(HpkeConfigList::get_decoded(&one).unwrap().0.len(), 1);
    // Length prefixes 1..=9 cannot hold a config either.
    for n in 1..10u8 {
        let mut b = vec![0, n];
        b.extend(std::iter::repeat_n(0u8, n as usize));
        assert!(
            HpkeConfigList::get_decoded(&b).is_err(),
            "HpkeConfigList of {n} bytes"
        );
    }

    // PlaintextInputShare, VerifyInit, VerifyResp(continue), VerifyContinue: payload<1..>.
    let pis = [&[0u8, 0][..], &[0, 0, 0, 0]].concat();
    assert!(PlaintextInputShare::get_decoded(&pis).is_err());
    let share = ReportShare {
        metadata: metadata(),
        public_share: vec![],
        encrypted_input_share: ciphertext(),
    };
    let vi = [enc(&share), vec![0, 0, 0, 0]].concat();
    assert!(VerifyInit::get_decoded(&vi).is_err());
    let vr = [&[1u8; 16][..], &[0], &[0, 0, 0, 0]].concat();
    assert!(VerifyResp::get_decoded(&vr).is_err());
    let vc = [&[1u8; 16][..], &[0, 0, 0, 0]].concat();
    assert!(VerifyContinue::get_decoded(&vc).is_err());

    // TaskConfiguration: task_info<1..2^8-1>, Url<1..2^16-1>.
    let no_info = RawConfig {
        task_info: vec![],
        ..Default::default()
    };
    assert!(no_info.decode().is_err());
    let no_leader = RawConfig {
        leader: vec![],
        ..Default::default()
    };
    assert!(no_leader.decode().is_err());
    let no_helper = RawConfig {
        helper: vec![],
        ..Default::default()
    };
    assert!(no_helper.decode().is_err());
    // The encoder refuses an empty task_info rather than producing an undecodable message.
    let mut config = base_config();
    config.task_info.clear();
    assert!(config.get_encoded().is_err());
}

#[test]
fn duplicate_hpke_config_ids_are_refused() {
    let c = |id: u8| HpkeConfig {
        id: HpkeConfigId(id),
        kem_id: HpkeKemId::X25519_HKDF_SHA256,
        kdf_id: HpkeKdfId::HKDF_SHA256,
        aead_id: HpkeAeadId::AES_128_GCM,
        public_key: vec![1; 32],
    };
    let ok = HpkeConfigList(vec![c(3), c(1)]);
    assert_eq!(HpkeConfigList::get_decoded(&enc(&ok)).unwrap(), ok);
    let dup = HpkeConfigList(vec![c(3), c(1), c(3)]);
    assert!(HpkeConfigList::get_decoded(&enc(&dup)).is_err());
}

#[test]
fn unsorted_or_repeated_extensions_decode_as_received_and_are_flagged() {
    let sorted = raw_extensions(&[(1, b"a"), (2, b""), (0xffff, b"z")]);
    let decoded = Extensions::get_decoded(&sorted).unwrap();
    assert_eq!(decoded.types().collect::<Vec<_>>(), vec![1, 2, 0xffff]);
    assert!(decoded.is_strictly_ordered());
    assert_eq!(enc(&decoded), sorted);

    // Out-of-order lists decode as received, so that each receiver answers them with the
    // error of its context (DAP-18: an invalid report, invalidMessage for an aggregation
    // job, invalidExtension for a collection job).
    let unsorted = raw_extensions(&[(2, b""), (1, b"a")]);
    let repeated = raw_extensions(&[(1, b"a"), (1, b"a")]);
    let repeated_apart = raw_extensions(&[(1, b"a"), (2, b""), (2, b"b")]);
    for list in [&unsorted, &repeated, &repeated_apart] {
        let e = Extensions::get_decoded(list).unwrap();
        assert!(!e.is_strictly_ordered());
        assert_eq!(&enc(&e), list, "re-encodes byte for byte");
    }

    // The same holds where extension lists are embedded.
    for list in [&unsorted, &repeated] {
        let mut md = [0u8; 24].to_vec();
        md.extend_from_slice(list);
        let m = ReportMetadata::get_decoded(&md).unwrap();
        assert!(!m.public_extensions.is_strictly_ordered());
        let pis = [list.clone(), vec![0, 0, 0, 1, 0xaa]].concat();
        let p = PlaintextInputShare::get_decoded(&pis).unwrap();
        assert!(!p.private_extensions.is_strictly_ordered());
        let cjr = [vec![2, 0, 0], vec![0, 0, 0, 0], list.clone()].concat();
        let c = CollectionJobReq::get_decoded(&cjr).unwrap();
        assert!(!c.extensions.is_strictly_ordered());
        let ajir = [vec![0], vec![0, 0, 0, 0], list.clone()].concat();
        let a = AggregationJobInitReq::get_decoded(&ajir).unwrap();
        assert!(!a.extensions.is_strictly_ordered());
        // A task whose configuration lists extensions out of order is refused.
        let tc = RawConfig {
            extensions: list.clone(),
            ..Default::default()
        };
        if let Ok(config) = tc.decode() {
            let limits = edap_core::task::TaskLimits {
                min_batch_size_floor: 1,
                allow_http_endpoints: true,
                ..Default::default()
            };
            assert!(edap_core::task::validate_config(&config, &limits).is_err());
        }
    }

    // The constructor sorts, but refuses repeats.
    let e = |t: u16| Extension {
        extension_type: t,
        extension_data: vec![],
    };
    let built = Extensions::new(vec![e(5), e(1), e(3)]).unwrap();
    assert_eq!(built.types().collect::<Vec<_>>(), vec![1, 3, 5]);
    assert!(Extensions::new(vec![e(5), e(1), e(5)]).is_err());
}

#[test]
fn unknown_enum_values_are_refused() {
    for r in 0..=3u8 {
        assert_eq!(Role::get_decoded(&[r]).unwrap().code(), r);
    }
    for r in [4u8, 5, 255] {
        assert!(Role::get_decoded(&[r]).is_err(), "Role {r}");
    }

    assert!(BatchMode::get_decoded(&[1]).is_ok());
    assert!(BatchMode::get_decoded(&[2]).is_ok());
    for m in [0u8, 3, 255] {
        assert!(BatchMode::get_decoded(&[m]).is_err(), "BatchMode {m}");
        // ... also inside Query, BatchSelector and TaskConfiguration.
        assert!(Query::get_decoded(&[m, 0, 0]).is_err());
        let mut bs = vec![m, 0, 16];
        bs.extend_from_slice(&[0; 16]);
        assert!(BatchSelector::get_decoded(&bs).is_err());
        let tc = RawConfig {
            batch_mode: m,
            ..Default::default()
        };
        assert!(tc.decode().is_err());
    }

    for e in 1..=11u8 {
        assert_eq!(ReportError::get_decoded(&[e]).unwrap() as u8, e);
    }
    for e in [0u8, 12, 255] {
        assert!(ReportError::get_decoded(&[e]).is_err(), "ReportError {e}");
        let status = [&[1u8; 16][..], &[e]].concat();
        assert!(ReportUploadStatus::get_decoded(&status).is_err());
        let reject = [&[1u8; 16][..], &[2, e]].concat();
        assert!(VerifyResp::get_decoded(&reject).is_err());
    }

    // VerifyRespType: continue(0), finish(1), reject(2); nothing else.
    let finish = [&[1u8; 16][..], &[1]].concat();
    assert_eq!(
        VerifyResp::get_decoded(&finish).unwrap().result,
        VerifyRespResult::Finish
    );
    for t in [3u8, 255] {
        let resp = [&[1u8; 16][..], &[t]].concat();
        assert!(
            VerifyResp::get_decoded(&resp).is_err(),
            "VerifyRespType {t}"
        );
        let with_body = [&[1u8; 16][..], &[t, 0, 0, 0, 1, 0xaa]].concat();
        assert!(VerifyResp::get_decoded(&with_body).is_err());
    }

    // vdaf_type: 1..=5 are the registered Prio3 variants DAP-18 encodes.
    for t in [0u32, 6, 0xffff_ffff] {
        let tc = RawConfig {
            vdaf_type: t,
            ..Default::default()
        };
        assert!(tc.decode().is_err(), "vdaf_type {t}");
    }

    // batch_config must be empty for both defined batch modes.
    for mode in [1u8, 2] {
        let tc = RawConfig {
            batch_mode: mode,
            batch_config: vec![0],
            ..Default::default()
        };
        assert!(
            tc.decode().is_err(),
            "batch mode {mode} with a batch_config"
        );
    }
}

#[test]
fn non_ascii_urls_are_refused() {
    for bad in [
        "https://lé.example/".as_bytes().to_vec(),
        b"https://leader.example/\x80".to_vec(),
        b"\xff".to_vec(),
    ] {
        let leader = RawConfig {
            leader: bad.clone(),
            ..Default::default()
        };
        assert!(leader.decode().is_err(), "leader {bad:02x?}");
        let helper = RawConfig {
            helper: bad.clone(),
            ..Default::default()
        };
        assert!(helper.decode().is_err(), "helper {bad:02x?}");
    }
    // ASCII is kept byte for byte, whatever it looks like.
    let odd = RawConfig {
        leader: b"HTTPS://Leader.Example:443/a/../b?x=%20 ".to_vec(),
        ..Default::default()
    };
    let config = odd.decode().unwrap();
    assert_eq!(
        config.leader_endpoint,
        "HTTPS://Leader.Example:443/a/../b?x=%20 "
    );
    assert_eq!(enc(&config), odd.bytes());
}

#[test]
fn task_interval_extension_must_hold_an_interval() {
    let interval = enc(&Interval::new(60, 100));
    let ok = RawConfig {
        extensions: raw_extensions(&[(1, &interval)]),
        ..Default::default()
    };
    assert_eq!(
        ok.decode().unwrap().task_interval(),
        Some(Interval::new(60, 100))
    );
    for bad in [
        &interval[..15],
        &[interval.as_slice(), &[0]].concat()[..],
        &[],
    ] {
        let tc = RawConfig {
            extensions: raw_extensions(&[(1, bad)]),
            ..Default::default()
        };
        assert!(tc.decode().is_err(), "task_interval of {} bytes", bad.len());
    }
}

#[test]
fn query_and_batch_selector_configs() {
    // leader_selected: the query config is empty, and nothing else is accepted.
    assert_eq!(enc(&Query::LeaderSelected), vec![2, 0, 0]);
    assert_eq!(
        Query::get_decoded(&[2, 0, 0]).unwrap(),
        Query::LeaderSelected
    );
    assert!(Query::get_decoded(&[2, 0, 1, 0]).is_err());
    let mut with_interval = vec![2, 0, 16];
    with_interval.extend_from_slice(&[0; 16]);
    assert!(Query::get_decoded(&with_interval).is_err());

    // time_interval: exactly one Interval.
    let q = Query::TimeInterval(Interval::new(0x0102, 3));
    let mut expected = vec![1, 0, 16];
    expected.extend_from_slice(&enc(&Interval::new(0x0102, 3)));
    assert_eq!(enc(&q), expected);
    assert!(Query::get_decoded(&[1, 0, 0]).is_err());
    assert!(Query::get_decoded(&expected[..expected.len() - 1]).is_err());

    // BatchSelector: an Interval or a BatchID, nothing shorter.
    let bs = BatchSelector::LeaderSelected(BatchId([7; 32]));
    let b = enc(&bs);
    assert_eq!(&b[..3], &[2, 0, 32]);
    assert_eq!(BatchSelector::get_decoded(&b).unwrap(), bs);
    assert!(BatchSelector::get_decoded(&[2, 0, 0]).is_err());
    assert!(BatchSelector::get_decoded(&[1, 0, 0]).is_err());
}

#[test]
fn verify_resp_layouts() {
    let id = ReportId([0xab; 16]);
    let cases = [
        (
            VerifyRespResult::Continue(vec![9, 8]),
            vec![0, 0, 0, 0, 2, 9, 8],
        ),
        (VerifyRespResult::Finish, vec![1]),
        (
            VerifyRespResult::Reject(ReportError::VdafVerifyError),
            vec![2, 6],
        ),
    ];
    for (result, tail) in cases {
        let v = VerifyResp {
            report_id: id,
            result,
        };
        let b = enc(&v);
        assert_eq!(&b[..16], &[0xab; 16]);
        assert_eq!(&b[16..], &tail[..]);
        assert_eq!(VerifyResp::get_decoded(&b).unwrap(), v);
    }
}

#[test]
fn message_length_vectors_refuse_partial_items() {
    // `T items[message_length]`: the body must be whole items.
    let status = ReportUploadStatus {
        id: ReportId([1; 16]),
        error: ReportError::ReportReplayed,
    };
    let two = [enc(&status), enc(&status)].concat();
    assert_eq!(UploadErrors::get_decoded(&two).unwrap().status.len(), 2);
    assert!(UploadErrors::get_decoded(&two[..20]).is_err());
    assert_eq!(
        UploadErrors::get_decoded(&[]).unwrap(),
        UploadErrors::default()
    );
    let resp = AggregationJobResp {
        verify_resps: vec![VerifyResp {
            report_id: ReportId([2; 16]),
            result: VerifyRespResult::Finish,
        }],
    };
    let b = enc(&resp);
    assert!(AggregationJobResp::get_decoded(&[b.clone(), vec![0; 5]].concat()).is_err());
    let req = AggregationJobContinueReq {
        step: 1,
        verify_continues: vec![],
    };
    assert_eq!(enc(&req), vec![0, 1]);
    assert!(AggregationJobContinueReq::get_decoded(&[0, 1, 0]).is_err());
    assert!(AggregationJobContinueReq::get_decoded(&[0]).is_err());
}
