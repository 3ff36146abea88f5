//! Tree transfers: `mirror` (make DST hold what SRC holds, transferring only
//! what differs, optionally deleting what SRC lacks) and the recursive `put`
//! and `get`, which transfer everything. Either side is a local folder or a
//! folder in a space; two spaces may be on two profiles (two servers).
//!
//! Two files are the same when their sizes are equal and either their
//! modification times are (the source's time is recorded on the copy: as
//! `odcMtime` in a space, as the file's mtime locally) or their BLAKE3 are
//! (`odcBlake3` in a space; computed for a local file only when the times
//! differ). A file of a space that no odc uploaded has neither property and
//! is transferred again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;

use crate::api::Api;
use crate::api::Target;
use crate::error::{ClientError, Result};
use crate::model::Dentry;
use crate::remote::{self, RemotePath};
use crate::transfer::{recorded_hash, resume_id, Source, Transfers, HASH_PROPERTY, MTIME_PROPERTY};

/// One end of a tree transfer.
#[derive(Clone)]
pub enum Side {
    Local(PathBuf),
    Remote(Arc<Api>, RemotePath),
}

/// A file or folder of a tree, by its path relative to the tree's top.
#[derive(Clone, Debug)]
struct Entry {
    folder: bool,
    size: u64,
    mtime: Option<i64>,
    hash: Option<String>,
    dentry: Option<Dentry>,
}

pub struct Options {
    /// Compare and skip files that are the same (`mirror`); otherwise
    /// transfer every file (`put -r`, `get -r`).
    pub skip_same: bool,
    pub delete: bool,
    pub dry_run: bool,
    /// CommitFile's conflictStrategy for uploads.
    pub conflict: String,
}

#[derive(Default, Debug)]
pub struct Summary {
    pub transferred: u64,
    pub bytes: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub folders: u64,
}

enum Action {
    MakeFolder(String),
    Transfer(String, Entry),
    Delete(String, Entry),
}

