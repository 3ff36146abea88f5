//! Writes that hold their space's row until they commit (file commits,
//! renames, moves) combined across requests: group commit done by
//! orgdrive.
//!
//! Alone, such writes of one space run one after the other, each holding
//! the space's row lock through its commit's WAL flush, so a busy space
//! gets one write per flush. Combined, a worker takes what is queued (see
//! [`crate::combine`]; a few shards, by a write's first space, and the own
//! queue of a space found held) and writes it with few commits. Renames and file moves within a space are
//! *attempted* first: all those of a batch by one statement over arrays
//! ([`SetWrite`]), which applies those it can apply as one after the
//! other would, appends their events, and writes nothing of the others.
//! The attempts go in a transaction of their own, sent in one round trip
//! ([`attempt_round`]: `BEGIN`, the lock of their spaces, the statements,
//! `COMMIT`, pipelined). The writes they did not apply, and those without
//! one, then run in a second transaction: each write's own body (the very
//! code of its one-write transaction) inside a `SAVEPOINT`, one commit.
//! The writes of a batch are applied one after the other, as they would
//! be alone, and share its commits (one, or two when attempts and bodies
//! both run). A body answers the events it appends; the
//! batch appends those of its bodies with one statement before it commits
//! (alone, a write appends its own after its body), in the order they
//! were applied.
//!
//! **Lock order.** Before any write runs, each of a batch's transactions
//! locks every space its writes touch — `FOR UPDATE`, as a tree change
//! does, for the bodies of renames and moves ([`Hold::Tree`]); `FOR NO KEY
//! UPDATE` for the attempts and the bodies of puts, which folder puts (`FOR
//! KEY SHARE`) get through, since none of those writes changes a subtree
//! or lengthens a path ([`SET_WAIT`]) —
//! then, if a write of it charges or frees bytes (an attempt never does),
//! the orgs of those writes' spaces `FOR NO KEY UPDATE`, each list in key
//! order. Every other path takes a space before its org too (the upload
//! sweeper locks all its spaces, then all its orgs, first), and nothing
//! taken inside a batch (dentries, uploads, advisory locks on names) is
//! taken before a space elsewhere: every write of an upload's row (a
//! reservation, a part's record, a release, a WOPI save or discard, the
//! sweeper) takes its space's row first (`uploads.rs lock_space_of`; the
//! sweeper then takes the uploads `SKIP LOCKED`). Opening an
//! upload is not a combined write: it takes its app's row (the caps on
//! open uploads), which batches of different spaces would take in
//! different orders.
//!
//! A write whose body fails is rolled back to its savepoint and answered
//! its error, like alone; one that meets a deadlock or a serialization
//! failure, and every write of a batch that cannot go on (the connection,
//! a savepoint or the locks fail), runs alone ([`crate::tx!`], retries
//! included), its spaces locked before its body as in a batch: a body may
//! rely on holding them from its first statement (a rename reads its
//! space, dentry and siblings in one statement, whose snapshot then sees
//! every write made under those locks). A write whose caller has gone (its request was cancelled)
//! before its turn is skipped. Answers are given after the commit; a
//! failed commit answers its error to the writes it would have applied.
//! The attempts' round trip tells what happened ([`RoundTrip`]): the
//! server refused a request (nothing written: every write runs alone), or
//! it committed, or — the connection failed once the requests had gone
//! out — nobody knows: the writes attempted are answered the error and
//! never run again (the server may have applied them).
//!
//! Each transaction of a batch holds its spaces to its end. Only the
//! writes queued behind it on its space wait for it (a batch that waits
//! for its space's lock holds up no other space's writes).

use std::any::{Any, TypeId};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use deadpool_postgres::{Client, GenericClient, Pool};
use futures::FutureExt;

use orgdrive_store::{EventRecord, StoreError, StoreResult, WriteTally};

use crate::combine::{
    wait_until_free, Combiner, JobKind, Locks, MayHaveCommitted, Reply, RoundTrip, BEGIN_GENERIC,
    BOUNDED_LOCKS, UNBOUNDED_LOCKS,
};
use crate::{
    events, lock_keys, pooled_for_rounds, prepare_all, tx, DbError, DbResult, PgStore, RoundClient,
    Tx,
};

/// Writes run by one transaction at most.
const MAX_BATCH: usize = 64;
/// Shards per node ([`Combiner`]); a write goes to that of its first
/// space. Writes of one space never run in two batches at once (they
/// would only wait for each other's space lock, each with a fraction of
/// the queue); writes of other spaces do, and share batches.
const SHARDS: usize = 4;

/// The future of a write's body, borrowing its transaction.
pub(crate) type TxFuture<'a, T> = Pin<Box<dyn Future<Output = DbResult<T>> + Send + 'a>>;
type Answer = Box<dyn Any + Send>;
/// A write's answer and the events it appends.
type Written = (Answer, Vec<EventRecord>);
type Body = Arc<dyn for<'a> Fn(&'a Tx<'a>) -> TxFuture<'a, Written> + Send + Sync>;
/// [`SetWrite::apply_all`] of one type, its writes and answers erased.
type ApplyAll = for<'a> fn(&'a Client, Vec<&'a SetRow>) -> TxFuture<'a, Vec<Option<Answer>>>;
type SetRow = dyn Any + Send + Sync;

