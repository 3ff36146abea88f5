//! A commit bound to fail costs the object store no copy. A refused commit
//! keeps its upload, so a client may send CommitFile again and again; each
//! copy is up to 5 GiB of work for the store from one small request. So a
//! single upload's object is asked for (a HEAD) and refused on its size
//! before it is copied. The store here is the S3 server of `scripts/s3.sh`
//! behind a TCP relay on loopback that counts the CopyObject requests
//! passing through it (and can hold one, to order a race, and answer it an
//! error of its own: a commit that lost a race is refused, not failed).
//! Run with
//! `eval "$(bash scripts/s3.sh)" && cargo test -p orgdrive-core --test s3_refusals`.
//! (A commit that copied first and refused after passed every other test:
//! the copy is removed when the commit fails.)

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use orgdrive_blob::Waits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The header that makes a PUT a CopyObject (as OpenDAL sends it).
const COPY_SOURCE: &[u8] = b"x-amz-copy-source:";

/// CopyObject requests held by a relay until the test releases them: the
/// first one, answered a 500 by the relay itself (as s3s-fs answers a copy
/// whose source is deleted while it copies) instead of reaching the store;
/// or every one, each then passed on to the store. While `busy` is set,
/// every copy is answered 503 `SlowDown` by the relay at once instead.
struct HeldCopy {
    busy: std::sync::atomic::AtomicBool,
    /// Notified when a held CopyObject has reached the relay.
    reached: tokio::sync::Notify,
    /// A permit lets one go on.
    release: tokio::sync::Semaphore,
    /// Every copy is held and then passed on (else the first, failed).
    every: bool,
}

impl HeldCopy {
    fn new(every: bool) -> Arc<HeldCopy> {
        let (reached, release) = (tokio::sync::Notify::new(), tokio::sync::Semaphore::new(0));
        Arc::new(HeldCopy { busy: false.into(), reached, release, every })
    }
}

/// An S3 error answer.
fn s3_error(status: &str, code: &str, message: &str) -> Vec<u8> {
    let body = format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>");
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What the relay answers a held copy.
fn internal_error() -> Vec<u8> {
    s3_error("500 Internal Server Error", "InternalError", "No such file")
}

/// Relays loopback connections to `upstream` (`host:port`), counting the
/// requests that carry [`COPY_SOURCE`] (and holding the first one if
/// `hold` is given); answers the relay's address.
async fn counting_relay(
    upstream: String,
    copies: Arc<AtomicUsize>,
    hold: Option<Arc<HeldCopy>>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (upstream, copies, hold) = (upstream.clone(), copies.clone(), hold.clone());
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else { return };
                let (mut from_client, mut to_server) = (client, server);
                let (mut server_read, mut server_write) = to_server.split();
                let (mut client_read, mut client_write) = from_client.split();
                let (fail, mut failed) = tokio::sync::oneshot::channel::<Vec<u8>>();
                let mut fail = Some(fail);
                let upward = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    // The end of the previous read: a header split across reads.
                    let mut tail: Vec<u8> = Vec::new();
                    loop {
                        let n = match client_read.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let mut seen = std::mem::take(&mut tail);
                        seen.extend_from_slice(&buf[..n]);
                        let lower = seen.to_ascii_lowercase();
                        let found =
                            lower.windows(COPY_SOURCE.len()).filter(|w| *w == COPY_SOURCE).count();
                        let before = copies.fetch_add(found, Ordering::SeqCst);
                        let busy = |h: &&Arc<HeldCopy>| found > 0 && h.busy.load(Ordering::SeqCst);
                        if hold.as_ref().filter(busy).is_some() {
                            let slow_down = s3_error("503 Slow Down", "SlowDown", "Slow down");
                            let _ = fail.take().map(|fail| fail.send(slow_down));
                            break;
                        }
                        let held = |h: &&Arc<HeldCopy>| found > 0 && (h.every || before == 0);
                        if let Some(hold) = hold.as_ref().filter(held) {
                            hold.reached.notify_one();
                            hold.release.acquire().await.unwrap().forget();
                            if !hold.every {
                                let _ = fail.take().map(|fail| fail.send(internal_error()));
                                break;
                            }
                        }
                        // Shorter than the header: a match in it is never counted twice.
                        let keep = (COPY_SOURCE.len() - 1).min(seen.len());
                        tail = seen[seen.len() - keep..].to_vec();
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown().await;
                };
                let downward = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        // The relay's own answer first: the store, cut off in
                        // the middle of a request whose head came in two reads,
                        // closes too, and a client that saw that close instead
                        // would not send the copy again (a failed CI run).
                        tokio::select! {
                            biased;
                            Ok(answer) = &mut failed => {
                                let _ = client_write.write_all(&answer).await;
                                break;
                            }
                            read = server_read.read(&mut buf) => match read {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if client_write.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            },
                        }
                    }
                    let _ = client_write.shutdown().await;
                };
                let _ = tokio::join!(upward, downward);
            });
        }
    });
    address
}

