//! Opening for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM in base mode
//! (RFC 9180 sections 4.1, 5.1 and 5.2), written out so that the recipient's public key
//! comes from its stored configuration. The `hpke` crate recomputes it from the private key
//! on every decapsulation, a second X25519 scalar multiplication per report and Aggregator.
//! Cross-checked against the `hpke` crate in the tests below.

use super::HpkeError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

const KEM_ID: u16 = 0x0020;
const KDF_ID: u16 = 0x0001;
const AEAD_ID: u16 = 0x0001;

fn kem_suite() -> [u8; 5] {
    let k = KEM_ID.to_be_bytes();
    [b'K', b'E', b'M', k[0], k[1]]
}

fn hpke_suite() -> [u8; 10] {
    let (k, d, a) = (
        KEM_ID.to_be_bytes(),
        KDF_ID.to_be_bytes(),
        AEAD_ID.to_be_bytes(),
    );
    [b'H', b'P', b'K', b'E', k[0], k[1], d[0], d[1], a[0], a[1]]
}

/// `LabeledExtract(salt, label, ikm)`, returning the PRK as an HKDF instance.
fn labeled_extract(suite: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> Hkdf<Sha256> {
    let labeled: Vec<u8> = [b"HPKE-v1".as_slice(), suite, label, ikm].concat();
    Hkdf::<Sha256>::new(Some(salt), &labeled)
}

/// `LabeledExtract` returning the raw PRK bytes.
fn labeled_extract_prk(suite: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> [u8; 32] {
    let labeled: Vec<u8> = [b"HPKE-v1".as_slice(), suite, label, ikm].concat();
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), &labeled);
    prk.into()
}

/// `LabeledExpand(prk, label, info, L)`.
fn labeled_expand<const L: usize>(
    prk: &Hkdf<Sha256>,
    suite: &[u8],
    label: &[u8],
    info: &[u8],
) -> [u8; L] {
    let len = (L as u16).to_be_bytes();
    let labeled: Vec<u8> = [len.as_slice(), b"HPKE-v1", suite, label, info].concat();
    let mut out = [0u8; L];
    // L is at most 32 here, far below HKDF-SHA256's limit of 255 * 32 bytes.
    prk.expand(&labeled, &mut out).expect("HKDF output length");
    out
}

/// The X25519 shared value `DH(skR, pkE)`, or an error when `enc` is not a public key or
/// the result is all zeros (RFC 9180 section 7.1.4).
pub fn dh(sk_r: &[u8], enc: &[u8]) -> Result<[u8; 32], HpkeError> {
    let sk: [u8; 32] = sk_r.try_into().map_err(|_| HpkeError::MalformedKey)?;
    let pk_e: [u8; 32] = enc.try_into().map_err(|_| HpkeError::Decrypt)?;
    let shared = StaticSecret::from(sk).diffie_hellman(&PublicKey::from(pk_e));
    if !shared.was_contributory() {
        return Err(HpkeError::Decrypt);
    }
    Ok(shared.to_bytes())
}

/// `OpenBase(enc, skR, info, aad, ct)` for the suite above; `pk_r` is the serialized
/// public key of `sk_r`, taken from the recipient's HPKE configuration.
pub fn open(
    sk_r: &[u8],
    pk_r: &[u8],
    enc: &[u8],
    info: &[u8],
    aad: &[u8],
    ct: &[u8],
) -> Result<Vec<u8>, HpkeError> {
    open_with_dh(&dh(sk_r, enc)?, pk_r, enc, info, aad, ct)
}

