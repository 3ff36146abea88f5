//! Group commit: one thread owns the SQLite write connection and runs write
//! jobs in batches — one `BEGIN IMMEDIATE … COMMIT` (so one fsync) for every
//! job queued meanwhile. A job is a closure that runs all its statements
//! synchronously on that thread, so a statement costs no hop between
//! threads. A job that fails (or panics) leaves the others untouched; every
//! job is answered only after the batch's COMMIT returned, so an
//! acknowledged write is durable. If the COMMIT itself fails, every job of
//! the batch fails: as not written when the transaction is still open (it
//! is then rolled back), else as of unknown outcome (`OutcomeUnknown`: the
//! failure, an I/O error writing or syncing the WAL, came after SQLite
//! began writing the commit, whose frames a later open's recovery may find
//! whole).
//!
//! Failed jobs without savepoints: a savepoint per job would copy every page
//! the job touches into SQLite's sub-journal (a page touched by each job of
//! the batch, such as an index's right edge, once per job). So a batch first
//! runs its jobs one after the other in the bare transaction. A job that
//! fails having changed no row (`total_changes` did not move: most failures
//! are refusals found before any write, and SQLite undoes a failed statement
//! itself) needs nothing undone. Only a failed job that did change rows
//! makes the writer roll the whole transaction back and run the batch again,
//! each job in its own savepoint, rolled back to it if the job fails. Jobs
//! are therefore `Fn` and touch nothing but the connection: running one
//! twice, the first run rolled back, is running it once. A job whose error
//! made SQLite roll back the whole transaction itself (I/O error, full
//! disk) fails the whole batch, in either pass.
//!
//! Durability per job: a batch made only of jobs marked deferred commits with
//! `synchronous=NORMAL` (no fsync); a batch with any other job commits with
//! the store's setting (`FULL` when durable). In WAL mode the next `FULL`
//! commit's fsync covers the frames of earlier `NORMAL` commits too.
//!
//! Checkpoints run beside the writer, not in its COMMITs: SQLite's automatic
//! checkpoint would copy the WAL into the database (and fsync it) inside the
//! COMMIT that crossed its threshold, with every queued write waiting. Here
//! the writer only counts the WAL's frames (`wal_hook`) and, past
//! [`CHECKPOINT_FRAMES`], nudges (once per WAL cycle) a checkpointer thread
//! that runs a `PASSIVE` checkpoint on its own connection while the writer
//! goes on (a passive checkpoint takes no lock that writers wait for). SQLite starts the WAL
//! over only at a write that follows a checkpoint that copied everything,
//! which a checkpoint racing a busy writer never does; so past
//! [`CATCH_UP_FRAMES`] the writer checkpoints once itself, between two
//! batches: it copies only the frames the checkpointer has not, and the next
//! write starts the WAL over.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use orgdrive_store::{StoreError, StoreResult, WriteFigures, WriteTally};

/// Most jobs in one transaction.
const MAX_BATCH: usize = 256;
/// Jobs waiting for the writer before callers wait to enqueue.
const QUEUE: usize = 4096;

/// WAL frames past which the writer asks for a checkpoint (SQLite's own
/// automatic threshold).
const CHECKPOINT_FRAMES: i32 = 1000;
/// WAL frames past which the writer checkpoints itself (see the module
/// documentation): the WAL stays within about this many frames.
const CATCH_UP_FRAMES: i32 = 2 * CHECKPOINT_FRAMES;

thread_local! {
    /// Frames in the WAL after the writer thread's last commit (its `wal_hook`).
    static WAL_FRAMES: Cell<i32> = const { Cell::new(0) };
}

fn count_wal_frames(_: &rusqlite::hooks::Wal, frames: std::os::raw::c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.with(|count| count.set(frames));
    Ok(())
}

/// Whether a write must be on disk before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Committed with the store's `synchronous` setting (fsynced when durable).
    Durable,
    /// May be committed without fsync: survives a process crash, and a power
    /// loss only once a later durable commit (or a checkpoint) synced the WAL.
    Deferred,
}

/// A type-erased job: runs on the connection (again, if its first run was
/// rolled back), then is told how the batch ended.
trait Job: Send {
    fn durability(&self) -> Durability;
    /// Runs the work (replacing the result of an earlier run); true if it
    /// succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    fn finish(self: Box<Self>, batch: StoreResult<()>);
}

