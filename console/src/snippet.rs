//! The client snippets on a task's page: the JS package's two lines with the task's
//! parameters filled in, and an `edap upload` command line with the task file it reads.

use crate::wizard::{Kind, MeasurementSpec};
use edap_core::api::provision::TaskConfigSpec;
use edap_core::messages::VdafConfig;
use serde::Serialize;

/// Both snippets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snippets {
    /// JavaScript (browsers, Node, Workers) with `@edap/dap`.
    pub js: String,
    /// A shell command line with the `edap` CLI.
    pub cli: String,
    /// The task file `edap upload --task` reads (JSON).
    pub task_file: String,
}

/// A JavaScript string literal (JSON's, which JavaScript reads the same).
fn js_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn vdaf_js(v: &VdafConfig) -> String {
    match *v {
        VdafConfig::Prio3Count => "{ type: 'count' }".into(),
        VdafConfig::Prio3Sum { max_measurement } => {
            format!("{{ type: 'sum', maxMeasurement: {max_measurement} }}")
        }
        VdafConfig::Prio3SumVec {
            length,
            max_measurement,
            chunk_length,
        } => format!(
            "{{ type: 'sumvec', length: {length}, maxMeasurement: {max_measurement}, chunkLength: {chunk_length} }}"
        ),
        VdafConfig::Prio3Histogram {
            length,
            chunk_length,
        } => format!("{{ type: 'histogram', length: {length}, chunkLength: {chunk_length} }}"),
        VdafConfig::Prio3MultihotCountVec {
            length,
            chunk_length,
            max_weight,
        } => format!(
            "{{ type: 'multihot', length: {length}, maxWeight: {max_weight}, chunkLength: {chunk_length} }}"
        ),
    }
}

/// An example measurement (JS, CLI) and a comment on what measurements look like.
fn example(m: &MeasurementSpec) -> (String, String, String) {
    let names = |n: usize| -> String {
        let shown: Vec<String> = m
            .labels
            .iter()
            .take(n)
            .enumerate()
            .map(|(i, l)| format!("{i} = {l}"))
            .collect();
        let more = if m.labels.len() > n { ", …" } else { "" };
        format!("{}{more}", shown.join(", "))
    };
    let len = m.labels.len();
    match m.kind {
        Kind::Count => ("true".into(), "1".into(), "true (yes) or false (no)".into()),
        Kind::Sum => {
            let max = m.max.unwrap_or(1);
            let v = (max / 2).max(1);
            (
                v.to_string(),
                v.to_string(),
                format!("a whole number from 0 to {max}"),
            )
        }
        Kind::Histogram => (
            "0".into(),
            "0".into(),
            format!("the index of the option chosen: {}", names(6)),
        ),
        Kind::Multihot => {
            let v: Vec<&str> = (0..len)
                .map(|i| if i == 0 { "true" } else { "false" })
                .collect();
            let c: Vec<&str> = (0..len).map(|i| if i == 0 { "1" } else { "0" }).collect();
            (
                format!("[{}]", v.join(", ")),
                c.join(","),
                format!(
                    "one true/false per option, at most {} true: {}",
                    m.max_choices.unwrap_or(1),
                    names(6)
                ),
            )
        }
        Kind::Sumvec => {
            let v: Vec<&str> = (0..len).map(|_| "0").collect();
            (
                format!("[{}]", v.join(", ")),
                v.join(","),
                format!(
                    "one whole number from 0 to {} per entry: {}",
                    m.max.unwrap_or(1),
                    names(6)
                ),
            )
        }
    }
}

