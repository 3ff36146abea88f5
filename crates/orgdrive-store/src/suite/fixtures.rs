//! Records and helpers the behaviour tests share (and a backend's own tests
//! may use). Everything here goes through the contract's traits only.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;

use crate::*;

/// Caps high enough never to matter.
pub const LIMITS: OpenUploadLimits = OpenUploadLimits { per_space: 100, per_app: 100 };

pub fn org(corp_id: &str, capacity: Option<i64>) -> OrgRecord {
    OrgRecord {
        corp_id: corp_id.into(),
        name: format!("org {corp_id}"),
        capacity,
        created_at: 1,
        modified_at: 1,
    }
}

pub fn app(app_id: &str, corp_id: &str, app_key: &str) -> AppRecord {
    AppRecord {
        app_id: app_id.into(),
        corp_id: corp_id.into(),
        name: format!("app {app_id}"),
        app_key: app_key.into(),
        secret_salt: "s".into(),
        secret_hash: "h".into(),
        scopes: vec!["Storage.Space.Write".into(), "Storage.Space.Read".into()],
        created_at: 1,
        modified_at: 1,
    }
}

pub fn user(union_id: &str, corp_id: &str, user_id: &str) -> UserRecord {
    UserRecord {
        union_id: union_id.into(),
        corp_id: corp_id.into(),
        user_id: user_id.into(),
        name: format!("user {union_id}"),
        org_admin: false,
        created_at: 1,
    }
}

pub fn dept(dept_id: &str, corp_id: &str, parent_id: Option<&str>) -> DeptRecord {
    DeptRecord {
        dept_id: dept_id.into(),
        corp_id: corp_id.into(),
        name: format!("dept {dept_id}"),
        parent_id: parent_id.map(str::to_string),
        created_at: 1,
    }
}

/// Org `c` (no capacity) with app `a` (key `k`, two scopes).
pub async fn org_and_app(s: &impl MetaStore) {
    s.insert_org(&org("c", None)).await.unwrap();
    s.insert_app(&app("a", "c", "k")).await.unwrap();
}

/// Space `id` of org `c`, app `a`, scene `default`.
pub fn space(id: &str, scene_id: &str) -> SpaceRecord {
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

/// Org `c` and app `a`, with space `1` capped at `quota`.
pub async fn space_with_quota(s: &impl MetaStore, quota: Option<i64>) {
    org_and_app(s).await;
    s.insert_space_once(&SpaceRecord { quota, ..space("1", "0") }).await.unwrap();
}

/// A file `id` of `size` bytes at the root of space `1`, content `objects/<id>`.
pub fn file(id: &str, name: &str, size: i64) -> DentryRecord {
    DentryRecord {
        dentry_id: id.into(),
        uuid: format!("u{id}"),
        space_id: "1".into(),
        parent_id: "0".into(),
        kind: "FILE".into(),
        name: name.into(),
        size,
        version: 1,
        status: "NORMAL".into(),
        blob_key: Some(format!("objects/{id}")),
        creator_id: "u".into(),
        modifier_id: "u".into(),
        created_at: 1,
        modified_at: 1,
        app_properties: Vec::new(),
    }
}

/// A folder `id` at the root of space `1`.
pub fn folder(id: &str, name: &str) -> DentryRecord {
    DentryRecord { kind: "FOLDER".into(), size: 0, blob_key: None, ..file(id, name, 0) }
}

pub fn put(dentry: DentryRecord, conflict: NameConflict, upload_key: Option<&str>) -> PutDentry {
    PutDentry {
        overwrite_dentry_id: None,
        dentry,
        corp_id: "c".into(),
        conflict,
        upload_key: upload_key.map(str::to_string),
        upload_objects: Vec::new(),
        app_properties: Vec::new(),
    }
}

/// Puts the dentry under `Fail` with no upload; returns what was stored.
pub async fn create(s: &impl MetaStore, dentry: DentryRecord) -> DentryRecord {
    match s.put_dentry(&put(dentry, NameConflict::Fail, None)).await.unwrap() {
        PutOutcome::Created(d) => d,
        other => panic!("expected Created, got {other:?}"),
    }
}

/// An upload to space `1` by app `a`, expiring at 10.
pub fn upload(key: &str) -> UploadRecord {
    UploadRecord {
        upload_key: key.into(),
        space_id: "1".into(),
        app_id: "a".into(),
        union_id: "u".into(),
        multipart: false,
        check_name: None,
        check_parent_id: None,
        check_size: None,
        check_md5: None,
        max_bytes: None,
        created_at: 1,
        expires_at: 10,
    }
}

pub fn part(n: i64, size: i64, object: &str) -> UploadPartRecord {
    UploadPartRecord { part_number: n, size, md5: None, object_key: object.into() }
}

/// Reserves `size` bytes for part `n` and records the part as `object`.
pub async fn put_part(s: &impl MetaStore, key: &str, n: i64, size: i64, object: &str) {
    s.reserve_upload_bytes(key, n, Reserve::Exactly(size), 5).await.unwrap();
    let recorded = s.record_upload_part(key, &part(n, size, object), size).await.unwrap();
    assert!(matches!(recorded, PartRecorded::Recorded { .. }), "{recorded:?}");
}

fn check<'a>(checks: &'a [UsageCheck], id: &str, what: &str) -> &'a UsageCheck {
    checks.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no {what} check for {id}"))
}

