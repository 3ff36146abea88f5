//! orgdrive's metadata store contract: the records the domain and a store
//! exchange ([`records`]), the traits a backend implements, grouped by
//! concern — [`IdentityStore`] (orgs, apps, users, departments, access
//! tokens), [`SpaceStore`], [`DentryStore`] (files, folders, versions),
//! [`TreeStore`], [`RecycleStore`] and [`TaskStore`] (the dentry lifecycle),
//! [`GrantStore`] (permissions), [`EventStore`] (the outbox, subscriptions,
//! delivery cursors, callbacks), [`ThumbnailStore`], [`UploadStore`] (upload sessions and their byte reservations),
//! [`InlineObjectStore`] (small content objects kept in the store itself),
//! [`MaintenanceStore`] (nodes, consistency scans, repair, close), [`WopiStore`]
//! (WebOffice tokens and locks, [`wopi`]), [`ConsoleStore`] (console
//! passwords and sessions, [`console`]) — together
//! [`MetaStore`], and the typed [`StoreError`]. No database here: each backend
//! is its own crate (`orgdrive-sqlite`, the embedded default) and proves
//! itself with the behaviour suite ([`suite`], feature `suite`), written once
//! for every backend.
//!
//! # Guarantees every backend gives
//!
//! - **One method, one transaction.** Every method is atomic: it happens
//!   entirely or not at all, and a method that fails with any error has
//!   changed nothing. Checks that a method documents (unique keys, quota,
//!   conflict rules, "consumed once") are made inside that transaction, so
//!   concurrent callers — on this node or another node sharing the store —
//!   cannot both pass them.
//! - **Durable when acknowledged.** Once a write method returns `Ok`, its
//!   effect survives a crash of the process and, unless the backend was
//!   opened without durability, a power loss — except the upload bookkeeping
//!   that [`UploadStore`] marks *deferred*: a power loss (and, where the
//!   store is a server of its own, a crash of that server) may undo it until
//!   a durable write to the store, called after it returned, has returned
//!   itself. A power loss only ever undoes a tail of the writes, in commit
//!   order.
//! - **Read-your-writes.** A read that starts after a write returned sees
//!   that write (reads may see a slightly older snapshot only with respect to
//!   writes still in flight).
//! - **Ordering.** Names compare bytewise (UTF-8 bytes, no locale, no case
//!   folding): SQLite's `BINARY` collation, PostgreSQL's `COLLATE "C"`. Every
//!   keyset page is ordered by its sort value, then by `dentry_id` bytewise,
//!   so pages never repeat or skip an entry that stays put.
//! - **Ids are the caller's.** The store never invents ids except node
//!   numbers ([`MaintenanceStore::register_node`]) and events' `seq` and
//!   `event_id`.
//! - **No change without its event.** Every method that changes what a
//!   user sees of a tree (a dentry created, copied, given a version,
//!   renamed, moved, recycled, restored, deleted; a grant written or
//!   revoked) appends its [`EventRecord`]s in its own transaction.

pub mod console;
pub mod dav;
mod error;
pub mod events;
pub mod grants;
pub mod lifecycle;
pub mod records;
#[cfg(feature = "suite")]
pub mod suite;
pub mod wopi;

pub use console::*;
pub use dav::*;
pub use error::{Key, StoreError, StoreResult};
pub use events::*;
pub use grants::*;
pub use lifecycle::*;
pub use records::*;
pub use wopi::*;

use async_trait::async_trait;

/// Everything the domain needs from a metadata store.
pub trait MetaStore:
    IdentityStore
    + SpaceStore
    + DentryStore
    + TreeStore
    + RecycleStore
    + TaskStore
    + GrantStore
    + EventStore
    + ThumbnailStore
    + OpenLinkStore
    + UploadStore
    + InlineObjectStore
    + MaintenanceStore
    + WopiStore
    + ConsoleStore
    + DavStore
{
}
impl<T> MetaStore for T where
    T: IdentityStore
        + SpaceStore
        + DentryStore
        + TreeStore
        + RecycleStore
        + TaskStore
        + GrantStore
        + EventStore
        + ThumbnailStore
        + OpenLinkStore
        + UploadStore
        + InlineObjectStore
        + MaintenanceStore
        + WopiStore
        + ConsoleStore
        + DavStore
{
}