/// Writes a batch applies together, with one statement for all those of
/// the type (a statement over arrays, one element per write) that also
/// appends their events: a write so applied costs its batch a few rows of
/// work, not a statement.
pub(crate) trait SetWrite: Send + Sync + Sized + 'static {
    /// What a write answers.
    type Answer: Send + 'static;
    /// The statement [`apply_all`](Self::apply_all) sends: the batch
    /// prepares it before it sends anything, so that every request of its
    /// round trip goes out in order.
    const STATEMENT: &'static str;

    /// Applies `writes` with [`STATEMENT`](Self::STATEMENT), which appends
    /// the events of those it applies, in order: per write, its answer if
    /// it was applied, `None` if nothing of it was written (its body then
    /// runs, after the batch's attempts). Only a database error may fail
    /// it (its batch's writes then run alone).
    fn apply_all<'a>(c: &'a Client, writes: Vec<&'a Self>) -> TxFuture<'a, Applied<Self::Answer>>;
}

/// Per write of a set, in order: its answer if it was applied.
pub(crate) type Applied<A> = Vec<Option<A>>;

/// A write's attempt: its row of the statement of the batch's writes of
/// its type.
struct Attempt {
    kind: TypeId,
    statement: &'static str,
    write: Arc<SetRow>,
    apply_all: ApplyAll,
}

impl Attempt {
    fn of<W: SetWrite>(write: Arc<W>) -> Attempt {
        Attempt {
            kind: TypeId::of::<W>(),
            statement: W::STATEMENT,
            write,
            apply_all: apply_erased::<W>,
        }
    }
}

/// [`SetWrite::apply_all`] of `W`, on rows that are `W`s.
fn apply_erased<'a, W: SetWrite>(
    c: &'a Client,
    writes: Vec<&'a SetRow>,
) -> TxFuture<'a, Vec<Option<Answer>>> {
    let writes: Option<Vec<&W>> =
        writes.into_iter().map(|write| write.downcast_ref::<W>()).collect();
    Box::pin(async move {
        let Some(writes) = writes else {
            return Err(crate::error::broken("a set of writes mixed two types"));
        };
        let applied = W::apply_all(c, writes).await?;
        Ok(applied.into_iter().map(|one| one.map(|answer| Box::new(answer) as Answer)).collect())
    })
}

enum Settled {
    Done(DbResult<Answer>),
    Alone,
    /// Not written: the row of this space of it was held by another
    /// transaction ([`Locks::Skip`]); it goes to that space's own queue.
    Held(String),
}

impl MayHaveCommitted for Settled {
    fn may_have_committed() -> Self {
        Settled::Done(Err(DbError::Store(StoreError::OutcomeUnknown(
            "the batch writing it stopped after it may have committed".into(),
        ))))
    }
}

/// How a write's body holds its spaces' rows (a batch's bodies hold them
/// as the strongest of theirs does; a write alone, as its own).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// As a tree change ([`TREE_WAIT`]): renames and moves.
    Tree,
    /// As the attempts ([`SET_WAIT`]): puts (file commits).
    Put,
}

impl Hold {
    /// The locks of spaces held so: waited for, and skipping held rows.
    fn locks(self) -> (SpaceLocks, SpaceLocks) {
        match self {
            Hold::Tree => (TREE_WAIT, TREE_SKIP),
            Hold::Put => (SET_WAIT, SET_SKIP),
        }
    }

    /// How the bodies of `jobs` hold their spaces together.
    fn of<'a>(mut jobs: impl Iterator<Item = &'a Job>) -> Hold {
        match jobs.any(|job| job.hold == Hold::Tree) {
            true => Hold::Tree,
            false => Hold::Put,
        }
    }
}

pub(crate) struct Job {
    spaces: Vec<String>,
    /// How its body holds its spaces.
    hold: Hold,
    /// Whether the write charges or frees bytes of its spaces' orgs.
    charges_orgs: bool,
    attempt: Option<Attempt>,
    /// `None`: the attempt only ([`PgStore::attempted_in_set`]); not applied,
    /// the write is answered [`Declined`], with no savepoint.
    body: Option<Body>,
    reply: Reply<Settled>,
}

/// How the queues see a write: queued by its first space.
const WRITE: JobKind<Job> = JobKind {
    key_of: |job| job.spaces.first().map_or("", String::as_str),
    reply_of: |job| &job.reply,
};

/// The answer of a write submitted with its attempt only that its
/// attempt did not apply: nothing of it was written.
struct Declined;

/// The queues of a node's combinable writes.
#[derive(Clone)]
pub(crate) struct WriteQueue {
    queues: Combiner<Job>,
}

impl WriteQueue {
    /// The batches' transactions committed so far (all spaces; a batch
    /// may commit twice) and the writes they decided (not those they
    /// declined or left to run alone).
    pub(crate) fn figures(&self) -> orgdrive_store::WriteFigures {
        self.queues.figures()
    }

