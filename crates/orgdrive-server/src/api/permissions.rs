//! Permissions: AddPermission, UpdatePermission, DeletePermission,
//! ListPermissions and BatchQueryRoles.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::{scope, Caller, QueryParams, WireJson, WirePath as Path};
use crate::state::ServerState;
use crate::wire::{
    BatchQueryRolesQuery, DeletePermissionRequest, GrantPermissionRequest, ListPermissionsRequest,
    NoFields, PermissionPage, RoleMapResponse, StorageErrors, SuccessResponse, UnionIdQuery,
};
use orgdrive_core::DriveError;

/// The five permission operations, each at the path and method its
/// description names.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .routes(utoipa_axum::routes!(add_permission, update_permission))
        .routes(utoipa_axum::routes!(delete_permission))
        .routes(utoipa_axum::routes!(list_permissions))
        .routes(utoipa_axum::routes!(batch_query_roles))
}

type Reply<T> = Result<Json<T>, ApiError>;

/// AddPermission: grants `roleId` on the dentry (`0` = the space root) to
/// every member. USER spaces take only permanent grants, APP spaces only
/// temporary ones (`option.duration`).
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/permissions",
    operation_id = "AddPermission",
    tag = "permissions",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file or folder; `0` is the root",
            example = "0"),
        UnionIdQuery,
    ),
    request_body = GrantPermissionRequest,
    responses(
        (status = 200, description = "Granted", body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn add_permission(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::PermissionWrite>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    WireJson(body): WireJson<GrantPermissionRequest>,
) -> Reply<SuccessResponse> {
    state.drive.add_permission(&op, &space_id, &dentry_id, body.into()).await?;
    Ok(Json(SuccessResponse::OK))
}

/// UpdatePermission: changes the role (and duration) of grants the members
/// hold on the dentry.
#[utoipa::path(
    put,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/permissions",
    operation_id = "UpdatePermission",
    tag = "permissions",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file or folder; `0` is the root",
            example = "0"),
        UnionIdQuery,
    ),
    request_body = GrantPermissionRequest,
    responses(
        (status = 200, description = "Updated", body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn update_permission(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::PermissionWrite>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    WireJson(body): WireJson<GrantPermissionRequest>,
) -> Reply<SuccessResponse> {
    state.drive.update_permission(&op, &space_id, &dentry_id, body.into()).await?;
    Ok(Json(SuccessResponse::OK))
}

/// DeletePermission: removes the members' grants of `roleId` on the dentry.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/permissions/remove",
    operation_id = "DeletePermission",
    tag = "permissions",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file or folder; `0` is the root",
            example = "0"),
        UnionIdQuery,
    ),
    request_body = DeletePermissionRequest,
    responses(
        (status = 200, description = "Removed", body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn delete_permission(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::PermissionWrite>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    WireJson(body): WireJson<DeletePermissionRequest>,
) -> Reply<SuccessResponse> {
    state.drive.delete_permission(&op, &space_id, &dentry_id, body.into()).await?;
    Ok(Json(SuccessResponse::OK))
}

/// ListPermissions: one page of the live grants on the dentry itself.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/permissions/query",
    operation_id = "ListPermissions",
    tag = "permissions",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file or folder; `0` is the root",
            example = "0"),
        UnionIdQuery,
    ),
    request_body = Option<ListPermissionsRequest>,
    responses(
        (status = 200, description = "A page of grants", body = PermissionPage),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn list_permissions(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::PermissionRead>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    WireJson(body): WireJson<ListPermissionsRequest>,
) -> Reply<PermissionPage> {
    let option = body.option.unwrap_or_default();
    let page = state
        .drive
        .list_permissions(
            &op,
            &space_id,
            &dentry_id,
            &option.filter_role_ids.unwrap_or_default(),
            option.max_results,
            option.next_token.as_deref(),
        )
        .await?;
    Ok(Json(PermissionPage {
        permissions: page.grants.into_iter().map(Into::into).collect(),
        next_token: page.next_token,
    }))
}

/// BatchQueryRoles: the operator's roles on each dentry of `dentryIdList`
/// (a JSON array in one query value). The SDK sends no body.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/permissions/roles/batchQuery",
    operation_id = "BatchQueryRoles",
    tag = "permissions",
    params(
        ("spaceId" = String, Path, description = "The space"),
        BatchQueryRolesQuery,
    ),
    request_body = Option<NoFields>,
    responses(
        (status = 200, description = "Each dentry's roles", body = RoleMapResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn batch_query_roles(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::PermissionRead>,
    Path(space_id): Path<String>,
    query: QueryParams,
    WireJson(NoFields {}): WireJson<NoFields>,
) -> Reply<RoleMapResponse> {
    let invalid = || {
        ApiError::from(DriveError::param(
            "dentryIdList",
            "dentryIdList must be a JSON array of dentry ids, e.g. [\"1\",\"2\"]",
        ))
    };
    let text = query.text("dentryIdList").ok_or_else(invalid)?;
    let ids: Vec<String> = serde_json::from_str(&text).map_err(|_| invalid())?;
    let roles = state.drive.batch_query_roles(&op, &space_id, ids).await?;
    let role_map = roles
        .into_iter()
        .map(|(id, role)| (id, role.into_iter().map(Into::into).collect()))
        .collect();
    Ok(Json(RoleMapResponse { role_map }))
}