/// Orgs, apps, users, departments, access tokens.
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// True when the store holds no organization yet (first start).
    async fn is_empty(&self) -> StoreResult<bool>;

    /// `Duplicate(Key::CorpId)` if the org exists.
    async fn insert_org(&self, org: &OrgRecord) -> StoreResult<()>;
    async fn get_org(&self, corp_id: &str) -> StoreResult<Option<OrgRecord>>;
    /// Every org, by creation time, then `corp_id`.
    async fn list_orgs(&self) -> StoreResult<Vec<OrgRecord>>;
    /// Deletes the org with its apps, users, departments and tokens; `InUse`
    /// while it owns spaces. False if there was no such org.
    async fn delete_org(&self, corp_id: &str) -> StoreResult<bool>;
    /// Empties the org of what its apps and users made, in one transaction:
    /// every file, folder, version, app and dead property, grant and open
    /// link in its spaces, the spaces themselves but those `keep` names
    /// (kept with their ids, emptied, counters at zero), the grants its
    /// members hold elsewhere, its recycle bins, tasks, events, event
    /// subscriptions, cursors and callbacks, open uploads, WOPI tokens and
    /// locks, its users' console sessions and the console passwords `keep`
    /// does not name, its departments and their members; its byte counters
    /// go to zero. The org, its apps (and their access tokens) and its users
    /// stay. Content objects no remaining dentry or version refers to, and
    /// the objects of the open uploads' parts, go to the trash. Nothing
    /// happens for an unknown org.
    async fn purge_org_content(
        &self,
        corp_id: &str,
        keep: &OrgKeep,
        now_ms: i64,
    ) -> StoreResult<OrgPurge>;

    /// `NotFound` for an unknown org; `Duplicate(Key::AppKey)` or
    /// `Duplicate(Key::AppId)` for a taken key.
    async fn insert_app(&self, app: &AppRecord) -> StoreResult<()>;
    async fn get_app_by_key(&self, app_key: &str) -> StoreResult<Option<AppRecord>>;
    /// The org's apps, by creation time, then `app_id`.
    async fn list_apps(&self, corp_id: &str) -> StoreResult<Vec<AppRecord>>;
    /// Deletes the app and its tokens; `InUse` while it owns spaces.
    async fn delete_app(&self, corp_id: &str, app_id: &str) -> StoreResult<bool>;
    /// Replaces the app's secret (its salt and hash) and ends every access
    /// token of the app, in one transaction. False for an unknown app.
    async fn set_app_secret(
        &self,
        corp_id: &str,
        app_id: &str,
        secret_salt: &str,
        secret_hash: &str,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// `NotFound` for an unknown org; `Duplicate(Key::UnionId)` or
    /// `Duplicate(Key::UserId)` (unique per org) for a taken id.
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()>;
    async fn get_user(&self, corp_id: &str, union_id: &str) -> StoreResult<Option<UserRecord>>;
    /// The org's users, by creation time, then `union_id`.
    async fn list_users(&self, corp_id: &str) -> StoreResult<Vec<UserRecord>>;
    /// Deletes the user with their memberships and the grants to them.
    async fn delete_user(&self, corp_id: &str, union_id: &str) -> StoreResult<bool>;

    /// `NotFound` for an unknown org or parent department;
    /// `Duplicate(Key::DeptId)` for a taken id.
    async fn insert_dept(&self, dept: &DeptRecord) -> StoreResult<()>;
    /// The org's departments, by creation time, then `dept_id`.
    async fn list_depts(&self, corp_id: &str) -> StoreResult<Vec<DeptRecord>>;
    /// Deletes the department with the grants to it; `InUse` while it has
    /// child departments.
    async fn delete_dept(&self, corp_id: &str, dept_id: &str) -> StoreResult<bool>;
    /// `NotFound` for an unknown department or user of the org; adding a
    /// member again changes nothing (and succeeds).
    async fn add_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> StoreResult<()>;
    /// The department's members, by the users' creation time, then `union_id`.
    async fn list_dept_members(&self, corp_id: &str, dept_id: &str)
        -> StoreResult<Vec<UserRecord>>;
    async fn remove_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> StoreResult<bool>;

    /// GetAccessToken's rule, in one transaction: if `fresh.app_id` holds a
    /// token that is live at `now_ms`, that token's life is extended to
    /// `fresh.expires_at` — but never past its `issued_at + max_life_ms`, so
    /// a leaked token dies however often its app fetches — and it is
    /// returned; otherwise `fresh` replaces whatever expired token the app
    /// held and is returned. An app holds at most one such token (a unique
    /// key), so concurrent calls — on any node — agree on one token. A live
    /// token whose hash is `stale_hash` counts as expired (the server's token
    /// secret changed, so it cannot be derived again): concurrent callers
    /// replacing the same stale token replace it once and then all get the
    /// replacement. Only while the app's secret hash is still `secret_hash`,
    /// the one its caller checked, and serialised against changes of it: a
    /// secret changed or an app deleted before the token is written (or
    /// while it is) leaves no token and answers `NotFound`, as an unknown
    /// app does (a token issued under a secret since replaced would outlive
    /// the replacement, which ends the app's tokens).
    async fn issue_token(
        &self,
        fresh: &TokenRecord,
        secret_hash: &str,
        now_ms: i64,
        max_life_ms: i64,
        stale_hash: Option<&str>,
    ) -> StoreResult<TokenRecord>;
    /// One lookup for every API call: the app of the live token with this hash
    /// and, when `union_id` names a user of that app's org, the user.
    async fn find_caller(
        &self,
        token_hash: &str,
        union_id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Caller>>;
    /// Removes tokens that expired before `now_ms`; returns how many.
    async fn purge_expired_tokens(&self, now_ms: i64) -> StoreResult<u64>;
}

/// Spaces and the byte counters above them.
#[async_trait]
pub trait SpaceStore: Send + Sync + 'static {
    /// Inserts the space unless one with the same (corp, app, scene, sceneId)
    /// exists; returns the space stored under that key and whether it is new.
    /// `NotFound` for an unknown org or app.
    async fn insert_space_once(&self, space: &SpaceRecord) -> StoreResult<(SpaceRecord, bool)>;
    async fn get_space(&self, space_id: &str) -> StoreResult<Option<SpaceRecord>>;
    /// Bytes charged to the org (all its spaces).
    async fn org_used_bytes(&self, corp_id: &str) -> StoreResult<i64>;
    /// Bytes used by all spaces of the app.
    async fn app_used_bytes(&self, app_id: &str) -> StoreResult<i64>;
}

