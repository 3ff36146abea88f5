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
//!   [`IDENTITY_TTL`]; a grant change, or a move, delete or restore in
//!   the space (grants leave with their dentries), drops them
//!   ([`ReadCache::forget_grants`]); a rename keeps them, and so does a
//!   plain file move (no grant on the file: the store checked);
//! - departments (corpId, unionId → the user's departments and their
//!   ancestors): up to [`IDENTITY_TTL`]; directory changes drop them all.
//! - replies (a GetDentry or ListDentries answer as the wire layer encoded
//!   it, by what it depends on: space, dentry or folder, the caller's app,
//!   the request's options): only where the store counts its writes
//!   (`MetaStore::write_generation`, the embedded store), and served only
//!   while that count is the one read before the answer was; up to
//!   [`REPLY_TTL`] (writes by other processes). Authorization is never
//!   cached here: every request is checked before its reply is looked up.
//!
//! Each cache counts its hits and misses ([`ReadCache::figures`], shown by
//! the server's `/metrics`).
//!
//! Each cache is bounded by the bytes it holds (keys and values weighed by
//! their lengths), not by its number of entries, so long ids or deep paths
//! cannot grow it past its budget.
//!
//! Writes made through this node invalidate what they change at once
//! (commits drop their space; deleting an org, app or user drops every
//! caller and org), so a client never reads its own write stale. Writes made
//! on another node of a scale-out deployment become visible here within the
//! TTLs above at worst; sooner where the deployment relays [`CacheChange`]s
//! (what this node dropped: a space's folder chains or grants, or every
//! identity) to the other nodes, which drop the same — the binary relays
//! them through PostgreSQL `NOTIFY`. Space byte counts are not relayed
//! (their TTL is one second, and quotas are enforced by the store anyway).
//! A lookup that began before a drop never caches what it read after the
//! drop: each cache that is dropped counts its drops, and an entry read
//! under an older count is let go as soon as it is put in (`remember_*`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use moka::Equivalent;
use orgdrive_store::{Caller, GrantRecord, OrgRecord, SpaceRecord};

/// Longest a token, user or org lookup is reused.
pub const IDENTITY_TTL: Duration = Duration::from_secs(5);
/// Longest a space lookup (and its `usedQuota`) is reused.
pub const SPACE_TTL: Duration = Duration::from_secs(1);
/// Longest a cached reply is reused (it is dropped sooner by any write of
/// this process; the TTL bounds what writes of other processes on the same
/// data dir, `orgdrive admin` or `fsck --repair`, leave stale; a folder
/// path in it comes from the chain cache, [`IDENTITY_TTL`]).
pub const REPLY_TTL: Duration = Duration::from_secs(1);
/// Bytes each cache may hold (approximately: the lengths of keys and values).
const BUDGET_BYTES: u64 = 32 << 20;
/// What an entry costs beyond its strings (the records' fixed fields, moka's own).
const ENTRY_OVERHEAD: usize = 256;

fn weight(strings: &[&str]) -> u32 {
    let bytes = ENTRY_OVERHEAD + strings.iter().map(|s| s.len()).sum::<usize>();
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// What a dentry record holds: every string, its app properties included.
fn dentry_weight(d: &orgdrive_store::DentryRecord) -> usize {
    let strings = [&d.dentry_id, &d.uuid, &d.space_id, &d.parent_id, &d.kind, &d.name, &d.status];
    let people = [&d.creator_id, &d.modifier_id];
    let properties: usize = d
        .app_properties
        .iter()
        .map(|p| {
            ENTRY_OVERHEAD + p.app_id.len() + p.name.len() + p.value.len() + p.visibility.len()
        })
        .sum();
    ENTRY_OVERHEAD
        + strings.iter().chain(people.iter()).map(|s| s.len()).sum::<usize>()
        + d.blob_key.as_ref().map_or(0, String::len)
        + properties
}

/// A live folder's place: the ids from the root's first child down to the
/// folder itself, and its path (`/a/b`; `""` for the root).
#[derive(Debug, Clone, Default)]
pub(crate) struct FolderChain {
    pub ids: Vec<String>,
    pub path: String,
}

/// What a node dropped from its caches after a change committed, for the
/// other nodes sharing its store to drop too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheChange {
    /// A folder of the space was renamed, moved, deleted or restored.
    Tree(String),
    /// The space's grants changed (or its tree did).
    Grants(String),
    /// An org, app, user or department changed.
    Identities,
    /// Anything may have changed (a reset).
    All,
}

