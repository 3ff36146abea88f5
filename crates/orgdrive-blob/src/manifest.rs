//! Part manifests: content made of several objects without joining them. A
//! manifest is a small JSON object under `manifests/` naming its parts (object
//! keys, in order, with their sizes) and the total size. [`BlobStore`] reads
//! a manifest's content transparently — `size`, `read`, `read_sized` (ranges
//! across part boundaries), `list` (the total size) — and `delete` removes
//! the parts, then the manifest, idempotently. So a multipart upload on an
//! object store is committed by server-side copies of its parts plus one
//! small write, and its bytes are never read back through orgdrive.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::{future, stream, StreamExt, TryStreamExt};
use opendal::ErrorKind;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::{confined, BlobError, BlobStore, ByteStream, Download, WHOLE_READ_MAX};

/// Keys under this prefix are manifests.
pub const MANIFEST_PREFIX: &str = "manifests/";

/// A manifest holds at most this many parts (DingTalk's part numbers).
pub const MAX_MANIFEST_PARTS: usize = 10_000;

/// Manifests are small: their JSON is read whole, refused past this.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// Whether `key` names a manifest (see the module doc).
pub fn is_manifest_key(key: &str) -> bool {
    key.starts_with(MANIFEST_PREFIX)
}

/// The parts of a content made of several objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Total bytes: the sum of the parts' sizes.
    pub size: u64,
    pub parts: Vec<ManifestPart>,
}

/// One part of a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestPart {
    pub key: String,
    pub size: u64,
}

fn invalid(message: impl Into<String>) -> BlobError {
    BlobError(opendal::Error::new(ErrorKind::Unexpected, message.into()))
}

impl Manifest {
    /// A manifest of `parts`, in order.
    pub fn new(parts: Vec<ManifestPart>) -> Manifest {
        Manifest { size: parts.iter().fold(0u64, |sum, p| sum.saturating_add(p.size)), parts }
    }

    /// Refuses a manifest whose parts are not plain confined objects, are
    /// too many, or do not add up to its size.
    fn check(&self) -> Result<(), BlobError> {
        if self.parts.len() > MAX_MANIFEST_PARTS {
            return Err(invalid("a manifest with too many parts"));
        }
        let mut total = 0u64;
        for part in &self.parts {
            confined(&part.key)?;
            if is_manifest_key(&part.key) {
                return Err(invalid("a manifest may not name a manifest"));
            }
            total = total.checked_add(part.size).ok_or_else(|| invalid("manifest overflow"))?;
        }
        if total != self.size {
            return Err(invalid("a manifest whose parts do not add up to its size"));
        }
        Ok(())
    }

    /// The parts overlapping `range`, each with the range inside it.
    fn segments(&self, range: Range<u64>) -> Vec<(ManifestPart, Range<u64>)> {
        let mut segments = Vec::new();
        if range.is_empty() {
            return segments;
        }
        let mut offset = 0u64;
        for part in &self.parts {
            let (start, end) = (offset, offset + part.size);
            offset = end;
            if end <= range.start || part.size == 0 {
                continue;
            }
            if start >= range.end {
                break;
            }
            let inner = range.start.max(start) - start..range.end.min(end) - start;
            segments.push((part.clone(), inner));
        }
        segments
    }
}

/// Parts of a manifest a read asks the store for at once. A part read
/// ahead holds its first chunk in memory (at most [`crate::READ_CHUNK`] bytes:
/// the whole of a 1 MiB part, DingTalk's usual); the rest of a larger one
/// is read as the client takes it.
const PARTS_AHEAD: usize = 8;

/// First chunks all reads of manifests of a store may hold read ahead at
/// once (128 MiB; up to twice that on a filesystem store, whose streams
/// read their next chunk as they hand one out): beyond, a part is asked
/// for when its client reaches it, so slow or stalled clients cannot make
/// the server hold more. They can take the whole budget, until the write
/// timeout cuts them off: downloads then read one part after the other.
pub(crate) const READ_AHEAD_CHUNKS: usize = 128;

/// A store's budget of chunks read ahead.
pub(crate) fn read_ahead_budget() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(READ_AHEAD_CHUNKS))
}

