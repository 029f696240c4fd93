#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test (unit and integration,
# each integration test against its own real redis-server and dispatcher processes).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
source_dir=$PWD

# --- The sanitizer build (build-asan): AddressSanitizer + UndefinedBehaviorSanitizer -----------
# The unit, integration and chaos tests again, with every dispatcher and device-sim they start
# instrumented: a dangling iterator or reference, a use after free, a leak at exit or undefined
# behaviour aborts the process, and the harness fails the test on any sanitizer report in a
# dispatcher's log. ANXIN_SANITIZE_TESTS=0 skips it (e.g. while iterating on one test).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if [ "${ANXIN_SANITIZE_TESTS:-1}" = 1 ]; then
    BUILD_DIR=build-asan CMAKE_EXTRA_ARGS="-DANXIN_SANITIZE=ON" ./scripts/build.sh
fi

cd "${BUILD_DIR:-build}"
# The chaos suite (label "chaos", ~3 minutes of scheduled faults) runs in the sanitizer build
# only: the plain build runs everything else.
if [ "${ANXIN_SANITIZE_TESTS:-1}" = 1 ] && [ $# -eq 0 ]; then
    ctest --output-on-failure --timeout 300 -j "$(nproc)" -LE chaos
    echo "== the same tests, and the chaos suite, in the sanitizer build (build-asan)"
    (cd "$source_dir/build-asan" && ctest --output-on-failure --timeout 600 -j "$(nproc)")
else
    ctest --output-on-failure --timeout 300 -j "$(nproc)" "$@"
fi

# --- Web console browser tests (tests/browser) ------------------------------------------------
# Headless Chromium against real redis-server, dispatcher and device-sim processes; screenshots
# go to <build>/browser-artifacts. They run with the whole suite (no ctest arguments given);
# ANXIN_BROWSER_TESTS=1 forces them, =0 skips them. (We are in the build directory here.)
if [ "${ANXIN_BROWSER_TESTS:-$([ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
    build_abs=$PWD
    source_dir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' CMakeCache.txt)
    cd "$source_dir/tests/browser"
    npm ci --no-audit --no-fund --loglevel=error
    BUILD_DIR="$build_abs" node --test console.test.mjs surge.test.mjs
fi
# --- end of the browser tests' block ----------------------------------------------------------

# --- Fuzzing (tests/fuzz, scripts/fuzz.sh) ----------------------------------------------------
# Every libFuzzer target on a copy of its corpus (fixed seed and number of inputs), ASan + UBSan:
# any crash, broken invariant, leak or timeout fails the suite with the input printed. With the
# whole suite (no ctest arguments given); ANXIN_FUZZ_TESTS=1 forces it, =0 skips it.
if [ "${ANXIN_FUZZ_TESTS:-$([ $# -eq 0 ] && echo 1 || echo 0)}" = 1 ]; then
    # A fixed seed and number of runs: the same inputs on every machine, so CI's verdict does not
    # depend on luck. Open-ended fuzzing (a random seed, FUZZ_SECONDS) is run by hand:
    # docs/SECURITY.md "Fuzzing".
    (cd "$source_dir" && FUZZ_SEED="${FUZZ_SEED:-1}" FUZZ_RUNS="${FUZZ_RUNS:-50000}" \
        FUZZ_SECONDS="${FUZZ_SECONDS:-120}" ./scripts/fuzz.sh)
fi
# --- end of the fuzzing block -----------------------------------------------------------------