/// Makes `dst` hold the tree at `src` (its contents, not `src` itself).
pub async fn run(
    src: &Side,
    dst: &Side,
    transfers: &Transfers,
    options: &Options,
) -> Result<Summary> {
    if let (Side::Local(_), Side::Local(_)) = (src, dst) {
        return Err(ClientError::usage("both sides are local: one of them must be a space"));
    }
    let source = list(src, true).await?;
    let target = match ensure_top(dst, options.dry_run).await? {
        true => list(dst, false).await?,
        false => BTreeMap::new(),
    };
    let mut summary = Summary::default();
    let mut actions = Vec::new();
    for (rel, entry) in &source {
        match target.get(rel) {
            None if entry.folder => actions.push(Action::MakeFolder(rel.clone())),
            Some(there) if entry.folder && there.folder => {}
            Some(there) if entry.folder != there.folder => {
                return Err(ClientError::usage(format!(
                    "{rel} is a {} in the source and a {} in the destination",
                    kind(entry),
                    kind(there)
                )))
            }
            Some(there) if options.skip_same && same(src, dst, rel, entry, there).await? => {
                summary.unchanged += 1
            }
            _ => actions.push(Action::Transfer(rel.clone(), entry.clone())),
        }
    }
    if options.delete {
        // Only the topmost of what goes: a folder's removal takes its contents.
        let mut gone: Option<String> = None;
        for (rel, entry) in &target {
            if source.contains_key(rel)
                || gone.as_ref().is_some_and(|g| rel.starts_with(&format!("{g}/")))
            {
                continue;
            }
            gone = entry.folder.then(|| rel.clone());
            actions.push(Action::Delete(rel.clone(), entry.clone()));
        }
    }
    if options.dry_run {
        for action in &actions {
            let line = match action {
                Action::MakeFolder(rel) => format!("mkdir  {rel}/"),
                Action::Transfer(rel, e) => format!("copy   {rel} ({} bytes)", e.size),
                Action::Delete(rel, e) => {
                    format!("delete {rel}{}", if e.folder { "/" } else { "" })
                }
            };
            println!("{line}");
        }
        return Ok(summary);
    }
    let mut folder_ids: BTreeMap<String, String> = BTreeMap::new();
    if let Side::Remote(_, top) = dst {
        let top_id = match lookup(dst, top).await? {
            Some(d) => d.id,
            None => remote::ROOT_ID.to_string(),
        };
        folder_ids.insert(String::new(), top_id);
        for (rel, e) in &target {
            if let (true, Some(d)) = (e.folder, &e.dentry) {
                folder_ids.insert(rel.clone(), d.id.clone());
            }
        }
    }
    let mut files = Vec::new();
    let mut deletes = Vec::new();
    for action in actions {
        match action {
            Action::MakeFolder(rel) => {
                make_folder(dst, &rel, &mut folder_ids).await?;
                summary.folders += 1;
            }
            Action::Transfer(rel, e) => {
                transfers.progress.plan(e.size);
                files.push((rel, e))
            }
            Action::Delete(rel, e) => deletes.push((rel, e)),
        }
    }
    let folder_ids = Arc::new(folder_ids);
    let mut failures = Vec::new();
    let mut results = futures::stream::iter(files.into_iter().map(|(rel, entry)| {
        let folder_ids = folder_ids.clone();
        async move {
            let outcome =
                transfer_one(src, dst, &rel, &entry, transfers, &folder_ids, options).await;
            (rel, entry.size, outcome)
        }
    }))
    .buffer_unordered(transfers.parallel);
    while let Some((rel, size, outcome)) = results.next().await {
        match outcome {
            Ok(()) => {
                summary.transferred += 1;
                summary.bytes += size;
            }
            Err(e) => {
                transfers.progress.println(&format!("odc: {rel}: {e}"));
                failures.push(rel);
            }
        }
    }
    for (rel, entry) in deletes {
        match delete(dst, &rel, &entry).await {
            Ok(()) => summary.deleted += 1,
            Err(e) => {
                transfers.progress.println(&format!("odc: {rel}: {e}"));
                failures.push(rel);
            }
        }
    }
    transfers.progress.finish();
    if !failures.is_empty() {
        return Err(ClientError::Partial(format!(
            "{} of the items failed (named above)",
            failures.len()
        )));
    }
    Ok(summary)
}

fn kind(e: &Entry) -> &'static str {
    if e.folder {
        "folder"
    } else {
        "file"
    }
}

async fn lookup(side: &Side, path: &RemotePath) -> Result<Option<Dentry>> {
    match side {
        Side::Remote(api, _) => remote::lookup(api, path).await,
        Side::Local(_) => Ok(None),
    }
}

/// Makes sure the destination's top folder exists (unless dry): answers
/// whether there is anything to list.
async fn ensure_top(dst: &Side, dry_run: bool) -> Result<bool> {
    match dst {
        Side::Local(path) => {
            if dry_run {
                return Ok(path.is_dir());
            }
            std::fs::create_dir_all(path)?;
            Ok(true)
        }
        Side::Remote(api, path) => {
            if dry_run {
                return Ok(remote::lookup(api, path).await?.is_some_and(|d| d.is_folder()));
            }
            remote::ensure_folder(api, path).await?;
            Ok(true)
        }
    }
}

