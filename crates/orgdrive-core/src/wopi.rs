//! WebOffice through WOPI: GetWebOfficeUrl and RefreshWebOfficeToken (the
//! WOPI client's editor URL with an access token, and the token pairs'
//! rotation), and the WOPI host's rules — who a WOPI access token stands
//! for ([`WopiSession`]), CheckFileInfo, GetFile, PutFile (a new version of
//! the file through an upload of its own, under the lock protocol) and the
//! lock operations. No HTTP here: the server's `wopi` routes translate.
//!
//! Tokens are 43 random letters and digits (256 bits); only their SHA-256
//! hashes are stored, bound to the org, app, operator, space and file. An
//! access token lives [`WOPI_ACCESS_TTL_SECS`], a refresh token
//! [`WOPI_REFRESH_TTL_SECS`]. Every WOPI request checks the operator's live
//! role through the policy: reading needs `Download` (DOWNLOADER), writing
//! (PutFile, LOCK, REFRESH_LOCK, UNLOCK) needs `Upload` (EDITOR) too, so a
//! revoked grant stops saving at once.

use bytes::Bytes;
use futures::Stream;
use orgdrive_store::{
    DentryRecord, LockChange, LockOutcome, PutDentry, SpaceRecord, StoreError, WopiPut,
    WopiRotation, WopiTokenRecord,
};
use sha2::{Digest, Sha256};

use crate::dentries::ConflictStrategy;
use crate::ids::{random_alnum, random_secret};
use crate::policy::{Operation, Place};
use crate::transfer::query_escape;
use crate::{now_ms, Drive, DriveError, DriveResult, Operator, Scope};

/// Life of a WebOffice access token (inferred from the reference: ~30 min).
pub const WOPI_ACCESS_TTL_SECS: i64 = 30 * 60;
/// Life of a WebOffice refresh token (inferred: ~1 day).
pub const WOPI_REFRESH_TTL_SECS: i64 = 24 * 3600;
/// Life of a WOPI lock (the WOPI protocol: 30 minutes).
pub const WOPI_LOCK_TTL_SECS: i64 = 30 * 60;
/// Longest lock id (the WOPI protocol: 1024 characters).
pub const WOPI_MAX_LOCK_ID: usize = 1024;

fn not_configured() -> DriveError {
    DriveError::WebOfficeNotConfigured(
        "WebOffice is not configured on this server (start it with --wopi-client-url)".into(),
    )
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Checks a WOPI client's editor URL (its discovery `urlsrc`) and answers it
/// ready for query parameters to be appended: `http(s)://` with a host, no
/// fragment, no spaces or control characters; discovery placeholders
/// (`<ui=UI_LLCC&>`) are dropped.
pub fn check_wopi_client_url(url: &str) -> Result<String, String> {
    let mut clean = String::with_capacity(url.len());
    let mut rest = url.trim();
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').ok_or("an unclosed '<' placeholder")?;
        clean.push_str(&rest[..start]);
        rest = &rest[start + end + 1..];
    }
    clean.push_str(rest);
    let after_scheme = clean
        .strip_prefix("https://")
        .or_else(|| clean.strip_prefix("http://"))
        .ok_or("the WOPI client URL must start with http:// or https://")?;
    let host = after_scheme.split(['/', '?']).next().unwrap_or_default();
    if host.is_empty() {
        return Err("the WOPI client URL has no host".into());
    }
    if clean.contains('#') || clean.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(
            "the WOPI client URL may not hold a fragment, spaces or control characters".into()
        );
    }
    if clean.ends_with('?') || clean.ends_with('&') {
        return Ok(clean);
    }
    let separator = if clean.contains('?') { '&' } else { '?' };
    Ok(format!("{clean}{separator}"))
}

/// A fresh token pair.
#[derive(Debug, Clone)]
pub struct WebOfficeTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// When the access token expires (ms since the epoch).
    pub access_expires_at: i64,
}

