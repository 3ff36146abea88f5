//! Asynchronous tasks: the answer of GetTask (reference §3.8).

use orgdrive_core::{iso8601, TaskRecord};
use serde::Serialize;
use utoipa::ToSchema;

use super::vocab::TaskStatus;

/// A task: a move, copy, delete or restore of a folder with children, run
/// after the call that started it answered (`async: true`, `taskId`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    /// `INIT`, `IN_PROGRESS`, `SUCCESS` or `FAIL`.
    #[schema(value_type = TaskStatus)]
    pub status: &'static str,
    pub total_count: i64,
    pub success_count: i64,
    pub fail_count: i64,
    /// Why it failed (a DingTalk error code); only when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_message: Option<String>,
    /// When it started running; absent before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub begin_time: Option<String>,
    /// When it finished; absent before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

impl From<TaskRecord> for Task {
    fn from(t: TaskRecord) -> Task {
        Task {
            id: t.task_id,
            status: t.status.as_str(),
            total_count: t.total_count,
            success_count: t.success_count,
            fail_count: t.fail_count,
            fail_message: t.fail_message.filter(|m| !m.is_empty()),
            begin_time: t.begin_at.map(iso8601),
            end_time: t.end_at.map(iso8601),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GetTaskResponse {
    pub task: Task,
}

#[cfg(test)]
mod tests {
    use orgdrive_core::{TaskOp, TaskStatus};
    use serde_json::json;

    use super::*;

    fn task(status: TaskStatus) -> TaskRecord {
        TaskRecord {
            task_id: "9".into(),
            corp_id: "ding1".into(),
            app_id: "4".into(),
            operator_id: "u1".into(),
            op: TaskOp::Delete {
                space_id: "3".into(),
                dentry_id: "12".into(),
                recycle_item_id: None,
            },
            status,
            total_count: 0,
            success_count: 0,
            fail_count: 0,
            fail_message: None,
            attempts: 0,
            created_at: 0,
            begin_at: None,
            end_at: None,
        }
    }

    #[test]
    fn times_and_failure_only_when_known() {
        assert_eq!(
            serde_json::to_value(Task::from(task(TaskStatus::Init))).unwrap(),
            json!({"id": "9", "status": "INIT", "totalCount": 0, "successCount": 0,
                   "failCount": 0})
        );
        let failed = TaskRecord {
            total_count: 3,
            success_count: 2,
            fail_count: 1,
            fail_message: Some("permissionDenied".into()),
            begin_at: Some(1_700_000_000_000),
            end_at: Some(1_700_000_001_000),
            ..task(TaskStatus::Fail)
        };
        assert_eq!(
            serde_json::to_value(Task::from(failed)).unwrap(),
            json!({"id": "9", "status": "FAIL", "totalCount": 3, "successCount": 2,
                   "failCount": 1, "failMessage": "permissionDenied",
                   "beginTime": "2023-11-14T22:13:20Z", "endTime": "2023-11-14T22:13:21Z"})
        );
    }
}
