//! The embedded metadata store: one SQLite file in WAL mode.
//!
//! Writes go through a pool of exactly one connection, so our own writers never
//! race each other into `SQLITE_BUSY`; reads use a separate pool and see the
//! last committed state (WAL readers never block the writer).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::{
    AppRecord, DeptRecord, MetaError, MetaResult, MetaStore, OrgRecord, SpaceRecord, TokenRecord,
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
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path, options: &SqliteOptions) -> MetaResult<SqliteStore> {
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
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect.clone())
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| MetaError::Backend(e.to_string()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(connect.read_only(true))
            .await
            .map_err(backend)?;
        Ok(SqliteStore { writer, reader })
    }

    /// Closes both pools, waiting for connections to finish.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn write_tx(&self) -> MetaResult<Transaction<'static, Sqlite>> {
        self.writer.begin().await.map_err(backend)
    }
}

fn backend(e: sqlx::Error) -> MetaError {
    MetaError::Backend(e.to_string())
}

/// Maps constraint violations to their dialect-independent meaning.
fn classify(e: sqlx::Error) -> MetaError {
    if let sqlx::Error::Database(db) = &e {
        let message = db.message().to_string();
        if db.is_unique_violation() {
            // SQLite: "UNIQUE constraint failed: apps.app_key"
            let what = message.rsplit(": ").next().unwrap_or("key").to_string();
            return MetaError::Duplicate { what };
        }
        // ON DELETE RESTRICT reports SQLITE_CONSTRAINT_TRIGGER, not _FOREIGNKEY.
        if db.is_foreign_key_violation() || message.contains("FOREIGN KEY constraint failed") {
            return MetaError::MissingReference;
        }
    }
    backend(e)
}

/// A delete that a restricting foreign key refused means "still in use".
fn classify_delete(e: sqlx::Error) -> MetaError {
    match classify(e) {
        MetaError::MissingReference => MetaError::InUse,
        other => other,
    }
}

fn org_from_row(row: &SqliteRow) -> Result<OrgRecord, sqlx::Error> {
    Ok(OrgRecord {
        corp_id: row.try_get("corp_id")?,
        name: row.try_get("name")?,
        capacity: row.try_get("capacity")?,
        created_at: row.try_get("created_at")?,
        modified_at: row.try_get("modified_at")?,
    })
}

fn app_from_row(row: &SqliteRow) -> Result<AppRecord, sqlx::Error> {
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

fn user_from_row(row: &SqliteRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        union_id: row.try_get("union_id")?,
        corp_id: row.try_get("corp_id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        org_admin: row.try_get("org_admin")?,
        created_at: row.try_get("created_at")?,
    })
}

fn dept_from_row(row: &SqliteRow) -> Result<DeptRecord, sqlx::Error> {
    Ok(DeptRecord {
        dept_id: row.try_get("dept_id")?,
        corp_id: row.try_get("corp_id")?,
        name: row.try_get("name")?,
        parent_id: row.try_get("parent_id")?,
        created_at: row.try_get("created_at")?,
    })
}

