//! The errors of the wire: the DingTalk error body every 4xx/5xx answer
//! carries, and the error answers the OpenAPI document shows for the storage
//! operations ([`StorageErrors`], [`UploadLimitErrors`], [`TaskLimitErrors`];
//! documentation only).

use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

/// A DingTalk error: the body of every 4xx/5xx answer (README "Errors").
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// `paramError`, `paramError.<field>`, `InvalidAuthentication`,
    /// `Forbidden.AccessDenied.AccessTokenPermissionDenied`, `permissionDenied`, ...
    pub code: String,
    pub message: String,
    /// The request id, also sent as the `x-acs-request-id` header.
    pub requestid: String,
    /// Only with `Forbidden.AccessDenied.AccessTokenPermissionDenied`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessdenieddetail: Option<AccessDeniedDetail>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessDeniedDetail {
    /// The scope the app lacks.
    pub required_scopes: Vec<String>,
}

/// The errors every storage operation may answer.
#[derive(IntoResponses)]
pub enum StorageErrors {
    /// `paramError` (malformed JSON), `paramError.<field>` (a field of the
    /// wrong type or out of range, an unknown id, `unionId` missing) or
    /// `InvalidAuthentication` (access token missing, unknown or expired).
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `Forbidden.AccessDenied.AccessTokenPermissionDenied` (the app lacks the
    /// operation's scope) or `permissionDenied` (`unionId` is not a user of
    /// the token's organization; the operator's role here does not allow
    /// the operation).
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// `resource.not.found`: the path names no operation (e.g. an empty id
    /// at its end made it shorter).
    #[response(status = 404)]
    NoSuchPath(ErrorBody),
    /// `methodNotAllowed`: the path is another operation's, with another
    /// method (e.g. an empty id in the path made it shorter).
    #[response(status = 405)]
    WrongMethod(ErrorBody),
    /// `paramError`: a JSON body over 1 MiB.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// `systemError`: a fault on the server's side (generic message; the
    /// details are in the server log under the request id).
    #[response(status = 500)]
    Internal(ErrorBody),
    /// `operationTimeout`: the request was not complete within the server's
    /// request deadline (e.g. its body arrived too slowly).
    #[response(status = 503)]
    Timeout(ErrorBody),
}

/// What an operation that may run as a task may answer besides [`StorageErrors`].
#[derive(IntoResponses)]
pub enum TaskLimitErrors {
    /// `tooManyTasks`: the app has as many unfinished tasks as allowed.
    #[response(status = 429)]
    TooManyTasks(ErrorBody),
}

/// What opening an upload may answer besides [`StorageErrors`].
#[derive(IntoResponses)]
pub enum UploadLimitErrors {
    /// `tooManyUploads`: the space or app has as many open uploads as allowed.
    #[response(status = 429)]
    TooManyUploads(ErrorBody),
}
