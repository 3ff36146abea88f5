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

use crate::error::refuse;
use crate::{all, exec, one, tx, DbResult, PgStore};

/// The advisory lock key of the sequencer ("orgdseq" in ASCII).
const SEQUENCER_LOCK: i64 = 0x006f_7267_6473_6571;

/// The `event_id` an event appended at `$at_ms` (an SQL expression) gets:
/// the time in 12 hex digits, then 20 random ones (ids sort by time).
macro_rules! new_event_id {
    ($at_ms:literal) => {
        concat!(
            "lpad(to_hex(LEAST(GREATEST(",
            $at_ms,
            ", 0), 281474976710655)), 12, '0') || substr(md5(gen_random_uuid()::text), 1, 20)"
        )
    };
}
pub(crate) use new_event_id;

/// Appends `events` (their `seq` and `event_id` are the store's: given
/// here) in the caller's transaction `t`; `app_id` and `previous_app_id`
/// are those of the spaces named.
pub async fn append<C: GenericClient>(t: &C, events: &[EventRecord]) -> DbResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    // One statement for them all, inserted in order (`appended` follows
    // it); each space's app looked up once.
    const SQL: &str = concat!(
        "WITH apps AS (SELECT space_id, app_id FROM spaces \
         WHERE space_id = ANY($3::text[] || $12::text[])) \
         INSERT INTO events (event_id, event_type, corp_id, app_id, space_id, \
         dentry_id, operator_id, at_ms, parent_id, name, dentry_type, size, version, \
         previous_space_id, previous_app_id, previous_parent_id, previous_name, source_space_id, \
         source_dentry_id, recycle_item_id, member_type, member_id, role) SELECT ",
        new_event_id!("u.at_ms"),
        ", u.event_type, u.corp_id, \
         COALESCE(a.app_id, ''), u.space_id, u.dentry_id, u.operator_id, u.at_ms, u.parent_id, \
         u.name, u.dentry_type, u.size, u.version, u.previous_space_id, pa.app_id, \
         u.previous_parent_id, u.previous_name, u.source_space_id, u.source_dentry_id, \
         u.recycle_item_id, u.member_type, u.member_id, u.role \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], \
         $7::text[], $8::text[], $9::text[], $10::int8[], $11::int8[], $12::text[], $13::text[], \
         $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], \
         $20::text[]) WITH ORDINALITY AS u(event_type, corp_id, space_id, dentry_id, \
         operator_id, at_ms, parent_id, name, dentry_type, size, version, previous_space_id, \
         previous_parent_id, previous_name, source_space_id, source_dentry_id, recycle_item_id, \
         member_type, member_id, role, n) \
         LEFT JOIN apps a ON a.space_id = u.space_id \
         LEFT JOIN apps pa ON pa.space_id = u.previous_space_id \
         ORDER BY u.n"
    );
    let text = |f: fn(&EventRecord) -> &str| events.iter().map(f).collect::<Vec<&str>>();
    let maybe = |f: fn(&EventRecord) -> Option<&str>| events.iter().map(f).collect::<Vec<_>>();
    let number = |f: fn(&EventRecord) -> Option<i64>| events.iter().map(f).collect::<Vec<_>>();
    exec(
        t,
        SQL,
        &[
            &text(|e| e.event_type.as_str()),
            &text(|e| &e.corp_id),
            &text(|e| &e.space_id),
            &text(|e| &e.dentry_id),
            &text(|e| &e.operator_id),
            &events.iter().map(|e| e.at_ms).collect::<Vec<i64>>(),
            &maybe(|e| e.parent_id.as_deref()),
            &maybe(|e| e.name.as_deref()),
            &maybe(|e| e.dentry_type.as_deref()),
            &number(|e| e.size),
            &number(|e| e.version),
            &maybe(|e| e.previous_space_id.as_deref()),
            &maybe(|e| e.previous_parent_id.as_deref()),
            &maybe(|e| e.previous_name.as_deref()),
            &maybe(|e| e.source_space_id.as_deref()),
            &maybe(|e| e.source_dentry_id.as_deref()),
            &maybe(|e| e.recycle_item_id.as_deref()),
            &maybe(|e| e.member_type.as_deref()),
            &maybe(|e| e.member_id.as_deref()),
            &maybe(|e| e.role.as_deref()),
        ],
    )
    .await?;
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
macro_rules! event_columns {
    () => {
        "e.seq, e.event_id, e.event_type, e.corp_id, e.app_id, e.space_id, e.dentry_id, \
         e.operator_id, e.at_ms, e.parent_id, e.name, e.dentry_type, e.size, e.version, \
         e.previous_space_id, e.previous_app_id, e.previous_parent_id, e.previous_name, \
         e.source_space_id, e.source_dentry_id, e.recycle_item_id, e.member_type, e.member_id, \
         e.role"
    };
}

