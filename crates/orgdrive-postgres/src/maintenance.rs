//! Nodes, consistency scans, repair of the byte counters, the trash of
//! content objects, and closing the store.

use async_trait::async_trait;
use tokio_postgres::Row;

use orgdrive_store::{
    BlobReference, ConsistencyScan, Lease, MaintenanceStore, StoreError, StoreGauges, StoreResult,
    TreeNode, UsageCheck, WriteFigures,
};

use crate::uploads::{lock_counters, recount_reservations};
use crate::{all, exec, one, read, snapshot, tx, DbResult, PgStore};

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
impl MaintenanceStore for PgStore {
    async fn register_node(&self, now_ms: i64) -> StoreResult<i64> {
        tx!(self, |t| {
            one(&t, "INSERT INTO nodes (started_at) VALUES ($1) RETURNING node_id", &[&now_ms])
                .await?
                .ok_or_else(|| StoreError::Backend("no node number returned".into()))?
                .try_get::<_, i64>(0)?
        })
    }

    async fn consistency_scan(&self) -> StoreResult<ConsistencyScan> {
        snapshot!(self, |t| {
            // Read-only, holding no row: the time spent reading a large
            // table's rows between statements is not a stopped node's
            // (`connect::session_bounds`).
            t.batch_execute("SET LOCAL idle_in_transaction_session_timeout = 0").await?;
            let usage = |r: &Row| -> DbResult<UsageCheck> {
                Ok(UsageCheck { id: r.try_get(0)?, recorded: r.try_get(1)?, actual: r.try_get(2)? })
            };
            let strings = |rows: Vec<Row>| -> DbResult<Vec<String>> {
                rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
            };
            let blobs = all(
                &t,
                "SELECT blob_key, size, dentry_id FROM dentries WHERE blob_key IS NOT NULL \
                 UNION ALL SELECT blob_key, size, dentry_id FROM dentry_versions",
                &[],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(BlobReference {
                    blob_key: r.try_get(0)?,
                    size: r.try_get(1)?,
                    dentry_id: r.try_get(2)?,
                })
            })
            .collect::<DbResult<Vec<_>>>()?;
            let open_uploads = strings(all(&t, "SELECT upload_key FROM uploads", &[]).await?)?;
            let upload_objects =
                strings(all(&t, "SELECT object_key FROM upload_parts", &[]).await?)?;
            let space_usage = all(
                &t,
                concat!(
                    "WITH ",
                    content_by_space!(),
                    " SELECT s.space_id, s.used_bytes, COALESCE((SELECT SUM(size) FROM content c \
                     WHERE c.space_id = s.space_id), 0)::BIGINT FROM spaces s ORDER BY s.space_id"
                ),
                &[],
            )
            .await?
            .iter()
            .map(usage)
            .collect::<DbResult<Vec<_>>>()?;
            let org_usage = all(
                &t,
                concat!(
                    "WITH ",
                    content_by_space!(),
                    " SELECT o.corp_id, o.used_bytes, COALESCE((SELECT SUM(c.size) FROM content c \
                     JOIN spaces s ON s.space_id = c.space_id WHERE s.corp_id = o.corp_id), 0)::BIGINT \
                     FROM orgs o ORDER BY o.corp_id"
                ),
                &[],
            )
            .await?
            .iter()
            .map(usage)
            .collect::<DbResult<Vec<_>>>()?;
            let tree =
                all(&t, "SELECT space_id, dentry_id, parent_id, kind, status FROM dentries", &[])
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(TreeNode {
                            space_id: r.try_get(0)?,
                            dentry_id: r.try_get(1)?,
                            parent_id: r.try_get(2)?,
                            is_folder: r.try_get::<_, String>(3)? == "FOLDER",
                            live: r.try_get::<_, String>(4)? == "NORMAL",
                        })
                    })
                    .collect::<DbResult<Vec<_>>>()?;
            let duplicate_names = all(
                &t,
                "SELECT space_id, parent_id, name FROM dentries WHERE status = 'NORMAL' \
                 GROUP BY space_id, parent_id, name HAVING COUNT(*) > 1",
                &[],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<DbResult<Vec<_>>>()?;
            let space_reserved = all(
                &t,
                "SELECT s.space_id, s.reserved_bytes, COALESCE((SELECT SUM(reserved_bytes) \
                 FROM uploads u WHERE u.space_id = s.space_id), 0)::BIGINT FROM spaces s \
                 ORDER BY s.space_id",
                &[],
            )
            .await?
            .iter()
            .map(usage)
            .collect::<DbResult<Vec<_>>>()?;
            let org_reserved = all(
                &t,
                "SELECT o.corp_id, o.reserved_bytes, COALESCE((SELECT SUM(reserved_bytes) \
                 FROM spaces s WHERE s.corp_id = o.corp_id), 0)::BIGINT FROM orgs o \
                 ORDER BY o.corp_id",
                &[],
            )
            .await?
            .iter()
            .map(usage)
            .collect::<DbResult<Vec<_>>>()?;
            let under_reserved_uploads = all(
                &t,
                "SELECT upload_key, reserved_bytes, parts FROM (SELECT u.upload_key, \
                 u.reserved_bytes, (SELECT COALESCE(SUM(size), 0) FROM upload_parts p \
                 WHERE p.upload_key = u.upload_key)::BIGINT AS parts FROM uploads u) sums \
                 WHERE reserved_bytes < parts ORDER BY upload_key",
                &[],
            )
            .await?
            .iter()
            .map(usage)
            .collect::<DbResult<Vec<_>>>()?;
            let space_versions = all(
                &t,
                "SELECT s.space_id, s.versions_bytes, COALESCE(kept.bytes, 0)::BIGINT \
                 FROM spaces s LEFT JOIN (SELECT d.space_id, SUM(v.size) AS bytes \
                     FROM dentry_versions v JOIN dentries d ON d.dentry_id = v.dentry_id \
                     GROUP BY d.space_id) kept ON kept.space_id = s.space_id \
                 ORDER BY s.space_id",
                &[],
            )
            .await?
            .iter()
            .map(usage)
            .collect::<DbResult<Vec<_>>>()?;
            let trashed_objects =
                strings(all(&t, "SELECT object_key FROM trashed_objects", &[]).await?)?;
            let thumbnail_objects = strings(
                all(&t, "SELECT object_key FROM thumbnails WHERE object_key IS NOT NULL", &[])
                    .await?,
            )?;
            ConsistencyScan {
                blobs,
                open_uploads,
                upload_objects,
                space_reserved,
                org_reserved,
                under_reserved_uploads,
                space_usage,
                org_usage,
                space_versions,
                tree,
                duplicate_names,
                trashed_objects,
                thumbnail_objects,
            }
        })
    }

    /// Locks every counter's row first (see `lock_counters`): the sums are
    /// then read in statements that start after every change holding one
    /// of those rows has committed, and none can start until this ends.
    async fn repair_usage(&self) -> StoreResult<u64> {
        tx!(self, |t| {
            lock_counters(&t).await?;
            let spaces = exec(
                &t,
                concat!(
                    "WITH ",
                    content_by_space!(),
                    ", sums AS (SELECT s2.space_id, COALESCE((SELECT SUM(size) FROM content c \
                     WHERE c.space_id = s2.space_id), 0)::BIGINT AS total FROM spaces s2) \
                     UPDATE spaces s SET used_bytes = sums.total FROM sums \
                     WHERE sums.space_id = s.space_id AND s.used_bytes <> sums.total"
                ),
                &[],
            )
            .await?;
            let orgs = exec(
                &t,
                "UPDATE orgs o SET used_bytes = sums.total \
                 FROM (SELECT o2.corp_id, COALESCE(SUM(s.used_bytes), 0)::BIGINT AS total \
                       FROM orgs o2 LEFT JOIN spaces s ON s.corp_id = o2.corp_id \
                       GROUP BY o2.corp_id) sums \
                 WHERE sums.corp_id = o.corp_id AND o.used_bytes <> sums.total",
                &[],
            )
            .await?;
            let versions = exec(
                &t,
                "UPDATE spaces s SET versions_bytes = COALESCE(kept.bytes, 0) \
                 FROM spaces s2 LEFT JOIN (SELECT d.space_id, SUM(v.size)::BIGINT AS bytes \
                     FROM dentry_versions v JOIN dentries d ON d.dentry_id = v.dentry_id \
                     GROUP BY d.space_id) kept ON kept.space_id = s2.space_id \
                 WHERE s2.space_id = s.space_id AND s.versions_bytes <> COALESCE(kept.bytes, 0)",
                &[],
            )
            .await?;
            // An upload never holds less than its recorded parts.
            let uploads = exec(
                &t,
                "UPDATE uploads u SET reserved_bytes = p.total \
                 FROM (SELECT upload_key, SUM(size)::BIGINT AS total FROM upload_parts \
                       GROUP BY upload_key) p \
                 WHERE p.upload_key = u.upload_key AND u.reserved_bytes < p.total",
                &[],
            )
            .await?;
            spaces + orgs + versions + uploads + recount_reservations(&t).await?
        })
    }

    async fn trashed_objects(&self, limit: u32) -> StoreResult<Vec<String>> {
        let limit = i64::from(limit);
        read!(self, |c| {
            all(&c, "SELECT object_key FROM trashed_objects ORDER BY id LIMIT $1", &[&limit])
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<Vec<String>, _>>()?
        })
    }

    async fn forget_trash(&self, objects: &[String]) -> StoreResult<()> {
        if objects.is_empty() {
            return Ok(());
        }
        tx!(self, |t| {
            exec(&t, "DELETE FROM trashed_objects WHERE object_key = ANY($1)", &[&objects]).await?;
        })
    }

    /// One upsert: the conflicting row is locked and re-read, so of racing
    /// callers one claims and the others see its claim.
    async fn lease_job(&self, name: &str, lease: &Lease) -> StoreResult<bool> {
        tx!(self, |t| {
            exec(
                &t,
                "INSERT INTO job_leases AS j (name, node, until_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET node = excluded.node, until_ms = excluded.until_ms \
                 WHERE $5 OR j.until_ms <= $4 OR j.node = excluded.node",
                &[&name, &lease.node, &lease.until_ms, &lease.now_ms, &lease.steal],
            )
            .await?
                == 1
        })
    }

    async fn release_job(&self, name: &str, node: i64) -> StoreResult<()> {
        tx!(self, |t| {
            exec(&t, "DELETE FROM job_leases WHERE name = $1 AND node = $2", &[&name, &node])
                .await?;
        })
    }

    async fn gauges(&self) -> StoreResult<StoreGauges> {
        // Events not yet numbered by the lazy sequencer count as the next
        // numbers they will get.
        read!(self, |c| {
            let row = one(
                &c,
                "SELECT \
                 (SELECT COUNT(*) FROM tasks WHERE status IN ('INIT', 'IN_PROGRESS')), \
                 (SELECT COALESCE(SUM(GREATEST(0, last.seq - cur.last_seq)), 0)::BIGINT \
                  FROM event_cursors cur, \
                  (SELECT s.last_seq + (SELECT COUNT(*) FROM events WHERE seq IS NULL) AS seq \
                   FROM event_sequencer s) last), \
                 (SELECT COALESCE(SUM(used_bytes), 0)::BIGINT FROM orgs), \
                 (SELECT COALESCE(SUM(reserved_bytes), 0)::BIGINT FROM orgs), \
                 pg_database_size(current_database())",
                &[],
            )
            .await?
            .ok_or_else(|| StoreError::Backend("no gauges returned".into()))?;
            let count = |i: usize| -> DbResult<u64> {
                Ok(u64::try_from(row.try_get::<_, i64>(i)?).unwrap_or(0))
            };
            StoreGauges {
                unfinished_tasks: count(0)?,
                event_backlog: count(1)?,
                used_bytes: count(2)?,
                reserved_bytes: count(3)?,
                store_bytes: count(4)?,
            }
        })
    }

    fn write_figures(&self) -> WriteFigures {
        let (puts, writes) = (self.puts.figures(), self.writes.figures());
        WriteFigures { commits: puts.commits + writes.commits, writes: puts.writes + writes.writes }
    }

    /// Other nodes write the same database: no answer may be cached by a
    /// generation this node counts.
    fn write_generation(&self) -> Option<u64> {
        None
    }

    async fn ping(&self) -> StoreResult<()> {
        read!(self, |c| {
            one(&c, "SELECT 1", &[]).await?;
        })
    }

    async fn job_claimed(&self, name: &str, now_ms: i64) -> StoreResult<bool> {
        read!(self, |c| {
            one(&c, "SELECT 1 FROM job_leases WHERE name = $1 AND until_ms > $2", &[&name, &now_ms])
                .await?
                .is_some()
        })
    }

    async fn close(&self) {
        self.close_pool()
    }
}
