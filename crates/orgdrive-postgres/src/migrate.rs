//! Schema migrations: the files `migrations/postgres/NNNN_*.sql`, compiled
//! in, recorded in `schema_migrations(version, applied_at)`. All pending
//! migrations are applied in one transaction under a transaction-scoped
//! advisory lock, so nodes starting at once migrate once (the others wait,
//! then find nothing to do). A database whose version is newer than this
//! build's, or whose encoding is not UTF8, is refused, untouched.
//!
//! An index a migration adds to a table that may be large is first built
//! online ([`ONLINE_INDEXES`]: `CREATE INDEX CONCURRENTLY`, outside the
//! transaction, reads and writes going on), so that the migration itself
//! only finds it and swaps the old index out under a brief lock.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio_postgres::{Client, Config};

use crate::connect::{Target, Tls};

use orgdrive_store::{StoreError, StoreResult};

use crate::error::{classify, words};

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

/// An index built online before the migration that adds it.
struct OnlineIndex {
    /// The migration that adds it.
    added_by: i64,
    table: &'static str,
    name: &'static str,
    create: &'static str,
    /// `pg_get_indexdef` of it, the table's schema left out.
    definition: &'static str,
}

/// Indexes built online before the migrations that add them: on a database
/// older than the migration whose table exists (on a new database the
/// migration builds them, on an empty table). The migration creates them
/// `IF NOT EXISTS` and refuses to go on if one is invalid.
const ONLINE_INDEXES: &[OnlineIndex] = &[
    OnlineIndex {
        added_by: 7,
        table: "events",
        name: "events_seq",
        create: "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS events_seq ON events (seq) \
                 WHERE seq IS NOT NULL",
        definition: "CREATE UNIQUE INDEX events_seq ON events USING btree (seq) \
                     WHERE (seq IS NOT NULL)",
    },
    OnlineIndex {
        added_by: 7,
        table: "events",
        name: "events_numbered_by_org",
        create: "CREATE INDEX CONCURRENTLY IF NOT EXISTS events_numbered_by_org \
                 ON events (corp_id, seq) WHERE seq IS NOT NULL",
        definition: "CREATE INDEX events_numbered_by_org ON events USING btree (corp_id, seq) \
                     WHERE (seq IS NOT NULL)",
    },
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
    migrate_up_to(url, LATEST).await
}

/// Brings the database at `url` to schema version `version` at most (for
/// tests of an upgrade: a database as an older build left it).
#[doc(hidden)]
pub async fn migrate_up_to(url: &str, version: i64) -> StoreResult<MigrationReport> {
    let target = Target::parse(url)?;
    run_with(&target.config, &target.tls()?, version).await
}

/// Connects with `config` through `tls` and migrates up to `up_to`, on a
/// connection of its own.
pub(crate) async fn run_with(
    config: &Config,
    tls: &Tls,
    up_to: i64,
) -> StoreResult<MigrationReport> {
    let (mut client, connection) = crate::connect::connect(config, tls).await?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "migration connection ended");
        }
    });
    let report = run(&mut client, up_to).await;
    drop(client);
    let _ = driver.await;
    report
}

async fn run(client: &mut Client, up_to: i64) -> StoreResult<MigrationReport> {
    let db = |e: tokio_postgres::Error| classify(&e);
    // A node stopped in the middle of a migration lets go of its locks.
    crate::connect::bound_the_session(client, &crate::connect::session_bounds()).await;
    build_indexes_online(client, up_to).await?;
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
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > from_version && *v <= up_to) {
        t.batch_execute(sql).await.map_err(|e| {
            StoreError::Backend(format!("migration {version} failed: {}", words(&e)))
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
    let to_version = applied.last().copied().unwrap_or(from_version);
    Ok(MigrationReport { from_version, to_version, applied })
}

/// Builds the [`ONLINE_INDEXES`] the pending migrations (up to `up_to`)
/// add, under the migrations' lock held by this session (nodes starting at
/// once build each once); takes no lock when there is none to build. An
/// index an interrupted build left invalid, or one of another definition
/// under its name, is dropped and built again.
async fn build_indexes_online(client: &Client, up_to: i64) -> StoreResult<()> {
    let db = |e: tokio_postgres::Error| classify(&e);
    if pending_online(client, up_to).await?.is_empty() {
        return Ok(());
    }
    // Taken by polling, never by waiting in `pg_advisory_lock`: a session
    // waiting there holds a snapshot, which another node's `CREATE INDEX
    // CONCURRENTLY` waits for, while that node holds the lock (a deadlock).
    let try_lock = "SELECT pg_try_advisory_lock($1)";
    while !client.query_one(try_lock, &[&MIGRATION_LOCK]).await.map_err(db)?.get::<_, bool>(0) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let built = async {
        // Again under the lock: another node may have built them, or migrated.
        for index in pending_online(client, up_to).await? {
            let failed = |e: tokio_postgres::Error| online_failed(index.added_by, &e);
            let found = client
                .query_opt(
                    "SELECT i.indisvalid, regexp_replace(pg_get_indexdef(i.indexrelid), \
                     ' ON \\S+ USING ', ' ON ' || $2 || ' USING ') \
                     FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
                    &[&index.name, &index.table],
                )
                .await
                .map_err(db)?;
            if let Some(row) = found {
                let (valid, definition): (bool, String) = (row.get(0), row.get(1));
                if !valid || definition != index.definition {
                    let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {}", index.name);
                    client.batch_execute(&drop).await.map_err(failed)?;
                }
            }
            client.batch_execute(index.create).await.map_err(failed)?;
        }
        Ok(())
    }
    .await;
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    built.and(unlocked.map(drop).map_err(db))
}

/// The [`ONLINE_INDEXES`] to build before migrating up to `up_to`: those of
/// migrations not applied yet whose table exists.
async fn pending_online(client: &Client, up_to: i64) -> StoreResult<Vec<&'static OnlineIndex>> {
    let db = |e: tokio_postgres::Error| classify(&e);
    let tracked: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(db)?
        .get(0);
    if !tracked {
        return Ok(Vec::new()); // a new database: its tables are empty
    }
    let version: i64 = client
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])
        .await
        .map_err(db)?
        .get(0);
    let mut pending = Vec::new();
    for index in ONLINE_INDEXES.iter().filter(|i| i.added_by > version && i.added_by <= up_to) {
        let table_exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&index.table])
            .await
            .map_err(db)?
            .get(0);
        if table_exists {
            pending.push(index);
        }
    }
    Ok(pending)
}

fn online_failed(version: i64, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Backend(format!(
        "migration {version} failed building an index online: {}",
        words(e)
    ))
}