/// An app's page of numbered events after `$2` up to `$3` (at most `$4`),
/// of the scopes it subscribed to.
pub(crate) const PENDING_EVENTS_SQL: &str = concat!(
    "SELECT ",
    event_columns!(),
    " FROM events e WHERE e.seq > $2 AND e.seq <= $3 AND EXISTS ( \
       SELECT 1 FROM event_subscriptions s WHERE s.app_id = $1 AND s.from_seq < e.seq AND ( \
         (s.scope = 'ORG' AND s.scope_id = e.corp_id \
            AND (e.app_id = s.app_id OR e.previous_app_id = s.app_id)) \
         OR (s.scope = 'SPACE' \
            AND (s.scope_id = e.space_id OR s.scope_id = e.previous_space_id)))) \
     ORDER BY e.seq LIMIT $4"
);

/// Deletes the events older than `$1` (ms), from the oldest up in `seq`
/// order to the first one young enough: the scan reads the rows it deletes
/// and one more, along `events_seq` (numbered events only).
pub(crate) const PURGE_OLD_EVENTS_SQL: &str = "DELETE FROM events WHERE seq < coalesce( \
     (SELECT seq FROM events WHERE at_ms >= $1 AND seq IS NOT NULL ORDER BY seq LIMIT 1), \
     (SELECT max(seq) + 1 FROM events), 0)";

/// Deletes org `$1`'s numbered events but its newest `$2`.
pub(crate) const PURGE_CROWDED_ORG_SQL: &str = "DELETE FROM events WHERE corp_id = $1 AND seq <= \
     (SELECT seq FROM events WHERE corp_id = $1 AND seq IS NOT NULL \
     ORDER BY seq DESC LIMIT 1 OFFSET $2)";

/// An event from the columns of `event_columns!` (of a sequenced row).
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

fn scope_at(row: &Row, at: usize) -> DbResult<EventScope> {
    let raw: String = row.try_get(at)?;
    EventScope::parse(&raw)
        .ok_or_else(|| StoreError::Backend(format!("unknown event scope {raw:?}")).into())
}

fn subscription_from_row(row: &Row) -> DbResult<SubscriptionRecord> {
    Ok(SubscriptionRecord {
        app_id: row.try_get(0)?,
        scope: scope_at(row, 1)?,
        scope_id: row.try_get(2)?,
        corp_id: row.try_get(3)?,
        operator_id: row.try_get(4)?,
        from_seq: row.try_get(5)?,
        created_at: row.try_get(6)?,
    })
}

macro_rules! cursor_columns {
    () => {
        "app_id, corp_id, last_seq, attempts, next_attempt_ms, last_error, lease_node, \
         lease_until_ms"
    };
}

fn cursor_from_row(row: &Row) -> DbResult<CursorRecord> {
    Ok(CursorRecord {
        app_id: row.try_get(0)?,
        corp_id: row.try_get(1)?,
        last_seq: row.try_get(2)?,
        attempts: row.try_get(3)?,
        next_attempt_ms: row.try_get(4)?,
        last_error: row.try_get(5)?,
        lease_node: row.try_get(6)?,
        lease_until_ms: row.try_get(7)?,
    })
}

