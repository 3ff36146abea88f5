//! orgdrive's scale-out metadata store: the [`orgdrive_store`] contract on
//! PostgreSQL, shared by every node of a deployment. Only this crate knows
//! its SQL. Driver `tokio-postgres`, pool `deadpool-postgres`; the schema is
//! migrated at open ([`migrate`]).
//!
//! # How the contract's guarantees are kept
//!
//! - **One method, one transaction**, at READ COMMITTED, with explicit
//!   locks where a check must hold until commit (`tx!`; a transaction that
//!   fails with `serialization_failure` or `deadlock_detected` is run again
//!   from the start, a few times). Concurrent writes may share one
//!   transaction (group commit done here, so that a busy space gets many
//!   writes per WAL flush): folder puts as one multi-row insert
//!   (`put_batch`), file commits, renames and moves one savepoint each, or
//!   one statement for all the renames (and one for all the file moves)
//!   of a batch that it can apply (`shared_tx`),
//!   every space of the batch locked first, then the orgs it charges. A
//!   write such a batch cannot decide runs alone. Each invariant is held
//!   by the database, never by a check-then-act in Rust:
//!   - **Unique keys** by constraints, named explicitly so that a violation
//!     maps to its [`orgdrive_store::Key`] (`error.rs`). AddSpace is
//!     `INSERT … ON CONFLICT DO NOTHING` and then a `SELECT` of the row
//!     under the key, which the conflicting insert has committed by then.
//!   - **Live names** by the partial unique index `dentries_live_name`; a
//!     put inserts `ON CONFLICT DO NOTHING` (waiting for a racing insert of
//!     the name to commit or roll back) and only then looks at the sibling,
//!     locked `FOR UPDATE` when it will overwrite it.
//!   - **Quota and capacity** by conditional updates, `UPDATE spaces SET
//!     used_bytes = used_bytes + $n WHERE … AND (quota IS NULL OR
//!     used_bytes + reserved_bytes + $n <= quota)` (the same on `orgs`): the
//!     update re-reads the row under its row lock, and the lock is held to
//!     commit, so racing charges are applied one after the other and none
//!     passes the cap. Reservations of upload bytes work the same way.
//!   - **Trees**: a tree change (rename, move, copy, delete, restore) locks
//!     its spaces' rows `FOR UPDATE` first; a folder put locks its space's
//!     row `FOR KEY SHARE` first, a file put `FOR NO KEY UPDATE` (it updates
//!     the row's counters later). Folder puts never wait for each other
//!     there, but a tree change and a put of one space never interleave:
//!     a put cannot add a child under a folder a concurrent change is
//!     binning. The one exception, by design: a batch's *attempts* (renames
//!     whose path does not grow, files moved within their space with no
//!     grant on them: they change no subtree and lengthen no path) and its
//!     file puts lock the row `FOR NO KEY UPDATE`, which keeps out tree
//!     changes, grant writes (`FOR SHARE`) and the other combined writes but
//!     lets folder puts through (`shared_tx.rs`); a file put alone takes it
//!     too, before any dentry (it updates the row later).
//!     A put also locks its parent folder `FOR SHARE` (it stays a live
//!     folder until the put commits; in a batch of puts, one statement
//!     whose snapshot may predate its wait for the space, that lock also
//!     re-checks the parent's newest version: `put_batch.rs`). Puts
//!     insert, and a batch's attempts update, in key order of the new
//!     names (space, folder, name), so they do not cross on the names they
//!     take (they still may on a name an attempt frees, held until it
//!     commits).
//!   - **Uploads**: a commit locks its upload's row `FOR UPDATE` before
//!     claiming it (of racing commits one claims it, the others find it
//!     gone); reservations and recorded parts lock it too (the announced
//!     size holds); an `AtMost` reservation reads the room left under the
//!     space's and org's row locks; sweeps take expired uploads
//!     `FOR UPDATE SKIP LOCKED` (each once; one a commit holds is left).
//!     Every one of them locks the upload's space before the upload, as a
//!     commit does: none waits for another in a circle there.
//!   - **Open uploads per space/app** and **unfinished tasks per app**:
//!     counted after locking the space's and then the app's row (tasks:
//!     an advisory lock per app), so racing inserts count one after the
//!     other.
//!   - **AUTO_RENAME**: racing renames of one name in one folder take turns
//!     under a transaction-scoped advisory lock on (space, folder,
//!     pattern), so each finds the others' names taken.
//!   - **Counter repair and reset** lock every space's, then every org's
//!     row (key order) before reading the sums.
//!   - **Thumbnails**: a reference to the content object is locked
//!     `FOR SHARE` while its thumbnail is recorded; **open links**: the
//!     dentry's row is locked while its links are counted and written.
//!   - **Claims** (`lease_job`): one upsert whose `DO UPDATE … WHERE`
//!     decides under the row's lock.
//! - **Names compare bytewise**: every name and id column that is ordered
//!   or compared is `COLLATE "C"`, so the indexes serve keyset pages in the
//!   same order as SQLite's `BINARY`.
//! - **Node numbers** come from an identity column (`register_node`): never
//!   reused.
//! - **Events and `seq` in commit order** (`events.rs`): a sequence value is
//!   taken before commit, so it is not commit order, and a delivery cursor
//!   that had passed it could skip an event committing late. Writers do not
//!   serialise on one lock to append (that would defeat group commit):
//!   events are inserted with `seq` NULL (ordered by an identity column
//!   `appended`), and a lazy sequencer (`events::sequence_pending`), under a
//!   transaction-scoped advisory lock, numbers every visible unnumbered row
//!   after the last number it gave, in `appended` order. A later run only
//!   sees rows committed later, so `seq` follows visibility order; the
//!   readers of events (`last_event_seq`, `pending_events`, `subscribe`)
//!   run it first.
//! - **Consistency scans** read from one snapshot (REPEATABLE READ, READ
//!   ONLY).
//! - **`close()`** closes the pool; later calls fail with `Backend`.
//!
//! Beyond the contract, for the binary's cache relay: the nodes' messages to
//! each other over `LISTEN`/`NOTIFY` ([`PgStore::notify_changes`],
//! [`PgStore::listen_changes`]).

