//! Upload sessions: opening them under the caps on open uploads, the byte
//! reservations their PUTs hold against the quota and the capacity, their
//! parts, the sweep of expired ones, and a commit's claim of one.
//!
//! Opening an upload commits without waiting for its WAL flush
//! (`SET LOCAL synchronous_commit TO OFF`, [`open_upload`]): a crash of the database server (not only a
//! power loss) may undo it until the next durable commit, which flushes the
//! WAL up to itself and so past it; the commit of an undone upload then
//! fails with `UploadNotFound`, and the sweep of stray uploads removes what
//! was PUT for it. An upload is opened under its space's row lock, which a
//! durable commit would hold through its flush: the openings of a busy
//! space would wait for each other's flushes. Byte reservations, which the
//! contract also marks deferred, stay durable here: nothing recomputes
//! them on a shared database (`reset_reservations` runs only when a server
//! opens its store alone), and a lost one would leave the counters short of
//! what a PUT then records.

use async_trait::async_trait;

use orgdrive_store::{
    ExpiredUpload, InlineObjectStore, OpenUploadLimits, PartRecorded, Reserve, StoreError,
    StoreResult, UploadPartRecord, UploadRecord, UploadStore,
};

use deadpool_postgres::Client;

use crate::combine::RoundTrip;
use crate::{
    all, exec, one, prepare_all, snapshot, tx, DbError, DbResult, Params, PgStore, Tx, TX_ATTEMPTS,
};

/// No inline objects: with PostgreSQL the content lives on an object store,
/// and a row per small object would only move its bytes into the busier of
/// the two services. Every object goes to the content store.
impl InlineObjectStore for PgStore {}

#[async_trait]
impl UploadStore for PgStore {
    /// The counts are made after locking the space's and the app's rows
    /// (in that order), so racing inserts count one after the other; the
    /// transaction goes in one round trip (`open_upload`), so the app's
    /// row is held for the count and the insert only. Not a combined write
    /// (`shared_tx`): an app's row taken inside batches holding other
    /// spaces made them wait for each other in a circle. It runs as a task
    /// of its own: a caller that goes away (its client hung up) does not cut
    /// the round trip off, which would cost the connection ([`RoundClient`]).
    ///
    /// [`RoundClient`]: crate::RoundClient
    async fn insert_upload(
        &self,
        upload: &UploadRecord,
        limits: &OpenUploadLimits,
    ) -> StoreResult<()> {
        let (pool, upload, limits) = (self.pool.clone(), upload.clone(), *limits);
        let opening = tokio::spawn(async move {
            let mut attempt = 1;
            loop {
                let client = crate::pooled_for_rounds(&pool).await?;
                match client.round(open_upload(&client, &upload, &limits)).await {
                    RoundTrip::RolledBack(e) if attempt < TX_ATTEMPTS && e.is_retryable() => {
                        attempt += 1;
                        tokio::task::yield_now().await;
                    }
                    other => return other.into_store().and_then(|opened| opened),
                }
            }
        });
        match opening.await {
            Ok(opened) => opened,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: the runtime is shutting down, perhaps mid-way.
            Err(_) => Err(StoreError::OutcomeUnknown("the upload's opening was cancelled".into())),
        }
    }

    async fn get_upload(
        &self,
        upload_key: &str,
    ) -> StoreResult<Option<(UploadRecord, Vec<UploadPartRecord>)>> {
        // The upload and its parts are asked for together (pipelined, one
        // round trip), whether the key exists or not: a key that exists
        // answers no later than one that does not.
        snapshot!(self, |t| {
            let key: &Params<'_> = &[&upload_key];
            let (upload, parts) = tokio::join!(
                one(
                    &t,
                    "SELECT upload_key, space_id, app_id, union_id, multipart, check_name, \
                     check_parent_id, check_size, check_md5, max_bytes, created_at, expires_at \
                     FROM uploads WHERE upload_key = $1",
                    key,
                ),
                all(
                    &t,
                    "SELECT part_number, size, md5, object_key FROM upload_parts \
                     WHERE upload_key = $1 ORDER BY part_number",
                    key,
                ),
            );
            let (upload, parts) = (upload?, parts?);
            match upload {
                None => None,
                Some(row) => {
                    let upload = UploadRecord {
                        upload_key: row.try_get(0)?,
                        space_id: row.try_get(1)?,
                        app_id: row.try_get(2)?,
                        union_id: row.try_get(3)?,
                        multipart: row.try_get(4)?,
                        check_name: row.try_get(5)?,
                        check_parent_id: row.try_get(6)?,
                        check_size: row.try_get(7)?,
                        check_md5: row.try_get(8)?,
                        max_bytes: row.try_get(9)?,
                        created_at: row.try_get(10)?,
                        expires_at: row.try_get(11)?,
                    };
                    let parts = parts
                        .iter()
                        .map(|row| {
                            Ok(UploadPartRecord {
                                part_number: row.try_get(0)?,
                                size: row.try_get(1)?,
                                md5: Some(row.try_get::<_, String>(2)?).filter(|m| !m.is_empty()),
                                object_key: row.try_get(3)?,
                            })
                        })
                        .collect::<DbResult<Vec<_>>>()?;
                    Some((upload, parts))
                }
            }
        })
    }

