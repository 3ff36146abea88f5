//! Closed-loop load: N workers, each with its own connection(s), each issuing
//! its operation back to back until the time (or request budget) runs out.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::header::{HeaderName, HeaderValue};
use hyper::Method;
use serde_json::{json, Value};

use crate::client::{header, Conn, Target};

pub struct RunConfig {
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub requests: Option<u64>,
    /// Stop (before `duration`) as soon as this file exists; checked every ms.
    pub until_file: Option<PathBuf>,
}

/// What one operation ended with.
pub enum Outcome {
    Ok,
    /// A non-2xx answer (the step that got it and its body, shortened).
    Status(u16, String),
    /// No answer (connection refused/reset, bad response...).
    Failed(String),
}

pub type OpFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// One unit of load; `n` counts this worker's operations from 0.
pub trait Op: Send + 'static {
    fn call(&mut self, n: u64) -> OpFuture<'_>;
}

struct WorkerResult {
    hist: Histogram<u64>,
    ok: u64,
    ok_all: u64,
    errors: u64,
    statuses: BTreeMap<u16, u64>,
    last_error: Option<String>,
    first_us: Option<u64>,
    finished: Instant,
}

pub async fn run<O: Op>(config: RunConfig, ops: Vec<O>) -> Value {
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let end = measure_from + config.duration;
    let budget = Arc::new(AtomicI64::new(
        config.requests.map(|r| r.min(i64::MAX as u64) as i64).unwrap_or(i64::MAX),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    // Tells the caller (stderr) when measuring starts, and watches the stop file.
    let watcher = {
        let stop = stop.clone();
        let until_file = config.until_file.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from.into()).await;
            eprintln!("[loadgen] measuring");
            if let Some(path) = until_file {
                while !stop.load(Ordering::Relaxed) {
                    if path.exists() {
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        })
    };
    let mut handles = Vec::new();
    for mut op in ops {
        let budget = budget.clone();
        let stop = stop.clone();
        handles.push(tokio::spawn(async move {
            let mut r = WorkerResult {
                hist: Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram"),
                ok: 0,
                ok_all: 0,
                errors: 0,
                statuses: BTreeMap::new(),
                last_error: None,
                first_us: None,
                finished: Instant::now(),
            };
            let mut n = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= end || stop.load(Ordering::Relaxed) {
                    break;
                }
                let measured = t0 >= measure_from;
                if measured && budget.fetch_sub(1, Ordering::Relaxed) <= 0 {
                    break;
                }
                let outcome = op.call(n).await;
                let us = (t0.elapsed().as_micros() as u64).max(1);
                n += 1;
                r.first_us.get_or_insert(us);
                match outcome {
                    Outcome::Ok => {
                        r.ok_all += 1;
                        if measured {
                            r.ok += 1;
                            let _ = r.hist.record(us);
                        }
                    }
                    Outcome::Status(status, msg) => {
                        r.errors += 1;
                        *r.statuses.entry(status).or_default() += 1;
                        r.last_error = Some(msg);
                    }
                    Outcome::Failed(msg) => {
                        r.errors += 1;
                        r.last_error = Some(msg);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            r.finished = Instant::now();
            r
        }));
    }
    let mut hist: Histogram<u64> =
        Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram");
    let (mut ok, mut ok_all, mut errors) = (0u64, 0u64, 0u64);
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut last_error = None;
    let mut first_us = None;
    let mut finished = measure_from;
    for (i, h) in handles.into_iter().enumerate() {
        let r = match h.await {
            Ok(r) => r,
            Err(e) => {
                errors += 1;
                last_error = Some(format!("worker panicked: {e}"));
                continue;
            }
        };
        hist.add(&r.hist).expect("histogram add");
        ok += r.ok;
        ok_all += r.ok_all;
        errors += r.errors;
        for (s, c) in r.statuses {
            *statuses.entry(s).or_default() += c;
        }
        if r.last_error.is_some() {
            last_error = r.last_error;
        }
        if i == 0 {
            first_us = r.first_us;
        }
        finished = finished.max(r.finished);
    }
    stop.store(true, Ordering::Relaxed);
    watcher.abort();
    let secs = finished.saturating_duration_since(measure_from).as_secs_f64().max(1e-9);
    let ms = |us: u64| us as f64 / 1000.0;
    let q = |p: f64| if hist.is_empty() { 0.0 } else { ms(hist.value_at_quantile(p)) };
    let status_map: serde_json::Map<String, Value> =
        statuses.iter().map(|(s, c)| (s.to_string(), json!(c))).collect();
    json!({
        "connections": config.connections,
        "warmup_s": config.warmup.as_secs_f64(),
        "seconds": round(secs, 3),
        "ok": ok,
        "ok_all": ok_all,
        "errors": errors,
        "error_statuses": status_map,
        "last_error": last_error,
        "rps": round(ok as f64 / secs, 1),
        "mean_ms": round(if hist.is_empty() { 0.0 } else { hist.mean() / 1000.0 }, 3),
        "p50_ms": round(q(0.50), 3),
        "p90_ms": round(q(0.90), 3),
        "p99_ms": round(q(0.99), 3),
        "max_ms": round(if hist.is_empty() { 0.0 } else { ms(hist.max()) }, 3),
        "first_ms": first_us.map(|u| round(ms(u), 3)),
    })
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

pub(crate) fn short(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    s.chars().take(300).collect()
}

pub(crate) type Headers = Vec<(HeaderName, HeaderValue)>;

pub(crate) fn json_headers(token: &str) -> Headers {
    vec![
        header("content-type", "application/json").expect("header"),
        header("x-acs-dingtalk-access-token", token).expect("token is a valid header value"),
    ]
}

// ---- http -----------------------------------------------------------------

pub struct HttpOp {
    conn: Conn,
    method: Method,
    path: String,
    headers: Headers,
    body: Bytes,
}

impl HttpOp {
    pub fn new(
        target: &Target,
        method: Method,
        headers: Vec<(String, String)>,
        body: Bytes,
    ) -> HttpOp {
        let headers = headers.iter().map(|(k, v)| header(k, v).expect("valid header")).collect();
        HttpOp {
            conn: Conn::new(&target.authority),
            method,
            path: target.path_and_query.clone(),
            headers,
            body,
        }
    }
}

impl Op for HttpOp {
    fn call(&mut self, _n: u64) -> OpFuture<'_> {
        Box::pin(async move {
            match self.conn.send(&self.method, &self.path, &self.headers, self.body.clone()).await {
                Ok(r) if (200..300).contains(&r.status) => Outcome::Ok,
                Ok(r) => Outcome::Status(r.status, short(&r.body)),
                Err(e) => Outcome::Failed(e.to_string()),
            }
        })
    }
}

// ---- add-folder -------------------------------------------------------------

pub struct AddFolderOp {
    conn: Conn,
    path: String,
    headers: Headers,
    prefix: String,
}

impl AddFolderOp {
    pub fn new(
        target: &Target,
        space: &str,
        parent: &str,
        union_id: &str,
        token: &str,
        prefix: String,
    ) -> AddFolderOp {
        AddFolderOp {
            conn: Conn::new(&target.authority),
            path: format!(
                "/v1.0/storage/spaces/{space}/dentries/{parent}/folders?unionId={union_id}"
            ),
            headers: json_headers(token),
            prefix,
        }
    }
}

impl Op for AddFolderOp {
    fn call(&mut self, n: u64) -> OpFuture<'_> {
        Box::pin(async move {
            let body = json!({
                "name": format!("{}-{n}", self.prefix),
                "option": {"conflictStrategy": "RETURN_ERROR_IF_EXISTS"},
            });
            match self
                .conn
                .send(&Method::POST, &self.path, &self.headers, body.to_string().into())
                .await
            {
                Ok(r) if (200..300).contains(&r.status) => Outcome::Ok,
                Ok(r) => Outcome::Status(r.status, format!("AddFolder: {}", short(&r.body))),
                Err(e) => Outcome::Failed(e.to_string()),
            }
        })
    }
}

// ---- upload-cycle -------------------------------------------------------------

/// The time the upload cycles of a load spent in each of their three steps
/// (GetFileUploadInfo, the PUT, CommitFile), summed over the cycles that
/// succeeded on every connection, warm-up included: where a cycle's time
/// goes.
#[derive(Default)]
pub struct CycleSteps {
    nanos: [AtomicU64; 3],
    cycles: AtomicU64,
}

impl CycleSteps {
    const NAMES: [&'static str; 3] = ["upload_info", "put", "commit"];

    /// One cycle that succeeded, and the time of each of its steps.
    fn add(&self, took: [Duration; 3]) {
        for (sum, step) in self.nanos.iter().zip(took) {
            sum.fetch_add(u64::try_from(step.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
        self.cycles.fetch_add(1, Ordering::Relaxed);
    }

    /// The mean milliseconds of each step over the cycles that succeeded;
    /// null when none did.
    pub fn mean_ms(&self) -> serde_json::Value {
        let cycles = self.cycles.load(Ordering::Relaxed);
        if cycles == 0 {
            return serde_json::Value::Null;
        }
        let mean =
            |step: usize| self.nanos[step].load(Ordering::Relaxed) as f64 / cycles as f64 / 1e6;
        Self::NAMES
            .iter()
            .enumerate()
            .map(|(step, name)| (name.to_string(), ((mean(step) * 1000.0).round() / 1000.0).into()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

pub struct UploadCycleOp {
    /// Where the steps' times are summed, if anywhere.
    steps: Option<Arc<CycleSteps>>,
    conn: Conn,
    /// Connections to other authorities, should the signed URLs point elsewhere.
    others: HashMap<String, Conn>,
    authority: String,
    info_path: String,
    commit_path: String,
    headers: Headers,
    parent: String,
    prefix: String,
    payload: Bytes,
}

impl UploadCycleOp {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        target: &Target,
        space: &str,
        parent: &str,
        union_id: &str,
        token: &str,
        prefix: String,
        payload: Bytes,
    ) -> UploadCycleOp {
        UploadCycleOp {
            steps: None,
            conn: Conn::new(&target.authority),
            others: HashMap::new(),
            authority: target.authority.clone(),
            info_path: format!(
                "/v1.0/storage/spaces/{space}/files/uploadInfos/query?unionId={union_id}"
            ),
            commit_path: format!("/v1.0/storage/spaces/{space}/files/commit?unionId={union_id}"),
            headers: json_headers(token),
            parent: parent.to_string(),
            prefix,
            payload,
        }
    }

    /// Sums the time of each step of this op's cycles into `steps`.
    pub fn timed(self, steps: Arc<CycleSteps>) -> UploadCycleOp {
        UploadCycleOp { steps: Some(steps), ..self }
    }

    /// One cycle that must succeed: the committed dentry (for setting up
    /// other loads, e.g. the files `rename-cycle` and `move-cycle` work on).
    pub async fn upload_one(&mut self, n: u64) -> Result<Value> {
        match self.cycle(n).await? {
            Ok(dentry) => Ok(dentry),
            Err((status, msg)) => bail!("HTTP {status}: {msg}"),
        }
    }

    /// Ok(the committed dentry) or Err((status, message)) of the step that
    /// was refused.
    async fn cycle(&mut self, n: u64) -> Result<Result<Value, (u16, String)>> {
        let mut took = [Duration::ZERO; 3];
        let mut started = Instant::now();
        let mut step_done = |step: usize| {
            took[step] = started.elapsed();
            started = Instant::now();
        };
        // 1. GetFileUploadInfo
        let info_body = json!({"protocol": "HEADER_SIGNATURE", "multipart": false});
        let r = self
            .conn
            .send(&Method::POST, &self.info_path, &self.headers, info_body.to_string().into())
            .await?;
        if !(200..300).contains(&r.status) {
            return Ok(Err((r.status, format!("GetFileUploadInfo: {}", short(&r.body)))));
        }
        step_done(0);
        let info: Value = serde_json::from_slice(&r.body)?;
        let upload_key = info["uploadKey"].as_str().ok_or_else(|| anyhow!("no uploadKey"))?;
        let sig = &info["headerSignatureInfo"];
        let url = sig["resourceUrls"][0].as_str().ok_or_else(|| anyhow!("no resourceUrls[0]"))?;
        let mut put_headers = Vec::new();
        if let Some(h) = sig["headers"].as_object() {
            for (k, v) in h {
                put_headers.push(header(k, v.as_str().unwrap_or_default())?);
            }
        }
        // 2. PUT the bytes to the signed URL
        let target = Target::parse(url)?;
        let conn = if target.authority == self.authority {
            &mut self.conn
        } else {
            self.others
                .entry(target.authority.clone())
                .or_insert_with(|| Conn::new(&target.authority))
        };
        let r = conn
            .send(&Method::PUT, &target.path_and_query, &put_headers, self.payload.clone())
            .await?;
        if !(200..300).contains(&r.status) {
            return Ok(Err((r.status, format!("PUT: {}", short(&r.body)))));
        }
        step_done(1);
        // 3. CommitFile
        let commit = json!({
            "uploadKey": upload_key,
            "name": format!("{}-{n}.bin", self.prefix),
            "parentId": self.parent,
        });
        let r = self
            .conn
            .send(&Method::POST, &self.commit_path, &self.headers, commit.to_string().into())
            .await?;
        if !(200..300).contains(&r.status) {
            return Ok(Err((r.status, format!("CommitFile: {}", short(&r.body)))));
        }
        step_done(2);
        let mut committed: Value = serde_json::from_slice(&r.body)?;
        if committed["dentry"]["size"].as_u64() != Some(self.payload.len() as u64) {
            bail!("CommitFile answered an unexpected dentry: {}", short(&r.body));
        }
        if let Some(steps) = &self.steps {
            steps.add(took);
        }
        Ok(Ok(committed["dentry"].take()))
    }
}

impl Op for UploadCycleOp {
    fn call(&mut self, n: u64) -> OpFuture<'_> {
        Box::pin(async move {
            match self.cycle(n).await {
                Ok(Ok(_)) => Outcome::Ok,
                Ok(Err((status, msg))) => Outcome::Status(status, msg),
                Err(e) => Outcome::Failed(e.to_string()),
            }
        })
    }
}
