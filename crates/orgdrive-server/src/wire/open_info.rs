//! Open links: GetDentryOpenInfo and RegisterOpenInfo.

use orgdrive_core::{OpenInfo, OpenInfoRequest, OpenLinkInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of GetDentryOpenInfo.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct GetDentryOpenInfoRequest {
    pub option: Option<OpenInfoOption>,
}

/// GetDentryOpenInfo's options.
#[derive(Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct OpenInfoOption {
    /// Accepted and ignored: orgdrive's preview links need no login; they
    /// expire 5 minutes after they are issued.
    pub check_login: Option<bool>,
    /// `PREVIEW` (default) or `EDIT`.
    #[serde(rename = "type")]
    pub open_type: Option<String>,
    /// A history version of the file; absent: the current one.
    pub version: Option<i64>,
    /// Accepted; orgdrive draws no watermarks (`hasWaterMark` is false).
    pub water_mark: Option<bool>,
}

impl GetDentryOpenInfoRequest {
    /// The domain's request.
    pub fn request(self) -> OpenInfoRequest {
        let option = self.option.unwrap_or_default();
        OpenInfoRequest { open_type: option.open_type, version: option.version }
    }
}

/// The answer of GetDentryOpenInfo: the link to open the file with.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetDentryOpenInfoResponse {
    /// Always false: no watermarks.
    pub has_water_mark: bool,
    /// A registered link, as registered, or orgdrive's signed preview page.
    pub url: String,
}

impl From<OpenInfo> for GetDentryOpenInfoResponse {
    fn from(info: OpenInfo) -> GetDentryOpenInfoResponse {
        GetDentryOpenInfoResponse { has_water_mark: info.has_water_mark, url: info.url }
    }
}

/// The body of RegisterOpenInfo.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterOpenInfoRequest {
    /// 1 to 10 links, at most one per open type.
    #[schema(required = true, nullable = false, min_items = 1, max_items = 10)]
    pub open_infos: Option<Vec<OpenInfoItem>>,
    /// Who serves the links: 1 to 64 letters, digits, `_`, `-` or `.`
    /// (e.g. `MS_OFFICE`, `DINGTALK`).
    #[schema(required = true, nullable = false, max_length = 64)]
    pub provider: Option<String>,
}

/// One link to register.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenInfoItem {
    /// `PREVIEW` or `EDIT`.
    #[schema(required = true, nullable = false)]
    pub open_type: Option<String>,
    /// An absolute `http`/`https` URL, at most 2048 characters.
    #[schema(required = true, nullable = false, max_length = 2048)]
    pub url: Option<String>,
}

impl From<OpenInfoItem> for OpenLinkInput {
    fn from(item: OpenInfoItem) -> OpenLinkInput {
        OpenLinkInput { open_type: item.open_type, url: item.url }
    }
}
