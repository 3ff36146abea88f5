//! The web console at `/console`: this module has its routes, the session
//! extractor and the people's page handlers; `uploads` the upload script's
//! JSON endpoints, `operators` the operators' pages; `pages` the HTML (maud
//! templates compiled into the binary), `i18n` the two languages, `cookies`
//! the cookie names, `assets/` the stylesheet and the one small script
//! (uploads). People sign
//! in with their unionId and console password, operators with the admin
//! token; the session is an HttpOnly, SameSite=Strict cookie scoped to
//! `/console`, and every form that changes something carries the session's
//! CSRF token (checked with the request's `Origin`). Failed sign-ins are
//! limited (`crate::sign_ins`). Every action calls the same [`orgdrive_core::Drive`]
//! operation as the API, as the person's [`Operator`], under the one policy;
//! errors are the API's (`ApiError`), rendered as a page.

mod cookies;
mod i18n;
mod operators;
mod pages;
mod uploads;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use orgdrive_core::{
    CommitRequest, ConsoleCaller, Drive, DriveResult, GrantInput, ListChildren, MemberInput,
    NewApp, NewDept, OpenInfoRequest, Operator, PreCheck, Relocated, Relocation, Scope, TaskStatus,
    UploadRequest, CONSOLE_SESSION_TTL_MS,
};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::BaseUrl;
use crate::extract::PeerAddr;
use crate::metrics::Operations;
use crate::state::ServerState;
use cookies::{cookie, LANG_COOKIE, SESSION_COOKIE};
use i18n::Lang;
use pages::{enc, FolderQuery, Viewer};
/// Rows of a folder page: ListDentries' largest page.
const FOLDER_PAGE: i64 = orgdrive_core::MAX_PAGE;

const CONSOLE_CSS: &str = include_str!("assets/console.css");
const CONSOLE_JS: &str = include_str!("assets/console.js");

/// The listener a console request came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The API's; with `operators` when it serves the admin API too.
    Api { operators: bool },
    /// The admin API's own (`--admin-listen`).
    Admin,
}

impl Listener {
    /// Whether operators sign in and have their pages here (where the
    /// admin API is served).
    fn operators(self) -> bool {
        matches!(self, Listener::Admin | Listener::Api { operators: true })
    }

    /// The URL browsers reach this listener at, when configured: the API's
    /// `--public-url`; the admin listener is reached at its own address
    /// (its `Host`).
    fn public_url(self, state: &ServerState) -> Option<&str> {
        match self {
            Listener::Api { .. } => state.public_url.as_deref(),
            Listener::Admin => None,
        }
    }
}

/// The console's routes on `listener`, and their operation name for the
/// metrics; the operators' pages and their sign-in only where the admin
/// API is served (`--admin-listen` keeps them off the API listener).
pub fn routes(operations: &mut Operations, listener: Listener) -> Router<ServerState> {
    let operators = listener.operators();
    operations.add("/console", None, "Console");
    operations.add("/console/{*rest}", None, "Console");
    let people = Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/assets/console.css", get(stylesheet))
        .route("/console/assets/console.js", get(script))
        .route("/console/lang/{lang}", get(switch_language))
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/spaces", get(spaces))
        .route("/console/spaces/{space_id}", get(folder))
        .route("/console/spaces/{space_id}/download/{dentry_id}", get(download))
        .route("/console/spaces/{space_id}/preview/{dentry_id}", get(preview))
        .route("/console/spaces/{space_id}/folders", post(add_folder))
        .route("/console/spaces/{space_id}/rename", post(rename))
        .route("/console/spaces/{space_id}/delete", post(delete))
        .route("/console/spaces/{space_id}/share", post(share))
        .route("/console/spaces/{space_id}/search", get(search))
        .route("/console/spaces/{space_id}/relocate", post(relocate))
        .route("/console/spaces/{space_id}/pick/{dentry_id}", get(pick_target))
        .route("/console/tasks/{task_id}", get(task))
        .route("/console/spaces/{space_id}/bin", get(recycle_bin))
        .route("/console/spaces/{space_id}/bin/restore", post(restore))
        .route("/console/spaces/{space_id}/bin/purge", post(purge))
        .route("/console/spaces/{space_id}/versions/{dentry_id}", get(versions).post(revert))
        .route("/console/spaces/{space_id}/uploads", post(uploads::start_upload))
        .route("/console/spaces/{space_id}/parts", post(uploads::part_urls))
        .route("/console/spaces/{space_id}/commit", post(uploads::commit_upload))
        .route("/console/spaces/{space_id}/mkdir", post(uploads::make_folder));
    let all = if operators {
        people
            .route("/console/admin", get(operators::admin_orgs))
            .route("/console/admin/journal", get(operators::admin_journal))
            .route(
                "/console/admin/orgs/{corp_id}",
                get(operators::admin_org).post(operators::admin_org_action),
            )
    } else {
        people
    };
    all.layer(Extension(listener)).layer(axum::middleware::map_response(security_headers))
}

