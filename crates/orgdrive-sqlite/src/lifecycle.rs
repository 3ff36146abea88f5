//! SQLite: the dentry lifecycle — rename, move, copy, delete, versions, app
//! property edits, the recycle bin and persisted tasks.

use async_trait::async_trait;

use crate::*;
use orgdrive_store::{
    CopyDentry, DeleteDentry, EditAppProperties, Ids, ItemCursor, ItemFilter, MoveDentry, Placed,
    RecycleBinRecord, RecycleItemRecord, RecycleStore, Removed, RenameDentry, RestoreItem,
    RevertVersion, TaskRecord, TaskStore, TreeStore, VersionRecord,
};

#[async_trait]
impl TreeStore for SqliteStore {
    async fn rename_dentry(&self, _rename: &RenameDentry) -> StoreResult<DentryRecord> {
        todo!("issue 8")
    }
    async fn move_dentry(&self, _request: &MoveDentry, _ids: Ids) -> StoreResult<Placed> {
        todo!("issue 8")
    }
    async fn copy_dentry(&self, _request: &CopyDentry, _ids: Ids) -> StoreResult<Placed> {
        todo!("issue 8")
    }
    async fn delete_dentry(&self, _request: &DeleteDentry) -> StoreResult<Removed> {
        todo!("issue 8")
    }
    async fn subtree_size(&self, _space_id: &str, _dentry_id: &str) -> StoreResult<i64> {
        todo!("issue 8")
    }
    async fn list_versions(
        &self,
        _dentry_id: &str,
        _before: Option<i64>,
        _limit: u32,
    ) -> StoreResult<Vec<VersionRecord>> {
        todo!("issue 8")
    }
    async fn revert_version(&self, _request: &RevertVersion) -> StoreResult<DentryRecord> {
        todo!("issue 8")
    }
    async fn edit_app_properties(&self, _edit: &EditAppProperties) -> StoreResult<()> {
        todo!("issue 8")
    }
}

#[async_trait]
impl RecycleStore for SqliteStore {
    async fn recycle_bin_once(&self, _bin: &RecycleBinRecord) -> StoreResult<RecycleBinRecord> {
        todo!("issue 8")
    }
    async fn get_recycle_bin(&self, _id: &str) -> StoreResult<Option<RecycleBinRecord>> {
        todo!("issue 8")
    }
    async fn list_recycle_items(
        &self,
        _filter: &ItemFilter,
        _after: Option<&ItemCursor>,
        _limit: u32,
    ) -> StoreResult<Vec<RecycleItemRecord>> {
        todo!("issue 8")
    }
    async fn get_recycle_item(&self, _id: &str) -> StoreResult<Option<RecycleItemRecord>> {
        todo!("issue 8")
    }
    async fn restore_recycle_item(&self, _restore: &RestoreItem, _ids: Ids) -> StoreResult<Placed> {
        todo!("issue 8")
    }
    async fn purge_recycle_items(
        &self,
        _filter: &ItemFilter,
        _item_ids: Option<&[String]>,
    ) -> StoreResult<Removed> {
        todo!("issue 8")
    }
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn insert_task(&self, _task: &TaskRecord) -> StoreResult<()> {
        todo!("issue 8")
    }
    async fn get_task(&self, _task_id: &str) -> StoreResult<Option<TaskRecord>> {
        todo!("issue 8")
    }
    async fn start_task(&self, _task_id: &str, _now_ms: i64) -> StoreResult<Option<TaskRecord>> {
        todo!("issue 8")
    }
    async fn fail_task(&self, _task_id: &str, _message: &str, _now_ms: i64) -> StoreResult<()> {
        todo!("issue 8")
    }
    async fn unfinished_tasks(&self) -> StoreResult<Vec<TaskRecord>> {
        todo!("issue 8")
    }
    async fn purge_finished_tasks(&self, _before_ms: i64) -> StoreResult<u64> {
        todo!("issue 8")
    }
}
