//! What operators see of the domain: whether this node can serve
//! ([`Drive::ready`]: its metadata store and content store answer) and the
//! figures it keeps (its caches', its store's). The server turns them into
//! `/readyz` and `/metrics`.

use orgdrive_store::{StoreGauges, WriteFigures};

use crate::cache::CacheFigures;
use crate::{Drive, DriveError, DriveResult};

impl Drive {
    /// Whether this node can serve requests now: the metadata store answers
    /// a read and the content store answers (a listing on object stores).
    pub async fn ready(&self) -> DriveResult<()> {
        self.meta.ping().await?;
        self.blob.check().await.map_err(|e| DriveError::Internal(e.to_string()))
    }

    /// Every read cache's hits, misses and size since the process started.
    pub fn cache_figures(&self) -> Vec<CacheFigures> {
        self.cache.figures()
    }

    /// The metadata store's gauges: unfinished tasks, the event backlog,
    /// bytes held and reserved, its own size.
    pub async fn store_gauges(&self) -> DriveResult<StoreGauges> {
        Ok(self.meta.gauges().await?)
    }

    /// The metadata store's group commits since it was opened.
    pub fn write_figures(&self) -> WriteFigures {
        self.meta.write_figures()
    }
}