mod combine;
mod connect;
mod console;
mod dav;
mod dentries;
mod error;
pub mod events;
mod grants;
mod identity;
mod lifecycle;
mod maintenance;
mod migrate;
mod notify;
mod open_links;
mod put_batch;
pub(crate) mod rows;
mod shared_tx;
mod spaces;
#[cfg(feature = "testing")]
pub mod testing;
mod thumbnails;
mod uploads;
mod wopi;

use std::sync::Arc;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use orgdrive_store::{StoreError, StoreResult};

pub use connect::Tls;
pub use error::{DbError, DbResult};
pub use migrate::{migrate, migrate_up_to, MigrationReport, LATEST as SCHEMA_VERSION};
pub use notify::ChangeListener;

/// How the PostgreSQL store is opened.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections the pool keeps at most.
    pub max_connections: usize,
    /// How long a call waits for a pooled connection (all busy, or the
    /// database not answering) before it fails as
    /// [`StoreError::Unavailable`]; making a connection is bounded by it
    /// too (and by `connect_timeout`, `connect.rs`).
    pub wait: std::time::Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { max_connections: 16, wait: std::time::Duration::from_secs(30) }
    }
}

/// How orgdrive connects to the database at `url`: the driver's
/// configuration and the TLS connector, libpq's `sslmode` and
/// `sslrootcert` read as `connect.rs` says (CA files read now). For tools
/// and tests that open connections of their own.
pub fn connection_settings(url: &str) -> StoreResult<(tokio_postgres::Config, connect::Tls)> {
    let target = connect::Target::parse(url)?;
    let tls = target.tls()?;
    Ok((target.config, tls))
}

/// Where `url` points, for people: host(s), port and database name as the
/// driver reads them, and the TLS it asks for (`sslmode`), never the
/// user, password or other options (a password may hold `#`, or `?` and
/// `@` escaped, so the URL is parsed, not cut); `None` if it cannot be
/// read.
pub fn describe_url(url: &str) -> Option<String> {
    let target = connect::Target::parse(url).ok()?;
    let config = &target.config;
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("(the user's database)");
    Some(format!("{}:{port}/{db}, sslmode={}", hosts.join(","), target.mode_name()))
}

