//! placeholder

use async_trait::async_trait;
use orgdrive_store::*;

use crate::lifecycle::not_yet;
use crate::PgStore;

#[async_trait]
impl SpaceStore for PgStore {
    async fn insert_space_once(&self, _space: &SpaceRecord) -> StoreResult<(SpaceRecord, bool)> {
        Err(not_yet())
    }
    async fn get_space(&self, _space_id: &str) -> StoreResult<Option<SpaceRecord>> {
        Err(not_yet())
    }
    async fn org_used_bytes(&self, _corp_id: &str) -> StoreResult<i64> {
        Err(not_yet())
    }
    async fn app_used_bytes(&self, _app_id: &str) -> StoreResult<i64> {
        Err(not_yet())
    }
}
