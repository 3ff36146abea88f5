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
//! the spaces it could not lock, each with the space it found held. Those
//! go to that space's **own queue**, whose worker writes them in one batch
//! that waits for the row ([`Locks::Held`]: that space's alone first, then
//! all the batch's); while it waits, the space's new writes join it rather
//! than their shard. Once it has written, the jobs queued meanwhile go
//! back to their shards and the worker ends. So a held space holds up its
//! own writes only, at one pooled connection waiting whatever the number
//! of its writes; and at most as many held spaces' workers as there are
//! shards write at once (each waits on a connection), the others waiting
//! for their turn with none: however many spaces are held, the pool is
//! left to the others. A worker waits for each of its rows 1 s at most a
//! turn ([`BOUNDED_LOCKS`]), then lets its permit go to the next: a space
//! held briefly waits for no space held long. A worker's queue drops the
//! jobs whose caller has gone, so a space held for long keeps no more
//! than its callers wait for.
//!
//! A job's [`Reply`] is armed while its batch writes it: should the
//! batch's task stop without answering it (a panic, a runtime shutting
//! down), perhaps after its `COMMIT` went out, the caller is answered
//! that the write may have committed, never left to write it again alone.
//!
//! Also what the batches' transactions sent in one round trip (`BEGIN`,
//! statements, `COMMIT`, pipelined) share: their `BEGIN`
//! ([`BEGIN_GENERIC`]) and the reading of how they ended ([`RoundTrip`]),
//! which opening an upload uses too.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use deadpool_postgres::Client;
use futures::future::BoxFuture;
use futures::FutureExt;
use orgdrive_store::{StoreError, WriteFigures, WriteTally};
use tokio::sync::{mpsc, oneshot, Semaphore};

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
                    StoreError::Backend(why) => StoreError::OutcomeUnknown(why),
                    other => other,
                })
            }
        }
    }
}

/// How a batch takes the row locks of its spaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Locks {
    /// A shard's batch: a space whose row another transaction holds (in a
    /// mode the batch's lock conflicts with) is not waited for; the batch
    /// gives back the writes it could not write for that, which then go to
    /// their space's own queue.
    Skip,
    /// A batch that waits for its spaces' rows.
    Wait,
    /// A batch of the own queue of this space, found held: it waits for
    /// that space's row ([`wait_until_free`]: holding no other row, at most
    /// 1 s ([`BOUNDED_LOCKS`])), then for all its rows, at most 1 s ([`BOUNDED_LOCKS`]) each
    /// ([`BOUNDED_LOCKS`]); past that, it gives its jobs back, each with a
    /// space found held (a move from this space into another held one goes
    /// to that one's queue, and this space's row is let go).
    Held(String),
}

/// The queues of a node's combinable writes of one kind (see the module
/// doc): a few shards, and the queues of the spaces whose row was held.
pub(crate) struct Combiner<J> {
    shards: Arc<Vec<mpsc::Sender<J>>>,
    queues: Arc<Queues<J>>,
}

impl<J> Clone for Combiner<J> {
    fn clone(&self) -> Self {
        Combiner { shards: Arc::clone(&self.shards), queues: Arc::clone(&self.queues) }
    }
}

/// A job a batch gives back: the space whose row it found held, and the job.
pub(crate) type GivenBack<J> = (String, J);

/// A writer of batches: the jobs, the tally to record in, how to take
/// the locks; answers the jobs it gives back (see [`Locks::Skip`]).
type Write<J> =
    dyn Fn(Vec<J>, Arc<WriteTally>, Locks) -> BoxFuture<'static, Vec<GivenBack<J>>> + Send + Sync;

/// What a [`Combiner`]'s workers share.
pub(crate) struct JobKind<J> {
    /// The space whose shard a job goes to.
    pub key_of: fn(&J) -> &str,
    /// The job's reply.
    pub reply_of: fn(&J) -> &dyn Answerable,
}

