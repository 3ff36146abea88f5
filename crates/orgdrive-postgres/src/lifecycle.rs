//! The dentry lifecycle on PostgreSQL: tree changes ([`tree`]: rename,
//! move, copy, delete, versions, app property edits), recycle bins
//! ([`recycle`]) and persisted tasks ([`tasks`]). This module holds what
//! they share, every function running inside the change's transaction:
//! locking the spaces, places in the tree (ancestor walks, the limits),
//! subtree walks (recursive CTEs), settling a name at a target under a
//! conflict rule, sending dentries to the bin, and permanent removal
//! (freeing bytes, trashing content objects nothing refers to any more).
//!
//! # Concurrency
//!
//! - **One method, one READ COMMITTED transaction** ([`crate::tx!`]; a
//!   serialization failure or deadlock runs it again from the start).
//!   Renames and moves without a task may share it with concurrent ones,
//!   one savepoint each, their spaces locked first (`shared_tx`; a batch's
//!   attempts — renames whose path does not grow, plain file moves — lock
//!   them `FOR NO KEY UPDATE` instead, which folder puts get through).
//! - **A task's change locks its task row `FOR UPDATE` first**
//!   ([`tasks::lock_task`]) and fails with `NotFound` when the task is
//!   unknown or finished; it completes the task before it commits. Two
//!   nodes running one task change once: the second waits for the row, then
//!   sees the task finished.
//! - **A tree change then locks its spaces' rows `FOR UPDATE`**
//!   ([`lock_spaces`]): both spaces of a cross-space move or copy, one at a
//!   time in `space_id` order (bytewise), so two changes never wait for each
//!   other in a circle. Every later statement (READ COMMITTED: a new
//!   snapshot per statement) sees every change committed to those spaces
//!   before; none commits until this one ends. So the cycle check (an
//!   ancestor walk of the target), the subtree walks, the conflict rules
//!   and the quota charges see a stable tree: two moves of folders into each
//!   other run one after the other, and the second finds the cycle. Folder
//!   puts lock their space's row `FOR KEY SHARE`, file puts `FOR NO KEY
//!   UPDATE` (PG-A's `dentries.rs`), grant writes `FOR SHARE`: none
//!   interleaves with a tree change of the space.
//! - **Quota and capacity** are charged by conditional `UPDATE`s of the
//!   space and org rows (re-checked on the locked row), so racing copies
//!   never pass a cap.
//! - **Shared content objects**: a permanent removal takes a
//!   transaction-scoped advisory lock per content object it drops a
//!   reference to (in hash order) before checking whether any reference
//!   remains; two removals in different spaces of the last two references to
//!   one object (a copy's and its source's) check one after the other, so
//!   the object is trashed exactly once.
//! - **Events** are appended in the change's transaction
//!   ([`crate::events::append`]).

// Before the submodules: they use it too.
macro_rules! recycle_item_columns {
    () => {
        "recycle_item_id, corp_id, app_id, space_id, dentry_id, kind, name, path, parent_id, \
         size, operator_id, deleted_at, entries"
    };
}

mod recycle;
pub(crate) mod tasks;
pub(crate) mod tree;

use std::collections::BTreeMap;

use tokio_postgres::Row;

use orgdrive_store::{
    Actor, DentryRecord, IdSource, NameConflict, RecycleItemRecord, StoreError, TreeLimits,
};

use crate::dentries::{free_name, live_child, reread};
use crate::rows::{ancestor_chain, dentries_by_id, dentry_columns, dentry_from_row};
use crate::thumbnails::trash_thumbnails;
use crate::{all, exec, one, DbResult};

pub(crate) use crate::Tx;

pub(crate) use crate::error::{broken, refuse};

pub(crate) use crate::ROOT_ID;

/// Most steps an ancestor or subtree walk takes when no limit bounds it
/// (paths of dentries already in the tree): enough for any tree the limits
/// allow, and an end to a walk in a broken tree.
const UNBOUNDED_WALK: i64 = 10_000;

/// The first key of the advisory locks on content objects ("orgo" in
/// ASCII; the second is the object key's hash).
const OBJECT_LOCK: i32 = 0x6f72_676f;

