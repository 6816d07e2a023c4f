#!/usr/bin/env bash
# bench_ingest.sh: sisopi-ingest's throughput and memory for an N-row export, beside the raw
# limit measured in the same run against the same broker. Starts its own stack (slapd + the
# devbroker) in a temporary directory and always stops it again.
#
#   tests/bench/bench_ingest.sh [options]
#     --rows N       rows of the big file (default 100000); N/10 is measured too, to show that
#                    memory follows the record_uid set, not the file (streaming)
#     --build DIR    a release build (default ./build of the repository; configured
#                    RelWithDebInfo and built if missing, rebuilt incrementally otherwise)
#     --no-build     use DIR as it is
#     --repeat R     runs of every step (default 5); the table shows the median wall time
#     --json FILE    the figures as JSON (default BUILD/bench-ingest.json)
#     --seed S       seed of the generated exports (default 42)
#     --budget SEC   hang guard: the whole measurement (after the build) is killed after SEC
#                    seconds (default 170); it is never compared with a figure
#     --keep         keep the temporary directory (files, logs, stack config)
#     --passwords    add a password column (every row hashed, SHA-512 crypt) and map it;
#                    changes the defaults to --rows 1000 --repeat 3: hashing dominates
#
# Steps, each run under /usr/bin/time (wall, CPU, peak RSS of the whole process):
#   parse libcsv     bench_csv_parse: bare libcsv, no-op callbacks (the floor of parsing)
#   parse csv_reader bench_csv_parse --csv-reader: sisopi's reader (encoding, scanner, trim)
#   ingest --check   read + validate every row, publish nothing
#   ingest           validate, then publish every record and the end markers (acknowledged)
#   raw produce      bench_raw_produce: N pre-encoded messages of the records' mean size, same
#                    keys, partitions and producer settings, into sisopi.users (the raw limit)
#   kcat -P          the same N key/value lines through kcat (a second reference)
# "vs raw" is the step's rows/s divided by raw produce's msgs/s for the same N.
#
# Exit status: 0 when every step succeeded and did all its rows; 1 otherwise (64: bad
# arguments). No time is ever compared with a threshold: the figures are printed, not judged.
set -Eeuo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PROG=bench_ingest.sh
SCHOOL=Gym1

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }

usage() {
    local rc=${1:-0}
    sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' |
        if ((rc)); then cat >&2; else cat; fi
    exit "$rc"
}

ROWS=""
BUILD=$SRC/build
BUILD_IT=1
REPEAT=""
PASSWORDS=0
JSON=""
SEED=42
BUDGET=170
KEEP=0
while (($#)); do
    case $1 in
    --rows) ROWS=${2:?--rows needs a value}; shift ;;
    --build) BUILD=${2:?--build needs a value}; shift ;;
    --no-build) BUILD_IT=0 ;;
    --repeat) REPEAT=${2:?--repeat needs a value}; shift ;;
    --json) JSON=${2:?--json needs a value}; shift ;;
    --seed) SEED=${2:?--seed needs a value}; shift ;;
    --budget) BUDGET=${2:?--budget needs a value}; shift ;;
    --keep) KEEP=1 ;;
    --passwords) PASSWORDS=1 ;;
    -h | --help) usage 0 ;;
    *) note "unknown argument $1"; usage 64 ;;
    esac
    shift
done
if ((PASSWORDS)); then
    ROWS=${ROWS:-1000} REPEAT=${REPEAT:-3}
else
    ROWS=${ROWS:-100000} REPEAT=${REPEAT:-5}
fi
if ! [[ $ROWS =~ ^[1-9][0-9]{1,7}$ ]] || ((ROWS > 10000000)); then
    die "--rows must be 10..10000000"
