//! Persisted asynchronous tasks: submitting one, running it, GetTask, and
//! resuming what an earlier process left unfinished.
//!
//! A task is written (`INIT`) before its id is answered, then run on this
//! node: `IN_PROGRESS`, then the change's one transaction, which also marks
//! the task `SUCCESS`. So a task that is not finished has changed nothing,
//! and a server that starts runs every unfinished task again (after
//! [`MAX_TASK_ATTEMPTS`] starts it ends `FAIL` instead). Tasks run one at a
//! time per node: the store serialises writes anyway, and a queue keeps a
//! burst of large copies from holding memory at once.

use std::sync::Arc;

use orgdrive_store::{Actor, DentryRecord, Lease, StoreError, TaskOp, TaskRecord};

use crate::lifecycle::{new_task, MovedGrants, Relocate};
use crate::{now_ms, ConflictStrategy, Drive, DriveError, DriveResult, Operator};

/// How long after a task ended GetTask drops the spaces it changed from the
/// read cache: more than the cache's `SPACE_TTL`, with room for clock skew
/// between nodes.
const TASK_JUST_ENDED_MS: i64 = 10_000;

/// Starts after which an interrupted task ends `FAIL` instead of running again.
pub const MAX_TASK_ATTEMPTS: i64 = 3;
/// Most unfinished tasks an app may have at once (more: `TooManyTasks`), so
/// that one app cannot queue unbounded work ahead of every other app's.
pub const MAX_UNFINISHED_TASKS_PER_APP: u32 = 64;
/// How long a finished task stays readable through GetTask.
pub const TASK_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

/// How long a node's claim on a task it started lasts, by default
/// ([`crate::DriveOptions::task_claim_ms`]). Another node takes
/// the task over once it expires (the sweeper looks for such tasks); if the
/// first node was only slow, the task's change still happens once.
pub const TASK_CLAIM_MS: i64 = 60_000;

/// Which unfinished tasks [`Drive::resume_tasks`] runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// Every one, whoever claimed it: for a server that is its store's only
    /// user, starting after a crash (the embedded default).
    All,
    /// Those no node claims any more (never started, or their node's claim
    /// expired): for nodes sharing a store.
    Abandoned,
}

/// Lets one task run at a time on this node.
#[derive(Default)]
pub(crate) struct TaskQueue(tokio::sync::Mutex<()>);

impl Drive {
    /// Persists a task for `op` changing `source`'s subtree and starts it
    /// in the background; answers its id.
    pub(crate) async fn submit_task(
        &self,
        op: &Operator,
        task_op: TaskOp,
        source: &DentryRecord,
    ) -> DriveResult<String> {
        let total = self.meta.subtree_size(&source.space_id, &source.dentry_id).await?;
        let task = new_task(self, op, task_op, total);
        self.start_new_task(&task).await?;
        Ok(task.task_id)
    }

    /// Persists a new task (within its app's cap) and starts it in the background.
    pub(crate) async fn start_new_task(&self, task: &TaskRecord) -> DriveResult<()> {
        self.meta.insert_task(task, MAX_UNFINISHED_TASKS_PER_APP).await.map_err(|e| match e {
            StoreError::TooManyTasks => DriveError::TooManyTasks(format!(
                "the app has {MAX_UNFINISHED_TASKS_PER_APP} unfinished tasks; wait for some to finish"
            )),
            other => other.into(),
        })?;
        self.spawn_task(task.task_id.clone());
        Ok(())
    }

    /// Runs the task in the background.
    pub(crate) fn spawn_task(&self, task_id: String) {
        self.spawn_claimed_task(task_id, false);
    }

    fn spawn_claimed_task(&self, task_id: String, steal: bool) {
        let drive = self.clone();
        tokio::spawn(async move {
            let queue = Arc::clone(&drive.tasks);
            let _turn = queue.0.lock().await;
            if let Err(e) = drive.run_claimed_task(&task_id, steal).await {
                tracing::warn!(%task_id, error = %e, "task not run; it is resumed later");
            }
        });
    }

    /// Claims the task for this node (taking it from another node's
    /// unexpired claim only with `steal`) and runs its change; a refused
    /// change ends it `FAIL`.
    async fn run_claimed_task(&self, task_id: &str, steal: bool) -> DriveResult<()> {
        let now = now_ms();
        let lease = Lease {
            node: self.node,
            now_ms: now,
            until_ms: now + self.options().task_claim_ms,
            steal,
        };
        let Some(task) = self.meta.start_task(task_id, &lease).await? else {
            return Ok(()); // finished meanwhile, or another node runs it
        };
        if task.attempts > MAX_TASK_ATTEMPTS {
            let message = "the task was interrupted too many times";
            self.meta.fail_task(task_id, message, now_ms()).await?;
            return Ok(());
        }
        if let Err(refused) = self.run_task_op(&task).await {
            let message = match refused {
                DriveError::Internal(e) => {
                    tracing::error!(%task_id, error = %e, "task failed");
                    "internal error".to_string()
                }
                refused => refused.to_string(),
            };
            self.meta.fail_task(task_id, &message, now_ms()).await?;
        }
        Ok(())
    }

