//! `orgdrive backup` (take one), `orgdrive backup verify`, `orgdrive backup
//! list` and `orgdrive restore`, for the embedded store: a data dir's SQLite
//! metadata and the content objects it references, to and from a target
//! directory or bucket (layout and guarantees: `orgdrive_core::backup`).
//!
//! A backup runs beside the server: it holds the trash (deleted content
//! stays while it copies), takes a snapshot of the metadata with SQLite's
//! online backup API (one read transaction: writers are not blocked), copies
//! the objects not yet in the target, and writes the manifest last. A
//! restore fills an empty data dir, checking every byte against the
//! manifest, and moves the metadata into place last.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use orgdrive_blob::{BlobLocation, BlobStore, CopyThreads};
use orgdrive_core::backup::{
    manifest_problems, snapshot_contents, snapshot_references, BackupFile, BackupManifest,
    BackupTarget, References, BACKUP_FORMAT, BACKUP_HOLD_MS,
};
use orgdrive_core::MetaStore;
use serde_json::json;

use crate::store::{meta_path, MetaLocation};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    command: Option<BackupCommand>,
    #[command(flatten)]
    take: TakeArgs,
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Check a backup against its manifest: every object's size and SHA-256,
    /// the metadata's integrity. Exits 1 on any problem.
    Verify(FromArgs),
    /// List the complete backups of a target (JSON lines, oldest first).
    List(FromArgs),
    /// Remove all but the latest `--keep` backups of a target, and the
    /// content only they held. Not while a backup writes to the target.
    Prune(PruneArgs),
}

#[derive(Args)]
struct PruneArgs {
    /// The backup target: a directory, or an s3:// / oss:// URL.
    #[arg(long, env = "ORGDRIVE_BACKUP_TARGET", hide_env_values = true)]
    from: String,
    /// How many of the latest complete backups to keep (at least 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    keep: u32,
}

#[derive(Args)]
struct TakeArgs {
    /// Data directory to back up (may be in use by a running server).
    #[arg(long, env = "ORGDRIVE_DATA_DIR", default_value = "./orgdrive-data")]
    data_dir: PathBuf,
    /// Where to: a directory, or an s3:// / oss:// URL as for `serve --blob`
    /// (credentials from the environment).
    #[arg(long, env = "ORGDRIVE_BACKUP_TARGET", hide_env_values = true)]
    to: Option<String>,
    /// The content store the server uses (`serve --blob`).
    #[arg(long, env = "ORGDRIVE_BLOB", hide_env_values = true)]
    blob: Option<String>,
    /// The metadata store; only `sqlite` is backed up by this command.
    #[arg(long, env = "ORGDRIVE_META", hide_env_values = true, default_value = "sqlite",
          value_parser = crate::store::parse_meta)]
    meta: MetaLocation,
    /// The server's signing key, when it is not DATA_DIR/signing.key (then
    /// the backup holds no key: give the restored server the same one).
    #[arg(long, env = "ORGDRIVE_SIGNING_KEY", hide_env_values = true, allow_hyphen_values = true)]
    signing_key: Option<String>,
    /// Copy at full speed even while other processes (the server) keep the
    /// machine busy; by default the copy then slows down to leave them the
    /// CPU.
    #[arg(long)]
    full_speed: bool,
}

#[derive(Args)]
struct FromArgs {
    /// The backup target: a directory, or an s3:// / oss:// URL.
    #[arg(long, env = "ORGDRIVE_BACKUP_TARGET", hide_env_values = true)]
    from: String,
    /// The snapshot to check (default: the latest complete one).
    #[arg(long)]
    snapshot: Option<String>,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup target: a directory, or an s3:// / oss:// URL.
    #[arg(long, env = "ORGDRIVE_BACKUP_TARGET", hide_env_values = true)]
    from: String,
    /// The snapshot to restore (default: the latest complete one).
    #[arg(long)]
    snapshot: Option<String>,
    /// The data directory to fill; it must not hold a `meta.sqlite` yet.
    #[arg(long, env = "ORGDRIVE_DATA_DIR", default_value = "./orgdrive-data")]
    data_dir: PathBuf,
    /// The content store to fill (`serve --blob`; default DATA_DIR/blobs).
    #[arg(long, env = "ORGDRIVE_BLOB", hide_env_values = true)]
    blob: Option<String>,
    /// The metadata store; only `sqlite` is restored by this command.
    #[arg(long, env = "ORGDRIVE_META", hide_env_values = true, default_value = "sqlite",
          value_parser = crate::store::parse_meta)]
    meta: MetaLocation,
}

