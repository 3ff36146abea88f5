//! The drive as a WebDAV file system (dav-server's `GuardedFileSystem`):
//! `/` lists the caller's spaces as folders named by space id, below them
//! the spaces' trees. Every call acts as the authenticated operator through
//! the same domain operations as the API (so the same policy and scopes):
//! listing is ListDentries, MKCOL AddFolder, DELETE DeleteDentry (to the
//! recycle bin), MOVE MoveDentry and RenameDentry, COPY of a file
//! CopyDentry, PUT a new file or a new version ([`Drive::write_file`]).

use std::io::SeekFrom;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavMetaData, DavProp, FsError, FsFuture, FsResult, FsStream,
    GuardedFileSystem, OpenOptions, ReadDirMeta,
};
use futures::{FutureExt, StreamExt};
use orgdrive_core::{
    DeadProperty, DentryRecord, Drive, DriveError, FileWrite, ListChildren, NewFolder, Operator,
    Relocation, Scope, SpaceRecord, TaskStatus,
};
use tokio::sync::{mpsc, oneshot};

/// Who a WebDAV request acts as.
pub type Caller = Arc<Operator>;

#[derive(Clone)]
pub struct DriveFs {
    pub drive: Drive,
}

/// What a path names (short-lived: one per call, never stored).
#[allow(clippy::large_enum_variant)]
enum Node {
    /// `/`: the caller's spaces.
    Top,
    Space(SpaceRecord),
    Dentry(SpaceRecord, DentryRecord),
}

tokio::task_local! {
    /// Set while a WebDAV request is handled ([`found_busy`]): whether the
    /// last of its steps the domain refused was refused busy (a store
    /// unavailable, a lost commit answer). dav-server answers that 500, or
    /// — where it takes a failed look-up for "not there" — 409 or 412.
    static LAST_REFUSAL_BUSY: std::cell::Cell<bool>;
}

/// Runs `handling` (a WebDAV request's), also answering whether the last
/// refusal of the domain meanwhile was "busy": the request's failure is
/// then a 503, "try again", whatever dav-server made of it.
pub(super) async fn found_busy<T>(handling: impl std::future::Future<Output = T>) -> (bool, T) {
    LAST_REFUSAL_BUSY
        .scope(std::cell::Cell::new(false), async {
            let answer = handling.await;
            (LAST_REFUSAL_BUSY.with(std::cell::Cell::get), answer)
        })
        .await
}

/// Notes how a step of the file system ended: one that failed otherwise
/// than `GeneralFailure` (where [`fs_error`] noted whether it was busy) was
/// not refused busy, so a conflict dav-server answers after it is its own.
fn noted<T>(outcome: &FsResult<T>) {
    if matches!(outcome, Err(e) if !matches!(e, FsError::GeneralFailure)) {
        let _ = LAST_REFUSAL_BUSY.try_with(|last| last.set(false));
    }
}

/// Maps the domain's refusals to WebDAV statuses.
fn fs_error(e: DriveError) -> FsError {
    let busy = matches!(e, DriveError::Busy(_));
    let _ = LAST_REFUSAL_BUSY.try_with(|last| last.set(busy));
    match e {
        DriveError::NotFound { .. } | DriveError::ObjectNotFound(_) => FsError::NotFound,
        DriveError::PermissionDenied(_)
        | DriveError::ScopeDenied { .. }
        | DriveError::InvalidAuthentication(_) => FsError::Forbidden,
        DriveError::QuotaExceeded(_) | DriveError::DiskFull(_) => FsError::InsufficientStorage,
        DriveError::TooLarge(_) => FsError::TooLarge,
        DriveError::Conflict { .. } => FsError::Exists,
        DriveError::InvalidParam { field, .. }
            if matches!(field.as_deref(), Some("parentId" | "dentryId" | "targetFolderId")) =>
        {
            FsError::NotFound
        }
        DriveError::InvalidParam { .. } => FsError::Forbidden,
        DriveError::Busy(_) => FsError::GeneralFailure,
        e => {
            tracing::warn!(error = %e, "a WebDAV request failed");
            FsError::GeneralFailure
        }
    }
}