    /// Starts the workers on the current tokio runtime.
    pub(crate) fn start(pool: Pool) -> WriteQueue {
        let queues = Combiner::start(SHARDS, MAX_BATCH, WRITE, move |batch, tally, locks| {
            let pool = pool.clone();
            async move {
                let settled = write_batch(&pool, &batch, &tally, locks).await;
                let mut held = Vec::new();
                for (job, answer) in batch.into_iter().zip(settled) {
                    match answer {
                        Settled::Held(space) => held.push((space, job)),
                        // The caller may have gone away (its request was cancelled).
                        answer => job.reply.send(answer),
                    }
                }
                held
            }
        });
        WriteQueue { queues }
    }
}

impl PgStore {
    /// Runs `body` — a put of `spaces` (every space whose row it locks; it
    /// adds a dentry and changes no subtree: [`Hold::Put`]), which
    /// `charges_orgs` when it may update their orgs' byte counters,
    /// answering its value and the events to append — combined with
    /// concurrent writes, or alone when the batch could not decide it. A
    /// batch appends the events of all its writes with one statement,
    /// before it commits, in the order they were applied. `body` may run
    /// more than once (a retry alone); only the run that commits counts.
    pub(crate) async fn combined<T, B>(
        &self,
        spaces: Vec<String>,
        charges_orgs: bool,
        body: B,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        B: for<'a> Fn(&'a Tx<'a>) -> TxFuture<'a, (T, Vec<EventRecord>)> + Send + Sync + 'static,
    {
        self.combine(spaces, charges_orgs, Hold::Put, None, body).await
    }

    /// [`combined`](Self::combined) for a rename or a move ([`Hold::Tree`]),
    /// with an attempt: `write`'s row of the
    /// statement that applies the batch's writes of its type ([`SetWrite`]),
    /// or writes nothing of it (`body` then runs). A batch sends its
    /// attempts together, unanswered (pipelined), ahead of the bodies of
    /// the writes they did not apply: a write so applied costs its batch a
    /// few rows of work, not a round trip. The batch's order is then its
    /// applied attempts, then its bodies (the writes are concurrent: any
    /// order is one they could have run in).
    pub(crate) async fn combined_in_set<W, B>(
        &self,
        spaces: Vec<String>,
        charges_orgs: bool,
        write: Arc<W>,
        body: B,
    ) -> StoreResult<W::Answer>
    where
        W: SetWrite,
        B: for<'a> Fn(&'a Tx<'a>) -> TxFuture<'a, (W::Answer, Vec<EventRecord>)>
            + Send
            + Sync
            + 'static,
    {
        self.combine(spaces, charges_orgs, Hold::Tree, Some(Attempt::of(write)), body).await
    }

    async fn combine<T, B>(
        &self,
        spaces: Vec<String>,
        charges_orgs: bool,
        hold: Hold,
        attempt: Option<Attempt>,
        body: B,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        B: for<'a> Fn(&'a Tx<'a>) -> TxFuture<'a, (T, Vec<EventRecord>)> + Send + Sync + 'static,
    {
        let body = Arc::new(body);
        let erased = {
            let body = body.clone();
            erase(move |t| {
                let run = body(t);
                Box::pin(async move {
                    let (value, appended) = run.await?;
                    Ok((Box::new(value) as Answer, appended))
                })
            })
        };
        let alone_spaces = spaces.clone();
        let job = |reply| Job { spaces, hold, charges_orgs, attempt, body: Some(erased), reply };
        match self.settled(job).await {
            Settled::Done(Ok(answer)) => answer
                .downcast::<T>()
                .map(|answer| *answer)
                .map_err(|_| StoreError::Backend("a combined write answered another type".into())),
            Settled::Done(Err(e)) => Err(e.into_store()),
            // Alone as in a batch: the spaces locked before the body runs,
            // so its statements see every write made under their locks.
            Settled::Alone | Settled::Held(_) => tx!(self, |t| {
                let mut spaces: Vec<&str> = alone_spaces.iter().map(String::as_str).collect();
                spaces.sort_unstable();
                spaces.dedup();
                lock_spaces(&t, &spaces, hold).await?;
                let (value, appended) = body(&t).await?;
                events::append(&t, &appended).await?;
                value
            }),
        }
    }

    /// `write`'s attempt alone, combined as in [`combined_in_set`](Self::combined_in_set):
    /// its answer if its batch's statement applied it; `None`, nothing of
    /// it written, if the statement did not, or if its batch could not
    /// decide it. No body runs.
    pub(crate) async fn attempted_in_set<W: SetWrite>(
        &self,
        spaces: Vec<String>,
        write: Arc<W>,
    ) -> StoreResult<Option<W::Answer>> {
        let attempt = Some(Attempt::of(write));
        let job = |reply| Job {
            spaces,
            hold: Hold::Put,
            charges_orgs: false,
            attempt,
            body: None,
            reply,
        };
        match self.settled(job).await {
            Settled::Done(Ok(answer)) if answer.is::<Declined>() => Ok(None),
            Settled::Done(Ok(answer)) => answer
                .downcast::<W::Answer>()
                .map(|answer| Some(*answer))
                .map_err(|_| StoreError::Backend("a combined write answered another type".into())),
            Settled::Done(Err(e)) => Err(e.into_store()),
            Settled::Alone | Settled::Held(_) => Ok(None),
        }
    }

    /// Queues the job `job` makes (given its reply channel) on the queue of
    /// its first space and waits for its batch. `Alone` also when the
    /// workers are gone.
    async fn settled(&self, job: impl FnOnce(Reply<Settled>) -> Job) -> Settled {
        let (reply, answer) = Reply::channel();
        match self.writes.queues.submit(job(reply)).await {
            Ok(()) => answer.await.unwrap_or(Settled::Alone),
            Err(_) => Settled::Alone,
        }
    }
}

impl PgStore {
    /// Applies `writes` as a batch does, in the transaction (one round
    /// trip) of its attempts ([`attempt_round`]): per write, its answer,
    /// or `None` (nothing written: a batch would run its body). For the
    /// tests of those statements, which concurrent requests reach only by
    /// chance.
    pub(crate) async fn applied_at_once<W: SetWrite>(
        &self,
        spaces: &[&str],
        writes: &[W],
    ) -> StoreResult<Vec<Option<W::Answer>>> {
        let client = pooled_for_rounds(&self.pool).await?;
        let mut spaces = spaces.to_vec();
        spaces.sort_unstable();
        spaces.dedup();
        let statements = [W::STATEMENT];
        let set = W::apply_all(&client, writes.iter().collect());
        attempt_round(&client, &spaces, &statements, set, &Locks::Wait).await.into_store()
    }
}

/// Pins a closure to the higher-ranked signature of a [`Body`].
fn erase<F>(f: F) -> Body
where
    F: for<'a> Fn(&'a Tx<'a>) -> TxFuture<'a, Written> + Send + Sync + 'static,
{
    Arc::new(f)
}

/// Locks the rows of the spaces `spaces` (sorted: one order for every
/// writer) as `hold` says.
async fn lock_spaces<C: GenericClient>(c: &C, spaces: &[&str], hold: Hold) -> DbResult<()> {
    let ((one, many), _) = hold.locks();
    lock_keys(c, one, many, spaces).await.map(drop)
}

/// The spaces whose orgs the writes `jobs` charge (sorted, once each).
fn charged_orgs<'a>(jobs: impl Iterator<Item = &'a Job>) -> Vec<&'a str> {
    let mut charged: Vec<&str> = jobs
        .filter(|job| job.charges_orgs)
        .flat_map(|job| job.spaces.iter().map(String::as_str))
        .collect();
    charged.sort_unstable();
    charged.dedup();
    charged
}

