//! `edap-core`: the sans-IO DAP-18 protocol core.
//!
//! Everything here is pure computation over bytes and small storage traits: wire messages
//! ([`messages`]), HPKE ([`hpke`]), Prio3 dispatch ([`vdaf`]), tasks ([`task`]), and the
//! Client, Leader, Helper and Collector state machines ([`roles`]). No network, no clock and
//! no randomness except what callers pass in or what `getrandom` provides. The Cloudflare
//! Workers adapter and the in-memory adapter of the tests drive the same code.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod codec;
pub mod dp;
pub mod error;
pub mod hpke;
pub mod http;
pub mod instances;
pub mod interop;
pub mod lifecycle;
pub mod media;
#[cfg(not(target_arch = "wasm32"))]
pub mod mem;
pub mod messages;
pub mod observe;
pub mod platform;
pub mod roles;
pub mod store;
pub mod task;
pub mod taskprov;
pub mod tokens;
pub mod vdaf;

pub use error::{Abort, DapErrorType, ProblemDocument};

/// Randomness from the platform CSPRNG.
pub mod rand {
    /// Fills `buf` with random bytes.
    ///
    /// # Panics
    /// Only if the platform has no entropy source at all, in which case nothing secure can run.
    pub fn fill(buf: &mut [u8]) {
        // getrandom fails only when the OS/runtime offers no CSPRNG; continuing would be unsafe.
        getrandom::fill(buf).expect("platform CSPRNG unavailable");
    }

    /// A random array.
    pub fn array<const N: usize>() -> [u8; N] {
        let mut b = [0u8; N];
        fill(&mut b);
        b
    }
}

/// Serde helper: `Vec<u8>` as unpadded base64url strings.
pub mod serde_b64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes bytes as base64url.
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::messages::base64url(b))
    }

    /// Parses base64url bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        crate::messages::from_base64url(&s)
            .ok_or_else(|| serde::de::Error::custom("invalid base64url"))
    }
}
