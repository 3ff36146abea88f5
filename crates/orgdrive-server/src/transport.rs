//! The connection layer: the accept loop and what keeps slow, idle or
//! numerous clients from pinning the server. [`Limits`] holds every knob:
//!
//! - connections: at most `max_connections` at once, and at most
//!   `max_connections_per_ip` from one client address; a connection over a
//!   cap is closed as soon as it is accepted;
//! - reading: a client has `header_read_timeout` to send a request's headers
//!   (which also closes idle keep-alive connections), may pause at most
//!   `body_idle_timeout` between two body chunks, and must have sent a JSON
//!   API request's whole body within `request_timeout` of the request's start
//!   (else 503 `operationTimeout`), however its bytes trickle in; the work
//!   the request then asks for is not cut short (a large multipart commit may
//!   take longer), and nothing is read before the caller is checked;
//! - blob transfers: bodies must move at least `min_transfer_rate` bytes per
//!   second, measured over each `transfer_rate_window` ([`MinRate`]);
//! - writing: a write that cannot progress for `write_timeout` (a client that
//!   stopped reading) ends the connection ([`TimedIo`]).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::Router;
use bytes::Bytes;
use futures::Stream;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_layer::Layer;

/// Largest JSON request body accepted by API routes (blob routes stream
/// theirs, unbounded here).
pub const MAX_JSON_BODY_BYTES: usize = 1024 * 1024;

/// Limits that keep slow, idle or numerous clients from pinning the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a client has to send a request's headers; it also bounds how long
    /// an idle keep-alive connection is kept.
    pub header_read_timeout: Duration,
    /// Longest pause allowed between two chunks of a request body.
    pub body_idle_timeout: Duration,
    /// Total time a JSON API request may take, body included (not blob routes).
    pub request_timeout: Duration,
    /// Longest a write to a client may stay blocked.
    pub write_timeout: Duration,
    /// Least bytes per second a blob body must move, over each window.
    pub min_transfer_rate: u64,
    pub transfer_rate_window: Duration,
    /// Connections open at once, overall and from one client address.
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(60),
            min_transfer_rate: 1024,
            transfer_rate_window: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_ip: 512,
        }
    }
}

/// A JSON API request's body must have arrived in full within
/// `request_timeout` of the request's start. The body is not read here (the
/// handler's extractors still check the caller before they read it): it is
/// wrapped so that reading it fails with [`DeadlinePassed`] past the
/// deadline, which the body extractor answers with 503 `operationTimeout`.
/// Blob routes stream their bodies and are governed by [`MinRate`] instead;
/// a request without a body (most reads) has nothing to time.
///
/// What the handler leaves unread is returned: a request answered without
/// reading its whole body (a bad token, a missing scope, an operation that
/// ignores its body) has the rest drained behind the answer
/// ([`UnreadBody::drain_behind`]) so that the connection stays usable: left
/// unread, the body would make the server close a connection the client
/// keeps as keep-alive, and the client's next request would meet a closed
/// connection.
pub(crate) fn time_body(
    request: Request,
    request_timeout: Duration,
) -> (Request, Option<UnreadBody>) {
    // HTTP/1.1 (RFC 9112 §6.3): a request has a body only if it says so
    // with Content-Length or Transfer-Encoding. (The body's size hint does
    // not tell: the idle-timeout wrapper around it hides it.)
    let headers = request.headers();
    let no_body = !headers.contains_key(TRANSFER_ENCODING)
        && headers.get(CONTENT_LENGTH).is_none_or(|length| length.as_bytes() == b"0");
    let path = request.uri().path();
    if no_body || path.starts_with("/blob/") || path.starts_with("/wopi/") {
        return (request, None);
    }
    let deadline = Box::pin(tokio::time::sleep(request_timeout));
    let (parts, body) = request.into_parts();
    let unread = Arc::new(Mutex::new(Some(Deadline { inner: body.into_data_stream(), deadline })));
    let body = axum::body::Body::from_stream(SharedBody(unread.clone()));
    (Request::from_parts(parts, body), Some(UnreadBody(unread)))
}