/// Locks the orgs of the spaces `charged` (sorted), if any.
async fn lock_orgs<C: GenericClient>(c: &C, charged: &[&str]) -> DbResult<()> {
    match charged {
        [] => Ok(()),
        charged => lock_keys(c, LOCK_ORG, LOCK_ORGS, charged).await.map(drop),
    }
}

/// Which of `spaces` no other transaction holds so that `skipping` (a
/// lock that skips the rows it would wait for) would wait, a look only
/// (their locks let go at once).
async fn free_spaces(
    client: &mut Client,
    mut spaces: Vec<&str>,
    skipping: SpaceLocks,
) -> DbResult<HashSet<String>> {
    spaces.sort_unstable();
    spaces.dedup();
    let t = client.transaction().await?;
    let free = lock_free_spaces(&t, &spaces, skipping).await?;
    t.rollback().await?;
    Ok(free)
}

/// Locks, with `skipping`, the rows of the spaces `spaces` (sorted) that
/// no other transaction holds so that it would wait: the spaces locked.
async fn lock_free_spaces<C: GenericClient>(
    c: &C,
    spaces: &[&str],
    (one, many): SpaceLocks,
) -> DbResult<HashSet<String>> {
    let rows = lock_keys(c, one, many, spaces).await?;
    rows.iter().map(|row| row.try_get(0).map_err(DbError::from)).collect()
}

/// A lock of spaces' rows: its statement for one space (`$1`), and for
/// many (`$1` an array, locked in key order). Each answers the spaces it
/// locked.
type SpaceLocks = (&'static str, &'static str);

macro_rules! space_locks {
    ($mode:literal) => {
        (
            concat!("SELECT space_id FROM spaces WHERE space_id = $1 ", $mode),
            concat!(
                "SELECT space_id FROM spaces WHERE space_id = ANY($1) ORDER BY space_id ",
                $mode
            ),
        )
    };
}

