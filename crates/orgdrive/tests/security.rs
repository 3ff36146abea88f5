//! Hostile clients against the real server on a random port: traversal
//! through validly signed blob URLs, PUTs racing or outliving their commit,
//! uploads past their announced size or the quota, trickling and
//! non-reading clients, too many connections or uploads, a full disk, deep
//! folders, and what a 500 may say.

mod common;

use std::time::{Duration, Instant};

use common::*;
use orgdrive_blob::{Presigner, SignedRequest};
use orgdrive_server::Limits;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A path and query signed with the server's real key.
fn signed(method: &str, key: &str, raw_path: &str) -> String {
    let expires = chrono_now() + 600;
    let request = SignedRequest { method, object_key: key, expires, file_name: "" };
    let signature = Presigner::new(SIGNING_KEY).sign(&request);
    format!("/blob/{raw_path}?expires={expires}&signature={signature}")
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn connect(s: &TestServer) -> TcpStream {
    TcpStream::connect(s.base.trim_start_matches("http://")).await.unwrap()
}

/// Sends raw request bytes on a new connection and reads the whole answer
/// (until the server closes, at most 10 s).
async fn raw(s: &TestServer, request: &str) -> String {
    let mut stream = connect(s).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    read_to_close(&mut stream).await
}

async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open for 10 s"),
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}

fn status_of(response: &str) -> u16 {
    response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn body_of(response: &str) -> Value {
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

async fn space_state(sp: &Space<'_>) -> Value {
    let path = format!("/v1.0/storage/spaces/{}?unionId={}", sp.id, sp.t.union_id);
    let (status, reply) = sp.s.call("GET", &path, Some(&sp.t.token), None).await;
    assert_eq!(status, 200, "{reply}");
    reply["space"].clone()
}

async fn download(sp: &Space<'_>, dentry_id: &str) -> reqwest::Response {
    let (status, info) =
        sp.post(&format!("/dentries/{dentry_id}/downloadInfos/query"), json!({})).await;
    assert_eq!(status, 200, "{info}");
    let url = info["headerSignatureInfo"]["resourceUrls"][0].as_str().unwrap();
    sp.s.http.get(url).send().await.unwrap()
}

#[tokio::test]
async fn validly_signed_traversal_urls_read_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let secret = "top-secret-admin-token-value";
    std::fs::write(dir.path().join("admin.token"), secret).unwrap();
    std::fs::write(dir.path().join("signing.key"), secret).unwrap();
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let attempts = [
        // (the key as the server decodes and verifies it, the path as sent)
        ("../admin.token", "../admin.token"),
        ("../signing.key", "%2e%2e/signing.key"),
        ("../signing.key", "%2E%2E%2Fsigning.key"),
        ("../../../../etc/hostname", "../../../../etc/hostname"),
        ("objects/../../admin.token", "objects/../../admin.token"),
        ("objects/..%2f..%2fadmin.token", "objects/..%252f..%252fadmin.token"),
        ("/etc/hostname", "%2Fetc/hostname"),
        ("objects\\..\\..\\admin.token", "objects%5C..%5C..%5Cadmin.token"),
        ("objects", "objects"),
        ("objects/", "objects/"),
        ("blobs/../meta.sqlite", "blobs/../meta.sqlite"),
    ];
    for (key, path) in attempts {
        for method in ["GET", "HEAD"] {
            let target = signed("GET", key, path);
            let response = raw(
                &s,
                &format!("{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            )
            .await;
            let status = status_of(&response);
            assert!((400..500).contains(&status), "{method} {path}: {response}");
            assert!(!response.contains(secret), "{method} {path} leaked the secret");
            assert!(hostname.is_empty() || !response.contains(hostname.trim()), "{path}");
        }
        // Signed for PUT: nothing is written outside the store either.
        let target = signed("PUT", key, path);
        let response = raw(
            &s,
            &format!("PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"),
        )
        .await;
        assert!((400..500).contains(&status_of(&response)), "PUT {path}: {response}");
    }
    assert_eq!(std::fs::read_to_string(dir.path().join("admin.token")).unwrap(), secret);
    assert_eq!(stored_objects(dir.path()), Vec::<String>::new());
    // A key of the issued shape that names no object is a 404.
    let target = signed("GET", "objects/nothere", "objects/nothere");
    let response =
        raw(&s, &format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).await;
    assert_eq!(status_of(&response), 404, "{response}");
    assert_eq!(body_of(&response)["code"], "resource.not.found");
    s.stop().await;
}

#[tokio::test]
async fn a_put_that_ends_after_the_commit_changes_neither_bytes_nor_quota() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, Some(1000)).await;
    let (key, url) = sp.upload_url().await;
    assert_eq!(sp.put(&url, b"1").await, 200);
    // A second PUT to the same URL starts, announcing 900 bytes, and stalls.
    let target = url.trim_start_matches(&s.base).to_string();
    let mut late = connect(&s).await;
    late.write_all(
        format!(
            "PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n{}",
            "x".repeat(100)
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, committed) = sp
        .post(
            "/files/commit",
            json!({"uploadKey": key, "name": "one.txt", "parentId": "0", "size": 1}),
        )
        .await;
    assert_eq!(status, 200, "{committed}");
    let id = committed["dentry"]["id"].as_str().unwrap().to_string();
    // The late PUT finishes: refused, and it leaves nothing behind.
    late.write_all("x".repeat(800).as_bytes()).await.unwrap();
    let answer = read_to_close_or_first_response(&mut late).await;
    assert_eq!(status_of(&answer), 400, "{answer}");
    assert_eq!(body_of(&answer)["code"], "paramError.uploadKey", "{answer}");
    let file = download(&sp, &id).await;
    assert_eq!(file.bytes().await.unwrap().as_ref(), b"1");
    assert_eq!(space_state(&sp).await["usedQuota"], 1);
    assert_eq!(reserved_bytes(&s, &sp.id).await, 0);
    assert_eq!(stored_objects(dir.path()).len(), 1, "only the committed object");
    s.stop().await;
}

/// Reads one HTTP response (headers and a Content-Length body) without
/// waiting for the connection to close.
async fn read_to_close_or_first_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if length.is_some_and(|n| body.len() >= n) {
                return text;
            }
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return text,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no response within 10 s: {text}"),
        }
    }
}

