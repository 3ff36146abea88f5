//! Behaviour of tree changes: rename, move (within and across spaces),
//! copy, the limits and conflict rules they keep, versions and reverts, app
//! property edits.

use std::collections::HashSet;

use super::fixtures::*;
use crate::*;

fn names(dentries: &[DentryRecord]) -> Vec<&str> {
    dentries.iter().map(|d| d.name.as_str()).collect()
}

async fn children(s: &impl MetaStore, space_id: &str, parent_id: &str) -> Vec<DentryRecord> {
    s.list_children(space_id, parent_id, SortKey::Name, false, None, 100).await.unwrap()
}

async fn dentry(s: &impl MetaStore, space_id: &str, id: &str) -> DentryRecord {
    s.get_dentry(space_id, id).await.unwrap().unwrap_or_else(|| panic!("no dentry {id}"))
}

async fn path(s: &impl MetaStore, space_id: &str, folder_id: &str) -> Option<Vec<String>> {
    s.folder_names(space_id, folder_id).await.unwrap()
}

fn limits(max_depth: u32, max_path_chars: u32) -> TreeLimits {
    TreeLimits { max_depth, max_path_chars }
}

pub async fn rename_changes_the_name_and_the_modifier(s: &impl MetaStore) {
    tree(s, None, None).await;
    let renamed = s.rename_dentry(&rename("f1", "c.txt")).await.unwrap();
    let expected = DentryRecord {
        name: "c.txt".into(),
        modifier_id: "op".into(),
        modified_at: 100,
        ..under("d", file("f1", "a.txt", 3))
    };
    assert_eq!(renamed, expected);
    assert_eq!(dentry(s, "1", "f1").await, expected);
    // Its own name: only the modifier changes.
    let again = RenameDentry { actor: actor(200), ..rename("f1", "c.txt") };
    let again = s.rename_dentry(&again).await.unwrap();
    assert_eq!((again.name.as_str(), again.modified_at), ("c.txt", 200));
    // A live sibling's name is taken, files and folders alike.
    let taken = s.rename_dentry(&rename("f1", "sub")).await;
    assert!(matches!(&taken, Err(StoreError::NameTaken(d)) if d.dentry_id == "s"), "{taken:?}");
    // Not live in the space.
    for (space, id) in [("1", "missing"), ("2", "f1")] {
        let r = RenameDentry { space_id: space.into(), ..rename(id, "x") };
        assert!(matches!(s.rename_dentry(&r).await, Err(StoreError::NotFound)), "{space}/{id}");
    }
    s.delete_dentry(&deleting("f3", Some("r1"))).await.unwrap();
    assert!(matches!(s.rename_dentry(&rename("f3", "x")).await, Err(StoreError::NotFound)));
    // Paths in the renamed folder's subtree keep the limit: /docs/sub/b.txt
    // is 15 characters; each character more on `docs` is one more.
    let tight = |id: &str, name: &str| RenameDentry { limits: limits(64, 20), ..rename(id, name) };
    let at_limit = s.rename_dentry(&tight("d", "docs12345")).await.unwrap();
    assert_eq!(at_limit.name, "docs12345");
    let over = s.rename_dentry(&tight("d", "docs123456")).await;
    assert!(matches!(over, Err(StoreError::PathTooLong)), "{over:?}");
    // Characters, not bytes: 9 two-byte characters fit where 9 bytes do.
    s.rename_dentry(&tight("d", "d")).await.unwrap();
    assert_eq!(s.rename_dentry(&tight("d", "ééééééééé")).await.unwrap().name, "ééééééééé");
    let over = s.rename_dentry(&tight("d", "éééééééééé")).await;
    assert!(matches!(over, Err(StoreError::PathTooLong)), "{over:?}");
    // A file's own path: /top.txt → / + 20 characters.
    let over = s.rename_dentry(&tight("t", "01234567890123456789")).await;
    assert!(matches!(over, Err(StoreError::PathTooLong)), "{over:?}");
    assert_eq!(dentry(s, "1", "t").await.name, "top.txt");
    assert_eq!(dentry(s, "1", "d").await.name, "ééééééééé");
    assert_eq!(counters(s, "1", "c").await, (26, 0, 26, 0));
    assert_consistent(s).await;
}

pub async fn a_move_within_a_space_changes_one_row(s: &impl MetaStore) {
    tree(s, None, None).await;
    let placed = s.move_dentry(&moving("s", to("1", "o", NameConflict::Fail)), ids()).await;
    let placed = placed.unwrap();
    let expected = DentryRecord {
        modifier_id: "op".into(),
        modified_at: 100,
        ..under("o", folder("s", "sub"))
    };
    assert_eq!(
        placed,
        Placed { dentry: expected.clone(), existing: false, entries: 1, replaced: None }
    );
    assert_eq!(dentry(s, "1", "s").await, expected);
    // The children follow without changing.
    assert_eq!(dentry(s, "1", "f2").await, under("s", file("f2", "b.txt", 5)));
    assert_eq!(path(s, "1", "s").await, Some(vec!["other".into(), "sub".into()]));
    assert_eq!(names(&children(s, "1", "d").await), ["a.txt"]);
    assert_eq!(names(&children(s, "1", "o").await), ["a.txt", "sub"]);
    assert_eq!(s.subtree_size("1", "o").await.unwrap(), 4);
    assert_eq!(s.subtree_size("1", "d").await.unwrap(), 2);
    assert_eq!(s.subtree_size("1", "f2").await.unwrap(), 1);
    assert_eq!(s.subtree_size("1", "missing").await.unwrap(), 0);
    assert_eq!(s.subtree_size("2", "o").await.unwrap(), 0);
    // A file, to the root and back down.
    let placed = s.move_dentry(&moving("f1", to("1", "0", NameConflict::Fail)), ids()).await;
    assert_eq!(placed.unwrap().dentry.parent_id, "0");
    let placed = s.move_dentry(&moving("f1", to("1", "s", NameConflict::Fail)), ids()).await;
    assert_eq!(placed.unwrap().entries, 1);
    assert_eq!(names(&children(s, "1", "s").await), ["a.txt", "b.txt"]);
    assert_eq!(counters(s, "1", "c").await, (26, 0, 26, 0));
    assert_consistent(s).await;
}

