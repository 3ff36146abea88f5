//! SQLite: spaces, files and folders, versions, app properties, uploads and
//! the byte counters quotas are enforced on; consistency scans and repair.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::OnceLock;

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, Connection};

use crate::events;
use crate::read::snapshot;
use crate::*;
use orgdrive_store::{
    AppPropertyRecord, BlobReference, ConsistencyScan, Cursor, CursorValue, DentryStore,
    EventRecord, EventType, ExpiredUpload, FolderLink, Lease, MaintenanceStore, NameConflict,
    OpenUploadLimits, PartRecorded, PutDentry, PutOutcome, Reserve, SortKey, SpaceStore,
    StoreGauges, TreeNode, UploadPartRecord, UploadRecord, UploadStore, UsageCheck, VersionRecord,
    WriteFigures, MAX_RENAME_COUNTER,
};

/// Bytes of content per space: every file's current content and every kept version.
macro_rules! content_by_space {
    () => {
        "content (space_id, size) AS ( \
         SELECT space_id, size FROM dentries WHERE kind = 'FILE' \
         UNION ALL \
         SELECT d.space_id, v.size FROM dentry_versions v JOIN dentries d \
         ON d.dentry_id = v.dentry_id)"
    };
}

#[async_trait]
impl SpaceStore for SqliteStore {
    async fn insert_space_once(&self, space: &SpaceRecord) -> StoreResult<(SpaceRecord, bool)> {
        const SELECT: &str = concat!(
            "SELECT ",
            space_columns!(),
            " FROM spaces WHERE corp_id = ?1 AND app_id = ?2 AND scene = ?3 AND scene_id = ?4"
        );
        let space = space.clone();
        self.write(move |conn| {
            let inserted = exec(
                conn,
                concat!(
                    "INSERT INTO spaces (",
                    space_columns!(),
                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
                     ?15, ?16, ?17, ?18) ON CONFLICT (corp_id, app_id, scene, scene_id) DO NOTHING"
                ),
                params![
                    space.space_id,
                    space.corp_id,
                    space.app_id,
                    space.scene,
                    space.scene_id,
                    space.name,
                    space.owner_type,
                    space.owner_id,
                    space.creator_id,
                    space.modifier_id,
                    space.quota,
                    space.used_bytes,
                    space.status,
                    space.can_search,
                    space.can_rename,
                    space.can_record_recent_file,
                    space.created_at,
                    space.modified_at,
                ],
            )
            .map_err(classify)?
                == 1;
            let key = [&space.corp_id, &space.app_id, &space.scene, &space.scene_id];
            let stored = one(conn, SELECT, key, space_from_row)?
                .ok_or_else(|| StoreError::Backend("the space vanished".into()))?;
            Ok((stored, inserted))
        })
        .await
    }

    async fn get_space(&self, space_id: &str) -> StoreResult<Option<SpaceRecord>> {
        const SQL: &str = concat!("SELECT ", space_columns!(), " FROM spaces WHERE space_id = ?1");
        self.read(|conn| one(conn, SQL, [space_id], space_from_row))
    }

    async fn org_used_bytes(&self, corp_id: &str) -> StoreResult<i64> {
        self.read(|conn| {
            let used =
                one(conn, "SELECT used_bytes FROM orgs WHERE corp_id = ?1", [corp_id], |r| {
                    r.get(0)
                })?;
            Ok(used.unwrap_or(0))
        })
    }

    async fn app_used_bytes(&self, app_id: &str) -> StoreResult<i64> {
        self.read(|conn| {
            let used = one(
                conn,
                "SELECT COALESCE(SUM(used_bytes), 0) FROM spaces WHERE app_id = ?1",
                [app_id],
                |r| r.get(0),
            )?;
            Ok(used.unwrap_or(0))
        })
    }
}

#[async_trait]
impl DentryStore for SqliteStore {
    async fn get_dentry(
        &self,
        space_id: &str,
        dentry_id: &str,
    ) -> StoreResult<Option<DentryRecord>> {
        self.read(|conn| dentry_with_properties(conn, space_id, dentry_id))
    }

    async fn get_dentries(
        &self,
        space_id: &str,
        dentry_ids: &[String],
    ) -> StoreResult<Vec<DentryRecord>> {
        if dentry_ids.is_empty() {
            return Ok(Vec::new());
        }
        // One statement (so one snapshot): the dentries joined with their properties.
        const SQL: &str = concat!(
            "SELECT ",
            dentry_columns!("d."),
            ", p.dentry_id, p.app_id, p.name, p.value, p.visibility FROM dentries d \
             LEFT JOIN app_properties p ON p.dentry_id = d.dentry_id \
             WHERE d.space_id = ?1 AND d.dentry_id IN rarray(?2) \
             ORDER BY d.dentry_id, p.app_id, p.name"
        );
        let ids = id_array(dentry_ids.iter());
        self.read(|conn| dentries_joined(conn, SQL, params![space_id, ids]))
    }

