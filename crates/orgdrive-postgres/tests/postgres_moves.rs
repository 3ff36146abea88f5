//! Moves whose first statement waits for their space's lock (a task's move
//! within its space, which does not run under `combined`): they see what
//! was committed while they waited. And a file's move where it is, past
//! the limits. (Found by a review: the task's move read its dentry in the
//! statement that waited for the lock, so from before the wait, and undid
//! a rename committed meanwhile.)
mod common;

use std::time::Duration;

use common::TestDatabase;
use orgdrive_postgres::{PgOptions, PgStore};
use orgdrive_store::suite::fixtures::*;
use orgdrive_store::*;

fn move_task(task_id: &str, dentry_id: &str) -> TaskRecord {
    TaskRecord {
        task_id: task_id.into(),
        corp_id: "c".into(),
        app_id: "a".into(),
        operator_id: "op".into(),
        op: TaskOp::Move {
            space_id: "1".into(),
            dentry_id: dentry_id.into(),
            target_space_id: "1".into(),
            target_parent_id: "into".into(),
            conflict: "FAIL".into(),
            keep_grants: true,
            protect_owner_grants: false,
        },
        status: TaskStatus::Init,
        total_count: 0,
        success_count: 0,
        fail_count: 0,
        fail_message: None,
        attempts: 0,
        created_at: 1,
        begin_at: None,
        end_at: None,
    }
}

/// Another transaction holds space 1 and changes dentry `id` with `change`;
/// a task move of `id` into `into` starts meanwhile; the other commits.
async fn task_move_behind(
    database: &TestDatabase,
    s: &PgStore,
    id: &str,
    change: &str,
) -> StoreResult<Placed> {
    s.insert_task(&move_task(&format!("t{id}"), id), 64).await.unwrap();
    let (client, _driver) = common::connect(&database.url).await;
    client
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM spaces WHERE space_id = '1' FOR UPDATE; {change}"
        ))
        .await
        .unwrap();
    let mover = {
        let s = s.clone();
        let request = MoveDentry {
            task_id: Some(format!("t{id}")),
            ..moving(id, to("1", "into", NameConflict::Fail))
        };
        tokio::spawn(async move { s.move_dentry(&request, ids()).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.batch_execute("COMMIT").await.unwrap();
    mover.await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_move_within_its_space_sees_a_rename_committed_while_it_waited() {
    let database = TestDatabase::create().await;
    let s = PgStore::open(&database.url, &PgOptions::default()).await.unwrap();
    space_with_quota(&s, None).await;
    create(&s, folder("into", "into")).await;
    create(&s, file("f", "old name", 1)).await;
    let placed = task_move_behind(
        &database,
        &s,
        "f",
        "UPDATE dentries SET name = 'new name' WHERE dentry_id = 'f'",
    )
    .await
    .unwrap();
    let now = s.get_dentry("1", "f").await.unwrap().unwrap();
    assert_eq!(now.name, "new name", "the committed rename was undone by the move");
    assert_eq!(placed.dentry, now);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_move_within_its_space_of_a_dentry_binned_while_it_waited_is_not_found() {
    let database = TestDatabase::create().await;
    let s = PgStore::open(&database.url, &PgOptions::default()).await.unwrap();
    space_with_quota(&s, None).await;
    create(&s, folder("into", "into")).await;
    create(&s, file("g", "gone", 1)).await;
    let moved = task_move_behind(
        &database,
        &s,
        "g",
        "UPDATE dentries SET status = 'EXPIRED' WHERE dentry_id = 'g'",
    )
    .await;
    assert!(matches!(moved, Err(StoreError::NotFound)), "{moved:?}");
}

/// A file whose path already passes the limits (puts do not check them in
/// the store; the limits may have been lowered) moved to the folder it is
/// in under its own name: only the modifier changes, as on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_moved_where_it_is_changes_only_its_modifier_even_past_the_limits() {
    let database = TestDatabase::create().await;
    let s = PgStore::open(&database.url, &PgOptions::default()).await.unwrap();
    space_with_quota(&s, None).await;
    create(&s, folder("long", &"l".repeat(1000))).await;
    create(&s, under("long", file("f", &"f".repeat(100), 1))).await;
    let moved = s.move_dentry(&moving("f", to("1", "long", NameConflict::Fail)), ids()).await;
    assert_eq!(moved.unwrap().dentry.parent_id, "long");
}

/// A batch's locks and attempts go out together (pipelined): the attempt
/// still runs under the space's lock, so a file move queued behind another
/// transaction holding the space answers the file as that transaction left
/// it (here renamed), as read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batched_file_move_behind_a_held_space_answers_what_was_committed_meanwhile() {
    let database = TestDatabase::create().await;
    let s = PgStore::open(&database.url, &PgOptions::default()).await.unwrap();
    space_with_quota(&s, None).await;
    create(&s, folder("into", "into")).await;
    create(&s, file("f", "old name", 1)).await;
    create(&s, file("g", "old name 2", 1)).await;
    let (client, _driver) = common::connect(&database.url).await;
    client
        .batch_execute(
            "BEGIN; SELECT 1 FROM spaces WHERE space_id = '1' FOR UPDATE; \
             UPDATE dentries SET name = 'new name' WHERE dentry_id = 'f'; \
             UPDATE dentries SET name = 'other' WHERE dentry_id = 'g'",
        )
        .await
        .unwrap();
    let (mover, plain) = {
        let (s1, s2) = (s.clone(), s.clone());
        let request = moving("f", to("1", "into", NameConflict::Fail));
        let plain = moving("g", to("1", "into", NameConflict::Fail));
        (
            tokio::spawn(async move { s1.move_dentry(&request, ids()).await }),
            tokio::spawn(async move { s2.move_plain_file(&plain).await }),
        )
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.batch_execute("COMMIT").await.unwrap();
    let moved = mover.await.unwrap().unwrap();
    let now = s.get_dentry("1", "f").await.unwrap().unwrap();
    assert_eq!((now.name.as_str(), now.parent_id.as_str()), ("new name", "into"));
    assert_eq!(moved.dentry, now);
    let plain = plain.await.unwrap().unwrap().expect("a plain move");
    let now = s.get_dentry("1", "g").await.unwrap().unwrap();
    assert_eq!((now.name.as_str(), now.parent_id.as_str()), ("other", "into"));
    assert_eq!(plain.dentry, now);
}

/// The group-commit figures count what a batch's commit decided: a plain
/// move declined (its batch rolled back) counts nothing, one applied one
/// write in one commit. (Before, every batch taken counted, with every
/// write it carried.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_figures_count_what_batches_committed_not_what_they_declined() {
    let database = TestDatabase::create().await;
    let s = PgStore::open(&database.url, &PgOptions::default()).await.unwrap();
    space_with_quota(&s, None).await;
    create(&s, folder("into", "into")).await;
    create(&s, under("into", file("twin", "f.txt", 1))).await;
    create(&s, file("f", "f.txt", 1)).await;
    create(&s, file("g", "g.txt", 1)).await;
    let before = s.write_figures();
    let taken = s.move_plain_file(&moving("f", to("1", "into", NameConflict::Fail))).await;
    assert!(taken.unwrap().is_none(), "a move took a taken name");
    assert_eq!(s.write_figures(), before, "a declined move counted as a group commit");
    let moved = s.move_plain_file(&moving("g", to("1", "into", NameConflict::Fail))).await;
    assert!(moved.unwrap().is_some());
    let after = s.write_figures();
    assert_eq!((after.commits - before.commits, after.writes - before.writes), (1, 1));
}
