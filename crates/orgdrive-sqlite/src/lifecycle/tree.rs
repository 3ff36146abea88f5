//! SQLite: changes to a space's tree and to files — rename, move, copy,
//! delete (to the bin or for good), subtree sizes, versions and reverts, app
//! property edits. Each is one job on the writer: one transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::tasks::complete_task;
use super::*;
use crate::drive::{dentry_with_properties, insert_dentry, overwrite, reread, settle};
use crate::events;
use orgdrive_store::{
    Actor, CopyDentry, DeleteDentry, EditAppProperties, EventRecord, EventType, Ids, MoveDentry,
    Placed, Removed, RenameDentry, RevertVersion, TreeStore, VersionRecord,
};

#[async_trait]
impl TreeStore for SqliteStore {
    async fn rename_dentry(&self, rename: &RenameDentry) -> StoreResult<DentryRecord> {
        let rename = rename.clone();
        self.write(move |conn| {
            let before = live_dentry(conn, &rename.space_id, &rename.dentry_id)?;
            let renamed = rename_dentry(conn, &rename)?;
            let actor = &rename.actor;
            if before.as_ref().is_some_and(|b| b.name != renamed.name) {
                let mut event = EventRecord::of_dentry(
                    EventType::DentryRenamed,
                    &actor.corp_id,
                    &renamed,
                    &actor.union_id,
                    actor.now_ms,
                );
                event.previous_name = before.map(|b| b.name);
                events::append(conn, &event)?;
            }
            Ok(renamed)
        })
        .await
    }

    async fn move_dentry(&self, request: &MoveDentry, ids: Ids) -> StoreResult<Placed> {
        let request = request.clone();
        self.write(move |conn| {
            let before = live_dentry(conn, &request.space_id, &request.dentry_id)?;
            let placed = move_dentry(conn, &request, &*ids)?;
            if let (false, Some(before)) = (placed.existing, before) {
                let actor = &request.actor;
                append_replaced(conn, &placed, actor)?;
                let mut event = EventRecord::of_dentry(
                    EventType::DentryMoved,
                    &actor.corp_id,
                    &placed.dentry,
                    &actor.union_id,
                    actor.now_ms,
                );
                event.previous_space_id = Some(before.space_id);
                event.previous_parent_id = Some(before.parent_id);
                event.previous_name = Some(before.name);
                events::append(conn, &event)?;
            }
            Ok(placed)
        })
        .await
    }

    async fn copy_dentry(&self, request: &CopyDentry, ids: Ids) -> StoreResult<Placed> {
        let request = request.clone();
        self.write(move |conn| {
            let placed = copy_dentry(conn, &request, &*ids)?;
            if !placed.existing {
                let actor = &request.actor;
                append_replaced(conn, &placed, actor)?;
                let mut event = EventRecord::of_dentry(
                    EventType::DentryCopied,
                    &actor.corp_id,
                    &placed.dentry,
                    &actor.union_id,
                    actor.now_ms,
                );
                event.source_space_id = Some(request.space_id.clone());
                event.source_dentry_id = Some(request.dentry_id.clone());
                events::append(conn, &event)?;
            }
            Ok(placed)
        })
        .await
    }

    async fn delete_dentry(&self, request: &DeleteDentry) -> StoreResult<Removed> {
        let request = request.clone();
        self.write(move |conn| {
            let before = live_dentry(conn, &request.space_id, &request.dentry_id)?;
            let removed = delete_dentry(conn, &request)?;
            let actor = &request.actor;
            let event = match (&removed.recycle_item, before) {
                (Some(item), _) => Some(EventRecord::of_recycle_item(
                    EventType::DentryRecycled,
                    item,
                    &actor.union_id,
                    actor.now_ms,
                )),
                (None, Some(before)) => Some(EventRecord::of_dentry(
                    EventType::DentryDeleted,
                    &actor.corp_id,
                    &before,
                    &actor.union_id,
                    actor.now_ms,
                )),
                (None, None) => None,
            };
            if let Some(event) = event {
                events::append(conn, &event)?;
            }
            Ok(removed)
        })
        .await
    }

    async fn subtree_size(&self, space_id: &str, dentry_id: &str) -> StoreResult<i64> {
        let (space_id, dentry_id) = (space_id.to_string(), dentry_id.to_string());
        self.read_blocking(move |conn| {
            let size =
                one(conn, SUBTREE_SIZE_SQL, params![space_id, dentry_id, UNBOUNDED_WALK], |r| {
                    r.get(0)
                })?;
            Ok(size.unwrap_or(0))
        })
        .await
    }

