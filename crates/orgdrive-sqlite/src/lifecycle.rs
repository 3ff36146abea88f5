//! SQLite: the dentry lifecycle — rename, move, copy, delete, versions and
//! app property edits (`tree`), the recycle bin (`recycle`), persisted tasks
//! (`tasks`). This module holds what they share, every function running
//! inside the writer's transaction: places in the tree (ancestor walks, the
//! limits), subtree walks, settling a name at a target under a conflict
//! rule, sending dentries to the bin, and permanent removal (freeing bytes,
//! trashing content objects nothing refers to any more).

// Before the submodules: they use it too.
macro_rules! recycle_item_columns {
    () => {
        "recycle_item_id, corp_id, app_id, space_id, dentry_id, kind, name, path, parent_id, \
         size, operator_id, deleted_at, entries"
    };
}

mod recycle;
mod tasks;
mod tree;

// Tree walks. Each recursive step names the walk's table first and joins
// `dentries` with `CROSS JOIN`, which fixes SQLite's loop order: one index
// probe per row reached (the primary key going up; going down, one of the
// indexes of live dentries led by (space_id, parent_id), or
// `dentries_by_recycle_item`). Left to itself the planner may scan the
// whole space once per row reached — quadratic, on the writer.
// `walks_probe_an_index_per_row` pins every plan.

/// The folder `?2` of space `?1` and its ancestors, nearest first, at most `?3`.
pub(crate) const ANCESTORS_SQL: &str =
    "WITH RECURSIVE chain (dentry_id, parent_id, name, kind, status, depth) AS ( \
     SELECT dentry_id, parent_id, name, kind, status, 1 FROM dentries \
     WHERE space_id = ?1 AND dentry_id = ?2 \
     UNION ALL \
     SELECT d.dentry_id, d.parent_id, d.name, d.kind, d.status, c.depth + 1 \
     FROM chain c CROSS JOIN dentries d ON d.dentry_id = c.parent_id \
     WHERE d.space_id = ?1 AND c.parent_id != '0' AND c.depth < ?3) \
 SELECT dentry_id, parent_id, name, kind, status FROM chain ORDER BY depth";

/// The live dentry `?2` of space `?1` and its live subtree down to `?3`
/// names, with each one's depth and path characters below the root.
pub(crate) const LIVE_MEMBERS_SQL: &str = "WITH RECURSIVE sub (dentry_id, depth, chars) AS ( \
     SELECT dentry_id, 0, 0 FROM dentries \
     WHERE space_id = ?1 AND dentry_id = ?2 AND status = 'NORMAL' \
     UNION ALL \
     SELECT d.dentry_id, s.depth + 1, s.chars + length(d.name) + 1 \
     FROM sub s CROSS JOIN dentries d ON d.parent_id = s.dentry_id \
     WHERE d.space_id = ?1 AND d.status = 'NORMAL' AND s.depth < ?3) \
 SELECT dentry_id, depth, chars FROM sub ORDER BY depth";

/// How deep and how long the live subtree below `?2` reaches (down to `?3`).
pub(crate) const LIVE_EXTENT_SQL: &str = "WITH RECURSIVE sub (dentry_id, depth, chars) AS ( \
     SELECT ?2, 0, 0 \
     UNION ALL \
     SELECT d.dentry_id, s.depth + 1, s.chars + length(d.name) + 1 \
     FROM sub s CROSS JOIN dentries d ON d.parent_id = s.dentry_id \
     WHERE d.space_id = ?1 AND d.status = 'NORMAL' AND s.depth < ?3) \
 SELECT MAX(depth), MAX(chars) FROM sub";

