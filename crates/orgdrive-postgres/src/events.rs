//! The outbox: appending events in the transaction of their change
//! ([`append`]), the lazy sequencer that gives them their `seq` in commit
//! order ([`sequence_pending`]), and the [`EventStore`] (subscriptions,
//! cursors and their leases, callbacks, tickets).
//!
//! # `seq` in commit order
//!
//! A sequence (or identity) value is taken when a row is inserted, before
//! its transaction commits: transaction A may take 5 and commit after B took
//! 6 and committed, and a delivery cursor that had already passed 6 would
//! never deliver 5. Numbering at append time under one lock would make every
//! writer wait for the previous one's commit (no group commit). So events
//! are appended with `seq` NULL (ordered among themselves by the identity
//! column `appended`), and numbered later by [`sequence_pending`]: under a
//! transaction-scoped advisory lock (one sequencer at a time), it gives
//! every row it can see with `seq` NULL the numbers after the last one given
//! (`event_sequencer.last_seq`), in `appended` order. The lock is taken
//! before the numbering statement, whose snapshot therefore sees everything
//! the previous sequencer numbered; rows committed after that snapshot are
//! numbered by a later run, above. So `seq` follows the order in which
//! events became visible, never goes back (the last number is kept even
//! when the oldest rows are purged), and a reader that sequences first and
//! then reads up to the last `seq` misses nothing that committed before it.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use orgdrive_store::{
    CallbackRecord, CursorRecord, EventPage, EventRecord, EventScope, EventStore, EventType,
    StoreError, StoreResult, SubscriptionRecord,
};

use crate::{exec, one, tx, DbResult, PgStore};

/// The advisory lock key of the sequencer ("orgdseq" in ASCII).
const SEQUENCER_LOCK: i64 = 0x006f_7267_6473_6571;