/// The S3 store of `scripts/s3.sh`, reached through a counting relay.
async fn relayed_store(copies: Arc<AtomicUsize>, hold: Option<Arc<HeldCopy>>) -> BlobStore {
    relayed_store_waiting(copies, hold, Waits::default()).await
}

/// [`relayed_store`], its requests waiting at most `waits`.
async fn relayed_store_waiting(
    copies: Arc<AtomicUsize>,
    hold: Option<Arc<HeldCopy>>,
    waits: Waits,
) -> BlobStore {
    let mut s3 = test_s3_location("core-refusals");
    let endpoint = s3.endpoint.clone().expect("scripts/s3.sh names its endpoint");
    let upstream = endpoint.strip_prefix("http://").expect("a loopback http:// endpoint");
    let relay = counting_relay(upstream.trim_end_matches('/').to_string(), copies, hold).await;
    s3.endpoint = Some(format!("http://{relay}"));
    BlobStore::s3_with_waits(&s3, waits).unwrap()
}

/// A world whose content store is the relayed one, one server-side copy
/// limited to `max_copy` bytes if given.
async fn relayed_world(copies: Arc<AtomicUsize>, max_copy: Option<u64>) -> World {
    held_world(copies, max_copy, None).await
}

/// [`relayed_world`], its relay holding the first copy if `hold` is given.
async fn held_world(
    copies: Arc<AtomicUsize>,
    max_copy: Option<u64>,
    hold: Option<Arc<HeldCopy>>,
) -> World {
    two_node_world(copies, max_copy, hold).await.0
}

/// [`held_world`], and a second node (a `Drive` of its own) over the same
/// stores.
async fn two_node_world(
    copies: Arc<AtomicUsize>,
    max_copy: Option<u64>,
    hold: Option<Arc<HeldCopy>>,
) -> (World, Drive) {
    let dir = tempfile::tempdir().unwrap();
    let meta = SqliteStore::open(&dir.path().join("meta.sqlite"), &SqliteOptions::default())
        .await
        .unwrap();
    let meta: Arc<SqliteStore> = Arc::new(meta);
    let mut store = relayed_store(copies, hold).await;
    if let Some(max_copy) = max_copy {
        store = store.with_copy_limit_for_tests(max_copy);
    }
    let drive = Drive::new(meta.clone(), store.clone(), options()).await.unwrap();
    let other_node = Drive::new(meta, store, options()).await.unwrap();
    (world_over(drive, dir, None, &Scope::ALL).await, other_node)
}

/// A space of `w` and a single upload into it (checked against
/// `pre_check`), its 5 bytes PUT: (spaceId, uploadKey).
async fn five_bytes_uploaded(w: &World, pre_check: PreCheck) -> (String, String) {
    let s = space(w, None).await;
    let ticket = w.drive.get_file_upload_info(&w.op, &s, single(pre_check), BASE).await.unwrap();
    assert_eq!(put_signed(&ticket.url, b"12345").await, 200);
    (s, ticket.upload_key)
}

