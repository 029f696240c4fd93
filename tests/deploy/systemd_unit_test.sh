#!/usr/bin/env bash
# Checks deploy/anxin-dispatcher.service offline: `systemd-analyze verify` accepts it (with
# ExecStart pointed at the dispatcher just built, since /usr/local/bin/dispatcher is not installed
# here) and `systemd-analyze security --offline=true` rates its exposure at most 3.0.
# Exit 77 (ctest: skipped) when systemd-analyze is missing or too old for --offline.
# Usage: systemd_unit_test.sh UNIT DISPATCHER_BINARY
set -euo pipefail
unit=$1 binary=$2
max_exposure=3.0
if ! command -v systemd-analyze > /dev/null; then
    echo "SKIP: systemd-analyze is not installed (Debian: apt-get install systemd)"
    exit 77
fi
if ! systemd-analyze security --help 2>&1 | grep -q -- '--offline'; then
    echo "SKIP: this systemd-analyze has no --offline (systemd 250 or later needed)"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/dispatcher|$binary|" "$unit" > "$work/anxin-dispatcher.service"

echo "== systemd-analyze verify"
if ! systemd-analyze verify "$work/anxin-dispatcher.service" 2>&1 | tee "$work/verify.log"; then
    echo "FAIL: systemd-analyze verify refused the unit"
    exit 1
fi
if [ -s "$work/verify.log" ]; then
    echo "FAIL: systemd-analyze verify printed warnings (above)"
    exit 1
fi

echo "== systemd-analyze security --offline=true"
systemd-analyze security --offline=true --no-pager "$work/anxin-dispatcher.service" \
    > "$work/security.log" 2>&1 || true
cat "$work/security.log"
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$work/security.log")
if [ -z "$score" ]; then
    echo "FAIL: no exposure level in the output"
    exit 1
fi
if awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s > m) }'; then
    echo "FAIL: exposure $score is above $max_exposure"
    exit 1
fi
echo "OK: exposure $score (at most $max_exposure)"
