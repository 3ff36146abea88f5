//! SQLite: persisted tasks — their rows, their progress, and their
//! completion inside the transaction of the change they run.

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{params, Connection, Row};

use crate::*;
use orgdrive_store::{task_columns, Lease, TaskOpColumns, TaskRecord, TaskStatus, TaskStore};

/// Sets the unfinished task to `SUCCESS` with `entries` done, in the
/// transaction of the change that did them. A task that is unknown or
/// already finished fails the change with `NotFound`: a task's change
/// happens once, in the transaction that finishes it.
pub(super) fn complete_task(
    conn: &Connection,
    task_id: Option<&str>,
    entries: i64,
    now_ms: i64,
) -> StoreResult<()> {
    let Some(task_id) = task_id else { return Ok(()) };
    let done = exec(
        conn,
        "UPDATE tasks SET status = 'SUCCESS', total_count = ?1, success_count = ?1, \
         fail_count = 0, end_at = ?2 \
         WHERE task_id = ?3 AND status IN ('INIT', 'IN_PROGRESS')",
        params![entries, now_ms, task_id],
    )
    .map_err(backend)?;
    if done == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

fn task_from_row(row: &Row) -> rusqlite::Result<TaskRecord> {
    let op = TaskOpColumns {
        op: row.get(4)?,
        space_id: row.get(5)?,
        dentry_id: row.get(6)?,
        target_space_id: row.get(7)?,
        target_parent_id: row.get(8)?,
        conflict: row.get(9)?,
        new_dentry_id: row.get(10)?,
        new_uuid: row.get(11)?,
        recycle_item_id: row.get(12)?,
        keep_grants: row.get(22)?,
        protect_owner_grants: row.get(23)?,
    }
    .into_op()
    .map_err(|e| rusqlite::Error::FromSqlConversionFailure(4, Type::Text, Box::new(e)))?;
    let status: String = row.get(13)?;
    let status = TaskStatus::parse(&status).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(13, Type::Text, "unknown task status".into())
    })?;
    Ok(TaskRecord {
        task_id: row.get(0)?,
        corp_id: row.get(1)?,
        app_id: row.get(2)?,
        operator_id: row.get(3)?,
        op,
        status,
        total_count: row.get(14)?,
        success_count: row.get(15)?,
        fail_count: row.get(16)?,
        fail_message: row.get(17)?,
        attempts: row.get(18)?,
        created_at: row.get(19)?,
        begin_at: row.get(20)?,
        end_at: row.get(21)?,
    })
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn insert_task(&self, task: &TaskRecord, max_unfinished: u32) -> StoreResult<()> {
        let task = task.clone();
        self.write(move |conn| {
            let unfinished: i64 = one(
                conn,
                "SELECT COUNT(*) FROM tasks WHERE app_id = ?1 \
                 AND status IN ('INIT', 'IN_PROGRESS')",
                [&task.app_id],
                |r| r.get(0),
            )?
            .unwrap_or(0);
            if unfinished >= i64::from(max_unfinished) {
                return Err(StoreError::TooManyTasks);
            }
            let op = TaskOpColumns::of(&task.op);
            exec(
                conn,
                concat!(
                    "INSERT INTO tasks (",
                    task_columns!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
                     ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)"
                ),
                params![
                    task.task_id,
                    task.corp_id,
                    task.app_id,
                    task.operator_id,
                    op.op,
                    op.space_id,
                    op.dentry_id,
                    op.target_space_id,
                    op.target_parent_id,
                    op.conflict,
                    op.new_dentry_id,
                    op.new_uuid,
                    op.recycle_item_id,
                    task.status.as_str(),
                    task.total_count,
                    task.success_count,
                    task.fail_count,
                    task.fail_message,
                    task.attempts,
                    task.created_at,
                    task.begin_at,
                    task.end_at,
                    op.keep_grants,
                    op.protect_owner_grants,
                ],
            )
            .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn get_task(&self, task_id: &str) -> StoreResult<Option<TaskRecord>> {
        const SQL: &str = concat!("SELECT ", task_columns!(), " FROM tasks WHERE task_id = ?1");
        self.read(|conn| one(conn, SQL, [task_id], task_from_row))
    }

    async fn start_task(&self, task_id: &str, lease: &Lease) -> StoreResult<Option<TaskRecord>> {
        let (task_id, lease) = (task_id.to_string(), *lease);
        self.write(move |conn| {
            one(
                conn,
                concat!(
                    "UPDATE tasks SET status = 'IN_PROGRESS', attempts = attempts + 1, \
                     begin_at = COALESCE(begin_at, ?2), lease_node = ?3, lease_until = ?4 \
                     WHERE task_id = ?1 AND status IN ('INIT', 'IN_PROGRESS') \
                     AND (?5 OR lease_until IS NULL OR lease_until <= ?2 OR lease_node = ?3) \
                     RETURNING ",
                    task_columns!()
                ),
                params![task_id, lease.now_ms, lease.node, lease.until_ms, lease.steal],
                task_from_row,
            )
        })
        .await
    }

    async fn fail_task(&self, task_id: &str, message: &str, now_ms: i64) -> StoreResult<()> {
        let (task_id, message) = (task_id.to_string(), message.to_string());
        self.write(move |conn| {
            exec(
                conn,
                "UPDATE tasks SET status = 'FAIL', fail_count = MAX(total_count, 1), \
                 success_count = 0, fail_message = ?2, end_at = ?3 \
                 WHERE task_id = ?1 AND status IN ('INIT', 'IN_PROGRESS')",
                params![task_id, message, now_ms],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn unfinished_tasks(
        &self,
        claims_expired_at: Option<i64>,
    ) -> StoreResult<Vec<TaskRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks WHERE status IN ('INIT', 'IN_PROGRESS') \
             AND (?1 IS NULL OR lease_until IS NULL OR lease_until <= ?1) \
             ORDER BY created_at, task_id"
        );
        self.read_blocking(move |conn| all(conn, SQL, [claims_expired_at], task_from_row)).await
    }

    async fn purge_finished_tasks(&self, before_ms: i64) -> StoreResult<u64> {
        self.write(move |conn| {
            exec(
                conn,
                "DELETE FROM tasks WHERE end_at < ?1 AND status IN ('SUCCESS', 'FAIL')",
                [before_ms],
            )
            .map_err(backend)
        })
        .await
    }
}
