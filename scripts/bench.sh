#!/usr/bin/env bash
# The benchmark suite: one dispatcher with its default durable settings (embedded Redis, AOF
# appendfsync always) and the simulator on this machine; redis-benchmark XADD with the same
# persistence in the same run as the yardstick. Writes bench/report.md and bench/latency.svg.
#   BENCH_QUICK=1 ./scripts/bench.sh    shorter runs (minutes instead of ~10 min)
#   BENCH_KEEP=1                        keep the raw results (printed work directory)
#
# Scenarios outside the suite (not in the default run):
#   ./scripts/bench.sh console-surge [--rate 500] [--duration 20] [--devices 2000] [--label before]
#       issue 14: the web console in headless Chromium (a supervisor and a station operator) while
#       calls pile up with nobody taking them (500/s x 20 s = 10,000 waiting): each page's
#       main-thread round trip during and after the load, long tasks, heap, WebSocket frames and
#       bytes per console, press -> ack. bench/console_surge.mjs; writes bench/console-surge.md and
#       bench/console-surge/<label>-r<rate>.json. BUILD_DIR=build reuses the development build
#       (default build-bench, Release, only the dispatcher and device-sim are built).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = console-surge ]; then
    shift
    export BUILD_DIR=${BUILD_DIR:-build-bench}
    export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
    if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
        mkdir -p "$BUILD_DIR"
        cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" > "$BUILD_DIR/configure.log" 2>&1 \
            || { cat "$BUILD_DIR/configure.log"; exit 1; }
    fi
    cmake --build "$BUILD_DIR" -j "$(nproc)" --target dispatcher device-sim > /dev/null
    [ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm ci --silent)
    ulimit -n 20000 || true
    exec node bench/console_surge.mjs "$@"
fi
./scripts/install-deps.sh >/dev/null
BUILD_TYPE=Release BUILD_DIR=build-bench ./scripts/build.sh >/dev/null
ulimit -n 20000 || true

OUT=bench
WORK=$(mktemp -d /tmp/anxin-bench.XXXX)
echo "raw results: $WORK"
mkdir -p "$OUT"
DEV_PORT=17800
HTTP_PORT=18800
QUICK=${BENCH_QUICK:-0}
BIN=build-bench
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"' EXIT

if [ "$QUICK" = 1 ]; then STEADY_S=20; CONNECTIONS=19000; else STEADY_S=60; CONNECTIONS=19000; fi

echo "== redis-benchmark XADD, appendfsync always, unix socket, 50 clients, pipeline 16"
redis-server --port 0 --unixsocket "$WORK/rb.sock" --dir "$WORK" --appendonly yes --appendfsync always \
    --save "" --daemonize no > "$WORK/rb.log" 2>&1 &
RB=$!
for _ in $(seq 50); do redis-cli -s "$WORK/rb.sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-benchmark -s "$WORK/rb.sock" -n 300000 -c 50 -P 16 -q XADD bench '*' f v > "$WORK/rb.txt" 2>&1 || true
XADD_RPS=$(grep -o '[0-9.]* requests per second' "$WORK/rb.txt" | head -1 | awk '{print $1}')
redis-benchmark -s "$WORK/rb.sock" -n 100000 -c 50 -P 1 -q XADD bench '*' f v > "$WORK/rb1.txt" 2>&1 || true
XADD1_RPS=$(grep -o '[0-9.]* requests per second' "$WORK/rb1.txt" | head -1 | awk '{print $1}')
kill $RB; wait $RB 2>/dev/null || true
echo "XADD pipelined: $XADD_RPS/s, unpipelined: $XADD1_RPS/s"

