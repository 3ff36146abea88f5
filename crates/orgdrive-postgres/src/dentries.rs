//! Files, folders and versions: reads, keyset pages, and `put_dentry` (the
//! one way a dentry is created or given new content, CommitFile's and a
//! WOPI save's alike) with its event.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_postgres::types::ToSql;

use orgdrive_store::{
    AppPropertyRecord, Cursor, CursorValue, DentryRecord, DentryStore, EventRecord, EventType,
    FolderLink, NameConflict, PutDentry, PutOutcome, SortKey, StoreError, StoreResult,
    VersionRecord, MAX_RENAME_COUNTER,
};

use crate::combine::Locks;
use crate::put_batch::{self, PutQueue, Settled};
use crate::rows::*;
use crate::uploads::{claim_upload, settle};
use crate::{all, events, exec, one, read, snapshot, DbResult, PgStore, Tx, ROOT_ID};

/// The folder `$2` of space `$1` and its ancestors, farthest first (see
/// the walks' note in `lifecycle`).
pub(crate) const FOLDER_CHAIN_SQL: &str = concat!(
    "WITH RECURSIVE ",
    ancestor_chain!("$2", "10000"),
    " SELECT dentry_id, parent_id, name, kind, status FROM chain ORDER BY depth DESC"
);

/// The dentries `$2` (an array) of space `$1`, each row joined with one
/// of its app properties (if any).
pub(crate) const DENTRIES_WITH_PROPERTIES_SQL: &str = concat!(
    "SELECT ",
    dentry_columns!("d."),
    ", p.dentry_id, p.app_id, p.name, p.value, p.visibility FROM ",
    dentries_by_id!("= ANY($2)"),
    " d LEFT JOIN app_properties p ON p.dentry_id = d.dentry_id \
     WHERE d.space_id = $1 ORDER BY d.dentry_id, p.app_id, p.name"
);

/// The dentry `$2` of space `$1`, each row joined with one of its app
/// properties (if any).
pub(crate) const DENTRY_WITH_PROPERTIES_SQL: &str = concat!(
    "SELECT ",
    dentry_columns!("d."),
    ", p.dentry_id, p.app_id, p.name, p.value, p.visibility FROM ",
    dentries_by_id!("= $2"),
    " d LEFT JOIN app_properties p ON p.dentry_id = d.dentry_id \
     WHERE d.space_id = $1 ORDER BY p.app_id, p.name"
);

/// A put's parent `$2` in space `$1`, if live, locked `FOR SHARE`: its kind.
pub(crate) const LIVE_PARENT_SQL: &str =
    concat!("SELECT kind FROM ", live_dentries_by_id!("= $2", "$1"), " d FOR SHARE");

/// The live file `$2` of space `$1` a put overwrites, locked `FOR UPDATE`.
pub(crate) const OVERWRITE_TARGET_SQL: &str = concat!(
    "SELECT ",
    dentry_columns!(""),
    " FROM ",
    live_dentries_by_id!("= $2", "$1"),
    " d WHERE kind = 'FILE' FOR UPDATE"
);

#[async_trait]
impl DentryStore for PgStore {
    async fn get_dentry(
        &self,
        space_id: &str,
        dentry_id: &str,
    ) -> StoreResult<Option<DentryRecord>> {
        read!(self, |c| dentry_with_properties(&c, space_id, dentry_id).await?)
    }

    async fn get_dentries(
        &self,
        space_id: &str,
        dentry_ids: &[String],
    ) -> StoreResult<Vec<DentryRecord>> {
        if dentry_ids.is_empty() {
            return Ok(Vec::new());
        }
        // One statement (so one snapshot): the dentries joined with their properties.
        read!(self, |c| {
            dentries_joined(
                &all(&c, DENTRIES_WITH_PROPERTIES_SQL, &[&space_id, &dentry_ids]).await?,
            )?
        })
    }

