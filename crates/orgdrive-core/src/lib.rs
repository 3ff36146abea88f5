//! orgdrive's domain: the rules of the DingTalk storage model, free of HTTP
//! and SQL. [`Drive`] is the service API the HTTP layer and the command line
//! call; it owns a metadata store ([`orgdrive_store::MetaStore`]) and a content
//! store ([`orgdrive_blob::BlobStore`]).
//!
//! Modules: `identity` (orgs, apps, users, departments, first-start demo data),
//! `auth` (access tokens, scopes, the acting operator, other orgs' spaces
//! hidden), `policy` (roles, capabilities and the one place that decides
//! "may this operator do this here?"), `permissions` (grants: the five
//! permission operations), `cache` (short-lived read
//! caches of callers, orgs, spaces and folder paths), `spaces` (spaces and
//! their quota views), `dentries` (folders, reads and listings, conflict
//! strategies, app properties), `lifecycle` (rename, move, copy, delete,
//! batches), `recycle` (the recycle bin), `versions` (history versions, app
//! property edits), `tasks` (persisted asynchronous tasks), `thumbnails`
//! (GetDentryThumbnails, thumbnails made in the background), `transfer`
//! (uploads, downloads, signed URLs, the upload sweeper), `wopi` (WebOffice:
//! GetWebOfficeUrl, RefreshWebOfficeToken and the WOPI host), `names` (the naming
//! rule), `console` (console passwords, sessions and the console app people
//! act through), `fsck` (the consistency check), `health` (readiness and the
//! figures operators scrape), `validate` (input rules shared by
//! operations).

mod auth;
pub mod backup;
mod cache;
mod clock;
mod console;
mod content;
mod dentries;
mod error;
mod events;
mod fsck;
mod health;
mod identity;
mod ids;
mod lifecycle;
mod names;
mod open_info;
mod paths;
pub use paths::{FileWrite, MAX_DEAD_PROPERTIES, MAX_DEAD_PROPERTY_BYTES};
mod permissions;
mod policy;
mod recycle;
mod scope;
mod seed;
mod spaces;
mod tasks;
mod thumbnails;
mod tools;
mod transfer;
mod validate;
mod versions;
mod wopi;

use std::sync::Arc;