/// Every file and folder below a side's top, by relative path.
async fn list(side: &Side, is_source: bool) -> Result<BTreeMap<String, Entry>> {
    let mut out = BTreeMap::new();
    match side {
        Side::Local(top) => {
            if !top.is_dir() {
                return Err(if is_source {
                    ClientError::NotFound(top.display().to_string())
                } else {
                    ClientError::usage(format!("{} is not a folder", top.display()))
                });
            }
            list_local(top, "", &mut out)?;
        }
        Side::Remote(api, top) => {
            let top = remote::resolve(api, top).await?;
            if !top.is_folder() {
                return Err(ClientError::usage(format!("{} is not a folder", top.path)));
            }
            let mut folders = vec![(String::new(), top.id)];
            while let Some((prefix, id)) = folders.pop() {
                for d in api.list_all(&top.space_id, &id).await? {
                    if !safe_name(&d.name) {
                        // A name that would leave the folder it is written into.
                        eprintln!(
                            "odc: skipping {:?} in {}: not a usable file name",
                            d.name, top.path
                        );
                        continue;
                    }
                    let rel = if prefix.is_empty() {
                        d.name.clone()
                    } else {
                        format!("{prefix}/{}", d.name)
                    };
                    if d.is_folder() {
                        folders.push((rel.clone(), d.id.clone()));
                    }
                    out.insert(rel, remote_entry(d));
                }
            }
        }
    }
    Ok(out)
}

fn remote_entry(d: Dentry) -> Entry {
    Entry {
        folder: d.is_folder(),
        size: d.size.unwrap_or(0).max(0) as u64,
        mtime: d
            .own_property(MTIME_PROPERTY)
            .and_then(|v| v.parse().ok())
            .or_else(|| d.modified_ms()),
        hash: recorded_hash(&d).map(str::to_string),
        dentry: Some(d),
    }
}

fn list_local(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Entry>) -> Result<()> {
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let Some(name) = item.file_name().to_str().map(str::to_string) else {
            eprintln!("odc: skipping {} (its name is not UTF-8)", item.path().display());
            continue;
        };
        let meta = item.metadata()?; // does not follow symbolic links
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        if meta.is_dir() {
            out.insert(
                rel.clone(),
                Entry { folder: true, size: 0, mtime: None, hash: None, dentry: None },
            );
            list_local(&item.path(), &rel, out)?;
        } else if meta.is_file() {
            let mtime =
                meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            out.insert(
                rel,
                Entry {
                    folder: false,
                    size: meta.len(),
                    mtime: mtime.map(|d| d.as_millis() as i64),
                    hash: None,
                    dentry: None,
                },
            );
        } else {
            eprintln!("odc: skipping {} (not a regular file or folder)", item.path().display());
        }
    }
    Ok(())
}

/// Whether a name from a server can be a local file's name: not empty, not
/// `.` or `..`, no `/` or NUL (a hostile server's names never reach above
/// the destination folder).
pub fn safe_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

fn local_path(top: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(top.to_path_buf(), |p, name| p.join(name))
}

/// The content hash (hex BLAKE3, as in `odcBlake3`) of a local file, read
/// on a blocking thread.
async fn local_hash(path: &Path) -> Result<String> {
    let path = path.to_path_buf();
    let hashed = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(path)?;
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(file)?;
        Ok::<_, std::io::Error>(hasher.finalize().to_hex().to_string())
    })
    .await
    .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))?;
    Ok(hashed?)
}

/// Whether a destination file already holds the source file (module doc).
/// A local file found the same by its hash gets the source's time, and a
/// space's file gets `odcMtime`, so the next run decides by times alone.
async fn same(src: &Side, dst: &Side, rel: &str, s: &Entry, d: &Entry) -> Result<bool> {
    if s.size != d.size {
        return Ok(false);
    }
    if s.mtime.is_some() && s.mtime == d.mtime {
        return Ok(true);
    }
    let s_hash = match (&s.hash, src) {
        (Some(hash), _) => hash.clone(),
        (None, Side::Local(top)) if d.hash.is_some() => local_hash(&local_path(top, rel)).await?,
        _ => return Ok(false),
    };
    let d_hash = match (&d.hash, dst) {
        (Some(hash), _) => hash.clone(),
        (None, Side::Local(top)) => local_hash(&local_path(top, rel)).await?,
        _ => return Ok(false),
    };
    if s_hash != d_hash {
        return Ok(false);
    }
    if let Some(ms) = s.mtime {
        match (dst, &d.dentry) {
            (Side::Local(top), _) => set_mtime(&local_path(top, rel), ms)?,
            (Side::Remote(api, _), Some(dentry)) => {
                let ms = ms.to_string();
                api.set_properties(
                    &dentry.space_id,
                    &dentry.id,
                    &[(HASH_PROPERTY, &d_hash), (MTIME_PROPERTY, &ms)],
                )
                .await?
            }
            _ => {}
        }
    }
    Ok(true)
}

