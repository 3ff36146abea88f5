//! The HTTP client object stores are reached with: how long its requests
//! may wait ([`Waits`]), and which failures are tried again ([`StoreFetch`],
//! [`retry_layer`]).

use std::time::Duration;

use opendal::raw::{HttpBody, HttpFetch};
use opendal::{Buffer, ErrorKind};

/// How long a request to an object store may wait, at most: past either
/// wait it fails ([`crate::BlobError::is_unreachable`]) instead of holding its
/// caller until the kernel gives up (a review found a commit held for
/// minutes by a store that stopped answering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// For a connection to open (default 10 s).
    pub connect: Duration,
    /// From sending a request to the head of its answer, then again for
    /// each next piece of its body (default 300 s: some stores answer a
    /// server-side copy, up to 5 GiB, only once it is done).
    pub read: Duration,
}

impl Default for Waits {
    fn default() -> Waits {
        Waits { connect: Duration::from_secs(10), read: Duration::from_secs(300) }
    }
}

/// An HTTP client whose waits for an object store are bounded.
/// Idle connections are let go after 15 s: stores close theirs after some
/// idle seconds (S3 about 20), and a request sent on one the store just
/// closed fails once sent, which for a copy cannot be tried again.
pub(crate) fn bounded_http_client(waits: Waits) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(waits.connect)
        .read_timeout(waits.read)
        .pool_idle_timeout(Duration::from_secs(15))
}

/// How many times a request a store failed is sent again, at most.
const RETRIES: usize = 3;
/// The waits between tries: from 100 ms, doubling, jittered, at most 2 s
/// (about 1 s in all for three retries, as AWS's SDKs in their standard
/// mode); the same for OpenDAL's requests ([`retry_layer`]) and orgdrive's
/// own ([`with_retries`]).
const FIRST_WAIT: Duration = Duration::from_millis(100);
const LONGEST_WAIT: Duration = Duration::from_secs(2);

fn backoff() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(FIRST_WAIT)
        .with_max_delay(LONGEST_WAIT)
        .with_max_times(RETRIES)
        .with_jitter()
}

/// How many requests a store has been sent again ([`crate::BlobStore::retries`]).
pub(crate) type RetryCount = std::sync::Arc<std::sync::atomic::AtomicU64>;

/// Counts a retry in `count` and logs why.
fn count_retry(count: &RetryCount, error: &dyn std::fmt::Display, wait: Duration) {
    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::warn!(%error, wait_ms = wait.as_millis() as u64, "sending an object-store request again");
}

/// OpenDAL's retry of the failures [`StoreFetch`] leaves retryable, with
/// [`backoff`]'s waits, each counted in `count`. A read that breaks
/// mid-body goes on from where it broke.
pub(crate) fn retry_layer(
    count: RetryCount,
) -> opendal::layers::RetryLayer<impl opendal::layers::RetryInterceptor> {
    opendal::layers::RetryLayer::new()
        .with_min_delay(FIRST_WAIT)
        .with_max_delay(LONGEST_WAIT)
        .with_max_times(RETRIES)
        .with_jitter()
        .with_notify(move |error: &opendal::Error, wait| count_retry(&count, error, wait))
}

/// The store answered that it could not serve the request now ([`busy`]:
/// 429, 500, 502, 503 with S3's `SlowDown`, 504). Kept in an error's sources so
/// that, once the retries are spent, the caller is told to try again later
/// ([`crate::BlobError::is_unavailable`]) rather than of a fault.
#[derive(Debug, thiserror::Error)]
#[error("the object store answered {status}")]
pub(crate) struct StoreAnsweredBusy {
    pub(crate) status: reqwest::StatusCode,
    /// Whether the request may be sent again: not a POST answered 502 or
    /// 504, which a gateway may answer after the store did it.
    pub(crate) retryable: bool,
}

impl StoreAnsweredBusy {
    /// What `status` (a [`busy`] one) to a request of `method` says.
    pub(crate) fn new(method: &::http::Method, status: reqwest::StatusCode) -> StoreAnsweredBusy {
        let maybe_done = method == ::http::Method::POST && matches!(status.as_u16(), 502 | 504);
        StoreAnsweredBusy { status, retryable: !maybe_done }
    }
}

