//! SQLite: recycle bins (named views over items) and recycle items —
//! listing, restoring, purging.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::tasks::complete_task;
use super::tree::append_replaced;
use super::*;
use crate::events;
use orgdrive_store::{
    EventRecord, EventType, Ids, ItemCursor, ItemFilter, Placed, RecycleBinRecord, RecycleScope,
    RecycleStore, Removed, RestoreItem,
};

fn bin_from_row(r: &rusqlite::Row) -> rusqlite::Result<RecycleBinRecord> {
    let scope: String = r.get(2)?;
    Ok(RecycleBinRecord {
        recycle_bin_id: r.get(0)?,
        corp_id: r.get(1)?,
        scope: RecycleScope::parse(&scope).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                "unknown recycle bin scope".into(),
            )
        })?,
        scope_id: r.get(3)?,
        created_at: r.get(4)?,
    })
}

/// A page of recycle items, newest first, after a cursor (maybe): `$scope`
/// names the index and the filter — a space's items (corp `?1`, space `?2`,
/// app `?3` or any when NULL) from the space's index, an app's (corp `?1`,
/// app `?2`) from the app's, an org's (corp `?1`) from the org's; the cursor
/// and the limit take the next parameters. The index is named: the planner
/// plans each statement once and may not know which is narrower.
macro_rules! items_page {
    (space, $after:literal, $limit:literal) => {
        items_page!(@ "recycle_items_by_space",
            "corp_id = ?1 AND space_id = ?2 AND (?3 IS NULL OR app_id = ?3)", $after, $limit)
    };
    (app, $after:literal, $limit:literal) => {
        items_page!(@ "recycle_items_by_app", "corp_id = ?1 AND app_id = ?2", $after, $limit)
    };
    (org, $after:literal, $limit:literal) => {
        items_page!(@ "recycle_items_by_org", "corp_id = ?1", $after, $limit)
    };
    (@ $index:literal, $filter:literal, $after:literal, $limit:literal) => {
        concat!(
            "SELECT ",
            recycle_item_columns!(),
            " FROM recycle_items INDEXED BY ",
            $index,
            " WHERE ",
            $filter,
            $after,
            " ORDER BY deleted_at DESC, recycle_item_id DESC LIMIT ",
            $limit
        )
    };
}

/// Whether the filter covers the item.
fn covers(filter: &ItemFilter, item: &RecycleItemRecord) -> bool {
    item.corp_id == filter.corp_id
        && filter.app_id.as_ref().is_none_or(|app| *app == item.app_id)
        && filter.space_id.as_ref().is_none_or(|space| *space == item.space_id)
}

/// The item, if it is one of `filter`'s.
fn filtered_item(
    conn: &Connection,
    recycle_item_id: &str,
    filter: &ItemFilter,
) -> StoreResult<Option<RecycleItemRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        recycle_item_columns!(),
        " FROM recycle_items WHERE recycle_item_id = ?1"
    );
    let item = one(conn, SQL, [recycle_item_id], recycle_item_from_row)?;
    Ok(item.filter(|item| covers(filter, item)))
}

