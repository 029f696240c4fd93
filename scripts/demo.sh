#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts a dispatcher with its own embedded Redis,
# provisions a demo district (139 stations, 2000 residents with call buttons, 278 operators),
# starts a bot operator at every station, and tells you what to try. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh

DATA=${ANXIN_DEMO_DIR:-demo-data}
DEVICE_PORT=${DEVICE_PORT:-7700}
HTTP_PORT=${HTTP_PORT:-8080}
BIN=build
mkdir -p "$DATA"

pids=()
stopped=0
cleanup() {
    [ "$stopped" = 1 ] && return
    stopped=1
    echo
    echo "stopping..."
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$BIN/dispatcher/dispatcher" --data-dir "$DATA/dispatcher" --device-port "$DEVICE_PORT" --http-port "$HTTP_PORT" \
    > "$DATA/dispatcher.log" 2>&1 &
pids+=($!)
# HTTPS with the certificate the dispatcher generates in its data directory (its CA: tls/ca.pem).
CA="$DATA/dispatcher/tls/ca.pem"
for _ in $(seq 1 100); do
    curl -sf --cacert "$CA" "https://localhost:$HTTP_PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf --cacert "$CA" "https://localhost:$HTTP_PORT/healthz" >/dev/null || { echo "dispatcher did not start:"; tail -20 "$DATA/dispatcher.log"; exit 1; }

"$BIN/device-sim/device-sim" provision --http-port "$HTTP_PORT" --ca-file "$CA" --admin-token-file "$DATA/dispatcher/admin-token" \
    --out "$DATA/sim" --residents "${RESIDENTS:-2000}"

read -r DEMO_DEVICE DEMO_OPERATOR < "$DATA/sim/demo-pair.txt"

# Bots take calls after ~15 s, so a person at a console has time to take one first.
"$BIN/device-sim/device-sim" operators --http-port "$HTTP_PORT" --ca-file "$CA" --operators-file "$DATA/sim/operators.csv" \
    --per-station 1 --accept-delay 15 --close-delay 20 > "$DATA/operators.log" 2>&1 &
pids+=($!)
sleep 3

cat <<TXT

anxin demo is running
  dispatcher  devices on :$DEVICE_PORT (TLS), consoles and API on https://localhost:$HTTP_PORT,
              both with a certificate from the CA $CA,
              embedded Redis in $DATA/dispatcher
  district    139 stations in 22 streets/towns of a Tongzhou-like district; devices in $DATA/sim/devices.csv
  operators   one bot per station (takes a call after ~15 s, closes it ~20 s later): $DATA/operators.log

Open the web console: https://localhost:$HTTP_PORT/
  (the browser does not know the demo's CA: accept the warning once, or import $CA
   into the browser's certificate authorities)
  operator $DEMO_OPERATOR (the second operator of $DEMO_DEVICE's nearest station; the bot is the first),
  supervisor sup-1 (the district command centre); password anxin-demo

Try, in another terminal:
  # a resident presses the button; every step is printed with its time
  $BIN/device-sim/device-sim press --device-port $DEVICE_PORT --ca-file $DATA/dispatcher/tls/ca.pem --devices-file $DATA/sim/devices.csv --device $DEMO_DEVICE

  # ...after logging in, in a third terminal, as the second operator of that resident's nearest
  # station, to take the call before the bot does (accept <call id>, then close <call id> <outcome>)
  $BIN/device-sim/device-sim console --http-port $HTTP_PORT --ca-file $CA --operator $DEMO_OPERATOR --password anxin-demo
  # every account is in $DATA/sim/operators.csv (password anxin-demo)

  curl -s --cacert $CA -H "Authorization: Bearer \$(cat $DATA/dispatcher/admin-token)" https://localhost:$HTTP_PORT/metrics | grep anxin_
  curl -s --cacert $CA -H "Authorization: Bearer \$(cat $DATA/dispatcher/admin-token)" https://localhost:$HTTP_PORT/api/calls/C0000001

Logs: $DATA/dispatcher.log. Ctrl-C to stop.
TXT
wait "${pids[0]}"