// Every tree walk below probes an index once per row it reaches: its
// recursive step is a LATERAL subquery fenced with `OFFSET 0`. As a plain
// join, the planner turned it into a hash join over the whole space once
// the space's statistics counted thousands of rows (10 ms per file move in
// a space of 30,000 entries). A walk's steps by id go through
// `dentries_by_id` (the primary key, whatever the statistics). `tests/postgres.rs`
// pins the plans.

/// The folder `$2` of space `$1` and its ancestors, nearest first, at most `$3`.
pub(crate) const ANCESTORS_SQL: &str = concat!(
    "WITH RECURSIVE ",
    ancestor_chain!("$2", "$3::BIGINT"),
    " SELECT dentry_id, parent_id, name, kind, status FROM chain ORDER BY depth"
);

/// The live dentry `$2` of space `$1` and its live subtree down to `$3`
/// names, with each one's depth and path characters below the root.
pub(crate) const LIVE_MEMBERS_SQL: &str = concat!(
    "WITH RECURSIVE sub (dentry_id, depth, chars) AS ( \
     SELECT dentry_id, 0::BIGINT, 0::BIGINT FROM ",
    dentries_by_id!("= $2"),
    " r WHERE space_id = $1 AND status = 'NORMAL' \
     UNION ALL \
     SELECT d.dentry_id, s.depth + 1, s.chars + char_length(d.name) + 1 \
     FROM sub s CROSS JOIN LATERAL (SELECT dentry_id, name FROM dentries \
         WHERE parent_id = s.dentry_id AND space_id = $1 AND status = 'NORMAL' OFFSET 0) d \
     WHERE s.depth < $3::BIGINT) \
     SELECT dentry_id, depth, chars FROM sub ORDER BY depth"
);

/// How deep and how long the live subtree below `$2` reaches (down to `$3`).
pub(crate) const LIVE_EXTENT_SQL: &str = "WITH RECURSIVE sub (dentry_id, depth, chars) AS ( \
     SELECT $2::TEXT COLLATE \"C\", 0::BIGINT, 0::BIGINT \
     UNION ALL \
     SELECT d.dentry_id, s.depth + 1, s.chars + char_length(d.name) + 1 \
     FROM sub s CROSS JOIN LATERAL (SELECT dentry_id, name FROM dentries \
         WHERE parent_id = s.dentry_id AND space_id = $1 AND status = 'NORMAL' OFFSET 0) d \
     WHERE s.depth < $3::BIGINT) \
 SELECT MAX(depth), MAX(chars) FROM sub";

/// How many live dentries the live subtree of `$2` holds (itself included).
pub(crate) const SUBTREE_SIZE_SQL: &str = concat!(
    "WITH RECURSIVE sub (dentry_id, depth) AS ( \
     SELECT dentry_id, 0::BIGINT FROM ",
    dentries_by_id!("= $2"),
    " r WHERE space_id = $1 AND status = 'NORMAL' \
     UNION ALL \
     SELECT d.dentry_id, s.depth + 1 \
     FROM sub s CROSS JOIN LATERAL (SELECT dentry_id FROM dentries \
         WHERE parent_id = s.dentry_id AND space_id = $1 AND status = 'NORMAL' OFFSET 0) d \
     WHERE s.depth < $3::BIGINT) \
     SELECT COUNT(*) FROM sub"
);

/// The dentries of recycle item `$1` below its root `$2`, down to `$3`
/// names, with each one's depth and path characters below the root.
pub(crate) const ITEM_MEMBERS_SQL: &str = "WITH RECURSIVE sub (dentry_id, depth, chars) AS ( \
     SELECT $2::TEXT COLLATE \"C\", 0::BIGINT, 0::BIGINT \
     UNION ALL \
     SELECT d.dentry_id, s.depth + 1, s.chars + char_length(d.name) + 1 \
     FROM sub s CROSS JOIN LATERAL (SELECT dentry_id, name FROM dentries \
         WHERE recycle_item_id = $1 AND parent_id = s.dentry_id OFFSET 0) d \
     WHERE s.depth < $3::BIGINT) \
 SELECT dentry_id, depth, chars FROM sub";

/// The live dentry `$2` of space `$1`.
pub(crate) const LIVE_DENTRY_SQL: &str = concat!(
    "SELECT ",
    dentry_columns!(""),
    " FROM ",
    dentries_by_id!("= $2"),
    " d WHERE space_id = $1 AND status = 'NORMAL'"
);

