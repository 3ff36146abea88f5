#!/usr/bin/env bash
# Makes sure a private PostgreSQL server for orgdrive's tests is running, and
# prints its URL (the value for ORGDRIVE_TEST_PG_URL):
#
#   export ORGDRIVE_TEST_PG_URL="$(bash scripts/postgres.sh)"
#   cargo test -p orgdrive-postgres
#
# - PostgreSQL comes from Debian's `postgresql` package, installed (as root,
#   or through sudo) when initdb is missing.
# - The cluster lives in ${ORGDRIVE_CACHE:-$HOME/.cache/orgdrive}/pg, listens
#   on 127.0.0.1 only, port ${ORGDRIVE_PG_PORT:-55432}, and has a role
#   `orgdrive` (password `orgdrive`) that may create databases: each test
#   creates its own database and drops it (`DROP DATABASE … WITH (FORCE)`,
#   which may end an autovacuum worker: the role has pg_signal_backend).
# - A test cluster: fsync and synchronous commit are off (nothing in it
#   needs to survive a power loss), which makes the tests much faster.
# - Idempotent: initialises the cluster once, starts it if stopped, does
#   nothing if it runs. Fails loudly (the server's log) if it cannot start.
# - initdb refuses to run as root: as root, the server runs as the
#   `postgres` OS user (the directories on the way to the cluster get the
#   search bit for it).
# - TLS, checked as production should check it: the cluster has a CA of its
#   own ($base/tls/ca.crt, made once with openssl) and a certificate it
#   signed for localhost and 127.0.0.1; the URL printed asks for
#   `sslmode=verify-full` with that CA, so every test reaches the server as
#   a managed database is reached. ($base/tls/other-ca.crt is a CA that
#   signed nothing, for the tests of a refused certificate.) A server found
#   running without TLS (a cluster of an older version of this script) is
#   restarted with it.
set -euo pipefail

port="${ORGDRIVE_PG_PORT:-55432}"
base="${ORGDRIVE_CACHE:-$HOME/.cache/orgdrive}/pg"
data="$base/data"
sockets="$base/run"
log="$base/server.log"
tls="$base/tls"

die() {
  echo "scripts/postgres.sh: $*" >&2
  exit 1
}

# The newest installed server's binaries (Debian keeps them off PATH).
find_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return
    fi
  done
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
  fi
}

# Installs Debian packages (as root, or through sudo).
install_packages() {
  echo "scripts/postgres.sh: installing $* (Debian packages)" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq >&2
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2
  else
    die "$* not installed and neither root nor sudo is available to install it"
  fi
}

bindir="$(find_bindir)"
if [ -z "$bindir" ]; then
  install_packages postgresql
  bindir="$(find_bindir)"
  [ -n "$bindir" ] || die "PostgreSQL was installed but no initdb was found"
fi

# As root the server runs as `postgres`; otherwise as the calling user.
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root, but there is no postgres OS user"
  as_server() { runuser -u postgres -- "$@"; }
  server_user=postgres
else
  as_server() { "$@"; }
  server_user="$(id -un)"
fi

mkdir -p "$base"
# One caller at a time sets the cluster up (other helpers and test runs may
# call this script at once). The server must not inherit the lock's fd.
exec 9>"$base/.lock"
flock 9

if [ "$(id -u)" -eq 0 ]; then
  # The server's user must reach its directory: give every directory on the
  # way the search bit (not the read bit), and the cluster to postgres.
  dir="$base"
  while [ "$dir" != "/" ]; do
    chmod o+x "$dir" 2>/dev/null || true
    dir="$(dirname "$dir")"
  done
  mkdir -p "$data" "$sockets"
  chown "$server_user" "$data" "$sockets"
  touch "$log"
  chown "$server_user" "$log"
else
  mkdir -p "$data" "$sockets"
fi
chmod 700 "$data" "$sockets"

if [ ! -f "$data/PG_VERSION" ]; then
  echo "scripts/postgres.sh: initialising a cluster in $data" >&2
  # Local (socket) connections are trusted: the socket's directory is the
  # server user's alone. TCP connections need a password.
  as_server "$bindir/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$base/initdb.log" 2>&1 \
    || { cat "$base/initdb.log" >&2; die "initdb failed"; }
