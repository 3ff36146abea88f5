//! Open links: GetDentryOpenInfo and RegisterOpenInfo. The preview pages
//! their links lead to are `preview`'s.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::{scope, BaseUrl, Caller, WireJson, WirePath as Path};
use crate::state::ServerState;
use crate::wire::{
    GetDentryOpenInfoRequest, GetDentryOpenInfoResponse, RegisterOpenInfoRequest, StorageErrors,
    SuccessResponse, UnionIdQuery,
};

/// GetDentryOpenInfo and RegisterOpenInfo, each at the path and method its
/// description names.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .routes(utoipa_axum::routes!(get_dentry_open_info))
        .routes(utoipa_axum::routes!(register_open_info))
}

type Reply<T> = Result<Json<T>, ApiError>;

/// GetDentryOpenInfo: a link to preview or edit a file — its registered
/// link of that type (the most recent), else for `PREVIEW` a signed link to
/// orgdrive's preview page (valid 5 minutes), else for `EDIT`
/// `webOfficeNotConfigured` (400).
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/openInfos/query",
    operation_id = "GetDentryOpenInfo",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file"),
        UnionIdQuery,
    ),
    request_body = Option<GetDentryOpenInfoRequest>,
    responses(
        (status = 200, description = "The link", body = GetDentryOpenInfoResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_dentry_open_info(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileRead>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    BaseUrl(base): BaseUrl,
    WireJson(body): WireJson<GetDentryOpenInfoRequest>,
) -> Reply<GetDentryOpenInfoResponse> {
    let request = body.request();
    let info =
        state.drive.get_dentry_open_info(&op, &space_id, &dentry_id, &request, &base).await?;
    Ok(Json(info.into()))
}

/// RegisterOpenInfo: registers a provider's links to preview or edit a
/// file, each replacing that provider's link of its type.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/openInfos/register",
    operation_id = "RegisterOpenInfo",
    tag = "dentries",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file"),
        UnionIdQuery,
    ),
    request_body = RegisterOpenInfoRequest,
    responses(
        (status = 200, description = "Registered", body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn register_open_info(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    WireJson(body): WireJson<RegisterOpenInfoRequest>,
) -> Reply<SuccessResponse> {
    let infos: Vec<_> = body.open_infos.unwrap_or_default().into_iter().map(Into::into).collect();
    state
        .drive
        .register_open_info(&op, &space_id, &dentry_id, body.provider.as_deref(), &infos)
        .await?;
    Ok(Json(SuccessResponse::OK))
}
