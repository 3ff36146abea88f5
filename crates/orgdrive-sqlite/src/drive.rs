//! SQLite: spaces, files and folders, versions, app properties, uploads and
//! the byte counters quotas are enforced on.

use async_trait::async_trait;
use sqlx::Row;

use std::collections::HashSet;

use crate::*;
use orgdrive_store::{
    BlobReference, ConsistencyScan, Cursor, CursorValue, DentryStore, ExpiredUpload,
    MaintenanceStore, NameConflict, OpenUploadLimits, PartRecorded, PutDentry, PutOutcome, Reserve,
    SortKey, SpaceStore, TreeNode, UploadPartRecord, UploadRecord, UploadStore, UsageCheck,
    VersionRecord, MAX_RENAME_COUNTER,
};

#[async_trait]
impl SpaceStore for SqliteStore {
    async fn insert_space_once(&self, space: &SpaceRecord) -> StoreResult<(SpaceRecord, bool)> {
        let space = space.clone();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                let inserted = sqlx::query(
                    "INSERT INTO spaces (space_id, corp_id, app_id, scene, scene_id, name, owner_type, \
                     owner_id, creator_id, modifier_id, quota, used_bytes, status, can_search, \
                     can_rename, can_record_recent_file, created_at, modified_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (corp_id, app_id, scene, scene_id) DO NOTHING",
                )
                .bind(&space.space_id)
                .bind(&space.corp_id)
                .bind(&space.app_id)
                .bind(&space.scene)
                .bind(&space.scene_id)
                .bind(&space.name)
                .bind(&space.owner_type)
                .bind(&space.owner_id)
                .bind(&space.creator_id)
                .bind(&space.modifier_id)
                .bind(space.quota)
                .bind(space.used_bytes)
                .bind(&space.status)
                .bind(space.can_search)
                .bind(space.can_rename)
                .bind(space.can_record_recent_file)
                .bind(space.created_at)
                .bind(space.modified_at)
                .execute(&mut *conn)
                .await
                .map_err(classify)?
                .rows_affected()
                    == 1;
                let row = sqlx::query(&format!(
                    "SELECT {SPACE_COLUMNS} FROM spaces \
                     WHERE corp_id = ? AND app_id = ? AND scene = ? AND scene_id = ?"
                ))
                .bind(&space.corp_id)
                .bind(&space.app_id)
                .bind(&space.scene)
                .bind(&space.scene_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(backend)?;
                Ok((space_from_row(&row).map_err(backend)?, inserted))
                })
            })
            .await
    }

    async fn get_space(&self, space_id: &str) -> StoreResult<Option<SpaceRecord>> {
        let sql = format!("SELECT {SPACE_COLUMNS} FROM spaces WHERE space_id = ?");
        self.read_one(&sql, &[space_id], space_from_row).await
    }

    async fn org_used_bytes(&self, corp_id: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT used_bytes FROM orgs WHERE corp_id = ?")
            .bind(corp_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.map_or(Ok(0), |r| r.try_get(0)).map_err(backend)
    }

    async fn app_used_bytes(&self, app_id: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COALESCE(SUM(used_bytes), 0) FROM spaces WHERE app_id = ?")
            .bind(app_id)
            .fetch_one(&self.reader)
            .await
            .map_err(backend)?;
        row.try_get(0).map_err(backend)
    }
}

#[async_trait]
impl DentryStore for SqliteStore {
    async fn get_dentry(
        &self,
        space_id: &str,
        dentry_id: &str,
    ) -> StoreResult<Option<DentryRecord>> {
        let ids = [dentry_id.to_string()];
        Ok(self.get_dentries(space_id, &ids).await?.pop())
    }

