//! The recycle bin: GetRecycleBin, ListRecycleItems, GetRecycleItem,
//! RestoreRecycleItem(s), DeleteRecycleItem(s), ClearRecycleBin.
//!
//! A deleted dentry (with its subtree) becomes one recycle item of its
//! space. Bins are views: the `SPACE` bin shows its space's items, the `APP`
//! bin the items of every space of the app, the `ORG` bin those of every
//! space of the org (whatever app made it). Managing a space's items (reading,
//! restoring, purging) needs the `RecycleBin` operation's role on the
//! space root (`MANAGER`, see `policy`): checked once for a `SPACE` bin, per
//! item for the app-wide bins, whose listings show only the items the
//! operator may manage. Items keep counting against quota until purged. A restore puts the item
//! back under its original folder, or at the space root when that folder is
//! no longer live, keeping ids and `uuid`.

use orgdrive_store::{
    Actor, Destination, ItemCursor, ItemFilter, RecycleBinRecord, RecycleItemRecord, RecycleScope,
    RestoreItem, StoreError, TaskOp,
};

use crate::lifecycle::{actor, new_task, tree_error, BatchItem, Landing, TREE_LIMITS};
use crate::policy::{Operation, Place};
use crate::validate::check_ids;
use crate::{now_ms, ConflictStrategy, Drive, DriveError, DriveResult, Operator, ROOT_ID};

/// Most ids of one RestoreRecycleItems call.
pub const MAX_RESTORE_IDS: usize = 30;
/// Most ids of one DeleteRecycleItems call.
pub const MAX_PURGE_IDS: usize = 50;
/// Largest ListRecycleItems page (also its default).
pub const MAX_RECYCLE_PAGE: i64 = 50;
/// Items read at a time from an app-wide bin while filling a page.
const SCAN_BATCH: u32 = 200;

/// One page of ListRecycleItems.
#[derive(Debug, Clone)]
pub struct RecyclePage {
    pub items: Vec<RecycleItemRecord>,
    /// Present when more items follow.
    pub next_token: Option<String>,
}

fn unknown_bin(id: &str) -> DriveError {
    DriveError::not_found("recycleBinId", format!("recycle bin {id} does not exist"))
}

fn unknown_item(id: &str) -> DriveError {
    DriveError::not_found("recycleItemId", format!("recycle item {id} does not exist"))
}

impl Drive {
    /// GetRecycleBin by `recycleBinScope` and `scopeId`.
    pub async fn get_recycle_bin(
        &self,
        op: &Operator,
        scope: Option<&str>,
        scope_id: Option<&str>,
    ) -> DriveResult<RecycleBinRecord> {
        let raw = scope.unwrap_or_default().to_ascii_uppercase();
        let scope = RecycleScope::parse(&raw).ok_or_else(|| {
            DriveError::param("recycleBinScope", "recycleBinScope must be ORG, APP or SPACE")
        })?;
        let scope_id = scope_id
            .filter(|s| !s.is_empty())
            .ok_or_else(|| DriveError::param("scopeId", "scopeId is required"))?;
        let bin = RecycleBinRecord {
            recycle_bin_id: self.ids.next(),
            corp_id: op.app.corp_id.clone(),
            scope,
            scope_id: scope_id.to_string(),
            created_at: now_ms(),
        };
        self.bin_filter(op, &bin).await.map_err(|e| match e {
            DriveError::NotFound { message, .. } => DriveError::not_found("scopeId", message),
            other => other,
        })?;
        Ok(self.meta.recycle_bin_once(&bin).await?)
    }

    /// The items the bin shows to `op`; refuses bins `op` may not see.
    async fn bin_filter(&self, op: &Operator, bin: &RecycleBinRecord) -> DriveResult<BinView> {
        let corp_id = op.app.corp_id.clone();
        if bin.corp_id != corp_id {
            return Err(unknown_bin(&bin.recycle_bin_id));
        }
        match bin.scope {
            RecycleScope::Org if bin.scope_id == corp_id => Ok(BinView {
                filter: ItemFilter { corp_id, app_id: None, space_id: None },
                per_item: true,
            }),
            RecycleScope::Org => Err(DriveError::not_found(
                "scopeId",
                format!("organization {} does not exist", bin.scope_id),
            )),
            RecycleScope::App if bin.scope_id == op.app.app_id => Ok(BinView {
                filter: ItemFilter { corp_id, app_id: Some(op.app.app_id.clone()), space_id: None },
                per_item: true,
            }),
            RecycleScope::App => Err(DriveError::PermissionDenied(format!(
                "the recycle bin of app {} belongs to another app",
                bin.scope_id
            ))),
            RecycleScope::Space => {
                let space = self.space_for(op, &bin.scope_id).await?;
                self.authorize(op, &space, Place::Root, Operation::RecycleBin).await?;
                Ok(BinView {
                    filter: ItemFilter { corp_id, app_id: None, space_id: Some(space.space_id) },
                    per_item: false,
                })
            }
        }
    }

