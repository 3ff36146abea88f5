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
//!
//! On an object store that presigns (S3, OSS: [`BlobStore::presigns`]) the
//! bytes never pass through orgdrive: the upload URLs are the store's own
//! presigned PUTs of `uploads/<uploadKey>/<n>` and nothing is recorded per
//! PUT. CommitFile lists what arrived, moves it out of reach of the upload
//! URLs by server-side copies — one object to `objects/<random>`, several
//! parts to `chunks/<name>/<n>` under a part manifest `manifests/<name>` —
//! checks sizes (and the MD5: the ETag, else by reading) against the
//! upload's checks, charges the quota in the commit's transaction and
//! deletes the upload's objects. Downloads of single objects are presigned
//! GETs; manifests are served by orgdrive's `/blob` route across their
//! parts. The sweeper removes expired uploads' objects, and objects PUT to
//! an upload URL after its upload was committed.
//!
//! [`BlobStore::presigns`]: orgdrive_blob::BlobStore::presigns

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use orgdrive_blob::{Manifest, ManifestPart, SignatureError, SignedRequest, WriteError, Written};
use orgdrive_store::{
    PartRecorded, PutDentry, PutOutcome, Reserve, StoreError, UploadPartRecord, UploadRecord,
    INLINE_OBJECT_PREFIX,
};

use crate::content::in_content_store;
use crate::dentries::{
    app_property_records, put_dentry_error, AppPropertyInput, ConflictStrategy, DentryView,
    UNKNOWN_UPLOAD_KEY,
};
use crate::error::unknown_dentry;
use crate::fsck::FSCK_GRACE_SECS;
use crate::ids::random_alnum;
use crate::policy::{Operation, Place};
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
/// Fewest bytes of a part that is not an upload's last (reference: parts of
/// 100 KB to 5 GB; as OSS and S3 refuse smaller ones when an upload is
/// completed). Checked by CommitFile: a PUT cannot tell its part is the last.
pub const MIN_PART_BYTES: u64 = 100 << 10;
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
    /// Headers the client must send with the request, as they are (an
    /// object store's presigned URL may sign some); usually none.
    pub headers: Vec<(String, String)>,
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

/// A verified blob download: the object and its size (as signed, or stated).
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
    let canonical = n == "0" || !n.starts_with('0');
    if !is_upload_key(key) || n.len() > 5 || !canonical || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part: i64 = n.parse().ok()?;
    (0..=MAX_PART_NUMBER).contains(&part).then(|| PutTarget { upload_key: key.to_string(), part })
}

/// Whether a GET URL path names a content object (`objects/<name>`, or
/// `inline/<name>` in the metadata store), a part manifest
/// (`manifests/<name>`) or a thumbnail (`thumbs/<name>`); nothing else is
/// ever served, whatever the signature.
fn is_content_object(path: &str) -> bool {
    path.strip_prefix("objects/")
        .or_else(|| path.strip_prefix(INLINE_OBJECT_PREFIX))
        .or_else(|| path.strip_prefix("manifests/"))
        .or_else(|| path.strip_prefix("thumbs/"))
        .is_some_and(is_object_name)
}

/// Where the bytes of an upload's PUTs land on a presigning store.
fn upload_prefix(upload_key: &str) -> String {
    format!("uploads/{upload_key}/")
}

/// What a commit made of an upload's bytes, before its transaction.
struct Staged {
    /// The content object (or manifest) the file will refer to.
    object: String,
    size: i64,
    /// Lower-case hex, when known without reading the bytes.
    md5: Option<String>,
    /// The upload's recorded part objects the content was made from.
    sources: Vec<String>,
    /// Whether `object` was made by this commit (removed if it fails).
    owned: bool,
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC
/// 6266), for a presigned GET to answer with.
fn attachment_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{}", query_escape(name))
}

/// Checks an upload's total against the sizes announced for it.
fn check_size(size: i64, announced: [Option<i64>; 2]) -> DriveResult<()> {
    for expected in announced.into_iter().flatten() {
        if expected != size {
            return Err(DriveError::param(
                "size",
                format!("{size} bytes were uploaded, {expected} were announced"),
            ));
        }
    }
    Ok(())
}

/// Refuses an upload whose parts (sizes in part order) are too small: each
/// but the last must have [`MIN_PART_BYTES`].
fn check_part_sizes(sizes: impl IntoIterator<Item = u64>) -> DriveResult<()> {
    let sizes: Vec<u64> = sizes.into_iter().collect();
    let Some((_, all_but_last)) = sizes.split_last() else { return Ok(()) };
    match (1..).zip(all_but_last).find(|(_, size)| **size < MIN_PART_BYTES) {
        Some((n, size)) => Err(DriveError::param(
            "size",
            format!(
                "part {n} has {size} bytes; every part but the last must have at least \
                 {MIN_PART_BYTES} bytes (100 KB)"
            ),
        )),
        None => Ok(()),
    }
}

/// A fresh object for the bytes of one PUT received by orgdrive (on an
/// object store too: WOPI saves and the path upload), named in time order
/// only on the local disk (`time_ordered`).
fn fresh_object(target: &PutTarget, time_ordered: bool) -> String {
    if target.part != 0 {
        format!("parts/{}/{}-{}", target.upload_key, target.part, random_alnum(16))
    } else if time_ordered {
        fresh_content_object()
    } else {
        random_content_object()
    }
}

/// A new object kept in the metadata store (`inline/` and a name as
/// [`fresh_content_object`]'s).
fn fresh_inline_object() -> String {
    format!("{INLINE_OBJECT_PREFIX}{}", crate::ids::time_ordered_alnum(32))
}

/// A new content object on the local disk: 32 letters and digits,
/// time-ordered (143 random bits), so that `dentries_by_blob` grows at its
/// right edge.
fn fresh_content_object() -> String {
    format!("objects/{}", crate::ids::time_ordered_alnum(32))
}

/// A new content object on an object store: 32 random letters and digits
/// (object stores spread load by key prefix; S3 and OSS advise against
/// keys that rise with time under heavy writes).
fn random_content_object() -> String {
    format!("objects/{}", random_alnum(32))
}

/// Refuses `what` (e.g. "a part of 2000000000 bytes"): more than one server-side copy
/// of this content store takes (CommitFile copies each uploaded object).
fn beyond_one_copy(what: String, max_copy: u64) -> DriveError {
    DriveError::param(
        "size",
        format!(
            "{what} is more than this content store copies at once ({max_copy} bytes); \
             upload the file in parts of at most {max_copy} bytes"
        ),
    )
}

/// Refuses an uploaded object that the store would serve with a
/// `Content-Encoding` (its downloads would be decoded into other bytes).
fn encoded_upload(stat: &orgdrive_blob::ObjectStat) -> DriveError {
    bad_upload_key(format!(
        "the upload was PUT with Content-Encoding: {}; PUT the file's bytes as they are, \
         with no Content-Encoding",
        stat.content_encoding.as_deref().unwrap_or_default().chars().take(64).collect::<String>()
    ))
}

fn bad_upload_key(message: impl Into<String>) -> DriveError {
    DriveError::param("uploadKey", message)
}

