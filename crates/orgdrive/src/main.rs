//! The `orgdrive` binary: `serve` runs the server, `admin` provisions orgs,
//! apps, users and departments straight in a data dir, `fsck` checks (and
//! repairs) a data dir, `migrate` brings a metadata store's schema up to
//! date, `backup` and `restore` copy a data dir out and back. Every flag has
//! an environment-variable fallback.

mod admin;
mod backup;
mod fsck;
mod migrate;
mod relay;
mod serve;
mod store;

use clap::{Parser, Subcommand};

/// mimalloc: the server allocates and frees many small buffers per request
/// (headers, JSON, rows); glibc malloc spent 17 % of a small read's CPU on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Back a data dir up (while the server runs), or check or list backups.
    Backup(backup::BackupArgs),
    /// Fill an empty data dir from a backup.
    Restore(backup::RestoreArgs),
}

/// The log filter: `ORGDRIVE_LOG` (default `info`).
fn log_filter(configured: Option<&str>) -> tracing_subscriber::EnvFilter {
    configured
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"))
}

/// A cap applied after [`log_filter`], whatever it says: the PostgreSQL
/// driver logs every statement's parameters (token hashes, upload keys,
/// names) at `debug`, so nothing below `info` passes from it. It only
/// lowers: `ORGDRIVE_LOG=warn` keeps the driver at `warn`.
fn driver_cap() -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    Targets::new().with_default(LevelFilter::TRACE).with_target("tokio_postgres", LevelFilter::INFO)
}

/// Makes this thread, and the threads it starts, background work: Linux's
/// `SCHED_IDLE` (they run only on a CPU nothing else wants, and a waking
/// server thread takes the CPU from them at once), else `nice 10`. Backups
/// run beside a live server, which comes first: at `nice 10` alone a backup
/// of small files raised GetSpace's p99 2.4x, at `SCHED_IDLE` 1.8x
/// (bench/RESULTS.md).
fn background_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: plain syscall on the calling thread (pid 0) with a valid,
        // initialised parameter struct that outlives the call.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0 {
            return;
        }
    }
    if let Err(e) = rustix::process::nice(10) {
        tracing::debug!(error = %e, "could not lower the priority of background work");
    }
}

fn main() -> anyhow::Result<()> {
    // Everything orgdrive creates (data dir, SQLite files, blobs, secrets) is
    // readable by its owner only.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        use tracing_subscriber::Layer;
        let filter = log_filter(std::env::var("ORGDRIVE_LOG").ok().as_deref());
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(filter)
                    .with_filter(driver_cap()),
            )
            .init();
    }
    let command = Cli::parse().command;
    if matches!(command, Command::Backup(_)) {
        // Before the runtime: every thread it starts inherits this.
        background_priority();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        match command {
            Command::Serve(args) => serve::run(args).await,
            Command::Admin(args) => admin::run(args).await,
            Command::Fsck(args) => fsck::run(args).await,
            Command::Migrate(args) => migrate::run(args).await,
            Command::Backup(args) => backup::run(args).await,
            Command::Restore(args) => backup::restore(args).await,
        }
    });
    // The stores are closed by now; background work still running (a
    // thumbnail being decoded) does not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    use super::{driver_cap, log_filter};

    /// What reaches the log under `ORGDRIVE_LOG=configured`: one event per
    /// (target, level) pair, recorded as "target level".
    fn written(configured: &str) -> Vec<String> {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        let writer = move || Line(sink.clone());
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .without_time()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(log_filter(Some(configured)))
                .with_filter(driver_cap()),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "tokio_postgres::query", "driver debug");
            tracing::info!(target: "tokio_postgres::connection", "driver info");
            tracing::debug!(target: "orgdrive_core", "core debug");
            tracing::warn!(target: "orgdrive_core", "core warn");
        });
        let text = String::from_utf8(lines.lock().unwrap().concat()).unwrap();
        text.lines().map(|l| l.split_once(": ").map_or(l, |(_, m)| m).to_string()).collect()
    }

    struct Line(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);
    impl std::io::Write for Line {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_postgres_driver_never_logs_below_info() {
        assert_eq!(written("debug"), ["driver info", "core debug", "core warn"]);
        // Naming the driver, or one of its modules, does not lift the cap.
        assert_eq!(
            written("tokio_postgres=trace,tokio_postgres::connection=info"),
            ["driver info"]
        );
        // The cap only lowers: `warn` and `off` keep the driver quiet.
        assert_eq!(written("warn"), ["core warn"]);
        assert!(written("off").is_empty());
        // A malformed filter falls back to `info`.
        assert_eq!(written("[{"), ["driver info", "core warn"]);
    }
}
