//! The admin API (`/admin/v1`): organizations, apps, users, departments and
//! members, and the `{"items": [...]}` of every list. Not in the OpenAPI
//! document, so these types derive no schema.

use orgdrive_core::{iso8601, AppRecord, DeptRecord, OrgRecord, UserRecord};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
pub struct Success {
    pub success: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrgRequest {
    /// A chosen corpId (fixed credentials for tests); generated when absent.
    pub corp_id: Option<String>,
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

/// `PUT /orgs/{corpId}/users/{unionId}/password`: the user's console password.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetPasswordRequest {
    pub password: String,
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
    /// A chosen deptId; generated when absent.
    pub dept_id: Option<String>,
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

/// `POST /admin/v1/clock/advance`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvanceClockRequest {
    /// Seconds to move the clock forward (0 to ten years).
    pub seconds: i64,
}

/// The server's clock.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Clock {
    /// The time the server goes by, ISO 8601.
    pub now: String,
    pub now_ms: i64,
    /// How far it has been moved forward, in seconds.
    pub offset_seconds: i64,
}

impl Clock {
    pub fn now() -> Clock {
        let now_ms = orgdrive_core::now_ms();
        Clock {
            now: orgdrive_core::iso8601(now_ms),
            now_ms,
            offset_seconds: orgdrive_core::clock_offset_ms() / 1000,
        }
    }
}

/// What a reset made again, and how long it took.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetReport {
    pub orgs: usize,
    pub apps: usize,
    pub users: usize,
    pub depts: usize,
    pub spaces: usize,
    pub files: usize,
    pub took_ms: u64,
}

impl ResetReport {
    pub fn new(made: orgdrive_core::SeedReport, took: std::time::Duration) -> ResetReport {
        ResetReport {
            orgs: made.orgs,
            apps: made.apps,
            users: made.users,
            depts: made.depts,
            spaces: made.spaces,
            files: made.files,
            took_ms: took.as_millis() as u64,
        }
    }
}

/// What a fault does (`/admin/v1/faults`, see `faults.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    Error,
    Delay,
    Drop,
    Truncate,
}

/// A fault as the admin API arms it (`POST /admin/v1/faults`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRequest {
    pub kind: FaultKind,
    pub operation: Option<String>,
    pub path: Option<String>,
    pub app_key: Option<String>,
    /// `error`: the DingTalk error code answered.
    pub code: Option<String>,
    /// `error`: the HTTP status (a known code's own by default).
    pub status: Option<u16>,
    /// `delay`: milliseconds added before the operation runs.
    pub delay_ms: Option<u64>,
    /// `truncate`: bytes of the body sent before the connection closes.
    pub bytes: Option<u64>,
    /// Fires on the next `count` matching requests; on all when absent.
    pub count: Option<u64>,
    /// Chance (0 < p <= 1) that a matching request is faulted; 1 by default.
    pub probability: Option<f64>,
}

/// An armed fault as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultView {
    pub id: String,
    pub kind: FaultKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Firings left; absent: unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    pub probability: f64,
    /// Requests it fired on so far.
    pub fired: u64,
}

/// One request of the journal (`GET /admin/v1/journal`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntryView {
    pub seq: u64,
    /// When the request arrived: ISO 8601, and Unix milliseconds.
    pub at: String,
    pub at_ms: i64,
    pub request_id: String,
    pub method: String,
    pub operation: &'static str,
    pub path: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub latency_ms: f64,
    /// The app of the request's access token, while that token is live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub union_id: Option<String>,
    /// The request's JSON body, secrets redacted (`--journal-bodies`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

impl JournalEntryView {
    pub fn new(entry: crate::journal::Entry, app_key: Option<String>) -> JournalEntryView {
        JournalEntryView {
            seq: entry.seq,
            at: iso8601(entry.at_ms),
            at_ms: entry.at_ms,
            request_id: entry.request_id,
            method: entry.method,
            operation: entry.operation,
            path: entry.path,
            status: entry.status,
            code: entry.code,
            latency_ms: entry.latency_us as f64 / 1000.0,
            app_key,
            union_id: entry.union_id,
            body: entry.body,
        }
    }
}
