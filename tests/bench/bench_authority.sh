#!/usr/bin/env bash
# bench_authority.sh: a whole school authority end to end (CSV -> sisopi-ingest -> devbroker ->
# sisopi-reconciler -> slapd), beside the directory's own limit measured several times in the
# same run with the same slapd configuration. Prints a table, writes it as JSON and plots
# scenario a's throughput and the processes' busy share over time. Asserts nothing about time;
# it checks only that every scenario did what it should (exit 1 loudly if not).
#
#   tests/bench/bench_authority.sh [options]
#     --persons N         persons of the authority (default 100000)
#     --schools S         schools (default 100)
#     --seed X            seed of bench_gen_authority (default 42)
#     --scenarios LIST    any of a,b,c,d (default a,b,c,d); b brings b2
#     --limit-rounds K    rounds of the raw limit per mode (default 2): one before the
#                         scenarios, one after them, the others between scenario groups
#     --limit-sample M    renames and group modifies of the limit on the first M entries
#                         (default the smaller of N and 20000; the group modifies spread over
#                         M/1000 groups, so each holds up to 1,000 members, a school's size)
#     --partitions P      partitions of the stacks' topics (default 12). The dev broker keeps
#                         only the last ~5 MiB of each partition: past about 300,000 persons
#                         a backlog of the whole authority needs more (48 at 1,000,000)
#     --durable           stacks with synced slapd commits, as in production (= --modes durable)
#     --modes LIST        nosync, durable or nosync,durable (default nosync): each mode its own
#                         limit rounds, stacks and table
#     --build DIR         a release build (default ./build-bench of the repository: configured
#                         RelWithDebInfo if missing, rebuilt incrementally; Debug and sanitizer
#                         builds are refused)
#     --json FILE         the figures as JSON (default BUILD/bench-authority.json)
#     --plot FILE         PNG of scenario a's throughput and busy shares over time (default
#                         BUILD/bench-authority.png; a second mode's gets -MODE before .png)
#     --budget SEC        hang guard for the whole run (default 2700); never compared with a
#                         figure
#     --keep              keep the work directory (files, every program's log, the stacks, the
#                         samples behind the plot)
#
# Scenarios (slapd + devbroker, the authority's schools):
#   a   initial load of the whole authority into an empty directory; then on the same stack:
#   b   the same files again: nothing changed, so no LDAP write at all
#   b2  (with b) nothing changed again, the reconciler already running and caught up when
#       the ingest starts: wall s from the ingest's start to the reconciler's last event
#   c   the next night: 1 % changed, 0.5 % moved (old school imports first: through limbo,
#       then out of it at the new school), 0.2 % gone
#   d   a with 1, 2 and 4 reconcilers in one consumer group (each its own state_dir), each on
#       a fresh stack; d/1 is a itself when a runs too
# With a, scenarios b, b2 and c run after it on a's stack (b leaves the directory as a did).
# Without a, b and c each run on their own stack after a load like a's (not measured, but
# checked).
#
# How a scenario is measured: ONE `sisopi-ingest --watch DIR --once` imports every file in
# the manifest's order ("ingest s"); then the reconcilers start together and join their group
# ("join s": the mock broker makes the first join wait ~3 s), and "reconcile s" runs from the
# first partition assignment to the last event they wrote to sisopi.events (its CreateTime:
# events go out after each batch's LDAP writes). "wall s" = ingest s + reconcile s. The
# limit, each round on a fresh stack: bench_raw_ldap adds N student-shaped entries
# asynchronously with the reconciler's window, modifies them, moves them to limbo and back,
# adds each to one of 100 class groups and removes it again, and slapadd -q loads the same
# N entries into a fresh database of the same slapd.conf. Every ratio is against the best
# round; the table says how much each rate moved between rounds.
set -Eeuo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PROG=bench_authority.sh

die() {
    trap - ERR # the message says it all; no second one from the ERR trap
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

PERSONS=100000
SCHOOLS=100
SEED=42
SCENARIOS=a,b,c,d
BUILD=$SRC/build-bench
JSON=""
PLOT=""
BUDGET=2700
KEEP=0
LIMIT_ROUNDS=2
PARTITIONS=12
LIMIT_SAMPLE=""
MODES=nosync
while (($#)); do
    case $1 in
    --persons) PERSONS=${2:?--persons needs a value}; shift ;;
    --schools) SCHOOLS=${2:?--schools needs a value}; shift ;;
    --seed) SEED=${2:?--seed needs a value}; shift ;;
    --scenarios) SCENARIOS=${2:?--scenarios needs a value}; shift ;;
    --build) BUILD=${2:?--build needs a value}; shift ;;
    --json) JSON=${2:?--json needs a value}; shift ;;
    --plot) PLOT=${2:?--plot needs a value}; shift ;;
    --budget) BUDGET=${2:?--budget needs a value}; shift ;;
    --keep) KEEP=1 ;;
    --limit-rounds) LIMIT_ROUNDS=${2:?--limit-rounds needs a value}; shift ;;
    --partitions) PARTITIONS=${2:?--partitions needs a value}; shift ;;
    --limit-sample) LIMIT_SAMPLE=${2:?--limit-sample needs a value}; shift ;;
    --durable) MODES=durable ;;
    --modes) MODES=${2:?--modes needs a value}; shift ;;
    -h | --help) usage 0 ;;
    *) note "unknown argument $1"; usage 64 ;;
    esac
    shift
done
[[ $PERSONS =~ ^[1-9][0-9]{2,6}$ ]] || die "--persons must be 100..9999999"
[[ $SCHOOLS =~ ^[1-9][0-9]{0,3}$ ]] || die "--schools must be 1..9999"
[[ $SEED =~ ^[0-9]+$ ]] || die "--seed must be a number"
[[ $BUDGET =~ ^[1-9][0-9]*$ ]] || die "--budget must be a number of seconds"
[[ $SCENARIOS =~ ^[abcd](,[abcd])*$ ]] || die "--scenarios: a comma-separated list of a, b, c, d"
[[ $LIMIT_ROUNDS =~ ^[1-9]$ ]] || die "--limit-rounds must be 1..9"
[[ $PARTITIONS =~ ^[1-9][0-9]{0,2}$ ]] || die "--partitions must be 1..999"
LIMIT_SAMPLE=${LIMIT_SAMPLE:-$((PERSONS < 20000 ? PERSONS : 20000))}
if [[ ! $LIMIT_SAMPLE =~ ^[1-9][0-9]*$ ]] || ((LIMIT_SAMPLE > PERSONS)); then
    die "--limit-sample must be 1..N"