/// The console's Content-Security-Policy: its pages load nothing from
/// elsewhere, run no inline script and are never framed; their script
/// reaches this server, and `upload_origin` (a content store that takes
/// presigned PUTs itself) when there is one.
fn content_security_policy(upload_origin: Option<&str>) -> String {
    let connect = upload_origin.map(|o| format!("; connect-src 'self' {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; \
         base-uri 'none'{connect}"
    )
}

/// What every console answer carries (a page may have set its own policy:
/// see [`upload_policy`]).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key("content-security-policy") {
        let policy = HeaderValue::from_str(&content_security_policy(None)).expect("ASCII");
        headers.insert("content-security-policy", policy);
    }
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}

/// A `Set-Cookie` value for the console: HttpOnly, SameSite=Strict, path
/// `/console`, Secure when the server's public URL is https.
fn set_cookie(
    state: &ServerState,
    listener: Listener,
    name: &str,
    value: &str,
    max_age_secs: i64,
) -> HeaderValue {
    let secure = if listener.public_url(state).is_some_and(|u| u.starts_with("https://")) {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&cookie).expect("cookie values are ASCII tokens")
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_string())]).into_response()
}

/// What a signed-in request carries: the caller, the cookie's CSRF token
/// and the language.
pub(crate) struct Session {
    pub caller: ConsoleCaller,
    pub csrf: String,
    pub lang: Lang,
    cookie: String,
    /// Whether the request came from this server's own pages (`Origin`).
    same_origin: bool,
}

/// A request without a live session is sent to the sign-in page.
impl FromRequestParts<ServerState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &ServerState) -> Result<Self, Response> {
        let lang = Lang::of(&parts.headers);
        let listener = parts
            .extensions
            .get::<Listener>()
            .copied()
            .unwrap_or(Listener::Api { operators: false });
        let Some(cookie) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(redirect("/console/sign-in"));
        };
        match state.drive.console_caller(cookie, state.admin_token_sha256.as_ref()).await {
            Ok(caller) => Ok(Session {
                caller,
                csrf: state.drive.console_csrf_token(cookie),
                lang,
                cookie: cookie.to_string(),
                same_origin: same_origin(state, listener, &parts.headers),
            }),
            Err(orgdrive_core::DriveError::InvalidAuthentication(_)) => {
                Err(redirect("/console/sign-in"))
            }
            Err(e) => Err(pages::error(lang, None, &ApiError::from(e))),
        }
    }
}

impl Session {
    /// What the pages show of the session.
    fn viewer(&self) -> Viewer<'_> {
        Viewer { lang: self.lang, csrf: &self.csrf, caller: &self.caller }
    }

    /// The person acting; an operator's session is refused (the admin
    /// token is no person: it owns no spaces).
    fn person(&self) -> Result<&Operator, ApiError> {
        match &self.caller {
            ConsoleCaller::Person(op) => Ok(op.as_ref()),
            ConsoleCaller::ServerOperator => {
                Err(forbidden("people's pages need a person's sign-in"))
            }
        }
    }

    /// Refused unless an operator signed in.
    fn server_operator(&self) -> Result<(), ApiError> {
        match &self.caller {
            ConsoleCaller::ServerOperator => Ok(()),
            ConsoleCaller::Person(_) => Err(forbidden("operators' pages need the admin token")),
        }
    }

    /// The person acting in a request that changes something: its CSRF
    /// token must be the session's and it must not come from another site.
    fn person_changing(&self, csrf: &str) -> Result<&Operator, ApiError> {
        let op = self.person()?;
        self.check(csrf)?;
        Ok(op)
    }

    /// Refuses a state-changing request whose CSRF token is not the
    /// session's, or that another site's page sent (`Origin`).
    fn check(&self, csrf: &str) -> Result<(), ApiError> {
        if !self.same_origin || !constant_time_eq(csrf.as_bytes(), self.csrf.as_bytes()) {
            return Err(forbidden("the form is stale or came from another site; reload the page"));
        }
        Ok(())
    }

    /// The error page for a failed operation or a refusal.
    fn failed(&self, error: impl Into<ApiError>) -> Response {
        pages::error(self.lang, Some(&self.viewer()), &error.into())
    }
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "Forbidden.AccessDenied", message)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the request's `Origin`, when it has one, is this server: the
/// scheme and host of `--public-url` when it is set (behind a proxy), else
/// the host the request was sent to. Browsers send `Origin` with every POST.
fn same_origin(state: &ServerState, listener: Listener, headers: &HeaderMap) -> bool {
    origin_matches(listener.public_url(state), headers)
}