/// PostgreSQL implementation of [`orgdrive_store::MetaStore`]. Clones share
/// one pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Where the pool connects, and through what TLS: also for connections
    /// of their own (`notify::listen_changes`).
    config: tokio_postgres::Config,
    tls: connect::Tls,
    /// Folder puts waiting to be written together (`put_batch`).
    puts: put_batch::PutQueue,
    /// Other writes of a space waiting to share a transaction (`shared_tx`).
    writes: shared_tx::WriteQueue,
}

/// The parent id of a space's root entries (and the id of the root).
pub(crate) const ROOT_ID: &str = "0";

/// A transaction that failed with one of these is run again from the start.
const RETRY_STATES: [&str; 2] = ["40001", "40P01"];
/// How many times a transaction is tried in all.
pub(crate) const TX_ATTEMPTS: u32 = 5;

impl PgStore {
    /// Connects to `url` (a `postgres://` URL or key=value string) and
    /// applies the migrations this build has and the database lacks.
    pub async fn open(url: &str, options: &PgOptions) -> StoreResult<PgStore> {
        let target = connect::Target::parse(url)?;
        let (config, tls) = (target.config.clone(), target.tls()?);
        migrate::run_with(&config, &tls, migrate::LATEST).await?;
        let manager = Manager::from_config(
            without_seq_scans(&config),
            tls.clone(),
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(options.wait))
            // A connection made whole (TCP, TLS, login) within the URL's
            // `connect_timeout` for each host (the driver bounds TCP only);
            // with none (`connect_timeout=0`), within the pool's wait.
            .create_timeout(Some(connect::whole_connection_limit(&config).unwrap_or(options.wait)))
            .recycle_timeout(Some(options.wait))
            .post_create(bound_the_session())
            .build()
            .map_err(|e| StoreError::Backend(format!("connection pool: {e}")))?;
        let puts = put_batch::PutQueue::start(pool.clone());
        let writes = shared_tx::WriteQueue::start(pool.clone());
        let store = PgStore { pool, config, tls, puts, writes };
        // Fails here, not at the first call, if the database is unreachable.
        drop(store.client().await?);
        Ok(store)
    }

    /// A pooled connection; `Unavailable` once the store is closed.
    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        pooled(&self.pool).await
    }

    pub(crate) fn close_pool(&self) {
        self.pool.close();
    }
}

/// Runs [`connect::bound_the_session`] on each new pooled connection.
fn bound_the_session() -> deadpool_postgres::Hook {
    let bounds = Arc::new(connect::session_bounds());
    deadpool_postgres::Hook::async_fn(move |client, _| {
        let bounds = Arc::clone(&bounds);
        Box::pin(async move {
            connect::bound_the_session(client, &bounds).await;
            Ok(())
        })
    })
}

/// `config` for the pool's connections: `enable_seqscan = off` added to
/// its options. A connection keeps the generic plans of its statements,
/// made with the tables' sizes and statistics of the moment, until an
/// ANALYZE changes them (autovacuum looks once a minute). Planned while
/// `dentries` was small (a new drive), a lookup by id scanned the table:
/// still so after it had grown to 48,000 rows a few seconds later, 10 ms
/// per lookup, moves 6× slower than in runs where autovacuum had been by.
/// Every statement of the pool has an index to go through; without one
/// (the consistency scans over whole tables) the planner still scans. And
/// `jit = off`: a scan the planner cannot avoid carries the penalty cost of
/// a disabled path, far past `jit_above_cost`, and its statement was then
/// compiled at every execution (150 ms for a consistency scan of a few
/// rows); no statement here is long enough for JIT to pay.
fn without_seq_scans(config: &tokio_postgres::Config) -> tokio_postgres::Config {
    const OPTIONS: &str = "-c enable_seqscan=off -c jit=off";
    let mut pooled = config.clone();
    let options = match config.get_options() {
        Some(given) if !given.trim().is_empty() => format!("{given} {OPTIONS}"),
        _ => OPTIONS.to_string(),
    };
    pooled.options(&options);
    pooled
}