    async fn folder_chain(
        &self,
        space_id: &str,
        folder_id: &str,
    ) -> StoreResult<Option<Vec<FolderLink>>> {
        if folder_id == ROOT_ID {
            return Ok(Some(Vec::new()));
        }
        let rows = read!(self, |c| all(&c, FOLDER_CHAIN_SQL, &[&space_id, &folder_id]).await?)?;
        let mut links = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let field = |at: usize| -> StoreResult<String> {
                row.try_get(at).map_err(|e| StoreError::Backend(e.to_string()))
            };
            let (parent, kind, status) = (field(1)?, field(3)?, field(4)?);
            if kind != "FOLDER" || status != "NORMAL" || (i == 0 && parent != ROOT_ID) {
                return Ok(None);
            }
            links.push(FolderLink { dentry_id: field(0)?, name: field(2)? });
        }
        Ok((!links.is_empty()).then_some(links))
    }

    async fn list_children(
        &self,
        space_id: &str,
        parent_id: &str,
        key: SortKey,
        descending: bool,
        after: Option<&Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<DentryRecord>> {
        self.page(space_id, Some(parent_id), key, descending, after, limit).await
    }

    async fn list_space(
        &self,
        space_id: &str,
        descending: bool,
        after: Option<&Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<DentryRecord>> {
        self.page(space_id, None, SortKey::ModifiedTime, descending, after, limit).await
    }

    async fn get_version(
        &self,
        dentry_id: &str,
        version: i64,
    ) -> StoreResult<Option<VersionRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            version_columns!(),
            " FROM dentry_versions WHERE dentry_id = $1 AND version = $2"
        );
        read!(self, |c| {
            one(&c, SQL, &[&dentry_id, &version])
                .await?
                .as_ref()
                .map(version_from_row)
                .transpose()?
        })
    }

    async fn put_dentry(&self, put: &PutDentry) -> StoreResult<PutOutcome> {
        if PutQueue::takes(put) {
            if let Settled::Done(outcome) = self.puts.submit(put).await {
                return *outcome;
            }
        }
        self.put_alone(put).await
    }
}

impl PgStore {
    /// Several puts at once, as concurrent [`DentryStore::put_dentry`] calls
    /// are: the folders among them created by one transaction (see
    /// `put_batch`); every other put, and every folder that transaction did
    /// not create, as `put_dentry` runs it alone (its own transaction, or a
    /// savepoint of one shared with its space's writes: `shared_tx`).
    /// Answers in order. The folders' transaction is not counted in the
    /// group-commit figures (only the queue's batches are).
    pub async fn put_dentries(&self, puts: &[PutDentry]) -> Vec<StoreResult<PutOutcome>> {
        let together: Vec<&PutDentry> = puts.iter().filter(|p| PutQueue::takes(p)).collect();
        if together.is_empty() {
            let mut answers = Vec::with_capacity(puts.len());
            for put in puts {
                answers.push(self.put_alone(put).await);
            }
            return answers;
        }
        let mut settled =
            put_batch::write_batch(&self.pool, &together, Locks::Wait).await.into_iter();
        let mut answers = Vec::with_capacity(puts.len());
        for put in puts {
            let batch = if PutQueue::takes(put) { settled.next() } else { None };
            answers.push(match batch {
                Some(Settled::Done(outcome)) => *outcome,
                _ => self.put_alone(put).await,
            });
        }
        answers
    }

    /// One put in a transaction of its own, or sharing one with other
    /// writes of its space (`shared_tx`).
    async fn put_alone(&self, put: &PutDentry) -> StoreResult<PutOutcome> {
        let put = Arc::new(put.clone());
        let spaces = vec![put.dentry.space_id.clone()];
        self.combined(spaces, true, move |t| {
            let put = put.clone();
            Box::pin(async move {
                let (outcome, event) = put_with_event(t, &put).await?;
                Ok((outcome, event.into_iter().collect()))
            })
        })
        .await
    }

    /// A keyset page (children of `parent_id`, or the whole space) and its
    /// dentries' app properties, read from one snapshot.
    async fn page(
        &self,
        space_id: &str,
        parent_id: Option<&str>,
        key: SortKey,
        descending: bool,
        after: Option<&Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<DentryRecord>> {
        let text_key = matches!(key, SortKey::Name);
        if let Some(cursor) = after {
            if matches!(cursor.value, CursorValue::Text(_)) != text_key {
                // A cursor of another key's kind: no page follows it.
                return Ok(Vec::new());
            }
        }
        let sql = keyset_sql(parent_id.is_some(), key, descending, after.is_some());
        let limit = i64::from(limit);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&space_id];
        if let Some(parent) = &parent_id {
            params.push(parent);
        }
        if let Some(cursor) = after {
            match &cursor.value {
                CursorValue::Int(v) => params.push(v),
                CursorValue::Text(v) => params.push(v),
            }
            params.push(&cursor.dentry_id);
        }
        params.push(&limit);
        snapshot!(self, |t| {
            let mut dentries = all(&t, &sql, &params)
                .await?
                .iter()
                .map(dentry_from_row)
                .collect::<DbResult<Vec<_>>>()?;
            attach_properties(&t, &mut dentries).await?;
            dentries
        })
    }
}

fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::ModifiedTime => "modified_at",
        SortKey::CreateTime => "created_at",
        SortKey::Name => "name",
        SortKey::Size => "size",
    }
}

/// Whether the key alone orders a page: names are unique among a folder's
/// live entries (`dentries_live_name`), so a folder's name pages order by
/// the name only, along that unique index (the same order as (name,
/// dentry_id)). The cursor stays a (name, dentry_id) position: an entry
/// that took the cursor's name meanwhile comes after it if its id does.
fn key_is_unique(in_folder: bool, key: SortKey) -> bool {
    in_folder && matches!(key, SortKey::Name)
}

/// A keyset page's statement: live rows of the folder (`$1` space, `$2`
/// parent) or of the space (`$1`) strictly after the cursor (if any), by
/// (key, dentry_id) in the direction asked — names bytewise (`COLLATE "C"`
/// columns) — from an index of that order (by the key alone when it is
/// unique: [`key_is_unique`]).
pub(crate) fn keyset_sql(
    in_folder: bool,
    key: SortKey,
    descending: bool,
    has_cursor: bool,
) -> String {
    let column = sort_column(key);
    let (filter, next) =
        if in_folder { ("space_id = $1 AND parent_id = $2", 3) } else { ("space_id = $1", 2) };
    let (cmp, dir) = if descending { ("<", "DESC") } else { (">", "ASC") };
    let unique = key_is_unique(in_folder, key);
    let (after, limit) = if has_cursor {
        (format!(" AND ({column}, dentry_id) {cmp} (${next}, ${})", next + 1), next + 2)
    } else {
        (String::new(), next)
    };
    let order =
        if unique { format!("{column} {dir}") } else { format!("{column} {dir}, dentry_id {dir}") };
    format!(
        "SELECT {} FROM dentries WHERE {filter} AND status = 'NORMAL'{after} \
         ORDER BY {order} LIMIT ${limit}",
        dentry_columns!("")
    )
}

/// The dentry with every app's properties, in one statement.
pub(crate) async fn dentry_with_properties<C: deadpool_postgres::GenericClient>(
    c: &C,
    space_id: &str,
    dentry_id: &str,
) -> DbResult<Option<DentryRecord>> {
    Ok(dentries_joined(&all(c, DENTRY_WITH_PROPERTIES_SQL, &[&space_id, &dentry_id]).await?)?.pop())
}

/// Gives each dentry of `page` its app properties, with one statement.
async fn attach_properties(t: &Tx<'_>, page: &mut [DentryRecord]) -> DbResult<()> {
    if page.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = page.iter().map(|d| d.dentry_id.as_str()).collect();
    let rows = all(
        t,
        "SELECT dentry_id, app_id, name, value, visibility FROM app_properties \
         WHERE dentry_id = ANY($1) ORDER BY dentry_id, app_id, name",
        &[&ids],
    )
    .await?;
    let at: std::collections::HashMap<String, usize> =
        page.iter().enumerate().map(|(i, d)| (d.dentry_id.clone(), i)).collect();
    for row in &rows {
        if let Some(property) = property_at(row, 0)? {
            if let Some(&i) = at.get(&property.dentry_id) {
                page[i].app_properties.push(property);
            }
        }
    }
    Ok(())
}

/// [`DentryStore::put_dentry`] inside the caller's transaction: puts the
/// dentry (see [`PutDentry`]) and appends its event. Every put goes through
/// here (CommitFile's, AddFolder's, a WOPI save's).
pub(crate) async fn put_dentry_in(t: &Tx<'_>, put: &PutDentry) -> DbResult<PutOutcome> {
    let (outcome, event) = put_with_event(t, put).await?;
    events::append(t, &event.into_iter().collect::<Vec<_>>()).await?;
    Ok(outcome)
}

