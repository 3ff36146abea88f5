//! What only the SQLite store has: several stores (as several processes) on
//! one file, the WAL journal on disk, the group-commit writer, close and
//! reopen. The contract's behaviour is tested by the suite (`behaviour.rs`).

use std::collections::HashSet;
use std::path::Path;

use orgdrive_sqlite::{SqliteOptions, SqliteStore};
use orgdrive_store::suite::fixtures::*;
use orgdrive_store::*;

async fn open(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("meta.sqlite"), &SqliteOptions::default()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_space_inserts_from_two_connections_store_one_space() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path()).await;
    org_and_app(&first).await;
    // A second store on the same file: two writers, as with two processes.
    let second = open(dir.path()).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            s.insert_space_once(&space(&i.to_string(), "0")).await.unwrap()
        }));
    }
    let mut ids = HashSet::new();
    let mut created = 0;
    for task in tasks {
        let (stored, new) = task.await.unwrap();
        ids.insert(stored.space_id);
        created += usize::from(new);
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(created, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_commits_from_two_connections_never_pass_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path()).await;
    space_with_quota(&first, Some(1000)).await;
    let second = open(dir.path()).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            let key = format!("k{i}");
            s.insert_upload(&upload(&key), &LIMITS).await.unwrap();
            s.put_dentry(&put(
                file(&i.to_string(), &format!("f{i}"), 300),
                NameConflict::Fail,
                Some(&key),
            ))
            .await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::QuotaExceeded { .. }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(counters(&first, "1", "c").await, (900, 0, 900, 0));
    assert_eq!(counters(&second, "1", "c").await, (900, 0, 900, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_does_not_fail_the_others_of_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    org_and_app(&s).await;
    let user = |i: usize| UserRecord {
        union_id: format!("u{i}"),
        corp_id: "c".into(),
        // Every odd user reuses user 0's userId: a unique-key violation.
        user_id: if i % 2 == 1 { "0".into() } else { i.to_string() },
        name: "n".into(),
        org_admin: false,
        created_at: 1,
    };
    s.insert_user(&user(0)).await.unwrap();
    let tasks: Vec<_> = (1..64)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.insert_user(&user(i)).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Duplicate(Key::UserId)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 31);
    assert_eq!(s.list_users("c").await.unwrap().len(), 32);
    // The store still writes after the failures.
    s.insert_user(&UserRecord { union_id: "last".into(), user_id: "last".into(), ..user(0) })
        .await
        .unwrap();
}

#[tokio::test]
async fn writes_after_close_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    org_and_app(&s).await;
    s.close().await;
    let err = s.purge_expired_tokens(0).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    // The data written before close is there when the file is opened again.
    let again = open(dir.path()).await;
    assert!(again.get_app_by_key("k").await.unwrap().is_some());
}

/// Copies the database and its WAL as a crash would leave them: the store
/// still open, nothing checkpointed.
fn snapshot_files(from: &Path, to: &Path) {
    for name in ["meta.sqlite", "meta.sqlite-wal"] {
        let source = from.join(name);
        if source.exists() {
            std::fs::copy(&source, to.join(name)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_are_in_the_journal_before_any_close() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    space_with_quota(&s, Some(10)).await;
    s.put_dentry(&put(file("1", "a", 4), NameConflict::Fail, None)).await.unwrap();
    let refused = s.put_dentry(&put(file("2", "b", 7), NameConflict::Fail, None)).await;
    assert!(matches!(refused, Err(StoreError::QuotaExceeded { space: true })));
    // What a crash at this point leaves on disk.
    let crashed = tempfile::tempdir().unwrap();
    snapshot_files(dir.path(), crashed.path());
    let recovered = open(crashed.path()).await;
    assert_eq!(recovered.get_dentry("1", "1").await.unwrap(), Some(file("1", "a", 4)));
    assert!(recovered.get_dentry("1", "2").await.unwrap().is_none());
    assert_eq!(counters(&recovered, "1", "c").await, (4, 0, 4, 0));
    recovered.close().await;
    // After a clean close the database file alone holds everything.
    s.close().await;
    let closed = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("meta.sqlite"), closed.path().join("meta.sqlite")).unwrap();
    let reopened = open(closed.path()).await;
    assert_eq!(counters(&reopened, "1", "c").await, (4, 0, 4, 0));
    assert!(reopened.get_dentry("1", "1").await.unwrap().is_some());
}

/// The writer never checkpoints in its commits (a checkpointer thread does,
/// off its path, and the writer itself between batches once the WAL is
/// long), so without those checkpoints the WAL would grow with every write.
/// Thousands of writes later it is still bounded: checkpoints copied the
/// rows into the database and SQLite started the WAL over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_checkpointed_beside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions { durable: false, ..SqliteOptions::default() };
    let store = SqliteStore::open(&dir.path().join("meta.sqlite"), &options).await.unwrap();
    space_with_quota(&store, None).await;
    let database = dir.path().join("meta.sqlite");
    let wal = dir.path().join("meta.sqlite-wal");
    let before = std::fs::metadata(&database).unwrap().len();
    for i in 0..4000 {
        let name = format!("folder {i:05} {}", "x".repeat(200));
        store
            .put_dentry(&put(folder(&format!("{i}"), &name), NameConflict::Fail, None))
            .await
            .unwrap();
    }
    // The rows reached the database file while the store is open: only a
    // checkpoint copies them there (without checkpoints, this test's WAL
    // reached 270 MB and the database file kept its empty schema).
    let grown = std::fs::metadata(&database).unwrap().len() - before;
    assert!(grown > 1_000_000, "the database file grew by {grown} bytes: no checkpoint copied");
    // About 2,000 frames (the writer's catch-up point, 8 MB), more while a
    // checkpoint of the checkpointer's runs (the writer's own is then busy:
    // it tries again after each batch). A loaded machine (a build beside
    // it) once saw 12.9 MB; without checkpoints it reached 270 MB.
    let size = std::fs::metadata(&wal).unwrap().len();
    assert!(size < 32_000_000, "the WAL grew to {size} bytes: checkpoints did not keep up");
    store.close().await;
}
