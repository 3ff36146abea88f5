//! SQLite: persisted tasks — their rows, their progress, and their
//! completion inside the transaction of the change they run.

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{params, Connection, Row};

use crate::*;
use orgdrive_store::{Lease, TaskOp, TaskRecord, TaskStatus, TaskStore};

macro_rules! task_columns {
    () => {
        "task_id, corp_id, app_id, operator_id, op, space_id, dentry_id, target_space_id, \
         target_parent_id, conflict, new_dentry_id, new_uuid, recycle_item_id, status, \
         total_count, success_count, fail_count, fail_message, attempts, created_at, begin_at, \
         end_at, keep_grants, protect_owner_grants"
    };
}

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

/// A column the task's op needs.
fn needed(row: &Row, at: usize) -> rusqlite::Result<String> {
    row.get::<_, Option<String>>(at)?.ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(at, Type::Null, "the task's op needs it".into())
    })
}

fn task_from_row(row: &Row) -> rusqlite::Result<TaskRecord> {
    let op: String = row.get(4)?;
    let op = match op.as_str() {
        "MOVE" => TaskOp::Move {
            space_id: needed(row, 5)?,
            dentry_id: needed(row, 6)?,
            target_space_id: needed(row, 7)?,
            target_parent_id: needed(row, 8)?,
            conflict: needed(row, 9)?,
            keep_grants: row.get(22)?,
            protect_owner_grants: row.get(23)?,
        },
        "COPY" => TaskOp::Copy {
            space_id: needed(row, 5)?,
            dentry_id: needed(row, 6)?,
            target_space_id: needed(row, 7)?,
            target_parent_id: needed(row, 8)?,
            conflict: needed(row, 9)?,
            new_dentry_id: needed(row, 10)?,
            new_uuid: needed(row, 11)?,
        },
        "DELETE" => TaskOp::Delete {
            space_id: needed(row, 5)?,
            dentry_id: needed(row, 6)?,
            recycle_item_id: row.get(12)?,
        },
        _ => TaskOp::Restore { recycle_item_id: needed(row, 12)?, conflict: needed(row, 9)? },
    };
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

/// The op's columns: (op, space_id, dentry_id, target_space_id,
/// target_parent_id, conflict, new_dentry_id, new_uuid, recycle_item_id).
type OpColumns<'a> = (
    &'static str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

fn op_columns(op: &TaskOp) -> OpColumns<'_> {
    match op {
        TaskOp::Move {
            space_id, dentry_id, target_space_id, target_parent_id, conflict, ..
        } => (
            "MOVE",
            Some(space_id),
            Some(dentry_id),
            Some(target_space_id),
            Some(target_parent_id),
            Some(conflict),
            None,
            None,
            None,
        ),
        TaskOp::Copy {
            space_id,
            dentry_id,
            target_space_id,
            target_parent_id,
            conflict,
            new_dentry_id,
            new_uuid,
        } => (
            "COPY",
            Some(space_id),
            Some(dentry_id),
            Some(target_space_id),
            Some(target_parent_id),
            Some(conflict),
            Some(new_dentry_id),
            Some(new_uuid),
            None,
        ),
        TaskOp::Delete { space_id, dentry_id, recycle_item_id } => (
            "DELETE",
            Some(space_id),
            Some(dentry_id),
            None,
            None,
            None,
            None,
            None,
            recycle_item_id.as_deref(),
        ),
        TaskOp::Restore { recycle_item_id, conflict } => {
            ("RESTORE", None, None, None, None, Some(conflict), None, None, Some(recycle_item_id))
        }
    }
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
            let (op, space, dentry, target_space, target_parent, conflict, new_id, new_uuid, item) =
                op_columns(&task.op);
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
                    op,
                    space,
                    dentry,
                    target_space,
                    target_parent,
                    conflict,
                    new_id,
                    new_uuid,
                    item,
                    task.status.as_str(),
                    task.total_count,
                    task.success_count,
                    task.fail_count,
                    task.fail_message,
                    task.attempts,
                    task.created_at,
                    task.begin_at,
                    task.end_at,
                    matches!(task.op, TaskOp::Move { keep_grants: true, .. }),
                    matches!(task.op, TaskOp::Move { protect_owner_grants: true, .. }),
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
