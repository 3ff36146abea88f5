//! Time: Unix milliseconds inside, ISO 8601 UTC (`2022-07-29T14:55:00Z`) on the wire.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso8601(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_seconds_precision_utc() {
        assert_eq!(super::iso8601(1_659_106_500_123), "2022-07-29T14:55:00Z");
    }
}
