//! Org and app information: GetOrg (`GET /v1.0/storage/orgs/{corpId}`) and
//! GetCurrentApp (`POST /v1.0/storage/currentApps/query`).

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::{scope, Caller, WirePath as Path};
use crate::state::ServerState;
use crate::wire::{GetCurrentAppResponse, GetOrgResponse, StorageErrors, UnionIdQuery};

/// GetOrg and GetCurrentApp, each at the path and method its description names.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .routes(utoipa_axum::routes!(get_org))
        .routes(utoipa_axum::routes!(get_current_app))
}

/// GetOrg: the caller's own organization and its capacity.
#[utoipa::path(
    get,
    path = "/v1.0/storage/orgs/{corpId}",
    operation_id = "GetOrg",
    tag = "orgs",
    params(("corpId" = String, Path, description = "The token's organization"), UnionIdQuery),
    responses(
        (status = 200, description = "The organization", body = GetOrgResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_org(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::OrgRead>,
    Path(corp_id): Path<String>,
) -> Result<Json<GetOrgResponse>, ApiError> {
    let view = state.drive.get_org(&op, &corp_id).await?;
    Ok(Json(GetOrgResponse { org: view.into() }))
}

/// GetCurrentApp: the token's app. The SDK sends no body; any body is ignored.
#[utoipa::path(
    post,
    path = "/v1.0/storage/currentApps/query",
    operation_id = "GetCurrentApp",
    tag = "orgs",
    params(UnionIdQuery),
    responses(
        (status = 200, description = "The app", body = GetCurrentAppResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_current_app(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::AnyScope>,
) -> Result<Json<GetCurrentAppResponse>, ApiError> {
    let view = state.drive.current_app(&op).await?;
    Ok(Json(GetCurrentAppResponse { app: view.into() }))
}