/// CommitFile of `upload_key` as `name`, in the space's root.
fn commit_as(upload_key: &str, name: &str) -> CommitRequest {
    CommitRequest {
        upload_key: Some(upload_key.to_string()),
        name: Some(name.into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_upload_refused_on_its_size_is_never_copied() {
    let copies = Arc::new(AtomicUsize::new(0));
    let w = relayed_world(copies.clone(), None).await;
    let roomy = space(&w, None).await;
    let small = space(&w, Some(3)).await;
    let request =
        UploadRequest { protocol: Some("HEADER_SIGNATURE".into()), ..UploadRequest::default() };
    let commit = |key: &str, size: Option<i64>| CommitRequest {
        upload_key: Some(key.to_string()),
        name: Some("a.txt".into()),
        parent_id: Some("0".into()),
        size,
        ..CommitRequest::default()
    };

    // 5 bytes uploaded, 9 announced: refused, again and again, with no copy.
    let ticket = w.drive.get_file_upload_info(&w.op, &roomy, request.clone(), BASE).await.unwrap();
    assert_eq!(put_signed(&ticket.url, b"12345").await, 200);
    for _ in 0..3 {
        let wrong = commit(&ticket.upload_key, Some(9));
        let refused = w.drive.commit_file(&w.op, &roomy, wrong).await.unwrap_err();
        assert!(refused.to_string().contains("9 were announced"), "{refused}");
    }
    // 5 bytes into a space of 3: refused with no copy.
    let over = w.drive.get_file_upload_info(&w.op, &small, request.clone(), BASE).await.unwrap();
    assert_eq!(put_signed(&over.url, b"12345").await, 200);
    let refused = w.drive.commit_file(&w.op, &small, commit(&over.upload_key, None)).await;
    assert!(matches!(refused, Err(DriveError::QuotaExceeded(_))), "{refused:?}");
    assert_eq!(copies.load(Ordering::SeqCst), 0, "a refused commit copied its object");

    // The relay sees the copies: the right size commits, by one copy.
    let file = w.drive.commit_file(&w.op, &roomy, commit(&ticket.upload_key, Some(5))).await;
    assert_eq!(file.unwrap().dentry.size, 5);
    assert_eq!(copies.load(Ordering::SeqCst), 1);
}

/// OSS's CopyObject takes at most 1 GiB, and CommitFile copies each uploaded
/// object: what does not fit one copy is refused, naming `size`, before any
/// copy (a single upload as soon as its announced size says so), never
/// answered a 500 after the store refused the copy. The S3 server here
/// stands for OSS with its limit lowered to the least a part may have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_copy_cannot_take_is_refused_before_any_copy() {
    let copies = Arc::new(AtomicUsize::new(0));
    let limit = MIN_PART_BYTES;
    let w = relayed_world(copies.clone(), Some(limit)).await;
    let s = space(&w, None).await;
    let commit = |key: &str| CommitRequest {
        upload_key: Some(key.to_string()),
        name: Some("a.txt".into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    };
    let beyond = |e: &DriveError| {
        param_field(e) == Some("size") && e.to_string().contains(&format!("{limit} bytes"))
    };
    let bytes = |len: u64, byte: u8| vec![byte; len as usize];

    // A single upload announcing a byte more: refused at once.
    let announced = PreCheck { size: Some(limit as i64 + 1), ..PreCheck::default() };
    let refused = w.drive.get_file_upload_info(&w.op, &s, single(announced), BASE).await;
    assert!(refused.as_ref().is_err_and(beyond), "{refused:?}");
    // A multipart upload may announce more: its parts are copied one by one.
    let announced = PreCheck { size: Some(2 * limit as i64), ..PreCheck::default() };
    let parts = UploadRequest { pre_check: announced, ..UploadRequest::default() };
    let fits = w.drive.init_multipart_upload(&w.op, &s, parts.clone()).await.unwrap();

    // A byte more PUT without an announced size: each commit is refused, with no copy.
    let ticket = w.drive.get_file_upload_info(&w.op, &s, single(PreCheck::default()), BASE).await;
    let ticket = ticket.unwrap();
    assert_eq!(put_signed(&ticket.url, bytes(limit + 1, 1)).await, 200);
    for _ in 0..2 {
        let refused = w.drive.commit_file(&w.op, &s, commit(&ticket.upload_key)).await;
        assert!(refused.as_ref().is_err_and(beyond), "{refused:?}");
    }
    // A part a byte over: refused too, with no copy.
    let big_part = w.drive.init_multipart_upload(&w.op, &s, parts).await.unwrap();
    let urls = w.drive.multipart_upload_urls(&w.op, Some(&big_part), &[1, 2], BASE).await.unwrap();
    assert_eq!(put_signed(&urls[0].1, bytes(limit + 1, 1)).await, 200);
    assert_eq!(put_signed(&urls[1].1, bytes(limit - 1, 2)).await, 200);
    let refused = w.drive.commit_file(&w.op, &s, commit(&big_part)).await;
    assert!(refused.as_ref().is_err_and(beyond), "{refused:?}");
    assert_eq!(copies.load(Ordering::SeqCst), 0, "a refused commit copied an object");

    // Parts of the limit at most commit, one copy each, and read back whole.
    let urls = w.drive.multipart_upload_urls(&w.op, Some(&fits), &[1, 2], BASE).await.unwrap();
    assert_eq!(put_signed(&urls[0].1, bytes(limit, b'a')).await, 200);
    assert_eq!(put_signed(&urls[1].1, bytes(limit, b'b')).await, 200);
    let mut file = commit(&fits);
    file.name = Some("b.txt".into());
    let file = w.drive.commit_file(&w.op, &s, file).await.unwrap();
    assert_eq!(file.dentry.size, 2 * limit as i64);
    assert_eq!(copies.load(Ordering::SeqCst), 2);
    let whole = [bytes(limit, b'a'), bytes(limit, b'b')].concat();
    assert!(download(&w, &s, &file.dentry.dentry_id, None).await == whole);
}

/// The upload URL signs only `host` (OpenDAL's S3 presign), so a client may
/// PUT with `Content-Encoding: gzip`; the bucket keeps it and would answer
/// every download with it, and HTTP clients would decode the bytes into
/// something else than what was committed. CommitFile refuses such an
/// upload before any copy; the same URL PUT again plainly commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_put_with_a_content_encoding_is_refused_before_any_copy() {
    let copies = Arc::new(AtomicUsize::new(0));
    let w = relayed_world(copies.clone(), None).await;
    let s = space(&w, None).await;
    let ticket = w.drive.get_file_upload_info(&w.op, &s, single(PreCheck::default()), BASE).await;
    let ticket = ticket.unwrap();
    let commit = CommitRequest {
        upload_key: Some(ticket.upload_key.clone()),
        name: Some("a.txt".into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    };

    let mut put = reqwest::Client::new().put(&ticket.url.url).body(&b"12345"[..]);
    for (name, value) in &ticket.url.headers {
        if !name.eq_ignore_ascii_case("content-encoding") {
            put = put.header(name, value);
        }
    }
    let status = put.header("content-encoding", "gzip").send().await.unwrap().status();
    assert_eq!(status.as_u16(), 200, "the bucket took the encoded PUT");
    let refused = w.drive.commit_file(&w.op, &s, commit.clone()).await;
    let refused = refused.unwrap_err();
    assert_eq!(param_field(&refused), Some("uploadKey"), "{refused:?}");
    assert!(refused.to_string().contains("Content-Encoding: gzip"), "{refused}");
    assert_eq!(copies.load(Ordering::SeqCst), 0, "an encoded upload was copied");

    assert_eq!(put_signed(&ticket.url, b"12345").await, 200);
    let file = w.drive.commit_file(&w.op, &s, commit).await.unwrap();
    assert_eq!(file.dentry.size, 5);
    assert_eq!(copies.load(Ordering::SeqCst), 1);
}

/// Two commits of one upload race on two nodes: the loser's copy finds the
/// uploaded object gone, removed by the winner's commit. It is answered
/// that the uploadKey was committed meanwhile (`paramError.uploadKey`),
/// whatever error the store gave the copy — a review found a 500 when the
/// store answered the copy of a missing object with an error other than
/// 404 (s3s-fs: 500 InternalError). The relay holds the first commit's copy
/// until the second commit is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loser_of_two_racing_commits_is_told_the_upload_was_committed() {
    let copies = Arc::new(AtomicUsize::new(0));
    let hold = HeldCopy::new(false);
    let (w, other_node) = two_node_world(copies.clone(), None, Some(hold.clone())).await;
    let (s, key) = five_bytes_uploaded(&w, PreCheck::default()).await;
    let commit = |name: &str| commit_as(&key, name);

    let loser = tokio::spawn({
        let (drive, op, s, commit) = (w.drive.clone(), w.op.clone(), s.clone(), commit("a.txt"));
        async move { drive.commit_file(&op, &s, commit).await }
    });
    hold.reached.notified().await;
    let winner = other_node.commit_file(&w.op, &s, commit("b.txt")).await.unwrap();
    hold.release.add_permits(1);
    let refused = loser.await.unwrap().unwrap_err();
    assert_eq!(param_field(&refused), Some("uploadKey"), "{refused:?}");
    assert!(refused.to_string().contains("committed"), "{refused}");
    let url = w.drive.download_info(&w.op, &s, &winner.dentry.dentry_id, None, BASE).await;
    let got = reqwest::get(&url.unwrap().url).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], b"12345");
}

