//! orgdrive's HTTP layer: the DingTalk Storage Open API v1.0 wire format
//! (routes, camelCase JSON, the access-token header and `unionId`, DingTalk
//! error bodies) and the admin API. It translates between the wire and the
//! domain ([`orgdrive_core::Drive`]) and holds no business rules.
//!
//! Modules: `api` (one module per API group, each with its routes), `wire`
//! (one type per wire object), `extract` (request extractors: JSON bodies,
//! the calling operator, the admin token), `error` (the one mapping from
//! domain errors to DingTalk errors, and request ids).

mod api;
mod error;
mod extract;
pub mod wire;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::serve::ListenerExt;
use axum::Router;
use orgdrive_core::Drive;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

/// Largest JSON request body accepted by API routes.
pub const MAX_JSON_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct ServerState {
    pub drive: Drive,
    admin_token_sha256: Arc<[u8; 32]>,
    /// Base of signed blob URLs (`http://host:port`); `None` = from the request's Host.
    public_url: Option<String>,
}

impl ServerState {
    pub fn new(drive: Drive, admin_token: &str) -> ServerState {
        ServerState {
            drive,
            admin_token_sha256: Arc::new(Sha256::digest(admin_token).into()),
            public_url: None,
        }
    }

    /// Makes signed blob URLs start with `url` (e.g. `https://drive.example.com`).
    pub fn with_public_url(mut self, url: Option<String>) -> ServerState {
        self.public_url = url.map(|u| u.trim_end_matches('/').to_string());
        self
    }
}

/// The whole HTTP application.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .merge(api::oauth2::routes())
        .merge(api::spaces::routes())
        .merge(api::orgs::routes())
        .merge(api::dentries::routes())
        .merge(api::transfer::routes())
        .merge(api::blob::routes())
        .nest("/admin/v1", api::admin::routes(state.clone()))
        .fallback(api::unknown_route)
        .method_not_allowed_fallback(api::wrong_method)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY_BYTES))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(axum::middleware::from_fn(error::with_request_id))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves `router` on `listener` (with `TCP_NODELAY`) until `shutdown` resolves,
/// then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}
