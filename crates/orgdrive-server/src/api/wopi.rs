//! The WOPI host, for the WOPI client (Collabora Online, ONLYOFFICE) named by
//! `--wopi-client-url`: `GET /wopi/files/{id}` (CheckFileInfo),
//! `GET /wopi/files/{id}/contents` (GetFile, streamed),
//! `POST /wopi/files/{id}/contents` (PutFile, streamed: a new version) and
//! `POST /wopi/files/{id}` with `X-WOPI-Override` LOCK (with
//! `X-WOPI-OldLock`: UnlockAndRelock), GET_LOCK, REFRESH_LOCK, UNLOCK;
//! PUT_RELATIVE, RENAME_FILE, DELETE and the rest answer 501. The
//! credential is the `access_token` query parameter of GetWebOfficeUrl.
//!
//! WOPI answers, not DingTalk ones: 401 (token missing, unknown, expired,
//! for another file, or the operator can no longer read the file), 404 (the
//! file is gone, or the operator may not write it), 409 with `X-WOPI-Lock`
//! (the current lock, empty when unlocked) and
//! `X-WOPI-LockFailureReason`, 400, 412, 413, 501, 503/507, 500; error
//! bodies are short plain text. Proof keys (`X-WOPI-Proof`) are not
//! verified: the access token is the credential. Outside the OpenAPI document.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use orgdrive_core::{iso8601, LockRequest, WopiError, WopiSession};
use serde::Serialize;

use crate::extract::{QueryParams, WirePath as Path};
use crate::metrics::Operations;
use crate::state::ServerState;
use crate::transport::{blob_body, upload_body};

const X_WOPI_OVERRIDE: HeaderName = HeaderName::from_static("x-wopi-override");
const X_WOPI_LOCK: HeaderName = HeaderName::from_static("x-wopi-lock");
const X_WOPI_OLD_LOCK: HeaderName = HeaderName::from_static("x-wopi-oldlock");
const X_WOPI_ITEM_VERSION: HeaderName = HeaderName::from_static("x-wopi-itemversion");
const X_WOPI_LOCK_FAILURE_REASON: HeaderName = HeaderName::from_static("x-wopi-lockfailurereason");
const X_WOPI_MAX_EXPECTED_SIZE: HeaderName = HeaderName::from_static("x-wopi-maxexpectedsize");

pub fn routes(operations: &mut Operations) -> Router<ServerState> {
    operations.add("/wopi/files/{file_id}", Some(Method::GET), "WopiCheckFileInfo");
    operations.add("/wopi/files/{file_id}", Some(Method::POST), "WopiFileOperation");
    operations.add("/wopi/files/{file_id}/contents", Some(Method::GET), "WopiGetFile");
    operations.add("/wopi/files/{file_id}/contents", Some(Method::POST), "WopiPutFile");
    Router::new()
        .route("/wopi/files/{file_id}", get(check_file_info).post(file_operation))
        .route("/wopi/files/{file_id}/contents", get(get_file).post(put_file))
        .layer(DefaultBodyLimit::disable())
}

/// A refused WOPI request.
struct WopiReply(WopiError);

impl From<WopiError> for WopiReply {
    fn from(e: WopiError) -> WopiReply {
        WopiReply(e)
    }
}

impl IntoResponse for WopiReply {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            WopiError::Unauthorized => StatusCode::UNAUTHORIZED,
            WopiError::NotFound(_) => StatusCode::NOT_FOUND,
            WopiError::LockConflict { .. } => StatusCode::CONFLICT,
            WopiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WopiError::TooLargeForClient => StatusCode::PRECONDITION_FAILED,
            WopiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WopiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            WopiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WopiError::Internal(e) => {
                tracing::error!(error = %e, "WOPI request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let message = match &self.0 {
            WopiError::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        };
        let mut response = (status, message).into_response();
        if let WopiError::LockConflict { current, reason } = &self.0 {
            let h = response.headers_mut();
            let lock = current.as_deref().unwrap_or_default();
            h.insert(X_WOPI_LOCK, HeaderValue::from_bytes(lock.as_bytes()).unwrap_or(empty()));
            if let Ok(v) = HeaderValue::from_str(reason) {
                h.insert(X_WOPI_LOCK_FAILURE_REASON, v);
            }
        }
        response
    }
}

fn empty() -> HeaderValue {
    HeaderValue::from_static("")
}

type Reply = Result<Response, WopiReply>;

/// A header's value as text (`None` when absent); not UTF-8 is a bad request.
fn header_text(headers: &HeaderMap, name: &HeaderName) -> Result<Option<String>, WopiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => String::from_utf8(v.as_bytes().to_vec())
            .map(Some)
            .map_err(|_| WopiError::BadRequest(format!("{name} is not UTF-8"))),
    }
}

fn item_version(response: &mut Response, version: &str) {
    if let Ok(v) = HeaderValue::from_str(version) {
        response.headers_mut().insert(X_WOPI_ITEM_VERSION, v);
    }
}

async fn session(
    state: &ServerState,
    file_id: &str,
    query: &QueryParams,
) -> Result<WopiSession, WopiError> {
    state.drive.wopi_session(file_id, query.text("access_token").as_deref()).await
}

