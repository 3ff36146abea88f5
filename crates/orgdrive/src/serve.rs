//! `orgdrive serve`: open (or create) the data dir, seed the demo account on
//! first start (unless `--no-demo`), print how to connect, serve the API (and
//! the admin API, on its own address with `--admin-listen`) until SIGTERM /
//! Ctrl-C. Secrets shorter than 32 bytes are refused at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use orgdrive_core::{DemoAccount, Drive, OpenUploadLimits, Seed, Takeover};
use orgdrive_server::{admin_router, router, serve, Limits, ServerState};

use crate::relay;
use crate::store::{
    check_secret, stored_or_new_secret, write_private, Durability, MetaLocation, OpenOptions,
};
use tokio::net::TcpListener;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ORGDRIVE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve the admin API on this address only (production: a private
    /// address); default: on the API listener under /admin/v1.
    #[arg(long, env = "ORGDRIVE_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
    /// Do not create the demo org, app and user on first start.
    #[arg(long, env = "ORGDRIVE_NO_DEMO")]
    no_demo: bool,
    /// A seed file (JSON): orgs, apps, users, departments, spaces and files
    /// with fixed ids and credentials, made at start where missing (see
    /// README, "Using orgdrive in your app's tests"). No demo account then.
    #[arg(long, env = "ORGDRIVE_SEED")]
    seed: Option<PathBuf>,
    /// Data directory: SQLite metadata (meta.sqlite) and file contents (blobs/).
    #[arg(long, env = "ORGDRIVE_DATA_DIR", default_value = "./orgdrive-data")]
    data_dir: PathBuf,
    /// Metadata store: `sqlite` (DATA_DIR/meta.sqlite, the default) or a
    /// PostgreSQL URL (`postgres://user:password@host:5432/db`) that several
    /// nodes share; then give every node the same --signing-key.
    #[arg(long, env = "ORGDRIVE_META", hide_env_values = true, default_value = "sqlite",
          value_parser = crate::store::parse_meta)]
    meta: MetaLocation,
    /// Content store instead of DATA_DIR/blobs: a path, fs:///path,
    /// s3://bucket?endpoint=…&region=…&root=…&path_style=… (credentials from
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) or oss://bucket?endpoint=…
    /// (OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET). On S3/OSS clients PUT and
    /// GET bytes on the bucket's presigned URLs.
    #[arg(long, env = "ORGDRIVE_BLOB", hide_env_values = true)]
    blob: Option<String>,
    /// Use a throw-away data dir, deleted on exit (tests, demos).
    #[arg(long, env = "ORGDRIVE_EPHEMERAL", conflicts_with = "data_dir")]
    ephemeral: bool,
    /// Token for the admin API (`Authorization: Bearer ...`, at least 32
    /// bytes); else the one in DATA_DIR/admin.token, else a new one written there.
    #[arg(long, env = "ORGDRIVE_ADMIN_TOKEN", hide_env_values = true, allow_hyphen_values = true)]
    admin_token: Option<String>,
    /// A token that may read /metrics (`Authorization: Bearer ...`, at least
    /// 32 bytes) and nothing else, for a monitoring system; the admin token
    /// reads them too.
    #[arg(
        long,
        env = "ORGDRIVE_METRICS_TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    metrics_token: Option<String>,
    /// Base URL of signed upload/download URLs, as clients reach this server
    /// (e.g. https://drive.example.com); default: http:// + the request's Host.
    #[arg(long, env = "ORGDRIVE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Secret that signs blob URLs (at least 32 bytes); else DATA_DIR/signing.key
    /// (created on first start). Give every node of one deployment the same.
    #[arg(long, env = "ORGDRIVE_SIGNING_KEY", hide_env_values = true, allow_hyphen_values = true)]
    signing_key: Option<String>,
    /// `full`: an acknowledged write survives a crash or power loss; `relaxed`:
    /// survives a process crash only (faster; for emulator use). Default:
    /// `full`, `relaxed` with --ephemeral (its data goes at exit anyway).
    #[arg(long, env = "ORGDRIVE_DURABILITY", value_enum)]
    durability: Option<Durability>,
    /// Seconds a client has to send a request's headers; also how long an idle
    /// keep-alive connection is kept.
    #[arg(long, env = "ORGDRIVE_HEADER_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
    /// Longest pause, in seconds, between two chunks of a request body.
    #[arg(long, env = "ORGDRIVE_BODY_IDLE_TIMEOUT", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    body_idle_timeout: u64,
    /// Validity of signed upload/download URLs, in seconds.
    #[arg(long, env = "ORGDRIVE_SIGNED_URL_TTL", default_value_t = 900,
          value_parser = clap::value_parser!(i64).range(1..))]
    signed_url_ttl: i64,
    /// Time an upload may stay uncommitted; its bytes are removed after it.
    #[arg(long, env = "ORGDRIVE_UPLOAD_TTL", default_value_t = 86400,
          value_parser = clap::value_parser!(i64).range(1..))]
    upload_ttl: i64,
    /// Total seconds a JSON API request may take, reading its body included.
    #[arg(long, env = "ORGDRIVE_REQUEST_TIMEOUT", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout: u64,
    /// Seconds a write to a client may stay blocked (a client that stopped reading).
    #[arg(long, env = "ORGDRIVE_WRITE_TIMEOUT", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    write_timeout: u64,
    /// Least bytes per second an upload or download must move, judged over
    /// each --transfer-rate-window.
    #[arg(long, env = "ORGDRIVE_MIN_TRANSFER_RATE", default_value_t = 1024)]
    min_transfer_rate: u64,
    /// Seconds over which the transfer rate is judged.
    #[arg(long, env = "ORGDRIVE_TRANSFER_RATE_WINDOW", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    transfer_rate_window: u64,
    /// Connections open at once.
    #[arg(long, env = "ORGDRIVE_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Connections open at once from one client address.
    #[arg(long, env = "ORGDRIVE_MAX_CONNECTIONS_PER_IP", default_value_t = 512,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_connections_per_ip: u64,
    /// Uploads open at once (not yet committed or swept) in one space.
    #[arg(long, env = "ORGDRIVE_MAX_OPEN_UPLOADS_PER_SPACE",
          default_value_t = orgdrive_core::MAX_OPEN_UPLOADS_PER_SPACE,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_open_uploads_per_space: u32,
    /// Uploads open at once by one app.
    #[arg(long, env = "ORGDRIVE_MAX_OPEN_UPLOADS_PER_APP",
          default_value_t = orgdrive_core::MAX_OPEN_UPLOADS_PER_APP,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_open_uploads_per_app: u32,
    /// Free disk, in bytes, below which uploads are refused (507).
    #[arg(long, env = "ORGDRIVE_MIN_FREE_DISK", default_value_t = orgdrive_core::MIN_FREE_DISK_BYTES)]
    min_free_disk: u64,
    /// With a PostgreSQL --meta: connections this node keeps to the
    /// database at most (every node's count must fit the server's
    /// max_connections).
    #[arg(long, env = "ORGDRIVE_META_CONNECTIONS", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(2..=1000))]
    meta_connections: u16,
    /// Seconds a node's claim on a task it runs lasts; with several nodes,
    /// another node takes the task over this long after its node died.
    #[arg(long, env = "ORGDRIVE_TASK_CLAIM", default_value_t = 60,
          value_parser = clap::value_parser!(i64).range(1..=86400))]
    task_claim: i64,
    /// Let the admin API move the server's clock forward
    /// (`POST /admin/v1/clock/advance`), to test expiry without waiting.
    /// Never on a production server.
    #[arg(long, env = "ORGDRIVE_ALLOW_CLOCK_CONTROL")]
    allow_clock_control: bool,
    /// Let the admin API reset the drive to its seed (`POST
    /// /admin/v1/reset`, `orgdrive admin reset`): every org emptied and
    /// made again from --seed, between an app's tests. On with
    /// --ephemeral. Never on a production server.
    #[arg(long, env = "ORGDRIVE_ALLOW_RESET")]
    allow_reset: bool,
    /// Let the admin API arm faults (`/admin/v1/faults`): answer a DingTalk
    /// error, delay, drop the connection or cut a download, for an app's
    /// tests of its error handling. Never on a production server.
    #[arg(long, env = "ORGDRIVE_ALLOW_FAULTS")]
    allow_faults: bool,
    /// Keep the last N requests (operation, operator, app, status, error
    /// code, latency, request id; never a secret) for `GET
    /// /admin/v1/journal`. Default: 1000 with --ephemeral, else 0 (off).
    #[arg(long, env = "ORGDRIVE_JOURNAL",
          value_parser = clap::value_parser!(u64).range(0..=orgdrive_server::MAX_JOURNAL as u64))]
    journal: Option<u64>,
    /// Keep the JSON bodies of the journal's DingTalk API requests too (up
    /// to 4 KiB each; every value whose key names a secret, password or
    /// token redacted).
    #[arg(long, env = "ORGDRIVE_JOURNAL_BODIES")]
    journal_bodies: bool,
    /// The WOPI client (Collabora Online, ONLYOFFICE) that edits office
    /// documents: its editor URL, the `urlsrc` of its discovery XML (e.g.
    /// https://office.example/browser/abc/cool.html?). GetWebOfficeUrl
    /// answers it with WOPISrc and an access token; without it,
    /// GetWebOfficeUrl and RefreshWebOfficeToken answer 400 webOfficeNotConfigured.
    #[arg(long, env = "ORGDRIVE_WOPI_CLIENT_URL",
          value_parser = |s: &str| orgdrive_core::check_wopi_client_url(s))]
    wopi_client_url: Option<String>,
}

