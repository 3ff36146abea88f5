//! `orgdrive serve`: open (or create) the data dir, seed the demo account on
//! first start, print how to connect, serve until SIGTERM / Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use orgdrive_core::{DemoAccount, Drive};
use orgdrive_server::{router, serve, Limits, ServerState};

use crate::store::{stored_secret, write_private, Durability, OpenOptions};
use tokio::net::TcpListener;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ORGDRIVE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data directory: SQLite metadata (meta.sqlite) and file contents (blobs/).
    #[arg(long, env = "ORGDRIVE_DATA_DIR", default_value = "./orgdrive-data")]
    data_dir: PathBuf,
    /// Use a throw-away data dir, deleted on exit (tests, demos).
    #[arg(long, env = "ORGDRIVE_EPHEMERAL", conflicts_with = "data_dir")]
    ephemeral: bool,
    /// Token for the admin API (`Authorization: Bearer ...`); else the one in
    /// DATA_DIR/admin.token, else a new one written there.
    #[arg(long, env = "ORGDRIVE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Base URL of signed upload/download URLs, as clients reach this server
    /// (e.g. https://drive.example.com); default: http:// + the request's Host.
    #[arg(long, env = "ORGDRIVE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Secret that signs blob URLs; else DATA_DIR/signing.key (created on first
    /// start). Give every node of one deployment the same.
    #[arg(long, env = "ORGDRIVE_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,
    /// `full`: an acknowledged write survives a crash or power loss; `relaxed`:
    /// survives a process crash only (faster; for emulator use).
    #[arg(long, env = "ORGDRIVE_DURABILITY", value_enum, default_value_t = Durability::Full)]
    durability: Durability,
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
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let ephemeral_dir = if args.ephemeral { Some(tempfile::tempdir()?) } else { None };
    let data_dir = ephemeral_dir.as_ref().map_or(args.data_dir.clone(), |d| d.path().to_path_buf());

    let options = OpenOptions {
        durability: args.durability,
        signing_key: args.signing_key,
        signed_url_ttl_secs: Some(args.signed_url_ttl),
        upload_ttl_secs: Some(args.upload_ttl),
    };
    let opened = crate::store::open(&data_dir, options).await?;
    let drive = opened.drive.clone();
    let demo = drive.bootstrap_demo().await?;
    let admin_token = admin_token(&data_dir, args.admin_token)?;

    let shutdown = shutdown_signal()?;
    let listener =
        TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let local = listener.local_addr()?;
    print_banner(local, &data_dir, args.ephemeral, demo.as_ref(), &admin_token, started);

    let sweeper = tokio::spawn(sweep_forever(drive.clone()));
    let app = router(ServerState::new(drive, &admin_token).with_public_url(args.public_url));
    let limits = Limits {
        header_read_timeout: Duration::from_secs(args.header_timeout),
        body_idle_timeout: Duration::from_secs(args.body_idle_timeout),
    };
    serve(listener, app, limits, shutdown).await?;
    sweeper.abort();
    opened.meta.close().await;
    tracing::info!("stopped");
    drop(ephemeral_dir);
    Ok(())
}

/// The admin token: given (and then recorded), else the one stored in the
/// data dir, else a new one stored there (0600).
fn admin_token(data_dir: &Path, given: Option<String>) -> anyhow::Result<String> {
    let path = data_dir.join("admin.token");
    match given.filter(|t| !t.trim().is_empty()) {
        Some(token) => {
            let token = token.trim().to_string();
            write_private(&path, &token).with_context(|| format!("writing {}", path.display()))?;
            Ok(token)
        }
        None => stored_secret(&path, orgdrive_core::random_token),
    }
}

fn print_banner(
    addr: SocketAddr,
    data_dir: &Path,
    ephemeral: bool,
    demo: Option<&DemoAccount>,
    admin_token: &str,
    started: Instant,
) {
    let kind = if ephemeral { " (ephemeral)" } else { "" };
    println!("orgdrive {} listening on http://{addr}", env!("CARGO_PKG_VERSION"));
    println!("data dir: {}{kind}", data_dir.display());
    match demo {
        Some(demo) => {
            println!("first start: created a demo org, app and admin user");
            println!("  corpId:     {}", demo.org.corp_id);
            println!("  appKey:     {}", demo.app.app.app_key);
            println!("  appSecret:  {}", demo.app.app_secret);
            println!("  unionId:    {}", demo.user.union_id);
        }
        None => println!("existing data: list identities with `orgdrive admin org list`"),
    }
    println!("admin token: {admin_token}");
    println!("ready in {} ms", started.elapsed().as_millis());
}

/// Sweeps every minute, or more often when uploads live shorter than that.
async fn sweep_forever(drive: Drive) {
    let period = drive.options().upload_ttl_secs.clamp(1, 60) as u64;
    let mut tick = tokio::time::interval(Duration::from_secs(period));
    loop {
        tick.tick().await;
        if let Err(e) = drive.sweep().await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called, before the banner says "ready", so an early signal is never lost.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            tracing::info!("shutting down");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
    }
}