/// Refuses unless the caller's app holds every scope the API would ask for.
fn needs(op: &Operator, scopes: &[Scope]) -> FsResult<()> {
    let held = |s: &Scope| op.app.scopes.iter().any(|h| h == s.as_str());
    if scopes.iter().all(held) {
        Ok(())
    } else {
        Err(FsError::Forbidden)
    }
}

/// A path's names (percent-decoded, UTF-8); `None` for a name that is not UTF-8.
pub(crate) fn names_of(path: &DavPath) -> FsResult<Vec<String>> {
    path.as_bytes()
        .split(|b| *b == b'/')
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8(n.to_vec()).map_err(|_| FsError::NotFound))
        .collect()
}

fn time_of(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

impl DriveFs {
    async fn space(&self, op: &Operator, id: &str, whole: bool) -> FsResult<SpaceRecord> {
        needs(op, &[Scope::SpaceRead])?;
        self.drive.space_by_id(op, id, whole).await.map_err(fs_error)
    }

    async fn node(&self, op: &Operator, path: &DavPath) -> FsResult<Node> {
        self.node_at(op, &names_of(path)?).await
    }

    /// The node named by `names` (decoded: never parsed as a path again).
    async fn node_at(&self, op: &Operator, names: &[String]) -> FsResult<Node> {
        let Some((space_id, below)) = names.split_first() else { return Ok(Node::Top) };
        let space = self.space(op, space_id, below.is_empty()).await?;
        if below.is_empty() {
            return Ok(Node::Space(space));
        }
        needs(op, &[Scope::FileRead])?;
        let found = self.drive.dentry_at(op, &space, below).await.map_err(|e| {
            // Not the caller's to read: as if it were not there, so that
            // names cannot be tried for (the API's ids are not guessable).
            let denied = matches!(e, DriveError::PermissionDenied(_));
            let refused = fs_error(e);
            if denied {
                FsError::NotFound
            } else {
                refused
            }
        })?;
        match found {
            Some(d) => Ok(Node::Dentry(space, d)),
            None => Err(FsError::NotFound),
        }
    }

    /// The folder a new item at `path` goes into, and its name.
    async fn parent_of(
        &self,
        op: &Operator,
        path: &DavPath,
    ) -> FsResult<(SpaceRecord, String, String)> {
        let mut names = names_of(path)?;
        if names.len() < 2 {
            return Err(FsError::Forbidden); // `/` and the spaces are not made here
        }
        let name = names.pop().unwrap_or_default();
        // A name the domain would change (its surrounding spaces stripped)
        // or refuse is refused before anything is done: a PUT looks its
        // name up as written, and would replace the file of the stripped
        // name around that file's locks; a COPY or MOVE would be half made.
        if orgdrive_core::dentry_name("name", &name).ok().as_ref() != Some(&name) {
            return Err(FsError::Forbidden);
        }
        match self.node_at(op, &names).await {
            Ok(Node::Space(space)) => Ok((space, orgdrive_core::ROOT_ID.to_string(), name)),
            Ok(Node::Dentry(space, d)) if d.is_folder() => Ok((space, d.dentry_id, name)),
            Ok(_) => Err(FsError::Forbidden),
            // dav-server answers 409 Conflict for it, as RFC 4918 asks.
            Err(e) => Err(e),
        }
    }

    async fn children(
        &self,
        op: &Operator,
        space: &SpaceRecord,
        folder_id: &str,
    ) -> FsResult<Vec<DentryRecord>> {
        needs(op, &[Scope::FileRead])?;
        let mut all = Vec::new();
        let mut next_token = None;
        loop {
            let input = ListChildren {
                parent_id: Some(folder_id.to_string()),
                max_results: Some(50),
                next_token,
                order: Some("ASC".into()),
                order_by: Some("NAME".into()),
            };
            let page =
                self.drive.list_dentries(op, &space.space_id, input).await.map_err(fs_error)?;
            all.extend(page.dentries.into_iter().map(|v| v.dentry));
            match page.next_token {
                Some(t) if !t.is_empty() => next_token = Some(t),
                _ => return Ok(all),
            }
        }
    }

    /// Refuses an UNLOCK by an app that may not write (its user's own lock
    /// included: taking it needed the right to write).
    pub fn may_unlock(&self, op: &Operator) -> FsResult<()> {
        needs(op, &[Scope::FileWrite])
    }

    /// Refuses a LOCK unless `op` could write what it locks: an existing
    /// file or folder (the file's replacement, or a write into the folder),
    /// or a new file in its folder. `/` and the spaces are never locked
    /// (a lock there would stop everyone's writes).
    pub async fn may_lock(&self, op: &Operator, path: &DavPath) -> FsResult<()> {
        needs(op, &[Scope::FileWrite])?;
        if names_of(path)?.len() < 2 {
            return Err(FsError::Forbidden);
        }
        match self.node(op, path).await {
            Ok(Node::Dentry(space, d)) => {
                self.drive.check_file_access(op, &space, &d, true).await.map_err(fs_error)
            }
            Ok(_) => Err(FsError::Forbidden),
            Err(FsError::NotFound) => {
                let (space, folder_id, _) = self.parent_of(op, path).await?;
                self.drive.check_upload_into(op, &space, &folder_id).await.map_err(fs_error)
            }
            Err(e) => Err(e),
        }
    }

    /// Waits for a task the domain started (a large delete).
    async fn settle(&self, op: &Operator, task_id: Option<String>) -> FsResult<()> {
        let Some(task_id) = task_id else { return Ok(()) };
        loop {
            let task = self.drive.get_task(op, &task_id).await.map_err(fs_error)?;
            match task.status {
                TaskStatus::Success => return Ok(()),
                TaskStatus::Fail => return Err(FsError::GeneralFailure),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn remove(&self, op: &Operator, path: &DavPath, folder: bool) -> FsResult<()> {
        needs(op, &[Scope::FileWrite])?;
        match self.node(op, path).await? {
            Node::Dentry(space, d) if d.is_folder() == folder => {
                let task = self
                    .drive
                    .delete_dentry(op, &space.space_id, &d.dentry_id, true)
                    .await
                    .map_err(fs_error)?;
                self.settle(op, task).await
            }
            Node::Dentry(..) => Err(FsError::Forbidden),
            _ => Err(FsError::Forbidden),
        }
    }

    async fn relocate(
        &self,
        op: &Operator,
        from: &DavPath,
        to: &DavPath,
        copy: bool,
    ) -> FsResult<()> {
        needs(op, &[Scope::FileWrite, Scope::FileRead])?;
        let Node::Dentry(space, source) = self.node(op, from).await? else {
            return Err(FsError::Forbidden);
        };
        if copy && source.is_folder() {
            return Err(FsError::NotImplemented); // dav-server copies folders item by item
        }
        let (target_space, folder_id, name) = self.parent_of(op, to).await?;
        if !copy && target_space.space_id != space.space_id {
            return Err(FsError::IsRemote); // a task in the API; clients copy and delete instead
        }
        let mut landed = source.clone();
        if folder_id != source.parent_id || target_space.space_id != space.space_id || copy {
            // A copy takes a free name (its source's, or one made from it)
            // and is renamed below; dav-server has handled `Overwrite`.
            let conflict = if copy { "AUTO_RENAME" } else { "RETURN_ERROR_IF_EXISTS" };
            let to = Relocation {
                target_space_id: Some(target_space.space_id.clone()),
                target_folder_id: Some(folder_id.clone()),
                conflict_strategy: Some(conflict.into()),
                preserve_permissions: false,
            };
            let relocated = if copy {
                self.drive.copy_dentry(op, &space.space_id, &source.dentry_id, to).await
            } else {
                self.drive.move_dentry(op, &space.space_id, &source.dentry_id, to).await
            };
            let relocated = match relocated {
                // The name is taken in the target folder, and the item is to
                // get another name anyway: rename it first, then move it.
                Err(DriveError::InvalidParam { field: Some(f), .. })
                    if f == "name" && !copy && source.name != name =>
                {
                    self.drive
                        .rename_dentry(op, &space.space_id, &source.dentry_id, Some(&name))
                        .await
                        .map_err(fs_error)?;
                    let to = Relocation {
                        target_space_id: Some(target_space.space_id.clone()),
                        target_folder_id: Some(folder_id.clone()),
                        conflict_strategy: Some("RETURN_ERROR_IF_EXISTS".into()),
                        preserve_permissions: false,
                    };
                    self.drive.move_dentry(op, &space.space_id, &source.dentry_id, to).await
                }
                other => other,
            }
            .map_err(fs_error)?;
            self.settle(op, relocated.task_id).await?;
            landed = relocated.dentry.dentry;
        }
        if landed.name != name {
            self.drive
                .rename_dentry(op, &target_space.space_id, &landed.dentry_id, Some(&name))
                .await
                .map_err(fs_error)?;
        }
        Ok(())
    }
}

impl GuardedFileSystem<Caller> for DriveFs {
    fn open<'a>(
        &'a self,
        path: &'a DavPath,
        options: OpenOptions,
        op: &'a Caller,
    ) -> FsFuture<'a, Box<dyn DavFile>> {
        async move {
            if !options.write {
                needs(op, &[Scope::FileRead, Scope::DownloadInfoRead])?;
                return match self.node(op, path).await? {
                    Node::Dentry(space, d) if !d.is_folder() => {
                        // Refused here, not at the first read (the answer has not started).
                        self.drive
                            .check_file_access(op, &space, &d, false)
                            .await
                            .map_err(fs_error)?;
                        let reader = Reader {
                            drive: self.drive.clone(),
                            op: op.clone(),
                            space,
                            file: d,
                            pos: 0,
                            stream: Default::default(),
                            pending: Bytes::new(),
                        };
                        Ok(Box::new(reader) as Box<dyn DavFile>)
                    }
                    _ => Err(FsError::Forbidden),
                };
            }
            needs(op, &[Scope::FileWrite, Scope::UploadInfoRead])?;
            let (space, parent_id, name) = self.parent_of(op, path).await?;
            let exists = match self.node(op, path).await {
                Ok(Node::Dentry(_, d)) if d.is_folder() => return Err(FsError::Forbidden),
                Ok(_) if options.create_new => return Err(FsError::Exists),
                Ok(_) => true,
                Err(FsError::NotFound) if !options.create => return Err(FsError::NotFound),
                Err(FsError::NotFound) => false,
                Err(e) => return Err(e),
            };
            if (options.append || !options.truncate) && exists {
                // Writing into the middle of a file: the API has no such thing.
                return Err(FsError::NotImplemented);
            }
            let drive = self.drive.clone();
            let to = Target { space, parent_id, name, create_only: options.create_new };
            let mut writer = Writer::start(drive, op.clone(), to, options.size);
            if options.append || !options.truncate {
                // A new, empty file (a LOCK of an unmapped URL makes one).
                writer.flush().await?;
            }
            Ok(Box::new(writer) as Box<dyn DavFile>)
        }
        .inspect(noted)
        .boxed()
    }

    fn read_dir<'a>(
        &'a self,
        path: &'a DavPath,
        _meta: ReadDirMeta,
        op: &'a Caller,
    ) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            let entries: Vec<Entry> = match self.node(op, path).await? {
                Node::Top => {
                    needs(op, &[Scope::SpaceRead])?;
                    let spaces = self.drive.person_spaces(op).await.map_err(fs_error)?;
                    spaces.into_iter().map(|v| Entry::space(&v.space)).collect()
                }
                Node::Space(space) => self
                    .children(op, &space, orgdrive_core::ROOT_ID)
                    .await?
                    .iter()
                    .map(Entry::dentry)
                    .collect(),
                Node::Dentry(space, d) if d.is_folder() => self
                    .children(op, &space, &d.dentry_id)
                    .await?
                    .iter()
                    .map(Entry::dentry)
                    .collect(),
                Node::Dentry(..) => return Err(FsError::Forbidden),
            };
            let stream = futures::stream::iter(
                entries.into_iter().map(|e| Ok(Box::new(e) as Box<dyn DavDirEntry>)),
            );
            Ok(Box::pin(stream) as FsStream<Box<dyn DavDirEntry>>)
        }
        .inspect(noted)
        .boxed()
    }

    fn metadata<'a>(
        &'a self,
        path: &'a DavPath,
        op: &'a Caller,
    ) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            let meta = match self.node(op, path).await? {
                Node::Top => Meta { dir: true, len: 0, modified_ms: 0, etag: None },
                Node::Space(space) => Entry::space(&space).meta,
                Node::Dentry(_, d) => Entry::dentry(&d).meta,
            };
            Ok(Box::new(meta) as Box<dyn DavMetaData>)
        }
        .inspect(noted)
        .boxed()
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath, op: &'a Caller) -> FsFuture<'a, ()> {
        async move {
            needs(op, &[Scope::FileWrite])?;
            let (space, parent_id, name) = self.parent_of(op, path).await?;
            let input = NewFolder {
                name: Some(name),
                conflict_strategy: Some("RETURN_ERROR_IF_EXISTS".into()),
                app_properties: Vec::new(),
            };
            match self.drive.add_folder(op, &space.space_id, &parent_id, input).await {
                Ok(_) => Ok(()),
                Err(DriveError::InvalidParam { field: Some(f), .. }) if f == "name" => {
                    Err(FsError::Exists)
                }
                Err(e) => Err(fs_error(e)),
            }
        }
        .inspect(noted)
        .boxed()
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath, op: &'a Caller) -> FsFuture<'a, ()> {
        self.remove(op, path, true).inspect(noted).boxed()
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath, op: &'a Caller) -> FsFuture<'a, ()> {
        self.remove(op, path, false).inspect(noted).boxed()
    }

    fn rename<'a>(
        &'a self,
        from: &'a DavPath,
        to: &'a DavPath,
        op: &'a Caller,
    ) -> FsFuture<'a, ()> {
        self.relocate(op, from, to, false).inspect(noted).boxed()
    }

    fn copy<'a>(&'a self, from: &'a DavPath, to: &'a DavPath, op: &'a Caller) -> FsFuture<'a, ()> {
        self.relocate(op, from, to, true).inspect(noted).boxed()
    }

    fn have_props<'a>(
        &'a self,
        path: &'a DavPath,
        _op: &'a Caller,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        // Files and folders keep dead properties; `/` and the spaces do not.
        let below_a_space = names_of(path).is_ok_and(|names| names.len() >= 2);
        futures::future::ready(below_a_space).boxed()
    }

    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
        op: &'a Caller,
    ) -> FsFuture<'a, Vec<(StatusCode, DavProp)>> {
        async move {
            needs(op, &[Scope::FileWrite])?;
            let Node::Dentry(space, d) = self.node(op, path).await? else {
                return Err(FsError::Forbidden);
            };
            // In document order: the last instruction for a name wins.
            let mut last: std::collections::BTreeMap<(String, String), Option<DeadProperty>> =
                std::collections::BTreeMap::new();
            for (is_set, prop) in &patch {
                let key = (prop.namespace.clone().unwrap_or_default(), prop.name.clone());
                let value = is_set.then(|| DeadProperty {
                    namespace: key.0.clone(),
                    name: prop.name.clone(),
                    prefix: prop.prefix.clone().unwrap_or_default(),
                    xml: prop.xml.clone().unwrap_or_default(),
                });
                last.insert(key, value);
            }
            let mut set = Vec::new();
            let mut remove = Vec::new();
            for (key, value) in last {
                match value {
                    Some(p) => set.push(p),
                    None => remove.push(key),
                }
            }
            let status = match self.drive.patch_dead_properties(op, &space, &d, &set, &remove).await
            {
                Ok(true) => StatusCode::OK,
                Ok(false) | Err(DriveError::TooLarge(_)) => StatusCode::INSUFFICIENT_STORAGE,
                Err(e) => return Err(fs_error(e)),
            };
            Ok(patch.into_iter().map(|(_, prop)| (status, without_value(prop))).collect())
        }
        .inspect(noted)
        .boxed()
    }

    fn get_props<'a>(
        &'a self,
        path: &'a DavPath,
        do_content: bool,
        op: &'a Caller,
    ) -> FsFuture<'a, Vec<DavProp>> {
        async move {
            let Node::Dentry(space, d) = self.node(op, path).await? else { return Ok(Vec::new()) };
            let props = self.drive.dead_properties(op, &space, &d).await.map_err(fs_error)?;
            Ok(props
                .into_iter()
                .map(|p| {
                    let prop = dav_prop(p);
                    if do_content {
                        prop
                    } else {
                        without_value(prop)
                    }
                })
                .collect())
        }
        .inspect(noted)
        .boxed()
    }

    fn get_prop<'a>(
        &'a self,
        path: &'a DavPath,
        prop: DavProp,
        op: &'a Caller,
    ) -> FsFuture<'a, Vec<u8>> {
        async move {
            let Node::Dentry(space, d) = self.node(op, path).await? else {
                return Err(FsError::NotFound);
            };
            let namespace = prop.namespace.unwrap_or_default();
            let props = self.drive.dead_properties(op, &space, &d).await.map_err(fs_error)?;
            props
                .into_iter()
                .find(|p| p.namespace == namespace && p.name == prop.name)
                .map(|p| p.xml)
                .ok_or(FsError::NotFound)
        }
        .inspect(noted)
        .boxed()
    }

    fn get_quota<'a>(&'a self, _op: &'a Caller) -> FsFuture<'a, (u64, Option<u64>)> {
        futures::future::ready(Err(FsError::NotImplemented)).boxed()
    }
}

