#!/usr/bin/env bash
# Crash convergence (issue 6, item 1): a sequence of imports (creations, persons spanning
# schools, school changes both ways, limbo, returns out of limbo, purges after a short grace
# period, a purged person listed again) runs twice against a real slapd and the devbroker:
# once without faults (the reference), once while SIGKILL hits the ingest (mid-publish; the
# same file is then imported again, with a new import_id), the reconciler (at random moments
# of a step, or as soon as a wave of LDAP writes is in flight; started again at once, it
# resumes from its committed offsets and its LMDB state dir) and the scheduler (around the
# purge dates). Checked:
#   - between the steps, and sampled during them: nobody who should be active is in limbo,
#     nobody who should exist is gone (the limbo OU and the persons, by ldapsearch);
#   - every MovedToLimbo, SchoolRemoved and Deleted on sisopi.events is one the sequence calls
#     for (repeats from re-delivery allowed, wrong ones not), in both runs;
#   - at the end, the directory of the faulty run equals the reference's, every entry and
#     every attribute value, groups included, after normalising only what legitimately
#     differs between two runs (see dir_normalise in fault_lib.sh and tests/fault/README.md).
# SISOPI_FAULT_SEED=N replays a run's kill plan (the seed is printed; default: the clock);
# SISOPI_FAULT_SERVICES="ingest scheduler" kills only those (default all three).
# SISOPI_FAULT_STUDENTS (per school, default 700) and SISOPI_FAULT_TEACHERS (per school of
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
NS=${SISOPI_FAULT_STUDENTS:-700}
NT=${SISOPI_FAULT_TEACHERS:-60}
SCHOOLS=(SchA SchB SchC SchD)
PHASES=(1 2 3 4 5 P 6) # P: the purge phase (the scheduler runs only there, see below)
GRACE=20               # seconds in limbo before the purge
# Kill budget (bounded): at most this many kills of each service in the faulty run, and only
# of the services SISOPI_FAULT_SERVICES names (default all three; for bisecting a failure).
SERVICES=" ${SISOPI_FAULT_SERVICES:-ingest reconciler scheduler} "
MAX_INGEST_KILLS=$([[ $SERVICES == *" ingest "* ]] && echo 10 || echo 0)
MAX_RECONCILER_KILLS=$([[ $SERVICES == *" reconciler "* ]] && echo 10 || echo 0)
MAX_SCHEDULER_KILLS=$([[ $SERVICES == *" scheduler "* ]] && echo 4 || echo 0)
PHASE_LIMIT=150 # seconds a phase may take before the test gives up (a hang, not a figure)
printf '%s: seed %s (replay: SISOPI_FAULT_SEED=%s), killing:%s\n' "$TEST_NAME" "$SEED" "$SEED" "$SERVICES"

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
mkdir -p "$DATA" "$EXP"
AWK=$SISOPI_SRC/tests/fault/data/crash_sequence.awk
files_of() { # STEP: the exports a step imports, as SCHOOL:ROLE
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
    done < <(files_of "$ph") >>"$EXP/allowed"
done
n_persons=$(LC_ALL=C sort -u "$EXP"/listed.* | wc -l)
printf '  %d persons (%d students in 4 schools, %d teachers in 2), 6 steps of 6 exports and a purge\n' \
    "$n_persons" $((4 * NS)) $((2 * NT))
printf '  expected: %d MovedToLimbo, %d SchoolRemoved, %d purged, %d in limbo at the end\n' \
    "$(grep -c MovedToLimbo "$EXP/allowed")" "$(grep -c SchoolRemoved "$EXP/allowed")" \
    "$(wc -l <"$EXP/purged")" "$(wc -l <"$EXP/limbo.6")"
# The persons out of limbo again (A-first school change) who get a stale PurgeDue anyway.
LC_ALL=C comm -12 "$EXP/limbo.3" "$EXP/listed.4" | awk 'NR <= 20' >"$EXP/stale_purge"
[[ -s $EXP/stale_purge && -s $EXP/purged && -s $EXP/limbo.6 ]] || fail "the data set is too small"

# ---------------------------------------------------------------------------------------------
# One run of the whole sequence. MODE ref: no faults, each phase's duration is measured; MODE
# fault: kills planned with the seed, at moments spread over the reference's durations.
declare -A DUR=() INGEST_DUR=()
declare -A LAND=() # how the kills landed: figures for the report
RUN=""
MODE=""
CFG=""
STATE_DIR=""
BASE=""

bump() { LAND[$1]=$((${LAND[$1]:-0} + 1)); }

make_cfg() {
    # A short grace period; a guard that lets the sequence's removals through; a session
    # timeout shorter than platform-notes.md's 4-6 s (3 s works against the mock cluster, 2 s
    # does not), so that a reconciler killed with SIGKILL hands its partitions to its
    # successor in about 5 s instead of 8-12.
    sed -e "s/deletion_grace_period = \"90d\";/deletion_grace_period = \"${GRACE}s\";\n  deletion_guard: { max_ratio = 1.0; max_count = 1000000; };/" \
        -e 's/"session.timeout.ms", "6000"/"session.timeout.ms", "3000"/' \
        -e 's/"heartbeat.interval.ms", "500"/"heartbeat.interval.ms", "300"/' \
        "$STACK_DIR/sisopi.cfg" >"$RUN/sisopi.cfg"
    CFG=$RUN/sisopi.cfg
    if ! grep -q "\"${GRACE}s\"" "$CFG" || ! grep -q '"3000"' "$CFG"; then
        fail "could not write the test config"
    fi
    STATE_DIR=$(sed -n 's/^ *state_dir = "\(.*\)";/\1/p' "$CFG")
    [[ -d $STATE_DIR ]] || fail "no reconciler state_dir in $CFG"
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
    t0=$(now_ms)
    run "$B_/sisopi-ingest" -c "$CFG" -q --school "$school" --role "$role" "$f"
    ((RC == 0)) || fail "ingest $key failed ($RC): $OUT"
    [[ $MODE == ref ]] && INGEST_DUR[$key]=$(($(now_ms) - t0))
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
#     ingest's ~50 ms here are its start and the validation pass (measured: killed at 35 ms,
#     264 of 980 records were out; at 40 ms 885; at 45 ms all and the 12 end markers);
#   PLAN = "AT_MS SERVICE HOW FRACTION" lines for tick: 0, 1 or 2 reconciler kills (1, 5 and
#     4 times in 10), HOW "any" (1 in 3: at a moment of the reference's duration of the phase)
#     or "busy" (armed in its first 40 %, then during the next wave's writes, at FRACTION of
#     the wave's time); in the purge phase also 2-4 scheduler kills: the first in its first
#     400 ms, the others between its start and 3 s after the last purge date.
PLAN=()
declare -A INGEST_PLAN=()
plan_kills() { # PHASE
    local ph=$1 n i at how frac school role
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
    n=$((RNG < 1 ? 0 : RNG < 6 ? 1 : 2))
    for ((i = 0; i < 2; i++)); do
        rng 1000
        at=$RNG
        rng 3
        how=$( ((RNG)) && echo busy || echo any)
        # A busy kill waits for a wave: armed in the first 40 % of the phase, while the work is
        # still to come.
        [[ $how == busy ]] && at=$((at * 4 / 10))
        at=$((PHASE_T0 + d * at / 1000))
        rng 1000
        frac=$RNG
        ((i < n)) && PLAN+=("$at reconciler $how $frac")
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
        [[ $ph == P ]] && ((i < n)) && PLAN+=("$at scheduler any 0")
    done
    mapfile -t PLAN < <(printf '%s\n' "${PLAN[@]}" | sort -n)
    [[ -n ${PLAN[0]:-} ]] || PLAN=()
}

inflight_lines() { wc -l 2>/dev/null <"$STATE_DIR/inflight" || echo 0; }

# kill_reconciler HOW FRACTION: HOW any: now; busy: during the LDAP writes of a wave. The
# reconciler appends a wave's persons to the state dir's inflight file (fsync'd) just before
# it writes them, and empties the file when the batch is committed (a restarted one first
# reads what a killed one left there). So once the file grows by n persons, a wave of n is
# being written, which takes 0.6 ms (a change) to 0.9 ms (a new account) per person here
# (measured with log_level debug: "wave jobs=510 apply_s=0.471"). The kill comes at FRACTION
# (0..999 thousandths) of the wave's first n milliseconds. A wave of 20 or more is waited for,
# up to 8 s, then any.
kill_reconciler() {
    local how=$1 frac=$2 i n=0 n0 assigned=0
    ((${KILLS[reconciler]:-0} < MAX_RECONCILER_KILLS)) || return 0
    if [[ $how == busy ]]; then
        for ((i = 0; i < 150; i++)); do # up to 15 s: a member of the group, with partitions
            svc_log_since_start reconciler | grep -q partitions_assigned && break
            sleep 0.1
        done
        n0=$(inflight_lines)
        for ((i = 0; i < 800; i++)); do # up to 8 s
            n=$(inflight_lines)
            ((n < n0)) && n0=0 # a batch was committed
            ((n - n0 >= 20 || (i >= 500 && n > n0))) && break
            ((i % 50 == 49)) && phase_done "$PHASE" && break
            sleep 0.01
        done
        n=$((n - n0))
        if ((n <= 0)); then
            bump reconciler_no_work_left
            return 0
        fi
        sleep "$(ms_to_s $(((n < 1500 ? n : 1500) * frac / 1000)))"
    fi
    svc_log_since_start reconciler | grep -q partitions_assigned && assigned=1
    svc_kill9 reconciler
    n=$(inflight_lines) # the persons of the waves of batches not committed
    if ((!assigned)); then
        bump reconciler_while_joining
    elif ((n > 0)); then
        bump reconciler_mid_batch
    else
        bump reconciler_between_batches
    fi
    printf '  reconciler killed (%s): %s, %d persons in flight\n' "$how" \
        "$( ((assigned)) && echo "with partitions" || echo "while joining")" "$n"
    svc_start reconciler "$CFG" "$RUN"
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

# tick: the services still run (unless killed on purpose), and the kills that are due happen.
tick() {
    svc_alive_or_fail reconciler
    [[ -n ${SVC_PID[scheduler]:-} ]] && svc_alive_or_fail scheduler
    while ((${#PLAN[@]})); do
        local at svc how frac
        read -r at svc how frac <<<"${PLAN[0]}"
        (($(now_ms) >= at)) || break
        PLAN=("${PLAN[@]:1}")
        case $svc in
        reconciler) kill_reconciler "$how" "$frac" ;;
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
# limbo before or after the phase; whoever exists before and after the phase exists now.
sample() {
    local prev=$1 next=$2 now wrong gone
    now=$(persons_now)
    wrong=$(awk -F'\t' '$2 == "L" { print $1 }' <<<"$now" |
        LC_ALL=C comm -23 - <(LC_ALL=C sort -u "$EXP/limbo.$prev" "$EXP/limbo.$next"))
    [[ -z $wrong ]] || fail "in limbo, but active before and after phase $next: $(head -n 5 <<<"$wrong" | xargs)"
    gone=$(LC_ALL=C comm -12 "$EXP/exists.$prev" "$EXP/exists.$next" |
        LC_ALL=C comm -23 - <(cut -f1 <<<"$now"))
    [[ -z $gone ]] || fail "gone, but existing before and after phase $next: $(head -n 5 <<<"$gone" | xargs)"
    SAMPLES[$MODE]=$((${SAMPLES[$MODE]:-0} + 1))
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
    [[ -z $twice ]] || fail "more than one entry after phase $ph ($MODE run): $twice"
}

# set_eq EXPECTED_FILE ACTUAL_FILE WHAT: two sorted lists are equal, else fail naming the
# differences.
set_eq() {
    local actual missing extra
    actual=$(cat "$2") # once: $2 may be a pipe
    missing=$(LC_ALL=C comm -23 "$1" - <<<"$actual")
    extra=$(LC_ALL=C comm -13 "$1" - <<<"$actual")
    [[ -z $missing && -z $extra ]] && return 0
    fail "$3:"$'\n'"  missing: $(list10 "$missing")"$'\n'"  unexpected: $(list10 "$extra")"
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

# phase_stuck PHASE: fails naming what did not happen and what the reconciler said about it.
phase_stuck() {
    local ph=$1 left rid why=""
    if [[ $ph == P ]]; then
        left=$(LC_ALL=C comm -12 "$EXP/purged" <(persons_now | cut -f1))
        while read -r rid; do
            why+=$'\n'"  $rid: $(grep -E "(rejected|purge_skipped) record_uid=$rid " "$RUN/reconciler.log" |
                sed 's/.* reconciler //' | sort | uniq -c | xargs)"
        done < <(awk 'NR <= 5' <<<"$left")
        fail "phase P not done after $PHASE_LIMIT s ($MODE run): not purged: $(list10 "$left")$why"
    fi
    fail "phase $ph not done after $PHASE_LIMIT s ($MODE run): imports: $(imports_json |
        jq -r --argjson ids "$(printf '%s\n' "${IMPORTS_OF_PHASE[@]}" | jq -R . | jq -s .)" \
            'select(.import_id as $i | $ids | index($i)) | "\(.school)/\(.role) \(.state) \(.reported)/\(.partitions)"' | xargs)"
}

run_phase() { # PHASE
    local ph=$1 prev school role t_end
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
    while ! phase_done "$ph"; do
        (($(now_ms) - PHASE_T0 < PHASE_LIMIT * 1000)) || phase_stuck "$ph"
        tick
        sample "$prev" "$ph"
        sleep 0.3
    done
    t_end=$(now_ms)
    [[ $ph == P ]] && svc_stop scheduler
    # Kills planned after the work was done did not happen.
    LAND[not_needed]=$((${LAND[not_needed]:-0} + ${#PLAN[@]}))
    PLAN=()
    [[ $MODE == ref ]] && DUR[$ph]=$((t_end - PHASE_T0))
    printf '%s\t%s\t%s\n' "$ph" "$PHASE_T0" "$t_end" >>"$RUN/windows"
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
    local t0
    t0=$(now_ms)
    TMPDIR=$W start_stack --schools "${SCHOOLS[*]}"
    BASE=$STACK_BASE
    make_cfg
    svc_start reconciler "$CFG" "$RUN"
    for ph in "${PHASES[@]}"; do
        step "$MODE run: phase $ph"
        run_phase "$ph"
    done
    svc_stop reconciler
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
    "$B_/sisopi-audit" -c "$CFG" dump --topic events 2>/dev/null >"$RUN/events.json" ||
        fail "$MODE run: cannot dump sisopi.events"
    imports_json >"$RUN/imports.json"
    check_events
    run "$B_/sisopi-audit" -c "$CFG" dump --topic dlq
    assert_eq "" "$(grep '^{' <<<"$OUT" || true)" "$MODE run: no dead letters"
    if grep -l -E 'AddressSanitizer|runtime error:|LeakSanitizer' "$RUN"/*.log >/dev/null 2>&1; then
        fail "$MODE run: a sanitizer report in $(grep -l -E 'AddressSanitizer|runtime error:|LeakSanitizer' "$RUN"/*.log | xargs)"
    fi
    if [[ $MODE == ref ]]; then
        stop_stack
    fi
}

# Every MovedToLimbo, SchoolRemoved and Deleted is one the sequence calls for.
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
    [[ -z $wrong ]] || problem "events the sequence does not call for (type rid import cause partition offset):"$'\n'"$(head -n 20 <<<"$wrong")"
    # Repeats (the same input message's event twice) are allowed: counted.
    EVENTS_CHECKED[$MODE]=$(wc -l <"$RUN/removals")
    EVENTS_REPEATED[$MODE]=$(cut -f1,2,5,6 "$RUN/removals" | sort | uniq -d | wc -l)
    local bad
    bad=$(jq -r 'select(.event.type == "Rejected" or .event.type == "ImportIncomplete" or .event.type == "ImportHeld")
        | [.event.type, (.event.record_uid // .event.import_id), (.event.reason // "")] | @tsv' "$RUN/events.json")
    [[ -z $bad ]] || problem "events that must not happen:"$'\n'"$(head -n 10 <<<"$bad")"
    # Expected ones that are not there: changes made just before a crash whose events were
    # never published (docs/reconciler.md: events are not re-created then). A figure.
    MISSING_EVENTS[$MODE]=$({
        cut -f4,5 "$EXP/allowed"
        sed 's/^/Deleted\t/' "$EXP/purged"
    } | sort -u | comm -23 - <(cut -f1,2 "$RUN/removals" | sort -u) | wc -l)
}
declare -A EVENTS_CHECKED=() EVENTS_REPEATED=() MISSING_EVENTS=()

# ---------------------------------------------------------------------------------------------
rng_seed "$SEED"
run_sequence ref
REF=$W/ref
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
printf '  seed %s; %d persons; %d entries, %d attribute values compared: %s\n' \
    "$SEED" "$n_persons" "$n_entries" "$n_lines" "$COMPARED"
printf '  reference run %d s, faulty run %d s; %d + %d samples of the directory during the phases\n' \
    "${RUN_SECONDS[ref]}" "${RUN_SECONDS[fault]}" "${SAMPLES[ref]:-0}" "${SAMPLES[fault]:-0}"
printf '  kills: ingest %d, reconciler %d, scheduler %d\n' \
    "${KILLS[ingest]:-0}" "${KILLS[reconciler]:-0}" "${KILLS[scheduler]:-0}"
for k in "${!LAND[@]}"; do printf '    %-32s %d\n' "$k" "${LAND[$k]}"; done | sort
printf '  reconciler recoveries: %d times persons read back (inflight), %d partition rebuilds\n' \
    "$(grep -c inflight_recovered "$FLT/reconciler.log" || true)" \
    "$(grep -c partitions_rebuilt "$FLT/reconciler.log" || true)"
printf '  removal events checked: reference %d, faulty %d (%d repeated by re-delivery, %d not re-created after a crash)\n' \
    "${EVENTS_CHECKED[ref]}" "${EVENTS_CHECKED[fault]}" "${EVENTS_REPEATED[fault]}" "${MISSING_EVENTS[fault]}"
printf '  usernames moved on by a counter number (crash between counter and add): %d\n' "$n_uid_moved"
if ((${#PROBLEMS[@]})); then
    printf '\n' >&2
    for p in "${PROBLEMS[@]}"; do printf 'PROBLEM: %s\n\n' "$p" >&2; done
    fail "the faulty run did not converge to the reference (seed $SEED: SISOPI_FAULT_SEED=$SEED replays its kill plan)"
fi
PASSED=1
