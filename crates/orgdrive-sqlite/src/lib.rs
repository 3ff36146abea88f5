//! orgdrive's embedded metadata store: the [`orgdrive_store`] contract on one
//! SQLite file in WAL mode. Only this crate knows SQL.
//!
//! Writes go through one writer task that owns the only write connection and
//! group-commits them (`writer`): our own writers never race each other into
//! `SQLITE_BUSY`, and concurrent writes share one fsync. Reads use a separate
//! pool of read-only connections and see the last committed state (WAL
//! readers never block the writer).

mod drive;
mod identity;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row};

use writer::Writer;

use orgdrive_store::{
    AppRecord, DentryRecord, DeptRecord, Key, OrgRecord, SpaceRecord, StoreError, StoreResult,
    UserRecord,
};

/// How the SQLite store is opened.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Number of read connections.
    pub readers: u32,
    /// `synchronous=FULL` (durable on power loss) when true, `NORMAL` otherwise.
    pub durable: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { readers: 8, durable: true }
    }
}

/// SQLite implementation of [`MetaStore`].
#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path, options: &SqliteOptions) -> StoreResult<SqliteStore> {
        let connect = SqliteConnectOptions::from_str("sqlite://")
            .map_err(backend)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if options.durable {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .foreign_keys(true)
            // Savepoint journals in memory: group commit opens one per write.
            .pragma("temp_store", "memory")
            .busy_timeout(Duration::from_secs(10));
        let mut write_conn: SqliteConnection = connect.connect().await.map_err(backend)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut write_conn)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let writer = Writer::spawn(write_conn);
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect.read_only(true))
            .await
            .map_err(backend)?;
        Ok(SqliteStore { writer, reader })
    }

    /// The row (if any) that `sql` finds with these text parameters, mapped.
    pub(crate) async fn read_one<T>(
        &self,
        sql: &str,
        params: &[&str],
        map: fn(&SqliteRow) -> Result<T, sqlx::Error>,
    ) -> StoreResult<Option<T>> {
        let mut query = sqlx::query(sql);
        for param in params {
            query = query.bind(*param);
        }
        let row = query.fetch_optional(&self.reader).await.map_err(backend)?;
        row.as_ref().map(map).transpose().map_err(backend)
    }

    /// Closes the store: the readers first, so that the writer is the last
    /// connection and checkpoints the WAL into the database as it closes.
    async fn shut(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps constraint violations to their dialect-independent meaning.
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        let message = db.message().to_string();
        if db.is_unique_violation() {
            // SQLite: "UNIQUE constraint failed: apps.app_key" (or several
            // columns, comma-separated, for a composite key).
            let columns = message.rsplit(": ").next().unwrap_or_default();
            if let Some(key) = unique_key(columns) {
                return StoreError::Duplicate(key);
            }
        }
        // ON DELETE RESTRICT reports SQLITE_CONSTRAINT_TRIGGER, not _FOREIGNKEY.
        if db.is_foreign_key_violation() || message.contains("FOREIGN KEY constraint failed") {
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
        "dept_members.dept_id, dept_members.union_id" => Key::DeptMember,
        "spaces.space_id" => Key::SpaceId,
        "dentries.dentry_id" | "dentries.uuid" => Key::DentryId,
        "uploads.upload_key" => Key::UploadKey,
        _ => return None,
    })
}

/// A delete that a restricting foreign key refused means "still in use".
pub(crate) fn classify_delete(e: sqlx::Error) -> StoreError {
    match classify(e) {
        StoreError::NotFound => StoreError::InUse,
        other => other,
    }
}

pub(crate) fn org_from_row(row: &SqliteRow) -> Result<OrgRecord, sqlx::Error> {
    Ok(OrgRecord {
        corp_id: row.try_get("corp_id")?,
        name: row.try_get("name")?,
        capacity: row.try_get("capacity")?,
        created_at: row.try_get("created_at")?,
        modified_at: row.try_get("modified_at")?,
    })
}

pub(crate) fn app_from_row(row: &SqliteRow) -> Result<AppRecord, sqlx::Error> {
    let scopes: String = row.try_get("scopes")?;
    Ok(AppRecord {
        app_id: row.try_get("app_id")?,
        corp_id: row.try_get("corp_id")?,
        name: row.try_get("name")?,
        app_key: row.try_get("app_key")?,
        secret_salt: row.try_get("secret_salt")?,
        secret_hash: row.try_get("secret_hash")?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        created_at: row.try_get("created_at")?,
        modified_at: row.try_get("modified_at")?,
    })
}