/// Files, folders and versions of a space's tree.
#[async_trait]
pub trait DentryStore: Send + Sync + 'static {
    /// The dentry (with its app properties), whatever its status.
    async fn get_dentry(
        &self,
        space_id: &str,
        dentry_id: &str,
    ) -> StoreResult<Option<DentryRecord>>;
    /// The dentries among `dentry_ids` that exist in the space, in any order.
    async fn get_dentries(
        &self,
        space_id: &str,
        dentry_ids: &[String],
    ) -> StoreResult<Vec<DentryRecord>>;
    /// The live folders from the root's first child down to `folder_id`
    /// itself (empty for the root `0`); `None` if it is not a live folder of
    /// the space.
    async fn folder_chain(
        &self,
        space_id: &str,
        folder_id: &str,
    ) -> StoreResult<Option<Vec<FolderLink>>>;
    /// The names of [`DentryStore::folder_chain`].
    async fn folder_names(
        &self,
        space_id: &str,
        folder_id: &str,
    ) -> StoreResult<Option<Vec<String>>> {
        let chain = self.folder_chain(space_id, folder_id).await?;
        Ok(chain.map(|links| links.into_iter().map(|l| l.name).collect()))
    }
    /// Up to `limit` live children of `parent_id` strictly after `after`,
    /// ordered by `key` (ascending or `descending`), ties by `dentry_id` in
    /// the same direction; names compare bytewise.
    async fn list_children(
        &self,
        space_id: &str,
        parent_id: &str,
        key: SortKey,
        descending: bool,
        after: Option<&Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<DentryRecord>>;
    /// Up to `limit` live dentries of the whole space strictly after `after`,
    /// by modified time, ties by `dentry_id`.
    async fn list_space(
        &self,
        space_id: &str,
        descending: bool,
        after: Option<&Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<DentryRecord>>;
    async fn get_version(
        &self,
        dentry_id: &str,
        version: i64,
    ) -> StoreResult<Option<VersionRecord>>;
    /// Creates a dentry under the conflict rule; for files also consumes the
    /// upload and charges `dentry.size` to the space and org counters,
    /// failing with `QuotaExceeded` (and changing nothing) when a cap would be
    /// passed. `ParentNotFound` unless the parent is a live folder of the
    /// space (or the root); `NameTaken` under `Fail` (or a folder in the way
    /// of `Overwrite`); AUTO_RENAME finds its free name in O(log n) of the
    /// folder's size, not by scanning the siblings. `NotFound` when the
    /// space is gone (deleted, or its org reset) or, with
    /// `overwrite_dentry_id`, that dentry is not a live file of the space.
    async fn put_dentry(&self, put: &PutDentry) -> StoreResult<PutOutcome>;
}

/// Changes to a space's tree and to files, each one transaction whatever
/// the size of the subtree (see [`lifecycle`] for each change's rules).
#[async_trait]
pub trait TreeStore: Send + Sync + 'static {
    /// See [`RenameDentry`]; answers the renamed dentry as stored now.
    async fn rename_dentry(&self, rename: &RenameDentry) -> StoreResult<DentryRecord>;
    /// See [`MoveDentry`].
    async fn move_dentry(&self, request: &MoveDentry, ids: Ids) -> StoreResult<Placed>;
    /// [`move_dentry`](Self::move_dentry) of a file that needs nothing but
    /// the move (`request.dentry_id` a live file of a space of the actor's
    /// org, moved within that space, not by a task, no grant on it, its
    /// name free in the live target folder, its new path within the
    /// limits; `to.conflict` and the grant flags then play no part):
    /// answers what `move_dentry` would, its event appended. A store may
    /// decline any move, plain or not (a task's move always): it then
    /// answers `None` and has changed nothing (it may have taken and
    /// released locks). Lets a caller that needs nothing of the file
    /// beforehand (no role to read from it) skip reading it: the store
    /// reads it under the move's locks. The default declines.
    async fn move_plain_file(&self, _request: &MoveDentry) -> StoreResult<Option<Placed>> {
        Ok(None)
    }
    /// See [`CopyDentry`].
    async fn copy_dentry(&self, request: &CopyDentry, ids: Ids) -> StoreResult<Placed>;
    /// See [`DeleteDentry`].
    async fn delete_dentry(&self, request: &DeleteDentry) -> StoreResult<Removed>;
    /// How many live dentries the live dentry's subtree holds, itself
    /// included; 0 if it is not live in the space.
    async fn subtree_size(&self, space_id: &str, dentry_id: &str) -> StoreResult<i64>;
    /// Up to `limit` history versions of the file, newest first, strictly
    /// older than `before` when given.
    async fn list_versions(
        &self,
        dentry_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<VersionRecord>>;
    /// See [`RevertVersion`]; answers the file as stored now.
    async fn revert_version(&self, request: &RevertVersion) -> StoreResult<DentryRecord>;
    /// See [`EditAppProperties`].
    async fn edit_app_properties(&self, edit: &EditAppProperties) -> StoreResult<()>;
}

/// Recycle bins and their items.
#[async_trait]
pub trait RecycleStore: Send + Sync + 'static {
    /// The bin of (corp, scope, scope id), inserting `bin` when there is none
    /// (a unique key: concurrent callers get one bin).
    async fn recycle_bin_once(&self, bin: &RecycleBinRecord) -> StoreResult<RecycleBinRecord>;
    async fn get_recycle_bin(&self, recycle_bin_id: &str) -> StoreResult<Option<RecycleBinRecord>>;
    /// Up to `limit` items of `filter`, newest first (deleted time, then
    /// id, both descending), strictly after `after`.
    async fn list_recycle_items(
        &self,
        filter: &ItemFilter,
        after: Option<&ItemCursor>,
        limit: u32,
    ) -> StoreResult<Vec<RecycleItemRecord>>;
    async fn get_recycle_item(
        &self,
        recycle_item_id: &str,
    ) -> StoreResult<Option<RecycleItemRecord>>;
    /// See [`RestoreItem`].
    async fn restore_recycle_item(&self, restore: &RestoreItem, ids: Ids) -> StoreResult<Placed>;
    /// Permanently removes the items of `filter` — only those among
    /// `item_ids` when given; other ids are ignored — with their dentries,
    /// versions and app properties, freeing their bytes and trashing the
    /// content objects nothing refers to any more (as a permanent
    /// [`DeleteDentry`] does).
    async fn purge_recycle_items(
        &self,
        filter: &ItemFilter,
        item_ids: Option<&[String]>,
        operator_id: &str,
    ) -> StoreResult<Removed>;
}