/// How many live dentries the live subtree of `?2` holds (itself included).
pub(crate) const SUBTREE_SIZE_SQL: &str = "WITH RECURSIVE sub (dentry_id, depth) AS ( \
     SELECT dentry_id, 0 FROM dentries \
     WHERE space_id = ?1 AND dentry_id = ?2 AND status = 'NORMAL' \
     UNION ALL \
     SELECT d.dentry_id, s.depth + 1 \
     FROM sub s CROSS JOIN dentries d ON d.parent_id = s.dentry_id \
     WHERE d.space_id = ?1 AND d.status = 'NORMAL' AND s.depth < ?3) \
 SELECT COUNT(*) FROM sub";

/// The dentries of recycle item `?1` below its root `?2`, down to `?3`
/// names, with each one's depth and path characters below the root.
pub(crate) const ITEM_MEMBERS_SQL: &str = "WITH RECURSIVE sub (dentry_id, depth, chars) AS ( \
     SELECT ?2, 0, 0 \
     UNION ALL \
     SELECT d.dentry_id, s.depth + 1, s.chars + length(d.name) + 1 \
     FROM sub s CROSS JOIN dentries d ON d.parent_id = s.dentry_id \
     WHERE d.recycle_item_id = ?1 AND s.depth < ?3) \
 SELECT dentry_id, depth, chars FROM sub";

use std::collections::BTreeMap;

use rusqlite::{params, Connection};

use crate::drive::{free_name, id_array, live_child, reread, ROOT_ID};
use crate::*;
use orgdrive_store::{Actor, IdSource, NameConflict, RecycleItemRecord, TreeLimits};

/// Most steps an ancestor or subtree walk takes when no limit bounds it
/// (paths of dentries already in the tree): enough for any tree the limits
/// allow, and an end to a walk in a broken tree.
const UNBOUNDED_WALK: u32 = 10_000;

/// Characters of a name, as the path limit counts them (Unicode scalar
/// values; SQLite's `length()` of a text).
fn chars(name: &str) -> i64 {
    name.chars().count() as i64
}

/// The org and app of a space.
struct SpaceOwner {
    space_id: String,
    corp_id: String,
    app_id: String,
}

fn space_owner(conn: &Connection, space_id: &str) -> StoreResult<Option<SpaceOwner>> {
    one(conn, "SELECT space_id, corp_id, app_id FROM spaces WHERE space_id = ?1", [space_id], |r| {
        Ok(SpaceOwner { space_id: r.get(0)?, corp_id: r.get(1)?, app_id: r.get(2)? })
    })
}

/// The space, if it belongs to the actor's org; `NotFound` otherwise (the
/// source end of a change).
fn actors_space(conn: &Connection, space_id: &str, actor: &Actor) -> StoreResult<SpaceOwner> {
    space_owner(conn, space_id)?
        .filter(|owner| owner.corp_id == actor.corp_id)
        .ok_or(StoreError::NotFound)
}

