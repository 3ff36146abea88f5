//! Seed files (`orgdrive serve --seed FILE`): the organizations, apps, users,
//! departments, spaces and files a test run needs, declared with fixed ids
//! and credentials, so that a CI job knows every one before the server
//! starts. Applying a seed makes what it declares exist and leaves the rest
//! alone, so applying it again (a restart on the same data) changes nothing:
//! - an org, user or department that exists (same id) is kept as it is;
//! - an app that exists (same appKey, same org) gets the seed's secret if
//!   its own differs; its scopes are kept;
//! - a user's password is set when the user has none or another one;
//! - a space is AddSpace's, idempotent on (app, scene, sceneId);
//! - a folder or file that exists at its path is kept (a file is not
//!   rewritten).
//!
//! A reset ([`Drive::reset`], emulator use) returns the drive to the seed:
//! each org is emptied of what its apps and users made (one transaction,
//! [`orgdrive_store::IdentityStore::purge_org_content`]), loses the apps and
//! users the seed does not declare (an org the seed does not declare goes
//! whole), and the seed is applied again; a declared user's password is
//! then exactly the seed's (cleared if it declares none). Apps keep their
//! ids, so their access tokens stay valid across a reset.
//!
//! Every record goes through the same validation as the admin API and the
//! DingTalk API; a seed that declares something invalid stops the start
//! with the field named. What can be checked without the store (ids,
//! secrets, scopes, file paths and contents, a space's app and user being
//! declared in its org) is checked for the whole seed before anything is
//! made.

use bytes::Bytes;
use orgdrive_store::AppRecord;
use serde::Deserialize;

use crate::console::valid_password;
use crate::dentries::NewFolder;
use crate::identity::{check_app_secret, duplicate, is_console_app, secret_hash};
use crate::ids::random_hex;
use crate::spaces::NewSpace;
use crate::{
    now_ms, DriveError, DriveResult, NewApp, NewDept, NewOrg, NewUser, Operator, Scope, ROOT_ID,
};
use crate::{validate, Drive};

