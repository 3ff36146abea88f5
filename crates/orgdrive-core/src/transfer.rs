//! Transfers: DingTalk's three-step upload (GetFileUploadInfo or
//! InitMultipartFileUpload + GetMultipartFileUploadInfos → PUT to signed URLs
//! → CommitFile), downloads through signed URLs (GetFileDownloadInfo), the
//! bytes behind those URLs, and the sweeper of abandoned uploads.
//!
//! PUT URLs name an upload and a part, never an object:
//! `/blob/uploads/<uploadKey>/<n>` (n = 0 for a single upload, 1..=10000 for
//! multipart parts). Every PUT writes a fresh object — a single upload's
//! bytes to `objects/<random>`, a part to `parts/<uploadKey>/<n>-<random>` —
//! and records it in one transaction that also turns the PUT's byte
//! reservation into the part's size; a PUT whose upload was committed or
//! swept meanwhile records nothing and removes its object. CommitFile uses
//! only recorded objects (a single upload's object becomes the file's
//! content; parts are concatenated into a fresh `objects/<random>`), and its
//! transaction consumes the upload only if those are still exactly the
//! recorded parts. So no PUT URL can reach committed bytes, a late PUT
//! cannot swap them, and the sweeper (which deletes expired upload rows and
//! then their recorded objects) never touches committed content.
//!
//! Pending bytes are reserved against the space quota and the org capacity
//! when a PUT starts (`Content-Length`, or the most the PUT may carry) and
//! released on commit, failure or expiry; parts together may not exceed the
//! announced size; uploads are refused while free disk is below the floor.

use bytes::Bytes;
use futures::Stream;
use orgdrive_blob::{SignatureError, SignedRequest, WriteError, Written};
use orgdrive_meta::{
    MetaError, PartRecorded, PutDentry, PutOutcome, UploadPartRecord, UploadRecord,
};

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
/// Most bytes one PUT may carry (a part, or a single upload): 5 GiB, as S3.
pub const MAX_PUT_BYTES: u64 = 5 << 30;
/// Default caps on open uploads.
pub const MAX_OPEN_UPLOADS_PER_SPACE: u32 = 1_000;
pub const MAX_OPEN_UPLOADS_PER_APP: u32 = 10_000;
/// Default free disk below which uploads are refused: 1 GiB.
pub const MIN_FREE_DISK_BYTES: u64 = 1 << 30;

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

/// What a PUT URL addresses: an upload and a part (0 = single upload).
#[derive(Debug, PartialEq, Eq)]
struct PutTarget {
    upload_key: String,
    part: i64,
}

