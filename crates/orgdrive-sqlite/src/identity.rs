//! SQLite: identity (nodes, orgs, apps, users, departments) and access tokens.

use async_trait::async_trait;
use sqlx::Row;

use crate::*;
use orgdrive_store::{Caller, IdentityStore, TokenRecord};

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn is_empty(&self) -> StoreResult<bool> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let row = sqlx::query("SELECT NOT EXISTS (SELECT 1 FROM orgs)")
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(backend)?;
                    row.try_get(0).map_err(backend)
                })
            })
            .await
    }

    async fn insert_org(&self, org: &OrgRecord) -> StoreResult<()> {
        let org = org.clone();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO orgs (corp_id, name, capacity, created_at, modified_at) \
                     VALUES (?, ?, ?, ?, ?)",
                    )
                    .bind(&org.corp_id)
                    .bind(&org.name)
                    .bind(org.capacity)
                    .bind(org.created_at)
                    .bind(org.modified_at)
                    .execute(&mut *conn)
                    .await
                    .map_err(classify)?;
                    Ok(())
                })
            })
            .await
    }

    async fn get_org(&self, corp_id: &str) -> StoreResult<Option<OrgRecord>> {
        self.read_one("SELECT * FROM orgs WHERE corp_id = ?", &[corp_id], org_from_row).await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<OrgRecord>> {
        let rows = sqlx::query("SELECT * FROM orgs ORDER BY created_at, corp_id")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        collect(rows, org_from_row)
    }

    async fn delete_org(&self, corp_id: &str) -> StoreResult<bool> {
        let corp_id = corp_id.to_string();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    // Departments reference each other; drop memberships and the tree first.
                    sqlx::query("DELETE FROM dept_members WHERE corp_id = ?")
                        .bind(&corp_id)
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                    sqlx::query("UPDATE depts SET parent_id = NULL WHERE corp_id = ?")
                        .bind(&corp_id)
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                    let done = sqlx::query("DELETE FROM orgs WHERE corp_id = ?")
                        .bind(&corp_id)
                        .execute(&mut *conn)
                        .await
                        .map_err(classify_delete)?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await
    }

    async fn insert_app(&self, app: &AppRecord) -> StoreResult<()> {
        let app = app.clone();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                    "INSERT INTO apps (app_id, corp_id, name, app_key, secret_salt, secret_hash, \
                     scopes, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&app.app_id)
                .bind(&app.corp_id)
                .bind(&app.name)
                .bind(&app.app_key)
                .bind(&app.secret_salt)
                .bind(&app.secret_hash)
                .bind(app.scopes.join(" "))
                .bind(app.created_at)
                .bind(app.modified_at)
                .execute(&mut *conn)
                .await
                .map_err(classify)?;
                    Ok(())
                })
            })
            .await
    }

    async fn get_app_by_key(&self, app_key: &str) -> StoreResult<Option<AppRecord>> {
        self.read_one("SELECT * FROM apps WHERE app_key = ?", &[app_key], app_from_row).await
    }

    async fn list_apps(&self, corp_id: &str) -> StoreResult<Vec<AppRecord>> {
        let rows = sqlx::query("SELECT * FROM apps WHERE corp_id = ? ORDER BY created_at, app_id")
            .bind(corp_id)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        collect(rows, app_from_row)
    }

    async fn delete_app(&self, corp_id: &str, app_id: &str) -> StoreResult<bool> {
        self.delete_one("DELETE FROM apps WHERE corp_id = ? AND app_id = ?", corp_id, app_id).await
    }

    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()> {
        let user = user.clone();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                    "INSERT INTO users (union_id, corp_id, user_id, name, org_admin, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(&user.union_id)
                .bind(&user.corp_id)
                .bind(&user.user_id)
                .bind(&user.name)
                .bind(user.org_admin)
                .bind(user.created_at)
                .execute(&mut *conn)
                .await
                .map_err(classify)?;
                    Ok(())
                })
            })
            .await
    }

    async fn get_user(&self, corp_id: &str, union_id: &str) -> StoreResult<Option<UserRecord>> {
        let sql = "SELECT * FROM users WHERE corp_id = ? AND union_id = ?";
        self.read_one(sql, &[corp_id, union_id], user_from_row).await
    }

    async fn list_users(&self, corp_id: &str) -> StoreResult<Vec<UserRecord>> {
        let rows =
            sqlx::query("SELECT * FROM users WHERE corp_id = ? ORDER BY created_at, union_id")
                .bind(corp_id)
                .fetch_all(&self.reader)
                .await
                .map_err(backend)?;
        collect(rows, user_from_row)
    }

    async fn delete_user(&self, corp_id: &str, union_id: &str) -> StoreResult<bool> {
        self.delete_one("DELETE FROM users WHERE corp_id = ? AND union_id = ?", corp_id, union_id)
            .await
    }

    async fn insert_dept(&self, dept: &DeptRecord) -> StoreResult<()> {
        let dept = dept.clone();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO depts (dept_id, corp_id, name, parent_id, created_at) \
                     VALUES (?, ?, ?, ?, ?)",
                    )
                    .bind(&dept.dept_id)
                    .bind(&dept.corp_id)
                    .bind(&dept.name)
                    .bind(&dept.parent_id)
                    .bind(dept.created_at)
                    .execute(&mut *conn)
                    .await
                    .map_err(classify)?;
                    Ok(())
                })
            })
            .await
    }

    async fn list_depts(&self, corp_id: &str) -> StoreResult<Vec<DeptRecord>> {
        let rows =
            sqlx::query("SELECT * FROM depts WHERE corp_id = ? ORDER BY created_at, dept_id")
                .bind(corp_id)
                .fetch_all(&self.reader)
                .await
                .map_err(backend)?;
        collect(rows, dept_from_row)
    }

    async fn delete_dept(&self, corp_id: &str, dept_id: &str) -> StoreResult<bool> {
        self.delete_one("DELETE FROM depts WHERE corp_id = ? AND dept_id = ?", corp_id, dept_id)
            .await
    }

    async fn add_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> StoreResult<()> {
        let corp_id = corp_id.to_string();
        let dept_id = dept_id.to_string();
        let union_id = union_id.to_string();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO dept_members (corp_id, dept_id, union_id) VALUES (?, ?, ?) \
                     ON CONFLICT (dept_id, union_id) DO NOTHING",
                    )
                    .bind(&corp_id)
                    .bind(&dept_id)
                    .bind(&union_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(classify)?;
                    Ok(())
                })
            })
            .await
    }

    async fn list_dept_members(
        &self,
        corp_id: &str,
        dept_id: &str,
    ) -> StoreResult<Vec<UserRecord>> {
        let rows = sqlx::query(
            "SELECT u.* FROM dept_members m JOIN users u ON u.union_id = m.union_id \
             WHERE m.corp_id = ? AND m.dept_id = ? ORDER BY u.created_at, u.union_id",
        )
        .bind(corp_id)
        .bind(dept_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        collect(rows, user_from_row)
    }

    async fn remove_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> StoreResult<bool> {
        let corp_id = corp_id.to_string();
        let dept_id = dept_id.to_string();
        let union_id = union_id.to_string();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let done = sqlx::query(
                    "DELETE FROM dept_members WHERE corp_id = ? AND dept_id = ? AND union_id = ?",
                )
                .bind(&corp_id)
                .bind(&dept_id)
                .bind(&union_id)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await
    }

    async fn issue_token(
        &self,
        fresh: &TokenRecord,
        now_ms: i64,
        replace_live: bool,
    ) -> StoreResult<TokenRecord> {
        let fresh = fresh.clone();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    // One statement: the unique key on (app_id) for issued
                    // tokens makes concurrent calls meet on one row.
                    let row = sqlx::query(
                        "INSERT INTO access_tokens (token_hash, app_id, nonce, expires_at) \
                         VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (app_id) WHERE nonce IS NOT NULL DO UPDATE SET \
                             token_hash = CASE WHEN expires_at > ?5 AND NOT ?6 \
                                          THEN token_hash ELSE excluded.token_hash END, \
                             nonce = CASE WHEN expires_at > ?5 AND NOT ?6 \
                                     THEN nonce ELSE excluded.nonce END, \
                             expires_at = excluded.expires_at \
                         RETURNING token_hash, app_id, nonce, expires_at",
                    )
                    .bind(&fresh.token_hash)
                    .bind(&fresh.app_id)
                    .bind(&fresh.nonce)
                    .bind(fresh.expires_at)
                    .bind(now_ms)
                    .bind(replace_live)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(classify)?;
                    Ok(TokenRecord {
                        token_hash: row.try_get(0).map_err(backend)?,
                        app_id: row.try_get(1).map_err(backend)?,
                        nonce: row.try_get(2).map_err(backend)?,
                        expires_at: row.try_get(3).map_err(backend)?,
                    })
                })
            })
            .await
    }

    async fn find_caller(
        &self,
        token_hash: &str,
        union_id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Caller>> {
        let row = sqlx::query(
            "SELECT a.*, t.expires_at AS t_expires_at, u.union_id AS u_union_id, u.user_id AS u_user_id, u.name AS u_name, \
             u.org_admin AS u_org_admin, u.created_at AS u_created_at \
             FROM access_tokens t JOIN apps a ON a.app_id = t.app_id \
             LEFT JOIN users u ON u.corp_id = a.corp_id AND u.union_id = ? \
             WHERE t.token_hash = ? AND t.expires_at > ?",
        )
        .bind(union_id)
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let app = app_from_row(&row).map_err(backend)?;
        let user = match row.try_get::<Option<String>, _>("u_union_id").map_err(backend)? {
            None => None,
            Some(union_id) => Some(UserRecord {
                union_id,
                corp_id: app.corp_id.clone(),
                user_id: row.try_get("u_user_id").map_err(backend)?,
                name: row.try_get("u_name").map_err(backend)?,
                org_admin: row.try_get("u_org_admin").map_err(backend)?,
                created_at: row.try_get("u_created_at").map_err(backend)?,
            }),
        };
        let token_expires_at = row.try_get("t_expires_at").map_err(backend)?;
        Ok(Some(Caller { app, user, token_expires_at }))
    }

    async fn purge_expired_tokens(&self, now_ms: i64) -> StoreResult<u64> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let done = sqlx::query("DELETE FROM access_tokens WHERE expires_at <= ?")
                        .bind(now_ms)
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }
}

impl SqliteStore {
    pub(crate) async fn insert_node(&self, now_ms: i64) -> StoreResult<i64> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let row =
                        sqlx::query("INSERT INTO nodes (started_at) VALUES (?) RETURNING node_id")
                            .bind(now_ms)
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(backend)?;
                    row.try_get(0).map_err(backend)
                })
            })
            .await
    }

    /// A `DELETE` with two parameters, as a write job; true if a row went,
    /// `InUse` if a restricting reference kept it.
    async fn delete_one(&self, sql: &'static str, first: &str, second: &str) -> StoreResult<bool> {
        let (first, second) = (first.to_string(), second.to_string());
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let done = sqlx::query(sql)
                        .bind(&first)
                        .bind(&second)
                        .execute(&mut *conn)
                        .await
                        .map_err(classify_delete)?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await
    }
}
