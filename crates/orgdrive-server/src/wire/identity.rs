//! Who calls: GetAccessToken (an app's key and secret for an access token,
//! `POST /v1.0/oauth2/accessToken`) and the `unionId` query parameter naming
//! the user every storage operation acts for ([`UnionIdQuery`], documentation
//! only: handlers read it through the `Caller` extractor).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetAccessTokenRequest {
    #[schema(required = true, nullable = false)]
    pub app_key: Option<String>,
    #[schema(required = true, nullable = false)]
    pub app_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetAccessTokenResponse {
    pub access_token: String,
    pub expire_in: i64,
}

/// The `unionId` query parameter of every storage operation.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct UnionIdQuery {
    /// The user the app acts for: a user of the token's organization
    /// (`paramError.unionId` when missing, `permissionDenied` when not of the
    /// organization).
    pub union_id: String,
}
