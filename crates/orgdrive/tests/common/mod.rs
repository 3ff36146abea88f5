//! Test harness: the real server (SQLite file + OpenDAL fs blobs in a temp
//! dir) on a random loopback port, and a small HTTP client for it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use orgdrive_blob::BlobStore;
use orgdrive_core::{Drive, DriveOptions};
use orgdrive_server::{router, serve, Limits, ServerState};
use orgdrive_sqlite::{SqliteOptions, SqliteStore};
use orgdrive_store::MaintenanceStore;
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub const ADMIN_TOKEN: &str = "test-admin-token-of-at-least-32-bytes";
/// The token that may read `/metrics` (and nothing else).
pub const METRICS_TOKEN: &str = "test-metrics-token-of-at-least-32-bytes";
pub const SIGNING_KEY: &[u8] = b"test-signing-key-of-at-least-32-bytes";

/// The drive settings tests run with by default.
pub fn drive_options() -> DriveOptions {
    let mut options = DriveOptions::new(SIGNING_KEY);
    // Tests run on machines with little free disk, too.
    options.min_free_disk_bytes = 0;
    options
}

/// A running server over a data dir.
pub struct TestServer {
    pub base: String,
    pub data_dir: PathBuf,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    meta: SqliteStore,
}

impl TestServer {
    /// Starts a server on `data_dir` (created if missing).
    pub async fn start(data_dir: &Path) -> TestServer {
        TestServer::start_with(data_dir, Limits::default()).await
    }

    /// Starts a server with these connection limits.
    pub async fn start_with(data_dir: &Path, limits: Limits) -> TestServer {
        TestServer::start_custom(data_dir, limits, drive_options()).await
    }

    /// Starts a server with these connection limits and drive settings.
    pub async fn start_custom(
        data_dir: &Path,
        limits: Limits,
        options: DriveOptions,
    ) -> TestServer {
        std::fs::create_dir_all(data_dir).unwrap();
        let meta = SqliteStore::open(&data_dir.join("meta.sqlite"), &SqliteOptions::default())
            .await
            .unwrap();
        let blob = BlobStore::filesystem(&data_dir.join("blobs"), true).unwrap();
        let drive = Drive::new(Arc::new(meta.clone()), blob, options).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let state = ServerState::new(drive, ADMIN_TOKEN).with_metrics_token(Some(METRICS_TOKEN));
        let app = router(state.with_limits(limits));
        let task = tokio::spawn(async move {
            serve(listener, app, limits, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            base,
            data_dir: data_dir.to_path_buf(),
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
            meta,
        }
    }

    /// Stops the server gracefully and closes its database.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.meta.close().await;
    }

    /// Closes the metadata store under the running server (a store gone away).
    pub async fn close_store(&self) {
        self.meta.close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// An admin API call; returns (status, JSON body).
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), self.url(&format!("/admin/v1{path}")))
            .bearer_auth(ADMIN_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// A storage/oauth2 call with an optional token and raw body; returns (status, JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(token) = token {
            request = request.header("x-acs-dingtalk-access-token", token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("non-JSON body ({e}) for {method} {path}: {text:?}"));
        (status, value)
    }
}

/// An org with an app (given scopes) and a user, plus a token for the app.
pub struct Tenant {
    pub corp_id: String,
    pub app_id: String,
    pub app_key: String,
    pub app_secret: String,
    pub union_id: String,
    pub token: String,
}

pub async fn tenant(server: &TestServer, scopes: &[&str], capacity: Option<i64>) -> Tenant {
    let (status, org) =
        server.admin("POST", "/orgs", Some(json!({"name": "Acme", "capacity": capacity}))).await;
    assert_eq!(status, 200, "{org}");
    let corp_id = org["corpId"].as_str().unwrap().to_string();
    let (status, app) = server
        .admin(
            "POST",
            &format!("/orgs/{corp_id}/apps"),
            Some(json!({"name": "App", "scopes": scopes})),
        )
        .await;
    assert_eq!(status, 200, "{app}");
    let (status, user) = server
        .admin(
            "POST",
            &format!("/orgs/{corp_id}/users"),
            Some(json!({"name": "Ann", "orgAdmin": true})),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    let app_key = app["appKey"].as_str().unwrap().to_string();
    let app_secret = app["appSecret"].as_str().unwrap().to_string();
    let token = access_token(server, &app_key, &app_secret).await;
    Tenant {
        corp_id,
        app_id: app["appId"].as_str().unwrap().to_string(),
        app_key,
        app_secret,
        union_id: user["unionId"].as_str().unwrap().to_string(),
        token,
    }
}

pub async fn access_token(server: &TestServer, app_key: &str, app_secret: &str) -> String {
    let body = json!({"appKey": app_key, "appSecret": app_secret}).to_string();
    let (status, reply) = server.call("POST", "/v1.0/oauth2/accessToken", None, Some(&body)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["expireIn"], 7200);
    reply["accessToken"].as_str().unwrap().to_string()
}

/// Every scope orgdrive knows (what `--all-scopes` grants).
pub static ALL_SCOPES: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    orgdrive_core::Scope::ALL.iter().map(|scope| scope.as_str()).collect()
});

