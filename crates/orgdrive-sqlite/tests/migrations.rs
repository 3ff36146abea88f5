//! SQLite store: schema migrations, on a fresh database and on one that the
//! earlier sqlx-based build migrated (tracked in `_sqlx_migrations`).

use orgdrive_sqlite::{SqliteOptions, SqliteStore};
use orgdrive_store::*;
use rusqlite::Connection;

/// The schema version of this build (migrations after 0004 never ran under sqlx).
const LATEST: i64 = 17;

/// The migrations the sqlx build knew.
const MIGRATIONS: [&str; 4] = [
    include_str!("../migrations/sqlite/0001_identity_and_spaces.sql"),
    include_str!("../migrations/sqlite/0002_dentries_and_uploads.sql"),
    include_str!("../migrations/sqlite/0003_upload_reservations.sql"),
    include_str!("../migrations/sqlite/0004_reissued_access_tokens.sql"),
];

/// A database as the sqlx build left it after applying the first `applied`
/// migrations: its tables, `_sqlx_migrations` as sqlx writes it, user_version 0.
fn migrated_by_sqlx(path: &std::path::Path, applied: usize) {
    let db = Connection::open(path).unwrap();
    db.execute_batch(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
         installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
         checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
    )
    .unwrap();
    for (i, sql) in MIGRATIONS.iter().take(applied).enumerate() {
        db.execute_batch(sql).unwrap();
        db.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (?1, 'm', TRUE, x'00', 1)",
            [i as i64 + 1],
        )
        .unwrap();
    }
    db.execute(
        "INSERT INTO orgs (corp_id, name, capacity, created_at, modified_at) \
         VALUES ('c', 'kept', NULL, 1, 1)",
        [],
    )
    .unwrap();
}

fn user_version(path: &std::path::Path) -> i64 {
    Connection::open(path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap()
}

async fn open(path: &std::path::Path) -> StoreResult<SqliteStore> {
    SqliteStore::open(path, &SqliteOptions::default()).await
}

#[tokio::test]
async fn a_fresh_database_gets_every_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.sqlite");
    let store = open(&path).await.unwrap();
    assert_eq!(user_version(&path), LATEST);
    assert!(store.is_empty().await.unwrap());
    store.close().await;
    // Opening again runs nothing (a re-run would fail on the existing tables).
    let again = open(&path).await.unwrap();
    assert_eq!(user_version(&path), LATEST);
    again.close().await;
}

#[tokio::test]
async fn a_database_migrated_by_sqlx_is_adopted_without_running_anything_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.sqlite");
    migrated_by_sqlx(&path, MIGRATIONS.len());
    assert_eq!(user_version(&path), 0);
    let store = open(&path).await.expect("adopted, not migrated again");
    assert_eq!(user_version(&path), LATEST);
    let org = store.get_org("c").await.unwrap().expect("the data is kept");
    assert_eq!(org.name, "kept");
    store.close().await;
}

#[tokio::test]
async fn a_database_sqlx_left_behind_gets_the_migrations_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.sqlite");
    migrated_by_sqlx(&path, 3);
    let store = open(&path).await.unwrap();
    assert_eq!(user_version(&path), LATEST);
    let db = Connection::open(&path).unwrap();
    let nonce_column: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('access_tokens') WHERE name = 'nonce'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(nonce_column, 1, "0004 ran");
    assert!(store.get_org("c").await.unwrap().is_some());
    store.close().await;
}

#[tokio::test]
async fn a_migration_sqlx_left_failed_or_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let failed = dir.path().join("failed.sqlite");
    migrated_by_sqlx(&failed, 3);
    Connection::open(&failed)
        .unwrap()
        .execute_batch(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (4, 'm', FALSE, x'00', 1)",
        )
        .unwrap();
    assert!(matches!(open(&failed).await, Err(StoreError::Backend(_))));
    assert_eq!(user_version(&failed), 0, "nothing was adopted");

    let newer = dir.path().join("newer.sqlite");
    open(&newer).await.unwrap().close().await;
    Connection::open(&newer).unwrap().execute_batch("PRAGMA user_version = 99").unwrap();
    assert!(matches!(open(&newer).await, Err(StoreError::Backend(_))));
}
