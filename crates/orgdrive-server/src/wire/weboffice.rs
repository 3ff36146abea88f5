//! WebOffice: the answers of GetWebOfficeUrl and RefreshWebOfficeToken, and
//! the query of RefreshWebOfficeToken (documentation only; the handler reads
//! it through `QueryParams`).

use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// GetWebOfficeUrl's answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetWebOfficeUrlResponse {
    /// The WOPI access token (about 30 minutes), also in `webOfficeUrl`.
    pub web_office_access_token: String,
    /// Exchanges the pair for a new one (RefreshWebOfficeToken; about a day, once).
    pub web_office_refresh_token: String,
    /// The WOPI client's editor URL with `WOPISrc`, `access_token` and
    /// `access_token_ttl` (ms since the epoch).
    pub web_office_url: String,
}

/// RefreshWebOfficeToken's answer: the new pair (the old refresh token is dead).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshWebOfficeTokenResponse {
    pub web_office_access_token: String,
    pub web_office_refresh_token: String,
}

/// The query of RefreshWebOfficeToken (documentation only).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RefreshWebOfficeTokenQuery {
    /// The user the app acts for (see the other operations).
    pub union_id: String,
    /// The current access token of the file's pair (expired or not).
    pub web_office_access_token: String,
    /// The refresh token of that pair.
    pub web_office_refresh_token: String,
}