impl ServeArgs {
    fn limits(&self) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(self.header_timeout),
            body_idle_timeout: Duration::from_secs(self.body_idle_timeout),
            request_timeout: Duration::from_secs(self.request_timeout),
            write_timeout: Duration::from_secs(self.write_timeout),
            min_transfer_rate: self.min_transfer_rate,
            transfer_rate_window: Duration::from_secs(self.transfer_rate_window),
            max_connections: self.max_connections as usize,
            max_connections_per_ip: self.max_connections_per_ip as usize,
        }
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let ephemeral_dir = if args.ephemeral { Some(tempfile::tempdir()?) } else { None };
    let data_dir = ephemeral_dir.as_ref().map_or(args.data_dir.clone(), |d| d.path().to_path_buf());

    raise_open_files_limit();
    // The listeners first: a port in use fails the start before any store
    // is opened, and the ports are this process's before its start-up
    // (migrations, the content store's probe) opens outgoing connections,
    // whose ephemeral ports could otherwise take a port chosen for it.
    let listener =
        TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let admin_listener = match args.admin_listen {
        Some(addr) => {
            Some(TcpListener::bind(addr).await.with_context(|| format!("binding {addr} (admin)"))?)
        }
        None => None,
    };
    let limits = args.limits();
    let seed = args.seed.as_deref().map(read_seed).transpose()?;
    let durability = args.durability.unwrap_or(if args.ephemeral {
        Durability::Relaxed
    } else {
        Durability::Full
    });
    let options = OpenOptions {
        durability,
        signing_key: args.signing_key,
        signed_url_ttl_secs: Some(args.signed_url_ttl),
        upload_ttl_secs: Some(args.upload_ttl),
        open_uploads: Some(OpenUploadLimits {
            per_space: args.max_open_uploads_per_space,
            per_app: args.max_open_uploads_per_app,
        }),
        min_free_disk_bytes: Some(args.min_free_disk),
        allow_clock_control: args.allow_clock_control,
        allow_reset: args.allow_reset || args.ephemeral,
        wopi_client_url: args.wopi_client_url.clone(),
        meta: args.meta.clone(),
        meta_connections: Some(usize::from(args.meta_connections)),
        task_claim_secs: Some(args.task_claim),
        blob: args.blob.clone(),
    };
    let (admin_token, admin_token_is_new) = admin_token(&data_dir, args.admin_token)?;
    let metrics_token = args.metrics_token.map(|t| t.trim().to_string());
    if let Some(token) = &metrics_token {
        check_secret("metrics token", token)?;
        anyhow::ensure!(
            *token != admin_token,
            "the metrics token must differ from the admin token"
        );
    }
    let opened = crate::store::open(&data_dir, options).await?;
    let drive = opened.drive.clone();
    if let Some(location) = &args.blob {
        crate::store::check_presigned_puts(location, drive.blob()).await?;
    }
    // Reservations of PUTs an earlier process had in flight (a crash cannot
    // release them) — only on a store that is this process's alone: on a
    // shared one, other nodes' PUTs may be in flight, and a dead node's
    // reservations go with their uploads when these expire.
    if opened.exclusive {
        let reset = drive.reset_reservations().await?;
        if reset > 0 {
            tracing::info!(counters = reset, "released the reservations of interrupted uploads");
        }
    }
    // Tasks an earlier process left unfinished have changed nothing yet (a
    // task ends in the transaction of its change): run them again — all of
    // them on a store that is this process's alone; on a shared store, those
    // whose node's claim expired (the sweeper takes over the others later).
    let takeover = if opened.exclusive { Takeover::All } else { Takeover::Abandoned };
    let resumed = drive.resume_tasks(takeover).await?;
    if resumed > 0 {
        tracing::info!(tasks = resumed, "resumed interrupted tasks");
    }
    if let (Some(seed), Some(path)) = (&seed, &args.seed) {
        let made = drive
            .apply_seed(seed)
            .await
            .with_context(|| format!("applying the seed file {}", path.display()))?;
        tracing::info!(
            orgs = made.orgs,
            apps = made.apps,
            users = made.users,
            depts = made.depts,
            spaces = made.spaces,
            files = made.files,
            "applied the seed file"
        );
    }
    let demo = if args.no_demo || seed.is_some() { None } else { drive.bootstrap_demo().await? };

    let shutdown = shutdown_signal()?;
    let banner = Banner {
        addr: listener.local_addr()?,
        admin_addr: admin_listener.as_ref().map(TcpListener::local_addr).transpose()?,
        data_dir: &data_dir,
        ephemeral: args.ephemeral,
        metadata: args.meta.describe(&data_dir),
        demo: demo.as_ref(),
        new_admin_token: admin_token_is_new.then_some(admin_token.as_str()),
    };
    banner.print(started);

    let sweeper = tokio::spawn(sweep_forever(drive.clone()));
    let relay = opened.postgres.clone().map(|store| tokio::spawn(relay::run(drive.clone(), store)));
    let mut state = ServerState::new(drive, &admin_token)
        .with_metrics_token(metrics_token.as_deref())
        .with_public_url(args.public_url)
        .with_seed(seed)
        .with_faults_allowed(args.allow_faults)
        .with_journal(
            args.journal.unwrap_or(if args.ephemeral { 1000 } else { 0 }) as usize,
            args.journal_bodies,
        )
        .with_limits(limits);
    let delivery = {
        let state = state.clone();
        tokio::spawn(async move { state.deliver_events().await })
    };
    let admin = match admin_listener {
        Some(admin_listener) => {
            state = state.with_separate_admin_listener();
            let admin_app = admin_router(state.clone());
            let stop = shutdown.subscribe();
            Some(tokio::spawn(serve(admin_listener, admin_app, limits, stopped(stop))))
        }
        None => None,
    };
    let stop = shutdown.subscribe();
    serve(listener, router(state), limits, stopped(stop)).await?;
    if let Some(admin) = admin {
        admin.await??;
    }
    drop(shutdown);
    sweeper.abort();
    delivery.abort();
    if let Some(relay) = relay {
        relay.abort();
    }
    if let Err(e) = opened.drive.release_claims().await {
        tracing::warn!(error = %e, "could not give up the sweeper's claim");
    }
    opened.drive.close().await;
    tracing::info!("stopped");
    drop(ephemeral_dir);
    Ok(())
}

