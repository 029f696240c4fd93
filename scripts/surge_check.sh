#!/usr/bin/env bash
# The surge check of issue 11: one dispatcher with its embedded Redis and 5,000 residents, then
# five back-to-back 20 s runs (1,000 presses/s, then 5,000/s four times) with a watching console
# at each of the 139 stations (bots that never take a call, so every call stays on offer with its
# resident's card). After each run: did the dispatcher survive, was every press acked, and the
# press -> ack and press -> offered percentiles. Exits non-zero if the dispatcher died or a press
# went unacked.
#   BUILD_DIR=build-asan ./scripts/surge_check.sh    the same against the sanitizer build
#   SURGE_RATES="1000 5000" SURGE_SECONDS=10          other runs
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}
[ -x "$BIN/dispatcher/dispatcher" ] || ./scripts/build.sh >/dev/null
ulimit -n 20000 || true
WORK=$(mktemp -d /tmp/anxin-surge.XXXX)
DEV_PORT=${SURGE_DEVICE_PORT:-17900}
HTTP_PORT=${SURGE_HTTP_PORT:-18900}
RATES=${SURGE_RATES:-1000 5000 5000 5000 5000}
SECONDS_EACH=${SURGE_SECONDS:-20}
trap 'kill $DPID 2>/dev/null || true; wait 2>/dev/null || true; [ "${SURGE_KEEP:-0}" = 1 ] || rm -rf "$WORK"' EXIT

"$BIN/dispatcher/dispatcher" --data-dir "$WORK/d" --device-port $DEV_PORT --http-port $HTTP_PORT \
    --pbkdf2-iterations 1000 --log-level warn > "$WORK/dispatcher.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do curl -sf --cacert "$WORK/d/tls/ca.pem" "https://localhost:$HTTP_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
"$BIN/device-sim/device-sim" provision --http-port $HTTP_PORT --ca-file "$WORK/d/tls/ca.pem" --admin-token-file "$WORK/d/admin-token" \
    --out "$WORK/sim" --residents 5000 > /dev/null

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); binaries: $BIN"
printf "%-4s %-7s %-9s %-8s %-8s %-6s %-11s %-12s %-14s %-15s %s\n" run rate presses acked unacked lost \
    "ack p99 ms" "offered p99" "seen offered" "never offered" dispatcher
failed=0
run=0
for rate in $RATES; do
    run=$((run + 1))
    "$BIN/device-sim/device-sim" load --device-port $DEV_PORT --http-port $HTTP_PORT \
        --devices-file "$WORK/sim/devices.csv" --operators-file "$WORK/sim/operators.csv" \
        --devices 1000 --alarm-rate "$rate" --duration "$SECONDS_EACH" --bots 139 --never-accept \
        --types sos --redis "$WORK/d/redis.sock" --ca-file "$WORK/d/tls/ca.pem" --settle 30 --json \
        > "$WORK/run$run.json" \
        2> "$WORK/run$run.err" || true
    if kill -0 $DPID 2>/dev/null; then alive=survived; else alive=DIED; failed=1; fi
    python3 - "$WORK/run$run.json" "$run" "$rate" "$alive" <<'EOF' || failed=1
import json, sys
path, run, rate, alive = sys.argv[1:5]
try:
    r = json.loads(open(path).read().strip().splitlines()[-1])
except Exception:
    print(f"{run:<4} {rate:<7} (device-sim printed no result) {alive}")
    sys.exit(1)
def p99(h):
    return f"{h['p99_ms']:.1f}" if h and h.get("count") else "-"
off = r.get("offered") or {}
# "seen offered": offers the watching consoles received during the run and the settle time;
# "never offered": acked calls Redis shows were never offered to anyone by the end.
print(f"{run:<4} {rate:<7} {r['presses']:<9} {r['acked']:<8} {r['unacked']:<8} {r['lost']:<6} "
      f"{p99(r['ack']):<11} {p99(off):<12} {off.get('count', 0):<14} {r.get('never_offered', -1):<15} {alive}")
sys.exit(0 if r["unacked"] == 0 and r["lost"] == 0 and r["acked"] == r["presses"] else 1)
EOF
    [ "$alive" = survived ] || { echo "the dispatcher died; its log:"; tail -30 "$WORK/dispatcher.log"; break; }
done
exit $failed
