//! Peer tokens at rest: the aggregator API token of a subscriber's own aggregator is stored
//! AES-256-GCM encrypted under a key from a `wrangler secret` (`PEER_TOKEN_KEY`, 32 bytes
//! of base64url), with the aggregator's ID as associated data, so a sealed token copied to
//! another row does not open.
//!
//! Sealed form: `v1.<base64url(12-byte nonce || ciphertext || tag)>`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use edap_core::messages::{base64url, from_base64url};

const VERSION: &str = "v1.";
const NONCE_LEN: usize = 12;

/// Why a key or a sealed token is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The secret is missing or not 32 bytes of base64url.
    #[error("PEER_TOKEN_KEY must be 32 random bytes in unpadded base64url (e.g. `head -c 32 /dev/urandom | basenc --base64url | tr -d =`)")]
    BadKey,
    /// The sealed value is malformed, or does not open with this key and ID.
    #[error("a stored aggregator token does not decrypt (was PEER_TOKEN_KEY changed?)")]
    Open,
}

/// The key that seals peer tokens.
pub struct SealingKey(Aes256Gcm);

impl SealingKey {
    /// The key from its secret (unpadded base64url of 32 bytes).
    pub fn from_secret(secret: &str) -> Result<SealingKey, SealError> {
        let bytes = from_base64url(secret.trim()).ok_or(SealError::BadKey)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| SealError::BadKey)?;
        Ok(SealingKey(cipher))
    }

    /// Seals `plaintext`, bound to `context` (the aggregator's ID).
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, SealError> {
        let nonce = edap_core::rand::array::<NONCE_LEN>();
        let ct = self
            .0
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Open)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{VERSION}{}", base64url(&out)))
    }

    /// Opens a sealed value made for `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, SealError> {
        let bytes = sealed
            .strip_prefix(VERSION)
            .and_then(from_base64url)
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or(SealError::Open)?;
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Open)?;
        let pt = self
            .0
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Open)?;
        String::from_utf8(pt).map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealingKey {
        SealingKey::from_secret(&base64url(&[7u8; 32])).unwrap()
    }

    #[test]
    fn seals_and_opens_bound_to_context() {
        let k = key();
        let s = k.seal("peer-api-token", "agg_1").unwrap();
        assert!(s.starts_with("v1."));
        assert!(!s.contains("peer-api-token"));
        assert_eq!(k.open(&s, "agg_1").unwrap(), "peer-api-token");
        assert_eq!(k.open(&s, "agg_2"), Err(SealError::Open));
        // Fresh nonces: the same token seals differently each time.
        assert_ne!(k.seal("peer-api-token", "agg_1").unwrap(), s);
        let other = SealingKey::from_secret(&base64url(&[8u8; 32])).unwrap();
        assert_eq!(other.open(&s, "agg_1"), Err(SealError::Open));
        // A flipped bit is detected.
        let mut raw = from_base64url(&s[3..]).unwrap();
        raw[20] ^= 1;
        let tampered = format!("v1.{}", base64url(&raw));
        assert_eq!(k.open(&tampered, "agg_1"), Err(SealError::Open));
        for bad in ["", "v1.", "v2.AAAA", "v1.!!!"] {
            assert_eq!(k.open(bad, "agg_1"), Err(SealError::Open), "{bad}");
        }
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(SealingKey::from_secret("").is_err());
        assert!(SealingKey::from_secret(&base64url(&[1u8; 16])).is_err());
        assert!(SealingKey::from_secret("not base64url!").is_err());
        assert!(SealingKey::from_secret(&format!(" {} ", base64url(&[1u8; 32]))).is_ok());
    }
}
