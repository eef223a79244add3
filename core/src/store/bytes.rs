//! `#[serde(with = "crate::store::bytes")]` for `Vec<u8>` fields: serialised as one byte
//! string rather than a sequence of numbers. In postcard both are a varint length followed
//! by the bytes, so stored data and envelopes read the same either way; but serde visits a
//! `Vec<u8>` element by element, which made copying report bodies through envelopes and
//! storage a visible part of aggregation CPU in wasm.

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::Serializer;

/// Serialises `v` as a byte string.
pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(v)
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(b) = seq.next_element()? {
            out.push(b);
        }
        Ok(out)
    }
}

/// Deserialises a byte string (or, from self-describing formats, a sequence of bytes).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_byte_buf(BytesVisitor)
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Plain {
        body: Vec<u8>,
    }

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Bytes {
        #[serde(with = "super")]
        body: Vec<u8>,
    }

    #[test]
    fn postcard_encodes_bytes_and_sequences_of_bytes_alike() {
        for n in [0usize, 1, 127, 128, 300, 70_000] {
            let body: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let plain = postcard::to_allocvec(&Plain { body: body.clone() }).unwrap();
            let bytes = postcard::to_allocvec(&Bytes { body: body.clone() }).unwrap();
            assert_eq!(plain, bytes, "length {n}");
            let back: Bytes = postcard::from_bytes(&plain).unwrap();
            assert_eq!(back.body, body);
        }
    }
}
