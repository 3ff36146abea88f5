//! Tree changes: rename, move, copy, delete (to the bin or for good),
//! subtree sizes, versions and reverts, app property edits. Each is one
//! transaction that locks its task row (if any) and then its spaces' rows
//! `FOR UPDATE` first (see the module doc of `lifecycle`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use orgdrive_store::{
    Actor, CopyDentry, DeleteDentry, DentryRecord, EditAppProperties, EventRecord, EventType,
    IdSource, Ids, MoveDentry, Placed, RecycleItemRecord, Removed, RenameDentry, RevertVersion,
    StoreError, StoreResult, TreeStore, VersionRecord,
};

use super::tasks::{complete_task, lock_task};
use super::*;
use crate::dentries::{dentry_with_properties, insert_dentry, live_child, overwrite, reread};
use crate::events::new_event_id;
use crate::rows::{
    dentries_by_id, dentries_joined, live_dentries_by_id, property_at, version_columns,
    version_from_row, DENTRY_WIDTH,
};
use crate::shared_tx::{Applied, SetWrite, TxFuture};
use crate::uploads::settle;
use crate::{events, Params, PgStore};
use deadpool_postgres::Client;

#[async_trait]
impl TreeStore for PgStore {
    async fn rename_dentry(&self, rename: &RenameDentry) -> StoreResult<DentryRecord> {
        let rename = Arc::new(rename.clone());
        let spaces = vec![rename.space_id.clone()];
        self.combined_in_set(spaces, false, rename.clone(), move |t| {
            let rename = rename.clone();
            Box::pin(async move { rename_with_event(t, &rename).await })
        })
        .await
    }

    async fn move_dentry(&self, request: &MoveDentry, ids: Ids) -> StoreResult<Placed> {
        if request.task_id.is_some() {
            // A task's change locks its task row before the spaces.
            return crate::tx!(self, |t| {
                let (placed, appended) = move_with_events(&t, request, &*ids).await?;
                events::append(&t, &appended).await?;
                placed
            });
        }
        let request = Arc::new(request.clone());
        let spaces = vec![request.space_id.clone(), request.to.space_id.clone()];
        self.combined_in_set(spaces, true, request.clone(), move |t| {
            let (request, ids) = (request.clone(), ids.clone());
            Box::pin(async move { move_with_events(t, &request, &*ids).await })
        })
        .await
    }

    async fn move_plain_file(&self, request: &MoveDentry) -> StoreResult<Option<Placed>> {
        if request.task_id.is_some() || request.to.space_id != request.space_id {
            return Ok(None);
        }
        // Its row of its batch's `MOVES_AT_ONCE_SQL` (with the batch's
        // other file moves), and nothing else.
        let spaces = vec![request.space_id.clone()];
        self.attempted_in_set(spaces, Arc::new(request.clone())).await
    }

    async fn copy_dentry(&self, request: &CopyDentry, ids: Ids) -> StoreResult<Placed> {
        crate::tx!(self, |t| {
            let placed = copy_dentry(&t, request, &*ids).await?;
            if !placed.existing {
                let actor = &request.actor;
                append_replaced(&t, &placed, actor).await?;
                let mut event = EventRecord::of_dentry(
                    EventType::DentryCopied,
                    &actor.corp_id,
                    &placed.dentry,
                    &actor.union_id,
                    actor.now_ms,
                );
                event.source_space_id = Some(request.space_id.clone());
                event.source_dentry_id = Some(request.dentry_id.clone());
                events::append(&t, &[event]).await?;
            }
            placed
        })
    }

    async fn delete_dentry(&self, request: &DeleteDentry) -> StoreResult<Removed> {
        crate::tx!(self, |t| {
            let (before, removed) = delete_dentry(&t, request).await?;
            let actor = &request.actor;
            let event = match &removed.recycle_item {
                Some(item) => EventRecord::of_recycle_item(
                    EventType::DentryRecycled,
                    item,
                    &actor.union_id,
                    actor.now_ms,
                ),
                None => EventRecord::of_dentry(
                    EventType::DentryDeleted,
                    &actor.corp_id,
                    &before,
                    &actor.union_id,
                    actor.now_ms,
                ),
            };
            events::append(&t, &[event]).await?;
            removed
        })
    }

    async fn subtree_size(&self, space_id: &str, dentry_id: &str) -> StoreResult<i64> {
        crate::read!(self, |c| {
            one(&c, SUBTREE_SIZE_SQL, &[&space_id, &dentry_id, &UNBOUNDED_WALK])
                .await?
                .map_or(Ok(0), |r| r.try_get(0))?
        })
    }

    async fn list_versions(
        &self,
        dentry_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<VersionRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            version_columns!(),
            " FROM dentry_versions WHERE dentry_id = $1 \
             AND ($2::BIGINT IS NULL OR version < $2) ORDER BY version DESC LIMIT $3"
        );
        let limit = i64::from(limit);
        crate::read!(self, |c| {
            all(&c, SQL, &[&dentry_id, &before, &limit])
                .await?
                .iter()
                .map(version_from_row)
                .collect::<DbResult<Vec<_>>>()?
        })
    }

    async fn revert_version(&self, request: &RevertVersion) -> StoreResult<DentryRecord> {
        crate::tx!(self, |t| {
            let reverted = revert_version(&t, request).await?;
            let actor = &request.actor;
            let event = EventRecord::of_dentry(
                EventType::VersionAdded,
                &actor.corp_id,
                &reverted,
                &actor.union_id,
                actor.now_ms,
            );
            events::append(&t, &[event]).await?;
            reverted
        })
    }

    async fn edit_app_properties(&self, edit: &EditAppProperties) -> StoreResult<()> {
        crate::tx!(self, |t| edit_app_properties(&t, edit).await?)
    }
}

/// The recycled event of the live dentry an `OVERWRITE` move, copy or
/// restore sent to the bin.
pub(super) async fn append_replaced(t: &Tx<'_>, placed: &Placed, actor: &Actor) -> DbResult<()> {
    events::append(t, &replaced_event(placed, actor).into_iter().collect::<Vec<_>>()).await
}

