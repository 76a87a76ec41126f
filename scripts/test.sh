#!/usr/bin/env bash
# Sets up what is missing, then runs every test: formatting, lints, Rust tests (unit, property,
# cross-crate stories, real Pushpin and Redis, the desktop window under Xvfb), the UI's type
# check and unit tests, bounded fuzzing, and the .deb install check.
# Safe to run again. TACK_SKIP_PACKAGE=1 skips the release .deb build (the slowest step).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export RUST_BACKTRACE=1
started=$(date +%s)
step() { printf '\n\033[1m==> [%4ss] %s\033[0m\n' "$(( $(date +%s) - started ))" "$*"; }
log=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$log"' EXIT

step "setup"
scripts/setup.sh test

step "ui: build, type check, unit tests"
npm --prefix ui run build
npm --prefix ui run check
npm --prefix ui run test 2>&1 | tee "$log/vitest.txt"

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (whole workspace, all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (whole workspace; the desktop window runs under Xvfb)"
# One X server for the end-to-end tests; each test starts its own tauri-driver, app, server.
display=:$(( 90 + RANDOM % 100 ))
Xvfb "$display" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
export DISPLAY=$display
export TACK_E2E_ARTIFACTS=${TACK_E2E_ARTIFACTS:-$PWD/tests/e2e/artifacts}
# One test at a time (nextest runs each in its own process): the stories start real Pushpin
# instances (four processes each), WebKit windows and 1,000-client fan-outs, and two of those at
# once on two cores starve each other into timeouts. No retries: a test that passes only on a
# second try has a race to find, and counts as failed.
set +e
cargo nextest run --workspace --locked --test-threads 1 --retries 0 --no-fail-fast 2>&1 | tee "$log/cargo-test.txt"
rust_status=${PIPESTATUS[0]}
set -e

step "fuzzing: every parser, a few seconds each"
scripts/fuzz-smoke.sh 5

if [ "${TACK_SKIP_PACKAGE:-0}" != 1 ]; then
  step "package: build the .deb, install it, launch the installed app"
  scripts/package-test.sh
fi

step "summary"
# What nextest counted, from its summary line ("N tests run: P passed, F failed, …").
summary=$({ grep -hE '^ *Summary .* tests? run:' "$log/cargo-test.txt" || true; } | tail -n 1)
# A count nextest leaves out (no failures: no "failed") is 0, not an error under pipefail.
count() { echo "$summary" | { grep -oE "[0-9]+ $1" || true; } | head -n 1 | awk '{print $1}'; }
passed=$(count passed); failed=$(count failed); flaky=$(count flaky); timed_out=$(count 'timed out')
ui=$(sed 's/\x1b\[[0-9;]*m//g' "$log/vitest.txt" | { grep -hE '^ *Tests ' || true; })
ui_passed=$(echo "$ui" | { grep -oE '[0-9]+ passed' || true; } | awk '{s+=$1} END {print s+0}')
ui_failed=$(echo "$ui" | { grep -oE '[0-9]+ failed' || true; } | awk '{s+=$1} END {print s+0}')
echo "rust (nextest): ${summary:-no summary line}"
echo "ui (vitest): $ui_passed passed, $ui_failed failed"
echo "$(( ${passed:-0} + ui_passed )) passed, $(( ${failed:-0} + ${timed_out:-0} + ui_failed )) failed, ${flaky:-0} flaky; took $(( $(date +%s) - started )) s"
if [ "$rust_status" != 0 ] || [ -z "$summary" ]; then
  echo "cargo nextest failed (exit $rust_status)" >&2
  exit 1
fi
