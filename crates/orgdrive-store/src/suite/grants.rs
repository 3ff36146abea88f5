//! Behaviour of grants: adding, updating, revoking and listing them, who a
//! user is for them (departments), the purge of expired ones, and what tree
//! changes do to them (delete and bin remove them, a move keeps or drops
//! them, a copy never copies them).

use super::fixtures::*;
use crate::*;

/// `g` made temporary: it stops working at `expires_at`.
fn until(g: GrantRecord, expires_at: i64) -> GrantRecord {
    let duration_secs = ((expires_at - g.modified_at) / 1000).max(1);
    GrantRecord { duration_secs: Some(duration_secs), expires_at: Some(expires_at), ..g }
}

/// Adds each grant (AddPermission), one write each.
async fn add(s: &impl MetaStore, grants: &[GrantRecord]) {
    for g in grants {
        s.write_grants(&writing(GrantWrite::Add, vec![g.clone()])).await.unwrap();
    }
}

/// `space/dentry TYPE:id ROLE`.
fn key(g: &GrantRecord) -> String {
    format!("{}/{} {}:{} {}", g.space_id, g.dentry_id, g.member_type, g.member_id, g.role)
}

fn keys(grants: &[GrantRecord]) -> Vec<String> {
    grants.iter().map(key).collect()
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    keys.sort();
    keys
}

fn roles(roles: &[&str]) -> Vec<String> {
    roles.iter().map(|r| r.to_string()).collect()
}

fn cursor(member_type: &str, member_id: &str) -> GrantCursor {
    GrantCursor { member_type: member_type.into(), member_id: member_id.into() }
}

/// Every grant on the dentry live at `now_ms`, in one page.
async fn listed(s: &impl MetaStore, space_id: &str, dentry_id: &str, now_ms: i64) -> Vec<String> {
    keys(&s.list_grants(space_id, dentry_id, &[], None, 1_000, now_ms).await.unwrap())
}

/// The keys of every grant of the space live at `now_ms`, sorted.
async fn space_keys(s: &impl MetaStore, space_id: &str, now_ms: i64) -> Vec<String> {
    let mut keys = keys(&s.space_grants(space_id, now_ms).await.unwrap());
    keys.sort();
    keys
}

/// Every grant of the space not expired at 0 (that is: every one stored),
/// as stored, by dentry then member.
async fn every_grant(s: &impl MetaStore, space_id: &str) -> Vec<GrantRecord> {
    let mut grants = s.space_grants(space_id, 0).await.unwrap();
    grants.sort_by_key(|g| (g.dentry_id.clone(), g.member_type.clone(), g.member_id.clone()));
    grants
}

/// Walks the dentry's grants in pages of `limit`, each page starting after
/// the previous one's last grant.
async fn walk(
    s: &impl MetaStore,
    dentry_id: &str,
    roles: &[String],
    limit: u32,
    now_ms: i64,
) -> Vec<GrantRecord> {
    let mut walked: Vec<GrantRecord> = Vec::new();
    loop {
        let after = walked.last().map(|g| cursor(&g.member_type, &g.member_id));
        let page =
            s.list_grants("1", dentry_id, roles, after.as_ref(), limit, now_ms).await.unwrap();
        assert!(page.len() <= limit as usize, "a page of {} past its limit {limit}", page.len());
        if page.is_empty() {
            return walked;
        }
        walked.extend(page);
        assert!(walked.len() <= 100, "the pages never end: {:?}", keys(&walked));
    }
}

/// The grants of the `tree` fixture's tests of tree changes: one user grant
/// on each dentry of space 1 and its root, one on space 2's root.
fn on_the_tree() -> Vec<GrantRecord> {
    let mut grants: Vec<GrantRecord> = ["0", "d", "f1", "s", "f2", "o", "f3", "t"]
        .into_iter()
        .map(|id| grant("1", id, "USER", &format!("u{id}"), "EDITOR"))
        .collect();
    grants.push(grant("2", "0", "USER", "u2", "READER"));
    grants
}