    async fn folder_chain(
        &self,
        space_id: &str,
        folder_id: &str,
    ) -> StoreResult<Option<Vec<FolderLink>>> {
        if folder_id == ROOT_ID {
            return Ok(Some(Vec::new()));
        }
        let rows = self.read(|conn| {
            all(
                conn,
                "WITH RECURSIVE chain (dentry_id, parent_id, name, kind, status, depth) AS ( \
                     SELECT dentry_id, parent_id, name, kind, status, 0 FROM dentries \
                     WHERE space_id = ?1 AND dentry_id = ?2 \
                     UNION ALL \
                     SELECT d.dentry_id, d.parent_id, d.name, d.kind, d.status, c.depth + 1 \
                     FROM chain c CROSS JOIN dentries d ON d.dentry_id = c.parent_id \
                     WHERE d.space_id = ?1 AND c.depth < 10000) \
                 SELECT dentry_id, parent_id, name, kind, status FROM chain ORDER BY depth DESC",
                [space_id, folder_id],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                    ))
                },
            )
        })?;
        let mut links = Vec::with_capacity(rows.len());
        for (i, (dentry_id, parent, name, kind, status)) in rows.into_iter().enumerate() {
            if kind != "FOLDER" || status != "NORMAL" || (i == 0 && parent != ROOT_ID) {
                return Ok(None);
            }
            links.push(FolderLink { dentry_id, name });
        }
        Ok((!links.is_empty()).then_some(links))
    }

    async fn list_children(
        &self,
        space_id: &str,
        parent_id: &str,
        key: SortKey,
        descending: bool,
        after: Option<&Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<DentryRecord>> {
        let sql = keyset_sql(Scope::Folder, key, descending, after.is_some());
        let page = Page {
            sql,
            space_id: space_id.to_string(),
            parent_id: Some(parent_id.to_string()),
            after: after.cloned(),
            limit,
        };
        self.list(page).await
    }

    async fn list_space(
        &self,
        space_id: &str,
        descending: bool,
        after: Option<&Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<DentryRecord>> {
        let sql = keyset_sql(Scope::Space, SortKey::ModifiedTime, descending, after.is_some());
        let page = Page {
            sql,
            space_id: space_id.to_string(),
            parent_id: None,
            after: after.cloned(),
            limit,
        };
        self.list(page).await
    }

    async fn get_version(
        &self,
        dentry_id: &str,
        version: i64,
    ) -> StoreResult<Option<VersionRecord>> {
        self.read(|conn| {
            one(
                conn,
                "SELECT dentry_id, version, name, size, blob_key, modifier_id, modified_at \
                 FROM dentry_versions WHERE dentry_id = ?1 AND version = ?2",
                params![dentry_id, version],
                |row| {
                    Ok(VersionRecord {
                        dentry_id: row.get(0)?,
                        version: row.get(1)?,
                        name: row.get(2)?,
                        size: row.get(3)?,
                        blob_key: row.get(4)?,
                        modifier_id: row.get(5)?,
                        modified_at: row.get(6)?,
                    })
                },
            )
        })
    }

    async fn put_dentry(&self, put: &PutDentry) -> StoreResult<PutOutcome> {
        let put = put.clone();
        self.write(move |conn| put_dentry(conn, &put)).await
    }
}

/// [`DentryStore::put_dentry`], inside the writer's transaction.
/// Puts the dentry (see [`PutDentry`]) and appends its event: every put,
/// CommitFile's and a WOPI save's alike, goes through here.
pub(crate) fn put_dentry(conn: &Connection, put: &PutDentry) -> StoreResult<PutOutcome> {
    let outcome = place_dentry(conn, put)?;
    let (event_type, dentry) = match &outcome {
        PutOutcome::Created(d) => (EventType::DentryCreated, d),
        PutOutcome::Overwritten(d) => (EventType::VersionAdded, d),
        PutOutcome::Existing(_) => return Ok(outcome),
    };
    let (operator, at) = (&put.dentry.modifier_id, put.dentry.modified_at);
    let event = EventRecord::of_dentry(event_type, &put.corp_id, dentry, operator, at);
    events::append(conn, &event)?;
    Ok(outcome)
}

fn place_dentry(conn: &Connection, put: &PutDentry) -> StoreResult<PutOutcome> {
    let held = match &put.upload_key {
        Some(key) => claim_upload(conn, key, &put.upload_objects)?,
        None => 0,
    };
    let new = &put.dentry;
    if let Some(target) = &put.overwrite_dentry_id {
        let existing = one(
            conn,
            concat!(
                "SELECT ",
                dentry_columns!(""),
                " FROM dentries WHERE space_id = ?1 AND dentry_id = ?2 AND status = 'NORMAL' \
                 AND kind = 'FILE'"
            ),
            params![new.space_id, target],
            dentry_from_row,
        )?
        .ok_or(StoreError::NotFound)?;
        let updated = overwrite(conn, &existing, new)?;
        settle(conn, &new.space_id, &put.corp_id, held, new.size)?;
        set_app_properties(conn, &updated.dentry_id, &put.app_properties)?;
        return Ok(PutOutcome::Overwritten(reread(conn, &updated)?));
    }
    if new.parent_id != ROOT_ID {
        let parent: Option<String> = one(
            conn,
            "SELECT kind FROM dentries WHERE space_id = ?1 AND dentry_id = ?2 \
             AND status = 'NORMAL'",
            [&new.space_id, &new.parent_id],
            |row| row.get(0),
        )?;
        if parent.as_deref() != Some("FOLDER") {
            return Err(StoreError::ParentNotFound);
        }
    }

    let inserted = insert_dentry(conn, new, &new.name)?;
    let stored = if inserted {
        PutOutcome::Created(new.clone())
    } else {
        let existing = live_child(conn, new, &new.name)?
            .ok_or_else(|| StoreError::Backend("the live sibling vanished".into()))?;
        match &put.conflict {
            NameConflict::Fail => return Err(StoreError::NameTaken(Box::new(existing))),
            NameConflict::ReturnExisting => {
                settle(conn, &new.space_id, &put.corp_id, held, 0)?;
                return Ok(PutOutcome::Existing(reread(conn, &existing)?));
            }
            NameConflict::Overwrite => {
                if existing.is_folder() || new.is_folder() {
                    return Err(StoreError::NameTaken(Box::new(existing)));
                }
                PutOutcome::Overwritten(overwrite(conn, &existing, new)?)
            }
            NameConflict::AutoRename { prefix, suffix } => {
                PutOutcome::Created(auto_rename(conn, new, prefix, suffix)?)
            }
        }
    };
    let (PutOutcome::Created(dentry) | PutOutcome::Overwritten(dentry)) = &stored else {
        unreachable!("ReturnExisting returned above")
    };
    let charged = if dentry.is_folder() { 0 } else { new.size };
    settle(conn, &new.space_id, &put.corp_id, held, charged)?;
    set_app_properties(conn, &dentry.dentry_id, &put.app_properties)?;
    // The answer is read in the transaction: a concurrent commit to the
    // same file cannot lend it its version.
    Ok(match stored {
        // Every column as inserted, and a new id has no other properties:
        // nothing to read back.
        PutOutcome::Created(d) if inserted && put.app_properties.is_empty() => {
            PutOutcome::Created(DentryRecord { app_properties: Vec::new(), ..d })
        }
        PutOutcome::Created(d) => PutOutcome::Created(reread(conn, &d)?),
        PutOutcome::Overwritten(d) => PutOutcome::Overwritten(reread(conn, &d)?),
        existing => existing,
    })
}

/// Upserts app properties on the dentry (by app and name).
fn set_app_properties(
    conn: &Connection,
    dentry_id: &str,
    properties: &[AppPropertyRecord],
) -> StoreResult<()> {
    for property in properties {
        exec(
            conn,
            "INSERT INTO app_properties (dentry_id, app_id, name, value, visibility) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (dentry_id, app_id, name) \
             DO UPDATE SET value = excluded.value, visibility = excluded.visibility",
            [dentry_id, &property.app_id, &property.name, &property.value, &property.visibility],
        )
        .map_err(backend)?;
    }
    Ok(())
}

#[async_trait]
impl UploadStore for SqliteStore {
    /// Deferred durability: once this returns `Ok` its effect survives a
    /// crash of the process, but a power loss may undo it until a durable
    /// write to the same store (any write not marked deferred), called after
    /// this one returned, has itself returned. A power loss only ever undoes
    /// a tail of the store's writes, in commit order. Here: committed with
    /// `synchronous=NORMAL` when its batch holds only deferred writes; the
    /// next `FULL` commit's fsync of the WAL (or a checkpoint) covers it.
    /// An open upload so undone makes its CommitFile fail with
    /// `UploadNotFound`.
    async fn insert_upload(
        &self,
        upload: &UploadRecord,
        limits: &OpenUploadLimits,
    ) -> StoreResult<()> {
        let upload = upload.clone();
        let limits = *limits;
        self.write_deferred(move |conn| {
            let inserted = exec(
                conn,
                "INSERT INTO uploads (upload_key, space_id, app_id, union_id, multipart, \
                 check_name, check_parent_id, check_size, check_md5, max_bytes, created_at, \
                 expires_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 \
                 WHERE (SELECT COUNT(*) FROM uploads WHERE space_id = ?2) < ?13 \
                 AND (SELECT COUNT(*) FROM uploads WHERE app_id = ?3) < ?14",
                params![
                    upload.upload_key,
                    upload.space_id,
                    upload.app_id,
                    upload.union_id,
                    upload.multipart,
                    upload.check_name,
                    upload.check_parent_id,
                    upload.check_size,
                    upload.check_md5,
                    upload.max_bytes,
                    upload.created_at,
                    upload.expires_at,
                    limits.per_space,
                    limits.per_app,
                ],
            )
            .map_err(classify)?;
            if inserted == 0 {
                let in_space = count(
                    conn,
                    "SELECT COUNT(*) FROM uploads WHERE space_id = ?1",
                    &upload.space_id,
                )?;
                return Err(StoreError::TooManyUploads {
                    per_space: in_space >= i64::from(limits.per_space),
                });
            }
            Ok(())
        })
        .await
    }

    async fn get_upload(
        &self,
        upload_key: &str,
    ) -> StoreResult<Option<(UploadRecord, Vec<UploadPartRecord>)>> {
        self.read(|conn| {
            snapshot(conn, |conn| {
                let upload = one(
                    conn,
                    "SELECT upload_key, space_id, app_id, union_id, multipart, check_name, \
                     check_parent_id, check_size, check_md5, max_bytes, created_at, expires_at \
                     FROM uploads WHERE upload_key = ?1",
                    [upload_key],
                    |row| {
                        Ok(UploadRecord {
                            upload_key: row.get(0)?,
                            space_id: row.get(1)?,
                            app_id: row.get(2)?,
                            union_id: row.get(3)?,
                            multipart: row.get(4)?,
                            check_name: row.get(5)?,
                            check_parent_id: row.get(6)?,
                            check_size: row.get(7)?,
                            check_md5: row.get(8)?,
                            max_bytes: row.get(9)?,
                            created_at: row.get(10)?,
                            expires_at: row.get(11)?,
                        })
                    },
                )?;
                let Some(upload) = upload else { return Ok(None) };
                let parts = all(
                    conn,
                    "SELECT part_number, size, md5, object_key FROM upload_parts \
                     WHERE upload_key = ?1 ORDER BY part_number",
                    [upload_key],
                    |row| {
                        Ok(UploadPartRecord {
                            part_number: row.get(0)?,
                            size: row.get(1)?,
                            md5: Some(row.get::<_, String>(2)?).filter(|m| !m.is_empty()),
                            object_key: row.get(3)?,
                        })
                    },
                )?;
                Ok(Some((upload, parts)))
            })
        })
    }

    /// Deferred durability: once this returns `Ok` its effect survives a
    /// crash of the process, but a power loss may undo it until a durable
    /// write to the same store (any write not marked deferred), called after
    /// this one returned, has itself returned. A power loss only ever undoes
    /// a tail of the store's writes, in commit order. Here: committed with
    /// `synchronous=NORMAL` when its batch holds only deferred writes; the
    /// next `FULL` commit's fsync of the WAL (or a checkpoint) covers it.
    /// Harmless: `reset_reservations`, run when a server starts, recomputes
    /// every reservation from the recorded parts.
    async fn reserve_upload_bytes(
        &self,
        upload_key: &str,
        part_number: i64,
        bytes: Reserve,
        now_ms: i64,
    ) -> StoreResult<i64> {
        let upload_key = upload_key.to_string();
        self.write_deferred(move |conn| {
            let room = one(
                conn,
                "SELECT u.space_id, s.corp_id, u.max_bytes - u.reserved_bytes + \
                     COALESCE((SELECT size FROM upload_parts p \
                               WHERE p.upload_key = u.upload_key AND p.part_number = ?2), 0), \
                 s.quota - s.used_bytes - s.reserved_bytes, \
                 o.capacity - o.used_bytes - o.reserved_bytes \
                 FROM uploads u JOIN spaces s ON s.space_id = u.space_id \
                 JOIN orgs o ON o.corp_id = s.corp_id \
                 WHERE u.upload_key = ?1 AND u.expires_at > ?3",
                params![upload_key, part_number, now_ms],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                        row.get::<_, Option<i64>>(3)?,
                        row.get::<_, Option<i64>>(4)?,
                    ))
                },
            )?;
            // Room left under the announced size, the quota, the capacity.
            let (space_id, corp_id, announced, in_space, in_org) =
                room.ok_or(StoreError::UploadNotFound)?;
            let (wanted, at_most) = match bytes {
                Reserve::Exactly(n) => (n, false),
                Reserve::AtMost(n) => (n, true),
            };
            let granted = if at_most {
                [Some(wanted), announced, in_space, in_org].into_iter().flatten().min()
            } else {
                Some(wanted)
            }
            .unwrap_or(wanted);
            if announced.is_some_and(|room| granted > room || room <= 0 && at_most) {
                return Err(StoreError::UploadTooLarge);
            }
            if granted <= 0 && at_most {
                return Err(StoreError::QuotaExceeded { space: in_space.is_some_and(|r| r <= 0) });
            }
            adjust_reservation(conn, &upload_key, &space_id, &corp_id, granted)?;
            Ok(granted)
        })
        .await
    }

    async fn reset_reservations(&self) -> StoreResult<u64> {
        self.write(move |conn| {
            let uploads = exec(
                conn,
                "UPDATE uploads SET reserved_bytes = (SELECT COALESCE(SUM(size), 0) \
                     FROM upload_parts p WHERE p.upload_key = uploads.upload_key) \
                 WHERE reserved_bytes != (SELECT COALESCE(SUM(size), 0) \
                     FROM upload_parts p WHERE p.upload_key = uploads.upload_key)",
                [],
            )
            .map_err(backend)?;
            Ok(uploads + recount_reservations(conn)?)
        })
        .await
    }

    /// Deferred durability: once this returns `Ok` its effect survives a
    /// crash of the process, but a power loss may undo it until a durable
    /// write to the same store (any write not marked deferred), called after
    /// this one returned, has itself returned. A power loss only ever undoes
    /// a tail of the store's writes, in commit order. Here: committed with
    /// `synchronous=NORMAL` when its batch holds only deferred writes; the
    /// next `FULL` commit's fsync of the WAL (or a checkpoint) covers it.
    /// Harmless: `reset_reservations`, run when a server starts, recomputes
    /// every reservation from the recorded parts.
    async fn release_upload_bytes(&self, upload_key: &str, bytes: i64) -> StoreResult<()> {
        let upload_key = upload_key.to_string();
        self.write_deferred(move |conn| {
            let Some((space_id, corp_id)) = upload_owner(conn, &upload_key)? else {
                return Ok(());
            };
            adjust_reservation(conn, &upload_key, &space_id, &corp_id, -bytes)
        })
        .await
    }

    /// Durable, unlike the upload's other bookkeeping: the part's object is
    /// referenced by this record alone, so a power loss that dropped the
    /// record of an acknowledged PUT would leave an object nothing references
    /// (a leak to fsck, and to the power-loss crash test). Its fsync also
    /// makes the upload's earlier deferred writes durable.
    async fn record_upload_part(
        &self,
        upload_key: &str,
        part: &UploadPartRecord,
        reserved: i64,
    ) -> StoreResult<PartRecorded> {
        let upload_key = upload_key.to_string();
        let part = part.clone();
        self.write(move |conn| record_part(conn, &upload_key, &part, reserved)).await
    }

    async fn take_expired_uploads(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<ExpiredUpload>> {
        self.write(move |conn| {
            let keys: Vec<String> = all(
                conn,
                "SELECT upload_key FROM uploads WHERE expires_at < ?1 LIMIT ?2",
                params![before_ms, limit],
                |row| row.get(0),
            )?;
            let mut expired = Vec::with_capacity(keys.len());
            for upload_key in keys {
                let objects = remove_upload(conn, &upload_key)?;
                expired.push(ExpiredUpload { upload_key, objects });
            }
            Ok(expired)
        })
        .await
    }
}

