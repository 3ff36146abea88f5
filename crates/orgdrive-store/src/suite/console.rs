//! Behaviour of the console's records: a password is set per user of its
//! org and ends the user's sessions; sessions are found only while live and
//! leave with their user; a person's spaces are those they own or hold a
//! live grant on the root of (directly, through a department or through
//! the org), and what is shared with them below a root; a space's usage
//! splits into versions and recycle bin.

use super::fixtures::*;
use crate::*;

/// Adds each grant on its own dentry.
async fn add_grants(s: &impl MetaStore, grants: impl IntoIterator<Item = GrantRecord>) {
    for g in grants {
        s.write_grants(&WriteGrants {
            space_id: g.space_id.clone(),
            dentry_id: g.dentry_id.clone(),
            mode: GrantWrite::Add,
            grants: vec![g],
            protect_owner_grants: false,
        })
        .await
        .unwrap();
    }
}

fn session(hash: &str, union_id: Option<&str>, expires_at: i64) -> ConsoleSessionRecord {
    ConsoleSessionRecord {
        session_hash: hash.into(),
        union_id: union_id.map(str::to_string),
        created_at: 10,
        expires_at,
    }
}

pub async fn a_password_is_set_per_user_and_ends_their_sessions(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_org(&org("d", None)).await.unwrap();
    s.insert_user(&user("u", "c", "1")).await.unwrap();
    s.insert_user(&user("v", "c", "2")).await.unwrap();

    assert!(s.password("u").await.unwrap().is_none(), "no password yet");
    assert!(!s.set_password("d", "u", Some("$argon2id$x"), 20).await.unwrap(), "another org");
    assert!(!s.set_password("c", "nobody", Some("$argon2id$x"), 20).await.unwrap());
    assert!(s.password("u").await.unwrap().is_none(), "a refused set changes nothing");

    s.insert_console_session(&session("su", Some("u"), 1_000)).await.unwrap();
    s.insert_console_session(&session("sv", Some("v"), 1_000)).await.unwrap();
    s.insert_console_session(&session("op", None, 1_000)).await.unwrap();
    assert!(s.set_password("c", "u", Some("$argon2id$one"), 20).await.unwrap());
    let (who, phc) = s.password("u").await.unwrap().expect("set");
    assert_eq!((who, phc.as_str()), (user("u", "c", "1"), "$argon2id$one"));
    assert!(s.console_session("su", 20).await.unwrap().is_none(), "u's session ended");
    assert!(s.console_session("sv", 20).await.unwrap().is_some(), "v's session lives");
    assert!(s.console_session("op", 20).await.unwrap().is_some(), "the operator's lives");

    assert!(s.set_password("c", "u", Some("$argon2id$two"), 30).await.unwrap());
    assert_eq!(s.password("u").await.unwrap().unwrap().1, "$argon2id$two", "replaced");
    assert!(s.set_password("c", "u", None, 40).await.unwrap());
    assert!(s.password("u").await.unwrap().is_none(), "cleared");

    s.set_password("c", "v", Some("$argon2id$v"), 50).await.unwrap();
    s.delete_user("c", "v").await.unwrap();
    assert!(s.password("v").await.unwrap().is_none(), "the password left with its user");
    assert!(s.console_session("sv", 50).await.unwrap().is_none(), "so did the session");
}

pub async fn console_sessions_live_until_they_expire_or_are_ended(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_user(&user("u", "c", "1")).await.unwrap();
    s.insert_console_session(&session("a", Some("u"), 100)).await.unwrap();
    s.insert_console_session(&session("b", None, 200)).await.unwrap();
    assert!(
        matches!(
            s.insert_console_session(&session("c", Some("nobody"), 100)).await,
            Err(StoreError::NotFound)
        ),
        "a person's session needs its user"
    );

    let live = s.console_session("a", 99).await.unwrap().expect("live");
    assert_eq!(live.session, session("a", Some("u"), 100));
    assert_eq!(live.user, Some(user("u", "c", "1")));
    let operator = s.console_session("b", 99).await.unwrap().expect("live");
    assert_eq!((operator.session, operator.user), (session("b", None, 200), None));
    assert!(s.console_session("a", 100).await.unwrap().is_none(), "expired at 100");
    assert!(s.console_session("nope", 1).await.unwrap().is_none());

    assert_eq!(s.purge_expired_console_sessions(100).await.unwrap(), 1);
    assert!(s.console_session("a", 1).await.unwrap().is_none(), "purged");
    assert!(s.delete_console_session("b").await.unwrap());
    assert!(!s.delete_console_session("b").await.unwrap(), "ended once");
    assert!(s.console_session("b", 1).await.unwrap().is_none());
}

