//! placeholder

use async_trait::async_trait;
use orgdrive_store::*;

use crate::lifecycle::not_yet;
use crate::PgStore;

#[async_trait]
impl MaintenanceStore for PgStore {
    async fn register_node(&self, _now_ms: i64) -> StoreResult<i64> {
        Err(not_yet())
    }
    async fn consistency_scan(&self) -> StoreResult<ConsistencyScan> {
        Err(not_yet())
    }
    async fn repair_usage(&self) -> StoreResult<u64> {
        Err(not_yet())
    }
    async fn lease_job(&self, _name: &str, _lease: &Lease) -> StoreResult<bool> {
        Err(not_yet())
    }
    async fn release_job(&self, _name: &str, _node: i64) -> StoreResult<()> {
        Err(not_yet())
    }
    async fn trashed_objects(&self, _limit: u32) -> StoreResult<Vec<String>> {
        Err(not_yet())
    }
    async fn forget_trash(&self, _objects: &[String]) -> StoreResult<()> {
        Err(not_yet())
    }
    async fn close(&self) {
        self.close_pool()
    }
}
