//! DingTalk error bodies: `{"code", "message", "requestid"}` with an HTTP
//! status. [`ApiError::from`]`(DriveError)` is the one place where domain errors
//! become DingTalk codes. Every request gets an id (`x-acs-request-id`
//! response header, `requestid` in error bodies).

use std::any::Any;
use std::future::Future;

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use orgdrive_core::DriveError;

use crate::wire::{AccessDeniedDetail, ErrorBody};

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-acs-request-id";

/// The `Retry-After` (seconds) of a 503 answer: the server is busy or one of
/// its stores is out of reach for now (RFC 9110 §10.2.3), so a client
/// should wait a moment before it asks again, not hammer a struggling store.
pub const RETRY_AFTER_SECS: u32 = 1;

/// A new request id: 32 upper-case hex digits (a version-4 UUID, drawn
/// from the thread's random generator: no system call per request).
pub(crate) fn new_request_id() -> String {
    let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut buffer = uuid::Uuid::encode_buffer();
    uuid.simple().encode_upper(&mut buffer).to_string()
}

/// Runs `answer` with `id` as the request id its error bodies carry.
pub(crate) async fn with_request_id<F: Future>(id: String, answer: F) -> F::Output {
    REQUEST_ID.scope(id, answer).await
}

/// The id of the request the current task answers (`""` outside one): its
/// error bodies carry it, and so do the log lines written while answering it.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// An error as DingTalk reports it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub required_scopes: Vec<String>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError { status, code: code.into(), message: message.into(), required_scopes: Vec::new() }
    }

    /// 400 `paramError` or `paramError.<field>`.
    pub fn param(field: Option<&str>, message: impl Into<String>) -> ApiError {
        let code = match field {
            Some(field) => format!("paramError.{field}"),
            None => "paramError".to_string(),
        };
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl From<DriveError> for ApiError {
    fn from(e: DriveError) -> ApiError {
        let message = e.to_string();
        match e {
            DriveError::InvalidParam { field, .. } => ApiError::param(field.as_deref(), message),
            DriveError::NotFound { field, .. } => ApiError::param(Some(field), message),
            DriveError::InvalidAuthentication(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "InvalidAuthentication", message)
            }
            DriveError::ScopeDenied { required } => ApiError {
                status: StatusCode::FORBIDDEN,
                code: "Forbidden.AccessDenied.AccessTokenPermissionDenied".into(),
                message,
                required_scopes: vec![required.as_str().to_string()],
            },
            DriveError::PermissionDenied(_) => {
                ApiError::new(StatusCode::FORBIDDEN, "permissionDenied", message)
            }
            DriveError::QuotaExceeded(_) => ApiError::param(Some("quota"), message),
            DriveError::TooLarge(_) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "paramError.size", message)
            }
            DriveError::SignatureRefused { expired, .. } => ApiError::new(
                StatusCode::FORBIDDEN,
                if expired { "signatureExpired" } else { "signatureMismatch" },
                message,
            ),
            DriveError::Conflict { field, .. } => {
                ApiError::new(StatusCode::CONFLICT, format!("conflict.{field}"), message)
            }
            DriveError::InUse(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            DriveError::ObjectNotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "resource.not.found", message)
            }
            DriveError::TooManyUploads(_) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "tooManyUploads", message)
            }
            // Only ever a batch item's errorCode (GetDentryThumbnails).
            DriveError::NoThumbnail(none) => {
                ApiError::new(StatusCode::BAD_REQUEST, none.code(), message)
            }
            DriveError::TooManyTasks(_) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "tooManyTasks", message)
            }
            DriveError::DiskFull(_) => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "systemError.diskFull", message)
            }
            DriveError::Busy(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "serviceUnavailable", message)
            }
            DriveError::WebOfficeNotConfigured(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "webOfficeNotConfigured", message)
            }
            // The details stay in the log, under the request id; the client
            // learns only that it was our fault.
            DriveError::Internal(_) => {
                tracing::error!(requestid = %current_request_id(), error = %message, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "systemError",
                    "internal error; the server log has the details under this request id",
                )
            }
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> ApiError {
        if crate::transport::is_deadline(&rejection) {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "operationTimeout",
                "the request body did not arrive within the request deadline",
            );
        }
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("request body exceeds {} bytes", crate::transport::MAX_JSON_BODY_BYTES)
        } else {
            rejection.body_text()
        };
        ApiError::new(status, "paramError", message)
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        ApiError::param(None, rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = crate::journal::ErrorCode(self.code.clone());
        let body = ErrorBody {
            code: self.code,
            message: self.message,
            requestid: current_request_id(),
            accessdenieddetail: (!self.required_scopes.is_empty())
                .then_some(AccessDeniedDetail { required_scopes: self.required_scopes }),
        };
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(code);
        response
    }
}

/// Gives a 503 answer without one `Retry-After: RETRY_AFTER_SECS`; the
/// frame passes every answer through it (API errors, `/readyz`, WOPI, the
/// preview's busy page, injected faults).
pub(crate) fn say_when_to_try_again(response: &mut Response) {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        let headers = response.headers_mut();
        if !headers.contains_key(header::RETRY_AFTER) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
    }
}

/// A handler panicked: answer 500 `systemError` instead of dropping the connection.
pub fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "systemError", "internal error")
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 503 asks the client to wait a moment (`Retry-After`), whoever
    /// made it; one that says so already is left as it is; other answers
    /// do not say when to try again.
    #[test]
    fn only_unavailable_answers_say_when_to_try_again() {
        let mut busy = ApiError::from(DriveError::Busy("the store is busy".into())).into_response();
        say_when_to_try_again(&mut busy);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
        let mut page = (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
        say_when_to_try_again(&mut page);
        assert_eq!(page.headers()[header::RETRY_AFTER], "1");
        let mut own =
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "30")], "").into_response();
        say_when_to_try_again(&mut own);
        assert_eq!(own.headers()[header::RETRY_AFTER], "30");
        for refused in [
            ApiError::from(DriveError::PermissionDenied("no".into())),
            ApiError::from(DriveError::TooManyUploads("many".into())),
            ApiError::param(Some("name"), "bad"),
        ] {
            let mut response = refused.into_response();
            say_when_to_try_again(&mut response);
            assert!(response.headers().get(header::RETRY_AFTER).is_none(), "{response:?}");
        }
    }
}
