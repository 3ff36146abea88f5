//! Files and folders: AddFolder, GetDentry, GetDentries, ListDentries,
//! ListAllDentries, the conflict strategies, app properties and the dentry
//! views (with `path`) the API returns.
//!
//! Listings page by keyset: the `nextToken` names the sort value and id of
//! the last entry returned, so a page costs what its rows cost, and entries
//! added or removed meanwhile never shift what the next page returns.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use orgdrive_store::{
    AppPropertyRecord, Cursor, CursorValue, DentryRecord, NameConflict, PutDentry, PutOutcome,
    SortKey, SpaceRecord, StoreError,
};

use crate::cache::{CachedRead, FolderChain, ReplyVersions};
use crate::error::unknown_dentry;
use crate::policy::{Operation, Place};
use crate::validate::check_ids;
use crate::{names, now_ms, Drive, DriveError, DriveResult, Operator};

use crate::ids::ROOT_ID;
/// Largest ListDentries / ListAllDentries page.
pub const MAX_PAGE: i64 = 50;
/// Most ids in one GetDentries call.
pub const MAX_BATCH_IDS: usize = 30;
/// Most app properties one app may set on a dentry.
pub const MAX_APP_PROPERTIES: usize = 3;

/// `conflictStrategy` of AddFolder and CommitFile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictStrategy {
    AutoRename,
    Overwrite,
    ReturnDentryIfExists,
    ReturnErrorIfExists,
}

impl ConflictStrategy {
    /// Parses the wire value; absent = `AUTO_RENAME`.
    pub fn parse(raw: Option<&str>) -> DriveResult<ConflictStrategy> {
        match raw.map(str::to_ascii_uppercase).as_deref() {
            None | Some("AUTO_RENAME") => Ok(ConflictStrategy::AutoRename),
            Some("OVERWRITE") => Ok(ConflictStrategy::Overwrite),
            Some("RETURN_DENTRY_IF_EXISTS") => Ok(ConflictStrategy::ReturnDentryIfExists),
            Some("RETURN_ERROR_IF_EXISTS") => Ok(ConflictStrategy::ReturnErrorIfExists),
            Some(other) => Err(DriveError::param(
                "conflictStrategy",
                format!(
                    "conflictStrategy must be AUTO_RENAME, OVERWRITE, RETURN_DENTRY_IF_EXISTS or \
                     RETURN_ERROR_IF_EXISTS, not {other}"
                ),
            )),
        }
    }

    /// The store's rule for a new dentry named `name`. OVERWRITE on a folder
    /// returns the existing folder: a folder's content is never replaced.
    pub(crate) fn for_store(self, name: &str, is_folder: bool) -> NameConflict {
        match self {
            ConflictStrategy::AutoRename => {
                let (prefix, suffix) = names::rename_pattern(name, is_folder);
                NameConflict::AutoRename { prefix, suffix }
            }
            ConflictStrategy::Overwrite if is_folder => NameConflict::ReturnExisting,
            ConflictStrategy::Overwrite => NameConflict::Overwrite,
            ConflictStrategy::ReturnDentryIfExists => NameConflict::ReturnExisting,
            ConflictStrategy::ReturnErrorIfExists => NameConflict::Fail,
        }
    }
}

/// An app property as given in a request.
#[derive(Debug, Clone, Default)]
pub struct AppPropertyInput {
    pub name: Option<String>,
    pub value: Option<String>,
    pub visibility: Option<String>,
}

/// An app property as returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppProperty {
    pub name: String,
    pub value: String,
    pub visibility: String,
}

/// AddFolder input.
#[derive(Debug, Clone, Default)]
pub struct NewFolder {
    pub name: Option<String>,
    pub conflict_strategy: Option<String>,
    pub app_properties: Vec<AppPropertyInput>,
}

/// A file or folder as the API shows it.
#[derive(Debug, Clone)]
pub struct DentryView {
    pub dentry: DentryRecord,
    /// `/a/b/name`; `/` for the root.
    pub path: String,
    /// Visible app properties by owning app id.
    pub app_properties: BTreeMap<String, Vec<AppProperty>>,
}