    /// The upload's space's row is locked first (as a commit takes its
    /// space before its upload: [`lock_space_of`]), then the upload's, so
    /// racing reservations for one upload are checked against its
    /// announced size one after the other; the quota and the capacity are
    /// held by the conditional updates of `adjust_reservation` (and, for
    /// `AtMost`, the room is read under the space's and org's row locks).
    async fn reserve_upload_bytes(
        &self,
        upload_key: &str,
        part_number: i64,
        bytes: Reserve,
        now_ms: i64,
    ) -> StoreResult<i64> {
        let (wanted, at_most) = match bytes {
            Reserve::Exactly(n) => (n, false),
            Reserve::AtMost(n) => (n, true),
        };
        tx!(self, |t| {
            lock_space_of(&t, upload_key).await?;
            let upload = one(
                &t,
                "SELECT u.space_id, s.corp_id, u.max_bytes - u.reserved_bytes + \
                     COALESCE((SELECT size FROM upload_parts p \
                               WHERE p.upload_key = u.upload_key AND p.part_number = $2), 0) \
                 FROM uploads u JOIN spaces s ON s.space_id = u.space_id \
                 WHERE u.upload_key = $1 AND u.expires_at > $3 FOR UPDATE OF u",
                &[&upload_key, &part_number, &now_ms],
            )
            .await?
            .ok_or(StoreError::UploadNotFound)?;
            let space_id: String = upload.try_get(0)?;
            let corp_id: String = upload.try_get(1)?;
            // Room left under the announced size, the quota, the capacity.
            let announced: Option<i64> = upload.try_get(2)?;
            let (in_space, in_org): (Option<i64>, Option<i64>) = if at_most {
                // What is left is read under the counters' locks, held to
                // commit: racing reservations share the room one after the
                // other. (An exact reservation needs no room read: its
                // conditional updates decide.)
                let room = one(
                    &t,
                    "SELECT s.quota - s.used_bytes - s.reserved_bytes, \
                     o.capacity - o.used_bytes - o.reserved_bytes \
                     FROM spaces s JOIN orgs o ON o.corp_id = s.corp_id \
                     WHERE s.space_id = $1 FOR NO KEY UPDATE OF s, o",
                    &[&space_id],
                )
                .await?
                .ok_or(StoreError::UploadNotFound)?;
                (room.try_get(0)?, room.try_get(1)?)
            } else {
                (None, None)
            };
            let granted = if at_most {
                [Some(wanted), announced, in_space, in_org].into_iter().flatten().min()
            } else {
                Some(wanted)
            }
            .unwrap_or(wanted);
            if announced.is_some_and(|room| granted > room || room <= 0 && at_most) {
                return Err(StoreError::UploadTooLarge)?;
            }
            if granted <= 0 && at_most {
                return Err(StoreError::QuotaExceeded { space: in_space.is_some_and(|r| r <= 0) })?;
            }
            adjust_reservation(&t, upload_key, &space_id, &corp_id, granted).await?;
            granted
        })
    }

    /// Locks every space's and then every org's row first (the counters'
    /// rows every reservation updates), so the sums are read when no
    /// reservation can change them.
    async fn reset_reservations(&self) -> StoreResult<u64> {
        tx!(self, |t| {
            lock_counters(&t).await?;
            let uploads = exec(
                &t,
                "UPDATE uploads u SET reserved_bytes = p.total \
                 FROM (SELECT u2.upload_key, COALESCE(SUM(p2.size), 0)::BIGINT AS total \
                       FROM uploads u2 LEFT JOIN upload_parts p2 ON p2.upload_key = u2.upload_key \
                       GROUP BY u2.upload_key) p \
                 WHERE p.upload_key = u.upload_key AND u.reserved_bytes <> p.total",
                &[],
            )
            .await?;
            uploads + recount_reservations(&t).await?
        })
    }

