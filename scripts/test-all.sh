#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, Rust unit and
# integration tests, the Node SDK smoke test, schemathesis fuzzing from the
# served OpenAPI document, then the conformance suite through the official
# DingTalk Python SDK, all against the real binary.
# Installs what it needs (the Debian packages chromium, chromium-driver,
# fonts-wqy-microhei, poppler-utils, ffmpeg, litmus, rclone and postgresql when missing; a private PostgreSQL cluster and the
# s3s-fs S3 server on loopback (scripts/postgres.sh, scripts/s3.sh); Python virtualenvs with the pinned SDK and the
# pinned schemathesis under $ORGDRIVE_CACHE, default ~/.cache/orgdrive; the
# pinned Node SDK into tests/sdk-node/node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${ORGDRIVE_CACHE:-$HOME/.cache/orgdrive}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
# Under CI (a fresh clone each time), cargo's incremental cache only fills the
# disk (it reached 19 GB in a reused target dir); local runs keep it.
if [ "${CI:-}" = true ]; then
    export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi
venv="$cache/venv"
mkdir -p "$cache"

# Each step prints its start time; at exit, every step's duration (the CI
# budget is 45 minutes on a fresh machine: this is where it goes).
step_names=() step_seconds=() step_started=$SECONDS
step_done() {
  [ "${#step_names[@]}" -gt 0 ] && step_seconds+=("$((SECONDS - step_started))")
  step_started=$SECONDS
}
step() {
  step_done
  step_names+=("$*")
  printf '\n==> [%dm%02ds] %s\n' "$((SECONDS / 60))" "$((SECONDS % 60))" "$*"
}
step_times() {
  local status=$? i
  step_done
  printf '\n==> step times (exit %d, total %dm%02ds)\n' "$status" "$((SECONDS / 60))" "$((SECONDS % 60))"
  for i in "${!step_seconds[@]}"; do
    printf '%6ds  %s\n' "${step_seconds[$i]}" "${step_names[$i]}"
  done
}
trap step_times EXIT

step "Debian packages the tests need: chromium (preview pages, the console's browser tests), chromium-driver and a Chinese font, poppler-utils and ffmpeg (PDF/video), litmus and rclone (WebDAV)"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
# A font with Chinese glyphs: the console's Simplified Chinese pages, screenshotted.
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)
{ command -v pdftoppm && command -v pdfinfo; } >/dev/null 2>&1 || missing+=(poppler-utils)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v curl >/dev/null 2>&1 || missing+=(curl)  # scripts/s3.sh probes its server
command -v litmus >/dev/null 2>&1 || missing+=(litmus)  # WebDAV compliance (tests/client)
command -v rclone >/dev/null 2>&1 || missing+=(rclone)  # a WebDAV client (tests/client)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]}"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
    as_root=(sudo)
  fi
  "${as_root[@]}" apt-get update
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

step "PostgreSQL and an S3 server on loopback, for the scale-out tests (scripts/postgres.sh, scripts/s3.sh)"
ORGDRIVE_TEST_PG_URL="$(bash scripts/postgres.sh)"
export ORGDRIVE_TEST_PG_URL
s3_env="$(bash scripts/s3.sh)"
eval "$s3_env"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo deny: advisories, licenses, bans, sources (deny.toml; deny/README.md)"
[ "$(cargo deny --version 2>/dev/null)" = "cargo-deny 0.20.2" ] || cargo install cargo-deny --version 0.20.2 --locked
bash deny/check.sh

step "Rust tests"
cargo test --workspace --locked

step "build the orgdrive and odc binaries"
cargo build --locked --bin orgdrive --bin odc
export ORGDRIVE_BIN="$CARGO_TARGET_DIR/debug/orgdrive"
export ODC_BIN="$CARGO_TARGET_DIR/debug/odc"

step "crash test: SIGKILLs and simulated power losses under load, acknowledged writes intact (tests/crash)"
bash tests/crash/run.sh "${ORGDRIVE_CRASHES:-20}"  # SIGKILLs, then power losses (full, relaxed)

step "fuzz targets, briefly (fuzz/; bash fuzz/run.sh 600 for a long run)"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
bash fuzz/run.sh "${ORGDRIVE_FUZZ_SECONDS:-10}" dev  # unoptimised: a cold build takes minutes less

step "Node SDK smoke test (tests/sdk-node), and the Node example of an app's tests (examples/node, with the same SDK)"
(cd tests/sdk-node && npm ci --no-audit --no-fund --loglevel=error && node --test)
NODE_PATH="$PWD/tests/sdk-node/node_modules" node --test examples/node/

step "schemathesis against GET /openapi.json (tests/schemathesis)"
# CI replays one seed so that a landing never hangs on a lucky draw; run it
# without CI (or with SCHEMATHESIS_SEED=<other>) to explore new inputs.
if [ -n "${CI:-}" ]; then
  export SCHEMATHESIS_SEED="${SCHEMATHESIS_SEED:-212974955326160642193251165273072592699}"
fi
bash tests/schemathesis/run.sh

step "Python virtualenv with the official DingTalk SDK and Selenium"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r tests/sdk/requirements.txt -r tests/browser/requirements.txt

step "the console in a real browser: headless Chromium through chromedriver and Selenium (tests/browser; screenshots in tests/browser/screenshots)"
"$venv/bin/python" -m pytest -q tests/browser

step "the pytest example of an app's tests (examples/pytest: orgdrive --ephemeral --seed, reset before each test, a fault)"
"$venv/bin/python" -m pytest -q examples/pytest

step "the odc client against orgdrive (every command, an interrupted 1 GiB upload resumed, mirror of 2,000 files) and WebDAV with litmus and rclone (tests/client)"
"$venv/bin/python" -m pytest -q tests/client

step "SDK conformance suite (tests/sdk), embedded stores; with the S3 and two-node scale-out tests"
"$venv/bin/python" -m pytest -q tests/sdk

step "SDK conformance suite again, every server on PostgreSQL + S3 (tests looking inside the embedded stores deselected)"
ORGDRIVE_TEST_BACKEND=postgres+s3 "$venv/bin/python" -m pytest -q -m "not embedded" tests/sdk
