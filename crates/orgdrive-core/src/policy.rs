//! The permission policy, in one place: the five roles, the capability each
//! operation needs, the least role that has it, and [`Drive::authorize`],
//! which every operation on a space's content calls before it acts.
//!
//! Who holds what on a dentry (the *effective role*) is the strongest of:
//! - `OWNER` for an admin of the space's org, for the creator of a USER
//!   space, and for any operator of the app that owns an APP space;
//! - every live grant on the dentry or on one of its ancestors (the space
//!   root `0` included) whose member is the operator (`USER`), one of the
//!   operator's departments or their ancestors (`DEPT`), or the operator's
//!   org (`ORG`). A grant further down can raise a role, never lower it.
//!
//! Roles are nested: each holds every capability of the roles below it, so
//! a capability is written once, as the least role that has it
//! ([`Capability::least_role`]). Users of another org never reach this
//! check: their spaces do not exist for them (see `auth`).
//!
//! The answer costs no query when nothing changed: the space's grants, the
//! folder chains and the operator's departments are cached (see `cache`).

use std::fmt;
use std::sync::Arc;

use orgdrive_store::{DentryRecord, SpaceRecord};

use crate::cache::SpaceGrants;
use crate::error::unknown_dentry;
use crate::ids::ROOT_ID;
use crate::{now_ms, Drive, DriveError, DriveResult, Operator};

/// A role on a dentry, weakest first (the order is the strength).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Reader,
    Downloader,
    Editor,
    Manager,
    Owner,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 5] =
        [Role::Reader, Role::Downloader, Role::Editor, Role::Manager, Role::Owner];

    /// The roleId on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "READER",
            Role::Downloader => "DOWNLOADER",
            Role::Editor => "EDITOR",
            Role::Manager => "MANAGER",
            Role::Owner => "OWNER",
        }
    }

    /// A roleId, exactly as the wire spells it.
    pub fn parse(role_id: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == role_id)
    }

    /// Whether this role has the capability.
    pub fn allows(self, capability: Capability) -> bool {
        self >= capability.least_role()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operation does to a dentry, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// List a folder's children (ListDentries; ListAllDentries on the root).
    List,
    /// Read a dentry's metadata, its versions' metadata, the space's.
    ReadMetadata,
    /// Preview or open for reading (thumbnails, open info).
    Preview,
    /// Download a file's bytes (GetFileDownloadInfo).
    Download,
    /// Copy a dentry elsewhere (its bytes leave with the copy).
    CopyOut,
    /// Upload and commit files into a folder, or over a file.
    Upload,
    /// Create a folder in a folder.
    CreateFolder,
    /// Rename a dentry.
    Rename,
    /// Receive a moved or copied dentry into a folder.
    MoveIn,
    /// Revert a file to a history version.
    RevertVersion,
    /// Set or remove the calling app's properties on a dentry.
    EditAppProperties,
    /// Move a dentry out of its folder.
    MoveOut,
    /// Delete a dentry (to the bin or for good).
    Delete,
    /// Restore or purge the recycle bin's items of a space.
    ManageRecycleBin,
    /// Read a dentry's grants (ListPermissions).
    ReadGrants,
    /// Add, change or remove grants of roles up to `MANAGER`.
    Grant,
    /// Add, change or remove `OWNER` grants.
    AssignOwner,
}

impl Capability {
    /// The least role that has the capability: the capability table.
    pub fn least_role(self) -> Role {
        use Capability::*;
        match self {
            List | ReadMetadata | Preview => Role::Reader,
            Download | CopyOut => Role::Downloader,
            Upload | CreateFolder | Rename | MoveIn | RevertVersion | EditAppProperties => {
                Role::Editor
            }
            MoveOut | Delete | ManageRecycleBin | ReadGrants | Grant => Role::Manager,
            AssignOwner => Role::Owner,
        }
    }
}

