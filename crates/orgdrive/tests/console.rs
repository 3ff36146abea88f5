//! The web console over HTTP, without a browser: sign-in with the password
//! an admin set (Argon2) or the admin token, the session cookie's
//! attributes, CSRF and cross-site refusals, the failed sign-in limit, the
//! same permission policy as the API, uploads through the API's own steps,
//! and both languages. (`tests/browser` drives the same pages in Chromium.)

mod common;

use common::*;
use serde_json::json;

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The session cookie's `name=value` from a sign-in answer.
fn session_cookie(response: &reqwest::Response) -> String {
    let set = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("orgdrive_session="))
        .expect("a session cookie");
    set.split(';').next().unwrap().to_string()
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = page.find(marker).expect("a form with a CSRF token") + marker.len();
    page[at..at + 32].to_string()
}

async fn set_password(
    s: &TestServer,
    corp_id: &str,
    union_id: &str,
    password: &str,
) -> (u16, serde_json::Value) {
    s.admin(
        "PUT",
        &format!("/orgs/{corp_id}/users/{union_id}/password"),
        Some(json!({ "password": password })),
    )
    .await
}

async fn sign_in(s: &TestServer, union_id: &str, password: &str) -> reqwest::Response {
    client()
        .post(s.url("/console/sign-in"))
        .form(&[("kind", "person"), ("union_id", union_id), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// Signs in and answers the cookie.
async fn signed_in(s: &TestServer, union_id: &str, password: &str) -> String {
    let response = sign_in(s, union_id, password).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    session_cookie(&response)
}

async fn get(s: &TestServer, path: &str, cookie: &str) -> (u16, String, Option<String>) {
    let response = client().get(s.url(path)).header("cookie", cookie).send().await.unwrap();
    let status = response.status().as_u16();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    (status, response.text().await.unwrap(), location)
}

async fn post_form(
    s: &TestServer,
    path: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let response =
        client().post(s.url(path)).header("cookie", cookie).form(form).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn a_person_signs_in_with_the_password_an_admin_set_and_signs_out() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let space = Space::new(&s, Some(1 << 20)).await;
    let (corp_id, union_id) = (&space.t.corp_id, &space.t.union_id);

    let (status, reply) = set_password(&s, corp_id, union_id, "short").await;
    assert_eq!((status, reply["code"].as_str()), (400, Some("paramError.password")), "{reply}");
    let (status, _) = set_password(&s, corp_id, "nobody", PASSWORD).await;
    assert_eq!(status, 400, "an unknown user");
    assert_eq!(sign_in(&s, union_id, PASSWORD).await.status(), 401, "no password set yet");
    assert_eq!(set_password(&s, corp_id, union_id, PASSWORD).await.0, 200);
    let stored: String = rusqlite::Connection::open(dir.path().join("meta.sqlite"))
        .unwrap()
        .query_row("SELECT phc FROM user_passwords WHERE union_id = ?1", [union_id], |r| r.get(0))
        .unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains(PASSWORD), "{stored}");

    let refused = sign_in(&s, union_id, "correct horse batterz").await;
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().get("set-cookie").is_none());
    let response = sign_in(&s, union_id, PASSWORD).await;
    assert_eq!(response.status(), 303);
    let set = response.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=43200"] {
        assert!(set.contains(attribute), "{set}");
    }
    let page = client().get(s.url("/console/sign-in")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let cookie = session_cookie(&response);

    let (status, page, _) = get(&s, "/console/spaces", &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("/console/spaces/{}", space.id)), "{page}");
    assert!(page.contains("0 B used of 1.0 MiB"), "the quota bar: {page}");
    let (status, _, location) = get(&s, "/console/spaces", "orgdrive_session=forged").await;
    assert_eq!((status, location.as_deref()), (303, Some("/console/sign-in")));

    // Sign-out needs the session's CSRF token.
    let (status, _) =
        post_form(&s, "/console/sign-out", &cookie, &[("csrf", "0".repeat(32).as_str())]).await;
    assert_eq!(status, 403);
    let csrf = csrf_of(&page);
    let (status, _) = post_form(&s, "/console/sign-out", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let (status, _, location) = get(&s, "/console/spaces", &cookie).await;
    assert_eq!((status, location.as_deref()), (303, Some("/console/sign-in")), "the session ended");
}

#[tokio::test]
async fn a_new_password_or_a_deleted_user_ends_the_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    set_password(&s, &t.corp_id, &t.union_id, PASSWORD).await;
    let cookie = signed_in(&s, &t.union_id, PASSWORD).await;
    assert_eq!(get(&s, "/console/spaces", &cookie).await.0, 200);
    set_password(&s, &t.corp_id, &t.union_id, "another long password").await;
    assert_eq!(get(&s, "/console/spaces", &cookie).await.0, 303, "ended by the new password");
    assert_eq!(sign_in(&s, &t.union_id, PASSWORD).await.status(), 401, "the old one is gone");

    let cookie = signed_in(&s, &t.union_id, "another long password").await;
    let (status, _) =
        s.admin("DELETE", &format!("/orgs/{}/users/{}", t.corp_id, t.union_id), None).await;
    assert_eq!(status, 200);
    assert_eq!(get(&s, "/console/spaces", &cookie).await.0, 303, "ended with the user");
}

