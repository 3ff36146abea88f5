//! The store contract's behaviour suite, on SQLite.

use orgdrive_sqlite::{SqliteOptions, SqliteStore};

async fn open_fresh_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.sqlite");
    (SqliteStore::open(&path, &SqliteOptions::default()).await.unwrap(), dir)
}

orgdrive_store::behaviour_suite!(open_fresh_store);
