//! The content store against a real S3 server that verifies SigV4 (started
//! by `scripts/s3.sh`, which prints the environment these tests read):
//! objects in and out, ranges, part manifests, server-side copies, ETags,
//! and the presigned URLs clients use — refused when tampered with or
//! expired. Run with
//! `eval "$(bash scripts/s3.sh)" && cargo test -p orgdrive-blob --test s3`;
//! without the environment they fail, naming the script.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use orgdrive_blob::{BlobLocation, BlobStore, Download, Manifest, ManifestPart};

/// A store in a fresh prefix of the test bucket.
fn store() -> BlobStore {
    store_through(None)
}

/// [`store`], reached through `relay` (`host:port`) if given.
fn store_through(relay: Option<&str>) -> BlobStore {
    let url = std::env::var("ORGDRIVE_TEST_BLOB_URL").unwrap_or_else(|_| {
        panic!(
            "ORGDRIVE_TEST_BLOB_URL is not set: start the S3 server with \
             eval \"$(bash scripts/s3.sh)\""
        )
    });
    let BlobLocation::S3(mut s3) = url.parse::<BlobLocation>().expect("ORGDRIVE_TEST_BLOB_URL")
    else {
        panic!("ORGDRIVE_TEST_BLOB_URL must be an s3:// URL (scripts/s3.sh prints one)")
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    s3.root = Some(format!("/blob-tests/{}-{}/", std::process::id(), nanos.as_nanos()));
    if let Some(relay) = relay {
        s3.endpoint = Some(format!("http://{relay}"));
    }
    BlobStore::s3(&s3)
        .expect("the S3 store (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from scripts/s3.sh)")
}

fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + seed) % 251) as u8).collect()
}

async fn put(store: &BlobStore, key: &str, bytes: &[u8]) {
    let source = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(bytes.to_vec()))]);
    store.write_stream(key, source, None, false).await.unwrap();
}