/// Characters of a name, as the path limit counts them (Unicode scalar
/// values; PostgreSQL's `char_length()` of a UTF-8 text).
fn chars(name: &str) -> i64 {
    name.chars().count() as i64
}

/// The org and app of a space.
#[derive(Debug, Clone)]
struct SpaceOwner {
    space_id: String,
    corp_id: String,
    app_id: String,
}

/// Locks the rows of these spaces `FOR UPDATE`, one at a time in
/// `space_id` order (duplicates once), and answers those that exist.
async fn lock_spaces(t: &Tx<'_>, space_ids: &[&str]) -> DbResult<Vec<SpaceOwner>> {
    let mut ordered: Vec<&str> = space_ids.to_vec();
    ordered.sort_unstable();
    ordered.dedup();
    let mut locked = Vec::with_capacity(ordered.len());
    for space_id in ordered {
        let row = one(
            t,
            "SELECT space_id, corp_id, app_id FROM spaces WHERE space_id = $1 FOR UPDATE",
            &[&space_id],
        )
        .await?;
        if let Some(row) = row {
            locked.push(SpaceOwner {
                space_id: row.try_get(0)?,
                corp_id: row.try_get(1)?,
                app_id: row.try_get(2)?,
            });
        }
    }
    Ok(locked)
}

/// The locked space `space_id`, if it belongs to the actor's org.
fn owner_in<'a>(locked: &'a [SpaceOwner], space_id: &str, actor: &Actor) -> Option<&'a SpaceOwner> {
    locked.iter().find(|o| o.space_id == space_id && o.corp_id == actor.corp_id)
}

/// The dentry, if it is live in the space (without app properties).
async fn live_dentry(
    t: &Tx<'_>,
    space_id: &str,
    dentry_id: &str,
) -> DbResult<Option<DentryRecord>> {
    one(t, LIVE_DENTRY_SQL, &[&space_id, &dentry_id])
        .await?
        .as_ref()
        .map(dentry_from_row)
        .transpose()
}

/// A live folder (or the root) as a place in its tree.
struct Folder {
    space_id: String,
    folder_id: String,
    /// Ids from the folder up towards the root (empty for the root).
    ids: Vec<String>,
    /// Names from the root down to the folder (empty for the root).
    names: Vec<String>,
    /// Whether the walk reached the root (else it stopped at its bound).
    complete: bool,
}

impl Folder {
    /// Names in the folder's path: its children are one deeper.
    fn depth(&self) -> i64 {
        self.names.len() as i64
    }

    /// Characters of the folder's path (`/a/b`; 0 for the root).
    fn path_chars(&self) -> i64 {
        self.names.iter().map(|n| chars(n) + 1).sum()
    }

    /// The path of a child named `name`: `/a/b/name`.
    fn path_of(&self, name: &str) -> String {
        let mut path = String::new();
        for n in self.names.iter().map(String::as_str).chain([name]) {
            path.push('/');
            path.push_str(n);
        }
        path
    }
}

/// `folder_id` as a place, walking at most `bound` folders up from it;
/// `None` unless it is a live folder of the space (or the root) whose
/// ancestors (as far as walked) are live folders.
async fn folder(
    t: &Tx<'_>,
    space_id: &str,
    folder_id: &str,
    bound: i64,
) -> DbResult<Option<Folder>> {
    let mut place = Folder {
        space_id: space_id.to_string(),
        folder_id: folder_id.to_string(),
        ids: Vec::new(),
        names: Vec::new(),
        complete: true,
    };
    if folder_id == ROOT_ID {
        return Ok(Some(place));
    }
    let chain = all(t, ANCESTORS_SQL, &[&space_id, &folder_id, &bound]).await?;
    let Some(top) = chain.last() else { return Ok(None) };
    let top_parent: String = top.try_get(1)?;
    place.complete = top_parent == ROOT_ID;
    if !place.complete && (chain.len() as i64) < bound {
        // The walk ended at a missing parent: not a place in the tree.
        return Ok(None);
    }
    for row in &chain {
        let kind: String = row.try_get(3)?;
        let status: String = row.try_get(4)?;
        if kind != "FOLDER" || status != "NORMAL" {
            return Ok(None);
        }
        place.ids.push(row.try_get(0)?);
        place.names.push(row.try_get(2)?);
    }
    place.names.reverse();
    Ok(Some(place))
}