pub async fn grants_are_listed_by_member_bytewise_in_keyset_pages(s: &impl MetaStore) {
    tree(s, None, None).await;
    let on_root = [
        grant("1", "0", "USER", "bob", "DOWNLOADER"),
        grant("1", "0", "USER", "Bob", "READER"),
        grant("1", "0", "USER", "é", "EDITOR"),
        grant("1", "0", "DEPT", "9", "MANAGER"),
        grant("1", "0", "DEPT", "10", "EDITOR"),
        grant("1", "0", "ORG", "c", "READER"),
        grant("1", "0", "USER", "ann", "OWNER"),
        until(grant("1", "0", "USER", "tmp", "EDITOR"), 1_000),
        until(grant("1", "0", "USER", "exp", "READER"), 50),
    ];
    add(s, &on_root).await;
    // Several members in one write, on a live folder.
    let on_docs = vec![
        grant("1", "d", "USER", "cat", "EDITOR"),
        until(grant("1", "d", "USER", "ann", "READER"), 1_000),
    ];
    s.write_grants(&writing(GrantWrite::Add, on_docs.clone())).await.unwrap();
    // By member type, then id, bytewise: "10" < "9", "Bob" < "ann" < "bob" < "é".
    let all = s.list_grants("1", "0", &[], None, 100, 40).await.unwrap();
    let expected = [
        "1/0 DEPT:10 EDITOR",
        "1/0 DEPT:9 MANAGER",
        "1/0 ORG:c READER",
        "1/0 USER:Bob READER",
        "1/0 USER:ann OWNER",
        "1/0 USER:bob DOWNLOADER",
        "1/0 USER:exp READER",
        "1/0 USER:tmp EDITOR",
        "1/0 USER:é EDITOR",
    ];
    assert_eq!(keys(&all), expected);
    // Read back as written.
    for g in &on_root {
        assert!(all.contains(g), "{g:?} is not read back as written: {all:?}");
    }
    // A grant that expires at `now_ms` is hidden, an expired one too.
    assert_eq!(keys(&s.list_grants("1", "0", &[], None, 100, 49).await.unwrap()), expected);
    let at_50: Vec<&str> = expected.iter().copied().filter(|k| !k.contains(":exp ")).collect();
    assert_eq!(listed(s, "1", "0", 50).await, at_50);
    let at_1000: Vec<&str> = at_50.iter().copied().filter(|k| !k.contains(":tmp ")).collect();
    assert_eq!(listed(s, "1", "0", 1_000).await, at_1000);
    // Pages of any size neither repeat nor skip.
    let all = s.list_grants("1", "0", &[], None, 100, 50).await.unwrap();
    for limit in 1..=4 {
        assert_eq!(walk(s, "0", &[], limit, 50).await, all, "pages of {limit}");
    }
    assert!(s.list_grants("1", "0", &[], None, 0, 50).await.unwrap().is_empty());
    // A cursor between members, or past a member type.
    let after = |t: &str, id: &str| {
        let c = cursor(t, id);
        async move { keys(&s.list_grants("1", "0", &[], Some(&c), 2, 50).await.unwrap()) }
    };
    assert_eq!(after("USER", "b").await, ["1/0 USER:bob DOWNLOADER", "1/0 USER:tmp EDITOR"]);
    assert_eq!(after("ORG", "zzz").await, ["1/0 USER:Bob READER", "1/0 USER:ann OWNER"]);
    assert_eq!(after("DEPT", "10").await, ["1/0 DEPT:9 MANAGER", "1/0 ORG:c READER"]);
    assert_eq!(after("A", "z").await, ["1/0 DEPT:10 EDITOR", "1/0 DEPT:9 MANAGER"]);
    assert!(after("USER", "é").await.is_empty());
    // Filtered by role (any of them), in pages too.
    let readers = s.list_grants("1", "0", &roles(&["READER"]), None, 100, 50).await.unwrap();
    assert_eq!(keys(&readers), ["1/0 ORG:c READER", "1/0 USER:Bob READER"]);
    let editing = roles(&["EDITOR", "MANAGER"]);
    let expected_editing =
        ["1/0 DEPT:10 EDITOR", "1/0 DEPT:9 MANAGER", "1/0 USER:tmp EDITOR", "1/0 USER:é EDITOR"];
    let editors = s.list_grants("1", "0", &editing, None, 100, 50).await.unwrap();
    assert_eq!(keys(&editors), expected_editing);
    for limit in 1..=3 {
        assert_eq!(keys(&walk(s, "0", &editing, limit, 50).await), expected_editing);
    }
    let after_ann = cursor("USER", "ann");
    let owners = s.list_grants("1", "0", &roles(&["OWNER"]), Some(&after_ann), 10, 50).await;
    assert!(owners.unwrap().is_empty());
    let readers_at_49 = s.list_grants("1", "0", &roles(&["READER"]), None, 100, 49).await;
    assert_eq!(
        keys(&readers_at_49.unwrap()),
        ["1/0 ORG:c READER", "1/0 USER:Bob READER", "1/0 USER:exp READER"]
    );
    // Each dentry's grants are its own.
    let docs = s.list_grants("1", "d", &[], None, 100, 50).await.unwrap();
    assert_eq!(docs, vec![on_docs[1].clone(), on_docs[0].clone()]);
    assert!(listed(s, "1", "f1", 50).await.is_empty());
    assert!(listed(s, "2", "0", 50).await.is_empty());
    assert!(listed(s, "2", "d", 50).await.is_empty());
}