impl DentryView {
    pub fn extension(&self) -> Option<&str> {
        if self.dentry.is_folder() {
            None
        } else {
            names::split_extension(&self.dentry.name).1
        }
    }

    pub fn category(&self) -> Option<&'static str> {
        (!self.dentry.is_folder()).then(|| names::category(&self.dentry.name))
    }
}

/// Which app properties a read returns.
#[derive(Debug, Clone, Default)]
pub struct PropertyFilter {
    /// Only these owning apps (`appIdsForAppProperties`); empty = all.
    pub app_ids: Vec<String>,
}

/// One item of GetDentries.
#[derive(Debug)]
pub struct DentryResult {
    pub dentry_id: String,
    pub result: Result<DentryView, DriveError>,
}

/// ListDentries input (absent = default).
#[derive(Debug, Clone, Default)]
pub struct ListChildren {
    pub parent_id: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub order: Option<String>,
    pub order_by: Option<String>,
}

/// ListAllDentries input (absent = default).
#[derive(Debug, Clone, Default)]
pub struct ListAll {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub order: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page {
    pub dentries: Vec<DentryView>,
    /// Present when more entries follow.
    pub next_token: Option<String>,
}

/// Validates app properties for the calling app (at most three, unique names).
pub(crate) fn app_property_records(
    app_id: &str,
    inputs: &[AppPropertyInput],
) -> DriveResult<Vec<AppPropertyRecord>> {
    if inputs.len() > MAX_APP_PROPERTIES {
        return Err(DriveError::param(
            "appProperties",
            format!("at most {MAX_APP_PROPERTIES} app properties per app"),
        ));
    }
    let mut records: Vec<AppPropertyRecord> = Vec::with_capacity(inputs.len());
    for input in inputs {
        let name = input.name.as_deref().unwrap_or_default().trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(DriveError::param("name", "app property name must be 1 to 64 characters"));
        }
        let value = input.value.clone().unwrap_or_default();
        if value.chars().count() > 1024 {
            return Err(DriveError::param("value", "app property value is over 1024 characters"));
        }
        let visibility = match input.visibility.as_deref().map(str::to_ascii_uppercase) {
            None => "PRIVATE".to_string(),
            Some(v) if v == "PUBLIC" || v == "PRIVATE" => v,
            Some(other) => {
                return Err(DriveError::param(
                    "visibility",
                    format!("visibility must be PUBLIC or PRIVATE, not {other}"),
                ))
            }
        };
        if records.iter().any(|r| r.name == name) {
            return Err(DriveError::param("appProperties", format!("duplicate property {name}")));
        }
        records.push(AppPropertyRecord {
            dentry_id: String::new(),
            app_id: app_id.to_string(),
            name: name.to_string(),
            value,
            visibility,
        });
    }
    Ok(records)
}

impl Drive {
    /// The space, if it is visible to `op` (its org's). Every operation then
    /// asks the policy ([`Drive::authorize`]) about its target.
    pub(crate) async fn space_for(
        &self,
        op: &Operator,
        space_id: &str,
    ) -> DriveResult<SpaceRecord> {
        let space = self.space_record(space_id).await?;
        self.visible_space(op, &space)?;
        Ok(space)
    }

    /// A new dentry record owned by `op`.
    pub(crate) fn new_dentry(
        &self,
        op: &Operator,
        space_id: &str,
        parent_id: &str,
        name: &str,
        kind: &str,
    ) -> DentryRecord {
        let now = now_ms();
        DentryRecord {
            dentry_id: self.ids.next(),
            uuid: crate::ids::new_uuid(),
            space_id: space_id.to_string(),
            parent_id: parent_id.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            size: 0,
            version: 1,
            status: "NORMAL".to_string(),
            blob_key: None,
            creator_id: op.user.union_id.clone(),
            modifier_id: op.user.union_id.clone(),
            created_at: now,
            modified_at: now,
            app_properties: Vec::new(),
        }
    }

