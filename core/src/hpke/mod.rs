//! HPKE (RFC 9180) as DAP-18 uses it: base mode, single shot, with the spec's info strings.
//! X25519 and P-256 KEMs with HKDF-SHA256 and AES-128-GCM.

use crate::messages::{
    HpkeAeadId, HpkeCiphertext, HpkeConfig, HpkeConfigId, HpkeKdfId, HpkeKemId, Role,
};
use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::{DhP256HkdfSha256, X25519HkdfSha256};
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use std::fmt;

mod receiver;
pub mod rotation;
mod x25519;

pub(crate) use receiver::StoredKeySet;
pub use receiver::{HeldKeypair, HpkeKeyState, HpkeReceiverSet};

/// Why sealing or opening failed. Never carries key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HpkeError {
    /// The ciphertext names a config this party does not hold.
    #[error("unknown HPKE config id {0}")]
    UnknownConfigId(u8),
    /// The algorithm triple is not implemented.
    #[error("unsupported HPKE algorithms (kem {kem:#06x}, kdf {kdf:#06x}, aead {aead:#06x})")]
    Unsupported {
        /// KEM id.
        kem: u16,
        /// KDF id.
        kdf: u16,
        /// AEAD id.
        aead: u16,
    },
    /// A key or encapsulated key had the wrong form.
    #[error("malformed HPKE key")]
    MalformedKey,
    /// Authentication failed or the ciphertext is corrupt.
    #[error("HPKE decryption failed")]
    Decrypt,
    /// Sealing failed.
    #[error("HPKE encryption failed")]
    Encrypt,
}

/// The application info string for an HPKE operation (DAP-18 sections 4.5.2 and 4.7.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HpkeInfo {
    /// `"dap-18 input share" || 0x01 || server_role`
    InputShare(Role),
    /// `"dap-18 aggregate share" || server_role || 0x00`
    AggregateShare(Role),
}

