#!/usr/bin/env bash
# Configures and builds everything into ./build (ccache makes rebuilds cheap).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache hits across checkouts at different paths (a fresh CI clone reuses a warm cache).
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
BUILD_DIR=${BUILD_DIR:-build}
mkdir -p "$BUILD_DIR"
# CMAKE_EXTRA_ARGS: more -D options, e.g. "-DANXIN_SANITIZE=ON" (scripts/test.sh's sanitizer build).
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} ${CMAKE_EXTRA_ARGS:-} \
    > "$BUILD_DIR/configure.log" 2>&1 \
    || { cat "$BUILD_DIR/configure.log"; exit 1; }
cmake --build "$BUILD_DIR" -j "$(nproc)"
