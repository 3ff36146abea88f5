//! The frame around every request, as one tower service: the request id
//! (`x-acs-request-id`, and `requestid` in error bodies and log lines), the
//! request's log span, its metrics (operation, status, latency), the panic
//! catcher (500 `systemError`), the JSON body deadline
//! ([`crate::transport::time_body`]), an error line for every 5xx,
//! `Retry-After` on every 503, and the faults armed for emulation ([`crate::faults`]; one atomic load per
//! request while none is).
//!
//! One service with one boxed future per request: as five layers (two of
//! them `from_fn` middlewares, each boxing a future and cloning the router)
//! the frame cost a third of a cached read's CPU (bench/RESULTS.md).

use std::convert::Infallible;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;
use futures::FutureExt;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;

use orgdrive_core::Drive;

use crate::error::{self, REQUEST_ID_HEADER};
use crate::extract::ACCESS_TOKEN_HEADER;
use crate::faults::{self, Faults, Injected};
use crate::journal::{self, ErrorCode, Journal};
use crate::metrics::{Operations, PREVIEW_OPERATION, UNKNOWN_OPERATION};
use crate::transport;

/// Wraps a router in [`Frame`].
#[derive(Clone)]
pub struct FrameLayer {
    /// How long a JSON request's body may take to arrive.
    pub request_timeout: Duration,
    /// The operations of the router's routes, and their figures.
    pub operations: Arc<Operations>,
    /// Faults armed for emulation.
    pub faults: Arc<Faults>,
    /// The last requests answered.
    pub journal: Arc<Journal>,
    /// Resolves a request's app, for faults armed for one app.
    pub drive: Drive,
}

impl<S> Layer<S> for FrameLayer {
    type Service = Frame<S>;

    fn layer(&self, inner: S) -> Frame<S> {
        Frame {
            inner,
            request_timeout: self.request_timeout,
            operations: Arc::clone(&self.operations),
            faults: Arc::clone(&self.faults),
            journal: Arc::clone(&self.journal),
            drive: self.drive.clone(),
        }
    }
}

/// See the module documentation.
#[derive(Clone)]
pub struct Frame<S> {
    inner: S,
    request_timeout: Duration,
    operations: Arc<Operations>,
    faults: Arc<Faults>,
    journal: Arc<Journal>,
    drive: Drive,
}

impl<S> Service<Request> for Frame<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service polled ready serves this request; its clone the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let started = Instant::now();
        let id = error::new_request_id();
        let operation = Arc::clone(self.operations.figures(request.method(), request.uri().path()));
        let span = request_span(&request, operation.name());
        let armed = self.faults.any().then(|| {
            let token = request
                .headers()
                .get(ACCESS_TOKEN_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let path = request.uri().path().to_owned();
            (Arc::clone(&self.faults), self.drive.clone(), token, path)
        });
        let journal = self
            .journal
            .enabled()
            .then(|| (Arc::clone(&self.journal), journal_entry(&request, &id, operation.name())));
        let keep_body = journal.is_some() && self.journal.keeps_body(&request);
        let (request, unread) = transport::time_body(request, self.request_timeout);
        let (request, body) = if keep_body {
            let (request, captured) = journal::capture_body(request);
            (request, Some(captured))
        } else {
            (request, None)
        };
        let scope_id = id.clone();
        let operation_name = operation.name();
        let run = async move {
            let injected = match armed {
                Some((faults, drive, token, path)) => {
                    let app_key = match token.filter(|_| faults.need_app()) {
                        Some(token) => {
                            drive.token_app(&token).await.ok().flatten().map(|app| app.app_key)
                        }
                        None => None,
                    };
                    faults.take(operation_name, &path, app_key.as_deref())
                }
                None => None,
            };
            if let Some(Injected::Delay(delay)) = injected {
                tokio::time::sleep(delay).await;
            }
            let mut response = match &injected {
                Some(Injected::Error { status, code }) => faults::error_response(*status, code),
                _ => match catch_unwind(AssertUnwindSafe(|| inner.call(request))) {
                    Ok(future) => match AssertUnwindSafe(future).catch_unwind().await {
                        Ok(Ok(response)) => response,
                        Ok(Err(never)) => match never {},
                        Err(panic) => error::panic_response(panic),
                    },
                    Err(panic) => error::panic_response(panic),
                },
            };
            match injected {
                Some(Injected::Drop) => response = faults::cut_response(response, None),
                Some(Injected::Truncate(bytes)) => response = faults::cut_response(response, bytes),
                _ => {}
            }
            if let Some(unread) = unread {
                unread.drain_behind();
            }
            let status = response.status();
            operation.answered(status, started.elapsed());
            if let Some((journal, mut entry)) = journal {
                entry.status = status.as_u16();
                entry.code = response.extensions().get::<ErrorCode>().map(|c| c.0.clone());
                entry.latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                entry.body = body.and_then(|captured| captured.redacted());
                journal.record(entry);
            }
            if status.is_server_error() {
                tracing::error!(
                    requestid = %id,
                    status = status.as_u16(),
                    latency = ?started.elapsed(),
                    "request failed"
                );
            } else {
                tracing::debug!(status = status.as_u16(), latency = ?started.elapsed(), "answered");
            }
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            error::say_when_to_try_again(&mut response);
            Ok(response)
        };
        Box::pin(error::with_request_id(scope_id, run).instrument(span))
    }
}

/// A journal entry for `request`, to complete once it is answered: no
/// query, header or body, the access token only as its digest, the path
/// only where it may be shown ([`shown_path`]).
fn journal_entry(request: &Request, id: &str, operation: &'static str) -> journal::Entry {
    let union_id = request.uri().query().and_then(|query| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "unionId")
            .map(|(_, v)| v.chars().take(128).collect())
    });
    journal::Entry {
        seq: 0,
        at_ms: orgdrive_core::now_ms(),
        request_id: id.to_string(),
        method: request.method().to_string(),
        operation,
        path: shown_path(request, operation).to_string(),
        status: 0,
        code: None,
        latency_us: 0,
        union_id,
        token_digest: request
            .headers()
            .get(ACCESS_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(orgdrive_core::access_token_digest),
        body: None,
    }
}

/// The path a log line or the journal may show: hidden where it is a
/// credential (a preview link) or where no route matched (it may hold
/// anything pasted into it).
fn shown_path<'r>(request: &'r Request, operation: &'static str) -> &'r str {
    match operation {
        PREVIEW_OPERATION | UNKNOWN_OPERATION => "<hidden>",
        _ => request.uri().path(),
    }
}

/// The span of a request in the logs: its method, operation and path, never
/// its query (a signed URL's query is a credential). The path only where a
/// route matched and it holds no credential: a preview link's path is one,
/// and a path no route serves may hold anything pasted into it. Disabled
/// (and free) unless debug logging is on.
fn request_span(request: &Request, operation: &'static str) -> tracing::Span {
    let path = shown_path(request, operation);
    tracing::debug_span!("request", method = %request.method(), operation = %operation, path = %path)
}