    /// AddFolder.
    pub async fn add_folder(
        &self,
        op: &Operator,
        space_id: &str,
        parent_id: &str,
        input: NewFolder,
    ) -> DriveResult<DentryView> {
        let name = names::dentry_name("name", input.name.as_deref().unwrap_or_default())?;
        let strategy = ConflictStrategy::parse(input.conflict_strategy.as_deref())?;
        let properties = app_property_records(&op.app.app_id, &input.app_properties)?;
        let space = self.space_for(op, space_id).await?;
        let parent = Place::Folder { folder_id: parent_id, field: "parentId" };
        self.authorize(op, &space, parent, Operation::AddFolder).await?;
        self.check_placement(&space.space_id, parent_id, &name).await?;
        let folder = self.new_dentry(op, &space.space_id, parent_id, &name, "FOLDER");
        let put = PutDentry {
            overwrite_dentry_id: None,
            conflict: strategy.for_store(&name, true),
            dentry: folder,
            corp_id: space.corp_id.clone(),
            upload_key: None,
            upload_objects: Vec::new(),
            app_properties: properties,
        };
        let stored = match self.meta.put_dentry(&put).await {
            Ok(PutOutcome::Created(d) | PutOutcome::Existing(d) | PutOutcome::Overwritten(d)) => d,
            Err(e) => return Err(put_dentry_error(e, space_id, parent_id)),
        };
        self.stored_view(op, stored).await
    }

    /// The view of a dentry just written, as the store read it back in the
    /// writing transaction (with its app properties).
    pub(crate) async fn stored_view(
        &self,
        op: &Operator,
        stored: DentryRecord,
    ) -> DriveResult<DentryView> {
        self.view(op, stored, &PropertyFilter::default()).await
    }

    /// GetDentry; `0` is the space root.
    pub async fn get_dentry(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        filter: &PropertyFilter,
    ) -> DriveResult<DentryView> {
        let space = self.space_for(op, space_id).await?;
        if dentry_id == ROOT_ID {
            self.authorize(op, &space, Place::Root, Operation::GetDentry).await?;
            return Ok(root_view(&space));
        }
        let dentry = self.live_dentry(&space.space_id, dentry_id, "dentryId").await?;
        self.authorize(op, &space, Place::Dentry(&dentry), Operation::GetDentry).await?;
        self.view(op, dentry, filter).await
    }

    /// GetDentry answered as `encode` turns the view into bytes, from the
    /// reply cache when nothing was written since the same answer was
    /// encoded (see `cache`); the caller is authorized on every call.
    pub async fn get_dentry_encoded(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        filter: &PropertyFilter,
        encode: impl FnOnce(DentryView) -> DriveResult<Bytes>,
    ) -> DriveResult<Bytes> {
        let versions = self.reply_versions();
        let space = self.space_for(op, space_id).await?;
        if dentry_id == ROOT_ID {
            self.authorize(op, &space, Place::Root, Operation::GetDentry).await?;
            return encode(root_view(&space));
        }
        // The filter's ids as a set: order and repeats change no answer.
        let wanted: std::collections::BTreeSet<&str> =
            filter.app_ids.iter().map(String::as_str).collect();
        let mut key = vec!["dentry", &space.space_id, dentry_id, &op.app.app_id];
        key.extend(wanted);
        let cached = versions.map(|v| self.cache.reply(&key, v));
        if let Some(CachedRead::Hit(hit)) = &cached {
            if let Some(dentry) = &hit.dentry {
                self.authorize(op, &space, Place::Dentry(dentry), Operation::GetDentry).await?;
                return Ok(hit.body.clone());
            }
        }
        let dentry = self.live_dentry(&space.space_id, dentry_id, "dentryId").await?;
        self.authorize(op, &space, Place::Dentry(&dentry), Operation::GetDentry).await?;
        let kept = cached.is_some().then(|| dentry.clone());
        let body = encode(self.view(op, dentry, filter).await?)?;
        if let Some(CachedRead::Miss(miss)) = cached {
            self.cache.remember_reply(miss, kept, body.clone());
        }
        Ok(body)
    }