    async fn get_dentries(
        &self,
        space_id: &str,
        dentry_ids: &[String],
    ) -> StoreResult<Vec<DentryRecord>> {
        if dentry_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT json_group_array(json({DENTRY_JSON})) FROM dentries d \
             WHERE d.space_id = ? AND d.dentry_id IN ({})",
            placeholders(dentry_ids.len())
        );
        let mut query = sqlx::query_scalar::<_, Option<String>>(&sql).bind(space_id);
        for id in dentry_ids {
            query = query.bind(id);
        }
        dentries_from_json(query.fetch_one(&self.reader).await.map_err(backend)?)
    }

    async fn folder_names(
        &self,
        space_id: &str,
        folder_id: &str,
    ) -> StoreResult<Option<Vec<String>>> {
        if folder_id == ROOT_ID {
            return Ok(Some(Vec::new()));
        }
        let rows = sqlx::query(
            "WITH RECURSIVE chain (dentry_id, parent_id, name, kind, status, depth) AS ( \
                 SELECT dentry_id, parent_id, name, kind, status, 0 FROM dentries \
                 WHERE space_id = ?1 AND dentry_id = ?2 \
                 UNION ALL \
                 SELECT d.dentry_id, d.parent_id, d.name, d.kind, d.status, c.depth + 1 \
                 FROM dentries d JOIN chain c ON d.dentry_id = c.parent_id \
                 WHERE d.space_id = ?1 AND c.depth < 10000) \
             SELECT parent_id, name, kind, status FROM chain ORDER BY depth DESC",
        )
        .bind(space_id)
        .bind(folder_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        let mut names = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let parent: String = row.try_get("parent_id").map_err(backend)?;
            let kind: String = row.try_get("kind").map_err(backend)?;
            let status: String = row.try_get("status").map_err(backend)?;
            if kind != "FOLDER" || status != "NORMAL" || (i == 0 && parent != ROOT_ID) {
                return Ok(None);
            }
            names.push(row.try_get("name").map_err(backend)?);
        }
        Ok((!names.is_empty()).then_some(names))
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
        let sql = keyset_sql("space_id = ? AND parent_id = ?", key, descending, after.is_some());
        let query = sqlx::query_scalar(&sql).bind(space_id).bind(parent_id);
        let page = bind_cursor(query, after).bind(limit).fetch_one(&self.reader).await;
        sorted_page(dentries_from_json(page.map_err(backend)?)?, key, descending)
    }

    async fn list_space(
        &self,
        space_id: &str,
        descending: bool,
        after: Option<&Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<DentryRecord>> {
        let key = SortKey::ModifiedTime;
        let sql = keyset_sql("space_id = ?", key, descending, after.is_some());
        let query = sqlx::query_scalar(&sql).bind(space_id);
        let page = bind_cursor(query, after).bind(limit).fetch_one(&self.reader).await;
        sorted_page(dentries_from_json(page.map_err(backend)?)?, key, descending)
    }

    async fn get_version(
        &self,
        dentry_id: &str,
        version: i64,
    ) -> StoreResult<Option<VersionRecord>> {
        let row = sqlx::query(
            "SELECT dentry_id, version, name, size, blob_key, modifier_id, modified_at \
             FROM dentry_versions WHERE dentry_id = ? AND version = ?",
        )
        .bind(dentry_id)
        .bind(version)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let version = VersionRecord {
            dentry_id: row.try_get("dentry_id").map_err(backend)?,
            version: row.try_get("version").map_err(backend)?,
            name: row.try_get("name").map_err(backend)?,
            size: row.try_get("size").map_err(backend)?,
            blob_key: row.try_get("blob_key").map_err(backend)?,
            modifier_id: row.try_get("modifier_id").map_err(backend)?,
            modified_at: row.try_get("modified_at").map_err(backend)?,
        };
        Ok(Some(version))
    }

    async fn put_dentry(&self, put: &PutDentry) -> StoreResult<PutOutcome> {
        let put = put.clone();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                let held = match &put.upload_key {
                    Some(key) => claim_upload(conn, key, &put.upload_objects).await?,
                    None => 0,
                };
                let new = &put.dentry;
                if new.parent_id != ROOT_ID {
                    let parent = sqlx::query(
                        "SELECT kind FROM dentries WHERE space_id = ? AND dentry_id = ? AND status = 'NORMAL'",
                    )
                    .bind(&new.space_id)
                    .bind(&new.parent_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(backend)?;
                    let is_folder = match parent {
                        Some(row) => row.try_get::<String, _>(0).map_err(backend)? == "FOLDER",
                        None => false,
                    };
                    if !is_folder {
                        return Err(StoreError::ParentNotFound);
                    }
                }

                let stored = if insert_dentry(conn, new, &new.name).await? {
                    PutOutcome::Created(new.clone())
                } else {
                    let existing = live_child(conn, new).await?;
                    match &put.conflict {
                        NameConflict::Fail => return Err(StoreError::NameTaken(Box::new(existing))),
                        NameConflict::ReturnExisting => {
                            settle(conn, &new.space_id, &put.corp_id, held, 0).await?;
                            return Ok(PutOutcome::Existing(reread(conn, &existing).await?));
                        }
                        NameConflict::Overwrite => {
                            if existing.is_folder() || new.is_folder() {
                                return Err(StoreError::NameTaken(Box::new(existing)));
                            }
                            PutOutcome::Overwritten(overwrite(conn, &existing, new).await?)
                        }
                        NameConflict::AutoRename { prefix, suffix } => {
                            PutOutcome::Created(auto_rename(conn, new, prefix, suffix).await?)
                        }
                    }
                };
                let (PutOutcome::Created(dentry) | PutOutcome::Overwritten(dentry)) = &stored else {
                    unreachable!("ReturnExisting returned above")
                };
                let charged = if dentry.is_folder() { 0 } else { new.size };
                settle(conn, &new.space_id, &put.corp_id, held, charged).await?;
                for property in &put.app_properties {
                    sqlx::query(
                        "INSERT INTO app_properties (dentry_id, app_id, name, value, visibility) \
                         VALUES (?, ?, ?, ?, ?) ON CONFLICT (dentry_id, app_id, name) \
                         DO UPDATE SET value = excluded.value, visibility = excluded.visibility",
                    )
                    .bind(&dentry.dentry_id)
                    .bind(&property.app_id)
                    .bind(&property.name)
                    .bind(&property.value)
                    .bind(&property.visibility)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                }
                // The answer is read in the transaction: a concurrent commit
                // to the same file cannot lend it its version.
                Ok(match stored {
                    PutOutcome::Created(d) => PutOutcome::Created(reread(conn, &d).await?),
                    PutOutcome::Overwritten(d) => PutOutcome::Overwritten(reread(conn, &d).await?),
                    existing => existing,
                })
                })
            })
            .await
    }
}

