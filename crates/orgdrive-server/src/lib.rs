//! orgdrive's HTTP layer: the DingTalk Storage Open API v1.0 wire format
//! (routes, camelCase JSON, the access-token header and `unionId`, DingTalk
//! error bodies) and the admin API. It translates between the wire and the
//! domain ([`orgdrive_core::Drive`]) and holds no business rules.
//!
//! Modules: `api` (one module per API group, each with its routes), `wire`
//! (one type per wire object, and what the document shows of queries, shared
//! errors and string values), `extract` (request extractors: JSON bodies,
//! the calling operator, the admin token), `error` (the one mapping from
//! domain errors to DingTalk errors, and request ids), `openapi` (the OpenAPI
//! 3.1 document generated from the wire types and handlers, `GET /openapi.json`),
//! `transport` (the accept loop, connection caps, timeouts, minimum transfer
//! rates).

mod api;
mod error;
mod extract;
mod openapi;
mod transport;
pub mod wire;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use orgdrive_core::Drive;
use sha2::{Digest, Sha256};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use api::blob::{parse_range, RangeSpec};
pub use error::ApiError;
pub use extract::parse_json;
pub use transport::{serve, Limits};

/// Largest JSON request body accepted by API routes.
pub const MAX_JSON_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct ServerState {
    pub drive: Drive,
    admin_token_sha256: Arc<[u8; 32]>,
    /// Base of signed blob URLs (`http://host:port`); `None` = from the request's Host.
    public_url: Option<String>,
    /// Request deadlines and transfer rates (the connection-level ones are
    /// applied by [`serve`]).
    limits: Limits,
    /// Whether [`router`] serves the admin API too (else only [`admin_router`] does).
    admin_on_api_listener: bool,
}

impl ServerState {
    pub fn new(drive: Drive, admin_token: &str) -> ServerState {
        ServerState {
            drive,
            admin_token_sha256: Arc::new(Sha256::digest(admin_token).into()),
            public_url: None,
            limits: Limits::default(),
            admin_on_api_listener: true,
        }
    }

    /// Request deadlines and transfer rates to enforce.
    pub fn with_limits(mut self, limits: Limits) -> ServerState {
        self.limits = limits;
        self
    }

    /// Leaves the admin API off the API listener (it is served by
    /// [`admin_router`] on its own address).
    pub fn with_separate_admin_listener(mut self) -> ServerState {
        self.admin_on_api_listener = false;
        self
    }

    /// Makes signed blob URLs start with `url` (e.g. `https://drive.example.com`).
    pub fn with_public_url(mut self, url: Option<String>) -> ServerState {
        self.public_url = url.map(|u| u.trim_end_matches('/').to_string());
        self
    }
}

/// The HTTP application: the storage API, the blob routes and, unless it
/// has its own listener, the admin API.
pub fn router(state: ServerState) -> Router {
    let mut api = openapi::serve_document(api::documented()).merge(api::blob::routes());
    if state.admin_on_api_listener {
        api = api.nest("/admin/v1", api::admin::routes(state.clone()));
    }
    with_common_layers(api, state)
}

/// The admin API alone, for its own listener (`--admin-listen`).
pub fn admin_router(state: ServerState) -> Router {
    with_common_layers(Router::new().nest("/admin/v1", api::admin::routes(state.clone())), state)
}

fn with_common_layers(routes: Router<ServerState>, state: ServerState) -> Router {
    routes
        .fallback(api::unknown_route)
        .method_not_allowed_fallback(api::wrong_method)
        .layer(axum::middleware::from_fn_with_state(state.clone(), transport::request_deadline))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY_BYTES))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(axum::middleware::from_fn(error::with_request_id))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
