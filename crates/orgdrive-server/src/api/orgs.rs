//! Org and app information: GetOrg (`GET /v1.0/storage/orgs/{corpId}`) and
//! GetCurrentApp (`POST /v1.0/storage/currentApps/query`).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::extract::{scope, Caller};
use crate::wire::{GetCurrentAppResponse, GetOrgResponse};
use crate::{ApiError, ServerState};

pub fn routes() -> Router<ServerState> {
    Router::new()
        .route("/v1.0/storage/orgs/{corp_id}", get(get_org))
        .route("/v1.0/storage/currentApps/query", post(get_current_app))
}

async fn get_org(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::OrgRead>,
    Path(corp_id): Path<String>,
) -> Result<Json<GetOrgResponse>, ApiError> {
    let view = state.drive.get_org(&op, &corp_id).await?;
    Ok(Json(GetOrgResponse { org: view.into() }))
}

/// The SDK sends no body; any body is ignored.
async fn get_current_app(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::AnyScope>,
) -> Result<Json<GetCurrentAppResponse>, ApiError> {
    let view = state.drive.current_app(&op).await?;
    Ok(Json(GetCurrentAppResponse { app: view.into() }))
}