/// `OpenBase` given the shared value `dh = DH(skR, enc)`, computed elsewhere (e.g. by the
/// platform's native X25519).
pub fn open_with_dh(
    dh: &[u8; 32],
    pk_r: &[u8],
    enc: &[u8],
    info: &[u8],
    aad: &[u8],
    ct: &[u8],
) -> Result<Vec<u8>, HpkeError> {
    if dh.iter().all(|b| *b == 0) {
        return Err(HpkeError::Decrypt);
    }
    let pk_r: &[u8; 32] = pk_r.try_into().map_err(|_| HpkeError::MalformedKey)?;
    let pk_e: &[u8; 32] = enc.try_into().map_err(|_| HpkeError::Decrypt)?;

    // Decap (section 4.1): ExtractAndExpand(dh, enc || pkR).
    let kem_context: Vec<u8> = [pk_e.as_slice(), pk_r.as_slice()].concat();
    let eae_prk = labeled_extract(&kem_suite(), b"", b"eae_prk", dh);
    let shared_secret: [u8; 32] =
        labeled_expand(&eae_prk, &kem_suite(), b"shared_secret", &kem_context);

    // KeySchedule (section 5.1), mode_base, empty PSK.
    let suite = hpke_suite();
    let psk_id_hash = labeled_extract_prk(&suite, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract_prk(&suite, b"", b"info_hash", info);
    let context: Vec<u8> = [[0u8].as_slice(), &psk_id_hash, &info_hash].concat();
    let secret = labeled_extract(&suite, &shared_secret, b"secret", b"");
    let key: [u8; 16] = labeled_expand(&secret, &suite, b"key", &context);
    let base_nonce: [u8; 12] = labeled_expand(&secret, &suite, b"base_nonce", &context);

    // Single-shot open uses sequence number 0: the nonce is base_nonce itself.
    let cipher = Aes128Gcm::new_from_slice(&key).map_err(|_| HpkeError::Decrypt)?;
    cipher
        .decrypt(&base_nonce.into(), Payload { msg: ct, aad })
        .map_err(|_| HpkeError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::super::{seal, HpkeInfo, HpkeKeypair};
    use super::*;
    use crate::messages::{HpkeConfigId, HpkeKemId, Role};

    #[test]
    fn opens_what_the_hpke_crate_seals() {
        for i in 0..50u8 {
            let kp = HpkeKeypair::generate(HpkeConfigId(i), HpkeKemId::X25519_HKDF_SHA256).unwrap();
            let info = HpkeInfo::InputShare(Role::Helper).bytes();
            let msg: Vec<u8> = (0..(i as usize * 7)).map(|j| j as u8).collect();
            let aad = [i; 9];
            let ct = seal(&kp.config, HpkeInfo::InputShare(Role::Helper), &aad, &msg).unwrap();
            let pt = open(
                kp.private_key(),
                &kp.config.public_key,
                &ct.enc,
                &info,
                &aad,
                &ct.payload,
            )
            .unwrap();
            assert_eq!(pt, msg);
            // Wrong AAD, info, key or ciphertext: refused.
            assert!(open(
                kp.private_key(),
                &kp.config.public_key,
                &ct.enc,
                &info,
                b"x",
                &ct.payload
            )
            .is_err());
            assert!(open(
                kp.private_key(),
                &kp.config.public_key,
                &ct.enc,
                b"other",
                &aad,
                &ct.payload
            )
            .is_err());
            let mut bad = ct.payload.clone();
            bad[0] ^= 1;
            assert!(open(
                kp.private_key(),
                &kp.config.public_key,
                &ct.enc,
                &info,
                &aad,
                &bad
            )
            .is_err());
            assert!(open(
                kp.private_key(),
                &kp.config.public_key,
                &[0u8; 32],
                &info,
                &aad,
                &ct.payload
            )
            .is_err());
            assert!(open(
                kp.private_key(),
                &kp.config.public_key,
                &ct.enc[..31],
                &info,
                &aad,
                &ct.payload
            )
            .is_err());
            // The split path (shared value computed separately) gives the same result.
            let shared = dh(kp.private_key(), &ct.enc).unwrap();
            let pk = &kp.config.public_key;
            assert_eq!(
                open_with_dh(&shared, pk, &ct.enc, &info, &aad, &ct.payload).unwrap(),
                msg
            );
            assert!(open_with_dh(&[0; 32], pk, &ct.enc, &info, &aad, &ct.payload).is_err());
        }
    }
}
