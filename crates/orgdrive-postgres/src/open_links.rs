//! placeholder

use async_trait::async_trait;
use orgdrive_store::*;

use crate::lifecycle::not_yet;
use crate::PgStore;

#[async_trait]
impl OpenLinkStore for PgStore {
    async fn put_open_links(
        &self,
        _space_id: &str,
        _dentry_id: &str,
        _links: &[OpenLinkRecord],
        _max_per_dentry: u32,
    ) -> StoreResult<bool> {
        Err(not_yet())
    }
    async fn get_open_link(
        &self,
        _dentry_id: &str,
        _open_type: &str,
    ) -> StoreResult<Option<OpenLinkRecord>> {
        Err(not_yet())
    }
}
