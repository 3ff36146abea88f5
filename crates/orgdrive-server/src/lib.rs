//! orgdrive's HTTP layer: the DingTalk Storage Open API v1.0 wire format
//! (routes, camelCase JSON, the access-token header and `unionId`, DingTalk
//! error bodies) and the admin API. It translates between the wire and the
//! domain ([`orgdrive_core::Drive`]) and holds no business rules.
//!
//! This root only assembles: [`router`] and [`admin_router`] put the routes
//! together under the common layers, and the crate's public names are
//! re-exported here. Modules, each using only ones listed after it: `api` (one
//! module per API group, each with its routes; the documented ones registered
//! with their OpenAPI descriptions), `openapi` (the OpenAPI 3.1 document
//! derived from those routes, `GET /openapi.json`), `extract` (request
//! extractors: JSON bodies, the calling operator, the admin token), `state`
//! (what every handler can reach), `frame` (what wraps every request: its id,
//! log span, panic catcher and body deadline, as one service), `error` (the
//! one mapping from domain errors to DingTalk errors, and request ids), `wire` (one type per wire object, and
//! what the document shows of queries, shared errors and string values; it
//! depends on nothing else of the crate), `transport` (the accept loop,
//! connection caps, timeouts, body cap, minimum transfer rates).

mod api;
mod delivery;
mod error;
mod extract;
mod frame;
mod openapi;
mod state;
mod transport;
pub mod wire;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tower_layer::Layer;

pub use api::blob::{parse_range, RangeSpec};
pub use error::ApiError;
pub use extract::parse_json;
pub use state::ServerState;
pub use transport::{serve, Limits};

use transport::MAX_JSON_BODY_BYTES;

/// The HTTP application: the storage API, the blob routes and, unless it
/// has its own listener, the admin API.
pub fn router(state: ServerState) -> Router {
    let mut api = openapi::serve_document(api::documented())
        .merge(api::blob::routes())
        .merge(api::events::gateway_routes())
        .merge(api::preview::routes())
        .merge(api::wopi::routes());
    if state.admin_on_api_listener {
        api = api.nest("/admin/v1", api::admin::routes(state.clone()));
    }
    with_common_layers(api, state)
}

/// The admin API alone, for its own listener (`--admin-listen`).
pub fn admin_router(state: ServerState) -> Router {
    with_common_layers(Router::new().nest("/admin/v1", api::admin::routes(state.clone())), state)
}

/// The routes inside the frame every request passes ([`frame`]) and the
/// JSON body cap. Both wrap the routed router once, not each route
/// (`Router::layer` would box one more service and future per request for
/// each layer).
fn with_common_layers(routes: Router<ServerState>, state: ServerState) -> Router {
    let frame = frame::FrameLayer { request_timeout: state.limits.request_timeout };
    let routed = routes
        .fallback(api::unknown_route)
        .method_not_allowed_fallback(api::wrong_method)
        .with_state(state);
    Router::new()
        .fallback_service(frame.layer(DefaultBodyLimit::max(MAX_JSON_BODY_BYTES).layer(routed)))
}
