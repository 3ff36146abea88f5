#!/usr/bin/env bash
# orgdrive speed and durability harness: one command that builds everything in
# release mode, installs nginx if missing, measures orgdrive against this
# machine's own ceilings (bare axum, raw SQLite, nginx) and writes the
# "Harness" section of bench/RESULTS.md (raw figures: bench/results/harness.jsonl).
#
#   bash bench/run.sh [--backend embedded|postgres+s3] [--runs 3] [--quick] [harness.py options...]
#
#   --backend postgres+s3
#                 orgdrive on PostgreSQL + S3 instead (bench/harness_pg.py): the harness
#                 starts its own PostgreSQL cluster (fsync=on, synchronous_commit=on; Debian's
#                 binaries, installed through scripts/postgres.sh if missing) and its own s3s-fs
#                 (installed through scripts/s3.sh if missing), measures against pgbench's
#                 1-row-transaction ceiling and the S3 server's own PUT/GET figures, 1 node vs 2,
#                 and writes the "Harness: postgres+s3" section (raw figures:
#                 bench/results/harness-postgres-s3.jsonl). nginx is not needed.
#   --runs N      runs of every measurement (default 3; min/median/max reported)
#   --quick       smoke test: 1 run, 2 s points, 256 MiB transfer, 100k-entry folder;
#                 prints the section instead of writing RESULTS.md
#   --writes-only (postgres+s3) only the durable writes (AddFolder, upload cycles, rename,
#                 move) between their two pgbench ceilings, full-length points; prints the
#                 section (figures of the other rows absent) instead of writing RESULTS.md;
#                 with --writes ROW[,ROW] (addfolder,uploadcycle,rename,move) only those rows,
#                 with --pg-stat-statements FILE PostgreSQL's 40 costliest statements of the
#                 writes appended to FILE per run
#   --pg-tls      (postgres+s3) the cluster serves TLS and every client (orgdrive, pgbench,
#                 psql) reaches it verified (sslmode=verify-full against the run's own CA)
#   --orgdrive BIN --revision REV
#                 measure this prebuilt orgdrive binary instead of building the tree
#                 (e.g. a clean commit while the working tree has uncommitted edits)
#   other options go to bench/harness.py, or bench/harness_pg.py for postgres+s3
#   (--duration S, --big-mib N, --entries N, --results FILE, --keep); see
#   `python3 bench/harness.py --help`.
#
# Environment: CARGO_TARGET_DIR (orgdrive; default $HOME/.cache/orgdrive/target),
# BENCH_TARGET_DIR (loadgen, baseline-axum; default $HOME/.cache/orgdrive/bench-target),
# TMPDIR (temp dir: data dirs, SQLite baseline, nginx root; needs ~4 GiB free),
# ORGDRIVE_LOG (server log filter, default warn).
# Needs cargo, curl, python3; apt-get (root) if nginx is missing.
set -euo pipefail

STARTED="$(date +%s.%N)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orgdrive/target}"
BENCH_TARGET_DIR="${BENCH_TARGET_DIR:-$HOME/.cache/orgdrive/bench-target}"
COMMAND="bash bench/run.sh${*:+ $*}"

log() { printf '[run.sh] %s\n' "$*" >&2; }
die() { printf '[run.sh] ERROR: %s\n' "$*" >&2; exit 1; }

BACKEND=embedded
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --backend) BACKEND="${args[$((i + 1))]:-}" ;;
        --backend=*) die "write --backend and its value as two words (--backend postgres+s3)" ;;
    esac
done
case "$BACKEND" in embedded | postgres+s3) ;; *) die "--backend is embedded or postgres+s3, not '$BACKEND'" ;; esac

