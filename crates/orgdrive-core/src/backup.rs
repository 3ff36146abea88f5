//! Backups (`orgdrive backup`, `restore`, `backup verify`): the hold that
//! keeps the trash from deleting content a backup still copies, which stored
//! objects a metadata snapshot references, the incremental copy of those
//! objects with their checksums, the manifest that says what a backup holds,
//! and the check of a backup against it. The binary takes the metadata
//! snapshot itself (a store's own tool) and drives these steps.
//!
//! A backup target (a directory or a bucket, as a [`BlobStore`]) holds:
//! - `content/<key>`: the content store's objects under their own keys
//!   (small objects kept inline in the metadata store are not copied here:
//!   they are in the metadata snapshot, which every backup copies whole, so
//!   they are not incremental),
//!   shared by every snapshot (an object never changes once written, so a
//!   copy made for one backup serves every later one: backups after the
//!   first copy only new objects);
//! - `snapshots/<id>/meta.sqlite` and `snapshots/<id>/signing.key`: one
//!   backup's metadata and signing key;
//! - `snapshots/<id>/manifest.json`, written last: a snapshot without it is
//!   incomplete (interrupted) and ignored. A backup reuses only objects
//!   that the last complete manifest lists (with their size); it copies
//!   anything else again, so what an interrupted run left is never trusted.
//!
//! Why the hold: a backup copies objects after it took its metadata
//! snapshot, and a file deleted meanwhile would lose its object to the
//! trash. While a backup holds [`BACKUP_JOB`], nothing is deleted from the
//! trash; the sweeper empties it once the hold is gone. A holder renews its
//! claim; a killed one's lapses within [`BACKUP_HOLD_MS`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::StreamExt;

use orgdrive_blob::{
    is_manifest_key, BlobError, BlobStore, CopyProgress, CopyThreads, Fingerprint,
};
use orgdrive_store::{Lease, MetaStore};
use serde::{Deserialize, Serialize};

use crate::{Drive, DriveResult};

/// The claim a running backup holds (see the module doc).
pub const BACKUP_JOB: &str = "backup";
/// How long a backup's hold lasts unless renewed (it is renewed every third
/// of this).
pub const BACKUP_HOLD_MS: i64 = 30_000;
/// This format of [`BackupManifest`].
pub const BACKUP_FORMAT: u32 = 1;
/// Objects checked at once (copies: as the stores prefer,
/// [`BlobStore::copy_parallelism`]).
const PARALLEL_CHECKS: usize = 16;

/// A manifest lists every object (about 150 bytes each): 1 GiB is some
/// seven million objects.
const MAX_MANIFEST_BYTES: u64 = 1 << 30;

/// Where a target keeps the content store's objects.
const CONTENT_PREFIX: &str = "content/";
const SNAPSHOTS_PREFIX: &str = "snapshots/";

/// The hold's clock: the wall clock of the machine, never the drive's
/// (which tests move forward), since a backup runs in another process.
fn wall_clock_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Drive {
    /// Takes (or renews) the backup hold for this process until
    /// `BACKUP_HOLD_MS` from now; `take_over` takes it from another holder
    /// (a backup started later wins, one killed midway never blocks the
    /// next). False when another process holds it and `take_over` is off.
    pub async fn hold_trash(&self, take_over: bool) -> DriveResult<bool> {
        let now_ms = wall_clock_ms();
        let lease =
            Lease { node: self.node, now_ms, until_ms: now_ms + BACKUP_HOLD_MS, steal: take_over };
        Ok(self.meta.lease_job(BACKUP_JOB, &lease).await?)
    }

    /// Gives the backup hold up, if this process holds it.
    pub async fn release_trash_hold(&self) -> DriveResult<()> {
        Ok(self.meta.release_job(BACKUP_JOB, self.node).await?)
    }

    /// Whether a backup holds the trash (objects in it must stay).
    pub(crate) async fn trash_held(&self) -> DriveResult<bool> {
        Ok(self.meta.job_claimed(BACKUP_JOB, wall_clock_ms()).await?)
    }
}