    async fn list_versions(
        &self,
        dentry_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<VersionRecord>> {
        macro_rules! versions {
            ($filter:literal) => {
                concat!(
                    "SELECT dentry_id, version, name, size, blob_key, modifier_id, modified_at \
                     FROM dentry_versions WHERE dentry_id = ?1",
                    $filter,
                    " ORDER BY version DESC LIMIT ?2"
                )
            };
        }
        let version = |row: &rusqlite::Row| {
            Ok(VersionRecord {
                dentry_id: row.get(0)?,
                version: row.get(1)?,
                name: row.get(2)?,
                size: row.get(3)?,
                blob_key: row.get(4)?,
                modifier_id: row.get(5)?,
                modified_at: row.get(6)?,
            })
        };
        self.read(|conn| match before {
            None => all(conn, versions!(""), params![dentry_id, limit], version),
            Some(before) => all(
                conn,
                versions!(" AND version < ?3"),
                params![dentry_id, limit, before],
                version,
            ),
        })
    }

    async fn revert_version(&self, request: &RevertVersion) -> StoreResult<DentryRecord> {
        let request = request.clone();
        self.write(move |conn| {
            let reverted = revert_version(conn, &request)?;
            let actor = &request.actor;
            let event = EventRecord::of_dentry(
                EventType::VersionAdded,
                &actor.corp_id,
                &reverted,
                &actor.union_id,
                actor.now_ms,
            );
            events::append(conn, &event)?;
            Ok(reverted)
        })
        .await
    }

    async fn edit_app_properties(&self, edit: &EditAppProperties) -> StoreResult<()> {
        let edit = edit.clone();
        self.write(move |conn| edit_app_properties(conn, &edit)).await
    }
}

/// The recycled event of the live dentry an `OVERWRITE` move, copy or
/// restore sent to the bin.
pub(super) fn append_replaced(
    conn: &Connection,
    placed: &Placed,
    actor: &Actor,
) -> StoreResult<()> {
    if let Some(item) = &placed.replaced {
        let event = EventRecord::of_recycle_item(
            EventType::DentryRecycled,
            item,
            &actor.union_id,
            actor.now_ms,
        );
        events::append(conn, &event)?;
    }
    Ok(())
}

fn rename_dentry(conn: &Connection, r: &RenameDentry) -> StoreResult<DentryRecord> {
    actors_space(conn, &r.space_id, &r.actor)?;
    let d = live_dentry(conn, &r.space_id, &r.dentry_id)?.ok_or(StoreError::NotFound)?;
    if r.new_name != d.name {
        if let Some(sibling) = live_child(conn, &d, &r.new_name)? {
            return Err(StoreError::NameTaken(Box::new(sibling)));
        }
        // Only a longer name makes paths longer; the depth stays.
        let longer = chars(&r.new_name) - chars(&d.name);
        if longer > 0 {
            let parent = folder(conn, &r.space_id, &d.parent_id, UNBOUNDED_WALK)?
                .ok_or_else(|| StoreError::Backend("a live dentry's parent is not live".into()))?;
            let extent = if d.is_folder() {
                live_extent(conn, &r.space_id, &d.dentry_id, r.limits.max_depth)?
            } else {
                Extent::default()
            };
            let longest = parent.path_chars() + chars(&r.new_name) + 1 + extent.chars;
            if longest > i64::from(r.limits.max_path_chars) {
                return Err(StoreError::PathTooLong);
            }
        }
    }
    exec(
        conn,
        "UPDATE dentries SET name = ?1, modifier_id = ?2, modified_at = ?3 WHERE dentry_id = ?4",
        params![r.new_name, r.actor.union_id, r.actor.now_ms, d.dentry_id],
    )
    .map_err(backend)?;
    reread(conn, &d)
}

/// What a change under `ReturnExisting` answers: the sibling, nothing
/// changed (but the task completed).
fn existing(
    conn: &Connection,
    sibling: DentryRecord,
    task_id: Option<&str>,
    now_ms: i64,
) -> StoreResult<Placed> {
    complete_task(conn, task_id, 0, now_ms)?;
    Ok(Placed { dentry: sibling, existing: true, entries: 0, replaced: None })
}

fn move_dentry(conn: &Connection, m: &MoveDentry, ids: &dyn IdSource) -> StoreResult<Placed> {
    actors_space(conn, &m.space_id, &m.actor)?;
    let d = live_dentry(conn, &m.space_id, &m.dentry_id)?.ok_or(StoreError::NotFound)?;
    let owner = space_owner(conn, &m.to.space_id)?
        .filter(|owner| owner.corp_id == m.actor.corp_id)
        .ok_or(StoreError::SpaceNotFound)?;
    let target = target_folder(conn, &m.to.space_id, &m.to.parent_id, &m.limits, &d.dentry_id)?;
    let to = Arrival { target: &target, owner: &owner, actor: &m.actor, ids };
    let (name, replaced) =
        match settle_name(conn, &to, &d, &d.name, &m.to.conflict, Some(&d.dentry_id))? {
            Naming::Existing(sibling) => {
                return existing(conn, sibling, m.task_id.as_deref(), m.actor.now_ms)
            }
            Naming::Take { name, replaced } => (name, replaced),
        };
    let moved_at = |conn: &Connection| {
        exec(
            conn,
            "UPDATE dentries SET space_id = ?1, parent_id = ?2, name = ?3, modifier_id = ?4, \
             modified_at = ?5 WHERE dentry_id = ?6",
            params![
                m.to.space_id,
                m.to.parent_id,
                name,
                m.actor.union_id,
                m.actor.now_ms,
                d.dentry_id
            ],
        )
        .map_err(backend)
    };
    let entries = if m.to.space_id == m.space_id {
        // One row changes. The subtree is read only if its paths may grow.
        let new_depth = target.depth() + 1;
        let new_chars = target.path_chars() + chars(&name) + 1;
        let grows = match folder(conn, &m.space_id, &d.parent_id, UNBOUNDED_WALK)? {
            Some(old) if old.complete => {
                new_depth > old.depth() + 1 || new_chars > old.path_chars() + chars(&d.name) + 1
            }
            _ => true,
        };
        if grows {
            let extent = if d.is_folder() {
                live_extent(conn, &m.space_id, &d.dentry_id, m.limits.max_depth)?
            } else {
                Extent::default()
            };
            check_limits(&m.limits, &target, &name, extent)?;
        }
        moved_at(conn)?;
        let stays = m.to.parent_id == d.parent_id;
        if !m.keep_grants && !stays && crate::grants::space_has_grants(conn, &m.space_id)? {
            let subtree = live_members(conn, &m.space_id, &d.dentry_id, UNBOUNDED_WALK)?;
            drop_moved_grants(conn, m, &member_ids(&subtree))?;
        }
        1
    } else {
        // Every row of the subtree changes space, and its bytes move along.
        let members = live_members(conn, &m.space_id, &d.dentry_id, m.limits.max_depth)?;
        check_limits(&m.limits, &target, &name, extent_of(&members))?;
        let subtree = member_ids(&members);
        move_bytes(conn, &m.space_id, &m.to.space_id, content_bytes(conn, &subtree)?)?;
        // The root first: its name is free only under its new parent.
        moved_at(conn)?;
        exec(
            conn,
            "UPDATE dentries SET space_id = ?1 WHERE dentry_id IN rarray(?2)",
            params![m.to.space_id, id_array(subtree.iter().skip(1))],
        )
        .map_err(backend)?;
        if m.keep_grants {
            exec(
                conn,
                "UPDATE grants SET space_id = ?1 WHERE dentry_id IN rarray(?2)",
                params![m.to.space_id, id_array(subtree.iter())],
            )
            .map_err(backend)?;
        } else {
            drop_moved_grants(conn, m, &subtree)?;
        }
        subtree.len() as i64
    };
    complete_task(conn, m.task_id.as_deref(), entries, m.actor.now_ms)?;
    let dentry = dentry_with_properties(conn, &m.to.space_id, &d.dentry_id)?
        .ok_or_else(|| StoreError::Backend("the moved dentry vanished".into()))?;
    Ok(Placed { dentry, existing: false, entries, replaced })
}

/// Removes the grants on the moved dentries, unless the move protects
/// `OWNER` grants and one of them is one.
fn drop_moved_grants(conn: &Connection, m: &MoveDentry, subtree: &[String]) -> StoreResult<()> {
    if m.protect_owner_grants && crate::grants::holds_owner_grant(conn, subtree, m.actor.now_ms)? {
        return Err(StoreError::OwnerGrantInTheWay);
    }
    crate::grants::drop_grants(conn, subtree)
}

/// Moves `bytes` from one space's counter to another's of the same org,
/// unless the target's quota would be passed (`QuotaExceeded`); the org's
/// counter does not change.
fn move_bytes(conn: &Connection, from: &str, to: &str, bytes: i64) -> StoreResult<()> {
    if bytes == 0 {
        return Ok(());
    }
    let charged = exec(
        conn,
        "UPDATE spaces SET used_bytes = used_bytes + ?1 WHERE space_id = ?2 \
         AND (quota IS NULL OR used_bytes + reserved_bytes + ?1 <= quota)",
        params![bytes, to],
    )
    .map_err(backend)?;
    if charged == 0 {
        return Err(StoreError::QuotaExceeded { space: true });
    }
    exec(
        conn,
        "UPDATE spaces SET used_bytes = MAX(used_bytes - ?1, 0) WHERE space_id = ?2",
        params![bytes, from],
    )
    .map_err(backend)?;
    Ok(())
}

fn copy_dentry(conn: &Connection, c: &CopyDentry, ids: &dyn IdSource) -> StoreResult<Placed> {
    actors_space(conn, &c.space_id, &c.actor)?;
    let d = live_dentry(conn, &c.space_id, &c.dentry_id)?.ok_or(StoreError::NotFound)?;
    let owner = space_owner(conn, &c.to.space_id)?
        .filter(|owner| owner.corp_id == c.actor.corp_id)
        .ok_or(StoreError::SpaceNotFound)?;
    let target = target_folder(conn, &c.to.space_id, &c.to.parent_id, &c.limits, &d.dentry_id)?;
    let members = live_members(conn, &c.space_id, &d.dentry_id, c.limits.max_depth)?;
    let to = Arrival { target: &target, owner: &owner, actor: &c.actor, ids };
    let (name, replaced) = match settle_name(conn, &to, &d, &d.name, &c.to.conflict, None)? {
        Naming::Existing(sibling) => {
            return existing(conn, sibling, c.task_id.as_deref(), c.actor.now_ms)
        }
        Naming::Take { name, replaced } => (name, replaced),
    };
    check_limits(&c.limits, &target, &name, extent_of(&members))?;
    let sources = subtree_records(conn, &members)?;
    let charged: i64 = sources.iter().filter(|s| !s.is_folder()).map(|s| s.size).sum();
    settle(conn, &c.to.space_id, &owner.corp_id, 0, charged)?;
    let mut copied: HashMap<&str, String> = HashMap::with_capacity(sources.len());
    for (i, source) in sources.iter().enumerate() {
        let (dentry_id, uuid, parent_id, name) = if i == 0 {
            (c.new_dentry_id.clone(), c.new_uuid.clone(), c.to.parent_id.clone(), name.clone())
        } else {
            let parent = copied
                .get(source.parent_id.as_str())
                .ok_or_else(|| StoreError::Backend("a copied dentry lost its parent".into()))?;
            (ids.next_id(), ids.next_uuid(), parent.clone(), source.name.clone())
        };
        let copy = DentryRecord {
            dentry_id,
            uuid,
            space_id: c.to.space_id.clone(),
            parent_id,
            name,
            version: 1,
            status: "NORMAL".into(),
            creator_id: c.actor.union_id.clone(),
            modifier_id: c.actor.union_id.clone(),
            created_at: c.actor.now_ms,
            modified_at: c.actor.now_ms,
            ..source.clone()
        };
        if !insert_dentry(conn, &copy, &copy.name)? {
            return Err(StoreError::Backend("a copied dentry's name is taken".into()));
        }
        exec(
            conn,
            "INSERT INTO app_properties (dentry_id, app_id, name, value, visibility) \
             SELECT ?1, app_id, name, value, visibility FROM app_properties WHERE dentry_id = ?2",
            [&copy.dentry_id, &source.dentry_id],
        )
        .map_err(backend)?;
        copied.insert(&source.dentry_id, copy.dentry_id);
    }
    let entries = sources.len() as i64;
    complete_task(conn, c.task_id.as_deref(), entries, c.actor.now_ms)?;
    let dentry = dentry_with_properties(conn, &c.to.space_id, &c.new_dentry_id)?
        .ok_or_else(|| StoreError::Backend("the copy vanished".into()))?;
    Ok(Placed { dentry, existing: false, entries, replaced })
}

/// The members' records, in the members' order (parents before children).
fn subtree_records(conn: &Connection, members: &[Member]) -> StoreResult<Vec<DentryRecord>> {
    const SQL: &str =
        concat!("SELECT ", dentry_columns!(""), " FROM dentries WHERE dentry_id IN rarray(?1)");
    let mut found: HashMap<String, DentryRecord> =
        all(conn, SQL, [id_array(members.iter().map(|m| &m.dentry_id))], dentry_from_row)?
            .into_iter()
            .map(|d| (d.dentry_id.clone(), d))
            .collect();
    members
        .iter()
        .map(|m| {
            found
                .remove(&m.dentry_id)
                .ok_or_else(|| StoreError::Backend("a subtree's dentry vanished".into()))
        })
        .collect()
}

fn delete_dentry(conn: &Connection, del: &DeleteDentry) -> StoreResult<Removed> {
    let owner = actors_space(conn, &del.space_id, &del.actor)?;
    let d = live_dentry(conn, &del.space_id, &del.dentry_id)?.ok_or(StoreError::NotFound)?;
    let subtree = member_ids(&live_members(conn, &del.space_id, &d.dentry_id, UNBOUNDED_WALK)?);
    let entries = subtree.len() as i64;
    let removed = match &del.recycle_item_id {
        Some(recycle_item_id) => {
            let parent = folder(conn, &del.space_id, &d.parent_id, UNBOUNDED_WALK)?
                .ok_or_else(|| StoreError::Backend("a live dentry's parent is not live".into()))?;
            let size: i64 = one(
                conn,
                "SELECT COALESCE(SUM(size), 0) FROM dentries \
                 WHERE dentry_id IN rarray(?1) AND kind = 'FILE'",
                [id_array(subtree.iter())],
                |r| r.get(0),
            )?
            .unwrap_or(0);
            let item = RecycleItemRecord {
                recycle_item_id: recycle_item_id.clone(),
                corp_id: owner.corp_id,
                app_id: owner.app_id,
                space_id: owner.space_id,
                dentry_id: d.dentry_id.clone(),
                kind: d.kind.clone(),
                name: d.name.clone(),
                path: parent.path_of(&d.name),
                parent_id: d.parent_id.clone(),
                size,
                operator_id: del.actor.union_id.clone(),
                deleted_at: del.actor.now_ms,
                entries: subtree.len() as i64,
            };
            bin(conn, &item, &subtree)?;
            Removed { entries, recycle_item: Some(item), ..Removed::default() }
        }
        None => {
            let (freed_bytes, trashed_objects) = remove_dentries(conn, &subtree, del.actor.now_ms)?;
            Removed { entries, freed_bytes, trashed_objects, recycle_item: None }
        }
    };
    complete_task(conn, del.task_id.as_deref(), entries, del.actor.now_ms)?;
    Ok(removed)
}

fn revert_version(conn: &Connection, r: &RevertVersion) -> StoreResult<DentryRecord> {
    let owner = actors_space(conn, &r.space_id, &r.actor)?;
    let current = live_dentry(conn, &r.space_id, &r.dentry_id)?
        .filter(|d| !d.is_folder())
        .ok_or(StoreError::NotFound)?;
    let kept: Option<(i64, String)> = one(
        conn,
        "SELECT size, blob_key FROM dentry_versions WHERE dentry_id = ?1 AND version = ?2",
        params![r.dentry_id, r.version],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let (size, blob_key) = kept.ok_or(StoreError::VersionNotFound)?;
    settle(conn, &r.space_id, &owner.corp_id, 0, size)?;
    let content = DentryRecord {
        size,
        blob_key: Some(blob_key),
        modifier_id: r.actor.union_id.clone(),
        modified_at: r.actor.now_ms,
        ..current.clone()
    };
    let reverted = overwrite(conn, &current, &content)?;
    reread(conn, &reverted)
}

fn edit_app_properties(conn: &Connection, edit: &EditAppProperties) -> StoreResult<()> {
    live_dentry(conn, &edit.space_id, &edit.dentry_id)?.ok_or(StoreError::NotFound)?;
    for property in &edit.set {
        exec(
            conn,
            "INSERT INTO app_properties (dentry_id, app_id, name, value, visibility) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (dentry_id, app_id, name) \
             DO UPDATE SET value = excluded.value, visibility = excluded.visibility",
            [&edit.dentry_id, &edit.app_id, &property.name, &property.value, &property.visibility],
        )
        .map_err(backend)?;
    }
    for name in &edit.remove {
        exec(
            conn,
            "DELETE FROM app_properties WHERE dentry_id = ?1 AND app_id = ?2 AND name = ?3",
            [&edit.dentry_id, &edit.app_id, name],
        )
        .map_err(backend)?;
    }
    let held: i64 = one(
        conn,
        "SELECT COUNT(*) FROM app_properties WHERE dentry_id = ?1 AND app_id = ?2",
        [&edit.dentry_id, &edit.app_id],
        |r| r.get(0),
    )?
    .unwrap_or(0);
    if held > i64::from(edit.max_per_app) {
        return Err(StoreError::TooManyProperties);
    }
    Ok(())
}
