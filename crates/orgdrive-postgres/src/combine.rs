//! The queues that combine concurrent writes of a node into batches.
//!
//! A [`Combiner`] spreads writes over a few shards by their space; each
//! shard's worker takes everything queued (up to a maximum), hands it to
//! the batch's writer, and counts what its transaction committed. A lone
//! write is not delayed: the worker takes the queue as it is, never waits
//! for it to fill; while a batch runs, the next one gathers. So the
//! writes of one space are written one batch at a time, as large as the
//! load makes them (the fewer batches, the less PostgreSQL spends a
//! write), and the writes of many spaces share batches.
//!
//! A shard's batch never waits for a space's row that another transaction
//! holds (a long tree change, another node's batch): it takes its spaces'
//! locks without waiting ([`Locks::Skip`]) and gives back the writes of
//! the spaces it could not lock. Those go to their space's **own queue**,
//! whose worker (one per such space, ended once its queue is empty)
//! writes them in batches that wait for the row ([`Locks::Wait`]); while
//! it runs, the space's new writes join it rather than their shard. So a
//! held space holds up its own writes only, and costs one connection
//! waiting, whatever the number of its writes.
//!
//! Also what the batches' transactions sent in one round trip (`BEGIN`,
//! statements, `COMMIT`, pipelined) share: their `BEGIN`
//! ([`BEGIN_GENERIC`]) and the reading of how they ended ([`RoundTrip`]),
//! which opening an upload uses too.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
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

/// How a batch takes the row locks of its spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Locks {
    /// A shard's batch: a space whose row another transaction holds (in a
    /// mode the batch's lock conflicts with) is not waited for; the batch
    /// gives back the writes it could not write for that, which then go to
    /// their space's own queue.
    Skip,
    /// A batch of one space's own queue: it waits for the space's row.
    Wait,
}

/// The queues of a node's combinable writes of one kind (see the module
/// doc): a few shards, and the queues of the spaces whose row was held.
pub(crate) struct Combiner<J> {
    shards: Vec<mpsc::Sender<J>>,
    queues: Arc<Queues<J>>,
}

impl<J> Clone for Combiner<J> {
    fn clone(&self) -> Self {
        Combiner { shards: self.shards.clone(), queues: Arc::clone(&self.queues) }
    }
}

/// A writer of batches: the jobs, the tally to record in, how to take
/// the locks; answers the jobs it gives back (see [`Locks::Skip`]).
type Write<J> = dyn Fn(Vec<J>, Arc<WriteTally>, Locks) -> BoxFuture<'static, Vec<J>> + Send + Sync;

struct Queues<J> {
    /// The jobs waiting for their space's row, by space. A key is here
    /// exactly while its worker runs: the worker removes it (under this
    /// lock) once it finds its queue empty, so a job queued is always
    /// taken.
    held: Mutex<HashMap<String, VecDeque<J>>>,
    write: Box<Write<J>>,
    /// The key (space) of a job.
    key_of: fn(&J) -> &str,
    max_batch: usize,
    /// The batches whose transaction committed and the jobs it decided.
    tally: Arc<WriteTally>,
}

