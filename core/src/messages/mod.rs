//! DAP-18 wire types (section 4 of draft-ietf-ppm-dap-18), each with `prio::codec`
//! `Encode`/`Decode`. Decoding is strict: trailing bytes, out-of-range lengths and unknown
//! enum values are errors; extension lists decode as received, for the receiver to judge
//! (see [`Extensions`]). [`AggJobEncoding`] reads and writes the aggregation-job messages in
//! the encoding deployed peers speak as well.

mod aggregate;
mod basic;
mod collect;
mod deployed;
mod hpke;
mod task_config;
mod upload;

pub use aggregate::*;
pub use basic::*;
pub use collect::*;
pub use deployed::AggJobEncoding;
pub use hpke::*;
pub use task_config::*;
pub use upload::*;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Encodes bytes as unpadded URL-safe base64, as DAP uses for IDs in URLs and problem documents.
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded URL-safe base64.
pub fn from_base64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}
