//! Behaviour of deletion: the recycle bin (bins, items, restore, purge),
//! permanent removal with its freed bytes and trashed content objects, and
//! persisted tasks completed by the changes they run.

use std::collections::HashSet;

use super::fixtures::*;
use crate::*;

fn names(dentries: &[DentryRecord]) -> Vec<&str> {
    dentries.iter().map(|d| d.name.as_str()).collect()
}

async fn root_names(s: &impl MetaStore, space_id: &str) -> Vec<String> {
    let listed = s.list_children(space_id, "0", SortKey::Name, false, None, 100).await.unwrap();
    names(&listed).into_iter().map(str::to_string).collect()
}

async fn status(s: &impl MetaStore, space_id: &str, id: &str) -> String {
    s.get_dentry(space_id, id).await.unwrap().unwrap_or_else(|| panic!("no dentry {id}")).status
}

fn item_ids(items: &[RecycleItemRecord]) -> Vec<&str> {
    items.iter().map(|i| i.recycle_item_id.as_str()).collect()
}

fn strings(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

/// Deletes `id` of space `1` to the bin as `item`, at `now_ms`.
async fn bin(s: &impl MetaStore, id: &str, item: &str, now_ms: i64) -> Removed {
    let request = DeleteDentry { actor: actor(now_ms), ..deleting(id, Some(item)) };
    s.delete_dentry(&request).await.unwrap()
}

/// Deletes `id` of space `1` for good.
async fn remove(s: &impl MetaStore, id: &str) -> Removed {
    s.delete_dentry(&deleting(id, None)).await.unwrap()
}

pub async fn deleting_to_the_bin_keeps_the_bytes_and_lists_the_item(s: &impl MetaStore) {
    tree(s, None, None).await;
    let removed = bin(s, "d", "r1", 100).await;
    let item = RecycleItemRecord {
        recycle_item_id: "r1".into(),
        corp_id: "c".into(),
        app_id: "a".into(),
        space_id: "1".into(),
        dentry_id: "d".into(),
        kind: "FOLDER".into(),
        name: "docs".into(),
        path: "/docs".into(),
        parent_id: "0".into(),
        size: 8,
        operator_id: "op".into(),
        deleted_at: 100,
        entries: 4,
    };
    let expected = Removed {
        entries: 4,
        freed_bytes: 0,
        trashed_objects: vec![],
        recycle_item: Some(item.clone()),
    };
    assert_eq!(removed, expected);
    for id in ["d", "f1", "s", "f2"] {
        assert_eq!(status(s, "1", id).await, "DELETED", "{id}");
    }
    assert_eq!(root_names(s, "1").await, ["other", "top.txt"]);
    let everything = s.list_space("1", false, None, 100).await.unwrap();
    assert_eq!(everything.len(), 3, "{everything:?}");
    assert_eq!(s.folder_names("1", "s").await.unwrap(), None);
    assert_eq!(s.subtree_size("1", "d").await.unwrap(), 0);
    assert_eq!(s.get_recycle_item("r1").await.unwrap(), Some(item.clone()));
    assert!(s.get_recycle_item("r9").await.unwrap().is_none());
    // Binned bytes still count.
    assert_eq!(counters(s, "1", "c").await, (26, 0, 26, 0));
    // A file, with its path.
    let removed = bin(s, "f3", "r2", 200).await;
    let file_item = removed.recycle_item.unwrap();
    assert_eq!(
        (
            file_item.kind.as_str(),
            file_item.path.as_str(),
            file_item.size,
            file_item.parent_id.as_str()
        ),
        ("FILE", "/other/a.txt", 7, "o")
    );
    assert_eq!(removed.entries, 1);
    let listed = s.list_recycle_items(&every_item(), None, 10).await.unwrap();
    assert_eq!(listed, vec![file_item, item]);
    // The names are free again.
    create(s, folder("n", "docs")).await;
    create(s, under("o", file("m", "a.txt", 1))).await;
    // Refusals change nothing.
    let taken = s.delete_dentry(&deleting("t", Some("r1"))).await;
    assert!(matches!(taken, Err(StoreError::Duplicate(Key::RecycleId))), "{taken:?}");
    assert_eq!(status(s, "1", "t").await, "NORMAL");
    for id in ["d", "f1", "missing"] {
        let again = s.delete_dentry(&deleting(id, Some("r3"))).await;
        assert!(matches!(again, Err(StoreError::NotFound)), "{id}: {again:?}");
    }
    let elsewhere = DeleteDentry { space_id: "2".into(), ..deleting("t", Some("r3")) };
    assert!(matches!(s.delete_dentry(&elsewhere).await, Err(StoreError::NotFound)));
    assert!(s.get_recycle_item("r3").await.unwrap().is_none());
    assert_eq!(counters(s, "1", "c").await, (27, 0, 27, 0));
    assert_consistent(s).await;
}

pub async fn a_restored_item_comes_back_with_its_ids(s: &impl MetaStore) {
    tree(s, None, None).await;
    bin(s, "d", "r1", 100).await;
    let placed =
        s.restore_recycle_item(&restoring("r1", to("1", "0", NameConflict::Fail)), ids()).await;
    let placed = placed.unwrap();
    assert_eq!(
        placed,
        Placed { dentry: folder("d", "docs"), existing: false, entries: 4, replaced: None }
    );
    assert!(s.get_recycle_item("r1").await.unwrap().is_none());
    assert!(s.list_recycle_items(&every_item(), None, 10).await.unwrap().is_empty());
    assert_eq!(s.get_dentry("1", "f2").await.unwrap(), Some(under("s", file("f2", "b.txt", 5))));
    assert_eq!(s.folder_names("1", "s").await.unwrap(), Some(strings(&["docs", "sub"])));
    assert_eq!(counters(s, "1", "c").await, (26, 0, 26, 0));
    // Its original parent gone, the caller puts it elsewhere.
    bin(s, "s", "r2", 100).await;
    let gone = remove(s, "d").await;
    assert_eq!((gone.entries, gone.freed_bytes), (2, 3));
    let to_gone = restoring("r2", to("1", "d", NameConflict::Fail));
    let refused = s.restore_recycle_item(&to_gone, ids()).await;
    assert!(matches!(refused, Err(StoreError::ParentNotFound)), "{refused:?}");
    let placed =
        s.restore_recycle_item(&restoring("r2", to("1", "o", NameConflict::Fail)), ids()).await;
    let placed = placed.unwrap();
    assert_eq!((placed.dentry.parent_id.as_str(), placed.entries), ("o", 2));
    assert_eq!(s.folder_names("1", "s").await.unwrap(), Some(strings(&["other", "sub"])));
    assert_eq!(status(s, "1", "f2").await, "NORMAL");
    assert_eq!(counters(s, "1", "c").await, (23, 0, 23, 0));
    assert_consistent(s).await;
}

pub async fn a_restore_follows_the_conflict_rule(s: &impl MetaStore) {
    tree(s, None, None).await;
    bin(s, "t", "r1", 100).await;
    create(s, file("n", "top.txt", 1)).await;
    let back = |conflict| restoring("r1", to("1", "0", conflict));
    let failed = s.restore_recycle_item(&back(NameConflict::Fail), ids()).await;
    assert!(matches!(&failed, Err(StoreError::NameTaken(d)) if d.dentry_id == "n"), "{failed:?}");
    let existing = s.restore_recycle_item(&back(NameConflict::ReturnExisting), ids()).await;
    let existing = existing.unwrap();
    assert_eq!(
        existing,
        Placed { dentry: file("n", "top.txt", 1), existing: true, entries: 0, replaced: None }
    );
    // Nothing changed: the item is still in the bin.
    assert!(s.get_recycle_item("r1").await.unwrap().is_some());
    assert_eq!(status(s, "1", "t").await, "DELETED");
    let renamed = s.restore_recycle_item(&back(auto("top(", ").txt")), ids()).await.unwrap();
    assert_eq!(
        (renamed.dentry.dentry_id.as_str(), renamed.dentry.name.as_str()),
        ("t", "top(1).txt")
    );
    assert_eq!(renamed.dentry.uuid, "ut");
    assert!(s.get_recycle_item("r1").await.unwrap().is_none());
    // Overwrite: the file in the way takes its place in the bin.
    bin(s, "f3", "r2", 100).await;
    create(s, under("o", file("m", "a.txt", 2))).await;
    let over = restoring("r2", to("1", "o", NameConflict::Overwrite));
    let placed = s.restore_recycle_item(&over, ids()).await.unwrap();
    let replaced = placed.replaced.expect("m went to the bin");
    assert_eq!(
        (replaced.recycle_item_id.as_str(), replaced.dentry_id.as_str(), replaced.path.as_str()),
        ("1000", "m", "/other/a.txt")
    );
    assert_eq!(placed.dentry, under("o", file("f3", "a.txt", 7)));
    assert_eq!(status(s, "1", "m").await, "DELETED");
    // A folder neither overwrites nor is overwritten.
    bin(s, "s", "r3", 100).await;
    create(s, under("d", file("x", "sub", 1))).await;
    let over = restoring("r3", to("1", "d", NameConflict::Overwrite));
    let refused = s.restore_recycle_item(&over, ids()).await;
    assert!(matches!(&refused, Err(StoreError::NameTaken(d)) if d.dentry_id == "x"), "{refused:?}");
    assert_eq!(status(s, "1", "s").await, "DELETED");
    // Only into the item's space, and only items of the filter.
    let elsewhere = restoring("r3", to("2", "0", NameConflict::Fail));
    let refused = s.restore_recycle_item(&elsewhere, ids()).await;
    assert!(matches!(refused, Err(StoreError::ParentNotFound)), "{refused:?}");
    for filter in [
        ItemFilter { app_id: Some("b".into()), ..every_item() },
        ItemFilter { corp_id: "e".into(), ..every_item() },
        ItemFilter { space_id: Some("2".into()), ..every_item() },
    ] {
        let outside = RestoreItem { filter, ..restoring("r3", to("1", "0", NameConflict::Fail)) };
        let refused = s.restore_recycle_item(&outside, ids()).await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    }
    let unknown = restoring("r9", to("1", "0", NameConflict::Fail));
    assert!(matches!(s.restore_recycle_item(&unknown, ids()).await, Err(StoreError::NotFound)));
    let in_space = RestoreItem {
        filter: ItemFilter { space_id: Some("1".into()), ..every_item() },
        ..restoring("r3", to("1", "0", NameConflict::Fail))
    };
    assert_eq!(s.restore_recycle_item(&in_space, ids()).await.unwrap().entries, 2);
    // Restoring checks the limits: /other/sub/b.txt is 16 characters.
    bin(s, "s", "r4", 100).await;
    let tight = RestoreItem {
        limits: TreeLimits { max_depth: 64, max_path_chars: 15 },
        ..restoring("r4", to("1", "o", NameConflict::Fail))
    };
    let refused = s.restore_recycle_item(&tight, ids()).await;
    assert!(matches!(refused, Err(StoreError::PathTooLong)), "{refused:?}");
    let tight = RestoreItem { limits: TreeLimits { max_depth: 2, max_path_chars: 1024 }, ..tight };
    let refused = s.restore_recycle_item(&tight, ids()).await;
    assert!(matches!(refused, Err(StoreError::TooDeep)), "{refused:?}");
    assert!(s.get_recycle_item("r4").await.unwrap().is_some());
    let fits = RestoreItem { limits: TreeLimits { max_depth: 3, max_path_chars: 16 }, ..tight };
    assert_eq!(s.restore_recycle_item(&fits, ids()).await.unwrap().entries, 2);
    assert_eq!(counters(s, "1", "c").await, (30, 0, 30, 0));
    assert_consistent(s).await;
}

pub async fn items_binned_under_a_deleted_folder_keep_their_own_items(s: &impl MetaStore) {
    tree(s, None, None).await;
    bin(s, "f1", "r1", 100).await;
    let removed = bin(s, "d", "r2", 200).await;
    assert_eq!(removed.entries, 3);
    assert_eq!(removed.recycle_item.unwrap().size, 5);
    let placed =
        s.restore_recycle_item(&restoring("r2", to("1", "0", NameConflict::Fail)), ids()).await;
    assert_eq!(placed.unwrap().entries, 3);
    assert_eq!(status(s, "1", "f1").await, "DELETED");
    assert_eq!(item_ids(&s.list_recycle_items(&every_item(), None, 10).await.unwrap()), ["r1"]);
    let placed =
        s.restore_recycle_item(&restoring("r1", to("1", "d", NameConflict::Fail)), ids()).await;
    assert_eq!(placed.unwrap().dentry.parent_id, "d");
    // Deleted for good, a folder leaves what was binned from it in the bin.
    bin(s, "f2", "r3", 300).await;
    let removed = remove(s, "d").await;
    let expected = Removed {
        entries: 3,
        freed_bytes: 3,
        trashed_objects: strings(&["objects/f1"]),
        recycle_item: None,
    };
    assert_eq!(removed, expected);
    assert_eq!(status(s, "1", "f2").await, "DELETED");
    assert_eq!(counters(s, "1", "c").await, (23, 0, 23, 0));
    let placed =
        s.restore_recycle_item(&restoring("r3", to("1", "0", NameConflict::Fail)), ids()).await;
    assert_eq!(placed.unwrap().dentry.parent_id, "0");
    assert_eq!(root_names(s, "1").await, ["b.txt", "other", "top.txt"]);
    assert_consistent(s).await;
}

pub async fn a_permanent_delete_frees_the_bytes_and_trashes_unreferenced_objects(
    s: &impl MetaStore,
) {
    tree(s, None, None).await;
    let newer = under("s", file("v", "b.txt", 13));
    s.put_dentry(&put(newer, NameConflict::Overwrite, None)).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (39, 0, 39, 0));
    let removed = remove(s, "d").await;
    let trashed = strings(&["objects/f1", "objects/f2", "objects/v"]);
    let expected = Removed {
        entries: 4,
        freed_bytes: 21,
        trashed_objects: trashed.clone(),
        recycle_item: None,
    };
    assert_eq!(removed, expected);
    for id in ["d", "f1", "s", "f2"] {
        assert!(s.get_dentry("1", id).await.unwrap().is_none(), "{id}");
    }
    assert!(s.get_version("f2", 1).await.unwrap().is_none());
    assert!(s.list_versions("f2", None, 10).await.unwrap().is_empty());
    let mut listed = s.trashed_objects(10).await.unwrap();
    listed.sort();
    assert_eq!(listed, trashed);
    assert_eq!(counters(s, "1", "c").await, (18, 0, 18, 0));
    let scan = s.consistency_scan().await.unwrap();
    let mut in_scan = scan.trashed_objects.clone();
    in_scan.sort();
    assert_eq!(in_scan, trashed);
    assert_eq!(scan.tree.len(), 3);
    // A file alone; then nothing is left to free.
    let removed = remove(s, "t").await;
    assert_eq!((removed.entries, removed.freed_bytes), (1, 11));
    assert_eq!(removed.trashed_objects, strings(&["objects/t"]));
    assert!(matches!(s.delete_dentry(&deleting("t", None)).await, Err(StoreError::NotFound)));
    assert_eq!(counters(s, "1", "c").await, (7, 0, 7, 0));
    assert_consistent(s).await;
}

