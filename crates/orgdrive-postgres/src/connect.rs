//! How orgdrive reaches PostgreSQL: the connection URL read as libpq reads
//! it, TLS included, and the one connector every connection of the store
//! uses (the pool's, the migrations', the cache relay's listener).
//!
//! The driver knows `sslmode=disable|prefer|require` only and refuses
//! libpq's other TLS options, which the URLs of managed databases carry
//! (`sslmode=verify-full&sslrootcert=…`). They are taken out of the URL
//! here, with libpq's meanings:
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | – |
//! | `prefer` (the default) | if the server offers it | not checked |
//! | `require` | always | not checked, unless `sslrootcert` is given: then as `verify-ca` |
//! | `verify-ca` | always | signed by a CA of `sslrootcert`, which must be a file |
//! | `verify-full` | always | signed so, and naming the host connected to (DNS name or IP address) |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the
//! system's (`rustls-native-certs`), which is also what `verify-full` uses
//! without it; `sslrootcert=system` with no `sslmode` means `verify-full`
//! and refuses the other modes, as libpq 16 does. Client certificates
//! (`sslcert`, `sslkey`) are refused by name. libpq's environment
//! (`PGSSLMODE`, `PGSSLROOTCERT`, `~/.postgresql/root.crt`) is not read:
//! the URL says it all. A Unix socket goes without TLS, as in libpq (a
//! socket directory with `hostaddr`, TCP with no name to check, is
//! refused unless `disable`); `prefer` with a CA file checks as
//! `verify-ca` (libpq would fall back to no TLS when the check fails).
//! Whatever the mode, a TLS handshake's signatures are verified with the
//! server's key (rustls, ring): "not checked" means any certificate is
//! accepted as the server's, which protects from eavesdroppers, not from
//! an impostor on the path.
//!
//! The network's waits are bounded unless the URL says otherwise
//! (`bound_the_waits`: connecting 10 s, unacknowledged data 30 s,
//! keepalives after 30 s idle), `connect_timeout` bounds the whole of a
//! connection for each host ([`connect`]), and `tcp_user_timeout` is read in
//! milliseconds, as libpq reads it (the driver would take seconds).
//!
//! A URL the driver and libpq would read differently is refused: the
//! driver ends the credentials at the first `@` anywhere, libpq at the
//! first before a `/`, so an `@` after the host, or a `?` before the
//! credentials' `@`, must be escaped (`%40`, `%3F`).

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{ready, Either, MapErr, Ready};
use futures::TryFutureExt;
use orgdrive_store::{StoreError, StoreResult};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::Config;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The connector of every connection the store opens: rustls, checking
/// the server's certificate as the URL's `sslmode` says. A connection with
/// no host name (a Unix socket, where PostgreSQL offers no TLS) gets a
/// connector that only fails if TLS is ever started on it; rustls's own
/// would fail at once, whatever the `sslmode`.
#[derive(Clone)]
pub struct Tls(MakeRustlsConnect);

impl<S> MakeTlsConnect<S> for Tls
where
    MakeRustlsConnect: MakeTlsConnect<S>,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = Named<<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, hostname: &str) -> Result<Self::TlsConnect, Self::Error> {
        if hostname.is_empty() {
            return Ok(Named(None));
        }
        self.0.make_tls_connect(hostname).map(|connect| Named(Some(connect)))
    }
}

/// A TLS handshake to a host of that name, or none without a name.
pub struct Named<T>(Option<T>);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, T: TlsConnect<S>> TlsConnect<S> for Named<T> {
    type Stream = T::Stream;
    type Error = BoxError;
    type Future =
        Either<MapErr<T::Future, fn(T::Error) -> BoxError>, Ready<Result<T::Stream, BoxError>>>;

    fn connect(self, stream: S) -> Self::Future {
        match self.0 {
            Some(connect) => {
                Either::Left(connect.connect(stream).map_err(Into::into as fn(_) -> _))
            }
            None => Either::Right(ready(Err(
                "TLS needs the server's host name (host=NAME in the URL)".into(),
            ))),
        }
    }
}