/// The lock of the bodies of renames and moves ([`Hold::Tree`]), as a
/// tree change's: `FOR UPDATE`. Such a body may move a folder to another
/// space, or grow the paths under a folder it renames: no put may add a
/// child in the space meanwhile (puts lock the row `FOR KEY SHARE`).
const TREE_WAIT: SpaceLocks = space_locks!("FOR UPDATE");
/// That lock in a batch that waits for no space ([`Locks::Skip`]): a body
/// of a held space does not run.
const TREE_SKIP: SpaceLocks = space_locks!("FOR UPDATE SKIP LOCKED");
/// The lock of a batch's attempts, and of the bodies of puts
/// ([`Hold::Put`]): `FOR NO KEY UPDATE`. The writes an attempt applies (a
/// rename whose path does not grow, a file moved within its space with no
/// grant on it) change no subtree and lengthen no path, and a put adds a
/// dentry, as a folder put does: none needs to keep out the folder puts of
/// the space (`FOR KEY SHARE`, which this lock lets through; the unique
/// index on live names settles a put and a rename of one name). They keep
/// out one another (a file put alone takes this lock first too, before any
/// dentry: no cycle with an attempt waiting for its file), grant writes
/// (`FOR SHARE`: a plain move drops no grant, so it sees every grant of its
/// file) and tree changes (`FOR UPDATE`), which this lock waits for.
///
/// A batch of attempts and a batch of folder puts of one space do not
/// cross on the new names they take: the puts insert in key order (space,
/// folder, name), and each attempts' statement updates its rows in the
/// same key order of their new names. Not ruled out, a deadlock of the two
/// batches when they cross
/// - on a name an attempt frees (held until its batch commits: a put of
///   that name waits for it) and a new name the puts take first;
/// - on two parents of the puts (locked `FOR SHARE`, see `put_batch.rs`)
///   that the attempts rename in the other order, or on a parent and a
///   new name under it;
/// - on two new names of one folder, one taken by a rename, one by a file
///   move (a batch's renames and moves are two statements).
///
/// PostgreSQL ends one after `deadlock_timeout`; its writes then run alone,
/// and each is answered as alone.
const SET_WAIT: SpaceLocks = space_locks!("FOR NO KEY UPDATE");
/// The attempts' lock of a batch that waits for no space ([`Locks::Skip`]):
/// a held space fails the round ([`DbError::is_lock_busy`]).
const SET_NOWAIT: SpaceLocks = space_locks!("FOR NO KEY UPDATE NOWAIT");
/// That lock, skipping the spaces held: the look after such a failure, and
/// the put bodies' lock in a batch that waits for no space.
const SET_SKIP: SpaceLocks = space_locks!("FOR NO KEY UPDATE SKIP LOCKED");
/// The orgs of the spaces (`$1`, sorted), locked in key order.
const LOCK_ORG: &str = "SELECT 1 FROM orgs WHERE corp_id = \
     (SELECT corp_id FROM spaces WHERE space_id = $1) FOR NO KEY UPDATE";
const LOCK_ORGS: &str = "SELECT 1 FROM orgs WHERE corp_id IN \
     (SELECT corp_id FROM spaces WHERE space_id = ANY($1)) \
     ORDER BY corp_id FOR NO KEY UPDATE";

/// Runs `jobs`: one answer per job, in order. The attempts go first, in
/// a transaction of their own ([`attempt_round`]); then the bodies of the
/// writes they did not apply, in another ([`run_bodies`]). Each commit is
/// counted in `tally` with the writes it decided. With [`Locks::Skip`],
/// attempts that met a held space are not applied: their writes' bodies
/// run (an attempt alone is `Held`), and a body of a held space is `Held`.
async fn write_batch(pool: &Pool, jobs: &[Job], tally: &WriteTally, locks: Locks) -> Vec<Settled> {
    let mut outcomes: Vec<Option<Settled>> = jobs.iter().map(|_| None).collect();
    let mut client = match pooled_for_rounds(pool).await {
        Ok(client) => client,
        // No connection in time: alone, each would wait again.
        Err(e @ StoreError::Unavailable(_)) => {
            return jobs.iter().map(|_| Settled::Done(Err(DbError::Store(e.clone())))).collect();
        }
        Err(_) => return jobs.iter().map(|_| Settled::Alone).collect(),
    };
    // A held space's batch waits for its row first, holding no other.
    if let Locks::Held(space) = &locks {
        // The strongest lock the batch's bodies take.
        let ((lock, _), _) = Hold::of(jobs.iter().filter(|job| job.body.is_some())).locks();
        match wait_until_free(&mut client, lock, space).await {
            Ok(true) => {}
            Ok(false) => return jobs.iter().map(|_| Settled::Held(space.clone())).collect(),
            Err(_) => return jobs.iter().map(|_| Settled::Alone).collect(),
        }
    }
    // Whether a busy lock gives the batch's writes back (else they run alone).
    let gives_back = |e: &DbError| locks != Locks::Wait && e.is_lock_busy();
    let (mut attempted, mut round) = attempt_sets(&client, jobs, &locks, None).await;
    if matches!(&round, RoundTrip::RolledBack(e) if gives_back(e)) {
        // Nothing written, a space held; which one, `NOWAIT` does not say:
        // a look tells. The attempts of the spaces free go again; an
        // attempt alone of a space held goes to that space's own queue,
        // and a write with a body to the bodies (whose locks decide).
        let spaces: Vec<&str> =
            attempted.iter().flat_map(|&i| &jobs[i].spaces).map(String::as_str).collect();
        let Ok(free) = free_spaces(&mut client, spaces, SET_SKIP).await else {
            return jobs.iter().map(|_| Settled::Alone).collect();
        };
        let mut again = vec![false; jobs.len()];
        for &i in &attempted {
            match jobs[i].spaces.iter().find(|s| !free.contains(*s)) {
                Some(held) if jobs[i].body.is_none() => {
                    outcomes[i] = Some(Settled::Held(held.clone()));
                }
                Some(_) => {}
                None => again[i] = true,
            }
        }
        (attempted, round) = attempt_sets(&client, jobs, &locks, Some(&again)).await;
    }
    match round {
        RoundTrip::Committed(applied) => {
            tally.record(applied.len());
            for (i, answer) in applied {
                outcomes[i] = Some(Settled::Done(Ok(answer)));
            }
        }
        // Nothing written, a space held again since the look: an attempt
        // alone goes to its first space's own queue; a write with a body,
        // to the bodies.
        RoundTrip::RolledBack(e) if gives_back(&e) => {
            for i in attempted {
                if jobs[i].body.is_none() {
                    outcomes[i] = Some(Settled::Held((WRITE.key_of)(&jobs[i]).to_owned()));
                }
            }
        }
        // Nothing written: every write runs alone.
        RoundTrip::RolledBack(_) => return jobs.iter().map(|_| Settled::Alone).collect(),
        // The attempts may have been applied: never again.
        RoundTrip::Unknown(e) => {
            for i in attempted {
                outcomes[i] = Some(Settled::Done(Err(DbError::Store(e.clone()))));
            }
        }
    }
    // The writes left: their bodies; an attempt alone is declined.
    let mut bodies = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        if outcomes[i].is_some() || job.reply.is_closed() {
            continue;
        }
        match &job.body {
            Some(body) => bodies.push((i, body)),
            None => outcomes[i] = Some(Settled::Done(Ok(Box::new(Declined)))),
        }
    }
    if !bodies.is_empty() {
        let (settled, decided) = run_bodies(&mut client, jobs, &bodies, &locks).await;
        tally.record(decided);
        for ((i, _), settled) in bodies.into_iter().zip(settled) {
            outcomes[i] = Some(settled);
        }
    }
    outcomes.into_iter().map(|outcome| outcome.unwrap_or(Settled::Alone)).collect()
}

