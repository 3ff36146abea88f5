//! Permissions: grants on dentries, and the departments a user is in.

use async_trait::async_trait;

use orgdrive_store::{
    GrantCursor, GrantRecord, GrantStore, RevokeGrants, StoreResult, WriteGrants,
};

use crate::lifecycle::not_yet;
use crate::PgStore;

// PG-B.
#[async_trait]
impl GrantStore for PgStore {
    async fn write_grants(&self, _write: &WriteGrants) -> StoreResult<()> {
        Err(not_yet())
    }
    async fn revoke_grants(&self, _revoke: &RevokeGrants) -> StoreResult<u64> {
        Err(not_yet())
    }
    async fn list_grants(
        &self,
        _space_id: &str,
        _dentry_id: &str,
        _roles: &[String],
        _after: Option<&GrantCursor>,
        _limit: u32,
        _now_ms: i64,
    ) -> StoreResult<Vec<GrantRecord>> {
        Err(not_yet())
    }
    async fn space_grants(&self, _space_id: &str, _now_ms: i64) -> StoreResult<Vec<GrantRecord>> {
        Err(not_yet())
    }
    async fn user_dept_ids(&self, _corp_id: &str, _union_id: &str) -> StoreResult<Vec<String>> {
        Err(not_yet())
    }
    async fn purge_expired_grants(&self, _now_ms: i64) -> StoreResult<u64> {
        Err(not_yet())
    }
}