/// Puts the dentry; answers the outcome and its event to append.
async fn put_with_event(
    t: &Tx<'_>,
    put: &PutDentry,
) -> DbResult<(PutOutcome, Option<EventRecord>)> {
    let outcome = place_dentry(t, put).await?;
    let (event_type, dentry) = match &outcome {
        PutOutcome::Created(d) => (EventType::DentryCreated, d),
        PutOutcome::Overwritten(d) => (EventType::VersionAdded, d),
        PutOutcome::Existing(_) => return Ok((outcome, None)),
    };
    let (operator, at) = (&put.dentry.modifier_id, put.dentry.modified_at);
    let event = EventRecord::of_dentry(event_type, &put.corp_id, dentry, operator, at);
    Ok((outcome, Some(event)))
}

async fn place_dentry(t: &Tx<'_>, put: &PutDentry) -> DbResult<PutOutcome> {
    let new = &put.dentry;
    // Puts of a space never interleave with its tree changes, which lock the
    // row FOR UPDATE (see the crate doc). Folder puts do not wait for each
    // other here. A file put updates the row later (its bytes, a kept
    // version's trigger), so it takes that lock now, before any dentry: a
    // batch's renames and moves, which hold the row so, never wait for a
    // file it holds while it waits for the row.
    let lock = match new.is_folder() {
        true => "SELECT 1 FROM spaces WHERE space_id = $1 FOR KEY SHARE",
        false => "SELECT 1 FROM spaces WHERE space_id = $1 FOR NO KEY UPDATE",
    };
    let space = one(t, lock, &[&new.space_id]).await?;
    if space.is_none() {
        return Err(StoreError::NotFound.into());
    }
    let held = match &put.upload_key {
        Some(key) => claim_upload(t, key, &put.upload_objects).await?,
        None => 0,
    };
    if let Some(target) = &put.overwrite_dentry_id {
        let existing = one(t, OVERWRITE_TARGET_SQL, &[&new.space_id, target])
            .await?
            .as_ref()
            .map(dentry_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        let updated = overwrite(t, &existing, new).await?;
        settle(t, &new.space_id, &put.corp_id, held, new.size).await?;
        set_app_properties(t, &updated.dentry_id, &put.app_properties).await?;
        return Ok(PutOutcome::Overwritten(reread(t, &updated).await?));
    }
    if new.parent_id != ROOT_ID {
        // Locked so that it stays a live folder until this commits.
        let parent = one(t, LIVE_PARENT_SQL, &[&new.space_id, &new.parent_id]).await?;
        let kind: Option<String> = parent.map(|r| r.try_get(0)).transpose()?;
        if kind.as_deref() != Some("FOLDER") {
            return Err(StoreError::ParentNotFound.into());
        }
    }

    let stored = if insert_dentry(t, new, &new.name).await? {
        PutOutcome::Created(new.clone())
    } else {
        let lock = !matches!(put.conflict, NameConflict::ReturnExisting);
        let existing = live_child(t, new, &new.name, lock)
            .await?
            .ok_or_else(|| StoreError::Backend("the live sibling vanished".into()))?;
        match &put.conflict {
            NameConflict::Fail => return Err(StoreError::NameTaken(Box::new(existing)).into()),
            NameConflict::ReturnExisting => {
                settle(t, &new.space_id, &put.corp_id, held, 0).await?;
                return Ok(PutOutcome::Existing(reread(t, &existing).await?));
            }
            NameConflict::Overwrite => {
                if existing.is_folder() || new.is_folder() {
                    return Err(StoreError::NameTaken(Box::new(existing)).into());
                }
                PutOutcome::Overwritten(overwrite(t, &existing, new).await?)
            }
            NameConflict::AutoRename { prefix, suffix } => {
                PutOutcome::Created(auto_rename(t, new, prefix, suffix).await?)
            }
        }
    };
    let (PutOutcome::Created(dentry) | PutOutcome::Overwritten(dentry)) = &stored else {
        unreachable!("ReturnExisting returned above")
    };
    let charged = if dentry.is_folder() { 0 } else { new.size };
    settle(t, &new.space_id, &put.corp_id, held, charged).await?;
    set_app_properties(t, &dentry.dentry_id, &put.app_properties).await?;
    // The answer is read in the transaction: a concurrent commit to the
    // same file cannot lend it its version.
    Ok(match stored {
        PutOutcome::Created(d) => PutOutcome::Created(reread(t, &d).await?),
        PutOutcome::Overwritten(d) => PutOutcome::Overwritten(reread(t, &d).await?),
        existing => existing,
    })
}

/// Upserts app properties on the dentry (by app and name).
pub(crate) async fn set_app_properties(
    t: &Tx<'_>,
    dentry_id: &str,
    properties: &[AppPropertyRecord],
) -> DbResult<()> {
    for p in properties {
        exec(
            t,
            "INSERT INTO app_properties (dentry_id, app_id, name, value, visibility) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dentry_id, app_id, name) \
             DO UPDATE SET value = excluded.value, visibility = excluded.visibility",
            &[&dentry_id, &p.app_id, &p.name, &p.value, &p.visibility],
        )
        .await?;
    }
    Ok(())
}

/// Inserts the dentry under `name`; false if a live sibling already has it
/// (the unique index on live names decides, after a racing insert of the
/// name has committed or rolled back). Other keys (id, uuid) fail with
/// `Duplicate(Key::DentryId)`.
pub(crate) async fn insert_dentry(t: &Tx<'_>, d: &DentryRecord, name: &str) -> DbResult<bool> {
    const SQL: &str = concat!(
        "INSERT INTO dentries (",
        dentry_columns!(""),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (space_id, parent_id, name) WHERE status = 'NORMAL' DO NOTHING"
    );
    let done = exec(
        t,
        SQL,
        &[
            &d.dentry_id,
            &d.uuid,
            &d.space_id,
            &d.parent_id,
            &d.kind,
            &name,
            &d.size,
            &d.version,
            &d.status,
            &d.blob_key,
            &d.creator_id,
            &d.modifier_id,
            &d.created_at,
            &d.modified_at,
        ],
    )
    .await?;
    Ok(done == 1)
}

/// The live child of `d`'s parent named `name`, if any; locked `FOR UPDATE`
/// when `lock` (it is about to change: its content as it is when the lock
/// is granted is what the caller sees).
pub(crate) async fn live_child(
    t: &Tx<'_>,
    d: &DentryRecord,
    name: &str,
    lock: bool,
) -> DbResult<Option<DentryRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        dentry_columns!(""),
        " FROM dentries WHERE space_id = $1 AND parent_id = $2 AND name = $3 \
         AND status = 'NORMAL'"
    );
    const LOCKED: &str = concat!(
        "SELECT ",
        dentry_columns!(""),
        " FROM dentries WHERE space_id = $1 AND parent_id = $2 AND name = $3 \
         AND status = 'NORMAL' FOR UPDATE"
    );
    let sql = if lock { LOCKED } else { SQL };
    one(t, sql, &[&d.space_id, &d.parent_id, &name])
        .await?
        .as_ref()
        .map(dentry_from_row)
        .transpose()
}

