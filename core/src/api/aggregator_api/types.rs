//! The JSON forms the aggregator API shares with Janus's (`aggregator_api/src/models.rs`
//! and the types it uses): VDAF instances, batch modes, roles, HPKE configs and algorithm
//! names, authentication tokens and token hashes. Enums are externally tagged with Janus's
//! variant names, so `"Prio3Count"`, `{"Prio3Sum": {"max_measurement": 255}}`,
//! `{"Other": 7}` for an unnamed HPKE algorithm.

use crate::messages::{
    from_base64url, BatchMode, HpkeAeadId, HpkeConfig, HpkeConfigId, HpkeKdfId, HpkeKemId,
    VdafConfig,
};
use crate::task::{AuthHeader, Secret, TokenHash};
use serde::{Deserialize, Serialize};

/// A VDAF and its parameters (Janus's `VdafInstance`, plus `Prio3MultihotCountVec`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::enum_variant_names)] // the names are Janus's JSON tags
pub enum VdafInstance {
    /// Prio3Count.
    Prio3Count,
    /// Prio3Sum.
    Prio3Sum {
        /// Largest summand.
        max_measurement: u64,
    },
    /// Prio3SumVec.
    Prio3SumVec {
        /// Largest element.
        max_measurement: u64,
        /// Vector length.
        length: u32,
        /// Proof chunk length.
        chunk_length: u32,
        /// `NoDifferentialPrivacy` or `PureDpDiscreteLaplace` ([`DpStrategy`]).
        #[serde(default)]
        dp_strategy: DpStrategy,
    },
    /// Prio3Histogram.
    Prio3Histogram {
        /// Number of buckets.
        length: u32,
        /// Proof chunk length.
        chunk_length: u32,
        /// `NoDifferentialPrivacy` or `PureDpDiscreteLaplace` ([`DpStrategy`]).
        #[serde(default)]
        dp_strategy: DpStrategy,
    },
    /// Prio3MultihotCountVec (not in Janus).
    Prio3MultihotCountVec {
        /// Vector length.
        length: u32,
        /// Proof chunk length.
        chunk_length: u32,
        /// Largest number of set entries.
        max_weight: u64,
        /// Only `NoDifferentialPrivacy` (prio has no noise for it; accepted, not echoed).
        #[serde(default, skip_serializing)]
        dp_strategy: DpStrategy,
    },
}

impl From<&VdafConfig> for VdafInstance {
    fn from(v: &VdafConfig) -> VdafInstance {
        match *v {
            VdafConfig::Prio3Count => VdafInstance::Prio3Count,
            VdafConfig::Prio3Sum { max_measurement } => VdafInstance::Prio3Sum { max_measurement },
            VdafConfig::Prio3SumVec {
                length,
                max_measurement,
                chunk_length,
            } => VdafInstance::Prio3SumVec {
                max_measurement,
                length,
                chunk_length,
                dp_strategy: DpStrategy::default(),
            },
            VdafConfig::Prio3Histogram {
                length,
                chunk_length,
            } => VdafInstance::Prio3Histogram {
                length,
                chunk_length,
                dp_strategy: DpStrategy::default(),
            },
            VdafConfig::Prio3MultihotCountVec {
                length,
                chunk_length,
                max_weight,
            } => VdafInstance::Prio3MultihotCountVec {
                length,
                chunk_length,
                max_weight,
                dp_strategy: DpStrategy::default(),
            },
        }
    }
}

impl From<&VdafInstance> for VdafConfig {
    fn from(v: &VdafInstance) -> VdafConfig {
        match *v {
            VdafInstance::Prio3Count => VdafConfig::Prio3Count,
            VdafInstance::Prio3Sum { max_measurement } => VdafConfig::Prio3Sum { max_measurement },
            VdafInstance::Prio3SumVec {
                max_measurement,
                length,
                chunk_length,
                ..
            } => VdafConfig::Prio3SumVec {
                length,
                max_measurement,
                chunk_length,
            },
            VdafInstance::Prio3Histogram {
                length,
                chunk_length,
                ..
            } => VdafConfig::Prio3Histogram {
                length,
                chunk_length,
            },
            VdafInstance::Prio3MultihotCountVec {
                length,
                chunk_length,
                max_weight,
                ..
            } => VdafConfig::Prio3MultihotCountVec {
                length,
                chunk_length,
                max_weight,
            },
        }
    }
}

