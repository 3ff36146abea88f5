//! orgdrive's metadata store: the records it keeps and the [`MetaStore`] trait
//! the domain talks to. Each database dialect implements the trait in its own
//! module with its own migrations (`migrations/<dialect>/`); the embedded default
//! is [`SqliteStore`]. Invariants the API depends on (unique keys, foreign keys,
//! idempotency keys) are enforced by the schema, not by callers.

mod records;
mod sqlite;

pub use records::*;
pub use sqlite::{SqliteOptions, SqliteStore};

use async_trait::async_trait;

/// What a store operation can fail with, independent of the database dialect.
#[derive(Debug, thiserror::Error)]
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
    /// Anything else from the database.
    #[error("metadata store: {0}")]
    Backend(String),
}

pub type MetaResult<T> = Result<T, MetaError>;

/// The metadata store. Every method is one transaction.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
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
    /// The token with this hash and the app it was issued to, if the token is
    /// known and not expired at `now_ms`.
    async fn find_live_token(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> MetaResult<Option<(TokenRecord, AppRecord)>>;
    /// Removes tokens that expired before `now_ms`; returns how many.
    async fn purge_expired_tokens(&self, now_ms: i64) -> MetaResult<u64>;

    /// Inserts the space unless one with the same (corp, app, scene, sceneId)
    /// exists; returns the space stored under that key and whether it is new.
    async fn insert_space_once(&self, space: &SpaceRecord) -> MetaResult<(SpaceRecord, bool)>;
    async fn get_space(&self, space_id: &str) -> MetaResult<Option<SpaceRecord>>;
    /// Bytes used by all spaces of the org.
    async fn org_used_bytes(&self, corp_id: &str) -> MetaResult<i64>;
    /// Bytes used by all spaces of the app.
    async fn app_used_bytes(&self, app_id: &str) -> MetaResult<i64>;
}