pub async fn a_person_sees_the_spaces_they_own_or_hold_a_live_root_grant_in(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_org(&org("d", None)).await.unwrap();
    s.insert_app(&app("b", "d", "kb")).await.unwrap();
    let owned_by = |id: &str, owner: &str, created_at: i64| SpaceRecord {
        owner_id: owner.into(),
        created_at,
        ..space(id, id)
    };
    s.insert_space_once(&owned_by("1", "u", 1)).await.unwrap();
    s.insert_space_once(&owned_by("2", "v", 2)).await.unwrap();
    s.insert_space_once(&owned_by("3", "v", 3)).await.unwrap();
    s.insert_space_once(&owned_by("4", "v", 4)).await.unwrap();
    s.insert_space_once(&owned_by("5", "v", 5)).await.unwrap();
    s.insert_space_once(&owned_by("8", "v", 8)).await.unwrap();
    create(s, DentryRecord { space_id: "8".into(), ..folder("f8", "inner") }).await;
    s.insert_space_once(&SpaceRecord {
        owner_type: "APP".into(),
        owner_id: "a".into(),
        ..owned_by("6", "a", 6)
    })
    .await
    .unwrap();
    s.insert_space_once(&SpaceRecord {
        corp_id: "d".into(),
        app_id: "b".into(),
        ..owned_by("7", "u", 7)
    })
    .await
    .unwrap();
    let grant_on = |space_id: &str,
                    dentry_id: &str,
                    member_type: &str,
                    member_id: &str,
                    expires_at: Option<i64>| GrantRecord {
        space_id: space_id.into(),
        dentry_id: dentry_id.into(),
        member_type: member_type.into(),
        member_id: member_id.into(),
        member_corp_id: "c".into(),
        role: "READER".into(),
        duration_secs: expires_at.map(|_| 1),
        expires_at,
        operator_id: "v".into(),
        created_at: 1,
        modified_at: 1,
    };
    let grant = |space_id: &str, member_type: &str, member_id: &str, expires_at: Option<i64>| {
        grant_on(space_id, "0", member_type, member_id, expires_at)
    };
    add_grants(
        s,
        [
            grant_on("8", "f8", "USER", "u", None),
            grant("2", "USER", "u", None),
            grant("3", "DEPT", "sales", None),
            grant("4", "ORG", "c", Some(500)),
            grant("5", "USER", "u", Some(100)),
            grant("5", "USER", "w", None),
        ],
    )
    .await;
    let ids = |spaces: Vec<SpaceRecord>| spaces.into_iter().map(|s| s.space_id).collect::<Vec<_>>();
    let query = PersonSpaces {
        corp_id: "c".into(),
        union_id: "u".into(),
        dept_ids: vec!["sales".into()],
        whole_org: false,
        now_ms: 200,
        limit: 100,
    };
    assert_eq!(
        ids(s.person_spaces(&query).await.unwrap()),
        ["4", "3", "2", "1"],
        "owned, granted on the root to the user, a department and the org; newest first; not \
         5 (expired), 6 (the app's), 7 (another org's), 8 (a grant below the root)"
    );
    let later = PersonSpaces { now_ms: 500, dept_ids: vec![], ..query.clone() };
    assert_eq!(ids(s.person_spaces(&later).await.unwrap()), ["2", "1"]);
    let admin = PersonSpaces { whole_org: true, limit: 3, ..query.clone() };
    assert_eq!(ids(s.person_spaces(&admin).await.unwrap()), ["8", "6", "5"], "capped");
    let ties = PersonSpaces { whole_org: true, limit: 100, ..query.clone() };
    s.insert_space_once(&owned_by("10", "v", 4)).await.unwrap();
    assert_eq!(
        ids(s.person_spaces(&ties).await.unwrap()),
        ["8", "6", "5", "4", "10", "3", "2", "1"],
        "equal times by space_id, descending"
    );
}

