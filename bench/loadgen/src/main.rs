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
mod lifecycle;
mod load;
mod query_plan;
mod sqlite_baseline;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use hyper::Method;

use client::Target;
use lifecycle::{Api, MoveCycleOp, RenameCycleOp};
use load::{AddFolderOp, CycleSteps, HttpOp, Op, RunConfig, UploadCycleOp};

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
    /// Stop measuring as soon as this file exists (--duration is then an upper bound).
    /// "[loadgen] measuring" on stderr tells when the warmup ended.
    #[arg(long = "until-file")]
    until_file: Option<std::path::PathBuf>,
}

impl LoadArgs {
    fn config(&self) -> RunConfig {
        let duration = self.duration.unwrap_or(if self.requests.is_some() { 3600.0 } else { 10.0 });
        RunConfig {
            connections: self.connections.max(1),
            duration: Duration::from_secs_f64(duration),
            warmup: Duration::from_secs_f64(self.warmup),
            requests: self.requests,
            until_file: self.until_file.clone(),
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
        /// More spaces (comma-separated ids, with the same parent id), the
        /// connections spread over them and `--space`: connection i writes
        /// to the (i mod n)-th.
        #[arg(long, value_delimiter = ',')]
        more_spaces: Vec<String>,
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
    /// RenameDentry/s: each connection renames its own file (uploaded first,
    /// into --parent-id) alternately between two names.
    RenameCycle {
        #[command(flatten)]
        api: ApiArgs,
        /// Bytes of each connection's file.
        #[arg(long, default_value_t = 4096)]
        size: usize,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// MoveDentry/s within a space: each connection moves its own file
    /// (uploaded first) alternately between two folders, created first under
    /// --parent-id unless given with --folders.
    MoveCycle {
        #[command(flatten)]
        api: ApiArgs,
        /// The two folders (ids, comma-separated) instead of two new ones.
        #[arg(long, value_delimiter = ',', num_args = 2)]
        folders: Option<Vec<String>>,
        /// Bytes of each connection's file.
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
    /// EXPLAIN QUERY PLAN and timing of one statement in orgdrive's bundled
    /// SQLite, on a database opened read-only.
    QueryPlan {
        /// The database, e.g. DATA_DIR/meta.sqlite.
        #[arg(long)]
        db: std::path::PathBuf,
        /// The statement (with ?1, ?2... placeholders).
        #[arg(long)]
        sql: String,
        /// Values of ?1, ?2... in order (an integer unless it starts with `'`).
        #[arg(long = "param")]
        params: Vec<String>,
    },
    /// Builds a data dir with one folder of N descendants through orgdrive-sqlite.
    BuildFolder {
        #[arg(long = "data-dir")]
        data_dir: std::path::PathBuf,
        /// Descendants of the folder (subfolders included).
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Put the files into this many subfolders of the folder (round robin)
        /// instead of directly into it.
        #[arg(long, default_value_t = 0)]
        subfolders: u64,
        /// Name of the folder (under the space's root).
        #[arg(long = "folder-name", default_value = "big")]
        folder_name: String,
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
        Command::AddFolder { api, more_spaces, load } => {
            let target = Target::parse(&api.base)?;
            let prefix = api.prefix.clone().unwrap_or_else(unique_prefix);
            let config = load.config();
            let spaces: Vec<&String> = std::iter::once(&api.space).chain(&more_spaces).collect();
            let ops = (0..config.connections)
                .map(|i| {
                    AddFolderOp::new(
                        &target,
                        spaces[i % spaces.len()],
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
            let steps = Arc::new(CycleSteps::default());
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
                    .timed(steps.clone())
                })
                .collect();
            let mut out = runtime.block_on(load::run(config, ops));
            out["cmd"] = "upload-cycle".into();
            out["step_ms"] = steps.mean_ms();
            out["size"] = size.into();
            out
        }
        Command::RenameCycle { api, size, load } => {
            let prefix = api.prefix.clone().unwrap_or_else(unique_prefix);
            let (a, payload, config) =
                (api_of(&api)?, Bytes::from(pseudo_random(size)), load.config());
            let parent = api.parent_id.clone();
            let (ops, setup_s) = runtime.block_on(prepare(config.connections, |i| {
                let (a, parent, payload) = (a.clone(), parent.clone(), payload.clone());
                let prefix = format!("r-{prefix}-{i}");
                async move { RenameCycleOp::prepare(&a, &parent, &prefix, payload).await }
            }))?;
            let mut out = runtime.block_on(load::run(config, ops));
            out["cmd"] = "rename-cycle".into();
            out["setup_s"] = setup_s.into();
            out
        }
        Command::MoveCycle { api, folders, size, load } => {
            let prefix = api.prefix.clone().unwrap_or_else(unique_prefix);
            let (a, payload, config) =
                (api_of(&api)?, Bytes::from(pseudo_random(size)), load.config());
            let folders: [String; 2] = match folders {
                Some(f) => [f[0].clone(), f[1].clone()],
                None => runtime.block_on(async {
                    let x = lifecycle::create_folder(&a, &api.parent_id, &format!("mv-{prefix}-a"))
                        .await?;
                    let y = lifecycle::create_folder(&a, &api.parent_id, &format!("mv-{prefix}-b"))
                        .await?;
                    anyhow::Ok([x, y])
                })?,
            };
            let (ops, setup_s) = runtime.block_on(prepare(config.connections, |i| {
                let (a, folders, payload) = (a.clone(), folders.clone(), payload.clone());
                let prefix = format!("m-{prefix}-{i}");
                async move { MoveCycleOp::prepare(&a, folders, &prefix, payload).await }
            }))?;
            let mut out = runtime.block_on(load::run(config, ops));
            out["cmd"] = "move-cycle".into();
            out["folders"] = folders.to_vec().into();
            out["setup_s"] = setup_s.into();
            out
        }
        Command::SqliteBaseline { path, duration, batch_duration } => sqlite_baseline::run(
            &path,
            Duration::from_secs_f64(duration),
            Duration::from_secs_f64(batch_duration.unwrap_or(duration)),
        )?,
        Command::QueryPlan { db, sql, params } => query_plan::run(&db, &sql, &params)?,
        Command::BuildFolder {
            data_dir,
            entries,
            subfolders,
            folder_name,
            batch,
            app_key,
            app_secret,
        } => runtime
            .block_on(build_folder::run(
                &data_dir,
                entries,
                batch.max(1),
                &app_key,
                &app_secret,
                subfolders,
                &folder_name,
            ))
            .context("build-folder")?,
    };
    println!("{result}");
    Ok(())
}

fn api_of(api: &ApiArgs) -> Result<Api> {
    Ok(Api {
        target: Target::parse(&api.base)?,
        space: api.space.clone(),
        union_id: api.union_id.clone(),
        token: api.token.clone(),
    })
}

/// Sets up one op per connection, at most 16 at a time (each on its own
/// connection); answers them in order and the seconds it took.
async fn prepare<O, F, Fut>(n: usize, make: F) -> Result<(Vec<O>, f64)>
where
    O: Op,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<O>> + Send + 'static,
{
    let started = std::time::Instant::now();
    let mut ops = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(16) {
        let handles: Vec<_> = chunk.iter().map(|&i| tokio::spawn(make(i))).collect();
        for (h, i) in handles.into_iter().zip(chunk) {
            ops.push(
                h.await
                    .context("setup task")?
                    .with_context(|| format!("setting up connection {i}"))?,
            );
        }
    }
    Ok((ops, (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0))
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
