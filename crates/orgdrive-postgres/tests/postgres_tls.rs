//! TLS to PostgreSQL (`connect.rs`): the test server (`scripts/postgres.sh`)
//! offers TLS with a certificate its own CA signed for `localhost` and
//! `127.0.0.1`, and `ORGDRIVE_TEST_PG_URL` names that CA
//! (`sslmode=verify-full&sslrootcert=…/ca.crt`); `other-ca.crt` beside it
//! is a CA that signed nothing. Each `sslmode` is tried against it, and
//! what the server saw of each connection (`pg_stat_ssl`) is asserted.

mod common;

use orgdrive_postgres::{PgOptions, PgStore};
use orgdrive_store::{IdentityStore, MaintenanceStore};

use common::TestDatabase;

/// The test server's CA file, and the other CA beside it.
fn cas() -> (String, String) {
    let url = common::server_url();
    let ca = url
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("sslrootcert="))
        .unwrap_or_else(|| {
            panic!(
                "ORGDRIVE_TEST_PG_URL names no sslrootcert: the TLS tests need the test \
                 server's CA (the URL scripts/postgres.sh prints names it)"
            )
        })
        .to_string();
    let other = std::path::Path::new(&ca).with_file_name("other-ca.crt");
    (ca, other.display().to_string())
}

/// `database`'s URL with its TLS options replaced by `options`, reaching
/// the server as `host` (the name TLS checks) at its address.
fn url_with(database: &TestDatabase, host: &str, options: &str) -> String {
    let (config, _) = orgdrive_postgres::connection_settings(&database.url).unwrap();
    let port = config.get_ports()[0];
    let address = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(address) => address.clone(),
        other => panic!("a TCP server, not {other:?}"),
    };
    let sep = if options.is_empty() { "" } else { "&" };
    // Named for what it asks: the connections of one URL are told apart.
    let name: String = format!("{host} {options}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(60)
        .collect();
    format!(
        "postgres://orgdrive:orgdrive@{host}:{port}/{}?hostaddr={address}\
         &application_name={name}{sep}{options}",
        database.name
    )
}

/// The `application_name` of `url`.
fn name_in(url: &str) -> String {
    url.split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("application_name="))
        .expect("an application_name")
        .to_string()
}

