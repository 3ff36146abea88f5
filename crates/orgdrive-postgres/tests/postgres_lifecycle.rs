//! Tree changes on two nodes: two `PgStore`s (two pools, as two servers
//! would have) on one database race moves of two folders into each other
//! — within a space and across spaces, where each locks both spaces — and
//! copies against a quota. The database is set up and checked with plain
//! SQL, so that only the tree changes under test run through the stores.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::future::join_all;
use orgdrive_postgres::{PgOptions, PgStore};
use orgdrive_store::{
    Actor, CopyDentry, Destination, IdSource, Ids, MoveDentry, NameConflict, StoreError,
    TreeLimits, TreeStore,
};
use tokio_postgres::Client;

use common::TestDatabase;

/// Ids for what a change creates, unique across both nodes.
struct CountingIds(AtomicU64);

impl IdSource for CountingIds {
    fn next_id(&self) -> String {
        format!("n{}", self.0.fetch_add(1, Ordering::SeqCst))
    }
    fn next_uuid(&self) -> String {
        format!("u{}", self.0.fetch_add(1, Ordering::SeqCst))
    }
}

const LIMITS: TreeLimits = TreeLimits { max_depth: 30, max_path_chars: 1000 };

fn actor() -> Actor {
    Actor { union_id: "op".into(), corp_id: "c".into(), now_ms: 1_000 }
}

/// Two nodes on one fresh database, and a plain connection to it.
async fn two_nodes() -> (PgStore, PgStore, Client, TestDatabase) {
    let database = TestDatabase::create().await;
    let options = PgOptions { max_connections: 4, ..PgOptions::default() };
    let first = PgStore::open(&database.url, &options).await.expect("node 1 opens");
    let second = PgStore::open(&database.url, &options).await.expect("node 2 opens");
    let (client, _driver) = common::connect(&database.url).await;
    client
        .batch_execute(
            "INSERT INTO orgs (corp_id, name, created_at, modified_at) VALUES ('c', 'org', 0, 0); \
             INSERT INTO apps (app_id, corp_id, name, app_key, secret_salt, secret_hash, scopes, \
                 created_at, modified_at) VALUES ('a', 'c', 'app', 'k', 's', 'h', '', 0, 0);",
        )
        .await
        .unwrap();
    (first, second, client, database)
}

async fn add_space(db: &Client, space_id: &str, quota: Option<i64>) {
    db.execute(
        "INSERT INTO spaces (space_id, corp_id, app_id, scene, scene_id, owner_type, owner_id, \
             creator_id, modifier_id, quota, status, can_search, can_rename, \
             can_record_recent_file, created_at, modified_at) \
         VALUES ($1, 'c', 'a', 'test', $1, 'APP', 'a', 'op', 'op', $2, 'NORMAL', TRUE, TRUE, \
             TRUE, 0, 0)",
        &[&space_id, &quota],
    )
    .await
    .unwrap();
}

/// A folder (no size) or a file of `size` bytes, charged to its space and org.
async fn add_dentry(db: &Client, space_id: &str, parent_id: &str, id: &str, file: Option<i64>) {
    let (kind, size, blob) = match file {
        Some(size) => ("FILE", size, Some(format!("blob-{id}"))),
        None => ("FOLDER", 0, None),
    };
    db.execute(
        "INSERT INTO dentries (dentry_id, uuid, space_id, parent_id, kind, name, size, version, \
             status, blob_key, creator_id, modifier_id, created_at, modified_at) \
         VALUES ($1, $1, $2, $3, $4, $1, $5, 1, 'NORMAL', $6, 'op', 'op', 0, 0)",
        &[&id, &space_id, &parent_id, &kind, &size, &blob],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE spaces SET used_bytes = used_bytes + $1 WHERE space_id = $2",
        &[&size, &space_id],
    )
    .await
    .unwrap();
    db.execute("UPDATE orgs SET used_bytes = used_bytes + $1 WHERE corp_id = 'c'", &[&size])
        .await
        .unwrap();
}

fn moving(space_id: &str, id: &str, to_space: &str, to_parent: &str) -> MoveDentry {
    MoveDentry {
        space_id: space_id.into(),
        dentry_id: id.into(),
        to: Destination {
            space_id: to_space.into(),
            parent_id: to_parent.into(),
            conflict: NameConflict::Fail,
        },
        actor: actor(),
        limits: LIMITS,
        keep_grants: true,
        protect_owner_grants: false,
        task_id: None,
    }
}

