//! What operators scrape and probe: `GET /metrics` (the figures of
//! [`crate::metrics`] in Prometheus' exposition format, OpenMetrics text;
//! the metrics token or the admin token as a bearer token), `GET /healthz`
//! (the process answers)
//! and `GET /readyz` (it can serve: its stores answer).

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::extract::MetricsAuth;
use crate::metrics::Operations;
use crate::state::{Readiness, ServerState};

/// `/healthz` and `/readyz` (on every listener: load balancers probe the
/// API's), and their operation names.
pub fn probes(operations: &mut Operations) -> Router<ServerState> {
    operations.add("/healthz", Some(Method::GET), "Healthz");
    operations.add("/readyz", Some(Method::GET), "Readyz");
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// `/metrics` (on the listener of the admin API; the admin token or the
/// metrics token), and its operation name.
pub fn scrape(operations: &mut Operations) -> Router<ServerState> {
    operations.add("/metrics", Some(Method::GET), "Metrics");
    Router::new().route("/metrics", get(metrics))
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn metrics(_: MetricsAuth, State(state): State<ServerState>) -> Response {
    let gauges = match tokio::time::timeout(READY_TIMEOUT, state.drive.store_gauges()).await {
        Ok(Ok(gauges)) => Some(gauges),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "store gauges unavailable");
            None
        }
        Err(_) => None,
    };
    ([(CONTENT_TYPE, OPENMETRICS)], state.metrics.render(gauges)).into_response()
}

/// The process is up and its listener answers.
async fn healthz() -> Response {
    axum::Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// How long readiness (and a scrape) waits for the stores.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a readiness check's answer is reused.
const READY_REUSE: Duration = Duration::from_secs(1);

/// The node can serve: its metadata store and content store answer (503
/// `serviceUnavailable` if not). One check at a time, its answer reused for
/// a second: probes need no credentials, and each check may cost a request
/// to an object store.
async fn readyz(State(state): State<ServerState>) -> Result<Response, ApiError> {
    let mut last = state.readiness.lock().await;
    let reused = last.filter(|(at, _)| at.elapsed() < READY_REUSE).map(|(_, found)| found);
    let found = match reused {
        Some(found) => found,
        None => {
            let found = match tokio::time::timeout(READY_TIMEOUT, state.drive.ready()).await {
                Ok(Ok(())) => Readiness::Ready,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "not ready");
                    Readiness::NotReady("a store did not answer")
                }
                Err(_) => Readiness::NotReady("the stores did not answer in time"),
            };
            *last = Some((Instant::now(), found));
            found
        }
    };
    drop(last);
    match found {
        Readiness::Ready => {
            Ok(axum::Json(serde_json::json!({ "status": "ready" })).into_response())
        }
        Readiness::NotReady(why) => {
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "serviceUnavailable", why))
        }
    }
}
