//! Behaviour of orgs, apps, users, departments and access tokens.

use super::fixtures::*;
use crate::*;

fn token(hash: &str, expires_at: i64) -> TokenRecord {
    TokenRecord {
        token_hash: hash.into(),
        app_id: "a".into(),
        nonce: format!("nonce-{hash}"),
        issued_at: 0,
        expires_at,
    }
}

/// No cap on a token's life, for the tests that are not about it.
const UNCAPPED: i64 = 1 << 40;

pub async fn a_live_token_is_issued_again_and_extended_a_new_one_only_after_expiry(
    s: &impl MetaStore,
) {
    org_and_app(s).await;
    assert_eq!(
        s.issue_token(&token("t1", 2_000), "h", 0, UNCAPPED, None).await.unwrap(),
        token("t1", 2_000)
    );
    // Fetched again while live: the same token, living longer.
    assert_eq!(
        s.issue_token(&token("t2", 3_500), "h", 1_500, UNCAPPED, None).await.unwrap(),
        token("t1", 3_500)
    );
    assert!(s.find_caller("t2", "", 1_500).await.unwrap().is_none());
    assert_eq!(s.find_caller("t1", "", 3_000).await.unwrap().unwrap().token_expires_at, 3_500);
    // After expiry: a new token; the old one is gone.
    assert_eq!(
        s.issue_token(&token("t3", 6_000), "h", 3_500, UNCAPPED, None).await.unwrap(),
        token("t3", 6_000)
    );
    assert!(s.find_caller("t1", "", 3_000).await.unwrap().is_none());
    // Replacing a live token (the server secret changed).
    assert_eq!(
        s.issue_token(&token("t4", 7_000), "h", 4_000, UNCAPPED, Some("t3")).await.unwrap(),
        token("t4", 7_000)
    );
    assert!(s.find_caller("t3", "", 4_000).await.unwrap().is_none());
    let mut stranger = token("t5", 7_000);
    stranger.app_id = "nobody".into();
    assert!(matches!(
        s.issue_token(&stranger, "h", 4_000, UNCAPPED, None).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn a_token_lives_at_most_its_cap_however_often_it_is_fetched(s: &impl MetaStore) {
    org_and_app(s).await;
    let at =
        |hash: &str, issued_at: i64| TokenRecord { issued_at, ..token(hash, issued_at + 2_000) };
    assert_eq!(s.issue_token(&at("t1", 0), "h", 0, 5_000, None).await.unwrap(), at("t1", 0));
    let extended = s.issue_token(&at("t2", 1_500), "h", 1_500, 5_000, None).await.unwrap();
    assert_eq!(extended, TokenRecord { expires_at: 3_500, ..at("t1", 0) });
    let extended = s.issue_token(&at("t3", 3_000), "h", 3_000, 5_000, None).await.unwrap();
    assert_eq!(extended, TokenRecord { expires_at: 5_000, ..at("t1", 0) });
    // At the cap of 5 000 after its issue, fetching extends no further.
    let capped = s.issue_token(&at("t4", 4_000), "h", 4_000, 5_000, None).await.unwrap();
    assert_eq!(capped, TokenRecord { expires_at: 5_000, ..at("t1", 0) });
    assert!(s.find_caller("t1", "", 5_000).await.unwrap().is_none());
    assert_eq!(
        s.issue_token(&at("t5", 5_000), "h", 5_000, 5_000, None).await.unwrap(),
        at("t5", 5_000)
    );
}

pub async fn a_stale_token_is_replaced_once_by_racing_callers(s: &impl MetaStore) {
    org_and_app(s).await;
    s.issue_token(&token("stale", 9_000), "h", 0, UNCAPPED, None).await.unwrap();
    let requests: Vec<_> = (0..16)
        .map(|i| async move {
            s.issue_token(&token(&format!("t{i}"), 9_000), "h", 1_000, UNCAPPED, Some("stale"))
                .await
        })
        .collect();
    let issued: Vec<TokenRecord> =
        join_all(requests).await.into_iter().map(Result::unwrap).collect();
    assert_ne!(issued[0].token_hash, "stale");
    assert!(issued.iter().all(|t| *t == issued[0]), "one replacement for all: {issued:?}");
    assert!(s.find_caller("stale", "", 1_000).await.unwrap().is_none());
}

pub async fn racing_token_requests_for_one_app_agree_on_one_token(s: &impl MetaStore) {
    org_and_app(s).await;
    let requests: Vec<_> = (0..16)
        .map(|i| async move {
            s.issue_token(&token(&format!("t{i}"), 9_000), "h", 1_000, UNCAPPED, None).await
        })
        .collect();
    let issued: Vec<TokenRecord> =
        join_all(requests).await.into_iter().map(Result::unwrap).collect();
    let first = &issued[0];
    assert!(issued.iter().all(|t| t == first), "one token for every caller: {issued:?}");
    assert!(s.find_caller(&first.token_hash, "", 1_000).await.unwrap().is_some());
    let others = (0..16).map(|i| format!("t{i}")).filter(|h| *h != first.token_hash);
    for hash in others {
        assert!(s.find_caller(&hash, "", 1_000).await.unwrap().is_none(), "{hash} was stored");
    }
}

pub async fn expired_tokens_are_not_found_and_are_purged(s: &impl MetaStore) {
    org_and_app(s).await;
    s.issue_token(&token("live", 2_000), "h", 0, UNCAPPED, None).await.unwrap();
    let caller = s.find_caller("live", "nobody", 1_500).await.unwrap().unwrap();
    assert_eq!(caller.app.scopes, vec!["Storage.Space.Write", "Storage.Space.Read"]);
    assert_eq!(caller.token_expires_at, 2_000);
    assert!(caller.user.is_none(), "unknown users are not found");
    assert!(s.find_caller("live", "", 2_000).await.unwrap().is_none(), "expiry is exclusive");
    assert_eq!(s.purge_expired_tokens(1_500).await.unwrap(), 0);
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
    assert_eq!(s.purge_expired_tokens(2_000).await.unwrap(), 1);
    assert!(s.find_caller("live", "", 1_999).await.unwrap().is_none());
}

pub async fn a_caller_is_only_ever_a_user_of_the_apps_org(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_org(&org("d", None)).await.unwrap();
    s.insert_user(&user("bob", "d", "1")).await.unwrap();
    s.insert_user(&user("ann", "c", "1")).await.unwrap();
    s.issue_token(&token("t", 2_000), "h", 0, UNCAPPED, None).await.unwrap();
    let caller = s.find_caller("t", "bob", 1).await.unwrap().unwrap();
    assert_eq!(caller.app.app_id, "a");
    assert!(caller.user.is_none(), "bob is a user of another org");
    let caller = s.find_caller("t", "ann", 1).await.unwrap().unwrap();
    assert_eq!(caller.user, Some(user("ann", "c", "1")));
    assert!(s.find_caller("unknown", "ann", 1).await.unwrap().is_none());
}

pub async fn records_are_read_back_as_written(s: &impl MetaStore) {
    assert!(s.is_empty().await.unwrap());
    let mut o = org("c", Some(1 << 40));
    o.name = "Ünïcode 组织".into();
    o.created_at = 11;
    o.modified_at = 12;
    s.insert_org(&o).await.unwrap();
    assert!(!s.is_empty().await.unwrap());
    assert_eq!(s.get_org("c").await.unwrap(), Some(o));
    assert_eq!(s.get_org("C").await.unwrap(), None, "ids are case-sensitive");
    let mut a = app("a", "c", "k");
    a.scopes = vec!["Storage.File.Read".into(), "Storage.Space.Read".into()];
    s.insert_app(&a).await.unwrap();
    assert_eq!(s.get_app_by_key("k").await.unwrap(), Some(a));
    assert_eq!(s.get_app_by_key("K").await.unwrap(), None);
    let mut u = user("ann", "c", "7");
    u.org_admin = true;
    s.insert_user(&u).await.unwrap();
    assert_eq!(s.get_user("c", "ann").await.unwrap(), Some(u));
    s.insert_org(&org("d", None)).await.unwrap();
    assert_eq!(s.get_user("d", "ann").await.unwrap(), None, "users are looked up in their org");
    let d = dept("1", "c", None);
    s.insert_dept(&d).await.unwrap();
    assert_eq!(s.list_depts("c").await.unwrap(), vec![d]);
    assert!(s.list_depts("d").await.unwrap().is_empty());
}

pub async fn keys_and_references_are_enforced(s: &impl MetaStore) {
    org_and_app(s).await;
    let user = UserRecord {
        union_id: "u".into(),
        corp_id: "c".into(),
        user_id: "1".into(),
        name: "Ann".into(),
        org_admin: false,
        created_at: 1,
    };
    s.insert_user(&user).await.unwrap();
    assert!(matches!(s.insert_user(&user).await, Err(StoreError::Duplicate(Key::UnionId))));
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

pub async fn every_taken_key_is_named(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_org(&org("d", None)).await.unwrap();
    assert!(matches!(s.insert_org(&org("c", None)).await, Err(StoreError::Duplicate(Key::CorpId))));
    // appKey is unique across orgs, app ids too.
    let taken_key = s.insert_app(&app("b", "d", "k")).await;
    assert!(matches!(taken_key, Err(StoreError::Duplicate(Key::AppKey))), "{taken_key:?}");
    let taken_id = s.insert_app(&app("a", "d", "k2")).await;
    assert!(matches!(taken_id, Err(StoreError::Duplicate(Key::AppId))), "{taken_id:?}");
    s.insert_app(&app("b", "d", "k2")).await.unwrap();
    // userId is unique per org; unionId everywhere.
    s.insert_user(&user("ann", "c", "1")).await.unwrap();
    let taken = s.insert_user(&user("bob", "c", "1")).await;
    assert!(matches!(taken, Err(StoreError::Duplicate(Key::UserId))), "{taken:?}");
    s.insert_user(&user("bob", "d", "1")).await.unwrap();
    let taken = s.insert_user(&user("ann", "c", "2")).await;
    assert!(matches!(taken, Err(StoreError::Duplicate(Key::UnionId))), "{taken:?}");
    let taken = s.insert_user(&user("ann", "d", "2")).await;
    assert!(matches!(taken, Err(StoreError::Duplicate(Key::UnionId))), "{taken:?}");
    s.insert_dept(&dept("1", "c", None)).await.unwrap();
    let taken = s.insert_dept(&dept("1", "c", None)).await;
    assert!(matches!(taken, Err(StoreError::Duplicate(Key::DeptId))), "{taken:?}");
    s.insert_space_once(&space("1", "0")).await.unwrap();
    let other_scene = s.insert_space_once(&space("1", "1")).await.map(|_| ());
    assert!(matches!(other_scene, Err(StoreError::Duplicate(Key::SpaceId))), "{other_scene:?}");
    // Nothing a refused insert carried was stored.
    assert_eq!(s.list_apps("d").await.unwrap(), vec![app("b", "d", "k2")]);
    assert_eq!(s.get_user("c", "bob").await.unwrap(), None);
    assert_eq!(s.get_user("c", "ann").await.unwrap(), Some(user("ann", "c", "1")));
}

pub async fn adding_a_member_twice_keeps_one_membership(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_user(&user("ann", "c", "1")).await.unwrap();
    s.insert_dept(&dept("1", "c", None)).await.unwrap();
    s.add_dept_member("c", "1", "ann").await.unwrap();
    s.add_dept_member("c", "1", "ann").await.unwrap();
    assert_eq!(s.list_dept_members("c", "1").await.unwrap().len(), 1);
}

pub async fn records_need_what_they_refer_to(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_org(&org("d", None)).await.unwrap();
    assert!(matches!(s.insert_app(&app("x", "nope", "kx")).await, Err(StoreError::NotFound)));
    assert!(matches!(s.insert_user(&user("x", "nope", "1")).await, Err(StoreError::NotFound)));
    assert!(matches!(s.insert_dept(&dept("x", "nope", None)).await, Err(StoreError::NotFound)));
    assert!(matches!(
        s.insert_dept(&dept("x", "c", Some("missing"))).await,
        Err(StoreError::NotFound)
    ));
    // A parent department of another org is no parent.
    s.insert_dept(&dept("other", "d", None)).await.unwrap();
    assert!(matches!(
        s.insert_dept(&dept("x", "c", Some("other"))).await,
        Err(StoreError::NotFound)
    ));
    s.insert_user(&user("ann", "c", "1")).await.unwrap();
    s.insert_user(&user("bob", "d", "1")).await.unwrap();
    s.insert_dept(&dept("1", "c", None)).await.unwrap();
    assert!(matches!(s.add_dept_member("c", "1", "nobody").await, Err(StoreError::NotFound)));
    assert!(matches!(s.add_dept_member("c", "9", "ann").await, Err(StoreError::NotFound)));
    // A user of another org cannot join.
    assert!(matches!(s.add_dept_member("c", "1", "bob").await, Err(StoreError::NotFound)));
    assert!(s.list_dept_members("c", "1").await.unwrap().is_empty());
    assert!(s.list_depts("c").await.unwrap().iter().all(|d| d.dept_id == "1"));
    assert_eq!(s.list_apps("nope").await.unwrap(), Vec::new());
}

pub async fn departments_form_a_tree_with_members(s: &impl MetaStore) {
    org_and_app(s).await;
    for (union_id, user_id) in [("ann", "1"), ("bob", "2"), ("cat", "3")] {
        s.insert_user(&user(union_id, "c", user_id)).await.unwrap();
    }
    s.insert_dept(&dept("1", "c", None)).await.unwrap();
    s.insert_dept(&dept("2", "c", Some("1"))).await.unwrap();
    s.add_dept_member("c", "1", "bob").await.unwrap();
    s.add_dept_member("c", "1", "ann").await.unwrap();
    s.add_dept_member("c", "2", "cat").await.unwrap();
    let names = |users: Vec<UserRecord>| users.into_iter().map(|u| u.union_id).collect::<Vec<_>>();
    assert_eq!(names(s.list_dept_members("c", "1").await.unwrap()), ["ann", "bob"]);
    // A department with children stays.
    assert!(matches!(s.delete_dept("c", "1").await, Err(StoreError::InUse)));
    assert_eq!(names(s.list_dept_members("c", "1").await.unwrap()), ["ann", "bob"]);
    assert!(s.remove_dept_member("c", "1", "bob").await.unwrap());
    assert!(!s.remove_dept_member("c", "1", "bob").await.unwrap());
    assert!(!s.remove_dept_member("c", "9", "ann").await.unwrap());
    // A deleted user leaves the departments it was in.
    assert!(s.delete_user("c", "ann").await.unwrap());
    assert!(!s.delete_user("c", "ann").await.unwrap());
    assert!(s.list_dept_members("c", "1").await.unwrap().is_empty());
    // A deleted department takes its memberships.
    assert!(s.delete_dept("c", "2").await.unwrap());
    assert!(!s.delete_dept("c", "2").await.unwrap());
    assert!(s.list_dept_members("c", "2").await.unwrap().is_empty());
    assert!(s.delete_dept("c", "1").await.unwrap());
    assert!(s.list_depts("c").await.unwrap().is_empty());
    assert_eq!(names(s.list_users("c").await.unwrap()), ["bob", "cat"]);
}

pub async fn deleting_an_org_takes_its_apps_users_departments_and_tokens(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_org(&org("d", None)).await.unwrap();
    s.insert_app(&app("b", "d", "kb")).await.unwrap();
    s.insert_user(&user("ann", "c", "1")).await.unwrap();
    s.insert_dept(&dept("1", "c", None)).await.unwrap();
    s.insert_dept(&dept("2", "c", Some("1"))).await.unwrap();
    s.add_dept_member("c", "2", "ann").await.unwrap();
    s.issue_token(&token("t", 9_000), "h", 0, UNCAPPED, None).await.unwrap();
    assert!(s.delete_org("c").await.unwrap());
    assert!(!s.delete_org("c").await.unwrap(), "already gone");
    assert!(s.get_org("c").await.unwrap().is_none());
    assert!(s.get_app_by_key("k").await.unwrap().is_none());
    assert!(s.get_user("c", "ann").await.unwrap().is_none());
    assert!(s.list_depts("c").await.unwrap().is_empty());
    assert!(s.find_caller("t", "", 1).await.unwrap().is_none());
    // The other org is untouched, and the freed keys can be taken again.
    assert!(s.get_app_by_key("kb").await.unwrap().is_some());
    s.insert_user(&user("ann", "d", "1")).await.unwrap();
    s.insert_app(&app("a", "d", "k")).await.unwrap();
}

pub async fn orgs_and_apps_owning_spaces_cannot_be_deleted(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_app(&app("b", "c", "kb")).await.unwrap();
    s.insert_user(&user("ann", "c", "1")).await.unwrap();
    s.insert_dept(&dept("1", "c", None)).await.unwrap();
    s.insert_dept(&dept("2", "c", Some("1"))).await.unwrap();
    s.add_dept_member("c", "2", "ann").await.unwrap();
    s.issue_token(&token("t", 9_000), "h", 0, UNCAPPED, None).await.unwrap();
    s.insert_space_once(&space("1", "0")).await.unwrap();
    assert!(matches!(s.delete_org("c").await, Err(StoreError::InUse)));
    assert!(matches!(s.delete_app("c", "a").await, Err(StoreError::InUse)));
    // A refused delete changed nothing: not the members, not the department tree.
    assert!(s.get_org("c").await.unwrap().is_some());
    assert_eq!(s.list_apps("c").await.unwrap().len(), 2);
    assert_eq!(s.list_dept_members("c", "2").await.unwrap().len(), 1);
    assert!(matches!(s.delete_dept("c", "1").await, Err(StoreError::InUse)));
    assert!(s.find_caller("t", "ann", 1).await.unwrap().unwrap().user.is_some());
    assert!(s.get_space("1").await.unwrap().is_some());
    // An app without spaces goes, with its tokens; unknown apps are no error.
    let mut b_token = token("tb", 9_000);
    b_token.app_id = "b".into();
    s.issue_token(&b_token, "h", 0, UNCAPPED, None).await.unwrap();
    assert!(!s.delete_app("d", "b").await.unwrap(), "app b is not of org d");
    assert!(s.delete_app("c", "b").await.unwrap());
    assert!(!s.delete_app("c", "b").await.unwrap());
    assert!(s.find_caller("tb", "", 1).await.unwrap().is_none());
    assert!(s.find_caller("t", "", 1).await.unwrap().is_some());
}

pub async fn identity_listings_are_ordered_by_creation_then_id(s: &impl MetaStore) {
    // The last in id order is created last; the first two share a creation
    // time, so their id decides.
    for (i, corp_id) in ["c3", "c1", "c2"].into_iter().enumerate() {
        s.insert_org(&OrgRecord { created_at: 10 - (i as i64).min(1), ..org(corp_id, None) })
            .await
            .unwrap();
    }
    let orgs: Vec<String> = s.list_orgs().await.unwrap().into_iter().map(|o| o.corp_id).collect();
    assert_eq!(orgs, ["c1", "c2", "c3"]);
    for (i, app_id) in ["a3", "a1", "a2"].into_iter().enumerate() {
        let record = AppRecord { created_at: 10 - (i as i64).min(1), ..app(app_id, "c1", app_id) };
        s.insert_app(&record).await.unwrap();
    }
    let apps: Vec<String> =
        s.list_apps("c1").await.unwrap().into_iter().map(|a| a.app_id).collect();
    assert_eq!(apps, ["a1", "a2", "a3"]);
    for (i, union_id) in ["u3", "u1", "u2"].into_iter().enumerate() {
        let record =
            UserRecord { created_at: 10 - (i as i64).min(1), ..user(union_id, "c1", union_id) };
        s.insert_user(&record).await.unwrap();
    }
    let users: Vec<String> =
        s.list_users("c1").await.unwrap().into_iter().map(|u| u.union_id).collect();
    assert_eq!(users, ["u1", "u2", "u3"]);
    s.insert_dept(&DeptRecord { created_at: 10, ..dept("d3", "c1", None) }).await.unwrap();
    s.insert_dept(&DeptRecord { created_at: 9, ..dept("d1", "c1", None) }).await.unwrap();
    let depts: Vec<String> =
        s.list_depts("c1").await.unwrap().into_iter().map(|d| d.dept_id).collect();
    assert_eq!(depts, ["d1", "d3"]);
    for union_id in ["u3", "u1", "u2"] {
        s.add_dept_member("c1", "d1", union_id).await.unwrap();
    }
    let members: Vec<String> =
        s.list_dept_members("c1", "d1").await.unwrap().into_iter().map(|u| u.union_id).collect();
    assert_eq!(members, ["u1", "u2", "u3"]);
}

pub async fn a_new_app_secret_ends_the_apps_tokens(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_org(&org("d", None)).await.unwrap();
    s.issue_token(&token("t1", 2_000), "h", 0, UNCAPPED, None).await.unwrap();
    assert!(!s.set_app_secret("d", "a", "salt", "hash", 5).await.unwrap(), "another org's");
    assert!(!s.set_app_secret("c", "nope", "salt", "hash", 5).await.unwrap());
    assert!(s.find_caller("t1", "", 1_000).await.unwrap().is_some(), "a refusal ends nothing");
    assert!(s.set_app_secret("c", "a", "salt", "hash", 5).await.unwrap());
    let app = s.get_app_by_key("k").await.unwrap().expect("the app");
    assert_eq!(
        (app.secret_salt.as_str(), app.secret_hash.as_str(), app.modified_at),
        ("salt", "hash", 5)
    );
    assert!(s.find_caller("t1", "", 1_000).await.unwrap().is_none(), "its token ended");
}

pub async fn a_token_is_issued_only_under_the_secret_its_caller_checked(s: &impl MetaStore) {
    org_and_app(s).await;
    let refused = s.issue_token(&token("t1", 2_000), "another", 0, UNCAPPED, None).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert!(s.find_caller("t1", "", 1).await.unwrap().is_none(), "no token was written");
    // The secret replaced after the caller checked the old one.
    assert!(s.set_app_secret("c", "a", "salt", "hash", 5).await.unwrap());
    let refused = s.issue_token(&token("t2", 2_000), "h", 0, UNCAPPED, None).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert!(s.find_caller("t2", "", 1).await.unwrap().is_none());
    assert_eq!(
        s.issue_token(&token("t3", 2_000), "hash", 0, UNCAPPED, None).await.unwrap(),
        token("t3", 2_000)
    );
    // Nor is a live token handed out again under the old secret.
    let refused = s.issue_token(&token("t4", 3_000), "h", 1, UNCAPPED, None).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert_eq!(s.find_caller("t3", "", 1).await.unwrap().unwrap().token_expires_at, 2_000);
    // The app deleted: no token.
    assert!(s.delete_app("c", "a").await.unwrap());
    let refused = s.issue_token(&token("t5", 2_000), "hash", 0, UNCAPPED, None).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
}

pub async fn purging_an_org_empties_it_and_keeps_its_identities(s: &impl MetaStore) {
    tree(s, None, None).await; // org c, app a, spaces 1 and 2, files f1 f2 f3 t
    s.insert_user(&user("ann", "c", "1")).await.unwrap();
    s.insert_user(&user("bob", "c", "2")).await.unwrap();
    s.set_password("c", "ann", Some("phc-ann"), 1).await.unwrap();
    s.set_password("c", "bob", Some("phc-bob"), 1).await.unwrap();
    s.insert_dept(&dept("1", "c", None)).await.unwrap();
    s.insert_dept(&dept("2", "c", Some("1"))).await.unwrap();
    s.add_dept_member("c", "2", "ann").await.unwrap();
    s.issue_token(&token("t", 9_000), "h", 0, UNCAPPED, None).await.unwrap();
    // Another org, whose file shares f1's content object.
    s.insert_org(&org("d", None)).await.unwrap();
    s.insert_app(&app("b", "d", "kb")).await.unwrap();
    let other = SpaceRecord { corp_id: "d".into(), app_id: "b".into(), ..space("3", "9") };
    s.insert_space_once(&other).await.unwrap();
    let shared = DentryRecord {
        space_id: "3".into(),
        blob_key: Some("objects/f1".into()),
        ..file("g", "g", 3)
    };
    let put_shared = PutDentry { corp_id: "d".into(), ..put(shared, NameConflict::Fail, None) };
    assert!(matches!(s.put_dentry(&put_shared).await.unwrap(), PutOutcome::Created(_)));

    // An upload left open, with a part stored.
    s.insert_upload(&upload("k"), &OpenUploadLimits { per_space: 9, per_app: 9 }).await.unwrap();
    put_part(s, "k", 1, 10, "parts/k/1").await;
    let keep = OrgKeep {
        spaces: vec![
            SceneKey { app_id: "a".into(), scene: "default".into(), scene_id: "0".into() },
            SceneKey { app_id: "a".into(), scene: "default".into(), scene_id: "none".into() },
        ],
        passwords_of: vec!["ann".into()],
    };
    let purged = s.purge_org_content("c", &keep, 5).await.unwrap();
    let mut trashed = purged.trashed_objects.clone();
    trashed.sort();
    assert_eq!(trashed, ["objects/f2", "objects/f3", "objects/t", "parts/k/1"], "f1 is d's too");
    assert!(s.get_upload("k").await.unwrap().is_none());
    // Space 1 stays, with its id, empty; space 2 goes.
    assert_eq!(purged.kept_spaces.len(), 1);
    let kept = &purged.kept_spaces[0];
    assert_eq!((kept.space_id.as_str(), kept.used_bytes), ("1", 0));
    assert_eq!(s.get_space("1").await.unwrap().as_ref(), Some(kept));
    assert!(s.get_space("2").await.unwrap().is_none());
    for (space, id) in [("1", "f1"), ("1", "d"), ("2", "o")] {
        assert!(s.get_dentry(space, id).await.unwrap().is_none(), "{id}");
    }
    assert!(s.list_depts("c").await.unwrap().is_empty());
    // What stays: the org, its app and its token, its users, ann's password.
    assert!(s.get_org("c").await.unwrap().is_some());
    assert!(s.get_app_by_key("k").await.unwrap().is_some());
    assert!(s.get_user("c", "bob").await.unwrap().is_some());
    assert!(s.find_caller("t", "ann", 1).await.unwrap().is_some());
    assert_eq!(s.password("ann").await.unwrap().map(|(_, phc)| phc).as_deref(), Some("phc-ann"));
    assert!(s.password("bob").await.unwrap().is_none());
    // The other org is untouched; the counters add up.
    assert!(s.get_dentry("3", "g").await.unwrap().is_some());
    assert_consistent(s).await;
    // The kept space takes files again; the same ids can be taken again.
    create(s, file("f1", "a.txt", 3)).await;
    s.insert_space_once(&space("2", "1")).await.unwrap();
    s.insert_dept(&dept("1", "c", None)).await.unwrap();
    assert_consistent(s).await;
    let nothing = s.purge_org_content("nobody", &OrgKeep::default(), 5).await.unwrap();
    assert_eq!(nothing, OrgPurge::default());
}