/// One entry of a listing, with its metadata.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    meta: Meta,
}

impl Entry {
    fn space(space: &SpaceRecord) -> Entry {
        Entry {
            name: space.space_id.clone(),
            meta: Meta { dir: true, len: 0, modified_ms: space.modified_at, etag: None },
        }
    }

    fn dentry(d: &DentryRecord) -> Entry {
        let dir = d.is_folder();
        Entry {
            name: d.name.clone(),
            meta: Meta {
                dir,
                len: if dir { 0 } else { d.size.max(0) as u64 },
                modified_ms: d.modified_at,
                // A file's id and version name its content exactly.
                etag: (!dir).then(|| format!("{}-{}", d.dentry_id, d.version)),
            },
        }
    }
}

impl DavDirEntry for Entry {
    fn name(&self) -> Vec<u8> {
        self.name.as_bytes().to_vec()
    }

    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        futures::future::ready(Ok(Box::new(self.meta.clone()) as Box<dyn DavMetaData>)).boxed()
    }
}

#[derive(Debug, Clone)]
struct Meta {
    dir: bool,
    len: u64,
    modified_ms: i64,
    etag: Option<String>,
}

impl DavMetaData for Meta {
    fn len(&self) -> u64 {
        self.len
    }

    fn modified(&self) -> FsResult<SystemTime> {
        Ok(time_of(self.modified_ms))
    }