/// The recursive tree walks, as (name, statement, parameter types), for
/// the test that pins their plans (each probes an index per row).
#[doc(hidden)]
pub fn tree_walk_statements() -> Vec<(&'static str, &'static str, &'static str)> {
    use lifecycle::{
        ANCESTORS_SQL, ITEM_MEMBERS_SQL, LIVE_EXTENT_SQL, LIVE_MEMBERS_SQL, SUBTREE_SIZE_SQL,
    };
    let (two, three) = ("text, text", "text, text, bigint");
    vec![
        ("folder chain", dentries::FOLDER_CHAIN_SQL, two),
        ("ancestors", ANCESTORS_SQL, three),
        ("live members", LIVE_MEMBERS_SQL, three),
        ("live extent", LIVE_EXTENT_SQL, three),
        ("subtree size", SUBTREE_SIZE_SQL, three),
        ("item members", ITEM_MEMBERS_SQL, three),
    ]
}

/// The statements of a folder's keyset pages by name, as (name, statement,
/// parameter types), for the test that pins their plans (the unique index
/// of live names, no sort).
#[doc(hidden)]
pub fn folder_name_page_statements() -> Vec<(String, String, &'static str)> {
    let mut statements = Vec::new();
    for descending in [false, true] {
        for after in [false, true] {
            let name = format!("name page (descending: {descending}, after a cursor: {after})");
            let sql = dentries::keyset_sql(true, orgdrive_store::SortKey::Name, descending, after);
            let types = if after { "text, text, text, text, bigint" } else { "text, text, bigint" };
            statements.push((name, sql, types));
        }
    }
    statements
}

/// The statements that read or delete events along the indexes migration 7
/// left, as (name, statement, parameter types), for the test that pins
/// their plans (no scan of the table).
#[doc(hidden)]
pub fn event_index_statements() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut statements = vec![
        ("an app's page of events", events::PENDING_EVENTS_SQL, "text, bigint, bigint, bigint"),
        ("purge by age", events::PURGE_OLD_EVENTS_SQL, "bigint"),
        ("purge of a crowded org", events::PURGE_CROWDED_ORG_SQL, "text, bigint"),
    ];
    let org_deletion = identity::PURGE_ORG_CONTENT.iter().copied();
    let events_of_an_org = org_deletion.filter(|sql| sql.starts_with("DELETE FROM events "));
    statements.extend(events_of_an_org.map(|sql| ("events of a deleted org", sql, "text")));
    statements
}

/// The statements that look dentries up by id, as (name, statement,
/// parameter types), for the test that pins their plans (each reaches its
/// dentries through the primary key, see `rows::dentries_by_id`).
#[doc(hidden)]
pub fn lookup_by_id_statements() -> Vec<(&'static str, &'static str, &'static str)> {
    use lifecycle::{ANCESTORS_SQL, LIVE_DENTRY_SQL, LIVE_MEMBERS_SQL, SUBTREE_SIZE_SQL};
    let (two, three) = ("text, text", "text, text, bigint");
    const PUTS: &str = "text[], text[], text[], text[], text[], text[], bigint[], bigint[], \
         text[], text[], text[], text[], bigint[], bigint[], text[], text[], text[], text[], \
         text[], text[], text[], text[], text[], text";
    vec![
        ("folder chain", dentries::FOLDER_CHAIN_SQL, two),
        ("ancestors", ANCESTORS_SQL, three),
        ("live members", LIVE_MEMBERS_SQL, three),
        ("subtree size", SUBTREE_SIZE_SQL, three),
        ("live dentry", LIVE_DENTRY_SQL, two),
        ("dentry with properties", dentries::DENTRY_WITH_PROPERTIES_SQL, two),
        ("dentries with properties", dentries::DENTRIES_WITH_PROPERTIES_SQL, "text, text[]"),
        ("live parent", dentries::LIVE_PARENT_SQL, two),
        ("overwrite target", dentries::OVERWRITE_TARGET_SQL, two),
        ("rename", lifecycle::tree::RENAME_SQL, "text, text, text, text, bigint, text"),
        (
            "renames at once",
            lifecycle::tree::RENAMES_AT_ONCE_SQL,
            "text[], text[], text[], text[], bigint[], text[], text",
        ),
        ("move's find", lifecycle::tree::MOVE_FIND_SQL, two),
        (
            "moves at once",
            lifecycle::tree::MOVES_AT_ONCE_SQL,
            "text[], text[], text[], text[], bigint[], text[], bigint[], bigint[], text",
        ),
        ("a batch of puts", put_batch::BATCH_SQL, PUTS),
        ("a batch of puts skipping held spaces", put_batch::BATCH_SKIPPING_SQL, PUTS),
        (
            "dentries shared with a person",
            console::PERSON_SHARED_SQL,
            "text, text, bigint, text[], bigint",
        ),
    ]
}

