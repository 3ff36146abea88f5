//! The WOPI (WebOffice) part of the store contract: token pairs issued by
//! GetWebOfficeUrl and rotated by RefreshWebOfficeToken (only their hashes),
//! the locks WOPI clients take on files, and PutFile's commit under a lock.

use async_trait::async_trait;

use crate::{DentryRecord, PutDentry, StoreResult};

/// A WebOffice token pair, bound to an app, an operator and one file. The
/// tokens themselves are never stored: only their SHA-256 hashes (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WopiTokenRecord {
    pub access_hash: String,
    pub refresh_hash: String,
    /// The pairs one GetWebOfficeUrl started, through all their rotations.
    pub family_id: String,
    pub corp_id: String,
    pub app_id: String,
    pub union_id: String,
    pub space_id: String,
    pub dentry_id: String,
    pub created_at: i64,
    pub access_expires_at: i64,
    pub refresh_expires_at: i64,
    /// When RefreshWebOfficeToken replaced this pair (its refresh token is
    /// dead from then on; its access token lives until it expires).
    pub rotated_at: Option<i64>,
}

/// What [`WopiStore::rotate_wopi_tokens`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WopiRotation {
    /// The pair was replaced by the fresh one (same family).
    Rotated,
    /// No live, unrotated pair matched (unknown, expired, another file,
    /// operator or app, or the access token does not belong to the refresh
    /// token); nothing changed.
    Refused,
    /// The refresh token had been rotated already: a replay. Every pair of
    /// its family was deleted.
    Reused,
}

/// A change to a file's WOPI lock (the WOPI `X-WOPI-Override` operations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockChange {
    /// LOCK: takes the lock if the file has none (or an expired one); with
    /// the same id it only extends it.
    Lock { lock_id: String },
    /// LOCK with `X-WOPI-OldLock` (UnlockAndRelock): replaces the lock if it
    /// is `old_lock_id`.
    Relock { old_lock_id: String, lock_id: String },
    /// REFRESH_LOCK: extends the lock if it is `lock_id`.
    Refresh { lock_id: String },
    /// UNLOCK: removes the lock if it is `lock_id`.
    Unlock { lock_id: String },
}

/// What a [`LockChange`] (or a PutFile under a lock) met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    Done,
    /// The file's live lock (`None`: unlocked) did not allow it; nothing changed.
    Conflict(Option<String>),
}

/// What [`WopiStore::wopi_put`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WopiPut {
    /// The content became the file's new version.
    Stored(Box<DentryRecord>),
    /// The lock did not allow it (`None`: the file is unlocked but not
    /// empty). The upload was consumed and its reservation released; the
    /// caller removes its object.
    Conflict(Option<String>),
}

#[async_trait]
pub trait WopiStore: Send + Sync + 'static {
    /// Stores a new pair (hashes of 256-bit random tokens never collide).
    async fn insert_wopi_tokens(&self, tokens: &WopiTokenRecord) -> StoreResult<()>;
    /// The pair whose access token has this hash and is live at `now_ms`
    /// (rotated pairs included: an open editor keeps its token).
    async fn find_wopi_access(
        &self,
        access_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<WopiTokenRecord>>;
    /// RefreshWebOfficeToken's rule, in one transaction: the pair whose
    /// refresh token hashes to `refresh_hash` must be unrotated, live at
    /// `now_ms`, hold `access_hash` (expired or not), and be bound to
    /// `fresh`'s app, operator, space and file; then it is marked rotated and
    /// `fresh` (whose `family_id` is overwritten with the old pair's) is
    /// inserted. A rotated refresh token revokes its whole family.
    async fn rotate_wopi_tokens(
        &self,
        access_hash: &str,
        refresh_hash: &str,
        fresh: &WopiTokenRecord,
        now_ms: i64,
    ) -> StoreResult<WopiRotation>;
    /// Removes pairs whose refresh token expired at or before `now_ms`, and
    /// expired locks; answers how many rows went.
    async fn purge_expired_wopi(&self, now_ms: i64) -> StoreResult<u64>;

    /// The file's lock id, if a lock is live at `now_ms`.
    async fn get_wopi_lock(
        &self,
        space_id: &str,
        dentry_id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<String>>;
    /// Applies `change` as a compare-and-set in one statement: of two racing
    /// LOCKs with different ids exactly one wins. A taken or extended lock
    /// lives until `expires_at`.
    async fn change_wopi_lock(
        &self,
        space_id: &str,
        dentry_id: &str,
        change: &LockChange,
        now_ms: i64,
        expires_at: i64,
    ) -> StoreResult<LockOutcome>;
    /// Removes a PutFile's upload that will not be committed (if it is still
    /// there) with its recorded parts, releasing its reservation; answers
    /// the parts' objects, for the caller to remove.
    async fn discard_wopi_upload(&self, upload_key: &str) -> StoreResult<Vec<String>>;
    /// PutFile: in one transaction, checks the file's lock — a locked file
    /// takes only `lock_id` equal to its lock, an unlocked one only while it
    /// is empty (whatever `lock_id`) — then does `put` (an overwrite by id, see
    /// [`crate::DentryStore::put_dentry`], with its errors).
    async fn wopi_put(
        &self,
        put: &PutDentry,
        lock_id: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<WopiPut>;
}
