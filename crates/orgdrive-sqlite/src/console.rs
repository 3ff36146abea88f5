//! SQLite: console passwords (table `user_passwords`), console sessions
//! (table `console_sessions`, hashes only) and the spaces a person can open.

use async_trait::async_trait;
use rusqlite::{params, Row};

use crate::*;
use orgdrive_store::{
    ConsoleSessionRecord, ConsoleStore, LiveConsoleSession, PersonSpaces, SharedDentry, UsageParts,
};

fn session_and_user(row: &Row) -> rusqlite::Result<LiveConsoleSession> {
    let session = ConsoleSessionRecord {
        session_hash: row.get(0)?,
        union_id: row.get(1)?,
        created_at: row.get(2)?,
        expires_at: row.get(3)?,
    };
    let user = match row.get::<_, Option<String>>(4)? {
        Some(_) => Some(user_at(row, 4)?),
        None => None,
    };
    Ok(LiveConsoleSession { session, user })
}

#[async_trait]
impl ConsoleStore for SqliteStore {
    async fn set_password(
        &self,
        corp_id: &str,
        union_id: &str,
        phc: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let (corp_id, union_id) = (corp_id.to_string(), union_id.to_string());
        let phc = phc.map(str::to_string);
        self.write(move |conn| {
            let known = one(
                conn,
                "SELECT 1 FROM users WHERE corp_id = ?1 AND union_id = ?2",
                [&corp_id, &union_id],
                |_| Ok(()),
            )?
            .is_some();
            if !known {
                return Ok(false);
            }
            match &phc {
                Some(phc) => exec(
                    conn,
                    "INSERT INTO user_passwords (union_id, phc, set_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (union_id) DO UPDATE SET phc = excluded.phc, set_at = excluded.set_at",
                    params![union_id, phc, now_ms],
                ),
                None => exec(conn, "DELETE FROM user_passwords WHERE union_id = ?1", [&union_id]),
            }
            .map_err(classify)?;
            exec(conn, "DELETE FROM console_sessions WHERE union_id = ?1", [&union_id])
                .map_err(backend)?;
            Ok(true)
        })
        .await
    }

