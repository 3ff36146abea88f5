//! Behaviour of the outbox: every tree change appends its event in its own
//! transaction (a failed change appends none), subscriptions pick what an
//! app gets, cursors move only under their node's lease, old events are
//! purged, callbacks are kept per app.

use super::fixtures::*;
use crate::*;

pub(super) fn subscription(app_id: &str, scope: EventScope, scope_id: &str) -> SubscriptionRecord {
    SubscriptionRecord {
        corp_id: "c".into(),
        app_id: app_id.into(),
        scope,
        scope_id: scope_id.into(),
        operator_id: "u".into(),
        from_seq: 0,
        created_at: 5,
    }
}

async fn events_of(s: &impl MetaStore, app_id: &str, after: i64) -> Vec<EventRecord> {
    s.pending_events(app_id, after, 1000, 1_000_000).await.unwrap().events
}

fn kinds(events: &[EventRecord]) -> Vec<(EventType, &str)> {
    events.iter().map(|e| (e.event_type, e.dentry_id.as_str())).collect()
}

pub async fn every_tree_change_appends_its_event_and_a_failed_one_none(s: &impl MetaStore) {
    tree(s, None, None).await;
    let created = events_of(s, "a", 0).await;
    assert!(created.is_empty(), "nobody subscribed yet");
    let start = s.last_event_seq().await.unwrap();
    assert_eq!(start, 7, "the tree's seven creations");
    assert!(s.subscribe(&subscription("a", EventScope::Org, "c")).await.unwrap());

    s.rename_dentry(&rename("t", "top2.txt")).await.unwrap();
    // Failures and no-ops append nothing.
    s.rename_dentry(&rename("t", "docs")).await.unwrap_err();
    let existing = put(file("x", "top2.txt", 1), NameConflict::ReturnExisting, None);
    s.put_dentry(&existing).await.unwrap();
    s.move_dentry(&moving("f1", to("1", "o", auto("a (", ").txt"))), ids()).await.unwrap();
    s.copy_dentry(&copying("f2", to("2", "0", NameConflict::Fail), "c2"), ids()).await.unwrap();
    let over = PutDentry {
        overwrite_dentry_id: Some("f3".into()),
        ..put(file("n3", "a.txt", 2), NameConflict::Fail, None)
    };
    s.put_dentry(&over).await.unwrap();
    s.delete_dentry(&deleting("t", Some("r1"))).await.unwrap();
    s.restore_recycle_item(&restoring("r1", to("1", "0", NameConflict::Fail)), ids())
        .await
        .unwrap();
    s.delete_dentry(&deleting("s", Some("r2"))).await.unwrap();
    s.purge_recycle_items(&every_item(), Some(&["r2".to_string()]), "op").await.unwrap();
    s.delete_dentry(&DeleteDentry { space_id: "2".into(), ..deleting("c2", None) }).await.unwrap();
    let g = grant("1", "0", "USER", "bob", "EDITOR");
    s.write_grants(&writing(GrantWrite::Add, vec![g])).await.unwrap();
    let revoke = RevokeGrants {
        space_id: "1".into(),
        dentry_id: "0".into(),
        role: "EDITOR".into(),
        members: vec![("USER".into(), "bob".into()), ("USER".into(), "nobody".into())],
        operator_id: "op".into(),
        now_ms: 11,
    };
    s.revoke_grants(&revoke).await.unwrap();

    let events = events_of(s, "a", start).await;
    use EventType::*;
    assert_eq!(
        kinds(&events),
        [
            (DentryRenamed, "t"),
            (DentryMoved, "f1"),
            (DentryCopied, "c2"),
            (VersionAdded, "f3"),
            (DentryRecycled, "t"),
            (DentryRestored, "t"),
            (DentryRecycled, "s"),
            (DentryDeleted, "s"),
            (DentryDeleted, "c2"),
            (PermissionChanged, "0"),
            (PermissionChanged, "0"),
        ]
    );
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "commit order");
    let mut ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "unique event ids");
    assert!(events.iter().all(|e| e.app_id == "a" && e.corp_id == "c"));

    let renamed = &events[0];
    assert_eq!(
        (renamed.name.as_deref(), renamed.previous_name.as_deref(), renamed.operator_id.as_str()),
        (Some("top2.txt"), Some("top.txt"), "op")
    );
    let moved = &events[1];
    assert_eq!(moved.previous_parent_id.as_deref(), Some("d"));
    assert_eq!(moved.parent_id.as_deref(), Some("o"));
    assert_eq!(moved.name.as_deref(), Some("a (1).txt"));
    assert_eq!(moved.previous_name.as_deref(), Some("a.txt"));
    let copied = &events[2];
    assert_eq!(copied.space_id, "2");
    assert_eq!(
        (copied.source_space_id.as_deref(), copied.source_dentry_id.as_deref()),
        (Some("1"), Some("f2"))
    );
    assert_eq!((events[3].version, events[3].size), (Some(2), Some(2)));
    assert_eq!(events[4].recycle_item_id.as_deref(), Some("r1"));
    assert_eq!(events[5].recycle_item_id.as_deref(), Some("r1"));
    assert_eq!(events[7].recycle_item_id.as_deref(), Some("r2"));
    assert_eq!(events[8].name.as_deref(), Some("b.txt"));
    assert_eq!(events[9].role.as_deref(), Some("EDITOR"));
    assert_eq!(events[9].member_id.as_deref(), Some("bob"));
    assert_eq!((events[10].role.as_deref(), events[10].at_ms), (None, 11));
}