pub async fn shared_objects_are_trashed_only_with_their_last_reference(s: &impl MetaStore) {
    tree(s, None, None).await;
    s.copy_dentry(&copying("f1", to("1", "0", NameConflict::Fail), "c1"), ids()).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (29, 0, 29, 0));
    let removed = remove(s, "f1").await;
    assert_eq!((removed.freed_bytes, removed.trashed_objects.len()), (3, 0));
    assert!(s.trashed_objects(10).await.unwrap().is_empty());
    // The copy alone refers to it now: binned, it still does.
    assert!(bin(s, "c1", "r1", 100).await.trashed_objects.is_empty());
    let purged = s.purge_recycle_items(&every_item(), None, "op").await.unwrap();
    let expected = Removed {
        entries: 1,
        freed_bytes: 3,
        trashed_objects: strings(&["objects/f1"]),
        recycle_item: None,
    };
    assert_eq!(purged, expected);
    assert_eq!(counters(s, "1", "c").await, (23, 0, 23, 0));
    // Versions refer too: a revert makes version 1's object current again.
    s.put_dentry(&put(under("o", file("w", "a.txt", 4)), NameConflict::Overwrite, None))
        .await
        .unwrap();
    let revert = RevertVersion {
        space_id: "1".into(),
        dentry_id: "f3".into(),
        version: 1,
        actor: actor(100),
    };
    s.revert_version(&revert).await.unwrap();
    // f3: objects/f3 now (7) and as version 1 (7), objects/w as version 2 (4).
    assert_eq!(counters(s, "1", "c").await, (34, 0, 34, 0));
    s.copy_dentry(&copying("f3", to("1", "0", NameConflict::Fail), "c2"), ids()).await.unwrap();
    let removed = remove(s, "f3").await;
    assert_eq!(removed.freed_bytes, 18);
    assert_eq!(removed.trashed_objects, strings(&["objects/w"]));
    let removed = remove(s, "c2").await;
    assert_eq!(removed.trashed_objects, strings(&["objects/f3"]));
    let mut trashed = s.trashed_objects(10).await.unwrap();
    trashed.sort();
    assert_eq!(trashed, strings(&["objects/f1", "objects/f3", "objects/w"]));
    assert_eq!(counters(s, "1", "c").await, (16, 0, 16, 0));
    // A kept version alone still refers to its object.
    s.copy_dentry(&copying("t", to("1", "o", NameConflict::Fail), "c3"), ids()).await.unwrap();
    let newer = under("o", file("y", "top.txt", 2));
    s.put_dentry(&put(newer, NameConflict::Overwrite, None)).await.unwrap();
    let removed = remove(s, "t").await;
    assert_eq!((removed.freed_bytes, removed.trashed_objects.len()), (11, 0));
    let removed = remove(s, "c3").await;
    assert_eq!(removed.freed_bytes, 13);
    assert_eq!(removed.trashed_objects, strings(&["objects/t", "objects/y"]));
    assert_eq!(counters(s, "1", "c").await, (5, 0, 5, 0));
    assert_consistent(s).await;
}

