//! The upload script's JSON endpoints (`assets/console.js`): open an
//! upload (one PUT, or multipart), sign part URLs as the script goes (and
//! again for a part it retries), make the folders of a dropped tree, and
//! commit. Each is the API's own operation, as the person; refusals are the
//! API's JSON errors, which the script shows.

use super::*;

/// The person making one of the upload script's requests (JSON; the CSRF
/// token in `X-CSRF-Token`); refusals are JSON errors, as the script reads them.
fn script_caller<'a>(session: &'a Session, headers: &HeaderMap) -> Result<&'a Operator, ApiError> {
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    session.person_changing(token)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StartUpload {
    parent_id: String,
    name: String,
    size: i64,
    /// A multipart upload (GetMultipartFileUploadInfos' way): the script
    /// asks for part URLs as it goes and may resume with the same key.
    #[serde(default)]
    multipart: bool,
}

/// Opens an upload (GetFileUploadInfo, or the multipart init): the script
/// PUTs the bytes to the signed URL(s) itself, then commits.
pub(super) async fn start_upload(
    State(state): State<ServerState>,
    session: Session,
    headers: HeaderMap,
    Path(space_id): Path<String>,
    BaseUrl(base): BaseUrl,
    axum::extract::Json(body): axum::extract::Json<StartUpload>,
) -> Response {
    let op = match script_caller(&session, &headers) {
        Ok(op) => op,
        Err(refused) => return refused.into_response(),
    };
    let pre_check = PreCheck {
        name: Some(body.name),
        parent_id: Some(body.parent_id),
        size: Some(body.size),
        md5: None,
    };
    if body.multipart {
        let request = UploadRequest { pre_check, ..Default::default() };
        return match state.drive.init_multipart_upload(op, &space_id, request).await {
            Ok(upload_key) => Json(serde_json::json!({ "uploadKey": upload_key })).into_response(),
            Err(e) => ApiError::from(e).into_response(),
        };
    }
    let request = UploadRequest {
        protocol: Some("HEADER_SIGNATURE".into()),
        pre_check,
        ..Default::default()
    };
    match state.drive.get_file_upload_info(op, &space_id, request, &base).await {
        Ok(ticket) => Json(serde_json::json!({
            "uploadKey": ticket.upload_key,
            "url": ticket.url.url,
            "headers": ticket.url.headers.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        }))
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PartUrls {
    upload_key: String,
    part_numbers: Vec<i64>,
}

/// Signed URLs for parts of the caller's own multipart upload
/// (GetMultipartFileUploadInfos); asked again for a part being retried.
pub(super) async fn part_urls(
    State(state): State<ServerState>,
    session: Session,
    headers: HeaderMap,
    BaseUrl(base): BaseUrl,
    axum::extract::Json(body): axum::extract::Json<PartUrls>,
) -> Response {
    let op = match script_caller(&session, &headers) {
        Ok(op) => op,
        Err(refused) => return refused.into_response(),
    };
    let signed =
        state.drive.multipart_upload_urls(op, Some(&body.upload_key), &body.part_numbers, &base);
    match signed.await {
        Ok(urls) => {
            let urls: Vec<_> = urls
                .into_iter()
                .map(|(part_number, url)| {
                    let headers: std::collections::BTreeMap<_, _> = url.headers.into_iter().collect();
                    serde_json::json!({ "partNumber": part_number, "url": url.url, "headers": headers })
                })
                .collect();
            Json(serde_json::json!({ "urls": urls })).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MakeFolder {
    parent_id: String,
    name: String,
}

/// A folder of a dropped folder tree: AddFolder, or the folder of that
/// name already there (RETURN_DENTRY_IF_EXISTS), so a second drop of the
/// same tree merges into it.
pub(super) async fn make_folder(
    State(state): State<ServerState>,
    session: Session,
    headers: HeaderMap,
    Path(space_id): Path<String>,
    axum::extract::Json(body): axum::extract::Json<MakeFolder>,
) -> Response {
    let op = match script_caller(&session, &headers) {
        Ok(op) => op,
        Err(refused) => return refused.into_response(),
    };
    let input = orgdrive_core::NewFolder {
        name: Some(body.name),
        conflict_strategy: Some("RETURN_DENTRY_IF_EXISTS".into()),
        ..Default::default()
    };
    match state.drive.add_folder(op, &space_id, &body.parent_id, input).await {
        Ok(view) if view.dentry.is_folder() => {
            Json(serde_json::json!({ "dentryId": view.dentry.dentry_id })).into_response()
        }
        Ok(_) => ApiError::from(orgdrive_core::DriveError::param(
            "name",
            "a file of this name is already there",
        ))
        .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CommitUpload {
    upload_key: String,
    parent_id: String,
    name: String,
    size: i64,
}

pub(super) async fn commit_upload(
    State(state): State<ServerState>,
    session: Session,
    headers: HeaderMap,
    Path(space_id): Path<String>,
    axum::extract::Json(body): axum::extract::Json<CommitUpload>,
) -> Response {
    let op = match script_caller(&session, &headers) {
        Ok(op) => op,
        Err(refused) => return refused.into_response(),
    };
    let request = CommitRequest {
        upload_key: Some(body.upload_key),
        name: Some(body.name),
        parent_id: Some(body.parent_id),
        size: Some(body.size),
        conflict_strategy: Some("AUTO_RENAME".into()),
        ..Default::default()
    };
    match state.drive.commit_file(op, &space_id, request).await {
        Ok(view) => Json(serde_json::json!({ "dentryId": view.dentry.dentry_id })).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
