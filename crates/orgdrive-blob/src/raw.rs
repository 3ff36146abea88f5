//! Objects as stored, for backups: copied, hashed and listed byte for byte,
//! a manifest as its own small JSON object (its parts are objects of their
//! own), never read through as content the way [`BlobStore::read`] does.
//!
//! Between two filesystem stores a copy is plain file I/O on one blocking
//! thread (read, hash, write), with no fsync per object unless the target
//! is durable: OpenDAL's fs writer syncs every file it closes, which made a
//! backup of small files 7x slower than `cp -r`. A non-durable target is
//! made durable once ([`BlobStore::sync_all`]). Many objects are copied
//! by [`BlobStore::copy_raw_many`]: between two filesystem stores, a few
//! threads each copy object after object, with no trip through the async
//! runtime per object.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use opendal::ErrorKind;
use sha2::{Digest, Sha256};

use crate::{confined, BlobError, BlobStore, ObjectInfo};

/// The size and SHA-256 (lower-case hex) of an object's stored bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    pub sha256: String,
}

fn reading(e: std::io::Error) -> BlobError {
    BlobError(opendal::Error::new(ErrorKind::Unexpected, "reading an object").set_source(e))
}

/// A local I/O failure; a missing file is a not-found error.
fn local(e: std::io::Error) -> BlobError {
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        _ => ErrorKind::Unexpected,
    };
    BlobError(opendal::Error::new(kind, "copying an object").set_source(e))
}

/// What a [`BlobStore::copy_raw_many`] has done so far (read while it runs,
/// for a progress display), the switch that stops it, and how its threads
/// start.
#[derive(Debug, Default)]
pub struct CopyProgress {
    /// Objects copied so far, and their bytes.
    pub objects: AtomicU64,
    pub bytes: AtomicU64,
    /// Set to stop: copies not yet started answer an error.
    pub stop: AtomicBool,
    /// What the threads of a copy between two filesystem stores run.
    pub threads: CopyThreads,
}

/// What each thread of a copy between two filesystem stores (threads of
/// their own, which end with the copy) runs besides the copies: the backup
/// command makes them background work that yields to a busy machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyThreads {
    /// Run first.
    pub setup: Option<fn()>,
    /// Run after each object copied, with the time its copy took; may sleep.
    pub pace: Option<fn(std::time::Duration)>,
}

impl CopyProgress {
    fn copied(&self, fingerprint: &Fingerprint) {
        self.objects.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(fingerprint.size, Ordering::Relaxed);
    }

    fn stopped(&self) -> Option<BlobError> {
        self.stop
            .load(Ordering::Relaxed)
            .then(|| BlobError(opendal::Error::new(ErrorKind::Unexpected, "the copy was stopped")))
    }
}

/// Bytes read at once by the local copy and hash.
const LOCAL_CHUNK: usize = 1 << 20;

/// Files from this size on are copied by the kernel (`copy_file_range`)
/// while another thread reads and hashes them: two passes over the page
/// cache at once instead of one that hashes and copies in turn.
const PARALLEL_HASH_MIN: u64 = 8 << 20;

/// Copies the file `from` to `to`, hashing it on the way; with `durable`,
/// the file is fsynced. Written in place, not renamed into place: a rename
/// from a staging directory locks two directories, and copies running side
/// by side queued on those locks (see [`BlobStore::copy_raw`]). Directories
/// are made only when missing.
fn copy_local(from: &Path, to: &Path, durable: bool) -> std::io::Result<Fingerprint> {
    let mut source = std::fs::File::open(from)?;
    let mut file = match std::fs::File::create(to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::File::create(to)?
        }
        other => other?,
    };
    let size = source.metadata()?.len();
    let fingerprint = if size >= PARALLEL_HASH_MIN {
        let from = from.to_path_buf();
        let hasher = std::thread::spawn(move || hash_into(&mut std::fs::File::open(from)?, None));
        let written = std::io::copy(&mut source, &mut file)?;
        let fingerprint = hasher.join().map_err(|_| std::io::Error::other("hashing failed"))??;
        if written != fingerprint.size {
            return Err(std::io::Error::other("the object changed while it was copied"));
        }
        fingerprint
    } else {
        hash_into(&mut source, Some(&mut file))?
    };
    if durable {
        file.sync_all()?;
    }
    Ok(fingerprint)
}

