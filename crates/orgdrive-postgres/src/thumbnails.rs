//! placeholder

use async_trait::async_trait;
use orgdrive_store::*;

use crate::lifecycle::not_yet;
use crate::PgStore;

#[async_trait]
impl ThumbnailStore for PgStore {
    async fn get_thumbnails(&self, _blob_keys: &[String]) -> StoreResult<Vec<ThumbnailRecord>> {
        Err(not_yet())
    }
    async fn put_thumbnail(&self, _thumbnail: &ThumbnailRecord) -> StoreResult<bool> {
        Err(not_yet())
    }
}
