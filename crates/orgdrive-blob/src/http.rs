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
pub(crate) fn bounded_http_client(waits: Waits) -> reqwest::ClientBuilder {
    reqwest::Client::builder().connect_timeout(waits.connect).read_timeout(waits.read)
}

/// How many times a request a store failed is sent again, at most.
const RETRIES: usize = 3;

/// The waits between tries: 100 ms, doubling, jittered, at most 2 s (about
/// 1 s in all for three retries, as AWS's SDKs in their standard mode).
fn backoff() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(RETRIES)
        .with_jitter()
}

/// OpenDAL's retry of the failures [`StoreFetch`] leaves retryable, with
/// [`backoff`]'s waits. A read that breaks mid-body goes on from where it
/// broke.
pub(crate) fn retry_layer() -> opendal::layers::RetryLayer {
    opendal::layers::RetryLayer::new()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(RETRIES)
        .with_jitter()
}

/// The store answered a server error (500, 502, 503 with S3's `SlowDown`,
/// 504): it could not serve the request now. Kept in an error's sources so
/// that, once the retries are spent, the caller is told to try again later
/// ([`crate::BlobError::is_unavailable`]) rather than of a fault.
#[derive(Debug, thiserror::Error)]
#[error("the object store answered {0}")]
pub(crate) struct StoreAnsweredBusy(pub(crate) reqwest::StatusCode);

/// The errors `e` was caused by, `e` first.
pub(crate) fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// The client OpenDAL sends a store's requests through: reqwest's, which
/// decides what [`retry_layer`] may send again: only what the store surely
/// did not carry out.
/// - An answer of 500, 502, 503 (S3's `SlowDown`) or 504 fails the request
///   as retryable, with [`StoreAnsweredBusy`] among its sources (OpenDAL
///   would retry it too, but loses the status once its retries are spent).
/// - A connection that could not be opened (refused; not a connect wait run
///   out) is retryable: the request was never sent.
/// - Anything else is final: a wait run out (so [`Waits`] bound how long a
///   caller is held), a connection cut once the request was sent (a copy may
///   have been made), an answer's body that breaks or stalls (OpenDAL would
///   ask again for the rest, from an offset it trusts the store to honour).
#[derive(Debug, Clone)]
pub(crate) struct StoreFetch(pub(crate) reqwest::Client);

/// The answers a store gives when it cannot serve now.
pub(crate) fn busy(status: ::http::StatusCode) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

impl HttpFetch for StoreFetch {
    async fn fetch(
        &self,
        request: ::http::Request<Buffer>,
    ) -> opendal::Result<::http::Response<HttpBody>> {
        let deleting = request.method() == ::http::Method::DELETE;
        let answer = match self.0.fetch(request).await {
            Err(e) if never_sent(&e) => return Err(e.set_temporary()),
            Err(e) => return Err(e.set_permanent()),
            Ok(answer) => answer,
        };
        if busy(answer.status()) {
            let status = answer.status();
            return Err(opendal::Error::new(ErrorKind::Unexpected, "the object store failed")
                .with_context("status", status.as_str())
                .set_temporary()
                .set_source(StoreAnsweredBusy(status)));
        }
        if deleting && answer.status() == ::http::StatusCode::NOT_FOUND {
            return refuse_a_missing_bucket(answer).await;
        }
        Ok(answer.map(final_body_errors))
    }
}

/// Whether a request failed before it was sent: no connection could be
/// opened, and not for want of time.
fn never_sent(e: &opendal::Error) -> bool {
    causes(e).any(|e| {
        e.downcast_ref::<reqwest::Error>().is_some_and(|e| e.is_connect() && !e.is_timeout())
    })
}

/// `body`, its errors final (see [`StoreFetch`]).
fn final_body_errors(body: HttpBody) -> HttpBody {
    use opendal::raw::oio::Read;
    let chunks = futures::stream::try_unfold(body, |mut body| async move {
        match body.read().await {
            Ok(chunk) if chunk.is_empty() => Ok(None),
            Ok(chunk) => Ok(Some((chunk, body))),
            Err(e) => Err(e.set_permanent()),
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
        let chunk = body.read().await?;
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
pub(crate) async fn with_retries<T, F, Fut>(send: F) -> Result<T, crate::BlobError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::BlobError>>,
{
    use backon::Retryable;
    send.retry(backoff()).when(crate::BlobError::may_retry).await
}
