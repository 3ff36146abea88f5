//! orgdrive's content store: file bytes live here, addressed by object keys,
//! behind Apache OpenDAL so that the local filesystem (embedded default),
//! memory (tests) and S3/OSS buckets (`location`: the `--blob` URL) are the
//! same code path. Bytes are always streamed: no method holds a whole object
//! in memory.
//!
//! `presign` signs and verifies the URLs through which clients PUT and GET
//! objects on orgdrive's own blob route; `remote` gives the object stores'
//! own presigned URLs, server-side copies and ETags; `manifest` keeps
//! content made of several objects (multipart uploads on object stores),
//! read transparently by `size`, `read`, `read_sized`, `list` and `delete`.
//!
//! Downloads ([`BlobStore::read_sized`]) take the object's size from the
//! caller (it is signed into the download URL) instead of asking the store;
//! on a filesystem store they bypass OpenDAL (`local`): a small range is one
//! open and one positioned read.
//!
//! Object keys are confined to the store's root: every method refuses, before
//! any storage access, a key that is absolute, has an empty, `.` or `..`
//! segment, or holds anything but ASCII letters, digits, `-`, `_`, `.` and
//! `/` (so no `\`, NUL, `%` or other escape can reach the filesystem).

mod compose;
mod http;
mod local;
mod local_write;
mod location;
mod manifest;
mod presign;
mod raw;
mod remote;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use opendal::{services, ErrorKind, Operator};

pub use compose::MIN_COMPOSE_PART;
pub use http::Waits;
pub use location::{BlobLocation, LocationError, OssLocation, S3Location};
pub use manifest::{is_manifest_key, Manifest, ManifestPart, MANIFEST_PREFIX, MAX_MANIFEST_PARTS};
pub use presign::{Presigner, SignatureError, SignedRequest};
pub use raw::{CopyProgress, CopyThreads, Fingerprint};
pub use remote::{ObjectStat, PresignedUrl};

/// What the blob store can fail with.
#[derive(Debug, thiserror::Error)]
#[error("blob store: {0}")]
pub struct BlobError(#[from] opendal::Error);

impl BlobError {
    /// Whether the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.0.kind() == ErrorKind::NotFound
    }

    /// Whether the store could not be reached or did not answer in time
    /// ([`Waits`]): a connection
    /// refused or timed out, or an answer that stopped coming. Not an error
    /// the store answered.
    pub fn is_unreachable(&self) -> bool {
        self.reqwest_causes().any(|e| e.is_timeout() || e.is_connect())
    }

    /// Whether the store cannot serve now, so that the request may succeed
    /// later: it could not be reached or heard out (a transport failure,
    /// [`BlobError::is_unreachable`] among them), or it answered that it is
    /// busy (429, 500, 502, 503 `SlowDown`, 504) to every try.
    pub fn is_unavailable(&self) -> bool {
        // Any failure to reach the store or hear it out (a connection cut
        // mid-request too: what was done is then unknown, and the client is
        // told to look before writing again).
        self.reqwest_causes().next().is_some()
            || self.0.kind() == ErrorKind::RateLimited
            || http::causes(&self.0).any(|e| e.is::<http::StoreAnsweredBusy>())
    }

    /// Whether a request that failed so may be sent again ([`http::with_retries`]):
    /// the store answered a server error, or no connection could be opened
    /// (not for want of an answer in time).
    pub(crate) fn may_retry(&self) -> bool {
        http::causes(&self.0)
            .any(|e| e.downcast_ref::<http::StoreAnsweredBusy>().is_some_and(|b| b.retryable))
            || self.reqwest_causes().any(http::connection_never_opened)
    }

    fn reqwest_causes(&self) -> impl Iterator<Item = &reqwest::Error> {
        http::causes(&self.0).filter_map(|e| e.downcast_ref::<reqwest::Error>())
    }
}

impl From<local::LocalError> for BlobError {
    fn from(e: local::LocalError) -> BlobError {
        let kind = match e {
            local::LocalError::NotFound => ErrorKind::NotFound,
            _ => ErrorKind::Unexpected,
        };
        BlobError(
            opendal::Error::new(kind, "reading an object").set_source(std::io::Error::from(e)),
        )
    }
}

/// Ranges of at most this many bytes are downloaded in one read, into
/// memory; longer ones are streamed in chunks.
pub const WHOLE_READ_MAX: u64 = 64 << 10;