/// Persisted asynchronous operations. A task becomes `SUCCESS` in the
/// transaction of the change it runs (the change names it in `task_id`), so
/// a task that is not finished has not changed anything yet; and a change
/// naming a finished (or unknown) task fails, so that it happens once.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Inserts the task unless its app already has `max_unfinished` tasks
    /// that are `INIT` or `IN_PROGRESS` (`TooManyTasks`, checked in the
    /// insert's transaction). `Duplicate(Key::TaskId)` for a taken id.
    async fn insert_task(&self, task: &TaskRecord, max_unfinished: u32) -> StoreResult<()>;
    async fn get_task(&self, task_id: &str) -> StoreResult<Option<TaskRecord>>;
    /// Claims an unfinished task for `lease.node` until `lease.until_ms`,
    /// marks it `IN_PROGRESS` (its begin time is set the first time) and
    /// counts the attempt; answers it as stored now, or `None` if it is
    /// finished, unknown, or claimed by another node until after
    /// `lease.now_ms` (unless `lease.steal`). A claim only saves duplicate
    /// work: the change a task runs happens once whoever runs it (the
    /// trait's rule), so two nodes running it at once is harmless.
    async fn start_task(&self, task_id: &str, lease: &Lease) -> StoreResult<Option<TaskRecord>>;
    /// Ends an unfinished task `FAIL` with `message`: `fail_count` becomes
    /// its `total_count` (at least 1), `success_count` 0. A finished task is
    /// left alone.
    async fn fail_task(&self, task_id: &str, message: &str, now_ms: i64) -> StoreResult<()>;
    /// Every task that is `INIT` or `IN_PROGRESS` and unclaimed at
    /// `claims_expired_at` (never claimed, or its claim ended by then),
    /// oldest first; with `None`, every unfinished task.
    async fn unfinished_tasks(
        &self,
        claims_expired_at: Option<i64>,
    ) -> StoreResult<Vec<TaskRecord>>;
    /// Removes tasks that finished before `before_ms`; returns how many.
    async fn purge_finished_tasks(&self, before_ms: i64) -> StoreResult<u64>;
}

