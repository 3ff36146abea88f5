//! Behaviour of uploads: their reservations against the quota, their parts,
//! their caps, their commit and their sweep.

use std::collections::HashSet;

use super::fixtures::*;
use crate::*;

pub async fn uploads_are_read_back_as_written(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    let announced = UploadRecord {
        multipart: true,
        check_name: Some("名前.txt".into()),
        check_parent_id: Some("0".into()),
        check_size: Some(30),
        check_md5: Some("0123456789abcdef0123456789abcdef".into()),
        max_bytes: Some(30),
        created_at: 3,
        expires_at: 10,
        ..upload("m")
    };
    s.insert_upload(&announced, &LIMITS).await.unwrap();
    assert_eq!(s.get_upload("m").await.unwrap(), Some((announced.clone(), vec![])));
    let taken = s.insert_upload(&upload("m"), &LIMITS).await;
    assert!(matches!(taken, Err(StoreError::Duplicate(Key::UploadKey))), "{taken:?}");
    // A space that is gone (deleted, or its org reset) is `NotFound`.
    let nowhere = UploadRecord { space_id: "nowhere".into(), ..upload("n") };
    let refused = s.insert_upload(&nowhere, &LIMITS).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    // Parts come back by part number, with their MD5 when there is one.
    put_part(s, "m", 2, 10, "parts/m/2-x").await;
    s.reserve_upload_bytes("m", 1, Reserve::Exactly(20), 5).await.unwrap();
    let one = UploadPartRecord { md5: Some("00ff".repeat(8)), ..part(1, 20, "parts/m/1-x") };
    s.record_upload_part("m", &one, 20).await.unwrap();
    let (read, parts) = s.get_upload("m").await.unwrap().unwrap();
    assert_eq!(read, announced);
    assert_eq!(parts, vec![one, part(2, 10, "parts/m/2-x")]);
    assert_eq!(s.get_upload("nope").await.unwrap(), None);
    assert_eq!(s.consistency_scan().await.unwrap().open_uploads, vec!["m".to_string()]);
}

pub async fn a_refused_commit_changes_nothing_and_keeps_its_upload(s: &impl MetaStore) {
    space_with_quota(s, Some(10)).await;
    s.insert_upload(&upload("k1"), &LIMITS).await.unwrap();
    s.insert_upload(&upload("k2"), &LIMITS).await.unwrap();
    s.put_dentry(&put(file("1", "a", 8), NameConflict::Fail, Some("k1"))).await.unwrap();
    let over = s.put_dentry(&put(file("2", "b", 3), NameConflict::Fail, Some("k2"))).await;
    assert!(matches!(over, Err(StoreError::QuotaExceeded { space: true })));
    assert!(s.get_upload("k2").await.unwrap().is_some(), "the upload survives a refused commit");
    assert!(s.get_dentry("1", "2").await.unwrap().is_none());
    assert_eq!(s.get_space("1").await.unwrap().unwrap().used_bytes, 8);
    // A consumed upload cannot be committed twice.
    let again = s.put_dentry(&put(file("3", "c", 1), NameConflict::Fail, Some("k1"))).await;
    assert!(matches!(again, Err(StoreError::UploadNotFound)));
    // Nor can a commit refused by its conflict rule or its parent consume it.
    let taken = s.put_dentry(&put(file("4", "a", 1), NameConflict::Fail, Some("k2"))).await;
    assert!(matches!(taken, Err(StoreError::NameTaken(_))));
    let orphan = DentryRecord { parent_id: "x".into(), ..file("5", "e", 1) };
    let orphan = s.put_dentry(&put(orphan, NameConflict::Fail, Some("k2"))).await;
    assert!(matches!(orphan, Err(StoreError::ParentNotFound)));
    assert!(s.get_upload("k2").await.unwrap().is_some());
    s.put_dentry(&put(file("6", "f", 2), NameConflict::Fail, Some("k2"))).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (10, 0, 10, 0));
}

