//! Schema migrations: the files `migrations/postgres/NNNN_*.sql`, compiled
//! in, recorded in `schema_migrations(version, applied_at)`. All pending
//! migrations are applied in one transaction under a transaction-scoped
//! advisory lock, so nodes starting at once migrate once (the others wait,
//! then find nothing to do). A database whose version is newer than this
//! build's, or whose encoding is not UTF8, is refused, untouched.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio_postgres::{Client, Config, NoTls};

use orgdrive_store::{StoreError, StoreResult};

use crate::error::classify;

/// Every migration, by version (the number its file name starts with).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_schema.sql")),
    (2, include_str!("../migrations/postgres/0002_console.sql")),
    (3, include_str!("../migrations/postgres/0003_versions_bytes.sql")),
    (4, include_str!("../migrations/postgres/0004_dead_properties.sql")),
    (5, include_str!("../migrations/postgres/0005_fewer_write_indexes.sql")),
    (6, include_str!("../migrations/postgres/0006_no_name_order_index.sql")),
    (7, include_str!("../migrations/postgres/0007_lighter_events.sql")),
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The advisory lock key migrations run under ("orgdmigr" in ASCII).
const MIGRATION_LOCK: i64 = 0x6f72_6764_6d69_6772;

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The schema version found (0: an empty database).
    pub from_version: i64,
    /// The schema version now.
    pub to_version: i64,
    /// The versions applied by this run, in order.
    pub applied: Vec<i64>,
}

/// Brings the database at `url` to this build's schema (for `orgdrive migrate`).
pub async fn migrate(url: &str) -> StoreResult<MigrationReport> {
    let config: Config =
        url.parse().map_err(|e| StoreError::Backend(format!("bad PostgreSQL URL: {e}")))?;
    run_with(&config).await
}

/// Connects with `config` and migrates, on a connection of its own.
pub(crate) async fn run_with(config: &Config) -> StoreResult<MigrationReport> {
    let (mut client, connection) = config.connect(NoTls).await.map_err(|e| {
        StoreError::Backend(format!("cannot connect to PostgreSQL: {}", describe(&e)))
    })?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "migration connection ended");
        }
    });
    let report = run(&mut client).await;
    drop(client);
    let _ = driver.await;
    report
}

async fn run(client: &mut Client) -> StoreResult<MigrationReport> {
    let db = |e: tokio_postgres::Error| classify(&e);
    let t = client.transaction().await.map_err(db)?;
    // Limits count a name's characters in SQL (`char_length`), which counts
    // bytes in a database of another encoding (`SQL_ASCII`): a rename
    // from "éé" to "abcd" would seem not to grow its path.
    const ENCODING: &str =
        "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()";
    let encoding: String = t.query_one(ENCODING, &[]).await.map_err(db)?.get(0);
    if encoding != "UTF8" {
        return Err(StoreError::Backend(format!(
            "the database's encoding is {encoding}; orgdrive needs UTF8 (names are counted in \
             characters): CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0"
        )));
    }
    t.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(db)?;
    let tracked: bool = t
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(db)?
        .get(0);
    let from_version: i64 = if tracked {
        t.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])
            .await
            .map_err(db)?
            .get(0)
    } else {
        0
    };
    if from_version > LATEST {
        // Dropping the transaction rolls it back: nothing was written.
        return Err(StoreError::Backend(format!(
            "the database has schema version {from_version}; this build knows up to {LATEST}: \
             run a newer orgdrive"
        )));
    }
    if !tracked {
        t.batch_execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await
        .map_err(db)?;
    }
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let mut applied = Vec::new();
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > from_version) {
        t.batch_execute(sql).await.map_err(|e| {
            StoreError::Backend(format!("migration {version} failed: {}", describe(&e)))
        })?;
        t.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[version, &now_ms],
        )
        .await
        .map_err(db)?;
        applied.push(*version);
    }
    t.commit().await.map_err(db)?;
    Ok(MigrationReport { from_version, to_version: LATEST.max(from_version), applied })
}

/// The server's message when there is one (the driver's `Display` says only "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}
