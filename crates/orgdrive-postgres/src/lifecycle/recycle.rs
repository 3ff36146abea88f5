//! Recycle bins and their items: listing, restoring, purging.

use async_trait::async_trait;

use orgdrive_store::{
    Ids, ItemCursor, ItemFilter, Placed, RecycleBinRecord, RecycleItemRecord, RecycleStore,
    Removed, RestoreItem, StoreResult,
};

use super::not_yet;
use crate::PgStore;

// PG-B.
#[async_trait]
impl RecycleStore for PgStore {
    async fn recycle_bin_once(&self, _bin: &RecycleBinRecord) -> StoreResult<RecycleBinRecord> {
        Err(not_yet())
    }
    async fn get_recycle_bin(
        &self,
        _recycle_bin_id: &str,
    ) -> StoreResult<Option<RecycleBinRecord>> {
        Err(not_yet())
    }
    async fn list_recycle_items(
        &self,
        _filter: &ItemFilter,
        _after: Option<&ItemCursor>,
        _limit: u32,
    ) -> StoreResult<Vec<RecycleItemRecord>> {
        Err(not_yet())
    }
    async fn get_recycle_item(
        &self,
        _recycle_item_id: &str,
    ) -> StoreResult<Option<RecycleItemRecord>> {
        Err(not_yet())
    }
    async fn restore_recycle_item(&self, _restore: &RestoreItem, _ids: Ids) -> StoreResult<Placed> {
        Err(not_yet())
    }
    async fn purge_recycle_items(
        &self,
        _filter: &ItemFilter,
        _item_ids: Option<&[String]>,
        _operator_id: &str,
    ) -> StoreResult<Removed> {
        Err(not_yet())
    }
}
