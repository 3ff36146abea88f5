//! The command line: every `odc` command, its options, and what it does
//! with the API ([`crate::api`]), paths ([`crate::remote`]) and transfers
//! ([`crate::transfer`], [`crate::mirror`]). Output goes to stdout (one
//! line per item; `--json` for scripts), errors to stderr as one line naming
//! the DingTalk `code`.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::api::Api;
use crate::api::Target;
use crate::error::{ClientError, Result};
use crate::mirror::{self, Side};
use crate::model::Dentry;
use crate::profile::{Config, Profile};
use crate::remote::{self, Location, RemotePath};
use crate::transfer::{resume_id, Progress, Source, Transfers};

#[derive(Parser)]
#[command(
    name = "odc",
    version,
    about = "Files in DingTalk storage spaces, on orgdrive or on DingTalk itself"
)]
pub struct Cli {
    /// The config file (default $ODC_CONFIG, else ~/.config/orgdrive/client.json).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The profile to use (default $ODC_PROFILE, else the config's default).
    #[arg(long, short = 'P', global = true)]
    pub profile: Option<String>,
    /// No progress bars.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct TransferArgs {
    /// Files (and parts of large files) sent at once.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// Part size of multipart uploads, 100K to 5G, e.g. 8M (files up to this size go in one PUT).
    #[arg(long, default_value = "8M", value_parser = parse_part_size)]
    pub part_size: u64,
    /// When the name is taken: overwrite (a new version), rename, or fail.
    #[arg(long, default_value = "overwrite", value_parser = ["overwrite", "rename", "fail"])]
    pub conflict: String,
}

#[derive(Subcommand)]
pub enum Command {
    /// Profiles: endpoint, appKey, appSecret, unionId.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Spaces: list the ones this profile knows, create one.
    #[command(subcommand)]
    Spaces(SpacesCommand),
    /// List a folder (SPACE:/path).
    Ls {
        path: String,
        /// Type, size, modification time and name.
        #[arg(long, short = 'l')]
        long: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// A file's or folder's details, as JSON.
    Stat { path: String },
    /// Make a folder and the missing ones above it.
    Mkdir { path: String },
    /// Upload files (folders with -r) into SPACE:/path.
    Put {
        #[arg(required = true, num_args = 2..)]
        paths: Vec<String>,
        #[arg(long, short = 'r')]
        recursive: bool,
        #[command(flatten)]
        transfer: TransferArgs,
    },
    /// Download a file (a folder with -r) to a local path.
    Get {
        path: String,
        local: PathBuf,
        #[arg(long, short = 'r')]
        recursive: bool,
        #[command(flatten)]
        transfer: TransferArgs,
    },
    /// Move or rename within a space, or into another space of the profile.
    Mv { from: String, to: String },
    /// Copy within a space or between spaces (on two profiles: through this machine).
    Cp {
        from: String,
        to: String,
        #[command(flatten)]
        transfer: TransferArgs,
    },
    /// Delete, to the recycle bin unless --permanent.
    Rm {
        #[arg(required = true)]
        paths: Vec<String>,
        #[arg(long)]
        permanent: bool,
    },
    /// The space's recycle bin.
    #[command(subcommand)]
    Bin(BinCommand),
    /// A file's versions.
    #[command(subcommand)]
    Versions(VersionsCommand),
    /// Grants on a file or folder.
    #[command(subcommand)]
    Share(ShareCommand),
    /// A space's quota and usage; with a path below the root, that folder's total size too.
    Du { path: String },
    /// Make DST hold what SRC holds (local folder or SPACE:/path, either way or between spaces).
    Mirror {
        src: String,
        dst: String,
        /// Print what would be done, do nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete from DST what SRC does not hold (a space's items go to its recycle bin).
        #[arg(long)]
        delete: bool,
        #[command(flatten)]
        transfer: TransferArgs,
    },
}

#[derive(Subcommand)]
pub enum ProfileCommand {
    /// Create or change a profile. The appSecret is read from $ODC_APP_SECRET,
    /// else asked for (without echo) or read from stdin.
    Set {
        name: String,
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long)]
        app_key: Option<String>,
        #[arg(long)]
        union_id: Option<String>,
        /// Keep the stored appSecret.
        #[arg(long)]
        keep_secret: bool,
        /// Make it the default profile.
        #[arg(long)]
        default: bool,
    },
    /// List profiles (never their secrets).
    Ls,
    /// Remove a profile.
    Rm { name: String },
}

