//! Test databases (feature `testing`): each test gets a database of its own
//! on the server named by `ORGDRIVE_TEST_PG_URL` (`scripts/postgres.sh`
//! starts one and prints its URL), dropped when the test's guard goes. For
//! this crate's tests and those of crates that run over PostgreSQL.

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
