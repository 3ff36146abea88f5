//! Opening a data dir: `meta.sqlite` (SQLite, WAL), `blobs/` (OpenDAL fs,
//! unless `--blob` names another content store) and `signing.key` (the
//! secret of signed blob URLs, created on first use) — or, for a scale-out
//! deployment, the metadata on PostgreSQL (`--meta postgres://…`), shared by
//! every node.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use orgdrive_blob::{BlobLocation, BlobStore};
use orgdrive_core::{Drive, DriveOptions, MetaStore};
use orgdrive_postgres::{PgOptions, PgStore};
use orgdrive_sqlite::{SqliteOptions, SqliteStore};

/// Where the metadata lives (`--meta`).
#[derive(Clone, Default)]
pub enum MetaLocation {
    /// `DATA_DIR/meta.sqlite`: the embedded default, one process.
    #[default]
    Embedded,
    /// A PostgreSQL database that several nodes share (its URL, which may
    /// hold a password: never printed).
    Postgres(String),
}

impl std::fmt::Debug for MetaLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetaLocation::Embedded => f.write_str("Embedded"),
            MetaLocation::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

impl MetaLocation {
    /// Where the metadata is, for people: the database's host, port and
    /// name, without the user, password or options of the URL.
    pub fn describe(&self, data_dir: &Path) -> String {
        match self {
            MetaLocation::Embedded => format!("SQLite, {}", meta_path(data_dir).display()),
            MetaLocation::Postgres(url) => match orgdrive_postgres::describe_url(url) {
                Some(place) => format!("PostgreSQL, {place}"),
                None => "PostgreSQL (an unreadable URL)".to_string(),
            },
        }
    }
}

/// Parses `--meta`: `sqlite` (the embedded default) or a
/// `postgres://`/`postgresql://` URL.
pub fn parse_meta(value: &str) -> Result<MetaLocation, String> {
    let value = value.trim();
    if value.is_empty() || value == "sqlite" {
        Ok(MetaLocation::Embedded)
    } else if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        Ok(MetaLocation::Postgres(value.to_string()))
    } else {
        Err("expected `sqlite` or a postgres:// URL".to_string())
    }
}

/// The stores of one data dir, opened.
pub struct Opened {
    pub drive: Drive,
    /// The metadata store is this process's alone (the embedded SQLite
    /// file), so whatever claims an earlier process held are void.
    pub exclusive: bool,
    /// The PostgreSQL store, when the metadata is there (for the cache relay).
    pub postgres: Option<PgStore>,
}

pub fn meta_path(data_dir: &Path) -> PathBuf {
    data_dir.join("meta.sqlite")
}

/// What a write must survive before it is acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Process crash and power loss: SQLite `synchronous=FULL`, blob files and
    /// their directories fsynced before the commit that references them.
    #[default]
    Full,
    /// Process crash only (emulator use): SQLite `synchronous=NORMAL`, no
    /// directory fsyncs. A power loss may lose the last acknowledged writes.
    Relaxed,
}

/// How to open a data dir.
#[derive(Default)]
pub struct OpenOptions {
    pub durability: Durability,
    /// Overrides `DATA_DIR/signing.key`, so that several nodes can share one.
    pub signing_key: Option<String>,
    pub signed_url_ttl_secs: Option<i64>,
    pub upload_ttl_secs: Option<i64>,
    pub open_uploads: Option<orgdrive_core::OpenUploadLimits>,
    pub min_free_disk_bytes: Option<u64>,
    /// Let the admin API move the clock forward.
    pub allow_clock_control: bool,
    /// Let the admin API reset the drive to its seed.
    pub allow_reset: bool,
    /// The WOPI client's editor URL, already checked.
    pub wopi_client_url: Option<String>,
    /// Where the metadata lives.
    pub meta: MetaLocation,
    /// PostgreSQL: the pool's connections at most (default 16).
    pub meta_connections: Option<usize>,
    pub task_claim_secs: Option<i64>,
    /// The content store (`--blob`), parsed when the store opens, so that no
    /// error repeats the value (a secret pasted into it by mistake);
    /// default `DATA_DIR/blobs`.
    pub blob: Option<String>,
}