/// A blob route's error answer as (status, body), after checking that the
/// `x-acs-request-id` header is the body's `requestid`.
pub async fn error_reply(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let header =
        response.headers().get("x-acs-request-id").map(|v| v.to_str().unwrap().to_string());
    let body: Value = response.json().await.unwrap();
    assert_eq!(header.as_deref(), body["requestid"].as_str(), "{body}");
    (status, body)
}

/// Asserts a DingTalk error body with this status and code.
pub fn assert_error(reply: &(u16, Value), status: u16, code: &str) {
    assert_eq!(reply.0, status, "{}", reply.1);
    assert_eq!(reply.1["code"], code, "{}", reply.1);
    assert!(reply.1["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", reply.1);
    assert!(reply.1["requestid"].as_str().is_some_and(|r| r.len() == 32), "{}", reply.1);
}

/// A space of a fresh tenant, with helpers for its API calls.
pub struct Space<'a> {
    pub s: &'a TestServer,
    pub t: Tenant,
    pub id: String,
}

impl<'a> Space<'a> {
    pub async fn new(s: &'a TestServer, quota: Option<i64>) -> Space<'a> {
        let t = tenant(s, &ALL_SCOPES, None).await;
        let body = json!({"option": {"quota": quota}}).to_string();
        let (status, reply) = s
            .call(
                "POST",
                &format!("/v1.0/storage/spaces?unionId={}", t.union_id),
                Some(&t.token),
                Some(&body),
            )
            .await;
        assert_eq!(status, 200, "{reply}");
        let id = reply["space"]["id"].as_str().unwrap().to_string();
        Space { s, t, id }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let url = format!("/v1.0/storage/spaces/{}{path}?unionId={}", self.id, self.t.union_id);
        self.s.call("POST", &url, Some(&self.t.token), Some(&body.to_string())).await
    }

    pub async fn upload_url(&self) -> (String, String) {
        let (status, info) = self
            .post(
                "/files/uploadInfos/query",
                json!({"protocol": "HEADER_SIGNATURE", "multipart": false}),
            )
            .await;
        assert_eq!(status, 200, "{info}");
        let url = info["headerSignatureInfo"]["resourceUrls"][0].as_str().unwrap().to_string();
        (info["uploadKey"].as_str().unwrap().to_string(), url)
    }

    pub async fn put(&self, url: &str, body: impl AsRef<[u8]>) -> u16 {
        self.s.http.put(url).body(body.as_ref().to_vec()).send().await.unwrap().status().as_u16()
    }

    /// The bytes of a file, through GetFileDownloadInfo and its signed URL.
    pub async fn download(&self, dentry_id: &str) -> Vec<u8> {
        let (status, info) =
            self.post(&format!("/dentries/{dentry_id}/downloadInfos/query"), json!({})).await;
        assert_eq!(status, 200, "{info}");
        let url = info["headerSignatureInfo"]["resourceUrls"][0].as_str().unwrap();
        let response = self.s.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap().to_vec()
    }

    /// The three-step upload of `data` as `name` in the root; returns the dentry.
    pub async fn upload(&self, name: &str, data: &'static [u8]) -> Value {
        let (key, url) = self.upload_url().await;
        assert_eq!(self.put(&url, data).await, 200);
        self.commit(&key, name).await
    }

    /// As [`Space::upload`], the PUT's body streamed without a length: its
    /// content is written to the content store (`blobs/`) whatever its size,
    /// never kept inline in the metadata store.
    pub async fn upload_streamed(&self, name: &str, data: &'static [u8]) -> Value {
        let (key, url) = self.upload_url().await;
        let chunks = data.chunks(1000).map(|c| Ok::<_, std::io::Error>(c.to_vec()));
        let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks.collect::<Vec<_>>()));
        let response = self.s.http.put(&url).body(body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        self.commit(&key, name).await
    }

    async fn commit(&self, key: &str, name: &str) -> Value {
        let body = json!({"uploadKey": key, "name": name, "parentId": "0"});
        let (status, reply) = self.post("/files/commit", body).await;
        assert_eq!(status, 200, "{reply}");
        reply["dentry"].clone()
    }
}

/// Every object the server on `data_dir` stores: each file under `blobs/`
/// (relative to it), and `inline:<key>` for each object kept in
/// `meta.sqlite`; sorted.
pub fn stored_objects(data_dir: &Path) -> Vec<String> {
    let mut objects = files_under(&data_dir.join("blobs"));
    let db = rusqlite::Connection::open(data_dir.join("meta.sqlite")).unwrap();
    let mut keys = db.prepare("SELECT object_key FROM inline_objects").unwrap();
    let inline = keys.query_map([], |r| r.get::<_, String>(0)).unwrap();
    objects.extend(inline.map(|k| format!("inline:{}", k.unwrap())));
    objects.sort();
    objects
}

/// Every regular file under `dir`, relative, sorted (directories are skipped).
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                found.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, &mut found);
    found.sort();
    found
}

/// The bytes a space holds reserved for uploads in flight, read from the database.
pub async fn reserved_bytes(server: &TestServer, space_id: &str) -> i64 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let db =
        rusqlite::Connection::open_with_flags(server.data_dir.join("meta.sqlite"), flags).unwrap();
    db.query_row("SELECT reserved_bytes FROM spaces WHERE space_id = ?1", [space_id], |r| r.get(0))
        .unwrap()
}
