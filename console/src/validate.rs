//! Checks of the simple form fields: email addresses, names, roles, and the public parts
//! of a collector credential (its `HpkeConfig` and its token's hash). Each check records a
//! message for its field in a [`FieldErrors`] and returns the cleaned value.

use crate::error::FieldErrors;
use edap_core::api::aggregator_api::types::HpkeConfigJson;
use edap_core::messages::{from_base64url, HpkeConfig};
use prio::codec::Decode;

/// Most characters of a name (account, aggregator, credential, task, API token).
pub const MAX_NAME_CHARS: usize = 80;

/// A lower-cased, trimmed email address, or a message for `field`.
pub fn email(errors: &mut FieldErrors, field: &str, input: &str) -> String {
    let e = input.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !domain.contains('@')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if e.is_empty() {
        errors.add(field, "enter your email address");
    } else if !ok {
        errors.add(field, "this is not an email address (name@example.com)");
    }
    e
}

/// A trimmed name of 1 to [`MAX_NAME_CHARS`] characters without control characters.
pub fn name(errors: &mut FieldErrors, field: &str, input: &str) -> String {
    let n = input.trim().to_string();
    if n.is_empty() {
        errors.add(field, "enter a name");
    } else if n.chars().count() > MAX_NAME_CHARS {
        errors.add(field, format!("use at most {MAX_NAME_CHARS} characters"));
    } else if n.chars().any(char::is_control) {
        errors.add(field, "the name must not contain control characters");
    }
    n
}

/// A membership role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages members, invitations and API tokens, and everything a member does.
    Owner,
    /// Pairs aggregators, creates credentials and tasks, collects.
    Member,
}

impl Role {
    /// The database's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }

    /// From the database's spelling.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// The public parts of a collector credential, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialPublic {
    /// The HPKE configuration, base64url of its DAP encoding (what the browser's
    /// `CollectorKeyPair.publicConfig` gives).
    pub hpke_config: String,
    /// The same as the aggregator API's JSON object.
    pub hpke_json: HpkeConfigJson,
    /// SHA-256 of the collector auth token, base64url.
    pub token_hash: String,
}

/// Checks a credential's public HPKE configuration and token hash.
pub fn credential(
    errors: &mut FieldErrors,
    hpke_config: &str,
    token_hash: &str,
) -> Option<CredentialPublic> {
    let config = from_base64url(hpke_config.trim())
        .and_then(|b| HpkeConfig::get_decoded(&b).ok())
        .filter(|c| !c.public_key.is_empty());
    let supported = config.as_ref().is_some_and(|c| {
        c.kem_id == edap_core::messages::HpkeKemId::X25519_HKDF_SHA256 && c.public_key.len() == 32
    });
    match &config {
        None => errors.add(
            "hpke_config",
            "not an HPKE configuration (base64url of a DAP HpkeConfig)",
        ),
        Some(_) if !supported => errors.add(
            "hpke_config",
            "only X25519 collector keys are supported (DHKEM(X25519, HKDF-SHA256))",
        ),
        _ => {}
    }
    let hash_ok = from_base64url(token_hash.trim()).is_some_and(|b| b.len() == 32);
    if !hash_ok {
        errors.add(
            "token_hash",
            "the collector token's hash must be 32 bytes (SHA-256) of unpadded base64url",
        );
    }
    let config = config.filter(|_| supported && hash_ok)?;
    Some(CredentialPublic {
        hpke_config: hpke_config.trim().to_string(),
        hpke_json: HpkeConfigJson::from(&config),
        token_hash: token_hash.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use edap_core::hpke::HpkeKeypair;
    use edap_core::messages::{base64url, HpkeConfigId, HpkeKemId};
    use prio::codec::Encode;

    #[test]
    fn emails() {
        let check = |s: &str| {
            let mut f = FieldErrors::new();
            let v = email(&mut f, "email", s);
            (v, f.get("email").map(str::to_string))
        };
        assert_eq!(check(" Ann@Example.COM "), ("ann@example.com".into(), None));
        assert!(check("").1.unwrap().contains("enter"));
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@.example.com",
            "ann@example..com",
            "ann@x@y.com",
        ] {
            assert!(check(bad).1.is_some(), "{bad}");
        }
        assert!(check(&format!("{}@example.com", "a".repeat(65)))
            .1
            .is_some());
    }

    #[test]
    fn names() {
        let check = |s: &str| {
            let mut f = FieldErrors::new();
            let v = name(&mut f, "name", s);
            (v, f.get("name").map(str::to_string))
        };
        assert_eq!(check("  Web vitals "), ("Web vitals".into(), None));
        assert!(check("   ").1.is_some());
        assert!(check(&"n".repeat(81)).1.is_some());
        assert_eq!(check(&"ñ".repeat(80)).1, None);
        assert!(check("a\u{7}b").1.is_some());
    }

    #[test]
    fn credentials() {
        let key = HpkeKeypair::generate(HpkeConfigId(3), HpkeKemId::X25519_HKDF_SHA256).unwrap();
        let b64 = base64url(&key.config.get_encoded().unwrap());
        let hash = base64url(&[9u8; 32]);
        let mut f = FieldErrors::new();
        let c = credential(&mut f, &b64, &hash).unwrap();
        assert!(f.is_empty());
        assert_eq!(c.hpke_json.id, 3);
        assert_eq!(c.hpke_json.public_key, base64url(&key.config.public_key));

        let mut f = FieldErrors::new();
        assert!(credential(&mut f, "AAAA", "short").is_none());
        assert!(f.get("hpke_config").is_some());
        assert!(f.get("token_hash").is_some());

        let p256 = HpkeKeypair::generate(HpkeConfigId(1), HpkeKemId::P256_HKDF_SHA256).unwrap();
        let mut f = FieldErrors::new();
        let b = base64url(&p256.config.get_encoded().unwrap());
        assert!(credential(&mut f, &b, &hash).is_none());
        assert!(f.get("hpke_config").unwrap().contains("X25519"));
    }

    #[test]
    fn roles() {
        assert_eq!(Role::parse("owner"), Some(Role::Owner));
        assert_eq!(Role::parse(Role::Member.as_str()), Some(Role::Member));
        assert_eq!(Role::parse("admin"), None);
    }
}
