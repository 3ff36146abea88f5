//! Versions and app properties: ListDentryVersions, RevertDentryVersion,
//! UpdateDentryAppProperties and DeleteDentryAppProperties.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::{scope, Caller, QueryParams, WireJson, WirePath as Path};
use crate::state::ServerState;
use crate::wire::{
    property_inputs, DeleteDentryAppPropertiesRequest, Dentry, DentryPage, ListDentryVersionsQuery,
    NoFields, StorageErrors, SuccessResponse, UnionIdQuery, UpdateDentryAppPropertiesRequest,
};

/// ListDentryVersions, RevertDentryVersion, UpdateDentryAppProperties and
/// DeleteDentryAppProperties, each at the path and method its description
/// names.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .routes(utoipa_axum::routes!(list_dentry_versions))
        .routes(utoipa_axum::routes!(revert_dentry_version))
        .routes(utoipa_axum::routes!(update_app_properties))
        .routes(utoipa_axum::routes!(delete_app_properties))
}

type Reply<T> = Result<Json<T>, ApiError>;

/// ListDentryVersions: one page of a file's history versions (the current
/// version is not among them), newest first, each as the file was then.
#[utoipa::path(
    get,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/versions",
    operation_id = "ListDentryVersions",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file"),
        ListDentryVersionsQuery,
    ),
    responses(
        (status = 200, description = "A page of history versions", body = DentryPage),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn list_dentry_versions(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileRead>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    query: QueryParams,
) -> Reply<DentryPage> {
    let max_results = query.integer("maxResults")?;
    let next_token = query.text("nextToken").filter(|t| !t.is_empty());
    let page = state
        .drive
        .list_dentry_versions(&op, &space_id, &dentry_id, max_results, next_token)
        .await?;
    Ok(Json(DentryPage {
        dentries: page.dentries.into_iter().map(Dentry::from).collect(),
        next_token: page.next_token,
    }))
}

/// RevertDentryVersion: a new current version with the content of version
/// `version`. The SDK sends no body; an empty body or `{}` does as well.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/versions/{version}/revert",
    operation_id = "RevertDentryVersion",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file"),
        ("version" = String, Path, description = "A history version of the file (a number)",
            example = "1"),
        UnionIdQuery,
    ),
    request_body = Option<NoFields>,
    responses(
        (status = 200, description = "Reverted", body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn revert_dentry_version(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path((space_id, dentry_id, version)): Path<(String, String, String)>,
    WireJson(NoFields {}): WireJson<NoFields>,
) -> Reply<SuccessResponse> {
    state.drive.revert_dentry_version(&op, &space_id, &dentry_id, &version).await?;
    Ok(Json(SuccessResponse::OK))
}

/// UpdateDentryAppProperties: adds or updates (by name) the calling app's
/// properties.
#[utoipa::path(
    put,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/appProperties",
    operation_id = "UpdateDentryAppProperties",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file or folder"),
        UnionIdQuery,
    ),
    request_body = UpdateDentryAppPropertiesRequest,
    responses(
        (status = 200, description = "Updated", body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn update_app_properties(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    WireJson(body): WireJson<UpdateDentryAppPropertiesRequest>,
) -> Reply<SuccessResponse> {
    let properties = property_inputs(body.app_properties);
    state.drive.update_app_properties(&op, &space_id, &dentry_id, properties).await?;
    Ok(Json(SuccessResponse::OK))
}

/// DeleteDentryAppProperties: removes the calling app's named properties.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/appProperties/remove",
    operation_id = "DeleteDentryAppProperties",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file or folder"),
        UnionIdQuery,
    ),
    request_body = DeleteDentryAppPropertiesRequest,
    responses(
        (status = 200, description = "Removed", body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn delete_app_properties(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    WireJson(body): WireJson<DeleteDentryAppPropertiesRequest>,
) -> Reply<SuccessResponse> {
    let names = body.property_names.unwrap_or_default();
    state.drive.delete_app_properties(&op, &space_id, &dentry_id, names).await?;
    Ok(Json(SuccessResponse::OK))
}