/// The event of the sibling a change replaced (binned), if it did.
fn replaced_event(placed: &Placed, actor: &Actor) -> Option<EventRecord> {
    let item = placed.replaced.as_ref()?;
    Some(EventRecord::of_recycle_item(
        EventType::DentryRecycled,
        item,
        &actor.union_id,
        actor.now_ms,
    ))
}

/// RenameDentry's body: the rename, and its event to append.
async fn rename_with_event(
    t: &Tx<'_>,
    rename: &RenameDentry,
) -> DbResult<(DentryRecord, Vec<EventRecord>)> {
    let (before, renamed) = rename_dentry(t, rename).await?;
    let event = renamed_event(&rename.actor, before, &renamed);
    Ok((renamed, event.into_iter().collect()))
}

/// What CTE `u` of a statement over a set of writes returns, after its
/// `UPDATE … FROM f` (`f`: the writes, `i` and each one's dentry as it
/// was): the rows of `f` it applied (the statement goes on with the
/// columns of `f` its events need, then closes `u`). Joining `u` back to
/// `f` instead was a nested loop over both, quadratic in the batch.
macro_rules! returning_applied {
    () => {
        concat!(" RETURNING ", dentry_columns!("f."), ", f.i")
    };
}
/// The end of a statement over a set of writes, after its CTEs: the rows
/// [`applied_in_set`] reads, from `u` (see [`returning_applied`]).
macro_rules! answered_applied {
    () => {
        concat!(
            " SELECT ",
            dentry_columns!("u."),
            ", u.i, p.dentry_id, p.app_id, p.name, p.value, p.visibility \
             FROM u LEFT JOIN app_properties p ON p.dentry_id = u.dentry_id \
             ORDER BY u.i, p.app_id, p.name"
        )
    };
}
/// The renames of a batch in one statement: per rename (arrays `$1`–`$6`:
/// space, dentry, new name, modifier, time, actor's org; `i` its place,
/// from 1), the live dentry, renamed if it is of the actor's org and the
/// name is free (no live sibling has it, no other rename of the statement
/// takes it) and no longer, and the dentry is renamed once in the
/// statement. A name a rename frees is not free to the others of the
/// statement (its dentry's name is taken in the statement's snapshot):
/// the unique index on live names never sees two at once. One row per app
/// property of each dentry renamed (at least one), ordered by `i`: the
/// dentry as it was, `i`, the property. The event of each rename that
/// changed the name (type `$7`) is appended, in the order of `i`, as
/// [`renamed_event`] makes it.
pub(crate) const RENAMES_AT_ONCE_SQL: &str = concat!(
    "WITH k AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
         $5::bigint[], $6::text[]) WITH ORDINALITY \
         AS k(space_id, dentry_id, new_name, modifier_id, now_ms, corp_id, i)), \
     f AS (SELECT ",
    dentry_columns!("d."),
    ", k.i, k.new_name, k.modifier_id AS new_modifier_id, k.now_ms, \
         k.corp_id AS actor_corp_id, s.app_id AS space_app_id, \
         s.corp_id = k.corp_id AND char_length(k.new_name) <= char_length(d.name) \
         AND NOT (k.new_name <> d.name AND EXISTS (SELECT 1 FROM dentries sib \
             WHERE sib.space_id = d.space_id AND sib.parent_id = d.parent_id \
             AND sib.name = k.new_name AND sib.status = 'NORMAL')) \
         AND count(*) OVER (PARTITION BY d.dentry_id) = 1 \
         AND count(*) OVER (PARTITION BY d.space_id, d.parent_id, k.new_name) = 1 AS applies \
     FROM k JOIN spaces s ON s.space_id = k.space_id LEFT JOIN LATERAL ",
    dentries_by_id!("= k.dentry_id"),
    " d ON d.space_id = s.space_id AND d.status = 'NORMAL'), \
     u AS (UPDATE dentries SET name = f.new_name, modifier_id = f.new_modifier_id, \
         modified_at = f.now_ms FROM (SELECT * FROM f WHERE f.applies \
         ORDER BY f.space_id, f.parent_id, f.new_name COLLATE \"C\") f \
         WHERE dentries.dentry_id = f.dentry_id",
    returning_applied!(),
    ", f.new_name, f.new_modifier_id, f.now_ms, f.actor_corp_id, f.space_app_id), \
     appended AS (INSERT INTO events (event_id, event_type, corp_id, app_id, space_id, \
         dentry_id, operator_id, at_ms, parent_id, name, dentry_type, size, version, \
         previous_name) SELECT ",
    new_event_id!("u.now_ms"),
    ", $7::text, u.actor_corp_id, COALESCE(u.space_app_id, ''), u.space_id, u.dentry_id, \
         u.new_modifier_id, u.now_ms, u.parent_id, u.new_name, u.kind, u.size, u.version, \
         u.name FROM u WHERE u.new_name <> u.name ORDER BY u.i)",
    answered_applied!()
);

impl PgStore {
    /// [`RENAMES_AT_ONCE_SQL`] on `renames`, alone (`applied_at_once`).
    #[doc(hidden)]
    pub async fn renames_at_once(
        &self,
        renames: &[RenameDentry],
    ) -> StoreResult<Vec<Option<DentryRecord>>> {
        let spaces: Vec<&str> = renames.iter().map(|r| r.space_id.as_str()).collect();
        self.applied_at_once(&spaces, renames).await
    }

    /// [`MOVES_AT_ONCE_SQL`] on `moves`, alone (`applied_at_once`).
    #[doc(hidden)]
    pub async fn moves_at_once(&self, moves: &[MoveDentry]) -> StoreResult<Vec<Option<Placed>>> {
        let ends = moves.iter().flat_map(|m| [m.space_id.as_str(), m.to.space_id.as_str()]);
        self.applied_at_once(&ends.collect::<Vec<_>>(), moves).await
    }
}

