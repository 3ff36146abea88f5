//! Recycle bins (named views over items) and recycle items: listing,
//! restoring, purging. A restore locks the item's space row `FOR UPDATE`
//! (and then reads the item again); a purge locks every space its items
//! are in, in `space_id` order, before removing anything (see the module
//! doc of `lifecycle`).

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use orgdrive_store::{
    EventRecord, EventType, IdSource, Ids, ItemCursor, ItemFilter, Placed, RecycleBinRecord,
    RecycleItemRecord, RecycleScope, RecycleStore, Removed, RestoreItem, StoreError, StoreResult,
};

use super::tasks::{complete_task, lock_task};
use super::tree::append_replaced;
use super::*;
use crate::dentries::reread;
use crate::{events, PgStore};

fn bin_from_row(r: &Row) -> DbResult<RecycleBinRecord> {
    let scope: String = r.try_get(2)?;
    let Some(scope) = RecycleScope::parse(&scope) else {
        return Err(broken("unknown recycle bin scope"));
    };
    Ok(RecycleBinRecord {
        recycle_bin_id: r.try_get(0)?,
        corp_id: r.try_get(1)?,
        scope,
        scope_id: r.try_get(3)?,
        created_at: r.try_get(4)?,
    })
}

fn items_from_rows(rows: &[Row]) -> DbResult<Vec<RecycleItemRecord>> {
    rows.iter().map(recycle_item_from_row).collect()
}

/// Whether the filter covers the item.
fn covers(filter: &ItemFilter, item: &RecycleItemRecord) -> bool {
    item.corp_id == filter.corp_id
        && filter.app_id.as_ref().is_none_or(|app| *app == item.app_id)
        && filter.space_id.as_ref().is_none_or(|space| *space == item.space_id)
}

/// The item, if it is one of `filter`'s.
async fn filtered_item(
    t: &Tx<'_>,
    recycle_item_id: &str,
    filter: &ItemFilter,
) -> DbResult<Option<RecycleItemRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        recycle_item_columns!(),
        " FROM recycle_items WHERE recycle_item_id = $1"
    );
    let item = one(t, SQL, &[&recycle_item_id]).await?.as_ref().map(recycle_item_from_row);
    Ok(item.transpose()?.filter(|item| covers(filter, item)))
}