/// What a connection URL says: the driver's configuration, and how TLS
/// checks the server.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) config: Config,
    mode: Mode,
    roots: Option<Roots>,
}

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where the trusted CA certificates come from (`sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    System,
    File(PathBuf),
}

impl Target {
    /// Reads `url` (a `postgres://` URL or a `key=value` string). Its
    /// errors name the option at fault, never the password.
    pub(crate) fn parse(url: &str) -> StoreResult<Target> {
        let (rest, options, keys) = take_tls_options(url)?;
        let mut config = rest.parse::<Config>().map_err(|e| bad_url(&crate::error::words(&e)))?;
        let mut mode = None;
        let mut roots = None;
        for (key, value) in options {
            match key.as_str() {
                "sslmode" => {
                    mode = Some(match value.as_str() {
                        "disable" => Mode::Disable,
                        "allow" | "prefer" => Mode::Prefer,
                        "require" => Mode::Require,
                        "verify-ca" => Mode::VerifyCa,
                        "verify-full" => Mode::VerifyFull,
                        other => {
                            return Err(bad_url(&format!(
                                "sslmode {other:?} is not one of disable, allow, prefer, \
                                 require, verify-ca, verify-full"
                            )))
                        }
                    })
                }
                "sslrootcert" if value.is_empty() => {
                    return Err(bad_url("sslrootcert is empty"));
                }
                "sslrootcert" if value == "system" => roots = Some(Roots::System),
                "sslrootcert" => roots = Some(Roots::File(PathBuf::from(value))),
                // libpq counts it in milliseconds, the driver in seconds.
                "tcp_user_timeout" => {
                    let ms: u64 = value.parse().map_err(|_| {
                        bad_url("tcp_user_timeout is not a whole number of milliseconds")
                    })?;
                    config.tcp_user_timeout(Duration::from_millis(ms));
                }
                other => {
                    return Err(bad_url(&format!(
                        "{other} (a client certificate) is not supported: the server must \
                         authenticate orgdrive's role by password"
                    )))
                }
            }
        }
        let mut mode = match (mode, &roots) {
            (Some(mode), _) => mode,
            (None, Some(Roots::System)) => Mode::VerifyFull,
            (None, _) => Mode::Prefer,
        };
        if mode == Mode::Prefer && matches!(roots, Some(Roots::File(_))) {
            // libpq checks the chain then, and falls back to no TLS when it
            // fails; TLS checked, or no connection, is what is kept here.
            mode = Mode::VerifyCa;
        }
        if roots == Some(Roots::System) && mode != Mode::VerifyFull {
            return Err(bad_url(
                "sslrootcert=system trusts any public CA, so it needs sslmode=verify-full",
            ));
        }
        if mode == Mode::VerifyCa && !matches!(roots, Some(Roots::File(_))) {
            // Any public CA, with no name checked, would do otherwise.
            return Err(bad_url(
                "sslmode=verify-ca needs sslrootcert=FILE: the CA that signed the server's \
                 certificate (or use verify-full)",
            ));
        }
        let hosts = config.get_hosts();
        let sockets = hosts.iter().filter(|host| matches!(host, Host::Unix(_))).count();
        let addresses = !config.get_hostaddrs().is_empty();
        if sockets > 0 && addresses && mode != Mode::Disable {
            // The driver then connects over TCP to the addresses, with no
            // name for TLS to check.
            return Err(bad_url(
                "hostaddr with a socket directory as host connects over TCP with no host \
                 name for TLS: give host=NAME, or sslmode=disable",
            ));
        }
        if sockets > 0 && sockets == hosts.len() && !addresses {
            // As libpq: no TLS on a Unix socket (PostgreSQL offers none there).
            mode = Mode::Disable;
        } else if hosts.is_empty() && addresses {
            // Addresses alone: TLS checks the names they are written as.
            for address in config.get_hostaddrs().to_vec() {
                config.host(address.to_string());
            }
        }
        bound_the_waits(&mut config, &keys);
        config.ssl_mode(match mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        });
        Ok(Target { config, mode, roots })
    }

    /// The `sslmode` taken, as libpq names it.
    pub(crate) fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }

    /// The connector, its trusted certificates read now (a file named by
    /// `sslrootcert` is read once, when the store opens).
    pub(crate) fn tls(&self) -> StoreResult<Tls> {
        Ok(Tls(MakeRustlsConnect::new(self.client_config()?)))
    }

    /// rustls's configuration: the server's certificate checked as the
    /// mode says.
    fn client_config(&self) -> StoreResult<ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Backend(format!("TLS to PostgreSQL: {e}")))?;
        let checked = match (self.mode, &self.roots) {
            (Mode::Disable | Mode::Prefer, _) | (Mode::Require, None) => None,
            (Mode::Require, Some(roots)) => Some((false, roots.clone())),
            (Mode::VerifyCa, roots) => Some((false, roots.clone().unwrap_or(Roots::System))),
            (Mode::VerifyFull, roots) => Some((true, roots.clone().unwrap_or(Roots::System))),
        };
        let algorithms = provider.signature_verification_algorithms;
        let lenient = |chain| Arc::new(Lenient { chain, algorithms });
        let config = match checked {
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(lenient(None))
                .with_no_client_auth(),
            Some((names_checked, roots)) => {
                let roots = Arc::new(root_store(&roots)?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| StoreError::Backend(format!("TLS to PostgreSQL: {e}")))?;
                if names_checked {
                    builder.with_webpki_verifier(webpki).with_no_client_auth()
                } else {
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(lenient(Some(webpki)))
                        .with_no_client_auth()
                }
            }
        };
        Ok(config)
    }
}

