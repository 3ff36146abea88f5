//! orgdrive's HTTP layer: the DingTalk Storage Open API v1.0 wire format
//! (routes, camelCase JSON, the access-token header and `unionId`, DingTalk
//! error bodies) and the admin API. It translates between the wire and the
//! domain ([`orgdrive_core::Drive`]) and holds no business rules.
//!
//! Modules: `api` (one module per API group, each with its routes), `wire`
//! (one type per wire object), `extract` (request extractors: JSON bodies,
//! the calling operator, the admin token), `error` (the one mapping from
//! domain errors to DingTalk errors, and request ids), `openapi` (the OpenAPI
//! 3.1 document generated from the wire types and handlers, `GET /openapi.json`).

mod api;
mod error;
mod extract;
pub mod openapi;
pub mod wire;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use orgdrive_core::Drive;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

pub use api::blob::{parse_range, RangeSpec};
pub use error::ApiError;
pub use extract::parse_json;

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
        .merge(openapi::routes())
        .nest("/admin/v1", api::admin::routes(state.clone()))
        .fallback(api::unknown_route)
        .method_not_allowed_fallback(api::wrong_method)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY_BYTES))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(axum::middleware::from_fn(error::with_request_id))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Connection limits that keep slow or idle clients from pinning the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a client has to send a request's headers; it also bounds how long
    /// an idle keep-alive connection is kept (the clock starts when the server
    /// waits for the next request).
    pub header_read_timeout: Duration,
    /// Longest pause allowed between two chunks of a request body.
    pub body_idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish. Accepted sockets get `TCP_NODELAY` (a response
/// whose head and body leave in separate writes would otherwise wait ~40 ms
/// for the peer's delayed ACK).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.body_idle_timeout));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // In-flight requests get a grace period; idle connections close at once.
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running after 30 s; stopping anyway");
    }
    Ok(())
}
