//! What the OpenAPI document shows of the API beyond the wire types: the
//! `unionId` query parameter and the ListDentries query (handlers read
//! queries through `QueryParams`; these types only describe them) and the
//! error responses operations share. Documentation only: nothing here is
//! parsed or produced at run time.

// Read only by the utoipa derives that build the document.
#![allow(dead_code)]

use utoipa::{IntoParams, IntoResponses};

use crate::vocab::{OrderBy, SortOrder};
use crate::wire::ErrorBody;

/// The `unionId` query parameter of every storage operation.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct UnionIdQuery {
    /// The user the app acts for: a user of the token's organization
    /// (`paramError.unionId` when missing, `permissionDenied` when not of the
    /// organization).
    pub union_id: String,
}

/// The query of ListDentries (handlers read queries through `QueryParams`;
/// this type only describes it).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ListDentriesQuery {
    /// The user the app acts for (see the other operations).
    pub union_id: String,
    /// The folder to list; `0` is the root.
    #[param(example = "0")]
    pub parent_id: String,
    /// Page size: default 50, larger values are clamped to 50.
    #[param(minimum = 1, nullable = false)]
    pub max_results: Option<i64>,
    /// The `nextToken` of the previous page of the same listing.
    #[param(nullable = false)]
    pub next_token: Option<String>,
    /// Default `DESC`.
    #[param(inline, nullable = false)]
    pub order: Option<SortOrder>,
    /// Default `MODIFIED_TIME`; ties are broken by id.
    #[param(inline, nullable = false)]
    pub order_by: Option<OrderBy>,
    /// Accepted (in any case); no thumbnails are generated yet.
    #[param(nullable = false)]
    pub with_thumbnail: Option<bool>,
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
    /// the token's organization; a space of another app).
    #[response(status = 403)]
    Forbidden(ErrorBody),
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

/// What opening an upload may answer besides [`StorageErrors`].
#[derive(IntoResponses)]
pub enum UploadLimitErrors {
    /// `tooManyUploads`: the space or app has as many open uploads as allowed.
    #[response(status = 429)]
    TooManyUploads(ErrorBody),
}
