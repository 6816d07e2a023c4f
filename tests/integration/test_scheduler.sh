#!/usr/bin/env bash
# sisopi-scheduler with a running reconciler, a real slapd and the devbroker: accounts in limbo
# in all four roles are deleted once their (short) grace period is over and never before; an
# account not due yet stays until its own date; a person listed again before the date stays;
# an administrator-only account with a past purge date stays (warning); the scheduler killed
# with SIGKILL and started again (it keeps no local state) still purges on time; a purged
# account leaves the groups that held it, hand-made ones included; a duplicate PurgeDue deletes
# once; --once and `sisopi-admin purge list` report what is due.
# shellcheck disable=SC2016 # expressions in single quotes are for eval, later
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
INJECT=$SISOPI_BUILD/tests/users_inject
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
GRACE=20 # seconds: long enough to act before the date, short enough to wait for it

step "start the stack"
start_stack --schools "SchA SchB"
W=$STACK_DIR/work
mkdir -p "$W"
BASE=$STACK_BASE
sed -e "s/deletion_grace_period = \"90d\";/deletion_grace_period = \"${GRACE}s\";\n  deletion_guard: { max_ratio = 1.0; max_count = 1000; };/" \
    "$STACK_DIR/sisopi.cfg" >"$W/sisopi.cfg"
CFG=$W/sisopi.cfg
grep -q "\"${GRACE}s\"" "$CFG" || fail "could not write the test config"

q() { ldap_search -b "$BASE" "$@"; }
dn_of() { q "(ucsschoolRecordUID=$1)" 1.1 | sed -n 's/^dn: //p'; }
attr() { q "(ucsschoolRecordUID=$1)" "$2" | sed -n "s/^$2: //p" | sort | xargs; }
exists() { [[ -n $(dn_of "$1") ]]; }
in_limbo() { [[ $(dn_of "$1") == *",ou=limbo,$BASE" ]]; }
events() { "$B_/sisopi-audit" -c "$CFG" dump --topic events 2>/dev/null; }
users() { "$B_/sisopi-audit" -c "$CFG" dump --topic users 2>/dev/null; }
all() { # CMD RID...: CMD holds for every RID
    local c=$1 r
    shift
    for r in "$@"; do "$c" "$r" || return 1; done
}
none() {
    local c=$1 r
    shift
    for r in "$@"; do "$c" "$r" && return 1; done
    return 0
}
ingest() { # SCHOOL ROLE LINE...: publishes that school's export of the role
    local school=$1 role=$2 f=$W/$1-$2-$RANDOM.csv
    shift 2
    printf '%s\n' "record_uid,firstname,lastname,school,classes" "$@" >"$f"
    run "$B_/sisopi-ingest" -c "$CFG" -q --school "$school" --role "$role" "$f"
    ((RC == 0)) || fail "ingest $school/$role failed ($RC): $OUT"
}
REC_PID=""
SCH_PID=""
start_reconciler() {
    "$B_/sisopi-reconciler" -c "$CFG" >>"$W/reconciler.log" 2>&1 &
    REC_PID=$!
}
start_scheduler() {
    "$B_/sisopi-scheduler" -c "$CFG" >>"$W/scheduler.log" 2>&1 &
    SCH_PID=$!
}
LIB_AT_EXIT+=('for p in $REC_PID $SCH_PID; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; true')
FIRST_GONE=(S1 S2 T1 F1 TS1)

step "the scheduler's own checks: --help, bad usage, an unreadable config"
assert_rc 0 "--help" "$B_/sisopi-scheduler" --help
assert_contains "$OUT" "--once" "help names --once"
assert_rc 64 "an unknown option" "$B_/sisopi-scheduler" --bogus
assert_rc 1 "a missing config" "$B_/sisopi-scheduler" -c "$W/nope.cfg" --once
assert_contains "$OUT" "nope.cfg" "the error names the file"

step "SchA lists one person of every role, and three more students"
start_reconciler
ingest SchA student "S1,Sa,One,SchA,1a" "S2,Sb,Two,SchA,1a" "R1,Ra,Back,SchA,1a" "N1,Na,Later,SchA,1a"
ingest SchA teacher "T1,Ta,Teach,SchA,1a"
ingest SchA staff "F1,Fa,Staff,SchA,"
ingest SchA teacher_and_staff "TS1,Tsa,Both,SchA,1a"
wait_for 60 "all six accounts created" all exists S1 S2 R1 N1 T1 F1 TS1

step "a hand-made group holds S1, N1 and R1; an administrator has an old purge date"
uid_s1=$(attr S1 uid)
uid_n1=$(attr N1 uid)
uid_r1=$(attr R1 uid)
WG="cn=workgroup-chess,cn=groups,ou=SchA,$BASE"
# shellcheck disable=SC2119 # no arguments: the LDIF comes on stdin
ldap_add >/dev/null <<EOF
dn: $WG
objectClass: sisopiGroup
cn: workgroup-chess
uniqueMember: $(dn_of S1)
uniqueMember: $(dn_of N1)
uniqueMember: $(dn_of R1)
memberUid: $uid_s1
memberUid: $uid_n1
memberUid: $uid_r1

