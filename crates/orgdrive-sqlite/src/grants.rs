//! SQLite: grants (table `grants`) and the department closure a user
//! belongs to. Each change is one job on the writer.

use async_trait::async_trait;
use rusqlite::{params, Connection, Row};

use crate::drive::{id_array, ROOT_ID};
use crate::events;
use crate::*;
use orgdrive_store::{
    GrantChange, GrantCursor, GrantRecord, GrantStore, GrantWrite, RevokeGrants, WriteGrants,
};

macro_rules! grant_columns {
    () => {
        "space_id, dentry_id, member_type, member_id, member_corp_id, role, duration_secs, \
         expires_at, operator_id, created_at, modified_at"
    };
}

fn grant_from_row(row: &Row) -> rusqlite::Result<GrantRecord> {
    Ok(GrantRecord {
        space_id: row.get(0)?,
        dentry_id: row.get(1)?,
        member_type: row.get(2)?,
        member_id: row.get(3)?,
        member_corp_id: row.get(4)?,
        role: row.get(5)?,
        duration_secs: row.get(6)?,
        expires_at: row.get(7)?,
        operator_id: row.get(8)?,
        created_at: row.get(9)?,
        modified_at: row.get(10)?,
    })
}

#[async_trait]
impl GrantStore for SqliteStore {
    async fn write_grants(&self, write: &WriteGrants) -> StoreResult<()> {
        let write = write.clone();
        self.write(move |conn| write_grants(conn, &write)).await
    }

    async fn revoke_grants(&self, revoke: &RevokeGrants) -> StoreResult<u64> {
        let revoke = revoke.clone();
        self.write(move |conn| {
            let mut removed = 0;
            for (member_type, member_id) in &revoke.members {
                let gone = exec(
                    conn,
                    "DELETE FROM grants WHERE space_id = ?1 AND dentry_id = ?2 \
                     AND member_type = ?3 AND member_id = ?4 AND role = ?5",
                    [&revoke.space_id, &revoke.dentry_id, member_type, member_id, &revoke.role],
                )
                .map_err(backend)?;
                if gone > 0 {
                    let change = GrantChange {
                        corp_id: &space_corp(conn, &revoke.space_id)?,
                        space_id: &revoke.space_id,
                        dentry_id: &revoke.dentry_id,
                        member_type,
                        member_id,
                        role: None,
                        operator_id: &revoke.operator_id,
                        at_ms: revoke.now_ms,
                    };
                    events::append(conn, &change.into())?;
                }
                removed += gone;
            }
            Ok(removed)
        })
        .await
    }

    async fn list_grants(
        &self,
        space_id: &str,
        dentry_id: &str,
        roles: &[String],
        after: Option<&GrantCursor>,
        limit: u32,
        now_ms: i64,
    ) -> StoreResult<Vec<GrantRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            grant_columns!(),
            " FROM grants WHERE space_id = ?1 AND dentry_id = ?2 \
             AND (expires_at IS NULL OR expires_at > ?3) \
             AND (?4 = 0 OR role IN rarray(?5)) \
             AND (?6 IS NULL OR (member_type, member_id) > (?6, ?7)) \
             ORDER BY member_type, member_id LIMIT ?8"
        );
        let filtered = !roles.is_empty();
        let roles = id_array(roles.iter());
        let (after_type, after_id) =
            after.map(|c| (Some(c.member_type.clone()), Some(c.member_id.clone()))).unzip();
        let (space_id, dentry_id) = (space_id.to_string(), dentry_id.to_string());
        self.read(|conn| {
            all(
                conn,
                SQL,
                params![
                    space_id,
                    dentry_id,
                    now_ms,
                    filtered,
                    roles,
                    after_type.flatten(),
                    after_id.flatten(),
                    limit
                ],
                grant_from_row,
            )
        })
    }

    async fn space_grants(&self, space_id: &str, now_ms: i64) -> StoreResult<Vec<GrantRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            grant_columns!(),
            " FROM grants WHERE space_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)"
        );
        self.read(|conn| all(conn, SQL, params![space_id, now_ms], grant_from_row))
    }

    async fn user_dept_ids(&self, corp_id: &str, union_id: &str) -> StoreResult<Vec<String>> {
        // Departments form a tree; the depth bound stops a cycle a
        // hand-edited database might hold.
        const SQL: &str = "WITH RECURSIVE up (dept_id, depth) AS ( \
                 SELECT dept_id, 0 FROM dept_members WHERE corp_id = ?1 AND union_id = ?2 \
                 UNION \
                 SELECT d.parent_id, u.depth + 1 FROM up u \
                 CROSS JOIN depts d ON d.dept_id = u.dept_id \
                 WHERE d.parent_id IS NOT NULL AND d.corp_id = ?1 AND u.depth < 1000) \
             SELECT DISTINCT dept_id FROM up";
        self.read(|conn| all(conn, SQL, [corp_id, union_id], |r| r.get(0)))
    }

    async fn purge_expired_grants(&self, now_ms: i64) -> StoreResult<u64> {
        self.write(move |conn| {
            exec(conn, "DELETE FROM grants WHERE expires_at <= ?1", [now_ms]).map_err(backend)
        })
        .await
    }
}