/// The bytes of one read of an object's stream (a ranged GET on an object
/// store).
pub(crate) const READ_CHUNK: usize = 1 << 20;

/// Chunks of a streamed download.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + 'static>>;

/// The bytes of a download ([`BlobStore::read_sized`]).
pub enum Download {
    /// The whole range, already read (at most [`WHOLE_READ_MAX`] bytes).
    Whole(Bytes),
    /// The range, streamed; it ends with an error if the object turns out not
    /// to have the recorded size.
    Stream(ByteStream),
}

impl Download {
    /// The bytes if they were read at once, else the stream.
    pub fn into_whole(self) -> Result<Bytes, ByteStream> {
        match self {
            Download::Whole(bytes) => Ok(bytes),
            Download::Stream(stream) => Err(stream),
        }
    }
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Download::Whole(bytes) => f.debug_tuple("Whole").field(&bytes.len()).finish(),
            Download::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// Why a streamed write stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<E> {
    /// The stream carried more than the allowed bytes; nothing was stored.
    #[error("more than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The source stream failed (e.g. the client went away); nothing was stored.
    #[error("source: {0}")]
    Source(E),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Size (and, when asked for, MD5) of what was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub size: u64,
    /// Lower-case hex; computed only when asked for (it costs CPU per byte).
    pub md5: Option<String>,
}

/// Whether `key` (an object, or a prefix ending in `/`) stays inside the root.
pub fn is_confined_key(key: &str) -> bool {
    let body = key.strip_suffix('/').unwrap_or(key);
    !body.is_empty()
        && body.len() <= 1024
        && body.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

/// Refuses keys that could leave the root (see the module doc).
fn confined(key: &str) -> Result<&str, BlobError> {
    if is_confined_key(key) {
        Ok(key)
    } else {
        Err(BlobError(opendal::Error::new(ErrorKind::PermissionDenied, "object key refused")))
    }
}

/// Bytes handed to the store at once: large writes, few syscalls.
use local_write::WRITE_CHUNK;
/// On object stores, a chunk is a part of a multipart upload, which S3
/// wants of at least 5 MiB (but the last).
const REMOTE_WRITE_CHUNK: usize = 8 << 20;

/// Fsyncs a directory, so that entries created or renamed in it are durable.
async fn fsync_dir(path: PathBuf) -> Result<(), BlobError> {
    tokio::task::spawn_blocking(move || std::fs::File::open(&path)?.sync_all())
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r)
        .map_err(|e| {
            BlobError(
                opendal::Error::new(ErrorKind::Unexpected, "syncing a directory").set_source(e),
            )
        })
}

/// An object found by [`BlobStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// Last modification, Unix seconds, when the store knows it.
    pub modified_unix: Option<i64>,
}

/// A content store over one OpenDAL operator. Cloning it is one reference
/// count (it is cloned with the server's state, several times per request).
#[derive(Clone, Debug)]
pub struct BlobStore {
    inner: Arc<Store>,
}

#[derive(Debug)]
struct Store {
    op: Operator,
    /// Filesystem stores: the root, whose directories are fsynced after each
    /// write so that a renamed-into-place object survives power loss.
    sync_root: Option<PathBuf>,
    /// Filesystem stores: the root (for free-space checks and downloads).
    local_root: Option<PathBuf>,
    /// Filesystem stores: streamed writes, without OpenDAL (`local_write`).
    local_writes: Option<Arc<local_write::LocalWrites>>,
    /// Object stores: clients use the store's own presigned URLs.
    presigns: bool,
    /// S3 stores: joins objects server-side ([`BlobStore::compose`]).
    composer: Option<compose::Composer>,
    /// The largest object one server-side copy ([`BlobStore::copy`]) takes.
    max_copy_bytes: u64,
    /// What every download of a manifest may hold read ahead, together
    /// (`manifest::READ_AHEAD_CHUNKS`).
    read_ahead: Arc<tokio::sync::Semaphore>,
    /// Object stores: requests sent again ([`BlobStore::retries`]).
    retries: http::RetryCount,
}