/// Whether a live sibling of `d` is named `name`: one probe of the unique
/// index on live names.
pub(crate) async fn name_taken(t: &Tx<'_>, d: &DentryRecord, name: &str) -> DbResult<bool> {
    let found = one(
        t,
        "SELECT 1 FROM dentries WHERE space_id = $1 AND parent_id = $2 AND name = $3 \
         AND status = 'NORMAL'",
        &[&d.space_id, &d.parent_id, &name],
    )
    .await?;
    Ok(found.is_some())
}

/// The dentry as stored now, with every app's properties.
pub(crate) async fn reread(t: &Tx<'_>, d: &DentryRecord) -> DbResult<DentryRecord> {
    dentry_with_properties(t, &d.space_id, &d.dentry_id)
        .await?
        .ok_or_else(|| StoreError::Backend("a dentry vanished".into()).into())
}

/// Inserts under a free `prefix{k}suffix` ([`free_name`]). Racing renames
/// of one name in one folder take turns (a transaction-scoped advisory lock
/// on the folder and the pattern), so each finds the others' names taken
/// instead of colliding on them; the insert itself is still guarded by the
/// unique index: should the name be taken meanwhile (by a put of that very
/// name), the search starts again.
async fn auto_rename(
    t: &Tx<'_>,
    d: &DentryRecord,
    prefix: &str,
    suffix: &str,
) -> DbResult<DentryRecord> {
    let pattern = format!("{}/{}/{prefix}/{suffix}", d.space_id, d.parent_id);
    exec(t, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &[&pattern]).await?;
    for _ in 0..3 {
        let Some(candidate) = free_name(t, d, prefix, suffix).await? else { break };
        if insert_dentry(t, d, &candidate).await? {
            return Ok(DentryRecord { name: candidate, ..d.clone() });
        }
    }
    Err(StoreError::NameTaken(Box::new(d.clone())).into())
}

