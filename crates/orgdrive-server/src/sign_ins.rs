//! Console sign-in attempts (`/console/sign-in`), counted per key (a client
//! address; an account at an address) in fixed one-minute windows on this
//! node. An attempt counts against its keys before any password is checked
//! and is taken back when it succeeds, so concurrent attempts cannot pass a
//! limit, and a person who signs in right is never slowed down. The table
//! is bounded: when it is full, keys whose window ended are dropped, and if
//! none has, attempts under new keys are refused (a flood of distinct keys
//! can neither grow memory nor switch the limit off).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a window lasts.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Keys tracked at most.
const MAX_KEYS: usize = 100_000;

/// Failed sign-ins a client address may have a minute (console people and
/// operators, and WebDAV, together; behind a proxy, everyone shares the proxy's).
pub const FAILURES_PER_ADDRESS: u32 = 30;
/// Failed sign-ins to one account from one address a minute.
pub const FAILURES_PER_ACCOUNT: u32 = 10;

/// The keys of a sign-in attempt from `peer` (to `account`, for a person).
pub fn attempt_keys(peer: Option<std::net::SocketAddr>, account: Option<&str>) -> Vec<Key> {
    let address = peer.map_or_else(|| "unknown".to_string(), |peer| peer.ip().to_string());
    let mut keys = vec![(format!("ip:{address}"), FAILURES_PER_ADDRESS)];
    if let Some(account) = account {
        let account: String = account.chars().take(128).collect();
        keys.push((format!("user:{account}@{address}"), FAILURES_PER_ACCOUNT));
    }
    keys
}

/// A key and the failed attempts it may have in one window.
pub type Key = (String, u32);

#[derive(Default)]
pub struct SignInLimiter {
    attempts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl SignInLimiter {
    /// Starts an attempt: counts it against every key, unless one of them
    /// is at its limit (then nothing is counted and the answer is false).
    pub fn begin(&self, keys: &[Key]) -> bool {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let live = |entry: Option<&(Instant, u32)>| match entry {
            Some((start, count)) if now.duration_since(*start) < WINDOW => *count,
            _ => 0,
        };
        if keys.iter().any(|(key, limit)| live(attempts.get(key)) >= *limit) {
            return false;
        }
        let new_keys = keys.iter().filter(|(key, _)| !attempts.contains_key(key)).count();
        if attempts.len() + new_keys > MAX_KEYS {
            attempts.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if attempts.len() + new_keys > MAX_KEYS {
                return false;
            }
        }
        for (key, _) in keys {
            let entry = attempts.entry(key.clone()).or_insert((now, 0));
            if now.duration_since(entry.0) >= WINDOW {
                *entry = (now, 0);
            }
            entry.1 = entry.1.saturating_add(1);
        }
        true
    }

    /// The attempt succeeded: it no longer counts.
    pub fn succeeded(&self, keys: &[Key]) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        for (key, _) in keys {
            if let Some(entry) = attempts.get_mut(key) {
                entry.1 = entry.1.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_at_its_limit_and_others_are_not() {
        let limiter = SignInLimiter::default();
        let keys = [("ip:10.0.0.1".to_string(), 30), ("user:u@10.0.0.1".to_string(), 3)];
        for _ in 0..3 {
            assert!(limiter.begin(&keys), "attempts in flight count");
        }
        assert!(!limiter.begin(&keys), "the account at this address is at its limit");
        limiter.succeeded(&keys);
        assert!(limiter.begin(&keys), "a success is taken back");
        let elsewhere = [("ip:10.0.0.2".to_string(), 30), ("user:u@10.0.0.2".to_string(), 3)];
        assert!(limiter.begin(&elsewhere), "the account elsewhere is not locked out");
        let other = [("ip:10.0.0.1".to_string(), 30), ("user:v@10.0.0.1".to_string(), 3)];
        assert!(limiter.begin(&other), "another account at the address");
    }
}
