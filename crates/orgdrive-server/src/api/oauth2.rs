//! `POST /v1.0/oauth2/accessToken`: app credentials for an access token.

use axum::routing::post;
use axum::{extract::State, Json, Router};

use crate::extract::WireJson;
use crate::wire::{GetAccessTokenRequest, GetAccessTokenResponse};
use crate::{ApiError, ServerState};

pub fn routes() -> Router<ServerState> {
    Router::new().route("/v1.0/oauth2/accessToken", post(get_access_token))
}

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