struct TypedJob<T, F> {
    durability: Durability,
    work: F,
    result: Option<StoreResult<T>>,
    /// Taken when answered.
    reply: Option<oneshot::Sender<StoreResult<T>>>,
}

impl<T, F> Drop for TypedJob<T, F> {
    /// A job dropped unanswered after it ran (the writer stopped between
    /// its run and its answer) may have been committed: its caller is told
    /// so, never that nothing was written. Unrun (dropped at close), its
    /// caller learns the writer stopped: nothing written.
    fn drop(&mut self) {
        if let (Some(reply), Some(_)) = (self.reply.take(), &self.result) {
            let unknown = "the metadata writer stopped after running the write";
            let _ = reply.send(Err(StoreError::OutcomeUnknown(unknown.into())));
        }
    }
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send + 'static,
    F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
{
    fn durability(&self) -> Durability {
        self.durability
    }

    fn run(&mut self, conn: &Connection) -> bool {
        // A run that panics leaves no result: not the earlier run's, which
        // its batch rolled back.
        self.result = None;
        let result = (self.work)(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(mut self: Box<Self>, batch: StoreResult<()>) {
        let answer = match (self.result.take(), batch) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(e),
            (None, Ok(())) => Err(StoreError::Backend("write job did not run".into())),
        };
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(answer);
        }
    }
}

enum Message {
    Job(Box<dyn Job>),
    Close(oneshot::Sender<()>),
}

/// Handle to the writer thread; the thread ends (checkpointing the WAL) when
/// it is told to close or when every handle is gone.
#[derive(Clone)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Message>,
    /// The batches committed and the jobs they carried.
    tally: Arc<WriteTally>,
    /// Moves after every batch, before its jobs are answered.
    generation: Arc<AtomicU64>,
}

/// Nothing was written: the job never reached the writer, or the writer
/// dropped it unrun at close (it answers every job it ran).
fn stopped() -> StoreError {
    StoreError::Unavailable("the metadata writer has stopped".into())
}

impl Writer {
    /// Starts the writer thread: it runs `open` to get its connection (which
    /// may fail: the error is returned here), then `open_checkpointer` for
    /// the checkpointer's, and then serves write jobs.
    /// `durable`: commit with `synchronous=FULL` (else always `NORMAL`).
    pub(crate) async fn spawn<O, C>(
        open: O,
        open_checkpointer: C,
        durable: bool,
    ) -> StoreResult<Writer>
    where
        O: FnOnce() -> StoreResult<Connection> + Send + 'static,
        C: FnOnce() -> StoreResult<Connection> + Send + 'static,
    {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let (opened, ready) = oneshot::channel();
        let tally = Arc::new(WriteTally::default());
        let counts = Arc::clone(&tally);
        let generation = Arc::new(AtomicU64::new(0));
        let moved = Arc::clone(&generation);
        std::thread::Builder::new()
            .name("orgdrive-sqlite-writer".into())
            .spawn(move || {
                let opened_both = open().and_then(|conn| {
                    let checkpointer = Checkpointer::start(open_checkpointer()?)?;
                    Ok((conn, checkpointer))
                });
                match opened_both {
                    Ok((conn, checkpointer)) => {
                        let _ = opened.send(Ok(()));
                        run_batches(conn, jobs, durable, checkpointer, &counts, &moved);
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                    }
                }
            })
            .map_err(|e| StoreError::Backend(format!("starting the metadata writer: {e}")))?;
        ready.await.map_err(|_| stopped())??;
        Ok(Writer { queue, tally, generation })
    }

    /// The batches committed so far and the jobs they carried.
    pub(crate) fn figures(&self) -> WriteFigures {
        self.tally.figures()
    }