/// One object of a backup, as stored in the content store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupObject {
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

/// A file of a snapshot (its metadata, its signing key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    /// The key in the target.
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

/// What the metadata of a snapshot holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupCounts {
    /// Files, folders and recycle-bin items.
    pub dentries: u64,
    /// Content references: files and their versions.
    pub contents: u64,
    /// Uploads open at the snapshot (their parts are copied as far as they
    /// still exist).
    pub open_uploads: u64,
}

/// What one backup holds: written as `snapshots/<id>/manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupManifest {
    pub format: u32,
    pub snapshot: String,
    /// When the metadata snapshot was taken (ISO 8601, UTC).
    pub taken_at: String,
    pub orgdrive_version: String,
    /// The metadata's schema version (migrations applied).
    pub schema_version: i64,
    pub metadata: BackupFile,
    /// The data dir's `signing.key`, when the server keeps one there.
    pub signing_key: Option<BackupFile>,
    pub counts: BackupCounts,
    pub object_bytes: u64,
    pub objects: Vec<BackupObject>,
}

/// What a metadata snapshot references in the content store, before
/// manifests are expanded (objects kept inline are in the snapshot itself).
#[derive(Debug, Clone, Default)]
pub struct References {
    pub counts: BackupCounts,
    /// Contents of files and versions, and thumbnails: kept by the hold.
    pub kept: HashSet<String>,
    /// Objects only open uploads reference: an upload that expires, is
    /// committed or replaces a part after the snapshot removes them.
    pub uploads: HashSet<String>,
}

/// What a metadata snapshot holds and references.
#[derive(Debug, Clone, Default)]
pub struct SnapshotContents {
    pub counts: BackupCounts,
    /// The stored objects it references, each once: contents of files and
    /// versions, thumbnails, recorded parts of open uploads, and for content
    /// made of parts its manifest and every part.
    pub objects: Vec<String>,
    /// Those of `objects` that only open uploads reference: the backup goes
    /// on without them if they are gone (every other object is kept for the
    /// backup by the hold).
    pub may_vanish: HashSet<String>,
}

/// Reads what the metadata snapshot `meta` (a store opened on the copy)
/// references.
pub async fn snapshot_references(meta: &dyn MetaStore) -> Result<References, BackupError> {
    let scan = meta
        .consistency_scan()
        .await
        .map_err(|e| BackupError::Invalid(format!("reading the snapshot: {e}")))?;
    // Inline objects travel inside the metadata snapshot itself.
    let stored = |key: &&String| crate::content::in_content_store(key);
    let kept: HashSet<String> = scan
        .blobs
        .iter()
        .map(|b| &b.blob_key)
        .chain(scan.thumbnail_objects.iter())
        .filter(stored)
        .cloned()
        .collect();
    let uploads =
        scan.upload_objects.iter().filter(stored).filter(|k| !kept.contains(*k)).cloned().collect();
    let counts = BackupCounts {
        dentries: scan.tree.len() as u64,
        contents: scan.blobs.len() as u64,
        open_uploads: scan.open_uploads.len() as u64,
    };
    Ok(References { counts, kept, uploads })
}

/// The references of a snapshot ([`snapshot_references`]) with each
/// manifest of `blob` expanded into its parts: every stored object to copy.
pub async fn snapshot_contents(
    references: References,
    blob: &BlobStore,
) -> Result<SnapshotContents, BackupError> {
    let References { counts, kept, uploads } = references;
    let mut keys: Vec<String> = kept.into_iter().chain(uploads.iter().cloned()).collect();
    keys.sort();
    let mut objects = Vec::new();
    for key in keys {
        if is_manifest_key(&key) {
            if let Some(manifest) = blob.read_manifest(&key).await? {
                objects.extend(manifest.parts.into_iter().map(|p| p.key));
            }
        }
        objects.push(key);
    }
    Ok(SnapshotContents { counts, objects, may_vanish: uploads })
}

