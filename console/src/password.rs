//! Password hashes: PBKDF2-HMAC-SHA256 with a per-user random salt at 100,000 iterations,
//! the most the Workers runtime's WebCrypto computes (it refuses more). The derivation
//! itself is behind [`Kdf`]: WebCrypto in the worker, a reference implementation in the
//! native tests.
//!
//! Stored form: `pbkdf2-sha256$<iterations>$<salt, base64url>$<32-byte hash, base64url>`.

use crate::error::{ConsoleError, FieldErrors};
use edap_core::messages::{base64url, from_base64url};
use subtle::ConstantTimeEq;

/// Iterations of new hashes: the Workers maximum.
pub const ITERATIONS: u32 = 100_000;
/// Salt bytes.
pub const SALT_LEN: usize = 16;
/// Fewest characters of a password.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most bytes of a password (PBKDF2 hashes longer ones first; a bound keeps requests small).
pub const MAX_PASSWORD_BYTES: usize = 1024;

const SCHEME: &str = "pbkdf2-sha256";

/// PBKDF2-HMAC-SHA256 with a 32-byte output.
#[allow(async_fn_in_trait)] // used within this crate, on one thread
pub trait Kdf {
    /// Derives 32 bytes from `password` and `salt`.
    async fn pbkdf2_sha256(
        &self,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<[u8; 32], ConsoleError>;
}

/// A parsed password hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordHash {
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// The per-user salt.
    pub salt: Vec<u8>,
    /// The derived key.
    pub hash: [u8; 32],
}

impl PasswordHash {
    /// A hash of `password` with a new random salt.
    pub async fn create(kdf: &impl Kdf, password: &str) -> Result<PasswordHash, ConsoleError> {
        let salt = edap_core::rand::array::<SALT_LEN>().to_vec();
        let hash = kdf
            .pbkdf2_sha256(password.as_bytes(), &salt, ITERATIONS)
            .await?;
        Ok(PasswordHash {
            iterations: ITERATIONS,
            salt,
            hash,
        })
    }

