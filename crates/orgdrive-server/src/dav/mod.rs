//! WebDAV at `/dav/`: every space the caller can open is a folder
//! `/dav/{spaceId}/`, so that Windows Explorer, macOS Finder, GNOME Files
//! and rclone can mount a space. The protocol is dav-server's; the file
//! system behind it ([`fs::DriveFs`]) acts through the domain as the
//! caller, under the API's policy.
//!
//! Authentication is HTTP Basic, either
//! - a person's unionId and console password (acting through the org's
//!   console app, as in the console); a verified pair is remembered for
//!   [`VERIFIED_TTL`] (only its SHA-256, in memory), so a mount's many
//!   requests cost one Argon2 check a minute; failed checks count against
//!   the console's sign-in limits (per address, per account at an address);
//! - or a unionId and an app's access token (the app's scopes apply).
//!
//! Locks (needed by Finder and Explorer to write) are kept in this node's
//! memory: behind a load balancer, a client's requests should stick to one node.

pub mod fs;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine;
use dav_server::{DavHandler, DavMethodSet};
use sha2::{Digest, Sha256};

use crate::extract::PeerAddr;
use crate::metrics::Operations;
use crate::state::ServerState;
use fs::{Caller, DriveFs};

/// How long a verified console password is taken without checking it again.
pub const VERIFIED_TTL: Duration = Duration::from_secs(60);

/// The WebDAV handler of this node: the protocol, its locks, and the
/// console passwords verified lately.
pub struct Dav {
    handler: DavHandler<Caller>,
    verified: moka::sync::Cache<[u8; 32], Caller>,
}

impl Dav {
    pub fn new(drive: orgdrive_core::Drive) -> Dav {
        let mut methods = DavMethodSet::WEBDAV_RW;
        // SabreDAV's partial PATCH writes into the middle of a file: the API cannot.
        methods.remove(dav_server::DavMethod::Patch);
        let handler = DavHandler::builder()
            .strip_prefix("/dav")
            .filesystem(Box::new(DriveFs { drive }))
            .locksystem(dav_server::memls::MemLs::new())
            .methods(methods)
            .build_handler();
        let verified =
            moka::sync::Cache::builder().max_capacity(10_000).time_to_live(VERIFIED_TTL).build();
        Dav { handler, verified }
    }
}

pub fn routes(operations: &mut Operations) -> Router<ServerState> {
    operations.add("/dav", None, "WebDav");
    operations.add("/dav/", None, "WebDav");
    operations.add("/dav/{*rest}", None, "WebDav");
    Router::new()
        .route("/dav", any(handle))
        .route("/dav/", any(handle))
        .route("/dav/{*rest}", any(handle))
        .layer(DefaultBodyLimit::disable())
}

async fn handle(
    State(state): State<ServerState>,
    PeerAddr(peer): PeerAddr,
    request: Request,
) -> Response {
    if has_dot_segment(request.uri().path()) {
        // dav-server would resolve them; a path here never needs them.
        return StatusCode::BAD_REQUEST.into_response();
    }
    let mut request = request;
    // dav-server answers PROPFIND with `Depth: infinity` (a walk of a whole
    // space) only to litmus, which it knows by this header: to no one here.
    request.headers_mut().remove("x-litmus");
    if request.method() == axum::http::Method::DELETE {
        // A folder goes to the recycle bin whole, as one item (dav-server
        // would otherwise delete its files one by one).
        request.headers_mut().insert("depth", HeaderValue::from_static("0"));
    }
    let caller = match authenticate(&state, peer, request.headers()).await {
        Ok(caller) => caller,
        Err(refusal) => return refusal,
    };
    let principal = caller.user.union_id.clone();
    state.dav.handler.handle_guarded(request, principal, caller).await.map(axum::body::Body::new)
}

/// Whether a path holds a `.` or `..` segment, percent-encoded or not.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        decoded == "." || decoded == ".."
    })
}

fn challenge(status: StatusCode) -> Response {
    let mut response = status.into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"orgdrive\", charset=\"UTF-8\""),
        );
    }
    response
}

/// The `user:password` of a Basic `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 2048 {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn is_access_token(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn authenticate(
    state: &ServerState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Result<Caller, Response> {
    let Some((union_id, password)) = basic_credentials(headers) else {
        return Err(challenge(StatusCode::UNAUTHORIZED));
    };
    if is_access_token(&password) {
        match state.drive.operator(Some(&password), None, Some(&union_id)).await {
            Ok(op) => return Ok(Arc::new(op)),
            Err(orgdrive_core::DriveError::InvalidAuthentication(_)) => {}
            Err(e) => return Err(crate::ApiError::from(e).into_response()),
        }
    }
    let mut digest = Sha256::new();
    digest.update(union_id.as_bytes());
    digest.update([0]);
    digest.update(password.as_bytes());
    let key: [u8; 32] = digest.finalize().into();
    if let Some(caller) = state.dav.verified.get(&key) {
        return Ok(caller);
    }
    let keys = crate::sign_ins::attempt_keys(peer, Some(&union_id));
    if !state.sign_ins.begin(&keys) {
        return Err(challenge(StatusCode::TOO_MANY_REQUESTS));
    }
    match state.drive.person_operator(&union_id, &password).await {
        Ok(op) => {
            state.sign_ins.succeeded(&keys);
            let caller = Arc::new(op);
            state.dav.verified.insert(key, caller.clone());
            Ok(caller)
        }
        Err(orgdrive_core::DriveError::InvalidAuthentication(_)) => {
            Err(challenge(StatusCode::UNAUTHORIZED))
        }
        Err(e) => {
            state.sign_ins.succeeded(&keys);
            Err(crate::ApiError::from(e).into_response())
        }
    }
}
