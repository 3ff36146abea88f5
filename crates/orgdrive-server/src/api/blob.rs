//! The blob routes behind signed URLs: `PUT /blob/{key}` receives upload bytes,
//! `GET`/`HEAD /blob/{key}` serves file bytes with `Content-Length`,
//! `Content-Type` (from the file name), `ETag`, `Content-Disposition` and
//! single-range requests (206 / 416). No access token: the URL's signature is
//! the credential, and only paths of the shapes orgdrive issues are accepted
//! (checked after the signature, before any storage access). Download URLs
//! carry the object's size, signed with the rest, so a GET does not ask the
//! store for it: a small file (or range) is read at once and sent with the
//! response head, a larger one is streamed. Uploads and large downloads are
//! streamed and must move at the minimum transfer rate.

use std::ops::Range;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::Router;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

use orgdrive_core::DriveError;

use crate::error::ApiError;
use crate::extract::{QueryParams, WirePath as Path};
use crate::metrics::Operations;
use crate::state::ServerState;
use crate::transport::{blob_body, upload_body};

pub fn routes(operations: &mut Operations) -> Router<ServerState> {
    operations.add("/blob/{*key}", Some(Method::PUT), "PutBlob");
    operations.add("/blob/{*key}", Some(Method::GET), "GetBlob");
    Router::new()
        .route("/blob/{*key}", put(upload).get(download))
        .layer(DefaultBodyLimit::disable())
}

/// `expires` and `signature` of a signed URL; a malformed one can only mismatch.
fn signed(query: &QueryParams) -> (i64, String) {
    let expires = query.text("expires").and_then(|e| e.parse().ok()).unwrap_or(i64::MIN);
    (expires, query.text("signature").unwrap_or_default())
}

/// The object size a download URL carries (signed with it); URLs issued
/// before sizes were signed carry none. A malformed one can only mismatch.
fn signed_size(query: &QueryParams) -> Result<Option<u64>, ApiError> {
    match query.text("size") {
        None => Ok(None),
        Some(size) => size.parse().map(Some).map_err(|_| {
            let message = "the signature does not match the request".to_string();
            DriveError::SignatureRefused { expired: false, message }.into()
        }),
    }
}

async fn upload(
    State(state): State<ServerState>,
    Path(key): Path<String>,
    query: QueryParams,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (expires, signature) = signed(&query);
    let (declared_len, body) =
        upload_body(&headers, body, &state.limits, &state.metrics.file_bytes_in)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "paramError", e))?;
    let written = state.drive.receive_blob(&key, expires, &signature, declared_len, body).await?;
    let mut response = StatusCode::OK.into_response();
    if let Some(etag) = written.md5.and_then(|m| HeaderValue::from_str(&format!("\"{m}\"")).ok()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    Ok(response)
}

async fn download(
    State(state): State<ServerState>,
    Path(key): Path<String>,
    query: QueryParams,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (expires, signature) = signed(&query);
    let name = query.text("name").unwrap_or_default();
    let size = signed_size(&query)?;
    let object = state.drive.open_blob(&key, expires, &name, size, &signature).await?;
    let size = object.size;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(spec) => match parse_range(spec, size) {
            RangeSpec::Ignore => None,
            RangeSpec::Satisfiable(range) => Some(range),
            RangeSpec::Unsatisfiable => {
                let mut refused = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "paramError.range",
                    format!("range {spec} is outside the {size} bytes of the file"),
                )
                .into_response();
                refused.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
                );
                return Ok(refused);
            }
        },
    };
    let (status, body_range) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.clone()),
        None => (StatusCode::OK, 0..size),
    };
    // No stat: the size is the signed one, and the read fails rather than
    // serve other bytes if the object does not have it.
    let download = state.drive.read_object(&object.object_key, body_range.clone(), size).await?;
    let body = blob_body(download.into_whole(), &state.limits, &state.metrics.file_bytes_out);
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body_range.end - body_range.start));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let mime = mime_guess::from_path(&name).first_or_octet_stream();
    if let Ok(v) = HeaderValue::from_str(mime.essence_str()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    // Objects never change once written: the key is a strong validator.
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", key.rsplit('/').next().unwrap_or(&key)))
    {
        h.insert(header::ETAG, v);
    }
    if !name.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&content_disposition(&name)) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    if let Some(r) = &range {
        let value = format!("bytes {}-{}/{size}", r.start, r.end - 1);
        h.insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).expect("ascii"));
    }
    Ok(response)
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266).
fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let exact = utf8_percent_encode(name, NON_ALPHANUMERIC);
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}")
}

