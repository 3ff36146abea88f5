//! SQLite: WebOffice token pairs (table `wopi_tokens`, hashes only), WOPI
//! locks (table `wopi_locks`: compare-and-set in one statement) and PutFile's
//! lock check in the transaction of its commit.

use async_trait::async_trait;
use rusqlite::{params, Connection, Row};

use crate::drive::{claim_upload, put_dentry, remove_upload, settle};
use crate::*;
use orgdrive_store::{
    LockChange, LockOutcome, PutDentry, PutOutcome, WopiPut, WopiRotation, WopiStore,
    WopiTokenRecord,
};

macro_rules! token_columns {
    () => {
        "access_hash, refresh_hash, family_id, corp_id, app_id, union_id, space_id, \
         dentry_id, created_at, access_expires_at, refresh_expires_at, rotated_at"
    };
}

fn token_from_row(row: &Row) -> rusqlite::Result<WopiTokenRecord> {
    Ok(WopiTokenRecord {
        access_hash: row.get(0)?,
        refresh_hash: row.get(1)?,
        family_id: row.get(2)?,
        corp_id: row.get(3)?,
        app_id: row.get(4)?,
        union_id: row.get(5)?,
        space_id: row.get(6)?,
        dentry_id: row.get(7)?,
        created_at: row.get(8)?,
        access_expires_at: row.get(9)?,
        refresh_expires_at: row.get(10)?,
        rotated_at: row.get(11)?,
    })
}

fn insert_tokens(conn: &Connection, t: &WopiTokenRecord) -> StoreResult<()> {
    exec(
        conn,
        concat!(
            "INSERT INTO wopi_tokens (",
            token_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ),
        params![
            t.access_hash,
            t.refresh_hash,
            t.family_id,
            t.corp_id,
            t.app_id,
            t.union_id,
            t.space_id,
            t.dentry_id,
            t.created_at,
            t.access_expires_at,
            t.refresh_expires_at,
            t.rotated_at,
        ],
    )
    .map_err(classify)?;
    Ok(())
}

/// The file's lock id, if one is live at `now`.
fn live_lock(
    conn: &Connection,
    space_id: &str,
    dentry_id: &str,
    now: i64,
) -> StoreResult<Option<String>> {
    one(
        conn,
        "SELECT lock_id FROM wopi_locks WHERE space_id = ?1 AND dentry_id = ?2 AND expires_at > ?3",
        params![space_id, dentry_id, now],
        |row| row.get(0),
    )
}

fn change_lock(
    conn: &Connection,
    space_id: &str,
    dentry_id: &str,
    change: &LockChange,
    now: i64,
    expires_at: i64,
) -> StoreResult<LockOutcome> {
    let changed = match change {
        // One upsert: it takes the lock over none or an expired one, and
        // extends the same id; any other live lock leaves it unchanged.
        LockChange::Lock { lock_id } => exec(
            conn,
            "INSERT INTO wopi_locks (space_id, dentry_id, lock_id, expires_at) \
             VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (space_id, dentry_id) DO UPDATE \
             SET lock_id = excluded.lock_id, expires_at = excluded.expires_at \
             WHERE wopi_locks.expires_at <= ?5 OR wopi_locks.lock_id = excluded.lock_id",
            params![space_id, dentry_id, lock_id, expires_at, now],
        ),
        LockChange::Relock { old_lock_id, lock_id } => exec(
            conn,
            "UPDATE wopi_locks SET lock_id = ?3, expires_at = ?4 \
             WHERE space_id = ?1 AND dentry_id = ?2 AND lock_id = ?5 AND expires_at > ?6",
            params![space_id, dentry_id, lock_id, expires_at, old_lock_id, now],
        ),
        LockChange::Refresh { lock_id } => exec(
            conn,
            "UPDATE wopi_locks SET expires_at = ?4 \
             WHERE space_id = ?1 AND dentry_id = ?2 AND lock_id = ?3 AND expires_at > ?5",
            params![space_id, dentry_id, lock_id, expires_at, now],
        ),
        LockChange::Unlock { lock_id } => exec(
            conn,
            "DELETE FROM wopi_locks \
             WHERE space_id = ?1 AND dentry_id = ?2 AND lock_id = ?3 AND expires_at > ?4",
            params![space_id, dentry_id, lock_id, now],
        ),
    }
    .map_err(classify)?;
    if changed == 1 {
        return Ok(LockOutcome::Done);
    }
    Ok(LockOutcome::Conflict(live_lock(conn, space_id, dentry_id, now)?))
}

fn rotate(
    conn: &Connection,
    access_hash: &str,
    refresh_hash: &str,
    fresh: &WopiTokenRecord,
    now: i64,
) -> StoreResult<WopiRotation> {
    let Some(old) = one(
        conn,
        concat!("SELECT ", token_columns!(), " FROM wopi_tokens WHERE refresh_hash = ?1"),
        [refresh_hash],
        token_from_row,
    )?
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
        exec(conn, "DELETE FROM wopi_tokens WHERE family_id = ?1", [&old.family_id])
            .map_err(backend)?;
        return Ok(WopiRotation::Reused);
    }
    let marked = exec(
        conn,
        "UPDATE wopi_tokens SET rotated_at = ?2 WHERE access_hash = ?1 AND rotated_at IS NULL",
        params![old.access_hash, now],
    )
    .map_err(backend)?;
    if marked != 1 {
        return Ok(WopiRotation::Refused);
    }
    let fresh = WopiTokenRecord { family_id: old.family_id, rotated_at: None, ..fresh.clone() };
    insert_tokens(conn, &fresh)?;
    Ok(WopiRotation::Rotated)
}

