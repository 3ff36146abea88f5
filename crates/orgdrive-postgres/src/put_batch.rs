//! Folder puts combined across requests: group commit done by orgdrive.
//!
//! A `put_dentry` that creates a folder (no upload to claim, no file to
//! overwrite, nothing to charge) is queued, on the queue of its space
//! ([`Combiner`]); the queue's worker takes what is queued (up to
//! [`MAX_BATCH`]) and writes it in **one transaction of one
//! statement** ([`BATCH_SQL`]), whatever the batch's size, sent with its
//! `BEGIN` and `COMMIT` in one round trip: lock the spaces (`FOR KEY
//! SHARE`), then the parent folders (`FOR SHARE`, see `batch_sql`), one
//! multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`, the app
//! properties and the events as multi-row inserts of what it inserted;
//! one commit (one WAL flush). A lone request is not delayed: the worker
//! takes the queue as it is, never waits for it to fill; while a batch
//! runs, the next one gathers.
//!
//! The batch only ever **creates**. A put it cannot simply create — its
//! space or parent is gone, its name is taken (in the database or by an
//! earlier put of the same batch), or the whole batch failed (a deadlock, a
//! duplicate id) — is answered [`Settled::Alone`] and runs the one-put path
//! (`dentries::put_dentry_in`) in a transaction of its own, which decides
//! every error and conflict mode exactly as it always has. The guarantees
//! are the database's either way: the live-name unique index, the same row
//! locks, in the same order (spaces, then parents, then names).
//!
//! A batch whose outcome is unknown to us (the connection failed once its
//! requests had gone out; the server may have committed) answers every
//! put its error, as a one-put transaction's failed commit would: none
//! runs again. A batch the server refused (the statement or its `COMMIT`)
//! wrote nothing: every put runs alone.

use std::collections::HashSet;

use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;

use orgdrive_store::{
    AppPropertyRecord, DentryRecord, EventType, PutDentry, PutOutcome, StoreError, StoreResult,
};

use crate::combine::{
    wait_until_free, Combiner, JobKind, Locks, MayHaveCommitted, Reply, RoundTrip, BEGIN_GENERIC,
    BOUNDED_LOCKS,
};
use crate::events::new_event_id;
use crate::rows::live_dentries_by_id;
use crate::{pooled_for_rounds, DbError, ROOT_ID};