/// Shortest signing key or admin token accepted: 32 bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Refuses a secret too short to resist guessing.
pub fn check_secret(what: &str, secret: &str) -> anyhow::Result<()> {
    if secret.len() < MIN_SECRET_BYTES {
        anyhow::bail!(
            "the {what} has {} bytes; at least {MIN_SECRET_BYTES} are required \
             (e.g. `openssl rand -hex 32`)",
            secret.len()
        );
    }
    Ok(())
}

pub async fn open(data_dir: &Path, options: OpenOptions) -> anyhow::Result<Opened> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let private = std::fs::Permissions::from_mode(0o700);
        if let Err(e) = std::fs::set_permissions(data_dir, private) {
            tracing::warn!(error = %e, "could not make the data dir private (mode 0700)");
        }
    }
    let signing_key = match (options.signing_key, &options.meta) {
        (Some(key), _) => key.trim().to_string(),
        (None, MetaLocation::Embedded) => {
            stored_secret(&data_dir.join("signing.key"), orgdrive_core::random_secret)?
        }
        (None, MetaLocation::Postgres(_)) => anyhow::bail!(
            "a shared metadata store (--meta postgres://…) needs --signing-key \
             (ORGDRIVE_SIGNING_KEY), the same on every node: access tokens and signed \
             URLs made by one node must verify on the others"
        ),
    };
    check_secret("signing key", &signing_key)?;
    let mut drive_options = DriveOptions::new(signing_key.as_bytes());
    if let Some(ttl) = options.signed_url_ttl_secs {
        drive_options.signed_url_ttl_secs = ttl;
    }
    if let Some(ttl) = options.upload_ttl_secs {
        drive_options.upload_ttl_secs = ttl;
    }
    if let Some(limits) = options.open_uploads {
        drive_options.open_uploads = limits;
    }
    drive_options.allow_clock_control = options.allow_clock_control;
    drive_options.allow_reset = options.allow_reset;
    if let Some(claim) = options.task_claim_secs {
        drive_options.task_claim_ms = claim * 1000;
    }
    drive_options.wopi_client_url = options.wopi_client_url;
    if let Some(floor) = options.min_free_disk_bytes {
        drive_options.min_free_disk_bytes = floor;
    }
    let durable = options.durability == Durability::Full;
    let meta = open_meta(data_dir, &options.meta, options.meta_connections, durable).await?;
    let exclusive = matches!(options.meta, MetaLocation::Embedded);
    drive_options.shared_store = !exclusive;
    let blob = match &options.blob {
        Some(location) => location
            .parse::<BlobLocation>()?
            .open(durable)
            .context("opening the content store (--blob)")?,
        None => BlobStore::filesystem(&data_dir.join("blobs"), durable)?,
    };
    let drive = Drive::new(meta.store, blob, drive_options).await?;
    if durable {
        // The data dir's own entry, and what was created in it (blobs/,
        // signing.key, admin.token, the database files), survive power loss
        // only once the directories holding them are fsynced.
        sync_dir_and_ancestors(data_dir)
            .with_context(|| format!("syncing {}", data_dir.display()))?;
    }
    Ok(Opened { drive, exclusive, postgres: meta.postgres })
}

/// Refuses a store whose presigned PUTs obey a header their signature does
/// not cover (`x-amz-copy-source`: anyone holding an upload URL could copy
/// any object the store's credentials read into their file), unless the
/// location says `insecure_presigned_puts=true` (test stores).
/// `serve` asks this before it hands out any URL; the tools (fsck, admin,
/// backup) hand out none.
pub async fn check_presigned_puts(location: &str, blob: &BlobStore) -> anyhow::Result<()> {
    let location: BlobLocation = location.parse()?;
    let copies = blob
        .presigned_puts_copy_unsigned_sources()
        .await
        .context("checking the content store's presigned PUTs (--blob)")?;
    if !copies {
        return Ok(());
    }
    if location.insecure_presigned_puts() {
        tracing::warn!(
            "the content store's presigned PUTs obey an x-amz-copy-source header they did not \
             sign: anyone holding an upload URL can copy any object of the store into their \
             file (insecure_presigned_puts=true: for a test store only)"
        );
        return Ok(());
    }
    anyhow::bail!(
        "--blob: the content store copied an object for a presigned PUT carrying an \
         x-amz-copy-source header its signature did not cover: anyone holding an upload URL \
         could copy any object the store's credentials can read (another org's files) into \
         their own file. Use a store that refuses headers a presigned request did not sign \
         (AWS S3 does), or, for a test store only, add insecure_presigned_puts=true to --blob"
    )
}