/// Upload sessions: the bytes PUT so far and the quota they hold.
/// Permissions: grants on dentries, and who a user is for them.
#[async_trait]
pub trait GrantStore: Send + Sync + 'static {
    /// AddPermission / UpdatePermission, all members or none (see
    /// [`WriteGrants`] and [`GrantWrite`]).
    async fn write_grants(&self, write: &WriteGrants) -> StoreResult<()>;
    /// DeletePermission; answers how many grants went. Members without such
    /// a grant are ignored.
    async fn revoke_grants(&self, revoke: &RevokeGrants) -> StoreResult<u64>;
    /// Up to `limit` grants on the dentry live at `now_ms` with a role
    /// among `roles` (any role when empty), strictly after `after`.
    async fn list_grants(
        &self,
        space_id: &str,
        dentry_id: &str,
        roles: &[String],
        after: Option<&GrantCursor>,
        limit: u32,
        now_ms: i64,
    ) -> StoreResult<Vec<GrantRecord>>;
    /// Every grant of the space live at `now_ms`, in any order.
    async fn space_grants(&self, space_id: &str, now_ms: i64) -> StoreResult<Vec<GrantRecord>>;
    /// The departments the user is a member of, with all their ancestor
    /// departments, in any order.
    async fn user_dept_ids(&self, corp_id: &str, union_id: &str) -> StoreResult<Vec<String>>;
    /// Removes grants that expired at or before `now_ms`; answers how many.
    async fn purge_expired_grants(&self, now_ms: i64) -> StoreResult<u64>;
}

/// Thumbnails, derived from content objects.
#[async_trait]
pub trait ThumbnailStore: Send + Sync + 'static {
    /// The thumbnails (or failures) recorded for these content objects.
    async fn get_thumbnails(&self, blob_keys: &[String]) -> StoreResult<Vec<ThumbnailRecord>>;
    /// Records the thumbnail of its content object, unless one is recorded
    /// (then the first stays). Answers false, writing nothing, when no file
    /// or version refers to the content object any more (the caller then
    /// removes the thumbnail's object). A content object that leaves the
    /// store (its last reference removed) takes its thumbnail's record with
    /// it, the thumbnail's object going to the trash in that transaction.
    async fn put_thumbnail(&self, thumbnail: &ThumbnailRecord) -> StoreResult<bool>;
}

