//! SQLite: WebDAV dead properties (table `dead_properties`, removed with
//! their dentry by the foreign key's cascade).

use std::collections::BTreeSet;

use async_trait::async_trait;
use rusqlite::params;

use crate::*;
use orgdrive_store::{DavStore, DeadProperty, PropertyPatch};

#[async_trait]
impl DavStore for SqliteStore {
    async fn dead_properties(&self, dentry_id: &str) -> StoreResult<Vec<DeadProperty>> {
        self.read(|conn| {
            all(
                conn,
                "SELECT namespace, name, prefix, xml FROM dead_properties WHERE dentry_id = ?1 \
                 ORDER BY namespace, name",
                params![dentry_id],
                |row| {
                    Ok(DeadProperty {
                        namespace: row.get(0)?,
                        name: row.get(1)?,
                        prefix: row.get(2)?,
                        xml: row.get(3)?,
                    })
                },
            )
        })
    }

    async fn patch_dead_properties(
        &self,
        dentry_id: &str,
        set: &[DeadProperty],
        remove: &[(String, String)],
        max: usize,
    ) -> StoreResult<PropertyPatch> {
        let (dentry_id, set, remove) = (dentry_id.to_string(), set.to_vec(), remove.to_vec());
        self.write(move |conn| {
            let exists = one(conn, "SELECT 1 FROM dentries WHERE dentry_id = ?1", params![dentry_id], |_| Ok(()))?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            // The one writer runs this whole closure: the count cannot change under it.
            let mut names: BTreeSet<(String, String)> = all(
                conn,
                "SELECT namespace, name FROM dead_properties WHERE dentry_id = ?1",
                params![dentry_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .into_iter()
            .collect();
            for key in &remove {
                names.remove(key);
            }
            names.extend(set.iter().map(|p| (p.namespace.clone(), p.name.clone())));
            if names.len() > max {
                return Ok(PropertyPatch::TooMany);
            }
            for (namespace, name) in &remove {
                exec(
                    conn,
                    "DELETE FROM dead_properties WHERE dentry_id = ?1 AND namespace = ?2 AND name = ?3",
                    params![dentry_id, namespace, name],
                )
                .map_err(classify)?;
            }
            for p in &set {
                exec(
                    conn,
                    "INSERT INTO dead_properties (dentry_id, namespace, name, prefix, xml) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (dentry_id, namespace, name) \
                     DO UPDATE SET prefix = excluded.prefix, xml = excluded.xml",
                    params![dentry_id, p.namespace, p.name, p.prefix, p.xml],
                )
                .map_err(classify)?;
            }
            Ok(PropertyPatch::Done)
        })
        .await
    }
}
