#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test (unit and integration,
# each integration test against its own real redis-server and dispatcher processes).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 300 -j "$(nproc)" "$@"

# --- Web console browser tests (tests/browser) ------------------------------------------------
# Headless Chromium against real redis-server, dispatcher and device-sim processes; screenshots
# go to <build>/browser-artifacts. They run with the whole suite (no ctest arguments given);
# ANXIN_BROWSER_TESTS=1 forces them, =0 skips them. (We are in the build directory here.)
if [ "${ANXIN_BROWSER_TESTS:-$([ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
    build_abs=$PWD
    source_dir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' CMakeCache.txt)
    cd "$source_dir/tests/browser"
    npm ci --no-audit --no-fund --loglevel=error
    BUILD_DIR="$build_abs" node --test console.test.mjs
fi
# --- end of the browser tests' block ----------------------------------------------------------
