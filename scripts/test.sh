#!/usr/bin/env bash
# The whole test suite, as the README says: installs what is missing, checks the formatting,
# builds with AddressSanitizer + UBSan, runs every unit and integration test, then fuzzes the
# CSV reader, the Avro decoder and the naming schemes for a bounded time. Fails loudly.
#   scripts/test.sh [BUILD_DIR]        (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-asan}

deploy/install-deps.sh --test-tools

echo "== clang-format check"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files '*.c' '*.h')
else
    mapfile -t files < <(find common services tests -name '*.[ch]')
fi
clang-format --dry-run --Werror "${files[@]}"

echo "== build (ASan + UBSan) in $BUILD"
cmake -S . -B "$BUILD" -DSISOPI_SANITIZE=ON -DSISOPI_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

echo "== tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd "$BUILD" && ctest --output-on-failure --timeout 600 -j2 2>&1)

echo "== fuzz (libFuzzer, ${SISOPI_FUZZ_SECONDS:-60} s per target)"
tests/fuzz/run.sh "${SISOPI_FUZZ_SECONDS:-60}" "$BUILD-fuzz" 2>&1
