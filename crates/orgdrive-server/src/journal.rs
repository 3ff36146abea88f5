//! The request journal (emulator mode): the last N requests this node
//! answered — operation, operator, app, status, error code, latency,
//! request id — kept in memory and read through the admin API
//! (`GET /admin/v1/journal`), so that a developer sees why their app got
//! `paramError.parentId`. On with `--journal N` (1,000 by default with
//! `--ephemeral`, else off).
//!
//! Never a secret: no query string (a signed URL's is a credential), no
//! header; the access token only as its SHA-256 digest, which the admin API
//! turns into the token's appKey when it is read (an expired token's app is
//! no longer known). The path is hidden where it may hold a credential (a
//! preview link) or anything (a path no route serves). Request bodies only
//! with `--journal-bodies`: JSON bodies of the DingTalk API (not the admin
//! API's, the console's or WebDAV's) up to [`MAX_BODY_BYTES`], every value
//! whose key names a secret, a password, a token, a key for AES or a
//! signature replaced by `"<redacted>"`; larger or non-JSON bodies are not
//! kept.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Entries a journal keeps at most, whatever `--journal` asks.
pub const MAX_JOURNAL: usize = 100_000;
/// The largest request body a journal keeps.
pub const MAX_BODY_BYTES: usize = 4096;

/// One answered request.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: u64,
    pub at_ms: i64,
    pub request_id: String,
    pub method: String,
    pub operation: &'static str,
    pub path: String,
    pub status: u16,
    /// The DingTalk error code of an error answer.
    pub code: Option<String>,
    pub latency_us: u64,
    /// The `unionId` the request named.
    pub union_id: Option<String>,
    /// SHA-256 (hex) of the request's access token.
    pub token_digest: Option<String>,
    /// The request's JSON body, secrets redacted (`--journal-bodies`).
    pub body: Option<serde_json::Value>,
}

/// What `GET /admin/v1/journal` selects.
#[derive(Debug, Default)]
pub struct Filter {
    /// Newest first, at most this many (default 100).
    pub limit: Option<usize>,
    pub operation: Option<String>,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub union_id: Option<String>,
    /// Only entries with a sequence number below this (paging back).
    pub before: Option<u64>,
}

/// The last `capacity` requests; nothing when `capacity` is 0.
#[derive(Debug, Default)]
pub struct Journal {
    capacity: usize,
    bodies: bool,
    entries: Mutex<VecDeque<Entry>>,
    next_seq: AtomicU64,
}

impl Journal {
    pub fn new(capacity: usize, bodies: bool) -> Journal {
        let capacity = capacity.min(MAX_JOURNAL);
        Journal {
            capacity,
            bodies,
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            next_seq: AtomicU64::new(1),
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Whether a request's body is kept (see the module's docs).
    pub fn keeps_body(&self, request: &axum::extract::Request) -> bool {
        let path = request.uri().path();
        let json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        self.bodies && json && path.starts_with("/v1.0/")
    }

    /// Keeps `entry` (its `seq` is set here), dropping the oldest if full.
    pub fn record(&self, mut entry: Entry) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entry.seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The entries `filter` selects, newest first.
    pub fn select(&self, filter: &Filter) -> Vec<Entry> {
        let limit = filter.limit.unwrap_or(100).min(self.capacity.max(1));
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .rev()
            .filter(|e| filter.before.is_none_or(|b| e.seq < b))
            .filter(|e| filter.operation.as_deref().is_none_or(|o| e.operation == o))
            .filter(|e| filter.status.is_none_or(|s| e.status == s))
            .filter(|e| filter.code.as_deref().is_none_or(|c| e.code.as_deref() == Some(c)))
            .filter(|e| filter.union_id.as_deref().is_none_or(|u| e.union_id.as_deref() == Some(u)))
            .take(limit)
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// What a request's body showed on its way to the handler.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<(Vec<u8>, bool)>>);

impl Captured {
    /// The body as JSON with its secrets redacted; `None` if it was larger
    /// than [`MAX_BODY_BYTES`], not JSON, or never read.
    pub fn redacted(&self) -> Option<serde_json::Value> {
        let captured = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if captured.1 || captured.0.is_empty() {
            return None;
        }
        let mut value: serde_json::Value = serde_json::from_slice(&captured.0).ok()?;
        redact(&mut value);
        Some(value)
    }
}

/// Copies the first [`MAX_BODY_BYTES`] of the request's body as the
/// handler reads it (no read of its own: what the handler leaves unread is
/// not kept).
pub fn capture_body(request: axum::extract::Request) -> (axum::extract::Request, Captured) {
    use futures::StreamExt;
    let captured = Captured::default();
    let copy = captured.clone();
    let request = request.map(|body| {
        axum::body::Body::from_stream(body.into_data_stream().inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                let mut kept = copy.0.lock().unwrap_or_else(|e| e.into_inner());
                if kept.0.len() + bytes.len() <= MAX_BODY_BYTES {
                    kept.0.extend_from_slice(bytes);
                } else {
                    kept.1 = true;
                }
            }
        }))
    });
    (request, captured)
}

