//! Command-line options of `edap-bench`.

use std::path::PathBuf;

/// Every section, in the order they run.
pub const SECTIONS: &[&str] = &["floor", "upload", "agg", "capacity", "size"];

/// The options.
pub struct Opts {
    pub only: Vec<String>,
    /// Client threads for bulk uploads and the aggregation runs.
    pub threads: usize,
    /// Concurrent keep-alive clients for single-report uploads.
    pub clients: usize,
    pub reports: usize,
    pub floor_reports: usize,
    pub quick: bool,
    pub profile: Option<PathBuf>,
    pub logs: Option<PathBuf>,
    pub json: Option<PathBuf>,
}

const USAGE: &str = "usage: edap-bench [--only floor,upload,agg,capacity,size] [--threads N] [--clients N] [--reports N] [--floor-reports N] [--quick] [--profile DIR] [--logs DIR] [--json FILE]";

impl Opts {
    pub fn parse() -> Opts {
        let mut o = Opts {
            only: Vec::new(),
            threads: 8,
            clients: 64,
            reports: 10_000,
            floor_reports: 1_000,
            quick: false,
            profile: None,
            logs: None,
            json: None,
        };
        let mut args = std::env::args().skip(1);
        let num = |v: Option<String>, name: &str| -> usize {
            v.and_then(|v| v.parse().ok())
                .unwrap_or_else(|| die(&format!("{name} needs a number")))
        };
        let path = |v: Option<String>, name: &str| -> PathBuf {
            v.unwrap_or_else(|| die(&format!("{name} needs a path")))
                .into()
        };
        while let Some(a) = args.next() {
            match a.as_str() {
                "--only" => {
                    o.only = args
                        .next()
                        .unwrap_or_default()
                        .split(',')
                        .map(str::to_string)
                        .collect();
                    if let Some(bad) = o.only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                        die(&format!(
                            "unknown section {bad:?} ({})",
                            SECTIONS.join(", ")
                        ));
                    }
                }
                "--threads" => o.threads = num(args.next(), "--threads").max(1),
                "--clients" => o.clients = num(args.next(), "--clients").max(1),
                "--reports" => o.reports = num(args.next(), "--reports").max(100),
                "--floor-reports" => o.floor_reports = num(args.next(), "--floor-reports").max(10),
                "--quick" => o.quick = true,
                "--profile" => o.profile = Some(path(args.next(), "--profile")),
                "--logs" => o.logs = Some(path(args.next(), "--logs")),
                "--json" => o.json = Some(path(args.next(), "--json")),
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => die(&format!("unknown argument {other:?} (try --help)")),
            }
        }
        if o.quick {
            o.reports = o.reports.min(2_000);
            o.floor_reports = o.floor_reports.min(200);
        }
        o
    }

    /// Whether `section` runs.
    pub fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

/// Prints one line and exits with status 2.
pub fn die(msg: &str) -> ! {
    eprintln!("edap-bench: {msg}");
    std::process::exit(2)
}
