//! SQLite: the outbox (`events`, appended by [`append`] inside the write
//! methods' transactions), subscriptions, delivery cursors with their
//! leases, and the apps' HTTP callbacks.

use async_trait::async_trait;
use rusqlite::{params, Connection, Row};

use crate::*;
use orgdrive_store::{
    CallbackRecord, CursorRecord, EventPage, EventRecord, EventScope, EventStore, EventType,
    SubscriptionRecord,
};

/// Appends `event` to the outbox in the caller's transaction (its `seq`,
/// `event_id` and `app_id` come from here; `previous_app_id` too when the
/// event names a previous space). The `event_id` is 32 hex digits: the
/// event's millisecond (within 48 bits), then 80 random bits, so that the unique index on it
/// grows at its right edge (a random key dirties a page of it per event).
pub(crate) fn append(conn: &Connection, e: &EventRecord) -> StoreResult<()> {
    exec(
        conn,
        "INSERT INTO events (event_id, event_type, corp_id, app_id, space_id, dentry_id, \
         operator_id, at_ms, parent_id, name, dentry_type, size, version, previous_space_id, \
         previous_app_id, previous_parent_id, previous_name, source_space_id, source_dentry_id, \
         recycle_item_id, member_type, member_id, role) \
         VALUES (printf('%012x', min(max(?6, 0), 281474976710655)) || lower(hex(randomblob(10))), ?1, ?2, \
         (SELECT app_id FROM spaces WHERE space_id = ?3), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
         ?12, (SELECT app_id FROM spaces WHERE space_id = ?12), ?13, ?14, ?15, ?16, ?17, ?18, \
         ?19, ?20)",
        params![
            e.event_type.as_str(),
            e.corp_id,
            e.space_id,
            e.dentry_id,
            e.operator_id,
            e.at_ms,
            e.parent_id,
            e.name,
            e.dentry_type,
            e.size,
            e.version,
            e.previous_space_id,
            e.previous_parent_id,
            e.previous_name,
            e.source_space_id,
            e.source_dentry_id,
            e.recycle_item_id,
            e.member_type,
            e.member_id,
            e.role,
        ],
    )
    .map_err(classify)?;
    Ok(())
}

const EVENT_COLUMNS: &str = "e.seq, e.event_id, e.event_type, e.corp_id, e.app_id, e.space_id, \
     e.dentry_id, e.operator_id, e.at_ms, e.parent_id, e.name, e.dentry_type, e.size, e.version, \
     e.previous_space_id, e.previous_app_id, e.previous_parent_id, e.previous_name, \
     e.source_space_id, e.source_dentry_id, e.recycle_item_id, e.member_type, e.member_id, e.role";

fn event_from_row(row: &Row) -> rusqlite::Result<EventRecord> {
    let raw: String = row.get(2)?;
    let event_type = EventType::parse(&raw).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Text,
            format!("unknown event type {raw:?}").into(),
        )
    })?;
    Ok(EventRecord {
        seq: row.get(0)?,
        event_id: row.get(1)?,
        event_type,
        corp_id: row.get(3)?,
        app_id: row.get(4)?,
        space_id: row.get(5)?,
        dentry_id: row.get(6)?,
        operator_id: row.get(7)?,
        at_ms: row.get(8)?,
        parent_id: row.get(9)?,
        name: row.get(10)?,
        dentry_type: row.get(11)?,
        size: row.get(12)?,
        version: row.get(13)?,
        previous_space_id: row.get(14)?,
        previous_app_id: row.get(15)?,
        previous_parent_id: row.get(16)?,
        previous_name: row.get(17)?,
        source_space_id: row.get(18)?,
        source_dentry_id: row.get(19)?,
        recycle_item_id: row.get(20)?,
        member_type: row.get(21)?,
        member_id: row.get(22)?,
        role: row.get(23)?,
    })
}

fn scope_at(row: &Row, at: usize) -> rusqlite::Result<EventScope> {
    let raw: String = row.get(at)?;
    EventScope::parse(&raw).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            at,
            rusqlite::types::Type::Text,
            format!("unknown scope {raw:?}").into(),
        )
    })
}

fn subscription_from_row(row: &Row) -> rusqlite::Result<SubscriptionRecord> {
    Ok(SubscriptionRecord {
        app_id: row.get(0)?,
        scope: scope_at(row, 1)?,
        scope_id: row.get(2)?,
        corp_id: row.get(3)?,
        operator_id: row.get(4)?,
        from_seq: row.get(5)?,
        created_at: row.get(6)?,
    })
}

const CURSOR_COLUMNS: &str = "app_id, corp_id, last_seq, attempts, next_attempt_ms, last_error, \
     lease_node, lease_until_ms";

fn cursor_from_row(row: &Row) -> rusqlite::Result<CursorRecord> {
    Ok(CursorRecord {
        app_id: row.get(0)?,
        corp_id: row.get(1)?,
        last_seq: row.get(2)?,
        attempts: row.get(3)?,
        next_attempt_ms: row.get(4)?,
        last_error: row.get(5)?,
        lease_node: row.get(6)?,
        lease_until_ms: row.get(7)?,
    })
}

