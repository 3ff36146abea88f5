//! Fault injection (emulator mode): faults armed through the admin API
//! (`/admin/v1/faults`) make matching requests fail on purpose, so that an
//! app's tests can see how it copes with DingTalk's errors, a slow answer,
//! a connection dropped mid-answer or a cut download. Off unless the server
//! was started with `--allow-faults`.
//!
//! A fault matches by operation (the names of `/metrics`: `CommitFile`,
//! `GetBlob`, ...), by path pattern (`*` matches within one segment, `**`
//! any rest) and by the appKey of the request's access token, each when
//! given; it fires on the next `count` matching requests, or on every one,
//! each time with `probability`. What it does never corrupts stored data:
//! `error` answers before the operation runs; `delay` waits, then runs it;
//! `drop` and `truncate` run it completely, then cut the answer (`drop`:
//! the connection closes part-way through the body; `truncate`: after
//! `bytes` of it, by default half). The admin API, the console, the health
//! probes and `/metrics` are never faulted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::ApiError;
use crate::wire::{FaultKind, FaultRequest, FaultView};
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use futures::StreamExt;

/// Faults armed at once, at most.
pub const MAX_FAULTS: usize = 100;
/// The longest delay a fault may add.
pub const MAX_DELAY_MS: u64 = 120_000;

/// What the frame does to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Injected {
    Error { status: StatusCode, code: String },
    Delay(Duration),
    Drop,
    Truncate(Option<u64>),
}

/// The armed faults of this server.
#[derive(Debug, Default)]
pub struct Faults {
    allowed: bool,
    /// Whether any fault is armed (read by every request; the list's lock
    /// is taken only when one is).
    armed: AtomicBool,
    faults: Mutex<Vec<FaultView>>,
    next_id: AtomicU64,
}

/// The status a known DingTalk code answers with.
fn status_of(code: &str) -> Option<u16> {
    Some(match code {
        "operationTimeout" => 503,
        "systemError" | "unknownError" => 500,
        "permissionDenied" => 403,
        "Forbidden.AccessDenied.QpsLimitForApi"
        | "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi" => 429,
        "InvalidAuthentication" => 400,
        c if c == "paramError" || c.starts_with("paramError.") => 400,
        _ => return None,
    })
}

fn param(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::param(Some(field), message.into())
}

impl Faults {
    pub fn new(allowed: bool) -> Faults {
        Faults { allowed, ..Faults::default() }
    }

