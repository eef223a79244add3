//! Tests of the task wizard's checks: every field's invalid values get a message for that
//! field, and a valid input builds the configuration `edap task new` would.

use super::*;
use serde_json::json;

const NOW: u64 = 1_800_000_000;

fn req(v: Value) -> WizardRequest {
    serde_json::from_value(v).unwrap()
}

fn valid() -> Value {
    json!({
        "name": "Favourite colour", "kind": "histogram", "labels": ["red", "green", "blue"],
        "time_precision": 3600, "min_batch_size": 100, "batch_mode": "time_interval",
        "leader": "shared-leader", "helper": "shared-helper", "credential": "crd_x"
    })
}

fn with(field: &str, value: Value) -> Value {
    let mut v = valid();
    v[field] = value;
    v
}

fn field_error(v: Value, field: &str) -> String {
    match check(&req(v), 100, NOW) {
        Ok(w) => panic!("accepted {w:?}"),
        Err(f) => f
            .get(field)
            .unwrap_or_else(|| panic!("no message for {field}: {f}"))
            .to_string(),
    }
}

#[test]
fn a_valid_histogram() {
    let w = check(&req(valid()), 100, NOW).unwrap();
    assert_eq!(w.measurement.kind, Kind::Histogram);
    assert_eq!(w.measurement.labels, ["red", "green", "blue"]);
    let spec = w.spec(
        "https://l.example/",
        "https://h.example/",
        "Favourite colour [abc]",
    );
    let config = w.to_config(&spec, &TaskLimits::default()).unwrap();
    assert_eq!(
        config.vdaf,
        VdafConfig::Prio3Histogram {
            length: 3,
            chunk_length: prio::vdaf::prio3::optimal_chunk_length(3) as u32
        }
    );
    assert_eq!(config.min_batch_size, 100);
    // Labels may come as text, one per line, and numbers as decimal strings.
    let w2 = check(
        &req(with("labels", json!("red\n green \n\nblue\n"))),
        100,
        NOW,
    )
    .unwrap();
    assert_eq!(w2.measurement.labels, w.measurement.labels);
    let w3 = check(&req(with("min_batch_size", json!(" 250 "))), 100, NOW).unwrap();
    assert_eq!(w3.min_batch_size, 250);
}

#[test]
fn every_field_has_its_message() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("name", json!(""), "enter a name"),
        ("name", json!("x".repeat(81)), "at most 80"),
        ("kind", json!(null), "choose what to measure"),
        ("kind", json!("median"), "choose one of"),
        ("labels", json!(["only one"]), "at least two"),
        ("labels", json!(["a", "A"]), "listed twice"),
        ("labels", json!(["x".repeat(61), "b"]), "longer than 60"),
        ("time_precision", json!(30), "at least 60"),
        ("time_precision", json!(700_000), "at most 604800"),
        ("time_precision", json!("hourly"), "whole number"),
        ("time_precision", json!(1.5), "whole number"),
        ("min_batch_size", json!(10), "at least 100"),
        ("min_batch_size", json!(null), "enter a number"),
        ("min_batch_size", json!(-5), "whole number"),
        (
            "batch_mode",
            json!("daily"),
            "time_interval or leader_selected",
        ),
        ("start", json!("yesterday"), "whole number"),
        ("end", json!(NOW - 10), "in the future"),
        ("leader", json!(""), "choose the Leader"),
        ("helper", json!(null), "choose the Helper"),
        ("helper", json!("shared-leader"), "another aggregator"),
        ("leader", json!(7), "must be text"),
        ("credential", json!(""), "choose a collector credential"),
    ];
    for (field, value, expected) in cases {
        let msg = field_error(with(field, value.clone()), field);
        assert!(msg.contains(expected), "{field} = {value}: {msg}");
    }
    let mut v = with("start", json!(NOW + 100));
    v["end"] = json!(NOW + 50);
    assert!(field_error(v, "end").contains("after the start"));
}

#[test]
fn kinds_and_their_parameters() {
    let mut sum = with("kind", json!("sum"));
    assert!(field_error(sum.clone(), "max").contains("enter a number"));
    sum["max"] = json!(0);
    assert!(field_error(sum.clone(), "max").contains("at least 1"));
    sum["max"] = json!(9_007_199_254_740_992u64);
    assert!(field_error(sum.clone(), "max").contains("at most"));
    sum["max"] = json!(1000);
    let w = check(&req(sum), 100, NOW).unwrap();
    assert!(
        w.measurement.labels.is_empty(),
        "labels are dropped for a sum"
    );
    assert_eq!(
        w.measurement.vdaf(),
        VdafConfig::Prio3Sum {
            max_measurement: 1000
        }
    );

    let mut multi = with("kind", json!("multihot"));
    assert!(field_error(multi.clone(), "max_choices").contains("enter a number"));
    multi["max_choices"] = json!(4);
    assert!(field_error(multi.clone(), "max_choices").contains("at most 3"));
    multi["max_choices"] = json!(2);
    let w = check(&req(multi), 100, NOW).unwrap();
    assert_eq!(
        w.measurement.vdaf(),
        VdafConfig::Prio3MultihotCountVec {
            length: 3,
            max_weight: 2,
            chunk_length: prio::vdaf::prio3::optimal_chunk_length(3 + 2) as u32
        }
    );

    let mut vec = with("kind", json!("sumvec"));
    vec["labels"] = json!(["load time"]);
    vec["max"] = json!(255);
    let w = check(&req(vec), 100, NOW).unwrap();
    assert_eq!(
        w.measurement.vdaf(),
        VdafConfig::Prio3SumVec {
            length: 1,
            max_measurement: 255,
            chunk_length: prio::vdaf::prio3::optimal_chunk_length(8) as u32
        }
    );
    let count = check(&req(with("kind", json!("count"))), 100, NOW).unwrap();
    assert_eq!(count.measurement.vdaf(), VdafConfig::Prio3Count);
}

#[test]
fn limits_of_the_deployment_land_on_fields() {
    let w = check(&req(valid()), 1, NOW).unwrap();
    let spec = w.spec("http://127.0.0.1:8787/", "http://127.0.0.1:8788/", "x [y]");
    let f = w.to_config(&spec, &TaskLimits::default()).unwrap_err();
    assert!(f.get("leader").unwrap().contains("https"), "{f}");
    let mut big = with("kind", json!("sumvec"));
    big["labels"] = json!((0..11).map(|i| format!("e{i}")).collect::<Vec<_>>());
    big["max"] = json!(MAX_SAFE_INTEGER);
    let w = check(&req(big), 100, NOW).unwrap();
    let spec = w.spec("https://l.example/", "https://h.example/", "x [y]");
    let small = TaskLimits {
        max_vdaf_length: 10,
        ..TaskLimits::default()
    };
    let f = w.to_config(&spec, &small).unwrap_err();
    assert!(f.get("labels").is_some(), "{f}");
    let costly = TaskLimits {
        max_vdaf_cost: 100,
        ..TaskLimits::default()
    };
    let f = w.to_config(&spec, &costly).unwrap_err();
    assert!(f.get("max").is_some() || f.get("labels").is_some(), "{f}");
}

#[test]
fn task_info_is_bounded_and_tagged() {
    assert_eq!(task_info("Colours", "abc123"), "Colours [abc123]");
    let long = task_info(&"é".repeat(200), "abc123");
    assert!(long.len() <= 255, "{}", long.len());
    assert!(long.ends_with(" [abc123]"));
}