fi

if [ ! -f "$tls/server.crt" ]; then
  echo "scripts/postgres.sh: making the cluster's CA and certificate in $tls" >&2
  command -v openssl >/dev/null || install_packages openssl
  rm -rf "$tls.new"
  mkdir -p "$tls.new"
  # A shell of its own, so that `set -e` holds in it while its status is
  # tested; openssl's messages are shown if it fails.
  if ! bash -euc '
    cd "$1"
    printf "%s\n" "[req]" "distinguished_name = dn" "[dn]" \
      "[ca]" "basicConstraints = critical, CA:TRUE" "keyUsage = critical, keyCertSign, cRLSign" \
      "subjectKeyIdentifier = hash" \
      "[server]" "basicConstraints = critical, CA:FALSE" "keyUsage = critical, digitalSignature" \
      "extendedKeyUsage = serverAuth" "subjectAltName = DNS:localhost, IP:127.0.0.1" \
      "authorityKeyIdentifier = keyid" > openssl.cnf
    for ca in ca other-ca; do
      openssl req -x509 -config openssl.cnf -extensions ca -newkey ec \
        -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=orgdrive tests $ca" \
        -keyout "$ca.key" -out "$ca.crt"
    done
    openssl req -new -config openssl.cnf -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=localhost" -keyout server.key -out server.csr
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile openssl.cnf -extensions server -out server.crt
    rm -f ca.key other-ca.key server.csr ca.srl openssl.cnf
    chmod 600 server.key
    chmod 644 ca.crt other-ca.crt server.crt
  ' make-certs "$tls.new" >"$base/openssl.log" 2>&1; then
    cat "$base/openssl.log" >&2
    die "openssl could not make the cluster's certificates"
  fi
  [ "$(id -u)" -ne 0 ] || chown "$server_user" "$tls.new/server.key"
  rm -rf "$tls"
  mv "$tls.new" "$tls"
fi

psql_bin="$bindir/psql"
[ -x "$psql_bin" ] || psql_bin="$(command -v psql)" || die "psql is missing"

# A server running without TLS (started by an older version of this
# script) is restarted with it.
if as_server "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 \
  && [ "$(as_server "$psql_bin" -h "$sockets" -p "$port" -U postgres -d postgres -Atc 'SHOW ssl' 2>/dev/null)" = "off" ]; then
  echo "scripts/postgres.sh: restarting PostgreSQL with TLS" >&2
  as_server "$bindir/pg_ctl" -D "$data" -w -t 60 -m fast stop >&2 9>&- \
    || die "could not stop the running server to restart it with TLS"
fi

if ! as_server "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  echo "scripts/postgres.sh: starting PostgreSQL on 127.0.0.1:$port" >&2
  options="-c listen_addresses=127.0.0.1 -p $port -k $sockets -c max_connections=300"
  options="$options -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  options="$options -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key"
  if ! as_server "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "$options" start >&2 9>&-; then
    echo "---- $log (last lines) ----" >&2
    tail -n 30 "$log" >&2 || true
    die "PostgreSQL did not start (is port $port taken by another server?)"
  fi
fi

# The server we reach must be ours, on the port asked for.
as_server "$bindir/pg_isready" -q -h "$sockets" -p "$port" \
  || die "PostgreSQL runs from $data but does not answer on port $port (started with another port? stop it: $bindir/pg_ctl -D $data stop)"

as_server "$psql_bin" -h "$sockets" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
  -c "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'orgdrive') THEN
          CREATE ROLE orgdrive LOGIN CREATEDB PASSWORD 'orgdrive';
        END IF;
      END \$\$;
      GRANT pg_signal_backend TO orgdrive;" >&2 \
  || die "could not create the role orgdrive"

echo "postgres://orgdrive:orgdrive@127.0.0.1:$port/postgres?sslmode=verify-full&sslrootcert=$tls/ca.crt"
