//! SQLite store: the invariants the schema holds by itself.

use std::collections::HashSet;

use orgdrive_sqlite::{SqliteOptions, SqliteStore};
use orgdrive_store::*;

async fn store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("meta.sqlite"), &SqliteOptions::default()).await.unwrap()
}

async fn org_and_app(s: &SqliteStore) {
    s.insert_org(&OrgRecord {
        corp_id: "c".into(),
        name: "o".into(),
        capacity: None,
        created_at: 1,
        modified_at: 1,
    })
    .await
    .unwrap();
    s.insert_app(&AppRecord {
        app_id: "a".into(),
        corp_id: "c".into(),
        name: "app".into(),
        app_key: "k".into(),
        secret_salt: "s".into(),
        secret_hash: "h".into(),
        scopes: vec!["Storage.Space.Write".into(), "Storage.Space.Read".into()],
        created_at: 1,
        modified_at: 1,
    })
    .await
    .unwrap();
}

fn space(id: &str, scene_id: &str) -> SpaceRecord {
    SpaceRecord {
        space_id: id.into(),
        corp_id: "c".into(),
        app_id: "a".into(),
        scene: "default".into(),
        scene_id: scene_id.into(),
        name: Some(format!("space {id}")),
        owner_type: "USER".into(),
        owner_id: "u".into(),
        creator_id: "u".into(),
        modifier_id: "u".into(),
        quota: None,
        used_bytes: 0,
        status: "NORMAL".into(),
        can_search: false,
        can_rename: false,
        can_record_recent_file: false,
        created_at: 1,
        modified_at: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_space_inserts_from_two_connections_store_one_space() {
    let dir = tempfile::tempdir().unwrap();
    let first = store(&dir).await;
    org_and_app(&first).await;
    // A second store on the same file: two writers, as with two processes.
    let second = store(&dir).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            s.insert_space_once(&space(&i.to_string(), "0")).await.unwrap()
        }));
    }
    let mut ids = HashSet::new();
    let mut created = 0;
    for task in tasks {
        let (stored, new) = task.await.unwrap();
        ids.insert(stored.space_id);
        created += usize::from(new);
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(created, 1);
}

#[tokio::test]
async fn keys_and_references_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    org_and_app(&s).await;
    let user = UserRecord {
        union_id: "u".into(),
        corp_id: "c".into(),
        user_id: "1".into(),
        name: "Ann".into(),
        org_admin: false,
        created_at: 1,
    };
    s.insert_user(&user).await.unwrap();
    assert!(matches!(s.insert_user(&user).await, Err(StoreError::Duplicate { .. })));
    let stray = UserRecord { union_id: "v".into(), corp_id: "nope".into(), ..user.clone() };
    assert!(matches!(s.insert_user(&stray).await, Err(StoreError::NotFound)));
    s.insert_space_once(&space("1", "0")).await.unwrap();
    assert!(matches!(s.delete_app("c", "a").await, Err(StoreError::InUse)));
    assert!(matches!(s.delete_org("c").await, Err(StoreError::InUse)));
    // The failed delete left everything in place.
    assert!(s.get_user("c", "u").await.unwrap().is_some());
    assert!(s.get_app_by_key("k").await.unwrap().is_some());
    assert_eq!(s.org_used_bytes("c").await.unwrap(), 0);
}

fn file(id: &str, name: &str, size: i64) -> DentryRecord {
    DentryRecord {
        dentry_id: id.into(),
        uuid: format!("u{id}"),
        space_id: "1".into(),
        parent_id: "0".into(),
        kind: "FILE".into(),
        name: name.into(),
        size,
        version: 1,
        status: "NORMAL".into(),
        blob_key: Some(format!("objects/{id}")),
        creator_id: "u".into(),
        modifier_id: "u".into(),
        created_at: 1,
        modified_at: 1,
        app_properties: Vec::new(),
    }
}

fn put(dentry: DentryRecord, conflict: NameConflict, upload_key: Option<&str>) -> PutDentry {
    PutDentry {
        dentry,
        corp_id: "c".into(),
        conflict,
        upload_key: upload_key.map(str::to_string),
        upload_objects: Vec::new(),
        app_properties: Vec::new(),
    }
}