/// Registered open links (RegisterOpenInfo): per dentry, provider and open
/// type, one URL. They leave with their dentry when it is removed for good
/// (binned dentries keep theirs).
#[async_trait]
pub trait OpenLinkStore: Send + Sync + 'static {
    /// Registers `links` (all of one dentry, each replacing the link of its
    /// provider and open type, and becoming the most recent) in one
    /// transaction. `NotFound` unless the dentry is a live dentry of the
    /// space; answers false, writing nothing, when the dentry would then
    /// hold more than `max_per_dentry` links.
    async fn put_open_links(
        &self,
        space_id: &str,
        dentry_id: &str,
        links: &[OpenLinkRecord],
        max_per_dentry: u32,
    ) -> StoreResult<bool>;
    /// The dentry's most recently registered link of this open type.
    async fn get_open_link(
        &self,
        dentry_id: &str,
        open_type: &str,
    ) -> StoreResult<Option<OpenLinkRecord>>;
}

#[async_trait]
pub trait UploadStore: Send + Sync + 'static {
    /// Opens an upload unless its space or app already has as many open
    /// uploads as `limits` allow (`TooManyUploads`); `NotFound` when the
    /// space is gone. Deferred durability: an
    /// upload a power loss (or the database server's crash) undoes makes its
    /// commit fail with `UploadNotFound`.
    async fn insert_upload(
        &self,
        upload: &UploadRecord,
        limits: &OpenUploadLimits,
    ) -> StoreResult<()>;
    /// The upload and the parts received so far.
    async fn get_upload(
        &self,
        upload_key: &str,
    ) -> StoreResult<Option<(UploadRecord, Vec<UploadPartRecord>)>>;
    /// Reserves bytes for a PUT of part `part_number` (about to start, or
    /// growing), against the upload's announced size (`UploadTooLarge`; the
    /// part's earlier recorded bytes do not count, they are being replaced),
    /// the space quota and the org capacity (`QuotaExceeded`, counting
    /// committed and reserved bytes); returns the bytes reserved:
    /// `Reserve::Exactly(n)` reserves n or fails, `Reserve::AtMost(n)` as
    /// much of n as there is room for (at least one byte, else it fails).
    /// `UploadNotFound` if the upload is gone or expired at `now_ms`.
    /// Deferred durability (harmless: `reset_reservations` recomputes every
    /// reservation when a server starts).
    async fn reserve_upload_bytes(
        &self,
        upload_key: &str,
        part_number: i64,
        bytes: Reserve,
        now_ms: i64,
    ) -> StoreResult<i64>;
    /// Sets every upload's reservation to the bytes of its recorded parts
    /// (dropping what PUTs in flight held) and the space and org counters to
    /// their sums: for a server starting on the store, when no PUT can be in
    /// flight. Returns how many counters changed.
    async fn reset_reservations(&self) -> StoreResult<u64>;
    /// Gives back a reservation whose PUT failed (nothing if the upload is
    /// gone: its removal released everything it held). Deferred durability.
    async fn release_upload_bytes(&self, upload_key: &str, bytes: i64) -> StoreResult<()>;
    /// Records (or replaces) a received part written under `reserved` bytes
    /// of reservation: the reservation becomes the part's size and an
    /// earlier recording of the part is released. Bytes beyond `reserved`
    /// (a part larger than its reservation) are reserved here, held to the
    /// upload's announced size (`UploadTooLarge`), the quota and the
    /// capacity (`QuotaExceeded`); a refusal records and holds nothing. Durable: the record is the only reference to an
    /// acknowledged PUT's bytes.
    async fn record_upload_part(
        &self,
        upload_key: &str,
        part: &UploadPartRecord,
        reserved: i64,
    ) -> StoreResult<PartRecorded>;
    /// Deletes up to `limit` uploads that expired before `before_ms`,
    /// releasing their reservations, and returns them with their recorded
    /// objects (the caller removes the bytes).
    async fn take_expired_uploads(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<ExpiredUpload>>;
}

