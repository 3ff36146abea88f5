//! Wire types: one Rust type per JSON object of the DingTalk API (and of the
//! admin API), with the exact camelCase field names, and the conversions from
//! domain views. Optional fields absent from a response are omitted, never null.

use std::collections::BTreeMap;

use orgdrive_core::{
    iso8601, AppProperty, AppPropertyInput, AppRecord, AppView, DentryView, DeptRecord, OrgRecord,
    OrgView, Partition, PreCheck, SignedUrl, SpaceView, UserRecord,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// ---- errors ------------------------------------------------------------------

/// A DingTalk error: the body of every 4xx/5xx answer (README "Errors").
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// `paramError`, `paramError.<field>`, `InvalidAuthentication`,
    /// `Forbidden.AccessDenied.AccessTokenPermissionDenied`, `permissionDenied`, ...
    pub code: String,
    pub message: String,
    /// The request id, also sent as the `x-acs-request-id` header.
    pub requestid: String,
    /// Only with `Forbidden.AccessDenied.AccessTokenPermissionDenied`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessdenieddetail: Option<AccessDeniedDetail>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessDeniedDetail {
    /// The scope the app lacks.
    pub required_scopes: Vec<String>,
}

// ---- oauth2 ----------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetAccessTokenRequest {
    #[schema(required = true, nullable = false)]
    pub app_key: Option<String>,
    #[schema(required = true, nullable = false)]
    pub app_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetAccessTokenResponse {
    pub access_token: String,
    pub expire_in: i64,
}

