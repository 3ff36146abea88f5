//! Records of permissions: roles granted on a space's root or any of its
//! dentries to a user, a department or a whole org, permanent or until an
//! expiry. What a grant allows is the domain's policy; the store keeps the
//! grants and answers who holds what, in one transaction per change.

/// A role granted on one dentry (`0` = the space root) to one member.
/// A member holds at most one grant per dentry (the key is `space_id`,
/// `dentry_id`, `member_type`, `member_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub space_id: String,
    pub dentry_id: String,
    /// `USER` (id = unionId), `DEPT` (id = deptId) or `ORG` (id = corpId).
    pub member_type: String,
    pub member_id: String,
    /// The org the member belongs to (always the space's org).
    pub member_corp_id: String,
    /// `OWNER`, `MANAGER`, `EDITOR`, `DOWNLOADER` or `READER`.
    pub role: String,
    /// A temporary grant's validity in seconds from its last write; `None`
    /// for a permanent grant.
    pub duration_secs: Option<i64>,
    /// When a temporary grant stops working (epoch ms); `None` = never.
    pub expires_at: Option<i64>,
    /// unionId of the operator who last wrote the grant.
    pub operator_id: String,
    pub created_at: i64,
    pub modified_at: i64,
}

impl GrantRecord {
    /// Whether the grant works at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now_ms)
    }
}

/// How [`crate::GrantStore::write_grants`] treats members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantWrite {
    /// AddPermission: each member's grant on the dentry is created, or
    /// replaced (role, duration, expiry, operator; `created_at` kept).
    Add,
    /// UpdatePermission: every member must already hold a live grant on the
    /// dentry, which is replaced as under `Add`; otherwise `NotFound` and
    /// nothing changes.
    Update,
}

/// AddPermission / UpdatePermission: `grants` all name `space_id` and
/// `dentry_id`. The dentry must be live in the space, or be its root `0`
/// (`NotFound` otherwise). With `protect_owner_grants`, a member's live
/// `OWNER` grant is never replaced: the write fails with
/// `OwnerGrantInTheWay` and nothing changes.
#[derive(Debug, Clone)]
pub struct WriteGrants {
    pub space_id: String,
    pub dentry_id: String,
    pub mode: GrantWrite,
    pub grants: Vec<GrantRecord>,
    pub protect_owner_grants: bool,
}

/// DeletePermission: the members' grants of `role` on the dentry go;
/// members holding another role there, or nothing, are left as they are.
#[derive(Debug, Clone)]
pub struct RevokeGrants {
    pub space_id: String,
    pub dentry_id: String,
    pub role: String,
    /// `(member_type, member_id)` pairs.
    pub members: Vec<(String, String)>,
    /// unionId of the operator, and when (the events' fields).
    pub operator_id: String,
    pub now_ms: i64,
}

/// Where a page of [`crate::GrantStore::list_grants`] ends: grants are
/// ordered by `member_type`, then `member_id`, bytewise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantCursor {
    pub member_type: String,
    pub member_id: String,
}

/// One link of a folder's chain from the root (see
/// [`crate::DentryStore::folder_chain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderLink {
    pub dentry_id: String,
    pub name: String,
}
