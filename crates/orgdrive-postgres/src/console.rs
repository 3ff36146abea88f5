//! Console passwords (table `user_passwords`), console sessions (table
//! `console_sessions`, SHA-256 hashes only) and the spaces a person can
//! open. Each method is one statement or one READ COMMITTED transaction; a
//! password change and the end of the user's sessions commit together.

use async_trait::async_trait;
use tokio_postgres::Row;

use orgdrive_store::{
    ConsoleSessionRecord, ConsoleStore, DentryRecord, LiveConsoleSession, PersonSpaces,
    SharedDentry, SpaceRecord, StoreResult, UsageParts, UserRecord,
};

use crate::rows::{
    dentries_by_id, dentry_columns, dentry_from_row, space_columns, space_from_row, user_at,
    user_columns,
};
use crate::{all, exec, one, read, tx, DbResult, PgStore};

fn session_and_user(row: &Row) -> DbResult<LiveConsoleSession> {
    let session = ConsoleSessionRecord {
        session_hash: row.try_get(0)?,
        union_id: row.try_get(1)?,
        created_at: row.try_get(2)?,
        expires_at: row.try_get(3)?,
    };
    let user = match row.try_get::<_, Option<String>>(4)? {
        Some(_) => Some(user_at(row, 4)?),
        None => None,
    };
    Ok(LiveConsoleSession { session, user })
}

/// The dentries shared with a person (`$2` of org `$1`, in departments
/// `$4`, at `$3`): their grants, read along `grants_by_member`, each
/// dentry found by its primary key ([`dentries_by_id`]: joined plainly, a
/// generic plan read it along `dentries_all_by_modified`, the whole space
/// entry by entry); each dentry once, with the strongest of its roles, `$5`
/// at most.
pub(crate) const PERSON_SHARED_SQL: &str = concat!(
    "SELECT ",
    dentry_columns!("d."),
    ", COALESCE(s.name, s.space_id), CASE g.strongest \
       WHEN 5 THEN 'OWNER' WHEN 4 THEN 'MANAGER' WHEN 3 THEN 'EDITOR' \
       WHEN 2 THEN 'DOWNLOADER' ELSE 'READER' END FROM ( \
     SELECT space_id, dentry_id, MAX(CASE role WHEN 'OWNER' THEN 5 WHEN 'MANAGER' THEN 4 \
       WHEN 'EDITOR' THEN 3 WHEN 'DOWNLOADER' THEN 2 ELSE 1 END) AS strongest FROM ( \
       SELECT space_id, dentry_id, role FROM grants WHERE member_type = 'USER' \
         AND member_id = $2 AND (expires_at IS NULL OR expires_at > $3) \
       UNION ALL SELECT space_id, dentry_id, role FROM grants WHERE member_type = 'ORG' \
         AND member_id = $1 AND (expires_at IS NULL OR expires_at > $3) \
       UNION ALL SELECT space_id, dentry_id, role FROM grants WHERE member_type = 'DEPT' \
         AND member_id = ANY($4) AND (expires_at IS NULL OR expires_at > $3)) held \
     WHERE dentry_id <> '0' GROUP BY space_id, dentry_id) g \
     CROSS JOIN LATERAL ",
    dentries_by_id!("= g.dentry_id"),
    " d JOIN spaces s ON s.space_id = g.space_id \
     WHERE d.space_id = g.space_id AND d.status = 'NORMAL' AND s.corp_id = $1 \
       AND s.status = 'NORMAL' \
     ORDER BY d.name, d.dentry_id LIMIT $5"
);

