#!/usr/bin/env bash
# One benchmark run on one machine: starts
#   (a) `tack serve` (and a second one with default settings),
#   (b) Pushpin 1.36 (condure, zurl, proxy, handler) in front of `tack serve --pushpin`
#       (or, while Tack's origin mode is missing, in front of bench's plain GRIP origin),
#   (c) the bare tokio-tungstenite broadcast baseline,
#   (d) two `tack serve --redis` nodes on one redis-server,
# runs every scenario of bench/scenarios.sh against each, RUNS times interleaved (a run of
# every target, then the next run; the saturation searches SAT_RUNS times), takes medians, runs
# the criterion benchmarks, and writes BENCHMARKS.md.
#
#   bench/run.sh                 # the full table: 3 runs (saturation 5), 10 s per scenario (~50 minutes)
#   bench/run.sh --quick         # 1 run, 3 s, fewer connections: checks the machinery
#   bench/run.sh --runs 5 --saturation-runs 7 --duration 20s --out /tmp/B.md --no-criterion --only fanout-1k-100
#   bench/run.sh --no-build      # use the release binaries already in target/
#   bench/run.sh --only fanout-1k-100,saturate-1k --targets tack,tack-redis   # a subset (comma lists)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=3
# The saturation searches run more often than the rest: from run to run each server's figure
# moved by 1.5-1.8x on this kind of machine (bench/NOTES.md), and the target is a ratio of two
# such figures, so its median needs more pairs than a fan-out row's does.
SAT_RUNS=5
DURATION=10s
STEP=3s
# Idle memory at 10,000 connections: the scale a deployment plans for (issue 19); the load
# tool raises its own open-files limit, and this script the servers' (below).
IDLE_CONNS=10000
OUT="$ROOT/BENCHMARKS.md"
CRITERION=1
ONLY=""
TARGETS=""
QUICK=0
BUILD=1
# Pushpin in front of `tack serve --pushpin` answers 502 to many handshakes at 2,000 new
# connections/s: its proxy turns a handshake away when its queue to zurl is full. A fresh
# Pushpin takes 1,000 at 300/s without one; beyond ~3,000 open WebSockets the origin's
# keep-alive requests (one per connection every 20 s) fill that queue whatever the ramp
# (bench/NOTES.md).
PUSHPIN_RAMP="${PUSHPIN_RAMP:---ramp 300}"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --saturation-runs) SAT_RUNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --step) STEP=$2; shift 2 ;;
    --idle-connections) IDLE_CONNS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-criterion) CRITERION=0; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --targets) TARGETS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --quick) QUICK=1; RUNS=1; SAT_RUNS=1; DURATION=3s; STEP=2s; IDLE_CONNS=1000; CRITERION=0; shift ;;
    *) echo "unknown flag $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

cd "$ROOT"
RESULTS="$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RESULTS"
LOG="$RESULTS/run.log"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

# 10,000 sockets per process need more than the usual 1,024 open files.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ "$BUILD" = 1 ]; then
  log "building release binaries"
  cargo build --release -q -p tack-cli -p tack-bench-baseline -p tack-testkit
fi
TACK="$ROOT/target/release/tack"
BASELINE="$ROOT/target/release/tack-bench-baseline"
GRIP_ORIGIN="$ROOT/target/release/tack-bench-grip-origin"
PUSHPIN_BIN="$ROOT/target/release/tack-pushpin"
# Pushpin's origin: Tack's origin mode when this `tack` has it, else the plain GRIP origin.
if "$TACK" serve --help 2>/dev/null | grep -q -- '--pushpin'; then PUSHPIN_MODE=tack; else PUSHPIN_MODE=plain; fi

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 200); do
    if ! port_free "$1"; then return 0; fi
    sleep 0.1
  done
  log "nothing listens on port $1 after 20 s ($2)"; return 1
}

TMP=$(mktemp -d)
PIDS_TO_STOP=()
PUSHPIN_STDIN=""
PUSHPIN_PIDS=""
ORIGIN_PID=""
stop_servers() {
  stop_pushpin
  for pid in "${PIDS_TO_STOP[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS_TO_STOP[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS_TO_STOP=()
}
trap 'stop_servers; rm -rf "$TMP"' EXIT

