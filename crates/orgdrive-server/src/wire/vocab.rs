//! The string vocabularies of the wire: the values of fields the wire types
//! keep as plain strings (the domain validates them and names the field in
//! its error). These enums only give the OpenAPI document their values:
//! nothing parses or produces them at run time.

use utoipa::ToSchema;

/// `ownerType` of AddSpace (accepted in any case; default `USER`).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OwnerType {
    User,
    App,
}

/// `conflictStrategy` of AddFolder, CommitFile, MoveDentry(s), CopyDentry(s)
/// and RestoreRecycleItem(s) (default `AUTO_RENAME`).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConflictStrategy {
    AutoRename,
    Overwrite,
    ReturnDentryIfExists,
    ReturnErrorIfExists,
}

/// `visibility` of an app property (default `PRIVATE`).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Visibility {
    Public,
    Private,
}

/// `protocol` of GetFileUploadInfo (required).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Protocol {
    HeaderSignature,
}

/// `storageDriver` of uploads (default `DINGTALK`).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageDriver {
    Dingtalk,
}

/// `order` of listings (accepted in any case).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// `orderBy` of ListDentries (accepted in any case).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderBy {
    ModifiedTime,
    CreateTime,
    Name,
    Size,
}

/// `recycleBinScope` of GetRecycleBin and `scope` of a recycle bin: whose
/// bin (`scopeId` is a corpId, an appId or a spaceId).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecycleBinScope {
    Org,
    App,
    Space,
}

/// `type` of a dentry or a recycle item.
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DentryType {
    File,
    Folder,
}

/// `status` of a task.
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Init,
    InProgress,
    Success,
    Fail,
}

/// `roleId` of grants (strongest first).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoleId {
    Owner,
    Manager,
    Editor,
    Downloader,
    Reader,
}

/// `members.type` of grants (the reference's other types are refused).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MemberType {
    User,
    Dept,
    Org,
}