/// A batch of puts, one statement (see the module doc): locks the spaces
/// `$16` (sorted) `FOR KEY SHARE`, then — once all of them are (the
/// one-time filter on their count) — the live folders among the parents
/// `$18` (their spaces `$17`, pairwise, in that order) `FOR SHARE`, then
/// inserts the dentries `$1`–`$14` whose space and parent it holds, in key
/// order (space, folder, name: two batches inserting the same new names
/// never wait for each other in a circle; a put before a later one of the
/// same key), a name taken — also by an earlier put of the batch — skipped;
/// then the app properties `$19`–`$23` and the `$24` events of the dentries
/// inserted (the event of a created dentry: `EventRecord::of_dentry`, of
/// the put's org `$15`, its app the space's). Answers the ids inserted
/// (first column) and the spaces locked (second column), a row each.
/// The parents are locked `FOR SHARE`, which a tree change's update of a
/// parent conflicts with (`FOR KEY SHARE` would be enough to keep a parent
/// from being deleted, the space's lock keeping it live, and would let a
/// batch's renames of the parents through; but not here): this one
/// statement's snapshot is taken before it waits for its spaces, so a tree
/// change that binned a parent, or moved it to another space, may commit
/// in between. Meeting that change's update, `FOR SHARE` makes PostgreSQL
/// check the parent's newest version again (live, a folder, of that space)
/// and skip a parent gone; `FOR KEY SHARE` does not (the columns changed
/// are in no key) and locks the version the snapshot saw
/// (`a_batch_of_folder_puts_never_creates_a_child_of_a_folder_*`).
/// [`BATCH_SQL`] waits for the spaces' rows ([`Locks::Wait`]);
/// [`BATCH_SKIPPING_SQL`] skips those another transaction holds
/// ([`Locks::Skip`]).
macro_rules! batch_sql {
    ($space_lock:literal) => { concat!(
    "WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
     $5::text[], $6::text[], $7::int8[], $8::int8[], $9::text[], $10::text[], $11::text[], \
     $12::text[], $13::int8[], $14::int8[], $15::text[]) WITH ORDINALITY AS u(dentry_id, uuid, \
     space_id, parent_id, kind, name, size, version, status, blob_key, creator_id, modifier_id, \
     created_at, modified_at, corp_id, n)), \
     locked_spaces AS MATERIALIZED (SELECT space_id, app_id FROM spaces \
     WHERE space_id = ANY($16::text[]) ORDER BY space_id ", $space_lock, "), \
     locked_parents AS MATERIALIZED (SELECT d.space_id, d.dentry_id \
     FROM unnest($17::text[], $18::text[]) AS k(space_id, dentry_id) CROSS JOIN LATERAL ",
    live_dentries_by_id!("= k.dentry_id", "k.space_id"),
    " d WHERE (SELECT count(*) FROM locked_spaces) >= 0 AND d.kind = 'FOLDER' \
     AND k.space_id IN (SELECT space_id FROM locked_spaces) FOR SHARE OF d), \
     inserted AS (INSERT INTO dentries (dentry_id, uuid, space_id, parent_id, kind, name, size, \
     version, status, blob_key, creator_id, modifier_id, created_at, modified_at) \
     SELECT u.dentry_id, u.uuid, u.space_id, u.parent_id, u.kind, u.name, u.size, u.version, \
     u.status, u.blob_key, u.creator_id, u.modifier_id, u.created_at, u.modified_at FROM input u \
     WHERE (SELECT count(*) FROM locked_parents) >= 0 \
     AND u.space_id IN (SELECT space_id FROM locked_spaces) \
     AND (u.parent_id = '0' OR (u.space_id, u.parent_id) IN \
     (SELECT space_id, dentry_id FROM locked_parents)) \
     ORDER BY u.space_id COLLATE \"C\", u.parent_id COLLATE \"C\", u.name COLLATE \"C\", u.n \
     ON CONFLICT (space_id, parent_id, name) WHERE status = 'NORMAL' DO NOTHING \
     RETURNING dentry_id), \
     properties AS (INSERT INTO app_properties (dentry_id, app_id, name, value, visibility) \
     SELECT p.* FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::text[]) \
     AS p(dentry_id, app_id, name, value, visibility) \
     WHERE p.dentry_id IN (SELECT dentry_id FROM inserted) \
     ON CONFLICT (dentry_id, app_id, name) \
     DO UPDATE SET value = excluded.value, visibility = excluded.visibility), \
     appended AS (INSERT INTO events (event_id, event_type, corp_id, app_id, space_id, \
     dentry_id, operator_id, at_ms, parent_id, name, dentry_type, size, version) SELECT ",
    new_event_id!("u.modified_at"),
    ", $24::text, u.corp_id, COALESCE(s.app_id, ''), u.space_id, u.dentry_id, u.modifier_id, \
     u.modified_at, u.parent_id, u.name, u.kind, u.size, u.version \
     FROM input u JOIN locked_spaces s ON s.space_id = u.space_id \
     WHERE u.dentry_id IN (SELECT dentry_id FROM inserted) ORDER BY u.n) \
     SELECT dentry_id, NULL FROM inserted UNION ALL SELECT NULL, space_id FROM locked_spaces"
    ) };
}

/// The lock of a space a batch of puts takes, alone (to wait for it).
const LOCK_SPACE: &str = "SELECT 1 FROM spaces WHERE space_id = $1 FOR KEY SHARE";

/// A batch of puts that waits for its spaces' rows (see [`batch_sql`]).
pub(crate) const BATCH_SQL: &str = batch_sql!("FOR KEY SHARE");
/// A batch of puts that skips the spaces whose row another transaction
/// holds (see [`batch_sql`]).
pub(crate) const BATCH_SKIPPING_SQL: &str = batch_sql!("FOR KEY SHARE SKIP LOCKED");

