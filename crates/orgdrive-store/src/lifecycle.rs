//! Records of the dentry lifecycle: tree changes (rename, move, copy,
//! delete), the recycle bin, versions, app property edits, persisted tasks,
//! and the trash of content objects no dentry refers to any more.
//!
//! A tree change is one transaction whatever the size of the subtree: a
//! subtree is wholly at its source or wholly at its target, never split.

use std::sync::Arc;

use crate::{AppPropertyRecord, DentryRecord, NameConflict, StoreError, StoreResult};

/// New ids for what a tree change creates (copied dentries, recycle items of
/// replaced files). Called inside the store's transaction.
pub trait IdSource: Send + Sync + 'static {
    /// A new decimal id, unique across nodes (dentries, recycle items).
    fn next_id(&self) -> String;
    /// A new dentry `uuid`.
    fn next_uuid(&self) -> String;
}

/// Limits every live dentry's place keeps, checked inside the transaction
/// that would break them (`TooDeep`, `PathTooLong`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeLimits {
    /// Most names in a dentry's path (`/a/b/c` has 3; the root's children 1).
    pub max_depth: u32,
    /// Longest path (`/a/b/name`), in characters (Unicode scalar values).
    pub max_path_chars: u32,
}

/// Who makes a tree change, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The operator's unionId (`modifierId`, recycle item `operatorId`).
    pub union_id: String,
    /// The org both ends of the change must belong to: a change whose
    /// source space is outside it fails with `NotFound`, a move or copy to a
    /// space outside it with `SpaceNotFound`.
    pub corp_id: String,
    pub now_ms: i64,
}

/// RenameDentry: the live dentry gets `new_name` in its folder; its
/// `modifier_id`/`modified_at` become the actor's. `NotFound` for a dentry
/// that is not live in the space; `NameTaken` (naming the sibling) when a
/// live sibling has the name; renaming to its own name changes only the
/// modifier. `PathTooLong` if a path in its subtree would pass the limit.
#[derive(Debug, Clone)]
pub struct RenameDentry {
    pub space_id: String,
    pub dentry_id: String,
    pub new_name: String,
    pub actor: Actor,
    pub limits: TreeLimits,
}

/// Where a move, copy or restore puts its dentry, and what to do when a
/// live dentry there has the name.
///
/// Conflict rules: `AutoRename` takes `prefix{k}suffix` as [`NameConflict`]
/// says; `ReturnExisting` changes nothing and answers the sibling
/// ([`Placed::existing`]); `Fail` fails with `NameTaken`; `Overwrite`
/// replaces a same-name **file** with an incoming **file**: the replaced
/// file goes to the recycle bin of its space (a recycle item with a new id
/// from the [`IdSource`], recoverable, still counted against quota) and the
/// incoming file takes the name; a dentry over itself (a copy into its own
/// folder) changes nothing, as under `ReturnExisting`. A folder is never
/// overwritten nor overwrites (`NameTaken`).
#[derive(Debug, Clone)]
pub struct Destination {
    pub space_id: String,
    /// `0` = the root.
    pub parent_id: String,
    pub conflict: NameConflict,
}

/// MoveDentry. The live dentry (a file, or a folder with its live subtree)
/// goes under `to.parent_id` of `to.space_id`, keeping its ids and `uuid`,
/// its versions and app properties; modifier and modified time become the
/// actor's (on the moved dentry only).
///
/// Refusals (nothing changes): `NotFound` for a source that is not live in
/// `space_id`; `SpaceNotFound` for a target space outside the actor's org;
/// `ParentNotFound` unless the target parent is a live folder of the target
/// space (or its root); `IntoItself` when the target parent is the source or
/// one of its descendants; `TooDeep` / `PathTooLong` when a path of the moved
/// subtree would pass the limits; `QuotaExceeded { space: true }` when a
/// cross-space move would pass the target space's quota. Moving a dentry to
/// the folder it is in, under its own name, changes nothing but the modifier.
///
/// Within a space a move changes one row, whatever the subtree's size (the
/// limit check reads the subtree only when the new place is deeper or its
/// path longer than the old). Across spaces every row of the subtree changes
/// space, and its bytes (current contents and kept versions) move from the
/// source space's counter to the target's; the org's counter is unchanged.
/// Dentries in the recycle bin under the moved folder stay where they are.
///
/// Grants on the moved subtree's dentries go with them when `keep_grants`
/// (into the target space, too); otherwise they are removed in the same
/// transaction, unless the dentry stays in its folder (a move that changes
/// nothing keeps them) — and, with `protect_owner_grants`, the move fails
/// with `OwnerGrantInTheWay` instead when one of those grants is a live
/// `OWNER` grant (decided in the transaction, so no concurrent change slips
/// one in). Grants on the old ancestors never follow.
#[derive(Debug, Clone)]
pub struct MoveDentry {
    pub space_id: String,
    pub dentry_id: String,
    pub to: Destination,
    pub actor: Actor,
    pub limits: TreeLimits,
    pub keep_grants: bool,
    pub protect_owner_grants: bool,
    /// A task that completes with this change: set to `SUCCESS` (with the
    /// number of entries changed) in the same transaction. It must be
    /// unfinished: an unknown or finished task fails the change with
    /// `NotFound` (a task's change happens at most once). The same holds for
    /// the `task_id` of a copy, delete or restore.
    pub task_id: Option<String>,
}