    /// Whether `op` may manage the item (the policy, on its space's root).
    async fn may_manage(&self, op: &Operator, item: &RecycleItemRecord) -> DriveResult<()> {
        let space = self.space_for(op, &item.space_id).await?;
        self.authorize(op, &space, Place::Root, Operation::RecycleBin).await?;
        Ok(())
    }

    /// The bin and the items it shows to `op`.
    async fn open_bin(&self, op: &Operator, recycle_bin_id: &str) -> DriveResult<BinView> {
        let bin = self
            .meta
            .get_recycle_bin(recycle_bin_id)
            .await?
            .ok_or_else(|| unknown_bin(recycle_bin_id))?;
        self.bin_filter(op, &bin).await
    }

    /// The item, if the bin shows it and `op` may manage it.
    async fn item_in(
        &self,
        op: &Operator,
        bin: &BinView,
        id: &str,
    ) -> DriveResult<RecycleItemRecord> {
        match self.meta.get_recycle_item(id).await? {
            Some(item) if covers(&bin.filter, &item) => {
                if bin.per_item {
                    // An app-wide bin does not show what the operator may
                    // not manage: such an item is unknown there.
                    self.may_manage(op, &item).await.map_err(|e| match e {
                        DriveError::PermissionDenied(_) => unknown_item(id),
                        other => other,
                    })?;
                }
                Ok(item)
            }
            _ => Err(unknown_item(id)),
        }
    }

