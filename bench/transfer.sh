#!/usr/bin/env bash
# Transfer benchmark: uploads one SIZE_MIB MiB file through the DingTalk flow
# (GetFileUploadInfo -> PUT to the signed URL -> CommitFile), downloads it back
# (GetFileDownloadInfo -> GET the signed URL), checks the sha256 and samples the
# server's RSS every ~50 ms during both transfers, to show that bytes stream
# through the server with flat memory.
#
#   bash bench/transfer.sh [SIZE_MIB]        # default 2048 (2 GiB)
#
# Environment: CARGO_TARGET_DIR (default $HOME/.cache/orgdrive/target),
# TMPDIR (where the temp dir with the source file and the data dir goes).
# Needs cargo, curl, python3, sha256sum. Prints a markdown table; exits non-zero
# on any error response or a checksum mismatch.
set -euo pipefail

SIZE_MIB="${1:-2048}"
if ! [[ "$SIZE_MIB" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash bench/transfer.sh [SIZE_MIB]   (positive integer, default 2048)" >&2
    exit 2
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orgdrive/target}"
BIN="$CARGO_TARGET_DIR/release/orgdrive"

log() { printf '[transfer] %s\n' "$*" >&2; }
die() { printf '[transfer] ERROR: %s\n' "$*" >&2; exit 1; }

# ---- build --------------------------------------------------------------------
log "building release binary (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
(cd "$ROOT" && cargo build --release --bin orgdrive)
[[ -x "$BIN" ]] || die "no binary at $BIN"
REV="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ "$REV" != unknown && -n "$(cd "$ROOT" && git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
    REV="$REV+dirty"
fi

# ---- temp dir, cleanup --------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/orgdrive-bench.XXXXXX")"
SERVER_PID=""
SAMPLER_PID=""
cleanup() {
    local rc=$?
    if [[ -n "$SAMPLER_PID" ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $rc -ne 0 && -s "$WORK/server.err" ]]; then
        log "last lines of the server's stderr:"
        tail -n 20 "$WORK/server.err" >&2 || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- start the server ---------------------------------------------------------
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ADMIN_TOKEN="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
BASE="http://127.0.0.1:$PORT"
ORGDRIVE_LOG="${ORGDRIVE_LOG:-warn}" "$BIN" serve --listen "127.0.0.1:$PORT" \
    --data-dir "$WORK/data" --admin-token "$ADMIN_TOKEN" \
    >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 300); do
    grep -q '^ready in ' "$WORK/server.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited during startup"
    sleep 0.1
done
grep -q '^ready in ' "$WORK/server.out" || die "server not ready after 30 s"
log "server pid $SERVER_PID on $BASE ($(grep '^ready in ' "$WORK/server.out"))"

# ---- helpers ------------------------------------------------------------------
# json FIELD.PATH < json  (dotted path; integers index lists)
json() {
    python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1"
}

# call METHOD PATH BODY [curl args...]: prints the body, dies on a non-2xx status.
call() {
    local method="$1" path="$2" body="$3"; shift 3
    local out status
    out="$(curl -sS -X "$method" -H 'Content-Type: application/json' "$@" \
        --data-binary "$body" -w '\n%{http_code}' "$BASE$path")"
    status="${out##*$'\n'}"
    out="${out%$'\n'*}"
    if [[ ! "$status" =~ ^2 ]]; then
        die "$method $path answered $status: $out"
    fi
    printf '%s' "$out"
}
admin() { call POST "$1" "$2" -H "Authorization: Bearer $ADMIN_TOKEN"; }

rss_kib() { # VmRSS or VmHWM of the server in KiB
    local key="$1" k v _
    while read -r k v _; do
        if [[ "$k" == "$key:" ]]; then echo "$v"; return; fi
    done <"/proc/$SERVER_PID/status"
    die "no $key for pid $SERVER_PID"
}

# sample_rss LOG: VmRSS (KiB) of the server every ~50 ms until killed.
sample_rss() {
    local k v _
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        while read -r k v _; do
            if [[ "$k" == "VmRSS:" ]]; then echo "$v"; break; fi
        done <"/proc/$SERVER_PID/status" || true
        sleep 0.05
    done >>"$1"
}
start_sampler() { sample_rss "$1" & SAMPLER_PID=$!; }
stop_sampler() {
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
}
max_of() { sort -n "$1" | tail -n 1; }
count_of() { wc -l <"$1" | tr -d ' '; }

# headers of a headerSignatureInfo as curl -H arguments (one per line)
sig_headers() {
    python3 -c '
import json, sys
for k, v in (json.load(sys.stdin).get("headerSignatureInfo", {}).get("headers") or {}).items():
    print(f"{k}: {v}")'
}

# ---- provisioning -------------------------------------------------------------
CORP_ID="$(admin /admin/v1/orgs '{"name":"Bench"}' | json corpId)"
APP="$(admin "/admin/v1/orgs/$CORP_ID/apps" '{"name":"bench","scopes":["Storage.Space.Write","Storage.Space.Read","Storage.File.Write","Storage.File.Read","Storage.UploadInfo.Read","Storage.DownloadInfo.Read"]}')"
APP_KEY="$(json appKey <<<"$APP")"
APP_SECRET="$(json appSecret <<<"$APP")"
UNION_ID="$(admin "/admin/v1/orgs/$CORP_ID/users" '{"name":"Bench User"}' | json unionId)"
TOKEN_BODY="$(python3 -c 'import json,sys; print(json.dumps({"appKey":sys.argv[1],"appSecret":sys.argv[2]}))' "$APP_KEY" "$APP_SECRET")"
ACCESS_TOKEN="$(call POST /v1.0/oauth2/accessToken "$TOKEN_BODY" | json accessToken)"
AUTH=(-H "x-acs-dingtalk-access-token: $ACCESS_TOKEN")
SPACE_ID="$(call POST "/v1.0/storage/spaces?unionId=$UNION_ID" \
    '{"option":{"name":"bench","ownerType":"USER"}}' "${AUTH[@]}" | json space.id)"
log "corpId $CORP_ID, unionId $UNION_ID, spaceId $SPACE_ID"

# ---- source file ----------------------------------------------------------------
SRC="$WORK/source.bin"
OUT="$WORK/download.bin"
BYTES=$((SIZE_MIB * 1024 * 1024))
log "writing $SIZE_MIB MiB of random data to $SRC"
head -c "$BYTES" /dev/urandom >"$SRC"
SRC_SHA="$(sha256sum "$SRC" | cut -d' ' -f1)"
log "source sha256 $SRC_SHA"

# ---- transfers ------------------------------------------------------------------
sleep 0.5
RSS_BEFORE="$(rss_kib VmRSS)"

# upload: GetFileUploadInfo -> PUT -> CommitFile
INFO="$(call POST "/v1.0/storage/spaces/$SPACE_ID/files/uploadInfos/query?unionId=$UNION_ID" \
    '{"protocol":"HEADER_SIGNATURE","multipart":false}' "${AUTH[@]}")"
UPLOAD_KEY="$(json uploadKey <<<"$INFO")"
PUT_URL="$(json headerSignatureInfo.resourceUrls.0 <<<"$INFO")"
PUT_H=()
while IFS= read -r h; do [[ -n "$h" ]] && PUT_H+=(-H "$h"); done < <(sig_headers <<<"$INFO")

log "upload: PUT $SIZE_MIB MiB"
start_sampler "$WORK/rss-upload.log"
PUT_RESULT="$(curl -sS -X PUT "${PUT_H[@]}" -T "$SRC" -o "$WORK/put.body" \
    -w '%{http_code} %{time_total}' "$PUT_URL")"
stop_sampler
read -r PUT_STATUS UP_S <<<"$PUT_RESULT"
[[ "$PUT_STATUS" == 200 ]] || die "PUT answered $PUT_STATUS: $(head -c 500 "$WORK/put.body")"
RSS_AFTER_UPLOAD="$(rss_kib VmRSS)"

COMMIT_BODY="$(python3 -c 'import json,sys; print(json.dumps({"uploadKey":sys.argv[1],"name":"big.bin","parentId":"0"}))' "$UPLOAD_KEY")"
COMMITTED="$(call POST "/v1.0/storage/spaces/$SPACE_ID/files/commit?unionId=$UNION_ID" "$COMMIT_BODY" "${AUTH[@]}")"
DENTRY_ID="$(json dentry.id <<<"$COMMITTED")"
DENTRY_SIZE="$(json dentry.size <<<"$COMMITTED")"
[[ "$DENTRY_SIZE" == "$BYTES" ]] || die "committed size $DENTRY_SIZE, expected $BYTES"

# download: GetFileDownloadInfo -> GET
DINFO="$(call POST "/v1.0/storage/spaces/$SPACE_ID/dentries/$DENTRY_ID/downloadInfos/query?unionId=$UNION_ID" \
    '{}' "${AUTH[@]}")"
GET_URL="$(json headerSignatureInfo.resourceUrls.0 <<<"$DINFO")"
GET_H=()
while IFS= read -r h; do [[ -n "$h" ]] && GET_H+=(-H "$h"); done < <(sig_headers <<<"$DINFO")

log "download: GET $SIZE_MIB MiB"
start_sampler "$WORK/rss-download.log"
GET_RESULT="$(curl -sS "${GET_H[@]}" -o "$OUT" -w '%{http_code} %{time_total}' "$GET_URL")"
stop_sampler
read -r GET_STATUS DOWN_S <<<"$GET_RESULT"
[[ "$GET_STATUS" == 200 ]] || die "GET answered $GET_STATUS: $(head -c 500 "$OUT")"
RSS_AFTER_DOWNLOAD="$(rss_kib VmRSS)"
VMHWM="$(rss_kib VmHWM)"

OUT_SHA="$(sha256sum "$OUT" | cut -d' ' -f1)"

# ---- report ---------------------------------------------------------------------
PEAK_UP="$(max_of "$WORK/rss-upload.log")"
PEAK_DOWN="$(max_of "$WORK/rss-download.log")"
SAMPLES=$(( $(count_of "$WORK/rss-upload.log") + $(count_of "$WORK/rss-download.log") ))
PEAK=$(( PEAK_UP > PEAK_DOWN ? PEAK_UP : PEAK_DOWN ))
for v in "$RSS_AFTER_UPLOAD" "$RSS_AFTER_DOWNLOAD"; do if (( v > PEAK )); then PEAK=$v; fi; done

python3 - "$SIZE_MIB" "$BYTES" "$UP_S" "$DOWN_S" "$RSS_BEFORE" "$PEAK_UP" "$PEAK_DOWN" \
    "$PEAK" "$RSS_AFTER_DOWNLOAD" "$VMHWM" "$SAMPLES" "$REV" <<'EOF'
import sys
size_mib, nbytes = int(sys.argv[1]), int(sys.argv[2])
up, down = float(sys.argv[3]), float(sys.argv[4])
before, peak_up, peak_down, peak, after, hwm = (int(x) / 1024 for x in sys.argv[5:11])
samples, rev = sys.argv[11], sys.argv[12]
mb = nbytes / 1e6
print()
print("| size | upload s | upload MB/s | download s | download MB/s "
      "| RSS before MiB | peak RSS during MiB (up / down) | growth MiB | VmHWM MiB |")
print("|---|---|---|---|---|---|---|---|---|")
print(f"| {size_mib} MiB | {up:.2f} | {mb / up:.0f} | {down:.2f} | {mb / down:.0f} "
      f"| {before:.1f} | {peak:.1f} ({peak_up:.1f} / {peak_down:.1f}) | {peak - before:+.1f} "
      f"| {hwm:.1f} |")
print()
print(f"MB = 10^6 bytes; wall times are curl's time_total; {samples} RSS samples; "
      f"RSS after the download {after:.1f} MiB; orgdrive {rev}.")
EOF

if [[ "$OUT_SHA" != "$SRC_SHA" ]]; then
    echo "checksum MISMATCH: source $SRC_SHA, download $OUT_SHA" >&2
    exit 1
fi
echo "sha256 ok: $SRC_SHA"
