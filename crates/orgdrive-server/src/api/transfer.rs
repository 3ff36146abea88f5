//! Upload and download info: GetFileUploadInfo, InitMultipartFileUpload,
//! GetMultipartFileUploadInfos, CommitFile and GetFileDownloadInfo. The
//! bytes themselves travel through the signed URLs of `blob`.

use axum::extract::State;
use axum::Json;
use orgdrive_core::{CommitRequest, UploadRequest};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::{scope, BaseUrl, Caller, WireJson, WirePath as Path};
use crate::state::ServerState;
use crate::wire::{
    property_inputs, CommitFileRequest, DentryResponse, GetDentryThumbnailsRequest,
    GetDentryThumbnailsResponse, GetFileDownloadInfoRequest, GetFileDownloadInfoResponse,
    GetFileUploadInfoRequest, GetFileUploadInfoResponse, GetMultipartFileUploadInfosRequest,
    GetMultipartFileUploadInfosResponse, InitMultipartFileUploadRequest,
    InitMultipartFileUploadResponse, MultipartHeaderSignatureInfo, StorageErrors,
    ThumbnailResultItem, UnionIdQuery, UploadLimitErrors, UploadOption,
};

const PROTOCOL: &str = "HEADER_SIGNATURE";
const STORAGE_DRIVER: &str = "DINGTALK";

/// GetFileUploadInfo, InitMultipartFileUpload, GetMultipartFileUploadInfos,
/// CommitFile and GetFileDownloadInfo, each at the path and method its
/// description names.
pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .routes(utoipa_axum::routes!(get_upload_info))
        .routes(utoipa_axum::routes!(init_multipart))
        .routes(utoipa_axum::routes!(multipart_infos))
        .routes(utoipa_axum::routes!(commit_file))
        .routes(utoipa_axum::routes!(download_info))
        .routes(utoipa_axum::routes!(get_dentry_thumbnails))
}

type Reply<T> = Result<Json<T>, ApiError>;

fn upload_request(protocol: Option<String>, option: Option<UploadOption>) -> UploadRequest {
    let option = option.unwrap_or_default();
    UploadRequest {
        protocol,
        storage_driver: option.storage_driver,
        prefer_region: option.prefer_region,
        pre_check: option.pre_check_param.unwrap_or_default().into(),
    }
}

/// GetFileUploadInfo: an upload key and a signed URL to `PUT` the bytes to.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/files/uploadInfos/query",
    operation_id = "GetFileUploadInfo",
    tag = "transfer",
    params(("spaceId" = String, Path, description = "The space"), UnionIdQuery),
    request_body = GetFileUploadInfoRequest,
    responses(
        (status = 200, description = "The upload key and signed URL",
            body = GetFileUploadInfoResponse),
        StorageErrors,
        UploadLimitErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_upload_info(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::UploadInfoRead>,
    Path(space_id): Path<String>,
    BaseUrl(base): BaseUrl,
    WireJson(body): WireJson<GetFileUploadInfoRequest>,
) -> Reply<GetFileUploadInfoResponse> {
    let request = upload_request(body.protocol, body.option);
    let ticket = state.drive.get_file_upload_info(&op, &space_id, request, &base).await?;
    Ok(Json(GetFileUploadInfoResponse {
        protocol: PROTOCOL,
        storage_driver: STORAGE_DRIVER,
        upload_key: ticket.upload_key,
        header_signature_info: ticket.url.into(),
    }))
}

/// InitMultipartFileUpload: an upload key for a multipart upload.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/files/multiPartUploadInfos/init",
    operation_id = "InitMultipartFileUpload",
    tag = "transfer",
    params(("spaceId" = String, Path, description = "The space"), UnionIdQuery),
    request_body = Option<InitMultipartFileUploadRequest>,
    responses(
        (status = 200, description = "The upload key", body = InitMultipartFileUploadResponse),
        StorageErrors,
        UploadLimitErrors,
    ),
    security(("accessToken" = [])),
)]
async fn init_multipart(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::UploadInfoRead>,
    Path(space_id): Path<String>,
    WireJson(body): WireJson<InitMultipartFileUploadRequest>,
) -> Reply<InitMultipartFileUploadResponse> {
    let request = upload_request(None, body.option);
    let upload_key = state.drive.init_multipart_upload(&op, &space_id, request).await?;
    Ok(Json(InitMultipartFileUploadResponse { storage_driver: STORAGE_DRIVER, upload_key }))
}

