//! The DingTalk Storage API v1.0 as the client calls it: GetAccessToken
//! with a token cache, one `call` that every operation goes through
//! (operator `unionId`, the token header, DingTalk error bodies, retries),
//! and the signed-URL transfers (PUT of a part, GET of a file).
//!
//! Retries: with exponential backoff and jitter, up to [`ATTEMPTS`] tries, on
//! a 5xx, 429, `operationTimeout` or throttling answer, and on a request that
//! never reached the server. A request that was sent but got no answer is
//! tried again only when it is idempotent (reads, signed-URL PUTs of the same
//! bytes), since the server may have acted on it.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{ClientError, Result};
use crate::model::*;
use crate::profile::{write_private, Credentials, Flush};

/// Tries of one request (the first and the retries).
pub const ATTEMPTS: u32 = 5;
/// A cached token is used until this long before it expires.
const TOKEN_MARGIN_SECS: i64 = 300;

/// Whether a request may be sent again after it got no answer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    Safe,
    OnlyIfUnsent,
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct CachedToken {
    access_token: String,
    expires_at: i64,
}

pub struct Api {
    http: reqwest::Client,
    pub creds: Credentials,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    token_file: PathBuf,
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The pause before retry `attempt` (1-based): 200 ms doubling, at most 5 s,
/// with up to half of it again at random.
pub fn backoff(attempt: u32) -> Duration {
    let base = 200u64.saturating_mul(1 << attempt.min(5).saturating_sub(1)).min(5000);
    Duration::from_millis(base + rand::random_range(0..=base / 2))
}

impl Api {
    pub fn new(creds: Credentials, state_dir: PathBuf) -> Result<Api> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .user_agent(concat!("odc/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry the app secret or the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Api {
            http,
            creds,
            token: tokio::sync::Mutex::new(None),
            token_file: state_dir.join("tokens.json"),
        })
    }

    /// The cache key of the app's token: endpoint, appKey and a short hash
    /// of the secret, so that a token got with an old secret is not reused.
    fn token_key(&self) -> String {
        use sha2::Digest;
        let secret = sha2::Sha256::digest(self.creds.app_secret.as_bytes());
        format!("{} {} {}", self.creds.endpoint, self.creds.app_key, hex::encode(&secret[..6]))
    }

