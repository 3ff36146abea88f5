//! `odc`: runs one client command; Ctrl-C or SIGTERM stops it (exit 130)
//! without committing anything half-sent.

use std::process::ExitCode;

use clap::Parser;
use orgdrive_client::cli::{run, Cli};
use orgdrive_client::error::ClientError;

/// mimalloc: a transfer allocates and frees a network buffer per chunk;
/// glibc malloc served the large ones with fresh pages each time (page
/// faults and zeroing, about a second of CPU per GiB downloaded).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("odc: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        // SIGTERM as Ctrl-C: the command's future is dropped, so temporary
        // files go and nothing half-sent is committed.
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(e) => return Err(ClientError::Io(e)),
            };
        tokio::select! {
            outcome = run(cli) => outcome,
            _ = tokio::signal::ctrl_c() => Err(ClientError::Interrupted),
            _ = terminate.recv() => Err(ClientError::Interrupted),
        }
    });
    // Tasks still sending parts are dropped with the runtime.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("odc: {e}");
            e.exit_code()
        }
    }
}