#[derive(Subcommand)]
pub enum SpacesCommand {
    /// The spaces this profile created or used (DingTalk cannot list spaces).
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// AddSpace: a new space, or with --scene and --scene-id the one made
    /// before for them (DingTalk's idempotency key).
    Create {
        #[arg(long)]
        name: Option<String>,
        /// Bytes (or 10G, 500M...).
        #[arg(long, value_parser = parse_size)]
        quota: Option<u64>,
        #[arg(long)]
        scene: Option<String>,
        #[arg(long)]
        scene_id: Option<String>,
        #[arg(long, value_parser = ["USER", "APP"])]
        owner_type: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum BinCommand {
    /// Items in the space's recycle bin.
    Ls {
        space: String,
        #[arg(long)]
        json: bool,
    },
    /// Put items back where they were (renamed if the name is taken).
    Restore {
        space: String,
        #[arg(required = true)]
        items: Vec<String>,
    },
    /// Delete items for good; without items, empty the bin (needs --all).
    Purge {
        space: String,
        items: Vec<String>,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
pub enum VersionsCommand {
    /// A file's earlier versions.
    Ls {
        path: String,
        #[arg(long)]
        json: bool,
    },
    /// Download one version.
    Get { path: String, version: i64, local: PathBuf },
    /// Make an earlier version the current one.
    Revert { path: String, version: i64 },
}

#[derive(Subcommand)]
pub enum ShareCommand {
    /// The grants on a file or folder.
    Ls {
        path: String,
        #[arg(long)]
        json: bool,
    },
    /// Grant a role to users, departments or the org.
    Add(GrantArgs),
    /// Remove a role from users, departments or the org.
    Rm(GrantArgs),
}

#[derive(Args)]
pub struct GrantArgs {
    pub path: String,
    #[arg(long, value_parser = ["OWNER", "MANAGER", "EDITOR", "DOWNLOADER", "READER"])]
    pub role: String,
    /// A user's unionId (repeatable).
    #[arg(long)]
    pub user: Vec<String>,
    /// A department id (repeatable).
    #[arg(long)]
    pub dept: Vec<String>,
    /// The org's corpId: everyone in it.
    #[arg(long)]
    pub org: Option<String>,
    /// Seconds the grant lasts (APP spaces grant only for a while).
    #[arg(long)]
    pub duration: Option<i64>,
}

/// `8M`, `1G`, `512K` or plain bytes (powers of 1024).
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = digits.parse().map_err(|_| format!("{s:?} is not a size"))?;
    let shift = match unit.to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("{s:?}: unknown unit (K, M, G, T)")),
    };
    n.checked_mul(1 << shift)
        .filter(|&v| v > 0 || shift == 0)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// A part size: [`parse_size`] within the API's limits on a part that is
/// not an upload's last, 100 KiB to 5 GiB.
pub fn parse_part_size(s: &str) -> std::result::Result<u64, String> {
    let size = parse_size(s)?;
    if !(100 << 10..=5 << 30).contains(&size) {
        return Err(format!("{s:?}: a part has 100K to 5G (the API's limits)"));
    }
    Ok(size)
}

/// What every command shares: the config and one API client per profile.
struct Session {
    config: Config,
    profile: Option<String>,
    quiet: bool,
    apis: HashMap<Option<String>, Arc<Api>>,
}

impl Session {
    fn api(&mut self, profile: Option<&str>) -> Result<Arc<Api>> {
        let key = profile.map(str::to_string).or_else(|| self.profile.clone());
        if let Some(api) = self.apis.get(&key) {
            return Ok(api.clone());
        }
        let creds = self.config.credentials(key.as_deref())?;
        let api = Arc::new(Api::new(creds, self.config.dir())?);
        self.apis.insert(key, api.clone());
        Ok(api)
    }

    fn remote(&mut self, arg: &str) -> Result<(Arc<Api>, RemotePath)> {
        match remote::parse(arg)? {
            Location::Remote(path) => Ok((self.api(path.profile.as_deref())?, path)),
            Location::Local(_) => {
                Err(ClientError::usage(format!("{arg:?} is not a remote path (SPACE:/path)")))
            }
        }
    }

    fn side(&mut self, arg: &str) -> Result<Side> {
        Ok(match remote::parse(arg)? {
            Location::Remote(path) => Side::Remote(self.api(path.profile.as_deref())?, path),
            Location::Local(path) => Side::Local(path),
        })
    }

    fn transfers(&self, args: &TransferArgs) -> Transfers {
        Transfers::new(args.part_size, args.parallel, Progress::new(self.quiet), &self.config.dir())
    }

    fn remember(&self, api: &Api, space_id: &str) {
        // Only a convenience for `spaces ls`: a failure here fails nothing.
        let _ = self.config.remember_space(&api.creds.profile, space_id);
    }
}

fn conflict_strategy(choice: &str) -> &'static str {
    match choice {
        "rename" => "AUTO_RENAME",
        "fail" => "RETURN_ERROR_IF_EXISTS",
        _ => "OVERWRITE",
    }
}

pub async fn run(cli: Cli) -> Result<()> {
    let config = Config::locate(cli.config)?;
    let mut s = Session { config, profile: cli.profile, quiet: cli.quiet, apis: HashMap::new() };
    match cli.command {
        Command::Profile(cmd) => profile_command(&s.config, cmd),
        Command::Spaces(SpacesCommand::Ls { json }) => {
            let api = s.api(None)?;
            let file = s.config.read()?;
            let known =
                file.profiles.get(&api.creds.profile).map(|p| p.spaces.clone()).unwrap_or_default();
            for id in known {
                match api.get_space(&id).await {
                    Ok(space) if json => println!("{}", serde_json::to_string(&space)?),
                    Ok(space) => println!(
                        "{}\t{}\t{}\t{}",
                        space.id,
                        space.owner_type,
                        usage(space.used_quota, space.quota),
                        space.name.unwrap_or_default()
                    ),
                    Err(e) => eprintln!("odc: space {id}: {e}"),
                }
            }
            Ok(())
        }
        Command::Spaces(SpacesCommand::Create { name, quota, scene, scene_id, owner_type }) => {
            let api = s.api(None)?;
            // AddSpace answers the space it made before for the same scene
            // and sceneId (default "default" / "0"): without them, a sceneId
            // of its own makes a new space, and a retry finds the same one.
            let (scene, scene_id) = match (scene, scene_id) {
                (None, None) => {
                    (Some("odc".to_string()), Some(format!("{:016x}", rand::random::<u64>())))
                }
                given => given,
            };
            let mut option = json!({});
            for (key, value) in
                [("name", name), ("scene", scene), ("sceneId", scene_id), ("ownerType", owner_type)]
            {
                if let Some(v) = value {
                    option[key] = json!(v);
                }
            }
            if let Some(q) = quota {
                option["quota"] = json!(q);
            }
            let space = api.add_space(option).await?;
            s.remember(&api, &space.id);
            println!("{}", space.id);
            Ok(())
        }
        Command::Ls { path, long, json } => {
            let (api, path) = s.remote(&path)?;
            let dentry = remote::resolve(&api, &path).await?;
            s.remember(&api, &path.space_id);
            if !dentry.is_folder() {
                return print_dentry(&dentry, long, json);
            }
            // Page by page: a folder of a million entries starts printing at once.
            let mut next: Option<String> = None;
            loop {
                let page = api.list_page(&path.space_id, &dentry.id, next.as_deref()).await?;
                for d in &page.dentries {
                    print_dentry(d, long, json)?;
                }
                match page.next_token.filter(|t| !t.is_empty()) {
                    Some(t) => next = Some(t),
                    None => return Ok(()),
                }
            }
        }
        Command::Stat { path } => {
            let (api, path) = s.remote(&path)?;
            let mut dentry = remote::resolve(&api, &path).await?;
            if dentry.id != remote::ROOT_ID {
                dentry = api.get_dentry(&path.space_id, &dentry.id).await?;
            }
            println!("{}", serde_json::to_string_pretty(&dentry)?);
            Ok(())
        }
        Command::Mkdir { path } => {
            let (api, path) = s.remote(&path)?;
            let made = remote::ensure_folder(&api, &path).await?;
            println!("{}", made.id);
            Ok(())
        }
        Command::Put { mut paths, recursive, transfer } => {
            let dst = paths.pop().unwrap_or_default();
            let (api, dst) = s.remote(&dst)?;
            let transfers = s.transfers(&transfer);
            let conflict = conflict_strategy(&transfer.conflict);
            let into =
                paths.len() > 1 || remote::lookup(&api, &dst).await?.is_some_and(|d| d.is_folder());
            let mut failed = 0;
            for local in &paths {
                let local = Path::new(local);
                let name = file_name(local)?;
                let target = if into { dst.child(&name) } else { dst.clone() };
                let outcome = if local.is_dir() {
                    if !recursive {
                        return Err(ClientError::usage(format!(
                            "{} is a folder: use -r",
                            local.display()
                        )));
                    }
                    let options = mirror::Options {
                        skip_same: false,
                        delete: false,
                        dry_run: false,
                        conflict: conflict.to_string(),
                    };
                    let side = Side::Remote(api.clone(), target);
                    mirror::run(&Side::Local(local.to_path_buf()), &side, &transfers, &options)
                        .await
                        .map(drop)
                } else {
                    put_file(&api, local, &target, &transfers, conflict).await
                };
                if let Err(e) = outcome {
                    if paths.len() == 1 {
                        return Err(e);
                    }
                    eprintln!("odc: {}: {e}", local.display());
                    failed += 1;
                }
            }
            transfers.progress.finish();
            s.remember(&api, &dst.space_id);
            match failed {
                0 => Ok(()),
                n => Err(ClientError::Partial(format!("{n} of {} uploads failed", paths.len()))),
            }
        }
        Command::Get { path, local, recursive, transfer } => {
            let (api, path) = s.remote(&path)?;
            let dentry = remote::resolve(&api, &path).await?;
            let transfers = s.transfers(&transfer);
            let into = local.is_dir();
            let name = if dentry.id == remote::ROOT_ID {
                path.space_id.clone()
            } else {
                dentry.name.clone()
            };
            if into && !mirror::safe_name(&name) {
                return Err(ClientError::usage(format!("{name:?} is not a usable file name here")));
            }
            let dest = if into { local.join(&name) } else { local.clone() };
            if dentry.is_folder() {
                if !recursive {
                    return Err(ClientError::usage(format!(
                        "{} is a folder: use -r",
                        path.display()
                    )));
                }
                let options = mirror::Options {
                    skip_same: false,
                    delete: false,
                    dry_run: false,
                    conflict: String::new(),
                };
                mirror::run(&Side::Remote(api, path), &Side::Local(dest), &transfers, &options)
                    .await?;
            } else {
                transfers.progress.plan(dentry.size.unwrap_or(0).max(0) as u64);
                transfers.download(&api, &dentry, None, &dest).await?;
                transfers.progress.finish();
            }
            Ok(())
        }
        Command::Mv { from, to } => {
            let (api, from) = s.remote(&from)?;
            let (to_api, to) = s.remote(&to)?;
            if !Arc::ptr_eq(&api, &to_api) {
                return Err(ClientError::usage("mv works within one profile; use cp, then rm"));
            }
            let moving = remote::resolve(&api, &from).await?;
            if moving.id == remote::ROOT_ID {
                return Err(ClientError::usage("a space's root cannot be moved"));
            }
            let (folder, name) = destination(&api, &to, &moving.name).await?;
            let mut landed = moving.clone();
            if folder.id != moving.parent_id.clone().unwrap_or_default()
                || to.space_id != from.space_id
            {
                let landing = api
                    .relocate(
                        "move",
                        &from.space_id,
                        &moving.id,
                        &to.space_id,
                        &folder.id,
                        "RETURN_ERROR_IF_EXISTS",
                    )
                    .await?;
                landed = settle(&api, landing, &to.space_id, &folder.id, &moving.name).await?;
            }
            if name != landed.name {
                landed = api.rename(&landed.space_id, &landed.id, &name).await?;
            }
            println!("{}", landed.path);
            Ok(())
        }
        Command::Cp { from, to, transfer } => {
            let (api, from) = s.remote(&from)?;
            let (to_api, to) = s.remote(&to)?;
            let copying = remote::resolve(&api, &from).await?;
            if Arc::ptr_eq(&api, &to_api) {
                let (folder, name) = destination(&api, &to, &copying.name).await?;
                let landing = api
                    .relocate(
                        "copy",
                        &from.space_id,
                        &copying.id,
                        &to.space_id,
                        &folder.id,
                        "AUTO_RENAME",
                    )
                    .await?;
                let mut landed =
                    settle(&api, landing, &to.space_id, &folder.id, &copying.name).await?;
                if name != landed.name {
                    landed = api.rename(&landed.space_id, &landed.id, &name).await?;
                }
                println!("{}", landed.path);
                return Ok(());
            }
            // Two profiles (two servers): the bytes stream through this machine.
            let transfers = s.transfers(&transfer);
            let conflict = conflict_strategy(&transfer.conflict);
            if copying.is_folder() {
                let into = remote::lookup(&to_api, &to).await?.is_some_and(|d| d.is_folder());
                let target = if into { to.child(&copying.name) } else { to };
                let options = mirror::Options {
                    skip_same: false,
                    delete: false,
                    dry_run: false,
                    conflict: conflict.to_string(),
                };
                mirror::run(
                    &Side::Remote(api, from),
                    &Side::Remote(to_api, target),
                    &transfers,
                    &options,
                )
                .await?;
                return Ok(());
            }
            let (folder, name) = destination(&to_api, &to, &copying.name).await?;
            let size = copying.size.unwrap_or(0).max(0) as u64;
            transfers.progress.plan(size);
            let info = api.download_info(&copying.space_id, &copying.id, None).await?;
            let target =
                Target { space_id: &to.space_id, parent_id: &folder.id, name: &name, conflict };
            let mtime = copying.modified_ms().unwrap_or(0);
            let landed = transfers
                .upload(&to_api, Source::Signed(api.clone(), info), size, mtime, target, None)
                .await?;
            transfers.progress.finish();
            println!("{}", landed.path);
            Ok(())
        }
        Command::Rm { paths, permanent } => {
            let mut failed = 0;
            for arg in &paths {
                let outcome = async {
                    let (api, path) = s.remote(arg)?;
                    let dentry = remote::resolve(&api, &path).await?;
                    if dentry.id == remote::ROOT_ID {
                        return Err(ClientError::usage("a space's root cannot be deleted"));
                    }
                    api.delete(&path.space_id, &dentry.id, !permanent).await
                }
                .await;
                if let Err(e) = outcome {
                    if paths.len() == 1 {
                        return Err(e);
                    }
                    eprintln!("odc: {arg}: {e}");
                    failed += 1;
                }
            }
            match failed {
                0 => Ok(()),
                n => Err(ClientError::Partial(format!("{n} of {} deletions failed", paths.len()))),
            }
        }
        Command::Bin(cmd) => bin_command(&mut s, cmd).await,
        Command::Versions(cmd) => versions_command(&mut s, cmd).await,
        Command::Share(cmd) => share_command(&mut s, cmd).await,
        Command::Du { path } => {
            let (api, path) = s.remote(&path)?;
            let space = api.get_space(&path.space_id).await?;
            println!("space {}: {}", space.id, usage(space.used_quota, space.quota));
            if !path.names.is_empty() {
                let top = remote::resolve(&api, &path).await?;
                let (files, bytes) = tree_size(&api, &top).await?;
                println!("{}: {files} files, {}", path.display(), human(bytes));
            }
            Ok(())
        }
        Command::Mirror { src, dst, dry_run, delete, transfer } => {
            let (src, dst) = (s.side(&src)?, s.side(&dst)?);
            let options = mirror::Options {
                skip_same: true,
                delete,
                dry_run,
                conflict: conflict_strategy(&transfer.conflict).into(),
            };
            let summary = mirror::run(&src, &dst, &s.transfers(&transfer), &options).await?;
            if !dry_run {
                println!(
                    "transferred {} files ({}), made {} folders, deleted {}, unchanged {}",
                    summary.transferred,
                    human(summary.bytes),
                    summary.folders,
                    summary.deleted,
                    summary.unchanged
                );
            }
            Ok(())
        }
    }
}

fn file_name(path: &Path) -> Result<String> {
    let abs = std::path::absolute(path)?;
    abs.components()
        .next_back()
        .and_then(|c| c.as_os_str().to_str())
        .map(str::to_string)
        .filter(|n| n != "/" && !n.is_empty())
        .ok_or_else(|| ClientError::usage(format!("{} has no file name", path.display())))
}

/// Uploads one local file to the remote path `target` (its parent folder is made).
async fn put_file(
    api: &Arc<Api>,
    local: &Path,
    target: &RemotePath,
    transfers: &Transfers,
    conflict: &str,
) -> Result<()> {
    let meta = std::fs::metadata(local)?;
    let name =
        target.leaf().ok_or_else(|| ClientError::usage("a file cannot replace a space's root"))?;
    let parent = remote::ensure_folder(api, &target.parent()).await?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let abs = std::path::absolute(local)?;
    let id = resume_id(&[
        &api.creds.endpoint,
        &api.creds.app_key,
        &api.creds.union_id,
        &target.space_id,
        &parent.id,
        name,
        &abs.to_string_lossy(),
        &meta.len().to_string(),
        &mtime.to_string(),
    ]);
    transfers.progress.plan(meta.len());
    let target = Target { space_id: &target.space_id, parent_id: &parent.id, name, conflict };
    let landed = transfers
        .upload(api, Source::File(local.to_path_buf()), meta.len(), mtime, target, Some(id))
        .await?;
    transfers.progress.println(&landed.path);
    Ok(())
}

/// Where `mv`/`cp` put an item: into `to` if it is a folder (keeping the
/// name), else into `to`'s parent under `to`'s name.
async fn destination(api: &Api, to: &RemotePath, name: &str) -> Result<(Dentry, String)> {
    match remote::lookup(api, to).await? {
        Some(d) if d.is_folder() => Ok((d, name.to_string())),
        Some(_) => Err(ClientError::usage(format!("{} exists", to.display()))),
        None => {
            let parent = remote::resolve(api, &to.parent()).await?;
            let leaf = to.leaf().unwrap_or(name).to_string();
            Ok((parent, leaf))
        }
    }
}

/// The dentry a move or copy made, waiting for its task if it went async.
async fn settle(
    api: &Api,
    landing: crate::model::Landing,
    space: &str,
    folder: &str,
    name: &str,
) -> Result<Dentry> {
    match (&landing.dentry, landing.is_async) {
        (Some(d), false) if !d.id.is_empty() => return Ok(d.clone()),
        _ => {}
    }
    if let (true, Some(task)) = (landing.is_async, landing.task_id.as_deref()) {
        api.wait_task(task).await?;
    }
    // An async answer's dentry is what the task was to make: read it now.
    let id = landing.dentry.map(|d| d.id).or(landing.dentry_id).filter(|id| !id.is_empty());
    if let Some(id) = id {
        return api.get_dentry(space, &id).await;
    }
    remote::find_child(api, space, folder, name)
        .await?
        .ok_or_else(|| ClientError::NotFound(name.to_string()))
}

fn print_dentry(d: &Dentry, long: bool, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(d)?);
    } else if long {
        let size = if d.is_folder() { "-".to_string() } else { d.size.unwrap_or(0).to_string() };
        let kind = if d.is_folder() { "d" } else { "-" };
        println!("{kind} {size:>12} {} {}", d.modified_time, d.name);
    } else if d.is_folder() {
        println!("{}/", d.name);
    } else {
        println!("{}", d.name);
    }
    Ok(())
}