/// The EventStore. Each method is one READ COMMITTED transaction; the
/// readers of the outbox (`subscribe`'s starting point, `pending_events`,
/// `purge_events`, `last_event_seq`) run the sequencer first, in their
/// transaction, so they see every event committed before they started with
/// its `seq`. A delivery lease is one conditional `UPDATE` (the row lock
/// makes racing takers apply one after the other; one passes).
#[async_trait]
impl EventStore for PgStore {
    async fn subscribe(&self, s: &SubscriptionRecord) -> StoreResult<bool> {
        crate::tx!(self, |t| {
            let from = sequence_pending(&t).await?;
            // `xmax = 0` tells an inserted row from an updated one.
            let row = one(
                &t,
                "INSERT INTO event_subscriptions \
                 (app_id, scope, scope_id, corp_id, operator_id, from_seq, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (app_id, scope, scope_id) \
                 DO UPDATE SET operator_id = excluded.operator_id \
                 RETURNING (xmax = 0)",
                &[
                    &s.app_id,
                    &s.scope.as_str(),
                    &s.scope_id,
                    &s.corp_id,
                    &s.operator_id,
                    &from,
                    &s.created_at,
                ],
            )
            .await?;
            let added: bool = row.map_or(Ok(false), |r| r.try_get(0))?;
            exec(
                &t,
                "INSERT INTO event_cursors (app_id, corp_id, last_seq) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&s.app_id, &s.corp_id, &from],
            )
            .await?;
            added
        })
    }

    async fn unsubscribe(
        &self,
        app_id: &str,
        scope: EventScope,
        scope_id: &str,
    ) -> StoreResult<bool> {
        crate::tx!(self, |t| {
            exec(
                &t,
                "DELETE FROM event_subscriptions WHERE app_id = $1 AND scope = $2 AND scope_id = $3",
                &[&app_id, &scope.as_str(), &scope_id],
            )
            .await?
                == 1
        })
    }

    async fn subscriptions(&self, app_id: &str) -> StoreResult<Vec<SubscriptionRecord>> {
        crate::read!(self, |c| {
            all(
                &c,
                "SELECT app_id, scope, scope_id, corp_id, operator_id, from_seq, created_at \
                 FROM event_subscriptions WHERE app_id = $1 ORDER BY scope, scope_id",
                &[&app_id],
            )
            .await?
            .iter()
            .map(subscription_from_row)
            .collect::<DbResult<Vec<_>>>()?
        })
    }

