//! WOPI (WebOffice): token pairs (table `wopi_tokens`, SHA-256 hashes
//! only), file locks (table `wopi_locks`) and PutFile's commit under a lock.
//!
//! # Concurrency
//!
//! One method, one READ COMMITTED transaction. A lock change is one
//! statement: LOCK an upsert whose `DO UPDATE … WHERE` takes the row over
//! only when it is expired or holds the same lock id (a racing LOCK waits for
//! the row, then re-checks the condition on the committed row); RELOCK,
//! REFRESH and UNLOCK conditional updates or deletes. A rotation locks the
//! old token pair's row `FOR UPDATE`, so a refresh token rotates once: a
//! second use finds it rotated and revokes the family.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use orgdrive_store::{
    LockChange, LockOutcome, PutDentry, PutOutcome, StoreError, StoreResult, WopiPut, WopiRotation,
    WopiStore, WopiTokenRecord,
};

use crate::error::refuse;
use crate::rows::dentries_by_id;
use crate::{exec, one, DbResult, PgStore};

macro_rules! token_columns {
    () => {
        "access_hash, refresh_hash, family_id, corp_id, app_id, union_id, space_id, \
         dentry_id, created_at, access_expires_at, refresh_expires_at, rotated_at"
    };
}

fn token_from_row(row: &Row) -> DbResult<WopiTokenRecord> {
    Ok(WopiTokenRecord {
        access_hash: row.try_get(0)?,
        refresh_hash: row.try_get(1)?,
        family_id: row.try_get(2)?,
        corp_id: row.try_get(3)?,
        app_id: row.try_get(4)?,
        union_id: row.try_get(5)?,
        space_id: row.try_get(6)?,
        dentry_id: row.try_get(7)?,
        created_at: row.try_get(8)?,
        access_expires_at: row.try_get(9)?,
        refresh_expires_at: row.try_get(10)?,
        rotated_at: row.try_get(11)?,
    })
}

async fn insert_tokens<C: GenericClient>(t: &C, w: &WopiTokenRecord) -> DbResult<()> {
    exec(
        t,
        concat!(
            "INSERT INTO wopi_tokens (",
            token_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ),
        &[
            &w.access_hash,
            &w.refresh_hash,
            &w.family_id,
            &w.corp_id,
            &w.app_id,
            &w.union_id,
            &w.space_id,
            &w.dentry_id,
            &w.created_at,
            &w.access_expires_at,
            &w.refresh_expires_at,
            &w.rotated_at,
        ],
    )
    .await?;
    Ok(())
}

/// The file's lock id, if one is live at `now`.
async fn live_lock<C: GenericClient>(
    c: &C,
    space_id: &str,
    dentry_id: &str,
    now: i64,
) -> DbResult<Option<String>> {
    Ok(one(
        c,
        "SELECT lock_id FROM wopi_locks WHERE space_id = $1 AND dentry_id = $2 AND expires_at > $3",
        &[&space_id, &dentry_id, &now],
    )
    .await?
    .map(|r| r.try_get(0))
    .transpose()?)
}

