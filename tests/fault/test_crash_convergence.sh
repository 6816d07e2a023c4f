#!/usr/bin/env bash
# Crash convergence: a sequence of imports (creations, persons spanning schools, school
# changes both ways, limbo, returns out of limbo, purges after a short grace period, a purged
# person listed again) runs twice against a real slapd and the devbroker, each time with
# several reconcilers in one consumer group (2 or 3, each with its own LMDB state dir and log):
# once without faults (the reference), once while SIGKILL hits the ingest (mid-publish; the
# same file is then imported again, with a new import_id), the reconcilers (a member at a
# random moment, in the middle of a wave of LDAP writes, while it joins the group, right after
# a rebalance, or all members at once; each started again at once or after a short delay, so
# that the others take its partitions over first) and the scheduler (around the purge dates).
# Checked:
#   - between the steps, and sampled during them: nobody who should be active is in limbo,
#     nobody who should exist is gone (the limbo OU and the persons, by ldapsearch);
#   - every MovedToLimbo, SchoolRemoved and Deleted on sisopi.events is one the sequence calls
#     for (repeats from re-delivery allowed, wrong ones not), and every one it calls for is
#     there at least once, in both runs;
#   - at the end of each run, the directory against the rules themselves: a model computed
#     from the exports alone (data/sisopi_model.awk) says who exists, who is in limbo, each
#     person's schools, primary school and classes; dir_rules_check (fault_lib.sh) checks the
#     entries and every managed group against it, person by person;
#   - at the end of each run, sisopi-audit verify finds no drift;
#   - at the end, the directory of the faulty run equals the reference's, every entry and
#     every attribute value, groups included, after normalising only what legitimately
#     differs between two runs (see dir_normalise in fault_lib.sh and tests/fault/README.md).
# SISOPI_FAULT_SEED=N replays a run's kill plan (the seed is printed; default: the clock);
# SISOPI_FAULT_RECONCILERS=N runs N members (1-3; default drawn from the seed: 2 in 7 runs of
# 10, 3 in 3); SISOPI_FAULT_SERVICES="ingest scheduler" kills only those (default all three).
# SISOPI_FAULT_STUDENTS (per school, default 400) and SISOPI_FAULT_TEACHERS (per school of
# two, default 60) size the data set.
# shellcheck source=tests/fault/fault_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

B_=$SISOPI_BUILD/services
INJECT=$SISOPI_BUILD/tests/users_inject
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
[[ -x $INJECT ]] || fail "$INJECT is not built"
command -v jq >/dev/null || fail "jq is needed"

SEED=${SISOPI_FAULT_SEED:-$(date +%s)}
[[ $SEED =~ ^[0-9]+$ ]] || fail "SISOPI_FAULT_SEED must be a number: $SEED"
rng_seed "$SEED"
# The number of members: the seed's first draw (always drawn, so that the kill plans of a
# seed stay the same whatever SISOPI_FAULT_RECONCILERS says).
rng 10
NMEM=$((RNG < 7 ? 2 : 3))
if [[ -n ${SISOPI_FAULT_RECONCILERS:-} ]]; then
    [[ $SISOPI_FAULT_RECONCILERS =~ ^[1-3]$ ]] || fail "SISOPI_FAULT_RECONCILERS must be 1, 2 or 3"
    NMEM=$SISOPI_FAULT_RECONCILERS
fi
MEMBERS=()
for ((i = 1; i <= NMEM; i++)); do MEMBERS+=("reconciler$i"); done
NS=${SISOPI_FAULT_STUDENTS:-400}
NT=${SISOPI_FAULT_TEACHERS:-60}
[[ $NS =~ ^[0-9]+$ && $NT =~ ^[0-9]+$ ]] || fail "SISOPI_FAULT_STUDENTS and SISOPI_FAULT_TEACHERS must be numbers"
SCHOOLS=(SchA SchB SchC SchD)
PHASES=(1 2 3 4 5 P 6) # P: the purge phase (the scheduler runs only there, see below)
GRACE=20               # seconds in limbo before the purge
# Kill budget (bounded): at most this many kills of each service in the faulty run (a
# reconciler kill is one process: "all members at once" counts each), and only of the
# services SISOPI_FAULT_SERVICES names (default all three; for bisecting a failure).
SERVICES=" ${SISOPI_FAULT_SERVICES:-ingest reconciler scheduler} "
MAX_INGEST_KILLS=$([[ $SERVICES == *" ingest "* ]] && echo 10 || echo 0)
MAX_RECONCILER_KILLS=$([[ $SERVICES == *" reconciler "* ]] && echo 16 || echo 0)
MAX_SCHEDULER_KILLS=$([[ $SERVICES == *" scheduler "* ]] && echo 4 || echo 0)
PHASE_LIMIT=150 # seconds a phase may take before the test gives up (a hang, not a figure)
printf '%s: seed %s, %d reconcilers (replay: SISOPI_FAULT_SEED=%s), killing:%s\n' \
    "$TEST_NAME" "$SEED" "$NMEM" "$SEED" "$SERVICES"

W=$(mktemp -d "${TMPDIR:-/tmp}/sisopi-$TEST_NAME.XXXXXX")
PASSED=0
at_exit() {
    svc_stop_all
    stop_stack
    if ((PASSED)) && [[ ${KEEP_STACK:-0} != 1 ]]; then
        rm -rf "$W"
    else
        printf '%s: work directory kept: %s\n' "$TEST_NAME" "$W" >&2
    fi
}
LIB_AT_EXIT+=(at_exit)
trap _lib_on_exit EXIT