#[async_trait]
impl ConsoleStore for PgStore {
    async fn set_password(
        &self,
        corp_id: &str,
        union_id: &str,
        phc: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<bool> {
        tx!(self, |t| {
            // The user's row, locked: a concurrent delete waits or wins.
            let known = one(
                &t,
                "SELECT 1 FROM users WHERE corp_id = $1 AND union_id = $2 FOR UPDATE",
                &[&corp_id, &union_id],
            )
            .await?
            .is_some();
            if known {
                match phc {
                    Some(phc) => exec(
                        &t,
                        "INSERT INTO user_passwords (union_id, phc, set_at) VALUES ($1, $2, $3) \
                             ON CONFLICT (union_id) DO UPDATE \
                             SET phc = excluded.phc, set_at = excluded.set_at",
                        &[&union_id, &phc, &now_ms],
                    )
                    .await?,
                    None => {
                        exec(&t, "DELETE FROM user_passwords WHERE union_id = $1", &[&union_id])
                            .await?
                    }
                };
                exec(&t, "DELETE FROM console_sessions WHERE union_id = $1", &[&union_id]).await?;
            }
            known
        })
    }

    async fn password(&self, union_id: &str) -> StoreResult<Option<(UserRecord, String)>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!("u."),
            ", p.phc FROM user_passwords p JOIN users u ON u.union_id = p.union_id \
             WHERE p.union_id = $1"
        );
        read!(self, |c| {
            match one(&c, SQL, &[&union_id]).await? {
                Some(row) => Some((user_at(&row, 0)?, row.try_get(6)?)),
                None => None,
            }
        })
    }

    async fn insert_console_session(&self, session: &ConsoleSessionRecord) -> StoreResult<()> {
        tx!(self, |t| {
            exec(
                &t,
                "INSERT INTO console_sessions (session_hash, union_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
                &[
                    &session.session_hash,
                    &session.union_id,
                    &session.created_at,
                    &session.expires_at,
                ],
            )
            .await?;
        })
    }

    async fn console_session(
        &self,
        session_hash: &str,
        now_ms: i64,
    ) -> StoreResult<Option<LiveConsoleSession>> {
        const SQL: &str = concat!(
            "SELECT s.session_hash, s.union_id, s.created_at, s.expires_at, ",
            user_columns!("u."),
            " FROM console_sessions s LEFT JOIN users u ON u.union_id = s.union_id \
             WHERE s.session_hash = $1 AND s.expires_at > $2"
        );
        read!(self, |c| {
            one(&c, SQL, &[&session_hash, &now_ms])
                .await?
                .as_ref()
                .map(session_and_user)
                .transpose()?
        })
    }

    async fn delete_console_session(&self, session_hash: &str) -> StoreResult<bool> {
        tx!(self, |t| {
            exec(&t, "DELETE FROM console_sessions WHERE session_hash = $1", &[&session_hash])
                .await?
                == 1
        })
    }

    async fn purge_expired_console_sessions(&self, now_ms: i64) -> StoreResult<u64> {
        tx!(self, |t| {
            exec(&t, "DELETE FROM console_sessions WHERE expires_at <= $1", &[&now_ms]).await?
        })
    }

    async fn search_names(
        &self,
        space_id: &str,
        needle: &str,
        limit: u32,
    ) -> StoreResult<Vec<DentryRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            dentry_columns!(""),
            " FROM dentries WHERE space_id = $1 AND status = 'NORMAL' AND strpos(name, $2) > 0 \
             ORDER BY name, dentry_id LIMIT $3"
        );
        let limit = i64::from(limit);
        read!(self, |c| {
            all(&c, SQL, &[&space_id, &needle, &limit])
                .await?
                .iter()
                .map(dentry_from_row)
                .collect::<DbResult<Vec<_>>>()?
        })
    }

    async fn person_spaces(&self, query: &PersonSpaces) -> StoreResult<Vec<SpaceRecord>> {
        // Each arm reads an index (spaces_by_owner, grants_by_member);
        // only the spaces found are sorted.
        const GRANTED: &str = concat!(
            "SELECT ",
            space_columns!(),
            " FROM spaces WHERE corp_id = $1 AND status = 'NORMAL' AND space_id IN ( \
               SELECT space_id FROM spaces WHERE corp_id = $1 AND owner_type = 'USER' AND owner_id = $2 \
               UNION ALL SELECT space_id FROM grants WHERE member_type = 'USER' AND member_id = $2 \
                 AND dentry_id = '0' AND (expires_at IS NULL OR expires_at > $3) \
               UNION ALL SELECT space_id FROM grants WHERE member_type = 'ORG' AND member_id = $1 \
                 AND dentry_id = '0' AND (expires_at IS NULL OR expires_at > $3) \
               UNION ALL SELECT space_id FROM grants WHERE member_type = 'DEPT' \
                 AND member_id = ANY($4) AND dentry_id = '0' \
                 AND (expires_at IS NULL OR expires_at > $3)) \
             ORDER BY created_at DESC, space_id DESC LIMIT $5"
        );
        // The org's newest, read backwards along spaces_by_org_age.
        const WHOLE_ORG: &str = concat!(
            "SELECT ",
            space_columns!(),
            " FROM spaces WHERE corp_id = $1 AND status = 'NORMAL' \
             ORDER BY created_at DESC, space_id DESC LIMIT $2"
        );
        let limit = i64::from(query.limit);
        read!(self, |c| {
            let rows = if query.whole_org {
                all(&c, WHOLE_ORG, &[&query.corp_id, &limit]).await?
            } else {
                all(
                    &c,
                    GRANTED,
                    &[&query.corp_id, &query.union_id, &query.now_ms, &query.dept_ids, &limit],
                )
                .await?
            };
            rows.iter().map(space_from_row).collect::<DbResult<Vec<_>>>()?
        })
    }

    async fn person_shared_dentries(&self, query: &PersonSpaces) -> StoreResult<Vec<SharedDentry>> {
        let query = query.clone();
        let shared = read!(self, |c| {
            let limit = i64::from(query.limit);
            all(
                &c,
                PERSON_SHARED_SQL,
                &[&query.corp_id, &query.union_id, &query.now_ms, &query.dept_ids, &limit],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(SharedDentry {
                    dentry: dentry_from_row(r)?,
                    space_name: r.try_get(14)?,
                    role: r.try_get(15)?,
                })
            })
            .collect::<DbResult<Vec<_>>>()?
        })?;
        Ok(shared)
    }

    async fn usage_parts(&self, space_ids: &[String]) -> StoreResult<Vec<UsageParts>> {
        // The versions' counter (kept by triggers: migration 0003), and
        // the bin items of each space along recycle_items_by_space.
        const SQL: &str = "SELECT s.space_id, s.versions_bytes, \
               COALESCE((SELECT SUM(r.size) FROM recycle_items r \
                         WHERE r.space_id = s.space_id), 0)::BIGINT \
             FROM spaces s WHERE s.space_id = ANY($1) ORDER BY s.space_id";
        read!(self, |c| {
            all(&c, SQL, &[&space_ids])
                .await?
                .iter()
                .map(|r| {
                    Ok(UsageParts {
                        space_id: r.try_get(0)?,
                        versions_bytes: r.try_get(1)?,
                        recycled_bytes: r.try_get(2)?,
                    })
                })
                .collect::<DbResult<Vec<_>>>()?
        })
    }
}