impl SetWrite for RenameDentry {
    type Answer = DentryRecord;
    const STATEMENT: &'static str = RENAMES_AT_ONCE_SQL;

    /// [`RENAMES_AT_ONCE_SQL`]: the renames applied (their events appended).
    fn apply_all<'a>(c: &'a Client, renames: Vec<&'a Self>) -> TxFuture<'a, Applied<DentryRecord>> {
        Box::pin(async move {
            let text = |f: fn(&RenameDentry) -> &str| -> Vec<&str> {
                renames.iter().map(|&r| f(r)).collect()
            };
            let (spaces, dentries, names) =
                (text(|r| &r.space_id), text(|r| &r.dentry_id), text(|r| &r.new_name));
            let (modifiers, corps) = (text(|r| &r.actor.union_id), text(|r| &r.actor.corp_id));
            let times: Vec<i64> = renames.iter().map(|r| r.actor.now_ms).collect();
            let renamed = EventType::DentryRenamed.as_str();
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
                [&spaces, &dentries, &names, &modifiers, &times, &corps, &renamed];
            let rows = all(c, RENAMES_AT_ONCE_SQL, &params).await?;
            let applied = applied_in_set(&rows, renames.len())?.into_iter().zip(&renames);
            let applied = applied.map(|(before, rename)| {
                let actor = &rename.actor;
                Some(DentryRecord {
                    name: rename.new_name.clone(),
                    modifier_id: actor.union_id.clone(),
                    modified_at: actor.now_ms,
                    ..before?
                })
            });
            Ok(applied.collect())
        })
    }
}

/// The rows of a statement over a set of writes, one per app property of
/// each write it applied (at least one: `dentry_columns`, the write's
/// place `i` from 1, the property; ordered by `i`): per write of `n`, the
/// dentry as it was, with its properties, if it was applied.
fn applied_in_set(rows: &[tokio_postgres::Row], n: usize) -> DbResult<Vec<Option<DentryRecord>>> {
    let mut applied: Vec<Option<DentryRecord>> = (0..n).map(|_| None).collect();
    for row in rows {
        let i: i64 = row.try_get(DENTRY_WIDTH)?;
        let Some(at) = usize::try_from(i - 1).ok().filter(|at| *at < n) else {
            return Err(broken("a write of a set answered out of its place"));
        };
        let before = match &mut applied[at] {
            Some(before) => before,
            first => first.insert(dentry_from_row(row)?),
        };
        before.app_properties.extend(property_at(row, DENTRY_WIDTH + 1)?);
    }
    Ok(applied)
}

/// The event of a rename, unless the name stayed.
fn renamed_event(
    actor: &Actor,
    before: DentryRecord,
    renamed: &DentryRecord,
) -> Option<EventRecord> {
    if before.name == renamed.name {
        return None;
    }
    let mut event = EventRecord::of_dentry(
        EventType::DentryRenamed,
        &actor.corp_id,
        renamed,
        &actor.union_id,
        actor.now_ms,
    );
    event.previous_name = Some(before.name);
    Some(event)
}

/// MoveDentry's body: the move, and its events to append.
async fn move_with_events(
    t: &Tx<'_>,
    request: &MoveDentry,
    ids: &dyn IdSource,
) -> DbResult<(Placed, Vec<EventRecord>)> {
    let (before, placed) = move_dentry(t, request, ids).await?;
    let appended = moved_events(&request.actor, before, &placed);
    Ok((placed, appended))
}

/// The events of a move: the sibling it replaced (if any), then the move;
/// none if it changed nothing.
fn moved_events(actor: &Actor, before: DentryRecord, placed: &Placed) -> Vec<EventRecord> {
    if placed.existing {
        return Vec::new();
    }
    let mut appended: Vec<EventRecord> = replaced_event(placed, actor).into_iter().collect();
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
    appended.push(event);
    appended
}

