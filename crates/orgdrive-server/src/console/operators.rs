//! The operators' pages (signed in with the admin token, on the listener
//! that serves the admin API): the server's orgs, readiness and unfinished
//! tasks, and per org its capacity and spaces' usage, apps (creation,
//! secret rotation), event subscriptions and callbacks, users, departments
//! and their members, and console passwords; the request journal.

use super::*;

pub(super) async fn admin_orgs(State(state): State<ServerState>, session: Session) -> Response {
    if let Err(refused) = session.server_operator() {
        return session.failed(refused);
    }
    let ready = state.drive.ready().await.is_ok();
    let loaded = async {
        let orgs = state.drive.list_orgs().await?;
        let tasks = state.drive.unfinished_tasks().await?;
        Ok::<_, orgdrive_core::DriveError>((orgs, tasks))
    };
    match loaded.await {
        Ok((orgs, tasks)) => {
            let page = pages::admin_orgs(&session.viewer(), &orgs, &tasks, ready);
            pages::respond(StatusCode::OK, page)
        }
        Err(e) => session.failed(e),
    }
}

/// The request journal, newest first (only an error code may be chosen).
pub(super) async fn admin_journal(
    State(state): State<ServerState>,
    session: Session,
    query: crate::extract::QueryParams,
) -> Response {
    if let Err(refused) = session.server_operator() {
        return session.failed(refused);
    }
    let entries = if state.journal.enabled() {
        let filter = crate::journal::Filter {
            limit: Some(200),
            code: query.text("code").filter(|c| !c.is_empty()),
            ..Default::default()
        };
        Some(crate::journal::with_app_keys(&state.drive, state.journal.select(&filter)).await)
    } else {
        None
    };
    pages::respond(StatusCode::OK, pages::admin_journal(&session.viewer(), entries.as_deref()))
}

pub(super) async fn admin_org(
    State(state): State<ServerState>,
    session: Session,
    Path(corp_id): Path<String>,
) -> Response {
    if let Err(refused) = session.server_operator() {
        return session.failed(refused);
    }
    admin_org_page(&state, &session, &corp_id, None).await
}

async fn admin_org_page(
    state: &ServerState,
    session: &Session,
    corp_id: &str,
    notice: Option<pages::Notice>,
) -> Response {
    let drive = &state.drive;
    let loaded = async {
        let org = drive.org(corp_id).await?;
        let apps = drive.list_apps(corp_id).await?;
        let users = drive.list_users(corp_id).await?;
        let depts = drive.list_depts(corp_id).await?;
        let mut members = Vec::with_capacity(depts.len());
        for dept in &depts {
            members.push(drive.list_dept_members(corp_id, &dept.dept_id).await?);
        }
        let usage = drive.org_usage(corp_id).await?;
        let mut events = Vec::with_capacity(apps.len());
        for app in &apps {
            let subscriptions = drive.event_subscriptions(corp_id, &app.app_id).await?;
            let callback = drive.event_callback(corp_id, &app.app_id).await?;
            events.push(pages::AppEvents { subscriptions, callback });
        }
        Ok::<_, orgdrive_core::DriveError>(pages::OrgPage {
            org,
            apps,
            users,
            depts,
            members,
            usage,
            events,
        })
    };
    match loaded.await {
        Ok(org) => pages::respond(
            StatusCode::OK,
            pages::admin_org(&session.viewer(), &org, notice.as_ref()),
        ),
        Err(e) => session.failed(e),
    }
}

/// An operator's form on an org's page; `action` says which.
#[derive(Deserialize)]
pub(super) struct OrgForm {
    #[serde(default)]
    csrf: String,
    action: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    union_id: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    parent_id: String,
    #[serde(default)]
    app_id: String,
    #[serde(default)]
    dept_id: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    scope_id: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    aes_key: String,
    /// The form's other fields: `create_app`'s scope checkboxes
    /// (`scope:<name>`).
    #[serde(flatten)]
    checked: std::collections::HashMap<String, String>,
}

/// The name of a scope checkbox of the app creation form.
pub(super) fn scope_field(scope: Scope) -> String {
    format!("scope:{}", scope.as_str())
}