/// The part sizes CommitFile checks are those of the copies it keeps: a
/// part PUT again smaller after the LIST that found it big enough (its URL
/// stays valid) is refused too, and no copy is kept — a review committed a
/// manifest with a 1-byte middle part so. The relay holds the copies until
/// part 1 has been PUT again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_put_again_smaller_during_the_commit_is_refused() {
    let copies = Arc::new(AtomicUsize::new(0));
    let hold = HeldCopy::new(true);
    let w = held_world(copies.clone(), None, Some(hold.clone())).await;
    let s = space(&w, None).await;
    let key = w.drive.init_multipart_upload(&w.op, &s, UploadRequest::default()).await.unwrap();
    let urls = w.drive.multipart_upload_urls(&w.op, Some(&key), &[1, 2], BASE).await.unwrap();
    assert_eq!(put_signed(&urls[0].1, vec![1u8; MIN_PART_BYTES as usize]).await, 200);
    assert_eq!(put_signed(&urls[1].1, b"tail").await, 200);
    let commit = CommitRequest {
        upload_key: Some(key.clone()),
        name: Some("parts.bin".into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    };

    let committing = tokio::spawn({
        let (drive, op, s, commit) = (w.drive.clone(), w.op.clone(), s.clone(), commit.clone());
        async move { drive.commit_file(&op, &s, commit).await }
    });
    hold.reached.notified().await;
    assert_eq!(put_signed(&urls[0].1, b"1").await, 200);
    hold.release.add_permits(2);
    let refused = committing.await.unwrap().unwrap_err();
    assert_eq!(param_field(&refused), Some("size"), "{refused:?}");
    assert!(refused.to_string().contains("part 1 has 1 bytes"), "{refused}");
    assert!(w.drive.blob().list("chunks/").await.unwrap().is_empty(), "copies kept");

    // The upload stays open: part 1 PUT again big enough commits.
    assert_eq!(put_signed(&urls[0].1, vec![1u8; MIN_PART_BYTES as usize]).await, 200);
    hold.release.add_permits(2);
    let file = w.drive.commit_file(&w.op, &s, commit).await.unwrap();
    assert_eq!(file.dentry.size, MIN_PART_BYTES as i64 + 4);
}

