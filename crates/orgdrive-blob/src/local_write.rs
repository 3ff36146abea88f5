//! Writes to a filesystem store without OpenDAL. OpenDAL's fs writer makes
//! about ten trips to tokio's blocking pool per object (create the parent
//! and the staging folder, check the target, open, write, flush, fsync,
//! rename, stat) and copies every byte into `tokio::fs::File`'s buffer;
//! each trip's thread wake-ups cost more than its syscall. Here the bytes
//! are gathered in the buffers they arrived in, up to [`WRITE_CHUNK`], and
//! written (vectored, no copy) in one trip per chunk while the next chunk
//! arrives, the disk asked to start writing each chunk at once so that the
//! closing fsync waits for the last one only; a small object is one trip in
//! all: create, write, fsync, rename, directory fsyncs.
//!
//! The bytes are staged in `.incoming/` under a fresh name (`O_EXCL`) and
//! renamed into place only once complete and (when durable) fsynced, so a
//! failed, refused or abandoned write leaves no object (its staging file is
//! removed, or swept from `.incoming/` after a crash; a slow writer's bytes
//! are written at least every minute, so the sweep never takes it for
//! abandoned). Memory per write is bounded by bytes, whatever the size of
//! the buffers the body arrives in ([`Gathered`]): about 2 × 4 MiB.
//! When durable, the directories from the object's up to the root's
//! children are fsynced before the write returns. Concurrent writes into
//! one top-level folder (`objects/`, `parts/`) share its fsync
//! ([`GroupSync`]): one fsync covers every rename that came before it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};

use crate::{BlobError, WriteError, Written};

/// Bytes gathered before one write to the staging file.
pub(crate) const WRITE_CHUNK: usize = 4 << 20;

/// Where interrupted writes leave their staging files.
pub(crate) const STAGING_DIR: &str = ".incoming";

/// A filesystem store's writing side: its root, whether writes are durable,
/// and the shared fsyncs of its top-level folders.
#[derive(Debug)]
pub(crate) struct LocalWrites {
    root: PathBuf,
    durable: bool,
    /// [`TOUCH_INTERVAL`] (shorter in tests).
    touch_interval: Duration,
    folders: Mutex<HashMap<PathBuf, Arc<GroupSync>>>,
}

impl LocalWrites {
    pub(crate) fn new(root: &Path, durable: bool) -> LocalWrites {
        LocalWrites {
            root: root.to_path_buf(),
            durable,
            touch_interval: TOUCH_INTERVAL,
            folders: Mutex::default(),
        }
    }

    /// The shared fsync of a top-level folder.
    fn group(&self, folder: &Path) -> Arc<GroupSync> {
        let mut folders = self.folders.lock().unwrap_or_else(PoisonError::into_inner);
        folders.entry(folder.to_path_buf()).or_default().clone()
    }

    /// Streams `source` into object `key` (already confined to the root),
    /// refusing more than `limit` bytes; computes the MD5 on the way when
    /// `md5` is set.
    pub(crate) async fn write_stream<S, E>(
        self: &Arc<Self>,
        key: &str,
        source: S,
        limit: Option<u64>,
        md5: bool,
    ) -> Result<Written, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
    {
        // The staging file is here, or with the one chunk being written
        // while the next one arrives.
        let mut staging = Writing::Idle(Staging::new(&self.root));
        let mut digest = md5.then(Md5::new);
        let mut size = 0u64;
        let mut gathered = Gathered::default();
        let mut last_write = Instant::now();
        let mut source = std::pin::pin!(source);
        while let Some(chunk) = source.next().await {
            let chunk = chunk.map_err(WriteError::Source)?;
            size += chunk.len() as u64;
            if let Some(limit) = limit.filter(|limit| size > *limit) {
                return Err(WriteError::TooLarge { limit });
            }
            if let Some(digest) = &mut digest {
                digest.update(&chunk);
            }
            gathered.push(chunk);
            // A slow client's bytes are written at least every
            // TOUCH_INTERVAL, so the staging file never looks abandoned to
            // the sweep of `.incoming/` (it goes by modification time).
            if gathered.len >= WRITE_CHUNK
                || (gathered.len > 0 && last_write.elapsed() >= self.touch_interval)
            {
                let chunks = gathered.take();
                last_write = Instant::now();
                let mut file = staging.idle().await.map_err(failed)?;
                let durable = self.durable;
                staging = Writing::Busy(tokio::task::spawn_blocking(move || {
                    file.write(&chunks, durable)?;
                    Ok(file)
                }));
            }
        }
        let mut file = staging.idle().await.map_err(failed)?;
        let writes = self.clone();
        let target = self.root.join(key);
        let rest = gathered.take();
        blocking(move || {
            file.write(&rest, writes.durable)?;
            file.finish(&writes, &target)
        })
        .await
        .map_err(failed)?;
        Ok(Written { size, md5: digest.map(|d| hex::encode(d.finalize())) })
    }

