//! Downloads from a filesystem store without OpenDAL: the size is known (it
//! was signed into the URL), so no stat is needed, and a small range is one
//! open and one positioned read. OpenDAL's fs reader makes three trips to
//! tokio's blocking pool (stat, open, read), and each trip's thread wake-ups
//! cost far more than the syscalls. Here, on Linux, the open and the read are
//! first tried on the async thread in their never-blocking forms (`openat2`
//! with `RESOLVE_CACHED`: only if every path component is in the dentry
//! cache; `preadv2` with `RWF_NOWAIT`: only if the bytes are in the page
//! cache), which is what serves a hot file; anything else (a cold file, an
//! old kernel, a filesystem without `RWF_NOWAIT`) is done in one trip to the
//! blocking pool.
//!
//! The bytes served are exactly the requested range of the file, or an error:
//! a file shorter than the recorded size fails instead of being padded or cut
//! short, and when the range reaches the recorded end, one byte more is asked
//! for, so that a longer file fails too.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use bytes::Bytes;
use futures::Stream;

/// Chunk of a streamed download.
const STREAM_CHUNK: u64 = 1 << 20;

/// Why a local read failed: the file is missing, or it does not have the
/// recorded size, or the filesystem failed.
#[derive(Debug)]
pub(crate) enum LocalError {
    NotFound,
    Shorter { size: u64 },
    Longer { size: u64 },
    Io(io::Error),
}

impl From<io::Error> for LocalError {
    fn from(e: io::Error) -> LocalError {
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::IsADirectory => LocalError::NotFound,
            _ => LocalError::Io(e),
        }
    }
}

impl From<LocalError> for io::Error {
    fn from(e: LocalError) -> io::Error {
        match e {
            LocalError::NotFound => io::Error::new(io::ErrorKind::NotFound, "no such object"),
            LocalError::Shorter { size } => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the object is shorter than its recorded {size} bytes"),
            ),
            LocalError::Longer { size } => io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the object is longer than its recorded {size} bytes"),
            ),
            LocalError::Io(e) => e,
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LocalError> + Send + 'static,
) -> Result<T, LocalError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| LocalError::Io(io::Error::other(e.to_string())))?
}

/// Opens a file recorded as `size` bytes long for reading: a directory is not
/// an object, and a file of another size fails before any byte is served.
fn open_sized(path: &PathBuf, size: u64) -> Result<File, LocalError> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(LocalError::NotFound);
    }
    match meta.len() {
        len if len < size => Err(LocalError::Shorter { size }),
        len if len > size => Err(LocalError::Longer { size }),
        _ => Ok(file),
    }
}

fn is_dir_error(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::ISDIR.raw_os_error())
}

/// Reads `want` bytes at `offset` with positioned reads, asking for one byte
/// more when `probe` is set (the range ends at the recorded size). Usually a
/// single `pread`: a short read from a regular file means its end, so the
/// bytes are only read again while fewer than `want` arrived.
fn read_at(
    file: &File,
    offset: u64,
    want: usize,
    probe: bool,
    size: u64,
) -> Result<Vec<u8>, LocalError> {
    let mut buf = vec![0u8; want + usize::from(probe)];
    let mut got = 0;
    loop {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_dir_error(&e) => return Err(LocalError::NotFound),
            Err(e) => return Err(e.into()),
        }
        if got >= want {
            break;
        }
    }
    if got < want {
        return Err(LocalError::Shorter { size });
    }
    if got > want {
        return Err(LocalError::Longer { size });
    }
    buf.truncate(want);
    Ok(buf)
}

/// The outcome of [`cached::read_at`].
enum Attempt {
    /// The answer: the bytes, or why there are none.
    Done(Result<Vec<u8>, LocalError>),
    /// Opened, but the bytes could not be read without waiting.
    Opened(File),
    /// Not opened without waiting.
    Miss,
}

/// `range` (at most a few dozen KiB) of the file at `path`, recorded as
/// `size` bytes long, read at once: one open and one positioned read, on the
/// async thread if they cannot block, else in one blocking-pool trip.
pub(crate) async fn read_whole(
    path: PathBuf,
    range: Range<u64>,
    size: u64,
) -> Result<Bytes, LocalError> {
    let want = usize::try_from(range.end - range.start)
        .map_err(|_| LocalError::Io(io::Error::other("range too large to read at once")))?;
    let probe = range.end == size;
    let opened = match cached::read_at(&path, range.start, want, probe, size) {
        Attempt::Done(read) => return read.map(Bytes::from),
        Attempt::Opened(file) => Some(file),
        Attempt::Miss => None,
    };
    blocking(move || {
        let file = match opened {
            Some(file) => file,
            None => File::open(&path)?,
        };
        Ok(Bytes::from(read_at(&file, range.start, want, probe, size)?))
    })
    .await
}

