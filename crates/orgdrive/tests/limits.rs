//! Slow or idle clients cannot pin the server: header and body timeouts, body
//! size limits.

mod common;

use std::time::{Duration, Instant};

use common::*;
use orgdrive_server::Limits;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn short() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(500),
        body_idle_timeout: Duration::from_millis(500),
        ..Limits::default()
    }
}

async fn connect(s: &TestServer) -> TcpStream {
    TcpStream::connect(s.base.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection (or 5 s pass); returns what arrived.
async fn read_until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open for 5 s"),
        }
    }
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(dir.path(), short()).await;
    let mut stream = connect(&s).await;
    stream.write_all(b"GET /admin/v1/orgs HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let (_, waited) = read_until_closed(&mut stream).await;
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");
    s.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(dir.path(), short()).await;
    let mut stream = connect(&s).await;
    stream.write_all(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (received, waited) = read_until_closed(&mut stream).await;
    assert!(received.starts_with("HTTP/1.1 404"), "{received}");
    assert!(waited < Duration::from_secs(3), "idle connection kept {waited:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_blob_put_that_stalls_halfway_leaves_no_object_and_no_upload_state() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(dir.path(), short()).await;
    let sp = Space::new(&s, Some(1000)).await;
    let (key, url) = sp.upload_url().await;
    let path_and_query = url.trim_start_matches(&s.base).to_string();
    let mut stream = connect(&s).await;
    let head = format!(
        "PUT {path_and_query} HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n{}",
        "x".repeat(50)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (received, waited) = read_until_closed(&mut stream).await;
    assert!(received.starts_with("HTTP/1.1 4"), "a stalled body gets a 4xx: {received}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    // No object (finished or half-written) and no recorded part or reservation.
    assert_eq!(stored_objects(dir.path()), Vec::<String>::new());
    let reply =
        sp.post("/files/commit", json!({"uploadKey": key, "name": "a", "parentId": "0"})).await;
    assert_error(&reply, 400, "paramError.uploadKey");
    assert_eq!(reserved_bytes(&s, &sp.id).await, 0);
    // The upload itself stays usable.
    assert_eq!(sp.put(&url, b"0123456789").await, 200);
    assert_eq!(reserved_bytes(&s, &sp.id).await, 10);
    s.stop().await;
}

#[tokio::test]
async fn a_body_that_stalls_is_abandoned_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(dir.path(), short()).await;
    let t = tenant(&s, &ALL_SCOPES, None).await;
    let mut stream = connect(&s).await;
    let head = format!(
        "POST /v1.0/storage/spaces?unionId={} HTTP/1.1\r\nHost: x\r\n\
         x-acs-dingtalk-access-token: {}\r\ncontent-type: application/json\r\n\
         content-length: 100\r\n\r\n{{\"option\":",
        t.union_id, t.token
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (received, waited) = read_until_closed(&mut stream).await;
    assert!(received.starts_with("HTTP/1.1 4"), "a stalled body gets a 4xx: {received}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    // Nothing was created: the first real call creates the default space.
    let path = format!("/v1.0/storage/spaces?unionId={}", t.union_id);
    let (_, first) = s.call("POST", &path, Some(&t.token), Some("{}")).await;
    let (_, again) =
        s.call("POST", &path, Some(&t.token), Some(r#"{"option":{"name":"x"}}"#)).await;
    assert_eq!(first, again);
    s.stop().await;
}

/// Reads one response (head and `content-length` body) off a keep-alive connection.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_string)
                })
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            if received.len() >= end + 4 + length {
                return text;
            }
        }
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) => return format!("closed after {text:?}"),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => return format!("{e} after {text:?}"),
            Err(_) => panic!("no complete response within 5 s: {text:?}"),
        }
    }
}

#[tokio::test]
async fn a_request_answered_before_its_body_arrived_leaves_the_connection_usable() {
    // Clients (the Python SDK among them) send the headers and the body in
    // separate writes. A request answered on its headers alone (a bad token;
    // or an operation that ignores its body) used to leave its body unread,
    // so the server closed the connection after the answer, while the client
    // pooled it as keep-alive: its next request met a closed connection
    // ("Remote end closed connection without response").
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let body = format!("{{\"option\":{{\"name\":\"{}\"}}}}", "x".repeat(2000));
    let mut stream = connect(&s).await;
    for round in 0..2 {
        let head = format!(
            "POST /v1.0/storage/spaces?unionId=u HTTP/1.1\r\nHost: x\r\n\
             x-acs-dingtalk-access-token: not-a-token\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        stream
            .write_all(body.as_bytes())
            .await
            .expect("the connection was closed under the client");
        let received = read_response(&mut stream).await;
        assert!(received.starts_with("HTTP/1.1 400"), "round {round}: {received}");
        assert!(received.contains("InvalidAuthentication"), "round {round}: {received}");
    }
    s.stop().await;
}