    async fn run_task_op(&self, task: &TaskRecord) -> DriveResult<()> {
        let actor = Actor {
            union_id: task.operator_id.clone(),
            corp_id: task.corp_id.clone(),
            now_ms: now_ms(),
        };
        let task_id = Some(task.task_id.clone());
        match &task.op {
            TaskOp::Move {
                space_id,
                dentry_id,
                target_space_id,
                target_parent_id,
                conflict,
                keep_grants,
                protect_owner_grants,
            } => {
                let source = self.live_dentry(space_id, dentry_id, "dentryId").await?;
                let strategy = ConflictStrategy::parse(Some(conflict))?;
                self.run_relocation(
                    Relocate::Move,
                    &actor,
                    &source,
                    target_space_id,
                    target_parent_id,
                    strategy,
                    MovedGrants { keep: *keep_grants, protect_owner: *protect_owner_grants },
                    task_id,
                    None,
                )
                .await?;
            }
            TaskOp::Copy {
                space_id,
                dentry_id,
                target_space_id,
                target_parent_id,
                conflict,
                new_dentry_id,
                new_uuid,
            } => {
                let source = self.live_dentry(space_id, dentry_id, "dentryId").await?;
                let strategy = ConflictStrategy::parse(Some(conflict))?;
                self.run_relocation(
                    Relocate::Copy,
                    &actor,
                    &source,
                    target_space_id,
                    target_parent_id,
                    strategy,
                    MovedGrants::default(),
                    task_id,
                    Some((new_dentry_id.clone(), new_uuid.clone())),
                )
                .await?;
            }
            TaskOp::Delete { space_id, dentry_id, recycle_item_id } => {
                let source = self.live_dentry(space_id, dentry_id, "dentryId").await?;
                self.run_delete(&actor, &source, recycle_item_id.clone(), task_id).await?;
            }
            TaskOp::Restore { recycle_item_id, conflict } => {
                let strategy = ConflictStrategy::parse(Some(conflict))?;
                let task_id = task.task_id.clone();
                self.run_restore_task(&actor, recycle_item_id, strategy, task_id).await?;
            }
        }
        Ok(())
    }

    /// GetTask: a task of the caller's app.
    pub async fn get_task(&self, op: &Operator, task_id: &str) -> DriveResult<TaskRecord> {
        match self.meta.get_task(task_id).await? {
            Some(task) if task.corp_id == op.app.corp_id && task.app_id == op.app.app_id => {
                let just_ended = task.end_at.is_some_and(|end| now_ms() - end < TASK_JUST_ENDED_MS);
                if just_ended {
                    // The task's change committed a moment before this node
                    // dropped its spaces (or on another node): whoever saw
                    // it finished sees its byte counts too. (Only just after
                    // the end: polling an old task must not empty the cache.)
                    self.forget_task_spaces(&task.op);
                }
                Ok(task)
            }
            _ => Err(DriveError::not_found("taskId", format!("task {task_id} does not exist"))),
        }
    }

    /// Drops the cached spaces whose counters the task changed.
    ///
    /// After [`TASK_JUST_ENDED_MS`] every cached space was read after the
    /// task ended (the space cache's TTL is shorter).
    fn forget_task_spaces(&self, op: &TaskOp) {
        match op {
            TaskOp::Move { space_id, target_space_id, .. }
            | TaskOp::Copy { space_id, target_space_id, .. } => {
                self.forget_space(space_id);
                self.forget_space(target_space_id);
            }
            TaskOp::Delete { space_id, .. } => self.forget_space(space_id),
            // The item's space is not in the task: drop them all.
            TaskOp::Restore { .. } => self.cache.forget_spaces(),
        }
    }

    /// Runs again the unfinished tasks that `takeover` names; returns how
    /// many were started.
    pub async fn resume_tasks(&self, takeover: Takeover) -> DriveResult<usize> {
        let (claims_expired_at, steal) = match takeover {
            Takeover::All => (None, true),
            Takeover::Abandoned => (Some(now_ms()), false),
        };
        let unfinished = self.meta.unfinished_tasks(claims_expired_at).await?;
        for task in &unfinished {
            self.spawn_claimed_task(task.task_id.clone(), steal);
        }
        Ok(unfinished.len())
    }

    /// Forgets tasks that finished longer ago than the retention period.
    pub(crate) async fn purge_old_tasks(&self) -> DriveResult<u64> {
        Ok(self.meta.purge_finished_tasks(now_ms() - TASK_RETENTION_MS).await?)
    }
}
