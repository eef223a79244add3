//! The official VDAF-18 Prio3 test vectors (copied from `prio` 0.18.1 into `tests/test_vec/18/`,
//! see the README there), run through OUR dispatch layer:
//!
//! * the VDAF is built from an `edap_core::messages::VdafConfig` by `Prio3Instance::new` and
//!   reached through `edap_core::with_prio3!`;
//! * every vector (any number of shares) replays its `operations` list with `prio`'s VDAF
//!   traits on that instance: shard (with the vector's randomness), each aggregator's
//!   `verify_init`, `verifier_shares_to_message`, `verify_next`, then our
//!   `agg_share::aggregate` and `unshard`;
//! * two-share vectors additionally go through our ping-pong wrappers `leader_init`,
//!   `helper_init` and `continued`: the Leader's outbound message must carry the Leader's
//!   verifier share, the Helper's the verifier message, output shares (`encode_out_share`) and
//!   aggregate shares must match byte for byte, and negative vectors must be rejected with
//!   `ReportError::VdafVerifyError` at the step the vector marks as failing.
//!
//! How the JSON fields are used follows `prio::vdaf::test_utils::check_test_vector`:
//! `verifier_shares[round][aggregator]`, `verifier_messages[round]`,
//! `out_shares[aggregator]`, `agg_shares[aggregator]`; `rand` is the sharding randomness and
//! `nonce` the report's nonce (in DAP, the report ID).

use edap_core::messages::{ReportError, ReportId, VdafConfig};
use edap_core::vdaf::{
    agg_share, continued, decode_out_share, encode_out_share, helper_init, leader_init, shard,
    unshard, AggregateResult, DapVdaf, Measurement, Prio3Instance, Transition, VerifyKey,
    VERIFY_KEY_LEN,
};
use prio::codec::{Decode, Encode, ParameterizedDecode};
use prio::topology::ping_pong::PingPongMessage;
use prio::vdaf::test_utils::TestVectorClient;
use prio::vdaf::{Aggregator, VerifyTransition};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Every file the directory must hold; the test fails if one is missing or another appears.
const VECTOR_FILES: [&str; 22] = [
    "Prio3Count_0.json",
    "Prio3Count_1.json",
    "Prio3Count_2.json",
    "Prio3Count_bad_gadget_poly.json",
    "Prio3Count_bad_helper_seed.json",
    "Prio3Count_bad_meas_share.json",
    "Prio3Count_bad_wire_seed.json",
    "Prio3Histogram_0.json",
    "Prio3Histogram_1.json",
    "Prio3Histogram_2.json",
    "Prio3Histogram_bad_helper_jr_blind.json",
    "Prio3Histogram_bad_leader_jr_blind.json",
    "Prio3Histogram_bad_public_share.json",
    "Prio3Histogram_bad_verifier_message.json",
    "Prio3MultihotCountVec_0.json",
    "Prio3MultihotCountVec_1.json",
    "Prio3MultihotCountVec_2.json",
    "Prio3SumVec_0.json",
    "Prio3SumVec_1.json",
    "Prio3Sum_0.json",
    "Prio3Sum_1.json",
    "Prio3Sum_2.json",
];

// `DapVdaf`'s supertrait names the verify-key size through a constant, which makes the bare
// `V::VerifyState` ambiguous to rustc; spell the trait out.
type VerifyState<V> = <V as Aggregator<VERIFY_KEY_LEN, 16>>::VerifyState;
type VerifierShare<V> = <V as Aggregator<VERIFY_KEY_LEN, 16>>::VerifierShare;
type VerifierMessage<V> = <V as Aggregator<VERIFY_KEY_LEN, 16>>::VerifierMessage;

fn vector_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/test_vec/18")
}