impl<J> JobKind<J> {
    /// Whether the job's caller has gone (its request was cancelled).
    fn abandoned(&self, job: &J) -> bool {
        (self.reply_of)(job).is_closed()
    }
}

/// What a reply answers when the batch writing its job stopped without
/// answering it: the write may have committed.
pub(crate) trait MayHaveCommitted {
    fn may_have_committed() -> Self;
}

/// The channel a job's batch answers it on (see the module doc).
/// Dropped unanswered while armed, it answers
/// [`MayHaveCommitted::may_have_committed`]; unarmed, it closes, which its
/// caller takes as "not written" (and writes alone).
pub(crate) struct Reply<S: MayHaveCommitted> {
    sender: Option<oneshot::Sender<S>>,
    armed: AtomicBool,
}

/// A [`Reply`] as the workers see it, whatever it answers.
pub(crate) trait Answerable {
    /// Whether its caller has gone.
    fn is_closed(&self) -> bool;
    /// Arms it (its job is about to be written) or disarms it (its batch
    /// gave it back unwritten).
    fn arm(&self, armed: bool);
}

impl<S: MayHaveCommitted> Reply<S> {
    /// A reply, unarmed, and where its answer arrives.
    pub(crate) fn channel() -> (Reply<S>, oneshot::Receiver<S>) {
        let (sender, answer) = oneshot::channel();
        (Reply { sender: Some(sender), armed: AtomicBool::new(false) }, answer)
    }

    /// Whether its caller has gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.sender.as_ref().is_none_or(oneshot::Sender::is_closed)
    }

    /// Answers the caller (unless it has gone).
    pub(crate) fn send(mut self, answer: S) {
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(answer);
        }
    }
}

impl<S: MayHaveCommitted> Answerable for Reply<S> {
    fn is_closed(&self) -> bool {
        Reply::is_closed(self)
    }

    fn arm(&self, armed: bool) {
        self.armed.store(armed, Ordering::Relaxed);
    }
}

impl<S: MayHaveCommitted> Drop for Reply<S> {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            if self.armed.load(Ordering::Relaxed) {
                let _ = sender.send(S::may_have_committed());
            }
        }
    }
}

struct Queues<J> {
    /// The jobs waiting for a held space's row, by space. A key is here
    /// exactly while its worker runs: the worker removes it (under this
    /// lock) once it has written a batch, so a job queued is always taken.
    held: Mutex<HashMap<String, VecDeque<J>>>,
    /// Permits of the held spaces' workers to write a batch: each waits on
    /// a row holding a pooled connection, so that so many at most do (the
    /// shards' workers alone did before), whatever the number of spaces
    /// held; the others wait for a permit, holding none.
    writing_held: Semaphore,
    write: Box<Write<J>>,
    kind: JobKind<J>,
    max_batch: usize,
    /// The batches whose transaction committed and the jobs it decided.
    tally: Arc<WriteTally>,
    /// The shards, for the jobs a held space's worker hands back. Weak: the
    /// shards' workers end once the last [`Combiner`] is dropped.
    shards: std::sync::OnceLock<std::sync::Weak<Vec<mpsc::Sender<J>>>>,
}

