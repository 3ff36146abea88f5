//! The cache relay of a scale-out deployment: what this node's read caches
//! drop after its own changes commit ([`orgdrive_core::CacheChange`]) goes
//! to the other nodes through PostgreSQL `NOTIFY`, and what they send is
//! dropped here, so that another node's rename, move or permission change
//! is seen within milliseconds instead of the caches' TTLs (which remain
//! the bound when the relay is down: each reconnect drops every shared
//! cache entry, since changes may have been missed meanwhile; changes this
//! node could not send are sent again until they go through).

use std::time::Duration;

use orgdrive_core::{CacheChange, Drive, StoreError};
use orgdrive_postgres::PgStore;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

/// Changes sent in one notification are gathered for at most this long.
const GATHER: Duration = Duration::from_millis(5);
/// Wait before sending again changes that could not be sent.
const RESEND_AFTER: Duration = Duration::from_millis(250);
/// Past this many changes waiting to be sent, [`EVERYTHING`] is sent instead.
const MAX_LINES: usize = 1000;
/// Wait before listening again after the connection failed.
const RECONNECT: Duration = Duration::from_secs(1);
/// What a node sends when it lost track of its own changes (it fell behind):
/// the receivers drop every shared entry.
const EVERYTHING: &str = "*";

/// Relays until the process ends.
pub async fn run(drive: Drive, store: PgStore) {
    // Aborted with `run` too (when the server stops, `run` is aborted).
    struct AbortOnDrop(tokio::task::JoinHandle<()>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _sender = AbortOnDrop(tokio::spawn(send(drive.clone(), store.clone())));
    receive(drive, store).await;
}

/// This node's changes, out: one notification per gathered batch.
async fn send(drive: Drive, store: PgStore) {
    let node = drive.node();
    relay_out(drive.cache_changes(), |lines| {
        let store = store.clone();
        async move {
            store.notify_changes(node, &lines).await.map_err(|e| match e {
                StoreError::Unavailable(_) => NotSent::OutOfReach(e.to_string()),
                e => NotSent::Refused(e.to_string()),
            })
        }
    })
    .await
}

/// Why a batch of changes was not sent.
#[derive(Debug)]
enum NotSent {
    /// The database is out of reach: send the same lines again.
    OutOfReach(String),
    /// Any other failure, which the same lines may meet again (a line a
    /// payload cannot carry; an error of the database): send forget-all.
    Refused(String),
}

/// Sends `changes` through `notify`, gathered for [`GATHER`]. A batch that
/// could not be sent for now (the database out of reach) is not lost: it is
/// sent again [`RESEND_AFTER`] later, with the changes made meanwhile, until
/// it goes through; past [`MAX_LINES`] waiting lines, as [`EVERYTHING`]. A
/// batch that failed otherwise goes again as [`EVERYTHING`], as late. (A
/// change relayed late only drops entries the other nodes may have renewed
/// since: a few more misses, never a stale read.) Ends when `changes`
/// closes.
async fn relay_out<F, Sent>(mut changes: Receiver<CacheChange>, mut notify: F)
where
    F: FnMut(Vec<String>) -> Sent,
    Sent: std::future::Future<Output = Result<(), NotSent>>,
{
    let mut unsent: Vec<String> = Vec::new();
    let mut failing = false;
    loop {
        // A batch not sent waits its turn; the changes made meanwhile join it.
        let first = if unsent.is_empty() { Some(changes.recv().await) } else { None };
        let mut lines = std::mem::take(&mut unsent);
        let mut closed = false;
        match first {
            Some(Ok(change)) => lines.push(change.encode()),
            Some(Err(RecvError::Lagged(_))) => lines.push(EVERYTHING.to_string()),
            Some(Err(RecvError::Closed)) if lines.is_empty() => return,
            Some(Err(RecvError::Closed)) => closed = true,
            None => {}
        }
        let gathered = tokio::time::sleep(GATHER);
        tokio::pin!(gathered);
        while !closed {
            tokio::select! {
                _ = &mut gathered => break,
                next = changes.recv() => match next {
                    Ok(change) => lines.push(change.encode()),
                    Err(RecvError::Lagged(_)) => lines.push(EVERYTHING.to_string()),
                    Err(RecvError::Closed) => closed = true,
                },
            }
        }
        lines.sort();
        lines.dedup();
        if lines.len() > MAX_LINES || lines.iter().any(|l| l == EVERYTHING) {
            lines = vec![EVERYTHING.to_string()];
        }
        let failed = match notify(lines.clone()).await {
            Ok(()) => None,
            Err(NotSent::OutOfReach(e)) => Some((e, lines)),
            // Sent again as forget-all, which any payload carries.
            Err(NotSent::Refused(e)) => Some((e, vec![EVERYTHING.to_string()])),
        };
        match failed {
            Some((e, _)) if closed => {
                tracing::warn!(error = %e, "could not relay the last cache changes; stopping");
            }
            // Said once an outage, not at each try.
            Some((e, again)) if !failing => {
                tracing::warn!(
                    error = %e,
                    "could not relay cache changes to the other nodes; sending them again \
                     every 250 ms until they go through"
                );
                (unsent, failing) = (again, true);
                tokio::time::sleep(RESEND_AFTER).await;
            }
            Some((e, again)) => {
                tracing::debug!(error = %e, "could not relay cache changes yet");
                unsent = again;
                tokio::time::sleep(RESEND_AFTER).await;
            }
            None if failing => {
                tracing::info!("cache changes are relayed to the other nodes again");
                failing = false;
            }
            None => {}
        }
        if closed {
            return;
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A batch whose NOTIFY failed (the pool out of reach) is sent again,
    /// with what changed meanwhile, and again without any new change, until
    /// it goes through; a review found such a batch only logged and lost,
    /// leaving the other nodes' caches stale for their TTL.
    #[tokio::test(start_paused = true)]
    async fn changes_whose_notify_failed_are_sent_again_until_it_goes_through() {
        let (changes, receiver) = tokio::sync::broadcast::channel(64);
        let sent: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let failures_left = Arc::new(Mutex::new(2_usize));
        let relay = tokio::spawn(relay_out(receiver, {
            let (sent, failures_left) = (sent.clone(), failures_left.clone());
            move |lines| {
                sent.lock().unwrap().push(lines);
                let mut failures_left = failures_left.lock().unwrap();
                let failed = *failures_left > 0;
                *failures_left = failures_left.saturating_sub(1);
                async move {
                    if failed {
                        Err(NotSent::OutOfReach("the pool is out of reach".to_string()))
                    } else {
                        Ok(())
                    }
                }
            }
        }));
        changes.send(CacheChange::Tree("s1".into())).unwrap();
        tokio::time::sleep(GATHER * 2).await;
        changes.send(CacheChange::Grants("s2".into())).unwrap();
        tokio::time::sleep(RESEND_AFTER * 4).await;
        let tries = sent.lock().unwrap().clone();
        assert_eq!(
            tries,
            vec![
                vec!["tree s1".to_string()],
                vec!["grants s2".to_string(), "tree s1".to_string()],
                vec!["grants s2".to_string(), "tree s1".to_string()],
            ],
            "the failed lines go again, with the new ones, until sent"
        );
        // Sent: nothing more goes out until something changes.
        tokio::time::sleep(RESEND_AFTER * 4).await;
        assert_eq!(sent.lock().unwrap().len(), 3);
        changes.send(CacheChange::Identities).unwrap();
        tokio::time::sleep(GATHER * 2).await;
        assert_eq!(sent.lock().unwrap().last().unwrap(), &vec!["identities".to_string()]);
        drop(changes);
        tokio::time::timeout(Duration::from_secs(1), relay).await.unwrap().unwrap();
    }

    /// Too many changes waiting are sent as one "forget everything".
    #[tokio::test(start_paused = true)]
    async fn too_many_waiting_changes_go_as_everything() {
        let (changes, receiver) = tokio::sync::broadcast::channel(4096);
        let sent: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let relay = tokio::spawn(relay_out(receiver, {
            let sent = sent.clone();
            move |lines| {
                sent.lock().unwrap().push(lines);
                async { Ok::<(), NotSent>(()) }
            }
        }));
        for n in 0..=MAX_LINES {
            changes.send(CacheChange::Tree(format!("s{n}"))).unwrap();
        }
        tokio::time::sleep(GATHER * 2).await;
        assert_eq!(sent.lock().unwrap().clone(), vec![vec![EVERYTHING.to_string()]]);
        drop(changes);
        tokio::time::timeout(Duration::from_secs(1), relay).await.unwrap().unwrap();
    }
}

#[cfg(test)]
mod pacing_tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// From a review: with a batch waiting, a closed channel made the loop
    /// send again at once, forever (124,672 tries in 200 ms), and a change
    /// every 20 ms made it try once a change. Now a failed batch waits
    /// [`RESEND_AFTER`] whatever comes meanwhile, the relay ends once its
    /// channel closes, and a batch that can never be sent goes as
    /// [`EVERYTHING`].
    #[tokio::test(start_paused = true)]
    async fn a_failing_notify_is_tried_at_its_pace_and_the_relay_ends_with_its_channel() {
        let (changes, receiver) = tokio::sync::broadcast::channel(4096);
        let tries: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let relay = tokio::spawn(relay_out(receiver, {
            let tries = tries.clone();
            move |lines: Vec<String>| {
                let never = lines.iter().any(|l| l.contains("bad"));
                tries.lock().unwrap().push(lines);
                async move {
                    Err(if never {
                        NotSent::Refused("too long".into())
                    } else {
                        NotSent::OutOfReach("out of reach".into())
                    })
                }
            }
        }));
        for n in 0..50 {
            changes.send(CacheChange::Tree(format!("s{n}"))).unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let count = tries.lock().unwrap().len();
        assert!((3..=6).contains(&count), "{count} tries in 1 s: one each 250 ms");
        changes.send(CacheChange::Tree("bad".into())).unwrap();
        tokio::time::sleep(RESEND_AFTER * 2).await;
        let last = tries.lock().unwrap().last().unwrap().clone();
        assert_eq!(last, vec![EVERYTHING.to_string()], "a batch never sendable goes as all");
        drop(changes);
        tokio::time::timeout(RESEND_AFTER * 4, relay).await.expect("ended").unwrap();
        let count = tries.lock().unwrap().len();
        assert!(count < 20, "{count}");
    }

    /// From a second review: a failure other than "out of reach" (a closed
    /// pool, a standby, a password rotated) made the relay try again at
    /// once, every 5 ms (199 tries a second). It waits its turn too.
    #[tokio::test(start_paused = true)]
    async fn a_notify_failing_otherwise_is_tried_at_its_pace_too() {
        let (changes, receiver) = tokio::sync::broadcast::channel(64);
        let tries: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let relay = tokio::spawn(relay_out(receiver, {
            let tries = tries.clone();
            move |lines: Vec<String>| {
                tries.lock().unwrap().push(lines);
                async { Err(NotSent::Refused("the metadata store is closed".into())) }
            }
        }));
        changes.send(CacheChange::Tree("s1".into())).unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let tries = tries.lock().unwrap().clone();
        assert!((3..=6).contains(&tries.len()), "{} tries in 1 s", tries.len());
        assert_eq!(tries[1], vec![EVERYTHING.to_string()]);
        drop(changes);
        tokio::time::timeout(RESEND_AFTER * 4, relay).await.expect("ended").unwrap();
    }
}
