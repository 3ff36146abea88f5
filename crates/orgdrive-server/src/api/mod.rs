//! API groups, one module each with its routes: `oauth2` (access tokens),
//! `spaces` (AddSpace, GetSpace), `orgs` (GetOrg, GetCurrentApp), `dentries`
//! (AddFolder, GetDentry, GetDentries, ListDentries, ListAllDentries),
//! `lifecycle` (rename, move, copy and delete, single and in batches),
//! `versions` (ListDentryVersions, RevertDentryVersion, app property edits),
//! `permissions` (grants: Add/Update/Delete/ListPermissions, BatchQueryRoles),
//! `recycle` (the recycle bin), `open_info` (GetDentryOpenInfo,
//! RegisterOpenInfo), `preview` (the signed preview pages their links open),
//! `tasks` (GetTask), `events` (Subscribe/UnsubscribeEvent and the
//! Stream-mode gateway), `transfer` (upload and
//! download info, CommitFile), `blob` (the signed PUT/GET routes that carry
//! file bytes), `weboffice` (GetWebOfficeUrl, RefreshWebOfficeToken), `wopi`
//! (the WOPI host under `/wopi/files`, outside the document), `admin` (the
//! provisioning API under `/admin/v1`), `health` (`/metrics`, `/healthz`,
//! `/readyz`); here, the
//! storage API they make together and the 404/405 fallbacks.
//!
//! The storage API's handlers carry their OpenAPI description
//! (`#[utoipa::path]`: path, method, parameters, bodies, answers), and each
//! group registers them through an [`OpenApiRouter`], which routes a handler
//! at the path and method of its description and adds that description to the
//! router's document: there is one list of operations, the routes, and no
//! route goes undocumented. `blob` and `admin` are plain routers, deliberately
//! left out of the document.

pub mod admin;
pub mod blob;
pub mod dentries;
pub mod events;
pub mod health;
pub mod lifecycle;
pub mod oauth2;
pub mod open_info;
pub mod orgs;
pub mod permissions;
pub mod preview;
pub mod recycle;
pub mod spaces;
pub mod tasks;
pub mod transfer;
pub mod versions;
pub mod weboffice;
pub mod wopi;

use axum::http::{Method, StatusCode, Uri};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::ServerState;

/// The storage API (and GetAccessToken): every documented operation.
pub fn documented() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .merge(oauth2::routes())
        .merge(spaces::routes())
        .merge(orgs::routes())
        .merge(dentries::routes())
        .merge(lifecycle::routes())
        .merge(versions::routes())
        .merge(permissions::routes())
        .merge(transfer::routes())
        .merge(recycle::routes())
        .merge(tasks::routes())
        .merge(events::routes())
        .merge(open_info::routes())
        .merge(weboffice::routes())
}

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