/// Reads and parses a seed file; its errors name the file and the place.
fn read_seed(path: &Path) -> anyhow::Result<Seed> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the seed file {}", path.display()))?;
    Seed::from_json(&text)
        .map_err(|e| anyhow::anyhow!("the seed file {} is not valid: {e}", path.display()))
}

/// The admin token: given (and then recorded), else the one stored in the
/// data dir, else a new one stored there (0600); and whether it is new.
/// Tokens shorter than 32 bytes are refused.
fn admin_token(data_dir: &Path, given: Option<String>) -> anyhow::Result<(String, bool)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let path = data_dir.join("admin.token");
    let (token, generated) = match given {
        Some(token) => {
            let token = token.trim().to_string();
            check_secret("admin token", &token)?;
            write_private(&path, &token).with_context(|| format!("writing {}", path.display()))?;
            (token, false)
        }
        None => stored_or_new_secret(&path, orgdrive_core::random_secret)?,
    };
    check_secret(&format!("admin token in {}", path.display()), &token)?;
    Ok((token, generated))
}

/// What the start banner tells.
struct Banner<'a> {
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    data_dir: &'a Path,
    ephemeral: bool,
    /// Where the metadata is ([`MetaLocation::describe`]).
    metadata: String,
    demo: Option<&'a DemoAccount>,
    /// The admin token, only when it was generated by this start (it is
    /// never printed again: logs keep what is printed).
    new_admin_token: Option<&'a str>,
}