pub async fn adding_again_replaces_the_members_grant_on_the_dentry(s: &impl MetaStore) {
    tree(s, None, None).await;
    add(s, &[grant("1", "d", "USER", "ann", "EDITOR")]).await;
    // Role, duration, expiry and operator change; the creation time stays.
    let again = GrantRecord {
        operator_id: "op2".into(),
        created_at: 20,
        modified_at: 20,
        ..until(grant("1", "d", "USER", "ann", "READER"), 60_020)
    };
    let expected = GrantRecord { created_at: 10, ..again.clone() };
    add(s, &[again]).await;
    assert_eq!(expected.duration_secs, Some(60));
    assert_eq!(s.list_grants("1", "d", &[], None, 100, 30).await.unwrap(), vec![expected.clone()]);
    assert_eq!(every_grant(s, "1").await, vec![expected]);
    // And back to permanent.
    let permanent = GrantRecord {
        operator_id: "op3".into(),
        created_at: 30,
        modified_at: 30,
        ..grant("1", "d", "USER", "ann", "MANAGER")
    };
    let expected = GrantRecord { created_at: 10, ..permanent.clone() };
    add(s, &[permanent]).await;
    assert_eq!(every_grant(s, "1").await, vec![expected.clone()]);
    // Other dentries, other members and other member types are separate grants.
    let others = [
        grant("1", "0", "USER", "ann", "READER"),
        grant("1", "f1", "USER", "ann", "EDITOR"),
        grant("1", "d", "USER", "bob", "EDITOR"),
        grant("1", "d", "DEPT", "ann", "DOWNLOADER"),
        grant("2", "0", "USER", "ann", "OWNER"),
    ];
    add(s, &others).await;
    assert_eq!(
        listed(s, "1", "d", 40).await,
        ["1/d DEPT:ann DOWNLOADER", "1/d USER:ann MANAGER", "1/d USER:bob EDITOR"]
    );
    assert_eq!(
        s.list_grants("1", "d", &[], Some(&cursor("DEPT", "ann")), 1, 40).await.unwrap(),
        [expected]
    );
    assert_eq!(listed(s, "1", "0", 40).await, ["1/0 USER:ann READER"]);
    assert_eq!(listed(s, "1", "f1", 40).await, ["1/f1 USER:ann EDITOR"]);
    assert_eq!(listed(s, "2", "0", 40).await, ["2/0 USER:ann OWNER"]);
    assert_eq!(every_grant(s, "1").await.len(), 5);
}

pub async fn an_update_needs_every_member_to_hold_a_live_grant(s: &impl MetaStore) {
    tree(s, None, None).await;
    add(
        s,
        &[
            grant("1", "d", "USER", "ann", "EDITOR"),
            grant("1", "d", "USER", "bob", "READER"),
            until(grant("1", "d", "USER", "cat", "READER"), 150),
            grant("1", "0", "USER", "eve", "READER"),
            grant("1", "d", "DEPT", "dan", "READER"),
        ],
    )
    .await;
    let at = |now: i64, member_type: &str, member_id: &str, role: &str| GrantRecord {
        operator_id: "op2".into(),
        created_at: now,
        modified_at: now,
        ..grant("1", "d", member_type, member_id, role)
    };
    // Every member holds a live grant: all are replaced, created_at kept.
    let update = vec![at(100, "USER", "ann", "MANAGER"), at(100, "USER", "bob", "EDITOR")];
    s.write_grants(&writing(GrantWrite::Update, update)).await.unwrap();
    let before = every_grant(s, "1").await;
    let ann = before.iter().find(|g| g.dentry_id == "d" && g.member_id == "ann").unwrap();
    assert_eq!(ann, &GrantRecord { created_at: 10, ..at(100, "USER", "ann", "MANAGER") });
    assert_eq!(
        listed(s, "1", "d", 100).await,
        [
            "1/d DEPT:dan READER",
            "1/d USER:ann MANAGER",
            "1/d USER:bob EDITOR",
            "1/d USER:cat READER"
        ]
    );
    // One member without a live grant on the dentry: nothing changes, not
    // even the grants of the members listed before it.
    let refused = [
        // no grant at all
        vec![at(200, "USER", "ann", "READER"), at(200, "USER", "zed", "EDITOR")],
        // only an expired one (at 150)
        vec![
            at(200, "USER", "ann", "READER"),
            at(200, "USER", "bob", "READER"),
            at(200, "USER", "cat", "EDITOR"),
        ],
        // a grant on another dentry only
        vec![at(200, "USER", "bob", "OWNER"), at(200, "USER", "eve", "EDITOR")],
        // a grant to another member type only
        vec![at(200, "USER", "ann", "OWNER"), at(200, "USER", "dan", "EDITOR")],
        // the first one fails
        vec![at(200, "USER", "zed", "EDITOR"), at(200, "USER", "ann", "READER")],
    ];
    for update in refused {
        let members: Vec<String> = update.iter().map(|g| g.member_id.clone()).collect();
        let written = s.write_grants(&writing(GrantWrite::Update, update)).await;
        assert!(matches!(written, Err(StoreError::NotFound)), "{members:?}: {written:?}");
        assert_eq!(every_grant(s, "1").await, before, "{members:?} changed grants");
    }
    // The expired grant still works before its expiry, as it was.
    let (readers, after_c) = (roles(&["READER"]), cursor("USER", "c"));
    let cat = s.list_grants("1", "d", &readers, Some(&after_c), 1, 100).await.unwrap();
    assert_eq!(cat, [until(grant("1", "d", "USER", "cat", "READER"), 150)]);
    // Add, unlike Update, gives the member a grant again.
    s.write_grants(&writing(GrantWrite::Add, vec![at(200, "USER", "cat", "EDITOR")]))
        .await
        .unwrap();
    assert!(listed(s, "1", "d", 200).await.contains(&"1/d USER:cat EDITOR".to_string()));
}