/// Now, for the trash's bookkeeping when the caller gives no time.
fn wall_clock_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A page of items newest first: those of corp `$1`, app `$2` (any when
/// NULL) and space `$3` (any when NULL), strictly before the cursor `$4`,
/// `$5` (none when NULL), at most `$6`.
const ITEMS_PAGE_SQL: &str = concat!(
    "SELECT ",
    recycle_item_columns!(),
    " FROM recycle_items WHERE corp_id = $1 \
     AND ($2::TEXT IS NULL OR app_id = $2) AND ($3::TEXT IS NULL OR space_id = $3) \
     AND ($4::BIGINT IS NULL OR (deleted_at, recycle_item_id) < ($4, $5::TEXT)) \
     ORDER BY deleted_at DESC, recycle_item_id DESC LIMIT $6"
);

#[async_trait]
impl RecycleStore for PgStore {
    async fn recycle_bin_once(&self, bin: &RecycleBinRecord) -> StoreResult<RecycleBinRecord> {
        crate::tx!(self, |t| {
            // A racing insert of the scope waits for this one, then does
            // nothing and reads the committed bin (a new statement).
            exec(
                &t,
                "INSERT INTO recycle_bins (recycle_bin_id, corp_id, scope, scope_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (corp_id, scope, scope_id) DO NOTHING",
                &[
                    &bin.recycle_bin_id,
                    &bin.corp_id,
                    &bin.scope.as_str(),
                    &bin.scope_id,
                    &bin.created_at,
                ],
            )
            .await?;
            let row = one(
                &t,
                "SELECT recycle_bin_id, corp_id, scope, scope_id, created_at FROM recycle_bins \
                 WHERE corp_id = $1 AND scope = $2 AND scope_id = $3",
                &[&bin.corp_id, &bin.scope.as_str(), &bin.scope_id],
            )
            .await?;
            match row {
                Some(row) => bin_from_row(&row)?,
                None => return Err(broken("the recycle bin vanished")),
            }
        })
    }

    async fn get_recycle_bin(&self, recycle_bin_id: &str) -> StoreResult<Option<RecycleBinRecord>> {
        crate::read!(self, |c| {
            one(
                &c,
                "SELECT recycle_bin_id, corp_id, scope, scope_id, created_at FROM recycle_bins \
                 WHERE recycle_bin_id = $1",
                &[&recycle_bin_id],
            )
            .await?
            .as_ref()
            .map(bin_from_row)
            .transpose()?
        })
    }

    async fn list_recycle_items(
        &self,
        filter: &ItemFilter,
        after: Option<&ItemCursor>,
        limit: u32,
    ) -> StoreResult<Vec<RecycleItemRecord>> {
        let (at, id) = after.map(|c| (c.deleted_at, c.recycle_item_id.as_str())).unzip();
        let limit = i64::from(limit);
        crate::read!(self, |c| {
            items_from_rows(
                &all(
                    &c,
                    ITEMS_PAGE_SQL,
                    &[&filter.corp_id, &filter.app_id, &filter.space_id, &at, &id, &limit],
                )
                .await?,
            )?
        })
    }

    async fn get_recycle_item(
        &self,
        recycle_item_id: &str,
    ) -> StoreResult<Option<RecycleItemRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            recycle_item_columns!(),
            " FROM recycle_items WHERE recycle_item_id = $1"
        );
        crate::read!(self, |c| {
            one(&c, SQL, &[&recycle_item_id])
                .await?
                .as_ref()
                .map(recycle_item_from_row)
                .transpose()?
        })
    }

    async fn restore_recycle_item(&self, restore: &RestoreItem, ids: Ids) -> StoreResult<Placed> {
        crate::tx!(self, |t| {
            let placed = restore_item(&t, restore, &*ids).await?;
            if !placed.existing {
                let actor = &restore.actor;
                append_replaced(&t, &placed, actor).await?;
                let mut event = EventRecord::of_dentry(
                    EventType::DentryRestored,
                    &actor.corp_id,
                    &placed.dentry,
                    &actor.union_id,
                    actor.now_ms,
                );
                event.recycle_item_id = Some(restore.recycle_item_id.clone());
                events::append(&t, &[event]).await?;
            }
            placed
        })
    }

    async fn purge_recycle_items(
        &self,
        filter: &ItemFilter,
        item_ids: Option<&[String]>,
        operator_id: &str,
    ) -> StoreResult<Removed> {
        let now_ms = wall_clock_ms();
        crate::tx!(self, |t| purge(&t, filter, item_ids, operator_id, now_ms).await?)
    }
}

