//! Deployment settings from `[vars]` and secrets, read once per isolate.

use edap_core::platform::DeploymentConfig;
use edap_core::task::TokenHash;
use std::cell::RefCell;
use std::rc::Rc;
use worker::Env;

thread_local! {
    static SETTINGS: RefCell<Option<Rc<DeploymentConfig>>> = const { RefCell::new(None) };
}

/// A variable or secret, if set and non-empty.
fn read(env: &Env, name: &str) -> Option<String> {
    let v = env
        .secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()?;
    let v = v.trim().to_string();
    (!v.is_empty()).then_some(v)
}

fn number<T: std::str::FromStr>(env: &Env, name: &str, default: T) -> T {
    read(env, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The hashes of a comma-separated token list (blank entries are skipped).
fn api_token_hashes(list: &str) -> Vec<TokenHash> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(TokenHash::of)
        .collect()
}

/// `DAP_URL` as given, with `/` added when it names only a host (as a URL parser would).
fn dap_url(u: &str) -> String {
    match u.split_once("://") {
        Some((_, rest)) if !rest.contains('/') => format!("{u}/"),
        _ => u.to_string(),
    }
}

/// The settings of this deployment.
///
/// | name | meaning |
/// |---|---|
/// | `AGGREGATOR_API_TOKENS` (secret) | comma-separated bearer tokens of the aggregator API (`/api`); unset = API off |
/// | `DAP_URL` | this deployment's public DAP URL as peers name it (default: `https://{Host}/` of the API request) |
/// | `MIN_BATCH_SIZE_FLOOR` | smallest `min_batch_size` a task may have |
/// | `MAX_VDAF_LENGTH` | largest vector length of a VDAF |
/// | `REPORT_SKEW_SECS` | clock skew tolerated for report times |
/// | `HELPER_ASYNC_THRESHOLD` | the Helper defers jobs with more reports than this |
/// | `RETRY_AFTER_SECS` | `Retry-After` for pending jobs |
/// | `PEER_TIMEOUT_MS` | how long the Leader waits for the Helper |
/// | `ENABLE_TEST_API` | `true` serves `/internal/test/*`; only together with `DEVELOPMENT` |
/// | `DEVELOPMENT` | `true` allows `http` peer URLs and the test API (`wrangler dev --env dev`) |
/// | `KEY_ROTATION`, `KEY_PENDING_SECS`, `KEY_ACTIVE_SECS`, `KEY_EXPIRED_SECS`, `KEY_KEM` | the HPKE key rotation schedule ([`edap_core::hpke::rotation`]) |
///
/// Every variable that is missing takes its production value: no test API, a
/// `min_batch_size` floor of 100, https-only peers.
pub fn get(env: &Env) -> Rc<DeploymentConfig> {
    if let Some(s) = SETTINGS.with(|s| s.borrow().clone()) {
        return s;
    }
    let d = DeploymentConfig::default();
    let mut limits = d.limits.clone();
    let development = read(env, "DEVELOPMENT").is_some_and(|v| v == "true");
    limits.min_batch_size_floor = number(env, "MIN_BATCH_SIZE_FLOOR", limits.min_batch_size_floor);
    limits.max_vdaf_length = number(env, "MAX_VDAF_LENGTH", limits.max_vdaf_length);
    limits.allow_http_endpoints = development;
    let config = Rc::new(DeploymentConfig {
        limits,
        report_skew_secs: number(env, "REPORT_SKEW_SECS", d.report_skew_secs),
        helper_async_threshold: number(env, "HELPER_ASYNC_THRESHOLD", d.helper_async_threshold),
        retry_after_secs: number(env, "RETRY_AFTER_SECS", d.retry_after_secs),
        peer_timeout_ms: number(env, "PEER_TIMEOUT_MS", d.peer_timeout_ms),
        api_token_hashes: read(env, "AGGREGATOR_API_TOKENS")
            .map(|v| api_token_hashes(&v))
            .unwrap_or_default(),
        dap_url: read(env, "DAP_URL").map(|u| dap_url(&u)),
        enable_test_api: read(env, "ENABLE_TEST_API").is_some_and(|v| v == "true"),
        development,
        key_rotation: edap_core::hpke::rotation::RotationSchedule::from_vars(
            |name| read(env, name),
            d.hpke_config_max_age_secs,
        ),
        ..d
    });
    SETTINGS.with(|s| *s.borrow_mut() = Some(config.clone()));
    config
}