pub async fn a_spaces_names_are_searched_bytewise_among_live_dentries(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    let docs = create(s, folder("d", "Reports 2026")).await;
    create(s, under(&docs.dentry_id, file("a", "report-q1.txt", 1))).await;
    create(s, file("b", "annual report.pdf", 2)).await;
    create(s, file("c", "notes.txt", 3)).await;
    create(s, file("e", "old report.txt", 4)).await;
    s.delete_dentry(&deleting("e", None)).await.unwrap();
    let names = |found: Vec<DentryRecord>| found.into_iter().map(|d| d.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.search_names("1", "report", 10).await.unwrap()),
        ["annual report.pdf", "report-q1.txt"],
        "by name; not the deleted one; bytewise: not 'Reports'"
    );
    assert_eq!(names(s.search_names("1", "Report", 10).await.unwrap()), ["Reports 2026"]);
    assert_eq!(names(s.search_names("1", "report", 1).await.unwrap()), ["annual report.pdf"]);
    assert!(s.search_names("2", "report", 10).await.unwrap().is_empty(), "another space");
    assert!(s.search_names("1", "%", 10).await.unwrap().is_empty(), "no pattern characters");
}

pub async fn usage_parts_count_versions_and_the_recycle_bin_apart(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    s.insert_space_once(&space("2", "2")).await.unwrap();
    create(s, file("1", "a.txt", 3)).await;
    // Two overwrites: versions of 3 and 5 bytes; the file holds 7.
    for (id, size) in [("2", 5), ("3", 7)] {
        s.put_dentry(&put(file(id, "a.txt", size), NameConflict::Overwrite, None)).await.unwrap();
    }
    create(s, file("4", "b.txt", 11)).await;
    create(s, file("5", "c.txt", 13)).await;
    s.put_dentry(&put(file("6", "c.txt", 17), NameConflict::Overwrite, None)).await.unwrap();
    // b.txt to the bin; c.txt (17 bytes, a 13-byte version) to the bin.
    s.delete_dentry(&deleting("4", Some("r4"))).await.unwrap();
    s.delete_dentry(&deleting("5", Some("r5"))).await.unwrap();
    let named = |list: &[&str]| list.iter().map(|id| id.to_string()).collect::<Vec<_>>();
    let parts = s.usage_parts(&named(&["1", "2", "nowhere"])).await.unwrap();
    let expected = |space_id: &str, versions_bytes, recycled_bytes| UsageParts {
        space_id: space_id.into(),
        versions_bytes,
        recycled_bytes,
    };
    assert_eq!(parts, vec![expected("1", 3 + 5 + 13, 11 + 17), expected("2", 0, 0)]);
    let used = s.get_space("1").await.unwrap().unwrap().used_bytes;
    assert_eq!(used, 7 + (3 + 5 + 13) + (11 + 17), "files + versions + bin = used");
    assert!(s.usage_parts(&[]).await.unwrap().is_empty());

    // Versions travel with their file to another space...
    s.move_dentry(&moving("1", to("2", "0", NameConflict::Fail)), ids()).await.unwrap();
    let parts = s.usage_parts(&named(&["1", "2"])).await.unwrap();
    assert_eq!(parts, vec![expected("1", 13, 11 + 17), expected("2", 3 + 5, 0)]);
    // ...and leave with it, deleted for good or purged from the bin.
    let for_good = DeleteDentry { space_id: "2".into(), ..deleting("1", None) };
    s.delete_dentry(&for_good).await.unwrap();
    s.purge_recycle_items(&every_item(), Some(&["r5".to_string()]), "op").await.unwrap();
    let parts = s.usage_parts(&named(&["1", "2"])).await.unwrap();
    assert_eq!(parts, vec![expected("1", 0, 11), expected("2", 0, 0)]);
}