#[tokio::test]
async fn a_part_replaced_during_a_multipart_commit_cannot_swap_bytes() {
    // Re-uploading a part keeps one object per part; the replaced one is gone.
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let (key, url) = sp.upload_url().await;
    assert_eq!(sp.put(&url, b"first").await, 200);
    assert_eq!(sp.put(&url, b"second").await, 200);
    assert_eq!(stored_objects(dir.path()).len(), 1, "the replaced object is removed");
    let (status, reply) =
        sp.post("/files/commit", json!({"uploadKey": key, "name": "f", "parentId": "0"})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["dentry"]["size"], 6);
    s.stop().await;
}

async fn multipart_urls(
    sp: &Space<'_>,
    announced: Option<i64>,
    parts: &[i64],
) -> (String, Vec<String>) {
    let mut option = json!({});
    if let Some(size) = announced {
        option = json!({"preCheckParam": {"size": size}});
    }
    let (status, init) =
        sp.post("/files/multiPartUploadInfos/init", json!({"option": option})).await;
    assert_eq!(status, 200, "{init}");
    let key = init["uploadKey"].as_str().unwrap().to_string();
    let path =
        format!("/v1.0/storage/spaces/files/multiPartUploadInfos/query?unionId={}", sp.t.union_id);
    let body = json!({"uploadKey": key, "partNumbers": parts}).to_string();
    let (status, infos) = sp.s.call("POST", &path, Some(&sp.t.token), Some(&body)).await;
    assert_eq!(status, 200, "{infos}");
    let urls = infos["multipartHeaderSignatureInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["headerSignatureInfo"]["resourceUrls"][0].as_str().unwrap().to_string())
        .collect();
    (key, urls)
}

#[tokio::test]
async fn parts_together_cannot_pass_the_announced_size() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, Some(100)).await;
    let parts: Vec<i64> = (1..=30).collect();
    let (key, urls) = multipart_urls(&sp, Some(10), &parts).await;
    assert_eq!(sp.put(&urls[0], b"0123456789").await, 200);
    for url in &urls[1..] {
        let response = s.http.put(url).body("x").send().await.unwrap();
        assert_eq!(response.status(), 413);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "paramError.size", "{body}");
    }
    assert_eq!(reserved_bytes(&s, &sp.id).await, 10);
    let (status, reply) =
        sp.post("/files/commit", json!({"uploadKey": key, "name": "m", "parentId": "0"})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(space_state(&sp).await["usedQuota"], 10);
    assert_eq!(reserved_bytes(&s, &sp.id).await, 0);
    s.stop().await;
}