#[async_trait]
impl UploadStore for SqliteStore {
    async fn insert_upload(
        &self,
        upload: &UploadRecord,
        limits: &OpenUploadLimits,
    ) -> StoreResult<()> {
        let upload = upload.clone();
        let limits = *limits;
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let inserted = sqlx::query(
                        "INSERT INTO uploads (upload_key, space_id, app_id, union_id, multipart, check_name, \
                         check_parent_id, check_size, check_md5, max_bytes, created_at, expires_at) \
                         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 \
                         WHERE (SELECT COUNT(*) FROM uploads WHERE space_id = ?2) < ?13 \
                         AND (SELECT COUNT(*) FROM uploads WHERE app_id = ?3) < ?14",
                    )
                    .bind(&upload.upload_key)
                    .bind(&upload.space_id)
                    .bind(&upload.app_id)
                    .bind(&upload.union_id)
                    .bind(upload.multipart)
                    .bind(&upload.check_name)
                    .bind(&upload.check_parent_id)
                    .bind(upload.check_size)
                    .bind(&upload.check_md5)
                    .bind(upload.max_bytes)
                    .bind(upload.created_at)
                    .bind(upload.expires_at)
                    .bind(i64::from(limits.per_space))
                    .bind(i64::from(limits.per_app))
                    .execute(&mut *conn)
                    .await
                    .map_err(classify)?
                    .rows_affected();
                    if inserted == 0 {
                        let in_space = count(conn, "SELECT COUNT(*) FROM uploads WHERE space_id = ?", &upload.space_id).await?;
                        return Err(StoreError::TooManyUploads {
                            per_space: in_space >= i64::from(limits.per_space),
                        });
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn get_upload(
        &self,
        upload_key: &str,
    ) -> StoreResult<Option<(UploadRecord, Vec<UploadPartRecord>)>> {
        let row = sqlx::query("SELECT * FROM uploads WHERE upload_key = ?")
            .bind(upload_key)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let upload = (|| {
            Ok::<_, sqlx::Error>(UploadRecord {
                upload_key: row.try_get("upload_key")?,
                space_id: row.try_get("space_id")?,
                app_id: row.try_get("app_id")?,
                union_id: row.try_get("union_id")?,
                multipart: row.try_get("multipart")?,
                check_name: row.try_get("check_name")?,
                check_parent_id: row.try_get("check_parent_id")?,
                check_size: row.try_get("check_size")?,
                check_md5: row.try_get("check_md5")?,
                max_bytes: row.try_get("max_bytes")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
            })
        })()
        .map_err(backend)?;
        let rows = sqlx::query(
            "SELECT part_number, size, md5, object_key FROM upload_parts WHERE upload_key = ? \
             ORDER BY part_number",
        )
        .bind(upload_key)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        let parts = collect(rows, |row| {
            Ok(UploadPartRecord {
                part_number: row.try_get("part_number")?,
                size: row.try_get("size")?,
                md5: Some(row.try_get::<String, _>("md5")?).filter(|m| !m.is_empty()),
                object_key: row.try_get("object_key")?,
            })
        })?;
        Ok(Some((upload, parts)))
    }

    async fn reserve_upload_bytes(
        &self,
        upload_key: &str,
        part_number: i64,
        bytes: Reserve,
        now_ms: i64,
    ) -> StoreResult<i64> {
        let upload_key = upload_key.to_string();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let row = sqlx::query(
                        "SELECT u.space_id, s.corp_id, u.max_bytes - u.reserved_bytes + \
                             COALESCE((SELECT size FROM upload_parts p \
                                       WHERE p.upload_key = u.upload_key AND p.part_number = ?2), 0), \
                         s.quota - s.used_bytes - s.reserved_bytes, \
                         o.capacity - o.used_bytes - o.reserved_bytes \
                         FROM uploads u JOIN spaces s ON s.space_id = u.space_id \
                         JOIN orgs o ON o.corp_id = s.corp_id \
                         WHERE u.upload_key = ?1 AND u.expires_at > ?3",
                    )
                    .bind(&upload_key)
                    .bind(part_number)
                    .bind(now_ms)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(backend)?
                    .ok_or(StoreError::UploadNotFound)?;
                    let space_id: String = row.try_get(0).map_err(backend)?;
                    let corp_id: String = row.try_get(1).map_err(backend)?;
                    // Room left under the announced size, the quota, the capacity.
                    let announced: Option<i64> = row.try_get(2).map_err(backend)?;
                    let in_space: Option<i64> = row.try_get(3).map_err(backend)?;
                    let in_org: Option<i64> = row.try_get(4).map_err(backend)?;
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
                    adjust_reservation(conn, &upload_key, &space_id, &corp_id, granted).await?;
                    Ok(granted)
                })
            })
            .await
    }

    async fn reset_reservations(&self) -> StoreResult<u64> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let uploads = sqlx::query(
                        "UPDATE uploads SET reserved_bytes = (SELECT COALESCE(SUM(size), 0) \
                             FROM upload_parts p WHERE p.upload_key = uploads.upload_key) \
                         WHERE reserved_bytes != (SELECT COALESCE(SUM(size), 0) \
                             FROM upload_parts p WHERE p.upload_key = uploads.upload_key)",
                    )
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    Ok(uploads + recount_reservations(conn).await?)
                })
            })
            .await
    }

    async fn release_upload_bytes(&self, upload_key: &str, bytes: i64) -> StoreResult<()> {
        let upload_key = upload_key.to_string();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let Some((space_id, corp_id)) = upload_owner(conn, &upload_key).await? else {
                        return Ok(());
                    };
                    adjust_reservation(conn, &upload_key, &space_id, &corp_id, -bytes).await
                })
            })
            .await
    }

    async fn record_upload_part(
        &self,
        upload_key: &str,
        part: &UploadPartRecord,
        reserved: i64,
    ) -> StoreResult<PartRecorded> {
        let upload_key = upload_key.to_string();
        let part = part.clone();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let row = sqlx::query(
                        "SELECT u.space_id, s.corp_id, p.size, p.object_key FROM uploads u \
                         JOIN spaces s ON s.space_id = u.space_id \
                         LEFT JOIN upload_parts p \
                             ON p.upload_key = u.upload_key AND p.part_number = ?2 \
                         WHERE u.upload_key = ?1",
                    )
                    .bind(&upload_key)
                    .bind(part.part_number)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(backend)?;
                    let Some(row) = row else { return Ok(PartRecorded::UploadGone) };
                    let space_id: String = row.try_get(0).map_err(backend)?;
                    let corp_id: String = row.try_get(1).map_err(backend)?;
                    let old_size = row.try_get::<Option<i64>, _>(2).map_err(backend)?.unwrap_or(0);
                    let replaced: Option<String> = row.try_get(3).map_err(backend)?;
                    sqlx::query(
                        "INSERT INTO upload_parts (upload_key, part_number, size, md5, object_key) \
                         VALUES (?, ?, ?, ?, ?) ON CONFLICT (upload_key, part_number) DO UPDATE \
                         SET size = excluded.size, md5 = excluded.md5, object_key = excluded.object_key",
                    )
                    .bind(&upload_key)
                    .bind(part.part_number)
                    .bind(part.size)
                    .bind(part.md5.as_deref().unwrap_or_default())
                    .bind(&part.object_key)
                    .execute(&mut *conn)
                    .await
                    .map_err(classify)?;
                    // The PUT's reservation becomes the part's size; the part
                    // it replaces gives its bytes back.
                    let delta = part.size - reserved - old_size;
                    adjust_reservation(conn, &upload_key, &space_id, &corp_id, delta).await?;
                    Ok(PartRecorded::Recorded { replaced })
                })
            })
            .await
    }

    async fn take_expired_uploads(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<ExpiredUpload>> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let rows =
                        sqlx::query("SELECT upload_key FROM uploads WHERE expires_at < ? LIMIT ?")
                            .bind(before_ms)
                            .bind(limit)
                            .fetch_all(&mut *conn)
                            .await
                            .map_err(backend)?;
                    let keys: Vec<String> = collect(rows, |r| r.try_get(0))?;
                    let mut expired = Vec::with_capacity(keys.len());
                    for upload_key in keys {
                        let objects = remove_upload(conn, &upload_key).await?;
                        expired.push(ExpiredUpload { upload_key, objects });
                    }
                    Ok(expired)
                })
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

    async fn consistency_scan(&self) -> StoreResult<ConsistencyScan> {
        self.scan().await
    }

    async fn repair_usage(&self) -> StoreResult<u64> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let spaces = sqlx::query(&format!(
                        "WITH {CONTENT_BY_SPACE}, sums (space_id, total) AS ( \
                             SELECT s.space_id, COALESCE((SELECT SUM(size) FROM content c \
                                                          WHERE c.space_id = s.space_id), 0) \
                             FROM spaces s) \
                         UPDATE spaces SET used_bytes = \
                             (SELECT total FROM sums WHERE sums.space_id = spaces.space_id) \
                         WHERE used_bytes != \
                             (SELECT total FROM sums WHERE sums.space_id = spaces.space_id)"
                    ))
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    let orgs = sqlx::query(
                        "UPDATE orgs SET used_bytes = (SELECT COALESCE(SUM(used_bytes), 0) \
                             FROM spaces WHERE spaces.corp_id = orgs.corp_id) \
                         WHERE used_bytes != (SELECT COALESCE(SUM(used_bytes), 0) \
                             FROM spaces WHERE spaces.corp_id = orgs.corp_id)",
                    )
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    // An upload never holds less than its recorded parts.
                    let uploads = sqlx::query(
                        "UPDATE uploads SET reserved_bytes = (SELECT COALESCE(SUM(size), 0) \
                             FROM upload_parts p WHERE p.upload_key = uploads.upload_key) \
                         WHERE reserved_bytes < (SELECT COALESCE(SUM(size), 0) \
                             FROM upload_parts p WHERE p.upload_key = uploads.upload_key)",
                    )
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?
                    .rows_affected();
                    Ok(spaces + orgs + uploads + recount_reservations(conn).await?)
                })
            })
            .await
    }
}

