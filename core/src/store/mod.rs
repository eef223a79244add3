//! Durable state, as small synchronous state machines over a key-value store ([`Kv`]).
//!
//! Each kind of state has its own module and its own instances (one Durable Object class per
//! kind in the worker; one `MemKv` per instance in tests): pending reports at the Leader
//! ([`report_shard`]), replay protection ([`replay`]), batch buckets ([`buckets`]),
//! leader-selected batches ([`batch_index`]) and tasks with HPKE keys ([`tasks`]). Every
//! request is handled completely inside one synchronous call, so it is atomic on a Durable
//! Object, and every request is idempotent.

pub mod batch_index;
pub mod buckets;
pub mod bytes;
pub mod kv;
pub mod replay;
pub mod report_shard;
pub mod tasks;
pub mod ttl;

pub use kv::{Kv, MemKv, StoreError};

use serde::{de::DeserializeOwned, Serialize};

/// Encodes a value for storage or for a request between instances.
pub fn to_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(v).map_err(|e| StoreError::Codec(e.to_string()))
}

/// Decodes a stored value or a request.
pub fn from_bytes<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(b).map_err(|e| StoreError::Codec(e.to_string()))
}

/// Reads and decodes a value.
pub fn get<T: DeserializeOwned>(kv: &impl Kv, key: &[u8]) -> Result<Option<T>, StoreError> {
    kv.get(key)?.map(|b| from_bytes(&b)).transpose()
}

/// Encodes and writes a value.
pub fn put<T: Serialize>(kv: &mut impl Kv, key: &[u8], v: &T) -> Result<(), StoreError> {
    kv.put(key, &to_bytes(v)?)
}

/// Concatenates key parts.
pub fn key(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// XORs checksum `b` into `a` (batch checksums are the XOR of SHA-256 of report IDs).
pub fn xor_checksum(a: &mut [u8; 32], b: &[u8; 32]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// The shard (0..n) a 16-byte identifier falls into.
pub fn shard_of(id: &[u8], n: u32) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&id[..4]);
    u32::from_be_bytes(b) % n.max(1)
}
