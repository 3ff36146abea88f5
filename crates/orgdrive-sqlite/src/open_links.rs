//! SQLite: registered open links of dentries (table `open_links`).

use std::collections::HashSet;

use async_trait::async_trait;
use rusqlite::{params, Row};

use crate::*;
use orgdrive_store::{OpenLinkRecord, OpenLinkStore};

fn link_from_row(row: &Row) -> rusqlite::Result<OpenLinkRecord> {
    Ok(OpenLinkRecord {
        dentry_id: row.get(0)?,
        provider: row.get(1)?,
        open_type: row.get(2)?,
        url: row.get(3)?,
        registered_at: row.get(4)?,
    })
}

#[async_trait]
impl OpenLinkStore for SqliteStore {
    async fn put_open_links(
        &self,
        space_id: &str,
        dentry_id: &str,
        links: &[OpenLinkRecord],
        max_per_dentry: u32,
    ) -> StoreResult<bool> {
        let (space_id, dentry_id, links) =
            (space_id.to_string(), dentry_id.to_string(), links.to_vec());
        self.write(move |conn| {
            let live = one(
                conn,
                "SELECT 1 FROM dentries WHERE dentry_id = ?1 AND space_id = ?2 \
                 AND status = 'NORMAL'",
                [&dentry_id, &space_id],
                |r| r.get::<_, i64>(0),
            )?;
            if live.is_none() {
                return Err(StoreError::NotFound);
            }
            // Checked before the first write: the links the dentry would hold.
            let mut held: HashSet<(String, String)> = all(
                conn,
                "SELECT provider, open_type FROM open_links WHERE dentry_id = ?1",
                [&dentry_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .into_iter()
            .collect();
            for link in &links {
                held.insert((link.provider.clone(), link.open_type.clone()));
            }
            if held.len() > max_per_dentry as usize {
                return Ok(false);
            }
            for link in &links {
                // Deleted and inserted again: the new row has the highest id.
                exec(
                    conn,
                    "DELETE FROM open_links \
                     WHERE dentry_id = ?1 AND provider = ?2 AND open_type = ?3",
                    params![dentry_id, link.provider, link.open_type],
                )
                .map_err(classify)?;
                exec(
                    conn,
                    "INSERT INTO open_links (dentry_id, provider, open_type, url, registered_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![dentry_id, link.provider, link.open_type, link.url, link.registered_at],
                )
                .map_err(classify)?;
            }
            Ok(true)
        })
        .await
    }

    async fn get_open_link(
        &self,
        dentry_id: &str,
        open_type: &str,
    ) -> StoreResult<Option<OpenLinkRecord>> {
        let (dentry_id, open_type) = (dentry_id.to_string(), open_type.to_string());
        self.read(move |conn| {
            one(
                conn,
                "SELECT dentry_id, provider, open_type, url, registered_at FROM open_links \
                 WHERE dentry_id = ?1 AND open_type = ?2 ORDER BY id DESC LIMIT 1",
                [&dentry_id, &open_type],
                link_from_row,
            )
        })
    }
}