/// Puts written by one transaction at most. The folder puts of one space
/// are written one batch at a time ([`Combiner`]): on the harness's machine
/// (two cores, PostgreSQL on them), one space's folder puts so reached
/// 0.57–0.65× of pgbench's ceiling, against 0.47–0.57× in four batches at
/// once, which split the same load into smaller batches that each cost
/// PostgreSQL a statement (bench/RESULTS.md, "tenth pass").
const MAX_BATCH: usize = 128;
/// Shards per node ([`Combiner`]), a put going to that of its space. One
/// queue a space would cost a statement a put where many spaces are
/// written at once: 64 connections over 64 spaces wrote 2,734 folders a
/// second so, 7,470 in four shards (bench/RESULTS.md, "twelfth pass").
const SHARDS: usize = 4;

/// What a put learns from its batch.
#[derive(Debug)]
pub(crate) enum Settled {
    /// The batch decided it (created it, or failed at its commit).
    Done(Box<StoreResult<PutOutcome>>),
    /// Not decided: run it on its own.
    Alone,
    /// Not written: its space's row was held by another transaction
    /// ([`Locks::Skip`]); it goes to its space's own queue.
    Held,
}

impl MayHaveCommitted for Settled {
    fn may_have_committed() -> Self {
        Settled::Done(Box::new(Err(StoreError::OutcomeUnknown(
            "the batch writing it stopped after it may have committed".into(),
        ))))
    }
}

pub(crate) struct Job {
    put: PutDentry,
    reply: Reply<Settled>,
}

/// How the queues see a put.
const PUT: JobKind<Job> =
    JobKind { key_of: |job| &job.put.dentry.space_id, reply_of: |job| &job.reply };

/// The queues of a node's combinable puts.
#[derive(Clone)]
pub(crate) struct PutQueue {
    jobs: Combiner<Job>,
}

impl PutQueue {
    /// The batches committed so far and the puts they created.
    pub(crate) fn figures(&self) -> orgdrive_store::WriteFigures {
        self.jobs.figures()
    }

    /// Starts the workers on the current tokio runtime.
    pub(crate) fn start(pool: Pool) -> PutQueue {
        let jobs = Combiner::start(SHARDS, MAX_BATCH, PUT, move |batch: Vec<Job>, tally, locks| {
            let pool = pool.clone();
            async move {
                // A put whose caller has gone (its request was cancelled) is skipped.
                let batch: Vec<Job> =
                    batch.into_iter().filter(|job| !job.reply.is_closed()).collect();
                let puts: Vec<&PutDentry> = batch.iter().map(|job| &job.put).collect();
                let settled = write_batch(&pool, &puts, locks).await;
                let created = settled
                    .iter()
                    .filter(|answer| matches!(answer, Settled::Done(outcome) if outcome.is_ok()))
                    .count();
                tally.record(created);
                let mut held = Vec::new();
                for (job, answer) in batch.into_iter().zip(settled) {
                    match answer {
                        Settled::Held => held.push((job.put.dentry.space_id.clone(), job)),
                        // The caller may have gone away (its request was cancelled).
                        answer => job.reply.send(answer),
                    }
                }
                held
            }
        });
        PutQueue { jobs }
    }

    /// Whether `put` may be combined: it creates a folder (nothing to claim
    /// or charge) and names each app property once (a multi-row upsert
    /// cannot set one key twice).
    pub(crate) fn takes(put: &PutDentry) -> bool {
        let mut keys = HashSet::new();
        put.dentry.is_folder()
            && put.upload_key.is_none()
            && put.overwrite_dentry_id.is_none()
            && put.app_properties.iter().all(|p| keys.insert((&p.app_id, &p.name)))
    }

    /// Queues `put` and waits for its batch. `Alone` also when the workers
    /// are gone.
    pub(crate) async fn submit(&self, put: &PutDentry) -> Settled {
        let (reply, answer) = Reply::channel();
        if self.jobs.submit(Job { put: put.clone(), reply }).await.is_err() {
            return Settled::Alone;
        }
        answer.await.unwrap_or(Settled::Alone)
    }
}