    async fn event_cursors(&self) -> StoreResult<Vec<CursorRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            cursor_columns!(),
            " FROM event_cursors c WHERE EXISTS \
             (SELECT 1 FROM event_subscriptions s WHERE s.app_id = c.app_id) ORDER BY app_id"
        );
        crate::read!(self, |c| {
            all(&c, SQL, &[]).await?.iter().map(cursor_from_row).collect::<DbResult<Vec<_>>>()?
        })
    }

    async fn lease_cursor(
        &self,
        app_id: &str,
        node: i64,
        now_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Option<CursorRecord>> {
        const SQL: &str = concat!(
            "UPDATE event_cursors SET lease_node = $2, lease_until_ms = $4 \
             WHERE app_id = $1 AND (lease_node IS NULL OR lease_node = $2 OR lease_until_ms <= $3) \
             RETURNING ",
            cursor_columns!()
        );
        crate::tx!(self, |t| {
            one(&t, SQL, &[&app_id, &node, &now_ms, &until_ms])
                .await?
                .as_ref()
                .map(cursor_from_row)
                .transpose()?
        })
    }

    async fn release_cursor(&self, app_id: &str, node: i64) -> StoreResult<()> {
        crate::tx!(self, |t| {
            exec(
                &t,
                "UPDATE event_cursors SET lease_node = NULL, lease_until_ms = 0 \
                 WHERE app_id = $1 AND lease_node = $2",
                &[&app_id, &node],
            )
            .await?;
        })
    }

    async fn pending_events(
        &self,
        app_id: &str,
        after_seq: i64,
        limit: u32,
        window: i64,
    ) -> StoreResult<EventPage> {
        let limit_rows = i64::from(limit);
        crate::tx!(self, |t| {
            // Every event up to the last `seq` given is committed and
            // numbered: the page cannot pass over one committing meanwhile.
            let last = sequence_pending(&t).await?;
            let until = after_seq.saturating_add(window.max(1)).min(last);
            let events = all(&t, PENDING_EVENTS_SQL, &[&app_id, &after_seq, &until, &limit_rows])
                .await?
                .iter()
                .map(event_from_row)
                .collect::<DbResult<Vec<_>>>()?;
            let scanned_to = match events.last() {
                Some(last) if events.len() as u32 >= limit => last.seq,
                _ => until.max(after_seq),
            };
            EventPage { events, scanned_to }
        })
    }

    async fn advance_cursor(&self, app_id: &str, node: i64, seq: i64) -> StoreResult<bool> {
        crate::tx!(self, |t| {
            exec(
                &t,
                "UPDATE event_cursors SET last_seq = GREATEST(last_seq, $3), attempts = 0, \
                 next_attempt_ms = 0, last_error = NULL WHERE app_id = $1 AND lease_node = $2",
                &[&app_id, &node, &seq],
            )
            .await?
                == 1
        })
    }

    async fn cursor_failed(
        &self,
        app_id: &str,
        node: i64,
        next_attempt_ms: i64,
        error: &str,
    ) -> StoreResult<()> {
        crate::tx!(self, |t| {
            exec(
                &t,
                "UPDATE event_cursors SET attempts = attempts + 1, next_attempt_ms = $3, \
                 last_error = $4 WHERE app_id = $1 AND lease_node = $2",
                &[&app_id, &node, &next_attempt_ms, &error],
            )
            .await?;
        })
    }

    async fn purge_events(&self, before_ms: i64, keep_per_org: i64) -> StoreResult<u64> {
        let keep = keep_per_org.max(0);
        crate::tx!(self, |t| {
            // Numbered first: the per-org cut is by `seq`.
            sequence_pending(&t).await?;
            // From the oldest up to the first event young enough (every row
            // is numbered now): the scan reads the rows it deletes and one more.
            let mut purged = exec(&t, PURGE_OLD_EVENTS_SQL, &[&before_ms]).await?;
            // Per org: a flood in one org never pushes out another's events.
            let crowded = all(
                &t,
                "SELECT corp_id FROM events WHERE seq IS NOT NULL GROUP BY corp_id HAVING COUNT(*) > $1",
                &[&keep],
            )
            .await?;
            for row in &crowded {
                let corp_id: String = row.try_get(0)?;
                purged += exec(&t, PURGE_CROWDED_ORG_SQL, &[&corp_id, &keep]).await?;
            }
            purged
        })
    }

    async fn last_event_seq(&self) -> StoreResult<i64> {
        tx!(self, |t| sequence_pending(&t).await?)
    }

    async fn redeem_ticket(&self, nonce: &str, expires_ms: i64, now_ms: i64) -> StoreResult<bool> {
        crate::tx!(self, |t| {
            exec(&t, "DELETE FROM stream_tickets WHERE expires_ms <= $1", &[&now_ms]).await?;
            // A racing insert of the nonce waits for this one, then does nothing.
            exec(
                &t,
                "INSERT INTO stream_tickets (nonce, expires_ms) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                &[&nonce, &expires_ms],
            )
            .await?
                == 1
        })
    }

    async fn set_callback(
        &self,
        app_id: &str,
        callback: Option<&CallbackRecord>,
    ) -> StoreResult<()> {
        crate::tx!(self, |t| match callback {
            None => {
                exec(&t, "DELETE FROM event_callbacks WHERE app_id = $1", &[&app_id]).await?;
            }
            Some(c) => {
                let changed = exec(
                    &t,
                    "INSERT INTO event_callbacks \
                     (app_id, corp_id, url, token, aes_key, owner_key, created_at) \
                     SELECT $1, $2, $3, $4, $5, $6, $7 FROM apps WHERE app_id = $1 AND corp_id = $2 \
                     ON CONFLICT (app_id) DO UPDATE SET url = excluded.url, token = excluded.token, \
                     aes_key = excluded.aes_key, owner_key = excluded.owner_key, \
                     created_at = excluded.created_at",
                    &[&app_id, &c.corp_id, &c.url, &c.token, &c.aes_key, &c.owner_key, &c.created_at],
                )
                .await?;
                if changed == 0 {
                    return refuse(StoreError::NotFound);
                }
            }
        })
    }

    async fn get_callback(&self, app_id: &str) -> StoreResult<Option<CallbackRecord>> {
        crate::read!(self, |c| {
            match one(
                &c,
                "SELECT app_id, corp_id, url, token, aes_key, owner_key, created_at \
                 FROM event_callbacks WHERE app_id = $1",
                &[&app_id],
            )
            .await?
            {
                None => None,
                Some(r) => Some(CallbackRecord {
                    app_id: r.try_get(0)?,
                    corp_id: r.try_get(1)?,
                    url: r.try_get(2)?,
                    token: r.try_get(3)?,
                    aes_key: r.try_get(4)?,
                    owner_key: r.try_get(5)?,
                    created_at: r.try_get(6)?,
                }),
            }
        })
    }
}
