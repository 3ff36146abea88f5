//! RenameDentry, MoveDentry(s), CopyDentry(s), DeleteDentry(s): tree changes,
//! single and in batches, run at once or as a persisted task.

use crate::{DentryView, Drive, DriveError, DriveResult, Operator};

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

impl Drive {
    /// RenameDentry.
    pub async fn rename_dentry(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        new_name: Option<&str>,
    ) -> DriveResult<DentryView> {
        let _ = (op, space_id, dentry_id, new_name);
        todo!()
    }

    /// MoveDentry.
    pub async fn move_dentry(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        to: Relocation,
    ) -> DriveResult<Relocated> {
        let _ = (op, space_id, dentry_id, to);
        todo!()
    }

    /// CopyDentry.
    pub async fn copy_dentry(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        to: Relocation,
    ) -> DriveResult<Relocated> {
        let _ = (op, space_id, dentry_id, to);
        todo!()
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
        let _ = (op, space_id, dentry_id, to_recycle_bin);
        todo!()
    }

    /// MoveDentries: one item per id, in request order.
    pub async fn move_dentries(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_ids: &[String],
        to: Relocation,
    ) -> DriveResult<Vec<BatchItem>> {
        let _ = (op, space_id, dentry_ids, to);
        todo!()
    }

    /// CopyDentries: one item per id, in request order.
    pub async fn copy_dentries(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_ids: &[String],
        to: Relocation,
    ) -> DriveResult<Vec<BatchItem>> {
        let _ = (op, space_id, dentry_ids, to);
        todo!()
    }

    /// DeleteDentries: one item per id, in request order.
    pub async fn delete_dentries(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_ids: &[String],
        to_recycle_bin: bool,
    ) -> DriveResult<Vec<BatchItem>> {
        let _ = (op, space_id, dentry_ids, to_recycle_bin);
        todo!()
    }
}
