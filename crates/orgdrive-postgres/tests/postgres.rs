//! What only a shared database has: several `PgStore`s (as several nodes)
//! on one database racing each other, migrations run by nodes starting at
//! once, a newer schema refused, and events numbered in commit order
//! whatever order their transactions began in. The contract's behaviour is
//! tested by the suite (`behaviour.rs`).

mod common;

use std::collections::HashSet;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use common::{behind_a_proxy_losing_a_commits_answer, TestDatabase};
use orgdrive_postgres::{migrate, migrate_up_to, PgOptions, PgStore};
use orgdrive_store::suite::fixtures::*;
use orgdrive_store::*;

async fn node(database: &TestDatabase) -> PgStore {
    PgStore::open(&database.url, &PgOptions::default()).await.expect("store opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_space_inserts_from_two_nodes_store_one_space() {
    let database = TestDatabase::create().await;
    let (first, second) = (node(&database).await, node(&database).await);
    org_and_app(&first).await;
    let mut tasks = Vec::new();
    for i in 0..32 {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_commits_from_two_nodes_never_pass_the_quota() {
    let database = TestDatabase::create().await;
    let (first, second) = (node(&database).await, node(&database).await);
    space_with_quota(&first, Some(1000)).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            let key = format!("k{i}");
            s.insert_upload(&upload(&key), &LIMITS).await.unwrap();
            s.reserve_upload_bytes(&key, 0, Reserve::Exactly(300), 5).await?;
            s.record_upload_part(&key, &part(0, 300, &format!("objects/{key}")), 300)
                .await
                .unwrap();
            let mut commit =
                put(file(&i.to_string(), &format!("f{i}"), 300), NameConflict::Fail, Some(&key));
            commit.upload_objects = vec![format!("objects/{key}")];
            s.put_dentry(&commit).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::QuotaExceeded { space: true }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(counters(&first, "1", "c").await, (900, 0, 900, 0));
    assert_eq!(counters(&second, "1", "c").await, (900, 0, 900, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_commits_to_two_spaces_from_two_nodes_never_pass_the_org_capacity() {
    let database = TestDatabase::create().await;
    let (first, second) = (node(&database).await, node(&database).await);
    first.insert_org(&org("c", Some(1000))).await.unwrap();
    first.insert_app(&app("a", "c", "k")).await.unwrap();
    first.insert_space_once(&space("1", "1")).await.unwrap();
    first.insert_space_once(&space("2", "2")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            let space_id = if i % 4 < 2 { "1" } else { "2" };
            let dentry = DentryRecord {
                space_id: space_id.into(),
                ..file(&i.to_string(), &format!("f{i}"), 300)
            };
            s.put_dentry(&put(dentry, NameConflict::Fail, None)).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::QuotaExceeded { space: false }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(first.org_used_bytes("c").await.unwrap(), 900);
    let scan = second.consistency_scan().await.unwrap();
    for c in scan.space_usage.iter().chain(&scan.org_usage) {
        assert_eq!(c.recorded, c.actual, "{c:?}");
    }
}

/// Many uploads of one name with AUTO_RENAME at once, from two nodes: every
/// one is stored, each under its own name.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_auto_renames_from_two_nodes_all_get_a_name() {
    let database = TestDatabase::create().await;
    let (first, second) = (node(&database).await, node(&database).await);
    space_with_quota(&first, None).await;
    first.put_dentry(&put(file("0", "a.txt", 1), NameConflict::Fail, None)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 1..=24 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            let conflict = auto("a (", ").txt");
            s.put_dentry(&put(file(&i.to_string(), "a.txt", 1), conflict, None)).await
        }));
    }
    let mut names = HashSet::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(PutOutcome::Created(d)) => assert!(names.insert(d.name.clone()), "{} twice", d.name),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(names.len(), 24);
    assert!(first.consistency_scan().await.unwrap().duplicate_names.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_at_once_migrate_once() {
    let database = TestDatabase::create().await;
    let opening: Vec<_> = (0..4)
        .map(|_| {
            let url = database.url.clone();
            tokio::spawn(async move { PgStore::open(&url, &PgOptions::default()).await })
        })
        .collect();
    for store in opening {
        store.await.unwrap().expect("every node opens");
    }
    let again = migrate(&database.url).await.unwrap();
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.from_version, again.to_version);
    let versions = rows(&database.url, "SELECT version::TEXT FROM schema_migrations").await;
    assert_eq!(versions.len(), again.to_version as usize, "each migration recorded once");
}

#[tokio::test]
async fn a_database_of_a_newer_schema_is_refused_and_left_alone() {
    let database = TestDatabase::create().await;
    let first = migrate(&database.url).await.unwrap();
    assert_eq!(first.from_version, 0);
    assert!(!first.applied.is_empty());
    let newer = first.to_version + 1;
    execute(
        &database.url,
        &format!("INSERT INTO schema_migrations (version, applied_at) VALUES ({newer}, 0)"),
    )
    .await;
    let refused = PgStore::open(&database.url, &PgOptions::default()).await;
    match refused {
        Err(StoreError::Backend(message)) => {
            assert!(message.contains(&newer.to_string()), "{message}")
        }
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
    assert!(matches!(migrate(&database.url).await, Err(StoreError::Backend(_))));
    let versions = rows(&database.url, "SELECT version::TEXT FROM schema_migrations").await;
    assert_eq!(versions.len(), first.to_version as usize + 1);
}

/// A database of another encoding than UTF8 is refused before anything is
/// written: `char_length` would count its names' bytes, and a rename from
/// "éé" to "abcd" would seem not to grow its path.
#[tokio::test]
async fn a_database_not_in_utf8_is_refused_and_left_alone() {
    let database = TestDatabase::create_with(
        "ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
    )
    .await;
    for refused in [
        migrate(&database.url).await.map(drop),
        PgStore::open(&database.url, &PgOptions::default()).await.map(drop),
    ] {
        match refused {
            Err(StoreError::Backend(message)) => {
                assert!(message.contains("SQL_ASCII") && message.contains("UTF8"), "{message}")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let untouched =
        rows(&database.url, "SELECT (to_regclass('schema_migrations') IS NULL)::text").await;
    assert_eq!(untouched, ["true"]);
}

#[tokio::test]
async fn a_bad_url_is_a_backend_error_and_an_unreachable_server_unavailable() {
    let bad = PgStore::open("postgres://[not a url", &PgOptions::default()).await;
    assert!(matches!(bad, Err(StoreError::Backend(_))));
    // Port 1 on the loopback: nothing listens there.
    let unreachable =
        PgStore::open("postgres://u:secret-word@127.0.0.1:1/db", &PgOptions::default()).await;
    match unreachable {
        Err(StoreError::Unavailable(message)) => {
            assert!(!message.contains("secret-word"), "the password leaked: {message}")
        }
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("opened a store on a closed port"),
    }
}

/// Events get `seq` in the order they became visible: an event whose
/// transaction began first but committed last is numbered last, so a cursor
/// that has passed the earlier numbers never skips it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_are_numbered_in_commit_order() {
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    space_with_quota(&store, None).await;
    assert_eq!(store.last_event_seq().await.unwrap(), 0);
    let pool = pool(&database.url);
    let event =
        |dentry_id: &str| EventRecord::new(EventType::DentryCreated, "c", "1", dentry_id, "u", 1);
    let mut early_client = pool.get().await.unwrap();
    let early = early_client.transaction().await.unwrap();
    orgdrive_postgres::events::append(&early, &[event("early")]).await.unwrap();
    let mut late_client = pool.get().await.unwrap();
    let late = late_client.transaction().await.unwrap();
    orgdrive_postgres::events::append(&late, &[event("late-1"), event("late-2")]).await.unwrap();
    late.commit().await.unwrap();
    // The early transaction is still open: its event is not numbered yet.
    assert_eq!(store.last_event_seq().await.unwrap(), 2);
    early.commit().await.unwrap();
    assert_eq!(store.last_event_seq().await.unwrap(), 3);
    let numbered = rows(
        &database.url,
        "SELECT dentry_id || ':' || seq || ':' || appended FROM events ORDER BY seq",
    )
    .await;
    let dentries: Vec<&str> = numbered.iter().map(|r| r.split(':').next().unwrap()).collect();
    assert_eq!(dentries, ["late-1", "late-2", "early"], "{numbered:?}");
    // Numbers never go back, even when every event is deleted.
    execute(&database.url, "DELETE FROM events").await;
    let mut client = pool.get().await.unwrap();
    let t = client.transaction().await.unwrap();
    orgdrive_postgres::events::append(&t, &[event("after")]).await.unwrap();
    t.commit().await.unwrap();
    assert_eq!(store.last_event_seq().await.unwrap(), 4);
}

fn pool(url: &str) -> deadpool_postgres::Pool {
    let (config, tls) = orgdrive_postgres::connection_settings(url).unwrap();
    let manager = deadpool_postgres::Manager::new(config, tls);
    deadpool_postgres::Pool::builder(manager).max_size(4).build().unwrap()
}

async fn execute(url: &str, sql: &str) {
    let client = pool(url).get().await.unwrap();
    client.batch_execute(sql).await.unwrap();
}

/// The first column (text) of every row of `sql`.
async fn rows(url: &str, sql: &str) -> Vec<String> {
    let client = pool(url).get().await.unwrap();
    client.query(sql, &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

/// A node's cache changes reach another node listening, whatever their
/// number (split over several notifications when they do not fit one).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cache_changes_reach_the_other_nodes() {
    let database = TestDatabase::create().await;
    let (first, second) = (node(&database).await, node(&database).await);
    let mut listener = first.listen_changes().await.unwrap();
    let lines: Vec<String> = (0..2000).map(|i| format!("space:{i}")).collect();
    second.notify_changes(2, &lines).await.unwrap();
    let mut received = Vec::new();
    while received.len() < lines.len() {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv());
        let (from, body) = next.await.expect("a notification in time").expect("listening");
        assert_eq!(from, 2);
        received.extend(body.lines().map(str::to_string));
    }
    assert_eq!(received, lines);
}

/// A folder `id` named `name` under `parent_id` of space `space_id`.
fn folder_in(space_id: &str, parent_id: &str, id: &str, name: &str) -> DentryRecord {
    DentryRecord { space_id: space_id.into(), parent_id: parent_id.into(), ..folder(id, name) }
}

fn property(app_id: &str, name: &str, value: &str) -> AppPropertyRecord {
    AppPropertyRecord {
        dentry_id: String::new(),
        app_id: app_id.into(),
        name: name.into(),
        value: value.into(),
        visibility: "PUBLIC".into(),
    }
}

/// Folder puts written together (`put_dentries`, what concurrent
/// `put_dentry` calls get): each answer is what the put alone would have
/// answered, whatever else is in the batch; nothing is half-written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn folder_puts_written_together_answer_each_as_alone() {
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    space_with_quota(&store, None).await;
    create(&store, folder("p", "parent")).await;
    create(&store, file("f", "a-file", 1)).await;
    let mut with_properties = put(folder("9", "props"), NameConflict::Fail, None);
    with_properties.app_properties = vec![property("a", "k1", "v1"), property("a", "k0", "v0")];
    let puts = vec![
        put(folder("1", "x"), NameConflict::Fail, None),
        put(folder("2", "x"), NameConflict::Fail, None),
        put(folder("3", "x"), NameConflict::ReturnExisting, None),
        put(folder("4", "x"), auto("x (", ")"), None),
        put(folder_in("1", "p", "5", "y"), NameConflict::Fail, None),
        put(folder_in("1", "missing", "6", "z"), NameConflict::Fail, None),
        put(folder_in("1", "f", "7", "z"), NameConflict::Fail, None),
        put(folder_in("nope", "0", "8", "z"), NameConflict::Fail, None),
        with_properties,
        put(file("10", "a-file", 1), NameConflict::Fail, None),
        put(folder("11", "parent"), NameConflict::Fail, None),
    ];
    let answers = store.put_dentries(&puts).await;
    let created = |i: usize| match &answers[i] {
        Ok(PutOutcome::Created(d)) => d.clone(),
        other => panic!("put {i}: expected Created, got {other:?}"),
    };
    assert_eq!(created(0).name, "x");
    assert!(
        matches!(&answers[1], Err(StoreError::NameTaken(d)) if d.dentry_id == "1"),
        "{:?}",
        answers[1]
    );
    assert!(
        matches!(&answers[2], Ok(PutOutcome::Existing(d)) if d.dentry_id == "1"),
        "{:?}",
        answers[2]
    );
    assert!(created(3).name.starts_with("x (") && created(3).name != "x", "{}", created(3).name);
    assert_eq!(created(4).parent_id, "p");
    assert!(matches!(answers[5], Err(StoreError::ParentNotFound)), "{:?}", answers[5]);
    assert!(matches!(answers[6], Err(StoreError::ParentNotFound)), "{:?}", answers[6]);
    assert!(matches!(answers[7], Err(StoreError::NotFound)), "{:?}", answers[7]);
    let props = created(8).app_properties;
    let keys: Vec<(&str, &str, &str)> =
        props.iter().map(|p| (p.dentry_id.as_str(), p.name.as_str(), p.value.as_str())).collect();
    assert_eq!(keys, [("9", "k0", "v0"), ("9", "k1", "v1")]);
    assert!(matches!(&answers[9], Err(StoreError::NameTaken(d)) if d.dentry_id == "f"));
    assert!(matches!(&answers[10], Err(StoreError::NameTaken(d)) if d.dentry_id == "p"));
    // What each answer says is what is stored.
    for i in [0, 3, 4, 8] {
        let d = created(i);
        assert_eq!(store.get_dentry("1", &d.dentry_id).await.unwrap().as_ref(), Some(&d));
    }
    for id in ["2", "3", "6", "7", "8", "10", "11"] {
        assert_eq!(store.get_dentry("1", id).await.unwrap(), None, "{id} stored");
    }
    // One DentryCreated event per folder created, with its space's app.
    let mut created_events = rows(
        &database.url,
        "SELECT dentry_id || ':' || app_id FROM events \
         WHERE event_type = 'storage_dentry_created' AND dentry_id NOT IN ('p', 'f')",
    )
    .await;
    created_events.sort();
    assert_eq!(created_events, ["1:a", "4:a", "5:a", "9:a"]);
    // A batch's event (of "1") is the event its put alone appends (that of
    // "4", renamed alone): all but the ids and the name.
    let event_of = |id: &str| event_fields(&format!("dentry_id = '{id}'"));
    let batched = rows(&database.url, &event_of("1")).await;
    assert_eq!(batched, rows(&database.url, &event_of("4")).await);
    assert!(batched[0].ends_with(",t,t,32)"), "{batched:?}");
    let in_parent =
        rows(&database.url, "SELECT parent_id || '/' || name FROM events WHERE dentry_id = '5'");
    assert_eq!(in_parent.await, ["p/y"]);
    assert_consistent(&store).await;
}

/// A batch that fails (here: two puts with one id) writes nothing of its
/// own; every put of it then runs alone and gets its own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_batch_leaves_nothing_and_each_put_runs_alone() {
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    space_with_quota(&store, None).await;
    let puts = vec![
        put(folder("1", "first"), NameConflict::Fail, None),
        put(folder("1", "same id"), NameConflict::Fail, None),
        put(folder("2", "third"), NameConflict::Fail, None),
    ];
    let answers = store.put_dentries(&puts).await;
    assert!(matches!(&answers[0], Ok(PutOutcome::Created(d)) if d.name == "first"));
    assert!(matches!(answers[1], Err(StoreError::Duplicate(Key::DentryId))), "{:?}", answers[1]);
    assert!(matches!(&answers[2], Ok(PutOutcome::Created(d)) if d.name == "third"));
    let mut stored = rows(&database.url, "SELECT dentry_id || ':' || name FROM dentries").await;
    stored.sort();
    assert_eq!(stored, ["1:first", "2:third"]);
    let events = rows(&database.url, "SELECT dentry_id FROM events ORDER BY appended").await;
    assert_eq!(events, ["1", "2"]);
    // Two puts of one id and one name: one folder, one event, one answer
    // that created it.
    let puts = vec![
        put(folder("3", "twice"), NameConflict::Fail, None),
        put(folder("3", "twice"), NameConflict::Fail, None),
    ];
    let answers = store.put_dentries(&puts).await;
    let created = answers.iter().filter(|a| matches!(a, Ok(PutOutcome::Created(_)))).count();
    assert_eq!(created, 1, "{answers:?}");
    let events = rows(&database.url, "SELECT count(*)::text FROM events WHERE dentry_id = '3'");
    assert_eq!(events.await, ["1"]);
}

/// Many concurrent AddFolders of a few names, from two nodes (their puts
/// are combined per node): one folder per name, every other put told the
/// name is taken, one event per folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_folder_puts_from_two_nodes_store_one_folder_per_name() {
    let database = TestDatabase::create().await;
    let (first, second) = (node(&database).await, node(&database).await);
    space_with_quota(&first, None).await;
    let mut tasks = Vec::new();
    for i in 0..96 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            let name = format!("n{}", i % 8);
            s.put_dentry(&put(folder(&format!("d{i}"), &name), NameConflict::Fail, None)).await
        }));
    }
    let (mut created, mut taken) = (HashSet::new(), 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(PutOutcome::Created(d)) => {
                assert!(created.insert(d.name.clone()), "{} twice", d.name)
            }
            Err(StoreError::NameTaken(_)) => taken += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((created.len(), taken), (8, 88));
    assert_eq!(rows(&database.url, "SELECT count(*)::text FROM events").await, ["8"]);
    assert_consistent(&first).await;
}

/// Events appended together get their spaces' apps, the previous space's
/// too; a space that is not there gives an empty app.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appended_events_name_the_apps_of_their_spaces() {
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    space_with_quota(&store, None).await;
    let pool = pool(&database.url);
    let mut client = pool.get().await.unwrap();
    let t = client.transaction().await.unwrap();
    let moved = EventRecord {
        previous_space_id: Some("1".into()),
        ..EventRecord::new(EventType::DentryMoved, "c", "gone", "m", "u", 1)
    };
    let created = EventRecord::new(EventType::DentryCreated, "c", "1", "n", "u", 2);
    orgdrive_postgres::events::append(&t, &[moved, created]).await.unwrap();
    t.commit().await.unwrap();
    let stored = rows(
        &database.url,
        "SELECT dentry_id || ':' || app_id || ':' || coalesce(previous_app_id, '-') \
         FROM events ORDER BY appended",
    )
    .await;
    assert_eq!(stored, ["m::a", "n:a:-"]);
}