    /// Moves after every batch the writer ran (committed or not), before
    /// the batch's jobs are answered: see `MaintenanceStore::write_generation`.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Runs `work` in the next batch; resolves once that batch is committed.
    /// `work` touches nothing but the connection: it may run twice, the
    /// first run rolled back (see the module documentation).
    pub(crate) async fn write<T, F>(&self, durability: Durability, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = TypedJob { durability, work, result: None, reply: Some(reply) };
        self.queue.send(Message::Job(Box::new(job))).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Finishes queued jobs, checkpoints the WAL, then closes the connection.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

/// The `synchronous` setting a batch commits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SyncMode {
    Full,
    Normal,
}

/// The checkpointer thread and the writer's handle on it.
struct Checkpointer {
    nudge: SyncSender<()>,
    thread: std::thread::JoinHandle<()>,
    /// Nudged since the WAL last started over: one checkpoint beside the
    /// writer per WAL cycle (more would copy the pages that writes keep
    /// changing into the database again and again).
    nudged: Cell<bool>,
}

impl Checkpointer {
    fn start(conn: Connection) -> StoreResult<Checkpointer> {
        let (nudge, nudged) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("orgdrive-sqlite-checkpointer".into())
            .spawn(move || run_checkpoints(conn, nudged))
            .map_err(|e| StoreError::Backend(format!("starting the WAL checkpointer: {e}")))?;
        Ok(Checkpointer { nudge, thread, nudged: Cell::new(false) })
    }

    /// After a commit on the writer's `conn`: asks once per WAL cycle for a
    /// checkpoint when the WAL is past the threshold (never blocks); past
    /// [`CATCH_UP_FRAMES`], checkpoints on `conn`.
    fn after_commit(&self, conn: &Connection) {
        let frames = WAL_FRAMES.with(Cell::get);
        if frames >= CATCH_UP_FRAMES {
            checkpoint(conn, "writer");
            WAL_FRAMES.with(|count| count.set(0));
        } else if frames >= CHECKPOINT_FRAMES {
            if !self.nudged.replace(true) {
                if let Err(TrySendError::Disconnected(())) = self.nudge.try_send(()) {
                    tracing::debug!("the WAL checkpointer has stopped");
                }
            }
        } else {
            // The WAL started over (or has not grown yet).
            self.nudged.set(false);
        }
    }

    /// Stops the thread (after the checkpoint it is running, if any).
    fn stop(self) {
        drop(self.nudge);
        let _ = self.thread.join();
    }
}

fn run_checkpoints(conn: Connection, nudged: Receiver<()>) {
    while nudged.recv().is_ok() {
        checkpoint(&conn, "checkpointer");
    }
    if let Err((_, e)) = conn.close() {
        tracing::debug!(error = %e, "closing the checkpoint connection failed");
    }
}

/// One `PASSIVE` checkpoint on `conn`. Busy (another checkpoint running —
/// the writer's and the checkpointer's may meet) is not an error: the next
/// one copies what this one left.
fn checkpoint(conn: &Connection, by: &'static str) {
    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(0)? != 0, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match done {
        Ok((busy, frames, copied)) => tracing::trace!(by, busy, frames, copied, "WAL checkpoint"),
        Err(e) => tracing::warn!(by, error = %e, "WAL checkpoint failed"),
    }
}

fn run_batches(
    conn: Connection,
    mut queue: mpsc::Receiver<Message>,
    durable: bool,
    checkpointer: Checkpointer,
    tally: &WriteTally,
    generation: &AtomicU64,
) {
    // Checkpoints are the checkpointer's (this replaces SQLite's automatic
    // checkpoint, which is itself a WAL hook).
    conn.wal_hook(Some(count_wal_frames));
    // The connection was opened with the store's setting.
    let mut sync = if durable { SyncMode::Full } else { SyncMode::Normal };
    let mut closing = Vec::new();
    while closing.is_empty() {
        let mut batch: Vec<Box<dyn Job>> = Vec::new();
        match queue.blocking_recv() {
            None => break,
            Some(Message::Close(done)) => closing.push(done),
            Some(Message::Job(job)) => batch.push(job),
        }
        while batch.len() < MAX_BATCH && closing.is_empty() {
            match queue.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::Close(done)) => closing.push(done),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let wanted = if durable && batch.iter().any(|j| j.durability() == Durability::Durable) {
            SyncMode::Full
        } else {
            SyncMode::Normal
        };
        if wanted != sync {
            // Between transactions: the setting applies to the next COMMIT.
            let pragma = match wanted {
                SyncMode::Full => "PRAGMA synchronous = FULL",
                SyncMode::Normal => "PRAGMA synchronous = NORMAL",
            };
            match conn.execute_batch(pragma) {
                Ok(()) => sync = wanted,
                Err(e) => {
                    // Never commit a durable job without its fsync.
                    tracing::error!(error = %e, "setting synchronous failed");
                    let failed = Err(crate::backend(e));
                    for job in batch {
                        job.finish(failed.clone());
                    }
                    continue;
                }
            }
        }
        run_batch(&conn, batch, tally, generation);
        checkpointer.after_commit(&conn);
    }
    // Jobs queued after the close fail (dropping them answers their callers);
    // later writes fail to enqueue.
    queue.close();
    while let Ok(message) = queue.try_recv() {
        if let Message::Close(done) = message {
            closing.push(done);
        }
    }
    checkpointer.stop();
    // Fold the WAL into the database (with its fsync) before going: a clean
    // stop leaves nothing that only an unsynced WAL holds, whatever the
    // durability.
    // PASSIVE, not TRUNCATE: when another process uses the database (a
    // backup or fsck closing beside a running server), TRUNCATE would wait
    // for that process's readers and hold its writer meanwhile. Alone, the
    // store's readers are closed by now, so PASSIVE folds every frame, and
    // closing this last connection removes the WAL.
    let left = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(row.get::<_, i64>(1)? > row.get::<_, i64>(2)?)
    });
    // Frames left (another process was reading): they live in the WAL only,
    // and batches of deferred jobs never fsynced it. Fsync it now.
    if !matches!(left, Ok(false)) {
        if let Some(db) = conn.path().filter(|p| !p.is_empty()) {
            if let Err(e) = std::fs::File::open(format!("{db}-wal")).and_then(|f| f.sync_all()) {
                tracing::warn!(error = %e, "could not sync the WAL at close");
            }
        }
    }
    if let Err((_, e)) = conn.close() {
        tracing::debug!(error = %e, "closing the write connection failed");
    }
    for done in closing {
        let _ = done.send(());
    }
}