/// What is wrong with `manifest` as a backup of metadata that references
/// `refs`: an object it lists that the metadata does not reference (a
/// tampered manifest must not write what it likes into a content store), or
/// kept content it lacks. Empty: it matches.
pub fn manifest_problems(manifest: &BackupManifest, refs: &References) -> Vec<String> {
    let listed: HashSet<&str> = manifest.objects.iter().map(|o| o.key.as_str()).collect();
    let referenced = |key: &str| {
        refs.kept.contains(key)
            || refs.uploads.contains(key)
            // A part of a manifest: `chunks/<name>/…` of `manifests/<name>`.
            || key.strip_prefix("chunks/").and_then(|rest| rest.split('/').next()).is_some_and(
                |name| refs.kept.contains(&format!("{}{name}", orgdrive_blob::MANIFEST_PREFIX)),
            )
    };
    let mut problems: Vec<String> = manifest
        .objects
        .iter()
        .filter(|o| !referenced(&o.key))
        .map(|o| format!("the manifest lists {}, which the metadata does not reference", o.key))
        .collect();
    let mut lacking: Vec<&String> =
        refs.kept.iter().filter(|k| !listed.contains(k.as_str())).collect();
    lacking.sort();
    problems.extend(lacking.into_iter().map(|k| format!("content {k} is not in the backup")));
    problems
}

/// What [`BackupTarget::copy_content`] did.
#[derive(Debug, Clone, Default)]
pub struct CopyReport {
    /// Every object now in the backup, in the order asked for.
    pub objects: Vec<BackupObject>,
    /// Objects copied by this run, and their bytes.
    pub copied: u64,
    pub copied_bytes: u64,
    /// Parts of open uploads that were gone by the time of their copy.
    pub vanished: u64,
}

/// Why a backup step failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("{0}")]
    Invalid(String),
}

/// Told the objects and bytes done since its last call, for a progress
/// display.
pub type Progress<'a> = dyn Fn(u64, u64) + Send + Sync + 'a;

/// A backup target: see the module doc for its layout.
#[derive(Clone)]
pub struct BackupTarget {
    store: BlobStore,
    /// What each thread that copies content between filesystems runs.
    copy_threads: CopyThreads,
}

fn content_key(key: &str) -> String {
    format!("{CONTENT_PREFIX}{key}")
}

impl BackupTarget {
    pub fn new(store: BlobStore) -> BackupTarget {
        BackupTarget { store, copy_threads: CopyThreads::default() }
    }

    /// What each thread that copies content between two filesystems runs
    /// besides the copies (threads of their own, ending with the copy): the
    /// backup command makes them background work that yields to a busy
    /// machine.
    pub fn with_copy_threads(mut self, threads: CopyThreads) -> BackupTarget {
        self.copy_threads = threads;
        self
    }

    pub fn store(&self) -> &BlobStore {
        &self.store
    }

    /// The key of a snapshot's file `name`.
    pub fn snapshot_key(snapshot: &str, name: &str) -> String {
        format!("{SNAPSHOTS_PREFIX}{snapshot}/{name}")
    }

    /// Every snapshot dir's id, oldest first, with whether it holds its
    /// manifest (is complete).
    async fn snapshot_dirs(&self) -> Result<BTreeMap<String, bool>, BackupError> {
        let mut dirs = BTreeMap::new();
        for object in self.store.list_raw(SNAPSHOTS_PREFIX).await? {
            let rest = object.key.strip_prefix(SNAPSHOTS_PREFIX).unwrap_or_default();
            if let Some((id, file)) = rest.split_once('/') {
                *dirs.entry(id.to_string()).or_default() |= file == "manifest.json";
            }
        }
        Ok(dirs)
    }

