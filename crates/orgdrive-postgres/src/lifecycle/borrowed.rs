//! Copies of helpers PG-A writes in `dentries.rs`, `uploads.rs` and
//! `thumbnails.rs` (same names, same statements), so that the lifecycle
//! compiles on its own branch. At the merge this file goes, and
//! `lifecycle.rs` imports them from `crate::dentries` (`dentry_with_properties`,
//! `insert_dentry`, `live_child`, `reread`, `free_name`, `overwrite`),
//! `crate::uploads::settle` and `crate::thumbnails::trash_thumbnails`.

use orgdrive_store::{DentryRecord, StoreError, MAX_RENAME_COUNTER};

use super::Tx;
use crate::rows::{dentries_joined, dentry_columns, dentry_from_row};
use crate::{all, exec, one, DbResult};

/// The dentry with every app's properties, in one statement.
pub(crate) async fn dentry_with_properties(
    t: &Tx<'_>,
    space_id: &str,
    dentry_id: &str,
) -> DbResult<Option<DentryRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        dentry_columns!("d."),
        ", p.dentry_id, p.app_id, p.name, p.value, p.visibility FROM dentries d \
         LEFT JOIN app_properties p ON p.dentry_id = d.dentry_id \
         WHERE d.space_id = $1 AND d.dentry_id = $2 ORDER BY p.app_id, p.name"
    );
    Ok(dentries_joined(&all(t, SQL, &[&space_id, &dentry_id]).await?)?.pop())
}

/// Inserts the dentry under `name`; false if a live sibling already has it.
pub(crate) async fn insert_dentry(t: &Tx<'_>, d: &DentryRecord, name: &str) -> DbResult<bool> {
    const SQL: &str = concat!(
        "INSERT INTO dentries (",
        dentry_columns!(""),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (space_id, parent_id, name) WHERE status = 'NORMAL' DO NOTHING"
    );
    let done = exec(
        t,
        SQL,
        &[
            &d.dentry_id,
            &d.uuid,
            &d.space_id,
            &d.parent_id,
            &d.kind,
            &name,
            &d.size,
            &d.version,
            &d.status,
            &d.blob_key,
            &d.creator_id,
            &d.modifier_id,
            &d.created_at,
            &d.modified_at,
        ],
    )
    .await?;
    Ok(done == 1)
}

/// The live child of `d`'s parent named `name`, if any; locked `FOR UPDATE`
/// when `lock`.
pub(crate) async fn live_child(
    t: &Tx<'_>,
    d: &DentryRecord,
    name: &str,
    lock: bool,
) -> DbResult<Option<DentryRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        dentry_columns!(""),
        " FROM dentries WHERE space_id = $1 AND parent_id = $2 AND name = $3 \
         AND status = 'NORMAL'"
    );
    const LOCKED: &str = concat!(
        "SELECT ",
        dentry_columns!(""),
        " FROM dentries WHERE space_id = $1 AND parent_id = $2 AND name = $3 \
         AND status = 'NORMAL' FOR UPDATE"
    );
    let sql = if lock { LOCKED } else { SQL };
    one(t, sql, &[&d.space_id, &d.parent_id, &name])
        .await?
        .as_ref()
        .map(dentry_from_row)
        .transpose()
}

async fn name_taken(t: &Tx<'_>, d: &DentryRecord, name: &str) -> DbResult<bool> {
    let found = one(
        t,
        "SELECT 1 FROM dentries WHERE space_id = $1 AND parent_id = $2 AND name = $3 \
         AND status = 'NORMAL'",
        &[&d.space_id, &d.parent_id, &name],
    )
    .await?;
    Ok(found.is_some())
}

/// The dentry as stored now, with every app's properties.
pub(crate) async fn reread(t: &Tx<'_>, d: &DentryRecord) -> DbResult<DentryRecord> {
    dentry_with_properties(t, &d.space_id, &d.dentry_id)
        .await?
        .ok_or_else(|| StoreError::Backend("a dentry vanished".into()).into())
}

