//! HPKE configuration and ciphertext messages.

use crate::codec::{get_opaque, put_opaque, take, Prefix};
use prio::codec::{CodecError, Decode, Encode};
use std::io::Cursor;

/// `uint8 HpkeConfigId`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct HpkeConfigId(pub u8);

/// `uint16 HpkeKemId` (RFC 9180 section 7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HpkeKemId(pub u16);
/// `uint16 HpkeKdfId` (RFC 9180 section 7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HpkeKdfId(pub u16);
/// `uint16 HpkeAeadId` (RFC 9180 section 7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HpkeAeadId(pub u16);

impl HpkeKemId {
    /// DHKEM(P-256, HKDF-SHA256)
    pub const P256_HKDF_SHA256: HpkeKemId = HpkeKemId(0x0010);
    /// DHKEM(X25519, HKDF-SHA256)
    pub const X25519_HKDF_SHA256: HpkeKemId = HpkeKemId(0x0020);
}
impl HpkeKdfId {
    /// HKDF-SHA256
    pub const HKDF_SHA256: HpkeKdfId = HpkeKdfId(0x0001);
}
impl HpkeAeadId {
    /// AES-128-GCM
    pub const AES_128_GCM: HpkeAeadId = HpkeAeadId(0x0001);
}

/// `struct HpkeConfig`: an aggregator's or collector's public key and algorithms.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HpkeConfig {
    /// The config's identifier, unique within a list.
    pub id: HpkeConfigId,
    /// KEM algorithm.
    pub kem_id: HpkeKemId,
    /// KDF algorithm.
    pub kdf_id: HpkeKdfId,
    /// AEAD algorithm.
    pub aead_id: HpkeAeadId,
    /// `opaque HpkePublicKey<1..2^16-1>`
    pub public_key: Vec<u8>,
}

impl Encode for HpkeConfig {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.id.0.encode(out)?;
        self.kem_id.0.encode(out)?;
        self.kdf_id.0.encode(out)?;
        self.aead_id.0.encode(out)?;
        put_opaque(out, Prefix::U16, &self.public_key)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(9 + self.public_key.len())
    }
}
impl Decode for HpkeConfig {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(HpkeConfig {
            id: HpkeConfigId(u8::decode(r)?),
            kem_id: HpkeKemId(u16::decode(r)?),
            kdf_id: HpkeKdfId(u16::decode(r)?),
            aead_id: HpkeAeadId(u16::decode(r)?),
            public_key: get_opaque(r, Prefix::U16, 1)?,
        })
    }
}

/// `HpkeConfig HpkeConfigList<10..2^16-1>`: non-empty, in decreasing order of preference,
/// with distinct config IDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HpkeConfigList(pub Vec<HpkeConfig>);

impl Encode for HpkeConfigList {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        crate::codec::put_items(out, Prefix::U16, &self.0)
    }
}
impl Decode for HpkeConfigList {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        let len = crate::codec::get_len(r, Prefix::U16)?;
        if len < 10 {
            return Err(CodecError::UnexpectedValue);
        }
        let mut sub = Cursor::new(take(r, len)?);
        let configs: Vec<HpkeConfig> = crate::codec::get_rest(&mut sub)?;
        let mut ids: Vec<u8> = configs.iter().map(|c| c.id.0).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(CodecError::UnexpectedValue);
        }
        Ok(HpkeConfigList(configs))
    }
}

/// `struct HpkeCiphertext`: an HPKE-sealed message and the config it was sealed to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HpkeCiphertext {
    /// Which of the recipient's configs was used.
    pub config_id: HpkeConfigId,
    /// `opaque enc<1..2^16-1>`: the encapsulated key.
    pub enc: Vec<u8>,
    /// `opaque payload<1..2^32-1>`: the AEAD ciphertext.
    pub payload: Vec<u8>,
}

impl Encode for HpkeCiphertext {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.config_id.0.encode(out)?;
        put_opaque(out, Prefix::U16, &self.enc)?;
        put_opaque(out, Prefix::U32, &self.payload)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(1 + 2 + self.enc.len() + 4 + self.payload.len())
    }
}
impl Decode for HpkeCiphertext {
    fn decode(r: &mut Cursor<&[u8]>) -> Result<Self, CodecError> {
        Ok(HpkeCiphertext {
            config_id: HpkeConfigId(u8::decode(r)?),
            enc: get_opaque(r, Prefix::U16, 1)?,
            payload: get_opaque(r, Prefix::U32, 1)?,
        })
    }
}
