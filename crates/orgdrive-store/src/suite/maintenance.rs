//! Behaviour of nodes, the consistency scan, repair and close.

use std::collections::HashSet;

use super::fixtures::*;
use crate::*;

pub async fn node_numbers_are_never_reused(s: &impl MetaStore) {
    let mut numbers = HashSet::new();
    for _ in 0..3 {
        assert!(numbers.insert(s.register_node(1).await.unwrap()));
    }
    let racing: Vec<_> = (0..8).map(|_| s.register_node(2)).collect();
    for number in join_all(racing).await {
        assert!(numbers.insert(number.unwrap()), "{numbers:?}");
    }
}

pub async fn a_job_is_claimed_by_one_node_until_its_claim_expires(s: &impl MetaStore) {
    let claim = |node, now_ms| Lease { node, now_ms, until_ms: now_ms + 1000, steal: false };
    // Racing nodes: one gets it.
    let claims: Vec<Lease> = (1..=8).map(|node| claim(node, 0)).collect();
    let racing: Vec<_> = claims.iter().map(|c| s.lease_job("sweeper", c)).collect();
    let claimed: Vec<bool> = join_all(racing).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(claimed.iter().filter(|c| **c).count(), 1, "{claimed:?}");
    let holder = (1..=8).zip(&claimed).find(|(_, c)| **c).unwrap().0;
    let other = if holder == 1 { 2 } else { 1 };
    // Others wait for it to expire; the holder renews it; jobs are apart.
    assert!(!s.lease_job("sweeper", &claim(other, 999)).await.unwrap());
    assert!(s.lease_job("other job", &claim(other, 999)).await.unwrap());
    assert!(s.lease_job("sweeper", &claim(holder, 999)).await.unwrap());
    assert!(!s.lease_job("sweeper", &claim(other, 1998)).await.unwrap());
    assert!(s.lease_job("sweeper", &claim(other, 1999)).await.unwrap());
    // A steal takes it at once; a release by a non-holder changes nothing.
    let steal = Lease { steal: true, ..claim(holder, 2000) };
    assert!(s.lease_job("sweeper", &steal).await.unwrap());
    s.release_job("sweeper", other).await.unwrap();
    assert!(!s.lease_job("sweeper", &claim(other, 2001)).await.unwrap());
    // Released by its holder: free at once.
    s.release_job("sweeper", holder).await.unwrap();
    assert!(s.lease_job("sweeper", &claim(other, 2002)).await.unwrap());
}

pub async fn a_claim_is_seen_until_it_expires_or_is_released(s: &impl MetaStore) {
    assert!(!s.job_claimed("backup", 0).await.unwrap());
    let lease = Lease { node: 7, now_ms: 1000, until_ms: 2000, steal: false };
    assert!(s.lease_job("backup", &lease).await.unwrap());
    assert!(s.job_claimed("backup", 1999).await.unwrap());
    assert!(!s.job_claimed("backup", 2000).await.unwrap(), "expired at until_ms");
    assert!(!s.job_claimed("sweeper", 1500).await.unwrap(), "jobs are apart");
    s.release_job("backup", 7).await.unwrap();
    assert!(!s.job_claimed("backup", 1500).await.unwrap());
}

pub async fn the_write_generation_moves_before_a_write_is_answered(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    let Some(before) = s.write_generation() else {
        return; // a store other nodes write: nothing to check
    };
    assert_eq!(s.write_generation(), Some(before), "reads do not move it");
    s.get_dentry("1", "nothing").await.unwrap();
    assert_eq!(s.write_generation(), Some(before), "reads do not move it");
    create(s, folder("g", "dir")).await;
    let after_create = s.write_generation().unwrap();
    assert_ne!(after_create, before);
    // After a write that failed (a duplicate name; it may or may not move
    // the generation), the next write still moves it.
    let duplicate = s.put_dentry(&put(folder("h", "dir"), NameConflict::Fail, None)).await;
    assert!(duplicate.is_err(), "{duplicate:?}");
    let after_failure = s.write_generation().unwrap();
    create(s, folder("i", "other")).await;
    assert_ne!(s.write_generation().unwrap(), after_failure);
}

