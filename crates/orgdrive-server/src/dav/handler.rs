//! The WebDAV service one server holds (in its state, so it depends on
//! nothing that depends on the state): dav-server's handler over the
//! drive, its locks, and the console passwords verified lately. The
//! request handling around it is `mod.rs`.

use std::time::Duration;

use dav_server::{DavHandler, DavMethodSet};

use super::fs::{Caller, DriveFs};
use super::locks::ExpiringLocks;

/// How long a verified console password is taken without hashing it again
/// (each use still checks that the user's stored hash is the one verified).
pub const VERIFIED_TTL: Duration = Duration::from_secs(60);

/// The WebDAV handler of this node: the protocol, its locks, and the
/// console passwords verified lately.
pub struct Dav {
    pub(super) handler: DavHandler<Caller>,
    pub(super) fs: DriveFs,
    pub(super) locks: ExpiringLocks,
    /// SHA-256 of `unionId \0 password` → the stored hash it was verified against.
    pub(super) verified: moka::sync::Cache<[u8; 32], String>,
}

impl Dav {
    pub fn new(drive: orgdrive_core::Drive) -> Dav {
        let mut methods = DavMethodSet::WEBDAV_RW;
        // SabreDAV's partial PATCH writes into the middle of a file: the API cannot.
        methods.remove(dav_server::DavMethod::Patch);
        let fs = DriveFs { drive };
        let locks = ExpiringLocks::new();
        let handler = DavHandler::builder()
            .strip_prefix("/dav")
            .filesystem(Box::new(fs.clone()))
            .locksystem(Box::new(locks.clone()))
            .methods(methods)
            .build_handler();
        let verified =
            moka::sync::Cache::builder().max_capacity(10_000).time_to_live(VERIFIED_TTL).build();
        Dav { handler, fs, locks, verified }
    }
}
