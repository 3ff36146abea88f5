//! The WOPI host against the protocol: CheckFileInfo, GetFile, the lock
//! operations (lock, get, refresh, unlock, relock, conflicts with the
//! current lock in `X-WOPI-Lock`), PutFile (lock rules, a new version, the
//! quota), the operator's live role, bad tokens, racing LOCKs; and
//! GetWebOfficeUrl / RefreshWebOfficeToken over the real server.

mod common;

use common::*;
use orgdrive_server::Limits;
use serde_json::{json, Value};

const CLIENT: &str = "https://office.example/browser/x/cool.html?";

async fn start(dir: &std::path::Path) -> TestServer {
    let mut options = drive_options();
    options.wopi_client_url = Some(CLIENT.to_string());
    TestServer::start_custom(dir, Limits::default(), options).await
}

/// GetWebOfficeUrl for `union_id` (the space's user when `None`).
async fn office(sp: &Space<'_>, dentry_id: &str, union_id: Option<&str>) -> (u16, Value) {
    let union_id = union_id.unwrap_or(&sp.t.union_id);
    let path = format!(
        "/v1.0/storage/spaces/{}/dentries/{dentry_id}/webOfficeUrls?unionId={union_id}",
        sp.id
    );
    sp.s.call("GET", &path, Some(&sp.t.token), None).await
}

/// A WOPI access token of `union_id` for the file.
async fn wopi_token(sp: &Space<'_>, dentry_id: &str, union_id: Option<&str>) -> String {
    let (status, reply) = office(sp, dentry_id, union_id).await;
    assert_eq!(status, 200, "{reply}");
    reply["webOfficeAccessToken"].as_str().unwrap().to_string()
}

/// Uploads not yet committed or removed, read from the database.
async fn open_uploads(server: &TestServer) -> i64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let db =
        rusqlite::Connection::open_with_flags(server.data_dir.join("meta.sqlite"), flags).unwrap();
    db.query_row("SELECT COUNT(*) FROM uploads", [], |r| r.get(0)).unwrap()
}

struct Wopi<'a> {
    s: &'a TestServer,
    file: String,
    token: String,
}

impl Wopi<'_> {
    fn url(&self, tail: &str) -> String {
        self.s.url(&format!("/wopi/files/{}{tail}?access_token={}", self.file, self.token))
    }

    async fn info(&self) -> (u16, Value) {
        let response = self.s.http.get(self.url("")).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `POST /wopi/files/{id}` with these headers; (status, X-WOPI-Lock).
    async fn op(&self, headers: &[(&str, &str)]) -> (u16, Option<String>) {
        let mut request = self.s.http.post(self.url(""));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let lock = response.headers().get("x-wopi-lock").map(|v| v.to_str().unwrap().to_string());
        (response.status().as_u16(), lock)
    }

    async fn lock(&self, id: &str) -> (u16, Option<String>) {
        self.op(&[("X-WOPI-Override", "LOCK"), ("X-WOPI-Lock", id)]).await
    }

    async fn get_lock(&self) -> (u16, Option<String>) {
        self.op(&[("X-WOPI-Override", "GET_LOCK")]).await
    }

    /// PutFile; (status, X-WOPI-Lock, X-WOPI-ItemVersion).
    async fn put(
        &self,
        lock: Option<&str>,
        body: &'static [u8],
    ) -> (u16, Option<String>, Option<String>) {
        let mut request =
            self.s.http.post(self.url("/contents")).header("X-WOPI-Override", "PUT").body(body);
        if let Some(lock) = lock {
            request = request.header("X-WOPI-Lock", lock);
        }
        let response = request.send().await.unwrap();
        let header =
            |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
        (response.status().as_u16(), header("x-wopi-lock"), header("x-wopi-itemversion"))
    }

    async fn get_file(&self) -> (u16, Vec<u8>) {
        let response = self.s.http.get(self.url("/contents")).send().await.unwrap();
        (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
    }
}

async fn file_session<'a>(s: &'a TestServer, sp: &Space<'_>, data: &'static [u8]) -> Wopi<'a> {
    let file = sp.upload("report.docx", data).await;
    let file = file["id"].as_str().unwrap().to_string();
    let token = wopi_token(sp, &file, None).await;
    Wopi { s, file, token }
}