    fn check_allowed(&self) -> Result<(), ApiError> {
        if self.allowed {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "permissionDenied",
                "fault injection is off (start the server with --allow-faults)",
            ))
        }
    }

    /// Arms a fault; answers it as listed.
    pub fn arm(&self, request: FaultRequest) -> Result<FaultView, ApiError> {
        self.check_allowed()?;
        let (code, status) = match request.kind {
            FaultKind::Error => {
                let code = request.code.clone().ok_or_else(|| param("code", "code is required"))?;
                if code.is_empty()
                    || code.len() > 128
                    || !code.chars().all(|c| c.is_ascii_graphic())
                {
                    return Err(param("code", "code must be 1 to 128 visible ASCII characters"));
                }
                let status = match request.status.or_else(|| status_of(&code)) {
                    Some(s) if (400..=599).contains(&s) => s,
                    Some(_) => return Err(param("status", "status must be 400 to 599")),
                    None => {
                        return Err(param("status", format!("status is required for code {code}")))
                    }
                };
                (Some(code), Some(status))
            }
            _ if request.code.is_some() || request.status.is_some() => {
                return Err(param("code", "code and status are for kind error"));
            }
            _ => (None, None),
        };
        let delay_ms = match (request.kind, request.delay_ms) {
            (FaultKind::Delay, Some(ms)) if ms <= MAX_DELAY_MS => Some(ms),
            (FaultKind::Delay, _) => {
                return Err(param("delayMs", format!("delayMs must be 0 to {MAX_DELAY_MS}")))
            }
            (_, Some(_)) => return Err(param("delayMs", "delayMs is for kind delay")),
            (_, None) => None,
        };
        if request.bytes.is_some() && request.kind != FaultKind::Truncate {
            return Err(param("bytes", "bytes is for kind truncate"));
        }
        let probability = request.probability.unwrap_or(1.0);
        if !(probability > 0.0 && probability <= 1.0) {
            return Err(param("probability", "probability must be above 0 and at most 1"));
        }
        if request.count == Some(0) {
            return Err(param("count", "count must be at least 1"));
        }
        for (field, value) in [
            ("operation", &request.operation),
            ("path", &request.path),
            ("appKey", &request.app_key),
        ] {
            if value.as_ref().is_some_and(|v| v.is_empty() || v.len() > 512) {
                return Err(param(field, format!("{field} must be 1 to 512 characters")));
            }
        }
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        if faults.len() >= MAX_FAULTS {
            return Err(param("kind", format!("at most {MAX_FAULTS} faults are armed at once")));
        }
        let view = FaultView {
            id: (self.next_id.fetch_add(1, Ordering::Relaxed) + 1).to_string(),
            kind: request.kind,
            operation: request.operation,
            path: request.path,
            app_key: request.app_key,
            code,
            status,
            delay_ms,
            bytes: request.bytes,
            remaining: request.count,
            probability,
            fired: 0,
        };
        faults.push(view.clone());
        self.armed.store(true, Ordering::SeqCst);
        Ok(view)
    }

    pub fn list(&self) -> Result<Vec<FaultView>, ApiError> {
        self.check_allowed()?;
        Ok(self.faults.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// Disarms one fault (`Some(id)`) or all; false if there was no such one.
    pub fn clear(&self, id: Option<&str>) -> Result<bool, ApiError> {
        self.check_allowed()?;
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let before = faults.len();
        faults.retain(|f| id.is_some_and(|id| f.id != id));
        self.armed.store(!faults.is_empty(), Ordering::SeqCst);
        Ok(id.is_none() || faults.len() < before)
    }

    /// Whether any fault is armed (cheap: every request asks).
    pub fn any(&self) -> bool {
        self.armed.load(Ordering::Relaxed)
    }

    /// Whether an armed fault matches by appKey (the caller's app must be
    /// resolved to match it).
    pub fn need_app(&self) -> bool {
        self.any()
            && self
                .faults
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|f| f.app_key.is_some())
    }

    /// The fault to inject into a request, if one matches and fires; the
    /// first armed one that matches decides.
    pub fn take(&self, operation: &str, path: &str, app_key: Option<&str>) -> Option<Injected> {
        if !self.any() || is_exempt(path) {
            return None;
        }
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let index = faults.iter().position(|f| {
            f.operation.as_deref().is_none_or(|o| o == operation)
                && f.path.as_deref().is_none_or(|p| path_matches(p, path))
                && f.app_key.as_deref().is_none_or(|k| Some(k) == app_key)
        })?;
        let fault = &mut faults[index];
        if fault.probability < 1.0 && rand::random::<f64>() >= fault.probability {
            return None;
        }
        fault.fired += 1;
        let injected = match fault.kind {
            FaultKind::Error => Injected::Error {
                status: StatusCode::from_u16(fault.status.unwrap_or(500))
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                code: fault.code.clone().unwrap_or_else(|| "systemError".into()),
            },
            FaultKind::Delay => Injected::Delay(Duration::from_millis(fault.delay_ms.unwrap_or(0))),
            FaultKind::Drop => Injected::Drop,
            FaultKind::Truncate => Injected::Truncate(fault.bytes),
        };
        if let Some(left) = &mut fault.remaining {
            *left -= 1;
            if *left == 0 {
                faults.remove(index);
                self.armed.store(!faults.is_empty(), Ordering::SeqCst);
            }
        }
        Some(injected)
    }
}

/// Paths never faulted: what a developer needs to see and undo faults.
fn is_exempt(path: &str) -> bool {
    ["/admin/", "/console", "/metrics", "/healthz", "/readyz"].iter().any(|p| path.starts_with(p))
}

