//! The queues that combine concurrent writes of a node into batches.
//!
//! A [`Combiner`] keeps one queue per key (the writes' space) and, while a
//! queue holds jobs, one worker task for it: the worker takes everything
//! queued (up to a maximum), hands it to the batch's writer, and counts
//! what its transaction committed; it ends once it finds its queue empty,
//! and the next job of the key starts another. A lone write is not
//! delayed: the worker takes the queue as it is, never waits for it to
//! fill; while a batch runs, the next one gathers. So the writes of one
//! space are written one batch at a time, as large as the load makes them
//! (the fewer batches, the less PostgreSQL spends a write), and the
//! batches of different spaces never wait for each other: a batch that
//! waits for its space's lock (held by a long tree change) holds up only
//! its own space's writes. A job's caller whose worker is gone (its tokio
//! runtime shut down) finds its reply dropped and writes alone.
//!
//! Also what the batches' transactions sent in one round trip (`BEGIN`,
//! statements, `COMMIT`, pipelined) share: their `BEGIN`
//! ([`BEGIN_GENERIC`]) and the reading of how they ended ([`RoundTrip`]),
//! which opening an upload uses too.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use orgdrive_store::{StoreError, WriteFigures, WriteTally};

use crate::{DbError, DbResult};

/// Starts a batch's transaction sent in one round trip, whose prepared
/// statements run their generic plan. Left to choose, PostgreSQL planned
/// the folder puts' `BATCH_SQL` again at every call (its generic plan's
/// estimate is above the custom plans' average): about 0.46 ms of
/// planning a batch, more than the rest of its work.
/// READ COMMITTED, said rather than left to the server's default: a
/// batch's statements rely on each taking its snapshot when it starts,
/// after the locks before it.
pub(crate) const BEGIN_GENERIC: &str =
    "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL plan_cache_mode = force_generic_plan";

/// How a transaction sent in one round trip — `BEGIN`, its statements and
/// `COMMIT`, pipelined — ended, as its requests' answers tell.
pub(crate) enum RoundTrip<T> {
    /// Committed: what the statements answered.
    Committed(T),
    /// Nothing written: the server refused a request after `BEGIN` (the
    /// transaction was aborted and `COMMIT` rolled it back), or refused
    /// the `COMMIT`.
    RolledBack(DbError),
    /// Not known: the connection failed, or an answer could not be read,
    /// once the requests had gone out. The server may have committed: the
    /// writes are answered this error, never run again.
    Unknown(StoreError),
}

impl<T> RoundTrip<T> {
    /// What the statements answered if the transaction committed, else
    /// its error in the contract's words.
    pub(crate) fn into_store(self) -> Result<T, StoreError> {
        match self {
            RoundTrip::Committed(answer) => Ok(answer),
            RoundTrip::RolledBack(e) => Err(e.into_store()),
            RoundTrip::Unknown(e) => Err(e),
        }
    }

