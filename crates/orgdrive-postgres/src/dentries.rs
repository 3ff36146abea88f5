//! placeholder

use async_trait::async_trait;
use orgdrive_store::*;

use crate::lifecycle::not_yet;
use crate::PgStore;

#[async_trait]
impl DentryStore for PgStore {
    async fn get_dentry(
        &self,
        _space_id: &str,
        _dentry_id: &str,
    ) -> StoreResult<Option<DentryRecord>> {
        Err(not_yet())
    }
    async fn get_dentries(
        &self,
        _space_id: &str,
        _dentry_ids: &[String],
    ) -> StoreResult<Vec<DentryRecord>> {
        Err(not_yet())
    }
    async fn folder_chain(
        &self,
        _space_id: &str,
        _folder_id: &str,
    ) -> StoreResult<Option<Vec<FolderLink>>> {
        Err(not_yet())
    }
    async fn list_children(
        &self,
        _space_id: &str,
        _parent_id: &str,
        _key: SortKey,
        _descending: bool,
        _after: Option<&Cursor>,
        _limit: u32,
    ) -> StoreResult<Vec<DentryRecord>> {
        Err(not_yet())
    }
    async fn list_space(
        &self,
        _space_id: &str,
        _descending: bool,
        _after: Option<&Cursor>,
        _limit: u32,
    ) -> StoreResult<Vec<DentryRecord>> {
        Err(not_yet())
    }
    async fn get_version(
        &self,
        _dentry_id: &str,
        _version: i64,
    ) -> StoreResult<Option<VersionRecord>> {
        Err(not_yet())
    }
    async fn put_dentry(&self, _put: &PutDentry) -> StoreResult<PutOutcome> {
        Err(not_yet())
    }
}
