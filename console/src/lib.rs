//! `edap-console`: the self-serve web console (issue 11), a control-plane Worker.
//!
//! A subscriber signs up, pairs aggregators (the deployment's own Leader and Helper are
//! preconfigured), creates a collector credential in the browser, creates a task with the
//! wizard, copies a client snippet and reads the results as charts. The console talks to
//! aggregators only through their aggregator API; the browser collects from the Leader
//! itself, with the Collector's key and token, which never leave it.
//!
//! The modules at the top are plain Rust, tested natively: sign-in ([`password`],
//! [`session`], [`ratelimit`], [`tokens`]), peer-token encryption ([`seal`]), input checks
//! ([`validate`], [`wizard`], [`netguard`]), pairing and provisioning ([`pairing`],
//! [`provision`]) and the snippets ([`snippet`]). `worker/` (wasm32 only) is the Worker:
//! the JSON API under `/api/v1`, D1, WebCrypto and `fetch`.

#![forbid(unsafe_code)]

pub mod error;
pub mod netguard;
pub mod pairing;
pub mod password;
pub mod provision;
pub mod ratelimit;
pub mod seal;
pub mod session;
pub mod settings;
pub mod snippet;
pub mod tokens;
pub mod validate;
pub mod wizard;

#[cfg(target_arch = "wasm32")]
mod worker;
