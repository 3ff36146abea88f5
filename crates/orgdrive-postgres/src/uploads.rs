//! placeholder

use async_trait::async_trait;
use orgdrive_store::*;

use crate::lifecycle::not_yet;
use crate::PgStore;

#[async_trait]
impl UploadStore for PgStore {
    async fn insert_upload(
        &self,
        _upload: &UploadRecord,
        _limits: &OpenUploadLimits,
    ) -> StoreResult<()> {
        Err(not_yet())
    }
    async fn get_upload(
        &self,
        _upload_key: &str,
    ) -> StoreResult<Option<(UploadRecord, Vec<UploadPartRecord>)>> {
        Err(not_yet())
    }
    async fn reserve_upload_bytes(
        &self,
        _upload_key: &str,
        _part_number: i64,
        _bytes: Reserve,
        _now_ms: i64,
    ) -> StoreResult<i64> {
        Err(not_yet())
    }
    async fn reset_reservations(&self) -> StoreResult<u64> {
        Err(not_yet())
    }
    async fn release_upload_bytes(&self, _upload_key: &str, _bytes: i64) -> StoreResult<()> {
        Err(not_yet())
    }
    async fn record_upload_part(
        &self,
        _upload_key: &str,
        _part: &UploadPartRecord,
        _reserved: i64,
    ) -> StoreResult<PartRecorded> {
        Err(not_yet())
    }
    async fn take_expired_uploads(
        &self,
        _before_ms: i64,
        _limit: u32,
    ) -> StoreResult<Vec<ExpiredUpload>> {
        Err(not_yet())
    }
}