/// The staging dirs of backups in the data dir.
const STAGING_PREFIX: &str = ".backup-";

const POSTGRES_REFUSED: &str = "`orgdrive backup` and `restore` handle the embedded store \
    (SQLite); back up a PostgreSQL deployment with pg_dump and the bucket's own tools \
    (README, \"Backups and upgrades\")";

pub async fn run(args: BackupArgs) -> anyhow::Result<()> {
    match args.command {
        Some(BackupCommand::Verify(from)) => verify(from).await,
        Some(BackupCommand::List(from)) => list(from).await,
        Some(BackupCommand::Prune(args)) => prune(args).await,
        None => take(args.take).await,
    }
}

/// A backup is background work beside a live server, which comes first.
/// The whole process runs at `nice 10` (called before the runtime starts,
/// so every thread inherits it): lower, but never starved, since it writes
/// to the live database (the hold), and a starved writer holding SQLite's
/// write lock would stall the server's writes. The bulk copy threads, which
/// hold nothing the server waits for, go lower still ([`idle_thread`]).
pub fn lower_priority() {
    if let Err(e) = rustix::process::nice(10) {
        tracing::debug!(error = %e, "could not lower the backup's priority");
    }
}

/// Makes the calling thread Linux's `SCHED_IDLE`: it runs only on a CPU
/// nothing else wants, and a waking server thread takes the CPU from it at
/// once. Only for threads that hold nothing the server waits for (an
/// unprivileged thread cannot come back from it). What it buys, and what
/// it does not (the kernel's own work for a backup runs at normal
/// priority): bench/RESULTS.md, "Issue 12".
fn idle_thread() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: a plain system call on the calling thread (pid 0) with a
        // valid, initialised parameter that outlives the call.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
            tracing::debug!("could not make a copy thread background work");
        }
    }
}

/// Opens a backup target, parsed without repeating the value in errors (it
/// may hold a secret pasted by mistake).
fn open_target(location: &str) -> anyhow::Result<BackupTarget> {
    let location: BlobLocation = location.parse().context("the backup target")?;
    if let Some(root) = location.local_root() {
        refuse_symlinks(root)?;
    }
    // Not synced per object: `write_manifest` syncs the whole target once.
    let store = location.open(false).context("opening the backup target")?;
    Ok(BackupTarget::new(store))
}

/// Refuses a target directory holding a symbolic link anywhere below its
/// root: a backup would write through it, a restore read through it (files
/// outside the target). The root itself may be a link.
fn refuse_symlinks(root: &Path) -> anyhow::Result<()> {
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_symlink() {
                anyhow::bail!(
                    "the backup target holds a symbolic link, {}: refused (a backup would write \
                     and a restore read through it)",
                    entry.path().display()
                );
            }
            if kind.is_dir() {
                dirs.push(entry.path());
            }
        }
    }
    Ok(())
}

/// Opens a snapshot's metadata file (a copy nothing else uses) and reads
/// what it references.
async fn references_of(path: &Path) -> anyhow::Result<References> {
    let options = orgdrive_sqlite::SqliteOptions { durable: false, ..Default::default() };
    let store = orgdrive_sqlite::SqliteStore::open(path, &options).await?;
    let references = snapshot_references(&store).await;
    (&store as &dyn MetaStore).close().await;
    Ok(references?)
}

/// Fetches a snapshot's metadata into `dir` (checked against its record)
/// and checks it; answers its path and what it references.
async fn fetch_metadata(
    target: &BackupTarget,
    manifest: &BackupManifest,
    dir: &Path,
) -> anyhow::Result<(PathBuf, References)> {
    let local = BlobStore::filesystem(dir, false)?;
    let m = &manifest.metadata;
    target.restore_file(&m.key, m.size, &m.sha256, &local, "meta.sqlite").await?;
    let path = dir.join("meta.sqlite");
    let (version, problems) = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || orgdrive_sqlite::check(&path)).await??
    };
    anyhow::ensure!(problems.is_empty(), "{} is damaged: {}", m.key, problems.join("; "));
    anyhow::ensure!(
        version <= orgdrive_sqlite::SCHEMA_VERSION,
        "backup {} has schema version {version}; this build knows up to {}: use a newer build",
        manifest.snapshot,
        orgdrive_sqlite::SCHEMA_VERSION
    );
    let references = references_of(&path).await?;
    Ok((path, references))
}

