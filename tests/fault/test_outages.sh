#!/usr/bin/env bash
# Outages: the directory and the broker go away while sisopi works, and come
# back; nothing is lost, nothing is applied twice in a harmful way, nobody is removed wrongly,
# and the directory ends equal to that of a run without any fault.
#
#   A  slapd down when a reconciler starts: exit 1 with a clear message, nothing consumed.
#   B  slapd killed (SIGKILL) in the middle of a 3,000-person import, down longer than the
#      reconciler's max.poll.interval.ms: it backs off, keeps its partitions (paused, still
#      polled), commits nothing; killed with SIGKILL during the outage, every record below the
#      committed offsets is in the directory; restarted after, it completes the import.
#   C  slapd stopped (SIGTERM) under two reconcilers, longer than max.poll.interval.ms, with a
#      rebalance during the retry (one member stopped with SIGSTOP until the group drops it,
#      then continued): partitions assigned meanwhile wait paused (their state cannot be
#      rebuilt), revoked ones leave the batch unapplied; everything converges afterwards.
#   D  every broker down and up again while two reconcilers apply 1,000 changes.
#   E  the ingest against a broker that cannot deliver: all brokers down (fails before
#      publishing), one broker down (some records delivered, the rest time out): exit 1 naming
#      the import and the records not delivered, no end marker, nobody removed; the same file
#      once the brokers are up completes the import (and removes the 50 it no longer lists).
#   F  the directory equals, entry by entry and value by value (groups included), that of a
#      second stack fed the same files without any fault, normalised as test_crash_convergence
#      does (fault_lib.sh: passwords, purge dates and counter values aside; a username moved
#      on by a counter number is counted, not a difference).
#   G  the scheduler during a broker outage: the orders for purges that come due meanwhile go
#      out once the brokers are back, and the reconciler deletes those accounts.
# After B, C, D and E: one account per person with its expected name, every person of a school
# in its "Domain Users" and role group. A difference from the run without faults is reported
# when seen and fails the test at the end (one run shows every step).
# Every wait is bounded; the outages last fixed times, nothing is timed for pass or fail.
# Figures go to the log (lines "figure: ...") for tests/fault/README.md.
# shellcheck disable=SC2016 # the conditions given to wait_for and eval expand when they run
# shellcheck source=tests/fault/fault_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

B_=$SISOPI_BUILD/services
OFFSETS=$SISOPI_BUILD/tests/group_offsets
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
[[ -x $OFFSETS ]] || fail "$OFFSETS is not built"
command -v curl >/dev/null || fail "curl is not installed"
command -v jq >/dev/null || fail "jq is not installed"

MAX_POLL_MS=8000 # the reconcilers' max.poll.interval.ms (librdkafka's floor: session.timeout.ms)
OUTAGE_S=12      # directory outages: longer than MAX_POLL_MS
BROKER_OUTAGE_S=15
GRACE_S=45 # deletion grace period: the purges of G come due during G's broker outage
N1=3000    # persons of SchA

step "start the stack; configs for the reconcilers (max.poll.interval.ms) and the ingest"
start_stack --schools "SchA SchB"
W=$STACK_DIR/work
mkdir -p "$W"
BASE=$STACK_BASE
BROKER=$(cat "$STACK_DIR/devbroker.pid")
SLAPD_PID=$(cat "$STACK_DIR/slapd.pid")
mapfile -d '' SLAPD_CMD <"/proc/$SLAPD_PID/cmdline"
[[ ${SLAPD_CMD[0]} == *slapd ]] || fail "unexpected slapd command line: ${SLAPD_CMD[*]}"

# variant OUT PROPERTIES [SED-EXPR]: the stack's config with more kafka.properties.
variant() {
    local out=$1 props=$2 extra=${3:-}
    sed -e "s|\[ \"heartbeat.interval.ms\", \"500\" \]|&$props|" \
        -e "s|deletion_grace_period = \"90d\";|deletion_grace_period = \"${GRACE_S}s\";|" \
        ${extra:+-e "$extra"} "$STACK_DIR/sisopi.cfg" >"$out"
    grep -q "\"${GRACE_S}s\"" "$out" || fail "could not write $out"
}
CFG=$W/base.cfg
variant "$CFG" ""
for n in 1 2; do
    # Debug logs: a reconciler says wave_start just before a wave's LDAP writes (B kills then).
    variant "$W/r$n.cfg" ", [ \"max.poll.interval.ms\", \"$MAX_POLL_MS\" ]" \
        "s|state_dir = .*|state_dir = \"$W/rec$n\";|; s|log_level = \"info\";|log_level = \"debug\";|"
    grep -q "max.poll.interval.ms" "$W/r$n.cfg" || fail "could not write $W/r$n.cfg"
    grep -q 'log_level = "debug";' "$W/r$n.cfg" || fail "could not write $W/r$n.cfg"