pub use super::dp_json::DpStrategy;

impl VdafInstance {
    /// The differential privacy strategy it asks for.
    pub fn dp(&self) -> crate::dp::DpStrategy {
        match self {
            VdafInstance::Prio3SumVec { dp_strategy, .. }
            | VdafInstance::Prio3Histogram { dp_strategy, .. }
            | VdafInstance::Prio3MultihotCountVec { dp_strategy, .. } => dp_strategy.0,
            _ => crate::dp::DpStrategy::None,
        }
    }

    /// The same instance with `dp` (for Histogram and SumVec, which show it).
    pub fn with_dp(mut self, dp: crate::dp::DpStrategy) -> VdafInstance {
        match &mut self {
            VdafInstance::Prio3SumVec { dp_strategy, .. }
            | VdafInstance::Prio3Histogram { dp_strategy, .. } => dp_strategy.0 = dp,
            _ => {}
        }
        self
    }
}

/// Janus's `BatchMode`: `"TimeInterval"` or `{"LeaderSelected": {"batch_time_window_size":
/// null}}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchModeJson {
    /// Batches are time intervals chosen by the Collector.
    TimeInterval,
    /// The Leader forms batches.
    LeaderSelected {
        /// Janus's time-bucketed batches (in time-precision units): not supported, must be
        /// `null`.
        #[serde(default)]
        batch_time_window_size: Option<u64>,
    },
}

impl From<BatchMode> for BatchModeJson {
    fn from(m: BatchMode) -> BatchModeJson {
        match m {
            BatchMode::TimeInterval => BatchModeJson::TimeInterval,
            BatchMode::LeaderSelected => BatchModeJson::LeaderSelected {
                batch_time_window_size: None,
            },
        }
    }
}

/// A DAP role by Janus's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleJson {
    /// The Collector (not a valid task role).
    Collector,
    /// A Client (not a valid task role).
    Client,
    /// The Leader.
    Leader,
    /// The Helper.
    Helper,
}

macro_rules! algorithm_names {
    ($(#[$doc:meta])* $name:ident, $id:ident, { $($(#[$vdoc:meta])* $variant:ident = $code:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// Any other codepoint.
            Other(u16),
        }

        impl From<$id> for $name {
            fn from(id: $id) -> $name {
                match id.0 {
                    $($code => $name::$variant,)*
                    other => $name::Other(other),
                }
            }
        }

        impl From<$name> for $id {
            fn from(n: $name) -> $id {
                $id(match n {
                    $($name::$variant => $code,)*
                    $name::Other(code) => code,
                })
            }
        }
    };
}

algorithm_names!(
    /// HPKE KEM names (Janus's `HpkeKemId`).
    HpkeKemJson, HpkeKemId, {
        /// DHKEM(P-256, HKDF-SHA256)
        P256HkdfSha256 = 0x0010,
        /// DHKEM(P-384, HKDF-SHA384)
        P384HkdfSha384 = 0x0011,
        /// DHKEM(P-521, HKDF-SHA512)
        P521HkdfSha512 = 0x0012,
        /// DHKEM(X25519, HKDF-SHA256)
        X25519HkdfSha256 = 0x0020,
        /// DHKEM(X448, HKDF-SHA512)
        X448HkdfSha512 = 0x0021,
    }
);
algorithm_names!(
    /// HPKE KDF names (Janus's `HpkeKdfId`).
    HpkeKdfJson, HpkeKdfId, {
        /// HKDF-SHA256
        HkdfSha256 = 0x0001,
        /// HKDF-SHA384
        HkdfSha384 = 0x0002,
        /// HKDF-SHA512
        HkdfSha512 = 0x0003,
    }
);
algorithm_names!(
    /// HPKE AEAD names (Janus's `HpkeAeadId`).
    HpkeAeadJson, HpkeAeadId, {
        /// AES-128-GCM
        Aes128Gcm = 0x0001,
        /// AES-256-GCM
        Aes256Gcm = 0x0002,
        /// ChaCha20Poly1305
        ChaCha20Poly1305 = 0x0003,
    }
);

/// An HPKE config as a JSON object (Janus's `HpkeConfig`): the public key is unpadded
/// base64url of its raw bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HpkeConfigJson {
    /// Config ID.
    pub id: u8,
    /// KEM.
    pub kem_id: HpkeKemJson,
    /// KDF.
    pub kdf_id: HpkeKdfJson,
    /// AEAD.
    pub aead_id: HpkeAeadJson,
    /// The public key, unpadded base64url.
    pub public_key: String,
}