#[tokio::test]
async fn pending_bytes_count_against_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, Some(100)).await;
    let (first_key, first) = sp.upload_url().await;
    let (_, second) = sp.upload_url().await;
    // The first PUT announces 60 bytes and is still sending them.
    let mut slow = connect(&s).await;
    let target = first.trim_start_matches(&s.base).to_string();
    slow.write_all(
        format!("PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n0123456789")
            .as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reserved_bytes(&s, &sp.id).await, 60);
    let refused = s.http.put(&second).body(vec![0u8; 50]).send().await.unwrap();
    assert_eq!(refused.status(), 413);
    assert_eq!(refused.json::<Value>().await.unwrap()["code"], "paramError.size");
    assert_eq!(stored_objects(dir.path()), Vec::<String>::new());
    assert_eq!(s.http.put(&second).body(vec![0u8; 40]).send().await.unwrap().status(), 200);
    slow.write_all("x".repeat(50).as_bytes()).await.unwrap();
    assert_eq!(status_of(&read_to_close_or_first_response(&mut slow).await), 200);
    assert_eq!(reserved_bytes(&s, &sp.id).await, 100);
    let (status, reply) = sp
        .post("/files/commit", json!({"uploadKey": first_key, "name": "a", "parentId": "0"}))
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        (space_state(&sp).await["usedQuota"].as_i64(), reserved_bytes(&s, &sp.id).await),
        (Some(60), 40)
    );
    s.stop().await;
}

#[tokio::test]
async fn a_json_request_trickling_one_byte_every_1_5_s_is_cut_off_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        request_timeout: Duration::from_secs(2),
        body_idle_timeout: Duration::from_secs(5),
        ..Limits::default()
    };
    let s = TestServer::start_with(dir.path(), limits).await;
    let mut stream = connect(&s).await;
    let started = Instant::now();
    stream
        .write_all(b"POST /v1.0/oauth2/accessToken HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n")
        .await
        .unwrap();
    let trickle = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            if stream.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(2600), trickle).await;
    let answer = read_to_close_or_first_response(&mut stream).await;
    assert_eq!(status_of(&answer), 503, "{answer}");
    assert_eq!(body_of(&answer)["code"], "operationTimeout", "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "cut after {:?}", started.elapsed());
    s.stop().await;
}

