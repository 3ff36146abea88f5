//! Transfers: DingTalk's three-step upload (GetFileUploadInfo or
//! InitMultipartFileUpload + GetMultipartFileUploadInfos → PUT to signed URLs
//! → CommitFile), downloads through signed URLs (GetFileDownloadInfo), the
//! bytes behind those URLs, and the sweeper of abandoned uploads.
//!
//! Object layout in the blob store: a single PUT writes `objects/<uploadKey>`;
//! multipart parts go to `parts/<uploadKey>/<n>` and CommitFile concatenates
//! them into `objects/<uploadKey>`. A committed file references its object;
//! the upload row is deleted in the commit transaction, so the sweeper (which
//! only deletes expired upload rows and then their objects) never touches
//! committed content.

use bytes::Bytes;
use futures::Stream;
use orgdrive_blob::{SignatureError, SignedRequest, WriteError, Written};
use orgdrive_meta::{PutDentry, PutOutcome, UploadPartRecord, UploadRecord};

use crate::dentries::{
    app_property_records, put_error, unknown_dentry, AppPropertyInput, ConflictStrategy, DentryView,
};
use crate::ids::random_alnum;
use crate::{names, now_ms, Drive, DriveError, DriveResult, Operator};

/// Default time an upload may stay uncommitted.
pub const UPLOAD_TTL_SECS: i64 = 24 * 3600;
/// Default validity of a signed URL (DingTalk's `expirationSeconds`).
pub const URL_TTL_SECS: i64 = 900;
/// Expired uploads are swept this long after expiry (at most the upload
/// lifetime), so that a commit that started in time can finish.
pub const SWEEP_GRACE_SECS: i64 = 600;
/// Multipart limits (reference: GetMultipartFileUploadInfos).
pub const MAX_PART_NUMBER: i64 = 10_000;
pub const MAX_PARTS_PER_CALL: usize = 30;
pub const MAX_PART_BYTES: u64 = 5 << 30;

/// `option.preCheckParam` of GetFileUploadInfo / InitMultipartFileUpload.
#[derive(Debug, Clone, Default)]
pub struct PreCheck {
    pub name: Option<String>,
    pub parent_id: Option<String>,
    pub size: Option<i64>,
    pub md5: Option<String>,
}

/// GetFileUploadInfo / InitMultipartFileUpload input.
#[derive(Debug, Clone, Default)]
pub struct UploadRequest {
    /// Required by GetFileUploadInfo (`HEADER_SIGNATURE`); absent for multipart init.
    pub protocol: Option<String>,
    pub storage_driver: Option<String>,
    pub prefer_region: Option<String>,
    pub pre_check: PreCheck,
}

/// A signed URL and how long it stays valid.
#[derive(Debug, Clone)]
pub struct SignedUrl {
    pub url: String,
    pub expiration_seconds: i64,
}

/// A single-upload session with the URL to PUT the bytes to.
#[derive(Debug, Clone)]
pub struct UploadTicket {
    pub upload_key: String,
    pub url: SignedUrl,
}

/// CommitFile input.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    pub upload_key: Option<String>,
    pub name: Option<String>,
    pub parent_id: Option<String>,
    pub size: Option<i64>,
    pub conflict_strategy: Option<String>,
    pub app_properties: Vec<AppPropertyInput>,
    pub overwrite_dentry_id: Option<String>,
}

/// A verified blob download: the object and its size.
#[derive(Debug, Clone)]
pub struct BlobObject {
    pub object_key: String,
    pub size: u64,
}

/// What an object key addresses.
enum BlobTarget {
    /// `objects/<uploadKey>`: a single upload's bytes, later the committed file.
    Object(String),
    /// `parts/<uploadKey>/<n>`.
    Part(String, i64),
}

fn object_key(upload_key: &str) -> String {
    format!("objects/{upload_key}")
}

fn part_key(upload_key: &str, part: i64) -> String {
    format!("parts/{upload_key}/{part}")
}

fn parse_target(key: &str) -> Option<BlobTarget> {
    let valid_key = |k: &str| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric());
    match key.split('/').collect::<Vec<_>>().as_slice() {
        ["objects", k] if valid_key(k) => Some(BlobTarget::Object(k.to_string())),
        ["parts", k, n] if valid_key(k) => {
            let n: i64 = n.parse().ok()?;
            (1..=MAX_PART_NUMBER).contains(&n).then(|| BlobTarget::Part(k.to_string(), n))
        }
        _ => None,
    }
}