/// The dentry, if it is live in the space (without app properties).
fn live_dentry(
    conn: &Connection,
    space_id: &str,
    dentry_id: &str,
) -> StoreResult<Option<DentryRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        dentry_columns!(""),
        " FROM dentries WHERE space_id = ?1 AND dentry_id = ?2 AND status = 'NORMAL'"
    );
    one(conn, SQL, [space_id, dentry_id], dentry_from_row)
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
fn folder(
    conn: &Connection,
    space_id: &str,
    folder_id: &str,
    bound: u32,
) -> StoreResult<Option<Folder>> {
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
    let chain = all(conn, ANCESTORS_SQL, params![space_id, folder_id, bound], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let Some((_, top_parent, ..)) = chain.last() else { return Ok(None) };
    place.complete = top_parent == ROOT_ID;
    if !place.complete && chain.len() < bound as usize {
        // The walk ended at a missing parent: not a place in the tree.
        return Ok(None);
    }
    for (id, _, name, kind, status) in chain {
        if kind != "FOLDER" || status != "NORMAL" {
            return Ok(None);
        }
        place.ids.push(id);
        place.names.push(name);
    }
    place.names.reverse();
    Ok(Some(place))
}

/// The folder a move, copy or restore puts its dentry in, walking at most
/// `max_depth` folders up: `ParentNotFound` unless it is a live folder of
/// the space (or the root); `IntoItself` if `moving` is the folder or one of
/// its ancestors; `TooDeep` if the walk did not reach the root (the folder
/// is at the depth limit already).
fn target_folder(
    conn: &Connection,
    space_id: &str,
    folder_id: &str,
    limits: &TreeLimits,
    moving: &str,
) -> StoreResult<Folder> {
    let place =
        folder(conn, space_id, folder_id, limits.max_depth)?.ok_or(StoreError::ParentNotFound)?;
    if place.ids.iter().any(|id| id == moving) {
        return Err(StoreError::IntoItself);
    }
    if !place.complete {
        return Err(StoreError::TooDeep);
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
fn check_limits(
    limits: &TreeLimits,
    parent: &Folder,
    name: &str,
    extent: Extent,
) -> StoreResult<()> {
    if !parent.complete || parent.depth() + 1 + extent.depth > i64::from(limits.max_depth) {
        return Err(StoreError::TooDeep);
    }
    if parent.path_chars() + chars(name) + 1 + extent.chars > i64::from(limits.max_path_chars) {
        return Err(StoreError::PathTooLong);
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

fn member_from_row(r: &rusqlite::Row) -> rusqlite::Result<Member> {
    Ok(Member { dentry_id: r.get(0)?, depth: r.get(1)?, chars: r.get(2)? })
}

/// The live dentry `root_id` of the space and its live subtree, down to
/// `bound` names below it (parents before children); empty if it is not
/// live in the space.
fn live_members(
    conn: &Connection,
    space_id: &str,
    root_id: &str,
    bound: u32,
) -> StoreResult<Vec<Member>> {
    all(conn, LIVE_MEMBERS_SQL, params![space_id, root_id, bound], member_from_row)
}

/// How far the live subtree of the live dentry reaches below it, walking
/// down to `bound` names (a subtree that reaches the bound is too deep for
/// any place).
fn live_extent(
    conn: &Connection,
    space_id: &str,
    root_id: &str,
    bound: u32,
) -> StoreResult<Extent> {
    let extent = one(conn, LIVE_EXTENT_SQL, params![space_id, root_id, bound], |r| {
        Ok(Extent { depth: r.get(0)?, chars: r.get(1)? })
    })?;
    Ok(extent.unwrap_or_default())
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

/// Settles the name `name` of `incoming` (a move's source, a copy's source,
/// a restored item's root) among the live children of the target folder,
/// by `conflict`. A live sibling that is `itself` (a move within its
/// folder) is no conflict.
fn settle_name(
    conn: &Connection,
    to: &Arrival,
    incoming: &DentryRecord,
    name: &str,
    conflict: &NameConflict,
    itself: Option<&str>,
) -> StoreResult<Naming> {
    let at = DentryRecord {
        space_id: to.target.space_id.clone(),
        parent_id: to.target.folder_id.clone(),
        ..DentryRecord::default()
    };
    let sibling = match live_child(conn, &at, name)? {
        Some(sibling) if Some(sibling.dentry_id.as_str()) != itself => sibling,
        _ => return Ok(Naming::Take { name: name.to_string(), replaced: None }),
    };
    match conflict {
        NameConflict::Fail => Err(StoreError::NameTaken(Box::new(sibling))),
        NameConflict::ReturnExisting => Ok(Naming::Existing(reread(conn, &sibling)?)),
        // A dentry over itself (a copy into its own folder): nothing to replace.
        NameConflict::Overwrite if sibling.dentry_id == incoming.dentry_id => {
            Ok(Naming::Existing(reread(conn, &sibling)?))
        }
        NameConflict::Overwrite => {
            if sibling.is_folder() || incoming.is_folder() {
                return Err(StoreError::NameTaken(Box::new(sibling)));
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
            bin(conn, &item, &[sibling.dentry_id])?;
            Ok(Naming::Take { name: name.to_string(), replaced: Some(item) })
        }
        NameConflict::AutoRename { prefix, suffix } => {
            match free_name(conn, &at, prefix, suffix)? {
                Some(free) => Ok(Naming::Take { name: free, replaced: None }),
                None => Err(StoreError::NameTaken(Box::new(incoming.clone()))),
            }
        }
    }
}

/// Inserts the recycle item and marks `dentry_ids` (its root and subtree)
/// `DELETED` under it.
fn bin(conn: &Connection, item: &RecycleItemRecord, dentry_ids: &[String]) -> StoreResult<()> {
    exec(
        conn,
        concat!(
            "INSERT INTO recycle_items (",
            recycle_item_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ),
        params![
            item.recycle_item_id,
            item.corp_id,
            item.app_id,
            item.space_id,
            item.dentry_id,
            item.kind,
            item.name,
            item.path,
            item.parent_id,
            item.size,
            item.operator_id,
            item.deleted_at,
            item.entries,
        ],
    )
    .map_err(classify)?;
    exec(
        conn,
        "UPDATE dentries SET status = 'DELETED', recycle_item_id = ?1 \
         WHERE dentry_id IN rarray(?2)",
        params![item.recycle_item_id, id_array(dentry_ids.iter())],
    )
    .map_err(backend)?;
    // Their grants stay, in force again if the item is restored.
    Ok(())
}

/// Bytes the dentries hold: files' current contents and every kept version.
fn content_bytes(conn: &Connection, dentry_ids: &[String]) -> StoreResult<i64> {
    let bytes = one(
        conn,
        "SELECT COALESCE((SELECT SUM(size) FROM dentries \
                          WHERE dentry_id IN rarray(?1) AND kind = 'FILE'), 0) \
              + COALESCE((SELECT SUM(size) FROM dentry_versions \
                          WHERE dentry_id IN rarray(?1)), 0)",
        [id_array(dentry_ids.iter())],
        |r| r.get(0),
    )?;
    Ok(bytes.unwrap_or(0))
}

/// Takes `bytes` off the space's counter and its org's. Never fails on a
/// cap (a counter already off by repair's standards stops at 0).
fn free_bytes(conn: &Connection, space_id: &str, bytes: i64) -> StoreResult<()> {
    if bytes == 0 {
        return Ok(());
    }
    exec(
        conn,
        "UPDATE spaces SET used_bytes = MAX(used_bytes - ?1, 0) WHERE space_id = ?2",
        params![bytes, space_id],
    )
    .map_err(backend)?;
    exec(
        conn,
        "UPDATE orgs SET used_bytes = MAX(used_bytes - ?1, 0) \
         WHERE corp_id = (SELECT corp_id FROM spaces WHERE space_id = ?2)",
        params![bytes, space_id],
    )
    .map_err(backend)?;
    Ok(())
}

/// Permanently removes the dentries with their versions and app
/// properties, takes their bytes off their spaces' and orgs' counters, and
/// puts every content object they referred to that no remaining dentry or
/// version refers to into the trash. Answers the bytes freed and the
/// objects trashed (sorted).
pub(crate) fn remove_dentries(
    conn: &Connection,
    dentry_ids: &[String],
    now_ms: i64,
) -> StoreResult<(i64, Vec<String>)> {
    if dentry_ids.is_empty() {
        return Ok((0, Vec::new()));
    }
    let by_space: BTreeMap<String, i64> = all(
        conn,
        "SELECT space_id, SUM(size) FROM ( \
             SELECT space_id, size FROM dentries \
             WHERE dentry_id IN rarray(?1) AND kind = 'FILE' \
             UNION ALL \
             SELECT d.space_id, v.size FROM dentry_versions v \
             JOIN dentries d ON d.dentry_id = v.dentry_id WHERE v.dentry_id IN rarray(?1)) \
         GROUP BY space_id",
        [id_array(dentry_ids.iter())],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?
    .into_iter()
    .collect();
    let objects: Vec<String> = all(
        conn,
        "SELECT blob_key FROM dentries WHERE dentry_id IN rarray(?1) AND blob_key IS NOT NULL \
         UNION SELECT blob_key FROM dentry_versions WHERE dentry_id IN rarray(?1)",
        [id_array(dentry_ids.iter())],
        |r| r.get(0),
    )?;
    // Versions and app properties go with their dentries (ON DELETE CASCADE),
    // grants here.
    exec(conn, "DELETE FROM dentries WHERE dentry_id IN rarray(?1)", [id_array(dentry_ids.iter())])
        .map_err(backend)?;
    crate::grants::drop_grants(conn, dentry_ids)?;
    let mut freed = 0;
    for (space_id, bytes) in &by_space {
        free_bytes(conn, space_id, *bytes)?;
        freed += bytes;
    }
    let mut trashed: Vec<String> = all(
        conn,
        "INSERT INTO trashed_objects (object_key, trashed_at) \
         SELECT value, ?2 FROM rarray(?1) o \
         WHERE NOT EXISTS (SELECT 1 FROM dentries WHERE blob_key = o.value) \
         AND NOT EXISTS (SELECT 1 FROM dentry_versions WHERE blob_key = o.value) \
         ON CONFLICT (object_key) DO NOTHING RETURNING object_key",
        params![id_array(objects.iter()), now_ms],
        |r| r.get(0),
    )?;
    let thumbnails = crate::thumbnails::trash_thumbnails(conn, &trashed, now_ms)?;
    trashed.extend(thumbnails);
    trashed.sort();
    Ok((freed, trashed))
}

fn recycle_item_from_row(r: &rusqlite::Row) -> rusqlite::Result<RecycleItemRecord> {
    Ok(RecycleItemRecord {
        recycle_item_id: r.get(0)?,
        corp_id: r.get(1)?,
        app_id: r.get(2)?,
        space_id: r.get(3)?,
        dentry_id: r.get(4)?,
        kind: r.get(5)?,
        name: r.get(6)?,
        path: r.get(7)?,
        parent_id: r.get(8)?,
        size: r.get(9)?,
        operator_id: r.get(10)?,
        deleted_at: r.get(11)?,
        entries: r.get(12)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every walk probes an index once per row it reaches — never a scan of
    /// the space or of the table per row.
    #[test]
    fn walks_probe_an_index_per_row() {
        let conn = Connection::open_in_memory().unwrap();
        crate::migrate::run(&conn).unwrap();
        // (walk, SQL, the constraint each probe of `dentries` must use)
        let walks = [
            ("ancestors", ANCESTORS_SQL, "(dentry_id=?)"),
            ("live members", LIVE_MEMBERS_SQL, "(space_id=? AND parent_id=?)"),
            ("live extent", LIVE_EXTENT_SQL, "(space_id=? AND parent_id=?)"),
            ("subtree size", SUBTREE_SIZE_SQL, "(space_id=? AND parent_id=?)"),
            ("item members", ITEM_MEMBERS_SQL, "(recycle_item_id=? AND parent_id=?)"),
        ];
        for (name, sql, probe) in walks {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(["s", "d", "64"], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            // The recursive step: the walk's rows outside, one probe of
            // `dentries` by the walked key inside.
            let step: Vec<&str> = plan
                .iter()
                .map(String::as_str)
                .skip_while(|l| !l.contains("RECURSIVE STEP"))
                .skip(1)
                .take(2)
                .collect();
            assert!(
                matches!(step.as_slice(), [outer, inner]
                    if outer.starts_with("SCAN ") && !outer.contains("dentries")
                        && inner.starts_with("SEARCH d ") && inner.contains(probe)),
                "{name}: the recursive step should scan the walk and probe {probe}: {plan:#?}"
            );
        }
    }
}