fn put_locked(
    conn: &Connection,
    put: &PutDentry,
    lock_id: Option<&str>,
    now: i64,
) -> StoreResult<WopiPut> {
    let space_id = &put.dentry.space_id;
    let target = put.overwrite_dentry_id.as_deref().ok_or(StoreError::NotFound)?;
    let current = live_lock(conn, space_id, target, now)?;
    let allowed = match (lock_id, &current) {
        (Some(given), Some(held)) => given == held,
        (None, Some(_)) => false,
        (_, None) => {
            // Unlocked: only a file of 0 bytes may be written (WOPI PutFile).
            let size: Option<i64> = one(
                conn,
                "SELECT size FROM dentries WHERE space_id = ?1 AND dentry_id = ?2 \
                 AND status = 'NORMAL' AND kind = 'FILE'",
                params![space_id, target],
                |row| row.get(0),
            )?;
            match size {
                None => return Err(StoreError::NotFound),
                Some(size) => size == 0,
            }
        }
    };
    if !allowed {
        // The upload is consumed and its reservation given back: the caller
        // removes the object.
        if let Some(key) = &put.upload_key {
            let held = claim_upload(conn, key, &put.upload_objects)?;
            settle(conn, space_id, &put.corp_id, held, 0)?;
        }
        return Ok(WopiPut::Conflict(current));
    }
    match put_dentry(conn, put)? {
        PutOutcome::Overwritten(d) | PutOutcome::Created(d) | PutOutcome::Existing(d) => {
            Ok(WopiPut::Stored(Box::new(d)))
        }
    }
}

#[async_trait]
impl WopiStore for SqliteStore {
    async fn insert_wopi_tokens(&self, tokens: &WopiTokenRecord) -> StoreResult<()> {
        let tokens = tokens.clone();
        self.write(move |conn| insert_tokens(conn, &tokens)).await
    }

    async fn find_wopi_access(
        &self,
        access_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<WopiTokenRecord>> {
        self.read(|conn| {
            one(
                conn,
                concat!(
                    "SELECT ",
                    token_columns!(),
                    " FROM wopi_tokens WHERE access_hash = ?1 AND access_expires_at > ?2"
                ),
                params![access_hash, now_ms],
                token_from_row,
            )
        })
    }

    async fn rotate_wopi_tokens(
        &self,
        access_hash: &str,
        refresh_hash: &str,
        fresh: &WopiTokenRecord,
        now_ms: i64,
    ) -> StoreResult<WopiRotation> {
        let (access_hash, refresh_hash, fresh) =
            (access_hash.to_string(), refresh_hash.to_string(), fresh.clone());
        self.write(move |conn| rotate(conn, &access_hash, &refresh_hash, &fresh, now_ms)).await
    }

    async fn purge_expired_wopi(&self, now_ms: i64) -> StoreResult<u64> {
        self.write(move |conn| {
            let tokens =
                exec(conn, "DELETE FROM wopi_tokens WHERE refresh_expires_at <= ?1", [now_ms])
                    .map_err(backend)?;
            let locks = exec(conn, "DELETE FROM wopi_locks WHERE expires_at <= ?1", [now_ms])
                .map_err(backend)?;
            Ok(tokens + locks)
        })
        .await
    }

    async fn get_wopi_lock(
        &self,
        space_id: &str,
        dentry_id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<String>> {
        self.read(|conn| live_lock(conn, space_id, dentry_id, now_ms))
    }

    async fn change_wopi_lock(
        &self,
        space_id: &str,
        dentry_id: &str,
        change: &LockChange,
        now_ms: i64,
        expires_at: i64,
    ) -> StoreResult<LockOutcome> {
        let (space_id, dentry_id, change) =
            (space_id.to_string(), dentry_id.to_string(), change.clone());
        self.write(move |conn| {
            change_lock(conn, &space_id, &dentry_id, &change, now_ms, expires_at)
        })
        .await
    }

    async fn discard_wopi_upload(&self, upload_key: &str) -> StoreResult<Vec<String>> {
        let upload_key = upload_key.to_string();
        self.write(move |conn| match remove_upload(conn, &upload_key) {
            Err(StoreError::UploadNotFound) => Ok(Vec::new()),
            other => other,
        })
        .await
    }

    async fn wopi_put(
        &self,
        put: &PutDentry,
        lock_id: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<WopiPut> {
        let (put, lock_id) = (put.clone(), lock_id.map(str::to_string));
        self.write(move |conn| put_locked(conn, &put, lock_id.as_deref(), now_ms)).await
    }
}