/// Runs the batch in one transaction, counted in `tally` if it committed
/// (before its jobs are answered: a caller sees its own write counted);
/// moves `generation` whatever the outcome (a failed COMMIT may still have
/// reached the database), also before the jobs are answered.
fn run_batch(
    conn: &Connection,
    mut batch: Vec<Box<dyn Job>>,
    tally: &WriteTally,
    generation: &AtomicU64,
) {
    let outcome = match run_bare(conn, &mut batch) {
        Ok(true) => Ok(()),
        // A failed job changed rows: again, each job in a savepoint.
        Ok(false) => rollback(conn)
            .map_err(BatchFailure::WroteNothing)
            .and_then(|()| run_in_savepoints(conn, &mut batch)),
        Err(e) => Err(e),
    };
    let outcome = match outcome {
        Ok(()) => Ok(()),
        Err(failure) => {
            if !conn.is_autocommit() {
                let _ = rollback(conn);
            }
            tracing::error!(error = %failure, jobs = batch.len(), "write batch failed");
            Err(failure.into_store_error())
        }
    };
    if outcome.is_ok() {
        tally.record(batch.len());
    }
    generation.fetch_add(1, Ordering::SeqCst);
    for job in batch {
        job.finish(outcome.clone());
    }
}

/// Runs the jobs in the bare transaction and commits, unless a failed job
/// changed rows: then stops there, with the transaction open, and answers
/// false.
fn run_bare(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<bool, BatchFailure> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    for job in batch.iter_mut() {
        let before = conn.total_changes();
        // A panicking job fails alone (its caller sees an error); the writer lives on.
        let ran = catch_unwind(AssertUnwindSafe(|| job.run(conn)));
        still_in_transaction(conn)?;
        if !ran.unwrap_or(false) && conn.total_changes() != before {
            return Ok(false);
        }
    }
    commit(conn)?;
    Ok(true)
}

/// Runs the jobs in one transaction, each in its own savepoint (rolled back
/// to it if the job fails), and commits.
fn run_in_savepoints(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), BatchFailure> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    for job in batch.iter_mut() {
        conn.prepare_cached("SAVEPOINT job")?.execute([])?;
        let ran = catch_unwind(AssertUnwindSafe(|| job.run(conn)));
        still_in_transaction(conn)?;
        if !ran.unwrap_or(false) {
            conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
        }
        conn.prepare_cached("RELEASE job")?.execute([])?;
    }
    commit(conn)
}