/// The files moved within their spaces by a batch, in one statement, when
/// nothing but the move itself is to do: per move (arrays `$1`–`$8`:
/// space, file, target folder, modifier, time, actor's org, most names and
/// characters of a path; `i` its place, from 1), the live file of the
/// actor's org, the target folder walked up to the root (each a live
/// folder, at most the limit's names; one walk per target), its name free
/// there (no live sibling has it, no other move of the statement takes it
/// there), no grant on the file (none to drop), the path within the
/// limits, the file moved once in the statement; then the files moved. A
/// name a move frees is not free to the others of the statement. One row
/// per app property of each file moved (at least one), ordered by `i`: the
/// file as it was, `i`, the property. The event of each move (type `$9`)
/// is appended, in the order of `i`, as [`moved_events`] makes it.
pub(crate) const MOVES_AT_ONCE_SQL: &str = concat!(
    "WITH RECURSIVE k AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
         $5::bigint[], $6::text[], $7::bigint[], $8::bigint[]) WITH ORDINALITY \
         AS k(space_id, dentry_id, parent_id, modifier_id, now_ms, corp_id, max_depth, \
             max_chars, i)), \
     wanted AS (SELECT DISTINCT space_id, parent_id, max_depth FROM k), \
     chain (space_id, target, bound, dentry_id, parent_id, name, kind, status, depth) AS ( \
         SELECT w.space_id, w.parent_id, w.max_depth, d.dentry_id, d.parent_id, d.name, \
             d.kind, d.status, 1::BIGINT \
         FROM wanted w CROSS JOIN LATERAL ",
    dentries_by_id!("= w.parent_id"),
    " d WHERE d.space_id = w.space_id \
         UNION ALL \
         SELECT c.space_id, c.target, c.bound, d.dentry_id, d.parent_id, d.name, d.kind, \
             d.status, c.depth + 1 \
         FROM chain c CROSS JOIN LATERAL ",
    dentries_by_id!("= c.parent_id"),
    " d WHERE d.space_id = c.space_id AND c.parent_id <> '0' AND c.depth < c.bound), \
     targets AS (SELECT w.space_id, w.parent_id, w.max_depth, w.parent_id = '0' \
             OR (bool_and(c.kind = 'FOLDER' AND c.status = 'NORMAL') \
                 AND bool_or(c.parent_id = '0')) AS fits_above, \
         COUNT(c.dentry_id) AS depth, COALESCE(SUM(char_length(c.name) + 1), 0) AS chars \
         FROM wanted w LEFT JOIN chain c ON c.space_id = w.space_id \
             AND c.target = w.parent_id AND c.bound = w.max_depth \
         GROUP BY w.space_id, w.parent_id, w.max_depth), \
     f AS (SELECT ",
    dentry_columns!("d."),
    ", k.i, k.parent_id AS to_parent_id, k.modifier_id AS new_modifier_id, k.now_ms, \
         k.corp_id AS actor_corp_id, s.app_id AS space_app_id, \
         s.corp_id = k.corp_id AND d.kind = 'FILE' AND t.fits_above \
         AND t.depth + 1 <= k.max_depth AND t.chars + char_length(d.name) + 1 <= k.max_chars \
         AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.space_id = s.space_id \
             AND g.dentry_id = d.dentry_id) \
         AND NOT EXISTS (SELECT 1 FROM dentries sib WHERE sib.space_id = s.space_id \
             AND sib.parent_id = k.parent_id AND sib.name = d.name AND sib.status = 'NORMAL' \
             AND sib.dentry_id <> d.dentry_id) \
         AND count(*) OVER (PARTITION BY d.dentry_id) = 1 \
         AND count(*) OVER (PARTITION BY d.space_id, k.parent_id, d.name) = 1 AS applies \
     FROM k JOIN spaces s ON s.space_id = k.space_id \
     JOIN targets t ON t.space_id = k.space_id AND t.parent_id = k.parent_id \
         AND t.max_depth = k.max_depth \
     LEFT JOIN LATERAL ",
    dentries_by_id!("= k.dentry_id"),
    " d ON d.space_id = s.space_id AND d.status = 'NORMAL'), \
     u AS (UPDATE dentries SET parent_id = f.to_parent_id, modifier_id = f.new_modifier_id, \
         modified_at = f.now_ms FROM (SELECT * FROM f WHERE f.applies \
         ORDER BY f.space_id, f.to_parent_id COLLATE \"C\", f.name) f \
         WHERE dentries.dentry_id = f.dentry_id",
    returning_applied!(),
    ", f.to_parent_id, f.new_modifier_id, f.now_ms, f.actor_corp_id, f.space_app_id), \
     appended AS (INSERT INTO events (event_id, event_type, corp_id, app_id, space_id, \
         dentry_id, operator_id, at_ms, parent_id, name, dentry_type, size, version, \
         previous_space_id, previous_app_id, previous_parent_id, previous_name) SELECT ",
    new_event_id!("u.now_ms"),
    ", $9::text, u.actor_corp_id, COALESCE(u.space_app_id, ''), u.space_id, u.dentry_id, \
         u.new_modifier_id, u.now_ms, u.to_parent_id, u.name, u.kind, u.size, u.version, \
         u.space_id, u.space_app_id, u.parent_id, u.name FROM u ORDER BY u.i)",
    answered_applied!()
);

impl SetWrite for MoveDentry {
    type Answer = Placed;
    const STATEMENT: &'static str = MOVES_AT_ONCE_SQL;

    /// [`MOVES_AT_ONCE_SQL`] for the moves within one space without a
    /// task: the files moved, their events. Anything else (a folder,
    /// another space, a taken name, grants on the file, limits, a refusal)
    /// is left to the body. Their events are appended by the statement.
    fn apply_all<'a>(c: &'a Client, moves: Vec<&'a Self>) -> TxFuture<'a, Applied<Placed>> {
        Box::pin(async move {
            // The moves within one space without a task, by place in `moves`.
            let within: Vec<usize> = (0..moves.len())
                .filter(|&at| moves[at].to.space_id == moves[at].space_id)
                .filter(|&at| moves[at].task_id.is_none())
                .collect();
            let mut applied: Applied<Placed> = moves.iter().map(|_| None).collect();
            if within.is_empty() {
                return Ok(applied);
            }
            let text = |f: fn(&MoveDentry) -> &str| -> Vec<&str> {
                within.iter().map(|&at| f(moves[at])).collect()
            };
            let (spaces, files, targets) =
                (text(|m| &m.space_id), text(|m| &m.dentry_id), text(|m| &m.to.parent_id));
            let (modifiers, corps) = (text(|m| &m.actor.union_id), text(|m| &m.actor.corp_id));
            let number = |f: fn(&MoveDentry) -> i64| -> Vec<i64> {
                within.iter().map(|&at| f(moves[at])).collect()
            };
            let times = number(|m| m.actor.now_ms);
            let depths = number(|m| i64::from(m.limits.max_depth));
            let lengths = number(|m| i64::from(m.limits.max_path_chars));
            let moved = EventType::DentryMoved.as_str();
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] =
                [&spaces, &files, &targets, &modifiers, &times, &corps, &depths, &lengths, &moved];
            let rows = all(c, MOVES_AT_ONCE_SQL, &params).await?;
            for (at, before) in within.into_iter().zip(applied_in_set(&rows, spaces.len())?) {
                let Some(before) = before else { continue };
                let (m, actor) = (moves[at], &moves[at].actor);
                let dentry = DentryRecord {
                    parent_id: m.to.parent_id.clone(),
                    modifier_id: actor.union_id.clone(),
                    modified_at: actor.now_ms,
                    ..before
                };
                applied[at] = Some(Placed { dentry, existing: false, entries: 1, replaced: None });
            }
            Ok(applied)
        })
    }
}

/// The source end of a change: its space locked (with `others`), the
/// actor's; `NotFound` otherwise. Answers the locked spaces.
async fn lock_source(
    t: &Tx<'_>,
    space_id: &str,
    others: &[&str],
    actor: &Actor,
) -> DbResult<Vec<SpaceOwner>> {
    let mut wanted = vec![space_id];
    wanted.extend_from_slice(others);
    let locked = lock_spaces(t, &wanted).await?;
    if owner_in(&locked, space_id, actor).is_none() {
        return refuse(StoreError::NotFound);
    }
    Ok(locked)
}