/// The network's waits a URL leaves to the driver's defaults (none, or
/// the system's: a connection to a host gone silent would hang for many
/// minutes) bounded: connecting takes at most [`CONNECT_TIMEOUT`]; data
/// sent and not acknowledged for [`UNACKNOWLEDGED`] ends the connection;
/// an idle connection is probed after [`KEEPALIVE_IDLE`], every
/// [`KEEPALIVE_INTERVAL`], [`KEEPALIVE_RETRIES`] times, so a peer gone
/// (a failover, a cut network) is noticed within a minute. A URL's own
/// `connect_timeout`, `tcp_user_timeout`, `keepalives_*` are kept.
fn bound_the_waits(config: &mut Config, given: &HashSet<String>) {
    let unset = |key: &str| !given.contains(key);
    if unset("connect_timeout") {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if unset("tcp_user_timeout") {
        config.tcp_user_timeout(UNACKNOWLEDGED);
    }
    if unset("keepalives_idle") {
        config.keepalives_idle(KEEPALIVE_IDLE);
    }
    if unset("keepalives_interval") {
        config.keepalives_interval(KEEPALIVE_INTERVAL);
    }
    if unset("keepalives_retries") {
        config.keepalives_retries(KEEPALIVE_RETRIES);
    }
}

/// What a session asks of the server so that it lets go of a node that
/// stopped in the middle of its work: frozen (a paused VM, a stopped
/// process, which its kernel still answers for), its host gone, or cut
/// off. Left to PostgreSQL's built-in defaults, such a node's session
/// would hold the row locks of its open transaction — a space's row,
/// which every write of that space waits for on every other node — until
/// the system's keepalives give up, two hours later on Linux. So the
/// server ends a session idle inside a transaction for
/// [`IDLE_IN_TRANSACTION`] (orgdrive's transactions wait for nothing but
/// the database), probes an idle connection as the node probes its own
/// end, and drops one whose sent data goes unacknowledged for
/// [`UNACKNOWLEDGED`]. Each is set for the session only where the server
/// still has PostgreSQL's built-in default: a value the DBA set
/// (`postgresql.conf`, `ALTER DATABASE`/`ALTER ROLE … SET`) or the URL's
/// `options` did is kept. One statement, run once a connection is made.
pub(crate) fn session_bounds() -> String {
    let bounds = [
        ("idle_in_transaction_session_timeout", format!("{}ms", IDLE_IN_TRANSACTION.as_millis())),
        ("tcp_keepalives_idle", KEEPALIVE_IDLE.as_secs().to_string()),
        ("tcp_keepalives_interval", KEEPALIVE_INTERVAL.as_secs().to_string()),
        ("tcp_keepalives_count", KEEPALIVE_RETRIES.to_string()),
        ("tcp_user_timeout", UNACKNOWLEDGED.as_millis().to_string()),
    ];
    let values: Vec<String> =
        bounds.iter().map(|(name, value)| format!("('{name}', '{value}')")).collect();
    format!(
        "SELECT set_config(b.name, b.value, false) FROM (VALUES {}) AS b(name, value) \
         JOIN pg_settings s ON s.name = b.name WHERE s.source = 'default'",
        values.join(", ")
    )
}

/// Runs [`session_bounds`] on a new session. A server that cannot take it
/// (one compatible with PostgreSQL but without these settings) is warned
/// about, not refused: the session then has the server's own bounds.
pub(crate) async fn bound_the_session(client: &tokio_postgres::Client, bounds: &str) {
    if let Err(e) = client.batch_execute(bounds).await {
        tracing::warn!(error = %crate::error::words(&e), "the session's bounds were not set");
    }
}

/// Connects with `config` through `tls`, the whole of it (TCP, TLS,
/// login) bounded by [`whole_connection_limit`] (the driver bounds the TCP
/// connection only: a frozen server accepts that and answers nothing).
/// For connections of their own (migrations, the cache relay's listener);
/// the pool bounds its own the same way.
pub(crate) async fn connect(
    config: &Config,
    tls: &Tls,
) -> StoreResult<(
    tokio_postgres::Client,
    tokio_postgres::Connection<
        tokio_postgres::Socket,
        <Tls as MakeTlsConnect<tokio_postgres::Socket>>::Stream,
    >,
)> {
    let connecting = config.connect(tls.clone());
    let connected = match whole_connection_limit(config) {
        Some(limit) => tokio::time::timeout(limit, connecting).await.map_err(|_| {
            StoreError::Unavailable(format!(
                "cannot connect to PostgreSQL: no session within {} s (connect_timeout per host)",
                limit.as_secs()
            ))
        })?,
        None => connecting.await,
    };
    connected.map_err(|e| unreachable_or_failed("cannot connect to PostgreSQL", &e))
}

/// How long making a connection may take in all: `connect_timeout` for
/// each host the driver may try (libpq bounds each host's attempt; the
/// addresses of one host name share it here); `None` with no
/// `connect_timeout` (or `0`).
pub(crate) fn whole_connection_limit(config: &Config) -> Option<Duration> {
    let hosts = config.get_hosts().len().max(config.get_hostaddrs().len()).max(1);
    config.get_connect_timeout().map(|each| *each * hosts as u32)
}

/// A failure to get a session: [`StoreError::Unavailable`] when the
/// server could not be reached or refused sessions for now (too many
/// connections, starting, shutting down: worth trying again), else
/// `Backend` (a wrong password, a database that does not exist). The
/// message is `what`, then the driver's or the server's words.
pub(crate) fn unreachable_or_failed(what: &str, e: &tokio_postgres::Error) -> StoreError {
    const FOR_NOW: [&str; 9] =
        ["53300", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"];
    let why = crate::error::words(e);
    match e.as_db_error() {
        Some(db) if !FOR_NOW.contains(&db.code().code()) => {
            StoreError::Backend(format!("{what}: {why}"))
        }
        _ => StoreError::Unavailable(format!("{what}: {why}")),
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const UNACKNOWLEDGED: Duration = Duration::from_secs(30);
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;
/// How long a session may sit inside a transaction without a statement
/// before the server ends it (see [`session_bounds`]).
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(30);

fn bad_url(why: &str) -> StoreError {
    StoreError::Backend(format!("bad PostgreSQL URL: {why}"))
}

/// What [`take_tls_options`] found: the rest of the URL, the options
/// taken as (key, value) in order, and the keys of every option given.
type Taken = (String, Vec<(String, String)>, HashSet<String>);

/// The options the driver does not take, or reads otherwise than libpq
/// (`sslmode`, `sslrootcert`, the client certificate's, to be refused by
/// name, and `tcp_user_timeout`, which the driver reads in seconds),
/// taken out of `url`.
fn take_tls_options(url: &str) -> StoreResult<Taken> {
    const TAKEN: [&str; 5] = ["sslmode", "sslrootcert", "sslcert", "sslkey", "tcp_user_timeout"];
    let prefix = ["postgres://", "postgresql://"].into_iter().find(|p| url.starts_with(p));
    let mut options = Vec::new();
    let mut keys = HashSet::new();
    let Some(prefix) = prefix else {
        // key=value pairs, separated by blanks; a value may be quoted.
        let mut kept = String::with_capacity(url.len());
        for (key, value, raw) in key_value_pairs(url)? {
            keys.insert(key.clone());
            if TAKEN.contains(&key.as_str()) {
                options.push((key, value));
            } else {
                kept.push_str(raw);
                kept.push(' ');
            }
        }
        return Ok((kept, options, keys));
    };
    // The driver ends the credentials at the first `@` anywhere, libpq at
    // the first before a `/`: an `@` after a `/` or `?` (in the database
    // name or an option, or a `?` in the password) would be read two ways,
    // the options hidden in a password by one of them. Refused.
    let body = &url[prefix.len()..];
    if let (Some(at), Some(stop)) = (body.find('@'), body.find(['/', '?'])) {
        if at > stop {
            return Err(bad_url(
                "an @ after the host, or a ? before the @ of the credentials, must be \
                 written %40 or %3F",
            ));
        }
    }
    // The query starts at the first `?` after the credentials.
    let after_credentials = body.find('@').map_or(0, |at| at + 1);
    let Some(question) = body[after_credentials..].find('?') else {
        return Ok((url.to_string(), options, keys));
    };
    let (head, query) = body.split_at(after_credentials + question);
    let mut kept: Vec<&str> = Vec::new();
    for pair in query[1..].split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decoded(key)?;
        keys.insert(key.to_string());
        if TAKEN.contains(&key.as_ref()) {
            options.push((key.into_owned(), percent_decoded(value)?.into_owned()));
        } else {
            kept.push(pair);
        }
    }
    let mut rest = format!("{prefix}{head}");
    if !kept.is_empty() {
        rest.push('?');
        rest.push_str(&kept.join("&"));
    }
    Ok((rest, options, keys))
}

/// `%XX` escapes of a URL's query decoded (UTF-8).
fn percent_decoded(s: &str) -> StoreResult<Cow<'_, str>> {
    if !s.contains('%') {
        return Ok(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(
                hex.ok_or_else(|| bad_url("a % in the query is not followed by two hex digits"))?,
            );
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map(Cow::Owned).map_err(|_| bad_url("the query is not UTF-8"))
}

/// The `key=value` pairs of a connection string as the driver reads them
/// (blanks around `=` allowed; a value in single quotes may hold blanks;
/// a backslash escapes the next character): (key, value, the pair as
/// written).
fn key_value_pairs(s: &str) -> StoreResult<Vec<(String, String, &str)>> {
    let mut pairs = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else { return Ok(pairs) };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(bad_url("a parameter of the connection string has no value"));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, c)) => value.push(c),
                    None => return Err(bad_url("a value of the connection string ends in \\")),
                },
                Some((i, '\'')) if quoted => break i + 1,
                Some((i, c)) if !quoted && c.is_whitespace() => break i,
                Some((_, c)) => value.push(c),
                None if quoted => {
                    return Err(bad_url("a quoted value of the connection string is not closed"))
                }
                None => break s.len(),
            }
        };
        pairs.push((key, value, &s[start..end]));
    }
}

