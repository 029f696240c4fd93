#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test (unit and integration,
# each integration test against its own real redis-server and dispatcher processes).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 300 -j "$(nproc)" "$@"