/// CopyDentry. The live dentry and its live subtree are copied under
/// `to.parent_id` of `to.space_id`. The copy's root gets `new_dentry_id` and
/// `new_uuid`, every other copied dentry ids from the [`IdSource`]; creator,
/// modifier and times are the actor's; versions are 1 and history is not
/// copied; app properties are copied. A copied file shares its content
/// object with the source (no bytes are copied) and its size is charged to
/// the target space and the org (`QuotaExceeded` otherwise). Grants are not
/// copied: a copy is reached through the grants of its new place.
///
/// Refusals as [`MoveDentry`] (`IntoItself` included: a folder is not copied
/// into itself).
#[derive(Debug, Clone)]
pub struct CopyDentry {
    pub space_id: String,
    pub dentry_id: String,
    pub to: Destination,
    pub new_dentry_id: String,
    pub new_uuid: String,
    pub actor: Actor,
    pub limits: TreeLimits,
    pub task_id: Option<String>,
}

/// DeleteDentry. The live dentry and its live subtree leave the tree:
///
/// - `recycle_item_id: Some(id)`: to the recycle bin: one recycle item `id`
///   (original parent, name and path, the subtree's current bytes as
///   `size`, the actor as operator) and every dentry of the subtree marked
///   `DELETED` under it. Nothing is freed: binned bytes count until purged.
/// - `None`: permanently: the dentries, their versions and app properties
///   are removed, their bytes (current and versions) are taken off the space
///   and org counters, and every content object no remaining dentry or
///   version refers to is put in the trash and returned ([`Removed`]).
///
/// The grants on the subtree's dentries are removed with them when the
/// delete is permanent; binned dentries keep theirs (no live dentry is
/// below a binned one, so they reach nothing) and a restore brings them back
/// in force. Dentries already in the bin under the deleted folder keep their
/// own recycle items. `NotFound` for a source that is not live in the space.
#[derive(Debug, Clone)]
pub struct DeleteDentry {
    pub space_id: String,
    pub dentry_id: String,
    pub recycle_item_id: Option<String>,
    pub actor: Actor,
    pub task_id: Option<String>,
}

/// Where a move, copy or restore left its dentry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The moved or restored dentry, or the copy's root, as stored now (with
    /// its app properties); under `ReturnExisting`, the live sibling that
    /// had the name.
    pub dentry: DentryRecord,
    /// `ReturnExisting` met a sibling: nothing was changed.
    pub existing: bool,
    /// Dentries changed or created (1 for a file; 1 for any move within a
    /// space, which changes its root's row only; 0 under `ReturnExisting`).
    pub entries: i64,
    /// The file `Overwrite` sent to the recycle bin.
    pub replaced: Option<RecycleItemRecord>,
}

/// What a permanent removal freed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// Dentries removed (or binned).
    pub entries: i64,
    /// Bytes taken off the counters (current contents and versions).
    pub freed_bytes: i64,
    /// Content objects nothing refers to any more, now in the trash: the
    /// caller deletes them and then forgets them
    /// ([`crate::MaintenanceStore::forget_trash`]).
    pub trashed_objects: Vec<String>,
    /// The recycle item created (delete to the bin).
    pub recycle_item: Option<RecycleItemRecord>,
}

