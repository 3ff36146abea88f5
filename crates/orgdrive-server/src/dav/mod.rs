//! WebDAV at `/dav/`: every space the caller can open is a folder
//! `/dav/{spaceId}/`, so that Windows Explorer, macOS Finder, GNOME Files
//! and rclone can mount a space. The protocol is dav-server's; the file
//! system behind it ([`fs::DriveFs`]) acts through the domain as the
//! caller, under the API's policy.
//!
//! Authentication is HTTP Basic, either
//! - a person's unionId and console password (acting through the org's
//!   console app, as in the console); a verified pair is remembered for
//!   [`handler::VERIFIED_TTL`] (only its SHA-256, in memory), so a mount's many
//!   requests cost one Argon2 check a minute; failed checks count against
//!   the console's sign-in limits (per address, per account at an address);
//! - or a unionId and an app's access token (the app's scopes apply).
//!
//! Locks (needed by Finder and Explorer to write) are kept in this node's
//! memory ([`locks`]): behind a load balancer, a client's requests should
//! stick to one node. Before dav-server sees a request, the handler refuses
//! what dav-server would not: a LOCK without the right to write what it
//! locks (and any on `/` or a space), or past the caller's cap, an UNLOCK
//! of someone else's lock or a LOCK naming one in `If` (a refresh), and a
//! COPY or MOVE whose `Destination` is on another host, outside the
//! spaces, inside its source or onto a folder holding it (its names read as
//! dav-server's parser reads them). A `Range` of several ranges is dropped:
//! the whole file is served. Every answer carries headers that keep stored
//! content from running in this origin.
//!
//! dav-server answers any failure of the file system 500 (or, where it
//! takes a failed look-up for "not there", 409 or 412); when the last step
//! the domain refused was refused busy (a store out of reach, a lost
//! commit answer), the answer is the API's 503 with its `Retry-After`
//! instead ([`fs::found_busy`]).

pub mod fs;
pub(crate) mod handler;

mod locks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::extract::PeerAddr;
use crate::metrics::Operations;
use crate::state::ServerState;
use fs::Caller;
use handler::Dav;

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

async fn handle(state: State<ServerState>, peer: PeerAddr, request: Request) -> Response {
    // A file's body: a folder's listing (its path ends in `/`) stays a page.
    let file_body =
        matches!(request.method().as_str(), "GET" | "HEAD") && !request.uri().path().ends_with('/');
    let mut response = answer(state, peer, request).await;
    // What a writer stored is never run in this server's origin (a page of
    // HTML or an SVG with a script, opened by someone who may do more than
    // its writer): no sniffing, no framing, a sandbox without scripts, and
    // a file's body is an attachment, as the signed download URLs' are.
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if file_body && response.status().is_success() {
        let h = response.headers_mut();
        h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    }
    response
}