/// A plain file move ([`TreeStore::move_plain_file`]) is the move itself
/// when the store applies it (its event appended); a store may decline
/// it. Everything that is not plain is declined with nothing written: a
/// folder, a taken name, a missing target or a file as target, another
/// space, a task's move, an actor of another org, a grant on the file, a
/// path past the limits.
pub async fn a_plain_file_move_is_the_move_and_anything_else_is_declined(s: &impl MetaStore) {
    tree(s, None, None).await;
    let on_the_file = grant("1", "f2", "USER", "bob", "EDITOR");
    s.write_grants(&writing(GrantWrite::Add, vec![on_the_file])).await.unwrap();
    let seq = s.last_event_seq().await.unwrap();
    let plain = |id: &str, parent: &str| moving(id, to("1", parent, NameConflict::Fail));
    let not_plain = [
        plain("d", "o"),
        plain("f1", "o"),
        plain("t", "missing"),
        plain("t", "f3"),
        moving("t", to("2", "0", NameConflict::Fail)),
        MoveDentry { task_id: Some("task".into()), ..plain("t", "o") },
        MoveDentry { actor: Actor { corp_id: "e".into(), ..actor(100) }, ..plain("t", "o") },
        plain("f2", "o"),
        MoveDentry { limits: TreeLimits { max_depth: 1, ..TREE }, ..plain("t", "o") },
    ];
    for m in &not_plain {
        let declined = s.move_plain_file(m).await;
        assert!(matches!(declined, Ok(None)), "{m:?}: {declined:?}");
    }
    assert_eq!(s.last_event_seq().await.unwrap(), seq);
    assert_eq!(dentry(s, "1", "d").await, folder("d", "docs"));
    assert_eq!(dentry(s, "1", "f1").await, under("d", file("f1", "a.txt", 3)));
    assert_eq!(dentry(s, "1", "f2").await, under("s", file("f2", "b.txt", 5)));
    assert_eq!(dentry(s, "1", "t").await, file("t", "top.txt", 11));
    let expected = DentryRecord {
        modifier_id: "op".into(),
        modified_at: 100,
        ..under("o", file("t", "top.txt", 11))
    };
    match s.move_plain_file(&plain("t", "o")).await.unwrap() {
        Some(placed) => {
            let moved =
                Placed { dentry: expected.clone(), existing: false, entries: 1, replaced: None };
            assert_eq!(placed, moved);
            assert_eq!(dentry(s, "1", "t").await, expected);
            assert_eq!(s.last_event_seq().await.unwrap(), seq + 1);
        }
        None => assert_eq!(dentry(s, "1", "t").await, file("t", "top.txt", 11)),
    }
    assert_consistent(s).await;
}

pub async fn moving_to_where_it_is_changes_only_the_modifier(s: &impl MetaStore) {
    tree(s, None, None).await;
    for conflict in [NameConflict::Fail, auto("docs(", ")"), NameConflict::Overwrite] {
        let placed = s.move_dentry(&moving("d", to("1", "0", conflict)), ids()).await.unwrap();
        let expected =
            DentryRecord { modifier_id: "op".into(), modified_at: 100, ..folder("d", "docs") };
        assert_eq!(placed.dentry, expected);
        assert!(!placed.existing && placed.replaced.is_none());
    }
    let placed = s.move_dentry(&moving("f1", to("1", "d", NameConflict::Fail)), ids()).await;
    assert_eq!(placed.unwrap().dentry.name, "a.txt");
    assert_eq!(names(&children(s, "1", "0").await), ["docs", "other", "top.txt"]);
    assert!(s.list_recycle_items(&every_item(), None, 10).await.unwrap().is_empty());
    assert_consistent(s).await;
}

pub async fn a_folder_cannot_go_into_itself(s: &impl MetaStore) {
    tree(s, None, None).await;
    create(s, under("s", folder("x", "deep"))).await;
    for target in ["d", "s", "x"] {
        let moved = s.move_dentry(&moving("d", to("1", target, NameConflict::Fail)), ids()).await;
        assert!(matches!(moved, Err(StoreError::IntoItself)), "move into {target}: {moved:?}");
        let copy = copying("d", to("1", target, auto("docs(", ")")), "c1");
        let copied = s.copy_dentry(&copy, ids()).await;
        assert!(matches!(copied, Err(StoreError::IntoItself)), "copy into {target}: {copied:?}");
    }
    let moved = s.move_dentry(&moving("s", to("1", "x", NameConflict::Fail)), ids()).await;
    assert!(matches!(moved, Err(StoreError::IntoItself)), "{moved:?}");
    assert_eq!(dentry(s, "1", "d").await, folder("d", "docs"));
    assert_eq!(dentry(s, "1", "s").await, under("d", folder("s", "sub")));
    assert!(s.get_dentry("1", "c1").await.unwrap().is_none());
    // Next to itself is fine.
    let placed = s.move_dentry(&moving("x", to("1", "d", NameConflict::Fail)), ids()).await;
    assert_eq!(placed.unwrap().dentry.parent_id, "d");
    assert_eq!(counters(s, "1", "c").await, (26, 0, 26, 0));
    assert_consistent(s).await;
}