done
variant "$W/ingest.cfg" ', [ "message.timeout.ms", "4000" ]'

# The imports. I1: SchA. I2: SchB, 500 of them also in SchA. I3: SchA, 1,000 change classes.
# I4: I3 without P00001..P00050 (only in SchA: they go to limbo).
csv_head() { printf '%s\n' "record_uid,firstname,lastname,school,classes"; }
{
    csv_head
    awk -v n=$N1 'BEGIN { for (i = 1; i <= n; i++) printf "P%05d,Fn%05d,Ln%05d,SchA,SchA-%dc\n", i, i, i, i % 20 }'
} >"$W/i1.csv"
{
    csv_head
    awk 'BEGIN { for (i = 2501; i <= 3000; i++) printf "P%05d,Fn%05d,Ln%05d,SchB,SchB-%db\n", i, i, i, i % 10
                 for (i = 1; i <= 1000; i++) printf "Q%05d,Gn%05d,Mn%05d,SchB,SchB-%db\n", i, i, i, i % 10 }'
} >"$W/i2.csv"
{
    csv_head
    awk -v n=$N1 'BEGIN { for (i = 1; i <= n; i++)
        if (i <= 1000) printf "P%05d,Fn%05d,Ln%05d,SchA,SchA-x%d\n", i, i, i, i % 7
        else printf "P%05d,Fn%05d,Ln%05d,SchA,SchA-%dc\n", i, i, i, i % 20 }'
} >"$W/i3.csv"
{
    csv_head
    sed -n '52,$p' "$W/i3.csv"
} >"$W/i4.csv"
assert_eq "P00051" "$(sed -n '2p' "$W/i4.csv" | cut -d, -f1)" "I4 starts after the 50 it drops"

