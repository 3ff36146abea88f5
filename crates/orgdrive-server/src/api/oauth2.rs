//! `POST /v1.0/oauth2/accessToken`: app credentials for an access token.

use axum::{extract::State, Json};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::WireJson;
use crate::state::ServerState;
use crate::wire::{ErrorBody, GetAccessTokenRequest, GetAccessTokenResponse};

/// GetAccessToken, at the path and method its description names.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default().routes(utoipa_axum::routes!(get_access_token))
}

/// GetAccessToken: an access token (valid 7200 s) for an app's key and secret.
#[utoipa::path(
    post,
    path = "/v1.0/oauth2/accessToken",
    operation_id = "GetAccessToken",
    tag = "oauth2",
    request_body = GetAccessTokenRequest,
    responses(
        (status = 200, description = "A new access token", body = GetAccessTokenResponse),
        (status = 400, description = "`paramError.appKey` / `paramError.appSecret` (missing), \
            `paramError[.field]` (bad JSON) or `InvalidAuthentication` (bad credentials)",
            body = ErrorBody),
    ),
)]
async fn get_access_token(
    State(state): State<ServerState>,
    WireJson(body): WireJson<GetAccessTokenRequest>,
) -> Result<Json<GetAccessTokenResponse>, ApiError> {
    let app_key =
        body.app_key.ok_or_else(|| ApiError::param(Some("appKey"), "appKey is required"))?;
    let app_secret = body
        .app_secret
        .ok_or_else(|| ApiError::param(Some("appSecret"), "appSecret is required"))?;
    let token = state.drive.issue_token(&app_key, &app_secret).await?;
    Ok(Json(GetAccessTokenResponse {
        access_token: token.access_token,
        expire_in: token.expire_in,
    }))
}
