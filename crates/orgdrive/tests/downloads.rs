//! Downloads through signed URLs against the real server: the URL carries
//! the object's size, signed with the rest, and the GET trusts it instead of
//! asking the store; so a changed size is refused, and a file on disk that
//! is not the signed size never yields wrong or extra bytes. Ranges, HEAD and
//! the response headers, for small files (read at once) and large ones
//! (streamed in chunks); URLs without a size (issued before sizes were signed)
//! are still served.

mod common;

use std::path::PathBuf;

use common::*;
use orgdrive_blob::{Presigner, SignedRequest};
use serde_json::json;

/// Larger than a download read at once and than one streamed chunk (1 MiB).
const LARGE: usize = (2 << 20) + 12_345;

fn pattern(len: usize) -> &'static [u8] {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    Box::leak(bytes.into_boxed_slice())
}

/// The signed GET URL of a file.
async fn download_url(sp: &Space<'_>, dentry_id: &str) -> String {
    let (status, info) =
        sp.post(&format!("/dentries/{dentry_id}/downloadInfos/query"), json!({})).await;
    assert_eq!(status, 200, "{info}");
    info["headerSignatureInfo"]["resourceUrls"][0].as_str().unwrap().to_string()
}

/// The object key a signed URL names.
fn object_key(url: &str) -> String {
    let path = url.split_once("/blob/").unwrap().1;
    path.split_once('?').unwrap().0.to_string()
}

/// Where the object a signed URL names lives on disk.
fn object_file(s: &TestServer, url: &str) -> PathBuf {
    s.data_dir.join("blobs").join(object_key(url))
}

/// One query parameter of a URL.
fn param<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    url.split_once('?')?.1.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}=")))
}

async fn get(s: &TestServer, url: &str, range: Option<&str>) -> reqwest::Response {
    let mut request = s.http.get(url);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    request.send().await.unwrap()
}

async fn head(s: &TestServer, url: &str, range: Option<&str>) -> reqwest::Response {
    let mut request = s.http.head(url);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_signed_size_cannot_be_changed() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let file = sp.upload("digits.txt", b"0123456789").await;
    let url = download_url(&sp, file["id"].as_str().unwrap()).await;
    assert_eq!(param(&url, "size"), Some("10"), "{url}");
    assert_eq!(get(&s, &url, None).await.bytes().await.unwrap().as_ref(), b"0123456789");

    let tampered = [
        url.replace("&size=10&", "&size=9&"),
        url.replace("&size=10&", "&size=11&"),
        url.replace("&size=10&", "&size=0&"),
        url.replace("&size=10&", "&size=18446744073709551615&"),
        url.replace("&size=10&", "&size=-1&"),
        url.replace("&size=10&", "&size=abc&"),
        url.replace("&size=10&", "&size=&"),
        url.replace("&size=10&", "&size=1e1&"),
        // The first of two sizes counts.
        url.replace("&size=10&", "&size=9&size=10&"),
        // Without the size, the signature is not the one of a URL without a size.
        url.replace("&size=10&", "&"),
    ];
    for forged in &tampered {
        assert_ne!(forged, &url);
        let refused = get(&s, forged, None).await;
        assert_error(&error_reply(refused).await, 403, "signatureMismatch");
        let refused = get(&s, forged, Some("bytes=0-99")).await;
        assert_error(&error_reply(refused).await, 403, "signatureMismatch");
        let head = head(&s, forged, None).await;
        assert_eq!(head.status(), 403, "{forged}");
    }
    s.stop().await;
}

/// The download URL `url` as issued before sizes were signed (no `size`).
fn unsized_url(s: &TestServer, url: &str, name: &str) -> String {
    let key = object_key(url);
    let expires: i64 = param(url, "expires").unwrap().parse().unwrap();
    let request = SignedRequest { method: "GET", object_key: &key, expires, file_name: name };
    let signature = Presigner::new(SIGNING_KEY).sign(&request);
    s.url(&format!("/blob/{key}?expires={expires}&name={name}&signature={signature}"))
}

