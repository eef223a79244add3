//! Limits on failed sign-ins, per account (the email address) and per client address. The
//! database keeps one row per failure (scope, key, time); this decides from the counts in
//! the window whether a sign-in may be tried at all. A locked account or address is refused
//! before the password is checked, so guessing gains nothing while locked, and the answer
//! is the same for existing and unknown addresses.

use crate::error::ConsoleError;

/// The window failures are counted in (seconds).
pub const WINDOW_SECS: u64 = 15 * 60;
/// Failures per email address within the window before sign-ins to it are refused.
pub const MAX_PER_ACCOUNT: u64 = 5;
/// Failures per client address within the window before its sign-ins are refused.
pub const MAX_PER_ADDRESS: u64 = 20;

/// What a failure is counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The email address signed in to.
    Account,
    /// The client's IP address.
    Address,
}

impl Scope {
    /// The database's name of the scope.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::Address => "address",
        }
    }

    fn limit(self) -> u64 {
        match self {
            Scope::Account => MAX_PER_ACCOUNT,
            Scope::Address => MAX_PER_ADDRESS,
        }
    }
}

/// Failures of one scope in the window: how many, and when the oldest was (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failures {
    /// Failures in the window.
    pub count: u64,
    /// The oldest of them (POSIX seconds), if any.
    pub oldest: Option<u64>,
}

/// `Err(429)` when `failures` reach the scope's limit: how long until the oldest leaves the
/// window.
pub fn check(scope: Scope, failures: Failures, now: u64) -> Result<(), ConsoleError> {
    if failures.count < scope.limit() {
        return Ok(());
    }
    let retry_after = failures
        .oldest
        .map_or(WINDOW_SECS, |t| (t + WINDOW_SECS).saturating_sub(now))
        .max(1);
    let minutes = retry_after.div_ceil(60);
    let message = match scope {
        Scope::Account => format!(
            "too many failed sign-ins to this account: try again in {minutes} minute{}",
            if minutes == 1 { "" } else { "s" }
        ),
        Scope::Address => format!(
            "too many failed sign-ins from your network: try again in {minutes} minute{}",
            if minutes == 1 { "" } else { "s" }
        ),
    };
    Err(ConsoleError::TooManyRequests {
        message,
        retry_after,
    })
}

/// The start of the window (failures before it no longer count).
pub fn window_start(now: u64) -> u64 {
    now.saturating_sub(WINDOW_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_at_the_limit_and_says_when() {
        let now = 10_000;
        let f = |count, oldest| Failures { count, oldest };
        assert!(check(Scope::Account, f(4, Some(now - 10)), now).is_ok());
        match check(Scope::Account, f(5, Some(now - 60)), now) {
            Err(ConsoleError::TooManyRequests {
                message,
                retry_after,
            }) => {
                assert_eq!(retry_after, WINDOW_SECS - 60);
                assert!(message.contains("14 minutes"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(check(Scope::Address, f(19, Some(now)), now).is_ok());
        assert!(check(Scope::Address, f(20, Some(now)), now).is_err());
        // Never a zero wait.
        match check(Scope::Account, f(9, Some(now - WINDOW_SECS)), now) {
            Err(ConsoleError::TooManyRequests { retry_after, .. }) => assert_eq!(retry_after, 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(window_start(100), 0);
        assert_eq!(window_start(now), now - WINDOW_SECS);
    }
}