    /// Under the upload's row lock (its space's first): an upload a commit,
    /// a sweep or a discard removed meanwhile has given back all it held,
    /// these bytes too, so nothing is released twice; at most what the
    /// upload holds is.
    async fn release_upload_bytes(&self, upload_key: &str, bytes: i64) -> StoreResult<()> {
        tx!(self, |t| {
            lock_space_of(&t, upload_key).await?;
            let held = one(
                &t,
                "SELECT u.space_id, s.corp_id, u.reserved_bytes FROM uploads u \
                 JOIN spaces s ON s.space_id = u.space_id WHERE u.upload_key = $1 FOR UPDATE OF u",
                &[&upload_key],
            )
            .await?;
            if let Some(row) = held {
                let (space_id, corp_id, reserved): (String, String, i64) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                let released = bytes.min(reserved);
                adjust_reservation(&t, upload_key, &space_id, &corp_id, -released).await?;
            }
        })
    }

    async fn record_upload_part(
        &self,
        upload_key: &str,
        part: &UploadPartRecord,
        reserved: i64,
    ) -> StoreResult<PartRecorded> {
        tx!(self, |t| {
            // The space's row before the upload's, as a commit.
            lock_space_of(&t, upload_key).await?;
            let found = one(
                &t,
                "SELECT u.space_id, s.corp_id, p.size, p.object_key, \
                 u.max_bytes - u.reserved_bytes FROM uploads u \
                 JOIN spaces s ON s.space_id = u.space_id \
                 LEFT JOIN upload_parts p \
                     ON p.upload_key = u.upload_key AND p.part_number = $2 \
                 WHERE u.upload_key = $1 FOR UPDATE OF u",
                &[&upload_key, &part.part_number],
            )
            .await?;
            match found {
                None => PartRecorded::UploadGone,
                Some(row) => {
                    let space_id: String = row.try_get(0)?;
                    let corp_id: String = row.try_get(1)?;
                    let old_size: Option<i64> = row.try_get(2)?;
                    let replaced: Option<String> = row.try_get(3)?;
                    let announced_room: Option<i64> = row.try_get(4)?;
                    // The PUT's reservation becomes the part's size; the
                    // part it replaces gives its bytes back. Bytes beyond
                    // both are reserved now, within the announced size (and
                    // the quota, in `adjust_reservation`).
                    let delta = part.size - reserved - old_size.unwrap_or(0);
                    if delta > 0 && announced_room.is_some_and(|room| delta > room) {
                        return Err(StoreError::UploadTooLarge.into());
                    }
                    exec(
                        &t,
                        "INSERT INTO upload_parts (upload_key, part_number, size, md5, object_key) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (upload_key, part_number) \
                         DO UPDATE SET size = excluded.size, md5 = excluded.md5, \
                         object_key = excluded.object_key",
                        &[
                            &upload_key,
                            &part.part_number,
                            &part.size,
                            &part.md5.as_deref().unwrap_or_default(),
                            &part.object_key,
                        ],
                    )
                    .await?;
                    adjust_reservation(&t, upload_key, &space_id, &corp_id, delta).await?;
                    PartRecorded::Recorded { replaced }
                }
            }
        })
    }