/// The part of a timed request body the handler did not read.
pub(crate) struct UnreadBody(Arc<Mutex<Option<Deadline<axum::body::BodyDataStream>>>>);

impl UnreadBody {
    /// Once the answer is made: reads the rest of the body in the
    /// background — up to [`MAX_JSON_BODY_BYTES`], for at most
    /// [`UNREAD_BODY_LINGER`] — while the answer goes out.
    pub(crate) fn drain_behind(self) {
        let left = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut left) = left {
            tokio::spawn(tokio::time::timeout(UNREAD_BODY_LINGER, async move {
                let mut drained = 0;
                while let Some(Ok(chunk)) = futures::StreamExt::next(&mut left).await {
                    drained += chunk.len();
                    if drained > MAX_JSON_BODY_BYTES {
                        break;
                    }
                }
            }));
        }
    }
}

/// How long the rest of an answered request's body is waited for (a client
/// sends it right behind its headers; one that does not loses the connection).
const UNREAD_BODY_LINGER: Duration = Duration::from_secs(1);

/// The request body as the handler sees it; what the handler leaves unread
/// stays in the slot for [`UnreadBody::drain_behind`] to drain.
struct SharedBody<S>(Arc<Mutex<Option<S>>>);

impl<S: Stream + Unpin> Stream for SharedBody<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(inner) = slot.as_mut() else { return Poll::Ready(None) };
        let next = Pin::new(inner).poll_next(cx);
        if let Poll::Ready(None) = next {
            *slot = None;
        }
        next
    }
}

/// A request body past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the request deadline")]
pub struct DeadlinePassed;

/// A body stream that fails once its deadline has passed.
struct Deadline<S> {
    inner: S,
    deadline: Pin<Box<Sleep>>,
}

impl<S, E> Stream for Deadline<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<axum::BoxError>,
{
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(DeadlinePassed))));
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(axum::Error::new(e)))),
            Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(chunk))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Whether a failed body read failed for [`DeadlinePassed`].
pub fn is_deadline(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<DeadlinePassed>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// A body that must move at least `min_rate` bytes per second, judged at
/// the end of each window (also while no chunk comes); a slower body ends
/// with an error, which aborts the request or the response. It adds the
/// bytes it moves to a counter (the metrics' file bytes).
pub struct MinRate<S> {
    inner: S,
    counted: Counter,
    window: Duration,
    min_per_window: u64,
    moved: u64,
    window_end: Pin<Box<Sleep>>,
}

/// Why a [`MinRate`] body stopped.
#[derive(Debug, thiserror::Error)]
#[error("the transfer moved {moved} bytes in {window:?}, below the minimum rate")]
pub struct TooSlow {
    moved: u64,
    window: Duration,
}

/// An upload's body held to the minimum transfer rate, its bytes added to
/// `counted`, and the length its `Content-Length` declares (`Err` when the
/// header is malformed).
pub fn upload_body(
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
    limits: &Limits,
    counted: &Counter,
) -> Result<(Option<u64>, MinRate<axum::body::BodyDataStream>), &'static str> {
    let declared_len = match headers.get(axum::http::header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or("malformed Content-Length")?,
        ),
    };
    let stream = body.into_data_stream();
    let body = MinRate::new(stream, limits.min_transfer_rate, limits.transfer_rate_window)
        .counted(counted);
    Ok((declared_len, body))
}

/// A blob's response body: its bytes when they were read at once (one
/// write of head and body; a client that does not read it is cut off by the
/// write timeout), else its stream held to the minimum transfer rate. Its
/// bytes are added to `counted`.
pub fn blob_body<S, E>(
    whole: Result<Bytes, S>,
    limits: &Limits,
    counted: &Counter,
) -> axum::body::Body
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send + 'static,
    E: Into<axum::BoxError> + 'static,
{
    match whole {
        Ok(bytes) => {
            counted.inc_by(bytes.len() as u64);
            axum::body::Body::from(bytes)
        }
        Err(stream) => axum::body::Body::from_stream(
            MinRate::new(stream, limits.min_transfer_rate, limits.transfer_rate_window)
                .counted(counted),
        ),
    }
}

