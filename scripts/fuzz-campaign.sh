#!/usr/bin/env bash
# The fuzzing campaign: every parser target for ten minutes (or N seconds each), one after the
# other, failing on the first crash. The test command runs a few seconds of each
# (scripts/fuzz-smoke.sh); this is the long run, kept out of it. Prints, and appends to
# bench/results/fuzz-campaigns.txt, how many inputs each target ran and how much it covered.
#
#   scripts/fuzz-campaign.sh            # 600 s per target (about an hour for all six)
#   scripts/fuzz-campaign.sh 60         # a minute each
#   scripts/fuzz-campaign.sh 600 sse_parser wsevents_decoder   # only these targets
set -euo pipefail
seconds="${1:-600}"
shift || true
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT/crates/tack-protocol"
mkdir -p "$ROOT/bench/results"
log="$ROOT/bench/results/fuzz-campaigns.txt"
cargo +nightly fuzz build 2>&1 | tail -n 3
echo "# $(date -u +%Y-%m-%dT%H:%MZ) commit $(git -C "$ROOT" rev-parse --short HEAD), ${seconds}s per target" | tee -a "$log"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
for target in "${targets[@]}"; do
    out=$(mktemp)
    # libFuzzer exits non-zero on a crash (the reproducer lands in fuzz/artifacts/<target>/).
    artifacts="fuzz/artifacts/$target"
    before=$(ls "$artifacts" 2>/dev/null | wc -l)
    if ! cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -max_len=4096 \
        -print_final_stats=1 >"$out" 2>&1; then
        tail -n 30 "$out"
        if [ "$(ls "$artifacts" 2>/dev/null | wc -l)" -gt "$before" ]; then
            echo "$target: CRASH (see crates/tack-protocol/$artifacts/)" | tee -a "$log"
        else
            echo "$target: stopped before its time, no crash artifact" | tee -a "$log"
        fi
        exit 1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$out" | tail -n 1 | grep -o '[0-9]*' || echo '?')
    echo "$target: ${runs} inputs in ${seconds}s, coverage ${cov} edges, no crash" | tee -a "$log"
    rm -f "$out"
done