    /// Takes the spaces' rows before the uploads', as a commit does (its
    /// batch holds the space, then claims the upload): the expired uploads
    /// are found unlocked, then their spaces and orgs are locked in key
    /// order (holding no upload while it waits), then the uploads still
    /// expired `FOR UPDATE SKIP LOCKED`. An upload another transaction
    /// holds (a commit claiming it, a part being recorded, a WOPI save) is
    /// never waited for: it is left to the next sweep, or gone by then.
    /// Racing sweeps take each upload once.
    async fn take_expired_uploads(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<ExpiredUpload>> {
        let limit = i64::from(limit);
        tx!(self, |t| {
            let found: Vec<String> = all(
                &t,
                "SELECT upload_key FROM uploads WHERE expires_at < $1 \
                 ORDER BY expires_at LIMIT $2",
                &[&before_ms, &limit],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
            if found.is_empty() {
                return Ok(Vec::new());
            }
            // Their spaces, then their orgs, in key order, before any
            // counter changes: a batch of combined writes takes them in
            // that order too (one upload's space, then its org, then
            // the next upload's space would wait in a circle with it).
            exec(
                &t,
                "SELECT 1 FROM spaces WHERE space_id IN \
                 (SELECT space_id FROM uploads WHERE upload_key = ANY($1)) \
                 ORDER BY space_id FOR NO KEY UPDATE",
                &[&found],
            )
            .await?;
            exec(
                &t,
                "SELECT 1 FROM orgs WHERE corp_id IN (SELECT s.corp_id FROM spaces s \
                 JOIN uploads u ON u.space_id = s.space_id WHERE u.upload_key = ANY($1)) \
                 ORDER BY corp_id FOR NO KEY UPDATE",
                &[&found],
            )
            .await?;
            let keys: Vec<String> = all(
                &t,
                "SELECT upload_key FROM uploads WHERE upload_key = ANY($1) \
                 AND expires_at < $2 ORDER BY expires_at FOR UPDATE SKIP LOCKED",
                &[&found, &before_ms],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
            let mut expired = Vec::with_capacity(keys.len());
            for upload_key in keys {
                let objects = remove_upload(&t, &upload_key).await?;
                expired.push(ExpiredUpload { upload_key, objects });
            }
            expired
        })
    }
}

/// Locks every space's row, then every org's, in key order: nothing can
/// change a byte counter (or what it sums) until the transaction ends.
pub(crate) async fn lock_counters(t: &Tx<'_>) -> DbResult<()> {
    exec(t, "SELECT 1 FROM spaces ORDER BY space_id FOR UPDATE", &[]).await?;
    exec(t, "SELECT 1 FROM orgs ORDER BY corp_id FOR UPDATE", &[]).await?;
    Ok(())
}

/// Sets every space's and org's reserved counter to the sum it summarises;
/// returns how many changed.
pub(crate) async fn recount_reservations(t: &Tx<'_>) -> DbResult<u64> {
    let spaces = exec(
        t,
        "UPDATE spaces s SET reserved_bytes = sums.total \
         FROM (SELECT s2.space_id, COALESCE(SUM(u.reserved_bytes), 0)::BIGINT AS total \
               FROM spaces s2 LEFT JOIN uploads u ON u.space_id = s2.space_id \
               GROUP BY s2.space_id) sums \
         WHERE sums.space_id = s.space_id AND s.reserved_bytes <> sums.total",
        &[],
    )
    .await?;
    let orgs = exec(
        t,
        "UPDATE orgs o SET reserved_bytes = sums.total \
         FROM (SELECT o2.corp_id, COALESCE(SUM(s.reserved_bytes), 0)::BIGINT AS total \
               FROM orgs o2 LEFT JOIN spaces s ON s.corp_id = o2.corp_id \
               GROUP BY o2.corp_id) sums \
         WHERE sums.corp_id = o.corp_id AND o.reserved_bytes <> sums.total",
        &[],
    )
    .await?;
    Ok(spaces + orgs)
}

/// Locks the row of an upload's space (`FOR NO KEY UPDATE`), not the
/// upload's. Every write of an upload's row takes it before: a commit holds
/// its space (a batch: its spaces, then its orgs) before it claims its
/// upload, so a writer that took the upload first and then waited for its
/// space could wait for that commit in a circle. (An org's row may come
/// after the upload's: whoever holds an org and waits for an upload holds
/// that upload's space, which this lock keeps.) Nothing if the upload is
/// gone (the caller finds it so).
async fn lock_space_of(t: &Tx<'_>, upload_key: &str) -> DbResult<()> {
    exec(
        t,
        "SELECT 1 FROM spaces WHERE space_id = \
         (SELECT space_id FROM uploads WHERE upload_key = $1) FOR NO KEY UPDATE",
        &[&upload_key],
    )
    .await?;
    Ok(())
}

/// Changes an upload's reservation by `delta` bytes, and its space's and
/// org's with it. Growth is checked against the quota and the capacity
/// (committed plus reserved bytes) by the updates themselves, under the
/// rows' locks; shrinking never fails.
async fn adjust_reservation(
    t: &Tx<'_>,
    upload_key: &str,
    space_id: &str,
    corp_id: &str,
    delta: i64,
) -> DbResult<()> {
    if delta == 0 {
        return Ok(());
    }
    let space = exec(
        t,
        "UPDATE spaces SET reserved_bytes = reserved_bytes + $1 WHERE space_id = $2 \
         AND ($1::BIGINT < 0 OR quota IS NULL OR used_bytes + reserved_bytes + $1 <= quota)",
        &[&delta, &space_id],
    )
    .await?;
    if space == 0 {
        return Err(StoreError::QuotaExceeded { space: true }.into());
    }
    let org = exec(
        t,
        "UPDATE orgs SET reserved_bytes = reserved_bytes + $1 WHERE corp_id = $2 \
         AND ($1::BIGINT < 0 OR capacity IS NULL OR used_bytes + reserved_bytes + $1 <= capacity)",
        &[&delta, &corp_id],
    )
    .await?;
    if org == 0 {
        return Err(StoreError::QuotaExceeded { space: false }.into());
    }
    exec(
        t,
        "UPDATE uploads SET reserved_bytes = reserved_bytes + $1 WHERE upload_key = $2",
        &[&delta, &upload_key],
    )
    .await?;
    Ok(())
}

/// Deletes an upload with its parts, releasing its reservation; returns the
/// objects its parts were written to. `UploadNotFound` if it is gone. Its
/// space's row is locked before its own ([`lock_space_of`]; the sweeper
/// holds it already).
pub(crate) async fn remove_upload(t: &Tx<'_>, upload_key: &str) -> DbResult<Vec<String>> {
    lock_space_of(t, upload_key).await?;
    let row = one(
        t,
        "SELECT u.space_id, s.corp_id, u.reserved_bytes FROM uploads u \
         JOIN spaces s ON s.space_id = u.space_id WHERE u.upload_key = $1 FOR UPDATE OF u",
        &[&upload_key],
    )
    .await?
    .ok_or(StoreError::UploadNotFound)?;
    let (space_id, corp_id, held): (String, String, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    adjust_reservation(t, upload_key, &space_id, &corp_id, -held).await?;
    let objects = all(
        t,
        "SELECT object_key FROM upload_parts WHERE upload_key = $1 ORDER BY part_number",
        &[&upload_key],
    )
    .await?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<Result<_, _>>()?;
    exec(t, "DELETE FROM uploads WHERE upload_key = $1", &[&upload_key]).await?;
    Ok(objects)
}

/// A commit consumes its upload — only if the parts it was made from are
/// still exactly the recorded ones — and returns the bytes the upload held
/// reserved (the caller settles them on the space and org with its charge).
/// The upload's row is locked first: of racing commits of one upload, one
/// claims it and the others find it gone.
pub(crate) async fn claim_upload(
    t: &Tx<'_>,
    upload_key: &str,
    used_objects: &[String],
) -> DbResult<i64> {
    let held: i64 = one(
        t,
        "SELECT reserved_bytes FROM uploads WHERE upload_key = $1 FOR UPDATE",
        &[&upload_key],
    )
    .await?
    .ok_or(StoreError::UploadNotFound)?
    .try_get(0)?;
    let mut recorded: Vec<String> = all(
        t,
        "DELETE FROM upload_parts WHERE upload_key = $1 RETURNING object_key",
        &[&upload_key],
    )
    .await?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<Result<_, _>>()?;
    let mut used = used_objects.to_vec();
    recorded.sort();
    used.sort();
    if recorded != used {
        return Err(StoreError::UploadChanged.into());
    }
    exec(t, "DELETE FROM uploads WHERE upload_key = $1", &[&upload_key]).await?;
    Ok(held)
}

/// Opens an upload: its row, unless the space or the app has too many
/// open ones (then `TooManyUploads`, nothing written). One transaction sent
/// in one round trip, pipelined: `BEGIN` with a commit that does not wait
/// for its flush (see the module doc), the space's row locked, then the
/// app's (every path takes a space before anything else; the app's row is
/// held only for the count and the insert), the counts and the insert in
/// one statement ([`OPEN_SQL`], whose snapshot — READ COMMITTED: one a
/// statement — taken once the locks are held, sees every upload opened
/// before), `COMMIT`. Once sent, it is not undone by the caller going
/// away: an upload opened for a request cancelled meanwhile holds its
/// place under the caps until it expires, as one whose key was answered
/// and never used does.
async fn open_upload(
    client: &Client,
    u: &UploadRecord,
    limits: &OpenUploadLimits,
) -> RoundTrip<StoreResult<()>> {
    if let Err(e) = prepare_all(client, &[LOCK_SPACE, LOCK_APP, OPEN_SQL]).await {
        // Nothing sent but the preparation: nothing written.
        return RoundTrip::RolledBack(e);
    }
    let (per_space, per_app) = (i64::from(limits.per_space), i64::from(limits.per_app));
    let open: &Params<'_> = &[
        &u.upload_key,
        &u.space_id,
        &u.app_id,
        &u.union_id,
        &u.multipart,
        &u.check_name,
        &u.check_parent_id,
        &u.check_size,
        &u.check_md5,
        &u.max_bytes,
        &u.created_at,
        &u.expires_at,
        &per_space,
        &per_app,
    ];
    let (space, app): (&Params<'_>, &Params<'_>) = (&[&u.space_id], &[&u.app_id]);
    let (begun, space, app, opened, committed) = tokio::join!(
        biased;
        client.batch_execute(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL synchronous_commit TO OFF"
        ),
        exec(client, LOCK_SPACE, space),
        exec(client, LOCK_APP, app),
        one(client, OPEN_SQL, open),
        client.batch_execute("COMMIT"),
    );
    let opened = space.and(app).and(opened).and_then(|row| {
        let row = row.ok_or_else(|| StoreError::Backend("no counts".into()))?;
        let (space_full, inserted): (bool, bool) = (row.try_get(0)?, row.try_get(1)?);
        Ok(match inserted {
            true => Ok(()),
            false => Err(StoreError::TooManyUploads { per_space: space_full }),
        })
    });
    RoundTrip::of(begun.map_err(DbError::from), opened, committed.map_err(DbError::from))
}

const LOCK_SPACE: &str = "SELECT 1 FROM spaces WHERE space_id = $1 FOR NO KEY UPDATE";
const LOCK_APP: &str = "SELECT 1 FROM apps WHERE app_id = $1 FOR NO KEY UPDATE";
/// The open uploads of the space `$2` and of the app `$3`, and the upload
/// (`$1`–`$12`) inserted if the space has fewer than `$13` and the app
/// fewer than `$14`: whether the space had its `$13`, and whether the
/// upload was inserted.
const OPEN_SQL: &str = "WITH counts AS MATERIALIZED (SELECT \
         (SELECT COUNT(*) FROM uploads WHERE space_id = $2) AS in_space, \
         (SELECT COUNT(*) FROM uploads WHERE app_id = $3) AS in_app), \
     inserted AS (INSERT INTO uploads (upload_key, space_id, app_id, union_id, multipart, \
         check_name, check_parent_id, check_size, check_md5, max_bytes, created_at, \
         expires_at) SELECT $1::text, $2::text, $3::text, $4::text, $5::boolean, $6::text, \
         $7::text, $8::bigint, $9::text, $10::bigint, $11::bigint, $12::bigint FROM counts \
         WHERE in_space < $13::bigint AND in_app < $14::bigint RETURNING 1) \
     SELECT in_space >= $13::bigint, EXISTS (SELECT 1 FROM inserted) FROM counts";

/// Releases `released` reserved bytes and adds `charged` committed bytes on
/// the space and org counters, in one `UPDATE` each, unless a cap would be
/// passed (committed plus reserved bytes count against it). Each update
/// re-reads its row under the row's lock, held to commit: racing charges
/// are applied one after the other.
pub(crate) async fn settle(
    t: &Tx<'_>,
    space_id: &str,
    corp_id: &str,
    released: i64,
    charged: i64,
) -> DbResult<()> {
    if released == 0 && charged == 0 {
        return Ok(());
    }
    let space = exec(
        t,
        "UPDATE spaces SET reserved_bytes = reserved_bytes - $1, used_bytes = used_bytes + $2 \
         WHERE space_id = $3 \
         AND ($2::BIGINT = 0 OR quota IS NULL OR used_bytes + reserved_bytes - $1 + $2 <= quota)",
        &[&released, &charged, &space_id],
    )
    .await?;
    if space == 0 {
        return Err(StoreError::QuotaExceeded { space: true }.into());
    }
    let org = exec(
        t,
        "UPDATE orgs SET reserved_bytes = reserved_bytes - $1, used_bytes = used_bytes + $2 \
         WHERE corp_id = $3 \
         AND ($2::BIGINT = 0 OR capacity IS NULL OR used_bytes + reserved_bytes - $1 + $2 <= capacity)",
        &[&released, &charged, &corp_id],
    )
    .await?;
    if org == 0 {
        return Err(StoreError::QuotaExceeded { space: false }.into());
    }
    Ok(())
}
