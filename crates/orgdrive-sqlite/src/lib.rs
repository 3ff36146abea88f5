//! orgdrive's embedded metadata store: the [`orgdrive_store`] contract on one
//! SQLite file in WAL mode. Only this crate knows SQL.
//!
//! SQLite through `rusqlite` with the library compiled in (`bundled`): a
//! thin synchronous binding, so a statement runs on the calling thread in a
//! few microseconds — an async driver that hands every statement to a worker
//! thread spends more on the hand-off than on the query (bench/RESULTS.md).
//!
//! Reads run in place, on a read-only connection that each thread holds
//! (`read`); writes go to one writer thread that owns the only write
//! connection and group-commits them (`writer`): our own writers never race
//! each other into `SQLITE_BUSY`, concurrent writes share one fsync, and WAL
//! readers never block the writer. The schema is migrated at open
//! (`migrate`).

mod console;
mod dav;
mod drive;
mod events;
mod grants;
mod identity;
mod inline;
mod lifecycle;
mod migrate;
mod open_links;
mod read;
mod snapshot;
mod thumbnails;
mod wopi;
mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Params, Row};

pub use migrate::LATEST as SCHEMA_VERSION;
use read::Readers;
pub use snapshot::{check, schema_version, snapshot};
use writer::{Durability, Writer};

use orgdrive_store::{
    AppPropertyRecord, AppRecord, DentryRecord, DeptRecord, Key, OrgRecord, SpaceRecord,
    StoreError, StoreResult, UserRecord,
};

/// How the SQLite store is opened.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Reads that may scan a lot (consistency scans, whole lists) running at
    /// once, each on a blocking thread with its own read connection. Short
    /// reads run on the calling thread's connection, one per thread.
    pub readers: u32,
    /// `synchronous=FULL` (durable on power loss) when true, `NORMAL` otherwise.
    pub durable: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { readers: 8, durable: true }
    }
}

/// How long a connection waits for a lock another one holds.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements kept per connection (every listing order is one).
pub(crate) const STATEMENT_CACHE: usize = 128;

/// SQLite implementation of [`orgdrive_store::MetaStore`].
#[derive(Clone)]
pub struct SqliteStore {
    // Dropped first: the writer is the last connection and checkpoints.
    readers: Arc<Readers>,
    writer: Writer,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path, options: &SqliteOptions) -> StoreResult<SqliteStore> {
        let durable = options.durable;
        let write_path = path.to_path_buf();
        let checkpoint_path = path.to_path_buf();
        let writer = Writer::spawn(
            move || open_writer(&write_path, durable),
            move || open_checkpointer(&checkpoint_path, durable),
            durable,
        )
        .await?;
        let readers = Arc::new(Readers::new(path, options.readers));
        Ok(SqliteStore { readers, writer })
    }

    /// A read on this thread's connection.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.readers.read(f)
    }

    /// A read that may scan a lot, on a blocking thread.
    pub(crate) async fn read_blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.readers.read_blocking(f).await
    }

    /// The writer's group commits so far.
    pub(crate) fn writer_figures(&self) -> orgdrive_store::WriteFigures {
        self.writer.figures()
    }

    pub(crate) fn writer_generation(&self) -> u64 {
        self.writer.generation()
    }

    /// A write job, acknowledged once its batch is durably committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.writer.write(Durability::Durable, work).await
    }

    /// A write job whose commit need not be fsynced (see [`Durability::Deferred`]).
    pub(crate) async fn write_deferred<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.writer.write(Durability::Deferred, work).await
    }

    /// Closes the store: the readers first, so that the writer is the last
    /// connection and checkpoints the WAL into the database as it closes.
    async fn shut(&self) {
        let readers = Arc::clone(&self.readers);
        // Waits for reads in progress: not on an async worker.
        let _ = tokio::task::spawn_blocking(move || readers.close()).await;
        self.writer.close().await;
    }
}

/// Plans each cached statement once: without the query planner stability
/// guarantee, SQLite (built with STAT4) prepares a statement again whenever
/// a value bound to an indexed column changes — every keyset page.
fn plan_once(conn: &Connection) -> StoreResult<()> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(backend)?;
    Ok(())
}

/// The write connection: WAL, the durability asked for, foreign keys, the
/// schema migrated.
fn open_writer(path: &Path, durable: bool) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    plan_once(&conn)?;
    let mode: String =
        conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(backend)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!("journal_mode is {mode}, not WAL")));
    }
    conn.execute_batch(if durable {
        "PRAGMA synchronous = FULL"
    } else {
        "PRAGMA synchronous = NORMAL"
    })
    .map_err(backend)?;
    // Savepoint journals in memory: group commit opens one per write.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA temp_store = memory").map_err(backend)?;
    rusqlite::vtab::array::load_module(&conn).map_err(backend)?;
    migrate::run(&conn)?;
    Ok(conn)
}