async fn answer(
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
    let ranges = request.headers().get(header::RANGE).and_then(|r| r.to_str().ok());
    if ranges.is_some_and(|r| r.contains(',')) {
        // Several ranges: the whole file instead (RFC 9110 allows it), not
        // dav-server's one part per range, each read again (a short header
        // asking for the same file hundreds of times).
        request.headers_mut().remove(header::RANGE);
    }
    if request.method() == axum::http::Method::DELETE {
        // A folder goes to the recycle bin whole, as one item (dav-server
        // would otherwise delete its files one by one).
        request.headers_mut().insert("depth", HeaderValue::from_static("0"));
    }
    let caller = match authenticate(&state, peer, request.headers()).await {
        Ok(caller) => caller,
        Err(refusal) => return refusal,
    };
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let if_none_match = request.headers().get(header::IF_NONE_MATCH);
    let create_only = if_none_match.is_some_and(|v| v.as_bytes().trim_ascii() == b"*");
    let handling = async {
        if let Some(refusal) = state.dav.refusal(&method, &uri, request.headers(), &caller).await {
            return refusal;
        }
        let principal = caller.user.union_id.clone();
        let answer = state.dav.handler.handle_guarded(request, principal, caller).await;
        answer.map(axum::body::Body::new)
    };
    let (busy, mut response) = fs::found_busy(handling).await;
    let failed =
        [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::CONFLICT, StatusCode::PRECONDITION_FAILED];
    // UNLOCK's 409 is the lock system's (an unknown token), never busy.
    let unlock = method.as_str() == "UNLOCK";
    if busy && !unlock && failed.contains(&response.status()) {
        // The frame adds `Retry-After`.
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    // A PUT that may only create finds, at its commit, the name taken
    // (`Exists`, which dav-server answers 405 once the body is read): its
    // precondition failed, as when the name was taken before it began.
    if create_only && method == axum::http::Method::PUT && response.status() == 405 {
        *response.status_mut() = StatusCode::PRECONDITION_FAILED;
    }
    // dav-server refuses `Depth: infinity` with 501 and the precondition
    // `propfind-finite-depth`, which RFC 4918 (9.1) pairs with 403: the
    // refusal of a request the server understood, not a failure of it.
    if method.as_str() == "PROPFIND" && response.status() == StatusCode::NOT_IMPLEMENTED {
        *response.status_mut() = StatusCode::FORBIDDEN;
    }
    response
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
    if let Some(phc) = state.dav.verified.get(&key) {
        match state.drive.person_still_verified(&union_id, &phc).await {
            Ok(Some(op)) => return Ok(Arc::new(op)),
            Ok(None) => state.dav.verified.invalidate(&key),
            Err(e) => return Err(crate::ApiError::from(e).into_response()),
        }
    }
    let keys = crate::sign_ins::attempt_keys(peer, Some(&union_id));
    if !state.sign_ins.begin(&keys) {
        return Err(challenge(StatusCode::TOO_MANY_REQUESTS));
    }
    match state.drive.person_operator(&union_id, &password).await {
        Ok((op, phc)) => {
            state.sign_ins.succeeded(&keys);
            state.dav.verified.insert(key, phc);
            Ok(Arc::new(op))
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

impl Dav {
    /// What the handler refuses before dav-server sees the request (module doc).
    async fn refusal(
        &self,
        method: &axum::http::Method,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
        caller: &Caller,
    ) -> Option<Response> {
        let method = method.as_str();
        if !matches!(method, "LOCK" | "UNLOCK" | "COPY" | "MOVE") {
            return None;
        }
        let refuse = |status: StatusCode| Some(status.into_response());
        let Some(path) = dav_path(uri.path()) else { return refuse(StatusCode::BAD_REQUEST) };
        match method {
            "LOCK" => {
                // A lock named in `If` (which a refresh names) is its
                // taker's alone to name: dav-server refreshes a lock on an
                // ancestor without asking whose it is.
                if self.names_others_lock(headers, caller) {
                    return refuse(StatusCode::FORBIDDEN);
                }
                // A new lock (dav-server refreshes on an empty body) past the
                // cap: 503 until one of theirs expires, not dav-server's 423,
                // which clients read as "this file is locked".
                let refresh = headers.contains_key("if") && !has_body(headers);
                if let Some(wait) = self.locks.full_for(&caller.user.union_id).filter(|_| !refresh)
                {
                    let retry = HeaderValue::from(wait.as_secs().max(1));
                    let busy = (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, retry)]);
                    return Some(busy.into_response());
                }
                let status = match self.fs.may_lock(caller, &path).await {
                    Ok(()) => return None,
                    Err(dav_server::fs::FsError::NotFound) => StatusCode::NOT_FOUND,
                    // Not a refusal: the look failed (503 if the domain was busy).
                    Err(dav_server::fs::FsError::GeneralFailure) => {
                        StatusCode::INTERNAL_SERVER_ERROR
                    }
                    Err(_) => StatusCode::FORBIDDEN,
                };
                refuse(status)
            }
            "UNLOCK" => {
                let below_a_space =
                    path.as_bytes().split(|b| *b == b'/').filter(|n| !n.is_empty()).count() >= 2;
                if !below_a_space || self.fs.may_unlock(caller).is_err() {
                    return refuse(StatusCode::FORBIDDEN);
                }
                let token = headers
                    .get("lock-token")
                    .and_then(|v| v.to_str().ok())
                    .map(|t| t.trim().trim_matches(|c| c == '<' || c == '>').to_string())?;
                match self.locks.holder(&token) {
                    Some(holder) if holder.as_deref() != Some(caller.user.union_id.as_str()) => {
                        refuse(StatusCode::FORBIDDEN)
                    }
                    _ => None,
                }
            }
            _ => destination_refusal(uri, headers).map(|status| status.into_response()),
        }
    }

    /// Whether `If` names a live lock that someone other than `caller` took.
    fn names_others_lock(&self, headers: &HeaderMap, caller: &Caller) -> bool {
        let caller = caller.user.union_id.as_str();
        headers.get_all("if").iter().filter_map(|v| v.to_str().ok()).any(|conditions| {
            // Every `<…>` of it: lock tokens, and resource tags (no lock's).
            conditions.split('<').skip(1).filter_map(|rest| rest.split_once('>')).any(
                |(named, _)| {
                    self.locks.holder(named).is_some_and(|taker| taker.as_deref() != Some(caller))
                },
            )
        })
    }
}

/// Whether a request announces a body (a LOCK without one is a refresh).
fn has_body(headers: &HeaderMap) -> bool {
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    headers.contains_key(header::TRANSFER_ENCODING) || length.is_some_and(|n| n.trim() != "0")
}

/// A request path below `/dav` as dav-server reads it (percent-decoded).
fn dav_path(raw: &str) -> Option<dav_server::davpath::DavPath> {
    let mut path = dav_server::davpath::DavPath::new(raw).ok()?;
    path.set_prefix("/dav").ok()?;
    Some(path)
}

/// Whether two URLs name one server: hosts alike as a URL parser reads
/// them (a name in any case and without its final dot; an address however
/// written), ports alike (the scheme's default where one is not written).
fn same_server(a: &url::Url, b: &url::Url) -> bool {
    let host = |u: &url::Url| match u.host() {
        Some(url::Host::Domain(name)) => Some(name.trim_end_matches('.').to_string()),
        Some(other) => Some(other.to_string()),
        None => None,
    };
    host(a).is_some()
        && host(a) == host(b)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Why a COPY or MOVE's `Destination` is refused, if it is: another host
/// (502, as RFC 4918 asks), not a URI or an absolute path, dot segments or
/// a `\` (400), not inside a space, inside the source itself or onto a
/// folder holding it (403).
fn destination_refusal(request_uri: &axum::http::Uri, headers: &HeaderMap) -> Option<StatusCode> {
    let raw = headers.get("destination")?.to_str().ok();
    let Some(raw) = raw else { return Some(StatusCode::BAD_REQUEST) };
    // A `\` is a `/` to a URL parser (dav-server's too), a name's character
    // to a path: refused whichever way the path would be read.
    if raw.contains('\\') || raw.to_ascii_lowercase().contains("%5c") {
        return Some(StatusCode::BAD_REQUEST);
    }
    // The path dav-server will use, read as it reads it: an absolute path
    // as it is, anything else as a URL (RFC 4918 10.3), whose path is
    // resolved as a browser resolves it.
    let to = if raw.starts_with('/') {
        if has_dot_segment(raw.split(['?', '#']).next().unwrap_or_default()) {
            return Some(StatusCode::BAD_REQUEST);
        }
        raw.to_string()
    } else {
        let Ok(url) = url::Url::parse(raw) else { return Some(StatusCode::BAD_REQUEST) };
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Some(StatusCode::BAD_REQUEST);
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let here = host.and_then(|h| url::Url::parse(&format!("{}://{h}/", url.scheme())).ok());
        if !here.is_some_and(|here| same_server(&here, &url)) {
            return Some(StatusCode::BAD_GATEWAY);
        }
        url.path().to_string()
    };
    // Its names as dav-server's own parser makes them (cut at `?`, decoded,
    // dot segments resolved), so that what is checked is what it will use.
    let Some(to) = names_as_dav_server_reads(&to) else {
        return Some(StatusCode::BAD_REQUEST);
    };
    if to.first().map(String::as_str) != Some("dav") {
        return Some(StatusCode::FORBIDDEN);
    }
    if to.len() < 3 {
        return Some(StatusCode::FORBIDDEN); // `/dav/` itself or a space's root
    }
    // Compared name by name, decoded: `//` or an escaped letter is no other
    // place. Nor onto a folder holding the source, which dav-server would
    // delete first (with the source) to make room.
    let from = names_as_dav_server_reads(request_uri.path()).unwrap_or_default();
    if to.starts_with(&from) || from.starts_with(&to) {
        return Some(StatusCode::FORBIDDEN);
    }
    None
}

/// A path's names as dav-server reads a path (`DavPath::new`), `None` if
/// it refuses it.
fn names_as_dav_server_reads(path: &str) -> Option<Vec<String>> {
    fs::names_of(&dav_server::davpath::DavPath::new(path).ok()?).ok()
}