/// A pooled connection for transactions sent in one round trip
/// (`BEGIN`, statements, `COMMIT`, pipelined), which no `Transaction`
/// guards. A round that does not finish — its future dropped, or a
/// panic, perhaps once `BEGIN` went out without its `COMMIT` — takes the
/// connection out of the pool, closed (the server rolls back what it had
/// begun), rather than hand the next user a transaction already open.
pub(crate) struct RoundClient {
    object: Option<deadpool_postgres::Object>,
    mid_round: std::sync::atomic::AtomicBool,
}

impl RoundClient {
    /// Runs `round` (a transaction sent in one round trip on this
    /// connection) to its end.
    pub(crate) async fn round<T>(&self, round: impl std::future::Future<Output = T>) -> T {
        use std::sync::atomic::Ordering;
        self.mid_round.store(true, Ordering::Relaxed);
        let answered = round.await;
        self.mid_round.store(false, Ordering::Relaxed);
        answered
    }
}

impl std::ops::Deref for RoundClient {
    type Target = deadpool_postgres::Object;

    fn deref(&self) -> &Self::Target {
        self.object.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for RoundClient {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.object.as_mut().expect("present until dropped")
    }
}

impl Drop for RoundClient {
    fn drop(&mut self) {
        if *self.mid_round.get_mut() {
            if let Some(object) = self.object.take() {
                tracing::warn!("a round trip did not finish: its connection is closed");
                drop(deadpool_postgres::Object::take(object));
            }
        }
    }
}

/// A connection of `pool` for round trips ([`RoundClient`]).
pub(crate) async fn pooled_for_rounds(pool: &Pool) -> StoreResult<RoundClient> {
    let object = pooled(pool).await?;
    Ok(RoundClient { object: Some(object), mid_round: std::sync::atomic::AtomicBool::new(false) })
}

/// A connection of `pool`; `Unavailable` once it is closed.
pub(crate) async fn pooled(pool: &Pool) -> StoreResult<deadpool_postgres::Object> {
    use deadpool_postgres::PoolError;
    pool.get().await.map_err(|e| match e {
        // Closed (its node stopping): nothing done; another node may answer.
        PoolError::Closed => StoreError::Unavailable("the metadata store is closed".into()),
        // None free in time, or none could be made (the database down,
        // unreachable, refusing): nothing done, to be tried again.
        PoolError::Timeout(_) => StoreError::Unavailable(format!("no database connection: {e}")),
        PoolError::Backend(ref cause) => {
            connect::unreachable_or_failed("cannot connect to the database", cause)
        }
        other => StoreError::Backend(format!("no database connection: {other}")),
    })
}

/// Runs `$body` (an expression using `$t`, a `deadpool_postgres::Transaction`,
/// whose `?` takes [`DbError`]s) in one READ COMMITTED transaction of a
/// pooled connection of `$store`, committing if it returns `Ok`. A
/// serialization failure or deadlock anywhere (the body or the commit) runs
/// the whole body again, up to [`TX_ATTEMPTS`] times. Evaluates to a
/// `StoreResult`, errors mapped by [`DbError::into_store`]. A `return`
/// in the body leaves the transaction uncommitted (rolled back): use it for
/// errors only (`return Err(e)?`).
///
/// A macro rather than a function taking a closure: the body borrows the
/// caller's data and the transaction at once, which an async closure cannot
/// do while keeping the future `Send` for `async_trait`.
macro_rules! tx {
    ($store:expr, |$t:ident| $body:expr) => {{
        let mut attempt = 1u32;
        loop {
            let outcome: $crate::DbResult<_> = async {
                let mut client = $store.client().await?;
                let $t = client.transaction().await?;
                let value = $body;
                $t.commit().await.map_err(|e| $crate::DbError::from(e).at_commit())?;
                Ok(value)
            }
            .await;
            match outcome {
                Err(e) if attempt < $crate::TX_ATTEMPTS && e.is_retryable() => {
                    attempt += 1;
                    tokio::task::yield_now().await;
                }
                other => break other.map_err($crate::DbError::into_store),
            }
        }
    }};
}

/// Runs `$body` in one REPEATABLE READ, READ ONLY transaction: every
/// statement of it sees one snapshot.
macro_rules! snapshot {
    ($store:expr, |$t:ident| $body:expr) => {{
        let outcome: $crate::DbResult<_> = async {
            let mut client = $store.client().await?;
            let $t = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let value = $body;
            $t.commit().await?;
            Ok(value)
        }
        .await;
        outcome.map_err($crate::DbError::into_store)
    }};
}

/// Runs `$body` with `$c`, a pooled connection of `$store`, outside a
/// transaction (one statement, or statements that need not agree); `?`
/// takes [`DbError`]s. Evaluates to a `StoreResult`.
macro_rules! read {
    ($store:expr, |$c:ident| $body:expr) => {{
        let outcome: $crate::DbResult<_> = async {
            let $c = $store.client().await?;
            Ok($body)
        }
        .await;
        outcome.map_err($crate::DbError::into_store)
    }};
}

/// The transaction a [`tx!`] body runs in.
pub(crate) type Tx<'a> = deadpool_postgres::Transaction<'a>;

pub(crate) use {read, snapshot, tx};

/// Statement parameters.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Every row of the (cached, prepared) statement `sql`.
pub(crate) async fn all<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> DbResult<Vec<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query(&statement, params).await?)
}