const LIMITS: OpenUploadLimits = OpenUploadLimits { per_space: 100, per_app: 100 };

fn part(n: i64, size: i64, object: &str) -> UploadPartRecord {
    UploadPartRecord { part_number: n, size, md5: None, object_key: object.into() }
}

/// (committed, reserved) bytes of space "1" and of org "c", read straight from the tables.
async fn counters(s: &SqliteStore, dir: &tempfile::TempDir) -> (i64, i64, i64, i64) {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let db = rusqlite::Connection::open_with_flags(dir.path().join("meta.sqlite"), flags).unwrap();
    let pair = |sql: &str| db.query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    let space: (i64, i64) =
        pair("SELECT used_bytes, reserved_bytes FROM spaces WHERE space_id = '1'");
    let org: (i64, i64) = pair("SELECT used_bytes, reserved_bytes FROM orgs WHERE corp_id = 'c'");
    let _ = s;
    (space.0, space.1, org.0, org.1)
}

async fn space_with_quota(s: &SqliteStore, quota: Option<i64>) {
    org_and_app(s).await;
    s.insert_space_once(&SpaceRecord { quota, ..space("1", "0") }).await.unwrap();
}

fn upload(key: &str) -> UploadRecord {
    UploadRecord {
        upload_key: key.into(),
        space_id: "1".into(),
        app_id: "a".into(),
        union_id: "u".into(),
        multipart: false,
        check_name: None,
        check_parent_id: None,
        check_size: None,
        check_md5: None,
        max_bytes: None,
        created_at: 1,
        expires_at: 10,
    }
}

#[tokio::test]
async fn conflict_rules_are_applied_inside_the_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    space_with_quota(&s, None).await;
    let rename = || NameConflict::AutoRename { prefix: "a(".into(), suffix: ").txt".into() };
    assert!(matches!(s.put_dentry(&put(file("1", "a.txt", 3), rename(), None)).await.unwrap(),
        PutOutcome::Created(d) if d.name == "a.txt"));
    for (id, expected) in [("2", "a(1).txt"), ("3", "a(2).txt")] {
        let outcome = s.put_dentry(&put(file(id, "a.txt", 3), rename(), None)).await.unwrap();
        assert!(matches!(outcome, PutOutcome::Created(d) if d.name == expected));
    }
    let existing =
        s.put_dentry(&put(file("4", "a.txt", 5), NameConflict::ReturnExisting, None)).await;
    assert!(matches!(existing.unwrap(), PutOutcome::Existing(d) if d.dentry_id == "1"));
    let taken = s.put_dentry(&put(file("5", "a.txt", 5), NameConflict::Fail, None)).await;
    assert!(matches!(taken, Err(StoreError::NameTaken(d)) if d.dentry_id == "1"));
    let over = s.put_dentry(&put(file("6", "a.txt", 7), NameConflict::Overwrite, None)).await;
    assert!(matches!(over.unwrap(), PutOutcome::Overwritten(d)
        if d.dentry_id == "1" && d.version == 2 && d.size == 7 && d.blob_key.as_deref() == Some("objects/6")));
    let old = s.get_version("1", 1).await.unwrap().unwrap();
    assert_eq!((old.size, old.blob_key.as_str()), (3, "objects/1"));
    // Charged: 3 + 3 + 3 (three files) + 7 (new version); nothing for Existing or Fail.
    assert_eq!(s.get_space("1").await.unwrap().unwrap().used_bytes, 16);
    assert_eq!(s.org_used_bytes("c").await.unwrap(), 16);
    let orphan = DentryRecord { parent_id: "999".into(), ..file("7", "b.txt", 1) };
    assert!(matches!(
        s.put_dentry(&put(orphan, NameConflict::Fail, None)).await,
        Err(StoreError::ParentNotFound)
    ));
}

