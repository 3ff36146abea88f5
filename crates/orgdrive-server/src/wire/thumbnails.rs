//! Thumbnails: GetDentryThumbnails' request and result items.

use orgdrive_core::{DriveError, Thumbnail, ThumbnailResult};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of GetDentryThumbnails.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetDentryThumbnailsRequest {
    /// 1 to 30 file ids.
    #[schema(required = true, nullable = false, min_items = 1, max_items = 30)]
    pub dentry_ids: Option<Vec<String>>,
}

/// A thumbnail: its size in pixels and a signed, temporary URL to `GET` it
/// (a PNG).
#[derive(Serialize, ToSchema)]
pub struct ThumbnailWire {
    pub width: u32,
    pub height: u32,
    pub url: String,
}

impl From<Thumbnail> for ThumbnailWire {
    fn from(t: Thumbnail) -> ThumbnailWire {
        ThumbnailWire { width: t.width, height: t.height, url: t.url.url }
    }
}

/// One requested id: its thumbnail, or the `errorCode` of why there is none
/// (`thumbnailNotReady`: being made, ask again; `thumbnailNotSupported`: a
/// folder or a type without thumbnails; `thumbnailFailed`: not a readable
/// image; `paramError.dentryId`, `permissionDenied`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailResultItem {
    pub space_id: String,
    pub dentry_id: String,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<ThumbnailWire>,
}

impl ThumbnailResultItem {
    /// The item of `result`, with the code `code_of` gives a refusal.
    pub fn new(
        space_id: &str,
        result: ThumbnailResult,
        code_of: impl Fn(DriveError) -> String,
    ) -> ThumbnailResultItem {
        let (success, error_code, thumbnail) = match result.result {
            Ok(t) => (true, None, Some(t.into())),
            Err(e) => (false, Some(code_of(e)), None),
        };
        ThumbnailResultItem {
            space_id: space_id.to_string(),
            dentry_id: result.dentry_id,
            success,
            error_code,
            thumbnail,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetDentryThumbnailsResponse {
    pub result_items: Vec<ThumbnailResultItem>,
}
