//! orgdrive's content store: file bytes live here, addressed by object keys,
//! behind Apache OpenDAL so that the local filesystem (embedded default),
//! memory (tests) and, later, S3/OSS are the same code path.

use std::path::Path;

use opendal::{services, Operator};

/// What the blob store can fail with.
#[derive(Debug, thiserror::Error)]
#[error("blob store: {0}")]
pub struct BlobError(#[from] opendal::Error);

/// A content store over one OpenDAL operator.
#[derive(Clone, Debug)]
pub struct BlobStore {
    op: Operator,
}

impl BlobStore {
    /// A store keeping objects as files under `root` (created if missing).
    pub fn filesystem(root: &Path) -> Result<BlobStore, BlobError> {
        let builder = services::Fs::default().root(&root.to_string_lossy());
        Ok(BlobStore { op: Operator::new(builder)?.finish() })
    }

    /// A store keeping objects in process memory (tests, demos).
    pub fn memory() -> Result<BlobStore, BlobError> {
        Ok(BlobStore { op: Operator::new(services::Memory::default())?.finish() })
    }

    /// Checks that the store answers (used at startup).
    pub async fn check(&self) -> Result<(), BlobError> {
        self.op.check().await?;
        Ok(())
    }

    /// The underlying operator, for streaming readers and writers.
    pub fn operator(&self) -> &Operator {
        &self.op
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn filesystem_store_round_trips_an_object() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::filesystem(&dir.path().join("blobs")).unwrap();
        store.check().await.unwrap();
        store.operator().write("a/b", b"hello".to_vec()).await.unwrap();
        let read = store.operator().read("a/b").await.unwrap().to_vec();
        assert_eq!(read, b"hello");
        assert!(dir.path().join("blobs/a/b").exists());
    }
}
