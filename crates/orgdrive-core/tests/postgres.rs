//! The domain over the PostgreSQL store (the server of
//! `scripts/postgres.sh`): what a commit does with its content when the
//! database's answer to its transaction is lost. Run with
//! `export ORGDRIVE_TEST_PG_URL="$(bash scripts/postgres.sh)" && cargo test
//! -p orgdrive-core --test postgres`; without that environment it fails,
//! naming the script.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use common::*;
use orgdrive_postgres::testing::TestDatabase;
use orgdrive_postgres::{PgOptions, PgStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A proxy between a store and PostgreSQL that, once `armed`, forwards
/// the `COMMIT` of the next transaction with a savepoint (a combined
/// write's bodies run in savepoints: a file commit's does) and then
/// nothing the server answers on that connection, which it cuts once the
/// server has answered that it committed: the store never learns it.
/// Everything else is forwarded as it is. Answers the proxy's address.
async fn proxy_losing_a_commits_answer(server: String, armed: Arc<AtomicBool>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let holds = |chunk: &[u8], what: &[u8]| chunk.windows(what.len()).any(|w| w == what);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = tokio::net::TcpStream::connect(&server).await.unwrap();
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = upstream.into_split();
            let (cut, armed) = (Arc::new(AtomicBool::new(false)), armed.clone());
            let deaf = cut.clone();
            let (committed, commit_seen) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = from_server.read(&mut buffer).await {
                    if deaf.load(SeqCst) {
                        // Dropped; the commit's tag ends the connection.
                        if holds(&buffer[..n], b"COMMIT\0") {
                            let _ = committed.send(());
                            break;
                        }
                    } else if to_client.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let mut with_savepoint = false;
                while let Ok(n @ 1..) = from_client.read(&mut buffer).await {
                    let chunk = &buffer[..n];
                    with_savepoint |= armed.load(SeqCst) && holds(chunk, b"SAVEPOINT");
                    let cutting =
                        with_savepoint && holds(chunk, b"COMMIT") && armed.swap(false, SeqCst);
                    if cutting {
                        cut.store(true, SeqCst);
                    }
                    if to_server.write_all(chunk).await.is_err() {
                        break;
                    }
                    if cutting {
                        let wait = std::time::Duration::from_secs(30);
                        let _ = tokio::time::timeout(wait, commit_seen).await;
                        break;
                    }
                }
                // Both halves of both connections are dropped: cut.
            });
        }
    });
    address
}

/// A commit whose transaction committed but whose answer was lost (the
/// connection cut once the server had its `COMMIT`) is answered an error,
/// and the object its file names is kept: the file reads back whole.
/// Before, any failure of the store's write removed the commit's new
/// object (here the concatenation of two parts), so the file committed
/// named an object that was gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_lost_keeps_the_content_its_file_names() {
    let database = TestDatabase::create().await;
    let (config, _) = orgdrive_postgres::connection_settings(&database.url).unwrap();
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("a TCP server, not {other:?}"),
    };
    let server = format!("{host}:{}", config.get_ports()[0]);
    let armed = Arc::new(AtomicBool::new(false));
    let proxy = proxy_losing_a_commits_answer(server.clone(), armed.clone()).await;
    // In clear: the proxy reads the protocol's messages (the last
    // `sslmode` of a URL is the one taken).
    let in_clear = if database.url.contains('?') { "&sslmode=disable" } else { "?sslmode=disable" };
    let through_proxy = database.url.replacen(&server, &proxy, 1) + in_clear;
    assert!(through_proxy.contains(&proxy), "{through_proxy}");
    let meta = PgStore::open(&through_proxy, &PgOptions::default()).await.unwrap();
    let drive = Drive::new(Arc::new(meta), BlobStore::memory().unwrap(), options()).await.unwrap();
    let w = world_over(drive, tempfile::tempdir().unwrap(), None, &Scope::ALL).await;
    let s = space(&w, None).await;

    let key = w.drive.init_multipart_upload(&w.op, &s, single(PreCheck::default())).await.unwrap();
    let urls = w.drive.multipart_upload_urls(&w.op, Some(&key), &[1, 2], BASE).await.unwrap();
    let first = vec![1u8; MIN_PART_BYTES as usize];
    assert_eq!(put_bytes(&w, &urls[0].1, &first, true).await.unwrap(), MIN_PART_BYTES);
    assert_eq!(put_bytes(&w, &urls[1].1, b"tail", true).await.unwrap(), 4);
    let commit = CommitRequest {
        upload_key: Some(key),
        name: Some("a.bin".into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    };
    armed.store(true, SeqCst);
    let lost = w.drive.commit_file(&w.op, &s, commit).await;
    assert!(!armed.load(SeqCst), "the proxy saw no COMMIT");
    assert!(lost.is_err(), "a lost commit answered {lost:?}");

    // It committed: the file is there, and reads back whole.
    let input = ListChildren { parent_id: Some("0".into()), ..ListChildren::default() };
    let files = w.drive.list_dentries(&w.op, &s, input).await.unwrap().dentries;
    assert_eq!(files.len(), 1, "{files:?}");
    let read = download(&w, &s, &files[0].dentry.dentry_id, None).await;
    assert_eq!(read.len(), first.len() + 4);
    assert!(read.starts_with(&first) && read.ends_with(b"tail"));
}
