//! `orgdrive fsck [--repair]`: checks that a data dir's metadata and content
//! agree, prints what it finds, exits 1 while anything is inconsistent.

use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub struct FsckArgs {
    /// Data directory to check (may be in use by a running server).
    #[arg(long, env = "ORGDRIVE_DATA_DIR", default_value = "./orgdrive-data")]
    data_dir: PathBuf,
    /// Metadata store: `sqlite` (DATA_DIR/meta.sqlite) or the postgres:// URL
    /// the servers share.
    #[arg(long, env = "ORGDRIVE_META", hide_env_values = true, default_value = "sqlite",
          value_parser = crate::store::parse_meta)]
    meta: crate::store::MetaLocation,
    /// The servers' signing key (needed with a PostgreSQL store; else
    /// DATA_DIR/signing.key).
    #[arg(long, env = "ORGDRIVE_SIGNING_KEY", hide_env_values = true, allow_hyphen_values = true)]
    signing_key: Option<String>,
    /// The content store the server uses (`serve --blob`).
    #[arg(long, env = "ORGDRIVE_BLOB", hide_env_values = true)]
    blob: Option<String>,
    /// Fix what is safe to fix: recompute byte counters, delete content
    /// objects nothing refers to.
    #[arg(long)]
    repair: bool,
    /// Objects younger than this many seconds are not reported as
    /// unreferenced (a PUT or commit may be writing them).
    #[arg(long, default_value_t = orgdrive_core::FSCK_GRACE_SECS,
          value_parser = clap::value_parser!(i64).range(0..))]
    grace: i64,
}

pub async fn run(args: FsckArgs) -> anyhow::Result<()> {
    let options = crate::store::OpenOptions {
        meta: args.meta.clone(),
        signing_key: args.signing_key.clone(),
        blob: args.blob,
        ..Default::default()
    };
    let opened = crate::store::open(&args.data_dir, options).await?;
    let report = opened.drive.fsck(args.repair, args.grace).await;
    opened.drive.close().await;
    let report = report?;
    for problem in &report.problems {
        let fixed = if args.repair && problem.repairable() { " [repaired]" } else { "" };
        println!("{problem}{fixed}");
    }
    println!(
        "checked {} dentries and {} objects: {} problems, {} repaired",
        report.dentries,
        report.objects,
        report.problems.len(),
        report.repaired
    );
    if !report.clean() {
        std::process::exit(1);
    }
    Ok(())
}
