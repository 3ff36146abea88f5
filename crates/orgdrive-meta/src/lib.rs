//! orgdrive's metadata store: the records it keeps and the traits the domain
//! talks to — [`IdentityStore`] (orgs, apps, users, departments, tokens) and
//! [`DriveStore`] (spaces, files and folders, versions, uploads, byte
//! counters), together [`MetaStore`]. Each database dialect implements them in
//! its own module with its own migrations (`migrations/<dialect>/`); the
//! embedded default is [`SqliteStore`]. Invariants the API depends on (unique
//! keys, foreign keys, idempotency keys, quota checks) are enforced inside the
//! store's transactions, not by callers.

mod records;
mod sqlite;

pub use records::*;
pub use sqlite::{SqliteOptions, SqliteStore};

use async_trait::async_trait;

/// What a store operation can fail with, independent of the database dialect.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MetaError {
    /// A unique key would be violated; `what` names the key (e.g. `apps.app_key`).
    #[error("duplicate {what}")]
    Duplicate { what: String },
    /// A referenced row does not exist (e.g. a user for an unknown org).
    #[error("referenced record does not exist")]
    MissingReference,
    /// The row is still referenced and cannot be deleted (e.g. an org that owns spaces).
    #[error("record is still referenced")]
    InUse,
    /// A live sibling has the name (conflict strategy `Fail`, or a folder in the way).
    #[error("name is taken by {0:?}")]
    NameTaken(Box<DentryRecord>),
    /// The parent is not a live folder of the space.
    #[error("parent folder does not exist")]
    ParentNotFound,
    /// The upload was already committed, discarded or swept.
    #[error("upload does not exist")]
    UploadNotFound,
    /// Charging the bytes would exceed the space quota (`space`) or the org capacity.
    #[error("quota exceeded")]
    QuotaExceeded { space: bool },
    /// The upload's parts would together exceed its announced size.
    #[error("the parts would exceed the announced size")]
    UploadTooLarge,
    /// A commit's parts are no longer the upload's recorded parts (a PUT
    /// replaced one meanwhile).
    #[error("the upload changed while it was being committed")]
    UploadChanged,
    /// The space (`per_space`) or the app has as many open uploads as allowed.
    #[error("too many open uploads")]
    TooManyUploads { per_space: bool },
    /// Anything else from the database.
    #[error("metadata store: {0}")]
    Backend(String),
}

pub type MetaResult<T> = Result<T, MetaError>;

/// Everything the domain needs from a metadata store.
pub trait MetaStore: IdentityStore + DriveStore {}
impl<T: IdentityStore + DriveStore> MetaStore for T {}

/// Orgs, apps, users, departments, access tokens. Every method is one transaction.
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Registers a starting server node and returns its number (unique per store).
    async fn register_node(&self, now_ms: i64) -> MetaResult<i64>;
    /// True when the store holds no organization yet (first start).
    async fn is_empty(&self) -> MetaResult<bool>;

    async fn insert_org(&self, org: &OrgRecord) -> MetaResult<()>;
    async fn get_org(&self, corp_id: &str) -> MetaResult<Option<OrgRecord>>;
    async fn list_orgs(&self) -> MetaResult<Vec<OrgRecord>>;
    /// Deletes the org with its apps, users and departments; `InUse` while it owns spaces.
    async fn delete_org(&self, corp_id: &str) -> MetaResult<bool>;

    async fn insert_app(&self, app: &AppRecord) -> MetaResult<()>;
    async fn get_app_by_key(&self, app_key: &str) -> MetaResult<Option<AppRecord>>;
    async fn list_apps(&self, corp_id: &str) -> MetaResult<Vec<AppRecord>>;
    /// Deletes the app and its tokens; `InUse` while it owns spaces.
    async fn delete_app(&self, corp_id: &str, app_id: &str) -> MetaResult<bool>;

    async fn insert_user(&self, user: &UserRecord) -> MetaResult<()>;
    async fn get_user(&self, corp_id: &str, union_id: &str) -> MetaResult<Option<UserRecord>>;
    async fn list_users(&self, corp_id: &str) -> MetaResult<Vec<UserRecord>>;
    async fn delete_user(&self, corp_id: &str, union_id: &str) -> MetaResult<bool>;

    async fn insert_dept(&self, dept: &DeptRecord) -> MetaResult<()>;
    async fn list_depts(&self, corp_id: &str) -> MetaResult<Vec<DeptRecord>>;
    /// Deletes the department; `InUse` while it has child departments.
    async fn delete_dept(&self, corp_id: &str, dept_id: &str) -> MetaResult<bool>;
    async fn add_dept_member(&self, corp_id: &str, dept_id: &str, union_id: &str)
        -> MetaResult<()>;
    async fn list_dept_members(&self, corp_id: &str, dept_id: &str) -> MetaResult<Vec<UserRecord>>;
    async fn remove_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> MetaResult<bool>;

    async fn insert_token(&self, token: &TokenRecord) -> MetaResult<()>;
    /// One lookup for every API call: the app of the live token with this hash
    /// and, when `union_id` names a user of that app's org, the user.
    async fn find_caller(
        &self,
        token_hash: &str,
        union_id: &str,
        now_ms: i64,
    ) -> MetaResult<Option<Caller>>;
    /// Removes tokens that expired before `now_ms`; returns how many.
    async fn purge_expired_tokens(&self, now_ms: i64) -> MetaResult<u64>;
}