pub async fn grants_are_written_only_on_a_live_dentry_of_the_space(s: &impl MetaStore) {
    tree(s, None, None).await;
    create(s, folder("g", "gone")).await;
    s.delete_dentry(&deleting("g", Some("r1"))).await.unwrap();
    create(s, file("x", "removed.txt", 1)).await;
    s.delete_dentry(&deleting("x", None)).await.unwrap();
    for (space, dentry) in
        [("1", "missing"), ("2", "f1"), ("2", "d"), ("1", "g"), ("1", "x"), ("nope", "0")]
    {
        for mode in [GrantWrite::Add, GrantWrite::Update] {
            let grants = vec![
                grant(space, dentry, "USER", "ann", "EDITOR"),
                grant(space, dentry, "ORG", "c", "READER"),
            ];
            let written = s.write_grants(&writing(mode, grants)).await;
            assert!(matches!(written, Err(StoreError::NotFound)), "{space}/{dentry}: {written:?}");
        }
        assert!(listed(s, space, dentry, 0).await.is_empty(), "{space}/{dentry}");
    }
    assert!(every_grant(s, "1").await.is_empty());
    assert!(every_grant(s, "2").await.is_empty());
    assert!(every_grant(s, "nope").await.is_empty());
    // A restored folder is live again.
    s.restore_recycle_item(&restoring("r1", to("1", "0", NameConflict::Fail)), ids())
        .await
        .unwrap();
    // Roots, live folders and live files of any space take grants.
    let fine = [
        grant("1", "g", "USER", "ann", "EDITOR"),
        grant("2", "0", "USER", "ann", "EDITOR"),
        grant("1", "0", "USER", "ann", "EDITOR"),
        grant("1", "f2", "USER", "ann", "EDITOR"),
    ];
    add(s, &fine).await;
    assert_eq!(
        space_keys(s, "1", 0).await,
        sorted(&["1/g USER:ann EDITOR", "1/0 USER:ann EDITOR", "1/f2 USER:ann EDITOR"])
    );
    assert_eq!(space_keys(s, "2", 0).await, ["2/0 USER:ann EDITOR"]);
}

pub async fn revoking_removes_only_the_members_grants_of_the_role(s: &impl MetaStore) {
    tree(s, None, None).await;
    add(
        s,
        &[
            grant("1", "d", "USER", "ann", "EDITOR"),
            grant("1", "d", "USER", "bob", "READER"),
            grant("1", "d", "USER", "cat", "EDITOR"),
            grant("1", "d", "DEPT", "ann", "EDITOR"),
            grant("1", "0", "USER", "ann", "EDITOR"),
            grant("1", "s", "USER", "ann", "EDITOR"),
        ],
    )
    .await;
    let revoke = |dentry: &str, role: &str, members: &[(&str, &str)]| RevokeGrants {
        space_id: "1".into(),
        dentry_id: dentry.into(),
        role: role.into(),
        members: members.iter().map(|(t, id)| (t.to_string(), id.to_string())).collect(),
        operator_id: "op".into(),
        now_ms: 1,
    };
    let editors = revoke(
        "d",
        "EDITOR",
        &[("USER", "ann"), ("USER", "bob"), ("USER", "nobody"), ("ORG", "c")],
    );
    assert_eq!(s.revoke_grants(&editors).await.unwrap(), 1);
    assert_eq!(
        listed(s, "1", "d", 0).await,
        ["1/d DEPT:ann EDITOR", "1/d USER:bob READER", "1/d USER:cat EDITOR"]
    );
    assert_eq!(listed(s, "1", "0", 0).await, ["1/0 USER:ann EDITOR"]);
    assert_eq!(listed(s, "1", "s", 0).await, ["1/s USER:ann EDITOR"]);
    // Again: nothing left to revoke.
    assert_eq!(s.revoke_grants(&editors).await.unwrap(), 0);
    // Another space's dentry of that id holds nothing.
    let elsewhere =
        RevokeGrants { space_id: "2".into(), ..revoke("d", "EDITOR", &[("USER", "cat")]) };
    assert_eq!(s.revoke_grants(&elsewhere).await.unwrap(), 0);
    let several = revoke("d", "EDITOR", &[("USER", "cat"), ("DEPT", "ann"), ("USER", "bob")]);
    assert_eq!(s.revoke_grants(&several).await.unwrap(), 2);
    assert_eq!(listed(s, "1", "d", 0).await, ["1/d USER:bob READER"]);
    assert_eq!(s.revoke_grants(&revoke("d", "READER", &[("USER", "bob")])).await.unwrap(), 1);
    assert!(listed(s, "1", "d", 0).await.is_empty());
    assert_eq!(s.revoke_grants(&revoke("d", "READER", &[])).await.unwrap(), 0);
    assert_eq!(
        space_keys(s, "1", 0).await,
        sorted(&["1/0 USER:ann EDITOR", "1/s USER:ann EDITOR"])
    );
}