/// The attempts of `jobs` (those whose caller waits), one statement per
/// type of write, in a transaction sent in one round trip
/// ([`attempt_round`]). Answers the jobs attempted (their places in
/// `jobs`) and how their transaction ended: if it committed, the attempts
/// applied (by place) and their answers.
async fn attempt_sets(
    client: &RoundClient,
    jobs: &[Job],
    locks: &Locks,
    only: Option<&[bool]>,
) -> (Vec<usize>, RoundTrip<Vec<(usize, Answer)>>) {
    let mut sets: Vec<(TypeId, ApplyAll, Vec<usize>, Vec<&SetRow>)> = Vec::new();
    let mut statements = Vec::new();
    let mut spaces = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let Some(Attempt { kind, statement, write, apply_all }) = &job.attempt else { continue };
        if job.reply.is_closed() || only.is_some_and(|only| !only[i]) {
            continue;
        }
        spaces.extend(job.spaces.iter().map(String::as_str));
        match sets.iter_mut().find(|set| set.0 == *kind) {
            Some(set) => {
                set.2.push(i);
                set.3.push(&**write);
            }
            None => {
                statements.push(*statement);
                sets.push((*kind, *apply_all, vec![i], vec![&**write]));
            }
        }
    }
    if sets.is_empty() {
        return (Vec::new(), RoundTrip::Committed(Vec::new()));
    }
    spaces.sort_unstable();
    spaces.dedup();
    let attempted = sets.iter().flat_map(|set| set.2.iter().copied()).collect();
    let (placed, attempts): (Vec<_>, Vec<_>) =
        sets.into_iter().map(|(_, apply_all, at, writes)| (at, apply_all(client, writes))).unzip();
    let all_sets = async {
        let mut applied = Vec::new();
        for (at, result) in placed.into_iter().zip(futures::future::join_all(attempts).await) {
            let answers = result?;
            applied.extend(at.into_iter().zip(answers).filter_map(|(i, a)| Some((i, a?))));
        }
        Ok(applied)
    };
    (attempted, attempt_round(client, &spaces, &statements, all_sets, locks).await)
}