/// Commits of one upload sent at once to one node: one runs, the others
/// are refused at once, copying nothing (each would copy what was uploaded,
/// and read all of it for its MD5: a review made one 64 MiB PUT cost 1 GiB
/// of copies and reads with 16 commits at once). The relay holds the
/// running commit's copy while the others are sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_of_one_upload_at_once_on_one_node_copy_once() {
    let copies = Arc::new(AtomicUsize::new(0));
    let hold = HeldCopy::new(true);
    let w = held_world(copies.clone(), None, Some(hold.clone())).await;
    let (s, key) = five_bytes_uploaded(&w, PreCheck::default()).await;
    let commit = |name: &str| commit_as(&key, name);
    let first = tokio::spawn({
        let (drive, op, s, commit) = (w.drive.clone(), w.op.clone(), s.clone(), commit("a.txt"));
        async move { drive.commit_file(&op, &s, commit).await }
    });
    hold.reached.notified().await;
    for name in ["b.txt", "c.txt", "d.txt"] {
        let at_once = std::time::Duration::from_secs(10);
        let refused = tokio::time::timeout(at_once, w.drive.commit_file(&w.op, &s, commit(name)));
        let refused = refused.await.expect("refused at once, not held copying").unwrap_err();
        assert!(matches!(refused, DriveError::Busy(_)), "{refused:?}");
        assert!(refused.to_string().contains("in progress"), "{refused}");
    }
    hold.release.add_permits(1);
    assert_eq!(first.await.unwrap().unwrap().dentry.name, "a.txt");
    assert_eq!(copies.load(Ordering::SeqCst), 1);
    // Answered: the key is free again (here: committed, so unknown).
    let again = w.drive.commit_file(&w.op, &s, commit("e.txt")).await.unwrap_err();
    assert!(!again.to_string().contains("in progress"), "{again}");
}