/// The errors `e` was caused by, `e` first.
pub(crate) fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// The client OpenDAL sends a store's requests through: reqwest's, which
/// decides what [`retry_layer`] may send again — never what the store may
/// have carried out unless doing it twice does no harm.
/// - An answer of 429, 500, 502, 503 (S3's `SlowDown`) or 504 fails the request
///   as retryable, with [`StoreAnsweredBusy`] among its sources (OpenDAL
///   would retry it too, but loses the status once its retries are spent).
///   Not a 502 or 504 to a POST (creating or completing a multipart upload):
///   a gateway may answer so after the store did it.
/// - A connection that could not be opened (refused; not a connect wait run
///   out) is retryable: the request was never sent.
/// - A request that may be repeated ([`repeatable`]: a read, a delete, a
///   plain PUT) keeps OpenDAL's own judgement of a connection cut or an
///   answer broken off: it is retried, a read going on from where it broke.
///   Anything else is final: a copy cut once sent may have been made.
/// - A wait run out is always final: [`Waits`] bound how long a caller is
///   held.
/// - An answer to a ranged GET is cut off, as an error, where it would pass
///   the range: OpenDAL's retrying reader counts down the range by what it
///   is handed and overflows past it (a review's store answered 1,000 bytes
///   for 100); and refused if it is the whole object (200) when the range
///   did not start at 0, as a resumed read's would be.
#[derive(Debug, Clone)]
pub(crate) struct StoreFetch(pub(crate) reqwest::Client);

