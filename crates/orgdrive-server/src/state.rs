//! What every handler can reach ([`ServerState`]): the domain, the digest of
//! the admin token, where clients reach the server (for signed URLs), the
//! limits to enforce, whether the admin API shares the API's listener, and
//! the node's metrics.

use std::sync::Arc;

use orgdrive_core::{Drive, Seed};

use crate::faults::Faults;
use crate::journal::Journal;
use sha2::{Digest, Sha256};

use crate::delivery::Hub;
use crate::metrics::Metrics;
use crate::sign_ins::SignInLimiter;
use crate::transport::Limits;

/// What every handler can reach: one reference-counted pointer, since axum
/// clones the state for every layer and extractor of every request.
#[derive(Clone)]
pub struct ServerState(Arc<Shared>);

/// The contents of [`ServerState`].
#[derive(Clone)]
pub struct Shared {
    pub drive: Drive,
    pub(crate) admin_token_sha256: Arc<[u8; 32]>,
    /// Base of signed blob URLs (`http://host:port`); `None` = from the request's Host.
    pub(crate) public_url: Option<String>,
    /// Request deadlines and transfer rates (the connection-level ones are
    /// applied by `serve`).
    pub(crate) limits: Limits,
    /// Whether `router` serves the admin API too (else only `admin_router` does).
    pub(crate) admin_on_api_listener: bool,
    /// Event delivery on this node: Stream connections, the callback client.
    pub(crate) hub: Arc<Hub>,
    /// This node's request and transfer figures (`/metrics`).
    pub(crate) metrics: Arc<Metrics>,
    /// The digest of the token that may read `/metrics` besides the admin
    /// token (a monitoring system's: it can do nothing else).
    pub(crate) metrics_token_sha256: Option<Arc<[u8; 32]>>,
    /// The last readiness check (`/readyz`): when it ended and what it
    /// found. Probes reuse it for a second, and one check runs at a time,
    /// so that probes cannot multiply the requests to the stores.
    pub(crate) readiness: Arc<tokio::sync::Mutex<Option<(std::time::Instant, Readiness)>>>,
    /// Failed console sign-ins on this node, by client address and account.
    pub(crate) sign_ins: Arc<SignInLimiter>,
    /// WebDAV on this node: its handler, locks and verified passwords.
    pub(crate) dav: Arc<crate::dav::handler::Dav>,
    /// The content store's origin when browsers PUT uploads to it directly
    /// (read once: the console's pages allow their script to reach it).
    pub(crate) upload_origin: Arc<tokio::sync::OnceCell<Option<String>>>,
    /// What a reset returns the drive to (`--seed`; empty without one).
    pub(crate) seed: Arc<Seed>,
    /// Resets run one at a time.
    pub(crate) resetting: Arc<tokio::sync::Mutex<()>>,
    /// Faults armed through the admin API (`--allow-faults`).
    pub(crate) faults: Arc<Faults>,
    /// The last requests answered (`--journal`).
    pub(crate) journal: Arc<Journal>,
}

/// What a readiness check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    Ready,
    /// Why not (no detail of the store: the probe needs no credentials).
    NotReady(&'static str),
}

impl ServerState {
    pub fn new(drive: Drive, admin_token: &str) -> ServerState {
        let drive_for_metrics = drive.clone();
        let drive_for_dav = drive.clone();
        ServerState(Arc::new(Shared {
            drive,
            admin_token_sha256: Arc::new(Sha256::digest(admin_token).into()),
            public_url: None,
            limits: Limits::default(),
            admin_on_api_listener: true,
            hub: Arc::default(),
            metrics: Arc::new(Metrics::new(drive_for_metrics)),
            metrics_token_sha256: None,
            readiness: Arc::default(),
            sign_ins: Arc::default(),
            dav: Arc::new(crate::dav::handler::Dav::new(drive_for_dav)),
            upload_origin: Arc::default(),
            seed: Arc::default(),
            resetting: Arc::default(),
            faults: Arc::default(),
            journal: Arc::default(),
        }))
    }

    /// Keeps the last `capacity` requests in the journal (0: none), with
    /// their JSON bodies (secrets redacted) if `bodies`.
    pub fn with_journal(mut self, capacity: usize, bodies: bool) -> ServerState {
        Arc::make_mut(&mut self.0).journal = Arc::new(Journal::new(capacity, bodies));
        self
    }

    /// Lets the admin API arm faults (`--allow-faults`).
    pub fn with_faults_allowed(mut self, allowed: bool) -> ServerState {
        Arc::make_mut(&mut self.0).faults = Arc::new(Faults::new(allowed));
        self
    }

    /// What a reset returns the drive to.
    pub fn with_seed(mut self, seed: Option<Seed>) -> ServerState {
        Arc::make_mut(&mut self.0).seed = Arc::new(seed.unwrap_or_default());
        self
    }

    /// Request deadlines and transfer rates to enforce.
    pub fn with_limits(mut self, limits: Limits) -> ServerState {
        Arc::make_mut(&mut self.0).limits = limits;
        self
    }

    /// Leaves the admin API off the API listener (it is served by
    /// `admin_router` on its own address).
    pub fn with_separate_admin_listener(mut self) -> ServerState {
        Arc::make_mut(&mut self.0).admin_on_api_listener = false;
        self
    }

    /// Lets `token` read `/metrics` too (and nothing else).
    pub fn with_metrics_token(mut self, token: Option<&str>) -> ServerState {
        Arc::make_mut(&mut self.0).metrics_token_sha256 =
            token.map(|t| Arc::new(Sha256::digest(t).into()));
        self
    }

    /// Makes signed blob URLs start with `url` (e.g. `https://drive.example.com`).
    pub fn with_public_url(mut self, url: Option<String>) -> ServerState {
        Arc::make_mut(&mut self.0).public_url = url.map(|u| u.trim_end_matches('/').to_string());
        self
    }
}

impl ServerState {
    /// Whether `token` is the admin token (compared by digest, so the
    /// comparison's time says nothing about the token).
    pub(crate) fn is_admin_token(&self, token: &str) -> bool {
        !token.is_empty()
            && <[u8; 32]>::from(Sha256::digest(token.trim())) == *self.admin_token_sha256
    }

    /// Delivers the outbox's events (Stream connections of this state's
    /// router, HTTP callbacks) until the process ends.
    pub async fn deliver_events(&self) {
        crate::delivery::run(self.drive.clone(), Arc::clone(&self.hub)).await
    }
}

impl std::ops::Deref for ServerState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