# ---------------------------------------------------------------------------------------------
step "the data set and what each step must do"
DATA=$W/data
EXP=$W/expect
mkdir -p "$DATA" "$EXP/model"
AWK=$SISOPI_SRC/tests/fault/data/crash_sequence.awk
MODEL_AWK=$SISOPI_SRC/tests/fault/data/sisopi_model.awk
files_of() { # STEP: the exports a step imports, as SCHOOL:ROLE, in import order
    local s
    for s in "${SCHOOLS[@]}"; do printf '%s:student\n' "$s"; done
    printf '%s\n' SchA:teacher SchB:teacher
}
rids() { tail -q -n +2 "$@" | cut -d, -f1 | LC_ALL=C sort -u; }
: >"$EXP/allowed"
for k in 1 2 3 4 5 6; do
    mkdir -p "$DATA/$k"
    while IFS=: read -r school role; do
        awk -v NS="$NS" -v NT="$NT" -v STEP="$k" -v SCHOOL="$school" -v ROLE="$role" -f "$AWK" \
            >"$DATA/$k/$school-$role.csv" || fail "crash_sequence.awk failed"
    done < <(files_of "$k")
    rids "$DATA/$k"/*.csv >"$EXP/listed.$k"
done
# After each phase: who exists, who is in limbo; the removal events each import may cause.
: >"$EXP/exists.0"
: >"$EXP/limbo.0"
for ph in "${PHASES[@]}"; do
    if [[ $ph == P ]]; then
        cp "$EXP/limbo.5" "$EXP/purged"
        LC_ALL=C comm -23 "$EXP/exists.5" "$EXP/purged" >"$EXP/exists.P"
        : >"$EXP/limbo.P"
        continue
    fi
    prev=$( ((ph == 6)) && echo P || echo $((ph - 1)))
    LC_ALL=C sort -u "$EXP/exists.$prev" "$EXP/listed.$ph" >"$EXP/exists.$ph"
    LC_ALL=C comm -23 "$EXP/exists.$ph" "$EXP/listed.$ph" >"$EXP/limbo.$ph"
    ((ph == 1)) && continue
    while IFS=: read -r school role; do
        LC_ALL=C comm -23 <(rids "$DATA/$((ph - 1))/$school-$role.csv") \
            <(rids "$DATA/$ph/$school-$role.csv") >"$EXP/dropped"
        # Still listed by another school: loses this one; listed nowhere: limbo.
        LC_ALL=C comm -12 "$EXP/dropped" "$EXP/listed.$ph" |
            awk -v p="$ph" -v s="$school" -v r="$role" '{ print p "\t" s "\t" r "\tSchoolRemoved\t" $0 }'
        LC_ALL=C comm -23 "$EXP/dropped" "$EXP/listed.$ph" |
            awk -v p="$ph" -v s="$school" -v r="$role" '{ print p "\t" s "\t" r "\tMovedToLimbo\t" $0 }'
    done < <(files_of "$ph")
done >>"$EXP/allowed"
# The model: the rules applied to the exports in import order (each file one import of one
# school and role, in the order files_of lists them; the purge between steps 5 and 6), from
# the files alone. It says what each person must be at the end (checked against the
# directory by dir_rules_check) and which removals the sequence calls for. The lists above
# are a second derivation of who exists and who is in limbo: the two must agree, or the
# test's expectations are wrong.
for ph in "${PHASES[@]}"; do
    if [[ $ph == P ]]; then
        printf 'purge\tP\n'
    else
        while IFS=: read -r school role; do
            printf 'import\t%s\t%s\t%s\t%s\n' "$ph" "$school" "$role" "$DATA/$ph/$school-$role.csv"
        done < <(files_of "$ph")
    fi
    printf 'end\t%s\n' "$ph"
done >"$EXP/model/plan"
LC_ALL=C awk -v OUT="$EXP/model" -v LIMBO=limbo -f "$MODEL_AWK" "$EXP/model/plan" ||
    fail "sisopi_model.awk failed"
for ph in "${PHASES[@]}"; do
    for what in exists limbo; do
        LC_ALL=C sort -o "$EXP/model/$what.$ph" "$EXP/model/$what.$ph"
        cmp -s "$EXP/$what.$ph" "$EXP/model/$what.$ph" ||
            fail "the model and the step lists disagree about who is in $what after phase $ph"
    done
done
LC_ALL=C sort -o "$EXP/model/events" "$EXP/model/events"
LC_ALL=C sort -o "$EXP/model/state" "$EXP/model/state"
LC_ALL=C sort -u "$EXP/allowed" <(sed 's/^/P\t-\t-\tDeleted\t/' "$EXP/purged") |
    cmp -s - "$EXP/model/events" || fail "the model and the step lists disagree about the removal events"
n_persons=$(LC_ALL=C sort -u "$EXP"/listed.* | wc -l)
printf '  %d persons (%d students in 4 schools, %d teachers in 2), 6 steps of 6 exports and a purge\n' \
    "$n_persons" $((4 * NS)) $((2 * NT))
printf '  expected: %d MovedToLimbo, %d SchoolRemoved, %d purged, %d in limbo at the end\n' \
    "$(grep -c MovedToLimbo "$EXP/allowed")" "$(grep -c SchoolRemoved "$EXP/allowed")" \
    "$(wc -l <"$EXP/purged")" "$(wc -l <"$EXP/limbo.6")"
printf '  at the end: %d persons, %d of them in more than one school, %d in limbo (the model)\n' \
    "$(wc -l <"$EXP/model/state")" "$(awk -F'\t' '$5 ~ / /' "$EXP/model/state" | wc -l)" \
    "$(awk -F'\t' '$3 == "L"' "$EXP/model/state" | wc -l)"
# The persons out of limbo again (A-first school change) who get a stale PurgeDue anyway.
LC_ALL=C comm -12 "$EXP/limbo.3" "$EXP/listed.4" | awk 'NR <= 20' >"$EXP/stale_purge"
[[ -s $EXP/stale_purge && -s $EXP/purged && -s $EXP/limbo.6 ]] || fail "the data set is too small"

# ---------------------------------------------------------------------------------------------
# One run of the whole sequence. MODE ref: no faults, each phase's duration is measured; MODE
# fault: kills planned with the seed, at moments spread over the reference's durations.
declare -A DUR=() INGEST_DUR=()
declare -A LAND=()  # how the kills landed: figures for the report
declare -A KINDS=() # the reconciler kills carried out, by kind
declare -A PENDING=() # a killed member -> when (now_ms) it is started again
LIMBO_OU=limbo
RUN=""
MODE=""
CFG=""
BASE=""

bump() { LAND[$1]=$((${LAND[$1]:-0} + 1)); }

make_cfg() {
    # A short grace period; a guard that lets the sequence's removals through; a session
    # timeout shorter than the stack's 6 s (3 s works against the mock cluster, 2 s does
    # not), so that a reconciler killed with SIGKILL hands its partitions to the others in
    # about 5 s instead of 8-12.
    sed -e "s/deletion_grace_period = \"90d\";/deletion_grace_period = \"${GRACE}s\";\n  deletion_guard: { max_ratio = 1.0; max_count = 1000000; };/" \
        -e 's/"session.timeout.ms", "6000"/"session.timeout.ms", "3000"/' \
        -e 's/"heartbeat.interval.ms", "500"/"heartbeat.interval.ms", "300"/' \
        "$STACK_DIR/sisopi.cfg" >"$RUN/sisopi.cfg"
    CFG=$RUN/sisopi.cfg
    if ! grep -q "\"${GRACE}s\"" "$CFG" || ! grep -q '"3000"' "$CFG" ||
        ! grep -q "^ *limbo_ou = \"$LIMBO_OU\";" "$CFG"; then
        fail "could not write the test config"
    fi
    # Each member: the same group, its own state dir, debug log level (the wave_start lines
    # the busy kills wait for). The metrics listener is given on the command line (port 0).
    local i m
    for ((i = 1; i <= NMEM; i++)); do
        m=reconciler$i
        mkdir -p "$RUN/state$i"
        sed -e "s|^\\( *state_dir = \\).*;|\\1\"$RUN/state$i\";|" \
            -e 's/^\( *log_level = \)"info";/\1"debug";/' "$CFG" >"$RUN/$m.cfg"
        if ! grep -q "^ *state_dir = \"$RUN/state$i\";" "$RUN/$m.cfg" ||
            ! grep -q '^ *log_level = "debug";' "$RUN/$m.cfg"; then
            fail "could not write the config of $m"
        fi
    done
}

start_member() { # MEMBER
    unset "PENDING[$1]"
    svc_start "$1" "$RUN/$1.cfg" "$RUN" --metrics 127.0.0.1:0
}

# restarts_due: the killed members whose time to start again has come are started.
restarts_due() {
    local m t
    t=$(now_ms)
    for m in "${MEMBERS[@]}"; do
        [[ -n ${PENDING[$m]:-} ]] && ((t >= PENDING[$m])) && start_member "$m"
    done
    return 0
}

restart_all_now() {
    local m
    for m in "${MEMBERS[@]}"; do
        [[ -n ${PENDING[$m]:-} ]] && start_member "$m"
    done
    return 0
}

schedule_restart() { # MEMBER DELAY_MS
    if (($2 == 0)); then
        start_member "$1"
    else
        PENDING[$1]=$(($(now_ms) + $2))
    fi
}

# pause_ms MS: sleeps MS milliseconds in steps of at most 50 ms, starting the members whose
# time has come meanwhile.
pause_ms() {
    local end=$(($(now_ms) + $1)) i left
    for ((i = 0; i < 200; i++)); do
        restarts_due
        left=$((end - $(now_ms)))
        ((left > 0)) || return 0
        sleep "$(ms_to_s $((left < 50 ? left : 50)))"
    done
}

imports_json() { "$B_/sisopi-audit" -c "$CFG" imports --json 2>/dev/null; }

# ingest_file PHASE SCHOOL ROLE: imports one export. In the faulty run, if the plan says so,
# the ingest is killed first at its planned moment and the file is then imported again (a new
# import_id); what the killed one left on the topic is classified for the figures. Every
# import_id the topic shows for the export is mapped to PHASE SCHOOL ROLE.
ingest_file() {
    local ph=$1 school=$2 role=$3 f=$DATA/$1/$2-$3.csv key="$1/$2/$3" t0 iid
    local plan=${INGEST_PLAN[$school:$role]:-}
    if [[ -n $plan ]] && ((${KILLS[ingest]:-0} < MAX_INGEST_KILLS)); then
        kill_ingest "$ph" "$school" "$role" "$((plan * ${INGEST_DUR[$key]} / 1000))" && return 0
    fi
    if [[ $MODE == ref ]]; then
        t0=$(now_ms)
        run "$B_/sisopi-ingest" -c "$CFG" -q --school "$school" --role "$role" "$f"
        INGEST_DUR[$key]=$(($(now_ms) - t0))
    else
        # In the background: the kills due meanwhile happen while it publishes (a busy kill
        # waits for the waves this import makes). Bounded: it fails after about 60 s.
        local pid i
        "$B_/sisopi-ingest" -c "$CFG" -q --school "$school" --role "$role" "$f" >"$RUN/ingest.out" 2>&1 &
        pid=$!
        for ((i = 0; i < 3000; i++)); do
            proc_alive "$pid" || break
            tick
            sleep 0.02
        done
        if proc_alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        RC=0
        wait "$pid" 2>/dev/null || RC=$?
        OUT=$(cat "$RUN/ingest.out")
        cat "$RUN/ingest.out" >>"$RUN/ingest.log"
    fi
    ((RC == 0)) || fail "ingest $key failed ($RC): $OUT"
    iid=$(sed -n 's/^import_id: *//p' <<<"$OUT")
    [[ -n $iid ]] || fail "ingest $key printed no import_id: $OUT"
    printf '%s\t%s\t%s\t%s\n' "$iid" "$ph" "$school" "$role" >>"$RUN/imports.map"
    IMPORTS_OF_PHASE+=("$iid")
}