/// A rename in one statement when its path does not grow: the space `$1`,
/// its live dentry `$2` and whether `$3`, the new name, is taken by a live
/// sibling, read; the dentry renamed (by `$4` at `$5`) if it is of the
/// actor's org `$6`, the name is free and no longer. One row per app
/// property of the dentry (at least one): the dentry as it was, the space's
/// org, whether the name is taken, whether it was renamed, the property.
pub(crate) const RENAME_SQL: &str = concat!(
    "WITH f AS (SELECT ",
    dentry_columns!("d."),
    ", s.corp_id, $3 <> d.name AND EXISTS (SELECT 1 FROM dentries sib \
         WHERE sib.space_id = d.space_id AND sib.parent_id = d.parent_id \
         AND sib.name = $3 AND sib.status = 'NORMAL') AS taken \
     FROM spaces s LEFT JOIN ",
    dentries_by_id!("= $2"),
    " d ON d.space_id = s.space_id AND d.status = 'NORMAL' WHERE s.space_id = $1), \
     u AS (UPDATE dentries SET name = $3, modifier_id = $4, modified_at = $5 FROM f \
         WHERE dentries.dentry_id = f.dentry_id AND f.corp_id = $6 AND NOT f.taken \
         AND char_length($3) <= char_length(f.name) RETURNING dentries.dentry_id) \
     SELECT f.*, EXISTS (SELECT 1 FROM u), p.dentry_id, p.app_id, p.name, p.value, p.visibility \
     FROM f LEFT JOIN app_properties p ON p.dentry_id = f.dentry_id ORDER BY p.app_id, p.name"
);

/// What [`rename_at_once`] found and did.
struct AtOnce {
    /// The dentry before.
    before: DentryRecord,
    /// The dentry renamed, if it was.
    renamed: Option<DentryRecord>,
    /// Whether the new name is taken (not renamed: else it is longer).
    taken: bool,
}

/// [`RENAME_SQL`]: the rename applied, or nothing written (a refusal if
/// the dentry is not live in a space of the actor's org).
async fn rename_at_once(t: &Tx<'_>, r: &RenameDentry) -> DbResult<AtOnce> {
    let actor = &r.actor;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&r.space_id, &r.dentry_id, &r.new_name, &actor.union_id, &actor.now_ms, &actor.corp_id];
    let rows = all(t, RENAME_SQL, &params).await?;
    let Some(row) = rows.first() else { return refuse(StoreError::NotFound) };
    let corp_id: String = row.try_get(DENTRY_WIDTH)?;
    let found: Option<String> = row.try_get(0)?;
    if corp_id != actor.corp_id || found.is_none() {
        return refuse(StoreError::NotFound);
    }
    let d = dentry_from_row(row)?;
    let renamed_here: bool = row.try_get(DENTRY_WIDTH + 2)?;
    if !renamed_here {
        let taken: Option<bool> = row.try_get(DENTRY_WIDTH + 1)?;
        return Ok(AtOnce { before: d, renamed: None, taken: taken == Some(true) });
    }
    let mut renamed = DentryRecord {
        name: r.new_name.clone(),
        modifier_id: actor.union_id.clone(),
        modified_at: actor.now_ms,
        ..d.clone()
    };
    for row in &rows {
        renamed.app_properties.extend(property_at(row, DENTRY_WIDTH + 3)?);
    }
    Ok(AtOnce { before: d, renamed: Some(renamed), taken: false })
}

/// Renames; answers the dentry before and after. One statement when the
/// name is free and no longer ([`RENAME_SQL`]; the event is appended by
/// the batch). A taken name reads the sibling; a longer name reads its
/// parent's path and the subtree's extent, then updates. Runs under
/// `combined`, which holds the space's lock before this starts: the first
/// statement's snapshot (READ COMMITTED) then sees every write made under
/// that lock, as separate statements after the lock would.
async fn rename_dentry(t: &Tx<'_>, r: &RenameDentry) -> DbResult<(DentryRecord, DentryRecord)> {
    let actor = &r.actor;
    let (d, taken) = match rename_at_once(t, r).await? {
        AtOnce { before, renamed: Some(renamed), .. } => return Ok((before, renamed)),
        AtOnce { before, taken, .. } => (before, taken),
    };
    if taken {
        let Some(sibling) = live_child(t, &d, &r.new_name, false).await? else {
            return Err(broken("a live sibling vanished under the space's lock"));
        };
        return refuse(StoreError::NameTaken(Box::new(sibling)));
    }
    // Not renamed above: a longer name, which makes paths longer (the
    // depth stays).
    let Some(parent) = folder(t, &r.space_id, &d.parent_id, UNBOUNDED_WALK).await? else {
        return Err(broken("a live dentry's parent is not live"));
    };
    let extent = if d.is_folder() {
        live_extent(t, &r.space_id, &d.dentry_id, i64::from(r.limits.max_depth)).await?
    } else {
        Extent::default()
    };
    let longest = parent.path_chars() + chars(&r.new_name) + 1 + extent.chars;
    if longest > i64::from(r.limits.max_path_chars) {
        return refuse(StoreError::PathTooLong);
    }
    const RENAME: &str = concat!(
        "WITH u AS (UPDATE dentries SET name = $1, modifier_id = $2, modified_at = $3 \
             WHERE dentry_id = $4 RETURNING ",
        dentry_columns!(""),
        ") SELECT ",
        dentry_columns!("u."),
        ", p.dentry_id, p.app_id, p.name, p.value, p.visibility FROM u \
         LEFT JOIN app_properties p ON p.dentry_id = u.dentry_id ORDER BY p.app_id, p.name"
    );
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&r.new_name, &actor.union_id, &actor.now_ms, &d.dentry_id];
    let renamed = dentries_joined(&all(t, RENAME, &params).await?)?
        .pop()
        .ok_or_else(|| broken("a renamed dentry vanished"))?;
    Ok((d, renamed))
}

