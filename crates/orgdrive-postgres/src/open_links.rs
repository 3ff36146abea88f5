//! Registered open links of dentries (RegisterOpenInfo; table `open_links`).

use std::collections::HashSet;

use async_trait::async_trait;

use orgdrive_store::{OpenLinkRecord, OpenLinkStore, StoreError, StoreResult};

use crate::rows::live_dentries_by_id;
use crate::{all, exec, one, read, tx, PgStore};

#[async_trait]
impl OpenLinkStore for PgStore {
    /// The dentry's row is locked first: registrations for one dentry are
    /// counted against the cap one after the other.
    async fn put_open_links(
        &self,
        space_id: &str,
        dentry_id: &str,
        links: &[OpenLinkRecord],
        max_per_dentry: u32,
    ) -> StoreResult<bool> {
        tx!(self, |t| {
            let live = one(
                &t,
                concat!(
                    "SELECT 1 FROM ",
                    live_dentries_by_id!("= $1", "$2"),
                    " d FOR NO KEY UPDATE"
                ),
                &[&dentry_id, &space_id],
            )
            .await?;
            if live.is_none() {
                return Err(StoreError::NotFound)?;
            }
            // Checked before the first write: the links the dentry would hold.
            let mut held: HashSet<(String, String)> = all(
                &t,
                "SELECT provider, open_type FROM open_links WHERE dentry_id = $1",
                &[&dentry_id],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<crate::DbResult<_>>()?;
            for link in links {
                held.insert((link.provider.clone(), link.open_type.clone()));
            }
            let fits = held.len() <= max_per_dentry as usize;
            if fits {
                for link in links {
                    // Deleted and inserted again: the new row has the highest id.
                    exec(
                        &t,
                        "DELETE FROM open_links \
                         WHERE dentry_id = $1 AND provider = $2 AND open_type = $3",
                        &[&dentry_id, &link.provider, &link.open_type],
                    )
                    .await?;
                    exec(
                        &t,
                        "INSERT INTO open_links (dentry_id, provider, open_type, url, \
                         registered_at) VALUES ($1, $2, $3, $4, $5)",
                        &[
                            &dentry_id,
                            &link.provider,
                            &link.open_type,
                            &link.url,
                            &link.registered_at,
                        ],
                    )
                    .await?;
                }
            }
            fits
        })
    }

    async fn get_open_link(
        &self,
        dentry_id: &str,
        open_type: &str,
    ) -> StoreResult<Option<OpenLinkRecord>> {
        read!(self, |c| {
            match one(
                &c,
                "SELECT dentry_id, provider, open_type, url, registered_at FROM open_links \
                 WHERE dentry_id = $1 AND open_type = $2 ORDER BY id DESC LIMIT 1",
                &[&dentry_id, &open_type],
            )
            .await?
            {
                None => None,
                Some(r) => Some(OpenLinkRecord {
                    dentry_id: r.try_get(0)?,
                    provider: r.try_get(1)?,
                    open_type: r.try_get(2)?,
                    url: r.try_get(3)?,
                    registered_at: r.try_get(4)?,
                }),
            }
        })
    }
}