    async fn password(&self, union_id: &str) -> StoreResult<Option<(UserRecord, String)>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!("u."),
            ", p.phc FROM user_passwords p JOIN users u ON u.union_id = p.union_id \
             WHERE p.union_id = ?1"
        );
        self.read(|conn| one(conn, SQL, [union_id], |row| Ok((user_at(row, 0)?, row.get(6)?))))
    }

    async fn insert_console_session(&self, session: &ConsoleSessionRecord) -> StoreResult<()> {
        let session = session.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO console_sessions (session_hash, union_id, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    session.session_hash,
                    session.union_id,
                    session.created_at,
                    session.expires_at
                ],
            )
            .map_err(classify)?;
            Ok(())
        })
        .await
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
             WHERE s.session_hash = ?1 AND s.expires_at > ?2"
        );
        self.read(|conn| one(conn, SQL, params![session_hash, now_ms], session_and_user))
    }

    async fn delete_console_session(&self, session_hash: &str) -> StoreResult<bool> {
        let session_hash = session_hash.to_string();
        self.write(move |conn| {
            Ok(exec(conn, "DELETE FROM console_sessions WHERE session_hash = ?1", [&session_hash])
                .map_err(backend)?
                == 1)
        })
        .await
    }

    async fn purge_expired_console_sessions(&self, now_ms: i64) -> StoreResult<u64> {
        self.write(move |conn| {
            exec(conn, "DELETE FROM console_sessions WHERE expires_at <= ?1", [now_ms])
                .map_err(backend)
        })
        .await
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
            " FROM dentries WHERE space_id = ?1 AND status = 'NORMAL' AND instr(name, ?2) > 0 \
             ORDER BY name, dentry_id LIMIT ?3"
        );
        let (space_id, needle) = (space_id.to_string(), needle.to_string());
        self.read_blocking(move |conn| {
            all(conn, SQL, params![space_id, needle, limit], dentry_from_row)
        })
        .await
    }

    async fn person_spaces(&self, query: &PersonSpaces) -> StoreResult<Vec<SpaceRecord>> {
        // Each arm reads an index (spaces_by_owner, grants_by_member);
        // only the spaces found are sorted.
        const GRANTED: &str = concat!(
            "SELECT ",
            space_columns!(),
            " FROM spaces WHERE corp_id = ?1 AND status = 'NORMAL' AND space_id IN ( \
               SELECT space_id FROM spaces WHERE corp_id = ?1 AND owner_type = 'USER' AND owner_id = ?2 \
               UNION ALL SELECT space_id FROM grants WHERE member_type = 'USER' AND member_id = ?2 \
                 AND dentry_id = '0' AND (expires_at IS NULL OR expires_at > ?3) \
               UNION ALL SELECT space_id FROM grants WHERE member_type = 'ORG' AND member_id = ?1 \
                 AND dentry_id = '0' AND (expires_at IS NULL OR expires_at > ?3) \
               UNION ALL SELECT space_id FROM grants WHERE member_type = 'DEPT' \
                 AND member_id IN rarray(?4) AND dentry_id = '0' \
                 AND (expires_at IS NULL OR expires_at > ?3)) \
             ORDER BY created_at DESC, space_id DESC LIMIT ?5"
        );
        // The org's newest, read backwards along spaces_by_org_age.
        const WHOLE_ORG: &str = concat!(
            "SELECT ",
            space_columns!(),
            " FROM spaces WHERE corp_id = ?1 AND status = 'NORMAL' \
             ORDER BY created_at DESC, space_id DESC LIMIT ?2"
        );
        let query = query.clone();
        self.read_blocking(move |conn| {
            if query.whole_org {
                return all(conn, WHOLE_ORG, params![query.corp_id, query.limit], space_from_row);
            }
            let depts = crate::drive::id_array(query.dept_ids.iter());
            all(
                conn,
                GRANTED,
                params![query.corp_id, query.union_id, query.now_ms, depts, query.limit],
                space_from_row,
            )
        })
        .await
    }

    async fn person_shared_dentries(&self, query: &PersonSpaces) -> StoreResult<Vec<SharedDentry>> {
        // The person's grants below a root, read along grants_by_member;
        // each dentry once, with the strongest of its roles.
        const SQL: &str = concat!(
            "SELECT ",
            dentry_columns!("d."),
            ", COALESCE(s.name, s.space_id), CASE MAX(CASE g.role WHEN 'OWNER' THEN 5 WHEN 'MANAGER' THEN 4 \
               WHEN 'EDITOR' THEN 3 WHEN 'DOWNLOADER' THEN 2 ELSE 1 END) \
               WHEN 5 THEN 'OWNER' WHEN 4 THEN 'MANAGER' WHEN 3 THEN 'EDITOR' \
               WHEN 2 THEN 'DOWNLOADER' ELSE 'READER' END FROM ( \
               SELECT space_id, dentry_id, role FROM grants WHERE member_type = 'USER' \
                 AND member_id = ?2 AND (expires_at IS NULL OR expires_at > ?3) \
               UNION ALL SELECT space_id, dentry_id, role FROM grants WHERE member_type = 'ORG' \
                 AND member_id = ?1 AND (expires_at IS NULL OR expires_at > ?3) \
               UNION ALL SELECT space_id, dentry_id, role FROM grants WHERE member_type = 'DEPT' \
                 AND member_id IN rarray(?4) AND (expires_at IS NULL OR expires_at > ?3)) g \
             JOIN dentries d ON d.dentry_id = g.dentry_id AND d.space_id = g.space_id \
             JOIN spaces s ON s.space_id = g.space_id \
             WHERE g.dentry_id <> '0' AND d.status = 'NORMAL' AND s.corp_id = ?1 \
               AND s.status = 'NORMAL' \
             GROUP BY d.dentry_id ORDER BY d.name, d.dentry_id LIMIT ?5"
        );
        let query = query.clone();
        let shared = self
            .read_blocking(move |conn| {
                let depts = crate::drive::id_array(query.dept_ids.iter());
                let values =
                    params![query.corp_id, query.union_id, query.now_ms, depts, query.limit];
                all(conn, SQL, values, |r| {
                    Ok(SharedDentry {
                        dentry: dentry_from_row(r)?,
                        space_name: r.get(14)?,
                        role: r.get(15)?,
                    })
                })
            })
            .await?;
        Ok(shared)
    }

    async fn usage_parts(&self, space_ids: &[String]) -> StoreResult<Vec<UsageParts>> {
        // The versions' counter (kept by triggers: migration 0014), and
        // the bin items of each space along recycle_items_by_space.
        const SQL: &str = "SELECT s.space_id, s.versions_bytes, \
               COALESCE((SELECT SUM(r.size) FROM recycle_items r \
                         WHERE r.space_id = s.space_id), 0) \
             FROM spaces s WHERE s.space_id IN rarray(?1) ORDER BY s.space_id";
        let space_ids = space_ids.to_vec();
        self.read_blocking(move |conn| {
            let ids = crate::drive::id_array(space_ids.iter());
            all(conn, SQL, params![ids], |r| {
                Ok(UsageParts {
                    space_id: r.get(0)?,
                    versions_bytes: r.get(1)?,
                    recycled_bytes: r.get(2)?,
                })
            })
        })
        .await
    }
}