# kill_ingest PHASE SCHOOL ROLE DELAY_MS: an ingest killed DELAY_MS after its start. True if it
# finished before (then it was a normal import).
kill_ingest() {
    local ph=$1 school=$2 role=$3 delay=$4 f=$DATA/$1/$2-$3.csv pid rc=0 before new iid
    before=$(imports_json | jq -r .import_id | jq -R . | jq -s .)
    "$B_/sisopi-ingest" -c "$CFG" -q --school "$school" --role "$role" "$f" >"$RUN/ingest.out" 2>&1 &
    pid=$!
    sleep "$(ms_to_s "$delay")"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || rc=$?
    cat "$RUN/ingest.out" >>"$RUN/ingest.log"
    if ((rc == 0)); then
        bump ingest_too_late
        iid=$(sed -n 's/^import_id: *//p' "$RUN/ingest.out")
        [[ -n $iid ]] || fail "ingest $ph/$school/$role printed no import_id"
        printf '%s\t%s\t%s\t%s\n' "$iid" "$ph" "$school" "$role" >>"$RUN/imports.map"
        IMPORTS_OF_PHASE+=("$iid")
        return 0
    fi
    ((rc == 137)) || fail "ingest $ph/$school/$role: exit $rc before the kill"$'\n'"$(tail -n 5 "$RUN/ingest.out")"
    KILLS[ingest]=$((${KILLS[ingest]:-0} + 1))
    # What the killed ingest left on the topic (once the broker has what was in flight).
    sleep 0.3
    new=$(imports_json | jq -c --argjson old "$before" 'select(.import_id as $i | $old | index($i) | not)')
    local pub=0 mk=0
    if [[ -z $new ]]; then
        bump ingest_nothing_published
    else
        pub=$(jq -s 'map(.published) | add' <<<"$new")
        mk=$(jq -s 'map(.markers) | add' <<<"$new")
        if ((mk >= 12)); then
            bump ingest_after_all_markers # all published, killed before it printed the import_id
        elif ((mk > 0)); then
            bump ingest_during_markers
        elif ((pub < $(tail -n +2 "$f" | wc -l))); then
            bump ingest_mid_records
        else
            bump ingest_before_markers
        fi
        jq -r --arg p "$ph" --arg s "$school" --arg r "$role" '[.import_id, $p, $s, $r] | @tsv' \
            <<<"$new" >>"$RUN/imports.map"
    fi
    printf '  ingest %s/%s/%s killed after %d ms: %s of %d records and %s of 12 end markers on the topic\n' \
        "$ph" "$school" "$role" "$delay" "$pub" "$(($(wc -l <"$f") - 1))" "$mk"
    return 1
}

# The kills of the current phase, drawn from the seed when the phase starts, always the same
# numbers of draws (so a seed replays the same decisions, whatever happened before):
#   INGEST_PLAN[SCHOOL:ROLE] = the moment of the kill in thousandths of the reference's
#     duration of that ingest, for 3 in 10 exports: 500..949, because the first ~60 % of an
#     ingest's run here are its start and the validation pass (measured with 700 students a
#     school: killed at 35 ms of ~50, 264 of 980 records were out; at 40 ms 885; at 45 ms all
#     and the 12 end markers);
#   PLAN = "AT_MS SERVICE KIND TARGET FRACTION DELAY_MS" lines for tick: 0-3 reconciler kills
#     (1, 4, 3 and 2 times in 10), each of a member (TARGET modulo the number of members) and
#     of a KIND: "any" (4 in 20: at a moment of the reference's duration of the phase),
#     "busy" (6 in 20: armed in the phase's first 40 %, then during that member's next wave of
#     LDAP writes, at FRACTION of the wave's writing time), "joining" (3 in 20: at FRACTION of
#     the member's first 3 s after a (re)start), "rebalance" (4 in 20: right after another
#     member logs a rebalance; armed just after the phase's previous kill, which causes
#     rebalances, else in the first 40 %) or "all" (3 in 20: every member at once); the killed
#     member is started again at once, or DELAY_MS (0.5-4 s, 4 times in 10) later, so that the
#     others take its partitions over first. In the purge phase also 2-4 scheduler kills: the
#     first in its first 400 ms, the others between its start and 3 s after the last purge
#     date.
PLAN=()
declare -A INGEST_PLAN=()
plan_kills() { # PHASE
    local ph=$1 n i at kind target frac delay school role prev=""
    PLAN=()
    INGEST_PLAN=()
    [[ $MODE == fault ]] || return 0
    local d=${DUR[$ph]}
    while IFS=: read -r school role; do
        rng 100
        local kill=$RNG
        rng 700
        ((kill < 30)) && INGEST_PLAN[$school:$role]=$((500 + RNG * 45 / 70))
    done < <(files_of "$ph")
    rng 10
    n=$((RNG < 1 ? 0 : RNG < 5 ? 1 : RNG < 8 ? 2 : 3))
    for ((i = 0; i < 3; i++)); do
        rng 1000
        at=$RNG
        rng 20
        if ((RNG < 4)); then
            kind=any
        elif ((RNG < 10)); then
            kind=busy
        elif ((RNG < 13)); then
            kind=joining
        elif ((RNG < 17)); then
            kind=rebalance
        else
            kind=all
        fi
        rng 6
        target=$RNG
        rng 1000
        frac=$RNG
        rng 10
        local later=$RNG
        rng 1000
        delay=$( ((later < 4)) && echo $((500 + RNG * 35 / 10)) || echo 0)
        case $kind in
        busy) at=$((PHASE_T0 + d * at * 4 / 10000)) ;;
        rebalance) at=$([[ -n $prev ]] && echo $((prev + 1)) || echo $((PHASE_T0 + d * at * 4 / 10000))) ;;
        *) at=$((PHASE_T0 + d * at / 1000)) ;;
        esac
        if ((i < n)); then
            PLAN+=("$at reconciler $kind $target $frac $delay")
            prev=$at
        fi
    done
    # The scheduler: the first kill in the first 400 ms of its life (its sweep, and the orders
    # for the dates already passed), the others around the purge dates: from its start to 3 s
    # after the last date, at least 3 s.
    local t last_ms
    t=$(now_ms)
    last_ms=$((${PURGE_LAST_S:-0} * 1000 + 3000))
    ((last_ms > t + 3000)) || last_ms=$((t + 3000))
    rng 3
    n=$((RNG + 2))
    for ((i = 0; i < 4; i++)); do
        rng 1000
        at=$((t + (i == 0 ? 400 : last_ms - t) * RNG / 1000))
        [[ $ph == P ]] && ((i < n)) && PLAN+=("$at scheduler any 0 0 0")
    done
    mapfile -t PLAN < <(printf '%s\n' "${PLAN[@]}" | sort -n -s -k1,1)
    [[ -n ${PLAN[0]:-} ]] || PLAN=()
}