#[tokio::test]
async fn urls_without_a_size_are_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    // Kept inline in the metadata store, then on disk.
    let inline = sp.upload("digits.txt", b"0123456789").await;
    let url = download_url(&sp, inline["id"].as_str().unwrap()).await;
    assert!(object_key(&url).starts_with("inline/"), "{url}");
    let old = unsized_url(&s, &url, "digits.txt");
    let part = get(&s, &old, Some("bytes=-3")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"789");

    let file = sp.upload_streamed("digits.txt", b"0123456789").await;
    let url = download_url(&sp, file["id"].as_str().unwrap()).await;
    assert!(object_key(&url).starts_with("objects/"), "{url}");
    let old = unsized_url(&s, &url, "digits.txt");
    let full = get(&s, &old, None).await;
    assert_eq!(full.status(), 200);
    assert_eq!(full.headers()["content-length"], "10");
    assert_eq!(full.bytes().await.unwrap().as_ref(), b"0123456789");
    let part = get(&s, &old, Some("bytes=-3")).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 7-9/10");
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"789");
    // Its signature does not cover a size added to it.
    let sized = old.replace("&signature=", "&size=10&signature=");
    assert_error(&error_reply(get(&s, &sized, None).await).await, 403, "signatureMismatch");
    // Gone from disk: 404, as before.
    std::fs::remove_file(object_file(&s, &url)).unwrap();
    assert_error(&error_reply(get(&s, &old, None).await).await, 404, "resource.not.found");
    s.stop().await;
}

/// Asserts a 500 that carries none of the file's bytes.
async fn assert_refused(response: reqwest::Response, content: &[u8], what: &str) {
    assert_eq!(response.status(), 500, "{what}");
    assert!(response.headers().get("content-range").is_none(), "{what}");
    let body = response.bytes().await.unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(reply["code"], "systemError", "{what}: {reply}");
    let leaked = body.windows(8).any(|b| content.windows(8).take(1 << 16).any(|w| b == w));
    assert!(!leaked, "{what}: the error carries file bytes");
}

#[tokio::test]
async fn a_small_file_that_is_not_its_signed_size_serves_no_wrong_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let content = pattern(4096);
    // On disk (a small file kept inline cannot be changed behind the store).
    let file = sp.upload_streamed("small.bin", content).await;
    let url = download_url(&sp, file["id"].as_str().unwrap()).await;
    let path = object_file(&s, &url);

    // Shorter on disk than signed: whatever reaches past the end fails.
    std::fs::write(&path, &content[..1000]).unwrap();
    for range in
        [None, Some("bytes=0-"), Some("bytes=500-1500"), Some("bytes=-10"), Some("bytes=2000-")]
    {
        assert_refused(get(&s, &url, range).await, content, &format!("shorter, {range:?}")).await;
        assert_eq!(head(&s, &url, range).await.status(), 500, "{range:?}");
    }
    // A range inside what is left is still the file's own bytes.
    let inside = get(&s, &url, Some("bytes=100-199")).await;
    assert_eq!(inside.status(), 206);
    assert_eq!(inside.headers()["content-range"], "bytes 100-199/4096");
    assert_eq!(inside.bytes().await.unwrap().as_ref(), &content[100..200]);

    // Empty on disk.
    std::fs::write(&path, b"").unwrap();
    assert_refused(get(&s, &url, None).await, content, "empty").await;

    // Longer on disk than signed: a read to the signed end fails.
    let mut longer = content.to_vec();
    longer.extend_from_slice(b"appended bytes");
    std::fs::write(&path, &longer).unwrap();
    assert_refused(get(&s, &url, None).await, content, "longer").await;
    assert_refused(get(&s, &url, Some("bytes=-100")).await, content, "longer, suffix").await;

    // Restored, it is served again.
    std::fs::write(&path, content).unwrap();
    assert_eq!(get(&s, &url, None).await.bytes().await.unwrap().as_ref(), content);

    // A directory in its place, or nothing: not found.
    std::fs::remove_file(&path).unwrap();
    assert_error(&error_reply(get(&s, &url, None).await).await, 404, "resource.not.found");
    assert_eq!(head(&s, &url, None).await.status(), 404);
    std::fs::create_dir(&path).unwrap();
    assert_error(&error_reply(get(&s, &url, None).await).await, 404, "resource.not.found");
    s.stop().await;
}

#[tokio::test]
async fn a_large_file_that_is_not_its_signed_size_serves_no_wrong_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let content = pattern(LARGE);
    let file = sp.upload("large.bin", content).await;
    let url = download_url(&sp, file["id"].as_str().unwrap()).await;
    let path = object_file(&s, &url);
    let size = LARGE.to_string();
    assert_eq!(param(&url, "size"), Some(size.as_str()));

    // A streamed download checks the file's size before it answers.
    std::fs::write(&path, &content[..LARGE - 1]).unwrap();
    for range in [None, Some("bytes=0-"), Some("bytes=0-999999"), Some("bytes=-200000")] {
        assert_refused(get(&s, &url, range).await, content, &format!("shorter, {range:?}")).await;
    }
    let mut longer = content.to_vec();
    longer.push(0);
    std::fs::write(&path, &longer).unwrap();
    for range in [None, Some("bytes=0-999999")] {
        assert_refused(get(&s, &url, range).await, content, &format!("longer, {range:?}")).await;
    }
    std::fs::write(&path, content).unwrap();
    assert_eq!(get(&s, &url, None).await.bytes().await.unwrap().as_ref(), content);
    std::fs::remove_file(&path).unwrap();
    assert_error(&error_reply(get(&s, &url, None).await).await, 404, "resource.not.found");
    std::fs::create_dir(&path).unwrap();
    assert_error(&error_reply(get(&s, &url, None).await).await, 404, "resource.not.found");
    s.stop().await;
}