/// The bytes of `range`, read with `read_sized`. s3s-fs 0.14.1 now and then
/// closes a GET's connection mid-body on this machine ("connection closed
/// before message completed", about one run in five of this file): such a
/// read is tried again, up to three times; any other error, and wrong bytes,
/// fail the test.
async fn read_sized(store: &BlobStore, key: &str, range: Range<u64>, size: u64) -> Vec<u8> {
    let mut attempt = 1;
    loop {
        let read = async {
            match store.read_sized(key, range.clone(), size).await? {
                Download::Whole(bytes) => Ok(bytes.to_vec()),
                Download::Stream(stream) => {
                    let chunks: Vec<Bytes> = stream.try_collect().await?;
                    Ok::<_, Box<dyn std::error::Error>>(chunks.concat())
                }
            }
        };
        match read.await {
            Ok(bytes) => return bytes,
            Err(e)
                if attempt < 3
                    && format!("{e:?}").contains("connection closed before message completed") =>
            {
                attempt += 1
            }
            Err(e) => panic!("reading {key} {range:?}: {e:?}"),
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// The same URL with one hex digit of its signature changed.
fn tampered(url: &str) -> String {
    let at = url.find("X-Amz-Signature=").expect("a SigV4 query signature") + 16;
    let mut bytes = url.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn objects_go_in_and_out_with_ranges() {
    let store = store();
    store.check().await.unwrap();
    assert!(store.presigns() && store.free_bytes().unwrap().is_none());
    let content = pattern((9 << 20) + 123, 1); // above the write chunk: an S3 multipart write
    put(&store, "objects/a", &content).await;
    let size = content.len() as u64;
    assert_eq!(store.size("objects/a").await.unwrap(), Some(size));
    for range in [0..size, 0..1, size - 1..size, (8 << 20) - 3..(8 << 20) + 3, 5..70_000] {
        let got = read_sized(&store, "objects/a", range.clone(), size).await;
        assert!(got == content[range.start as usize..range.end as usize], "{range:?}");
    }
    // The recorded size must be the object's.
    assert!(store.read_sized("objects/a", 0..10, size + 1).await.is_err());
    let missing = store.read_sized("objects/none", 0..1, 1).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    let listed = store.list("objects/").await.unwrap();
    assert_eq!(
        listed.iter().map(|o| (o.key.as_str(), o.size)).collect::<Vec<_>>(),
        vec![("objects/a", size)]
    );
    assert!(listed[0].modified_unix.is_some());
    // A server-side copy and its ETag (the MD5 of a one-PUT object).
    put(&store, "uploads/k/0", b"hello").await;
    store.copy("uploads/k/0", "objects/b").await.unwrap();
    let stat = store.stat("objects/b").await.unwrap().unwrap();
    assert_eq!(stat.size, 5);
    assert_eq!(stat.etag_md5.as_deref(), Some("5d41402abc4b2a76b9719d911017c592"));
    assert_eq!(store.md5("objects/b").await.unwrap(), "5d41402abc4b2a76b9719d911017c592");
    assert!(store.copy("uploads/k/none", "objects/c").await.unwrap_err().is_not_found());
    store.delete_prefix("uploads/k/").await.unwrap();
    assert_eq!(store.size("uploads/k/0").await.unwrap(), None);
    store.delete("objects/a").await.unwrap();
    store.delete("objects/a").await.unwrap();
    assert_eq!(store.size("objects/a").await.unwrap(), None);
    store.delete("objects/b").await.unwrap();
}

#[tokio::test]
async fn manifests_read_across_parts_and_delete_them() {
    let store = store();
    // More parts than a read asks for at once, small ones (read whole)
    // and larger ones (streamed) mixed: they come back in order.
    let sizes = [1 << 20, 1 << 20, 12_345, 1, 2, 70_000, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    let mut content = Vec::new();
    let mut parts = Vec::new();
    for (n, len) in sizes.iter().enumerate() {
        let bytes = pattern(*len, n);
        let key = format!("chunks/m/{}", n + 1);
        put(&store, &key, &bytes).await;
        content.extend_from_slice(&bytes);
        parts.push(ManifestPart { key, size: *len as u64 });
    }
    let manifest = Manifest::new(parts);
    store.write_manifest("manifests/m", &manifest).await.unwrap();
    let size = content.len() as u64;
    assert_eq!(store.size("manifests/m").await.unwrap(), Some(size));
    let boundary = 1u64 << 20;
    for range in [
        0..size,
        boundary - 10..boundary + 10,
        boundary - 1..2 * boundary + 1,
        size - 5..size,
        0..1,
        2 * boundary..size,
        2 * boundary + 12_340..size - 20,
    ] {
        let got = read_sized(&store, "manifests/m", range.clone(), size).await;
        assert!(got == content[range.start as usize..range.end as usize], "{range:?}");
    }
    assert_eq!(store.md5("manifests/m").await.unwrap().len(), 32);
    // A manifest has no presigned URL of its own, and is not copied.
    assert!(store
        .presign_get("manifests/m", Duration::from_secs(60), "attachment", "text/plain")
        .await
        .is_err());
    assert!(store.copy("manifests/m", "manifests/n").await.is_err());
    store.delete("manifests/m").await.unwrap();
    assert_eq!(store.size("manifests/m").await.unwrap(), None);
    assert!(store.list("chunks/").await.unwrap().is_empty(), "parts left behind");
    store.delete("manifests/m").await.unwrap();
}

#[tokio::test]
async fn presigned_urls_work_and_tampered_or_expired_ones_are_refused() {
    let store = store();
    let client = http();
    let put_url = store.presign_put("uploads/p/0", Duration::from_secs(300)).await.unwrap();
    assert_eq!(put_url.method, "PUT");
    let send_put = |url: &str, body: &'static [u8]| {
        // The type a careless client declares (urllib's default for a body).
        let request = client.put(url).header("content-type", "application/x-www-form-urlencoded");
        let mut request = request.header("cache-control", "public, max-age=31536000").body(body);
        for (name, value) in &put_url.headers {
            request = request.header(name, value);
        }
        request.send()
    };
    // One changed digit of the signature: refused, nothing written.
    let refused = send_put(&tampered(&put_url.url), b"evil").await.unwrap();
    assert_eq!(refused.status(), 403, "{}", refused.text().await.unwrap_or_default());
    assert_eq!(store.size("uploads/p/0").await.unwrap(), None);
    let stored = send_put(&put_url.url, b"presigned bytes").await.unwrap();
    assert!(stored.status().is_success(), "{}", stored.status());
    assert_eq!(store.size("uploads/p/0").await.unwrap(), Some(15));

    store.copy("uploads/p/0", "objects/p").await.unwrap();
    let get_url = store
        .presign_get(
            "objects/p",
            Duration::from_secs(300),
            "attachment; filename=\"a b.txt\"",
            "text/plain",
        )
        .await
        .unwrap();
    let got = client.get(&get_url.url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    let disposition =
        got.headers().get("content-disposition").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(disposition.as_deref(), Some("attachment; filename=\"a b.txt\""));
    let content_type = got.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        content_type.as_deref(),
        Some("text/plain"),
        "the type orgdrive names, not the PUT's"
    );
    let cache = got.headers().get("cache-control").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(cache.as_deref(), Some("private, no-cache"), "not what the PUT declared");
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"presigned bytes");
    let ranged = client.get(&get_url.url).header("range", "bytes=3-8").send().await.unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), b"signed");
    let refused = client.get(tampered(&get_url.url)).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    // A changed key under the same signature is refused too.
    let other = get_url.url.replacen("objects/p", "uploads/p/0", 1);
    assert_eq!(client.get(other).send().await.unwrap().status(), 403);

    // Expired: a URL valid for one second, used after two.
    let short = store
        .presign_get("objects/p", Duration::from_secs(1), "attachment", "text/plain")
        .await
        .unwrap();
    let short_put = store.presign_put("uploads/p/1", Duration::from_secs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(client.get(&short.url).send().await.unwrap().status(), 403);
    let late = client.put(&short_put.url).body("late").send().await.unwrap();
    assert_eq!(late.status(), 403);
    assert_eq!(store.size("uploads/p/1").await.unwrap(), None);
    store.delete_prefix("uploads/").await.unwrap();
    store.delete("objects/p").await.unwrap();
}

#[tokio::test]
async fn objects_are_composed_inside_the_bucket() {
    let store = store();
    assert!(store.composes());
    let sizes = [5 << 20, (5 << 20) + 7, 1000];
    let mut content = Vec::new();
    let mut parts = Vec::new();
    for (n, len) in sizes.iter().enumerate() {
        let bytes = pattern(*len, n + 3);
        let key = format!("uploads/c/{}", n + 1);
        put(&store, &key, &bytes).await;
        content.extend_from_slice(&bytes);
        parts.push(key);
    }
    store.compose(&parts, "objects/c").await.unwrap();
    let size = content.len() as u64;
    assert_eq!(store.size("objects/c").await.unwrap(), Some(size));
    let boundary = 5u64 << 20;
    for range in [0..size, boundary - 3..boundary + 3, size - 1001..size] {
        let got = read_sized(&store, "objects/c", range.clone(), size).await;
        assert!(got == content[range.start as usize..range.end as usize], "{range:?}");
    }
    // The composed object is the store's: a presigned GET serves it.
    let url = store
        .presign_get("objects/c", Duration::from_secs(60), "attachment", "text/plain")
        .await
        .unwrap();
    let got = http().get(&url.url).send().await.unwrap().bytes().await.unwrap();
    assert!(got.as_ref() == content.as_slice());
    // A missing part: refused, nothing written.
    let missing = vec!["uploads/c/1".to_string(), "uploads/c/9".to_string()];
    assert!(store.compose(&missing, "objects/d").await.unwrap_err().is_not_found());
    assert_eq!(store.size("objects/d").await.unwrap(), None);
    assert!(store.compose(&[], "objects/d").await.is_err());
    store.delete_prefix("uploads/").await.unwrap();
    store.delete("objects/c").await.unwrap();
}

/// The test S3 server's `host:port`.
fn upstream() -> String {
    let url = std::env::var("ORGDRIVE_TEST_BLOB_URL").unwrap();
    let BlobLocation::S3(s3) = url.parse::<BlobLocation>().unwrap() else { unreachable!() };
    let endpoint = s3.endpoint.expect("the test store's endpoint");
    endpoint.trim_start_matches("http://").trim_end_matches('/').to_string()
}

/// A relay on loopback to the test S3 server, one request a connection:
/// `answer` sees each request's head (lower-cased) and either answers it
/// itself (the whole answer; the connection is then closed) or lets it
/// through. Answers the relay's address.
async fn relay(answer: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (upstream, answer) = (upstream(), std::sync::Arc::new(answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (upstream, answer) = (upstream.clone(), answer.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                if let Some(answer) = answer(&String::from_utf8_lossy(&head).to_ascii_lowercase()) {
                    let _ = client.write_all(answer.as_bytes()).await;
                    return;
                }
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                // One request a connection, so that each is seen here.
                head.truncate(head.len() - 2);
                head.extend_from_slice(b"connection: close\r\n\r\n");
                if server.write_all(&head).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    address
}

/// An S3 error answer.
fn s3_error(status: &str, code: &str) -> String {
    let body = format!("<Error><Code>{code}</Code><Message>{code}</Message></Error>");
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A relay that answers 403, as AWS S3 does, a presigned request
/// (`X-Amz-Signature` in its query) carrying an `x-amz-copy-source` header
/// (its signature covers `host` only); it passes everything else on.
async fn refusing_relay() -> String {
    relay(|head| {
        (head.contains("x-amz-signature=") && head.contains("\r\nx-amz-copy-source:"))
            .then(|| s3_error("403 Forbidden", "AccessDenied"))
    })
    .await
}

/// A relay that answers `status` with S3 error `code` to as many requests
/// as `refusals` holds when they come (counting it down), and passes the
/// rest on.
async fn busy_relay(
    status: &'static str,
    code: &'static str,
    refusals: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> String {
    relay(busy_relay_answer(status, code, refusals)).await
}

/// What [`busy_relay`] answers.
fn busy_relay_answer(
    status: &'static str,
    code: &'static str,
    refusals: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    use std::sync::atomic::Ordering;
    move |_| {
        let refused =
            refusals.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        refused.is_ok().then(|| s3_error(status, code))
    }
}

/// A store that answers a server error (S3's `SlowDown` when it is asked
/// too fast, `InternalError`) now and then: the request is sent again, as
/// AWS's SDKs do, and succeeds — whether OpenDAL sends it (objects in and
/// out, copies, listings, deletes) or orgdrive signs it itself
/// (compositions). Before, any such answer failed the caller's request.
#[tokio::test]
async fn requests_a_busy_store_refused_are_sent_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let refusals = std::sync::Arc::new(AtomicUsize::new(0));
    for (status, code) in
        [("503 Slow Down", "SlowDown"), ("500 Internal Server Error", "InternalError")]
    {
        let store = store_through(Some(&busy_relay(status, code, refusals.clone()).await));
        let refuse_twice = || refusals.store(2, Ordering::SeqCst);
        refuse_twice();
        put(&store, "uploads/r/1", b"hello").await;
        assert_eq!(refusals.load(Ordering::SeqCst), 0, "{code}: each refusal was a try");
        refuse_twice();
        assert_eq!(store.stat("uploads/r/1").await.unwrap().unwrap().size, 5);
        refuse_twice();
        assert_eq!(read_sized(&store, "uploads/r/1", 0..5, 5).await, b"hello");
        refuse_twice();
        store.copy("uploads/r/1", "objects/r").await.unwrap();
        refuse_twice();
        store.compose(&["uploads/r/1".to_string()], "objects/s").await.unwrap();
        refuse_twice();
        assert_eq!(store.list("objects/").await.unwrap().len(), 2);
        refuse_twice();
        store.delete("objects/r").await.unwrap();
        assert_eq!(refusals.load(Ordering::SeqCst), 0, "{code}");
        assert_eq!(store.retries(), 7 * 2, "{code}: each retry counted (the metrics' figure)");
        assert_eq!(store.size("objects/r").await.unwrap(), None);
        assert_eq!(store.size("objects/s").await.unwrap(), Some(5));
        store.delete_prefix("objects/").await.unwrap();
        store.delete_prefix("uploads/").await.unwrap();
    }
}

/// A store that answers a server error to every try fails the request as
/// unavailable (answered 503: try again later), not as a fault (500),
/// after a bounded number of tries and about a second; an error it
/// answers otherwise (403) is neither tried again nor unavailable.
#[tokio::test]
async fn a_store_busy_at_every_try_is_unavailable_after_a_few_tries() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let refusals = std::sync::Arc::new(AtomicUsize::new(0));
    let cases = [
        ("503 Slow Down", "SlowDown", true),
        ("500 Internal Server Error", "InternalError", true),
        ("429 Too Many Requests", "TooManyRequests", true),
        ("403 Forbidden", "AccessDenied", false),
        ("501 Not Implemented", "NotImplemented", false),
    ];
    for (status, code, busy) in cases {
        let store = store_through(Some(&busy_relay(status, code, refusals.clone()).await));
        let (tries, parts) = (if busy { 4 } else { 1 }, ["objects/x".to_string()]);
        type Request<'a> = std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<(), orgdrive_blob::BlobError>> + 'a>,
        >;
        let requests: [(&str, Request); 3] = [
            ("stat", Box::pin(async { store.stat("objects/x").await.map(|_| ()) })),
            ("copy", Box::pin(store.copy("objects/x", "objects/y"))),
            ("compose", Box::pin(store.compose(&parts, "objects/y"))),
        ];
        for (what, request) in requests {
            refusals.store(100, Ordering::SeqCst);
            let started = std::time::Instant::now();
            let failed = request.await.unwrap_err();
            assert_eq!(failed.is_unavailable(), busy, "{code} {what}: {failed}");
            assert!(!failed.is_unreachable(), "{code} {what}: {failed}");
            assert_eq!(100 - refusals.load(Ordering::SeqCst), tries, "{code} {what}: tries");
            assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
        }
        assert_eq!(store.retries(), if busy { 3 * 3 } else { 0 }, "{code}: retries counted");
    }
}

/// A request the store may have carried out is never sent again: a copy
/// whose answer breaks off once its head came (a review's relay made one
/// CopyObject four server-side copies). A read that breaks off goes on from
/// where it broke, but never with bytes other than those asked for: an
/// answer past its range (1,000 bytes for 100 made OpenDAL's reader
/// overflow: a panic in debug builds) or, on going on, the object from its
/// start (a store ignoring the range) fails the read.
#[tokio::test]
async fn a_request_whose_answer_breaks_off_or_overflows_is_never_answered_wrong() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let sent = std::sync::Arc::new(AtomicUsize::new(0));
    let relayed = |answer: &'static str| {
        let sent = sent.clone();
        relay(move |head| {
            // CopyObject and GET (a read may ask for the object's size first).
            if head.contains("\r\nx-amz-copy-source:") || head.starts_with("get ") {
                sent.fetch_add(1, Ordering::SeqCst);
            }
            if head.starts_with("head ") {
                return Some("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_string());
            }
            Some(answer.to_string())
        })
    };
    let broken_off = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabcdef";
    let store = store_through(Some(&relayed(broken_off).await));
    assert!(store.copy("uploads/b/1", "objects/b").await.is_err());
    assert_eq!(sent.swap(0, Ordering::SeqCst), 1, "one CopyObject");
    let read = async |store: &BlobStore| -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        match store.read_sized("objects/b", 0..100, 100).await? {
            Download::Whole(bytes) => Ok(bytes.to_vec()),
            Download::Stream(stream) => Ok(stream.try_collect::<Vec<Bytes>>().await?.concat()),
        }
    };
    let wrong = read(&store).await;
    assert!(wrong.is_err(), "{wrong:?}");
    assert_eq!(sent.swap(0, Ordering::SeqCst), 2, "the GET, and one going on from byte 6");
    let past = format!(
        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-999/1000\r\n\
         Content-Length: 1000\r\n\r\n{}",
        "x".repeat(1000)
    );
    let store = store_through(Some(&relayed(past.leak()).await));
    let wrong = read(&store).await;
    assert!(wrong.is_err(), "{wrong:?}");
    sent.store(0, Ordering::SeqCst);
    // Fewer bytes than asked for, as a whole answer: the read goes on from
    // where the answer ended (before, it ended there, short, without error).
    let short = "HTTP/1.1 206 Partial Content\r\nContent-Length: 50\r\n\r\n\
                 yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
    let store = store_through(Some(&relayed(short).await));
    assert_eq!(read(&store).await.unwrap(), vec![b'y'; 100]);
    assert_eq!(sent.load(Ordering::SeqCst), 2, "the GET, and one going on from byte 50");
}

/// A POST answered 502 or 504 (a gateway's answers, which may come after
/// the store completed a multipart upload) is not sent again: a second
/// review's relay made OpenDAL's multipart writer send CompleteMultipartUpload
/// four times for one object. The write is answered unavailable (503).
#[tokio::test]
async fn a_multipart_completion_a_gateway_failed_is_not_sent_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (completions, aborts) =
        (std::sync::Arc::new(AtomicUsize::new(0)), std::sync::Arc::new(AtomicUsize::new(0)));
    let through = relay({
        let (completions, aborts) = (completions.clone(), aborts.clone());
        move |head| {
            if head.starts_with("delete ") && head.contains("uploadid=") {
                aborts.fetch_add(1, Ordering::SeqCst);
            }
            let completing = head.starts_with("post ") && head.contains("uploadid=");
            completing.then(|| {
                completions.fetch_add(1, Ordering::SeqCst);
                s3_error("502 Bad Gateway", "BadGateway")
            })
        }
    });
    let store = store_through(Some(&through.await));
    let content = pattern((9 << 20) + 5, 4); // above the write chunk: a multipart write
    let source = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(content))]);
    let failed = store.write_stream("objects/m", source, None, false).await.unwrap_err();
    assert_eq!(completions.load(Ordering::SeqCst), 1, "{failed}");
    let unavailable = matches!(&failed, orgdrive_blob::WriteError::Blob(e) if e.is_unavailable());
    assert!(unavailable, "{failed}");
    // The upload is aborted, so that its parts are not kept (a third review).
    assert_eq!(aborts.load(Ordering::SeqCst), 1, "AbortMultipartUpload");
    // Nor is a POST that creates one: compose's CreateMultipartUpload.
    let sent = std::sync::Arc::new(AtomicUsize::new(0));
    let refusals = std::sync::Arc::new(AtomicUsize::new(100));
    let busy = busy_relay_answer("502 Bad Gateway", "BadGateway", refusals);
    let through = relay({
        let sent = sent.clone();
        move |head| {
            sent.fetch_add(1, Ordering::SeqCst);
            busy(head)
        }
    });
    let store = store_through(Some(&through.await));
    let failed = store.compose(&["uploads/m/1".to_string()], "objects/m").await.unwrap_err();
    assert!(failed.is_unavailable(), "{failed}");
    assert_eq!(sent.load(Ordering::SeqCst), 1, "one CreateMultipartUpload");
}

