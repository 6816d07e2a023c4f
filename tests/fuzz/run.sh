#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time:
# first over its seed corpus (tests/fuzz/corpus/<name>/) and its regression inputs
# (tests/fuzz/regress/<name>/: every crash found becomes one), then fuzzing for SECONDS.
# A crash, a leak, a timeout or an out-of-memory fails the run and leaves the input in
# BUILD/artifacts/<name>/: add it to tests/fuzz/regress/<name>/ with the fix.
#   tests/fuzz/run.sh [SECONDS] [BUILD_DIR]      (defaults: 60, build-fuzz)
# New inputs the fuzzer finds go to BUILD/corpus/<name>/, never into the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
BUILD=${2:-build-fuzz}
SRC=$PWD

command -v clang >/dev/null || { echo "fuzz: clang is not installed (deploy/install-deps.sh --test-tools)" >&2; exit 1; }
echo "== fuzz: build (clang, libFuzzer, ASan + UBSan) in $BUILD"
CC=clang cmake -S . -B "$BUILD" -DSISOPI_FUZZ=ON -DSISOPI_WERROR=ON -DSISOPI_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
summary=()
for bin in "$BUILD"/tests/fuzz/fuzz_*; do
    name=$(basename "$bin")
    name=${name#fuzz_}
    seeds=$SRC/tests/fuzz/corpus/$name
    regress=$SRC/tests/fuzz/regress/$name
    work=$BUILD/corpus/$name
    art=$BUILD/artifacts/$name
    mkdir -p "$work" "$art"
    # Replays every seed and regression input once: each must pass on its own.
    inputs=("$seeds"/*)
    [[ -d $regress ]] && inputs+=("$regress"/*)
    echo "== fuzz $name: ${#inputs[@]} seed and regression inputs"
    "$bin" -runs=0 "-artifact_prefix=$art/" "${inputs[@]}" >"$BUILD/$name.replay.log" 2>&1 || {
        tail -n 30 "$BUILD/$name.replay.log" >&2
        echo "fuzz $name: a seed or regression input fails (log: $BUILD/$name.replay.log)" >&2
        exit 1
    }
    echo "== fuzz $name: $SECONDS_EACH s"
    # -timeout: one input may take 10 s at most; -rss_limit_mb bounds memory; the corpus
    # grows in the build directory, starting from the seeds.
    if ! "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 "-artifact_prefix=$art/" "$work" "$seeds" \
        >"$BUILD/$name.log" 2>&1; then
        tail -n 40 "$BUILD/$name.log" >&2
        echo "fuzz $name: FAILED; the input is in $art/ (add it to tests/fuzz/regress/$name/)" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$BUILD/$name.log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$BUILD/$name.log" | tail -n 1 | cut -d' ' -f2)
    summary+=("$name: ${runs:-?} executions in $SECONDS_EACH s, coverage ${cov:-?} edges, corpus $(find "$work" -type f | wc -l) inputs")
done
echo "== fuzz: no crash"
printf '  %s\n' "${summary[@]}"