/// A bar of `total` objects on the terminal (hidden when stderr is not one).
fn bar(total: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    let style =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} objects, {msg} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix(what.to_string());
    bar
}

/// Counts `objects` more objects of `size` bytes on `bar` (its length
/// counts objects, its bytes are kept apart).
fn tick(bar: &ProgressBar, bytes: &std::sync::atomic::AtomicU64, objects: u64, size: u64) {
    let total = bytes.fetch_add(size, Ordering::Relaxed) + size;
    bar.inc(objects);
    bar.set_message(indicatif::HumanBytes(total).to_string());
}

async fn take(args: TakeArgs) -> anyhow::Result<()> {
    if matches!(args.meta, MetaLocation::Postgres(_)) {
        anyhow::bail!(POSTGRES_REFUSED);
    }
    let Some(to) = args.to.as_deref() else {
        anyhow::bail!("say where to: --to DIR or --to s3://bucket?… (ORGDRIVE_BACKUP_TARGET)")
    };
    let live = meta_path(&args.data_dir);
    anyhow::ensure!(
        live.is_file(),
        "{} holds no orgdrive data (no meta.sqlite)",
        args.data_dir.display()
    );
    // Opening the store migrates it: never under a server of another build.
    let version = orgdrive_sqlite::schema_version(&live)?;
    anyhow::ensure!(
        version == orgdrive_sqlite::SCHEMA_VERSION,
        "the data dir has schema version {version}, this build writes {}: back it up with \
         the build of the server that runs on it",
        orgdrive_sqlite::SCHEMA_VERSION
    );
    let threads = CopyThreads {
        setup: Some(idle_thread),
        pace: (!args.full_speed).then_some(crate::pacing::pace_copy as fn(_)),
    };
    let target = open_target(to)?.with_copy_threads(threads);
    // The key is only read: a server keeping it elsewhere (--signing-key)
    // gets no new signing.key in its data dir from a backup.
    let kept_key = args.data_dir.join("signing.key").is_file();
    let signing_key = args.signing_key.or_else(|| (!kept_key).then(orgdrive_core::random_secret));
    let options = crate::store::OpenOptions { blob: args.blob, signing_key, ..Default::default() };
    let opened = crate::store::open(&args.data_dir, options).await?;
    let drive = opened.drive;
    let result = take_with(&drive, &args.data_dir, &target).await;
    if let Err(e) = drive.release_trash_hold().await {
        tracing::warn!(error = %e, "the backup hold stays until it expires");
    }
    drive.close().await;
    let summary = result?;
    println!("{summary}");
    Ok(())
}

async fn take_with(
    drive: &orgdrive_core::Drive,
    data_dir: &Path,
    target: &BackupTarget,
) -> anyhow::Result<serde_json::Value> {
    // The hold first: whatever the snapshot references stays in the content
    // store until the copy is done. A backup killed midway never blocks the
    // next (its hold is taken over); a live one loses it and stops.
    if !drive.hold_trash(false).await? {
        eprintln!("another backup held this data dir; taking over from it");
        anyhow::ensure!(drive.hold_trash(true).await?, "could not take the backup hold");
    }
    let lost = Arc::new(AtomicBool::new(false));
    let renewal = {
        let (drive, lost) = (drive.clone(), lost.clone());
        tokio::spawn(async move {
            let period = std::time::Duration::from_millis((BACKUP_HOLD_MS / 3) as u64);
            loop {
                tokio::time::sleep(period).await;
                if !matches!(drive.hold_trash(false).await, Ok(true)) {
                    lost.store(true, Ordering::Relaxed);
                    return;
                }
            }
        })
    };
    let result = copy_snapshot(drive, data_dir, target, &lost).await;
    renewal.abort();
    result
}