# Every run set starts on fresh server processes, so memory figures are not flattered by what
# an allocator kept from the previous run, and no backlog carries over.
start_servers() {
# (a) the built-in server. Its history holds 20,000 items per channel, more than a fan-out
# scenario publishes, so a subscriber it disconnects for falling behind can resume from where
# it was (`--resume`). Publishing goes to its control listener, as a backend's does.
TACK_PORT=$(free_port)
TACK_CONTROL_PORT=$(free_port)
TACK_HISTORY_LEN=20000 TACK_MAX_CONNECTIONS=50000 "$TACK" serve --listen "127.0.0.1:$TACK_PORT" \
  --control-listen "127.0.0.1:$TACK_CONTROL_PORT" >>"$RESULTS/tack.log" 2>&1 &
TACK_PID=$!; PIDS_TO_STOP+=("$TACK_PID")
wait_port "$TACK_PORT" "tack serve"

# (a') the built-in server as a user starts it, with no setting changed: the scenario that
# checks "nobody kicked, nothing lost" at a rate the server carries (issue 19) measures the
# defaults, not the longer history above.
TACK_DEF_PORT=$(free_port)
TACK_DEF_CONTROL_PORT=$(free_port)
"$TACK" serve --listen "127.0.0.1:$TACK_DEF_PORT" --control-listen "127.0.0.1:$TACK_DEF_CONTROL_PORT" \
  >>"$RESULTS/tack-defaults.log" 2>&1 &
TACK_DEF_PID=$!; PIDS_TO_STOP+=("$TACK_DEF_PID")
wait_port "$TACK_DEF_PORT" "tack serve (defaults)"

# (d) two `tack serve --redis` nodes on one Redis (issue 16): subscribers are spread over both
# nodes (`tack bench --also-url`), messages are published through the first, and every event
# crosses Redis (one script, one pub/sub message per node). Same raised history as (a), so the
# comparison with (a) is the Redis hop and the second process, nothing else. Redis runs with no
# persistence, as a cache-sized deployment would for a benchmark.
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" \
  >>"$RESULTS/redis.log" 2>&1 &
REDIS_PID=$!; PIDS_TO_STOP+=("$REDIS_PID")
wait_port "$REDIS_PORT" "redis-server"
redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
# The two nodes share the machine's cores as one node has them all: each runs a worker thread
# per core by default, and two nodes doing so kept every item waiting for a core (the Redis hop
# added 4.6 ms to p50 at 1,000 x 1,000 msg/s on two cores; 0.1-0.3 ms with one worker each).
NODE_WORKERS=$(( $(nproc) / 2 )); [ "$NODE_WORKERS" -ge 1 ] || NODE_WORKERS=1
NODE1_PORT=$(free_port)
NODE1_CONTROL_PORT=$(free_port)
TACK_THREADS=$NODE_WORKERS \
TACK_HISTORY_LEN=20000 TACK_MAX_CONNECTIONS=50000 "$TACK" serve --listen "127.0.0.1:$NODE1_PORT" \
  --control-listen "127.0.0.1:$NODE1_CONTROL_PORT" \
  --redis "redis://127.0.0.1:$REDIS_PORT" >>"$RESULTS/tack-redis-1.log" 2>&1 &
NODE1_PID=$!; PIDS_TO_STOP+=("$NODE1_PID")
NODE2_PORT=$(free_port)
NODE2_CONTROL_PORT=$(free_port)
TACK_THREADS=$NODE_WORKERS \
TACK_HISTORY_LEN=20000 TACK_MAX_CONNECTIONS=50000 "$TACK" serve --listen "127.0.0.1:$NODE2_PORT" \
  --control-listen "127.0.0.1:$NODE2_CONTROL_PORT" \
  --redis "redis://127.0.0.1:$REDIS_PORT" >>"$RESULTS/tack-redis-2.log" 2>&1 &
NODE2_PID=$!; PIDS_TO_STOP+=("$NODE2_PID")
wait_port "$NODE1_PORT" "tack serve --redis (1)"
wait_port "$NODE2_PORT" "tack serve --redis (2)"

# (c) the baseline.
BASE_PORT=$(free_port)
"$BASELINE" "127.0.0.1:$BASE_PORT" >>"$RESULTS/baseline.log" 2>&1 &
BASE_PID=$!; PIDS_TO_STOP+=("$BASE_PID")
wait_port "$BASE_PORT" "baseline"

}

