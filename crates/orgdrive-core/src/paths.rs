//! Files and folders by path, for WebDAV: a path below a space's root is
//! resolved name by name along the store's (space, parent, name) order (one
//! index seek per name), a file's bytes are read by range, and a file is
//! written from a byte stream in one step (what a PUT to a signed URL and
//! CommitFile with `OVERWRITE` do together: a new file, or a new version of
//! the file of that name). Each step is authorized under the same policy as
//! the API operation it stands for.

use bytes::Bytes;
use futures::Stream;
use orgdrive_blob::Download;
use orgdrive_store::{
    Cursor, CursorValue, DeadProperty, DentryRecord, PropertyPatch, PutDentry, PutOutcome, SortKey,
    SpaceRecord, StoreError,
};

/// Dead properties a file or folder may hold. Like app properties and
/// names, they are metadata that no quota counts: kept small, so that a
/// dentry's properties stay within 32 × 4 KiB.
pub const MAX_DEAD_PROPERTIES: usize = 32;
/// The largest dead property (its whole element), in bytes.
pub const MAX_DEAD_PROPERTY_BYTES: usize = 4 * 1024;

use crate::dentries::{put_dentry_error, ConflictStrategy};
use crate::policy::{Operation, Place};
use crate::{names, Drive, DriveError, DriveResult, Operator};

/// Where [`Drive::write_file`] writes, and how.
#[derive(Debug, Clone, Copy)]
pub struct FileWrite<'a> {
    pub space: &'a SpaceRecord,
    pub parent_id: &'a str,
    pub name: &'a str,
    /// The body's announced length, if any.
    pub declared_len: Option<u64>,
    /// A new file only (WebDAV's `If-None-Match: *`), never a new version.
    pub create_only: bool,
}

impl Drive {
    /// The space, if `op` may see it: as GetSpace allows with `whole`, else
    /// only the space's org is checked (a grantee below the root reaches
    /// what was shared with them; each dentry is authorized on its own).
    pub async fn space_by_id(
        &self,
        op: &Operator,
        space_id: &str,
        whole: bool,
    ) -> DriveResult<SpaceRecord> {
        let space = self.space_for(op, space_id).await?;
        if whole {
            self.authorize(op, &space, Place::Root, Operation::GetSpace).await?;
        }
        Ok(space)
    }

    /// The live child of `parent_id` named exactly `name`, if any (no
    /// authorization: callers authorize what they act on).
    pub(crate) async fn child_named(
        &self,
        space_id: &str,
        parent_id: &str,
        name: &str,
    ) -> DriveResult<Option<DentryRecord>> {
        // Strictly after (name, "") in name order: the name itself comes first.
        let after = Cursor { value: CursorValue::Text(name.to_string()), dentry_id: String::new() };
        let rows = self
            .meta
            .list_children(space_id, parent_id, SortKey::Name, false, Some(&after), 1)
            .await?;
        Ok(rows.into_iter().next().filter(|d| d.name == name))
    }

    /// The dentry at `names` below the space's root (`None` for the root
    /// itself or a missing path), checked readable by `op` (GetDentry).
    pub async fn dentry_at(
        &self,
        op: &Operator,
        space: &SpaceRecord,
        names: &[String],
    ) -> DriveResult<Option<DentryRecord>> {
        let mut parent = crate::ROOT_ID.to_string();
        let mut found: Option<DentryRecord> = None;
        for name in names {
            if found.as_ref().is_some_and(|d| !d.is_folder()) {
                return Ok(None); // a file has no children
            }
            match self.child_named(&space.space_id, &parent, name).await? {
                Some(d) => {
                    parent = d.dentry_id.clone();
                    found = Some(d);
                }
                None => return Ok(None),
            }
        }
        match found {
            Some(d) => {
                self.authorize(op, space, Place::Dentry(&d), Operation::GetDentry).await?;
                Ok(Some(d))
            }
            None => Ok(None),
        }
    }

    /// Refuses unless `op` may download the file (`write`: replace it).
    pub async fn check_file_access(
        &self,
        op: &Operator,
        space: &SpaceRecord,
        dentry: &DentryRecord,
        write: bool,
    ) -> DriveResult<()> {
        let operation = if write { Operation::Upload } else { Operation::GetFileDownloadInfo };
        self.authorize(op, space, Place::Dentry(dentry), operation).await.map(drop)
    }

    /// Refuses unless `op` may add files to the folder (`0`: the root).
    pub async fn check_upload_into(
        &self,
        op: &Operator,
        space: &SpaceRecord,
        folder_id: &str,
    ) -> DriveResult<()> {
        let into = Place::Folder { folder_id, field: "parentId" };
        self.authorize(op, space, into, Operation::Upload).await.map(drop)
    }

