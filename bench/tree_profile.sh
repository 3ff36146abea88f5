#!/usr/bin/env bash
# Why moving or copying a folder with many descendants is slow: profiles
# orgdrive (perf, dwarf call graphs) during MoveDentry root -> folder and
# CopyDentry of a folder with N descendants (the harness's "tree"), and shows
# how orgdrive's bundled SQLite plans the subtree walks behind them
# (`loadgen query-plan`), as written and with the join order forced.
#
#   bash bench/tree_profile.sh [ENTRIES]      # default 10000; writes bench/results/profiles/tree-lifecycle.txt
#
# Uses the binaries run.sh builds: ORGDRIVE (default $CARGO_TARGET_DIR/release/orgdrive,
# CARGO_TARGET_DIR default $HOME/.cache/orgdrive/target) and LOADGEN (default
# $BENCH_TARGET_DIR/release/loadgen, BENCH_TARGET_DIR default $HOME/.cache/orgdrive/bench-target).
# Needs perf (Debian linux-perf), curl, python3, bc.
set -euo pipefail

ENTRIES="${1:-10000}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORGDRIVE="${ORGDRIVE:-${CARGO_TARGET_DIR:-$HOME/.cache/orgdrive/target}/release/orgdrive}"
LOADGEN="${LOADGEN:-${BENCH_TARGET_DIR:-$HOME/.cache/orgdrive/bench-target}/release/loadgen}"
OUT="$ROOT/bench/results/profiles/tree-lifecycle.txt"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/orgdrive-tree-profile.XXXXXX")"
OPID=""
cleanup() { [[ -n "$OPID" ]] && kill "$OPID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"

build=$("$LOADGEN" build-folder --data-dir data --entries "$ENTRIES" --subfolders 100 --folder-name tree)
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$build" "$1"; }
S=$(field spaceId); TREE=$(field folderId); U="unionId=$(field unionId)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ORGDRIVE_LOG=warn "$ORGDRIVE" serve --listen "127.0.0.1:$PORT" --data-dir data \
    --admin-token tree-profile-admin-token-0123456789abcdef >out 2>err &
OPID=$!
for _ in $(seq 100); do grep -q "ready in" out 2>/dev/null && break; sleep 0.05; done
BASE="http://127.0.0.1:$PORT/v1.0"
TOK=$(curl -sf -XPOST "$BASE/oauth2/accessToken" -H content-type:application/json \
    -d "{\"appKey\":\"$(field appKey)\",\"appSecret\":\"$(field appSecret)\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')
H="x-acs-dingtalk-access-token: $TOK"
post() { curl -sf -XPOST "$BASE/storage/$1?$U" -H "$H" -H content-type:application/json -d "$2"; }
id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["id"] if sys.argv[1] == "dentry" else json.load(sys.stdin)[sys.argv[1]])' "$1"; }
A=$(post "spaces/$S/dentries/0/folders" '{"name":"a"}' | id_of dentry)
C=$(post "spaces/$S/dentries/0/folders" '{"name":"c"}' | id_of dentry)

# the subtree walks behind the move and the copy, as orgdrive's bundled SQLite plans and runs them
# (before anything changes: the space holds the folder, its $ENTRIES descendants and the folders a, c)
DB=data/meta.sqlite
SUB="WITH RECURSIVE sub (dentry_id, depth) AS ( SELECT dentry_id, 0 FROM dentries WHERE space_id = ?1 AND dentry_id = ?2 AND status = 'NORMAL' UNION ALL SELECT d.dentry_id, s.depth + 1 FROM sub s JOIN dentries d ON d.parent_id = s.dentry_id WHERE d.space_id = ?1 AND d.status = 'NORMAL' AND s.depth < ?3) SELECT COUNT(*) FROM sub"
MEM="WITH RECURSIVE sub (dentry_id, depth, chars) AS ( SELECT dentry_id, 0, 0 FROM dentries WHERE space_id = ?1 AND dentry_id = ?2 AND status = 'NORMAL' UNION ALL SELECT d.dentry_id, s.depth + 1, s.chars + length(d.name) + 1 FROM sub s JOIN dentries d ON d.parent_id = s.dentry_id WHERE d.space_id = ?1 AND d.status = 'NORMAL' AND s.depth < ?3) SELECT dentry_id, depth, chars FROM sub ORDER BY depth"
EXT="WITH RECURSIVE sub (dentry_id, depth, chars) AS ( SELECT ?2, 0, 0 UNION ALL SELECT d.dentry_id, s.depth + 1, s.chars + length(d.name) + 1 FROM sub s JOIN dentries d ON d.parent_id = s.dentry_id WHERE d.space_id = ?1 AND d.status = 'NORMAL' AND s.depth < ?3) SELECT MAX(depth), MAX(chars) FROM sub"
PLANS=$(for q in "subtree_size (CopyDentry, before it answers):SUB:10000" "live_members (the copy's task):MEM:64" "live_extent (MoveDentry when paths grow):EXT:64"; do
    label="${q%%:*}"; rest="${q#*:}"; var="${rest%%:*}"; bound="${rest#*:}"; sql="${!var}"
    for how in "as written" "with CROSS JOIN"; do
        [[ $how == "with CROSS JOIN" ]] && sql="${sql/FROM sub s JOIN dentries d/FROM sub s CROSS JOIN dentries d}"
        res=$("$LOADGEN" query-plan --db "$DB" --sql "$sql" --param "'$S" --param "'$TREE" --param "$bound")
        python3 - "$label" "$how" "$res" <<'PY'
import json, sys
r = json.loads(sys.argv[3])
plan = " | ".join(p.split(" ", 2)[2] for p in r["plan"])
print(f"{sys.argv[1]}, {sys.argv[2]}: {r['seconds']:.4f} s (SQLite {r['sqlite']}); plan: {plan}")
PY
    done
done
# a small folder in the same space: the walk reads the whole space once per member
res=$("$LOADGEN" query-plan --db "$DB" --sql "$EXT" --param "'$S" --param "'905000000000000000" --param 64)
python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("live_extent of tree/dir-0000 (a subfolder with %s files), as written: %.4f s" % (sys.argv[2], r["seconds"]))' "$res" "$(( (ENTRIES - 100) / 100 ))")

record() { perf record -F 499 --call-graph dwarf,16384 -p "$OPID" -o "$1" 2>/dev/null & }
{
echo "# bash bench/tree_profile.sh $ENTRIES — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, orgdrive $(git -C "$ROOT" rev-parse --short HEAD)"
echo "# a folder 'tree' at the root with $ENTRIES descendants (100 folders, the files spread over them), built by loadgen build-folder"
echo
record move.data; PP=$!; sleep 0.5
curl -s -o /dev/null -w "MoveDentry tree: root -> a: HTTP %{http_code} in %{time_total} s\n" -XPOST \
    "$BASE/storage/spaces/$S/dentries/$TREE/move?$U" -H "$H" -H content-type:application/json \
    -d "{\"targetSpaceId\":\"$S\",\"targetFolderId\":\"$A\"}"
sleep 0.3; kill -INT $PP; wait $PP || true
record copy.data; PP=$!; sleep 0.5
t0=$(date +%s.%N)
TASK=$(post "spaces/$S/dentries/$TREE/copy" "{\"targetSpaceId\":\"$S\",\"targetFolderId\":\"$C\"}" | id_of taskId)
t1=$(date +%s.%N)
while :; do
    st=$(curl -sf "$BASE/storage/tasks/$TASK?$U" -H "$H" | python3 -c 'import json,sys; print(json.load(sys.stdin)["task"]["status"])')
    [[ $st == SUCCESS || $st == FAIL ]] && break
    sleep 0.05
done
t2=$(date +%s.%N)
echo "CopyDentry tree -> c: answered (async) after $(echo "$t1 - $t0" | bc) s; GetTask $st after $(echo "$t2 - $t0" | bc) s"
sleep 0.3; kill -INT $PP; wait $PP || true

for f in move copy; do
    echo
    echo "== $f: CPU of the server by thread"
    perf report -i $f.data --no-children --sort comm --stdio -g none 2>/dev/null | grep -E '^ +[0-9]'
    echo "== $f: self time by symbol (top 8)"
    perf report -i $f.data --no-children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -8
    echo "== $f: inclusive time of orgdrive-sqlite's subtree functions"
    perf report -i $f.data --children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' \
        | grep -E 'lifecycle::(live_extent|live_members)$|lifecycle::tree::(move_dentry|copy_dentry|subtree_records)$|drive::insert_dentry$|read<i64, orgdrive_sqlite::lifecycle::tree::\{impl#0\}::subtree_size' \
        | sed -E 's/ +/ /g; s/\{closure_env#0\}> \(inlined\)//'
done

echo
echo "== the subtree walks in orgdrive's bundled SQLite (loadgen query-plan, read-only, before the move; the space held $((ENTRIES + 3)) dentries)"
echo "$PLANS"
} | tee "$OUT"
echo "wrote $OUT" >&2