impl<S> MinRate<S> {
    pub fn new(inner: S, min_rate: u64, window: Duration) -> MinRate<S> {
        let min_per_window = (min_rate as f64 * window.as_secs_f64()) as u64;
        let window_end = Box::pin(tokio::time::sleep(window));
        MinRate { inner, counted: Counter::default(), window, min_per_window, moved: 0, window_end }
    }

    /// Adds the bytes moved to `counter` too.
    pub fn counted(mut self, counter: &Counter) -> MinRate<S> {
        self.counted = counter.clone();
        self
    }

    /// At a window's end: too slow, or start the next window.
    fn judge(&mut self) -> Result<(), TooSlow> {
        if self.moved < self.min_per_window {
            return Err(TooSlow { moved: self.moved, window: self.window });
        }
        self.moved = 0;
        self.window_end.as_mut().reset(Instant::now() + self.window);
        Ok(())
    }
}

impl<S, E> Stream for MinRate<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<axum::BoxError>,
{
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.moved += chunk.len() as u64;
                this.counted.inc_by(chunk.len() as u64);
                if this.window_end.is_elapsed() {
                    if let Err(e) = this.judge() {
                        return Poll::Ready(Some(Err(axum::Error::new(e))));
                    }
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(axum::Error::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                while this.window_end.as_mut().poll(cx).is_ready() {
                    if let Err(e) = this.judge() {
                        return Poll::Ready(Some(Err(axum::Error::new(e))));
                    }
                }
                Poll::Pending
            }
        }
    }
}

/// A socket whose writes may stay blocked at most `timeout`: a client that
/// stops reading loses its connection (with a reset) instead of holding it.
pub struct TimedIo {
    inner: TcpStream,
    timeout: Duration,
    blocked_since: Option<Pin<Box<Sleep>>>,
    /// The connection's place under the caps: held as long as the socket,
    /// also once it was upgraded (a Stream-mode WebSocket).
    _admission: Option<Admission>,
}

impl TimedIo {
    pub fn new(inner: TcpStream, timeout: Duration) -> TimedIo {
        TimedIo { inner, timeout, blocked_since: None, _admission: None }
    }

    fn admitted(mut self, admission: Admission) -> TimedIo {
        self._admission = Some(admission);
        self
    }

