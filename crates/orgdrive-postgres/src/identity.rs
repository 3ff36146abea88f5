//! Identity (orgs, apps, users, departments and their members) and access
//! tokens.

use async_trait::async_trait;

use orgdrive_store::{
    AppRecord, Caller, DeptRecord, IdentityStore, OrgKeep, OrgPurge, OrgRecord, StoreError,
    StoreResult, TokenRecord, UserRecord,
};

use crate::rows::*;
use crate::{all, exec, one, read, tx, DbError, PgStore};

#[async_trait]
impl IdentityStore for PgStore {
    async fn is_empty(&self) -> StoreResult<bool> {
        read!(self, |c| {
            one(&c, "SELECT NOT EXISTS (SELECT 1 FROM orgs)", &[])
                .await?
                .map_or(Ok(true), |r| r.try_get(0))?
        })
    }

    async fn insert_org(&self, org: &OrgRecord) -> StoreResult<()> {
        tx!(self, |t| {
            exec(
                &t,
                "INSERT INTO orgs (corp_id, name, capacity, created_at, modified_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[&org.corp_id, &org.name, &org.capacity, &org.created_at, &org.modified_at],
            )
            .await?;
        })
    }

    async fn get_org(&self, corp_id: &str) -> StoreResult<Option<OrgRecord>> {
        const SQL: &str = concat!("SELECT ", org_columns!(), " FROM orgs WHERE corp_id = $1");
        read!(self, |c| one(&c, SQL, &[&corp_id]).await?.as_ref().map(org_from_row).transpose()?)
    }

