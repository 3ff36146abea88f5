//! The identity and admin plane: organizations, apps (credentials and scopes),
//! users, departments and their members, and the demo account created on the
//! first start of an empty data dir.

use orgdrive_store::{AppRecord, DeptRecord, Key, Lease, OrgRecord, StoreError, UserRecord};
use sha2::{Digest, Sha256};

use crate::ids::{random_alnum, random_hex};
use crate::{now_ms, validate, Drive, DriveError, DriveResult, Scope};

/// Input of "create organization".
#[derive(Debug, Clone, Default)]
pub struct NewOrg {
    /// Chosen corpId; generated when absent.
    pub corp_id: Option<String>,
    pub name: String,
    /// Storage capacity in bytes; `None` = unlimited.
    pub capacity: Option<i64>,
}

/// Input of "create app".
#[derive(Debug, Clone, Default)]
pub struct NewApp {
    pub name: String,
    pub scopes: Vec<String>,
    /// Chosen appKey; generated when absent.
    pub app_key: Option<String>,
    /// Chosen appSecret; generated when absent.
    pub app_secret: Option<String>,
}

/// Input of "create user".
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub name: String,
    pub org_admin: bool,
    pub union_id: Option<String>,
    pub user_id: Option<String>,
}

/// Input of "create department".
#[derive(Debug, Clone, Default)]
pub struct NewDept {
    /// Chosen deptId; generated when absent.
    pub dept_id: Option<String>,
    pub name: String,
    pub parent_id: Option<String>,
}

/// A created app with its secret in clear: the only time it is known.
#[derive(Debug, Clone)]
pub struct CreatedApp {
    pub app: AppRecord,
    pub app_secret: String,
}

/// The org, app and admin user created on first start.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub org: OrgRecord,
    pub app: CreatedApp,
    pub user: UserRecord,
    /// The admin user's console password (random; shown once, at this start).
    pub console_password: String,
}

const MIN_SECRET_CHARS: usize = 16;
const MAX_SECRET_CHARS: usize = 128;
/// The job a node claims while it makes the demo account.
const DEMO_JOB: &str = "demo account";

/// Hex SHA-256 of `salt || secret`. Generated secrets carry 64 random
/// characters, so a fast hash is enough; chosen secrets must be at least
/// [`MIN_SECRET_CHARS`] long.
pub(crate) fn secret_hash(salt: &str, secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(secret.as_bytes());
    hex::encode(hasher.finalize())
}

/// The start of every org's console app key (the console makes the app;
/// no admin can choose a key with `:`).
pub(crate) const CONSOLE_APP_KEY_PREFIX: &str = "console:";

/// Whether `app` is an org's console app (the server's own: not listed,
/// not deleted).
pub(crate) fn is_console_app(app: &AppRecord) -> bool {
    app.app_key.starts_with(CONSOLE_APP_KEY_PREFIX)
}

/// A chosen appSecret: [`MIN_SECRET_CHARS`] to [`MAX_SECRET_CHARS`]
/// characters, no spaces or control characters.
pub(crate) fn check_app_secret(secret: &str) -> DriveResult<()> {
    let chars = secret.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&chars)
        || secret.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(DriveError::param(
            "appSecret",
            format!(
                "appSecret must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters without \
                 spaces"
            ),
        ));
    }
    Ok(())
}

pub(crate) fn duplicate(field: &'static str, value: &str) -> DriveError {
    DriveError::Conflict { field, message: format!("{field} {value} is already taken") }
}

fn unknown_org(corp_id: &str) -> DriveError {
    DriveError::not_found("corpId", format!("organization {corp_id} does not exist"))
}