/// Panics unless every live dentry's parent chain reaches the root of its
/// space through live folders of that space.
async fn assert_no_cycle(db: &Client) {
    let rows = db
        .query("SELECT dentry_id, space_id, parent_id FROM dentries WHERE status = 'NORMAL'", &[])
        .await
        .unwrap();
    let parents: HashMap<String, (String, String)> = rows
        .iter()
        .map(|r| (r.get::<_, String>(0), (r.get::<_, String>(1), r.get::<_, String>(2))))
        .collect();
    for (id, (space, parent)) in &parents {
        let mut at = parent.clone();
        let mut steps = 0;
        while at != "0" {
            let (up_space, up) = parents.get(&at).unwrap_or_else(|| panic!("{id}: {at} is gone"));
            assert_eq!(up_space, space, "{id}: {at} is in another space");
            at = up.clone();
            steps += 1;
            assert!(steps <= parents.len(), "{id} is on a cycle");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_moving_two_folders_into_each_other_never_make_a_cycle() {
    let (node1, node2, db, _database) = two_nodes().await;
    add_space(&db, "1", None).await;
    add_space(&db, "2", None).await;
    let ids: Ids = Arc::new(CountingIds(AtomicU64::new(0)));
    for round in 0..12 {
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        // Every third round across spaces: each move locks both spaces.
        let across = round % 3 == 2;
        let b_space = if across { "2" } else { "1" };
        add_dentry(&db, "1", "0", &a, None).await;
        add_dentry(&db, b_space, "0", &b, None).await;
        // Deeper in some rounds: into each other's child.
        let (into_a, into_b) = if round % 2 == 1 {
            let (ca, cb) = (format!("{a}c"), format!("{b}c"));
            add_dentry(&db, "1", &a, &ca, None).await;
            add_dentry(&db, b_space, &b, &cb, None).await;
            (ca, cb)
        } else {
            (a.clone(), b.clone())
        };
        let a_into_b = moving("1", &a, b_space, &into_b);
        let b_into_a = moving(b_space, &b, "1", &into_a);
        let (first, second) = tokio::join!(
            node1.move_dentry(&a_into_b, ids.clone()),
            node2.move_dentry(&b_into_a, ids.clone())
        );
        let outcomes = [first, second];
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "round {round}: {outcomes:?}");
        // Within a space the loser finds the cycle; across spaces, the
        // winner took its target out of the target's space.
        assert!(
            outcomes.iter().any(|o| matches!(
                o,
                Err(StoreError::IntoItself) | Err(StoreError::ParentNotFound)
            )),
            "round {round}: {outcomes:?}"
        );
        assert_no_cycle(&db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_copying_never_pass_the_quota() {
    let (node1, node2, db, _database) = two_nodes().await;
    add_space(&db, "1", None).await;
    add_space(&db, "2", Some(20)).await;
    add_dentry(&db, "1", "0", "f", Some(5)).await;
    let ids: Ids = Arc::new(CountingIds(AtomicU64::new(0)));
    let copies: Vec<CopyDentry> = (0..10)
        .map(|i| CopyDentry {
            space_id: "1".into(),
            dentry_id: "f".into(),
            to: Destination {
                space_id: "2".into(),
                parent_id: "0".into(),
                conflict: NameConflict::AutoRename { prefix: "f(".into(), suffix: ")".into() },
            },
            new_dentry_id: format!("c{i}"),
            new_uuid: format!("cu{i}"),
            actor: actor(),
            limits: LIMITS,
            task_id: None,
        })
        .collect();
    let runs = copies.iter().enumerate().map(|(i, copy)| {
        let node = if i % 2 == 0 { node1.clone() } else { node2.clone() };
        let ids = ids.clone();
        async move { node.copy_dentry(copy, ids).await }
    });
    let outcomes = join_all(runs).await;
    let mut copied = 0;
    for outcome in &outcomes {
        match outcome {
            Ok(_) => copied += 1,
            Err(StoreError::QuotaExceeded { space: true }) => {}
            Err(e) => panic!("unexpected {e}: {outcomes:?}"),
        }
    }
    assert_eq!(copied, 4, "{outcomes:?}");
    let used: i64 = db
        .query_one("SELECT used_bytes FROM spaces WHERE space_id = '2'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(used, 20);
    let (files, bytes): (i64, i64) = {
        let row = db
            .query_one(
                "SELECT COUNT(*), COALESCE(SUM(size), 0)::BIGINT FROM dentries \
                 WHERE space_id = '2' AND status = 'NORMAL'",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((files, bytes), (4, 20));
    let org: i64 =
        db.query_one("SELECT used_bytes FROM orgs WHERE corp_id = 'c'", &[]).await.unwrap().get(0);
    assert_eq!(org, 25, "the source's 5 bytes and the 4 copies'");
}