impl<J: Send + 'static> Combiner<J> {
    /// Starts `shards` workers on the current tokio runtime, running
    /// `write` on batches of at most `max_batch` jobs (in queue order), one
    /// at a time each, with [`Locks::Skip`]; at most `4 × max_batch` jobs
    /// wait a shard, then callers wait to enqueue. The jobs given back go
    /// to the queue of the space they found held, whose worker writes them
    /// with [`Locks::Held`] (at most `shards` such workers write at once).
    /// `write` records in the tally it is given how many jobs its
    /// transaction's commit decided, before it answers them (so that a
    /// caller answered reads figures that count its write).
    pub(crate) fn start<W, F>(
        shards: usize,
        max_batch: usize,
        kind: JobKind<J>,
        write: W,
    ) -> Combiner<J>
    where
        W: Fn(Vec<J>, Arc<WriteTally>, Locks) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<GivenBack<J>>> + Send + 'static,
    {
        let shards = shards.max(1);
        let write: Box<Write<J>> =
            Box::new(move |batch, tally, locks| Box::pin(write(batch, tally, locks)));
        let queues = Arc::new(Queues {
            held: Mutex::new(HashMap::new()),
            writing_held: Semaphore::new(shards),
            write,
            kind,
            max_batch,
            tally: Arc::new(WriteTally::default()),
            shards: std::sync::OnceLock::new(),
        });
        let senders: Vec<mpsc::Sender<J>> = (0..shards)
            .map(|_| {
                let (jobs, mut receiver) = mpsc::channel(4 * max_batch);
                let queues = Arc::clone(&queues);
                tokio::spawn(async move {
                    while let Some(batch) = take(&mut receiver, queues.max_batch).await {
                        let tally = Arc::clone(&queues.tally);
                        let given_back = queues.write_armed(batch, tally, Locks::Skip).await;
                        for (space, job) in given_back {
                            Queues::hold(&queues, space, job);
                        }
                    }
                });
                jobs
            })
            .collect();
        let shards = Arc::new(senders);
        let _ = queues.shards.set(Arc::downgrade(&shards));
        Combiner { shards, queues }
    }

    /// The batches committed so far and the jobs they decided.
    pub(crate) fn figures(&self) -> WriteFigures {
        self.queues.tally.figures()
    }

    /// Queues `job`: on its space's own queue while that one has a worker
    /// (its row was found held, and the worker has not written since),
    /// else on its space's shard. Gives the job back if the workers are
    /// gone.
    pub(crate) async fn submit(&self, job: J) -> Result<(), J> {
        let shard = {
            let mut held = lock(&self.queues.held);
            let key = (self.queues.kind.key_of)(&job);
            if let Some(queue) = held.get_mut(key) {
                self.queues.push(queue, job);
                return Ok(());
            }
            shard_of(key, self.shards.len())
        };
        self.shards[shard].send(job).await.map_err(|refused| refused.0)
    }
}

/// The shard of the space `key`.
fn shard_of(key: &str, shards: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() % shards as u64) as usize
}

impl<J: Send + 'static> Queues<J> {
    /// Writes `batch`, its replies armed meanwhile; the jobs it gives back
    /// (not written) are disarmed. A batch that panics answers the jobs it
    /// had not answered that they may have committed (their replies
    /// dropped armed), and its worker goes on with the next batch.
    async fn write_armed(
        &self,
        batch: Vec<J>,
        tally: Arc<WriteTally>,
        locks: Locks,
    ) -> Vec<GivenBack<J>> {
        for job in &batch {
            (self.kind.reply_of)(job).arm(true);
        }
        // Made inside the guard too: a writer may panic before its future.
        let write = std::panic::AssertUnwindSafe(async { (self.write)(batch, tally, locks).await });
        let Ok(given_back) = write.catch_unwind().await else {
            tracing::error!(
                "a batch of writes panicked; its writes were answered as maybe committed"
            );
            return Vec::new();
        };
        for (_, job) in &given_back {
            (self.kind.reply_of)(job).arm(false);
        }
        given_back
    }

    /// Adds `job` to a held space's queue, first dropping the jobs whose
    /// caller has gone once in a while: a space held for long keeps no
    /// more jobs than callers wait for them.
    fn push(&self, queue: &mut VecDeque<J>, job: J) {
        if queue.len() >= self.max_batch && queue.len().is_multiple_of(self.max_batch) {
            queue.retain(|job| !self.kind.abandoned(job));
        }
        queue.push_back(job);
    }

    /// Queues `job` on the own queue of `space` (whose row it found held),
    /// starting the queue's worker if it has none. With no runtime to run
    /// one on, the job is dropped: its caller, its reply gone, writes
    /// alone.
    fn hold(queues: &Arc<Queues<J>>, space: String, job: J) {
        let mut held = lock(&queues.held);
        if let Some(queue) = held.get_mut(&space) {
            queues.push(queue, job);
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        held.insert(space.clone(), VecDeque::from([job]));
        drop(held);
        runtime.spawn(Worker { queues: Arc::clone(queues), key: space, done: false }.run());
    }
}