pub async fn space_grants_are_every_live_grant_of_the_space(s: &impl MetaStore) {
    tree(s, None, None).await;
    add(
        s,
        &[
            grant("1", "0", "USER", "ann", "OWNER"),
            grant("1", "d", "DEPT", "7", "EDITOR"),
            grant("1", "f2", "ORG", "c", "READER"),
            until(grant("1", "t", "USER", "bob", "READER"), 500),
            until(grant("1", "t", "USER", "cat", "READER"), 100),
            grant("2", "0", "USER", "ann", "READER"),
            until(grant("2", "0", "USER", "bob", "READER"), 100),
        ],
    )
    .await;
    let space_1 = [
        "1/0 USER:ann OWNER",
        "1/d DEPT:7 EDITOR",
        "1/f2 ORG:c READER",
        "1/t USER:bob READER",
        "1/t USER:cat READER",
    ];
    assert_eq!(space_keys(s, "1", 99).await, sorted(&space_1));
    let live_at_100: Vec<&str> = space_1.iter().copied().filter(|k| !k.contains(":cat")).collect();
    assert_eq!(space_keys(s, "1", 100).await, sorted(&live_at_100));
    assert_eq!(space_keys(s, "1", 500).await, sorted(&live_at_100[..3]));
    assert_eq!(space_keys(s, "2", 99).await, ["2/0 USER:ann READER", "2/0 USER:bob READER"]);
    assert_eq!(space_keys(s, "2", 100).await, ["2/0 USER:ann READER"]);
    assert!(space_keys(s, "nope", 0).await.is_empty());
    let t = s.space_grants("1", 200).await.unwrap().into_iter().find(|g| g.dentry_id == "t");
    assert_eq!(t, Some(until(grant("1", "t", "USER", "bob", "READER"), 500)));
}

pub async fn a_users_departments_include_all_their_ancestors(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_org(&org("e", None)).await.unwrap();
    for (union_id, corp_id, user_id) in
        [("ann", "c", "1"), ("bob", "c", "2"), ("cat", "c", "3"), ("eve", "e", "1")]
    {
        s.insert_user(&user(union_id, corp_id, user_id)).await.unwrap();
    }
    // c: r / m / l, r / x, and y on its own; e: er / el.
    for (id, corp_id, parent) in [
        ("r", "c", None),
        ("m", "c", Some("r")),
        ("l", "c", Some("m")),
        ("x", "c", Some("r")),
        ("y", "c", None),
        ("er", "e", None),
        ("el", "e", Some("er")),
    ] {
        s.insert_dept(&dept(id, corp_id, parent)).await.unwrap();
    }
    s.add_dept_member("c", "l", "ann").await.unwrap();
    s.add_dept_member("c", "m", "bob").await.unwrap();
    s.add_dept_member("c", "y", "bob").await.unwrap();
    s.add_dept_member("e", "el", "eve").await.unwrap();
    let depts = |corp_id: &'static str, union_id: &'static str| async move {
        let mut ids = s.user_dept_ids(corp_id, union_id).await.unwrap();
        ids.sort();
        ids
    };
    assert_eq!(depts("c", "ann").await, ["l", "m", "r"]);
    assert_eq!(depts("c", "bob").await, ["m", "r", "y"]);
    // A department reached twice is there once.
    s.add_dept_member("c", "m", "ann").await.unwrap();
    assert_eq!(depts("c", "ann").await, ["l", "m", "r"]);
    assert!(depts("c", "cat").await.is_empty());
    assert_eq!(depts("e", "eve").await, ["el", "er"]);
    // Never a department of another org.
    assert!(depts("c", "eve").await.is_empty());
    assert!(depts("e", "ann").await.is_empty());
    assert!(depts("c", "nobody").await.is_empty());
    assert!(depts("nope", "ann").await.is_empty());
    // Leaving a department leaves its ancestors too, unless still reached.
    assert!(s.remove_dept_member("c", "l", "ann").await.unwrap());
    assert_eq!(depts("c", "ann").await, ["m", "r"]);
    assert!(s.remove_dept_member("c", "m", "ann").await.unwrap());
    assert!(depts("c", "ann").await.is_empty());
}

pub async fn expired_grants_are_purged(s: &impl MetaStore) {
    tree(s, None, None).await;
    add(
        s,
        &[
            grant("1", "0", "USER", "ann", "OWNER"),
            until(grant("1", "0", "USER", "bob", "READER"), 100),
            until(grant("1", "d", "USER", "bob", "READER"), 200),
            until(grant("1", "d", "USER", "cat", "READER"), 300),
            until(grant("2", "0", "USER", "bob", "READER"), 150),
            grant("2", "0", "USER", "ann", "READER"),
        ],
    )
    .await;
    assert_eq!(s.purge_expired_grants(99).await.unwrap(), 0);
    assert_eq!(every_grant(s, "1").await.len(), 4);
    // Expired at or before `now_ms`.
    assert_eq!(s.purge_expired_grants(200).await.unwrap(), 3);
    assert_eq!(space_keys(s, "1", 0).await, sorted(&["1/0 USER:ann OWNER", "1/d USER:cat READER"]));
    assert_eq!(space_keys(s, "2", 0).await, ["2/0 USER:ann READER"]);
    assert_eq!(s.purge_expired_grants(200).await.unwrap(), 0);
    assert_eq!(s.purge_expired_grants(1 << 40).await.unwrap(), 1);
    assert_eq!(space_keys(s, "1", 0).await, ["1/0 USER:ann OWNER"]);
    assert_eq!(space_keys(s, "2", 0).await, ["2/0 USER:ann READER"]);
}

