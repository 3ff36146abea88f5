//! The admin API under `/admin/v1`, guarded by the admin token
//! (`Authorization: Bearer ...`): organizations, apps (and their secret's
//! rotation), users (and their
//! console passwords), departments and department members; the server's clock (moved forward only when the server
//! was started with `--allow-clock-control`); resets to the seed (only with
//! `--allow-reset` or `--ephemeral`); faults (only with `--allow-faults`);
//! the request journal (with `--journal N`, or `--ephemeral`). JSON in and out; lists are
//! `{"items": [...]}`.

use axum::extract::State;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use orgdrive_core::{CallbackInput, DriveError, NewApp, NewDept, NewOrg, NewUser};

use crate::error::ApiError;
use crate::extract::{AdminAuth, QueryParams, WireJson, WirePath as Path};
use crate::journal;
use crate::state::ServerState;
use crate::wire::{
    AddMemberRequest, AdminApp, AdminDept, AdminOrg, AdminUser, AdvanceClockRequest, Clock,
    CreateAppRequest, CreateDeptRequest, CreateOrgRequest, CreateUserRequest, EventCallbackRequest,
    EventCallbackView, FaultRequest, FaultView, JournalEntryView, List, ResetReport,
    SetPasswordRequest, Success,
};

type Reply<T> = Result<Json<T>, ApiError>;

pub fn routes(state: ServerState) -> Router<ServerState> {
    Router::new()
        .route("/orgs", get(list_orgs).post(create_org))
        .route("/orgs/{corp_id}", get(get_org).delete(delete_org))
        .route("/orgs/{corp_id}/apps", get(list_apps).post(create_app))
        .route("/orgs/{corp_id}/apps/{app_id}", delete(delete_app))
        .route("/orgs/{corp_id}/apps/{app_id}/secret", post(rotate_app_secret))
        .route(
            "/orgs/{corp_id}/apps/{app_id}/eventCallback",
            get(get_event_callback).put(set_event_callback).delete(delete_event_callback),
        )
        .route("/orgs/{corp_id}/users", get(list_users).post(create_user))
        .route("/orgs/{corp_id}/users/{union_id}", delete(delete_user))
        .route(
            "/orgs/{corp_id}/users/{union_id}/password",
            axum::routing::put(set_password).delete(clear_password),
        )
        .route("/orgs/{corp_id}/depts", get(list_depts).post(create_dept))
        .route("/orgs/{corp_id}/depts/{dept_id}", delete(delete_dept))
        .route("/orgs/{corp_id}/depts/{dept_id}/members", get(list_members).post(add_member))
        .route("/orgs/{corp_id}/depts/{dept_id}/members/{union_id}", delete(remove_member))
        .route("/faults", get(list_faults).post(arm_fault).delete(clear_faults))
        .route("/faults/{fault_id}", delete(clear_fault))
        .route("/journal", get(read_journal).delete(clear_journal))
        .route("/reset", post(reset_all))
        .route("/orgs/{corp_id}/reset", post(reset_org))
        .route("/clock", get(get_clock))
        .route("/clock/advance", post(advance_clock))
        .route_layer(axum::middleware::from_extractor_with_state::<AdminAuth, _>(state))
}

const OK: Success = Success { success: true };

async fn create_org(
    State(s): State<ServerState>,
    WireJson(body): WireJson<CreateOrgRequest>,
) -> Reply<AdminOrg> {
    let org = s
        .drive
        .create_org(NewOrg { name: body.name, capacity: body.capacity, corp_id: body.corp_id })
        .await?;
    Ok(Json(org.into()))
}

async fn list_orgs(State(s): State<ServerState>) -> Reply<List<AdminOrg>> {
    Ok(Json(List::of(s.drive.list_orgs().await?)))
}

async fn get_org(State(s): State<ServerState>, Path(corp_id): Path<String>) -> Reply<AdminOrg> {
    Ok(Json(s.drive.org(&corp_id).await?.into()))
}

async fn delete_org(State(s): State<ServerState>, Path(corp_id): Path<String>) -> Reply<Success> {
    s.drive.delete_org(&corp_id).await?;
    Ok(Json(OK))
}

async fn create_app(
    State(s): State<ServerState>,
    Path(corp_id): Path<String>,
    WireJson(body): WireJson<CreateAppRequest>,
) -> Reply<AdminApp> {
    let input = NewApp {
        name: body.name,
        scopes: body.scopes,
        app_key: body.app_key,
        app_secret: body.app_secret,
    };
    let created = s.drive.create_app(&corp_id, input).await?;
    let mut wire = AdminApp::from(created.app);
    wire.app_secret = Some(created.app_secret);
    Ok(Json(wire))
}

async fn list_apps(
    State(s): State<ServerState>,
    Path(corp_id): Path<String>,
) -> Reply<List<AdminApp>> {
    Ok(Json(List::of(s.drive.list_apps(&corp_id).await?)))
}

