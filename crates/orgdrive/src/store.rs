//! Opening a data dir: `meta.sqlite` (SQLite, WAL) and `blobs/` (OpenDAL fs).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use orgdrive_blob::BlobStore;
use orgdrive_core::Drive;
use orgdrive_meta::{SqliteOptions, SqliteStore};

/// The stores of one data dir, opened.
pub struct Opened {
    pub drive: Drive,
    pub meta: SqliteStore,
}

pub fn meta_path(data_dir: &Path) -> PathBuf {
    data_dir.join("meta.sqlite")
}

pub async fn open(data_dir: &Path) -> anyhow::Result<Opened> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let meta = SqliteStore::open(&meta_path(data_dir), &SqliteOptions::default())
        .await
        .with_context(|| format!("opening {}", meta_path(data_dir).display()))?;
    let blob = BlobStore::filesystem(&data_dir.join("blobs"))?;
    let drive = Drive::new(Arc::new(meta.clone()), blob).await?;
    Ok(Opened { drive, meta })
}
