//! WebDAV dead properties (table `dead_properties`, removed with their
//! dentry by the foreign key's cascade).

use std::collections::BTreeSet;

use async_trait::async_trait;

use orgdrive_store::{DavStore, DeadProperty, PropertyPatch, StoreError, StoreResult};

use crate::{all, exec, one, read, tx, PgStore};

#[async_trait]
impl DavStore for PgStore {
    async fn dead_properties(&self, dentry_id: &str) -> StoreResult<Vec<DeadProperty>> {
        read!(self, |c| {
            all(
                &c,
                "SELECT namespace, name, prefix, xml FROM dead_properties WHERE dentry_id = $1 \
                 ORDER BY namespace, name",
                &[&dentry_id],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(DeadProperty {
                    namespace: r.try_get(0)?,
                    name: r.try_get(1)?,
                    prefix: r.try_get(2)?,
                    xml: r.try_get(3)?,
                })
            })
            .collect::<crate::DbResult<Vec<_>>>()?
        })
    }

    /// The dentry's row is locked first: patches of one dentry are counted
    /// against the bound one after the other.
    async fn patch_dead_properties(
        &self,
        dentry_id: &str,
        set: &[DeadProperty],
        remove: &[(String, String)],
        max: usize,
    ) -> StoreResult<PropertyPatch> {
        tx!(self, |t| {
            let exists = one(
                &t,
                "SELECT 1 FROM dentries WHERE dentry_id = $1 FOR NO KEY UPDATE",
                &[&dentry_id],
            )
            .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound)?;
            }
            let mut names: BTreeSet<(String, String)> = all(
                &t,
                "SELECT namespace, name FROM dead_properties WHERE dentry_id = $1",
                &[&dentry_id],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<crate::DbResult<_>>()?;
            for key in remove {
                names.remove(key);
            }
            names.extend(set.iter().map(|p| (p.namespace.clone(), p.name.clone())));
            if names.len() > max {
                PropertyPatch::TooMany
            } else {
                for (namespace, name) in remove {
                    exec(
                        &t,
                        "DELETE FROM dead_properties \
                         WHERE dentry_id = $1 AND namespace = $2 AND name = $3",
                        &[&dentry_id, namespace, name],
                    )
                    .await?;
                }
                for p in set {
                    exec(
                        &t,
                        "INSERT INTO dead_properties (dentry_id, namespace, name, prefix, xml) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dentry_id, namespace, name) \
                         DO UPDATE SET prefix = EXCLUDED.prefix, xml = EXCLUDED.xml",
                        &[&dentry_id, &p.namespace, &p.name, &p.prefix, &p.xml],
                    )
                    .await?;
                }
                PropertyPatch::Done
            }
        })
    }
}