/// A delete answered 404 `NoSuchBucket` (the bucket missing, or a gateway
/// that briefly cannot find it) fails: the object may still be there, and
/// counting it as removed would leave it unreferenced (OpenDAL takes any
/// 404 to a delete for "already gone"). A 404 `NoSuchKey` is "already
/// gone", as before.
#[tokio::test]
async fn a_delete_answered_no_such_bucket_is_not_taken_for_done() {
    for (code, removed) in [("NoSuchBucket", false), ("NoSuchKey", true)] {
        let through =
            relay(move |head| head.starts_with("delete ").then(|| s3_error("404 Not Found", code)));
        let outcome = store_through(Some(&through.await)).delete("objects/kept").await;
        assert_eq!(outcome.is_ok(), removed, "{code}: {outcome:?}");
        if let Err(e) = outcome {
            assert!(e.to_string().contains("NoSuchBucket"), "{e}");
        }
    }
}

/// The check a server makes of a store before it hands out its presigned
/// PUTs: s3s-fs 0.14 (the test store) copies an object for a presigned PUT
/// carrying an `x-amz-copy-source` its signature does not cover (a review
/// committed another org's file through an upload URL so); a store that
/// refuses such a header, as AWS S3 does, passes. The probe's objects are
/// removed either way.
#[tokio::test]
async fn a_store_whose_presigned_puts_obey_an_unsigned_copy_source_is_found_out() {
    let s3s_fs = store();
    assert!(s3s_fs.presigned_puts_copy_unsigned_sources().await.unwrap(), "s3s-fs copies");
    assert!(s3s_fs.list("probes/").await.unwrap().is_empty(), "probe objects left");
    let relay = refusing_relay().await;
    let aws_like = store_through(Some(&relay));
    assert!(!aws_like.presigned_puts_copy_unsigned_sources().await.unwrap(), "refused: safe");
    assert!(aws_like.list("probes/").await.unwrap().is_empty(), "probe objects left");
}

/// A store that stops answering fails a request once its wait is over,
/// instead of holding it until the kernel gives up (a review held a commit
/// for minutes so), and a store nobody listens for fails at once; both are
/// told apart from errors a store answers (`is_unreachable`).
#[tokio::test]
async fn a_store_that_does_not_answer_fails_a_request_in_bounded_time() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_address = silent.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket); // read nothing, answer nothing
        }
    });
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let url = std::env::var("ORGDRIVE_TEST_BLOB_URL").unwrap();
    let BlobLocation::S3(mut s3) = url.parse::<BlobLocation>().unwrap() else { unreachable!() };
    let waits =
        orgdrive_blob::Waits { connect: Duration::from_secs(2), read: Duration::from_secs(1) };
    for address in [silent_address, closed_address] {
        s3.endpoint = Some(format!("http://{address}"));
        let store = BlobStore::s3_with_waits(&s3, waits).unwrap();
        let started = std::time::Instant::now();
        let failed = store.stat("objects/x").await.unwrap_err();
        assert!(failed.is_unreachable(), "{address}: {failed}");
        assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    }
    // An error of another kind is not "unreachable".
    let refused = store().stat("../x").await.unwrap_err();
    assert!(!refused.is_unreachable(), "{refused}");
}
