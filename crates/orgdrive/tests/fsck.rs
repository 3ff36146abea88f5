//! `orgdrive fsck`: a clean data dir passes; missing content, stray objects
//! and wrong counters are found; `--repair` fixes what is safe to fix.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime};

use common::*;

fn fsck(dir: &std::path::Path, repair: bool) -> (i32, String) {
    fsck_with(dir, repair, &[])
}

fn fsck_with(dir: &std::path::Path, repair: bool, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orgdrive"));
    command.arg("fsck").arg("--data-dir").arg(dir).args(args);
    if repair {
        command.arg("--repair");
    }
    let out = command.output().unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn fsck_finds_and_repairs_inconsistencies() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    // Streamed: their contents are files on disk (small ones kept inline
    // are judged by `fsck_judges_objects_kept_inline`).
    let kept = sp.upload_streamed("kept.txt", b"kept").await;
    let lost = sp.upload_streamed("lost.txt", b"lost!").await;
    let (space_id, tenant) = (sp.id, sp.t);
    s.stop().await;

    let (code, out) = fsck(dir.path(), false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("checked 2 dentries and 2 objects: 0 problems, 0 repaired"), "{out}");

    // Lose one file's content, leave a stray object behind, break a counter.
    let objects = dir.path().join("blobs/objects");
    let lost_key = find_object(&objects, 5);
    std::fs::remove_file(objects.join(&lost_key)).unwrap();
    let stray = objects.join("StrayObject");
    std::fs::write(&stray, b"nobody's").unwrap();
    let old = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&stray).unwrap().set_modified(old).unwrap();
    let young = objects.join("YoungObject");
    std::fs::write(&young, b"maybe an upload in flight").unwrap();
    let db = rusqlite::Connection::open(dir.path().join("meta.sqlite")).unwrap();
    db.execute_batch(
        "UPDATE spaces SET used_bytes = 12345; \
         UPDATE orgs SET used_bytes = 1 WHERE used_bytes = 9; \
         UPDATE spaces SET reserved_bytes = 7; \
         UPDATE spaces SET versions_bytes = 3;",
    )
    .unwrap();
    drop(db);

    let (code, out) = fsck(dir.path(), false);
    assert_eq!(code, 1, "{out}");
    let lost_id = lost["id"].as_str().unwrap();
    assert!(
        out.contains(&format!("dentry {lost_id}: content objects/{lost_key} is missing")),
        "{out}"
    );
    assert!(out.contains("object objects/StrayObject (8 bytes) is referenced by nothing"), "{out}");
    assert!(!out.contains("YoungObject"), "recent objects may belong to uploads in flight: {out}");
    assert!(out.contains("usedQuota 12345, content adds up to 9"), "{out}");
    assert!(out.contains("used 1, its spaces add up to 9"), "{out}");
    assert!(
        out.contains(&format!("space {space_id}: 7 bytes reserved, its uploads hold 0")),
        "{out}"
    );
    assert!(
        out.contains("7 bytes reserved, its spaces hold 7")
            || out.contains(": 0 bytes reserved, its spaces hold 7"),
        "{out}"
    );
    assert!(
        out.contains(&format!("space {space_id}: versions counter 3, kept versions add up to 0")),
        "{out}"
    );
    assert!(out.contains("objects: 7 problems, 0 repaired"), "{out}");
    // With no grace period, the young object is judged too.
    let (_, out) = fsck_with(dir.path(), false, &["--grace", "0"]);
    assert!(out.contains("object objects/YoungObject"), "{out}");

    let (code, out) = fsck(dir.path(), true);
    assert_eq!(code, 1, "missing content cannot be repaired: {out}");
    assert!(out.contains("referenced by nothing [repaired]"), "{out}");
    assert!(out.contains("content adds up to 9 [repaired]"), "{out}");
    assert!(out.contains("its spaces add up to 9 [repaired]"), "{out}");
    assert!(out.contains("kept versions add up to 0 [repaired]"), "{out}");
    assert!(!stray.exists() && young.exists());
    let (code, out) = fsck(dir.path(), false);
    assert_eq!(code, 1);
    assert!(out.contains("objects: 1 problems, 0 repaired") && out.contains("is missing"), "{out}");

    // The server agrees with the repaired counter.
    let s = TestServer::start(dir.path()).await;
    let path = format!("/v1.0/storage/spaces/{space_id}?unionId={}", tenant.union_id);
    let (_, space) = s.call("GET", &path, Some(&tenant.token), None).await;
    assert_eq!(space["space"]["usedQuota"], 9);
    let kept_after = Space { s: &s, t: tenant, id: space_id };
    assert_eq!(kept_after.download(kept["id"].as_str().unwrap()).await, b"kept");
    s.stop().await;
}

/// The name of the object of `size` bytes under `dir`.
fn find_object(dir: &std::path::Path, size: u64) -> String {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.metadata().unwrap().len() == size)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .unwrap()
}

/// `n` as the 8 base-62 digits that start a time-ordered object name.
fn base62_time(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut digits = [b'0'; 8];
    for d in digits.iter_mut().rev() {
        *d = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(digits.to_vec()).unwrap()
}

#[tokio::test]
async fn fsck_judges_objects_kept_inline() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let sp = Space::new(&s, None).await;
    sp.upload("kept.txt", b"kept").await;
    sp.upload("lost.txt", b"lost!").await;
    s.stop().await;
    let (code, out) = fsck(dir.path(), false);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("checked 2 dentries and 2 objects: 0 problems"), "{out}");
    assert!(files_under(&dir.path().join("blobs/objects")).is_empty(), "both are kept inline");

    let db = rusqlite::Connection::open(dir.path().join("meta.sqlite")).unwrap();
    let lost_key: String = db
        .query_row("SELECT blob_key FROM dentries WHERE name = 'lost.txt'", [], |r| r.get(0))
        .unwrap();
    assert!(lost_key.starts_with("inline/"), "{lost_key}");
    db.execute("DELETE FROM inline_objects WHERE object_key = ?1", [&lost_key]).unwrap();
    // An hour old, and one of now (an upload in flight may own it).
    let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis();
    let stray = format!("inline/{}StrayObject", base62_time(now_ms as u64 - 3_600_000));
    let young = format!("inline/{}YoungObject", base62_time(now_ms as u64));
    for key in [&stray, &young] {
        db.execute("INSERT INTO inline_objects VALUES (?1, x'6e6f626f6479')", [key]).unwrap();
    }
    drop(db);

    let (code, out) = fsck(dir.path(), false);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("content {lost_key} is missing")), "{out}");
    assert!(out.contains(&format!("object {stray} (6 bytes) is referenced by nothing")), "{out}");
    assert!(!out.contains("YoungObject"), "{out}");
    let (_, out) = fsck(dir.path(), true);
    assert!(out.contains("referenced by nothing [repaired]"), "{out}");
    let db = rusqlite::Connection::open(dir.path().join("meta.sqlite")).unwrap();
    let left: Vec<String> = db
        .prepare("SELECT object_key FROM inline_objects ORDER BY object_key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.contains(&stray) && left.contains(&young), "{left:?}");
}