fn origin_matches(public_url: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else { return true };
    let origin = origin.to_str().unwrap_or_default();
    match public_url {
        Some(public) => !origin.is_empty() && origin == public.trim_end_matches('/'),
        None => {
            let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
            let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
            !host.is_empty() && origin_host == host
        }
    }
}

async fn home(session: Result<Session, Response>) -> Response {
    match session {
        Ok(Session { caller: ConsoleCaller::ServerOperator, .. }) => redirect("/console/admin"),
        Ok(_) => redirect("/console/spaces"),
        Err(to_sign_in) => to_sign_in,
    }
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", CONSOLE_CSS)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
struct BackTo {
    back: Option<String>,
}

/// Sets the language cookie and goes back to the page: `back`, else the
/// page the link was on (`Referer`), a console path only.
async fn switch_language(
    State(state): State<ServerState>,
    Extension(listener): Extension<Listener>,
    Path(lang): Path<String>,
    Query(query): Query<BackTo>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::parse(&lang).unwrap_or(Lang::En);
    let referer = headers
        .get(axum::http::header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.split_once("://"))
        .and_then(|(_, rest)| rest.find('/').map(|at| rest[at..].to_string()));
    let back =
        query.back.or(referer).filter(|b| local_path(b)).unwrap_or_else(|| "/console".into());
    let mut response = redirect(&back);
    let year = 365 * 24 * 3600;
    response
        .headers_mut()
        .append(SET_COOKIE, set_cookie(&state, listener, LANG_COOKIE, lang.code(), year));
    response
}

/// A path of the console itself: never another site (`//host`), never a
/// scheme, never out of `/console/` by a dot segment (spelt or escaped).
fn local_path(path: &str) -> bool {
    // Cut where a browser cuts (an escaped `?` or `#` is part of the path),
    // then decoded, as a browser also resolves `%2e%2e`.
    let raw = path.split(['?', '#']).next().unwrap_or_default();
    let below = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    (below == "/console" || below.starts_with("/console/"))
        && !below.split('/').any(|name| name == "." || name == "..")
        && !path.contains('\\')
        && !below.contains('\\')
        && !path.chars().any(char::is_control)
        && path.len() < 2048
}

async fn sign_in_page(Extension(listener): Extension<Listener>, headers: HeaderMap) -> Response {
    let page = pages::sign_in(Lang::of(&headers), listener.operators(), None);
    pages::respond(StatusCode::OK, page)
}

#[derive(Deserialize)]
struct SignInForm {
    kind: String,
    #[serde(default)]
    union_id: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
}

/// Signs a person or an operator in. Attempts are counted before any
/// password is checked (per client address; a person's also per account at
/// that address) and taken back when they succeed; over a limit, a sign-in
/// is refused (429). Operators sign in here only where the admin API is
/// served (`operators`).
async fn sign_in(
    State(state): State<ServerState>,
    Extension(listener): Extension<Listener>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let lang = Lang::of(&headers);
    let texts = lang.texts();
    let operators = listener.operators();
    if !same_origin(&state, listener, &headers) {
        return pages::respond(
            StatusCode::FORBIDDEN,
            pages::sign_in(lang, operators, Some(texts.sign_in_failed)),
        );
    }
    let operator = form.kind == "operator";
    if operator && !operators {
        let refusal = ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden.AccessDenied",
            "operators sign in on the admin API's listener",
        );
        return pages::error(lang, None, &refusal);
    }
    let account = (!operator).then_some(form.union_id.as_str());
    let keys = crate::sign_ins::attempt_keys(peer, account);
    if !state.sign_ins.begin(&keys) {
        let page = pages::sign_in(lang, operators, Some(texts.too_many_attempts));
        return pages::respond(StatusCode::TOO_MANY_REQUESTS, page);
    }
    let signed_in = if operator {
        if state.is_admin_token(&form.token) {
            state.drive.sign_in_server_operator(state.admin_token_sha256.as_ref()).await
        } else {
            Err(orgdrive_core::DriveError::InvalidAuthentication("wrong token".into()))
        }
    } else {
        state.drive.sign_in_person(&form.union_id, &form.password).await
    };
    match signed_in {
        Ok(session) => {
            state.sign_ins.succeeded(&keys);
            let mut response = redirect("/console");
            let max_age = CONSOLE_SESSION_TTL_MS / 1000;
            response.headers_mut().append(
                SET_COOKIE,
                set_cookie(&state, listener, SESSION_COOKIE, &session.cookie, max_age),
            );
            response
        }
        Err(orgdrive_core::DriveError::InvalidAuthentication(_)) => {
            let page = pages::sign_in(lang, operators, Some(texts.sign_in_failed));
            pages::respond(StatusCode::UNAUTHORIZED, page)
        }
        Err(e) => {
            state.sign_ins.succeeded(&keys);
            pages::error(lang, None, &ApiError::from(e))
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<ServerState>,
    Extension(listener): Extension<Listener>,
    session: Session,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = session.check(&form.csrf) {
        return session.failed(refused);
    }
    if let Err(e) = state.drive.sign_out(&session.cookie).await {
        return session.failed(e);
    }
    let mut response = redirect("/console/sign-in");
    response.headers_mut().append(SET_COOKIE, set_cookie(&state, listener, SESSION_COOKIE, "", 0));
    response
}

async fn spaces(State(state): State<ServerState>, session: Session) -> Response {
    let op = match session.person() {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    let drive = &state.drive;
    let loaded = async {
        let spaces = drive.person_spaces(op).await?;
        let parts = drive.usage_parts(&spaces).await?;
        let shared = drive.shared_with_person(op).await?;
        Ok::<_, orgdrive_core::DriveError>((spaces, parts, shared))
    };
    match loaded.await {
        Ok((spaces, parts, shared)) => pages::respond(
            StatusCode::OK,
            pages::spaces(&session.viewer(), &spaces, &parts, &shared),
        ),
        Err(e) => session.failed(e),
    }
}

async fn folder(
    State(state): State<ServerState>,
    session: Session,
    Path(space_id): Path<String>,
    Query(query): Query<FolderQuery>,
    BaseUrl(base): BaseUrl,
) -> Response {
    let op = match session.person() {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    let drive = &state.drive;
    let folder_id = query.folder.clone().unwrap_or_else(|| "0".into());
    // A person with a grant below the root only cannot read the space:
    // their folder pages go without its quota.
    let space = match drive.get_space(op, &space_id).await {
        Ok(space) => Some(space),
        Err(orgdrive_core::DriveError::PermissionDenied(_)) if folder_id != "0" => None,
        Err(e) => return session.failed(e),
    };
    let here = match drive.get_dentry(op, &space_id, &folder_id, &Default::default()).await {
        Ok(here) => here,
        Err(e) => return session.failed(e),
    };
    let listing = ListChildren {
        parent_id: Some(folder_id.clone()),
        max_results: Some(FOLDER_PAGE),
        next_token: query.next.clone(),
        // People read a folder by name unless they sort it otherwise.
        order: Some(query.order.clone().unwrap_or_else(|| "asc".into())),
        order_by: Some(query.order_by.clone().unwrap_or_else(|| "name".into())),
    };
    let page = match drive.list_dentries(op, &space_id, listing).await {
        Ok(page) => page,
        Err(e) => return session.failed(e),
    };
    let thumbnails = thumbnails(drive, op, &space_id, &page, &base).await;
    let mut response = pages::respond(
        StatusCode::OK,
        pages::folder(&session.viewer(), space.as_ref(), &here, &page, &thumbnails, &query),
    );
    response.headers_mut().insert("content-security-policy", upload_policy(&state).await);
    response
}

/// The policy of a page that uploads: its script may PUT to the content
/// store when that store takes presigned PUTs itself (its CORS rules must
/// let the console's origin do so: README "Web console").
async fn upload_policy(state: &ServerState) -> HeaderValue {
    let origin = state.upload_origin.get_or_init(|| state.drive.upload_origin()).await;
    HeaderValue::from_str(&content_security_policy(origin.as_deref()))
        .or_else(|_| HeaderValue::from_str(&content_security_policy(None)))
        .expect("ASCII")
}

/// The thumbnails of a page's images that have one ready, by dentry id
/// (GetDentryThumbnails, as the person; asking starts making those not
/// made yet). Only URLs a browser can load without headers; a thumbnail
/// that cannot be had is left out, never an error of the page.
async fn thumbnails(
    drive: &Drive,
    op: &Operator,
    space_id: &str,
    page: &orgdrive_core::Page,
    base: &str,
) -> std::collections::HashMap<String, orgdrive_core::Thumbnail> {
    let images: Vec<String> = page
        .dentries
        .iter()
        .filter(|d| !d.dentry.is_folder() && orgdrive_core::has_thumbnail(&d.dentry.name))
        .map(|d| d.dentry.dentry_id.clone())
        .collect();
    let mut found = std::collections::HashMap::new();
    for batch in images.chunks(orgdrive_core::MAX_BATCH_IDS) {
        let Ok(results) = drive.get_dentry_thumbnails(op, space_id, batch, base).await else {
            continue;
        };
        for result in results {
            if let Ok(thumbnail) = result.result {
                if thumbnail.url.headers.is_empty() {
                    found.insert(result.dentry_id, thumbnail);
                }
            }
        }
    }
    found
}

/// Sends the browser to the file's signed download URL (the same URL
/// GetFileDownloadInfo answers).
#[derive(Deserialize, Default)]
struct VersionQuery {
    version: Option<i64>,
}

async fn download(
    State(state): State<ServerState>,
    session: Session,
    Path((space_id, dentry_id)): Path<(String, String)>,
    Query(query): Query<VersionQuery>,
    BaseUrl(base): BaseUrl,
) -> Response {
    let op = match session.person() {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    match state.drive.download_info(op, &space_id, &dentry_id, query.version, &base).await {
        Ok(url) if url.headers.is_empty() => redirect(&url.url),
        Ok(_) => session.failed(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "console.downloadNeedsHeaders",
            "this content store's download URLs need headers a browser link cannot send",
        )),
        Err(e) => session.failed(e),
    }
}

/// Sends the browser to the file's preview page (the URL GetDentryOpenInfo
/// answers for `PREVIEW`).
async fn preview(
    State(state): State<ServerState>,
    session: Session,
    Path((space_id, dentry_id)): Path<(String, String)>,
    Query(query): Query<VersionQuery>,
    BaseUrl(base): BaseUrl,
) -> Response {
    let op = match session.person() {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    let request = OpenInfoRequest { open_type: Some("PREVIEW".into()), version: query.version };
    match state.drive.get_dentry_open_info(op, &space_id, &dentry_id, &request, &base).await {
        // orgdrive's own preview page; a link an app registered
        // (RegisterOpenInfo) is shown, not followed: it may lead anywhere.
        Ok(open) if open.url.starts_with(&format!("{base}/preview/")) => redirect(&open.url),
        Ok(open) => pages::respond(StatusCode::OK, pages::elsewhere(&session.viewer(), &open.url)),
        Err(e) => session.failed(e),
    }
}

/// The folder page to go back to after a change.
fn folder_url(space_id: &str, folder_id: &str) -> String {
    format!("/console/spaces/{}?folder={}", enc(space_id), enc(folder_id))
}

/// The recycle bin page of a space.
fn bin_url(space_id: &str) -> String {
    format!("/console/spaces/{}/bin", enc(space_id))
}

/// The id of the space's recycle bin (GetRecycleBin, SPACE scope).
async fn space_bin(drive: &Drive, op: &Operator, space_id: &str) -> DriveResult<String> {
    Ok(drive.get_recycle_bin(op, Some("SPACE"), Some(space_id)).await?.recycle_bin_id)
}

#[derive(Deserialize)]
struct AddFolderForm {
    #[serde(default)]
    csrf: String,
    parent_id: String,
    name: String,
}

async fn add_folder(
    State(state): State<ServerState>,
    session: Session,
    Path(space_id): Path<String>,
    Form(form): Form<AddFolderForm>,
) -> Response {
    let op = match session.person_changing(&form.csrf) {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    let input = orgdrive_core::NewFolder { name: Some(form.name), ..Default::default() };
    match state.drive.add_folder(op, &space_id, &form.parent_id, input).await {
        Ok(_) => redirect(&folder_url(&space_id, &form.parent_id)),
        Err(e) => session.failed(e),
    }
}

#[derive(Deserialize)]
struct RenameForm {
    #[serde(default)]
    csrf: String,
    dentry_id: String,
    parent_id: String,
    new_name: String,
}

async fn rename(
    State(state): State<ServerState>,
    session: Session,
    Path(space_id): Path<String>,
    Form(form): Form<RenameForm>,
) -> Response {
    let op = match session.person_changing(&form.csrf) {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    match state.drive.rename_dentry(op, &space_id, &form.dentry_id, Some(&form.new_name)).await {
        Ok(_) => redirect(&folder_url(&space_id, &form.parent_id)),
        Err(e) => session.failed(e),
    }
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    csrf: String,
    dentry_id: String,
    parent_id: String,
}

/// Moves a file or folder to the recycle bin (the console never deletes
/// permanently from a folder page).
async fn delete(
    State(state): State<ServerState>,
    session: Session,
    Path(space_id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Response {
    let op = match session.person_changing(&form.csrf) {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    match state.drive.delete_dentry(op, &space_id, &form.dentry_id, true).await {
        Ok(_) => redirect(&folder_url(&space_id, &form.parent_id)),
        Err(e) => session.failed(e),
    }
}

#[derive(Deserialize)]
struct ShareForm {
    #[serde(default)]
    csrf: String,
    dentry_id: String,
    parent_id: String,
    member_type: String,
    member_id: String,
    role_id: String,
    /// Seconds; empty = permanent (temporary grants: APP spaces, per the seed).
    #[serde(default)]
    duration: String,
}

/// Shares a file or folder (AddPermission): a role for a user, a
/// department or the whole org.
async fn share(
    State(state): State<ServerState>,
    session: Session,
    Path(space_id): Path<String>,
    Form(form): Form<ShareForm>,
) -> Response {
    let op = match session.person_changing(&form.csrf) {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    let duration = match form.duration.trim() {
        "" => None,
        raw => match raw.parse::<i64>() {
            Ok(seconds) => Some(seconds),
            Err(_) => {
                return session.failed(ApiError::param(
                    Some("duration"),
                    "duration must be a number of seconds",
                ))
            }
        },
    };
    let member_corp = (form.member_type == "DEPT").then(|| op.corp_id().to_string());
    let input = GrantInput {
        members: vec![MemberInput {
            member_type: Some(form.member_type),
            id: Some(form.member_id),
            corp_id: member_corp,
        }],
        role_id: Some(form.role_id),
        duration,
    };
    match state.drive.add_permission(op, &space_id, &form.dentry_id, input).await {
        Ok(()) => redirect(&folder_url(&space_id, &form.parent_id)),
        Err(e) => session.failed(e),
    }
}

#[derive(Deserialize, Default)]
struct BinQuery {
    next: Option<String>,
}

async fn recycle_bin(
    State(state): State<ServerState>,
    session: Session,
    Path(space_id): Path<String>,
    Query(query): Query<BinQuery>,
) -> Response {
    let op = match session.person() {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    let drive = &state.drive;
    let listed = async {
        let bin = space_bin(drive, op, &space_id).await?;
        drive.list_recycle_items(op, &bin, Some(50), query.next).await
    };
    match listed.await {
        Ok(page) => {
            pages::respond(StatusCode::OK, pages::recycle_bin(&session.viewer(), &space_id, &page))
        }
        Err(e) => session.failed(e),
    }
}

/// A form naming one recycle bin item (restore, delete for good).
#[derive(Deserialize)]
struct BinItemForm {
    #[serde(default)]
    csrf: String,
    recycle_item_id: String,
}

async fn restore(
    State(state): State<ServerState>,
    session: Session,
    Path(space_id): Path<String>,
    Form(form): Form<BinItemForm>,
) -> Response {
    let op = match session.person_changing(&form.csrf) {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    let drive = &state.drive;
    let restored = async {
        let bin = space_bin(drive, op, &space_id).await?;
        let conflict = Some("AUTO_RENAME".to_string());
        drive.restore_recycle_item(op, &bin, &form.recycle_item_id, conflict).await
    };
    match restored.await {
        Ok(_) => redirect(&bin_url(&space_id)),
        Err(e) => session.failed(e),
    }
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// The space's files and folders whose name contains the text.
async fn search(
    State(state): State<ServerState>,
    session: Session,
    Path(space_id): Path<String>,
    Query(query): Query<SearchQuery>,
) -> Response {
    let op = match session.person() {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    match state.drive.search_names(op, &space_id, &query.q).await {
        Ok(found) => {
            let page = pages::search(&session.viewer(), &space_id, &query.q, &found);
            pages::respond(StatusCode::OK, page)
        }
        Err(e) => session.failed(e),
    }
}

#[derive(Deserialize)]
struct RelocateForm {
    #[serde(default)]
    csrf: String,
    /// `move` or `copy`.
    how: String,
    dentry_id: String,
    target_space_id: String,
    target_folder_id: String,
}

/// Moves or copies a file or folder (MoveDentry, CopyDentry; conflicts
/// AUTO_RENAME). A change that runs as a task shows the task's page;
/// otherwise the target folder.
async fn relocate(
    State(state): State<ServerState>,
    session: Session,
    Path(space_id): Path<String>,
    Form(form): Form<RelocateForm>,
) -> Response {
    let op = match session.person_changing(&form.csrf) {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    let to = Relocation {
        target_space_id: Some(form.target_space_id.clone()),
        target_folder_id: Some(form.target_folder_id.clone()),
        conflict_strategy: Some("AUTO_RENAME".into()),
        preserve_permissions: false,
    };
    let drive = &state.drive;
    let done = match form.how.as_str() {
        "move" => drive.move_dentry(op, &space_id, &form.dentry_id, to).await,
        "copy" => drive.copy_dentry(op, &space_id, &form.dentry_id, to).await,
        _ => return session.failed(ApiError::param(Some("how"), "how must be move or copy")),
    };
    match done {
        Ok(Relocated { task_id: Some(task_id), .. }) => {
            redirect(&format!("/console/tasks/{}", enc(&task_id)))
        }
        Ok(_) => redirect(&folder_url(&form.target_space_id, &form.target_folder_id)),
        Err(e) => session.failed(e),
    }
}

/// Where the picker of a move's or copy's target stands.
#[derive(Deserialize)]
pub struct PickQuery {
    /// `move` or `copy`.
    #[serde(default)]
    pub how: String,
    /// The space browsed (default: the entry's own).
    pub space: Option<String>,
    /// The folder browsed (default: that space's root).
    pub at: Option<String>,
    /// ListDentries' token of the next page of the folder browsed.
    pub next: Option<String>,
}

/// The target picker of a move or copy: the person's spaces, the folder
/// browsed (its subfolders a page at a time, by name) and a button that
/// moves or copies the entry there. Every read is the API's own, as the
/// person.
async fn pick_target(
    State(state): State<ServerState>,
    session: Session,
    Path((space_id, dentry_id)): Path<(String, String)>,
    Query(query): Query<PickQuery>,
) -> Response {
    let op = match session.person() {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    let drive = &state.drive;
    let browsed = query.space.clone().unwrap_or_else(|| space_id.clone());
    let at = query.at.clone().unwrap_or_else(|| "0".into());
    let loaded = async {
        let entry = drive.get_dentry(op, &space_id, &dentry_id, &Default::default()).await?;
        let spaces = drive.person_spaces(op).await?;
        let here = drive.get_dentry(op, &browsed, &at, &Default::default()).await?;
        let listing = ListChildren {
            parent_id: Some(at.clone()),
            max_results: Some(FOLDER_PAGE),
            next_token: query.next.clone(),
            order: Some("asc".into()),
            order_by: Some("name".into()),
        };
        let page = drive.list_dentries(op, &browsed, listing).await?;
        Ok::<_, orgdrive_core::DriveError>((entry, spaces, here, page))
    };
    match loaded.await {
        Ok((entry, spaces, here, page)) => pages::respond(
            StatusCode::OK,
            pages::pick_target(&session.viewer(), &entry, &spaces, &here, &page, &query),
        ),
        Err(e) => session.failed(e),
    }
}

/// A background task's progress (GetTask); the page reloads itself until
/// the task has ended.
async fn task(
    State(state): State<ServerState>,
    session: Session,
    Path(task_id): Path<String>,
) -> Response {
    let op = match session.person() {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    match state.drive.get_task(op, &task_id).await {
        // The org's people share its console app: a task is its operator's
        // (and the org admins').
        Ok(task) if task.operator_id != op.user.union_id && !op.user.org_admin => session
            .failed(ApiError::param(Some("taskId"), format!("task {task_id} does not exist"))),
        Ok(task) => {
            let mut page = pages::respond(StatusCode::OK, pages::task(&session.viewer(), &task));
            if !matches!(task.status, TaskStatus::Success | TaskStatus::Fail) {
                page.headers_mut().insert("refresh", HeaderValue::from_static("1"));
            }
            page
        }
        Err(e) => session.failed(e),
    }
}

/// Deletes a recycle bin item for good (DeleteRecycleItem).
async fn purge(
    State(state): State<ServerState>,
    session: Session,
    Path(space_id): Path<String>,
    Form(form): Form<BinItemForm>,
) -> Response {
    let op = match session.person_changing(&form.csrf) {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    let drive = &state.drive;
    let purged = async {
        let bin = space_bin(drive, op, &space_id).await?;
        drive.delete_recycle_item(op, &bin, &form.recycle_item_id).await
    };
    match purged.await {
        Ok(()) => redirect(&bin_url(&space_id)),
        Err(e) => session.failed(e),
    }
}

/// A file's history versions (ListDentryVersions), newest first.
async fn versions(
    State(state): State<ServerState>,
    session: Session,
    Path((space_id, dentry_id)): Path<(String, String)>,
    Query(query): Query<BinQuery>,
) -> Response {
    let op = match session.person() {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    let drive = &state.drive;
    let loaded = async {
        let file = drive.get_dentry(op, &space_id, &dentry_id, &Default::default()).await?;
        let page = drive.list_dentry_versions(op, &space_id, &dentry_id, None, query.next).await?;
        Ok::<_, orgdrive_core::DriveError>((file, page))
    };
    match loaded.await {
        Ok((file, page)) => pages::respond(
            StatusCode::OK,
            pages::versions(&session.viewer(), &space_id, &file, &page),
        ),
        Err(e) => session.failed(e),
    }
}

#[derive(Deserialize)]
struct RevertForm {
    #[serde(default)]
    csrf: String,
    version: String,
}

/// Makes an old version current again (RevertDentryVersion).
async fn revert(
    State(state): State<ServerState>,
    session: Session,
    Path((space_id, dentry_id)): Path<(String, String)>,
    Form(form): Form<RevertForm>,
) -> Response {
    let op = match session.person_changing(&form.csrf) {
        Ok(op) => op,
        Err(refused) => return session.failed(refused),
    };
    match state.drive.revert_dentry_version(op, &space_id, &dentry_id, &form.version).await {
        Ok(()) => {
            redirect(&format!("/console/spaces/{}/versions/{}", enc(&space_id), enc(&dentry_id)))
        }
        Err(e) => session.failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_gone_back_to() {
        assert!(local_path("/console/spaces/1?folder=2"));
        assert!(!local_path("//evil.example/console"));
        assert!(!local_path("https://evil.example/console"));
        assert!(!local_path("/consolex\r\nSet-Cookie: a=b"));
        assert!(!local_path("/console\u{7f}"), "no control characters (no header value)");
        assert!(local_path("/console"));
        // Never out of the console by a dot segment, spelt or escaped.
        assert!(!local_path("/console/../dav/1/evil.html"));
        assert!(!local_path("/console/%2e%2e/dav/1/evil.html"));
        assert!(!local_path("/console/%2E%2E%2Fdav/1/evil.html"));
        assert!(!local_path("/console/./x"));
        assert!(!local_path("/consolex"));
        assert!(!local_path("/console/%5cevil"));
        assert!(local_path("/console/spaces/1?back=../x"), "a query is no path");
        // An escaped `?` or `#` is part of the path: what follows is too.
        assert!(!local_path("/console/%3f/../../dav/1/evil.html"));
        assert!(!local_path("/console/%23/../../dav/1/evil.html"));
    }

    #[test]
    fn uploads_to_a_presigning_store_are_allowed_by_the_policy() {
        let plain = content_security_policy(None);
        assert!(plain.starts_with("default-src 'self';") && !plain.contains("connect-src"));
        let s3 = content_security_policy(Some("http://127.0.0.1:9000"));
        assert!(s3.ends_with("; connect-src 'self' http://127.0.0.1:9000"), "{s3}");
    }

    #[test]
    fn a_cross_site_origin_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(origin_matches(None, &headers), "no Origin: a same-site navigation or a script");
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(origin_matches(None, &headers));
        headers.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!origin_matches(None, &headers));
        headers.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(!origin_matches(None, &headers));
        // Behind a proxy: the public URL's scheme and host, whatever Host says.
        let public = Some("https://drive.example.com/");
        headers.insert(ORIGIN, HeaderValue::from_static("https://drive.example.com"));
        assert!(origin_matches(public, &headers));
        headers.insert(ORIGIN, HeaderValue::from_static("http://drive.example.com"));
        assert!(!origin_matches(public, &headers), "another scheme");
    }
}
