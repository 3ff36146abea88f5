//! `orgdrive serve`: open (or create) the data dir, seed the demo account on
//! first start, print how to connect, serve until SIGTERM / Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use orgdrive_core::{DemoAccount, Drive};
use orgdrive_server::{router, serve, ServerState};
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
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let ephemeral_dir = if args.ephemeral { Some(tempfile::tempdir()?) } else { None };
    let data_dir = ephemeral_dir.as_ref().map_or(args.data_dir.clone(), |d| d.path().to_path_buf());

    let opened = crate::store::open(&data_dir).await?;
    let drive = opened.drive.clone();
    let demo = drive.bootstrap_demo().await?;
    let admin_token = admin_token(&data_dir, args.admin_token)?;

    let listener =
        TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    let local = listener.local_addr()?;
    print_banner(local, &data_dir, args.ephemeral, demo.as_ref(), &admin_token, started);

    let sweeper = tokio::spawn(sweep_forever(drive.clone()));
    let app = router(ServerState::new(drive, &admin_token));
    serve(listener, app, shutdown_signal()).await?;
    sweeper.abort();
    opened.meta.close().await;
    tracing::info!("stopped");
    drop(ephemeral_dir);
    Ok(())
}

/// The admin token: given, else stored in the data dir, else generated and stored (0600).
fn admin_token(data_dir: &Path, given: Option<String>) -> anyhow::Result<String> {
    let path = data_dir.join("admin.token");
    let token = match given.filter(|t| !t.trim().is_empty()) {
        Some(token) => token.trim().to_string(),
        None => match std::fs::read_to_string(&path) {
            Ok(stored) if !stored.trim().is_empty() => return Ok(stored.trim().to_string()),
            _ => orgdrive_core::random_token(),
        },
    };
    write_private(&path, &token).with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
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

async fn sweep_forever(drive: Drive) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(e) = drive.sweep().await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
