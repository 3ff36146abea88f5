//! The `orgdrive` binary: `serve` runs the server, `admin` provisions orgs,
//! apps, users and departments straight in a data dir, `fsck` checks (and
//! repairs) a data dir, `migrate` brings a metadata store's schema up to
//! date. Every flag has an environment-variable fallback.

mod admin;
mod fsck;
mod migrate;
mod relay;
mod serve;
mod store;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "orgdrive",
    version,
    about = "A self-hosted organization drive speaking the DingTalk Storage Open API v1.0"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Provision orgs, apps, users and departments (prints JSON).
    Admin(admin::AdminArgs),
    /// Check that metadata and content agree; exits 1 on inconsistency.
    Fsck(fsck::FsckArgs),
    /// Bring the metadata store's schema to this build's version.
    Migrate(migrate::MigrateArgs),
}

/// The log filter: `ORGDRIVE_LOG` (default `info`), with the PostgreSQL
/// driver held at `info` unless the filter names it: at `debug` it logs
/// every statement's parameters (token hashes, upload keys, names).
fn log_filter(configured: Option<&str>) -> tracing_subscriber::EnvFilter {
    let configured = configured.filter(|f| !f.trim().is_empty()).unwrap_or("info");
    let directives = if configured.contains("tokio_postgres") {
        configured.to_string()
    } else {
        format!("{configured},tokio_postgres=info")
    };
    tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tokio_postgres=info"))
}

fn main() -> anyhow::Result<()> {
    // Everything orgdrive creates (data dir, SQLite files, blobs, secrets) is
    // readable by its owner only.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(std::env::var("ORGDRIVE_LOG").ok().as_deref()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        match Cli::parse().command {
            Command::Serve(args) => serve::run(args).await,
            Command::Admin(args) => admin::run(args).await,
            Command::Fsck(args) => fsck::run(args).await,
            Command::Migrate(args) => migrate::run(args).await,
        }
    });
    // The stores are closed by now; background work still running (a
    // thumbnail being decoded) does not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn the_postgres_driver_never_logs_parameters_unless_asked() {
        let default = log_filter(None).to_string();
        assert!(default.contains("tokio_postgres=info"), "{default}");
        let debug = log_filter(Some("debug")).to_string();
        assert!(debug.contains("tokio_postgres=info"), "{debug}");
        let asked = log_filter(Some("debug,tokio_postgres=debug")).to_string();
        assert!(asked.contains("tokio_postgres=debug") && !asked.contains("=info"), "{asked}");
    }
}