/// A seed file's content.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub orgs: Vec<SeedOrg>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedOrg {
    pub corp_id: String,
    pub name: String,
    /// Storage capacity in bytes; unlimited when absent.
    pub capacity: Option<i64>,
    #[serde(default)]
    pub apps: Vec<SeedApp>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Parents before their children.
    #[serde(default)]
    pub depts: Vec<SeedDept>,
    #[serde(default)]
    pub spaces: Vec<SeedSpace>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedApp {
    pub app_key: String,
    pub app_secret: String,
    /// Default: the appKey.
    pub name: Option<String>,
    /// Granted scopes; every storage scope when absent.
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedUser {
    pub union_id: String,
    /// Default: generated.
    pub user_id: Option<String>,
    /// Default: the unionId.
    pub name: Option<String>,
    #[serde(default)]
    pub org_admin: bool,
    /// The console (and WebDAV) password.
    pub password: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedDept {
    pub dept_id: String,
    pub name: String,
    pub parent_id: Option<String>,
    /// unionIds of the department's members.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedSpace {
    /// The app that creates (and, with ownerType APP, owns) the space.
    pub app_key: String,
    /// The user who creates the space (its owner, with ownerType USER).
    pub union_id: String,
    pub scene: Option<String>,
    pub scene_id: Option<String>,
    pub name: Option<String>,
    /// `USER` (default) or `APP`.
    pub owner_type: Option<String>,
    pub quota: Option<i64>,
    pub can_search: Option<bool>,
    pub can_rename: Option<bool>,
    pub can_record_recent_file: Option<bool>,
    /// Folders (a path ending in `/`) and files, made in this order.
    #[serde(default)]
    pub files: Vec<SeedFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedFile {
    /// `/a/b/name` below the space's root; a trailing `/` makes a folder.
    pub path: String,
    /// The file's content as text.
    pub content: Option<String>,
    /// The file's content as base64 (binary files).
    pub content_base64: Option<String>,
}

/// What applying a seed made (orgs, apps, users, departments that existed
/// already are not counted) and the spaces and files it checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub orgs: usize,
    pub apps: usize,
    pub users: usize,
    pub depts: usize,
    /// Spaces declared (made or found).
    pub spaces: usize,
    /// Files written (a file found at its path is not).
    pub files: usize,
}

impl Seed {
    /// Parses a seed file's JSON.
    pub fn from_json(text: &str) -> Result<Seed, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// What can be checked without the store (see the module's docs).
    pub fn check(&self) -> DriveResult<()> {
        for org in &self.orgs {
            let place = format!("org {}", org.corp_id);
            org.check().map_err(|e| at(&place, e))?;
        }
        Ok(())
    }
}

impl SeedOrg {
    fn check(&self) -> DriveResult<()> {
        validate::identifier("corpId", &self.corp_id)?;
        validate::display_name("name", &self.name)?;
        for app in &self.apps {
            validate::identifier("appKey", &app.app_key).map_err(|e| at(&app.app_key, e))?;
            check_app_secret(&app.app_secret).map_err(|e| at(&app.app_key, e))?;
            for scope in app.scopes.iter().flatten() {
                scope.parse::<Scope>().map_err(|_| {
                    at(&app.app_key, DriveError::param("scopes", format!("unknown scope {scope}")))
                })?;
            }
        }
        for user in &self.users {
            validate::identifier("unionId", &user.union_id)?;
            if let Some(password) = &user.password {
                valid_password(password).map_err(|e| at(&user.union_id, e))?;
            }
        }
        for dept in &self.depts {
            validate::identifier("deptId", &dept.dept_id)?;
        }
        for (i, space) in self.spaces.iter().enumerate() {
            let place = format!("spaces[{i}]");
            if !self.apps.iter().any(|a| a.app_key == space.app_key) {
                let message = format!("app {} is not one of this org's apps", space.app_key);
                return Err(at(&place, DriveError::param("appKey", message)));
            }
            if !self.users.iter().any(|u| u.union_id == space.union_id) {
                let message = format!("user {} does not exist in this org", space.union_id);
                return Err(at(&place, DriveError::param("unionId", message)));
            }
            for file in &space.files {
                let place = format!("{place} file {}", file.path);
                split_seed_path(&file.path).map_err(|e| at(&place, e))?;
                seed_content(file).map_err(|e| at(&place, e))?;
            }
        }
        Ok(())
    }
}

/// Names a seed error with the record it came from.
fn at(place: &str, e: DriveError) -> DriveError {
    match e {
        DriveError::InvalidParam { field, message } => {
            DriveError::InvalidParam { field, message: format!("{place}: {message}") }
        }
        DriveError::NotFound { field, message } => {
            DriveError::NotFound { field, message: format!("{place}: {message}") }
        }
        DriveError::Conflict { field, message } => {
            DriveError::Conflict { field, message: format!("{place}: {message}") }
        }
        other => other,
    }
}

impl Drive {
    /// Makes everything `seed` declares exist (see the module's docs).
    pub async fn apply_seed(&self, seed: &Seed) -> DriveResult<SeedReport> {
        seed.check()?;
        let mut made = SeedReport::default();
        for org in &seed.orgs {
            let place = format!("org {}", org.corp_id);
            self.seed_org(org, false, &mut made).await.map_err(|e| at(&place, e))?;
        }
        Ok(made)
    }

    /// Returns the drive (or, with `only`, one org of it) to `seed`'s state
    /// (see the module's docs); refused unless the drive allows resets.
    /// The content objects the reset frees are deleted after it answers.
    pub async fn reset(&self, seed: &Seed, only: Option<&str>) -> DriveResult<SeedReport> {
        if !self.options.allow_reset {
            return Err(DriveError::PermissionDenied(
                "reset is off (start the server with --allow-reset, or --ephemeral)".into(),
            ));
        }
        seed.check()?;
        let stored: Vec<String> =
            self.meta.list_orgs().await?.into_iter().map(|o| o.corp_id).collect();
        let mut targets: Vec<String> = match only {
            Some(corp_id) => {
                let known = stored.iter().any(|c| c == corp_id)
                    || seed.orgs.iter().any(|o| o.corp_id == corp_id);
                if !known {
                    return Err(DriveError::not_found(
                        "corpId",
                        format!("organization {corp_id} does not exist"),
                    ));
                }
                vec![corp_id.to_string()]
            }
            None => {
                stored.iter().cloned().chain(seed.orgs.iter().map(|o| o.corp_id.clone())).collect()
            }
        };
        targets.dedup_by(|a, b| a == b);
        let mut made = SeedReport::default();
        let mut trash = Vec::new();
        let result = async {
            for corp_id in targets.iter().filter(|c| stored.contains(c)) {
                trash.extend(self.meta.purge_org_content(corp_id, now_ms()).await?);
                match seed.orgs.iter().find(|o| &o.corp_id == corp_id) {
                    None => {
                        self.meta.delete_org(corp_id).await?;
                    }
                    Some(org) => self.drop_undeclared(org).await?,
                }
            }
            self.cache.forget_all();
            for org in seed.orgs.iter().filter(|o| targets.contains(&o.corp_id)) {
                let place = format!("org {}", org.corp_id);
                self.seed_org(org, true, &mut made).await.map_err(|e| at(&place, e))?;
            }
            Ok::<_, DriveError>(())
        }
        .await;
        self.cache.forget_all();
        if !trash.is_empty() {
            let drive = self.clone();
            tokio::spawn(async move { drive.empty_trash(trash).await });
        }
        result.map(|()| made)
    }

    /// Deletes the org's apps and users that `org` does not declare (not
    /// the console app, which the server keeps).
    async fn drop_undeclared(&self, org: &SeedOrg) -> DriveResult<()> {
        let corp_id = &org.corp_id;
        for app in self.meta.list_apps(corp_id).await? {
            if !is_console_app(&app) && !org.apps.iter().any(|a| a.app_key == app.app_key) {
                self.meta.delete_app(corp_id, &app.app_id).await?;
            }
        }
        for user in self.meta.list_users(corp_id).await? {
            if !org.users.iter().any(|u| u.union_id == user.union_id) {
                self.meta.delete_user(corp_id, &user.union_id).await?;
            }
        }
        Ok(())
    }

    /// `exact`: a declared user's password becomes exactly the seed's,
    /// cleared if it declares none (a reset); else one is only set.
    async fn seed_org(&self, org: &SeedOrg, exact: bool, made: &mut SeedReport) -> DriveResult<()> {
        let corp_id = &org.corp_id;
        let input = NewOrg {
            corp_id: Some(corp_id.clone()),
            name: org.name.clone(),
            capacity: org.capacity,
        };
        match self.create_org(input).await {
            Ok(_) => made.orgs += 1,
            Err(DriveError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
        for app in &org.apps {
            if self.seed_app(corp_id, app).await.map_err(|e| at(&app.app_key, e))? {
                made.apps += 1;
            }
        }
        for user in &org.users {
            if self.seed_user(corp_id, user, exact).await.map_err(|e| at(&user.union_id, e))? {
                made.users += 1;
            }
        }
        for dept in &org.depts {
            let input = NewDept {
                dept_id: Some(dept.dept_id.clone()),
                name: dept.name.clone(),
                parent_id: dept.parent_id.clone(),
            };
            match self.create_dept(corp_id, input).await {
                Ok(_) => made.depts += 1,
                Err(DriveError::Conflict { .. }) => {}
                Err(e) => return Err(at(&format!("dept {}", dept.dept_id), e)),
            }
            for member in &dept.members {
                self.add_dept_member(corp_id, &dept.dept_id, member)
                    .await
                    .map_err(|e| at(&format!("dept {}", dept.dept_id), e))?;
            }
        }
        for (i, space) in org.spaces.iter().enumerate() {
            let place = format!("spaces[{i}]");
            self.seed_space(corp_id, space, made).await.map_err(|e| at(&place, e))?;
        }
        Ok(())
    }

    /// True if the app was made.
    async fn seed_app(&self, corp_id: &str, seed: &SeedApp) -> DriveResult<bool> {
        let scopes = seed
            .scopes
            .clone()
            .unwrap_or_else(|| Scope::ALL.iter().map(|s| s.as_str().to_string()).collect());
        let input = NewApp {
            name: seed.name.clone().unwrap_or_else(|| seed.app_key.clone()),
            scopes,
            app_key: Some(seed.app_key.clone()),
            app_secret: Some(seed.app_secret.clone()),
        };
        match self.create_app(corp_id, input).await {
            Ok(_) => return Ok(true),
            Err(DriveError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
        let app = self.seeded_app(corp_id, &seed.app_key).await?;
        if secret_hash(&app.secret_salt, &seed.app_secret) != app.secret_hash {
            let salt = random_hex(16);
            let hash = secret_hash(&salt, &seed.app_secret);
            self.meta.set_app_secret(corp_id, &app.app_id, &salt, &hash, now_ms()).await?;
            self.cache.forget_identities();
        }
        Ok(false)
    }

    /// The app of `app_key`, which must be `corp_id`'s.
    async fn seeded_app(&self, corp_id: &str, app_key: &str) -> DriveResult<AppRecord> {
        match self.meta.get_app_by_key(app_key).await? {
            Some(app) if app.corp_id == corp_id => Ok(app),
            Some(_) => Err(duplicate("appKey", app_key)),
            None => Err(DriveError::not_found("appKey", format!("app {app_key} does not exist"))),
        }
    }

    /// True if the user was made.
    async fn seed_user(&self, corp_id: &str, seed: &SeedUser, exact: bool) -> DriveResult<bool> {
        let input = NewUser {
            name: seed.name.clone().unwrap_or_else(|| seed.union_id.clone()),
            org_admin: seed.org_admin,
            union_id: Some(seed.union_id.clone()),
            user_id: seed.user_id.clone(),
        };
        let made = match self.create_user(corp_id, input).await {
            Ok(_) => true,
            Err(DriveError::Conflict { .. }) => {
                match self.meta.get_user(corp_id, &seed.union_id).await? {
                    Some(_) => false,
                    // The unionId is another org's user: unionIds are unique.
                    None => return Err(duplicate("unionId", &seed.union_id)),
                }
            }
            Err(e) => return Err(e),
        };
        match &seed.password {
            Some(password) => {
                let current =
                    !made && self.check_console_password(&seed.union_id, password).await.is_ok();
                if !current {
                    self.set_console_password(corp_id, &seed.union_id, Some(password)).await?;
                }
            }
            None if exact && !made && self.meta.password(&seed.union_id).await?.is_some() => {
                self.set_console_password(corp_id, &seed.union_id, None).await?;
            }
            None => {}
        }
        Ok(made)
    }

    async fn seed_space(
        &self,
        corp_id: &str,
        seed: &SeedSpace,
        made: &mut SeedReport,
    ) -> DriveResult<()> {
        let app = self.seeded_app(corp_id, &seed.app_key).await?;
        let user = self.meta.get_user(corp_id, &seed.union_id).await?.ok_or_else(|| {
            DriveError::not_found("unionId", format!("user {} does not exist", seed.union_id))
        })?;
        let op = Operator { app, user };
        let input = NewSpace {
            name: seed.name.clone(),
            quota: seed.quota,
            can_search: seed.can_search,
            can_rename: seed.can_rename,
            can_record_recent_file: seed.can_record_recent_file,
            scene: seed.scene.clone(),
            scene_id: seed.scene_id.clone(),
            owner_type: seed.owner_type.clone(),
        };
        let space = self.add_space(&op, input).await?.space;
        made.spaces += 1;
        for file in &seed.files {
            let place = format!("file {}", file.path);
            let (folders, name) = split_seed_path(&file.path).map_err(|e| at(&place, e))?;
            let mut parent = ROOT_ID.to_string();
            for folder in folders {
                let input = NewFolder {
                    name: Some(folder.to_string()),
                    conflict_strategy: Some("RETURN_DENTRY_IF_EXISTS".into()),
                    app_properties: Vec::new(),
                };
                let view = self
                    .add_folder(&op, &space.space_id, &parent, input)
                    .await
                    .map_err(|e| at(&place, e))?;
                parent = view.dentry.dentry_id;
            }
            let Some(name) = name else { continue };
            if self.child_named(&space.space_id, &parent, name).await?.is_some() {
                continue;
            }
            let content = seed_content(file).map_err(|e| at(&place, e))?;
            let len = content.len() as u64;
            let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(content)]);
            self.write_file(&op, &space, &parent, name, Some(len), body)
                .await
                .map_err(|e| at(&place, e))?;
            made.files += 1;
        }
        Ok(())
    }
}

/// `/a/b/c` → (["a", "b"], Some("c")); `/a/b/` → (["a", "b"], None). Each
/// name is checked as AddFolder and CommitFile check names.
fn split_seed_path(path: &str) -> DriveResult<(Vec<&str>, Option<&str>)> {
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| DriveError::param("path", "a seed path starts with /"))?;
    let (folders, name) = match rest.strip_suffix('/') {
        Some(dir) => (dir, None),
        None => match rest.rsplit_once('/') {
            Some((dir, name)) => (dir, Some(name)),
            None => ("", Some(rest)),
        },
    };
    let folders: Vec<&str> = folders.split('/').filter(|s| !s.is_empty()).collect();
    for name in folders.iter().copied().chain(name) {
        crate::names::dentry_name("path", name)?;
    }
    if folders.is_empty() && name.is_none() {
        return Err(DriveError::param("path", "a seed path names a folder or a file"));
    }
    Ok((folders, name))
}

fn seed_content(file: &SeedFile) -> DriveResult<Bytes> {
    use base64::Engine;
    match (&file.content, &file.content_base64) {
        (Some(text), None) => Ok(Bytes::from(text.clone())),
        (None, Some(b64)) => {
            base64::engine::general_purpose::STANDARD.decode(b64).map(Bytes::from).map_err(|e| {
                DriveError::param("contentBase64", format!("contentBase64 is not base64: {e}"))
            })
        }
        (None, None) => Ok(Bytes::new()),
        (Some(_), Some(_)) => {
            Err(DriveError::param("content", "give content or contentBase64, not both"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_paths_split_into_folders_and_a_name() {
        assert_eq!(split_seed_path("/a/b/c.txt").unwrap(), (vec!["a", "b"], Some("c.txt")));
        assert_eq!(split_seed_path("/a/b/").unwrap(), (vec!["a", "b"], None));
        assert_eq!(split_seed_path("/c.txt").unwrap(), (vec![], Some("c.txt")));
        for bad in ["c.txt", "/", "/a/../b", "/a/./b"] {
            assert!(split_seed_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(Seed::from_json(r#"{"orgs": [], "extra": 1}"#).is_err());
        let seed = Seed::from_json(
            r#"{"orgs": [{"corpId": "c1", "name": "C", "apps": [{"appKey": "k", "appSecret": "s"}]}]}"#,
        )
        .unwrap();
        assert_eq!(seed.orgs[0].apps[0].app_key, "k");
    }
}