pub async fn move_conflicts_follow_the_rule(s: &impl MetaStore) {
    tree(s, None, None).await;
    // /other/a.txt into /docs, where a.txt is taken.
    let into_docs = |id: &str, conflict| moving(id, to("1", "d", conflict));
    let failed = s.move_dentry(&into_docs("f3", NameConflict::Fail), ids()).await;
    assert!(matches!(&failed, Err(StoreError::NameTaken(d)) if d.dentry_id == "f1"), "{failed:?}");
    let existing = s.move_dentry(&into_docs("f3", NameConflict::ReturnExisting), ids()).await;
    let expected_existing = under("d", file("f1", "a.txt", 3));
    assert_eq!(
        existing.unwrap(),
        Placed { dentry: expected_existing, existing: true, entries: 0, replaced: None }
    );
    assert_eq!(dentry(s, "1", "f3").await, under("o", file("f3", "a.txt", 7)));
    // Overwrite: the file that had the name goes to the bin.
    let placed = s.move_dentry(&into_docs("f3", NameConflict::Overwrite), ids()).await.unwrap();
    let item = RecycleItemRecord {
        recycle_item_id: "1000".into(),
        corp_id: "c".into(),
        app_id: "a".into(),
        space_id: "1".into(),
        dentry_id: "f1".into(),
        kind: "FILE".into(),
        name: "a.txt".into(),
        path: "/docs/a.txt".into(),
        parent_id: "d".into(),
        size: 3,
        operator_id: "op".into(),
        deleted_at: 100,
        entries: 1,
    };
    assert_eq!(placed.replaced, Some(item.clone()));
    assert_eq!((placed.dentry.dentry_id.as_str(), placed.dentry.name.as_str()), ("f3", "a.txt"));
    assert_eq!(placed.dentry.parent_id, "d");
    assert_eq!(s.get_recycle_item("1000").await.unwrap(), Some(item));
    assert_eq!(dentry(s, "1", "f1").await.status, "DELETED");
    assert_eq!(names(&children(s, "1", "d").await), ["a.txt", "sub"]);
    assert!(children(s, "1", "o").await.is_empty());
    // Binned bytes still count.
    assert_eq!(counters(s, "1", "c").await, (26, 0, 26, 0));
    // AutoRename takes the first free counter.
    create(s, under("o", file("g", "a.txt", 1))).await;
    create(s, under("d", file("g1", "a(1).txt", 1))).await;
    let placed = s.move_dentry(&into_docs("g", auto("a(", ").txt")), ids()).await.unwrap();
    assert_eq!(placed.dentry.name, "a(2).txt");
    // A folder is never overwritten, nor overwrites.
    create(s, under("o", folder("h", "sub"))).await;
    let refused = s.move_dentry(&into_docs("h", NameConflict::Overwrite), ids()).await;
    assert!(matches!(&refused, Err(StoreError::NameTaken(d)) if d.dentry_id == "s"), "{refused:?}");
    create(s, file("k", "sub", 1)).await;
    let refused = s.move_dentry(&into_docs("k", NameConflict::Overwrite), ids()).await;
    assert!(matches!(&refused, Err(StoreError::NameTaken(d)) if d.dentry_id == "s"), "{refused:?}");
    let onto_file = s.move_dentry(&moving("h", to("1", "0", NameConflict::Overwrite)), ids()).await;
    assert!(
        matches!(&onto_file, Err(StoreError::NameTaken(d)) if d.dentry_id == "k"),
        "{onto_file:?}"
    );
    assert_eq!(dentry(s, "1", "h").await.parent_id, "o");
    assert_eq!(dentry(s, "1", "k").await.parent_id, "0");
    assert_eq!(s.list_recycle_items(&every_item(), None, 10).await.unwrap().len(), 1);
    assert_eq!(counters(s, "1", "c").await, (29, 0, 29, 0));
    assert_consistent(s).await;
}