    /// The ids of the complete snapshots (with a manifest), oldest first.
    pub async fn snapshots(&self) -> Result<Vec<String>, BackupError> {
        let dirs = self.snapshot_dirs().await?;
        Ok(dirs.into_iter().filter(|(_, complete)| *complete).map(|(id, _)| id).collect())
    }

    /// The manifest of snapshot `id`, or of the latest one.
    pub async fn manifest(&self, id: Option<&str>) -> Result<BackupManifest, BackupError> {
        let id = match id {
            Some(id) => id.to_string(),
            None => self.snapshots().await?.pop().ok_or_else(|| {
                BackupError::Invalid("the target holds no complete backup".into())
            })?,
        };
        let key = Self::snapshot_key(&id, "manifest.json");
        let bytes = self.store.read_raw(&key, MAX_MANIFEST_BYTES).await?.ok_or_else(|| {
            BackupError::Invalid(format!("no complete backup {id:?} in the target"))
        })?;
        let manifest: BackupManifest = serde_json::from_slice(&bytes)
            .map_err(|e| BackupError::Invalid(format!("{key} is not a backup manifest: {e}")))?;
        if manifest.format != BACKUP_FORMAT || manifest.snapshot != id {
            return Err(BackupError::Invalid(format!(
                "{key}: format {} of snapshot {:?}, expected format {BACKUP_FORMAT} of {id:?}",
                manifest.format, manifest.snapshot
            )));
        }
        Ok(manifest)
    }

    /// Copies the objects of `contents` from `source` into the target,
    /// except those the target's latest complete backup lists and that are
    /// still there with their recorded size (taken as recorded: `verify`
    /// reads them). `abort` is checked while copying (a lost hold).
    pub async fn copy_content(
        &self,
        source: &BlobStore,
        contents: &SnapshotContents,
        progress: &Progress<'_>,
        abort: &(dyn Fn() -> bool + Sync),
    ) -> Result<CopyReport, BackupError> {
        let known: HashMap<String, BackupObject> = match self.snapshots().await?.last() {
            Some(id) => self
                .manifest(Some(id))
                .await?
                .objects
                .into_iter()
                .map(|o| (o.key.clone(), o))
                .collect(),
            None => HashMap::new(),
        };
        let present: HashMap<String, u64> = self
            .store
            .list_raw(CONTENT_PREFIX)
            .await?
            .into_iter()
            .filter_map(|o| Some((o.key.strip_prefix(CONTENT_PREFIX)?.to_string(), o.size)))
            .collect();
        // Only what the last complete backup vouched for is reused; anything
        // else (left by an interrupted run, or damaged) is copied again.
        let mut objects: Vec<Option<BackupObject>> = Vec::with_capacity(contents.objects.len());
        let mut to_copy: Vec<usize> = Vec::new();
        for (i, key) in contents.objects.iter().enumerate() {
            match (present.get(key), known.get(key)) {
                (Some(&size), Some(o)) if o.size == size => {
                    objects.push(Some(object(key, Fingerprint { size, sha256: o.sha256.clone() })))
                }
                _ => {
                    objects.push(None);
                    to_copy.push(i);
                }
            }
        }
        let reused = objects.iter().flatten();
        progress(reused.clone().count() as u64, reused.map(|o| o.size).sum());
        let pairs = to_copy
            .iter()
            .map(|&i| (contents.objects[i].clone(), content_key(&contents.objects[i])))
            .collect();
        let copied =
            copy_many(source, &self.store, pairs, self.copy_threads, progress, abort).await?;
        let mut report = CopyReport::default();
        for (&i, copied) in to_copy.iter().zip(copied) {
            let key = &contents.objects[i];
            match copied {
                Ok(fingerprint) => {
                    report.copied += 1;
                    report.copied_bytes += fingerprint.size;
                    objects[i] = Some(object(key, fingerprint));
                }
                Err(e) if e.is_not_found() && contents.may_vanish.contains(key) => {
                    report.vanished += 1
                }
                Err(e) if e.is_not_found() => {
                    return Err(BackupError::Invalid(format!(
                        "content object {key} is missing from the content store \
                         (run `orgdrive fsck`)"
                    )))
                }
                Err(e) => return Err(e.into()),
            }
        }
        report.objects = objects.into_iter().flatten().collect();
        Ok(report)
    }

