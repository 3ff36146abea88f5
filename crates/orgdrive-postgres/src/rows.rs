//! Rows to records: the column lists of the shared tables, as macros so
//! that statements stay `&'static str` (the prepared-statement cache is
//! keyed by the text), and the conversions of their rows to the contract's
//! records. Every backend row stays in this crate.

use tokio_postgres::Row;

use orgdrive_store::{
    AppPropertyRecord, AppRecord, DentryRecord, DeptRecord, OrgRecord, SpaceRecord, UserRecord,
    VersionRecord,
};

use crate::DbResult;

macro_rules! org_columns {
    () => {
        "corp_id, name, capacity, created_at, modified_at"
    };
}
macro_rules! app_columns {
    ($p:literal) => {
        concat!(
            $p,
            "app_id, ",
            $p,
            "corp_id, ",
            $p,
            "name, ",
            $p,
            "app_key, ",
            $p,
            "secret_salt, ",
            $p,
            "secret_hash, ",
            $p,
            "scopes, ",
            $p,
            "created_at, ",
            $p,
            "modified_at"
        )
    };
}
macro_rules! user_columns {
    ($p:literal) => {
        concat!(
            $p,
            "union_id, ",
            $p,
            "corp_id, ",
            $p,
            "user_id, ",
            $p,
            "name, ",
            $p,
            "org_admin, ",
            $p,
            "created_at"
        )
    };
}
macro_rules! dept_columns {
    () => {
        "dept_id, corp_id, name, parent_id, created_at"
    };
}
macro_rules! space_columns {
    () => {
        "space_id, corp_id, app_id, scene, scene_id, name, owner_type, owner_id, creator_id, \
         modifier_id, quota, used_bytes, status, can_search, can_rename, can_record_recent_file, \
         created_at, modified_at"
    };
}
macro_rules! dentry_columns {
    ($p:literal) => {
        concat!(
            $p,
            "dentry_id, ",
            $p,
            "uuid, ",
            $p,
            "space_id, ",
            $p,
            "parent_id, ",
            $p,
            "kind, ",
            $p,
            "name, ",
            $p,
            "size, ",
            $p,
            "version, ",
            $p,
            "status, ",
            $p,
            "blob_key, ",
            $p,
            "creator_id, ",
            $p,
            "modifier_id, ",
            $p,
            "created_at, ",
            $p,
            "modified_at"
        )
    };
}
macro_rules! version_columns {
    () => {
        "dentry_id, version, name, size, blob_key, modifier_id, modified_at"
    };
}
/// The dentries whose `dentry_id` is `$cond` (`"= $2"`, `"= ANY($2)"`,
/// `"= c.parent_id"`), as a subquery fenced with `OFFSET 0`, for a lookup
/// by id: the planner reaches them through the primary key, and conditions
/// on the space or status are filters outside the fence. As plain
/// conditions (`space_id = $1 AND dentry_id = $2`), the planner may take an
/// index led by `space_id` (`dentries_all_by_modified`), with `dentry_id`
/// checked in it entry by entry: the same estimated cost as the primary key
/// when the statistics count about one row per space (an org of many small
/// spaces), and a scan of the whole space in a large one (2–3 ms per lookup
/// in a space of 40,000 entries; every lookup of a move or rename did it).
/// `tests/postgres.rs` pins the plans.
macro_rules! dentries_by_id {
    ($($cond:literal),+) => {
        concat!("(SELECT * FROM dentries WHERE dentry_id ", $($cond),+, " OFFSET 0)")
    };
}
/// For a `WITH RECURSIVE`: `chain (dentry_id, parent_id, name, kind,
/// status, depth)`, the dentry `$folder` of space `$1` (depth 1) and its
/// ancestors, nearest first, up to the root or `$bound` rows; each step one
/// probe of the primary key ([`dentries_by_id`]).
macro_rules! ancestor_chain {
    ($folder:literal, $bound:literal) => {
        concat!(
            "chain (dentry_id, parent_id, name, kind, status, depth) AS ( \
             SELECT dentry_id, parent_id, name, kind, status, 1::BIGINT FROM ",
            dentries_by_id!("= ", $folder),
            " f WHERE space_id = $1 \
             UNION ALL \
             SELECT d.dentry_id, d.parent_id, d.name, d.kind, d.status, c.depth + 1 \
             FROM chain c CROSS JOIN LATERAL ",
            dentries_by_id!("= c.parent_id"),
            " d WHERE d.space_id = $1 AND c.parent_id <> '0' AND c.depth < ",
            $bound,
            ")"
        )
    };
}
/// [`dentries_by_id`] for a lookup that locks its rows (the lock is taken
/// inside the fence): only live dentries of space `$space` are read, so
/// only they are locked, never a row of another space a request named.
/// The space is compared as `space_id || ''`, which no index serves: the
/// primary key stays the only way in.
macro_rules! live_dentries_by_id {
    ($cond:literal, $space:literal) => {
        concat!(
            "(SELECT * FROM dentries WHERE dentry_id ",
            $cond,
            " AND space_id || '' = ",
            $space,
            " AND status = 'NORMAL' OFFSET 0)"
        )
    };
}
pub(crate) use {
    ancestor_chain, app_columns, dentries_by_id, dentry_columns, dept_columns, live_dentries_by_id,
    org_columns, space_columns, user_columns, version_columns,
};