const ROOT_ID: &str = "0";

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::ModifiedTime => "modified_at",
        SortKey::CreateTime => "created_at",
        SortKey::Name => "name",
        SortKey::Size => "size",
    }
}

/// A keyset page as one JSON array: live rows matching `filter`, ordered by
/// (key, dentry_id).
fn keyset_sql(filter: &str, key: SortKey, descending: bool, has_cursor: bool) -> String {
    let column = sort_column(key);
    let (cmp, dir) = if descending { ("<", "DESC") } else { (">", "ASC") };
    let after =
        if has_cursor { format!("AND ({column}, dentry_id) {cmp} (?, ?)") } else { String::new() };
    format!(
        "SELECT json_group_array(json(page.item)) FROM ( \
             SELECT {DENTRY_JSON} AS item FROM dentries d \
             WHERE {filter} AND status = 'NORMAL' {after} \
             ORDER BY {column} {dir}, dentry_id {dir} LIMIT ?) page"
    )
}

/// The page in its keyset order (an aggregate need not keep the subquery's).
fn sorted_page(
    mut page: Vec<DentryRecord>,
    key: SortKey,
    descending: bool,
) -> StoreResult<Vec<DentryRecord>> {
    page.sort_by(|a, b| {
        let by_key = match key {
            SortKey::ModifiedTime => a.modified_at.cmp(&b.modified_at),
            SortKey::CreateTime => a.created_at.cmp(&b.created_at),
            SortKey::Name => a.name.cmp(&b.name),
            SortKey::Size => a.size.cmp(&b.size),
        };
        let order = by_key.then_with(|| a.dentry_id.cmp(&b.dentry_id));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    Ok(page)
}

type Query<'q> =
    sqlx::query::QueryScalar<'q, sqlx::Sqlite, Option<String>, sqlx::sqlite::SqliteArguments<'q>>;

fn bind_cursor<'q>(query: Query<'q>, after: Option<&'q Cursor>) -> Query<'q> {
    match after {
        None => query,
        Some(cursor) => {
            let query = match &cursor.value {
                CursorValue::Int(v) => query.bind(*v),
                CursorValue::Text(v) => query.bind(v.as_str()),
            };
            query.bind(cursor.dentry_id.as_str())
        }
    }
}

/// Inserts the dentry under `name`; false if a live sibling already has it.
async fn insert_dentry(
    tx: &mut SqliteConnection,
    d: &DentryRecord,
    name: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO dentries (dentry_id, uuid, space_id, parent_id, kind, name, size, version, \
         status, blob_key, creator_id, modifier_id, created_at, modified_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(&d.dentry_id)
    .bind(&d.uuid)
    .bind(&d.space_id)
    .bind(&d.parent_id)
    .bind(&d.kind)
    .bind(name)
    .bind(d.size)
    .bind(d.version)
    .bind(&d.status)
    .bind(&d.blob_key)
    .bind(&d.creator_id)
    .bind(&d.modifier_id)
    .bind(d.created_at)
    .bind(d.modified_at)
    .execute(&mut *tx)
    .await
    .map_err(classify)?;
    Ok(done.rows_affected() == 1)
}

async fn live_child(tx: &mut SqliteConnection, d: &DentryRecord) -> StoreResult<DentryRecord> {
    let sql = format!(
        "SELECT {DENTRY_COLUMNS} FROM dentries \
         WHERE space_id = ? AND parent_id = ? AND name = ? AND status = 'NORMAL'"
    );
    let row = sqlx::query(&sql)
        .bind(&d.space_id)
        .bind(&d.parent_id)
        .bind(&d.name)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    dentry_from_row(&row).map_err(backend)
}

/// The dentry as stored now, with every app's properties.
async fn reread(tx: &mut SqliteConnection, d: &DentryRecord) -> StoreResult<DentryRecord> {
    let sql = format!(
        "SELECT json_group_array(json({DENTRY_JSON})) FROM dentries d \
         WHERE d.space_id = ? AND d.dentry_id = ?"
    );
    let json = sqlx::query_scalar::<_, Option<String>>(&sql)
        .bind(&d.space_id)
        .bind(&d.dentry_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
    dentries_from_json(json)?.pop().ok_or(StoreError::Backend("a dentry vanished".into()))
}

/// Inserts under the first free `prefix{k}suffix`.
async fn auto_rename(
    tx: &mut SqliteConnection,
    d: &DentryRecord,
    prefix: &str,
    suffix: &str,
) -> StoreResult<DentryRecord> {
    let rows = sqlx::query(
        "SELECT name FROM dentries WHERE space_id = ? AND parent_id = ? AND status = 'NORMAL' \
         AND substr(name, 1, ?) = ?",
    )
    .bind(&d.space_id)
    .bind(&d.parent_id)
    .bind(prefix.chars().count() as i64)
    .bind(prefix)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let taken: HashSet<String> = rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    for k in 1..=MAX_RENAME_COUNTER {
        let candidate = format!("{prefix}{k}{suffix}");
        if !taken.contains(&candidate) && insert_dentry(tx, d, &candidate).await? {
            return Ok(DentryRecord { name: candidate, ..d.clone() });
        }
    }
    Err(StoreError::NameTaken(Box::new(d.clone())))
}

/// Keeps `existing`'s content as a version and gives it `new`'s content.
async fn overwrite(
    tx: &mut SqliteConnection,
    existing: &DentryRecord,
    new: &DentryRecord,
) -> StoreResult<DentryRecord> {
    sqlx::query(
        "INSERT INTO dentry_versions (dentry_id, version, name, size, blob_key, modifier_id, \
         modified_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&existing.dentry_id)
    .bind(existing.version)
    .bind(&existing.name)
    .bind(existing.size)
    .bind(&existing.blob_key)
    .bind(&existing.modifier_id)
    .bind(existing.modified_at)
    .execute(&mut *tx)
    .await
    .map_err(classify)?;
    let updated = DentryRecord {
        size: new.size,
        blob_key: new.blob_key.clone(),
        version: existing.version + 1,
        modifier_id: new.modifier_id.clone(),
        modified_at: new.modified_at,
        ..existing.clone()
    };
    sqlx::query(
        "UPDATE dentries SET size = ?, blob_key = ?, version = ?, modifier_id = ?, \
         modified_at = ? WHERE dentry_id = ?",
    )
    .bind(updated.size)
    .bind(&updated.blob_key)
    .bind(updated.version)
    .bind(&updated.modifier_id)
    .bind(updated.modified_at)
    .bind(&updated.dentry_id)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    Ok(updated)
}

/// Sets every space's and org's reserved counter to the sum it summarises;
/// returns how many changed.
async fn recount_reservations(conn: &mut SqliteConnection) -> StoreResult<u64> {
    let spaces = sqlx::query(
        "UPDATE spaces SET reserved_bytes = (SELECT COALESCE(SUM(reserved_bytes), 0) \
             FROM uploads WHERE uploads.space_id = spaces.space_id) \
         WHERE reserved_bytes != (SELECT COALESCE(SUM(reserved_bytes), 0) \
             FROM uploads WHERE uploads.space_id = spaces.space_id)",
    )
    .execute(&mut *conn)
    .await
    .map_err(backend)?
    .rows_affected();
    let orgs = sqlx::query(
        "UPDATE orgs SET reserved_bytes = (SELECT COALESCE(SUM(reserved_bytes), 0) \
             FROM spaces WHERE spaces.corp_id = orgs.corp_id) \
         WHERE reserved_bytes != (SELECT COALESCE(SUM(reserved_bytes), 0) \
             FROM spaces WHERE spaces.corp_id = orgs.corp_id)",
    )
    .execute(&mut *conn)
    .await
    .map_err(backend)?
    .rows_affected();
    Ok(spaces + orgs)
}

/// `COUNT(*)` of a query with one text parameter.
async fn count(conn: &mut SqliteConnection, sql: &str, param: &str) -> StoreResult<i64> {
    sqlx::query_scalar(sql).bind(param).fetch_one(&mut *conn).await.map_err(backend)
}

/// The space and org of an open upload.
async fn upload_owner(
    conn: &mut SqliteConnection,
    upload_key: &str,
) -> StoreResult<Option<(String, String)>> {
    let row = sqlx::query(
        "SELECT u.space_id, s.corp_id FROM uploads u JOIN spaces s ON s.space_id = u.space_id \
         WHERE u.upload_key = ?",
    )
    .bind(upload_key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    row.map(|r| Ok((r.try_get(0).map_err(backend)?, r.try_get(1).map_err(backend)?))).transpose()
}

/// Changes an upload's reservation by `delta` bytes, and its space's and
/// org's with it. Growth is checked against the quota and the capacity
/// (committed plus reserved bytes); shrinking never fails.
async fn adjust_reservation(
    conn: &mut SqliteConnection,
    upload_key: &str,
    space_id: &str,
    corp_id: &str,
    delta: i64,
) -> StoreResult<()> {
    if delta == 0 {
        return Ok(());
    }
    let space = sqlx::query(
        "UPDATE spaces SET reserved_bytes = reserved_bytes + ?1 WHERE space_id = ?2 \
         AND (?1 < 0 OR quota IS NULL OR used_bytes + reserved_bytes + ?1 <= quota)",
    )
    .bind(delta)
    .bind(space_id)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    if space.rows_affected() == 0 {
        return Err(StoreError::QuotaExceeded { space: true });
    }
    let org = sqlx::query(
        "UPDATE orgs SET reserved_bytes = reserved_bytes + ?1 WHERE corp_id = ?2 \
         AND (?1 < 0 OR capacity IS NULL OR used_bytes + reserved_bytes + ?1 <= capacity)",
    )
    .bind(delta)
    .bind(corp_id)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    if org.rows_affected() == 0 {
        return Err(StoreError::QuotaExceeded { space: false });
    }
    sqlx::query("UPDATE uploads SET reserved_bytes = reserved_bytes + ? WHERE upload_key = ?")
        .bind(delta)
        .bind(upload_key)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(())
}

/// Deletes an upload with its parts, releasing its reservation; returns the
/// objects its parts were written to. `UploadNotFound` if it is gone.
async fn remove_upload(conn: &mut SqliteConnection, upload_key: &str) -> StoreResult<Vec<String>> {
    let (space_id, corp_id) =
        upload_owner(conn, upload_key).await?.ok_or(StoreError::UploadNotFound)?;
    let held: i64 = sqlx::query_scalar("SELECT reserved_bytes FROM uploads WHERE upload_key = ?")
        .bind(upload_key)
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)?;
    adjust_reservation(conn, upload_key, &space_id, &corp_id, -held).await?;
    let objects = sqlx::query_scalar(
        "SELECT object_key FROM upload_parts WHERE upload_key = ? ORDER BY part_number",
    )
    .bind(upload_key)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    sqlx::query("DELETE FROM uploads WHERE upload_key = ?")
        .bind(upload_key)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(objects)
}

/// A commit consumes its upload — only if the parts it was made from are
/// still exactly the recorded ones — and returns the bytes the upload held
/// reserved (the caller settles them on the space and org with its charge).
async fn claim_upload(
    conn: &mut SqliteConnection,
    upload_key: &str,
    used_objects: &[String],
) -> StoreResult<i64> {
    let held: i64 = sqlx::query_scalar("SELECT reserved_bytes FROM uploads WHERE upload_key = ?")
        .bind(upload_key)
        .fetch_optional(&mut *conn)
        .await
        .map_err(backend)?
        .ok_or(StoreError::UploadNotFound)?;
    let mut recorded: Vec<String> =
        sqlx::query_scalar("DELETE FROM upload_parts WHERE upload_key = ? RETURNING object_key")
            .bind(upload_key)
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
    let mut used = used_objects.to_vec();
    recorded.sort();
    used.sort();
    if recorded != used {
        return Err(StoreError::UploadChanged);
    }
    sqlx::query("DELETE FROM uploads WHERE upload_key = ?")
        .bind(upload_key)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    Ok(held)
}

/// Releases `released` reserved bytes and adds `charged` committed bytes on
/// the space and org counters, in one `UPDATE` each, unless a cap would be
/// passed (committed plus reserved bytes count against it).
async fn settle(
    tx: &mut SqliteConnection,
    space_id: &str,
    corp_id: &str,
    released: i64,
    charged: i64,
) -> StoreResult<()> {
    if released == 0 && charged == 0 {
        return Ok(());
    }
    let space = sqlx::query(
        "UPDATE spaces SET reserved_bytes = reserved_bytes - ?1, used_bytes = used_bytes + ?2 \
         WHERE space_id = ?3 \
         AND (?2 = 0 OR quota IS NULL OR used_bytes + reserved_bytes - ?1 + ?2 <= quota)",
    )
    .bind(released)
    .bind(charged)
    .bind(space_id)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if space.rows_affected() == 0 {
        return Err(StoreError::QuotaExceeded { space: true });
    }
    let org = sqlx::query(
        "UPDATE orgs SET reserved_bytes = reserved_bytes - ?1, used_bytes = used_bytes + ?2 \
         WHERE corp_id = ?3 \
         AND (?2 = 0 OR capacity IS NULL OR used_bytes + reserved_bytes - ?1 + ?2 <= capacity)",
    )
    .bind(released)
    .bind(charged)
    .bind(corp_id)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    if org.rows_affected() == 0 {
        return Err(StoreError::QuotaExceeded { space: false });
    }
    Ok(())
}

/// Bytes of content per space: every file's current content and every kept version.
const CONTENT_BY_SPACE: &str = "content (space_id, size) AS ( \
     SELECT space_id, size FROM dentries WHERE kind = 'FILE' \
     UNION ALL \
     SELECT d.space_id, v.size FROM dentry_versions v JOIN dentries d ON d.dentry_id = v.dentry_id)";

impl SqliteStore {
    pub(crate) async fn scan(&self) -> StoreResult<ConsistencyScan> {
        // One read transaction: every list below comes from the same snapshot.
        let mut tx = self.reader.begin().await.map_err(backend)?;
        let rows = sqlx::query(
            "SELECT blob_key, size, dentry_id FROM dentries WHERE blob_key IS NOT NULL \
             UNION ALL SELECT blob_key, size, dentry_id FROM dentry_versions",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let blobs = collect(rows, |r| {
            Ok(BlobReference {
                blob_key: r.try_get(0)?,
                size: r.try_get(1)?,
                dentry_id: r.try_get(2)?,
            })
        })?;
        let rows = sqlx::query("SELECT upload_key FROM uploads")
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let open_uploads = collect(rows, |r| r.try_get(0))?;
        let upload_objects = sqlx::query_scalar("SELECT object_key FROM upload_parts")
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let usage = |r: &SqliteRow| {
            Ok(UsageCheck { id: r.try_get(0)?, recorded: r.try_get(1)?, actual: r.try_get(2)? })
        };
        let rows = sqlx::query(&format!(
            "WITH {CONTENT_BY_SPACE} SELECT s.space_id, s.used_bytes, \
             COALESCE((SELECT SUM(size) FROM content c WHERE c.space_id = s.space_id), 0) \
             FROM spaces s ORDER BY s.space_id"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let space_usage = collect(rows, usage)?;
        let rows = sqlx::query(&format!(
            "WITH {CONTENT_BY_SPACE} SELECT o.corp_id, o.used_bytes, \
             COALESCE((SELECT SUM(c.size) FROM content c JOIN spaces s ON s.space_id = c.space_id \
                       WHERE s.corp_id = o.corp_id), 0) \
             FROM orgs o ORDER BY o.corp_id"
        ))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let org_usage = collect(rows, usage)?;
        let rows = sqlx::query("SELECT space_id, dentry_id, parent_id, kind, status FROM dentries")
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let tree = collect(rows, |r| {
            Ok(TreeNode {
                space_id: r.try_get(0)?,
                dentry_id: r.try_get(1)?,
                parent_id: r.try_get(2)?,
                is_folder: r.try_get::<String, _>(3)? == "FOLDER",
                live: r.try_get::<String, _>(4)? == "NORMAL",
            })
        })?;
        let rows = sqlx::query(
            "SELECT space_id, parent_id, name FROM dentries WHERE status = 'NORMAL' \
             GROUP BY space_id, parent_id, name HAVING COUNT(*) > 1",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let duplicate_names = collect(rows, |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))?;
        let rows = sqlx::query(
            "SELECT s.space_id, s.reserved_bytes, COALESCE((SELECT SUM(reserved_bytes) \
             FROM uploads u WHERE u.space_id = s.space_id), 0) FROM spaces s ORDER BY s.space_id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let space_reserved = collect(rows, usage)?;
        let rows = sqlx::query(
            "SELECT o.corp_id, o.reserved_bytes, COALESCE((SELECT SUM(reserved_bytes) \
             FROM spaces s WHERE s.corp_id = o.corp_id), 0) FROM orgs o ORDER BY o.corp_id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let org_reserved = collect(rows, usage)?;
        let rows = sqlx::query(
            "SELECT upload_key, reserved_bytes, parts FROM (SELECT u.upload_key, u.reserved_bytes, \
             (SELECT COALESCE(SUM(size), 0) FROM upload_parts p WHERE p.upload_key = u.upload_key) \
             AS parts FROM uploads u) WHERE reserved_bytes < parts ORDER BY upload_key",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let under_reserved_uploads = collect(rows, usage)?;
        tx.rollback().await.map_err(backend)?;
        Ok(ConsistencyScan {
            blobs,
            open_uploads,
            upload_objects,
            space_usage,
            org_usage,
            space_reserved,
            org_reserved,
            under_reserved_uploads,
            tree,
            duplicate_names,
        })
    }
}

impl SqliteStore {
    /// Bulk load for benchmarks: inserts the dentries as given, with no
    /// conflict handling and no quota charge.
    pub async fn insert_dentries_unchecked(&self, dentries: &[DentryRecord]) -> StoreResult<()> {
        let dentries = dentries.to_vec();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    for dentry in &dentries {
                        if !insert_dentry(conn, dentry, &dentry.name).await? {
                            return Err(StoreError::Backend(format!(
                                "name taken: {}",
                                dentry.name
                            )));
                        }
                    }
                    Ok(())
                })
            })
            .await
    }
}