/// A second user of the space's org, with `role` on the file (none if `None`).
async fn member(sp: &Space<'_>, file: &str, role: Option<&str>) -> String {
    let (status, user) =
        sp.s.admin("POST", &format!("/orgs/{}/users", sp.t.corp_id), Some(json!({"name": "Bob"})))
            .await;
    assert_eq!(status, 200, "{user}");
    let union_id = user["unionId"].as_str().unwrap().to_string();
    if let Some(role) = role {
        grant(sp, file, &union_id, role).await;
    }
    union_id
}

async fn grant(sp: &Space<'_>, file: &str, union_id: &str, role: &str) {
    let body = json!({"roleId": role, "members": [{"type": "USER", "id": union_id}]});
    let (status, reply) = sp.post(&format!("/dentries/{file}/permissions"), body).await;
    assert_eq!(status, 200, "{reply}");
}

#[tokio::test]
async fn web_office_url_and_check_file_info() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let file = sp.upload("report.docx", b"hello office").await;
    let id = file["id"].as_str().unwrap();

    let (status, reply) = office(&sp, id, None).await;
    assert_eq!(status, 200, "{reply}");
    let token = reply["webOfficeAccessToken"].as_str().unwrap();
    let refresh = reply["webOfficeRefreshToken"].as_str().unwrap();
    assert!(token.len() >= 43 && refresh.len() >= 43 && token != refresh);
    let url = reply["webOfficeUrl"].as_str().unwrap();
    let src = format!("{}/wopi/files/{id}", s.base).replace(':', "%3A").replace('/', "%2F");
    assert!(url.starts_with(&format!("{CLIENT}WOPISrc={src}&access_token={token}&")), "{url}");
    assert!(url.contains("&access_token_ttl="), "{url}");

    let wopi = Wopi { s: &s, file: id.to_string(), token: token.to_string() };
    let (status, info) = wopi.info().await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["BaseFileName"], "report.docx");
    assert_eq!(info["Size"], 12);
    assert_eq!(info["Version"], "1");
    assert_eq!(info["OwnerId"], sp.t.union_id);
    assert_eq!(info["UserId"], sp.t.union_id);
    assert_eq!(info["UserFriendlyName"], "Ann");
    assert_eq!(info["UserCanWrite"], true);
    assert_eq!(info["UserCanNotWriteRelative"], true);
    assert_eq!(info["SupportsLocks"], true);
    assert_eq!(info["SupportsGetLock"], true);
    assert_eq!(info["SupportsUpdate"], true);
    assert!(info["LastModifiedTime"].as_str().unwrap().ends_with('Z'), "{info}");

    assert_eq!(wopi.get_file().await, (200, b"hello office".to_vec()));
    let small = s
        .http
        .get(wopi.url("/contents"))
        .header("X-WOPI-MaxExpectedSize", "5")
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 412);

    // A folder is not opened; an unknown file names dentryId.
    let (status, folder) = sp.post("/dentries/0/folders", json!({"name": "dir"})).await;
    assert_eq!(status, 200, "{folder}");
    let reply = office(&sp, folder["dentry"]["id"].as_str().unwrap(), None).await;
    assert_error(&reply, 400, "paramError.dentryId");
    assert_error(&office(&sp, "424242", None).await, 400, "paramError.dentryId");
    s.stop().await;
}

#[tokio::test]
async fn without_a_client_both_operations_answer_not_configured() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let file = sp.upload("a.docx", b"x").await;
    let id = file["id"].as_str().unwrap();
    assert_error(&office(&sp, id, None).await, 400, "webOfficeNotConfigured");
    let path = format!(
        "/v1.0/storage/spaces/{}/dentries/{id}/refreshWebOfficeToken?unionId={}\
         &webOfficeAccessToken=a&webOfficeRefreshToken=b",
        sp.id, sp.t.union_id
    );
    let reply = s.call("GET", &path, Some(&sp.t.token), None).await;
    assert_error(&reply, 400, "webOfficeNotConfigured");
    s.stop().await;
}

