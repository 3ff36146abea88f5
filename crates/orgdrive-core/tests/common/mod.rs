//! What the domain tests share: a [`Drive`] over a SQLite metadata store
//! (in a temp dir) and an in-memory content store, a world with an org, an
//! app, a user and its operator, and the three-step upload and download.

#![allow(dead_code, unused_imports)]

pub use std::sync::Arc;

pub use bytes::Bytes;
pub use futures::TryStreamExt;
pub use orgdrive_core::{
    BlobStore, CommitRequest, CreatedApp, DentryView, Drive, DriveError, DriveOptions,
    ListChildren, NewApp, NewFolder, NewOrg, NewSpace, NewUser, Operator, PreCheck, PropertyFilter,
    Scope, SignedUrl, UploadRequest, UserRecord, ACCESS_TOKEN_TTL_SECS, MIN_PART_BYTES,
};
pub use orgdrive_sqlite::{SqliteOptions, SqliteStore};
pub use tempfile::TempDir;

pub const BASE: &str = "http://drive.test";
pub const SIGNING_KEY: &[u8] = b"domain-test-signing-key-of-32-bytes";
pub const SECRET: &str = "a-secret-of-at-least-16-chars";

pub fn options() -> DriveOptions {
    let mut options = DriveOptions::new(SIGNING_KEY);
    options.min_free_disk_bytes = 0;
    options
}

/// A drive over a fresh SQLite file and an in-memory blob store.
pub async fn drive_with(options: DriveOptions) -> (Drive, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (drive_on(&dir, options).await, dir)
}

/// Another drive (another node, or a restart) on the metadata in `dir`,
/// with a blob store of its own.
pub async fn drive_on(dir: &TempDir, options: DriveOptions) -> Drive {
    let meta = SqliteStore::open(&dir.path().join("meta.sqlite"), &SqliteOptions::default())
        .await
        .unwrap();
    let blob = BlobStore::memory().unwrap();
    Drive::new(Arc::new(meta), blob, options).await.unwrap()
}

/// An org with an app holding `scopes` and a user, a token and the operator.
pub struct World {
    pub drive: Drive,
    pub dir: TempDir,
    pub corp_id: String,
    pub app: CreatedApp,
    pub user: UserRecord,
    pub token: String,
    pub op: Operator,
}

pub async fn world_with(options: DriveOptions, capacity: Option<i64>, scopes: &[Scope]) -> World {
    let (drive, dir) = drive_with(options).await;
    world_over(drive, dir, capacity, scopes).await
}

/// The world of [`world_with`] over a drive made by the caller.
pub async fn world_over(
    drive: Drive,
    dir: TempDir,
    capacity: Option<i64>,
    scopes: &[Scope],
) -> World {
    let org =
        drive.create_org(NewOrg { name: "Org".into(), capacity, corp_id: None }).await.unwrap();
    let app = drive
        .create_app(
            &org.corp_id,
            NewApp {
                name: "App".into(),
                scopes: scopes.iter().map(|s| s.as_str().to_string()).collect(),
                app_key: Some("app-key".into()),
                app_secret: Some(SECRET.into()),
            },
        )
        .await
        .unwrap();
    let user = drive
        .create_user(
            &org.corp_id,
            NewUser { name: "Ann".into(), union_id: Some("ann".into()), ..NewUser::default() },
        )
        .await
        .unwrap();
    let token = drive.issue_token("app-key", SECRET).await.unwrap().access_token;
    let op = drive.operator(Some(&token), None, Some("ann")).await.unwrap();
    World { drive, dir, corp_id: org.corp_id, app, user, token, op }
}

pub async fn world() -> World {
    world_with(options(), None, &Scope::ALL).await
}

pub async fn space(w: &World, quota: Option<i64>) -> String {
    let input = NewSpace { quota, scene_id: quota.map(|q| format!("q{q}")), ..NewSpace::default() };
    w.drive.add_space(&w.op, input).await.unwrap().space.space_id
}

/// The parts of a signed URL `{BASE}/blob/{path}?expires=…[&name=…]&signature=…`.
pub struct Signed {
    pub path: String,
    pub expires: i64,
    pub name: String,
    pub size: Option<u64>,
    pub signature: String,
}

pub fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&raw[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

pub fn parse(url: &SignedUrl) -> Signed {
    let rest = url.url.strip_prefix(&format!("{BASE}/blob/")).expect("a blob URL");
    let (path, query) = rest.split_once('?').unwrap();
    let mut signed = Signed {
        path: path.into(),
        expires: 0,
        name: String::new(),
        size: None,
        signature: String::new(),
    };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap();
        match key {
            "expires" => signed.expires = value.parse().unwrap(),
            "name" => signed.name = percent_decode(value),
            "size" => signed.size = Some(value.parse().unwrap()),
            "signature" => signed.signature = value.into(),
            other => panic!("unexpected query parameter {other}"),
        }
    }
    signed
}