# (b) Pushpin 1.36 (condure, zurl, proxy, handler) through `tack-pushpin`, the test kit's own
# launcher: one pushpin.conf for the tests and the benchmark (rate limits lifted:
# message_rate=0, client_buffer_size=65536, client_maxconn=50000). It runs until its stdin
# closes, then stops every Pushpin process.
#
# Pushpin and its origin start afresh for every measurement: an overloaded Pushpin keeps
# working through its backlog (and logging one warning per dropped delivery) for a long time
# afterwards, and in a first full run the scenarios that followed an overload measured that
# backlog, not Pushpin (see bench/NOTES.md).
start_pushpin() {
  ORIGIN_PORT=$(free_port)
  ORIGIN_CONTROL_PORT=$(free_port)
  GRIP_KEY="bench-grip-key-$(date +%s%N)"
  coproc PUSHPIN { "$PUSHPIN_BIN" --origin "127.0.0.1:$ORIGIN_PORT" --sig-key "$GRIP_KEY" 2>>"$RESULTS/pushpin.log"; }
  PUSHPIN_STDIN=${PUSHPIN[1]}
  local line pp_url="" pp_publish=""
  while read -r -t 60 -u "${PUSHPIN[0]}" line; do
    case "$line" in
      url=*) pp_url=${line#url=} ;;
      publish_url=*) pp_publish=${line#publish_url=} ;;
      dir=*) PUSHPIN_DIR=${line#dir=} ;;
      pids=*) PUSHPIN_PIDS=${line#pids=} ;;
      ready) break ;;
    esac
  done
  if [ -z "$pp_url" ] || [ -z "$PUSHPIN_PIDS" ]; then log "pushpin did not start (see $RESULTS/pushpin.log)"; return 1; fi
  PP_PORT=${pp_url##*:}
  PP_PUBLISH_PORT=${pp_publish##*:}
  if [ "$PUSHPIN_MODE" = tack ]; then
    "$TACK" serve --listen "127.0.0.1:$ORIGIN_PORT" --control-listen "127.0.0.1:$ORIGIN_CONTROL_PORT" --pushpin "$pp_publish" \
      --grip-key "$GRIP_KEY" >>"$RESULTS/origin.log" 2>&1 &
  else
    "$GRIP_ORIGIN" "127.0.0.1:$ORIGIN_PORT" >>"$RESULTS/origin.log" 2>&1 &
  fi
  ORIGIN_PID=$!
  wait_port "$ORIGIN_PORT" "pushpin origin"
}

# Pushpin stops first, so the disconnects it sends its origin still find it.
stop_pushpin() {
  if [ -n "$PUSHPIN_STDIN" ]; then
    # What Pushpin logged, in short: one warning per dropped delivery would be millions of lines.
    if [ -f "$PUSHPIN_DIR/log/pushpin.log" ]; then
      { echo "---- pushpin log, ${1:-}: lines by kind ----"
        # Session ids vary per line (long-polling logs one line per poll); `|| true`: head stops
        # reading after 20 lines, and under pipefail the sort it cut off would end the whole run.
        sed -E 's/^\[([A-Z]+)\] [0-9-]+ [0-9:.]+ //; s/(id|pid)=[^ ,]*//g; s/session=[^ &,]*/session=S/g; s/[0-9]+/N/g' "$PUSHPIN_DIR/log/pushpin.log" | cut -c1-100 | sort | uniq -c | sort -rn | head -20 || true
      } >>"$RESULTS/pushpin.log"
    fi
    exec {PUSHPIN_STDIN}>&-
    wait "$PUSHPIN_PID" 2>/dev/null || true
  fi
  PUSHPIN_STDIN=""; PUSHPIN_PIDS=""
  if [ -n "$ORIGIN_PID" ]; then
    kill "$ORIGIN_PID" 2>/dev/null || true
    wait "$ORIGIN_PID" 2>/dev/null || true
  fi
  ORIGIN_PID=""
}

# `tack bench` flags that point at each target, and the server processes to measure.
target_flags() {
  local target=$1 scenario=$2
  case "$target" in
    tack)
      echo "--url http://127.0.0.1:$TACK_PORT --publish-url http://127.0.0.1:$TACK_CONTROL_PORT/publish/ --server-pid $TACK_PID" ;;
    tack-defaults)
      echo "--url http://127.0.0.1:$TACK_DEF_PORT --publish-url http://127.0.0.1:$TACK_DEF_CONTROL_PORT/publish/ --server-pid $TACK_DEF_PID" ;;
    tack-redis)
      # Server CPU counts both nodes and Redis; publishes go to the first node's control
      # listener, so every delivery on the second node has crossed Redis.
      echo "--url http://127.0.0.1:$NODE1_PORT --also-url http://127.0.0.1:$NODE2_PORT --publish-url http://127.0.0.1:$NODE1_CONTROL_PORT/publish/ --server-pid $NODE1_PID,$NODE2_PID,$REDIS_PID" ;;
    pushpin)
      if [ "$PUSHPIN_MODE" = tack ]; then
        # Published through the origin's /publish/ (its control listener), as a Tack deployment
        # behind Pushpin does:
        # Tack numbers the item and forwards it to Pushpin's publish port.
        echo "--url http://127.0.0.1:$PP_PORT --publish-url http://127.0.0.1:$ORIGIN_CONTROL_PORT/publish/ --server-pid $PUSHPIN_PIDS,$ORIGIN_PID $PUSHPIN_RAMP"
      else
        # Plain origin: every subscriber is on channel bench-0; publish to Pushpin directly.
        echo "--plain --prefix bench --url ws://127.0.0.1:$PP_PORT/c/bench-0 --publish-url http://127.0.0.1:$PP_PUBLISH_PORT/publish/ --server-pid $PUSHPIN_PIDS,$ORIGIN_PID $PUSHPIN_RAMP"
      fi ;;
    pushpin-tack)
      # Tack's protocol through Pushpin (chat, SSE, long-polling); broadcasts are published
      # through the origin, as for `pushpin`.
      echo "--url http://127.0.0.1:$PP_PORT --publish-url http://127.0.0.1:$ORIGIN_CONTROL_PORT/publish/ --server-pid $PUSHPIN_PIDS,$ORIGIN_PID $PUSHPIN_RAMP" ;;
    baseline)
      echo "--plain --url ws://127.0.0.1:$BASE_PORT/ --publish-url ws://127.0.0.1:$BASE_PORT/publish --server-pid $BASE_PID" ;;
  esac
}