#[async_trait]
impl MaintenanceStore for SqliteStore {
    async fn register_node(&self, now_ms: i64) -> StoreResult<i64> {
        self.insert_node(now_ms).await
    }

    async fn close(&self) {
        self.shut().await
    }

    async fn lease_job(&self, name: &str, lease: &Lease) -> StoreResult<bool> {
        let (name, lease) = (name.to_string(), *lease);
        self.write(move |conn| {
            let claimed = exec(
                conn,
                "INSERT INTO job_leases (name, node, until_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET node = excluded.node, until_ms = excluded.until_ms \
                 WHERE ?5 OR job_leases.until_ms <= ?4 OR job_leases.node = excluded.node",
                params![name, lease.node, lease.until_ms, lease.now_ms, lease.steal],
            )
            .map_err(backend)?;
            Ok(claimed == 1)
        })
        .await
    }

    async fn release_job(&self, name: &str, node: i64) -> StoreResult<()> {
        let name = name.to_string();
        self.write(move |conn| {
            exec(conn, "DELETE FROM job_leases WHERE name = ?1 AND node = ?2", params![name, node])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        // On a blocking thread, like the gauges: a stalled database holds no
        // async worker, and the caller's timeout can give up on it.
        self.read_blocking(|conn| one(conn, "SELECT 1", [], |_| Ok(())).map(drop)).await
    }

    async fn gauges(&self) -> StoreResult<StoreGauges> {
        self.read_blocking(|conn| {
            let count = |sql: &str| -> StoreResult<u64> {
                let value: i64 = one(conn, sql, [], |row| row.get(0))?.unwrap_or(0);
                Ok(u64::try_from(value).unwrap_or(0))
            };
            Ok(StoreGauges {
                // The partial index of unfinished tasks.
                unfinished_tasks: count(
                    "SELECT COUNT(*) FROM tasks WHERE status IN ('INIT', 'IN_PROGRESS')",
                )?,
                event_backlog: count(
                    "SELECT COALESCE(SUM(MAX(0, last.seq - c.last_seq)), 0) \
                     FROM event_cursors AS c, (SELECT COALESCE(MAX(seq), 0) AS seq FROM events) AS last",
                )?,
                used_bytes: count("SELECT COALESCE(SUM(used_bytes), 0) FROM orgs")?,
                reserved_bytes: count("SELECT COALESCE(SUM(reserved_bytes), 0) FROM orgs")?,
                store_bytes: count(
                    "SELECT p.page_count * s.page_size FROM pragma_page_count() AS p, pragma_page_size() AS s",
                )?,
            })
        })
        .await
    }

    fn write_figures(&self) -> WriteFigures {
        self.writer_figures()
    }

    fn write_generation(&self) -> Option<u64> {
        Some(self.writer_generation())
    }

    async fn job_claimed(&self, name: &str, now_ms: i64) -> StoreResult<bool> {
        self.read(|conn| {
            one(
                conn,
                "SELECT 1 FROM job_leases WHERE name = ?1 AND until_ms > ?2",
                params![name, now_ms],
                |_| Ok(()),
            )
            .map(|claim| claim.is_some())
        })
    }

    async fn trashed_objects(&self, limit: u32) -> StoreResult<Vec<String>> {
        // Oldest first is insertion order: a new row's rowid is always above
        // every rowid in the table (SQLite takes the largest plus one).
        self.read(|conn| {
            all(
                conn,
                "SELECT object_key FROM trashed_objects ORDER BY rowid LIMIT ?1",
                [limit],
                |row| row.get(0),
            )
        })
    }

    async fn forget_trash(&self, objects: &[String]) -> StoreResult<()> {
        if objects.is_empty() {
            return Ok(());
        }
        let objects = objects.to_vec();
        self.write(move |conn| {
            let keys = id_array(objects.iter());
            exec(conn, "DELETE FROM trashed_objects WHERE object_key IN rarray(?1)", [keys])
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn consistency_scan(&self) -> StoreResult<ConsistencyScan> {
        self.read_blocking(|conn| snapshot(conn, scan)).await
    }

    async fn repair_usage(&self) -> StoreResult<u64> {
        self.write(move |conn| {
            let spaces = exec(
                conn,
                concat!(
                    "WITH ",
                    content_by_space!(),
                    ", sums (space_id, total) AS ( \
                         SELECT s.space_id, COALESCE((SELECT SUM(size) FROM content c \
                                                      WHERE c.space_id = s.space_id), 0) \
                         FROM spaces s) \
                     UPDATE spaces SET used_bytes = \
                         (SELECT total FROM sums WHERE sums.space_id = spaces.space_id) \
                     WHERE used_bytes != \
                         (SELECT total FROM sums WHERE sums.space_id = spaces.space_id)"
                ),
                [],
            )
            .map_err(backend)?;
            let orgs = exec(
                conn,
                "UPDATE orgs SET used_bytes = (SELECT COALESCE(SUM(used_bytes), 0) \
                     FROM spaces WHERE spaces.corp_id = orgs.corp_id) \
                 WHERE used_bytes != (SELECT COALESCE(SUM(used_bytes), 0) \
                     FROM spaces WHERE spaces.corp_id = orgs.corp_id)",
                [],
            )
            .map_err(backend)?;
            // An upload never holds less than its recorded parts.
            let uploads = exec(
                conn,
                "UPDATE uploads SET reserved_bytes = (SELECT COALESCE(SUM(size), 0) \
                     FROM upload_parts p WHERE p.upload_key = uploads.upload_key) \
                 WHERE reserved_bytes < (SELECT COALESCE(SUM(size), 0) \
                     FROM upload_parts p WHERE p.upload_key = uploads.upload_key)",
                [],
            )
            .map_err(backend)?;
            let versions = exec(
                conn,
                "UPDATE spaces SET versions_bytes = COALESCE(kept.bytes, 0) \
                 FROM spaces AS s LEFT JOIN (SELECT d.space_id, SUM(v.size) AS bytes \
                     FROM dentry_versions v JOIN dentries d ON d.dentry_id = v.dentry_id \
                     GROUP BY d.space_id) kept ON kept.space_id = s.space_id \
                 WHERE s.space_id = spaces.space_id \
                   AND spaces.versions_bytes != COALESCE(kept.bytes, 0)",
                [],
            )
            .map_err(backend)?;
            Ok(spaces + orgs + uploads + versions + recount_reservations(conn)?)
        })
        .await
    }
}

pub(crate) const ROOT_ID: &str = "0";

/// Pages longer than this are read on a blocking thread.
const INLINE_PAGE: u32 = 1000;

/// Records (or replaces) a received part written under `reserved` bytes of
/// reservation, in the caller's transaction
/// ([`UploadStore::record_upload_part`]); a refusal changes no row.
pub(crate) fn record_part(
    conn: &Connection,
    upload_key: &str,
    part: &UploadPartRecord,
    reserved: i64,
) -> StoreResult<PartRecorded> {
    let found = one(
        conn,
        "SELECT u.space_id, s.corp_id, p.size, p.object_key, \
         u.max_bytes - u.reserved_bytes, s.quota - s.used_bytes - s.reserved_bytes, \
         o.capacity - o.used_bytes - o.reserved_bytes FROM uploads u \
         JOIN spaces s ON s.space_id = u.space_id \
         JOIN orgs o ON o.corp_id = s.corp_id \
         LEFT JOIN upload_parts p \
             ON p.upload_key = u.upload_key AND p.part_number = ?2 \
         WHERE u.upload_key = ?1",
        params![upload_key, part.part_number],
        |row| {
            Ok((
                (row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                (row.get::<_, Option<i64>>(2)?, row.get::<_, Option<String>>(3)?),
                [row.get::<_, Option<i64>>(4)?, row.get(5)?, row.get(6)?],
            ))
        },
    )?;
    let Some(((space_id, corp_id), (old_size, replaced), [announced, in_space, in_org])) = found
    else {
        return Ok(PartRecorded::UploadGone);
    };
    // The PUT's reservation becomes the part's size; the part it
    // replaces gives its bytes back. Bytes beyond both are reserved
    // now, within the announced size, the quota and the capacity —
    // checked before anything is written, so a refusal changes no
    // row (and costs the writer's batch no rerun).
    let delta = part.size - reserved - old_size.unwrap_or(0);
    if delta > 0 {
        if announced.is_some_and(|room| delta > room) {
            return Err(StoreError::UploadTooLarge);
        }
        if in_space.is_some_and(|room| delta > room) {
            return Err(StoreError::QuotaExceeded { space: true });
        }
        if in_org.is_some_and(|room| delta > room) {
            return Err(StoreError::QuotaExceeded { space: false });
        }
    }
    exec(
        conn,
        "INSERT INTO upload_parts (upload_key, part_number, size, md5, object_key) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (upload_key, part_number) DO UPDATE \
         SET size = excluded.size, md5 = excluded.md5, object_key = excluded.object_key",
        params![
            upload_key,
            part.part_number,
            part.size,
            part.md5.as_deref().unwrap_or_default(),
            part.object_key,
        ],
    )
    .map_err(classify)?;
    adjust_reservation(conn, upload_key, &space_id, &corp_id, delta)?;
    Ok(PartRecorded::Recorded { replaced })
}

/// Ids as one `rarray()` parameter.
pub(crate) fn id_array<'a>(ids: impl Iterator<Item = &'a String>) -> rusqlite::vtab::array::Array {
    Rc::new(ids.map(|id| Value::Text(id.clone())).collect())
}

/// Rows of [`dentry_columns`] followed by an app property's five columns
/// (NULL when the dentry has none), grouped by dentry: one record per dentry.
fn dentries_joined<P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
) -> StoreResult<Vec<DentryRecord>> {
    let mut statement = conn.prepare_cached(sql).map_err(backend)?;
    let mut rows = statement.query(params).map_err(backend)?;
    let mut found: Vec<DentryRecord> = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        let id: String = row.get(0).map_err(backend)?;
        if found.last().is_none_or(|d| d.dentry_id != id) {
            found.push(dentry_from_row(row).map_err(backend)?);
        }
        if row.get_ref(DENTRY_WIDTH).map_err(backend)?.data_type() != rusqlite::types::Type::Null {
            let property = property_at(row, DENTRY_WIDTH).map_err(backend)?;
            found.last_mut().expect("pushed above").app_properties.push(property);
        }
    }
    Ok(found)
}

/// The dentry with every app's properties, in one statement.
pub(crate) fn dentry_with_properties(
    conn: &Connection,
    space_id: &str,
    dentry_id: &str,
) -> StoreResult<Option<DentryRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        dentry_columns!("d."),
        ", p.dentry_id, p.app_id, p.name, p.value, p.visibility FROM dentries d \
         LEFT JOIN app_properties p ON p.dentry_id = d.dentry_id \
         WHERE d.space_id = ?1 AND d.dentry_id = ?2 ORDER BY p.app_id, p.name"
    );
    Ok(dentries_joined(conn, SQL, [space_id, dentry_id])?.pop())
}

/// Gives each dentry of `page` its app properties, with one statement.
fn attach_properties(conn: &Connection, page: &mut [DentryRecord]) -> StoreResult<()> {
    if page.is_empty() {
        return Ok(());
    }
    let ids = id_array(page.iter().map(|d| &d.dentry_id));
    let properties = all(
        conn,
        "SELECT dentry_id, app_id, name, value, visibility FROM app_properties \
         WHERE dentry_id IN rarray(?1) ORDER BY dentry_id, app_id, name",
        [ids],
        |row| property_at(row, 0),
    )?;
    if properties.is_empty() {
        return Ok(());
    }
    let at: HashMap<String, usize> =
        page.iter().enumerate().map(|(i, d)| (d.dentry_id.clone(), i)).collect();
    for property in properties {
        if let Some(&i) = at.get(&property.dentry_id) {
            page[i].app_properties.push(property);
        }
    }
    Ok(())
}

/// Which dentries a keyset page lists.
#[derive(Clone, Copy)]
enum Scope {
    /// Children of a folder: `?1` space, `?2` parent.
    Folder,
    /// The whole space: `?1` space.
    Space,
}

/// A keyset page to read.
struct Page {
    sql: &'static str,
    space_id: String,
    parent_id: Option<String>,
    after: Option<Cursor>,
    limit: u32,
}

impl SqliteStore {
    /// Reads a keyset page and its app properties from one snapshot: in
    /// place, or on a blocking thread if it is long.
    async fn list(&self, page: Page) -> StoreResult<Vec<DentryRecord>> {
        if page.limit <= INLINE_PAGE {
            self.read(|conn| read_page(conn, &page))
        } else {
            self.read_blocking(move |conn| read_page(conn, &page)).await
        }
    }
}

fn read_page(conn: &Connection, page: &Page) -> StoreResult<Vec<DentryRecord>> {
    let mut values: Vec<Value> = vec![Value::Text(page.space_id.clone())];
    if let Some(parent) = &page.parent_id {
        values.push(Value::Text(parent.clone()));
    }
    if let Some(cursor) = &page.after {
        values.push(match &cursor.value {
            CursorValue::Int(v) => Value::Integer(*v),
            CursorValue::Text(v) => Value::Text(v.clone()),
        });
        values.push(Value::Text(cursor.dentry_id.clone()));
    }
    values.push(Value::Integer(i64::from(page.limit)));
    snapshot(conn, |conn| {
        let mut dentries =
            all(conn, page.sql, rusqlite::params_from_iter(values.iter()), dentry_from_row)?;
        attach_properties(conn, &mut dentries)?;
        Ok(dentries)
    })
}

fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::ModifiedTime => "modified_at",
        SortKey::CreateTime => "created_at",
        SortKey::Name => "name",
        SortKey::Size => "size",
    }
}