pub async fn the_consistency_scan_sees_content_uploads_counters_and_trees(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    s.insert_org(&org("d", None)).await.unwrap();
    s.insert_space_once(&space("2", "1")).await.unwrap();
    create(s, folder("p", "dir")).await;
    create(s, DentryRecord { parent_id: "p".into(), ..file("f", "a", 3) }).await;
    let again = DentryRecord { parent_id: "p".into(), ..file("g", "a", 5) };
    s.put_dentry(&put(again, NameConflict::Overwrite, None)).await.unwrap();
    create(s, DentryRecord { space_id: "2".into(), ..file("h", "a", 7) }).await;
    s.insert_upload(&upload("k"), &LIMITS).await.unwrap();
    put_part(s, "k", 0, 4, "objects/k").await;
    let scan = s.consistency_scan().await.unwrap();
    let mut blobs: Vec<(String, i64, String)> =
        scan.blobs.into_iter().map(|b| (b.blob_key, b.size, b.dentry_id)).collect();
    blobs.sort();
    assert_eq!(
        blobs,
        [("objects/f", 3, "f"), ("objects/g", 5, "f"), ("objects/h", 7, "h")].map(|(k, n, d)| (
            k.to_string(),
            n,
            d.to_string()
        ))
    );
    assert_eq!(scan.open_uploads, vec!["k".to_string()]);
    assert_eq!(scan.upload_objects, vec!["objects/k".to_string()]);
    let check = |id: &str, recorded: i64| UsageCheck { id: id.into(), recorded, actual: recorded };
    let mut space_usage = scan.space_usage;
    space_usage.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(space_usage, vec![check("1", 8), check("2", 7)]);
    let mut org_usage = scan.org_usage;
    org_usage.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(org_usage, vec![check("c", 15), check("d", 0)]);
    let mut space_reserved = scan.space_reserved;
    space_reserved.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(space_reserved, vec![check("1", 4), check("2", 0)]);
    let mut org_reserved = scan.org_reserved;
    org_reserved.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(org_reserved, vec![check("c", 4), check("d", 0)]);
    assert!(scan.under_reserved_uploads.is_empty());
    let mut tree = scan.tree;
    tree.sort_by(|a, b| a.dentry_id.cmp(&b.dentry_id));
    let node = |space: &str, id: &str, parent: &str, is_folder| TreeNode {
        space_id: space.into(),
        dentry_id: id.into(),
        parent_id: parent.into(),
        is_folder,
        live: true,
    };
    assert_eq!(
        tree,
        vec![node("1", "f", "p", false), node("2", "h", "0", false), node("1", "p", "0", true)]
    );
    assert!(scan.duplicate_names.is_empty());
}

pub async fn repair_usage_sets_counters_to_their_sums(s: &impl MetaStore) {
    org_and_app(s).await;
    // A space stored with a count its content does not add up to (as after
    // a crash of an older version, or an import).
    let skewed = SpaceRecord { used_bytes: 50, ..space("1", "0") };
    assert_eq!(s.insert_space_once(&skewed).await.unwrap().0.used_bytes, 50);
    s.insert_space_once(&space("2", "1")).await.unwrap();
    create(s, file("1", "a", 10)).await;
    create(s, DentryRecord { space_id: "2".into(), ..file("2", "a", 5) }).await;
    s.insert_upload(&upload("k"), &LIMITS).await.unwrap();
    put_part(s, "k", 0, 4, "objects/k").await;
    let scan = s.consistency_scan().await.unwrap();
    let space_1 = scan.space_usage.iter().find(|c| c.id == "1").unwrap();
    assert_eq!((space_1.recorded, space_1.actual), (60, 10));
    assert!(s.repair_usage().await.unwrap() >= 1);
    assert_eq!(counters(s, "1", "c").await, (10, 4, 15, 4));
    assert_eq!(s.get_space("2").await.unwrap().unwrap().used_bytes, 5);
    assert_eq!(s.app_used_bytes("a").await.unwrap(), 15);
    assert_eq!(s.repair_usage().await.unwrap(), 0, "nothing left to repair");
    // The repaired counters are the ones quotas are enforced on.
    assert!(s.get_upload("k").await.unwrap().is_some());
}

