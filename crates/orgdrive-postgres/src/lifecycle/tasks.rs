//! Persisted asynchronous operations.

use async_trait::async_trait;

use orgdrive_store::{Lease, StoreResult, TaskRecord, TaskStore};

use super::not_yet;
use crate::PgStore;

// PG-B.
#[async_trait]
impl TaskStore for PgStore {
    async fn insert_task(&self, _task: &TaskRecord, _max_unfinished: u32) -> StoreResult<()> {
        Err(not_yet())
    }
    async fn get_task(&self, _task_id: &str) -> StoreResult<Option<TaskRecord>> {
        Err(not_yet())
    }
    async fn start_task(&self, _task_id: &str, _lease: &Lease) -> StoreResult<Option<TaskRecord>> {
        Err(not_yet())
    }
    async fn fail_task(&self, _task_id: &str, _message: &str, _now_ms: i64) -> StoreResult<()> {
        Err(not_yet())
    }
    async fn unfinished_tasks(&self, _at: Option<i64>) -> StoreResult<Vec<TaskRecord>> {
        Err(not_yet())
    }
    async fn purge_finished_tasks(&self, _before_ms: i64) -> StoreResult<u64> {
        Err(not_yet())
    }
}