/// A metadata store, opened (and migrated).
struct OpenedMeta {
    store: Arc<dyn MetaStore>,
    postgres: Option<PgStore>,
}

async fn open_meta(
    data_dir: &Path,
    location: &MetaLocation,
    connections: Option<usize>,
    durable: bool,
) -> anyhow::Result<OpenedMeta> {
    match location {
        MetaLocation::Embedded => {
            let sqlite = SqliteOptions { durable, ..SqliteOptions::default() };
            let store = SqliteStore::open(&meta_path(data_dir), &sqlite)
                .await
                .with_context(|| format!("opening {}", meta_path(data_dir).display()))?;
            Ok(OpenedMeta { store: Arc::new(store), postgres: None })
        }
        MetaLocation::Postgres(url) => {
            // The error names what failed, never the URL (it may hold a password).
            let defaults = PgOptions::default();
            let max_connections = connections.unwrap_or(defaults.max_connections);
            let store = PgStore::open(url, &PgOptions { max_connections, ..defaults })
                .await
                .context("opening the PostgreSQL metadata store (--meta)")?;
            Ok(OpenedMeta { store: Arc::new(store.clone()), postgres: Some(store) })
        }
    }
}

/// Fsyncs `dir` and every directory above it (cheap, and done once at start:
/// `create_dir_all` may have created several levels).
fn sync_dir_and_ancestors(dir: &Path) -> std::io::Result<()> {
    let dir = std::fs::canonicalize(dir)?;
    for level in dir.ancestors() {
        std::fs::File::open(level)?.sync_all()?;
    }
    Ok(())
}

/// The secret stored in `path`, or a new one from `generate`, written there (0600).
pub fn stored_secret(path: &Path, generate: fn() -> String) -> anyhow::Result<String> {
    Ok(stored_or_new_secret(path, generate)?.0)
}

/// Like [`stored_secret`]; also says whether the secret was generated now.
pub fn stored_or_new_secret(
    path: &Path,
    generate: fn() -> String,
) -> anyhow::Result<(String, bool)> {
    // Only a missing (or empty) file is replaced: a secret that cannot be
    // read is an operator's to fix, never silently overwritten (every node of
    // a deployment must keep the same signing key).
    match std::fs::read(path) {
        Ok(stored) if !stored.trim_ascii().is_empty() => {
            let stored = String::from_utf8(stored).map_err(|_| {
                anyhow::anyhow!("{} is not UTF-8 text; write a text secret there", path.display())
            })?;
            Ok((stored.trim().to_string(), false))
        }
        Ok(_) => Ok((write_new_secret(path, generate)?, true)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((write_new_secret(path, generate)?, true))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_new_secret(path: &Path, generate: fn() -> String) -> anyhow::Result<String> {
    let secret = generate();
    write_private(path, &secret).with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}

/// Writes `contents` to a file only its owner may read, and syncs it.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_location_is_described_without_its_credentials() {
        let url = "postgres://od:s3c#ret@db.example:5432/drive?sslmode=require";
        let meta = parse_meta(url).unwrap();
        let described = meta.describe(Path::new("/d"));
        assert_eq!(described, "PostgreSQL, db.example:5432/drive, sslmode=require");
        assert_eq!(format!("{meta:?}"), "Postgres(..)");
        assert!(!described.contains("s3cret"));
        assert_eq!(
            parse_meta("sqlite").unwrap().describe(Path::new("/d")),
            "SQLite, /d/meta.sqlite"
        );
        assert!(parse_meta("mysql://x").is_err());
        assert!(parse_meta("/some/path").is_err());
    }
}