    /// The outcome of a transaction from the answers to its `BEGIN`, its
    /// statements and its `COMMIT`.
    pub(crate) fn of(
        begun: DbResult<()>,
        statements: DbResult<T>,
        committed: DbResult<()>,
    ) -> RoundTrip<T> {
        match (begun, statements, committed) {
            (Ok(()), Ok(answer), Ok(())) => RoundTrip::Committed(answer),
            (Ok(()), Err(e), _) if e.is_refusal() => RoundTrip::RolledBack(e),
            (Ok(()), _, Err(e)) if e.is_refusal() => RoundTrip::RolledBack(e),
            (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => {
                RoundTrip::Unknown(match e.into_store() {
                    StoreError::Backend(why) => {
                        StoreError::Backend(format!("a transaction's outcome is unknown: {why}"))
                    }
                    other => other,
                })
            }
        }
    }
}

/// The queues of a node's combinable writes of one kind: one queue per
/// key (a space), and a worker for each queue that holds jobs.
pub(crate) struct Combiner<J> {
    inner: Arc<Queues<J>>,
}

impl<J> Clone for Combiner<J> {
    fn clone(&self) -> Self {
        Combiner { inner: Arc::clone(&self.inner) }
    }
}

/// A writer of batches: the jobs, and the tally to record in.
type Write<J> = dyn Fn(Vec<J>, Arc<WriteTally>) -> BoxFuture<'static, ()> + Send + Sync;

struct Queues<J> {
    /// The jobs waiting, by key. A key is here exactly while its worker
    /// runs: the worker removes it (under this lock) once it finds its
    /// queue empty, so a job queued is always taken.
    waiting: Mutex<HashMap<String, VecDeque<J>>>,
    write: Box<Write<J>>,
    max_batch: usize,
    /// The batches whose transaction committed and the jobs it decided.
    tally: Arc<WriteTally>,
}

impl<J: Send + 'static> Combiner<J> {
    /// Queues whose workers run `write` on batches of at most `max_batch`
    /// jobs of one key (in queue order), one at a time. `write` records in
    /// the tally it is given how many jobs its transaction's commit
    /// decided, before it answers them (so that a caller answered reads
    /// figures that count its write).
    pub(crate) fn start<W, F>(max_batch: usize, write: W) -> Combiner<J>
    where
        W: Fn(Vec<J>, Arc<WriteTally>) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let write: Box<Write<J>> = Box::new(move |batch, tally| Box::pin(write(batch, tally)));
        let inner = Queues {
            waiting: Mutex::new(HashMap::new()),
            write,
            max_batch,
            tally: Arc::new(WriteTally::default()),
        };
        Combiner { inner: Arc::new(inner) }
    }

    /// The batches committed so far and the jobs they decided.
    pub(crate) fn figures(&self) -> WriteFigures {
        self.inner.tally.figures()
    }

    /// Queues `job` on the queue of `key`, starting its worker (on the
    /// current tokio runtime) if it has none; gives the job back when
    /// there is no runtime to run one on.
    pub(crate) fn submit(&self, key: &str, job: J) -> Result<(), J> {
        let mut waiting = lock(&self.inner.waiting);
        if let Some(queue) = waiting.get_mut(key) {
            queue.push_back(job);
            return Ok(());
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return Err(job) };
        waiting.insert(key.to_owned(), VecDeque::from([job]));
        drop(waiting);
        let worker = Worker { queues: Arc::clone(&self.inner), key: key.to_owned(), done: false };
        runtime.spawn(worker.run());
        Ok(())
    }
}

/// The worker of one key's queue.
struct Worker<J> {
    queues: Arc<Queues<J>>,
    key: String,
    /// Set once the worker removed its key itself.
    done: bool,
}

impl<J: Send + 'static> Worker<J> {
    /// Writes the queue's jobs, a batch at a time (what is queued, up to
    /// the maximum: a lone job is not delayed; while a batch runs, the
    /// next one gathers), until it finds the queue empty.
    async fn run(mut self) {
        while let Some(batch) = self.next_batch() {
            (self.queues.write)(batch, Arc::clone(&self.queues.tally)).await;
        }
    }

    /// The next batch, or `None` (the key removed) once the queue is empty.
    fn next_batch(&mut self) -> Option<Vec<J>> {
        let mut waiting = lock(&self.queues.waiting);
        let Some(queue) = waiting.get_mut(&self.key) else {
            self.done = true;
            return None;
        };
        if queue.is_empty() {
            waiting.remove(&self.key);
            self.done = true;
            return None;
        }
        let taken = queue.len().min(self.queues.max_batch);
        Some(queue.drain(..taken).collect())
    }
}

impl<J> Drop for Worker<J> {
    /// A worker stopped before its queue emptied (its runtime shut down,
    /// or its batch panicked) removes its key and drops the jobs waiting:
    /// their callers, their reply gone, write alone, and the next job of
    /// the key starts a new worker.
    fn drop(&mut self) {
        if !self.done {
            lock(&self.queues.waiting).remove(&self.key);
        }
    }
}

/// The map's lock; its holders never panic while holding it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
