//! The console in headless Chromium (console/test/browser.test.mjs): a new user signs up,
//! creates a collector credential, creates a Histogram task with labels, copies the
//! snippet, which the test runs to send 200 measurements, opens the task, collects, and
//! the chart's values equal the known counts. Screenshots of every step are written to
//! `target/console-screenshots/` (or `EDAP_CONSOLE_SCREENSHOTS`); with
//! `EDAP_CONSOLE_README_SCREENSHOT=PATH` the task page is also saved there (the README's
//! picture, docs/console-task-page.png).
//!
//! Needs the built aggregator worker, console and JS package (scripts/test builds them),
//! Node >= 20 and Debian's chromium (scripts/setup). The Node run is bounded in time and
//! stopped by process group, Chromium with it.

mod common;

use common::Stack;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// Longest the browser test may take.
const NODE_TIMEOUT: Duration = Duration::from_secs(480);

#[test]
fn from_sign_up_to_a_chart_in_chromium() {
    let root = edap_testkit::root();
    let package = root.join("clients/js");
    assert!(
        package.join("dist/entry/node.js").exists(),
        "the JS package is not built: run clients/js/build.sh (scripts/test does)"
    );
    let stack = Stack::start("console-browser", &[]);
    let screenshots = std::env::var_os("EDAP_CONSOLE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/console-screenshots"));
    let _ = std::fs::remove_dir_all(&screenshots);
    let scratch = stack.dir().join("browser");
    std::fs::create_dir_all(&scratch).unwrap();
    let params = json!({
        "consoleUrl": stack.url(),
        "screenshots": screenshots,
        "scratch": scratch,
        "packageDir": package,
        "readmeScreenshot": std::env::var("EDAP_CONSOLE_README_SCREENSHOT").ok(),
    });
    let params_file = scratch.join("params.json");
    std::fs::write(&params_file, serde_json::to_string_pretty(&params).unwrap()).unwrap();
    let log = scratch.join("node.log");
    let status = edap_testkit::node::run_tests(
        &root.join("console"),
        &["test/browser.test.mjs"],
        &[("EDAP_CONSOLE_TEST_PARAMS", &params_file)],
        &log,
        NODE_TIMEOUT,
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    println!("{text}");
    println!("screenshots: {}", screenshots.display());
    match status {
        Some(s) => assert!(
            s.success(),
            "the browser test failed (output above); console log: {}",
            stack.console.log()
        ),
        None => panic!("the browser test did not finish within {NODE_TIMEOUT:?}"),
    }
}
