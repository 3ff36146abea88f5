//! RenameDentry, MoveDentry(s), CopyDentry(s), DeleteDentry(s): tree changes,
//! single and in batches, run at once or as a persisted task.
//!
//! Each change is one store transaction, whatever the size of the subtree.
//! Which changes run as a task (`async: true`): a copy, a delete or a
//! cross-space move of a folder that has children. A rename and a move
//! within a space change one row and always answer at once; so do changes
//! of a file or an empty folder.

use orgdrive_store::{
    Actor, CopyDentry, DeleteDentry, DentryRecord, Destination, Ids, MoveDentry, NameConflict,
    Placed, RenameDentry, SortKey, SpaceRecord, StoreError, TaskOp, TaskRecord, TaskStatus,
    TreeLimits,
};

use crate::dentries::put_error;
use crate::error::unknown_dentry;
use crate::policy::{owns, Operation, Place};
use crate::validate::check_ids;
use crate::{
    names, now_ms, ConflictStrategy, DentryView, Drive, DriveError, DriveResult, Operator,
    PropertyFilter, ROOT_ID,
};

/// Most ids of one MoveDentries call.
pub const MAX_MOVE_IDS: usize = 30;
/// Most ids of one CopyDentries call (the current docs say 3, older SDK notes
/// 30: orgdrive takes 30).
pub const MAX_COPY_IDS: usize = 30;
/// Most ids of one DeleteDentries call.
pub const MAX_DELETE_IDS: usize = 50;

/// Where MoveDentry / CopyDentry (and their batches) put the dentry.
#[derive(Debug, Clone, Default)]
pub struct Relocation {
    /// `targetSpaceId` (required).
    pub target_space_id: Option<String>,
    /// `targetFolderId` (required; `0` = the root).
    pub target_folder_id: Option<String>,
    /// `option.conflictStrategy`; absent = `AUTO_RENAME`.
    pub conflict_strategy: Option<String>,
    /// `option.preservePermissions` of a move: the moved dentries keep
    /// their grants (default false: their grants are removed). Copies never
    /// carry grants.
    pub preserve_permissions: bool,
}

/// What a move or copy answers.
#[derive(Debug, Clone)]
pub struct Relocated {
    /// The moved dentry or the copy's root. For a change running as a task,
    /// the dentry as it will be (its final name, after AUTO_RENAME, shows
    /// once the task succeeded).
    pub dentry: DentryView,
    /// Set when the change runs as a task (`async: true`).
    pub task_id: Option<String>,
}

/// Where one item of a batch ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    /// Move/copy: the target space and dentry; delete: the source; restore:
    /// the restored dentry.
    pub space_id: String,
    pub dentry_id: String,
    /// Set when the item runs as a task.
    pub task_id: Option<String>,
}

/// One item of a batch answer, in request order.
#[derive(Debug)]
pub struct BatchItem {
    /// The requested id (dentryId or recycleItemId).
    pub id: String,
    pub outcome: Result<Landing, DriveError>,
}

impl ConflictStrategy {
    /// The store's rule for an incoming dentry named `name` in a move, copy
    /// or restore: OVERWRITE replaces a same-name file with an incoming file
    /// (the store refuses it for folders).
    pub(crate) fn for_relocation(self, name: &str, is_folder: bool) -> NameConflict {
        match self {
            ConflictStrategy::Overwrite => NameConflict::Overwrite,
            other => other.for_store(name, is_folder),
        }
    }

    /// The wire name, as persisted with a task.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ConflictStrategy::AutoRename => "AUTO_RENAME",
            ConflictStrategy::Overwrite => "OVERWRITE",
            ConflictStrategy::ReturnDentryIfExists => "RETURN_DENTRY_IF_EXISTS",
            ConflictStrategy::ReturnErrorIfExists => "RETURN_ERROR_IF_EXISTS",
        }
    }
}

/// The limits every tree change keeps.
pub(crate) const TREE_LIMITS: TreeLimits = TreeLimits {
    max_depth: names::MAX_PATH_DEPTH as u32,
    max_path_chars: names::MAX_PATH_CHARS as u32,
};

/// Move or copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relocate {
    Move,
    Copy,
}