impl BlobStore {
    /// A store keeping objects as files under `root` (created if missing).
    /// Writes go to a temporary file that is renamed into place on success,
    /// so a failed or interrupted write leaves no object behind. With
    /// `durable`, the file and the directories on the object's path are
    /// fsynced, so that the object survives power loss once a write returns
    /// (without, it survives a crash of the process only).
    pub fn filesystem(root: &Path, durable: bool) -> Result<BlobStore, BlobError> {
        let builder = services::Fs::default()
            .root(&root.to_string_lossy())
            .atomic_write_dir(&root.join(local_write::STAGING_DIR).to_string_lossy());
        let sync_root = durable.then(|| root.to_path_buf());
        let local_root = Some(root.to_path_buf());
        let local_writes = Some(Arc::new(local_write::LocalWrites::new(root, durable)));
        let op = Operator::new(builder)?.finish();
        Ok(BlobStore {
            inner: Arc::new(Store {
                op,
                sync_root,
                local_root,
                local_writes,
                presigns: false,
                composer: None,
                max_copy_bytes: u64::MAX,
                read_ahead: manifest::read_ahead_budget(),
                retries: Default::default(),
            }),
        })
    }

    /// A store keeping objects in process memory (tests, demos).
    pub fn memory() -> Result<BlobStore, BlobError> {
        let op = Operator::new(services::Memory::default())?.finish();
        Ok(BlobStore {
            inner: Arc::new(Store {
                op,
                sync_root: None,
                local_root: None,
                local_writes: None,
                presigns: false,
                composer: None,
                max_copy_bytes: u64::MAX,
                read_ahead: manifest::read_ahead_budget(),
                retries: Default::default(),
            }),
        })
    }

    fn write_chunk(&self) -> usize {
        if self.inner.presigns {
            REMOTE_WRITE_CHUNK
        } else {
            WRITE_CHUNK
        }
    }

    /// A store over an object store's operator: no local disk, presigned
    /// URLs; one server-side copy takes at most `max_copy_bytes`.
    fn remote(
        op: Operator,
        composer: Option<compose::Composer>,
        max_copy_bytes: u64,
        retries: http::RetryCount,
    ) -> BlobStore {
        BlobStore {
            inner: Arc::new(Store {
                op,
                sync_root: None,
                local_root: None,
                local_writes: None,
                presigns: true,
                composer,
                max_copy_bytes,
                read_ahead: manifest::read_ahead_budget(),
                retries,
            }),
        }
    }

