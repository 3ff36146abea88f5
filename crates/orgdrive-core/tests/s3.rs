//! The upload flow on an S3 bucket (the server of `scripts/s3.sh`): uploads
//! PUT to the bucket's presigned URLs, commits by server-side copy, and the
//! sweeper removing what expired uploads and late PUTs left under
//! `uploads/`. Run with
//! `eval "$(bash scripts/s3.sh)" && cargo test -p orgdrive-core --test s3`;
//! without that environment it fails, naming the script. One test only: it
//! moves the process's clock.

mod common;

use std::time::Duration;

use common::*;

fn s3_store() -> BlobStore {
    BlobStore::s3(&test_s3_location("core-tests")).unwrap()
}

async fn uploads(drive: &Drive) -> Vec<String> {
    drive.blob().list("uploads/").await.unwrap().into_iter().map(|o| o.key).collect()
}

fn upload_request() -> UploadRequest {
    UploadRequest { protocol: Some("HEADER_SIGNATURE".into()), ..UploadRequest::default() }
}

#[tokio::test]
async fn presigned_uploads_commit_by_copy_and_strays_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let meta = SqliteStore::open(&dir.path().join("meta.sqlite"), &SqliteOptions::default())
        .await
        .unwrap();
    let mut options = options();
    options.allow_clock_control = true;
    let drive = Drive::new(Arc::new(meta), s3_store(), options).await.unwrap();
    let w = world_over(drive, dir, None, &Scope::ALL).await;
    let space = space(&w, None).await;

    let ticket = w.drive.get_file_upload_info(&w.op, &space, upload_request(), BASE).await.unwrap();
    assert!(!ticket.url.url.starts_with(BASE), "a URL of the bucket: {}", ticket.url.url);
    // The console's policy lets its script PUT there: the bucket's origin.
    let origin = w.drive.upload_origin().await.expect("a presigning store has one");
    assert!(ticket.url.url.starts_with(&format!("{origin}/")), "{origin} {}", ticket.url.url);
    assert_eq!(origin.matches('/').count(), 2, "scheme and authority only: {origin}");
    let commit = CommitRequest {
        upload_key: Some(ticket.upload_key.clone()),
        name: Some("a.txt".into()),
        parent_id: Some("0".into()),
        ..CommitRequest::default()
    };
    // Nothing PUT yet: the commit's HEAD finds no object.
    let early = w.drive.commit_file(&w.op, &space, commit.clone()).await.unwrap_err();
    assert!(early.to_string().contains("nothing has been uploaded"), "{early}");
    assert_eq!(put_signed(&ticket.url, b"first").await, 200);
    let file = w.drive.commit_file(&w.op, &space, commit).await.unwrap();
    assert_eq!(file.dentry.size, 5);
    assert!(uploads(&w.drive).await.is_empty(), "the commit removes the upload's objects");

    // A PUT after the commit lands in the bucket, outside the file.
    assert_eq!(put_signed(&ticket.url, b"late!!").await, 200);
    // An upload that is never committed.
    let abandoned =
        w.drive.get_file_upload_info(&w.op, &space, upload_request(), BASE).await.unwrap();
    assert_eq!(put_signed(&abandoned.url, b"abandoned").await, 200);
    assert_eq!(uploads(&w.drive).await.len(), 2);
    // What a node stopped in the middle of its start-up probe left.
    let probe = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"p"))]);
    w.drive.blob().write_stream("probes/1-2/source", probe, None, false).await.unwrap();
    let probes = || async { w.drive.blob().list("probes/").await.unwrap().len() };

    // Young objects are kept: a URL could still be writing them.
    w.drive.sweep(std::time::Duration::from_secs(1)).await.unwrap();
    assert_eq!(uploads(&w.drive).await.len(), 2);
    assert_eq!(probes().await, 1, "a probe may be under way");
    // Past the upload lifetime, the URL lifetime and the grace: both go.
    w.drive.advance_clock(25 * 3600).unwrap(); // the upload lifetime is 24 h
    w.drive.sweep(std::time::Duration::from_secs(1)).await.unwrap();
    assert!(uploads(&w.drive).await.is_empty(), "{:?}", uploads(&w.drive).await);
    assert_eq!(probes().await, 0, "a probe's leftovers");

    // The file kept its bytes; its download is the bucket's presigned GET.
    let url =
        w.drive.download_info(&w.op, &space, &file.dentry.dentry_id, None, BASE).await.unwrap();
    assert!(!url.url.starts_with(BASE));
    let got =
        reqwest::Client::new().get(&url.url).timeout(Duration::from_secs(30)).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"first");
}