/// The CA certificates `roots` names.
fn root_store(roots: &Roots) -> StoreResult<RootCertStore> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(StoreError::Backend(
                    "TLS to PostgreSQL: no CA certificate found on this system \
                     (give the database's CA as sslrootcert=FILE)"
                        .into(),
                ));
            }
        }
        Roots::File(path) => {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| StoreError::Backend(format!("sslrootcert {shown}: {e}")))?;
            for cert in certs {
                store.add(cert).map_err(|e| {
                    StoreError::Backend(format!("sslrootcert {shown}: a certificate: {e}"))
                })?;
            }
            if store.is_empty() {
                return Err(StoreError::Backend(format!(
                    "sslrootcert {shown}: no PEM certificate in it"
                )));
            }
        }
    }
    Ok(store)
}

/// The server's certificate checked less than webpki checks it, as
/// libpq's weaker modes say; the handshake's signatures are verified with
/// the certificate's key whatever the mode.
#[derive(Debug)]
struct Lenient {
    /// `verify-ca`: the chain must lead to a trusted CA, the name the
    /// certificate is for not compared with the host's. `None` (`prefer`,
    /// `require` without a CA): any certificate is taken as the server's.
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> Target {
        Target::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn refused(url: &str) -> String {
        match Target::parse(url) {
            Ok(target) => panic!("{url} was taken: {target:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn tls_options_leave_the_rest_of_a_url_as_it_was() {
        let (rest, options, _) = take_tls_options(
            "postgres://u:p%3Fw@h1:5432,h2/db?application_name=a&sslmode=verify-full\
             &sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p%3Fw@h1:5432,h2/db?application_name=a&connect_timeout=3");
        let expected = [("sslmode", "verify-full"), ("sslrootcert", "/etc/ca.pem")];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(options, expected);
        // A `?` in the credentials is written %3F.
        let (rest, options, _) =
            take_tls_options("postgresql://u:a%3Fb@h/db?sslmode=require").unwrap();
        assert_eq!((rest.as_str(), options.len()), ("postgresql://u:a%3Fb@h/db", 1));
        let (rest, options, _) = take_tls_options("postgres://h/db").unwrap();
        assert_eq!((rest.as_str(), options.len()), ("postgres://h/db", 0));
    }

    #[test]
    fn tls_options_come_out_of_key_value_strings() {
        let (rest, options, _) = take_tls_options(
            "host=h sslmode = verify-ca password='a b\\'c' sslrootcert='/x y/ca.pem' dbname=d",
        )
        .unwrap();
        let config: Config = rest.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"a b'c"[..]));
        assert_eq!(config.get_dbname(), Some("d"));
        let expected = [("sslmode", "verify-ca"), ("sslrootcert", "/x y/ca.pem")];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(options, expected);
        assert!(take_tls_options("host=h password='open").is_err());
        assert!(take_tls_options("host").is_err());
    }

    #[test]
    fn modes_read_as_libpq_reads_them() {
        let cases = [
            ("postgres://h/d", Mode::Prefer, None, SslMode::Prefer),
            ("postgres://h/d?sslmode=disable", Mode::Disable, None, SslMode::Disable),
            ("postgres://h/d?sslmode=allow", Mode::Prefer, None, SslMode::Prefer),
            ("postgres://h/d?sslmode=require", Mode::Require, None, SslMode::Require),
            (
                "postgres://h/d?sslmode=verify-ca&sslrootcert=/ca.pem",
                Mode::VerifyCa,
                Some(Roots::File("/ca.pem".into())),
                SslMode::Require,
            ),
            (
                "postgres://h/d?sslmode=verify-full&sslrootcert=/ca.pem",
                Mode::VerifyFull,
                Some(Roots::File("/ca.pem".into())),
                SslMode::Require,
            ),
            (
                "postgres://h/d?sslrootcert=system",
                Mode::VerifyFull,
                Some(Roots::System),
                SslMode::Require,
            ),
            ("host=h sslmode=verify-full", Mode::VerifyFull, None, SslMode::Require),
        ];
        for (url, mode, roots, driver) in cases {
            let target = parsed(url);
            assert_eq!(
                (target.mode, target.roots, target.config.get_ssl_mode()),
                (mode, roots, driver),
                "{url}"
            );
        }
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_by_name() {
        assert!(refused("postgres://h/d?sslmode=verify").contains("sslmode \"verify\""));
        assert!(refused("postgres://h/d?sslcert=/c.pem").contains("sslcert"));
        assert!(refused("postgres://h/d?sslkey=/k.pem").contains("sslkey"));
        assert!(refused("postgres://h/d?sslrootcert=").contains("sslrootcert is empty"));
        let weak = refused("postgres://h/d?sslmode=require&sslrootcert=system");
        assert!(weak.contains("verify-full"), "{weak}");
        // The driver's own errors still come through, without the password.
        let bad = refused("postgres://u:secret@h/d?nonsense=1");
        assert!(bad.contains("nonsense") && !bad.contains("secret"), "{bad}");
    }

    #[test]
    fn a_root_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("orgdrive-connect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let url = format!("postgres://h/d?sslmode=verify-full&sslrootcert={}", empty.display());
        let e = parsed(&url).tls().err().expect("no certificate, no connector").to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
        let missing =
            format!("postgres://h/d?sslmode=verify-ca&sslrootcert={}", dir.join("none").display());
        let e = parsed(&missing).tls().err().expect("no file, no connector").to_string();
        assert!(e.contains("sslrootcert"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_url_read_two_ways_is_refused() {
        // The driver would end the credentials at this `@`, libpq not:
        // the options would hide in the driver's password.
        let hidden = "postgres://db.example:5432/drive?sslmode=verify-full&password=p\
                      &application_name=ops@10.0.0.9";
        assert!(refused(hidden).contains("%40"), "{}", refused(hidden));
        assert!(refused("postgres://u:p?ss@h/d").contains("%3F"));
        assert!(refused("postgres://h/d@x").contains("%40"));
        // After the credentials' `@`, an `@` is an option's.
        let url = "postgres://u:pw@h/d?sslmode=require&application_name=a@b";
        let target = parsed(url);
        assert_eq!((target.mode, target.config.get_user()), (Mode::Require, Some("u")));
        assert_eq!(target.config.get_application_name(), Some("a@b"));
    }

    #[test]
    fn the_network_waits_are_bounded_unless_the_url_says_otherwise() {
        let config = parsed("postgres://h/d").config;
        assert_eq!(config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(config.get_tcp_user_timeout(), Some(&UNACKNOWLEDGED));
        assert_eq!(config.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(config.get_keepalives_interval(), Some(KEEPALIVE_INTERVAL));
        assert_eq!(config.get_keepalives_retries(), Some(KEEPALIVE_RETRIES));
        let url = "postgres://h/d?connect_timeout=3&tcp_user_timeout=5000&keepalives_idle=60\
                   &keepalives_interval=7&keepalives_retries=9";
        let config = parsed(url).config;
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(config.get_tcp_user_timeout(), Some(&Duration::from_secs(5)));
        assert_eq!(config.get_keepalives_idle(), Duration::from_secs(60));
        assert_eq!(config.get_keepalives_interval(), Some(Duration::from_secs(7)));
        assert_eq!(config.get_keepalives_retries(), Some(9));
        let refused = refused("postgres://h/d?tcp_user_timeout=30s");
        assert!(refused.contains("milliseconds"), "{refused}");
        // Given, even at the driver's own defaults, they are kept: 0 is no
        // limit, as in libpq.
        let config = parsed("postgres://h/d?connect_timeout=0&keepalives_idle=7200").config;
        assert_eq!(config.get_connect_timeout(), None);
        assert_eq!(config.get_keepalives_idle(), Duration::from_secs(7200));
    }

    #[test]
    fn a_connection_may_take_connect_timeout_for_each_host() {
        let limit = |url: &str| whole_connection_limit(&parsed(url).config);
        assert_eq!(limit("postgres://h/d"), Some(CONNECT_TIMEOUT));
        assert_eq!(
            limit("postgres://h1,h2:5433/d?connect_timeout=2"),
            Some(Duration::from_secs(4))
        );
        assert_eq!(limit("postgres:///d?hostaddr=10.0.0.1,10.0.0.2"), Some(CONNECT_TIMEOUT * 2));
        assert_eq!(limit("postgres://h/d?connect_timeout=0"), None);
    }

    #[test]
    fn a_ca_file_with_prefer_checks_as_verify_ca() {
        for url in [
            "postgres://h/d?sslrootcert=/ca.pem",
            "postgres://h/d?sslmode=prefer&sslrootcert=/ca.pem",
        ] {
            let target = parsed(url);
            assert_eq!(
                (target.mode, target.config.get_ssl_mode()),
                (Mode::VerifyCa, SslMode::Require),
                "{url}"
            );
        }
    }

    #[test]
    fn a_socket_directory_with_an_address_is_refused_unless_in_clear() {
        let url = "postgres://u@%2Fvar%2Frun%2Fpostgresql/d?hostaddr=127.0.0.1";
        for mode in ["", "&sslmode=prefer", "&sslmode=verify-full&sslrootcert=/ca.pem"] {
            let refused = refused(&format!("{url}{mode}"));
            assert!(refused.contains("host=NAME"), "{mode}: {refused}");
        }
        assert_eq!(parsed(&format!("{url}&sslmode=disable")).mode, Mode::Disable);
    }

    #[test]
    fn verify_ca_needs_a_ca_file() {
        assert!(refused("postgres://h/d?sslmode=verify-ca").contains("sslrootcert=FILE"));
        let system = refused("postgres://h/d?sslmode=verify-ca&sslrootcert=system");
        assert!(system.contains("verify-full"), "{system}");
    }

    #[test]
    fn a_unix_socket_goes_without_tls_and_an_address_alone_is_checked_as_written() {
        for mode in ["", "?sslmode=require", "?sslmode=verify-full"] {
            let target = parsed(&format!("postgres://u@%2Fvar%2Frun%2Fpostgresql/d{mode}"));
            assert_eq!(target.config.get_ssl_mode(), SslMode::Disable, "{mode}");
            assert_eq!(target.mode_name(), "disable");
        }
        let target = parsed("postgres:///d?hostaddr=10.0.0.5&sslmode=verify-full");
        assert_eq!(target.config.get_hosts(), [Host::Tcp("10.0.0.5".into())]);
        // A connector is made for the socket's empty host name, whatever the mode.
        let mut tls = parsed("postgres://u@%2Ftmp/d?sslmode=require").tls().unwrap();
        assert!(MakeTlsConnect::<tokio::net::TcpStream>::make_tls_connect(&mut tls, "").is_ok());
    }

    /// The test certificates (`tests/fixtures/tls/make.sh`).
    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/tls/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn certificate(name: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(fixture(name)).unwrap()
    }

    /// A TLS handshake, in memory, of a client configured by `url` with a
    /// server presenting `chain` and signing with `key`, the client asking
    /// for `server_name`; TLS 1.3, then 1.2.
    fn handshakes(
        url: &str,
        server_name: &str,
        chain: &[&str],
        key: &str,
    ) -> [Result<(), String>; 2] {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::{ClientConnection, ServerConfig, ServerConnection};
        let client = Arc::new(parsed(url).client_config().unwrap());
        let chain: Vec<_> = chain.iter().map(|name| certificate(name)).collect();
        let key = PrivateKeyDer::from_pem_file(fixture(key)).unwrap();
        /// The certificate and key as given, even if they do not match.
        #[derive(Debug)]
        struct Given(Arc<rustls::sign::CertifiedKey>);
        impl rustls::server::ResolvesServerCert for Given {
            fn resolve(
                &self,
                _: rustls::server::ClientHello<'_>,
            ) -> Option<Arc<rustls::sign::CertifiedKey>> {
                Some(Arc::clone(&self.0))
            }
        }
        [&rustls::version::TLS13, &rustls::version::TLS12].map(|version| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let signer = provider.key_provider.load_private_key(key.clone_key()).unwrap();
            let given = rustls::sign::CertifiedKey::new(chain.clone(), signer);
            let server = ServerConfig::builder_with_provider(provider)
                .with_protocol_versions(&[version])
                .unwrap()
                .with_no_client_auth()
                .with_cert_resolver(Arc::new(Given(Arc::new(given))));
            let name = ServerName::try_from(server_name.to_string()).unwrap();
            let mut client = ClientConnection::new(Arc::clone(&client), name).unwrap();
            let mut server = ServerConnection::new(Arc::new(server)).unwrap();
            let mut flights = 0;
            while client.is_handshaking() || server.is_handshaking() {
                flights += 1;
                assert!(flights < 20, "the handshake does not end");
                let mut bytes = Vec::new();
                while client.wants_write() {
                    client.write_tls(&mut bytes).unwrap();
                }
                server.read_tls(&mut &bytes[..]).unwrap();
                server.process_new_packets().map_err(|e| format!("server: {e}"))?;
                let mut bytes = Vec::new();
                while server.wants_write() {
                    server.write_tls(&mut bytes).unwrap();
                }
                client.read_tls(&mut &bytes[..]).unwrap();
                client.process_new_packets().map_err(|e| format!("client: {e}"))?;
            }
            Ok(())
        })
    }

    fn all_ok(outcomes: [Result<(), String>; 2]) -> bool {
        outcomes.iter().all(Result::is_ok)
    }

    fn all_refused(outcomes: &[Result<(), String>; 2], why: &str) -> bool {
        outcomes.iter().all(|o| matches!(o, Err(e) if e.starts_with("client") && e.contains(why)))
    }

    #[test]
    fn each_mode_checks_the_certificate_as_it_says() {
        let ca = fixture("ca.crt");
        let (full, ca_only) = (
            format!("postgres://h/d?sslmode=verify-full&sslrootcert={ca}"),
            format!("postgres://h/d?sslmode=verify-ca&sslrootcert={ca}"),
        );
        let server = (&["server.crt"][..], "server.key");
        // verify-full: the chain and the name (DNS or IP).
        assert!(all_ok(handshakes(&full, "db.internal", server.0, server.1)));
        assert!(all_ok(handshakes(&full, "10.0.0.5", server.0, server.1)));
        let other_name = handshakes(&full, "other.example", server.0, server.1);
        assert!(all_refused(&other_name, "not valid for name"), "{other_name:?}");
        // verify-ca: the chain, any name; `require` with a CA file too.
        let with_ca = format!("postgres://h/d?sslmode=require&sslrootcert={ca}");
        for url in [&ca_only, &with_ca] {
            assert!(all_ok(handshakes(url, "other.example", server.0, server.1)), "{url}");
            let expired = handshakes(url, "db.internal", &["expired.crt"], "server.key");
            assert!(all_refused(&expired, "expired"), "{expired:?}");
            let chain = ["under-server.crt", "server.crt"];
            let under_no_ca = handshakes(url, "db.internal", &chain, "under-server.key");
            assert!(all_refused(&under_no_ca, "EndEntityUsedAsCa"), "{under_no_ca:?}");
        }
        // No CA: any certificate, even expired, for any name.
        for url in ["postgres://h/d?sslmode=require", "postgres://h/d"] {
            assert!(all_ok(handshakes(url, "other.example", &["expired.crt"], "server.key")));
        }
    }

    #[test]
    fn a_handshake_not_signed_with_the_certificates_key_is_refused_in_every_mode() {
        let ca = fixture("ca.crt");
        for url in [
            "postgres://h/d?sslmode=require".to_string(),
            format!("postgres://h/d?sslmode=verify-ca&sslrootcert={ca}"),
            format!("postgres://h/d?sslmode=verify-full&sslrootcert={ca}"),
        ] {
            let impostor = handshakes(&url, "db.internal", &["server.crt"], "impostor.key");
            assert!(all_refused(&impostor, "BadSignature"), "{url}: {impostor:?}");
        }
    }
}