/// The worker of one held space's own queue.
struct Worker<J> {
    queues: Arc<Queues<J>>,
    key: String,
    /// Set once the worker removed its key itself.
    done: bool,
}

impl<J: Send + 'static> Worker<J> {
    /// Once it may ([`Queues::writing_held`]), writes what is queued (up to
    /// the maximum) in one batch that waits for the row; the jobs queued
    /// meanwhile go back to their shards (the row may be free by then, and
    /// the space's writes are best combined with other spaces' again), and
    /// the worker ends. A space still held is found so again. A batch that
    /// gives its jobs back (the row still held after 1 s ([`BOUNDED_LOCKS`])) lets
    /// its permit go to the next held space and waits for another turn:
    /// a space held for long holds up no other held space for longer.
    async fn run(mut self) {
        loop {
            let Ok(permit) = self.queues.writing_held.acquire().await else { return };
            let Some(batch) = self.take(self.queues.max_batch) else { return };
            let tally = Arc::clone(&self.queues.tally);
            let locks = Locks::Held(self.key.clone());
            let given_back = self.queues.write_armed(batch, tally, locks).await;
            drop(permit);
            // Jobs of a caller gone are dropped; a job that found another
            // space held goes to that space's queue; one that found this
            // space still held waits here for another turn.
            let mut again = Vec::new();
            for (space, job) in given_back {
                if self.queues.kind.abandoned(&job) {
                    continue;
                }
                match space == self.key {
                    true => again.push(job),
                    false => Queues::hold(&self.queues, space, job),
                }
            }
            if again.is_empty() {
                break;
            }
            let mut held = lock(&self.queues.held);
            let queue = held.entry(self.key.clone()).or_default();
            for job in again.into_iter().rev() {
                queue.push_front(job);
            }
        }
        let rest = self.take_all_and_remove();
        let Some(shards) = self.queues.shards.get().and_then(std::sync::Weak::upgrade) else {
            return;
        };
        for job in rest {
            if self.queues.kind.abandoned(&job) {
                continue;
            }
            let shard = shard_of((self.queues.kind.key_of)(&job), shards.len());
            // A closed shard (the store is going away) drops the job: its
            // caller writes alone.
            let _ = shards[shard].send(job).await;
        }
    }

    /// Up to `most` of the queue's jobs; `None` when there are none.
    fn take(&self, most: usize) -> Option<Vec<J>> {
        let mut held = lock(&self.queues.held);
        let queue = held.get_mut(&self.key)?;
        let taken = queue.len().min(most);
        (taken > 0).then(|| queue.drain(..taken).collect())
    }

    /// The queue's jobs, the key removed with them (under one lock: no job
    /// queued in between is lost): the space's next jobs go to its shard.
    fn take_all_and_remove(&mut self) -> VecDeque<J> {
        self.done = true;
        lock(&self.queues.held).remove(&self.key).unwrap_or_default()
    }
}

impl<J> Drop for Worker<J> {
    /// A worker stopped before it removed its key (its runtime shut down,
    /// or its batch panicked) removes it and drops the jobs waiting: their
    /// callers, their reply gone, write alone, and the next job held
    /// starts a new worker.
    fn drop(&mut self) {
        if !self.done {
            lock(&self.queues.held).remove(&self.key);
        }
    }
}

/// Bounds the lock waits that follow, in a transaction (`SET LOCAL`), to
/// how long a held space's batch waits for a row before it lets its
/// permit go to the next held space ([`Worker::run`]); the
/// statements after the locks run under [`UNBOUNDED_LOCKS`] again (a
/// body's own waits are not given up).
pub(crate) const BOUNDED_LOCKS: &str = "SET LOCAL lock_timeout = '1s'";
/// Ends [`BOUNDED_LOCKS`].
pub(crate) const UNBOUNDED_LOCKS: &str = "SET LOCAL lock_timeout TO DEFAULT";