    /// What a reply computed from now on is read under; `None` where
    /// nothing may be cached (other nodes write the store). Taken before
    /// anything the reply depends on is read.
    fn reply_versions(&self) -> Option<ReplyVersions> {
        Some(self.cache.reply_versions(self.meta.write_generation()?))
    }

    /// GetDentries: one result per requested id, in request order.
    pub async fn get_dentries(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_ids: &[String],
        filter: &PropertyFilter,
    ) -> DriveResult<Vec<DentryResult>> {
        check_ids("dentryIds", dentry_ids, MAX_BATCH_IDS)?;
        let space = self.space_for(op, space_id).await?;
        let found = self.meta.get_dentries(&space.space_id, dentry_ids).await?;
        // Each id is checked on its own: one without access answers its own
        // refusal, the others their dentries.
        let mut refused: HashSet<String> = HashSet::new();
        let mut live: Vec<DentryRecord> = Vec::with_capacity(found.len());
        for dentry in found.into_iter().filter(|d| d.status == "NORMAL") {
            let target = Place::Dentry(&dentry);
            match self.authorize(op, &space, target, Operation::GetDentries).await {
                Ok(_) => live.push(dentry),
                Err(DriveError::PermissionDenied(_)) => {
                    refused.insert(dentry.dentry_id.clone());
                }
                Err(e) => return Err(e),
            }
        }
        let root = if dentry_ids.iter().any(|id| id == ROOT_ID) {
            Some(
                self.authorize(op, &space, Place::Root, Operation::GetDentries)
                    .await
                    .map(|_| root_view(&space)),
            )
        } else {
            None
        };
        let views = self.views(op, live, filter).await?;
        let by_id: HashMap<String, DentryView> =
            views.into_iter().map(|v| (v.dentry.dentry_id.clone(), v)).collect();
        Ok(dentry_ids
            .iter()
            .map(|id| {
                let result = if id == ROOT_ID {
                    match &root {
                        Some(Ok(view)) => Ok(view.clone()),
                        _ => Err(refusal(op, id)),
                    }
                } else if refused.contains(id) {
                    Err(refusal(op, id))
                } else {
                    by_id.get(id).cloned().ok_or_else(|| unknown_dentry("dentryId", id))
                };
                DentryResult { dentry_id: id.clone(), result }
            })
            .collect())
    }

    /// ListDentries: one page of a folder's live children.
    pub async fn list_dentries(
        &self,
        op: &Operator,
        space_id: &str,
        input: ListChildren,
    ) -> DriveResult<Page> {
        let listing = self.children_listing(op, space_id, input).await?;
        self.children_page(op, listing).await
    }

    /// ListDentries answered as `encode` turns the page into bytes, from the
    /// reply cache when nothing was written since the same page was encoded
    /// (see `cache`); the caller is authorized on every call.
    pub async fn list_dentries_encoded(
        &self,
        op: &Operator,
        space_id: &str,
        input: ListChildren,
        encode: impl FnOnce(Page) -> DriveResult<Bytes>,
    ) -> DriveResult<Bytes> {
        let versions = self.reply_versions();
        let listing = self.children_listing(op, space_id, input).await?;
        let limit = listing.limit.to_string();
        let key = [
            "children",
            &listing.space_id,
            &listing.parent_id,
            &op.app.app_id,
            &listing.scope,
            &limit,
            listing.token.as_deref().unwrap_or_default(),
        ];
        let cached = versions.map(|v| self.cache.reply(&key, v));
        if let Some(CachedRead::Hit(hit)) = &cached {
            return Ok(hit.body.clone());
        }
        let body = encode(self.children_page(op, listing).await?)?;
        if let Some(CachedRead::Miss(miss)) = cached {
            self.cache.remember_reply(miss, None, body.clone());
        }
        Ok(body)
    }

