#!/usr/bin/env bash
# Runs the whole Sentinel group on this machine, for trying it out: a primary (6380), two replicas
# (6381, 6382) and three sentinels (26380-26382), with the configs of this directory (paths and
# ports rewritten into a private state directory, since Sentinel rewrites its config files).
#
#   deploy/sentinel/run-local.sh start     # then: dispatcher --sentinel 127.0.0.1:26380,127.0.0.1:26381,127.0.0.1:26382
#   deploy/sentinel/run-local.sh status    # who is primary, replicas, sentinels
#   deploy/sentinel/run-local.sh failover  # planned switch: CLIENT PAUSE WRITE, SENTINEL FAILOVER
#   deploy/sentinel/run-local.sh kill-primary   # SIGKILL the current primary (crash)
#   deploy/sentinel/run-local.sh restart-node PORT  # bring a killed node back (it rejoins as replica)
#   deploy/sentinel/run-local.sh stop
#
# STATE (default /tmp/anxin-sentinel) holds configs, data, logs and pid files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${STATE:-/tmp/anxin-sentinel}"
redis_server="${REDIS_SERVER:-redis-server}"
cli() { redis-cli -h 127.0.0.1 "$@"; }

start_node() {  # port
    local port=$1
    "$redis_server" "$state/redis-$port.conf" --daemonize yes --pidfile "$state/redis-$port.pid" \
        --logfile "$state/redis-$port.log"
}

start() {
    if [ -e "$state/redis-6380.pid" ] && kill -0 "$(cat "$state/redis-6380.pid")" 2>/dev/null; then
        echo "already running in $state (run-local.sh stop first)"; exit 1
    fi
    rm -rf "$state"
    mkdir -p "$state"
    cp "$here/redis-node.conf" "$state/"
    for role_port in primary:6380 replica:6381 replica:6382; do
        local role=${role_port%%:*} port=${role_port##*:}
        mkdir -p "$state/data-$port"
        sed -e "s|^include .*|include $state/redis-node.conf|" -e "s|^dir .*|dir $state/data-$port|" \
            -e "s|^port .*|port $port|" "$here/redis-$role.conf" > "$state/redis-$port.conf"
        start_node "$port"
    done
    for port in 26380 26381 26382; do
        mkdir -p "$state/sentinel-$port"
        sed -e "s|^dir .*|dir $state/sentinel-$port|" "$here/sentinel-$port.conf" > "$state/sentinel-$port.conf"
        "$redis_server" "$state/sentinel-$port.conf" --sentinel --daemonize yes \
            --pidfile "$state/sentinel-$port.pid" --logfile "$state/sentinel-$port.log"
    done
    # Wait until every sentinel knows the replica and the other two sentinels.
    for _ in $(seq 1 100); do
        local ok=1
        for port in 26380 26381 26382; do
            local info
            info=$(cli -p "$port" sentinel master mymaster 2>/dev/null | tr '\n' ' ') || { ok=0; break; }
            [[ "$info" == *"num-slaves 2 "* && "$info" == *"num-other-sentinels 2 "* ]] || ok=0
        done
        [ $ok = 1 ] && break
        sleep 0.2
    done
    status
    echo
    echo "dispatcher --sentinel 127.0.0.1:26380,127.0.0.1:26381,127.0.0.1:26382 --sentinel-master mymaster [--redis-wait-replicas 1]"
}

status() {
    echo "primary (per sentinel 26380): $(cli -p 26380 sentinel get-master-addr-by-name mymaster | paste -sd:)"
    for port in 6380 6381 6382; do
        printf 'redis %s: %s\n' "$port" "$(cli -p "$port" role 2>/dev/null | head -1 || echo down)"
    done
    for port in 26380 26381 26382; do
        printf 'sentinel %s: %s\n' "$port" "$(cli -p "$port" ping 2>/dev/null || echo down)"
    done
}

primary_port() { cli -p 26380 sentinel get-master-addr-by-name mymaster | tail -1; }

stop() {
    for f in "$state"/*.pid; do
        [ -e "$f" ] || continue
        kill "$(cat "$f")" 2>/dev/null || true
    done
    echo "stopped (state kept in $state)"
}

case "${1:-}" in
    start) start ;;
    status) status ;;
    stop) stop ;;
    failover)
        # Sentinel promotes a replica without stopping the old primary: alarms it still takes
        # would be confirmed by the other replica and then dropped when that one resynchronises
        # from the new primary. Hold writes until the dispatchers have followed (+switch-master
        # comes ~2 s after the promotion); their held commands time out and devices re-send.
        port=$(primary_port)
        cli -p "$port" client pause 5000 write
        cli -p 26380 sentinel failover mymaster
        sleep 3; status ;;
    kill-primary)
        port=$(primary_port)
        kill -9 "$(cat "$state/redis-$port.pid")"
        echo "killed primary $port; sentinels fail over after down-after-milliseconds (5 s)" ;;
    restart-node) start_node "${2:?port}"; sleep 1; status ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
esac