    fn read_token_cache(&self) -> serde_json::Map<String, Value> {
        std::fs::read(&self.token_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// The app's access token: from memory, from the cache file, or from
    /// GetAccessToken (then cached, readable by the user only).
    async fn token(&self, renew: bool) -> Result<String> {
        let mut held = self.token.lock().await;
        let fresh = |t: &CachedToken| t.expires_at - TOKEN_MARGIN_SECS > now_secs();
        if !renew {
            if let Some(t) = held.as_ref().filter(|t| fresh(t)) {
                return Ok(t.access_token.clone());
            }
            let cached = self.read_token_cache().remove(&self.token_key());
            if let Some(t) = cached.and_then(|v| serde_json::from_value::<CachedToken>(v).ok()) {
                if fresh(&t) {
                    *held = Some(t.clone());
                    return Ok(t.access_token);
                }
            }
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct TokenAnswer {
            access_token: String,
            expire_in: i64,
        }
        let body = json!({"appKey": self.creds.app_key, "appSecret": self.creds.app_secret});
        let url = format!("{}/v1.0/oauth2/accessToken", self.creds.endpoint);
        let answer: TokenAnswer =
            self.send(|| self.http.post(&url).json(&body), Replay::Safe).await?;
        let token = CachedToken {
            access_token: answer.access_token,
            expires_at: now_secs() + answer.expire_in,
        };
        let mut cache = self.read_token_cache();
        cache.retain(|_, v| v.get("expiresAt").and_then(Value::as_i64).unwrap_or(0) > now_secs());
        cache.insert(self.token_key(), serde_json::to_value(&token)?);
        // A cache that cannot be written only costs a token request next time.
        let _ = write_private(&self.token_file, &serde_json::to_vec(&cache)?, Flush::Cached);
        *held = Some(token.clone());
        Ok(token.access_token)
    }

    /// Sends the request `build` makes, with the retries of the module doc,
    /// and reads a JSON answer (or the DingTalk error it carries).
    async fn send<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> RequestBuilder,
        replay: Replay,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match build().timeout(Duration::from_secs(120)).send().await {
                Ok(response) => read_answer(response).await,
                // Sent, perhaps acted on, no answer: not again unless harmless.
                Err(e) if !e.is_connect() && replay == Replay::OnlyIfUnsent => return Err(e.into()),
                Err(e) => Err(e.into()),
            };
            match outcome {
                Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt)).await
                }
                other => return other,
            }
        }
    }

    /// One storage operation: `path` under the endpoint, the operator's
    /// `unionId` added to `query`, `body` as JSON (none: no body at all).
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
        replay: Replay,
    ) -> Result<T> {
        let url = format!("{}{path}", self.creds.endpoint);
        let mut renewed = false;
        loop {
            let token = self.token(renewed).await?;
            let build = || {
                let mut request = self
                    .http
                    .request(method.clone(), &url)
                    .query(&[("unionId", self.creds.union_id.as_str())])
                    .query(query)
                    .header("x-acs-dingtalk-access-token", &token);
                if let Some(body) = &body {
                    request = request.json(body);
                }
                request
            };
            match self.send(build, replay).await {
                // A token revoked early (a rotated secret): one new token, once.
                Err(ClientError::Api { status: 401, .. }) if !renewed => renewed = true,
                other => return other,
            }
        }
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Value,
        replay: Replay,
    ) -> Result<T> {
        self.call(Method::POST, path, &[], Some(body), replay).await
    }

    // ---- spaces ------------------------------------------------------------

    pub async fn add_space(&self, option: Value) -> Result<Space> {
        #[derive(Deserialize)]
        struct Answer {
            space: Space,
        }
        // AddSpace is idempotent on scene + sceneId; without them it is not.
        let replay =
            if option.get("sceneId").is_some() { Replay::Safe } else { Replay::OnlyIfUnsent };
        let a: Answer =
            self.post("/v1.0/storage/spaces", json!({"option": option}), replay).await?;
        Ok(a.space)
    }

    pub async fn get_space(&self, space_id: &str) -> Result<Space> {
        #[derive(Deserialize)]
        struct Answer {
            space: Space,
        }
        let path = format!("/v1.0/storage/spaces/{}", seg(space_id));
        let a: Answer = self.call(Method::GET, &path, &[], None, Replay::Safe).await?;
        Ok(a.space)
    }

    // ---- dentries ----------------------------------------------------------

    pub async fn get_dentry(&self, space_id: &str, dentry_id: &str) -> Result<Dentry> {
        let path =
            format!("/v1.0/storage/spaces/{}/dentries/{}/query", seg(space_id), seg(dentry_id));
        let a: DentryAnswer = self.post(&path, json!({}), Replay::Safe).await?;
        Ok(a.dentry)
    }

    /// One page of a folder's children (50 at most), by name.
    pub async fn list_page(
        &self,
        space_id: &str,
        parent_id: &str,
        next: Option<&str>,
    ) -> Result<DentryPage> {
        let path = format!("/v1.0/storage/spaces/{}/dentries", seg(space_id));
        let mut query = vec![
            ("parentId", parent_id),
            ("maxResults", "50"),
            ("orderBy", "NAME"),
            ("order", "ASC"),
        ];
        if let Some(token) = next {
            query.push(("nextToken", token));
        }
        self.call(Method::GET, &path, &query, None, Replay::Safe).await
    }

    /// Every child of a folder (all pages).
    pub async fn list_all(&self, space_id: &str, parent_id: &str) -> Result<Vec<Dentry>> {
        let mut all = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self.list_page(space_id, parent_id, next.as_deref()).await?;
            all.extend(page.dentries);
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(t) => next = Some(t),
                None => return Ok(all),
            }
        }
    }

    /// AddFolder, answering the existing folder when one has the name.
    pub async fn make_folder(&self, space_id: &str, parent_id: &str, name: &str) -> Result<Dentry> {
        let path =
            format!("/v1.0/storage/spaces/{}/dentries/{}/folders", seg(space_id), seg(parent_id));
        let body = json!({"name": name, "option": {"conflictStrategy": "RETURN_DENTRY_IF_EXISTS"}});
        let a: DentryAnswer = self.post(&path, body, Replay::Safe).await?;
        Ok(a.dentry)
    }

    pub async fn rename(&self, space_id: &str, dentry_id: &str, new_name: &str) -> Result<Dentry> {
        let path =
            format!("/v1.0/storage/spaces/{}/dentries/{}/rename", seg(space_id), seg(dentry_id));
        let a: DentryAnswer = self.post(&path, json!({"newName": new_name}), Replay::Safe).await?;
        Ok(a.dentry)
    }

    /// MoveDentry or CopyDentry (`action` "move" or "copy") into a folder.
    pub async fn relocate(
        &self,
        action: &str,
        space_id: &str,
        dentry_id: &str,
        target_space: &str,
        target_folder: &str,
        conflict: &str,
    ) -> Result<Landing> {
        let path =
            format!("/v1.0/storage/spaces/{}/dentries/{}/{action}", seg(space_id), seg(dentry_id));
        let body = json!({
            "targetSpaceId": target_space,
            "targetFolderId": target_folder,
            "option": {"conflictStrategy": conflict},
        });
        self.post(&path, body, Replay::OnlyIfUnsent).await
    }

    pub async fn delete(&self, space_id: &str, dentry_id: &str, to_bin: bool) -> Result<()> {
        let path = format!("/v1.0/storage/spaces/{}/dentries/{}", seg(space_id), seg(dentry_id));
        let query = [("toRecycleBin", if to_bin { "true" } else { "false" })];
        let _: Value = self.call(Method::DELETE, &path, &query, None, Replay::Safe).await?;
        Ok(())
    }

    /// Waits for an async task (a folder copy, move or restore) to finish.
    pub async fn wait_task(&self, task_id: &str) -> Result<Task> {
        #[derive(Deserialize)]
        struct Answer {
            task: Task,
        }
        let path = format!("/v1.0/storage/tasks/{}", seg(task_id));
        let mut pause = Duration::from_millis(50);
        loop {
            let a: Answer = self.call(Method::GET, &path, &[], None, Replay::Safe).await?;
            match a.task.status.as_str() {
                "SUCCESS" => return Ok(a.task),
                "FAIL" => {
                    return Err(ClientError::Api {
                        status: 200,
                        code: a.task.fail_message.clone().unwrap_or_else(|| "taskFailed".into()),
                        message: format!("task {task_id} failed"),
                        requestid: String::new(),
                    })
                }
                _ => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    pub async fn set_properties(
        &self,
        space_id: &str,
        dentry_id: &str,
        props: &[(&str, &str)],
    ) -> Result<()> {
        let path = format!(
            "/v1.0/storage/spaces/{}/dentries/{}/appProperties",
            seg(space_id),
            seg(dentry_id)
        );
        let list: Vec<Value> = props
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v, "visibility": "PRIVATE"}))
            .collect();
        let _: Value = self
            .call(Method::PUT, &path, &[], Some(json!({"appProperties": list})), Replay::Safe)
            .await?;
        Ok(())
    }

    // ---- versions ----------------------------------------------------------

    pub async fn versions(&self, space_id: &str, dentry_id: &str) -> Result<Vec<Dentry>> {
        let path =
            format!("/v1.0/storage/spaces/{}/dentries/{}/versions", seg(space_id), seg(dentry_id));
        let mut all = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut query = vec![("maxResults", "100")];
            if let Some(t) = next.as_deref() {
                query.push(("nextToken", t));
            }
            let page: DentryPage =
                self.call(Method::GET, &path, &query, None, Replay::Safe).await?;
            all.extend(page.dentries);
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(t) => next = Some(t),
                None => return Ok(all),
            }
        }
    }

    pub async fn revert(&self, space_id: &str, dentry_id: &str, version: i64) -> Result<()> {
        let path = format!(
            "/v1.0/storage/spaces/{}/dentries/{}/versions/{version}/revert",
            seg(space_id),
            seg(dentry_id)
        );
        let _: Value = self.call(Method::POST, &path, &[], None, Replay::OnlyIfUnsent).await?;
        Ok(())
    }

    // ---- transfers ---------------------------------------------------------

    /// GetFileUploadInfo for one PUT of `size` bytes named `name` in `parent`.
    pub async fn upload_info(
        &self,
        space_id: &str,
        parent_id: &str,
        name: &str,
        size: u64,
    ) -> Result<UploadInfo> {
        let path = format!("/v1.0/storage/spaces/{}/files/uploadInfos/query", seg(space_id));
        let body = json!({
            "protocol": "HEADER_SIGNATURE",
            "multipart": false,
            "option": {"preCheckParam": {"name": name, "parentId": parent_id, "size": size}},
        });
        self.post(&path, body, Replay::Safe).await
    }

    pub async fn init_multipart(
        &self,
        space_id: &str,
        parent_id: &str,
        name: &str,
        size: u64,
    ) -> Result<String> {
        let path =
            format!("/v1.0/storage/spaces/{}/files/multiPartUploadInfos/init", seg(space_id));
        let body = json!({"option": {"preCheckParam": {"name": name, "parentId": parent_id, "size": size}}});
        let a: UploadInfo = self.post(&path, body, Replay::Safe).await?;
        Ok(a.upload_key)
    }

    pub async fn part_urls(&self, upload_key: &str, parts: &[i64]) -> Result<Vec<PartInfo>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            multipart_header_signature_infos: Vec<PartInfo>,
        }
        let body = json!({"uploadKey": upload_key, "partNumbers": parts});
        let a: Answer = self
            .post("/v1.0/storage/spaces/files/multiPartUploadInfos/query", body, Replay::Safe)
            .await?;
        Ok(a.multipart_header_signature_infos)
    }

    /// CommitFile of a finished upload as `name` in `parent`, with the
    /// client's own app properties.
    pub async fn commit(
        &self,
        target: &Target<'_>,
        upload_key: &str,
        size: u64,
        props: &[(&str, &str)],
    ) -> Result<Dentry> {
        let path = format!("/v1.0/storage/spaces/{}/files/commit", seg(target.space_id));
        let props: Vec<Value> = props
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v, "visibility": "PRIVATE"}))
            .collect();
        let body = json!({
            "uploadKey": upload_key,
            "name": target.name,
            "parentId": target.parent_id,
            "option": {"size": size, "conflictStrategy": target.conflict, "appProperties": props},
        });
        let a: DentryAnswer = self.post(&path, body, Replay::OnlyIfUnsent).await?;
        Ok(a.dentry)
    }

    pub async fn download_info(
        &self,
        space_id: &str,
        dentry_id: &str,
        version: Option<i64>,
    ) -> Result<HeaderSignatureInfo> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            header_signature_info: HeaderSignatureInfo,
        }
        let path = format!(
            "/v1.0/storage/spaces/{}/dentries/{}/downloadInfos/query",
            seg(space_id),
            seg(dentry_id)
        );
        let option = match version {
            Some(v) => json!({"version": v}),
            None => json!({}),
        };
        let a: Answer = self.post(&path, json!({"option": option}), Replay::Safe).await?;
        Ok(a.header_signature_info)
    }

    /// PUTs bytes on a signed URL (upload), retrying transient failures.
    pub async fn put_signed(&self, info: &HeaderSignatureInfo, bytes: Bytes) -> Result<()> {
        self.send_signed(reqwest::Method::PUT, info, Some(bytes)).await.map(drop)
    }

    /// GETs a signed URL (download), retrying until an answer starts.
    pub async fn get_signed(&self, info: &HeaderSignatureInfo) -> Result<Response> {
        self.send_signed(reqwest::Method::GET, info, None).await
    }

    /// Sends a request to a signed URL with the headers it was signed with;
    /// retries transient failures until a successful answer starts.
    async fn send_signed(
        &self,
        method: reqwest::Method,
        info: &HeaderSignatureInfo,
        body: Option<Bytes>,
    ) -> Result<Response> {
        let url =
            info.url().ok_or_else(|| ClientError::Network("a signed info without a URL".into()))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.http.request(method.clone(), url);
            if let Some(bytes) = &body {
                request = request.body(bytes.clone());
            }
            for (k, v) in &info.headers {
                request = request.header(k, v);
            }
            let error = match request.send().await {
                Ok(r) if r.status().is_success() => return Ok(r),
                Ok(r) => signed_refusal(r).await,
                Err(e) => ClientError::from(e),
            };
            if !error.is_transient() || attempt >= ATTEMPTS {
                return Err(error);
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    // ---- recycle bin and grants --------------------------------------------

    pub async fn space_bin(&self, space_id: &str) -> Result<String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Answer {
            recycle_bin: Bin,
        }
        #[derive(Deserialize)]
        struct Bin {
            id: String,
        }
        let query = [("recycleBinScope", "SPACE"), ("scopeId", space_id)];
        let a: Answer =
            self.call(Method::GET, "/v1.0/storage/recycleBins", &query, None, Replay::Safe).await?;
        Ok(a.recycle_bin.id)
    }

    pub async fn bin_items(&self, bin_id: &str) -> Result<Vec<RecycleItem>> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct Page {
            recycle_items: Vec<RecycleItem>,
            next_token: Option<String>,
        }
        let path = format!("/v1.0/storage/recycleBins/{}/recycleItems", seg(bin_id));
        let mut all = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut query = vec![("maxResults", "50")];
            if let Some(t) = next.as_deref() {
                query.push(("nextToken", t));
            }
            let page: Page = self.call(Method::GET, &path, &query, None, Replay::Safe).await?;
            all.extend(page.recycle_items);
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(t) => next = Some(t),
                None => return Ok(all),
            }
        }
    }

    pub async fn restore(&self, bin_id: &str, item_id: &str) -> Result<Landing> {
        let path = format!(
            "/v1.0/storage/recycleBins/{}/recycleItems/{}/restore",
            seg(bin_id),
            seg(item_id)
        );
        self.post(
            &path,
            json!({"option": {"conflictStrategy": "AUTO_RENAME"}}),
            Replay::OnlyIfUnsent,
        )
        .await
    }

    pub async fn purge_item(&self, bin_id: &str, item_id: &str) -> Result<()> {
        let path =
            format!("/v1.0/storage/recycleBins/{}/recycleItems/{}", seg(bin_id), seg(item_id));
        let _: Value = self.call(Method::DELETE, &path, &[], None, Replay::Safe).await?;
        Ok(())
    }

    pub async fn clear_bin(&self, bin_id: &str) -> Result<()> {
        let path = format!("/v1.0/storage/recycleBins/{}/clear", seg(bin_id));
        let _: Value = self.call(Method::POST, &path, &[], None, Replay::Safe).await?;
        Ok(())
    }

    /// AddPermission (or, with `remove`, DeletePermission) of one role to members.
    pub async fn grant(
        &self,
        space_id: &str,
        dentry_id: &str,
        role: &str,
        members: &[(String, String)],
        duration: Option<i64>,
        remove: bool,
    ) -> Result<()> {
        let tail = if remove { "permissions/remove" } else { "permissions" };
        let path =
            format!("/v1.0/storage/spaces/{}/dentries/{}/{tail}", seg(space_id), seg(dentry_id));
        let members: Vec<Value> =
            members.iter().map(|(t, id)| json!({"type": t, "id": id})).collect();
        let mut body = json!({"roleId": role, "members": members});
        if let Some(seconds) = duration {
            body["option"] = json!({"duration": seconds});
        }
        let _: Value = self.post(&path, body, Replay::Safe).await?;
        Ok(())
    }

    pub async fn grants(&self, space_id: &str, dentry_id: &str) -> Result<Vec<Grant>> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct Page {
            permissions: Vec<Grant>,
            next_token: Option<String>,
        }
        let path = format!(
            "/v1.0/storage/spaces/{}/dentries/{}/permissions/query",
            seg(space_id),
            seg(dentry_id)
        );
        let mut all = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut option = json!({"maxResults": 500});
            if let Some(t) = &next {
                option["nextToken"] = json!(t);
            }
            let page: Page = self.post(&path, json!({"option": option}), Replay::Safe).await?;
            all.extend(page.permissions);
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(t) => next = Some(t),
                None => return Ok(all),
            }
        }
    }
}