/// A file moved, then renamed, within its space (each in one statement
/// when nothing else is to do) is answered as it is read back, app
/// properties included, and its events name where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_moved_and_renamed_at_once_is_answered_as_read_back() {
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    space_with_quota(&store, None).await;
    create(&store, folder("o", "other")).await;
    let mut with_properties = put(file("f", "a.txt", 3), NameConflict::Fail, None);
    with_properties.app_properties = vec![property("a", "k1", "v1"), property("a", "k0", "v0")];
    store.put_dentry(&with_properties).await.unwrap();
    let to_other = moving("f", to("1", "o", NameConflict::Fail));
    let placed = store.move_dentry(&to_other, ids()).await.unwrap();
    let read_back = store.get_dentry("1", "f").await.unwrap().unwrap();
    assert_eq!(placed.dentry, read_back);
    assert_eq!((placed.dentry.parent_id.as_str(), placed.entries), ("o", 1));
    assert_eq!(read_back.app_properties.len(), 2);
    let renamed = store.rename_dentry(&rename("f", "b.txt")).await.unwrap();
    assert_eq!(renamed, store.get_dentry("1", "f").await.unwrap().unwrap());
    assert_eq!((renamed.name.as_str(), renamed.app_properties.len()), ("b.txt", 2));
    let events = rows(
        &database.url,
        "SELECT event_type || ' ' || COALESCE(previous_parent_id, '-') || ' ' || \
         COALESCE(previous_name, '-') FROM events WHERE dentry_id = 'f' ORDER BY appended",
    )
    .await;
    assert_eq!(
        events,
        [
            "storage_dentry_created - -",
            "storage_dentry_moved 0 a.txt",
            "storage_dentry_renamed - a.txt"
        ]
    );
}

/// A batch whose `COMMIT`'s answer is lost (the connection cut once the
/// server had its requests) is answered an error, and its writes are never
/// run again: the move and the folder put were committed once, with one
/// event each. Fails on a batch that takes a lost answer for nothing
/// written (its writes then ran alone: the move a second time, with two
/// events; the put was refused its own name).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_whose_commit_answer_is_lost_answers_an_error_and_runs_nothing_again() {
    let database = TestDatabase::create().await;
    let proxy = behind_a_proxy_losing_a_commits_answer(&database, b"force_generic_plan").await;
    let (through_proxy, armed) = (proxy.url, proxy.armed);
    let store = PgStore::open(&through_proxy, &PgOptions::default()).await.unwrap();
    space_with_quota(&store, None).await;
    create(&store, folder("o", "o")).await;
    create(&store, file("a", "a.txt", 3)).await;
    armed.store(true, SeqCst);
    let moved = store.move_dentry(&moving("a", to("1", "o", NameConflict::Fail)), ids()).await;
    assert!(!armed.load(SeqCst), "the proxy saw no COMMIT");
    assert!(
        matches!(moved, Err(StoreError::OutcomeUnknown(_))),
        "a lost commit answered {moved:?}"
    );
    let events = rows(
        &database.url,
        "SELECT dentry_id || ' ' || parent_id || ' ' || previous_parent_id FROM events \
         WHERE event_type = 'storage_dentry_moved'",
    )
    .await;
    assert_eq!(events, ["a o 0"]);
    let parent = rows(&database.url, "SELECT parent_id FROM dentries WHERE dentry_id = 'a'");
    assert_eq!(parent.await, ["o"]);
    // A batch of folder puts, the same way.
    armed.store(true, SeqCst);
    let created = store.put_dentry(&put(folder("n", "new"), NameConflict::Fail, None)).await;
    assert!(!armed.load(SeqCst), "the proxy saw no COMMIT");
    assert!(
        matches!(created, Err(StoreError::OutcomeUnknown(_))),
        "a lost commit answered {created:?}"
    );
    let created = rows(
        &database.url,
        "SELECT dentry_id FROM events WHERE event_type = 'storage_dentry_created' \
         AND dentry_id = 'n'",
    )
    .await;
    let all = rows(&database.url, "SELECT dentry_id || ' ' || name FROM dentries ORDER BY 1").await;
    assert_eq!(created, ["n"], "{all:?}");
}

/// A query of the fields of the events `filter` (an SQL condition)
/// selects, as text, but those naming their dentry (its id, name and
/// previous name), and whether the store numbered them (not yet) and gave
/// them an `event_id` of their time and 20 hex digits.
fn event_fields(filter: &str) -> String {
    format!(
        "SELECT (event_type, corp_id, app_id, space_id, operator_id, at_ms, parent_id, \
         dentry_type, size, version, previous_space_id, previous_app_id, previous_parent_id, \
         source_space_id, source_dentry_id, recycle_item_id, member_type, member_id, role, \
         seq IS NULL, left(event_id, 12) = lpad(to_hex(at_ms), 12, '0'), \
         length(event_id))::text FROM events WHERE {filter}"
    )
}

/// The events a batch's statements append for the renames and file moves
/// they apply are those the writes' bodies append, field for field: a
/// rename and a move of `a` at once against those of `b` by their bodies
/// (a longer name, a file with a grant: both declined by the statements).
/// Fails on a statement that drops or misspells a field.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_of_renames_and_moves_at_once_are_those_of_their_bodies() {
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    space_with_quota(&store, None).await;
    create(&store, folder("o", "o")).await;
    create(&store, file("a", "a.txt", 3)).await;
    create(&store, file("b", "b.txt", 3)).await;
    let at_once = store.renames_at_once(&[rename("a", "x.txt")]).await.unwrap();
    assert!(at_once[0].is_some());
    store.rename_dentry(&rename("b", "b-longer.txt")).await.unwrap();
    store
        .write_grants(&WriteGrants {
            space_id: "1".into(),
            dentry_id: "b".into(),
            mode: GrantWrite::Add,
            grants: vec![grant("1", "b", "USER", "someone", "READER")],
            protect_owner_grants: false,
        })
        .await
        .unwrap();
    let into_o = |id: &str| moving(id, to("1", "o", NameConflict::Fail));
    let at_once = store.moves_at_once(&[into_o("a"), into_o("b")]).await.unwrap();
    assert!(at_once[0].is_some() && at_once[1].is_none(), "b has a grant: declined");
    store.move_dentry(&into_o("b"), ids()).await.unwrap();
    let event_of = |id: &str, event_type: &str| {
        event_fields(&format!("dentry_id = '{id}' AND event_type = 'storage_dentry_{event_type}'"))
    };
    for event_type in ["renamed", "moved"] {
        let batched = rows(&database.url, &event_of("a", event_type)).await;
        assert_eq!(batched.len(), 1, "{event_type}");
        assert_eq!(batched, rows(&database.url, &event_of("b", event_type)).await);
        assert!(batched[0].ends_with(",t,t,32)"), "{batched:?}");
    }
    let names = rows(
        &database.url,
        "SELECT event_type || ' ' || dentry_id || ' ' || name || ' ' || \
         COALESCE(previous_name, '-') FROM events \
         WHERE event_type IN ('storage_dentry_renamed', 'storage_dentry_moved') \
         ORDER BY appended",
    )
    .await;
    assert_eq!(
        names,
        [
            "storage_dentry_renamed a x.txt a.txt",
            "storage_dentry_renamed b b-longer.txt b.txt",
            "storage_dentry_moved a x.txt x.txt",
            "storage_dentry_moved b b-longer.txt b-longer.txt",
        ]
    );
    assert_consistent(&store).await;
}

/// The renames of a batch go in one statement: those it cannot apply as
/// the same renames one after the other would (two to one name, one
/// dentry twice, a name another frees, a longer name, another org's or a
/// missing dentry) write nothing and are left to their bodies, so the
/// unique index on live names never sees two at once; the others are
/// applied, answered as read back, one event each. Fails on a statement
/// without its guards (a unique violation aborts it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renames_in_one_statement_apply_only_what_one_after_another_would() {
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    space_with_quota(&store, None).await;
    for id in ["a", "b", "c", "d", "e", "f", "h"] {
        create(&store, file(id, &format!("{id}.txt"), 1)).await;
    }
    let mut with_properties = put(file("g", "g.txt", 1), NameConflict::Fail, None);
    with_properties.app_properties = vec![property("a", "k1", "v1"), property("a", "k0", "v0")];
    store.put_dentry(&with_properties).await.unwrap();
    let other_org =
        RenameDentry { actor: Actor { corp_id: "x".into(), ..actor(100) }, ..rename("h", "h.tx") };
    let renames = [
        rename("a", "n.txt"),
        rename("b", "n.txt"),
        rename("c", "k.txt"),
        rename("c", "l.txt"),
        rename("d", "e.txt"),
        rename("e", "x.txt"),
        rename("f", "a-longer-name.txt"),
        other_org,
        rename("missing", "m.txt"),
        rename("g", "y.txt"),
    ];
    let applied = store.renames_at_once(&renames).await.unwrap();
    let names: Vec<Option<&str>> =
        applied.iter().map(|d| d.as_ref().map(|d| d.name.as_str())).collect();
    let none = None;
    assert_eq!(
        names,
        [none, none, none, none, none, Some("x.txt"), none, none, none, Some("y.txt")]
    );
    for renamed in applied.iter().flatten() {
        let read_back = store.get_dentry("1", &renamed.dentry_id).await.unwrap().unwrap();
        assert_eq!(renamed, &read_back);
    }
    assert_eq!(applied[9].as_ref().unwrap().app_properties.len(), 2);
    let live = rows(
        &database.url,
        "SELECT name FROM dentries WHERE status = 'NORMAL' AND kind = 'FILE' ORDER BY name",
    )
    .await;
    assert_eq!(live, ["a.txt", "b.txt", "c.txt", "d.txt", "f.txt", "h.txt", "x.txt", "y.txt"]);
    let events = rows(
        &database.url,
        "SELECT dentry_id || ' ' || previous_name FROM events \
         WHERE event_type = 'storage_dentry_renamed' ORDER BY appended",
    )
    .await;
    assert_eq!(events, ["e e.txt", "g g.txt"]);
    // What was left runs as it would alone: the name e.txt is free now.
    assert_eq!(store.rename_dentry(&renames[4]).await.unwrap().name, "e.txt");
    assert_consistent(&store).await;
}

