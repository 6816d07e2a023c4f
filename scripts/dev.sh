#!/usr/bin/env bash
# Developer commands, from any clone (each installs what it needs, as the README's commands do):
#   scripts/dev.sh format          clang-format every C file in place
#   scripts/dev.sh lint            shellcheck on every shell script, clang-tidy with the
#                                  project's checks (.clang-tidy) on every C file
#   scripts/dev.sh unit            build (ASan + UBSan) and run the unit tests only (seconds)
#   scripts/dev.sh test            the whole suite: the README's test command (scripts/test.sh)
#   scripts/dev.sh coverage        build with gcov, run the unit and integration tests (or, with
#                                  --all, the fault tests too), print line and branch coverage
#                                  of common/ and of each program
#   scripts/dev.sh coverage-html   the same, and an HTML report in BUILD/coverage/index.html
#   scripts/dev.sh clean           remove the build directories (build*/)
# BUILD directories: build-asan (unit, test), build-coverage (coverage).
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
    printf 'dev.sh: %s\n' "$*" >&2
    exit 1
}
usage() { sed -n '2,13s/^# \{0,1\}//p' "$0"; }

c_files() { git ls-files '*.c' '*.h' 2>/dev/null || find common services tests -name '*.[ch]'; }
# Every shell script: *.sh, and the ones without the suffix that start with a bash shebang.
shell_files() {
    local f
    git ls-files | while IFS= read -r f; do
        case $f in
        *.sh) printf '%s\n' "$f" ;;
        *)
            [[ ${f##*/} != *.* && -f $f ]] && head -n 1 "$f" | grep -q '^#!.*\(bash\|/sh\)' &&
                printf '%s\n' "$f"
            ;;
        esac
    done
}

asan_build() {
    cmake -S . -B build-asan -DSISOPI_SANITIZE=ON -DSISOPI_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
    cmake --build build-asan -j"$(nproc)"
}

cmd_format() {
    deploy/install-deps.sh
    c_files | xargs clang-format -i
    echo "dev.sh: formatted $(c_files | wc -l) files"
}

cmd_lint() {
    deploy/install-deps.sh --test-tools
    local rc=0
    echo "== shellcheck"
    shell_files | xargs shellcheck -x || rc=1
    echo "== clang-tidy (.clang-tidy)"
    cmake -S . -B build-asan -DSISOPI_SANITIZE=ON -DSISOPI_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
    cmake --build build-asan -j"$(nproc)" >/dev/null # generated sources, compile_commands.json
    git ls-files 'common/*.c' 'services/*.c' |
        xargs -P"$(nproc)" -n 8 clang-tidy -p build-asan --quiet 2>/dev/null >build-asan/tidy.log || true
    if grep -q 'warning:\|error:' build-asan/tidy.log; then
        grep -A3 'warning:\|error:' build-asan/tidy.log
        rc=1
    fi
    ((rc == 0)) && echo "dev.sh: lint clean"
    return "$rc"
}

cmd_unit() {
    deploy/install-deps.sh --test-tools
    asan_build
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    (cd build-asan && ctest -L unit --output-on-failure -j"$(nproc)" 2>&1)
}

# gcovr's summary ("lines: 91.9% (4851 out of 5277)", ...) on one line.
summary() {
    awk '/^(lines|branches):/ { v[$1] = $2 " (" substr($3, 2) " of " $6 }
        END { print "lines " v["lines:"] ", branches " v["branches:"] }'
}

# coverage [--all] [--html]: gcov counters from the unit and integration tests (and the fault
# tests with --all), summed by gcovr per folder.
cmd_coverage() {
    local labels="unit|integration" html=0 arg
    for arg in "$@"; do
        case $arg in
        --all) labels="unit|integration|fault" ;;
        --html) html=1 ;;
        *) die "coverage: unknown option $arg" ;;
        esac
    done
    deploy/install-deps.sh --test-tools --coverage-tools
    local b=build-coverage
    cmake -S . -B "$b" -DSISOPI_COVERAGE=ON -DSISOPI_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
    cmake --build "$b" -j"$(nproc)" >/dev/null
    find "$b" -name '*.gcda' -delete
    (cd "$b" && ctest -L "$labels" --output-on-failure --timeout 900 -j"$(nproc)" 2>&1) ||
        echo "dev.sh: some tests failed; the coverage below is of what ran" >&2
    local g=(gcovr -r . --object-directory "$b" --exclude 'tests/' --exclude "$b/"
        --gcov-ignore-parse-errors)
    echo "== coverage: lines and branches, by folder"
    for dir in common services/ingest services/reconciler services/scheduler services/audit \
        services/admin services/devbroker; do
        printf '%-22s ' "$dir"
        "${g[@]}" --filter "$dir/" --print-summary -o /dev/null 2>/dev/null | summary
    done
    printf '%-22s ' "all"
    "${g[@]}" --print-summary -o /dev/null 2>/dev/null | summary
    if ((html)); then
        mkdir -p "$b/coverage"
        "${g[@]}" --html-details "$b/coverage/index.html" 2>/dev/null
        echo "dev.sh: HTML report: $b/coverage/index.html"
    fi
}

case ${1:-} in
format) cmd_format ;;
lint) cmd_lint ;;
unit) cmd_unit ;;
test) exec scripts/test.sh ;;
coverage) shift && cmd_coverage "$@" ;;
coverage-html) shift && cmd_coverage --html "$@" ;;
clean) rm -rf build build-* && echo "dev.sh: build directories removed" ;;
-h | --help | help) usage ;;
*)
    usage >&2
    exit 64
    ;;
esac
