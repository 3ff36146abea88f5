//! The web console's part of the store contract: people's console passwords
//! (Argon2 PHC strings, never the password), console sessions (only the
//! SHA-256 of their cookie), the spaces a person can open, and the search
//! of a space's names.

use async_trait::async_trait;

use crate::{DentryRecord, SpaceRecord, StoreResult, UserRecord};

/// A signed-in console session. The cookie itself is never stored: only its
/// SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSessionRecord {
    pub session_hash: String,
    /// The person signed in; `None` for an operator (signed in with the
    /// admin token).
    pub union_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A live session and, for a person's, the user it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConsoleSession {
    pub session: ConsoleSessionRecord,
    pub user: Option<UserRecord>,
}

/// Which spaces [`ConsoleStore::person_spaces`] lists: those of `corp_id`
/// that `union_id` owns (USER spaces) or holds a live grant on the root of
/// (`0`; what GetSpace needs), directly, through one of `dept_ids` or
/// through the org; every space of the org when `whole_org` (an org admin
/// owns them all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonSpaces {
    pub corp_id: String,
    pub union_id: String,
    pub dept_ids: Vec<String>,
    pub whole_org: bool,
    pub now_ms: i64,
    /// Newest first; at most this many.
    pub limit: u32,
}

/// A live file or folder below a space's root that a person holds a live
/// grant on (directly, through a department or through the org): what the
/// console lists as shared with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedDentry {
    pub dentry: DentryRecord,
    /// The space's name, or its id when it has none.
    pub space_name: String,
    pub role: String,
}

/// What a space's used bytes are made of besides its files' current
/// contents: every kept earlier version, and the current contents of the
/// files in its recycle bin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageParts {
    pub space_id: String,
    pub versions_bytes: i64,
    pub recycled_bytes: i64,
}

#[async_trait]
pub trait ConsoleStore: Send + Sync + 'static {
    /// Sets (or, with `None`, clears) the console password of a user of
    /// `corp_id`, and ends every console session of that user, in one
    /// transaction. False when there is no such user.
    async fn set_password(
        &self,
        corp_id: &str,
        union_id: &str,
        phc: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// The user `union_id` and their password's PHC string, if they have one.
    async fn password(&self, union_id: &str) -> StoreResult<Option<(UserRecord, String)>>;

    /// Stores a new session (hashes of 256-bit random cookies never
    /// collide). A person's session needs the user to exist
    /// ([`crate::StoreError::NotFound`] otherwise); it ends with the user.
    async fn insert_console_session(&self, session: &ConsoleSessionRecord) -> StoreResult<()>;

    /// The session whose cookie hashes to `session_hash`, if it has not
    /// expired at `now_ms`, with its user.
    async fn console_session(
        &self,
        session_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<LiveConsoleSession>>;

    /// Ends a session (sign-out). False when there was none.
    async fn delete_console_session(&self, session_hash: &str) -> StoreResult<bool>;

    /// Removes the sessions expired at `now_ms`; how many.
    async fn purge_expired_console_sessions(&self, now_ms: i64) -> StoreResult<u64>;

    /// Up to `limit` live dentries of the space whose name contains
    /// `needle` (bytewise: no case folding), by name then `dentry_id`,
    /// without app properties. It reads every live name of the space: a
    /// scan the size of the space.
    async fn search_names(
        &self,
        space_id: &str,
        needle: &str,
        limit: u32,
    ) -> StoreResult<Vec<DentryRecord>>;

    /// The spaces a person can open (see [`PersonSpaces`]), in the status
    /// `NORMAL`, newest first (`created_at`, then `space_id`, descending).
    async fn person_spaces(&self, query: &PersonSpaces) -> StoreResult<Vec<SpaceRecord>>;

    /// The live dentries below a root (not `0`) of `NORMAL` spaces of
    /// `corp_id` that the person of `query` holds a live grant on, each
    /// once (with the strongest of its roles), by name then `dentry_id`; at
    /// most `limit` (counted in the database). `whole_org` is not read.
    async fn person_shared_dentries(&self, query: &PersonSpaces) -> StoreResult<Vec<SharedDentry>>;

    /// [`UsageParts`] of each of `space_ids` (unknown ids are left out),
    /// read in one statement: a counter per space for the versions (kept
    /// in the database with every version added, removed or moved to
    /// another space) and a pass over each space's recycle-bin items.
    async fn usage_parts(&self, space_ids: &[String]) -> StoreResult<Vec<UsageParts>>;
}