/// The file moves of a batch within their spaces go in one statement,
/// like its renames: those it cannot apply as the same moves one after the
/// other would (two names alike into one folder, one file twice, a taken
/// name, a path past the limits, a folder, a missing target, another
/// space) write nothing and are left to their bodies; the others are
/// applied, answered as read back, one event each. Fails on a statement
/// without its guards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_moves_in_one_statement_apply_only_what_one_after_another_would() {
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    space_with_quota(&store, None).await;
    create(&store, folder("o", "o")).await;
    create(&store, folder("p", "p")).await;
    create(&store, under("o", file("t", "taken.txt", 1))).await;
    create(&store, under("p", file("b2", "b.txt", 1))).await;
    for id in ["a", "b", "d", "f", "g", "i"] {
        create(&store, file(id, &format!("{id}.txt"), 1)).await;
    }
    create(&store, file("e", "taken.txt", 1)).await;
    let into = |id: &str, parent: &str| moving(id, to("1", parent, NameConflict::Fail));
    let shallow = TreeLimits { max_depth: 1, ..TREE };
    let moves = [
        into("a", "o"),
        into("b", "o"),
        into("b2", "o"),
        into("d", "o"),
        into("d", "p"),
        into("e", "o"),
        MoveDentry { limits: shallow, ..into("f", "o") },
        into("p", "o"),
        into("g", "missing"),
        moving("i", to("2", "0", NameConflict::Fail)),
        into("i", "p"),
    ];
    let applied = store.moves_at_once(&moves).await.unwrap();
    let parents: Vec<Option<&str>> =
        applied.iter().map(|p| p.as_ref().map(|p| p.dentry.parent_id.as_str())).collect();
    let none = None;
    assert_eq!(
        parents,
        [Some("o"), none, none, none, none, none, none, none, none, none, Some("p")]
    );
    for placed in applied.iter().flatten() {
        let read_back = store.get_dentry("1", &placed.dentry.dentry_id).await.unwrap().unwrap();
        assert_eq!(placed.dentry, read_back);
        assert_eq!((placed.entries, placed.existing), (1, false));
    }
    let live = rows(
        &database.url,
        "SELECT dentry_id || ' ' || parent_id FROM dentries \
         WHERE status = 'NORMAL' ORDER BY dentry_id",
    )
    .await;
    let expected = ["a o", "b 0", "b2 p", "d 0", "e 0", "f 0", "g 0", "i p", "o 0", "p 0", "t o"];
    assert_eq!(live, expected);
    let events = rows(
        &database.url,
        "SELECT dentry_id || ' ' || previous_parent_id FROM events \
         WHERE event_type = 'storage_dentry_moved' ORDER BY appended",
    )
    .await;
    assert_eq!(events, ["a 0", "i 0"]);
    // What was left runs as it would alone.
    assert_eq!(store.move_dentry(&moves[1], ids()).await.unwrap().dentry.parent_id, "o");
    assert!(matches!(store.move_dentry(&moves[2], ids()).await, Err(StoreError::NameTaken(_))));
    assert_consistent(&store).await;
}

/// Plain file moves (`move_plain_file`) racing from two nodes are applied
/// by their batches' statements, each answered as read back with one
/// event; then a file whose name is taken in the target folder is
/// declined, nothing of it written. Fails on a store that declines them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plain_file_moves_from_two_nodes_are_applied_and_a_taken_name_declined() {
    let database = TestDatabase::create().await;
    let (first, second) = (node(&database).await, node(&database).await);
    space_with_quota(&first, None).await;
    create(&first, folder("into", "into")).await;
    create(&first, folder("other", "other")).await;
    for i in 0..32 {
        create(&first, file(&format!("f{i}"), &format!("file {i}"), 1)).await;
    }
    // "twin" has the name of f0, in another folder.
    create(&first, under("other", file("twin", "file 0", 1))).await;
    let plain = |id: &str| moving(id, to("1", "into", NameConflict::Fail));
    let before = rows(&database.url, "SELECT count(*)::text FROM events").await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        let request = plain(&format!("f{i}"));
        tasks.push(tokio::spawn(async move { s.move_plain_file(&request).await.unwrap() }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let placed = task.await.unwrap().unwrap_or_else(|| panic!("f{i} was declined"));
        assert_eq!((placed.dentry.parent_id.as_str(), placed.entries), ("into", 1));
        let read_back = first.get_dentry("1", &format!("f{i}")).await.unwrap().unwrap();
        assert_eq!(placed.dentry, read_back);
    }
    let moved = rows(
        &database.url,
        "SELECT count(*)::text FROM events WHERE event_type = 'storage_dentry_moved'",
    )
    .await;
    assert_eq!(moved, ["32"]);
    // f0's name is taken in "into" now: declined on either node.
    for s in [&first, &second] {
        assert!(s.move_plain_file(&plain("twin")).await.unwrap().is_none());
    }
    assert_eq!(first.get_dentry("1", "twin").await.unwrap().unwrap().parent_id, "other");
    let after = rows(&database.url, "SELECT count(*)::text FROM events").await;
    assert_eq!(after[0].parse::<i64>().unwrap(), before[0].parse::<i64>().unwrap() + 32);
    assert_consistent(&first).await;
}

/// Renames and moves of one space racing from two nodes (each node runs
/// concurrent ones in shared transactions, one savepoint each): every
/// answer is what the change alone would answer, the refused ones leave
/// nothing, and the tree stays consistent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_renames_and_moves_from_two_nodes_answer_each_as_alone() {
    let database = TestDatabase::create().await;
    let (first, second) = (node(&database).await, node(&database).await);
    space_with_quota(&first, None).await;
    create(&first, folder("into", "into")).await;
    for i in 0..64 {
        create(&first, file(&format!("f{i}"), &format!("file {i}"), 1)).await;
    }
    let mut tasks = Vec::new();
    for i in 0..64 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        let id = format!("f{i}");
        tasks.push(tokio::spawn(async move {
            if i < 32 {
                // Two renames to each name: one takes it.
                s.rename_dentry(&rename(&id, &format!("r{}", i / 2))).await.map(|d| d.name)
            } else {
                // Every second one moves into the folder, where its twin
                // (a rename above) does not go: all moves succeed.
                let to = to("1", "into", NameConflict::Fail);
                s.move_dentry(&moving(&id, to), ids()).await.map(|p| p.dentry.parent_id)
            }
        }));
    }
    let (mut renamed, mut taken, mut moved) = (HashSet::new(), 0, 0);
    for (i, task) in tasks.into_iter().enumerate() {
        match (i < 32, task.await.unwrap()) {
            (true, Ok(name)) => assert!(renamed.insert(name.clone()), "{name} twice"),
            (true, Err(StoreError::NameTaken(_))) => taken += 1,
            (false, Ok(parent)) => {
                assert_eq!(parent, "into");
                moved += 1
            }
            (_, other) => panic!("{i}: unexpected {other:?}"),
        }
    }
    assert_eq!((renamed.len(), taken, moved), (16, 16, 32));
    let named_r = rows(
        &database.url,
        "SELECT count(*)::text FROM dentries WHERE name LIKE 'r%' AND status = 'NORMAL'",
    )
    .await;
    assert_eq!(named_r, ["16"]);
    let changes = rows(
        &database.url,
        "SELECT event_type || ':' || count(*) FROM events \
         WHERE event_type IN ('storage_dentry_renamed', 'storage_dentry_moved') \
         GROUP BY event_type ORDER BY event_type",
    )
    .await;
    assert_eq!(changes, ["storage_dentry_moved:32", "storage_dentry_renamed:16"]);
    assert_consistent(&first).await;
}

/// Every recursive tree walk probes an index per row it reaches, even with
/// a generic plan on a space whose statistics count many rows (as a plain
/// join the subtree walk became a hash join over the whole space: 10 ms per
/// file move in a space of 30,000 entries).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tree_walks_probe_an_index_per_row_in_a_large_space() {
    let database =
        space_of_30000_folders("UPDATE dentries SET parent_id = 'f1' WHERE dentry_id = 'f2';")
            .await;
    let client = generic_plans(&database).await;
    for (i, (name, sql, types)) in orgdrive_postgres::tree_walk_statements().into_iter().enumerate()
    {
        let args = if types.matches(',').count() == 1 { "'1', 'f2'" } else { "'1', 'f2', 10000" };
        let plan = plan_of(&client, i, sql, types, args).await.join("\n");
        assert!(
            !plan.contains("Seq Scan on dentries") && !plan.contains("Hash Join"),
            "{name} scans the space:\n{plan}"
        );
    }
}

/// A folder's pages by name come along the unique index of live names,
/// without a sort, with a generic plan in a folder of 30,000 entries. The
/// index that repeated it with `dentry_id` is gone (migration 6); ordered
/// by (name, dentry_id), a page then needs a sort above the index.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_folders_name_pages_come_along_the_unique_index_of_live_names() {
    let database = space_of_30000_folders("").await;
    let client = generic_plans(&database).await;
    let statements = orgdrive_postgres::folder_name_page_statements();
    assert_eq!(statements.len(), 4);
    for (i, (name, sql, types)) in statements.into_iter().enumerate() {
        let args = if types.matches(',').count() == 4 {
            "'1', '0', 'folder 5', 'f5', 50"
        } else {
            "'1', '0', 50"
        };
        let plan = plan_of(&client, i, &sql, types, args).await.join("\n");
        assert!(
            plan.contains("using dentries_live_name") && !plan.contains("Sort"),
            "{name}:\n{plan}"
        );
    }
}

/// Events are read and deleted along the indexes migration 7 left (those on
/// `seq` hold numbered events only: an event enters them when it is
/// numbered, not when it is appended), never by a scan of the table, with a
/// generic plan, in a table of 20,000 numbered events of 50 orgs and 1,000
/// still to number.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_are_read_and_deleted_along_the_indexes_of_migration_7() {
    let database = TestDatabase::create().await;
    node(&database).await;
    execute(&database.url, &insert_events(21_000, 20_000)).await;
    execute(&database.url, "ANALYZE events").await;
    let client = generic_plans(&database).await;
    for (i, (name, sql, types)) in
        orgdrive_postgres::event_index_statements().into_iter().enumerate()
    {
        let args = match types {
            "bigint" => "10000",
            "text" => "'c1'",
            "text, bigint" => "'c1', 100",
            _ => "'a', 100, 200, 50",
        };
        let plan = plan_of(&client, i, sql, types, args).await.join("\n");
        let along = [" events_seq ", " events_numbered_by_org ", " events_unsequenced "];
        assert!(
            along.iter().any(|index| plan.contains(index)) && !plan.contains("Seq Scan on events"),
            "{name}:\n{plan}"
        );
    }
}

/// `n` events (`e<i>`, of orgs `c0` … `c49`), the first `numbered` of them
/// numbered.
fn insert_events(n: u32, numbered: u32) -> String {
    format!(
        "INSERT INTO events (seq, event_id, event_type, corp_id, app_id, space_id, dentry_id, \
         operator_id, at_ms) \
         SELECT CASE WHEN i <= {numbered} THEN i END, 'e' || i, 'storage_dentry_created', \
         'c' || (i % 50), 'a', '1', 'd' || i, 'u', i FROM generate_series(1, {n}) AS i"
    )
}

/// What [`event_indexes`] answers once migration 7 applied.
const EVENT_INDEXES_OF_MIGRATION_7: [&str; 4] = [
    "events_numbered_by_org:true",
    "events_pkey:true",
    "events_seq:true",
    "events_unsequenced:true",
];

/// The indexes of `events`, as `name:valid`, by name.
async fn event_indexes(url: &str) -> Vec<String> {
    rows(
        url,
        "SELECT indexrelid::regclass::text || ':' || indisvalid FROM pg_index \
         WHERE indrelid = 'events'::regclass ORDER BY 1",
    )
    .await
}

/// A database of schema 6 holding events, numbered and not, upgrades: the
/// indexes of numbered events are built online and valid, the old ones are
/// gone, and every event is kept as it was.
#[tokio::test]
async fn migration_7_keeps_every_event_and_swaps_the_indexes_of_a_schema_6_database() {
    let database = TestDatabase::create().await;
    assert_eq!(migrate_up_to(&database.url, 6).await.unwrap().to_version, 6);
    assert_eq!(
        event_indexes(&database.url).await,
        [
            "events_by_org:true",
            "events_event_id_key:true",
            "events_pkey:true",
            "events_seq_key:true",
            "events_unsequenced:true"
        ]
    );
    execute(&database.url, &insert_events(5_000, 4_000)).await;
    let upgraded = migrate(&database.url).await.unwrap();
    assert_eq!((upgraded.from_version, upgraded.applied.first()), (6, Some(&7)));
    assert_eq!(event_indexes(&database.url).await, EVENT_INDEXES_OF_MIGRATION_7);
    let kept = rows(
        &database.url,
        "SELECT count(*) || ':' || count(seq) || ':' || count(DISTINCT event_id) FROM events",
    )
    .await;
    assert_eq!(kept, ["5000:4000:5000"]);
}

/// An online build that was interrupted leaves an invalid index behind
/// (here: one that fails on duplicate keys under a name migration 7
/// builds), and an index of another definition may hold the other name;
/// the next start drops both and builds the right ones.
#[tokio::test]
async fn indexes_an_interrupted_build_or_a_hand_left_are_built_again() {
    let database = TestDatabase::create().await;
    migrate_up_to(&database.url, 6).await.unwrap();
    execute(&database.url, &insert_events(100, 100)).await;
    let client = pool(&database.url).get().await.unwrap();
    let failed = client
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY events_seq ON events (corp_id)")
        .await;
    assert!(failed.is_err(), "duplicate corp_ids");
    execute(&database.url, "CREATE INDEX events_numbered_by_org ON events (corp_id)").await;
    let left = event_indexes(&database.url).await;
    assert!(left.contains(&"events_seq:false".to_string()), "{left:?}");
    migrate(&database.url).await.unwrap();
    let definitions = rows(
        &database.url,
        "SELECT pg_get_indexdef(indexrelid) || ' ' || indisvalid FROM pg_index \
         WHERE indexrelid IN ('events_seq'::regclass, 'events_numbered_by_org'::regclass) \
         ORDER BY indexrelid::regclass::text",
    )
    .await;
    assert_eq!(
        definitions,
        [
            "CREATE INDEX events_numbered_by_org ON public.events USING btree (corp_id, seq) \
             WHERE (seq IS NOT NULL) true",
            "CREATE UNIQUE INDEX events_seq ON public.events USING btree (seq) \
             WHERE (seq IS NOT NULL) true"
        ]
    );
}

