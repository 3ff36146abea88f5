//! The WOPI contract: token pairs rotate once (a replay revokes the family),
//! locks change by compare-and-set (two racing LOCKs: one wins), and a
//! PutFile commits only under the lock rule, checked in its transaction.

use super::fixtures::*;
use crate::*;

fn pair(access: &str, refresh: &str, union_id: &str, dentry_id: &str) -> WopiTokenRecord {
    WopiTokenRecord {
        access_hash: access.into(),
        refresh_hash: refresh.into(),
        family_id: format!("family-{access}"),
        corp_id: "c".into(),
        app_id: "a".into(),
        union_id: union_id.into(),
        space_id: "1".into(),
        dentry_id: dentry_id.into(),
        created_at: 100,
        access_expires_at: 200,
        refresh_expires_at: 1_000,
        rotated_at: None,
    }
}

pub async fn wopi_tokens_rotate_once_and_a_replay_revokes_the_family(s: &impl MetaStore) {
    s.insert_wopi_tokens(&pair("a1", "r1", "u", "f")).await.unwrap();
    s.insert_wopi_tokens(&pair("b1", "s1", "u", "f")).await.unwrap();
    let found = s.find_wopi_access("a1", 150).await.unwrap().expect("live");
    assert_eq!(found, pair("a1", "r1", "u", "f"));
    assert!(s.find_wopi_access("a1", 200).await.unwrap().is_none(), "expired at 200");
    assert!(
        s.find_wopi_access("r1", 150).await.unwrap().is_none(),
        "a refresh token is no access token"
    );

    // Refused, changing nothing: another pair's access token, another
    // operator or file, an unknown or expired refresh token.
    let refused = [
        ("b1", "r1", pair("a2", "r2", "u", "f"), 300),
        ("a1", "r1", pair("a2", "r2", "v", "f"), 300),
        ("a1", "r1", pair("a2", "r2", "u", "g"), 300),
        ("a1", "nope", pair("a2", "r2", "u", "f"), 300),
        ("a1", "r1", pair("a2", "r2", "u", "f"), 1_000),
    ];
    for (access, refresh, fresh, now) in &refused {
        let outcome = s.rotate_wopi_tokens(access, refresh, fresh, *now).await.unwrap();
        assert_eq!(outcome, WopiRotation::Refused, "{access} {refresh} {fresh:?} {now}");
    }
    assert!(s.find_wopi_access("a2", 300).await.unwrap().is_none());

    // Rotated (the access token may have expired): the fresh pair joins the
    // family; the old access token lives until it expires.
    let outcome = s.rotate_wopi_tokens("a1", "r1", &pair("a2", "r2", "u", "f"), 150).await.unwrap();
    assert_eq!(outcome, WopiRotation::Rotated);
    let fresh = s.find_wopi_access("a2", 150).await.unwrap().expect("the new pair");
    assert_eq!(fresh.family_id, "family-a1");
    assert_eq!(s.find_wopi_access("a1", 150).await.unwrap().unwrap().rotated_at, Some(150));
    // The new pair rotates in turn.
    let outcome = s.rotate_wopi_tokens("a2", "r2", &pair("a3", "r3", "u", "f"), 160).await.unwrap();
    assert_eq!(outcome, WopiRotation::Rotated);
    // A rotated refresh token again: the family is revoked, other families stay.
    let outcome = s.rotate_wopi_tokens("a1", "r1", &pair("a4", "r4", "u", "f"), 170).await.unwrap();
    assert_eq!(outcome, WopiRotation::Reused);
    for gone in ["a1", "a2", "a3", "a4"] {
        assert!(s.find_wopi_access(gone, 170).await.unwrap().is_none(), "{gone}");
    }
    assert!(s.find_wopi_access("b1", 170).await.unwrap().is_some());
    let outcome = s.rotate_wopi_tokens("a3", "r3", &pair("a5", "r5", "u", "f"), 170).await.unwrap();
    assert_eq!(outcome, WopiRotation::Refused);

    // Racing rotations of one pair: exactly one rotates; the others present
    // a rotated refresh token, a replay, and revoke the family.
    let racers: Vec<_> =
        (0..8).map(|i| pair(&format!("x{i}"), &format!("y{i}"), "u", "f")).collect();
    let outcomes =
        join_all(racers.iter().map(|fresh| s.rotate_wopi_tokens("b1", "s1", fresh, 180)).collect())
            .await;
    let rotated = outcomes.iter().filter(|o| matches!(o, Ok(WopiRotation::Rotated))).count();
    assert_eq!(rotated, 1, "{outcomes:?}");
    let reused = outcomes.iter().filter(|o| matches!(o, Ok(WopiRotation::Reused))).count();
    assert_eq!(reused, 1, "the first replay revokes, the later ones find nothing: {outcomes:?}");
    assert!(s.find_wopi_access("b1", 180).await.unwrap().is_none());
    for fresh in &racers {
        assert!(s.find_wopi_access(&fresh.access_hash, 180).await.unwrap().is_none());
    }

    // The sweeper removes pairs whose refresh token expired.
    s.insert_wopi_tokens(&pair("c1", "t1", "u", "f")).await.unwrap();
    s.insert_wopi_tokens(&WopiTokenRecord {
        refresh_expires_at: 2_000,
        ..pair("d1", "w1", "u", "f")
    })
    .await
    .unwrap();
    assert_eq!(s.purge_expired_wopi(1_000).await.unwrap(), 1);
    assert!(s.find_wopi_access("c1", 180).await.unwrap().is_none());
    assert!(s.find_wopi_access("d1", 180).await.unwrap().is_some());
}