fn last_seq(conn: &Connection) -> StoreResult<i64> {
    // AUTOINCREMENT's high-water mark: right even when every row was purged.
    Ok(one(conn, "SELECT seq FROM sqlite_sequence WHERE name = 'events'", [], |r| r.get(0))?
        .unwrap_or(0))
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn subscribe(&self, s: &SubscriptionRecord) -> StoreResult<bool> {
        let s = s.clone();
        self.write(move |conn| {
            let from = last_seq(conn)?;
            let existed = one(
                conn,
                "SELECT 1 FROM event_subscriptions \
                 WHERE app_id = ?1 AND scope = ?2 AND scope_id = ?3",
                params![s.app_id, s.scope.as_str(), s.scope_id],
                |_| Ok(()),
            )?
            .is_some();
            // Subscribing again changes whom the subscription follows (a
            // Space subscription delivers while its operator may read).
            exec(
                conn,
                "INSERT INTO event_subscriptions \
                 (app_id, scope, scope_id, corp_id, operator_id, from_seq, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (app_id, scope, scope_id) \
                 DO UPDATE SET operator_id = excluded.operator_id",
                params![
                    s.app_id,
                    s.scope.as_str(),
                    s.scope_id,
                    s.corp_id,
                    s.operator_id,
                    from,
                    s.created_at
                ],
            )
            .map_err(classify)?;
            let added = !existed;
            exec(
                conn,
                "INSERT INTO event_cursors (app_id, corp_id, last_seq) VALUES (?1, ?2, ?3) \
                 ON CONFLICT DO NOTHING",
                params![s.app_id, s.corp_id, from],
            )
            .map_err(classify)?;
            Ok(added)
        })
        .await
    }

    async fn unsubscribe(
        &self,
        app_id: &str,
        scope: EventScope,
        scope_id: &str,
    ) -> StoreResult<bool> {
        let (app_id, scope_id) = (app_id.to_owned(), scope_id.to_owned());
        self.write(move |conn| {
            let removed = exec(
                conn,
                "DELETE FROM event_subscriptions WHERE app_id = ?1 AND scope = ?2 AND scope_id = ?3",
                params![app_id, scope.as_str(), scope_id],
            )
            .map_err(backend)?;
            Ok(removed == 1)
        })
        .await
    }

    async fn subscriptions(&self, app_id: &str) -> StoreResult<Vec<SubscriptionRecord>> {
        self.read(|conn| {
            all(
                conn,
                "SELECT app_id, scope, scope_id, corp_id, operator_id, from_seq, created_at \
                 FROM event_subscriptions WHERE app_id = ?1 ORDER BY scope, scope_id",
                [app_id],
                subscription_from_row,
            )
        })
    }

    async fn event_cursors(&self) -> StoreResult<Vec<CursorRecord>> {
        self.read(|conn| {
            let sql = format!(
                "SELECT {CURSOR_COLUMNS} FROM event_cursors c WHERE EXISTS \
                 (SELECT 1 FROM event_subscriptions s WHERE s.app_id = c.app_id) ORDER BY app_id"
            );
            all(conn, &sql, [], cursor_from_row)
        })
    }

    async fn lease_cursor(
        &self,
        app_id: &str,
        node: i64,
        now_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Option<CursorRecord>> {
        let app_id = app_id.to_owned();
        self.write_deferred(move |conn| {
            let sql = format!(
                "UPDATE event_cursors SET lease_node = ?2, lease_until_ms = ?4 \
                 WHERE app_id = ?1 AND (lease_node IS NULL OR lease_node = ?2 OR lease_until_ms <= ?3) \
                 RETURNING {CURSOR_COLUMNS}"
            );
            one(conn, &sql, params![app_id, node, now_ms, until_ms], cursor_from_row)
        })
        .await
    }

    async fn release_cursor(&self, app_id: &str, node: i64) -> StoreResult<()> {
        let app_id = app_id.to_owned();
        self.write_deferred(move |conn| {
            exec(
                conn,
                "UPDATE event_cursors SET lease_node = NULL, lease_until_ms = 0 \
                 WHERE app_id = ?1 AND lease_node = ?2",
                params![app_id, node],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn pending_events(
        &self,
        app_id: &str,
        after_seq: i64,
        limit: u32,
        window: i64,
    ) -> StoreResult<EventPage> {
        self.read(|conn| {
            // The high-water mark first: every event up to it is committed
            // (one writer, seq in commit order), so the page below cannot
            // pass over one that commits while it is read.
            let until = after_seq.saturating_add(window.max(1)).min(last_seq(conn)?);
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events e \
                 WHERE e.seq > ?2 AND e.seq <= ?3 AND EXISTS ( \
                   SELECT 1 FROM event_subscriptions s WHERE s.app_id = ?1 AND s.from_seq < e.seq AND ( \
                     (s.scope = 'ORG' AND s.scope_id = e.corp_id \
                        AND (e.app_id = s.app_id OR e.previous_app_id = s.app_id)) \
                     OR (s.scope = 'SPACE' AND (s.scope_id = e.space_id OR s.scope_id = e.previous_space_id)))) \
                 ORDER BY e.seq LIMIT ?4"
            );
            let events = all(conn, &sql, params![app_id, after_seq, until, limit], event_from_row)?;
            let scanned_to = match events.last() {
                Some(last) if events.len() as u32 >= limit => last.seq,
                _ => until.max(after_seq),
            };
            Ok(EventPage { events, scanned_to })
        })
    }

    async fn advance_cursor(&self, app_id: &str, node: i64, seq: i64) -> StoreResult<bool> {
        let app_id = app_id.to_owned();
        self.write(move |conn| {
            let moved = exec(
                conn,
                "UPDATE event_cursors SET last_seq = max(last_seq, ?3), attempts = 0, \
                 next_attempt_ms = 0, last_error = NULL WHERE app_id = ?1 AND lease_node = ?2",
                params![app_id, node, seq],
            )
            .map_err(backend)?;
            Ok(moved == 1)
        })
        .await
    }

    async fn cursor_failed(
        &self,
        app_id: &str,
        node: i64,
        next_attempt_ms: i64,
        error: &str,
    ) -> StoreResult<()> {
        let (app_id, error) = (app_id.to_owned(), error.to_owned());
        self.write_deferred(move |conn| {
            exec(
                conn,
                "UPDATE event_cursors SET attempts = attempts + 1, next_attempt_ms = ?3, \
                 last_error = ?4 WHERE app_id = ?1 AND lease_node = ?2",
                params![app_id, node, next_attempt_ms, error],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn purge_events(&self, before_ms: i64, keep_per_org: i64) -> StoreResult<u64> {
        self.write(move |conn| {
            // From the oldest up to the first event young enough: the scan
            // reads the rows it deletes and one more.
            let mut purged = exec(
                conn,
                "DELETE FROM events WHERE seq < coalesce( \
                 (SELECT seq FROM events WHERE at_ms >= ?1 ORDER BY seq LIMIT 1), \
                 (SELECT max(seq) + 1 FROM events), 0)",
                [before_ms],
            )
            .map_err(backend)?;
            // Per org: a flood in one org never pushes out another's events.
            let crowded: Vec<String> = all(
                conn,
                "SELECT corp_id FROM events GROUP BY corp_id HAVING COUNT(*) > ?1",
                [keep_per_org.max(0)],
                |r| r.get(0),
            )?;
            for corp_id in crowded {
                purged += exec(
                    conn,
                    "DELETE FROM events WHERE corp_id = ?1 AND seq <= (SELECT seq FROM events \
                     WHERE corp_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
                    params![corp_id, keep_per_org.max(0)],
                )
                .map_err(backend)?;
            }
            Ok(purged)
        })
        .await
    }

    async fn redeem_ticket(&self, nonce: &str, expires_ms: i64, now_ms: i64) -> StoreResult<bool> {
        let nonce = nonce.to_owned();
        self.write(move |conn| {
            exec(conn, "DELETE FROM stream_tickets WHERE expires_ms <= ?1", [now_ms])
                .map_err(backend)?;
            let fresh = exec(
                conn,
                "INSERT INTO stream_tickets (nonce, expires_ms) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![nonce, expires_ms],
            )
            .map_err(classify)?;
            Ok(fresh == 1)
        })
        .await
    }

    async fn last_event_seq(&self) -> StoreResult<i64> {
        self.read(last_seq)
    }

    async fn set_callback(
        &self,
        app_id: &str,
        callback: Option<&CallbackRecord>,
    ) -> StoreResult<()> {
        let app_id = app_id.to_owned();
        let callback = callback.cloned();
        self.write(move |conn| {
            match &callback {
                None => {
                    exec(conn, "DELETE FROM event_callbacks WHERE app_id = ?1", [&app_id])
                        .map_err(backend)?;
                }
                Some(c) => {
                    let changed = exec(
                        conn,
                        "INSERT INTO event_callbacks \
                         (app_id, corp_id, url, token, aes_key, owner_key, created_at) \
                         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 FROM apps WHERE app_id = ?1 AND corp_id = ?2 \
                         ON CONFLICT (app_id) DO UPDATE SET url = excluded.url, token = excluded.token, \
                         aes_key = excluded.aes_key, owner_key = excluded.owner_key, \
                         created_at = excluded.created_at",
                        params![app_id, c.corp_id, c.url, c.token, c.aes_key, c.owner_key, c.created_at],
                    )
                    .map_err(classify)?;
                    if changed == 0 {
                        return Err(StoreError::NotFound);
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn get_callback(&self, app_id: &str) -> StoreResult<Option<CallbackRecord>> {
        self.read(|conn| {
            one(
                conn,
                "SELECT app_id, corp_id, url, token, aes_key, owner_key, created_at \
                 FROM event_callbacks WHERE app_id = ?1",
                [app_id],
                |r| {
                    Ok(CallbackRecord {
                        app_id: r.get(0)?,
                        corp_id: r.get(1)?,
                        url: r.get(2)?,
                        token: r.get(3)?,
                        aes_key: r.get(4)?,
                        owner_key: r.get(5)?,
                        created_at: r.get(6)?,
                    })
                },
            )
        })
    }
}