impl CacheChange {
    /// One line: `tree <spaceId>`, `grants <spaceId>` or `identities`.
    pub fn encode(&self) -> String {
        match self {
            CacheChange::Tree(space) => format!("tree {space}"),
            CacheChange::Grants(space) => format!("grants {space}"),
            CacheChange::Identities => "identities".to_string(),
            CacheChange::All => "all".to_string(),
        }
    }

    /// The change a line of [`CacheChange::encode`] names; `None` for
    /// anything else.
    pub fn decode(line: &str) -> Option<CacheChange> {
        match line.split_once(' ') {
            Some(("tree", space)) if !space.is_empty() => Some(CacheChange::Tree(space.into())),
            Some(("grants", space)) if !space.is_empty() => Some(CacheChange::Grants(space.into())),
            None if line == "identities" => Some(CacheChange::Identities),
            None if line == "all" => Some(CacheChange::All),
            _ => None,
        }
    }
}

/// A read's answer, encoded by the wire layer, and what it was read under:
/// the store's write generation and this node's tree-change count (folder
/// paths come from the chain cache, which a tree change drops only after
/// its write committed), both read before the answer was computed.
pub(crate) struct CachedReply {
    versions: ReplyVersions,
    /// GetDentry's dentry (authorization needs it on every request).
    pub dentry: Option<orgdrive_store::DentryRecord>,
    pub body: bytes::Bytes,
}

/// What [`ReadCache::reply`] found.
pub(crate) enum CachedRead {
    /// A reply read under the current generation and tree-change count.
    Hit(Arc<CachedReply>),
    /// None (or a stale one): compute it, then [`ReadCache::remember_reply`].
    Miss(ReplyMiss),
}

/// Where and under what a reply that missed is to be remembered.
pub(crate) struct ReplyMiss {
    key: String,
    versions: ReplyVersions,
}

/// The store's write generation and this node's tree-change count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplyVersions {
    generation: u64,
    tree_version: u64,
}

/// Changes kept for a slow relay before the oldest are dropped (the relay
/// then forgets everything: see `Drive::forget_cached`).
const CHANGES_BACKLOG: usize = 4096;

/// A space's grants, by the dentry they are on.
pub(crate) type SpaceGrants = HashMap<String, Vec<GrantRecord>>;

