//! The recycle bin: GetRecycleBin, ListRecycleItems, GetRecycleItem,
//! RestoreRecycleItem(s), DeleteRecycleItem(s), ClearRecycleBin.

use orgdrive_store::{RecycleBinRecord, RecycleItemRecord};

use crate::lifecycle::{BatchItem, Landing};
use crate::{Drive, DriveResult, Operator};

/// Most ids of one RestoreRecycleItems call.
pub const MAX_RESTORE_IDS: usize = 30;
/// Most ids of one DeleteRecycleItems call.
pub const MAX_PURGE_IDS: usize = 50;

/// One page of ListRecycleItems.
#[derive(Debug, Clone)]
pub struct RecyclePage {
    pub items: Vec<RecycleItemRecord>,
    /// Present when more items follow.
    pub next_token: Option<String>,
}

impl Drive {
    /// GetRecycleBin by `recycleBinScope` and `scopeId`.
    pub async fn get_recycle_bin(
        &self,
        op: &Operator,
        scope: Option<&str>,
        scope_id: Option<&str>,
    ) -> DriveResult<RecycleBinRecord> {
        let _ = (op, scope, scope_id);
        todo!()
    }

    /// ListRecycleItems.
    pub async fn list_recycle_items(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        max_results: Option<i64>,
        next_token: Option<String>,
    ) -> DriveResult<RecyclePage> {
        let _ = (op, recycle_bin_id, max_results, next_token);
        todo!()
    }

    /// GetRecycleItem.
    pub async fn get_recycle_item(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        recycle_item_id: &str,
    ) -> DriveResult<RecycleItemRecord> {
        let _ = (op, recycle_bin_id, recycle_item_id);
        todo!()
    }

    /// RestoreRecycleItem: to the original folder (or the space root when
    /// that is gone), under `conflictStrategy`.
    pub async fn restore_recycle_item(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        recycle_item_id: &str,
        conflict_strategy: Option<String>,
    ) -> DriveResult<Landing> {
        let _ = (op, recycle_bin_id, recycle_item_id, conflict_strategy);
        todo!()
    }

    /// RestoreRecycleItems: one item per id, in request order.
    pub async fn restore_recycle_items(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        recycle_item_ids: &[String],
        conflict_strategy: Option<String>,
    ) -> DriveResult<Vec<BatchItem>> {
        let _ = (op, recycle_bin_id, recycle_item_ids, conflict_strategy);
        todo!()
    }

    /// DeleteRecycleItem: purges the item for good.
    pub async fn delete_recycle_item(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        recycle_item_id: &str,
    ) -> DriveResult<()> {
        let _ = (op, recycle_bin_id, recycle_item_id);
        todo!()
    }

    /// DeleteRecycleItems: purges the items (unknown ids are ignored).
    pub async fn delete_recycle_items(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        recycle_item_ids: &[String],
    ) -> DriveResult<()> {
        let _ = (op, recycle_bin_id, recycle_item_ids);
        todo!()
    }

    /// ClearRecycleBin: purges every item of the bin.
    pub async fn clear_recycle_bin(&self, op: &Operator, recycle_bin_id: &str) -> DriveResult<()> {
        let _ = (op, recycle_bin_id);
        todo!()
    }
}