/// Nodes starting at once on a database whose migration builds indexes
/// online all start: the ones waiting for the migrations' lock hold no
/// snapshot that the build would wait for (waiting in `pg_advisory_lock`
/// did, and the build failed on a deadlock).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_at_once_build_the_online_indexes_once() {
    let database = TestDatabase::create().await;
    migrate_up_to(&database.url, 6).await.unwrap();
    execute(&database.url, &insert_events(50_000, 49_000)).await;
    let opening: Vec<_> = (0..4)
        .map(|_| {
            let url = database.url.clone();
            tokio::spawn(async move { migrate(&url).await })
        })
        .collect();
    let mut applied = 0;
    for node in opening {
        applied += node.await.unwrap().expect("every node migrates").applied.len();
    }
    assert_eq!(applied, (orgdrive_postgres::SCHEMA_VERSION - 6) as usize, "each migration once");
    assert_eq!(event_indexes(&database.url).await, EVENT_INDEXES_OF_MIGRATION_7);
}

/// A database whose space `1` holds 30,000 folders at its root (`f<i>`,
/// named `folder <i>`), changed by the statements `then` (each ended by
/// `;`), analyzed.
async fn space_of_30000_folders(then: &str) -> TestDatabase {
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    space_with_quota(&store, None).await;
    execute(
        &database.url,
        &format!(
            "INSERT INTO dentries (dentry_id, uuid, space_id, parent_id, kind, name, size, \
             version, status, blob_key, creator_id, modifier_id, created_at, modified_at) \
             SELECT 'f' || i, 'uf' || i, '1', '0', 'FOLDER', 'folder ' || i, 0, 1, 'NORMAL', \
             NULL, 'u', 'u', i, i FROM generate_series(1, 30000) AS i; {then} ANALYZE"
        ),
    )
    .await;
    database
}

/// A connection of `database` whose prepared statements get generic plans.
async fn generic_plans(database: &TestDatabase) -> deadpool_postgres::Object {
    let client = pool(&database.url).get().await.unwrap();
    client.batch_execute("SET plan_cache_mode = force_generic_plan").await.unwrap();
    client
}

/// The lines of the plan of `sql` (parameters of `types`), prepared as
/// statement `i` on `client` and run with `args`.
async fn plan_of(
    client: &deadpool_postgres::Object,
    i: usize,
    sql: &str,
    types: &str,
    args: &str,
) -> Vec<String> {
    client.batch_execute(&format!("PREPARE statement{i} ({types}) AS {sql}")).await.unwrap();
    client
        .query(&format!("EXPLAIN EXECUTE statement{i} ({args})"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A database whose statistics count one dentry per space: an org of
/// 3,000 spaces holding one folder each (`f<i>` in space `s<i>`), analyzed.
async fn org_of_many_small_spaces() -> TestDatabase {
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    space_with_quota(&store, None).await;
    execute(
        &database.url,
        "INSERT INTO spaces (space_id, corp_id, app_id, scene, scene_id, owner_type, owner_id, \
         creator_id, modifier_id, status, can_search, can_rename, can_record_recent_file, \
         created_at, modified_at) \
         SELECT 's' || i, corp_id, app_id, scene, 's' || i, owner_type, owner_id, creator_id, \
         modifier_id, status, can_search, can_rename, can_record_recent_file, created_at, \
         modified_at FROM spaces, generate_series(1, 3000) AS i WHERE space_id = '1'; \
         INSERT INTO dentries (dentry_id, uuid, space_id, parent_id, kind, name, size, version, \
         status, blob_key, creator_id, modifier_id, created_at, modified_at) \
         SELECT 'f' || i, 'uf' || i, 's' || i, '0', 'FOLDER', 'folder ' || i, 0, 1, 'NORMAL', \
         NULL, 'u', 'u', i, i FROM generate_series(1, 3000) AS i; \
         ANALYZE spaces; ANALYZE dentries",
    )
    .await;
    database
}

/// Arguments for a statement of `lookup_by_id_statements` of parameter
/// types `types`: ids that name nothing.
fn lookup_args(types: &str) -> String {
    let arg = |t| match t {
        "bigint" => "10000",
        "text[]" => "'{f1,f2}'",
        "bigint[]" => "'{1,2}'",
        _ => "'s1'",
    };
    types.split(", ").map(arg).collect::<Vec<_>>().join(", ")
}

/// Every lookup of dentries by id reaches them through the primary key,
/// with a generic plan on statistics that count about one row per space
/// (an org of many small spaces). As plain conditions (`space_id = $1 AND
/// dentry_id = $2`), the planner took `dentries_all_by_modified`, led by
/// `space_id`, at the same estimated cost, and so read a large space entry
/// by entry: 2–3 ms per lookup in a space of 40,000 entries, every rename
/// and move of that space five times slower.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lookups_by_id_take_the_primary_key_in_an_org_of_many_small_spaces() {
    let database = org_of_many_small_spaces().await;
    let client = generic_plans(&database).await;
    let statements = orgdrive_postgres::lookup_by_id_statements();
    for (i, (name, sql, types)) in statements.into_iter().enumerate() {
        let plan = plan_of(&client, i, sql, types, &lookup_args(types)).await;
        // An index of dentries other than the primary key never gets the id.
        let wrong = plan.windows(2).any(|pair| {
            let index =
                pair[0].contains("using dentries_") || pair[0].contains("Scan on dentries_");
            index
                && !pair[0].contains("dentries_pkey")
                && pair[1].contains("Index Cond:")
                && pair[1].contains("(dentry_id =")
        });
        let plan = plan.join("\n");
        // Nor is the table scanned (the writes over a batch's rows join
        // their `UPDATE` to the rows: by the primary key too).
        let scanned = plan.contains("Seq Scan on dentries");
        assert!(!wrong && !scanned && plan.contains("dentries_pkey"), "{name}:\n{plan}");
    }
}

/// Each attempts' statement (a batch's renames, its plain file moves)
/// updates its rows in key order of their new names (space, folder, name),
/// the order a batch of folder puts inserts in, so that the two never
/// cross on two new names: under the pool's settings (`enable_seqscan =
/// off`, as `lib.rs without_seq_scans`), the generic plan's `UPDATE` is a
/// nested loop driven by the statement's sorted rows, in a new database
/// and in an org of many small spaces.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attempts_update_their_rows_in_key_order_of_their_new_names() {
    let fresh = TestDatabase::create().await;
    space_with_quota(&node(&fresh).await, None).await;
    let many = org_of_many_small_spaces().await;
    for database in [&fresh, &many] {
        let client = generic_plans(database).await;
        client.batch_execute("SET enable_seqscan = off; SET jit = off").await.unwrap();
        let statements = orgdrive_postgres::lookup_by_id_statements();
        for (i, (name, sql, types)) in statements.into_iter().enumerate() {
            if !name.ends_with("at once") {
                continue;
            }
            let plan = plan_of(&client, i, sql, types, &lookup_args(types)).await;
            let at = plan.iter().position(|l| l.contains("Update on dentries")).unwrap();
            let driven: Vec<&str> = plan[at + 1..at + 5].iter().map(|l| l.trim()).collect();
            let sorted = driven[0].starts_with("->  Nested Loop")
                && driven[1].starts_with("->  Subquery Scan on f ")
                && driven[2].starts_with("->  Sort ")
                && driven[3].starts_with("Sort Key: f_1.space_id ");
            assert!(sorted, "{name}:\n{}", plan.join("\n"));
        }
    }
}

/// A batch of folder puts under `p` whose statement began while a tree
/// change (`change`, queued behind a holder of the space's row) waited for
/// the space: the change commits first, then the batch gets the space. The
/// batch's answer to its one put.
async fn a_batch_behind_a_change_of_its_parent(
    change: impl FnOnce(Arc<PgStore>, String) -> tokio::task::JoinHandle<()>,
) -> StoreResult<PutOutcome> {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    store.insert_space_once(&space("2", "1")).await.unwrap();
    create(&*store, folder("p", "p")).await;
    let holder =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = '1' FOR UPDATE").await;
    let changing = change(store.clone(), database.url.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let putting = putting_folders(&store, [folder_in("1", "p", "c", "child")]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    holder.batch_execute("COMMIT").await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), changing).await.unwrap().unwrap();
    let mut puts = tokio::time::timeout(Duration::from_secs(20), putting).await.unwrap().unwrap();
    assert_consistent(&*store).await;
    puts.remove(0)
}

/// A batch of folder puts whose parent was binned while it waited for the
/// space is refused, and creates no live child of the binned folder: its
/// one statement's snapshot predates the delete, and its `FOR SHARE` of
/// the parent checks the newest version (with `FOR KEY SHARE` the put was
/// answered `Created`, its child live under a deleted folder).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_of_folder_puts_never_creates_a_child_of_a_folder_binned_meanwhile() {
    let put = a_batch_behind_a_change_of_its_parent(|store, _| {
        tokio::spawn(async move {
            store.delete_dentry(&deleting("p", Some("item"))).await.unwrap();
        })
    })
    .await;
    assert!(matches!(put, Err(StoreError::ParentNotFound)), "{put:?}");
}

/// The same when the parent moved to another space meanwhile (as a move's
/// body writes it, both spaces locked `FOR UPDATE`): no child of space 1
/// under a folder of space 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_of_folder_puts_never_creates_a_child_of_a_folder_moved_away_meanwhile() {
    let put = a_batch_behind_a_change_of_its_parent(|_, url| {
        tokio::spawn(async move {
            execute(
                &url,
                "BEGIN; \
                 SELECT 1 FROM spaces WHERE space_id IN ('1', '2') ORDER BY space_id FOR UPDATE; \
                 UPDATE dentries SET space_id = '2' WHERE dentry_id = 'p'; COMMIT",
            )
            .await;
        })
    })
    .await;
    assert!(matches!(put, Err(StoreError::ParentNotFound)), "{put:?}");
}

/// Uploads opened and committed at once in four spaces of one app and one
/// org, from two nodes: the batches of combined writes and the writes
/// alone take their locks in one order (spaces, then orgs; app rows only
/// outside batches), so PostgreSQL finds no deadlock. (Opening an upload
/// as a combined write took the app's row inside batches holding spaces:
/// dozens of deadlocks in this test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_in_several_spaces_of_one_org_never_deadlock() {
    let database = TestDatabase::create().await;
    let (first, second) = (node(&database).await, node(&database).await);
    first.insert_org(&org("c", Some(1 << 40))).await.unwrap();
    first.insert_app(&app("a", "c", "k")).await.unwrap();
    for space_id in ["1", "2", "3", "4"] {
        first.insert_space_once(&space(space_id, space_id)).await.unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..48 {
        let s = if i % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            let space_id = ["1", "2", "3", "4"][i % 4].to_string();
            let open = |round: usize| {
                let (s, space_id) = (s.clone(), space_id.clone());
                async move {
                    let key = format!("k{i}-{round}");
                    let opened = UploadRecord { space_id, ..upload(&key) };
                    s.insert_upload(&opened, &LIMITS).await?;
                    s.reserve_upload_bytes(&key, 0, Reserve::Exactly(10), 5).await?;
                    s.record_upload_part(&key, &part(0, 10, &format!("objects/{key}")), 10).await?;
                    Ok::<(), StoreError>(())
                }
            };
            let commit = |round: usize| {
                let (s, space_id) = (s.clone(), space_id.clone());
                async move {
                    let key = format!("k{i}-{round}");
                    let dentry = DentryRecord {
                        space_id,
                        ..file(&format!("{i}-{round}"), &format!("f{i}-{round}"), 10)
                    };
                    let mut commit = put(dentry, NameConflict::Fail, Some(&key));
                    commit.upload_objects = vec![format!("objects/{key}")];
                    s.put_dentry(&commit).await.map(|_| ())
                }
            };
            // Each round opens the next upload while committing this one.
            open(0).await?;
            for round in 0..6 {
                let (opened, committed) = tokio::join!(open(round + 1), commit(round));
                opened?;
                committed?;
            }
            commit(6).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(first.org_used_bytes("c").await.unwrap(), 48 * 7 * 10);
    // A backend reports its statistics when it ends: close both pools.
    first.close().await;
    second.close().await;
    assert_eq!(deadlocks_of(&database.url).await, ["0"]);
}

/// The deadlocks of a test's database, once every connection to it but
/// this one's has ended.
async fn deadlocks_of(url: &str) -> Vec<String> {
    let mut deadlocks = Vec::new();
    for _ in 0..50 {
        deadlocks = rows(
            url,
            "SELECT deadlocks::text FROM pg_stat_database WHERE datname = current_database() \
             AND numbackends = 1",
        )
        .await;
        if !deadlocks.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    deadlocks
}

/// Two nodes writing batches of the same new folder names in opposite
/// orders: each batch inserts in key order, so neither waits for the other
/// in a circle; each name is created once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_of_the_same_new_names_in_opposite_orders_never_deadlock() {
    let database = TestDatabase::create().await;
    let (first, second) = (node(&database).await, node(&database).await);
    space_with_quota(&first, None).await;
    let batch = |node: &str, names: Vec<usize>| -> Vec<PutDentry> {
        names
            .into_iter()
            .map(|n| put(folder(&format!("{node}{n}"), &format!("n{n}")), NameConflict::Fail, None))
            .collect()
    };
    let forward = batch("a", (0..1000).collect());
    let backward = batch("b", (0..1000).rev().collect());
    let (a, b) = tokio::join!(first.put_dentries(&forward), second.put_dentries(&backward));
    let created = a.iter().chain(&b).filter(|o| matches!(o, Ok(PutOutcome::Created(_)))).count();
    let taken = a.iter().chain(&b).filter(|o| matches!(o, Err(StoreError::NameTaken(_)))).count();
    assert_eq!((created, taken), (1000, 1000));
    first.close().await;
    second.close().await;
    assert_eq!(deadlocks_of(&database.url).await, ["0"]);
}

/// A space whose row another transaction holds (here as a long tree
/// change holds it, `FOR UPDATE`) holds up its own writes only: folder
/// puts, renames and plain file moves of other spaces, queued at the same
/// time (so sharing batches with the held space's), are written meanwhile;
/// the held space's wait for its row, then are written. Twice: the second
/// time, the held space's writes join its own queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_space_whose_row_is_held_holds_up_no_other_space() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    let spaces: Vec<String> =
        ["1".to_string()].into_iter().chain((0..16).map(|i| format!("s{i}"))).collect();
    for id in &spaces[1..] {
        store.insert_space_once(&space(id, id)).await.unwrap();
    }
    for id in &spaces {
        for wave in 0..2 {
            let in_space = |d: DentryRecord| DentryRecord { space_id: id.clone(), ..d };
            create(&*store, in_space(file(&format!("r{wave}-{id}"), &format!("r{wave}"), 0))).await;
            create(&*store, in_space(file(&format!("m{wave}-{id}"), &format!("m{wave}"), 0))).await;
        }
        let to = DentryRecord { space_id: id.clone(), ..folder(&format!("o-{id}"), "o") };
        create(&*store, to).await;
    }
    let holder =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = '1' FOR UPDATE").await;
    type Written = tokio::task::JoinHandle<String>;
    let writes_of = |id: &str, wave: u32| -> Vec<Written> {
        let (id, store) = (id.to_string(), store.clone());
        let put_folder = {
            let (id, store) = (id.clone(), store.clone());
            async move {
                let folder =
                    DentryRecord { space_id: id.clone(), ..folder(&format!("d{wave}-{id}"), "x") };
                let name = format!("x{wave}");
                match store
                    .put_dentry(&put(DentryRecord { name, ..folder }, NameConflict::Fail, None))
                    .await
                {
                    Ok(PutOutcome::Created(d)) => d.name,
                    other => panic!("put in {id}: {other:?}"),
                }
            }
        };
        let rename = {
            let (id, store) = (id.clone(), store.clone());
            async move {
                let renaming = RenameDentry {
                    space_id: id.clone(),
                    ..rename(&format!("r{wave}-{id}"), &format!("renamed{wave}"))
                };
                store.rename_dentry(&renaming).await.unwrap().name
            }
        };
        let plain_move = async move {
            let into = to(&id, &format!("o-{id}"), NameConflict::Fail);
            let moving =
                MoveDentry { space_id: id.clone(), ..moving(&format!("m{wave}-{id}"), into) };
            // Declined (its batch met a held space), it takes the checked
            // way, as a request does.
            let placed = match store.move_plain_file(&moving).await.unwrap() {
                Some(placed) => placed,
                None => store.move_dentry(&moving, ids()).await.unwrap(),
            };
            placed.dentry.parent_id
        };
        vec![tokio::spawn(put_folder), tokio::spawn(rename), tokio::spawn(plain_move)]
    };
    let mut held = Vec::new();
    for wave in 0..2 {
        let mut free = Vec::new();
        for id in &spaces {
            let writes = writes_of(id, wave);
            match id.as_str() {
                "1" => held.push(writes),
                _ => free.push((id.clone(), writes)),
            }
        }
        for (id, writes) in free {
            let answers = tokio::time::timeout(Duration::from_secs(20), join_all(writes))
                .await
                .unwrap_or_else(|_| panic!("{id}'s writes held up by space 1's row"));
            let answers: Vec<String> = answers.into_iter().map(Result::unwrap).collect();
            assert_eq!(answers, [format!("x{wave}"), format!("renamed{wave}"), format!("o-{id}")]);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(held.iter().flatten().all(|w| !w.is_finished()), "space 1's writes wait");
    }
    holder.batch_execute("COMMIT").await.unwrap();
    for (wave, writes) in held.into_iter().enumerate() {
        let answers = tokio::time::timeout(Duration::from_secs(20), join_all(writes)).await;
        let answers: Vec<String> =
            answers.expect("written").into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, [format!("x{wave}"), format!("renamed{wave}"), "o-1".to_string()]);
    }
    let moved =
        rows(&database.url, "SELECT name FROM dentries WHERE parent_id = 'o-1' ORDER BY name");
    assert_eq!(moved.await, ["m0", "m1"]);
    assert_consistent(&*store).await;
}

