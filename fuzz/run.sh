#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 20) and fails if
# any of them finds a crash (a panic, a failed assertion, a sanitizer report,
# a timeout or an out-of-memory). Crashing inputs are kept in
# fuzz/artifacts/<target>/, each target's log in fuzz/artifacts/<target>.log.
#
#   bash fuzz/run.sh 10 dev   # the brief CI run: an unoptimised build (cargo fuzz
#                             # --dev), minutes faster to build from scratch
#   bash fuzz/run.sh 600      # a longer run, optimised build (cargo fuzz's default:
#                             # release, one codegen unit, debug assertions)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). cargo-fuzz uses
# nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them. The fuzz build lives in its own target dir because its flags
# (sanitizer, coverage instrumentation) differ from the workspace build.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-20}"
build=()
case "${2:-release}" in
  dev) build=(--dev) ;;
  release) ;;
  *) echo "usage: bash fuzz/run.sh [SECONDS] [dev|release]" >&2; exit 2 ;;
esac
targets=(names presign range json_body)
cache="${ORGDRIVE_CACHE:-$HOME/.cache/orgdrive}"
export CARGO_TARGET_DIR="$cache/fuzz-target"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 1
fi

# Seed corpora, written on first use (libFuzzer grows them from there).
seed() { # target name bytes...
  local dir="corpus/$1" file="corpus/$1/seed-$2"
  mkdir -p "$dir"
  [ -e "$file" ] || printf '%b' "$3" >"$file"
}
seed names file '\x00report 2024.tar.gz'
seed names folder '\x01 v1.2 '
seed names dotfile '\x00.profile'
seed names utf8 '\x00数据\xe2\x80\xae.pdf'
seed json_body space '{"option":{"name":"s","quota":1024,"scene":"sc","sceneId":"1","ownerType":"USER","capabilities":{"canSearch":true}}}'
seed json_body folder '{"name":"docs","option":{"conflictStrategy":"AUTO_RENAME","appProperties":[{"name":"k","value":"v","visibility":"PUBLIC"}]}}'
seed json_body dentries '{"dentryIds":["1","2"],"option":{"appIdsForAppProperties":["a"],"withThumbnail":false}}'
seed json_body upload '{"protocol":"HEADER_SIGNATURE","multipart":false,"option":{"preCheckParam":{"md5":"00","name":"a.txt","parentId":"0","size":5},"preferIntranet":true}}'
seed json_body parts '{"uploadKey":"k","partNumbers":[1,2],"option":{"preferIntranet":false}}'
seed json_body commit '{"uploadKey":"k","name":"a.txt","parentId":"0","option":{"size":5,"conflictStrategy":"OVERWRITE"},"overwriteDentryId":"7"}'
seed json_body list '{"option":{"maxResults":50,"nextToken":"t","order":"ASC","withThumbnail":true}}'
seed json_body admin '{"name":"n","scopes":["Storage.Space.Write"],"orgAdmin":true,"unionId":"u","capacity":1}'
seed json_body blank ' \n'

echo "==> building the fuzz targets"
cargo fuzz build "${build[@]}"

failed=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1)
  [ -f "dict/$target.dict" ] && args+=(-dict="dict/$target.dict")
  log="artifacts/$target.log"
  printf '==> %s for %s s: ' "$target" "$seconds"
  if cargo fuzz run "${build[@]}" "$target" -- "${args[@]}" >"$log" 2>&1; then
    grep -E '^Done [0-9]+ runs' "$log" || echo "done"
  else
    echo "FAILED (log: fuzz/$log)"
    tail -n 40 "$log" >&2
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz targets that failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "all fuzz targets ran ${seconds} s without a crash"