/// An operator's action on an org's page, posted to the page's own path
/// (so that the page shown after it is the same page): `create_app` (the
/// scopes checked; its secret is shown on the page answered, once),
/// `rotate_secret` (the new secret shown once; the app's tokens end),
/// `subscribe` / `unsubscribe` (an app's event scopes), `set_callback`
/// (checked with a `check_url` event first, as the admin API does) /
/// `remove_callback`, `set_password`, `create_dept`, `add_member` /
/// `remove_member` (department members).
pub(super) async fn admin_org_action(
    State(state): State<ServerState>,
    session: Session,
    Path(corp_id): Path<String>,
    Form(form): Form<OrgForm>,
) -> Response {
    if let Err(refused) = session.server_operator().and_then(|()| session.check(&form.csrf)) {
        return session.failed(refused);
    }
    let drive = &state.drive;
    let notice = match form.action.as_str() {
        "create_app" => {
            let scopes: Vec<String> = Scope::ALL
                .iter()
                .filter(|scope| form.checked.contains_key(&scope_field(**scope)))
                .map(|scope| scope.as_str().to_string())
                .collect();
            if scopes.is_empty() {
                let refused = ApiError::param(Some("scopes"), "choose at least one scope");
                return session.failed(refused);
            }
            let input = NewApp { name: form.name, scopes, ..NewApp::default() };
            drive.create_app(&corp_id, input).await.map(|created| pages::Notice::AppCreated {
                app_key: created.app.app_key,
                app_secret: created.app_secret,
            })
        }
        "set_password" => drive
            .set_console_password(&corp_id, &form.union_id, Some(&form.password))
            .await
            .map(|()| pages::Notice::PasswordSet),
        "create_dept" => {
            let parent_id = Some(form.parent_id.trim().to_string()).filter(|p| !p.is_empty());
            let input = NewDept { name: form.name, parent_id, dept_id: None };
            drive.create_dept(&corp_id, input).await.map(|_| pages::Notice::DeptCreated)
        }
        "rotate_secret" => {
            let rotated = drive.rotate_app_secret(&corp_id, &form.app_id).await;
            if rotated.is_ok() {
                state.hub.close_app(&form.app_id);
            }
            rotated.map(|rotated| pages::Notice::SecretRotated {
                app_key: rotated.app.app_key,
                app_secret: rotated.app_secret,
            })
        }
        "subscribe" => {
            let scope_id = Some(form.scope_id.trim()).filter(|id| !id.is_empty());
            let scope_id = scope_id.or(Some(corp_id.as_str()).filter(|_| form.scope == "ORG"));
            let union_id = form.union_id.trim();
            drive
                .subscribe_event_for(&corp_id, &form.app_id, union_id, Some(&form.scope), scope_id)
                .await
                .map(|()| pages::Notice::EventsChanged)
        }
        "unsubscribe" => drive
            .unsubscribe_event_for(&corp_id, &form.app_id, Some(&form.scope), Some(&form.scope_id))
            .await
            .map(|()| pages::Notice::EventsChanged),
        "set_callback" => {
            let input = orgdrive_core::CallbackInput {
                url: form.url.trim().to_string(),
                token: form.token,
                aes_key: form.aes_key.trim().to_string(),
            };
            match drive.check_event_callback(&corp_id, &form.app_id, input).await {
                Ok(callback) => match state.hub.check_callback(&callback).await {
                    Ok(()) => drive
                        .set_event_callback(&corp_id, &form.app_id, Some(callback))
                        .await
                        .map(|_| pages::Notice::EventsChanged),
                    Err(reason) => {
                        let message = format!("the callback URL failed check_url: {reason}");
                        return session.failed(ApiError::param(Some("url"), message));
                    }
                },
                Err(e) => Err(e),
            }
        }
        "remove_callback" => drive
            .set_event_callback(&corp_id, &form.app_id, None)
            .await
            .map(|_| pages::Notice::EventsChanged),
        "add_member" => drive
            .add_dept_member(&corp_id, &form.dept_id, form.union_id.trim())
            .await
            .map(|()| pages::Notice::MembersChanged),
        "remove_member" => drive
            .remove_dept_member(&corp_id, &form.dept_id, &form.union_id)
            .await
            .map(|()| pages::Notice::MembersChanged),
        _ => return session.failed(ApiError::param(Some("action"), "unknown action")),
    };
    match notice {
        Ok(notice) => admin_org_page(&state, &session, &corp_id, Some(notice)).await,
        Err(e) => session.failed(e),
    }
}