impl Drive {
    /// Creates the demo org, an app holding every scope and an org-admin user
    /// when the store is empty; `None` when it already holds data.
    pub async fn bootstrap_demo(&self) -> DriveResult<Option<DemoAccount>> {
        // Nodes starting together on one empty store: one of them (the one
        // that claims the job) makes the demo account, the others see it made.
        let now = now_ms();
        let claim = Lease { node: self.node(), now_ms: now, until_ms: now + 60_000, steal: false };
        if !self.meta.lease_job(DEMO_JOB, &claim).await? {
            return Ok(None);
        }
        let made = self.make_demo().await;
        self.meta.release_job(DEMO_JOB, self.node()).await?;
        made
    }

    async fn make_demo(&self) -> DriveResult<Option<DemoAccount>> {
        if !self.meta.is_empty().await? {
            return Ok(None);
        }
        let org = self.create_org(NewOrg { name: "Demo Org".into(), ..NewOrg::default() }).await?;
        let app = self
            .create_app(
                &org.corp_id,
                NewApp {
                    name: "Demo App".into(),
                    scopes: Scope::ALL.iter().map(|s| s.as_str().to_string()).collect(),
                    ..NewApp::default()
                },
            )
            .await?;
        let user = self
            .create_user(
                &org.corp_id,
                NewUser { name: "Demo Admin".into(), org_admin: true, ..NewUser::default() },
            )
            .await?;
        let console_password = random_alnum(20);
        self.set_console_password(&org.corp_id, &user.union_id, Some(&console_password)).await?;
        Ok(Some(DemoAccount { org, app, user, console_password }))
    }