    /// How many requests this store (an object store) has been sent again
    /// since it was opened: what the store answered busy or could not be
    /// reached for (see `http.rs`). Each is also logged.
    pub fn retries(&self) -> u64 {
        self.inner.retries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The largest object one server-side copy ([`BlobStore::copy`]) takes:
    /// 5 GiB on S3 (CopyObject; a PUT stops there too), 1 GiB on OSS (whose
    /// CopyObject refuses more), no limit on the other stores.
    pub fn max_copy_bytes(&self) -> u64 {
        self.inner.max_copy_bytes
    }

    /// Tests only: this store, not yet cloned, with
    /// [`BlobStore::max_copy_bytes`] set (to exercise OSS's limit on an S3
    /// server with objects of a few bytes).
    #[doc(hidden)]
    pub fn with_copy_limit_for_tests(mut self, max_copy_bytes: u64) -> BlobStore {
        let store = Arc::get_mut(&mut self.inner).expect("a store not yet cloned");
        store.max_copy_bytes = max_copy_bytes;
        self
    }

    /// Fsyncs the directories from `key`'s parent up to, not including, the
    /// root's children's parent: the top-level folders (`objects/`, `parts/`)
    /// exist from the start (see [`BlobStore::prepare`]), deeper ones may have
    /// been created by this write.
    async fn sync_dirs(&self, key: &str) -> Result<(), BlobError> {
        let Some(root) = &self.inner.sync_root else { return Ok(()) };
        let mut dir = root.join(key);
        while dir.pop() && dir.starts_with(root) && dir != *root {
            fsync_dir(dir.clone()).await?;
        }
        Ok(())
    }

    /// Whether writes are staged in `.incoming/` before they land (a store
    /// on a local filesystem); interrupted ones leave files there. Object
    /// stores write each object atomically and have no such directory.
    pub fn stages_writes(&self) -> bool {
        self.inner.local_root.is_some()
    }

    /// Bytes available to unprivileged writers on the filesystem holding the
    /// store; `None` for stores without a local filesystem.
    pub fn free_bytes(&self) -> Result<Option<u64>, BlobError> {
        let Some(root) = &self.inner.local_root else { return Ok(None) };
        let stat = rustix::fs::statvfs(root).map_err(|e| {
            BlobError(
                opendal::Error::new(ErrorKind::Unexpected, "reading free disk space")
                    .set_source(std::io::Error::from(e)),
            )
        })?;
        Ok(Some(stat.f_bavail.saturating_mul(stat.f_frsize)))
    }

    /// Checks that the store answers (used at startup).
    pub async fn check(&self) -> Result<(), BlobError> {
        self.inner.op.check().await?;
        Ok(())
    }

    /// Creates the top-level folders (e.g. `objects/`) and, on a durable
    /// filesystem store, makes their creation durable once, so that writes
    /// need not fsync the root again.
    pub async fn prepare(&self, folders: &[&str]) -> Result<(), BlobError> {
        for folder in folders {
            self.inner.op.create_dir(folder).await?;
        }
        match &self.inner.sync_root {
            Some(root) => fsync_dir(root.clone()).await,
            None => Ok(()),
        }
    }

    /// Streams `source` into object `key`, refusing more than `limit` bytes;
    /// computes the MD5 on the way when `md5` is set.
    pub async fn write_stream<S, E>(
        &self,
        key: &str,
        source: S,
        limit: Option<u64>,
        md5: bool,
    ) -> Result<Written, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
    {
        let key = confined(key)?;
        if let Some(local) = &self.inner.local_writes {
            return local.write_stream(key, source, limit, md5).await;
        }
        let mut writer = self
            .inner
            .op
            .writer_with(key)
            .chunk(self.write_chunk())
            .await
            .map_err(BlobError::from)?;
        let mut digest = md5.then(Md5::new);
        let mut size = 0u64;
        let mut source = std::pin::pin!(source);
        while let Some(chunk) = source.next().await {
            let failure = match chunk {
                Err(e) => Some(WriteError::Source(e)),
                Ok(chunk) => {
                    size += chunk.len() as u64;
                    match limit {
                        Some(limit) if size > limit => Some(WriteError::TooLarge { limit }),
                        _ => {
                            if let Some(digest) = &mut digest {
                                digest.update(&chunk);
                            }
                            writer.write(chunk).await.err().map(|e| BlobError(e).into())
                        }
                    }
                }
            };
            if let Some(failure) = failure {
                let _ = writer.abort().await;
                return Err(failure);
            }
        }
        if let Err(e) = writer.close().await {
            // A multipart upload not completed would keep its parts stored.
            let _ = writer.abort().await;
            return Err(BlobError(e).into());
        }
        self.sync_dirs(key).await?;
        Ok(Written { size, md5: digest.map(|d| hex::encode(d.finalize())) })
    }

    /// Writes the concatenation of `sources`, in order, to `dest`, streaming;
    /// computes the MD5 on the way when `md5` is set.
    pub async fn concat(
        &self,
        sources: &[String],
        dest: &str,
        md5: bool,
    ) -> Result<Written, BlobError> {
        for source in sources {
            confined(source)?;
        }
        let dest = confined(dest)?;
        let mut writer = self.inner.op.writer_with(dest).chunk(self.write_chunk()).await?;
        let mut digest = md5.then(Md5::new);
        let mut size = 0u64;
        for source in sources {
            let copied = async {
                let mut chunks = self.inner.op.reader(source).await?.into_bytes_stream(..).await?;
                while let Some(chunk) = chunks.next().await {
                    let chunk = chunk.map_err(|e| {
                        opendal::Error::new(ErrorKind::Unexpected, "reading a part").set_source(e)
                    })?;
                    size += chunk.len() as u64;
                    if let Some(digest) = &mut digest {
                        digest.update(&chunk);
                    }
                    writer.write(chunk).await?;
                }
                Ok::<_, opendal::Error>(())
            };
            if let Err(e) = copied.await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
        }
        if let Err(e) = writer.close().await {
            let _ = writer.abort().await; // see `write_stream`
            return Err(e.into());
        }
        self.sync_dirs(dest).await?;
        Ok(Written { size, md5: digest.map(|d| hex::encode(d.finalize())) })
    }

    /// Size of the object (a manifest's: its content's), or `None` if it does
    /// not exist (or is a directory).
    pub async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        if is_manifest_key(confined(key)?) {
            return Ok(self.read_manifest(key).await?.map(|m| m.size));
        }
        match self.inner.op.stat(confined(key)?).await {
            Ok(meta) if meta.is_dir() => Ok(None),
            Ok(meta) => Ok(Some(meta.content_length())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The bytes of `range` of the object, as a stream.
    pub async fn read(&self, key: &str, range: Range<u64>) -> Result<ByteStream, BlobError> {
        if is_manifest_key(confined(key)?) {
            let manifest = self.existing_manifest(key).await?;
            let range = range.start.min(manifest.size)..range.end.min(manifest.size);
            return Ok(match self.read_manifest_range(manifest, range).await? {
                Download::Whole(bytes) => Box::pin(futures::stream::once(async move { Ok(bytes) })),
                Download::Stream(stream) => stream,
            });
        }
        self.read_object(key, range).await
    }

    /// [`BlobStore::read`] of a plain object (no manifest).
    async fn read_object(&self, key: &str, range: Range<u64>) -> Result<ByteStream, BlobError> {
        let reader = self.inner.op.reader_with(confined(key)?).chunk(READ_CHUNK).await?;
        Ok(Box::pin(reader.into_bytes_stream(range).await?.into_stream()))
    }

    /// The bytes of `range` of object `key`, whose size the caller knows to
    /// be `size` (recorded when it was written, and signed into the download
    /// URL), so that the store is not asked for it: on a filesystem store a
    /// range of at most [`WHOLE_READ_MAX`] bytes is one open and one
    /// positioned read, a longer one a stream read in chunks.
    ///
    /// The bytes are exactly those of `range`, or an error: a missing object
    /// is a not-found error ([`BlobError::is_not_found`]); an object shorter
    /// than `size` fails (never padded, never cut short without an error), and
    /// so does a longer one whenever that shows without an extra request
    /// (when the range reaches `size`, and before a stream starts).
    pub async fn read_sized(
        &self,
        key: &str,
        range: Range<u64>,
        size: u64,
    ) -> Result<Download, BlobError> {
        let key = confined(key)?;
        if range.start > range.end || range.end > size {
            return Err(BlobError(opendal::Error::new(
                ErrorKind::RangeNotSatisfied,
                "range outside the object",
            )));
        }
        if is_manifest_key(key) {
            let manifest = self.existing_manifest(key).await?;
            if manifest.size != size {
                return Err(BlobError(opendal::Error::new(
                    ErrorKind::Unexpected,
                    format!("the content has {} bytes, not its recorded {size}", manifest.size),
                )));
            }
            return self.read_manifest_range(manifest, range).await;
        }
        self.read_sized_object(key, range, size).await
    }

    /// [`BlobStore::read_sized`] of a plain object (no manifest).
    async fn read_sized_object(
        &self,
        key: &str,
        range: Range<u64>,
        size: u64,
    ) -> Result<Download, BlobError> {
        if range.start > range.end || range.end > size {
            return Err(BlobError(opendal::Error::new(
                ErrorKind::RangeNotSatisfied,
                "range outside the object",
            )));
        }
        let whole = range.end - range.start <= WHOLE_READ_MAX;
        if let Some(root) = &self.inner.local_root {
            let path = root.join(key);
            return Ok(if whole {
                Download::Whole(local::read_whole(path, range, size).await?)
            } else {
                Download::Stream(Box::pin(local::stream(path, range, size).await?))
            });
        }
        // Other stores: their stat is what tells a missing or resized object.
        let actual = self
            .size(key)
            .await?
            .ok_or_else(|| BlobError(opendal::Error::new(ErrorKind::NotFound, "no such object")))?;
        if actual != size {
            return Err(BlobError(opendal::Error::new(
                ErrorKind::Unexpected,
                format!("the object has {actual} bytes, not its recorded {size}"),
            )));
        }
        Ok(if range.is_empty() {
            Download::Whole(Bytes::new())
        } else if whole {
            Download::Whole(self.inner.op.read_with(key).range(range).await?.to_bytes())
        } else {
            Download::Stream(self.read_object(key, range).await?)
        })
    }

    /// Every object under `prefix` (recursively), with its size (a
    /// manifest's: its content's) and age.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, BlobError> {
        let mut objects = Vec::new();
        for mut object in self.list_raw(prefix).await? {
            if is_manifest_key(&object.key) {
                match self.read_manifest(&object.key).await? {
                    Some(manifest) => object.size = manifest.size,
                    None => continue,
                }
            }
            objects.push(object);
        }
        Ok(objects)
    }

    /// Removes the object (a manifest: its parts, then itself); no error if
    /// it is already gone.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        if is_manifest_key(confined(key)?) {
            return self.delete_manifest(key).await;
        }
        Ok(self.inner.op.delete(confined(key)?).await?)
    }

