//! Random identifiers and bearer secrets, and how secrets are kept: only as SHA-256 hashes.
//!
//! * Resource IDs: a kind prefix and 16 random bytes (`tsk_...`), safe in URLs.
//! * Session tokens, CSRF tokens, invitation tokens: 32 random bytes, base64url.
//! * API tokens: `edap_` and 32 random bytes; shown once, stored as the hash. The first
//!   characters after the prefix are kept (and shown) to tell tokens apart.

use edap_core::messages::base64url;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix of every API token.
pub const API_TOKEN_PREFIX: &str = "edap_";

/// How many characters of an API token (after its prefix) are kept in clear to tell tokens
/// apart in a list (6 base64url characters: 36 of its 256 bits).
pub const API_TOKEN_HINT_CHARS: usize = 6;

/// A new resource ID of a kind (`usr`, `acc`, `agg`, `crd`, `tsk`, `tok`, `inv`).
pub fn new_id(kind: &str) -> String {
    format!("{kind}_{}", base64url(&edap_core::rand::array::<16>()))
}

/// A new 256-bit secret, base64url (43 characters).
pub fn new_secret() -> String {
    base64url(&edap_core::rand::array::<32>())
}

/// A new API token.
pub fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", new_secret())
}

/// The part of an API token shown in lists.
pub fn api_token_hint(token: &str) -> String {
    let body = token.strip_prefix(API_TOKEN_PREFIX).unwrap_or(token);
    let hint: String = body.chars().take(API_TOKEN_HINT_CHARS).collect();
    format!("{API_TOKEN_PREFIX}{hint}…")
}

/// Whether `s` has the form of an API token (so that a session token or anything else sent
/// as `Authorization: Bearer` is not looked up as one).
pub fn looks_like_api_token(s: &str) -> bool {
    s.strip_prefix(API_TOKEN_PREFIX)
        .is_some_and(|b| b.len() == 43 && is_base64url(b))
}

/// Whether every character is of the unpadded base64url alphabet.
pub fn is_base64url(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// SHA-256 of a secret, base64url: what the database keeps instead of the secret.
pub fn hash_secret(secret: &str) -> String {
    base64url(&Sha256::digest(secret.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub fn equal_ct(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Whether `s` has the form of a resource ID of `kind`.
pub fn is_id(s: &str, kind: &str) -> bool {
    s.strip_prefix(kind)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|b| b.len() == 22 && is_base64url(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tokens_have_their_forms() {
        let id = new_id("tsk");
        assert!(is_id(&id, "tsk"), "{id}");
        assert!(!is_id(&id, "acc"));
        assert!(!is_id("tsk_short", "tsk"));
        assert_ne!(new_id("tsk"), new_id("tsk"));
        let t = new_api_token();
        assert!(looks_like_api_token(&t), "{t}");
        assert!(!looks_like_api_token(&new_secret()));
        assert!(!looks_like_api_token(
            "edap_has spaces and is not 43 characters long.."
        ));
        let hint = api_token_hint(&t);
        assert!(t.starts_with(hint.trim_end_matches('…')));
        assert_eq!(
            hint.chars().count(),
            API_TOKEN_PREFIX.len() + API_TOKEN_HINT_CHARS + 1
        );
    }

    #[test]
    fn hashes_are_sha256_base64url() {
        // SHA-256("abc") = ba7816bf...
        assert_eq!(
            hash_secret("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        assert!(equal_ct("same", "same"));
        assert!(!equal_ct("same", "Same"));
        assert!(!equal_ct("same", "same+"));
    }
}
