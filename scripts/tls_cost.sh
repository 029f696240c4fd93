#!/usr/bin/env bash
# What TLS on the device port costs, measured beside plaintext in one run on this machine: one
# dispatcher (embedded Redis) with both ports open, device-sim playing the devices.
#   1. handshakes per second: 5,000 devices connecting as fast as they can (connect + TLS + Hello
#      + Welcome), TLS vs plaintext;
#   2. memory per connection and heartbeat -> ack at 19,000 devices heartbeating every 10 s for
#      30 s, TLS vs plaintext (the dispatcher's RSS before and after, divided by the devices).
# The simulator shares the 2 cores with the dispatcher and Redis: compare the two columns, not
# the absolute figures with another machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}
[ -x "$BIN/dispatcher/dispatcher" ] || ./scripts/build.sh >/dev/null
ulimit -n 20000 || true
WORK=$(mktemp -d /tmp/anxin-tls.XXXX)
DEV_PORT=17950 PLAIN_PORT=17951 HTTP_PORT=18950 PLAIN_HTTP_PORT=18951
trap 'kill $DPID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

start_dispatcher() {
    rm -rf "$WORK/d"
    "$BIN/dispatcher/dispatcher" --data-dir "$WORK/d" --device-port $DEV_PORT \
        --plain-device-port $PLAIN_PORT --http-port $HTTP_PORT --plain-http-port $PLAIN_HTTP_PORT \
        --pbkdf2-iterations 1000 \
        --log-level warn > "$WORK/dispatcher.log" 2>&1 &
    DPID=$!
    for _ in $(seq 200); do curl -sf --cacert "$WORK/d/tls/ca.pem" "https://localhost:$HTTP_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    # A fresh data directory each time (so a new certificate): the same reproducible district.
    "$BIN/device-sim/device-sim" provision --http-port $HTTP_PORT --ca-file "$WORK/d/tls/ca.pem" \
        --admin-token-file "$WORK/d/admin-token" --out "$WORK/sim" --residents 20000 > /dev/null
}
stop_dispatcher() { kill $DPID 2>/dev/null || true; wait $DPID 2>/dev/null || true; }
rss_kb() { awk '/VmRSS/ {print $2}' /proc/$DPID/status; }
run() {  # name, mode (tls|plain), device-sim load options...
    local name=$1 mode=$2; shift 2
    local port=$DEV_PORT http=$HTTP_PORT extra=(--ca-file "$WORK/d/tls/ca.pem")
    [ "$mode" = plain ] && { port=$PLAIN_PORT; http=$PLAIN_HTTP_PORT; extra=(--plain); }
    "$BIN/device-sim/device-sim" load --device-port $port --http-port $http \
        --devices-file "$WORK/sim/devices.csv" --operators-file "$WORK/sim/operators.csv" \
        "${extra[@]}" --json "$@" > "$WORK/$name.json" 2> "$WORK/$name.err" || true
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); binaries: $BIN"
for mode in tls plain; do
    start_dispatcher
    run "rate-$mode" $mode --devices 5000 --connect-rate 100000 --heartbeat 60 --alarm-rate 0 \
        --duration 1 --source-ips 8
    stop_dispatcher
    start_dispatcher
    before=$(rss_kb)
    run "conn-$mode" $mode --devices 19000 --connect-rate 3000 --heartbeat 10 --alarm-rate 0 \
        --duration 30 --source-ips 16
    after=$(rss_kb)
    echo "$before $after" > "$WORK/rss-$mode"
    stop_dispatcher
done
python3 - "$WORK" <<'EOF'
import json, sys, os
work = sys.argv[1]
def load(n):
    try:
        return json.loads(open(os.path.join(work, n + ".json")).read().strip().splitlines()[-1])
    except Exception:
        return None
print(f"{'':34} {'TLS':>14} {'plaintext':>14}")
def row(label, f):
    vals = []
    for mode in ("tls", "plain"):
        try:
            vals.append(f(mode))
        except Exception:
            vals.append("-")
    print(f"{label:34} {vals[0]:>14} {vals[1]:>14}")
row("connect+handshake, 5,000 devices", lambda m: f"{load('rate-'+m)['online']}/{load('rate-'+m)['devices']} in {load('rate-'+m)['connect_s']:.2f} s")
row("  = handshakes per second", lambda m: f"{load('rate-'+m)['online'] / load('rate-'+m)['connect_s']:,.0f}")
row("  connect p99 (ms)", lambda m: f"{load('rate-'+m)['connect']['p99_ms']:.1f}")
row("19,000 devices online", lambda m: f"{load('conn-'+m)['online']}/{load('conn-'+m)['devices']}")
def per_conn(m):
    b, a = map(int, open(os.path.join(work, "rss-" + m)).read().split())
    return f"{(a - b) / load('conn-'+m)['online']:.1f} KiB"
row("dispatcher memory per connection", per_conn)
row("heartbeat -> ack p50 (ms)", lambda m: f"{load('conn-'+m)['heartbeat']['p50_ms']:.2f}")
row("heartbeat -> ack p99 (ms)", lambda m: f"{load('conn-'+m)['heartbeat']['p99_ms']:.2f}")
row("heartbeats acked", lambda m: f"{load('conn-'+m)['heartbeat']['count']}")
EOF