pub async fn moves_deeper_are_checked_against_the_limits(s: &impl MetaStore) {
    tree(s, None, None).await;
    let within = |id: &str, parent: &str, max_depth, max_chars| MoveDentry {
        limits: limits(max_depth, max_chars),
        ..moving(id, to("1", parent, NameConflict::Fail))
    };
    // /docs/sub/b.txt is 3 deep: as deep under /other.
    s.move_dentry(&within("s", "o", 3, 1024), ids()).await.unwrap();
    create(s, under("o", folder("x", "x"))).await;
    let deeper = s.move_dentry(&within("s", "x", 3, 1024), ids()).await;
    assert!(matches!(deeper, Err(StoreError::TooDeep)), "{deeper:?}");
    assert_eq!(dentry(s, "1", "s").await.parent_id, "o");
    // A file 3 deep is fine, 4 is not.
    s.move_dentry(&within("t", "x", 3, 1024), ids()).await.unwrap();
    create(s, under("x", folder("y", "y"))).await;
    let deeper = s.move_dentry(&within("t", "y", 3, 1024), ids()).await;
    assert!(matches!(deeper, Err(StoreError::TooDeep)), "{deeper:?}");
    assert_eq!(dentry(s, "1", "t").await.parent_id, "x");
    // Paths: /012345678/sub/b.txt is 20 characters, /0123456789/sub/b.txt 21.
    create(s, folder("m", "012345678")).await;
    create(s, folder("l", "0123456789")).await;
    let longer = s.move_dentry(&within("s", "l", 64, 20), ids()).await;
    assert!(matches!(longer, Err(StoreError::PathTooLong)), "{longer:?}");
    assert_eq!(dentry(s, "1", "s").await.parent_id, "o");
    s.move_dentry(&within("s", "m", 64, 20), ids()).await.unwrap();
    assert_eq!(path(s, "1", "s").await, Some(vec!["012345678".into(), "sub".into()]));
    // An AutoRename's longer name counts.
    create(s, under("l", file("z", "b", 1))).await;
    create(s, file("b", "b", 1)).await;
    // /0123456789/b would be 13 characters, /0123456789/b (1) is 17.
    let renamed =
        MoveDentry { limits: limits(64, 16), ..moving("b", to("1", "l", auto("b (", ")"))) };
    assert!(matches!(s.move_dentry(&renamed, ids()).await, Err(StoreError::PathTooLong)));
    let renamed = MoveDentry { limits: limits(64, 17), ..renamed };
    assert_eq!(s.move_dentry(&renamed, ids()).await.unwrap().dentry.name, "b (1)");
    // Copies are checked wherever they go.
    let copy = CopyDentry {
        limits: limits(3, 1024),
        ..copying("m", to("1", "x", NameConflict::Fail), "c1")
    };
    assert!(matches!(s.copy_dentry(&copy, ids()).await, Err(StoreError::TooDeep)));
    let copy = CopyDentry { limits: limits(64, 20), ..copy };
    assert!(matches!(s.copy_dentry(&copy, ids()).await, Err(StoreError::PathTooLong)));
    assert!(s.get_dentry("1", "c1").await.unwrap().is_none());
    // /other/x/012345678/sub/b.txt: 5 deep, 28 characters.
    let copy = CopyDentry { limits: limits(5, 28), ..copy };
    assert_eq!(s.copy_dentry(&copy, ids()).await.unwrap().entries, 3);
    assert_eq!(counters(s, "1", "c").await, (33, 0, 33, 0));
    assert_consistent(s).await;
}

pub async fn a_move_needs_a_live_target_folder_in_the_actors_org(s: &impl MetaStore) {
    tree(s, None, None).await;
    s.insert_org(&org("e", None)).await.unwrap();
    s.insert_app(&app("b", "e", "k2")).await.unwrap();
    let elsewhere = SpaceRecord { corp_id: "e".into(), app_id: "b".into(), ..space("3", "2") };
    s.insert_space_once(&elsewhere).await.unwrap();
    create(s, folder("g", "gone")).await;
    s.delete_dentry(&deleting("g", Some("r1"))).await.unwrap();
    for (space, parent) in [("1", "missing"), ("1", "t"), ("2", "d"), ("1", "g")] {
        let moved =
            s.move_dentry(&moving("f1", to(space, parent, NameConflict::Fail)), ids()).await;
        assert!(matches!(moved, Err(StoreError::ParentNotFound)), "{space}/{parent}: {moved:?}");
        let copied =
            s.copy_dentry(&copying("f1", to(space, parent, NameConflict::Fail), "c"), ids()).await;
        assert!(matches!(copied, Err(StoreError::ParentNotFound)), "{space}/{parent}: {copied:?}");
    }
    for space in ["3", "nope"] {
        let moved = s.move_dentry(&moving("f1", to(space, "0", NameConflict::Fail)), ids()).await;
        assert!(matches!(moved, Err(StoreError::SpaceNotFound)), "{space}: {moved:?}");
        let copied =
            s.copy_dentry(&copying("f1", to(space, "0", NameConflict::Fail), "c"), ids()).await;
        assert!(matches!(copied, Err(StoreError::SpaceNotFound)), "{space}");
    }
    for (space, id) in [("1", "missing"), ("2", "f1"), ("1", "g")] {
        let request =
            MoveDentry { space_id: space.into(), ..moving(id, to("1", "0", NameConflict::Fail)) };
        let moved = s.move_dentry(&request, ids()).await;
        assert!(matches!(moved, Err(StoreError::NotFound)), "{space}/{id}: {moved:?}");
    }
    // The source must be in the actor's org too.
    let outsider = Actor { corp_id: "e".into(), ..actor(100) };
    let request = MoveDentry { actor: outsider, ..moving("f1", to("1", "0", NameConflict::Fail)) };
    assert!(matches!(s.move_dentry(&request, ids()).await, Err(StoreError::NotFound)));
    assert_eq!(dentry(s, "1", "f1").await, under("d", file("f1", "a.txt", 3)));
    assert!(s.get_dentry("1", "c").await.unwrap().is_none());
    assert_consistent(s).await;
}

