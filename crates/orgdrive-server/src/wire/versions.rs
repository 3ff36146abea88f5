//! Versions and app properties: the query of ListDentryVersions (which
//! answers a [`super::DentryPage`] of history versions; [`ListDentryVersionsQuery`]
//! only describes what the handler reads through `QueryParams`) and the
//! requests of UpdateDentryAppProperties and DeleteDentryAppProperties
//! (RevertDentryVersion has no body).

use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::dentries::AppPropertyWire;

/// The query of ListDentryVersions (documentation only).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ListDentryVersionsQuery {
    /// The user the app acts for (see the other operations).
    pub union_id: String,
    /// Page size: default 100, larger values are clamped to 100.
    #[param(minimum = 1, nullable = false)]
    pub max_results: Option<i64>,
    /// The `nextToken` of the previous page of the same listing.
    #[param(nullable = false)]
    pub next_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDentryAppPropertiesRequest {
    /// The calling app's properties to add or update (by name); at most 3
    /// may remain. A missing `visibility` is `PRIVATE`.
    #[schema(required = true, nullable = false)]
    pub app_properties: Option<Vec<AppPropertyWire>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteDentryAppPropertiesRequest {
    /// Names of the calling app's properties to remove (unknown names are ignored).
    #[schema(required = true, nullable = false)]
    pub property_names: Option<Vec<String>>,
}
