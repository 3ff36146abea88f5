//! Persisted asynchronous operations: their rows, their claims, their
//! progress, and their completion inside the transaction of the change
//! they run.
//!
//! # Concurrency
//!
//! A change that runs a task (a move, copy, delete or restore naming it)
//! locks the task's row `FOR UPDATE` at its start ([`lock_task`]) and fails
//! with `NotFound` if the task is unknown or finished; it sets the task
//! `SUCCESS` before it commits ([`complete_task`]). Two nodes running one
//! task therefore change the tree once: the second waits for the first's
//! row lock, then sees the task finished and changes nothing. Claims
//! (`start_task`) are one conditional `UPDATE`: the row lock makes racing
//! claims apply one after the other, and only one passes the condition.
//! The cap on an app's unfinished tasks is counted under a transaction-scoped
//! advisory lock of the app, so racing inserts count one after the other.

use async_trait::async_trait;
use tokio_postgres::Row;

use orgdrive_store::{
    task_columns, Lease, StoreError, StoreResult, TaskOpColumns, TaskRecord, TaskStatus, TaskStore,
};

use super::refuse;
use crate::{all, exec, one, DbResult, PgStore};

/// The first key of the advisory locks counting an app's unfinished tasks
/// ("orgt" in ASCII; the second key is the app id's hash).
const TASK_CAP_LOCK: i32 = 0x6f72_6774;

/// Locks the task a change runs (if it names one) `FOR UPDATE`, first
/// thing in the change's transaction: `NotFound` unless it is unfinished.
/// A concurrent run of the same task waits here, then finds it finished.
pub(crate) async fn lock_task<C: deadpool_postgres::GenericClient>(
    t: &C,
    task_id: Option<&str>,
) -> DbResult<()> {
    let Some(task_id) = task_id else { return Ok(()) };
    let row = one(t, "SELECT status FROM tasks WHERE task_id = $1 FOR UPDATE", &[&task_id]).await?;
    let unfinished = match row {
        Some(row) => {
            let status: String = row.try_get(0)?;
            TaskStatus::parse(&status).is_some_and(|s| !s.finished())
        }
        None => false,
    };
    if !unfinished {
        return refuse(StoreError::NotFound);
    }
    Ok(())
}

/// Sets the unfinished task (locked by [`lock_task`]) to `SUCCESS` with
/// `entries` done, in the transaction of the change that did them.
pub(crate) async fn complete_task<C: deadpool_postgres::GenericClient>(
    t: &C,
    task_id: Option<&str>,
    entries: i64,
    now_ms: i64,
) -> DbResult<()> {
    let Some(task_id) = task_id else { return Ok(()) };
    let done = exec(
        t,
        "UPDATE tasks SET status = 'SUCCESS', total_count = $1, success_count = $1, \
         fail_count = 0, end_at = $2 \
         WHERE task_id = $3 AND status IN ('INIT', 'IN_PROGRESS')",
        &[&entries, &now_ms, &task_id],
    )
    .await?;
    if done == 0 {
        return refuse(StoreError::NotFound);
    }
    Ok(())
}

fn task_from_row(row: &Row) -> DbResult<TaskRecord> {
    let op = TaskOpColumns {
        op: row.try_get(4)?,
        space_id: row.try_get(5)?,
        dentry_id: row.try_get(6)?,
        target_space_id: row.try_get(7)?,
        target_parent_id: row.try_get(8)?,
        conflict: row.try_get(9)?,
        new_dentry_id: row.try_get(10)?,
        new_uuid: row.try_get(11)?,
        recycle_item_id: row.try_get(12)?,
        keep_grants: row.try_get(22)?,
        protect_owner_grants: row.try_get(23)?,
    }
    .into_op()?;
    let status: String = row.try_get(13)?;
    let status = TaskStatus::parse(&status)
        .ok_or_else(|| StoreError::Backend(format!("unknown task status {status:?}")))?;
    Ok(TaskRecord {
        task_id: row.try_get(0)?,
        corp_id: row.try_get(1)?,
        app_id: row.try_get(2)?,
        operator_id: row.try_get(3)?,
        op,
        status,
        total_count: row.try_get(14)?,
        success_count: row.try_get(15)?,
        fail_count: row.try_get(16)?,
        fail_message: row.try_get(17)?,
        attempts: row.try_get(18)?,
        created_at: row.try_get(19)?,
        begin_at: row.try_get(20)?,
        end_at: row.try_get(21)?,
    })
}

