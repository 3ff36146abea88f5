//! The cache relay of a scale-out deployment: what this node's read caches
//! drop after its own changes commit ([`orgdrive_core::CacheChange`]) goes
//! to the other nodes through PostgreSQL `NOTIFY`, and what they send is
//! dropped here, so that another node's rename, move or permission change
//! is seen within milliseconds instead of the caches' TTLs (which remain
//! the bound when the relay is down: each reconnect drops every shared
//! cache entry, since changes may have been missed meanwhile).

use std::time::Duration;

use orgdrive_core::{CacheChange, Drive};
use orgdrive_postgres::PgStore;
use tokio::sync::broadcast::error::RecvError;

/// Changes sent in one notification are gathered for at most this long.
const GATHER: Duration = Duration::from_millis(5);
/// Wait before listening again after the connection failed.
const RECONNECT: Duration = Duration::from_secs(1);
/// What a node sends when it lost track of its own changes (it fell behind):
/// the receivers drop every shared entry.
const EVERYTHING: &str = "*";

/// Relays until the process ends.
pub async fn run(drive: Drive, store: PgStore) {
    let sender = tokio::spawn(send(drive.clone(), store.clone()));
    receive(drive, store).await;
    sender.abort();
}

/// This node's changes, out: one notification per gathered batch.
async fn send(drive: Drive, store: PgStore) {
    let node = drive.node();
    let mut changes = drive.cache_changes();
    loop {
        let first = match changes.recv().await {
            Ok(change) => change.encode(),
            Err(RecvError::Lagged(_)) => EVERYTHING.to_string(),
            Err(RecvError::Closed) => return,
        };
        let mut lines = vec![first];
        let gathered = tokio::time::sleep(GATHER);
        tokio::pin!(gathered);
        loop {
            tokio::select! {
                _ = &mut gathered => break,
                next = changes.recv() => match next {
                    Ok(change) => lines.push(change.encode()),
                    Err(RecvError::Lagged(_)) => lines.push(EVERYTHING.to_string()),
                    Err(RecvError::Closed) => break,
                },
            }
        }
        lines.sort();
        lines.dedup();
        if let Err(e) = store.notify_changes(node, &lines).await {
            tracing::warn!(error = %e, "could not relay cache changes to the other nodes");
        }
    }
}

/// The other nodes' changes, in.
async fn receive(drive: Drive, store: PgStore) {
    let node = drive.node();
    loop {
        match store.listen_changes().await {
            Ok(mut notifications) => {
                // Whatever happened while not listening is unknown.
                drive.forget_shared_cache();
                while let Some((from, lines)) = notifications.recv().await {
                    if from == node {
                        continue;
                    }
                    for line in lines.lines() {
                        match CacheChange::decode(line) {
                            Some(change) => drive.apply_cache_change(&change),
                            None if line == EVERYTHING => drive.forget_shared_cache(),
                            None => tracing::debug!("ignored an unknown cache change"),
                        }
                    }
                }
                tracing::warn!("the cache relay's connection ended; listening again");
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for other nodes' cache changes"),
        }
        tokio::time::sleep(RECONNECT).await;
    }
}
