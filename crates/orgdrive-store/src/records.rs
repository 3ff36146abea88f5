//! The data model the store contract speaks: plain records with no database
//! in them (each backend maps its own rows to and from these). Times are Unix
//! milliseconds.

/// An organization (DingTalk `corpId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRecord {
    pub corp_id: String,
    pub name: String,
    /// Storage capacity in bytes; `None` = unlimited.
    pub capacity: Option<i64>,
    pub created_at: i64,
    pub modified_at: i64,
}

/// An open-platform app of an org, with its credentials and granted scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    pub app_id: String,
    pub corp_id: String,
    pub name: String,
    pub app_key: String,
    pub secret_salt: String,
    /// Hex SHA-256 of `salt || secret`; the secret itself is never stored.
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub modified_at: i64,
}

/// A user of an org (DingTalk `unionId` / `userId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub union_id: String,
    pub corp_id: String,
    pub user_id: String,
    pub name: String,
    pub org_admin: bool,
    pub created_at: i64,
}

/// A department; departments form a tree per org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeptRecord {
    pub dept_id: String,
    pub corp_id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub created_at: i64,
}

/// An issued access token, kept only as a hash. The token itself is derived
/// from `nonce` with a server secret the store never sees, so that a token
/// fetched again while it is valid can be returned again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub token_hash: String,
    pub app_id: String,
    pub nonce: String,
    /// When this token was first issued (extensions keep it).
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Who makes a call: the app of a live access token and, if the `unionId`
/// given is a user of the app's org, that user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub app: AppRecord,
    pub user: Option<UserRecord>,
    /// When the token expires, Unix milliseconds.
    pub token_expires_at: i64,
}

/// A storage space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceRecord {
    pub space_id: String,
    pub corp_id: String,
    pub app_id: String,
    pub scene: String,
    pub scene_id: String,
    pub name: Option<String>,
    /// `USER` or `APP`.
    pub owner_type: String,
    pub owner_id: String,
    pub creator_id: String,
    pub modifier_id: String,
    /// Space cap in bytes; `None` = no space-level cap.
    pub quota: Option<i64>,
    pub used_bytes: i64,
    /// `NORMAL` or `DELETE`.
    pub status: String,
    pub can_search: bool,
    pub can_rename: bool,
    pub can_record_recent_file: bool,
    pub created_at: i64,
    pub modified_at: i64,
}

/// A file or folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DentryRecord {
    pub dentry_id: String,
    pub uuid: String,
    pub space_id: String,
    /// `0` = the space root.
    pub parent_id: String,
    /// `FILE` or `FOLDER`.
    pub kind: String,
    pub name: String,
    /// Bytes; 0 for folders.
    pub size: i64,
    pub version: i64,
    /// `NORMAL`, `DELETED` or `EXPIRED`.
    pub status: String,
    /// Content object of a file; `None` for folders.
    pub blob_key: Option<String>,
    pub creator_id: String,
    pub modifier_id: String,
    pub created_at: i64,
    pub modified_at: i64,
    /// Every app's properties of this dentry, as read (writes take theirs
    /// from [`PutDentry::app_properties`]).
    pub app_properties: Vec<AppPropertyRecord>,
}

impl DentryRecord {
    pub fn is_folder(&self) -> bool {
        self.kind == "FOLDER"
    }
}

/// An earlier content of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub dentry_id: String,
    pub version: i64,
    pub name: String,
    pub size: i64,
    pub blob_key: String,
    pub modifier_id: String,
    pub modified_at: i64,
}

/// One app property of a dentry, owned by `app_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPropertyRecord {
    pub dentry_id: String,
    pub app_id: String,
    pub name: String,
    pub value: String,
    /// `PUBLIC` or `PRIVATE`.
    pub visibility: String,
}

/// An upload session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub upload_key: String,
    pub space_id: String,
    pub app_id: String,
    pub union_id: String,
    pub multipart: bool,
    pub check_name: Option<String>,
    pub check_parent_id: Option<String>,
    pub check_size: Option<i64>,
    pub check_md5: Option<String>,
    /// The announced size (`preCheckParam.size`): the parts together may not
    /// exceed it. (Rows from before reservations may hold the quota left at
    /// opening; either way it is a cap.)
    pub max_bytes: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Bytes received for an upload: part 0 = single PUT, 1.. = multipart parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPartRecord {
    pub part_number: i64,
    pub size: i64,
    /// Lower-case hex MD5 of the part, when it was computed (the upload
    /// announced an MD5 to check).
    pub md5: Option<String>,
    /// The object the bytes were written to: fresh for every PUT, never
    /// addressable by a PUT URL.
    pub object_key: String,
}

/// How many bytes a PUT asks to reserve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// This many or none (a PUT that announced its length).
    Exactly(i64),
    /// As many of these as there is room for, at least one (a PUT without a
    /// length, reserving as it goes).
    AtMost(i64),
}

