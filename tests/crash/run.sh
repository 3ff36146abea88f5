#!/usr/bin/env bash
# The crash test as the test command runs it (tests/crash/crash_test.py): SIGKILLs, then
# simulated power losses expecting full durability, then a few power losses of a server
# with --durability relaxed (what relaxed still promises); then SIGKILLs in the middle of
# tasks that move or copy a 500-entry folder (tests/crash/task_crash.py). All run; the
# exit status is 1 if any failed.
# Usage: bash tests/crash/run.sh [CRASHES, default 20]   (ORGDRIVE_BIN names the binary;
# the power-loss runs build a small LD_PRELOAD shim with gcc)
set -uo pipefail
here="$(dirname "$0")"
crashes="${1:-20}"
failed=0
run() {
  echo "--- python3 tests/crash/crash_test.py $*"
  python3 "$here/crash_test.py" "$@" || failed=1
}
run --mode sigkill --crashes "$crashes"
run --mode power-loss --crashes "$crashes"
run --mode power-loss --durability relaxed --crashes "$(( crashes < 5 ? crashes : 5 ))"
echo "--- python3 tests/crash/task_crash.py --rounds $(( crashes < 10 ? crashes : 10 ))"
python3 "$here/task_crash.py" --rounds "$(( crashes < 10 ? crashes : 10 ))" || failed=1
exit "$failed"
