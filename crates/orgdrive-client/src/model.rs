//! The API's answers as the client reads them. Every field is optional or
//! defaulted: the same client reads orgdrive and DingTalk's own service, and
//! a field one of them leaves out must not fail a command. Requests are
//! built with `serde_json::json!` where they are sent (api.rs).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Space {
    pub id: String,
    pub name: Option<String>,
    pub owner_type: String,
    pub owner_id: String,
    pub scene: String,
    pub scene_id: String,
    pub used_quota: i64,
    pub quota: Option<i64>,
    pub create_time: String,
    pub modified_time: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
#[serde(default)]
pub struct AppProperty {
    pub name: String,
    pub value: String,
    pub visibility: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Dentry {
    pub id: String,
    pub space_id: String,
    pub parent_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub size: Option<i64>,
    pub path: String,
    pub version: Option<i64>,
    pub status: String,
    pub creator_id: String,
    pub modifier_id: String,
    pub create_time: String,
    pub modified_time: String,
    pub app_properties: BTreeMap<String, Vec<AppProperty>>,
}

impl Dentry {
    pub fn is_folder(&self) -> bool {
        self.kind == "FOLDER"
    }

    /// The value of one of the calling app's own properties. The client
    /// writes its properties PRIVATE, so the PRIVATE one with this name is
    /// the caller's (another app's PRIVATE properties are never shown).
    pub fn own_property(&self, name: &str) -> Option<&str> {
        self.app_properties
            .values()
            .flatten()
            .find(|p| p.name == name && p.visibility == "PRIVATE")
            .map(|p| p.value.as_str())
    }

    /// Milliseconds since the epoch of `modifiedTime`, if it parses.
    pub fn modified_ms(&self) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(&self.modified_time)
            .ok()
            .or_else(|| {
                chrono::DateTime::parse_from_str(&self.modified_time, "%Y-%m-%dT%H:%M:%S%.f%z").ok()
            })
            .map(|t| t.timestamp_millis())
    }
}

#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DentryPage {
    pub dentries: Vec<Dentry>,
    pub next_token: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct HeaderSignatureInfo {
    pub resource_urls: Vec<String>,
    pub headers: BTreeMap<String, String>,
    pub expiration_seconds: i64,
}

impl HeaderSignatureInfo {
    pub fn url(&self) -> Option<&str> {
        self.resource_urls.first().map(String::as_str)
    }
}

#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UploadInfo {
    pub upload_key: String,
    pub header_signature_info: HeaderSignatureInfo,
}

#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PartInfo {
    pub part_number: i64,
    pub header_signature_info: HeaderSignatureInfo,
}

#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RecycleItem {
    pub id: String,
    pub space_id: String,
    pub dentry_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub size: i64,
    pub original_name: String,
    pub original_path: String,
    pub operator_time: String,
}

#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Task {
    pub id: String,
    pub status: String,
    pub fail_message: Option<String>,
}

/// The answer of MoveDentry, CopyDentry and RestoreRecycleItem: done, or a
/// task to wait for.
#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Landing {
    #[serde(rename = "async")]
    pub is_async: bool,
    pub task_id: Option<String>,
    pub dentry: Option<Dentry>,
    pub dentry_id: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Member {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Role {
    pub id: String,
}

#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Grant {
    pub member: Member,
    pub role: Role,
    pub duration: Option<i64>,
    pub create_time: Option<String>,
}