/// A cache that counts how often a lookup found its entry.
pub(crate) struct Counted<K, V> {
    cache: Cache<K, V>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<K, V> Counted<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(cache: Cache<K, V>) -> Counted<K, V> {
        Counted { cache, hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    /// The entry for `key`, counted as a hit or a miss.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Equivalent<K> + std::hash::Hash + ?Sized,
    {
        let found = self.cache.get(key);
        self.count(found.is_some());
        found
    }

    /// Caches `value`, read while `changes` (a count of this cache's drops)
    /// was `version`, and lets it go at once if a drop was counted since: a
    /// read that began before a write committed never outlives the drop
    /// that write made (a drop after the insert removes it anyway).
    fn insert_read_at(&self, key: K, value: V, changes: &AtomicU64, version: u64)
    where
        K: Clone,
    {
        self.cache.insert(key.clone(), value);
        if changes.load(Ordering::SeqCst) != version {
            self.cache.invalidate(&key);
        }
    }

    /// Counts a lookup made on the inner cache: a hit only if the entry
    /// found was usable.
    fn count(&self, hit: bool) {
        let tally = if hit { &self.hits } else { &self.misses };
        tally.fetch_add(1, Ordering::Relaxed);
    }

    fn figures(&self, name: &'static str) -> CacheFigures {
        CacheFigures {
            name,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.cache.entry_count(),
            weighted_bytes: self.cache.weighted_size(),
        }
    }
}

impl<K, V> std::ops::Deref for Counted<K, V> {
    type Target = Cache<K, V>;

    fn deref(&self) -> &Cache<K, V> {
        &self.cache
    }
}

/// One cache's figures since the process started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheFigures {
    /// `callers`, `orgs`, `spaces`, `folder_chains`, `grants`, `depts` or
    /// `replies`.
    pub name: &'static str,
    /// Lookups that found their entry.
    pub hits: u64,
    /// Lookups that did not (the store was read).
    pub misses: u64,
    /// Entries held (approximately: moka counts lazily).
    pub entries: u64,
    /// What the entries weigh (bytes, approximately).
    pub weighted_bytes: u64,
}

pub(crate) struct ReadCache {
    pub callers: Counted<(String, String), Caller>,
    pub orgs: Counted<String, OrgRecord>,
    pub spaces: Counted<String, SpaceRecord>,
    pub folder_chains: Counted<(String, String), Arc<FolderChain>>,
    pub grants: Counted<String, Arc<SpaceGrants>>,
    pub depts: Counted<(String, String), Arc<Vec<String>>>,
    pub replies: Counted<String, Arc<CachedReply>>,
    /// Counts tree changes, so that a chain read before a change committed
    /// is never left in the cache after it (see [`ReadCache::remember_chain`]).
    tree_changes: AtomicU64,
    /// Counts grant changes, likewise for [`ReadCache::remember_grants`].
    grant_changes: AtomicU64,
    /// Counts space drops, likewise for [`ReadCache::remember_space`].
    space_changes: AtomicU64,
    /// Counts identity drops, likewise for [`ReadCache::remember_caller`],
    /// [`ReadCache::remember_org`] and [`ReadCache::remember_depts`].
    identity_changes: AtomicU64,
    /// What this node dropped, for a relay to the other nodes.
    changes: tokio::sync::broadcast::Sender<CacheChange>,
}

impl ReadCache {
    pub fn new() -> ReadCache {
        ReadCache {
            callers: Counted::new(
                Cache::builder()
                    .max_capacity(BUDGET_BYTES)
                    .weigher(|(token, union_id): &(String, String), caller: &Caller| {
                        let scopes: usize = caller.app.scopes.iter().map(String::len).sum();
                        let user =
                            caller.user.as_ref().map_or(0, |u| u.name.len() + u.user_id.len());
                        weight(&[token, union_id, &caller.app.name])
                            .saturating_add((scopes + user) as u32)
                    })
                    .time_to_live(IDENTITY_TTL)
                    .build(),
            ),
            orgs: Counted::new(
                Cache::builder()
                    .max_capacity(BUDGET_BYTES)
                    .weigher(|id: &String, org: &OrgRecord| weight(&[id, &org.name]))
                    .time_to_live(IDENTITY_TTL)
                    .build(),
            ),
            spaces: Counted::new(
                Cache::builder()
                    .max_capacity(BUDGET_BYTES)
                    .weigher(|id: &String, space: &SpaceRecord| {
                        weight(&[id, space.name.as_deref().unwrap_or_default(), &space.scene_id])
                    })
                    .time_to_live(SPACE_TTL)
                    .build(),
            ),
            folder_chains: Counted::new(
                Cache::builder()
                    .max_capacity(BUDGET_BYTES)
                    .weigher(|(space, folder): &(String, String), chain: &Arc<FolderChain>| {
                        let ids: usize = chain.ids.iter().map(|id| id.len() + 24).sum();
                        weight(&[space, folder, &chain.path]).saturating_add(ids as u32)
                    })
                    .time_to_live(IDENTITY_TTL)
                    .support_invalidation_closures()
                    .build(),
            ),
            grants: Counted::new(
                Cache::builder()
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
            ),
            depts: Counted::new(
                Cache::builder()
                    .max_capacity(BUDGET_BYTES)
                    .weigher(|(corp, user): &(String, String), depts: &Arc<Vec<String>>| {
                        let ids: usize = depts.iter().map(|d| d.len() + 24).sum();
                        weight(&[corp, user]).saturating_add(ids as u32)
                    })
                    .time_to_live(IDENTITY_TTL)
                    .build(),
            ),
            replies: Counted::new(
                Cache::builder()
                    .max_capacity(BUDGET_BYTES)
                    .weigher(|key: &String, reply: &Arc<CachedReply>| {
                        let dentry = reply.dentry.as_ref().map_or(0, dentry_weight);
                        weight(&[key]).saturating_add(
                            u32::try_from(reply.body.len() + dentry).unwrap_or(u32::MAX),
                        )
                    })
                    .time_to_live(REPLY_TTL)
                    .build(),
            ),
            tree_changes: AtomicU64::new(0),
            grant_changes: AtomicU64::new(0),
            space_changes: AtomicU64::new(0),
            identity_changes: AtomicU64::new(0),
            changes: tokio::sync::broadcast::channel(CHANGES_BACKLOG).0,
        }
    }