/// Where an upload lands and what it records.
pub struct Target<'a> {
    pub space_id: &'a str,
    pub parent_id: &'a str,
    pub name: &'a str,
    /// CommitFile's conflictStrategy (`OVERWRITE`, `AUTO_RENAME`, `RETURN_ERROR_IF_EXISTS`).
    pub conflict: &'a str,
}

#[derive(Deserialize)]
struct DentryAnswer {
    dentry: Dentry,
}

/// A path segment, percent-encoded (ids come from the command line and from
/// answers). A segment of dots only would be resolved away by URL parsing
/// (`%2E` too), so it becomes one that names nothing.
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    if s.bytes().all(|b| b == b'.') {
        out.push_str("%00");
    }
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A JSON answer, or the DingTalk error of a non-2xx one.
async fn read_answer<T: DeserializeOwned>(response: Response) -> Result<T> {
    let status = response.status();
    let header_id = response
        .headers()
        .get("x-acs-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response.bytes().await?;
    if status.is_success() {
        let bytes = if bytes.is_empty() { Bytes::from_static(b"{}") } else { bytes };
        return Ok(serde_json::from_slice(&bytes)?);
    }
    Err(api_error(status.as_u16(), &bytes, header_id))
}

fn api_error(status: u16, body: &[u8], header_id: String) -> ClientError {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct ErrorBody {
        code: String,
        message: String,
        requestid: String,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) if !e.code.is_empty() => ClientError::Api {
            status,
            code: e.code,
            message: e.message,
            requestid: if e.requestid.is_empty() { header_id } else { e.requestid },
        },
        _ => ClientError::Api {
            status,
            code: format!("HTTP{status}"),
            message: String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string(),
            requestid: header_id,
        },
    }
}