#[tokio::test]
async fn ranges_head_and_headers_of_small_and_large_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    for (name, len, mime) in [
        ("notes 报告.txt", 10, "text/plain"),
        ("edge.bin", 64 << 10, "application/octet-stream"),
        ("over-edge.json", (64 << 10) + 1, "application/json"),
        ("large.bin", LARGE, "application/octet-stream"),
    ] {
        let content = pattern(len);
        let file = sp.upload(name, content).await;
        let url = download_url(&sp, file["id"].as_str().unwrap()).await;
        let etag = format!("\"{}\"", object_key(&url).rsplit('/').next().unwrap());
        let disposition = format!(
            "attachment; filename=\"{}\"; filename*=UTF-8''{}",
            name.replace(['报', '告'], "_"),
            name.bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        );
        let check_headers = |r: &reqwest::Response, length: usize| {
            let h = r.headers();
            assert_eq!(h["content-length"], length.to_string().as_str(), "{name}");
            assert_eq!(h["content-type"], mime, "{name}");
            assert_eq!(h["etag"], etag.as_str(), "{name}");
            assert_eq!(h["accept-ranges"], "bytes", "{name}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{name}");
            assert_eq!(h["content-disposition"], disposition.as_str(), "{name}");
        };

        let full = get(&s, &url, None).await;
        assert_eq!(full.status(), 200, "{name}");
        check_headers(&full, len);
        assert!(full.headers().get("content-range").is_none());
        assert_eq!(full.bytes().await.unwrap().as_ref(), content, "{name}");
        let headed = head(&s, &url, None).await;
        assert_eq!(headed.status(), 200, "{name}");
        check_headers(&headed, len);
        assert!(headed.bytes().await.unwrap().is_empty());

        let mib = 1 << 20;
        let ranges: Vec<(String, std::ops::Range<usize>)> = vec![
            ("bytes=0-0".into(), 0..1),
            ("bytes=2-4".into(), 2..5),
            (format!("bytes=3-{}", len + 100), 3..len),
            ("bytes=5-".into(), 5..len),
            ("bytes=-3".into(), len - 3..len),
            (format!("bytes=-{}", len * 2), 0..len),
            (format!("bytes={}-", len - 1), len - 1..len),
            // Across the streamed chunks of the large file.
            (format!("bytes={}-{}", mib.min(len - 1) - 1, (2 * mib + 1).min(len - 1)), {
                mib.min(len - 1) - 1..(2 * mib + 2).min(len)
            }),
        ];
        for (spec, want) in ranges {
            let part = get(&s, &url, Some(&spec)).await;
            assert_eq!(part.status(), 206, "{name} {spec}");
            check_headers(&part, want.len());
            let content_range = format!("bytes {}-{}/{len}", want.start, want.end - 1);
            assert_eq!(part.headers()["content-range"], content_range.as_str(), "{name} {spec}");
            assert!(
                part.bytes().await.unwrap().as_ref() == &content[want.clone()],
                "{name} {spec}"
            );
            let headed = head(&s, &url, Some(&spec)).await;
            assert_eq!(headed.status(), 206, "{name} {spec}");
            assert_eq!(headed.headers()["content-range"], content_range.as_str());
            check_headers(&headed, want.len());
        }
        for spec in
            [format!("bytes={len}-"), format!("bytes={}-{}", len + 5, len + 9), "bytes=-0".into()]
        {
            let refused = get(&s, &url, Some(&spec)).await;
            assert_eq!(refused.headers()["content-range"], format!("bytes */{len}").as_str());
            assert_error(&error_reply(refused).await, 416, "paramError.range");
            assert_eq!(head(&s, &url, Some(&spec)).await.status(), 416, "{name} {spec}");
        }
        // Multiple, malformed or foreign ranges: the whole file.
        for spec in ["bytes=0-1,4-5", "bytes=5-1", "items=0-1", "bytes=x-"] {
            let whole = get(&s, &url, Some(spec)).await;
            assert_eq!(whole.status(), 200, "{name} {spec}");
            assert_eq!(whole.bytes().await.unwrap().as_ref(), content, "{name} {spec}");
        }
    }
    s.stop().await;
}