/// The first row of `sql`, if any.
pub(crate) async fn one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> DbResult<Option<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&statement, params).await?)
}

/// Runs `sql`; how many rows it changed.
pub(crate) async fn exec<C: GenericClient>(c: &C, sql: &str, params: &Params<'_>) -> DbResult<u64> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

/// Prepares `statements` on the connection (from its cache but on its
/// first use), so that each request of them sent next goes out at its
/// first poll: what a pipeline sent in one go needs, since a request
/// waiting for its preparation would go out after those polled after it
/// (a `COMMIT` before a statement would leave it outside its transaction).
pub(crate) async fn prepare_all<C: GenericClient>(c: &C, statements: &[&str]) -> DbResult<()> {
    for sql in statements {
        c.prepare_cached(sql).await?;
    }
    Ok(())
}

/// The rows of a row lock over the keys `keys` (sorted): `one` (`$1`, one
/// key) when there is one, as in nearly every batch, else `many` (`$1`,
/// an array). With an array parameter PostgreSQL plans every call again:
/// a custom plan for one element looks cheaper than the generic plan's
/// assumed ten, at 80–150 µs of planning per batch.
pub(crate) async fn lock_keys<C: GenericClient>(
    c: &C,
    one: &str,
    many: &str,
    keys: &[&str],
) -> DbResult<Vec<Row>> {
    match keys {
        [key] => all(c, one, &[key]).await,
        keys => all(c, many, &[&keys]).await,
    }
}

/// The SQLSTATEs a transaction is retried on.
pub(crate) fn retryable_state(code: &str) -> bool {
    RETRY_STATES.contains(&code)
}

#[cfg(test)]
mod describe_tests {
    #[test]
    fn a_url_is_described_without_its_credentials_whatever_they_hold() {
        let url = "postgres://od:p#ss%3Fw%40rd@db.example:6432/drive?sslmode=disable";
        let described = super::describe_url(url);
        assert_eq!(described.as_deref(), Some("db.example:6432/drive, sslmode=disable"));
        let url = "postgresql://od:s3cret@h1/drive";
        assert_eq!(super::describe_url(url).as_deref(), Some("h1:5432/drive, sslmode=prefer"));
        let url = "postgresql://od:s3cret@h1/drive?sslrootcert=/etc/s3cret-ca.pem";
        let described = super::describe_url(url);
        assert_eq!(described.as_deref(), Some("h1:5432/drive, sslmode=verify-ca"));
        let url = "postgresql://od:s3cret@h1/drive?sslrootcert=system";
        let described = super::describe_url(url);
        assert_eq!(described.as_deref(), Some("h1:5432/drive, sslmode=verify-full"));
        assert_eq!(super::describe_url("postgres://[bad"), None);
    }
}

#[cfg(test)]
mod round_tests {
    use crate::testing::TestDatabase;
    use crate::{migrate, pooled, pooled_for_rounds, PgOptions, PgStore};

    async fn backend_pid(client: &tokio_postgres::Client) -> i32 {
        client.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0)
    }

    /// A round cut off after its `BEGIN` (here: dropped, as a panic or a
    /// cancelled batch drops it) does not hand its open transaction to the
    /// pool's next user: that connection is closed; a round that ends
    /// gives its connection back.
    #[tokio::test]
    async fn a_round_cut_off_mid_way_closes_its_connection() {
        let database = TestDatabase::create().await;
        migrate(&database.url).await.unwrap();
        let store = PgStore::open(&database.url, &PgOptions::default()).await.unwrap();

        let client = pooled_for_rounds(&store.pool).await.unwrap();
        let first = backend_pid(&client).await;
        client.round(async { client.batch_execute("BEGIN; COMMIT").await.unwrap() }).await;
        drop(client);
        let again = pooled(&store.pool).await.unwrap();
        assert_eq!(backend_pid(&again).await, first, "a finished round gives its connection back");
        drop(again);

        let client = pooled_for_rounds(&store.pool).await.unwrap();
        let cut = client.round(async {
            client.batch_execute("BEGIN").await.unwrap();
            std::future::pending::<()>().await
        });
        let waited = tokio::time::timeout(std::time::Duration::from_millis(200), cut).await;
        assert!(waited.is_err());
        drop(client);
        let next = pooled(&store.pool).await.unwrap();
        assert_ne!(backend_pid(&next).await, first, "not the connection left mid-transaction");
        // Its session ends (the server rolls its transaction back).
        let mut left = 1;
        for _ in 0..50 {
            let sql = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1";
            left = next.query_one(sql, &[&first]).await.unwrap().get::<_, i64>(0);
            if left == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(left, 0, "the session left mid-transaction has ended");
    }

    /// A caller that goes away while its upload is being opened (its client
    /// hung up) cuts nothing off: the opening finishes on a task of its own
    /// and its connection stays in the pool.
    #[tokio::test]
    async fn an_upload_opening_left_by_its_caller_finishes_and_keeps_its_connection() {
        use orgdrive_store::suite::fixtures::{space_with_quota, upload, LIMITS};
        use orgdrive_store::UploadStore;
        use std::time::Duration;

        let database = TestDatabase::create().await;
        migrate(&database.url).await.unwrap();
        let store = PgStore::open(&database.url, &PgOptions::default()).await.unwrap();
        space_with_quota(&store, None).await;
        // The space's row held: the opening waits for it inside its round.
        let holder = pooled(&store.pool).await.unwrap();
        holder
            .batch_execute("BEGIN; SELECT 1 FROM spaces WHERE space_id = '1' FOR UPDATE")
            .await
            .unwrap();
        let record = upload("k");
        let opening = store.insert_upload(&record, &LIMITS);
        let left = tokio::time::timeout(Duration::from_millis(300), opening).await;
        assert!(left.is_err(), "the opening waits for the space's row");
        let connections = store.pool.status().size;
        holder.batch_execute("COMMIT").await.unwrap();
        drop(holder);

        let mut opened = None;
        for _ in 0..50 {
            opened = store.get_upload("k").await.unwrap();
            if opened.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(opened.is_some(), "the opening finished though its caller went away");
        assert_eq!(store.pool.status().size, connections, "no connection was closed");
    }
}