/// What a change under `ReturnExisting` answers: the sibling, nothing
/// changed (but the task completed).
async fn existing(
    t: &Tx<'_>,
    sibling: DentryRecord,
    task_id: Option<&str>,
    now_ms: i64,
) -> DbResult<Placed> {
    complete_task(t, task_id, 0, now_ms).await?;
    Ok(Placed { dentry: sibling, existing: true, entries: 0, replaced: None })
}

/// A move's first statement within one space: the space `$1` (locked),
/// its live dentry `$2`, and whether the space holds any grant.
pub(crate) const MOVE_FIND_SQL: &str = concat!(
    "SELECT ",
    dentry_columns!("d."),
    ", s.corp_id, s.app_id, EXISTS (SELECT 1 FROM grants g WHERE g.space_id = s.space_id) \
     FROM spaces s LEFT JOIN ",
    dentries_by_id!("= $2"),
    " d ON d.space_id = s.space_id AND d.status = 'NORMAL' \
     WHERE s.space_id = $1 FOR UPDATE OF s"
);

/// The source end of a move: the locked spaces (both ends), its live
/// dentry and, for a move within its space, whether the space holds any
/// grant (one statement under `combined`, whose lock on the space is held
/// before it starts, so that its snapshot sees every write made under the
/// lock; two ends: the spaces locked, then the dentry).
async fn move_source(
    t: &Tx<'_>,
    m: &MoveDentry,
) -> DbResult<(Vec<SpaceOwner>, DentryRecord, Option<bool>)> {
    if m.to.space_id != m.space_id {
        let locked = lock_source(t, &m.space_id, &[&m.to.space_id], &m.actor).await?;
        let Some(d) = live_dentry(t, &m.space_id, &m.dentry_id).await? else {
            return refuse(StoreError::NotFound);
        };
        return Ok((locked, d, None));
    }
    if m.task_id.is_some() {
        // Not under `combined` (a task's change locks its task row first):
        // the space locked by a statement of its own, so that the next one's
        // snapshot sees every write made under the lock.
        lock_spaces(t, &[&m.space_id]).await?;
    }
    let Some(row) = one(t, MOVE_FIND_SQL, &[&m.space_id, &m.dentry_id]).await? else {
        return refuse(StoreError::NotFound);
    };
    let owner = SpaceOwner {
        space_id: m.space_id.clone(),
        corp_id: row.try_get(DENTRY_WIDTH)?,
        app_id: row.try_get(DENTRY_WIDTH + 1)?,
    };
    let found: Option<String> = row.try_get(0)?;
    if owner.corp_id != m.actor.corp_id || found.is_none() {
        return refuse(StoreError::NotFound);
    }
    let has_grants: bool = row.try_get(DENTRY_WIDTH + 2)?;
    Ok((vec![owner], dentry_from_row(&row)?, Some(has_grants)))
}

/// Puts the dentry `$6` at (`$1` space, `$2` parent, `$3` name), modified
/// by `$4` at `$5`; answers it as it is now, with its app properties.
async fn relocate(t: &Tx<'_>, params: &Params<'_>) -> DbResult<DentryRecord> {
    const MOVED: &str = concat!(
        "WITH u AS (UPDATE dentries SET space_id = $1, parent_id = $2, name = $3, \
             modifier_id = $4, modified_at = $5 WHERE dentry_id = $6 RETURNING ",
        dentry_columns!(""),
        ") SELECT ",
        dentry_columns!("u."),
        ", p.dentry_id, p.app_id, p.name, p.value, p.visibility FROM u \
         LEFT JOIN app_properties p ON p.dentry_id = u.dentry_id ORDER BY p.app_id, p.name"
    );
    dentries_joined(&all(t, MOVED, params).await?)?
        .pop()
        .ok_or_else(|| broken("a moved dentry vanished"))
}