/// Runs `statements` — the future that sends the statements of a batch's
/// attempts (those it names are prepared first) — in a transaction sent in
/// one round trip: `BEGIN` (generic plans), the lock of `spaces`
/// (sorted), the statements, `COMMIT` (pipelined: the connection runs them
/// in order, so the statements run under the lock). If the server refuses
/// the lock or a statement, the transaction is aborted and `COMMIT` rolls
/// it back: nothing is written. A round cut off closes its connection
/// ([`RoundClient`]).
async fn attempt_round<T>(
    round_client: &RoundClient,
    spaces: &[&str],
    prepared: &[&str],
    statements: impl Future<Output = DbResult<T>>,
    locks: &Locks,
) -> RoundTrip<T> {
    let client: &Client = round_client;
    let (lock_one, lock_many) = match locks {
        Locks::Wait | Locks::Held(_) => SET_WAIT,
        Locks::Skip => SET_NOWAIT,
    };
    let to_prepare: Vec<&str> =
        [lock_one, lock_many].into_iter().chain(prepared.iter().copied()).collect();
    if let Err(e) = prepare_all(client, &to_prepare).await {
        // Nothing sent but the preparation: nothing written.
        return RoundTrip::RolledBack(e);
    }
    // A held space's batch waits for the locks a bounded time.
    let bounded = matches!(locks, Locks::Held(_));
    let bound = |sql: &'static str| async move {
        match bounded {
            true => client.batch_execute(sql).await.map_err(DbError::from),
            false => Ok(()),
        }
    };
    let (begun, bounded_from, locked, bounded_to, applied, committed) = round_client
        .round(async {
            tokio::join!(
                biased;
                client.batch_execute(BEGIN_GENERIC),
                bound(BOUNDED_LOCKS),
                lock_keys(client, lock_one, lock_many, spaces),
                bound(UNBOUNDED_LOCKS),
                statements,
                client.batch_execute("COMMIT"),
            )
        })
        .await;
    let applied = bounded_from.and(locked).and(bounded_to).and(applied);
    RoundTrip::of(begun.map_err(DbError::from), applied, committed.map_err(DbError::from))
}

