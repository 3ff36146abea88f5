//! SQLite store: the invariants the schema holds by itself.

use std::collections::HashSet;

use orgdrive_meta::*;

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
async fn expired_tokens_are_not_found_and_are_purged() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    org_and_app(&s).await;
    s.insert_token(&TokenRecord {
        token_hash: "live".into(),
        app_id: "a".into(),
        expires_at: 2_000,
    })
    .await
    .unwrap();
    s.insert_token(&TokenRecord {
        token_hash: "old".into(),
        app_id: "a".into(),
        expires_at: 1_000,
    })
    .await
    .unwrap();
    let caller = s.find_caller("live", "nobody", 1_500).await.unwrap().unwrap();
    assert_eq!(caller.app.scopes, vec!["Storage.Space.Write", "Storage.Space.Read"]);
    assert_eq!(caller.token_expires_at, 2_000);
    assert!(caller.user.is_none(), "unknown users are not found");
    assert!(s.find_caller("old", "", 1_500).await.unwrap().is_none());
    assert!(s.find_caller("live", "", 2_000).await.unwrap().is_none(), "expiry is exclusive");
    assert_eq!(s.purge_expired_tokens(1_500).await.unwrap(), 1);
    assert!(s.find_caller("live", "", 1_999).await.unwrap().is_some());
    let ann = UserRecord {
        union_id: "ann".into(),
        corp_id: "c".into(),
        user_id: "1".into(),
        name: "Ann".into(),
        org_admin: true,
        created_at: 1,
    };
    s.insert_user(&ann).await.unwrap();
    let caller = s.find_caller("live", "ann", 1_500).await.unwrap().unwrap();
    assert_eq!(caller.user, Some(ann));
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
    assert!(matches!(s.insert_user(&user).await, Err(MetaError::Duplicate { .. })));
    let stray = UserRecord { union_id: "v".into(), corp_id: "nope".into(), ..user.clone() };
    assert!(matches!(s.insert_user(&stray).await, Err(MetaError::MissingReference)));
    s.insert_space_once(&space("1", "0")).await.unwrap();
    assert!(matches!(s.delete_app("c", "a").await, Err(MetaError::InUse)));
    assert!(matches!(s.delete_org("c").await, Err(MetaError::InUse)));
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
        app_properties: Vec::new(),
    }
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
    assert!(matches!(taken, Err(MetaError::NameTaken(d)) if d.dentry_id == "1"));
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
        Err(MetaError::ParentNotFound)
    ));
}

#[tokio::test]
async fn a_refused_commit_changes_nothing_and_keeps_its_upload() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    space_with_quota(&s, Some(10)).await;
    s.insert_upload(&upload("k1")).await.unwrap();
    s.insert_upload(&upload("k2")).await.unwrap();
    s.put_dentry(&put(file("1", "a", 8), NameConflict::Fail, Some("k1"))).await.unwrap();
    let over = s.put_dentry(&put(file("2", "b", 3), NameConflict::Fail, Some("k2"))).await;
    assert!(matches!(over, Err(MetaError::QuotaExceeded { space: true })));
    assert!(s.get_upload("k2").await.unwrap().is_some(), "the upload survives a refused commit");
    assert!(s.get_dentry("1", "2").await.unwrap().is_none());
    assert_eq!(s.get_space("1").await.unwrap().unwrap().used_bytes, 8);
    // A consumed upload cannot be committed twice.
    let again = s.put_dentry(&put(file("3", "c", 1), NameConflict::Fail, Some("k1"))).await;
    assert!(matches!(again, Err(MetaError::UploadNotFound)));
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
            s.insert_upload(&upload(&key)).await.unwrap();
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
            Err(MetaError::QuotaExceeded { .. }) => {}
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
    s.insert_upload(&upload("old")).await.unwrap();
    s.insert_upload(&UploadRecord { expires_at: 100, ..upload("new") }).await.unwrap();
    let part = UploadPartRecord { part_number: 0, size: 3, md5: None };
    assert!(s.record_upload_part("old", &part).await.unwrap());
    assert_eq!(s.take_expired_uploads(50, 10).await.unwrap(), vec!["old".to_string()]);
    assert!(s.take_expired_uploads(50, 10).await.unwrap().is_empty());
    assert!(
        !s.record_upload_part("old", &part).await.unwrap(),
        "parts of a swept upload are refused"
    );
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
            Err(MetaError::Duplicate { .. }) => {}
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
    assert!(matches!(err, MetaError::Backend(_)));
    // The data written before close is there when the file is opened again.
    let again = store(&dir).await;
    assert!(again.get_app_by_key("k").await.unwrap().is_some());
}