/// Reads `source` to its end, hashing it and writing it to `sink`.
fn hash_into(
    source: &mut std::fs::File,
    mut sink: Option<&mut std::fs::File>,
) -> std::io::Result<Fingerprint> {
    thread_local! {
        // One buffer per blocking thread, reused: a fresh megabyte per
        // object cost more page faults than a small object's copy.
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buffer| {
        buffer.resize(LOCAL_CHUNK, 0);
        let mut digest = Sha256::new();
        let mut size = 0u64;
        loop {
            let n = match source.read(buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            digest.update(&buffer[..n]);
            if let Some(sink) = sink.as_mut() {
                sink.write_all(&buffer[..n])?;
            }
            size += n as u64;
        }
        Ok(Fingerprint { size, sha256: hex::encode(digest.finalize()) })
    })
}

/// [`BlobStore::list_raw`] of a filesystem store: one walk on one thread
/// (OpenDAL stats each entry with a trip to the blocking pool).
fn list_local(root: &Path, prefix: &str) -> std::io::Result<Vec<ObjectInfo>> {
    let mut objects = Vec::new();
    let mut dirs = vec![root.join(prefix.trim_end_matches('/'))];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // removed meanwhile
                Err(e) => return Err(e),
            };
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if meta.is_file() {
                let path = entry.path();
                let Some(key) = path.strip_prefix(root).ok().and_then(|k| k.to_str()) else {
                    continue;
                };
                let modified = meta.modified().ok().and_then(|t| {
                    t.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs() as i64)
                });
                objects.push(ObjectInfo {
                    key: key.to_string(),
                    size: meta.len(),
                    modified_unix: modified,
                });
            }
        }
    }
    Ok(objects)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| local(std::io::Error::other(e.to_string())))?
        .map_err(local)
}

impl BlobStore {
    /// Copies object `key` byte for byte to object `target_key` of `target`,
    /// streaming; answers the fingerprint of what was copied. An object
    /// store receives it atomically; between two filesystem stores it is
    /// written in place, so an interrupted copy may leave part of it there:
    /// callers trust an object only once their own record (a backup's
    /// manifest) vouches for it, and copy it again otherwise.
    pub async fn copy_raw(
        &self,
        key: &str,
        target: &BlobStore,
        target_key: &str,
    ) -> Result<Fingerprint, BlobError> {
        let key = confined(key)?;
        if let (Some(from), Some(to)) = (&self.inner.local_root, &target.inner.local_root) {
            let target_key = confined(target_key)?;
            let (from, to) = (from.join(key), to.join(target_key));
            let durable = target.inner.sync_root.is_some();
            let copied = blocking(move || copy_local(&from, &to, durable)).await?;
            target.sync_dirs(target_key).await?;
            return Ok(copied);
        }
        let mut digest = Sha256::new();
        let chunks = self.inner.op.reader_with(key).chunk(4 << 20).await?;
        let chunks = chunks.into_bytes_stream(..).await?.map(|chunk| {
            if let Ok(bytes) = &chunk {
                digest.update(bytes);
            }
            chunk
        });
        let written =
            target.write_stream(target_key, chunks, None, false).await.map_err(|e| match e {
                crate::WriteError::Source(e) => reading(e),
                crate::WriteError::Blob(e) => e,
                crate::WriteError::TooLarge { .. } => unreachable!("no limit was set"),
            })?;
        Ok(Fingerprint { size: written.size, sha256: hex::encode(digest.finalize()) })
    }

