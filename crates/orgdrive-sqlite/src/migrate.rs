//! Schema migrations: the files `migrations/sqlite/NNNN_*.sql`, compiled in,
//! applied in order at open, each in its own transaction together with the
//! `PRAGMA user_version` that records it. A database migrated by the earlier
//! sqlx-based build (user_version 0 and a `_sqlx_migrations` table) is
//! adopted: its user_version becomes the last migration sqlx recorded as
//! successful, and nothing is run again.

use rusqlite::{Connection, OptionalExtension};

use orgdrive_store::{StoreError, StoreResult};

use crate::backend;

/// Every migration, by version (the number its file name starts with).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_identity_and_spaces.sql")),
    (2, include_str!("../migrations/sqlite/0002_dentries_and_uploads.sql")),
    (3, include_str!("../migrations/sqlite/0003_upload_reservations.sql")),
    (4, include_str!("../migrations/sqlite/0004_reissued_access_tokens.sql")),
    (5, include_str!("../migrations/sqlite/0005_dentry_lifecycle.sql")),
    (6, include_str!("../migrations/sqlite/0006_grants.sql")),
    (7, include_str!("../migrations/sqlite/0007_thumbnails.sql")),
    (8, include_str!("../migrations/sqlite/0008_events.sql")),
    (9, include_str!("../migrations/sqlite/0009_open_links.sql")),
    (10, include_str!("../migrations/sqlite/0010_wopi.sql")),
    (11, include_str!("../migrations/sqlite/0011_leases.sql")),
    (12, include_str!("../migrations/sqlite/0012_one_name_index.sql")),
    (13, include_str!("../migrations/sqlite/0013_console.sql")),
    (14, include_str!("../migrations/sqlite/0014_versions_bytes.sql")),
    (15, include_str!("../migrations/sqlite/0015_dead_properties.sql")),
    (16, include_str!("../migrations/sqlite/0016_fewer_write_indexes.sql")),
    (17, include_str!("../migrations/sqlite/0017_inline_objects.sql")),
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// Brings the database to [`LATEST`], one migration per transaction. Each
/// transaction reads the version under the write lock, so two processes
/// opening one database never run a migration twice.
pub(crate) fn run(conn: &Connection) -> StoreResult<()> {
    loop {
        conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
        let step = next_step(conn);
        let more = match step {
            Ok(more) => more,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        };
        conn.execute_batch("COMMIT").map_err(backend)?;
        if !more {
            return Ok(());
        }
    }
}

/// Inside the transaction: adopts an sqlx-migrated database, then applies the
/// next migration; false when there was none left.
fn next_step(conn: &Connection) -> StoreResult<bool> {
    let mut version = user_version(conn)?;
    if version == 0 {
        if let Some(adopted) = sqlx_version(conn)? {
            set_user_version(conn, adopted)?;
            version = adopted;
        }
    }
    if version > LATEST {
        return Err(StoreError::Backend(format!(
            "the database has schema version {version}; this build knows up to {LATEST}"
        )));
    }
    let Some((next, sql)) = MIGRATIONS.iter().find(|(v, _)| *v > version) else {
        return Ok(false);
    };
    conn.execute_batch(sql)
        .map_err(|e| StoreError::Backend(format!("migration {next} failed: {e}")))?;
    set_user_version(conn, *next)?;
    Ok(true)
}

/// The schema version of a database: its user_version, or the last migration
/// the sqlx build recorded in one it migrated.
pub(crate) fn schema_version(conn: &Connection) -> StoreResult<i64> {
    match user_version(conn)? {
        0 => Ok(sqlx_version(conn)?.unwrap_or(0)),
        version => Ok(version),
    }
}

fn user_version(conn: &Connection) -> StoreResult<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(backend)
}

fn set_user_version(conn: &Connection, version: i64) -> StoreResult<()> {
    conn.execute_batch(&format!("PRAGMA user_version = {version}")).map_err(backend)
}

/// The last migration the sqlx build applied, if it migrated this database.
fn sqlx_version(conn: &Connection) -> StoreResult<Option<i64>> {
    let tracked: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?;
    if tracked.is_none() {
        return Ok(None);
    }
    // sqlx records a migration that failed half-way as unsuccessful and
    // refuses to go on; so do we.
    let failed: Option<i64> = conn
        .query_row("SELECT MIN(version) FROM _sqlx_migrations WHERE NOT success", [], |row| {
            row.get(0)
        })
        .map_err(backend)?;
    if let Some(failed) = failed {
        return Err(StoreError::Backend(format!(
            "migration {failed} was left partly applied (_sqlx_migrations); restore a backup"
        )));
    }
    conn.query_row("SELECT MAX(version) FROM _sqlx_migrations WHERE success", [], |row| row.get(0))
        .map_err(backend)
}
