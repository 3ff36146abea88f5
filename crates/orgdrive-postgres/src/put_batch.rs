//! Folder puts combined across requests: group commit done by orgdrive.
//!
//! A `put_dentry` that creates a folder (no upload to claim, no file to
//! overwrite, nothing to charge) is queued; a few worker tasks take what is
//! queued (up to [`MAX_BATCH`]) and write it in **one transaction of a
//! fixed handful of statements**, whatever the batch's size: lock the
//! spaces (`FOR KEY SHARE`) and the parent folders (`FOR SHARE`), one
//! multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`, the app
//! properties and the events as multi-row inserts, one commit (one WAL
//! flush). A lone request is not delayed: a
//! worker takes the queue as it is, never waits for it to fill.
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
//! A commit that fails leaves its outcome unknown to us: the puts it would
//! have created get the error (as a one-put transaction's would), the
//! others run alone.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::Pool;
use tokio::sync::oneshot;

use orgdrive_store::{
    AppPropertyRecord, DentryRecord, EventRecord, EventType, PutDentry, PutOutcome, StoreResult,
};

use crate::combine::Combiner;
use crate::rows::live_dentries_by_id;
use crate::{all, events, exec, lock_keys, pooled, DbError, DbResult, Tx, ROOT_ID};

/// The live folders among the parents `$2` (spaces `$1`, pairwise), locked
/// `FOR SHARE` in the order given.
pub(crate) const LIVE_PARENTS_SQL: &str = concat!(
    "SELECT d.space_id, d.dentry_id FROM unnest($1::text[], $2::text[]) AS k(space_id, dentry_id) \
     CROSS JOIN LATERAL ",
    live_dentries_by_id!("= k.dentry_id", "k.space_id"),
    " d WHERE d.kind = 'FOLDER' FOR SHARE OF d"
);

/// Puts written by one transaction at most.
const MAX_BATCH: usize = 128;
/// Batches in flight at once per node: some commit (wait for the WAL
/// flush) while the next are written.
const WORKERS: usize = 4;

/// What a put learns from its batch.
#[derive(Debug)]
pub(crate) enum Settled {
    /// The batch decided it (created it, or failed at its commit).
    Done(Box<StoreResult<PutOutcome>>),
    /// Not decided: run it on its own.
    Alone,
}

pub(crate) struct Job {
    put: PutDentry,
    reply: oneshot::Sender<Settled>,
}