#[tokio::test]
async fn a_blob_put_below_the_minimum_rate_is_cut_off_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        min_transfer_rate: 1000,
        transfer_rate_window: Duration::from_secs(1),
        body_idle_timeout: Duration::from_secs(10),
        ..Limits::default()
    };
    let s = TestServer::start_with(dir.path(), limits).await;
    let sp = Space::new(&s, Some(10_000)).await;
    let (key, url) = sp.upload_url().await;
    let target = url.trim_start_matches(&s.base).to_string();
    let mut stream = connect(&s).await;
    let started = Instant::now();
    stream
        .write_all(
            format!("PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let trickle = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if stream.write_all(b"x").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1800), trickle).await;
    let answer = read_to_close_or_first_response(&mut stream).await;
    assert!(status_of(&answer) >= 400, "{answer}");
    assert!(started.elapsed() < Duration::from_secs(4), "cut after {:?}", started.elapsed());
    assert_eq!(stored_objects(dir.path()), Vec::<String>::new());
    assert_eq!(reserved_bytes(&s, &sp.id).await, 0);
    let reply =
        sp.post("/files/commit", json!({"uploadKey": key, "name": "a", "parentId": "0"})).await;
    assert_error(&reply, 400, "paramError.uploadKey");
    s.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_a_download_loses_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits { write_timeout: Duration::from_secs(1), ..Limits::default() };
    let s = TestServer::start_with(dir.path(), limits).await;
    let sp = Space::new(&s, None).await;
    let (key, url) = sp.upload_url().await;
    const SIZE: usize = 32 << 20;
    let put = s.http.put(&url).body(vec![1u8; SIZE]).send().await.unwrap();
    assert_eq!(put.status(), 200);
    let (_, reply) =
        sp.post("/files/commit", json!({"uploadKey": key, "name": "big", "parentId": "0"})).await;
    let (_, info) = sp
        .post(
            &format!("/dentries/{}/downloadInfos/query", reply["dentry"]["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    let get = info["headerSignatureInfo"]["resourceUrls"][0].as_str().unwrap();
    let mut stream = connect(&s).await;
    let target = get.trim_start_matches(&s.base);
    stream.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await; // not reading
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) => break "closed",
            Ok(Err(e)) => {
                break if e.kind() == std::io::ErrorKind::ConnectionReset {
                    "reset"
                } else {
                    "error"
                }
            }
            Ok(Ok(n)) => received += n,
            Err(_) => panic!("the connection stayed open"),
        }
    };
    assert!(received < SIZE, "the server gave up before sending all {SIZE} bytes ({received})");
    assert_eq!(ended, "reset", "a reset, so the kernel drops what was never read");
    s.stop().await;
}

#[tokio::test]
async fn connections_are_capped_per_client_address() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits { max_connections_per_ip: 2, ..Limits::default() };
    let s = TestServer::start_with(dir.path(), limits).await;
    let first = connect(&s).await;
    let _second = connect(&s).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The third is closed at once, unanswered.
    let answer = raw(&s, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(answer, "", "over the cap");
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = raw(&s, "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status_of(&answer), 404, "a freed place is usable: {answer}");
    s.stop().await;
}

#[tokio::test]
async fn open_uploads_are_capped_and_a_full_disk_refuses_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = drive_options();
    options.open_uploads = orgdrive_core::OpenUploadLimits { per_space: 2, per_app: 100 };
    let s = TestServer::start_custom(dir.path(), Limits::default(), options).await;
    let sp = Space::new(&s, None).await;
    let (key, url) = sp.upload_url().await;
    sp.upload_url().await;
    let body = json!({"protocol": "HEADER_SIGNATURE"});
    let reply = sp.post("/files/uploadInfos/query", body.clone()).await;
    assert_error(&reply, 429, "tooManyUploads");
    assert_eq!(sp.put(&url, b"abc").await, 200);
    let (status, _) =
        sp.post("/files/commit", json!({"uploadKey": key, "name": "a", "parentId": "0"})).await;
    assert_eq!(status, 200);
    assert_eq!(
        sp.post("/files/uploadInfos/query", body).await.0,
        200,
        "a committed upload frees its place"
    );
    s.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let mut options = drive_options();
    options.min_free_disk_bytes = u64::MAX;
    let s = TestServer::start_custom(dir.path(), Limits::default(), options).await;
    let sp = Space::new(&s, None).await;
    let (_, url) = sp.upload_url().await;
    let response = s.http.put(&url).body("abc").send().await.unwrap();
    assert_eq!(response.status(), 507);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "systemError.diskFull");
    assert_eq!(stored_objects(dir.path()), Vec::<String>::new());
    assert_eq!(reserved_bytes(&s, &sp.id).await, 0);
    s.stop().await;
}