pub async fn purging_items_frees_their_bytes_and_trashes_their_objects(s: &impl MetaStore) {
    tree(s, None, None).await;
    s.insert_org(&org("e", None)).await.unwrap();
    s.insert_app(&app("b", "e", "k2")).await.unwrap();
    let elsewhere = SpaceRecord { corp_id: "e".into(), app_id: "b".into(), ..space("3", "2") };
    s.insert_space_once(&elsewhere).await.unwrap();
    create(s, DentryRecord { space_id: "2".into(), ..file("q", "q", 4) }).await;
    let in_3 = DentryRecord { space_id: "3".into(), ..file("x", "x", 6) };
    let in_3 = PutDentry { corp_id: "e".into(), ..put(in_3, NameConflict::Fail, None) };
    s.put_dentry(&in_3).await.unwrap();
    let newer = under("s", file("v", "b.txt", 13));
    s.put_dentry(&put(newer, NameConflict::Overwrite, None)).await.unwrap();
    bin(s, "f1", "r1", 100).await;
    bin(s, "f3", "r2", 100).await;
    bin(s, "s", "r3", 100).await;
    let in_2 = DeleteDentry { space_id: "2".into(), ..deleting("q", Some("r4")) };
    s.delete_dentry(&in_2).await.unwrap();
    let other_org = DeleteDentry {
        space_id: "3".into(),
        actor: Actor { corp_id: "e".into(), ..actor(100) },
        ..deleting("x", Some("r5"))
    };
    s.delete_dentry(&other_org).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (39, 0, 43, 0));
    // One space's items.
    let space_2 = ItemFilter { space_id: Some("2".into()), ..every_item() };
    let purged = s.purge_recycle_items(&space_2, None, "op").await.unwrap();
    assert_eq!(
        purged,
        Removed {
            entries: 1,
            freed_bytes: 4,
            trashed_objects: strings(&["objects/q"]),
            recycle_item: None
        }
    );
    assert_eq!(s.get_space("2").await.unwrap().unwrap().used_bytes, 0);
    // The items named, of the filter only.
    let named = strings(&["r1", "r5", "nope", "r3"]);
    let purged = s.purge_recycle_items(&every_item(), Some(&named), "op").await.unwrap();
    let expected = Removed {
        entries: 3,
        freed_bytes: 3 + 13 + 5,
        trashed_objects: strings(&["objects/f1", "objects/f2", "objects/v"]),
        recycle_item: None,
    };
    assert_eq!(purged, expected);
    assert!(s.get_recycle_item("r5").await.unwrap().is_some());
    assert!(s.get_dentry("1", "f2").await.unwrap().is_none());
    assert!(s.get_version("f2", 1).await.unwrap().is_none());
    assert_eq!(counters(s, "1", "c").await, (18, 0, 18, 0));
    let none = s.purge_recycle_items(&every_item(), Some(&[]), "op").await.unwrap();
    assert_eq!(none, Removed::default());
    let left = s.list_recycle_items(&every_item(), None, 10).await.unwrap();
    assert_eq!(item_ids(&left), ["r2"]);
    // Everything left of the filter.
    let purged = s.purge_recycle_items(&every_item(), None, "op").await.unwrap();
    assert_eq!((purged.entries, purged.freed_bytes), (1, 7));
    assert!(s.list_recycle_items(&every_item(), None, 10).await.unwrap().is_empty());
    let org_e = ItemFilter { corp_id: "e".into(), app_id: Some("b".into()), space_id: None };
    assert_eq!(item_ids(&s.list_recycle_items(&org_e, None, 10).await.unwrap()), ["r5"]);
    assert_eq!(s.org_used_bytes("e").await.unwrap(), 6);
    assert_eq!(counters(s, "1", "c").await, (11, 0, 11, 0));
    assert_consistent(s).await;
}