/// Event ids are 32 hex digits and an event of a later millisecond has a
/// greater one (time first, as a UUIDv7: SQLite's index on them grows at
/// its right edge, where random ids would dirty a page of it per event).
pub async fn event_ids_grow_with_time(s: &impl MetaStore) {
    tree(s, None, None).await;
    assert!(s.subscribe(&subscription("a", EventScope::Org, "c")).await.unwrap());
    let start = s.last_event_seq().await.unwrap();
    // Eight in order: random ids would be in order once in 8! = 40,320 runs.
    // Past 48 bits of milliseconds (the year 10889) the time part stays 12 digits.
    let times = [1_000, 1_001, 1_002, 65_536, 1 << 32, 1 << 40, 1_700_000_000_000, i64::MAX];
    for (i, now_ms) in times.into_iter().enumerate() {
        let name = format!("renamed-{i}.txt");
        s.rename_dentry(&RenameDentry { actor: actor(now_ms), ..rename("t", &name) })
            .await
            .unwrap();
    }
    let events = events_of(s, "a", start).await;
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(events.len(), times.len());
    assert!(
        ids.iter().all(|id| id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit())),
        "{ids:?}"
    );
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

pub async fn subscriptions_decide_what_an_app_gets_from_when(s: &impl MetaStore) {
    tree(s, None, None).await;
    s.insert_app(&app("b", "c", "kb")).await.unwrap();
    // Idempotent: the second subscription changes nothing.
    assert!(s.subscribe(&subscription("b", EventScope::Space, "2")).await.unwrap());
    let first = s.subscriptions("b").await.unwrap();
    // Again, by someone else: the subscription now follows them, from where it was.
    let again =
        SubscriptionRecord { operator_id: "v".into(), ..subscription("b", EventScope::Space, "2") };
    s.rename_dentry(&rename("t", "moved on.txt")).await.unwrap();
    assert!(!s.subscribe(&again).await.unwrap());
    let now = s.subscriptions("b").await.unwrap();
    assert_eq!((now[0].operator_id.as_str(), now[0].from_seq), ("v", first[0].from_seq));
    // App b owns no space: ORG scope gives it nothing of app a's spaces.
    assert!(s.subscribe(&subscription("b", EventScope::Org, "c")).await.unwrap());
    assert_eq!(s.subscriptions("b").await.unwrap().len(), 2);
    let from = s.last_event_seq().await.unwrap();
    s.rename_dentry(&rename("t", "x.txt")).await.unwrap();
    s.copy_dentry(&copying("t", to("2", "0", NameConflict::Fail), "c1"), ids()).await.unwrap();
    s.move_dentry(&moving("c1", to("1", "0", auto("x (", ")"))), ids()).await.unwrap_err();
    let got = events_of(s, "b", 0).await;
    assert_eq!(kinds(&got), [(EventType::DentryCopied, "c1")], "space 2 only, from then on");
    assert!(got[0].seq > from);
    // A move out of the space is the space's event too.
    let out = MoveDentry { space_id: "2".into(), ..moving("c1", to("1", "0", auto("x (", ")"))) };
    s.move_dentry(&out, ids()).await.unwrap();
    let got = events_of(s, "b", 0).await;
    assert_eq!(got.len(), 2);
    assert_eq!((got[1].space_id.as_str(), got[1].previous_space_id.as_deref()), ("1", Some("2")));
    assert!(s.unsubscribe("b", EventScope::Space, "2").await.unwrap());
    assert!(!s.unsubscribe("b", EventScope::Space, "2").await.unwrap());
    assert!(events_of(s, "b", 0).await.is_empty());
    // A window bounds the scan; an empty page says how far it looked.
    let last = s.last_event_seq().await.unwrap();
    let page = s.pending_events("b", 0, 10, 3).await.unwrap();
    assert_eq!((page.events.len(), page.scanned_to), (0, 3));
    let page = s.pending_events("b", 0, 10, 1_000).await.unwrap();
    assert_eq!(page.scanned_to, last);
}