PIDS=()
LIB_AT_EXIT+=('for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; true')
FIGURES=()
# Differences from a run without faults are collected and fail the test at its end, so that
# one run shows every step's outcome.
FINDINGS=()
declare -A FOUND=()
finding() { # STEP: WHAT...: once per WHAT (a difference that stays is not found again)
    local what=${*#*: }
    [[ -z ${FOUND[$what]:-} ]] || return 0
    FOUND[$what]=1
    FINDINGS+=("$*")
    printf '%s: FINDING: %s\n' "$TEST_NAME" "$*" >&2
}
first() { awk -v n="$1" 'NR <= n' | paste -sd';'; } # first N: N lines on one (no SIGPIPE)
figure() {
    FIGURES+=("$*")
    printf '%s: figure: %s\n' "$TEST_NAME" "$*"
}
now() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
count() { # PATTERN FILE...: lines holding PATTERN
    local p=$1
    shift
    awk -v p="$p" 'index($0, p) { n++ } END { print n + 0 }' "$@"
}

# --- the directory -----------------------------------------------------------------------
slapd_stop() { # SIGNAL
    local pid
    pid=$(cat "$STACK_DIR/slapd.pid")
    kill "-$1" "$pid"
    wait_for 20 "slapd gone" eval '! proc_alive "$pid"'
}
slapd_start() {
    "${SLAPD_CMD[@]}" </dev/null >>"$STACK_DIR/slapd.log" 2>&1 &
    printf '%s\n' "$!" >"$STACK_DIR/slapd.pid"
    disown "$!" # stack.sh stop ends it; no job notice when a later step kills it
    wait_for 20 "slapd answers again" ldap_exists "$BASE"
}
# persons FILTER [BASE]: how many persons match.
persons() {
    ldap_search -b "${2:-$BASE}" "(&(objectClass=sisopiPerson)$1)" 1.1 |
        awk '/^dn:/ { n++ } END { print n + 0 }'
}
persons_are() { [[ $(persons "$1" "${3:-}") == "$2" ]]; }
record_uids() { # every ucsschoolRecordUID in the directory, sorted
    ldap_search -b "$BASE" "(ucsschoolRecordUID=*)" ucsschoolRecordUID |
        sed -n 's/^ucsschoolRecordUID: //p' | LC_ALL=C sort -u
}
# check_accounts STEP: what an outage must not change: one account per person, with the name
# it has without the outage (P00042 -> F.Ln00042, Q00042 -> G.Mn00042) or that name with a
# counter number (a creation cut after its username counter was taken: the counter never
# gives a number twice, as in the reference system; counted in COUNTER_MOVED), and every
# active person of a school in its "Domain Users" and role group (group changes are written
# after the entries: an interrupted batch must still complete them).
COUNTER_MOVED=0
check_accounts() {
    local bad school lc
    bad=$(ldap_search -b "$BASE" "(objectClass=sisopiPerson)" ucsschoolRecordUID uid | awk '
        /^dn:/ { if (r != "") check(); r = ""; u = "" }
        /^ucsschoolRecordUID: / { r = $2 }
        /^uid: / { u = $2 }
        function check(  want) {
            want = (substr(r, 1, 1) == "P" ? "F.Ln" : "G.Mn") substr(r, 2)
            if (u != want) print (u ~ ("^" want "[0-9]+$") ? "counter" : "other") "\t" r " is " u
            if (seen[r]++) print "other\t" r " has two accounts"
        }
        END { if (r != "") check() }')
    COUNTER_MOVED=$(grep -c '^counter' <<<"$bad" || true)
    bad=$(grep -v '^counter' <<<"$bad" | cut -f2 || true)
    [[ -z $bad ]] || finding "$1: $(wc -l <<<"$bad") accounts differ from a run without outage:" \
        "$(first 5 <<<"$bad")"
    for school in SchA SchB; do
        lc=${school,,}
        ldap_dns -b "$BASE" "(&(objectClass=sisopiPerson)(ucsschoolSchool=$school))" >"$W/dns"
        for g in "cn=Domain Users $school" "cn=schueler-$lc"; do
            ldap_attr "$g,cn=groups,ou=$school,$BASE" uniqueMember | LC_ALL=C sort >"$W/members"
            bad=$(LC_ALL=C comm -3 "$W/dns" "$W/members")
            [[ -z $bad ]] || finding "$1: $(wc -l <<<"$bad") persons of $school missing from $g" \
                "(or members not of the school): $(first 3 <<<"$bad")"
        done
    done
}

# dump_run DIR URI ROOTDN SECRET: one run's directory, dumped and normalised for comparing
# two runs (fault_lib.sh: uids as record_uids, passwords and counters masked); every purge
# date comes from I4.
dump_run() {
    local dir=$1 STACK_URI=$2 STACK_ROOTDN=$3 STACK_SECRET=$4 # for ldap_search, this run's
    mkdir -p "$dir"
    dir_triples "$dir/triples"
    awk -F'\t' -v OFS='\t' '$2 == "ucsschoolPurgeTimestamp" { print $3, "I4" }' "$dir/triples" |
        LC_ALL=C sort -u >"$dir/ts_labels"
    dir_normalise "$dir/triples" "$dir/ts_labels" "$dir/normalised" "$dir/uids"
}

# --- the reconcilers ---------------------------------------------------------------------
port_of() { sed -n 's/.*metrics_listening .*port=\([0-9]*\).*/\1/p' "$1" | tail -n 1; }
has_port() { [[ -n $(port_of "$1") ]]; }
health() { curl -sS --max-time 5 -o "$W/health.body" -w '%{http_code}' "http://127.0.0.1:$1/healthz"; }
healthy() { [[ $(health "$1") == 200 ]]; }
retrying() { [[ $(health "$1") == 503 ]] && grep -q retrying "$W/health.body"; }
all_committed() { group_caught_up "$CFG"; }
declare -A REC_PID REC_PORT REC_LOG
RUNS=0
start_rec() { # N: reconciler N (own state directory, max.poll.interval.ms) in the background
    local n=$1
    RUNS=$((RUNS + 1))
    REC_LOG[$n]=$W/r$n.run$RUNS.log
    : >"${REC_LOG[$n]}"
    "$B_/sisopi-reconciler" -c "$W/r$n.cfg" --metrics 127.0.0.1:0 >"${REC_LOG[$n]}" 2>&1 &
    REC_PID[$n]=$!
    PIDS+=("$!")
    wait_for 30 "reconciler $n logs its metrics port" has_port "${REC_LOG[$n]}"
    REC_PORT[$n]=$(port_of "${REC_LOG[$n]}")
}
rec_alive() { proc_alive "${REC_PID[$1]}" || fail "reconciler $1 died: $(tail -n 5 "${REC_LOG[$1]}")"; }
# settled N...: every listed reconciler is healthy, and everything is applied.
settled() {
    local n
    for n in "$@"; do
        healthy "${REC_PORT[$n]}" || return 1
    done
    all_committed
}
ingest_ok() { # CSV SCHOOL: publishes with the base config; sets IID
    run "$B_/sisopi-ingest" -c "$CFG" -q --school "$2" --role student "$1"
    ((RC == 0)) || fail "ingest of $1: exit $RC"$'\n'"$OUT"
    IID=$(sed -n 's/^import_id: *//p' <<<"$OUT")
}
users_dump() { "$B_/sisopi-audit" -c "$CFG" dump --topic users 2>/dev/null; }
ends_of() { users_dump | jq -r --arg i "$1" 'select(.message.type == "ImportEnd" and .message.import_id == $i) | .partition' | wc -l; }
records_of() { users_dump | jq -r --arg i "$1" 'select(.message.type == "UserRecord" and .message.import_id == $i) | .message.record_uid' | wc -l; }

# =========================================================================================
step "A: the directory down when the reconciler starts: exit 1, it says why, nothing consumed"
slapd_stop TERM
assert_rc 1 "reconciler with the directory down" \
    timeout 60 "$B_/sisopi-reconciler" -c "$W/r1.cfg" --until-idle --metrics ""
assert_contains "$OUT" "sisopi-reconciler: the directory is unreachable, nothing was consumed" \
    "the reason, first"
assert_contains "$OUT" "$STACK_URI" "the directory's URI"
assert_eq "" "$("$OFFSETS" -c "$CFG" 2>/dev/null | awk '$2 != -1')" "no offset committed"
slapd_start

# =========================================================================================
step "B: slapd killed in the middle of a $N1-person import, down longer than max.poll.interval.ms"
start_rec 1
ingest_ok "$W/i1.csv" SchA
# Killed (SIGKILL: no time to finish anything) in the middle of a wave of LDAP writes, once a
# third of the import is in: the reconciler logs wave_start with the wave's size just before
# its writes; the kill comes when a third of the wave's accounts are in the directory (its
# group changes come after its entries).
wait_for 120 "a third of the import in the directory" eval '(( $(persons "") >= N1 / 3 ))'
w0=$(grep -c 'wave_start' "${REC_LOG[1]}" || true)
for ((i = 0; i < 3000; i++)); do
    n=$(grep 'wave_start' "${REC_LOG[1]}" | tail -n +$((w0 + 1)) | sed -n 's/.*wave_start jobs=\([0-9]*\).*/\1/p' |
        awk '$1 >= 60' | head -n 1)
    [[ -n $n ]] && break
    sleep 0.01
done
((i < 3000)) || fail "no wave of 60 or more LDAP writes seen in 30 s"
wave=$n
c0=$(persons "")
for ((i = 0; i < 600; i++)); do
    (($(persons "") - c0 >= wave / 3)) && break
    sleep 0.02
done
((i < 600)) || fail "a third of the wave of $wave never reached the directory"
# Under load a batch before the outage may outlast max.poll.interval.ms and cost a rebalance
# (the member shrinks its batches then); what is checked is the outage, from the kill on.
REVOKED0=$(count partitions_revoked "${REC_LOG[1]}")
slapd_stop KILL
T0=$(now)
wait_for 60 "reconciler 1 retrying (503)" retrying "${REC_PORT[1]}"
"$OFFSETS" -c "$CFG" >"$W/b.off1"
# The outage outlasts max.poll.interval.ms; the member keeps polling and keeps its partitions.
sleep "$OUTAGE_S"
rec_alive 1
"$OFFSETS" -c "$CFG" >"$W/b.off2"
assert_eq "$(cat "$W/b.off1")" "$(cat "$W/b.off2")" "offsets committed during the outage"
assert_eq "$REVOKED0" "$(count partitions_revoked "${REC_LOG[1]}")" "partitions lost during the outage"
assert_eq 0 "$(count MAXPOLL "${REC_LOG[1]}")" "max.poll.interval.ms exceeded"
assert_eq 1 "$(count 'partitions_assigned count=12' "${REC_LOG[1]}")" "one assignment, all 12"
retries=$(count batch_retry "${REC_LOG[1]}")
((retries >= 3)) || fail "only $retries retries in ${OUTAGE_S}s"
committed=$(awk '$2 > 0 { s += $2 } END { print s + 0 }' "$W/b.off2")
((committed > 0)) || fail "nothing committed before the outage: the check below would be empty"
figure "B: slapd killed during a wave of $wave persons; ${committed} of $((N1 + 12)) messages committed;" \
    "$retries batch retries, outage $(since "$T0") s > max.poll.interval.ms ${MAX_POLL_MS} ms; 0 partitions lost"

step "B: killed with SIGKILL during the outage; every record below the committed offsets is applied"
kill -9 "${REC_PID[1]}"
wait "${REC_PID[1]}" 2>/dev/null || true
slapd_start
figure "B: directory outage $(since "$T0") s in all"
users_dump | jq -r --slurpfile c <(awk '{ printf "{\"p\":%s,\"c\":%s}\n", $1, $2 }' "$W/b.off2") '
    ($c | map({(.p | tostring): .c}) | add) as $m
    | select(.message.type == "UserRecord" and .offset < $m[.partition | tostring])
    | .message.record_uid' | LC_ALL=C sort -u >"$W/b.committed"
record_uids >"$W/b.present"
assert_eq "" "$(LC_ALL=C comm -23 "$W/b.committed" "$W/b.present" | first 5)" \
    "records below the committed offsets missing from the directory"
figure "B: $(wc -l <"$W/b.committed") records below the committed offsets, all in the directory;" \
    "$(wc -l <"$W/b.present") persons in it: the batch cut short had written" \
    "$(($(wc -l <"$W/b.present") - $(wc -l <"$W/b.committed"))) before the stop"

step "B: restarted after the outage, it completes the import: $N1 accounts, no duplicate"
start_rec 1
wait_for 120 "$N1 persons in SchA" persons_are "(ucsschoolSchool=SchA)" "$N1"
wait_for 60 "reconciler 1 settled" settled 1
assert_eq "$N1" "$(record_uids | wc -l)" "persons"
check_accounts B
figure "B: restarted: $COUNTER_MOVED usernames moved on by a counter number (creations cut" \
    "between taking the counter and adding the account); $(count batch_shrunk "${REC_LOG[1]}")" \
    "batches halved, $(count MAXPOLL "${REC_LOG[1]}") times max.poll.interval.ms exceeded by one batch"

# =========================================================================================
step "C: a second reconciler joins; both healthy"
start_rec 2
wait_for 60 "reconciler 2 has partitions" grep -q 'partitions_assigned count=\([1-9]\|1[01]\)$' "${REC_LOG[2]}"
wait_for 60 "reconciler 2 rebuilt their state from the directory" grep -q partitions_rebuilt "${REC_LOG[2]}"
wait_for 60 "both settled" settled 1 2
# I1 again (nothing changes): reconciler 2 commits its partitions, so the copies reconciler 1
# kept of them are old now; one that nobody committed since would be trusted again, not
# rebuilt (docs/reconciler.md), and the rebuild below would never be needed.
ingest_ok "$W/i1.csv" SchA
wait_for 60 "both settled after I1 again" settled 1 2
R1_REBAL=$(count partitions_ "${REC_LOG[1]}")
R2_REBAL=$(count partitions_ "${REC_LOG[2]}")
MAXPOLL=$(count MAXPOLL "${REC_LOG[1]}" "${REC_LOG[2]}")

step "C: slapd stopped (SIGTERM) under both, an import of 1,500 waits, longer than max.poll.interval.ms"
# The ingest reads the directory before it publishes (the school, the deletion guard), so the
# import goes out first, with both reconcilers stopped (SIGSTOP, for less than
# session.timeout.ms), and the directory goes away before they apply any of it.
kill -STOP "${REC_PID[1]}" "${REC_PID[2]}"
T1=$(now)
ingest_ok "$W/i2.csv" SchB
slapd_stop TERM
T0=$(now)
kill -CONT "${REC_PID[1]}" "${REC_PID[2]}"
figure "C: both reconcilers stopped $(since "$T1") s while the ingest published (session.timeout.ms 6 s)"
wait_for 60 "both retrying" eval 'retrying "${REC_PORT[1]}" && retrying "${REC_PORT[2]}"'
sleep "$OUTAGE_S"
rec_alive 1
rec_alive 2
assert_eq "$R1_REBAL" "$(count partitions_ "${REC_LOG[1]}")" "reconciler 1: a rebalance during the outage"
assert_eq "$R2_REBAL" "$(count partitions_ "${REC_LOG[2]}")" "reconciler 2: a rebalance during the outage"
assert_eq "$MAXPOLL" "$(count MAXPOLL "${REC_LOG[1]}" "${REC_LOG[2]}")" "max.poll.interval.ms exceeded during the outage"

step "C: a rebalance during the retry: reconciler 2 stopped (SIGSTOP) until the group drops it"
kill -STOP "${REC_PID[2]}"
wait_for 60 "reconciler 1 takes reconciler 2's partitions while retrying" \
    grep -q 'rebalance_while_retrying assigned=' "${REC_LOG[1]}"
wait_for 30 "their state cannot be rebuilt: they wait, paused" grep -q prepare_deferred "${REC_LOG[1]}"
kill -CONT "${REC_PID[2]}"
wait_for 60 "reconciler 1 gives partitions back while retrying" \
    grep -q 'rebalance_while_retrying revoked=' "${REC_LOG[1]}"
wait_for 60 "reconciler 2 has partitions again" eval \
    '(( $(count partitions_assigned "${REC_LOG[2]}") >= 2 ))'
rec_alive 1
rec_alive 2
retries=$(count batch_retry "${REC_LOG[1]}" "${REC_LOG[2]}")
dropped=$(sed -n 's/.*messages_dropped count=\([0-9]*\).*/\1/p' "${REC_LOG[1]}" "${REC_LOG[2]}" |
    awk '{ s += $1 } END { print s + 0 }')
slapd_start
figure "C: directory outage $(since "$T0") s (SIGTERM) under 2 reconcilers; $retries batch retries;" \
    "$(count rebalance_while_retrying "${REC_LOG[1]}") rebalances seen by reconciler 1 while retrying," \
    "$(count prepare_deferred "${REC_LOG[1]}" "${REC_LOG[2]}") preparations deferred," \
    "$dropped messages of revoked partitions dropped unapplied"

step "C: after the outage: 1,500 in SchB, 500 of them also in SchA, one account each"
wait_for 120 "1500 persons in SchB" persons_are "(ucsschoolSchool=SchB)" 1500
wait_for 60 "both settled" settled 1 2
assert_eq 500 "$(persons "(ucsschoolSchool=SchA)(ucsschoolSchool=SchB)")" "persons in both schools"
assert_eq $((N1 + 1000)) "$(record_uids | wc -l)" "persons"
check_accounts C
# Each deferred preparation ended: prepared once the directory was back, or the partitions
# went back to their owner (whose own copy, committed last by itself, needs no rebuild).
for n in 1 2; do
    awk '/prepare_deferred/ { open = 1 } /partitions_prepared|partitions_revoked/ { open = 0 }
        END { exit open }' "${REC_LOG[$n]}" ||
        fail "reconciler $n: deferred partitions never prepared nor given back"
done

# =========================================================================================
step "D: every broker down for ${BROKER_OUTAGE_S}s, then up, while two reconcilers apply 1,000 changes"
ingest_ok "$W/i3.csv" SchA
kill -USR1 "$BROKER"
T0=$(now)
wait_for 10 "the devbroker took its brokers down" grep -q brokers_down "$STACK_DIR/devbroker.log"
sleep "$BROKER_OUTAGE_S"
kill -USR2 "$BROKER"
figure "D: all brokers down $(since "$T0") s"
# The members lost the group (session.timeout.ms passed): they rejoin, rebuild, go on.
klass() { # members of the classes I3 introduced
    ldap_search -b "ou=SchA,$BASE" "(&(objectClass=ucsschoolGroup)(cn=SchA-x*))" uniqueMember |
        awk '/^uniqueMember:/ { n++ } END { print n + 0 }'
}
wait_for 180 "1000 persons in the new classes" eval '[[ $(klass) == 1000 ]]'
wait_for 60 "both settled" settled 1 2
rec_alive 1
rec_alive 2
assert_eq "$N1" "$(persons "(ucsschoolSchool=SchA)")" "SchA's persons"
check_accounts D
figure "D: reconcilers: $(count consumer_error "${REC_LOG[1]}" "${REC_LOG[2]}") consumer errors," \
    "$(count commit_failed "${REC_LOG[1]}" "${REC_LOG[2]}") commits refused," \
    "$(count batch_retry "${REC_LOG[1]}" "${REC_LOG[2]}") batch retries in all so far"

# =========================================================================================
step "E: the ingest with every broker down: exit 1 before publishing"
"$OFFSETS" -c "$CFG" >"$W/e.off1"
kill -USR1 "$BROKER"
assert_rc 1 "ingest with the brokers down" \
    timeout 120 "$B_/sisopi-ingest" -c "$W/ingest.cfg" -q --school SchA --role student "$W/i4.csv"
assert_contains "$OUT" "cannot read the cluster's metadata" "why"
kill -USR2 "$BROKER"
wait_for 30 "the broker answers again" eval '"$OFFSETS" -c "$CFG" >"$W/e.off2" 2>/dev/null'
assert_eq "$(awk '{ print $1, $3 }' "$W/e.off1")" "$(awk '{ print $1, $3 }' "$W/e.off2")" \
    "sisopi.users unchanged"

step "E: broker 1 down alone: part of the records delivered, the rest not: exit 1, no end marker"
kill -s RTMIN+1 "$BROKER"
wait_for 10 "broker 1 down" grep -q 'brokers_down brokers=1$' "$STACK_DIR/devbroker.log"
assert_rc 1 "ingest with broker 1 down" \
    timeout 120 "$B_/sisopi-ingest" -c "$W/ingest.cfg" -q --school SchA --role student "$W/i4.csv"
kill -USR2 "$BROKER"
IP=$(sed -n 's/^import_id: *//p' <<<"$OUT")
[[ -n $IP ]] || fail "no import_id printed"$'\n'"$OUT"
assert_contains "$OUT" "sisopi-ingest: import $IP of $W/i4.csv: " "the error names the import and file"
assert_contains "$OUT" "no end marker was sent, so this import removes nobody" "the consequence"
lost=$(sed -n "s/^sisopi-ingest: import .*: \([0-9]*\) of $((N1 - 50)) records were not delivered.*/\1/p" <<<"$OUT")
if [[ -z $lost ]] || ((lost == 0 || lost >= N1 - 50)); then
    fail "not a partial delivery:"$'\n'"$OUT"
fi
wait_for 30 "the broker answers again" eval '"$OFFSETS" -c "$CFG" >/dev/null 2>&1'
assert_eq 0 "$(ends_of "$IP")" "end markers of the failed import on sisopi.users"
delivered=$(records_of "$IP")
((delivered + lost == N1 - 50)) ||
    fail "delivered ($delivered) + not delivered ($lost) != $((N1 - 50)) records"
wait_for 60 "both settled" settled 1 2
assert_eq 0 "$(persons "" "ou=limbo,$BASE")" "persons in limbo after the half-published import"
assert_eq "$N1" "$(persons "(ucsschoolSchool=SchA)")" "SchA's persons after the half-published import"
figure "E: broker 1 of 3 down: $delivered of $((N1 - 50)) records delivered, $lost timed out" \
    "(message.timeout.ms 4000), 0 end markers, 0 persons removed, exit 1"

step "E: the same file with the brokers up completes the import: the 50 it drops go to limbo"
ingest_ok "$W/i4.csv" SchA
I4=$IID
assert_eq 12 "$(ends_of "$I4")" "end markers"
wait_for 120 "50 persons in limbo" persons_are "" 50 "ou=limbo,$BASE"
wait_for 60 "both settled" settled 1 2
assert_eq $((N1 - 50)) "$(persons "(ucsschoolSchool=SchA)")" "SchA's persons"
for r in 1 2; do rec_alive "$r"; done

# =========================================================================================
# At once, while the 50 purge dates (now + GRACE_S) are ahead; the checks of E follow.
step "G: the scheduler starts, then every broker goes down before the purges come due"
due=$(ldap_search -b "ou=limbo,$BASE" "(objectClass=sisopiPerson)" ucsschoolPurgeTimestamp |
    sed -n 's/^ucsschoolPurgeTimestamp: //p' | LC_ALL=C sort | tail -n 1)
[[ $due =~ ^[0-9]{14}Z$ ]] || fail "no purge date in the limbo OU: \"$due\""
due_s=$(date -u -d "$(sed -E 's/^(....)(..)(..)(..)(..)(..)Z$/\1-\2-\3 \4:\5:\6/' <<<"$due")" +%s)
: >"$W/sched.log"
"$B_/sisopi-scheduler" -c "$CFG" --metrics "" >"$W/sched.log" 2>&1 &
SCHED=$!
PIDS+=("$!")
wait_for 30 "the scheduler swept the directory" grep -q 'swept found=50' "$W/sched.log"
kill -USR1 "$BROKER"
T0=$(now)
((due_s > EPOCHSECONDS)) || fail "the purge date $due passed before the brokers went down"
check_accounts E
dump_run "$W/outage" "$STACK_URI" "$STACK_ROOTDN" "$STACK_SECRET"

# =========================================================================================
step "F: meanwhile a second stack is fed the same files without any fault"
REF=$W/ref
LIB_AT_EXIT+=('"$STACK_SH" stop --dir "$REF" >/dev/null 2>&1 || true')
run "$STACK_SH" start --dir "$REF" --schools "SchA SchB" --build "$SISOPI_BUILD"
((RC == 0)) || fail "reference stack: $OUT"
declare -A REFST=()
while IFS='=' read -r k v; do REFST[$k]=$v; done <"$REF/stack.env"
for f in i1 i2 i3 i4; do
    school=SchA
    [[ $f == i2 ]] && school=SchB
    assert_ok "reference ingest $f" "$B_/sisopi-ingest" -c "$REF/sisopi.cfg" -q --school "$school" \
        --role student "$W/$f.csv"
done
assert_ok "reference reconciler" timeout 300 "$B_/sisopi-reconciler" -c "$REF/sisopi.cfg" \
    --until-idle --metrics ""
dump_run "$W/reference" "${REFST[URI]}" "${REFST[ROOTDN]}" "$REF/ldap.secret"
"$STACK_SH" stop --dir "$REF" >/dev/null 2>&1 || true
O=$W/outage R=$W/reference
# Usernames: equal, or the same base with a counter number (see check_accounts).
moved=$(LC_ALL=C join -t $'\t' "$R/uids" "$O/uids" | awk -F'\t' '$2 != $3 {
        n = length($2); c = substr($3, 1, n) == $2 && substr($3, n + 1) ~ /^[0-9]+$/
        print (c ? "counter" : "other") "\t" $0 }')
other=$(grep -v '^counter' <<<"$moved" || true)
[[ -z $other ]] || finding "F: usernames differ by more than a counter number: $(first 5 <<<"$other")"
counters() { awk -F'\t' '$2 == "ucsschoolUsernameNextNumber" { print $1 "\t" $3 }' "$1/triples" | LC_ALL=C sort; }
behind=$(LC_ALL=C join -t $'\t' <(counters "$R") <(counters "$O") | awk -F'\t' '$3 < $2')
[[ -z $behind ]] || finding "F: counters behind the run without faults: $(first 5 <<<"$behind")"
if ! bad=$(dir_integrity "$O/triples"); then
    finding "F: groups name members that do not exist ($(wc -l <<<"$bad")): $(first 3 <<<"$bad")"
fi
diff "$R/normalised" "$O/normalised" >"$W/difference" || true
if [[ -s $W/difference ]]; then
    finding "F: $(grep -c '^[<>]' "$W/difference") attribute values differ from the run without" \
        "faults (< without, > with the outages; $W/difference): $(grep '^[<>]' "$W/difference" | first 4)"
fi
figure "F: compared with the run without faults: $(cut -f1 "$O/normalised" | LC_ALL=C sort -u | wc -l) entries," \
    "$(wc -l <"$O/normalised") attribute values, $(grep -c '^[<>]' "$W/difference" || true) differ;" \
    "$(grep -c '^counter' <<<"$moved" || true) usernames moved on by a counter number"

# =========================================================================================
step "G: the purge dates pass while the brokers are down; the orders go out once they are up"
wait_for $((GRACE_S + 60)) "the purge date passed" eval '(( EPOCHSECONDS > due_s + 1 ))'
wait_for 30 "the scheduler sent (queued) the 50 orders" \
    eval '(( $(count purge_due_sent "$W/sched.log") >= 50 ))'
assert_eq 50 "$(persons "" "ou=limbo,$BASE")" "persons in limbo while the brokers are down"
kill -USR2 "$BROKER"
figure "G: all brokers down $(since "$T0") s, the 50 purges came due during it"
wait_for 120 "the 50 purged" persons_are "" 0 "ou=limbo,$BASE"
proc_alive "$SCHED" || fail "the scheduler died: $(tail -n 5 "$W/sched.log")"
assert_eq 0 "$(count purge_due_lost "$W/sched.log")" "orders lost"
assert_eq $((N1 - 50 + 1000)) "$(record_uids | wc -l)" "the other accounts"
figure "G: 50 PurgeDue orders queued during the outage, delivered after it, 50 accounts deleted, 0 lost"

step "the figures"
printf '  %s\n' "${FIGURES[@]}"
if ((${#FINDINGS[@]})); then
    fail "${#FINDINGS[@]} differences from a run without faults:"$'\n'"$(printf '  %s\n' "${FINDINGS[@]}")"
fi