#[async_trait]
impl TaskStore for PgStore {
    async fn insert_task(&self, task: &TaskRecord, max_unfinished: u32) -> StoreResult<()> {
        crate::tx!(self, |t| {
            // A transaction-scoped advisory lock per app serialises racing
            // inserts of its tasks (each counts after the previous one
            // committed); the app need not be a row of `apps`.
            exec(
                &t,
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&TASK_CAP_LOCK, &task.app_id],
            )
            .await?;
            let unfinished: i64 = one(
                &t,
                "SELECT COUNT(*) FROM tasks WHERE app_id = $1 \
                 AND status IN ('INIT', 'IN_PROGRESS')",
                &[&task.app_id],
            )
            .await?
            .map_or(Ok(0), |r| r.try_get(0))?;
            if unfinished >= i64::from(max_unfinished) {
                return refuse(StoreError::TooManyTasks);
            }
            let op = TaskOpColumns::of(&task.op);
            exec(
                &t,
                concat!(
                    "INSERT INTO tasks (",
                    task_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
                     $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
                ),
                &[
                    &task.task_id,
                    &task.corp_id,
                    &task.app_id,
                    &task.operator_id,
                    &op.op,
                    &op.space_id,
                    &op.dentry_id,
                    &op.target_space_id,
                    &op.target_parent_id,
                    &op.conflict,
                    &op.new_dentry_id,
                    &op.new_uuid,
                    &op.recycle_item_id,
                    &task.status.as_str(),
                    &task.total_count,
                    &task.success_count,
                    &task.fail_count,
                    &task.fail_message,
                    &task.attempts,
                    &task.created_at,
                    &task.begin_at,
                    &task.end_at,
                    &op.keep_grants,
                    &op.protect_owner_grants,
                ],
            )
            .await?;
        })
    }

    async fn get_task(&self, task_id: &str) -> StoreResult<Option<TaskRecord>> {
        const SQL: &str = concat!("SELECT ", task_columns!(), " FROM tasks WHERE task_id = $1");
        crate::read!(self, |c| one(&c, SQL, &[&task_id])
            .await?
            .as_ref()
            .map(task_from_row)
            .transpose()?)
    }

    async fn start_task(&self, task_id: &str, lease: &Lease) -> StoreResult<Option<TaskRecord>> {
        const SQL: &str = concat!(
            "UPDATE tasks SET status = 'IN_PROGRESS', attempts = attempts + 1, \
             begin_at = COALESCE(begin_at, $2), lease_node = $3, lease_until = $4 \
             WHERE task_id = $1 AND status IN ('INIT', 'IN_PROGRESS') \
             AND ($5 OR lease_until IS NULL OR lease_until <= $2 OR lease_node = $3) \
             RETURNING ",
            task_columns!()
        );
        crate::tx!(self, |t| {
            one(&t, SQL, &[&task_id, &lease.now_ms, &lease.node, &lease.until_ms, &lease.steal])
                .await?
                .as_ref()
                .map(task_from_row)
                .transpose()?
        })
    }

    async fn fail_task(&self, task_id: &str, message: &str, now_ms: i64) -> StoreResult<()> {
        crate::tx!(self, |t| {
            exec(
                &t,
                "UPDATE tasks SET status = 'FAIL', fail_count = GREATEST(total_count, 1), \
                 success_count = 0, fail_message = $2, end_at = $3 \
                 WHERE task_id = $1 AND status IN ('INIT', 'IN_PROGRESS')",
                &[&task_id, &message, &now_ms],
            )
            .await?;
        })
    }

    async fn unfinished_tasks(
        &self,
        claims_expired_at: Option<i64>,
    ) -> StoreResult<Vec<TaskRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            task_columns!(),
            " FROM tasks WHERE status IN ('INIT', 'IN_PROGRESS') \
             AND ($1::BIGINT IS NULL OR lease_until IS NULL OR lease_until <= $1) \
             ORDER BY created_at, task_id"
        );
        crate::read!(self, |c| {
            all(&c, SQL, &[&claims_expired_at])
                .await?
                .iter()
                .map(task_from_row)
                .collect::<DbResult<Vec<_>>>()?
        })
    }

    async fn purge_finished_tasks(&self, before_ms: i64) -> StoreResult<u64> {
        crate::tx!(self, |t| {
            exec(
                &t,
                "DELETE FROM tasks WHERE end_at < $1 AND status IN ('SUCCESS', 'FAIL')",
                &[&before_ms],
            )
            .await?
        })
    }
}