#[tokio::test]
async fn folders_nest_at_most_64_names_deep_and_paths_stay_within_1024_characters() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let mut parent = "0".to_string();
    for depth in 1..=64 {
        let (status, reply) =
            sp.post(&format!("/dentries/{parent}/folders"), json!({"name": "d"})).await;
        assert_eq!(status, 200, "depth {depth}: {reply}");
        parent = reply["dentry"]["id"].as_str().unwrap().to_string();
    }
    let reply = sp.post(&format!("/dentries/{parent}/folders"), json!({"name": "d"})).await;
    assert_error(&reply, 400, "paramError.parentId");
    let (key, url) = sp.upload_url().await;
    assert_eq!(sp.put(&url, b"x").await, 200);
    let reply =
        sp.post("/files/commit", json!({"uploadKey": key, "name": "f", "parentId": parent})).await;
    assert_error(&reply, 400, "paramError.parentId");

    // 3 × (1 + 255) + 1 + 255 = 1024 characters fit; one more character does not.
    let long = "n".repeat(255);
    let mut parent = "0".to_string();
    for _ in 0..3 {
        let (status, reply) =
            sp.post(&format!("/dentries/{parent}/folders"), json!({"name": long})).await;
        assert_eq!(status, 200, "{reply}");
        parent = reply["dentry"]["id"].as_str().unwrap().to_string();
    }
    let (status, reply) =
        sp.post(&format!("/dentries/{parent}/folders"), json!({"name": long})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["dentry"]["path"].as_str().unwrap().chars().count(), 1024);
    let parent = reply["dentry"]["id"].as_str().unwrap().to_string();
    let reply = sp.post(&format!("/dentries/{parent}/folders"), json!({"name": "x"})).await;
    assert_error(&reply, 400, "paramError.name");
    s.stop().await;
}

#[tokio::test]
async fn an_internal_error_answers_a_generic_message_and_downloads_are_not_sniffed() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let file = sp.upload("page.html", b"<script>alert(1)</script>").await;
    let response = download(&sp, file["id"].as_str().unwrap()).await;
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");

    // Break the blob store under the server: a PUT fails on our side.
    let incoming = dir.path().join("blobs/.incoming");
    let _ = std::fs::remove_dir_all(&incoming);
    std::fs::write(&incoming, "not a directory").unwrap();
    let (_, url) = sp.upload_url().await;
    // Larger than what is kept inline: it goes through `.incoming/`.
    let response = s.http.put(&url).body(vec![b'a'; 70_000]).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let request_id = response.headers()["x-acs-request-id"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "systemError");
    assert_eq!(body["requestid"], request_id.as_str());
    let message = body["message"].as_str().unwrap();
    for internal in [
        ".incoming",
        "blobs",
        "directory",
        "opendal",
        "Not a",
        "os error",
        dir.path().to_str().unwrap(),
    ] {
        assert!(!message.contains(internal), "{internal:?} in {message:?}");
    }
    assert_eq!(reserved_bytes(&s, &sp.id).await, 0, "the failed PUT released its reservation");
    s.stop().await;
}

/// Sends raw request bytes, then resets the connection (RST, no FIN) after
/// `after`, as a client that goes away mid-answer.
async fn send_and_reset(s: &TestServer, head: &str, body: &[u8], after: Duration) {
    let stream = connect(s).await;
    let socket = socket2::SockRef::from(&stream);
    socket.set_linger(Some(Duration::ZERO)).unwrap();
    let mut stream = stream;
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    tokio::time::sleep(after).await;
    drop(stream);
}