/// The queue of a node's combinable puts.
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
        let jobs = Combiner::start(WORKERS, MAX_BATCH, move |batch: Vec<Job>, tally| {
            let pool = pool.clone();
            async move {
                // A put whose caller has gone (its request was cancelled) is skipped.
                let batch: Vec<Job> =
                    batch.into_iter().filter(|job| !job.reply.is_closed()).collect();
                let puts: Vec<&PutDentry> = batch.iter().map(|job| &job.put).collect();
                let settled = write_batch(&pool, &puts).await;
                let created = settled
                    .iter()
                    .filter(|answer| matches!(answer, Settled::Done(outcome) if outcome.is_ok()))
                    .count();
                tally.record(created);
                for (job, answer) in batch.into_iter().zip(settled) {
                    // The caller may have gone away (its request was cancelled).
                    let _ = job.reply.send(answer);
                }
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
        let (reply, answer) = oneshot::channel();
        if self.jobs.submit(Job { put: put.clone(), reply }).await.is_err() {
            return Settled::Alone;
        }
        answer.await.unwrap_or(Settled::Alone)
    }
}

/// Writes `puts` in one transaction: one answer per put, in order.
pub(crate) async fn write_batch(pool: &Pool, puts: &[&PutDentry]) -> Vec<Settled> {
    let alone = || puts.iter().map(|_| Settled::Alone).collect();
    if puts.is_empty() {
        return Vec::new();
    }
    let Ok(mut client) = pooled(pool).await else { return alone() };
    let Ok(t) = client.transaction().await else { return alone() };
    let created = match create(&t, puts).await {
        Ok(created) => created,
        Err(e) => {
            let error = e.into_store();
            tracing::debug!(%error, puts = puts.len(), "a batch of puts failed: each runs alone");
            return alone();
        }
    };
    if created.iter().all(Option::is_none) {
        return alone();
    }
    let committed = t.commit().await.map_err(|e| DbError::from(e).into_store());
    created
        .into_iter()
        .map(|dentry| match (dentry, &committed) {
            (None, _) => Settled::Alone,
            (Some(d), Ok(())) => Settled::Done(Box::new(Ok(PutOutcome::Created(d)))),
            (Some(_), Err(e)) => Settled::Done(Box::new(Err(e.clone()))),
        })
        .collect()
}

/// Creates in `t` every put whose space and parent are there and whose name
/// is free, with its app properties and its event; answers, per put, the
/// dentry as stored (`None`: not created here).
async fn create(t: &Tx<'_>, puts: &[&PutDentry]) -> DbResult<Vec<Option<DentryRecord>>> {
    let spaces: HashSet<String> = {
        let ids = sorted_unique(puts.iter().map(|p| p.dentry.space_id.as_str()));
        const ONE: &str = "SELECT space_id FROM spaces WHERE space_id = $1 FOR KEY SHARE";
        const MANY: &str =
            "SELECT space_id FROM spaces WHERE space_id = ANY($1) ORDER BY space_id FOR KEY SHARE";
        lock_keys(t, ONE, MANY, &ids)
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?
    };
    // Only folders of the spaces just locked are found (and locked, in id
    // order: the keys').
    let parents: HashSet<(String, String)> = {
        let mut keys: Vec<(&str, &str)> = puts
            .iter()
            .map(|p| (p.dentry.space_id.as_str(), p.dentry.parent_id.as_str()))
            .filter(|(space, parent)| *parent != ROOT_ID && spaces.contains(*space))
            .collect();
        keys.sort_unstable_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
        keys.dedup();
        if keys.is_empty() {
            HashSet::new()
        } else {
            let (space_ids, parent_ids): (Vec<&str>, Vec<&str>) = keys.into_iter().unzip();
            all(t, LIVE_PARENTS_SQL, &[&space_ids, &parent_ids])
                .await?
                .iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                .collect::<DbResult<_>>()?
        }
    };
    let ready: Vec<&PutDentry> = puts
        .iter()
        .copied()
        .filter(|p| {
            let d = &p.dentry;
            spaces.contains(&d.space_id)
                && (d.parent_id == ROOT_ID
                    || parents.contains(&(d.space_id.clone(), d.parent_id.clone())))
        })
        .collect();
    let inserted = insert_dentries(t, &ready).await?;
    let created: Vec<&PutDentry> =
        ready.into_iter().filter(|p| inserted.contains(&p.dentry.dentry_id)).collect();
    if created.is_empty() {
        return Ok(vec![None; puts.len()]);
    }
    set_app_properties(t, &created).await?;
    let mut stored: HashMap<&str, DentryRecord> =
        created.iter().map(|p| (p.dentry.dentry_id.as_str(), as_stored(p))).collect();
    let appended: Vec<EventRecord> = created
        .iter()
        .map(|p| {
            let (operator, at) = (&p.dentry.modifier_id, p.dentry.modified_at);
            let d = &stored[p.dentry.dentry_id.as_str()];
            EventRecord::of_dentry(EventType::DentryCreated, &p.corp_id, d, operator, at)
        })
        .collect();
    events::append(t, &appended).await?;
    Ok(puts.iter().map(|p| stored.remove(p.dentry.dentry_id.as_str())).collect())
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

/// Inserts the dentries of `puts` in key order (space, folder, name: two
/// batches inserting the same new names never wait for each other in a
/// circle), a put before a later one of the same key; a name taken, also
/// by an earlier put of the list, is skipped. Answers the ids inserted.
async fn insert_dentries(t: &Tx<'_>, puts: &[&PutDentry]) -> DbResult<HashSet<String>> {
    if puts.is_empty() {
        return Ok(HashSet::new());
    }
    const SQL: &str = "INSERT INTO dentries (dentry_id, uuid, space_id, parent_id, kind, name, \
         size, version, status, blob_key, creator_id, modifier_id, created_at, modified_at) \
         SELECT u.dentry_id, u.uuid, u.space_id, u.parent_id, u.kind, u.name, u.size, u.version, \
         u.status, u.blob_key, u.creator_id, u.modifier_id, u.created_at, u.modified_at \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::int8[], $8::int8[], $9::text[], $10::text[], $11::text[], $12::text[], $13::int8[], \
         $14::int8[]) WITH ORDINALITY AS u(dentry_id, uuid, space_id, parent_id, kind, name, \
         size, version, status, blob_key, creator_id, modifier_id, created_at, modified_at, n) \
         ORDER BY u.space_id, u.parent_id, u.name, u.n \
         ON CONFLICT (space_id, parent_id, name) WHERE status = 'NORMAL' DO NOTHING \
         RETURNING dentry_id";
    let d = || puts.iter().map(|p| &p.dentry);
    let text = |f: fn(&DentryRecord) -> &str| d().map(f).collect::<Vec<&str>>();
    let number = |f: fn(&DentryRecord) -> i64| d().map(f).collect::<Vec<i64>>();
    let blob_keys: Vec<Option<&str>> = d().map(|d| d.blob_key.as_deref()).collect();
    all(
        t,
        SQL,
        &[
            &text(|d| &d.dentry_id),
            &text(|d| &d.uuid),
            &text(|d| &d.space_id),
            &text(|d| &d.parent_id),
            &text(|d| &d.kind),
            &text(|d| &d.name),
            &number(|d| d.size),
            &number(|d| d.version),
            &text(|d| &d.status),
            &blob_keys,
            &text(|d| &d.creator_id),
            &text(|d| &d.modifier_id),
            &number(|d| d.created_at),
            &number(|d| d.modified_at),
        ],
    )
    .await?
    .iter()
    .map(|row| Ok(row.try_get(0)?))
    .collect()
}

/// Upserts the app properties of `puts` (on their dentries).
async fn set_app_properties(t: &Tx<'_>, puts: &[&PutDentry]) -> DbResult<()> {
    let properties: Vec<(&str, &AppPropertyRecord)> = puts
        .iter()
        .flat_map(|p| p.app_properties.iter().map(|a| (p.dentry.dentry_id.as_str(), a)))
        .collect();
    if properties.is_empty() {
        return Ok(());
    }
    let column = |f: for<'a> fn(&(&'a str, &'a AppPropertyRecord)) -> &'a str| {
        properties.iter().map(f).collect::<Vec<&str>>()
    };
    exec(
        t,
        "INSERT INTO app_properties (dentry_id, app_id, name, value, visibility) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
         ON CONFLICT (dentry_id, app_id, name) \
         DO UPDATE SET value = excluded.value, visibility = excluded.visibility",
        &[
            &column(|(id, _)| id),
            &column(|(_, p)| &p.app_id),
            &column(|(_, p)| &p.name),
            &column(|(_, p)| &p.value),
            &column(|(_, p)| &p.visibility),
        ],
    )
    .await?;
    Ok(())
}

/// `ids` sorted and without repeats (rows are locked in this order).
fn sorted_unique<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
