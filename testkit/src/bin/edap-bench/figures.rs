//! The figures a run measures, each with the aim issue 13 sets for it (if any): printed
//! as a summary table beside their aims, and written as JSON with `--json` so that runs
//! can be compared by a script.

use std::fmt::Write as _;

/// What a figure should be.
#[derive(Clone, Copy, Debug)]
pub enum Aim {
    /// At least this much.
    AtLeast(f64),
    /// At most this much.
    AtMost(f64),
}

impl Aim {
    fn met(self, v: f64) -> bool {
        match self {
            Aim::AtLeast(a) => v >= a,
            Aim::AtMost(a) => v <= a,
        }
    }

    fn describe(self, unit: &str) -> String {
        match self {
            Aim::AtLeast(a) => format!("≥ {} {unit}", fmt(a)),
            Aim::AtMost(a) => format!("≤ {} {unit}", fmt(a)),
        }
    }

    fn json(self) -> serde_json::Value {
        match self {
            Aim::AtLeast(a) => serde_json::json!({ "at_least": a }),
            Aim::AtMost(a) => serde_json::json!({ "at_most": a }),
        }
    }
}

/// One measured figure.
pub struct Figure {
    /// A stable name for scripts (`upload.workerd.single.reports_per_s`).
    pub key: String,
    /// What it is, in words.
    pub label: String,
    pub value: f64,
    pub unit: &'static str,
    pub aim: Option<Aim>,
}

/// Every figure of a run, in the order measured.
#[derive(Default)]
pub struct Figures(Vec<Figure>);

/// A number with sensible precision for the tables.
pub fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

impl Figures {
    /// Records a figure.
    pub fn add(
        &mut self,
        key: &str,
        label: &str,
        value: f64,
        unit: &'static str,
        aim: Option<Aim>,
    ) {
        self.0.push(Figure {
            key: key.into(),
            label: label.into(),
            value,
            unit,
            aim,
        });
    }

    /// The value recorded under `key`, if any.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.0.iter().find(|f| f.key == key).map(|f| f.value)
    }

    /// The summary table: every figure that has an aim, beside it.
    pub fn summary(&self) -> String {
        let mut s = String::from("| figure | this run | aim | met |\n|---|---:|---:|---|\n");
        for f in self.0.iter().filter(|f| f.aim.is_some()) {
            let a = f.aim.expect("filtered on aims");
            let _ = writeln!(
                s,
                "| {} | {} {} | {} | {} |",
                f.label,
                fmt(f.value),
                f.unit,
                a.describe(f.unit),
                if a.met(f.value) { "yes" } else { "**no**" }
            );
        }
        s
    }

    /// All figures as JSON, with the run's metadata.
    pub fn json(&self, meta: serde_json::Value) -> serde_json::Value {
        let figures: Vec<serde_json::Value> = self
            .0
            .iter()
            .map(|f| {
                serde_json::json!({
                    "key": f.key,
                    "label": f.label,
                    "value": f.value,
                    "unit": f.unit,
                    "aim": f.aim.map(Aim::json),
                    "met": f.aim.map(|a| a.met(f.value)),
                })
            })
            .collect();
        serde_json::json!({ "run": meta, "figures": figures })
    }
}
