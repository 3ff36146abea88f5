//! SQLite: small content objects kept in the database (table
//! `inline_objects`), so that a small upload is one group-committed
//! transaction and no file with fsyncs of its own. SQLite reads and writes
//! blobs of this size faster than a filesystem does files
//! (<https://www.sqlite.org/fasterthanfs.html>).

use async_trait::async_trait;
use rusqlite::params;

use crate::drive::{id_array, record_part};
use crate::*;
use orgdrive_store::{is_inline_object, InlineObjectStore, PartRecorded, UploadPartRecord};

/// The largest object kept in the database: the size a download reads in
/// one piece anyway (`orgdrive_blob::WHOLE_READ_MAX`).
const INLINE_OBJECT_LIMIT: u64 = 64 << 10;

#[async_trait]
impl InlineObjectStore for SqliteStore {
    fn inline_object_limit(&self) -> u64 {
        INLINE_OBJECT_LIMIT
    }

    async fn record_inline_part(
        &self,
        upload_key: &str,
        part: &UploadPartRecord,
        bytes: Vec<u8>,
        reserved: i64,
    ) -> StoreResult<PartRecorded> {
        if !is_inline_object(&part.object_key)
            || bytes.len() as u64 > INLINE_OBJECT_LIMIT
            || part.size != bytes.len() as i64
        {
            return Err(StoreError::Backend(format!(
                "{} bytes cannot be kept inline as {}",
                bytes.len(),
                part.object_key
            )));
        }
        let (upload_key, part) = (upload_key.to_string(), part.clone());
        self.write(move |conn| {
            // The record's checks come first: a refusal writes nothing.
            let recorded = record_part(conn, &upload_key, &part, reserved)?;
            if recorded != PartRecorded::UploadGone {
                exec(
                    conn,
                    "INSERT INTO inline_objects (object_key, bytes) VALUES (?1, ?2)",
                    params![part.object_key, bytes],
                )
                .map_err(classify)?;
            }
            Ok(recorded)
        })
        .await
    }

    async fn read_inline_object(&self, object_key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.read(|conn| {
            one(
                conn,
                "SELECT bytes FROM inline_objects WHERE object_key = ?1",
                [object_key],
                |row| row.get(0),
            )
        })
    }

    async fn delete_inline_objects(&self, object_keys: &[String]) -> StoreResult<()> {
        let keys: Vec<String> =
            object_keys.iter().filter(|k| is_inline_object(k)).cloned().collect();
        if keys.is_empty() {
            return Ok(());
        }
        self.write(move |conn| {
            exec(
                conn,
                "DELETE FROM inline_objects WHERE object_key IN rarray(?1)",
                [id_array(keys.iter())],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn list_inline_objects(
        &self,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<(String, u64)>> {
        self.read(|conn| {
            all(
                conn,
                "SELECT object_key, length(bytes) FROM inline_objects \
                 WHERE object_key > ?1 ORDER BY object_key LIMIT ?2",
                params![after, limit],
                |row| Ok((row.get(0)?, row.get::<_, i64>(1)?.max(0) as u64)),
            )
        })
    }
}
