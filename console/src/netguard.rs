//! Which aggregator API URLs the console may call: it fetches what subscribers type in, so
//! it must not be a way into networks behind it. Refused unless the deployment allows them
//! (`ALLOW_PRIVATE_AGGREGATORS`, honoured only with `DEVELOPMENT`): loopback, private,
//! link-local, shared (CGNAT), unspecified, multicast, reserved and documentation addresses,
//! IPv4-mapped or NAT64 forms of them, and names that only resolve locally (`localhost`,
//! `*.local`, `*.internal`, single-label names). Plain `http` only in development.
//!
//! Names are not resolved here (Workers offer no DNS look-up); Cloudflare's `fetch` does not
//! reach private networks from the edge either.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// What the deployment allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// `http` URLs (development deployments).
    pub allow_http: bool,
    /// Loopback and private addresses (development deployments that ask for it).
    pub allow_private: bool,
}

/// Checks an aggregator API URL; returns it normalised (a trailing slash on the path).
pub fn check_api_url(input: &str, policy: UrlPolicy) -> Result<String, String> {
    let input = input.trim();
    if input.is_empty() {
        return Err("enter the aggregator API's URL, e.g. https://helper.example/api".into());
    }
    if input.len() > 2000 {
        return Err("the URL is too long".into());
    }
    let mut url = Url::parse(input).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => return Err("use an https URL".into()),
        other => return Err(format!("use an https URL, not {other}:")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "leave user names and passwords out of the URL; give the token separately".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the URL must not have a query (?...) or fragment (#...)".into());
    }
    let host = url.host().ok_or("the URL has no host")?;
    if !policy.allow_private {
        check_host(&host)?;
    }
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Ok(url.to_string())
}

fn check_host(host: &Host<&str>) -> Result<(), String> {
    match host {
        Host::Domain(d) => check_domain(d),
        Host::Ipv4(a) => check_ip(IpAddr::V4(*a)),
        Host::Ipv6(a) => check_ip(IpAddr::V6(*a)),
    }
}

fn check_domain(d: &str) -> Result<(), String> {
    let d = d.trim_end_matches('.').to_ascii_lowercase();
    let local_suffixes = [
        ".localhost",
        ".local",
        ".internal",
        ".localdomain",
        ".home.arpa",
        ".lan",
    ];
    if d == "localhost" || local_suffixes.iter().any(|s| d.ends_with(s)) {
        return Err(format!(
            "{d} is a local name: use the aggregator's public URL"
        ));
    }
    if !d.contains('.') {
        return Err(format!("{d} is not a public host name (no domain)"));
    }
    Ok(())
}

/// Why an address is not a public one, if it is not.
pub fn check_ip(ip: IpAddr) -> Result<(), String> {
    let why = match ip {
        IpAddr::V4(a) => v4_reason(a),
        IpAddr::V6(a) => v6_reason(a),
    };
    match why {
        None => Ok(()),
        Some(kind) => Err(format!(
            "{ip} is a {kind} address: the console only pairs with aggregators on public addresses"
        )),
    }
}

fn v4_reason(a: Ipv4Addr) -> Option<&'static str> {
    let [b0, b1, b2, _] = a.octets();
    Some(match (b0, b1, b2) {
        (0, _, _) => "unspecified (0.0.0.0/8)",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared (carrier-grade NAT)",
        (192, 0, 0) => "IETF protocol assignment",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn v6_reason(a: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = a.to_ipv4_mapped() {
        return v4_reason(v4).map(|_| "IPv4-mapped non-public");
    }
    let s = a.segments();
    Some(if a.is_unspecified() {
        "unspecified"
    } else if a.is_loopback() {
        "loopback"
    } else if s[0] & 0xfe00 == 0xfc00 {
        "unique local (private)"
    } else if s[0] & 0xffc0 == 0xfe80 {
        "link-local"
    } else if s[0] & 0xff00 == 0xff00 {
        "multicast"
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        "documentation"
    } else if s[0] == 0x0064 && s[1] == 0xff9b {
        "NAT64"
    } else if s[0..6] == [0, 0, 0, 0, 0, 0] {
        "IPv4-compatible"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROD: UrlPolicy = UrlPolicy {
        allow_http: false,
        allow_private: false,
    };
    const DEV: UrlPolicy = UrlPolicy {
        allow_http: true,
        allow_private: true,
    };

    #[test]
    fn public_https_urls_pass_normalised() {
        assert_eq!(
            check_api_url("https://helper.example/api", PROD).unwrap(),
            "https://helper.example/api/"
        );
        assert_eq!(
            check_api_url(" https://Helper.Example:8443/api/ ", PROD).unwrap(),
            "https://helper.example:8443/api/"
        );
        assert_eq!(
            check_api_url("https://203.1.113.9/api", PROD).unwrap(),
            "https://203.1.113.9/api/"
        );
        assert!(check_api_url("https://[2606:4700::1111]/api", PROD).is_ok());
    }

    #[test]
    fn private_loopback_link_local_are_refused_in_production() {
        for url in [
            "https://127.0.0.1:8788/api",
            "https://127.1/api",
            "https://0x7f000001/api",
            "https://2130706433/api",
            "https://10.1.2.3/api",
            "https://172.20.0.1/api",
            "https://192.168.1.1/api",
            "https://169.254.169.254/latest",
            "https://100.64.0.1/api",
            "https://0.0.0.0/api",
            "https://[::1]/api",
            "https://[fe80::1]/api",
            "https://[fd00::1]/api",
            "https://[::ffff:127.0.0.1]/api",
            "https://[::ffff:10.0.0.1]/api",
            "https://localhost/api",
            "https://api.localhost/api",
            "https://printer.local/api",
            "https://metadata.google.internal/api",
            "https://intranet/api",
        ] {
            let e = check_api_url(url, PROD).unwrap_err();
            assert!(
                e.contains("address") || e.contains("local name") || e.contains("public host"),
                "{url}: {e}"
            );
        }
    }

    #[test]
    fn development_may_allow_them() {
        assert_eq!(
            check_api_url("http://127.0.0.1:8788/api", DEV).unwrap(),
            "http://127.0.0.1:8788/api/"
        );
        let http_only = UrlPolicy {
            allow_http: true,
            allow_private: false,
        };
        assert!(check_api_url("http://127.0.0.1:8788/api", http_only).is_err());
        assert!(check_api_url("http://helper.example/api", http_only).is_ok());
    }

    #[test]
    fn other_malformed_urls_say_why() {
        assert!(check_api_url("", PROD).unwrap_err().contains("enter"));
        assert!(check_api_url("helper.example/api", PROD)
            .unwrap_err()
            .contains("not a URL"));
        assert!(check_api_url("http://helper.example/api", PROD)
            .unwrap_err()
            .contains("https"));
        assert!(check_api_url("ftp://helper.example/", PROD)
            .unwrap_err()
            .contains("https"));
        assert!(check_api_url("https://u:p@helper.example/api", PROD)
            .unwrap_err()
            .contains("passwords"));
        assert!(check_api_url("https://helper.example/api?x=1", PROD)
            .unwrap_err()
            .contains("query"));
    }
}
