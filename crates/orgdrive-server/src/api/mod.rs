//! API groups, one module each with its routes: `oauth2` (access tokens),
//! `spaces` (AddSpace, GetSpace), `orgs` (GetOrg, GetCurrentApp), `dentries`
//! (AddFolder, GetDentry, GetDentries, ListDentries, ListAllDentries),
//! `transfer` (upload and download info, CommitFile), `blob` (the signed
//! PUT/GET routes that carry file bytes), `admin` (the provisioning API under
//! `/admin/v1`).

pub mod admin;
pub mod blob;
pub mod dentries;
pub mod oauth2;
pub mod orgs;
pub mod spaces;
pub mod transfer;

use axum::http::{Method, StatusCode, Uri};

use crate::ApiError;

/// Fallback for paths no route matches: 404 with a JSON body.
pub async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "resource.not.found",
        format!("no API at {method} {}", uri.path()),
    )
}

/// Fallback for a known path with the wrong method: 405 with a JSON body.
pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "methodNotAllowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