/// (committed, reserved) bytes of space `space_id` and of org `corp_id`, as
/// the contract shows them — `get_space`, `org_used_bytes` and the
/// consistency scan — after checking that every counter equals the sum it
/// summarises.
pub async fn counters(s: &impl MetaStore, space_id: &str, corp_id: &str) -> (i64, i64, i64, i64) {
    let scan = s.consistency_scan().await.unwrap();
    for c in [&scan.space_usage, &scan.org_usage, &scan.space_reserved, &scan.org_reserved]
        .into_iter()
        .flatten()
    {
        assert_eq!(c.recorded, c.actual, "a counter differs from its sum: {c:?}");
    }
    assert!(scan.under_reserved_uploads.is_empty(), "{:?}", scan.under_reserved_uploads);
    let space_used = s.get_space(space_id).await.unwrap().expect("the space").used_bytes;
    let org_used = s.org_used_bytes(corp_id).await.unwrap();
    assert_eq!(check(&scan.space_usage, space_id, "space usage").recorded, space_used);
    assert_eq!(check(&scan.org_usage, corp_id, "org usage").recorded, org_used);
    let space_reserved = check(&scan.space_reserved, space_id, "space reserved").recorded;
    let org_reserved = check(&scan.org_reserved, corp_id, "org reserved").recorded;
    (space_used, space_reserved, org_used, org_reserved)
}

/// Polls every future concurrently (on the calling task) and returns their
/// outputs in order: concurrent callers of one store handle.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

/// Ids counting up from 1000 (`1000`, `uuid-1001`, `1002`, …: one counter
/// for both), so that tests know what a change creates.
pub struct CountingIds {
    next: AtomicU64,
}

impl IdSource for CountingIds {
    fn next_id(&self) -> String {
        self.next.fetch_add(1, Ordering::SeqCst).to_string()
    }

    fn next_uuid(&self) -> String {
        format!("uuid-{}", self.next.fetch_add(1, Ordering::SeqCst))
    }
}

/// A fresh [`CountingIds`]: its first id is `1000`.
pub fn ids() -> Ids {
    Arc::new(CountingIds { next: AtomicU64::new(1000) })
}

/// The limits a server uses by default.
pub const TREE: TreeLimits = TreeLimits { max_depth: 64, max_path_chars: 1024 };

/// User `op` of org `c`, at `now_ms`.
pub fn actor(now_ms: i64) -> Actor {
    Actor { union_id: "op".into(), corp_id: "c".into(), now_ms }
}

pub fn auto(prefix: &str, suffix: &str) -> NameConflict {
    NameConflict::AutoRename { prefix: prefix.into(), suffix: suffix.into() }
}

pub fn to(space_id: &str, parent_id: &str, conflict: NameConflict) -> Destination {
    Destination { space_id: space_id.into(), parent_id: parent_id.into(), conflict }
}

/// `d` in folder `parent_id`.
pub fn under(parent_id: &str, d: DentryRecord) -> DentryRecord {
    DentryRecord { parent_id: parent_id.into(), ..d }
}

/// Renames dentry `id` of space `1`, by `actor(100)`.
pub fn rename(id: &str, new_name: &str) -> RenameDentry {
    RenameDentry {
        space_id: "1".into(),
        dentry_id: id.into(),
        new_name: new_name.into(),
        actor: actor(100),
        limits: TREE,
    }
}

/// Moves dentry `id` of space `1`, by `actor(100)`, with no task.
pub fn moving(id: &str, to: Destination) -> MoveDentry {
    MoveDentry {
        space_id: "1".into(),
        dentry_id: id.into(),
        to,
        actor: actor(100),
        limits: TREE,
        keep_grants: true,
        protect_owner_grants: false,
        task_id: None,
    }
}

/// Copies dentry `id` of space `1` as `new_id` (uuid `u<new_id>`), by `actor(100)`.
pub fn copying(id: &str, to: Destination, new_id: &str) -> CopyDentry {
    CopyDentry {
        space_id: "1".into(),
        dentry_id: id.into(),
        to,
        new_dentry_id: new_id.into(),
        new_uuid: format!("u{new_id}"),
        actor: actor(100),
        limits: TREE,
        task_id: None,
    }
}

