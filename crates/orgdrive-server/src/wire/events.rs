//! Events: SubscribeEvent's and UnsubscribeEvent's body, the event payload
//! orgdrive delivers (its own: DingTalk does not publish storage events'
//! payloads), the Stream-mode gateway's request, answer and frames, and the
//! admin plane's callback setting.

use orgdrive_core::{CallbackRecord, EventRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of SubscribeEvent and UnsubscribeEvent.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventScopeRequest {
    /// `ORG` (every space of the org that belongs to the calling app) or
    /// `SPACE` (one space the operator may read).
    #[schema(required = true, nullable = false)]
    pub scope: Option<String>,
    /// The corpId for `ORG`, the spaceId for `SPACE`.
    #[schema(required = true, nullable = false)]
    pub scope_id: Option<String>,
}

/// One event as receivers get it: the `data` of a Stream-mode `EVENT`
/// frame, and (with `EventType`) the plaintext of an HTTP callback. Fields a
/// type does not have are omitted.
#[derive(Serialize, Deserialize, Debug, PartialEq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPayload {
    /// Unique per event: receivers de-duplicate by it (delivery is at least once).
    pub event_id: String,
    pub event_type: String,
    /// When the change was committed (epoch ms).
    pub event_time: i64,
    pub corp_id: String,
    /// The app the space belongs to.
    pub app_id: String,
    pub space_id: String,
    /// `0` for a permission on the space root.
    pub dentry_id: String,
    /// unionId of the user who made the change.
    pub operator_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `FILE` or `FOLDER`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub dentry_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_space_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_space_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_dentry_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recycle_item_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// The member's role now; absent when the grant was removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_id: Option<String>,
}

impl From<&EventRecord> for EventPayload {
    fn from(e: &EventRecord) -> EventPayload {
        EventPayload {
            event_id: e.event_id.clone(),
            event_type: e.event_type.as_str().to_owned(),
            event_time: e.at_ms,
            corp_id: e.corp_id.clone(),
            app_id: e.app_id.clone(),
            space_id: e.space_id.clone(),
            dentry_id: e.dentry_id.clone(),
            operator_id: e.operator_id.clone(),
            parent_id: e.parent_id.clone(),
            name: e.name.clone(),
            dentry_type: e.dentry_type.clone(),
            size: e.size,
            version: e.version,
            previous_space_id: e.previous_space_id.clone(),
            previous_parent_id: e.previous_parent_id.clone(),
            previous_name: e.previous_name.clone(),
            source_space_id: e.source_space_id.clone(),
            source_dentry_id: e.source_dentry_id.clone(),
            recycle_item_id: e.recycle_item_id.clone(),
            member_type: e.member_type.clone(),
            member_id: e.member_id.clone(),
            role_id: e.role.clone(),
        }
    }
}

/// The plaintext of an HTTP callback push: the payload with DingTalk's
/// top-level `EventType` (`check_url` when a callback is registered).
#[derive(Serialize)]
pub struct CallbackMessage<'a> {
    #[serde(rename = "EventType")]
    pub callback_event_type: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub payload: Option<&'a EventPayload>,
}

/// What a receiver answers an HTTP callback push with.
#[derive(Deserialize)]
pub struct CallbackAnswer {
    pub msg_signature: Option<String>,
    #[serde(rename = "timeStamp")]
    pub time_stamp: Option<String>,
    pub nonce: Option<String>,
    pub encrypt: Option<String>,
}

/// `POST /v1.0/gateway/connections/open`, as the `dingtalk-stream` SDKs send it.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenConnectionRequest {
    /// The app's appKey.
    #[schema(required = true, nullable = false)]
    pub client_id: Option<String>,
    /// The app's appSecret.
    #[schema(required = true, nullable = false)]
    pub client_secret: Option<String>,
    /// `{"type": "EVENT", "topic": "*"}` to receive events; `CALLBACK`
    /// topics are accepted and get nothing (orgdrive sends no callbacks).
    #[serde(default)]
    pub subscriptions: Vec<StreamSubscription>,
    pub ua: Option<String>,
    pub local_ip: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct StreamSubscription {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub topic: Option<String>,
}

/// The gateway's answer: where to open the WebSocket, and its one-use ticket.
#[derive(Serialize, ToSchema)]
pub struct OpenConnectionResponse {
    pub endpoint: String,
    pub ticket: String,
}

/// A frame the gateway sends (`EVENT`, `SYSTEM`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamFrame<'a> {
    pub spec_version: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub headers: StreamHeaders<'a>,
    /// JSON text.
    pub data: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamHeaders<'a> {
    pub app_id: &'a str,
    pub connection_id: &'a str,
    pub content_type: &'static str,
    pub message_id: &'a str,
    /// Epoch ms, as text.
    pub time: String,
    pub topic: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_born_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_corp_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_unified_app_id: Option<&'a str>,
}

/// A client's acknowledgement of a frame (`code` 200 = processed).
#[derive(Deserialize)]
pub struct StreamAck {
    pub code: Option<i64>,
    pub headers: Option<StreamAckHeaders>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamAckHeaders {
    pub message_id: Option<String>,
}

/// The admin plane's body for an app's HTTP callback.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventCallbackRequest {
    /// `http://` URL DingTalk-format encrypted pushes are POSTed to.
    #[schema(required = true, nullable = false)]
    pub url: Option<String>,
    /// Signs every push (1 to 128 printable characters).
    #[schema(required = true, nullable = false)]
    pub token: Option<String>,
    /// 43 characters of base64: the AES-256 key without its `=`.
    #[schema(required = true, nullable = false)]
    pub aes_key: Option<String>,
}

/// An app's HTTP callback as the admin plane shows it (the secrets never).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventCallbackView {
    pub app_id: String,
    pub url: String,
    pub created_at: i64,
}

impl From<&CallbackRecord> for EventCallbackView {
    fn from(c: &CallbackRecord) -> EventCallbackView {
        EventCallbackView { app_id: c.app_id.clone(), url: c.url.clone(), created_at: c.created_at }
    }
}