/// An operation (or one end of it) as the policy sees it: each needs one
/// capability on its target ([`Operation::capability`]). Move and copy are
/// checked at both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetSpace,
    AddFolder,
    ListDentries,
    ListAllDentries,
    GetDentry,
    GetDentries,
    RenameDentry,
    /// The dentry a move takes away.
    MoveSource,
    /// The folder a move or restore puts a dentry in.
    MoveTarget,
    /// The dentry a copy reads.
    CopySource,
    /// The folder a copy writes into.
    CopyTarget,
    /// The folder a move or copy of a file writes into under `OVERWRITE`
    /// (the file it replaces goes to the recycle bin: a delete there).
    ReplaceTarget,
    DeleteDentry,
    ListDentryVersions,
    RevertDentryVersion,
    EditAppProperties,
    /// GetFileUploadInfo, InitMultipartFileUpload, GetMultipartFileUploadInfos
    /// and CommitFile, on the folder the file goes into.
    Upload,
    GetFileDownloadInfo,
    /// GetWebOfficeUrl and RefreshWebOfficeToken, and every WOPI request
    /// (writes through WOPI need `Upload` on the file besides).
    GetWebOfficeUrl,
    /// GetDentryThumbnails, GetDentryOpenInfo `PREVIEW`.
    Preview,
    /// GetDentryOpenInfo `EDIT`: a link to edit the file.
    OpenForEdit,
    /// RegisterOpenInfo: registering a file's preview/edit links.
    RegisterOpenInfo,
    /// The recycle bin's items of a space: list, read, restore, purge.
    RecycleBin,
    ListPermissions,
    /// Add, Update or DeletePermission of a role below `OWNER`.
    GrantRole,
    /// Add, Update or DeletePermission of the `OWNER` role.
    GrantOwner,
    /// SubscribeEvent on a space, and each event's delivery to its
    /// subscription (read on the root: who may list the space may follow it).
    SubscribeEvents,
}

impl Operation {
    /// The policy table: what the operation needs on its target.
    pub fn capability(self) -> Capability {
        use Operation::*;
        match self {
            GetSpace | GetDentry | GetDentries | ListDentryVersions => Capability::ReadMetadata,
            ListDentries | ListAllDentries | SubscribeEvents => Capability::List,
            GetFileDownloadInfo | GetWebOfficeUrl => Capability::Download,
            Preview => Capability::Preview,
            CopySource => Capability::CopyOut,
            AddFolder => Capability::CreateFolder,
            Upload | OpenForEdit => Capability::Upload,
            RegisterOpenInfo => Capability::EditAppProperties,
            RenameDentry => Capability::Rename,
            MoveTarget | CopyTarget => Capability::MoveIn,
            RevertDentryVersion => Capability::RevertVersion,
            EditAppProperties => Capability::EditAppProperties,
            MoveSource => Capability::MoveOut,
            DeleteDentry | ReplaceTarget => Capability::Delete,
            RecycleBin => Capability::ManageRecycleBin,
            ListPermissions => Capability::ReadGrants,
            GrantRole => Capability::Grant,
            GrantOwner => Capability::AssignOwner,
        }
    }
}

/// Where an operation acts, for its permission check.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Place<'a> {
    /// The space as a whole (its root `0`).
    Root,
    /// A folder by id (`0` = the root); `field` names it in a not-found error.
    Folder { folder_id: &'a str, field: &'static str },
    /// A live dentry already read.
    Dentry(&'a DentryRecord),
    /// A dentry by id (`0` = the root), read only when the operator does not
    /// own the space; `field` names it in a not-found error.
    DentryId { dentry_id: &'a str, field: &'static str },
}

impl Drive {
    /// Refuses unless the operator's effective role on `target` has the
    /// capability `operation` needs; answers the role. A folder target that
    /// is not a live folder of the space answers not-found (naming its field).
    pub(crate) async fn authorize(
        &self,
        op: &Operator,
        space: &SpaceRecord,
        place: Place<'_>,
        operation: Operation,
    ) -> DriveResult<Role> {
        let capability = operation.capability();
        match self.effective_role(op, space, place).await? {
            Some(role) if role.allows(capability) => Ok(role),
            held => Err(DriveError::PermissionDenied(format!(
                "{operation:?} needs the role {} or stronger; {} holds {} here",
                capability.least_role(),
                op.user.union_id,
                held.map_or("no role", Role::as_str),
            ))),
        }
    }

