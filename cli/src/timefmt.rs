//! POSIX seconds and durations as text for the CLI's output.

/// `seconds` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (the core's formatter, which the
/// aggregator API uses for `deactivate_at`).
pub fn rfc3339(seconds: u64) -> String {
    edap_core::api::aggregator_api::rfc3339::format(seconds)
}

/// A duration in seconds with its compact form: `3600 s (1h)`.
pub fn duration(seconds: u64) -> String {
    format!("{seconds} s ({})", compact(seconds))
}

/// A duration in seconds as compact text: `1d2h`, `1h`, `0s`.
pub fn compact(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        (seconds % 86_400) / 3600,
        (seconds % 3600) / 60,
        seconds % 60,
    );
    let mut parts = Vec::new();
    for (v, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if v > 0 {
            parts.push(format!("{v}{unit}"));
        }
    }
    if parts.is_empty() {
        parts.push("0s".into());
    }
    parts.join("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_002_800), "2023-11-14T23:00:00Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(3600), "3600 s (1h)");
        assert_eq!(duration(90_061), "90061 s (1d1h1m1s)");
        assert_eq!(duration(0), "0 s (0s)");
        assert_eq!(compact(86_400), "1d");
    }
}
