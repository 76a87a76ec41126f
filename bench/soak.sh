#!/usr/bin/env bash
# The abuse soak (a benchmark, not a test): `tack serve` with its default settings, 1,000
# ordinary clients chatting in 100 rooms for 10 minutes beside 50 hostile ones cycling through
# every abuse (enter/leave loops, channel floods, malformed and out-of-range frames, clients
# that stop reading, headers that never finish, HTTP session floods and oversized queries, bad
# and cross-site publishes). Writes the figures to bench/results/soak-<time>.json and the
# "Abuse held" section of BENCHMARKS.md.
#
#   bench/soak.sh                       # 10 minutes, 1,000 + 50 clients
#   bench/soak.sh --duration 60 --clients 200 --hostile 10   # a quick look
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=600
CLIENTS=1000
HOSTILE=50
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --hostile) HOSTILE=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cargo build --release --locked -q -p tack-cli --bin tack
cargo build --release --locked -q -p tack-bench --example soak
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
CONTROL=$(free_port)
ulimit -n 65536 2>/dev/null || true
target/release/tack serve --listen "127.0.0.1:$PORT" --control-listen "127.0.0.1:$CONTROL" \
  >/tmp/tack-soak-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$CONTROL/healthz" >/dev/null && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$CONTROL/healthz" >/dev/null || {
  echo "tack serve did not start:" >&2; cat /tmp/tack-soak-server.log >&2; exit 1; }

mkdir -p bench/results
OUT="bench/results/soak-$(date -u +%Y%m%dT%H%M%SZ).json"
target/release/examples/soak --url "http://127.0.0.1:$PORT" --control "http://127.0.0.1:$CONTROL" \
  --server-pid "$SERVER" --clients "$CLIENTS" --hostile "$HOSTILE" --duration "$DURATION" --out "$OUT"
kill -0 $SERVER || { echo "the server died during the soak" >&2; exit 1; }
curl -fs "http://127.0.0.1:$CONTROL/metrics" | grep -E '^tack_(frames_refused|refused_connections|slow_consumer|drops|channels|http_sessions)' > "${OUT%.json}.metrics.txt" || true

python3 - "$OUT" "${OUT%.json}.metrics.txt" "$ROOT/BENCHMARKS.md" <<'EOF'
import json, os, platform, sys
report, metrics, out = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), sys.argv[3]
mib = lambda b: f"{b / 2**20:.0f} MiB" if b else "n/a"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
lines = [
    "## Abuse held",
    "",
    f"`bench/soak.sh`: `tack serve` with its default settings; {report['clients']:,} ordinary clients chatting in 100 rooms "
    f"(one message every 5 s each, timed to its ack) beside {report['hostile']} hostile clients cycling through every abuse, "
    f"for {report['duration_secs'] // 60} minutes, all on one machine ({os.cpu_count()} cores, {cpu}). "
    f"Raw figures: `{os.path.relpath(sys.argv[1], os.path.dirname(out))}`.",
    "",
    "| | |",
    "|---|---:|",
    f"| ordinary clients disconnected | {report['ordinary_disconnected']} (target 0) |",
    f"| their messages acknowledged | {report['messages_acked']:,} of {report['messages_sent']:,} |",
    f"| their ack p50 / p99 / max | {report['ack_p50_ms']:.1f} ms / {report['ack_p99_ms']:.1f} ms / {report['ack_max_ms']:.1f} ms |",
    f"| server RSS: before clients / all connected / end (max) | {mib(report['rss_start_bytes'])} / {mib(report['rss_ready_bytes'])} / {mib(report['rss_end_bytes'])} ({mib(report['rss_max_bytes'])}) |",
    f"| server RSS each minute | {', '.join(mib(b) for b in report.get('rss_per_minute_bytes', [])) or 'n/a'} |",
    "",
    "Abuses attempted, and what the abusers got back (by error code, HTTP status or close code):",
    "",
    "| abuse | rounds |",
    "|---|---:|",
] + [f"| {k} | {v:,} |" for k, v in report["abuses"].items()] + [
    "",
    "| refusal | count |",
    "|---|---:|",
] + [f"| {k} | {v:,} |" for k, v in report["refused"].items()] + [
    "",
    "The server's own count at the end (`/metrics`):",
    "",
    "```",
    metrics.strip(),
    "```",
]
section = "\n".join(lines)
text = open(out).read() if os.path.exists(out) else ""
start = text.find("\n## Abuse held")
if start != -1:
    end = text.find("\n## ", start + 1)
    text = text[:start] + ("\n" + text[end + 1:] if end != -1 else "")
open(out, "w").write(text.rstrip() + "\n\n" + section + "\n")
EOF
echo "soak: figures in $OUT and BENCHMARKS.md (Abuse held)"
