//! Time: Unix milliseconds inside, ISO 8601 UTC (`2022-07-29T14:55:00Z`) on the wire.
//!
//! Every expiry the domain decides (access tokens, signed URLs, upload keys,
//! tasks' retention) reads [`now_ms`]. A server started with clock control
//! (tests, emulation) may move that clock forward through the admin API
//! ([`crate::Drive::advance_clock`]), so that expiry is testable without
//! sleeping. The offset is process-wide — a server process runs one drive —
//! and only ever grows, so ids, which embed the time, stay increasing.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds the clock was moved forward (0 unless clock control is on).
static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Milliseconds since the Unix epoch, now (moved forward by clock control).
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis() + OFFSET_MS.load(Ordering::Relaxed)
}

/// How far the clock has been moved forward, in milliseconds.
pub fn clock_offset_ms() -> i64 {
    OFFSET_MS.load(Ordering::Relaxed)
}

/// Moves the clock forward by `ms` (≥ 0); returns the new offset.
pub(crate) fn advance_clock_ms(ms: i64) -> i64 {
    OFFSET_MS.fetch_add(ms, Ordering::Relaxed) + ms
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
