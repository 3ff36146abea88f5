//! `orgdrive migrate`: brings a metadata store's schema to this build's
//! version and says what it did. `serve` migrates at start too; this command
//! lets an operator migrate a shared PostgreSQL database once, before
//! rolling a new build out to the nodes. A database written by a newer build
//! is refused, untouched.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::store::{meta_path, MetaLocation};

#[derive(Args)]
pub struct MigrateArgs {
    /// Data directory whose `meta.sqlite` to migrate (with `--meta sqlite`).
    #[arg(long, env = "ORGDRIVE_DATA_DIR", default_value = "./orgdrive-data")]
    data_dir: PathBuf,
    /// Metadata store: `sqlite` (DATA_DIR/meta.sqlite) or a postgres:// URL.
    #[arg(long, env = "ORGDRIVE_META", hide_env_values = true, default_value = "sqlite",
          value_parser = crate::store::parse_meta)]
    meta: MetaLocation,
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let place = args.meta.describe(&args.data_dir);
    match &args.meta {
        MetaLocation::Embedded => {
            let path = meta_path(&args.data_dir);
            anyhow::ensure!(path.exists(), "no metadata store at {}", path.display());
            let options = orgdrive_sqlite::SqliteOptions::default();
            let store = orgdrive_sqlite::SqliteStore::open(&path, &options)
                .await
                .with_context(|| format!("migrating {}", path.display()))?;
            orgdrive_core::MetaStore::close(&store).await;
            println!("{place}: schema up to date");
        }
        MetaLocation::Postgres(url) => {
            let report = orgdrive_postgres::migrate(url)
                .await
                .context("migrating the PostgreSQL metadata store")?;
            if report.applied.is_empty() {
                println!("{place}: schema version {}, up to date", report.to_version);
            } else {
                let applied: Vec<String> = report.applied.iter().map(i64::to_string).collect();
                println!(
                    "{place}: schema version {} -> {} (applied {})",
                    report.from_version,
                    report.to_version,
                    applied.join(", ")
                );
            }
        }
    }
    Ok(())
}