/// How a batch failed, for its jobs' answer.
#[derive(Debug)]
enum BatchFailure {
    /// Before its COMMIT, or at a COMMIT that left the transaction open
    /// (rolled back then): nothing of the batch was written.
    WroteNothing(rusqlite::Error),
    /// At a COMMIT that ended the transaction with an error: SQLite had begun
    /// writing the commit (an I/O error writing or syncing the WAL, a full
    /// disk), and the frames it wrote may be found whole by a later open.
    AtCommit(rusqlite::Error),
}

impl std::fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchFailure::WroteNothing(e) => e.fmt(f),
            BatchFailure::AtCommit(e) => write!(f, "at commit: {e}"),
        }
    }
}

impl From<rusqlite::Error> for BatchFailure {
    fn from(e: rusqlite::Error) -> BatchFailure {
        BatchFailure::WroteNothing(e)
    }
}

impl BatchFailure {
    fn into_store_error(self) -> StoreError {
        match self {
            BatchFailure::WroteNothing(e) => crate::backend(e),
            BatchFailure::AtCommit(e) => StoreError::OutcomeUnknown(e.to_string()),
        }
    }
}

/// Commits the batch's transaction.
fn commit(conn: &Connection) -> Result<(), BatchFailure> {
    let done = conn.prepare_cached("COMMIT")?.execute([]);
    match done {
        Ok(_) => Ok(()),
        // Still open: SQLite refused before writing anything (a deferred
        // constraint, a busy database).
        Err(e) if !conn.is_autocommit() => Err(BatchFailure::WroteNothing(e)),
        Err(e) => Err(BatchFailure::AtCommit(e)),
    }
}

/// Some errors (I/O, a full disk, no memory, corruption) make SQLite roll
/// back the whole transaction by itself. The batch then ends there, failed:
/// the jobs after it would run in autocommit mode, each statement committed
/// at once, also those of a job that then fails.
fn still_in_transaction(conn: &Connection) -> rusqlite::Result<()> {
    if conn.is_autocommit() {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
            Some("a write ended the batch's transaction".into()),
        ));
    }
    Ok(())
}