pub async fn a_person_sees_what_is_shared_with_them_below_a_root(s: &impl MetaStore) {
    space_with_quota(s, None).await;
    s.insert_org(&org("d", None)).await.unwrap();
    s.insert_app(&app("b", "d", "kb")).await.unwrap();
    s.insert_space_once(&SpaceRecord {
        corp_id: "d".into(),
        app_id: "b".into(),
        ..space("9", "9")
    })
    .await
    .unwrap();
    for d in [
        folder("f1", "beta"),
        folder("f2", "alpha"),
        file("x", "gone.txt", 1),
        folder("f3", "dept"),
    ] {
        create(s, d).await;
    }
    create(s, DentryRecord { space_id: "9".into(), ..folder("f9", "other org") }).await;
    s.insert_space_once(&SpaceRecord { name: None, ..space("3", "3") }).await.unwrap();
    create(s, DentryRecord { space_id: "3".into(), ..folder("f30", "gamma") }).await;
    let grant = |dentry_id: &str, member_type: &str, member_id: &str, expires_at: Option<i64>| {
        let space_id = match dentry_id {
            "f9" => "9",
            "f30" => "3",
            _ => "1",
        };
        GrantRecord {
            space_id: space_id.into(),
            dentry_id: dentry_id.into(),
            member_type: member_type.into(),
            member_id: member_id.into(),
            member_corp_id: "c".into(),
            role: "EDITOR".into(),
            duration_secs: expires_at.map(|_| 1),
            expires_at,
            operator_id: "v".into(),
            created_at: 1,
            modified_at: 1,
        }
    };
    add_grants(
        s,
        [
            grant("0", "USER", "u", None),
            GrantRecord { role: "READER".into(), ..grant("f1", "USER", "u", None) },
            GrantRecord { role: "MANAGER".into(), ..grant("f1", "ORG", "c", None) },
            grant("f2", "DEPT", "sales", Some(500)),
            grant("f3", "DEPT", "sales", Some(100)),
            grant("x", "USER", "u", None),
            grant("f9", "USER", "u", None),
            grant("f30", "USER", "u", None),
            grant("f2", "USER", "w", None),
        ],
    )
    .await;
    s.delete_dentry(&deleting("x", Some("rx"))).await.unwrap();
    let query = PersonSpaces {
        corp_id: "c".into(),
        union_id: "u".into(),
        dept_ids: vec!["sales".into()],
        whole_org: false,
        now_ms: 200,
        limit: 10,
    };
    let shared = s.person_shared_dentries(&query).await.unwrap();
    let seen: Vec<_> =
        shared.iter().map(|d| (d.dentry.dentry_id.as_str(), d.space_name.as_str())).collect();
    // Not the root grant, not a binned file, not an expired grant, not
    // another org's space; f1 once although granted twice.
    // A space without a name goes by its id.
    assert_eq!(seen, vec![("f2", "space 1"), ("f1", "space 1"), ("f30", "3")], "{shared:?}");
    assert_eq!(shared[0].role, "EDITOR");
    assert_eq!(shared[1].role, "MANAGER", "the strongest of its two roles");
    let one = s.person_shared_dentries(&PersonSpaces { limit: 1, ..query.clone() }).await.unwrap();
    assert_eq!(one.len(), 1);
    let outsider = PersonSpaces { union_id: "nobody".into(), dept_ids: Vec::new(), ..query };
    let seen: Vec<_> = s.person_shared_dentries(&outsider).await.unwrap();
    assert_eq!(
        seen.iter().map(|d| d.dentry.dentry_id.as_str()).collect::<Vec<_>>(),
        vec!["f1"],
        "through the org"
    );
}