# The processes that make up a target (what `--server-pid` measures, and what must be idle).
target_pids() {
  case "$1" in
    tack) echo "$TACK_PID" ;;
    tack-defaults) echo "$TACK_DEF_PID" ;;
    tack-redis) echo "$NODE1_PID,$NODE2_PID,$REDIS_PID" ;;
    baseline) echo "$BASE_PID" ;;
    pushpin*) echo "$PUSHPIN_PIDS,$ORIGIN_PID" ;;
  esac
}

# Waits until a target's processes are idle (under 10 % of a core over a second), measured
# from /proc: a server still working through the last run's backlog would slow the next run
# down. At most 30 s; how long it took is logged.
cpu_ticks() { # total utime+stime of a comma-separated pid list
  local total=0 pid
  for pid in ${1//,/ }; do
    if [ -r "/proc/$pid/stat" ]; then
      total=$(( total + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat") ))
    fi
  done
  echo "$total"
}
wait_quiet() {
  local pids=$1 before after n
  for n in $(seq 1 30); do
    before=$(cpu_ticks "$pids"); sleep 1; after=$(cpu_ticks "$pids")
    if [ $((after - before)) -lt 10 ]; then
      [ "$n" -gt 1 ] && log "  server idle after ${n} s"
      return 0
    fi
  done
  log "  server still busy after 30 s; going on"
}

log "pushpin's origin: $PUSHPIN_MODE"
source "$ROOT/bench/scenarios.sh"
: >"$RESULTS/commands.txt"
for run in $(seq 1 $(( RUNS > SAT_RUNS ? RUNS : SAT_RUNS ))); do
  stop_servers
  start_servers
  while IFS='|' read -r name what flags targets; do
    [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]] && continue
    if [[ "$name" == saturate* ]]; then [ "$run" -gt "$SAT_RUNS" ] && continue
    else [ "$run" -gt "$RUNS" ] && continue; fi
    for target in $targets; do
      [ -n "$TARGETS" ] && [[ ",$TARGETS," != *",$target,"* ]] && continue
      if [ "$target" = pushpin-tack ] && [ "$PUSHPIN_MODE" != tack ]; then continue; fi
      extra=""
      if [[ "$name" == saturate* ]]; then extra="--rate $(saturate_start "$target")"; fi
      # Tack's WebSocket subscribers resume as Tack's client does when the server disconnects
      # them for falling behind (close 1008); the baseline and Pushpin have nothing to resume
      # from. The saturation rows resume too: a subscriber disconnected in an overloaded step
      # comes back for the next one instead of counting as lost in every step after it (the
      # loop's lagged subscribers stay connected and skip ahead); the step it was disconnected
      # in still fails, on its p99 or on what history no longer held. The defaults row runs
      # without it: it counts who was kicked.
      if [[ "$target" == tack || "$target" == tack-redis ]] && [[ "$name" == fanout* || "$name" == saturate* ]] && [[ "$flags" != *"--transport "* ]]; then
        extra="$extra --resume"
      fi
      if [ "$QUICK" = 1 ] && [[ "$name" == *5k* || "$name" == rooms* ]]; then
        # The quick check keeps the shape but not the size.
        flags=${flags//--connections 5000/--connections 1000}
        flags=${flags//--rooms 1000/--rooms 200}
      fi
      mkdir -p "$RESULTS/$name/$target"
      if [[ "$target" == pushpin* ]]; then
        stop_pushpin
        start_pushpin || { echo '{"failed": true}' >"$RESULTS/$name/$target/$run.json"; continue; }
      fi
      cmd="$TACK bench $flags $extra $(target_flags "$target" "$name") --json --quiet"
      echo "$name $target run $run: ${cmd#$ROOT/}" >>"$RESULTS/commands.txt"
      log "$name / $target / run $run"
      wait_quiet "$(target_pids "$target")"
      if ! $cmd >"$RESULTS/$name/$target/$run.json" 2>>"$LOG"; then
        log "  failed (see $LOG)"
        echo '{"failed": true}' >"$RESULTS/$name/$target/$run.json"
      fi
      if [[ "$target" == pushpin* ]]; then stop_pushpin "$name run $run"; fi
    done
  done < <(scenarios)
done
stop_servers

CRIT="$RESULTS/criterion.txt"
: >"$CRIT"
if [ "$CRITERION" = 1 ]; then
  log "criterion: tack-protocol codecs"
  cargo bench -q -p tack-protocol --bench codecs -- --warm-up-time 1 --measurement-time 3 2>/dev/null \
    | grep -E '^[a-zA-Z].*|time:|thrpt:' >>"$CRIT" || log "  codecs benchmark failed"
  if [ -f crates/tack-client/benches/ingest.rs ]; then
    log "criterion: tack-client ingest"
    cargo bench -q -p tack-client --bench ingest -- --warm-up-time 1 --measurement-time 3 2>/dev/null \
      | grep -E '^[a-zA-Z].*|time:|thrpt:' >>"$CRIT" || log "  ingest benchmark failed"
  fi
fi

{
  echo "tack: $("$TACK" --version)"
  echo "pushpin: $(pushpin --version 2>&1 | head -1)"
  echo "condure: $(dpkg-query -W -f='${Version}' pushpin 2>/dev/null || echo '?') (Debian package pushpin)"
  echo "rustc: $(rustc --version)"
  echo "tokio-tungstenite: $(grep -A1 '^name = "tokio-tungstenite"' Cargo.lock | grep version | head -1 | cut -d'"' -f2)"
  echo "kernel: $(uname -sr)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "cores: $(nproc)"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "pushpin_mode: $PUSHPIN_MODE"
  echo "redis: $(redis-server --version | cut -d' ' -f3)"
  echo "runs: $RUNS"
  echo "saturation_runs: $SAT_RUNS"
  echo "quick: $QUICK"
  echo "duration: $DURATION"
  echo "step: $STEP"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average when the run ended)"
  echo "commit: $(git rev-parse --short HEAD)"
} >"$RESULTS/meta.txt"

python3 "$ROOT/bench/report.py" "$RESULTS" "$OUT"
log "wrote $OUT (raw results in ${RESULTS#$ROOT/})"