    async fn list_orgs(&self) -> StoreResult<Vec<OrgRecord>> {
        const SQL: &str =
            concat!("SELECT ", org_columns!(), " FROM orgs ORDER BY created_at, corp_id");
        read!(self, |c| all(&c, SQL, &[])
            .await?
            .iter()
            .map(org_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn delete_org(&self, corp_id: &str) -> StoreResult<bool> {
        let deleted = tx!(self, |t| {
            // The org's spaces first, in key order, as the foreign keys'
            // checks of the delete would take them (`FOR KEY SHARE`): the
            // org's row is never held while waiting for a space, which a
            // tree change may hold while it waits for the org's row (to
            // count bytes). An org with spaces is then refused (`InUse`).
            exec(
                &t,
                "SELECT 1 FROM spaces WHERE corp_id = $1 ORDER BY space_id FOR KEY SHARE",
                &[&corp_id],
            )
            .await?;
            // Departments reference each other: drop memberships and the tree first.
            exec(&t, "DELETE FROM dept_members WHERE corp_id = $1", &[&corp_id]).await?;
            exec(&t, "UPDATE depts SET parent_id = NULL WHERE corp_id = $1", &[&corp_id]).await?;
            exec(&t, "DELETE FROM orgs WHERE corp_id = $1", &[&corp_id])
                .await
                .map_err(DbError::on_delete)?
                == 1
        });
        deleted
    }

    async fn purge_org_content(
        &self,
        corp_id: &str,
        keep: &OrgKeep,
        now_ms: i64,
    ) -> StoreResult<OrgPurge> {
        tx!(self, |t| {
            // The org's spaces locked as a tree change locks them (in
            // space_id order): no put, move or grant interleaves.
            exec(
                &t,
                "SELECT 1 FROM spaces WHERE corp_id = $1 ORDER BY space_id FOR UPDATE",
                &[&corp_id],
            )
            .await?;
            let mut kept: Vec<String> = Vec::new();
            for key in &keep.spaces {
                if let Some(row) = one(
                    &t,
                    "SELECT space_id FROM spaces \
                     WHERE corp_id = $1 AND app_id = $2 AND scene = $3 AND scene_id = $4",
                    &[&corp_id, &key.app_id, &key.scene, &key.scene_id],
                )
                .await?
                {
                    kept.push(row.try_get(0)?);
                }
            }
            let dentries: Vec<String> = all(
                &t,
                "SELECT d.dentry_id FROM dentries d JOIN spaces s ON s.space_id = d.space_id \
                 WHERE s.corp_id = $1",
                &[&corp_id],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
            // Counters, grants in the spaces, the trash: as a purge does.
            let (_, mut trashed_objects) =
                crate::lifecycle::remove_dentries(&t, &dentries, now_ms).await?;
            // The bytes of uploads not committed go with them.
            let parts: Vec<String> = all(
                &t,
                "INSERT INTO trashed_objects (object_key, trashed_at) \
                 SELECT p.object_key, $2 FROM upload_parts p \
                 JOIN uploads u ON u.upload_key = p.upload_key \
                 JOIN spaces s ON s.space_id = u.space_id WHERE s.corp_id = $1 \
                 ON CONFLICT (object_key) DO NOTHING RETURNING object_key",
                &[&corp_id, &now_ms],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
            trashed_objects.extend(parts);
            for sql in PURGE_ORG_CONTENT {
                exec(&t, sql, &[&corp_id]).await?;
            }
            exec(
                &t,
                "DELETE FROM user_passwords \
                 WHERE union_id IN (SELECT union_id FROM users WHERE corp_id = $1) \
                 AND NOT (union_id = ANY($2))",
                &[&corp_id, &keep.passwords_of],
            )
            .await?;
            exec(
                &t,
                "DELETE FROM spaces WHERE corp_id = $1 AND NOT (space_id = ANY($2))",
                &[&corp_id, &kept],
            )
            .await?;
            exec(
                &t,
                "UPDATE spaces SET used_bytes = 0, reserved_bytes = 0 WHERE corp_id = $1",
                &[&corp_id],
            )
            .await?;
            exec(
                &t,
                "UPDATE orgs SET used_bytes = 0, reserved_bytes = 0 WHERE corp_id = $1",
                &[&corp_id],
            )
            .await?;
            let kept_spaces = all(
                &t,
                concat!("SELECT ", space_columns!(), " FROM spaces WHERE space_id = ANY($1)"),
                &[&kept],
            )
            .await?
            .iter()
            .map(space_from_row)
            .collect::<Result<_, _>>()?;
            OrgPurge { kept_spaces, trashed_objects }
        })
    }

    async fn insert_app(&self, app: &AppRecord) -> StoreResult<()> {
        let scopes = app.scopes.join(" ");
        tx!(self, |t| {
            exec(
                &t,
                "INSERT INTO apps (app_id, corp_id, name, app_key, secret_salt, secret_hash, \
                 scopes, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &app.app_id,
                    &app.corp_id,
                    &app.name,
                    &app.app_key,
                    &app.secret_salt,
                    &app.secret_hash,
                    &scopes,
                    &app.created_at,
                    &app.modified_at,
                ],
            )
            .await?;
        })
    }

    async fn get_app_by_key(&self, app_key: &str) -> StoreResult<Option<AppRecord>> {
        const SQL: &str = concat!("SELECT ", app_columns!(""), " FROM apps WHERE app_key = $1");
        read!(self, |c| {
            one(&c, SQL, &[&app_key]).await?.as_ref().map(|r| app_at(r, 0)).transpose()?
        })
    }

    async fn list_apps(&self, corp_id: &str) -> StoreResult<Vec<AppRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            app_columns!(""),
            " FROM apps WHERE corp_id = $1 ORDER BY created_at, app_id"
        );
        read!(self, |c| {
            all(&c, SQL, &[&corp_id])
                .await?
                .iter()
                .map(|r| app_at(r, 0))
                .collect::<Result<_, _>>()?
        })
    }

    async fn delete_app(&self, corp_id: &str, app_id: &str) -> StoreResult<bool> {
        self.delete_one("DELETE FROM apps WHERE corp_id = $1 AND app_id = $2", corp_id, app_id)
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
        tx!(self, |t| {
            let changed = exec(
                &t,
                "UPDATE apps SET secret_salt = $3, secret_hash = $4, modified_at = $5 \
                 WHERE corp_id = $1 AND app_id = $2",
                &[&corp_id, &app_id, &secret_salt, &secret_hash, &now_ms],
            )
            .await?;
            if changed > 0 {
                exec(&t, "DELETE FROM access_tokens WHERE app_id = $1", &[&app_id]).await?;
            }
            changed > 0
        })
    }

    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        tx!(self, |t| {
            exec(
                &t,
                "INSERT INTO users (union_id, corp_id, user_id, name, org_admin, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &user.union_id,
                    &user.corp_id,
                    &user.user_id,
                    &user.name,
                    &user.org_admin,
                    &user.created_at,
                ],
            )
            .await?;
        })
    }