impl From<&HpkeConfig> for HpkeConfigJson {
    fn from(c: &HpkeConfig) -> HpkeConfigJson {
        HpkeConfigJson {
            id: c.id.0,
            kem_id: c.kem_id.into(),
            kdf_id: c.kdf_id.into(),
            aead_id: c.aead_id.into(),
            public_key: crate::messages::base64url(&c.public_key),
        }
    }
}

impl HpkeConfigJson {
    /// The wire config; `None` if the public key is not base64url or empty.
    pub fn to_config(&self) -> Option<HpkeConfig> {
        let public_key = from_base64url(&self.public_key).filter(|k| !k.is_empty())?;
        Some(HpkeConfig {
            id: HpkeConfigId(self.id),
            kem_id: self.kem_id.into(),
            kdf_id: self.kdf_id.into(),
            aead_id: self.aead_id.into(),
            public_key,
        })
    }
}

/// Janus's `AuthenticationToken`: `{"type": "Bearer" | "DapAuth", "token": "..."}`.
/// `Debug` redacts the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "token")]
pub enum AuthTokenJson {
    /// Sent as `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// Sent as `DAP-Auth-Token: <token>`.
    DapAuth(Secret),
}

/// Why a token was refused (never includes the token).
pub const TOKEN_RULES: &str = "a Bearer token must be 1 or more of A-Z a-z 0-9 - . _ ~ + / optionally followed by =, a DapAuth token visible ASCII";

impl AuthTokenJson {
    /// The header the token travels in.
    pub fn header(&self) -> AuthHeader {
        match self {
            AuthTokenJson::Bearer(_) => AuthHeader::Bearer,
            AuthTokenJson::DapAuth(_) => AuthHeader::DapAuthToken,
        }
    }

    /// The token.
    pub fn token(&self) -> &str {
        match self {
            AuthTokenJson::Bearer(t) | AuthTokenJson::DapAuth(t) => &t.0,
        }
    }

    /// A token of the given kind.
    pub fn new(header: AuthHeader, token: String) -> AuthTokenJson {
        match header {
            AuthHeader::Bearer => AuthTokenJson::Bearer(Secret(token)),
            AuthHeader::DapAuthToken => AuthTokenJson::DapAuth(Secret(token)),
        }
    }

    /// Whether the token has a valid form for its header (Janus's rules: RFC 6750
    /// `b64token` for Bearer, a header value for DAP-Auth-Token).
    pub fn is_valid(&self) -> bool {
        let t = self.token();
        match self {
            AuthTokenJson::Bearer(_) => {
                let body = t.trim_end_matches('=');
                !body.is_empty()
                    && body
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
            }
            AuthTokenJson::DapAuth(_) => {
                !t.is_empty()
                    && t.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
                    && !t.starts_with(' ')
                    && !t.ends_with(' ')
            }
        }
    }
}

/// Janus's `AuthenticationTokenHash`: `{"type": "Bearer" | "DapAuth", "hash": "<unpadded
/// base64url of SHA-256(token)>"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "hash")]
pub enum TokenHashJson {
    /// A bearer token's hash.
    Bearer(String),
    /// A DAP-Auth-Token's hash.
    DapAuth(String),
}

impl TokenHashJson {
    /// The hash; `None` unless it is 32 bytes of base64url.
    pub fn hash(&self) -> Option<TokenHash> {
        let (TokenHashJson::Bearer(h) | TokenHashJson::DapAuth(h)) = self;
        let bytes: [u8; 32] = from_base64url(h)?.try_into().ok()?;
        Some(TokenHash(bytes))
    }

    /// The hash of a token, of the token's kind.
    pub fn of(token: &AuthTokenJson) -> TokenHashJson {
        let h = crate::messages::base64url(&TokenHash::of(token.token()).0);
        match token {
            AuthTokenJson::Bearer(_) => TokenHashJson::Bearer(h),
            AuthTokenJson::DapAuth(_) => TokenHashJson::DapAuth(h),
        }
    }

    /// The header the token is expected in.
    pub fn header(&self) -> AuthHeader {
        match self {
            TokenHashJson::Bearer(_) => AuthHeader::Bearer,
            TokenHashJson::DapAuth(_) => AuthHeader::DapAuthToken,
        }
    }
}

