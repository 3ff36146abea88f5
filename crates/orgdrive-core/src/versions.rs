//! ListDentryVersions, RevertDentryVersion, UpdateDentryAppProperties and
//! DeleteDentryAppProperties.

use crate::{AppPropertyInput, Drive, DriveResult, Operator, Page};

/// Largest ListDentryVersions page (also its default).
pub const MAX_VERSION_PAGE: i64 = 100;

impl Drive {
    /// ListDentryVersions: the file's history versions, newest first, each
    /// as the dentry was at that version.
    pub async fn list_dentry_versions(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        max_results: Option<i64>,
        next_token: Option<String>,
    ) -> DriveResult<Page> {
        let _ = (op, space_id, dentry_id, max_results, next_token);
        todo!()
    }

    /// RevertDentryVersion: a new version with version `version`'s content.
    pub async fn revert_dentry_version(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        version: &str,
    ) -> DriveResult<()> {
        let _ = (op, space_id, dentry_id, version);
        todo!()
    }

    /// UpdateDentryAppProperties: upserts the calling app's properties.
    pub async fn update_app_properties(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        properties: Vec<AppPropertyInput>,
    ) -> DriveResult<()> {
        let _ = (op, space_id, dentry_id, properties);
        todo!()
    }

    /// DeleteDentryAppProperties: removes the calling app's named properties.
    pub async fn delete_app_properties(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        names: Vec<String>,
    ) -> DriveResult<()> {
        let _ = (op, space_id, dentry_id, names);
        todo!()
    }
}