/// `orgdrive fsck --grace 0` on a stopped server's data dir: (exit code, output).
fn fsck_now(dir: &std::path::Path) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orgdrive"))
        .args(["fsck", "--grace", "0", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_go_away_mid_put_or_mid_commit_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, Some(64 << 20)).await;
    // The same PUT URL, 12 times: the whole body, then a reset at varying moments.
    let (key, url) = sp.upload_url().await;
    let target = url.trim_start_matches(&s.base).to_string();
    let body = vec![5u8; 1 << 20];
    for i in 0..12u64 {
        let head =
            format!("PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len());
        send_and_reset(&s, &head, &body, Duration::from_millis(2 * i)).await;
    }
    // A multipart commit abandoned while it concatenates.
    let (mkey, urls) = multipart_urls(&sp, None, &[1, 2, 3]).await;
    for url in &urls {
        assert_eq!(s.http.put(url).body(vec![9u8; 4 << 20]).send().await.unwrap().status(), 200);
    }
    let commit = json!({"uploadKey": mkey, "name": "m", "parentId": "0"}).to_string();
    let head = format!(
        "POST /v1.0/storage/spaces/{}/files/commit?unionId={} HTTP/1.1\r\nHost: x\r\n\
         x-acs-dingtalk-access-token: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        sp.id, sp.t.union_id, sp.t.token, commit.len()
    );
    send_and_reset(&s, &head, commit.as_bytes(), Duration::from_millis(5)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // the tasks finish on their own
                                                           // The single upload holds exactly its recorded part, and is still committable.
    let reserved = reserved_bytes(&s, &sp.id).await;
    let (status, reply) =
        sp.post("/files/commit", json!({"uploadKey": key, "name": "s", "parentId": "0"})).await;
    if status == 200 {
        assert_eq!(reply["dentry"]["size"], 1 << 20);
    } else {
        assert_error(&(status, reply), 400, "paramError.uploadKey"); // no PUT got recorded
    }
    let used = space_state(&sp).await["usedQuota"].as_i64().unwrap();
    assert!(used == 12 << 20 || used == 13 << 20, "used {used}, reserved before {reserved}");
    assert_eq!(reserved_bytes(&s, &sp.id).await, 0);
    s.stop().await;
    let (code, out) = fsck_now(dir.path());
    assert_eq!(code, 0, "nothing stray, counters exact: {out}");
}

#[tokio::test]
async fn a_put_without_a_length_reserves_as_its_bytes_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, Some(20 << 20)).await;
    let (key, url) = sp.upload_url().await;
    let target = url.trim_start_matches(&s.base).to_string();
    let mut chunked = connect(&s).await;
    chunked
        .write_all(
            format!("PUT {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n{}\r\n", "c".repeat(1024))
                .as_bytes(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // It holds one step (8 MiB), not the whole space: another PUT still fits.
    assert_eq!(reserved_bytes(&s, &sp.id).await, 8 << 20);
    let (_, other) = sp.upload_url().await;
    let response = s.http.put(&other).body(vec![1u8; 10 << 20]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    chunked.write_all(b"0\r\n\r\n").await.unwrap();
    assert_eq!(status_of(&read_to_close_or_first_response(&mut chunked).await), 200);
    assert_eq!(reserved_bytes(&s, &sp.id).await, (10 << 20) + 1024);
    let (status, reply) =
        sp.post("/files/commit", json!({"uploadKey": key, "name": "c", "parentId": "0"})).await;
    assert_eq!((status, reply["dentry"]["size"].as_i64()), (200, Some(1024)), "{reply}");

    // A chunked part of a multipart upload may take what the announced size leaves.
    // (Every part but the last has at least 100 KB.)
    let first = vec![7u8; 100 << 10];
    let (mkey, urls) = multipart_urls(&sp, Some(first.len() as i64 + 10), &[1, 2]).await;
    assert_eq!(sp.put(&urls[0], &first).await, 200);
    let target = urls[1].trim_start_matches(&s.base).to_string();
    let answer = raw(
        &s,
        &format!("PUT {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\na\r\nabcdefghij\r\n0\r\n\r\n"),
    )
    .await;
    assert_eq!(status_of(&answer), 200, "{answer}");
    let (status, reply) =
        sp.post("/files/commit", json!({"uploadKey": mkey, "name": "m", "parentId": "0"})).await;
    assert_eq!(
        (status, reply["dentry"]["size"].as_i64()),
        (200, Some(first.len() as i64 + 10)),
        "{reply}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_together_stay_above_the_disk_floor() {
    let dir = tempfile::tempdir().unwrap();
    let free = {
        let stat = rustix::fs::statvfs(dir.path()).unwrap();
        stat.f_bavail * stat.f_frsize
    };
    let mut options = drive_options();
    options.min_free_disk_bytes = free.saturating_sub(1 << 30);
    let s = TestServer::start_custom(dir.path(), Limits::default(), options).await;
    let sp = Space::new(&s, None).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let (_, url) = sp.upload_url().await;
        let target = url.trim_start_matches(&s.base).to_string();
        let mut stream = connect(&s).await;
        let head =
            format!("PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\nx", 600 << 20);
        stream.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        streams.push(stream);
    }
    // The first claimed 600 MiB of the 1 GiB above the floor: the others do not fit
    // (margins of hundreds of MiB: other tests write to the same disk meanwhile).
    let mut refused = 0;
    for stream in streams.iter_mut().skip(1) {
        let answer = read_to_close_or_first_response(stream).await;
        assert_eq!(status_of(&answer), 507, "{answer}");
        assert_eq!(body_of(&answer)["code"], "systemError.diskFull");
        refused += 1;
    }
    assert_eq!(refused, 2);
    drop(streams); // the first PUT ends unfinished
    s.stop().await;
}

#[tokio::test]
async fn undecodable_paths_answer_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    for path in ["/blob/objects/%ff", "/admin/v1/orgs/%ff", "/v1.0/storage/spaces/%ff?unionId=x"] {
        let response = raw(&s, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nConnection: close\r\n\r\n")).await;
        assert!((400..500).contains(&status_of(&response)), "{path}: {response}");
        let body = body_of(&response);
        assert!(
            body["code"].as_str().is_some() && body["requestid"].as_str().is_some(),
            "{path}: {response}"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_overwrites_each_answer_their_own_version() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let mut keys = Vec::new();
    for i in 0..8u8 {
        let (key, url) = sp.upload_url().await;
        assert_eq!(
            s.http.put(&url).body(vec![i; usize::from(i) + 1]).send().await.unwrap().status(),
            200
        );
        keys.push(key);
    }
    let commits = keys.iter().map(|key| {
        sp.post(
            "/files/commit",
            json!({"uploadKey": key, "name": "same.txt", "parentId": "0", "option": {"conflictStrategy": "OVERWRITE"}}),
        )
    });
    let replies = futures::future::join_all(commits).await;
    let mut versions = std::collections::HashSet::new();
    for (status, reply) in &replies {
        assert_eq!(*status, 200, "{reply}");
        let version = reply["dentry"]["version"].as_i64().unwrap();
        let size = reply["dentry"]["size"].as_i64().unwrap();
        assert!(versions.insert(version), "version {version} answered twice: {replies:?}");
        // Each answer is the content its own commit stored as that version.
        assert!((1..=8).contains(&size), "{reply}");
    }
    assert_eq!(versions, (1..=8).collect());
    s.stop().await;
}

#[tokio::test]
async fn the_caller_is_checked_before_any_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let mut stream = connect(&s).await;
    let started = Instant::now();
    // A promised megabyte that never comes, with a token nobody issued.
    stream
        .write_all(
            b"POST /v1.0/storage/spaces?unionId=u HTTP/1.1\r\nHost: x\r\n\
              x-acs-dingtalk-access-token: forged\r\ncontent-type: application/json\r\n\
              content-length: 1000000\r\n\r\n{",
        )
        .await
        .unwrap();
    let answer = read_to_close_or_first_response(&mut stream).await;
    assert_eq!(status_of(&answer), 400, "{answer}");
    assert_eq!(body_of(&answer)["code"], "InvalidAuthentication");
    assert!(started.elapsed() < Duration::from_secs(2), "answered after {:?}", started.elapsed());
    s.stop().await;
}
