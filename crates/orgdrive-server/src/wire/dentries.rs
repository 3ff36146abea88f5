//! Files and folders: the dentry object (with its app properties) and the
//! requests and answers of AddFolder, GetDentry, GetDentries, ListDentries
//! (whose query [`ListDentriesQuery`] only describes what handlers read
//! through `QueryParams`) and ListAllDentries.

use std::collections::BTreeMap;

use orgdrive_core::{iso8601, AppProperty, AppPropertyInput, DentryView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::vocab::{ConflictStrategy, OrderBy, SortOrder, Visibility};

/// A file or folder (reference §3.3). Folders carry no `size`, `extension`,
/// `version` or `category`; the root carries no `parentId`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dentry {
    pub id: String,
    pub uuid: String,
    pub space_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    pub status: String,
    pub creator_id: String,
    pub modifier_id: String,
    pub create_time: String,
    pub modified_time: String,
    pub storage_driver: &'static str,
    pub partition_type: &'static str,
    pub properties: DentryProperties,
    pub app_properties: BTreeMap<String, Vec<AppPropertyWire>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DentryProperties {
    pub read_only: bool,
}

impl From<DentryView> for Dentry {
    fn from(view: DentryView) -> Dentry {
        let extension = view.extension().map(str::to_string);
        let category = view.category();
        let d = view.dentry;
        let is_file = !d.is_folder();
        Dentry {
            id: d.dentry_id,
            uuid: d.uuid,
            space_id: d.space_id,
            parent_id: Some(d.parent_id).filter(|p| !p.is_empty()),
            kind: d.kind,
            name: d.name,
            extension,
            size: is_file.then_some(d.size),
            path: view.path,
            version: is_file.then_some(d.version),
            status: d.status,
            creator_id: d.creator_id,
            modifier_id: d.modifier_id,
            create_time: iso8601(d.created_at),
            modified_time: iso8601(d.modified_at),
            storage_driver: "DINGTALK",
            partition_type: orgdrive_core::PARTITION_TYPE,
            properties: DentryProperties { read_only: false },
            app_properties: view
                .app_properties
                .into_iter()
                .map(|(app, list)| (app, list.into_iter().map(AppPropertyWire::from).collect()))
                .collect(),
            category,
        }
    }
}

/// `{name, value, visibility}`: in requests (all optional) and responses.
#[derive(Serialize, Deserialize, Default, ToSchema)]
#[schema(as = AppProperty)]
pub struct AppPropertyWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Visibility>)]
    pub visibility: Option<String>,
}

impl From<AppProperty> for AppPropertyWire {
    fn from(p: AppProperty) -> AppPropertyWire {
        AppPropertyWire { name: Some(p.name), value: Some(p.value), visibility: Some(p.visibility) }
    }
}

impl From<AppPropertyWire> for AppPropertyInput {
    fn from(p: AppPropertyWire) -> AppPropertyInput {
        AppPropertyInput { name: p.name, value: p.value, visibility: p.visibility }
    }
}

pub fn property_inputs(list: Option<Vec<AppPropertyWire>>) -> Vec<AppPropertyInput> {
    list.unwrap_or_default().into_iter().map(AppPropertyInput::from).collect()
}

#[derive(Serialize, ToSchema)]
pub struct DentryResponse {
    pub dentry: Dentry,
}

#[derive(Deserialize, ToSchema)]
pub struct AddFolderRequest {
    #[schema(required = true, nullable = false, example = "Reports")]
    pub name: Option<String>,
    pub option: Option<AddFolderOption>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddFolderOption {
    #[schema(value_type = Option<ConflictStrategy>)]
    pub conflict_strategy: Option<String>,
    pub app_properties: Option<Vec<AppPropertyWire>>,
}

/// `option` of GetDentry and GetDentries.
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadOption {
    pub app_ids_for_app_properties: Option<Vec<String>>,
    pub with_thumbnail: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
pub struct GetDentryRequest {
    pub option: Option<ReadOption>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetDentriesRequest {
    #[schema(required = true, nullable = false, min_items = 1, max_items = 30)]
    pub dentry_ids: Option<Vec<String>>,
    pub option: Option<ReadOption>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetDentriesResponse {
    pub result_items: Vec<DentryResultItem>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DentryResultItem {
    pub space_id: String,
    pub dentry_id: String,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dentry: Option<Dentry>,
}

/// The query of ListDentries (handlers read queries through `QueryParams`;
/// this type only describes it).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ListDentriesQuery {
    /// The user the app acts for (see the other operations).
    pub union_id: String,
    /// The folder to list; `0` is the root.
    #[param(example = "0")]
    pub parent_id: String,
    /// Page size: default 50, larger values are clamped to 50.
    #[param(minimum = 1, nullable = false)]
    pub max_results: Option<i64>,
    /// The `nextToken` of the previous page of the same listing.
    #[param(nullable = false)]
    pub next_token: Option<String>,
    /// Default `DESC`.
    #[param(inline, nullable = false)]
    pub order: Option<SortOrder>,
    /// Default `MODIFIED_TIME`; ties are broken by id.
    #[param(inline, nullable = false)]
    pub order_by: Option<OrderBy>,
    /// Accepted (in any case); no thumbnails are generated yet.
    #[param(nullable = false)]
    pub with_thumbnail: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
pub struct ListAllDentriesRequest {
    pub option: Option<ListAllOption>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListAllOption {
    /// Page size: default 50, larger values are clamped to 50.
    #[schema(minimum = 1)]
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    #[schema(value_type = Option<SortOrder>)]
    pub order: Option<String>,
    pub with_thumbnail: Option<bool>,
}

/// ListDentries and ListAllDentries.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DentryPage {
    pub dentries: Vec<Dentry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}