/// Writes `puts` in one transaction: one answer per put, in order.
///
/// `BEGIN`, the batch's statement and `COMMIT` go out together (pipelined:
/// the connection runs them in order), one round trip for the batch, on
/// generic plans ([`BEGIN_GENERIC`]). If the server refuses the statement,
/// the transaction is aborted and the `COMMIT` rolls it back: nothing was
/// written, and every put runs alone. If the outcome is unknown (the
/// connection failed), every put gets the error. With [`Locks::Skip`], the
/// puts of a space whose row another transaction holds are `Held`.
pub(crate) async fn write_batch(pool: &Pool, puts: &[&PutDentry], locks: Locks) -> Vec<Settled> {
    let alone = || puts.iter().map(|_| Settled::Alone).collect();
    if puts.is_empty() {
        return Vec::new();
    }
    // Answers and events go by id: two puts of one id (never made by the
    // server, whose ids are unique) run alone, where the key refuses one.
    let mut ids = HashSet::with_capacity(puts.len());
    if !puts.iter().all(|p| ids.insert(p.dentry.dentry_id.as_str())) {
        return alone();
    }
    let mut client = match pooled_for_rounds(pool).await {
        Ok(client) => client,
        // No connection in time: alone, each would wait again.
        Err(e @ StoreError::Unavailable(_)) => {
            return puts.iter().map(|_| Settled::Done(Box::new(Err(e.clone())))).collect();
        }
        Err(_) => return alone(),
    };
    // A held space's batch waits for its row first, holding no other,
    // then for the batch's locks a bounded time (else its puts go back).
    if let Locks::Held(space) = &locks {
        match wait_until_free(&mut client, LOCK_SPACE, space).await {
            Ok(true) => {}
            Ok(false) => return puts.iter().map(|_| Settled::Held).collect(),
            Err(_) => return alone(),
        }
    }
    let held = matches!(locks, Locks::Held(_));
    let begin = match held {
        true => format!("{BEGIN_GENERIC}; {BOUNDED_LOCKS}"),
        false => BEGIN_GENERIC.to_owned(),
    };
    // Prepared first (from the connection's cache but on its first batch),
    // so that each request goes out at its first poll, in the order polled.
    let skips = locks == Locks::Skip;
    let sql = if skips { BATCH_SKIPPING_SQL } else { BATCH_SQL };
    let Ok(statement) = client.prepare_cached(sql).await else { return alone() };
    let columns = Columns::of(puts);
    let params = columns.params();
    let (begun, inserted, committed) = client
        .round(async {
            tokio::join!(
                biased;
                client.batch_execute(&begin),
                client.query(&statement, &params),
                client.batch_execute("COMMIT"),
            )
        })
        .await;
    let answered = inserted
        .and_then(|rows| rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect());
    let answered: Vec<(Option<String>, Option<String>)> = match RoundTrip::of(
        begun.map_err(DbError::from),
        answered.map_err(DbError::from),
        committed.map_err(DbError::from),
    ) {
        RoundTrip::Committed(answered) => answered,
        RoundTrip::RolledBack(e) if held && e.is_lock_busy() => {
            return puts.iter().map(|_| Settled::Held).collect();
        }
        RoundTrip::RolledBack(e) => {
            let error = e.into_store();
            tracing::debug!(%error, puts = puts.len(), "a batch of puts failed: each runs alone");
            return alone();
        }
        RoundTrip::Unknown(e) => {
            return puts.iter().map(|_| Settled::Done(Box::new(Err(e.clone())))).collect()
        }
    };
    let (inserted, locked): (Vec<_>, Vec<_>) = answered.into_iter().unzip();
    let inserted: HashSet<String> = inserted.into_iter().flatten().collect();
    let locked: HashSet<String> = locked.into_iter().flatten().collect();
    puts.iter()
        .map(|put| {
            if inserted.contains(&put.dentry.dentry_id) {
                Settled::Done(Box::new(Ok(PutOutcome::Created(as_stored(put)))))
            } else if skips && !locked.contains(&put.dentry.space_id) {
                Settled::Held
            } else {
                Settled::Alone
            }
        })
        .collect()
}