/// Whose recycle bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecycleScope {
    /// Every space of an org (scope id = corpId).
    Org,
    /// Every space of an app (scope id = appId).
    App,
    /// One space (scope id = spaceId).
    Space,
}

impl RecycleScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RecycleScope::Org => "ORG",
            RecycleScope::App => "APP",
            RecycleScope::Space => "SPACE",
        }
    }

    pub fn parse(raw: &str) -> Option<RecycleScope> {
        match raw {
            "ORG" => Some(RecycleScope::Org),
            "APP" => Some(RecycleScope::App),
            "SPACE" => Some(RecycleScope::Space),
            _ => None,
        }
    }
}

/// A recycle bin: a named view of the recycle items of its scope. Items
/// belong to spaces; a bin shows those of the spaces its scope covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecycleBinRecord {
    pub recycle_bin_id: String,
    pub corp_id: String,
    pub scope: RecycleScope,
    pub scope_id: String,
    pub created_at: i64,
}

/// Which recycle items a read or purge covers: those of `corp_id`, of
/// `app_id` when given (the app of the item's space), and of `space_id`
/// when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFilter {
    pub corp_id: String,
    pub app_id: Option<String>,
    pub space_id: Option<String>,
}

/// A dentry (with its subtree) in the recycle bin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecycleItemRecord {
    pub recycle_item_id: String,
    pub corp_id: String,
    /// The app of the item's space.
    pub app_id: String,
    pub space_id: String,
    pub dentry_id: String,
    /// `FILE` or `FOLDER`.
    pub kind: String,
    /// Name and path (`/a/b/name`) when deleted.
    pub name: String,
    pub path: String,
    /// Folder it was deleted from (`0` = the root).
    pub parent_id: String,
    /// Current bytes of the files deleted with it.
    pub size: i64,
    pub operator_id: String,
    pub deleted_at: i64,
    /// Dentries deleted with it (the item's root included).
    pub entries: i64,
}

/// A position in a recycle item listing (newest first): the last item returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCursor {
    pub deleted_at: i64,
    pub recycle_item_id: String,
}

/// RestoreRecycleItem: the item's dentries become live again with their ids
/// and `uuid` (as they were: modifiers and times unchanged), the root under `to` (the domain picks the original parent, or
/// the root when that is gone) by `to.conflict`; the item leaves the bin.
/// Under `ReturnExisting` nothing changes and the item stays. `NotFound` for
/// an unknown item or one outside `filter`; `ParentNotFound` when `to` is
/// not a live folder of the item's space (`to.space_id` must be the item's
/// space); `TooDeep` / `PathTooLong` as for a move.
#[derive(Debug, Clone)]
pub struct RestoreItem {
    pub recycle_item_id: String,
    pub filter: ItemFilter,
    pub to: Destination,
    pub actor: Actor,
    pub limits: TreeLimits,
    pub task_id: Option<String>,
}

/// RevertDentryVersion: the live file's current content becomes a version
/// and version `version`'s content (same object, no bytes copied) becomes a
/// new current version (`version` = latest + 1), charged to the space and
/// org like a new content (`QuotaExceeded`). `NotFound` for a dentry that is
/// not a live file of the space; `VersionNotFound` for a version it does not
/// keep (the current version is not a history version).
#[derive(Debug, Clone)]
pub struct RevertVersion {
    pub space_id: String,
    pub dentry_id: String,
    pub version: i64,
    pub actor: Actor,
}

/// A task's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Init,
    InProgress,
    Success,
    Fail,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Init => "INIT",
            TaskStatus::InProgress => "IN_PROGRESS",
            TaskStatus::Success => "SUCCESS",
            TaskStatus::Fail => "FAIL",
        }
    }

    pub fn parse(raw: &str) -> Option<TaskStatus> {
        match raw {
            "INIT" => Some(TaskStatus::Init),
            "IN_PROGRESS" => Some(TaskStatus::InProgress),
            "SUCCESS" => Some(TaskStatus::Success),
            "FAIL" => Some(TaskStatus::Fail),
            _ => None,
        }
    }

    pub fn finished(self) -> bool {
        matches!(self, TaskStatus::Success | TaskStatus::Fail)
    }
}

