//! The key-value interface every kind of state is written against.

use std::collections::BTreeMap;
use std::ops::Bound;

/// A storage failure. Handlers answer it with a retryable error; nothing is half-applied
/// because each request runs inside one atomic store transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum StoreError {
    /// The backend failed.
    #[error("storage backend: {0}")]
    Backend(String),
    /// A stored value or request did not decode.
    #[error("storage codec: {0}")]
    Codec(String),
    /// A request broke an invariant of the state machine.
    #[error("storage invariant: {0}")]
    Invariant(String),
}

/// Key-value pairs returned by a scan.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Ordered byte-string keys and values. Synchronous: on a Durable Object this is its SQLite
/// storage, whose calls complete without awaiting, so one request's reads and writes are
/// atomic.
pub trait Kv {
    /// The value at `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` to `value`.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes `key` (no error if absent).
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError>;
    /// Entries with `start <= key < end` in key order (descending when `reverse`), at most
    /// `limit` of them.
    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Entries, StoreError>;

    /// Entries whose key starts with `prefix`.
    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        self.scan(prefix, &prefix_end(prefix), limit, false)
    }

    /// The values at several keys, in order. Backends override this to read in few
    /// round trips (a Durable Object reads up to 100 keys per SQL statement).
    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        keys.iter().map(|k| self.get(k)).collect()
    }

    /// Sets several keys (later entries win over earlier ones with the same key).
    fn put_many(&mut self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        for (k, v) in entries {
            self.put(k, v)?;
        }
        Ok(())
    }

    /// Removes several keys.
    fn delete_many(&mut self, keys: &[Vec<u8>]) -> Result<(), StoreError> {
        for k in keys {
            self.delete(k)?;
        }
        Ok(())
    }

    /// Removes every key with `start <= key < end`.
    fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<(), StoreError> {
        let keys: Vec<Vec<u8>> = self
            .scan(start, end, usize::MAX, false)?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        self.delete_many(&keys)
    }
}

/// The smallest key greater than every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xff; prefix.len() + 1]
}

/// An in-memory [`Kv`] for tests and native tools.
#[derive(Clone, Debug, Default)]
pub struct MemKv {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries (for tests).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Kv for MemKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.get(key).cloned())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.map.remove(key);
        Ok(())
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Entries, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let range = self
            .map
            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)));
        let items: Vec<_> = if reverse {
            range
                .rev()
                .take(limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            range
                .take(limit)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        Ok(items)
    }
}

/// A [`Kv`] that remembers whether anything was written through it (so that the caller
/// knows whether a request changed the store without reading it again).
pub struct Tracked<'a, K: Kv> {
    inner: &'a mut K,
    /// Whether a put or delete went through.
    pub wrote: bool,
}

impl<'a, K: Kv> Tracked<'a, K> {
    /// Wraps `inner`.
    pub fn new(inner: &'a mut K) -> Self {
        Tracked {
            inner,
            wrote: false,
        }
    }
}

impl<K: Kv> Kv for Tracked<'_, K> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.wrote = true;
        self.inner.put(key, value)
    }
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.wrote = true;
        self.inner.delete(key)
    }
    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Entries, StoreError> {
        self.inner.scan(start, end, limit, reverse)
    }
    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.inner.get_many(keys)
    }
    fn put_many(&mut self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StoreError> {
        self.wrote |= !entries.is_empty();
        self.inner.put_many(entries)
    }
    fn delete_many(&mut self, keys: &[Vec<u8>]) -> Result<(), StoreError> {
        self.wrote |= !keys.is_empty();
        self.inner.delete_many(keys)
    }
    fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<(), StoreError> {
        self.wrote = true;
        self.inner.delete_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_ranges() {
        let mut kv = MemKv::new();
        for k in [b"a1", b"a2", b"a3", b"b1"] {
            kv.put(k, k).unwrap();
        }
        let keys = |v: Vec<(Vec<u8>, Vec<u8>)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(keys(kv.scan_prefix(b"a", 10).unwrap()).len(), 3);
        assert_eq!(
            keys(kv.scan(b"a", b"a3", 10, true).unwrap()),
            vec![b"a2".to_vec(), b"a1".to_vec()]
        );
        assert_eq!(prefix_end(&[1, 0xff]), vec![2]);
    }
}