/// A body of announced length `len` (already reserved), read into memory:
/// an error if it carries more, or ends before `len` bytes.
async fn read_exactly<S, E>(body: S, len: u64) -> DriveResult<bytes::BytesMut>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut bytes = bytes::BytesMut::with_capacity(len as usize);
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::debug!(error = %e, "an upload body ended early");
            interrupted()
        })?;
        if (bytes.len() + chunk.len()) as u64 > len {
            return Err(DriveError::TooLarge(format!(
                "more than the {len} bytes this PUT may carry"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    if (bytes.len() as u64) < len {
        return Err(interrupted());
    }
    Ok(bytes)
}

fn interrupted() -> DriveError {
    DriveError::InvalidParam {
        field: None,
        message: "the upload was interrupted before all its bytes arrived".into(),
    }
}

fn no_such_object() -> DriveError {
    DriveError::ObjectNotFound("no such object".into())
}

/// Bytes a PUT without a length reserves at a time, as they arrive.
const RESERVE_STEP: u64 = 8 << 20;

fn upload_gone() -> DriveError {
    bad_upload_key("the upload is unknown, expired or already committed")
}

/// Maps a refused reservation to the PUT's answer.
fn reservation_refused(e: StoreError, declared_len: Option<u64>) -> DriveError {
    match e {
        StoreError::UploadNotFound => upload_gone(),
        StoreError::UploadTooLarge => {
            DriveError::TooLarge("the parts would exceed the upload's announced size".into())
        }
        StoreError::QuotaExceeded { .. } => DriveError::TooLarge(match declared_len {
            Some(n) => format!("{n} bytes do not fit the remaining quota"),
            None => "the bytes sent so far do not fit the remaining quota".into(),
        }),
        other => other.into(),
    }
}

/// Why a PUT body stopped before the store saw its end.
enum BodyStop {
    /// The client's stream failed (went away, too slow, malformed).
    Source(String),
    /// No more bytes may be taken (quota, announced size, disk floor).
    Refused(DriveError),
}

impl std::fmt::Display for BodyStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyStop::Source(e) => write!(f, "{e}"),
            BodyStop::Refused(e) => write!(f, "{e}"),
        }
    }
}

/// Counts a PUT's bytes as they arrive and keeps its reservation (and disk
/// claim) ahead of them: a body of announced length may not pass it; one
/// without a length reserves [`RESERVE_STEP`] more whenever it runs out.
struct PutMeter {
    drive: Drive,
    upload_key: String,
    part: i64,
    growable: bool,
    received: u64,
    reserved: Arc<AtomicU64>,
    claim: Arc<Mutex<DiskClaim>>,
}

impl PutMeter {
    async fn admit(&mut self, len: u64) -> DriveResult<()> {
        self.received += len;
        let reserved = self.reserved.load(Ordering::SeqCst);
        if self.received <= reserved {
            return Ok(());
        }
        if !self.growable || self.received > MAX_PUT_BYTES {
            return Err(DriveError::TooLarge(format!(
                "more than the {reserved} bytes this PUT may carry"
            )));
        }
        let want = (self.received - reserved).max(RESERVE_STEP).min(MAX_PUT_BYTES - reserved);
        {
            let mut claim = self.claim.lock().unwrap_or_else(|e| e.into_inner());
            self.drive.grow_disk_claim(&mut claim, want)?;
        }
        let granted = self
            .drive
            .meta
            .reserve_upload_bytes(
                &self.upload_key,
                self.part,
                Reserve::AtMost(want as i64),
                now_ms(),
            )
            .await
            .map_err(|e| reservation_refused(e, None))? as u64;
        let reserved = self.reserved.fetch_add(granted, Ordering::SeqCst) + granted;
        if self.received > reserved {
            return Err(reservation_refused(StoreError::QuotaExceeded { space: true }, None));
        }
        Ok(())
    }
}

/// Disk bytes being written by uploads in flight, so that concurrent writes
/// together stay above the free-space floor (free space shows a write only
/// as it lands; until then its claim counts).
#[derive(Default)]
pub(crate) struct DiskInFlight(Mutex<u64>);

/// Disk room claimed by one write; given back when dropped.
struct DiskClaim {
    in_flight: Arc<DiskInFlight>,
    bytes: u64,
}

impl DiskInFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for DiskClaim {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock();
        *in_flight = in_flight.saturating_sub(self.bytes);
    }
}

/// The upload keys this node is committing.
#[derive(Default)]
pub(crate) struct Committing {
    keys: Mutex<std::collections::HashSet<String>>,
}

/// A key taken for one commit; given back when dropped (the commit runs in
/// a task of its own: its client going away does not give it back early).
struct CommitClaim {
    committing: Arc<Committing>,
    key: String,
}

impl Drop for CommitClaim {
    fn drop(&mut self) {
        let mut keys = self.committing.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.remove(&self.key);
    }
}

fn now_secs() -> i64 {
    now_ms() / 1000
}