/// Upload keys are 32 random letters and digits.
fn is_upload_key(key: &str) -> bool {
    key.len() == 32 && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Content object names are 1–64 letters and digits.
fn is_object_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The PUT URL path of a part: `uploads/<uploadKey>/<n>`.
fn put_path(upload_key: &str, part: i64) -> String {
    format!("uploads/{upload_key}/{part}")
}

/// Parses a PUT URL path; nothing else is accepted (checked before any
/// storage access, whatever the signature).
fn parse_put_path(path: &str) -> Option<PutTarget> {
    let mut segments = path.split('/');
    let (Some("uploads"), Some(key), Some(n), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return None;
    };
    if !is_upload_key(key) || n.len() > 5 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part: i64 = n.parse().ok()?;
    (0..=MAX_PART_NUMBER).contains(&part).then(|| PutTarget { upload_key: key.to_string(), part })
}

/// Whether a GET URL path names a content object (`objects/<name>`); nothing
/// else is ever served, whatever the signature.
fn is_content_object(path: &str) -> bool {
    path.strip_prefix("objects/").is_some_and(is_object_name)
}

/// A fresh object for the bytes of one PUT.
fn fresh_object(target: &PutTarget) -> String {
    if target.part == 0 {
        fresh_content_object()
    } else {
        format!("parts/{}/{}-{}", target.upload_key, target.part, random_alnum(16))
    }
}

fn fresh_content_object() -> String {
    format!("objects/{}", random_alnum(32))
}

fn bad_upload_key(message: impl Into<String>) -> DriveError {
    DriveError::param("uploadKey", message)
}

fn no_such_object() -> DriveError {
    DriveError::ObjectNotFound("no such object".into())
}

/// A PUT's byte reservation: released explicitly on failure, kept once the
/// part is recorded (or the upload is gone, which released it), and released
/// in the background if the PUT is abandoned midway (its future dropped).
struct Reservation {
    drive: Drive,
    upload_key: String,
    bytes: u64,
    settled: bool,
}

impl Reservation {
    fn new(drive: &Drive, upload_key: &str, bytes: u64) -> Reservation {
        Reservation {
            drive: drive.clone(),
            upload_key: upload_key.to_string(),
            bytes,
            settled: false,
        }
    }

    fn keep(mut self) {
        self.settled = true;
    }

    async fn release(mut self) {
        self.settled = true;
        if let Err(e) =
            self.drive.meta.release_upload_bytes(&self.upload_key, self.bytes as i64).await
        {
            tracing::warn!(upload = %self.upload_key, error = %e, "could not release a reservation");
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (drive, key, bytes) = (self.drive.clone(), self.upload_key.clone(), self.bytes as i64);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = drive.meta.release_upload_bytes(&key, bytes).await;
            });
        }
    }
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
            max_bytes: check.size,
            created_at: now,
            expires_at: now + self.options.upload_ttl_secs * 1000,
        };
        self.meta.insert_upload(&upload, &self.options.open_uploads).await.map_err(
            |e| match e {
                MetaError::TooManyUploads { per_space } => DriveError::TooManyUploads(format!(
                    "the {} has {} open uploads; commit or let some expire first",
                    if per_space { "space" } else { "app" },
                    if per_space {
                        self.options.open_uploads.per_space
                    } else {
                        self.options.open_uploads.per_app
                    }
                )),
                other => other.into(),
            },
        )?;
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
        let url = self.signed_url(base_url, "PUT", &put_path(&upload.upload_key, 0), "");
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
            .map(|&n| (n, self.signed_url(base_url, "PUT", &put_path(upload_key, n), "")))
            .collect())
    }

    /// The blob route's PUT: checks the signature and the path's shape,
    /// reserves the bytes (`declared_len` = `Content-Length`, else the most
    /// the PUT may carry), streams the body into a fresh object and records
    /// it. Any failure releases the reservation and leaves no object behind.
    pub async fn receive_blob<S, E>(
        &self,
        path: &str,
        expires: i64,
        signature: &str,
        declared_len: Option<u64>,
        body: S,
    ) -> DriveResult<Written>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let request = SignedRequest { method: "PUT", object_key: path, expires, file_name: "" };
        self.check_signature(&request, signature)?;
        let target = parse_put_path(path).ok_or_else(no_such_object)?;
        let gone = || bad_upload_key("the upload is unknown, expired or already committed");
        let (upload, _) = self
            .meta
            .get_upload(&target.upload_key)
            .await?
            .filter(|(u, _)| u.expires_at > now_ms())
            .ok_or_else(gone)?;
        if upload.multipart != (target.part > 0) {
            return Err(bad_upload_key("this URL does not match the upload's kind"));
        }

        let above_floor = self.check_disk_room(declared_len.unwrap_or(0))?;
        // What to reserve: the announced length (the reservation checks it
        // against the announced size and the quota), or, without one, the
        // most this PUT may carry: the per-PUT cap, the announced size, the
        // space's and org's room.
        let reserved = match declared_len {
            Some(n) if n > MAX_PUT_BYTES => {
                return Err(DriveError::TooLarge(format!(
                    "{n} bytes do not fit: one PUT carries at most {MAX_PUT_BYTES} bytes"
                )))
            }
            Some(n) => n,
            None => {
                let space = self.space_record(&upload.space_id).await?;
                let room = self.remaining_bytes(&space).await?.map(|r| r as u64);
                [Some(MAX_PUT_BYTES), room, upload.max_bytes.map(|m| m.max(0) as u64)]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(MAX_PUT_BYTES)
            }
        };
        self.meta
            .reserve_upload_bytes(&target.upload_key, target.part, reserved as i64, now_ms())
            .await
            .map_err(|e| match e {
                MetaError::UploadNotFound => gone(),
                MetaError::UploadTooLarge => DriveError::TooLarge(format!(
                    "the parts would exceed the announced size of {} bytes",
                    upload.max_bytes.unwrap_or_default()
                )),
                MetaError::QuotaExceeded { .. } if declared_len.is_none() => {
                    DriveError::TooLarge(format!(
                        "a PUT without Content-Length reserves the most it may carry \
                         ({reserved} bytes), which does not fit the remaining quota; \
                         send Content-Length"
                    ))
                }
                MetaError::QuotaExceeded { .. } => {
                    DriveError::TooLarge(format!("{reserved} bytes do not fit the remaining quota"))
                }
                other => other.into(),
            })?;
        let reservation = Reservation::new(self, &target.upload_key, reserved);
        let limit = reserved.min(above_floor.unwrap_or(u64::MAX));

        let object = fresh_object(&target);
        // The MD5 costs CPU per byte: only when the upload announced one to check.
        let md5 = upload.check_md5.is_some() && target.part == 0;
        let written = match self.blob.write_stream(&object, body, Some(limit), md5).await {
            Ok(written) => written,
            Err(WriteError::TooLarge { limit }) => {
                reservation.release().await;
                return Err(DriveError::TooLarge(format!(
                    "this upload accepts at most {limit} bytes"
                )));
            }
            Err(WriteError::Source(e)) => {
                reservation.release().await;
                return Err(DriveError::InvalidParam {
                    field: None,
                    message: format!("the upload was interrupted: {e}"),
                });
            }
            Err(WriteError::Blob(e)) => {
                reservation.release().await;
                return Err(DriveError::Internal(e.to_string()));
            }
        };
        let part_record = UploadPartRecord {
            part_number: target.part,
            size: written.size as i64,
            md5: written.md5.clone(),
            object_key: object.clone(),
        };
        let recorded =
            self.meta.record_upload_part(&target.upload_key, &part_record, reserved as i64).await;
        match recorded {
            Ok(PartRecorded::Recorded { replaced }) => {
                reservation.keep();
                if let Some(old) = replaced {
                    self.remove_object(&old).await;
                }
                Ok(written)
            }
            Ok(PartRecorded::UploadGone) => {
                reservation.keep(); // its removal released everything it held
                self.remove_object(&object).await;
                Err(bad_upload_key("the upload was committed or expired meanwhile"))
            }
            Err(e) => {
                reservation.release().await;
                self.remove_object(&object).await;
                Err(e.into())
            }
        }
    }

    /// Refuses an upload (507) unless `bytes` more fit on the disk above the
    /// free-space floor; returns the room above the floor (`None`: no local
    /// disk to watch).
    fn check_disk_room(&self, bytes: u64) -> DriveResult<Option<u64>> {
        let free = self.blob.free_bytes().map_err(|e| DriveError::Internal(e.to_string()))?;
        let above_floor = free.map(|f| f.saturating_sub(self.options.min_free_disk_bytes));
        match above_floor {
            Some(room) if room == 0 || bytes > room => Err(DriveError::DiskFull(
                "the server is low on disk space; uploads are refused for now".into(),
            )),
            room => Ok(room),
        }
    }

    /// Removes an object nothing references any more; a failure is logged
    /// (fsck finds what is left).
    async fn remove_object(&self, key: &str) {
        if let Err(e) = self.blob.delete(key).await {
            tracing::warn!(object = %key, error = %e, "could not remove an unreferenced object");
        }
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

        self.check_placement(&space.space_id, &parent_id, &name).await?;
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
        let sources: Vec<String> = parts.iter().map(|p| p.object_key.clone()).collect();
        let (object, md5) = if !upload.multipart {
            (sources[0].clone(), md5)
        } else {
            // The concatenation is a second copy of the parts' bytes.
            self.check_disk_room(size as u64)?;
            let object = fresh_content_object();
            let want_md5 = upload.check_md5.is_some();
            match self.blob.concat(&sources, &object, want_md5).await {
                Ok(written) => (object, written.md5),
                Err(e) => {
                    self.remove_object(&object).await;
                    // A racing commit of the same key (or the sweeper, or a
                    // re-uploaded part) took a part away.
                    return Err(match self.meta.get_upload(&upload_key).await? {
                        None => bad_upload_key("uploadKey was committed or expired meanwhile"),
                        Some((_, now)) if now != parts => {
                            bad_upload_key("a part was uploaded again meanwhile; commit again")
                        }
                        Some(_) => DriveError::Internal(e.to_string()),
                    });
                }
            }
        };
        // A multipart commit's own concatenation is not kept when it fails.
        let discard = |drive: &Drive| {
            let object = object.clone();
            let drive = drive.clone();
            async move {
                if upload.multipart {
                    drive.remove_object(&object).await;
                }
            }
        };
        if let Some(expected) = &upload.check_md5 {
            let md5 = md5.unwrap_or_default();
            if *expected != md5 {
                discard(self).await;
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
            upload_objects: sources.clone(),
            app_properties: properties,
        };
        let put_result = self.meta.put_dentry(&put).await;
        self.forget_space(&space.space_id);
        let outcome = match put_result {
            Ok(outcome) => outcome,
            Err(e) => {
                discard(self).await;
                return Err(match e {
                    MetaError::UploadChanged => {
                        bad_upload_key("a part was uploaded again meanwhile; commit again")
                    }
                    e => put_error(e, &parent_id),
                });
            }
        };
        let stored = match outcome {
            PutOutcome::Created(d) | PutOutcome::Overwritten(d) => d,
            PutOutcome::Existing(d) => {
                // RETURN_DENTRY_IF_EXISTS: the upload was consumed; its bytes are not kept.
                self.remove_object(&object).await;
                d
            }
        };
        if upload.multipart {
            for part in &sources {
                self.remove_object(part).await;
            }
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

    /// The blob route's GET/HEAD: verifies the URL, checks that the path
    /// names a content object and returns the object's size.
    pub async fn open_blob(
        &self,
        object_key: &str,
        expires: i64,
        file_name: &str,
        signature: &str,
    ) -> DriveResult<BlobObject> {
        let request = SignedRequest { method: "GET", object_key, expires, file_name };
        self.check_signature(&request, signature)?;
        if !is_content_object(object_key) {
            return Err(no_such_object());
        }
        let size = self
            .blob
            .size(object_key)
            .await
            .map_err(|e| DriveError::Internal(e.to_string()))?
            .ok_or_else(no_such_object)?;
        Ok(BlobObject { object_key: object_key.to_string(), size })
    }

    /// Deletes uploads that expired more than [`SWEEP_GRACE_SECS`] (at most
    /// the upload lifetime) ago, and their bytes.
    pub async fn sweep_uploads(&self) -> DriveResult<usize> {
        let grace = SWEEP_GRACE_SECS.min(self.options.upload_ttl_secs);
        let before = now_ms() - grace * 1000;
        let mut swept = 0;
        loop {
            let expired = self.meta.take_expired_uploads(before, 100).await?;
            if expired.is_empty() {
                return Ok(swept);
            }
            for upload in &expired {
                for object in &upload.objects {
                    self.remove_object(object).await;
                }
                // Parts written but never recorded (a crash mid-PUT).
                let prefix = format!("parts/{}/", upload.upload_key);
                if let Err(e) = self.blob.delete_prefix(&prefix).await {
                    tracing::warn!(upload = %upload.upload_key, error = %e, "could not remove parts");
                }
            }
            swept += expired.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_issued_paths_parse() {
        let key = "a".repeat(32);
        assert_eq!(
            parse_put_path(&format!("uploads/{key}/0")),
            Some(PutTarget { upload_key: key.clone(), part: 0 })
        );
        assert_eq!(parse_put_path(&format!("uploads/{key}/10000")).map(|t| t.part), Some(10000));
        for bad in [
            format!("uploads/{key}/10001"),
            format!("uploads/{key}/-1"),
            format!("uploads/{key}/+1"),
            format!("uploads/{key}/00000001"),
            format!("uploads/{key}/1/x"),
            format!("uploads/{key}"),
            format!("uploads/{}/1", "a".repeat(31)),
            format!("uploads/{}./1", "a".repeat(31)),
            format!("objects/{key}"),
            format!("uploads/../{key}/1"),
            "uploads/%2e%2e/1".to_string(),
            String::new(),
        ] {
            assert!(parse_put_path(&bad).is_none(), "{bad}");
        }
        assert!(is_content_object(&format!("objects/{key}")));
        for bad in [
            "objects/",
            "objects/../admin.token",
            "objects/..",
            "../../../../etc/hostname",
            "%2e%2e/signing.key",
            "objects/a/b",
            "objects/a.b",
            "objects\\a",
            "parts/abc/1",
            "/objects/abc",
            "objects/a\0",
        ] {
            assert!(!is_content_object(bad), "{bad}");
        }
        assert!(!is_content_object(&format!("objects/{}", "a".repeat(65))));
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("a b/数.txt"), "a%20b%2F%E6%95%B0.txt");
    }
}
