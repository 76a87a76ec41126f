#!/usr/bin/env bash
# Is the load tool light? Runs two `tack` binaries' `tack bench` against the same bare
# broadcast loop (bench/baseline), back to back and interleaved, and prints for each run what
# it measured next to the tool's own CPU. Short and bounded: each run is a few seconds (60 s at
# most), PAIRS pairs in all.
#
#   bench/tool-check.sh OLD_TACK NEW_TACK                    # 3 pairs, 1,000 subscribers, 1,000 msg/s, 5 s
#   bench/tool-check.sh OLD_TACK NEW_TACK --pairs 5 --rate 2000 --connections 1000 --duration 5s
#   bench/tool-check.sh OLD_TACK NEW_TACK --saturate --rate 1000   # a short search from 1,000 msg/s:
#                                       # x1.5 per 2 s step, at most 6 steps and 1 bisecting step
#
# Build the binaries first (`cargo build --release -p tack-cli -p tack-bench-baseline`); an
# older tool comes from `git worktree add` of an older commit, built the same way. Results land
# in bench/results/tool-check-<time>/ (JSON per run, and a summary).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=$1; NEW=$2; shift 2
PAIRS=3; RATE=1000; CONNS=1000; DURATION=5s; SATURATE=0
BASELINE="${BASELINE:-$ROOT/target/release/tack-bench-baseline}"
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) PAIRS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --saturate) SATURATE=1; shift ;;
    *) echo "unknown flag $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
OUT="$ROOT/bench/results/tool-check-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$BASELINE" "127.0.0.1:$PORT" >"$OUT/baseline.log" 2>&1 &
BASE_PID=$!
trap 'kill $BASE_PID 2>/dev/null || true; wait $BASE_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
  echo "old: $OLD ($("$OLD" --version))"
  echo "new: $NEW ($("$NEW" --version))"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$SATURATE" = 1 ]; then
    echo "runs: $CONNS subscribers, saturation search from $RATE msg/s (x1.5 per 2 s step, p99 < 100 ms), 100 B, interleaved old/new, $PAIRS pairs"
  else
    echo "runs: $CONNS subscribers, $RATE msg/s, 100 B, $DURATION each, interleaved old/new, $PAIRS pairs"
  fi
} >"$OUT/summary.txt"

if [ "$SATURATE" = 1 ]; then
  WORKLOAD="--workload saturate --step 2s --factor 1.5 --max-steps 6 --refine 1 --p99-limit 100ms"; LIMIT=120
else
  WORKLOAD="--workload broadcast --duration $DURATION"; LIMIT=60
fi
for pair in $(seq 1 "$PAIRS"); do
  for which in old new; do
    bin=$OLD; [ "$which" = new ] && bin=$NEW
    # shellcheck disable=SC2086
    timeout "$LIMIT" "$bin" bench --plain --url "ws://127.0.0.1:$PORT/" --publish-url "ws://127.0.0.1:$PORT/publish" \
      --server-pid "$BASE_PID" --connections "$CONNS" --rate "$RATE" --size 100 $WORKLOAD \
      --json --quiet >"$OUT/$which-$pair.json" 2>>"$OUT/stderr.log" || echo '{"failed": true}' >"$OUT/$which-$pair.json"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/summary.txt"

python3 - "$OUT" <<'PY' | tee -a "$OUT/summary.txt"
import json, os, sys
out = sys.argv[1]
print("| run | tool | delivered/s | lost | p50 ms | p99 ms | tool CPU (% of a core) | tool share of the cores | loop CPU (% of a core) | saturation steps (msg/s, p99 ms, tool % of a core) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for f in sorted(os.listdir(out), key=lambda n: (n.split("-")[-1], n)):
    if not f.endswith(".json"):
        continue
    r = json.load(open(os.path.join(out, f)))
    if r.get("failed"):
        print(f"| {f[:-5]} | failed |"); continue
    cores = r.get("load_tool_cores") or r["machine"]["cores"]
    share = r.get("load_tool_share")
    if share is None and r.get("load_tool_cpu_pct") is not None:
        share = r["load_tool_cpu_pct"] / 100 / cores
    which, pair = f[:-5].split("-")
    # A saturation search reports its highest passing step; the steps show where each tool got.
    steps = " ".join(f"{s['rate']:,.0f}{'✓' if s['passed'] else '✗'}({s['latency_ms']['p99']:.0f}, {s['load_tool_cpu_pct'] or 0:.0f}%)"
                     for s in r.get("steps", []))
    print(f"| {pair} | {which} | {r['deliveries_per_s']:,.0f} | {r['lost']:,} | {r['latency_ms']['p50']:.1f} | "
          f"{r['latency_ms']['p99']:.1f} | {r['load_tool_cpu_pct']:.0f} | {share * 100:.0f} % of {cores} | {r['server_cpu_pct']:.0f} | {steps} |")
PY
echo "results: ${OUT#$ROOT/}"