pub use auth::{
    access_token_digest, AccessToken, Operator, ACCESS_TOKEN_MAX_LIFE_SECS, ACCESS_TOKEN_TTL_SECS,
};
pub use cache::{CacheChange, CacheFigures};
pub use clock::{clock_offset_ms, iso8601, now_ms};
pub use console::{
    task_kind, ConsoleCaller, ConsoleSignIn, OrgUsage, CONSOLE_APP_NAME, CONSOLE_SESSION_TTL_MS,
    MAX_PASSWORD_BYTES, MAX_PERSON_SPACES, MIN_PASSWORD_CHARS,
};
pub use dentries::{
    AppProperty, AppPropertyInput, ConflictStrategy, DentryResult, DentryView, ListAll,
    ListChildren, NewFolder, Page, PropertyFilter, MAX_BATCH_IDS, MAX_PAGE,
};
pub use error::{DriveError, DriveResult, NoThumbnail};
pub use events::{
    CallbackInput, EventBatch, StreamTicket, DELIVERY_BATCH, DELIVERY_LEASE_MS,
    EVENT_RETENTION_COUNT, EVENT_RETENTION_MS, RETRY_FIRST_MS, RETRY_MAX_MS, STREAM_TICKET_TTL_MS,
};
pub use fsck::{FsckReport, Problem, FSCK_GRACE_SECS};
pub use identity::{CreatedApp, DemoAccount, NewApp, NewDept, NewOrg, NewUser};
pub use ids::{random_secret, random_token, ROOT_ID};
pub use lifecycle::{
    BatchItem, Landing, Relocated, Relocation, MAX_COPY_IDS, MAX_DELETE_IDS, MAX_MOVE_IDS,
};
pub use names::{dentry_name, rename_pattern, split_extension};
pub use open_info::{
    preview_kind, OpenInfo, OpenInfoRequest, OpenLinkInput, PreviewKind, PreviewMedia, PreviewPage,
    PreviewRefused, MAX_OPEN_INFOS_PER_CALL, MAX_OPEN_LINKS_PER_DENTRY, MAX_PDF_PREVIEW_PAGES,
    MAX_PREVIEW_TEXT_BYTES, PREVIEW_LINK_TTL_SECS,
};
pub use orgdrive_blob::{BlobStore, Download, Presigner};
pub use orgdrive_store::{
    AppRecord, CallbackRecord, CursorRecord, DeadProperty, DentryRecord, DeptRecord, EventRecord,
    EventScope, EventType, GrantRecord, Lease, MetaStore, OpenUploadLimits, OrgRecord,
    RecycleBinRecord, RecycleItemRecord, RecycleScope, SharedDentry, SpaceRecord, StoreError,
    StoreGauges, SubscriptionRecord, TaskOp, TaskRecord, TaskStatus, TreeNode, UsageParts,
    UserRecord, WriteFigures,
};
pub use permissions::{
    GrantInput, GrantPage, MemberInput, DEFAULT_GRANT_PAGE, MAX_GRANT_MEMBERS, MAX_GRANT_PAGE,
    MAX_GRANT_SECS, MAX_ROLE_FILTER,
};
pub use policy::{Capability, Operation, Role};
pub use recycle::{RecyclePage, MAX_PURGE_IDS, MAX_RECYCLE_PAGE, MAX_RESTORE_IDS};
pub use scope::Scope;
pub use seed::{Seed, SeedApp, SeedDept, SeedFile, SeedOrg, SeedReport, SeedSpace, SeedUser};
pub use spaces::{
    AppView, NewSpace, OrgView, Partition, PartitionQuota, QuotaType, SpaceView, PARTITION_TYPE,
};
pub use tasks::{
    Takeover, MAX_TASK_ATTEMPTS, MAX_UNFINISHED_TASKS_PER_APP, TASK_CLAIM_MS, TASK_RETENTION_MS,
};
pub use thumbnails::{has_thumbnail, Thumbnail, ThumbnailResult, MAX_SOURCE_BYTES, THUMBNAIL_EDGE};
pub use transfer::{
    BlobObject, CommitRequest, PreCheck, SignedUrl, UploadRequest, UploadTicket,
    MAX_OPEN_UPLOADS_PER_APP, MAX_OPEN_UPLOADS_PER_SPACE, MAX_PUT_BYTES, MIN_FREE_DISK_BYTES,
    MIN_PART_BYTES,
};
pub use versions::MAX_VERSION_PAGE;
pub use wopi::{
    check_wopi_client_url, LockRequest, WebOfficeTokens, WebOfficeUrl, WopiError, WopiFileInfo,
    WopiSession, WOPI_ACCESS_TTL_SECS, WOPI_LOCK_TTL_SECS, WOPI_MAX_LOCK_ID, WOPI_REFRESH_TTL_SECS,
};

/// Settings of the drive service.
#[derive(Debug, Clone)]
pub struct DriveOptions {
    /// Secret that signs blob URLs.
    pub signing_key: Vec<u8>,
    /// Validity of signed upload/download URLs, in seconds.
    pub signed_url_ttl_secs: i64,
    /// Time an upload may stay uncommitted before it is swept, in seconds.
    pub upload_ttl_secs: i64,
    /// Caps on uploads open at once, per space and per app.
    pub open_uploads: OpenUploadLimits,
    /// Free disk (on the blob store's filesystem) below which uploads are refused.
    pub min_free_disk_bytes: u64,
    /// Whether the admin API may move the clock forward (tests, emulation).
    pub allow_clock_control: bool,
    /// Whether the admin API may reset the drive to its seed (tests,
    /// emulation: `--allow-reset`, or `--ephemeral`).
    pub allow_reset: bool,
    /// The WOPI client's editor URL (its discovery `urlsrc`, checked by
    /// [`check_wopi_client_url`]); `None`: WebOffice is not offered.
    pub wopi_client_url: Option<String>,
    /// How long a node's claim on a task it runs lasts: another node takes
    /// the task over once it expired (its node died).
    pub task_claim_ms: i64,
    /// Other nodes write the same metadata store (PostgreSQL): answers that
    /// must show every committed change (GetSpace's byte counts) read the
    /// store, not this node's caches, which other nodes' writes reach only
    /// within their TTL.
    pub shared_store: bool,
}