pub async fn trashed_objects_are_listed_oldest_first_and_forgotten(s: &impl MetaStore) {
    tree(s, None, None).await;
    for id in ["f1", "t", "f3"] {
        remove(s, id).await;
    }
    let oldest_first = strings(&["objects/f1", "objects/t", "objects/f3"]);
    assert_eq!(s.trashed_objects(10).await.unwrap(), oldest_first);
    assert_eq!(s.trashed_objects(2).await.unwrap(), oldest_first[..2]);
    s.forget_trash(&strings(&["objects/t", "objects/unknown"])).await.unwrap();
    s.forget_trash(&[]).await.unwrap();
    assert_eq!(s.trashed_objects(10).await.unwrap(), strings(&["objects/f1", "objects/f3"]));
    assert_eq!(s.consistency_scan().await.unwrap().trashed_objects.len(), 2);
    s.forget_trash(&strings(&["objects/f1", "objects/f3"])).await.unwrap();
    assert!(s.trashed_objects(10).await.unwrap().is_empty());
    assert_consistent(s).await;
}

pub async fn a_recycle_bin_is_stored_once_per_scope(s: &impl MetaStore) {
    let bin = |id: &str, scope, scope_id: &str| RecycleBinRecord {
        recycle_bin_id: id.into(),
        corp_id: "c".into(),
        scope,
        scope_id: scope_id.into(),
        created_at: 1,
    };
    let first = bin("b1", RecycleScope::Space, "1");
    assert_eq!(s.recycle_bin_once(&first).await.unwrap(), first);
    let again = RecycleBinRecord { created_at: 2, ..bin("b2", RecycleScope::Space, "1") };
    assert_eq!(s.recycle_bin_once(&again).await.unwrap(), first);
    assert_eq!(s.get_recycle_bin("b1").await.unwrap(), Some(first.clone()));
    assert_eq!(s.get_recycle_bin("b2").await.unwrap(), None);
    for (id, scope, scope_id) in [
        ("b3", RecycleScope::App, "1"),
        ("b4", RecycleScope::Org, "c"),
        ("b5", RecycleScope::Space, "2"),
    ] {
        let other = bin(id, scope, scope_id);
        assert_eq!(s.recycle_bin_once(&other).await.unwrap(), other);
        assert_eq!(s.get_recycle_bin(id).await.unwrap(), Some(other));
    }
    let other_org = RecycleBinRecord { corp_id: "e".into(), ..bin("b6", RecycleScope::Space, "1") };
    assert_eq!(s.recycle_bin_once(&other_org).await.unwrap(), other_org);
    let taken = s.recycle_bin_once(&bin("b1", RecycleScope::App, "9")).await;
    assert!(matches!(taken, Err(StoreError::Duplicate(Key::RecycleId))), "{taken:?}");
    let racing: Vec<_> = (0..8)
        .map(|i| {
            let candidate = bin(&format!("r{i}"), RecycleScope::App, "a");
            async move { s.recycle_bin_once(&candidate).await.unwrap() }
        })
        .collect();
    let stored: HashSet<String> =
        join_all(racing).await.into_iter().map(|b| b.recycle_bin_id).collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
}

