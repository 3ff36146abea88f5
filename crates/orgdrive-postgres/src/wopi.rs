//! WOPI (WebOffice): token pairs (hashes only), file locks, and PutFile's
//! commit under a lock (through `dentries::put_dentry_in`).

use async_trait::async_trait;

use orgdrive_store::{
    LockChange, LockOutcome, PutDentry, StoreResult, WopiPut, WopiRotation, WopiStore,
    WopiTokenRecord,
};

use crate::lifecycle::not_yet;
use crate::PgStore;

// PG-B.
#[async_trait]
impl WopiStore for PgStore {
    async fn insert_wopi_tokens(&self, _tokens: &WopiTokenRecord) -> StoreResult<()> {
        Err(not_yet())
    }
    async fn find_wopi_access(
        &self,
        _access_hash: &str,
        _now_ms: i64,
    ) -> StoreResult<Option<WopiTokenRecord>> {
        Err(not_yet())
    }
    async fn rotate_wopi_tokens(
        &self,
        _access_hash: &str,
        _refresh_hash: &str,
        _fresh: &WopiTokenRecord,
        _now_ms: i64,
    ) -> StoreResult<WopiRotation> {
        Err(not_yet())
    }
    async fn purge_expired_wopi(&self, _now_ms: i64) -> StoreResult<u64> {
        Err(not_yet())
    }
    async fn get_wopi_lock(
        &self,
        _space_id: &str,
        _dentry_id: &str,
        _now_ms: i64,
    ) -> StoreResult<Option<String>> {
        Err(not_yet())
    }
    async fn change_wopi_lock(
        &self,
        _space_id: &str,
        _dentry_id: &str,
        _change: &LockChange,
        _now_ms: i64,
        _expires_at: i64,
    ) -> StoreResult<LockOutcome> {
        Err(not_yet())
    }
    async fn discard_wopi_upload(&self, _upload_key: &str) -> StoreResult<Vec<String>> {
        Err(not_yet())
    }
    async fn wopi_put(
        &self,
        _put: &PutDentry,
        _lock_id: Option<&str>,
        _now_ms: i64,
    ) -> StoreResult<WopiPut> {
        Err(not_yet())
    }
}