/// The folder a move, copy or restore puts its dentry in: `ParentNotFound`
/// unless it is a live folder of the space (or the root); `IntoItself` if
/// `moving` is the folder or one of its ancestors; `TooDeep` if the walk
/// did not reach the root.
async fn target_folder(
    t: &Tx<'_>,
    space_id: &str,
    folder_id: &str,
    limits: &TreeLimits,
    moving: &str,
) -> DbResult<Folder> {
    let Some(place) = folder(t, space_id, folder_id, i64::from(limits.max_depth)).await? else {
        return refuse(StoreError::ParentNotFound);
    };
    if place.ids.iter().any(|id| id == moving) {
        return refuse(StoreError::IntoItself);
    }
    if !place.complete {
        return refuse(StoreError::TooDeep);
    }
    Ok(place)
}

/// How far a subtree reaches below its root: the most names below it and
/// the most characters its paths add to the root's (`/b/c` adds 4).
#[derive(Debug, Clone, Copy, Default)]
struct Extent {
    depth: i64,
    chars: i64,
}

/// `TooDeep` / `PathTooLong` unless a dentry named `name` in `parent`, with
/// a subtree of `extent` below it, keeps the limits.
fn check_limits(limits: &TreeLimits, parent: &Folder, name: &str, extent: Extent) -> DbResult<()> {
    if !parent.complete || parent.depth() + 1 + extent.depth > i64::from(limits.max_depth) {
        return refuse(StoreError::TooDeep);
    }
    if parent.path_chars() + chars(name) + 1 + extent.chars > i64::from(limits.max_path_chars) {
        return refuse(StoreError::PathTooLong);
    }
    Ok(())
}

/// A dentry of a subtree walk: its id, how many names below the walk's root
/// it is (0 for the root) and the characters its path adds to the root's.
struct Member {
    dentry_id: String,
    depth: i64,
    chars: i64,
}

fn members_from_rows(rows: &[Row]) -> DbResult<Vec<Member>> {
    rows.iter()
        .map(|r| {
            Ok(Member { dentry_id: r.try_get(0)?, depth: r.try_get(1)?, chars: r.try_get(2)? })
        })
        .collect()
}

/// The live dentry `root_id` of the space and its live subtree, down to
/// `bound` names below it (parents before children); empty if it is not
/// live in the space.
async fn live_members(
    t: &Tx<'_>,
    space_id: &str,
    root_id: &str,
    bound: i64,
) -> DbResult<Vec<Member>> {
    members_from_rows(&all(t, LIVE_MEMBERS_SQL, &[&space_id, &root_id, &bound]).await?)
}

/// How far the live subtree of the live dentry reaches below it, walking
/// down to `bound` names.
async fn live_extent(t: &Tx<'_>, space_id: &str, root_id: &str, bound: i64) -> DbResult<Extent> {
    let row = one(t, LIVE_EXTENT_SQL, &[&space_id, &root_id, &bound]).await?;
    Ok(match row {
        Some(r) => Extent {
            depth: r.try_get::<_, Option<i64>>(0)?.unwrap_or(0),
            chars: r.try_get::<_, Option<i64>>(1)?.unwrap_or(0),
        },
        None => Extent::default(),
    })
}

fn extent_of(members: &[Member]) -> Extent {
    members.iter().fold(Extent::default(), |e, m| Extent {
        depth: e.depth.max(m.depth),
        chars: e.chars.max(m.chars),
    })
}

fn member_ids(members: &[Member]) -> Vec<String> {
    members.iter().map(|m| m.dentry_id.clone()).collect()
}

/// What the conflict rule made of a name at the target.
enum Naming {
    /// The incoming dentry takes `name`; `replaced` is the file `Overwrite`
    /// sent to the bin to free it.
    Take { name: String, replaced: Option<RecycleItemRecord> },
    /// `ReturnExisting` met this live sibling (with its app properties).
    Existing(DentryRecord),
}

/// Who arrives where: the context of [`settle_name`].
struct Arrival<'a> {
    target: &'a Folder,
    owner: &'a SpaceOwner,
    actor: &'a Actor,
    ids: &'a dyn IdSource,
}

