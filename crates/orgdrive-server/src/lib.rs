//! orgdrive's HTTP layer: the DingTalk Storage Open API v1.0 wire format
//! (routes, camelCase JSON, the access-token header and `unionId`, DingTalk
//! error bodies) and the admin API. It translates between the wire and the
//! domain ([`orgdrive_core::Drive`]) and holds no business rules.
//!
//! The web console (`console`, at `/console`) is served by the API's
//! listener and calls the same domain operations as the API.
//!
//! This root only assembles: [`router`] and [`admin_router`] put the routes
//! together under the common layers, and the crate's public names are
//! re-exported here. Modules, each using only ones listed after it: `api` (one
//! module per API group, each with its routes; the documented ones registered
//! with their OpenAPI descriptions; `health` serves `/metrics`, `/healthz`
//! and `/readyz`), `openapi` (the OpenAPI 3.1 document derived from those
//! routes, `GET /openapi.json`), `extract` (request
//! extractors: JSON bodies, the calling operator, the admin token), `state`
//! (what every handler can reach), `frame` (what wraps every request: its id,
//! log span, metrics, panic catcher and body deadline, as one service),
//! `metrics` (request and transfer figures, operation names), `error` (the
//! one mapping from domain errors to DingTalk errors, and request ids), `wire` (one type per wire object, and
//! what the document shows of queries, shared errors and string values; it
//! depends on nothing else of the crate), `transport` (the accept loop,
//! connection caps, timeouts, body cap, minimum transfer rates).

mod api;
mod console;
mod dav;
mod delivery;
mod error;
mod extract;
mod faults;
mod frame;
mod journal;
mod metrics;
mod openapi;
mod sign_ins;
mod state;
mod transport;
pub mod wire;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tower_layer::Layer;

pub use api::blob::{parse_range, RangeSpec};
pub use error::{current_request_id, ApiError};
pub use extract::parse_json;
pub use journal::MAX_JOURNAL;
pub use state::ServerState;
pub use transport::{serve, Limits};

use metrics::Operations;
use transport::MAX_JSON_BODY_BYTES;

/// The HTTP application: the storage API, the blob routes, the health
/// probes, the console and, unless it has its own listener, the admin API and `/metrics`.
pub fn router(state: ServerState) -> Router {
    let mut operations = Operations::new(Arc::clone(&state.metrics));
    let mut api = openapi::serve_document(api::documented(), &mut operations)
        .merge(api::blob::routes(&mut operations))
        .merge(api::events::gateway_routes(&mut operations))
        .merge(api::preview::routes(&mut operations))
        .merge(api::wopi::routes(&mut operations))
        .merge(dav::routes(&mut operations))
        .merge(api::health::probes(&mut operations))
        .merge(console::routes(
            &mut operations,
            console::Listener::Api { operators: state.admin_on_api_listener },
        ));
    if state.admin_on_api_listener {
        api = api
            .nest("/admin/v1", api::admin::routes(state.clone()))
            .merge(api::health::scrape(&mut operations));
        operations.add("/admin/v1/{*rest}", None, "Admin");
    }
    with_common_layers(api, state, operations)
}

/// The admin API, `/metrics`, the health probes and the console with its
/// operators' pages, for the admin API's own listener (`--admin-listen`).
pub fn admin_router(state: ServerState) -> Router {
    let mut operations = Operations::new(Arc::clone(&state.metrics));
    let routes = Router::new()
        .nest("/admin/v1", api::admin::routes(state.clone()))
        .merge(api::health::scrape(&mut operations))
        .merge(api::health::probes(&mut operations))
        .merge(console::routes(&mut operations, console::Listener::Admin));
    operations.add("/admin/v1/{*rest}", None, "Admin");
    with_common_layers(routes, state, operations)
}

/// The routes inside the frame every request passes ([`frame`]; it names
/// each request's operation with `operations` for the metrics) and the
/// JSON body cap. Both wrap the routed router once, not each route
/// (`Router::layer` would box one more service and future per request for
/// each layer).
fn with_common_layers(
    routes: Router<ServerState>,
    state: ServerState,
    operations: Operations,
) -> Router {
    let frame = frame::FrameLayer {
        request_timeout: state.limits.request_timeout,
        operations: Arc::new(operations),
        faults: Arc::clone(&state.faults),
        journal: Arc::clone(&state.journal),
        drive: state.drive.clone(),
    };
    let routed = routes
        .fallback(api::unknown_route)
        .method_not_allowed_fallback(api::wrong_method)
        .with_state(state);
    Router::new()
        .fallback_service(frame.layer(DefaultBodyLimit::max(MAX_JSON_BODY_BYTES).layer(routed)))
}