/// Now, for the trash's bookkeeping when the caller gives no time.
fn wall_clock_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[async_trait]
impl RecycleStore for SqliteStore {
    async fn recycle_bin_once(&self, bin: &RecycleBinRecord) -> StoreResult<RecycleBinRecord> {
        let bin = bin.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO recycle_bins (recycle_bin_id, corp_id, scope, scope_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (corp_id, scope, scope_id) DO NOTHING",
                params![
                    bin.recycle_bin_id,
                    bin.corp_id,
                    bin.scope.as_str(),
                    bin.scope_id,
                    bin.created_at
                ],
            )
            .map_err(classify)?;
            one(
                conn,
                "SELECT recycle_bin_id, corp_id, scope, scope_id, created_at FROM recycle_bins \
                 WHERE corp_id = ?1 AND scope = ?2 AND scope_id = ?3",
                [&bin.corp_id, bin.scope.as_str(), &bin.scope_id],
                bin_from_row,
            )?
            .ok_or_else(|| StoreError::Backend("the recycle bin vanished".into()))
        })
        .await
    }

    async fn get_recycle_bin(&self, recycle_bin_id: &str) -> StoreResult<Option<RecycleBinRecord>> {
        self.read(|conn| {
            one(
                conn,
                "SELECT recycle_bin_id, corp_id, scope, scope_id, created_at FROM recycle_bins \
                 WHERE recycle_bin_id = ?1",
                [recycle_bin_id],
                bin_from_row,
            )
        })
    }

    async fn list_recycle_items(
        &self,
        filter: &ItemFilter,
        after: Option<&ItemCursor>,
        limit: u32,
    ) -> StoreResult<Vec<RecycleItemRecord>> {
        let (corp, app) = (&filter.corp_id, &filter.app_id);
        let map = recycle_item_from_row;
        let cursor = after.map(|c| (c.deleted_at, c.recycle_item_id.clone()));
        self.read(|conn| match (&filter.space_id, app, cursor) {
            (Some(space), _, None) => {
                all(conn, items_page!(space, "", "?4"), params![corp, space, app, limit], map)
            }
            (Some(space), _, Some((at, id))) => all(
                conn,
                items_page!(space, " AND (deleted_at, recycle_item_id) < (?4, ?5)", "?6"),
                params![corp, space, app, at, id, limit],
                map,
            ),
            (None, Some(app), None) => {
                all(conn, items_page!(app, "", "?3"), params![corp, app, limit], map)
            }
            (None, Some(app), Some((at, id))) => all(
                conn,
                items_page!(app, " AND (deleted_at, recycle_item_id) < (?3, ?4)", "?5"),
                params![corp, app, at, id, limit],
                map,
            ),
            (None, None, None) => all(conn, items_page!(org, "", "?2"), params![corp, limit], map),
            (None, None, Some((at, id))) => all(
                conn,
                items_page!(org, " AND (deleted_at, recycle_item_id) < (?2, ?3)", "?4"),
                params![corp, at, id, limit],
                map,
            ),
        })
    }

    async fn get_recycle_item(
        &self,
        recycle_item_id: &str,
    ) -> StoreResult<Option<RecycleItemRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            recycle_item_columns!(),
            " FROM recycle_items WHERE recycle_item_id = ?1"
        );
        self.read(|conn| one(conn, SQL, [recycle_item_id], recycle_item_from_row))
    }

    async fn restore_recycle_item(&self, restore: &RestoreItem, ids: Ids) -> StoreResult<Placed> {
        let restore = restore.clone();
        self.write(move |conn| {
            let placed = restore_item(conn, &restore, &*ids)?;
            if !placed.existing {
                let actor = &restore.actor;
                append_replaced(conn, &placed, actor)?;
                let mut event = EventRecord::of_dentry(
                    EventType::DentryRestored,
                    &actor.corp_id,
                    &placed.dentry,
                    &actor.union_id,
                    actor.now_ms,
                );
                event.recycle_item_id = Some(restore.recycle_item_id.clone());
                events::append(conn, &event)?;
            }
            Ok(placed)
        })
        .await
    }

    async fn purge_recycle_items(
        &self,
        filter: &ItemFilter,
        item_ids: Option<&[String]>,
        operator_id: &str,
    ) -> StoreResult<Removed> {
        let filter = filter.clone();
        let item_ids = item_ids.map(<[String]>::to_vec);
        let operator_id = operator_id.to_owned();
        let now_ms = wall_clock_ms();
        self.write(move |conn| purge(conn, &filter, item_ids.as_deref(), &operator_id, now_ms))
            .await
    }
}