fi
[[ $MODES =~ ^(nosync|durable)(,(nosync|durable))?$ ]] || die "--modes: nosync, durable or both, comma-separated"
want() { [[ ,$SCENARIOS, == *,$1,* ]]; }
MODE=${MODES%%,*}
[[ $BUILD == /* ]] || BUILD=$PWD/$BUILD
JSON=${JSON:-$BUILD/bench-authority.json}
PLOT=${PLOT:-$BUILD/bench-authority.png}
[[ $JSON == /* ]] || JSON=$PWD/$JSON
[[ $PLOT == /* ]] || PLOT=$PWD/$PLOT

# gnuplot for the plot, and what the stack and the checks use (a no-op when all is there).
"$SRC/deploy/install-deps.sh" --bench-tools || die "deploy/install-deps.sh --bench-tools failed"
PATH=$PATH:/usr/sbin
for t in cmake kcat curl gnuplot ldapsearch slapadd timeout awk; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (deploy/install-deps.sh --bench-tools)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"

now_us() { printf '%s' "${EPOCHREALTIME/[,.]/}"; }
now_ms() { local u; u=$(now_us); printf '%s' "$((u / 1000))"; }
T_START=$(now_us)

# ---------------------------------------------------------------------------------------------
# Work directory, and the guarantee that every process started here is stopped on any exit
# ---------------------------------------------------------------------------------------------

WORK=$(mktemp -d /tmp/sisopi-bench-authority.XXXXXX)
STACKS=()     # stack directories started
STACK_PIDS=() # "pid dir" of each stack's slapd and devbroker
BG_PIDS=()    # reconcilers, sampler: stopped by pid on exit
cleanup() {
    local rc=$? pid s dir
    for pid in "${BG_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    for s in "${STACKS[@]}"; do
        "$SRC/deploy/stack.sh" stop --dir "$s" >/dev/null 2>&1 || note "could not stop the stack in $s"
    done
    # stack.sh stop needs the stack's directory; if it went away, the processes this run
    # started would outlive it: stop them by pid, if their command line names that stack.
    for s in "${STACK_PIDS[@]}"; do
        pid=${s%% *} dir=${s#* }
        if tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$dir/"; then
            note "stopping pid $pid of the stack in $dir by pid"
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    if ((KEEP)); then
        note "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    return "$rc"
}
trap cleanup EXIT
# set -e stops at any unexpected failure; say where, rather than exit without a word.
trap 'note "failed (status $?) at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# The build: a release build, current with the tree
# ---------------------------------------------------------------------------------------------

mkdir -p "$WORK/log"
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    note "configuring a release build in $BUILD"
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/log/cmake.log" 2>&1 ||
        die "cmake configure failed:"$'\n'"$(tail -n 20 "$WORK/log/cmake.log")"
fi
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
SANITIZE=$(sed -n 's/^SISOPI_SANITIZE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
[[ $BUILD_TYPE == Release || $BUILD_TYPE == RelWithDebInfo ]] ||
    die "$BUILD is a '${BUILD_TYPE:-default}' build: benchmark a Release or RelWithDebInfo build"
[[ ${SANITIZE^^} != ON ]] || die "$BUILD is built with sanitizers: benchmark a plain release build"
note "building $BUILD"
cmake --build "$BUILD" -j2 >"$WORK/log/build.log" 2>&1 ||
    die "the build failed:"$'\n'"$(grep -m 10 -E 'error|Error' "$WORK/log/build.log")"
BIN=$BUILD/services
GEN=$BUILD/tests/bench/bench_gen_authority
RAW=$BUILD/tests/bench/bench_raw_ldap
for b in "$BIN/sisopi-ingest" "$BIN/sisopi-reconciler" "$BIN/sisopi-devbroker" "$GEN" "$RAW"; do
    [[ -x $b ]] || die "$b not found: build it (cmake --build $BUILD)"
done

DEADLINE=$(($(now_us) + BUDGET * 1000000))
# Seconds left of the budget (at least 1): every wait and command is bounded by it.
remaining() {
    local left=$(((DEADLINE - $(now_us)) / 1000000))
    ((left >= 1)) || die "the budget of $BUDGET s is used up (hang guard; see --budget)"
    printf '%s' "$left"
}

# ---------------------------------------------------------------------------------------------
# The authority: tonight's files and the next night's
# ---------------------------------------------------------------------------------------------

LOAD=$WORK/gen-load
NIGHT=$WORK/gen-night
"$GEN" --persons "$PERSONS" --schools "$SCHOOLS" --seed "$SEED" "$LOAD" ||
    die "bench_gen_authority failed"
if want c; then
    "$GEN" --persons "$PERSONS" --schools "$SCHOOLS" --seed "$SEED" --night "$NIGHT" ||
        die "bench_gen_authority --night failed"
fi
# manifest KEY [DIR]: one value of a manifest.
manifest() { awk -v k="$1" '$1 == k { print $2; exit }' "${2:-$LOAD}/manifest.txt"; }
SCHOOL_LIST=$(awk '$1 == "import" { print $3 }' "$LOAD/manifest.txt" | uniq | tr '\n' ' ')
RECORDS=$(manifest records)
# slapd's map: about 3.5 KiB of database per person (measured at 5,000: see the growth
# figures), so the default 4 GiB would be nearly full at a million; the benchmark gives it
# 8 KiB per person, never less than the default (sparse: costs no disk until used).
SLAPD_MAXSIZE=$((PERSONS * 8192 > 4294967296 ? PERSONS * 8192 : 4294967296))
FILES=$(manifest files)

# ---------------------------------------------------------------------------------------------
# Stacks and their directory
# ---------------------------------------------------------------------------------------------

# start_stack DIR [SCHOOLS] [--no-broker]: a fresh stack; sets ST_URI, ST_BASE, ST_ROOTDN,
# ST_SECRET, ST_BOOTSTRAP, ST_PARTITIONS, ST_CFG.
start_stack() {
    local dir=$1 schools=${2:-$SCHOOL_LIST}
    shift 2 || shift $#
    STACKS+=("$dir")
    mkdir -p "$(dirname "$dir")"
    local durable=()
    [[ $MODE != durable ]] || durable=(--durable)
    timeout "$(remaining)" "$SRC/deploy/stack.sh" start --dir "$dir" --build "$BUILD" \
        --schools "$schools" --maxsize "$SLAPD_MAXSIZE" --partitions "$PARTITIONS" "${durable[@]}" "$@" \
        >"$dir.start.log" 2>&1 ||
        die "the stack did not start:"$'\n'"$(tail -n 20 "$dir.start.log")"
    local f
    for f in "$dir/slapd.pid" "$dir/devbroker.pid"; do
        [[ ! -s $f ]] || STACK_PIDS+=("$(cat "$f") $dir")
    done
    ST_CFG=$dir/sisopi.cfg
    ST_SECRET=$dir/ldap.secret
    ST_URI=$(sed -n 's/^URI=//p' "$dir/stack.env")
    ST_BASE=$(sed -n 's/^BASE=//p' "$dir/stack.env")
    ST_ROOTDN=$(sed -n 's/^ROOTDN=//p' "$dir/stack.env")
    ST_BOOTSTRAP=$(sed -n 's/^BOOTSTRAP=//p' "$dir/stack.env")
    ST_PARTITIONS=$(sed -n 's/^ *partitions = \([0-9]*\);.*/\1/p' "$ST_CFG")
    [[ $ST_PARTITIONS =~ ^[0-9]+$ ]] || die "no kafka.partitions in $ST_CFG"
    ST_LIMBO=$(sed -n 's/^ *limbo_ou = "\(.*\)";.*/\1/p' "$ST_CFG")
    [[ -n $ST_LIMBO ]] || die "no import.limbo_ou in $ST_CFG"
    # The deletion guard runs with its defaults: the ingest decides it for the whole import,
    # and a night's few leavers per school pass it.
    if ((PERSONS > 500000)); then
        # Past about 500,000 persons the commonest names' username counters pass 999, and a
        # student's name cut to 12 characters for a 3-digit counter no longer fits the
        # default 15 (UsernameToLong, as the reference): a directory of that size needs
        # longer usernames, and gets them here (the same for every role).
        sed -i 's/^\( *limbo_ou = .*\)$/\1\n  username_max_length: { default = 20; student = 20; };/' "$ST_CFG"
        grep -q 'student = 20;' "$ST_CFG" || die "could not set import.username_max_length in $ST_CFG"
    fi
}

stop_stack() {
    "$SRC/deploy/stack.sh" stop --dir "$1" >/dev/null 2>&1 || die "could not stop the stack in $1"
}

# count_entries BASE FILTER: entries below BASE matching FILTER.
count_entries() {
    local out
    out=$(timeout 120 ldapsearch -x -LLL -o ldif-wrap=no -H "$ST_URI" -D "$ST_ROOTDN" \
        -y "$ST_SECRET" -b "$1" "$2" 1.1) || die "ldapsearch -b \"$1\" \"$2\" failed"
    grep -c '^dn:' <<<"$out" || true
}

# Peak RSS (KiB) of a running process since its start or its last reset_hwm.
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# Resets a process's peak RSS to its current RSS (Linux clear_refs "5"), so each scenario
# gets its own peak of the long-running slapd and devbroker.
reset_hwm() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || note "cannot reset the peak RSS of pid $1"; }

# ---------------------------------------------------------------------------------------------
# The limit: raw async adds and modifies, slapadd -q, same slapd.conf, same N
# ---------------------------------------------------------------------------------------------

# One round of the limit on a fresh stack of the mode's configuration: N raw async adds, N
# modifies, M moves to limbo and back (2M renames), 2M group modifies (add, then delete one
# member each) on the first M = LIMIT_SAMPLE entries, then slapadd -q of the same N entries.
# Appends the round to RAW_ROUNDS; limit_summary takes the best of the rounds. The group
# modifies go to RAW_GROUPS = M/1000 class groups made for them, entry i to group
# i % RAW_GROUPS: each grows to 1,000 members (a school's groups), whatever N (one group of N
# would make the cost grow with N), and the sample keeps the slow kinds of write from
# taking most of a large run.
RAW_GROUPS=$((LIMIT_SAMPLE / 1000 > 0 ? LIMIT_SAMPLE / 1000 : 1))
RAW_ROUNDS=() # "round where add_s add_rate mod_s mod_rate ren_s ren_rate grp_s grp_rate slapadd_s slapadd_rate slapd_kib"
limit_round() {
    local where=$1 k=$((${#RAW_ROUNDS[@]} + 1))
    local dir=$WORK/$MODE/limit-$k out
    mkdir -p "$dir"
    start_stack "$dir/stack" Raw --no-broker
    local parent="cn=schueler,cn=users,ou=Raw,$ST_BASE"
    local limbo="cn=schueler,cn=users,ou=$ST_LIMBO,$ST_BASE"
    local classes="cn=klassen,cn=schueler,cn=groups,ou=Raw,$ST_BASE"
    # The school's entries (sisopi-admin made them in the running slapd), for slapadd below.
    ldapsearch -x -LLL -o ldif-wrap=no -H "$ST_URI" -D "$ST_ROOTDN" -y "$ST_SECRET" \
        -b "ou=Raw,$ST_BASE" "(objectClass=*)" >"$dir/school.ldif" ||
        die "could not read the school Raw from the stack's slapd"
    grep -qixF "dn: $classes" "$dir/school.ldif" || die "no container $classes in the school Raw (has school.ldif.in changed?)"
    (($(count_entries "$limbo" '(objectClass=*)') > 0)) ||
        die "no limbo container $limbo (has base.ldif.in changed?)"
    note "limit ($MODE, round $k, $where): $PERSONS raw async adds, modifies, renames, group modifies; slapadd -q"
    local what f=() rate_s rate
    for what in add modify rename group; do
        local args=()
        case $what in
        modify) args=(--modify) ;;
        rename) args=(--rename "$limbo") ;;
        group) args=(--group-modify "$classes" --groups "$RAW_GROUPS") ;;
        esac
        local count=$PERSONS
        [[ $what != rename && $what != group ]] || count=$LIMIT_SAMPLE
        out=$(timeout "$(remaining)" "$RAW" -c "$ST_CFG" "${args[@]}" "$parent" "$count" \
            2>"$dir/raw-$what.err") ||
            die "bench_raw_ldap ${args[*]} failed: $out $(tail -n 5 "$dir/raw-$what.err")"
        read -r _ _ _ rate_s _ rate _ _ _ RAW_WINDOW <<<"$out"
        f+=("$rate_s" "$rate")
    done
    local slapd_kib
    slapd_kib=$(hwm_kib "$(cat "$dir/stack/slapd.pid")")
    stop_stack "$dir/stack"
    # slapadd: the stack's own slapd.conf with only the database directory changed, the
    # stack's initial entries and the school's, then the same N entries the adds wrote.
    mkdir -p "$dir/slapadd/data"
    sed "s#^directory .*#directory $dir/slapadd/data#" "$dir/stack/slapd.conf" >"$dir/slapadd/slapd.conf"
    grep -q "^directory $dir/slapadd/data\$" "$dir/slapadd/slapd.conf" ||
        die "no directory line in $dir/stack/slapd.conf (has stack.sh changed?)"
    { cat "$dir/stack/init.ldif"; echo; cat "$dir/school.ldif"; echo; "$RAW" --ldif "$parent" "$PERSONS"; } \
        >"$dir/slapadd/all.ldif"
    local init t0 t1 sa_s sa_rate
    init=$(cat "$dir/stack/init.ldif" "$dir/school.ldif" | grep -c '^dn:')
    t0=$(now_us)
    timeout "$(remaining)" slapadd -q -f "$dir/slapadd/slapd.conf" -l "$dir/slapadd/all.ldif" \
        >"$dir/slapadd.log" 2>&1 || die "slapadd failed:"$'\n'"$(tail -n 10 "$dir/slapadd.log")"
    t1=$(now_us)
    sa_s=$(awk -v us=$((t1 - t0)) 'BEGIN { printf "%.3f", us / 1e6 }')
    sa_rate=$(awk -v n=$((PERSONS + init)) -v s="$sa_s" 'BEGIN { printf "%.0f", n / s }')
    rm -rf "$dir/slapadd/data" "$dir/slapadd/all.ldif"
    RAW_ROUNDS+=("$k $where ${f[*]} $sa_s $sa_rate $slapd_kib")
    note "limit ($MODE, round $k): adds ${f[1]}/s, modifies ${f[3]}/s, renames ${f[5]}/s, group modifies ${f[7]}/s, slapadd -q $sa_rate entries/s"
}