pub async fn a_permanent_delete_removes_the_subtrees_grants_and_the_bin_keeps_them(
    s: &impl MetaStore,
) {
    tree(s, None, None).await;
    create(s, under("o", folder("p", "deep"))).await;
    create(s, under("p", file("q", "q.txt", 1))).await;
    let mut grants = on_the_tree();
    grants.push(grant("1", "p", "DEPT", "up", "READER"));
    grants.push(grant("1", "q", "ORG", "c", "READER"));
    add(s, &grants).await;
    // For good: /docs, /docs/a.txt, /docs/sub, /docs/sub/b.txt.
    s.delete_dentry(&deleting("d", None)).await.unwrap();
    let kept = [
        "1/0 USER:u0 EDITOR",
        "1/o USER:uo EDITOR",
        "1/f3 USER:uf3 EDITOR",
        "1/p DEPT:up READER",
        "1/q ORG:c READER",
        "1/t USER:ut EDITOR",
    ];
    assert_eq!(space_keys(s, "1", 0).await, sorted(&kept));
    // To the bin: /other, /other/a.txt, /other/deep, /other/deep/q.txt keep
    // their grants, and a restore brings them back with the dentries.
    s.delete_dentry(&deleting("o", Some("r1"))).await.unwrap();
    assert_eq!(space_keys(s, "1", 0).await, sorted(&kept));
    let placed =
        s.restore_recycle_item(&restoring("r1", to("1", "0", NameConflict::Fail)), ids()).await;
    assert_eq!(placed.unwrap().entries, 4);
    for id in ["o", "f3", "p", "q"] {
        assert_eq!(s.get_dentry("1", id).await.unwrap().unwrap().status, "NORMAL");
        assert_eq!(listed(s, "1", id, 0).await.len(), 1, "{id} keeps its grant");
    }
    assert_eq!(space_keys(s, "1", 0).await, sorted(&kept));
    assert_eq!(space_keys(s, "2", 0).await, ["2/0 USER:u2 READER"]);
    // Binned, then purged: gone.
    s.delete_dentry(&deleting("t", Some("r2"))).await.unwrap();
    s.delete_dentry(&deleting("o", Some("r3"))).await.unwrap();
    s.purge_recycle_items(&every_item(), None, "op").await.unwrap();
    assert_eq!(space_keys(s, "1", 0).await, ["1/0 USER:u0 EDITOR"]);
    assert_consistent(s).await;
}

pub async fn grants_leave_with_the_user_or_department_they_name(s: &impl MetaStore) {
    tree(s, None, None).await;
    s.insert_user(&user("uo", "c", "uo")).await.unwrap();
    s.insert_dept(&dept("dx", "c", None)).await.unwrap();
    add(
        s,
        &[
            grant("1", "o", "USER", "uo", "EDITOR"),
            grant("1", "d", "USER", "uo", "READER"),
            grant("1", "d", "DEPT", "dx", "READER"),
            grant("1", "0", "ORG", "c", "READER"),
        ],
    )
    .await;
    assert!(s.delete_user("c", "uo").await.unwrap());
    assert_eq!(space_keys(s, "1", 0).await, sorted(&["1/0 ORG:c READER", "1/d DEPT:dx READER"]));
    assert!(s.delete_dept("c", "dx").await.unwrap());
    assert_eq!(space_keys(s, "1", 0).await, ["1/0 ORG:c READER"]);
    // A user made again under the same unionId starts with nothing.
    s.insert_user(&user("uo", "c", "uo")).await.unwrap();
    assert_eq!(space_keys(s, "1", 0).await, ["1/0 ORG:c READER"]);
}