/// An upload whose bytes have another MD5 than the one announced can never
/// commit: the first refusal removes what was uploaded, so that asking
/// again costs the store a HEAD, not a copy and a read of every byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_refused_on_its_md5_is_copied_and_read_once() {
    let copies = Arc::new(AtomicUsize::new(0));
    let w = relayed_world(copies.clone(), None).await;
    let wrong = PreCheck { md5: Some("0".repeat(32)), ..PreCheck::default() };
    let (s, key) = five_bytes_uploaded(&w, wrong).await;
    let commit = commit_as(&key, "a.txt");
    let refused = w.drive.commit_file(&w.op, &s, commit.clone()).await.unwrap_err();
    assert_eq!(param_field(&refused), Some("md5"), "{refused:?}");
    assert_eq!(copies.load(Ordering::SeqCst), 1);
    for _ in 0..3 {
        let refused = w.drive.commit_file(&w.op, &s, commit.clone()).await.unwrap_err();
        assert!(refused.to_string().contains("nothing has been uploaded"), "{refused}");
    }
    assert_eq!(copies.load(Ordering::SeqCst), 1, "a commit asked again copied");
}

/// A store that stops answering in the middle of a commit (the relay holds
/// its copy and never lets it go): the commit is answered 503
/// `serviceUnavailable` once the store's wait is over, not held until the
/// kernel gives up (a review's commit had no answer after 150 s), and the
/// upload stays open, to be committed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_store_stops_answering_is_answered_unavailable() {
    let copies = Arc::new(AtomicUsize::new(0));
    let hold = HeldCopy::new(true);
    let waits = Waits { read: std::time::Duration::from_secs(1), ..Waits::default() };
    let store = relayed_store_waiting(copies, Some(hold.clone()), waits).await;
    let dir = tempfile::tempdir().unwrap();
    let meta = SqliteStore::open(&dir.path().join("meta.sqlite"), &SqliteOptions::default())
        .await
        .unwrap();
    let drive = Drive::new(Arc::new(meta), store, options()).await.unwrap();
    let w = world_over(drive, dir, None, &Scope::ALL).await;
    let (s, key) = five_bytes_uploaded(&w, PreCheck::default()).await;
    let commit = commit_as(&key, "a.txt");
    let started = std::time::Instant::now();
    let answered = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        w.drive.commit_file(&w.op, &s, commit),
    );
    let refused = answered.await.expect("answered, not held").unwrap_err();
    assert!(matches!(refused, DriveError::Busy(_)), "{refused:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "{:?}", started.elapsed());
    // The store answers again: the upload, still open, commits.
    hold.release.add_permits(16);
    let commit = commit_as(&key, "a.txt");
    assert_eq!(w.drive.commit_file(&w.op, &s, commit).await.unwrap().dentry.size, 5);
}