BACKEND_ARGS=()
if [[ "$BACKEND" == postgres+s3 ]]; then
    # PostgreSQL's binaries (Debian keeps them off PATH); scripts/postgres.sh installs them if missing.
    pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | while read -r d; do
        [[ -x "$d/initdb" && -x "$d/pgbench" ]] && { echo "$d"; break; }; done; }
    PG_BINDIR="$(pg_bindir)"
    if [[ -z "$PG_BINDIR" ]]; then
        log "installing PostgreSQL through scripts/postgres.sh"
        bash "$ROOT/scripts/postgres.sh" >/dev/null
        PG_BINDIR="$(pg_bindir)"
    fi
    [[ -n "$PG_BINDIR" ]] || die "no PostgreSQL bin dir with initdb and pgbench under /usr/lib/postgresql"
    # s3s-fs, at the version scripts/s3.sh pins (it installs it once; it also starts the test server).
    S3S_VERSION="$(sed -n 's/^version=\([^ ]*\).*/\1/p' "$ROOT/scripts/s3.sh")"
    S3S_FS="${ORGDRIVE_CACHE:-$HOME/.cache/orgdrive}/s3s-fs-$S3S_VERSION/bin/s3s-fs"
    if [[ ! -x "$S3S_FS" ]]; then
        log "installing s3s-fs $S3S_VERSION through scripts/s3.sh"
        bash "$ROOT/scripts/s3.sh" >/dev/null
    fi
    [[ -x "$S3S_FS" ]] || die "no s3s-fs at $S3S_FS"
    BACKEND_ARGS=(--pg-bindir "$PG_BINDIR" --s3s-fs "$S3S_FS")
fi

# ---- nginx (embedded backend) -------------------------------------------------------
if [[ "$BACKEND" == postgres+s3 ]]; then
    NGINX=""
elif ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
    log "installing nginx from Debian (nginx-light)"
    command -v apt-get >/dev/null || die "nginx is missing and there is no apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nginx-light >/dev/null || apt-get install -y -qq nginx >/dev/null
fi
if [[ "$BACKEND" == embedded ]]; then
    NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
    "$NGINX" -V 2>&1 | grep -q -- --with-http_dav_module || die "$NGINX has no dav module (needed for the PUT baseline)"
fi

# ---- builds ---------------------------------------------------------------------------
ORGDRIVE_BIN="" REV=""
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --orgdrive) ORGDRIVE_BIN="${args[$((i + 1))]:-}" ;;
        --revision) REV="${args[$((i + 1))]:-}" ;;
    esac
done
if [[ -n "$ORGDRIVE_BIN" ]]; then
    [[ -x "$ORGDRIVE_BIN" ]] || die "--orgdrive $ORGDRIVE_BIN is not an executable"
    log "using the prebuilt $ORGDRIVE_BIN (no orgdrive build)"
    REV="${REV:-unknown (prebuilt binary)}"
else
    log "building orgdrive (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd "$ROOT" && cargo build --release --bin orgdrive)
    ORGDRIVE_BIN="$CARGO_TARGET_DIR/release/orgdrive"
fi
log "building loadgen${NGINX:+ and baseline-axum} (target dir $BENCH_TARGET_DIR)"
CARGO_TARGET_DIR="$BENCH_TARGET_DIR" cargo build --release --manifest-path "$BENCH/loadgen/Cargo.toml"
AXUM_BIN=""
if [[ "$BACKEND" == embedded ]]; then
    CARGO_TARGET_DIR="$BENCH_TARGET_DIR" cargo build --release --manifest-path "$BENCH/baseline-axum/Cargo.toml"
    AXUM_BIN="$BENCH_TARGET_DIR/release/baseline-axum"
fi

if [[ -z "$REV" ]]; then
    REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [[ "$REV" != unknown && -n "$(git -C "$ROOT" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
        REV="$REV+dirty"
    fi
fi

# Private copies: other sessions may rebuild the shared target dirs during the run.
BIN="$(mktemp -d "${TMPDIR:-/tmp}/orgdrive-harness-bin.XXXXXX")"
trap 'rm -rf "$BIN"' EXIT
cp "$ORGDRIVE_BIN" "$BENCH_TARGET_DIR/release/loadgen" ${AXUM_BIN:+"$AXUM_BIN"} "$BIN/"

log "orgdrive $REV; measuring"
HARNESS="$BENCH/harness.py"
[[ "$BACKEND" == postgres+s3 ]] && HARNESS="$BENCH/harness_pg.py"
python3 "$HARNESS" "$@" --orgdrive "$BIN/$(basename "$ORGDRIVE_BIN")" --loadgen "$BIN/loadgen" \
    ${AXUM_BIN:+--axum "$BIN/baseline-axum"} ${NGINX:+--nginx "$NGINX"} "${BACKEND_ARGS[@]}" --revision "$REV" \
    --command "$COMMAND" --started "$STARTED"