/// CheckFileInfo's JSON (the WOPI property names).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CheckFileInfo {
    base_file_name: String,
    size: i64,
    version: String,
    owner_id: String,
    user_id: String,
    user_friendly_name: String,
    user_can_write: bool,
    read_only: bool,
    user_can_not_write_relative: bool,
    user_can_rename: bool,
    supports_locks: bool,
    supports_get_lock: bool,
    supports_extended_lock_length: bool,
    supports_update: bool,
    supports_rename: bool,
    supports_delete_file: bool,
    last_modified_time: String,
}

async fn check_file_info(
    State(state): State<ServerState>,
    Path(file_id): Path<String>,
    query: QueryParams,
) -> Reply {
    let session = session(&state, &file_id, &query).await?;
    let info = state.drive.wopi_file_info(&session);
    let body = CheckFileInfo {
        base_file_name: info.base_file_name,
        size: info.size,
        version: info.version,
        owner_id: info.owner_id,
        user_id: info.user_id,
        user_friendly_name: info.user_friendly_name,
        user_can_write: info.user_can_write,
        read_only: !info.user_can_write,
        user_can_not_write_relative: true,
        user_can_rename: false,
        supports_locks: true,
        supports_get_lock: true,
        supports_extended_lock_length: true,
        supports_update: true,
        supports_rename: false,
        supports_delete_file: false,
        last_modified_time: iso8601(info.last_modified_ms),
    };
    Ok(Json(body).into_response())
}

async fn get_file(
    State(state): State<ServerState>,
    Path(file_id): Path<String>,
    query: QueryParams,
    headers: HeaderMap,
) -> Reply {
    let session = session(&state, &file_id, &query).await?;
    let max_expected = match header_text(&headers, &X_WOPI_MAX_EXPECTED_SIZE)? {
        None => None,
        Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
            WopiError::BadRequest("X-WOPI-MaxExpectedSize must be a number".into())
        })?),
    };
    let (key, size) = state.drive.wopi_get_file(&session, max_expected)?;
    let download = state
        .drive
        .read_object(&key, 0..size, size)
        .await
        .map_err(|e| WopiError::Internal(format!("{key}: {e}")))?;
    let body = blob_body(download.into_whole(), &state.limits, &state.metrics.file_bytes_out);
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    item_version(&mut response, &session.file.version.to_string());
    Ok(response)
}

async fn put_file(
    State(state): State<ServerState>,
    Path(file_id): Path<String>,
    query: QueryParams,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    let session = session(&state, &file_id, &query).await?;
    match header_text(&headers, &X_WOPI_OVERRIDE)?.as_deref() {
        Some(o) if o.eq_ignore_ascii_case("PUT") => {}
        Some(other) => {
            return Err(WopiError::NotImplemented(format!("{other} is not supported here")).into())
        }
        None => return Err(WopiError::BadRequest("X-WOPI-Override: PUT is required".into()).into()),
    }
    let lock = header_text(&headers, &X_WOPI_LOCK)?;
    let (declared_len, body) =
        upload_body(&headers, body, &state.limits, &state.metrics.file_bytes_in)
            .map_err(|e| WopiError::BadRequest(e.into()))?;
    let stored = state.drive.wopi_put_file(&session, lock.as_deref(), declared_len, body).await?;
    let mut response = StatusCode::OK.into_response();
    item_version(&mut response, &stored.version.to_string());
    Ok(response)
}

/// `POST /wopi/files/{id}`: the lock operations by `X-WOPI-Override`.
async fn file_operation(
    State(state): State<ServerState>,
    Path(file_id): Path<String>,
    query: QueryParams,
    headers: HeaderMap,
) -> Reply {
    let session = session(&state, &file_id, &query).await?;
    let operation = header_text(&headers, &X_WOPI_OVERRIDE)?
        .ok_or_else(|| WopiError::BadRequest("X-WOPI-Override is required".into()))?
        .to_ascii_uppercase();
    let lock = || {
        header_text(&headers, &X_WOPI_LOCK)?
            .ok_or_else(|| WopiError::BadRequest("X-WOPI-Lock is required".into()))
    };
    let request = match operation.as_str() {
        "GET_LOCK" => {
            let current = state.drive.wopi_get_lock(&session).await?;
            let mut response = StatusCode::OK.into_response();
            let value = current.as_deref().unwrap_or_default();
            response
                .headers_mut()
                .insert(X_WOPI_LOCK, HeaderValue::from_bytes(value.as_bytes()).unwrap_or(empty()));
            return Ok(response);
        }
        "LOCK" => LockRequest::Lock {
            lock_id: lock()?,
            old_lock_id: header_text(&headers, &X_WOPI_OLD_LOCK)?,
        },
        "REFRESH_LOCK" => LockRequest::RefreshLock { lock_id: lock()? },
        "UNLOCK" => LockRequest::Unlock { lock_id: lock()? },
        other => {
            return Err(WopiError::NotImplemented(format!(
                "X-WOPI-Override {other} is not supported by this host"
            ))
            .into())
        }
    };
    state.drive.wopi_lock(&session, request).await?;
    let mut response = StatusCode::OK.into_response();
    item_version(&mut response, &session.file.version.to_string());
    Ok(response)
}