/// The checkpointer's connection (opened after the writer's, so the file is
/// in WAL mode and migrated): it only copies the WAL into the database, with
/// the store's durability (`FULL` fsyncs the database after copying).
fn open_checkpointer(path: &Path, durable: bool) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.execute_batch(if durable {
        "PRAGMA synchronous = FULL"
    } else {
        "PRAGMA synchronous = NORMAL"
    })
    .map_err(backend)?;
    Ok(conn)
}

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps constraint violations to their dialect-independent meaning.
pub(crate) fn classify(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &e {
        let message = message.as_deref().unwrap_or_default();
        let unique = matches!(
            failure.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        );
        if unique {
            // SQLite: "UNIQUE constraint failed: apps.app_key" (or several
            // columns, comma-separated, for a composite key).
            let columns = message.rsplit(": ").next().unwrap_or_default();
            if let Some(key) = unique_key(columns) {
                return StoreError::Duplicate(key);
            }
        }
        // ON DELETE RESTRICT reports SQLITE_CONSTRAINT_TRIGGER, not _FOREIGNKEY.
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
            || message.contains("FOREIGN KEY constraint failed")
        {
            return StoreError::NotFound;
        }
    }
    backend(e)
}

/// The contract's name of the unique key SQLite reports as `columns`.
fn unique_key(columns: &str) -> Option<Key> {
    Some(match columns {
        "orgs.corp_id" => Key::CorpId,
        "apps.app_id" | "apps.corp_id, apps.app_id" => Key::AppId,
        "apps.app_key" => Key::AppKey,
        "users.union_id" | "users.corp_id, users.union_id" => Key::UnionId,
        "users.corp_id, users.user_id" => Key::UserId,
        "depts.dept_id" | "depts.corp_id, depts.dept_id" => Key::DeptId,
        "spaces.space_id" => Key::SpaceId,
        "dentries.dentry_id" | "dentries.uuid" => Key::DentryId,
        "uploads.upload_key" => Key::UploadKey,
        "recycle_items.recycle_item_id" | "recycle_bins.recycle_bin_id" => Key::RecycleId,
        "tasks.task_id" => Key::TaskId,
        _ => return None,
    })
}

/// A delete that a restricting foreign key refused means "still in use".
pub(crate) fn classify_delete(e: rusqlite::Error) -> StoreError {
    match classify(e) {
        StoreError::NotFound => StoreError::InUse,
        other => other,
    }
}

/// The first row (if any) that the cached statement `sql` returns, mapped.
pub(crate) fn one<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    map: impl FnOnce(&Row) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    let mut statement = conn.prepare_cached(sql).map_err(backend)?;
    statement.query_row(params, map).optional().map_err(backend)
}

/// Every row that the cached statement `sql` returns, mapped.
pub(crate) fn all<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    map: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = conn.prepare_cached(sql).map_err(backend)?;
    let rows = statement.query_map(params, map).map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

/// Runs the cached statement `sql`; returns how many rows it changed.
pub(crate) fn exec<P: Params>(conn: &Connection, sql: &str, params: P) -> rusqlite::Result<u64> {
    Ok(conn.prepare_cached(sql)?.execute(params)? as u64)
}

// Column lists, as macros so that statements are `&'static str` (the
// prepared-statement cache is keyed by the text).

macro_rules! org_columns {
    () => {
        "corp_id, name, capacity, created_at, modified_at"
    };
}
macro_rules! app_columns {
    ($p:literal) => {
        concat!(
            $p,
            "app_id, ",
            $p,
            "corp_id, ",
            $p,
            "name, ",
            $p,
            "app_key, ",
            $p,
            "secret_salt, ",
            $p,
            "secret_hash, ",
            $p,
            "scopes, ",
            $p,
            "created_at, ",
            $p,
            "modified_at"
        )
    };
}
macro_rules! user_columns {
    ($p:literal) => {
        concat!(
            $p,
            "union_id, ",
            $p,
            "corp_id, ",
            $p,
            "user_id, ",
            $p,
            "name, ",
            $p,
            "org_admin, ",
            $p,
            "created_at"
        )
    };
}
macro_rules! dept_columns {
    () => {
        "dept_id, corp_id, name, parent_id, created_at"
    };
}
macro_rules! space_columns {
    () => {
        "space_id, corp_id, app_id, scene, scene_id, name, owner_type, owner_id, creator_id, \
         modifier_id, quota, used_bytes, status, can_search, can_rename, can_record_recent_file, \
         created_at, modified_at"
    };
}
macro_rules! dentry_columns {
    ($p:literal) => {
        concat!(
            $p,
            "dentry_id, ",
            $p,
            "uuid, ",
            $p,
            "space_id, ",
            $p,
            "parent_id, ",
            $p,
            "kind, ",
            $p,
            "name, ",
            $p,
            "size, ",
            $p,
            "version, ",
            $p,
            "status, ",
            $p,
            "blob_key, ",
            $p,
            "creator_id, ",
            $p,
            "modifier_id, ",
            $p,
            "created_at, ",
            $p,
            "modified_at"
        )
    };
}
pub(crate) use {
    app_columns, dentry_columns, dept_columns, org_columns, space_columns, user_columns,
};