impl HpkeInfo {
    /// The info bytes.
    pub fn bytes(self) -> Vec<u8> {
        match self {
            HpkeInfo::InputShare(server) => {
                let mut v = b"dap-18 input share".to_vec();
                v.push(Role::Client.code());
                v.push(server.code());
                v
            }
            HpkeInfo::AggregateShare(server) => {
                let mut v = b"dap-18 aggregate share".to_vec();
                v.push(server.code());
                v.push(Role::Collector.code());
                v
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Suite {
    X25519,
    P256,
}

fn suite(kem: HpkeKemId, kdf: HpkeKdfId, aead: HpkeAeadId) -> Result<Suite, HpkeError> {
    let unsupported = HpkeError::Unsupported {
        kem: kem.0,
        kdf: kdf.0,
        aead: aead.0,
    };
    if kdf != HpkeKdfId::HKDF_SHA256 || aead != HpkeAeadId::AES_128_GCM {
        return Err(unsupported);
    }
    match kem {
        HpkeKemId::X25519_HKDF_SHA256 => Ok(Suite::X25519),
        HpkeKemId::P256_HKDF_SHA256 => Ok(Suite::P256),
        _ => Err(unsupported),
    }
}

/// Whether this crate can seal to `config`.
pub fn is_supported(config: &HpkeConfig) -> bool {
    is_supported_suite(config.kem_id, config.kdf_id, config.aead_id)
}

/// Whether this crate implements the algorithm triple.
pub fn is_supported_suite(kem: HpkeKemId, kdf: HpkeKdfId, aead: HpkeAeadId) -> bool {
    suite(kem, kdf, aead).is_ok()
}

fn seal_with<K: Kem>(
    pk: &[u8],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), HpkeError> {
    let pk = K::PublicKey::from_bytes(pk).map_err(|_| HpkeError::MalformedKey)?;
    let (enc, ct) = hpke::single_shot_seal::<AesGcm128, HkdfSha256, K>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
    )
    .map_err(|_| HpkeError::Encrypt)?;
    Ok((enc.to_bytes().to_vec(), ct))
}

fn open_with<K: Kem>(
    sk: &[u8],
    enc: &[u8],
    info: &[u8],
    aad: &[u8],
    ct: &[u8],
) -> Result<Vec<u8>, HpkeError> {
    let sk = K::PrivateKey::from_bytes(sk).map_err(|_| HpkeError::MalformedKey)?;
    let enc = K::EncappedKey::from_bytes(enc).map_err(|_| HpkeError::Decrypt)?;
    hpke::single_shot_open::<AesGcm128, HkdfSha256, K>(&OpModeR::Base, &sk, &enc, info, ct, aad)
        .map_err(|_| HpkeError::Decrypt)
}

/// Seals `plaintext` to `config` with the given info and AAD.
pub fn seal(
    config: &HpkeConfig,
    info: HpkeInfo,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<HpkeCiphertext, HpkeError> {
    let info = info.bytes();
    let (enc, payload) = match suite(config.kem_id, config.kdf_id, config.aead_id)? {
        Suite::X25519 => seal_with::<X25519HkdfSha256>(&config.public_key, &info, aad, plaintext)?,
        Suite::P256 => seal_with::<DhP256HkdfSha256>(&config.public_key, &info, aad, plaintext)?,
    };
    Ok(HpkeCiphertext {
        config_id: config.id,
        enc,
        payload,
    })
}

/// An HPKE config with its private key. `Debug` never prints the private key.
/// Deserializing checks that the private key belongs to the config.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawKeypair")]
pub struct HpkeKeypair {
    /// The public configuration.
    #[serde(with = "config_serde")]
    pub config: HpkeConfig,
    /// The private key, serialized as RFC 9180 `SerializePrivateKey`.
    #[serde(with = "crate::serde_b64")]
    private_key: Vec<u8>,
}

/// The serialized form of [`HpkeKeypair`], before the key check.
#[derive(Deserialize)]
struct RawKeypair {
    #[serde(with = "config_serde")]
    config: HpkeConfig,
    #[serde(with = "crate::serde_b64")]
    private_key: Vec<u8>,
}

impl TryFrom<RawKeypair> for HpkeKeypair {
    type Error = HpkeError;
    fn try_from(raw: RawKeypair) -> Result<Self, HpkeError> {
        HpkeKeypair::from_parts(raw.config, raw.private_key)
    }
}

impl fmt::Debug for HpkeKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HpkeKeypair")
            .field("config", &self.config)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl HpkeKeypair {
    /// A fresh key pair for `kem` with HKDF-SHA256 and AES-128-GCM.
    pub fn generate(id: HpkeConfigId, kem: HpkeKemId) -> Result<HpkeKeypair, HpkeError> {
        let (sk, pk) = match suite(kem, HpkeKdfId::HKDF_SHA256, HpkeAeadId::AES_128_GCM)? {
            Suite::X25519 => {
                let (sk, pk) = X25519HkdfSha256::gen_keypair();
                (sk.to_bytes().to_vec(), pk.to_bytes().to_vec())
            }
            Suite::P256 => {
                let (sk, pk) = DhP256HkdfSha256::gen_keypair();
                (sk.to_bytes().to_vec(), pk.to_bytes().to_vec())
            }
        };
        Ok(HpkeKeypair {
            config: HpkeConfig {
                id,
                kem_id: kem,
                kdf_id: HpkeKdfId::HKDF_SHA256,
                aead_id: HpkeAeadId::AES_128_GCM,
                public_key: pk,
            },
            private_key: sk,
        })
    }

    /// Rebuilds a key pair from its parts, checking that the private key matches the config.
    pub fn from_parts(config: HpkeConfig, private_key: Vec<u8>) -> Result<HpkeKeypair, HpkeError> {
        let pk = match suite(config.kem_id, config.kdf_id, config.aead_id)? {
            Suite::X25519 => {
                let sk = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&private_key)
                    .map_err(|_| HpkeError::MalformedKey)?;
                X25519HkdfSha256::sk_to_pk(&sk).to_bytes().to_vec()
            }
            Suite::P256 => {
                let sk = <DhP256HkdfSha256 as Kem>::PrivateKey::from_bytes(&private_key)
                    .map_err(|_| HpkeError::MalformedKey)?;
                DhP256HkdfSha256::sk_to_pk(&sk).to_bytes().to_vec()
            }
        };
        if pk != config.public_key {
            return Err(HpkeError::MalformedKey);
        }
        Ok(HpkeKeypair {
            config,
            private_key,
        })
    }

    /// The private key bytes (for writing a key file; handle with care).
    pub fn private_key(&self) -> &[u8] {
        &self.private_key
    }

    /// The raw X25519 private key, for key pairs of the X25519 KEM.
    pub fn x25519_private_key(&self) -> Option<[u8; 32]> {
        match suite(self.config.kem_id, self.config.kdf_id, self.config.aead_id) {
            Ok(Suite::X25519) => self.private_key.as_slice().try_into().ok(),
            _ => None,
        }
    }

    /// Opens a ciphertext sealed to this key pair.
    pub fn open(
        &self,
        ct: &HpkeCiphertext,
        info: HpkeInfo,
        aad: &[u8],
    ) -> Result<Vec<u8>, HpkeError> {
        self.open_with_dh(ct, info, aad, None)
    }

    /// Opens a ciphertext; for an X25519 key pair `dh` may carry the shared value
    /// `DH(sk, enc)` computed beforehand (see [`x25519_dh`]).
    pub fn open_with_dh(
        &self,
        ct: &HpkeCiphertext,
        info: HpkeInfo,
        aad: &[u8],
        dh: Option<&[u8; 32]>,
    ) -> Result<Vec<u8>, HpkeError> {
        if ct.config_id != self.config.id {
            return Err(HpkeError::UnknownConfigId(ct.config_id.0));
        }
        let info = info.bytes();
        match suite(self.config.kem_id, self.config.kdf_id, self.config.aead_id)? {
            Suite::X25519 => match dh {
                Some(dh) => x25519::open_with_dh(
                    dh,
                    &self.config.public_key,
                    &ct.enc,
                    &info,
                    aad,
                    &ct.payload,
                ),
                None => x25519::open(
                    &self.private_key,
                    &self.config.public_key,
                    &ct.enc,
                    &info,
                    aad,
                    &ct.payload,
                ),
            },
            Suite::P256 => {
                open_with::<DhP256HkdfSha256>(&self.private_key, &ct.enc, &info, aad, &ct.payload)
            }
        }
    }
}

/// `X25519(private_key, peer)`, or `None` if the result is all zeros (a low-order peer).
pub fn x25519_dh(private_key: &[u8; 32], peer: &[u8; 32]) -> Option<[u8; 32]> {
    x25519::dh(private_key, peer).ok()
}

/// Serde for `HpkeConfig` as the base64url of its DAP encoding.
pub mod config_serde {
    use crate::messages::HpkeConfig;
    use prio::codec::{Decode, Encode};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as base64url(encoded HpkeConfig).
    pub fn serialize<S: Serializer>(c: &HpkeConfig, s: S) -> Result<S::Ok, S::Error> {
        let bytes = c.get_encoded().map_err(serde::ser::Error::custom)?;
        s.serialize_str(&crate::messages::base64url(&bytes))
    }

    /// Parses base64url(encoded HpkeConfig).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HpkeConfig, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = crate::messages::from_base64url(&s)
            .ok_or_else(|| serde::de::Error::custom("invalid base64url"))?;
        HpkeConfig::get_decoded(&bytes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_both_kems() {
        for kem in [HpkeKemId::X25519_HKDF_SHA256, HpkeKemId::P256_HKDF_SHA256] {
            let kp = HpkeKeypair::generate(HpkeConfigId(7), kem).unwrap();
            let info = HpkeInfo::InputShare(Role::Helper);
            let ct = seal(&kp.config, info, b"aad", b"hello").unwrap();
            assert_eq!(ct.config_id, HpkeConfigId(7));
            assert_eq!(kp.open(&ct, info, b"aad").unwrap(), b"hello");
            // Wrong AAD, wrong info (role) and a flipped bit all fail.
            assert_eq!(kp.open(&ct, info, b"aae"), Err(HpkeError::Decrypt));
            assert_eq!(
                kp.open(&ct, HpkeInfo::InputShare(Role::Leader), b"aad"),
                Err(HpkeError::Decrypt)
            );
            let mut bad = ct.clone();
            bad.payload[0] ^= 1;
            assert_eq!(kp.open(&bad, info, b"aad"), Err(HpkeError::Decrypt));
            // Round trip through parts.
            let again =
                HpkeKeypair::from_parts(kp.config.clone(), kp.private_key().to_vec()).unwrap();
            assert_eq!(again.open(&ct, info, b"aad").unwrap(), b"hello");
        }
    }

    #[test]
    fn info_strings_match_spec() {
        assert_eq!(
            HpkeInfo::InputShare(Role::Leader).bytes(),
            [b"dap-18 input share".as_slice(), &[1, 2]].concat()
        );
        assert_eq!(
            HpkeInfo::AggregateShare(Role::Helper).bytes(),
            [b"dap-18 aggregate share".as_slice(), &[3, 0]].concat()
        );
    }
}
