//! Where a content object's bytes live: objects of at most the metadata
//! store's inline limit, received through orgdrive, are kept in the
//! metadata store (`inline/…` keys, [`orgdrive_store::InlineObjectStore`]);
//! every other object is in the content store (`orgdrive_blob::BlobStore`). Every read,
//! size, removal and listing of content objects by key goes through here, so
//! no caller needs to know which store holds one ([`in_content_store`] tells
//! the callers that only copy the content store: backups, presigned URLs).

use std::ops::Range;

use bytes::Bytes;
use orgdrive_blob::{ByteStream, Download, ObjectInfo};
use orgdrive_store::{is_inline_object, INLINE_OBJECT_PREFIX};

use crate::{Drive, DriveError, DriveResult};

fn unreadable(key: &str, e: impl std::fmt::Display) -> DriveError {
    DriveError::Internal(format!("{key}: {e}"))
}

/// Whether the object `key` is in the content store (else the metadata
/// store keeps it, and copies of the metadata carry it).
pub(crate) fn in_content_store(key: &str) -> bool {
    !is_inline_object(key)
}

fn missing() -> DriveError {
    DriveError::ObjectNotFound("no such object".into())
}

impl Drive {
    /// The bytes of an inline object; `ObjectNotFound` if it is not there.
    async fn inline_bytes(&self, key: &str) -> DriveResult<Bytes> {
        match self.meta.read_inline_object(key).await {
            Ok(Some(bytes)) => Ok(Bytes::from(bytes)),
            Ok(None) => Err(missing()),
            Err(e) => Err(unreadable(key, e)),
        }
    }

    /// `range` of the object `key` of the recorded `size` (a download): read
    /// at once when small, else streamed. `ObjectNotFound` when the object
    /// is missing; an object of another size fails rather than serve other
    /// bytes ([`BlobStore::read_sized`]).
    pub async fn read_object(
        &self,
        key: &str,
        range: Range<u64>,
        size: u64,
    ) -> DriveResult<Download> {
        if !is_inline_object(key) {
            return self.blob.read_sized(key, range, size).await.map_err(|e| {
                if e.is_not_found() {
                    missing()
                } else {
                    unreadable(key, e)
                }
            });
        }
        let bytes = self.inline_bytes(key).await?;
        if bytes.len() as u64 != size {
            return Err(unreadable(
                key,
                format!("the object has {} bytes, not its recorded {size}", bytes.len()),
            ));
        }
        if range.start > range.end || range.end > size {
            return Err(unreadable(key, "range outside the object"));
        }
        Ok(Download::Whole(bytes.slice(range.start as usize..range.end as usize)))
    }

    /// `range` of the object `key`, streamed (what the server itself reads:
    /// thumbnails, conversions, backups).
    pub(crate) async fn object_stream(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> DriveResult<ByteStream> {
        if !is_inline_object(key) {
            return self.blob.read(key, range).await.map_err(|e| unreadable(key, e));
        }
        let bytes = self.inline_bytes(key).await?;
        let end = (range.end as usize).min(bytes.len());
        let start = (range.start as usize).min(end);
        let chunk = bytes.slice(start..end);
        Ok(Box::pin(futures::stream::iter([Ok(chunk)])))
    }

    /// The size of the object `key`, if it exists.
    pub(crate) async fn object_size(&self, key: &str) -> DriveResult<Option<u64>> {
        if !is_inline_object(key) {
            return self.blob.size(key).await.map_err(|e| unreadable(key, e));
        }
        match self.inline_bytes(key).await {
            Ok(bytes) => Ok(Some(bytes.len() as u64)),
            Err(DriveError::ObjectNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes the object `key` (nothing if it is not there).
    pub(crate) async fn delete_object(&self, key: &str) -> DriveResult<()> {
        if is_inline_object(key) {
            return self
                .meta
                .delete_inline_objects(&[key.to_string()])
                .await
                .map_err(|e| unreadable(key, e));
        }
        self.blob.delete(key).await.map_err(|e| unreadable(key, e))
    }

    /// Removes `keys` (the metadata store's in one write); answers those
    /// removed, logging the others.
    pub(crate) async fn delete_objects(&self, keys: Vec<String>) -> Vec<String> {
        let (inline, stored): (Vec<String>, Vec<String>) =
            keys.into_iter().partition(|key| is_inline_object(key));
        let mut deleted = Vec::with_capacity(inline.len() + stored.len());
        match self.meta.delete_inline_objects(&inline).await {
            Ok(()) => deleted.extend(inline),
            Err(e) => tracing::warn!(error = %e, "inline content objects not removed"),
        }
        for key in stored {
            match self.blob.delete(&key).await {
                Ok(()) => deleted.push(key),
                Err(e) => tracing::warn!(%key, error = %e, "content object not removed"),
            }
        }
        deleted
    }

    /// Every object the metadata store keeps, aged by the time in its name
    /// (consistency checks).
    pub(crate) async fn list_inline_objects(&self) -> DriveResult<Vec<ObjectInfo>> {
        const PAGE: u32 = 1000;
        let mut objects: Vec<ObjectInfo> = Vec::new();
        loop {
            let after = objects.last().map(|o| o.key.clone()).unwrap_or_default();
            let page = self.meta.list_inline_objects(&after, PAGE).await?;
            let full = page.len() == PAGE as usize;
            objects.extend(page.into_iter().map(|(key, size)| {
                let name = key.strip_prefix(INLINE_OBJECT_PREFIX).unwrap_or(&key);
                let modified_unix = crate::ids::time_ordered_ms(name).map(|ms| ms / 1000);
                ObjectInfo { key, size, modified_unix }
            }));
            if !full {
                return Ok(objects);
            }
        }
    }
}