/// Replaces every value whose key names a secret.
fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let key = key.to_ascii_lowercase();
                let secret = ["secret", "password", "token", "aeskey", "signature"]
                    .iter()
                    .any(|word| key.contains(word));
                if secret {
                    *value = serde_json::Value::String("<redacted>".into());
                } else {
                    redact(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// `entries` with the appKey of each one's token (each distinct token
/// looked up once; `None` once the token expired).
pub async fn with_app_keys(
    drive: &orgdrive_core::Drive,
    entries: Vec<Entry>,
) -> Vec<(Entry, Option<String>)> {
    let mut apps: std::collections::HashMap<String, Option<String>> = Default::default();
    for digest in entries.iter().filter_map(|e| e.token_digest.as_deref()) {
        if !apps.contains_key(digest) {
            let app = drive.token_digest_app(digest).await.ok().flatten().map(|a| a.app_key);
            apps.insert(digest.to_string(), app);
        }
    }
    entries
        .into_iter()
        .map(|e| {
            let app_key = e.token_digest.as_ref().and_then(|d| apps.get(d).cloned().flatten());
            (e, app_key)
        })
        .collect()
}

/// The error code an error answer carries (set where domain errors become
/// DingTalk errors, read by the frame for the journal).
#[derive(Debug, Clone)]
pub struct ErrorCode(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(operation: &'static str, status: u16) -> Entry {
        Entry {
            seq: 0,
            at_ms: 0,
            request_id: "r".into(),
            method: "POST".into(),
            operation,
            path: "/p".into(),
            status,
            code: (status >= 400).then(|| "paramError.parentId".into()),
            latency_us: 1,
            union_id: Some("u".into()),
            token_digest: None,
            body: None,
        }
    }

    #[test]
    fn keeps_the_last_entries_and_selects_newest_first() {
        let journal = Journal::new(3, false);
        for (i, op) in ["A", "B", "C", "D"].into_iter().enumerate() {
            journal.record(entry(op, if i % 2 == 0 { 200 } else { 400 }));
        }
        let all: Vec<_> = journal.select(&Filter::default()).iter().map(|e| e.operation).collect();
        assert_eq!(all, ["D", "C", "B"]);
        let errors = journal.select(&Filter { status: Some(400), ..Filter::default() });
        assert_eq!(errors.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 2]);
        let code = Filter { code: Some("paramError.parentId".into()), ..Filter::default() };
        assert_eq!(journal.select(&code).len(), 2);
        let back = Filter { before: Some(4), limit: Some(1), ..Filter::default() };
        assert_eq!(journal.select(&back)[0].operation, "C");
        journal.clear();
        assert!(journal.select(&Filter::default()).is_empty());
    }

    #[test]
    fn an_off_journal_keeps_nothing() {
        let journal = Journal::new(0, false);
        journal.record(entry("A", 200));
        assert!(!journal.enabled() && journal.select(&Filter::default()).is_empty());
    }

    #[test]
    fn secrets_in_bodies_are_redacted() {
        let mut body = serde_json::json!({"appKey": "k", "appSecret": "s", "option": {
            "password": "p", "accessToken": "t", "aesKey": "a", "name": "n"}, "list": [{"token": "x"}]});
        redact(&mut body);
        let text = body.to_string();
        for secret in ["\"s\"", "\"p\"", "\"t\"", "\"a\"", "\"x\""] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(body["appKey"], "k");
        assert_eq!(body["option"]["name"], "n");
    }
}
