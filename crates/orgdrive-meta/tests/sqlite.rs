//! SQLite store: the invariants the schema holds by itself.

use std::collections::HashSet;

use orgdrive_meta::*;

async fn store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("meta.sqlite"), &SqliteOptions::default()).await.unwrap()
}

async fn org_and_app(s: &SqliteStore) {
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

fn space(id: &str, scene_id: &str) -> SpaceRecord {
    SpaceRecord {
        space_id: id.into(),
        corp_id: "c".into(),
        app_id: "a".into(),
        scene: "default".into(),
        scene_id: scene_id.into(),
        name: Some(format!("space {id}")),
        owner_type: "USER".into(),
        owner_id: "u".into(),
        creator_id: "u".into(),
        modifier_id: "u".into(),
        quota: None,
        used_bytes: 0,
        status: "NORMAL".into(),
        can_search: false,
        can_rename: false,
        can_record_recent_file: false,
        created_at: 1,
        modified_at: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_space_inserts_from_two_connections_store_one_space() {
    let dir = tempfile::tempdir().unwrap();
    let first = store(&dir).await;
    org_and_app(&first).await;
    // A second store on the same file: two writers, as with two processes.
    let second = store(&dir).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            s.insert_space_once(&space(&i.to_string(), "0")).await.unwrap()
        }));
    }
    let mut ids = HashSet::new();
    let mut created = 0;
    for task in tasks {
        let (stored, new) = task.await.unwrap();
        ids.insert(stored.space_id);
        created += usize::from(new);
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(created, 1);
}

#[tokio::test]
async fn expired_tokens_are_not_found_and_are_purged() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    org_and_app(&s).await;
    s.insert_token(&TokenRecord {
        token_hash: "live".into(),
        app_id: "a".into(),
        expires_at: 2_000,
    })
    .await
    .unwrap();
    s.insert_token(&TokenRecord {
        token_hash: "old".into(),
        app_id: "a".into(),
        expires_at: 1_000,
    })
    .await
    .unwrap();
    let (token, app) = s.find_live_token("live", 1_500).await.unwrap().unwrap();
    assert_eq!(token.expires_at, 2_000);
    assert_eq!(app.scopes, vec!["Storage.Space.Write", "Storage.Space.Read"]);
    assert!(s.find_live_token("old", 1_500).await.unwrap().is_none());
    assert!(s.find_live_token("live", 2_000).await.unwrap().is_none(), "expiry is exclusive");
    assert_eq!(s.purge_expired_tokens(1_500).await.unwrap(), 1);
    assert!(s.find_live_token("live", 1_999).await.unwrap().is_some());
}

#[tokio::test]
async fn keys_and_references_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir).await;
    org_and_app(&s).await;
    let user = UserRecord {
        union_id: "u".into(),
        corp_id: "c".into(),
        user_id: "1".into(),
        name: "Ann".into(),
        org_admin: false,
        created_at: 1,
    };
    s.insert_user(&user).await.unwrap();
    assert!(matches!(s.insert_user(&user).await, Err(MetaError::Duplicate { .. })));
    let stray = UserRecord { union_id: "v".into(), corp_id: "nope".into(), ..user.clone() };
    assert!(matches!(s.insert_user(&stray).await, Err(MetaError::MissingReference)));
    s.insert_space_once(&space("1", "0")).await.unwrap();
    assert!(matches!(s.delete_app("c", "a").await, Err(MetaError::InUse)));
    assert!(matches!(s.delete_org("c").await, Err(MetaError::InUse)));
    // The failed delete left everything in place.
    assert!(s.get_user("c", "u").await.unwrap().is_some());
    assert!(s.get_app_by_key("k").await.unwrap().is_some());
    assert_eq!(s.org_used_bytes("c").await.unwrap(), 0);
}