    /// Passes a write-side result through, arming the timer while blocked.
    fn timed<R>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match result {
            Poll::Ready(r) => {
                self.blocked_since = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let deadline =
                    self.blocked_since.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        // Close with a reset: the kernel drops what the
                        // client never read instead of keeping it queued.
                        let reset = socket2::SockRef::from(&self.inner);
                        let _ = reset.set_linger(Some(Duration::ZERO));
                        Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the client did not read for too long",
                        )))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.timed(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.timed(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.timed(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.timed(cx, result)
    }
}

/// Counts open connections, overall and per client address.
struct ConnectionCaps {
    total: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_per_ip: usize,
}

/// One admitted connection; leaving frees its place.
struct Admission {
    caps: Arc<ConnectionCaps>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl ConnectionCaps {
    fn new(limits: &Limits) -> Arc<ConnectionCaps> {
        Arc::new(ConnectionCaps {
            total: Arc::new(Semaphore::new(limits.max_connections)),
            per_ip: Mutex::new(HashMap::new()),
            max_per_ip: limits.max_connections_per_ip,
        })
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admission> {
        let permit = self.total.clone().try_acquire_owned().ok()?;
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let open = per_ip.entry(ip).or_insert(0);
        if *open >= self.max_per_ip {
            return None;
        }
        *open += 1;
        Some(Admission { caps: self.clone(), ip, _permit: permit })
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut per_ip = self.caps.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = per_ip.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish (30 s at most). Accepted sockets get
/// `TCP_NODELAY` (a response whose head and body leave in separate writes
/// would otherwise wait ~40 ms for the peer's delayed ACK).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let body_idle = RequestBodyTimeoutLayer::new(limits.body_idle_timeout);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let caps = ConnectionCaps::new(&limits);
    // Graceful shutdown: every connection holds a clone of `live` and
    // watches `stopping`; once all clones are gone, every connection ended.
    // (hyper-util's GracefulShutdown cannot watch a connection that may be
    // upgraded, as the Stream-mode gateway's WebSocket is.)
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let (live, mut all_ended) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
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
        let Some(admission) = caps.admit(peer.ip()) else {
            tracing::debug!(peer = %peer.ip(), "connection refused: over the connection caps");
            continue; // dropping the socket closes it
        };
        let _ = tcp.set_nodelay(true);
        let io = TokioIo::new(TimedIo::new(tcp, limits.write_timeout).admitted(admission));
        // The peer's address, for what is counted per client (failed console sign-ins).
        let with_peer = axum::Extension(axum::extract::ConnectInfo(peer)).layer(router.clone());
        let service = TowerToHyperService::new(body_idle.layer(with_peer));
        let connection = http.serve_connection(io, service).with_upgrades();
        let (mut stopping, live) = (stopping.clone(), live.clone());
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let stop = async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = stop => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(live);
        });
    }
    drop(listener);
    // In-flight requests get a grace period; idle connections close at once.
    let _ = stopping_tx.send(true);
    drop(live);
    if tokio::time::timeout(Duration::from_secs(30), all_ended.recv()).await.is_err() {
        tracing::warn!("requests still running after 30 s; stopping anyway");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    /// Only a request that announces a body gets its body timed (and
    /// drained): a GET pays nothing, whatever wraps its body.
    #[tokio::test]
    async fn only_requests_with_a_body_are_timed() {
        let request = |headers: &[(&str, &str)]| {
            let mut builder = Request::builder().method("POST").uri("/v1.0/storage/spaces");
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            builder.body(axum::body::Body::from("{}")).unwrap()
        };
        let timeout = Duration::from_secs(60);
        for headers in [&[][..], &[("content-length", "0")][..]] {
            assert!(time_body(request(headers), timeout).1.is_none(), "{headers:?}");
        }
        for headers in [&[("content-length", "2")][..], &[("transfer-encoding", "chunked")][..]] {
            assert!(time_body(request(headers), timeout).1.is_some(), "{headers:?}");
        }
        let blob = Request::builder()
            .uri("/blob/x")
            .header("content-length", "2")
            .body(axum::body::Body::from("{}"))
            .unwrap();
        assert!(time_body(blob, timeout).1.is_none(), "blob bodies have their own rules");
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickling_body_is_cut_at_the_window_end() {
        // One byte every 1.5 s against 100 B/s over 2 s windows.
        let trickle = futures::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Some((Ok::<_, io::Error>(Bytes::from_static(b"x")), n + 1))
        });
        let mut body = MinRate::new(Box::pin(trickle), 100, Duration::from_secs(2));
        let started = Instant::now();
        let mut received = 0;
        let failure = loop {
            match body.next().await {
                Some(Ok(chunk)) => received += chunk.len(),
                Some(Err(e)) => break e,
                None => panic!("the trickle never ends"),
            }
        };
        assert!(failure.to_string().contains("minimum rate"), "{failure}");
        assert!(received <= 1, "{received}");
        assert!(started.elapsed() <= Duration::from_secs(2) + Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_steady_body_passes_every_window() {
        let steady = futures::stream::iter(0..50).then(|_| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok::<_, io::Error>(Bytes::from(vec![0u8; 100]))
        });
        let body = MinRate::new(Box::pin(steady), 500, Duration::from_secs(1));
        let chunks: Vec<_> = body.collect().await;
        assert_eq!(chunks.len(), 50);
        assert!(chunks.iter().all(Result::is_ok));
    }

    #[test]
    fn caps_count_per_address_and_overall() {
        let limits = Limits { max_connections: 3, max_connections_per_ip: 2, ..Limits::default() };
        let caps = ConnectionCaps::new(&limits);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = caps.admit(a).unwrap();
        let _second = caps.admit(a).unwrap();
        assert!(caps.admit(a).is_none(), "third from one address");
        let _third = caps.admit(b).unwrap();
        assert!(caps.admit(b).is_none(), "fourth overall");
        drop(first);
        assert!(caps.admit(a).is_some(), "a place freed by a closed connection");
    }
}