async fn restore_item(t: &Tx<'_>, r: &RestoreItem, ids: &dyn IdSource) -> DbResult<Placed> {
    lock_task(t, r.task_id.as_deref()).await?;
    // The item's space is known from the item; locked, then the item read
    // again (it may have been restored or purged meanwhile).
    let Some(seen) = filtered_item(t, &r.recycle_item_id, &r.filter).await? else {
        return refuse(StoreError::NotFound);
    };
    let locked = lock_spaces(t, &[&seen.space_id]).await?;
    let Some(item) = filtered_item(t, &r.recycle_item_id, &r.filter).await? else {
        return refuse(StoreError::NotFound);
    };
    if r.to.space_id != item.space_id {
        return refuse(StoreError::ParentNotFound);
    }
    let Some(owner) = locked.iter().find(|o| o.space_id == item.space_id) else {
        return Err(broken("a recycle item's space vanished"));
    };
    const ROOT: &str = concat!(
        "SELECT ",
        dentry_columns!(""),
        " FROM dentries WHERE dentry_id = $1 AND recycle_item_id = $2"
    );
    let root = one(t, ROOT, &[&item.dentry_id, &item.recycle_item_id]).await?;
    let Some(root) = root.as_ref().map(dentry_from_row).transpose()? else {
        return Err(broken("a recycle item's dentry vanished"));
    };
    let target =
        target_folder(t, &item.space_id, &r.to.parent_id, &r.limits, &root.dentry_id).await?;
    let to = Arrival { target: &target, owner, actor: &r.actor, ids };
    let (name, replaced) =
        match settle_name(t, &to, &root, &root.name, &r.to.conflict, None).await? {
            Naming::Existing(sibling) => {
                complete_task(t, r.task_id.as_deref(), 0, r.actor.now_ms).await?;
                return Ok(Placed { dentry: sibling, existing: true, entries: 0, replaced: None });
            }
            Naming::Take { name, replaced } => (name, replaced),
        };
    let members = members_from_rows(
        &all(
            t,
            ITEM_MEMBERS_SQL,
            &[&item.recycle_item_id, &root.dentry_id, &i64::from(r.limits.max_depth)],
        )
        .await?,
    )?;
    check_limits(&r.limits, &target, &name, extent_of(&members))?;
    // The root's place first, while it is not live: its old name may be
    // taken at its old place.
    exec(
        t,
        "UPDATE dentries SET parent_id = $1, name = $2 WHERE dentry_id = $3",
        &[&r.to.parent_id, &name, &root.dentry_id],
    )
    .await?;
    let entries = exec(
        t,
        "UPDATE dentries SET status = 'NORMAL', recycle_item_id = NULL \
         WHERE recycle_item_id = $1",
        &[&item.recycle_item_id],
    )
    .await? as i64;
    exec(t, "DELETE FROM recycle_items WHERE recycle_item_id = $1", &[&item.recycle_item_id])
        .await?;
    complete_task(t, r.task_id.as_deref(), entries, r.actor.now_ms).await?;
    let dentry = reread(t, &root).await?;
    Ok(Placed { dentry, existing: false, entries, replaced })
}

async fn purge(
    t: &Tx<'_>,
    filter: &ItemFilter,
    item_ids: Option<&[String]>,
    operator_id: &str,
    now_ms: i64,
) -> DbResult<Removed> {
    // The items of `filter` (among `$4` when given), in spaces `$5` when given.
    const ITEMS: &str = concat!(
        "SELECT ",
        recycle_item_columns!(),
        " FROM recycle_items WHERE corp_id = $1 \
         AND ($2::TEXT IS NULL OR app_id = $2) AND ($3::TEXT IS NULL OR space_id = $3) \
         AND ($4::TEXT[] IS NULL OR recycle_item_id = ANY($4)) \
         AND ($5::TEXT[] IS NULL OR space_id = ANY($5)) \
         ORDER BY deleted_at, recycle_item_id"
    );
    let (corp, app, space) = (&filter.corp_id, &filter.app_id, &filter.space_id);
    let no_spaces: Option<Vec<String>> = None;
    let seen = items_from_rows(&all(t, ITEMS, &[corp, app, space, &item_ids, &no_spaces]).await?)?;
    if seen.is_empty() {
        return Ok(Removed::default());
    }
    // Their spaces locked in order, then the items read again: those still
    // there, in the locked spaces (an item of another space binned meanwhile
    // waits for a later purge).
    let space_ids: Vec<&str> = seen.iter().map(|i| i.space_id.as_str()).collect();
    let locked: Vec<String> =
        lock_spaces(t, &space_ids).await?.into_iter().map(|o| o.space_id).collect();
    let purged =
        items_from_rows(&all(t, ITEMS, &[corp, app, space, &item_ids, &Some(locked)]).await?)?;
    if purged.is_empty() {
        return Ok(Removed::default());
    }
    let items: Vec<String> = purged.iter().map(|i| i.recycle_item_id.clone()).collect();
    let dentries: Vec<String> =
        all(t, "SELECT dentry_id FROM dentries WHERE recycle_item_id = ANY($1)", &[&items])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
    for item in &purged {
        let event =
            EventRecord::of_recycle_item(EventType::DentryDeleted, item, operator_id, now_ms);
        events::append(t, &[event]).await?;
    }
    let (freed_bytes, trashed_objects) = remove_dentries(t, &dentries, now_ms).await?;
    exec(t, "DELETE FROM recycle_items WHERE recycle_item_id = ANY($1)", &[&items]).await?;
    Ok(Removed { entries: dentries.len() as i64, freed_bytes, trashed_objects, recycle_item: None })
}