/// A validated move or copy target.
struct Target {
    space: SpaceRecord,
    folder_id: String,
    strategy: ConflictStrategy,
    keep_grants: bool,
}

pub(crate) fn actor(op: &Operator) -> Actor {
    Actor { union_id: op.user.union_id.clone(), corp_id: op.app.corp_id.clone(), now_ms: now_ms() }
}

/// Maps a tree change's store refusals to API errors; `dentry_id` is the
/// source, `folder_id` the target folder.
pub(crate) fn tree_error(e: StoreError, dentry_id: &str, folder_id: &str) -> DriveError {
    match e {
        StoreError::NotFound => unknown_dentry("dentryId", dentry_id),
        StoreError::SpaceNotFound => {
            DriveError::not_found("targetSpaceId", "the target space does not exist")
        }
        StoreError::ParentNotFound => unknown_dentry("targetFolderId", folder_id),
        StoreError::IntoItself => DriveError::param(
            "targetFolderId",
            "a folder cannot go into itself or one of its descendants",
        ),
        StoreError::TooDeep => DriveError::param(
            "targetFolderId",
            format!("folders nest at most {} deep", names::MAX_PATH_DEPTH - 1),
        ),
        StoreError::PathTooLong => DriveError::param(
            "name",
            format!("a path would be longer than {} characters", names::MAX_PATH_CHARS),
        ),
        StoreError::OwnerGrantInTheWay => DriveError::PermissionDenied(
            "the move would remove an OWNER grant, which only an OWNER may do \
             (preservePermissions keeps the grants)"
                .into(),
        ),
        other => put_error(other, folder_id),
    }
}

/// What a move does with the grants on the dentries it moves (a copy
/// carries none).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MovedGrants {
    /// Keep them (`preservePermissions`, within a space).
    pub keep: bool,
    /// Refuse the move rather than remove an `OWNER` grant.
    pub protect_owner: bool,
}

fn root_refused(what: &str) -> DriveError {
    DriveError::PermissionDenied(format!("the space root cannot be {what}"))
}

impl Drive {
    /// The id source tree changes take new ids from.
    pub(crate) fn id_source(&self) -> Ids {
        self.ids.clone()
    }

    /// After a committed change of the space's tree: drops cached paths
    /// (when a folder changed), grants (they leave with moved and deleted
    /// dentries) and, when `bytes_changed`, the space's record (its byte
    /// counts; the next request of the space reads it again).
    pub(crate) fn forget_changes(&self, space_id: &str, folder_changed: bool, bytes_changed: bool) {
        if folder_changed {
            self.cache.forget_tree(space_id);
        }
        self.cache.forget_grants(space_id);
        if bytes_changed {
            self.forget_space(space_id);
        }
    }

    /// Whether the live folder has at least one live child.
    pub(crate) async fn has_children(&self, dentry: &DentryRecord) -> DriveResult<bool> {
        if !dentry.is_folder() {
            return Ok(false);
        }
        let first = self
            .meta
            .list_children(&dentry.space_id, &dentry.dentry_id, SortKey::Name, false, None, 1)
            .await?;
        Ok(!first.is_empty())
    }

    /// Whether `folder_id` (of `dentry`'s space) is `dentry` or below it:
    /// walks the folder's ancestors (at most the depth limit).
    async fn is_within(&self, dentry: &DentryRecord, folder_id: &str) -> DriveResult<bool> {
        if !dentry.is_folder() {
            return Ok(false);
        }
        let mut current = folder_id.to_string();
        for _ in 0..=names::MAX_PATH_DEPTH {
            if current == dentry.dentry_id {
                return Ok(true);
            }
            if current == ROOT_ID {
                return Ok(false);
            }
            match self.meta.get_dentry(&dentry.space_id, &current).await? {
                Some(folder) => current = folder.parent_id,
                None => return Ok(false),
            }
        }
        Ok(false)
    }