/// A connection of its own in a transaction that ran `sql`: the rows it
/// locked stay held until the transaction ends.
async fn holding(url: &str, sql: &str) -> deadpool_postgres::Object {
    let holder = pool(url).get().await.unwrap();
    holder.batch_execute(&format!("BEGIN; {sql}")).await.unwrap();
    holder
}

/// The shard (of 4) a node queues the writes of space `key` on, as
/// `combine.rs` computes it.
fn shard_of(key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish() % 4
}

/// Twenty spaces held at once, a folder put queued in each: their writes
/// wait on a few connections (as many as the node has shards), not one
/// each, so the pool is left to the other spaces' reads and writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spaces_held_at_once_wait_on_a_few_connections_and_leave_the_pool_to_others() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    store.insert_space_once(&space("free", "free")).await.unwrap();
    for i in 0..20 {
        store.insert_space_once(&space(&format!("h{i}"), &format!("h{i}"))).await.unwrap();
    }
    let hold = "SELECT 1 FROM spaces WHERE space_id LIKE 'h%' FOR UPDATE";
    let holder = holding(&database.url, hold).await;
    let held: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let d = DentryRecord { space_id: format!("h{i}"), ..folder(&format!("d{i}"), "x") };
                store.put_dentry(&put(d, NameConflict::Fail, None)).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let waiting = rows(
        &database.url,
        "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock'",
    );
    let waiting: u32 = waiting.await[0].parse().unwrap();
    assert!(waiting <= 4, "{waiting} connections waiting: at most one a shard");
    let free = async {
        store.get_dentry("free", "nothing").await.unwrap();
        let d = DentryRecord { space_id: "free".into(), ..folder("f", "f") };
        store.put_dentry(&put(d, NameConflict::Fail, None)).await.unwrap()
    };
    let answered = tokio::time::timeout(Duration::from_secs(10), free).await;
    assert!(matches!(answered, Ok(PutOutcome::Created(_))), "the free space was held up");
    holder.batch_execute("COMMIT").await.unwrap();
    for put in held {
        let answer = tokio::time::timeout(Duration::from_secs(20), put).await.unwrap().unwrap();
        assert!(matches!(answer, Ok(PutOutcome::Created(_))), "{answer:?}");
    }
}

/// A file put (which charges its org) of a held space whose org is held
/// too, as the upload sweeper or a purge holds them: the writes of another
/// org's space sharing its shard are not held up by that org.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_of_a_held_space_waits_for_no_org_in_its_shard() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    store.insert_org(&org("d", None)).await.unwrap();
    store.insert_app(&app("b", "d", "k2")).await.unwrap();
    let other = (0..1000).map(|i| format!("x{i}")).find(|x| shard_of(x) == shard_of("1")).unwrap();
    let of_org_d = SpaceRecord { corp_id: "d".into(), app_id: "b".into(), ..space(&other, &other) };
    store.insert_space_once(&of_org_d).await.unwrap();
    create(&*store, DentryRecord { space_id: other.clone(), ..file("fx", "fx", 0) }).await;
    let hold = "SELECT 1 FROM spaces WHERE space_id = '1' FOR UPDATE; \
                SELECT 1 FROM orgs WHERE corp_id = 'c' FOR NO KEY UPDATE";
    let holder = holding(&database.url, hold).await;
    let held = {
        let store = store.clone();
        tokio::spawn(async move {
            store.put_dentry(&put(file("f1", "f1", 0), NameConflict::Fail, None)).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let actor = Actor { corp_id: "d".into(), ..actor(100) };
    let renaming = RenameDentry { space_id: other.clone(), actor, ..rename("fx", "fx2") };
    let renamed = tokio::time::timeout(Duration::from_secs(10), store.rename_dentry(&renaming));
    assert_eq!(renamed.await.expect("not held up by org c").unwrap().name, "fx2");
    assert!(!held.is_finished());
    holder.batch_execute("COMMIT").await.unwrap();
    let put = tokio::time::timeout(Duration::from_secs(20), held).await.unwrap().unwrap();
    assert!(matches!(put, Ok(PutOutcome::Created(_))), "{put:?}");
}

/// Spaces `a` and `b` beside space 1, and files `fa` and `ga` in `a`.
async fn spaces_a_and_b(store: &PgStore) {
    for id in ["a", "b"] {
        store.insert_space_once(&space(id, id)).await.unwrap();
    }
    create(store, DentryRecord { space_id: "a".into(), ..file("fa", "fa", 0) }).await;
    create(store, DentryRecord { space_id: "a".into(), ..file("ga", "ga", 0) }).await;
}

/// Moves `fa` (of [`spaces_a_and_b`]) to the root of space `b`, in a task
/// of its own: the space it lands in.
fn move_fa_into_b(store: &Arc<PgStore>) -> tokio::task::JoinHandle<StoreResult<String>> {
    let store = store.clone();
    tokio::spawn(async move {
        let into_b = to("b", "0", NameConflict::Fail);
        let request = MoveDentry { space_id: "a".into(), ..moving("fa", into_b) };
        store.move_dentry(&request, ids()).await.map(|placed| placed.dentry.space_id)
    })
}

/// Renames `ga` of space `a` to `ga2`, which must be written within
/// `limit` (space `b`, held, must not hold it up).
async fn rename_ga_within(store: &PgStore, limit: Duration) {
    let renaming = RenameDentry { space_id: "a".into(), ..rename("ga", "ga2") };
    let renamed = tokio::time::timeout(limit, store.rename_dentry(&renaming));
    assert_eq!(renamed.await.expect("not held up by space b").unwrap().name, "ga2");
}

/// A move into a held space waits for that space, not with its source
/// space's writes: a rename in the source space is written meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_move_into_a_held_space_holds_up_no_write_of_its_source() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    spaces_a_and_b(&store).await;
    let holder =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = 'b' FOR UPDATE").await;
    let mover = move_fa_into_b(&store);
    tokio::time::sleep(Duration::from_millis(300)).await;
    rename_ga_within(&store, Duration::from_secs(10)).await;
    assert!(!mover.is_finished());
    holder.batch_execute("COMMIT").await.unwrap();
    let moved = tokio::time::timeout(Duration::from_secs(20), mover).await.unwrap().unwrap();
    assert_eq!(moved.unwrap(), "b");
}

/// Four spaces held long, a folder put queued on each: their workers take
/// the 4 permits. Space `t` is held for 300 ms only; its put, and a put
/// sent once `t` is free again, do not wait for L0..L3 (their workers let
/// their permits go in turn).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_briefly_held_space_waits_for_no_space_held_long() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    for id in ["L0", "L1", "L2", "L3", "t"] {
        store.insert_space_once(&space(id, id)).await.unwrap();
    }
    let long =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id LIKE 'L%' FOR UPDATE").await;
    let put_in = |id: &str, d: &str| {
        let (store, id, d) = (store.clone(), id.to_string(), d.to_string());
        tokio::spawn(async move {
            let dentry = DentryRecord { space_id: id.clone(), ..folder(&d, &d) };
            store.put_dentry(&put(dentry, NameConflict::Fail, None)).await
        })
    };
    let long_puts: Vec<_> = (0..4).map(|i| put_in(&format!("L{i}"), &format!("dl{i}"))).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let brief =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = 't' FOR UPDATE").await;
    let p1 = put_in("t", "t1");
    tokio::time::sleep(Duration::from_millis(300)).await;
    brief.batch_execute("COMMIT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let p2 = put_in("t", "t2");
    let r2 = tokio::time::timeout(Duration::from_secs(5), p2).await;
    let r1 = tokio::time::timeout(Duration::from_secs(1), p1).await;
    let (ok1, ok2) = (r1.is_ok(), r2.is_ok());
    long.batch_execute("COMMIT").await.unwrap();
    for p in long_puts {
        let answer = tokio::time::timeout(Duration::from_secs(20), p).await.unwrap().unwrap();
        assert!(matches!(answer, Ok(PutOutcome::Created(_))), "{answer:?}");
    }
    assert!(ok1 && ok2, "space t (free) waited for L0..L3");
}

