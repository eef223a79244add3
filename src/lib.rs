//! `edap-worker`: the DAP-18 Leader and Helper as one Cloudflare Worker.
//!
//! All protocol logic lives in `edap-core`; this crate adapts it to Workers: the fetch
//! handler ([`entry`]) feeds requests to the core router, [`platform`] implements the
//! core's `Platform` with Durable Object stubs and `fetch`, [`sqlkv`] implements the core's
//! key-value store on a Durable Object's SQLite storage, and `durable/` holds one Durable
//! Object class per kind of state. Everything here is compiled for wasm32 only; the native
//! build of this crate carries the end-to-end tests under `tests/`.

#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
#[path = "../durable/mod.rs"]
mod durable;
#[cfg(target_arch = "wasm32")]
mod entry;
#[cfg(target_arch = "wasm32")]
mod jsglue;
#[cfg(target_arch = "wasm32")]
mod platform;
#[cfg(target_arch = "wasm32")]
mod settings;
#[cfg(target_arch = "wasm32")]
mod sqlkv;
#[cfg(target_arch = "wasm32")]
mod webcrypto;