/// Settles the name `name` of `incoming` among the live children of the
/// target folder, by `conflict`. A live sibling that is `itself` (a move
/// within its folder) is no conflict.
async fn settle_name(
    t: &Tx<'_>,
    to: &Arrival<'_>,
    incoming: &DentryRecord,
    name: &str,
    conflict: &NameConflict,
    itself: Option<&str>,
) -> DbResult<Naming> {
    let at = DentryRecord {
        space_id: to.target.space_id.clone(),
        parent_id: to.target.folder_id.clone(),
        ..DentryRecord::default()
    };
    let sibling = match live_child(t, &at, name, false).await? {
        Some(sibling) if Some(sibling.dentry_id.as_str()) != itself => sibling,
        _ => return Ok(Naming::Take { name: name.to_string(), replaced: None }),
    };
    match conflict {
        NameConflict::Fail => refuse(StoreError::NameTaken(Box::new(sibling))),
        NameConflict::ReturnExisting => Ok(Naming::Existing(reread(t, &sibling).await?)),
        // A dentry over itself (a copy into its own folder): nothing to replace.
        NameConflict::Overwrite if sibling.dentry_id == incoming.dentry_id => {
            Ok(Naming::Existing(reread(t, &sibling).await?))
        }
        NameConflict::Overwrite => {
            if sibling.is_folder() || incoming.is_folder() {
                return refuse(StoreError::NameTaken(Box::new(sibling)));
            }
            let item = RecycleItemRecord {
                recycle_item_id: to.ids.next_id(),
                corp_id: to.owner.corp_id.clone(),
                app_id: to.owner.app_id.clone(),
                space_id: to.owner.space_id.clone(),
                dentry_id: sibling.dentry_id.clone(),
                kind: sibling.kind.clone(),
                name: sibling.name.clone(),
                path: to.target.path_of(&sibling.name),
                parent_id: sibling.parent_id.clone(),
                size: sibling.size,
                operator_id: to.actor.union_id.clone(),
                deleted_at: to.actor.now_ms,
                entries: 1,
            };
            bin(t, &item, &[sibling.dentry_id]).await?;
            Ok(Naming::Take { name: name.to_string(), replaced: Some(item) })
        }
        NameConflict::AutoRename { prefix, suffix } => {
            match free_name(t, &at, prefix, suffix).await? {
                Some(free) => Ok(Naming::Take { name: free, replaced: None }),
                None => refuse(StoreError::NameTaken(Box::new(incoming.clone()))),
            }
        }
    }
}

/// Inserts the recycle item and marks `dentry_ids` (its root and subtree)
/// `DELETED` under it. Their grants stay, in force again after a restore.
async fn bin(t: &Tx<'_>, item: &RecycleItemRecord, dentry_ids: &[String]) -> DbResult<()> {
    exec(
        t,
        concat!(
            "INSERT INTO recycle_items (",
            recycle_item_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ),
        &[
            &item.recycle_item_id,
            &item.corp_id,
            &item.app_id,
            &item.space_id,
            &item.dentry_id,
            &item.kind,
            &item.name,
            &item.path,
            &item.parent_id,
            &item.size,
            &item.operator_id,
            &item.deleted_at,
            &item.entries,
        ],
    )
    .await?;
    exec(
        t,
        "UPDATE dentries SET status = 'DELETED', recycle_item_id = $1 WHERE dentry_id = ANY($2)",
        &[&item.recycle_item_id, &dentry_ids],
    )
    .await?;
    Ok(())
}

/// Bytes the dentries hold: files' current contents and every kept version.
async fn content_bytes(t: &Tx<'_>, dentry_ids: &[String]) -> DbResult<i64> {
    let row = one(
        t,
        "SELECT (COALESCE((SELECT SUM(size) FROM dentries \
                           WHERE dentry_id = ANY($1) AND kind = 'FILE'), 0) \
               + COALESCE((SELECT SUM(size) FROM dentry_versions \
                           WHERE dentry_id = ANY($1)), 0))::BIGINT",
        &[&dentry_ids],
    )
    .await?;
    Ok(row.map_or(Ok(0), |r| r.try_get(0))?)
}