impl DriveOptions {
    /// Default lifetimes with this signing key.
    pub fn new(signing_key: &[u8]) -> DriveOptions {
        DriveOptions {
            signing_key: signing_key.to_vec(),
            signed_url_ttl_secs: transfer::URL_TTL_SECS,
            upload_ttl_secs: transfer::UPLOAD_TTL_SECS,
            open_uploads: OpenUploadLimits {
                per_space: transfer::MAX_OPEN_UPLOADS_PER_SPACE,
                per_app: transfer::MAX_OPEN_UPLOADS_PER_APP,
            },
            min_free_disk_bytes: transfer::MIN_FREE_DISK_BYTES,
            allow_clock_control: false,
            allow_reset: false,
            wopi_client_url: None,
            task_claim_ms: tasks::TASK_CLAIM_MS,
            shared_store: false,
        }
    }
}

/// How often stray upload objects are looked for on presigning stores.
const STRAY_SWEEP_PERIOD_MS: i64 = 10 * 60 * 1000;

/// The drive service: every operation of the API goes through here.
/// The periodic job [`Drive::sweep`] claims.
const SWEEPER_JOB: &str = "sweeper";
/// The sweeper's claim lasts this many sweep periods (renewed at each).
pub const SWEEPER_CLAIM_PERIODS: i64 = 3;

#[derive(Clone)]
pub struct Drive {
    meta: Arc<dyn MetaStore>,
    blob: BlobStore,
    presigner: Presigner,
    options: Arc<DriveOptions>,
    ids: Arc<ids::IdGenerator>,
    cache: Arc<cache::ReadCache>,
    /// Disk bytes claimed by uploads in flight (the free-space floor).
    disk_in_flight: Arc<transfer::DiskInFlight>,
    /// The upload keys this node is committing (one commit of a key at a time).
    committing: Arc<transfer::Committing>,
    /// Runs this node's tasks one at a time.
    tasks: Arc<tasks::TaskQueue>,
    /// Makes this node's thumbnails, one at a time.
    thumbnails: Arc<thumbnails::Thumbnailer>,
    /// This node's number (unique among the nodes sharing the store).
    node: i64,
    /// When the next sweep of stray upload objects is due (ms; presigning
    /// stores only: it lists every upload's objects, so not every minute).
    stray_sweep_due: Arc<std::sync::atomic::AtomicI64>,
}

impl Drive {
    /// Builds the service over its stores. Registers this process as a node so
    /// that the ids it generates never collide with another node's.
    pub async fn new(
        meta: Arc<dyn MetaStore>,
        blob: BlobStore,
        options: DriveOptions,
    ) -> DriveResult<Drive> {
        let node = meta.register_node(now_ms()).await?;
        blob.check().await.map_err(|e| DriveError::Internal(e.to_string()))?;
        blob.prepare(&["objects/", "parts/", "thumbs/"])
            .await
            .map_err(|e| DriveError::Internal(e.to_string()))?;
        let presigner = Presigner::new(&options.signing_key);
        let ids = Arc::new(ids::IdGenerator::new(node));
        let cache = Arc::new(cache::ReadCache::new());
        let disk_in_flight = Arc::default();
        Ok(Drive {
            meta,
            blob,
            presigner,
            options: Arc::new(options),
            ids,
            cache,
            disk_in_flight,
            tasks: Arc::default(),
            thumbnails: Arc::new(thumbnails::Thumbnailer::new()),
            node,
            stray_sweep_due: Arc::default(),
            committing: Arc::default(),
        })
    }

    /// The settings this service runs with.
    pub fn options(&self) -> &DriveOptions {
        &self.options
    }

    /// The content store.
    pub fn blob(&self) -> &BlobStore {
        &self.blob
    }

