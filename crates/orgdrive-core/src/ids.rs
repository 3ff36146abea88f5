//! Identifiers: decimal-string ids unique across nodes, random opaque ones,
//! and the root folder's fixed id.
//!
//! Decimal ids are snowflakes: 41 bits of milliseconds since 2024-01-01, 10 bits
//! of node number (allocated by the metadata store at startup) and 12 bits of
//! per-millisecond sequence. They sort by creation time.

use std::sync::Mutex;

use rand::distr::{Alphanumeric, SampleString};
use rand::Rng;

/// The id of every space's root folder (not a dentry row; it has no parent).
pub const ROOT_ID: &str = "0";

const EPOCH_MS: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
const NODE_BITS: u32 = 10;
const SEQ_BITS: u32 = 12;

pub struct IdGenerator {
    node: i64,
    state: Mutex<(i64, i64)>, // (last millisecond, sequence within it)
}

impl IdGenerator {
    pub fn new(node_number: i64) -> IdGenerator {
        IdGenerator { node: node_number & ((1 << NODE_BITS) - 1), state: Mutex::new((0, 0)) }
    }

    /// A new decimal id, e.g. `"40715398612889600"`.
    pub fn next(&self) -> String {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut now = crate::now_ms() - EPOCH_MS;
        if now < state.0 {
            now = state.0; // clock stepped back: keep ids increasing
        }
        if now == state.0 {
            state.1 += 1;
            if state.1 >= 1 << SEQ_BITS {
                now += 1; // sequence exhausted: borrow the next millisecond
                state.1 = 0;
            }
        } else {
            state.1 = 0;
        }
        state.0 = now;
        ((now << (NODE_BITS + SEQ_BITS)) | (self.node << SEQ_BITS) | state.1).to_string()
    }
}

impl orgdrive_store::IdSource for IdGenerator {
    fn next_id(&self) -> String {
        self.next()
    }

    fn next_uuid(&self) -> String {
        new_uuid()
    }
}

/// A new dentry `uuid`: 24 letters and digits (see [`time_ordered_alnum`];
/// 95 random bits).
pub fn new_uuid() -> String {
    time_ordered_alnum(24)
}

/// `len` (at least 8) letters and digits: the creation millisecond in 8
/// base-62 digits, then random ones. Names made later sort later, so an
/// index on them grows at its right edge (one page per batch of inserts, not
/// one page per insert as random keys cost): dentry uuids, content object
/// names (`dentries_by_blob`).
pub fn time_ordered_alnum(len: usize) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut name = String::with_capacity(len.max(8));
    let mut ms = crate::now_ms().max(0) as u64;
    let mut time = [0u8; 8];
    for digit in time.iter_mut().rev() {
        *digit = DIGITS[(ms % 62) as usize];
        ms /= 62;
    }
    name.extend(time.iter().map(|&b| b as char));
    name.push_str(&random_alnum(len.saturating_sub(8)));
    name
}

/// The creation millisecond of a [`time_ordered_alnum`] name (None if its
/// first 8 characters are not base-62 digits).
pub(crate) fn time_ordered_ms(name: &str) -> Option<i64> {
    let digits = name.as_bytes().get(..8)?;
    digits.iter().try_fold(0i64, |ms, &b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 36,
            _ => return None,
        };
        ms.checked_mul(62)?.checked_add(i64::from(digit))
    })
}

/// Random letters and digits.
pub fn random_alnum(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// A random secret token (admin tokens, access tokens): 32 letters and digits.
pub fn random_token() -> String {
    random_alnum(32)
}

/// A new server secret (signing key, admin token): 43 random letters and
/// digits, i.e. at least 256 bits.
pub fn random_secret() -> String {
    random_alnum(43)
}

/// Random lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_increasing_decimal_strings() {
        let ids = IdGenerator::new(3);
        let all: Vec<i64> = (0..20_000).map(|_| ids.next().parse().unwrap()).collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());
    }

    #[test]
    fn uuids_are_24_alphanumerics_that_sort_by_creation() {
        let first = new_uuid();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_uuid();
        for uuid in [&first, &second] {
            assert_eq!(uuid.len(), 24);
            assert!(uuid.bytes().all(|b| b.is_ascii_alphanumeric()), "{uuid}");
        }
        assert!(first < second, "{first} !< {second}");
        assert_ne!(first[8..], second[8..], "the random part differs");
    }

    #[test]
    fn different_nodes_never_collide() {
        let a = IdGenerator::new(1);
        let b = IdGenerator::new(2);
        let mut seen = HashSet::new();
        for _ in 0..5_000 {
            assert!(seen.insert(a.next()));
            assert!(seen.insert(b.next()));
        }
    }
}
