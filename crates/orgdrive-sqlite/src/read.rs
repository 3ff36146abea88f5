//! Read connections: every thread that reads holds its own read-only
//! connection to each open store (opened on its first read, kept in a
//! thread-local), so a read runs in place on the calling thread — a few
//! microseconds of SQLite, with no hand-off to another thread. Reads that may
//! scan a lot run on tokio's blocking threads instead ([`Readers::read_blocking`]),
//! at most `SqliteOptions::readers` at once.
//!
//! A read connection never sees uncommitted data: in WAL mode each statement
//! reads the last committed state; reads made of several statements run in
//! one read transaction ([`snapshot`]) so that they see one state.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use orgdrive_store::{StoreError, StoreResult};

use crate::{backend, BUSY_TIMEOUT, STATEMENT_CACHE};

/// One thread's read connection to one store; `None` once the store closed.
type Slot = Mutex<Option<Connection>>;

thread_local! {
    /// This thread's read connections, by store id (a thread reads from one
    /// or two stores: a linear search beats hashing).
    static CONNECTIONS: RefCell<Vec<(u64, Arc<Slot>)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The read side of one open store.
pub(crate) struct Readers {
    /// Tells this store's connections apart from other stores' in a thread.
    id: u64,
    path: PathBuf,
    closed: AtomicBool,
    /// Every thread's connection to this store, so that `close` can close
    /// them (a thread that ends closes its own).
    slots: Mutex<Vec<Weak<Slot>>>,
    /// Reads on blocking threads at once.
    blocking: Semaphore,
}

/// Nothing was read: the store is closed (its node stopping); another
/// node, or this one restarted, may answer.
fn closed() -> StoreError {
    StoreError::Unavailable("the metadata store is closed".into())
}

impl Readers {
    pub(crate) fn new(path: &Path, blocking_readers: u32) -> Readers {
        Readers {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            path: path.to_path_buf(),
            closed: AtomicBool::new(false),
            slots: Mutex::new(Vec::new()),
            blocking: Semaphore::new(blocking_readers.max(1) as usize),
        }
    }

    /// Runs `f` on this thread's read connection (short, indexed reads).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let slot = self.slot()?;
        let guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.clear_poison();
        let conn = guard.as_ref().ok_or_else(closed)?;
        if !conn.is_autocommit() {
            // A read that panicked inside its transaction: end it, or this
            // connection would keep reading that old snapshot.
            let _ = conn.execute_batch("ROLLBACK");
        }
        f(conn)
    }

    /// Runs `f` on a blocking thread (reads that may scan a lot).
    pub(crate) async fn read_blocking<T, F>(self: &Arc<Self>, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _permit = self.blocking.acquire().await.map_err(|_| closed())?;
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || readers.read(f))
            .await
            .map_err(|e| StoreError::Backend(format!("read task: {e}")))?
    }

    /// This thread's connection to the store, opened if it has none.
    fn slot(&self) -> StoreResult<Arc<Slot>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        let found = CONNECTIONS.with_borrow(|connections| {
            connections.iter().find(|(id, _)| *id == self.id).map(|(_, slot)| Arc::clone(slot))
        });
        if let Some(slot) = found {
            return Ok(slot);
        }
        let slot = Arc::new(Mutex::new(Some(open_reader(&self.path)?)));
        {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if self.closed.load(Ordering::Acquire) {
                return Err(closed());
            }
            slots.retain(|slot| slot.strong_count() > 0);
            slots.push(Arc::downgrade(&slot));
        }
        CONNECTIONS.with_borrow_mut(|connections| {
            // Forget connections of stores closed since (their slot is empty).
            connections.retain(|(_, slot)| slot.try_lock().map_or(true, |conn| conn.is_some()));
            connections.push((self.id, Arc::clone(&slot)));
        });
        Ok(slot)
    }

    /// Closes every thread's connection (waiting for reads in progress);
    /// later reads fail.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let slots = std::mem::take(&mut *self.slots.lock().unwrap_or_else(PoisonError::into_inner));
        for slot in slots.iter().filter_map(Weak::upgrade) {
            let conn = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(conn) = conn {
                if let Err((_, e)) = conn.close() {
                    tracing::debug!(error = %e, "closing a read connection failed");
                }
            }
        }
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        self.close();
    }
}

fn open_reader(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    crate::plan_once(&conn)?;
    conn.execute_batch("PRAGMA temp_store = memory").map_err(backend)?;
    rusqlite::vtab::array::load_module(&conn).map_err(backend)?;
    Ok(conn)
}

/// Runs `f` inside one read transaction: its statements see one snapshot.
pub(crate) fn snapshot<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    conn.prepare_cached("BEGIN").and_then(|mut begin| begin.execute([])).map_err(backend)?;
    let value = f(conn);
    let end = conn.prepare_cached("COMMIT").and_then(|mut commit| commit.execute([]));
    if end.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let value = value?;
    end.map_err(backend)?;
    Ok(value)
}
