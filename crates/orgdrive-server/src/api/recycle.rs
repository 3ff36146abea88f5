//! The recycle bin: GetRecycleBin, ListRecycleItems, GetRecycleItem,
//! RestoreRecycleItem, RestoreRecycleItems, DeleteRecycleItem,
//! DeleteRecycleItems and ClearRecycleBin. A restore of a folder with
//! children runs as a task (`async: true`, `taskId`).

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;

use super::lifecycle::outcome;
use crate::error::ApiError;
use crate::extract::{scope, Caller, QueryParams, WireJson, WirePath as Path};
use crate::state::ServerState;
use crate::wire::{
    DeleteRecycleItemsRequest, GetRecycleBinQuery, GetRecycleBinResponse, GetRecycleItemResponse,
    ListRecycleItemsQuery, ListRecycleItemsResponse, NoFields, RecycleItem,
    RestoreRecycleItemRequest, RestoreRecycleItemResponse, RestoreRecycleItemsRequest,
    RestoreRecycleItemsResponse, RestoreResultItem, StorageErrors, SuccessResponse,
    TaskLimitErrors, UnionIdQuery,
};

/// The eight recycle bin operations, each at the path and method its
/// description names.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .routes(utoipa_axum::routes!(get_recycle_bin))
        .routes(utoipa_axum::routes!(list_recycle_items))
        .routes(utoipa_axum::routes!(get_recycle_item))
        .routes(utoipa_axum::routes!(restore_recycle_item))
        .routes(utoipa_axum::routes!(restore_recycle_items))
        .routes(utoipa_axum::routes!(delete_recycle_item))
        .routes(utoipa_axum::routes!(delete_recycle_items))
        .routes(utoipa_axum::routes!(clear_recycle_bin))
}

type Reply<T> = Result<Json<T>, ApiError>;

