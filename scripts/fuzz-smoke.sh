#!/usr/bin/env bash
# Builds every tack-protocol fuzz target and runs each for a bounded time (default 5 s),
# failing on the first crash. Usage: scripts/fuzz-smoke.sh [seconds-per-target]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). The fuzz package
# is outside the main workspace, so this builds into crates/tack-protocol/fuzz/target.
set -euo pipefail

seconds="${1:-5}"
cd "$(dirname "$0")/../crates/tack-protocol"

targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build 2>&1 | tail -n 3

for target in $targets; do
    echo "fuzz: $target for ${seconds}s"
    # -max_total_time bounds the run; libFuzzer exits non-zero on a crash, failing the script.
    # The corpus (fuzz/corpus/<target>) is kept between runs and ignored by git.
    cargo +nightly fuzz run "$target" -- \
        -max_total_time="$seconds" -max_len=4096 -print_final_stats=0 2>&1 | tail -n 2
done
echo "fuzz: all targets ran ${seconds}s without a crash"
