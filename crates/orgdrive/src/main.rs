//! The `orgdrive` binary: `serve` runs the server, `admin` provisions orgs,
//! apps, users and departments straight in a data dir, `fsck` checks (and
//! repairs) a data dir, `migrate` brings a metadata store's schema up to
//! date, `backup` and `restore` copy a data dir out and back. Every flag has
//! an environment-variable fallback.

mod admin;
mod backup;
mod fsck;
mod logs;
mod migrate;
mod pacing;
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
    /// How log lines are written (stderr; `ORGDRIVE_LOG` filters them).
    #[arg(long, global = true, value_enum, env = "ORGDRIVE_LOG_FORMAT", default_value = "text")]
    log_format: logs::LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(Box<serve::ServeArgs>),
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

fn main() -> anyhow::Result<()> {
    // Everything orgdrive creates (data dir, SQLite files, blobs, secrets) is
    // readable by its owner only.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    logs::init(cli.log_format);
    let command = cli.command;
    if matches!(command, Command::Backup(_)) {
        // Before the runtime: every thread it starts inherits this.
        backup::lower_priority();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        match command {
            Command::Serve(args) => serve::run(*args).await,
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