impl<J: Send + 'static> Combiner<J> {
    /// Starts `shards` workers on the current tokio runtime, running
    /// `write` on batches of at most `max_batch` jobs (in queue order), one
    /// at a time each, with [`Locks::Skip`]; at most `4 × max_batch` jobs
    /// wait a shard, then callers wait to enqueue. The jobs given back
    /// go to the queue of their key (`key_of`), whose worker writes them
    /// with [`Locks::Wait`]. `write` records in the tally it is given how
    /// many jobs its transaction's commit decided, before it answers them
    /// (so that a caller answered reads figures that count its write).
    pub(crate) fn start<W, F>(
        shards: usize,
        max_batch: usize,
        key_of: fn(&J) -> &str,
        write: W,
    ) -> Combiner<J>
    where
        W: Fn(Vec<J>, Arc<WriteTally>, Locks) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<J>> + Send + 'static,
    {
        let write: Box<Write<J>> =
            Box::new(move |batch, tally, locks| Box::pin(write(batch, tally, locks)));
        let queues = Arc::new(Queues {
            held: Mutex::new(HashMap::new()),
            write,
            key_of,
            max_batch,
            tally: Arc::new(WriteTally::default()),
        });
        let shards = (0..shards.max(1))
            .map(|_| {
                let (jobs, mut receiver) = mpsc::channel(4 * max_batch);
                let queues = Arc::clone(&queues);
                tokio::spawn(async move {
                    while let Some(batch) = take(&mut receiver, queues.max_batch).await {
                        let tally = Arc::clone(&queues.tally);
                        let given_back = (queues.write)(batch, tally, Locks::Skip).await;
                        for job in given_back {
                            Queues::hold(&queues, job);
                        }
                    }
                });
                jobs
            })
            .collect();
        Combiner { shards, queues }
    }

    /// The batches committed so far and the jobs they decided.
    pub(crate) fn figures(&self) -> WriteFigures {
        self.queues.tally.figures()
    }

    /// Queues `job`: on its space's own queue while that one has a worker
    /// (its row was held, and the queue has not emptied since), else on
    /// its space's shard. Gives the job back if the workers are gone.
    pub(crate) async fn submit(&self, job: J) -> Result<(), J> {
        let shard = {
            let mut held = lock(&self.queues.held);
            let key = (self.queues.key_of)(&job);
            if let Some(queue) = held.get_mut(key) {
                queue.push_back(job);
                return Ok(());
            }
            let mut hasher = DefaultHasher::new();
            key.hash(&mut hasher);
            (hasher.finish() % self.shards.len() as u64) as usize
        };
        self.shards[shard].send(job).await.map_err(|refused| refused.0)
    }
}

impl<J: Send + 'static> Queues<J> {
    /// Queues `job` on its space's own queue, starting the queue's worker
    /// if it has none. With no runtime to run one on, the job is dropped:
    /// its caller, its reply gone, writes alone.
    fn hold(queues: &Arc<Queues<J>>, job: J) {
        let mut held = lock(&queues.held);
        let key = (queues.key_of)(&job);
        if let Some(queue) = held.get_mut(key) {
            queue.push_back(job);
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let key = key.to_owned();
        held.insert(key.clone(), VecDeque::from([job]));
        drop(held);
        runtime.spawn(Worker { queues: Arc::clone(queues), key, done: false }.run());
    }
}

/// The worker of one space's own queue.
struct Worker<J> {
    queues: Arc<Queues<J>>,
    key: String,
    /// Set once the worker removed its key itself.
    done: bool,
}

impl<J: Send + 'static> Worker<J> {
    /// Writes the queue's jobs, a batch at a time (what is queued, up to
    /// the maximum), until it finds the queue empty.
    async fn run(mut self) {
        while let Some(batch) = self.next_batch() {
            let tally = Arc::clone(&self.queues.tally);
            // Waiting for the locks, a batch gives nothing back; if it did,
            // the job would wait its turn again.
            for job in (self.queues.write)(batch, tally, Locks::Wait).await {
                lock(&self.queues.held).entry(self.key.clone()).or_default().push_back(job);
            }
        }
    }

    /// The next batch, or `None` (the key removed) once the queue is empty.
    fn next_batch(&mut self) -> Option<Vec<J>> {
        let mut held = lock(&self.queues.held);
        let Some(queue) = held.get_mut(&self.key) else {
            self.done = true;
            return None;
        };
        if queue.is_empty() {
            held.remove(&self.key);
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
    /// their callers, their reply gone, write alone, and the next job held
    /// starts a new worker.
    fn drop(&mut self) {
        if !self.done {
            lock(&self.queues.held).remove(&self.key);
        }
    }
}

/// The next batch of a shard: waits for one job, then takes what else is
/// queued; `None` once the queue is closed.
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

/// The map's lock; its holders never panic while holding it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