    pub async fn create_org(&self, input: NewOrg) -> DriveResult<OrgRecord> {
        let name = validate::display_name("name", &input.name)?;
        if let Some(capacity) = input.capacity {
            if capacity < 0 {
                return Err(DriveError::param("capacity", "capacity must not be negative"));
            }
        }
        let corp_id = match input.corp_id {
            Some(id) => validate::identifier("corpId", &id)?,
            None => format!("ding{}", random_hex(8)),
        };
        let now = now_ms();
        let org = OrgRecord {
            corp_id,
            name,
            capacity: input.capacity,
            created_at: now,
            modified_at: now,
        };
        match self.meta.insert_org(&org).await {
            Ok(()) => Ok(org),
            Err(StoreError::Duplicate(_)) => Err(duplicate("corpId", &org.corp_id)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_orgs(&self) -> DriveResult<Vec<OrgRecord>> {
        Ok(self.meta.list_orgs().await?)
    }

    pub async fn org(&self, corp_id: &str) -> DriveResult<OrgRecord> {
        if let Some(org) = self.cache.orgs.get(corp_id) {
            return Ok(org);
        }
        let version = self.cache.identities_version();
        let org = self.meta.get_org(corp_id).await?.ok_or_else(|| unknown_org(corp_id))?;
        self.cache.remember_org(org.clone(), version);
        Ok(org)
    }

    pub async fn delete_org(&self, corp_id: &str) -> DriveResult<()> {
        let deleted = self.meta.delete_org(corp_id).await;
        self.cache.forget_identities();
        match deleted {
            Ok(true) => Ok(()),
            Ok(false) => Err(unknown_org(corp_id)),
            Err(StoreError::InUse) => {
                Err(DriveError::InUse(format!("organization {corp_id} still owns spaces")))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn create_app(&self, corp_id: &str, input: NewApp) -> DriveResult<CreatedApp> {
        let name = validate::display_name("name", &input.name)?;
        let mut scopes = Vec::with_capacity(input.scopes.len());
        for raw in &input.scopes {
            let scope: Scope = raw
                .parse()
                .map_err(|_| DriveError::param("scopes", format!("unknown scope {raw}")))?;
            if !scopes.contains(&scope.as_str().to_string()) {
                scopes.push(scope.as_str().to_string());
            }
        }
        let app_key = match input.app_key {
            Some(key) => validate::identifier("appKey", &key)?,
            None => format!("ding{}", random_alnum(16).to_lowercase()),
        };
        let app_secret = match input.app_secret {
            Some(secret) => {
                check_app_secret(&secret)?;
                secret
            }
            None => random_alnum(64),
        };
        let salt = random_hex(16);
        let now = now_ms();
        let app = AppRecord {
            app_id: self.ids.next(),
            corp_id: corp_id.to_string(),
            name,
            app_key,
            secret_hash: secret_hash(&salt, &app_secret),
            secret_salt: salt,
            scopes,
            created_at: now,
            modified_at: now,
        };
        match self.meta.insert_app(&app).await {
            Ok(()) => Ok(CreatedApp { app, app_secret }),
            Err(StoreError::NotFound) => Err(unknown_org(corp_id)),
            Err(StoreError::Duplicate(_)) => Err(duplicate("appKey", &app.app_key)),
            Err(e) => Err(e.into()),
        }
    }

    /// The org's apps, without its console app (the server's own, made and
    /// kept by `console`).
    pub async fn list_apps(&self, corp_id: &str) -> DriveResult<Vec<AppRecord>> {
        self.org(corp_id).await?;
        let mut apps = self.meta.list_apps(corp_id).await?;
        apps.retain(|app| !is_console_app(app));
        Ok(apps)
    }

    /// Deletes an app (not the console app: `InUse`).
    pub async fn delete_app(&self, corp_id: &str, app_id: &str) -> DriveResult<()> {
        let apps = self.meta.list_apps(corp_id).await?;
        if apps.iter().any(|app| app.app_id == app_id && is_console_app(app)) {
            return Err(DriveError::InUse(format!(
                "app {app_id} is the organization's console app, which the server keeps"
            )));
        }
        let deleted = self.meta.delete_app(corp_id, app_id).await;
        self.cache.forget_identities();
        match deleted {
            Ok(true) => Ok(()),
            Ok(false) => {
                Err(DriveError::not_found("appId", format!("app {app_id} does not exist")))
            }
            Err(StoreError::InUse) => {
                Err(DriveError::InUse(format!("app {app_id} still owns spaces")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Gives an app a new random secret and ends its access tokens (a
    /// secret is rotated because it may have leaked: so may its tokens).
    /// Returns the app with its new secret, which is stored only as a
    /// salted hash. Not the console app (`InUse`): its secret is the
    /// server's and nobody's.
    pub async fn rotate_app_secret(&self, corp_id: &str, app_id: &str) -> DriveResult<CreatedApp> {
        let unknown = || DriveError::not_found("appId", format!("app {app_id} does not exist"));
        let apps = self.meta.list_apps(corp_id).await?;
        let app = apps.into_iter().find(|app| app.app_id == app_id).ok_or_else(unknown)?;
        if is_console_app(&app) {
            return Err(DriveError::InUse(format!(
                "app {app_id} is the organization's console app, which the server keeps"
            )));
        }
        let app_secret = random_alnum(64);
        let secret_salt = random_hex(16);
        let secret_hash = secret_hash(&secret_salt, &app_secret);
        let now = now_ms();
        let rotated =
            self.meta.set_app_secret(corp_id, app_id, &secret_salt, &secret_hash, now).await?;
        self.cache.forget_identities();
        if !rotated {
            return Err(unknown()); // deleted meanwhile
        }
        let app = AppRecord { secret_salt, secret_hash, modified_at: now, ..app };
        Ok(CreatedApp { app, app_secret })
    }

    pub async fn create_user(&self, corp_id: &str, input: NewUser) -> DriveResult<UserRecord> {
        let name = validate::display_name("name", &input.name)?;
        let union_id = match input.union_id {
            Some(id) => validate::identifier("unionId", &id)?,
            None => random_alnum(22),
        };
        let user_id = match input.user_id {
            Some(id) => validate::identifier("userId", &id)?,
            None => self.ids.next(),
        };
        let user = UserRecord {
            union_id,
            corp_id: corp_id.to_string(),
            user_id,
            name,
            org_admin: input.org_admin,
            created_at: now_ms(),
        };
        match self.meta.insert_user(&user).await {
            Ok(()) => Ok(user),
            Err(StoreError::NotFound) => Err(unknown_org(corp_id)),
            Err(StoreError::Duplicate(Key::UserId)) => Err(duplicate("userId", &user.user_id)),
            Err(StoreError::Duplicate(_)) => Err(duplicate("unionId", &user.union_id)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_users(&self, corp_id: &str) -> DriveResult<Vec<UserRecord>> {
        self.org(corp_id).await?;
        Ok(self.meta.list_users(corp_id).await?)
    }

    pub async fn delete_user(&self, corp_id: &str, union_id: &str) -> DriveResult<()> {
        let deleted = self.meta.delete_user(corp_id, union_id).await;
        self.cache.forget_identities();
        if deleted? {
            Ok(())
        } else {
            Err(DriveError::not_found("unionId", format!("user {union_id} does not exist")))
        }
    }

    pub async fn create_dept(&self, corp_id: &str, input: NewDept) -> DriveResult<DeptRecord> {
        let dept_id = match input.dept_id {
            Some(id) => validate::identifier("deptId", &id)?,
            None => self.ids.next(),
        };
        if input.parent_id.as_deref() == Some(dept_id.as_str()) {
            return Err(DriveError::param("parentId", "a department is not its own parent"));
        }
        let dept = DeptRecord {
            dept_id,
            corp_id: corp_id.to_string(),
            name: validate::display_name("name", &input.name)?,
            parent_id: input.parent_id,
            created_at: now_ms(),
        };
        match self.meta.insert_dept(&dept).await {
            Ok(()) => Ok(dept),
            Err(StoreError::NotFound) => {
                self.org(corp_id).await?;
                Err(DriveError::not_found("parentId", "parent department does not exist"))
            }
            Err(StoreError::Duplicate(_)) => Err(duplicate("deptId", &dept.dept_id)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_depts(&self, corp_id: &str) -> DriveResult<Vec<DeptRecord>> {
        self.org(corp_id).await?;
        Ok(self.meta.list_depts(corp_id).await?)
    }

    pub async fn delete_dept(&self, corp_id: &str, dept_id: &str) -> DriveResult<()> {
        match self.meta.delete_dept(corp_id, dept_id).await {
            Ok(true) => {
                self.cache.forget_identities();
                Ok(())
            }
            Ok(false) => Err(unknown_dept(dept_id)),
            Err(StoreError::InUse) => {
                Err(DriveError::InUse(format!("department {dept_id} has sub-departments")))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn add_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> DriveResult<()> {
        match self.meta.add_dept_member(corp_id, dept_id, union_id).await {
            Ok(()) => {
                self.cache.forget_identities();
                Ok(())
            }
            Err(StoreError::NotFound) => {
                if self.meta.get_user(corp_id, union_id).await?.is_none() {
                    Err(DriveError::not_found("unionId", format!("user {union_id} does not exist")))
                } else {
                    Err(unknown_dept(dept_id))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_dept_members(
        &self,
        corp_id: &str,
        dept_id: &str,
    ) -> DriveResult<Vec<UserRecord>> {
        if !self.meta.list_depts(corp_id).await?.iter().any(|d| d.dept_id == dept_id) {
            return Err(unknown_dept(dept_id));
        }
        Ok(self.meta.list_dept_members(corp_id, dept_id).await?)
    }

    pub async fn remove_dept_member(
        &self,
        corp_id: &str,
        dept_id: &str,
        union_id: &str,
    ) -> DriveResult<()> {
        if self.meta.remove_dept_member(corp_id, dept_id, union_id).await? {
            self.cache.forget_identities();
            Ok(())
        } else {
            Err(DriveError::not_found(
                "unionId",
                format!("{union_id} is not a member of {dept_id}"),
            ))
        }
    }
}

fn unknown_dept(dept_id: &str) -> DriveError {
    DriveError::not_found("deptId", format!("department {dept_id} does not exist"))
}