    /// Every cache's figures.
    pub fn figures(&self) -> Vec<CacheFigures> {
        vec![
            self.callers.figures("callers"),
            self.orgs.figures("orgs"),
            self.spaces.figures("spaces"),
            self.folder_chains.figures("folder_chains"),
            self.grants.figures("grants"),
            self.depts.figures("depts"),
            self.replies.figures("replies"),
        ]
    }

    /// What this node drops from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<CacheChange> {
        self.changes.subscribe()
    }

    /// Drops what another node's change invalidated (without relaying it).
    pub fn apply(&self, change: &CacheChange) {
        match change {
            CacheChange::Tree(space) => self.drop_tree(space),
            CacheChange::Grants(space) => self.drop_grants(space),
            CacheChange::Identities => self.drop_identities(),
            CacheChange::All => self.forget_shared(),
        }
    }

    /// After a change of anything (a reset): drops every entry, here and on
    /// the other nodes.
    pub fn forget_all(&self) {
        self.forget_shared();
        self.relay(CacheChange::All);
    }

    /// Drops everything another node may have changed (a relay that lost
    /// changes calls this).
    pub fn forget_shared(&self) {
        self.tree_changes.fetch_add(1, Ordering::SeqCst);
        self.grant_changes.fetch_add(1, Ordering::SeqCst);
        self.folder_chains.invalidate_all();
        self.grants.invalidate_all();
        self.replies.invalidate_all();
        self.forget_spaces();
        self.drop_identities();
    }

    fn relay(&self, change: CacheChange) {
        // No receiver (no relay: one node) is not an error.
        let _ = self.changes.send(change);
    }

    /// What a reply computed from now on is read under: the store's write
    /// `generation` and the current tree-change count. Take it before any
    /// read the reply depends on (the store's or the chain cache's).
    pub fn reply_versions(&self, generation: u64) -> ReplyVersions {
        ReplyVersions { generation, tree_version: self.tree_version() }
    }

    /// The reply cached under `parts` (each length-prefixed into the key,
    /// so that no two lists of parts share one) if it was read under
    /// `versions`, which the caller took before its own reads: an answer
    /// as current as one it would compute.
    pub fn reply(&self, parts: &[&str], versions: ReplyVersions) -> CachedRead {
        let mut key = String::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
        for part in parts {
            key.push_str(&part.len().to_string());
            key.push(':');
            key.push_str(part);
        }
        // Counted as a hit only when current (a stale entry is a miss).
        let found = self.replies.cache.get(&key).filter(|hit| hit.versions == versions);
        self.replies.count(found.is_some());
        match found {
            Some(hit) => CachedRead::Hit(hit),
            None => CachedRead::Miss(ReplyMiss { key, versions }),
        }
    }

    /// Caches a reply computed after [`ReadCache::reply`] missed; the
    /// dentry (kept for authorization) without its app properties.
    pub fn remember_reply(
        &self,
        miss: ReplyMiss,
        mut dentry: Option<orgdrive_store::DentryRecord>,
        body: bytes::Bytes,
    ) {
        if let Some(d) = dentry.as_mut() {
            d.app_properties = Vec::new();
        }
        let ReplyMiss { key, versions } = miss;
        self.replies.insert(key, Arc::new(CachedReply { versions, dentry, body }));
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
        self.folder_chains.insert_read_at(key, chain, &self.tree_changes, version);
    }

    /// After a folder of the space was renamed, moved, deleted or restored
    /// (the change has committed): drops every cached chain of the space.
    pub fn forget_tree(&self, space_id: &str) {
        self.drop_tree(space_id);
        self.relay(CacheChange::Tree(space_id.to_string()));
    }

    fn drop_tree(&self, space_id: &str) {
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
        self.grants.insert_read_at(space_id, grants, &self.grant_changes, version);
    }

    /// After the space's grants changed, or its tree did (grants leave with
    /// moved and deleted dentries).
    pub fn forget_grants(&self, space_id: &str) {
        self.drop_grants(space_id);
        self.relay(CacheChange::Grants(space_id.to_string()));
    }

    /// The space-drop count to pass to [`ReadCache::remember_space`].
    pub fn space_version(&self) -> u64 {
        self.space_changes.load(Ordering::SeqCst)
    }

    /// Caches a space read while the space-drop count was `version`, unless
    /// a drop happened since (as [`ReadCache::remember_chain`]): a read that
    /// began before a write committed never outlives the write's drop.
    pub fn remember_space(&self, space: SpaceRecord, version: u64) {
        self.spaces.insert_read_at(space.space_id.clone(), space, &self.space_changes, version);
    }