#[tokio::test]
async fn refresh_rotates_the_pair_and_a_replay_revokes_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let file = sp.upload("a.docx", b"x").await;
    let id = file["id"].as_str().unwrap();
    let (_, first) = office(&sp, id, None).await;
    let refresh = |access: &str, refresh: &str| {
        format!(
            "/v1.0/storage/spaces/{}/dentries/{id}/refreshWebOfficeToken?unionId={}\
             &webOfficeAccessToken={access}&webOfficeRefreshToken={refresh}",
            sp.id, sp.t.union_id
        )
    };
    let (a1, r1) = (
        first["webOfficeAccessToken"].as_str().unwrap(),
        first["webOfficeRefreshToken"].as_str().unwrap(),
    );
    // The pair must match.
    let (_, other) = office(&sp, id, None).await;
    let mixed = refresh(other["webOfficeAccessToken"].as_str().unwrap(), r1);
    assert_error(
        &s.call("GET", &mixed, Some(&sp.t.token), None).await,
        400,
        "paramError.webOfficeRefreshToken",
    );
    let missing = format!(
        "/v1.0/storage/spaces/{}/dentries/{id}/refreshWebOfficeToken?unionId={}&webOfficeRefreshToken={r1}",
        sp.id, sp.t.union_id
    );
    assert_error(
        &s.call("GET", &missing, Some(&sp.t.token), None).await,
        400,
        "paramError.webOfficeAccessToken",
    );

    let (status, second) = s.call("GET", &refresh(a1, r1), Some(&sp.t.token), None).await;
    assert_eq!(status, 200, "{second}");
    let (a2, r2) = (
        second["webOfficeAccessToken"].as_str().unwrap(),
        second["webOfficeRefreshToken"].as_str().unwrap(),
    );
    assert!(a2 != a1 && r2 != r1);
    let new = Wopi { s: &s, file: id.to_string(), token: a2.to_string() };
    assert_eq!(new.info().await.0, 200);
    // The old access token lives on (an open editor keeps it) ...
    let old = Wopi { s: &s, file: id.to_string(), token: a1.to_string() };
    assert_eq!(old.info().await.0, 200);
    // ... the old refresh token is dead, and its replay revokes the family.
    let reply = s.call("GET", &refresh(a1, r1), Some(&sp.t.token), None).await;
    assert_error(&reply, 400, "paramError.webOfficeRefreshToken");
    assert_eq!(old.info().await.0, 401);
    assert_eq!(new.info().await.0, 401);
    let reply = s.call("GET", &refresh(a2, r2), Some(&sp.t.token), None).await;
    assert_error(&reply, 400, "paramError.webOfficeRefreshToken");
    // Another session of the file is not touched.
    let unrelated = Wopi {
        s: &s,
        file: id.to_string(),
        token: other["webOfficeAccessToken"].as_str().unwrap().to_string(),
    };
    assert_eq!(unrelated.info().await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn the_lock_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let w = file_session(&s, &sp, b"content").await;

    assert_eq!(w.get_lock().await, (200, Some(String::new())));
    assert_eq!(w.lock("A").await.0, 200);
    assert_eq!(w.get_lock().await, (200, Some("A".into())));
    // Locking again with the same id refreshes; another id conflicts.
    assert_eq!(w.lock("A").await.0, 200);
    assert_eq!(w.lock("B").await, (409, Some("A".into())));
    let refresh = |id: &'static str| [("X-WOPI-Override", "REFRESH_LOCK"), ("X-WOPI-Lock", id)];
    assert_eq!(w.op(&refresh("A")).await.0, 200);
    assert_eq!(w.op(&refresh("B")).await, (409, Some("A".into())));
    let unlock = |id: &'static str| [("X-WOPI-Override", "UNLOCK"), ("X-WOPI-Lock", id)];
    assert_eq!(w.op(&unlock("B")).await, (409, Some("A".into())));
    // UnlockAndRelock: only from the current lock.
    let relock = |old: &'static str, new: &'static str| {
        [("X-WOPI-Override", "LOCK"), ("X-WOPI-Lock", new), ("X-WOPI-OldLock", old)]
    };
    assert_eq!(w.op(&relock("X", "C")).await, (409, Some("A".into())));
    assert_eq!(w.op(&relock("A", "C")).await.0, 200);
    assert_eq!(w.get_lock().await, (200, Some("C".into())));
    assert_eq!(w.op(&unlock("C")).await.0, 200);
    assert_eq!(w.get_lock().await, (200, Some(String::new())));
    // Unlocked: unlock, refresh and relock conflict with an empty X-WOPI-Lock.
    assert_eq!(w.op(&unlock("C")).await, (409, Some(String::new())));
    assert_eq!(w.op(&refresh("C")).await, (409, Some(String::new())));
    assert_eq!(w.op(&relock("C", "D")).await, (409, Some(String::new())));

    // Lock ids: 1 to 1024 characters.
    let long = "x".repeat(1025);
    assert_eq!(w.op(&[("X-WOPI-Override", "LOCK"), ("X-WOPI-Lock", &long)]).await.0, 400);
    let longest = "y".repeat(1024);
    assert_eq!(w.op(&[("X-WOPI-Override", "LOCK"), ("X-WOPI-Lock", &longest)]).await.0, 200);
    assert_eq!(w.get_lock().await, (200, Some(longest.clone())));
    assert_eq!(w.op(&[("X-WOPI-Override", "LOCK")]).await.0, 400);
    // Not offered: 501; no override: 400.
    for op in ["PUT_RELATIVE", "RENAME_FILE", "DELETE", "PUT_USER_INFO"] {
        assert_eq!(w.op(&[("X-WOPI-Override", op)]).await.0, 501, "{op}");
    }
    assert_eq!(w.op(&[]).await.0, 400);
    s.stop().await;
}

