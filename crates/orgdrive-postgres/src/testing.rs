//! Test databases (feature `testing`): each test gets a database of its own
//! on the server named by `ORGDRIVE_TEST_PG_URL` (`scripts/postgres.sh`
//! starts one and prints its URL), dropped when the test's guard goes. For
//! this crate's tests and those of crates that run over PostgreSQL; and a
//! proxy that loses the answer to a `COMMIT`.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The server the tests use; panics (the test fails) when it is not set.
pub fn server_url() -> String {
    match std::env::var("ORGDRIVE_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "ORGDRIVE_TEST_PG_URL is not set: run `export ORGDRIVE_TEST_PG_URL=\"$(bash \
             scripts/postgres.sh)\"` first (the PostgreSQL tests never skip)"
        ),
    }
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// A database of its own for one test, dropped (with whatever connections
/// are left to it) when the guard goes.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    server: String,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        TestDatabase::create_with("").await
    }

    /// A database created with `options` (e.g. `ENCODING 'SQL_ASCII' …`).
    pub async fn create_with(options: &str) -> TestDatabase {
        let server = server_url();
        let name = format!("t_{:016x}", rand::random::<u64>());
        run(&server, &format!("CREATE DATABASE {name} {options}")).await;
        let url = with_database(&server, &name);
        TestDatabase { name, url, server }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A runtime of its own, on a thread of its own: Drop runs inside the
        // test's runtime, which cannot be blocked on.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(run(&server, &sql));
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("dropping the test database {} failed", self.name);
        }
    }
}

/// Runs one statement on the server's maintenance database.
async fn run(url: &str, sql: &str) {
    let (client, driver) = connect(url).await;
    client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    drop(client);
    let _ = driver.await;
}

/// A connection of its own to `url`, as orgdrive connects (its TLS
/// options too), and the task driving it.
pub async fn connect(url: &str) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
    let (config, tls) =
        crate::connection_settings(url).unwrap_or_else(|e| panic!("the test server's URL: {e}"));
    let (client, connection) = config.connect(tls).await.unwrap_or_else(|e| {
        panic!("cannot connect to the test server: {e:?} (run scripts/postgres.sh)")
    });
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, driver)
}

/// A proxy on loopback between a store and the test server (see
/// [`behind_a_proxy_losing_a_commits_answer`]).
pub struct LosingProxy {
    /// The store's URL through the proxy.
    pub url: String,
    /// Set: the next `COMMIT` after the marker loses its answer.
    pub armed: Arc<AtomicBool>,
    /// Set: the proxy goes dark as it loses that answer.
    pub then_dark: Arc<AtomicBool>,
    /// Set (by the test or as above): the proxy forwards nothing more
    /// (every connection is cut at its next message, new ones at once):
    /// the database is out of reach until it is cleared.
    pub dark: Arc<AtomicBool>,
}

/// The store's URL of `database` through a proxy on loopback that, once
/// armed, loses the answer to a `COMMIT`: in the first connection that
/// then sends a message holding `marker` (e.g. `force_generic_plan`: a
/// batch's transaction; `SAVEPOINT`: the bodies of combined writes), it
/// forwards the next `COMMIT`, drops what the server answers on that
/// connection and cuts it once the server has answered that it committed —
/// the store never learns it — and disarms. Everything else is forwarded
/// as it is, unless the proxy is dark. The URL asks for no TLS (the proxy
/// reads the protocol's messages; the last `sslmode` of a URL is the one
/// taken).
pub async fn behind_a_proxy_losing_a_commits_answer(
    database: &TestDatabase,
    marker: &'static [u8],
) -> LosingProxy {
    let (config, _) = crate::connection_settings(&database.url).unwrap();
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("a TCP server, not {other:?}"),
    };
    let server = format!("{host}:{}", config.get_ports()[0]);
    let flag = || Arc::new(AtomicBool::new(false));
    let (armed, then_dark, dark) = (flag(), flag(), flag());
    let flags = [&armed, &then_dark, &dark].map(Arc::clone);
    let proxy = proxy_losing_a_commits_answer(server.clone(), flags, marker).await;
    let in_clear = if database.url.contains('?') { "&sslmode=disable" } else { "?sslmode=disable" };
    let url = database.url.replacen(&server, &proxy, 1) + in_clear;
    assert!(url.contains(&proxy), "{url}");
    LosingProxy { url, armed, then_dark, dark }
}

/// The proxy of [`behind_a_proxy_losing_a_commits_answer`] to `server`;
/// answers its address.
async fn proxy_losing_a_commits_answer(
    server: String,
    [armed, then_dark, dark]: [Arc<AtomicBool>; 3],
    marker: &'static [u8],
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let holds = |chunk: &[u8], what: &[u8]| chunk.windows(what.len()).any(|w| w == what);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            if dark.load(SeqCst) {
                continue; // dropped: closed at once
            }
            let upstream = tokio::net::TcpStream::connect(&server).await.unwrap();
            let (mut from_client, mut to_client) = client.into_split();
            let (mut from_server, mut to_server) = upstream.into_split();
            let (cut, armed, then_dark) =
                (Arc::new(AtomicBool::new(false)), armed.clone(), then_dark.clone());
            let (deaf, dark_down, dark_up) = (cut.clone(), dark.clone(), dark.clone());
            let (committed, commit_seen) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = from_server.read(&mut buffer).await {
                    if deaf.load(SeqCst) {
                        // Dropped; the commit's tag ends the connection.
                        if holds(&buffer[..n], b"COMMIT\0") {
                            let _ = committed.send(());
                            break;
                        }
                    } else if dark_down.load(SeqCst)
                        || to_client.write_all(&buffer[..n]).await.is_err()
                    {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let mut marked = false;
                while let Ok(n @ 1..) = from_client.read(&mut buffer).await {
                    let chunk = &buffer[..n];
                    marked |= armed.load(SeqCst) && holds(chunk, marker);
                    // The query `COMMIT` (not the `COMMITTED` of an isolation level).
                    let cutting = marked && holds(chunk, b"COMMIT\0") && armed.swap(false, SeqCst);
                    if cutting {
                        cut.store(true, SeqCst);
                        dark_up.fetch_or(then_dark.load(SeqCst), SeqCst);
                    } else if dark_up.load(SeqCst) {
                        break;
                    }
                    if to_server.write_all(chunk).await.is_err() {
                        break;
                    }
                    if cutting {
                        let _ = tokio::time::timeout(Duration::from_secs(30), commit_seen).await;
                        break;
                    }
                }
                // Both halves of both connections are dropped: cut.
            });
        }
    });
    address
}

/// The first column (text) of every row of `sql`, run on a connection of
/// `store`'s own pool (its sessions as the store sets them up).
pub async fn pooled_rows(store: &crate::PgStore, sql: &str) -> Vec<String> {
    let client = store.client().await.unwrap();
    client.query(sql, &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

/// A connection of `store`'s own pool inside a transaction that ran
/// `sql` and then waits: a node stopped in the middle of its work.
pub async fn pooled_holding(store: &crate::PgStore, sql: &str) -> deadpool_postgres::Object {
    let holder = store.client().await.unwrap();
    holder.batch_execute(&format!("BEGIN; {sql}")).await.unwrap();
    holder
}
