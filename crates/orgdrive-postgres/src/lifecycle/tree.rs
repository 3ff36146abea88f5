//! Tree changes: rename, move, copy, delete, versions, app properties. Each
//! locks its spaces' rows `FOR UPDATE` first (see the crate doc).

use async_trait::async_trait;

use orgdrive_store::{
    CopyDentry, DeleteDentry, DentryRecord, EditAppProperties, Ids, MoveDentry, Placed, Removed,
    RenameDentry, RevertVersion, StoreResult, TreeStore, VersionRecord,
};

use super::not_yet;
use crate::PgStore;

// PG-B.
#[async_trait]
impl TreeStore for PgStore {
    async fn rename_dentry(&self, _rename: &RenameDentry) -> StoreResult<DentryRecord> {
        Err(not_yet())
    }
    async fn move_dentry(&self, _request: &MoveDentry, _ids: Ids) -> StoreResult<Placed> {
        Err(not_yet())
    }
    async fn copy_dentry(&self, _request: &CopyDentry, _ids: Ids) -> StoreResult<Placed> {
        Err(not_yet())
    }
    async fn delete_dentry(&self, _request: &DeleteDentry) -> StoreResult<Removed> {
        Err(not_yet())
    }
    async fn subtree_size(&self, _space_id: &str, _dentry_id: &str) -> StoreResult<i64> {
        Err(not_yet())
    }
    async fn list_versions(
        &self,
        _dentry_id: &str,
        _before: Option<i64>,
        _limit: u32,
    ) -> StoreResult<Vec<VersionRecord>> {
        Err(not_yet())
    }
    async fn revert_version(&self, _request: &RevertVersion) -> StoreResult<DentryRecord> {
        Err(not_yet())
    }
    async fn edit_app_properties(&self, _edit: &EditAppProperties) -> StoreResult<()> {
        Err(not_yet())
    }
}
