#!/usr/bin/env bash
# Property-based fuzzing of the HTTP API with schemathesis, driven by the
# OpenAPI document the server itself serves (GET /openapi.json).
#
# Starts $ORGDRIVE_BIN on a free loopback port over an ephemeral data dir,
# provisions a tenant (org, app with every storage scope, user, access token,
# space, one file, the space's recycle bin: provision.py), then runs
# schemathesis against every documented operation with the token header and
# the tenant's unionId, spaceId, corpId, file id and recycle bin id pinned
# (schemathesis.toml), a bounded number of examples per operation, and the
# not_a_server_error check: any 5xx or dropped connection fails the run, and
# so does an answer the document does not describe (see `checks` below).
# Stops the server (it must exit 0 on SIGTERM) and exits non-zero on any
# failure. See README.md beside it.
#
# Environment:
#   ORGDRIVE_BIN              the orgdrive binary (required; scripts/test-all.sh sets it)
#   ORGDRIVE_CACHE            where the virtualenv lives (default ~/.cache/orgdrive;
#                             the venv is $ORGDRIVE_CACHE/venv-schemathesis)
#   SCHEMATHESIS_MAX_EXAMPLES examples per operation and phase (default 100; ~30 s)
#   SCHEMATHESIS_SEED         fixed seed to replay a run (default: random, printed)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${ORGDRIVE_BIN:?set ORGDRIVE_BIN to the orgdrive binary (cargo build --bin orgdrive)}"
cache="${ORGDRIVE_CACHE:-$HOME/.cache/orgdrive}"
venv="$cache/venv-schemathesis"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"

# A virtualenv of its own: schemathesis' dependencies stay apart from the
# pinned DingTalk SDK of the conformance suite.
mkdir -p "$cache"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

work="$(mktemp -d)"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    local status=0
    wait "$server_pid" || status=$?
    server_pid=""
    return "$status"
  fi
  server_pid=""
}
cleanup() {
  stop_server || true
  rm -rf "$work"
}
trap cleanup EXIT

port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
admin_token="$("$venv/bin/python" -c 'import secrets; print(secrets.token_hex(16))')"
base="http://127.0.0.1:$port"

ORGDRIVE_LOG="${ORGDRIVE_LOG:-warn}" "$bin" serve --listen "127.0.0.1:$port" --ephemeral \
  --admin-token "$admin_token" --wopi-client-url "https://office.example/browser/x/cool.html?" \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 300); do
  grep -q '^ready in' "$work/server.out" && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "orgdrive exited before it was ready:" >&2
    cat "$work/server.out" "$work/server.err" >&2
    exit 1
  fi
  sleep 0.1
done
grep -q '^ready in' "$work/server.out" || { echo "orgdrive not ready after 30 s" >&2; exit 1; }

tenant="$("$venv/bin/python" "$here/provision.py" "$base" "$admin_token")"
eval "$tenant"
export ORGDRIVE_CORP_ID ORGDRIVE_UNION_ID ORGDRIVE_SPACE_ID ORGDRIVE_FILE_ID ORGDRIVE_RECYCLE_BIN_ID

# not_a_server_error is the point (no 5xx, no dropped connection); the others
# hold the answers to the document: documented status codes, JSON content,
# response bodies matching their schemas, 405 for a documented path with
# another method. Left out: ignored_auth (a missing token is 400
# InvalidAuthentication, as DingTalk answers, not 401), positive_data_acceptance
# (schema-valid values the domain refuses: names, unknown upload keys and
# tokens, integral floats like 1.0).
checks="not_a_server_error,status_code_conformance,content_type_conformance"
checks="$checks,response_schema_conformance,unsupported_method,negative_data_rejection"

seed=()
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then
  seed=(--seed "$SCHEMATHESIS_SEED")
fi

# One worker: requests take well under a millisecond, generating them is the
# cost, and a two-worker run once died inside hypothesis (FlakyFailure).
# Run from the temp dir so hypothesis' example database stays out of the tree.
status=0
(cd "$work" && "$venv/bin/schemathesis" --no-color --config-file "$here/schemathesis.toml" \
  run "$base/openapi.json" \
  --header "x-acs-dingtalk-access-token: $ORGDRIVE_ACCESS_TOKEN" \
  --checks "$checks" \
  --max-examples "$max_examples" \
  --workers 1 \
  --request-timeout 10 \
  "${seed[@]}") || status=$?

if ! stop_server; then
  echo "orgdrive did not exit 0 on SIGTERM" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "schemathesis run failed (exit $status); server log:" >&2
  tail -n 50 "$work/server.err" >&2
fi
exit "$status"