/// Waits until no other transaction holds the row of `space` in a mode
/// `lock` (a `SELECT … FROM spaces WHERE space_id = $1 FOR …` statement)
/// conflicts with, at most 1 s ([`BOUNDED_LOCKS`]), holding no other row meanwhile
/// (the lock is let go at once): whether the row was free in time.
pub(crate) async fn wait_until_free(
    client: &mut Client,
    lock: &str,
    space: &str,
) -> DbResult<bool> {
    let t = client.transaction().await?;
    t.batch_execute(BOUNDED_LOCKS).await?;
    let free = match t.execute(lock, &[&space]).await.map_err(DbError::from) {
        Ok(_) => true,
        Err(e) if e.is_lock_busy() => false,
        Err(e) => return Err(e),
    };
    t.rollback().await?;
    Ok(free)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Answer {
        Written,
        MayHaveCommitted,
    }

    impl MayHaveCommitted for Answer {
        fn may_have_committed() -> Self {
            Answer::MayHaveCommitted
        }
    }

    struct Job {
        space: String,
        reply: Reply<Answer>,
    }

    const KIND: JobKind<Job> = JobKind { key_of: |job| &job.space, reply_of: |job| &job.reply };

    #[test]
    fn a_reply_dropped_unanswered_says_may_have_committed_only_while_armed() {
        let (reply, mut answer) = Reply::<Answer>::channel();
        drop(reply);
        assert!(answer.try_recv().is_err(), "unarmed: closed, the caller writes alone");

        let (reply, mut answer) = Reply::<Answer>::channel();
        reply.arm(true);
        drop(reply);
        assert_eq!(answer.try_recv().ok(), Some(Answer::MayHaveCommitted));

        let (reply, mut answer) = Reply::<Answer>::channel();
        reply.arm(true);
        reply.arm(false);
        drop(reply);
        assert!(answer.try_recv().is_err(), "disarmed (given back): closed");

        let (reply, mut answer) = Reply::<Answer>::channel();
        reply.arm(true);
        reply.send(Answer::Written);
        assert_eq!(answer.try_recv().ok(), Some(Answer::Written));
    }

    /// A batch that panics (its `COMMIT` perhaps sent) answers its writes
    /// that they may have committed — never "not written", which would
    /// have them written again — and its shard writes the next batch.
    #[tokio::test]
    async fn a_batch_that_panics_answers_may_have_committed_and_its_shard_goes_on() {
        let batches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&batches);
        let combiner = Combiner::start(1, 8, KIND, move |batch: Vec<Job>, _tally, _locks| {
            let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    panic!("the batch stops after its COMMIT went out");
                }
                for job in batch {
                    job.reply.send(Answer::Written);
                }
                Vec::new()
            }
        });
        for expected in [Answer::MayHaveCommitted, Answer::Written] {
            let (reply, answer) = Reply::channel();
            assert!(combiner.submit(Job { space: "s".into(), reply }).await.is_ok());
            assert_eq!(answer.await.ok(), Some(expected));
        }
        assert_eq!(batches.load(Ordering::SeqCst), 2);
    }

    /// A job its batch gives back (its space held) was not written: it
    /// leaves the batch disarmed, so that dropped before another batch
    /// takes it (its space's worker stopping) its caller writes it alone.
    #[tokio::test]
    async fn a_job_given_back_leaves_its_batch_disarmed() {
        let combiner =
            Combiner::start(1, 8, KIND, move |batch: Vec<Job>, _tally, _locks| async move {
                batch.into_iter().map(|job| ("s".to_string(), job)).collect()
            });
        let (reply, mut answer) = Reply::channel();
        let job = Job { space: "s".into(), reply };
        let tally = Arc::new(WriteTally::default());
        let given_back = combiner.queues.write_armed(vec![job], tally, Locks::Skip).await;
        assert_eq!(given_back.len(), 1);
        drop(given_back);
        assert!(answer.try_recv().is_err(), "closed: the caller writes alone");
    }
}