# limit_summary: over the rounds, per rate the best (the denominator of every ratio), the
# lowest, and how much it moved ((best - lowest) / best); sets RAW_<KIND>_RATE (best) and
# RAW_<KIND>_S (the best round's seconds), RAW_<KIND>_MIN, RAW_<KIND>_MOVED.
limit_summary() {
    local col kind best line
    for kind in ADD:3 MOD:5 REN:7 GRP:9 SLAPADD:11; do
        col=${kind#*:} kind=${kind%:*}
        best=$(printf '%s\n' "${RAW_ROUNDS[@]}" | sort -k"$((col + 1))",$((col + 1))nr | head -n 1)
        printf -v "RAW_${kind}_RATE" '%s' "$(awk -v c="$col" '{ print $(c + 1) }' <<<"$best")"
        printf -v "RAW_${kind}_S" '%s' "$(awk -v c="$col" '{ print $c }' <<<"$best")"
        line=$(printf '%s\n' "${RAW_ROUNDS[@]}" | awk -v c="$col" '
            NR == 1 || $(c + 1) < lo { lo = $(c + 1) } NR == 1 || $(c + 1) > hi { hi = $(c + 1) }
            END { printf "%d %.1f", lo, (hi > 0 ? 100 * (hi - lo) / hi : 0) }')
        printf -v "RAW_${kind}_MIN" '%s' "${line% *}"
        printf -v "RAW_${kind}_MOVED" '%s' "${line#* }"
    done
    RAW_SLAPD_KIB=$(printf '%s\n' "${RAW_ROUNDS[@]}" | awk '$13 > m { m = $13 } END { print m + 0 }')
}

# ---------------------------------------------------------------------------------------------
# One phase: reconcilers up, one ingest of a file set, wait, stop, check
# ---------------------------------------------------------------------------------------------

# Metrics of every running reconciler of the phase, concatenated.
scrape() {
    local p
    for p in "${REC_PORTS[@]}"; do
        curl -s --max-time 2 "http://127.0.0.1:$p/metrics" || true
    done
}

# From scrape's text: "consumed created writes searches lag" summed over the reconcilers.
# Writes are every operation that changes the directory: adds, modifies (groups included),
# renames, deletes and username counters. Lag: messages not yet fetched.
sum_metrics() {
    awk '
        /^sisopi_messages_consumed_total / { c += $2 }
        /^sisopi_events_total\{type="Created"\} / { cr += $2 }
        /^sisopi_ldap_operations_total\{op="(add|modify|rename|delete|counter)",/ { w += $2 }
        /^sisopi_ldap_operations_total\{op="search",/ { s += $2 }
        /^sisopi_consumer_lag\{/ { lag += $2 }
        END { printf "%d %d %d %d %d\n", c, cr, w, s, lag }'
}

# Partitions a reconciler holds now, from its log (cooperative rebalancing adds and removes).
held_partitions() {
    awk '/ partitions_assigned / || / partitions_revoked / {
            match($0, /count=[0-9]+/); n = substr($0, RSTART + 6, RLENGTH - 6) + 0
            held += / partitions_assigned / ? n : -n
        }
        END { print held + 0 }' "$1"
}

# CPU time (utime + stime, clock ticks) a process has used so far; 0 once it is gone. The
# fields are counted after the command name's closing parenthesis.
cpu_ticks() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return 0; }
    awk '{ print $12 + $13 }' <<<"${st##*) }"
}

# The sampler behind the plot: every 0.5 s, "epoch_ms consumed created writes searches lag
# slapd_ticks reconciler_ticks devbroker_ticks" (the CPU time of each, for the busy panel).
sampler() {
    local out=$1 stop=$2 slapd=$3 rec=$4 broker=$5 i=0 t0 left
    while [[ ! -e $stop ]] && ((i++ < 2 * BUDGET)); do
        t0=$(now_ms)
        printf '%s %s %s %s %s\n' "$t0" "$(scrape | sum_metrics)" "$(cpu_ticks "$slapd")" \
            "$(cpu_ticks "$rec")" "$(cpu_ticks "$broker")" >>"$out"
        # Every 0.5 s from sample to sample: taking one costs a few tens of ms.
        left=$((500 - ($(now_ms) - t0)))
        ((left >= 50)) || left=50
        sleep "0.$(printf '%03d' "$left")"
    done
}

# The file set in the drop-directory layout, each file's mtime in manifest order: the watch
# mode imports the oldest first.
prepare_drop() {
    local gen=$1 drop=$2 base
    base=$(($(date +%s) - 100000))
    mkdir -p "$drop"
    while read -r _ order school role path _; do
        mkdir -p "$drop/$school"
        cp "$gen/$path" "$drop/$school/$role.csv"
        touch -d "@$((base + order))" "$drop/$school/$role.csv"
    done < <(awk '$1 == "import"' "$gen/manifest.txt")
}

# start_reconcilers DIR STACK N: N reconcilers of one group, each with its own state
# directory (the state table is per member) and a free metrics port; sets REC_PIDS and
# REC_PORTS, and REC_LOGS.
start_reconcilers() {
    local dir=$1 stack=$2 nrec=$3 k i port
    REC_PIDS=() REC_PORTS=() REC_LOGS=()
    for ((k = 1; k <= nrec; k++)); do
        mkdir -p "$stack/rec-$k"
        sed "s#^\\( *state_dir = \\).*#\\1\"$stack/rec-$k\";#" "$ST_CFG" >"$stack/rec-$k.cfg"
        grep -q "state_dir = \"$stack/rec-$k\";" "$stack/rec-$k.cfg" ||
            die "no reconciler.state_dir in $ST_CFG (has stack.sh changed?)"
        REC_LOGS+=("$dir/rec-$k.log")
        # The log exists before the child opens it: the parent reads it at once.
        : >"$dir/rec-$k.log"
        "$BIN/sisopi-reconciler" -c "$stack/rec-$k.cfg" --metrics 127.0.0.1:0 \
            </dev/null >>"$dir/rec-$k.log" 2>&1 &
        REC_PIDS+=("$!")
        BG_PIDS+=("$!")
    done
    for ((k = 1; k <= nrec; k++)); do
        port=""
        for ((i = 0; i < 200; i++)); do # 10 s
            port=$(sed -n 's/.* metrics_listening .*port=\([0-9]*\).*/\1/p' "$dir/rec-$k.log")
            [[ -z $port ]] || break
            sleep 0.05
        done
        [[ -n $port ]] || die "reconciler $k did not start:"$'\n'"$(tail -n 10 "$dir/rec-$k.log")"
        REC_PORTS+=("$port")
    done
}

# Dies if a reconciler of the phase has exited.
reconcilers_alive() {
    local k
    for ((k = 0; k < ${#REC_PIDS[@]}; k++)); do
        kill -0 "${REC_PIDS[k]}" 2>/dev/null ||
            die "$1: reconciler $((k + 1)) exited:"$'\n'"$(tail -n 10 "${REC_LOGS[k]}")"
    done
}

# Epoch milliseconds of the first "partitions_assigned" in the phase's logs, or nothing yet.
first_assignment() {
    local ts
    ts=$(awk '/ partitions_assigned / { print $1 }' "${REC_LOGS[@]}" | sort | head -n 1)
    [[ -z $ts ]] || date -d "$ts" +%s%3N
}

# wait_assigned LABEL: until a member has its partitions; sets T_ASSIGN_MS.
wait_assigned() {
    local label=$1 i
    T_ASSIGN_MS=""
    for ((i = 0; i < 1200; i++)); do # 120 s
        T_ASSIGN_MS=$(first_assignment)
        [[ -z $T_ASSIGN_MS ]] || return 0
        reconcilers_alive "$label"
        sleep 0.1
    done
    die "$label: no partition assigned in 120 s"
}

# True once the group left its first assignment: a revocation, or more assignments than
# members (started together, the members share the partitions in one round).
rebalanced() {
    local a r
    a=$(cat "${REC_LOGS[@]}" | grep -c ' partitions_assigned ' || true)
    r=$(cat "${REC_LOGS[@]}" | grep -c ' partitions_revoked ' || true)
    ((r > 0 || a > ${#REC_LOGS[@]}))
}

# ingest_all LABEL GEN DROP DIR: one sisopi-ingest --watch --once over the file set, nothing
# consuming; sets PH_INGEST_S (since T0_MS) and PH_INGEST_KIB; dies unless every file was
# imported.
ingest_all() {
    local label=$1 gen=$2 drop=$3 dir=$4 rc=0 t_end done_files
    /usr/bin/time -o "$dir/ingest.time" -f '%e %M' timeout "$(remaining)" \
        "$BIN/sisopi-ingest" -q -c "$ST_CFG" --watch "$drop" --once >"$dir/ingest.log" 2>&1 || rc=$?
    t_end=$(now_ms)
    ((rc == 0)) || die "$label: sisopi-ingest --watch exited with $rc:"$'\n'"$(grep -m 10 -E 'error|failed' "$dir/ingest.log")"
    done_files=$(find "$drop/done" -name '*.csv' | wc -l)
    [[ ! -d $drop/failed ]] || die "$label: files failed: $(find "$drop/failed" -name '*.report' | head -n 3)"
    ((done_files == $(manifest files "$gen"))) ||
        die "$label: $done_files of $(manifest files "$gen") files imported"
    PH_INGEST_S=$(awk -v ms=$((t_end - T0_MS)) 'BEGIN { printf "%.2f", ms / 1000 }')
    PH_INGEST_KIB=$(awk '{ print $2 }' "$dir/ingest.time")
}

# wait_applied LABEL EXPECTED: until the reconcilers have applied every message of the
# phase: exactly as many as were published, as long as the group kept its first assignment.
# After a rebalance (a member joined late, or missed its session under the load of two
# cores) the member that took over a partition applies it again from the committed offset,
# so the count runs past the messages published: then done is nothing left to fetch and no
# message applied for 4 s (a batch takes about a second; the end time comes from the events
# anyway). Sets PH_REBALANCED, PH_REDELIVERED, PH_WRITES, PH_SEARCHES.
wait_applied() {
    local label=$1 expected=$2 i consumed=0 lag last_consumed=-1 still_since=0
    PH_REBALANCED=0
    for ((i = 0; i < 10 * BUDGET; i++)); do
        read -r consumed _ _ _ lag <<<"$(scrape | sum_metrics)"
        ! rebalanced || PH_REBALANCED=1
        if ((consumed >= expected)); then
            ((consumed > expected || PH_REBALANCED)) || break
            if ((lag == 0 && consumed == last_consumed)); then
                (($(now_us) - still_since < 4000000)) || break
            else
                still_since=$(now_us)
            fi
        fi
        last_consumed=$consumed
        reconcilers_alive "$label"
        remaining >/dev/null
        sleep 0.2
    done
    ((consumed == expected || (PH_REBALANCED && consumed > expected))) ||
        die "$label: the reconcilers consumed $consumed messages, expected $expected (rebalanced during the load: $PH_REBALANCED)"
    PH_REDELIVERED=$((consumed - expected))
    ((!PH_REBALANCED)) || note "$label: the group rebalanced during the load; $PH_REDELIVERED messages were delivered again"
    # The metrics are published once a second: wait for the final figures.
    sleep 1.2
    read -r _ _ PH_WRITES PH_SEARCHES _ <<<"$(scrape | sum_metrics)"
}

# stop_reconcilers LABEL: SIGTERM to every member, bounded wait, exit status 0 required.
stop_reconcilers() {
    local label=$1 k i rc
    for ((k = 0; k < ${#REC_PIDS[@]}; k++)); do
        kill -TERM "${REC_PIDS[k]}" 2>/dev/null || true
    done
    for ((k = 0; k < ${#REC_PIDS[@]}; k++)); do
        for ((i = 0; i < 300; i++)); do # 30 s
            kill -0 "${REC_PIDS[k]}" 2>/dev/null || break
            sleep 0.1
        done
        rc=0
        wait "${REC_PIDS[k]}" || rc=$?
        ((rc == 0)) || die "$label: reconciler $((k + 1)) exited with $rc:"$'\n'"$(tail -n 10 "${REC_LOGS[k]}")"
    done
    REC_PORTS=()
}

# events_span LABEL DIR: "CreateTime key" of every event written since the ingest started
# into DIR/events.txt (sorted); sets PH_EVENTS, PH_FIRST_S (first event) and PH_RECONCILE_S
# (last event), both since the first partition assignment.
events_span() {
    local label=$1 dir=$2 n first_ms last_ms
    timeout "$(remaining)" kcat -C -b "$ST_BOOTSTRAP" -t sisopi.events -e -q -f '%T %k\n' \
        2>"$dir/kcat.err" >"$dir/events.all" || die "$label: kcat -C sisopi.events failed: $(head -n 3 "$dir/kcat.err")"
    awk -v t0="$T0_MS" '$1 >= t0' "$dir/events.all" | sort -n >"$dir/events.txt"
    rm -f "$dir/events.all"
    read -r n first_ms last_ms <<<"$(awk 'NR == 1 { f = $1 } { l = $1 } END { printf "%d %.0f %.0f\n", NR, f, l }' "$dir/events.txt")"
    ((n > 0)) || die "$label: no event on sisopi.events since the ingest started"
    PH_EVENTS=$n
    PH_RECONCILE_S=$(awk -v ms=$((last_ms - T_ASSIGN_MS)) 'BEGIN { printf "%.2f", ms / 1000 }')
    PH_FIRST_S=$(awk -v ms=$((first_ms - T_ASSIGN_MS)) 'BEGIN { printf "%.2f", ms / 1000 }')
}

# run_phase LABEL GENDIR STACKDIR RECONCILERS SAMPLE EXPECT: one ingest of the file set,
# then the reconcilers together until everything is applied; stop, measure, check.
#   EXPECT: "load" (the manifest's expect_* from an empty directory), "again" (nothing
#   changed: every record unchanged, no LDAP write), "night" (the night manifest's expect_*).
# Sets PH_* for the caller; dies loudly if any check fails.
run_phase() {
    local label=$1 gen=$2 stack=$3 nrec=$4 sample=$5 expect=$6
    local dir=$WORK/$MODE/$label t_rec0 k sampler_pid=""
    local expected=$(($(manifest records "$gen") + $(manifest files "$gen") * ST_PARTITIONS))
    mkdir -p "$dir"
    note "$label: $(manifest records "$gen") records in $(manifest files "$gen") files, then $nrec reconciler(s)"
    prepare_drop "$gen" "$dir/drop"
    local slapd_pid broker_pid
    slapd_pid=$(cat "$stack/slapd.pid")
    broker_pid=$(cat "$stack/devbroker.pid")
    reset_hwm "$slapd_pid"
    reset_hwm "$broker_pid"
    T0_MS=$(now_ms)
    ingest_all "$label" "$gen" "$dir/drop" "$dir"

    t_rec0=$(now_ms)
    start_reconcilers "$dir" "$stack" "$nrec"
    if ((sample)); then
        : >"$dir/samples.txt"
        sampler "$dir/samples.txt" "$dir/sampler.stop" "$slapd_pid" "${REC_PIDS[0]}" "$broker_pid" &
        sampler_pid=$!
        BG_PIDS+=("$sampler_pid")
    fi
    wait_assigned "$label"
    PH_JOIN_S=$(awk -v ms=$((T_ASSIGN_MS - t_rec0)) 'BEGIN { printf "%.2f", ms / 1000 }')
    wait_applied "$label" "$expected"

    PH_REC_KIB=() PH_HELD=""
    for ((k = 0; k < nrec; k++)); do
        PH_REC_KIB+=("$(hwm_kib "${REC_PIDS[k]}")")
        PH_HELD+="$(held_partitions "${REC_LOGS[k]}") "
    done
    PH_SLAPD_KIB=$(hwm_kib "$slapd_pid")
    PH_BROKER_KIB=$(hwm_kib "$broker_pid")
    if [[ -n $sampler_pid ]]; then
        : >"$dir/sampler.stop"
        wait "$sampler_pid" || true
    fi
    stop_reconcilers "$label"
    events_span "$label" "$dir"
    PH_WALL_S=$(awk -v i="$PH_INGEST_S" -v r="$PH_RECONCILE_S" 'BEGIN { printf "%.2f", i + r }')
    check_phase "$label" "$gen" "$dir" "$nrec" "$expect" "$expected"
}

# check_phase: the reconcilers' summary lines (summed over the members) against the
# manifest, and the directory's accounts against what the file set leaves.
check_phase() {
    local label=$1 gen=$2 dir=$3 nrec=$4 expect=$5 expected=$6 k
    local logs=()
    for ((k = 1; k <= nrec; k++)); do
        logs+=("$dir/rec-$k.log")
        grep -q ' summary messages=' "$dir/rec-$k.log" || die "$label: no summary in $dir/rec-$k.log"
    done
    # "messages created modified limbo deleted unchanged rejected dead_letters adds moves
    # modifies deletes group_modifies group_errors", summed.
    local sum
    sum=$(awk '
        function v(key,   r) { if (match($0, " " key "=[0-9]+")) return substr($0, RSTART + length(key) + 2, RLENGTH - length(key) - 2) + 0; return 0 }
        / info reconciler summary / { m += v("messages"); c += v("created"); mo += v("modified"); li += v("limbo")
                                      de += v("deleted"); un += v("unchanged"); rj += v("rejected"); dl += v("dead_letters") }
        / info reconciler ldap_summary / { ad += v("adds"); mv += v("moves"); md += v("modifies"); dt += v("deletes")
                                           gm += v("group_modifies"); ge += v("group_errors") }
        END { print m, c, mo, li, de, un, rj, dl, ad, mv, md, dt, gm, ge }' "${logs[@]}")
    local s_msg s_cr s_mod s_limbo s_del s_unch s_rej s_dl l_add l_mv l_mod l_del l_gm l_ge
    read -r s_msg s_cr s_mod s_limbo s_del s_unch s_rej s_dl l_add l_mv l_mod l_del l_gm l_ge <<<"$sum"
    PH_SUMMARY="messages=$s_msg created=$s_cr modified=$s_mod limbo=$s_limbo deleted=$s_del unchanged=$s_unch rejected=$s_rej dead_letters=$s_dl"
    PH_LDAP_SUMMARY="adds=$l_add moves=$l_mv modifies=$l_mod deletes=$l_del group_modifies=$l_gm group_errors=$l_ge"
    local want_cr want_mod want_limbo want_unch bad=()
    case $expect in
    load | night)
        want_cr=$(manifest expect_created "$gen") want_mod=$(manifest expect_modified "$gen")
        want_limbo=$(manifest expect_limbo "$gen") want_unch=$(manifest expect_unchanged "$gen") ;;
    again) want_cr=0 want_mod=0 want_limbo=0 want_unch=$(manifest records "$gen") ;;
    esac
    # A message delivered again after a rebalance counts as a message once more. What it finds
    # already applied counts as unchanged, or, when the write-ahead journal names its person
    # (the previous owner was in the middle of its batch), it is carried out again from the
    # state it was planned from: the same change and the same event, counted once more as
    # created, modified or limbo. So each of those may exceed the manifest by at most the
    # messages delivered again, and all of them together by no more than that; the directory
    # below is checked exactly.
    local again=$PH_REDELIVERED
    ((s_msg == expected + again)) || bad+=("messages=$s_msg, expected $expected + $again delivered again")
    ((s_cr >= want_cr && s_cr <= want_cr + again)) || bad+=("created=$s_cr, expected $want_cr (up to $again more delivered again)")
    ((s_mod >= want_mod && s_mod <= want_mod + again)) || bad+=("modified=$s_mod, expected $want_mod (up to $again more delivered again)")
    ((s_limbo >= want_limbo && s_limbo <= want_limbo + again)) || bad+=("limbo=$s_limbo, expected $want_limbo (up to $again more delivered again)")
    ((s_unch >= want_unch && s_unch <= want_unch + again)) ||
        bad+=("unchanged=$s_unch, expected $want_unch (up to $again more delivered again)")
    ((s_cr + s_mod + s_limbo + s_unch <= want_cr + want_mod + want_limbo + want_unch + again)) ||
        bad+=("created+modified+limbo+unchanged=$((s_cr + s_mod + s_limbo + s_unch)), more than the manifest's plus $again delivered again")
    # Every account is added once, whatever was delivered again.
    [[ $expect == again ]] || ((l_add == want_cr)) || bad+=("adds=$l_add, expected $want_cr (one per created person)")
    ((s_del == 0 && s_rej == 0 && s_dl == 0)) || bad+=("deleted=$s_del rejected=$s_rej dead_letters=$s_dl, expected 0")
    ((l_ge == 0)) || bad+=("group_errors=$l_ge, expected 0")
    if [[ $expect == again ]]; then
        # Nothing changed: not a single write may reach the directory.
        ((l_add + l_mv + l_mod + l_del + l_gm == 0 && PH_WRITES == 0)) ||
            bad+=("LDAP writes: $PH_LDAP_SUMMARY, $PH_WRITES write operations in the metrics; expected none")
    fi
    # The directory: every person once; the gone ones (and only they) in limbo, deactivated.
    local total limbo disabled
    total=$(count_entries "$ST_BASE" '(ucsschoolRecordUID=*)')
    limbo=$(count_entries "ou=limbo,$ST_BASE" '(ucsschoolRecordUID=*)')
    disabled=$(count_entries "$ST_BASE" '(&(ucsschoolRecordUID=*)(shadowExpire=1))')
    local want_active want_in_limbo
    want_active=$(manifest active_after "$gen") want_in_limbo=$(manifest limbo_after "$gen")
    ((total - limbo == want_active)) || bad+=("$((total - limbo)) active accounts in the directory, expected $want_active")
    ((limbo == want_in_limbo)) || bad+=("$limbo accounts in limbo, expected $want_in_limbo")
    ((disabled == want_in_limbo)) || bad+=("$disabled deactivated accounts, expected $want_in_limbo")
    if ((${#bad[@]})); then
        printf '%s: CHECK FAILED in %s:\n' "$PROG" "$label" >&2
        printf '  %s\n' "${bad[@]}" >&2
        printf '  summary: %s\n  ldap_summary: %s\n  logs: %s (use --keep to keep them)\n' \
            "$PH_SUMMARY" "$PH_LDAP_SUMMARY" "$dir" >&2
        trap - ERR
        exit 1
    fi
    note "$label: checked: $PH_SUMMARY; $PH_LDAP_SUMMARY; directory $((total - limbo)) active, $limbo in limbo"
}

# run_live_phase LABEL GENDIR STACKDIR: nothing changed, as production runs it: one
# reconciler is started first, joins its group and catches up (nothing to fetch: the previous
# phase committed everything), and only then does the ingest publish the file set again, the
# two side by side on the cores. PH_WALL_S runs from the ingest's start to the last event the
# reconciler wrote (every import ends with its ImportCompleted); PH_RECONCILE_S is the part
# after the ingest had ended. The checks are b's: every record unchanged, no LDAP write.
run_live_phase() {
    local label=$1 gen=$2 stack=$3
    local dir=$WORK/$MODE/$label t_rec0 i consumed lag last_ms n
    local expected=$(($(manifest records "$gen") + $(manifest files "$gen") * ST_PARTITIONS))
    mkdir -p "$dir"
    note "$label: a running reconciler, then $(manifest records "$gen") records in $(manifest files "$gen") files"
    prepare_drop "$gen" "$dir/drop"
    local slapd_pid broker_pid
    slapd_pid=$(cat "$stack/slapd.pid")
    broker_pid=$(cat "$stack/devbroker.pid")
    t_rec0=$(now_ms)
    start_reconcilers "$dir" "$stack" 1
    wait_assigned "$label"
    PH_JOIN_S=$(awk -v ms=$((T_ASSIGN_MS - t_rec0)) 'BEGIN { printf "%.2f", ms / 1000 }')
    # Caught up: nothing consumed (the group's offsets are committed) and nothing to fetch, in
    # two samples a second apart.
    local quiet=0
    for ((i = 0; i < 300 && quiet < 2; i++)); do # 60 s
        read -r consumed _ _ _ lag <<<"$(scrape | sum_metrics)"
        ((consumed == 0)) || die "$label: the reconciler consumed $consumed messages before the ingest started (offsets not committed by the previous phase?)"
        if ((lag == 0 && i >= 5)); then
            ((++quiet))
            sleep 1
        else
            sleep 0.2
        fi
        reconcilers_alive "$label"
    done
    ((quiet >= 2)) || die "$label: the reconciler did not settle (lag $lag) in 60 s"
    reset_hwm "$slapd_pid"
    reset_hwm "$broker_pid"
    T0_MS=$(now_ms)
    ingest_all "$label" "$gen" "$dir/drop" "$dir"
    wait_applied "$label" "$expected"
    PH_REC_KIB=("$(hwm_kib "${REC_PIDS[0]}")")
    PH_HELD="$(held_partitions "${REC_LOGS[0]}") "
    PH_SLAPD_KIB=$(hwm_kib "$slapd_pid")
    PH_BROKER_KIB=$(hwm_kib "$broker_pid")
    stop_reconcilers "$label"
    T_ASSIGN_MS=$T0_MS # events_span counts from the ingest's start here
    events_span "$label" "$dir"
    PH_WALL_S=$PH_RECONCILE_S
    PH_RECONCILE_S=$(awk -v w="$PH_WALL_S" -v i="$PH_INGEST_S" 'BEGIN { printf "%.2f", w - i }')
    check_phase "$label" "$gen" "$dir" 1 again "$expected"
}

# growth LABEL STACKDIR: after a load, what the state and the directory take per person, and
# what a membership change of the biggest group costs beside that of a small class group
# (GROWTH_K synchronous modifies each: window 1, half adding one member, half removing it;
# the group ends as it was). Sets GROWTH (a JSON fragment) and GROWTH_TEXT.
GROWTH_K=200
growth() {
    local label=$1 stack=$2 dir=$WORK/$MODE/$1-growth rec_kib db_kib
    mkdir -p "$dir"
    rec_kib=$(du -sk "$stack/rec-1" | awk '{ print $1 }')
    db_kib=$(du -sk "$stack/data" | awk '{ print $1 }')
    # Every group with its member count, biggest first.
    timeout 300 ldapsearch -x -LLL -o ldif-wrap=no -H "$ST_URI" -D "$ST_ROOTDN" -y "$ST_SECRET" \
        -b "$ST_BASE" '(uniqueMember=*)' uniqueMember >"$dir/groups.ldif" ||
        die "$label: ldapsearch of the groups failed"
    awk '/^dn: / { dn = substr($0, 5) } /^uniqueMember:/ { n[dn]++ } END { for (d in n) print n[d] "\t" d }' \
        "$dir/groups.ldif" | sort -t$'\t' -k1,1nr >"$dir/groups.txt"
    rm -f "$dir/groups.ldif"
    local big_n big_dn small_n small_dn
    IFS=$'\t' read -r big_n big_dn < <(head -n 1 "$dir/groups.txt")
    IFS=$'\t' read -r small_n small_dn < <(grep -i ',cn=klassen,' "$dir/groups.txt" | tail -n 1)
    [[ -n $big_dn && -n $small_dn ]] || die "$label: no groups with members found for the growth figures"
    local out big_us small_us parent="cn=bench-growth,$ST_BASE"
    out=$(timeout "$(remaining)" "$RAW" -c "$ST_CFG" --group-modify "$big_dn" "$parent" $((GROWTH_K / 2)) 1 \
        2>"$dir/big.err") || die "$label: bench_raw_ldap --group-modify on $big_dn failed: $out $(tail -n 3 "$dir/big.err")"
    big_us=$(awk '{ printf "%.0f", 1e6 / $6 }' <<<"$out")
    out=$(timeout "$(remaining)" "$RAW" -c "$ST_CFG" --group-modify "$small_dn" "$parent" $((GROWTH_K / 2)) 1 \
        2>"$dir/small.err") || die "$label: bench_raw_ldap --group-modify on $small_dn failed: $out $(tail -n 3 "$dir/small.err")"
    small_us=$(awk '{ printf "%.0f", 1e6 / $6 }' <<<"$out")
    local maxsize
    maxsize=$(awk '$1 == "maxsize" { print $2 }' "$stack/slapd.conf")
    GROWTH=$(awk -v n="$PERSONS" -v r="$rec_kib" -v d="$db_kib" -v bn="$big_n" -v bd="$big_dn" -v bu="$big_us" \
        -v sn="$small_n" -v sd="$small_dn" -v su="$small_us" -v k="$GROWTH_K" -v mx="${maxsize:-0}" -v rmx=$((4 << 30)) 'BEGIN {
        printf "{\"reconciler_state_kib\": %d, \"reconciler_state_bytes_per_person\": %.0f, \"slapd_db_kib\": %d, \"slapd_db_bytes_per_person\": %.0f,\n", r, r * 1024 / n, d, d * 1024 / n
        printf "     \"slapd_maxsize\": %.0f, \"reconciler_map_size\": %.0f, \"slapd_db_at_1m_persons_bytes\": %.0f, \"reconciler_state_at_1m_persons_bytes\": %.0f,\n", mx, rmx, d * 1024 / n * 1e6, r * 1024 / n * 1e6
        printf "     \"group_modifies\": %d, \"biggest_group\": {\"dn\": \"%s\", \"members\": %d, \"us_per_modify\": %d}, \"small_group\": {\"dn\": \"%s\", \"members\": %d, \"us_per_modify\": %d}}", k, bd, bn, bu, sd, sn, su }')
    GROWTH_TEXT=$(awk -v n="$PERSONS" -v r="$rec_kib" -v d="$db_kib" -v bn="$big_n" -v bd="$big_dn" -v bu="$big_us" \
        -v sn="$small_n" -v sd="$small_dn" -v su="$small_us" -v k="$GROWTH_K" -v mx="${maxsize:-0}" -v rmx=$((4 << 30)) 'BEGIN {
        printf "  growth after the load (a): reconciler state %.1f MiB = %.0f bytes/person (at 1,000,000: %.2f GiB of its %.0f GiB map);\n", r / 1024, r * 1024 / n, r * 1024 / n * 1e6 / 2^30, rmx / 2^30
        printf "    slapd database %.1f MiB = %.0f bytes/person (at 1,000,000: %.2f GiB; maxsize here %.2f GiB, at 1,000,000 persons the benchmark gives %.2f GiB)\n", d / 1024, d * 1024 / n, d * 1024 / n * 1e6 / 2^30, mx / 2^30, 8192e6 / 2^30
        printf "  group modify, synchronous (%d each, add then remove one member): biggest group %d members %d us/modify; class group %d members %d us/modify\n    (%s; %s)\n", k, bn, bu, sn, su, bd, sd }')
    note "$label: growth measured: state ${rec_kib} KiB, slapd db ${db_kib} KiB; group modify ${big_us} us ($big_n members), ${small_us} us ($small_n members)"
}

# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------

# One line per measured scenario, fields separated by "|", in the order of FIELDS.
FIELDS=(name nrec kind ingest reconcile wall join firstev writes searches ing_kib rec_kib rec_all
    br_kib sl_kib events summary ldapsum held redelivered rebal)
RESULTS=()
# record NAME RECONCILERS KIND: the figures of the last run_phase. KIND decides the rate:
# load and night count persons of the authority, again counts records.
record() {
    local name=$1 nrec=$2 kind=$3 rec_max=0 r
    for r in "${PH_REC_KIB[@]}"; do ((r > rec_max)) && rec_max=$r; done
    RESULTS+=("$name|$nrec|$kind|$PH_INGEST_S|$PH_RECONCILE_S|$PH_WALL_S|$PH_JOIN_S|$PH_FIRST_S|$PH_WRITES|$PH_SEARCHES|$PH_INGEST_KIB|$rec_max|${PH_REC_KIB[*]}|$PH_BROKER_KIB|$PH_SLAPD_KIB|$PH_EVENTS|$PH_SUMMARY|$PH_LDAP_SUMMARY|$PH_HELD|$PH_REDELIVERED|$PH_REBALANCED")
}

# result NAME FIELD: one field (by name, see FIELDS) of a scenario's line.
result() {
    local line i
    for ((i = 0; i < ${#FIELDS[@]}; i++)); do
        [[ ${FIELDS[i]} == "$2" ]] && break
    done
    for line in "${RESULTS[@]}"; do
        [[ ${line%%|*} == "$1" ]] && { cut -d'|' -f$((i + 1)) <<<"$line"; return 0; }
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

# The scenarios of one mode, in groups with limit rounds between them.
group_main() {
    if want a; then
        # a, then on the same stack b and b2 (nothing changed leaves the directory as a did)
        # and c (the next night): the load is paid once.
        local st=$WORK/$MODE/a/stack
        start_stack "$st"
        run_phase a "$LOAD" "$st" 1 1 load
        record a 1 load
        A_DIR=$WORK/$MODE/a A_T0_MS=$T_ASSIGN_MS
        growth a "$st"
        if want b; then
            run_phase b "$LOAD" "$st" 1 0 again
            record b 1 again
            run_live_phase b2 "$LOAD" "$st"
            record b2 1 live
        fi
        if want c; then
            run_phase c "$NIGHT" "$st" 1 0 night
            record c 1 night
        fi
        stop_stack "$st"
        return 0
    fi
    if want b; then
        start_stack "$WORK/$MODE/b/stack"
        run_phase b-load "$LOAD" "$WORK/$MODE/b/stack" 1 0 load
        run_phase b "$LOAD" "$WORK/$MODE/b/stack" 1 0 again
        record b 1 again
        run_live_phase b2 "$LOAD" "$WORK/$MODE/b/stack"
        record b2 1 live
        stop_stack "$WORK/$MODE/b/stack"
    fi
    if want c; then
        start_stack "$WORK/$MODE/c/stack"
        run_phase c-load "$LOAD" "$WORK/$MODE/c/stack" 1 0 load
        run_phase c "$NIGHT" "$WORK/$MODE/c/stack" 1 0 night
        record c 1 night
        stop_stack "$WORK/$MODE/c/stack"
    fi
}

group_d() {
    local n
    for n in 1 2 4; do
        if ((n == 1)) && want a; then
            continue # d/1 is scenario a: the same files, one reconciler, a fresh stack
        fi
        start_stack "$WORK/$MODE/d$n/stack"
        run_phase "d$n" "$LOAD" "$WORK/$MODE/d$n/stack" "$n" $((n == 1)) load
        record "d/$n" "$n" load
        ((n != 1)) || A_DIR=$WORK/$MODE/d1 A_T0_MS=$T_ASSIGN_MS
        stop_stack "$WORK/$MODE/d$n/stack"
    done
}

# run_mode MODE: the limit rounds and every asked scenario on stacks of MODE (nosync or
# durable). The first round runs before the scenarios, the last after them, the others
# spread over the gaps between the scenario groups (at the end when there is no gap).
run_mode() {
    MODE=$1
    RESULTS=() RAW_ROUNDS=() A_DIR="" GROWTH="" GROWTH_TEXT=""
    local groups=() j done_mid=0 mid=$((LIMIT_ROUNDS - 2)) want_mid
    if want a || want b || want c; then groups+=(group_main); fi
    if want d; then groups+=(group_d); fi
    ((mid >= 0)) || mid=0
    limit_round before
    for ((j = 0; j < ${#groups[@]}; j++)); do
        "${groups[j]}"
        if ((j + 1 < ${#groups[@]})); then
            want_mid=$((mid * (j + 1) / (${#groups[@]} - 1)))
            [[ ${#groups[@]} -gt 1 ]] || want_mid=0
            while ((done_mid < want_mid)); do
                limit_round between
                done_mid=$((done_mid + 1))
            done
        fi
    done
    while ((done_mid < mid)); do
        limit_round after
        done_mid=$((done_mid + 1))
    done
    ((LIMIT_ROUNDS < 2)) || limit_round after
    limit_summary
}

# ---------------------------------------------------------------------------------------------
# Table, targets, JSON, plot
# ---------------------------------------------------------------------------------------------

COMMIT=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null) ]] || COMMIT+="+changes"
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
DUAL=$(manifest dual)

header() {
    printf 'sisopi authority benchmark: %d persons (%d records: %d listed by two schools) in %d schools, %d files; seed %s\n' \
        "$PERSONS" "$RECORDS" "$DUAL" "$SCHOOLS" "$FILES" "$SEED"
    printf 'build: %s (%s) of %s; machine: %s cores, %s; %s partitions; raw window %s; limit rounds %d per mode\n' \
        "$BUILD" "$BUILD_TYPE" "$COMMIT" "$(nproc)" "$CPU" "${ST_PARTITIONS:-12}" "$RAW_WINDOW" "$LIMIT_ROUNDS"
    printf '%s\n' "one ingest of every file, then the reconcilers: reconcile s from their first partition assignment"
    printf '%s\n' "to their last event; wall s = ingest s + reconcile s (the group join, join s, apart)"
}

# report_mode: the table of the mode just run, the limit's rounds and the targets.
report_mode() {
    local sync="slapd commits not synced (envflags nosync)"
    [[ $MODE != durable ]] || sync="slapd commits synced, as in production"
    printf '\nmode %s: %s; the reconciler'\''s state (LMDB) commits synced in both modes\n' "$MODE" "$sync"
    printf '%-26s %7s %7s %7s %7s %9s %8s %8s %6s %6s | %s\n' "scenario (reconcilers)" persons \
        "ingest" "recon." "wall" persons/s "end2end" "LDAP/s" "vs raw" "join" \
        "peak RSS MiB: ingest reconciler devbroker slapd"
    printf '%-26s %7s %7s %7s %7s %9s %8s %8s %6s %6s |\n' "" "" s s s "(recon.)" "/s" "(recon.)" "" s
    local line name nrec kind ingest recon wall join writes ing_kib rec_kib br_kib sl_kib rebal
    for line in "${RESULTS[@]}"; do
        IFS='|' read -r name nrec kind ingest recon wall join _ writes _ ing_kib rec_kib _ br_kib sl_kib \
            _ _ _ _ _ rebal <<<"$line"
        ((rebal)) && { name+="*"; REBALANCED_ANY=1; }
        awk -v name="$name" -v nrec="$nrec" -v kind="$kind" -v ingest="$ingest" -v recon="$recon" \
            -v wall="$wall" -v join="$join" -v writes="$writes" -v n="$PERSONS" -v rec="$RECORDS" \
            -v add="$RAW_ADD_RATE" -v mod="$RAW_MOD_RATE" -v ik="$ing_kib" -v rk="$rec_kib" \
            -v bk="$br_kib" -v sk="$sl_kib" 'BEGIN {
            label = sprintf("%-4s %s (%d)", name, kind == "load" ? "initial load" : kind == "again" ? "nothing changed" : kind == "live" ? "nothing ch., live" : "a night", nrec)
            units = kind == "again" || kind == "live" ? rec : n
            rate = kind == "live" ? "        -" : sprintf("%9.0f", units / recon)
            ops = kind == "live" ? "       -" : sprintf("%8.0f", writes / recon)
            vs = kind == "load" ? sprintf("%6.2f", units / recon / add) : kind == "night" ? sprintf("%6.2f", writes / recon / mod) : "     -"
            printf "%-26s %7d %7.2f %7.2f %7.2f %s %8.0f %s %s %6.2f | %20.1f %10.1f %9.1f %5.1f\n", label, n, ingest,
                recon, wall, rate, units / wall, ops, vs, join, ik / 1024, rk / 1024, bk / 1024, sk / 1024
        }'
    done
    local kind label
    for kind in ADD:"raw async add" MOD:"raw async modify" REN:"raw async rename (move)" GRP:"raw async group modify" SLAPADD:"slapadd -q (offline)"; do
        label=${kind#*:} kind=${kind%%:*}
        local rs=RAW_${kind}_S rr=RAW_${kind}_RATE rm=RAW_${kind}_MIN rv=RAW_${kind}_MOVED
        awk -v label="$label" -v kind="$kind" -v n="$PERSONS" -v sample="$LIMIT_SAMPLE" -v s="${!rs}" -v r="${!rr}" -v lo="${!rm}" \
            -v mv="${!rv}" -v a="$RAW_ADD_RATE" -v k="$RAW_SLAPD_KIB" 'BEGIN {
            ops = kind == "REN" || kind == "GRP" ? 2 * sample : n
            vs = kind == "SLAPADD" ? r / a : 1
            printf "%-26s %7d %7s %7.2f %7s %9.0f %8s %8s %6.2f %6s |", label, ops, "-", s, "-", r, "-", kind == "SLAPADD" ? "-" : sprintf("%.0f", r), vs, "-"
            if (kind == "ADD") printf " %47.1f", k / 1024
            printf "   best of rounds; lowest %d, moved by %.1f %%\n", lo, mv }'
    done
    printf 'the limit'\''s rounds (%s): ' "$MODE"
    local r
    for r in "${RAW_ROUNDS[@]}"; do
        awk '{ printf "#%d %s: adds %d, modifies %d, renames %d, group modifies %d, slapadd %d /s; ", $1, $2, $4, $6, $8, $10, $12 }' <<<"$r"
    done
    printf '\n'
    awk -v a="$RAW_ADD_MOVED" -v m="$RAW_MOD_MOVED" -v r="$RAW_REN_MOVED" -v g="$RAW_GRP_MOVED" 'BEGIN {
        printf "the limit moved during the run by: adds %.1f %%, modifies %.1f %%, renames %.1f %%, group modifies %.1f %%; every ratio is against the best round\n", a, m, r, g }'
    printf '%s\n' "persons/s (recon.): persons of the authority / reconcile s (nothing changed: records); end2end/s: the same"
    printf '%s\n' "/ wall s; LDAP/s: directory writes (adds, modifies incl. groups, renames, deletes, username counters)"
    printf '%s\n' "/ reconcile s; vs raw: persons/s / best raw add rate (initial load), LDAP/s / best raw modify rate (night);"
    printf '%s\n' "slapadd: entries/s / raw add rate; raw renames and group modifies: 2 operations for each of the first $LIMIT_SAMPLE persons;"
    printf '%s\n' "b2 (live): the reconciler running before the ingest starts; wall = ingest start to its last event, recon. = the part after the ingest"
    ((!REBALANCED_ANY)) || printf '%s\n' "*: the consumer group rebalanced during the load: the figures include the partitions' rebuild and the messages delivered again (JSON: redelivered)"
    targets
}

# summary_value TEXT KEY: KEY=n in a summary line.
summary_value() { sed -n "s/.*\\b$2=\\([0-9]*\\).*/\\1/p" <<<"$1"; }

targets() {
    printf '\ntargets (%s; measured, not judged here):\n' "$MODE"
    local recon wall writes b line r rec=0
    if recon=$(result a reconcile); then
        awk -v n="$PERSONS" -v t="$recon" -v w="$(result a wall)" -v r="$RAW_ADD_RATE" 'BEGIN {
            printf "  initial load (a): the reconciler %.0f persons/s = %.0f %% of the raw async add rate (target: at least 60 %%); end to end %.0f persons/s\n", n / t, 100 * n / t / r, n / w }'
    fi
    if wall=$(result b wall); then
        awk -v n="$RECORDS" -v w="$wall" -v i="$(result b ingest)" -v t="$(result b reconcile)" 'BEGIN {
            printf "  nothing changed (b): %.0f records/s end to end (target: at least 100,000): ingest %.2f s, then the reconciler alone %.2f s (%.0f records/s)\n", n / w, i, t, n / t }'
    fi
    if wall=$(result b2 wall); then
        awk -v n="$RECORDS" -v w="$wall" -v i="$(result b2 ingest)" -v t="$(result b2 reconcile)" 'BEGIN {
            printf "  nothing changed, reconciler already running (b2): %.0f records/s end to end: ingest %.2f s, the reconciler finished %.2f s after it\n", n / w, i, t }'
    fi
    if wall=$(result c wall); then
        local ls adds moves mods gmods other
        writes=$(result c writes)
        ls=$(result c ldapsum)
        adds=$(summary_value "$ls" adds) moves=$(summary_value "$ls" moves)
        mods=$(summary_value "$ls" modifies) gmods=$(summary_value "$ls" group_modifies)
        # Whatever the metrics count beyond the summary's kinds (username counters, class groups
        # created, deletes) is costed as an entry modify.
        other=$((writes - adds - moves - mods - gmods))
        ((other >= 0)) || other=0
        if b=$(result b wall); then
            awk -v w="$wall" -v ops="$writes" -v ad="$adds" -v mv="$moves" -v md="$mods" -v gm="$gmods" -v ot="$other" \
                -v ra="$RAW_ADD_RATE" -v rr="$RAW_REN_RATE" -v rm="$RAW_MOD_RATE" -v rg="$RAW_GRP_RATE" -v b="$b" 'BEGIN {
                ta = ad / ra; tm = mv / rr; td = md / rm; tg = gm / rg; to = ot / rm
                bound = ta + tm + td + tg + to + b
                printf "  a night (c): bound = %d adds / %.0f/s (%.2f s) + %d moves / %.0f renames/s (%.2f s) + %d modifies / %.0f/s (%.2f s)\n", ad, ra, ta, mv, rr, tm, md, rm, td
                printf "    + %d group modifies / %.0f/s (%.2f s) + %d other writes / %.0f modifies/s (%.2f s) + %.2f s nothing changed (b)\n", gm, rg, tg, ot, rm, to, b
                printf "    = %.2f s (%d LDAP writes); c took %.2f s = %.2f x the bound (target: within 2x)\n", bound, ops, w, w / bound }'
        else
            printf '  a night (c): took %s s with %s LDAP writes; the bound needs scenario b\n' "$wall" "$writes"
        fi
    fi
    for line in "${RESULTS[@]}"; do
        r=$(cut -d'|' -f12 <<<"$line")
        ((r > rec)) && rec=$r
    done
    awk -v k="$rec" -v n="$PERSONS" 'BEGIN { printf "  reconciler peak RSS: %.1f MiB at most, over all scenarios, at %d persons (target: below 200 MB = %.1f MiB)\n", k / 1024, n, 200e6 / 1048576 }'
    [[ -z $GROWTH_TEXT ]] || printf '%s\n' "$GROWTH_TEXT"
}

# json_mode: the mode's object in the JSON's "modes".
json_mode() {
    local line first=1 r
    printf '    {"mode": "%s", "slapd_synced": %s, "reconciler_state_synced": true,\n' "$MODE" \
        "$([[ $MODE == durable ]] && echo true || echo false)"
    printf '     "limit": {"window": %d, "rounds": [' "$RAW_WINDOW"
    for r in "${RAW_ROUNDS[@]}"; do
        ((first)) || printf ','
        first=0
        awk '{ printf "\n       {\"round\": %d, \"when\": \"%s\", \"raw_add_s\": %s, \"raw_adds_per_s\": %s, \"raw_modify_s\": %s, \"raw_modifies_per_s\": %s, \"raw_rename_s\": %s, \"raw_renames_per_s\": %s, \"raw_group_modify_s\": %s, \"raw_group_modifies_per_s\": %s, \"slapadd_s\": %s, \"slapadd_entries_per_s\": %s, \"raw_slapd_peak_kib\": %s}", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }' <<<"$r"
    done
    printf '],\n'
    local kind key
    for kind in ADD:adds MOD:modifies REN:renames GRP:group_modifies SLAPADD:slapadd_entries; do
        key=${kind#*:} kind=${kind%%:*}
        local rr=RAW_${kind}_RATE rm=RAW_${kind}_MIN rv=RAW_${kind}_MOVED
        printf '       "%s_per_s_best": %s, "%s_per_s_lowest": %s, "%s_moved_pct": %s,\n' "$key" "${!rr}" "$key" "${!rm}" "$key" "${!rv}"
    done
    printf '       "raw_slapd_peak_kib": %s},\n' "$RAW_SLAPD_KIB"
    [[ -z $GROWTH ]] || printf '     "growth": %s,\n' "$GROWTH"
    printf '     "scenarios": [\n'
    first=1
    local name nrec kind ingest recon wall join firstev writes searches ing_kib rec_kib rec_all br_kib
    local sl_kib events summary ldapsum held redelivered rebal
    for line in "${RESULTS[@]}"; do
        IFS='|' read -r name nrec kind ingest recon wall join firstev writes searches ing_kib rec_kib rec_all \
            br_kib sl_kib events summary ldapsum held redelivered rebal <<<"$line"
        ((first)) || printf ',\n'
        first=0
        awk -v name="$name" -v nrec="$nrec" -v kind="$kind" -v ingest="$ingest" -v recon="$recon" -v wall="$wall" \
            -v join="$join" -v firstev="$firstev" -v writes="$writes" -v searches="$searches" -v ik="$ing_kib" \
            -v rk="$rec_kib" -v rall="$rec_all" -v bk="$br_kib" -v sk="$sl_kib" -v events="$events" \
            -v summary="$summary" -v ldapsum="$ldapsum" -v held="$held" -v redelivered="$redelivered" \
            -v rebal="$rebal" -v n="$PERSONS" -v rec="$RECORDS" -v add="$RAW_ADD_RATE" -v mod="$RAW_MOD_RATE" 'BEGIN {
            units = kind == "again" || kind == "live" ? rec : n
            vs = kind == "load" ? sprintf("%.3f", units / recon / add) : kind == "night" ? sprintf("%.3f", writes / recon / mod) : "null"
            gsub(/ +$/, "", rall); gsub(/ +/, ", ", rall); gsub(/ +$/, "", held); gsub(/ +/, ", ", held)
            printf "      {\"name\": \"%s\", \"kind\": \"%s\", \"reconcilers\": %d, \"persons\": %d, \"records\": %d,\n", name, kind, nrec, n, rec
            printf "       \"ingest_s\": %s, \"reconcile_s\": %s, \"wall_s\": %s, \"join_s\": %s, \"first_event_s\": %s, \"events\": %d,\n", ingest, recon, wall, join, firstev, events
            printf "       \"persons_per_s\": %.1f, \"records_per_s\": %.1f, \"end_to_end_per_s\": %.1f, \"ldap_writes\": %d, \"ldap_searches\": %d, \"ldap_writes_per_s\": %.1f, \"vs_raw\": %s,\n", n / recon, rec / recon, units / wall, writes, searches, writes / recon, vs
            printf "       \"peak_rss_kib\": {\"ingest\": %d, \"reconciler_max\": %d, \"reconcilers\": [%s], \"devbroker\": %d, \"slapd\": %d},\n", ik, rk, rall, bk, sk
            printf "       \"partitions_held\": [%s], \"rebalanced_during_load\": %s, \"redelivered\": %d,\n", held, rebal ? "true" : "false", redelivered
            printf "       \"summary\": \"%s\", \"ldap_summary\": \"%s\"}", summary, ldapsum
        }'
    done
    printf '\n     ],\n     "work_dir": "%s"}' "$WORK/$MODE"
}

# plot_mode FILE: scenario a's (or d/1's) throughput and busy shares of the mode.
plot_mode() {
    local out=$1
    [[ -n ${A_DIR:-} && -s $A_DIR/samples.txt ]] || return 0
    # Records applied per second, batch by batch: a batch writes its events in one burst
    # (a few ms) after its LDAP writes, so the bursts of person events (keys are record_uids,
    # not import_ids) in CreateTime give each batch's size and end; its rate is its size over
    # the time since the previous batch ended (the first: since the partitions were
    # assigned). A burst less than 200 ms after the previous one is counted with it: a
    # batch's events can come in two pieces, and a piece alone would make a spike.
    awk -v t0="$A_T0_MS" 'BEGIN { print "0 0" } $2 ~ /^SDB/ {
            if (n && $1 - last > 20 && last - prev >= 200) { printf "%.3f %.1f\n", (last - t0) / 1000, n * 1000 / (last - prev); prev = last; n = 0 }
            if (!prev) prev = t0
            n++; last = $1 }
         END { if (n) printf "%.3f %.1f\n", (last - t0) / 1000, n * 1000 / (last - prev) }' \
        "$A_DIR/events.txt" >"$A_DIR/rates-records.txt"
    # LDAP writes per second from the /metrics samples: the reconciler refreshes its figures
    # at most once a second, between batches, so a rate is taken only between two samples
    # that saw the counters change (a fixed window would alias to zero and double).
    awk -v t0="$A_T0_MS" '{ $1 = ($1 - t0) / 1000 } $1 >= 0 && (!seen || $4 != w) {
            if (seen && $1 > t) printf "%.2f %.1f\n", $1, ($4 - w) / ($1 - t)
            seen = 1; t = $1; w = $4 }' "$A_DIR/samples.txt" >"$A_DIR/rates-metrics.txt"
    # Busy share: CPU seconds per wall second of slapd, the reconciler and the devbroker
    # between consecutive samples (1 = one core busy the whole time).
    awk -v t0="$A_T0_MS" -v hz="$(getconf CLK_TCK)" '{ t = ($1 - t0) / 1000 }
            NR > 1 && t > pt { printf "%.2f %.3f %.3f %.3f\n", t, ($7 - s) / hz / (t - pt), ($8 - r) / hz / (t - pt), ($9 - b) / hz / (t - pt) }
            { pt = t; s = $7; r = $8; b = $9 }' "$A_DIR/samples.txt" >"$A_DIR/busy.txt"
    local xmax
    xmax=$(awk '{ m = $1 } END { printf "%.1f", (m > 1 ? m : 1) }' "$A_DIR/busy.txt")
    gnuplot -e "records='$A_DIR/rates-records.txt'; metrics='$A_DIR/rates-metrics.txt'; busy='$A_DIR/busy.txt'; xmax=$xmax; outfile='$out'; rawadd=$RAW_ADD_RATE; subtitle='$PERSONS persons, $SCHOOLS schools, $MODE, $COMMIT'" \
        "$SRC/tests/bench/plot_throughput.gp" >"$WORK/log/gnuplot-$MODE.log" 2>&1 ||
        die "gnuplot failed:"$'\n'"$(cat "$WORK/log/gnuplot-$MODE.log")"
    PLOTS+=("$out")
    # The samples beside the JSON, so they outlive the work directory.
    cp "$A_DIR/samples.txt" "${JSON%.json}-samples-$MODE.txt"
    cp "$A_DIR/busy.txt" "${JSON%.json}-busy-$MODE.txt"
}

REBALANCED_ANY=0
PLOTS=()
first_mode=1
for m in ${MODES//,/ }; do
    run_mode "$m"
    mkdir -p "$(dirname "$JSON")"
    report_mode >"$WORK/report-$m.txt"
    json_mode >"$WORK/json-$m.txt"
    if ((first_mode)); then
        plot_mode "$PLOT"
    else
        plot_mode "${PLOT%.png}-$m.png"
    fi
    first_mode=0
done
TOOK_S=$(awk -v us=$(($(now_us) - T_START)) 'BEGIN { printf "%.0f", us / 1e6 }')

header
for m in ${MODES//,/ }; do cat "$WORK/report-$m.txt"; done
printf 'whole run: %s s\n' "$TOOK_S"
mkdir -p "$(dirname "$JSON")" "$(dirname "$PLOT")"
{
    printf '{\n  "benchmark": "bench_authority",\n  "commit": "%s",\n  "build": "%s",\n  "build_type": "%s",\n' \
        "$COMMIT" "$BUILD" "$BUILD_TYPE"
    printf '  "machine": {"cores": %d, "cpu": "%s"},\n' "$(nproc)" "${CPU//\"/}"
    printf '  "persons": %d, "schools": %d, "seed": %s, "records": %d, "dual": %d, "files": %d, "partitions": %d, "limit_rounds": %d, "limit_sample": %d, "limit_groups": %d,\n' \
        "$PERSONS" "$SCHOOLS" "$SEED" "$RECORDS" "$DUAL" "$FILES" "${ST_PARTITIONS:-12}" "$LIMIT_ROUNDS" "$LIMIT_SAMPLE" "$RAW_GROUPS"
    printf '  "modes": [\n'
    first_mode=1
    for m in ${MODES//,/ }; do
        ((first_mode)) || printf ',\n'
        first_mode=0
        cat "$WORK/json-$m.txt"
    done
    printf '\n  ],\n  "took_s": %s\n}\n' "$TOOK_S"
} >"$JSON"
note "JSON: $JSON"
for m in "${PLOTS[@]}"; do note "plot: $m"; done
