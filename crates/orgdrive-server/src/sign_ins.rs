//! Failed console sign-ins (`/console/sign-in`), counted per client address
//! and per account in fixed one-minute windows on this node. Only failures count (a person who
//! signs in right is never slowed down); a key over its limit is refused
//! before any password is checked. The table is bounded: when it is full,
//! keys whose window ended are dropped, and if none has, new keys are
//! refused counting (a flood of distinct keys cannot grow memory).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures a key may have in one window.
pub const FAILURES_PER_WINDOW: u32 = 10;
/// How long a window lasts.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Keys tracked at most.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct SignInLimiter {
    failures: Mutex<HashMap<String, (Instant, u32)>>,
}

impl SignInLimiter {
    /// Whether every key may try now.
    pub fn allows(&self, keys: &[String]) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        keys.iter().all(|key| match failures.get(key) {
            Some((start, count)) => {
                now.duration_since(*start) >= WINDOW || *count < FAILURES_PER_WINDOW
            }
            None => true,
        })
    }

    /// Counts a failure against every key.
    pub fn failed(&self, keys: &[String]) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if failures.len() + keys.len() > MAX_KEYS {
            failures.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        for key in keys {
            if failures.len() >= MAX_KEYS && !failures.contains_key(key) {
                continue;
            }
            let entry = failures.entry(key.clone()).or_insert((now, 0));
            if now.duration_since(entry.0) >= WINDOW {
                *entry = (now, 0);
            }
            entry.1 = entry.1.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_after_its_failures_and_others_are_not() {
        let limiter = SignInLimiter::default();
        let keys = ["ip:10.0.0.1".to_string(), "user:u".to_string()];
        for _ in 0..FAILURES_PER_WINDOW {
            assert!(limiter.allows(&keys));
            limiter.failed(&keys);
        }
        assert!(!limiter.allows(&keys));
        assert!(!limiter.allows(&["ip:10.0.0.2".into(), "user:u".into()]), "the account is");
        assert!(limiter.allows(&["ip:10.0.0.2".into(), "user:v".into()]));
    }
}