/// Plain file moves (attempt only) of a free space A batched with one of a
/// held space X (same shard), the permits taken by long-held spaces: A's
/// moves (declined by the failed `NOWAIT`, not sent to a queue of their
/// own) are answered without waiting for those.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plain_moves_of_a_free_space_batched_with_a_held_one_wait_for_no_held_space() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    let a = (0..1000).map(|i| format!("a{i}")).find(|x| shard_of(x) == shard_of("X")).unwrap();
    let b = (0..1000).map(|i| format!("b{i}")).find(|x| shard_of(x) == shard_of("X")).unwrap();
    for id in ["L0", "L1", "L2", "L3", "X", a.as_str(), b.as_str()] {
        store.insert_space_once(&space(id, id)).await.unwrap();
    }
    for i in 0..4 {
        create(
            &*store,
            DentryRecord { space_id: format!("L{i}"), ..file(&format!("fl{i}"), "f", 0) },
        )
        .await;
    }
    create(&*store, DentryRecord { space_id: "X".into(), ..file("fx", "fx", 0) }).await;
    create(&*store, DentryRecord { space_id: "X".into(), ..folder("ox", "ox") }).await;
    create(&*store, DentryRecord { space_id: a.clone(), ..folder("oa", "oa") }).await;
    for j in 0..30 {
        create(
            &*store,
            DentryRecord { space_id: a.clone(), ..file(&format!("fa{j}"), &format!("fa{j}"), 0) },
        )
        .await;
    }
    let long =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id LIKE 'L%' FOR UPDATE").await;
    let renames: Vec<_> = (0..4)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let r =
                    RenameDentry { space_id: format!("L{i}"), ..rename(&format!("fl{i}"), "g") };
                store.rename_dentry(&r).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let x_holder =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = 'X' FOR UPDATE").await;
    let mv = |space: &str, id: &str, into: &str| {
        let (store, space, id, into) =
            (store.clone(), space.to_string(), id.to_string(), into.to_string());
        tokio::spawn(async move {
            let m = MoveDentry {
                space_id: space.clone(),
                ..moving(&id, to(&space, &into, NameConflict::Fail))
            };
            store.move_plain_file(&m).await
        })
    };
    // Keep the shard busy (a file put of space B, same shard, waits for
    // its org) so that X's move and A's moves are taken in one batch.
    let org =
        holding(&database.url, "SELECT 1 FROM orgs WHERE corp_id = 'c' FOR NO KEY UPDATE").await;
    let blocker = {
        let store = store.clone();
        let b = b.clone();
        tokio::spawn(async move {
            let d = DentryRecord { space_id: b.clone(), ..file("fb", "fb", 0) };
            store.put_dentry(&put(d, NameConflict::Fail, None)).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let x_move = mv("X", "fx", "ox");
    let a_moves: Vec<_> = (0..30).map(|j| mv(&a, &format!("fa{j}"), "oa")).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    org.batch_execute("COMMIT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    x_holder.batch_execute("COMMIT").await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stuck = a_moves.iter().filter(|m| !m.is_finished()).count();
    long.batch_execute("COMMIT").await.unwrap();
    for r in renames {
        tokio::time::timeout(Duration::from_secs(20), r).await.unwrap().unwrap().unwrap();
    }
    for m in a_moves {
        let placed = tokio::time::timeout(Duration::from_secs(20), m).await.unwrap().unwrap();
        assert!(placed.unwrap().is_some(), "a move of a free space declined");
    }
    tokio::time::timeout(Duration::from_secs(20), x_move).await.unwrap().unwrap().unwrap();
    let put = tokio::time::timeout(Duration::from_secs(20), blocker).await.unwrap().unwrap();
    assert!(matches!(put, Ok(PutOutcome::Created(_))), "{put:?}");
    assert_eq!(stuck, 0, "moves of never-held space {a} waited for L0..L3");
}

/// A move from a space held briefly into a space held long: once the
/// first is free, its other writes are not held up behind the move (which
/// goes to the long-held space's queue, letting the first one's row go),
/// and the move is applied once the second is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_move_from_a_briefly_held_space_into_one_held_long_holds_up_no_write_of_its_source() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    spaces_a_and_b(&store).await;
    let long = holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = 'b' FOR UPDATE").await;
    let brief =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = 'a' FOR UPDATE").await;
    let mover = move_fa_into_b(&store);
    tokio::time::sleep(Duration::from_millis(300)).await;
    brief.batch_execute("COMMIT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    rename_ga_within(&store, Duration::from_secs(5)).await;
    assert!(!mover.is_finished());
    long.batch_execute("COMMIT").await.unwrap();
    let moved = tokio::time::timeout(Duration::from_secs(20), mover).await.unwrap().unwrap();
    assert_eq!(moved.unwrap(), "b");
}

/// A batch's renames and file moves, and its file puts, lock their space
/// `FOR NO KEY UPDATE`: a transaction holding the row `FOR KEY SHARE` (a
/// batch of folder puts, a grant write) holds up none of them, while one
/// holding it `FOR UPDATE` (a tree change) still does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renames_file_moves_and_file_puts_wait_for_no_folder_put_of_their_space() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    create(&*store, file("f", "f.txt", 0)).await;
    create(&*store, file("m", "m.txt", 0)).await;
    create(&*store, folder("o", "o")).await;
    let puts =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = '1' FOR KEY SHARE").await;
    let renaming = rename("f", "g.txt");
    let renamed = tokio::time::timeout(Duration::from_secs(5), store.rename_dentry(&renaming));
    assert_eq!(renamed.await.expect("not held up by a put").unwrap().name, "g.txt");
    let into = moving("m", to("1", "o", NameConflict::Fail));
    let moved = tokio::time::timeout(Duration::from_secs(5), store.move_plain_file(&into));
    let moved = moved.await.expect("not held up by a put").unwrap();
    assert_eq!(moved.expect("a plain file move").dentry.parent_id, "o");
    let file_put = put(file("p", "p.txt", 0), NameConflict::Fail, None);
    let put_file = tokio::time::timeout(Duration::from_secs(5), store.put_dentry(&file_put));
    let put_file = put_file.await.expect("not held up by a put").unwrap();
    assert!(matches!(put_file, PutOutcome::Created(_)), "{put_file:?}");
    puts.batch_execute("COMMIT").await.unwrap();

    let tree = holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = '1' FOR UPDATE").await;
    let renaming = {
        let store = store.clone();
        tokio::spawn(async move { store.rename_dentry(&rename("f", "f.txt")).await })
    };
    let putting = {
        let store = store.clone();
        let file_put = put(file("q", "q.txt", 0), NameConflict::Fail, None);
        tokio::spawn(async move { store.put_dentry(&file_put).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!renaming.is_finished(), "a rename waits for a tree change of its space");
    assert!(!putting.is_finished(), "a file put waits for a tree change of its space");
    tree.batch_execute("COMMIT").await.unwrap();
    let renamed = tokio::time::timeout(Duration::from_secs(20), renaming).await.unwrap().unwrap();
    assert_eq!(renamed.unwrap().name, "f.txt");
    let put_file = tokio::time::timeout(Duration::from_secs(20), putting).await.unwrap().unwrap();
    assert!(matches!(put_file, Ok(PutOutcome::Created(_))), "{put_file:?}");
    assert_consistent(&*store).await;
}

/// Folder puts and renames racing for the same names in one folder, in
/// batches that no longer keep out one another: each name is taken once,
/// by one of them, and the others are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_folder_puts_and_renames_of_one_name_take_it_once() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    for round in 0..3 {
        let names: Vec<String> = (0..24).map(|i| format!("n{round}{i:02}")).collect();
        for i in 0..24 {
            create(&*store, file(&format!("f{round}{i:02}"), &format!("a{round}{i:02}"), 0)).await;
        }
        let mut racing = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let (store, name) = (store.clone(), name.clone());
            let put_it = {
                let (store, name) = (store.clone(), name.clone());
                let d = folder(&format!("d{round}{i:02}"), &name);
                async move { store.put_dentry(&put(d, NameConflict::Fail, None)).await.is_ok() }
            };
            let rename_to = async move {
                let renaming = rename(&format!("f{round}{i:02}"), &name);
                store.rename_dentry(&renaming).await.is_ok()
            };
            racing.push((tokio::spawn(put_it), tokio::spawn(rename_to)));
        }
        for (name, (put_it, rename_to)) in names.iter().zip(racing) {
            let (put, renamed) = (put_it.await.unwrap(), rename_to.await.unwrap());
            assert!(put != renamed, "{name}: taken by exactly one (put {put}, rename {renamed})");
        }
        let sql = format!(
            "SELECT name FROM dentries WHERE space_id = '1' AND parent_id = '0' \
             AND status = 'NORMAL' AND name LIKE 'n{round}%' ORDER BY name"
        );
        assert_eq!(rows(&database.url, &sql).await, names);
    }
    assert_consistent(&*store).await;
}

/// A node on `database` with space 1 and its file `f`, locked for WOPI
/// saves with lock `L`.
async fn node_with_f_locked_for_wopi(database: &TestDatabase) -> Arc<PgStore> {
    let store = Arc::new(node(database).await);
    space_with_quota(&*store, None).await;
    create(&*store, file("f", "f0", 0)).await;
    let lock = LockChange::Lock { lock_id: "L".into() };
    store.change_wopi_lock("1", "f", &lock, 1, 1_000_000).await.unwrap();
    store
}

/// The WOPI save `save` (lock `L`), in a task of its own.
fn saving_in_task(
    store: &Arc<PgStore>,
    save: PutDentry,
) -> tokio::task::JoinHandle<StoreResult<WopiPut>> {
    let store = store.clone();
    tokio::spawn(async move { store.wopi_put(&save, Some("L"), 5).await })
}

/// An overwrite of file `f` by a WOPI save with lock `L` (the file locked
/// so, an upload of 5 bytes recorded under key `key`).
async fn wopi_save_of_f(store: &PgStore, key: &str) -> PutDentry {
    store.insert_upload(&upload(key), &LIMITS).await.unwrap();
    let object = format!("objects/{key}");
    put_part(store, key, 0, 5, &object).await;
    let mut new = file(key, "ignored", 5);
    new.blob_key = Some(object.clone());
    PutDentry {
        overwrite_dentry_id: Some("f".into()),
        upload_objects: vec![object],
        ..put(new, NameConflict::Overwrite, Some(key))
    }
}

/// A file put alone (here a WOPI save) locks its space `FOR NO KEY UPDATE`
/// before its file, as it will update the space's row later (its bytes, the
/// kept version's counter): while a batch of renames holds the space so,
/// the save holds no file. (Locking the space `FOR KEY SHARE` first, the
/// save locked its file, then waited for the space's row, while a rename of
/// that file waited for the file: a deadlock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_put_alone_locks_its_space_before_its_file() {
    let database = TestDatabase::create().await;
    let store = node_with_f_locked_for_wopi(&database).await;
    let save = wopi_save_of_f(&store, "k").await;
    let renames =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = '1' FOR NO KEY UPDATE").await;
    let saving = saving_in_task(&store, save);
    tokio::time::sleep(Duration::from_millis(300)).await;
    renames
        .batch_execute("SELECT 1 FROM dentries WHERE dentry_id = 'f' FOR UPDATE NOWAIT")
        .await
        .expect("the save holds no file while it waits for its space");
    assert!(!saving.is_finished());
    renames.batch_execute("COMMIT").await.unwrap();
    let saved = tokio::time::timeout(Duration::from_secs(20), saving).await.unwrap().unwrap();
    assert!(matches!(saved, Ok(WopiPut::Stored(_))), "{saved:?}");
    assert_consistent(&*store).await;
}

/// WOPI saves over a file racing renames of it, a pair at a time: no
/// deadlock, each answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wopi_saves_racing_renames_of_their_file_never_deadlock() {
    let database = TestDatabase::create().await;
    let store = node_with_f_locked_for_wopi(&database).await;
    for round in 0..100 {
        let save = wopi_save_of_f(&store, &format!("k{round}")).await;
        let name = format!("f{}", (round + 1) % 10);
        let renaming = rename("f", &name);
        let (saved, renamed) =
            tokio::join!(store.wopi_put(&save, Some("L"), 5), store.rename_dentry(&renaming));
        assert!(matches!(saved, Ok(WopiPut::Stored(_))), "{saved:?}");
        assert_eq!(renamed.unwrap().name, name);
    }
    assert_consistent(&*store).await;
    Arc::into_inner(store).unwrap().close().await;
    assert_eq!(deadlocks_of(&database.url).await, ["0"]);
}