fn space_from_row(row: &SqliteRow) -> Result<SpaceRecord, sqlx::Error> {
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

fn collect<T>(
    rows: Vec<SqliteRow>,
    map: fn(&SqliteRow) -> Result<T, sqlx::Error>,
) -> MetaResult<Vec<T>> {
    rows.iter().map(|r| map(r).map_err(backend)).collect()
}

const SPACE_COLUMNS: &str = "space_id, corp_id, app_id, scene, scene_id, name, owner_type, \
     owner_id, creator_id, modifier_id, quota, used_bytes, status, can_search, can_rename, \
     can_record_recent_file, created_at, modified_at";

#[async_trait]
impl MetaStore for SqliteStore {
    async fn register_node(&self, now_ms: i64) -> MetaResult<i64> {
        let row = sqlx::query("INSERT INTO nodes (started_at) VALUES (?) RETURNING node_id")
            .bind(now_ms)
            .fetch_one(&self.writer)
            .await
            .map_err(backend)?;
        row.try_get(0).map_err(backend)
    }

    async fn is_empty(&self) -> MetaResult<bool> {
        let row = sqlx::query("SELECT NOT EXISTS (SELECT 1 FROM orgs)")
            .fetch_one(&self.writer)
            .await
            .map_err(backend)?;
        row.try_get(0).map_err(backend)
    }

    async fn insert_org(&self, org: &OrgRecord) -> MetaResult<()> {
        sqlx::query(
            "INSERT INTO orgs (corp_id, name, capacity, created_at, modified_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&org.corp_id)
        .bind(&org.name)
        .bind(org.capacity)
        .bind(org.created_at)
        .bind(org.modified_at)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn get_org(&self, corp_id: &str) -> MetaResult<Option<OrgRecord>> {
        let row = sqlx::query("SELECT * FROM orgs WHERE corp_id = ?")
            .bind(corp_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(org_from_row).transpose().map_err(backend)
    }

    async fn list_orgs(&self) -> MetaResult<Vec<OrgRecord>> {
        let rows = sqlx::query("SELECT * FROM orgs ORDER BY created_at, corp_id")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        collect(rows, org_from_row)
    }

    async fn delete_org(&self, corp_id: &str) -> MetaResult<bool> {
        let mut tx = self.write_tx().await?;
        // Departments reference each other; drop memberships and the tree first.
        sqlx::query("DELETE FROM dept_members WHERE corp_id = ?")
            .bind(corp_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("UPDATE depts SET parent_id = NULL WHERE corp_id = ?")
            .bind(corp_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let done = sqlx::query("DELETE FROM orgs WHERE corp_id = ?")
            .bind(corp_id)
            .execute(&mut *tx)
            .await
            .map_err(classify_delete)?;
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_app(&self, app: &AppRecord) -> MetaResult<()> {
        sqlx::query(
            "INSERT INTO apps (app_id, corp_id, name, app_key, secret_salt, secret_hash, \
             scopes, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&app.app_id)
        .bind(&app.corp_id)
        .bind(&app.name)
        .bind(&app.app_key)
        .bind(&app.secret_salt)
        .bind(&app.secret_hash)
        .bind(app.scopes.join(" "))
        .bind(app.created_at)
        .bind(app.modified_at)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn get_app_by_key(&self, app_key: &str) -> MetaResult<Option<AppRecord>> {
        let row = sqlx::query("SELECT * FROM apps WHERE app_key = ?")
            .bind(app_key)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(app_from_row).transpose().map_err(backend)
    }

    async fn list_apps(&self, corp_id: &str) -> MetaResult<Vec<AppRecord>> {
        let rows = sqlx::query("SELECT * FROM apps WHERE corp_id = ? ORDER BY created_at, app_id")
            .bind(corp_id)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        collect(rows, app_from_row)
    }

    async fn delete_app(&self, corp_id: &str, app_id: &str) -> MetaResult<bool> {
        let done = sqlx::query("DELETE FROM apps WHERE corp_id = ? AND app_id = ?")
            .bind(corp_id)
            .bind(app_id)
            .execute(&self.writer)
            .await
            .map_err(classify_delete)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_user(&self, user: &UserRecord) -> MetaResult<()> {
        sqlx::query(
            "INSERT INTO users (union_id, corp_id, user_id, name, org_admin, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.union_id)
        .bind(&user.corp_id)
        .bind(&user.user_id)
        .bind(&user.name)
        .bind(user.org_admin)
        .bind(user.created_at)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn get_user(&self, corp_id: &str, union_id: &str) -> MetaResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT * FROM users WHERE corp_id = ? AND union_id = ?")
            .bind(corp_id)
            .bind(union_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(user_from_row).transpose().map_err(backend)
    }

    async fn list_users(&self, corp_id: &str) -> MetaResult<Vec<UserRecord>> {
        let rows =
            sqlx::query("SELECT * FROM users WHERE corp_id = ? ORDER BY created_at, union_id")
                .bind(corp_id)
                .fetch_all(&self.reader)
                .await
                .map_err(backend)?;
        collect(rows, user_from_row)
    }

    async fn delete_user(&self, corp_id: &str, union_id: &str) -> MetaResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE corp_id = ? AND union_id = ?")
            .bind(corp_id)
            .bind(union_id)
            .execute(&self.writer)
            .await
            .map_err(classify_delete)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_dept(&self, dept: &DeptRecord) -> MetaResult<()> {
        sqlx::query(
            "INSERT INTO depts (dept_id, corp_id, name, parent_id, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&dept.dept_id)
        .bind(&dept.corp_id)
        .bind(&dept.name)
        .bind(&dept.parent_id)
        .bind(dept.created_at)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn list_depts(&self, corp_id: &str) -> MetaResult<Vec<DeptRecord>> {
        let rows =
            sqlx::query("SELECT * FROM depts WHERE corp_id = ? ORDER BY created_at, dept_id")
                .bind(corp_id)
                .fetch_all(&self.reader)
                .await
                .map_err(backend)?;
        collect(rows, dept_from_row)
    }

    async fn delete_dept(&self, corp_id: &str, dept_id: &str) -> MetaResult<bool> {
        let done = sqlx::query("DELETE FROM depts WHERE corp_id = ? AND dept_id = ?")
            .bind(corp_id)
            .bind(dept_id)
            .execute(&self.writer)
            .await
            .map_err(classify_delete)?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> MetaResult<()> {
        sqlx::query(
            "INSERT INTO dept_members (corp_id, dept_id, union_id) VALUES (?, ?, ?) \
             ON CONFLICT (dept_id, union_id) DO NOTHING",
        )
        .bind(corp_id)
        .bind(dept_id)
        .bind(union_id)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn list_dept_members(&self, corp_id: &str, dept_id: &str) -> MetaResult<Vec<UserRecord>> {
        let rows = sqlx::query(
            "SELECT u.* FROM dept_members m JOIN users u ON u.union_id = m.union_id \
             WHERE m.corp_id = ? AND m.dept_id = ? ORDER BY u.created_at, u.union_id",
        )
        .bind(corp_id)
        .bind(dept_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        collect(rows, user_from_row)
    }

    async fn remove_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> MetaResult<bool> {
        let done = sqlx::query(
            "DELETE FROM dept_members WHERE corp_id = ? AND dept_id = ? AND union_id = ?",
        )
        .bind(corp_id)
        .bind(dept_id)
        .bind(union_id)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_token(&self, token: &TokenRecord) -> MetaResult<()> {
        sqlx::query("INSERT INTO access_tokens (token_hash, app_id, expires_at) VALUES (?, ?, ?)")
            .bind(&token.token_hash)
            .bind(&token.app_id)
            .bind(token.expires_at)
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn find_live_token(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> MetaResult<Option<(TokenRecord, AppRecord)>> {
        let row = sqlx::query(
            "SELECT t.token_hash, t.expires_at, a.* FROM access_tokens t \
             JOIN apps a ON a.app_id = t.app_id WHERE t.token_hash = ? AND t.expires_at > ?",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let app = app_from_row(&row).map_err(backend)?;
        let token = TokenRecord {
            token_hash: row.try_get("token_hash").map_err(backend)?,
            app_id: app.app_id.clone(),
            expires_at: row.try_get("expires_at").map_err(backend)?,
        };
        Ok(Some((token, app)))
    }

    async fn purge_expired_tokens(&self, now_ms: i64) -> MetaResult<u64> {
        let done = sqlx::query("DELETE FROM access_tokens WHERE expires_at <= ?")
            .bind(now_ms)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn insert_space_once(&self, space: &SpaceRecord) -> MetaResult<(SpaceRecord, bool)> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO spaces (space_id, corp_id, app_id, scene, scene_id, name, owner_type, \
             owner_id, creator_id, modifier_id, quota, used_bytes, status, can_search, \
             can_rename, can_record_recent_file, created_at, modified_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (corp_id, app_id, scene, scene_id) DO NOTHING",
        )
        .bind(&space.space_id)
        .bind(&space.corp_id)
        .bind(&space.app_id)
        .bind(&space.scene)
        .bind(&space.scene_id)
        .bind(&space.name)
        .bind(&space.owner_type)
        .bind(&space.owner_id)
        .bind(&space.creator_id)
        .bind(&space.modifier_id)
        .bind(space.quota)
        .bind(space.used_bytes)
        .bind(&space.status)
        .bind(space.can_search)
        .bind(space.can_rename)
        .bind(space.can_record_recent_file)
        .bind(space.created_at)
        .bind(space.modified_at)
        .execute(&mut *tx)
        .await
        .map_err(classify)?
        .rows_affected()
            == 1;
        let row = sqlx::query(&format!(
            "SELECT {SPACE_COLUMNS} FROM spaces \
             WHERE corp_id = ? AND app_id = ? AND scene = ? AND scene_id = ?"
        ))
        .bind(&space.corp_id)
        .bind(&space.app_id)
        .bind(&space.scene)
        .bind(&space.scene_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok((space_from_row(&row).map_err(backend)?, inserted))
    }

    async fn get_space(&self, space_id: &str) -> MetaResult<Option<SpaceRecord>> {
        let row = sqlx::query(&format!("SELECT {SPACE_COLUMNS} FROM spaces WHERE space_id = ?"))
            .bind(space_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.as_ref().map(space_from_row).transpose().map_err(backend)
    }

    async fn org_used_bytes(&self, corp_id: &str) -> MetaResult<i64> {
        let row = sqlx::query("SELECT COALESCE(SUM(used_bytes), 0) FROM spaces WHERE corp_id = ?")
            .bind(corp_id)
            .fetch_one(&self.reader)
            .await
            .map_err(backend)?;
        row.try_get(0).map_err(backend)
    }

    async fn app_used_bytes(&self, app_id: &str) -> MetaResult<i64> {
        let row = sqlx::query("SELECT COALESCE(SUM(used_bytes), 0) FROM spaces WHERE app_id = ?")
            .bind(app_id)
            .fetch_one(&self.reader)
            .await
            .map_err(backend)?;
        row.try_get(0).map_err(backend)
    }
}