async fn change_lock<C: GenericClient>(
    t: &C,
    space_id: &str,
    dentry_id: &str,
    change: &LockChange,
    now: i64,
    expires_at: i64,
) -> DbResult<LockOutcome> {
    let changed = match change {
        LockChange::Lock { lock_id } => {
            exec(
                t,
                "INSERT INTO wopi_locks (space_id, dentry_id, lock_id, expires_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (space_id, dentry_id) DO UPDATE \
                 SET lock_id = excluded.lock_id, expires_at = excluded.expires_at \
                 WHERE wopi_locks.expires_at <= $5 OR wopi_locks.lock_id = excluded.lock_id",
                &[&space_id, &dentry_id, lock_id, &expires_at, &now],
            )
            .await?
        }
        LockChange::Relock { old_lock_id, lock_id } => {
            exec(
                t,
                "UPDATE wopi_locks SET lock_id = $3, expires_at = $4 \
                 WHERE space_id = $1 AND dentry_id = $2 AND lock_id = $5 AND expires_at > $6",
                &[&space_id, &dentry_id, lock_id, &expires_at, old_lock_id, &now],
            )
            .await?
        }
        LockChange::Refresh { lock_id } => {
            exec(
                t,
                "UPDATE wopi_locks SET expires_at = $4 \
                 WHERE space_id = $1 AND dentry_id = $2 AND lock_id = $3 AND expires_at > $5",
                &[&space_id, &dentry_id, lock_id, &expires_at, &now],
            )
            .await?
        }
        LockChange::Unlock { lock_id } => {
            exec(
                t,
                "DELETE FROM wopi_locks \
                 WHERE space_id = $1 AND dentry_id = $2 AND lock_id = $3 AND expires_at > $4",
                &[&space_id, &dentry_id, lock_id, &now],
            )
            .await?
        }
    };
    if changed == 1 {
        return Ok(LockOutcome::Done);
    }
    Ok(LockOutcome::Conflict(live_lock(t, space_id, dentry_id, now).await?))
}

async fn rotate<C: GenericClient>(
    t: &C,
    access_hash: &str,
    refresh_hash: &str,
    fresh: &WopiTokenRecord,
    now: i64,
) -> DbResult<WopiRotation> {
    const SQL: &str = concat!(
        "SELECT ",
        token_columns!(),
        " FROM wopi_tokens WHERE refresh_hash = $1 FOR UPDATE"
    );
    let Some(old) =
        one(t, SQL, &[&refresh_hash]).await?.as_ref().map(token_from_row).transpose()?
    else {
        return Ok(WopiRotation::Refused);
    };
    let bound = old.access_hash == access_hash
        && old.app_id == fresh.app_id
        && old.union_id == fresh.union_id
        && old.space_id == fresh.space_id
        && old.dentry_id == fresh.dentry_id;
    if !bound || old.refresh_expires_at <= now {
        return Ok(WopiRotation::Refused);
    }
    if old.rotated_at.is_some() {
        exec(t, "DELETE FROM wopi_tokens WHERE family_id = $1", &[&old.family_id]).await?;
        return Ok(WopiRotation::Reused);
    }
    exec(
        t,
        "UPDATE wopi_tokens SET rotated_at = $2 WHERE access_hash = $1",
        &[&old.access_hash, &now],
    )
    .await?;
    let fresh = WopiTokenRecord { family_id: old.family_id, rotated_at: None, ..fresh.clone() };
    insert_tokens(t, &fresh).await?;
    Ok(WopiRotation::Rotated)
}