/// Takes `bytes` off the space's counter and its org's (never below 0).
async fn free_bytes(t: &Tx<'_>, space_id: &str, bytes: i64) -> DbResult<()> {
    if bytes == 0 {
        return Ok(());
    }
    exec(
        t,
        "UPDATE spaces SET used_bytes = GREATEST(used_bytes - $1, 0) WHERE space_id = $2",
        &[&bytes, &space_id],
    )
    .await?;
    exec(
        t,
        "UPDATE orgs SET used_bytes = GREATEST(used_bytes - $1, 0) \
         WHERE corp_id = (SELECT corp_id FROM spaces WHERE space_id = $2)",
        &[&bytes, &space_id],
    )
    .await?;
    Ok(())
}

/// Permanently removes the dentries with their versions and app properties
/// (their spaces locked by the caller), takes their bytes off their spaces'
/// and orgs' counters, and trashes every content object they referred to
/// that no remaining dentry or version refers to (under the objects'
/// advisory locks, see the module doc). Answers the bytes freed and the
/// objects trashed (sorted).
pub(crate) async fn remove_dentries(
    t: &Tx<'_>,
    dentry_ids: &[String],
    now_ms: i64,
) -> DbResult<(i64, Vec<String>)> {
    if dentry_ids.is_empty() {
        return Ok((0, Vec::new()));
    }
    let mut by_space: BTreeMap<String, i64> = BTreeMap::new();
    for row in all(
        t,
        "SELECT space_id, SUM(size)::BIGINT FROM ( \
             SELECT space_id, size FROM dentries WHERE dentry_id = ANY($1) AND kind = 'FILE' \
             UNION ALL \
             SELECT d.space_id, v.size FROM dentry_versions v \
             JOIN dentries d ON d.dentry_id = v.dentry_id WHERE v.dentry_id = ANY($1)) s \
         GROUP BY space_id",
        &[&dentry_ids],
    )
    .await?
    {
        by_space.insert(row.try_get(0)?, row.try_get(1)?);
    }
    let objects: Vec<String> = all(
        t,
        "SELECT blob_key FROM dentries WHERE dentry_id = ANY($1) AND blob_key IS NOT NULL \
         UNION SELECT blob_key FROM dentry_versions WHERE dentry_id = ANY($1)",
        &[&dentry_ids],
    )
    .await?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<Result<_, _>>()?;
    if !objects.is_empty() {
        exec(
            t,
            "SELECT pg_advisory_xact_lock($1, h) FROM \
             (SELECT DISTINCT hashtext(o) AS h FROM unnest($2::TEXT[]) o ORDER BY h) s",
            &[&OBJECT_LOCK, &objects],
        )
        .await?;
    }
    // Versions, app properties and open links go with their dentries
    // (ON DELETE CASCADE), grants here.
    exec(t, "DELETE FROM dentries WHERE dentry_id = ANY($1)", &[&dentry_ids]).await?;
    crate::grants::drop_grants(t, dentry_ids).await?;
    let mut freed = 0;
    for (space_id, bytes) in &by_space {
        free_bytes(t, space_id, *bytes).await?;
        freed += bytes;
    }
    let mut trashed: Vec<String> = all(
        t,
        "INSERT INTO trashed_objects (object_key, trashed_at) \
         SELECT o, $2 FROM unnest($1::TEXT[]) o \
         WHERE NOT EXISTS (SELECT 1 FROM dentries WHERE blob_key = o) \
         AND NOT EXISTS (SELECT 1 FROM dentry_versions WHERE blob_key = o) \
         ON CONFLICT (object_key) DO NOTHING RETURNING object_key",
        &[&objects, &now_ms],
    )
    .await?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<Result<_, _>>()?;
    let thumbnails = trash_thumbnails(t, &trashed, now_ms).await?;
    trashed.extend(thumbnails);
    trashed.sort();
    Ok((freed, trashed))
}

fn recycle_item_from_row(r: &Row) -> DbResult<RecycleItemRecord> {
    Ok(RecycleItemRecord {
        recycle_item_id: r.try_get(0)?,
        corp_id: r.try_get(1)?,
        app_id: r.try_get(2)?,
        space_id: r.try_get(3)?,
        dentry_id: r.try_get(4)?,
        kind: r.try_get(5)?,
        name: r.try_get(6)?,
        path: r.try_get(7)?,
        parent_id: r.try_get(8)?,
        size: r.try_get(9)?,
        operator_id: r.try_get(10)?,
        deleted_at: r.try_get(11)?,
        entries: r.try_get(12)?,
    })
}