    /// ListDentries' input checked, its caller authorized and its folder
    /// found: everything but the page itself.
    async fn children_listing(
        &self,
        op: &Operator,
        space_id: &str,
        input: ListChildren,
    ) -> DriveResult<ChildrenListing> {
        let parent_id = input
            .parent_id
            .filter(|p| !p.is_empty())
            .ok_or_else(|| DriveError::param("parentId", "parentId is required"))?;
        let key = match input.order_by.as_deref().map(str::to_ascii_uppercase).as_deref() {
            None | Some("MODIFIED_TIME") => SortKey::ModifiedTime,
            Some("CREATE_TIME") => SortKey::CreateTime,
            Some("NAME") => SortKey::Name,
            Some("SIZE") => SortKey::Size,
            Some(other) => {
                return Err(DriveError::param(
                    "orderBy",
                    format!(
                        "orderBy must be MODIFIED_TIME, CREATE_TIME, NAME or SIZE, not {other}"
                    ),
                ))
            }
        };
        let descending = parse_order(input.order.as_deref(), true)?;
        let limit = page_size(input.max_results)?;
        let scope = format!("{parent_id}:{key:?}:{descending}");
        let after = input.next_token.as_deref().map(|t| decode_token(t, &scope)).transpose()?;
        let space = self.space_for(op, space_id).await?;
        let parent = Place::Folder { folder_id: &parent_id, field: "parentId" };
        self.authorize(op, &space, parent, Operation::ListDentries).await?;
        let mut paths = FolderPaths::default();
        if paths.path(self, &space.space_id, &parent_id).await?.is_none() {
            return Err(unknown_dentry("parentId", &parent_id));
        }
        Ok(ChildrenListing {
            space_id: space.space_id,
            parent_id,
            key,
            descending,
            limit,
            scope,
            token: input.next_token,
            after,
            paths,
        })
    }

    async fn children_page(&self, op: &Operator, listing: ChildrenListing) -> DriveResult<Page> {
        let ChildrenListing {
            space_id,
            parent_id,
            key,
            descending,
            limit,
            scope,
            after,
            paths,
            ..
        } = listing;
        let mut rows = self
            .meta
            .list_children(&space_id, &parent_id, key, descending, after.as_ref(), limit + 1)
            .await?;
        let next_token = next_token(&mut rows, limit, &scope, |d| key.value_of(d));
        let dentries = self.views_with(op, rows, &PropertyFilter::default(), paths).await?;
        Ok(Page { dentries, next_token })
    }

    /// ListAllDentries: one page of every live dentry of the space, by modified time.
    pub async fn list_all_dentries(
        &self,
        op: &Operator,
        space_id: &str,
        input: ListAll,
    ) -> DriveResult<Page> {
        let descending = parse_order(input.order.as_deref(), false)?;
        let limit = page_size(input.max_results)?;
        let scope = format!("*:{descending}");
        let after = input.next_token.as_deref().map(|t| decode_token(t, &scope)).transpose()?;
        let space = self.space_for(op, space_id).await?;
        self.authorize(op, &space, Place::Root, Operation::ListAllDentries).await?;
        let mut rows =
            self.meta.list_space(&space.space_id, descending, after.as_ref(), limit + 1).await?;
        let next_token =
            next_token(&mut rows, limit, &scope, |d| SortKey::ModifiedTime.value_of(d));
        let dentries = self.views(op, rows, &PropertyFilter::default()).await?;
        Ok(Page { dentries, next_token })
    }

    /// A live dentry of the space; errors name `field`.
    pub(crate) async fn live_dentry(
        &self,
        space_id: &str,
        dentry_id: &str,
        field: &'static str,
    ) -> DriveResult<DentryRecord> {
        match self.meta.get_dentry(space_id, dentry_id).await? {
            Some(d) if d.status == "NORMAL" => Ok(d),
            _ => Err(unknown_dentry(field, dentry_id)),
        }
    }