    async fn get_user(&self, corp_id: &str, union_id: &str) -> StoreResult<Option<UserRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(""),
            " FROM users WHERE corp_id = $1 AND union_id = $2"
        );
        read!(self, |c| {
            one(&c, SQL, &[&corp_id, &union_id])
                .await?
                .as_ref()
                .map(|r| user_at(r, 0))
                .transpose()?
        })
    }

    async fn list_users(&self, corp_id: &str) -> StoreResult<Vec<UserRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(""),
            " FROM users WHERE corp_id = $1 ORDER BY created_at, union_id"
        );
        read!(self, |c| {
            all(&c, SQL, &[&corp_id])
                .await?
                .iter()
                .map(|r| user_at(r, 0))
                .collect::<Result<_, _>>()?
        })
    }

    async fn delete_user(&self, corp_id: &str, union_id: &str) -> StoreResult<bool> {
        self.delete_one("DELETE FROM users WHERE corp_id = $1 AND union_id = $2", corp_id, union_id)
            .await
    }

    async fn insert_dept(&self, dept: &DeptRecord) -> StoreResult<()> {
        tx!(self, |t| {
            exec(
                &t,
                "INSERT INTO depts (dept_id, corp_id, name, parent_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[&dept.dept_id, &dept.corp_id, &dept.name, &dept.parent_id, &dept.created_at],
            )
            .await?;
        })
    }

    async fn list_depts(&self, corp_id: &str) -> StoreResult<Vec<DeptRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            dept_columns!(),
            " FROM depts WHERE corp_id = $1 ORDER BY created_at, dept_id"
        );
        read!(self, |c| {
            all(&c, SQL, &[&corp_id]).await?.iter().map(dept_from_row).collect::<Result<_, _>>()?
        })
    }

    async fn delete_dept(&self, corp_id: &str, dept_id: &str) -> StoreResult<bool> {
        self.delete_one("DELETE FROM depts WHERE corp_id = $1 AND dept_id = $2", corp_id, dept_id)
            .await
    }

    async fn add_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> StoreResult<()> {
        tx!(self, |t| {
            exec(
                &t,
                "INSERT INTO dept_members (corp_id, dept_id, union_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (dept_id, union_id) DO NOTHING",
                &[&corp_id, &dept_id, &union_id],
            )
            .await?;
        })
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
             WHERE m.corp_id = $1 AND m.dept_id = $2 ORDER BY u.created_at, u.union_id"
        );
        read!(self, |c| {
            all(&c, SQL, &[&corp_id, &dept_id])
                .await?
                .iter()
                .map(|r| user_at(r, 0))
                .collect::<Result<_, _>>()?
        })
    }

    async fn remove_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> StoreResult<bool> {
        tx!(self, |t| {
            exec(
                &t,
                "DELETE FROM dept_members WHERE corp_id = $1 AND dept_id = $2 AND union_id = $3",
                &[&corp_id, &dept_id, &union_id],
            )
            .await?
                == 1
        })
    }

    async fn issue_token(
        &self,
        fresh: &TokenRecord,
        secret_hash: &str,
        now_ms: i64,
        max_life_ms: i64,
        stale_hash: Option<&str>,
    ) -> StoreResult<TokenRecord> {
        // One statement: the unique key on (app_id) for issued tokens makes
        // concurrent calls meet on one row, updated one after the other.
        // Every SET expression sees the row as it was. The app's row is
        // locked `FOR NO KEY UPDATE`, which a change of its secret (an
        // update) or its deletion waits for, or which waits for them and
        // then reads the row's newest version (gone, or another hash: no
        // row, no token). A plain read, or the foreign key's `FOR KEY
        // SHARE`, would not wait for a new secret: its token would outlive
        // it. Not `FOR SHARE`: shared locks let new ones through ahead of
        // a waiting update, so overlapping token requests kept a rotation
        // waiting for minutes in a review; exclusive ones queue in turn
        // (and token requests of one app meet on its token's row anyway).
        const SQL: &str = "INSERT INTO access_tokens AS t \
             (token_hash, app_id, nonce, issued_at, expires_at) \
             SELECT $1::text, a.app_id, $3::text, $4::bigint, $5::bigint FROM apps a \
             WHERE a.app_id = $2 AND a.secret_hash = $9 FOR NO KEY UPDATE \
             ON CONFLICT (app_id) WHERE nonce IS NOT NULL DO UPDATE SET \
                 token_hash = CASE WHEN t.expires_at > $6 AND t.token_hash IS DISTINCT FROM $7 \
                              THEN t.token_hash ELSE excluded.token_hash END, \
                 nonce = CASE WHEN t.expires_at > $6 AND t.token_hash IS DISTINCT FROM $7 \
                         THEN t.nonce ELSE excluded.nonce END, \
                 issued_at = CASE WHEN t.expires_at > $6 AND t.token_hash IS DISTINCT FROM $7 \
                             THEN COALESCE(t.issued_at, excluded.issued_at) \
                             ELSE excluded.issued_at END, \
                 expires_at = CASE WHEN t.expires_at > $6 AND t.token_hash IS DISTINCT FROM $7 \
                              THEN GREATEST(t.expires_at, LEAST(excluded.expires_at, \
                                  COALESCE(t.issued_at, excluded.issued_at) + $8)) \
                              ELSE excluded.expires_at END \
             RETURNING token_hash, app_id, nonce, issued_at, expires_at";
        tx!(self, |t| {
            let row = one(
                &t,
                SQL,
                &[
                    &fresh.token_hash,
                    &fresh.app_id,
                    &fresh.nonce,
                    &fresh.issued_at,
                    &fresh.expires_at,
                    &now_ms,
                    &stale_hash,
                    &max_life_ms,
                    &secret_hash,
                ],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
            TokenRecord {
                token_hash: row.try_get(0)?,
                app_id: row.try_get(1)?,
                nonce: row.try_get(2)?,
                issued_at: row.try_get(3)?,
                expires_at: row.try_get(4)?,
            }
        })
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
            ", t.expires_at, ",
            user_columns!("u."),
            " FROM access_tokens t JOIN apps a ON a.app_id = t.app_id \
             LEFT JOIN users u ON u.corp_id = a.corp_id AND u.union_id = $1 \
             WHERE t.token_hash = $2 AND t.expires_at > $3"
        );
        read!(self, |c| {
            match one(&c, SQL, &[&union_id, &token_hash, &now_ms]).await? {
                None => None,
                Some(row) => {
                    let user = match row.try_get::<_, Option<String>>(10)? {
                        None => None,
                        Some(_) => Some(user_at(&row, 10)?),
                    };
                    Some(Caller { app: app_at(&row, 0)?, user, token_expires_at: row.try_get(9)? })
                }
            }
        })
    }

    async fn purge_expired_tokens(&self, now_ms: i64) -> StoreResult<u64> {
        tx!(self, |t| {
            exec(&t, "DELETE FROM access_tokens WHERE expires_at <= $1", &[&now_ms]).await?
        })
    }
}