/// Caps on the uploads open at once (uncommitted, unexpired or not yet swept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenUploadLimits {
    pub per_space: u32,
    pub per_app: u32,
}

/// What recording a received part did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartRecorded {
    /// Recorded; `replaced` is the object of an earlier PUT of the same part,
    /// no longer referenced (the caller removes it).
    Recorded { replaced: Option<String> },
    /// The upload was committed, discarded or swept meanwhile: nothing was
    /// recorded (the caller removes the object it wrote).
    UploadGone,
}

/// An upload removed by the sweeper, with the objects its parts were written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredUpload {
    pub upload_key: String,
    pub objects: Vec<String>,
}

/// Highest k AUTO_RENAME tries in `prefix{k}suffix`.
pub const MAX_RENAME_COUNTER: u32 = 999_999;

/// What to do when a live sibling already has the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameConflict {
    /// Take a free `prefix{k}suffix`, 1 ≤ k ≤ [`MAX_RENAME_COUNTER`], found
    /// with O(log n) name lookups: k = 1 if it is free, otherwise a free k
    /// right after a taken one (`prefix{k-1}suffix` is taken). While the taken
    /// names are k = 1..=n without gaps (the usual case) that is the first
    /// free one, n + 1; with gaps it may be a later free k. Fails with
    /// [`crate::StoreError::NameTaken`] (naming the new dentry) when no free k
    /// is found: every power of two below the maximum and the maximum itself
    /// are taken.
    AutoRename { prefix: String, suffix: String },
    /// Leave the existing entry alone and return it.
    ReturnExisting,
    /// Fail with [`crate::StoreError::NameTaken`].
    Fail,
    /// Files only: the existing file gets the new content as a new version.
    Overwrite,
}

/// Create a dentry (and, for a file, consume its upload and charge its bytes)
/// in one transaction.
#[derive(Debug, Clone)]
pub struct PutDentry {
    pub dentry: DentryRecord,
    pub corp_id: String,
    pub conflict: NameConflict,
    /// Upload consumed by this put (files); the put fails with
    /// [`crate::StoreError::UploadNotFound`] if it is already gone. Its byte
    /// reservation is released in the same transaction.
    pub upload_key: Option<String>,
    /// The part objects (in part order) the content was made from; the put
    /// fails with [`crate::StoreError::UploadChanged`] unless they are exactly
    /// the upload's recorded parts, so a PUT racing the commit cannot swap bytes.
    pub upload_objects: Vec<String>,
    /// App properties to set on the created or overwritten dentry.
    pub app_properties: Vec<AppPropertyRecord>,
    /// CommitFile's `overwriteDentryId`: the content becomes a new version of
    /// exactly this file, wherever it is and whatever it is named now
    /// (`dentry.name`, `parent_id` and `conflict` are not used); the put
    /// fails with [`crate::StoreError::NotFound`] unless it is a live file of
    /// the space.
    pub overwrite_dentry_id: Option<String>,
}

/// What a [`PutDentry`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Created(DentryRecord),
    /// `ReturnExisting` met a live sibling of that name; nothing was charged.
    Existing(DentryRecord),
    /// `Overwrite` made the content a new version of this file.
    Overwritten(DentryRecord),
}

/// Sort key of a folder listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    ModifiedTime,
    CreateTime,
    Name,
    Size,
}

impl SortKey {
    /// `d`'s value under this key.
    pub fn value_of(self, d: &DentryRecord) -> CursorValue {
        match self {
            SortKey::ModifiedTime => CursorValue::Int(d.modified_at),
            SortKey::CreateTime => CursorValue::Int(d.created_at),
            SortKey::Size => CursorValue::Int(d.size),
            SortKey::Name => CursorValue::Text(d.name.clone()),
        }
    }
}

/// A position in a listing: the sort value and id of the last entry returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub value: CursorValue,
    pub dentry_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorValue {
    Int(i64),
    Text(String),
}

/// A content object a file or a version refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobReference {
    pub blob_key: String,
    pub size: i64,
    pub dentry_id: String,
}

/// A byte counter and the sum it should equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCheck {
    /// Space id or corpId.
    pub id: String,
    pub recorded: i64,
    pub actual: i64,
}

/// One dentry's place in its tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeNode {
    pub space_id: String,
    pub dentry_id: String,
    pub parent_id: String,
    pub is_folder: bool,
    pub live: bool,
}