    /// Writes `manifest` (last, after everything it names is durable).
    pub async fn write_manifest(&self, manifest: &BackupManifest) -> Result<(), BackupError> {
        self.store.sync_all().await?;
        let json =
            serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Invalid(e.to_string()))?;
        let key = Self::snapshot_key(&manifest.snapshot, "manifest.json");
        let source = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(json))]);
        self.store.write_stream(&key, source, None, false).await.map_err(|e| match e {
            orgdrive_blob::WriteError::Blob(e) => BackupError::Blob(e),
            other => BackupError::Invalid(other.to_string()),
        })?;
        Ok(self.store.sync_all().await?)
    }

    /// Checks every file and object of `manifest` against its recorded size
    /// and SHA-256; answers what does not match (nothing: empty).
    pub async fn verify(&self, manifest: &BackupManifest, progress: &Progress<'_>) -> Vec<String> {
        let files = std::iter::once(&manifest.metadata)
            .chain(&manifest.signing_key)
            .map(|f| (f.key.clone(), f.size, f.sha256.clone()));
        let objects =
            manifest.objects.iter().map(|o| (content_key(&o.key), o.size, o.sha256.clone()));
        let checks: Vec<Option<String>> =
            futures::stream::iter(files.chain(objects).map(|(key, size, sha256)| async move {
                let found = self.store.fingerprint(&key).await;
                progress(1, size);
                match found {
                    Ok(Some(f)) if f.size == size && f.sha256 == sha256 => None,
                    Ok(Some(f)) if f.size != size => {
                        Some(format!("{key}: {} bytes, {size} recorded", f.size))
                    }
                    Ok(Some(_)) => {
                        Some(format!("{key}: its SHA-256 differs from the recorded one"))
                    }
                    Ok(None) => Some(format!("{key}: missing")),
                    Err(e) => Some(format!("{key}: {e}")),
                }
            }))
            .buffered(PARALLEL_CHECKS)
            .collect()
            .await;
        checks.into_iter().flatten().collect()
    }

    /// Copies file `key` of the target to `dest_key` of `dest`, checking it
    /// against its record; a copy that does not match is removed.
    pub async fn restore_file(
        &self,
        key: &str,
        size: u64,
        sha256: &str,
        dest: &BlobStore,
        dest_key: &str,
    ) -> Result<(), BackupError> {
        let copied = self.store.copy_raw(key, dest, dest_key).await?;
        if copied.size != size || copied.sha256 != sha256 {
            let _ = dest.delete(dest_key).await;
            return Err(mismatch(key, copied.size, size));
        }
        Ok(())
    }

    /// Copies every object of `manifest` into `dest` under its own key,
    /// checking each against its record: every one that does not match is
    /// removed, and the first failure is the answer.
    pub async fn restore_content(
        &self,
        manifest: &BackupManifest,
        dest: &BlobStore,
        progress: &Progress<'_>,
    ) -> Result<(), BackupError> {
        let pairs = manifest.objects.iter().map(|o| (content_key(&o.key), o.key.clone())).collect();
        let copied =
            copy_many(&self.store, dest, pairs, self.copy_threads, progress, &|| false).await?;
        let mut failed = None;
        for (o, copied) in manifest.objects.iter().zip(copied) {
            let problem = match copied {
                Err(e) => BackupError::from(e),
                Ok(c) if c.size != o.size || c.sha256 != o.sha256 => {
                    let _ = dest.delete(&o.key).await;
                    mismatch(&content_key(&o.key), c.size, o.size)
                }
                Ok(_) => continue,
            };
            failed.get_or_insert(problem);
        }
        match failed {
            Some(problem) => Err(problem),
            None => Ok(dest.sync_all().await?),
        }
    }
}