/// Deletes dentry `id` of space `1` (to the bin as `item`, or for good), by `actor(100)`.
pub fn deleting(id: &str, item: Option<&str>) -> DeleteDentry {
    DeleteDentry {
        space_id: "1".into(),
        dentry_id: id.into(),
        recycle_item_id: item.map(str::to_string),
        actor: actor(100),
        task_id: None,
    }
}

/// The items of org `c` and app `a`, in every space.
pub fn every_item() -> ItemFilter {
    ItemFilter { corp_id: "c".into(), app_id: Some("a".into()), space_id: None }
}

/// Restores `item` (filter [`every_item`]), by `actor(100)`.
pub fn restoring(item: &str, to: Destination) -> RestoreItem {
    RestoreItem {
        recycle_item_id: item.into(),
        filter: every_item(),
        to,
        actor: actor(100),
        limits: TREE,
        task_id: None,
    }
}

/// Org `c` (capacity `capacity`) with app `a`; space `1` (no quota) and
/// space `2` (quota `quota_2`); in space 1, 26 bytes:
///
/// ```text
/// /docs          d
/// /docs/a.txt    f1   3 bytes
/// /docs/sub      s
/// /docs/sub/b.txt f2  5 bytes
/// /other         o
/// /other/a.txt   f3   7 bytes
/// /top.txt       t   11 bytes
/// ```
pub async fn tree(s: &impl MetaStore, capacity: Option<i64>, quota_2: Option<i64>) {
    s.insert_org(&org("c", capacity)).await.unwrap();
    s.insert_app(&app("a", "c", "k")).await.unwrap();
    s.insert_space_once(&space("1", "0")).await.unwrap();
    s.insert_space_once(&SpaceRecord { quota: quota_2, ..space("2", "1") }).await.unwrap();
    create(s, folder("d", "docs")).await;
    create(s, under("d", file("f1", "a.txt", 3))).await;
    create(s, under("d", folder("s", "sub"))).await;
    create(s, under("s", file("f2", "b.txt", 5))).await;
    create(s, folder("o", "other")).await;
    create(s, under("o", file("f3", "a.txt", 7))).await;
    create(s, file("t", "top.txt", 11)).await;
}

/// Asserts what fsck checks of the store: every counter equals the sum it
/// summarises, live names are unique among siblings, every live dentry's
/// parent is a live folder of its space (or the root) with no cycle, and
/// no object in the trash is still referred to.
pub async fn assert_consistent(s: &impl MetaStore) {
    let scan = s.consistency_scan().await.unwrap();
    for c in [&scan.space_usage, &scan.org_usage, &scan.space_reserved, &scan.org_reserved]
        .into_iter()
        .flatten()
    {
        assert_eq!(c.recorded, c.actual, "a counter differs from its sum: {c:?}");
    }
    assert!(scan.duplicate_names.is_empty(), "{:?}", scan.duplicate_names);
    let nodes: HashMap<(&str, &str), &TreeNode> =
        scan.tree.iter().map(|n| ((n.space_id.as_str(), n.dentry_id.as_str()), n)).collect();
    for node in scan.tree.iter().filter(|n| n.live) {
        let mut current = node;
        let mut steps = 0;
        while current.parent_id != "0" {
            let parent = nodes.get(&(current.space_id.as_str(), current.parent_id.as_str()));
            let parent = parent.unwrap_or_else(|| panic!("{node:?}: an ancestor is missing"));
            assert!(parent.is_folder && parent.live, "{node:?}: {parent:?} is no live folder");
            current = parent;
            steps += 1;
            assert!(steps <= nodes.len(), "{node:?} is in a cycle");
        }
    }
    for trashed in &scan.trashed_objects {
        assert!(
            scan.blobs.iter().all(|b| &b.blob_key != trashed),
            "{trashed} is in the trash but still referred to"
        );
    }
}

/// A permanent grant of `role` on `dentry_id` of `space_id` to the member,
/// of org `c`, written by `op` at 10.
pub fn grant(
    space_id: &str,
    dentry_id: &str,
    member_type: &str,
    member_id: &str,
    role: &str,
) -> GrantRecord {
    GrantRecord {
        space_id: space_id.into(),
        dentry_id: dentry_id.into(),
        member_type: member_type.into(),
        member_id: member_id.into(),
        member_corp_id: "c".into(),
        role: role.into(),
        duration_secs: None,
        expires_at: None,
        operator_id: "op".into(),
        created_at: 10,
        modified_at: 10,
    }
}

/// A write of `grants`, which all name the first one's space and dentry.
pub fn writing(mode: GrantWrite, grants: Vec<GrantRecord>) -> WriteGrants {
    WriteGrants {
        space_id: grants[0].space_id.clone(),
        dentry_id: grants[0].dentry_id.clone(),
        mode,
        grants,
        protect_owner_grants: false,
    }
}