dn: uid=admin-sch,ou=SchA,$BASE
objectClass: inetOrgPerson
objectClass: ucsschoolAdministrator
uid: admin-sch
cn: admin-sch
sn: Admin
ucsschoolSourceUID: $(attr S1 ucsschoolSourceUID)
ucsschoolRecordUID: ADM1
ucsschoolPurgeTimestamp: 20200101000000Z
pwdAccountLockedTime: 000001010000Z
EOF

step "the scheduler starts; SchA drops S1, S2, R1, T1, F1 and TS1: limbo with a ${GRACE} s grace"
start_scheduler
ingest SchA student "N1,Na,Later,SchA,1a"
ingest SchA teacher "T2,Tb,Teach,SchA,1a"
ingest SchA staff "F2,Fb,Staff,SchA,"
ingest SchA teacher_and_staff "TS2,Tsb,Both,SchA,1a"
wait_for 60 "all six in limbo" all in_limbo S1 S2 R1 T1 F1 TS1
# The hand-made group also holds S2 by its current (limbo) DN and uid.
uid_s2=$(attr S2 uid)
# shellcheck disable=SC2119 # no arguments: the LDIF comes on stdin
printf 'dn: %s\nchangetype: modify\nadd: uniqueMember\nuniqueMember: %s\n-\nadd: memberUid\nmemberUid: %s\n' \
    "$WG" "$(dn_of S2)" "$uid_s2" | ldap_modify >/dev/null
t_limbo=$(date +%s)
purge_ts=$(attr S1 ucsschoolPurgeTimestamp)
[[ $purge_ts =~ ^[0-9]{14}Z$ ]] || fail "S1 purge timestamp: $purge_ts"
purge_s=$(date -u -d "${purge_ts:0:8} ${purge_ts:8:2}:${purge_ts:10:2}:${purge_ts:12:2}" +%s)
((purge_s > t_limbo)) || fail "the purge date $purge_ts is not in the future"

step "SchB lists R1 before the date: reactivated, same account"
ingest SchB student "R1,Ra,Back,SchB,2b"
wait_for 60 "R1 back in SchB" eval '[[ $(dn_of R1) == *",ou=SchB,$BASE" ]]'
assert_eq "" "$(attr R1 ucsschoolPurgeTimestamp)" "R1 has no purge date"

step "N1 leaves SchA a little later: its own, later date"
sleep 3
ingest SchA student "S9,Sn,New,SchA,1a"
wait_for 60 "N1 in limbo" in_limbo N1
n1_ts=$(attr N1 ucsschoolPurgeTimestamp)
[[ $n1_ts > $purge_ts ]] || fail "N1's date $n1_ts is not after $purge_ts"

step "the scheduler is killed (SIGKILL) before the date and started again"
(($(date +%s) < purge_s)) || fail "too slow: the purge date passed before the kill (raise GRACE)"
all exists "${FIRST_GONE[@]}" || fail "an account went before its date"
kill -9 "$SCH_PID"
wait "$SCH_PID" 2>/dev/null || true
start_scheduler

step "after the date the five are deleted, not before; N1, R1 and the administrator stay"
wait_for $((GRACE + 60)) "the five purged" none exists "${FIRST_GONE[@]}"
t_gone=$(date +%s)
((t_gone >= purge_s)) || fail "purged at $t_gone, before the date $purge_s"
exists R1 || fail "R1 (reactivated) was deleted"
exists ADM1 || fail "the administrator was deleted"
if (($(date +%s) < $(date -u -d "${n1_ts:0:8} ${n1_ts:8:2}:${n1_ts:10:2}:${n1_ts:12:2}" +%s))); then
    exists N1 || fail "N1 was deleted before its date"
fi
members=$(ldap_search -b "$WG" -s base '(objectClass=*)' memberUid uniqueMember)
assert_not_contains "$members" "$uid_s1" "S1 left the hand-made group"
assert_not_contains "$members" "$uid_s2" "S2 left the hand-made group (held by its current DN)"
assert_contains "$members" "$uid_r1" "R1 is still in the hand-made group"

step "N1 goes at its own date"
wait_for $((GRACE + 60)) "N1 purged" none exists N1
members=$(ldap_search -b "$WG" -s base '(objectClass=*)' memberUid uniqueMember)
assert_not_contains "$members" "$uid_n1" "N1 left the hand-made group"
assert_eq 0 "$(q "(|(memberUid=$uid_s1)(memberUid=$uid_n1))" 1.1 | grep -c '^dn:' || true)" \
    "no group anywhere holds a purged account"

step "every order and every deletion came on or after its date"
ev=$(events)
deleted=$(jq -r 'select(.event.type=="Deleted") | .event.record_uid' <<<"$ev" | sort | xargs)
assert_eq "F1 N1 S1 S2 T1 TS1" "$deleted" "Deleted events"
early=$(jq -r 'select(.event.type=="Deleted" and .event.produced_at < .event.purge_at) | .event.record_uid' <<<"$ev")
assert_eq "" "$early" "no deletion before its purge date"
assert_eq "purge" "$(jq -r 'select(.event.type=="Deleted") | .event.cause' <<<"$ev" | sort -u)" "cause"
orders=$(users | jq -c 'select(.message.type=="PurgeDue") | .message')
[[ -n $orders ]] || fail "no PurgeDue on sisopi.users"
assert_eq "" "$(jq -r 'select(.produced_at < .purge_at) | .record_uid' <<<"$orders")" \
    "no PurgeDue before its date"