    /// After a committed write changed the space's record or byte counts.
    pub fn forget_space(&self, space_id: &str) {
        self.space_changes.fetch_add(1, Ordering::SeqCst);
        self.spaces.invalidate(space_id);
    }

    /// After a committed write changed spaces this node cannot name.
    pub fn forget_spaces(&self) {
        self.space_changes.fetch_add(1, Ordering::SeqCst);
        self.spaces.invalidate_all();
    }

    fn drop_grants(&self, space_id: &str) {
        self.grant_changes.fetch_add(1, Ordering::SeqCst);
        self.grants.invalidate(space_id);
    }

    /// After an identity or the directory changed: forget every caller,
    /// org and department membership.
    pub fn forget_identities(&self) {
        self.drop_identities();
        self.relay(CacheChange::Identities);
    }

    /// The identity-drop count to pass to [`ReadCache::remember_caller`],
    /// [`ReadCache::remember_org`] and [`ReadCache::remember_depts`].
    pub fn identities_version(&self) -> u64 {
        self.identity_changes.load(Ordering::SeqCst)
    }

    /// Caches a caller read while the identity-drop count was `version`,
    /// unless a drop happened since (as [`ReadCache::remember_chain`]): a
    /// lookup that began before a user's deletion, a secret's rotation or a
    /// token's end committed never outlives their drop.
    pub fn remember_caller(&self, key: (String, String), caller: Caller, version: u64) {
        self.callers.insert_read_at(key, caller, &self.identity_changes, version);
    }

    /// Caches an org read while the identity-drop count was `version` (as
    /// [`ReadCache::remember_caller`]).
    pub fn remember_org(&self, org: OrgRecord, version: u64) {
        self.orgs.insert_read_at(org.corp_id.clone(), org, &self.identity_changes, version);
    }

    /// Caches a user's departments read while the identity-drop count was
    /// `version` (as [`ReadCache::remember_caller`]).
    pub fn remember_depts(&self, key: (String, String), depts: Arc<Vec<String>>, version: u64) {
        self.depts.insert_read_at(key, depts, &self.identity_changes, version);
    }