/// A keyset page: live rows of the scope strictly after the cursor (if any),
/// ordered by (key, dentry_id) — names compare bytewise (`BINARY`), ties by
/// id — in the direction asked, from an index of that order. Built once per
/// variant, so each is one cached prepared statement.
fn keyset_sql(scope: Scope, key: SortKey, descending: bool, has_cursor: bool) -> &'static str {
    const KEYS: [SortKey; 4] =
        [SortKey::ModifiedTime, SortKey::CreateTime, SortKey::Name, SortKey::Size];
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let index = |scope: Scope, key: SortKey, descending: bool, has_cursor: bool| {
        let key = KEYS.iter().position(|k| *k == key).expect("every key is listed");
        ((scope as usize * 4 + key) * 2 + usize::from(descending)) * 2 + usize::from(has_cursor)
    };
    let all = SQL.get_or_init(|| {
        let mut all = vec![String::new(); 2 * 4 * 2 * 2];
        for scope in [Scope::Folder, Scope::Space] {
            for key in KEYS {
                for descending in [false, true] {
                    for has_cursor in [false, true] {
                        let column = sort_column(key);
                        let (filter, next) = match scope {
                            Scope::Folder => ("space_id = ?1 AND parent_id = ?2", 3),
                            Scope::Space => ("space_id = ?1", 2),
                        };
                        let (cmp, dir) = if descending { ("<", "DESC") } else { (">", "ASC") };
                        let (after, limit) = if has_cursor {
                            (
                                format!(
                                    " AND ({column}, dentry_id) {cmp} (?{}, ?{})",
                                    next,
                                    next + 1
                                ),
                                next + 2,
                            )
                        } else {
                            (String::new(), next)
                        };
                        all[index(scope, key, descending, has_cursor)] = format!(
                            "SELECT {} FROM dentries WHERE {filter} AND status = 'NORMAL'{after} \
                             ORDER BY {column} {dir}, dentry_id {dir} LIMIT ?{limit}",
                            dentry_columns!("")
                        );
                    }
                }
            }
        }
        all
    });
    &all[index(scope, key, descending, has_cursor)]
}

