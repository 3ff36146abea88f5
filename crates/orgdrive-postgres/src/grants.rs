//! Permissions: grants on dentries (table `grants`), and the departments a
//! user is in (with their ancestors).
//!
//! # Concurrency
//!
//! One method, one READ COMMITTED transaction. A grant write or revoke
//! locks its space's row `FOR SHARE` first: grant changes of a space do
//! not wait for each other (the key `(space, dentry, member)` and the upsert
//! settle racing writes of one grant), nor for puts (`FOR KEY SHARE`), but
//! they never interleave with a tree change of the space, which locks the
//! row `FOR UPDATE`, nor with a batch's renames and plain file moves (`FOR
//! NO KEY UPDATE`, `shared_tx.rs`) — so a grant is never written on a
//! dentry a concurrent change is removing, a move's `OWNER`-grant check
//! sees every grant it could remove, and a plain file move (which it makes
//! only of a file with no grant) is never numbered after a grant of its
//! file that it did not see. The events are appended in the change's
//! transaction.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use orgdrive_store::{
    GrantChange, GrantCursor, GrantRecord, GrantStore, GrantWrite, RevokeGrants, StoreError,
    StoreResult, WriteGrants,
};

use crate::error::refuse;
use crate::rows::dentries_by_id;
use crate::{all, events, exec, one, DbResult, PgStore, ROOT_ID};

macro_rules! grant_columns {
    () => {
        "space_id, dentry_id, member_type, member_id, member_corp_id, role, duration_secs, \
         expires_at, operator_id, created_at, modified_at"
    };
}

fn grant_from_row(row: &Row) -> DbResult<GrantRecord> {
    Ok(GrantRecord {
        space_id: row.try_get(0)?,
        dentry_id: row.try_get(1)?,
        member_type: row.try_get(2)?,
        member_id: row.try_get(3)?,
        member_corp_id: row.try_get(4)?,
        role: row.try_get(5)?,
        duration_secs: row.try_get(6)?,
        expires_at: row.try_get(7)?,
        operator_id: row.try_get(8)?,
        created_at: row.try_get(9)?,
        modified_at: row.try_get(10)?,
    })
}

fn grants_from_rows(rows: &[Row]) -> DbResult<Vec<GrantRecord>> {
    rows.iter().map(grant_from_row).collect()
}

/// The org of the space, its row locked `FOR SHARE` (see the module doc);
/// `NotFound` for an unknown space.
async fn lock_space_shared<C: GenericClient>(t: &C, space_id: &str) -> DbResult<String> {
    match one(t, "SELECT corp_id FROM spaces WHERE space_id = $1 FOR SHARE", &[&space_id]).await? {
        Some(row) => Ok(row.try_get(0)?),
        None => refuse(StoreError::NotFound),
    }
}

#[async_trait]
impl GrantStore for PgStore {
    async fn write_grants(&self, write: &WriteGrants) -> StoreResult<()> {
        crate::tx!(self, |t| write_grants(&t, write).await?)
    }

    async fn revoke_grants(&self, revoke: &RevokeGrants) -> StoreResult<u64> {
        crate::tx!(self, |t| {
            let corp_id = match lock_space_shared(&t, &revoke.space_id).await {
                Ok(corp_id) => Some(corp_id),
                Err(crate::DbError::Store(StoreError::NotFound)) => None,
                Err(e) => return Err(e),
            };
            let mut removed = 0;
            if let Some(corp_id) = corp_id {
                for (member_type, member_id) in &revoke.members {
                    let gone = exec(
                        &t,
                        "DELETE FROM grants WHERE space_id = $1 AND dentry_id = $2 \
                         AND member_type = $3 AND member_id = $4 AND role = $5",
                        &[
                            &revoke.space_id,
                            &revoke.dentry_id,
                            member_type,
                            member_id,
                            &revoke.role,
                        ],
                    )
                    .await?;
                    if gone > 0 {
                        let change = GrantChange {
                            corp_id: &corp_id,
                            space_id: &revoke.space_id,
                            dentry_id: &revoke.dentry_id,
                            member_type,
                            member_id,
                            role: None,
                            operator_id: &revoke.operator_id,
                            at_ms: revoke.now_ms,
                        };
                        events::append(&t, &[change.into()]).await?;
                    }
                    removed += gone;
                }
            }
            removed
        })
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
            " FROM grants WHERE space_id = $1 AND dentry_id = $2 \
             AND (expires_at IS NULL OR expires_at > $3) \
             AND (cardinality($4::TEXT[]) = 0 OR role = ANY($4)) \
             AND ($5::TEXT IS NULL OR (member_type, member_id) > ($5, $6::TEXT)) \
             ORDER BY member_type, member_id LIMIT $7"
        );
        let (after_type, after_id) =
            after.map(|c| (c.member_type.as_str(), c.member_id.as_str())).unzip();
        let limit = i64::from(limit);
        crate::read!(self, |c| {
            grants_from_rows(
                &all(
                    &c,
                    SQL,
                    &[&space_id, &dentry_id, &now_ms, &roles, &after_type, &after_id, &limit],
                )
                .await?,
            )?
        })
    }

    async fn space_grants(&self, space_id: &str, now_ms: i64) -> StoreResult<Vec<GrantRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            grant_columns!(),
            " FROM grants WHERE space_id = $1 AND (expires_at IS NULL OR expires_at > $2)"
        );
        crate::read!(self, |c| grants_from_rows(&all(&c, SQL, &[&space_id, &now_ms]).await?)?)
    }

    async fn user_dept_ids(&self, corp_id: &str, union_id: &str) -> StoreResult<Vec<String>> {
        // Departments form a tree; UNION (not ALL) and the depth bound stop
        // a cycle a hand-edited database might hold.
        const SQL: &str = "WITH RECURSIVE up (dept_id, depth) AS ( \
                 SELECT dept_id, 0 FROM dept_members WHERE corp_id = $1 AND union_id = $2 \
                 UNION \
                 SELECT d.parent_id, u.depth + 1 FROM up u \
                 JOIN depts d ON d.dept_id = u.dept_id \
                 WHERE d.parent_id IS NOT NULL AND d.corp_id = $1 AND u.depth < 1000) \
             SELECT DISTINCT dept_id FROM up";
        crate::read!(self, |c| {
            all(&c, SQL, &[&corp_id, &union_id])
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<Vec<String>, _>>()?
        })
    }

    async fn purge_expired_grants(&self, now_ms: i64) -> StoreResult<u64> {
        crate::tx!(self, |t| exec(&t, "DELETE FROM grants WHERE expires_at <= $1", &[&now_ms])
            .await?)
    }
}