/// GetRecycleBin: the bin of an org, an app or a space.
#[utoipa::path(
    get,
    path = "/v1.0/storage/recycleBins",
    operation_id = "GetRecycleBin",
    tag = "recycle",
    params(GetRecycleBinQuery),
    responses(
        (status = 200, description = "The recycle bin", body = GetRecycleBinResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_recycle_bin(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::RecycleBinRead>,
    query: QueryParams,
) -> Reply<GetRecycleBinResponse> {
    let scope = query.text("recycleBinScope");
    let scope_id = query.text("scopeId");
    let bin = state.drive.get_recycle_bin(&op, scope.as_deref(), scope_id.as_deref()).await?;
    Ok(Json(GetRecycleBinResponse { recycle_bin: bin.into() }))
}

/// ListRecycleItems: one page of the bin's items.
#[utoipa::path(
    get,
    path = "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems",
    operation_id = "ListRecycleItems",
    tag = "recycle",
    params(
        ("recycleBinId" = String, Path, description = "The bin (GetRecycleBin)"),
        ListRecycleItemsQuery,
    ),
    responses(
        (status = 200, description = "A page of recycle items", body = ListRecycleItemsResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn list_recycle_items(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::RecycleBinRead>,
    Path(recycle_bin_id): Path<String>,
    query: QueryParams,
) -> Reply<ListRecycleItemsResponse> {
    let max_results = query.integer("maxResults")?;
    let next_token = query.text("nextToken").filter(|t| !t.is_empty());
    let page =
        state.drive.list_recycle_items(&op, &recycle_bin_id, max_results, next_token).await?;
    Ok(Json(ListRecycleItemsResponse {
        recycle_items: page.items.into_iter().map(RecycleItem::from).collect(),
        next_token: page.next_token,
    }))
}

/// GetRecycleItem: one item of the bin.
#[utoipa::path(
    get,
    path = "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems/{recycleItemId}",
    operation_id = "GetRecycleItem",
    tag = "recycle",
    params(
        ("recycleBinId" = String, Path, description = "The bin (GetRecycleBin)"),
        ("recycleItemId" = String, Path, description = "The item (ListRecycleItems)"),
        UnionIdQuery,
    ),
    responses(
        (status = 200, description = "The recycle item", body = GetRecycleItemResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_recycle_item(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::RecycleBinRead>,
    Path((recycle_bin_id, recycle_item_id)): Path<(String, String)>,
) -> Reply<GetRecycleItemResponse> {
    let item = state.drive.get_recycle_item(&op, &recycle_bin_id, &recycle_item_id).await?;
    Ok(Json(GetRecycleItemResponse { item: item.into() }))
}

/// RestoreRecycleItem: back to its folder (the space root when that is
/// gone), name conflicts per `option.conflictStrategy`.
#[utoipa::path(
    post,
    path = "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems/{recycleItemId}/restore",
    operation_id = "RestoreRecycleItem",
    tag = "recycle",
    params(
        ("recycleBinId" = String, Path, description = "The bin (GetRecycleBin)"),
        ("recycleItemId" = String, Path, description = "The item (ListRecycleItems)"),
        UnionIdQuery,
    ),
    request_body = Option<RestoreRecycleItemRequest>,
    responses(
        (status = 200, description = "Restored, or being restored by a task",
            body = RestoreRecycleItemResponse),
        StorageErrors,
        TaskLimitErrors,
    ),
    security(("accessToken" = [])),
)]
async fn restore_recycle_item(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::RecycleBinWrite>,
    Path((recycle_bin_id, recycle_item_id)): Path<(String, String)>,
    WireJson(body): WireJson<RestoreRecycleItemRequest>,
) -> Reply<RestoreRecycleItemResponse> {
    let conflict_strategy = body.option.and_then(|o| o.conflict_strategy);
    let landing = state
        .drive
        .restore_recycle_item(&op, &recycle_bin_id, &recycle_item_id, conflict_strategy)
        .await?;
    Ok(Json(RestoreRecycleItemResponse {
        is_async: landing.task_id.is_some(),
        space_id: landing.space_id,
        dentry_id: landing.dentry_id,
        task_id: landing.task_id,
    }))
}

/// RestoreRecycleItems: 1–30 items, one result item per id in request order.
#[utoipa::path(
    post,
    path = "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems/batchRestore",
    operation_id = "RestoreRecycleItems",
    tag = "recycle",
    params(
        ("recycleBinId" = String, Path, description = "The bin (GetRecycleBin)"),
        UnionIdQuery,
    ),
    request_body = RestoreRecycleItemsRequest,
    responses(
        (status = 200, description = "One item per requested id",
            body = RestoreRecycleItemsResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn restore_recycle_items(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::RecycleBinWrite>,
    Path(recycle_bin_id): Path<String>,
    WireJson(body): WireJson<RestoreRecycleItemsRequest>,
) -> Reply<RestoreRecycleItemsResponse> {
    let ids = body.recycle_item_ids.unwrap_or_default();
    let conflict_strategy = body.option.and_then(|o| o.conflict_strategy);
    let items =
        state.drive.restore_recycle_items(&op, &recycle_bin_id, &ids, conflict_strategy).await?;
    let result_items = items
        .into_iter()
        .map(|item| RestoreResultItem::new(&recycle_bin_id, item.id, outcome(item.outcome)))
        .collect();
    Ok(Json(RestoreRecycleItemsResponse { result_items }))
}

/// DeleteRecycleItem: purges the item; it can no longer be restored.
#[utoipa::path(
    delete,
    path = "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems/{recycleItemId}",
    operation_id = "DeleteRecycleItem",
    tag = "recycle",
    params(
        ("recycleBinId" = String, Path, description = "The bin (GetRecycleBin)"),
        ("recycleItemId" = String, Path, description = "The item (ListRecycleItems)"),
        UnionIdQuery,
    ),
    responses(
        (status = 200, description = "Purged", body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn delete_recycle_item(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::RecycleBinWrite>,
    Path((recycle_bin_id, recycle_item_id)): Path<(String, String)>,
) -> Reply<SuccessResponse> {
    state.drive.delete_recycle_item(&op, &recycle_bin_id, &recycle_item_id).await?;
    Ok(Json(SuccessResponse::OK))
}

/// DeleteRecycleItems: purges 1–50 items (unknown ids are ignored).
#[utoipa::path(
    post,
    path = "/v1.0/storage/recycleBins/{recycleBinId}/recycleItems/batchRemove",
    operation_id = "DeleteRecycleItems",
    tag = "recycle",
    params(
        ("recycleBinId" = String, Path, description = "The bin (GetRecycleBin)"),
        UnionIdQuery,
    ),
    request_body = DeleteRecycleItemsRequest,
    responses(
        (status = 200, description = "Purged", body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn delete_recycle_items(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::RecycleBinWrite>,
    Path(recycle_bin_id): Path<String>,
    WireJson(body): WireJson<DeleteRecycleItemsRequest>,
) -> Reply<SuccessResponse> {
    let ids = body.recycle_item_ids.unwrap_or_default();
    state.drive.delete_recycle_items(&op, &recycle_bin_id, &ids).await?;
    Ok(Json(SuccessResponse::OK))
}

/// ClearRecycleBin: purges every item of the bin. The SDK sends no body; an
/// empty body or `{}` does as well.
#[utoipa::path(
    post,
    path = "/v1.0/storage/recycleBins/{recycleBinId}/clear",
    operation_id = "ClearRecycleBin",
    tag = "recycle",
    params(
        ("recycleBinId" = String, Path, description = "The bin (GetRecycleBin)"),
        UnionIdQuery,
    ),
    request_body = Option<NoFields>,
    responses(
        (status = 200, description = "Emptied", body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn clear_recycle_bin(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::RecycleBinWrite>,
    Path(recycle_bin_id): Path<String>,
    WireJson(NoFields {}): WireJson<NoFields>,
) -> Reply<SuccessResponse> {
    state.drive.clear_recycle_bin(&op, &recycle_bin_id).await?;
    Ok(Json(SuccessResponse::OK))
}