/// Inserts the dentry under `name`; false if a live sibling already has it
/// (the unique index on live names decides). Other keys (id, uuid) fail
/// with `Duplicate(Key::DentryId)`.
pub(crate) fn insert_dentry(conn: &Connection, d: &DentryRecord, name: &str) -> StoreResult<bool> {
    let done = exec(
        conn,
        concat!(
            "INSERT INTO dentries (",
            dentry_columns!(""),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
             ON CONFLICT (space_id, parent_id, name) WHERE status = 'NORMAL' DO NOTHING"
        ),
        params![
            d.dentry_id,
            d.uuid,
            d.space_id,
            d.parent_id,
            d.kind,
            name,
            d.size,
            d.version,
            d.status,
            d.blob_key,
            d.creator_id,
            d.modifier_id,
            d.created_at,
            d.modified_at,
        ],
    )
    .map_err(classify)?;
    Ok(done == 1)
}

/// The live child of `d`'s parent named `name`, if any.
pub(crate) fn live_child(
    conn: &Connection,
    d: &DentryRecord,
    name: &str,
) -> StoreResult<Option<DentryRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        dentry_columns!(""),
        " FROM dentries WHERE space_id = ?1 AND parent_id = ?2 AND name = ?3 \
         AND status = 'NORMAL'"
    );
    one(conn, SQL, params![d.space_id, d.parent_id, name], dentry_from_row)
}

