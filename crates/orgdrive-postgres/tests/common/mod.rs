//! What this crate's tests share: test databases (`orgdrive_postgres::testing`)
//! and a fresh store over one.

#![allow(dead_code)]

pub use orgdrive_postgres::testing::*;
use orgdrive_postgres::{PgOptions, PgStore};

/// A fresh, empty, migrated store of its own database.
pub async fn open_fresh_store() -> (PgStore, TestDatabase) {
    let database = TestDatabase::create().await;
    let store = PgStore::open(&database.url, &PgOptions::default()).await.expect("store opens");
    (store, database)
}