#[tokio::test]
async fn a_refused_commit_changes_nothing_and_keeps_its_upload() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    space_with_quota(&s, Some(10)).await;
    s.insert_upload_with_defaults(&upload("k1")).await.unwrap();
    s.insert_upload_with_defaults(&upload("k2")).await.unwrap();
    s.put_dentry(&put(file("1", "a", 8), NameConflict::Fail, Some("k1"))).await.unwrap();
    let over = s.put_dentry(&put(file("2", "b", 3), NameConflict::Fail, Some("k2"))).await;
    assert!(matches!(over, Err(StoreError::QuotaExceeded { space: true })));
    assert!(s.get_upload("k2").await.unwrap().is_some(), "the upload survives a refused commit");
    assert!(s.get_dentry("1", "2").await.unwrap().is_none());
    assert_eq!(s.get_space("1").await.unwrap().unwrap().used_bytes, 8);
    // A consumed upload cannot be committed twice.
    let again = s.put_dentry(&put(file("3", "c", 1), NameConflict::Fail, Some("k1"))).await;
    assert!(matches!(again, Err(StoreError::UploadNotFound)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_commits_from_two_connections_never_pass_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let first = store(&dir).await;
    space_with_quota(&first, Some(1000)).await;
    let second = store(&dir).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            let key = format!("k{i}");
            s.insert_upload_with_defaults(&upload(&key)).await.unwrap();
            s.put_dentry(&put(
                file(&i.to_string(), &format!("f{i}"), 300),
                NameConflict::Fail,
                Some(&key),
            ))
            .await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::QuotaExceeded { .. }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(first.get_space("1").await.unwrap().unwrap().used_bytes, 900);
}

#[tokio::test]
async fn expired_uploads_are_taken_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    space_with_quota(&s, None).await;
    s.insert_upload_with_defaults(&upload("old")).await.unwrap();
    s.insert_upload_with_defaults(&UploadRecord { expires_at: 100, ..upload("new") })
        .await
        .unwrap();
    s.reserve_upload_bytes("old", 0, Reserve::Exactly(3), 5).await.unwrap();
    let recorded = s.record_upload_part("old", &part(0, 3, "objects/o1"), 3).await.unwrap();
    assert_eq!(recorded, PartRecorded::Recorded { replaced: None });
    let taken = s.take_expired_uploads(50, 10).await.unwrap();
    assert_eq!(
        taken,
        vec![ExpiredUpload { upload_key: "old".into(), objects: vec!["objects/o1".into()] }]
    );
    assert!(s.take_expired_uploads(50, 10).await.unwrap().is_empty());
    assert_eq!(
        s.record_upload_part("old", &part(0, 3, "objects/o2"), 3).await.unwrap(),
        PartRecorded::UploadGone,
        "parts of a swept upload are refused"
    );
    assert_eq!(counters(&s, &dir).await, (0, 0, 0, 0), "the sweep released the reservation");
    assert!(s.get_upload("new").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_does_not_fail_the_others_of_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    org_and_app(&s).await;
    let user = |i: usize| UserRecord {
        union_id: format!("u{i}"),
        corp_id: "c".into(),
        // Every odd user reuses user 0's userId: a unique-key violation.
        user_id: if i % 2 == 1 { "0".into() } else { i.to_string() },
        name: "n".into(),
        org_admin: false,
        created_at: 1,
    };
    s.insert_user(&user(0)).await.unwrap();
    let tasks: Vec<_> = (1..64)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.insert_user(&user(i)).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Duplicate { .. }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 31);
    assert_eq!(s.list_users("c").await.unwrap().len(), 32);
    // The store still writes after the failures.
    s.insert_user(&UserRecord { union_id: "last".into(), user_id: "last".into(), ..user(0) })
        .await
        .unwrap();
}

#[tokio::test]
async fn writes_after_close_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    org_and_app(&s).await;
    s.close().await;
    let err = s.purge_expired_tokens(0).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)));
    // The data written before close is there when the file is opened again.
    let again = store(&dir).await;
    assert!(again.get_app_by_key("k").await.unwrap().is_some());
}

trait InsertWithDefaults {
    async fn insert_upload_with_defaults(&self, upload: &UploadRecord) -> StoreResult<()>;
}

