//! Behaviour of orgs, apps, users and access tokens.

use crate::*;

/// Org `c` with app `a` (key `k`, two scopes).
pub async fn org_and_app(s: &impl MetaStore) {
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

fn token(hash: &str, expires_at: i64) -> TokenRecord {
    TokenRecord {
        token_hash: hash.into(),
        app_id: "a".into(),
        nonce: format!("nonce-{hash}"),
        expires_at,
    }
}

pub async fn a_live_token_is_issued_again_and_extended_a_new_one_only_after_expiry(
    s: &impl MetaStore,
) {
    org_and_app(s).await;
    assert_eq!(s.issue_token(&token("t1", 2_000), 0, false).await.unwrap(), token("t1", 2_000));
    // Fetched again while live: the same token, living longer.
    assert_eq!(s.issue_token(&token("t2", 3_500), 1_500, false).await.unwrap(), token("t1", 3_500));
    assert!(s.find_caller("t2", "", 1_500).await.unwrap().is_none());
    assert_eq!(s.find_caller("t1", "", 3_000).await.unwrap().unwrap().token_expires_at, 3_500);
    // After expiry: a new token; the old one is gone.
    assert_eq!(s.issue_token(&token("t3", 6_000), 3_500, false).await.unwrap(), token("t3", 6_000));
    assert!(s.find_caller("t1", "", 3_000).await.unwrap().is_none());
    // Replacing a live token (the server secret changed).
    assert_eq!(s.issue_token(&token("t4", 7_000), 4_000, true).await.unwrap(), token("t4", 7_000));
    assert!(s.find_caller("t3", "", 4_000).await.unwrap().is_none());
    let mut stranger = token("t5", 7_000);
    stranger.app_id = "nobody".into();
    assert!(matches!(s.issue_token(&stranger, 4_000, false).await, Err(StoreError::NotFound)));
}

pub async fn expired_tokens_are_not_found_and_are_purged(s: &impl MetaStore) {
    org_and_app(s).await;
    s.issue_token(&token("live", 2_000), 0, false).await.unwrap();
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
