//! The console's settings, from the deployment's variables and secrets (`[vars]` of
//! console/wrangler.toml, `wrangler secret put`). Missing values take the safe production
//! value.
//!
//! | name | meaning | production |
//! |---|---|---|
//! | `LEADER_API_URL`, `HELPER_API_URL` | the deployment's own Leader's and Helper's aggregator API URLs, offered to every account | — |
//! | `LEADER_API_TOKEN`, `HELPER_API_TOKEN` (secrets) | their aggregator API tokens | — |
//! | `PEER_TOKEN_KEY` (secret) | 32 bytes, base64url: seals the API tokens of subscribers' own aggregators | — (pairing is off without it) |
//! | `MIN_BATCH_SIZE_FLOOR` | smallest `min_batch_size` the wizard accepts | 100 |
//! | `PEER_TIMEOUT_MS` | how long the console waits for an aggregator API | 15000 |
//! | `DEVELOPMENT` | development deployment: `http` aggregator URLs, no `Secure` cookie on the http loopback origin | false |
//! | `ALLOW_PRIVATE_AGGREGATORS` | pair aggregators on loopback and private addresses; honoured only with `DEVELOPMENT` | false |

use crate::netguard::UrlPolicy;
use edap_core::task::TaskLimits;

/// One of the deployment's own aggregators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedAggregator {
    /// Its aggregator API URL (trailing slash).
    pub api_url: String,
    /// Its aggregator API token.
    pub token: String,
}

/// The settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// A development deployment.
    pub development: bool,
    /// Loopback and private aggregator addresses may be paired.
    pub allow_private_aggregators: bool,
    /// Smallest `min_batch_size`.
    pub min_batch_size_floor: u64,
    /// How long to wait for an aggregator API (ms).
    pub peer_timeout_ms: u64,
    /// The deployment's Leader.
    pub leader: Option<SharedAggregator>,
    /// The deployment's Helper.
    pub helper: Option<SharedAggregator>,
    /// The key sealing peer tokens (base64url), if set.
    pub peer_token_key: Option<String>,
}

fn flag(v: Option<String>) -> bool {
    v.is_some_and(|s| s.trim().eq_ignore_ascii_case("true"))
}

fn number(v: Option<String>, default: u64) -> u64 {
    v.and_then(|s| s.trim().parse().ok()).unwrap_or(default)
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn shared(url: Option<String>, token: Option<String>) -> Option<SharedAggregator> {
    let url = nonempty(url)?;
    let api_url = if url.ends_with('/') {
        url
    } else {
        format!("{url}/")
    };
    Some(SharedAggregator {
        api_url,
        token: nonempty(token).unwrap_or_default(),
    })
}

impl Settings {
    /// Reads the settings through `get` (a variable or secret by name).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Settings {
        let development = flag(get("DEVELOPMENT"));
        Settings {
            development,
            allow_private_aggregators: development && flag(get("ALLOW_PRIVATE_AGGREGATORS")),
            min_batch_size_floor: number(get("MIN_BATCH_SIZE_FLOOR"), 100).max(1),
            peer_timeout_ms: number(get("PEER_TIMEOUT_MS"), 15_000).clamp(1_000, 120_000),
            leader: shared(get("LEADER_API_URL"), get("LEADER_API_TOKEN")),
            helper: shared(get("HELPER_API_URL"), get("HELPER_API_TOKEN")),
            peer_token_key: nonempty(get("PEER_TOKEN_KEY")),
        }
    }

    /// Which aggregator URLs may be paired.
    pub fn url_policy(&self) -> UrlPolicy {
        UrlPolicy {
            allow_http: self.development,
            allow_private: self.allow_private_aggregators,
        }
    }

    /// The limits a task configuration is checked against before provisioning (each
    /// aggregator checks its own again).
    pub fn task_limits(&self) -> TaskLimits {
        TaskLimits {
            min_batch_size_floor: self.min_batch_size_floor,
            allow_http_endpoints: self.development,
            ..TaskLimits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Settings {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn missing_values_are_the_production_ones() {
        let s = from(&[]);
        assert!(!s.development && !s.allow_private_aggregators);
        assert_eq!(s.min_batch_size_floor, 100);
        assert_eq!(s.leader, None);
        assert_eq!(s.peer_token_key, None);
        assert_eq!(s.url_policy(), UrlPolicy::default());
        assert!(!s.task_limits().allow_http_endpoints);
    }

    #[test]
    fn private_aggregators_need_development() {
        let s = from(&[("ALLOW_PRIVATE_AGGREGATORS", "true")]);
        assert!(!s.allow_private_aggregators);
        let s = from(&[
            ("ALLOW_PRIVATE_AGGREGATORS", "true"),
            ("DEVELOPMENT", "TRUE"),
            ("MIN_BATCH_SIZE_FLOOR", "1"),
        ]);
        assert!(s.allow_private_aggregators && s.url_policy().allow_http);
        assert_eq!(s.min_batch_size_floor, 1);
    }

    #[test]
    fn shared_aggregators() {
        let s = from(&[
            ("LEADER_API_URL", "http://127.0.0.1:8787/api"),
            ("LEADER_API_TOKEN", " t "),
        ]);
        let l = s.leader.unwrap();
        assert_eq!(l.api_url, "http://127.0.0.1:8787/api/");
        assert_eq!(l.token, "t");
        assert_eq!(s.helper, None);
    }
}
