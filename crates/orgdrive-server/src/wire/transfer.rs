//! Uploads and downloads: the signed-URL objects and the requests and answers
//! of GetFileUploadInfo, InitMultipartFileUpload, GetMultipartFileUploadInfos,
//! CommitFile (which answers with a dentry) and GetFileDownloadInfo.

use std::collections::BTreeMap;

use orgdrive_core::{PreCheck, SignedUrl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dentries::AppPropertyWire;
use super::vocab::{ConflictStrategy, Protocol, StorageDriver};

/// `headerSignatureInfo` (reference §3.5). Signatures travel in the URL;
/// `headers` holds what an object store's presigned URL needs sent as is
/// (usually nothing).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderSignatureInfo {
    pub resource_urls: Vec<String>,
    pub internal_resource_urls: Vec<String>,
    pub headers: BTreeMap<String, String>,
    pub expiration_seconds: i64,
    pub region: &'static str,
}

impl From<SignedUrl> for HeaderSignatureInfo {
    fn from(url: SignedUrl) -> HeaderSignatureInfo {
        HeaderSignatureInfo {
            resource_urls: vec![url.url.clone()],
            internal_resource_urls: vec![url.url],
            headers: url.headers.into_iter().collect(),
            expiration_seconds: url.expiration_seconds,
            region: "UNKNOWN",
        }
    }
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreCheckParam {
    pub md5: Option<String>,
    pub name: Option<String>,
    pub parent_id: Option<String>,
    pub size: Option<i64>,
}

impl From<PreCheckParam> for PreCheck {
    fn from(p: PreCheckParam) -> PreCheck {
        PreCheck { name: p.name, parent_id: p.parent_id, size: p.size, md5: p.md5 }
    }
}

/// `option` of GetFileUploadInfo and InitMultipartFileUpload.
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadOption {
    pub pre_check_param: Option<PreCheckParam>,
    pub prefer_intranet: Option<bool>,
    pub prefer_region: Option<String>,
    #[schema(value_type = Option<StorageDriver>)]
    pub storage_driver: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct GetFileUploadInfoRequest {
    pub multipart: Option<bool>,
    #[schema(value_type = Protocol, required = true)]
    pub protocol: Option<String>,
    pub option: Option<UploadOption>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetFileUploadInfoResponse {
    pub protocol: &'static str,
    pub storage_driver: &'static str,
    pub upload_key: String,
    pub header_signature_info: HeaderSignatureInfo,
}

#[derive(Deserialize, ToSchema)]
pub struct InitMultipartFileUploadRequest {
    pub option: Option<UploadOption>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitMultipartFileUploadResponse {
    pub storage_driver: &'static str,
    pub upload_key: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetMultipartFileUploadInfosRequest {
    #[schema(required = true, nullable = false)]
    pub upload_key: Option<String>,
    /// Part numbers 1–10000.
    #[schema(required = true, nullable = false, min_items = 1, max_items = 30)]
    pub part_numbers: Option<Vec<i64>>,
    pub option: Option<PreferIntranetOption>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferIntranetOption {
    pub prefer_intranet: Option<bool>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetMultipartFileUploadInfosResponse {
    pub multipart_header_signature_infos: Vec<MultipartHeaderSignatureInfo>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultipartHeaderSignatureInfo {
    pub part_number: i64,
    pub header_signature_info: HeaderSignatureInfo,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitFileRequest {
    #[schema(required = true, nullable = false)]
    pub upload_key: Option<String>,
    /// Required unless `overwriteDentryId` is given.
    #[schema(example = "hello.txt")]
    pub name: Option<String>,
    /// Required unless `overwriteDentryId` is given; `0` is the root.
    #[schema(example = "0")]
    pub parent_id: Option<String>,
    pub option: Option<CommitFileOption>,
    pub overwrite_dentry_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitFileOption {
    /// Must equal the uploaded size.
    #[schema(minimum = 0)]
    pub size: Option<i64>,
    #[schema(value_type = Option<ConflictStrategy>)]
    pub conflict_strategy: Option<String>,
    pub app_properties: Option<Vec<AppPropertyWire>>,
}

#[derive(Deserialize, ToSchema)]
pub struct GetFileDownloadInfoRequest {
    pub option: Option<DownloadOption>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownloadOption {
    pub version: Option<i64>,
    pub prefer_intranet: Option<bool>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetFileDownloadInfoResponse {
    pub protocol: &'static str,
    pub header_signature_info: HeaderSignatureInfo,
}