/// The refusal of a signed URL (orgdrive answers DingTalk errors, an object
/// store answers XML: the status and the start of the body either way).
async fn signed_refusal(response: Response) -> ClientError {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    api_error(status, &body, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_leave_their_place_in_the_path() {
        assert_eq!(seg("123"), "123");
        assert_eq!(seg("../x"), "..%2Fx");
        assert_eq!(seg("a?b#c"), "a%3Fb%23c");
        assert_eq!(seg(".."), "%00..");
        assert_eq!(seg(""), "%00");
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        assert!(
            backoff(1) >= Duration::from_millis(200) && backoff(1) <= Duration::from_millis(300)
        );
        assert!(backoff(3) >= Duration::from_millis(800));
        assert!(backoff(30) <= Duration::from_millis(7500));
    }

    #[test]
    fn error_bodies_become_codes() {
        let e = api_error(
            400,
            br#"{"code":"paramError.parentId","message":"m","requestid":"r"}"#,
            "h".into(),
        );
        assert_eq!(e.code(), Some("paramError.parentId"));
        assert_eq!(e.exit_code(), std::process::ExitCode::from(1));
        let e = api_error(502, b"<html>bad gateway</html>", "h".into());
        assert!(e.is_transient());
        assert!(e.to_string().contains("requestid h"), "{e}");
    }
}