async fn delete_app(
    State(s): State<ServerState>,
    Path((corp_id, app_id)): Path<(String, String)>,
) -> Reply<Success> {
    s.drive.delete_app(&corp_id, &app_id).await?;
    Ok(Json(OK))
}

/// A new appSecret for the app, answered once; the app's access tokens end,
/// and its Stream connections on this node close.
async fn rotate_app_secret(
    State(s): State<ServerState>,
    Path((corp_id, app_id)): Path<(String, String)>,
) -> Reply<AdminApp> {
    let rotated = s.drive.rotate_app_secret(&corp_id, &app_id).await?;
    s.hub.close_app(&app_id);
    let mut wire = AdminApp::from(rotated.app);
    wire.app_secret = Some(rotated.app_secret);
    Ok(Json(wire))
}

async fn create_user(
    State(s): State<ServerState>,
    Path(corp_id): Path<String>,
    WireJson(body): WireJson<CreateUserRequest>,
) -> Reply<AdminUser> {
    let input = NewUser {
        name: body.name,
        org_admin: body.org_admin,
        union_id: body.union_id,
        user_id: body.user_id,
    };
    Ok(Json(s.drive.create_user(&corp_id, input).await?.into()))
}

async fn list_users(
    State(s): State<ServerState>,
    Path(corp_id): Path<String>,
) -> Reply<List<AdminUser>> {
    Ok(Json(List::of(s.drive.list_users(&corp_id).await?)))
}

async fn delete_user(
    State(s): State<ServerState>,
    Path((corp_id, union_id)): Path<(String, String)>,
) -> Reply<Success> {
    s.drive.delete_user(&corp_id, &union_id).await?;
    Ok(Json(OK))
}

/// Sets the user's console password (Argon2id); the user's console
/// sessions end.
async fn set_password(
    State(s): State<ServerState>,
    Path((corp_id, union_id)): Path<(String, String)>,
    WireJson(body): WireJson<SetPasswordRequest>,
) -> Reply<Success> {
    s.drive.set_console_password(&corp_id, &union_id, Some(&body.password)).await?;
    Ok(Json(OK))
}

/// Removes the user's console password: they can no longer sign in.
async fn clear_password(
    State(s): State<ServerState>,
    Path((corp_id, union_id)): Path<(String, String)>,
) -> Reply<Success> {
    s.drive.set_console_password(&corp_id, &union_id, None).await?;
    Ok(Json(OK))
}

async fn create_dept(
    State(s): State<ServerState>,
    Path(corp_id): Path<String>,
    WireJson(body): WireJson<CreateDeptRequest>,
) -> Reply<AdminDept> {
    let input = NewDept { name: body.name, parent_id: body.parent_id, dept_id: body.dept_id };
    Ok(Json(s.drive.create_dept(&corp_id, input).await?.into()))
}

async fn list_depts(
    State(s): State<ServerState>,
    Path(corp_id): Path<String>,
) -> Reply<List<AdminDept>> {
    Ok(Json(List::of(s.drive.list_depts(&corp_id).await?)))
}

async fn delete_dept(
    State(s): State<ServerState>,
    Path((corp_id, dept_id)): Path<(String, String)>,
) -> Reply<Success> {
    s.drive.delete_dept(&corp_id, &dept_id).await?;
    Ok(Json(OK))
}

async fn add_member(
    State(s): State<ServerState>,
    Path((corp_id, dept_id)): Path<(String, String)>,
    WireJson(body): WireJson<AddMemberRequest>,
) -> Reply<Success> {
    s.drive.add_dept_member(&corp_id, &dept_id, &body.union_id).await?;
    Ok(Json(OK))
}

async fn list_members(
    State(s): State<ServerState>,
    Path((corp_id, dept_id)): Path<(String, String)>,
) -> Reply<List<AdminUser>> {
    Ok(Json(List::of(s.drive.list_dept_members(&corp_id, &dept_id).await?)))
}

async fn remove_member(
    State(s): State<ServerState>,
    Path((corp_id, dept_id, union_id)): Path<(String, String, String)>,
) -> Reply<Success> {
    s.drive.remove_dept_member(&corp_id, &dept_id, &union_id).await?;
    Ok(Json(OK))
}

/// Returns the drive to its seed (`--seed`; empty without one): refused
/// unless the server allows resets (`--allow-reset`, `--ephemeral`).
async fn reset_all(State(s): State<ServerState>) -> Reply<ResetReport> {
    reset(&s, None).await
}

/// Returns one org to its seed (an org the seed does not declare goes).
async fn reset_org(
    State(s): State<ServerState>,
    Path(corp_id): Path<String>,
) -> Reply<ResetReport> {
    reset(&s, Some(&corp_id)).await
}

async fn reset(s: &ServerState, only: Option<&str>) -> Reply<ResetReport> {
    let (state, only) = (s.clone(), only.map(str::to_owned));
    // A task of its own: a reset runs to its end even if its client gives
    // up (a reset cut half-way would leave an org emptied, not seeded).
    let reset = tokio::spawn(async move {
        let _one_at_a_time = state.resetting.lock().await;
        let started = std::time::Instant::now();
        let made = state.drive.reset(&state.seed, only.as_deref()).await?;
        Ok::<_, DriveError>(ResetReport::new(made, started.elapsed()))
    });
    match reset.await {
        Ok(report) => Ok(Json(report?)),
        Err(e) => Err(DriveError::Internal(format!("the reset task failed: {e}")).into()),
    }
}

