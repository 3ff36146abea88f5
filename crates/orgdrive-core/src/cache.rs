//! Short-lived read caches in front of the metadata store, so that the hot
//! path of a read (who is calling, which space, which org) costs no query.
//!
//! - callers (token + unionId → app, user): up to [`IDENTITY_TTL`], and never
//!   past the token's expiry;
//! - orgs (corpId → org record): up to [`IDENTITY_TTL`];
//! - spaces (spaceId → space record, with its byte count): up to [`SPACE_TTL`];
//! - folder chains ((spaceId, folderId) → the ids and path `/a/b` from the
//!   root): up to [`IDENTITY_TTL`]; a rename, move, delete or restore of a
//!   folder drops every chain of its space ([`ReadCache::forget_tree`]),
//!   after the change committed;
//! - grants (spaceId → every live grant of the space, by dentry): up to
//!   [`IDENTITY_TTL`]; a grant change or a tree change of the space drops
//!   them ([`ReadCache::forget_grants`]);
//! - departments (corpId, unionId → the user's departments and their
//!   ancestors): up to [`IDENTITY_TTL`]; directory changes drop them all.
//!
//! Each cache is bounded by the bytes it holds (keys and values weighed by
//! their lengths), not by its number of entries, so long ids or deep paths
//! cannot grow it past its budget.
//!
//! Writes made through this node invalidate what they change at once
//! (commits drop their space; deleting an org, app or user drops every
//! caller and org), so a client never reads its own write stale. Writes made
//! on another node of a scale-out deployment become visible here within the
//! TTLs above.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use orgdrive_store::{Caller, GrantRecord, OrgRecord, SpaceRecord};

/// Longest a token, user or org lookup is reused.
pub const IDENTITY_TTL: Duration = Duration::from_secs(5);
/// Longest a space lookup (and its `usedQuota`) is reused.
pub const SPACE_TTL: Duration = Duration::from_secs(1);
/// Bytes each cache may hold (approximately: the lengths of keys and values).
const BUDGET_BYTES: u64 = 32 << 20;
/// What an entry costs beyond its strings (the records' fixed fields, moka's own).
const ENTRY_OVERHEAD: usize = 256;