pub async fn wopi_locks_change_by_compare_and_set(s: &impl MetaStore) {
    let lock = |id: &str| LockChange::Lock { lock_id: id.into() };
    let conflict = |id: Option<&str>| LockOutcome::Conflict(id.map(str::to_string));
    assert_eq!(s.get_wopi_lock("1", "f", 10).await.unwrap(), None);
    assert_eq!(s.change_wopi_lock("1", "f", &lock("A"), 10, 100).await.unwrap(), LockOutcome::Done);
    assert_eq!(s.get_wopi_lock("1", "f", 10).await.unwrap().as_deref(), Some("A"));
    assert_eq!(s.get_wopi_lock("1", "g", 10).await.unwrap(), None, "per file");
    assert_eq!(
        s.change_wopi_lock("1", "f", &lock("B"), 20, 110).await.unwrap(),
        conflict(Some("A"))
    );
    // The same id extends the lock.
    assert_eq!(s.change_wopi_lock("1", "f", &lock("A"), 20, 120).await.unwrap(), LockOutcome::Done);
    assert_eq!(s.get_wopi_lock("1", "f", 119).await.unwrap().as_deref(), Some("A"));
    let refresh = |id: &str| LockChange::Refresh { lock_id: id.into() };
    assert_eq!(
        s.change_wopi_lock("1", "f", &refresh("B"), 30, 150).await.unwrap(),
        conflict(Some("A"))
    );
    assert_eq!(
        s.change_wopi_lock("1", "f", &refresh("A"), 30, 150).await.unwrap(),
        LockOutcome::Done
    );
    let relock =
        |old: &str, new: &str| LockChange::Relock { old_lock_id: old.into(), lock_id: new.into() };
    assert_eq!(
        s.change_wopi_lock("1", "f", &relock("X", "C"), 40, 150).await.unwrap(),
        conflict(Some("A"))
    );
    assert_eq!(
        s.change_wopi_lock("1", "f", &relock("A", "C"), 40, 150).await.unwrap(),
        LockOutcome::Done
    );
    let unlock = |id: &str| LockChange::Unlock { lock_id: id.into() };
    assert_eq!(
        s.change_wopi_lock("1", "f", &unlock("A"), 50, 150).await.unwrap(),
        conflict(Some("C"))
    );
    assert_eq!(
        s.change_wopi_lock("1", "f", &unlock("C"), 50, 150).await.unwrap(),
        LockOutcome::Done
    );
    assert_eq!(s.change_wopi_lock("1", "f", &unlock("C"), 50, 150).await.unwrap(), conflict(None));
    assert_eq!(s.change_wopi_lock("1", "f", &refresh("C"), 50, 150).await.unwrap(), conflict(None));
    // An expired lock is no lock: anyone takes it, nothing else matches it.
    assert_eq!(s.change_wopi_lock("1", "f", &lock("D"), 60, 100).await.unwrap(), LockOutcome::Done);
    assert_eq!(s.get_wopi_lock("1", "f", 100).await.unwrap(), None);
    assert_eq!(
        s.change_wopi_lock("1", "f", &refresh("D"), 100, 200).await.unwrap(),
        conflict(None)
    );
    assert_eq!(
        s.change_wopi_lock("1", "f", &lock("E"), 100, 200).await.unwrap(),
        LockOutcome::Done
    );
    // Racing LOCKs of different ids: exactly one wins.
    for round in 0..5 {
        let file = format!("race{round}");
        let changes: Vec<LockChange> =
            (0..8).map(|i| LockChange::Lock { lock_id: format!("L{i}") }).collect();
        let outcomes = join_all(
            changes.iter().map(|change| s.change_wopi_lock("1", &file, change, 10, 100)).collect(),
        )
        .await;
        let won = outcomes.iter().filter(|o| matches!(o, Ok(LockOutcome::Done))).count();
        assert_eq!(won, 1, "{outcomes:?}");
    }
    assert!(s.purge_expired_wopi(200).await.unwrap() >= 1);
}