/// GetMultipartFileUploadInfos: signed `PUT` URLs for parts (at most 30 a call).
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/files/multiPartUploadInfos/query",
    operation_id = "GetMultipartFileUploadInfos",
    tag = "transfer",
    params(UnionIdQuery),
    request_body = GetMultipartFileUploadInfosRequest,
    responses(
        (status = 200, description = "One signed URL per part",
            body = GetMultipartFileUploadInfosResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn multipart_infos(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::UploadInfoRead>,
    BaseUrl(base): BaseUrl,
    WireJson(body): WireJson<GetMultipartFileUploadInfosRequest>,
) -> Reply<GetMultipartFileUploadInfosResponse> {
    let parts = body.part_numbers.unwrap_or_default();
    let urls =
        state.drive.multipart_upload_urls(&op, body.upload_key.as_deref(), &parts, &base).await?;
    Ok(Json(GetMultipartFileUploadInfosResponse {
        multipart_header_signature_infos: urls
            .into_iter()
            .map(|(part_number, url)| MultipartHeaderSignatureInfo {
                part_number,
                header_signature_info: url.into(),
            })
            .collect(),
    }))
}

/// CommitFile: turns an uploaded key into a file (or a new version of one).
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/files/commit",
    operation_id = "CommitFile",
    tag = "transfer",
    params(("spaceId" = String, Path, description = "The space"), UnionIdQuery),
    request_body = CommitFileRequest,
    responses(
        (status = 200, description = "The file", body = DentryResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn commit_file(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileWrite>,
    Path(space_id): Path<String>,
    WireJson(body): WireJson<CommitFileRequest>,
) -> Reply<DentryResponse> {
    let option = body.option;
    let request = CommitRequest {
        upload_key: body.upload_key,
        name: body.name,
        parent_id: body.parent_id,
        size: option.as_ref().and_then(|o| o.size),
        conflict_strategy: option.as_ref().and_then(|o| o.conflict_strategy.clone()),
        app_properties: property_inputs(option.and_then(|o| o.app_properties)),
        overwrite_dentry_id: body.overwrite_dentry_id,
    };
    let view = state.drive.commit_file(&op, &space_id, request).await?;
    Ok(Json(DentryResponse { dentry: view.into() }))
}

/// GetDentryThumbnails: each file's thumbnail (size and a signed URL), made
/// in the background after a commit; one result item per id.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/thumbnails/query",
    operation_id = "GetDentryThumbnails",
    tag = "transfer",
    params(
        ("spaceId" = String, Path, description = "The space"),
        UnionIdQuery,
    ),
    request_body = GetDentryThumbnailsRequest,
    responses(
        (status = 200, description = "One result per id", body = GetDentryThumbnailsResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn get_dentry_thumbnails(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::FileRead>,
    Path(space_id): Path<String>,
    BaseUrl(base): BaseUrl,
    WireJson(body): WireJson<GetDentryThumbnailsRequest>,
) -> Reply<GetDentryThumbnailsResponse> {
    let ids = body.dentry_ids.unwrap_or_default();
    let results = state.drive.get_dentry_thumbnails(&op, &space_id, &ids, &base).await?;
    Ok(Json(GetDentryThumbnailsResponse {
        result_items: results
            .into_iter()
            .map(|r| ThumbnailResultItem::new(&space_id, r, |e| ApiError::from(e).code))
            .collect(),
    }))
}

/// GetFileDownloadInfo: a signed URL to `GET` a file's bytes.
#[utoipa::path(
    post,
    path = "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/downloadInfos/query",
    operation_id = "GetFileDownloadInfo",
    tag = "transfer",
    params(
        ("spaceId" = String, Path, description = "The space"),
        ("dentryId" = String, Path, description = "The file"),
        UnionIdQuery,
    ),
    request_body = Option<GetFileDownloadInfoRequest>,
    responses(
        (status = 200, description = "The signed URL", body = GetFileDownloadInfoResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn download_info(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::DownloadInfoRead>,
    Path((space_id, dentry_id)): Path<(String, String)>,
    BaseUrl(base): BaseUrl,
    WireJson(body): WireJson<GetFileDownloadInfoRequest>,
) -> Reply<GetFileDownloadInfoResponse> {
    let version = body.option.and_then(|o| o.version);
    let url = state.drive.download_info(&op, &space_id, &dentry_id, version, &base).await?;
    Ok(Json(GetFileDownloadInfoResponse { protocol: PROTOCOL, header_signature_info: url.into() }))
}