    /// Of the items, those `op` may manage.
    async fn manageable(
        &self,
        op: &Operator,
        bin: &BinView,
        items: Vec<RecycleItemRecord>,
    ) -> DriveResult<Vec<RecycleItemRecord>> {
        if !bin.per_item {
            return Ok(items);
        }
        let mut kept = Vec::with_capacity(items.len());
        for item in items {
            match self.may_manage(op, &item).await {
                Ok(()) => kept.push(item),
                Err(DriveError::PermissionDenied(_) | DriveError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(kept)
    }

    /// ListRecycleItems: newest first.
    pub async fn list_recycle_items(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        max_results: Option<i64>,
        next_token: Option<String>,
    ) -> DriveResult<RecyclePage> {
        let limit = match max_results {
            None => MAX_RECYCLE_PAGE,
            Some(n) if n >= 1 => n.min(MAX_RECYCLE_PAGE),
            Some(_) => {
                return Err(DriveError::param("maxResults", "maxResults must be at least 1"))
            }
        } as usize;
        let after = next_token.as_deref().map(|t| decode_token(t, recycle_bin_id)).transpose()?;
        let bin = self.open_bin(op, recycle_bin_id).await?;
        // An app-wide bin reads on past the items the operator may not
        // manage, so that a page (and its token) names only items it shows.
        let mut items: Vec<RecycleItemRecord> = Vec::with_capacity(limit + 1);
        let mut cursor = after;
        let scan = if bin.per_item { SCAN_BATCH } else { limit as u32 + 1 };
        loop {
            let batch = self.meta.list_recycle_items(&bin.filter, cursor.as_ref(), scan).await?;
            let exhausted = batch.len() < scan as usize;
            if let Some(last) = batch.last() {
                cursor = Some(ItemCursor {
                    deleted_at: last.deleted_at,
                    recycle_item_id: last.recycle_item_id.clone(),
                });
            }
            items.extend(self.manageable(op, &bin, batch).await?);
            if exhausted || items.len() > limit {
                break;
            }
        }
        let next_token = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| encode_token(recycle_bin_id, last))
        } else {
            None
        };
        Ok(RecyclePage { items, next_token })
    }

    /// GetRecycleItem.
    pub async fn get_recycle_item(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        recycle_item_id: &str,
    ) -> DriveResult<RecycleItemRecord> {
        let bin = self.open_bin(op, recycle_bin_id).await?;
        self.item_in(op, &bin, recycle_item_id).await
    }

    /// RestoreRecycleItem: to the original folder (or the space root when
    /// that is gone), under `conflictStrategy`. A folder with children
    /// restores as a task.
    pub async fn restore_recycle_item(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        recycle_item_id: &str,
        conflict_strategy: Option<String>,
    ) -> DriveResult<Landing> {
        let strategy = ConflictStrategy::parse(conflict_strategy.as_deref())?;
        let bin = self.open_bin(op, recycle_bin_id).await?;
        self.restore_in(op, &bin, recycle_item_id, strategy).await
    }

    /// Restores one item the filter covers; an item binned with children
    /// restores as a task.
    async fn restore_in(
        &self,
        op: &Operator,
        bin: &BinView,
        recycle_item_id: &str,
        strategy: ConflictStrategy,
    ) -> DriveResult<Landing> {
        let item = self.item_in(op, bin, recycle_item_id).await?;
        if item.entries > 1 {
            let task_op = TaskOp::Restore {
                recycle_item_id: item.recycle_item_id.clone(),
                conflict: strategy.as_str().to_string(),
            };
            let task = new_task(self, op, task_op, item.entries);
            self.start_new_task(&task).await?;
            return Ok(Landing {
                space_id: item.space_id,
                dentry_id: item.dentry_id,
                task_id: Some(task.task_id),
            });
        }
        self.run_restore(&actor(op), &bin.filter, &item, strategy, None).await
    }

    /// Restores task `task_id`'s item, one of the org's (the operator was
    /// checked when the task was submitted).
    pub(crate) async fn run_restore_task(
        &self,
        actor: &Actor,
        recycle_item_id: &str,
        strategy: ConflictStrategy,
        task_id: String,
    ) -> DriveResult<Landing> {
        let filter = ItemFilter { corp_id: actor.corp_id.clone(), app_id: None, space_id: None };
        let item = match self.meta.get_recycle_item(recycle_item_id).await? {
            Some(item) if covers(&filter, &item) => item,
            _ => return Err(unknown_item(recycle_item_id)),
        };
        self.run_restore(actor, &filter, &item, strategy, Some(task_id)).await
    }

    /// Restores the item (at once, or as task `task_id`) under its original
    /// folder, or at the root when the store refuses that folder (gone, not
    /// a folder any more, or now too deep for the item).
    async fn run_restore(
        &self,
        actor: &Actor,
        filter: &ItemFilter,
        item: &RecycleItemRecord,
        strategy: ConflictStrategy,
        task_id: Option<String>,
    ) -> DriveResult<Landing> {
        let mut parent_id = item.parent_id.clone();
        loop {
            let restore = RestoreItem {
                recycle_item_id: item.recycle_item_id.clone(),
                filter: filter.clone(),
                to: Destination {
                    space_id: item.space_id.clone(),
                    parent_id: parent_id.clone(),
                    conflict: strategy.for_relocation(&item.name, item.kind == "FOLDER"),
                },
                actor: actor.clone(),
                limits: TREE_LIMITS,
                task_id: task_id.clone(),
            };
            match self.meta.restore_recycle_item(&restore, self.id_source()).await {
                Ok(placed) => {
                    self.forget_changes(&item.space_id, item.kind == "FOLDER", true);
                    return Ok(Landing {
                        space_id: placed.dentry.space_id,
                        dentry_id: placed.dentry.dentry_id,
                        task_id,
                    });
                }
                // The original folder is gone, or now too deep or too long
                // a path for the item: the item comes back at the root.
                Err(StoreError::ParentNotFound | StoreError::TooDeep | StoreError::PathTooLong)
                    if parent_id != ROOT_ID =>
                {
                    parent_id = ROOT_ID.into();
                }
                Err(StoreError::NotFound) => return Err(unknown_item(&item.recycle_item_id)),
                Err(e) => return Err(tree_error(e, &item.dentry_id, &parent_id)),
            }
        }
    }

    /// RestoreRecycleItems: one item per id, in request order.
    pub async fn restore_recycle_items(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        recycle_item_ids: &[String],
        conflict_strategy: Option<String>,
    ) -> DriveResult<Vec<BatchItem>> {
        check_ids("recycleItemIds", recycle_item_ids, MAX_RESTORE_IDS)?;
        let strategy = ConflictStrategy::parse(conflict_strategy.as_deref())?;
        let bin = self.open_bin(op, recycle_bin_id).await?;
        let mut items = Vec::with_capacity(recycle_item_ids.len());
        for id in recycle_item_ids {
            let outcome = self.restore_in(op, &bin, id, strategy).await;
            items.push(BatchItem { id: id.clone(), outcome });
        }
        Ok(items)
    }

    /// DeleteRecycleItem: purges the item for good.
    pub async fn delete_recycle_item(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        recycle_item_id: &str,
    ) -> DriveResult<()> {
        let bin = self.open_bin(op, recycle_bin_id).await?;
        let item = self.item_in(op, &bin, recycle_item_id).await?;
        self.purge(op, &bin.filter, Some(&[item.recycle_item_id])).await
    }

    /// DeleteRecycleItems: purges the items (ids the bin does not show are ignored).
    pub async fn delete_recycle_items(
        &self,
        op: &Operator,
        recycle_bin_id: &str,
        recycle_item_ids: &[String],
    ) -> DriveResult<()> {
        check_ids("recycleItemIds", recycle_item_ids, MAX_PURGE_IDS)?;
        let bin = self.open_bin(op, recycle_bin_id).await?;
        if !bin.per_item {
            return self.purge(op, &bin.filter, Some(recycle_item_ids)).await;
        }
        let mut allowed = Vec::with_capacity(recycle_item_ids.len());
        for id in recycle_item_ids {
            match self.item_in(op, &bin, id).await {
                Ok(item) => allowed.push(item.recycle_item_id),
                Err(DriveError::PermissionDenied(_) | DriveError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.purge(op, &bin.filter, Some(&allowed)).await
    }

    /// ClearRecycleBin: purges every item the bin shows.
    pub async fn clear_recycle_bin(&self, op: &Operator, recycle_bin_id: &str) -> DriveResult<()> {
        let bin = self.open_bin(op, recycle_bin_id).await?;
        if !bin.per_item {
            return self.purge(op, &bin.filter, None).await;
        }
        // An app-wide bin: only what the operator may manage, page by page.
        let mut after: Option<ItemCursor> = None;
        loop {
            let page = self.meta.list_recycle_items(&bin.filter, after.as_ref(), 500).await?;
            let Some(last) = page.last() else { return Ok(()) };
            after = Some(ItemCursor {
                deleted_at: last.deleted_at,
                recycle_item_id: last.recycle_item_id.clone(),
            });
            let full = page.len() == 500;
            let ids: Vec<String> = self
                .manageable(op, &bin, page)
                .await?
                .into_iter()
                .map(|item| item.recycle_item_id)
                .collect();
            if !ids.is_empty() {
                self.purge(op, &bin.filter, Some(&ids)).await?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn purge(
        &self,
        op: &Operator,
        filter: &ItemFilter,
        ids: Option<&[String]>,
    ) -> DriveResult<()> {
        let removed = self.meta.purge_recycle_items(filter, ids, &op.user.union_id).await?;
        // Purged bytes leave the counters of spaces this node may cache.
        self.cache.forget_spaces();
        self.empty_trash(removed.trashed_objects).await;
        Ok(())
    }
}

/// What a bin shows: the items its filter covers; with `per_item`, each one
/// only if the operator may manage it (app-wide bins).
struct BinView {
    filter: ItemFilter,
    per_item: bool,
}

fn covers(filter: &ItemFilter, item: &RecycleItemRecord) -> bool {
    item.corp_id == filter.corp_id
        && filter.app_id.as_ref().is_none_or(|app| *app == item.app_id)
        && filter.space_id.as_ref().is_none_or(|s| *s == item.space_id)
}

/// `nextToken`: hex of `binId \n deletedAt \n itemId`, bound to its bin.
fn encode_token(bin_id: &str, last: &RecycleItemRecord) -> String {
    hex::encode(format!("{bin_id}\n{}\n{}", last.deleted_at, last.recycle_item_id))
}

fn decode_token(token: &str, bin_id: &str) -> DriveResult<ItemCursor> {
    let invalid = || DriveError::param("nextToken", "nextToken is not from this listing");
    let text = crate::dentries::token_text(token).ok_or_else(invalid)?;
    let mut parts = text.splitn(3, '\n');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(bin), Some(at), Some(id)) if bin == bin_id => Ok(ItemCursor {
            deleted_at: at.parse().map_err(|_| invalid())?,
            recycle_item_id: id.to_string(),
        }),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_bound_to_their_bin() {
        let item = RecycleItemRecord {
            recycle_item_id: "42".into(),
            corp_id: "c".into(),
            app_id: "a".into(),
            space_id: "s".into(),
            dentry_id: "d".into(),
            kind: "FILE".into(),
            name: "n".into(),
            path: "/n".into(),
            parent_id: "0".into(),
            size: 1,
            operator_id: "u".into(),
            deleted_at: 1234,
            entries: 1,
        };
        let token = encode_token("7", &item);
        let cursor = decode_token(&token, "7").unwrap();
        assert_eq!((cursor.deleted_at, cursor.recycle_item_id.as_str()), (1234, "42"));
        assert!(decode_token(&token, "8").is_err());
        assert!(decode_token("zz", "7").is_err());
        let forged = RecycleItemRecord { recycle_item_id: "4\0".into(), ..item };
        assert!(decode_token(&encode_token("7", &forged), "7").is_err());
    }
}