assert_eq "" "$(jq -r 'select(.record_uid=="R1" or .record_uid=="ADM1") | .record_uid' <<<"$orders")" \
    "no PurgeDue for R1 or the administrator"
# Each order lands in its person's partition (ordered with the person's imports).
ev_parts=$(users | jq -r 'select(.message.type=="PurgeDue") | "\(.key) \(.partition)"' | sort -u)
while read -r rid part; do
    assert_eq "$part" "$("$SISOPI_BUILD/tests/sisopi_partition" 12 "$rid" | awk '{print $NF}')" \
        "partition of the PurgeDue for $rid"
done <<<"$ev_parts"
# How late after its date each order and deletion came (a figure, never a pass/fail limit).
printf '  orders sent %s ms after their dates; deletions %s ms after\n' \
    "$(jq -s 'map(.produced_at - .purge_at) | "\(min)..\(max)"' -r <<<"$orders")" \
    "$(jq -s 'map(select(.event.type=="Deleted") | .event.produced_at - .event.purge_at) | "\(min)..\(max)"' -r <<<"$ev")"
grep -q 'purge_skipped.*admin-sch.*no student, teacher or staff role' "$W/scheduler.log" ||
    fail "no warning about the administrator: $(grep purge_skipped "$W/scheduler.log")"

step "a duplicate PurgeDue deletes nothing more"
s1_ms=$(jq -r 'select(.event.type=="Deleted" and .event.record_uid=="S1") | .event.purge_at' <<<"$ev")
"$INJECT" -c "$CFG" purge S1 "$s1_ms" >/dev/null 2>&1 || fail "inject purge"
kill "$REC_PID"
wait "$REC_PID" || fail "the reconciler did not stop cleanly: $(tail -n 5 "$W/reconciler.log")"
REC_PID=""
run timeout 120 "$B_/sisopi-reconciler" -c "$CFG" --until-idle --idle-open 3
((RC == 0)) || fail "reconciler: $OUT"
assert_eq 6 "$(events | jq -r 'select(.event.type=="Deleted") | .event.record_uid' | wc -l)" \
    "still six Deleted events"

step "--once: nothing due but the administrator, whom it skips"
assert_rc 0 "scheduler --once" "$B_/sisopi-scheduler" -c "$CFG" --once
assert_contains "$OUT" "1 accounts due, 0 PurgeDue sent, 1 skipped (1 without a school role" "once summary"

step "sisopi-admin purge list: S9 not due yet, the administrator skipped"
ingest SchA student "X1,Xa,Other,SchA,1a"
run timeout 120 "$B_/sisopi-reconciler" -c "$CFG" --until-idle --idle-open 3
((RC == 0)) || fail "reconciler: $OUT"
in_limbo S9 || fail "S9 not in limbo"
assert_rc 0 "purge list" "$B_/sisopi-admin" -c "$CFG" purge list
assert_contains "$OUT" "admin-sch" "the administrator is listed"
s9=$(grep " S9 " <<<"$OUT") || fail "S9 not listed: $OUT"
assert_contains "$s9" " in 0m " "S9 is due in less than a minute"
assert_contains "$s9" "student" "S9's role"
assert_contains "$OUT" "skipped: no student/teacher/staff role" "with why it is skipped"
assert_contains "$OUT" "accounts with a purge date" "summary line"
assert_contains "$OUT" "2 accounts with a purge date: " "summary line counts both"
# The administrator's date has passed (S9's may pass any second): --due lists 1 or 2, and
# says what it counted.
assert_rc 0 "purge list --due" "$B_/sisopi-admin" -c "$CFG" purge list --due
grep -Eq '^[12] accounts due now \(purge date passed\), 1 of them skipped' <<<"$OUT" ||
    fail "--due summary: $OUT"
json=$("$B_/sisopi-admin" -c "$CFG" purge list --json 2>/dev/null) || fail "purge list --json"
assert_eq "ADM1 true S9 false" "$(jq -r '"\(.record_uid) \(.due)"' <<<"$json" | sort | xargs)" \
    "json rows"
assert_rc 64 "purge without list" "$B_/sisopi-admin" -c "$CFG" purge

step "S9's date comes from sisopi.events: purged on time without another sweep"
start_reconciler
wait_for $((GRACE + 60)) "S9 purged" none exists S9
assert_eq 2 "$(grep -c ' swept ' "$W/scheduler.log")" \
    "one sweep per scheduler start, none since (the date came from the events)"
kill "$SCH_PID"
wait "$SCH_PID" || fail "the scheduler did not stop cleanly on SIGTERM"
SCH_PID=""
assert_contains "$(tail -n 3 "$W/scheduler.log")" "summary purge_due_sent=" "summary at exit"
