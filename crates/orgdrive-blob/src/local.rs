//! Downloads from a filesystem store without OpenDAL: the size is known (it
//! was signed into the URL), so no stat is needed, and a small range is one
//! open and one positioned read in a single trip to the blocking pool. OpenDAL's
//! fs reader would make that three trips (stat, open, read), each a pair of
//! thread wake-ups that cost far more than the syscalls.
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

/// `range` (at most a few dozen KiB) of the file at `path`, recorded as
/// `size` bytes long, read at once: one open and one positioned read.
pub(crate) async fn read_whole(
    path: PathBuf,
    range: Range<u64>,
    size: u64,
) -> Result<Bytes, LocalError> {
    let want = usize::try_from(range.end - range.start)
        .map_err(|_| LocalError::Io(io::Error::other("range too large to read at once")))?;
    blocking(move || {
        let file = File::open(&path)?;
        let bytes = read_at(&file, range.start, want, range.end == size, size)?;
        Ok(Bytes::from(bytes))
    })
    .await
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
/// of chunks read one at a time. The file is opened, and its size checked,
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
    Ok(futures::stream::unfold(Some((file, start)), move |state| async move {
        let (file, offset) = state?;
        if offset >= range.end {
            return None;
        }
        let want = (range.end - offset).min(STREAM_CHUNK);
        let probe = offset + want == size;
        let read = blocking(move || {
            let chunk = read_next(&file, want, probe, size)?;
            Ok((file, chunk))
        });
        match read.await {
            Ok((file, chunk)) => Some((Ok(Bytes::from(chunk)), Some((file, offset + want)))),
            Err(e) => Some((Err(e.into()), None)),
        }
    }))
}