#[tokio::test]
async fn put_file_follows_the_lock_and_makes_a_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let w = file_session(&s, &sp, b"version one").await;

    // Unlocked and not empty: refused, nothing stored.
    assert_eq!(w.put(None, b"sneaky").await, (409, Some(String::new()), None));
    assert_eq!(w.lock("L").await.0, 200);
    // Without the lock, or with another: refused, the current lock answered.
    assert_eq!(w.put(None, b"sneaky").await.0, 409);
    assert_eq!(w.put(Some("M"), b"sneaky").await, (409, Some("L".into()), None));
    assert_eq!(reserved_bytes(&s, &sp.id).await, 0);
    assert_eq!(open_uploads(&s).await, 0);

    let (status, _, version) = w.put(Some("L"), b"version two!").await;
    assert_eq!(status, 200);
    assert_eq!(version.as_deref(), Some("2"));
    assert_eq!(w.get_file().await, (200, b"version two!".to_vec()));
    let (_, info) = w.info().await;
    assert_eq!((info["Size"].clone(), info["Version"].clone()), (json!(12), json!("2")));
    // A new version through the storage API too: the old one is history.
    assert_eq!(sp.download(&w.file).await, b"version two!");
    let path = format!(
        "/v1.0/storage/spaces/{}/dentries/{}/versions?unionId={}",
        sp.id, w.file, sp.t.union_id
    );
    let (status, versions) = s.call("GET", &path, Some(&sp.t.token), None).await;
    assert_eq!(status, 200, "{versions}");
    let listed = versions["dentries"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{versions}");
    assert_eq!(listed[0]["version"], 1);
    assert_eq!(listed[0]["size"], 11);
    assert_eq!(reserved_bytes(&s, &sp.id).await, 0);
    let (status, space) = s
        .call(
            "GET",
            &format!("/v1.0/storage/spaces/{}?unionId={}", sp.id, sp.t.union_id),
            Some(&sp.t.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{space}");
    assert_eq!(space["space"]["usedQuota"], 23, "{space}");

    // An empty file may be written without a lock (a new document).
    let empty = file_session(&s, &sp, b"").await;
    assert_eq!(empty.get_file().await, (200, Vec::new()));
    assert_eq!(empty.info().await.1["Size"], 0);
    assert_eq!(empty.put(None, b"first words").await.0, 200);
    assert_eq!(empty.get_file().await.1, b"first words");
    // Whatever lock id it names (WOPI: unlocked and empty means go ahead).
    let empty = file_session(&s, &sp, b"").await;
    assert_eq!(empty.put(Some("no-such-lock"), b"more words").await.0, 200);
    // Not empty any more: unlocked, it is refused.
    assert_eq!(empty.put(Some("no-such-lock"), b"again").await, (409, Some(String::new()), None));
    s.stop().await;
}

#[tokio::test]
async fn put_file_counts_against_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let sp = Space::new(&s, Some(20)).await;
    let w = file_session(&s, &sp, b"0123456789").await;
    assert_eq!(w.lock("L").await.0, 200);
    let objects = stored_objects(dir.path());
    assert_eq!(w.put(Some("L"), b"0123456789abcdef").await.0, 413);
    assert_eq!(w.get_file().await.1, b"0123456789");
    // Nothing left behind: no reservation, no upload, no object.
    assert_eq!(reserved_bytes(&s, &sp.id).await, 0);
    assert_eq!(open_uploads(&s).await, 0);
    assert_eq!(stored_objects(dir.path()), objects);
    assert_eq!(w.put(Some("L"), b"0123456789").await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn the_live_role_decides() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let file = sp.upload("shared.docx", b"shared").await;
    let id = file["id"].as_str().unwrap().to_string();

    // READER may not open the content.
    let reader = member(&sp, &id, Some("READER")).await;
    assert_error(&office(&sp, &id, Some(&reader)).await, 403, "permissionDenied");

    // DOWNLOADER reads but may not write: PutFile and LOCK are refused.
    let bob = member(&sp, &id, Some("DOWNLOADER")).await;
    let w = Wopi { s: &s, file: id.clone(), token: wopi_token(&sp, &id, Some(&bob)).await };
    let (status, info) = w.info().await;
    assert_eq!(status, 200);
    assert_eq!(info["UserCanWrite"], false);
    assert_eq!(info["UserId"], bob);
    assert_eq!(w.get_file().await, (200, b"shared".to_vec()));
    assert_eq!(w.lock("B").await.0, 404);
    assert_eq!(w.put(None, b"nope").await.0, 404);
    assert_eq!(w.get_lock().await.0, 200);

    // EDITOR (granted now) writes with the same token.
    grant(&sp, &id, &bob, "EDITOR").await;
    assert_eq!(w.info().await.1["UserCanWrite"], true);
    assert_eq!(w.lock("B").await.0, 200);
    assert_eq!(w.put(Some("B"), b"edited").await.0, 200);

    // Revoked: the token stops working at once.
    let body = json!({"roleId": "EDITOR", "members": [{"type": "USER", "id": bob}]});
    let (status, reply) = sp.post(&format!("/dentries/{id}/permissions/remove"), body).await;
    assert_eq!(status, 200, "{reply}");
    let body = json!({"roleId": "DOWNLOADER", "members": [{"type": "USER", "id": bob}]});
    let (status, reply) = sp.post(&format!("/dentries/{id}/permissions/remove"), body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(w.info().await.0, 401);
    assert_eq!(w.put(Some("B"), b"late").await.0, 401);
    assert_eq!(sp.download(&id).await, b"edited");
    s.stop().await;
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let a = file_session(&s, &sp, b"a").await;
    let b = file_session(&s, &sp, b"b").await;
    for token in ["", "nonsense", &"A".repeat(43)] {
        let w = Wopi { s: &s, file: a.file.clone(), token: token.to_string() };
        assert_eq!(w.info().await.0, 401, "{token}");
        assert_eq!(w.get_file().await.0, 401);
        assert_eq!(w.lock("L").await.0, 401);
        assert_eq!(w.put(None, b"x").await.0, 401);
    }
    let no_token = s.http.get(s.url(&format!("/wopi/files/{}", a.file))).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    // A token is for its file only.
    let crossed = Wopi { s: &s, file: b.file.clone(), token: a.token.clone() };
    assert_eq!(crossed.info().await.0, 401);
    assert_eq!(crossed.get_file().await.0, 401);
    // A user who is gone takes their tokens along.
    let bob = member(&sp, &a.file, Some("EDITOR")).await;
    let bobs =
        Wopi { s: &s, file: a.file.clone(), token: wopi_token(&sp, &a.file, Some(&bob)).await };
    assert_eq!(bobs.info().await.0, 200);
    let (status, reply) =
        s.admin("DELETE", &format!("/orgs/{}/users/{bob}", sp.t.corp_id), None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(bobs.info().await.0, 401);
    // The storage API's access token is no WOPI token.
    let app = Wopi { s: &s, file: a.file.clone(), token: sp.t.token.clone() };
    assert_eq!(app.info().await.0, 401);
    // A deleted file is gone for WOPI.
    let path =
        format!("/v1.0/storage/spaces/{}/dentries/{}?unionId={}", sp.id, a.file, sp.t.union_id);
    let (status, reply) = s.call("DELETE", &path, Some(&sp.t.token), None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(a.info().await.0, 404);
    assert_eq!(b.info().await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn two_racing_locks_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    for round in 0..20 {
        let w = file_session(&s, &sp, b"race").await;
        let (x, y) = tokio::join!(w.lock("X"), w.lock("Y"));
        let mut statuses = [x.0, y.0];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}: {x:?} {y:?}");
        let winner = if x.0 == 200 { "X" } else { "Y" };
        let loser = if x.0 == 200 { y } else { x };
        assert_eq!(loser.1.as_deref(), Some(winner), "round {round}");
        assert_eq!(w.get_lock().await, (200, Some(winner.to_string())));
    }
    s.stop().await;
}