/// What a task does, persisted so that a restarted server can run it again.
/// `conflict` is the domain's strategy name (`AUTO_RENAME`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOp {
    Move {
        space_id: String,
        dentry_id: String,
        target_space_id: String,
        target_parent_id: String,
        conflict: String,
        keep_grants: bool,
        protect_owner_grants: bool,
    },
    Copy {
        space_id: String,
        dentry_id: String,
        target_space_id: String,
        target_parent_id: String,
        conflict: String,
        new_dentry_id: String,
        new_uuid: String,
    },
    Delete {
        space_id: String,
        dentry_id: String,
        /// `Some` = to the recycle bin, as this item.
        recycle_item_id: Option<String>,
    },
    Restore {
        recycle_item_id: String,
        conflict: String,
    },
}

/// The columns of the `tasks` table, in the order every backend selects and
/// inserts them (`task_columns!()` expands to a string literal, for `concat!`).
#[macro_export]
macro_rules! task_columns {
    () => {
        "task_id, corp_id, app_id, operator_id, op, space_id, dentry_id, target_space_id, \
         target_parent_id, conflict, new_dentry_id, new_uuid, recycle_item_id, status, \
         total_count, success_count, fail_count, fail_message, attempts, created_at, begin_at, \
         end_at, keep_grants, protect_owner_grants"
    };
}

/// A [`TaskOp`] as the `tasks` table stores it: its kind (`MOVE`, `COPY`,
/// `DELETE`, `RESTORE`) and the columns it uses, `None` for the others. The
/// one encoding of an op, whatever the backend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskOpColumns {
    pub op: String,
    pub space_id: Option<String>,
    pub dentry_id: Option<String>,
    pub target_space_id: Option<String>,
    pub target_parent_id: Option<String>,
    pub conflict: Option<String>,
    pub new_dentry_id: Option<String>,
    pub new_uuid: Option<String>,
    pub recycle_item_id: Option<String>,
    pub keep_grants: bool,
    pub protect_owner_grants: bool,
}

impl TaskOpColumns {
    pub fn of(op: &TaskOp) -> TaskOpColumns {
        let some = |value: &String| Some(value.clone());
        match op {
            TaskOp::Move {
                space_id,
                dentry_id,
                target_space_id,
                target_parent_id,
                conflict,
                keep_grants,
                protect_owner_grants,
            } => TaskOpColumns {
                op: "MOVE".into(),
                space_id: some(space_id),
                dentry_id: some(dentry_id),
                target_space_id: some(target_space_id),
                target_parent_id: some(target_parent_id),
                conflict: some(conflict),
                keep_grants: *keep_grants,
                protect_owner_grants: *protect_owner_grants,
                ..TaskOpColumns::default()
            },
            TaskOp::Copy {
                space_id,
                dentry_id,
                target_space_id,
                target_parent_id,
                conflict,
                new_dentry_id,
                new_uuid,
            } => TaskOpColumns {
                op: "COPY".into(),
                space_id: some(space_id),
                dentry_id: some(dentry_id),
                target_space_id: some(target_space_id),
                target_parent_id: some(target_parent_id),
                conflict: some(conflict),
                new_dentry_id: some(new_dentry_id),
                new_uuid: some(new_uuid),
                ..TaskOpColumns::default()
            },
            TaskOp::Delete { space_id, dentry_id, recycle_item_id } => TaskOpColumns {
                op: "DELETE".into(),
                space_id: some(space_id),
                dentry_id: some(dentry_id),
                recycle_item_id: recycle_item_id.clone(),
                ..TaskOpColumns::default()
            },
            TaskOp::Restore { recycle_item_id, conflict } => TaskOpColumns {
                op: "RESTORE".into(),
                conflict: some(conflict),
                recycle_item_id: some(recycle_item_id),
                ..TaskOpColumns::default()
            },
        }
    }