/// How often a long copy tells its progress and asks whether to stop.
const PROGRESS_PERIOD: std::time::Duration = std::time::Duration::from_millis(100);

/// [`BlobStore::copy_raw_many`], telling `progress` as it goes and stopped
/// once `abort` answers true (then an error, whatever was copied).
async fn copy_many(
    source: &BlobStore,
    target: &BlobStore,
    pairs: Vec<(String, String)>,
    threads: CopyThreads,
    progress: &Progress<'_>,
    abort: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Result<Fingerprint, BlobError>>, BackupError> {
    let state = Arc::new(CopyProgress { threads, ..CopyProgress::default() });
    let mut told = (0, 0);
    let mut tell = || {
        let now = (state.objects.load(Ordering::Relaxed), state.bytes.load(Ordering::Relaxed));
        progress(now.0 - told.0, now.1 - told.1);
        told = now;
    };
    let copying = source.copy_raw_many(pairs, target, state.clone());
    tokio::pin!(copying);
    let copied = loop {
        tokio::select! {
            copied = &mut copying => break copied,
            _ = tokio::time::sleep(PROGRESS_PERIOD) => {
                tell();
                if abort() {
                    state.stop.store(true, Ordering::Relaxed);
                }
            }
        }
    };
    tell();
    if abort() {
        return Err(BackupError::Invalid("the backup lost its hold".into()));
    }
    Ok(copied)
}

fn mismatch(key: &str, size: u64, recorded: u64) -> BackupError {
    BackupError::Invalid(format!(
        "{key} does not match the manifest ({size} bytes, {recorded} recorded): \
         run `orgdrive backup verify`"
    ))
}

/// What [`BackupTarget::prune`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub snapshots: Vec<String>,
    pub objects: u64,
    pub bytes: u64,
}

impl BackupTarget {
    /// Keeps the `keep` latest complete snapshots (at least one): removes
    /// the older ones, what interrupted backups before the latest left, and
    /// every content object no kept snapshot lists. Not to run while a
    /// backup writes to the same target (it would remove objects that the
    /// backup counts on).
    pub async fn prune(&self, keep: usize) -> Result<PruneReport, BackupError> {
        if keep == 0 {
            return Err(BackupError::Invalid("keep at least one snapshot".into()));
        }
        let complete = self.snapshots().await?;
        let Some(latest) = complete.last().cloned() else {
            return Err(BackupError::Invalid("the target holds no complete backup".into()));
        };
        let kept = &complete[complete.len().saturating_sub(keep)..];
        let mut referenced = HashSet::new();
        for id in kept {
            referenced.extend(self.manifest(Some(id)).await?.objects.into_iter().map(|o| o.key));
        }
        // Every snapshot dir: complete ones beyond `keep`, and incomplete
        // ones older than the latest complete one.
        let ids: Vec<String> = self.snapshot_dirs().await?.into_keys().collect();
        let mut report = PruneReport::default();
        for id in ids.iter().filter(|id| !kept.contains(id) && **id < latest) {
            // The manifest first: a snapshot half removed is an incomplete one.
            self.store.delete(&Self::snapshot_key(id, "manifest.json")).await?;
            self.store.delete_prefix(&format!("{SNAPSHOTS_PREFIX}{id}/")).await?;
            report.snapshots.push(id.clone());
        }
        // What killed copies left half written.
        self.store.delete_prefix(".incoming/").await?;
        for object in self.store.list_raw(CONTENT_PREFIX).await? {
            let key = object.key.strip_prefix(CONTENT_PREFIX).unwrap_or_default();
            if !referenced.contains(key) {
                self.store.delete(&object.key).await?;
                report.objects += 1;
                report.bytes += object.size;
            }
        }
        Ok(report)
    }
}

fn object(key: &str, fingerprint: Fingerprint) -> BackupObject {
    BackupObject { key: key.to_string(), size: fingerprint.size, sha256: fingerprint.sha256 }
}
