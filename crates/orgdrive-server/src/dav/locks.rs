//! WebDAV locks: dav-server's in-memory lock tree (`MemLs`) with what it
//! lacks for a shared server — locks expire ([`MAX_LOCK_TIMEOUT`] at most,
//! also for `Infinite`), each principal holds at most
//! [`MAX_LOCKS_PER_PRINCIPAL`], an `owner` element is kept only while small,
//! and who took a lock is remembered so that only they may UNLOCK or
//! refresh it (checked by the handler: dav-server does not ask).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dav_server::davpath::DavPath;
use dav_server::ls::{DavLock, DavLockSystem, LsFuture};
use dav_server::memls::MemLs;
use futures::FutureExt;
use xmltree::Element;

/// The longest a lock lives without a refresh.
pub const MAX_LOCK_TIMEOUT: Duration = Duration::from_secs(3600);
/// Live locks one principal may hold on this node.
pub const MAX_LOCKS_PER_PRINCIPAL: usize = 1000;
/// The largest `owner` element kept with a lock, in bytes of XML.
const MAX_OWNER_BYTES: usize = 1024;

/// What is remembered of a live lock.
#[derive(Debug, Clone)]
struct Held {
    path: DavPath,
    principal: Option<String>,
    expires: Instant,
}

#[derive(Debug, Clone)]
pub struct ExpiringLocks {
    inner: Box<MemLs>,
    held: Arc<Mutex<HashMap<String, Held>>>,
}

impl ExpiringLocks {
    pub fn new() -> ExpiringLocks {
        ExpiringLocks { inner: MemLs::new(), held: Arc::default() }
    }

    /// The principal that took the lock with this token, if it is live.
    pub fn holder(&self, token: &str) -> Option<Option<String>> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.get(token).filter(|h| h.expires > Instant::now()).map(|h| h.principal.clone())
    }

    /// When `principal` holds [`MAX_LOCKS_PER_PRINCIPAL`] live locks: how
    /// long until the first of them expires (and a new one may be taken).
    pub fn full_for(&self, principal: &str) -> Option<Duration> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let theirs = || {
            held.values().filter(|h| h.expires > now && h.principal.as_deref() == Some(principal))
        };
        if theirs().count() < MAX_LOCKS_PER_PRINCIPAL {
            return None;
        }
        theirs().map(|h| h.expires - now).min()
    }

    /// Drops expired locks from the tree (before every use of it).
    async fn purge(&self) {
        let expired: Vec<(String, DavPath)> = {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let gone: Vec<String> =
                held.iter().filter(|(_, h)| h.expires <= now).map(|(t, _)| t.clone()).collect();
            gone.into_iter().filter_map(|t| held.remove(&t).map(|h| (t, h.path))).collect()
        };
        for (token, path) in expired {
            let _ = self.inner.unlock(&path, &token).await;
        }
    }
}

fn capped(timeout: Option<Duration>) -> Duration {
    timeout.unwrap_or(MAX_LOCK_TIMEOUT).min(MAX_LOCK_TIMEOUT)
}

fn small_owner(owner: Option<&Element>) -> Option<&Element> {
    let owner = owner?;
    let mut xml = Vec::new();
    owner.write(&mut xml).ok()?;
    (xml.len() <= MAX_OWNER_BYTES).then_some(owner)
}