fn human(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}

fn usage(used: i64, quota: Option<i64>) -> String {
    let used = used.max(0) as u64;
    match quota {
        Some(q) if q > 0 => format!("{} of {} used", human(used), human(q as u64)),
        _ => format!("{} used, no quota", human(used)),
    }
}

async fn tree_size(api: &Api, top: &Dentry) -> Result<(u64, u64)> {
    if !top.is_folder() {
        return Ok((1, top.size.unwrap_or(0).max(0) as u64));
    }
    let (mut files, mut bytes) = (0, 0);
    let mut folders = vec![top.id.clone()];
    while let Some(id) = folders.pop() {
        for d in api.list_all(&top.space_id, &id).await? {
            if d.is_folder() {
                folders.push(d.id);
            } else {
                files += 1;
                bytes += d.size.unwrap_or(0).max(0) as u64;
            }
        }
    }
    Ok((files, bytes))
}

fn profile_command(config: &Config, cmd: ProfileCommand) -> Result<()> {
    let mut file = config.read()?;
    match cmd {
        ProfileCommand::Set { name, endpoint, app_key, union_id, keep_secret, default } => {
            if !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            {
                return Err(ClientError::usage(
                    "a profile name starts with a letter: letters, digits, _ . -",
                ));
            }
            let mut profile = file.profiles.get(&name).cloned().unwrap_or_default();
            if let Some(v) = endpoint {
                profile.endpoint = Some(v);
            }
            if let Some(v) = app_key {
                profile.app_key = Some(v);
            }
            if let Some(v) = union_id {
                profile.union_id = Some(v);
            }
            if !keep_secret {
                profile.app_secret = Some(read_secret()?);
            }
            file.profiles.insert(name.clone(), profile);
            if default || file.default_profile.is_none() {
                file.default_profile = Some(name);
            }
            config.write(&file)
        }
        ProfileCommand::Ls => {
            for (name, Profile { endpoint, app_key, union_id, .. }) in &file.profiles {
                let mark = if file.default_profile.as_ref() == Some(name) { "*" } else { " " };
                println!(
                    "{mark} {name}\t{}\t{}\t{}",
                    endpoint.as_deref().unwrap_or(crate::profile::DINGTALK_ENDPOINT),
                    app_key.as_deref().unwrap_or("-"),
                    union_id.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
        ProfileCommand::Rm { name } => {
            if file.profiles.remove(&name).is_none() {
                return Err(ClientError::NotFound(format!("profile {name}")));
            }
            if file.default_profile.as_ref() == Some(&name) {
                file.default_profile = None;
            }
            config.write(&file)
        }
    }
}

/// The appSecret: `$ODC_APP_SECRET`, else asked for without echo on a
/// terminal, else the first line of stdin (never a command-line argument,
/// which other users can see in the process list).
fn read_secret() -> Result<String> {
    if let Some(v) = std::env::var("ODC_APP_SECRET").ok().filter(|v| !v.is_empty()) {
        return Ok(v);
    }
    let secret = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("appSecret: ")?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line
    };
    let secret = secret.trim().to_string();
    if secret.is_empty() {
        return Err(ClientError::usage("no appSecret given"));
    }
    Ok(secret)
}

async fn bin_command(s: &mut Session, cmd: BinCommand) -> Result<()> {
    let space_arg = match &cmd {
        BinCommand::Ls { space, .. }
        | BinCommand::Restore { space, .. }
        | BinCommand::Purge { space, .. } => space.clone(),
    };
    let space_arg = if space_arg.contains(':') { space_arg } else { format!("{space_arg}:") };
    let (api, path) = s.remote(&space_arg)?;
    let bin = api.space_bin(&path.space_id).await?;
    match cmd {
        BinCommand::Ls { json, .. } => {
            for item in api.bin_items(&bin).await? {
                if json {
                    println!("{}", serde_json::to_string(&item)?);
                } else {
                    let slash = if item.kind == "FOLDER" { "/" } else { "" };
                    println!(
                        "{}\t{}\t{}\t{}{slash}",
                        item.id, item.operator_time, item.size, item.original_path
                    );
                }
            }
            Ok(())
        }
        BinCommand::Restore { items, .. } => {
            for item in items {
                let landing = api.restore(&bin, &item).await?;
                if let (true, Some(task)) = (landing.is_async, landing.task_id.as_deref()) {
                    api.wait_task(task).await?;
                }
                println!("{item}: restored");
            }
            Ok(())
        }
        BinCommand::Purge { items, all, .. } => {
            if items.is_empty() {
                if !all {
                    return Err(ClientError::usage(
                        "name the items to purge, or pass --all to empty the bin",
                    ));
                }
                return api.clear_bin(&bin).await;
            }
            for item in items {
                api.purge_item(&bin, &item).await?;
            }
            Ok(())
        }
    }
}

async fn versions_command(s: &mut Session, cmd: VersionsCommand) -> Result<()> {
    match cmd {
        VersionsCommand::Ls { path, json } => {
            let (api, path) = s.remote(&path)?;
            let file = remote::resolve(&api, &path).await?;
            for v in api.versions(&path.space_id, &file.id).await? {
                if json {
                    println!("{}", serde_json::to_string(&v)?);
                } else {
                    println!(
                        "{}\t{}\t{}",
                        v.version.unwrap_or(0),
                        v.size.unwrap_or(0),
                        v.modified_time
                    );
                }
            }
            Ok(())
        }
        VersionsCommand::Get { path, version, local } => {
            let (api, path) = s.remote(&path)?;
            let file = remote::resolve(&api, &path).await?;
            let transfers = Transfers::new(8 << 20, 1, Progress::new(s.quiet), &s.config.dir());
            if local.is_dir() && !mirror::safe_name(&file.name) {
                return Err(ClientError::usage(format!(
                    "{:?} is not a usable file name",
                    file.name
                )));
            }
            let dest = if local.is_dir() { local.join(&file.name) } else { local };
            transfers.download(&api, &file, Some(version), &dest).await?;
            transfers.progress.finish();
            Ok(())
        }
        VersionsCommand::Revert { path, version } => {
            let (api, path) = s.remote(&path)?;
            let file = remote::resolve(&api, &path).await?;
            api.revert(&path.space_id, &file.id, version).await?;
            let reverted = api.get_dentry(&path.space_id, &file.id).await?;
            println!("{} is now version {}", reverted.path, reverted.version.unwrap_or(0));
            Ok(())
        }
    }
}

async fn share_command(s: &mut Session, cmd: ShareCommand) -> Result<()> {
    match cmd {
        ShareCommand::Ls { path, json } => {
            let (api, path) = s.remote(&path)?;
            let d = remote::resolve(&api, &path).await?;
            for g in api.grants(&path.space_id, &d.id).await? {
                if json {
                    println!("{}", serde_json::to_string(&g)?);
                } else {
                    let until = g.duration.map(|s| format!("\t{s}s")).unwrap_or_default();
                    println!("{}\t{}\t{}{until}", g.role.id, g.member.kind, g.member.id);
                }
            }
            Ok(())
        }
        ShareCommand::Add(args) => grant(s, args, false).await,
        ShareCommand::Rm(args) => grant(s, args, true).await,
    }
}

async fn grant(s: &mut Session, args: GrantArgs, remove: bool) -> Result<()> {
    let (api, path) = s.remote(&args.path)?;
    let d = remote::resolve(&api, &path).await?;
    let mut members: Vec<(String, String)> =
        args.user.into_iter().map(|u| ("USER".to_string(), u)).collect();
    members.extend(args.dept.into_iter().map(|id| ("DEPT".to_string(), id)));
    members.extend(args.org.map(|id| ("ORG".to_string(), id)));
    if members.is_empty() {
        return Err(ClientError::usage("name at least one --user, --dept or --org"));
    }
    api.grant(&path.space_id, &d.id, &args.role, &members, args.duration, remove).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8M"), Ok(8 << 20));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2k"), Ok(2048));
        assert!(parse_size("x").is_err());
        assert!(parse_size("5Q").is_err());
        assert!(parse_size("99999999999999T").is_err());
        assert_eq!(parse_part_size("100K"), Ok(100 << 10));
        assert_eq!(parse_part_size("5G"), Ok(5 << 30));
        assert!(parse_part_size("99K").is_err());
        assert!(parse_part_size("102399").is_err());
        assert!(parse_part_size("6G").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