pub async fn a_move_across_spaces_moves_the_bytes(s: &impl MetaStore) {
    tree(s, None, None).await;
    // b.txt keeps 5 bytes as version 1 and has 13 now.
    let newer = under("s", file("v", "b.txt", 13));
    s.put_dentry(&put(newer, NameConflict::Overwrite, None)).await.unwrap();
    // A file binned from /docs stays in space 1.
    create(s, under("d", file("z", "gone.txt", 2))).await;
    s.delete_dentry(&deleting("z", Some("r1"))).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (41, 0, 41, 0));
    let placed = s.move_dentry(&moving("d", to("2", "0", NameConflict::Fail)), ids()).await;
    let placed = placed.unwrap();
    let expected = DentryRecord {
        space_id: "2".into(),
        modifier_id: "op".into(),
        modified_at: 100,
        ..folder("d", "docs")
    };
    assert_eq!(placed, Placed { dentry: expected, existing: false, entries: 4, replaced: None });
    let b = dentry(s, "2", "f2").await;
    assert_eq!(
        (b.space_id.as_str(), b.parent_id.as_str(), b.uuid.as_str(), b.version, b.size),
        ("2", "s", "uf2", 2, 13)
    );
    assert_eq!(s.get_version("f2", 1).await.unwrap().unwrap().size, 5);
    assert!(s.get_dentry("1", "f1").await.unwrap().is_none());
    assert_eq!(
        dentry(s, "2", "f1").await,
        DentryRecord { space_id: "2".into(), ..under("d", file("f1", "a.txt", 3)) }
    );
    assert_eq!(path(s, "2", "s").await, Some(vec!["docs".into(), "sub".into()]));
    assert_eq!(path(s, "1", "s").await, None);
    let binned = dentry(s, "1", "z").await;
    assert_eq!((binned.space_id.as_str(), binned.status.as_str()), ("1", "DELETED"));
    // 3 + 13 + 5 moved; the org's count is unchanged.
    assert_eq!(counters(s, "1", "c").await, (20, 0, 41, 0));
    assert_eq!(s.get_space("2").await.unwrap().unwrap().used_bytes, 21);
    assert_eq!(s.subtree_size("2", "d").await.unwrap(), 4);
    // And back, under a conflicting name.
    create(s, folder("n", "docs")).await;
    let back =
        MoveDentry { space_id: "2".into(), ..moving("s", to("1", "0", auto("docs (", ")"))) };
    let back = s.move_dentry(&back, ids()).await.unwrap();
    assert_eq!((back.dentry.name.as_str(), back.entries), ("sub", 2));
    assert_eq!(counters(s, "1", "c").await, (38, 0, 41, 0));
    assert_consistent(s).await;
}

pub async fn a_move_across_spaces_over_the_target_quota_changes_nothing(s: &impl MetaStore) {
    // The org is full: moving across its spaces charges it nothing.
    tree(s, Some(26), Some(8)).await;
    let placed = s.move_dentry(&moving("d", to("2", "0", NameConflict::Fail)), ids()).await;
    assert_eq!(placed.unwrap().entries, 4);
    assert_eq!(s.get_space("2").await.unwrap().unwrap().used_bytes, 8);
    let over = s.move_dentry(&moving("o", to("2", "0", NameConflict::Fail)), ids()).await;
    assert!(matches!(over, Err(StoreError::QuotaExceeded { space: true })), "{over:?}");
    assert_eq!(dentry(s, "1", "o").await, folder("o", "other"));
    assert_eq!(dentry(s, "1", "f3").await, under("o", file("f3", "a.txt", 7)));
    assert!(s.get_dentry("2", "f3").await.unwrap().is_none());
    // Folders without content weigh nothing.
    create(s, folder("e", "empty")).await;
    s.move_dentry(&moving("e", to("2", "d", NameConflict::Fail)), ids()).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (18, 0, 26, 0));
    assert_eq!(s.get_space("2").await.unwrap().unwrap().used_bytes, 8);
    assert_consistent(s).await;
}

