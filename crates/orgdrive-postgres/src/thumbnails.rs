//! Thumbnails of content objects (table `thumbnails`), and their leaving
//! with the content object they were made from.

use async_trait::async_trait;
use tokio_postgres::Row;

use orgdrive_store::{StoreError, StoreResult, ThumbnailRecord, ThumbnailStore};

use crate::{all, exec, one, read, tx, DbResult, PgStore, Tx};

fn thumbnail_from_row(row: &Row) -> DbResult<ThumbnailRecord> {
    let dimension = |at: usize| -> DbResult<u32> {
        let value: i64 = row.try_get(at)?;
        u32::try_from(value)
            .map_err(|_| StoreError::Backend(format!("thumbnail dimension {value}")).into())
    };
    Ok(ThumbnailRecord {
        blob_key: row.try_get(0)?,
        status: row.try_get(1)?,
        object_key: row.try_get(2)?,
        width: dimension(3)?,
        height: dimension(4)?,
        size: row.try_get(5)?,
        created_at: row.try_get(6)?,
    })
}

#[async_trait]
impl ThumbnailStore for PgStore {
    async fn get_thumbnails(&self, blob_keys: &[String]) -> StoreResult<Vec<ThumbnailRecord>> {
        if blob_keys.is_empty() {
            return Ok(Vec::new());
        }
        read!(self, |c| {
            all(
                &c,
                "SELECT blob_key, status, object_key, width, height, size, created_at \
                 FROM thumbnails WHERE blob_key = ANY($1)",
                &[&blob_keys],
            )
            .await?
            .iter()
            .map(thumbnail_from_row)
            .collect::<DbResult<Vec<_>>>()?
        })
    }

    /// A reference to the content object is locked `FOR SHARE` while the
    /// record is written: the change that drops the last reference (and
    /// takes the record with it) waits for this one to commit, and then
    /// sees the record.
    async fn put_thumbnail(&self, thumbnail: &ThumbnailRecord) -> StoreResult<bool> {
        let th = thumbnail;
        let (width, height) = (i64::from(th.width), i64::from(th.height));
        tx!(self, |t| {
            let mut referenced = one(
                &t,
                "SELECT 1 FROM dentries WHERE blob_key = $1 LIMIT 1 FOR SHARE",
                &[&th.blob_key],
            )
            .await?
            .is_some();
            if !referenced {
                referenced = one(
                    &t,
                    "SELECT 1 FROM dentry_versions WHERE blob_key = $1 LIMIT 1 FOR SHARE",
                    &[&th.blob_key],
                )
                .await?
                .is_some();
            }
            referenced
                && exec(
                    &t,
                    "INSERT INTO thumbnails \
                     (blob_key, status, object_key, width, height, size, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (blob_key) DO NOTHING",
                    &[
                        &th.blob_key,
                        &th.status,
                        &th.object_key,
                        &width,
                        &height,
                        &th.size,
                        &th.created_at,
                    ],
                )
                .await?
                    == 1
        })
    }
}

/// In the transaction that trashes these content objects: their
/// thumbnails' records go, their objects join the trash; answers those
/// objects.
#[allow(dead_code)] // until the lifecycle (deletes, purges) is ported
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
