//! Tree changes: the requests and answers of RenameDentry, MoveDentry(s),
//! CopyDentry(s) and DeleteDentry(s) (whose query [`DeleteDentryQuery`] only
//! describes what the handler reads through `QueryParams`), the per-item
//! results of their batches (reference §3.4), and the `{"success": true}`
//! and bodiless requests several lifecycle operations share.

use orgdrive_core::Landing;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dentries::Dentry;
use super::vocab::ConflictStrategy;

/// `{"success": true}`: the answer of operations that return nothing else.
#[derive(Serialize, ToSchema)]
pub struct SuccessResponse {
    pub success: bool,
}

impl SuccessResponse {
    pub const OK: SuccessResponse = SuccessResponse { success: true };
}

/// The body of a POST that has no fields (RevertDentryVersion,
/// ClearRecycleBin): the Python SDK sends none, others `{}`; any object is
/// accepted and its fields are ignored.
#[derive(Deserialize, ToSchema)]
pub struct NoFields {}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenameDentryRequest {
    /// The new name, extension included (the naming rule of AddFolder).
    #[schema(required = true, nullable = false, example = "report-final.txt")]
    pub new_name: Option<String>,
}

/// `option` of MoveDentry and MoveDentries. The SDKs spell the permissions
/// flag `presevePermissions` for MoveDentry and `preservePermissions` for
/// MoveDentries: both spellings are read on both operations.
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoveOption {
    #[schema(value_type = Option<ConflictStrategy>)]
    pub conflict_strategy: Option<String>,
    /// Keep the grants on the moved dentries (default false: they are
    /// removed; grants of the old place never follow).
    pub preserve_permissions: Option<bool>,
    /// MoveDentry's spelling of `preservePermissions` in the official SDKs.
    pub preseve_permissions: Option<bool>,
}

/// `option` of CopyDentry and CopyDentries.
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CopyOption {
    #[schema(value_type = Option<ConflictStrategy>)]
    pub conflict_strategy: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoveDentryRequest {
    /// The space to move to (may be the source space).
    #[schema(required = true, nullable = false)]
    pub target_space_id: Option<String>,
    /// The folder to move into; `0` is the root.
    #[schema(required = true, nullable = false, example = "0")]
    pub target_folder_id: Option<String>,
    pub option: Option<MoveOption>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CopyDentryRequest {
    /// The space to copy to (may be the source space).
    #[schema(required = true, nullable = false)]
    pub target_space_id: Option<String>,
    /// The folder to copy into; `0` is the root.
    #[schema(required = true, nullable = false, example = "0")]
    pub target_folder_id: Option<String>,
    pub option: Option<CopyOption>,
}

/// MoveDentry and CopyDentry: the moved dentry or the copy's root. A folder
/// with children moved to another space, or copied, is moved or copied by a
/// task: `async` is then true and `taskId` names it (GetTask).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelocateResponse {
    #[serde(rename = "async")]
    pub is_async: bool,
    pub dentry: Dentry,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoveDentriesRequest {
    /// Ids of dentries of the path's space: 1 to 30.
    #[schema(required = true, nullable = false, min_items = 1, max_items = 30)]
    pub dentry_ids: Option<Vec<String>>,
    #[schema(required = true, nullable = false)]
    pub target_space_id: Option<String>,
    #[schema(required = true, nullable = false, example = "0")]
    pub target_folder_id: Option<String>,
    pub option: Option<MoveOption>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CopyDentriesRequest {
    /// Ids of dentries of the path's space: 1 to 30.
    #[schema(required = true, nullable = false, min_items = 1, max_items = 30)]
    pub dentry_ids: Option<Vec<String>>,
    #[schema(required = true, nullable = false)]
    pub target_space_id: Option<String>,
    #[schema(required = true, nullable = false, example = "0")]
    pub target_folder_id: Option<String>,
    pub option: Option<CopyOption>,
}

/// MoveDentries and CopyDentries: one item per requested id, in request order.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelocateDentriesResponse {
    pub result_items: Vec<RelocateResultItem>,
}

/// One item of a move or copy batch (reference §3.4). `success` and
/// `errorCode` are omitted for an item running as a task (`async`,
/// `taskId`); the target ids are given for every item that did not fail.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelocateResultItem {
    /// The source space (the path's).
    pub space_id: String,
    /// The requested id.
    pub dentry_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// `paramError.dentryId`, `permissionDenied`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(rename = "async")]
    pub is_async: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_space_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_dentry_id: Option<String>,
}

/// How an item of a batch turned out, on the wire: an item running as a
/// task has no `success` nor `errorCode` yet; a failed one did not land.
pub struct ItemOutcome {
    pub success: Option<bool>,
    pub error_code: Option<String>,
    pub is_async: bool,
    pub task_id: Option<String>,
    pub landing: Option<Landing>,
}

impl ItemOutcome {
    /// Done at once (`success: true`), or running as a task.
    pub fn landed(landing: Landing) -> ItemOutcome {
        ItemOutcome {
            success: landing.task_id.is_none().then_some(true),
            error_code: None,
            is_async: landing.task_id.is_some(),
            task_id: landing.task_id.clone(),
            landing: Some(landing),
        }
    }

    /// Refused with this DingTalk error code.
    pub fn failed(error_code: String) -> ItemOutcome {
        ItemOutcome {
            success: Some(false),
            error_code: Some(error_code),
            is_async: false,
            task_id: None,
            landing: None,
        }
    }
}

impl RelocateResultItem {
    /// The item of requested id `dentry_id` of space `space_id`.
    pub fn new(space_id: &str, dentry_id: String, outcome: ItemOutcome) -> RelocateResultItem {
        let (target_space_id, target_dentry_id) =
            outcome.landing.map(|l| (l.space_id, l.dentry_id)).unzip();
        RelocateResultItem {
            space_id: space_id.to_string(),
            dentry_id,
            success: outcome.success,
            error_code: outcome.error_code,
            is_async: outcome.is_async,
            task_id: outcome.task_id,
            target_space_id,
            target_dentry_id,
        }
    }
}

/// The query of DeleteDentry (handlers read queries through `QueryParams`;
/// this type only describes it).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct DeleteDentryQuery {
    /// The user the app acts for (see the other operations).
    pub union_id: String,
    /// `true`: to the recycle bin of the space; `false` (default): deleted
    /// for good. Accepted in any case (the Python SDK sends `True`/`False`).
    #[param(nullable = false)]
    pub to_recycle_bin: Option<bool>,
}