    fn is_dir(&self) -> bool {
        self.dir
    }

    fn etag(&self) -> Option<String> {
        self.etag.clone().or_else(|| Some(format!("{:x}", self.modified_ms)))
    }
}

/// A file being read: a stream from the current position, opened on the
/// first read after a seek.
struct Reader {
    drive: Drive,
    op: Caller,
    space: SpaceRecord,
    file: DentryRecord,
    pos: u64,
    /// In a mutex only to be `Sync` (dav-server's files are); `&mut self`
    /// reaches it without locking.
    stream: std::sync::Mutex<Option<futures::stream::BoxStream<'static, std::io::Result<Bytes>>>>,
    pending: Bytes,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("file", &self.file.dentry_id)
            .field("pos", &self.pos)
            .finish()
    }
}

impl DavFile for Reader {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        futures::future::ready(Ok(Box::new(Entry::dentry(&self.file).meta) as Box<dyn DavMetaData>))
            .boxed()
    }

    fn write_buf(&mut self, _buf: Box<dyn bytes::Buf + Send>) -> FsFuture<'_, ()> {
        futures::future::ready(Err(FsError::Forbidden)).boxed()
    }

    fn write_bytes(&mut self, _buf: Bytes) -> FsFuture<'_, ()> {
        futures::future::ready(Err(FsError::Forbidden)).boxed()
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        async move {
            let size = self.file.size.max(0) as u64;
            if self.pending.is_empty() {
                if self.pos >= size {
                    return Ok(Bytes::new());
                }
                let stream = self.stream.get_mut().unwrap_or_else(|e| e.into_inner());
                if stream.is_none() {
                    let download = self
                        .drive
                        .read_file_range(&self.op, &self.space, &self.file, self.pos..size)
                        .await
                        .map_err(fs_error)?;
                    *stream = Some(match download {
                        orgdrive_core::Download::Whole(bytes) => {
                            futures::stream::once(async move { Ok(bytes) }).boxed()
                        }
                        orgdrive_core::Download::Stream(stream) => stream
                            .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())))
                            .boxed(),
                    });
                }
                let stream = stream.as_mut().ok_or(FsError::GeneralFailure)?;
                match stream.next().await {
                    Some(Ok(bytes)) => self.pending = bytes,
                    Some(Err(_)) => return Err(FsError::GeneralFailure),
                    None => return Ok(Bytes::new()),
                }
            }
            let take = count.min(self.pending.len());
            let out = self.pending.split_to(take);
            self.pos += out.len() as u64;
            Ok(out)
        }
        .boxed()
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        let size = self.file.size.max(0) as u64;
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let outcome = match target {
            Some(n) if n <= size => {
                if n != self.pos {
                    *self.stream.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
                    self.pending = Bytes::new();
                    self.pos = n;
                }
                Ok(n)
            }
            _ => Err(FsError::GeneralFailure),
        };
        futures::future::ready(outcome).boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        futures::future::ready(Ok(())).boxed()
    }
}