/// The answers a store gives when it cannot serve now (429: some
/// S3-compatible stores' way to ask for less traffic, where S3 answers 503
/// `SlowDown`).
pub(crate) fn busy(status: ::http::StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// Whether sending `request` twice does what sending it once does: reads,
/// deletes and PUTs of bytes (not server-side copies, nor POSTs).
fn repeatable(request: &::http::Request<Buffer>) -> bool {
    use ::http::Method;
    match *request.method() {
        Method::GET | Method::HEAD | Method::DELETE => true,
        // Not a copy, nor a PUT on a condition (a second try would find it
        // unmet by the first).
        Method::PUT => !request.headers().keys().any(|name| {
            matches!(
                name.as_str(),
                "x-amz-copy-source"
                    | "x-oss-copy-source"
                    | "if-match"
                    | "if-none-match"
                    | "x-amz-write-offset-bytes"
                    | "x-oss-forbid-overwrite"
            )
        }),
        _ => false,
    }
}

/// The first byte a GET's `Range: bytes=a-[b]` asks for, and how many.
fn asked_range(request: &::http::Request<Buffer>) -> Option<(u64, Option<u64>)> {
    if request.method() != ::http::Method::GET {
        return None;
    }
    let range = request.headers().get(::http::header::RANGE)?.to_str().ok()?;
    let (first, last) = range.strip_prefix("bytes=")?.split_once('-')?;
    let first = first.trim().parse::<u64>().ok()?;
    let length =
        last.trim().parse::<u64>().ok().and_then(|last| last.checked_sub(first)?.checked_add(1));
    Some((first, length))
}

impl HttpFetch for StoreFetch {
    async fn fetch(
        &self,
        request: ::http::Request<Buffer>,
    ) -> opendal::Result<::http::Response<HttpBody>> {
        let method = request.method().clone();
        let repeatable = repeatable(&request);
        let range = asked_range(&request);
        let answer = match self.0.fetch(request).await {
            Err(e) if timed_out(&e) => return Err(e.set_permanent()),
            Err(e) if never_sent(&e) => return Err(e.set_temporary()),
            Err(e) if repeatable => return Err(e),
            Err(e) => return Err(e.set_permanent()),
            Ok(answer) => answer,
        };
        let status = answer.status();
        if busy(status) {
            let busy = StoreAnsweredBusy::new(&method, status);
            let retryable = busy.retryable;
            let error = opendal::Error::new(ErrorKind::Unexpected, "the object store failed")
                .with_context("status", status.as_str())
                .set_source(busy);
            return Err(if retryable { error.set_temporary() } else { error.set_permanent() });
        }
        if method == ::http::Method::DELETE && status == ::http::StatusCode::NOT_FOUND {
            return refuse_a_missing_bucket(answer).await;
        }
        if status == ::http::StatusCode::OK && range.is_some_and(|(first, _)| first > 0) {
            // The whole object from its first byte, not the rest asked for.
            return Err(opendal::Error::new(
                ErrorKind::Unexpected,
                "the object store ignored a read's range",
            ));
        }
        // An error's body (a 404's document) is not the range's bytes.
        let length = range.and_then(|(_, length)| length).filter(|_| status.is_success());
        Ok(answer.map(|body| guarded_body(body, repeatable, length)))
    }
}

/// Whether a request failed because one of its [`Waits`] ran out.
fn timed_out(e: &opendal::Error) -> bool {
    causes(e).any(|e| e.downcast_ref::<reqwest::Error>().is_some_and(reqwest::Error::is_timeout))
}

/// Whether a request failed before it was sent: no connection could be
/// opened, and not for want of time.
fn never_sent(e: &opendal::Error) -> bool {
    causes(e).any(|e| e.downcast_ref::<reqwest::Error>().is_some_and(connection_never_opened))
}

/// Whether `e` is a connection that could not be opened, not for want of time.
pub(crate) fn connection_never_opened(e: &reqwest::Error) -> bool {
    e.is_connect() && !e.is_timeout()
}

/// `body` as [`StoreFetch`] hands it on: its errors final unless its request
/// is `repeatable` (a wait run out always), and, for a range of `length`
/// bytes, an error where it would pass them or ends short of them.
fn guarded_body(body: HttpBody, repeatable: bool, length: Option<u64>) -> HttpBody {
    use opendal::raw::oio::Read;
    let left = length.unwrap_or(u64::MAX);
    let chunks = futures::stream::try_unfold((body, left), move |(mut body, left)| async move {
        match body.read().await {
            Ok(chunk) if chunk.is_empty() && length.is_some() && left > 0 => {
                let short = opendal::Error::new(
                    ErrorKind::Unexpected,
                    "the object store answered fewer bytes than the range asked for",
                );
                Err(if repeatable { short.set_temporary() } else { short })
            }
            Ok(chunk) if chunk.is_empty() => Ok(None),
            Ok(chunk) if chunk.len() as u64 > left => Err(opendal::Error::new(
                ErrorKind::Unexpected,
                "the object store answered more bytes than the range asked for",
            )
            .set_permanent()),
            Ok(chunk) => {
                let left = left - chunk.len() as u64;
                Ok(Some((chunk, (body, left))))
            }
            Err(e) if timed_out(&e) || !repeatable => Err(e.set_permanent()),
            Err(e) => Err(e),
        }
    });
    // The inner body checks the length the answer announced.
    HttpBody::new(Box::pin(chunks), None)
}

/// A DELETE answered 404: OpenDAL's S3 and OSS services take any 404 to a
/// DELETE for "already gone", but S3's `NoSuchBucket` (a bucket missing, or
/// a gateway that briefly cannot find it) says nothing of the object, which
/// would then be left behind unreferenced. Such an answer fails the delete;
/// any other 404 (the object missing) is handed on as it came.
async fn refuse_a_missing_bucket(
    answer: ::http::Response<HttpBody>,
) -> opendal::Result<::http::Response<HttpBody>> {
    use opendal::raw::oio::Read;
    // An S3 error document is a few hundred bytes; a longer body is not one.
    const ERROR_DOCUMENT_MAX: usize = 64 << 10;
    let (parts, mut body) = answer.into_parts();
    let mut document = Vec::new();
    loop {
        let chunk =
            body.read().await.map_err(|e| if timed_out(&e) { e.set_permanent() } else { e })?;
        if chunk.is_empty() || document.len() > ERROR_DOCUMENT_MAX {
            break;
        }
        document.extend_from_slice(&chunk.to_bytes());
    }
    if String::from_utf8_lossy(&document).contains("<Code>NoSuchBucket</Code>") {
        return Err(opendal::Error::new(
            ErrorKind::Unexpected,
            "the object store answered NoSuchBucket to a delete: the object was not removed",
        ));
    }
    // OpenDAL reads nothing of a 404 to a DELETE: what was read stands for it.
    let document = Buffer::from(document);
    let size = Some(document.len() as u64);
    let body = HttpBody::new(futures::stream::iter([Ok(document)]), size);
    Ok(::http::Response::from_parts(parts, body))
}

/// Sends what `send` makes again while it fails retryably (see
/// [`StoreFetch`]: an answered server error, or a connection that could not
/// be opened; never a wait run out, nor a request cut once sent, which the
/// store may have carried out), with [`backoff`]'s waits. For the requests
/// orgdrive signs itself (`compose`).
pub(crate) async fn with_retries<T, F, Fut>(
    count: &RetryCount,
    send: F,
) -> Result<T, crate::BlobError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::BlobError>>,
{
    use backon::Retryable;
    send.retry(backoff())
        .when(crate::BlobError::may_retry)
        .notify(|error, wait| count_retry(count, error, wait))
        .await
}