/// Arms a fault (only with `--allow-faults`; see `faults.rs`).
async fn arm_fault(
    State(s): State<ServerState>,
    WireJson(body): WireJson<FaultRequest>,
) -> Reply<FaultView> {
    Ok(Json(s.faults.arm(body)?))
}

async fn list_faults(State(s): State<ServerState>) -> Reply<List<FaultView>> {
    Ok(Json(List { items: s.faults.list()? }))
}

async fn clear_faults(State(s): State<ServerState>) -> Reply<Success> {
    s.faults.clear(None)?;
    Ok(Json(OK))
}

async fn clear_fault(State(s): State<ServerState>, Path(fault_id): Path<String>) -> Reply<Success> {
    if !s.faults.clear(Some(&fault_id))? {
        return Err(ApiError::param(Some("faultId"), format!("no fault {fault_id} is armed")));
    }
    Ok(Json(OK))
}

/// The last requests answered, newest first (`--journal`; see `journal.rs`).
async fn read_journal(
    State(s): State<ServerState>,
    query: QueryParams,
) -> Reply<List<JournalEntryView>> {
    journal_on(&s)?;
    let number = |name: &str, max: i64| -> Result<Option<i64>, ApiError> {
        match query.integer(name)? {
            Some(n) if !(0..=max).contains(&n) => {
                Err(ApiError::param(Some(name), format!("{name} must be 0 to {max}")))
            }
            other => Ok(other),
        }
    };
    let filter = journal::Filter {
        limit: number("limit", journal::MAX_JOURNAL as i64)?.map(|n| n as usize),
        operation: query.text("operation"),
        status: number("status", 599)?.map(|n| n as u16),
        code: query.text("code"),
        union_id: query.text("unionId"),
        before: number("before", i64::MAX)?.map(|n| n as u64),
    };
    let entries = journal::with_app_keys(&s.drive, s.journal.select(&filter)).await;
    let items = entries.into_iter().map(|(e, app)| JournalEntryView::new(e, app)).collect();
    Ok(Json(List { items }))
}

async fn clear_journal(State(s): State<ServerState>) -> Reply<Success> {
    journal_on(&s)?;
    s.journal.clear();
    Ok(Json(OK))
}

fn journal_on(s: &ServerState) -> Result<(), ApiError> {
    if s.journal.enabled() {
        return Ok(());
    }
    Err(ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "permissionDenied",
        "the request journal is off (start the server with --journal N, or --ephemeral)",
    ))
}

async fn get_clock() -> Reply<Clock> {
    Ok(Json(Clock::now()))
}

async fn advance_clock(
    State(s): State<ServerState>,
    WireJson(body): WireJson<AdvanceClockRequest>,
) -> Reply<Clock> {
    s.drive.advance_clock(body.seconds)?;
    Ok(Json(Clock::now()))
}

/// The app's encrypted HTTP callback (the developer console's setting):
/// registered only once its URL answered `check_url` with the encrypted
/// `success`, as DingTalk requires.
async fn set_event_callback(
    State(s): State<ServerState>,
    Path((corp_id, app_id)): Path<(String, String)>,
    WireJson(body): WireJson<EventCallbackRequest>,
) -> Reply<EventCallbackView> {
    let required =
        |field: &'static str| move || ApiError::param(Some(field), format!("{field} is required"));
    let input = CallbackInput {
        url: body.url.ok_or_else(required("url"))?,
        token: body.token.ok_or_else(required("token"))?,
        aes_key: body.aes_key.ok_or_else(required("aesKey"))?,
    };
    let callback = s.drive.check_event_callback(&corp_id, &app_id, input).await?;
    s.hub.check_callback(&callback).await.map_err(|reason| {
        ApiError::param(Some("url"), format!("the callback URL failed check_url: {reason}"))
    })?;
    let stored = s.drive.set_event_callback(&corp_id, &app_id, Some(callback)).await?;
    Ok(Json(EventCallbackView::from(&stored.expect("a callback was set"))))
}

async fn get_event_callback(
    State(s): State<ServerState>,
    Path((corp_id, app_id)): Path<(String, String)>,
) -> Reply<EventCallbackView> {
    let callback = s.drive.event_callback(&corp_id, &app_id).await?.ok_or_else(|| {
        ApiError::from(DriveError::not_found("appId", format!("app {app_id} has no callback")))
    })?;
    Ok(Json(EventCallbackView::from(&callback)))
}

async fn delete_event_callback(
    State(s): State<ServerState>,
    Path((corp_id, app_id)): Path<(String, String)>,
) -> Reply<Success> {
    s.drive.set_event_callback(&corp_id, &app_id, None).await?;
    Ok(Json(OK))
}