    /// Fsyncs the directories from `target`'s parent up to the root's
    /// children: deeper ones may have been created by this write; a
    /// top-level folder's fsync is shared.
    fn sync_dirs(&self, target: &Path) -> io::Result<()> {
        let mut dir = target.to_path_buf();
        while dir.pop() && dir.starts_with(&self.root) && dir != self.root {
            if dir.parent() == Some(self.root.as_path()) {
                self.group(&dir).sync(&dir)?;
            } else {
                fsync_dir(&dir)?;
            }
        }
        Ok(())
    }
}

fn failed<E>(e: io::Error) -> WriteError<E> {
    let e = opendal::Error::new(opendal::ErrorKind::Unexpected, "writing an object").set_source(e);
    WriteError::Blob(BlobError(e))
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| io::Error::other(e.to_string()))?
}

/// A slow writer's bytes are written at least this often (the sweep of
/// `.incoming/` takes files untouched for ten minutes as abandoned).
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// Buffers smaller than this are copied together into one of this size, so
/// the buffers waiting for a write number at most about
/// `2 * WRITE_CHUNK / COALESCE` (about 48 bytes of bookkeeping each). Small,
/// so that a body's usual buffers (tens of KiB) are written as they came,
/// without a copy on the upload path.
const COALESCE: usize = 4 << 10;

/// The buffers gathered for the next write, in order. A body may arrive in
/// buffers of any size (an HTTP/1 chunked body of 1-byte chunks is one
/// buffer per byte): small ones are copied into a shared one, so memory is
/// bounded by bytes, not by how many buffers they came in.
#[derive(Default)]
struct Gathered {
    whole: Vec<Bytes>,
    small: BytesMut,
    /// Bytes gathered (in `whole` and `small`).
    len: usize,
}

impl Gathered {
    fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        if chunk.len() < COALESCE {
            self.small.extend_from_slice(&chunk);
            if self.small.len() >= COALESCE {
                self.whole.push(self.small.split().freeze());
            }
        } else {
            if !self.small.is_empty() {
                self.whole.push(self.small.split().freeze());
            }
            self.whole.push(chunk);
        }
    }

    /// Everything gathered, in order; leaves this empty.
    fn take(&mut self) -> Vec<Bytes> {
        if !self.small.is_empty() {
            self.whole.push(self.small.split().freeze());
        }
        self.len = 0;
        std::mem::take(&mut self.whole)
    }
}

/// Where the staging file of a write is: with the write, or on a blocking
/// thread writing a chunk (dropped there, and so removed, if the write stops
/// meanwhile).
enum Writing {
    Idle(Staging),
    Busy(tokio::task::JoinHandle<io::Result<Staging>>),
}

impl Writing {
    /// The staging file, once the chunk being written (if any) is written.
    async fn idle(self) -> io::Result<Staging> {
        match self {
            Writing::Idle(staging) => Ok(staging),
            Writing::Busy(task) => task.await.map_err(|e| io::Error::other(e.to_string()))?,
        }
    }
}

