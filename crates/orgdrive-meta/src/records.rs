//! Plain records as the metadata store keeps them. Times are Unix milliseconds.

/// An organization (DingTalk `corpId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRecord {
    pub corp_id: String,
    pub name: String,
    /// Storage capacity in bytes; `None` = unlimited.
    pub capacity: Option<i64>,
    pub created_at: i64,
    pub modified_at: i64,
}

/// An open-platform app of an org, with its credentials and granted scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    pub app_id: String,
    pub corp_id: String,
    pub name: String,
    pub app_key: String,
    pub secret_salt: String,
    /// Hex SHA-256 of `salt || secret`; the secret itself is never stored.
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub modified_at: i64,
}

/// A user of an org (DingTalk `unionId` / `userId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub union_id: String,
    pub corp_id: String,
    pub user_id: String,
    pub name: String,
    pub org_admin: bool,
    pub created_at: i64,
}

/// A department; departments form a tree per org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeptRecord {
    pub dept_id: String,
    pub corp_id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub created_at: i64,
}

/// An issued access token, kept only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub token_hash: String,
    pub app_id: String,
    pub expires_at: i64,
}

/// A storage space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceRecord {
    pub space_id: String,
    pub corp_id: String,
    pub app_id: String,
    pub scene: String,
    pub scene_id: String,
    pub name: Option<String>,
    /// `USER` or `APP`.
    pub owner_type: String,
    pub owner_id: String,
    pub creator_id: String,
    pub modifier_id: String,
    /// Space cap in bytes; `None` = no space-level cap.
    pub quota: Option<i64>,
    pub used_bytes: i64,
    /// `NORMAL` or `DELETE`.
    pub status: String,
    pub can_search: bool,
    pub can_rename: bool,
    pub can_record_recent_file: bool,
    pub created_at: i64,
    pub modified_at: i64,
}