/// A free `prefix{k}suffix` among the live children of `d`'s parent, in
/// O(log n) probes (gallop, then binary search); the first free counter by
/// one statement when every probe is taken; `None` when all are.
pub(crate) async fn free_name(
    t: &Tx<'_>,
    d: &DentryRecord,
    prefix: &str,
    suffix: &str,
) -> DbResult<Option<String>> {
    let name = |k: u32| format!("{prefix}{k}{suffix}");
    let mut low = 0;
    let mut high = 1;
    let mut all_taken = false;
    while name_taken(t, d, &name(high)).await? {
        if high == MAX_RENAME_COUNTER {
            all_taken = true;
            break;
        }
        low = high;
        high = high.saturating_mul(2).min(MAX_RENAME_COUNTER);
    }
    if !all_taken {
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if name_taken(t, d, &name(middle)).await? {
                low = middle;
            } else {
                high = middle;
            }
        }
        return Ok(Some(name(high)));
    }
    let first_free = one(
        t,
        "SELECT k FROM generate_series(1, $4::BIGINT) AS k WHERE NOT EXISTS \
         (SELECT 1 FROM dentries WHERE space_id = $1 AND parent_id = $2 \
          AND name = $3 || k::TEXT || $5 AND status = 'NORMAL') ORDER BY k LIMIT 1",
        &[&d.space_id, &d.parent_id, &prefix, &i64::from(MAX_RENAME_COUNTER), &suffix],
    )
    .await?;
    Ok(match first_free {
        Some(row) => Some(format!("{prefix}{}{suffix}", row.try_get::<_, i64>(0)?)),
        None => None,
    })
}

/// Keeps `existing`'s content as a version and gives it `new`'s content.
pub(crate) async fn overwrite(
    t: &Tx<'_>,
    existing: &DentryRecord,
    new: &DentryRecord,
) -> DbResult<DentryRecord> {
    exec(
        t,
        "INSERT INTO dentry_versions (dentry_id, version, name, size, blob_key, modifier_id, \
         modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &existing.dentry_id,
            &existing.version,
            &existing.name,
            &existing.size,
            &existing.blob_key,
            &existing.modifier_id,
            &existing.modified_at,
        ],
    )
    .await?;
    let updated = DentryRecord {
        size: new.size,
        blob_key: new.blob_key.clone(),
        version: existing.version + 1,
        modifier_id: new.modifier_id.clone(),
        modified_at: new.modified_at,
        ..existing.clone()
    };
    exec(
        t,
        "UPDATE dentries SET size = $1, blob_key = $2, version = $3, modifier_id = $4, \
         modified_at = $5 WHERE dentry_id = $6",
        &[
            &updated.size,
            &updated.blob_key,
            &updated.version,
            &updated.modifier_id,
            &updated.modified_at,
            &updated.dentry_id,
        ],
    )
    .await?;
    Ok(updated)
}

/// Releases `released` reserved bytes and charges `charged` bytes on the
/// space and org counters, unless a cap would be passed (`QuotaExceeded`).
pub(crate) async fn settle(
    t: &Tx<'_>,
    space_id: &str,
    corp_id: &str,
    released: i64,
    charged: i64,
) -> DbResult<()> {
    if released == 0 && charged == 0 {
        return Ok(());
    }
    let space = exec(
        t,
        "UPDATE spaces SET reserved_bytes = reserved_bytes - $1, used_bytes = used_bytes + $2 \
         WHERE space_id = $3 \
         AND ($2::BIGINT = 0 OR quota IS NULL OR used_bytes + reserved_bytes - $1 + $2 <= quota)",
        &[&released, &charged, &space_id],
    )
    .await?;
    if space == 0 {
        return Err(StoreError::QuotaExceeded { space: true }.into());
    }
    let org = exec(
        t,
        "UPDATE orgs SET reserved_bytes = reserved_bytes - $1, used_bytes = used_bytes + $2 \
         WHERE corp_id = $3 \
         AND ($2::BIGINT = 0 OR capacity IS NULL OR used_bytes + reserved_bytes - $1 + $2 <= capacity)",
        &[&released, &charged, &corp_id],
    )
    .await?;
    if org == 0 {
        return Err(StoreError::QuotaExceeded { space: false }.into());
    }
    Ok(())
}

/// Deletes the thumbnails of these (trashed) content objects and trashes
/// their objects; answers those objects.
pub(crate) async fn trash_thumbnails(
    t: &Tx<'_>,
    blob_keys: &[String],
    now_ms: i64,
) -> DbResult<Vec<String>> {
    if blob_keys.is_empty() {
        return Ok(Vec::new());
    }
    let objects: Vec<String> = all(
        t,
        "DELETE FROM thumbnails WHERE blob_key = ANY($1) RETURNING object_key",
        &[&blob_keys],
    )
    .await?
    .iter()
    .map(|r| r.try_get::<_, Option<String>>(0))
    .collect::<Result<Vec<_>, _>>()?
    .into_iter()
    .flatten()
    .collect();
    if !objects.is_empty() {
        exec(
            t,
            "INSERT INTO trashed_objects (object_key, trashed_at) \
             SELECT unnest($1::TEXT[]), $2 ON CONFLICT (object_key) DO NOTHING",
            &[&objects, &now_ms],
        )
        .await?;
    }
    Ok(objects)
}
