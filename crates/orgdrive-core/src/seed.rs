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
//! each org loses the apps and users the seed does not declare (an org the
//! seed does not declare goes whole) and is emptied of what its apps and
//! users made (one transaction,
//! [`orgdrive_store::IdentityStore::purge_org_content`]: the declared
//! spaces stay, emptied, with their ids), then the seed is applied again
//! without making or looking up what the reset kept; a declared user's
//! password is then exactly the seed's (cleared if it declares none). Apps
//! keep their ids, so their access tokens stay valid across a reset.
//!
//! Every record goes through the same validation as the admin API and the
//! DingTalk API; a seed that declares something invalid stops the start
//! with the field named. What can be checked without the store (ids,
//! secrets, scopes, file paths and contents, a space's app and user being
//! declared in its org) is checked for the whole seed before anything is
//! made.

use bytes::Bytes;
use orgdrive_store::{AppRecord, OrgKeep, SceneKey, SpaceRecord, UserRecord};
use serde::Deserialize;

use crate::console::valid_password;
use crate::dentries::NewFolder;
use crate::identity::{check_app_secret, duplicate, is_console_app, secret_hash};
use crate::ids::random_hex;
use crate::spaces::{scene_key, NewSpace};
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

#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedApp {
    pub app_key: String,
    pub app_secret: String,
    /// Default: the appKey.
    pub name: Option<String>,
    /// Granted scopes; every storage scope when absent.
    pub scopes: Option<Vec<String>>,
}

#[derive(Clone, Deserialize)]
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

