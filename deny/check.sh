#!/usr/bin/env bash
# Runs `cargo deny check` (advisories, bans, licenses, sources; rules in
# deny.toml) over the main workspace and the fuzz workspace, offline, with
# the RustSec advisory database taken from a local snapshot instead of GitHub
# (which CI cannot reach). See deny/README.md.
#
#   bash deny/check.sh                  # what scripts/test-all.sh runs
#   bash deny/check.sh advisories       # only some checks
#
# The snapshot is read from $ORGDRIVE_ADVISORY_DB, default
# ../shared/rustsec-advisory-db (the shared/ folder beside this checkout);
# scripts/update-advisory-db.sh writes one. cargo-deny wants the database as a
# git checkout, so this script lays the snapshot out as a one-commit git
# repository, dated with the upstream commit's date so that cargo-deny's
# staleness check (maximum-db-staleness in deny.toml) measures the real age of
# the data. Without a snapshot the advisories check is skipped, loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

checks=("$@")
[ ${#checks[@]} -gt 0 ] || checks=(advisories bans licenses sources)

snapshot="${ORGDRIVE_ADVISORY_DB:-../shared/rustsec-advisory-db}"
# Must match [advisories] db-path in deny.toml. Inside it cargo-deny keeps each
# database in <name>-<hash of its URL>; this one is the directory of the default
# URL, https://github.com/RustSec/advisory-db (cargo-deny 0.20's naming).
db="$HOME/.cache/orgdrive/advisory-dbs/advisory-db-3157b0e258782691"

if [[ " ${checks[*]} " == *" advisories "* ]]; then
  if [ -d "$snapshot/crates" ]; then
    commit="$(sed -n 's/^commit: //p' "$snapshot/SNAPSHOT")"
    date="$(sed -n 's/^commit-date: //p' "$snapshot/SNAPSHOT")"
    age_days=$(( ($(date +%s) - $(date -d "$date" +%s)) / 86400 ))
    echo "advisory database: $snapshot, commit ${commit:0:12} of $date ($age_days days old)"
    if [ "$age_days" -gt 90 ]; then
      echo "warning: the advisory snapshot is over 90 days old; refresh it with scripts/update-advisory-db.sh"
    fi
    rm -rf "$db"
    mkdir -p "$db"
    cp -R "$snapshot/crates" "$db/crates"
    chmod -R u+w "$db/crates" # shared/ is laid read-only
    (
      cd "$db"
      unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY
      git init -q -b main
      git add -A
      GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" \
        git -c user.name=orgdrive -c user.email=orgdrive@localhost -c commit.gpgsign=false \
        commit -q -m "RustSec advisory-db snapshot $commit"
      # Lets an online `cargo deny check` update this checkout from upstream.
      git remote add origin https://github.com/RustSec/advisory-db
      # cargo-deny takes the database's age from FETCH_HEAD's mtime.
      touch -d "$date" .git/FETCH_HEAD
    )
  else
    echo "WARNING: no advisory snapshot at $snapshot: advisories NOT checked" \
      "(see deny/README.md)" >&2
    keep=()
    for c in "${checks[@]}"; do [ "$c" = advisories ] || keep+=("$c"); done
    checks=("${keep[@]}")
    [ ${#checks[@]} -gt 0 ] || exit 0
  fi
fi

# The main workspace, and fuzz/ (its own workspace and Cargo.lock; CI builds
# and runs it). bench/ is not covered: CI never builds it.
status=0
deny() {
  local manifest="$1"; shift
  echo "cargo deny check ${checks[*]} ($manifest)"
  # --offline keeps cargo-deny from fetching the database from GitHub, and
  # from fetching crates: fetch those first (crates.io is reachable).
  if ! cargo fetch --locked --quiet --manifest-path "$manifest"; then
    echo "error: cargo fetch --locked failed for $manifest; if its Cargo.lock is out of" \
      "date, run \`cargo fetch --manifest-path $manifest\` and commit the lock file" >&2
    status=1
    return
  fi
  cargo deny --offline --locked --manifest-path "$manifest" --config deny.toml \
    check --show-stats "$@" "${checks[@]}" || status=1
}
# deny.toml's licence exception for libfuzzer-sys only matches in fuzz/.
deny Cargo.toml --allow license-exception-not-encountered
deny fuzz/Cargo.toml
exit "$status"