/// A store that answers every copy 503 `SlowDown` (asked too fast): the
/// commit is answered 503 `serviceUnavailable` after a few tries, not 500
/// (before, any answer of the store but a missing object was a fault), and
/// the upload stays open; once the store copies again, it commits. A copy
/// answered a server error once is sent again and the commit succeeds
/// (`the_loser_of_two_racing_commits_…` has one answered 500 too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_the_store_answers_slow_down_is_answered_unavailable() {
    let copies = Arc::new(AtomicUsize::new(0));
    let hold = HeldCopy::new(true);
    hold.busy.store(true, Ordering::SeqCst);
    let w = held_world(copies.clone(), None, Some(hold.clone())).await;
    let (s, key) = five_bytes_uploaded(&w, PreCheck::default()).await;
    let refused = w.drive.commit_file(&w.op, &s, commit_as(&key, "a.txt")).await.unwrap_err();
    assert!(matches!(refused, DriveError::Busy(_)), "{refused:?}");
    assert_eq!(copies.load(Ordering::SeqCst), 4, "one try and three more");
    hold.busy.store(false, Ordering::SeqCst);
    hold.release.add_permits(16);
    let committed = w.drive.commit_file(&w.op, &s, commit_as(&key, "a.txt")).await.unwrap();
    assert_eq!(committed.dentry.size, 5);
}

/// A commit of many parts kept as a manifest (parts under S3's 5 MiB) while
/// the store answers every copy 503 `SlowDown`: once a copy has failed, no
/// other part's copy starts, so the store is asked for at most the copies
/// under way (8), each tried 4 times — not every part 4 times (a review: a
/// store asking for less traffic got 4 × N copies per commit, and a client
/// may ask again). The commit is answered 503, no copy is left, and once
/// the store serves again the same upload commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_of_many_parts_stops_copying_at_the_first_busy_answer() {
    const PARTS: i64 = 20;
    let copies = Arc::new(AtomicUsize::new(0));
    let hold = HeldCopy::new(true);
    let w = held_world(copies.clone(), None, Some(hold.clone())).await;
    let s = space(&w, None).await;
    let key = w.drive.init_multipart_upload(&w.op, &s, UploadRequest::default()).await.unwrap();
    let numbers: Vec<i64> = (1..=PARTS).collect();
    let urls = w.drive.multipart_upload_urls(&w.op, Some(&key), &numbers, BASE).await.unwrap();
    for (n, url) in &urls {
        let bytes =
            if *n == PARTS { b"tail".to_vec() } else { vec![*n as u8; MIN_PART_BYTES as usize] };
        assert_eq!(put_signed(url, bytes).await, 200);
    }
    let commit = CommitRequest {
        upload_key: Some(key.clone()),
        name: Some("parts.bin".into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    };
    hold.busy.store(true, Ordering::SeqCst);
    let refused = w.drive.commit_file(&w.op, &s, commit.clone()).await.unwrap_err();
    assert!(matches!(refused, DriveError::Busy(_)), "{refused:?}");
    let asked = copies.load(Ordering::SeqCst);
    assert!(asked <= 8 * 4, "{asked} copies asked for, at most the 8 under way, 4 tries each");
    assert!(w.drive.blob().list("chunks/").await.unwrap().is_empty(), "copies kept");
    hold.busy.store(false, Ordering::SeqCst);
    hold.release.add_permits(1000);
    let file = w.drive.commit_file(&w.op, &s, commit).await.unwrap();
    assert_eq!(file.dentry.size, (PARTS - 1) * MIN_PART_BYTES as i64 + 4);
}