pub async fn a_copy_gets_new_ids_and_shares_content(s: &impl MetaStore) {
    tree(s, None, None).await;
    let newer = under("s", file("v", "b.txt", 13));
    s.put_dentry(&put(newer, NameConflict::Overwrite, None)).await.unwrap();
    let tag = AppPropertyRecord {
        dentry_id: String::new(),
        app_id: "a".into(),
        name: "x".into(),
        value: "1".into(),
        visibility: "PUBLIC".into(),
    };
    let edit = EditAppProperties {
        space_id: "1".into(),
        dentry_id: "f2".into(),
        app_id: "a".into(),
        set: vec![tag],
        remove: vec![],
        max_per_app: 3,
    };
    s.edit_app_properties(&edit).await.unwrap();
    assert_eq!(counters(s, "1", "c").await, (39, 0, 39, 0));
    let placed = s.copy_dentry(&copying("d", to("1", "o", NameConflict::Fail), "c1"), ids()).await;
    let placed = placed.unwrap();
    let copied_root = DentryRecord {
        uuid: "uc1".into(),
        creator_id: "op".into(),
        modifier_id: "op".into(),
        created_at: 100,
        modified_at: 100,
        ..under("o", folder("c1", "docs"))
    };
    assert_eq!(placed, Placed { dentry: copied_root, existing: false, entries: 4, replaced: None });
    let level = children(s, "1", "c1").await;
    assert_eq!(names(&level), ["a.txt", "sub"]);
    let (a, sub) = (&level[0], &level[1]);
    let inner = children(s, "1", &sub.dentry_id).await;
    assert_eq!(names(&inner), ["b.txt"]);
    let b = &inner[0];
    let mut seen = HashSet::from(["c1".to_string(), "uc1".to_string()]);
    for copy in [a, sub, b] {
        assert!(["d", "f1", "s", "f2"].iter().all(|id| *id != copy.dentry_id), "{copy:?}");
        assert!(copy.uuid.starts_with("uuid-"), "a new uuid: {copy:?}");
        assert!(seen.insert(copy.dentry_id.clone()) && seen.insert(copy.uuid.clone()));
        assert_eq!((copy.creator_id.as_str(), copy.modifier_id.as_str()), ("op", "op"));
        assert_eq!((copy.created_at, copy.modified_at, copy.version), (100, 100, 1));
        assert_eq!(copy.status, "NORMAL");
    }
    // Content shared, no history, app properties copied.
    assert_eq!((a.size, a.blob_key.as_deref()), (3, Some("objects/f1")));
    assert_eq!((b.size, b.blob_key.as_deref()), (13, Some("objects/v")));
    assert_eq!(b.parent_id, sub.dentry_id);
    assert!(s.get_version(&b.dentry_id, 1).await.unwrap().is_none());
    assert_eq!(b.app_properties.len(), 1);
    assert_eq!(
        (b.app_properties[0].dentry_id.as_str(), b.app_properties[0].value.as_str()),
        (b.dentry_id.as_str(), "1")
    );
    assert!(a.app_properties.is_empty());
    // The sources are untouched.
    let source = dentry(s, "1", "f2").await;
    assert_eq!((source.version, source.app_properties.len()), (2, 1));
    assert_eq!(dentry(s, "1", "d").await, folder("d", "docs"));
    // Charged: the copies' current bytes.
    assert_eq!(counters(s, "1", "c").await, (55, 0, 55, 0));
    assert_eq!(s.subtree_size("1", "c1").await.unwrap(), 4);
    // Into its own folder, by the conflict rule.
    let same = s.copy_dentry(&copying("f1", to("1", "d", NameConflict::Fail), "c2"), ids()).await;
    assert!(matches!(&same, Err(StoreError::NameTaken(d)) if d.dentry_id == "f1"), "{same:?}");
    let renamed = copying("f1", to("1", "d", auto("a(", ").txt")), "c2");
    let renamed = s.copy_dentry(&renamed, ids()).await.unwrap();
    assert_eq!((renamed.dentry.name.as_str(), renamed.entries), ("a(1).txt", 1));
    let existing = copying("f1", to("1", "d", NameConflict::ReturnExisting), "c3");
    let existing = s.copy_dentry(&existing, ids()).await.unwrap();
    assert!(existing.existing && existing.dentry.dentry_id == "f1" && existing.entries == 0);
    assert!(s.get_dentry("1", "c3").await.unwrap().is_none());
    // Into another space.
    let other = s.copy_dentry(&copying("t", to("2", "0", NameConflict::Fail), "c4"), ids()).await;
    assert_eq!(other.unwrap().dentry.space_id, "2");
    assert_eq!(s.get_space("2").await.unwrap().unwrap().used_bytes, 11);
    // A taken new id is a duplicate.
    let taken = s.copy_dentry(&copying("t", to("1", "o", NameConflict::Fail), "c1"), ids()).await;
    assert!(matches!(taken, Err(StoreError::Duplicate(Key::DentryId))), "{taken:?}");
    assert_eq!(counters(s, "1", "c").await, (58, 0, 69, 0));
    assert_consistent(s).await;
}

pub async fn a_copy_over_the_quota_changes_nothing(s: &impl MetaStore) {
    tree(s, Some(40), Some(10)).await;
    s.copy_dentry(&copying("d", to("2", "0", NameConflict::Fail), "c1"), ids()).await.unwrap();
    assert_eq!(s.get_space("2").await.unwrap().unwrap().used_bytes, 8);
    let again = copying("d", to("2", "0", auto("docs (", ")")), "c2");
    let over = s.copy_dentry(&again, ids()).await;
    assert!(matches!(over, Err(StoreError::QuotaExceeded { space: true })), "{over:?}");
    assert!(s.get_dentry("2", "c2").await.unwrap().is_none());
    assert_eq!(names(&children(s, "2", "0").await), ["docs"]);
    assert_eq!(s.subtree_size("2", "c1").await.unwrap(), 4);
    // 34 of the org's 40 are used: 7 more is too many.
    let over = s.copy_dentry(&copying("o", to("1", "d", NameConflict::Fail), "c3"), ids()).await;
    assert!(matches!(over, Err(StoreError::QuotaExceeded { space: false })), "{over:?}");
    assert!(s.get_dentry("1", "c3").await.unwrap().is_none());
    assert_eq!(names(&children(s, "1", "d").await), ["a.txt", "sub"]);
    assert_eq!(counters(s, "1", "c").await, (26, 0, 34, 0));
    assert_eq!(s.get_space("2").await.unwrap().unwrap().used_bytes, 8);
    // Folders alone fit.
    create(s, folder("e", "empty")).await;
    s.copy_dentry(&copying("e", to("2", "0", NameConflict::Fail), "c4"), ids()).await.unwrap();
    assert_consistent(s).await;
}

pub async fn versions_are_listed_newest_first_in_pages(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    create(s, file("f", "a.txt", 1)).await;
    for (i, size) in [(2, 2), (3, 3), (4, 4), (5, 5)] {
        let newer = DentryRecord { modified_at: i, ..file(&format!("v{i}"), "a.txt", size) };
        s.put_dentry(&put(newer, NameConflict::Overwrite, None)).await.unwrap();
    }
    let numbers = |versions: Vec<VersionRecord>| -> Vec<i64> {
        versions.into_iter().map(|v| v.version).collect()
    };
    assert_eq!(numbers(s.list_versions("f", None, 10).await.unwrap()), [4, 3, 2, 1]);
    assert_eq!(numbers(s.list_versions("f", None, 2).await.unwrap()), [4, 3]);
    assert_eq!(numbers(s.list_versions("f", Some(3), 2).await.unwrap()), [2, 1]);
    assert_eq!(numbers(s.list_versions("f", Some(2), 10).await.unwrap()), [1]);
    assert!(s.list_versions("f", Some(1), 10).await.unwrap().is_empty());
    assert!(s.list_versions("missing", None, 10).await.unwrap().is_empty());
    let newest = &s.list_versions("f", None, 1).await.unwrap()[0];
    let expected = VersionRecord {
        dentry_id: "f".into(),
        version: 4,
        name: "a.txt".into(),
        size: 4,
        blob_key: "objects/v4".into(),
        modifier_id: "u".into(),
        modified_at: 4,
    };
    assert_eq!(newest, &expected);
    assert_eq!(counters(s, "1", "c").await, (15, 0, 15, 0));
    assert_consistent(s).await;
}