pub fn body(chunks: &[&[u8]]) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let chunks: Vec<_> = chunks.iter().map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(chunks)
}

/// PUTs `bytes` to the signed URL, announcing their length or not.
pub async fn put_bytes(
    w: &World,
    url: &SignedUrl,
    bytes: &[u8],
    announce: bool,
) -> Result<u64, DriveError> {
    let signed = parse(url);
    let len = announce.then_some(bytes.len() as u64);
    let written = w
        .drive
        .receive_blob(&signed.path, signed.expires, &signed.signature, len, body(&[bytes]))
        .await?;
    Ok(written.size)
}

pub fn single(pre_check: PreCheck) -> UploadRequest {
    UploadRequest {
        protocol: Some("HEADER_SIGNATURE".into()),
        pre_check,
        ..UploadRequest::default()
    }
}

/// GetFileUploadInfo → PUT → CommitFile of `bytes` as `name` at the root.
pub async fn upload(
    w: &World,
    space_id: &str,
    name: &str,
    bytes: &[u8],
    strategy: Option<&str>,
) -> Result<DentryView, DriveError> {
    let ticket = w.drive.get_file_upload_info(&w.op, space_id, single(PreCheck::default()), BASE);
    let ticket = ticket.await?;
    put_bytes(w, &ticket.url, bytes, true).await?;
    let commit = CommitRequest {
        upload_key: Some(ticket.upload_key),
        name: Some(name.into()),
        parent_id: Some("0".into()),
        conflict_strategy: strategy.map(str::to_string),
        ..CommitRequest::default()
    };
    w.drive.commit_file(&w.op, space_id, commit).await
}

/// GetFileDownloadInfo → GET: the file's (or a version's) bytes.
pub async fn download(w: &World, space_id: &str, dentry_id: &str, version: Option<i64>) -> Vec<u8> {
    let url = w.drive.download_info(&w.op, space_id, dentry_id, version, BASE).await.unwrap();
    let signed = parse(&url);
    let object = w
        .drive
        .open_blob(&signed.path, signed.expires, &signed.name, signed.size, &signed.signature)
        .await;
    let object = object.unwrap();
    let read = w.drive.read_object(&object.object_key, 0..object.size, object.size).await;
    match read.unwrap().into_whole() {
        Ok(bytes) => bytes.to_vec(),
        Err(stream) => {
            let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
            chunks.concat()
        }
    }
}

/// How many objects the drive stores, in the content store and inline in
/// the metadata store (what fsck lists).
pub async fn stored_objects(w: &World) -> usize {
    w.drive.fsck(false, 0).await.unwrap().objects
}

pub async fn used(w: &World, space_id: &str) -> i64 {
    w.drive.get_space(&w.op, space_id).await.unwrap().space.used_bytes
}

pub async fn assert_consistent(w: &World) {
    let report = w.drive.fsck(false, 0).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

pub fn param_field(e: &DriveError) -> Option<&str> {
    match e {
        DriveError::InvalidParam { field, .. } => field.as_deref(),
        _ => None,
    }
}

/// The bucket of `scripts/s3.sh` (`ORGDRIVE_TEST_BLOB_URL`), under a key
/// prefix of its own (`/{under}/{pid}-{nanos}/`); fails naming the script
/// when the environment is not there.
pub fn test_s3_location(under: &str) -> orgdrive_blob::S3Location {
    let url = std::env::var("ORGDRIVE_TEST_BLOB_URL").unwrap_or_else(|_| {
        panic!(
            "ORGDRIVE_TEST_BLOB_URL is not set: start the S3 server with \
             eval \"$(bash scripts/s3.sh)\""
        )
    });
    let orgdrive_blob::BlobLocation::S3(mut s3) = url.parse().unwrap() else {
        panic!("ORGDRIVE_TEST_BLOB_URL must be an s3:// URL (scripts/s3.sh prints one)")
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    s3.root = Some(format!("/{under}/{}-{}/", std::process::id(), nanos.as_nanos()));
    s3
}

/// PUTs `body` to a presigned URL with the headers it names: the status.
pub async fn put_signed(url: &SignedUrl, body: impl AsRef<[u8]>) -> u16 {
    let mut request = reqwest::Client::new().put(&url.url).body(body.as_ref().to_vec());
    for (name, value) in &url.headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status().as_u16()
}