/// Runs `bodies` (each with its job's place in `jobs`) in one
/// transaction, each in a savepoint: per body, its answer (`Alone` if it
/// met a deadlock or a serialization failure, or if the batch could not go
/// on), and how many of them its commit decided. With [`Locks::Skip`], a
/// body one of whose spaces another transaction holds does not run: `Held`.
async fn run_bodies(
    client: &mut Client,
    jobs: &[Job],
    bodies: &[(usize, &Body)],
    locks: &Locks,
) -> (Vec<Settled>, usize) {
    let alone = || (bodies.iter().map(|_| Settled::Alone).collect(), 0);
    let Ok(t) = client.transaction().await else { return alone() };
    let of_bodies = || bodies.iter().map(|&(i, _)| &jobs[i]);
    let mut spaces: Vec<&str> =
        of_bodies().flat_map(|job| job.spaces.iter().map(String::as_str)).collect();
    spaces.sort_unstable();
    spaces.dedup();
    let hold = Hold::of(of_bodies());
    let (waiting, skipping) = hold.locks();
    let (lock_one, lock_many) = match locks {
        Locks::Wait | Locks::Held(_) => waiting,
        Locks::Skip => skipping,
    };
    if prepare_all(&t, &[lock_one, lock_many, LOCK_ORG, LOCK_ORGS]).await.is_err() {
        return alone();
    }
    // Per body: the first of its spaces not locked (it is then held).
    let (held, charged) = match locks {
        // The locks go out together (pipelined), spaces first; a failed
        // lock aborts the transaction (what follows fails too).
        Locks::Wait => {
            let charged = charged_orgs(of_bodies());
            let lock_orgs = lock_orgs(&t, &charged);
            let (spaces_locked, orgs_locked) =
                tokio::join!(biased; lock_spaces(&t, &spaces, hold), lock_orgs);
            if spaces_locked.is_err() || orgs_locked.is_err() {
                return alone();
            }
            (bodies.iter().map(|_| None).collect(), Vec::new())
        }
        // A held space's batch: the same locks, waited for a bounded time;
        // past it, each write is given back with a space a look finds held
        // (its first if none is any more).
        Locks::Held(_) => {
            let charged = charged_orgs(of_bodies());
            let (from, spaces_locked, orgs_locked, to) = tokio::join!(
                biased;
                t.batch_execute(BOUNDED_LOCKS),
                lock_spaces(&t, &spaces, hold),
                lock_orgs(&t, &charged),
                t.batch_execute(UNBOUNDED_LOCKS),
            );
            match (from, spaces_locked, orgs_locked, to) {
                (Ok(()), Ok(()), Ok(()), Ok(())) => {}
                (_, Err(e), ..) | (_, _, Err(e), _) if e.is_lock_busy() => {
                    drop(t);
                    let Ok(free) = free_spaces(client, spaces, skipping).await else {
                        return alone();
                    };
                    let held = of_bodies().map(|job| {
                        let held = job.spaces.iter().find(|s| !free.contains(*s));
                        Settled::Held(held.map_or((WRITE.key_of)(job), String::as_str).to_owned())
                    });
                    return (held.collect(), 0);
                }
                _ => return alone(),
            }
            (bodies.iter().map(|_| None).collect(), Vec::new())
        }
        // The spaces first, then the orgs of the bodies that run: a batch
        // waits for no org of a space it skipped.
        Locks::Skip => {
            let Ok(free) = lock_free_spaces(&t, &spaces, skipping).await else { return alone() };
            let held: Vec<Option<String>> = of_bodies()
                .map(|job| job.spaces.iter().find(|s| !free.contains(*s)).cloned())
                .collect();
            let running = of_bodies().zip(&held).filter(|(_, held)| held.is_none());
            (held.clone(), charged_orgs(running.map(|(job, _)| job)))
        }
    };
    if held.iter().all(Option::is_some) {
        return (held.into_iter().flatten().map(Settled::Held).collect(), 0);
    }
    if lock_orgs(&t, &charged).await.is_err() {
        return alone();
    }
    let runs: Vec<bool> = held.iter().map(Option::is_none).collect();
    let mut outcomes: Vec<Option<DbResult<Answer>>> = Vec::with_capacity(bodies.len());
    let mut appended = Vec::new();
    // How the previous write's savepoint ends, sent with the next one's
    // start; both go out with the write's first statement, unanswered
    // (pipelined: the connection runs them in order), so a write costs no
    // round trip of its own beyond its body's statements.
    let mut ending = "";
    for (&(_, body), &runs) in bodies.iter().zip(&runs) {
        if !runs {
            outcomes.push(None);
            continue;
        }
        let start = format!("{ending}SAVEPOINT combined_write");
        let run = std::panic::AssertUnwindSafe(async { body(&t).await }).catch_unwind();
        // `biased`: the savepoint's request is sent before the body's first.
        let (started, outcome) = tokio::join!(biased; t.batch_execute(&start), run);
        if started.is_err() {
            return alone();
        }
        // A body that panics fails alone, its savepoint rolled back; the
        // batch's other writes go on (a bug in one write is its own).
        let outcome = outcome.unwrap_or_else(|_| {
            tracing::error!("a combined write panicked: its savepoint is rolled back");
            Err(DbError::Store(StoreError::Backend("the write failed unexpectedly".into())))
        });
        ending = match outcome {
            Ok(_) => "RELEASE SAVEPOINT combined_write; ",
            Err(_) => "ROLLBACK TO SAVEPOINT combined_write; RELEASE SAVEPOINT combined_write; ",
        };
        outcomes.push(match outcome {
            Ok((answer, events)) => {
                appended.extend(events);
                Some(Ok(answer))
            }
            Err(e) if e.is_retryable() => None,
            Err(e) => Some(Err(e)),
        });
    }
    let held_or_alone = || {
        let settled = held.iter().map(|held| match held {
            Some(space) => Settled::Held(space.clone()),
            None => Settled::Alone,
        });
        (settled.collect(), 0)
    };
    if outcomes.iter().all(Option::is_none) {
        return held_or_alone();
    }
    // The last savepoint ends, and the events follow, pipelined. Its end is
    // checked even after a success: on a transaction broken unnoticed,
    // RELEASE fails where COMMIT would roll back without an error.
    let (ended, recorded) =
        tokio::join!(biased; t.batch_execute(ending), events::append(&t, &appended));
    if ended.is_err() || recorded.is_err() {
        return held_or_alone();
    }
    let committed = t.commit().await.map_err(|e| DbError::from(e).at_commit().into_store());
    let decided = match committed {
        Ok(()) => outcomes.iter().flatten().count(),
        Err(_) => 0,
    };
    let settled = outcomes
        .into_iter()
        .zip(held)
        .map(|(outcome, held)| match (outcome, held, &committed) {
            (None, Some(space), _) => Settled::Held(space),
            (None, None, _) => Settled::Alone,
            (Some(outcome), _, Ok(())) => Settled::Done(outcome),
            (Some(_), _, Err(e)) => Settled::Done(Err(DbError::Store(e.clone()))),
        })
        .collect();
    (settled, decided)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDatabase;
    use crate::{migrate, PgOptions};

    /// A body that panics in a batch is answered failed, its savepoint
    /// rolled back; the batch's other writes commit.
    #[tokio::test]
    async fn a_body_that_panics_fails_alone_and_the_others_commit() {
        let database = TestDatabase::create().await;
        migrate(&database.url).await.unwrap();
        let store = PgStore::open(&database.url, &PgOptions::default()).await.unwrap();
        let mut client = crate::pooled(&store.pool).await.unwrap();
        let job = |body, reply| Job {
            spaces: vec!["no-such-space".into()],
            hold: Hold::Put,
            charges_orgs: false,
            attempt: None,
            body: Some(body),
            reply,
        };
        let panics = erase(|t| {
            Box::pin(async move {
                t.batch_execute("CREATE TABLE undone (x int)").await?;
                panic!("a bug in a write")
            })
        });
        let writes = erase(|t| {
            Box::pin(async move {
                t.batch_execute("CREATE TABLE kept (x int)").await?;
                Ok((Box::new(7_u8) as Answer, Vec::new()))
            })
        });
        let (first, _) = Reply::channel();
        let (second, _) = Reply::channel();
        let jobs = [job(panics, first), job(writes, second)];
        let bodies: Vec<(usize, &Body)> =
            jobs.iter().enumerate().filter_map(|(i, job)| Some((i, job.body.as_ref()?))).collect();
        let (settled, decided) = run_bodies(&mut client, &jobs, &bodies, &Locks::Wait).await;
        assert_eq!(decided, 2);
        assert!(matches!(&settled[0], Settled::Done(Err(_))));
        assert!(matches!(&settled[1], Settled::Done(Ok(answer)) if answer.is::<u8>()));
        let tables: Vec<String> = client
            .query("SELECT relname::text FROM pg_class WHERE relname IN ('kept', 'undone')", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(tables, ["kept"]);
    }
}
