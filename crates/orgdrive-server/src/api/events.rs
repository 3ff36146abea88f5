//! Events: SubscribeEvent and UnsubscribeEvent, and the Stream-mode gateway
//! the `dingtalk-stream` SDKs connect to — `POST
//! /v1.0/gateway/connections/open` (documented: app credentials for a
//! one-use ticket) and the WebSocket it points to (`gateway_routes`, plain:
//! no OpenAPI for an upgrade).

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use utoipa_axum::router::OpenApiRouter;

use crate::delivery::stream::run_session;
use crate::error::ApiError;
use crate::extract::{scope, BaseUrl, Caller, QueryParams, WireJson};
use crate::metrics::Operations;
use crate::state::ServerState;
use crate::wire::{
    ErrorBody, EventScopeRequest, OpenConnectionRequest, OpenConnectionResponse, StorageErrors,
    SuccessResponse, UnionIdQuery,
};

/// Where the WebSocket is served.
const STREAM_PATH: &str = "/v1.0/gateway/connections/stream";
/// Largest frame a Stream client may send (acknowledgements are small).
const MAX_CLIENT_FRAME: usize = 64 * 1024;

pub fn routes() -> OpenApiRouter<ServerState> {
    OpenApiRouter::default()
        .routes(utoipa_axum::routes!(subscribe_event))
        .routes(utoipa_axum::routes!(unsubscribe_event))
        .routes(utoipa_axum::routes!(open_connection))
}

/// The WebSocket of Stream mode.
pub fn gateway_routes(operations: &mut Operations) -> Router<ServerState> {
    operations.add(STREAM_PATH, Some(Method::GET), "StreamConnection");
    Router::new().route(STREAM_PATH, get(stream))
}

#[utoipa::path(
    post,
    path = "/v1.0/storage/events/subscribe",
    operation_id = "SubscribeEvent",
    tag = "events",
    params(UnionIdQuery),
    request_body = EventScopeRequest,
    responses(
        (status = 200, description = "Subscribed (also when it already was)", body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn subscribe_event(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::EventWrite>,
    WireJson(body): WireJson<EventScopeRequest>,
) -> Result<Json<SuccessResponse>, ApiError> {
    state.drive.subscribe_event(&op, body.scope.as_deref(), body.scope_id.as_deref()).await?;
    Ok(Json(SuccessResponse::OK))
}

#[utoipa::path(
    post,
    path = "/v1.0/storage/events/unsubscribe",
    operation_id = "UnsubscribeEvent",
    tag = "events",
    params(UnionIdQuery),
    request_body = EventScopeRequest,
    responses(
        (status = 200, description = "Unsubscribed (also when it was not subscribed)",
            body = SuccessResponse),
        StorageErrors,
    ),
    security(("accessToken" = [])),
)]
async fn unsubscribe_event(
    State(state): State<ServerState>,
    Caller(op, _): Caller<scope::EventWrite>,
    WireJson(body): WireJson<EventScopeRequest>,
) -> Result<Json<SuccessResponse>, ApiError> {
    state.drive.unsubscribe_event(&op, body.scope.as_deref(), body.scope_id.as_deref()).await?;
    Ok(Json(SuccessResponse::OK))
}

/// Stream mode, step 1: the app's key and secret for a WebSocket endpoint
/// and a ticket good for one connection within 5 minutes.
#[utoipa::path(
    post,
    path = "/v1.0/gateway/connections/open",
    operation_id = "OpenStreamConnection",
    tag = "events",
    request_body = OpenConnectionRequest,
    responses(
        (status = 200, description = "Where to connect", body = OpenConnectionResponse),
        (status = 400, description = "`paramError.clientId` / `paramError.clientSecret` \
            (missing) or `InvalidAuthentication` (bad credentials)", body = ErrorBody),
    ),
)]
async fn open_connection(
    State(state): State<ServerState>,
    BaseUrl(base): BaseUrl,
    WireJson(body): WireJson<OpenConnectionRequest>,
) -> Result<Json<OpenConnectionResponse>, ApiError> {
    let client_id =
        body.client_id.ok_or_else(|| ApiError::param(Some("clientId"), "clientId is required"))?;
    let client_secret = body
        .client_secret
        .ok_or_else(|| ApiError::param(Some("clientSecret"), "clientSecret is required"))?;
    let events = body.subscriptions.iter().any(|s| s.kind.as_deref() == Some("EVENT"));
    let ticket = state.drive.open_stream(&client_id, &client_secret, events).await?;
    let endpoint = match base.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}{STREAM_PATH}"),
        Some((_, rest)) => format!("ws://{rest}{STREAM_PATH}"),
        None => format!("ws://{base}{STREAM_PATH}"),
    };
    Ok(Json(OpenConnectionResponse { endpoint, ticket }))
}

/// Stream mode, step 2: the WebSocket, opened with the ticket.
async fn stream(
    State(state): State<ServerState>,
    query: QueryParams,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ticket = query.text("ticket").unwrap_or_default();
    let app = state.drive.check_stream_ticket(&ticket).await?;
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::new(StatusCode::BAD_REQUEST, "paramError.upgrade", rejection.body_text())
    })?;
    let Some(slot) = state.hub.reserve_stream(&app.app.app_id) else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "tooManyConnections",
            "the app has too many Stream connections open",
        ));
    };
    // Used once: recorded in the database, so on every node and across restarts.
    state.drive.redeem_stream_ticket(&app).await?;
    let takes_events = app.takes_events;
    let secret_of = app.app.modified_at;
    let hub = Arc::clone(&state.hub);
    let app_id = app.app.app_id;
    Ok(upgrade.max_message_size(MAX_CLIENT_FRAME).max_frame_size(MAX_CLIENT_FRAME).on_upgrade(
        move |socket| async move {
            let _slot = slot;
            let (on, off) = (Arc::clone(&hub), hub);
            let app = app_id.clone();
            run_session(
                socket,
                takes_events,
                secret_of,
                move |connection| on.register(&app, connection),
                move |connection_id| off.unregister(&app_id, connection_id),
            )
            .await;
        },
    ))
}