pub(crate) fn user_from_row(row: &SqliteRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        union_id: row.try_get("union_id")?,
        corp_id: row.try_get("corp_id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        org_admin: row.try_get("org_admin")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) fn dept_from_row(row: &SqliteRow) -> Result<DeptRecord, sqlx::Error> {
    Ok(DeptRecord {
        dept_id: row.try_get("dept_id")?,
        corp_id: row.try_get("corp_id")?,
        name: row.try_get("name")?,
        parent_id: row.try_get("parent_id")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) fn space_from_row(row: &SqliteRow) -> Result<SpaceRecord, sqlx::Error> {
    Ok(SpaceRecord {
        space_id: row.try_get("space_id")?,
        corp_id: row.try_get("corp_id")?,
        app_id: row.try_get("app_id")?,
        scene: row.try_get("scene")?,
        scene_id: row.try_get("scene_id")?,
        name: row.try_get("name")?,
        owner_type: row.try_get("owner_type")?,
        owner_id: row.try_get("owner_id")?,
        creator_id: row.try_get("creator_id")?,
        modifier_id: row.try_get("modifier_id")?,
        quota: row.try_get("quota")?,
        used_bytes: row.try_get("used_bytes")?,
        status: row.try_get("status")?,
        can_search: row.try_get("can_search")?,
        can_rename: row.try_get("can_rename")?,
        can_record_recent_file: row.try_get("can_record_recent_file")?,
        created_at: row.try_get("created_at")?,
        modified_at: row.try_get("modified_at")?,
    })
}

pub(crate) fn collect<T>(
    rows: Vec<SqliteRow>,
    map: fn(&SqliteRow) -> Result<T, sqlx::Error>,
) -> StoreResult<Vec<T>> {
    rows.iter().map(|r| map(r).map_err(backend)).collect()
}

pub(crate) const SPACE_COLUMNS: &str =
    "space_id, corp_id, app_id, scene, scene_id, name, owner_type, \
     owner_id, creator_id, modifier_id, quota, used_bytes, status, can_search, can_rename, \
     can_record_recent_file, created_at, modified_at";

pub(crate) const DENTRY_COLUMNS: &str = "dentry_id, uuid, space_id, parent_id, kind, name, size, \
     version, status, blob_key, creator_id, modifier_id, created_at, modified_at";

pub(crate) fn dentry_from_row(row: &SqliteRow) -> Result<DentryRecord, sqlx::Error> {
    Ok(DentryRecord {
        dentry_id: row.try_get("dentry_id")?,
        uuid: row.try_get("uuid")?,
        space_id: row.try_get("space_id")?,
        parent_id: row.try_get("parent_id")?,
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        size: row.try_get("size")?,
        version: row.try_get("version")?,
        status: row.try_get("status")?,
        blob_key: row.try_get("blob_key")?,
        creator_id: row.try_get("creator_id")?,
        modifier_id: row.try_get("modifier_id")?,
        created_at: row.try_get("created_at")?,
        modified_at: row.try_get("modified_at")?,
        app_properties: Vec::new(),
    })
}

/// One dentry as a JSON object, with its app properties: reads return whole
/// pages as one JSON value, so the rows do not cross the connection's thread
/// boundary one by one.
pub(crate) const DENTRY_JSON: &str = "json_object('dentry_id', d.dentry_id, 'uuid', d.uuid, \
     'space_id', d.space_id, 'parent_id', d.parent_id, 'kind', d.kind, 'name', d.name, \
     'size', d.size, 'version', d.version, 'status', d.status, 'blob_key', d.blob_key, \
     'creator_id', d.creator_id, 'modifier_id', d.modifier_id, 'created_at', d.created_at, \
     'modified_at', d.modified_at, 'app_properties', json((SELECT json_group_array(json_object( \
     'dentry_id', p.dentry_id, 'app_id', p.app_id, 'name', p.name, 'value', p.value, \
     'visibility', p.visibility)) FROM app_properties p WHERE p.dentry_id = d.dentry_id)))";

/// Parses a JSON array of [`DENTRY_JSON`] objects.
pub(crate) fn dentries_from_json(json: Option<String>) -> StoreResult<Vec<DentryRecord>> {
    match json {
        None => Ok(Vec::new()),
        Some(text) => {
            let rows: Vec<DentryJson> = serde_json::from_str(&text)
                .map_err(|e| StoreError::Backend(format!("dentry JSON: {e}")))?;
            Ok(rows.into_iter().map(DentryJson::into_record).collect())
        }
    }
}

/// A [`DENTRY_JSON`] object as read back.
#[derive(serde::Deserialize)]
struct DentryJson {
    dentry_id: String,
    uuid: String,
    space_id: String,
    parent_id: String,
    kind: String,
    name: String,
    size: i64,
    version: i64,
    status: String,
    blob_key: Option<String>,
    creator_id: String,
    modifier_id: String,
    created_at: i64,
    modified_at: i64,
    #[serde(default)]
    app_properties: Vec<AppPropertyJson>,
}

#[derive(serde::Deserialize)]
struct AppPropertyJson {
    dentry_id: String,
    app_id: String,
    name: String,
    value: String,
    visibility: String,
}

impl DentryJson {
    fn into_record(self) -> DentryRecord {
        DentryRecord {
            dentry_id: self.dentry_id,
            uuid: self.uuid,
            space_id: self.space_id,
            parent_id: self.parent_id,
            kind: self.kind,
            name: self.name,
            size: self.size,
            version: self.version,
            status: self.status,
            blob_key: self.blob_key,
            creator_id: self.creator_id,
            modifier_id: self.modifier_id,
            created_at: self.created_at,
            modified_at: self.modified_at,
            app_properties: self
                .app_properties
                .into_iter()
                .map(|p| orgdrive_store::AppPropertyRecord {
                    dentry_id: p.dentry_id,
                    app_id: p.app_id,
                    name: p.name,
                    value: p.value,
                    visibility: p.visibility,
                })
                .collect(),
        }
    }
}