pub async fn a_move_within_a_space_keeps_or_drops_the_grants_of_its_subtree(s: &impl MetaStore) {
    tree(s, None, None).await;
    add(s, &on_the_tree()).await;
    let before = every_grant(s, "1").await;
    // Kept: /docs under /other and back, with its subtree.
    s.move_dentry(&moving("d", to("1", "o", NameConflict::Fail)), ids()).await.unwrap();
    assert_eq!(every_grant(s, "1").await, before);
    s.move_dentry(&moving("d", to("1", "0", NameConflict::Fail)), ids()).await.unwrap();
    assert_eq!(every_grant(s, "1").await, before);
    // Dropped: /docs/sub (and b.txt in it) into /other; the old and new
    // ancestors and siblings keep theirs.
    let dropping = |id: &str, parent: &str| MoveDentry {
        keep_grants: false,
        ..moving(id, to("1", parent, NameConflict::Fail))
    };
    let placed = s.move_dentry(&dropping("s", "o"), ids()).await.unwrap();
    assert_eq!(placed.dentry.parent_id, "o");
    let kept = [
        "1/0 USER:u0 EDITOR",
        "1/d USER:ud EDITOR",
        "1/f1 USER:uf1 EDITOR",
        "1/o USER:uo EDITOR",
        "1/f3 USER:uf3 EDITOR",
        "1/t USER:ut EDITOR",
    ];
    assert_eq!(space_keys(s, "1", 0).await, sorted(&kept));
    assert!(listed(s, "1", "s", 0).await.is_empty());
    assert!(listed(s, "1", "f2", 0).await.is_empty());
    // A move to the folder it is in changes nothing: its grants stay.
    s.move_dentry(&dropping("d", "0"), ids()).await.unwrap();
    assert_eq!(space_keys(s, "1", 0).await, sorted(&kept));
    // A file, dropped; then a folder of files, dropped with them.
    s.move_dentry(&dropping("t", "d"), ids()).await.unwrap();
    assert!(listed(s, "1", "t", 0).await.is_empty());
    s.move_dentry(&dropping("o", "d"), ids()).await.unwrap();
    assert_eq!(
        space_keys(s, "1", 0).await,
        sorted(&["1/0 USER:u0 EDITOR", "1/d USER:ud EDITOR", "1/f1 USER:uf1 EDITOR"])
    );
    assert_eq!(space_keys(s, "2", 0).await, ["2/0 USER:u2 READER"]);
    assert_consistent(s).await;
}

pub async fn a_move_across_spaces_takes_the_grants_along_or_drops_them(s: &impl MetaStore) {
    tree(s, None, None).await;
    add(s, &on_the_tree()).await;
    let before = every_grant(s, "1").await;
    // Kept: /docs with its subtree into space 2, where they list now.
    s.move_dentry(&moving("d", to("2", "0", NameConflict::Fail)), ids()).await.unwrap();
    let moved: Vec<GrantRecord> = before
        .iter()
        .filter(|g| ["d", "f1", "s", "f2"].contains(&g.dentry_id.as_str()))
        .map(|g| GrantRecord { space_id: "2".into(), ..g.clone() })
        .collect();
    let mut expected_2 = moved.clone();
    expected_2.insert(0, grant("2", "0", "USER", "u2", "READER"));
    assert_eq!(every_grant(s, "2").await, expected_2);
    for g in &moved {
        let listed_2 = s.list_grants("2", &g.dentry_id, &[], None, 10, 0).await.unwrap();
        assert_eq!(listed_2, std::slice::from_ref(g));
        assert!(listed(s, "1", &g.dentry_id, 0).await.is_empty(), "{} is still in 1", g.dentry_id);
    }
    assert_eq!(
        space_keys(s, "1", 0).await,
        sorted(&[
            "1/0 USER:u0 EDITOR",
            "1/o USER:uo EDITOR",
            "1/f3 USER:uf3 EDITOR",
            "1/t USER:ut EDITOR"
        ])
    );
    // And back, part of it.
    let back = MoveDentry { space_id: "2".into(), ..moving("s", to("1", "o", NameConflict::Fail)) };
    s.move_dentry(&back, ids()).await.unwrap();
    assert_eq!(listed(s, "1", "s", 0).await, ["1/s USER:us EDITOR"]);
    assert_eq!(listed(s, "1", "f2", 0).await, ["1/f2 USER:uf2 EDITOR"]);
    assert_eq!(
        space_keys(s, "2", 0).await,
        sorted(&["2/0 USER:u2 READER", "2/d USER:ud EDITOR", "2/f1 USER:uf1 EDITOR"])
    );
    // Dropped: /other (with a.txt and sub/b.txt in it now) into space 2.
    let dropping =
        MoveDentry { keep_grants: false, ..moving("o", to("2", "d", NameConflict::Fail)) };
    assert_eq!(s.move_dentry(&dropping, ids()).await.unwrap().entries, 4);
    for id in ["o", "f3", "s", "f2"] {
        assert!(listed(s, "1", id, 0).await.is_empty(), "{id} kept its grants in 1");
        assert!(listed(s, "2", id, 0).await.is_empty(), "{id} kept its grants in 2");
    }
    assert_eq!(space_keys(s, "1", 0).await, sorted(&["1/0 USER:u0 EDITOR", "1/t USER:ut EDITOR"]));
    assert_eq!(
        space_keys(s, "2", 0).await,
        sorted(&["2/0 USER:u2 READER", "2/d USER:ud EDITOR", "2/f1 USER:uf1 EDITOR"])
    );
    assert_consistent(s).await;
}

