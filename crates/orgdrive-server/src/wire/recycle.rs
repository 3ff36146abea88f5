//! The recycle bin: the bin (GetRecycleBin, whose query
//! [`GetRecycleBinQuery`] only describes what the handler reads through
//! `QueryParams`), recycle items (reference §3.7; ListRecycleItems with
//! [`ListRecycleItemsQuery`], GetRecycleItem), restores with their per-item
//! results (reference §3.4) and purges.

use orgdrive_core::{iso8601, RecycleBinRecord, RecycleItemRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::lifecycle::ItemOutcome;
use super::vocab::{ConflictStrategy, DentryType, RecycleBinScope};

/// The query of GetRecycleBin (documentation only).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct GetRecycleBinQuery {
    /// The user the app acts for (see the other operations).
    pub union_id: String,
    /// Whose bin: the org's, the app's or a space's.
    #[param(inline)]
    pub recycle_bin_scope: RecycleBinScope,
    /// The corpId (`ORG`), appId (`APP`) or spaceId (`SPACE`).
    pub scope_id: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecycleBin {
    /// The `recycleBinId` of the other recycle bin operations.
    pub id: String,
    #[schema(value_type = RecycleBinScope)]
    pub scope: &'static str,
    pub scope_id: String,
}

impl From<RecycleBinRecord> for RecycleBin {
    fn from(bin: RecycleBinRecord) -> RecycleBin {
        RecycleBin { id: bin.recycle_bin_id, scope: bin.scope.as_str(), scope_id: bin.scope_id }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetRecycleBinResponse {
    pub recycle_bin: RecycleBin,
}

/// A file or folder (with what was under it) in the recycle bin.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecycleItem {
    pub id: String,
    /// The space it was deleted from.
    pub space_id: String,
    /// Its id before deletion.
    pub dentry_id: String,
    #[serde(rename = "type")]
    #[schema(value_type = DentryType)]
    pub kind: String,
    /// Bytes of the files deleted with it.
    pub size: i64,
    pub original_name: String,
    /// `/a/b/name` when it was deleted.
    pub original_path: String,
    /// The unionId of the user who deleted it.
    pub operator_id: String,
    /// When it was deleted.
    pub operator_time: String,
}

impl From<RecycleItemRecord> for RecycleItem {
    fn from(item: RecycleItemRecord) -> RecycleItem {
        RecycleItem {
            id: item.recycle_item_id,
            space_id: item.space_id,
            dentry_id: item.dentry_id,
            kind: item.kind,
            size: item.size,
            original_name: item.name,
            original_path: item.path,
            operator_id: item.operator_id,
            operator_time: iso8601(item.deleted_at),
        }
    }
}

/// The query of ListRecycleItems (documentation only).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ListRecycleItemsQuery {
    /// The user the app acts for (see the other operations).
    pub union_id: String,
    /// Page size: default 50, larger values are clamped to 50.
    #[param(minimum = 1, nullable = false)]
    pub max_results: Option<i64>,
    /// The `nextToken` of the previous page of the same listing.
    #[param(nullable = false)]
    pub next_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListRecycleItemsResponse {
    pub recycle_items: Vec<RecycleItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GetRecycleItemResponse {
    pub item: RecycleItem,
}

/// `option` of RestoreRecycleItem and RestoreRecycleItems.
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreOption {
    /// What to do when the original folder holds the name again.
    #[schema(value_type = Option<ConflictStrategy>)]
    pub conflict_strategy: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RestoreRecycleItemRequest {
    pub option: Option<RestoreOption>,
}

/// RestoreRecycleItem: where the dentry is back. A folder with children is
/// restored by a task (`async: true`, `taskId`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRecycleItemResponse {
    #[serde(rename = "async")]
    pub is_async: bool,
    pub space_id: String,
    pub dentry_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRecycleItemsRequest {
    /// Ids of items of the path's bin: 1 to 30.
    #[schema(required = true, nullable = false, min_items = 1, max_items = 30)]
    pub recycle_item_ids: Option<Vec<String>>,
    pub option: Option<RestoreOption>,
}

/// RestoreRecycleItems: one item per requested id, in request order.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRecycleItemsResponse {
    pub result_items: Vec<RestoreResultItem>,
}

/// One item of a restore batch (reference §3.4). `success` and `errorCode`
/// are omitted for an item running as a task (`async`, `taskId`); `spaceId`
/// and `dentryId` (the restored dentry) for an item that failed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreResultItem {
    pub recycle_bin_id: String,
    /// The requested id.
    pub recycle_item_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dentry_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// `paramError.recycleItemId`, `paramError.name`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(rename = "async")]
    pub is_async: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

impl RestoreResultItem {
    /// The item of requested id `recycle_item_id` of bin `recycle_bin_id`.
    pub fn new(
        recycle_bin_id: &str,
        recycle_item_id: String,
        outcome: ItemOutcome,
    ) -> RestoreResultItem {
        let (space_id, dentry_id) = outcome.landing.map(|l| (l.space_id, l.dentry_id)).unzip();
        RestoreResultItem {
            recycle_bin_id: recycle_bin_id.to_string(),
            recycle_item_id,
            space_id,
            dentry_id,
            success: outcome.success,
            error_code: outcome.error_code,
            is_async: outcome.is_async,
            task_id: outcome.task_id,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRecycleItemsRequest {
    /// Ids of items of the path's bin: 1 to 50 (unknown ids are ignored).
    #[schema(required = true, nullable = false, min_items = 1, max_items = 50)]
    pub recycle_item_ids: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use orgdrive_core::{Landing, RecycleScope};
    use serde_json::json;

    use super::*;

    #[test]
    fn recycle_bin_and_item() {
        let bin = RecycleBin::from(RecycleBinRecord {
            recycle_bin_id: "7".into(),
            corp_id: "ding1".into(),
            scope: RecycleScope::Space,
            scope_id: "3".into(),
            created_at: 0,
        });
        assert_eq!(
            serde_json::to_value(bin).unwrap(),
            json!({"id": "7", "scope": "SPACE", "scopeId": "3"})
        );
        let item = RecycleItem::from(RecycleItemRecord {
            recycle_item_id: "8".into(),
            corp_id: "ding1".into(),
            app_id: "4".into(),
            space_id: "3".into(),
            dentry_id: "12".into(),
            kind: "FILE".into(),
            name: "a.txt".into(),
            path: "/docs/a.txt".into(),
            parent_id: "11".into(),
            size: 5,
            operator_id: "u1".into(),
            deleted_at: 1_700_000_000_000,
            entries: 1,
        });
        assert_eq!(
            serde_json::to_value(item).unwrap(),
            json!({"id": "8", "spaceId": "3", "dentryId": "12", "type": "FILE", "size": 5,
                   "originalName": "a.txt", "originalPath": "/docs/a.txt", "operatorId": "u1",
                   "operatorTime": "2023-11-14T22:13:20Z"})
        );
    }

    #[test]
    fn restore_items_per_outcome() {
        let landed = Landing { space_id: "3".into(), dentry_id: "12".into(), task_id: None };
        let done = RestoreResultItem::new("7", "8".into(), ItemOutcome::landed(landed));
        assert_eq!(
            serde_json::to_value(done).unwrap(),
            json!({"recycleBinId": "7", "recycleItemId": "8", "spaceId": "3", "dentryId": "12",
                   "success": true, "async": false})
        );
        let failed =
            RestoreResultItem::new("7", "9".into(), ItemOutcome::failed("paramError.name".into()));
        assert_eq!(
            serde_json::to_value(failed).unwrap(),
            json!({"recycleBinId": "7", "recycleItemId": "9", "success": false,
                   "errorCode": "paramError.name", "async": false})
        );
    }
}
