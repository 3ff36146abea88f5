//! Load driver of orgdrive's benchmark harness (`bench/run.sh`).
//!
//! Every subcommand prints exactly one JSON line with its results on stdout;
//! progress and diagnostics go to stderr. Latencies are measured per request
//! (or per cycle) on the client, in microseconds, into an HDR histogram and
//! reported in milliseconds.
//!
//! HTTP load: each of `--connections` workers owns one keep-alive TCP
//! connection (TCP_NODELAY, HTTP/1.1 via hyper's client connection API, no
//! pool) and issues requests back to back. Requests started during `--warmup`
//! are not counted; non-2xx answers are errors (not in the histogram).

mod build_folder;
mod client;
mod load;
mod sqlite_baseline;

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use hyper::Method;

use client::Target;
use load::{AddFolderOp, HttpOp, RunConfig, UploadCycleOp};

#[derive(Parser)]
#[command(name = "loadgen", about = "orgdrive benchmark load driver (one JSON line per run)")]
struct Cli {
    /// Tokio worker threads of the client (default: number of CPUs).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct LoadArgs {
    /// Concurrent keep-alive connections (one worker each).
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Measured seconds (after the warmup). With --requests: an upper bound (default 3600).
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Stop after this many measured requests (all connections together).
    #[arg(long)]
    requests: Option<u64>,
}

impl LoadArgs {
    fn config(&self) -> RunConfig {
        let duration = self.duration.unwrap_or(if self.requests.is_some() { 3600.0 } else { 10.0 });
        RunConfig {
            connections: self.connections.max(1),
            duration: Duration::from_secs_f64(duration),
            warmup: Duration::from_secs_f64(self.warmup),
            requests: self.requests,
        }
    }
}

#[derive(Args, Clone)]
struct ApiArgs {
    /// Server base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    base: String,
    /// Space id.
    #[arg(long)]
    space: String,
    #[arg(long = "union-id")]
    union_id: String,
    /// Access token (x-acs-dingtalk-access-token).
    #[arg(long)]
    token: String,
    /// Parent folder id.
    #[arg(long = "parent-id", default_value = "0")]
    parent_id: String,
    /// Prefix of the generated names (default: unique per process).
    #[arg(long)]
    prefix: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Requests/s and latency of one fixed request.
    Http {
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "GET")]
        method: String,
        /// Request header `name: value` (repeatable).
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        /// Request body.
        #[arg(long)]
        body: Option<String>,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// AddFolder/s with a unique name per request (RETURN_ERROR_IF_EXISTS).
    AddFolder {
        #[command(flatten)]
        api: ApiArgs,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Full upload cycles/s: GetFileUploadInfo -> PUT -> CommitFile.
    UploadCycle {
        #[command(flatten)]
        api: ApiArgs,
        /// Bytes per file.
        #[arg(long, default_value_t = 4096)]
        size: usize,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Raw SQLite insert transactions/s (WAL, synchronous=FULL, one connection).
    SqliteBaseline {
        /// Database file (created; removed first if it exists).
        #[arg(long)]
        path: std::path::PathBuf,
        /// Seconds of 1-row transactions.
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        /// Seconds of 1000-row transactions (default: --duration; 0 skips the phase).
        #[arg(long = "batch-duration")]
        batch_duration: Option<f64>,
    },
    /// Builds a data dir with one folder of N files through orgdrive-sqlite.
    BuildFolder {
        #[arg(long = "data-dir")]
        data_dir: std::path::PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Dentries per insert_dentries_unchecked call (one transaction each).
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        #[arg(long = "app-key", default_value = "bench-app")]
        app_key: String,
        #[arg(long = "app-secret", default_value = "bench-secret-0123456789abcdef")]
        app_secret: String,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let threads = cli
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    let result = match cli.command {
        Command::Http { url, method, headers, body, load } => {
            let target = Target::parse(&url)?;
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                .map_err(|_| anyhow!("bad method {method}"))?;
            let headers = headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>>>()?;
            let body = Bytes::from(body.unwrap_or_default());
            let config = load.config();
            let ops = (0..config.connections)
                .map(|_| HttpOp::new(&target, method.clone(), headers.clone(), body.clone()))
                .collect();
            let mut out = runtime.block_on(load::run(config, ops));
            out["cmd"] = "http".into();
            out["url"] = url.into();
            out
        }
        Command::AddFolder { api, load } => {
            let target = Target::parse(&api.base)?;
            let prefix = api.prefix.clone().unwrap_or_else(unique_prefix);
            let config = load.config();
            let ops = (0..config.connections)
                .map(|i| {
                    AddFolderOp::new(
                        &target,
                        &api.space,
                        &api.parent_id,
                        &api.union_id,
                        &api.token,
                        format!("f-{prefix}-{i}"),
                    )
                })
                .collect();
            let mut out = runtime.block_on(load::run(config, ops));
            out["cmd"] = "add-folder".into();
            out
        }
        Command::UploadCycle { api, size, load } => {
            let target = Target::parse(&api.base)?;
            let prefix = api.prefix.clone().unwrap_or_else(unique_prefix);
            let payload = Bytes::from(pseudo_random(size));
            let config = load.config();
            let ops = (0..config.connections)
                .map(|i| {
                    UploadCycleOp::new(
                        &target,
                        &api.space,
                        &api.parent_id,
                        &api.union_id,
                        &api.token,
                        format!("u-{prefix}-{i}"),
                        payload.clone(),
                    )
                })
                .collect();
            let mut out = runtime.block_on(load::run(config, ops));
            out["cmd"] = "upload-cycle".into();
            out["size"] = size.into();
            out
        }
        Command::SqliteBaseline { path, duration, batch_duration } => sqlite_baseline::run(
            &path,
            Duration::from_secs_f64(duration),
            Duration::from_secs_f64(batch_duration.unwrap_or(duration)),
        )?,
        Command::BuildFolder { data_dir, entries, batch, app_key, app_secret } => runtime
            .block_on(build_folder::run(&data_dir, entries, batch.max(1), &app_key, &app_secret))
            .context("build-folder")?,
    };
    println!("{result}");
    Ok(())
}

fn parse_header(h: &str) -> Result<(String, String)> {
    let (k, v) = h.split_once(':').ok_or_else(|| anyhow!("header {h:?} is not `name: value`"))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

fn unique_prefix() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{ms:x}{:x}", std::process::id())
}

/// Deterministic filler bytes (xorshift), so payloads are not trivially compressible.
fn pseudo_random(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
