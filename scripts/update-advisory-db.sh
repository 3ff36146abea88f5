#!/usr/bin/env bash
# Refreshes the snapshot of the RustSec advisory database that
# `cargo deny check advisories` reads (see deny/README.md).
#
# CI cannot reach GitHub, so cargo-deny runs with --offline against a
# snapshot: the advisories themselves (crates/*/RUSTSEC-*.md), the licence
# files, and a SNAPSHOT file naming the upstream commit and its date. Nothing
# else from the upstream repository is kept (about 1.3 MB, 1,200 files).
#
#   bash scripts/update-advisory-db.sh                  # clone upstream (needs GitHub)
#   bash scripts/update-advisory-db.sh --git-dir DIR    # from a local clone or bare mirror
#   bash scripts/update-advisory-db.sh --dest DIR       # where to write (default below)
#
# The default destination is the one deny/check.sh reads by default:
# ../shared/rustsec-advisory-db, i.e. the shared/ folder laid beside this
# checkout (the snapshot is third-party data, so it lives in shared/, not in
# this repository). After refreshing, update the snapshot line in
# deny/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

url="https://github.com/rustsec/advisory-db"
git_dir=""
dest="../shared/rustsec-advisory-db"
while [ $# -gt 0 ]; do
  case "$1" in
    --git-dir) git_dir="$2"; shift 2 ;;
    --url) url="$2"; shift 2 ;;
    --dest) dest="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -z "$git_dir" ]; then
  git clone --quiet --depth 1 --branch main "$url" "$work/clone"
  git_dir="$work/clone/.git"
fi

commit="$(git --git-dir="$git_dir" rev-parse HEAD)"
commit_date="$(git --git-dir="$git_dir" show -s --format=%cI HEAD)"

# Only what cargo-deny reads (crates/) plus the licence terms of the data.
mkdir -p "$work/new"
git --git-dir="$git_dir" archive --format=tar HEAD crates LICENSE.txt LICENSES |
  tar -x -C "$work/new"
test -d "$work/new/crates" || { echo "no crates/ in $git_dir" >&2; exit 1; }
cat >"$work/new/SNAPSHOT" <<EOF
RustSec advisory database snapshot (https://github.com/rustsec/advisory-db)
commit: $commit
commit-date: $commit_date
taken: $(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF

mkdir -p "$(dirname "$dest")"
rm -rf "$dest.tmp"
mv "$work/new" "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"

files="$(find "$dest" -type f | wc -l)"
size="$(du -sh "$dest" | cut -f1)"
echo "wrote $dest: $files files, $size on disk; commit $commit ($commit_date)"
echo "now update the snapshot line in deny/README.md"