impl InsertWithDefaults for SqliteStore {
    async fn insert_upload_with_defaults(&self, upload: &UploadRecord) -> StoreResult<()> {
        self.insert_upload(upload, &LIMITS).await
    }
}

#[tokio::test]
async fn pending_bytes_are_reserved_against_quota_and_released_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    space_with_quota(&s, Some(100)).await;
    s.insert_upload(&upload("k1"), &LIMITS).await.unwrap();
    s.insert_upload(&upload("k2"), &LIMITS).await.unwrap();
    // An in-flight PUT holds its bytes: another may not pass the quota meanwhile.
    s.reserve_upload_bytes("k1", 0, Reserve::Exactly(60), 5).await.unwrap();
    assert_eq!(counters(&s, &dir).await, (0, 60, 0, 60));
    assert!(matches!(
        s.reserve_upload_bytes("k2", 0, Reserve::Exactly(41), 5).await,
        Err(StoreError::QuotaExceeded { space: true })
    ));
    s.reserve_upload_bytes("k2", 0, Reserve::Exactly(40), 5).await.unwrap();
    // A failed PUT gives its reservation back; a recorded one keeps its size only.
    s.release_upload_bytes("k2", 40).await.unwrap();
    let recorded = s.record_upload_part("k1", &part(0, 50, "objects/a"), 60).await.unwrap();
    assert_eq!(recorded, PartRecorded::Recorded { replaced: None });
    assert_eq!(counters(&s, &dir).await, (0, 50, 0, 50));
    // A re-upload of the part replaces it: its old bytes are released.
    s.reserve_upload_bytes("k1", 0, Reserve::Exactly(30), 5).await.unwrap();
    let recorded = s.record_upload_part("k1", &part(0, 30, "objects/b"), 30).await.unwrap();
    assert_eq!(recorded, PartRecorded::Recorded { replaced: Some("objects/a".into()) });
    assert_eq!(counters(&s, &dir).await, (0, 30, 0, 30));
    // The commit turns the reservation into committed bytes, in one transaction.
    let mut commit = put(file("1", "a", 30), NameConflict::Fail, Some("k1"));
    commit.upload_objects = vec!["objects/b".into()];
    s.put_dentry(&commit).await.unwrap();
    assert_eq!(counters(&s, &dir).await, (30, 0, 30, 0));
    // Releasing for an upload that is gone changes nothing.
    s.release_upload_bytes("k1", 30).await.unwrap();
    assert_eq!(counters(&s, &dir).await, (30, 0, 30, 0));
    // Expired or unknown uploads reserve nothing.
    assert!(matches!(
        s.reserve_upload_bytes("k2", 0, Reserve::Exactly(1), 11).await,
        Err(StoreError::UploadNotFound)
    ));
    assert!(matches!(
        s.reserve_upload_bytes("nope", 0, Reserve::Exactly(1), 5).await,
        Err(StoreError::UploadNotFound)
    ));
}

#[tokio::test]
async fn parts_together_may_not_exceed_the_announced_size() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    space_with_quota(&s, None).await;
    let announced = UploadRecord { multipart: true, max_bytes: Some(10), ..upload("m") };
    s.insert_upload(&announced, &LIMITS).await.unwrap();
    s.reserve_upload_bytes("m", 1, Reserve::Exactly(6), 5).await.unwrap();
    s.record_upload_part("m", &part(1, 6, "parts/m/1-a"), 6).await.unwrap();
    assert!(matches!(
        s.reserve_upload_bytes("m", 2, Reserve::Exactly(5), 5).await,
        Err(StoreError::UploadTooLarge)
    ));
    s.reserve_upload_bytes("m", 2, Reserve::Exactly(4), 5).await.unwrap();
    // Re-uploading part 1 does not count its old bytes twice.
    // (4 in flight + 7 > 10; its recorded 6 are not counted, 6 would fit.)
    assert!(matches!(
        s.reserve_upload_bytes("m", 1, Reserve::Exactly(7), 5).await,
        Err(StoreError::UploadTooLarge)
    ));
    s.reserve_upload_bytes("m", 1, Reserve::Exactly(6), 5).await.unwrap();
    s.release_upload_bytes("m", 6).await.unwrap();
    s.record_upload_part("m", &part(2, 4, "parts/m/2-a"), 4).await.unwrap();
    assert_eq!(counters(&s, &dir).await, (0, 10, 0, 10));
}