/// Percent-encodes a query value (everything but unreserved characters).
pub(crate) fn query_escape(value: &str) -> String {
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
        self.signed_url_sized(base, method, key, file_name, None)
    }

    /// A signed URL that also carries, and signs, the size of the object it
    /// reads (`&size=`), so that the GET needs not ask the store for it.
    /// A signed GET URL of a served object of a known size.
    pub(crate) fn signed_object_url(
        &self,
        base: &str,
        key: &str,
        file_name: &str,
        size: u64,
    ) -> SignedUrl {
        self.signed_url_sized(base, "GET", key, file_name, Some(size))
    }

    fn signed_url_sized(
        &self,
        base: &str,
        method: &str,
        key: &str,
        file_name: &str,
        size: Option<u64>,
    ) -> SignedUrl {
        let ttl = self.options.signed_url_ttl_secs;
        let expires = now_secs() + ttl;
        let request = SignedRequest { method, object_key: key, expires, file_name };
        let signature = self.presigner.sign_sized(&request, size);
        let name = if file_name.is_empty() {
            String::new()
        } else {
            format!("&name={}", query_escape(file_name))
        };
        let size = size.map(|s| format!("&size={s}")).unwrap_or_default();
        SignedUrl {
            url: format!("{base}/blob/{key}?expires={expires}{name}{size}&signature={signature}"),
            expiration_seconds: ttl,
            headers: Vec::new(),
        }
    }

    /// The object store's own presigned PUT of `uploads/<uploadKey>/<part>`.
    async fn presigned_put(&self, upload_key: &str, part: i64) -> DriveResult<SignedUrl> {
        let ttl = self.options.signed_url_ttl_secs;
        let duration = std::time::Duration::from_secs(ttl.max(1) as u64);
        let presigned = self
            .blob
            .presign_put(&put_path(upload_key, part), duration)
            .await
            .map_err(DriveError::from)?;
        Ok(SignedUrl { url: presigned.url, expiration_seconds: ttl, headers: presigned.headers })
    }

    /// Where browsers send upload PUTs when the content store presigns its
    /// own URLs: that store's origin (`scheme://host[:port]`), for the
    /// console's Content-Security-Policy; `None` when uploads go to
    /// orgdrive itself.
    pub async fn upload_origin(&self) -> Option<String> {
        if !self.blob.presigns() {
            return None;
        }
        let key = put_path("origin", 0);
        let probe = self.blob.presign_put(&key, std::time::Duration::from_secs(60)).await;
        origin_of(&probe.ok()?.url)
    }

    /// The URL of a PUT of part `part` (0: a single upload): the store's own
    /// presigned one when it presigns, else orgdrive's signed `/blob` URL.
    async fn upload_url(&self, base: &str, upload_key: &str, part: i64) -> DriveResult<SignedUrl> {
        if self.blob.presigns() {
            self.presigned_put(upload_key, part).await
        } else {
            Ok(self.signed_url(base, "PUT", &put_path(upload_key, part), ""))
        }
    }

    fn check_signature(&self, request: &SignedRequest<'_>, signature: &str) -> DriveResult<()> {
        self.check_signature_sized(request, None, signature)
    }

    fn check_signature_sized(
        &self,
        request: &SignedRequest<'_>,
        size: Option<u64>,
        signature: &str,
    ) -> DriveResult<()> {
        self.presigner.verify_sized(request, size, signature, now_secs()).map_err(|e| {
            DriveError::SignatureRefused {
                expired: e == SignatureError::Expired,
                message: e.to_string(),
            }
        })
    }

    /// Bytes the space may still take: the tighter of its quota and the org capacity.
    async fn remaining_bytes(
        &self,
        space: &orgdrive_store::SpaceRecord,
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
            // A single upload's object is copied server-side at its commit.
            let max_copy = self.blob.max_copy_bytes();
            if !multipart && size as u64 > max_copy {
                return Err(beyond_one_copy(format!("{size} bytes"), max_copy));
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
        // Without preCheck.parentId the file may go anywhere: the root decides.
        let into = match &check.parent_id {
            Some(parent) => Place::Folder { folder_id: parent, field: "parentId" },
            None => Place::Root,
        };
        self.authorize(op, &space, into, Operation::Upload).await?;
        if let Some(parent) = &check.parent_id {
            if self.folder_path(&space.space_id, parent).await?.is_none() {
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
                StoreError::TooManyUploads { per_space } => DriveError::TooManyUploads(format!(
                    "the {} has {} open uploads; commit or let some expire first",
                    if per_space { "space" } else { "app" },
                    if per_space {
                        self.options.open_uploads.per_space
                    } else {
                        self.options.open_uploads.per_app
                    }
                )),
                // The space went meanwhile (deleted, or a reset emptied its org).
                StoreError::NotFound => crate::auth::unknown_space(&upload.space_id),
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
        let url = self.upload_url(base_url, &upload.upload_key, 0).await?;
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

    /// An open upload bound to `op`. Another app's key (of any org) is
    /// answered as a key that does not exist, so that no app learns whether
    /// a key is open elsewhere or when it expires; another person of the
    /// same app is told the key is not theirs.
    async fn own_upload(
        &self,
        op: &Operator,
        upload_key: &str,
    ) -> DriveResult<(UploadRecord, Vec<UploadPartRecord>)> {
        let unknown = || bad_upload_key(UNKNOWN_UPLOAD_KEY);
        let (upload, parts) = self.meta.get_upload(upload_key).await?.ok_or_else(unknown)?;
        if upload.app_id != op.app.app_id {
            return Err(unknown());
        }
        if upload.union_id != op.user.union_id {
            return Err(bad_upload_key("uploadKey belongs to another operator"));
        }
        if upload.expires_at <= now_ms() {
            return Err(bad_upload_key("uploadKey has expired"));
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
        let into = match &upload.check_parent_id {
            Some(parent) => Place::Folder { folder_id: parent, field: "parentId" },
            None => Place::Root,
        };
        self.authorize(op, &space, into, Operation::Upload).await?;
        let mut urls = Vec::with_capacity(part_numbers.len());
        for &n in part_numbers {
            urls.push((n, self.upload_url(base_url, upload_key, n).await?));
        }
        Ok(urls)
    }

    /// The blob route's PUT: checks the signature and the path's shape and
    /// that the upload is open, then stores the body as the part (see
    /// [`Drive::store_part`]) in a task of its own, so that a client going
    /// away mid-way cannot leave a half-settled reservation or a stray object.
    pub async fn receive_blob<S, E>(
        &self,
        path: &str,
        expires: i64,
        signature: &str,
        declared_len: Option<u64>,
        body: S,
    ) -> DriveResult<Written>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let request = SignedRequest { method: "PUT", object_key: path, expires, file_name: "" };
        self.check_signature(&request, signature)?;
        let target = parse_put_path(path).ok_or_else(no_such_object)?;
        let (upload, _) = self
            .meta
            .get_upload(&target.upload_key)
            .await?
            .filter(|(u, _)| u.expires_at > now_ms())
            .ok_or_else(upload_gone)?;
        if upload.multipart != (target.part > 0) {
            return Err(bad_upload_key("this URL does not match the upload's kind"));
        }
        if let Some(n) = declared_len.filter(|n| *n > MAX_PUT_BYTES) {
            return Err(DriveError::TooLarge(format!(
                "{n} bytes do not fit: one PUT carries at most {MAX_PUT_BYTES} bytes"
            )));
        }
        let drive = self.clone();
        let md5 = upload.check_md5.is_some() && target.part == 0;
        tokio::spawn(async move { drive.store_part(target, md5, declared_len, body).await })
            .await
            .map_err(|e| DriveError::Internal(format!("the upload task failed: {e}")))?
    }

    /// Streams `body` into a fresh content object through an upload of its
    /// own, opened for `op` in the space and stored as a single upload's PUT
    /// is (disk floor, bytes reserved against the quota as they arrive, at
    /// most [`MAX_PUT_BYTES`], nothing left behind on failure); answers the
    /// upload key and its recorded part, for a commit by the caller (WOPI
    /// PutFile), who commits it or calls [`Drive::discard_upload`].
    pub(crate) async fn receive_content<S, E>(
        &self,
        op: &Operator,
        space: &orgdrive_store::SpaceRecord,
        declared_len: Option<u64>,
        body: S,
    ) -> DriveResult<(String, UploadPartRecord)>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        if let Some(n) = declared_len.filter(|n| *n > MAX_PUT_BYTES) {
            return Err(DriveError::TooLarge(format!(
                "{n} bytes do not fit: one PUT carries at most {MAX_PUT_BYTES} bytes"
            )));
        }
        let now = now_ms();
        let upload = UploadRecord {
            upload_key: random_alnum(32),
            space_id: space.space_id.clone(),
            app_id: op.app.app_id.clone(),
            union_id: op.user.union_id.clone(),
            multipart: false,
            check_name: None,
            check_parent_id: None,
            check_size: None,
            check_md5: None,
            max_bytes: None,
            created_at: now,
            expires_at: now + self.options.upload_ttl_secs * 1000,
        };
        self.meta.insert_upload(&upload, &self.options.open_uploads).await.map_err(
            |e| match e {
                StoreError::TooManyUploads { .. } => {
                    DriveError::TooManyUploads("too many uploads are open; try again later".into())
                }
                StoreError::NotFound => crate::auth::unknown_space(&upload.space_id),
                other => other.into(),
            },
        )?;
        let target = PutTarget { upload_key: upload.upload_key.clone(), part: 0 };
        let drive = self.clone();
        let stored =
            tokio::spawn(async move { drive.store_part(target, false, declared_len, body).await })
                .await
                .map_err(|e| DriveError::Internal(format!("the upload task failed: {e}")))
                .and_then(|r| r);
        if let Err(e) = stored {
            self.discard_upload(&upload.upload_key).await;
            return Err(e);
        }
        let (_, mut parts) = self
            .meta
            .get_upload(&upload.upload_key)
            .await?
            .ok_or_else(|| bad_upload_key("the upload expired meanwhile"))?;
        let part = parts.pop().ok_or_else(|| DriveError::Internal("no part recorded".into()))?;
        Ok((upload.upload_key, part))
    }

    /// Removes an upload of [`Drive::receive_content`] that will not be
    /// committed, its reservation and its objects (a failure is logged: the
    /// upload sweeper removes what is left at expiry).
    pub(crate) async fn discard_upload(&self, upload_key: &str) {
        match self.meta.discard_wopi_upload(upload_key).await {
            Ok(objects) => {
                for object in &objects {
                    self.remove_object(object).await;
                }
            }
            Err(e) => {
                tracing::warn!(upload = %upload_key, error = %e, "could not discard an upload")
            }
        }
    }

    /// Stores one PUT's body as a part: claims disk room above the floor,
    /// reserves the bytes (`declared_len`, or as they arrive when the length
    /// is not announced), streams them into a fresh object and records it.
    /// Every failure releases the reservation and leaves no object behind,
    /// but a record whose answer was lost (`StoreError::OutcomeUnknown`):
    /// the part may then hold both.
    /// A single upload's small body of announced length is kept in the
    /// metadata store instead ([`Drive::store_inline_part`]).
    async fn store_part<S, E>(
        &self,
        target: PutTarget,
        md5: bool,
        declared_len: Option<u64>,
        body: S,
    ) -> DriveResult<Written>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        if let Some(len) = declared_len.filter(|n| *n <= self.meta.inline_object_limit()) {
            // Through orgdrive's own route only: a presigning store's
            // objects are all its own.
            if target.part == 0 && !self.blob.presigns() {
                return self.store_inline_part(target, md5, len, body).await;
            }
        }
        let announced = declared_len.unwrap_or(0);
        let claim = Arc::new(Mutex::new(self.claim_disk(announced)?));
        if announced > 0 {
            self.meta
                .reserve_upload_bytes(
                    &target.upload_key,
                    target.part,
                    Reserve::Exactly(announced as i64),
                    now_ms(),
                )
                .await
                .map_err(|e| reservation_refused(e, declared_len))?;
        }
        let reserved = Arc::new(AtomicU64::new(announced));
        let meter = PutMeter {
            drive: self.clone(),
            upload_key: target.upload_key.clone(),
            part: target.part,
            growable: declared_len.is_none(),
            received: 0,
            reserved: reserved.clone(),
            claim: claim.clone(),
        };
        let metered =
            futures::stream::unfold((Box::pin(body), meter), |(mut body, mut meter)| async move {
                let item = match body.next().await? {
                    Err(e) => Err(BodyStop::Source(e.to_string())),
                    Ok(chunk) => match meter.admit(chunk.len() as u64).await {
                        Ok(()) => Ok(chunk),
                        Err(refused) => Err(BodyStop::Refused(refused)),
                    },
                };
                Some((item, (body, meter)))
            });

        let object = fresh_object(&target, !self.blob.presigns());
        let written = self.blob.write_stream(&object, metered, Some(MAX_PUT_BYTES), md5).await;
        let held = reserved.load(Ordering::SeqCst) as i64;
        let written = match written {
            Ok(written) => written,
            Err(failure) => {
                self.release(&target.upload_key, held).await;
                return Err(match failure {
                    WriteError::TooLarge { limit } => {
                        DriveError::TooLarge(format!("one PUT carries at most {limit} bytes"))
                    }
                    WriteError::Source(BodyStop::Refused(refused)) => refused,
                    WriteError::Source(BodyStop::Source(e)) => {
                        tracing::debug!(error = %e, "an upload body ended early");
                        interrupted()
                    }
                    WriteError::Blob(e) => DriveError::from(e),
                });
            }
        };
        drop(claim); // the bytes are on disk: free space shows them now
        let part_record = UploadPartRecord {
            part_number: target.part,
            size: written.size as i64,
            md5: written.md5.clone(),
            object_key: object.clone(),
        };
        match self.meta.record_upload_part(&target.upload_key, &part_record, held).await {
            Ok(PartRecorded::Recorded { replaced }) => {
                if let Some(old) = replaced {
                    self.remove_object(&old).await;
                }
                Ok(written)
            }
            Ok(PartRecorded::UploadGone) => {
                // Its removal released everything it held.
                self.remove_object(&object).await;
                Err(bad_upload_key("the upload was committed or expired meanwhile"))
            }
            // The answer was lost: read back, the upload tells whether the
            // part was recorded. If it may have been, it holds the
            // reservation and names this object: both kept. Not recorded,
            // the reservation goes with the upload (its commit or expiry),
            // a part's object with its upload's prefix, a single upload's
            // through `fsck --repair`.
            Err(e) if !e.wrote_nothing() => {
                match self.recorded_after_all(&target.upload_key, &object).await {
                    true => Ok(written),
                    false => Err(e.into()),
                }
            }
            Err(e) => {
                self.release(&target.upload_key, held).await;
                self.remove_object(&object).await;
                Err(e.into())
            }
        }
    }

    /// Stores a single upload's body of `len` bytes (at most the metadata
    /// store's inline limit) in the metadata store: reserves the bytes
    /// before reading any (as every PUT of announced length does), reads
    /// them into memory (never more than `len`), and records the part with
    /// its bytes in one durable transaction. No file, no fsync of its own.
    /// Every failure releases the reservation, but a record whose answer
    /// was lost (`StoreError::OutcomeUnknown`): the part may then hold it.
    async fn store_inline_part<S, E>(
        &self,
        target: PutTarget,
        md5: bool,
        len: u64,
        body: S,
    ) -> DriveResult<Written>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let declared = Some(len);
        let _claim = self.claim_disk(len)?;
        if len > 0 {
            self.meta
                .reserve_upload_bytes(&target.upload_key, 0, Reserve::Exactly(len as i64), now_ms())
                .await
                .map_err(|e| reservation_refused(e, declared))?;
        }
        let received = read_exactly(body, len).await;
        let bytes = match received {
            Ok(bytes) => bytes,
            Err(e) => {
                self.release(&target.upload_key, len as i64).await;
                return Err(e);
            }
        };
        let md5 = md5.then(|| {
            use md5::Digest;
            hex::encode(md5::Md5::digest(&bytes))
        });
        let part = UploadPartRecord {
            part_number: 0,
            size: len as i64,
            md5: md5.clone(),
            object_key: fresh_inline_object(),
        };
        let recorded =
            self.meta.record_inline_part(&target.upload_key, &part, bytes.into(), len as i64).await;
        match recorded {
            Ok(PartRecorded::Recorded { replaced }) => {
                if let Some(old) = replaced {
                    self.remove_object(&old).await;
                }
                Ok(Written { size: len, md5 })
            }
            // Its removal released everything it held.
            Ok(PartRecorded::UploadGone) => {
                Err(bad_upload_key("the upload was committed or expired meanwhile"))
            }
            // The answer was lost: as in `store_part`.
            Err(e) if !e.wrote_nothing() => {
                match self.recorded_after_all(&target.upload_key, &part.object_key).await {
                    true => Ok(Written { size: len, md5 }),
                    false => Err(e.into()),
                }
            }
            Err(e) => {
                self.release(&target.upload_key, len as i64).await;
                Err(e.into())
            }
        }
    }

    /// Gives back a failed PUT's reservation (logged if that fails: fsck
    /// reports, a restart resets).
    async fn release(&self, upload_key: &str, bytes: i64) {
        if bytes == 0 {
            return;
        }
        if let Err(e) = self.meta.release_upload_bytes(upload_key, bytes).await {
            tracing::warn!(upload = %upload_key, error = %e, "could not release a reservation");
        }
    }

    /// Claims `bytes` of disk room above the free-space floor for a write
    /// (507 if there is not that much), counting what writes in flight claimed.
    fn claim_disk(&self, bytes: u64) -> DriveResult<DiskClaim> {
        let mut claim = DiskClaim { in_flight: self.disk_in_flight.clone(), bytes: 0 };
        self.grow_disk_claim(&mut claim, bytes)?;
        Ok(claim)
    }

    fn grow_disk_claim(&self, claim: &mut DiskClaim, more: u64) -> DriveResult<()> {
        let Some(free) = self.blob.free_bytes().map_err(DriveError::from)? else {
            return Ok(()); // no local disk to watch
        };
        let mut in_flight = claim.in_flight.lock();
        let room = free.saturating_sub(self.options.min_free_disk_bytes).saturating_sub(*in_flight);
        if room == 0 || more > room {
            return Err(DriveError::DiskFull(
                "the server is low on disk space; uploads are refused for now".into(),
            ));
        }
        *in_flight += more;
        claim.bytes += more;
        Ok(())
    }

    /// Removes what interrupted writes left in `.incoming/` (nothing has
    /// written to such a file for [`FSCK_GRACE_SECS`]; a live PUT writes to
    /// its file at least every minute, `orgdrive-blob`'s `TOUCH_INTERVAL`).
    pub(crate) async fn sweep_incoming(&self) -> DriveResult<usize> {
        if !self.blob.stages_writes() {
            // Nothing to sweep, and an object store's listing is not free.
            return Ok(0);
        }
        let settled_before = now_ms() / 1000 - FSCK_GRACE_SECS;
        let stale: Vec<String> = self
            .blob
            .list(".incoming/")
            .await
            .map_err(DriveError::from)?
            .into_iter()
            .filter(|o| o.modified_unix.is_some_and(|t| t < settled_before))
            .map(|o| o.key)
            .collect();
        for key in &stale {
            self.remove_object(key).await;
        }
        Ok(stale.len())
    }

    /// Removes an object nothing references any more; a failure is logged
    /// (fsck finds what is left).
    pub(crate) async fn remove_object(&self, key: &str) {
        if let Err(e) = self.delete_object(key).await {
            tracing::warn!(object = %key, error = %e, "could not remove an unreferenced object");
        }
    }

    /// Takes `upload_key` for this node's one commit of it at a time.
    fn begin_commit(&self, upload_key: &str) -> DriveResult<CommitClaim> {
        let mut keys = self.committing.keys.lock().unwrap_or_else(|p| p.into_inner());
        if !keys.insert(upload_key.to_string()) {
            // 503: asking again later may succeed (if that commit fails),
            // or find the upload committed.
            return Err(DriveError::Busy(
                "a commit of this uploadKey is already in progress; try again shortly".into(),
            ));
        }
        Ok(CommitClaim { committing: Arc::clone(&self.committing), key: upload_key.to_string() })
    }

    /// CommitFile: turns a completed upload into a file, charging its bytes to
    /// the space and org in the same transaction. It runs in a task of its
    /// own: a client going away cannot stop it between the concatenation, the
    /// transaction and the clean-up.
    pub async fn commit_file(
        &self,
        op: &Operator,
        space_id: &str,
        request: CommitRequest,
    ) -> DriveResult<DentryView> {
        let (drive, op, space_id) = (self.clone(), op.clone(), space_id.to_string());
        tokio::spawn(async move { drive.commit_file_now(&op, &space_id, request).await })
            .await
            .map_err(|e| DriveError::Internal(format!("the commit task failed: {e}")))?
    }

    async fn commit_file_now(
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
        // overwriteDentryId: commit as a new version of that file (the store
        // overwrites it by id, wherever a rename or move put it meanwhile).
        let overwrite_id = request.overwrite_dentry_id.clone().filter(|t| !t.is_empty());
        let (name, parent_id, strategy) = match &request.overwrite_dentry_id {
            Some(target) if !target.is_empty() => {
                let file = self.live_dentry(&space.space_id, target, "overwriteDentryId").await?;
                if file.is_folder() {
                    return Err(DriveError::param("overwriteDentryId", "a folder has no content"));
                }
                self.authorize(op, &space, Place::Dentry(&file), Operation::Upload).await?;
                (file.name, file.parent_id, ConflictStrategy::Overwrite)
            }
            _ => {
                let name = names::dentry_name("name", request.name.as_deref().unwrap_or_default())?;
                let parent_id = request
                    .parent_id
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| DriveError::param("parentId", "parentId is required"))?;
                let into = Place::Folder { folder_id: &parent_id, field: "parentId" };
                self.authorize(op, &space, into, Operation::Upload).await?;
                (name, parent_id, strategy)
            }
        };

        self.check_placement(&space.space_id, &parent_id, &name).await?;
        let (upload, parts) = self.own_upload(op, &upload_key).await?;
        if upload.space_id != space.space_id {
            return Err(bad_upload_key("uploadKey belongs to another space"));
        }
        // A commit copies what was uploaded and may read it all for its MD5:
        // commits of one key sent at once would each do so (a review made
        // one 64 MiB PUT cost 1 GiB of copies and reads with 16).
        let _claim = self.begin_commit(&upload_key)?;
        let announced = [request.size, upload.check_size];
        let staged = if self.blob.presigns() {
            match self.stage_presigned(&upload, announced).await {
                // A racing commit of the same key (or the sweeper) removed
                // what was PUT while this one copied it: the store may say
                // so with any error (s3s-fs: a 500), never a 500 here.
                Err(DriveError::Internal(e)) => {
                    return Err(match self.meta.get_upload(&upload_key).await {
                        Ok(None) => bad_upload_key("uploadKey was committed or expired meanwhile"),
                        _ => DriveError::Internal(e),
                    });
                }
                staged => staged?,
            }
        } else {
            self.stage_received(&upload, &parts, announced).await?
        };
        let Staged { object, size, md5, sources, owned } = staged;
        // What this commit made is not kept when it fails.
        let discard = |drive: &Drive| {
            let object = object.clone();
            let drive = drive.clone();
            async move {
                if owned {
                    drive.remove_object(&object).await;
                }
            }
        };
        if let Some(expected) = &upload.check_md5 {
            let md5 = match md5 {
                Some(md5) if md5 == *expected => md5,
                // Unknown, or an ETag that may not be an MD5 (encryption):
                // the bytes decide.
                _ if self.blob.presigns() => match self.blob.md5(&object).await {
                    Ok(md5) => md5,
                    Err(e) => {
                        discard(self).await;
                        return Err(DriveError::from(e));
                    }
                },
                other => other.unwrap_or_default(),
            };
            if *expected != md5 {
                discard(self).await;
                // These bytes can never commit (the MD5 was fixed when the
                // upload opened): they go, so that asking again costs the
                // store no copy and no read, only a HEAD finding nothing.
                if self.blob.presigns() {
                    self.remove_upload_objects(&upload_key, upload.multipart).await;
                }
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
            overwrite_dentry_id: overwrite_id.clone(),
            conflict: strategy.for_store(&name, false),
            dentry: file,
            corp_id: space.corp_id.clone(),
            upload_key: Some(upload_key.clone()),
            upload_objects: sources.clone(),
            app_properties: properties,
        };
        let put_result = match self.meta.put_dentry(&put).await {
            // The answer was lost: the file, if it reads back naming this
            // object, was committed.
            Err(e) if !e.wrote_nothing() => match self.committed_after_all(&put, &object).await {
                Some(stored) => Ok(PutOutcome::Created(stored)),
                None => Err(e),
            },
            answered => answered,
        };
        self.forget_space(&space.space_id);
        let outcome = match put_result {
            Ok(outcome) => outcome,
            Err(e) => {
                if e.wrote_nothing() {
                    discard(self).await;
                } else {
                    // The store may have committed (its answer was lost;
                    // not seen yet): the file would then name this object.
                    // Kept; if no file names it, `fsck` lists it and
                    // `--repair` removes it.
                    tracing::warn!(object = %object, error = %e,
                        "a commit's outcome is unknown: its content object is kept");
                }
                return Err(match e {
                    StoreError::UploadChanged => {
                        bad_upload_key("a part was uploaded again meanwhile; commit again")
                    }
                    StoreError::NotFound if overwrite_id.is_some() => unknown_dentry(
                        "overwriteDentryId",
                        overwrite_id.as_deref().unwrap_or_default(),
                    ),
                    e => put_dentry_error(e, &space.space_id, &parent_id),
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
        if self.blob.presigns() {
            self.remove_upload_objects(&upload_key, upload.multipart).await;
        }
        self.thumbnail_later(&stored);
        self.stored_view(op, stored).await
    }

    /// Whether the upload reads back with a part naming `object` (a fresh
    /// object no other PUT names): its record committed though its answer
    /// was lost. False when it cannot tell (not seen, or the read failed).
    async fn recorded_after_all(&self, upload_key: &str, object: &str) -> bool {
        let found = self.meta.get_upload(upload_key).await;
        matches!(found, Ok(Some((_, parts))) if parts.iter().any(|p| p.object_key == object))
    }

    /// The file `put` made, if it reads back live naming `object` (a fresh
    /// object no other write names): the put committed though its answer
    /// was lost. `None` when it cannot tell (not seen, or the read failed).
    async fn committed_after_all(
        &self,
        put: &PutDentry,
        object: &str,
    ) -> Option<orgdrive_store::DentryRecord> {
        let id = put.overwrite_dentry_id.as_deref().unwrap_or(&put.dentry.dentry_id);
        let found = self.meta.get_dentry(&put.dentry.space_id, id).await.ok()??;
        (found.status == "NORMAL" && found.blob_key.as_deref() == Some(object)).then_some(found)
    }

    /// The content of an upload whose PUTs orgdrive received and recorded:
    /// a single upload's object as it is, parts concatenated into a fresh
    /// object (streaming; a second copy of the bytes).
    async fn stage_received(
        &self,
        upload: &UploadRecord,
        parts: &[UploadPartRecord],
        announced: [Option<i64>; 2],
    ) -> DriveResult<Staged> {
        let upload_key = &upload.upload_key;
        let size: i64 = parts.iter().map(|p| p.size).sum();
        let md5 = if upload.multipart {
            if parts.is_empty() {
                return Err(bad_upload_key("no part has been uploaded"));
            }
            if let Some(gap) = (1..).zip(parts).find(|(n, p)| p.part_number != *n) {
                return Err(bad_upload_key(format!("part {} is missing", gap.0)));
            }
            check_part_sizes(parts.iter().map(|p| p.size as u64))?;
            None
        } else {
            match parts {
                [single] => single.md5.clone(),
                _ => return Err(bad_upload_key("nothing has been uploaded for this uploadKey")),
            }
        };
        check_size(size, announced)?;
        let sources: Vec<String> = parts.iter().map(|p| p.object_key.clone()).collect();
        if !upload.multipart {
            return Ok(Staged { object: sources[0].clone(), size, md5, sources, owned: false });
        }
        // The concatenation is a second copy of the parts' bytes.
        let _claim = self.claim_disk(size as u64)?;
        let object = fresh_content_object();
        let want_md5 = upload.check_md5.is_some();
        match self.blob.concat(&sources, &object, want_md5).await {
            Ok(written) => Ok(Staged { object, size, md5: written.md5, sources, owned: true }),
            Err(e) => {
                self.remove_object(&object).await;
                // A racing commit of the same key (or the sweeper, or a
                // re-uploaded part) took a part away.
                Err(match self.meta.get_upload(upload_key).await? {
                    None => bad_upload_key("uploadKey was committed or expired meanwhile"),
                    Some((_, now)) if now != parts => {
                        bad_upload_key("a part was uploaded again meanwhile; commit again")
                    }
                    Some(_) => DriveError::Internal(e.to_string()),
                })
            }
        }
    }

    /// The content of an upload PUT straight to a presigning store: what
    /// arrived under `uploads/<uploadKey>/` is copied inside the store, out
    /// of reach of the upload URLs (still valid until they expire) — one
    /// object to `objects/<random>`; several parts to `chunks/<name>/<n>`
    /// with a manifest `manifests/<name>` — and measured on the copies, so
    /// a PUT racing the commit cannot change what is checked and kept.
    async fn stage_presigned(
        &self,
        upload: &UploadRecord,
        announced: [Option<i64>; 2],
    ) -> DriveResult<Staged> {
        let internal = DriveError::from;
        let prefix = upload_prefix(&upload.upload_key);
        // The parts and their sizes: a single upload's one object is asked
        // for (a HEAD); a multipart upload's parts are listed (S3 listings
        // cost the store far more than a HEAD — s3s-fs walks the bucket).
        let (sources, sizes): (Vec<i64>, std::collections::HashMap<i64, u64>) = if upload.multipart
        {
            let mut listed: Vec<(i64, u64)> = self
                .blob
                .list(&prefix)
                .await
                .map_err(internal)?
                .iter()
                .filter_map(|o| Some((o.key.strip_prefix(&prefix)?.parse().ok()?, o.size)))
                .filter(|(n, _)| (1..=MAX_PART_NUMBER).contains(n))
                .collect();
            listed.sort_unstable();
            if listed.is_empty() {
                return Err(bad_upload_key("no part has been uploaded"));
            }
            if let Some((n, _)) = (1..).zip(&listed).find(|(n, (p, _))| *p != *n) {
                return Err(bad_upload_key(format!("part {n} is missing")));
            }
            check_part_sizes(listed.iter().map(|(_, size)| *size))?;
            (listed.iter().map(|(n, _)| *n).collect(), listed.into_iter().collect())
        } else {
            match self.blob.stat(&format!("{prefix}0")).await.map_err(internal)? {
                Some(stat) if !stat.served_as_is() => return Err(encoded_upload(&stat)),
                Some(stat) => (vec![0], [(0, stat.size)].into()),
                None => return Err(bad_upload_key("nothing has been uploaded for this uploadKey")),
            }
        };
        // Cheap refusals before any copy or read-back (a review found that a
        // commit bound to fail still copied every part, and read them all for
        // an MD5): the listed sizes against the announced size and the room
        // left. The commit's transaction stays the authority.
        let listed_total: i64 = sources.iter().map(|n| sizes.get(n).map_or(0, |s| *s as i64)).sum();
        check_size(listed_total, announced)?;
        if let Some(space) = self.meta.get_space(&upload.space_id).await? {
            if let Some(remaining) = self.remaining_bytes(&space).await? {
                if listed_total > remaining {
                    return Err(DriveError::QuotaExceeded(format!(
                        "{listed_total} bytes do not fit: {remaining} bytes are left"
                    )));
                }
            }
        }
        let gone = || bad_upload_key("an uploaded part is gone (expired or committed meanwhile)");
        // Parts S3 can join into one object (all but the last ≥ 5 MiB): one
        // object, downloaded on a presigned URL like a single upload's.
        let composable = sources.len() > 1
            && self.blob.composes()
            && sources[..sources.len() - 1]
                .iter()
                .all(|n| sizes.get(n).is_some_and(|s| *s >= orgdrive_blob::MIN_COMPOSE_PART));
        // Objects copied one by one (all but composed parts) must fit one
        // server-side copy (OSS: 1 GiB): refused here, not answered a 500
        // by the store after the copy was asked for.
        let max_copy = self.blob.max_copy_bytes();
        if !composable {
            let beyond = sources.iter().find_map(|n| sizes.get(n).filter(|s| **s > max_copy));
            if let Some(size) = beyond {
                let what = if upload.multipart { "a part of" } else { "an upload of" };
                return Err(beyond_one_copy(format!("{what} {size} bytes"), max_copy));
            }
        }
        let whole = if let [part] = sources[..] {
            let object = random_content_object();
            Some((
                object.clone(),
                self.blob.copy(&put_path(&upload.upload_key, part), &object).await,
            ))
        } else if composable {
            let object = random_content_object();
            let keys: Vec<String> =
                sources.iter().map(|n| put_path(&upload.upload_key, *n)).collect();
            match self.blob.compose(&keys, &object).await {
                // A store that cannot serve now would fail the parts' copies
                // too (each tried again): the commit is answered 503 instead.
                Err(e) if !e.is_not_found() && !e.is_unavailable() => {
                    // E.g. a part re-PUT smaller meanwhile: parts are kept apart.
                    tracing::warn!(error = %e, "could not compose the parts; keeping a manifest");
                    self.remove_object(&object).await; // in case the store joined them after all
                    None
                }
                composed => Some((object, composed)),
            }
        } else {
            None
        };
        if let Some((object, copied)) = whole {
            let stat = match copied {
                Ok(()) => self.blob.stat(&object).await,
                Err(e) if e.is_not_found() => return Err(gone()),
                Err(e) => Err(e),
            };
            let stat = match stat {
                Ok(Some(stat)) => stat,
                other => {
                    self.remove_object(&object).await;
                    return Err(match other {
                        Err(e) => internal(e),
                        Ok(_) => gone(),
                    });
                }
            };
            // A copy keeps its source's metadata on S3: a part PUT with an
            // encoding (multipart: the LIST does not tell) is refused here.
            if !stat.served_as_is() {
                self.remove_object(&object).await;
                return Err(encoded_upload(&stat));
            }
            let staged = Staged {
                object,
                size: stat.size as i64,
                md5: stat.etag_md5,
                sources: Vec::new(),
                owned: true,
            };
            if let Err(e) = check_size(staged.size, announced) {
                self.remove_object(&staged.object).await;
                return Err(e);
            }
            return Ok(staged);
        }
        let name = random_alnum(32);
        let chunk_prefix = format!("chunks/{name}/");
        // Once a copy failed, no other starts (a store that cannot serve now
        // would be asked for every part, each tried again); those under way
        // are waited for, so that the clean-up below finds what they made.
        let failed = std::sync::atomic::AtomicBool::new(false);
        let copies = futures::stream::iter(sources)
            .map(|n| {
                let (from, to) = (put_path(&upload.upload_key, n), format!("{chunk_prefix}{n}"));
                let failed = &failed;
                async move {
                    if failed.load(std::sync::atomic::Ordering::Relaxed) {
                        return Ok(None);
                    }
                    let copied = async {
                        self.blob.copy(&from, &to).await?;
                        self.blob.stat(&to).await
                    };
                    match copied.await {
                        Ok(stat) => Ok(Some((to, stat.map(|s| s.size)))),
                        Err(e) => {
                            failed.store(true, std::sync::atomic::Ordering::Relaxed);
                            Err(e)
                        }
                    }
                }
            })
            .buffered(8)
            .collect::<Vec<_>>()
            .await;
        let mut parts = Vec::with_capacity(copies.len());
        let mut failure = None;
        for copy in copies {
            match copy {
                Ok(None) => {} // not started: another failed
                Ok(Some((key, Some(size)))) => parts.push(ManifestPart { key, size }),
                Ok(Some((_, None))) => failure = Some(gone()),
                Err(e) if e.is_not_found() => failure = Some(gone()),
                Err(e) => failure = Some(internal(e)),
            }
        }
        let object = format!("{}{name}", orgdrive_blob::MANIFEST_PREFIX);
        let written = match failure {
            Some(e) => Err(e),
            None => {
                // The copies' own sizes are checked again: a part PUT again
                // smaller after the LIST was copied as it is now.
                let manifest = Manifest::new(parts);
                let size = manifest.size as i64;
                let checked = check_part_sizes(manifest.parts.iter().map(|p| p.size))
                    .and_then(|()| check_size(size, announced));
                match checked {
                    Ok(()) => self
                        .blob
                        .write_manifest(&object, &manifest)
                        .await
                        .map(|()| size)
                        .map_err(internal),
                    Err(e) => Err(e),
                }
            }
        };
        match written {
            Ok(size) => Ok(Staged { object, size, md5: None, sources: Vec::new(), owned: true }),
            Err(e) => {
                if let Err(e) = self.blob.delete_prefix(&chunk_prefix).await {
                    tracing::warn!(prefix = %chunk_prefix, error = %e, "could not remove copies");
                }
                Err(e)
            }
        }
    }

    /// Removes what was PUT for an upload on a presigning store (logged if
    /// that fails: the sweeper removes strays). A single upload's URL can
    /// write one key, deleted as such; parts take a listing of the prefix.
    async fn remove_upload_objects(&self, upload_key: &str, multipart: bool) {
        let prefix = upload_prefix(upload_key);
        let removed = if multipart {
            self.blob.delete_prefix(&prefix).await
        } else {
            self.blob.delete(&format!("{prefix}0")).await
        };
        if let Err(e) = removed {
            tracing::warn!(upload = %upload_key, error = %e, "could not remove upload objects");
        }
    }

    /// Objects under `uploads/` whose upload is no longer open — PUT to an
    /// upload URL after its upload was committed (the URL stays valid until
    /// it expires), or left by a failed clean-up — once no URL could still
    /// write them: older than the signed-URL lifetime and the sweep grace.
    /// The listing is read as it comes (a page at a time on object stores,
    /// by key, so an upload's objects come together), never held whole: its
    /// length grows with open uploads and their parts. Objects a start-up
    /// probe left under `probes/` go too.
    pub(crate) async fn sweep_stray_uploads(&self) -> DriveResult<usize> {
        use futures::TryStreamExt;
        let settled_before = now_secs() - self.options.signed_url_ttl_secs - SWEEP_GRACE_SECS;
        let mut listed = self.blob.list_raw_stream("uploads/").await?;
        let (mut looked_at, mut swept) = (String::new(), 0);
        while let Some(object) = listed.try_next().await? {
            let Some(key) = object.key.split('/').nth(1).filter(|k| is_upload_key(k)) else {
                continue;
            };
            if key == looked_at || object.modified_unix.is_none_or(|t| t >= settled_before) {
                continue;
            }
            looked_at = key.to_string();
            if self.meta.get_upload(key).await?.is_none() {
                self.remove_upload_objects(key, true).await;
                swept += 1;
            }
        }
        // What a start-up probe of the store left (a node stopped mid-probe,
        // `BlobStore::presigned_puts_copy_unsigned_sources`): a probe takes
        // seconds, these are hours old.
        let mut probes = self.blob.list_raw_stream("probes/").await?;
        while let Some(object) = probes.try_next().await? {
            if object.modified_unix.is_some_and(|t| t < settled_before) {
                self.remove_object(&object.key).await;
                swept += 1;
            }
        }
        Ok(swept)
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
        self.authorize(op, &space, Place::Dentry(&file), Operation::GetFileDownloadInfo).await?;
        if file.is_folder() {
            return Err(DriveError::param("dentryId", format!("{dentry_id} is a folder")));
        }
        let (key, size) = match version {
            None => (file.blob_key.clone(), file.size),
            Some(v) if v == file.version => (file.blob_key.clone(), file.size),
            Some(v) => match self.meta.get_version(&file.dentry_id, v).await? {
                Some(old) => (Some(old.blob_key), old.size),
                None => {
                    return Err(DriveError::param("version", format!("version {v} does not exist")))
                }
            },
        };
        let key = key.ok_or_else(|| DriveError::Internal("file without content".into()))?;
        let size = u64::try_from(size)
            .map_err(|_| DriveError::Internal(format!("file {dentry_id} has size {size}")))?;
        if self.blob.presigns() && !orgdrive_blob::is_manifest_key(&key) && in_content_store(&key) {
            let ttl = self.options.signed_url_ttl_secs;
            let duration = std::time::Duration::from_secs(ttl.max(1) as u64);
            // The type orgdrive's own route answers, by the name.
            let content_type = mime_guess::from_path(&file.name).first_or_octet_stream();
            let presigned = self
                .blob
                .presign_get(
                    &key,
                    duration,
                    &attachment_disposition(&file.name),
                    content_type.as_ref(),
                )
                .await
                .map_err(DriveError::from)?;
            return Ok(SignedUrl {
                url: presigned.url,
                expiration_seconds: ttl,
                headers: presigned.headers,
            });
        }
        Ok(self.signed_url_sized(base_url, "GET", &key, &file.name, Some(size)))
    }

    /// The blob route's GET/HEAD: verifies the URL (with the object's size,
    /// if it carries one), checks that the path names a content object and
    /// returns the object's size: the signed one, else (URLs issued before
    /// sizes were signed) the store's.
    pub async fn open_blob(
        &self,
        object_key: &str,
        expires: i64,
        file_name: &str,
        size: Option<u64>,
        signature: &str,
    ) -> DriveResult<BlobObject> {
        let request = SignedRequest { method: "GET", object_key, expires, file_name };
        self.check_signature_sized(&request, size, signature)?;
        if !is_content_object(object_key) {
            return Err(no_such_object());
        }
        let size = match size {
            Some(size) => size,
            None => self.object_size(object_key).await?.ok_or_else(no_such_object)?,
        };
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
                if self.blob.presigns() {
                    self.remove_upload_objects(&upload.upload_key, true).await;
                } else {
                    // Parts written but never recorded (a crash mid-PUT).
                    let prefix = format!("parts/{}/", upload.upload_key);
                    if let Err(e) = self.blob.delete_prefix(&prefix).await {
                        tracing::warn!(upload = %upload.upload_key, error = %e, "could not remove parts");
                    }
                }
            }
            swept += expired.len();
        }
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains(['@', ' ', ';', '\'', '"']) {
        return None;
    }
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PUT's object is named in time order on the local disk only: an
    /// object store gets random names (its load spreads by key prefix).
    #[test]
    fn only_local_objects_are_named_in_time_order() {
        let target = PutTarget { upload_key: "k".repeat(32), part: 0 };
        let before = crate::ids::time_ordered_alnum(8);
        let (local, remote) = (fresh_object(&target, true), fresh_object(&target, false));
        let after = crate::ids::time_ordered_alnum(8);
        let prefix = |object: &str| object["objects/".len()..][..6].to_string();
        let now = [before[..6].to_string(), after[..6].to_string()];
        assert!(now.contains(&prefix(&local)), "{local} is not named by the time {now:?}");
        assert!(!now.contains(&prefix(&remote)), "{remote} is named by the time {now:?}");
        let part = fresh_object(&PutTarget { part: 3, ..target }, true);
        assert!(part.starts_with(&format!("parts/{}/3-", "k".repeat(32))), "{part}");
    }

    /// Content objects made later sort later (the index of dentries by
    /// object grows at its right edge) and stay valid object names.
    #[test]
    fn content_objects_sort_by_creation() {
        let first = fresh_content_object();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = fresh_content_object();
        for object in [&first, &second] {
            let name = object.strip_prefix("objects/").expect("under objects/");
            assert!(name.len() == 32 && is_object_name(name), "{object}");
        }
        assert!(first < second, "{first} !< {second}");
    }

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
            format!("uploads/{key}/00"),
            format!("uploads/{key}/007"),
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
        assert!(is_content_object(&format!("thumbs/{key}")));
        assert!(is_content_object(&format!("manifests/{key}")));
        for bad in ["manifests/", "manifests/a/b", "chunks/a/1", "uploads/a/0", "manifests/../x"] {
            assert!(!is_content_object(bad), "{bad}");
        }
        for bad in [
            "objects/",
            "thumbs/",
            "thumbs/../signing.key",
            "thumbs/a/b",
            "thumbsx/abc",
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
    fn presigned_downloads_name_the_file() {
        assert_eq!(
            attachment_disposition("年度 \"x\".pdf"),
            "attachment; filename=\"__ _x_.pdf\"; filename*=UTF-8''%E5%B9%B4%E5%BA%A6%20%22x%22.pdf"
        );
    }

    #[test]
    fn announced_sizes_must_all_match() {
        assert!(check_size(5, [None, None]).is_ok());
        assert!(check_size(5, [Some(5), Some(5)]).is_ok());
        assert!(check_size(5, [Some(5), Some(6)]).is_err());
        assert!(check_size(5, [None, Some(4)]).is_err());
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("a b/数.txt"), "a%20b%2F%E6%95%B0.txt");
    }

    #[test]
    fn an_origin_is_scheme_and_authority_only() {
        let origin = |u: &str| origin_of(u);
        assert_eq!(
            origin("http://127.0.0.1:9000/bucket/k?X-Amz=1").as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(
            origin("https://b.oss-cn-hangzhou.aliyuncs.com/k").as_deref(),
            Some("https://b.oss-cn-hangzhou.aliyuncs.com")
        );
        assert_eq!(origin("https://host?x").as_deref(), Some("https://host"));
        assert_eq!(origin("ftp://host/x"), None);
        assert_eq!(origin("https://user@host/x"), None, "no credentials in a policy");
        assert_eq!(origin("https://a;b/x"), None, "nothing that ends a CSP directive");
        assert_eq!(origin("not a url"), None);
    }
}
