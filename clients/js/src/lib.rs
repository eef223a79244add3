//! `edap-js`: the DAP-18 Client and Collector of `edap-core` for JavaScript.
//!
//! Nothing here re-implements the protocol: tasks are built by the core's
//! `TaskConfigSpec`, measurements checked by `Measurement::check`, reports by
//! `roles::client::Client`, results read by `roles::collector::finish`. This crate only
//! converts between JSON/bytes and the core's types; the `@edap/dap` TypeScript layer in
//! `lib/` does the I/O. The wasm-bindgen surface ([`wasm`]) exists on wasm32 only, so the
//! conversions are unit-tested natively.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod collector;
pub mod measurement;
pub mod task;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