/// Moves; answers the dentry before the move and where it went. A file
/// moved within its space takes six statements: its space, dentry and
/// grants at once; the target's ancestors; the name looked for there; the
/// update answering the moved dentry; its event (by the caller).
async fn move_dentry(
    t: &Tx<'_>,
    m: &MoveDentry,
    ids: &dyn IdSource,
) -> DbResult<(DentryRecord, Placed)> {
    lock_task(t, m.task_id.as_deref()).await?;
    let (locked, d, space_has_grants) = move_source(t, m).await?;
    let Some(owner) = owner_in(&locked, &m.to.space_id, &m.actor) else {
        return refuse(StoreError::SpaceNotFound);
    };
    let target = target_folder(t, &m.to.space_id, &m.to.parent_id, &m.limits, &d.dentry_id).await?;
    let to = Arrival { target: &target, owner, actor: &m.actor, ids };
    let naming = settle_name(t, &to, &d, &d.name, &m.to.conflict, Some(&d.dentry_id)).await?;
    let (name, replaced) = match naming {
        Naming::Existing(sibling) => {
            let placed = existing(t, sibling, m.task_id.as_deref(), m.actor.now_ms).await?;
            return Ok((d, placed));
        }
        Naming::Take { name, replaced } => (name, replaced),
    };
    let moved_params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&m.to.space_id, &m.to.parent_id, &name, &m.actor.union_id, &m.actor.now_ms, &d.dentry_id];
    let (dentry, entries) = if let Some(space_has_grants) = space_has_grants {
        // One row changes. Limits are checked only if the paths may grow (a
        // path may already be past them): a file's new path within them
        // needs no walk of its old parent; a folder's subtree is read only
        // if its paths grow.
        let fits =
            !d.is_folder() && check_limits(&m.limits, &target, &name, Extent::default()).is_ok();
        if !fits {
            let new_depth = target.depth() + 1;
            let new_chars = target.path_chars() + chars(&name) + 1;
            let grows = match folder(t, &m.space_id, &d.parent_id, UNBOUNDED_WALK).await? {
                Some(old) if old.complete => {
                    new_depth > old.depth() + 1 || new_chars > old.path_chars() + chars(&d.name) + 1
                }
                _ => true,
            };
            if grows {
                let extent = if d.is_folder() {
                    let max_depth = i64::from(m.limits.max_depth);
                    live_extent(t, &m.space_id, &d.dentry_id, max_depth).await?
                } else {
                    Extent::default()
                };
                check_limits(&m.limits, &target, &name, extent)?;
            }
        }
        let dentry = relocate(t, &moved_params).await?;
        let stays = m.to.parent_id == d.parent_id;
        if !m.keep_grants && !stays && space_has_grants {
            let subtree = live_members(t, &m.space_id, &d.dentry_id, UNBOUNDED_WALK).await?;
            drop_moved_grants(t, m, &member_ids(&subtree)).await?;
        }
        (dentry, 1)
    } else {
        // Every row of the subtree changes space, and its bytes move along.
        let members =
            live_members(t, &m.space_id, &d.dentry_id, i64::from(m.limits.max_depth)).await?;
        check_limits(&m.limits, &target, &name, extent_of(&members))?;
        let subtree = member_ids(&members);
        let bytes = content_bytes(t, &subtree).await?;
        move_bytes(t, &m.space_id, &m.to.space_id, bytes).await?;
        // The root first: its name is free only under its new parent.
        let dentry = relocate(t, &moved_params).await?;
        exec(
            t,
            "UPDATE dentries SET space_id = $1 WHERE dentry_id = ANY($2)",
            &[&m.to.space_id, &&subtree[1..]],
        )
        .await?;
        if m.keep_grants {
            exec(
                t,
                "UPDATE grants SET space_id = $1 WHERE dentry_id = ANY($2)",
                &[&m.to.space_id, &subtree],
            )
            .await?;
        } else {
            drop_moved_grants(t, m, &subtree).await?;
        }
        (dentry, subtree.len() as i64)
    };
    complete_task(t, m.task_id.as_deref(), entries, m.actor.now_ms).await?;
    Ok((d, Placed { dentry, existing: false, entries, replaced }))
}

/// Removes the grants on the moved dentries, unless the move protects
/// `OWNER` grants and one of them is one.
async fn drop_moved_grants(t: &Tx<'_>, m: &MoveDentry, subtree: &[String]) -> DbResult<()> {
    if m.protect_owner_grants
        && crate::grants::holds_owner_grant(t, subtree, m.actor.now_ms).await?
    {
        return refuse(StoreError::OwnerGrantInTheWay);
    }
    crate::grants::drop_grants(t, subtree).await
}

/// Moves `bytes` from one space's counter to another's of the same org,
/// unless the target's quota would be passed (`QuotaExceeded`); the org's
/// counter does not change.
async fn move_bytes(t: &Tx<'_>, from: &str, to: &str, bytes: i64) -> DbResult<()> {
    if bytes == 0 {
        return Ok(());
    }
    let charged = exec(
        t,
        "UPDATE spaces SET used_bytes = used_bytes + $1 WHERE space_id = $2 \
         AND (quota IS NULL OR used_bytes + reserved_bytes + $1 <= quota)",
        &[&bytes, &to],
    )
    .await?;
    if charged == 0 {
        return refuse(StoreError::QuotaExceeded { space: true });
    }
    exec(
        t,
        "UPDATE spaces SET used_bytes = GREATEST(used_bytes - $1, 0) WHERE space_id = $2",
        &[&bytes, &from],
    )
    .await?;
    Ok(())
}