# log_tail_from MEMBER BYTES: what the member's log got after its first BYTES bytes.
log_size() { stat -c %s "${SVC_LOG[$1]}" 2>/dev/null || echo 0; }
log_tail_from() { tail -c +$(($2 + 1)) "${SVC_LOG[$1]}" 2>/dev/null || true; }

# landing MEMBER KIND SAW_REBALANCE: where a kill of MEMBER (just done) landed, from its log
# since its start: "all_at_once" (KIND all); "while_joining" (no partition assigned yet);
# "during_rebalance" (KIND rebalance, one seen); "mid_batch" (a wave of LDAP writes began
# after its last committed batch: the batch's persons were in flight); else
# "between_batches". Prints CLASS and the persons of the uncommitted waves.
landing() {
    local m=$1 kind=$2 saw=$3 flight
    flight=$(svc_log_since_start "$m" | awk '
        / partitions_assigned count=[1-9]/ { a = 1 }
        / wave_start jobs=/ { j = $0; sub(/.* jobs=/, "", j); sub(/ .*/, "", j); w += j }
        / batch messages=/ { w = 0 }
        END { print (a ? "a" : "j"), w + 0 }')
    local assigned=${flight% *} jobs=${flight#* }
    if [[ $kind == all ]]; then
        echo "all_at_once $jobs"
    elif [[ $assigned == j ]]; then
        echo "while_joining $jobs"
    elif [[ $kind == rebalance ]] && ((saw)); then
        echo "during_rebalance $jobs"
    elif ((jobs > 0)); then
        echo "mid_batch $jobs"
    else
        echo "between_batches $jobs"
    fi
}

# kill_member MEMBER KIND [SAW_REBALANCE]: SIGKILL now; where it landed is counted and told.
kill_member() {
    local m=$1 kind=$2 saw=${3:-0} where
    svc_kill9 "$m"
    where=$(landing "$m" "$kind" "$saw")
    bump "reconciler_${where% *}"
    printf '  %s killed (%s): %s, %d persons in waves not committed\n' "$m" "$kind" "${where% *}" "${where#* }"
}

# wait_wave MEMBER: waits (up to 8 s) for the member to be writing a wave: a wave_start line
# (logged just before the wave's LDAP writes) not yet followed by the line of its batch's end
# (after the batch's events and its LMDB commit); sets WAVE_JOBS to the wave's persons, 0 if
# none came (or the phase's work is done). After step 1 the waves are small here (a few
# persons a partition, batches of 30-400 ms), so what is caught is often the rest of their
# batch. Not in $(...): it starts the members whose time has come.
WAVE_JOBS=0
wait_wave() {
    local m=$1 fd line part="" i t t0
    # The log read as it grows through one descriptor (read at its end returns what is there,
    # a line cut short is kept for the next turn): a wave is seen a few ms after it began.
    exec {fd}<"${SVC_LOG[$m]}"
    while IFS= read -r -u "$fd" line; do :; done
    part=$line
    WAVE_JOBS=0
    t0=${EPOCHREALTIME/[,.]/}
    for ((i = 0; i < 4000; i++)); do
        while IFS= read -r -u "$fd" line; do
            line=$part$line
            part=""
            case $line in
            *" wave_start jobs="*)
                WAVE_JOBS=${line##* jobs=}
                WAVE_JOBS=${WAVE_JOBS%% *}
                ;;
            *" batch messages="*) WAVE_JOBS=0 ;;
            esac
        done
        part+=$line
        ((WAVE_JOBS > 0)) && break
        t=${EPOCHREALTIME/[,.]/}
        (((t - t0) / 1000 < 8000)) || break
        ((i % 200 == 199)) && phase_done "$PHASE" && break
        ((i % 20 == 19)) && restarts_due
        sleep 0.002
    done
    exec {fd}<&-
    return 0
}

# owned MEMBER: the partitions the member holds, from its log since its start (the
# cooperative protocol logs each assignment and revocation as an increment).
owned() {
    svc_log_since_start "$1" | awk '
        / partitions_(assigned|revoked) count=/ {
            c = $0; sub(/.* count=/, "", c); sub(/ .*/, "", c)
            n += ($0 ~ / partitions_assigned /) ? c : -c
        }
        END { print n + 0 }'
}

# kill_reconciler KIND TARGET FRACTION DELAY_MS: one planned kill (see plan_kills).
kill_reconciler() {
    local kind=$1 target=$2 frac=$3 delay=$4 m="" i up=() n
    for m in "${MEMBERS[@]}"; do svc_up "$m" && up+=("$m"); done
    if ((${#up[@]} == 0)); then
        bump reconciler_none_running
        return 0
    fi
    # The target, or the next member that runs.
    for ((i = 0; i < NMEM; i++)); do
        m=${MEMBERS[$(((target + i) % NMEM))]}
        svc_up "$m" && break
    done
    n=$([[ $kind == all ]] && echo "${#up[@]}" || { [[ $kind == joining ]] && echo 2; } || echo 1)
    if ((${KILLS[reconciler]:-0} + n > MAX_RECONCILER_KILLS)); then
        bump reconciler_skipped_budget
        return 0
    fi
    KINDS[$kind]=$((${KINDS[$kind]:-0} + 1))
    case $kind in
    any)
        kill_member "$m" any
        ;;
    busy)
        # A member without partitions (all revoked in a rebalance) writes nothing: the next
        # running one that has some, if any.
        if (($(owned "$m") == 0)); then
            local o
            for ((i = 1; i < NMEM; i++)); do
                o=${MEMBERS[$(((target + i) % NMEM))]}
                if svc_up "$o" && (($(owned "$o") > 0)); then
                    m=$o
                    break
                fi
            done
        fi
        wait_wave "$m"
        local jobs=$WAVE_JOBS
        ((jobs > 0)) || bump reconciler_busy_no_wave
        # ~0.8 ms a person (0.6 a change, 0.9 a new account here, measured with debug logs:
        # "wave jobs=510 apply_s=0.471"); a wave holds at most 1,000.
        sleep "$(ms_to_s $(((jobs < 1000 ? jobs : 1000) * 8 * frac / 10000)))"
        kill_member "$m" busy
        ;;
    joining)
        local jd=$((frac * 3)) # 0..2997 ms after its start
        if (($(now_ms) - SVC_START_MS[$m] > jd)); then
            kill_member "$m" "restart for joining"
            start_member "$m"
        else
            bump reconciler_joining_already
        fi
        pause_ms $((SVC_START_MS[$m] + jd - $(now_ms)))
        kill_member "$m" joining
        ;;
    rebalance)
        # Another running member's next partitions_assigned or partitions_revoked line, at most
        # 8 s; then the kill at once.
        local o sizes=() saw=0
        for o in "${MEMBERS[@]}"; do sizes+=("$(log_size "$o")"); done
        for ((i = 0; i < 160 && !saw; i++)); do
            for ((n = 0; n < NMEM; n++)); do
                o=${MEMBERS[$n]}
                [[ $o != "$m" ]] || continue
                svc_up "$o" || continue
                # (grep without -q: it reads all, so the pipe never fails with SIGPIPE)
                if log_tail_from "$o" "${sizes[$n]}" | grep -E ' partitions_(assigned|revoked) ' >/dev/null; then
                    saw=1
                fi
            done
            ((saw)) || pause_ms 50
        done
        ((saw)) || bump reconciler_rebalance_not_seen
        kill_member "$m" rebalance "$saw"
        ;;
    all)
        for m in "${up[@]}"; do kill_member "$m" all; done
        for m in "${up[@]}"; do schedule_restart "$m" "$delay"; done
        return 0
        ;;
    esac
    schedule_restart "$m" "$delay"
    ((delay == 0)) || printf '    %s starts again in %s s\n' "$m" "$(ms_to_s "$delay")"
}

