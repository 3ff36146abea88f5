//! SQLite: identity (nodes, orgs, apps, users, departments) and access tokens.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use crate::drive::id_array;
use crate::*;
use orgdrive_store::{Caller, IdentityStore, OrgKeep, OrgPurge, TokenRecord};

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn is_empty(&self) -> StoreResult<bool> {
        self.write(|conn| {
            let empty = one(conn, "SELECT NOT EXISTS (SELECT 1 FROM orgs)", [], |r| r.get(0))?;
            Ok(empty.unwrap_or(true))
        })
        .await
    }

    async fn insert_org(&self, org: &OrgRecord) -> StoreResult<()> {
        let org = org.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO orgs (corp_id, name, capacity, created_at, modified_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![org.corp_id, org.name, org.capacity, org.created_at, org.modified_at],
            )
            .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn get_org(&self, corp_id: &str) -> StoreResult<Option<OrgRecord>> {
        const SQL: &str = concat!("SELECT ", org_columns!(), " FROM orgs WHERE corp_id = ?1");
        self.read(|conn| one(conn, SQL, [corp_id], org_from_row))
    }

    async fn list_orgs(&self) -> StoreResult<Vec<OrgRecord>> {
        const SQL: &str =
            concat!("SELECT ", org_columns!(), " FROM orgs ORDER BY created_at, corp_id");
        self.read_blocking(|conn| all(conn, SQL, [], org_from_row)).await
    }

    async fn delete_org(&self, corp_id: &str) -> StoreResult<bool> {
        let corp_id = corp_id.to_string();
        self.write(move |conn| {
            // Departments reference each other; drop memberships and the tree first.
            exec(conn, "DELETE FROM dept_members WHERE corp_id = ?1", [&corp_id])
                .map_err(backend)?;
            exec(conn, "UPDATE depts SET parent_id = NULL WHERE corp_id = ?1", [&corp_id])
                .map_err(backend)?;
            let done = exec(conn, "DELETE FROM orgs WHERE corp_id = ?1", [&corp_id])
                .map_err(classify_delete)?;
            Ok(done == 1)
        })
        .await
    }

    async fn purge_org_content(
        &self,
        corp_id: &str,
        keep: &OrgKeep,
        now_ms: i64,
    ) -> StoreResult<OrgPurge> {
        let (corp_id, keep) = (corp_id.to_string(), keep.clone());
        self.write(move |conn| {
            let mut kept: Vec<String> = Vec::new();
            for key in &keep.spaces {
                kept.extend(one(
                    conn,
                    "SELECT space_id FROM spaces \
                     WHERE corp_id = ?1 AND app_id = ?2 AND scene = ?3 AND scene_id = ?4",
                    params![corp_id, key.app_id, key.scene, key.scene_id],
                    |r| r.get::<_, String>(0),
                )?);
            }
            let dentries: Vec<String> = all(
                conn,
                "SELECT d.dentry_id FROM dentries d JOIN spaces s ON s.space_id = d.space_id \
                 WHERE s.corp_id = ?1",
                [&corp_id],
                |r| r.get(0),
            )?;
            // Counters, grants in the spaces, the trash: as a purge does.
            let (_, mut trashed_objects) =
                crate::lifecycle::remove_dentries(conn, &dentries, now_ms)?;
            // The bytes of uploads not committed go with them.
            let parts: Vec<String> = all(
                conn,
                "INSERT INTO trashed_objects (object_key, trashed_at) \
                 SELECT p.object_key, ?2 FROM upload_parts p \
                 JOIN uploads u ON u.upload_key = p.upload_key \
                 JOIN spaces s ON s.space_id = u.space_id WHERE s.corp_id = ?1 \
                 ON CONFLICT (object_key) DO NOTHING RETURNING object_key",
                params![corp_id, now_ms],
                |r| r.get(0),
            )?;
            trashed_objects.extend(parts);
            for sql in PURGE_ORG_CONTENT {
                exec(conn, sql, [&corp_id]).map_err(backend)?;
            }
            let (kept_ids, passwords_of) =
                (id_array(kept.iter()), id_array(keep.passwords_of.iter()));
            exec(
                conn,
                "DELETE FROM user_passwords \
                 WHERE union_id IN (SELECT union_id FROM users WHERE corp_id = ?1) \
                 AND union_id NOT IN rarray(?2)",
                params![corp_id, passwords_of],
            )
            .map_err(backend)?;
            exec(
                conn,
                "DELETE FROM spaces WHERE corp_id = ?1 AND space_id NOT IN rarray(?2)",
                params![corp_id, kept_ids],
            )
            .map_err(backend)?;
            exec(
                conn,
                "UPDATE spaces SET used_bytes = 0, reserved_bytes = 0 WHERE corp_id = ?1",
                [&corp_id],
            )
            .map_err(backend)?;
            exec(
                conn,
                "UPDATE orgs SET used_bytes = 0, reserved_bytes = 0 WHERE corp_id = ?1",
                [&corp_id],
            )
            .map_err(backend)?;
            let kept_spaces = all(
                conn,
                concat!("SELECT ", space_columns!(), " FROM spaces WHERE space_id IN rarray(?1)"),
                [id_array(kept.iter())],
                space_from_row,
            )?;
            Ok(OrgPurge { kept_spaces, trashed_objects })
        })
        .await
    }

    async fn insert_app(&self, app: &AppRecord) -> StoreResult<()> {
        let app = app.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO apps (app_id, corp_id, name, app_key, secret_salt, secret_hash, \
                 scopes, created_at, modified_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    app.app_id,
                    app.corp_id,
                    app.name,
                    app.app_key,
                    app.secret_salt,
                    app.secret_hash,
                    app.scopes.join(" "),
                    app.created_at,
                    app.modified_at,
                ],
            )
            .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn get_app_by_key(&self, app_key: &str) -> StoreResult<Option<AppRecord>> {
        const SQL: &str = concat!("SELECT ", app_columns!(""), " FROM apps WHERE app_key = ?1");
        self.read(|conn| one(conn, SQL, [app_key], app_from_row))
    }

    async fn list_apps(&self, corp_id: &str) -> StoreResult<Vec<AppRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            app_columns!(""),
            " FROM apps WHERE corp_id = ?1 ORDER BY created_at, app_id"
        );
        let corp_id = corp_id.to_string();
        self.read_blocking(move |conn| all(conn, SQL, [corp_id], app_from_row)).await
    }

    async fn delete_app(&self, corp_id: &str, app_id: &str) -> StoreResult<bool> {
        self.delete_one("DELETE FROM apps WHERE corp_id = ?1 AND app_id = ?2", corp_id, app_id)
            .await
    }

    async fn set_app_secret(
        &self,
        corp_id: &str,
        app_id: &str,
        secret_salt: &str,
        secret_hash: &str,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let values = [corp_id, app_id, secret_salt, secret_hash].map(str::to_string);
        self.write(move |conn| {
            let [corp_id, app_id, salt, hash] = &values;
            let changed = exec(
                conn,
                "UPDATE apps SET secret_salt = ?3, secret_hash = ?4, modified_at = ?5 \
                 WHERE corp_id = ?1 AND app_id = ?2",
                params![corp_id, app_id, salt, hash, now_ms],
            )
            .map_err(classify)?;
            if changed == 0 {
                return Ok(false);
            }
            exec(conn, "DELETE FROM access_tokens WHERE app_id = ?1", [&app_id])
                .map_err(classify)?;
            Ok(true)
        })
        .await
    }

    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        let user = user.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO users (union_id, corp_id, user_id, name, org_admin, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    user.union_id,
                    user.corp_id,
                    user.user_id,
                    user.name,
                    user.org_admin,
                    user.created_at
                ],
            )
            .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn get_user(&self, corp_id: &str, union_id: &str) -> StoreResult<Option<UserRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(""),
            " FROM users WHERE corp_id = ?1 AND union_id = ?2"
        );
        self.read(|conn| one(conn, SQL, [corp_id, union_id], user_from_row))
    }

    async fn list_users(&self, corp_id: &str) -> StoreResult<Vec<UserRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(""),
            " FROM users WHERE corp_id = ?1 ORDER BY created_at, union_id"
        );
        let corp_id = corp_id.to_string();
        self.read_blocking(move |conn| all(conn, SQL, [corp_id], user_from_row)).await
    }

    async fn delete_user(&self, corp_id: &str, union_id: &str) -> StoreResult<bool> {
        self.delete_one("DELETE FROM users WHERE corp_id = ?1 AND union_id = ?2", corp_id, union_id)
            .await
    }

    async fn insert_dept(&self, dept: &DeptRecord) -> StoreResult<()> {
        let dept = dept.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO depts (dept_id, corp_id, name, parent_id, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![dept.dept_id, dept.corp_id, dept.name, dept.parent_id, dept.created_at],
            )
            .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn list_depts(&self, corp_id: &str) -> StoreResult<Vec<DeptRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            dept_columns!(),
            " FROM depts WHERE corp_id = ?1 ORDER BY created_at, dept_id"
        );
        let corp_id = corp_id.to_string();
        self.read_blocking(move |conn| all(conn, SQL, [corp_id], dept_from_row)).await
    }

    async fn delete_dept(&self, corp_id: &str, dept_id: &str) -> StoreResult<bool> {
        self.delete_one("DELETE FROM depts WHERE corp_id = ?1 AND dept_id = ?2", corp_id, dept_id)
            .await
    }

    async fn add_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> StoreResult<()> {
        let keys = [corp_id.to_string(), dept_id.to_string(), union_id.to_string()];
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO dept_members (corp_id, dept_id, union_id) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (dept_id, union_id) DO NOTHING",
                rusqlite::params_from_iter(&keys),
            )
            .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn list_dept_members(
        &self,
        corp_id: &str,
        dept_id: &str,
    ) -> StoreResult<Vec<UserRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!("u."),
            " FROM dept_members m JOIN users u ON u.union_id = m.union_id \
             WHERE m.corp_id = ?1 AND m.dept_id = ?2 ORDER BY u.created_at, u.union_id"
        );
        let keys = [corp_id.to_string(), dept_id.to_string()];
        self.read_blocking(move |conn| all(conn, SQL, keys, user_from_row)).await
    }

    async fn remove_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> StoreResult<bool> {
        let keys = [corp_id.to_string(), dept_id.to_string(), union_id.to_string()];
        self.write(move |conn| {
            let done = exec(
                conn,
                "DELETE FROM dept_members WHERE corp_id = ?1 AND dept_id = ?2 AND union_id = ?3",
                rusqlite::params_from_iter(&keys),
            )
            .map_err(backend)?;
            Ok(done == 1)
        })
        .await
    }

    async fn issue_token(
        &self,
        fresh: &TokenRecord,
        secret_hash: &str,
        now_ms: i64,
        max_life_ms: i64,
        stale_hash: Option<&str>,
    ) -> StoreResult<TokenRecord> {
        let fresh = fresh.clone();
        let secret_hash = secret_hash.to_string();
        let stale_hash = stale_hash.map(str::to_string);
        self.write(move |conn| {
            // One statement: the unique key on (app_id) for issued tokens
            // makes concurrent calls meet on one row. Every SET expression
            // sees the row as it was. Only while the app's secret is the
            // one checked (no row, so no token, once it changed or the app
            // went: the writer runs one transaction at a time).
            let mut statement = conn
                .prepare_cached(
                    "INSERT INTO access_tokens (token_hash, app_id, nonce, issued_at, expires_at) \
                     SELECT ?1, app_id, ?3, ?4, ?5 FROM apps WHERE app_id = ?2 AND secret_hash = ?9 \
                     ON CONFLICT (app_id) WHERE nonce IS NOT NULL DO UPDATE SET \
                         token_hash = CASE WHEN expires_at > ?6 AND token_hash IS NOT ?7 \
                                      THEN token_hash ELSE excluded.token_hash END, \
                         nonce = CASE WHEN expires_at > ?6 AND token_hash IS NOT ?7 \
                                 THEN nonce ELSE excluded.nonce END, \
                         issued_at = CASE WHEN expires_at > ?6 AND token_hash IS NOT ?7 \
                                     THEN COALESCE(issued_at, excluded.issued_at) \
                                     ELSE excluded.issued_at END, \
                         expires_at = CASE WHEN expires_at > ?6 AND token_hash IS NOT ?7 \
                                      THEN MAX(expires_at, MIN(excluded.expires_at, \
                                          COALESCE(issued_at, excluded.issued_at) + ?8)) \
                                      ELSE excluded.expires_at END \
                     RETURNING token_hash, app_id, nonce, issued_at, expires_at",
                )
                .map_err(backend)?;
            statement
                .query_row(
                    params![
                        fresh.token_hash,
                        fresh.app_id,
                        fresh.nonce,
                        fresh.issued_at,
                        fresh.expires_at,
                        now_ms,
                        stale_hash,
                        max_life_ms,
                        secret_hash,
                    ],
                    |row| {
                        Ok(TokenRecord {
                            token_hash: row.get(0)?,
                            app_id: row.get(1)?,
                            nonce: row.get(2)?,
                            issued_at: row.get(3)?,
                            expires_at: row.get(4)?,
                        })
                    },
                )
                .optional()
                .map_err(classify)?
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn find_caller(
        &self,
        token_hash: &str,
        union_id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Caller>> {
        const SQL: &str = concat!(
            "SELECT ",
            app_columns!("a."),
            ", t.expires_at, u.union_id, u.user_id, u.name, u.org_admin, u.created_at \
             FROM access_tokens t JOIN apps a ON a.app_id = t.app_id \
             LEFT JOIN users u ON u.corp_id = a.corp_id AND u.union_id = ?1 \
             WHERE t.token_hash = ?2 AND t.expires_at > ?3"
        );
        self.read(|conn| {
            one(conn, SQL, params![union_id, token_hash, now_ms], |row| {
                let app = app_at(row, 0)?;
                let user = match row.get::<_, Option<String>>(10)? {
                    None => None,
                    Some(union_id) => Some(UserRecord {
                        union_id,
                        corp_id: app.corp_id.clone(),
                        user_id: row.get(11)?,
                        name: row.get(12)?,
                        org_admin: row.get(13)?,
                        created_at: row.get(14)?,
                    }),
                };
                Ok(Caller { app, user, token_expires_at: row.get(9)? })
            })
        })
    }

    async fn purge_expired_tokens(&self, now_ms: i64) -> StoreResult<u64> {
        self.write(move |conn| {
            exec(conn, "DELETE FROM access_tokens WHERE expires_at <= ?1", [now_ms])
                .map_err(backend)
        })
        .await
    }
}

impl SqliteStore {
    pub(crate) async fn insert_node(&self, now_ms: i64) -> StoreResult<i64> {
        self.write(move |conn| {
            let id = one(
                conn,
                "INSERT INTO nodes (started_at) VALUES (?1) RETURNING node_id",
                [now_ms],
                |row| row.get(0),
            )?;
            id.ok_or_else(|| StoreError::Backend("no node number returned".into()))
        })
        .await
    }

    /// A `DELETE` with two parameters, as a write job; true if a row went,
    /// `InUse` if a restricting reference kept it.
    async fn delete_one(&self, sql: &'static str, first: &str, second: &str) -> StoreResult<bool> {
        let keys = [first.to_string(), second.to_string()];
        self.write(move |conn| {
            Ok(exec(conn, sql, rusqlite::params_from_iter(&keys)).map_err(classify_delete)? == 1)
        })
        .await
    }
}

/// What `purge_org_content` deletes once the org's dentries are gone, in
/// an order the foreign keys accept (`?1`: the corpId); the org's spaces
/// (but the kept ones), its passwords (but the kept ones) and its counters
/// follow.
const PURGE_ORG_CONTENT: &[&str] = &[
    "DELETE FROM recycle_items WHERE corp_id = ?1",
    "DELETE FROM recycle_bins WHERE corp_id = ?1",
    "DELETE FROM tasks WHERE corp_id = ?1",
    "DELETE FROM events WHERE corp_id = ?1",
    "DELETE FROM event_subscriptions WHERE corp_id = ?1",
    "DELETE FROM event_cursors WHERE corp_id = ?1",
    "DELETE FROM event_callbacks WHERE corp_id = ?1",
    "DELETE FROM wopi_tokens WHERE corp_id = ?1",
    "DELETE FROM wopi_locks WHERE space_id IN (SELECT space_id FROM spaces WHERE corp_id = ?1)",
    "DELETE FROM grants WHERE member_corp_id = ?1 \
     OR space_id IN (SELECT space_id FROM spaces WHERE corp_id = ?1)",
    "DELETE FROM uploads WHERE space_id IN (SELECT space_id FROM spaces WHERE corp_id = ?1)",
    "DELETE FROM console_sessions \
     WHERE union_id IN (SELECT union_id FROM users WHERE corp_id = ?1)",
    "DELETE FROM dept_members WHERE corp_id = ?1",
    "UPDATE depts SET parent_id = NULL WHERE corp_id = ?1",
    "DELETE FROM depts WHERE corp_id = ?1",
];