fn restore_item(conn: &Connection, r: &RestoreItem, ids: &dyn IdSource) -> StoreResult<Placed> {
    let item = filtered_item(conn, &r.recycle_item_id, &r.filter)?.ok_or(StoreError::NotFound)?;
    if r.to.space_id != item.space_id {
        return Err(StoreError::ParentNotFound);
    }
    let owner = space_owner(conn, &item.space_id)?
        .ok_or_else(|| StoreError::Backend("a recycle item's space vanished".into()))?;
    const ROOT: &str = concat!(
        "SELECT ",
        dentry_columns!(""),
        " FROM dentries WHERE dentry_id = ?1 AND recycle_item_id = ?2"
    );
    let root = one(conn, ROOT, [&item.dentry_id, &item.recycle_item_id], dentry_from_row)?
        .ok_or_else(|| StoreError::Backend("a recycle item's dentry vanished".into()))?;
    let target = target_folder(conn, &item.space_id, &r.to.parent_id, &r.limits, &root.dentry_id)?;
    let to = Arrival { target: &target, owner: &owner, actor: &r.actor, ids };
    let (name, replaced) = match settle_name(conn, &to, &root, &root.name, &r.to.conflict, None)? {
        Naming::Existing(sibling) => {
            complete_task(conn, r.task_id.as_deref(), 0, r.actor.now_ms)?;
            return Ok(Placed { dentry: sibling, existing: true, entries: 0, replaced: None });
        }
        Naming::Take { name, replaced } => (name, replaced),
    };
    let members = all(
        conn,
        ITEM_MEMBERS_SQL,
        params![item.recycle_item_id, root.dentry_id, r.limits.max_depth],
        member_from_row,
    )?;
    check_limits(&r.limits, &target, &name, extent_of(&members))?;
    // The root's place first, while it is not live: its old name may be
    // taken at its old place.
    exec(
        conn,
        "UPDATE dentries SET parent_id = ?1, name = ?2 WHERE dentry_id = ?3",
        params![r.to.parent_id, name, root.dentry_id],
    )
    .map_err(backend)?;
    let entries = exec(
        conn,
        "UPDATE dentries SET status = 'NORMAL', recycle_item_id = NULL \
         WHERE recycle_item_id = ?1",
        [&item.recycle_item_id],
    )
    .map_err(backend)? as i64;
    exec(conn, "DELETE FROM recycle_items WHERE recycle_item_id = ?1", [&item.recycle_item_id])
        .map_err(backend)?;
    complete_task(conn, r.task_id.as_deref(), entries, r.actor.now_ms)?;
    let dentry = reread(conn, &root)?;
    Ok(Placed { dentry, existing: false, entries, replaced })
}

fn purge(
    conn: &Connection,
    filter: &ItemFilter,
    item_ids: Option<&[String]>,
    operator_id: &str,
    now_ms: i64,
) -> StoreResult<Removed> {
    const ALL: &str = "SELECT recycle_item_id FROM recycle_items WHERE corp_id = ?1 \
                       AND (?2 IS NULL OR app_id = ?2) AND (?3 IS NULL OR space_id = ?3)";
    const SOME: &str = "SELECT recycle_item_id FROM recycle_items \
                        WHERE recycle_item_id IN rarray(?4) AND corp_id = ?1 \
                        AND (?2 IS NULL OR app_id = ?2) AND (?3 IS NULL OR space_id = ?3)";
    let (corp, app, space) = (&filter.corp_id, &filter.app_id, &filter.space_id);
    let items: Vec<String> = match item_ids {
        None => all(conn, ALL, params![corp, app, space], |r| r.get(0))?,
        Some(wanted) => {
            all(conn, SOME, params![corp, app, space, id_array(wanted.iter())], |r| r.get(0))?
        }
    };
    if items.is_empty() {
        return Ok(Removed::default());
    }
    let dentries: Vec<String> = all(
        conn,
        "SELECT dentry_id FROM dentries WHERE recycle_item_id IN rarray(?1)",
        [id_array(items.iter())],
        |r| r.get(0),
    )?;
    let purged = all(
        conn,
        concat!(
            "SELECT ",
            recycle_item_columns!(),
            " FROM recycle_items WHERE recycle_item_id IN rarray(?1) \
             ORDER BY deleted_at, recycle_item_id"
        ),
        [id_array(items.iter())],
        recycle_item_from_row,
    )?;
    for item in &purged {
        let event =
            EventRecord::of_recycle_item(EventType::DentryDeleted, item, operator_id, now_ms);
        events::append(conn, &event)?;
    }
    let (freed_bytes, trashed_objects) = remove_dentries(conn, &dentries, now_ms)?;
    exec(
        conn,
        "DELETE FROM recycle_items WHERE recycle_item_id IN rarray(?1)",
        [id_array(items.iter())],
    )
    .map_err(backend)?;
    Ok(Removed { entries: dentries.len() as i64, freed_bytes, trashed_objects, recycle_item: None })
}