async fn write_grants<C: GenericClient>(t: &C, write: &WriteGrants) -> DbResult<()> {
    let corp_id = lock_space_shared(t, &write.space_id).await?;
    let live = write.dentry_id == ROOT_ID
        || one(
            t,
            concat!(
                "SELECT 1 FROM ",
                dentries_by_id!("= $2"),
                " d WHERE space_id = $1 AND status = 'NORMAL'"
            ),
            &[&write.space_id, &write.dentry_id],
        )
        .await?
        .is_some();
    if !live {
        return refuse(StoreError::NotFound);
    }
    for g in &write.grants {
        // The member's live grant here, if any (the write's time is "now"),
        // locked: a racing write of the same grant waits for this one.
        let held = one(
            t,
            "SELECT role FROM grants WHERE space_id = $1 AND dentry_id = $2 \
             AND member_type = $3 AND member_id = $4 \
             AND (expires_at IS NULL OR expires_at > $5) FOR UPDATE",
            &[&write.space_id, &write.dentry_id, &g.member_type, &g.member_id, &g.modified_at],
        )
        .await?;
        let held: Option<String> = held.map(|r| r.try_get(0)).transpose()?;
        if write.mode == GrantWrite::Update && held.is_none() {
            return refuse(StoreError::NotFound);
        }
        if write.protect_owner_grants && held.as_deref() == Some("OWNER") {
            return refuse(StoreError::OwnerGrantInTheWay);
        }
        exec(
            t,
            concat!(
                "INSERT INTO grants (",
                grant_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (space_id, dentry_id, member_type, member_id) DO UPDATE SET \
                 member_corp_id = excluded.member_corp_id, role = excluded.role, \
                 duration_secs = excluded.duration_secs, expires_at = excluded.expires_at, \
                 operator_id = excluded.operator_id, modified_at = excluded.modified_at"
            ),
            &[
                &write.space_id,
                &write.dentry_id,
                &g.member_type,
                &g.member_id,
                &g.member_corp_id,
                &g.role,
                &g.duration_secs,
                &g.expires_at,
                &g.operator_id,
                &g.created_at,
                &g.modified_at,
            ],
        )
        .await?;
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
        events::append(t, &[change.into()]).await?;
    }
    Ok(())
}

/// Removes the grants on these dentries (they left the tree).
pub(crate) async fn drop_grants<C: GenericClient>(t: &C, dentry_ids: &[String]) -> DbResult<()> {
    exec(t, "DELETE FROM grants WHERE dentry_id = ANY($1)", &[&dentry_ids]).await?;
    Ok(())
}

/// Whether a live `OWNER` grant is on one of these dentries.
pub(crate) async fn holds_owner_grant<C: GenericClient>(
    t: &C,
    dentry_ids: &[String],
    now_ms: i64,
) -> DbResult<bool> {
    Ok(one(
        t,
        "SELECT 1 FROM grants WHERE dentry_id = ANY($1) AND role = 'OWNER' \
         AND (expires_at IS NULL OR expires_at > $2) LIMIT 1",
        &[&dentry_ids, &now_ms],
    )
    .await?
    .is_some())
}