/// Where a [`Writer`] writes: the name `name` in folder `parent_id`, a
/// new file only when `create_only` (`If-None-Match: *`).
struct Target {
    space: SpaceRecord,
    parent_id: String,
    name: String,
    create_only: bool,
}

/// A file being written: its bytes flow through a channel into
/// [`Drive::write_file`], running in a task; `flush` ends the body and
/// waits for the commit. A writer dropped before `flush` (the client went
/// away) ends the body with an error, so nothing is committed.
struct Writer {
    chunks: Option<mpsc::Sender<Chunk>>,
    done: Option<oneshot::Receiver<Result<DentryRecord, DriveError>>>,
    written: Option<DentryRecord>,
    buffer: BytesMut,
}

/// What flows from a [`Writer`] to its write task.
enum Chunk {
    Bytes(Bytes),
    /// The body is complete: commit it.
    End,
}

/// Bytes gathered before they go to the store (small writes are merged).
const WRITE_CHUNK: usize = 256 * 1024;

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    fn start(drive: Drive, op: Caller, to: Target, size: Option<u64>) -> Writer {
        let (chunks, receiver) = mpsc::channel::<Chunk>(4);
        let (finished, done) = oneshot::channel();
        // The channel closing without `End` (the writer dropped: the client
        // went away) ends the body in an error, so nothing is committed.
        let body = futures::stream::unfold(Some(receiver), |receiver| async move {
            let mut receiver = receiver?;
            match receiver.recv().await {
                Some(Chunk::Bytes(bytes)) => Some((Ok(bytes), Some(receiver))),
                Some(Chunk::End) => None,
                None => Some((Err("the body ended before it was complete"), None)),
            }
        });
        tokio::spawn(async move {
            let into = FileWrite {
                space: &to.space,
                parent_id: &to.parent_id,
                name: &to.name,
                declared_len: size,
                // Decided at the commit: not only when the PUT began.
                create_only: to.create_only,
            };
            let written = drive.write_file(&op, into, body).await;
            let _ = finished.send(written);
        });
        Writer { chunks: Some(chunks), done: Some(done), written: None, buffer: BytesMut::new() }
    }

    async fn send(&mut self, bytes: Bytes) -> FsResult<()> {
        let chunks = self.chunks.as_ref().ok_or(FsError::GeneralFailure)?;
        if chunks.send(Chunk::Bytes(bytes)).await.is_err() {
            // The write task ended early (a refusal): its answer says why.
            return Err(self.outcome().await.err().unwrap_or(FsError::GeneralFailure));
        }
        Ok(())
    }

    async fn outcome(&mut self) -> FsResult<()> {
        self.chunks = None;
        let done = self.done.take().ok_or(FsError::GeneralFailure)?;
        match done.await {
            Ok(Ok(d)) => {
                self.written = Some(d);
                Ok(())
            }
            Ok(Err(e)) => Err(fs_error(e)),
            Err(_) => Err(FsError::GeneralFailure),
        }
    }
}