/// Everything a consistency check needs, read from one snapshot.
#[derive(Debug, Clone, Default)]
pub struct ConsistencyScan {
    pub blobs: Vec<BlobReference>,
    pub open_uploads: Vec<String>,
    /// Objects recorded as parts of open uploads.
    pub upload_objects: Vec<String>,
    /// Each space's reserved counter and the sum of its uploads' reservations.
    pub space_reserved: Vec<UsageCheck>,
    /// Each org's reserved counter and the sum of its spaces' reservations.
    pub org_reserved: Vec<UsageCheck>,
    /// Uploads holding less reserved than their recorded parts' bytes
    /// (`recorded`: the reservation, `actual`: the parts).
    pub under_reserved_uploads: Vec<UsageCheck>,
    pub space_usage: Vec<UsageCheck>,
    pub org_usage: Vec<UsageCheck>,
    /// Each space's versions counter and the sum of its kept versions.
    pub space_versions: Vec<UsageCheck>,
    pub tree: Vec<TreeNode>,
    /// (space, parent, name) held by more than one live dentry.
    pub duplicate_names: Vec<(String, String, String)>,
    /// Content objects in the trash (unreferenced, being deleted).
    pub trashed_objects: Vec<String>,
    /// The objects of recorded thumbnails.
    pub thumbnail_objects: Vec<String>,
}

/// A thumbnail of a content object (shared by every file and version whose
/// content it is), or the record that none can be made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbnailRecord {
    /// The content object it is made from.
    pub blob_key: String,
    /// `READY` (with an object) or `FAILED` (not an image it can read).
    pub status: String,
    /// The thumbnail's own object (`thumbs/<random>`), when `READY`.
    pub object_key: Option<String>,
    pub width: u32,
    pub height: u32,
    /// Bytes of the thumbnail's object.
    pub size: i64,
    pub created_at: i64,
}

/// A registered open link of a dentry (RegisterOpenInfo), kept as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLinkRecord {
    pub dentry_id: String,
    pub provider: String,
    /// `PREVIEW` or `EDIT`.
    pub open_type: String,
    pub url: String,
    pub registered_at: i64,
}

/// A time-limited claim of one node on a piece of background work (a task,
/// a periodic job), so that across the nodes sharing a store one runs it at
/// a time and another takes it over once the claim expires (its node died).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The claiming node ([`crate::MaintenanceStore::register_node`]).
    pub node: i64,
    pub now_ms: i64,
    /// The claim lasts until then (exclusive), unless renewed.
    pub until_ms: i64,
    /// Take the claim even from another node whose claim is unexpired: for
    /// a server that knows it is the store's only user (an embedded store
    /// after a crash, whose earlier process held claims under another node
    /// number).
    pub steal: bool,
}

/// What operators watch of a store, read together ([`crate::MaintenanceStore::gauges`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreGauges {
    /// Tasks `INIT` or `IN_PROGRESS`.
    pub unfinished_tasks: u64,
    /// Events committed after each subscribed app's cursor, summed over
    /// the apps: an upper bound of what remains to deliver (events that an
    /// app's subscriptions do not match count too, until its cursor passes
    /// them).
    pub event_backlog: u64,
    /// File bytes held, as the orgs' counters say (live files, history
    /// versions, the recycle bin).
    pub used_bytes: u64,
    /// Bytes reserved by uploads in flight.
    pub reserved_bytes: u64,
    /// The metadata's size in the database (SQLite: its pages; PostgreSQL:
    /// `pg_database_size`).
    pub store_bytes: u64,
}

/// Group commit since the store was opened: transactions that committed
/// combined writes, and the writes their commits decided (their ratio is
/// the mean batch size; a write a batch left to run alone, or declined
/// with nothing written, counts where it is decided).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteFigures {
    pub commits: u64,
    pub writes: u64,
}

/// Counts a backend's group commits ([`WriteFigures`]), from any thread.
#[derive(Debug, Default)]
pub struct WriteTally {
    commits: std::sync::atomic::AtomicU64,
    writes: std::sync::atomic::AtomicU64,
}

impl WriteTally {
    /// One transaction committed, deciding `writes` writes; none is not
    /// counted (a batch that decided nothing).
    pub fn record(&self, writes: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        if writes == 0 {
            return;
        }
        self.commits.fetch_add(1, Relaxed);
        self.writes.fetch_add(writes as u64, Relaxed);
    }

    pub fn figures(&self) -> WriteFigures {
        use std::sync::atomic::Ordering::Relaxed;
        WriteFigures { commits: self.commits.load(Relaxed), writes: self.writes.load(Relaxed) }
    }
}

/// A space's key within its org: what AddSpace is idempotent on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SceneKey {
    pub app_id: String,
    pub scene: String,
    pub scene_id: String,
}

/// What a purge of an org's content keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgKeep {
    /// Spaces kept (with their ids), emptied; the org's others go.
    pub spaces: Vec<SceneKey>,
    /// Users (unionIds) whose console password is kept; the org's other
    /// users' passwords go.
    pub passwords_of: Vec<String>,
}

/// What a purge of an org's content did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgPurge {
    /// The kept spaces as they are now (empty), in any order.
    pub kept_spaces: Vec<SpaceRecord>,
    /// Content objects put in the trash, for the caller to delete.
    pub trashed_objects: Vec<String>,
}