    /// Whether `password` matches (compared in constant time).
    pub async fn verify(&self, kdf: &impl Kdf, password: &str) -> Result<bool, ConsoleError> {
        let h = kdf
            .pbkdf2_sha256(password.as_bytes(), &self.salt, self.iterations)
            .await?;
        Ok(bool::from(h.ct_eq(&self.hash)))
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        format!(
            "{SCHEME}${}${}${}",
            self.iterations,
            base64url(&self.salt),
            base64url(&self.hash)
        )
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<PasswordHash> {
        let mut parts = s.split('$');
        if parts.next()? != SCHEME {
            return None;
        }
        let iterations: u32 = parts.next()?.parse().ok().filter(|i| *i > 0)?;
        let salt = from_base64url(parts.next()?).filter(|s| !s.is_empty())?;
        let hash: [u8; 32] = from_base64url(parts.next()?)?.try_into().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }
}

/// Runs one derivation on a fixed salt, so that a sign-in with an unknown email takes as
/// long as one with a wrong password (no account enumeration by timing).
pub async fn burn_time(kdf: &impl Kdf, password: &str) -> Result<(), ConsoleError> {
    kdf.pbkdf2_sha256(password.as_bytes(), &[0u8; SALT_LEN], ITERATIONS)
        .await
        .map(|_| ())
}

/// Checks a new password: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// [`MAX_PASSWORD_BYTES`] bytes, not only spaces, not the email address.
pub fn check_new_password(errors: &mut FieldErrors, field: &str, password: &str, email: &str) {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        errors.add(
            field,
            format!("use at least {MIN_PASSWORD_CHARS} characters"),
        );
    } else if password.len() > MAX_PASSWORD_BYTES {
        errors.add(field, format!("use at most {MAX_PASSWORD_BYTES} bytes"));
    } else if password.trim().is_empty() {
        errors.add(field, "a password of only spaces is not allowed");
    } else if !email.is_empty() && password.trim().eq_ignore_ascii_case(email.trim()) {
        errors.add(field, "the password must not be your email address");
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

    /// PBKDF2-HMAC-SHA256 (RFC 8018, section 5.2) for a 32-byte output: one block.
    pub struct RustKdf;

    impl Kdf for RustKdf {
        async fn pbkdf2_sha256(
            &self,
            password: &[u8],
            salt: &[u8],
            iterations: u32,
        ) -> Result<[u8; 32], ConsoleError> {
            Ok(pbkdf2_block(password, salt, iterations, 1))
        }
    }

    fn pbkdf2_block(password: &[u8], salt: &[u8], iterations: u32, block: u32) -> [u8; 32] {
        let mac = Hmac::<Sha256>::new_from_slice(password).expect("HMAC takes any key length");
        let mut m = mac.clone();
        m.update(salt);
        m.update(&block.to_be_bytes());
        let mut u: [u8; 32] = m.finalize().into_bytes().into();
        let mut out = u;
        for _ in 1..iterations {
            let mut m = mac.clone();
            m.update(&u);
            u = m.finalize().into_bytes().into();
            for (o, x) in out.iter_mut().zip(u.iter()) {
                *o ^= x;
            }
        }
        out
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn reference_kdf_matches_rfc7914_vectors() {
        // RFC 7914, section 11: PBKDF2-HMAC-SHA256 (the first 32 of 64 bytes).
        assert_eq!(
            hex(&pbkdf2_block(b"passwd", b"salt", 1, 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
        assert_eq!(
            hex(&pbkdf2_block(b"Password", b"NaCl", 80000, 1)),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
        );
    }

    #[test]
    fn hashes_round_trip_and_verify() {
        let h =
            futures::executor::block_on(PasswordHash::create(&RustKdf, "correct horse")).unwrap();
        assert_eq!(h.iterations, ITERATIONS);
        assert_eq!(h.salt.len(), SALT_LEN);
        let stored = h.encode();
        assert!(stored.starts_with("pbkdf2-sha256$100000$"), "{stored}");
        let parsed = PasswordHash::parse(&stored).unwrap();
        assert_eq!(parsed, h);
        assert!(futures::executor::block_on(parsed.verify(&RustKdf, "correct horse")).unwrap());
        assert!(!futures::executor::block_on(parsed.verify(&RustKdf, "correct horsE")).unwrap());
        // Two hashes of one password differ (per-user salt).
        let h2 =
            futures::executor::block_on(PasswordHash::create(&RustKdf, "correct horse")).unwrap();
        assert_ne!(h2.encode(), stored);
    }

    #[test]
    fn malformed_hashes_do_not_parse() {
        for bad in [
            "",
            "pbkdf2-sha1$1$c2FsdA$AAAA",
            "pbkdf2-sha256$0$c2FsdA$ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",
            "pbkdf2-sha256$x$c2FsdA$ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",
            "pbkdf2-sha256$10$$ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",
            "pbkdf2-sha256$10$c2FsdA$c2hvcnQ",
            "pbkdf2-sha256$10$c2FsdA$ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0$extra",
        ] {
            assert!(PasswordHash::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn new_passwords_are_checked() {
        let check = |pw: &str| {
            let mut f = FieldErrors::new();
            check_new_password(&mut f, "password", pw, "ann@example.com");
            f.get("password").map(str::to_string)
        };
        assert!(check("short").unwrap().contains("at least 10"));
        assert!(check("          ").unwrap().contains("only spaces"));
        assert!(check("Ann@Example.com").unwrap().contains("email"));
        assert!(check(&"x".repeat(1025)).unwrap().contains("at most"));
        assert_eq!(check("a good long passphrase"), None);
        // Characters, not bytes: ten non-ASCII characters are enough.
        assert_eq!(check("ääääääääää"), None);
    }
}
