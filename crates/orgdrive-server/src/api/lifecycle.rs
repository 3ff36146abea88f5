//! Tree changes: RenameDentry, MoveDentry, MoveDentries, CopyDentry,
//! CopyDentries, DeleteDentry and DeleteDentries. What runs at once answers
//! `async: false`; what the domain runs as a task answers `async: true` and
//! its `taskId` (GetTask). Batch items that fail carry the error code the
//! whole call would have answered (`ApiError::from`).

use axum::extract::State;
use axum::Json;
use orgdrive_core::{BatchItem, DriveError, Relocated, Relocation};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::{scope, Caller, QueryParams, WireJson, WirePath as Path};
use crate::state::ServerState;
use crate::wire::{
    CopyDentriesRequest, CopyDentryRequest, CopyOption, DeleteDentriesRequest,
    DeleteDentriesResponse, DeleteDentryQuery, DeleteDentryResponse, DeleteResultItem,
    DentryResponse, ItemOutcome, MoveDentriesRequest, MoveDentryRequest, MoveOption,
    RelocateDentriesResponse, RelocateResponse, RelocateResultItem, RenameDentryRequest,
    StorageErrors, TaskLimitErrors, UnionIdQuery,
};

/// RenameDentry, MoveDentry(s), CopyDentry(s) and DeleteDentry(s), each at
/// the path and method its description names.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .routes(utoipa_axum::routes!(rename_dentry))
        .routes(utoipa_axum::routes!(move_dentry))
        .routes(utoipa_axum::routes!(move_dentries))
        .routes(utoipa_axum::routes!(copy_dentry))
        .routes(utoipa_axum::routes!(copy_dentries))
        .routes(utoipa_axum::routes!(delete_dentry))
        .routes(utoipa_axum::routes!(delete_dentries))
}

type Reply<T> = Result<Json<T>, ApiError>;

/// A batch item's outcome on the wire; a refusal carries its DingTalk code.
pub(super) fn outcome(item: Result<orgdrive_core::Landing, DriveError>) -> ItemOutcome {
    match item {
        Ok(landing) => ItemOutcome::landed(landing),
        Err(e) => ItemOutcome::failed(ApiError::from(e).code),
    }
}

/// The target of a move; the permissions flag in either spelling (default
/// false: the moved dentries' grants are removed).
fn move_to(
    target_space_id: Option<String>,
    target_folder_id: Option<String>,
    option: Option<MoveOption>,
) -> Relocation {
    let option = option.unwrap_or_default();
    let preserve_permissions =
        option.preserve_permissions.or(option.preseve_permissions).unwrap_or(false);
    Relocation {
        target_space_id,
        target_folder_id,
        conflict_strategy: option.conflict_strategy,
        preserve_permissions,
    }
}

fn copy_to(
    target_space_id: Option<String>,
    target_folder_id: Option<String>,
    option: Option<CopyOption>,
) -> Relocation {
    Relocation {
        target_space_id,
        target_folder_id,
        conflict_strategy: option.and_then(|o| o.conflict_strategy),
        preserve_permissions: false,
    }
}

fn relocated(r: Relocated) -> RelocateResponse {
    RelocateResponse { is_async: r.task_id.is_some(), dentry: r.dentry.into(), task_id: r.task_id }
}

fn relocate_items(space_id: &str, items: Vec<BatchItem>) -> RelocateDentriesResponse {
    RelocateDentriesResponse {
        result_items: items
            .into_iter()
            .map(|item| RelocateResultItem::new(space_id, item.id, outcome(item.outcome)))
            .collect(),
    }
}

/// RenameDentry: a new name in the same folder (not the root; a taken name
/// is refused).
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/rename",
    operation_id = "RenameDentry",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file or folder (not the root `0`)"),
        UnionIdQuery,
    ),
    request_body = RenameDentryRequest,
    responses(
        (status = 200, description = "The renamed file or folder", body = DentryResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn rename_dentry(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    WireJson(body): WireJson<RenameDentryRequest>,
) -> Reply<DentryResponse> {
    let view =
        state.drive.rename_dentry(&op, &space_id, &dentry_id, body.new_name.as_deref()).await?;
    Ok(Json(DentryResponse { dentry: view.into() }))
}

/// MoveDentry: to a folder of this or another space (name conflicts per
/// `option.conflictStrategy`).
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/move",
    operation_id = "MoveDentry",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The source space"),
        ("dentryId" = String, Path, description = "The file or folder (not the root `0`)"),
        UnionIdQuery,
    ),
    request_body = MoveDentryRequest,
    responses(
        (status = 200, description = "The moved file or folder", body = RelocateResponse),
        StorageErrors,
        TaskLimitErrors,
    ),
    security(("accessToken" = [])),
)]
async fn move_dentry(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    WireJson(body): WireJson<MoveDentryRequest>,
) -> Reply<RelocateResponse> {
    let to = move_to(body.target_space_id, body.target_folder_id, body.option);
    Ok(Json(relocated(state.drive.move_dentry(&op, &space_id, &dentry_id, to).await?)))
}