/// Spaces and their trees. Every method is one transaction.
#[async_trait]
pub trait DriveStore: Send + Sync + 'static {
    /// Inserts the space unless one with the same (corp, app, scene, sceneId)
    /// exists; returns the space stored under that key and whether it is new.
    async fn insert_space_once(&self, space: &SpaceRecord) -> MetaResult<(SpaceRecord, bool)>;
    async fn get_space(&self, space_id: &str) -> MetaResult<Option<SpaceRecord>>;
    /// Bytes charged to the org (all its spaces).
    async fn org_used_bytes(&self, corp_id: &str) -> MetaResult<i64>;
    /// Bytes used by all spaces of the app.
    async fn app_used_bytes(&self, app_id: &str) -> MetaResult<i64>;

    /// The dentry (with its app properties), whatever its status.
    async fn get_dentry(&self, space_id: &str, dentry_id: &str)
        -> MetaResult<Option<DentryRecord>>;
    /// The dentries among `dentry_ids` that exist in the space, in any order.
    async fn get_dentries(
        &self,
        space_id: &str,
        dentry_ids: &[String],
    ) -> MetaResult<Vec<DentryRecord>>;
    /// Names of the live folders from the root down to `folder_id` (empty for
    /// the root); `None` if it is not a live folder of the space.
    async fn folder_names(
        &self,
        space_id: &str,
        folder_id: &str,
    ) -> MetaResult<Option<Vec<String>>>;
    /// Up to `limit` live children of `parent_id` after `after`, in `key` order.
    async fn list_children(
        &self,
        space_id: &str,
        parent_id: &str,
        key: SortKey,
        descending: bool,
        after: Option<&Cursor>,
        limit: u32,
    ) -> MetaResult<Vec<DentryRecord>>;
    /// Up to `limit` live dentries of the whole space after `after`, by modified time.
    async fn list_space(
        &self,
        space_id: &str,
        descending: bool,
        after: Option<&Cursor>,
        limit: u32,
    ) -> MetaResult<Vec<DentryRecord>>;
    async fn get_version(&self, dentry_id: &str, version: i64)
        -> MetaResult<Option<VersionRecord>>;
    /// Creates a dentry under the conflict rule; for files also consumes the
    /// upload and charges `dentry.size` to the space and org counters, failing
    /// with `QuotaExceeded` (and changing nothing) when a cap would be passed.
    async fn put_dentry(&self, put: &PutDentry) -> MetaResult<PutOutcome>;
    /// Bulk load for tests and benchmarks: inserts the dentries as given, with
    /// no conflict handling and no quota charge.
    async fn insert_dentries_unchecked(&self, dentries: &[DentryRecord]) -> MetaResult<()>;

    /// Opens an upload unless its space or app already has as many open
    /// uploads as `limits` allow (`TooManyUploads`).
    async fn insert_upload(
        &self,
        upload: &UploadRecord,
        limits: &OpenUploadLimits,
    ) -> MetaResult<()>;
    /// The upload and the parts received so far.
    async fn get_upload(
        &self,
        upload_key: &str,
    ) -> MetaResult<Option<(UploadRecord, Vec<UploadPartRecord>)>>;
    /// Reserves bytes for a PUT of part `part_number` (about to start, or
    /// growing), against the upload's announced size (`UploadTooLarge`; the
    /// part's earlier recorded bytes do not count, they are being replaced),
    /// the space quota and the org capacity (`QuotaExceeded`, counting
    /// committed and reserved bytes); returns the bytes reserved:
    /// `Reserve::Exactly(n)` reserves n or fails, `Reserve::AtMost(n)` as
    /// much of n as there is room for (at least one byte, else it fails).
    /// `UploadNotFound` if the upload is gone or expired at `now_ms`.
    async fn reserve_upload_bytes(
        &self,
        upload_key: &str,
        part_number: i64,
        bytes: Reserve,
        now_ms: i64,
    ) -> MetaResult<i64>;
    /// Sets every upload's reservation to the bytes of its recorded parts
    /// (dropping what PUTs in flight held) and the space and org counters to
    /// their sums: for a server starting on the store, when no PUT can be in
    /// flight. Returns how many counters changed.
    async fn reset_reservations(&self) -> MetaResult<u64>;
    /// Gives back a reservation whose PUT failed (nothing if the upload is
    /// gone: its removal released everything it held).
    async fn release_upload_bytes(&self, upload_key: &str, bytes: i64) -> MetaResult<()>;
    /// Records (or replaces) a received part written under `reserved` bytes
    /// of reservation: the reservation becomes the part's size and an
    /// earlier recording of the part is released.
    async fn record_upload_part(
        &self,
        upload_key: &str,
        part: &UploadPartRecord,
        reserved: i64,
    ) -> MetaResult<PartRecorded>;
    /// Deletes up to `limit` uploads that expired before `before_ms`,
    /// releasing their reservations, and returns them with their recorded
    /// objects (the caller removes the bytes).
    async fn take_expired_uploads(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> MetaResult<Vec<ExpiredUpload>>;

    /// What fsck checks: content references, open uploads, counters and the
    /// sums they summarise, the trees, duplicate live names.
    async fn consistency_scan(&self) -> MetaResult<ConsistencyScan>;
    /// Sets every space and org byte counter (used and reserved) to the sum
    /// it summarises; returns how many counters changed.
    async fn repair_usage(&self) -> MetaResult<u64>;
}
