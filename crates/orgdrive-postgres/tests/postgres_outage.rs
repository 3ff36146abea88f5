//! The database out of reach (`connect.rs`, `lib.rs pooled`): a server that
//! accepts connections and answers nothing, and one that went away under
//! an open store. Calls fail in bounded time as `Unavailable` (answered
//! 503), and the store recovers by itself when the database is back.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use orgdrive_postgres::{PgOptions, PgStore};
use orgdrive_store::{IdentityStore, StoreError};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use common::TestDatabase;

/// The `host:port` the test database's `url` reaches.
fn server_of(url: &str) -> String {
    let (config, _) = orgdrive_postgres::connection_settings(url).unwrap();
    match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => format!("{host}:{}", config.get_ports()[0]),
        other => panic!("a TCP server, not {other:?}"),
    }
}

/// `url` reaching the server at `address` instead, with `options` added.
fn through(url: &str, address: &str, options: &str) -> String {
    let server = server_of(url);
    assert!(url.contains(&server), "{url}");
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{}{sep}{options}", url.replacen(&server, address, 1))
}

#[tokio::test]
async fn a_server_that_answers_nothing_fails_the_connection_within_connect_timeout() {
    let database = TestDatabase::create().await;
    // Accepts TCP connections (as a frozen server's kernel does) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap().to_string();
    let holding = tokio::spawn(async move {
        let mut accepted = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            accepted.push(socket);
        }
    });
    let url = through(&database.url, &address, "connect_timeout=1");
    let started = Instant::now();
    let migrated = tokio::time::timeout(Duration::from_secs(20), orgdrive_postgres::migrate(&url))
        .await
        .expect("the connection is bounded by connect_timeout");
    assert!(matches!(migrated, Err(StoreError::Unavailable(_))), "{migrated:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    holding.abort();
}

/// A TCP relay to `server` whose connections, and itself, can be cut.
struct Relay {
    address: String,
    tasks: Arc<std::sync::Mutex<JoinSet<()>>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Listens on `port` (0: any free one; else once it is free again).
    async fn start(port: u16, server: String) -> Relay {
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let address = listener.local_addr().unwrap().to_string();
        let tasks = Arc::new(std::sync::Mutex::new(JoinSet::new()));
        let spawned = tasks.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let server = server.clone();
                spawned.lock().unwrap().spawn(async move {
                    if let Ok(mut upstream) = tokio::net::TcpStream::connect(&server).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
            }
        });
        Relay { address, tasks, accepting }
    }

    /// Closes every connection and stops listening: connecting is refused.
    fn cut(self) {
        self.accepting.abort();
        self.tasks.lock().unwrap().abort_all();
    }
}

#[tokio::test]
async fn a_database_gone_under_an_open_store_is_unavailable_then_back() {
    let database = TestDatabase::create().await;
    let server = server_of(&database.url);
    let relay = Relay::start(0, server.clone()).await;
    let port = relay.address.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    // The relay's address, the certificate's name checked against `host`.
    let url = through(&database.url, &relay.address, "");
    let options = PgOptions { max_connections: 2, ..PgOptions::default() };
    let store = PgStore::open(&url, &options).await.unwrap();
    store.list_orgs().await.unwrap();
    relay.cut();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let listed = tokio::time::timeout(Duration::from_secs(20), store.list_orgs())
        .await
        .expect("no wait for a database gone");
    assert!(matches!(listed, Err(StoreError::Unavailable(_))), "{listed:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // Back on the same address: the store connects again by itself.
    let back = Relay::start(port, server).await;
    let listed = store.list_orgs().await;
    assert!(listed.is_ok(), "{listed:?}");
    back.cut();
}

/// Hosts are tried in turn, as in libpq: the first refusing connections,
/// the second answers (each attempt bounded by `connect_timeout`, the
/// whole connection by as many times it as there are hosts).
#[tokio::test]
async fn the_next_host_is_tried_when_the_first_refuses() {
    let database = TestDatabase::create().await;
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let server = server_of(&database.url);
    let url = through(&database.url, &format!("{closed_address},{server}"), "connect_timeout=2");
    orgdrive_postgres::migrate(&url).await.unwrap();
    let store = PgStore::open(&url, &PgOptions::default()).await.unwrap();
    store.list_orgs().await.unwrap();
}

/// Refused for now — nothing listening, or the server turning sessions
/// away (here its database's connection limit, SQLSTATE 53300) — is
/// `Unavailable` (503, worth trying again); a wrong password is not.
#[tokio::test]
async fn a_refused_connection_is_unavailable_and_a_wrong_password_is_not() {
    let database = TestDatabase::create().await;
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let nothing_there =
        orgdrive_postgres::migrate(&through(&database.url, &closed_address, "")).await;
    assert!(matches!(nothing_there, Err(StoreError::Unavailable(_))), "{nothing_there:?}");
    let wrong = database.url.replacen("orgdrive:orgdrive@", "orgdrive:wrong@", 1);
    assert_ne!(wrong, database.url);
    let refused = orgdrive_postgres::migrate(&wrong).await;
    assert!(matches!(refused, Err(StoreError::Backend(_))), "{refused:?}");
    let (admin, _driver) = common::connect(&common::server_url()).await;
    let limit = format!("ALTER DATABASE {} CONNECTION LIMIT 0", database.name);
    admin.batch_execute(&limit).await.unwrap();
    let turned_away = orgdrive_postgres::migrate(&database.url).await;
    match turned_away {
        Err(StoreError::Unavailable(why)) => assert!(why.contains("53300"), "{why}"),
        other => panic!("{other:?}"),
    }
}