/// GetWebOfficeUrl's answer.
#[derive(Debug, Clone)]
pub struct WebOfficeUrl {
    pub url: String,
    pub tokens: WebOfficeTokens,
}

/// Why a WOPI request is refused, as the WOPI protocol answers it.
#[derive(Debug, thiserror::Error)]
pub enum WopiError {
    /// 401: the access token is missing, unknown, expired, for another file,
    /// or its operator lost every role that lets them read the file.
    #[error("invalid access token")]
    Unauthorized,
    /// 404: the file is gone, or the operator may not write it.
    #[error("{0}")]
    NotFound(String),
    /// 409: the lock does not allow it; `X-WOPI-Lock` answers the current
    /// lock (empty when unlocked).
    #[error("{reason}")]
    LockConflict { current: Option<String>, reason: String },
    /// 400: a malformed request (a lock id too long, a bad header).
    #[error("{0}")]
    BadRequest(String),
    /// 412: GetFile's `X-WOPI-MaxExpectedSize` is below the file's size.
    #[error("the file is larger than X-WOPI-MaxExpectedSize")]
    TooLargeForClient,
    /// 413: the bytes do not fit (quota, org capacity, the size limit).
    #[error("{0}")]
    TooLarge(String),
    /// 501: an operation this host does not offer.
    #[error("{0}")]
    NotImplemented(String),
    /// 503 / 507 and other failures on our side.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<DriveError> for WopiError {
    fn from(e: DriveError) -> WopiError {
        match e {
            DriveError::QuotaExceeded(m) | DriveError::TooLarge(m) => WopiError::TooLarge(m),
            DriveError::DiskFull(m) | DriveError::TooManyUploads(m) => WopiError::Unavailable(m),
            DriveError::NotFound { message, .. } => WopiError::NotFound(message),
            DriveError::PermissionDenied(m) => WopiError::NotFound(m),
            DriveError::InvalidParam { message, .. } => WopiError::BadRequest(message),
            DriveError::InvalidAuthentication(_) => WopiError::Unauthorized,
            other => WopiError::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for WopiError {
    fn from(e: StoreError) -> WopiError {
        WopiError::Internal(e.to_string())
    }
}

/// Who a valid WOPI access token stands for, on which file, checked now.
#[derive(Debug, Clone)]
pub struct WopiSession {
    pub op: Operator,
    pub space: SpaceRecord,
    pub file: DentryRecord,
    /// The operator's live role allows writing (EDITOR or stronger).
    pub can_write: bool,
    /// When the access token expires (ms since the epoch).
    pub token_expires_at: i64,
}

/// CheckFileInfo's facts.
#[derive(Debug, Clone)]
pub struct WopiFileInfo {
    pub base_file_name: String,
    pub size: i64,
    /// Changes with every new version of the file.
    pub version: String,
    pub owner_id: String,
    pub user_id: String,
    pub user_friendly_name: String,
    pub user_can_write: bool,
    pub last_modified_ms: i64,
}

/// A lock operation of `POST /wopi/files/{id}` (`X-WOPI-Override`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockRequest {
    Lock { lock_id: String, old_lock_id: Option<String> },
    RefreshLock { lock_id: String },
    Unlock { lock_id: String },
}

/// A lock id as WOPI allows it: 1 to [`WOPI_MAX_LOCK_ID`] characters.
fn check_lock_id(lock_id: &str) -> Result<(), WopiError> {
    if lock_id.is_empty() || lock_id.chars().count() > WOPI_MAX_LOCK_ID {
        return Err(WopiError::BadRequest(format!(
            "a lock id has 1 to {WOPI_MAX_LOCK_ID} characters"
        )));
    }
    Ok(())
}

impl Drive {
    /// The configured WOPI client URL, or the documented error.
    fn wopi_client(&self) -> DriveResult<&str> {
        self.options.wopi_client_url.as_deref().ok_or_else(not_configured)
    }

    /// The file WebOffice opens: a live file of a visible space that the
    /// operator may read the content of.
    async fn web_office_file(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
    ) -> DriveResult<(SpaceRecord, DentryRecord)> {
        let space = self.space_for(op, space_id).await?;
        let file = self.live_dentry(&space.space_id, dentry_id, "dentryId").await?;
        self.authorize(op, &space, Place::Dentry(&file), Operation::GetWebOfficeUrl).await?;
        if file.is_folder() {
            return Err(DriveError::param(
                "dentryId",
                format!("{dentry_id} is a folder; WebOffice opens files"),
            ));
        }
        Ok((space, file))
    }

    /// A fresh pair bound to `op` and the file.
    fn new_tokens(&self, op: &Operator, file: &DentryRecord) -> (WebOfficeTokens, WopiTokenRecord) {
        let now = now_ms();
        let tokens = WebOfficeTokens {
            access_token: random_secret(),
            refresh_token: random_secret(),
            access_expires_at: now + WOPI_ACCESS_TTL_SECS * 1000,
        };
        let record = WopiTokenRecord {
            access_hash: token_hash(&tokens.access_token),
            refresh_hash: token_hash(&tokens.refresh_token),
            family_id: random_alnum(24),
            corp_id: op.app.corp_id.clone(),
            app_id: op.app.app_id.clone(),
            union_id: op.user.union_id.clone(),
            space_id: file.space_id.clone(),
            dentry_id: file.dentry_id.clone(),
            created_at: now,
            access_expires_at: tokens.access_expires_at,
            refresh_expires_at: now + WOPI_REFRESH_TTL_SECS * 1000,
            rotated_at: None,
        };
        (tokens, record)
    }

    /// GetWebOfficeUrl: the WOPI client's editor URL for the file (with
    /// `WOPISrc` = `{base_url}/wopi/files/{dentryId}`, the access token and
    /// its expiry) and a fresh token pair.
    pub async fn get_web_office_url(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        base_url: &str,
    ) -> DriveResult<WebOfficeUrl> {
        let client = self.wopi_client()?.to_string();
        let (_, file) = self.web_office_file(op, space_id, dentry_id).await?;
        let (tokens, record) = self.new_tokens(op, &file);
        self.meta.insert_wopi_tokens(&record).await?;
        let src = format!("{base_url}/wopi/files/{}", file.dentry_id);
        let url = format!(
            "{client}WOPISrc={}&access_token={}&access_token_ttl={}",
            query_escape(&src),
            tokens.access_token,
            tokens.access_expires_at
        );
        Ok(WebOfficeUrl { url, tokens })
    }

    /// RefreshWebOfficeToken: exchanges the file's current pair for a new
    /// one. The refresh token must be live, unrotated and belong to this
    /// access token, operator, app and file; it is dead afterwards (the old
    /// access token lives until it expires, so an open editor keeps
    /// working). Presenting a rotated refresh token again revokes every pair
    /// of its family, access tokens included.
    pub async fn refresh_web_office_token(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        access_token: Option<&str>,
        refresh_token: Option<&str>,
    ) -> DriveResult<WebOfficeTokens> {
        let access = access_token.filter(|t| !t.is_empty()).ok_or_else(|| {
            DriveError::param("webOfficeAccessToken", "webOfficeAccessToken is required")
        })?;
        let refresh = refresh_token.filter(|t| !t.is_empty()).ok_or_else(|| {
            DriveError::param("webOfficeRefreshToken", "webOfficeRefreshToken is required")
        })?;
        self.wopi_client()?;
        let (_, file) = self.web_office_file(op, space_id, dentry_id).await?;
        let (tokens, record) = self.new_tokens(op, &file);
        let outcome = self
            .meta
            .rotate_wopi_tokens(&token_hash(access), &token_hash(refresh), &record, now_ms())
            .await?;
        match outcome {
            WopiRotation::Rotated => Ok(tokens),
            WopiRotation::Refused => Err(DriveError::param(
                "webOfficeRefreshToken",
                "webOfficeRefreshToken is invalid or expired, or does not belong to this \
                 webOfficeAccessToken, operator and file",
            )),
            WopiRotation::Reused => Err(DriveError::param(
                "webOfficeRefreshToken",
                "webOfficeRefreshToken was used already; every token of its session is revoked",
            )),
        }
    }

    /// Who the WOPI access token stands for on `file_id`, checked against
    /// the live state: the token, its app (still holding
    /// `Storage.File.Read`) and user, the file (404 when gone) and the
    /// operator's role on it (401 without read access any more).
    pub async fn wopi_session(
        &self,
        file_id: &str,
        access_token: Option<&str>,
    ) -> Result<WopiSession, WopiError> {
        let token = access_token.filter(|t| !t.is_empty()).ok_or(WopiError::Unauthorized)?;
        let record = self
            .meta
            .find_wopi_access(&token_hash(token), now_ms())
            .await?
            .ok_or(WopiError::Unauthorized)?;
        if record.dentry_id != file_id {
            return Err(WopiError::Unauthorized);
        }
        let app = self
            .meta
            .list_apps(&record.corp_id)
            .await?
            .into_iter()
            .find(|a| a.app_id == record.app_id)
            .ok_or(WopiError::Unauthorized)?;
        // The app must still hold the scope that issued the token.
        if !app.scopes.iter().any(|s| s == Scope::FileRead.as_str()) {
            return Err(WopiError::Unauthorized);
        }
        let user = self
            .meta
            .get_user(&record.corp_id, &record.union_id)
            .await?
            .ok_or(WopiError::Unauthorized)?;
        let op = Operator { app, user };
        let space = match self.space_for(&op, &record.space_id).await {
            Ok(space) => space,
            Err(DriveError::NotFound { .. }) => return Err(WopiError::Unauthorized),
            Err(e) => return Err(e.into()),
        };
        let file = match self.live_dentry(&space.space_id, file_id, "dentryId").await {
            Ok(file) if !file.is_folder() => file,
            Ok(_) | Err(DriveError::NotFound { .. }) => {
                return Err(WopiError::NotFound(format!("file {file_id} does not exist")))
            }
            Err(e) => return Err(e.into()),
        };
        let place = Place::Dentry(&file);
        match self.authorize(&op, &space, place, Operation::GetWebOfficeUrl).await {
            Ok(_) => {}
            Err(DriveError::PermissionDenied(_)) => return Err(WopiError::Unauthorized),
            Err(e) => return Err(e.into()),
        }
        // Writing needs the role (EDITOR) and, as CommitFile, the app's
        // Storage.File.Write: a read-only app gets a read-only editor.
        let app_writes = op.app.scopes.iter().any(|s| s == Scope::FileWrite.as_str());
        let can_write = app_writes
            && match self.authorize(&op, &space, place, Operation::Upload).await {
                Ok(_) => true,
                Err(DriveError::PermissionDenied(_)) => false,
                Err(e) => return Err(e.into()),
            };
        Ok(WopiSession { op, space, file, can_write, token_expires_at: record.access_expires_at })
    }

    /// CheckFileInfo.
    pub fn wopi_file_info(&self, session: &WopiSession) -> WopiFileInfo {
        let file = &session.file;
        WopiFileInfo {
            base_file_name: file.name.clone(),
            size: file.size,
            version: file.version.to_string(),
            owner_id: file.creator_id.clone(),
            user_id: session.op.user.union_id.clone(),
            user_friendly_name: session.op.user.name.clone(),
            user_can_write: session.can_write,
            last_modified_ms: file.modified_at,
        }
    }

    /// GetFile: the file's content object and size (the caller streams it),
    /// unless it is larger than the client's `max_expected` size.
    pub fn wopi_get_file(
        &self,
        session: &WopiSession,
        max_expected: Option<u64>,
    ) -> Result<(String, u64), WopiError> {
        let key = session
            .file
            .blob_key
            .clone()
            .ok_or_else(|| WopiError::Internal("file without content".into()))?;
        let size = u64::try_from(session.file.size)
            .map_err(|_| WopiError::Internal(format!("file size {}", session.file.size)))?;
        if max_expected.is_some_and(|max| size > max) {
            return Err(WopiError::TooLargeForClient);
        }
        Ok((key, size))
    }

    /// Refuses a write unless the operator's live role allows it.
    fn wopi_writer(session: &WopiSession) -> Result<(), WopiError> {
        if session.can_write {
            Ok(())
        } else {
            Err(WopiError::NotFound(format!(
                "{} may not edit this file (EDITOR or stronger is needed)",
                session.op.user.union_id
            )))
        }
    }

    /// GET_LOCK: the file's live lock, if any.
    pub async fn wopi_get_lock(&self, session: &WopiSession) -> Result<Option<String>, WopiError> {
        let file = &session.file;
        Ok(self.meta.get_wopi_lock(&file.space_id, &file.dentry_id, now_ms()).await?)
    }

    /// LOCK (UnlockAndRelock with an old lock id), REFRESH_LOCK, UNLOCK, each
    /// a compare-and-set in the store; a lock lives [`WOPI_LOCK_TTL_SECS`]
    /// from when it was taken or last refreshed.
    pub async fn wopi_lock(
        &self,
        session: &WopiSession,
        request: LockRequest,
    ) -> Result<(), WopiError> {
        Self::wopi_writer(session)?;
        let change = match request {
            LockRequest::Lock { lock_id, old_lock_id: None } => {
                check_lock_id(&lock_id)?;
                LockChange::Lock { lock_id }
            }
            LockRequest::Lock { lock_id, old_lock_id: Some(old_lock_id) } => {
                check_lock_id(&lock_id)?;
                check_lock_id(&old_lock_id)?;
                LockChange::Relock { old_lock_id, lock_id }
            }
            LockRequest::RefreshLock { lock_id } => {
                check_lock_id(&lock_id)?;
                LockChange::Refresh { lock_id }
            }
            LockRequest::Unlock { lock_id } => {
                check_lock_id(&lock_id)?;
                LockChange::Unlock { lock_id }
            }
        };
        let file = &session.file;
        let now = now_ms();
        let expires_at = now + WOPI_LOCK_TTL_SECS * 1000;
        match self
            .meta
            .change_wopi_lock(&file.space_id, &file.dentry_id, &change, now, expires_at)
            .await?
        {
            LockOutcome::Done => Ok(()),
            LockOutcome::Conflict(current) => Err(WopiError::LockConflict {
                reason: match &current {
                    Some(_) => "the file is locked with another lock id".into(),
                    None => "the file is not locked".into(),
                },
                current,
            }),
        }
    }

    /// PutFile: the body becomes a new version of the file, committed as
    /// CommitFile with `overwriteDentryId` is (quota charged, the upload
    /// consumed, thumbnails redone). The lock is checked before the bytes are
    /// read and again in the commit's transaction: a locked file takes only
    /// its own lock id, an unlocked one only while it is empty.
    /// Answers the file as stored now.
    pub async fn wopi_put_file<S, E>(
        &self,
        session: &WopiSession,
        lock_id: Option<&str>,
        declared_len: Option<u64>,
        body: S,
    ) -> Result<DentryRecord, WopiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        Self::wopi_writer(session)?;
        let lock_id = lock_id.filter(|l| !l.is_empty());
        if let Some(lock_id) = lock_id {
            check_lock_id(lock_id)?;
        }
        let file = &session.file;
        let current = self.meta.get_wopi_lock(&file.space_id, &file.dentry_id, now_ms()).await?;
        lock_allows(lock_id, current, file.size)?;

        let (drive, op, space) = (self.clone(), session.op.clone(), session.space.clone());
        let (upload_key, part) =
            tokio::spawn(
                async move { drive.receive_content(&op, &space, declared_len, body).await },
            )
            .await
            .map_err(|e| WopiError::Internal(format!("the upload task failed: {e}")))??;

        let mut dentry =
            self.new_dentry(&session.op, &file.space_id, &file.parent_id, &file.name, "FILE");
        dentry.size = part.size;
        dentry.blob_key = Some(part.object_key.clone());
        let put = PutDentry {
            overwrite_dentry_id: Some(file.dentry_id.clone()),
            conflict: ConflictStrategy::Overwrite.for_store(&file.name, false),
            dentry,
            corp_id: session.space.corp_id.clone(),
            upload_key: Some(upload_key),
            upload_objects: vec![part.object_key.clone()],
            app_properties: Vec::new(),
        };
        let result = self.meta.wopi_put(&put, lock_id, now_ms()).await;
        self.forget_space(&file.space_id);
        if let (Err(_), Some(key)) = (&result, &put.upload_key) {
            // Its upload and bytes go now, not at the upload's expiry.
            self.discard_upload(key).await;
        }
        match result {
            Ok(WopiPut::Stored(stored)) => {
                self.thumbnail_later(&stored);
                Ok(*stored)
            }
            Ok(WopiPut::Conflict(current)) => {
                // The upload was consumed; its object is ours to remove.
                self.remove_object(&part.object_key).await;
                Err(lock_allows(lock_id, current, 1).expect_err("a conflict"))
            }
            Err(StoreError::QuotaExceeded { .. }) => {
                Err(WopiError::TooLarge("the new version does not fit in the quota".into()))
            }
            Err(StoreError::NotFound) => {
                Err(WopiError::NotFound(format!("file {} does not exist", file.dentry_id)))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// PutFile's lock rule (WOPI): a locked file takes only its own lock id; an
/// unlocked one only while it is empty (whatever lock id is given).
fn lock_allows(given: Option<&str>, current: Option<String>, size: i64) -> Result<(), WopiError> {
    let reason = match (given, &current) {
        (Some(given), Some(held)) if given == held => return Ok(()),
        (_, None) if size == 0 => return Ok(()),
        (Some(_), Some(_)) => "the file is locked with another lock id",
        (None, Some(_)) => "the file is locked; PutFile must name the lock",
        (_, None) => "the file is not locked and not empty; lock it first",
    };
    Err(WopiError::LockConflict { current, reason: reason.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_urls_are_checked_and_made_ready_for_parameters() {
        let ok = |u: &str| check_wopi_client_url(u).expect(u);
        assert_eq!(
            ok("https://office.example/browser/x/cool.html?"),
            "https://office.example/browser/x/cool.html?"
        );
        assert_eq!(ok("http://office:9980/cool.html"), "http://office:9980/cool.html?");
        assert_eq!(ok("https://o.example/edit?lang=en"), "https://o.example/edit?lang=en&");
        assert_eq!(
            ok("https://o.example/hosting/wopi/word/edit?<ui=UI_LLCC&><rs=DC_LLCC&>"),
            "https://o.example/hosting/wopi/word/edit?"
        );
        for bad in [
            "",
            "ftp://x/",
            "https://",
            "https:///path",
            "https://x/a b",
            "https://x/#f",
            "https://x/<ui",
        ] {
            assert!(check_wopi_client_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn put_file_lock_rule() {
        let held = || Some("L1".to_string());
        assert!(lock_allows(Some("L1"), held(), 10).is_ok());
        assert!(lock_allows(None, None, 0).is_ok());
        assert!(lock_allows(Some("L1"), None, 0).is_ok(), "unlocked and empty");
        for (given, current, size) in
            [(Some("L2"), held(), 10), (Some("L1"), None, 1), (None, held(), 0), (None, None, 1)]
        {
            match lock_allows(given, current.clone(), size) {
                Err(WopiError::LockConflict { current: c, .. }) => assert_eq!(c, current),
                other => panic!("{given:?} {current:?} {size}: {other:?}"),
            }
        }
    }
}