/// Whether a live sibling of `d` is named `name`: one probe of the unique
/// index on live names.
pub(crate) fn name_taken(conn: &Connection, d: &DentryRecord, name: &str) -> StoreResult<bool> {
    let found: Option<i64> = one(
        conn,
        "SELECT 1 FROM dentries WHERE space_id = ?1 AND parent_id = ?2 AND name = ?3 \
         AND status = 'NORMAL'",
        params![d.space_id, d.parent_id, name],
        |row| row.get(0),
    )?;
    Ok(found.is_some())
}

/// The dentry as stored now, with every app's properties.
pub(crate) fn reread(conn: &Connection, d: &DentryRecord) -> StoreResult<DentryRecord> {
    dentry_with_properties(conn, &d.space_id, &d.dentry_id)?
        .ok_or_else(|| StoreError::Backend("a dentry vanished".into()))
}

/// Inserts under a free `prefix{k}suffix` found by [`free_counter`], in
/// O(log n) probes of the live-name index. The insert itself is still
/// guarded by the unique index: should the name be taken meanwhile, the
/// search starts again.
fn auto_rename(
    conn: &Connection,
    d: &DentryRecord,
    prefix: &str,
    suffix: &str,
) -> StoreResult<DentryRecord> {
    for _ in 0..3 {
        let Some(candidate) = free_name(conn, d, prefix, suffix)? else { break };
        if insert_dentry(conn, d, &candidate)? {
            return Ok(DentryRecord { name: candidate, ..d.clone() });
        }
    }
    Err(StoreError::NameTaken(Box::new(d.clone())))
}

/// A free `prefix{k}suffix` among the live children of `d`'s parent, found
/// by [`free_counter`] in O(log n) probes of the live-name index; `None`
/// when every counter is taken.
pub(crate) fn free_name(
    conn: &Connection,
    d: &DentryRecord,
    prefix: &str,
    suffix: &str,
) -> StoreResult<Option<String>> {
    let name = |k: u32| format!("{prefix}{k}{suffix}");
    let found = match free_counter(|k| name_taken(conn, d, &name(k)))? {
        Some(k) => Some(k),
        // Every probe taken (someone took 1, 2, 4, … on purpose): walk
        // the counters one by one instead of giving up.
        None => first_free_counter(|k| name_taken(conn, d, &name(k)))?,
    };
    Ok(found.map(name))
}

/// A free counter k in 1..=[`MAX_RENAME_COUNTER`] right after a taken one
/// (or k = 1): gallops k = 1, 2, 4, 8, … to the first free probe, then
/// binary-searches between the last taken probe and it for a taken k whose
/// k + 1 is free. When the taken counters are 1..=n (the usual case) that is
/// n + 1, the first free one. `None` if every probe up to the maximum is taken.
pub(crate) fn free_counter(
    mut taken: impl FnMut(u32) -> StoreResult<bool>,
) -> StoreResult<Option<u32>> {
    // `low` is taken (0 stands for the plain name, taken before we are
    // called); `high` is free.
    let mut low = 0;
    let mut high = 1;
    while taken(high)? {
        if high == MAX_RENAME_COUNTER {
            return Ok(None);
        }
        low = high;
        high = high.saturating_mul(2).min(MAX_RENAME_COUNTER);
    }
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if taken(middle)? {
            low = middle;
        } else {
            high = middle;
        }
    }
    Ok(Some(high))
}