/// The snippets of a task.
pub fn snippets(
    task_id: &str,
    encoded_config: &str,
    spec: &TaskConfigSpec,
    m: &MeasurementSpec,
) -> Snippets {
    let mut params = vec![
        format!("id: {}", js_str(task_id)),
        format!("leader: {}", js_str(&spec.leader_endpoint)),
        format!("helper: {}", js_str(&spec.helper_endpoint)),
        format!("vdaf: {}", vdaf_js(&spec.vdaf)),
        format!("timePrecisionSeconds: {}", spec.time_precision),
        format!("minBatchSize: {}", spec.min_batch_size),
        format!("batchMode: '{}'", spec.batch_mode),
        format!("taskInfo: {}", js_str(&spec.task_info)),
    ];
    if let Some(s) = spec.task_start {
        params.push(format!("taskStart: {s}"));
    }
    if let Some(e) = spec.task_end {
        params.push(format!("taskEnd: {e}"));
    }
    let (js_example, cli_example, what) = example(m);
    let js = format!(
        "import {{ Task }} from '@edap/dap';\nawait new Task({{ {} }}).sendMeasurement({js_example}); // a measurement: {what}\n",
        params.join(", ")
    );
    let task_file = serde_json::to_string_pretty(&serde_json::json!({
        "task_id": task_id,
        "task_config": encoded_config,
    }))
    .unwrap_or_default();
    let cli = format!(
        "cat > task.json <<'EOF'\n{task_file}\nEOF\nedap upload --task task.json -m {cli_example}   # a measurement: {what}\n"
    );
    Snippets { js, cli, task_file }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(vdaf: VdafConfig) -> TaskConfigSpec {
        TaskConfigSpec {
            task_info: "Colour [ab\"c]".into(),
            leader_endpoint: "https://l.example/".into(),
            helper_endpoint: "https://h.example/".into(),
            time_precision: 3600,
            min_batch_size: 100,
            batch_mode: "time_interval".into(),
            vdaf,
            task_start: None,
            task_end: Some(1_900_000_000),
        }
    }

    #[test]
    fn js_snippet_is_two_lines_with_the_parameters() {
        let m = MeasurementSpec {
            kind: Kind::Histogram,
            labels: vec!["red".into(), "green".into()],
            max: None,
            max_choices: None,
        };
        let s = snippets(
            "TASKID",
            "CONFIG",
            &spec(VdafConfig::Prio3Histogram {
                length: 2,
                chunk_length: 1,
            }),
            &m,
        );
        assert_eq!(s.js.lines().count(), 2, "{}", s.js);
        assert!(s.js.starts_with("import { Task } from '@edap/dap';\n"));
        assert!(s.js.contains("id: \"TASKID\""));
        assert!(s
            .js
            .contains("vdaf: { type: 'histogram', length: 2, chunkLength: 1 }"));
        assert!(s.js.contains(r#"taskInfo: "Colour [ab\"c]""#), "{}", s.js);
        assert!(s.js.contains("taskEnd: 1900000000"));
        assert!(!s.js.contains("taskStart"));
        assert!(s.js.contains(".sendMeasurement(0); // a measurement: the index of the option chosen: 0 = red, 1 = green"));
        assert!(s.cli.contains("edap upload --task task.json -m 0"));
        let f: serde_json::Value = serde_json::from_str(&s.task_file).unwrap();
        assert_eq!(f["task_id"], "TASKID");
        assert_eq!(f["task_config"], "CONFIG");
    }

    #[test]
    fn examples_fit_each_kind() {
        let labels = vec!["a".into(), "b".into(), "c".into()];
        let cases = [
            (
                Kind::Count,
                VdafConfig::Prio3Count,
                "sendMeasurement(true)",
                "-m 1",
            ),
            (
                Kind::Sum,
                VdafConfig::Prio3Sum {
                    max_measurement: 10,
                },
                "sendMeasurement(5)",
                "-m 5",
            ),
            (
                Kind::Multihot,
                VdafConfig::Prio3MultihotCountVec {
                    length: 3,
                    chunk_length: 1,
                    max_weight: 2,
                },
                "sendMeasurement([true, false, false])",
                "-m 1,0,0",
            ),
            (
                Kind::Sumvec,
                VdafConfig::Prio3SumVec {
                    length: 3,
                    max_measurement: 10,
                    chunk_length: 1,
                },
                "sendMeasurement([0, 0, 0])",
                "-m 0,0,0",
            ),
        ];
        for (kind, vdaf, js, cli) in cases {
            let m = MeasurementSpec {
                kind,
                labels: if matches!(kind, Kind::Count | Kind::Sum) {
                    vec![]
                } else {
                    labels.clone()
                },
                max: Some(10),
                max_choices: Some(2),
            };
            let s = snippets("T", "C", &spec(vdaf), &m);
            assert!(s.js.contains(js), "{kind:?}: {}", s.js);
            assert!(s.cli.contains(cli), "{kind:?}: {}", s.cli);
        }
    }
}