    pub(crate) async fn view(
        &self,
        op: &Operator,
        dentry: DentryRecord,
        filter: &PropertyFilter,
    ) -> DriveResult<DentryView> {
        let mut views = self.views(op, vec![dentry], filter).await?;
        views.pop().ok_or_else(|| DriveError::Internal("view of nothing".into()))
    }

    /// Views with paths and visible app properties, computing each parent's path once.
    pub(crate) async fn views(
        &self,
        op: &Operator,
        dentries: Vec<DentryRecord>,
        filter: &PropertyFilter,
    ) -> DriveResult<Vec<DentryView>> {
        self.views_with(op, dentries, filter, FolderPaths::default()).await
    }

    /// [`Drive::views`] reusing folder paths already looked up.
    async fn views_with(
        &self,
        op: &Operator,
        dentries: Vec<DentryRecord>,
        filter: &PropertyFilter,
        mut paths: FolderPaths,
    ) -> DriveResult<Vec<DentryView>> {
        let mut views = Vec::with_capacity(dentries.len());
        for mut dentry in dentries {
            let folder = paths.path(self, &dentry.space_id, &dentry.parent_id).await?;
            let path = format!("{}/{}", folder.unwrap_or_default(), dentry.name);
            let mut app_properties: BTreeMap<String, Vec<AppProperty>> = BTreeMap::new();
            for p in std::mem::take(&mut dentry.app_properties) {
                let visible = p.app_id == op.app.app_id || p.visibility == "PUBLIC";
                let wanted = filter.app_ids.is_empty() || filter.app_ids.contains(&p.app_id);
                if visible && wanted {
                    app_properties.entry(p.app_id).or_default().push(AppProperty {
                        name: p.name,
                        value: p.value,
                        visibility: p.visibility,
                    });
                }
            }
            views.push(DentryView { dentry, path, app_properties });
        }
        Ok(views)
    }
}

/// A ListDentries request checked and authorized, its page not yet read.
struct ChildrenListing {
    space_id: String,
    parent_id: String,
    key: SortKey,
    descending: bool,
    limit: u32,
    /// What the page token is bound to (folder, sort key, direction).
    scope: String,
    /// The request's page token, as sent (part of the reply's cache key).
    token: Option<String>,
    after: Option<Cursor>,
    paths: FolderPaths,
}

/// Paths of folders (`/a/b`, `""` for the root), looked up once per request.
#[derive(Default)]
struct FolderPaths(HashMap<(String, String), Option<String>>);

impl FolderPaths {
    /// The folder's path, or `None` if it is not a live folder of the space.
    async fn path(
        &mut self,
        drive: &Drive,
        space_id: &str,
        folder_id: &str,
    ) -> DriveResult<Option<String>> {
        let key = (space_id.to_string(), folder_id.to_string());
        if let Some(known) = self.0.get(&key) {
            return Ok(known.clone());
        }
        let path = drive.folder_path(space_id, folder_id).await?;
        self.0.insert(key, path.clone());
        Ok(path)
    }
}

impl Drive {
    /// The folder's path (`/a/b`, `""` for the root) through the chain
    /// cache; `None` if it is not a live folder of the space.
    pub(crate) async fn folder_path(
        &self,
        space_id: &str,
        folder_id: &str,
    ) -> DriveResult<Option<String>> {
        Ok(self.folder_chain(space_id, folder_id).await?.map(|c| c.path.clone()))
    }

    /// The folder's chain from the root, through the chain cache; `None`
    /// if it is not a live folder of the space.
    pub(crate) async fn folder_chain(
        &self,
        space_id: &str,
        folder_id: &str,
    ) -> DriveResult<Option<Arc<FolderChain>>> {
        let key = (space_id.to_string(), folder_id.to_string());
        if let Some(chain) = self.cache.folder_chains.get(&key) {
            return Ok(Some(chain));
        }
        let version = self.cache.tree_version();
        let Some(links) = self.meta.folder_chain(space_id, folder_id).await? else {
            return Ok(None);
        };
        let chain = Arc::new(FolderChain {
            path: links.iter().map(|l| format!("/{}", l.name)).collect(),
            ids: links.into_iter().map(|l| l.dentry_id).collect(),
        });
        self.cache.remember_chain(key, Arc::clone(&chain), version);
        Ok(Some(chain))
    }

