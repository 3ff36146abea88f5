#!/usr/bin/env bash
# Starts the S3 server of the S3 tests (idempotent): s3s-fs, an S3 server
# over a directory that verifies AWS Signature V4 — in headers and in
# presigned URLs (query signatures, with their expiry) — installed from
# crates.io at a pinned version under $ORGDRIVE_CACHE. It listens on
# 127.0.0.1:${ORGDRIVE_S3_PORT:-59000} with fixed test credentials and has the
# bucket orgdrive-test. Prints, on stdout, the environment the tests read:
#
#   eval "$(bash scripts/s3.sh)"
#   cargo test -p orgdrive-blob --test s3
#   pytest tests/sdk/test_s3_blobs.py tests/sdk/test_scale_out.py
#
# Fails loudly (exit 1, the server's log) if the server cannot start or does
# not refuse unsigned requests. `bash scripts/s3.sh stop` stops it.
#
# The URL printed says insecure_presigned_puts=true: s3s-fs obeys an
# x-amz-copy-source header a presigned PUT did not sign (AWS S3 refuses it),
# so a server refuses to start on it without that (SECURITY.md). Never give
# that parameter for a store holding real files.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${ORGDRIVE_S3_PORT:-59000}"
cache="${ORGDRIVE_CACHE:-$HOME/.cache/orgdrive}"
data="$cache/s3s-fs-data-$port"
log="$cache/s3s-fs-$port.log"
pidfile="$cache/s3s-fs-$port.pid"
version=0.14.1 # the newest s3s-fs that builds with the toolchain here (rustc 1.95)
install_root="$cache/s3s-fs-$version"
bin="$install_root/bin/s3s-fs"
bucket=orgdrive-test
access_key=orgdrive-test-access-key
secret_key=orgdrive-test-secret-key-for-tests-only
url="http://127.0.0.1:$port"

say() { printf '%s\n' "$*" >&2; }
fail() {
  say "scripts/s3.sh: $*"
  [ -f "$log" ] && { say "--- $log (last lines) ---"; tail -n 30 "$log" >&2; }
  exit 1
}
[[ "$port" =~ ^[0-9]+$ ]] || fail "ORGDRIVE_S3_PORT must be a port number, not '$port'"

if [ "${1:-}" = stop ]; then
  if [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; then say "stopped s3s-fs on $url"; fi
  rm -f "$pidfile"
  exit 0
fi

mkdir -p "$cache"
if ! [ -x "$bin" ]; then
  say "installing s3s-fs $version (cargo install, once)"
  CARGO_TARGET_DIR="$cache/s3s-build" cargo install s3s-fs --version "$version" \
    --features binary --locked --root "$install_root" >&2 || fail "could not install s3s-fs"
fi

# What the port answers to an unsigned request: 403 from an S3 server that
# checks signatures, 000 when nothing listens.
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/$bucket/" || true; }

running=false
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  running=true
fi
if ! $running; then
  code="$(status)"
  [ "$code" = 000 ] || fail "something else already listens on $url (HTTP $code); set ORGDRIVE_S3_PORT"
  # A new server starts on an empty bucket: s3s-fs walks the whole bucket
  # directory for every prefix listing, so what earlier runs left would slow
  # every S3 test (49k leftover files made each listing cost ~1 core-second).
  rm -rf "$data"
  mkdir -p "$data/$bucket"
  say "starting s3s-fs on $url (data in $data)"
  # Started from the cache dir: s3s-fs resolves its temporary files against
  # its working directory, and a checkout it was started from may be deleted
  # while it runs (every write then fails with 500).
  (cd "$cache" && exec setsid "$bin" --host 127.0.0.1 --port "$port" \
    --access-key "$access_key" --secret-key "$secret_key" "$data") >"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 1 100); do
    [ "$(status)" != 000 ] && break
    kill -0 "$(cat "$pidfile")" 2>/dev/null || fail "s3s-fs exited at start"
    sleep 0.1
  done
fi
mkdir -p "$data/$bucket"
code="$(status)"
[ "$code" = 403 ] || fail "s3s-fs on $url answered an unsigned request with HTTP $code, not 403"

cat <<ENV
export AWS_ACCESS_KEY_ID=$access_key
export AWS_SECRET_ACCESS_KEY=$secret_key
export AWS_REGION=us-east-1
export ORGDRIVE_TEST_BLOB_URL='s3://$bucket?endpoint=$url&region=us-east-1&insecure_presigned_puts=true'
ENV