pub async fn reverting_makes_an_old_content_current_again(s: &impl MetaStore) {
    space_with_quota(s, Some(30)).await;
    create(s, file("f", "a.txt", 10)).await;
    s.put_dentry(&put(file("g", "a.txt", 5), NameConflict::Overwrite, None)).await.unwrap();
    create(s, folder("p", "dir")).await;
    let revert = |version| RevertVersion {
        space_id: "1".into(),
        dentry_id: "f".into(),
        version,
        actor: actor(100),
    };
    let reverted = s.revert_version(&revert(1)).await.unwrap();
    let expected = DentryRecord {
        version: 3,
        modifier_id: "op".into(),
        modified_at: 100,
        ..file("f", "a.txt", 10)
    };
    assert_eq!(reverted, expected);
    assert_eq!(dentry(s, "1", "f").await, expected);
    let v2 = s.get_version("f", 2).await.unwrap().unwrap();
    assert_eq!((v2.size, v2.blob_key.as_str()), (5, "objects/g"));
    let v1 = s.get_version("f", 1).await.unwrap().unwrap();
    assert_eq!((v1.size, v1.blob_key.as_str()), (10, "objects/f"));
    // Charged like new content: 10 + 5 + 10.
    assert_eq!(counters(s, "1", "c").await, (25, 0, 25, 0));
    for version in [3, 9, 0] {
        let missing = s.revert_version(&revert(version)).await;
        assert!(matches!(missing, Err(StoreError::VersionNotFound)), "{version}: {missing:?}");
    }
    let over = s.revert_version(&revert(1)).await;
    assert!(matches!(over, Err(StoreError::QuotaExceeded { space: true })), "{over:?}");
    assert_eq!(dentry(s, "1", "f").await.version, 3);
    assert_eq!(s.list_versions("f", None, 10).await.unwrap().len(), 2);
    for id in ["p", "missing"] {
        let request = RevertVersion { dentry_id: id.into(), ..revert(1) };
        assert!(matches!(s.revert_version(&request).await, Err(StoreError::NotFound)), "{id}");
    }
    assert_eq!(counters(s, "1", "c").await, (25, 0, 25, 0));
    assert_consistent(s).await;
}

fn property(name: &str, value: &str) -> AppPropertyRecord {
    AppPropertyRecord {
        dentry_id: String::new(),
        app_id: String::new(),
        name: name.into(),
        value: value.into(),
        visibility: "PUBLIC".into(),
    }
}

pub async fn app_properties_are_upserted_and_capped_per_app(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    create(s, file("f", "a.txt", 1)).await;
    let edit = |app: &str, set: Vec<AppPropertyRecord>, remove: &[&str]| EditAppProperties {
        space_id: "1".into(),
        dentry_id: "f".into(),
        app_id: app.into(),
        set,
        remove: remove.iter().map(|n| n.to_string()).collect(),
        max_per_app: 3,
    };
    let held = |d: DentryRecord| -> Vec<(String, String, String)> {
        let mut p: Vec<_> =
            d.app_properties.into_iter().map(|p| (p.app_id, p.name, p.value)).collect();
        p.sort();
        p
    };
    let triple = |app: &str, name: &str, value: &str| (app.to_string(), name.into(), value.into());
    let mut private = property("y", "2");
    private.visibility = "PRIVATE".into();
    s.edit_app_properties(&edit("a", vec![property("x", "1"), private], &[])).await.unwrap();
    let read = dentry(s, "1", "f").await;
    assert_eq!(read.app_properties.iter().find(|p| p.name == "y").unwrap().visibility, "PRIVATE");
    assert!(read.app_properties.iter().all(|p| p.dentry_id == "f"));
    assert_eq!(held(read), [triple("a", "x", "1"), triple("a", "y", "2")]);
    s.edit_app_properties(&edit("a", vec![property("x", "changed"), property("z", "3")], &[]))
        .await
        .unwrap();
    let expected = [triple("a", "x", "changed"), triple("a", "y", "2"), triple("a", "z", "3")];
    assert_eq!(held(dentry(s, "1", "f").await), expected);
    // A fourth is one too many: nothing changes.
    let over = edit("a", vec![property("w", "4"), property("x", "no")], &[]);
    let over = s.edit_app_properties(&over).await;
    assert!(matches!(over, Err(StoreError::TooManyProperties)), "{over:?}");
    assert_eq!(held(dentry(s, "1", "f").await), expected);
    // Unless one goes in the same edit; unknown names are ignored.
    s.edit_app_properties(&edit("a", vec![property("w", "4")], &["x", "nope"])).await.unwrap();
    let expected = [triple("a", "w", "4"), triple("a", "y", "2"), triple("a", "z", "3")];
    assert_eq!(held(dentry(s, "1", "f").await), expected);
    // The cap is per app.
    s.edit_app_properties(&edit("b", vec![property("p", "1"), property("q", "2")], &[]))
        .await
        .unwrap();
    assert_eq!(dentry(s, "1", "f").await.app_properties.len(), 5);
    s.edit_app_properties(&edit("b", vec![], &["p", "nope"])).await.unwrap();
    assert_eq!(dentry(s, "1", "f").await.app_properties.len(), 4);
    // Only live dentries of the space.
    let elsewhere = EditAppProperties { space_id: "2".into(), ..edit("a", vec![], &[]) };
    assert!(matches!(s.edit_app_properties(&elsewhere).await, Err(StoreError::NotFound)));
    s.delete_dentry(&deleting("f", Some("r1"))).await.unwrap();
    let binned = s.edit_app_properties(&edit("a", vec![property("v", "1")], &[])).await;
    assert!(matches!(binned, Err(StoreError::NotFound)), "{binned:?}");
    assert_eq!(dentry(s, "1", "f").await.app_properties.len(), 4);
    assert_consistent(s).await;
}

