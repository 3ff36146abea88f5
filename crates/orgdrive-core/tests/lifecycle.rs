//! The dentry lifecycle in the domain: rename, move, copy and delete (at
//! once and as tasks), the recycle bin, versions and app property edits —
//! with the byte counters, the content store and fsck checked after each.

mod common;

use std::time::Duration;

use common::*;
use orgdrive_core::{
    AppPropertyInput, BatchItem, ListAll, ListChildren, PropertyFilter, Relocation, TaskOp,
    TaskRecord, TaskStatus,
};
use orgdrive_store::{MaintenanceStore, TaskStore};

/// The field an invalid-parameter or not-found error names.
fn field(e: &DriveError) -> Option<&str> {
    match e {
        DriveError::NotFound { field, .. } => Some(field),
        other => param_field(other),
    }
}

fn to(space_id: &str, folder_id: &str, strategy: Option<&str>) -> Relocation {
    Relocation {
        target_space_id: Some(space_id.into()),
        target_folder_id: Some(folder_id.into()),
        conflict_strategy: strategy.map(str::to_string),
        preserve_permissions: false,
    }
}

async fn folder(w: &World, space_id: &str, parent_id: &str, name: &str) -> DentryView {
    let input = NewFolder { name: Some(name.into()), ..NewFolder::default() };
    w.drive.add_folder(&w.op, space_id, parent_id, input).await.unwrap()
}

/// GetFileUploadInfo → PUT → CommitFile of `bytes` as `name` under `parent_id`.
async fn upload_into(
    w: &World,
    space_id: &str,
    parent_id: &str,
    name: &str,
    bytes: &[u8],
) -> DentryView {
    let ticket = w.drive.get_file_upload_info(&w.op, space_id, single(PreCheck::default()), BASE);
    let ticket = ticket.await.unwrap();
    put_bytes(w, &ticket.url, bytes, true).await.unwrap();
    let commit = CommitRequest {
        upload_key: Some(ticket.upload_key),
        name: Some(name.into()),
        parent_id: Some(parent_id.into()),
        ..CommitRequest::default()
    };
    w.drive.commit_file(&w.op, space_id, commit).await.unwrap()
}