fn to_io(e: BlobError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl BlobStore {
    /// Writes manifest `key` (under [`MANIFEST_PREFIX`]); its parts must exist.
    pub async fn write_manifest(&self, key: &str, manifest: &Manifest) -> Result<(), BlobError> {
        let key = confined(key)?;
        if !is_manifest_key(key) {
            return Err(invalid("a manifest's key must start with manifests/"));
        }
        manifest.check()?;
        let json = serde_json::to_vec(manifest).map_err(|e| invalid(e.to_string()))?;
        self.inner.op.write(key, json).await?;
        self.sync_dirs(key).await
    }

    /// The manifest at `key`, or `None` if there is none.
    pub async fn read_manifest(&self, key: &str) -> Result<Option<Manifest>, BlobError> {
        let key = confined(key)?;
        let meta = match self.inner.op.stat(key).await {
            Ok(meta) if meta.is_dir() => return Ok(None),
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if meta.content_length() > MAX_MANIFEST_BYTES {
            return Err(invalid("a manifest larger than allowed"));
        }
        let json = match self.inner.op.read(key).await {
            Ok(json) => json.to_vec(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let manifest: Manifest =
            serde_json::from_slice(&json).map_err(|e| invalid(format!("a bad manifest: {e}")))?;
        manifest.check()?;
        Ok(Some(manifest))
    }

    pub(crate) async fn existing_manifest(&self, key: &str) -> Result<Manifest, BlobError> {
        self.read_manifest(key)
            .await?
            .ok_or_else(|| BlobError(opendal::Error::new(ErrorKind::NotFound, "no such object")))
    }

    /// `range` of a manifest's content, each part read as a sized object,
    /// up to [`PARTS_AHEAD`] of them asked for at once (in order): parts
    /// read one after the other made a download of many small parts wait
    /// for each part's requests in turn (a review measured 20 s for 600
    /// parts of 1 byte on the test S3 server).
    pub(crate) async fn read_manifest_range(
        &self,
        manifest: Manifest,
        range: Range<u64>,
    ) -> Result<Download, BlobError> {
        if range.start > range.end || range.end > manifest.size {
            return Err(BlobError(opendal::Error::new(
                ErrorKind::RangeNotSatisfied,
                "range outside the object",
            )));
        }
        let whole = range.end - range.start <= WHOLE_READ_MAX;
        let store = self.clone();
        let stream: ByteStream = Box::pin(
            futures::stream::iter(manifest.segments(range))
                .map(move |(part, inner)| {
                    let store = store.clone();
                    async move {
                        let budget = store.inner.read_ahead.clone();
                        let read = async move {
                            let download = store.read_sized_object(&part.key, inner, part.size);
                            Ok::<ByteStream, std::io::Error>(
                                match download.await.map_err(to_io)? {
                                    Download::Whole(bytes) => {
                                        Box::pin(futures::stream::once(async move { Ok(bytes) }))
                                    }
                                    Download::Stream(stream) => stream,
                                },
                            )
                        };
                        let Ok(permit) = budget.try_acquire_owned() else {
                            // No room left to read ahead: asked for when the
                            // client reaches this part.
                            let later: ByteStream = Box::pin(stream::once(read).try_flatten());
                            return Ok::<_, std::io::Error>(later);
                        };
                        // Its first bytes asked for now, not when the parts
                        // before it have been sent: each request of the
                        // store's is a round trip. The budget has them back
                        // once the client takes them.
                        let mut stream = read.await?;
                        let first = stream.next().await;
                        let head = stream::once(async move {
                            drop(permit);
                            first
                        });
                        let ahead: ByteStream =
                            Box::pin(head.filter_map(future::ready).chain(stream));
                        Ok(ahead)
                    }
                })
                .buffered(PARTS_AHEAD)
                .try_flatten(),
        );
        if !whole {
            return Ok(Download::Stream(stream));
        }
        let chunks: Vec<Bytes> =
            stream.try_collect().await.map_err(|e| invalid(format!("reading a part: {e}")))?;
        Ok(Download::Whole(Bytes::from(chunks.concat())))
    }

    /// Removes a manifest's parts, then the manifest (nothing if it is gone).
    pub(crate) async fn delete_manifest(&self, key: &str) -> Result<(), BlobError> {
        let Some(manifest) = self.read_manifest(key).await? else { return Ok(()) };
        let keys = manifest.parts.into_iter().map(|p| p.key);
        let mut deletes = futures::stream::iter(keys)
            .map(|part| async move { self.inner.op.delete(&part).await })
            .buffer_unordered(16);
        while let Some(deleted) = deletes.next().await {
            deleted?;
        }
        Ok(self.inner.op.delete(key).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(key: &str, size: u64) -> ManifestPart {
        ManifestPart { key: key.into(), size }
    }

    #[test]
    fn segments_cover_exactly_the_range() {
        let m = Manifest::new(vec![part("c/1", 4), part("c/2", 0), part("c/3", 4), part("c/4", 2)]);
        assert_eq!(m.size, 10);
        let keys =
            |r: Range<u64>| m.segments(r).into_iter().map(|(p, r)| (p.key, r)).collect::<Vec<_>>();
        assert_eq!(
            keys(0..10),
            vec![("c/1".into(), 0..4), ("c/3".into(), 0..4), ("c/4".into(), 0..2)]
        );
        assert_eq!(keys(3..5), vec![("c/1".into(), 3..4), ("c/3".into(), 0..1)]);
        assert_eq!(keys(4..8), vec![("c/3".into(), 0..4)]);
        assert_eq!(keys(9..10), vec![("c/4".into(), 1..2)]);
        assert!(keys(5..5).is_empty());
    }

    /// Reads beyond the read-ahead budget still read every byte, in order
    /// (their parts asked for when their clients reach them), and every
    /// chunk read ahead goes back to the budget.
    #[tokio::test]
    async fn reads_past_the_read_ahead_budget_read_every_byte_and_give_it_back() {
        // A filesystem store: its reads wait for a blocking thread, so the
        // parts of a read are all asked for at once, as on an object store.
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::filesystem(dir.path(), false).unwrap();
        let size = crate::READ_CHUNK + 1;
        let mut parts = Vec::new();
        let mut content = Vec::new();
        for n in 0..12u8 {
            let key = format!("chunks/m/{n}");
            store.inner.op.write(&key, vec![n; size]).await.unwrap();
            content.extend(std::iter::repeat_n(n, size));
            parts.push(part(&key, size as u64));
        }
        let manifest = Manifest::new(parts);
        // More reads than the budget lets read ahead in full, each started.
        let mut reads = Vec::new();
        for _ in 0..24 {
            let read = store.read_manifest_range(manifest.clone(), 0..manifest.size).await;
            let Ok(Download::Stream(mut read)) = read else { panic!("a stream") };
            let first = read.next().await.unwrap().unwrap();
            reads.push((first, read));
        }
        // The reads hold chunks read ahead (with 24 reads of 8 parts ahead
        // the budget runs out: the last reads do not read ahead in full).
        let left = store.inner.read_ahead.available_permits();
        assert!(left < READ_AHEAD_CHUNKS / 2, "{left} chunks of the budget left");
        for (first, read) in reads {
            let rest: Vec<Bytes> = read.try_collect().await.unwrap();
            assert!([&first[..], &rest.concat()].concat() == content);
        }
        assert_eq!(store.inner.read_ahead.available_permits(), READ_AHEAD_CHUNKS);
    }

    #[test]
    fn bad_manifests_are_refused() {
        assert!(Manifest::new(vec![part("c/1", 1)]).check().is_ok());
        assert!(Manifest::new(vec![part("../x", 1)]).check().is_err());
        assert!(Manifest::new(vec![part("manifests/x", 1)]).check().is_err());
        let mut wrong = Manifest::new(vec![part("c/1", 1)]);
        wrong.size = 2;
        assert!(wrong.check().is_err());
        let huge = Manifest::new(vec![part("c/1", u64::MAX), part("c/2", 1)]);
        assert!(huge.check().is_err());
    }
}