/// PutFile's commit: the file's lock row (if any) is read `FOR UPDATE`, so
/// a racing UNLOCK or LOCK of the file waits for this commit; a put the
/// lock refuses consumes its upload and gives its reservation back.
async fn put_locked(
    t: &crate::lifecycle::Tx<'_>,
    put: &PutDentry,
    lock_id: Option<&str>,
    now: i64,
) -> DbResult<WopiPut> {
    let space_id = &put.dentry.space_id;
    let Some(target) = put.overwrite_dentry_id.as_deref() else {
        return refuse(StoreError::NotFound);
    };
    // The space's row before the file's lock row, the file and the upload, as
    // every write takes them (a batch's renames hold the space and then the
    // file; every writer of an upload's row holds its space first): the
    // put's own lock of the space, taken here already, before the lock row.
    exec(t, "SELECT 1 FROM spaces WHERE space_id = $1 FOR NO KEY UPDATE", &[space_id]).await?;
    let current: Option<String> = one(
        t,
        "SELECT lock_id FROM wopi_locks WHERE space_id = $1 AND dentry_id = $2 \
         AND expires_at > $3 FOR UPDATE",
        &[space_id, &target, &now],
    )
    .await?
    .map(|r| r.try_get(0))
    .transpose()?;
    let allowed = match (lock_id, &current) {
        (Some(given), Some(held)) => given == held,
        (None, Some(_)) => false,
        (_, None) => {
            // Unlocked: only a file of 0 bytes may be written (WOPI PutFile).
            let size = one(
                t,
                concat!(
                    "SELECT size FROM ",
                    dentries_by_id!("= $2"),
                    " d WHERE space_id = $1 AND status = 'NORMAL' AND kind = 'FILE'"
                ),
                &[space_id, &target],
            )
            .await?;
            match size {
                None => return refuse(StoreError::NotFound),
                Some(row) => row.try_get::<_, i64>(0)? == 0,
            }
        }
    };
    if !allowed {
        if let Some(key) = &put.upload_key {
            let held = crate::uploads::claim_upload(t, key, &put.upload_objects).await?;
            crate::uploads::settle(t, space_id, &put.corp_id, held, 0).await?;
        }
        return Ok(WopiPut::Conflict(current));
    }
    match crate::dentries::put_dentry_in(t, put).await? {
        PutOutcome::Overwritten(d) | PutOutcome::Created(d) | PutOutcome::Existing(d) => {
            Ok(WopiPut::Stored(Box::new(d)))
        }
    }
}

#[async_trait]
impl WopiStore for PgStore {
    async fn insert_wopi_tokens(&self, tokens: &WopiTokenRecord) -> StoreResult<()> {
        crate::tx!(self, |t| insert_tokens(&t, tokens).await?)
    }
    async fn find_wopi_access(
        &self,
        access_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<WopiTokenRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            token_columns!(),
            " FROM wopi_tokens WHERE access_hash = $1 AND access_expires_at > $2"
        );
        crate::read!(self, |c| {
            one(&c, SQL, &[&access_hash, &now_ms])
                .await?
                .as_ref()
                .map(token_from_row)
                .transpose()?
        })
    }
    async fn rotate_wopi_tokens(
        &self,
        access_hash: &str,
        refresh_hash: &str,
        fresh: &WopiTokenRecord,
        now_ms: i64,
    ) -> StoreResult<WopiRotation> {
        crate::tx!(self, |t| rotate(&t, access_hash, refresh_hash, fresh, now_ms).await?)
    }
    async fn purge_expired_wopi(&self, now_ms: i64) -> StoreResult<u64> {
        crate::tx!(self, |t| {
            let tokens =
                exec(&t, "DELETE FROM wopi_tokens WHERE refresh_expires_at <= $1", &[&now_ms])
                    .await?;
            let locks =
                exec(&t, "DELETE FROM wopi_locks WHERE expires_at <= $1", &[&now_ms]).await?;
            tokens + locks
        })
    }
    async fn get_wopi_lock(
        &self,
        space_id: &str,
        dentry_id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<String>> {
        crate::read!(self, |c| live_lock(&c, space_id, dentry_id, now_ms).await?)
    }
    async fn change_wopi_lock(
        &self,
        space_id: &str,
        dentry_id: &str,
        change: &LockChange,
        now_ms: i64,
        expires_at: i64,
    ) -> StoreResult<LockOutcome> {
        crate::tx!(self, |t| change_lock(&t, space_id, dentry_id, change, now_ms, expires_at)
            .await?)
    }
    async fn discard_wopi_upload(&self, upload_key: &str) -> StoreResult<Vec<String>> {
        crate::tx!(self, |t| match crate::uploads::remove_upload(&t, upload_key).await {
            Err(crate::DbError::Store(StoreError::UploadNotFound)) => Vec::new(),
            other => other?,
        })
    }
    async fn wopi_put(
        &self,
        put: &PutDentry,
        lock_id: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<WopiPut> {
        crate::tx!(self, |t| put_locked(&t, put, lock_id, now_ms).await?)
    }
}
