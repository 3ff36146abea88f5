//! Permissions: the requests of AddPermission, UpdatePermission and
//! DeletePermission, ListPermissions' request and page of grants (reference
//! §3.6), and BatchQueryRoles' `roleMap`.

use std::collections::BTreeMap;

use orgdrive_core::{iso8601, GrantInput, GrantRecord, MemberInput, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::vocab::{MemberType, RoleId};

/// A grantee.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionMember {
    /// `USER` (a unionId or userId), `DEPT` (a deptId; its sub-departments'
    /// members too) or `ORG` (the corpId: everyone in the org).
    #[serde(rename = "type")]
    #[schema(value_type = MemberType, required = true, nullable = false)]
    pub member_type: Option<String>,
    #[schema(required = true, nullable = false)]
    pub id: Option<String>,
    /// The space's org; required for `DEPT` members (`null` = none given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corp_id: Option<String>,
}

impl From<PermissionMember> for MemberInput {
    fn from(m: PermissionMember) -> MemberInput {
        MemberInput { member_type: m.member_type, id: m.id, corp_id: m.corp_id }
    }
}

/// `option` of AddPermission and UpdatePermission.
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionOption {
    /// Seconds the grant lasts, 1 to 3600: required in an APP space (only
    /// temporary grants), refused in a USER space (only permanent grants);
    /// `null` = none given.
    pub duration: Option<i64>,
}

/// The body of AddPermission and UpdatePermission.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantPermissionRequest {
    /// 1 to 30 grantees.
    #[schema(required = true, nullable = false)]
    pub members: Option<Vec<PermissionMember>>,
    #[schema(value_type = RoleId, required = true, nullable = false)]
    pub role_id: Option<String>,
    pub option: Option<PermissionOption>,
}

impl From<GrantPermissionRequest> for GrantInput {
    fn from(r: GrantPermissionRequest) -> GrantInput {
        GrantInput {
            members: r.members.unwrap_or_default().into_iter().map(Into::into).collect(),
            role_id: r.role_id,
            duration: r.option.and_then(|o| o.duration),
        }
    }
}

/// The body of DeletePermission.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletePermissionRequest {
    /// 1 to 30 grantees.
    #[schema(required = true, nullable = false)]
    pub members: Option<Vec<PermissionMember>>,
    /// The role of the grants to remove.
    #[schema(value_type = RoleId, required = true, nullable = false)]
    pub role_id: Option<String>,
}

impl From<DeletePermissionRequest> for GrantInput {
    fn from(r: DeletePermissionRequest) -> GrantInput {
        GrantInput {
            members: r.members.unwrap_or_default().into_iter().map(Into::into).collect(),
            role_id: r.role_id,
            duration: None,
        }
    }
}

/// `option` of ListPermissions.
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListPermissionsOption {
    /// Only grants of these roles (at most 30); `null` = any.
    #[schema(value_type = Option<Vec<RoleId>>)]
    pub filter_role_ids: Option<Vec<String>>,
    /// Page size: default 50 (also for `null`), at most 500.
    #[schema(minimum = 1)]
    pub max_results: Option<i64>,
    /// The `nextToken` of the previous page; `null` or empty = the first page.
    pub next_token: Option<String>,
}

/// The body of ListPermissions.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListPermissionsRequest {
    pub option: Option<ListPermissionsOption>,
}

/// `role` of a grant, and an entry of BatchQueryRoles' `roleMap`.
#[derive(Serialize, ToSchema)]
pub struct PermissionRole {
    #[schema(value_type = RoleId)]
    pub id: &'static str,
    /// The role's name (the same as its id).
    pub name: &'static str,
}

impl From<Role> for PermissionRole {
    fn from(role: Role) -> PermissionRole {
        PermissionRole { id: role.as_str(), name: role.as_str() }
    }
}

/// A grant on a dentry (reference §3.6).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    pub space_id: String,
    pub dentry_id: String,
    pub role: PermissionRole,
    pub member: PermissionMember,
    /// Seconds a temporary grant lasts from its last write; absent for a
    /// permanent grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    pub create_time: String,
    pub modified_time: String,
    /// unionId of who last wrote the grant.
    pub operator_id: String,
}

impl From<GrantRecord> for Permission {
    fn from(g: GrantRecord) -> Permission {
        let role = Role::parse(&g.role).unwrap_or(Role::Reader);
        Permission {
            space_id: g.space_id,
            dentry_id: g.dentry_id,
            role: role.into(),
            member: PermissionMember {
                member_type: Some(g.member_type),
                id: Some(g.member_id),
                corp_id: Some(g.member_corp_id),
            },
            duration: g.duration_secs,
            create_time: iso8601(g.created_at),
            modified_time: iso8601(g.modified_at),
            operator_id: g.operator_id,
        }
    }
}

/// The answer of ListPermissions.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionPage {
    pub permissions: Vec<Permission>,
    /// Present when more grants follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// The query of BatchQueryRoles (documentation only).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct BatchQueryRolesQuery {
    /// The user the app acts for.
    pub union_id: String,
    /// A JSON array of 1 to 30 dentry ids, as one value: `["1","2"]`.
    #[param(example = json!("[\"0\"]"))]
    pub dentry_id_list: String,
}

/// The answer of BatchQueryRoles: each requested id's roles held by the
/// operator (its effective role; empty when none or not a live dentry).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleMapResponse {
    pub role_map: BTreeMap<String, Vec<PermissionRole>>,
}