/// Columns of [`dentry_columns`] in a row.
pub(crate) const DENTRY_WIDTH: usize = 14;

pub(crate) fn org_from_row(row: &Row) -> rusqlite::Result<OrgRecord> {
    Ok(OrgRecord {
        corp_id: row.get(0)?,
        name: row.get(1)?,
        capacity: row.get(2)?,
        created_at: row.get(3)?,
        modified_at: row.get(4)?,
    })
}

/// An app from [`app_columns`] starting at column `at`.
pub(crate) fn app_at(row: &Row, at: usize) -> rusqlite::Result<AppRecord> {
    let scopes: String = row.get(at + 6)?;
    Ok(AppRecord {
        app_id: row.get(at)?,
        corp_id: row.get(at + 1)?,
        name: row.get(at + 2)?,
        app_key: row.get(at + 3)?,
        secret_salt: row.get(at + 4)?,
        secret_hash: row.get(at + 5)?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        created_at: row.get(at + 7)?,
        modified_at: row.get(at + 8)?,
    })
}

pub(crate) fn app_from_row(row: &Row) -> rusqlite::Result<AppRecord> {
    app_at(row, 0)
}

pub(crate) fn user_from_row(row: &Row) -> rusqlite::Result<UserRecord> {
    user_at(row, 0)
}

/// A user from [`user_columns`] starting at column `at`.
pub(crate) fn user_at(row: &Row, at: usize) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        union_id: row.get(at)?,
        corp_id: row.get(at + 1)?,
        user_id: row.get(at + 2)?,
        name: row.get(at + 3)?,
        org_admin: row.get(at + 4)?,
        created_at: row.get(at + 5)?,
    })
}

pub(crate) fn dept_from_row(row: &Row) -> rusqlite::Result<DeptRecord> {
    Ok(DeptRecord {
        dept_id: row.get(0)?,
        corp_id: row.get(1)?,
        name: row.get(2)?,
        parent_id: row.get(3)?,
        created_at: row.get(4)?,
    })
}

pub(crate) fn space_from_row(row: &Row) -> rusqlite::Result<SpaceRecord> {
    Ok(SpaceRecord {
        space_id: row.get(0)?,
        corp_id: row.get(1)?,
        app_id: row.get(2)?,
        scene: row.get(3)?,
        scene_id: row.get(4)?,
        name: row.get(5)?,
        owner_type: row.get(6)?,
        owner_id: row.get(7)?,
        creator_id: row.get(8)?,
        modifier_id: row.get(9)?,
        quota: row.get(10)?,
        used_bytes: row.get(11)?,
        status: row.get(12)?,
        can_search: row.get(13)?,
        can_rename: row.get(14)?,
        can_record_recent_file: row.get(15)?,
        created_at: row.get(16)?,
        modified_at: row.get(17)?,
    })
}

/// A dentry (without app properties) from [`dentry_columns`] at column 0.
pub(crate) fn dentry_from_row(row: &Row) -> rusqlite::Result<DentryRecord> {
    Ok(DentryRecord {
        dentry_id: row.get(0)?,
        uuid: row.get(1)?,
        space_id: row.get(2)?,
        parent_id: row.get(3)?,
        kind: row.get(4)?,
        name: row.get(5)?,
        size: row.get(6)?,
        version: row.get(7)?,
        status: row.get(8)?,
        blob_key: row.get(9)?,
        creator_id: row.get(10)?,
        modifier_id: row.get(11)?,
        created_at: row.get(12)?,
        modified_at: row.get(13)?,
        app_properties: Vec::new(),
    })
}

/// An app property from `dentry_id, app_id, name, value, visibility` at column `at`.
pub(crate) fn property_at(row: &Row, at: usize) -> rusqlite::Result<AppPropertyRecord> {
    Ok(AppPropertyRecord {
        dentry_id: row.get(at)?,
        app_id: row.get(at + 1)?,
        name: row.get(at + 2)?,
        value: row.get(at + 3)?,
        visibility: row.get(at + 4)?,
    })
}