    /// [`BlobStore::copy_raw`] of every `(key, target_key)` pair, at
    /// [`BlobStore::copy_parallelism`]; answers each pair's result, in order.
    /// Between two filesystem stores (a target without per-write
    /// durability), that many threads each take the next pair until none is
    /// left: a round trip through the blocking pool per object cost a backup
    /// of small files a fifth of its time in thread wake-ups.
    pub async fn copy_raw_many(
        &self,
        pairs: Vec<(String, String)>,
        target: &BlobStore,
        progress: Arc<CopyProgress>,
    ) -> Vec<Result<Fingerprint, BlobError>> {
        let parallelism = self.copy_parallelism(target);
        let (Some(from), Some(to), None) =
            (&self.inner.local_root, &target.inner.local_root, &target.inner.sync_root)
        else {
            return futures::stream::iter(pairs.into_iter().map(|(key, target_key)| {
                let progress = progress.clone();
                async move {
                    if let Some(stopped) = progress.stopped() {
                        return Err(stopped);
                    }
                    let copied = self.copy_raw(&key, target, &target_key).await;
                    if let Ok(fingerprint) = &copied {
                        progress.copied(fingerprint);
                    }
                    copied
                }
            }))
            .buffered(parallelism)
            .collect()
            .await;
        };
        let count = pairs.len();
        let shared = Arc::new((pairs, AtomicUsize::new(0), from.clone(), to.clone()));
        let workers: Vec<_> = (0..parallelism.min(count))
            .map(|_| {
                let (shared, progress) = (shared.clone(), progress.clone());
                let (answer, done) = tokio::sync::oneshot::channel();
                // A thread of its own, not the blocking pool's: what
                // `threads.setup` changes ends with it.
                let spawned =
                    std::thread::Builder::new().name("orgdrive-copy".into()).spawn(move || {
                        if let Some(setup) = progress.threads.setup {
                            setup();
                        }
                        let (pairs, next, from, to) = &*shared;
                        let mut copies = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((key, target_key)) = pairs.get(i) else { break };
                            let started = std::time::Instant::now();
                            let copied =
                                match (progress.stopped(), confined(key), confined(target_key)) {
                                    (Some(stopped), _, _) => Err(stopped),
                                    (None, Ok(key), Ok(target_key)) => {
                                        copy_local(&from.join(key), &to.join(target_key), false)
                                            .map_err(local)
                                    }
                                    (None, Err(e), _) | (None, _, Err(e)) => Err(e),
                                };
                            if let Ok(fingerprint) = &copied {
                                progress.copied(fingerprint);
                            }
                            // Only copies are paced: a stopped copy refuses
                            // what is left at once.
                            if let (Some(pace), Ok(_)) = (progress.threads.pace, &copied) {
                                pace(started.elapsed());
                            }
                            copies.push((i, copied));
                        }
                        let _ = answer.send(copies);
                    });
                if let Err(e) = &spawned {
                    tracing::error!(error = %e, "could not start a copy thread");
                }
                done
            })
            .collect();
        let mut results: Vec<Option<Result<Fingerprint, BlobError>>> =
            (0..count).map(|_| None).collect();
        // A thread that panicked (or never started) leaves the pairs it took
        // without a result: errors. The others take every pair left.
        for done in futures::future::join_all(workers).await {
            match done {
                Ok(copies) => copies.into_iter().for_each(|(i, copied)| results[i] = Some(copied)),
                Err(_) => tracing::error!("a copy thread ended without its results"),
            }
        }
        results
            .into_iter()
            .map(|copied| {
                copied.unwrap_or_else(|| Err(local(std::io::Error::other("a copy thread failed"))))
            })
            .collect()
    }

    /// How many [`BlobStore::copy_raw`] calls to `target` are worth running
    /// at once: object stores answer each request slowly but many together;
    /// two filesystem stores are bound by one disk and by the directory
    /// locks that side-by-side creates in one directory queue on.
    pub fn copy_parallelism(&self, target: &BlobStore) -> usize {
        if self.inner.local_root.is_some() && target.inner.local_root.is_some() {
            2
        } else {
            16
        }
    }

    /// The fingerprint of object `key`'s stored bytes, or `None` if there is
    /// no such object.
    pub async fn fingerprint(&self, key: &str) -> Result<Option<Fingerprint>, BlobError> {
        let key = confined(key)?;
        if let Some(root) = &self.inner.local_root {
            let path: PathBuf = root.join(key);
            let found = blocking(move || match std::fs::File::open(&path) {
                Ok(mut file) if file.metadata()?.is_file() => hash_into(&mut file, None).map(Some),
                Ok(_) => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            });
            return found.await;
        }
        let reader = match self.inner.op.reader_with(key).chunk(4 << 20).await {
            Ok(reader) => reader,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut chunks = match reader.into_bytes_stream(..).await {
            Ok(chunks) => chunks,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut digest = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(reading)?;
            size += chunk.len() as u64;
            digest.update(&chunk);
        }
        Ok(Some(Fingerprint { size, sha256: hex::encode(digest.finalize()) }))
    }

    /// The stored bytes of object `key` (a small one: refused past `limit`
    /// bytes), or `None` if there is no such object.
    pub async fn read_raw(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>, BlobError> {
        let key = confined(key)?;
        match self.inner.op.stat(key).await {
            Ok(meta) if meta.is_dir() => return Ok(None),
            Ok(meta) if meta.content_length() > limit => {
                return Err(BlobError(opendal::Error::new(
                    ErrorKind::Unexpected,
                    format!("{key} has more than {limit} bytes"),
                )))
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        match self.inner.op.read(key).await {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object under `prefix` (recursively) with its stored size (a
    /// manifest's: its JSON's) and age.
    pub async fn list_raw(&self, prefix: &str) -> Result<Vec<ObjectInfo>, BlobError> {
        self.list_raw_stream(prefix).await?.try_collect().await
    }

    /// [`BlobStore::list_raw`], one object after the other as the store lists
    /// them: an object store's listing is read a page at a time (in key
    /// order on S3 and OSS), never held whole; a filesystem's is read first.
    pub async fn list_raw_stream(
        &self,
        prefix: &str,
    ) -> Result<futures::stream::BoxStream<'static, Result<ObjectInfo, BlobError>>, BlobError> {
        if let Some(root) = &self.inner.local_root {
            let (root, prefix) = (root.clone(), confined(prefix)?.to_string());
            let objects = blocking(move || list_local(&root, &prefix)).await?;
            return Ok(futures::stream::iter(objects.into_iter().map(Ok)).boxed());
        }
        let lister = match self.inner.op.lister_with(confined(prefix)?).recursive(true).await {
            Ok(lister) => lister,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Ok(futures::stream::empty().boxed())
            }
            Err(e) => return Err(e.into()),
        };
        let op = self.inner.op.clone();
        let objects = lister.map_err(BlobError::from).try_filter_map(move |entry| {
            let op = op.clone();
            async move {
                if entry.metadata().is_dir() {
                    return Ok(None);
                }
                // Object stores list sizes and ages; a filesystem is asked.
                let meta = if entry.metadata().last_modified().is_some() {
                    entry.metadata().clone()
                } else {
                    match op.stat(entry.path()).await {
                        Ok(meta) => meta,
                        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None), // deleted meanwhile
                        Err(e) => return Err(e.into()),
                    }
                };
                Ok(Some(ObjectInfo {
                    key: entry.path().to_string(),
                    size: meta.content_length(),
                    modified_unix: meta.last_modified().map(|t| t.timestamp()),
                }))
            }
        });
        Ok(objects.boxed())
    }

    /// Makes every write to a filesystem store so far durable at once (one
    /// `syncfs` of the filesystem holding it), for stores opened without
    /// per-write durability; nothing to do on object stores.
    pub async fn sync_all(&self) -> Result<(), BlobError> {
        let Some(root) = self.inner.local_root.clone() else { return Ok(()) };
        tokio::task::spawn_blocking(move || {
            let dir = std::fs::File::open(&root)?;
            rustix::fs::syncfs(&dir).map_err(std::io::Error::from)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r)
        .map_err(|e| {
            BlobError(opendal::Error::new(ErrorKind::Unexpected, "syncing the store").set_source(e))
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{Manifest, ManifestPart};

    async fn put(store: &BlobStore, key: &str, bytes: &'static [u8]) {
        let source = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(bytes))]);
        store.write_stream(key, source, None, false).await.unwrap();
    }

    #[tokio::test]
    async fn objects_are_copied_hashed_and_listed_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let source = BlobStore::filesystem(&dir.path().join("a"), false).unwrap();
        let target = BlobStore::filesystem(&dir.path().join("b"), false).unwrap();
        put(&source, "objects/x", b"hello").await;
        put(&source, "chunks/m/0", b"ab").await;
        put(&source, "chunks/m/1", b"cd").await;
        let manifest = Manifest::new(vec![
            ManifestPart { key: "chunks/m/0".into(), size: 2 },
            ManifestPart { key: "chunks/m/1".into(), size: 2 },
        ]);
        source.write_manifest("manifests/m", &manifest).await.unwrap();

        let copied = source.copy_raw("objects/x", &target, "content/objects/x").await.unwrap();
        // sha256("hello")
        let hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert_eq!(copied, Fingerprint { size: 5, sha256: hello.into() });
        assert_eq!(target.fingerprint("content/objects/x").await.unwrap(), Some(copied));
        assert_eq!(target.fingerprint("content/objects/y").await.unwrap(), None);
        let read = target.read_raw("content/objects/x", 5).await.unwrap();
        assert_eq!(read.as_deref(), Some(&b"hello"[..]));
        assert!(target.read_raw("content/objects/x", 4).await.is_err());
        assert_eq!(target.read_raw("content/objects/y", 5).await.unwrap(), None);

        // A manifest is copied as its JSON, not as the content it names.
        let json = source.copy_raw("manifests/m", &target, "content/manifests/m").await.unwrap();
        assert_ne!(json.size, 4);
        let mut listed: Vec<(String, u64)> = source
            .list_raw("manifests/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| (o.key, o.size))
            .collect();
        listed.sort();
        assert_eq!(listed, [("manifests/m".to_string(), json.size)]);
        // A large object takes the two-thread path: the same bytes, the same hash.
        let big: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
        let source_big = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(big.clone()))]);
        source.write_stream("objects/big", source_big, None, false).await.unwrap();
        let copied = source.copy_raw("objects/big", &target, "content/deep/er/big").await.unwrap();
        let expected = hex::encode(Sha256::digest(&big));
        assert_eq!(copied, Fingerprint { size: big.len() as u64, sha256: expected });
        assert_eq!(std::fs::read(dir.path().join("b/content/deep/er/big")).unwrap(), big);
        // A missing object is a not-found error, on either path.
        assert!(source.copy_raw("objects/none", &target, "t").await.unwrap_err().is_not_found());
        let memory = BlobStore::memory().unwrap();
        assert!(memory.copy_raw("objects/none", &target, "t").await.unwrap_err().is_not_found());
        assert!(!dir.path().join("b/t").exists());
        // Keys are confined on both sides.
        assert!(source.copy_raw("../x", &target, "y").await.is_err());
        assert!(source.copy_raw("objects/x", &target, "../y").await.is_err());
        target.sync_all().await.unwrap();
    }

    #[tokio::test]
    async fn many_objects_are_copied_in_order_each_with_its_own_result() {
        let dir = tempfile::tempdir().unwrap();
        let source = BlobStore::filesystem(&dir.path().join("a"), false).unwrap();
        let local = BlobStore::filesystem(&dir.path().join("b"), false).unwrap();
        let memory = BlobStore::memory().unwrap();
        for i in 0..40u8 {
            let bytes = Bytes::from(vec![i; i as usize + 1]);
            let stream = futures::stream::iter([Ok::<_, std::io::Error>(bytes)]);
            source.write_stream(&format!("objects/{i}"), stream, None, false).await.unwrap();
        }
        let mut pairs: Vec<(String, String)> =
            (0..40).map(|i| (format!("objects/{i}"), format!("c/objects/{i}"))).collect();
        pairs.insert(7, ("objects/none".into(), "c/none".into()));
        pairs.insert(9, ("../escape".into(), "c/escape".into()));
        pairs.insert(11, ("objects/1".into(), "../escape".into()));
        static SETUPS: AtomicUsize = AtomicUsize::new(0);
        static PACED: AtomicUsize = AtomicUsize::new(0);
        for target in [&local, &memory] {
            let threads = CopyThreads {
                setup: Some(|| {
                    SETUPS.fetch_add(1, Ordering::Relaxed);
                }),
                pace: Some(|_| {
                    PACED.fetch_add(1, Ordering::Relaxed);
                }),
            };
            let progress = Arc::new(CopyProgress { threads, ..CopyProgress::default() });
            let results = source.copy_raw_many(pairs.clone(), target, progress.clone()).await;
            assert_eq!(results.len(), pairs.len());
            for ((key, target_key), result) in pairs.iter().zip(&results) {
                match key.strip_prefix("objects/").and_then(|n| n.parse::<usize>().ok()) {
                    Some(n) if !target_key.starts_with("..") => {
                        let fingerprint = result.as_ref().unwrap();
                        assert_eq!(fingerprint.size, n as u64 + 1, "{key}");
                        let read = target.read_raw(target_key, 64).await.unwrap().unwrap();
                        assert_eq!(read, vec![n as u8; n + 1]);
                    }
                    _ if key == "objects/none" => {
                        assert!(result.as_ref().unwrap_err().is_not_found())
                    }
                    _ => assert!(result.is_err(), "{key} -> {target_key}"),
                }
            }
            assert_eq!(progress.objects.load(Ordering::Relaxed), 40);
            assert_eq!(progress.bytes.load(Ordering::Relaxed), (1..=40).sum::<u64>());
        }
        assert!(!dir.path().join("escape").exists());
        // Each thread of the filesystem copy (two) was set up; the object
        // store's copy runs on no thread of its own.
        assert_eq!(SETUPS.load(Ordering::Relaxed), 2);
        // Each object the filesystem copy copied was paced, no refused or
        // missing one.
        assert_eq!(PACED.load(Ordering::Relaxed), 40);
        // Stopped: nothing more is copied, every pair answers an error.
        let stopped = Arc::new(CopyProgress::default());
        stopped.stop.store(true, Ordering::Relaxed);
        let fresh = BlobStore::filesystem(&dir.path().join("d"), false).unwrap();
        let results = source.copy_raw_many(pairs.clone(), &fresh, stopped.clone()).await;
        assert!(results.iter().all(Result::is_err));
        assert_eq!(stopped.objects.load(Ordering::Relaxed), 0);
        assert!(fresh.list_raw("c/").await.unwrap().is_empty());
    }
}