    /// Refuses a new dentry past the depth or path-length limit. An unknown
    /// parent passes here: the store's transaction reports it.
    pub(crate) async fn check_placement(
        &self,
        space_id: &str,
        parent_id: &str,
        name: &str,
    ) -> DriveResult<()> {
        match self.folder_path(space_id, parent_id).await? {
            Some(parent_path) => names::check_placement(&parent_path, name),
            None => Ok(()),
        }
    }
}

/// Maps store refusals of a put to API errors.
/// The error of a refused `put_dentry` in space `space_id`: as
/// [`put_error`], and a space that went meanwhile (deleted, or its org
/// reset) is `paramError.spaceId`.
pub(crate) fn put_dentry_error(e: StoreError, space_id: &str, parent_id: &str) -> DriveError {
    match e {
        StoreError::NotFound => crate::auth::unknown_space(space_id),
        other => put_error(other, parent_id),
    }
}

/// What an upload key that is not open for the caller's app is answered
/// (CommitFile's put, and `transfer::own_upload`).
pub(crate) const UNKNOWN_UPLOAD_KEY: &str = "uploadKey is unknown, expired or already committed";

pub(crate) fn put_error(e: StoreError, parent_id: &str) -> DriveError {
    match e {
        StoreError::ParentNotFound => unknown_dentry("parentId", parent_id),
        StoreError::NameTaken(existing) => DriveError::param(
            "name",
            format!("{} {} already exists", existing.kind.to_lowercase(), existing.name),
        ),
        StoreError::QuotaExceeded { space: true } => {
            DriveError::QuotaExceeded("the space quota would be exceeded".into())
        }
        StoreError::QuotaExceeded { space: false } => {
            DriveError::QuotaExceeded("the organization capacity would be exceeded".into())
        }
        StoreError::UploadNotFound => DriveError::param("uploadKey", UNKNOWN_UPLOAD_KEY),
        other => other.into(),
    }
}

fn root_view(space: &SpaceRecord) -> DentryView {
    DentryView {
        dentry: DentryRecord {
            dentry_id: ROOT_ID.to_string(),
            uuid: format!("root-{}", space.space_id),
            space_id: space.space_id.clone(),
            parent_id: String::new(),
            kind: "FOLDER".to_string(),
            name: String::new(),
            size: 0,
            version: 1,
            status: "NORMAL".to_string(),
            blob_key: None,
            creator_id: space.creator_id.clone(),
            modifier_id: space.modifier_id.clone(),
            created_at: space.created_at,
            modified_at: space.modified_at,
            app_properties: Vec::new(),
        },
        path: "/".to_string(),
        app_properties: BTreeMap::new(),
    }
}

fn parse_order(raw: Option<&str>, default_descending: bool) -> DriveResult<bool> {
    match raw.map(str::to_ascii_uppercase).as_deref() {
        None => Ok(default_descending),
        Some("DESC") => Ok(true),
        Some("ASC") => Ok(false),
        Some(other) => {
            Err(DriveError::param("order", format!("order must be ASC or DESC, not {other}")))
        }
    }
}

/// `maxResults`: default and cap 50 (larger values are clamped); must be positive.
fn page_size(raw: Option<i64>) -> DriveResult<u32> {
    match raw {
        None => Ok(MAX_PAGE as u32),
        Some(n) if n >= 1 => Ok(n.min(MAX_PAGE) as u32),
        Some(_) => Err(DriveError::param("maxResults", "maxResults must be at least 1")),
    }
}