// Secrets never reach a log line, not even through `{:?}`.
impl std::fmt::Debug for SeedApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedApp")
            .field("app_key", &self.app_key)
            .field("app_secret", &"<redacted>")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl std::fmt::Debug for SeedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedUser")
            .field("union_id", &self.union_id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("org_admin", &self.org_admin)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
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

    /// What can be checked without the store (see the module's docs),
    /// and that nothing is declared twice: corpIds, appKeys, unionIds and
    /// deptIds are unique across the seed (as across the drive), userIds
    /// and spaces (app, scene, sceneId) within an org.
    pub fn check(&self) -> DriveResult<()> {
        let mut taken = std::collections::HashSet::new();
        let mut once = |field: &'static str, scope: &str, value: &str| {
            if taken.insert((field, scope.to_string(), value.to_string())) {
                Ok(())
            } else {
                Err(DriveError::param(field, format!("{field} {value} is declared twice")))
            }
        };
        for org in &self.orgs {
            let place = format!("org {}", org.corp_id);
            org.check().map_err(|e| at(&place, e))?;
            let twice = |e| at(&place, e);
            once("corpId", "", &org.corp_id).map_err(twice)?;
            for app in &org.apps {
                once("appKey", "", &app.app_key).map_err(twice)?;
            }
            for user in &org.users {
                once("unionId", "", &user.union_id).map_err(twice)?;
                if let Some(user_id) = &user.user_id {
                    once("userId", &org.corp_id, user_id).map_err(twice)?;
                }
            }
            for dept in &org.depts {
                once("deptId", "", &dept.dept_id).map_err(twice)?;
            }
            for space in &org.spaces {
                let (scene, scene_id) =
                    scene_key(space.scene.as_deref(), space.scene_id.as_deref()).map_err(twice)?;
                let key = format!("{} {scene} {scene_id}", space.app_key);
                once("sceneId", &org.corp_id, &key).map_err(twice)?;
            }
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
            self.seed_org(org, None, &mut made).await.map_err(|e| at(&place, e))?;
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
        let declared = |corp_id: &str| seed.orgs.iter().find(|o| o.corp_id == corp_id);
        let mut targets: Vec<String> = match only {
            Some(corp_id) if stored.iter().any(|c| c == corp_id) || declared(corp_id).is_some() => {
                vec![corp_id.to_string()]
            }
            Some(corp_id) => {
                return Err(DriveError::not_found(
                    "corpId",
                    format!("organization {corp_id} does not exist"),
                ))
            }
            None => {
                stored.iter().cloned().chain(seed.orgs.iter().map(|o| o.corp_id.clone())).collect()
            }
        };
        targets.sort_unstable();
        targets.dedup();
        let mut trash = Vec::new();
        let mut made = SeedReport::default();
        let result = async {
            let mut known = Vec::new();
            for corp_id in targets.iter().filter(|c| stored.contains(c)) {
                match declared(corp_id) {
                    None => {
                        let nothing = OrgKeep::default();
                        let purged =
                            self.meta.purge_org_content(corp_id, &nothing, now_ms()).await?;
                        trash.extend(purged.trashed_objects);
                        self.meta.delete_org(corp_id).await?;
                    }
                    Some(org) => known.push((org, self.empty_org(org, &mut trash).await?)),
                }
            }
            self.cache.forget_all();
            for org in seed.orgs.iter().filter(|o| targets.contains(&o.corp_id)) {
                let place = format!("org {}", org.corp_id);
                let known = known.iter().find(|(o, _)| o.corp_id == org.corp_id).map(|(_, k)| k);
                self.seed_org(org, known, &mut made).await.map_err(|e| at(&place, e))?;
            }
            Ok::<_, DriveError>(made)
        }
        .await;
        self.cache.forget_all();
        if !trash.is_empty() {
            let drive = self.clone();
            tokio::spawn(async move { drive.empty_trash(trash).await });
        }
        result
    }

    /// A reset of a declared org, before the seed is applied again: the
    /// apps and users it does not declare go (not the console app, which
    /// the server keeps), then its content (the declared spaces stay,
    /// emptied, with their ids; so do declared users' passwords, checked
    /// again afterwards). Answers what remains.
    async fn empty_org(&self, org: &SeedOrg, trash: &mut Vec<String>) -> DriveResult<Known> {
        let corp_id = &org.corp_id;
        // The content first: an undeclared app may own spaces, which go
        // with it (an app is deleted only once it owns none).
        let (mut apps, mut undeclared_apps) = (Vec::new(), Vec::new());
        for app in self.meta.list_apps(corp_id).await? {
            if is_console_app(&app) {
                continue;
            }
            if org.apps.iter().any(|a| a.app_key == app.app_key) {
                apps.push(app);
            } else {
                undeclared_apps.push(app);
            }
        }
        let mut keep = OrgKeep::default();
        for space in &org.spaces {
            let Some(app) = apps.iter().find(|a| a.app_key == space.app_key) else { continue };
            let (scene, scene_id) = scene_key(space.scene.as_deref(), space.scene_id.as_deref())?;
            keep.spaces.push(SceneKey { app_id: app.app_id.clone(), scene, scene_id });
        }
        keep.passwords_of =
            org.users.iter().filter(|u| u.password.is_some()).map(|u| u.union_id.clone()).collect();
        let purged = self.meta.purge_org_content(corp_id, &keep, now_ms()).await?;
        trash.extend(purged.trashed_objects);
        for app in undeclared_apps {
            self.meta.delete_app(corp_id, &app.app_id).await?;
        }
        let mut users = Vec::new();
        for user in self.meta.list_users(corp_id).await? {
            if org.users.iter().any(|u| u.union_id == user.union_id) {
                users.push(user);
            } else {
                self.meta.delete_user(corp_id, &user.union_id).await?;
            }
        }
        Ok(Known { apps, users, spaces: purged.kept_spaces })
    }

    /// Applies one org of a seed; `known`: what a reset left of it (then
    /// nothing it holds is made again or looked up).
    async fn seed_org(
        &self,
        org: &SeedOrg,
        known: Option<&Known>,
        made: &mut SeedReport,
    ) -> DriveResult<()> {
        let corp_id = &org.corp_id;
        if known.is_none() {
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
        }
        let mut apps = Vec::with_capacity(org.apps.len());
        for seed in &org.apps {
            let kept = known.and_then(|k| k.apps.iter().find(|a| a.app_key == seed.app_key));
            let app = match kept {
                Some(app) => self.keep_seed_secret(app.clone(), seed).await?,
                None => {
                    self.seed_app(corp_id, seed, made).await.map_err(|e| at(&seed.app_key, e))?
                }
            };
            apps.push(app);
        }
        let mut users = Vec::with_capacity(org.users.len());
        for seed in &org.users {
            let kept = known.and_then(|k| k.users.iter().find(|u| u.union_id == seed.union_id));
            let user = self
                .seed_user(corp_id, seed, kept.cloned(), made)
                .await
                .map_err(|e| at(&seed.union_id, e))?;
            users.push(user);
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
        for (i, seed) in org.spaces.iter().enumerate() {
            let place = format!("spaces[{i}]");
            // Checked by Seed::check: the space's app and user are the org's.
            let (Some(app), Some(user)) = (
                apps.iter().find(|a| a.app_key == seed.app_key),
                users.iter().find(|u| u.union_id == seed.union_id),
            ) else {
                return Err(at(&place, DriveError::param("appKey", "not one of the org's apps")));
            };
            let op = Operator { app: app.clone(), user: user.clone() };
            let kept = match known {
                Some(k) => {
                    let (scene, scene_id) =
                        scene_key(seed.scene.as_deref(), seed.scene_id.as_deref())?;
                    k.spaces.iter().find(|s| {
                        s.app_id == op.app.app_id && s.scene == scene && s.scene_id == scene_id
                    })
                }
                None => None,
            };
            self.seed_space(&op, seed, kept.cloned(), made).await.map_err(|e| at(&place, e))?;
        }
        Ok(())
    }

    /// Makes the app, or finds it (it must be `corp_id`'s) with the seed's
    /// secret.
    async fn seed_app(
        &self,
        corp_id: &str,
        seed: &SeedApp,
        made: &mut SeedReport,
    ) -> DriveResult<AppRecord> {
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
            Ok(created) => {
                made.apps += 1;
                return Ok(created.app);
            }
            Err(DriveError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
        let app = match self.meta.get_app_by_key(&seed.app_key).await? {
            Some(app) if app.corp_id == corp_id => app,
            _ => return Err(duplicate("appKey", &seed.app_key)),
        };
        self.keep_seed_secret(app, seed).await
    }

    /// Gives the app the seed's secret again if it was rotated.
    async fn keep_seed_secret(&self, app: AppRecord, seed: &SeedApp) -> DriveResult<AppRecord> {
        if secret_hash(&app.secret_salt, &seed.app_secret) == app.secret_hash {
            return Ok(app);
        }
        let salt = random_hex(16);
        let hash = secret_hash(&salt, &seed.app_secret);
        let now = now_ms();
        self.meta.set_app_secret(&app.corp_id, &app.app_id, &salt, &hash, now).await?;
        self.cache.forget_identities();
        Ok(AppRecord { secret_salt: salt, secret_hash: hash, modified_at: now, ..app })
    }

    /// Makes the user (unless `kept`, what a reset left of it), or finds it;
    /// sets the seed's password where the user has another one or none.
    async fn seed_user(
        &self,
        corp_id: &str,
        seed: &SeedUser,
        kept: Option<UserRecord>,
        made: &mut SeedReport,
    ) -> DriveResult<UserRecord> {
        let (user, new) = match kept {
            Some(user) => (user, false),
            None => {
                let input = NewUser {
                    name: seed.name.clone().unwrap_or_else(|| seed.union_id.clone()),
                    org_admin: seed.org_admin,
                    union_id: Some(seed.union_id.clone()),
                    user_id: seed.user_id.clone(),
                };
                match self.create_user(corp_id, input).await {
                    Ok(user) => {
                        made.users += 1;
                        (user, true)
                    }
                    Err(DriveError::Conflict { .. }) => {
                        match self.meta.get_user(corp_id, &seed.union_id).await? {
                            Some(user) => (user, false),
                            // The unionId is another org's user: unionIds are unique.
                            None => return Err(duplicate("unionId", &seed.union_id)),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        if let Some(password) = &seed.password {
            let current =
                !new && self.check_console_password(&seed.union_id, password).await.is_ok();
            if !current {
                self.set_console_password(corp_id, &seed.union_id, Some(password)).await?;
            }
        }
        Ok(user)
    }

    /// Makes the space (AddSpace: found if it exists), unless `kept` (what
    /// a reset left of it), then its folders and files where missing.
    async fn seed_space(
        &self,
        op: &Operator,
        seed: &SeedSpace,
        kept: Option<SpaceRecord>,
        made: &mut SeedReport,
    ) -> DriveResult<()> {
        let space = match kept {
            Some(space) => space,
            None => {
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
                self.add_space(op, input).await?.space
            }
        };
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
                    .add_folder(op, &space.space_id, &parent, input)
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
            let to = crate::FileWrite {
                space: &space,
                parent_id: &parent,
                name,
                declared_len: Some(len),
                create_only: false,
            };
            self.write_file(op, to, body).await.map_err(|e| at(&place, e))?;
            made.files += 1;
        }
        Ok(())
    }
}

/// What a reset left of a declared org: its declared apps and users, and
/// its declared spaces (emptied).
struct Known {
    apps: Vec<AppRecord>,
    users: Vec<UserRecord>,
    spaces: Vec<SpaceRecord>,
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