/// Replaces every double-quoted part of a (serde) error message: input strings are echoed
/// there, and an input string may be a secret put in the wrong place.
pub fn redact_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut inside = false;
    for c in msg.chars() {
        if c == '"' {
            if inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    if inside {
        out.push_str("\"…");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn janus_spellings() {
        let v: VdafInstance = serde_json::from_value(json!("Prio3Count")).unwrap();
        assert_eq!(v, VdafInstance::Prio3Count);
        let v: VdafInstance = serde_json::from_value(json!({"Prio3SumVec": {
            "max_measurement": 255, "length": 4, "chunk_length": 2,
            "dp_strategy": {"dp_strategy": "NoDifferentialPrivacy"}}}))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({"Prio3SumVec": {"max_measurement": 255, "length": 4, "chunk_length": 2,
                "dp_strategy": {"dp_strategy": "NoDifferentialPrivacy"}}})
        );
        let dp = json!({"Prio3Histogram": {"length": 4, "chunk_length": 2,
            "dp_strategy": {"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[1], [1]]}}}});
        let v = serde_json::from_value::<VdafInstance>(dp.clone()).unwrap();
        assert_eq!(v.dp(), crate::dp::DpStrategy::laplace(1, 1).unwrap());
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            dp,
            "Janus's spelling round-trips"
        );
        // Two u32 digits, least significant first: 2^32 + 1 over 2^32.
        let big = json!({"dp_strategy": "PureDpDiscreteLaplace",
            "budget": {"epsilon": [[1, 1], [0, 1]]}});
        let b: DpStrategy = serde_json::from_value(big.clone()).unwrap();
        assert_eq!(serde_json::to_value(b).unwrap(), big);
        for bad in [
            json!({"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[0], [1]]}}),
            json!({"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[1], [0]]}}),
            json!({"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[1], [100000]]}}),
            json!({"dp_strategy": "PureDpDiscreteLaplace", "budget": {"epsilon": [[1, 2, 3], [1]]}}),
            json!({"dp_strategy": "PureDpDiscreteLaplace", "budget": {}}),
            json!({"dp_strategy": "ZCdpDiscreteGaussian"}),
        ] {
            assert!(
                serde_json::from_value::<DpStrategy>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        let m = VdafInstance::from(&VdafConfig::Prio3MultihotCountVec {
            length: 8,
            chunk_length: 3,
            max_weight: 2,
        });
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"Prio3MultihotCountVec": {"length": 8, "chunk_length": 3, "max_weight": 2}})
        );
        assert_eq!(
            serde_json::to_value(BatchModeJson::from(BatchMode::LeaderSelected)).unwrap(),
            json!({"LeaderSelected": {"batch_time_window_size": null}})
        );
        assert_eq!(
            serde_json::to_value(HpkeKemJson::from(HpkeKemId(7))).unwrap(),
            json!({"Other": 7})
        );
        assert_eq!(
            HpkeKemId::from(
                serde_json::from_value::<HpkeKemJson>(json!("X25519HkdfSha256")).unwrap()
            ),
            HpkeKemId::X25519_HKDF_SHA256
        );
        let t: AuthTokenJson =
            serde_json::from_value(json!({"type": "DapAuth", "token": "abc"})).unwrap();
        assert_eq!(t.header(), AuthHeader::DapAuthToken);
        assert!(!format!("{t:?}").contains("abc"));
        assert!(AuthTokenJson::new(AuthHeader::Bearer, "AbC-._~+/9==".into()).is_valid());
        assert!(!AuthTokenJson::new(AuthHeader::Bearer, "a b".into()).is_valid());
        assert!(!AuthTokenJson::new(AuthHeader::Bearer, "==".into()).is_valid());
        assert!(!AuthTokenJson::new(AuthHeader::DapAuthToken, "\n".into()).is_valid());
        let h = TokenHashJson::of(&t);
        assert_eq!(h.hash(), Some(TokenHash::of("abc")));
    }

    #[test]
    fn redacts_quoted_input() {
        let e = serde_json::from_value::<AuthTokenJson>(json!("my-secret-token")).unwrap_err();
        let r = redact_quoted(&e.to_string());
        assert!(!r.contains("my-secret-token"), "{r}");
        assert_eq!(redact_quoted(r#"a "b" c "d"#), "a \"…\" c \"…");
    }
}