#[tokio::test]
async fn failed_sign_ins_are_limited_even_for_the_right_password() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    set_password(&s, &t.corp_id, &t.union_id, PASSWORD).await;
    for _ in 0..10 {
        assert_eq!(sign_in(&s, &t.union_id, "wrong password!").await.status(), 401);
    }
    let limited = sign_in(&s, &t.union_id, PASSWORD).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get("set-cookie").is_none());
    // One account's failures lock out neither the operator nor another account.
    let operator = client()
        .post(s.url("/console/sign-in"))
        .form(&[("kind", "operator"), ("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(operator.status(), 303);
    let (status, bo) =
        s.admin("POST", &format!("/orgs/{}/users", t.corp_id), Some(json!({"name": "Bo"}))).await;
    assert_eq!(status, 200);
    let bo = bo["unionId"].as_str().unwrap();
    set_password(&s, &t.corp_id, bo, PASSWORD).await;
    assert_eq!(sign_in(&s, bo, PASSWORD).await.status(), 303);
}

#[tokio::test]
async fn concurrent_sign_ins_cannot_pass_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    set_password(&s, &t.corp_id, &t.union_id, PASSWORD).await;
    let attempts = (0..40).map(|i| {
        let (url, union_id) = (s.url("/console/sign-in"), t.union_id.clone());
        tokio::spawn(async move {
            let password = format!("wrong password {i}");
            let form = [("kind", "person"), ("union_id", &union_id), ("password", &password)];
            client().post(url).form(&form).send().await.unwrap().status().as_u16()
        })
    });
    let mut statuses = Vec::new();
    for attempt in attempts.collect::<Vec<_>>() {
        statuses.push(attempt.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (10, 30), "{statuses:?}");
}

/// A server on `dir` with this admin token, the admin API on its own
/// listener when `separate_admin`: (API base, admin base, stop).
async fn start_server(
    dir: &std::path::Path,
    admin_token: &str,
    separate_admin: bool,
) -> (String, String, tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    start_server_at(dir, admin_token, separate_admin, None).await
}

/// The same, with `--public-url`.
async fn start_server_at(
    dir: &std::path::Path,
    admin_token: &str,
    separate_admin: bool,
    public_url: Option<&str>,
) -> (String, String, tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    use std::sync::Arc;
    let meta = orgdrive_sqlite::SqliteStore::open(&dir.join("meta.sqlite"), &Default::default())
        .await
        .unwrap();
    let blob = orgdrive_blob::BlobStore::filesystem(&dir.join("blobs"), true).unwrap();
    let drive = orgdrive_core::Drive::new(Arc::new(meta), blob, drive_options()).await.unwrap();
    let mut state = orgdrive_server::ServerState::new(drive, admin_token)
        .with_public_url(public_url.map(str::to_string));
    if separate_admin {
        state = state.with_separate_admin_listener();
    }
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bases = (
        format!("http://{}", api.local_addr().unwrap()),
        format!("http://{}", admin.local_addr().unwrap()),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let limits = orgdrive_server::Limits::default();
    let (api_app, admin_app) =
        (orgdrive_server::router(state.clone()), orgdrive_server::admin_router(state));
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let task = tokio::spawn(async move {
        let api = orgdrive_server::serve(api, api_app, limits, until_stopped(stopped.clone()));
        let admin = orgdrive_server::serve(admin, admin_app, limits, until_stopped(stopped));
        let (api, admin) = tokio::join!(api, admin);
        api.unwrap();
        admin.unwrap();
    });
    (bases.0, bases.1, stop, task)
}

async fn operator_sign_in(base: &str, token: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/console/sign-in"))
        .form(&[("kind", "operator"), ("token", token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn with_the_admin_api_on_its_own_listener_operators_sign_in_only_there() {
    let dir = tempfile::tempdir().unwrap();
    let (api, admin, stop, task) = start_server(dir.path(), ADMIN_TOKEN, true).await;
    let refused = operator_sign_in(&api, ADMIN_TOKEN).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get("set-cookie").is_none());
    let page =
        client().get(format!("{api}/console/sign-in")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("sign-in-operator"), "no operators' form on the API listener");
    let signed_in = operator_sign_in(&admin, ADMIN_TOKEN).await;
    assert_eq!(signed_in.status(), 303);
    let cookie = session_cookie(&signed_in);
    let on_api = client()
        .get(format!("{api}/console/admin"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status(), 404, "the operators' pages are not on the API listener");
    let on_admin = client()
        .get(format!("{admin}/console/admin"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(on_admin.status(), 200);
    let _ = stop.send(true);
    task.await.unwrap();
}

#[tokio::test]
async fn the_admin_listener_takes_its_own_origin_whatever_the_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let public = "https://drive.example.com";
    let (_, admin, stop, task) = start_server_at(dir.path(), ADMIN_TOKEN, true, Some(public)).await;
    let signed_in = client()
        .post(format!("{admin}/console/sign-in"))
        .header("origin", &admin)
        .form(&[("kind", "operator"), ("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let set = signed_in.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(!set.contains("Secure"), "the admin listener is not the https public URL: {set}");
    let from_public = client()
        .post(format!("{admin}/console/sign-in"))
        .header("origin", public)
        .form(&[("kind", "operator"), ("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(from_public.status(), 403, "another origin than the admin listener's");
    let _ = stop.send(true);
    task.await.unwrap();
}

#[tokio::test]
async fn an_operators_session_ends_with_its_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let (api, _, stop, task) = start_server(dir.path(), ADMIN_TOKEN, false).await;
    let cookie = session_cookie(&operator_sign_in(&api, ADMIN_TOKEN).await);
    let page = client()
        .get(format!("{api}/console/admin"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let _ = stop.send(true);
    task.await.unwrap();

    let rotated = "another-admin-token-of-at-least-32-bytes";
    let (api, _, stop, task) = start_server(dir.path(), rotated, false).await;
    let page = client()
        .get(format!("{api}/console/admin"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "the old token's session is over");
    let cookie = session_cookie(&operator_sign_in(&api, rotated).await);
    let page = client()
        .get(format!("{api}/console/admin"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let _ = stop.send(true);
    task.await.unwrap();
}

#[tokio::test]
async fn console_actions_follow_the_same_permission_policy_as_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let space = Space::new(&s, None).await;
    let file = space.upload("report.txt", b"quarterly figures").await;
    let file_id = file["id"].as_str().unwrap().to_string();
    let (status, bo) = s
        .admin("POST", &format!("/orgs/{}/users", space.t.corp_id), Some(json!({"name": "Bo"})))
        .await;
    assert_eq!(status, 200);
    let bo = bo["unionId"].as_str().unwrap().to_string();
    set_password(&s, &space.t.corp_id, &bo, PASSWORD).await;
    let cookie = signed_in(&s, &bo, PASSWORD).await;

    let (_, page, _) = get(&s, "/console/spaces", &cookie).await;
    assert!(!page.contains(&space.id), "no grant, no space: {page}");
    let folder = format!("/console/spaces/{}", space.id);
    let (status, page, _) = get(&s, &folder, &cookie).await;
    assert_eq!(status, 403, "{page}");

    // A READER grant on the space (AddPermission, through the API).
    let (status, reply) = space
        .post(
            "/dentries/0/permissions",
            json!({"roleId": "READER", "members": [{"type": "USER", "id": bo}]}),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let (_, page, _) = get(&s, "/console/spaces", &cookie).await;
    assert!(page.contains(&space.id), "{page}");
    let (status, page, _) = get(&s, &folder, &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains("report.txt"), "{page}");
    let csrf = csrf_of(&page);
    let (status, page) = post_form(
        &s,
        &format!("{folder}/delete"),
        &cookie,
        &[("csrf", &csrf), ("dentry_id", &file_id), ("parent_id", "0")],
    )
    .await;
    assert_eq!(status, 403, "a reader cannot delete: {page}");
    assert!(page.contains("permissionDenied"), "{page}");
    assert_eq!(space.download(&file_id).await, b"quarterly figures", "still there");
    // A reader may not download either (DOWNLOADER is the least role that may).
    let (status, _, _) = get(&s, &format!("{folder}/download/{file_id}"), &cookie).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_person_uploads_renames_deletes_and_restores_through_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let space = Space::new(&s, None).await;
    set_password(&s, &space.t.corp_id, &space.t.union_id, PASSWORD).await;
    let cookie = signed_in(&s, &space.t.union_id, PASSWORD).await;
    let folder = format!("/console/spaces/{}", space.id);
    let (_, page, _) = get(&s, &folder, &cookie).await;
    let csrf = csrf_of(&page);

    // The script's steps: open the upload, PUT the bytes, commit.
    let script = |path: &str, token: &str, body: serde_json::Value| {
        client()
            .post(s.url(&format!("{folder}{path}")))
            .header("cookie", &cookie)
            .header("x-csrf-token", token)
            .json(&body)
            .send()
    };
    let data = b"bytes from the console";
    let opened =
        script("/uploads", "stale", json!({"parentId": "0", "name": "c.txt", "size": data.len()}))
            .await
            .unwrap();
    assert_eq!(opened.status(), 403, "no CSRF token, no upload");
    let ticket: serde_json::Value =
        script("/uploads", &csrf, json!({"parentId": "0", "name": "c.txt", "size": data.len()}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let url = ticket["url"].as_str().expect("a signed URL");
    assert_eq!(reqwest::Client::new().put(url).body(&data[..]).send().await.unwrap().status(), 200);
    let committed = script(
        "/commit",
        &csrf,
        json!({"uploadKey": ticket["uploadKey"], "parentId": "0", "name": "c.txt", "size": data.len()}),
    )
    .await
    .unwrap();
    assert_eq!(committed.status(), 200);
    let dentry_id = committed.json::<serde_json::Value>().await.unwrap()["dentryId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(space.download(&dentry_id).await, data);

    // Download: a redirect to the signed URL.
    let (status, _, location) = get(&s, &format!("{folder}/download/{dentry_id}"), &cookie).await;
    assert_eq!(status, 303);
    let bytes = reqwest::get(location.unwrap()).await.unwrap().bytes().await.unwrap();
    assert_eq!(&bytes[..], data);
    // A link an app registered is shown with its host, not followed.
    let other = space.upload("other.txt", b"elsewhere").await;
    let other = other["id"].as_str().unwrap();
    let register = json!({"provider": "ACME", "openInfos": [{"openType": "PREVIEW", "url": "https://evil.example/phish"}]});
    let (status, reply) =
        space.post(&format!("/dentries/{other}/openInfos/register"), register).await;
    assert_eq!(status, 200, "{reply}");
    let (status, page, location) = get(&s, &format!("{folder}/preview/{other}"), &cookie).await;
    assert_eq!((status, location), (200, None), "{page}");
    assert!(page.contains("<strong id=\"host\">evil.example</strong>"), "{page}");
    // Preview: a redirect to the preview page GetDentryOpenInfo answers.
    let (status, _, location) = get(&s, &format!("{folder}/preview/{dentry_id}"), &cookie).await;
    assert_eq!(status, 303);
    let preview = reqwest::get(location.unwrap()).await.unwrap();
    assert_eq!(preview.status(), 200);
    assert!(preview.text().await.unwrap().contains("bytes from the console"), "a text preview");

    let change = |path: &'static str, form: Vec<(&'static str, String)>| {
        let cookie = cookie.clone();
        let url = s.url(&format!("{folder}{path}"));
        async move {
            let response =
                client().post(url).header("cookie", cookie).form(&form).send().await.unwrap();
            response.status().as_u16()
        }
    };
    let form = |pairs: &[(&'static str, &str)]| {
        let mut all = vec![("csrf", csrf.clone())];
        all.extend(pairs.iter().map(|(k, v)| (*k, v.to_string())));
        all
    };
    assert_eq!(
        change(
            "/rename",
            form(&[("dentry_id", &dentry_id), ("parent_id", "0"), ("new_name", "d.txt")])
        )
        .await,
        303
    );
    assert_eq!(change("/folders", form(&[("parent_id", "0"), ("name", "docs")])).await, 303);
    let (_, page, _) = get(&s, &folder, &cookie).await;
    assert!(page.contains("d.txt") && !page.contains("c.txt") && page.contains("docs"), "{page}");
    // Search by name within the space.
    let (status, found, _) = get(&s, &format!("{folder}/search?q=d.t"), &cookie).await;
    assert_eq!(status, 200, "{found}");
    assert!(found.contains("/d.txt") && !found.contains("/docs"), "{found}");
    let (status, _, _) = get(&s, &format!("{folder}/search?q="), &cookie).await;
    assert_eq!(status, 400, "nothing to search for");
    // Sorted by size, largest first: the file before the folder (size 0).
    let (_, page, _) = get(&s, &format!("{folder}?order_by=size&order=desc"), &cookie).await;
    assert!(page.find("d.txt").unwrap() < page.find("docs/").unwrap(), "{page}");

    assert_eq!(
        change("/delete", form(&[("dentry_id", &dentry_id), ("parent_id", "0")])).await,
        303
    );
    let (_, page, _) = get(&s, &folder, &cookie).await;
    assert!(!page.contains("d.txt"), "{page}");
    let (_, bin, _) = get(&s, &format!("{folder}/bin"), &cookie).await;
    assert!(bin.contains("/d.txt"), "{bin}");
    let marker = "name=\"recycle_item_id\" value=\"";
    let at = bin.find(marker).unwrap() + marker.len();
    let item = &bin[at..at + bin[at..].find('"').unwrap()];
    assert_eq!(change("/bin/restore", form(&[("recycle_item_id", item)])).await, 303);
    let (_, page, _) = get(&s, &folder, &cookie).await;
    assert!(page.contains("d.txt"), "restored: {page}");
    assert_eq!(space.download(&dentry_id).await, data);
}

#[tokio::test]
async fn the_script_uploads_in_parts_and_makes_the_folders_of_a_dropped_tree() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let space = Space::new(&s, None).await;
    set_password(&s, &space.t.corp_id, &space.t.union_id, PASSWORD).await;
    let cookie = signed_in(&s, &space.t.union_id, PASSWORD).await;
    let folder = format!("/console/spaces/{}", space.id);
    let (_, page, _) = get(&s, &folder, &cookie).await;
    let csrf = csrf_of(&page);
    let script = |path: &str, cookie: &str, token: &str, body: serde_json::Value| {
        client()
            .post(s.url(&format!("{folder}{path}")))
            .header("cookie", cookie)
            .header("x-csrf-token", token)
            .json(&body)
            .send()
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().await.unwrap())
    };

    // Folders of a dropped tree: made once, found the second time.
    let mkdir = |parent: &str, name: &str| {
        script("/mkdir", &cookie, &csrf, json!({"parentId": parent, "name": name}))
    };
    let (status, made) = answer(mkdir("0", "album").await.unwrap()).await;
    assert_eq!(status, 200, "{made}");
    let album = made["dentryId"].as_str().unwrap().to_string();
    let (_, again) = answer(mkdir("0", "album").await.unwrap()).await;
    assert_eq!(again["dentryId"], made["dentryId"], "the same folder, merged into");
    let (status, nested) = answer(mkdir(&album, "2026").await.unwrap()).await;
    assert_eq!(status, 200, "{nested}");
    space.upload("notes", b"a file").await;
    let (status, refused) = answer(mkdir("0", "notes").await.unwrap()).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("paramError.name")), "{refused}");
    let (status, _) = answer(mkdir("0", "../x").await.unwrap()).await;
    assert_eq!(status, 400, "a name the API refuses");
    let stale = script("/mkdir", &cookie, "stale", json!({"parentId": "0", "name": "x"}));
    assert_eq!(stale.await.unwrap().status(), 403, "no CSRF token, no folder");

    // A file in three parts, the second one sent twice (a retry); every
    // part but the last has at least 100 KB.
    let (first, second) = (vec![1u8; 100 << 10], vec![2u8; 100 << 10]);
    let parts: [&[u8]; 3] = [&first, &second, b"third"];
    let size: usize = parts.iter().map(|p| p.len()).sum();
    let open = json!({"parentId": album, "name": "big.bin", "size": size, "multipart": true});
    let (status, opened) = answer(script("/uploads", &cookie, &csrf, open).await.unwrap()).await;
    assert_eq!(status, 200, "{opened}");
    let key = opened["uploadKey"].as_str().unwrap().to_string();
    assert!(opened.get("url").is_none(), "parts are signed one call at a time");
    for (number, bytes) in [(1, parts[0]), (2, b"garbled".as_slice()), (2, parts[1]), (3, parts[2])]
    {
        let body = json!({"uploadKey": key, "partNumbers": [number]});
        let (status, signed) = answer(script("/parts", &cookie, &csrf, body).await.unwrap()).await;
        assert_eq!(status, 200, "{signed}");
        assert_eq!(signed["urls"][0]["partNumber"], number);
        let url = signed["urls"][0]["url"].as_str().unwrap();
        let put = reqwest::Client::new().put(url).body(bytes.to_vec()).send().await.unwrap();
        assert_eq!(put.status(), 200);
    }
    // Another person cannot sign parts of this upload.
    let (status, bo) = s
        .admin("POST", &format!("/orgs/{}/users", space.t.corp_id), Some(json!({"name": "Bo"})))
        .await;
    assert_eq!(status, 200);
    let bo = bo["unionId"].as_str().unwrap().to_string();
    set_password(&s, &space.t.corp_id, &bo, PASSWORD).await;
    let bo_cookie = signed_in(&s, &bo, PASSWORD).await;
    let (_, bo_page, _) = get(&s, "/console/spaces", &bo_cookie).await;
    let bo_csrf = csrf_of(&bo_page);
    let body = json!({"uploadKey": key, "partNumbers": [1]});
    let (status, refused) =
        answer(script("/parts", &bo_cookie, &bo_csrf, body).await.unwrap()).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("paramError.uploadKey")),
        "{refused}"
    );
    assert!(refused["message"].as_str().unwrap().contains("another operator"), "{refused}");
    let body = json!({"uploadKey": key, "partNumbers": []});
    let (status, _) = answer(script("/parts", &cookie, &csrf, body).await.unwrap()).await;
    assert_eq!(status, 400, "no part numbers");

    let commit = json!({"uploadKey": key, "parentId": album, "name": "big.bin", "size": size});
    let (status, committed) =
        answer(script("/commit", &cookie, &csrf, commit).await.unwrap()).await;
    assert_eq!(status, 200, "{committed}");
    let dentry_id = committed["dentryId"].as_str().unwrap();
    assert_eq!(space.download(dentry_id).await, parts.concat(), "the retried part's last bytes");
}

#[tokio::test]
async fn quota_shows_versions_and_the_bin_apart_and_a_folder_shared_below_the_root_is_reachable() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let space = Space::new(&s, Some(1 << 20)).await;
    set_password(&s, &space.t.corp_id, &space.t.union_id, PASSWORD).await;
    let cookie = signed_in(&s, &space.t.union_id, PASSWORD).await;
    space.upload("a.txt", b"one").await;
    let (key, url) = space.upload_url().await;
    assert_eq!(space.put(&url, b"three").await, 200);
    let overwrite = json!({"uploadKey": key, "name": "a.txt", "parentId": "0",
        "option": {"conflictStrategy": "OVERWRITE"}});
    let (status, reply) = space.post("/files/commit", overwrite).await;
    assert_eq!(status, 200, "{reply}");
    let binned = space.upload("b.txt", b"eleven byte").await;
    let folder = format!("/console/spaces/{}", space.id);
    let (_, page, _) = get(&s, &folder, &cookie).await;
    let csrf = csrf_of(&page);
    let binned = binned["id"].as_str().unwrap();
    let (status, _) = post_form(
        &s,
        &format!("{folder}/delete"),
        &cookie,
        &[("csrf", &csrf), ("dentry_id", binned), ("parent_id", "0")],
    )
    .await;
    assert_eq!(status, 303);
    let expected = "19 B used of 1.0 MiB · <span class=\"part-files\">files 5 B</span> · \
                    <span class=\"part-versions\">versions 3 B</span> · \
                    <span class=\"part-recycled\">recycle bin 11 B</span>";
    let (status, page, _) = get(&s, "/console/spaces", &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains(expected), "{page}");
    let (_, page, _) = get(&s, &folder, &cookie).await;
    assert!(page.contains("19 B used of 1.0 MiB</span>"), "the plain bar: {page}");

    // Bo holds a grant on a folder, not on the space.
    let (status, made) = space.post("/dentries/0/folders", json!({"name": "team"})).await;
    assert_eq!(status, 200, "{made}");
    let team = made["dentry"]["id"].as_str().unwrap().to_string();
    let (status, bo) = s
        .admin("POST", &format!("/orgs/{}/users", space.t.corp_id), Some(json!({"name": "Bo"})))
        .await;
    assert_eq!(status, 200);
    let bo = bo["unionId"].as_str().unwrap().to_string();
    set_password(&s, &space.t.corp_id, &bo, PASSWORD).await;
    let bo_cookie = signed_in(&s, &bo, PASSWORD).await;
    let (_, page, _) = get(&s, "/console/spaces", &bo_cookie).await;
    assert!(!page.contains("Shared with you"), "nothing shared yet: {page}");
    let grant = json!({"roleId": "EDITOR", "members": [{"type": "USER", "id": bo}]});
    let (status, reply) = space.post(&format!("/dentries/{team}/permissions"), grant).await;
    assert_eq!(status, 200, "{reply}");
    let (_, page, _) = get(&s, "/console/spaces", &bo_cookie).await;
    let link = format!("href=\"/console/spaces/{}?folder={team}\"", space.id);
    assert!(page.contains("Shared with you") && page.contains(&link), "{page}");
    assert!(!page.contains(&format!("href=\"/console/spaces/{}\"", space.id)), "not the space");
    let (status, page, _) = get(&s, &format!("{folder}?folder={team}"), &bo_cookie).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("/team") && !page.contains("/bin\""), "no quota, no bin: {page}");
    let (status, _, _) = get(&s, &folder, &bo_cookie).await;
    assert_eq!(status, 403, "the root stays closed");
}

#[tokio::test]
async fn a_folder_is_read_by_name_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let space = Space::new(&s, None).await;
    for i in (0..55).rev() {
        let (status, _) =
            space.post("/dentries/0/folders", json!({"name": format!("f{i:02}")})).await;
        assert_eq!(status, 200);
    }
    set_password(&s, &space.t.corp_id, &space.t.union_id, PASSWORD).await;
    let cookie = signed_in(&s, &space.t.union_id, PASSWORD).await;
    let folder = format!("/console/spaces/{}", space.id);
    let names = |page: &str| {
        page.match_indices("<tr data-name=\"")
            .map(|(at, _)| page[at + 15..at + 18].to_string())
            .collect::<Vec<_>>()
    };
    let (_, first, _) = get(&s, &folder, &cookie).await;
    let first_names = names(&first);
    assert_eq!(first_names.len(), 50);
    assert_eq!((first_names[0].as_str(), first_names[49].as_str()), ("f00", "f49"), "by name");
    let marker = "class=\"next\" href=\"";
    let at = first.find(marker).expect("a next page") + marker.len();
    let next = first[at..at + first[at..].find('"').unwrap()].replace("&amp;", "&");
    let (status, second, _) = get(&s, &next, &cookie).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(names(&second), ["f50", "f51", "f52", "f53", "f54"]);
    assert!(!second.contains(marker), "the last page");
    let (_, by_name_desc, _) =
        get(&s, &format!("{folder}?order_by=name&order=desc"), &cookie).await;
    assert_eq!(names(&by_name_desc)[0], "f54");
}

#[tokio::test]
async fn versions_are_listed_downloaded_and_made_current_and_bin_items_deleted_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let space = Space::new(&s, None).await;
    let first = space.upload("notes.txt", b"first draft").await;
    let id = first["id"].as_str().unwrap().to_string();
    let (key, url) = space.upload_url().await;
    assert_eq!(space.put(&url, b"second draft").await, 200);
    let body = json!({"uploadKey": key, "name": "notes.txt", "parentId": "0",
                      "option": {"conflictStrategy": "OVERWRITE"}});
    let (status, reply) = space.post("/files/commit", body).await;
    assert_eq!(status, 200, "{reply}");
    set_password(&s, &space.t.corp_id, &space.t.union_id, PASSWORD).await;
    let cookie = signed_in(&s, &space.t.union_id, PASSWORD).await;
    let base = format!("/console/spaces/{}", space.id);

    let (status, page, _) = get(&s, &format!("{base}/versions/{id}"), &cookie).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-version=\"1\"") && !page.contains("data-version=\"2\""), "{page}");
    let (status, _, location) = get(&s, &format!("{base}/download/{id}?version=1"), &cookie).await;
    assert_eq!(status, 303);
    let old = reqwest::get(location.unwrap()).await.unwrap().bytes().await.unwrap();
    assert_eq!(&old[..], b"first draft");
    let csrf = csrf_of(&page);
    let (status, _) = post_form(
        &s,
        &format!("{base}/versions/{id}"),
        &cookie,
        &[("csrf", &csrf), ("version", "1")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(space.download(&id).await, b"first draft", "version 1 is current again");

    // Delete -> the bin -> delete for good.
    let (status, _) = post_form(
        &s,
        &format!("{base}/delete"),
        &cookie,
        &[("csrf", &csrf), ("dentry_id", &id), ("parent_id", "0")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, bin, _) = get(&s, &format!("{base}/bin"), &cookie).await;
    let marker = "name=\"recycle_item_id\" value=\"";
    let at = bin.find(marker).unwrap() + marker.len();
    let item = bin[at..at + bin[at..].find('"').unwrap()].to_string();
    let (status, _) = post_form(
        &s,
        &format!("{base}/bin/purge"),
        &cookie,
        &[("csrf", "stale"), ("recycle_item_id", &item)],
    )
    .await;
    assert_eq!(status, 403, "no token, no purge");
    let (status, _) = post_form(
        &s,
        &format!("{base}/bin/purge"),
        &cookie,
        &[("csrf", &csrf), ("recycle_item_id", &item)],
    )
    .await;
    assert_eq!(status, 303);
    let (_, bin, _) = get(&s, &format!("{base}/bin"), &cookie).await;
    assert!(!bin.contains("notes.txt"), "{bin}");
    let (status, _) = space.post(&format!("/dentries/{id}/query"), json!({})).await;
    assert_ne!(status, 200, "gone for good");
    let restore = [("csrf", csrf.as_str()), ("recycle_item_id", item.as_str())];
    let (status, _) = post_form(&s, &format!("{base}/bin/restore"), &cookie, &restore).await;
    assert_eq!(status, 400, "the item is gone: nothing to restore");
}

#[tokio::test]
async fn a_person_moves_and_copies_and_watches_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let space = Space::new(&s, None).await;
    let (_, docs) = space.post("/dentries/0/folders", json!({"name": "docs"})).await;
    let docs = docs["dentry"]["id"].as_str().unwrap().to_string();
    let (_, inner) =
        space.post(&format!("/dentries/{docs}/folders"), json!({"name": "inner"})).await;
    assert!(inner["dentry"]["id"].is_string(), "{inner}");
    let file = space.upload("plan.txt", b"the plan").await;
    let file = file["id"].as_str().unwrap().to_string();
    set_password(&s, &space.t.corp_id, &space.t.union_id, PASSWORD).await;
    let cookie = signed_in(&s, &space.t.union_id, PASSWORD).await;
    let base = format!("/console/spaces/{}", space.id);
    let (_, page, _) = get(&s, &base, &cookie).await;
    let csrf = csrf_of(&page);

    // The target picker: the space's folders (not its files), one level
    // at a time, and a button that sends the entry to the folder browsed.
    let pick = format!("{base}/pick/{file}?how=move&at=0");
    assert!(page.contains(&format!("href=\"{}\"", pick.replace('&', "&amp;"))), "{page}");
    let (status, picker, _) = get(&s, &pick, &cookie).await;
    assert_eq!(status, 200, "{picker}");
    assert!(picker.contains("data-name=\"docs\"") && !picker.contains("data-name=\"plan.txt\""));
    let into_docs =
        format!("/console/spaces/{0}/pick/{file}?how=move&amp;space={0}&amp;at={docs}", space.id);
    assert!(picker.contains(&into_docs), "{picker}");
    let (status, picker, _) = get(&s, &into_docs.replace("&amp;", "&"), &cookie).await;
    assert_eq!(status, 200, "{picker}");
    assert!(picker.contains("data-name=\"inner\"") && picker.contains("id=\"browsed\">/docs<"));
    assert!(picker.contains(&format!("name=\"target_folder_id\" value=\"{docs}\"")), "{picker}");
    let (status, _, _) = get(&s, &format!("{base}/pick/{file}?at=nope"), &cookie).await;
    assert_eq!(status, 400, "an unknown folder");
    let elsewhere = Space::new(&s, None).await;
    let foreign = format!("{base}/pick/{file}?space={}", elsewhere.id);
    let (status, refused, _) = get(&s, &foreign, &cookie).await;
    assert_eq!(status, 400, "another org's space is not there for this person");
    assert!(refused.contains("paramError.spaceId"), "{refused}");

    // A file moves at once: the answer is the target folder.
    let form = [
        ("csrf", csrf.as_str()),
        ("how", "move"),
        ("dentry_id", &file),
        ("target_space_id", &space.id),
        ("target_folder_id", &docs),
    ];
    let response = client()
        .post(s.url(&format!("{base}/relocate")))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let (_, folder, _) = get(&s, &location, &cookie).await;
    assert!(folder.contains("plan.txt"), "{folder}");

    // A folder with children copies as a task, whose page shows its progress.
    let form = [
        ("csrf", csrf.as_str()),
        ("how", "copy"),
        ("dentry_id", &docs),
        ("target_space_id", &space.id),
        ("target_folder_id", "0"),
    ];
    let response = client()
        .post(s.url(&format!("{base}/relocate")))
        .header("cookie", &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/console/tasks/"), "{location}");
    let mut status = String::new();
    for _ in 0..100 {
        let (code, page, _) = get(&s, &location, &cookie).await;
        assert_eq!(code, 200, "{page}");
        let marker = "data-status=\"";
        let at = page.find(marker).unwrap() + marker.len();
        status = page[at..at + page[at..].find('"').unwrap()].to_string();
        if status == "SUCCESS" || status == "FAIL" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "SUCCESS");
    // The org's people share its console app, not their tasks.
    let (status, bo) = s
        .admin("POST", &format!("/orgs/{}/users", space.t.corp_id), Some(json!({"name": "Bo"})))
        .await;
    assert_eq!(status, 200);
    let bo = bo["unionId"].as_str().unwrap();
    set_password(&s, &space.t.corp_id, bo, PASSWORD).await;
    let bos = signed_in(&s, bo, PASSWORD).await;
    let (code, page, _) = get(&s, &location, &bos).await;
    assert_eq!(code, 400, "another person's task: {page}");
    let (_, root, _) = get(&s, &base, &cookie).await;
    assert_eq!(root.matches("data-name=\"docs").count(), 2, "the copy beside the original: {root}");
}

#[tokio::test]
async fn a_form_from_another_site_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let space = Space::new(&s, None).await;
    set_password(&s, &space.t.corp_id, &space.t.union_id, PASSWORD).await;
    let cookie = signed_in(&s, &space.t.union_id, PASSWORD).await;
    let folder = format!("/console/spaces/{}", space.id);
    let (_, page, _) = get(&s, &folder, &cookie).await;
    let csrf = csrf_of(&page);
    let response = client()
        .post(s.url(&format!("{folder}/folders")))
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .form(&[("csrf", csrf.as_str()), ("parent_id", "0"), ("name", "planted")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let (_, page, _) = get(&s, &folder, &cookie).await;
    assert!(!page.contains("planted"));
    // Another session's token is no good either.
    let other = signed_in(&s, &space.t.union_id, PASSWORD).await;
    let (status, _) = post_form(
        &s,
        &format!("{folder}/folders"),
        &other,
        &[("csrf", &csrf), ("parent_id", "0"), ("name", "planted")],
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn an_operator_signs_in_with_the_admin_token_and_creates_an_app() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let wrong = client()
        .post(s.url("/console/sign-in"))
        .form(&[("kind", "operator"), ("token", "not the admin token")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let response = client()
        .post(s.url("/console/sign-in"))
        .form(&[("kind", "operator"), ("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookie = session_cookie(&response);
    let (status, page, _) = get(&s, "/console/admin", &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains(&t.corp_id), "{page}");
    assert!(page.contains("Background tasks") && page.contains("No task is running."), "{page}");
    assert_eq!(get(&s, "/console/spaces", &cookie).await.0, 403, "the admin token is no person");

    let (status, _) =
        s.admin("POST", &format!("/orgs/{}/depts", t.corp_id), Some(json!({"name": "R&D"}))).await;
    assert_eq!(status, 200);
    let body = json!({"option": {"name": "Quarterly"}}).to_string();
    let path = format!("/v1.0/storage/spaces?unionId={}", t.union_id);
    let (status, reply) = s.call("POST", &path, Some(&t.token), Some(&body)).await;
    assert_eq!(status, 200, "{reply}");
    let subscribe = json!({"scope": "ORG", "scopeId": t.corp_id}).to_string();
    let path = format!("/v1.0/storage/events/subscribe?unionId={}", t.union_id);
    let (status, reply) = s.call("POST", &path, Some(&t.token), Some(&subscribe)).await;
    assert_eq!(status, 200, "{reply}");
    let org_page = format!("/console/admin/orgs/{}", t.corp_id);
    let (_, page, _) = get(&s, &org_page, &cookie).await;
    assert!(page.contains("R&amp;D"), "departments: {page}");
    assert!(page.contains(&format!("<code>ORG:{}</code>", t.corp_id)), "subscriptions: {page}");
    assert!(page.contains("id=\"space-usage\"") && page.contains("Quarterly"), "usage: {page}");
    assert!(page.contains("0 B used of no limit"), "the org's capacity: {page}");
    let csrf = csrf_of(&page);
    let (status, page) = post_form(
        &s,
        &org_page,
        &cookie,
        &[("csrf", &csrf), ("action", "create_app"), ("name", "No scope")],
    )
    .await;
    assert_eq!(status, 400, "an app needs a scope: {page}");
    assert!(page.contains("paramError.scopes"), "{page}");
    let (status, page) = post_form(
        &s,
        &org_page,
        &cookie,
        &[
            ("csrf", &csrf),
            ("action", "create_app"),
            ("name", "Made in the console"),
            ("scope:Storage.Space.Read", "on"),
            ("scope:Storage.File.Read", "on"),
            ("scope:Not.A.Scope", "on"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<td class=\"scopes\"><code>Storage.Space.Read</code> <code>Storage.File.Read</code> </td>"),
        "the scopes checked, and only those: {page}"
    );
    let value = |id: &str| {
        let at = page.find(&format!("id=\"{id}\">")).unwrap() + id.len() + 6;
        page[at..at + page[at..].find('<').unwrap()].to_string()
    };
    let token = access_token(&s, &value("app-key"), &value("app-secret")).await;
    let (status, page) = post_form(
        &s,
        &org_page,
        &cookie,
        &[("csrf", &csrf), ("action", "create_dept"), ("name", "Sales"), ("parent_id", "")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Department created.") && page.contains("Sales"), "{page}");
    assert!(!token.is_empty());
    let (_, again, _) = get(&s, &org_page, &cookie).await;
    assert!(
        again.contains("Made in the console") && !again.contains(&value("app-secret")),
        "shown once"
    );

    // A person cannot reach the operators' pages.
    set_password(&s, &t.corp_id, &t.union_id, PASSWORD).await;
    let person = signed_in(&s, &t.union_id, PASSWORD).await;
    assert_eq!(get(&s, "/console/admin", &person).await.0, 403);
    // The person's sign-in made the org's console app: the server's own,
    // neither listed nor deletable.
    let stored: String = rusqlite::Connection::open(dir.path().join("meta.sqlite"))
        .unwrap()
        .query_row("SELECT app_id FROM apps WHERE app_key LIKE 'console:%'", [], |r| r.get(0))
        .unwrap();
    let (_, apps) = s.admin("GET", &format!("/orgs/{}/apps", t.corp_id), None).await;
    let keys: Vec<&str> =
        apps["items"].as_array().unwrap().iter().map(|a| a["appKey"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| !k.starts_with("console:")), "{keys:?}");
    let (status, _) = s.admin("DELETE", &format!("/orgs/{}/apps/{stored}", t.corp_id), None).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn an_operator_rotates_a_secret_changes_event_settings_and_department_members() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let response = client()
        .post(s.url("/console/sign-in"))
        .form(&[("kind", "operator"), ("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&response);
    let org_page = format!("/console/admin/orgs/{}", t.corp_id);
    let (_, page, _) = get(&s, &org_page, &cookie).await;
    let csrf = csrf_of(&page);
    let act = |fields: Vec<(&'static str, String)>| {
        let (cookie, csrf, org_page) = (cookie.clone(), csrf.clone(), org_page.clone());
        let s = &s;
        async move {
            let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
            form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
            post_form(s, &org_page, &cookie, &form).await
        }
    };

    // The secret: a new one, shown once; the app's tokens end.
    let (status, page) =
        act(vec![("action", "rotate_secret".into()), ("app_id", t.app_id.clone())]).await;
    assert_eq!(status, 200, "{page}");
    let at = page.find("id=\"app-secret\">").expect("the secret, once") + 16;
    let secret = page[at..at + page[at..].find('<').unwrap()].to_string();
    assert_ne!(secret, t.app_secret);
    let q = format!("/v1.0/storage/currentApps/query?unionId={}", t.union_id);
    assert_eq!(s.call("POST", &q, Some(&t.token), None).await.0, 400, "the old token ended");
    let token = access_token(&s, &t.app_key, &secret).await;
    assert_eq!(s.call("POST", &q, Some(&token), None).await.0, 200);
    let (_, again, _) = get(&s, &org_page, &cookie).await;
    assert!(!again.contains(&secret), "shown once");

    // Event subscriptions: ORG and SPACE scopes, as a user, and back.
    let body = json!({"option": {"name": "Watched"}}).to_string();
    let path = format!("/v1.0/storage/spaces?unionId={}", t.union_id);
    let (_, space) = s.call("POST", &path, Some(&token), Some(&body)).await;
    let space_id = space["space"]["id"].as_str().unwrap().to_string();
    let subscribe = |scope: &str, scope_id: &str, union_id: &str| {
        vec![
            ("action", "subscribe".to_string()),
            ("app_id", t.app_id.clone()),
            ("scope", scope.to_string()),
            ("scope_id", scope_id.to_string()),
            ("union_id", union_id.to_string()),
        ]
    };
    let (status, page) = act(subscribe("ORG", "", &t.union_id)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Event settings saved."), "{page}");
    assert!(page.contains(&format!("<code>ORG:{}</code>", t.corp_id)), "{page}");
    let (status, page) = act(subscribe("SPACE", &space_id, &t.union_id)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("<code>SPACE:{space_id}</code>")), "{page}");
    let (status, page) = act(subscribe("SPACE", &space_id, "nobody")).await;
    assert_eq!(status, 400, "an unknown user: {page}");
    assert!(page.contains("paramError.unionId"), "{page}");
    let (status, page) = act(vec![
        ("action", "unsubscribe".into()),
        ("app_id", t.app_id.clone()),
        ("scope", "ORG".into()),
        ("scope_id", t.corp_id.clone()),
    ])
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains(&format!("<code>ORG:{}</code>", t.corp_id)), "{page}");
    assert!(page.contains(&format!("<code>SPACE:{space_id}</code>")), "{page}");
    // A callback URL must answer check_url before it is kept.
    let (status, page) = act(vec![
        ("action", "set_callback".into()),
        ("app_id", t.app_id.clone()),
        ("url", "http://127.0.0.1:9/events".into()),
        ("token", "tok".into()),
        ("aes_key", "a".repeat(43)),
    ])
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("paramError.url") && page.contains("check_url"), "{page}");
    let (status, page) = act(vec![
        ("action", "set_callback".into()),
        ("app_id", t.app_id.clone()),
        ("url", "http://127.0.0.1:9/events".into()),
        ("token", "tok".into()),
        ("aes_key", "short".into()),
    ])
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("paramError.aesKey"), "{page}");
    let (status, _) =
        s.admin("GET", &format!("/orgs/{}/apps/{}/eventCallback", t.corp_id, t.app_id), None).await;
    assert_ne!(status, 200, "no callback was kept");

    // Department members.
    let (_, dept) =
        s.admin("POST", &format!("/orgs/{}/depts", t.corp_id), Some(json!({"name": "Ops"}))).await;
    let dept_id = dept["deptId"].as_str().unwrap().to_string();
    let member = |action: &str, union_id: &str| {
        vec![
            ("action", action.to_string()),
            ("dept_id", dept_id.clone()),
            ("union_id", union_id.to_string()),
        ]
    };
    let (status, page) = act(member("add_member", &t.union_id)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Department members saved."), "{page}");
    let (_, members) =
        s.admin("GET", &format!("/orgs/{}/depts/{dept_id}/members", t.corp_id), None).await;
    assert_eq!(members["items"][0]["unionId"], t.union_id.as_str(), "{members}");
    let (status, page) = act(member("add_member", "nobody")).await;
    assert_eq!(status, 400, "{page}");
    let (status, page) = act(member("remove_member", &t.union_id)).await;
    assert_eq!(status, 200, "{page}");
    let (_, members) =
        s.admin("GET", &format!("/orgs/{}/depts/{dept_id}/members", t.corp_id), None).await;
    assert_eq!(members["items"].as_array().unwrap().len(), 0, "{members}");

    // The org's console app keeps its secret.
    set_password(&s, &t.corp_id, &t.union_id, PASSWORD).await;
    let person = signed_in(&s, &t.union_id, PASSWORD).await;
    assert_eq!(get(&s, "/console/spaces", &person).await.0, 200, "the console app is made");
    let console_app: String = rusqlite::Connection::open(dir.path().join("meta.sqlite"))
        .unwrap()
        .query_row("SELECT app_id FROM apps WHERE app_key LIKE 'console:%'", [], |r| r.get(0))
        .unwrap();
    let (status, _) =
        act(vec![("action", "rotate_secret".into()), ("app_id", console_app.clone())]).await;
    assert_eq!(status, 409);
    // ...and has no event settings an operator could not see on the page.
    let mut subscribe_console = subscribe("ORG", "", &t.union_id);
    subscribe_console[1].1 = console_app.clone();
    assert_eq!(act(subscribe_console).await.0, 409);
    let (status, _) =
        act(vec![("action", "remove_callback".into()), ("app_id", console_app)]).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn the_console_follows_the_browsers_language_and_the_switch() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let page = |lang: Option<&'static str>, cookie: Option<&'static str>| {
        let mut request = client().get(s.url("/console/sign-in"));
        if let Some(lang) = lang {
            request = request.header("accept-language", lang);
        }
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let english = page(None, None).await;
    assert!(english.contains("<html lang=\"en\">") && english.contains("Sign in"), "{english}");
    let chinese = page(Some("zh-CN,zh;q=0.9,en;q=0.8"), None).await;
    assert!(chinese.contains("<html lang=\"zh-CN\">") && chinese.contains("登录"), "{chinese}");
    let switched = page(Some("zh-CN"), Some("orgdrive_lang=en")).await;
    assert!(switched.contains("Sign in"));

    let response =
        client().get(s.url("/console/lang/zh-CN?back=/console/sign-in")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/console/sign-in");
    assert!(response.headers()["set-cookie"].to_str().unwrap().starts_with("orgdrive_lang=zh-CN"));
    let elsewhere =
        client().get(s.url("/console/lang/en?back=//evil.example/")).send().await.unwrap();
    assert_eq!(elsewhere.headers()["location"], "/console", "never sent to another site");
}
