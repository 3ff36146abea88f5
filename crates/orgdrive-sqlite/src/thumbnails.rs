//! SQLite: thumbnails of content objects (table `thumbnails`).

use async_trait::async_trait;
use rusqlite::{params, Row};

use crate::drive::id_array;
use crate::*;
use orgdrive_store::{ThumbnailRecord, ThumbnailStore};

fn thumbnail_from_row(row: &Row) -> rusqlite::Result<ThumbnailRecord> {
    Ok(ThumbnailRecord {
        blob_key: row.get(0)?,
        status: row.get(1)?,
        object_key: row.get(2)?,
        width: row.get(3)?,
        height: row.get(4)?,
        size: row.get(5)?,
        created_at: row.get(6)?,
    })
}

#[async_trait]
impl ThumbnailStore for SqliteStore {
    async fn get_thumbnails(&self, blob_keys: &[String]) -> StoreResult<Vec<ThumbnailRecord>> {
        if blob_keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = id_array(blob_keys.iter());
        self.read(|conn| {
            all(
                conn,
                "SELECT blob_key, status, object_key, width, height, size, created_at \
                 FROM thumbnails WHERE blob_key IN rarray(?1)",
                [keys],
                thumbnail_from_row,
            )
        })
    }

    async fn put_thumbnail(&self, t: &ThumbnailRecord) -> StoreResult<bool> {
        let t = t.clone();
        self.write(move |conn| {
            let referenced = one(
                conn,
                "SELECT EXISTS (SELECT 1 FROM dentries WHERE blob_key = ?1) \
                 OR EXISTS (SELECT 1 FROM dentry_versions WHERE blob_key = ?1)",
                [&t.blob_key],
                |r| r.get::<_, bool>(0),
            )?
            .unwrap_or(false);
            if !referenced {
                return Ok(false);
            }
            let stored = exec(
                conn,
                "INSERT INTO thumbnails \
                 (blob_key, status, object_key, width, height, size, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (blob_key) DO NOTHING",
                params![
                    t.blob_key,
                    t.status,
                    t.object_key,
                    t.width,
                    t.height,
                    t.size,
                    t.created_at
                ],
            )
            .map_err(classify)?;
            Ok(stored == 1)
        })
        .await
    }
}

/// In the transaction that trashes these content objects: their thumbnails'
/// records go, their objects join the trash; answers those objects.
pub(crate) fn trash_thumbnails(
    conn: &rusqlite::Connection,
    blob_keys: &[String],
    now_ms: i64,
) -> StoreResult<Vec<String>> {
    if blob_keys.is_empty() {
        return Ok(Vec::new());
    }
    let objects: Vec<String> = all(
        conn,
        "DELETE FROM thumbnails WHERE blob_key IN rarray(?1) RETURNING object_key",
        [id_array(blob_keys.iter())],
        |r| r.get::<_, Option<String>>(0),
    )?
    .into_iter()
    .flatten()
    .collect();
    for object in &objects {
        exec(
            conn,
            "INSERT INTO trashed_objects (object_key, trashed_at) VALUES (?1, ?2) \
             ON CONFLICT (object_key) DO NOTHING",
            params![object, now_ms],
        )
        .map_err(backend)?;
    }
    Ok(objects)
}