/// Polls the task until it finishes.
async fn finished(w: &World, task_id: &str) -> TaskRecord {
    for _ in 0..500 {
        let task = w.drive.get_task(&w.op, task_id).await.unwrap();
        if task.status == TaskStatus::Success || task.status == TaskStatus::Fail {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("task {task_id} did not finish");
}

async fn children(w: &World, space_id: &str, parent_id: &str) -> Vec<DentryView> {
    let input = ListChildren { parent_id: Some(parent_id.into()), ..ListChildren::default() };
    w.drive.list_dentries(&w.op, space_id, input).await.unwrap().dentries
}

async fn all_count(w: &World, space_id: &str) -> usize {
    let mut count = 0;
    let mut next_token = None;
    loop {
        let input = ListAll { next_token, ..ListAll::default() };
        let page = w.drive.list_all_dentries(&w.op, space_id, input).await.unwrap();
        count += page.dentries.len();
        match page.next_token {
            Some(t) => next_token = Some(t),
            None => return count,
        }
    }
}

/// A folder `tree` holding `sub/` and files a.txt (3 bytes) and sub/b.txt (4 bytes).
async fn small_tree(w: &World, space_id: &str) -> (DentryView, DentryView, DentryView) {
    let tree = folder(w, space_id, "0", "tree").await;
    let sub = folder(w, space_id, &tree.dentry.dentry_id, "sub").await;
    let a = upload_into(w, space_id, &tree.dentry.dentry_id, "a.txt", b"aaa").await;
    upload_into(w, space_id, &sub.dentry.dentry_id, "b.txt", b"bbbb").await;
    (tree, sub, a)
}

#[tokio::test]
async fn a_rename_follows_the_name_rules_and_refreshes_paths_at_once() {
    let w = world().await;
    let s = space(&w, None).await;
    let (tree, sub, a) = small_tree(&w, &s).await;
    // The child's path is cached by this listing...
    assert_eq!(children(&w, &s, &sub.dentry.dentry_id).await[0].path, "/tree/sub/b.txt");
    let renamed =
        w.drive.rename_dentry(&w.op, &s, &tree.dentry.dentry_id, Some(" top ")).await.unwrap();
    assert_eq!((renamed.dentry.name.as_str(), renamed.path.as_str()), ("top", "/top"));
    // ...and is right at once after the ancestor's rename.
    assert_eq!(children(&w, &s, &sub.dentry.dentry_id).await[0].path, "/top/sub/b.txt");
    let file = w.drive.rename_dentry(&w.op, &s, &a.dentry.dentry_id, Some("a.md")).await.unwrap();
    assert_eq!((file.extension(), file.category()), (Some("md"), Some("DOCUMENT")));
    assert_eq!(file.dentry.uuid, a.dentry.uuid);
    let taken = w.drive.rename_dentry(&w.op, &s, &a.dentry.dentry_id, Some("sub")).await;
    assert_eq!(field(&taken.unwrap_err()), Some("name"));
    let bad = w.drive.rename_dentry(&w.op, &s, &a.dentry.dentry_id, Some("x|y")).await;
    assert_eq!(field(&bad.unwrap_err()), Some("newName"));
    let root = w.drive.rename_dentry(&w.op, &s, "0", Some("x")).await;
    assert!(matches!(root, Err(DriveError::PermissionDenied(_))), "{root:?}");
    let missing = w.drive.rename_dentry(&w.op, &s, "404", Some("x")).await;
    assert_eq!(field(&missing.unwrap_err()), Some("dentryId"));
    assert_consistent(&w).await;
}

#[tokio::test]
async fn a_move_within_a_space_is_immediate_and_never_into_itself() {
    let w = world().await;
    let s = space(&w, None).await;
    let (tree, sub, a) = small_tree(&w, &s).await;
    let other = folder(&w, &s, "0", "other").await;
    let moved = w
        .drive
        .move_dentry(&w.op, &s, &tree.dentry.dentry_id, to(&s, &other.dentry.dentry_id, None))
        .await
        .unwrap();
    assert!(moved.task_id.is_none(), "a move within a space is one row: never a task");
    assert_eq!(moved.dentry.path, "/other/tree");
    assert_eq!(
        (moved.dentry.dentry.dentry_id, moved.dentry.dentry.uuid),
        (tree.dentry.dentry_id.clone(), tree.dentry.uuid.clone())
    );
    assert_eq!(children(&w, &s, &sub.dentry.dentry_id).await[0].path, "/other/tree/sub/b.txt");
    let into_itself = w
        .drive
        .move_dentry(&w.op, &s, &other.dentry.dentry_id, to(&s, &sub.dentry.dentry_id, None))
        .await;
    assert_eq!(field(&into_itself.unwrap_err()), Some("targetFolderId"));
    // AUTO_RENAME by default; RETURN_ERROR_IF_EXISTS refuses.
    let twin = upload_into(&w, &s, "0", "a.txt", b"twin").await;
    let renamed = w
        .drive
        .move_dentry(&w.op, &s, &twin.dentry.dentry_id, to(&s, &tree.dentry.dentry_id, None))
        .await
        .unwrap();
    assert_eq!(renamed.dentry.dentry.name, "a(1).txt");
    let refused = w
        .drive
        .move_dentry(
            &w.op,
            &s,
            &renamed.dentry.dentry.dentry_id,
            to(&s, &tree.dentry.dentry_id, Some("RETURN_ERROR_IF_EXISTS")),
        )
        .await;
    assert!(refused.is_ok(), "moving to where it is, under its own name: {refused:?}");
    let existing = w
        .drive
        .move_dentry(
            &w.op,
            &s,
            &renamed.dentry.dentry.dentry_id,
            to(&s, &sub.dentry.dentry_id, Some("RETURN_DENTRY_IF_EXISTS")),
        )
        .await
        .unwrap();
    assert_eq!(existing.dentry.dentry.name, "a(1).txt", "no sibling of that name: moved");
    let _ = a;
    assert_consistent(&w).await;
}

#[tokio::test]
async fn overwrite_sends_the_replaced_file_to_the_recycle_bin() {
    let w = world().await;
    let s = space(&w, None).await;
    let dir = folder(&w, &s, "0", "dir").await;
    let old = upload_into(&w, &s, &dir.dentry.dentry_id, "a.txt", b"old").await;
    let new = upload_into(&w, &s, "0", "a.txt", b"newer").await;
    let moved = w
        .drive
        .move_dentry(
            &w.op,
            &s,
            &new.dentry.dentry_id,
            to(&s, &dir.dentry.dentry_id, Some("OVERWRITE")),
        )
        .await
        .unwrap();
    assert_eq!(moved.dentry.dentry.name, "a.txt");
    assert_eq!(moved.dentry.dentry.uuid, new.dentry.uuid);
    let bin = w.drive.get_recycle_bin(&w.op, Some("SPACE"), Some(&s)).await.unwrap();
    let items = w.drive.list_recycle_items(&w.op, &bin.recycle_bin_id, None, None).await.unwrap();
    assert_eq!(items.items.len(), 1);
    assert_eq!(items.items[0].dentry_id, old.dentry.dentry_id);
    assert_eq!(used(&w, &s).await, 8, "the replaced file still counts until purged");
    assert_consistent(&w).await;
}

#[tokio::test]
async fn a_cross_space_move_of_a_folder_runs_as_a_task_and_moves_the_bytes() {
    let w = world().await;
    let (s1, s2) = (space(&w, None).await, space(&w, Some(1000)).await);
    let (tree, _, a) = small_tree(&w, &s1).await;
    let moved =
        w.drive.move_dentry(&w.op, &s1, &tree.dentry.dentry_id, to(&s2, "0", None)).await.unwrap();
    let task_id = moved.task_id.expect("a folder with children moves across spaces as a task");
    let task = finished(&w, &task_id).await;
    assert_eq!(task.status, TaskStatus::Success, "{task:?}");
    assert_eq!((task.total_count, task.success_count, task.fail_count), (4, 4, 0));
    assert!(task.begin_at.is_some() && task.end_at.is_some());
    assert_eq!((used(&w, &s1).await, used(&w, &s2).await), (0, 7));
    assert_eq!((all_count(&w, &s1).await, all_count(&w, &s2).await), (0, 4));
    let got = w.drive.get_dentry(&w.op, &s2, &a.dentry.dentry_id, &PropertyFilter::default()).await;
    assert_eq!(got.unwrap().dentry.uuid, a.dentry.uuid, "ids and uuid survive the move");
    assert_eq!(download(&w, &s2, &a.dentry.dentry_id, None).await, b"aaa");
    // Over the target's quota: the task fails and nothing moves.
    let tight = space(&w, Some(5)).await;
    let refused = w.drive.move_dentry(&w.op, &s2, &tree.dentry.dentry_id, to(&tight, "0", None));
    let task = finished(&w, &refused.await.unwrap().task_id.unwrap()).await;
    assert_eq!(task.status, TaskStatus::Fail);
    assert!(task.fail_message.is_some());
    assert_eq!((used(&w, &s2).await, used(&w, &tight).await), (7, 0));
    assert_consistent(&w).await;
}

#[tokio::test]
async fn a_copy_shares_content_is_charged_and_outlives_its_source() {
    let w = world().await;
    let (s1, s2) = (space(&w, None).await, space(&w, Some(1 << 30)).await);
    let (tree, _, a) = small_tree(&w, &s1).await;
    let copied =
        w.drive.copy_dentry(&w.op, &s1, &tree.dentry.dentry_id, to(&s2, "0", None)).await.unwrap();
    let task = finished(&w, copied.task_id.as_ref().expect("a folder copies as a task")).await;
    assert_eq!(task.status, TaskStatus::Success, "{task:?}");
    assert_ne!(copied.dentry.dentry.dentry_id, tree.dentry.dentry_id);
    assert_ne!(copied.dentry.dentry.uuid, tree.dentry.uuid);
    let root = w
        .drive
        .get_dentry(&w.op, &s2, &copied.dentry.dentry.dentry_id, &PropertyFilter::default())
        .await
        .unwrap();
    assert_eq!(root.dentry.uuid, copied.dentry.dentry.uuid, "the answered ids are the copy's");
    assert_eq!((used(&w, &s1).await, used(&w, &s2).await), (7, 7));
    let file_copy =
        w.drive.copy_dentry(&w.op, &s1, &a.dentry.dentry_id, to(&s1, "0", None)).await.unwrap();
    assert!(file_copy.task_id.is_none(), "a file copies at once");
    let objects_before = stored_objects(&w).await;
    // The source goes for good: the copies keep the shared content.
    assert!(w.drive.delete_dentry(&w.op, &s1, &a.dentry.dentry_id, false).await.unwrap().is_none());
    assert_eq!(stored_objects(&w).await, objects_before);
    assert_eq!(download(&w, &s1, &file_copy.dentry.dentry.dentry_id, None).await, b"aaa");
    // The last reference goes: so does the object.
    w.drive.delete_dentry(&w.op, &s1, &file_copy.dentry.dentry.dentry_id, false).await.unwrap();
    let task = w.drive.delete_dentry(&w.op, &s2, &copied.dentry.dentry.dentry_id, false).await;
    finished(&w, &task.unwrap().expect("a folder with children deletes as a task")).await;
    // The task ends in its change's transaction; the trashed object is
    // deleted right after it, so it may still be going when the task reads done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while stored_objects(&w).await != objects_before - 1 {
        assert!(std::time::Instant::now() < deadline, "the last reference's object stayed");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!((used(&w, &s1).await, used(&w, &s2).await), (4, 0));
    assert_consistent(&w).await;
}

#[tokio::test]
async fn a_binned_tree_is_restored_with_its_ids_and_purging_frees_everything() {
    let w = world().await;
    let s = space(&w, None).await;
    let (tree, sub, a) = small_tree(&w, &s).await;
    let task = w.drive.delete_dentry(&w.op, &s, &tree.dentry.dentry_id, true).await.unwrap();
    assert_eq!(finished(&w, &task.unwrap()).await.status, TaskStatus::Success);
    assert_eq!(all_count(&w, &s).await, 0);
    assert_eq!(used(&w, &s).await, 7, "binned bytes count until purged");
    let bin = w.drive.get_recycle_bin(&w.op, Some("space"), Some(&s)).await.unwrap();
    let again = w.drive.get_recycle_bin(&w.op, Some("SPACE"), Some(&s)).await.unwrap();
    assert_eq!(bin.recycle_bin_id, again.recycle_bin_id, "one bin per scope");
    let items = w.drive.list_recycle_items(&w.op, &bin.recycle_bin_id, None, None).await.unwrap();
    let item = &items.items[0];
    assert_eq!((item.path.as_str(), item.size, item.kind.as_str()), ("/tree", 7, "FOLDER"));
    let landing = w
        .drive
        .restore_recycle_item(&w.op, &bin.recycle_bin_id, &item.recycle_item_id, None)
        .await
        .unwrap();
    finished(&w, landing.task_id.as_ref().expect("a folder restores as a task")).await;
    assert_eq!(landing.dentry_id, tree.dentry.dentry_id);
    let back = children(&w, &s, &sub.dentry.dentry_id).await;
    assert_eq!(back[0].path, "/tree/sub/b.txt");
    assert_eq!(download(&w, &s, &a.dentry.dentry_id, None).await, b"aaa");
    let gone = w.drive.get_recycle_item(&w.op, &bin.recycle_bin_id, &item.recycle_item_id).await;
    assert_eq!(field(&gone.unwrap_err()), Some("recycleItemId"));
    // A file whose folder is gone comes back at the root.
    w.drive.delete_dentry(&w.op, &s, &a.dentry.dentry_id, true).await.unwrap();
    let task = w.drive.delete_dentry(&w.op, &s, &tree.dentry.dentry_id, false).await.unwrap();
    finished(&w, &task.unwrap()).await;
    assert_eq!(used(&w, &s).await, 3, "the permanent delete freed the folder's 4 bytes");
    let items = w.drive.list_recycle_items(&w.op, &bin.recycle_bin_id, None, None).await.unwrap();
    let landing = w
        .drive
        .restore_recycle_item(&w.op, &bin.recycle_bin_id, &items.items[0].recycle_item_id, None)
        .await
        .unwrap();
    assert!(landing.task_id.is_none());
    let restored = children(&w, &s, "0").await;
    assert_eq!(restored[0].path, "/a.txt");
    // Clearing the bin frees bytes and objects.
    w.drive.delete_dentry(&w.op, &s, &a.dentry.dentry_id, true).await.unwrap();
    w.drive.clear_recycle_bin(&w.op, &bin.recycle_bin_id).await.unwrap();
    assert_eq!(used(&w, &s).await, 0);
    assert_eq!(stored_objects(&w).await, 0);
    assert_consistent(&w).await;
}

#[tokio::test]
async fn batches_answer_each_item_and_one_failure_keeps_the_others() {
    let w = world().await;
    let s = space(&w, None).await;
    let a = upload_into(&w, &s, "0", "a.txt", b"a").await;
    let b = upload_into(&w, &s, "0", "b.txt", b"b").await;
    let ids =
        vec![a.dentry.dentry_id.clone(), "404".into(), "0".into(), b.dentry.dentry_id.clone()];
    let items: Vec<BatchItem> = w.drive.delete_dentries(&w.op, &s, &ids, true).await.unwrap();
    assert_eq!(items.len(), 4);
    assert!(items[0].outcome.is_ok() && items[3].outcome.is_ok());
    assert_eq!(field(items[1].outcome.as_ref().unwrap_err()), Some("dentryId"));
    assert!(matches!(items[2].outcome, Err(DriveError::PermissionDenied(_))));
    assert_eq!(all_count(&w, &s).await, 0);
    let too_many: Vec<String> = (0..51).map(|i| i.to_string()).collect();
    let refused = w.drive.delete_dentries(&w.op, &s, &too_many, false).await;
    assert_eq!(field(&refused.unwrap_err()), Some("dentryIds"));
    assert_consistent(&w).await;
}

#[tokio::test]
async fn a_revert_adds_a_version_with_the_old_content() {
    let w = world().await;
    let s = space(&w, None).await;
    let v1 = upload(&w, &s, "f.txt", b"one", None).await.unwrap();
    upload(&w, &s, "f.txt", b"two!", Some("OVERWRITE")).await.unwrap();
    upload(&w, &s, "f.txt", b"three", Some("OVERWRITE")).await.unwrap();
    let id = &v1.dentry.dentry_id;
    let page = w.drive.list_dentry_versions(&w.op, &s, id, None, None).await.unwrap();
    let versions: Vec<i64> = page.dentries.iter().map(|d| d.dentry.version).collect();
    assert_eq!(versions, [2, 1], "history only, newest first");
    let first = w.drive.list_dentry_versions(&w.op, &s, id, Some(1), None).await.unwrap();
    let rest = w.drive.list_dentry_versions(&w.op, &s, id, Some(1), first.next_token).await;
    assert_eq!(rest.unwrap().dentries[0].dentry.version, 1);
    w.drive.revert_dentry_version(&w.op, &s, id, "1").await.unwrap();
    let now = w.drive.get_dentry(&w.op, &s, id, &PropertyFilter::default()).await.unwrap();
    assert_eq!((now.dentry.version, now.dentry.size), (4, 3));
    assert_eq!(download(&w, &s, id, None).await, b"one");
    assert_eq!(download(&w, &s, id, Some(3)).await, b"three");
    assert_eq!(used(&w, &s).await, 3 + 4 + 5 + 3);
    let unknown = w.drive.revert_dentry_version(&w.op, &s, id, "9").await;
    assert_eq!(field(&unknown.unwrap_err()), Some("version"));
    let bad = w.drive.revert_dentry_version(&w.op, &s, id, "x").await;
    assert_eq!(field(&bad.unwrap_err()), Some("version"));
    assert_consistent(&w).await;
}

fn property(name: &str, value: &str, visibility: Option<&str>) -> AppPropertyInput {
    AppPropertyInput {
        name: Some(name.into()),
        value: Some(value.into()),
        visibility: visibility.map(str::to_string),
    }
}

#[tokio::test]
async fn app_properties_are_upserted_by_name_and_capped() {
    let w = world().await;
    let s = space(&w, None).await;
    let f = folder(&w, &s, "0", "f").await;
    let id = &f.dentry.dentry_id;
    let set = vec![property("a", "1", None), property("b", "2", Some("PUBLIC"))];
    w.drive.update_app_properties(&w.op, &s, id, set).await.unwrap();
    w.drive.update_app_properties(&w.op, &s, id, vec![property("a", "9", None)]).await.unwrap();
    let got = w.drive.get_dentry(&w.op, &s, id, &PropertyFilter::default()).await.unwrap();
    let mine = &got.app_properties[&w.op.app.app_id];
    let values: Vec<(&str, &str, &str)> =
        mine.iter().map(|p| (p.name.as_str(), p.value.as_str(), p.visibility.as_str())).collect();
    assert_eq!(values, [("a", "9", "PRIVATE"), ("b", "2", "PUBLIC")]);
    let two_more = vec![property("c", "3", None), property("d", "4", None)];
    let refused = w.drive.update_app_properties(&w.op, &s, id, two_more).await;
    assert_eq!(field(&refused.unwrap_err()), Some("appProperties"));
    w.drive.delete_app_properties(&w.op, &s, id, vec!["a".into(), "nope".into()]).await.unwrap();
    let got = w.drive.get_dentry(&w.op, &s, id, &PropertyFilter::default()).await.unwrap();
    assert_eq!(got.app_properties[&w.op.app.app_id].len(), 1);
}

#[tokio::test]
async fn a_task_left_unfinished_by_a_crash_is_run_at_the_next_start() {
    let w = world().await;
    let (s1, s2) = (space(&w, None).await, space(&w, Some(1 << 30)).await);
    let (tree, _, _) = small_tree(&w, &s1).await;
    // What a process that died right after accepting the task left behind.
    let meta = SqliteStore::open(&w.dir.path().join("meta.sqlite"), &SqliteOptions::default())
        .await
        .unwrap();
    let task = TaskRecord {
        task_id: "777".into(),
        corp_id: w.corp_id.clone(),
        app_id: w.op.app.app_id.clone(),
        operator_id: w.user.union_id.clone(),
        op: TaskOp::Move {
            space_id: s1.clone(),
            dentry_id: tree.dentry.dentry_id.clone(),
            target_space_id: s2.clone(),
            target_parent_id: "0".into(),
            conflict: "AUTO_RENAME".into(),
            keep_grants: false,
            protect_owner_grants: false,
        },
        status: TaskStatus::InProgress,
        total_count: 4,
        success_count: 0,
        fail_count: 0,
        fail_message: None,
        attempts: 1,
        created_at: 1,
        begin_at: Some(1),
        end_at: None,
    };
    meta.insert_task(&task, 64).await.unwrap();
    meta.close().await;
    let restarted = drive_on(&w.dir, options()).await;
    assert_eq!(restarted.resume_tasks(orgdrive_core::Takeover::All).await.unwrap(), 1);
    let w = World { drive: restarted, ..w };
    let task = finished(&w, "777").await;
    assert_eq!(task.status, TaskStatus::Success);
    assert_eq!((all_count(&w, &s1).await, all_count(&w, &s2).await), (0, 4));
}

#[tokio::test]
async fn an_app_may_have_only_so_many_unfinished_tasks() {
    let w = world().await;
    let s = space(&w, None).await;
    let (tree, _, a) = small_tree(&w, &s).await;
    // Tasks an earlier process accepted and never ran, as many as allowed.
    let meta = SqliteStore::open(&w.dir.path().join("meta.sqlite"), &SqliteOptions::default())
        .await
        .unwrap();
    for i in 0..orgdrive_core::MAX_UNFINISHED_TASKS_PER_APP {
        let task = TaskRecord {
            task_id: format!("queued-{i}"),
            corp_id: w.corp_id.clone(),
            app_id: w.op.app.app_id.clone(),
            operator_id: w.user.union_id.clone(),
            op: TaskOp::Delete {
                space_id: s.clone(),
                dentry_id: "404".into(),
                recycle_item_id: None,
            },
            status: TaskStatus::Init,
            total_count: 1,
            success_count: 0,
            fail_count: 0,
            fail_message: None,
            attempts: 0,
            created_at: 1,
            begin_at: None,
            end_at: None,
        };
        meta.insert_task(&task, u32::MAX).await.unwrap();
    }
    meta.close().await;
    let w = World { drive: drive_on(&w.dir, options()).await, ..w };
    let refused = w.drive.delete_dentry(&w.op, &s, &tree.dentry.dentry_id, true).await;
    assert!(matches!(refused, Err(DriveError::TooManyTasks(_))), "{refused:?}");
    assert_eq!(all_count(&w, &s).await, 4, "nothing was deleted");
    // What needs no task is not limited.
    assert!(w.drive.delete_dentry(&w.op, &s, &a.dentry.dentry_id, true).await.unwrap().is_none());
    // Once they have run, tasks may be submitted again.
    assert_eq!(w.drive.resume_tasks(orgdrive_core::Takeover::All).await.unwrap(), 64);
    for _ in 0..500 {
        if w.drive.delete_dentry(&w.op, &s, &tree.dentry.dentry_id, true).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the queued tasks never made room");
}

#[tokio::test]
async fn copying_a_file_over_itself_changes_nothing() {
    let w = world().await;
    let s = space(&w, None).await;
    let a = upload_into(&w, &s, "0", "a.txt", b"aaa").await;
    let same = w
        .drive
        .copy_dentry(&w.op, &s, &a.dentry.dentry_id, to(&s, "0", Some("OVERWRITE")))
        .await
        .unwrap();
    assert_eq!(same.dentry.dentry.dentry_id, a.dentry.dentry_id);
    let bin = w.drive.get_recycle_bin(&w.op, Some("SPACE"), Some(&s)).await.unwrap();
    let items = w.drive.list_recycle_items(&w.op, &bin.recycle_bin_id, None, None).await.unwrap();
    assert!(items.items.is_empty(), "nothing went to the bin");
    assert_eq!(used(&w, &s).await, 3);
}

#[tokio::test]
async fn an_item_whose_folder_went_too_deep_is_restored_at_the_root() {
    let w = world().await;
    let s = space(&w, None).await;
    let p = folder(&w, &s, "0", "p").await;
    let zb = folder(&w, &s, &p.dentry.dentry_id, "zb").await;
    folder(&w, &s, &zb.dentry.dentry_id, "zb1").await;
    let task = w.drive.delete_dentry(&w.op, &s, &zb.dentry.dentry_id, true).await.unwrap();
    finished(&w, &task.unwrap()).await;
    // p moves under a chain of 62 folders: /c/c/…/p is 63 names deep, so
    // zb1 (two below p) could not come back there.
    let mut deepest = "0".to_string();
    for _ in 0..62 {
        deepest = folder(&w, &s, &deepest, "c").await.dentry.dentry_id;
    }
    w.drive.move_dentry(&w.op, &s, &p.dentry.dentry_id, to(&s, &deepest, None)).await.unwrap();
    let bin = w.drive.get_recycle_bin(&w.op, Some("SPACE"), Some(&s)).await.unwrap();
    let items = w.drive.list_recycle_items(&w.op, &bin.recycle_bin_id, None, None).await.unwrap();
    let landing = w
        .drive
        .restore_recycle_item(&w.op, &bin.recycle_bin_id, &items.items[0].recycle_item_id, None)
        .await
        .unwrap();
    let task = finished(&w, &landing.task_id.unwrap()).await;
    assert_eq!(task.status, TaskStatus::Success, "{task:?}");
    let back = w
        .drive
        .get_dentry(&w.op, &s, &zb.dentry.dentry_id, &PropertyFilter::default())
        .await
        .unwrap();
    assert_eq!(back.path, "/zb");
    assert_consistent(&w).await;
}