/// Whether each connection to `database` that `url` opened is encrypted,
/// as the server says: `true` or `false`, one a connection.
async fn encrypted_connections(database: &TestDatabase, url: &str) -> Vec<String> {
    let (client, _driver) = common::connect(&common::server_url()).await;
    client
        .query(
            "SELECT s.ssl::text FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
             WHERE a.datname = $1 AND a.application_name = $2 ORDER BY 1",
            &[&database.name, &name_in(url)],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Opens a store on `url` and makes it use a connection of its pool and
/// its listener's: its connections as the server sees them.
async fn connections_of_a_store_on(url: &str, database: &TestDatabase) -> Vec<String> {
    let store = PgStore::open(url, &PgOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    store.list_orgs().await.unwrap();
    let _listener = store.listen_changes().await.unwrap();
    let seen = encrypted_connections(database, url).await;
    store.close().await;
    seen
}

async fn refusal_of(url: &str) -> String {
    match PgStore::open(url, &PgOptions::default()).await {
        Ok(_) => panic!("{url} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn verify_full_encrypts_every_connection_of_the_store() {
    let database = TestDatabase::create().await;
    let (ca, _) = cas();
    let url = url_with(&database, "localhost", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let seen = connections_of_a_store_on(&url, &database).await;
    // The pool's connection and the listener's, at least; all encrypted.
    assert!(seen.len() >= 2 && seen.iter().all(|ssl| ssl == "true"), "{seen:?}");
    // Through the IP address the certificate names too.
    let url = url_with(&database, "127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let seen = connections_of_a_store_on(&url, &database).await;
    assert!(!seen.is_empty() && seen.iter().all(|ssl| ssl == "true"), "{seen:?}");
}

#[tokio::test]
async fn a_certificate_no_trusted_ca_signed_is_refused() {
    let database = TestDatabase::create().await;
    let (_, other) = cas();
    for mode in ["verify-full", "verify-ca", "require"] {
        let url = url_with(&database, "localhost", &format!("sslmode={mode}&sslrootcert={other}"));
        let refused = refusal_of(&url).await;
        assert!(refused.contains("UnknownIssuer"), "{mode}: {refused}");
        assert!(!refused.contains("orgdrive:orgdrive"), "the password is not told: {refused}");
    }
    // Nor is the test CA one of the system's: `system` refuses it too (or
    // finds no CA on a system without any).
    let refused = refusal_of(&url_with(&database, "localhost", "sslrootcert=system")).await;
    assert!(
        refused.contains("UnknownIssuer") || refused.contains("no CA certificate"),
        "{refused}"
    );
}

#[tokio::test]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let database = TestDatabase::create().await;
    let (ca, _) = cas();
    // The certificate is for localhost and 127.0.0.1, not for this name.
    let full = url_with(&database, "db.example", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let refused = refusal_of(&full).await;
    assert!(refused.contains("not valid for name \"db.example\""), "{refused}");
    let ca_only = url_with(&database, "db.example", &format!("sslmode=verify-ca&sslrootcert={ca}"));
    let seen = connections_of_a_store_on(&ca_only, &database).await;
    assert!(!seen.is_empty() && seen.iter().all(|ssl| ssl == "true"), "{seen:?}");
}

#[tokio::test]
async fn require_and_prefer_encrypt_without_checking_and_disable_does_not_encrypt() {
    let database = TestDatabase::create().await;
    for options in ["sslmode=require", "sslmode=prefer", ""] {
        // No CA given: any certificate is taken (libpq's meaning).
        let seen =
            connections_of_a_store_on(&url_with(&database, "db.example", options), &database).await;
        assert!(!seen.is_empty() && seen.iter().all(|ssl| ssl == "true"), "{options}: {seen:?}");
    }
    let seen =
        connections_of_a_store_on(&url_with(&database, "localhost", "sslmode=disable"), &database)
            .await;
    assert!(!seen.is_empty() && seen.iter().all(|ssl| ssl == "false"), "{seen:?}");
}

#[tokio::test]
async fn orgdrive_migrate_connects_as_the_store_does() {
    let database = TestDatabase::create().await;
    let (ca, other) = cas();
    let refused = orgdrive_postgres::migrate(&url_with(
        &database,
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={other}"),
    ))
    .await
    .expect_err("a certificate of an untrusted CA");
    assert!(refused.to_string().contains("UnknownIssuer"), "{refused}");
    let url = url_with(&database, "localhost", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let report = orgdrive_postgres::migrate(&url).await.unwrap();
    assert_eq!(report.to_version, orgdrive_postgres::SCHEMA_VERSION);
}

/// A Unix socket (`scripts/postgres.sh` puts the server's beside its TLS
/// directory) goes without TLS whatever the `sslmode`, as in libpq:
/// PostgreSQL offers none there.
#[tokio::test]
async fn a_unix_socket_connects_without_tls_whatever_the_mode() {
    let database = TestDatabase::create().await;
    let (ca, _) = cas();
    let sockets = std::path::Path::new(&ca).parent().unwrap().with_file_name("run");
    let encoded = sockets.display().to_string().replace('/', "%2F");
    let (config, _) = orgdrive_postgres::connection_settings(&database.url).unwrap();
    let port = config.get_ports()[0];
    for mode in ["disable", "prefer", "require", "verify-full"] {
        let url = format!(
            "postgres://orgdrive@{encoded}:{port}/{}?application_name=socket_{mode}\
             &sslmode={mode}&sslrootcert={ca}",
            database.name
        );
        let seen = connections_of_a_store_on(&url, &database).await;
        assert!(!seen.is_empty() && seen.iter().all(|ssl| ssl == "false"), "{mode}: {seen:?}");
    }
}
