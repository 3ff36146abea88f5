//! SQLite store: the read connections each thread holds and the writer
//! thread — reads see every acknowledged write whichever thread they run on,
//! and close leaves the writer as the last connection, which folds the WAL
//! into the database.

use orgdrive_sqlite::{SqliteOptions, SqliteStore};
use orgdrive_store::*;

fn org(i: usize) -> OrgRecord {
    OrgRecord {
        corp_id: format!("c{i}"),
        name: format!("org {i}"),
        capacity: None,
        created_at: i as i64,
        modified_at: i as i64,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_on_every_thread_see_acknowledged_writes_and_close_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.sqlite");
    let store = SqliteStore::open(&path, &SqliteOptions::default()).await.unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move {
                s.insert_org(&org(i)).await.unwrap();
                // Read-your-writes, on whatever thread this task runs now.
                assert_eq!(s.get_org(&format!("c{i}")).await.unwrap(), Some(org(i)));
                s.list_orgs().await.unwrap().len()
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap() >= 1);
    }
    assert_eq!(store.list_orgs().await.unwrap().len(), 64);
    assert!(path.with_extension("sqlite-wal").exists(), "the WAL is in use while open");

    store.close().await;
    assert!(matches!(store.get_org("c1").await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.list_orgs().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.insert_org(&org(99)).await, Err(StoreError::Unavailable(_))));
    // The writer closed last: SQLite checkpointed and removed the WAL.
    assert!(!path.with_extension("sqlite-wal").exists(), "the WAL outlived the close");

    let again = SqliteStore::open(&path, &SqliteOptions::default()).await.unwrap();
    assert_eq!(again.list_orgs().await.unwrap().len(), 64);
    again.close().await;
}

/// A second process on the database (`orgdrive backup` or `fsck` beside a
/// running server) must not stall the server when it closes: its last
/// checkpoint never waits for the other process's readers or writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_closing_beside_another_never_waits_for_its_readers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.sqlite");
    let server = SqliteStore::open(&path, &SqliteOptions::default()).await.unwrap();
    let guest = SqliteStore::open(&path, &SqliteOptions::default()).await.unwrap();
    for i in 0..50 {
        guest.insert_org(&org(i)).await.unwrap();
    }
    // Another connection in the middle of a read, as a server's request is.
    let reader = rusqlite::Connection::open(&path).unwrap();
    reader.execute_batch("BEGIN; SELECT COUNT(*) FROM orgs;").unwrap();
    server.insert_org(&org(99)).await.unwrap();
    let started = std::time::Instant::now();
    guest.close().await;
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(2), "close waited {took:?}");
    reader.execute_batch("COMMIT").unwrap();
    assert_eq!(server.list_orgs().await.unwrap().len(), 51);
    server.close().await;
}
