//! Group commit: one task owns the SQLite write connection and runs write
//! jobs in batches — one `BEGIN IMMEDIATE … COMMIT` (so one fsync) for every
//! job queued meanwhile, each job inside its own savepoint. A job that fails
//! is rolled back to its savepoint without touching the others; every job is
//! answered only after the batch's COMMIT returned, so an acknowledged write
//! is durable. If the COMMIT itself fails, every job of the batch fails.

use std::panic::AssertUnwindSafe;

use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::{Connection, Executor, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use orgdrive_store::{StoreError, StoreResult};

/// Most jobs in one transaction.
const MAX_BATCH: usize = 256;
/// Jobs waiting for the writer before callers wait to enqueue.
const QUEUE: usize = 4096;

/// A type-erased job: runs on the connection, then is told how the batch ended.
trait Job: Send {
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, bool>;
    fn finish(self: Box<Self>, batch: StoreResult<()>);
}

struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, StoreResult<T>> + Send + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, bool> {
        Box::pin(async move {
            let Some(work) = self.work.take() else { return false };
            let result = work(conn).await;
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn finish(self: Box<Self>, batch: StoreResult<()>) {
        let answer = match (self.result, batch) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(e),
            (None, Ok(())) => Err(StoreError::Backend("write job did not run".into())),
        };
        let _ = self.reply.send(answer);
    }
}

enum Message {
    Job(Box<dyn Job>),
    Close(oneshot::Sender<()>),
}

/// Handle to the writer task.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Message>,
}

fn stopped() -> StoreError {
    StoreError::Backend("the metadata writer has stopped".into())
}

impl Writer {
    /// Starts the writer task over `conn`.
    pub(crate) fn spawn(conn: SqliteConnection) -> Writer {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run_batches(conn, jobs));
        Writer { queue }
    }

    /// Runs `work` in the next batch; resolves once that batch is committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, StoreResult<T>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = TypedJob { work: Some(work), result: None, reply };
        self.queue.send(Message::Job(Box::new(job))).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Finishes queued jobs, then closes the connection.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

async fn run_batches(mut conn: SqliteConnection, mut queue: mpsc::Receiver<Message>) {
    let mut closing = None;
    while closing.is_none() {
        let mut batch: Vec<Box<dyn Job>> = Vec::new();
        match queue.recv().await {
            None => break,
            Some(Message::Close(done)) => closing = Some(done),
            Some(Message::Job(job)) => batch.push(job),
        }
        while batch.len() < MAX_BATCH && closing.is_none() {
            match queue.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            run_batch(&mut conn, batch).await;
        }
    }
    // Fold the WAL into the database (with its fsync) before going: a clean
    // stop leaves nothing only the WAL holds, whatever the durability.
    if let Err(e) = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await {
        tracing::debug!(error = %e, "checkpoint at close failed");
    }
    let _ = conn.close().await;
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

async fn run_batch(conn: &mut SqliteConnection, mut batch: Vec<Box<dyn Job>>) {
    let outcome = async {
        conn.execute("BEGIN IMMEDIATE").await?;
        for job in batch.iter_mut() {
            conn.execute("SAVEPOINT job").await?;
            // A panicking job fails alone (its caller sees an error); the writer lives on.
            let ran = AssertUnwindSafe(job.run(conn)).catch_unwind().await;
            if ran.unwrap_or(false) {
                conn.execute("RELEASE job").await?;
            } else {
                conn.execute("ROLLBACK TO job").await?;
                conn.execute("RELEASE job").await?;
            }
        }
        conn.execute("COMMIT").await?;
        Ok::<_, sqlx::Error>(())
    }
    .await;
    let outcome = match outcome {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = conn.execute("ROLLBACK").await;
            tracing::error!(error = %e, jobs = batch.len(), "write batch failed");
            Err(StoreError::Backend(e.to_string()))
        }
    };
    for job in batch {
        job.finish(outcome.clone());
    }
}