/// The first free counter, probing 1, 2, 3, …: the fallback when
/// [`free_counter`]'s probes are all taken.
pub(crate) fn first_free_counter(
    mut taken: impl FnMut(u32) -> StoreResult<bool>,
) -> StoreResult<Option<u32>> {
    for k in 1..=MAX_RENAME_COUNTER {
        if !taken(k)? {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

/// Keeps `existing`'s content as a version and gives it `new`'s content.
pub(crate) fn overwrite(
    conn: &Connection,
    existing: &DentryRecord,
    new: &DentryRecord,
) -> StoreResult<DentryRecord> {
    exec(
        conn,
        "INSERT INTO dentry_versions (dentry_id, version, name, size, blob_key, modifier_id, \
         modified_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            existing.dentry_id,
            existing.version,
            existing.name,
            existing.size,
            existing.blob_key,
            existing.modifier_id,
            existing.modified_at,
        ],
    )
    .map_err(classify)?;
    let updated = DentryRecord {
        size: new.size,
        blob_key: new.blob_key.clone(),
        version: existing.version + 1,
        modifier_id: new.modifier_id.clone(),
        modified_at: new.modified_at,
        ..existing.clone()
    };
    exec(
        conn,
        "UPDATE dentries SET size = ?1, blob_key = ?2, version = ?3, modifier_id = ?4, \
         modified_at = ?5 WHERE dentry_id = ?6",
        params![
            updated.size,
            updated.blob_key,
            updated.version,
            updated.modifier_id,
            updated.modified_at,
            updated.dentry_id,
        ],
    )
    .map_err(backend)?;
    Ok(updated)
}

/// Sets every space's and org's reserved counter to the sum it summarises;
/// returns how many changed.
fn recount_reservations(conn: &Connection) -> StoreResult<u64> {
    let spaces = exec(
        conn,
        "UPDATE spaces SET reserved_bytes = (SELECT COALESCE(SUM(reserved_bytes), 0) \
             FROM uploads WHERE uploads.space_id = spaces.space_id) \
         WHERE reserved_bytes != (SELECT COALESCE(SUM(reserved_bytes), 0) \
             FROM uploads WHERE uploads.space_id = spaces.space_id)",
        [],
    )
    .map_err(backend)?;
    let orgs = exec(
        conn,
        "UPDATE orgs SET reserved_bytes = (SELECT COALESCE(SUM(reserved_bytes), 0) \
             FROM spaces WHERE spaces.corp_id = orgs.corp_id) \
         WHERE reserved_bytes != (SELECT COALESCE(SUM(reserved_bytes), 0) \
             FROM spaces WHERE spaces.corp_id = orgs.corp_id)",
        [],
    )
    .map_err(backend)?;
    Ok(spaces + orgs)
}

/// `COUNT(*)` of a query with one text parameter.
fn count(conn: &Connection, sql: &str, param: &str) -> StoreResult<i64> {
    Ok(one(conn, sql, [param], |row| row.get(0))?.unwrap_or(0))
}

/// The space and org of an open upload.
fn upload_owner(conn: &Connection, upload_key: &str) -> StoreResult<Option<(String, String)>> {
    one(
        conn,
        "SELECT u.space_id, s.corp_id FROM uploads u JOIN spaces s ON s.space_id = u.space_id \
         WHERE u.upload_key = ?1",
        [upload_key],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

/// Changes an upload's reservation by `delta` bytes, and its space's and
/// org's with it. Growth is checked against the quota and the capacity
/// (committed plus reserved bytes); shrinking never fails.
fn adjust_reservation(
    conn: &Connection,
    upload_key: &str,
    space_id: &str,
    corp_id: &str,
    delta: i64,
) -> StoreResult<()> {
    if delta == 0 {
        return Ok(());
    }
    let space = exec(
        conn,
        "UPDATE spaces SET reserved_bytes = reserved_bytes + ?1 WHERE space_id = ?2 \
         AND (?1 < 0 OR quota IS NULL OR used_bytes + reserved_bytes + ?1 <= quota)",
        params![delta, space_id],
    )
    .map_err(backend)?;
    if space == 0 {
        return Err(StoreError::QuotaExceeded { space: true });
    }
    let org = exec(
        conn,
        "UPDATE orgs SET reserved_bytes = reserved_bytes + ?1 WHERE corp_id = ?2 \
         AND (?1 < 0 OR capacity IS NULL OR used_bytes + reserved_bytes + ?1 <= capacity)",
        params![delta, corp_id],
    )
    .map_err(backend)?;
    if org == 0 {
        return Err(StoreError::QuotaExceeded { space: false });
    }
    exec(
        conn,
        "UPDATE uploads SET reserved_bytes = reserved_bytes + ?1 WHERE upload_key = ?2",
        params![delta, upload_key],
    )
    .map_err(backend)?;
    Ok(())
}

/// Deletes an upload with its parts, releasing its reservation; returns the
/// objects its parts were written to. `UploadNotFound` if it is gone.
pub(crate) fn remove_upload(conn: &Connection, upload_key: &str) -> StoreResult<Vec<String>> {
    let (space_id, corp_id) = upload_owner(conn, upload_key)?.ok_or(StoreError::UploadNotFound)?;
    let held: i64 = one(
        conn,
        "SELECT reserved_bytes FROM uploads WHERE upload_key = ?1",
        [upload_key],
        |row| row.get(0),
    )?
    .ok_or(StoreError::UploadNotFound)?;
    adjust_reservation(conn, upload_key, &space_id, &corp_id, -held)?;
    let objects = all(
        conn,
        "SELECT object_key FROM upload_parts WHERE upload_key = ?1 ORDER BY part_number",
        [upload_key],
        |row| row.get(0),
    )?;
    exec(conn, "DELETE FROM uploads WHERE upload_key = ?1", [upload_key]).map_err(backend)?;
    Ok(objects)
}

/// A commit consumes its upload — only if the parts it was made from are
/// still exactly the recorded ones — and returns the bytes the upload held
/// reserved (the caller settles them on the space and org with its charge).
pub(crate) fn claim_upload(
    conn: &Connection,
    upload_key: &str,
    used_objects: &[String],
) -> StoreResult<i64> {
    let held: i64 = one(
        conn,
        "SELECT reserved_bytes FROM uploads WHERE upload_key = ?1",
        [upload_key],
        |row| row.get(0),
    )?
    .ok_or(StoreError::UploadNotFound)?;
    let mut recorded: Vec<String> = all(
        conn,
        "DELETE FROM upload_parts WHERE upload_key = ?1 RETURNING object_key",
        [upload_key],
        |row| row.get(0),
    )?;
    let mut used = used_objects.to_vec();
    recorded.sort();
    used.sort();
    if recorded != used {
        return Err(StoreError::UploadChanged);
    }
    exec(conn, "DELETE FROM uploads WHERE upload_key = ?1", [upload_key]).map_err(backend)?;
    Ok(held)
}

/// Releases `released` reserved bytes and adds `charged` committed bytes on
/// the space and org counters, in one `UPDATE` each, unless a cap would be
/// passed (committed plus reserved bytes count against it).
pub(crate) fn settle(
    conn: &Connection,
    space_id: &str,
    corp_id: &str,
    released: i64,
    charged: i64,
) -> StoreResult<()> {
    if released == 0 && charged == 0 {
        return Ok(());
    }
    let space = exec(
        conn,
        "UPDATE spaces SET reserved_bytes = reserved_bytes - ?1, used_bytes = used_bytes + ?2 \
         WHERE space_id = ?3 \
         AND (?2 = 0 OR quota IS NULL OR used_bytes + reserved_bytes - ?1 + ?2 <= quota)",
        params![released, charged, space_id],
    )
    .map_err(backend)?;
    if space == 0 {
        return Err(StoreError::QuotaExceeded { space: true });
    }
    let org = exec(
        conn,
        "UPDATE orgs SET reserved_bytes = reserved_bytes - ?1, used_bytes = used_bytes + ?2 \
         WHERE corp_id = ?3 \
         AND (?2 = 0 OR capacity IS NULL OR used_bytes + reserved_bytes - ?1 + ?2 <= capacity)",
        params![released, charged, corp_id],
    )
    .map_err(backend)?;
    if org == 0 {
        return Err(StoreError::QuotaExceeded { space: false });
    }
    Ok(())
}

/// What fsck checks, inside one read transaction (one snapshot).
fn scan(conn: &Connection) -> StoreResult<ConsistencyScan> {
    let usage = |r: &rusqlite::Row| {
        Ok(UsageCheck { id: r.get(0)?, recorded: r.get(1)?, actual: r.get(2)? })
    };
    let blobs = all(
        conn,
        "SELECT blob_key, size, dentry_id FROM dentries WHERE blob_key IS NOT NULL \
         UNION ALL SELECT blob_key, size, dentry_id FROM dentry_versions",
        [],
        |r| Ok(BlobReference { blob_key: r.get(0)?, size: r.get(1)?, dentry_id: r.get(2)? }),
    )?;
    let open_uploads = all(conn, "SELECT upload_key FROM uploads", [], |r| r.get(0))?;
    let upload_objects = all(conn, "SELECT object_key FROM upload_parts", [], |r| r.get(0))?;
    let space_usage = all(
        conn,
        concat!(
            "WITH ",
            content_by_space!(),
            " SELECT s.space_id, s.used_bytes, \
             COALESCE((SELECT SUM(size) FROM content c WHERE c.space_id = s.space_id), 0) \
             FROM spaces s ORDER BY s.space_id"
        ),
        [],
        usage,
    )?;
    let org_usage = all(
        conn,
        concat!(
            "WITH ",
            content_by_space!(),
            " SELECT o.corp_id, o.used_bytes, \
             COALESCE((SELECT SUM(c.size) FROM content c JOIN spaces s \
                       ON s.space_id = c.space_id WHERE s.corp_id = o.corp_id), 0) \
             FROM orgs o ORDER BY o.corp_id"
        ),
        [],
        usage,
    )?;
    let tree =
        all(conn, "SELECT space_id, dentry_id, parent_id, kind, status FROM dentries", [], |r| {
            Ok(TreeNode {
                space_id: r.get(0)?,
                dentry_id: r.get(1)?,
                parent_id: r.get(2)?,
                is_folder: r.get::<_, String>(3)? == "FOLDER",
                live: r.get::<_, String>(4)? == "NORMAL",
            })
        })?;
    let duplicate_names = all(
        conn,
        "SELECT space_id, parent_id, name FROM dentries WHERE status = 'NORMAL' \
         GROUP BY space_id, parent_id, name HAVING COUNT(*) > 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let space_reserved = all(
        conn,
        "SELECT s.space_id, s.reserved_bytes, COALESCE((SELECT SUM(reserved_bytes) \
         FROM uploads u WHERE u.space_id = s.space_id), 0) FROM spaces s ORDER BY s.space_id",
        [],
        usage,
    )?;
    let org_reserved = all(
        conn,
        "SELECT o.corp_id, o.reserved_bytes, COALESCE((SELECT SUM(reserved_bytes) \
         FROM spaces s WHERE s.corp_id = o.corp_id), 0) FROM orgs o ORDER BY o.corp_id",
        [],
        usage,
    )?;
    let under_reserved_uploads = all(
        conn,
        "SELECT upload_key, reserved_bytes, parts FROM (SELECT u.upload_key, u.reserved_bytes, \
         (SELECT COALESCE(SUM(size), 0) FROM upload_parts p WHERE p.upload_key = u.upload_key) \
         AS parts FROM uploads u) WHERE reserved_bytes < parts ORDER BY upload_key",
        [],
        usage,
    )?;
    let space_versions = all(
        conn,
        "SELECT s.space_id, s.versions_bytes, COALESCE(kept.bytes, 0) FROM spaces s \
         LEFT JOIN (SELECT d.space_id, SUM(v.size) AS bytes FROM dentry_versions v \
                    JOIN dentries d ON d.dentry_id = v.dentry_id GROUP BY d.space_id) kept \
         ON kept.space_id = s.space_id ORDER BY s.space_id",
        [],
        usage,
    )?;
    Ok(ConsistencyScan {
        blobs,
        open_uploads,
        upload_objects,
        space_usage,
        org_usage,
        space_versions,
        space_reserved,
        org_reserved,
        under_reserved_uploads,
        tree,
        duplicate_names,
        trashed_objects: all(conn, "SELECT object_key FROM trashed_objects", [], |r| r.get(0))?,
        thumbnail_objects: all(
            conn,
            "SELECT object_key FROM thumbnails WHERE object_key IS NOT NULL",
            [],
            |r| r.get(0),
        )?,
    })
}

impl SqliteStore {
    /// Bulk load for benchmarks: inserts the dentries as given, with no
    /// conflict handling and no quota charge.
    pub async fn insert_dentries_unchecked(&self, dentries: &[DentryRecord]) -> StoreResult<()> {
        let dentries = dentries.to_vec();
        self.write(move |conn| {
            for dentry in &dentries {
                if !insert_dentry(conn, dentry, &dentry.name)? {
                    return Err(StoreError::Backend(format!("name taken: {}", dentry.name)));
                }
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Every page of a folder, in every order and direction, with or without
    /// a cursor, is read in order from an index of the folder (no sort, no
    /// scan); pages by name from the unique index of live names.
    #[test]
    fn folder_pages_read_an_index_in_order() {
        let conn = Connection::open_in_memory().unwrap();
        crate::migrate::run(&conn).unwrap();
        let keys = [
            (SortKey::ModifiedTime, "dentries_by_modified"),
            (SortKey::CreateTime, "dentries_by_created"),
            (SortKey::Name, "dentries_live_name"),
            (SortKey::Size, "dentries_by_size"),
        ];
        for (key, index) in keys {
            for descending in [false, true] {
                for has_cursor in [false, true] {
                    let sql = keyset_sql(Scope::Folder, key, descending, has_cursor);
                    let params: &[&str] =
                        if has_cursor { &["s", "p", "x", "d", "50"] } else { &["s", "p", "50"] };
                    let plan: Vec<String> = conn
                        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                        .unwrap()
                        .query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(3))
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    assert!(
                        matches!(plan.as_slice(), [only]
                            if only.starts_with(&format!("SEARCH dentries USING INDEX {index} "))),
                        "{key:?} desc={descending} cursor={has_cursor}: {plan:#?}"
                    );
                }
            }
        }
    }

    fn search(taken: &HashSet<u32>) -> (Option<u32>, usize) {
        let mut probes = 0;
        let found = free_counter(|k| {
            probes += 1;
            Ok(taken.contains(&k))
        })
        .unwrap();
        (found, probes)
    }

    #[test]
    fn contiguous_counters_give_the_first_free_one_in_log_probes() {
        for n in [0u32, 1, 2, 3, 7, 8, 9, 100, 1000, 65_535, 65_536] {
            let taken: HashSet<u32> = (1..=n).collect();
            let (found, probes) = search(&taken);
            assert_eq!(found, Some(n + 1), "n = {n}");
            assert!(probes <= 2 * (32 - (n + 1).leading_zeros() as usize) + 1, "n = {n}: {probes}");
        }
    }

    #[test]
    fn with_gaps_a_free_counter_right_after_a_taken_one_is_found() {
        for taken in [vec![1, 2, 3, 5, 6], vec![2, 3], vec![1, 2, 4, 8, 16], vec![1, 3, 4, 5, 6, 7]]
        {
            let taken: HashSet<u32> = taken.into_iter().collect();
            let k = search(&taken).0.unwrap();
            assert!(!taken.contains(&k), "{k} is free");
            assert!(k == 1 || taken.contains(&(k - 1)), "{k} follows a taken counter");
        }
    }

    #[test]
    fn every_probe_taken_up_to_the_maximum_gives_none() {
        let (found, probes) = {
            let mut probes = 0;
            let found = free_counter(|_| {
                probes += 1;
                Ok(true)
            })
            .unwrap();
            (found, probes)
        };
        assert_eq!(found, None);
        assert!(probes <= 22, "{probes} probes");
        // Only the last counter free: found.
        let found = free_counter(|k| Ok(k < MAX_RENAME_COUNTER)).unwrap();
        assert_eq!(found, Some(MAX_RENAME_COUNTER));
    }
}