// ---- spaces ----------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
pub struct AddSpaceRequest {
    pub option: Option<AddSpaceOption>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddSpaceOption {
    pub name: Option<String>,
    /// Bytes; at most the org capacity.
    #[schema(minimum = 1)]
    pub quota: Option<i64>,
    pub capabilities: Option<Capabilities>,
    pub scene: Option<String>,
    pub scene_id: Option<String>,
    #[schema(value_type = Option<crate::vocab::OwnerType>)]
    pub owner_type: Option<String>,
}

/// `capabilities` of a space, in requests (absent flags = false) and responses.
#[derive(Serialize, Deserialize, Default, Clone, Copy, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Capabilities {
    pub can_search: bool,
    pub can_rename: bool,
    pub can_record_recent_file: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SpaceResponse {
    pub space: Space,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Space {
    pub id: String,
    pub corp_id: String,
    pub creator_id: String,
    pub owner_type: String,
    pub owner_id: String,
    pub modifier_id: String,
    pub used_quota: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    pub status: String,
    pub create_time: String,
    pub modified_time: String,
    pub app_id: String,
    pub scene: String,
    pub scene_id: String,
    pub capabilities: Capabilities,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub partitions: Vec<PartitionWire>,
}

impl From<SpaceView> for Space {
    fn from(view: SpaceView) -> Space {
        let s = view.space;
        Space {
            id: s.space_id,
            corp_id: s.corp_id,
            creator_id: s.creator_id,
            owner_type: s.owner_type,
            owner_id: s.owner_id,
            modifier_id: s.modifier_id,
            used_quota: s.used_bytes,
            quota: view.quota,
            status: s.status,
            create_time: iso8601(s.created_at),
            modified_time: iso8601(s.modified_at),
            app_id: s.app_id,
            scene: s.scene,
            scene_id: s.scene_id,
            capabilities: Capabilities {
                can_search: s.can_search,
                can_rename: s.can_rename,
                can_record_recent_file: s.can_record_recent_file,
            },
            name: s.name,
            partitions: view.partitions.into_iter().map(PartitionWire::from).collect(),
        }
    }
}

/// `partitions[]` of spaces, orgs and apps.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Partition)]
pub struct PartitionWire {
    pub partition_type: &'static str,
    pub quota: QuotaWire,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Quota)]
pub struct QuotaWire {
    pub used: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved: Option<i64>,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl From<Partition> for PartitionWire {
    fn from(p: Partition) -> PartitionWire {
        PartitionWire {
            partition_type: p.partition_type,
            quota: QuotaWire {
                used: p.quota.used,
                max: p.quota.max,
                reserved: p.quota.reserved,
                kind: p.quota.kind.as_str(),
            },
        }
    }
}

fn partitions(list: Vec<Partition>) -> Vec<PartitionWire> {
    list.into_iter().map(PartitionWire::from).collect()
}

// ---- org and app -------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct GetOrgResponse {
    pub org: Org,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    pub corp_id: String,
    pub partitions: Vec<PartitionWire>,
}

impl From<OrgView> for Org {
    fn from(view: OrgView) -> Org {
        Org { corp_id: view.org.corp_id, partitions: partitions(view.partitions) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GetCurrentAppResponse {
    pub app: App,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub app_id: String,
    pub corp_id: String,
    pub name: String,
    pub create_time: String,
    pub modified_time: String,
    pub partitions: Vec<PartitionWire>,
}

impl From<AppView> for App {
    fn from(view: AppView) -> App {
        App {
            app_id: view.app.app_id,
            corp_id: view.app.corp_id,
            name: view.app.name,
            create_time: iso8601(view.app.created_at),
            modified_time: iso8601(view.app.modified_at),
            partitions: partitions(view.partitions),
        }
    }
}

// ---- dentries ----------------------------------------------------------------

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
    #[schema(value_type = Option<crate::vocab::Visibility>)]
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
    #[schema(value_type = Option<crate::vocab::ConflictStrategy>)]
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
    #[schema(value_type = Option<crate::vocab::SortOrder>)]
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

// ---- transfer ------------------------------------------------------------------

/// `headerSignatureInfo` (reference §3.5). Signatures travel in the URL, so
/// `headers` is empty.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeaderSignatureInfo {
    pub resource_urls: Vec<String>,
    pub internal_resource_urls: Vec<String>,
    pub headers: BTreeMap<String, String>,
    pub expiration_seconds: i64,
    pub region: &'static str,
}

impl From<SignedUrl> for HeaderSignatureInfo {
    fn from(url: SignedUrl) -> HeaderSignatureInfo {
        HeaderSignatureInfo {
            resource_urls: vec![url.url.clone()],
            internal_resource_urls: vec![url.url],
            headers: BTreeMap::new(),
            expiration_seconds: url.expiration_seconds,
            region: "UNKNOWN",
        }
    }
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreCheckParam {
    pub md5: Option<String>,
    pub name: Option<String>,
    pub parent_id: Option<String>,
    pub size: Option<i64>,
}

impl From<PreCheckParam> for PreCheck {
    fn from(p: PreCheckParam) -> PreCheck {
        PreCheck { name: p.name, parent_id: p.parent_id, size: p.size, md5: p.md5 }
    }
}

/// `option` of GetFileUploadInfo and InitMultipartFileUpload.
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadOption {
    pub pre_check_param: Option<PreCheckParam>,
    pub prefer_intranet: Option<bool>,
    pub prefer_region: Option<String>,
    #[schema(value_type = Option<crate::vocab::StorageDriver>)]
    pub storage_driver: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct GetFileUploadInfoRequest {
    pub multipart: Option<bool>,
    #[schema(value_type = crate::vocab::Protocol, required = true)]
    pub protocol: Option<String>,
    pub option: Option<UploadOption>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetFileUploadInfoResponse {
    pub protocol: &'static str,
    pub storage_driver: &'static str,
    pub upload_key: String,
    pub header_signature_info: HeaderSignatureInfo,
}

#[derive(Deserialize, ToSchema)]
pub struct InitMultipartFileUploadRequest {
    pub option: Option<UploadOption>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitMultipartFileUploadResponse {
    pub storage_driver: &'static str,
    pub upload_key: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetMultipartFileUploadInfosRequest {
    #[schema(required = true, nullable = false)]
    pub upload_key: Option<String>,
    /// Part numbers 1–10000.
    #[schema(required = true, nullable = false, min_items = 1, max_items = 30)]
    pub part_numbers: Option<Vec<i64>>,
    pub option: Option<PreferIntranetOption>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferIntranetOption {
    pub prefer_intranet: Option<bool>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetMultipartFileUploadInfosResponse {
    pub multipart_header_signature_infos: Vec<MultipartHeaderSignatureInfo>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultipartHeaderSignatureInfo {
    pub part_number: i64,
    pub header_signature_info: HeaderSignatureInfo,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitFileRequest {
    #[schema(required = true, nullable = false)]
    pub upload_key: Option<String>,
    /// Required unless `overwriteDentryId` is given.
    #[schema(example = "hello.txt")]
    pub name: Option<String>,
    /// Required unless `overwriteDentryId` is given; `0` is the root.
    #[schema(example = "0")]
    pub parent_id: Option<String>,
    pub option: Option<CommitFileOption>,
    pub overwrite_dentry_id: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitFileOption {
    /// Must equal the uploaded size.
    #[schema(minimum = 0)]
    pub size: Option<i64>,
    #[schema(value_type = Option<crate::vocab::ConflictStrategy>)]
    pub conflict_strategy: Option<String>,
    pub app_properties: Option<Vec<AppPropertyWire>>,
}

#[derive(Deserialize, ToSchema)]
pub struct GetFileDownloadInfoRequest {
    pub option: Option<DownloadOption>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownloadOption {
    pub version: Option<i64>,
    pub prefer_intranet: Option<bool>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetFileDownloadInfoResponse {
    pub protocol: &'static str,
    pub header_signature_info: HeaderSignatureInfo,
}

// ---- admin API ----------------------------------------------------------------

#[derive(Serialize)]
pub struct Success {
    pub success: bool,
}

#[derive(Deserialize)]
pub struct CreateOrgRequest {
    pub name: String,
    pub capacity: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminOrg {
    pub corp_id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
    pub create_time: String,
}

impl From<OrgRecord> for AdminOrg {
    fn from(o: OrgRecord) -> AdminOrg {
        AdminOrg {
            corp_id: o.corp_id,
            name: o.name,
            capacity: o.capacity,
            create_time: iso8601(o.created_at),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAppRequest {
    pub name: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    pub app_key: Option<String>,
    pub app_secret: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminApp {
    pub app_id: String,
    pub corp_id: String,
    pub name: String,
    pub app_key: String,
    /// Only in the response that created the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    pub scopes: Vec<String>,
    pub create_time: String,
}

impl From<AppRecord> for AdminApp {
    fn from(a: AppRecord) -> AdminApp {
        AdminApp {
            app_id: a.app_id,
            corp_id: a.corp_id,
            name: a.name,
            app_key: a.app_key,
            app_secret: None,
            scopes: a.scopes,
            create_time: iso8601(a.created_at),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUserRequest {
    pub name: String,
    #[serde(default)]
    pub org_admin: bool,
    pub union_id: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminUser {
    pub union_id: String,
    pub user_id: String,
    pub corp_id: String,
    pub name: String,
    pub org_admin: bool,
    pub create_time: String,
}

impl From<UserRecord> for AdminUser {
    fn from(u: UserRecord) -> AdminUser {
        AdminUser {
            union_id: u.union_id,
            user_id: u.user_id,
            corp_id: u.corp_id,
            name: u.name,
            org_admin: u.org_admin,
            create_time: iso8601(u.created_at),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDeptRequest {
    pub name: String,
    pub parent_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminDept {
    pub dept_id: String,
    pub corp_id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    pub create_time: String,
}

impl From<DeptRecord> for AdminDept {
    fn from(d: DeptRecord) -> AdminDept {
        AdminDept {
            dept_id: d.dept_id,
            corp_id: d.corp_id,
            name: d.name,
            parent_id: d.parent_id,
            create_time: iso8601(d.created_at),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddMemberRequest {
    pub union_id: String,
}

/// `{"items": [...]}`: every admin list.
#[derive(Serialize)]
pub struct List<T> {
    pub items: Vec<T>,
}

impl<T> List<T> {
    pub fn of<R>(records: Vec<R>) -> List<T>
    where
        T: From<R>,
    {
        List { items: records.into_iter().map(T::from).collect() }
    }
}
