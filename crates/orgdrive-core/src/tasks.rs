//! Persisted asynchronous tasks: GetTask, the runner, and resuming after a restart.

use orgdrive_store::TaskRecord;

use crate::{Drive, DriveResult, Operator};

impl Drive {
    /// GetTask: a task of the caller's app.
    pub async fn get_task(&self, op: &Operator, task_id: &str) -> DriveResult<TaskRecord> {
        let _ = (op, task_id);
        todo!()
    }

    /// Runs again every task an earlier process left unfinished; for a
    /// server starting on its stores. Returns how many were resumed.
    pub async fn resume_tasks(&self) -> DriveResult<usize> {
        todo!()
    }
}