/// A free `prefix{k}suffix` among the live children of `d`'s parent, 1 ≤ k
/// ≤ [`MAX_RENAME_COUNTER`], right after a taken one (or k = 1): gallops k
/// = 1, 2, 4, 8, … to the first free probe, then binary-searches between
/// the last taken probe and it — O(log n) probes of the live-name index;
/// when the taken counters are 1..=n (the usual case) that is n + 1. When
/// every probe is taken (someone took 1, 2, 4, … on purpose), the first
/// free counter, found by one statement. `None` when every counter is taken.
pub(crate) async fn free_name(
    t: &Tx<'_>,
    d: &DentryRecord,
    prefix: &str,
    suffix: &str,
) -> DbResult<Option<String>> {
    let name = |k: u32| format!("{prefix}{k}{suffix}");
    // `low` is taken (0 stands for the plain name, taken before we are
    // called); `high` is free.
    let mut low = 0;
    let mut high = 1;
    let mut all_taken = false;
    while name_taken(t, d, &name(high)).await? {
        if high == MAX_RENAME_COUNTER {
            all_taken = true;
            break;
        }
        low = high;
        high = high.saturating_mul(2).min(MAX_RENAME_COUNTER);
    }
    if !all_taken {
        while high - low > 1 {
            let middle = low + (high - low) / 2;
            if name_taken(t, d, &name(middle)).await? {
                low = middle;
            } else {
                high = middle;
            }
        }
        return Ok(Some(name(high)));
    }
    let first_free = one(
        t,
        "SELECT k FROM generate_series(1, $4::BIGINT) AS k WHERE NOT EXISTS \
         (SELECT 1 FROM dentries WHERE space_id = $1 AND parent_id = $2 \
          AND name = $3 || k::TEXT || $5 AND status = 'NORMAL') ORDER BY k LIMIT 1",
        &[&d.space_id, &d.parent_id, &prefix, &i64::from(MAX_RENAME_COUNTER), &suffix],
    )
    .await?;
    Ok(match first_free {
        Some(row) => Some(format!("{prefix}{}{suffix}", row.try_get::<_, i64>(0)?)),
        None => None,
    })
}

/// Keeps `existing`'s content (locked by the caller) as a version and gives
/// it `new`'s content.
pub(crate) async fn overwrite(
    t: &Tx<'_>,
    existing: &DentryRecord,
    new: &DentryRecord,
) -> DbResult<DentryRecord> {
    exec(
        t,
        "INSERT INTO dentry_versions (dentry_id, version, name, size, blob_key, modifier_id, \
         modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &existing.dentry_id,
            &existing.version,
            &existing.name,
            &existing.size,
            &existing.blob_key,
            &existing.modifier_id,
            &existing.modified_at,
        ],
    )
    .await?;
    let updated = DentryRecord {
        size: new.size,
        blob_key: new.blob_key.clone(),
        version: existing.version + 1,
        modifier_id: new.modifier_id.clone(),
        modified_at: new.modified_at,
        ..existing.clone()
    };
    exec(
        t,
        "UPDATE dentries SET size = $1, blob_key = $2, version = $3, modifier_id = $4, \
         modified_at = $5 WHERE dentry_id = $6",
        &[
            &updated.size,
            &updated.blob_key,
            &updated.version,
            &updated.modifier_id,
            &updated.modified_at,
            &updated.dentry_id,
        ],
    )
    .await?;
    Ok(updated)
}