fn set_mtime(path: &Path, ms: i64) -> Result<()> {
    let file = std::fs::File::options().write(true).open(path)?;
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64))?;
    Ok(())
}

fn split(rel: &str) -> (&str, &str) {
    match rel.rfind('/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    }
}

async fn make_folder(dst: &Side, rel: &str, ids: &mut BTreeMap<String, String>) -> Result<()> {
    match dst {
        Side::Local(top) => Ok(std::fs::create_dir_all(local_path(top, rel))?),
        Side::Remote(api, top) => {
            let (parent, name) = split(rel);
            let parent_id = ids.get(parent).cloned().ok_or_else(|| {
                ClientError::Network(format!("no folder {parent} to make {name} in"))
            })?;
            let made = api.make_folder(&top.space_id, &parent_id, name).await?;
            ids.insert(rel.to_string(), made.id);
            Ok(())
        }
    }
}

async fn transfer_one(
    src: &Side,
    dst: &Side,
    rel: &str,
    entry: &Entry,
    transfers: &Transfers,
    folder_ids: &BTreeMap<String, String>,
    options: &Options,
) -> Result<()> {
    match (src, dst) {
        (Side::Remote(api, _), Side::Local(top)) => {
            let dentry =
                entry.dentry.as_ref().ok_or_else(|| ClientError::NotFound(rel.to_string()))?;
            transfers.download(api, dentry, None, &local_path(top, rel)).await
        }
        (_, Side::Remote(api, top)) => {
            let (parent, name) = split(rel);
            let parent_id =
                folder_ids.get(parent).ok_or_else(|| ClientError::NotFound(parent.to_string()))?;
            let target =
                Target { space_id: &top.space_id, parent_id, name, conflict: &options.conflict };
            let mtime = entry.mtime.unwrap_or(0);
            let (source, resume) = match src {
                Side::Local(local_top) => {
                    let path = local_path(local_top, rel);
                    let abs = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
                    let id = resume_id(&[
                        &api.creds.endpoint,
                        &api.creds.app_key,
                        &api.creds.union_id,
                        &top.space_id,
                        parent_id,
                        name,
                        &abs.to_string_lossy(),
                        &entry.size.to_string(),
                        &mtime.to_string(),
                    ]);
                    (Source::File(path), Some(id))
                }
                Side::Remote(src_api, _) => {
                    let d = entry
                        .dentry
                        .as_ref()
                        .ok_or_else(|| ClientError::NotFound(rel.to_string()))?;
                    let info = src_api.download_info(&d.space_id, &d.id, None).await?;
                    (Source::Signed(src_api.clone(), info), None)
                }
            };
            transfers.upload(api, source, entry.size, mtime, target, resume).await.map(drop)
        }
        (Side::Local(_), Side::Local(_)) => Err(ClientError::usage("both sides are local")),
    }
}

async fn delete(dst: &Side, rel: &str, entry: &Entry) -> Result<()> {
    match dst {
        Side::Local(top) => {
            let path = local_path(top, rel);
            if entry.folder {
                std::fs::remove_dir_all(path)?
            } else {
                std::fs::remove_file(path)?
            }
            Ok(())
        }
        Side::Remote(api, _) => {
            let d = entry.dentry.as_ref().ok_or_else(|| ClientError::NotFound(rel.to_string()))?;
            api.delete(&d.space_id, &d.id, true).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_leave_their_folder_are_unsafe() {
        for bad in ["", ".", "..", "a/b", "../x", "x\0y"] {
            assert!(!safe_name(bad), "{bad:?}");
        }
        for good in ["a", "..a", "a..", "名字.txt", " x "] {
            assert!(safe_name(good), "{good:?}");
        }
    }
}