impl DavLockSystem for ExpiringLocks {
    fn lock(
        &self,
        path: &DavPath,
        principal: Option<&str>,
        owner: Option<&Element>,
        timeout: Option<Duration>,
        shared: bool,
        deep: bool,
    ) -> LsFuture<'_, Result<DavLock, DavLock>> {
        let (path, principal, owner) =
            (path.clone(), principal.map(str::to_string), small_owner(owner).cloned());
        async move {
            self.purge().await;
            let timeout = capped(timeout);
            let refusal = || DavLock {
                token: String::new(),
                path: Box::new(path.clone()),
                principal: principal.clone(),
                owner: None,
                timeout_at: None,
                timeout: Some(timeout),
                shared,
                deep,
            };
            let count = {
                let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
                held.values().filter(|h| h.principal == principal).count()
            };
            if count >= MAX_LOCKS_PER_PRINCIPAL {
                return Err(refusal());
            }
            let lock = self
                .inner
                .lock(&path, principal.as_deref(), owner.as_ref(), Some(timeout), shared, deep)
                .await?;
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            held.insert(
                lock.token.clone(),
                Held { path: path.clone(), principal, expires: Instant::now() + timeout },
            );
            Ok(lock)
        }
        .boxed()
    }

    fn unlock(&self, path: &DavPath, token: &str) -> LsFuture<'_, Result<(), ()>> {
        let (path, token) = (path.clone(), token.to_string());
        async move {
            self.purge().await;
            // Forgotten only once gone: an UNLOCK that named another path
            // leaves the lock live, and its taker, expiry and count kept.
            self.inner.unlock(&path, &token).await?;
            self.held.lock().unwrap_or_else(|e| e.into_inner()).remove(&token);
            Ok(())
        }
        .boxed()
    }

    fn refresh(
        &self,
        path: &DavPath,
        token: &str,
        timeout: Option<Duration>,
    ) -> LsFuture<'_, Result<DavLock, ()>> {
        let (path, token) = (path.clone(), token.to_string());
        async move {
            self.purge().await;
            let timeout = capped(timeout);
            let lock = self.inner.refresh(&path, &token, Some(timeout)).await?;
            if let Some(h) = self.held.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&token) {
                h.expires = Instant::now() + timeout;
            }
            Ok(lock)
        }
        .boxed()
    }

    fn check(
        &self,
        path: &DavPath,
        principal: Option<&str>,
        ignore_principal: bool,
        deep: bool,
        submitted_tokens: &[String],
    ) -> LsFuture<'_, Result<(), DavLock>> {
        let (path, principal, tokens) =
            (path.clone(), principal.map(str::to_string), submitted_tokens.to_vec());
        async move {
            self.purge().await;
            self.inner.check(&path, principal.as_deref(), ignore_principal, deep, &tokens).await
        }
        .boxed()
    }

    fn discover(&self, path: &DavPath) -> LsFuture<'_, Vec<DavLock>> {
        let path = path.clone();
        async move {
            self.purge().await;
            self.inner.discover(&path).await
        }
        .boxed()
    }

    fn delete(&self, path: &DavPath) -> LsFuture<'_, Result<(), ()>> {
        let path = path.clone();
        async move {
            self.purge().await;
            // Each lock unlocked, not the tree's subtree dropped: `MemLs`
            // unlinks a subtree but keeps its nodes (and their locks) for
            // good, memory any writer could grow by moving locked items.
            let gone: Vec<(String, DavPath)> = {
                let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
                let tokens: Vec<String> = held
                    .iter()
                    .filter(|(_, h)| at_or_below(&h.path, &path))
                    .map(|(t, _)| t.clone())
                    .collect();
                tokens.into_iter().filter_map(|t| held.remove(&t).map(|h| (t, h.path))).collect()
            };
            for (token, path) in gone {
                let _ = self.inner.unlock(&path, &token).await;
            }
            Ok(())
        }
        .boxed()
    }
}

/// Whether `path` is `base` or inside it, name by name (`/s/ab` is not
/// inside `/s/a`).
fn at_or_below(path: &DavPath, base: &DavPath) -> bool {
    let trimmed = |p: &DavPath| {
        let bytes = p.as_bytes();
        bytes.strip_suffix(b"/").unwrap_or(bytes).to_vec()
    };
    let (path, base) = (trimmed(path), trimmed(base));
    path.strip_prefix(base.as_slice()).is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}

impl Default for ExpiringLocks {
    fn default() -> ExpiringLocks {
        ExpiringLocks::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> DavPath {
        DavPath::new(p).unwrap()
    }

    /// The locks dropped with a deleted (or moved) item are its own and those
    /// below it, not those of its neighbours whose names it begins: their
    /// takers stay their only unlockers.
    #[tokio::test]
    async fn deleting_an_item_keeps_the_locks_of_its_neighbours() {
        let locks = ExpiringLocks::new();
        let take = |p: &'static str| {
            let locks = locks.clone();
            async move {
                let taken = locks.lock(&path(p), Some("alice"), None, None, false, false).await;
                taken.unwrap().token
            }
        };
        let neighbour = take("/s/ab.txt").await;
        let inside = take("/s/a/f.txt").await;
        let itself = take("/s/a").await;
        locks.delete(&path("/s/a")).await.unwrap();
        assert_eq!(locks.holder(&neighbour), Some(Some("alice".into())));
        assert_eq!(locks.holder(&inside), None);
        assert_eq!(locks.holder(&itself), None);
        assert!(at_or_below(&path("/s/a/"), &path("/s/a")));
        assert!(!at_or_below(&path("/s/a"), &path("/s/a/b")));
        // Gone from the tree too: the paths may be locked again.
        let again = locks.lock(&path("/s/a/f.txt"), Some("bob"), None, None, false, false).await;
        assert!(again.is_ok());
    }

    /// An UNLOCK naming a path outside the lock fails and leaves the lock
    /// as it was: live, its taker's, expiring, counted.
    #[tokio::test]
    async fn an_unlock_elsewhere_leaves_the_lock_whole() {
        let locks = ExpiringLocks::new();
        let at = path("/s/a.txt");
        let short = Some(Duration::from_millis(300));
        let token = locks.lock(&at, Some("alice"), None, short, false, false).await.unwrap().token;
        assert!(locks.unlock(&path("/s/b.txt"), &token).await.is_err());
        assert_eq!(locks.holder(&token), Some(Some("alice".into())));
        tokio::time::sleep(Duration::from_millis(400)).await;
        // Expired: another may lock the file.
        let other = locks.lock(&at, Some("bob"), None, None, false, false).await;
        assert!(other.is_ok());
    }
}
