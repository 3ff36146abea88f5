//! Files over HTTP against the real server: the three-step upload, the blob
//! routes' signature checks, downloads with ranges, and folder listings.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn upload_commit_download() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, Some(100)).await;
    let (key, url) = sp.upload_url().await;
    assert!(url.starts_with(&s.base), "signed URLs point at this server: {url}");
    assert_eq!(sp.put(&url, b"0123456789").await, 200);
    let (status, committed) = sp
        .post("/files/commit", json!({"uploadKey": key, "name": "digits.txt", "parentId": "0"}))
        .await;
    assert_eq!(status, 200, "{committed}");
    let file = &committed["dentry"];
    assert_eq!((file["size"].as_i64(), file["type"].as_str()), (Some(10), Some("FILE")));
    let id = file["id"].as_str().unwrap();
    let (_, space) = s
        .call(
            "GET",
            &format!("/v1.0/storage/spaces/{}?unionId={}", sp.id, sp.t.union_id),
            Some(&sp.t.token),
            None,
        )
        .await;
    assert_eq!(space["space"]["usedQuota"], 10);

    let (status, info) = sp.post(&format!("/dentries/{id}/downloadInfos/query"), json!({})).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["protocol"], "HEADER_SIGNATURE");
    let get = info["headerSignatureInfo"]["resourceUrls"][0].as_str().unwrap();
    let full = s.http.get(get).send().await.unwrap();
    assert_eq!(full.headers()["content-length"], "10");
    assert_eq!(full.bytes().await.unwrap().as_ref(), b"0123456789");
    let part = s.http.get(get).header("range", "bytes=2-4").send().await.unwrap();
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 2-4/10");
    assert_eq!(part.bytes().await.unwrap().as_ref(), b"234");
    let beyond = s.http.get(get).header("range", "bytes=10-").send().await.unwrap();
    assert_eq!(beyond.headers()["content-range"], "bytes */10");
    assert_error(&error_reply(beyond).await, 416, "paramError.range");

    // The download URL is refused for PUT, and with a changed byte.
    let put = s.http.put(get).body("x").send().await.unwrap();
    assert_error(&error_reply(put).await, 403, "signatureMismatch");
    let forged = get.replace("signature=", "signature=00");
    let refused = s.http.get(&forged).send().await.unwrap();
    assert_error(&error_reply(refused).await, 403, "signatureMismatch");
    s.stop().await;
}

#[tokio::test]
async fn put_beyond_the_quota_is_cut_off_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, Some(4)).await;
    let (key, url) = sp.upload_url().await;
    let refused = s.http.put(&url).body(&b"12345"[..]).send().await.unwrap();
    assert_error(&error_reply(refused).await, 413, "paramError.size");
    assert_eq!(stored_objects(dir.path()), Vec::<String>::new());
    let (status, reply) =
        sp.post("/files/commit", json!({"uploadKey": key, "name": "x", "parentId": "0"})).await;
    assert_eq!((status, reply["code"].as_str()), (400, Some("paramError.uploadKey")));
    s.stop().await;
}

#[tokio::test]
async fn wrong_json_types_in_file_operations_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    let cases = [
        ("/files/commit", json!({"uploadKey": 5}), "paramError.uploadKey"),
        (
            "/files/commit",
            json!({"uploadKey": "k", "name": "a", "parentId": "0", "option": {"size": "big"}}),
            "paramError.size",
        ),
        ("/files/uploadInfos/query", json!({"protocol": "FTP"}), "paramError.protocol"),
        (
            "/files/uploadInfos/query",
            json!({"protocol": "HEADER_SIGNATURE", "option": {"preCheckParam": {"size": -1}}}),
            "paramError.size",
        ),
        (
            "/files/uploadInfos/query",
            json!({"protocol": "HEADER_SIGNATURE", "option": {"storageDriver": "S3"}}),
            "paramError.storageDriver",
        ),
        ("/dentries/0/folders", json!({"name": ["a"]}), "paramError.name"),
        ("/dentries/query", json!({"dentryIds": "1"}), "paramError.dentryIds"),
        ("/dentries/listAll", json!({"option": {"maxResults": "x"}}), "paramError.maxResults"),
    ];
    for (path, body, code) in cases {
        let reply = sp.post(path, body.clone()).await;
        assert_eq!(reply.1["code"], code, "{path} {body} -> {}", reply.1);
        assert_error(&reply, 400, code);
    }
    s.stop().await;
}
