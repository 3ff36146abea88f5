//! ListDentryVersions, RevertDentryVersion, UpdateDentryAppProperties and
//! DeleteDentryAppProperties.
//!
//! History versions are kept when a commit overwrites a file (and when a
//! revert does): the list holds history only, newest first; the current
//! version is the dentry itself. A revert never rewrites history: it adds a
//! version whose content is the old one's (the same object, charged again).

use orgdrive_store::{EditAppProperties, StoreError, VersionRecord};

use crate::dentries::{app_property_records, MAX_APP_PROPERTIES};
use crate::error::unknown_dentry;
use crate::lifecycle::actor;
use crate::policy::{Operation, Place};
use crate::{
    AppPropertyInput, DentryView, Drive, DriveError, DriveResult, Operator, Page, PropertyFilter,
};

/// Largest ListDentryVersions page (also its default).
pub const MAX_VERSION_PAGE: i64 = 100;

impl Drive {
    /// ListDentryVersions: the file's history versions, newest first, each
    /// as the dentry was at that version. A folder has none.
    pub async fn list_dentry_versions(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        max_results: Option<i64>,
        next_token: Option<String>,
    ) -> DriveResult<Page> {
        let limit = match max_results {
            None => MAX_VERSION_PAGE,
            Some(n) if n >= 1 => n.min(MAX_VERSION_PAGE),
            Some(_) => {
                return Err(DriveError::param("maxResults", "maxResults must be at least 1"))
            }
        } as usize;
        let before = next_token.as_deref().map(|t| decode_token(t, dentry_id)).transpose()?;
        let space = self.space_for(op, space_id).await?;
        let file = self.live_dentry(&space.space_id, dentry_id, "dentryId").await?;
        self.authorize(op, &space, Place::Dentry(&file), Operation::ListDentryVersions).await?;
        if file.is_folder() {
            return Ok(Page { dentries: Vec::new(), next_token: None });
        }
        let mut versions = self.meta.list_versions(dentry_id, before, limit as u32 + 1).await?;
        let next_token = if versions.len() > limit {
            versions.truncate(limit);
            versions.last().map(|v| encode_token(dentry_id, v.version))
        } else {
            None
        };
        let snapshots = versions.into_iter().map(|v| snapshot(&file, v)).collect();
        let dentries: Vec<DentryView> =
            self.views(op, snapshots, &PropertyFilter::default()).await?;
        Ok(Page { dentries, next_token })
    }

    /// RevertDentryVersion: a new version with version `version`'s content.
    pub async fn revert_dentry_version(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        version: &str,
    ) -> DriveResult<()> {
        let number: i64 = version
            .parse()
            .ok()
            .filter(|v| *v >= 0)
            .ok_or_else(|| DriveError::param("version", "version must be a number >= 0"))?;
        let space = self.space_for(op, space_id).await?;
        let place = Place::DentryId { dentry_id, field: "dentryId" };
        self.authorize(op, &space, place, Operation::RevertDentryVersion).await?;
        let request = orgdrive_store::RevertVersion {
            space_id: space.space_id.clone(),
            dentry_id: dentry_id.to_string(),
            version: number,
            actor: actor(op),
        };
        self.meta.revert_version(&request).await.map_err(|e| match e {
            StoreError::NotFound => unknown_dentry("dentryId", dentry_id),
            StoreError::VersionNotFound => DriveError::param(
                "version",
                format!("file {dentry_id} keeps no history version {number}"),
            ),
            other => crate::dentries::put_error(other, dentry_id),
        })?;
        self.forget_space(&space.space_id);
        Ok(())
    }

    /// UpdateDentryAppProperties: upserts the calling app's properties (by
    /// name; at most three per app and dentry).
    pub async fn update_app_properties(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        properties: Vec<AppPropertyInput>,
    ) -> DriveResult<()> {
        if properties.is_empty() {
            return Err(DriveError::param("appProperties", "appProperties is required"));
        }
        let set = app_property_records(&op.app.app_id, &properties)?;
        self.edit_properties(op, space_id, dentry_id, set, Vec::new()).await
    }

    /// DeleteDentryAppProperties: removes the calling app's named properties
    /// (unknown names are ignored).
    pub async fn delete_app_properties(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        names: Vec<String>,
    ) -> DriveResult<()> {
        if names.is_empty() || names.len() > MAX_APP_PROPERTIES {
            return Err(DriveError::param(
                "propertyNames",
                format!("propertyNames must hold 1 to {MAX_APP_PROPERTIES} names"),
            ));
        }
        let names = names.into_iter().map(|n| n.trim().to_string()).collect();
        self.edit_properties(op, space_id, dentry_id, Vec::new(), names).await
    }

    async fn edit_properties(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        set: Vec<orgdrive_store::AppPropertyRecord>,
        remove: Vec<String>,
    ) -> DriveResult<()> {
        let space = self.space_for(op, space_id).await?;
        let place = Place::DentryId { dentry_id, field: "dentryId" };
        self.authorize(op, &space, place, Operation::EditAppProperties).await?;
        let edit = EditAppProperties {
            space_id: space.space_id,
            dentry_id: dentry_id.to_string(),
            app_id: op.app.app_id.clone(),
            set: set
                .into_iter()
                .map(|p| orgdrive_store::AppPropertyRecord { dentry_id: dentry_id.into(), ..p })
                .collect(),
            remove,
            max_per_app: MAX_APP_PROPERTIES as u32,
        };
        self.meta.edit_app_properties(&edit).await.map_err(|e| match e {
            StoreError::NotFound => unknown_dentry("dentryId", dentry_id),
            StoreError::TooManyProperties => DriveError::param(
                "appProperties",
                format!("an app keeps at most {MAX_APP_PROPERTIES} properties on a dentry"),
            ),
            other => other.into(),
        })
    }
}

/// The file as it was at `version`.
fn snapshot(file: &orgdrive_store::DentryRecord, v: VersionRecord) -> orgdrive_store::DentryRecord {
    orgdrive_store::DentryRecord {
        name: v.name,
        size: v.size,
        version: v.version,
        blob_key: Some(v.blob_key),
        modifier_id: v.modifier_id,
        modified_at: v.modified_at,
        app_properties: Vec::new(),
        ..file.clone()
    }
}

/// `nextToken`: hex of `dentryId \n version`, bound to its file.
fn encode_token(dentry_id: &str, version: i64) -> String {
    hex::encode(format!("{dentry_id}\n{version}"))
}

fn decode_token(token: &str, dentry_id: &str) -> DriveResult<i64> {
    let invalid = || DriveError::param("nextToken", "nextToken is not from this listing");
    let text = crate::dentries::token_text(token).ok_or_else(invalid)?;
    match text.split_once('\n') {
        Some((id, version)) if id == dentry_id => version.parse().map_err(|_| invalid()),
        _ => Err(invalid()),
    }
}