impl PgStore {
    /// A `DELETE` with two parameters; true if a row went, `InUse` if a
    /// restricting reference kept it.
    async fn delete_one(&self, sql: &'static str, first: &str, second: &str) -> StoreResult<bool> {
        tx!(self, |t| { exec(&t, sql, &[&first, &second]).await.map_err(DbError::on_delete)? == 1 })
    }
}

/// What `purge_org_content` deletes once the org's dentries are gone, in
/// an order the foreign keys accept (`$1`: the corpId); the org's spaces
/// (but the kept ones), its passwords (but the kept ones) and its counters
/// follow.
pub(crate) const PURGE_ORG_CONTENT: &[&str] = &[
    "DELETE FROM recycle_items WHERE corp_id = $1",
    "DELETE FROM recycle_bins WHERE corp_id = $1",
    "DELETE FROM tasks WHERE corp_id = $1",
    // Unnumbered and numbered apart, each along its index (the indexes on
    // `seq` hold numbered events only), in this order: an event the
    // sequencer numbers meanwhile is left by the first (which waits for the
    // numbering to commit, then sees it numbered) and deleted by the second.
    "DELETE FROM events WHERE corp_id = $1 AND seq IS NULL",
    "DELETE FROM events WHERE corp_id = $1 AND seq IS NOT NULL",
    "DELETE FROM event_subscriptions WHERE corp_id = $1",
    "DELETE FROM event_cursors WHERE corp_id = $1",
    "DELETE FROM event_callbacks WHERE corp_id = $1",
    "DELETE FROM wopi_tokens WHERE corp_id = $1",
    "DELETE FROM wopi_locks WHERE space_id IN (SELECT space_id FROM spaces WHERE corp_id = $1)",
    "DELETE FROM grants WHERE member_corp_id = $1 \
     OR space_id IN (SELECT space_id FROM spaces WHERE corp_id = $1)",
    "DELETE FROM uploads WHERE space_id IN (SELECT space_id FROM spaces WHERE corp_id = $1)",
    "DELETE FROM console_sessions \
     WHERE union_id IN (SELECT union_id FROM users WHERE corp_id = $1)",
    "DELETE FROM dept_members WHERE corp_id = $1",
    "UPDATE depts SET parent_id = NULL WHERE corp_id = $1",
    "DELETE FROM depts WHERE corp_id = $1",
];