async fn copy_snapshot(
    drive: &orgdrive_core::Drive,
    data_dir: &Path,
    target: &BackupTarget,
    lost: &AtomicBool,
) -> anyhow::Result<serde_json::Value> {
    // What killed backups left (this one holds the hold now: no other
    // backup is running), then this one's staging dir.
    for entry in std::fs::read_dir(data_dir)?.flatten() {
        if entry.file_name().to_string_lossy().starts_with(STAGING_PREFIX) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(data_dir)
        .context("making a staging dir in the data dir")?;
    let staged = staging.path().join("meta.sqlite");
    let mut phases = Phases::default();
    let taken_at = chrono::Utc::now();
    let schema_version = {
        let (live, staged) = (meta_path(data_dir), staged.clone());
        tokio::task::spawn_blocking(move || orgdrive_sqlite::snapshot(&live, &staged))
            .await?
            .context("taking a snapshot of the metadata")?
    };
    let id = taken_at.format("%Y%m%dT%H%M%S%3fZ").to_string();
    let staging_name = staging.path().file_name().and_then(|n| n.to_str()).unwrap_or_default();
    // Read-only use of the data dir: the staged snapshot and signing.key.
    let files = BlobStore::filesystem(data_dir, false)?;
    let metadata =
        put_file(&files, &format!("{staging_name}/meta.sqlite"), target, &id, "meta.sqlite")
            .await?;
    let signing_key = if data_dir.join("signing.key").is_file() {
        Some(put_file(&files, "signing.key", target, &id, "signing.key").await?)
    } else {
        None
    };
    phases.done("metadata");

    // What the snapshot references (read from the staged copy, which is
    // already in the target: opening it may migrate it, harmlessly).
    let contents = snapshot_contents(references_of(&staged).await?, drive.blob()).await?;
    phases.done("references");

    let bar = bar(contents.objects.len(), "copying");
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let report = target
        .copy_content(
            drive.blob(),
            &contents,
            &|objects, size| tick(&bar, &bytes, objects, size),
            &|| lost.load(Ordering::Relaxed),
        )
        .await;
    bar.finish_and_clear();
    let report = report?;
    phases.done("content");
    anyhow::ensure!(
        !lost.load(Ordering::Relaxed) && drive.hold_trash(false).await?,
        "another backup took this data dir's hold over: this one is incomplete"
    );
    let manifest = BackupManifest {
        format: BACKUP_FORMAT,
        snapshot: id.clone(),
        taken_at: taken_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        orgdrive_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version,
        metadata,
        signing_key,
        counts: contents.counts,
        object_bytes: report.objects.iter().map(|o| o.size).sum(),
        objects: report.objects,
    };
    target.write_manifest(&manifest).await?;
    phases.done("manifest");
    let mut out = summary(&manifest);
    out.insert("copied".into(), report.copied.into());
    out.insert("copiedBytes".into(), report.copied_bytes.into());
    out.insert("vanishedUploadParts".into(), report.vanished.into());
    out.insert("metadataBytes".into(), manifest.metadata.size.into());
    out.insert("seconds".into(), phases.seconds.into());
    Ok(out.into())
}

/// Where a backup's time went, phase by phase (seconds, in the summary).
struct Phases {
    started: std::time::Instant,
    seconds: serde_json::Map<String, serde_json::Value>,
}

impl Default for Phases {
    fn default() -> Phases {
        Phases { started: std::time::Instant::now(), seconds: serde_json::Map::new() }
    }
}

impl Phases {
    fn done(&mut self, phase: &str) {
        let now = std::time::Instant::now();
        let seconds = (now - self.started).as_secs_f64();
        self.seconds.insert(phase.into(), json!((seconds * 1000.0).round() / 1000.0));
        self.started = now;
    }
}

/// What every command prints of a backup (callers add their own figures).
fn summary(m: &BackupManifest) -> serde_json::Map<String, serde_json::Value> {
    let value = json!({
        "snapshot": m.snapshot,
        "takenAt": m.taken_at,
        "objects": m.objects.len(),
        "objectBytes": m.object_bytes,
        "dentries": m.counts.dentries,
        "schemaVersion": m.schema_version,
    });
    match value {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a JSON object"),
    }
}

/// Copies file `key` of `files` into the target as snapshot `id`'s `name`.
async fn put_file(
    files: &BlobStore,
    key: &str,
    target: &BackupTarget,
    id: &str,
    name: &str,
) -> anyhow::Result<BackupFile> {
    let target_key = BackupTarget::snapshot_key(id, name);
    let copied = files
        .copy_raw(key, target.store(), &target_key)
        .await
        .with_context(|| format!("copying {name} into the backup"))?;
    Ok(BackupFile { key: target_key, size: copied.size, sha256: copied.sha256 })
}

async fn verify(args: FromArgs) -> anyhow::Result<()> {
    let target = open_target(&args.from)?;
    let manifest = target.manifest(args.snapshot.as_deref()).await?;
    let bar = bar(manifest.objects.len() + 2, "checking");
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let mut problems =
        target.verify(&manifest, &|objects, size| tick(&bar, &bytes, objects, size)).await;
    bar.finish_and_clear();
    // The metadata's own integrity, and that the manifest lists exactly
    // what it references.
    let scratch = tempfile::tempdir()?;
    match fetch_metadata(&target, &manifest, scratch.path()).await {
        Ok((_, references)) => problems.extend(manifest_problems(&manifest, &references)),
        Err(e) => problems.push(format!("{e:#}")),
    }
    for problem in &problems {
        println!("{problem}");
    }
    let mut out = summary(&manifest);
    out.insert("problems".into(), problems.len().into());
    println!("{}", serde_json::Value::from(out));
    if !problems.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

async fn list(args: FromArgs) -> anyhow::Result<()> {
    let target = open_target(&args.from)?;
    for id in target.snapshots().await? {
        let manifest = target.manifest(Some(&id)).await?;
        println!("{}", serde_json::Value::from(summary(&manifest)));
    }
    Ok(())
}

async fn prune(args: PruneArgs) -> anyhow::Result<()> {
    let target = open_target(&args.from)?;
    let report = target.prune(args.keep as usize).await?;
    println!(
        "{}",
        json!({
            "removedSnapshots": report.snapshots,
            "removedObjects": report.objects,
            "removedBytes": report.bytes,
        })
    );
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    if matches!(args.meta, MetaLocation::Postgres(_)) {
        anyhow::bail!(POSTGRES_REFUSED);
    }
    let data_dir = &args.data_dir;
    let meta = meta_path(data_dir);
    // Not over a drive, nor beside what one left (a WAL would be replayed
    // into the restored database).
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = PathBuf::from(format!("{}{suffix}", meta.display()));
        anyhow::ensure!(
            !file.exists(),
            "{} already holds {}: restore into an empty data dir",
            data_dir.display(),
            file.file_name().and_then(|n| n.to_str()).unwrap_or_default()
        );
    }
    let target = open_target(&args.from)?;
    let manifest = target.manifest(args.snapshot.as_deref()).await?;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;

    // The metadata first, into a staging dir: checked, and compared with the
    // manifest, before any content is written.
    let staging = data_dir.join(".restore");
    std::fs::create_dir_all(&staging)?;
    let (staged, references) = fetch_metadata(&target, &manifest, &staging).await?;
    let problems = manifest_problems(&manifest, &references);
    anyhow::ensure!(
        problems.is_empty(),
        "backup {} does not match its metadata: {}",
        manifest.snapshot,
        problems.join("; ")
    );

    let content = match &args.blob {
        Some(location) => location.parse::<BlobLocation>()?.open(false).context("--blob")?,
        None => BlobStore::filesystem(&data_dir.join("blobs"), false)?,
    };
    let bar = bar(manifest.objects.len(), "restoring");
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let restored = target
        .restore_content(&manifest, &content, &|objects, size| tick(&bar, &bytes, objects, size))
        .await;
    bar.finish_and_clear();
    restored?;

    // The key, then the metadata, move into place last: a data dir with a
    // meta.sqlite is a complete restore.
    let files = BlobStore::filesystem(&staging, false)?;
    if let Some(k) = &manifest.signing_key {
        target.restore_file(&k.key, k.size, &k.sha256, &files, "signing.key").await?;
    }
    files.sync_all().await?;
    if manifest.signing_key.is_some() {
        std::fs::rename(staging.join("signing.key"), data_dir.join("signing.key"))?;
    }
    std::fs::rename(&staged, &meta)?;
    std::fs::File::open(data_dir)?.sync_all()?;
    std::fs::remove_dir_all(&staging)?;
    let mut out = summary(&manifest);
    out.insert("signingKey".into(), manifest.signing_key.is_some().into());
    println!("{}", serde_json::Value::from(out));
    Ok(())
}