/// Trims the look-ahead row and returns the token for the next page, if any.
fn next_token(
    rows: &mut Vec<DentryRecord>,
    limit: u32,
    scope: &str,
    value: impl Fn(&DentryRecord) -> CursorValue,
) -> Option<String> {
    if rows.len() <= limit as usize {
        return None;
    }
    rows.truncate(limit as usize);
    let last = rows.last()?;
    Some(encode_token(scope, &Cursor { value: value(last), dentry_id: last.dentry_id.clone() }))
}

/// `nextToken`: hex of `scope \n id \n kind value`; bound to the listing it came from.
fn encode_token(scope: &str, cursor: &Cursor) -> String {
    let value = match &cursor.value {
        CursorValue::Int(v) => format!("i{v}"),
        CursorValue::Text(v) => format!("t{v}"),
    };
    hex::encode(format!("{scope}\n{}\n{value}", cursor.dentry_id))
}

/// The text of a `nextToken` (hex of UTF-8); `None` when it is not one, or
/// holds a NUL: no name or id does, and PostgreSQL refuses one in text (a
/// forged token would be a database error, a 500).
pub(crate) fn token_text(token: &str) -> Option<String> {
    let text = String::from_utf8(hex::decode(token).ok()?).ok()?;
    (!text.contains('\0')).then_some(text)
}

fn decode_token(token: &str, scope: &str) -> DriveResult<Cursor> {
    let invalid = || DriveError::param("nextToken", "nextToken is not from this listing");
    let text = token_text(token).ok_or_else(invalid)?;
    let mut parts = text.splitn(3, '\n');
    let (Some(s), Some(id), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if s != scope {
        return Err(invalid());
    }
    let value = match value.split_at_checked(1) {
        Some(("i", v)) => CursorValue::Int(v.parse().map_err(|_| invalid())?),
        Some(("t", v)) => CursorValue::Text(v.to_string()),
        _ => return Err(invalid()),
    };
    Ok(Cursor { value, dentry_id: id.to_string() })
}

/// A batch item's refusal by the policy: the same words for every refused id
/// (within the org, a refusal still tells that the id exists, as the single
/// operations' 403 does; other orgs never get this far).
fn refusal(op: &Operator, dentry_id: &str) -> DriveError {
    DriveError::PermissionDenied(format!("{} may not read {dentry_id}", op.user.union_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_are_bound_to_their_listing() {
        let cursor = Cursor { value: CursorValue::Text("a\nb".into()), dentry_id: "42".into() };
        let token = encode_token("0:Name:false", &cursor);
        assert_eq!(decode_token(&token, "0:Name:false").unwrap(), cursor);
        assert!(decode_token(&token, "0:Name:true").is_err());
        assert!(decode_token("zz", "0:Name:false").is_err());
        for forged in [
            Cursor { value: CursorValue::Text("a\0b".into()), dentry_id: "42".into() },
            Cursor { value: CursorValue::Text("a".into()), dentry_id: "4\0".into() },
        ] {
            let token = encode_token("0:Name:false", &forged);
            assert!(decode_token(&token, "0:Name:false").is_err(), "{forged:?}");
        }
        let int = Cursor { value: CursorValue::Int(-5), dentry_id: "1".into() };
        assert_eq!(decode_token(&encode_token("s", &int), "s").unwrap(), int);
    }

    #[test]
    fn page_size_is_clamped_and_positive() {
        assert_eq!(page_size(None).unwrap(), 50);
        assert_eq!(page_size(Some(7)).unwrap(), 7);
        assert_eq!(page_size(Some(500)).unwrap(), 50);
        assert!(page_size(Some(0)).is_err());
    }

    #[test]
    fn strategies_parse_case_insensitively() {
        assert_eq!(ConflictStrategy::parse(None).unwrap(), ConflictStrategy::AutoRename);
        assert_eq!(
            ConflictStrategy::parse(Some("overwrite")).unwrap(),
            ConflictStrategy::Overwrite
        );
        assert!(ConflictStrategy::parse(Some("REPLACE")).is_err());
    }
}