    /// Bytes `range` of a file, if `op` may download it.
    pub async fn read_file_range(
        &self,
        op: &Operator,
        space: &SpaceRecord,
        file: &DentryRecord,
        range: std::ops::Range<u64>,
    ) -> DriveResult<Download> {
        self.authorize(op, space, Place::Dentry(file), Operation::GetFileDownloadInfo).await?;
        let key = file
            .blob_key
            .as_deref()
            .ok_or_else(|| DriveError::param("dentryId", "a folder has no content"))?;
        let size = u64::try_from(file.size).map_err(|_| {
            DriveError::Internal(format!("file {} has size {}", file.dentry_id, file.size))
        })?;
        self.read_object(key, range.start.min(size)..range.end.min(size), size).await
    }

    /// Writes `body` as the file `to.name` in folder `to.parent_id`: a new
    /// file, or a new version of the file of that name (a folder of that
    /// name is `paramError.name`); with `to.create_only`, a new file only,
    /// decided when it is committed (`Conflict` if the name is taken by
    /// then). The bytes are stored and checked (quota, the declared length)
    /// before anything is committed; a body that ends in an error commits
    /// nothing.
    pub async fn write_file<S, E>(
        &self,
        op: &Operator,
        to: FileWrite<'_>,
        body: S,
    ) -> DriveResult<DentryRecord>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let FileWrite { space, parent_id, name, declared_len, create_only } = to;
        let name = names::dentry_name("name", name)?;
        let into = Place::Folder { folder_id: parent_id, field: "parentId" };
        self.authorize(op, space, into, Operation::Upload).await?;
        self.check_placement(&space.space_id, parent_id, &name).await?;
        let (drive, owner, record) = (self.clone(), op.clone(), space.clone());
        let (upload_key, part) = tokio::spawn(async move {
            drive.receive_content(&owner, &record, declared_len, body).await
        })
        .await
        .map_err(|e| DriveError::Internal(format!("the upload task failed: {e}")))??;
        if declared_len.is_some_and(|n| n != part.size as u64) {
            self.discard_upload(&upload_key).await;
            return Err(DriveError::param("size", "the body is shorter than its Content-Length"));
        }
        let mut file = self.new_dentry(op, &space.space_id, parent_id, &name, "FILE");
        file.size = part.size;
        file.blob_key = Some(part.object_key.clone());
        let put = PutDentry {
            overwrite_dentry_id: None,
            conflict: match create_only {
                true => ConflictStrategy::ReturnErrorIfExists.for_store(&name, false),
                false => ConflictStrategy::Overwrite.for_store(&name, false),
            },
            dentry: file,
            corp_id: space.corp_id.clone(),
            upload_key: Some(upload_key.clone()),
            upload_objects: vec![part.object_key.clone()],
            app_properties: Vec::new(),
        };
        let result = self.meta.put_dentry(&put).await;
        self.forget_space(&space.space_id);
        let stored = match result {
            Ok(PutOutcome::Created(d) | PutOutcome::Overwritten(d) | PutOutcome::Existing(d)) => d,
            Err(e) => {
                self.discard_upload(&upload_key).await;
                return Err(match e {
                    StoreError::NameTaken(_) if create_only => {
                        DriveError::Conflict { field: "name", message: format!("{name} exists") }
                    }
                    StoreError::NameTaken(_) => {
                        DriveError::param("name", format!("a folder is named {name}"))
                    }
                    e => put_dentry_error(e, &space.space_id, parent_id),
                });
            }
        };
        self.thumbnail_later(&stored);
        Ok(stored)
    }

    /// The dead properties of a dentry `op` may read.
    pub async fn dead_properties(
        &self,
        op: &Operator,
        space: &SpaceRecord,
        dentry: &DentryRecord,
    ) -> DriveResult<Vec<DeadProperty>> {
        self.authorize(op, space, Place::Dentry(dentry), Operation::GetDentry).await?;
        Ok(self.meta.dead_properties(&dentry.dentry_id).await?)
    }

    /// Sets and removes dead properties of a dentry, all or none, as
    /// UpdateDentryAppProperties would be allowed to (EDITOR); answers false,
    /// changing nothing, when more than [`MAX_DEAD_PROPERTIES`] would remain.
    pub async fn patch_dead_properties(
        &self,
        op: &Operator,
        space: &SpaceRecord,
        dentry: &DentryRecord,
        set: &[DeadProperty],
        remove: &[(String, String)],
    ) -> DriveResult<bool> {
        self.authorize(op, space, Place::Dentry(dentry), Operation::EditAppProperties).await?;
        let too_large = |p: &DeadProperty| {
            p.xml.len() + p.name.len() + p.namespace.len() + p.prefix.len()
                > MAX_DEAD_PROPERTY_BYTES
        };
        if set.iter().any(too_large) {
            return Err(DriveError::TooLarge(format!(
                "a dead property may hold at most {MAX_DEAD_PROPERTY_BYTES} bytes"
            )));
        }
        let patch = self
            .meta
            .patch_dead_properties(&dentry.dentry_id, set, remove, MAX_DEAD_PROPERTIES)
            .await;
        match patch {
            Ok(PropertyPatch::Done) => Ok(true),
            Ok(PropertyPatch::TooMany) => Ok(false),
            Err(StoreError::NotFound) => {
                Err(crate::error::unknown_dentry("dentryId", &dentry.dentry_id))
            }
            Err(e) => Err(e.into()),
        }
    }
}