fi
[[ $REPEAT =~ ^[1-9][0-9]?$ ]] || die "--repeat must be 1..99"
[[ $SEED =~ ^[0-9]+$ ]] || die "--seed must be a number"
[[ $BUDGET =~ ^[1-9][0-9]*$ ]] || die "--budget must be a number of seconds"
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
JSON=${JSON:-$BUILD/bench-ingest.json}
[[ $JSON == /* ]] || JSON=$PWD/$JSON

for t in cmake kcat timeout awk; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (deploy/install-deps.sh installs it)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"

# ---------------------------------------------------------------------------------------------
# Temporary directory (logs, exports, the stack) and the guarantee that it all goes away
# ---------------------------------------------------------------------------------------------

TMP=$(mktemp -d /tmp/sisopi-bench.XXXXXX)
STACK=$TMP/stack
STACK_STARTED=0
cleanup() {
    local rc=$?
    if ((STACK_STARTED)); then
        "$SRC/deploy/stack.sh" stop --dir "$STACK" >/dev/null 2>&1 ||
            note "could not stop the stack in $STACK"
    fi
    if ((KEEP)); then
        note "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    return "$rc"
}
trap cleanup EXIT
# set -e stops at any unexpected failure; say where, rather than exit without a word.
trap 'note "failed (status $?) at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$TMP/log"

# ---------------------------------------------------------------------------------------------
# The build: a release build, current with the tree
# ---------------------------------------------------------------------------------------------

BINS=(services/sisopi-ingest services/sisopi-devbroker tests/bench/bench_gen_csv
    tests/bench/bench_raw_produce tests/bench/bench_csv_parse)

if ((BUILD_IT)); then
    if [[ ! -f $BUILD/CMakeCache.txt ]]; then
        note "configuring a release build in $BUILD"
        cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$TMP/log/cmake.log" 2>&1 ||
            die "cmake configure failed:"$'\n'"$(tail -n 20 "$TMP/log/cmake.log")"
    fi
    note "building $BUILD"
    cmake --build "$BUILD" -j2 >"$TMP/log/build.log" 2>&1 ||
        die "the build failed (--no-build measures the binaries as they are):"$'\n'"$(grep -m 10 -E 'error|Error' "$TMP/log/build.log")"
fi
[[ -f $BUILD/CMakeCache.txt ]] || die "$BUILD is not a CMake build directory"
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
SANITIZE=$(sed -n 's/^SISOPI_SANITIZE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
[[ $BUILD_TYPE == Release || $BUILD_TYPE == RelWithDebInfo ]] ||
    die "$BUILD is a '${BUILD_TYPE:-default}' build: benchmark a Release or RelWithDebInfo build"
[[ ${SANITIZE^^} != ON ]] || die "$BUILD is built with sanitizers: benchmark a plain release build"
for b in "${BINS[@]}"; do
    [[ -x $BUILD/$b ]] || die "$BUILD/$b not found: build it (cmake --build $BUILD)"
done

now_us() { printf '%s' "${EPOCHREALTIME/[,.]/}"; }
DEADLINE=$(($(now_us) + BUDGET * 1000000))
# Seconds left of the budget (at least 1): every command gets this as its timeout.
remaining() {
    local left=$(((DEADLINE - $(now_us)) / 1000000))
    ((left >= 1)) || die "the budget of $BUDGET s is used up (hang guard; see --budget)"
    printf '%s' "$left"
}

N_BIG=$ROWS
N_SMALL=$((ROWS / 10))
SIZES=("$N_SMALL" "$N_BIG")
for n in "${SIZES[@]}"; do
    timeout "$(remaining)" "$BUILD/tests/bench/bench_gen_csv" "$n" "$SCHOOL" "$SEED" >"$TMP/export-$n.csv" ||
        die "bench_gen_csv $n failed"
    if ((PASSWORDS)); then
        # Appended after the last column (no row of bench_gen_csv spans lines).
        awk 'NR == 1 { print $0 ",password"; next } { printf "%s,Pw-%07d-geheim\n", $0, NR - 1 }' \
            "$TMP/export-$n.csv" >"$TMP/export-$n.tmp"
        mv -f "$TMP/export-$n.tmp" "$TMP/export-$n.csv"
    fi
done

STACK_STARTED=1
timeout "$(remaining)" "$SRC/deploy/stack.sh" start --dir "$STACK" --build "$BUILD" \
    --schools "$SCHOOL" >"$TMP/log/stack.out" 2>&1 ||
    die "the stack did not start:"$'\n'"$(tail -n 20 "$TMP/log/stack.out")"
CFG=$STACK/sisopi.cfg
BOOTSTRAP=$(head -n 1 "$STACK/bootstrap" | tr -d '[:space:]')
BROKER_PID=$(cat "$STACK/devbroker.pid")
PARTITIONS=$(sed -n 's/^ *partitions = \([0-9]*\);.*/\1/p' "$CFG")
# The ingest's config: the stack's, plus the password column if asked for.
INGEST_CFG=$CFG
if ((PASSWORDS)); then
    INGEST_CFG=$TMP/ingest.cfg
    sed 's/^\( *\)\[ "birthday", "birthday" \]$/&,\n\1[ "password", "password" ]/' "$CFG" >"$INGEST_CFG"
    grep -q '\[ "password", "password" \]' "$INGEST_CFG" ||
        die "could not add the password column to the mapping of $CFG (has stack.sh changed?)"
fi
CLK_TCK=$(getconf CLK_TCK)

# CPU ticks (user + system) the devbroker has used so far.
broker_ticks() {
    local stat
    stat=$(<"/proc/$BROKER_PID/stat") || die "the devbroker (pid $BROKER_PID) is gone"
    stat=${stat##*) }
    awk '{print $12 + $13}' <<<"$stat"
}

# ---------------------------------------------------------------------------------------------
# One measured run
# ---------------------------------------------------------------------------------------------

# RUNS["step|n"]: one "wall user sys rss_kib broker_s inproc_s" per run, ";" between runs.
declare -A RUNS=()

# measure STEP N CHECK CMD...: runs CMD under /usr/bin/time (and the hang guard), fails loudly
# unless it exits 0 and CHECK (a function reading $OUT and $ERR) agrees, then records a run.
measure() {
    local step=$1 n=$2 check=$3 rc=0 b0 b1 t0 t1 tag limit
    shift 3
    tag=${step// /_}.$n.$RUN
    OUT=$TMP/log/$tag.out ERR=$TMP/log/$tag.err
    local tf=$TMP/log/$tag.time
    limit=$(remaining)
    b0=$(broker_ticks)
    # Wall time from the shell's microsecond clock (time's %e has 10 ms steps); CPU and peak
    # RSS from time, which sees through timeout (RSS and CPU of reaped children count).
    t0=$(now_us)
    /usr/bin/time -o "$tf" -f '%U %S %M' timeout -k 5 "$limit" "$@" >"$OUT" 2>"$ERR" || rc=$?
    t1=$(now_us)
    b1=$(broker_ticks)
    if ((rc)); then
        ((rc != 124)) || note "step \"$step\" ($n rows) hit the hang guard (--budget $BUDGET s)"
        die "step \"$step\" ($n rows) exited with status $rc: $*"$'\n'"$(tail -n 15 "$ERR")"
    fi
    local why
    why=$("$check" "$n") || die "step \"$step\" ($n rows): $why (logs: $OUT, $ERR; try --keep)"
    local wall user sys rss inproc
    read -r user sys rss <"$tf"
    wall=$(awk -v us=$((t1 - t0)) 'BEGIN { printf "%.4f", us / 1e6 }')
    inproc=$(inproc_seconds)
    RUNS["$step|$n"]+="$wall $user $sys $rss $(awk -v t=$((b1 - b0)) -v hz="$CLK_TCK" \
        'BEGIN{printf "%.2f", t / hz}') ${inproc:-null};"
}

# What each program says it took, without process start and exit (for the JSON).
inproc_seconds() {
    sed -n -e 's/^took: *\([0-9.]*\) s.*/\1/p' -e 's/.* seconds=\([0-9.]*\) .*/\1/p' "$OUT" |
        head -n 1
}

check_parse() {
    grep -q " rows=$(($1 + 1)) " "$OUT" || { echo "expected $(($1 + 1)) rows (with the header): $(cat "$OUT")"; return 1; }
}
check_ingest_check() {
    grep -q "^rows: *$1 read, $1 valid, 0 bad" "$OUT" || { echo "expected $1 valid rows: $(grep '^rows:' "$OUT")"; return 1; }
}
check_ingest() {
    check_ingest_check "$1" || return 1
    grep -q "^published: *$1 records and $PARTITIONS end markers" "$OUT" ||
        { echo "expected $1 records and $PARTITIONS markers: $(grep '^published:' "$OUT")"; return 1; }
}
check_raw() {
    grep -q " acked=$1 failed=0 " "$OUT" || { echo "not all acknowledged: $(cat "$OUT")"; return 1; }
}
check_kcat() {
    if grep -qiE 'error|fail' "$ERR"; then
        echo "kcat reported: $(grep -m 3 -iE 'error|fail' "$ERR")"
        return 1
    fi
}

# ---------------------------------------------------------------------------------------------
# Warm-up and the size of a record on the wire
# ---------------------------------------------------------------------------------------------

INGEST=$BUILD/services/sisopi-ingest
RUN=warmup
measure "ingest" "$N_SMALL" check_ingest "$INGEST" -c "$INGEST_CFG" --school "$SCHOOL" --role student \
    "$TMP/export-$N_SMALL.csv"
RUNS=()
# The mean value and key size of the UserRecords now on partition 0 (the end marker is keyed
# by the import_id and left out).
read -r REC_COUNT VALUE_BYTES KEY_BYTES < <(timeout "$(remaining)" kcat -C -b "$BOOTSTRAP" \
    -t sisopi.users -p 0 -o beginning -e -q -f '%k %S\n' 2>"$TMP/log/kcat-size.err" |
    awk -v p="$SCHOOL-" 'index($1, p) == 1 { n++; v += $2; k += length($1) }
        END { if (n) printf "%d %.0f %.1f\n", n, v / n, k / n; else print "0 0 0" }')
((REC_COUNT > 0)) || die "found no UserRecord on sisopi.users partition 0 to size the raw messages"

# kcat -P input: N lines "KEY<TAB>VALUE", values of the records' mean size.
for n in "${SIZES[@]}"; do
    awk -v n="$n" -v s="$VALUE_BYTES" -v p="$SCHOOL" 'BEGIN {
        v = sprintf("%" s "s", ""); gsub(/ /, "x", v)
        for (i = 0; i < n; i++) printf "%s-%07d\t%s\n", p, i, v }' >"$TMP/kcat-$n.txt"
done

# ---------------------------------------------------------------------------------------------
# The runs: every step for both sizes, R times, interleaved so that drift hits all alike
# ---------------------------------------------------------------------------------------------

STEPS=("parse libcsv" "parse csv_reader" "ingest --check" "ingest" "raw produce" "kcat -P")
T_START=$(now_us)
for ((RUN = 1; RUN <= REPEAT; RUN++)); do
    for n in "${SIZES[@]}"; do
        csv=$TMP/export-$n.csv
        measure "parse libcsv" "$n" check_parse "$BUILD/tests/bench/bench_csv_parse" "$csv"
        measure "parse csv_reader" "$n" check_parse "$BUILD/tests/bench/bench_csv_parse" \
            --csv-reader "$csv"
        measure "ingest --check" "$n" check_ingest_check "$INGEST" -c "$INGEST_CFG" --school "$SCHOOL" \
            --role student --check "$csv"
        measure "ingest" "$n" check_ingest "$INGEST" -c "$INGEST_CFG" --school "$SCHOOL" --role student \
            "$csv"
        measure "raw produce" "$n" check_raw "$BUILD/tests/bench/bench_raw_produce" -c "$CFG" \
            -n "$n" -s "$VALUE_BYTES" -k "$SCHOOL"
        measure "kcat -P" "$n" check_kcat kcat -P -b "$BOOTSTRAP" -t sisopi.users -K '\t' \
            -X enable.idempotence=true -X acks=all -X partitioner=murmur2_random \
            -l "$TMP/kcat-$n.txt"
    done
done
T_RUNS=$((($(now_us) - T_START) / 1000))

# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

# summary STEP N: "wall_median cpu_median rss_max_kib broker_median inproc_median"
summary() {
    tr ';' '\n' <<<"${RUNS["$1|$2"]}" | awk 'NF {
        w[NR] = $1; c[NR] = $2 + $3; if ($4 > rss) rss = $4; b[NR] = $5; ip[NR] = $6; n = NR }
        function med(a,   i, j, t, m) {
            for (i = 1; i <= n; i++) s[i] = a[i]
            for (i = 2; i <= n; i++) for (j = i; j > 1 && s[j - 1] + 0 > s[j] + 0; j--) {
                t = s[j]; s[j] = s[j - 1]; s[j - 1] = t }
            m = (n % 2) ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
            return m }
        END { printf "%.4f %.2f %d %.2f %s\n", med(w), med(c), rss, med(b),
              (ip[1] == "null") ? "null" : sprintf("%.3f", med(ip)) }'
}

declare -A WALL CPU RSS BRK INPROC RATE
for n in "${SIZES[@]}"; do
    for s in "${STEPS[@]}"; do
        read -r WALL["$s|$n"] CPU["$s|$n"] RSS["$s|$n"] BRK["$s|$n"] INPROC["$s|$n"] < <(summary "$s" "$n")
        RATE["$s|$n"]=$(awk -v n="$n" -v w="${WALL["$s|$n"]}" 'BEGIN { printf "%.0f", (w > 0 ? n / w : 0) }')
    done
done

ratio() { awk -v a="${RATE["$1|$2"]}" -v b="${RATE["raw produce|$2"]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
GIT_REV=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$({ git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null || true; } | wc -l)
RDKAFKA=$(pkg-config --modversion rdkafka 2>/dev/null || echo unknown)

DIRTY_NOTE=""
((GIT_DIRTY == 0)) || DIRTY_NOTE=", $GIT_DIRTY tracked files modified"
printf '\nsisopi-ingest benchmark: %s rows and %s rows, median of %d runs (%s build of %s%s)\n' \
    "$N_BIG" "$N_SMALL" "$REPEAT" "$BUILD_TYPE" "$GIT_REV" "$DIRTY_NOTE"
printf 'machine: %s cores, %s; librdkafka %s; devbroker %s partitions on loopback\n' \
    "$(nproc)" "$CPU_MODEL" "$RDKAFKA" "$PARTITIONS"
PW_NOTE=""
((PASSWORDS == 0)) || PW_NOTE=", with a password column (SHA-512 crypt per row)"
printf 'exports: bench_gen_csv, seed %s%s\n' "$SEED" "$PW_NOTE"
printf 'raw messages: %s-byte values (the mean UserRecord), %s-byte keys\n\n' "$VALUE_BYTES" "$KEY_BYTES"
printf '%-17s %8s %8s %10s %7s %12s %9s %7s\n' step rows "wall s" "rows/s" "cpu s" "broker cpu s" \
    "peak MiB" "vs raw"
for n in "${SIZES[@]}"; do
    for s in "${STEPS[@]}"; do
        printf '%-17s %8s %8s %10s %7s %12s %9s %7s\n' "$s" "$n" "${WALL["$s|$n"]}" \
            "${RATE["$s|$n"]}" "${CPU["$s|$n"]}" "${BRK["$s|$n"]}" "$(mib "${RSS["$s|$n"]}")" \
            "$(ratio "$s" "$n")"
    done
done
printf '\npeak RSS from %s to %s rows:' "$N_SMALL" "$N_BIG"
for s in "ingest --check" "ingest"; do
    big=${RSS["$s|$N_BIG"]} small=${RSS["$s|$N_SMALL"]}
    printf ' %s %+.1f MiB (%s bytes per added row);' "$s" "$(mib $((big - small)))" \
        "$(awk -v d=$((big - small)) -v r=$((N_BIG - N_SMALL)) 'BEGIN { printf "%.0f", d * 1024 / r }')"
done
printf '\nfile sizes: %s bytes (%s rows), %s bytes (%s rows); runs took %d.%03d s\n' \
    "$(stat -c %s "$TMP/export-$N_BIG.csv")" "$N_BIG" "$(stat -c %s "$TMP/export-$N_SMALL.csv")" \
    "$N_SMALL" $((T_RUNS / 1000)) $((T_RUNS % 1000))

# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------

jstr() {
    local s=${1//\\/\\\\}
    printf '"%s"' "${s//\"/\\\"}"
}

{
    printf '{\n'
    printf '  "benchmark": "bench_ingest",\n'
    printf '  "date": %s,\n' "$(jstr "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    printf '  "git": {"rev": %s, "modified_files": %d},\n' "$(jstr "$GIT_REV")" "$GIT_DIRTY"
    printf '  "build": {"dir": %s, "type": %s},\n' "$(jstr "$BUILD")" "$(jstr "$BUILD_TYPE")"
    printf '  "machine": {"cores": %d, "cpu": %s, "kernel": %s, "librdkafka": %s},\n' "$(nproc)" \
        "$(jstr "$CPU_MODEL")" "$(jstr "$(uname -r)")" "$(jstr "$RDKAFKA")"
    printf '  "broker": {"kind": "sisopi-devbroker (librdkafka mock cluster)", "partitions": %s, "topic": "sisopi.users"},\n' "$PARTITIONS"
    printf '  "repeat": %d, "seed": %s, "school": %s, "passwords": %s,\n' "$REPEAT" "$SEED" \
        "$(jstr "$SCHOOL")" "$( ((PASSWORDS)) && echo true || echo false)"
    printf '  "raw_message": {"value_bytes": %s, "key_bytes": %s, "sampled_records": %s},\n' \
        "$VALUE_BYTES" "$KEY_BYTES" "$REC_COUNT"
    printf '  "results": [\n'
    first=1
    for n in "${SIZES[@]}"; do
        for s in "${STEPS[@]}"; do
            ((first)) || printf ',\n'
            first=0
            runs=$(tr ';' '\n' <<<"${RUNS["$s|$n"]}" | awk 'NF { printf "%s{\"wall_s\": %s, \"user_s\": %s, \"sys_s\": %s, \"peak_rss_kib\": %s, \"broker_cpu_s\": %s, \"inproc_s\": %s}", sep, $1, $2, $3, $4, $5, $6; sep = ", " }')
            printf '    {"step": %s, "rows": %s, "file_bytes": %s, "wall_s": %s, "rows_per_s": %s, "cpu_s": %s, "broker_cpu_s": %s, "peak_rss_mib": %s, "inproc_s": %s, "ratio_to_raw_produce": %s,\n     "runs": [%s]}' \
                "$(jstr "$s")" "$n" "$(stat -c %s "$TMP/export-$n.csv")" "${WALL["$s|$n"]}" \
                "${RATE["$s|$n"]}" "${CPU["$s|$n"]}" "${BRK["$s|$n"]}" "$(mib "${RSS["$s|$n"]}")" \
                "${INPROC["$s|$n"]}" "$(ratio "$s" "$n")" "$runs"
        done
    done
    printf '\n  ]\n}\n'
} >"$JSON.tmp"
mv -f "$JSON.tmp" "$JSON"
printf 'json: %s\n' "$JSON"