    fn drop_identities(&self) {
        self.identity_changes.fetch_add(1, Ordering::SeqCst);
        self.callers.invalidate_all();
        self.orgs.invalidate_all();
        self.depts.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::CachedRead::{Hit, Miss};
    use super::*;

    fn versions(generation: u64, cache: &ReadCache) -> ReplyVersions {
        cache.reply_versions(generation)
    }

    #[test]
    fn a_stale_reply_is_a_miss_and_counted_as_one() {
        let cache = ReadCache::new();
        let Miss(miss) = cache.reply(&["dentry", "1", "2"], versions(7, &cache)) else {
            panic!("nothing cached yet")
        };
        cache.remember_reply(miss, None, bytes::Bytes::from_static(b"{}"));
        assert!(matches!(cache.reply(&["dentry", "1", "2"], versions(7, &cache)), Hit(_)));
        // Another generation, or a tree change: stale.
        assert!(matches!(cache.reply(&["dentry", "1", "2"], versions(8, &cache)), Miss(_)));
        cache.forget_tree("1");
        assert!(matches!(cache.reply(&["dentry", "1", "2"], versions(7, &cache)), Miss(_)));
        // Parts are length-prefixed: these are other keys.
        assert!(matches!(cache.reply(&["dentry", "12"], versions(7, &cache)), Miss(_)));
        let replies = cache.figures().into_iter().find(|f| f.name == "replies").unwrap();
        assert_eq!((replies.hits, replies.misses), (1, 4));
    }

    #[test]
    fn a_reply_keeps_no_app_properties_and_weighs_what_it_holds() {
        let cache = ReadCache::new();
        let property = |app: &str| orgdrive_store::AppPropertyRecord {
            dentry_id: "2".into(),
            app_id: app.into(),
            name: "p".into(),
            value: "x".repeat(4096),
            visibility: "PRIVATE".into(),
        };
        let dentry = orgdrive_store::DentryRecord {
            dentry_id: "2".into(),
            name: "n".repeat(1000),
            app_properties: vec![property("a"), property("b")],
            ..Default::default()
        };
        assert!(dentry_weight(&dentry) > 2 * 4096 + 1000);
        let Miss(miss) = cache.reply(&["dentry", "1", "2"], versions(1, &cache)) else {
            panic!("nothing cached yet")
        };
        cache.remember_reply(miss, Some(dentry), bytes::Bytes::from(vec![b' '; 5000]));
        let Hit(hit) = cache.reply(&["dentry", "1", "2"], versions(1, &cache)) else {
            panic!("just cached")
        };
        let kept = hit.dentry.as_ref().unwrap();
        assert!(kept.app_properties.is_empty(), "authorization needs none");
        cache.replies.run_pending_tasks();
        assert!(cache.replies.weighted_size() > 5000 + 1000, "{}", cache.replies.weighted_size());
    }

    #[test]
    fn cache_changes_survive_their_encoding_and_nothing_else_decodes() {
        let changes = [
            CacheChange::Tree("12 3".into()),
            CacheChange::Grants("9".into()),
            CacheChange::Identities,
            CacheChange::All,
        ];
        for change in changes {
            assert_eq!(CacheChange::decode(&change.encode()), Some(change));
        }
        for junk in ["", "tree", "tree ", "grants ", "identities x", "space 1", "TREE 1", "all x"] {
            assert_eq!(CacheChange::decode(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn dropped_entries_are_relayed_and_applied_ones_are_not() {
        let cache = ReadCache::new();
        let mut relayed = cache.subscribe();
        cache.forget_tree("s1");
        cache.forget_grants("s2");
        cache.forget_identities();
        assert_eq!(relayed.try_recv().unwrap(), CacheChange::Tree("s1".into()));
        assert_eq!(relayed.try_recv().unwrap(), CacheChange::Grants("s2".into()));
        assert_eq!(relayed.try_recv().unwrap(), CacheChange::Identities);
        let chain = Arc::new(FolderChain::default());
        cache.remember_chain(("s1".into(), "f".into()), chain, cache.tree_version());
        cache.apply(&CacheChange::Tree("s1".into()));
        cache.folder_chains.run_pending_tasks();
        assert!(cache.folder_chains.get(&("s1".to_string(), "f".to_string())).is_none());
        assert!(relayed.try_recv().is_err(), "an applied change is not relayed again");
    }

    fn space(id: &str, used: i64) -> SpaceRecord {
        SpaceRecord { used_bytes: used, ..orgdrive_store::suite::fixtures::space(id, "0") }
    }

    #[test]
    fn identities_read_before_a_drop_are_not_cached_after_it() {
        let cache = ReadCache::new();
        let caller = Caller {
            app: orgdrive_store::suite::fixtures::app("a", "c", "k"),
            user: Some(orgdrive_store::suite::fixtures::user("u", "c", "1")),
            token_expires_at: i64::MAX,
        };
        let key = || ("t".to_string(), "u".to_string());
        let depts = Arc::new(vec!["d".to_string()]);
        let org = orgdrive_store::suite::fixtures::org("c", None);
        for dropped_by_another_node in [false, true] {
            // A user is deleted (here or on another node) while lookups of
            // the old caller, org and departments are in flight; they then
            // try to cache what they read.
            let before = cache.identities_version();
            if dropped_by_another_node {
                cache.apply(&CacheChange::Identities);
            } else {
                cache.forget_identities();
            }
            cache.remember_caller(key(), caller.clone(), before);
            cache.remember_org(org.clone(), before);
            cache.remember_depts(key(), Arc::clone(&depts), before);
            assert!(cache.callers.get(&key()).is_none(), "stale caller cached");
            assert!(cache.orgs.get("c").is_none(), "stale org cached");
            assert!(cache.depts.get(&key()).is_none(), "stale departments cached");
        }
        let now = cache.identities_version();
        cache.remember_caller(key(), caller, now);
        cache.remember_org(org, now);
        cache.remember_depts(key(), depts, now);
        assert!(cache.callers.get(&key()).is_some());
        assert!(cache.orgs.get("c").is_some());
        assert!(cache.depts.get(&key()).is_some());
    }

    #[test]
    fn a_space_read_before_a_drop_is_not_cached_after_it() {
        let cache = ReadCache::new();
        let before = cache.space_version();
        // A write commits and drops the space while a read of its old
        // record is in flight; the read then tries to cache what it read.
        cache.forget_space("s1");
        cache.remember_space(space("s1", 1), before);
        assert!(cache.spaces.get("s1").is_none(), "stale record cached");
        let now = cache.space_version();
        cache.remember_space(space("s1", 2), now);
        assert_eq!(cache.spaces.get("s1").map(|s| s.used_bytes), Some(2));
        cache.forget_spaces();
        assert!(cache.spaces.get("s1").is_none());
    }
}