    /// RenameDentry.
    pub async fn rename_dentry(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        new_name: Option<&str>,
    ) -> DriveResult<DentryView> {
        let name = names::dentry_name("newName", new_name.unwrap_or_default())?;
        let space = self.space_for(op, space_id).await?;
        if dentry_id == ROOT_ID {
            return Err(root_refused("renamed"));
        }
        let place = Place::DentryId { dentry_id, field: "dentryId" };
        self.authorize(op, &space, place, Operation::RenameDentry).await?;
        let rename = RenameDentry {
            space_id: space.space_id.clone(),
            dentry_id: dentry_id.to_string(),
            new_name: name,
            actor: actor(op),
            limits: TREE_LIMITS,
        };
        let renamed = self.meta.rename_dentry(&rename).await.map_err(|e| match e {
            StoreError::PathTooLong => DriveError::param(
                "newName",
                format!("a path would be longer than {} characters", names::MAX_PATH_CHARS),
            ),
            other => tree_error(other, dentry_id, ROOT_ID),
        })?;
        // A rename changes neither grants nor bytes: only a folder's paths.
        if renamed.is_folder() {
            self.cache.forget_tree(&space.space_id);
        }
        self.stored_view(op, renamed).await
    }

    /// The target of a move or copy, checked: a space of the operator's org
    /// that the operator may act on, a folder id, a strategy.
    async fn target(&self, op: &Operator, to: &Relocation) -> DriveResult<Target> {
        let space_id = to
            .target_space_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| DriveError::param("targetSpaceId", "targetSpaceId is required"))?;
        let folder_id = to
            .target_folder_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| DriveError::param("targetFolderId", "targetFolderId is required"))?;
        let strategy = ConflictStrategy::parse(to.conflict_strategy.as_deref())?;
        let space = self.space_for(op, space_id).await.map_err(|e| match e {
            DriveError::NotFound { .. } => {
                DriveError::not_found("targetSpaceId", format!("space {space_id} does not exist"))
            }
            other => other,
        })?;
        // Checked again in the change's transaction; this answers a task's
        // caller at once instead of through a failed task.
        if self.folder_path(&space.space_id, folder_id).await?.is_none() {
            return Err(unknown_dentry("targetFolderId", folder_id));
        }
        Ok(Target {
            space,
            folder_id: folder_id.to_string(),
            strategy,
            keep_grants: to.preserve_permissions,
        })
    }

    /// MoveDentry.
    pub async fn move_dentry(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        to: Relocation,
    ) -> DriveResult<Relocated> {
        self.relocate(Relocate::Move, op, space_id, dentry_id, &to).await
    }

    /// CopyDentry.
    pub async fn copy_dentry(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        to: Relocation,
    ) -> DriveResult<Relocated> {
        self.relocate(Relocate::Copy, op, space_id, dentry_id, &to).await
    }

    async fn relocate(
        &self,
        how: Relocate,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        to: &Relocation,
    ) -> DriveResult<Relocated> {
        let target = self.target(op, to).await?;
        let space = self.space_for(op, space_id).await?;
        self.relocate_to(how, op, &space, dentry_id, &target).await
    }

    /// Moves or copies one dentry of `space` to a checked target.
    async fn relocate_to(
        &self,
        how: Relocate,
        op: &Operator,
        space: &SpaceRecord,
        dentry_id: &str,
        target: &Target,
    ) -> DriveResult<Relocated> {
        if dentry_id == ROOT_ID {
            return Err(root_refused(if how == Relocate::Move { "moved" } else { "copied" }));
        }
        if how == Relocate::Move {
            if let Some(placed) = self.move_plain_file(op, space, dentry_id, target).await? {
                let dentry = self.stored_view(op, placed.dentry).await?;
                return Ok(Relocated { dentry, task_id: None });
            }
        }
        let source = self.live_dentry(&space.space_id, dentry_id, "dentryId").await?;
        let (at_source, mut at_target) = match how {
            Relocate::Move => (Operation::MoveSource, Operation::MoveTarget),
            Relocate::Copy => (Operation::CopySource, Operation::CopyTarget),
        };
        if target.strategy == ConflictStrategy::Overwrite && !source.is_folder() {
            // OVERWRITE bins the file it replaces: a delete there.
            at_target = Operation::ReplaceTarget;
        }
        let role = self.authorize(op, space, Place::Dentry(&source), at_source).await?;
        let into = Place::Folder { folder_id: &target.folder_id, field: "targetFolderId" };
        self.authorize(op, &target.space, into, at_target).await?;
        let cross_space = target.space.space_id != space.space_id;
        let grants = MovedGrants {
            // Grants are of their space: they follow a move within it only.
            keep: target.keep_grants && !cross_space,
            // Removing an OWNER grant needs what revoking it needs; the store
            // decides in the move's transaction whether one is in the way.
            protect_owner: !role.allows(Operation::GrantOwner.capability()),
        };
        // Checked again in the change's transaction; answered here so that a
        // task is not started only to fail.
        if !cross_space && self.is_within(&source, &target.folder_id).await? {
            return Err(tree_error(StoreError::IntoItself, dentry_id, &target.folder_id));
        }
        let as_task = match how {
            Relocate::Move => cross_space && self.has_children(&source).await?,
            Relocate::Copy => self.has_children(&source).await?,
        };
        let conflict = target.strategy.as_str().to_string();
        if as_task {
            let (new_dentry_id, new_uuid) = match how {
                Relocate::Move => (source.dentry_id.clone(), source.uuid.clone()),
                Relocate::Copy => (self.ids.next(), crate::ids::new_uuid()),
            };
            let task_op = match how {
                Relocate::Move => TaskOp::Move {
                    space_id: space.space_id.clone(),
                    dentry_id: source.dentry_id.clone(),
                    target_space_id: target.space.space_id.clone(),
                    target_parent_id: target.folder_id.clone(),
                    conflict,
                    keep_grants: grants.keep,
                    protect_owner_grants: grants.protect_owner,
                },
                Relocate::Copy => TaskOp::Copy {
                    space_id: space.space_id.clone(),
                    dentry_id: source.dentry_id.clone(),
                    target_space_id: target.space.space_id.clone(),
                    target_parent_id: target.folder_id.clone(),
                    conflict,
                    new_dentry_id: new_dentry_id.clone(),
                    new_uuid: new_uuid.clone(),
                },
            };
            let task_id = self.submit_task(op, task_op, &source).await?;
            // The dentry as it will be (a copy is new: created by the operator, now).
            let now = now_ms();
            let (creator_id, created_at) = match how {
                Relocate::Move => (source.creator_id.clone(), source.created_at),
                Relocate::Copy => (op.user.union_id.clone(), now),
            };
            let planned = DentryRecord {
                dentry_id: new_dentry_id,
                uuid: new_uuid,
                space_id: target.space.space_id.clone(),
                parent_id: target.folder_id.clone(),
                creator_id,
                created_at,
                modifier_id: op.user.union_id.clone(),
                modified_at: now,
                version: if how == Relocate::Copy { 1 } else { source.version },
                ..source.clone()
            };
            let dentry = self.view(op, planned, &PropertyFilter::default()).await?;
            return Ok(Relocated { dentry, task_id: Some(task_id) });
        }
        let placed = self
            .run_relocation(
                how,
                &actor(op),
                &source,
                &target.space.space_id,
                &target.folder_id,
                target.strategy,
                grants,
                None,
                None,
            )
            .await?;
        let dentry = self.stored_view(op, placed.dentry).await?;
        Ok(Relocated { dentry, task_id: None })
    }

    /// A move by the space's owner within the space, offered to the store
    /// as a plain file move before anything is read: the owner needs no
    /// role read from the file, and the store reads it under the move's
    /// locks. `None` when it was not applied (not the owner, another space,
    /// or the store declined: a folder, a taken name, a grant on the file,
    /// an error to answer): the move then takes the checked way.
    async fn move_plain_file(
        &self,
        op: &Operator,
        space: &SpaceRecord,
        dentry_id: &str,
        target: &Target,
    ) -> DriveResult<Option<Placed>> {
        if target.space.space_id != space.space_id || !owns(op, space) {
            return Ok(None);
        }
        let request = MoveDentry {
            space_id: space.space_id.clone(),
            dentry_id: dentry_id.to_string(),
            to: Destination {
                space_id: space.space_id.clone(),
                parent_id: target.folder_id.clone(),
                // A plain move takes a free name: no conflict to settle.
                conflict: NameConflict::Fail,
            },
            actor: actor(op),
            limits: TREE_LIMITS,
            keep_grants: target.keep_grants,
            protect_owner_grants: false,
            task_id: None,
        };
        // Nothing cached changes: no grant was on the file (the grant
        // cache is by dentry, not by path), no folder moved, no byte.
        Ok(self.meta.move_plain_file(&request).await?)
    }

    /// Runs a move or copy in the store (at once, or as task `task_id`, with
    /// the copy's root ids fixed when the task was submitted) and drops what
    /// it made stale.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_relocation(
        &self,
        how: Relocate,
        actor: &Actor,
        source: &DentryRecord,
        target_space_id: &str,
        target_folder_id: &str,
        strategy: ConflictStrategy,
        grants: MovedGrants,
        task_id: Option<String>,
        root_ids: Option<(String, String)>,
    ) -> DriveResult<Placed> {
        let to = Destination {
            space_id: target_space_id.to_string(),
            parent_id: target_folder_id.to_string(),
            conflict: strategy.for_relocation(&source.name, source.is_folder()),
        };
        let outcome = match how {
            Relocate::Move => {
                let request = MoveDentry {
                    space_id: source.space_id.clone(),
                    dentry_id: source.dentry_id.clone(),
                    to,
                    actor: actor.clone(),
                    limits: TREE_LIMITS,
                    keep_grants: grants.keep,
                    protect_owner_grants: grants.protect_owner,
                    task_id,
                };
                self.meta.move_dentry(&request, self.id_source()).await
            }
            Relocate::Copy => {
                let (new_dentry_id, new_uuid) =
                    root_ids.unwrap_or_else(|| (self.ids.next(), crate::ids::new_uuid()));
                let request = CopyDentry {
                    space_id: source.space_id.clone(),
                    dentry_id: source.dentry_id.clone(),
                    to,
                    new_dentry_id,
                    new_uuid,
                    actor: actor.clone(),
                    limits: TREE_LIMITS,
                    task_id,
                };
                self.meta.copy_dentry(&request, self.id_source()).await
            }
        };
        let placed = outcome.map_err(|e| tree_error(e, &source.dentry_id, target_folder_id))?;
        let folder_changed = how == Relocate::Move && source.is_folder();
        // A move within its space keeps its bytes there (a replaced
        // sibling goes to the space's bin, still counted).
        let bytes_changed = how == Relocate::Copy || source.space_id != target_space_id;
        self.forget_changes(&source.space_id, folder_changed, bytes_changed);
        self.forget_changes(target_space_id, folder_changed, bytes_changed);
        Ok(placed)
    }

    /// DeleteDentry: permanently unless `to_recycle_bin`; answers the task id
    /// when it runs as a task.
    pub async fn delete_dentry(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        to_recycle_bin: bool,
    ) -> DriveResult<Option<String>> {
        let space = self.space_for(op, space_id).await?;
        if dentry_id == ROOT_ID {
            return Err(root_refused("deleted"));
        }
        let source = self.live_dentry(&space.space_id, dentry_id, "dentryId").await?;
        self.authorize(op, &space, Place::Dentry(&source), Operation::DeleteDentry).await?;
        let recycle_item_id = to_recycle_bin.then(|| self.ids.next());
        if self.has_children(&source).await? {
            let task_op = TaskOp::Delete {
                space_id: space.space_id.clone(),
                dentry_id: source.dentry_id.clone(),
                recycle_item_id,
            };
            return Ok(Some(self.submit_task(op, task_op, &source).await?));
        }
        self.run_delete(&actor(op), &source, recycle_item_id, None).await?;
        Ok(None)
    }

    /// Runs a delete in the store, then deletes the content objects it left
    /// unreferenced and drops what it made stale.
    pub(crate) async fn run_delete(
        &self,
        actor: &Actor,
        source: &DentryRecord,
        recycle_item_id: Option<String>,
        task_id: Option<String>,
    ) -> DriveResult<()> {
        let request = DeleteDentry {
            space_id: source.space_id.clone(),
            dentry_id: source.dentry_id.clone(),
            recycle_item_id,
            actor: actor.clone(),
            task_id,
        };
        let removed = self
            .meta
            .delete_dentry(&request)
            .await
            .map_err(|e| tree_error(e, &source.dentry_id, ROOT_ID))?;
        self.forget_changes(&source.space_id, source.is_folder(), true);
        self.empty_trash(removed.trashed_objects).await;
        Ok(())
    }

    /// MoveDentries: one item per id, in request order.
    pub async fn move_dentries(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_ids: &[String],
        to: Relocation,
    ) -> DriveResult<Vec<BatchItem>> {
        check_ids("dentryIds", dentry_ids, MAX_MOVE_IDS)?;
        self.relocate_each(Relocate::Move, op, space_id, dentry_ids, &to).await
    }

    /// CopyDentries: one item per id, in request order.
    pub async fn copy_dentries(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_ids: &[String],
        to: Relocation,
    ) -> DriveResult<Vec<BatchItem>> {
        check_ids("dentryIds", dentry_ids, MAX_COPY_IDS)?;
        self.relocate_each(Relocate::Copy, op, space_id, dentry_ids, &to).await
    }

    /// Validates what the whole batch shares (the source space, the target),
    /// then moves or copies each id on its own: one failing item leaves the
    /// others done.
    async fn relocate_each(
        &self,
        how: Relocate,
        op: &Operator,
        space_id: &str,
        dentry_ids: &[String],
        to: &Relocation,
    ) -> DriveResult<Vec<BatchItem>> {
        let target = self.target(op, to).await?;
        let space = self.space_for(op, space_id).await?;
        let mut items = Vec::with_capacity(dentry_ids.len());
        for id in dentry_ids {
            let outcome = self.relocate_to(how, op, &space, id, &target).await.map(|r| Landing {
                space_id: r.dentry.dentry.space_id.clone(),
                dentry_id: r.dentry.dentry.dentry_id.clone(),
                task_id: r.task_id,
            });
            items.push(BatchItem { id: id.clone(), outcome });
        }
        Ok(items)
    }

    /// DeleteDentries: one item per id, in request order.
    pub async fn delete_dentries(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_ids: &[String],
        to_recycle_bin: bool,
    ) -> DriveResult<Vec<BatchItem>> {
        check_ids("dentryIds", dentry_ids, MAX_DELETE_IDS)?;
        let space = self.space_for(op, space_id).await?;
        let mut items = Vec::with_capacity(dentry_ids.len());
        for id in dentry_ids {
            let outcome =
                self.delete_dentry(op, space_id, id, to_recycle_bin).await.map(|task_id| Landing {
                    space_id: space.space_id.clone(),
                    dentry_id: id.clone(),
                    task_id,
                });
            items.push(BatchItem { id: id.clone(), outcome });
        }
        Ok(items)
    }

    /// Deletes content objects a change left unreferenced, then takes them
    /// out of the trash; answers how many. A failure leaves them in the
    /// trash for the sweeper, and so does a backup holding the trash (it may
    /// still copy them: see [`crate::backup`]).
    pub(crate) async fn empty_trash(&self, objects: Vec<String>) -> usize {
        if objects.is_empty() {
            return 0;
        }
        match self.trash_held().await {
            Ok(false) => {}
            Ok(true) => return 0,
            Err(e) => {
                tracing::warn!(error = %e, "trash kept: could not tell whether a backup holds it");
                return 0;
            }
        }
        let deleted = self.delete_objects(objects).await;
        if let Err(e) = self.meta.forget_trash(&deleted).await {
            tracing::warn!(error = %e, "trash not emptied; the sweeper retries");
            return 0;
        }
        deleted.len()
    }
}

/// A task record for `op`, new and `INIT`.
pub(crate) fn new_task(drive: &Drive, op: &Operator, task_op: TaskOp, total: i64) -> TaskRecord {
    TaskRecord {
        task_id: drive.ids.next(),
        corp_id: op.app.corp_id.clone(),
        app_id: op.app.app_id.clone(),
        operator_id: op.user.union_id.clone(),
        op: task_op,
        status: TaskStatus::Init,
        total_count: total,
        success_count: 0,
        fail_count: 0,
        fail_message: None,
        attempts: 0,
        created_at: now_ms(),
        begin_at: None,
        end_at: None,
    }
}