impl DavFile for Writer {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta = match &self.written {
            Some(d) => Ok(Box::new(Entry::dentry(d).meta) as Box<dyn DavMetaData>),
            None => Err(FsError::GeneralFailure),
        };
        futures::future::ready(meta).boxed()
    }

    fn write_buf(&mut self, mut buf: Box<dyn bytes::Buf + Send>) -> FsFuture<'_, ()> {
        let bytes = buf.copy_to_bytes(buf.remaining());
        self.write_bytes(bytes)
    }

    fn write_bytes(&mut self, buf: Bytes) -> FsFuture<'_, ()> {
        async move {
            // A refusal that came before any byte (quota, size) ends the PUT now.
            if let Some(done) = self.done.as_mut() {
                if let Ok(Err(e)) = done.try_recv() {
                    self.chunks = None;
                    self.done = None;
                    return Err(fs_error(e));
                }
            }
            self.buffer.extend_from_slice(&buf);
            if self.buffer.len() >= WRITE_CHUNK {
                let chunk = self.buffer.split().freeze();
                self.send(chunk).await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn read_bytes(&mut self, _count: usize) -> FsFuture<'_, Bytes> {
        futures::future::ready(Err(FsError::Forbidden)).boxed()
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        // Only where the file starts (dav-server seeks there for a plain PUT).
        let outcome = match pos {
            SeekFrom::Start(0) if self.buffer.is_empty() => Ok(0),
            _ => Err(FsError::NotImplemented),
        };
        futures::future::ready(outcome).boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        async move {
            if self.chunks.is_none() {
                return match self.written {
                    Some(_) => Ok(()),
                    None => Err(FsError::GeneralFailure),
                };
            }
            if !self.buffer.is_empty() {
                let chunk = self.buffer.split().freeze();
                self.send(chunk).await?;
            }
            if let Some(chunks) = &self.chunks {
                // A closed channel: the task ended already; its answer tells.
                let _ = chunks.send(Chunk::End).await;
            }
            self.outcome().await
        }
        .boxed()
    }
}

