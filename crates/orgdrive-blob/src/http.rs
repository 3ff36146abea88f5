//! The HTTP client object stores are reached with, and how long its
//! requests may wait ([`Waits`]).

use std::time::Duration;

/// How long a request to an object store may wait, at most: past either
/// wait it fails ([`crate::BlobError::is_unreachable`]) instead of holding its
/// caller until the kernel gives up (a review found a commit held for
/// minutes by a store that stopped answering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// For a connection to open (default 10 s).
    pub connect: Duration,
    /// From sending a request to the head of its answer, then again for
    /// each next piece of its body (default 300 s: some stores answer a
    /// server-side copy, up to 5 GiB, only once it is done).
    pub read: Duration,
}

impl Default for Waits {
    fn default() -> Waits {
        Waits { connect: Duration::from_secs(10), read: Duration::from_secs(300) }
    }
}

/// An HTTP client whose waits for an object store are bounded.
pub(crate) fn bounded_http_client(waits: Waits) -> reqwest::ClientBuilder {
    reqwest::Client::builder().connect_timeout(waits.connect).read_timeout(waits.read)
}