#[derive(Debug, PartialEq, Eq)]
pub enum RangeSpec {
    /// Absent, malformed or multi-range: serve the whole file (RFC 9110 allows it).
    Ignore,
    Satisfiable(Range<u64>),
    Unsatisfiable,
}

/// Parses one `bytes=a-b`, `bytes=a-` or `bytes=-n` range against `size`.
pub fn parse_range(spec: &str, size: u64) -> RangeSpec {
    let Some(set) = spec.trim().strip_prefix("bytes=") else { return RangeSpec::Ignore };
    if set.contains(',') {
        return RangeSpec::Ignore;
    }
    let Some((first, last)) = set.trim().split_once('-') else { return RangeSpec::Ignore };
    let (first, last) = (first.trim(), last.trim());
    // 1*DIGIT (no sign); a position past 2^64 - 1 is past any file.
    let parse = |s: &str| {
        let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| s.parse::<u64>().unwrap_or(u64::MAX))
    };
    let range = match (first.is_empty(), last.is_empty()) {
        (true, true) => return RangeSpec::Ignore,
        (true, false) => match parse(last) {
            Some(0) => return RangeSpec::Unsatisfiable,
            Some(n) => size.saturating_sub(n)..size,
            None => return RangeSpec::Ignore,
        },
        (false, _) => {
            let Some(start) = parse(first) else { return RangeSpec::Ignore };
            let end = if last.is_empty() {
                size
            } else {
                match parse(last) {
                    Some(l) if l >= start => l.saturating_add(1).min(size),
                    _ => return RangeSpec::Ignore,
                }
            };
            start..end
        }
    };
    if range.start >= size {
        RangeSpec::Unsatisfiable
    } else {
        RangeSpec::Satisfiable(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_parse() {
        assert_eq!(parse_range("bytes=0-499", 1000), RangeSpec::Satisfiable(0..500));
        assert_eq!(parse_range("bytes=500-", 1000), RangeSpec::Satisfiable(500..1000));
        assert_eq!(parse_range("bytes=-100", 1000), RangeSpec::Satisfiable(900..1000));
        assert_eq!(parse_range("bytes=-5000", 1000), RangeSpec::Satisfiable(0..1000));
        assert_eq!(parse_range("bytes=900-5000", 1000), RangeSpec::Satisfiable(900..1000));
        assert_eq!(parse_range("bytes=1000-", 1000), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 1000), RangeSpec::Ignore);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), RangeSpec::Ignore);
        assert_eq!(parse_range("items=0-1", 1000), RangeSpec::Ignore);
        assert_eq!(parse_range("bytes=+1-2", 1000), RangeSpec::Ignore);
        // Positions too large for 64 bits are past any file, not malformed.
        let huge = "99999999999999999999";
        assert_eq!(parse_range(&format!("bytes=0-{huge}"), 20), RangeSpec::Satisfiable(0..20));
        assert_eq!(parse_range(&format!("bytes=-{huge}"), 20), RangeSpec::Satisfiable(0..20));
        assert_eq!(parse_range(&format!("bytes={huge}-"), 20), RangeSpec::Unsatisfiable);
    }

    #[test]
    fn disposition_keeps_utf8_names() {
        assert_eq!(
            content_disposition("报告 1.pdf"),
            "attachment; filename=\"__ 1.pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A%201%2Epdf"
        );
    }
}