pub async fn a_copy_copies_no_grants(s: &impl MetaStore) {
    tree(s, None, None).await;
    add(s, &on_the_tree()).await;
    let before_1 = every_grant(s, "1").await;
    let before_2 = every_grant(s, "2").await;
    // /docs into /other (as c1) and into space 2 (as c2); /top.txt into /docs (as c3).
    let ids = ids();
    let copy = |id: &str, to: Destination, new_id: &str| {
        let request = copying(id, to, new_id);
        let ids = ids.clone();
        async move { s.copy_dentry(&request, ids).await }
    };
    let placed = copy("d", to("1", "o", NameConflict::Fail), "c1").await;
    assert_eq!(placed.unwrap().entries, 4);
    let placed = copy("d", to("2", "0", NameConflict::Fail), "c2").await;
    assert_eq!(placed.unwrap().entries, 4);
    let placed = copy("t", to("1", "d", NameConflict::Fail), "c3").await;
    assert_eq!(placed.unwrap().entries, 1);
    assert_eq!(every_grant(s, "1").await, before_1);
    assert_eq!(every_grant(s, "2").await, before_2);
    let copies = [("1", "c1"), ("2", "c2"), ("1", "c3")];
    for (space, root) in copies {
        let mut level = vec![root.to_string()];
        let mut seen = 0;
        while let Some(id) = level.pop() {
            assert!(listed(s, space, &id, 0).await.is_empty(), "the copy {space}/{id} has grants");
            seen += 1;
            let children = s.list_children(space, &id, SortKey::Name, false, None, 100).await;
            level.extend(children.unwrap().into_iter().map(|d| d.dentry_id));
        }
        assert_eq!(seen, if root == "c3" { 1 } else { 4 }, "{space}/{root}");
    }
    assert_consistent(s).await;
}

pub async fn a_protected_move_refuses_to_remove_an_owner_grant(s: &impl MetaStore) {
    tree(s, None, None).await;
    add(
        s,
        &[
            grant("1", "f2", "USER", "carol", "OWNER"),
            until(grant("1", "f3", "USER", "dan", "OWNER"), 50),
            grant("1", "s", "USER", "eve", "MANAGER"),
        ],
    )
    .await;
    let before = every_grant(s, "1").await;
    let protected = |id: &str, space: &str, parent: &str| MoveDentry {
        keep_grants: false,
        protect_owner_grants: true,
        ..moving(id, to(space, parent, NameConflict::Fail))
    };
    // /docs holds carol's OWNER grant two levels down: refused, within the
    // space and across spaces, and nothing changed.
    for (space, parent) in [("1", "o"), ("2", "0")] {
        let refused = s.move_dentry(&protected("d", space, parent), ids()).await;
        assert!(matches!(refused, Err(StoreError::OwnerGrantInTheWay)), "{refused:?}");
        assert_eq!(every_grant(s, "1").await, before);
        let d = s.get_dentry("1", "d").await.unwrap().unwrap();
        assert_eq!((d.space_id.as_str(), d.parent_id.as_str()), ("1", "0"));
    }
    // Staying in its folder or keeping the grants removes none: allowed.
    s.move_dentry(&protected("d", "1", "0"), ids()).await.unwrap();
    let keeping = MoveDentry { keep_grants: true, ..protected("d", "1", "o") };
    s.move_dentry(&keeping, ids()).await.unwrap();
    assert_eq!(every_grant(s, "1").await, before);
    // An expired OWNER grant is in nobody's way (the move, at 100, is after 50).
    s.move_dentry(&protected("f3", "1", "0"), ids()).await.unwrap();
    assert!(listed(s, "1", "f3", 0).await.is_empty());
    // Unprotected, the move removes it.
    let unprotected = MoveDentry { protect_owner_grants: false, ..protected("d", "1", "0") };
    s.move_dentry(&unprotected, ids()).await.unwrap();
    assert!(listed(s, "1", "f2", 0).await.is_empty());
    assert_consistent(s).await;
}

pub async fn a_protected_grant_write_never_replaces_an_owner_grant(s: &impl MetaStore) {
    tree(s, None, None).await;
    add(
        s,
        &[
            grant("1", "d", "USER", "carol", "OWNER"),
            until(grant("1", "d", "USER", "dan", "OWNER"), 50),
            grant("1", "d", "USER", "eve", "EDITOR"),
        ],
    )
    .await;
    let before = every_grant(s, "1").await;
    let at = |g: GrantRecord| GrantRecord { created_at: 100, modified_at: 100, ..g };
    for mode in [GrantWrite::Add, GrantWrite::Update] {
        // Carol's OWNER grant is in the way, whatever else the write holds.
        let write = WriteGrants {
            protect_owner_grants: true,
            ..writing(
                mode,
                vec![
                    at(grant("1", "d", "USER", "eve", "READER")),
                    at(grant("1", "d", "USER", "carol", "READER")),
                ],
            )
        };
        let refused = s.write_grants(&write).await;
        assert!(matches!(refused, Err(StoreError::OwnerGrantInTheWay)), "{refused:?}");
        assert_eq!(every_grant(s, "1").await, before, "nothing changed");
    }
    // An expired OWNER grant (at 50; the write is at 100) is in nobody's way.
    let dan = WriteGrants {
        protect_owner_grants: true,
        ..writing(GrantWrite::Add, vec![at(grant("1", "d", "USER", "dan", "READER"))])
    };
    s.write_grants(&dan).await.unwrap();
    // Unprotected, the write replaces it.
    let carol = writing(GrantWrite::Update, vec![at(grant("1", "d", "USER", "carol", "READER"))]);
    s.write_grants(&carol).await.unwrap();
    assert_eq!(
        listed(s, "1", "d", 100).await,
        sorted(&["1/d USER:carol READER", "1/d USER:dan READER", "1/d USER:eve EDITOR"])
    );
}