#[tokio::test]
async fn a_commit_fails_when_a_part_was_replaced_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    space_with_quota(&s, None).await;
    s.insert_upload(&upload("k"), &LIMITS).await.unwrap();
    s.reserve_upload_bytes("k", 0, Reserve::Exactly(3), 5).await.unwrap();
    s.record_upload_part("k", &part(0, 3, "objects/first"), 3).await.unwrap();
    s.reserve_upload_bytes("k", 0, Reserve::Exactly(9), 5).await.unwrap();
    s.record_upload_part("k", &part(0, 9, "objects/second"), 9).await.unwrap();
    // The commit read the first recording; the second replaced it.
    let mut stale = put(file("1", "a", 3), NameConflict::Fail, Some("k"));
    stale.upload_objects = vec!["objects/first".into()];
    assert!(matches!(s.put_dentry(&stale).await, Err(StoreError::UploadChanged)));
    assert!(s.get_upload("k").await.unwrap().is_some(), "the upload stays committable");
    assert!(s.get_dentry("1", "1").await.unwrap().is_none());
    assert_eq!(counters(&s, &dir).await, (0, 9, 0, 9));
}

#[tokio::test]
async fn open_uploads_are_capped_per_space_and_per_app() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    space_with_quota(&s, None).await;
    s.insert_space_once(&space("2", "1")).await.unwrap();
    let limits = OpenUploadLimits { per_space: 2, per_app: 3 };
    s.insert_upload(&upload("a"), &limits).await.unwrap();
    s.insert_upload(&upload("b"), &limits).await.unwrap();
    assert!(matches!(
        s.insert_upload(&upload("c"), &limits).await,
        Err(StoreError::TooManyUploads { per_space: true })
    ));
    let elsewhere = |key: &str| UploadRecord { space_id: "2".into(), ..upload(key) };
    s.insert_upload(&elsewhere("d"), &limits).await.unwrap();
    assert!(matches!(
        s.insert_upload(&elsewhere("e"), &limits).await,
        Err(StoreError::TooManyUploads { per_space: false })
    ));
}

#[tokio::test]
async fn a_put_without_a_length_reserves_what_there_is_room_for() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    space_with_quota(&s, Some(100)).await;
    let announced = UploadRecord { multipart: true, max_bytes: Some(20), ..upload("m") };
    s.insert_upload(&announced, &LIMITS).await.unwrap();
    s.insert_upload(&upload("k"), &LIMITS).await.unwrap();
    // Under the announced size: 10 recorded, so at most 10 more.
    s.reserve_upload_bytes("m", 1, Reserve::Exactly(10), 5).await.unwrap();
    s.record_upload_part("m", &part(1, 10, "parts/m/1-a"), 10).await.unwrap();
    assert_eq!(s.reserve_upload_bytes("m", 2, Reserve::AtMost(64), 5).await.unwrap(), 10);
    assert!(matches!(
        s.reserve_upload_bytes("m", 3, Reserve::AtMost(64), 5).await,
        Err(StoreError::UploadTooLarge)
    ));
    // Under the quota, counting what others hold: 100 - 20 reserved.
    assert_eq!(s.reserve_upload_bytes("k", 0, Reserve::AtMost(1000), 5).await.unwrap(), 80);
    assert!(matches!(
        s.reserve_upload_bytes("k", 0, Reserve::AtMost(1), 5).await,
        Err(StoreError::QuotaExceeded { space: true })
    ));
    assert_eq!(counters(&s, &dir).await, (0, 100, 0, 100));
    // A restart drops what PUTs in flight held, keeping recorded parts.
    assert_eq!(s.reset_reservations().await.unwrap(), 4);
    assert_eq!(counters(&s, &dir).await, (0, 10, 0, 10));
}