fn weight(strings: &[&str]) -> u32 {
    let bytes = ENTRY_OVERHEAD + strings.iter().map(|s| s.len()).sum::<usize>();
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// A live folder's place: the ids from the root's first child down to the
/// folder itself, and its path (`/a/b`; `""` for the root).
#[derive(Debug, Clone, Default)]
pub(crate) struct FolderChain {
    pub ids: Vec<String>,
    pub path: String,
}

/// A space's grants, by the dentry they are on.
pub(crate) type SpaceGrants = HashMap<String, Vec<GrantRecord>>;

pub(crate) struct ReadCache {
    pub callers: Cache<(String, String), Caller>,
    pub orgs: Cache<String, OrgRecord>,
    pub spaces: Cache<String, SpaceRecord>,
    pub folder_chains: Cache<(String, String), Arc<FolderChain>>,
    pub grants: Cache<String, Arc<SpaceGrants>>,
    pub depts: Cache<(String, String), Arc<Vec<String>>>,
    /// Counts tree changes, so that a chain read before a change committed
    /// is never left in the cache after it (see [`ReadCache::remember_chain`]).
    tree_changes: AtomicU64,
    /// Counts grant changes, likewise for [`ReadCache::remember_grants`].
    grant_changes: AtomicU64,
}

impl ReadCache {
    pub fn new() -> ReadCache {
        ReadCache {
            callers: Cache::builder()
                .max_capacity(BUDGET_BYTES)
                .weigher(|(token, union_id): &(String, String), caller: &Caller| {
                    let scopes: usize = caller.app.scopes.iter().map(String::len).sum();
                    let user = caller.user.as_ref().map_or(0, |u| u.name.len() + u.user_id.len());
                    weight(&[token, union_id, &caller.app.name])
                        .saturating_add((scopes + user) as u32)
                })
                .time_to_live(IDENTITY_TTL)
                .build(),
            orgs: Cache::builder()
                .max_capacity(BUDGET_BYTES)
                .weigher(|id: &String, org: &OrgRecord| weight(&[id, &org.name]))
                .time_to_live(IDENTITY_TTL)
                .build(),
            spaces: Cache::builder()
                .max_capacity(BUDGET_BYTES)
                .weigher(|id: &String, space: &SpaceRecord| {
                    weight(&[id, space.name.as_deref().unwrap_or_default(), &space.scene_id])
                })
                .time_to_live(SPACE_TTL)
                .build(),
            folder_chains: Cache::builder()
                .max_capacity(BUDGET_BYTES)
                .weigher(|(space, folder): &(String, String), chain: &Arc<FolderChain>| {
                    let ids: usize = chain.ids.iter().map(|id| id.len() + 24).sum();
                    weight(&[space, folder, &chain.path]).saturating_add(ids as u32)
                })
                .time_to_live(IDENTITY_TTL)
                .support_invalidation_closures()
                .build(),
            grants: Cache::builder()
                .max_capacity(BUDGET_BYTES)
                .weigher(|space: &String, grants: &Arc<SpaceGrants>| {
                    let held: usize = grants
                        .values()
                        .flatten()
                        .map(|g| ENTRY_OVERHEAD + g.dentry_id.len() + g.member_id.len())
                        .sum();
                    weight(&[space]).saturating_add(held as u32)
                })
                .time_to_live(IDENTITY_TTL)
                .build(),
            depts: Cache::builder()
                .max_capacity(BUDGET_BYTES)
                .weigher(|(corp, user): &(String, String), depts: &Arc<Vec<String>>| {
                    let ids: usize = depts.iter().map(|d| d.len() + 24).sum();
                    weight(&[corp, user]).saturating_add(ids as u32)
                })
                .time_to_live(IDENTITY_TTL)
                .build(),
            tree_changes: AtomicU64::new(0),
            grant_changes: AtomicU64::new(0),
        }
    }

    /// The tree-change count to pass to [`ReadCache::remember_chain`]; read
    /// it before reading the chain from the store.
    pub fn tree_version(&self) -> u64 {
        self.tree_changes.load(Ordering::SeqCst)
    }

    /// Caches a chain read from the store while the tree-change count was
    /// `version`, unless a tree change happened since: a change bumps the
    /// count before it drops the chains, so either the drop removes this
    /// entry or the count check below does.
    pub fn remember_chain(&self, key: (String, String), chain: Arc<FolderChain>, version: u64) {
        self.folder_chains.insert(key.clone(), chain);
        if self.tree_version() != version {
            self.folder_chains.invalidate(&key);
        }
    }

    /// After a folder of the space was renamed, moved, deleted or restored
    /// (the change has committed): drops every cached chain of the space.
    pub fn forget_tree(&self, space_id: &str) {
        self.tree_changes.fetch_add(1, Ordering::SeqCst);
        let space_id = space_id.to_string();
        // Only fails when closures are not enabled for this cache (they are).
        let _ = self.folder_chains.invalidate_entries_if(move |(space, _), _| *space == space_id);
    }

    /// The grant-change count to pass to [`ReadCache::remember_grants`].
    pub fn grants_version(&self) -> u64 {
        self.grant_changes.load(Ordering::SeqCst)
    }

    /// Caches grants read while the grant-change count was `version`, unless
    /// a grant change happened since (as [`ReadCache::remember_chain`]).
    pub fn remember_grants(&self, space_id: String, grants: Arc<SpaceGrants>, version: u64) {
        self.grants.insert(space_id.clone(), grants);
        if self.grants_version() != version {
            self.grants.invalidate(&space_id);
        }
    }

    /// After the space's grants changed, or its tree did (grants leave with
    /// moved and deleted dentries).
    pub fn forget_grants(&self, space_id: &str) {
        self.grant_changes.fetch_add(1, Ordering::SeqCst);
        self.grants.invalidate(space_id);
    }

    /// After an identity or the directory changed: forget every caller,
    /// org and department membership.
    pub fn forget_identities(&self) {
        self.callers.invalidate_all();
        self.orgs.invalidate_all();
        self.depts.invalidate_all();
    }
}