pub async fn recycle_items_are_listed_newest_first_in_keyset_pages(s: &impl MetaStore) {
    tree(s, None, None).await;
    create(s, DentryRecord { space_id: "2".into(), ..file("q", "q", 4) }).await;
    bin(s, "f1", "r1", 100).await;
    bin(s, "f3", "r2", 200).await;
    bin(s, "t", "r3", 200).await;
    let in_2 =
        DeleteDentry { actor: actor(150), space_id: "2".into(), ..deleting("q", Some("r4")) };
    s.delete_dentry(&in_2).await.unwrap();
    let all = s.list_recycle_items(&every_item(), None, 10).await.unwrap();
    assert_eq!(item_ids(&all), ["r3", "r2", "r4", "r1"]);
    for limit in [1, 2, 3] {
        let mut seen = Vec::new();
        let mut after: Option<ItemCursor> = None;
        loop {
            let page = s.list_recycle_items(&every_item(), after.as_ref(), limit).await.unwrap();
            assert!(page.len() <= limit as usize);
            let Some(last) = page.last() else { break };
            after = Some(ItemCursor {
                deleted_at: last.deleted_at,
                recycle_item_id: last.recycle_item_id.clone(),
            });
            seen.extend(page.into_iter().map(|i| i.recycle_item_id));
            assert!(seen.len() <= all.len(), "pages repeat: {seen:?}");
        }
        assert_eq!(seen, ["r3", "r2", "r4", "r1"], "limit {limit}");
    }
    let space_1 = ItemFilter { space_id: Some("1".into()), ..every_item() };
    assert_eq!(
        item_ids(&s.list_recycle_items(&space_1, None, 10).await.unwrap()),
        ["r3", "r2", "r1"]
    );
    let after = ItemCursor { deleted_at: 200, recycle_item_id: "r25".into() };
    let page = s.list_recycle_items(&space_1, Some(&after), 10).await.unwrap();
    assert_eq!(item_ids(&page), ["r2", "r1"]);
    let page = s.list_recycle_items(&every_item(), Some(&after), 2).await.unwrap();
    assert_eq!(item_ids(&page), ["r2", "r4"]);
    for filter in [
        ItemFilter { app_id: Some("b".into()), ..every_item() },
        ItemFilter { corp_id: "e".into(), ..every_item() },
        ItemFilter { space_id: Some("3".into()), ..every_item() },
    ] {
        assert!(s.list_recycle_items(&filter, None, 10).await.unwrap().is_empty(), "{filter:?}");
    }
    assert_eq!(counters(s, "1", "c").await, (26, 0, 30, 0));
    assert_consistent(s).await;
    // Without an app, the filter covers every app's spaces of the org.
    s.insert_app(&app("b", "c", "k2")).await.unwrap();
    let of_b = SpaceRecord { app_id: "b".into(), ..space("3", "2") };
    s.insert_space_once(&of_b).await.unwrap();
    create(s, DentryRecord { space_id: "3".into(), ..file("y", "y", 2) }).await;
    let in_3 =
        DeleteDentry { actor: actor(175), space_id: "3".into(), ..deleting("y", Some("r5")) };
    s.delete_dentry(&in_3).await.unwrap();
    let org = ItemFilter { app_id: None, ..every_item() };
    let listed = s.list_recycle_items(&org, None, 10).await.unwrap();
    assert_eq!(item_ids(&listed), ["r3", "r2", "r5", "r4", "r1"]);
    let mut seen = Vec::new();
    let mut after: Option<ItemCursor> = None;
    loop {
        let page = s.list_recycle_items(&org, after.as_ref(), 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(ItemCursor {
            deleted_at: last.deleted_at,
            recycle_item_id: last.recycle_item_id.clone(),
        });
        seen.extend(page.into_iter().map(|i| i.recycle_item_id));
    }
    assert_eq!(seen, ["r3", "r2", "r5", "r4", "r1"]);
    let of_b = ItemFilter { app_id: Some("b".into()), ..every_item() };
    assert_eq!(item_ids(&s.list_recycle_items(&of_b, None, 10).await.unwrap()), ["r5"]);
    let space_3 = ItemFilter { space_id: Some("3".into()), ..org.clone() };
    assert_eq!(item_ids(&s.list_recycle_items(&space_3, None, 10).await.unwrap()), ["r5"]);
    let space_3_of_a = ItemFilter { space_id: Some("3".into()), ..every_item() };
    assert!(s.list_recycle_items(&space_3_of_a, None, 10).await.unwrap().is_empty());
    assert_eq!(item_ids(&s.list_recycle_items(&every_item(), None, 10).await.unwrap()).len(), 4);
    let other_org = ItemFilter { corp_id: "e".into(), app_id: None, space_id: None };
    assert!(s.list_recycle_items(&other_org, None, 10).await.unwrap().is_empty());
    // ... and purges likewise.
    let purged = s.purge_recycle_items(&org, Some(&strings(&["r5", "r1"])), "op").await.unwrap();
    assert_eq!(purged.entries, 2);
    assert_consistent(s).await;
}

pub(super) fn task(task_id: &str, op: TaskOp, created_at: i64) -> TaskRecord {
    TaskRecord {
        task_id: task_id.into(),
        corp_id: "c".into(),
        app_id: "a".into(),
        operator_id: "op".into(),
        op,
        status: TaskStatus::Init,
        total_count: 0,
        success_count: 0,
        fail_count: 0,
        fail_message: None,
        attempts: 0,
        created_at,
        begin_at: None,
        end_at: None,
    }
}

pub(super) fn move_op(dentry_id: &str) -> TaskOp {
    TaskOp::Move {
        space_id: "1".into(),
        dentry_id: dentry_id.into(),
        target_space_id: "1".into(),
        target_parent_id: "0".into(),
        conflict: "FAIL".into(),
        keep_grants: true,
        protect_owner_grants: true,
    }
}

pub async fn tasks_are_stored_started_and_failed(s: &impl MetaStore) {
    let copy = TaskOp::Copy {
        space_id: "1".into(),
        dentry_id: "d".into(),
        target_space_id: "2".into(),
        target_parent_id: "p".into(),
        conflict: "AUTO_RENAME".into(),
        new_dentry_id: "n".into(),
        new_uuid: "nu".into(),
    };
    let tasks = [
        task("t1", move_op("f"), 3),
        task("t2", copy, 1),
        task(
            "t3",
            TaskOp::Delete {
                space_id: "1".into(),
                dentry_id: "d".into(),
                recycle_item_id: Some("r".into()),
            },
            2,
        ),
        task(
            "t4",
            TaskOp::Restore { recycle_item_id: "r".into(), conflict: "OVERWRITE".into() },
            1,
        ),
        TaskRecord {
            total_count: 5,
            ..task(
                "t5",
                TaskOp::Delete {
                    space_id: "1".into(),
                    dentry_id: "e".into(),
                    recycle_item_id: None,
                },
                4,
            )
        },
    ];
    for t in &tasks {
        s.insert_task(t, 64).await.unwrap();
    }
    for t in &tasks {
        assert_eq!(s.get_task(&t.task_id).await.unwrap().as_ref(), Some(t));
    }
    assert_eq!(s.get_task("t9").await.unwrap(), None);
    let taken = s.insert_task(&task("t1", move_op("g"), 9), 64).await;
    assert!(matches!(taken, Err(StoreError::Duplicate(Key::TaskId))), "{taken:?}");
    // Started: each attempt counted, begun once.
    let started = s.start_task("t1", &claim(1, 10)).await.unwrap().unwrap();
    let expected = TaskRecord {
        status: TaskStatus::InProgress,
        attempts: 1,
        begin_at: Some(10),
        ..tasks[0].clone()
    };
    assert_eq!(started, expected);
    let again = s.start_task("t1", &claim(1, 20)).await.unwrap().unwrap();
    assert_eq!((again.attempts, again.begin_at), (2, Some(10)));
    assert_eq!(s.get_task("t1").await.unwrap(), Some(again.clone()));
    // Failed: once.
    s.fail_task("t1", "boom", 30).await.unwrap();
    let failed = TaskRecord {
        status: TaskStatus::Fail,
        fail_count: 1,
        fail_message: Some("boom".into()),
        end_at: Some(30),
        ..again
    };
    assert_eq!(s.get_task("t1").await.unwrap(), Some(failed.clone()));
    s.fail_task("t1", "again", 40).await.unwrap();
    assert_eq!(s.get_task("t1").await.unwrap(), Some(failed));
    assert_eq!(s.start_task("t1", &claim(1, 50)).await.unwrap(), None);
    assert_eq!(s.start_task("t9", &claim(1, 50)).await.unwrap(), None);
    s.fail_task("t9", "unknown", 50).await.unwrap();
    s.fail_task("t5", "half", 35).await.unwrap();
    let t5 = s.get_task("t5").await.unwrap().unwrap();
    assert_eq!(
        (t5.status, t5.total_count, t5.success_count, t5.fail_count),
        (TaskStatus::Fail, 5, 0, 5)
    );
    let unfinished: Vec<String> =
        s.unfinished_tasks(None).await.unwrap().into_iter().map(|t| t.task_id).collect();
    assert_eq!(unfinished, ["t2", "t4", "t3"]);
    // The cap counts the app's unfinished tasks: t2, t3 and t4.
    let capped = s.insert_task(&task("t6", move_op("g"), 1), 3).await;
    assert!(matches!(capped, Err(StoreError::TooManyTasks)), "{capped:?}");
    assert_eq!(s.get_task("t6").await.unwrap(), None);
    s.insert_task(&task("t6", move_op("g"), 1), 4).await.unwrap();
    // Purged once finished before the time given.
    assert_eq!(s.purge_finished_tasks(30).await.unwrap(), 0);
    assert_eq!(s.purge_finished_tasks(31).await.unwrap(), 1);
    assert_eq!(s.get_task("t1").await.unwrap(), None);
    assert_eq!(s.purge_finished_tasks(1000).await.unwrap(), 1);
    assert_eq!(s.get_task("t5").await.unwrap(), None);
    assert!(s.get_task("t2").await.unwrap().is_some(), "unfinished tasks stay");
}

/// Node `node`'s claim at `now_ms` for a minute.
fn claim(node: i64, now_ms: i64) -> Lease {
    Lease { node, now_ms, until_ms: now_ms + 60_000, steal: false }
}

pub async fn a_task_is_claimed_by_one_node_until_its_claim_expires(s: &impl MetaStore) {
    tree(s, None, None).await;
    for id in ["a", "b"] {
        s.insert_task(&task(id, move_op("f3"), 1), 64).await.unwrap();
    }
    // Never claimed: every node may start it; racing nodes, one wins.
    assert_eq!(s.unfinished_tasks(Some(0)).await.unwrap().len(), 2);
    let claims: Vec<Lease> = (1..=8).map(|node| claim(node, 100)).collect();
    let racing: Vec<_> = claims.iter().map(|c| s.start_task("a", c)).collect();
    let started: Vec<_> = join_all(racing).await.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(started.iter().flatten().count(), 1, "{started:?}");
    let winner = (1..=8).zip(&started).find(|(_, t)| t.is_some()).unwrap().0;
    let loser = if winner == 1 { 2 } else { 1 };
    // Claimed: others are refused until it expires; its node renews it.
    assert_eq!(s.start_task("a", &claim(loser, 60_099)).await.unwrap(), None);
    let renewed = s.start_task("a", &claim(winner, 60_099)).await.unwrap().unwrap();
    assert_eq!(renewed.attempts, 2);
    let ids = |tasks: Vec<TaskRecord>| tasks.into_iter().map(|t| t.task_id).collect::<Vec<_>>();
    assert_eq!(ids(s.unfinished_tasks(Some(120_098)).await.unwrap()), ["b"]);
    assert_eq!(ids(s.unfinished_tasks(None).await.unwrap()), ["a", "b"]);
    // A steal takes it at once; an expired claim is taken by anyone.
    let steal = Lease { steal: true, ..claim(loser, 60_100) };
    assert_eq!(s.start_task("a", &steal).await.unwrap().unwrap().attempts, 3);
    assert_eq!(s.start_task("a", &claim(winner, 120_099)).await.unwrap(), None);
    assert_eq!(ids(s.unfinished_tasks(Some(120_100)).await.unwrap()), ["a", "b"]);
    assert_eq!(s.start_task("a", &claim(winner, 120_100)).await.unwrap().unwrap().attempts, 4);
    // A finished task is claimed by no one.
    s.fail_task("a", "done", 120_200).await.unwrap();
    assert_eq!(
        s.start_task("a", &Lease { steal: true, ..claim(loser, 999_999) }).await.unwrap(),
        None
    );
    assert_eq!(ids(s.unfinished_tasks(Some(999_999)).await.unwrap()), ["b"]);
}

pub async fn a_change_completes_its_task_in_its_transaction(s: &impl MetaStore) {
    tree(s, None, None).await;
    for id in ["m", "x", "e", "c", "d", "r", "p"] {
        s.insert_task(&task(id, move_op("f3"), 1), 64).await.unwrap();
    }
    s.start_task("m", &claim(1, 5)).await.unwrap();
    let with_task = |id: &str, dest, task_id: &str| MoveDentry {
        task_id: Some(task_id.into()),
        ..moving(id, dest)
    };
    // A refused change leaves its task unfinished.
    let refused =
        s.move_dentry(&with_task("f3", to("1", "d", NameConflict::Fail), "m"), ids()).await;
    assert!(matches!(refused, Err(StoreError::NameTaken(_))), "{refused:?}");
    let m = s.get_task("m").await.unwrap().unwrap();
    assert_eq!((m.status, m.end_at), (TaskStatus::InProgress, None));
    let moved = s.move_dentry(&with_task("f3", to("1", "0", NameConflict::Fail), "m"), ids()).await;
    assert_eq!(moved.unwrap().entries, 1);
    let m = s.get_task("m").await.unwrap().unwrap();
    let done = (TaskStatus::Success, 1, 1, 0, Some(100));
    assert_eq!((m.status, m.total_count, m.success_count, m.fail_count, m.end_at), done);
    assert_eq!(m.begin_at, Some(5));
    // A task's change happens once: a finished or unknown task refuses it.
    for task_id in ["m", "unknown"] {
        let again =
            s.move_dentry(&with_task("t", to("1", "d", NameConflict::Fail), task_id), ids()).await;
        assert!(matches!(again, Err(StoreError::NotFound)), "{task_id}");
    }
    assert_eq!(s.get_dentry("1", "t").await.unwrap().unwrap().parent_id, "0");
    // ReturnExisting completes it with nothing done.
    let existing = with_task("f3", to("1", "d", NameConflict::ReturnExisting), "x");
    assert!(s.move_dentry(&existing, ids()).await.unwrap().existing);
    let x = s.get_task("x").await.unwrap().unwrap();
    assert_eq!((x.status, x.total_count, x.success_count), (TaskStatus::Success, 0, 0));
    // Across spaces, every row counts; so for copies, deletes and restores.
    let across = with_task("d", to("2", "0", NameConflict::Fail), "e");
    assert_eq!(s.move_dentry(&across, ids()).await.unwrap().entries, 4);
    assert_eq!(s.get_task("e").await.unwrap().unwrap().success_count, 4);
    let copy = CopyDentry {
        task_id: Some("c".into()),
        ..copying("o", to("1", "0", auto("o(", ")")), "c1")
    };
    assert_eq!(s.copy_dentry(&copy, ids()).await.unwrap().entries, 1);
    assert_eq!(s.get_task("c").await.unwrap().unwrap().total_count, 1);
    let delete = DeleteDentry { task_id: Some("d".into()), ..deleting("o", Some("r1")) };
    assert_eq!(s.delete_dentry(&delete).await.unwrap().entries, 1);
    assert_eq!(s.get_task("d").await.unwrap().unwrap().status, TaskStatus::Success);
    let restore = RestoreItem {
        task_id: Some("r".into()),
        ..restoring("r1", to("1", "0", NameConflict::Fail))
    };
    assert_eq!(s.restore_recycle_item(&restore, ids()).await.unwrap().entries, 1);
    assert_eq!(s.get_task("r").await.unwrap().unwrap().total_count, 1);
    let purge = DeleteDentry { task_id: Some("p".into()), ..deleting("c1", None) };
    assert_eq!(s.delete_dentry(&purge).await.unwrap().entries, 1);
    let p = s.get_task("p").await.unwrap().unwrap();
    assert_eq!((p.status, p.total_count, p.end_at), (TaskStatus::Success, 1, Some(100)));
    assert!(s.unfinished_tasks(None).await.unwrap().is_empty());
    assert_consistent(s).await;
}
