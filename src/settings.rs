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

/// The settings of this deployment.
///
/// | name | meaning |
/// |---|---|
/// | `ADMIN_TOKEN` (secret) | bearer token of the admin API; unset = admin API off |
/// | `MIN_BATCH_SIZE_FLOOR` | smallest `min_batch_size` a task may have |
/// | `MAX_VDAF_LENGTH` | largest vector length of a VDAF |
/// | `REPORT_SKEW_SECS` | clock skew tolerated for report times |
/// | `HELPER_ASYNC_THRESHOLD` | the Helper defers jobs with more reports than this |
/// | `RETRY_AFTER_SECS` | `Retry-After` for pending jobs |
/// | `PEER_TIMEOUT_MS` | how long the Leader waits for the Helper |
/// | `ENABLE_TEST_API` | `true` serves `/internal/test/*` (never in production) |
pub fn get(env: &Env) -> Rc<DeploymentConfig> {
    if let Some(s) = SETTINGS.with(|s| s.borrow().clone()) {
        return s;
    }
    let d = DeploymentConfig::default();
    let mut limits = d.limits.clone();
    limits.min_batch_size_floor = number(env, "MIN_BATCH_SIZE_FLOOR", limits.min_batch_size_floor);
    limits.max_vdaf_length = number(env, "MAX_VDAF_LENGTH", limits.max_vdaf_length);
    let config = Rc::new(DeploymentConfig {
        limits,
        report_skew_secs: number(env, "REPORT_SKEW_SECS", d.report_skew_secs),
        helper_async_threshold: number(env, "HELPER_ASYNC_THRESHOLD", d.helper_async_threshold),
        retry_after_secs: number(env, "RETRY_AFTER_SECS", d.retry_after_secs),
        peer_timeout_ms: number(env, "PEER_TIMEOUT_MS", d.peer_timeout_ms),
        admin_token_hash: read(env, "ADMIN_TOKEN").map(|t| TokenHash::of(&t)),
        enable_test_api: read(env, "ENABLE_TEST_API").is_some_and(|v| v == "true"),
        ..d
    });
    SETTINGS.with(|s| *s.borrow_mut() = Some(config.clone()));
    config
}