    /// Periodic housekeeping, called every `period` on every node. On every
    /// node: removes what interrupted writes left on this node's disk. On
    /// the one node that holds the sweeper's claim (taken for a few periods
    /// and renewed at each call, so another node takes over within
    /// [`SWEEPER_CLAIM_PERIODS`] periods of this one dying): removes expired
    /// access tokens, grants, WebOffice token pairs, WOPI locks and console
    /// sessions, uploads
    /// that expired uncommitted together with their bytes, content objects
    /// left in the trash, tasks and events past their retention, and runs the
    /// tasks whose node stopped holding them. Answers whether this node
    /// held the claim.
    pub async fn sweep(&self, period: std::time::Duration) -> DriveResult<bool> {
        self.sweep_incoming().await?;
        let now = now_ms();
        let claim = i64::try_from(period.as_millis()).unwrap_or(i64::MAX / 4).max(1000)
            * SWEEPER_CLAIM_PERIODS;
        let lease = Lease { node: self.node, now_ms: now, until_ms: now + claim, steal: false };
        if !self.meta.lease_job(SWEEPER_JOB, &lease).await? {
            return Ok(false);
        }
        // First: it also numbers the events appended since (on PostgreSQL
        // nothing else does while no app subscribes), and a failure of a
        // later step must not let that backlog grow.
        self.purge_old_events().await?;
        self.meta.purge_expired_tokens(now_ms()).await?;
        self.meta.purge_expired_grants(now_ms()).await?;
        self.meta.purge_expired_wopi(now_ms()).await?;
        self.meta.purge_expired_console_sessions(now_ms()).await?;
        self.sweep_uploads().await?;
        if self.blob.presigns() {
            use std::sync::atomic::Ordering;
            let now = now_ms();
            let due = self.stray_sweep_due.load(Ordering::Relaxed);
            if now >= due
                && self
                    .stray_sweep_due
                    .compare_exchange(
                        due,
                        now + STRAY_SWEEP_PERIOD_MS,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                self.sweep_stray_uploads().await?;
            }
        }
        self.sweep_trash().await?;
        self.purge_old_tasks().await?;
        self.resume_tasks(Takeover::Abandoned).await?;
        Ok(true)
    }

    /// The cache entries this node drops after its own changes commit, for
    /// a relay to the other nodes sharing the store (see [`CacheChange`]).
    pub fn cache_changes(&self) -> tokio::sync::broadcast::Receiver<CacheChange> {
        self.cache.subscribe()
    }

    /// Drops what a change on another node invalidated.
    pub fn apply_cache_change(&self, change: &CacheChange) {
        self.cache.apply(change);
    }

    /// Drops every cached entry another node could have changed: for a
    /// relay that may have missed changes (it reconnected, or fell behind).
    pub fn forget_shared_cache(&self) {
        self.cache.forget_shared();
    }

    /// Gives up this node's background claims (the sweeper's), so that
    /// another node takes the work over at once; for a server stopping.
    pub async fn release_claims(&self) -> DriveResult<()> {
        Ok(self.meta.release_job(SWEEPER_JOB, self.node).await?)
    }

    /// Deletes the content objects in the trash (a crash or a failed delete
    /// left them there).
    pub async fn sweep_trash(&self) -> DriveResult<()> {
        loop {
            let objects = self.meta.trashed_objects(500).await?;
            let found = objects.len();
            // Stop when a page was short or an object could not be deleted
            // (the next sweep tries again).
            if self.empty_trash(objects).await < 500 || found < 500 {
                return Ok(());
            }
        }
    }

    /// Moves the clock forward by `seconds` (at most ten years at a time),
    /// if this drive was opened with clock control; answers the clock's
    /// offset, in milliseconds.
    pub fn advance_clock(&self, seconds: i64) -> DriveResult<i64> {
        if !self.options.allow_clock_control {
            return Err(DriveError::PermissionDenied(
                "clock control is off (start the server with --allow-clock-control)".into(),
            ));
        }
        if !(0..=10 * 365 * 24 * 3600).contains(&seconds) {
            return Err(DriveError::param("seconds", "seconds must be 0 to 315360000"));
        }
        // Cached callers carry their token's expiry, read against the clock
        // when used; cached spaces and paths do not expire by it.
        self.cache.forget_identities();
        Ok(clock::advance_clock_ms(seconds * 1000))
    }

    /// Finishes the metadata writes already accepted and closes the store.
    pub async fn close(&self) {
        self.meta.close().await;
    }

    /// For a server starting on its stores, when no request can be in
    /// flight: drops the byte reservations PUTs of an earlier process held
    /// (a crash cannot release them), keeping those of recorded parts.
    pub async fn reset_reservations(&self) -> DriveResult<u64> {
        Ok(self.meta.reset_reservations().await?)
    }
}