impl Banner<'_> {
    fn print(&self, started: Instant) {
        let kind = if self.ephemeral { " (ephemeral)" } else { "" };
        println!("orgdrive {} listening on http://{}", env!("CARGO_PKG_VERSION"), self.addr);
        if let Some(admin) = self.admin_addr {
            println!("admin API on http://{admin}/admin/v1");
        }
        let metrics_addr = self.admin_addr.unwrap_or(self.addr);
        println!("metrics: http://{metrics_addr}/metrics (admin token); health: /healthz, /readyz");
        println!("console: http://{}/console", self.addr);
        println!("data dir: {}{kind}", self.data_dir.display());
        println!("metadata: {}", self.metadata);
        match self.demo {
            Some(demo) => {
                println!("first start: created a demo org, app and admin user");
                println!("  corpId:     {}", demo.org.corp_id);
                println!("  appKey:     {}", demo.app.app.app_key);
                println!("  appSecret:  {}", demo.app.app_secret);
                println!("  unionId:    {}", demo.user.union_id);
                println!("  console password: {}", demo.console_password);
            }
            None => println!("list identities with `orgdrive admin org list`"),
        }
        if let Some(token) = self.new_admin_token {
            println!("admin token: {token}");
        }
        println!("admin token file: {}", self.data_dir.join("admin.token").display());
        println!("ready in {} ms", started.elapsed().as_millis());
    }
}

