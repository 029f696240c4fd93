#!/usr/bin/env bash
# Installs what anxin needs from Debian 12's packages (nothing is downloaded from anywhere else).
# Safe to run again: it only calls apt-get when something is missing.
set -euo pipefail

packages=(
    build-essential cmake ccache pkg-config
    libboost1.81-dev libboost-program-options1.81-dev
    libprotobuf-dev protobuf-compiler
    libhiredis-dev libspdlog-dev libfmt-dev libssl-dev
    libgtest-dev libgmock-dev
    redis-server redis-tools
    python3 curl openssl
)

# --- Fuzzing (scripts/fuzz.sh, tests/fuzz) ----------------------------------------------------
# libFuzzer and the sanitizer runtimes come with clang, not g++. libclang-rt-14-dev (the
# libclang_rt.fuzzer / asan / ubsan archives -fsanitize=fuzzer,address,undefined links) is only a
# Recommends of clang-14, which --no-install-recommends below would skip.
packages+=(clang-14 libclang-rt-14-dev libfuzzer-14-dev)
# --- end of the fuzzing block -----------------------------------------------------------------

# --- Web console browser tests (tests/browser, docs/TESTING.md) ------------------------------
# Debian's Chromium (driven headless by playwright-core, which test.sh installs from the npm
# registry with `npm ci`), a CJK font so screenshots of the Chinese console are legible, and
# Node.js with npm: Debian's, unless a node with npm is already there (NodeSource's nodejs bundles
# npm and conflicts with Debian's npm package).
packages+=(chromium fonts-wqy-microhei)
if ! { command -v node && command -v npm; } >/dev/null 2>&1; then
    packages+=(nodejs npm)
fi
# --- end of the browser tests' block ----------------------------------------------------------

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian starts a system redis-server on install where systemd runs; anxin does not use it
# (the dispatcher and the tests start their own), so it is left alone.