/// The prefix of the keys of content objects kept in the metadata store
/// ([`InlineObjectStore`]); every other key names an object of the content
/// (blob) store.
pub const INLINE_OBJECT_PREFIX: &str = "inline/";

/// Whether `key` names an object kept in the metadata store.
pub fn is_inline_object(key: &str) -> bool {
    key.starts_with(INLINE_OBJECT_PREFIX)
}

/// Small content objects kept in the metadata store itself, so that a small
/// upload costs one transaction and no file (a backend that keeps none
/// answers 0 from [`InlineObjectStore::inline_object_limit`], and its
/// callers write every object to the content store). An inline object is
/// named `inline/…` ([`is_inline_object`]), written once, never changed,
/// referenced like any other content object (an upload's part, a file, a
/// version) and removed by the caller once nothing references it, as the
/// content store's objects are.
#[async_trait]
pub trait InlineObjectStore: Send + Sync + 'static {
    /// The largest object, in bytes, this store keeps; 0 when it keeps none.
    fn inline_object_limit(&self) -> u64 {
        0
    }
    /// Records a received part written under `reserved` bytes of
    /// reservation exactly as [`UploadStore::record_upload_part`] does (a
    /// refusal records and holds nothing more), and keeps its `bytes` as the
    /// object `part.object_key`, in the same durable transaction.
    /// `UploadGone` keeps nothing.
    async fn record_inline_part(
        &self,
        _upload_key: &str,
        _part: &UploadPartRecord,
        _bytes: Vec<u8>,
        _reserved: i64,
    ) -> StoreResult<PartRecorded> {
        Err(StoreError::Backend("this store keeps no inline objects".into()))
    }
    /// The bytes of an inline object, if it exists.
    async fn read_inline_object(&self, _object_key: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(None)
    }
    /// Removes inline objects (the ones that exist); durable.
    async fn delete_inline_objects(&self, _object_keys: &[String]) -> StoreResult<()> {
        Ok(())
    }
    /// Up to `limit` inline objects after `after` in key order, with their
    /// sizes (consistency checks).
    async fn list_inline_objects(
        &self,
        _after: &str,
        _limit: u32,
    ) -> StoreResult<Vec<(String, u64)>> {
        Ok(Vec::new())
    }
}

/// The outbox and its delivery. Events are appended by the write methods of
/// the other traits, in their transactions; this trait reads them in commit
/// order and keeps each app's subscriptions, cursor and callback.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Adds the subscription; true if added. If the app has it already, only
    /// its `operator_id` changes (to the new subscriber; `from_seq` stays).
    /// `from_seq` is set to the last committed event, and the app's cursor
    /// is created there if the app has none.
    async fn subscribe(&self, subscription: &SubscriptionRecord) -> StoreResult<bool>;
    /// Removes the subscription; true if it existed.
    async fn unsubscribe(
        &self,
        app_id: &str,
        scope: EventScope,
        scope_id: &str,
    ) -> StoreResult<bool>;
    async fn subscriptions(&self, app_id: &str) -> StoreResult<Vec<SubscriptionRecord>>;
    /// The cursors of every app with a subscription.
    async fn event_cursors(&self) -> StoreResult<Vec<CursorRecord>>;
    /// Takes (or renews) the app's delivery lease for `node` until
    /// `until_ms` unless another node holds an unexpired one; the cursor if
    /// taken.
    async fn lease_cursor(
        &self,
        app_id: &str,
        node: i64,
        now_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Option<CursorRecord>>;
    /// Gives the lease up (if `node` holds it).
    async fn release_cursor(&self, app_id: &str, node: i64) -> StoreResult<()>;
    /// The app's events after `after_seq` matching its subscriptions (each
    /// subscription's own `from_seq` included), looking at no more than
    /// `window` events and returning at most `limit`.
    async fn pending_events(
        &self,
        app_id: &str,
        after_seq: i64,
        limit: u32,
        window: i64,
    ) -> StoreResult<EventPage>;
    /// Moves the cursor forward to `seq` and clears its failures, if `node`
    /// holds the lease (false otherwise: nothing changes).
    async fn advance_cursor(&self, app_id: &str, node: i64, seq: i64) -> StoreResult<bool>;
    /// Records a failed attempt: the next one at `next_attempt_ms`.
    async fn cursor_failed(
        &self,
        app_id: &str,
        node: i64,
        next_attempt_ms: i64,
        error: &str,
    ) -> StoreResult<()>;
    /// Deletes the oldest events in commit order up to the first one at or
    /// after `before_ms`, and each org's oldest beyond its newest
    /// `keep_per_org`; how many. Event times follow commit order but for a
    /// clock stepped back: the events after the step are then kept until
    /// the newest one before it is older than `before_ms` (the per-org
    /// count still bounds them).
    async fn purge_events(&self, before_ms: i64, keep_per_org: i64) -> StoreResult<u64>;
    /// The last committed event's `seq` (0 when none).
    async fn last_event_seq(&self) -> StoreResult<i64>;
    /// Records a Stream-mode ticket's nonce as used until `expires_ms`;
    /// false if it was used already (forgetting nonces expired at `now_ms`).
    async fn redeem_ticket(&self, nonce: &str, expires_ms: i64, now_ms: i64) -> StoreResult<bool>;
    /// Sets (or with `None` removes) the app's HTTP callback.
    async fn set_callback(
        &self,
        app_id: &str,
        callback: Option<&CallbackRecord>,
    ) -> StoreResult<()>;
    async fn get_callback(&self, app_id: &str) -> StoreResult<Option<CallbackRecord>>;
}

