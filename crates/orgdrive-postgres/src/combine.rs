//! The queues that combine concurrent writes of a node into batches.
//!
//! A [`Combiner`] is one queue and its worker task: the worker takes
//! everything queued (up to a maximum), hands it to the batch's writer,
//! and counts what its transaction committed. A lone write is not
//! delayed: the worker takes the queue as it is, never waits for it to
//! fill; while a batch runs, the next one gathers. [`Sharded`] spreads
//! writes over a few combiners by a key (their space): the writes of one
//! space are written one batch at a time, as large as the load makes them
//! (the fewer batches, the less PostgreSQL spends a write), while other
//! spaces' batches run at once, and a batch that waits for a lock holds up
//! only its shard. The workers end when the last clone of their queue is
//! dropped (or with their tokio runtime; a caller then finds the queue
//! closed and writes alone).
//!
//! Also what the batches' transactions sent in one round trip (`BEGIN`,
//! statements, `COMMIT`, pipelined) share: their `BEGIN`
//! ([`BEGIN_GENERIC`]) and the reading of how they ended ([`RoundTrip`]),
//! which opening an upload uses too.

use std::collections::hash_map::DefaultHasher;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use orgdrive_store::{StoreError, WriteFigures, WriteTally};
use tokio::sync::mpsc;

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

/// A queue of jobs `J` and its worker.
pub(crate) struct Combiner<J> {
    jobs: mpsc::Sender<J>,
    /// The batches whose transaction committed and the jobs it decided.
    tally: Arc<WriteTally>,
}

impl<J> Clone for Combiner<J> {
    fn clone(&self) -> Self {
        Combiner { jobs: self.jobs.clone(), tally: Arc::clone(&self.tally) }
    }
}

impl<J: Send + 'static> Combiner<J> {
    /// Starts a worker task on the current tokio runtime, running `write`
    /// on batches of at most `max_batch` jobs (in queue order), one at a
    /// time; at most `4 × max_batch` jobs wait, then callers wait to
    /// enqueue. `write` records in the tally it is given how many jobs its
    /// transaction's commit decided, before it answers them (so that a
    /// caller answered reads figures that count its write).
    pub(crate) fn start<W, F>(max_batch: usize, write: W) -> Combiner<J>
    where
        W: Fn(Vec<J>, Arc<WriteTally>) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send,
    {
        let (jobs, mut receiver) = mpsc::channel(4 * max_batch);
        let tally = Arc::new(WriteTally::default());
        let counts = tally.clone();
        tokio::spawn(async move {
            while let Some(batch) = take(&mut receiver, max_batch).await {
                write(batch, counts.clone()).await;
            }
        });
        Combiner { jobs, tally }
    }

    /// The batches committed so far and the jobs they decided.
    pub(crate) fn figures(&self) -> WriteFigures {
        self.tally.figures()
    }

    /// Queues `job`; gives it back if the worker is gone.
    pub(crate) async fn submit(&self, job: J) -> Result<(), J> {
        self.jobs.send(job).await.map_err(|refused| refused.0)
    }
}

/// The next batch: waits for one job, then takes what else is queued;
/// `None` once the queue is closed.
async fn take<J>(receiver: &mut mpsc::Receiver<J>, max_batch: usize) -> Option<Vec<J>> {
    let first = receiver.recv().await?;
    let mut batch = vec![first];
    while batch.len() < max_batch {
        match receiver.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// A few [`Combiner`]s, a job going to the one of its key.
pub(crate) struct Sharded<J> {
    shards: Vec<Combiner<J>>,
}

impl<J> Clone for Sharded<J> {
    fn clone(&self) -> Self {
        Sharded { shards: self.shards.clone() }
    }
}

impl<J: Send + 'static> Sharded<J> {
    /// Starts `shards` combiners (see [`Combiner::start`]), all writing
    /// with `write`.
    pub(crate) fn start<W, F>(shards: usize, max_batch: usize, write: W) -> Sharded<J>
    where
        W: Fn(Vec<J>, Arc<WriteTally>) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send,
    {
        let write = Arc::new(write);
        let shards = (0..shards)
            .map(|_| {
                let write = write.clone();
                Combiner::start(max_batch, move |batch, tally| write(batch, tally))
            })
            .collect();
        Sharded { shards }
    }

    /// The combiner of the jobs of `key`.
    pub(crate) fn of(&self, key: &str) -> &Combiner<J> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        &self.shards[(hasher.finish() % self.shards.len() as u64) as usize]
    }

    /// The batches committed so far (all shards) and the jobs they decided.
    pub(crate) fn figures(&self) -> WriteFigures {
        self.shards.iter().map(Combiner::figures).fold(Default::default(), |sum, f| WriteFigures {
            commits: sum.commits + f.commits,
            writes: sum.writes + f.writes,
        })
    }
}