    /// The operator's strongest role on `target`, if any.
    pub(crate) async fn effective_role(
        &self,
        op: &Operator,
        space: &SpaceRecord,
        place: Place<'_>,
    ) -> DriveResult<Option<Role>> {
        if owns(op, space) {
            return Ok(Some(Role::Owner));
        }
        let read;
        let place = match place {
            Place::DentryId { dentry_id, .. } if dentry_id == ROOT_ID => Place::Root,
            Place::DentryId { dentry_id, field } => {
                read = self.live_dentry(&space.space_id, dentry_id, field).await?;
                Place::Dentry(&read)
            }
            other => other,
        };
        let folder = match place {
            Place::Folder { folder_id, field } => Some(
                self.folder_chain(&space.space_id, folder_id)
                    .await?
                    .ok_or_else(|| unknown_dentry(field, folder_id))?,
            ),
            _ => None,
        };
        let grants = self.space_grants(&space.space_id).await?;
        if grants.is_empty() {
            return Ok(None);
        }
        // The folders from the root down to the target (a file: to its
        // folder, then the file itself).
        let (chain, file) = match place {
            Place::Root | Place::DentryId { .. } => (None, None),
            Place::Folder { .. } => (folder, None),
            Place::Dentry(dentry) if dentry.is_folder() => {
                (self.folder_chain(&space.space_id, &dentry.dentry_id).await?, None)
            }
            Place::Dentry(dentry) => (
                self.folder_chain(&space.space_id, &dentry.parent_id).await?,
                Some(dentry.dentry_id.as_str()),
            ),
        };
        let on_path = std::iter::once(ROOT_ID)
            .chain(chain.iter().flat_map(|c| c.ids.iter().map(String::as_str)))
            .chain(file);
        let now = now_ms();
        let mut depts: Option<Arc<Vec<String>>> = None;
        let mut best: Option<Role> = None;
        for dentry_id in on_path {
            for grant in grants.get(dentry_id).into_iter().flatten() {
                if !grant.is_live(now) {
                    continue;
                }
                let Some(role) = Role::parse(&grant.role) else { continue };
                if best.is_some_and(|b| b >= role) {
                    continue;
                }
                let member = match grant.member_type.as_str() {
                    "USER" => grant.member_id == op.user.union_id,
                    "ORG" => grant.member_id == space.corp_id,
                    "DEPT" => {
                        if depts.is_none() {
                            depts = Some(self.user_depts(op).await?);
                        }
                        depts.as_ref().is_some_and(|d| d.contains(&grant.member_id))
                    }
                    _ => false,
                };
                if member {
                    best = Some(role);
                }
            }
        }
        Ok(best)
    }

    /// Every live grant of the space, through the grant cache.
    pub(crate) async fn space_grants(&self, space_id: &str) -> DriveResult<Arc<SpaceGrants>> {
        if let Some(grants) = self.cache.grants.get(space_id) {
            return Ok(grants);
        }
        let version = self.cache.grants_version();
        let mut by_dentry = SpaceGrants::new();
        for grant in self.meta.space_grants(space_id, now_ms()).await? {
            by_dentry.entry(grant.dentry_id.clone()).or_default().push(grant);
        }
        let grants = Arc::new(by_dentry);
        self.cache.remember_grants(space_id.to_string(), Arc::clone(&grants), version);
        Ok(grants)
    }

    /// The operator's departments with their ancestors, through the cache.
    pub(crate) async fn user_depts(&self, op: &Operator) -> DriveResult<Arc<Vec<String>>> {
        let key = (op.user.corp_id.clone(), op.user.union_id.clone());
        if let Some(depts) = self.cache.depts.get(&key) {
            return Ok(depts);
        }
        let version = self.cache.identities_version();
        let depts = Arc::new(self.meta.user_dept_ids(&key.0, &key.1).await?);
        self.cache.remember_depts(key, Arc::clone(&depts), version);
        Ok(depts)
    }
}

/// Whether the operator owns the space outright: an admin of its org, the
/// creator of a USER space, or an operator of the app that owns an APP space.
pub(crate) fn owns(op: &Operator, space: &SpaceRecord) -> bool {
    if space.corp_id != op.app.corp_id {
        return false;
    }
    op.user.org_admin
        || match space.owner_type.as_str() {
            "APP" => space.owner_id == op.app.app_id,
            _ => space.owner_id == op.user.union_id,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_nested_and_round_trip() {
        for (i, role) in Role::ALL.into_iter().enumerate() {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            for stronger in &Role::ALL[i..] {
                assert!(*stronger >= role);
            }
        }
        assert_eq!(Role::parse("owner"), None);
    }

    #[test]
    fn the_capability_table() {
        use Capability::*;
        let reader = [List, ReadMetadata, Preview];
        let downloader = [Download, CopyOut];
        let editor = [Upload, CreateFolder, Rename, MoveIn, RevertVersion, EditAppProperties];
        let manager = [MoveOut, Delete, ManageRecycleBin, ReadGrants, Grant];
        for c in reader {
            assert!(Role::Reader.allows(c));
        }
        for c in downloader {
            assert!(!Role::Reader.allows(c) && Role::Downloader.allows(c));
        }
        for c in editor {
            assert!(!Role::Downloader.allows(c) && Role::Editor.allows(c));
        }
        for c in manager {
            assert!(!Role::Editor.allows(c) && Role::Manager.allows(c));
        }
        assert!(!Role::Manager.allows(AssignOwner) && Role::Owner.allows(AssignOwner));
    }
}