/// Columns of [`dentry_columns`] in a row.
pub(crate) const DENTRY_WIDTH: usize = 14;

pub(crate) fn org_from_row(row: &Row) -> DbResult<OrgRecord> {
    Ok(OrgRecord {
        corp_id: row.try_get(0)?,
        name: row.try_get(1)?,
        capacity: row.try_get(2)?,
        created_at: row.try_get(3)?,
        modified_at: row.try_get(4)?,
    })
}

/// An app from [`app_columns`] starting at column `at`.
pub(crate) fn app_at(row: &Row, at: usize) -> DbResult<AppRecord> {
    let scopes: String = row.try_get(at + 6)?;
    Ok(AppRecord {
        app_id: row.try_get(at)?,
        corp_id: row.try_get(at + 1)?,
        name: row.try_get(at + 2)?,
        app_key: row.try_get(at + 3)?,
        secret_salt: row.try_get(at + 4)?,
        secret_hash: row.try_get(at + 5)?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        created_at: row.try_get(at + 7)?,
        modified_at: row.try_get(at + 8)?,
    })
}

/// A user from [`user_columns`] starting at column `at`.
pub(crate) fn user_at(row: &Row, at: usize) -> DbResult<UserRecord> {
    Ok(UserRecord {
        union_id: row.try_get(at)?,
        corp_id: row.try_get(at + 1)?,
        user_id: row.try_get(at + 2)?,
        name: row.try_get(at + 3)?,
        org_admin: row.try_get(at + 4)?,
        created_at: row.try_get(at + 5)?,
    })
}

pub(crate) fn dept_from_row(row: &Row) -> DbResult<DeptRecord> {
    Ok(DeptRecord {
        dept_id: row.try_get(0)?,
        corp_id: row.try_get(1)?,
        name: row.try_get(2)?,
        parent_id: row.try_get(3)?,
        created_at: row.try_get(4)?,
    })
}

pub(crate) fn space_from_row(row: &Row) -> DbResult<SpaceRecord> {
    Ok(SpaceRecord {
        space_id: row.try_get(0)?,
        corp_id: row.try_get(1)?,
        app_id: row.try_get(2)?,
        scene: row.try_get(3)?,
        scene_id: row.try_get(4)?,
        name: row.try_get(5)?,
        owner_type: row.try_get(6)?,
        owner_id: row.try_get(7)?,
        creator_id: row.try_get(8)?,
        modifier_id: row.try_get(9)?,
        quota: row.try_get(10)?,
        used_bytes: row.try_get(11)?,
        status: row.try_get(12)?,
        can_search: row.try_get(13)?,
        can_rename: row.try_get(14)?,
        can_record_recent_file: row.try_get(15)?,
        created_at: row.try_get(16)?,
        modified_at: row.try_get(17)?,
    })
}

/// A dentry (without app properties) from [`dentry_columns`] at column 0.
pub(crate) fn dentry_from_row(row: &Row) -> DbResult<DentryRecord> {
    Ok(DentryRecord {
        dentry_id: row.try_get(0)?,
        uuid: row.try_get(1)?,
        space_id: row.try_get(2)?,
        parent_id: row.try_get(3)?,
        kind: row.try_get(4)?,
        name: row.try_get(5)?,
        size: row.try_get(6)?,
        version: row.try_get(7)?,
        status: row.try_get(8)?,
        blob_key: row.try_get(9)?,
        creator_id: row.try_get(10)?,
        modifier_id: row.try_get(11)?,
        created_at: row.try_get(12)?,
        modified_at: row.try_get(13)?,
        app_properties: Vec::new(),
    })
}

/// An app property from `dentry_id, app_id, name, value, visibility` at
/// column `at`; `None` when those columns are NULL (an outer join's miss).
pub(crate) fn property_at(row: &Row, at: usize) -> DbResult<Option<AppPropertyRecord>> {
    let Some(dentry_id) = row.try_get::<_, Option<String>>(at)? else { return Ok(None) };
    Ok(Some(AppPropertyRecord {
        dentry_id,
        app_id: row.try_get(at + 1)?,
        name: row.try_get(at + 2)?,
        value: row.try_get(at + 3)?,
        visibility: row.try_get(at + 4)?,
    }))
}

/// A version from [`version_columns`].
pub(crate) fn version_from_row(row: &Row) -> DbResult<VersionRecord> {
    Ok(VersionRecord {
        dentry_id: row.try_get(0)?,
        version: row.try_get(1)?,
        name: row.try_get(2)?,
        size: row.try_get(3)?,
        blob_key: row.try_get(4)?,
        modifier_id: row.try_get(5)?,
        modified_at: row.try_get(6)?,
    })
}

/// Rows of [`dentry_columns`] followed by an app property's five columns
/// (NULL when the dentry has none), ordered by dentry: one record per dentry.
pub(crate) fn dentries_joined(rows: &[Row]) -> DbResult<Vec<DentryRecord>> {
    let mut found: Vec<DentryRecord> = Vec::new();
    for row in rows {
        let id: String = row.try_get(0)?;
        if found.last().is_none_or(|d| d.dentry_id != id) {
            found.push(dentry_from_row(row)?);
        }
        if let Some(property) = property_at(row, DENTRY_WIDTH)? {
            found.last_mut().expect("pushed above").app_properties.push(property);
        }
    }
    Ok(found)
}