pub async fn a_cursor_moves_only_under_its_nodes_lease(s: &impl MetaStore) {
    tree(s, None, None).await;
    assert!(s.event_cursors().await.unwrap().is_empty());
    s.subscribe(&subscription("a", EventScope::Space, "1")).await.unwrap();
    let cursors = s.event_cursors().await.unwrap();
    assert_eq!((cursors.len(), cursors[0].last_seq), (1, 7));
    let leased = s.lease_cursor("a", 1, 100, 200).await.unwrap().expect("free");
    assert_eq!(leased.lease_node, Some(1));
    assert!(s.lease_cursor("a", 2, 150, 250).await.unwrap().is_none(), "held by node 1");
    assert!(!s.advance_cursor("a", 2, 9).await.unwrap());
    s.cursor_failed("a", 1, 500, "receiver down").await.unwrap();
    let c = s.lease_cursor("a", 1, 160, 300).await.unwrap().expect("renewed");
    assert_eq!(
        (c.attempts, c.next_attempt_ms, c.last_error.as_deref()),
        (1, 500, Some("receiver down"))
    );
    assert!(s.advance_cursor("a", 1, 9).await.unwrap());
    assert!(s.advance_cursor("a", 1, 8).await.unwrap(), "never backwards");
    // Expired, the lease goes to whoever asks.
    let taken = s.lease_cursor("a", 2, 301, 400).await.unwrap().expect("expired");
    assert_eq!((taken.last_seq, taken.attempts, taken.lease_node), (9, 0, Some(2)));
    s.release_cursor("a", 1).await.unwrap();
    assert!(s.lease_cursor("a", 1, 302, 400).await.unwrap().is_none(), "node 1 no longer holds it");
    s.release_cursor("a", 2).await.unwrap();
    assert!(s.lease_cursor("a", 1, 303, 400).await.unwrap().is_some());
    // Without subscriptions an app has nothing to deliver.
    s.unsubscribe("a", EventScope::Space, "1").await.unwrap();
    assert!(s.event_cursors().await.unwrap().is_empty());
}

pub async fn old_events_are_purged_per_org_and_seq_never_goes_back(s: &impl MetaStore) {
    tree(s, None, None).await; // seven events at time 1
    s.rename_dentry(&rename("t", "x.txt")).await.unwrap(); // at 100
    s.rename_dentry(&rename("t", "y.txt")).await.unwrap();
    assert_eq!(s.purge_events(50, 1_000).await.unwrap(), 7);
    // Another org's events are not pushed out by this org's.
    s.insert_org(&org("c2", None)).await.unwrap();
    s.insert_app(&app("a2", "c2", "k2")).await.unwrap();
    s.insert_space_once(&SpaceRecord {
        corp_id: "c2".into(),
        app_id: "a2".into(),
        ..space("9", "x")
    })
    .await
    .unwrap();
    let other = DentryRecord { space_id: "9".into(), modified_at: 100, ..folder("o9", "theirs") };
    s.put_dentry(&PutDentry { corp_id: "c2".into(), ..put(other, NameConflict::Fail, None) })
        .await
        .unwrap();
    assert_eq!(s.purge_events(50, 1).await.unwrap(), 1, "org c keeps its newest one");
    assert_eq!(s.purge_events(50, 1).await.unwrap(), 0, "org c2's one is its newest");
    s.subscribe(&subscription("a", EventScope::Org, "c")).await.unwrap();
    assert_eq!(s.last_event_seq().await.unwrap(), 10);
    s.rename_dentry(&rename("t", "z.txt")).await.unwrap();
    assert_eq!(events_of(s, "a", 0).await[0].seq, 11);
}

pub async fn a_stream_ticket_is_redeemed_once_until_it_expires(s: &impl MetaStore) {
    assert!(s.redeem_ticket("n1", 100, 10).await.unwrap());
    assert!(!s.redeem_ticket("n1", 100, 50).await.unwrap(), "used");
    assert!(s.redeem_ticket("n2", 300, 60).await.unwrap());
    // Forgotten once expired (an expired ticket is refused before it gets here).
    assert!(s.redeem_ticket("n1", 400, 200).await.unwrap());
    assert!(!s.redeem_ticket("n2", 400, 200).await.unwrap(), "n2 is still live");
}

pub async fn callbacks_are_kept_per_app(s: &impl MetaStore) {
    org_and_app(s).await;
    let callback = CallbackRecord {
        corp_id: "c".into(),
        app_id: "a".into(),
        url: "http://127.0.0.1:9/cb".into(),
        token: "t".into(),
        aes_key: "k".repeat(43),
        owner_key: "k".into(),
        created_at: 1,
    };
    assert!(s.get_callback("a").await.unwrap().is_none());
    s.set_callback("a", Some(&callback)).await.unwrap();
    let moved = CallbackRecord { url: "http://127.0.0.1:9/v2".into(), ..callback.clone() };
    s.set_callback("a", Some(&moved)).await.unwrap();
    assert_eq!(s.get_callback("a").await.unwrap(), Some(moved));
    let stranger = CallbackRecord { app_id: "zz".into(), ..callback };
    assert!(matches!(s.set_callback("zz", Some(&stranger)).await, Err(StoreError::NotFound)));
    s.set_callback("a", None).await.unwrap();
    assert!(s.get_callback("a").await.unwrap().is_none());
}