/// A PutFile of `size` bytes over file `1` through upload `key`.
async fn wopi_put(
    s: &impl MetaStore,
    key: &str,
    size: i64,
    lock: Option<&str>,
    now: i64,
) -> WopiPut {
    wopi_put_over(s, "1", key, size, lock, now).await
}

/// A PutFile of `size` bytes over file `target` through upload `key`.
async fn wopi_put_over(
    s: &impl MetaStore,
    target: &str,
    key: &str,
    size: i64,
    lock: Option<&str>,
    now: i64,
) -> WopiPut {
    s.insert_upload(&upload(key), &LIMITS).await.unwrap();
    let object = format!("objects/{key}");
    put_part(s, key, 0, size, &object).await;
    let mut new = file(key, "ignored", size);
    new.blob_key = Some(object.clone());
    let put = PutDentry {
        overwrite_dentry_id: Some(target.into()),
        upload_objects: vec![object],
        ..put(new, NameConflict::Overwrite, Some(key))
    };
    s.wopi_put(&put, lock, now).await.unwrap()
}

pub async fn a_wopi_put_checks_the_lock_in_its_transaction(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    create(s, file("1", "doc.docx", 3)).await;
    let following = SubscriptionRecord {
        corp_id: "c".into(),
        app_id: "a".into(),
        scope: EventScope::Org,
        scope_id: "c".into(),
        operator_id: "u".into(),
        from_seq: 0,
        created_at: 1,
    };
    s.subscribe(&following).await.unwrap();
    // Unlocked and not empty: refused; the upload is consumed and its
    // reservation released, the file unchanged.
    assert_eq!(wopi_put(s, "k1", 5, None, 10).await, WopiPut::Conflict(None));
    assert!(s.get_upload("k1").await.unwrap().is_none());
    assert_eq!(counters(s, "1", "c").await, (3, 0, 3, 0));
    assert_eq!(s.get_dentry("1", "1").await.unwrap().unwrap().version, 1);
    // Locked: only with the lock.
    let lock = LockChange::Lock { lock_id: "L".into() };
    s.change_wopi_lock("1", "1", &lock, 10, 100).await.unwrap();
    assert_eq!(wopi_put(s, "k2", 5, None, 20).await, WopiPut::Conflict(Some("L".into())));
    assert_eq!(wopi_put(s, "k3", 5, Some("M"), 20).await, WopiPut::Conflict(Some("L".into())));
    assert_eq!(counters(s, "1", "c").await, (3, 0, 3, 0));
    let WopiPut::Stored(stored) = wopi_put(s, "k4", 5, Some("L"), 20).await else {
        panic!("the lock holder writes")
    };
    assert_eq!((stored.dentry_id.as_str(), stored.version, stored.size), ("1", 2, 5));
    assert_eq!(s.get_version("1", 1).await.unwrap().unwrap().size, 3);
    // A save is a new version like any other, with its event; refusals have none.
    let saved = s.pending_events("a", 0, 10, 1_000).await.unwrap().events;
    let saved: Vec<_> =
        saved.iter().map(|e| (e.event_type, e.dentry_id.as_str(), e.version)).collect();
    assert_eq!(saved, [(EventType::VersionAdded, "1", Some(2))]);
    assert_eq!(counters(s, "1", "c").await, (8, 0, 8, 0));
    // The lock expired: the file is unlocked and not empty.
    assert_eq!(wopi_put(s, "k5", 5, Some("L"), 100).await, WopiPut::Conflict(None));
    // An empty file takes a write without a lock (and with any lock id).
    create(s, file("2", "new.docx", 0)).await;
    create(s, file("3", "other.docx", 0)).await;
    let stored = wopi_put_over(s, "2", "k6", 4, None, 100).await;
    assert!(matches!(stored, WopiPut::Stored(d) if d.size == 4));
    let stored = wopi_put_over(s, "3", "k8", 2, Some("any"), 100).await;
    assert!(matches!(stored, WopiPut::Stored(d) if d.size == 2));
    // An upload that will not be committed is discarded with its reservation.
    s.insert_upload(&upload("k7"), &LIMITS).await.unwrap();
    put_part(s, "k7", 0, 6, "objects/k7").await;
    assert_eq!(counters(s, "1", "c").await, (14, 6, 14, 6));
    assert_eq!(s.discard_wopi_upload("k7").await.unwrap(), ["objects/k7"]);
    assert!(s.get_upload("k7").await.unwrap().is_none());
    assert_eq!(counters(s, "1", "c").await, (14, 0, 14, 0));
    assert!(s.discard_wopi_upload("k7").await.unwrap().is_empty(), "gone already");
    assert_consistent(s).await;
}
