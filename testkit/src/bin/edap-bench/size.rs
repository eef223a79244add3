//! The deployed wasm, raw and gzip.

use crate::figures::Figures;
use edap_testkit::root;
use std::process::Command;

/// Prints the size of build/index_bg.wasm.
pub fn section(figures: &mut Figures) {
    println!("## 5. Deployed wasm\n");
    let wasm = root().join("build/index_bg.wasm");
    let raw = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    let gz = Command::new("gzip")
        .arg("-9c")
        .arg(&wasm)
        .output()
        .map(|o| o.stdout.len())
        .unwrap_or(0);
    println!(
        "build/index_bg.wasm: {raw} bytes raw ({:.0} KiB), {gz} bytes gzip -9 ({:.0} KiB).\n",
        raw as f64 / 1024.0,
        gz as f64 / 1024.0
    );
    figures.add(
        "size.wasm.raw_kib",
        "deployed wasm, raw",
        raw as f64 / 1024.0,
        "KiB",
        None,
    );
    figures.add(
        "size.wasm.gzip_kib",
        "deployed wasm, gzip -9",
        gz as f64 / 1024.0,
        "KiB",
        None,
    );
}