/// DeleteDentry: `async` is true when a folder with children is deleted by
/// a task (`taskId`, GetTask).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteDentryResponse {
    #[serde(rename = "async")]
    pub is_async: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteDentriesRequest {
    /// Ids of dentries of the path's space: 1 to 50.
    #[schema(required = true, nullable = false, min_items = 1, max_items = 50)]
    pub dentry_ids: Option<Vec<String>>,
    pub option: Option<DeleteOption>,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOption {
    /// `true`: to the recycle bin; `false` (default): deleted for good.
    pub to_recycle_bin: Option<bool>,
}

/// DeleteDentries: one item per requested id, in request order.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteDentriesResponse {
    pub result_items: Vec<DeleteResultItem>,
}

/// One item of a delete batch (reference §3.4): `success` and `errorCode`
/// are omitted for an item running as a task (`async`, `taskId`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteResultItem {
    pub space_id: String,
    pub dentry_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(rename = "async")]
    pub is_async: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

impl DeleteResultItem {
    /// The item of requested id `dentry_id` of space `space_id`.
    pub fn new(space_id: &str, dentry_id: String, outcome: ItemOutcome) -> DeleteResultItem {
        DeleteResultItem {
            space_id: space_id.to_string(),
            dentry_id,
            success: outcome.success,
            error_code: outcome.error_code,
            is_async: outcome.is_async,
            task_id: outcome.task_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn landing(task_id: Option<&str>) -> Landing {
        Landing {
            space_id: "20".into(),
            dentry_id: "21".into(),
            task_id: task_id.map(str::to_string),
        }
    }

    #[test]
    fn relocate_items_per_outcome() {
        let done = RelocateResultItem::new("1", "5".into(), ItemOutcome::landed(landing(None)));
        assert_eq!(
            serde_json::to_value(done).unwrap(),
            json!({"spaceId": "1", "dentryId": "5", "success": true, "async": false,
                   "targetSpaceId": "20", "targetDentryId": "21"})
        );
        // A task: no success nor errorCode yet, the target ids already.
        let task =
            RelocateResultItem::new("1", "5".into(), ItemOutcome::landed(landing(Some("9"))));
        assert_eq!(
            serde_json::to_value(task).unwrap(),
            json!({"spaceId": "1", "dentryId": "5", "async": true, "taskId": "9",
                   "targetSpaceId": "20", "targetDentryId": "21"})
        );
        let failed = RelocateResultItem::new(
            "1",
            "0".into(),
            ItemOutcome::failed("permissionDenied".into()),
        );
        assert_eq!(
            serde_json::to_value(failed).unwrap(),
            json!({"spaceId": "1", "dentryId": "0", "success": false,
                   "errorCode": "permissionDenied", "async": false})
        );
    }

    #[test]
    fn delete_items_and_answers() {
        let done = DeleteResultItem::new("1", "5".into(), ItemOutcome::landed(landing(None)));
        assert_eq!(
            serde_json::to_value(done).unwrap(),
            json!({"spaceId": "1", "dentryId": "5", "success": true, "async": false})
        );
        let task = DeleteResultItem::new("1", "5".into(), ItemOutcome::landed(landing(Some("9"))));
        assert_eq!(
            serde_json::to_value(task).unwrap(),
            json!({"spaceId": "1", "dentryId": "5", "async": true, "taskId": "9"})
        );
        let sync = DeleteDentryResponse { is_async: false, task_id: None };
        assert_eq!(serde_json::to_value(sync).unwrap(), json!({"async": false}));
    }
}
