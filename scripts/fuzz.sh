#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang-14, into build-fuzz) and runs each for a bounded
# time on a copy of its corpus (tests/fuzz/corpus/<target>), so that a run never changes the tree.
# Fails on any crash, broken invariant, leak, timeout, out-of-memory or sanitizer report, printing
# the input that caused it (base64 and hex) and how to replay it. docs/SECURITY.md "Fuzzing".
#
#   scripts/fuzz.sh                      every target, FUZZ_SECONDS (30) each
#   FUZZ_SECONDS=600 scripts/fuzz.sh http_request
#   FUZZ_MERGE=1 scripts/fuzz.sh         ... and merge what found new coverage into the corpus
#
# FUZZ_JOBS targets run at a time (default: the number of cores). FUZZ_BUILD_ONLY=1 only builds.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=$PWD

all_targets=(device_frames console_request proto_json http_request provision)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-$(nproc)}

# Longest input per target: a few frames of up to 4 KiB; past the 8 KiB header limit for HTTP.
max_len_for() {
    case $1 in
        device_frames) echo 16384 ;;
        http_request) echo 12288 ;;
        provision) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

# --- build ---------------------------------------------------------------------------------------
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd)
build_start=$SECONDS
CC=${FUZZ_CC:-clang-14} CXX=${FUZZ_CXX:-clang++-14} \
    cmake -S . -B "$build_dir" -DANXIN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    > "$build_dir/configure.log" 2>&1 \
    || { cat "$build_dir/configure.log"; exit 1; }
cmake --build "$build_dir" -j "$(nproc)"
echo "fuzz: built in $((SECONDS - build_start)) s"
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

# --- run -----------------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/anxin-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Leaks fail a run; UBSan aborts on its first report (the build has -fno-sanitize-recover).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
    local t=$1 bin="$build_dir/tests/fuzz/${1}_fuzz"
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
    cp -r "$source_dir/tests/fuzz/corpus/$t/." "$work/$t/corpus/" 2>/dev/null || true
    local dict=()
    [ -f "$source_dir/tests/fuzz/dict/$t.dict" ] && dict=("-dict=$source_dir/tests/fuzz/dict/$t.dict")
    # FUZZ_SEED and FUZZ_RUNS make a run reproducible (the suite's CI run uses both, so that a
    # result on one machine is the result on the next); unset: a random seed, FUZZ_SECONDS only.
    local fixed=()
    [ -n "${FUZZ_SEED:-}" ] && fixed+=("-seed=$FUZZ_SEED")
    [ -n "${FUZZ_RUNS:-}" ] && fixed+=("-runs=$FUZZ_RUNS")
    "$bin" "$work/$t/corpus" "${dict[@]}" "${fixed[@]}" \
        -max_total_time="$seconds" -max_len="$(max_len_for "$t")" \
        -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" \
        > "$work/$t/log" 2>&1
}

report() {
    local t=$1 rc=$2 log="$work/$1/log"
    local last
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    local execs per_s
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    per_s=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    if [ "$rc" = 0 ]; then
        echo "fuzz: $t ok: ${execs:-?} runs, ${per_s:-?}/s; ${last#* }"
        return 0
    fi
    echo "fuzz: $t FAILED (exit $rc)"
    echo "----- last 60 lines of its log"
    tail -60 "$log"
    local a
    for a in "$work/$t/artifacts"/*; do
        [ -f "$a" ] || continue
        echo "----- $(basename "$a") ($(wc -c < "$a") bytes), base64:"
        base64 -w 76 "$a"
        echo "----- hex:"
        od -An -tx1 -v "$a" | head -64
        echo "----- replay: save it (base64 -d > crash.bin) and run"
        echo "      $build_dir/tests/fuzz/${t}_fuzz crash.bin"
    done
    return 1
}

for t in "${targets[@]}"; do
    if [ ! -d "tests/fuzz/corpus/$t" ]; then
        echo "fuzz: no target $t (targets: ${all_targets[*]})" >&2
        exit 2
    fi
done
failed=0
run_start=$SECONDS
running=0
for t in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    (
        rc=0
        run_one "$t" || rc=$?
        echo "$rc" > "$work/$t.rc"
    ) &
    running=$((running + 1))
done
wait
for t in "${targets[@]}"; do
    report "$t" "$(cat "$work/$t.rc")" || failed=1
done
echo "fuzz: ran ${#targets[@]} targets for ${seconds} s each in $((SECONDS - run_start)) s" \
     "($jobs at a time)"

if [ "$failed" = 0 ] && [ "${FUZZ_MERGE:-0}" = 1 ]; then
    # Keep what reached new code: libFuzzer adds to the first directory the fewest inputs of the
    # others that cover the edges it lacks, each named by its SHA-1. Edges only, not hit counts
    # (-use_counters=0): counts multiply the files and a run finds them again within seconds.
    for t in "${targets[@]}"; do
        before=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
        "$build_dir/tests/fuzz/${t}_fuzz" -set_cover_merge=1 -use_counters=0 \
            -max_len="$(max_len_for "$t")" \
            "tests/fuzz/corpus/$t" "$work/$t/corpus" > "$work/$t/merge.log" 2>&1
        echo "fuzz: $t corpus $before -> $(find "tests/fuzz/corpus/$t" -type f | wc -l) files"
    done
fi
exit "$failed"