/// A closed store (its node stopping) did nothing: every call fails
/// `Unavailable`, which the API answers 503 (another node may answer).
pub async fn after_close_calls_fail_as_unavailable(s: &impl MetaStore) {
    org_and_app(s).await;
    s.ping().await.unwrap();
    s.close().await;
    let ping = s.ping().await;
    assert!(matches!(ping, Err(StoreError::Unavailable(_))), "{ping:?}");
    let write = s.insert_org(&org("d", None)).await;
    assert!(matches!(write, Err(StoreError::Unavailable(_))), "{write:?}");
    let purge = s.purge_expired_tokens(0).await;
    assert!(matches!(purge, Err(StoreError::Unavailable(_))), "{purge:?}");
    let read = s.get_org("c").await;
    assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");
    let scan = s.consistency_scan().await.map(|_| ());
    assert!(matches!(scan, Err(StoreError::Unavailable(_))), "{scan:?}");
}

pub async fn gauges_count_unfinished_tasks_undelivered_events_and_bytes(s: &impl MetaStore) {
    use super::events::subscription;
    use super::recycle::{move_op, task};
    let empty = s.gauges().await.unwrap();
    assert!(empty.store_bytes > 0, "{empty:?}");
    assert_eq!(StoreGauges { store_bytes: 0, ..empty }, StoreGauges::default());
    tree(s, None, None).await;
    let g = s.gauges().await.unwrap();
    assert_eq!((g.used_bytes, g.reserved_bytes), (3 + 5 + 7 + 11, 0));
    assert_eq!(g.event_backlog, 0, "no subscriber: nothing to deliver");
    // A subscription starts at the last event; two changes follow it.
    s.subscribe(&subscription("a", EventScope::Org, "c")).await.unwrap();
    s.rename_dentry(&rename("t", "top2.txt")).await.unwrap();
    s.rename_dentry(&rename("f1", "c.txt")).await.unwrap();
    assert_eq!(s.gauges().await.unwrap().event_backlog, 2);
    let cursor = s.lease_cursor("a", 1, 0, 1000).await.unwrap().expect("the lease");
    assert!(s.advance_cursor("a", 1, cursor.last_seq + 1).await.unwrap());
    assert_eq!(s.gauges().await.unwrap().event_backlog, 1);
    // Tasks: unfinished until they end.
    s.insert_task(&task("t1", move_op("d"), 1), 64).await.unwrap();
    s.insert_task(&task("t2", move_op("o"), 2), 64).await.unwrap();
    assert_eq!(s.gauges().await.unwrap().unfinished_tasks, 2);
    s.fail_task("t1", "gone", 3).await.unwrap();
    assert_eq!(s.gauges().await.unwrap().unfinished_tasks, 1);
    // Bytes an upload in flight holds.
    s.insert_upload(&upload("k"), &LIMITS).await.unwrap();
    put_part(s, "k", 0, 9, "objects/k0").await;
    let g = s.gauges().await.unwrap();
    assert_eq!((g.used_bytes, g.reserved_bytes), (26, 9));
    assert!(g.store_bytes >= empty.store_bytes);
}

pub async fn group_commits_are_counted_with_the_writes_they_carried(s: &impl MetaStore) {
    let before = s.write_figures();
    let orgs: Vec<OrgRecord> = (0..16).map(|i| org(&format!("o{i}"), None)).collect();
    let racing: Vec<_> = orgs.iter().map(|o| s.insert_org(o)).collect();
    for inserted in join_all(racing).await {
        inserted.unwrap();
    }
    let after = s.write_figures();
    let (commits, writes) = (after.commits - before.commits, after.writes - before.writes);
    // A backend that combines these writes counts each in one commit; one
    // that writes them alone (PostgreSQL, for identity writes) counts none.
    assert!(writes == 0 || writes == 16, "{writes} writes in {commits} commits");
    assert!(commits <= writes, "{commits} commits for {writes} writes");
    assert!(writes == 0 || commits >= 1);
}