/// The staging file of one write: created at the first bytes (or at the
/// end, for an empty object), removed when dropped unless it was renamed
/// into place.
struct Staging {
    path: PathBuf,
    file: Option<File>,
    /// Bytes written so far.
    written: u64,
}

/// Makes staging names unique within this process (the pid and the clock
/// set them apart from other processes'; `O_EXCL` makes sure).
static STAGED: AtomicU64 = AtomicU64::new(0);

impl Staging {
    fn new(root: &Path) -> Staging {
        Staging { path: root.join(STAGING_DIR), file: None, written: 0 }
    }

    /// Creates the staging file under a fresh name, and the staging folder
    /// if it is missing.
    fn open(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let dir = self.path.clone();
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let mut created_dir = false;
            let file = loop {
                let n = STAGED.fetch_add(1, Ordering::Relaxed);
                let path = dir.join(format!("{}-{nanos:x}-{n:x}", std::process::id()));
                match File::options().write(true).create_new(true).open(&path) {
                    Ok(file) => {
                        self.path = path;
                        break file;
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) if e.kind() == io::ErrorKind::NotFound && !created_dir => {
                        std::fs::create_dir_all(&dir)?;
                        created_dir = true;
                    }
                    Err(e) => return Err(e),
                }
            };
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    /// Appends `chunks` with vectored writes, in the buffers they came in,
    /// and when `durable` asks the disk to start writing them (see
    /// [`start_writeback`]).
    fn write(&mut self, chunks: &[Bytes], durable: bool) -> io::Result<()> {
        if chunks.iter().all(Bytes::is_empty) {
            return Ok(());
        }
        let (offset, len) = (self.written, chunks.iter().map(|c| c.len() as u64).sum::<u64>());
        self.written += len;
        let file = self.open()?;
        let mut slices: Vec<IoSlice<'_>> = chunks.iter().map(|c| IoSlice::new(c)).collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            match file.write_vectored(slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if durable {
            start_writeback(file, offset, len);
        }
        Ok(())
    }

    /// Makes the bytes durable (when the store is), renames the staging
    /// file to `target` (creating its folder if missing) and makes the
    /// rename durable.
    fn finish(mut self, writes: &LocalWrites, target: &Path) -> io::Result<()> {
        let file = self.open()?;
        if writes.durable {
            file.sync_data()?;
        }
        let renamed = match std::fs::rename(&self.path, target) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::rename(&self.path, target)
            }
            other => other,
        };
        renamed?;
        self.file = None; // renamed: nothing to remove
        if writes.durable {
            writes.sync_dirs(target)?;
        }
        Ok(())
    }
}

/// Asks the kernel to start writing `len` bytes at `offset` of `file` to
/// the disk now, without waiting (`sync_file_range(SYNC_FILE_RANGE_WRITE)`),
/// so that the disk works while the next chunk arrives and the closing fsync
/// waits for the last chunk only. A hint: durability comes from that fsync,
/// so a failure here is ignored.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else { return };
    // SAFETY: `file` owns its descriptor for the whole call, and the call
    // reads no memory of ours.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: u64, _: u64) {}