/// Resolves once shutdown was signalled (or its sender is gone).
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// Raises the soft limit of open files to the hard limit, so that the
/// connection caps, not the default 1024 descriptors, bound the server.
fn raise_open_files_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum {
            limit.current = limit.maximum;
            if let Err(e) = setrlimit(Resource::Nofile, limit) {
                tracing::debug!(error = %e, "could not raise the open files limit");
            }
        }
    }
}

/// Sweeps every minute, or more often when uploads live shorter than that.
async fn sweep_forever(drive: Drive) {
    let period = drive.options().upload_ttl_secs.clamp(1, 60) as u64;
    let mut tick = tokio::time::interval(Duration::from_secs(period));
    loop {
        tick.tick().await;
        if let Err(e) = drive.sweep(Duration::from_secs(period)).await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}

/// Turns `true` on SIGTERM or Ctrl-C. The handlers are installed when this
/// is called, before the banner says "ready", and late subscribers see the
/// value, so an early signal is never lost.
fn shutdown_signal() -> anyhow::Result<tokio::sync::watch::Sender<bool>> {
    let (sender, _) = tokio::sync::watch::channel(false);
    let notify = sender.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutting down");
            notify.send_replace(true);
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
        notify.send_replace(true);
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::ServeArgs;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    /// Secrets are URL-safe base64 and one in 64 begins with `-`: clap must
    /// take it as the option's value, not as another option.
    #[test]
    fn secrets_may_begin_with_a_hyphen() {
        let admin = "-Zk3v0sZgq7bU4mYw2k9xT1rQ8dN5cF6hJ0aL2eP4sVw";
        let key = "-Ab3v0sZgq7bU4mYw2k9xT1rQ8dN5cF6hJ0aL2eP4sVw";
        let cli = Cli::try_parse_from(["orgdrive", "--admin-token", admin, "--signing-key", key])
            .expect("parsed");
        assert_eq!(cli.serve.admin_token.as_deref(), Some(admin));
        assert_eq!(cli.serve.signing_key.as_deref(), Some(key));
    }
}