/// Nodes, consistency checks, repair and shutdown.
#[async_trait]
pub trait MaintenanceStore: Send + Sync + 'static {
    /// Answers a trivial read (readiness probes): an error if the store
    /// cannot be reached (`Unavailable` once it is closed).
    async fn ping(&self) -> StoreResult<()>;
    /// Unfinished tasks, the event backlog, the bytes held and reserved,
    /// the metadata's size: each one cheap query (indexes and counters,
    /// never a scan of the files).
    async fn gauges(&self) -> StoreResult<StoreGauges>;
    /// The group commits since the store was opened (PostgreSQL: of the
    /// writes it combines, the durable dentry puts).
    fn write_figures(&self) -> WriteFigures;
    /// A number that changes whenever a write made through this store may
    /// have changed what its reads return: it changes after the write
    /// committed (or failed) and before the write's caller is answered, so
    /// an answer read after loading generation `g` is current for as long
    /// as the generation is still `g`. `Some` only where every write of the
    /// serving process goes through this handle (the embedded store; other
    /// processes writing the same file — `orgdrive admin`, `fsck --repair` —
    /// are not counted, and a cache keyed by it must also expire); `None`
    /// where other nodes write the store: nothing may be cached by it.
    fn write_generation(&self) -> Option<u64>;
    /// Registers a starting server node and returns its number (unique per store).
    async fn register_node(&self, now_ms: i64) -> StoreResult<i64>;
    /// What fsck checks: content references, open uploads, counters and the
    /// sums they summarise, the trees, duplicate live names — read from one
    /// snapshot.
    async fn consistency_scan(&self) -> StoreResult<ConsistencyScan>;
    /// Sets every space and org byte counter (used and reserved) to the sum
    /// it summarises; returns how many counters changed.
    async fn repair_usage(&self) -> StoreResult<u64>;
    /// Claims the periodic job `name` (the sweeper) for `lease.node` until
    /// `lease.until_ms` if it is unclaimed, its claim expired at
    /// `lease.now_ms`, the claim is already this node's (renewed), or
    /// `lease.steal`; true if claimed. One upsert: concurrent callers on any
    /// node cannot both get it.
    async fn lease_job(&self, name: &str, lease: &Lease) -> StoreResult<bool>;
    /// Gives the job's claim up, if `node` holds it.
    async fn release_job(&self, name: &str, node: i64) -> StoreResult<()>;
    /// Whether some node holds a claim on job `name` that has not expired
    /// at `now_ms`. Read from the store itself (never a cache), so a claim
    /// committed before this call began is seen.
    async fn job_claimed(&self, name: &str, now_ms: i64) -> StoreResult<bool>;
    /// Up to `limit` content objects in the trash (no dentry or version refers
    /// to them), oldest first: the caller deletes them, then forgets them.
    async fn trashed_objects(&self, limit: u32) -> StoreResult<Vec<String>>;
    /// Takes deleted objects out of the trash.
    async fn forget_trash(&self, objects: &[String]) -> StoreResult<()>;
    /// Finishes the writes already accepted, then closes the store; later
    /// calls fail with `Backend`.
    async fn close(&self);
}