pub async fn racing_moves_of_two_folders_into_each_other_never_make_a_cycle(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    for round in 0..8 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        create(s, folder(&a, &a)).await;
        create(s, folder(&b, &b)).await;
        // Deeper in the second half: into each other's child.
        let (into_a, into_b) = if round < 4 {
            (a.clone(), b.clone())
        } else {
            let (ca, cb) = (format!("{a}c"), format!("{b}c"));
            create(s, under(&a, folder(&ca, "c"))).await;
            create(s, under(&b, folder(&cb, "c"))).await;
            (ca, cb)
        };
        let a_into_b = moving(&a, to("1", &into_b, NameConflict::Fail));
        let b_into_a = moving(&b, to("1", &into_a, NameConflict::Fail));
        let racing = vec![s.move_dentry(&a_into_b, ids()), s.move_dentry(&b_into_a, ids())];
        let outcomes = join_all(racing).await;
        let moved = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(moved, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.iter().any(|o| matches!(o, Err(StoreError::IntoItself))),
            "round {round}: {outcomes:?}"
        );
        for id in [&a, &b] {
            assert!(path(s, "1", id).await.is_some(), "round {round}: {id} is off the tree");
        }
    }
    assert_consistent(s).await;
}

pub async fn racing_copies_never_pass_the_quota(s: &impl MetaStore) {
    tree(s, None, Some(20)).await;
    let copies: Vec<_> = (0..8)
        .map(|i| {
            let copy = copying("f2", to("2", "0", auto("b(", ").txt")), &format!("c{i}"));
            async move { s.copy_dentry(&copy, ids()).await }
        })
        .collect();
    let mut copied = HashSet::new();
    for outcome in join_all(copies).await {
        match outcome {
            Ok(placed) => assert!(copied.insert(placed.dentry.name)),
            Err(StoreError::QuotaExceeded { space: true }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(copied.len(), 4, "{copied:?}");
    assert_eq!(s.get_space("2").await.unwrap().unwrap().used_bytes, 20);
    assert_eq!(counters(s, "1", "c").await, (26, 0, 46, 0));
    assert_consistent(s).await;
}

pub async fn an_overwrite_by_id_follows_the_file_wherever_it_went(s: &impl MetaStore) {
    tree(s, None, None).await;
    // f1 (/docs/a.txt) is renamed and another file takes its old name:
    // a put naming f1 still overwrites f1, not what has the name now.
    s.rename_dentry(&rename("f1", "renamed.txt")).await.unwrap();
    s.put_dentry(&put(under("d", file("n", "a.txt", 2)), NameConflict::Fail, None)).await.unwrap();
    let by_id = |content: &str, target: &str| PutDentry {
        overwrite_dentry_id: Some(target.into()),
        ..put(under("d", file(content, "a.txt", 4)), NameConflict::Fail, None)
    };
    let outcome = s.put_dentry(&by_id("v2", "f1")).await.unwrap();
    assert!(
        matches!(&outcome, PutOutcome::Overwritten(d)
        if d.dentry_id == "f1" && d.name == "renamed.txt" && d.version == 2 && d.size == 4),
        "{outcome:?}"
    );
    assert_eq!(dentry(s, "1", "n").await.version, 1, "the file now named a.txt is untouched");
    assert_eq!(s.get_version("f1", 1).await.unwrap().unwrap().size, 3);
    // Only a live file of the space: a folder, another space's file, a
    // binned file or an unknown id change nothing.
    s.delete_dentry(&deleting("f3", Some("r1"))).await.unwrap();
    for target in ["d", "f3", "missing"] {
        let refused = s.put_dentry(&by_id("x", target)).await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "{target}: {refused:?}");
    }
    assert_eq!(s.get_space("1").await.unwrap().unwrap().used_bytes, 3 + 5 + 7 + 11 + 2 + 4);
    assert_consistent(s).await;
}

pub async fn a_copy_over_itself_changes_nothing(s: &impl MetaStore) {
    tree(s, None, None).await;
    let before = s.get_space("1").await.unwrap().unwrap().used_bytes;
    // f1 (/docs/a.txt) copied into /docs with OVERWRITE: it would replace itself.
    let placed = s
        .copy_dentry(&copying("f1", to("1", "d", NameConflict::Overwrite), "c1"), ids())
        .await
        .unwrap();
    assert!(placed.existing && placed.replaced.is_none(), "{placed:?}");
    assert_eq!(placed.dentry.dentry_id, "f1");
    assert_eq!(dentry(s, "1", "f1").await, under("d", file("f1", "a.txt", 3)));
    assert!(s.get_dentry("1", "c1").await.unwrap().is_none(), "no copy was made");
    let bin = ItemFilter { corp_id: "c".into(), app_id: Some("a".into()), space_id: None };
    assert!(s.list_recycle_items(&bin, None, 10).await.unwrap().is_empty(), "nothing binned");
    assert_eq!(s.get_space("1").await.unwrap().unwrap().used_bytes, before);
    assert_consistent(s).await;
}