/// Appends `events` (their `seq` and `event_id` are the store's: given
/// here) in the caller's transaction `t`; `app_id` and `previous_app_id`
/// are those of the spaces named.
pub async fn append<C: GenericClient>(t: &C, events: &[EventRecord]) -> DbResult<()> {
    const SQL: &str = "INSERT INTO events (event_id, event_type, corp_id, app_id, space_id, \
         dentry_id, operator_id, at_ms, parent_id, name, dentry_type, size, version, \
         previous_space_id, previous_app_id, previous_parent_id, previous_name, source_space_id, \
         source_dentry_id, recycle_item_id, member_type, member_id, role) \
         VALUES (replace(gen_random_uuid()::text, '-', ''), $1, $2, \
         COALESCE((SELECT app_id FROM spaces WHERE space_id = $3), ''), $3, $4, $5, $6, $7, $8, \
         $9, $10, $11, $12, (SELECT app_id FROM spaces WHERE space_id = $12), $13, $14, $15, \
         $16, $17, $18, $19, $20)";
    for e in events {
        exec(
            t,
            SQL,
            &[
                &e.event_type.as_str(),
                &e.corp_id,
                &e.space_id,
                &e.dentry_id,
                &e.operator_id,
                &e.at_ms,
                &e.parent_id,
                &e.name,
                &e.dentry_type,
                &e.size,
                &e.version,
                &e.previous_space_id,
                &e.previous_parent_id,
                &e.previous_name,
                &e.source_space_id,
                &e.source_dentry_id,
                &e.recycle_item_id,
                &e.member_type,
                &e.member_id,
                &e.role,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Numbers every visible event without a `seq` (see the module doc), in the
/// caller's transaction `t` — which then holds the sequencer's lock until it
/// ends: keep it short. Answers the last `seq` given (0 when none ever was).
pub async fn sequence_pending<C: GenericClient>(t: &C) -> DbResult<i64> {
    exec(t, "SELECT pg_advisory_xact_lock($1)", &[&SEQUENCER_LOCK]).await?;
    // A new statement, so a new snapshot: it sees every row an earlier
    // sequencer numbered.
    let row = one(
        t,
        "WITH base AS (SELECT last_seq FROM event_sequencer), \
         pending AS (SELECT appended, row_number() OVER (ORDER BY appended) AS n \
                     FROM events WHERE seq IS NULL), \
         numbered AS (UPDATE events e SET seq = (SELECT last_seq FROM base) + p.n \
                      FROM pending p WHERE e.appended = p.appended RETURNING e.seq) \
         UPDATE event_sequencer SET last_seq = \
             GREATEST(last_seq, COALESCE((SELECT MAX(seq) FROM numbered), 0)) \
         RETURNING last_seq",
        &[],
    )
    .await?;
    Ok(row.map_or(Ok(0), |r| r.try_get(0))?)
}

/// The columns [`event_from_row`] reads, of `events e`.
pub const EVENT_COLUMNS: &str = "e.seq, e.event_id, e.event_type, e.corp_id, e.app_id, \
     e.space_id, e.dentry_id, e.operator_id, e.at_ms, e.parent_id, e.name, e.dentry_type, e.size, \
     e.version, e.previous_space_id, e.previous_app_id, e.previous_parent_id, e.previous_name, \
     e.source_space_id, e.source_dentry_id, e.recycle_item_id, e.member_type, e.member_id, e.role";

/// An event from [`EVENT_COLUMNS`] (of a sequenced row).
pub fn event_from_row(row: &Row) -> DbResult<EventRecord> {
    let kind: String = row.try_get(2)?;
    let event_type = EventType::parse(&kind)
        .ok_or_else(|| StoreError::Backend(format!("unknown event type {kind:?}")))?;
    Ok(EventRecord {
        seq: row.try_get::<_, Option<i64>>(0)?.unwrap_or(0),
        event_id: row.try_get(1)?,
        event_type,
        corp_id: row.try_get(3)?,
        app_id: row.try_get(4)?,
        space_id: row.try_get(5)?,
        dentry_id: row.try_get(6)?,
        operator_id: row.try_get(7)?,
        at_ms: row.try_get(8)?,
        parent_id: row.try_get(9)?,
        name: row.try_get(10)?,
        dentry_type: row.try_get(11)?,
        size: row.try_get(12)?,
        version: row.try_get(13)?,
        previous_space_id: row.try_get(14)?,
        previous_app_id: row.try_get(15)?,
        previous_parent_id: row.try_get(16)?,
        previous_name: row.try_get(17)?,
        source_space_id: row.try_get(18)?,
        source_dentry_id: row.try_get(19)?,
        recycle_item_id: row.try_get(20)?,
        member_type: row.try_get(21)?,
        member_id: row.try_get(22)?,
        role: row.try_get(23)?,
    })
}

fn not_yet() -> StoreError {
    StoreError::Backend("not implemented yet".into())
}

// PG-B: the EventStore.
#[async_trait]
impl EventStore for PgStore {
    async fn subscribe(&self, _subscription: &SubscriptionRecord) -> StoreResult<bool> {
        Err(not_yet())
    }
    async fn unsubscribe(
        &self,
        _app_id: &str,
        _scope: EventScope,
        _scope_id: &str,
    ) -> StoreResult<bool> {
        Err(not_yet())
    }
    async fn subscriptions(&self, _app_id: &str) -> StoreResult<Vec<SubscriptionRecord>> {
        Err(not_yet())
    }
    async fn event_cursors(&self) -> StoreResult<Vec<CursorRecord>> {
        Err(not_yet())
    }
    async fn lease_cursor(
        &self,
        _app_id: &str,
        _node: i64,
        _now_ms: i64,
        _until_ms: i64,
    ) -> StoreResult<Option<CursorRecord>> {
        Err(not_yet())
    }
    async fn release_cursor(&self, _app_id: &str, _node: i64) -> StoreResult<()> {
        Err(not_yet())
    }
    async fn pending_events(
        &self,
        _app_id: &str,
        _after_seq: i64,
        _limit: u32,
        _window: i64,
    ) -> StoreResult<EventPage> {
        Err(not_yet())
    }
    async fn advance_cursor(&self, _app_id: &str, _node: i64, _seq: i64) -> StoreResult<bool> {
        Err(not_yet())
    }
    async fn cursor_failed(
        &self,
        _app_id: &str,
        _node: i64,
        _next_attempt_ms: i64,
        _error: &str,
    ) -> StoreResult<()> {
        Err(not_yet())
    }
    async fn purge_events(&self, _before_ms: i64, _keep_per_org: i64) -> StoreResult<u64> {
        Err(not_yet())
    }
    async fn last_event_seq(&self) -> StoreResult<i64> {
        tx!(self, |t| sequence_pending(&t).await?)
    }
    async fn redeem_ticket(
        &self,
        _nonce: &str,
        _expires_ms: i64,
        _now_ms: i64,
    ) -> StoreResult<bool> {
        Err(not_yet())
    }
    async fn set_callback(
        &self,
        _app_id: &str,
        _callback: Option<&CallbackRecord>,
    ) -> StoreResult<()> {
        Err(not_yet())
    }
    async fn get_callback(&self, _app_id: &str) -> StoreResult<Option<CallbackRecord>> {
        Err(not_yet())
    }
}
