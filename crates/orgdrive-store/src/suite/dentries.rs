//! Behaviour of files, folders and versions: conflict rules, parents,
//! listings and their keyset pages.

use std::collections::HashSet;

use super::fixtures::*;
use crate::*;

fn names(dentries: &[DentryRecord]) -> Vec<&str> {
    dentries.iter().map(|d| d.name.as_str()).collect()
}

fn ids(dentries: &[DentryRecord]) -> Vec<&str> {
    dentries.iter().map(|d| d.dentry_id.as_str()).collect()
}

pub async fn a_created_dentry_is_answered_as_it_is_read_back(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    let rename = || NameConflict::AutoRename { prefix: "d(".into(), suffix: ")".into() };
    let property = |value: &str| AppPropertyRecord {
        dentry_id: String::new(),
        app_id: "a".into(),
        name: "p".into(),
        value: value.into(),
        visibility: "PUBLIC".into(),
    };
    let with_properties = PutDentry {
        app_properties: vec![property("v")],
        ..put(folder("3", "e"), NameConflict::Fail, None)
    };
    let puts = [
        put(folder("1", "d"), NameConflict::Fail, None),
        put(folder("2", "d"), rename(), None),
        with_properties,
        put(file("4", "f.txt", 3), NameConflict::Fail, None),
    ];
    for p in puts {
        let PutOutcome::Created(answered) = s.put_dentry(&p).await.unwrap() else {
            panic!("{p:?} should create")
        };
        let read = s.get_dentry("1", &p.dentry.dentry_id).await.unwrap().unwrap();
        assert_eq!(answered, read);
    }
}

pub async fn conflict_rules_are_applied_inside_the_transaction(s: &impl MetaStore) {
    space_with_quota(s, None).await;
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
    for id in ["4", "5", "6"] {
        assert!(s.get_dentry("1", id).await.unwrap().is_none(), "dentry {id} was not created");
    }
    let orphan = DentryRecord { parent_id: "999".into(), ..file("7", "b.txt", 1) };
    assert!(matches!(
        s.put_dentry(&put(orphan, NameConflict::Fail, None)).await,
        Err(StoreError::ParentNotFound)
    ));
    assert_eq!(counters(s, "1", "c").await, (16, 0, 16, 0));
}

pub async fn what_a_put_returns_is_what_is_read_back(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    let mut dentry = file("1", "report.pdf", 42);
    dentry.created_at = 100;
    dentry.modified_at = 200;
    dentry.creator_id = "ann".into();
    dentry.modifier_id = "bob".into();
    let created = create(s, dentry.clone()).await;
    assert_eq!(created, dentry);
    assert_eq!(s.get_dentry("1", "1").await.unwrap(), Some(dentry));
    let dir = create(s, folder("2", "dir")).await;
    assert!(dir.is_folder());
    assert_eq!((dir.size, dir.blob_key), (0, None));
    assert_eq!(s.get_dentry("1", "2").await.unwrap().unwrap().kind, "FOLDER");
    assert_eq!(s.get_dentry("1", "3").await.unwrap(), None);
}