/// MoveDentries: 1–30 dentries to one folder, one result item per id in
/// request order.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/batchMove",
    operation_id = "MoveDentries",
    tag = "dentries",
    params(("spaceId" = String, Path, description = "The source space"), UnionIdQuery),
    request_body = MoveDentriesRequest,
    responses(
        (status = 200, description = "One item per requested id",
            body = RelocateDentriesResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn move_dentries(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path(space_id): Path<String>,
    WireJson(body): WireJson<MoveDentriesRequest>,
) -> Reply<RelocateDentriesResponse> {
    let ids = body.dentry_ids.unwrap_or_default();
    let to = move_to(body.target_space_id, body.target_folder_id, body.option);
    let items = state.drive.move_dentries(&op, &space_id, &ids, to).await?;
    Ok(Json(relocate_items(&space_id, items)))
}

/// CopyDentry: a copy (new ids) in a folder of this or another space (name
/// conflicts per `option.conflictStrategy`).
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/copy",
    operation_id = "CopyDentry",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The source space"),
        ("dentryId" = String, Path, description = "The file or folder (not the root `0`)"),
        UnionIdQuery,
    ),
    request_body = CopyDentryRequest,
    responses(
        (status = 200, description = "The copy", body = RelocateResponse),
        StorageErrors,
        TaskLimitErrors,
    ),
    security(("accessToken" = [])),
)]
async fn copy_dentry(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    WireJson(body): WireJson<CopyDentryRequest>,
) -> Reply<RelocateResponse> {
    let to = copy_to(body.target_space_id, body.target_folder_id, body.option);
    Ok(Json(relocated(state.drive.copy_dentry(&op, &space_id, &dentry_id, to).await?)))
}

/// CopyDentries: 1–30 dentries to one folder, one result item per id in
/// request order.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/batchCopy",
    operation_id = "CopyDentries",
    tag = "dentries",
    params(("spaceId" = String, Path, description = "The source space"), UnionIdQuery),
    request_body = CopyDentriesRequest,
    responses(
        (status = 200, description = "One item per requested id",
            body = RelocateDentriesResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn copy_dentries(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path(space_id): Path<String>,
    WireJson(body): WireJson<CopyDentriesRequest>,
) -> Reply<RelocateDentriesResponse> {
    let ids = body.dentry_ids.unwrap_or_default();
    let to = copy_to(body.target_space_id, body.target_folder_id, body.option);
    let items = state.drive.copy_dentries(&op, &space_id, &ids, to).await?;
    Ok(Json(relocate_items(&space_id, items)))
}

/// DeleteDentry: for good, or to the recycle bin with `toRecycleBin=true`.
/// No body.
#[utoipa::path(
    delete,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}",
    operation_id = "DeleteDentry",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file or folder (not the root `0`)"),
        DeleteDentryQuery,
    ),
    responses(
        (status = 200, description = "Deleted, or being deleted by a task",
            body = DeleteDentryResponse),
        StorageErrors,
        TaskLimitErrors,
    ),
    security(("accessToken" = [])),
)]
async fn delete_dentry(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    query: QueryParams,
) -> Reply<DeleteDentryResponse> {
    let to_recycle_bin = query.boolean("toRecycleBin")?.unwrap_or(false);
    let task_id = state.drive.delete_dentry(&op, &space_id, &dentry_id, to_recycle_bin).await?;
    Ok(Json(DeleteDentryResponse { is_async: task_id.is_some(), task_id }))
}

/// DeleteDentries: 1–50 dentries, for good or (`option.toRecycleBin`) to the
/// recycle bin; one result item per id in request order.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/batchRemove",
    operation_id = "DeleteDentries",
    tag = "dentries",
    params(("spaceId" = String, Path, description = "The space"), UnionIdQuery),
    request_body = DeleteDentriesRequest,
    responses(
        (status = 200, description = "One item per requested id", body = DeleteDentriesResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn delete_dentries(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path(space_id): Path<String>,
    WireJson(body): WireJson<DeleteDentriesRequest>,
) -> Reply<DeleteDentriesResponse> {
    let ids = body.dentry_ids.unwrap_or_default();
    let to_recycle_bin = body.option.and_then(|o| o.to_recycle_bin).unwrap_or(false);
    let items = state.drive.delete_dentries(&op, &space_id, &ids, to_recycle_bin).await?;
    let result_items = items
        .into_iter()
        .map(|item| DeleteResultItem::new(&space_id, item.id, outcome(item.outcome)))
        .collect();
    Ok(Json(DeleteDentriesResponse { result_items }))
}
