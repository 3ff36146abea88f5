//! External converters: poppler's `pdftoppm`/`pdfinfo` and `ffmpeg`, used
//! for PDF and video thumbnails and PDF preview pages when they are on
//! `PATH` (looked up once). A run gets a private scratch directory (mode
//! 0700, removed when done) holding a copy of the content object, streamed
//! there (never whole in memory), runs with no stdin, a cleared environment
//! (`PATH` only) and a time limit (killed past it), at most
//! [`MAX_CONCURRENT_RUNS`] at a time per node, and what it writes is read back
//! only up to a bound.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::ids::random_alnum;
use crate::{Drive, DriveError, DriveResult};

/// Longest a converter may run.
pub(crate) const TOOL_TIMEOUT: Duration = Duration::from_secs(20);
/// Converters running at once on this node (they are CPU work).
pub(crate) const MAX_CONCURRENT_RUNS: usize = 2;
/// Largest output (an image, or text on stdout) read back from a converter.
pub(crate) const MAX_TOOL_OUTPUT: u64 = 32 << 20;

static RUNS: Semaphore = Semaphore::const_new(MAX_CONCURRENT_RUNS);

/// A converter's turn: taken before its input is copied to scratch space,
/// so that waiting requests hold no copies (at most
/// [`MAX_CONCURRENT_RUNS`] copies exist on the node at once).
pub(crate) struct Turn(#[allow(dead_code)] SemaphorePermit<'static>);

/// Waits for a converter's turn: at most `wait` (`None`: as long as it
/// takes); `None` when it did not come.
pub(crate) async fn turn(wait: Option<Duration>) -> Option<Turn> {
    let acquired = match wait {
        Some(wait) => tokio::time::timeout(wait, RUNS.acquire()).await.ok()?,
        None => RUNS.acquire().await,
    };
    acquired.ok().map(Turn)
}

/// Whether `tool` is an executable file on `PATH` (looked up once per tool).
pub(crate) fn available(tool: &str) -> bool {
    static FOUND: OnceLock<Mutex<HashMap<String, bool>>> = OnceLock::new();
    let found = FOUND.get_or_init(Default::default);
    let mut found = found.lock().expect("not poisoned");
    *found.entry(tool.to_string()).or_insert_with(|| on_path(tool))
}

fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else { return false };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(tool))
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

/// A private scratch directory, removed (with everything in it) on drop.
pub(crate) struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub fn new() -> std::io::Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::env::temp_dir().join(format!("orgdrive-{}", random_alnum(24)));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(Scratch { dir })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `program` with `args` (no shell, no stdin, `PATH` only), killed past
/// [`TOOL_TIMEOUT`]; answers its stdout (at most [`MAX_TOOL_OUTPUT`] bytes)
/// when it exits successfully.
pub(crate) async fn run<I, S>(_turn: &Turn, program: &str, args: I) -> Result<Vec<u8>, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_for(program, args, TOOL_TIMEOUT).await
}

async fn run_for<I, S>(program: &str, args: I, limit: Duration) -> Result<Vec<u8>, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| format!("{program}: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let work = async {
        let mut out = Vec::new();
        // Read a bounded amount, then drain (so the tool never blocks on a full pipe).
        (&mut stdout).take(MAX_TOOL_OUTPUT).read_to_end(&mut out).await?;
        tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await?;
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, out))
    };
    match tokio::time::timeout(limit, work).await {
        Ok(Ok((status, out))) if status.success() => Ok(out),
        Ok(Ok((status, _))) => Err(format!("{program} failed: {status}")),
        Ok(Err(e)) => Err(format!("{program}: {e}")),
        // Dropping the child kills it (kill_on_drop).
        Err(_) => Err(format!("{program} took longer than {limit:?}")),
    }
}

/// The file at `path` if it is at most [`MAX_TOOL_OUTPUT`] bytes.
pub(crate) async fn read_output(path: &Path) -> Option<Vec<u8>> {
    let meta = tokio::fs::metadata(path).await.ok()?;
    if !meta.is_file() || meta.len() > MAX_TOOL_OUTPUT {
        return None;
    }
    tokio::fs::read(path).await.ok()
}

impl Drive {
    /// Streams the content object (of `size` bytes) into a new file at `path`.
    pub(crate) async fn copy_object_to(
        &self,
        object_key: &str,
        size: u64,
        path: &Path,
    ) -> DriveResult<()> {
        let internal = |e: &dyn std::fmt::Display| DriveError::Internal(e.to_string());
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .await
            .map_err(|e| internal(&e))?;
        let mut stream = self.object_stream(object_key, 0..size).await?;
        while let Some(chunk) = stream.try_next().await.map_err(|e| internal(&e))? {
            file.write_all(&chunk).await.map_err(|e| internal(&e))?;
        }
        file.flush().await.map_err(|e| internal(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_are_bounded_and_scratch_goes() {
        let scratch = Scratch::new().unwrap();
        let dir = scratch.dir.clone();
        std::fs::write(scratch.path("a"), b"x").unwrap();
        assert!(dir.is_dir());
        drop(scratch);
        assert!(!dir.exists(), "scratch removed with its files");
        let turn = turn(None).await.unwrap();
        assert_eq!(run(&turn, "sh", ["-c", "printf hi"]).await.unwrap(), b"hi");
        assert!(run(&turn, "sh", ["-c", "exit 3"]).await.is_err());
        assert!(run(&turn, "/nonexistent/tool", ["x"]).await.is_err());
        // The environment is cleared.
        assert_eq!(run(&turn, "sh", ["-c", "printf \"${HOME:-none}\""]).await.unwrap(), b"none");
        // Past its time it is killed: the run ends at the limit, not when
        // the tool would have (it would have written a file after 3 s).
        let marker = std::env::temp_dir().join(format!("orgdrive-killed-{}", random_alnum(12)));
        let script = format!("sleep 3; echo late > {}", marker.display());
        let started = std::time::Instant::now();
        let late = run_for("sh", ["-c", script.as_str()], Duration::from_millis(300)).await;
        assert!(late.unwrap_err().contains("took longer"));
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(!marker.exists(), "the tool was killed");
        // Output past the bound is not kept (and the tool is not blocked by it).
        let big = run(&turn, "sh", ["-c", "head -c 40000000 /dev/zero"]).await.unwrap();
        assert_eq!(big.len() as u64, MAX_TOOL_OUTPUT);
        assert!(available("sh"));
        assert!(!available("no-such-tool-orgdrive"));
        // Turns are bounded: with both taken, a bounded wait gives up.
        let second = super::turn(None).await.unwrap();
        assert!(super::turn(Some(Duration::from_millis(50))).await.is_none());
        drop((turn, second));
        assert!(super::turn(Some(Duration::from_secs(10))).await.is_some());
    }
}
