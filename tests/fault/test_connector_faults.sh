#!/usr/bin/env bash
# sisopi-connector under faults, against the stack's slapd, three authority directories and
# the devbroker:
#   1. nord's slapd is killed (SIGKILL) while persons change at schools of nord and sued: sued
#      keeps up (its connector catches up alone), nord's connector retries without committing
#      (/healthz 503, retries counted) and converges once nord's slapd is back;
#   2. nord's connector is killed with SIGKILL at seeded random moments while it replicates a
#      batch of creations, moves and departures; after a last uninterrupted run nord holds
#      exactly what ref (the same mapping, one uninterrupted run) holds, and verify agrees.
# shellcheck disable=SC2016 # expressions in single quotes are for eval, later
# shellcheck source=tests/fault/fault_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"
# shellcheck source=tests/integration/connector_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/connector_lib.sh"

have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
command -v curl >/dev/null || fail "curl is not installed (deploy/install-deps.sh installs it)"
rng_seed "${SISOPI_FAULT_SEED:-7}"

step "start the central stack and three authority directories"
start_stack --schools "Gym1 Gs2 Rs3"
W=$STACK_DIR/work
mkdir -p "$W"
CFG0=$W/sisopi.cfg
sisopi_cfg_for_moves "$CFG0"
start_authority nord "Gym1 Gs2"
start_authority sued "Rs3"
start_authority ref "Gym1 Gs2"
CFG=$W/connector.cfg
{
    cat "$CFG0"
    printf 'connector = {\n  metrics = "";\n  authorities = (\n'
    authority_entry nord 'passwords = true;'
    printf ',\n'
    authority_entry sued
    printf ',\n'
    authority_entry ref 'passwords = true;'
    printf '\n  );\n  school_to_authority = ( [ "Gym1", "nord", "ref" ], [ "Gs2", "nord", "ref" ],\n'
    printf '                          [ "Rs3", "sued" ] );\n};\n'
} >"$CFG"
PIDS=()
LIB_AT_EXIT+=('for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; true' svc_stop_all)

# school_file SCHOOL FIRST LAST [SUFFIX]: students FIRST..LAST (S-<n>, last name Name<n>SUFFIX).
school_file() {
    local f=$W/$1.csv i
    printf '%s\n' 'record_uid,firstname,lastname,school,classes,password' >"$f"
    for ((i = $2; i <= $3; i++)); do
        printf 'S-%d,Vor%d,Name%d%s,%s,%s,Passwort-sehr-geheim-1\n' "$i" "$i" "$i" "${4:-}" "$1" \
            "$((i % 3 + 1))a" >>"$f"
    done
    ingest "$CFG0" "$1" student "$f"
}

step "initial load: Gym1 and Rs3 at both of their authorities"
school_file Gym1 1 20
school_file Rs3 11 30
reconcile "$CFG0"
connect "$CFG" nord
connect "$CFG" sued
assert_eq 20 "$(a_count nord)" "nord holds Gym1's 20"
assert_eq 20 "$(a_count sued)" "sued holds Rs3's 20"

step "nord's slapd is killed: sued keeps up alone, nord's connector retries"
SLAPD_PID=$(cat "${ADIR[nord]}/slapd.pid")
mapfile -d '' SLAPD_CMD <"/proc/$SLAPD_PID/cmdline"
[[ ${SLAPD_CMD[0]} == *slapd ]] || fail "unexpected slapd command line: ${SLAPD_CMD[*]}"
kill -9 "$SLAPD_PID"
wait_for 10 "nord's slapd gone" eval '! proc_alive "$SLAPD_PID"'
school_file Gym1 1 20 -neu
school_file Rs3 11 30 -neu
reconcile "$CFG0"
connect "$CFG" sued
assert_eq "Name15-neu" "$(a_val sued S-15 sn)" "sued converged while nord is down"
"$B_/sisopi-connector" -c "$CFG" --authority nord --until-idle --metrics 127.0.0.1:0 \
    >"$W/nord-outage.log" 2>&1 &
NPID=$!
PIDS+=("$NPID")
port() { sed -n 's/.*metrics_listening .*port=\([0-9]*\).*/\1/p' "$W/nord-outage.log" | tail -n 1; }
wait_for 30 "nord's connector serves its metrics" eval '[[ -n $(port) ]]'
health() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port)/healthz"; }
wait_for 60 "nord's connector unhealthy while its directory is away" eval '[[ $(health) == 503 ]]'
retries=$(curl -s "http://127.0.0.1:$(port)/metrics" |
    sed -n 's/^sisopi_connector_retries_total{authority="nord"} //p')
((retries >= 1)) || fail "retries counted: '$retries'"
"${SLAPD_CMD[@]}" </dev/null >>"${ADIR[nord]}/slapd.log" 2>&1 &
printf '%s\n' "$!" >"${ADIR[nord]}/slapd.pid"
rc=0
wait_for 120 "nord's connector caught up after the outage" eval '! proc_alive "$NPID"'
wait "$NPID" || rc=$?
((rc == 0)) || fail "nord's connector exit $rc: $(tail -n 20 "$W/nord-outage.log")"
assert_eq "Name15-neu" "$(a_val nord S-15 sn)" "nord converged after the outage"
assert_rc 0 "verify nord" "$B_/sisopi-connector" -c "$CFG" verify --authority nord
assert_rc 0 "verify sued" "$B_/sisopi-connector" -c "$CFG" verify --authority sued

step "SIGKILL of nord's connector at random moments converges to ref's uninterrupted state"
connect "$CFG" ref # ref catches up with everything so far, uninterrupted
N=3000
school_file Gs2 10 "$N"   # 10..20 move in from Gym1 (added first, then Gym1 drops them)
school_file Gym1 1 9 -x   # 10..20 leave Gym1; 1..9 change
school_file Rs3 40 45     # Rs3 changes: nothing of nord's
reconcile "$CFG0"
# Each kill lands while the connector works: a random 0..300 ms after it has made a new
# entry (so the kills cannot all fall before its group join).
have=$(a_count nord)
for ((k = 1; k <= 6; k++)); do
    svc_start connector "$CFG" "$W" --authority nord --metrics ""
    wait_for 90 "nord's connector at work" eval '(($(a_count nord) > have))'
    rng 300
    sleep "0.$(printf '%03d' "$RNG")"
    svc_kill9 connector
    have=$(a_count nord)
    printf '%s: kill %d, 0.%03d s after a new entry: %d entries at nord\n' "$TEST_NAME" "$k" "$RNG" "$have"
done
assert_eq "${KILLS[connector]}" 6 "six kills"
((have < N)) || fail "the kills did not interrupt the work ($have of $N entries made)"
connect "$CFG" nord
connect "$CFG" ref
a_dump nord >"$W/nord.dump"
a_dump ref >"$W/ref.dump"
[[ -s $W/ref.dump ]] || fail "ref's dump is empty"
diff -u "$W/ref.dump" "$W/nord.dump" >"$W/dump.diff" ||
    fail "nord differs from ref after the kills:"$'\n'"$(head -n 40 "$W/dump.diff")"
assert_eq "$N" "$(a_count nord)" "nord holds 1..$N (Gym1 1..9, Gs2 10..$N)"
assert_rc 0 "verify nord" "$B_/sisopi-connector" -c "$CFG" verify --authority nord
