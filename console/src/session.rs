//! Sessions as the browser sees them: the session cookie and the CSRF rules.
//!
//! The cookie holds a random token (the database keeps its SHA-256); it is `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, and `Secure` with the `__Host-` name prefix, except on the
//! plain-http loopback origin of a development deployment, where a browser would drop a
//! `Secure` cookie.
//!
//! CSRF: every state-changing request authenticated by the cookie carries the session's
//! CSRF token in `X-CSRF-Token` (the UI reads it from `GET /api/v1/me`); requests with an
//! API token carry no cookie, so they need none. On top of that, bodies must be JSON (a
//! cross-site form cannot send `application/json` without a CORS preflight, which the
//! console never grants) and a present `Origin` must be the console's own.

use crate::tokens::equal_ct;

/// How long a session lasts after sign-in (seconds): 7 days.
pub const SESSION_LIFETIME_SECS: u64 = 7 * 24 * 3600;

/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Whether the session cookie is marked `Secure` (and named with the `__Host-` prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookiePolicy {
    /// `false` only for the http loopback origin of a development deployment.
    pub secure: bool,
}

impl CookiePolicy {
    /// The policy for a request: `Secure` unless `development` is set and the request came
    /// over plain http to a loopback host.
    pub fn for_request(development: bool, scheme: &str, host: &str) -> CookiePolicy {
        let loopback = is_loopback_host(host);
        CookiePolicy {
            secure: !(development && scheme == "http" && loopback),
        }
    }

    /// The cookie's name.
    pub fn name(self) -> &'static str {
        if self.secure {
            "__Host-edap_session"
        } else {
            "edap_session"
        }
    }

    /// `Set-Cookie` for a new session.
    pub fn set(self, token: &str) -> String {
        format!(
            "{}={token}; Max-Age={SESSION_LIFETIME_SECS}; Path=/; HttpOnly; SameSite=Lax{}",
            self.name(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// `Set-Cookie` that removes the session cookie.
    pub fn clear(self) -> String {
        format!(
            "{}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{}",
            self.name(),
            if self.secure { "; Secure" } else { "" }
        )
    }
}

/// Whether `host` (a `Host` header value: name or address, maybe with a port) is loopback.
pub fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let name = name.to_ascii_lowercase();
    name == "localhost"
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback())
}

/// The value of cookie `name` in a `Cookie` header.
pub fn read_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        (k == name).then_some(v.trim())
    })
}

/// Whether the CSRF token sent matches the session's.
pub fn csrf_matches(expected: &str, sent: Option<&str>) -> bool {
    sent.is_some_and(|s| !s.is_empty() && equal_ct(expected, s.trim()))
}

/// Whether a request's `Origin` (if the browser sent one) is the console's own origin
/// (`scheme://host[:port]`). `null` and other origins are refused.
pub fn origin_allowed(origin: Option<&str>, own_origin: &str) -> bool {
    match origin {
        None => true,
        Some(o) => o.trim().eq_ignore_ascii_case(own_origin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_secure_except_on_dev_loopback_http() {
        let prod = CookiePolicy::for_request(false, "http", "127.0.0.1:8789");
        assert!(prod.secure);
        let dev_https = CookiePolicy::for_request(true, "https", "console.example");
        assert!(dev_https.secure);
        let dev_remote = CookiePolicy::for_request(true, "http", "console.example");
        assert!(dev_remote.secure);
        let dev = CookiePolicy::for_request(true, "http", "127.0.0.1:8789");
        assert!(!dev.secure);
        assert!(!CookiePolicy::for_request(true, "http", "localhost:8789").secure);
        assert!(!CookiePolicy::for_request(true, "http", "[::1]:8789").secure);

        let c = prod.set("tok");
        assert_eq!(
            c,
            "__Host-edap_session=tok; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(dev.set("tok").starts_with("edap_session=tok;"));
        assert!(!dev.set("tok").contains("Secure"));
        assert!(prod.clear().contains("Max-Age=0"));
    }

    #[test]
    fn cookie_header_parsing() {
        let h = "a=1; __Host-edap_session=abc_-; edap_session=dev";
        assert_eq!(read_cookie(h, "__Host-edap_session"), Some("abc_-"));
        assert_eq!(read_cookie(h, "edap_session"), Some("dev"));
        assert_eq!(read_cookie(h, "missing"), None);
        assert_eq!(read_cookie("", "a"), None);
    }

    #[test]
    fn csrf_and_origin() {
        assert!(csrf_matches("t0k", Some("t0k")));
        assert!(!csrf_matches("t0k", Some("t0K")));
        assert!(!csrf_matches("t0k", Some("")));
        assert!(!csrf_matches("t0k", None));
        assert!(origin_allowed(None, "http://127.0.0.1:8789"));
        assert!(origin_allowed(
            Some("http://127.0.0.1:8789"),
            "http://127.0.0.1:8789"
        ));
        assert!(!origin_allowed(Some("null"), "http://127.0.0.1:8789"));
        assert!(!origin_allowed(
            Some("https://evil.example"),
            "http://127.0.0.1:8789"
        ));
    }
}