/// The parameters of [`BATCH_SQL`] for a batch of puts.
struct Columns<'a> {
    text: [Vec<&'a str>; 10],
    number: [Vec<i64>; 4],
    blob_keys: Vec<Option<&'a str>>,
    spaces: Vec<&'a str>,
    parent_spaces: Vec<&'a str>,
    parents: Vec<&'a str>,
    properties: [Vec<&'a str>; 5],
    /// The type of a created dentry's event.
    event_type: &'static str,
}

impl<'a> Columns<'a> {
    fn of(puts: &[&'a PutDentry]) -> Columns<'a> {
        let text = |f: fn(&'a PutDentry) -> &'a str| puts.iter().map(|p| f(p)).collect();
        let number = |f: fn(&DentryRecord) -> i64| puts.iter().map(|p| f(&p.dentry)).collect();
        // The non-root parents, in the order they are locked (the keys').
        let mut parents: Vec<(&str, &str)> = puts
            .iter()
            .map(|p| (p.dentry.space_id.as_str(), p.dentry.parent_id.as_str()))
            .filter(|(_, parent)| *parent != ROOT_ID)
            .collect();
        parents.sort_unstable_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
        parents.dedup();
        let (parent_spaces, parents) = parents.into_iter().unzip();
        let properties: Vec<(&str, &AppPropertyRecord)> = puts
            .iter()
            .flat_map(|p| p.app_properties.iter().map(|a| (p.dentry.dentry_id.as_str(), a)))
            .collect();
        let property = |f: fn(&(&'a str, &'a AppPropertyRecord)) -> &'a str| {
            properties.iter().map(f).collect::<Vec<&str>>()
        };
        Columns {
            text: [
                text(|p| &p.dentry.dentry_id),
                text(|p| &p.dentry.uuid),
                text(|p| &p.dentry.space_id),
                text(|p| &p.dentry.parent_id),
                text(|p| &p.dentry.kind),
                text(|p| &p.dentry.name),
                text(|p| &p.dentry.status),
                text(|p| &p.dentry.creator_id),
                text(|p| &p.dentry.modifier_id),
                text(|p| &p.corp_id),
            ],
            number: [
                number(|d| d.size),
                number(|d| d.version),
                number(|d| d.created_at),
                number(|d| d.modified_at),
            ],
            blob_keys: puts.iter().map(|p| p.dentry.blob_key.as_deref()).collect(),
            spaces: sorted_unique(puts.iter().map(|p| p.dentry.space_id.as_str())),
            parent_spaces,
            parents,
            properties: [
                property(|(id, _)| id),
                property(|(_, p)| &p.app_id),
                property(|(_, p)| &p.name),
                property(|(_, p)| &p.value),
                property(|(_, p)| &p.visibility),
            ],
            event_type: EventType::DentryCreated.as_str(),
        }
    }

    /// `$1`–`$24`, in order.
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let [dentry_id, uuid, space_id, parent_id, kind, name, status, creator_id, modifier_id, corp_id] =
            &self.text;
        let [size, version, created_at, modified_at] = &self.number;
        let [p_dentry_id, p_app_id, p_name, p_value, p_visibility] = &self.properties;
        vec![
            dentry_id,
            uuid,
            space_id,
            parent_id,
            kind,
            name,
            size,
            version,
            status,
            &self.blob_keys,
            creator_id,
            modifier_id,
            created_at,
            modified_at,
            corp_id,
            &self.spaces,
            &self.parent_spaces,
            &self.parents,
            p_dentry_id,
            p_app_id,
            p_name,
            p_value,
            p_visibility,
            &self.event_type,
        ]
    }
}

/// The dentry `put` created, as the database holds it: the row is the
/// record as inserted (every column given, no trigger) and its app
/// properties are exactly the put's (a new id has none: they go with their
/// dentry, `ON DELETE CASCADE`), in the order a read gives them.
fn as_stored(put: &PutDentry) -> DentryRecord {
    let mut d = put.dentry.clone();
    d.app_properties = put
        .app_properties
        .iter()
        .map(|p| AppPropertyRecord { dentry_id: d.dentry_id.clone(), ..p.clone() })
        .collect();
    d.app_properties.sort_by(|a, b| (&a.app_id, &a.name).cmp(&(&b.app_id, &b.name)));
    d
}

/// `ids` sorted and without repeats (rows are locked in this order).
fn sorted_unique<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