    /// Removes every object under `prefix` (which must end with `/`).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        Ok(self.inner.op.remove_all(confined(prefix)?).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        futures::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>())
    }

    async fn read_all(store: &BlobStore, key: &str, range: Range<u64>) -> Vec<u8> {
        let stream = store.read(key, range).await.unwrap();
        let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn filesystem_store_streams_objects_in_and_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::filesystem(&dir.path().join("blobs"), true).unwrap();
        store.check().await.unwrap();
        let written =
            store.write_stream("a/b", chunks(&[b"hel", b"lo"]), None, true).await.unwrap();
        assert_eq!(written.size, 5);
        assert_eq!(written.md5.as_deref(), Some("5d41402abc4b2a76b9719d911017c592"));
        assert!(dir.path().join("blobs/a/b").exists());
        assert_eq!(read_all(&store, "a/b", 0..5).await, b"hello");
        assert_eq!(read_all(&store, "a/b", 1..3).await, b"el");
        assert_eq!(store.size("a/b").await.unwrap(), Some(5));
        assert_eq!(store.size("a/missing").await.unwrap(), None);
    }

    #[tokio::test]
    async fn oversize_and_failed_writes_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::filesystem(&dir.path().join("blobs"), true).unwrap();
        let err = store.write_stream("big", chunks(&[b"12345", b"678"]), Some(6), false).await;
        assert!(matches!(err, Err(WriteError::TooLarge { limit: 6 })));
        assert_eq!(store.size("big").await.unwrap(), None);
        let failing = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::other("client went away")),
        ]);
        assert!(matches!(
            store.write_stream("cut", failing, None, false).await,
            Err(WriteError::Source(_))
        ));
        assert_eq!(store.size("cut").await.unwrap(), None);
    }

    #[tokio::test]
    async fn keys_cannot_leave_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), b"s3cr3t").unwrap();
        let store = BlobStore::filesystem(&dir.path().join("blobs"), false).unwrap();
        store.prepare(&["objects/"]).await.unwrap();
        for key in [
            "../secret",
            "objects/../../secret",
            "/etc/hostname",
            "objects/./x",
            "objects//x",
            "objects\\..\\x",
            "objects/x\0",
            "%2e%2e/secret",
            "",
            "/",
        ] {
            assert!(!is_confined_key(key), "{key:?}");
            assert!(store.size(key).await.is_err(), "{key:?}");
            assert!(store.read(key, 0..1).await.is_err(), "{key:?}");
            assert!(store.delete(key).await.is_err(), "{key:?}");
            assert!(store.write_stream(key, chunks(&[b"x"]), None, false).await.is_err());
        }
        assert!(dir.path().join("secret").exists());
        // A directory is not an object.
        assert_eq!(store.size("objects").await.unwrap(), None);
        assert!(is_confined_key("objects/") && is_confined_key("parts/k/1-x"));
        assert!(store.free_bytes().unwrap().unwrap() > 0);
        assert_eq!(BlobStore::memory().unwrap().free_bytes().unwrap(), None);
    }

    async fn read_sized_all(
        store: &BlobStore,
        key: &str,
        range: Range<u64>,
        size: u64,
    ) -> Result<Vec<u8>, String> {
        match store.read_sized(key, range, size).await.map_err(|e| e.to_string())? {
            Download::Whole(bytes) => Ok(bytes.to_vec()),
            Download::Stream(stream) => {
                let chunks: Vec<Bytes> = stream.try_collect().await.map_err(|e| e.to_string())?;
                Ok(chunks.concat())
            }
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 253) as u8).collect()
    }

    #[tokio::test]
    async fn sized_reads_return_exactly_the_range_or_fail() {
        let dir = tempfile::tempdir().unwrap();
        let fs = BlobStore::filesystem(&dir.path().join("blobs"), false).unwrap();
        let memory = BlobStore::memory().unwrap();
        let large = (3 << 20) + 5;
        for store in [&fs, &memory] {
            for len in [0, 1, 4096, WHOLE_READ_MAX as usize, WHOLE_READ_MAX as usize + 1, large] {
                let content = pattern(len);
                let key = format!("objects/len{len}");
                let source =
                    futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(content.clone()))]);
                store.write_stream(&key, source, None, false).await.unwrap();
                let size = len as u64;
                let mut ranges = vec![0..size, 0..size / 2, size / 3..size];
                if len > 2 {
                    ranges.extend([1..2, size - 1..size]);
                }
                if len > (1 << 20) + 2 {
                    ranges.extend([(1 << 20) - 1..(1 << 20) + 1, (1 << 20)..(2 << 20) + 1]);
                }
                for range in ranges {
                    let got = read_sized_all(store, &key, range.clone(), size).await.unwrap();
                    let want = &content[range.start as usize..range.end as usize];
                    assert!(got == want, "{len} {range:?}");
                }
                let whole = store.read_sized(&key, 0..size, size).await.unwrap();
                assert_eq!(matches!(whole, Download::Whole(_)), size <= WHOLE_READ_MAX, "{len}");
                // Signed sizes that disagree with the object.
                let shorter = read_sized_all(store, &key, 0..size + 1, size + 1).await;
                assert!(shorter.is_err(), "{len}: {shorter:?}");
                if len > 0 {
                    let longer = read_sized_all(store, &key, 0..size - 1, size - 1).await;
                    assert!(longer.is_err(), "{len}");
                    let suffix = read_sized_all(store, &key, size / 2..size - 1, size - 1).await;
                    assert!(suffix.is_err(), "{len}");
                }
                // A range outside the stated size is refused before any read.
                assert!(store.read_sized(&key, 0..size + 1, size).await.is_err());
            }
            let missing = store.read_sized("objects/missing", 0..10, 10).await.unwrap_err();
            assert!(missing.is_not_found(), "{missing}");
            let missing = store.read_sized("objects/missing", 0..1 << 20, 1 << 20).await;
            assert!(missing.unwrap_err().is_not_found());
            for key in ["../secret", "objects/../../secret", "/etc/hostname", "objects//x", ""] {
                let refused = store.read_sized(key, 0..1, 1).await.unwrap_err();
                assert!(!refused.is_not_found(), "{key:?}");
            }
        }
        // A directory is not an object.
        let not_object = fs.read_sized("objects", 0..1, 1).await.unwrap_err();
        assert!(not_object.is_not_found(), "{not_object}");
        let not_object = fs.read_sized("objects", 0..1 << 20, 1 << 20).await.unwrap_err();
        assert!(not_object.is_not_found(), "{not_object}");
    }

    #[tokio::test]
    async fn a_stream_whose_file_changes_ends_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::filesystem(&dir.path().join("blobs"), false).unwrap();
        let len = (3 << 20) + 5;
        let content = pattern(len);
        let source = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(content.clone()))]);
        store.write_stream("objects/a", source, None, false).await.unwrap();
        let path = dir.path().join("blobs/objects/a");
        let size = len as u64;

        // Cut short after the stream started: the bytes that were there, then an error.
        let Download::Stream(mut stream) =
            store.read_sized("objects/a", 0..size, size).await.unwrap()
        else {
            panic!("not streamed")
        };
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.as_ref(), &content[..first.len()]);
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(2 << 20).unwrap();
        let mut served = first.to_vec();
        let mut failed = false;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => served.extend_from_slice(&chunk),
                Err(e) => {
                    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed && served.len() <= 2 << 20 && served[..] == content[..served.len()]);

        // Grown after the stream started: the last chunk is not handed out.
        std::fs::write(&path, &content).unwrap();
        let Download::Stream(stream) = store.read_sized("objects/a", 0..size, size).await.unwrap()
        else {
            panic!("not streamed")
        };
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"x").unwrap();
        let chunks: Vec<_> = stream.collect().await;
        let last = chunks.last().unwrap().as_ref().unwrap_err();
        assert_eq!(last.kind(), std::io::ErrorKind::InvalidData, "{last}");
        let served: Vec<u8> =
            chunks.iter().filter_map(|c| c.as_ref().ok()).flat_map(|c| c.to_vec()).collect();
        assert!(served.len() < len && served[..] == content[..served.len()]);
    }

    #[tokio::test]
    async fn manifests_read_as_one_object_and_delete_with_their_parts() {
        let dir = tempfile::tempdir().unwrap();
        let fs = BlobStore::filesystem(&dir.path().join("blobs"), true).unwrap();
        let memory = BlobStore::memory().unwrap();
        for store in [&fs, &memory] {
            let content = pattern((2 << 20) + 3 * 1000 + 17);
            let cuts = [0, 1 << 20, (1 << 20) + 1000, (2 << 20) + 1000, content.len()];
            let mut parts = Vec::new();
            for (n, window) in cuts.windows(2).enumerate() {
                let key = format!("chunks/m/{}", n + 1);
                let bytes = Bytes::from(content[window[0]..window[1]].to_vec());
                store
                    .write_stream(
                        &key,
                        futures::stream::iter([Ok::<_, std::io::Error>(bytes)]),
                        None,
                        false,
                    )
                    .await
                    .unwrap();
                parts.push(ManifestPart { key, size: (window[1] - window[0]) as u64 });
            }
            let manifest = Manifest::new(parts);
            let size = content.len() as u64;
            assert_eq!(manifest.size, size);
            assert!(store.write_manifest("objects/m", &manifest).await.is_err());
            store.write_manifest("manifests/m", &manifest).await.unwrap();
            assert_eq!(store.read_manifest("manifests/m").await.unwrap(), Some(manifest.clone()));
            assert_eq!(store.size("manifests/m").await.unwrap(), Some(size));
            let boundary = 1u64 << 20;
            for range in [
                0..size,
                boundary - 5..boundary + 5,
                boundary - 1..boundary + 1001,
                boundary + 999..size,
                size - 1..size,
                3..3,
                0..WHOLE_READ_MAX + 1,
            ] {
                let got = read_sized_all(store, "manifests/m", range.clone(), size).await.unwrap();
                assert!(got == content[range.start as usize..range.end as usize], "{range:?}");
                assert!(read_all(store, "manifests/m", range.clone()).await == got, "{range:?}");
            }
            // The recorded size must be the manifest's.
            assert!(store.read_sized("manifests/m", 0..1, size + 1).await.is_err());
            assert!(store.read_sized("manifests/m", 0..size + 1, size).await.is_err());
            let listed = store.list("manifests/").await.unwrap();
            assert_eq!(
                listed.iter().map(|o| (o.key.as_str(), o.size)).collect::<Vec<_>>(),
                vec![("manifests/m", size)]
            );
            // A part gone: the read fails, never serves a short file.
            store.delete("chunks/m/3").await.unwrap();
            assert!(read_sized_all(store, "manifests/m", 0..size, size).await.is_err());
            store.delete("manifests/m").await.unwrap();
            assert_eq!(store.size("manifests/m").await.unwrap(), None);
            for n in 1..=4 {
                assert_eq!(store.size(&format!("chunks/m/{n}")).await.unwrap(), None);
            }
            store.delete("manifests/m").await.unwrap(); // idempotent
            let missing = store.read_sized("manifests/m", 0..1, 1).await.unwrap_err();
            assert!(missing.is_not_found(), "{missing}");
            // A manifest naming something outside the root is refused.
            let evil = br#"{"size":6,"parts":[{"key":"../secret","size":6}]}"#;
            store.write_stream("manifests/evil", chunks(&[evil]), None, false).await.unwrap();
            assert!(store.read_sized("manifests/evil", 0..6, 6).await.is_err());
            assert!(store.size("manifests/evil").await.is_err());
        }
    }

    #[tokio::test]
    async fn concat_joins_parts_in_order() {
        let store = BlobStore::memory().unwrap();
        store.write_stream("p/2", chunks(&[b"world"]), None, false).await.unwrap();
        store.write_stream("p/1", chunks(&[b"hello "]), None, false).await.unwrap();
        let written = store.concat(&["p/1".into(), "p/2".into()], "whole", true).await.unwrap();
        assert_eq!(written.size, 11);
        assert_eq!(written.md5.as_deref(), Some("5eb63bbbe01eeed093cb22bb8f5acdc3"));
        let unhashed = store.concat(&["p/1".into()], "half", false).await.unwrap();
        assert_eq!((unhashed.size, unhashed.md5), (6, None));
        assert_eq!(read_all(&store, "whole", 0..11).await, b"hello world");
        let mut listed: Vec<_> =
            store.list("p/").await.unwrap().into_iter().map(|o| (o.key, o.size)).collect();
        listed.sort();
        assert_eq!(listed, vec![("p/1".to_string(), 6), ("p/2".to_string(), 5)]);
        store.delete_prefix("p/").await.unwrap();
        assert_eq!(store.size("p/1").await.unwrap(), None);
        assert!(store.list("p/").await.unwrap().is_empty());
    }
}