async fn copy_dentry(t: &Tx<'_>, c: &CopyDentry, ids: &dyn IdSource) -> DbResult<Placed> {
    lock_task(t, c.task_id.as_deref()).await?;
    let locked = lock_source(t, &c.space_id, &[&c.to.space_id], &c.actor).await?;
    let Some(d) = live_dentry(t, &c.space_id, &c.dentry_id).await? else {
        return refuse(StoreError::NotFound);
    };
    let Some(owner) = owner_in(&locked, &c.to.space_id, &c.actor) else {
        return refuse(StoreError::SpaceNotFound);
    };
    let target = target_folder(t, &c.to.space_id, &c.to.parent_id, &c.limits, &d.dentry_id).await?;
    let members = live_members(t, &c.space_id, &d.dentry_id, i64::from(c.limits.max_depth)).await?;
    let to = Arrival { target: &target, owner, actor: &c.actor, ids };
    let (name, replaced) = match settle_name(t, &to, &d, &d.name, &c.to.conflict, None).await? {
        Naming::Existing(sibling) => {
            return existing(t, sibling, c.task_id.as_deref(), c.actor.now_ms).await
        }
        Naming::Take { name, replaced } => (name, replaced),
    };
    check_limits(&c.limits, &target, &name, extent_of(&members))?;
    let sources = subtree_records(t, &members).await?;
    let charged: i64 = sources.iter().filter(|s| !s.is_folder()).map(|s| s.size).sum();
    settle(t, &c.to.space_id, &owner.corp_id, 0, charged).await?;
    let mut copied: HashMap<&str, String> = HashMap::with_capacity(sources.len());
    for (i, source) in sources.iter().enumerate() {
        let (dentry_id, uuid, parent_id, name) = if i == 0 {
            (c.new_dentry_id.clone(), c.new_uuid.clone(), c.to.parent_id.clone(), name.clone())
        } else {
            let Some(parent) = copied.get(source.parent_id.as_str()) else {
                return Err(broken("a copied dentry lost its parent"));
            };
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
        if !insert_dentry(t, &copy, &copy.name).await? {
            return Err(broken("a copied dentry's name is taken"));
        }
        exec(
            t,
            "INSERT INTO app_properties (dentry_id, app_id, name, value, visibility) \
             SELECT $1, app_id, name, value, visibility FROM app_properties WHERE dentry_id = $2",
            &[&copy.dentry_id, &source.dentry_id],
        )
        .await?;
        copied.insert(&source.dentry_id, copy.dentry_id);
    }
    let entries = sources.len() as i64;
    complete_task(t, c.task_id.as_deref(), entries, c.actor.now_ms).await?;
    let Some(dentry) = dentry_with_properties(t, &c.to.space_id, &c.new_dentry_id).await? else {
        return Err(broken("the copy vanished"));
    };
    Ok(Placed { dentry, existing: false, entries, replaced })
}

/// The members' records, in the members' order (parents before children).
async fn subtree_records(t: &Tx<'_>, members: &[Member]) -> DbResult<Vec<DentryRecord>> {
    const SQL: &str =
        concat!("SELECT ", dentry_columns!(""), " FROM dentries WHERE dentry_id = ANY($1)");
    let ids = member_ids(members);
    let mut found: HashMap<String, DentryRecord> = HashMap::with_capacity(ids.len());
    for row in all(t, SQL, &[&ids]).await? {
        let d = dentry_from_row(&row)?;
        found.insert(d.dentry_id.clone(), d);
    }
    members
        .iter()
        .map(|m| found.remove(&m.dentry_id).ok_or_else(|| broken("a subtree's dentry vanished")))
        .collect()
}

/// Deletes; answers the dentry as it was and what went.
async fn delete_dentry(t: &Tx<'_>, del: &DeleteDentry) -> DbResult<(DentryRecord, Removed)> {
    lock_task(t, del.task_id.as_deref()).await?;
    let locked = lock_source(t, &del.space_id, &[], &del.actor).await?;
    let Some(owner) = owner_in(&locked, &del.space_id, &del.actor).cloned() else {
        return refuse(StoreError::NotFound);
    };
    let Some(d) = live_dentry(t, &del.space_id, &del.dentry_id).await? else {
        return refuse(StoreError::NotFound);
    };
    let subtree = member_ids(&live_members(t, &del.space_id, &d.dentry_id, UNBOUNDED_WALK).await?);
    let entries = subtree.len() as i64;
    let removed = match &del.recycle_item_id {
        Some(recycle_item_id) => {
            let Some(parent) = folder(t, &del.space_id, &d.parent_id, UNBOUNDED_WALK).await? else {
                return Err(broken("a live dentry's parent is not live"));
            };
            let size: i64 = one(
                t,
                "SELECT COALESCE(SUM(size), 0)::BIGINT FROM dentries \
                 WHERE dentry_id = ANY($1) AND kind = 'FILE'",
                &[&subtree],
            )
            .await?
            .map_or(Ok(0), |r| r.try_get(0))?;
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
                entries,
            };
            bin(t, &item, &subtree).await?;
            Removed { entries, recycle_item: Some(item), ..Removed::default() }
        }
        None => {
            let (freed_bytes, trashed_objects) =
                remove_dentries(t, &subtree, del.actor.now_ms).await?;
            Removed { entries, freed_bytes, trashed_objects, recycle_item: None }
        }
    };
    complete_task(t, del.task_id.as_deref(), entries, del.actor.now_ms).await?;
    Ok((d, removed))
}

async fn revert_version(t: &Tx<'_>, r: &RevertVersion) -> DbResult<DentryRecord> {
    lock_source(t, &r.space_id, &[], &r.actor).await?;
    // The source is the actor's: its org is the actor's.
    let corp_id = &r.actor.corp_id;
    let current = live_dentry(t, &r.space_id, &r.dentry_id).await?.filter(|d| !d.is_folder());
    let Some(current) = current else { return refuse(StoreError::NotFound) };
    let kept = one(
        t,
        "SELECT size, blob_key FROM dentry_versions WHERE dentry_id = $1 AND version = $2",
        &[&r.dentry_id, &r.version],
    )
    .await?;
    let Some(kept) = kept else { return refuse(StoreError::VersionNotFound) };
    let size: i64 = kept.try_get(0)?;
    let blob_key: String = kept.try_get(1)?;
    settle(t, &r.space_id, corp_id, 0, size).await?;
    let content = DentryRecord {
        size,
        blob_key: Some(blob_key),
        modifier_id: r.actor.union_id.clone(),
        modified_at: r.actor.now_ms,
        ..current.clone()
    };
    let reverted = overwrite(t, &current, &content).await?;
    reread(t, &reverted).await
}

async fn edit_app_properties(t: &Tx<'_>, edit: &EditAppProperties) -> DbResult<()> {
    // The space shared (no tree change of it meanwhile), the dentry locked:
    // racing edits of one dentry's properties count one after the other.
    one(t, "SELECT 1 FROM spaces WHERE space_id = $1 FOR KEY SHARE", &[&edit.space_id]).await?;
    let live = one(
        t,
        concat!("SELECT 1 FROM ", live_dentries_by_id!("= $2", "$1"), " d FOR UPDATE"),
        &[&edit.space_id, &edit.dentry_id],
    )
    .await?;
    if live.is_none() {
        return refuse(StoreError::NotFound);
    }
    for property in &edit.set {
        exec(
            t,
            "INSERT INTO app_properties (dentry_id, app_id, name, value, visibility) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dentry_id, app_id, name) \
             DO UPDATE SET value = excluded.value, visibility = excluded.visibility",
            &[&edit.dentry_id, &edit.app_id, &property.name, &property.value, &property.visibility],
        )
        .await?;
    }
    for name in &edit.remove {
        exec(
            t,
            "DELETE FROM app_properties WHERE dentry_id = $1 AND app_id = $2 AND name = $3",
            &[&edit.dentry_id, &edit.app_id, name],
        )
        .await?;
    }
    let held: i64 = one(
        t,
        "SELECT COUNT(*) FROM app_properties WHERE dentry_id = $1 AND app_id = $2",
        &[&edit.dentry_id, &edit.app_id],
    )
    .await?
    .map_or(Ok(0), |r| r.try_get(0))?;
    if held > i64::from(edit.max_per_app) {
        return refuse(StoreError::TooManyProperties);
    }
    Ok(())
}