/// `pattern` against `path`, segment by segment: `*` matches one segment,
/// `**` (last) the rest.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut want = pattern.trim_start_matches('/').split('/');
    let mut got = path.trim_start_matches('/').split('/');
    loop {
        match (want.next(), got.next()) {
            (Some("**"), _) => return true,
            (Some("*"), Some(_)) => {}
            (Some(w), Some(g)) if w == g => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The answer of an `error` fault: the DingTalk error body, as a real
/// refusal has it.
pub fn error_response(status: StatusCode, code: &str) -> Response {
    use axum::response::IntoResponse;
    ApiError::new(status, code, format!("injected fault: {code}")).into_response()
}

/// Cuts an answer: its headers go out, then `keep` bytes of its body (by
/// default half its length, as announced or, failing that, of its first
/// chunk), then, once those had time to leave, the connection closes
/// without the rest.
pub fn cut_response(response: Response, keep: Option<u64>) -> Response {
    let (parts, body) = response.into_parts();
    let announced = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let left = keep.or(announced.map(|n| n / 2));
    let cut = futures::stream::unfold(
        (body.into_data_stream(), left, Phase::Passing),
        |(mut body, mut left, phase)| async move {
            match phase {
                Phase::Done => None,
                Phase::Cutting => {
                    // What was kept goes out first: hyper writes the headers
                    // and the last chunk before it sees the error.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((Err(cut_error()), (body, left, Phase::Done)))
                }
                Phase::Passing => match body.next().await {
                    Some(Ok(mut chunk)) => {
                        let room = *left.get_or_insert(chunk.len() as u64 / 2);
                        if (chunk.len() as u64) < room {
                            let rest = Some(room - chunk.len() as u64);
                            Some((Ok(chunk), (body, rest, Phase::Passing)))
                        } else {
                            chunk.truncate(room as usize);
                            Some((Ok(chunk), (body, Some(0), Phase::Cutting)))
                        }
                    }
                    Some(Err(e)) => {
                        Some((Err(std::io::Error::other(e)), (body, left, Phase::Done)))
                    }
                    // A body shorter than what is kept: cut at its end.
                    None => Some((Ok(axum::body::Bytes::new()), (body, left, Phase::Cutting))),
                },
            }
        },
    );
    Response::from_parts(parts, Body::from_stream(cut))
}

/// Where a cut answer is.
#[derive(Clone, Copy)]
enum Phase {
    Passing,
    Cutting,
    Done,
}

fn cut_error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "injected fault: connection cut")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, count: Option<u64>) -> FaultRequest {
        FaultRequest {
            kind: FaultKind::Error,
            operation: Some("CommitFile".into()),
            path: None,
            app_key: None,
            code: Some(code.into()),
            status: None,
            delay_ms: None,
            bytes: None,
            count,
            probability: None,
        }
    }

    #[test]
    fn patterns_match_segment_by_segment() {
        assert!(path_matches(
            "/v1.0/storage/spaces/*/files/commit",
            "/v1.0/storage/spaces/9/files/commit"
        ));
        assert!(!path_matches(
            "/v1.0/storage/spaces/*/files/commit",
            "/v1.0/storage/spaces/9/x/files/commit"
        ));
        assert!(path_matches("/blob/**", "/blob/a/b/c"));
        assert!(!path_matches("/blob/*", "/blob/a/b"));
    }

    #[test]
    fn a_counted_fault_fires_that_often_then_goes() {
        let faults = Faults::new(true);
        faults.arm(error("operationTimeout", Some(2))).unwrap();
        let expected = Injected::Error {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "operationTimeout".into(),
        };
        assert_eq!(faults.take("GetSpace", "/v1.0/storage/spaces/1", None), None);
        assert_eq!(faults.take("CommitFile", "/x", None), Some(expected.clone()));
        assert_eq!(faults.take("CommitFile", "/x", None), Some(expected));
        assert_eq!(faults.take("CommitFile", "/x", None), None);
        assert!(!faults.any());
    }

    #[test]
    fn faults_are_refused_unless_allowed_and_checked() {
        assert!(Faults::new(false).arm(error("systemError", None)).is_err());
        let faults = Faults::new(true);
        assert!(faults.arm(error("madeUpCode", None)).is_err(), "no status for an unknown code");
        assert!(faults.arm(FaultRequest { status: Some(200), ..error("x", None) }).is_err());
        assert!(faults.arm(error("systemError", Some(0))).is_err());
        let delay = FaultRequest { kind: FaultKind::Delay, code: None, ..error("x", None) };
        assert!(faults
            .arm(FaultRequest { delay_ms: Some(MAX_DELAY_MS + 1), ..delay.clone() })
            .is_err());
        assert!(faults.arm(FaultRequest { delay_ms: Some(5), ..delay }).is_ok());
        // The admin API is never faulted.
        let all = FaultRequest { operation: None, ..error("systemError", None) };
        faults.arm(all).unwrap();
        assert_eq!(faults.take("Admin", "/admin/v1/faults", None), None);
        assert!(faults.clear(None).unwrap());
        assert!(!faults.any());
    }
}
