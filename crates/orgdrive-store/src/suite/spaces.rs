//! Behaviour of spaces and the byte counters above them.

use std::collections::HashSet;

use super::fixtures::*;
use crate::*;

pub async fn a_space_is_inserted_once_per_scene(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_app(&app("b", "c", "kb")).await.unwrap();
    let first = SpaceRecord { quota: Some(100), name: None, ..space("1", "0") };
    assert_eq!(s.insert_space_once(&first).await.unwrap(), (first.clone(), true));
    assert_eq!(s.get_space("1").await.unwrap(), Some(first.clone()));
    // Same (org, app, scene, sceneId): the stored space, whatever the candidate says.
    let again = SpaceRecord { quota: None, name: Some("other".into()), ..space("2", "0") };
    assert_eq!(s.insert_space_once(&again).await.unwrap(), (first.clone(), false));
    assert_eq!(s.get_space("2").await.unwrap(), None);
    // Any other part of the key makes another space.
    let other_scene_id = space("3", "1");
    assert!(s.insert_space_once(&other_scene_id).await.unwrap().1);
    let other_scene = SpaceRecord { scene: "chat".into(), ..space("4", "0") };
    assert!(s.insert_space_once(&other_scene).await.unwrap().1);
    let other_app = SpaceRecord { app_id: "b".into(), ..space("5", "0") };
    assert!(s.insert_space_once(&other_app).await.unwrap().1);
    for id in ["3", "4", "5"] {
        assert!(s.get_space(id).await.unwrap().is_some(), "space {id}");
    }
    assert_eq!(s.get_space("1").await.unwrap(), Some(first));
}

pub async fn racing_space_inserts_store_one_space(s: &impl MetaStore) {
    org_and_app(s).await;
    let inserts: Vec<_> = (0..16)
        .map(|i| async move { s.insert_space_once(&space(&format!("s{i}"), "0")).await })
        .collect();
    let mut ids = HashSet::new();
    let mut created = 0;
    for result in join_all(inserts).await {
        let (stored, new) = result.unwrap();
        ids.insert(stored.space_id);
        created += usize::from(new);
    }
    assert_eq!(ids.len(), 1, "every caller got the same space");
    assert_eq!(created, 1, "exactly one caller created it");
    let id = ids.into_iter().next().unwrap();
    for i in 0..16 {
        let stored = s.get_space(&format!("s{i}")).await.unwrap();
        assert_eq!(stored.is_some(), format!("s{i}") == id);
    }
}

pub async fn a_space_needs_its_org_and_app(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_org(&org("d", None)).await.unwrap();
    s.insert_app(&app("b", "d", "kb")).await.unwrap();
    let unknown_org = SpaceRecord { corp_id: "nope".into(), ..space("1", "0") };
    assert!(matches!(s.insert_space_once(&unknown_org).await, Err(StoreError::NotFound)));
    let unknown_app = SpaceRecord { app_id: "nope".into(), ..space("1", "0") };
    assert!(matches!(s.insert_space_once(&unknown_app).await, Err(StoreError::NotFound)));
    // An app of another org is no app of this one.
    let foreign_app = SpaceRecord { app_id: "b".into(), ..space("1", "0") };
    assert!(matches!(s.insert_space_once(&foreign_app).await, Err(StoreError::NotFound)));
    assert!(s.get_space("1").await.unwrap().is_none());
}

pub async fn used_bytes_add_up_per_space_app_and_org(s: &impl MetaStore) {
    org_and_app(s).await;
    s.insert_app(&app("b", "c", "kb")).await.unwrap();
    s.insert_org(&org("d", None)).await.unwrap();
    s.insert_space_once(&space("1", "0")).await.unwrap();
    s.insert_space_once(&space("2", "1")).await.unwrap();
    s.insert_space_once(&SpaceRecord { app_id: "b".into(), ..space("3", "0") }).await.unwrap();
    assert_eq!(s.org_used_bytes("c").await.unwrap(), 0);
    assert_eq!(s.app_used_bytes("a").await.unwrap(), 0);
    s.put_dentry(&put(file("f1", "x", 10), NameConflict::Fail, None)).await.unwrap();
    let in_2 = DentryRecord { space_id: "2".into(), ..file("f2", "x", 20) };
    s.put_dentry(&put(in_2, NameConflict::Fail, None)).await.unwrap();
    let in_3 = DentryRecord { space_id: "3".into(), ..file("f3", "x", 40) };
    s.put_dentry(&put(in_3, NameConflict::Fail, None)).await.unwrap();
    // Folders weigh nothing.
    s.put_dentry(&put(folder("d1", "dir"), NameConflict::Fail, None)).await.unwrap();
    let used = |id: &'static str| async move { s.get_space(id).await.unwrap().unwrap().used_bytes };
    assert_eq!((used("1").await, used("2").await, used("3").await), (10, 20, 40));
    assert_eq!(s.app_used_bytes("a").await.unwrap(), 30);
    assert_eq!(s.app_used_bytes("b").await.unwrap(), 40);
    assert_eq!(s.org_used_bytes("c").await.unwrap(), 70);
    assert_eq!(s.org_used_bytes("d").await.unwrap(), 0);
    assert_eq!(counters(s, "1", "c").await, (10, 0, 70, 0));
}