kill_scheduler() {
    ((${KILLS[scheduler]:-0} < MAX_SCHEDULER_KILLS)) || return 0
    svc_kill9 scheduler
    local sent
    sent=$(svc_log_since_start scheduler | grep -c purge_due_sent || true)
    if ((sent > 0)); then
        bump scheduler_after_orders
    else
        bump scheduler_before_orders
    fi
    printf '  scheduler killed: %d purge orders sent before\n' "$sent"
    svc_start scheduler "$CFG" "$RUN"
}

# tick: the services still run (unless killed on purpose), killed members are started again
# when their time has come, and the kills that are due happen.
tick() {
    local m
    for m in "${MEMBERS[@]}"; do svc_alive_or_fail "$m"; done
    svc_up scheduler && svc_alive_or_fail scheduler
    restarts_due
    while ((${#PLAN[@]})); do
        local at svc kind target frac delay
        read -r at svc kind target frac delay <<<"${PLAN[0]}"
        (($(now_ms) >= at)) || break
        PLAN=("${PLAN[@]:1}")
        case $svc in
        reconciler) kill_reconciler "$kind" "$target" "$frac" "$delay" ;;
        scheduler) kill_scheduler ;;
        esac
    done
}

# persons_now: RECORD_UID<TAB>L (limbo) or A (active) of every person in the directory.
persons_now() {
    ldap_search -b "$BASE" '(ucsschoolRecordUID=*)' ucsschoolRecordUID |
        awk '/^dn: / { l = ($0 ~ /,ou=limbo,/) ? "L" : "A" } /^ucsschoolRecordUID: / { print $2 "\t" l }' |
        LC_ALL=C sort
}

# sample PREV NEXT: the directory at any moment of a phase: whoever is in limbo must be in
# limbo before or after the phase; whoever exists before and after the phase exists now. The
# reference run fails at once; the faulty run's findings are gathered and reported as a
# problem when the phase ends (see sample_report).
sample() {
    local prev=$1 next=$2 now wrong gone
    now=$(persons_now)
    wrong=$(awk -F'\t' '$2 == "L" { print $1 }' <<<"$now" |
        LC_ALL=C comm -23 - <(LC_ALL=C sort -u "$EXP/limbo.$prev" "$EXP/limbo.$next"))
    gone=$(LC_ALL=C comm -12 "$EXP/exists.$prev" "$EXP/exists.$next" |
        LC_ALL=C comm -23 - <(cut -f1 <<<"$now"))
    SAMPLES[$MODE]=$((${SAMPLES[$MODE]:-0} + 1))
    if [[ $MODE == ref ]]; then
        [[ -z $wrong ]] || fail "in limbo, but active before and after phase $next: $(head -n 5 <<<"$wrong" | xargs)"
        [[ -z $gone ]] || fail "gone, but existing before and after phase $next: $(head -n 5 <<<"$gone" | xargs)"
    fi
    [[ -z $wrong ]] || printf '%s\n' "$wrong" >>"$RUN/sample_limbo.$next"
    [[ -z $gone ]] || printf '%s\n' "$gone" >>"$RUN/sample_gone.$next"
    return 0
}

sample_report() { # PHASE
    local f
    f=$RUN/sample_limbo.$1
    [[ ! -s $f ]] || problem "sampled during phase $1: in limbo, but active before and after it: $(list10 "$(LC_ALL=C sort -u "$f")")"
    f=$RUN/sample_gone.$1
    [[ ! -s $f ]] || problem "sampled during phase $1: gone, but existing before and after it: $(list10 "$(LC_ALL=C sort -u "$f")")"
    return 0
}

# check_phase PHASE: after the phase, exactly the expected persons exist, exactly the
# expected ones are in limbo, each one once.
check_phase() {
    local ph=$1 now
    now=$(persons_now)
    set_eq "$EXP/exists.$ph" <(cut -f1 <<<"$now" | uniq) "the persons after phase $ph ($MODE run)"
    set_eq "$EXP/limbo.$ph" <(awk -F'\t' '$2 == "L" { print $1 }' <<<"$now") \
        "the persons in limbo after phase $ph ($MODE run)"
    local twice
    twice=$(cut -f1 <<<"$now" | uniq -d | xargs)
    [[ -z $twice ]] || problem "more than one entry after phase $ph ($MODE run): $twice"
}

# set_eq EXPECTED_FILE ACTUAL_FILE WHAT: two sorted lists are equal, else a problem naming the
# differences.
set_eq() {
    local actual missing extra
    actual=$(cat "$2") # once: $2 may be a pipe
    missing=$(LC_ALL=C comm -23 "$1" - <<<"$actual")
    extra=$(LC_ALL=C comm -13 "$1" - <<<"$actual")
    [[ -z $missing && -z $extra ]] && return 0
    problem "$3:"$'\n'"  missing: $(list10 "$missing")"$'\n'"  unexpected: $(list10 "$extra")"
}

# list10 LINES: how many, and the first ten on one line.
list10() {
    local n
    n=$(awk 'NF' <<<"$1" | wc -l)
    printf '%d %s%s' "$n" "$(awk 'NF && NR <= 10' <<<"$1" | xargs)" "$( ((n > 10)) && echo ' ...')"
}

# limbo_dates PHASE: the purge dates of the persons in limbo, RECORD_UID<TAB>YYYYMMDDHHMMSSZ.
limbo_dates() {
    ldap_search -b "ou=limbo,$BASE" '(ucsschoolRecordUID=*)' ucsschoolRecordUID ucsschoolPurgeTimestamp |
        awk '/^ucsschoolRecordUID: / { r = $2 } /^ucsschoolPurgeTimestamp: / { print r "\t" $2 }' |
        LC_ALL=C sort >"$RUN/limbo_dates.$1"
}

ms_to_s() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
ts_to_s() { date -u -d "${1:0:8} ${1:8:2}:${1:10:2}:${1:12:2}" +%s; }

phase_done() { # PHASE: the phase's work is all in the directory
    local ph=$1
    if [[ $ph == P ]]; then
        [[ -z $(LC_ALL=C comm -12 "$EXP/purged" <(persons_now | cut -f1)) ]]
        return
    fi
    local n_done
    n_done=$(imports_json | jq -r --argjson ids "$(printf '%s\n' "${IMPORTS_OF_PHASE[@]}" | jq -R . | jq -s .)" \
        'select(.import_id as $i | $ids | index($i)) | select(.state == "completed" and .reported == .partitions) | .import_id' |
        sort -u | wc -l)
    ((n_done == ${#IMPORTS_OF_PHASE[@]}))
}

# phase_stuck PHASE: a problem naming what did not happen and what the reconcilers said about
# it (the reference run fails at once); the run goes on with the next phase.
phase_stuck() {
    local ph=$1 left rid why=""
    if [[ $ph == P ]]; then
        left=$(LC_ALL=C comm -12 "$EXP/purged" <(persons_now | cut -f1))
        while read -r rid; do
            why+=$'\n'"  $rid: $({ grep -h -E "(rejected|purge_skipped) record_uid=$rid " "$RUN"/reconciler[0-9].log || true; } |
                sed 's/.* reconciler //' | sort | uniq -c | xargs)"
        done < <(awk 'NR <= 5' <<<"$left")
        problem "phase P not done after $PHASE_LIMIT s ($MODE run): not purged: $(list10 "$left")$why"
        return 0
    fi
    problem "phase $ph not done after $PHASE_LIMIT s ($MODE run): imports: $(imports_json |
        jq -r --argjson ids "$(printf '%s\n' "${IMPORTS_OF_PHASE[@]}" | jq -R . | jq -s .)" \
            'select(.import_id as $i | $ids | index($i)) | "\(.school)/\(.role) \(.state) \(.reported)/\(.partitions)"' | xargs)"
}

run_phase() { # PHASE
    local ph=$1 prev school role t_end i
    case $ph in
    1) prev=0 ;; P) prev=5 ;; 6) prev=P ;; *) prev=$((ph - 1)) ;;
    esac
    PHASE_T0=$(now_ms)
    PHASE=$ph
    IMPORTS_OF_PHASE=()
    if [[ $ph == P ]]; then
        # The scheduler runs only in this phase: so which persons are purged never depends on
        # how long a step took (a person's return always comes before any purge order). A
        # person who came back from limbo gets a stale order anyway: it must stay.
        PURGE_LAST_S=0
        local ts s
        while IFS=$'\t' read -r _ ts; do
            s=$(ts_to_s "$ts")
            ((s > PURGE_LAST_S)) && PURGE_LAST_S=$s
        done <"$RUN/limbo_dates.5"
        while IFS=$'\t' read -r rid ts; do
            "$INJECT" -c "$CFG" purge "$rid" "$(($(ts_to_s "$ts") * 1000))" >/dev/null 2>&1 ||
                fail "inject a stale PurgeDue for $rid"
        done < <(LC_ALL=C join -t $'\t' "$EXP/stale_purge" "$RUN/limbo_dates.3")
        plan_kills P
        svc_start scheduler "$CFG" "$RUN"
    else
        plan_kills "$ph"
        while IFS=: read -r school role; do
            tick
            ingest_file "$ph" "$school" "$role"
        done < <(files_of "$ph")
    fi
    # Bounded: about PHASE_LIMIT s (each turn takes at least 0.3 s), then the phase is stuck.
    for ((i = 0; ; i++)); do
        phase_done "$ph" && break
        if (($(now_ms) - PHASE_T0 >= PHASE_LIMIT * 1000 || i >= PHASE_LIMIT * 4)); then
            phase_stuck "$ph"
            break
        fi
        tick
        sample "$prev" "$ph"
        sleep 0.3
    done
    t_end=$(now_ms)
    [[ $ph == P ]] && svc_stop scheduler
    # Kills planned after the work was done did not happen; members still waiting to start
    # again start now (each phase begins with every member running).
    LAND[not_needed]=$((${LAND[not_needed]:-0} + ${#PLAN[@]}))
    PLAN=()
    restart_all_now
    [[ $MODE == ref ]] && DUR[$ph]=$((t_end - PHASE_T0))
    printf '%s\t%s\t%s\n' "$ph" "$PHASE_T0" "$t_end" >>"$RUN/windows"
    sample_report "$ph"
    check_phase "$ph"
    limbo_dates "$ph"
    printf '  phase %s done in %d.%d s\n' "$ph" $(((t_end - PHASE_T0) / 1000)) $(((t_end - PHASE_T0) % 1000 / 100))
}

run_sequence() { # MODE
    MODE=$1
    RUN=$W/$MODE
    mkdir -p "$RUN"
    : >"$RUN/imports.map"
    : >"$RUN/windows"
    local t0 m
    t0=$(now_ms)
    TMPDIR=$W start_stack --schools "${SCHOOLS[*]}"
    BASE=$STACK_BASE
    make_cfg
    for m in "${MEMBERS[@]}"; do start_member "$m"; done
    for ph in "${PHASES[@]}"; do
        step "$MODE run: phase $ph"
        run_phase "$ph"
    done
    for m in "${MEMBERS[@]}"; do svc_stop "$m"; done
    RUN_SECONDS[$MODE]=$((($(now_ms) - t0) / 1000))
    step "$MODE run: the directory, the events"
    collect
}
declare -A RUN_SECONDS=() SAMPLES=()

# The purge dates of a run labelled with the phase whose import set them. A date is
# produced_at + grace rounded up to the second, so produced_at lies in the second before
# (date - grace); of the phases that send persons to limbo (never two in a row), the one whose
# window of this run holds that second.
ts_labels() {
    local ts s ph a b limbo_phases
    limbo_phases=" $(awk -F'\t' '$4 == "MovedToLimbo" { print $1 }' "$EXP/allowed" | sort -u | xargs) "
    awk -F'\t' '$2 == "ucsschoolPurgeTimestamp" { print $3 }' "$RUN/triples" | sort -u | while read -r ts; do
        s=$(($(ts_to_s "$ts") - GRACE))
        local label="(no phase)"
        while IFS=$'\t' read -r ph a b; do
            [[ $limbo_phases == *" $ph "* ]] || continue
            if ((s * 1000 >= a && s * 1000 - 1000 < b)); then
                label="(phase $ph + grace)"
                break
            fi
        done <"$RUN/windows"
        printf '%s\t%s\n' "$ts" "$label"
    done >"$RUN/ts_labels"
}

# problem MESSAGE: the reference run must be right (else the test's expectations are wrong):
# fail at once; the faulty run's problems are gathered and reported together at the end.
PROBLEMS=()
problem() {
    [[ $MODE == ref ]] && fail "reference run: $*"
    PROBLEMS+=("$*")
    printf '  PROBLEM: %s\n' "${1%%$'\n'*}"
}

# stale_by_person: dir_integrity's lines per person: who, where it is, which groups still
# hold it under a DN or uid it no longer has.
stale_by_person() {
    awk -v uidmap="$RUN/uids" -v triples="$RUN/triples" '
        BEGIN {
            while ((getline l < uidmap) > 0) { split(l, p, "\t"); RID[p[2]] = p[1] }
            FS = "\t"
            while ((getline l < triples) > 0) {
                split(l, p, "\t")
                if (p[2] == "uid") DN[p[3]] = p[1]
            }
            FS = " "
        }
        {
            # "  GROUP: uniqueMember DN does not exist" or "  GROUP: memberUid UID does not exist"
            line = $0; sub(/^  /, "", line)
            g = substr(line, 1, index(line, ": ") - 1)
            rest = substr(line, index(line, ": ") + 2)
            v = rest; sub(/^[A-Za-z]+ /, "", v); sub(/ does not exist$/, "", v)
            u = v
            if (rest ~ /^uniqueMember /) { u = substr(v, 5, index(v, ",") - 5) }
            who = (u in RID) ? RID[u] " (uid " u ", now " DN[u] ")" : "uid " u " (no such person)"
            cn = g; sub(/,.*/, "", cn)
            if (!((who, cn) in seen)) { seen[who, cn] = 1; G[who] = G[who] " " cn }
            n[who]++
        }
        END { for (w in n) printf "  %s: %d stale values in%s\n", w, n[w], G[w] }' | sort | awk 'NR <= 25'
}

collect() {
    dir_triples "$RUN/triples"
    ts_labels
    dir_normalise "$RUN/triples" "$RUN/ts_labels" "$RUN/normalised" "$RUN/uids"
    local bad
    if ! bad=$(dir_integrity "$RUN/triples"); then
        problem "groups name members that do not exist ($(wc -l <<<"$bad") values):"$'\n'"$(
            stale_by_person <<<"$bad")"
    fi
    # The rules, person by person (the model of the exports against the directory).
    if ! bad=$(dir_rules_check "$EXP/model/state" "$RUN/triples" "$BASE" "$LIMBO_OU"); then
        RULES_WRONG[$MODE]=$(wc -l <<<"$bad")
        problem "the directory breaks the rules for $(wc -l <<<"$bad") persons (what the exports call for, from data/sisopi_model.awk):"$'\n'"$(
            awk 'NR <= 25' <<<"$bad")$( (($(wc -l <<<"$bad") > 25)) && printf '\n  ...')"
    fi
    # The audit's view: the directory against what the topics' history implies.
    run "$B_/sisopi-audit" -c "$CFG" verify
    VERIFY[$MODE]=$(grep '^verify: ' <<<"$OUT" || true)
    case $RC in
    0) ;;
    2)
        # Its differences (without its own log lines), then its summary.
        local diffs
        diffs=$(grep -v -E '^verify: |^[0-9-]+T[0-9:.]+Z (debug|info|warn) ' <<<"$OUT" || true)
        problem "sisopi-audit verify: drift (exit 2), ${VERIFY[$MODE]#verify: }; persons: $(list10 "$(cut -d' ' -f1 <<<"$diffs" | LC_ALL=C sort -u)")"$'\n'"$(awk 'NR <= 20 { print "  " $0 }' <<<"$diffs")$( (($(wc -l <<<"$diffs") > 20)) && printf '\n  ...')"
        ;;
    *) fail "$MODE run: sisopi-audit verify could not run (exit $RC): $(tail -n 5 <<<"$OUT")" ;;
    esac
    "$B_/sisopi-audit" -c "$CFG" dump --topic events 2>/dev/null >"$RUN/events.json" ||
        fail "$MODE run: cannot dump sisopi.events"
    imports_json >"$RUN/imports.json"
    check_events
    run "$B_/sisopi-audit" -c "$CFG" dump --topic dlq
    assert_eq "" "$(grep '^{' <<<"$OUT" || true)" "$MODE run: no dead letters"
    if grep -l -E 'AddressSanitizer|runtime error:|LeakSanitizer' "$RUN"/*.log >/dev/null 2>&1; then
        fail "$MODE run: a sanitizer report in $(grep -l -E 'AddressSanitizer|runtime error:|LeakSanitizer' "$RUN"/*.log | xargs)"
    fi
    local what
    for what in partitions_rebuilt journal_recovered commit_failed; do
        RECOVERIES[$MODE.$what]=$({ grep -h " $what " "$RUN"/reconciler[0-9].log || true; } | wc -l)
    done
    if [[ $MODE == ref ]]; then
        stop_stack
    fi
}
declare -A RULES_WRONG=() VERIFY=() RECOVERIES=()

# Every MovedToLimbo, SchoolRemoved and Deleted is one the sequence calls for, and every one
# it calls for is there.
check_events() {
    jq -r 'select(.event.type == "MovedToLimbo" or .event.type == "SchoolRemoved" or .event.type == "Deleted")
        | [.event.type, .event.record_uid, (.event.import_id // "-"), (.event.cause // "-"),
           (.event.input_partition | tostring), (.event.input_offset | tostring)] | @tsv' \
        "$RUN/events.json" >"$RUN/removals"
    local wrong
    wrong=$(awk -F'\t' -v map="$RUN/imports.map" -v allowed="$EXP/allowed" -v purged="$EXP/purged" '
        BEGIN {
            while ((getline l < map) > 0) { split(l, p, "\t"); IMP[p[1]] = p[2] "\t" p[3] "\t" p[4] }
            while ((getline l < allowed) > 0) { split(l, p, "\t"); OK[p[1] "\t" p[2] "\t" p[3] "\t" p[4] "\t" p[5]] = 1 }
            while ((getline l < purged) > 0) PURGED[l] = 1
        }
        $1 == "Deleted" { if (!($2 in PURGED) || $4 != "purge") print; next }
        { if (!($3 in IMP) || !((IMP[$3] "\t" $1 "\t" $2) in OK)) print }' "$RUN/removals")
    [[ -z $wrong ]] || problem "events the sequence does not call for ($(wc -l <<<"$wrong"); type rid import cause partition offset):"$'\n'"$(head -n 20 <<<"$wrong")"
    # Repeats (the same input message's event twice) are allowed: counted.
    EVENTS_CHECKED[$MODE]=$(wc -l <"$RUN/removals")
    EVENTS_REPEATED[$MODE]=$(cut -f1,2,5,6 "$RUN/removals" | sort | uniq -d | wc -l)
    local bad
    bad=$(jq -r 'select(.event.type == "Rejected" or .event.type == "ImportIncomplete" or .event.type == "ImportHeld")
        | [.event.type, (.event.record_uid // .event.import_id), (.event.reason // "")] | @tsv' "$RUN/events.json")
    [[ -z $bad ]] || problem "events that must not happen ($(wc -l <<<"$bad")):"$'\n'"$(head -n 10 <<<"$bad")"
    # Never lost: every removal the sequence calls for and every purge is on the topic.
    local missing
    missing=$(missing_events)
    MISSING_EVENTS[$MODE]=$(awk 'NF' <<<"$missing" | wc -l)
    [[ -z $missing ]] || problem "events the sequence calls for that are not on sisopi.events ($(wc -l <<<"$missing"); phase school role type: how many: record_uids):"$'\n'"$(
        awk -F'\t' '{ k = $1 " " $2 " " $3 " " $4; n[k]++; if (n[k] <= 8) r[k] = r[k] " " $5 } END { for (k in n) print "  " k ": " n[k] ":" r[k] (n[k] > 8 ? " ..." : "") }' <<<"$missing" | sort)"
}

# missing_events: the removals the model calls for (by import: phase, school, role; and every
# purge) that are not in RUN/removals, as PHASE SCHOOL ROLE TYPE RECORD_UID lines.
missing_events() {
    awk -F'\t' -v map="$RUN/imports.map" '
        BEGIN { while ((getline l < map) > 0) { split(l, p, "\t"); IMP[p[1]] = p[2] "\t" p[3] "\t" p[4] } }
        $1 == "Deleted" && $4 == "purge" { print "P\t-\t-\tDeleted\t" $2; next }
        $1 != "Deleted" && ($3 in IMP) { print IMP[$3] "\t" $1 "\t" $2 }' "$RUN/removals" |
        LC_ALL=C sort -u | LC_ALL=C comm -23 "$EXP/model/events" -
}
declare -A EVENTS_CHECKED=() EVENTS_REPEATED=() MISSING_EVENTS=()

# rules_check_can_fail: dir_rules_check on a copy of the reference's directory changed in five
# ways, each of one person, must name exactly those five persons: a memberUid taken out of its
# Domain Users group, shadowExpire given to an active person, an active person's DN added to a
# class group of a school it is not in, the lock taken from a person in limbo, and an active
# person's uniqueMember in its Domain Users group replaced by a DN under the limbo OU.
rules_check_can_fail() {
    local t=$W/rules_tampered rid=() prim=() dn=() i x cls="" got want
    for i in 1 2 3 4; do
        rid+=("$(awk -F'\t' -v n="$i" '$3 == "A" && ++a == n { print $1 }' "$EXP/model/state")")
    done
    rid+=("$(awk -F'\t' '$3 == "L" { print $1; exit }' "$EXP/model/state")")
    for i in 0 1 2 3 4; do
        [[ -n ${rid[$i]} ]] || fail "rules_check_can_fail: the data set is too small"
        prim+=("$(awk -F'\t' -v r="${rid[$i]}" '$1 == r { print $4 }' "$EXP/model/state")")
        dn+=("$(awk -F'\t' -v r="${rid[$i]}" '$2 == "ucsschoolRecordUID" && $3 == r { print $1; exit }' "$REF/triples")")
        [[ -n ${dn[$i]} ]] || fail "rules_check_can_fail: no entry of ${rid[$i]} in the reference"
    done
    local schools3
    schools3=" $(awk -F'\t' -v r="${rid[2]}" '$1 == r { print $5 }' "$EXP/model/state") "
    for x in "${SCHOOLS[@]}"; do
        [[ $schools3 == *" $x "* ]] && continue
        cls=$(awk -F'\t' -v x=",cn=klassen,cn=schueler,cn=groups,ou=$x," 'index($1, x) && $1 ~ /^cn=/ && $2 == "objectClass" { print $1; exit }' "$REF/triples")
        [[ -n $cls ]] && break
    done
    [[ -n $cls ]] || fail "rules_check_can_fail: no class group of a school ${rid[2]} is not in"
    awk -F'\t' -v OFS='\t' \
        -v du1="cn=Domain Users ${prim[0]},cn=groups,ou=${prim[0]},$BASE" -v dn1="${dn[0]}" \
        -v dn2="${dn[1]}" -v cls3="$cls" -v dn3="${dn[2]}" \
        -v du4="cn=Domain Users ${prim[3]},cn=groups,ou=${prim[3]},$BASE" -v dn4="${dn[3]}" \
        -v dn5="${dn[4]}" -v limbo="$LIMBO_OU" '
        function lc(s) { return tolower(s) }
        BEGIN { u1 = substr(dn1, 5, index(dn1, ",") - 5) }
        lc($1) == lc(du1) && $2 == "memberUid" && $3 == u1 { done1 = 1; next }
        lc($1) == lc(du4) && $2 == "uniqueMember" && lc($3) == lc(dn4) {
            v = dn4; sub(/,ou=[^,]*,/, ",ou=" limbo ",", v); print $1, $2, v; done4 = 1; next
        }
        lc($1) == lc(dn5) && $2 == "pwdAccountLockedTime" { done5 = 1; next }
        { print }
        END {
            print dn2, "shadowExpire", "1"
            print cls3, "uniqueMember", dn3
            exit !(done1 && done4 && done5)
        }' "$REF/triples" >"$t" || fail "rules_check_can_fail: the reference directory lacks a value to change"
    got=$(dir_rules_check "$EXP/model/state" "$t" "$BASE" "$LIMBO_OU" | awk '{ print $1 }' | tr -d : | LC_ALL=C sort -u || true)
    want=$(printf '%s\n' "${rid[@]}" | LC_ALL=C sort -u)
    assert_eq "$want" "$got" "the rules check names exactly the five persons changed in a copy of the reference's directory"
}

# missing_events_can_fail: the check that no event is lost, on the reference's events less
# one MovedToLimbo and one Deleted, misses exactly those two.
missing_events_can_fail() {
    local keep=$RUN drop
    RUN=$W/ref.tampered
    mkdir -p "$RUN"
    cp "$REF/imports.map" "$RUN/imports.map"
    awk -F'\t' '($1 == "MovedToLimbo" && !m++) || ($1 == "Deleted" && !d++) { next } { print }' \
        "$REF/removals" >"$RUN/removals"
    drop=$(comm -23 <(cut -f1,2 "$REF/removals" | sort -u) <(cut -f1,2 "$RUN/removals" | sort -u) | wc -l)
    assert_eq 2 "$(missing_events | wc -l)" "the lost-events check misses the $drop events taken out of a copy"
    RUN=$keep
}

# ---------------------------------------------------------------------------------------------
run_sequence ref
REF=$W/ref
step "the checks can fail"
rules_check_can_fail
missing_events_can_fail
run_sequence fault
FLT=$W/fault

step "compare the faulty run's directory with the reference's"
# Usernames: equal, or the same base with another counter number: a crash after the counter
# was taken and before the account was added (the counter never gives a number twice, as in
# the reference system). Anything else is a difference.
uid_moved=$(LC_ALL=C join -t $'\t' "$REF/uids" "$FLT/uids" | awk -F'\t' '$2 != $3 {
        a = $2; b = $3; sub(/[0-9]+$/, "", a); sub(/[0-9]+$/, "", b)
        print (a == b ? "counter" : "other") "\t" $0 }')
other=$(grep -v '^counter' <<<"$uid_moved" || true)
[[ -z $other ]] || problem "usernames differ by more than a counter number:"$'\n'"$(awk 'NR <= 10' <<<"$other")"
n_uid_moved=$(grep -c '^counter' <<<"$uid_moved" || true)
# Counters: the same keys (compared in the dump); a crash may have moved one on, never back.
counters() { awk -F'\t' '$2 == "ucsschoolUsernameNextNumber" { print $1 "\t" $3 }' "$1/triples" | LC_ALL=C sort; }
behind=$(LC_ALL=C join -t $'\t' <(counters "$REF") <(counters "$FLT") | awk -F'\t' '$3 < $2')
[[ -z $behind ]] || problem "counters of the faulty run behind the reference's:"$'\n'"$behind"
n_lines=$(wc -l <"$REF/normalised")
n_entries=$(cut -f1 "$REF/normalised" | sort -u | wc -l)
COMPARED=equal
if ! cmp -s "$REF/normalised" "$FLT/normalised"; then
    d=$(diff "$REF/normalised" "$FLT/normalised" || true)
    printf '%s\n' "$d" >"$W/difference"
    # Per entry: the attributes with values only in the reference (-) or only in the faulty run (+).
    per_entry=$(awk -F'\t' '/^[<>] / {
            k = substr($1, 3); a = $2 (substr($0, 1, 1) == "<" ? "-" : "+")
            if (!((k, a) in s)) { s[k, a] = 1; e[k] = e[k] " " a }
        } END { for (k in e) print "  " k ":" e[k] }' <<<"$d" | sort)
    COMPARED="DIFFERENT in $(wc -l <<<"$per_entry") entries"
    problem "the directories differ: $(awk '/^</' <<<"$d" | wc -l) values only in the reference, $(awk '/^>/' <<<"$d" | wc -l) only in the faulty run, in $(wc -l <<<"$per_entry") entries (all in $W/difference); per entry, attributes with values only in the reference (-) or only in the faulty run (+):"$'\n'"$(awk 'NR <= 25' <<<"$per_entry")"$'\n'"first values (<: reference, >: faulty run):"$'\n'"$(awk '/^[<>]/ && n++ < 20' <<<"$d")"
fi
# The comparison can fail: one value changed in a copy of the faulty dump must show.
sed '0,/\tmemberUid\t/{/\tmemberUid\t/d}' "$FLT/normalised" >"$W/tampered"
cmp -s "$REF/normalised" "$W/tampered" && fail "the comparison does not see a missing group member"

step "figures"
printf '  seed %s; %d reconcilers; %d persons; %d entries, %d attribute values compared: %s\n' \
    "$SEED" "$NMEM" "$n_persons" "$n_entries" "$n_lines" "$COMPARED"
printf '  reference run %d s, faulty run %d s; %d + %d samples of the directory during the phases\n' \
    "${RUN_SECONDS[ref]}" "${RUN_SECONDS[fault]}" "${SAMPLES[ref]:-0}" "${SAMPLES[fault]:-0}"
printf '  kills: ingest %d, reconciler %d (planned kills carried out: any %d, busy %d, joining %d, rebalance %d, all %d), scheduler %d\n' \
    "${KILLS[ingest]:-0}" "${KILLS[reconciler]:-0}" "${KINDS[any]:-0}" "${KINDS[busy]:-0}" \
    "${KINDS[joining]:-0}" "${KINDS[rebalance]:-0}" "${KINDS[all]:-0}" "${KILLS[scheduler]:-0}"
for k in "${!LAND[@]}"; do printf '    %-32s %d\n' "$k" "${LAND[$k]}"; done | sort
printf '  reconciler recoveries (lines in the members'"'"' logs, reference / faulty): partitions_rebuilt %d / %d, journal_recovered %d / %d\n' \
    "${RECOVERIES[ref.partitions_rebuilt]}" "${RECOVERIES[fault.partitions_rebuilt]}" \
    "${RECOVERIES[ref.journal_recovered]}" "${RECOVERIES[fault.journal_recovered]}"
printf '  offset commits refused by the group coordinator (commit_failed lines, during rebalances): reference %d, faulty %d\n' \
    "${RECOVERIES[ref.commit_failed]}" "${RECOVERIES[fault.commit_failed]}"
printf '  rules check: %d persons, %d of them wrong in the faulty run; sisopi-audit verify: reference "%s", faulty "%s"\n' \
    "$(wc -l <"$EXP/model/state")" "${RULES_WRONG[fault]:-0}" "${VERIFY[ref]}" "${VERIFY[fault]}"
printf '  removal events checked: reference %d, faulty %d (%d repeated by re-delivery, %d the sequence calls for missing)\n' \
    "${EVENTS_CHECKED[ref]}" "${EVENTS_CHECKED[fault]}" "${EVENTS_REPEATED[fault]}" "${MISSING_EVENTS[fault]}"
printf '  usernames moved on by a counter number (crash between counter and add): %d\n' "$n_uid_moved"
if ((${#PROBLEMS[@]})); then
    printf '\n' >&2
    for p in "${PROBLEMS[@]}"; do printf 'PROBLEM: %s\n\n' "$p" >&2; done
    fail "the faulty run did not converge to the rules and the reference (seed $SEED, $NMEM reconcilers: SISOPI_FAULT_SEED=$SEED replays its kill plan)"
fi
PASSED=1