/// Opening and reading without blocking (see the module doc).
#[cfg(target_os = "linux")]
mod cached {
    use std::fs::File;
    use std::io::IoSliceMut;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rustix::fs::{openat2, Mode, OFlags, ResolveFlags, CWD};
    use rustix::io::{preadv2, Errno, ReadWriteFlags};

    use super::{Attempt, LocalError};

    /// Cleared when the kernel or the filesystem refuses `RESOLVE_CACHED`
    /// or `RWF_NOWAIT`: then every read takes the blocking pool.
    static SUPPORTED: AtomicBool = AtomicBool::new(true);

    fn unsupported(e: Errno) -> bool {
        // No openat2 (or a seccomp filter against it), no RESOLVE_CACHED.
        [Errno::NOSYS, Errno::INVAL, Errno::OPNOTSUPP, Errno::PERM].contains(&e)
    }

    /// [`super::read_at`] if the file and the bytes are cached. `RWF_NOWAIT`
    /// stops at the first page not cached, so a read that comes short of the
    /// range is done again, waiting (it may be a shorter file, or a cold
    /// page). One that stops exactly at the recorded end is taken as the
    /// file's end, as in the waiting read; there, only a longer file whose
    /// next page is not cached goes unnoticed, and what is served is still
    /// the recorded number of the file's own bytes.
    pub(super) fn read_at(
        path: &Path,
        offset: u64,
        want: usize,
        probe: bool,
        size: u64,
    ) -> Attempt {
        if !SUPPORTED.load(Ordering::Relaxed) {
            return Attempt::Miss;
        }
        let flags = OFlags::RDONLY | OFlags::CLOEXEC;
        let file = match openat2(CWD, path, flags, Mode::empty(), ResolveFlags::CACHED) {
            Ok(fd) => File::from(fd),
            Err(e) => {
                if unsupported(e) {
                    SUPPORTED.store(false, Ordering::Relaxed);
                }
                return Attempt::Miss;
            }
        };
        let mut buf = vec![0u8; want + usize::from(probe)];
        let read = preadv2(&file, &mut [IoSliceMut::new(&mut buf)], offset, ReadWriteFlags::NOWAIT);
        match read {
            Ok(got) if got > want => Attempt::Done(Err(LocalError::Longer { size })),
            Ok(got) if got == want => {
                buf.truncate(want);
                Attempt::Done(Ok(buf))
            }
            Ok(_) => Attempt::Opened(file),
            Err(Errno::ISDIR) => Attempt::Done(Err(LocalError::NotFound)),
            Err(e) => {
                if e == Errno::OPNOTSUPP {
                    SUPPORTED.store(false, Ordering::Relaxed);
                }
                Attempt::Opened(file)
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod cached {
    use std::path::Path;

    use super::Attempt;

    pub(super) fn read_at(_: &Path, _: u64, _: usize, _: bool, _: u64) -> Attempt {
        Attempt::Miss
    }
}

/// Reads the next `want` bytes of `file` (one more with `probe`) into a
/// buffer of exactly that capacity, without zeroing it first.
fn read_next(file: &File, want: u64, probe: bool, size: u64) -> Result<Vec<u8>, LocalError> {
    let limit = want + u64::from(probe);
    let mut buf = Vec::with_capacity(limit as usize);
    let got = file.take(limit).read_to_end(&mut buf)? as u64;
    if got < want {
        return Err(LocalError::Shorter { size });
    }
    if got > want {
        return Err(LocalError::Longer { size });
    }
    Ok(buf)
}

/// `range` of the file at `path`, recorded as `size` bytes long, as a stream
/// of chunks read one at a time, one chunk ahead of the consumer (1 GiB GETs:
/// median 2.6 → 4.6 GB/s in a 4-round A/B, bench/RESULTS.md): a streamed
/// download holds up to two chunks (2 MiB) for as long as it lasts. The file is opened, and its size checked,
/// before this returns, so a missing or resized file fails before any
/// response is sent; should it shrink (or, at the last chunk, grow) later,
/// the stream ends with an error instead of the chunk.
pub(crate) async fn stream(
    path: PathBuf,
    range: Range<u64>,
    size: u64,
) -> Result<impl Stream<Item = io::Result<Bytes>> + Send + 'static, LocalError> {
    let start = range.start;
    let file = blocking(move || {
        let mut file = open_sized(&path, size)?;
        file.seek(SeekFrom::Start(start))?;
        Ok(file)
    })
    .await?;
    // One chunk is read ahead: the read of the next chunk starts before this
    // one is handed to the network, so that the disk (or the page cache's
    // copy) and the socket work at the same time.
    let read_chunk = move |file: File, offset: u64| {
        let want = (range.end - offset).min(STREAM_CHUNK);
        let probe = offset + want == size;
        tokio::task::spawn_blocking(move || {
            let chunk = read_next(&file, want, probe, size)?;
            Ok::<_, LocalError>((file, chunk, offset + want))
        })
    };
    let first = (start < range.end).then(|| read_chunk(file, start));
    Ok(futures::stream::unfold(first, move |reading| async move {
        let read = reading?.await;
        let read =
            read.map_err(|e| LocalError::Io(io::Error::other(e.to_string()))).and_then(|r| r);
        match read {
            Ok((file, chunk, offset)) => {
                let next = (offset < range.end).then(|| read_chunk(file, offset));
                Some((Ok(Bytes::from(chunk)), next))
            }
            Err(e) => Some((Err(e.into()), None)),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 13 % 251) as u8).collect()
    }

    /// Drops the file's pages from the page cache (where the filesystem can).
    #[cfg(target_os = "linux")]
    fn evict(path: &std::path::Path) {
        let file = File::open(path).unwrap();
        file.sync_all().unwrap();
        let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn non_blocking_attempts_serve_only_the_right_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        let content = pattern(10_000);
        std::fs::write(&path, &content).unwrap();
        let check = |attempt: Attempt, want: &[u8]| match attempt {
            Attempt::Done(Ok(bytes)) => assert!(bytes == want),
            Attempt::Done(Err(e)) => panic!("{e:?}"),
            Attempt::Opened(_) | Attempt::Miss => {}
        };
        for _ in 0..2 {
            check(cached::read_at(&path, 0, 10_000, true, 10_000), &content);
            check(cached::read_at(&path, 4096, 100, false, 10_000), &content[4096..4196]);
            check(cached::read_at(&path, 9_000, 1_000, true, 10_000), &content[9_000..]);
            assert!(matches!(
                cached::read_at(&path, 0, 9_999, true, 9_999),
                Attempt::Done(Err(LocalError::Longer { .. })) | Attempt::Opened(_) | Attempt::Miss
            ));
            // Shorter than recorded: never an answer without the waiting read.
            assert!(matches!(
                cached::read_at(&path, 0, 10_001, true, 10_001),
                Attempt::Opened(_) | Attempt::Miss
            ));
            assert!(matches!(
                cached::read_at(&path, 10_000, 1, true, 10_001),
                Attempt::Opened(_) | Attempt::Miss
            ));
            assert!(matches!(
                cached::read_at(dir.path(), 0, 1, true, 1),
                Attempt::Done(Err(LocalError::NotFound)) | Attempt::Opened(_) | Attempt::Miss
            ));
            assert!(matches!(
                cached::read_at(&dir.path().join("missing"), 0, 1, true, 1),
                Attempt::Miss
            ));
            evict(&path);
        }
    }

    #[tokio::test]
    async fn whole_reads_are_right_hot_and_cold() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object");
        let content = pattern(70_000);
        std::fs::write(&path, &content).unwrap();
        for _ in 0..2 {
            for range in [0..70_000, 0..1, 4095..4097, 65_536..70_000, 70_000..70_000] {
                let got = read_whole(path.clone(), range.clone(), 70_000).await.unwrap();
                assert!(got == content[range.start as usize..range.end as usize], "{range:?}");
            }
            assert!(matches!(
                read_whole(path.clone(), 0..70_001, 70_001).await,
                Err(LocalError::Shorter { .. })
            ));
            assert!(matches!(
                read_whole(path.clone(), 69_000..70_001, 70_001).await,
                Err(LocalError::Shorter { .. })
            ));
            assert!(matches!(
                read_whole(path.clone(), 100..69_999, 69_999).await,
                Err(LocalError::Longer { .. })
            ));
            #[cfg(target_os = "linux")]
            evict(&path);
        }
        assert!(matches!(
            read_whole(dir.path().join("missing"), 0..1, 1).await,
            Err(LocalError::NotFound)
        ));
        assert!(matches!(read_whole(dir.path().into(), 0..1, 1).await, Err(LocalError::NotFound)));
    }
}
