//! WebOffice: GetWebOfficeUrl and RefreshWebOfficeToken, the two storage
//! operations that hand out the WOPI client's URL and token pairs; the WOPI
//! host itself is `wopi`.

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::{scope, BaseUrl, Caller, QueryParams, WirePath as Path};
use crate::state::ServerState;
use crate::wire::{
    GetWebOfficeUrlResponse, RefreshWebOfficeTokenQuery, RefreshWebOfficeTokenResponse,
    StorageErrors, UnionIdQuery,
};

/// GetWebOfficeUrl and RefreshWebOfficeToken.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .routes(utoipa_axum::routes!(get_web_office_url))
        .routes(utoipa_axum::routes!(refresh_web_office_token))
}

type Reply<T> = Result<Json<T>, ApiError>;

/// GetWebOfficeUrl: the configured WOPI client's editor URL for a file, with
/// a fresh access token and refresh token. Needs DOWNLOADER on the file; the
/// editor may save only while the operator holds EDITOR. 400
/// `webOfficeNotConfigured` on a server without a WOPI client.
#[utoipa::path(
    get,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/webOfficeUrls",
    operation_id = "GetWebOfficeUrl",
    tag = "transfer",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file"),
        UnionIdQuery,
    ),
    responses(
        (status = 200, description = "The editor URL and tokens", body = GetWebOfficeUrlResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_web_office_url(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileRead>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    BaseUrl(base): BaseUrl,
) -> Reply<GetWebOfficeUrlResponse> {
    let office = state.drive.get_web_office_url(&op, &space_id, &dentry_id, &base).await?;
    Ok(Json(GetWebOfficeUrlResponse {
        web_office_access_token: office.tokens.access_token,
        web_office_refresh_token: office.tokens.refresh_token,
        web_office_url: office.url,
    }))
}

/// RefreshWebOfficeToken: exchanges a file's token pair for a new one; the
/// refresh token works once (a second use revokes the whole session).
#[utoipa::path(
    get,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/refreshWebOfficeToken",
    operation_id = "RefreshWebOfficeToken",
    tag = "transfer",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file"),
        RefreshWebOfficeTokenQuery,
    ),
    responses(
        (status = 200, description = "The new tokens", body = RefreshWebOfficeTokenResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn refresh_web_office_token(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileRead>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    query: QueryParams,
) -> Reply<RefreshWebOfficeTokenResponse> {
    let access = query.text("webOfficeAccessToken");
    let refresh = query.text("webOfficeRefreshToken");
    let tokens = state
        .drive
        .refresh_web_office_token(&op, &space_id, &dentry_id, access.as_deref(), refresh.as_deref())
        .await?;
    Ok(Json(RefreshWebOfficeTokenResponse {
        web_office_access_token: tokens.access_token,
        web_office_refresh_token: tokens.refresh_token,
    }))
}