impl Drop for Staging {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Fsyncs shared by concurrent writers of one directory (group commit): a
/// writer asks after its rename; if an fsync is running, it waits for the
/// next one (the running one may have started before the rename); the
/// first to find none running runs one for everyone who asked before it
/// started. If that fsync fails, everyone it covered fails.
#[derive(Debug, Default)]
struct GroupSync {
    state: Mutex<SyncState>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct SyncState {
    /// Requests so far (each one's number is its position).
    asked: u64,
    /// Every request up to this number is covered by a completed fsync.
    covered: u64,
    /// Every request up to this number was in an fsync that failed: it
    /// fails too (a later fsync on another descriptor may report success
    /// without the failed writes being on disk).
    failed: u64,
    running: bool,
}

impl GroupSync {
    fn sync(&self, dir: &Path) -> io::Result<()> {
        let lock = || self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = lock();
        state.asked += 1;
        let mine = state.asked;
        loop {
            if state.failed >= mine {
                return Err(io::Error::other("a shared directory fsync failed"));
            }
            if state.covered >= mine {
                return Ok(());
            }
            if state.running {
                state = self.done.wait(state).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state.running = true;
            let covers = state.asked;
            drop(state);
            let synced = fsync_dir(dir);
            state = lock();
            state.running = false;
            match synced {
                Ok(()) => state.covered = state.covered.max(covers),
                Err(_) => state.failed = state.failed.max(covers),
            }
            self.done.notify_all();
            synced?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: Vec<Vec<u8>>) -> impl Stream<Item = Result<Bytes, io::Error>> {
        futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from(p))))
    }

    fn staged(root: &Path) -> usize {
        std::fs::read_dir(root.join(STAGING_DIR)).map_or(0, |d| d.count())
    }

    #[tokio::test]
    async fn objects_are_written_whole_small_large_and_empty() {
        let dir = tempfile::tempdir().unwrap();
        let writes = Arc::new(LocalWrites::new(dir.path(), true));
        let big: Vec<u8> = (0..(WRITE_CHUNK * 2 + 12_345)).map(|i| (i % 251) as u8).collect();
        let pieces: Vec<Vec<u8>> = big.chunks(70_001).map(<[u8]>::to_vec).collect();
        let written = writes.write_stream("objects/big", chunks(pieces), None, true).await.unwrap();
        assert_eq!(written.size, big.len() as u64);
        assert_eq!(written.md5, Some(hex::encode(Md5::digest(&big))));
        assert!(std::fs::read(dir.path().join("objects/big")).unwrap() == big);

        let nested = "parts/KEY/1-abc";
        let written =
            writes.write_stream(nested, chunks(vec![b"hel".to_vec(), b"lo".to_vec()]), None, false);
        assert_eq!(written.await.unwrap(), Written { size: 5, md5: None });
        assert_eq!(std::fs::read(dir.path().join(nested)).unwrap(), b"hello");

        let empty = writes.write_stream("objects/empty", chunks(vec![]), None, false);
        assert_eq!(empty.await.unwrap().size, 0);
        assert_eq!(std::fs::read(dir.path().join("objects/empty")).unwrap(), b"");
        assert_eq!(staged(dir.path()), 0);
    }

