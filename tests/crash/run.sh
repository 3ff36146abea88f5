#!/usr/bin/env bash
# The crash test as the test command runs it (tests/crash/crash_test.py): SIGKILLs, then
# simulated power losses expecting full durability, then a few power losses of a server
# with --durability relaxed (what relaxed still promises); then SIGKILLs in the middle of
# tasks that move or copy a 500-entry folder (tests/crash/task_crash.py), all on the
# embedded stores. When ORGDRIVE_TEST_PG_URL and ORGDRIVE_TEST_BLOB_URL are set
# (scripts/postgres.sh, scripts/s3.sh), the SIGKILLs under load (at most 10) and in tasks
# (at most 4 rounds) run again with PostgreSQL + S3 (--backend postgres+s3; power losses
# stay embedded-only: PostgreSQL and the object store own their durability). All run; the
# exit status is 1 if any failed.
# Usage: bash tests/crash/run.sh [CRASHES, default 20]   (ORGDRIVE_BIN names the binary;
# the power-loss runs build a small LD_PRELOAD shim with gcc)
set -uo pipefail
here="$(dirname "$0")"
crashes="${1:-20}"
failed=0
run() {
  echo "--- python3 tests/crash/$*"
  local began=$SECONDS
  python3 "$here/$@" || failed=1
  echo "--- ($(( SECONDS - began )) s)"
}
at_most() { echo $(( crashes < $1 ? crashes : $1 )); }
run crash_test.py --backend embedded --mode sigkill --crashes "$crashes"
run crash_test.py --backend embedded --mode power-loss --crashes "$crashes"
run crash_test.py --backend embedded --mode power-loss --durability relaxed --crashes "$(at_most 5)"
run task_crash.py --backend embedded --rounds "$(at_most 10)"
if [ -n "${ORGDRIVE_TEST_PG_URL:-}" ] && [ -n "${ORGDRIVE_TEST_BLOB_URL:-}" ]; then
  run crash_test.py --backend postgres+s3 --mode sigkill --crashes "$(at_most 10)"
  run task_crash.py --backend postgres+s3 --rounds "$(at_most 4)"
else
  echo "--- PostgreSQL + S3 runs skipped: ORGDRIVE_TEST_PG_URL and ORGDRIVE_TEST_BLOB_URL are not set"
fi
exit "$failed"