fn bad_upload_key(message: impl Into<String>) -> DriveError {
    DriveError::param("uploadKey", message)
}

fn now_secs() -> i64 {
    now_ms() / 1000
}

/// Percent-encodes a query value (everything but unreserved characters).
fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drive {
    fn signed_url(&self, base: &str, method: &str, key: &str, file_name: &str) -> SignedUrl {
        let ttl = self.options.signed_url_ttl_secs;
        let expires = now_secs() + ttl;
        let request = SignedRequest { method, object_key: key, expires, file_name };
        let signature = self.presigner.sign(&request);
        let name = if file_name.is_empty() {
            String::new()
        } else {
            format!("&name={}", query_escape(file_name))
        };
        SignedUrl {
            url: format!("{base}/blob/{key}?expires={expires}{name}&signature={signature}"),
            expiration_seconds: ttl,
        }
    }

    fn check_signature(&self, request: &SignedRequest<'_>, signature: &str) -> DriveResult<()> {
        self.presigner.verify(request, signature, now_secs()).map_err(|e| {
            DriveError::SignatureRefused {
                expired: e == SignatureError::Expired,
                message: e.to_string(),
            }
        })
    }

    /// Bytes the space may still take: the tighter of its quota and the org capacity.
    async fn remaining_bytes(
        &self,
        space: &orgdrive_meta::SpaceRecord,
    ) -> DriveResult<Option<i64>> {
        let org = self.org(&space.corp_id).await?;
        let in_space = space.quota.map(|q| q - space.used_bytes);
        let in_org = match org.capacity {
            Some(capacity) => Some(capacity - self.meta.org_used_bytes(&space.corp_id).await?),
            None => None,
        };
        Ok(match (in_space, in_org) {
            (Some(a), Some(b)) => Some(a.min(b).max(0)),
            (a, b) => a.or(b).map(|r| r.max(0)),
        })
    }

    /// Opens an upload session after the requested pre-checks.
    async fn open_upload(
        &self,
        op: &Operator,
        space_id: &str,
        request: &UploadRequest,
        multipart: bool,
    ) -> DriveResult<UploadRecord> {
        if let Some(driver) = &request.storage_driver {
            if !driver.eq_ignore_ascii_case("DINGTALK") {
                return Err(DriveError::param("storageDriver", "only DINGTALK is supported"));
            }
        }
        if let Some(region) = &request.prefer_region {
            const REGIONS: [&str; 5] =
                ["ZHANGJIAKOU", "SHENZHEN", "SHANGHAI", "SINGAPORE", "UNKNOWN"];
            if !REGIONS.iter().any(|r| r.eq_ignore_ascii_case(region)) {
                return Err(DriveError::param("preferRegion", format!("unknown region {region}")));
            }
        }
        let check = &request.pre_check;
        let name = check.name.as_deref().map(|n| names::dentry_name("name", n)).transpose()?;
        if let Some(size) = check.size {
            if size < 0 {
                return Err(DriveError::param("size", "size must not be negative"));
            }
        }
        let md5 = match &check.md5 {
            Some(md5) if md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(md5.to_ascii_lowercase())
            }
            Some(_) => return Err(DriveError::param("md5", "md5 must be 32 hex digits")),
            None => None,
        };
        let space = self.space_for(op, space_id).await?;
        if let Some(parent) = &check.parent_id {
            if self.meta.folder_names(&space.space_id, parent).await?.is_none() {
                return Err(unknown_dentry("parentId", parent));
            }
        }
        let remaining = self.remaining_bytes(&space).await?;
        if let (Some(size), Some(remaining)) = (check.size, remaining) {
            if size > remaining {
                return Err(DriveError::QuotaExceeded(format!(
                    "{size} bytes do not fit: {remaining} bytes are left"
                )));
            }
        }
        let now = now_ms();
        let upload = UploadRecord {
            upload_key: random_alnum(32),
            space_id: space.space_id.clone(),
            app_id: op.app.app_id.clone(),
            union_id: op.user.union_id.clone(),
            multipart,
            check_name: name,
            check_parent_id: check.parent_id.clone(),
            check_size: check.size,
            check_md5: md5,
            max_bytes: check.size.or(remaining),
            created_at: now,
            expires_at: now + self.options.upload_ttl_secs * 1000,
        };
        self.meta.insert_upload(&upload).await?;
        Ok(upload)
    }

    /// GetFileUploadInfo: an upload key and the signed URL for one PUT.
    pub async fn get_file_upload_info(
        &self,
        op: &Operator,
        space_id: &str,
        request: UploadRequest,
        base_url: &str,
    ) -> DriveResult<UploadTicket> {
        match request.protocol.as_deref() {
            Some(p) if p.eq_ignore_ascii_case("HEADER_SIGNATURE") => {}
            Some(other) => {
                return Err(DriveError::param(
                    "protocol",
                    format!("protocol {other} is not supported; use HEADER_SIGNATURE"),
                ))
            }
            None => return Err(DriveError::param("protocol", "protocol is required")),
        }
        let upload = self.open_upload(op, space_id, &request, false).await?;
        let url = self.signed_url(base_url, "PUT", &object_key(&upload.upload_key), "");
        Ok(UploadTicket { upload_key: upload.upload_key, url })
    }

    /// InitMultipartFileUpload: an upload key for parts.
    pub async fn init_multipart_upload(
        &self,
        op: &Operator,
        space_id: &str,
        request: UploadRequest,
    ) -> DriveResult<String> {
        Ok(self.open_upload(op, space_id, &request, true).await?.upload_key)
    }

    /// An open upload bound to `op`.
    async fn own_upload(
        &self,
        op: &Operator,
        upload_key: &str,
    ) -> DriveResult<(UploadRecord, Vec<UploadPartRecord>)> {
        let (upload, parts) =
            self.meta.get_upload(upload_key).await?.ok_or_else(|| {
                bad_upload_key("uploadKey is unknown, expired or already committed")
            })?;
        if upload.expires_at <= now_ms() {
            return Err(bad_upload_key("uploadKey has expired"));
        }
        if upload.app_id != op.app.app_id || upload.union_id != op.user.union_id {
            return Err(bad_upload_key("uploadKey belongs to another operator"));
        }
        Ok((upload, parts))
    }

    /// GetMultipartFileUploadInfos: one signed PUT URL per requested part.
    pub async fn multipart_upload_urls(
        &self,
        op: &Operator,
        upload_key: Option<&str>,
        part_numbers: &[i64],
        base_url: &str,
    ) -> DriveResult<Vec<(i64, SignedUrl)>> {
        let upload_key = upload_key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| bad_upload_key("uploadKey is required"))?;
        if part_numbers.is_empty() || part_numbers.len() > MAX_PARTS_PER_CALL {
            return Err(DriveError::param(
                "partNumbers",
                format!("partNumbers must hold 1 to {MAX_PARTS_PER_CALL} numbers"),
            ));
        }
        if let Some(bad) = part_numbers.iter().find(|n| !(1..=MAX_PART_NUMBER).contains(*n)) {
            return Err(DriveError::param(
                "partNumbers",
                format!("part number {bad} is outside 1..={MAX_PART_NUMBER}"),
            ));
        }
        let (upload, _) = self.own_upload(op, upload_key).await?;
        if !upload.multipart {
            return Err(bad_upload_key("uploadKey is not a multipart upload"));
        }
        let space = self.space_for(op, &upload.space_id).await?;
        debug_assert_eq!(space.space_id, upload.space_id);
        Ok(part_numbers
            .iter()
            .map(|&n| (n, self.signed_url(base_url, "PUT", &part_key(upload_key, n), "")))
            .collect())
    }

    /// The blob route's PUT: verifies the URL and streams the body into the store.
    pub async fn receive_blob<S, E>(
        &self,
        object_key: &str,
        expires: i64,
        signature: &str,
        body: S,
    ) -> DriveResult<Written>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let request = SignedRequest { method: "PUT", object_key, expires, file_name: "" };
        self.check_signature(&request, signature)?;
        let (upload_key, part) = match parse_target(object_key) {
            Some(BlobTarget::Object(k)) => (k, 0),
            Some(BlobTarget::Part(k, n)) => (k, n),
            None => return Err(DriveError::param("objectKey", "not an upload object")),
        };
        let (upload, _) = self
            .meta
            .get_upload(&upload_key)
            .await?
            .filter(|(u, _)| u.expires_at > now_ms())
            .ok_or_else(|| bad_upload_key("the upload is unknown, expired or already committed"))?;
        if upload.multipart != (part > 0) {
            return Err(bad_upload_key("this URL does not match the upload's kind"));
        }
        let limit = match (upload.max_bytes, part > 0) {
            (Some(max), true) => (max.max(0) as u64).min(MAX_PART_BYTES),
            (None, true) => MAX_PART_BYTES,
            (Some(max), false) => max.max(0) as u64,
            (None, false) => u64::MAX,
        };
        // The MD5 costs CPU per byte: only when the upload announced one to check.
        let md5 = upload.check_md5.is_some() && part == 0;
        let written = match self.blob.write_stream(object_key, body, Some(limit), md5).await {
            Ok(written) => written,
            Err(WriteError::TooLarge { limit }) => {
                return Err(DriveError::TooLarge(format!(
                    "this upload accepts at most {limit} bytes"
                )))
            }
            Err(WriteError::Source(e)) => {
                return Err(DriveError::InvalidParam {
                    field: None,
                    message: format!("the upload was interrupted: {e}"),
                })
            }
            Err(WriteError::Blob(e)) => return Err(DriveError::Internal(e.to_string())),
        };
        let part_record = UploadPartRecord {
            part_number: part,
            size: written.size as i64,
            md5: written.md5.clone(),
        };
        if !self.meta.record_upload_part(&upload_key, &part_record).await? {
            // A part nobody will read can go. A single upload's object may be
            // the content a concurrent commit just made a file of: keep it.
            if part > 0 {
                let _ = self.blob.delete(object_key).await;
            }
            return Err(bad_upload_key("the upload was committed or expired meanwhile"));
        }
        Ok(written)
    }

    /// CommitFile: turns a completed upload into a file, charging its bytes to
    /// the space and org in the same transaction.
    pub async fn commit_file(
        &self,
        op: &Operator,
        space_id: &str,
        request: CommitRequest,
    ) -> DriveResult<DentryView> {
        let upload_key = request
            .upload_key
            .filter(|k| !k.is_empty())
            .ok_or_else(|| bad_upload_key("uploadKey is required"))?;
        let strategy = ConflictStrategy::parse(request.conflict_strategy.as_deref())?;
        let properties = app_property_records(&op.app.app_id, &request.app_properties)?;
        if let Some(size) = request.size {
            if size < 0 {
                return Err(DriveError::param("size", "size must not be negative"));
            }
        }
        let space = self.space_for(op, space_id).await?;
        // overwriteDentryId: commit as a new version of that file.
        let (name, parent_id, strategy) = match &request.overwrite_dentry_id {
            Some(target) if !target.is_empty() => {
                let file = self.live_dentry(&space.space_id, target, "overwriteDentryId").await?;
                if file.is_folder() {
                    return Err(DriveError::param("overwriteDentryId", "a folder has no content"));
                }
                (file.name, file.parent_id, ConflictStrategy::Overwrite)
            }
            _ => {
                let name = names::dentry_name("name", request.name.as_deref().unwrap_or_default())?;
                let parent_id = request
                    .parent_id
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| DriveError::param("parentId", "parentId is required"))?;
                (name, parent_id, strategy)
            }
        };

        let (upload, parts) = self.own_upload(op, &upload_key).await?;
        if upload.space_id != space.space_id {
            return Err(bad_upload_key("uploadKey belongs to another space"));
        }
        let size: i64 = parts.iter().map(|p| p.size).sum();
        let md5 = if upload.multipart {
            if parts.is_empty() {
                return Err(bad_upload_key("no part has been uploaded"));
            }
            if let Some(gap) = (1..).zip(&parts).find(|(n, p)| p.part_number != *n) {
                return Err(bad_upload_key(format!("part {} is missing", gap.0)));
            }
            None
        } else {
            match parts.as_slice() {
                [single] => single.md5.clone(),
                _ => return Err(bad_upload_key("nothing has been uploaded for this uploadKey")),
            }
        };
        for expected in [request.size, upload.check_size].into_iter().flatten() {
            if expected != size {
                return Err(DriveError::param(
                    "size",
                    format!("{size} bytes were uploaded, {expected} were announced"),
                ));
            }
        }
        let object = object_key(&upload_key);
        let md5 = if !upload.multipart {
            md5
        } else {
            let sources: Vec<String> =
                parts.iter().map(|p| part_key(&upload_key, p.part_number)).collect();
            let want_md5 = upload.check_md5.is_some();
            match self.blob.concat(&sources, &object, want_md5).await {
                Ok(written) => written.md5,
                // A racing commit of the same key (or the sweeper) took the parts.
                Err(_) if self.meta.get_upload(&upload_key).await?.is_none() => {
                    return Err(bad_upload_key("uploadKey was committed or expired meanwhile"))
                }
                Err(e) => return Err(DriveError::Internal(e.to_string())),
            }
        };
        if let Some(expected) = &upload.check_md5 {
            let md5 = md5.unwrap_or_default();
            if *expected != md5 {
                return Err(DriveError::param(
                    "md5",
                    format!("the uploaded bytes have md5 {md5}, {expected} was announced"),
                ));
            }
        }

        let mut file = self.new_dentry(op, &space.space_id, &parent_id, &name, "FILE");
        file.size = size;
        file.blob_key = Some(object.clone());
        let put = PutDentry {
            conflict: strategy.for_store(&name, false),
            dentry: file,
            corp_id: space.corp_id.clone(),
            upload_key: Some(upload_key.clone()),
            app_properties: properties,
        };
        let put_result = self.meta.put_dentry(&put).await;
        self.forget_space(&space.space_id);
        let stored = match put_result.map_err(|e| put_error(e, &parent_id))? {
            PutOutcome::Created(d) | PutOutcome::Overwritten(d) => d,
            PutOutcome::Existing(d) => {
                // RETURN_DENTRY_IF_EXISTS: the upload was consumed; its bytes are not kept.
                let _ = self.blob.delete(&object).await;
                d
            }
        };
        if upload.multipart {
            let _ = self.blob.delete_prefix(&format!("parts/{upload_key}/")).await;
        }
        self.stored_view(op, stored).await
    }

    /// GetFileDownloadInfo: a signed GET URL for the file (or one of its versions).
    pub async fn download_info(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        version: Option<i64>,
        base_url: &str,
    ) -> DriveResult<SignedUrl> {
        let space = self.space_for(op, space_id).await?;
        let file = self.live_dentry(&space.space_id, dentry_id, "dentryId").await?;
        if file.is_folder() {
            return Err(DriveError::param("dentryId", format!("{dentry_id} is a folder")));
        }
        let key = match version {
            None => file.blob_key.clone(),
            Some(v) if v == file.version => file.blob_key.clone(),
            Some(v) => match self.meta.get_version(&file.dentry_id, v).await? {
                Some(old) => Some(old.blob_key),
                None => {
                    return Err(DriveError::param("version", format!("version {v} does not exist")))
                }
            },
        };
        let key = key.ok_or_else(|| DriveError::Internal("file without content".into()))?;
        Ok(self.signed_url(base_url, "GET", &key, &file.name))
    }

    /// The blob route's GET/HEAD: verifies the URL and returns the object's size.
    pub async fn open_blob(
        &self,
        object_key: &str,
        expires: i64,
        file_name: &str,
        signature: &str,
    ) -> DriveResult<BlobObject> {
        let request = SignedRequest { method: "GET", object_key, expires, file_name };
        self.check_signature(&request, signature)?;
        let size = self
            .blob
            .size(object_key)
            .await
            .map_err(|e| DriveError::Internal(e.to_string()))?
            .ok_or_else(|| DriveError::not_found("objectKey", "the object no longer exists"))?;
        Ok(BlobObject { object_key: object_key.to_string(), size })
    }

    /// Deletes uploads that expired more than [`SWEEP_GRACE_SECS`] (at most
    /// the upload lifetime) ago, and their bytes.
    pub async fn sweep_uploads(&self) -> DriveResult<usize> {
        let grace = SWEEP_GRACE_SECS.min(self.options.upload_ttl_secs);
        let before = now_ms() - grace * 1000;
        let mut swept = 0;
        loop {
            let keys = self.meta.take_expired_uploads(before, 100).await?;
            if keys.is_empty() {
                return Ok(swept);
            }
            for key in &keys {
                let object = self.blob.delete(&object_key(key)).await;
                let parts = self.blob.delete_prefix(&format!("parts/{key}/")).await;
                if let Err(e) = object.and(parts) {
                    tracing::warn!(upload = %key, error = %e, "could not remove upload bytes");
                }
            }
            swept += keys.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_parse_back() {
        assert!(
            matches!(parse_target("objects/abc123"), Some(BlobTarget::Object(k)) if k == "abc123")
        );
        assert!(matches!(parse_target("parts/abc/7"), Some(BlobTarget::Part(k, 7)) if k == "abc"));
        for bad in
            ["objects/", "objects/a/b", "parts/abc/0", "parts/abc/10001", "parts/a.b/1", "x/y"]
        {
            assert!(parse_target(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("a b/数.txt"), "a%20b%2F%E6%95%B0.txt");
    }
}