    #[test]
    fn a_refused_or_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let writes = Arc::new(LocalWrites::new(dir.path(), true));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let big = vec![vec![1u8; WRITE_CHUNK], vec![2u8; 10]];
            let refused =
                writes.write_stream("objects/a", chunks(big), Some(WRITE_CHUNK as u64), false);
            assert!(matches!(refused.await, Err(WriteError::TooLarge { .. })));
            let failing = futures::stream::iter(vec![
                Ok(Bytes::from(vec![3u8; WRITE_CHUNK])),
                Err(io::Error::other("the client went away")),
            ]);
            let failed = writes.write_stream("objects/b", failing, None, false).await;
            assert!(matches!(failed, Err(WriteError::Source(_))));
        });
        // A chunk being written when the write stopped is removed once its
        // blocking thread is done with it: a shut-down runtime has waited
        // for every blocking task that started (and dropped those that did
        // not, which created nothing). Polling instead raced the blocking
        // threads: it could see no staging file before one was created.
        runtime.shutdown_timeout(std::time::Duration::from_secs(30));
        assert!(!dir.path().join("objects/a").exists());
        assert!(!dir.path().join("objects/b").exists());
        assert_eq!(staged(dir.path()), 0, "staging files are removed");
    }

    #[tokio::test]
    async fn an_overwritten_object_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let writes = Arc::new(LocalWrites::new(dir.path(), false));
        for content in [b"first version".to_vec(), b"2nd".to_vec()] {
            let written = writes.write_stream("meta", chunks(vec![content.clone()]), None, false);
            written.await.unwrap();
            assert_eq!(std::fs::read(dir.path().join("meta")).unwrap(), content);
        }
    }

    #[test]
    fn gathered_buffers_are_bounded_by_bytes_and_keep_their_order() {
        let mut gathered = Gathered::default();
        let mut expected = Vec::new();
        for i in 0..200_000u32 {
            // Mostly 1-byte buffers (a hostile chunked body), some empty,
            // now and then a large one.
            let chunk = match i % 5_000 {
                0 => vec![(i % 251) as u8; 100_000],
                1 => Vec::new(),
                _ => vec![(i % 251) as u8],
            };
            expected.extend_from_slice(&chunk);
            gathered.push(Bytes::from(chunk));
            assert!(gathered.whole.len() <= 2 + 2 * gathered.len / COALESCE, "{i}");
        }
        assert_eq!(gathered.len, expected.len());
        let got: Vec<u8> = gathered.take().concat();
        assert!(got == expected);
        assert_eq!((gathered.len, gathered.whole.len(), gathered.small.len()), (0, 0, 0));
    }

    #[tokio::test]
    async fn a_slow_writer_touches_its_staging_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut writes = LocalWrites::new(dir.path(), false);
        writes.touch_interval = Duration::from_millis(10);
        let writes = Arc::new(writes);
        let root = dir.path().to_path_buf();
        // Two small buffers 50 ms apart, then a look at `.incoming/` before
        // the body ends: the bytes are there, though far below WRITE_CHUNK.
        let seen = Arc::new(Mutex::new(None));
        let look = seen.clone();
        let body = futures::stream::unfold(0, move |step| {
            let (root, look) = (root.clone(), look.clone());
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                match step {
                    0 | 1 => Some((Ok::<_, io::Error>(Bytes::from_static(b"slow")), step + 1)),
                    2 => {
                        let sizes: Vec<u64> = std::fs::read_dir(root.join(STAGING_DIR))
                            .map(|d| d.map(|e| e.unwrap().metadata().unwrap().len()).collect())
                            .unwrap_or_default();
                        *look.lock().unwrap() = Some(sizes);
                        None
                    }
                    _ => None,
                }
            }
        });
        let written = writes.write_stream("objects/slow", body, None, false).await.unwrap();
        assert_eq!(written.size, 8);
        assert_eq!(*seen.lock().unwrap(), Some(vec![8]));
        assert_eq!(std::fs::read(dir.path().join("objects/slow")).unwrap(), b"slowslow");
    }

    #[test]
    fn a_failed_group_fsync_fails_everyone_it_covered() {
        let dir = tempfile::tempdir().unwrap();
        let later = dir.path().join("later");
        let group = GroupSync::default();
        assert!(group.sync(&later).is_err());
        assert_eq!(group.state.lock().unwrap().failed, 1);
        // A request made after the failure gets an fsync of its own.
        std::fs::create_dir(&later).unwrap();
        group.sync(&later).unwrap();
        let state = group.state.lock().unwrap();
        assert_eq!((state.covered, state.failed), (2, 1));
    }

    #[test]
    fn concurrent_group_syncs_all_return_and_share_fsyncs() {
        let dir = tempfile::tempdir().unwrap();
        let group = Arc::new(GroupSync::default());
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (group, dir) = (group.clone(), dir.path().to_path_buf());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        group.sync(&dir).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let state = group.state.lock().unwrap();
        assert_eq!(state.asked, 800);
        assert_eq!(state.covered, 800);
        assert!(!state.running);
        let missing = GroupSync::default();
        assert!(missing.sync(&dir.path().join("missing")).is_err());
        assert_eq!(missing.state.lock().unwrap().covered, 0);
    }
}