/// A grant written on a file while a batch's plain move of it runs (the
/// move's statement held up a moment by the file's row, as behind a
/// PROPPATCH): grant writes lock the space `FOR SHARE`, which waits for the
/// move, so the grant is numbered after the move that did not drop it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_grant_written_during_a_plain_move_of_its_file_is_numbered_after_it() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    create(&*store, file("m", "m.txt", 0)).await;
    create(&*store, folder("o", "o")).await;
    let proppatch =
        holding(&database.url, "SELECT 1 FROM dentries WHERE dentry_id = 'm' FOR NO KEY UPDATE")
            .await;
    let moving_it = {
        let store = store.clone();
        tokio::spawn(async move {
            let m =
                MoveDentry { keep_grants: false, ..moving("m", to("1", "o", NameConflict::Fail)) };
            store.move_plain_file(&m).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let write = WriteGrants {
        space_id: "1".into(),
        dentry_id: "m".into(),
        mode: GrantWrite::Add,
        grants: vec![grant("1", "m", "USER", "v", "EDITOR")],
        protect_owner_grants: false,
    };
    let granting = {
        let store = store.clone();
        tokio::spawn(async move { store.write_grants(&write).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A subscriber polls meanwhile: what has committed is numbered.
    store.last_event_seq().await.unwrap();
    proppatch.batch_execute("COMMIT").await.unwrap();
    granting.await.unwrap().unwrap();
    let moved = moving_it.await.unwrap().unwrap();
    assert_eq!(moved.expect("a plain file move").dentry.parent_id, "o");
    store.last_event_seq().await.unwrap();
    let log = rows(
        &database.url,
        "SELECT event_type FROM events WHERE dentry_id = 'm' AND seq IS NOT NULL ORDER BY seq",
    )
    .await;
    assert_eq!(
        log,
        ["storage_dentry_created", "storage_dentry_moved", "storage_permission_changed"]
    );
    let grants = rows(&database.url, "SELECT member_id FROM grants WHERE dentry_id = 'm'").await;
    assert_eq!(grants, ["v"]);
}

/// `renames` as one statement of a batch's attempts, in a task of its own.
fn renaming_at_once<const N: usize>(
    store: &Arc<PgStore>,
    renames: [RenameDentry; N],
) -> tokio::task::JoinHandle<StoreResult<Vec<Option<DentryRecord>>>> {
    let store = store.clone();
    tokio::spawn(async move { store.renames_at_once(&renames).await })
}

/// `folders` put (`NameConflict::Fail`) as one batch of folder puts, in a
/// task of its own.
fn putting_folders<const N: usize>(
    store: &Arc<PgStore>,
    folders: [DentryRecord; N],
) -> tokio::task::JoinHandle<Vec<StoreResult<PutOutcome>>> {
    let store = store.clone();
    let puts: Vec<PutDentry> = folders.map(|d| put(d, NameConflict::Fail, None)).into();
    tokio::spawn(async move { store.put_dentries(&puts).await })
}

/// The live dentry named `name` in folder `parent` (none or one).
async fn live_owner(url: &str, parent: &str, name: &str) -> Vec<String> {
    let sql = format!(
        "SELECT dentry_id FROM dentries WHERE parent_id = '{parent}' AND name = '{name}' \
         AND status = 'NORMAL'"
    );
    rows(url, &sql).await
}

/// A batch of folder puts (its parent `p` locked `FOR SHARE`, then inserts
/// in key order) and a batch of renames (one statement) that renames a
/// file of `p` to a name the puts insert, then `p` itself: each waits for
/// the other, and PostgreSQL ends one of them (a deadlock `shared_tx.rs`
/// does not rule out). Whichever it ends, every write is answered as alone
/// and name `x` has one owner. Made deterministic by a transaction that
/// inserts the puts' first name for a moment (the put batch waits there,
/// its parent locked).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renames_crossing_a_batch_of_folder_puts_leave_each_name_one_owner() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    create(&*store, folder("zz", "zz")).await;
    create(&*store, folder_in("1", "zz", "p", "pp")).await;
    create(&*store, under("p", file("f", "fx", 0))).await;
    let first_name = holding(
        &database.url,
        "INSERT INTO dentries (dentry_id, uuid, space_id, parent_id, kind, name, size, version, \
         status, blob_key, creator_id, modifier_id, created_at, modified_at) VALUES \
         ('h', 'uh', '1', 'p', 'FOLDER', 'a', 0, 1, 'NORMAL', NULL, 'u', 'u', 1, 1)",
    )
    .await;
    let putting =
        putting_folders(&store, [folder_in("1", "p", "da", "a"), folder_in("1", "p", "dx", "x")]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let renaming = renaming_at_once(&store, [rename("f", "x"), rename("p", "q")]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    first_name.batch_execute("ROLLBACK").await.unwrap();
    let renamed = tokio::time::timeout(Duration::from_secs(20), renaming).await.unwrap().unwrap();
    let puts = tokio::time::timeout(Duration::from_secs(20), putting).await.unwrap().unwrap();
    assert!(matches!(puts[0], Ok(PutOutcome::Created(_))), "{:?}", puts[0]);
    let owner = live_owner(&database.url, "p", "x").await;
    match (&puts[1], &renamed) {
        (Ok(PutOutcome::Created(_)), _) => assert_eq!(owner, ["dx"], "{renamed:?}"),
        (Err(StoreError::NameTaken(_)), Ok(_)) => assert_eq!(owner, ["f"]),
        other => panic!("{other:?}"),
    }
    assert_consistent(&*store).await;
}

/// A batch's attempts (`attempts`, in a task) giving file `f1` name `zz`
/// then file `f2` name `yy` in the root (the files named `names` in folder
/// `files_in`), and a batch of folder puts taking the same two names, while
/// a PROPPATCH holds `f2` (the attempts' first in key order) a moment,
/// which widens the window. Both take new names in key order (space,
/// folder, name), so they never wait for each other in a circle (they did
/// while attempts took them in the statement's order): the puts take both
/// names, the attempts' statement is refused, and PostgreSQL ended no one.
async fn attempts_and_folder_puts_crossing_on_two_names_never_deadlock(
    files_in: &str,
    names: [&str; 2],
    attempts: impl FnOnce(&Arc<PgStore>) -> tokio::task::JoinHandle<StoreResult<()>>,
) {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    if files_in != "0" {
        create(&*store, folder(files_in, files_in)).await;
    }
    create(&*store, under(files_in, file("f1", names[0], 0))).await;
    create(&*store, under(files_in, file("f2", names[1], 0))).await;
    let proppatch =
        holding(&database.url, "SELECT 1 FROM dentries WHERE dentry_id = 'f2' FOR NO KEY UPDATE")
            .await;
    let attempting = attempts(&store);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let putting = putting_folders(&store, [folder("dy", "yy"), folder("dz", "zz")]);
    let puts = tokio::time::timeout(Duration::from_secs(20), putting).await.unwrap().unwrap();
    assert!(puts.iter().all(|p| matches!(p, Ok(PutOutcome::Created(_)))), "{puts:?}");
    proppatch.batch_execute("COMMIT").await.unwrap();
    let attempted = tokio::time::timeout(Duration::from_secs(20), attempting).await.unwrap();
    assert!(attempted.unwrap().is_err(), "the attempts' statement is refused");
    assert_eq!(live_owner(&database.url, "0", "yy").await, ["dy"]);
    assert_eq!(live_owner(&database.url, "0", "zz").await, ["dz"]);
    assert_consistent(&*store).await;
    drop(proppatch);
    Arc::into_inner(store).unwrap().close().await;
    assert_eq!(deadlocks_of(&database.url).await, ["0"]);
}

/// [`attempts_and_folder_puts_crossing_on_two_names_never_deadlock`]:
/// renames of two files of the root.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renames_and_folder_puts_of_two_names_in_crossed_orders_never_deadlock() {
    attempts_and_folder_puts_crossing_on_two_names_never_deadlock("0", ["a1", "b1"], |store| {
        let store = store.clone();
        tokio::spawn(async move {
            store.renames_at_once(&[rename("f1", "zz"), rename("f2", "yy")]).await.map(drop)
        })
    })
    .await;
}

/// [`attempts_and_folder_puts_crossing_on_two_names_never_deadlock`]:
/// plain moves of two files of a folder to the root.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moves_and_folder_puts_of_two_names_in_crossed_orders_never_deadlock() {
    attempts_and_folder_puts_crossing_on_two_names_never_deadlock("o", ["zz", "yy"], |store| {
        let store = store.clone();
        let to_root = |id: &str| moving(id, to("1", "0", NameConflict::Fail));
        tokio::spawn(
            async move { store.moves_at_once(&[to_root("f1"), to_root("f2")]).await.map(drop) },
        )
    })
    .await;
}

/// A batch of renames that frees a name a batch of folder puts takes (`ra`
/// b2 → a1), then takes a name the puts took first (`rb` zz → b1, held up a
/// moment by a PROPPATCH's lock): the puts wait for the freed name until
/// the renames commit, the renames for theirs until the puts commit, and
/// PostgreSQL ends one (a deadlock key order cannot rule out, a rename
/// holding its old name and its new one: `shared_tx.rs SET_WAIT`).
/// Whichever it ends, every write is answered as alone and each name has
/// one owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renames_freeing_a_name_folder_puts_take_leave_each_name_one_owner() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    create(&*store, file("ra", "b2", 0)).await;
    create(&*store, file("rb", "zz", 0)).await;
    let proppatch =
        holding(&database.url, "SELECT 1 FROM dentries WHERE dentry_id = 'rb' FOR NO KEY UPDATE")
            .await;
    let renaming = renaming_at_once(&store, [rename("ra", "a1"), rename("rb", "b1")]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let putting = putting_folders(&store, [folder("d1", "b1"), folder("d2", "b2")]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    proppatch.batch_execute("COMMIT").await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), renaming).await.unwrap().unwrap().ok();
    let puts = tokio::time::timeout(Duration::from_secs(20), putting).await.unwrap().unwrap();
    for (put, (name, folder)) in puts.iter().zip([("b1", "d1"), ("b2", "d2")]) {
        let owner = live_owner(&database.url, "0", name).await;
        match put {
            Ok(PutOutcome::Created(_)) => assert_eq!(owner, [folder]),
            Err(StoreError::NameTaken(_)) => assert_eq!(owner.len(), 1, "{name}: {owner:?}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_consistent(&*store).await;
}

/// Renames queued in descending name order and folder puts of the same
/// names in ascending order, through the queues: each name taken once, the
/// other write refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crossing_puts_and_renames_through_the_queues_take_each_name_once() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    for round in 0..5 {
        for i in 0..24 {
            create(&*store, file(&format!("f{round}{i:02}"), &format!("a{round}{i:02}"), 0)).await;
        }
        let mut renames = Vec::new();
        for i in (0..24).rev() {
            let store = store.clone();
            renames.push(tokio::spawn(async move {
                let renaming = rename(&format!("f{round}{i:02}"), &format!("n{round}{i:02}"));
                store.rename_dentry(&renaming).await
            }));
        }
        let mut puts = Vec::new();
        for i in 0..24 {
            let store = store.clone();
            puts.push(tokio::spawn(async move {
                let d = folder(&format!("d{round}{i:02}"), &format!("n{round}{i:02}"));
                store.put_dentry(&put(d, NameConflict::Fail, None)).await
            }));
        }
        for (r, p) in renames.into_iter().rev().zip(puts) {
            match (r.await.unwrap(), p.await.unwrap()) {
                (Ok(_), Err(StoreError::NameTaken(_))) | (Err(StoreError::NameTaken(_)), Ok(_)) => {
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_consistent(&*store).await;
}

/// Every write of an upload's row (`write`, in a task: a reservation, a
/// part's record, a WOPI save, the discard of a WOPI upload) takes the
/// upload's space's row first, as a commit does (its batch holds the
/// space, then claims the upload): while a commit holds the space, the
/// write holds no upload, so the commit claims it at once, and the write
/// goes on once the space is free. (A write that took the upload first,
/// then its space, could wait for that commit in a circle.)
async fn an_upload_writer_takes_the_space_before_the_upload(
    write: impl FnOnce(Arc<PgStore>, PutDentry) -> tokio::task::JoinHandle<()>,
) {
    let database = TestDatabase::create().await;
    let store = node_with_f_locked_for_wopi(&database).await;
    let save = wopi_save_of_f(&store, "k").await;
    let commit =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = '1' FOR NO KEY UPDATE").await;
    let writing = write(store.clone(), save);
    tokio::time::sleep(Duration::from_millis(300)).await;
    commit
        .batch_execute("SELECT 1 FROM uploads WHERE upload_key = 'k' FOR UPDATE NOWAIT")
        .await
        .expect("the write holds no upload while it waits for its space");
    assert!(!writing.is_finished());
    commit.batch_execute("COMMIT").await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), writing).await.unwrap().unwrap();
    assert_consistent(&*store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reservation_takes_its_uploads_space_before_the_upload() {
    an_upload_writer_takes_the_space_before_the_upload(|store, _| {
        tokio::spawn(async move {
            store.reserve_upload_bytes("k", 1, Reserve::Exactly(3), 5).await.unwrap();
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_part_record_takes_its_uploads_space_before_the_upload() {
    an_upload_writer_takes_the_space_before_the_upload(|store, _| {
        tokio::spawn(async move {
            let recorded = store.record_upload_part("k", &part(1, 3, "objects/k1"), 0).await;
            assert!(matches!(recorded, Ok(PartRecorded::Recorded { .. })), "{recorded:?}");
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wopi_save_takes_its_space_before_its_upload() {
    an_upload_writer_takes_the_space_before_the_upload(|store, save| {
        tokio::spawn(async move {
            let saved = store.wopi_put(&save, Some("L"), 5).await;
            assert!(matches!(saved, Ok(WopiPut::Stored(_))), "{saved:?}");
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wopi_upload_discarded_takes_its_space_before_the_upload() {
    an_upload_writer_takes_the_space_before_the_upload(|store, _| {
        tokio::spawn(async move {
            let discarded = store.discard_wopi_upload("k").await.unwrap();
            assert_eq!(discarded, ["objects/k"]);
        })
    })
    .await;
}

/// The commit of file `key` (so named) from upload `key`, opened here with
/// one part of 5 bytes recorded.
async fn upload_to_commit(store: &PgStore, key: &str) -> PutDentry {
    store.insert_upload(&upload(key), &LIMITS).await.unwrap();
    let object = format!("objects/{key}");
    put_part(store, key, 0, 5, &object).await;
    let mut new = file(key, key, 5);
    new.blob_key = Some(object.clone());
    PutDentry { upload_objects: vec![object], ..put(new, NameConflict::Fail, Some(key)) }
}

/// A part recorded at exactly its reservation changes no counter: it waits
/// for no org's row (its space's only, which orders it with commits), as a
/// commit in another space of the org holds it through its flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_part_record_of_its_reservation_waits_for_no_org() {
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    space_with_quota(&store, None).await;
    store.insert_upload(&upload("k"), &LIMITS).await.unwrap();
    store.reserve_upload_bytes("k", 0, Reserve::Exactly(5), 5).await.unwrap();
    let org =
        holding(&database.url, "SELECT 1 FROM orgs WHERE corp_id = 'c' FOR NO KEY UPDATE").await;
    let first = part(0, 5, "objects/k");
    let recording = store.record_upload_part("k", &first, 5);
    let recorded = tokio::time::timeout(Duration::from_secs(2), recording).await;
    org.batch_execute("COMMIT").await.unwrap();
    let recorded = recorded.expect("a record changing no counter waits for no org");
    assert!(matches!(recorded, Ok(PartRecorded::Recorded { .. })), "{recorded:?}");
}

/// A failed PUT's release of its bytes racing the commit of its upload
/// (which gives back everything the upload held, these bytes too): the
/// release, which found the upload before the commit, releases nothing
/// again. (It read the upload unlocked, then subtracted its bytes from the
/// space's and org's counters once more: the space's reserved bytes fell
/// below the sum of its uploads'.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_racing_the_commit_of_its_upload_releases_nothing_twice() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    // Another upload holding 10 bytes: the counters stay above 0.
    store.insert_upload(&upload("other"), &LIMITS).await.unwrap();
    put_part(&*store, "other", 0, 10, "objects/other").await;
    let commit = upload_to_commit(&store, "k").await;
    // A PUT of part 1 in flight, its 3 bytes reserved; it will fail.
    store.reserve_upload_bytes("k", 1, Reserve::Exactly(3), 5).await.unwrap();
    // The org's row held a moment (as by a commit in another space): the
    // commit waits there, holding its space and its upload.
    let org =
        holding(&database.url, "SELECT 1 FROM orgs WHERE corp_id = 'c' FOR NO KEY UPDATE").await;
    let committing = {
        let store = store.clone();
        tokio::spawn(async move { store.put_dentry(&commit).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let releasing = {
        let store = store.clone();
        tokio::spawn(async move { store.release_upload_bytes("k", 3).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    org.batch_execute("COMMIT").await.unwrap();
    let committed = tokio::time::timeout(Duration::from_secs(20), committing).await.unwrap();
    assert!(matches!(committed.unwrap(), Ok(PutOutcome::Created(_))));
    let released = tokio::time::timeout(Duration::from_secs(20), releasing).await.unwrap();
    released.unwrap().unwrap();
    let reserved = rows(&database.url, "SELECT reserved_bytes::text FROM spaces").await;
    assert_eq!(reserved, ["10"], "what the other upload holds");
    assert_consistent(&*store).await;
}

/// 60 rounds of `race` (a commit of a fresh upload `key`, in
/// `upload_to_commit`, and a write racing it; the round's assertions):
/// PostgreSQL ended no one, and the counters hold.
async fn commits_racing_never_deadlock<F, Fut>(race: F)
where
    F: Fn(Arc<PgStore>, String, PutDentry) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    for round in 0..60 {
        let key = format!("k{round}");
        let commit = upload_to_commit(&store, &key).await;
        race(store.clone(), key, commit).await;
    }
    assert_consistent(&*store).await;
    Arc::into_inner(store).unwrap().close().await;
    assert_eq!(deadlocks_of(&database.url).await, ["0"]);
}

/// File commits racing a part's record of their own upload (a client still
/// PUTting through orgdrive as it commits): no deadlock; either the commit
/// finds the parts changed, or the record finds the upload gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_racing_part_records_of_their_upload_never_deadlock() {
    commits_racing_never_deadlock(|store, key, commit| async move {
        let late_part = part(1, 3, &format!("objects/{key}-1"));
        let (committed, recorded) =
            tokio::join!(store.put_dentry(&commit), store.record_upload_part(&key, &late_part, 0));
        match (committed, recorded.unwrap()) {
            (Ok(PutOutcome::Created(_)), PartRecorded::UploadGone)
            | (Err(StoreError::UploadChanged), PartRecorded::Recorded { .. }) => {}
            other => panic!("{other:?}"),
        }
    })
    .await;
}

/// The sweeper locks an expired upload's space before the upload, as a
/// commit's batch does (the space, then its claim of the upload): while a
/// commit holds the space, the sweep holds no upload, so the commit claims
/// it at once; once the space is free, the sweep takes what is left. (The
/// sweep used to take the upload first, then wait for the space: with such
/// a commit, a deadlock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweeper_takes_an_uploads_space_before_the_upload() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    store.insert_upload(&upload("k"), &LIMITS).await.unwrap();
    let commit =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = '1' FOR NO KEY UPDATE").await;
    let sweeping = {
        let store = store.clone();
        tokio::spawn(async move { store.take_expired_uploads(100, 10).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    commit
        .batch_execute("SELECT 1 FROM uploads WHERE upload_key = 'k' FOR UPDATE NOWAIT")
        .await
        .expect("the sweep holds no upload while it waits for its space");
    assert!(!sweeping.is_finished());
    commit.batch_execute("COMMIT").await.unwrap();
    let swept = tokio::time::timeout(Duration::from_secs(20), sweeping).await.unwrap().unwrap();
    let keys: Vec<String> = swept.unwrap().into_iter().map(|e| e.upload_key).collect();
    assert_eq!(keys, ["k"]);
}

/// File commits racing the sweeper for their expired upload: no deadlock;
/// each commit stores its file or finds its upload gone, never both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_racing_the_sweeper_never_deadlock() {
    commits_racing_never_deadlock(|store, key, commit| async move {
        let (committed, swept) =
            tokio::join!(store.put_dentry(&commit), store.take_expired_uploads(100, 10));
        let swept: Vec<String> = swept.unwrap().into_iter().map(|e| e.upload_key).collect();
        match committed {
            Ok(PutOutcome::Created(_)) => assert!(swept.is_empty(), "{swept:?}"),
            Err(StoreError::UploadNotFound) => assert_eq!(swept, [key]),
            other => panic!("{other:?}"),
        }
    })
    .await;
}

/// WOPI saves racing the sweeper for their expired upload: no deadlock;
/// each save stores or finds its upload gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wopi_saves_racing_the_sweeper_never_deadlock() {
    let database = TestDatabase::create().await;
    let store = node_with_f_locked_for_wopi(&database).await;
    for round in 0..60 {
        let save = wopi_save_of_f(&store, &format!("k{round}")).await;
        let (saved, swept) =
            tokio::join!(store.wopi_put(&save, Some("L"), 5), store.take_expired_uploads(100, 10));
        let stored_or_gone =
            matches!(saved, Ok(WopiPut::Stored(_)) | Err(StoreError::UploadNotFound));
        assert!(stored_or_gone, "{saved:?}");
        swept.unwrap();
    }
    Arc::into_inner(store).unwrap().close().await;
    assert_eq!(deadlocks_of(&database.url).await, ["0"]);
}

/// Every write of an upload's row at once, on two nodes, in two spaces of
/// one org, 30 rounds: in each space a commit (the batched path on one
/// node, the other's in turns), a late part's record and a reservation of
/// its upload, a reservation and a WOPI discard of a second upload; and a
/// sweep of expired uploads. Each of those writes takes the upload's space
/// before the upload (ARCHITECTURE.md, "An upload committed, recorded into
/// or swept with no deadlock"): PostgreSQL ended no one, no write failed
/// for it, and the counters hold. (A helper's review counted 133 deadlocks
/// in such rounds on the code before that rule, 0 after.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_upload_writer_of_two_spaces_on_two_nodes_never_deadlocks() {
    let database = TestDatabase::create().await;
    let (first, second) = (Arc::new(node(&database).await), Arc::new(node(&database).await));
    space_with_quota(&*first, None).await;
    first.insert_space_once(&space("2", "2")).await.unwrap();
    for round in 0..30 {
        let mut writes: Vec<tokio::task::JoinHandle<String>> = Vec::new();
        for space_id in ["1", "2"] {
            let (key, spare) = (format!("k{space_id}-{round}"), format!("x{space_id}-{round}"));
            for k in [&key, &spare] {
                let opened = UploadRecord { space_id: space_id.into(), ..upload(k) };
                first.insert_upload(&opened, &LIMITS).await.unwrap();
                put_part(&*first, k, 0, 5, &format!("objects/{k}")).await;
            }
            let node = if round % 2 == 0 { &first } else { &second };
            let mut new = DentryRecord { space_id: space_id.into(), ..file(&key, &key, 5) };
            new.blob_key = Some(format!("objects/{key}"));
            let commit = PutDentry {
                upload_objects: vec![format!("objects/{key}")],
                ..put(new, NameConflict::Fail, Some(&key))
            };
            let (n, k) = (node.clone(), key.clone());
            writes.push(tokio::spawn(async move {
                format!("commit {k}: {:?}", n.put_dentry(&commit).await.map(|_| ()))
            }));
            let (n, k) = (node.clone(), key.clone());
            writes.push(tokio::spawn(async move {
                let late = part(1, 3, &format!("objects/{k}-1"));
                format!("record {k}: {:?}", n.record_upload_part(&k, &late, 0).await)
            }));
            let (n, k) = (node.clone(), key.clone());
            writes.push(tokio::spawn(async move {
                let reserved = n.reserve_upload_bytes(&k, 2, Reserve::AtMost(4), 5).await;
                format!("reserve {k}: {reserved:?}")
            }));
            let (n, x) = (node.clone(), spare.clone());
            writes.push(tokio::spawn(async move {
                let reserved = n.reserve_upload_bytes(&x, 1, Reserve::Exactly(2), 5).await;
                format!("reserve {x}: {reserved:?}")
            }));
            let (n, x) = (node.clone(), spare);
            writes.push(tokio::spawn(async move {
                format!("discard {x}: {:?}", n.discard_wopi_upload(&x).await.map(|o| o.len()))
            }));
        }
        let n = second.clone();
        writes.push(tokio::spawn(async move {
            format!("sweep: {:?}", n.take_expired_uploads(100, 3).await.map(|e| e.len()))
        }));
        for write in writes {
            let answer =
                tokio::time::timeout(Duration::from_secs(60), write).await.unwrap().unwrap();
            assert!(!answer.contains("Backend"), "round {round}: {answer}");
        }
        while !first.take_expired_uploads(100, 50).await.unwrap().is_empty() {}
    }
    assert_consistent(&*first).await;
    Arc::into_inner(first).unwrap().close().await;
    Arc::into_inner(second).unwrap().close().await;
    assert_eq!(deadlocks_of(&database.url).await, ["0"]);
}

/// Deleting an org takes its spaces (as its foreign keys' checks do)
/// before its own row: while a tree change holds a space (and will want
/// the org's row next, to count bytes), the deletion waits holding no
/// org's row, then is refused, the org having spaces. (It deleted the
/// org's row first, then waited for the space: with such a tree change, a
/// deadlock.)
/// A tree change holding space 1 (a transaction left open), and a deletion
/// of org c started behind it.
async fn deleting_org_c_behind_a_tree_change(
    database: &TestDatabase,
    store: &Arc<PgStore>,
) -> (deadpool_postgres::Object, tokio::task::JoinHandle<StoreResult<bool>>) {
    let tree_change =
        holding(&database.url, "SELECT 1 FROM spaces WHERE space_id = '1' FOR UPDATE").await;
    let store = store.clone();
    (tree_change, tokio::spawn(async move { store.delete_org("c").await }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_an_org_takes_its_spaces_before_its_row() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    space_with_quota(&*store, None).await;
    let (tree_change, deleting) = deleting_org_c_behind_a_tree_change(&database, &store).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    tree_change
        .batch_execute("SELECT 1 FROM orgs WHERE corp_id = 'c' FOR NO KEY UPDATE NOWAIT")
        .await
        .expect("the deletion holds no org's row while it waits for a space");
    assert!(!deleting.is_finished());
    tree_change.batch_execute("COMMIT").await.unwrap();
    let deleted = tokio::time::timeout(Duration::from_secs(20), deleting).await.unwrap().unwrap();
    assert!(matches!(deleted, Err(StoreError::InUse)), "{deleted:?}");
    assert_eq!(rows(&database.url, "SELECT corp_id FROM orgs").await, ["c"]);
}

/// A call finding every pooled connection busy waits `PgOptions::wait` at
/// most, then fails as `Unavailable` (answered 503, to be retried), the
/// busy call going on; once a connection is free again, calls go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_waits_for_a_connection_a_bounded_time_then_is_unavailable() {
    let database = TestDatabase::create().await;
    let options = PgOptions { max_connections: 1, wait: Duration::from_millis(500) };
    let store = Arc::new(PgStore::open(&database.url, &options).await.unwrap());
    space_with_quota(&*store, None).await;
    // The pool's one connection waits for a space a tree change holds.
    let (tree_change, deleting) = deleting_org_c_behind_a_tree_change(&database, &store).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let listed = tokio::time::timeout(Duration::from_secs(10), store.list_orgs())
        .await
        .expect("the call waits a bounded time");
    let waited = started.elapsed();
    assert!(matches!(listed, Err(StoreError::Unavailable(_))), "{listed:?}");
    assert!(waited >= Duration::from_millis(400) && waited < Duration::from_secs(5), "{waited:?}");
    tree_change.batch_execute("COMMIT").await.unwrap();
    let deleted = tokio::time::timeout(Duration::from_secs(20), deleting).await.unwrap().unwrap();
    assert!(matches!(deleted, Err(StoreError::InUse)), "{deleted:?}");
    assert_eq!(store.list_orgs().await.unwrap().len(), 1);
}

fn token_of_app_a(hash: &str) -> TokenRecord {
    TokenRecord {
        token_hash: hash.into(),
        app_id: "a".into(),
        nonce: format!("nonce-{hash}"),
        issued_at: 0,
        expires_at: 9_000,
    }
}

/// A token asked for under the old secret while a new one is being set
/// (another node's rotation, begun and not yet committed) is not written:
/// it would outlive the rotation, which ends the app's tokens. The same for
/// an app being deleted (which answered 500 before: the token's foreign
/// key). A helper's review got an old-secret token through a rotation in 4
/// rounds of 6 on two nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_asked_for_during_a_change_of_its_apps_secret_is_not_issued() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    org_and_app(&*store).await;
    let changes = [
        "UPDATE apps SET secret_hash = 'new' WHERE app_id = 'a'; \
         DELETE FROM access_tokens WHERE app_id = 'a'",
        "DELETE FROM apps WHERE app_id = 'a'",
    ];
    for (round, change) in changes.into_iter().enumerate() {
        let other_node = holding(&database.url, change).await;
        let hash = format!("t{round}");
        let asking = {
            let (store, hash) = (store.clone(), hash.clone());
            tokio::spawn(async move {
                store.issue_token(&token_of_app_a(&hash), "h", 0, 1 << 40, None).await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        other_node.batch_execute("COMMIT").await.unwrap();
        let asked = asking.await.unwrap();
        assert!(matches!(asked, Err(StoreError::NotFound)), "{change}: {asked:?}");
        assert!(store.find_caller(&hash, "", 1).await.unwrap().is_none(), "{change}: a token");
    }
}

/// A rotation of an app's secret waits only for the token requests already
/// writing, not for those that come after it: they queue behind it, then
/// find the new secret and get no token. A review kept a rotation waiting
/// for minutes with overlapping token requests when they took a shared
/// lock on the app (shared locks pass a waiting update).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_waits_only_for_the_token_requests_before_it() {
    let database = TestDatabase::create().await;
    let store = Arc::new(node(&database).await);
    org_and_app(&*store).await;
    // Someone holding the app's row, shared (as token requests did).
    let writing = holding(&database.url, "SELECT 1 FROM apps WHERE app_id = 'a' FOR SHARE").await;
    let rotation = {
        let store = store.clone();
        tokio::spawn(async move { store.set_app_secret("c", "a", "salt", "new", 5).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A token request after the rotation began, under the old secret.
    let late = {
        let store = store.clone();
        tokio::spawn(async move {
            store.issue_token(&token_of_app_a("late"), "h", 0, 1 << 40, None).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!late.is_finished(), "a token request passed the waiting rotation");
    writing.batch_execute("COMMIT").await.unwrap();
    assert!(rotation.await.unwrap().unwrap(), "the rotation went through");
    let late = late.await.unwrap();
    assert!(matches!(late, Err(StoreError::NotFound)), "{late:?}");
    assert!(store.find_caller("late", "", 1).await.unwrap().is_none());
}

/// The session settings of [`a_node_stopped_mid_transaction_lets_go_of_its_locks`].
const SESSION_BOUNDS: &str = "SELECT current_setting(name) FROM unnest(ARRAY[\
    'idle_in_transaction_session_timeout', 'tcp_keepalives_idle', 'tcp_keepalives_interval', \
    'tcp_keepalives_count', 'tcp_user_timeout']) AS s(name)";

/// A node that stops in the middle of a transaction (frozen, its host
/// gone, cut off) holds its row locks only until the server ends its
/// session: on a server left at PostgreSQL's defaults, the store's
/// sessions ask it to end a session idle inside a transaction after 30 s
/// and to probe the node as the node probes the server (before, nothing
/// did: a space's row held by a stopped node held that space's writes on
/// every node for the two hours of the system's keepalives). What the DBA
/// set is kept (here a second, for the database: a space's row held by a
/// silent session is free again within seconds, and that session is
/// gone), and so is what the URL's `options` say.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_stopped_mid_transaction_lets_go_of_its_locks() {
    use orgdrive_postgres::testing::{pooled_holding, pooled_rows};
    let database = TestDatabase::create().await;
    let store = node(&database).await;
    // 'tcp_*' read 0 on a Unix socket: the test server is reached over TCP.
    let defaults = ["30s", "30", "10", "3", "30000"];
    assert_eq!(pooled_rows(&store, SESSION_BOUNDS).await, defaults);
    space_with_quota(&store, None).await;
    store.close().await;
    let quick =
        format!("ALTER DATABASE {} SET idle_in_transaction_session_timeout = '1s'", database.name);
    execute(&database.url, &quick).await;
    let store = node(&database).await;
    assert_eq!(pooled_rows(&store, SESSION_BOUNDS).await, ["1s", "30", "10", "3", "30000"]);
    let stopped =
        pooled_holding(&store, "SELECT 1 FROM spaces WHERE space_id = '1' FOR UPDATE").await;
    let waiting = pool(&database.url).get().await.unwrap();
    let lock = waiting.batch_execute("BEGIN; SELECT 1 FROM spaces WHERE space_id = '1' FOR UPDATE");
    tokio::time::timeout(Duration::from_secs(15), lock)
        .await
        .expect("the stopped session's lock is let go")
        .unwrap();
    waiting.batch_execute("COMMIT").await.unwrap();
    assert!(stopped.batch_execute("SELECT 1").await.is_err(), "the stopped session was ended");
    drop(stopped);
    store.close().await;
    let separator = if database.url.contains('?') { '&' } else { '?' };
    let given = format!("{}{separator}options=-c%20tcp_keepalives_idle%3D45", database.url);
    let store = PgStore::open(&given, &PgOptions::default()).await.unwrap();
    assert_eq!(pooled_rows(&store, SESSION_BOUNDS).await, ["1s", "45", "10", "3", "30000"]);
    store.close().await;
}