pub async fn auto_rename_takes_the_first_free_counter(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    let rename = |prefix: &str, suffix: &str| NameConflict::AutoRename {
        prefix: prefix.into(),
        suffix: suffix.into(),
    };
    // A free name is taken as it is.
    let first = s.put_dentry(&put(file("1", "a.txt", 1), rename("a(", ").txt"), None)).await;
    assert!(matches!(first.unwrap(), PutOutcome::Created(d) if d.name == "a.txt"));
    // Counters already taken are skipped; the first free one is used.
    create(s, file("2", "a(1).txt", 1)).await;
    create(s, file("3", "a(3).txt", 1)).await;
    let mut got = Vec::new();
    for id in ["4", "5", "6"] {
        let outcome = s.put_dentry(&put(file(id, "a.txt", 1), rename("a(", ").txt"), None)).await;
        match outcome.unwrap() {
            PutOutcome::Created(d) => got.push(d.name),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, ["a(2).txt", "a(4).txt", "a(5).txt"]);
    assert_eq!(s.get_dentry("1", "4").await.unwrap().unwrap().name, "a(2).txt");
    // Non-ASCII prefixes, and folders (no suffix).
    create(s, folder("7", "报告")).await;
    for (id, expected) in [("8", "报告 1"), ("9", "报告 2")] {
        let outcome = s.put_dentry(&put(folder(id, "报告"), rename("报告 ", ""), None)).await;
        assert!(matches!(outcome.unwrap(), PutOutcome::Created(d) if d.name == expected));
    }
    // Names compare bytewise: case and other spellings are other names.
    let upper = s.put_dentry(&put(file("10", "A.txt", 1), rename("A(", ").txt"), None)).await;
    assert!(matches!(upper.unwrap(), PutOutcome::Created(d) if d.name == "A.txt"));
    let nfc = create(s, file("11", "caf\u{e9}", 1)).await;
    let nfd = create(s, file("12", "cafe\u{301}", 1)).await;
    assert_ne!(nfc.name, nfd.name);
    assert!(s.consistency_scan().await.unwrap().duplicate_names.is_empty());
}

pub async fn auto_rename_cannot_be_blocked_by_taking_a_few_counters(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    create(s, folder("1", "a")).await;
    // The counters a galloping search probes: 1, 2, 4, …, 2^19 and the maximum.
    let mut taken: Vec<u32> = (0..20).map(|i| 1 << i).collect();
    taken.push(MAX_RENAME_COUNTER);
    for (i, k) in taken.iter().enumerate() {
        create(s, folder(&format!("t{i}"), &format!("a({k})"))).await;
    }
    let rename = NameConflict::AutoRename { prefix: "a(".into(), suffix: ")".into() };
    let outcome = s.put_dentry(&put(folder("new", "a"), rename, None)).await.unwrap();
    assert!(matches!(outcome, PutOutcome::Created(d) if d.name == "a(3)"));
}

pub async fn return_existing_charges_nothing_and_consumes_the_upload(s: &impl MetaStore) {
    space_with_quota(s, Some(100)).await;
    create(s, file("1", "a", 10)).await;
    s.insert_upload(&upload("k"), &LIMITS).await.unwrap();
    put_part(s, "k", 0, 30, "objects/k").await;
    assert_eq!(counters(s, "1", "c").await, (10, 30, 10, 30));
    let mut commit = put(file("2", "a", 30), NameConflict::ReturnExisting, Some("k"));
    commit.upload_objects = vec!["objects/k".into()];
    let outcome = s.put_dentry(&commit).await.unwrap();
    assert_eq!(outcome, PutOutcome::Existing(file("1", "a", 10)));
    // The upload is consumed, its reservation released, nothing charged.
    assert!(s.get_upload("k").await.unwrap().is_none());
    assert_eq!(counters(s, "1", "c").await, (10, 0, 10, 0));
    assert!(s.get_dentry("1", "2").await.unwrap().is_none());
    // For folders too.
    create(s, folder("3", "dir")).await;
    let outcome = s.put_dentry(&put(folder("4", "dir"), NameConflict::ReturnExisting, None)).await;
    assert!(matches!(outcome.unwrap(), PutOutcome::Existing(d) if d.dentry_id == "3"));
}

pub async fn overwrite_keeps_the_old_content_as_a_version(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    let mut original = file("1", "a.txt", 3);
    original.modifier_id = "ann".into();
    original.modified_at = 10;
    create(s, original).await;
    let mut second = file("2", "a.txt", 5);
    second.modifier_id = "bob".into();
    second.modified_at = 20;
    second.created_at = 20;
    let outcome = s.put_dentry(&put(second, NameConflict::Overwrite, None)).await.unwrap();
    let expected = DentryRecord {
        size: 5,
        version: 2,
        blob_key: Some("objects/2".into()),
        modifier_id: "bob".into(),
        modified_at: 20,
        ..file("1", "a.txt", 3)
    };
    assert_eq!(outcome, PutOutcome::Overwritten(expected.clone()));
    assert_eq!(s.get_dentry("1", "1").await.unwrap(), Some(expected));
    assert!(s.get_dentry("1", "2").await.unwrap().is_none(), "no second dentry");
    let v1 = VersionRecord {
        dentry_id: "1".into(),
        version: 1,
        name: "a.txt".into(),
        size: 3,
        blob_key: "objects/1".into(),
        modifier_id: "ann".into(),
        modified_at: 10,
    };
    assert_eq!(s.get_version("1", 1).await.unwrap(), Some(v1.clone()));
    // Again: version 2 joins version 1; the current content is no version.
    let third = file("3", "a.txt", 7);
    let outcome = s.put_dentry(&put(third, NameConflict::Overwrite, None)).await.unwrap();
    assert!(matches!(outcome, PutOutcome::Overwritten(d) if d.version == 3 && d.size == 7));
    assert_eq!(s.get_version("1", 1).await.unwrap(), Some(v1));
    let v2 = s.get_version("1", 2).await.unwrap().unwrap();
    assert_eq!((v2.size, v2.blob_key.as_str(), v2.modifier_id.as_str()), (5, "objects/2", "bob"));
    assert_eq!(s.get_version("1", 3).await.unwrap(), None);
    assert_eq!(s.get_version("2", 1).await.unwrap(), None);
    // Every kept version stays charged.
    assert_eq!(counters(s, "1", "c").await, (15, 0, 15, 0));
    let blobs: HashSet<String> =
        s.consistency_scan().await.unwrap().blobs.into_iter().map(|b| b.blob_key).collect();
    assert_eq!(blobs, HashSet::from(["objects/1".into(), "objects/2".into(), "objects/3".into()]));
    // A folder's content is never replaced, nor is a folder replaced by a file.
    create(s, folder("4", "dir")).await;
    let onto_folder = s.put_dentry(&put(file("5", "dir", 1), NameConflict::Overwrite, None)).await;
    assert!(matches!(onto_folder, Err(StoreError::NameTaken(d)) if d.dentry_id == "4"));
    let folder_onto_file =
        s.put_dentry(&put(folder("6", "a.txt"), NameConflict::Overwrite, None)).await;
    assert!(matches!(folder_onto_file, Err(StoreError::NameTaken(d)) if d.dentry_id == "1"));
    assert_eq!(counters(s, "1", "c").await, (15, 0, 15, 0));
}

pub async fn a_put_over_the_quota_or_the_capacity_changes_nothing(s: &impl MetaStore) {
    s.insert_org(&org("c", Some(20))).await.unwrap();
    s.insert_app(&app("a", "c", "k")).await.unwrap();
    s.insert_space_once(&SpaceRecord { quota: Some(10), ..space("1", "0") }).await.unwrap();
    s.insert_space_once(&space("2", "1")).await.unwrap();
    create(s, file("1", "a", 6)).await;
    // Up to the quota exactly.
    create(s, file("2", "b", 4)).await;
    let over = s.put_dentry(&put(file("3", "c", 1), NameConflict::Fail, None)).await;
    assert!(matches!(over, Err(StoreError::QuotaExceeded { space: true })), "{over:?}");
    // An overwrite is charged in full (the old content stays as a version).
    let over = s.put_dentry(&put(file("4", "a", 1), NameConflict::Overwrite, None)).await;
    assert!(matches!(over, Err(StoreError::QuotaExceeded { space: true })), "{over:?}");
    assert_eq!(s.get_dentry("1", "1").await.unwrap().unwrap().version, 1);
    assert_eq!(s.get_version("1", 1).await.unwrap(), None);
    // The org capacity holds for uncapped spaces.
    let in_2 = |id: &str, size| DentryRecord { space_id: "2".into(), ..file(id, id, size) };
    create(s, in_2("5", 10)).await;
    let over = s.put_dentry(&put(in_2("6", 1), NameConflict::Fail, None)).await;
    assert!(matches!(over, Err(StoreError::QuotaExceeded { space: false })), "{over:?}");
    for id in ["3", "4", "6"] {
        assert!(s.get_dentry("1", id).await.unwrap().is_none());
        assert!(s.get_dentry("2", id).await.unwrap().is_none());
    }
    assert_eq!(counters(s, "1", "c").await, (10, 0, 20, 0));
    assert_eq!(s.get_space("2").await.unwrap().unwrap().used_bytes, 10);
    // Folders weigh nothing and pass.
    create(s, folder("7", "dir")).await;
}

pub async fn a_parent_is_a_live_folder_of_the_same_space(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    s.insert_space_once(&space("2", "1")).await.unwrap();
    create(s, folder("p", "dir")).await;
    create(s, file("f", "file", 1)).await;
    let elsewhere = DentryRecord { space_id: "2".into(), ..folder("q", "dir") };
    create(s, elsewhere).await;
    let under =
        |parent: &str, id: &str| DentryRecord { parent_id: parent.into(), ..file(id, "x", 1) };
    create(s, under("p", "1")).await;
    let nested = DentryRecord { parent_id: "p".into(), ..folder("p2", "sub") };
    create(s, nested).await;
    create(s, under("p2", "2")).await;
    for parent in ["missing", "f", "q"] {
        let refused = s.put_dentry(&put(under(parent, "3"), NameConflict::Fail, None)).await;
        assert!(matches!(refused, Err(StoreError::ParentNotFound)), "{parent}: {refused:?}");
    }
    // A space that is gone (deleted, or its org reset) is `NotFound`.
    for d in [file("5", "y", 1), folder("6", "z")] {
        let nowhere = DentryRecord { space_id: "nowhere".into(), ..d };
        let refused = s.put_dentry(&put(nowhere, NameConflict::Fail, None)).await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    }
    // Siblings' names are per parent.
    let same_name_elsewhere = DentryRecord { parent_id: "p2".into(), ..file("4", "file", 1) };
    create(s, same_name_elsewhere).await;
    assert!(s.get_dentry("1", "3").await.unwrap().is_none());
    assert_eq!(counters(s, "1", "c").await, (4, 0, 4, 0));
}

pub async fn a_taken_dentry_id_is_a_duplicate(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    create(s, file("1", "a", 1)).await;
    let same_id = s.put_dentry(&put(file("1", "b", 1), NameConflict::Fail, None)).await;
    assert!(matches!(same_id, Err(StoreError::Duplicate(Key::DentryId))), "{same_id:?}");
    let same_uuid = DentryRecord { uuid: "u1".into(), ..file("2", "c", 1) };
    let same_uuid = s.put_dentry(&put(same_uuid, NameConflict::Fail, None)).await;
    assert!(matches!(same_uuid, Err(StoreError::Duplicate(Key::DentryId))), "{same_uuid:?}");
    assert_eq!(counters(s, "1", "c").await, (1, 0, 1, 0));
}

pub async fn racing_puts_of_one_name_keep_names_unique(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    let fails: Vec<_> = (0..16)
        .map(|i| async move {
            s.put_dentry(&put(file(&format!("f{i}"), "x", 1), NameConflict::Fail, None)).await
        })
        .collect();
    let mut winners = Vec::new();
    let mut refused = Vec::new();
    for result in join_all(fails).await {
        match result {
            Ok(PutOutcome::Created(d)) => winners.push(d.dentry_id),
            Err(StoreError::NameTaken(d)) => refused.push(d.dentry_id),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert!(refused.iter().all(|id| *id == winners[0]), "NameTaken names the winner");
    let renames: Vec<_> = (0..16)
        .map(|i| async move {
            let rename = NameConflict::AutoRename { prefix: "y(".into(), suffix: ")".into() };
            s.put_dentry(&put(file(&format!("r{i}"), "y", 1), rename, None)).await
        })
        .collect();
    let mut taken = HashSet::new();
    for result in join_all(renames).await {
        match result.unwrap() {
            PutOutcome::Created(d) => assert!(taken.insert(d.name.clone()), "{} twice", d.name),
            other => panic!("unexpected {other:?}"),
        }
    }
    let expected: HashSet<String> =
        std::iter::once("y".to_string()).chain((1..16).map(|k| format!("y({k})"))).collect();
    assert_eq!(taken, expected);
    assert!(s.consistency_scan().await.unwrap().duplicate_names.is_empty());
    assert_eq!(counters(s, "1", "c").await, (17, 0, 17, 0));
}

/// Folder `p` at the root of space 1 with children whose ids and names
/// order differently by each key; ties on every integer key.
async fn listing_fixture(s: &impl MetaStore) -> Vec<DentryRecord> {
    space_with_quota(s, None).await;
    s.insert_space_once(&space("2", "1")).await.unwrap();
    create(s, DentryRecord { modified_at: 5, created_at: 5, ..folder("p", "parent") }).await;
    // (id, name, size, created_at, modified_at); a folder has size 0.
    let rows: [(&str, &str, i64, i64, i64); 9] = [
        ("10", "b", 5, 3, 7),
        ("9", "B", 5, 3, 7),
        ("100", "\u{e9}", 1, 2, 9),
        ("2", "e", 5, 1, 7),
        ("a", "\u{e4}", 0, 3, 1),
        ("B", "Z", 9, 4, 7),
        ("30", "10.txt", 5, 2, 2),
        ("31", "9.txt", 1, 3, 2),
        ("32", "e\u{301}", 1, 3, 9),
    ];
    let mut children = Vec::new();
    for (id, name, size, created_at, modified_at) in rows {
        let base = if id == "a" { folder(id, name) } else { file(id, name, size) };
        let d = DentryRecord { parent_id: "p".into(), created_at, modified_at, ..base };
        children.push(create(s, d).await);
    }
    // Not children of `p`: at the root, deeper, and in another space.
    create(s, DentryRecord { modified_at: 7, ..file("r", "b", 1) }).await;
    let deeper = DentryRecord { parent_id: "a".into(), modified_at: 8, ..file("d", "b", 1) };
    create(s, deeper).await;
    create(s, DentryRecord { space_id: "2".into(), modified_at: 7, ..file("o", "b", 1) }).await;
    children
}

fn cursor_after(d: &DentryRecord, key: SortKey) -> Cursor {
    Cursor { value: key.value_of(d), dentry_id: d.dentry_id.clone() }
}

/// The dentries in keyset order: by `key` (names bytewise), then `dentry_id`
/// bytewise, both reversed when descending.
fn keyset_order(mut dentries: Vec<DentryRecord>, key: SortKey, descending: bool) -> Vec<String> {
    dentries.sort_by(|a, b| {
        let by_key = match (key.value_of(a), key.value_of(b)) {
            (CursorValue::Int(x), CursorValue::Int(y)) => x.cmp(&y),
            (CursorValue::Text(x), CursorValue::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
            _ => unreachable!(),
        };
        let order = by_key.then_with(|| a.dentry_id.as_bytes().cmp(b.dentry_id.as_bytes()));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    dentries.into_iter().map(|d| d.dentry_id).collect()
}

const KEYS: [SortKey; 4] =
    [SortKey::ModifiedTime, SortKey::CreateTime, SortKey::Name, SortKey::Size];

pub async fn children_are_ordered_by_each_key_then_by_id(s: &impl MetaStore) {
    let children = listing_fixture(s).await;
    // Names compare bytewise: digits, upper case, lower case, then non-ASCII
    // by UTF-8 bytes (a decomposed é sorts before ä and a composed é).
    let by_name = s.list_children("1", "p", SortKey::Name, false, None, 100).await.unwrap();
    assert_eq!(
        names(&by_name),
        ["10.txt", "9.txt", "B", "Z", "b", "e", "e\u{301}", "\u{e4}", "\u{e9}"]
    );
    // Ties are broken by dentry_id, bytewise ("10" < "2" < "9" < "B").
    let by_size = s.list_children("1", "p", SortKey::Size, false, None, 100).await.unwrap();
    assert_eq!(ids(&by_size), ["a", "100", "31", "32", "10", "2", "30", "9", "B"]);
    for key in KEYS {
        for descending in [false, true] {
            let listed = s.list_children("1", "p", key, descending, None, 100).await.unwrap();
            let expected = keyset_order(children.clone(), key, descending);
            assert_eq!(ids(&listed), expected, "{key:?} descending={descending}");
            assert_eq!(listed.iter().find(|d| d.dentry_id == "10"), Some(&children[0]));
        }
    }
    // Only that folder's live children; an unknown or empty folder has none.
    assert!(s.list_children("1", "a", SortKey::Name, false, None, 100).await.unwrap().len() == 1);
    assert!(s
        .list_children("1", "nope", SortKey::Name, false, None, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(s.list_children("2", "p", SortKey::Name, false, None, 100).await.unwrap().is_empty());
    let root = s.list_children("1", "0", SortKey::Name, false, None, 100).await.unwrap();
    assert_eq!(names(&root), ["b", "parent"]);
}

pub async fn keyset_pages_never_repeat_or_skip(s: &impl MetaStore) {
    let children = listing_fixture(s).await;
    for key in KEYS {
        for descending in [false, true] {
            let expected = keyset_order(children.clone(), key, descending);
            for limit in [1, 2, 4] {
                let mut seen: Vec<String> = Vec::new();
                let mut after: Option<Cursor> = None;
                loop {
                    let page = s
                        .list_children("1", "p", key, descending, after.as_ref(), limit)
                        .await
                        .unwrap();
                    assert!(page.len() <= limit as usize);
                    let Some(last) = page.last() else { break };
                    after = Some(cursor_after(last, key));
                    seen.extend(page.into_iter().map(|d| d.dentry_id));
                    assert!(seen.len() <= expected.len(), "{key:?}: pages repeat: {seen:?}");
                }
                assert_eq!(seen, expected, "{key:?} descending={descending} limit={limit}");
            }
        }
    }
    // A cursor need not name a listed entry: it is a position.
    let after = Cursor { value: CursorValue::Text("C".into()), dentry_id: String::new() };
    let page = s.list_children("1", "p", SortKey::Name, false, Some(&after), 3).await.unwrap();
    assert_eq!(names(&page), ["Z", "b", "e"]);
    // A name is unique among live siblings, yet a name cursor is still a
    // (name, id) position: the entry of that name comes after it if its id
    // does (it may have taken the name after the page was read).
    let after = Cursor { value: CursorValue::Text("B".into()), dentry_id: String::new() };
    let page = s.list_children("1", "p", SortKey::Name, false, Some(&after), 3).await.unwrap();
    assert_eq!(names(&page), ["B", "Z", "b"]);
    let after = Cursor { value: CursorValue::Text("b".into()), dentry_id: "z".into() };
    let page = s.list_children("1", "p", SortKey::Name, true, Some(&after), 3).await.unwrap();
    assert_eq!(names(&page), ["b", "Z", "B"]);
    let after = Cursor { value: CursorValue::Int(5), dentry_id: "3".into() };
    let page = s.list_children("1", "p", SortKey::Size, false, Some(&after), 10).await.unwrap();
    assert_eq!(ids(&page), ["30", "9", "B"]);
    let page = s.list_children("1", "p", SortKey::Size, true, Some(&after), 10).await.unwrap();
    assert_eq!(ids(&page), ["2", "10", "32", "31", "100", "a"]);
    // After the last entry, nothing.
    for key in KEYS {
        for descending in [false, true] {
            let all = s.list_children("1", "p", key, descending, None, 100).await.unwrap();
            let end = cursor_after(all.last().unwrap(), key);
            let page = s.list_children("1", "p", key, descending, Some(&end), 100).await.unwrap();
            assert!(page.is_empty(), "{key:?} descending={descending}: {page:?}");
        }
    }
}

pub async fn the_space_is_listed_by_modified_time_then_id(s: &impl MetaStore) {
    let children = listing_fixture(s).await;
    let mut everything = children;
    for id in ["p", "r", "d"] {
        everything.push(s.get_dentry("1", id).await.unwrap().unwrap());
    }
    for descending in [false, true] {
        let expected = keyset_order(everything.clone(), SortKey::ModifiedTime, descending);
        let listed = s.list_space("1", descending, None, 100).await.unwrap();
        assert_eq!(ids(&listed), expected, "descending={descending}");
        for limit in [1, 3] {
            let mut seen: Vec<String> = Vec::new();
            let mut after: Option<Cursor> = None;
            loop {
                let page = s.list_space("1", descending, after.as_ref(), limit).await.unwrap();
                let Some(last) = page.last() else { break };
                after = Some(cursor_after(last, SortKey::ModifiedTime));
                seen.extend(page.into_iter().map(|d| d.dentry_id));
                assert!(seen.len() <= expected.len(), "pages repeat: {seen:?}");
            }
            assert_eq!(seen, expected, "descending={descending} limit={limit}");
        }
    }
    assert_eq!(ids(&s.list_space("2", false, None, 100).await.unwrap()), ["o"]);
    assert!(s.list_space("nope", false, None, 100).await.unwrap().is_empty());
}

pub async fn folder_names_run_from_the_root(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    s.insert_space_once(&space("2", "1")).await.unwrap();
    create(s, folder("p", "一")).await;
    create(s, DentryRecord { parent_id: "p".into(), ..folder("q", "two") }).await;
    create(s, DentryRecord { parent_id: "q".into(), ..folder("r", "Three") }).await;
    create(s, DentryRecord { parent_id: "q".into(), ..file("f", "file", 1) }).await;
    create(s, DentryRecord { space_id: "2".into(), ..folder("o", "other") }).await;
    assert_eq!(s.folder_names("1", "0").await.unwrap(), Some(vec![]));
    assert_eq!(s.folder_names("1", "p").await.unwrap(), Some(vec!["一".into()]));
    assert_eq!(
        s.folder_names("1", "r").await.unwrap(),
        Some(vec!["一".to_string(), "two".into(), "Three".into()])
    );
    assert_eq!(s.folder_names("1", "f").await.unwrap(), None, "a file is no folder");
    assert_eq!(s.folder_names("1", "missing").await.unwrap(), None);
    assert_eq!(s.folder_names("2", "p").await.unwrap(), None, "another space's folder");
    assert_eq!(s.folder_names("1", "o").await.unwrap(), None, "another space's folder");
    assert_eq!(s.folder_names("2", "o").await.unwrap(), Some(vec!["other".into()]));
    assert_eq!(s.folder_names("2", "0").await.unwrap(), Some(vec![]));
}

pub async fn dentries_are_only_found_in_their_space(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    s.insert_space_once(&space("2", "1")).await.unwrap();
    let a = create(s, file("1", "a", 1)).await;
    let b = create(s, folder("2", "b")).await;
    create(s, DentryRecord { space_id: "2".into(), ..file("3", "c", 1) }).await;
    let wanted: Vec<String> = ["2", "3", "missing", "1"].map(String::from).into();
    let mut found = s.get_dentries("1", &wanted).await.unwrap();
    found.sort_by(|x, y| x.dentry_id.cmp(&y.dentry_id));
    assert_eq!(found, vec![a, b]);
    assert!(s.get_dentries("1", &[]).await.unwrap().is_empty());
    assert!(s.get_dentries("2", &["1".to_string()]).await.unwrap().is_empty());
    assert!(s.get_dentry("2", "1").await.unwrap().is_none());
    assert!(s.get_dentry("1", "3").await.unwrap().is_none());
    assert_eq!(ids(&s.get_dentries("2", &wanted).await.unwrap()), ["3"]);
}

fn property(app_id: &str, name: &str, value: &str, visibility: &str) -> AppPropertyRecord {
    AppPropertyRecord {
        dentry_id: String::new(),
        app_id: app_id.into(),
        name: name.into(),
        value: value.into(),
        visibility: visibility.into(),
    }
}

fn sorted(mut properties: Vec<AppPropertyRecord>) -> Vec<(String, String, String, String)> {
    properties.sort_by(|x, y| (&x.app_id, &x.name).cmp(&(&y.app_id, &y.name)));
    properties.into_iter().map(|p| (p.dentry_id, p.app_id, p.name, p.value)).collect()
}

pub async fn app_properties_are_set_with_the_dentry(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    let mut first = put(file("1", "a", 1), NameConflict::Fail, None);
    first.app_properties =
        vec![property("a", "x", "1", "PRIVATE"), property("b", "y", "2", "PUBLIC")];
    let created = s.put_dentry(&first).await.unwrap();
    let PutOutcome::Created(created) = created else { panic!("{created:?}") };
    let expected = vec![
        ("1".to_string(), "a".to_string(), "x".to_string(), "1".to_string()),
        ("1".into(), "b".into(), "y".into(), "2".into()),
    ];
    assert_eq!(sorted(created.app_properties), expected);
    let read = s.get_dentry("1", "1").await.unwrap().unwrap();
    assert_eq!(sorted(read.app_properties.clone()), expected);
    let visibility: Vec<&str> = read.app_properties.iter().map(|p| p.visibility.as_str()).collect();
    assert!(visibility.contains(&"PUBLIC") && visibility.contains(&"PRIVATE"));
    // An overwrite sets the properties it carries and keeps the others.
    let mut again = put(file("2", "a", 2), NameConflict::Overwrite, None);
    again.app_properties = vec![property("a", "x", "changed", "PUBLIC")];
    let outcome = s.put_dentry(&again).await.unwrap();
    let PutOutcome::Overwritten(overwritten) = outcome else { panic!("{outcome:?}") };
    let expected = vec![
        ("1".to_string(), "a".to_string(), "x".to_string(), "changed".to_string()),
        ("1".into(), "b".into(), "y".into(), "2".into()),
    ];
    assert_eq!(sorted(overwritten.app_properties), expected);
    let listed = s.list_children("1", "0", SortKey::Name, false, None, 10).await.unwrap();
    assert_eq!(sorted(listed[0].app_properties.clone()), expected);
    let in_batch = s.get_dentries("1", &["1".to_string()]).await.unwrap();
    assert_eq!(sorted(in_batch[0].app_properties.clone()), expected);
    // A put refused by its conflict rule sets nothing.
    let mut refused = put(file("3", "a", 1), NameConflict::Fail, None);
    refused.app_properties = vec![property("a", "z", "3", "PUBLIC")];
    assert!(s.put_dentry(&refused).await.is_err());
    let read = s.get_dentry("1", "1").await.unwrap().unwrap();
    assert_eq!(sorted(read.app_properties), expected);
}