/// A stored dead property as dav-server's.
fn dav_prop(p: DeadProperty) -> DavProp {
    DavProp {
        name: p.name,
        prefix: Some(p.prefix).filter(|p| !p.is_empty()),
        namespace: Some(p.namespace).filter(|n| !n.is_empty()),
        xml: Some(p.xml),
    }
}

/// A property's name without its value (for PROPPATCH answers and `propname`).
fn without_value(prop: DavProp) -> DavProp {
    DavProp { xml: None, ..prop }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> DriveError {
        DriveError::Busy("the metadata store is unavailable".into())
    }

    /// A request is answered busy only when the last step the domain
    /// refused was refused busy: a conflict or a real failure after a
    /// swallowed busy look-up keeps its own status.
    #[tokio::test]
    async fn only_a_busy_last_refusal_makes_a_request_busy() {
        let (found, ()) = found_busy(async {
            let _ = fs_error(busy());
            noted::<()>(&Err(FsError::GeneralFailure));
        })
        .await;
        assert!(found, "busy, and nothing refused since");
        let (found, ()) = found_busy(async {
            let _ = fs_error(busy());
            noted::<()>(&Err(FsError::NotFound)); // dav-server's 409 follows
        })
        .await;
        assert!(!found, "a genuine conflict after a swallowed busy look-up");
        let (found, ()) = found_busy(async {
            let _ = fs_error(busy());
            let _ = fs_error(DriveError::Internal("a bug".into()));
        })
        .await;
        assert!(!found, "a real 500 after a busy step");
        let (found, ()) = found_busy(async { noted::<()>(&Ok(())) }).await;
        assert!(!found);
        // Outside a request (a body streamed after its head): nothing noted.
        let _ = fs_error(busy());
    }
}