fn write_grants(conn: &Connection, write: &WriteGrants) -> StoreResult<()> {
    let live = write.dentry_id == ROOT_ID
        || one(
            conn,
            "SELECT 1 FROM dentries WHERE space_id = ?1 AND dentry_id = ?2 AND status = 'NORMAL'",
            [&write.space_id, &write.dentry_id],
            |_| Ok(()),
        )?
        .is_some();
    let space_exists =
        one(conn, "SELECT 1 FROM spaces WHERE space_id = ?1", [&write.space_id], |_| Ok(()))?
            .is_some();
    if !live || !space_exists {
        return Err(StoreError::NotFound);
    }
    let corp_id = space_corp(conn, &write.space_id)?;
    for g in &write.grants {
        // The member's live grant here, if any (the write's time is "now").
        let held: Option<String> = one(
            conn,
            "SELECT role FROM grants WHERE space_id = ?1 AND dentry_id = ?2 \
             AND member_type = ?3 AND member_id = ?4 \
             AND (expires_at IS NULL OR expires_at > ?5)",
            params![write.space_id, write.dentry_id, g.member_type, g.member_id, g.modified_at],
            |r| r.get(0),
        )?;
        if write.mode == GrantWrite::Update && held.is_none() {
            return Err(StoreError::NotFound);
        }
        if write.protect_owner_grants && held.as_deref() == Some("OWNER") {
            return Err(StoreError::OwnerGrantInTheWay);
        }
        exec(
            conn,
            concat!(
                "INSERT INTO grants (",
                grant_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (space_id, dentry_id, member_type, member_id) DO UPDATE SET \
                 member_corp_id = excluded.member_corp_id, role = excluded.role, \
                 duration_secs = excluded.duration_secs, expires_at = excluded.expires_at, \
                 operator_id = excluded.operator_id, modified_at = excluded.modified_at"
            ),
            params![
                write.space_id,
                write.dentry_id,
                g.member_type,
                g.member_id,
                g.member_corp_id,
                g.role,
                g.duration_secs,
                g.expires_at,
                g.operator_id,
                g.created_at,
                g.modified_at,
            ],
        )
        .map_err(classify)?;
        let change = GrantChange {
            corp_id: &corp_id,
            space_id: &write.space_id,
            dentry_id: &write.dentry_id,
            member_type: &g.member_type,
            member_id: &g.member_id,
            role: Some(&g.role),
            operator_id: &g.operator_id,
            at_ms: g.modified_at,
        };
        events::append(conn, &change.into())?;
    }
    Ok(())
}

/// The org of a space (the events' `corp_id`).
fn space_corp(conn: &Connection, space_id: &str) -> StoreResult<String> {
    one(conn, "SELECT corp_id FROM spaces WHERE space_id = ?1", [space_id], |r| r.get(0))?
        .ok_or(StoreError::NotFound)
}

/// Removes the grants on these dentries (they left the tree).
pub(crate) fn drop_grants(conn: &Connection, dentry_ids: &[String]) -> StoreResult<()> {
    exec(conn, "DELETE FROM grants WHERE dentry_id IN rarray(?1)", [id_array(dentry_ids.iter())])
        .map_err(backend)?;
    Ok(())
}

/// Whether a live `OWNER` grant is on one of these dentries.
pub(crate) fn holds_owner_grant(
    conn: &Connection,
    dentry_ids: &[String],
    now_ms: i64,
) -> StoreResult<bool> {
    Ok(one(
        conn,
        "SELECT 1 FROM grants WHERE dentry_id IN rarray(?1) AND role = 'OWNER' \
         AND (expires_at IS NULL OR expires_at > ?2) LIMIT 1",
        params![id_array(dentry_ids.iter()), now_ms],
        |_| Ok(()),
    )?
    .is_some())
}

/// Whether the space holds any grant (so a change must look for them).
pub(crate) fn space_has_grants(conn: &Connection, space_id: &str) -> StoreResult<bool> {
    Ok(one(conn, "SELECT 1 FROM grants WHERE space_id = ?1 LIMIT 1", [space_id], |_| Ok(()))?
        .is_some())
}
