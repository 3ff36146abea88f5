#!/usr/bin/env bash
# Builds orgdrive (release) at a baseline revision and from this tree, and the
# load generator, then runs bench/upload_ab.py: full 4 KiB upload cycles/s of
# both, alternating, in the same run.
#
#   bash bench/upload_ab.sh [BASE_REV, default 3726aab] [upload_ab.py options...]
#
# The baseline is built from a `git worktree` in a temp dir, with its own target
# dir under $HOME/.cache/orgdrive/ab-base-target.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base_rev="${1:-3726aab}"
shift || true
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/orgdrive/target}"
bench_target="${BENCH_TARGET_DIR:-$HOME/.cache/orgdrive/bench-target}"
base_target="$HOME/.cache/orgdrive/ab-base-target"

(cd "$ROOT" && cargo build --release --locked --bin orgdrive)
CARGO_TARGET_DIR="$bench_target" cargo build --release --locked \
  --manifest-path "$ROOT/bench/loadgen/Cargo.toml"

tree="$(mktemp -d)/base"
git -C "$ROOT" worktree add --detach "$tree" "$base_rev" >/dev/null
trap 'git -C "$ROOT" worktree remove --force "$tree"' EXIT
(cd "$tree" && CARGO_TARGET_DIR="$base_target" cargo build --release --locked --bin orgdrive)

python3 "$ROOT/bench/upload_ab.py" --base "$base_target/release/orgdrive" \
  --candidate "$CARGO_TARGET_DIR/release/orgdrive" \
  --loadgen "$bench_target/release/loadgen" "$@"