    /// The op these columns store; `Backend` for an unknown kind or a column
    /// the kind needs that is empty (a row no backend wrote).
    pub fn into_op(self) -> StoreResult<TaskOp> {
        fn needed(column: Option<String>, name: &str) -> StoreResult<String> {
            column.ok_or_else(|| StoreError::Backend(format!("a task lacks its {name}")))
        }
        Ok(match self.op.as_str() {
            "MOVE" => TaskOp::Move {
                space_id: needed(self.space_id, "space_id")?,
                dentry_id: needed(self.dentry_id, "dentry_id")?,
                target_space_id: needed(self.target_space_id, "target_space_id")?,
                target_parent_id: needed(self.target_parent_id, "target_parent_id")?,
                conflict: needed(self.conflict, "conflict")?,
                keep_grants: self.keep_grants,
                protect_owner_grants: self.protect_owner_grants,
            },
            "COPY" => TaskOp::Copy {
                space_id: needed(self.space_id, "space_id")?,
                dentry_id: needed(self.dentry_id, "dentry_id")?,
                target_space_id: needed(self.target_space_id, "target_space_id")?,
                target_parent_id: needed(self.target_parent_id, "target_parent_id")?,
                conflict: needed(self.conflict, "conflict")?,
                new_dentry_id: needed(self.new_dentry_id, "new_dentry_id")?,
                new_uuid: needed(self.new_uuid, "new_uuid")?,
            },
            "DELETE" => TaskOp::Delete {
                space_id: needed(self.space_id, "space_id")?,
                dentry_id: needed(self.dentry_id, "dentry_id")?,
                recycle_item_id: self.recycle_item_id,
            },
            "RESTORE" => TaskOp::Restore {
                recycle_item_id: needed(self.recycle_item_id, "recycle_item_id")?,
                conflict: needed(self.conflict, "conflict")?,
            },
            other => return Err(StoreError::Backend(format!("unknown task op {other:?}"))),
        })
    }
}

/// An asynchronous operation and its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub task_id: String,
    pub corp_id: String,
    pub app_id: String,
    /// The operator's unionId.
    pub operator_id: String,
    pub op: TaskOp,
    pub status: TaskStatus,
    pub total_count: i64,
    pub success_count: i64,
    pub fail_count: i64,
    pub fail_message: Option<String>,
    /// How many times a server started running it.
    pub attempts: i64,
    pub created_at: i64,
    pub begin_at: Option<i64>,
    pub end_at: Option<i64>,
}

/// The ids a change may create, shared with the store's transaction.
pub type Ids = Arc<dyn IdSource>;

/// An app's property edit on a dentry: upsert `set` (by name, within
/// `app_id`, whatever app the records name) — at most `max_per_app` of the
/// app's properties may remain (`TooManyProperties`, nothing changed) — and
/// remove `remove` (unknown names are ignored; a name in both is removed). `NotFound` for a dentry that is not live in the space.
#[derive(Debug, Clone)]
pub struct EditAppProperties {
    pub space_id: String,
    pub dentry_id: String,
    pub app_id: String,
    pub set: Vec<AppPropertyRecord>,
    pub remove: Vec<String>,
    pub max_per_app: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_op_round_trips_through_its_columns() {
        let s = |v: &str| v.to_string();
        let ops = [
            TaskOp::Move {
                space_id: s("1"),
                dentry_id: s("2"),
                target_space_id: s("3"),
                target_parent_id: s("4"),
                conflict: s("AUTO_RENAME"),
                keep_grants: true,
                protect_owner_grants: false,
            },
            TaskOp::Copy {
                space_id: s("1"),
                dentry_id: s("2"),
                target_space_id: s("3"),
                target_parent_id: s("4"),
                conflict: s("OVERWRITE"),
                new_dentry_id: s("5"),
                new_uuid: s("u"),
            },
            TaskOp::Delete { space_id: s("1"), dentry_id: s("2"), recycle_item_id: Some(s("9")) },
            TaskOp::Delete { space_id: s("1"), dentry_id: s("2"), recycle_item_id: None },
            TaskOp::Restore { recycle_item_id: s("9"), conflict: s("RETURN_DENTRY_IF_EXISTS") },
        ];
        for op in ops {
            assert_eq!(TaskOpColumns::of(&op).into_op().unwrap(), op);
        }
    }

    #[test]
    fn columns_no_backend_wrote_are_refused() {
        let unknown = TaskOpColumns { op: "SHRED".into(), ..TaskOpColumns::default() };
        assert!(matches!(unknown.into_op(), Err(StoreError::Backend(_))));
        let lacking = TaskOpColumns { op: "MOVE".into(), ..TaskOpColumns::default() };
        assert!(matches!(lacking.into_op(), Err(StoreError::Backend(_))));
    }
}