fn rollback(conn: &Connection) -> rusqlite::Result<()> {
    conn.prepare_cached("ROLLBACK")?.execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::time::Duration;

    use super::*;
    use crate::backend;

    /// A writer on a fresh database holding table `t (x UNIQUE)`; the
    /// directory lives as long as the writer is used.
    async fn writer() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let open = move || {
            let conn = Connection::open(&path).map_err(backend)?;
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS t (x INTEGER UNIQUE);",
            )
            .map_err(backend)?;
            Ok(conn)
        };
        let second = open.clone();
        (dir, Writer::spawn(open, second, false).await.unwrap())
    }

    fn insert(conn: &Connection, x: i64) -> StoreResult<()> {
        conn.execute("INSERT INTO t (x) VALUES (?1)", [x]).map(drop).map_err(backend)
    }

    fn rows(conn: &Connection) -> Vec<i64> {
        let mut rows = conn.prepare("SELECT x FROM t ORDER BY x").unwrap();
        rows.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    }

    type TestJob = Box<dyn Fn(&Connection) -> StoreResult<()> + Send + Sync>;

    /// A job dropped unanswered once it ran may have been committed (its
    /// caller must not take it for unwritten); dropped unrun, it was not.
    #[test]
    fn a_job_dropped_unanswered_after_it_ran_may_have_been_committed() {
        let conn = Connection::open_in_memory().unwrap();
        let job = |reply| TypedJob {
            durability: Durability::Durable,
            work: |_: &Connection| Ok(()),
            result: None,
            reply: Some(reply),
        };
        let (reply, mut answer) = oneshot::channel();
        let mut ran = job(reply);
        assert!(ran.run(&conn));
        drop(ran);
        assert!(matches!(answer.try_recv(), Ok(Err(StoreError::OutcomeUnknown(_)))));

        let (reply, mut answer) = oneshot::channel();
        drop(job(reply));
        assert!(answer.try_recv().is_err(), "unrun: closed, the writer stopped");

        let (reply, mut answer) = oneshot::channel();
        let mut answered = Box::new(job(reply));
        assert!(answered.run(&conn));
        answered.finish(Ok(()));
        assert!(matches!(answer.try_recv(), Ok(Ok(()))));
    }

    /// Runs `jobs` in one batch (queued while a first job holds the
    /// writer), each counting its runs; answers their results and runs.
    async fn one_batch(w: &Writer, jobs: Vec<TestJob>) -> Vec<(StoreResult<()>, usize)> {
        let holding = w.write(Durability::Durable, |_| {
            std::thread::sleep(Duration::from_millis(200));
            Ok(())
        });
        let queued = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let runs: Vec<Arc<AtomicUsize>> = jobs.iter().map(|_| Arc::default()).collect();
            // Spawned in order on this one-thread runtime: queued in order.
            let writes: Vec<_> = jobs
                .into_iter()
                .zip(&runs)
                .map(|(job, runs)| {
                    let (w, runs) = (w.clone(), Arc::clone(runs));
                    tokio::spawn(async move {
                        w.write(Durability::Durable, move |conn| {
                            runs.fetch_add(1, Ordering::SeqCst);
                            job(conn)
                        })
                        .await
                    })
                })
                .collect();
            let mut answers = Vec::new();
            for (write, runs) in writes.into_iter().zip(runs) {
                answers.push((write.await.unwrap(), runs.load(Ordering::SeqCst)));
            }
            answers
        };
        let (held, answers) = tokio::join!(holding, queued);
        held.unwrap();
        answers
    }

    fn refused() -> StoreError {
        StoreError::Backend("refused".into())
    }

    fn succeeded(answers: &[(StoreResult<()>, usize)]) -> Vec<bool> {
        answers.iter().map(|(r, _)| r.is_ok()).collect()
    }

    async fn table(w: &Writer) -> Vec<i64> {
        w.write(Durability::Durable, |c| Ok(rows(c))).await.unwrap()
    }

    #[tokio::test]
    async fn a_failed_job_that_wrote_nothing_costs_the_batch_no_second_run() {
        let (_dir, w) = writer().await;
        let answers = one_batch(
            &w,
            vec![
                Box::new(|c| insert(c, 1)),
                Box::new(|_| Err(refused())),
                // A statement that fails is undone by SQLite itself.
                Box::new(|c| insert(c, 1)),
                Box::new(|c| insert(c, 2)),
            ],
        )
        .await;
        assert_eq!(succeeded(&answers), [true, false, false, true]);
        assert!(answers.iter().all(|(_, runs)| *runs == 1), "{answers:?}");
        assert_eq!(table(&w).await, [1, 2]);
    }

    /// A write whose error makes SQLite roll the whole transaction back (an
    /// I/O error, a full disk; here a trigger's `RAISE(ROLLBACK)`) fails the
    /// batch: no later job runs outside the transaction.
    #[tokio::test]
    async fn a_job_that_ends_the_transaction_fails_the_batch() {
        let (_dir, w) = writer().await;
        w.write(Durability::Durable, |c| {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS u (x); CREATE TRIGGER IF NOT EXISTS boom \
                 BEFORE INSERT ON u BEGIN SELECT RAISE(ROLLBACK, 'io'); END;",
            )
            .map_err(backend)
        })
        .await
        .unwrap();
        let answers = one_batch(
            &w,
            vec![
                Box::new(|c| insert(c, 1)),
                Box::new(|c| {
                    c.execute("INSERT INTO u (x) VALUES (1)", []).map(drop).map_err(backend)
                }),
                Box::new(|c| insert(c, 10).and_then(|()| Err(refused()))),
                Box::new(|c| insert(c, 2)),
            ],
        )
        .await;
        assert_eq!(succeeded(&answers), [false; 4], "{answers:?}");
        assert_eq!(table(&w).await, Vec::<i64>::new());
        // The writer goes on.
        w.write(Durability::Durable, |c| insert(c, 3)).await.unwrap();
        assert_eq!(table(&w).await, [3]);
    }

    /// A COMMIT that fails and ends the transaction is answered as of
    /// unknown outcome, never as not written: SQLite answers so to an I/O
    /// error writing or syncing the WAL, after it began writing the commit
    /// (here a commit hook's veto, which takes the same path: the COMMIT
    /// fails, the transaction is gone). A COMMIT refused with the transaction
    /// still open (a deferred foreign key) wrote nothing, and says so.
    #[tokio::test]
    async fn a_failed_commit_is_answered_by_whether_it_began_writing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let veto = Arc::new(AtomicBool::new(false));
        let vetoes = Arc::clone(&veto);
        let open = move || {
            let conn = Connection::open(&path).map_err(backend)?;
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                 CREATE TABLE IF NOT EXISTS t (x INTEGER UNIQUE); \
                 CREATE TABLE IF NOT EXISTS p (id INTEGER PRIMARY KEY); \
                 CREATE TABLE IF NOT EXISTS c (p INTEGER \
                 REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED);",
            )
            .map_err(backend)?;
            conn.commit_hook(Some(move || vetoes.load(Ordering::SeqCst)));
            Ok(conn)
        };
        let checkpointer = {
            let path = dir.path().join("t.sqlite");
            move || Connection::open(path).map_err(backend)
        };
        let w = Writer::spawn(open, checkpointer, true).await.unwrap();

        veto.store(true, Ordering::SeqCst);
        let vetoed = w.write(Durability::Durable, |c| insert(c, 1)).await;
        assert!(matches!(vetoed, Err(StoreError::OutcomeUnknown(_))), "{vetoed:?}");
        veto.store(false, Ordering::SeqCst);

        let orphan = w
            .write(Durability::Durable, |c| {
                c.execute("INSERT INTO c (p) VALUES (7)", []).map(drop).map_err(backend)
            })
            .await;
        assert!(matches!(orphan, Err(StoreError::Backend(_))), "{orphan:?}");

        // Neither was written, and the writer goes on.
        w.write(Durability::Durable, |c| insert(c, 2)).await.unwrap();
        assert_eq!(table(&w).await, [2]);
        let children: i64 = w
            .write(Durability::Durable, |c| {
                c.query_row("SELECT count(*) FROM c", [], |r| r.get(0)).map_err(backend)
            })
            .await
            .unwrap();
        assert_eq!(children, 0);
    }

    /// A job that succeeded in the bare pass and panics when its batch
    /// runs it again in savepoints is answered by that second run (failed,
    /// its row rolled back), not by the first, which the rollback undid.
    #[tokio::test]
    async fn a_job_that_panics_on_its_second_run_is_answered_by_it() {
        let (_dir, w) = writer().await;
        let ran = Arc::new(AtomicUsize::new(0));
        let answers = one_batch(
            &w,
            vec![
                Box::new(move |c| {
                    insert(c, 5)?;
                    if ran.fetch_add(1, Ordering::SeqCst) > 0 {
                        panic!("the second run panics");
                    }
                    Ok(())
                }),
                // Writes, then refuses: the batch runs again in savepoints.
                Box::new(|c| insert(c, 10).and_then(|()| Err(refused()))),
            ],
        )
        .await;
        assert_eq!(succeeded(&answers), [false, false], "{answers:?}");
        assert_eq!(table(&w).await, Vec::<i64>::new());
    }

    #[tokio::test]
    async fn a_failed_job_that_wrote_is_undone_alone() {
        let (_dir, w) = writer().await;
        let answers = one_batch(
            &w,
            vec![
                Box::new(|c| insert(c, 1)),
                // Writes, then refuses: its row must go, the others stay.
                Box::new(|c| insert(c, 10).and_then(|()| Err(refused()))),
                Box::new(|c| insert(c, 2)),
                // Writes, then a statement fails (a duplicate).
                Box::new(|c| insert(c, 20).and_then(|()| insert(c, 1))),
                // Writes, then panics.
                Box::new(|c| {
                    insert(c, 30)?;
                    panic!("a job panics after writing")
                }),
                Box::new(|c| insert(c, 3)),
            ],
        )
        .await;
        assert_eq!(succeeded(&answers), [true, false, true, false, false, true]);
        assert_eq!(table(&w).await, [1, 2, 3]);
        // The jobs up to the first failure that wrote ran again after the
        // rollback; the later ones ran once.
        let runs: Vec<usize> = answers.iter().map(|(_, runs)| *runs).collect();
        assert_eq!(runs, [2, 2, 1, 1, 1, 1]);
    }
}