start_dispatcher() {
    rm -rf "$WORK/d"
    "$BIN/dispatcher/dispatcher" --data-dir "$WORK/d" --device-port $DEV_PORT --http-port $HTTP_PORT \
        --pbkdf2-iterations 1000 --log-level warn "$@" > "$WORK/dispatcher.log" 2>&1 &
    DPID=$!
    for _ in $(seq 100); do curl -sf --cacert "$WORK/d/tls/ca.pem" "https://localhost:$HTTP_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    "$BIN/device-sim/device-sim" provision --http-port $HTTP_PORT --ca-file "$WORK/d/tls/ca.pem" --admin-token-file "$WORK/d/admin-token" \
        --out "$WORK/sim" --residents 20000 > /dev/null
}
# A dispatcher that died during a run is reported as such (and its log kept), never skipped:
# "every press acked" means nothing if the server crashed on the way.
stop_dispatcher() { kill $DPID 2>/dev/null || true; wait $DPID 2>/dev/null || true; }
rss_kb() { awk '/VmRSS/ {print $2}' /proc/$DPID/status; }
load() {  # name, then device-sim load options
    local name=$1; shift
    echo "== $name: device-sim load $*"
    "$BIN/device-sim/device-sim" load --device-port $DEV_PORT --http-port $HTTP_PORT \
        --devices-file "$WORK/sim/devices.csv" --operators-file "$WORK/sim/operators.csv" \
        --redis "$WORK/d/redis.sock" --ca-file "$WORK/d/tls/ca.pem" --json "$@" \
        > "$WORK/$name.json" 2> "$WORK/$name.err" || true
    cat "$WORK/$name.json"
    echo "$*" > "$WORK/$name.cmd"
    if kill -0 $DPID 2>/dev/null; then
        echo "survived" > "$WORK/$name.alive"
    else
        wait $DPID 2>/dev/null && st=0 || st=$?
        echo "DIED (exit status $st; signal $((st > 128 ? st - 128 : 0)))" > "$WORK/$name.alive"
        cp "$WORK/dispatcher.log" "$WORK/$name.dispatcher.log" 2>/dev/null || true
        echo "!! the dispatcher died during $name: $(cat "$WORK/$name.alive")"
    fi
}

# 1. Connections: 19,000 authenticated devices heartbeating every 10 s; memory per connection.
start_dispatcher
RSS0=$(rss_kb)
load connections --devices $CONNECTIONS --connect-rate 3000 --heartbeat 10 --alarm-rate 0 --duration 30 --source-ips 16
RSS1=$(rss_kb)
stop_dispatcher

# 2. Steady: 5,000 alarms/s open-loop (the target), heartbeats from 5,000 devices. Meanwhile a
#    coarse profile: CPU per process and Redis's command statistics.
start_dispatcher
redis-cli -s "$WORK/d/redis.sock" CONFIG RESETSTAT > /dev/null
( sleep $((STEADY_S / 2 + 3)); top -b -n 1 -w 200 | grep -E "dispatcher|redis-ser|device-sim" | awk '!seen[$1]++' > "$WORK/profile-top.txt" ) &
load steady5k --devices 5000 --alarm-rate 5000 --duration $STEADY_S --types sos,fall,medical,smoke,low_battery
redis-cli -s "$WORK/d/redis.sock" INFO commandstats | tr -d '\r' | grep cmdstat | sort -t= -k3 -n -r | head -8 > "$WORK/profile-redis.txt"
redis-cli -s "$WORK/d/redis.sock" INFO persistence | tr -d '\r' \
    | grep -E "^(aof_rewrites|aof_current_size|aof_last_rewrite_time_sec|latest_fork_usec):" > "$WORK/profile-aof.txt"
stop_dispatcher

# 3. Highest sustained durable ack rate: steady runs at rising rates, 10 s each.
for rate in 10000 15000 20000; do
    start_dispatcher
    load "rate$rate" --devices 5000 --alarm-rate $rate --duration 10 --types sos
    stop_dispatcher
done

# 4. Surge: 15,000 connected devices, 10,000 presses within 1 s, mixed priorities.
start_dispatcher
load surge --devices 15000 --connect-rate 3000 --surge 10000 --surge-window 1 --types sos,fall,low_battery,tamper
stop_dispatcher

# 5. Churn (200 connections dropped per second, reconnecting with backoff) and slow peers (10% of
#    devices read only every 2 s) while alarms flow.
start_dispatcher
load churn --devices 5000 --alarm-rate 500 --duration 20 --churn 200 --types sos,fall
stop_dispatcher
start_dispatcher
load slow --devices 5000 --alarm-rate 500 --duration 20 --slow 0.1 --slow-pause-ms 2000 --types sos,fall
stop_dispatcher

# 6. press -> offered at a console and press -> assigned: bots at every station.
start_dispatcher --tier-timeout 600 --escalation-limit 600 --missed-offers 100000 --wrap-up 0
load offered --devices 2000 --alarm-rate 20 --duration 20 --bots 139 --accept-delay 1 --close-delay 1
stop_dispatcher
#    ...and at the target rate: 5,000 alarms/s with a bot watching at every station (they never
#    take a call, so every call stays on offer: the routing and offer load of the target).
start_dispatcher --tier-timeout 600 --escalation-limit 600 --missed-offers 100000
load offered5k --devices 5000 --alarm-rate 5000 --duration 10 --bots 139 --never-accept --settle 60 \
    --types sos,fall,medical,smoke,low_battery
stop_dispatcher

python3 scripts/bench_report.py "$WORK" "$OUT" "$XADD_RPS" "$XADD1_RPS" "$RSS0" "$RSS1" "$CONNECTIONS"
echo "report: $OUT/report.md"
