//! The aggregators' HPKE configuration lists, fetched from `GET {endpoint}/hpke_config` and
//! cached for an hour in `$XDG_CACHE_HOME/edap` (or `~/.cache/edap`), one file per
//! endpoint. The cache is best effort: any problem with it means a fresh fetch.

use crate::error::{one_line, Error, Result};
use crate::http::{join, Http, Req};
use edap_core::media::MediaType;
use edap_core::messages::{base64url, from_base64url, HpkeConfigList};
use prio::codec::{Decode, Encode};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a cached list is used.
pub const TTL_SECS: u64 = 3600;

#[derive(Serialize, Deserialize)]
struct Entry {
    endpoint: String,
    fetched_at: u64,
    hpke_config_list: String,
}

/// The cache directory, if one can be determined.
pub fn cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|h| h.join(".cache"))
    })?;
    Some(base.join("edap"))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The cache file for an endpoint: its base64url form is unique and filesystem-safe.
fn cache_file(endpoint: &str) -> Option<PathBuf> {
    let name = format!("hpke-config-{}.json", base64url(endpoint.as_bytes()));
    (name.len() <= 250).then(|| cache_dir().map(|d| d.join(name)))?
}

fn read_cached(endpoint: &str) -> Option<HpkeConfigList> {
    let text = std::fs::read_to_string(cache_file(endpoint)?).ok()?;
    let e: Entry = serde_json::from_str(&text).ok()?;
    let now = now_secs();
    if e.endpoint != endpoint || e.fetched_at > now + 60 || now - e.fetched_at.min(now) >= TTL_SECS
    {
        return None;
    }
    HpkeConfigList::get_decoded(&from_base64url(&e.hpke_config_list)?).ok()
}

fn write_cached(endpoint: &str, list: &HpkeConfigList) {
    let (Some(path), Ok(bytes)) = (cache_file(endpoint), list.get_encoded()) else {
        return;
    };
    let entry = Entry {
        endpoint: endpoint.to_string(),
        fetched_at: now_secs(),
        hpke_config_list: base64url(&bytes),
    };
    let Ok(json) = serde_json::to_string(&entry) else {
        return;
    };
    if let Some(dir) = path.parent() {
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, json).is_ok() && std::fs::rename(&tmp, &path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The HPKE config list of `endpoint` (the `who` aggregator, for messages): from the cache
/// when `use_cache` and fresh, else fetched (and cached).
pub fn config_list(
    http: &Http,
    who: &str,
    endpoint: &str,
    use_cache: bool,
) -> Result<HpkeConfigList> {
    if use_cache {
        if let Some(list) = read_cached(endpoint) {
            return Ok(list);
        }
    }
    let list = fetch(http, who, endpoint)?;
    write_cached(endpoint, &list);
    Ok(list)
}

/// Fetches the HPKE config list of `endpoint` (the `who` aggregator, for messages), leaving
/// the cache alone.
pub fn fetch(http: &Http, who: &str, endpoint: &str) -> Result<HpkeConfigList> {
    let url = join(endpoint, "/hpke_config");
    let what = format!("fetching the {who}'s HPKE configurations");
    let answer = http.send_ok(&Req::new(&what, reqwest::Method::GET, &url))?;
    if let Some(ct) = answer.header("content-type") {
        if !answer.is_media(MediaType::HpkeConfigList) {
            return Err(Error::Protocol(format!(
                "{what}: {url} answered with {}, not {}",
                one_line(ct, 100),
                MediaType::HpkeConfigList.as_str()
            )));
        }
    }
    HpkeConfigList::get_decoded(&answer.body).map_err(|e| {
        Error::Protocol(format!(
            "{what}: the answer from {url} is not an HpkeConfigList: {e}"
        ))
    })
}