// ---------------------------------------------------------------------------------------------
// The JSON format
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct TestVector {
    operations: Vec<Operation>,
    shares: u8,
    ctx: String,
    verify_key: String,
    agg_param: String,
    reports: Vec<ReportVector>,
    agg_shares: Vec<String>,
    agg_result: Value,
    /// The VDAF's parameters (`max_measurement`, `length`, ...).
    #[serde(flatten)]
    params: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Operation {
    operation: String,
    round: Option<usize>,
    aggregator_id: Option<usize>,
    report_index: Option<usize>,
    success: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportVector {
    measurement: Value,
    nonce: String,
    rand: String,
    public_share: String,
    input_shares: Vec<String>,
    verifier_shares: Vec<Vec<String>>,
    verifier_messages: Vec<String>,
    out_shares: Vec<String>,
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn u64_param(tv: &TestVector, key: &str) -> u64 {
    tv.params
        .get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("missing numeric parameter {key}"))
}

fn u32_param(tv: &TestVector, key: &str) -> u32 {
    u32::try_from(u64_param(tv, key)).expect("parameter fits in u32")
}

/// The DAP `VdafConfig` for a vector, from its file name and JSON parameters. Fails if the
/// vector has parameters this mapping does not use (so nothing is silently ignored).
fn vdaf_config(file: &str, tv: &TestVector) -> VdafConfig {
    let (config, keys): (VdafConfig, &[&str]) = if file.starts_with("Prio3Count_") {
        (VdafConfig::Prio3Count, &[])
    } else if file.starts_with("Prio3Sum_") {
        (
            VdafConfig::Prio3Sum {
                max_measurement: u64_param(tv, "max_measurement"),
            },
            &["max_measurement"],
        )
    } else if file.starts_with("Prio3SumVec_") {
        (
            VdafConfig::Prio3SumVec {
                length: u32_param(tv, "length"),
                max_measurement: u64_param(tv, "max_measurement"),
                chunk_length: u32_param(tv, "chunk_length"),
            },
            &["length", "max_measurement", "chunk_length"],
        )
    } else if file.starts_with("Prio3Histogram_") {
        (
            VdafConfig::Prio3Histogram {
                length: u32_param(tv, "length"),
                chunk_length: u32_param(tv, "chunk_length"),
            },
            &["length", "chunk_length"],
        )
    } else if file.starts_with("Prio3MultihotCountVec_") {
        (
            VdafConfig::Prio3MultihotCountVec {
                length: u32_param(tv, "length"),
                chunk_length: u32_param(tv, "chunk_length"),
                max_weight: u64_param(tv, "max_weight"),
            },
            &["length", "chunk_length", "max_weight"],
        )
    } else {
        panic!("{file}: not a DAP Prio3 variant");
    };
    let mut expected: Vec<&str> = keys.to_vec();
    expected.sort_unstable();
    let found: Vec<&str> = tv.params.keys().map(String::as_str).collect();
    assert_eq!(found, expected, "{file}: unexpected VDAF parameters");
    config
}

/// Our `Measurement` from the JSON measurement, checked against the configuration.
fn measurement(config: &VdafConfig, m: &Value) -> Measurement {
    let measurement = match config {
        VdafConfig::Prio3Count => match m.as_u64() {
            Some(0) => Measurement::Count(false),
            Some(1) => Measurement::Count(true),
            _ => panic!("Prio3Count measurement {m}"),
        },
        VdafConfig::Prio3Sum { .. } => Measurement::Sum(m.as_u64().expect("integer")),
        VdafConfig::Prio3Histogram { .. } => Measurement::Bucket(m.as_u64().expect("integer")),
        VdafConfig::Prio3SumVec { .. } => Measurement::Vector(
            m.as_array()
                .expect("array")
                .iter()
                .map(|x| x.as_u64().expect("integer"))
                .collect(),
        ),
        VdafConfig::Prio3MultihotCountVec { .. } => Measurement::Vector(
            m.as_array()
                .expect("array")
                .iter()
                .map(|x| u64::from(x.as_bool().expect("bool")))
                .collect(),
        ),
    };
    measurement
        .check(config)
        .unwrap_or_else(|e| panic!("vector measurement {m} refused by Measurement::check: {e}"));
    measurement
}

fn aggregate_result(v: &Value) -> AggregateResult {
    match v {
        Value::Number(n) => AggregateResult::Scalar(n.as_u64().expect("u64").into()),
        Value::Array(items) => AggregateResult::Vector(
            items
                .iter()
                .map(|x| x.as_u64().expect("u64").into())
                .collect(),
        ),
        other => panic!("aggregate result {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Running a vector
// ---------------------------------------------------------------------------------------------

/// What a vector exercised, to check that nothing was skipped.
#[derive(Debug, Default)]
struct Tally {
    operations: usize,
    ping_pong_reports: usize,
    ping_pong_rejections: usize,
}

fn run_file(file: &str) -> Tally {
    let path = vector_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (test vectors missing?)", path.display()));
    let tv: TestVector = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(
        tv.agg_param.is_empty(),
        "Prio3 has no aggregation parameter"
    );
    assert!(!tv.operations.is_empty(), "{file}: no operations");

    let config = vdaf_config(file, &tv);
    let instance = Prio3Instance::new(&config, tv.shares)
        .unwrap_or_else(|e| panic!("{file}: Prio3Instance::new: {e}"));
    if tv.shares == 2 {
        // The DAP instantiation is the same VDAF.
        let dap = Prio3Instance::for_dap(&config).unwrap();
        assert_eq!(format!("{dap:?}"), format!("{instance:?}"));
    }
    let tally = edap_core::with_prio3!(&instance, |v| run_vector(file, v, &config, &tv));
    assert_eq!(
        tally.operations,
        tv.operations.len(),
        "{file}: operations skipped"
    );
    if tv.shares == 2 {
        assert_eq!(
            tally.ping_pong_reports,
            tv.reports.len(),
            "{file}: reports skipped"
        );
    }
    let failing = tv.operations.iter().filter(|op| !op.success).count();
    if tv.shares == 2 {
        assert_eq!(
            tally.ping_pong_rejections, failing,
            "{file}: rejections not checked"
        );
    }
    tally
}

fn run_vector<V: DapVdaf + TestVectorClient<16>>(
    file: &str,
    vdaf: &V,
    config: &VdafConfig,
    tv: &TestVector,
) -> Tally {
    let mut tally = Tally::default();
    replay_operations(file, vdaf, config, tv, &mut tally);
    if tv.shares == 2 {
        ping_pong(file, vdaf, config, tv, &mut tally);
    }
    tally
}

/// Replays the vector's operations with `prio`'s VDAF traits on our instance (any number of
/// aggregators), and finishes with our `aggregate` and `unshard`.
fn replay_operations<V: DapVdaf + TestVectorClient<16>>(
    file: &str,
    vdaf: &V,
    config: &VdafConfig,
    tv: &TestVector,
    tally: &mut Tally,
) {
    let ctx = hex(&tv.ctx);
    let verify_key: VerifyKey = hex(&tv.verify_key).try_into().expect("32-byte verify key");
    let shares = usize::from(tv.shares);
    // (round, aggregator, report) -> state after that round.
    let mut states: HashMap<(usize, usize, usize), VerifyState<V>> = HashMap::new();
    // (aggregator, report) -> output share.
    let mut outputs: HashMap<(usize, usize), V::OutputShare> = HashMap::new();

    for (i, op) in tv.operations.iter().enumerate() {
        let at = format!("{file}: operation {i} {op:?}");
        let report = op.report_index.map(|r| &tv.reports[r]);
        match op.operation.as_str() {
            "shard" => {
                assert!(op.success, "{at}: failing shard is not supported");
                let rep = report.expect("report_index");
                let m = vdaf
                    .measurement(&measurement(config, &rep.measurement))
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                let nonce: [u8; 16] = hex(&rep.nonce).try_into().expect("16-byte nonce");
                let (public_share, input_shares) = vdaf
                    .shard_with_random(&ctx, &m, &nonce, &hex(&rep.rand))
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(
                    public_share.get_encoded().unwrap(),
                    hex(&rep.public_share),
                    "{at}: public share"
                );
                assert_eq!(input_shares.len(), shares, "{at}");
                for (agg, share) in input_shares.iter().enumerate() {
                    assert_eq!(
                        share.get_encoded().unwrap(),
                        hex(&rep.input_shares[agg]),
                        "{at}: input share {agg}"
                    );
                }
            }
            "verify_init" => {
                assert!(op.success, "{at}: failing verify_init is not supported");
                let (r, rep) = (op.report_index.unwrap(), report.unwrap());
                let agg = op.aggregator_id.expect("aggregator_id");
                let nonce: [u8; 16] = hex(&rep.nonce).try_into().unwrap();
                let public = V::PublicShare::get_decoded_with_param(vdaf, &hex(&rep.public_share))
                    .unwrap_or_else(|e| panic!("{at}: public share: {e}"));
                let input = V::InputShare::get_decoded_with_param(
                    &(vdaf, agg),
                    &hex(&rep.input_shares[agg]),
                )
                .unwrap_or_else(|e| panic!("{at}: input share: {e}"));
                let (state, share) = vdaf
                    .verify_init(&verify_key, &ctx, agg, &(), &nonce, &public, &input)
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(
                    share.get_encoded().unwrap(),
                    hex(&rep.verifier_shares[0][agg]),
                    "{at}: verifier share"
                );
                states.insert((0, agg, r), state);
            }
            "verifier_shares_to_message" => {
                let (r, rep) = (op.report_index.unwrap(), report.unwrap());
                let round = op.round.expect("round");
                // Each aggregator decodes the shares with its own state, as in prio's runner.
                for agg in 0..shares {
                    let state = &states[&(round, agg, r)];
                    let verifier_shares = rep.verifier_shares[round]
                        .iter()
                        .map(|s| VerifierShare::<V>::get_decoded_with_param(state, &hex(s)))
                        .collect::<Result<Vec<_>, _>>()
                        .unwrap_or_else(|e| panic!("{at}: verifier share: {e}"));
                    let result = vdaf.verifier_shares_to_message(&ctx, &(), verifier_shares);
                    if op.success {
                        let message = result.unwrap_or_else(|e| panic!("{at}: {e}"));
                        assert_eq!(
                            message.get_encoded().unwrap(),
                            hex(&rep.verifier_messages[round]),
                            "{at}: verifier message"
                        );
                    } else {
                        assert!(
                            result.is_err(),
                            "{at}: aggregator {agg} accepted a bad report"
                        );
                    }
                }
            }
            "verify_next" => {
                let (r, rep) = (op.report_index.unwrap(), report.unwrap());
                let (round, agg) = (op.round.expect("round"), op.aggregator_id.unwrap());
                let state = states[&(round - 1, agg, r)].clone();
                let message = VerifierMessage::<V>::get_decoded_with_param(
                    &state,
                    &hex(&rep.verifier_messages[round - 1]),
                )
                .unwrap_or_else(|e| panic!("{at}: verifier message: {e}"));
                let result = vdaf.verify_next(&ctx, state, message);
                if !op.success {
                    assert!(result.is_err(), "{at}: accepted a bad verifier message");
                } else {
                    match result.unwrap_or_else(|e| panic!("{at}: {e}")) {
                        VerifyTransition::Continue(state, share) => {
                            assert_eq!(
                                share.get_encoded().unwrap(),
                                hex(&rep.verifier_shares[round][agg]),
                                "{at}: verifier share"
                            );
                            states.insert((round, agg, r), state);
                        }
                        VerifyTransition::Finish(out) => {
                            assert_eq!(
                                encode_out_share::<V>(&out),
                                hex(&rep.out_shares[agg]),
                                "{at}: output share"
                            );
                            outputs.insert((agg, r), out);
                        }
                    }
                }
            }
            "aggregate" => {
                assert!(op.success, "{at}: failing aggregate is not supported");
                let agg = op.aggregator_id.unwrap();
                let outs = (0..tv.reports.len())
                    .map(|r| {
                        outputs
                            .get(&(agg, r))
                            .cloned()
                            .unwrap_or_else(|| panic!("{at}: no output share for report {r}"))
                    })
                    .collect::<Vec<_>>();
                let share = agg_share::aggregate(vdaf, outs).unwrap();
                assert_eq!(
                    agg_share::encode::<V>(&share).unwrap(),
                    hex(&tv.agg_shares[agg]),
                    "{at}: aggregate share"
                );
            }
            "unshard" => {
                assert!(op.success, "{at}: failing unshard is not supported");
                let agg_shares: Vec<Vec<u8>> = tv.agg_shares.iter().map(|s| hex(s)).collect();
                assert_eq!(agg_shares.len(), shares, "{at}");
                let result = unshard(vdaf, &agg_shares, tv.reports.len() as u64)
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(
                    result,
                    aggregate_result(&tv.agg_result),
                    "{at}: aggregate result"
                );
            }
            other => panic!("{at}: unknown operation {other:?}"),
        }
        tally.operations += 1;
    }
}

/// Where verification of one report is marked as failing.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// `verifier_shares_to_message` in round 0: the Helper, who combines the shares in the
    /// ping-pong topology, must reject in `helper_init`.
    CombineRound0,
    /// The Leader's `verify_next` in round 1: `continued` on the Leader must reject the
    /// Helper's `finish` message.
    LeaderRound1,
}

fn failure_of(file: &str, tv: &TestVector, report: usize) -> Option<Failure> {
    let failing: Vec<&Operation> = tv
        .operations
        .iter()
        .filter(|op| op.report_index == Some(report) && !op.success)
        .collect();
    match failing.as_slice() {
        [] => None,
        [op] => match (op.operation.as_str(), op.round, op.aggregator_id) {
            ("verifier_shares_to_message", Some(0), None) => Some(Failure::CombineRound0),
            ("verify_next", Some(1), Some(0)) => Some(Failure::LeaderRound1),
            _ => panic!("{file}: the ping-pong harness does not map failing {op:?}"),
        },
        _ => panic!("{file}: more than one failing operation for report {report}"),
    }
}

fn is_rejected<T>(r: &Result<T, ReportError>) -> bool {
    matches!(r, Err(ReportError::VdafVerifyError))
}

/// Runs every report of a two-share vector through our ping-pong wrappers.
fn ping_pong<V: DapVdaf>(
    file: &str,
    vdaf: &V,
    config: &VdafConfig,
    tv: &TestVector,
    tally: &mut Tally,
) {
    let ctx = hex(&tv.ctx);
    let verify_key: VerifyKey = hex(&tv.verify_key).try_into().unwrap();
    let mut leader_outs = Vec::new();
    let mut helper_outs = Vec::new();

    for (r, rep) in tv.reports.iter().enumerate() {
        let at = format!("{file}: report {r} (ping-pong)");
        let report_id = ReportId(hex(&rep.nonce).try_into().expect("16-byte nonce"));
        let public_share = hex(&rep.public_share);
        let [leader_share, helper_share]: [Vec<u8>; 2] = rep
            .input_shares
            .iter()
            .map(|s| hex(s))
            .collect::<Vec<_>>()
            .try_into()
            .expect("two input shares");
        let failure = failure_of(file, tv, r);

        // Leader: ping_pong_leader_init -> initialize(leader's verifier share).
        let (leader_state, leader_msg) = leader_init(
            vdaf,
            &verify_key,
            &ctx,
            &report_id,
            &public_share,
            &leader_share,
        )
        .unwrap_or_else(|e| panic!("{at}: leader_init: {e}"));
        match PingPongMessage::get_decoded(&leader_msg) {
            Ok(PingPongMessage::Initialize { verifier_share }) => assert_eq!(
                verifier_share,
                hex(&rep.verifier_shares[0][0]),
                "{at}: leader's verifier share"
            ),
            other => panic!("{at}: leader sent {other:?}, expected initialize"),
        }

        match failure {
            Some(Failure::CombineRound0) => {
                let result = helper_init(
                    vdaf,
                    &verify_key,
                    &ctx,
                    &report_id,
                    &public_share,
                    &helper_share,
                    &leader_msg,
                );
                assert!(
                    is_rejected(&result),
                    "{at}: helper_init did not reject with vdaf_verify_error"
                );
                tally.ping_pong_rejections += 1;
                tally.ping_pong_reports += 1;
                continue;
            }
            Some(Failure::LeaderRound1) => {
                // The Helper's answer as the vector gives it: finish(verifier message).
                let inbound = PingPongMessage::Finish {
                    verifier_message: hex(&rep.verifier_messages[0]),
                }
                .get_encoded()
                .unwrap();
                let result = continued(vdaf, &ctx, true, leader_state, &inbound);
                assert!(
                    is_rejected(&result),
                    "{at}: leader continued did not reject with vdaf_verify_error"
                );
                tally.ping_pong_rejections += 1;
                tally.ping_pong_reports += 1;
                continue;
            }
            None => {}
        }

        assert_eq!(
            rep.verifier_messages.len(),
            1,
            "{at}: Prio3 verifies in one round"
        );
        // Helper: ping_pong_helper_init -> finishes, answers finish(verifier message).
        let helper = helper_init(
            vdaf,
            &verify_key,
            &ctx,
            &report_id,
            &public_share,
            &helper_share,
            &leader_msg,
        )
        .unwrap_or_else(|e| panic!("{at}: helper_init: {e}"));
        let (helper_out, helper_msg) = match helper {
            Transition::FinishedWithOutbound {
                out_share,
                outbound,
            } => (out_share, outbound),
            Transition::Continued { .. } => panic!("{at}: helper continued after one round"),
            Transition::Finished { .. } => panic!("{at}: helper finished without a message"),
        };
        match PingPongMessage::get_decoded(&helper_msg) {
            Ok(PingPongMessage::Finish { verifier_message }) => assert_eq!(
                verifier_message,
                hex(&rep.verifier_messages[0]),
                "{at}: helper's verifier message"
            ),
            other => panic!("{at}: helper sent {other:?}, expected finish"),
        }
        // Leader: ping_pong_leader_continued -> finished.
        let leader_out = match continued(vdaf, &ctx, true, leader_state, &helper_msg) {
            Ok(Transition::Finished { out_share }) => out_share,
            Ok(_) => panic!("{at}: leader did not finish"),
            Err(e) => panic!("{at}: leader continued: {e}"),
        };
        for (agg, out) in [(0, &leader_out), (1, &helper_out)] {
            let bytes = encode_out_share::<V>(out);
            assert_eq!(bytes, hex(&rep.out_shares[agg]), "{at}: output share {agg}");
            let back = decode_out_share(vdaf, &bytes).expect("output share decodes");
            assert_eq!(encode_out_share::<V>(&back), bytes);
        }
        leader_outs.push(leader_out);
        helper_outs.push(helper_out);
        tally.ping_pong_reports += 1;

        // Our own (randomized) shard of the same measurement has the same shape and verifies.
        fresh_shard(&at, vdaf, config, &verify_key, &ctx, rep);
    }

    if tv.agg_shares.is_empty() {
        // Negative vectors stop before aggregation.
        return;
    }
    assert_eq!(
        leader_outs.len(),
        tv.reports.len(),
        "{file}: every report verified"
    );
    let mut encoded = Vec::new();
    for (agg, outs) in [(0, &leader_outs), (1, &helper_outs)] {
        let expected = hex(&tv.agg_shares[agg]);
        let share = agg_share::aggregate(vdaf, outs.iter().cloned()).unwrap();
        let bytes = agg_share::encode::<V>(&share).unwrap();
        assert_eq!(bytes, expected, "{file}: aggregate share {agg}");
        // The same through the byte-level merge used between storage round trips.
        let mut merged = agg_share::zero(vdaf);
        for out in outs.iter() {
            let one = agg_share::encode::<V>(&agg_share::aggregate(vdaf, [out.clone()]).unwrap())
                .unwrap();
            merged = agg_share::merge(vdaf, &merged, &one).unwrap();
        }
        assert_eq!(merged, expected, "{file}: merged aggregate share {agg}");
        encoded.push(bytes);
    }
    let result = unshard(vdaf, &encoded, tv.reports.len() as u64).unwrap();
    assert_eq!(
        result,
        aggregate_result(&tv.agg_result),
        "{file}: aggregate result"
    );
}

/// Shards the vector's measurement with our `shard` (fresh randomness) and checks the shares
/// have the vector's lengths and verify to the measurement itself.
fn fresh_shard<V: DapVdaf>(
    at: &str,
    vdaf: &V,
    config: &VdafConfig,
    verify_key: &VerifyKey,
    ctx: &[u8],
    rep: &ReportVector,
) {
    let m = measurement(config, &rep.measurement);
    let report_id = ReportId::random();
    let (public, [leader, helper]) =
        shard(vdaf, ctx, &m, &report_id).unwrap_or_else(|e| panic!("{at}: shard: {e}"));
    assert_eq!(
        public.len(),
        hex(&rep.public_share).len(),
        "{at}: public share length"
    );
    assert_eq!(
        leader.len(),
        hex(&rep.input_shares[0]).len(),
        "{at}: leader share length"
    );
    assert_eq!(
        helper.len(),
        hex(&rep.input_shares[1]).len(),
        "{at}: helper share length"
    );

    let (state, msg) = leader_init(vdaf, verify_key, ctx, &report_id, &public, &leader)
        .unwrap_or_else(|e| panic!("{at}: fresh leader_init: {e}"));
    let (helper_out, reply) =
        match helper_init(vdaf, verify_key, ctx, &report_id, &public, &helper, &msg) {
            Ok(Transition::FinishedWithOutbound {
                out_share,
                outbound,
            }) => (out_share, outbound),
            Ok(_) => panic!("{at}: fresh helper_init did not finish with a message"),
            Err(e) => panic!("{at}: fresh helper_init: {e}"),
        };
    let leader_out = match continued(vdaf, ctx, true, state, &reply) {
        Ok(Transition::Finished { out_share }) => out_share,
        Ok(_) => panic!("{at}: fresh leader did not finish"),
        Err(e) => panic!("{at}: fresh continued: {e}"),
    };
    let shares = [leader_out, helper_out]
        .iter()
        .map(|o| agg_share::encode::<V>(&agg_share::aggregate(vdaf, [o.clone()]).unwrap()).unwrap())
        .collect::<Vec<_>>();
    let mut expected = AggregateResult::zero(config);
    expected.add(&m);
    assert_eq!(
        unshard(vdaf, &shares, 1).unwrap(),
        expected,
        "{at}: fresh shard result"
    );

    // A share for the wrong report ID (nonce) must not verify.
    let other = ReportId::random();
    let (state, msg) = leader_init(vdaf, verify_key, ctx, &other, &public, &leader).unwrap();
    let helper_result = helper_init(vdaf, verify_key, ctx, &report_id, &public, &helper, &msg);
    let rejected = match helper_result {
        Err(ReportError::VdafVerifyError) => true,
        Err(e) => panic!("{at}: mismatched nonce gave {e:?}"),
        Ok(Transition::FinishedWithOutbound { outbound, .. }) => {
            // Prio3Count has no joint randomness: the helper cannot tell, the leader must.
            is_rejected(&continued(vdaf, ctx, true, state, &outbound))
        }
        Ok(_) => false,
    };
    assert!(
        rejected,
        "{at}: a report verified under two different nonces"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn directory_holds_exactly_the_expected_vectors() {
    let dir = vector_dir();
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    found.sort();
    let mut expected: Vec<String> = VECTOR_FILES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(
        found, expected,
        "tests/test_vec/18 does not hold the expected vector files"
    );
}

/// Runs every file in one test too, and checks the totals, so a vector can't be forgotten in
/// the per-file list below.
#[test]
fn all_vectors() {
    let mut operations = 0;
    let mut reports = 0;
    let mut rejections = 0;
    for file in VECTOR_FILES {
        let t = run_file(file);
        operations += t.operations;
        reports += t.ping_pong_reports;
        rejections += t.ping_pong_rejections;
    }
    // Totals of the 22 files (counted independently from the JSON): 339 operations; 43
    // reports in two-share vectors, 8 of them negative.
    eprintln!("{operations} operations, {reports} ping-pong reports, {rejections} rejections");
    assert_eq!(operations, 339, "operations replayed");
    assert_eq!(reports, 43, "reports run through ping-pong");
    assert_eq!(rejections, 8, "negative vectors rejected through ping-pong");
}

/// `VdafConfig`s arrive from the network (e.g. a DAP-Taskprov header): instantiating any of
/// them must fail cleanly rather than panic, and degenerate parameters must be refused.
#[test]
fn instantiating_any_vdaf_config_does_not_panic() {
    use proptest::prelude::*;
    let config = prop_oneof![
        Just(VdafConfig::Prio3Count),
        any::<u64>().prop_map(|max_measurement| VdafConfig::Prio3Sum { max_measurement }),
        (any::<u32>(), any::<u64>(), any::<u32>()).prop_map(
            |(length, max_measurement, chunk_length)| {
                VdafConfig::Prio3SumVec {
                    length,
                    max_measurement,
                    chunk_length,
                }
            }
        ),
        (any::<u32>(), any::<u32>()).prop_map(|(length, chunk_length)| {
            VdafConfig::Prio3Histogram {
                length,
                chunk_length,
            }
        }),
        (any::<u32>(), any::<u32>(), any::<u64>()).prop_map(
            |(length, chunk_length, max_weight)| {
                VdafConfig::Prio3MultihotCountVec {
                    length,
                    chunk_length,
                    max_weight,
                }
            }
        ),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&config, |c| {
            let _ = Prio3Instance::for_dap(&c);
            Ok(())
        })
        .unwrap();

    for degenerate in [
        VdafConfig::Prio3Sum { max_measurement: 0 },
        VdafConfig::Prio3SumVec {
            length: 0,
            max_measurement: 1,
            chunk_length: 1,
        },
        VdafConfig::Prio3SumVec {
            length: 1,
            max_measurement: 0,
            chunk_length: 1,
        },
        VdafConfig::Prio3SumVec {
            length: 1,
            max_measurement: 1,
            chunk_length: 0,
        },
        VdafConfig::Prio3Histogram {
            length: 0,
            chunk_length: 1,
        },
        VdafConfig::Prio3Histogram {
            length: 1,
            chunk_length: 0,
        },
        VdafConfig::Prio3MultihotCountVec {
            length: 0,
            chunk_length: 1,
            max_weight: 1,
        },
        VdafConfig::Prio3MultihotCountVec {
            length: 1,
            chunk_length: 0,
            max_weight: 1,
        },
        VdafConfig::Prio3MultihotCountVec {
            length: 1,
            chunk_length: 1,
            max_weight: 0,
        },
    ] {
        assert!(
            Prio3Instance::for_dap(&degenerate).is_err(),
            "{degenerate:?} was accepted"
        );
    }
}

macro_rules! vector_tests {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $name() {
                run_file($file);
            }
        )*

        #[test]
        fn per_file_tests_cover_every_vector() {
            let mut listed = vec![$($file),*];
            listed.sort_unstable();
            let mut all = VECTOR_FILES.to_vec();
            all.sort_unstable();
            assert_eq!(listed, all);
        }
    };
}

vector_tests! {
    prio3_count_0 => "Prio3Count_0.json",
    prio3_count_1 => "Prio3Count_1.json",
    prio3_count_2 => "Prio3Count_2.json",
    prio3_count_bad_gadget_poly => "Prio3Count_bad_gadget_poly.json",
    prio3_count_bad_helper_seed => "Prio3Count_bad_helper_seed.json",
    prio3_count_bad_meas_share => "Prio3Count_bad_meas_share.json",
    prio3_count_bad_wire_seed => "Prio3Count_bad_wire_seed.json",
    prio3_histogram_0 => "Prio3Histogram_0.json",
    prio3_histogram_1 => "Prio3Histogram_1.json",
    prio3_histogram_2 => "Prio3Histogram_2.json",
    prio3_histogram_bad_helper_jr_blind => "Prio3Histogram_bad_helper_jr_blind.json",
    prio3_histogram_bad_leader_jr_blind => "Prio3Histogram_bad_leader_jr_blind.json",
    prio3_histogram_bad_public_share => "Prio3Histogram_bad_public_share.json",
    prio3_histogram_bad_verifier_message => "Prio3Histogram_bad_verifier_message.json",
    prio3_multihot_count_vec_0 => "Prio3MultihotCountVec_0.json",
    prio3_multihot_count_vec_1 => "Prio3MultihotCountVec_1.json",
    prio3_multihot_count_vec_2 => "Prio3MultihotCountVec_2.json",
    prio3_sum_vec_0 => "Prio3SumVec_0.json",
    prio3_sum_vec_1 => "Prio3SumVec_1.json",
    prio3_sum_0 => "Prio3Sum_0.json",
    prio3_sum_1 => "Prio3Sum_1.json",
    prio3_sum_2 => "Prio3Sum_2.json",
}