pub async fn racing_commits_never_pass_the_quota(s: &impl MetaStore) {
    space_with_quota(s, Some(1000)).await;
    let commits: Vec<_> = (0..8)
        .map(|i| async move {
            let key = format!("k{i}");
            s.insert_upload(&upload(&key), &LIMITS).await.unwrap();
            let dentry = file(&i.to_string(), &format!("f{i}"), 300);
            s.put_dentry(&put(dentry, NameConflict::Fail, Some(&key))).await
        })
        .collect();
    let mut ok = 0;
    for result in join_all(commits).await {
        match result {
            Ok(_) => ok += 1,
            Err(StoreError::QuotaExceeded { .. }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(s.get_space("1").await.unwrap().unwrap().used_bytes, 900);
    assert_eq!(counters(s, "1", "c").await, (900, 0, 900, 0));
    // The refused commits kept their uploads.
    assert_eq!(s.consistency_scan().await.unwrap().open_uploads.len(), 5);
}

pub async fn an_upload_is_committed_once(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    s.insert_upload(&upload("k"), &LIMITS).await.unwrap();
    put_part(s, "k", 0, 7, "objects/k").await;
    let commits: Vec<_> = (0..8)
        .map(|i| async move {
            let mut commit =
                put(file(&i.to_string(), &format!("f{i}"), 7), NameConflict::Fail, Some("k"));
            commit.dentry.blob_key = Some("objects/k".into());
            commit.upload_objects = vec!["objects/k".into()];
            s.put_dentry(&commit).await
        })
        .collect();
    let mut ok = 0;
    for result in join_all(commits).await {
        match result {
            Ok(PutOutcome::Created(_)) => ok += 1,
            Err(StoreError::UploadNotFound) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert!(s.get_upload("k").await.unwrap().is_none());
    assert_eq!(counters(s, "1", "c").await, (7, 0, 7, 0));
    assert_eq!(s.list_children("1", "0", SortKey::Name, false, None, 10).await.unwrap().len(), 1);
}

pub async fn expired_uploads_are_taken_once(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    s.insert_upload(&upload("old"), &LIMITS).await.unwrap();
    s.insert_upload(&UploadRecord { expires_at: 100, ..upload("new") }, &LIMITS).await.unwrap();
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
    assert_eq!(counters(s, "1", "c").await, (0, 0, 0, 0), "the sweep released the reservation");
    assert!(s.get_upload("new").await.unwrap().is_some());
    // Only uploads that expired before the time given; at most `limit` at a time.
    assert!(s.take_expired_uploads(100, 10).await.unwrap().is_empty(), "expiry is exclusive");
    let taken = s.take_expired_uploads(101, 10).await.unwrap();
    assert_eq!(taken, vec![ExpiredUpload { upload_key: "new".into(), objects: vec![] }]);
}

pub async fn racing_sweeps_take_each_expired_upload_once(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    for i in 0..12 {
        let key = format!("k{i}");
        s.insert_upload(&upload(&key), &LIMITS).await.unwrap();
        put_part(s, &key, 0, 1, &format!("objects/{key}")).await;
    }
    let sweeps: Vec<_> = (0..4).map(|_| s.take_expired_uploads(50, 5)).collect();
    let mut taken: Vec<String> = Vec::new();
    for result in join_all(sweeps).await {
        let batch = result.unwrap();
        assert!(batch.len() <= 5);
        for upload in batch {
            assert_eq!(upload.objects, vec![format!("objects/{}", upload.upload_key)]);
            taken.push(upload.upload_key);
        }
    }
    taken.extend(s.take_expired_uploads(50, 100).await.unwrap().into_iter().map(|u| u.upload_key));
    let distinct: HashSet<&String> = taken.iter().collect();
    assert_eq!(distinct.len(), taken.len(), "an upload was taken twice: {taken:?}");
    assert_eq!(taken.len(), 12);
    assert_eq!(counters(s, "1", "c").await, (0, 0, 0, 0));
}

pub async fn pending_bytes_are_reserved_against_quota_and_released_exactly(s: &impl MetaStore) {
    space_with_quota(s, Some(100)).await;
    s.insert_upload(&upload("k1"), &LIMITS).await.unwrap();
    s.insert_upload(&upload("k2"), &LIMITS).await.unwrap();
    // An in-flight PUT holds its bytes: another may not pass the quota meanwhile.
    assert_eq!(s.reserve_upload_bytes("k1", 0, Reserve::Exactly(60), 5).await.unwrap(), 60);
    assert_eq!(counters(s, "1", "c").await, (0, 60, 0, 60));
    assert!(matches!(
        s.reserve_upload_bytes("k2", 0, Reserve::Exactly(41), 5).await,
        Err(StoreError::QuotaExceeded { space: true })
    ));
    assert_eq!(counters(s, "1", "c").await, (0, 60, 0, 60), "a refused reservation holds nothing");
    s.reserve_upload_bytes("k2", 0, Reserve::Exactly(40), 5).await.unwrap();
    // A failed PUT gives its reservation back; a recorded one keeps its size only.
    s.release_upload_bytes("k2", 40).await.unwrap();
    let recorded = s.record_upload_part("k1", &part(0, 50, "objects/a"), 60).await.unwrap();
    assert_eq!(recorded, PartRecorded::Recorded { replaced: None });
    assert_eq!(counters(s, "1", "c").await, (0, 50, 0, 50));
    // A re-upload of the part replaces it: its old bytes are released.
    s.reserve_upload_bytes("k1", 0, Reserve::Exactly(30), 5).await.unwrap();
    let recorded = s.record_upload_part("k1", &part(0, 30, "objects/b"), 30).await.unwrap();
    assert_eq!(recorded, PartRecorded::Recorded { replaced: Some("objects/a".into()) });
    assert_eq!(counters(s, "1", "c").await, (0, 30, 0, 30));
    // The commit turns the reservation into committed bytes, in one transaction.
    let mut commit = put(file("1", "a", 30), NameConflict::Fail, Some("k1"));
    commit.upload_objects = vec!["objects/b".into()];
    s.put_dentry(&commit).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (30, 0, 30, 0));
    // Releasing for an upload that is gone changes nothing.
    s.release_upload_bytes("k1", 30).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (30, 0, 30, 0));
    // Expired or unknown uploads reserve nothing.
    assert!(matches!(
        s.reserve_upload_bytes("k2", 0, Reserve::Exactly(1), 11).await,
        Err(StoreError::UploadNotFound)
    ));
    assert!(
        matches!(
            s.reserve_upload_bytes("k2", 0, Reserve::Exactly(1), 10).await,
            Err(StoreError::UploadNotFound)
        ),
        "expiry is exclusive"
    );
    assert!(matches!(
        s.reserve_upload_bytes("nope", 0, Reserve::Exactly(1), 5).await,
        Err(StoreError::UploadNotFound)
    ));
    assert!(
        matches!(
            s.reserve_upload_bytes("k1", 0, Reserve::Exactly(1), 5).await,
            Err(StoreError::UploadNotFound)
        ),
        "a committed upload takes no more bytes"
    );
    assert_eq!(
        s.record_upload_part("k1", &part(0, 1, "objects/c"), 0).await.unwrap(),
        PartRecorded::UploadGone
    );
    assert_eq!(counters(s, "1", "c").await, (30, 0, 30, 0));
}

pub async fn the_org_capacity_caps_reservations_and_commits(s: &impl MetaStore) {
    s.insert_org(&org("c", Some(50))).await.unwrap();
    s.insert_app(&app("a", "c", "k")).await.unwrap();
    s.insert_space_once(&space("1", "0")).await.unwrap();
    s.insert_space_once(&space("2", "1")).await.unwrap();
    s.insert_upload(&upload("k1"), &LIMITS).await.unwrap();
    s.insert_upload(&UploadRecord { space_id: "2".into(), ..upload("k2") }, &LIMITS).await.unwrap();
    assert!(matches!(
        s.reserve_upload_bytes("k1", 0, Reserve::Exactly(51), 5).await,
        Err(StoreError::QuotaExceeded { space: false })
    ));
    s.reserve_upload_bytes("k1", 0, Reserve::Exactly(30), 5).await.unwrap();
    // Reservations in one space hold the org's room for every other.
    assert_eq!(s.reserve_upload_bytes("k2", 0, Reserve::AtMost(100), 5).await.unwrap(), 20);
    assert!(matches!(
        s.reserve_upload_bytes("k2", 0, Reserve::AtMost(1), 5).await,
        Err(StoreError::QuotaExceeded { space: false })
    ));
    // A commit counts what others hold reserved.
    let plain = s.put_dentry(&put(file("1", "a", 1), NameConflict::Fail, None)).await;
    assert!(matches!(plain, Err(StoreError::QuotaExceeded { space: false })), "{plain:?}");
    s.release_upload_bytes("k2", 20).await.unwrap();
    s.put_dentry(&put(file("1", "a", 20), NameConflict::Fail, None)).await.unwrap();
    s.record_upload_part("k1", &part(0, 30, "objects/k1"), 30).await.unwrap();
    let mut commit = put(file("2", "b", 30), NameConflict::Fail, Some("k1"));
    commit.upload_objects = vec!["objects/k1".into()];
    s.put_dentry(&commit).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (50, 0, 50, 0));
}

pub async fn racing_reservations_never_pass_the_quota(s: &impl MetaStore) {
    space_with_quota(s, Some(100)).await;
    for i in 0..16 {
        s.insert_upload(&upload(&format!("k{i}")), &LIMITS).await.unwrap();
    }
    let exact: Vec<_> = (0..8)
        .map(|i| async move {
            s.reserve_upload_bytes(&format!("k{i}"), 0, Reserve::Exactly(30), 5).await
        })
        .collect();
    let mut granted = 0;
    for result in join_all(exact).await {
        match result {
            Ok(n) => granted += n,
            Err(StoreError::QuotaExceeded { space: true }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(granted, 90);
    let at_most: Vec<_> =
        (8..16)
            .map(|i| async move {
                s.reserve_upload_bytes(&format!("k{i}"), 0, Reserve::AtMost(4), 5).await
            })
            .collect();
    let mut more = Vec::new();
    for result in join_all(at_most).await {
        match result {
            Ok(n) => more.push(n),
            Err(StoreError::QuotaExceeded { space: true }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(more.iter().sum::<i64>(), 10, "{more:?}");
    assert!(more.iter().all(|n| (1..=4).contains(n)), "{more:?}");
    assert_eq!(counters(s, "1", "c").await, (0, 100, 0, 100));
}

pub async fn parts_together_may_not_exceed_the_announced_size(s: &impl MetaStore) {
    space_with_quota(s, None).await;
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
    assert_eq!(counters(s, "1", "c").await, (0, 10, 0, 10));
}

/// A part recorded beyond its reservation (here with none) is held to the
/// announced size, the quota and the capacity when it is recorded.
pub async fn a_part_recorded_without_a_reservation_is_held_to_every_limit(s: &impl MetaStore) {
    space_with_quota(s, Some(100)).await;
    let announced = UploadRecord { multipart: true, max_bytes: Some(60), ..upload("m") };
    s.insert_upload(&announced, &LIMITS).await.unwrap();
    s.insert_upload(&upload("k"), &LIMITS).await.unwrap();
    let recorded = s.record_upload_part("m", &part(1, 40, "parts/m/1-a"), 0).await.unwrap();
    assert_eq!(recorded, PartRecorded::Recorded { replaced: None });
    assert_eq!(counters(s, "1", "c").await, (0, 40, 0, 40));
    // Past the announced size (40 + 21 > 60): refused, nothing recorded.
    assert!(matches!(
        s.record_upload_part("m", &part(2, 21, "parts/m/2-a"), 0).await,
        Err(StoreError::UploadTooLarge)
    ));
    // Replacing part 1 counts its old bytes out first (60 fits).
    let recorded = s.record_upload_part("m", &part(1, 60, "parts/m/1-b"), 0).await.unwrap();
    assert_eq!(recorded, PartRecorded::Recorded { replaced: Some("parts/m/1-a".into()) });
    assert_eq!(counters(s, "1", "c").await, (0, 60, 0, 60));
    // Past the quota (60 + 41 > 100): refused, nothing recorded or held.
    assert!(matches!(
        s.record_upload_part("k", &part(0, 41, "objects/k-a"), 0).await,
        Err(StoreError::QuotaExceeded { space: true })
    ));
    assert!(s.get_upload("k").await.unwrap().unwrap().1.is_empty(), "no part recorded");
    assert_eq!(counters(s, "1", "c").await, (0, 60, 0, 60));
    s.record_upload_part("k", &part(0, 40, "objects/k-b"), 0).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (0, 100, 0, 100));
}

/// A store that keeps inline objects records a part with its bytes in one
/// transaction, held to every limit (a refusal keeps neither), reads them
/// back, lists them in key order and removes them; the object stays until
/// it is removed, whatever happens to its references. A store that keeps
/// none says so (limit 0) and has none to read or list.
pub async fn inline_objects_are_kept_with_their_part_record(s: &impl MetaStore) {
    space_with_quota(s, Some(100)).await;
    let limit = s.inline_object_limit();
    if limit == 0 {
        assert_eq!(s.read_inline_object("inline/a").await.unwrap(), None);
        assert!(s.list_inline_objects("", 10).await.unwrap().is_empty());
        return;
    }
    assert!(limit >= 4096, "small files (the 4 KiB upload cycle) are kept: {limit}");
    let announced = UploadRecord { max_bytes: Some(50), ..upload("k") };
    s.insert_upload(&announced, &LIMITS).await.unwrap();
    s.insert_upload(&upload("j"), &LIMITS).await.unwrap();
    let bytes = |n: usize| vec![7u8; n];
    // Past the announced size, the quota: refused, nothing recorded or kept.
    assert!(matches!(
        s.record_inline_part("k", &part(0, 51, "inline/k-big"), bytes(51), 0).await,
        Err(StoreError::UploadTooLarge)
    ));
    assert!(matches!(
        s.record_inline_part("j", &part(0, 101, "inline/j-big"), bytes(101), 0).await,
        Err(StoreError::QuotaExceeded { space: true })
    ));
    assert!(s.list_inline_objects("", 10).await.unwrap().is_empty());
    assert_eq!(counters(s, "1", "c").await, (0, 0, 0, 0));
    // Recorded with its bytes and its reservation.
    let recorded = s.record_inline_part("k", &part(0, 30, "inline/k-a"), bytes(30), 0).await;
    assert_eq!(recorded.unwrap(), PartRecorded::Recorded { replaced: None });
    assert_eq!(s.read_inline_object("inline/k-a").await.unwrap(), Some(bytes(30)));
    assert_eq!(counters(s, "1", "c").await, (0, 30, 0, 30));
    assert_eq!(s.get_upload("k").await.unwrap().unwrap().1, vec![part(0, 30, "inline/k-a")]);
    // Re-PUT under a reservation: the earlier object is the caller's to remove.
    s.reserve_upload_bytes("k", 0, Reserve::Exactly(40), 5).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (0, 70, 0, 70));
    let again = s.record_inline_part("k", &part(0, 40, "inline/k-b"), bytes(40), 40).await;
    assert_eq!(again.unwrap(), PartRecorded::Recorded { replaced: Some("inline/k-a".into()) });
    assert_eq!(counters(s, "1", "c").await, (0, 40, 0, 40));
    // An upload that is gone keeps nothing.
    let gone = s.record_inline_part("gone", &part(0, 3, "inline/gone"), bytes(3), 0).await;
    assert_eq!(gone.unwrap(), PartRecorded::UploadGone);
    assert_eq!(s.read_inline_object("inline/gone").await.unwrap(), None);
    // Listed in key order, in pages; removed on request.
    let listed = s.list_inline_objects("", 10).await.unwrap();
    assert_eq!(listed, [("inline/k-a".to_string(), 30), ("inline/k-b".to_string(), 40)]);
    assert_eq!(s.list_inline_objects("inline/k-a", 10).await.unwrap().len(), 1);
    assert_eq!(s.list_inline_objects("", 1).await.unwrap().len(), 1);
    s.delete_inline_objects(&["inline/k-a".into(), "objects/not-inline".into()]).await.unwrap();
    assert_eq!(s.read_inline_object("inline/k-a").await.unwrap(), None);
    assert_eq!(s.read_inline_object("inline/k-b").await.unwrap(), Some(bytes(40)));
}

pub async fn a_commit_fails_when_a_part_was_replaced_meanwhile(s: &impl MetaStore) {
    space_with_quota(s, None).await;
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
    assert_eq!(counters(s, "1", "c").await, (0, 9, 0, 9));
    // A part recorded after the commit read the parts changes them too.
    let mut missing_one = put(file("1", "a", 9), NameConflict::Fail, Some("k"));
    missing_one.upload_objects = vec![];
    assert!(matches!(s.put_dentry(&missing_one).await, Err(StoreError::UploadChanged)));
    let mut fresh = put(file("1", "a", 9), NameConflict::Fail, Some("k"));
    fresh.upload_objects = vec!["objects/second".into()];
    s.put_dentry(&fresh).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (9, 0, 9, 0));
}

pub async fn open_uploads_are_capped_per_space_and_per_app(s: &impl MetaStore) {
    space_with_quota(s, None).await;
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
    assert!(s.get_upload("c").await.unwrap().is_none());
    assert!(s.get_upload("e").await.unwrap().is_none());
    // A committed upload is no longer open.
    s.put_dentry(&put(file("1", "x", 0), NameConflict::Fail, Some("a"))).await.unwrap();
    s.insert_upload(&upload("c"), &limits).await.unwrap();
}

pub async fn racing_uploads_never_pass_the_caps(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    let limits = OpenUploadLimits { per_space: 5, per_app: 100 };
    let opens: Vec<_> = (0..16)
        .map(|i| async move { s.insert_upload(&upload(&format!("k{i}")), &limits).await })
        .collect();
    let mut ok = 0;
    for result in join_all(opens).await {
        match result {
            Ok(()) => ok += 1,
            Err(StoreError::TooManyUploads { per_space: true }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(s.consistency_scan().await.unwrap().open_uploads.len(), 5);
}

pub async fn a_put_without_a_length_reserves_what_there_is_room_for(s: &impl MetaStore) {
    space_with_quota(s, Some(100)).await;
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
    assert_eq!(counters(s, "1", "c").await, (0, 100, 0, 100));
    // A restart drops what PUTs in flight held, keeping recorded parts.
    assert_eq!(s.reset_reservations().await.unwrap(), 4);
    assert_eq!(counters(s, "1", "c").await, (0, 10, 0, 10));
    assert_eq!(s.reset_reservations().await.unwrap(), 0, "nothing left to reset");
}
