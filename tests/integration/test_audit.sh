#!/usr/bin/env bash
# sisopi-audit against a real slapd and the devbroker: a person's whole life (school A, A+B,
# B, limbo, C, limbo, purged) told by `history`; every import with its state and counts by
# `imports` (completed, held, incomplete); the reference's summary CSV of an import by
# `report` (added, modified, deleted, an error, a formula defused, mode 0600); and `verify`,
# silent on the directory the reconciler wrote, naming each change made behind its back.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
AUDIT=$B_/sisopi-audit
INJECT=$SISOPI_BUILD/tests/users_inject
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
command -v jq >/dev/null || fail "jq is needed"

step "start the stack"
start_stack --schools "SchA SchB SchC"
W=$STACK_DIR/work
mkdir -p "$W"
BASE=$STACK_BASE
# A grace period of 2 s, so the purge can be tested; a guard that lets the scenario through.
sed -e 's/deletion_grace_period = "90d";/deletion_grace_period = "2s";\n  deletion_guard: { max_ratio = 1.0; max_count = 1000; };/' \
    "$STACK_DIR/sisopi.cfg" >"$W/sisopi.cfg"
CFG=$W/sisopi.cfg
grep -q 'max_ratio = 1.0' "$CFG" || fail "could not write the test config"
# The default guard (20 %), for an import it must hold.
sed -e 's/deletion_grace_period = "90d";/deletion_grace_period = "2s";/' \
    "$STACK_DIR/sisopi.cfg" >"$W/guard.cfg"

declare -A IMPORTS=() # name -> import_id
ingest() {            # NAME SCHOOL ROLE FILE [CFG]: publishes, remembers the import_id
    local name=$1 school=$2 role=$3 file=$4 cfg=${5:-$CFG}
    run "$B_/sisopi-ingest" -c "$cfg" -q --school "$school" --role "$role" "$W/$file"
    [[ $RC -eq 0 ]] || fail "ingest $name failed ($RC): $OUT"
    IMPORTS[$name]=$(sed -n 's/^import_id: *//p' <<<"$OUT")
    [[ -n ${IMPORTS[$name]} ]] || fail "ingest $name printed no import_id: $OUT"
}
reconcile() { # [CFG]
    local t0=$SECONDS
    run timeout 180 "$B_/sisopi-reconciler" -c "${1:-$CFG}" --until-idle --idle-open 3
    [[ $RC -eq 0 ]] || fail "reconciler failed ($RC): $OUT"
    printf '  (reconciler ran %d s)\n' $((SECONDS - t0))
}
csv() { # FILE LINE...: a student/teacher export (the header is line 1)
    local f=$1
    shift
    printf '%s\n' "record_uid,firstname,lastname,school,classes" "$@" >"$W/$f"
}
audit() { "$AUDIT" -c "$CFG" "$@"; }
events() { audit dump --topic events 2>/dev/null; }
json_of() { # EXPECTED_RC ARGS...: stdout only (verify logs its LDAP connection on stderr)
    local want=$1
    shift
    set +eE
    trap - ERR
    OUT=$(audit "$@" 2>/dev/null)
    RC=$?
    # shellcheck disable=SC2064
    trap "$_LIB_ERR_TRAP" ERR
    set -eE
    ((RC == want)) || fail "audit $*: expected exit $want, got $RC"
    jq -e . <<<"$OUT" >/dev/null || fail "audit $*: not JSON lines: $OUT"
    printf '  %s --json, first line: %s\n' "$1" "$(head -1 <<<"$OUT")"
}
dn_of() { ldap_search -b "$BASE" "(ucsschoolRecordUID=$1)" 1.1 | sed -n 's/^dn: //p'; }

step "1. a person's life: A, A+B, B, limbo, C, limbo"
printf '%s\n' "record_uid,firstname,lastname,school,classes" "T1,Tom,Teach,SchA,5a" >"$W/t.csv"
ingest teachers SchA teacher t.csv
csv a1.csv "P1,Paula,Pe,SchA,5a" "S2,Bert,Beta,SchA,5a" "S3,Cora,Gamma,SchA,5a" \
    "S4,Dora,Delta,SchA,5b"
ingest a1 SchA student a1.csv
reconcile
csv b1.csv "P1,Paula,Pe,SchB,7c" "S3,Cora,Gamma,SchB,7c"
ingest b1 SchB student b1.csv
reconcile
# A no longer lists P1 (it keeps B) nor S4 (limbo); S2 changes class; T1 is a teacher listed
# as a student (Rejected); S5 is new, with a name a spreadsheet would run as a formula.
printf '%s\n' "record_uid,firstname,lastname,school,classes,birthday,email" \
    "S2,Bert,Beta,SchA,5b,2012-03-04,bert@example.org" "S3,Cora,Gamma,SchA,5a,," \
    "T1,Tom,Teach,SchA,5a,," "S5,Emil,=Evil,SchA,5a,2013-01-02," >"$W/a3.csv"
ingest a3 SchA student a3.csv
reconcile
assert_eq "uid=P.Pe,cn=schueler,cn=users,ou=SchB,$BASE" "$(dn_of P1)" "P1 moved to B"
csv b2.csv "S3,Cora,Gamma,SchB,7c"
ingest b2 SchB student b2.csv
reconcile
assert_eq "uid=P.Pe,cn=schueler,cn=users,ou=limbo,$BASE" "$(dn_of P1)" "P1 in limbo"
csv c1.csv "P1,Paula,Pe,SchC,9a" "S6,Fritz,Phi,SchC,9a"
ingest c1 SchC student c1.csv
reconcile
assert_eq "uid=P.Pe,cn=schueler,cn=users,ou=SchC,$BASE" "$(dn_of P1)" "P1 back in C"
csv c2.csv "S6,Fritz,Phi,SchC,9a"
ingest c2 SchC student c2.csv
reconcile
assert_eq "uid=P.Pe,cn=schueler,cn=users,ou=limbo,$BASE" "$(dn_of P1)" "P1 in limbo again"

step "2. the purge, once the date has passed"
purge=$(events | jq -r 'select(.event.record_uid=="P1" and .event.type=="MovedToLimbo") |
    .event.purge_at' | tail -1)
[[ $purge =~ ^[0-9]+$ ]] || fail "no purge date on P1's last MovedToLimbo: $purge"
# dump: time in ISO-8601 (what the help promises) beside the epoch milliseconds.
first=$(events | sed -n 1p) # sed reads to the end: no SIGPIPE for the audit
[[ $(jq -r .time <<<"$first") =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$ ]] ||
    fail "dump: no ISO-8601 time: $first"
[[ $(jq -r .timestamp <<<"$first") =~ ^[0-9]{13}$ ]] || fail "dump: no epoch ms timestamp: $first"
for ((i = 0; i < 30 && $(date +%s%3N) <= purge; i++)); do sleep 0.5; done
(($(date +%s%3N) > purge)) || fail "the purge date $purge did not pass"
"$INJECT" -c "$CFG" purge P1 "$purge" >/dev/null 2>&1 || fail "inject purge"
reconcile
assert_eq "" "$(dn_of P1)" "P1 purged"

step "3. history P1: every step, in order"
assert_ok "history P1" audit history P1
hist=$OUT
printf '%s\n' "$hist"
types=$(grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z  ' <<<"$hist" |
    awk '{print $4}' | xargs)
assert_eq "UserRecord Created UserRecord SchoolAdded SchoolRemoved MovedToLimbo UserRecord Reactivated MovedToLimbo PurgeDue Deleted" \
    "$types" "the steps of P1's life"
assert_contains "$hist" "${IMPORTS[a1]}" "the first import named"
assert_contains "$hist" "school=SchB role=student classes=SchB-7c line=2" "B's record"
assert_contains "$hist" "dn: uid=P.Pe,cn=schueler,cn=users,ou=SchA,$BASE -> uid=P.Pe,cn=schueler,cn=users,ou=SchB,$BASE" \
    "the move from A to B"
assert_contains "$hist" "purge_at=" "the purge date"
assert_contains "$(grep ' Deleted ' <<<"$hist")" "purge " "the purge named as the cause"
assert_contains "$hist" "history of P1: 4 messages on sisopi.users, 7 events on sisopi.events" \
    "the totals"
assert_ok "history p1 (another case)" audit history p1
assert_eq "$(head -n -1 <<<"$hist")" "$(head -n -1 <<<"$OUT")" "record_uid compared case-insensitively"
json_of 0 history P1 --json
assert_eq 11 "$(jq -s 'length' <<<"$OUT")" "one JSON object per item"
assert_eq "Deleted" "$(jq -rs '.[-1].event.type' <<<"$OUT")" "the last is the deletion"
assert_not_contains "$OUT" '{CRYPT}' "no password hash in the history"
assert_rc 1 "history of nobody" audit history NOBODY
assert_contains "$OUT" 'nothing about record_uid "NOBODY"' "says so"

step "4. a dry run is shown and marked"
csv c-dry.csv "S6,Fritz,Phi,SchC,9b"
ingest cdry SchC student c-dry.csv
# sisopi-ingest's dry run publishes nothing; a producer of its own may still publish one
# (records and markers flagged dry_run): the reconciler reports it, the audit marks it.
IMPORTS[dry]=01a1ffff-0000-7000-8000-0000000000d1
run "$INJECT" -c "$CFG" --dry-run record "${IMPORTS[dry]}" sisopi-demo SchC student S6 Fritz Phi
((RC == 0)) || fail "inject the dry-run record: $OUT"
dry_part=$(cut -d' ' -f1 <<<"$OUT")
for ((q = 0; q < 12; q++)); do
    run "$INJECT" -c "$CFG" --dry-run end "$q" "${IMPORTS[dry]}" sisopi-demo SchC student \
        $((q == dry_part ? 1 : 0))
    ((RC == 0)) || fail "inject the dry-run marker of partition $q: $OUT"
done
reconcile
assert_ok "history S6" audit history S6
assert_contains "$(grep "${IMPORTS[dry]}" <<<"$OUT")" "(dry run)" "the dry run is marked"
assert_not_contains "$(grep "${IMPORTS[cdry]}" <<<"$OUT")" "(dry run)" "the real one is not"

step "5. imports: every import completed, with its counts"
json_of 0 imports --json
imports=$OUT
for name in teachers a1 b1 a3 b2 c1 c2 cdry dry; do
    line=$(jq -c "select(.import_id==\"${IMPORTS[$name]}\")" <<<"$imports")
    [[ -n $line ]] || fail "import $name not listed"
    assert_eq completed "$(jq -r .state <<<"$line")" "import $name state"
done
a3=$(jq -c "select(.import_id==\"${IMPORTS[a3]}\")" <<<"$imports")
assert_eq '{"records":4,"created":1,"modified":1,"unchanged":1,"removed":1,"limbo":1,"errors":1}' \
    "$(jq -c .counts <<<"$a3")" "a3 counts"
assert_eq "SchA student sisopi-demo false 12 12" \
    "$(jq -r '[.school, .role, .source_uid, .dry_run, .partitions, .reported] | join(" ")' <<<"$a3")" \
    "a3 description"
assert_eq true "$(jq -r "select(.import_id==\"${IMPORTS[dry]}\") | .dry_run" <<<"$imports")" \
    "the dry run says so"
assert_eq "$(jq -r .time <<<"$imports" | sort | xargs)" "$(jq -r .time <<<"$imports" | xargs)" \
    "sorted by time"

step "6. imports: a held import (released later), an incomplete one"
csv b-many.csv "S3,Cora,Gamma,SchB,7c" "S7,Gert,Eta,SchB," "S8,Hans,Theta,SchB,"
ingest bmany SchB student b-many.csv
reconcile
csv b-few.csv "S3,Cora,Gamma,SchB,7c"
ingest bfew SchB student b-few.csv "$W/guard.cfg"
reconcile "$W/guard.cfg"
INC=01a1ffff-0000-7000-8000-00000000aaaa
"$INJECT" -c "$CFG" end 0 "$INC" sisopi-demo SchC student 5 >/dev/null 2>&1 || fail "inject end"
reconcile
assert_ok "imports (text)" audit imports
printf '%s\n' "$OUT"
assert_contains "$(grep "${IMPORTS[bfew]}" <<<"$OUT")" " held " "held in the table"
assert_contains "$(grep "$INC" <<<"$OUT")" " incomplete " "incomplete in the table"
assert_contains "$(grep "${IMPORTS[a3]}" <<<"$OUT")" " completed " "completed in the table"
assert_contains "$OUT" "imports: 12" "the count"
assert_ok "release" "$B_/sisopi-admin" -c "$CFG" release "${IMPORTS[bfew]}"
reconcile
json_of 0 imports --json
assert_eq completed "$(jq -r "select(.import_id==\"${IMPORTS[bfew]}\") | .state" <<<"$OUT")" \
    "released: completed"
assert_eq 2 "$(jq -r "select(.import_id==\"${IMPORTS[bfew]}\") | .counts.limbo" <<<"$OUT")" \
    "released: the release's counts"

step "7. report: the reference's summary CSV"
A3=${IMPORTS[a3]}
assert_ok "report --csv" audit report "$A3" --csv
report=$OUT
printf '%s\n' "$report"
H='"line","success","error","action","role","username","schools","firstname","lastname","birthday","email","disabled","classes","source_uid","record_uid","error_msg"'
printf '%s\r\n' "$H" \
    '"2","1","0","M","student","B.Beta","SchA","Bert","Beta","2012-03-04","bert@example.org","0","SchA-5b","sisopi-demo","S2",""' \
    '"4","0","1","M","student","T.Teach","SchA","Tom","Teach","","","0","SchA-5a","sisopi-demo","T1","the person exists as teacher and is listed as student; roles never change"' \
    "\"5\",\"1\",\"0\",\"A\",\"student\",\"E.Evil\",\"SchA\",\"Emil\",\"'=Evil\",\"2013-01-02\",\"\",\"0\",\"SchA-5a\",\"sisopi-demo\",\"S5\",\"\"" \
    '"","1","0","D","student","P.Pe","SchA","Paula","Pe","","","0","SchB-7c","sisopi-demo","P1",""' \
    '"","1","0","D","student","D.Delta","SchA","Dora","Delta","","","1","SchA-5b","sisopi-demo","S4",""' >"$W/want.csv"
audit report "$A3" --csv >"$W/report.csv" 2>/dev/null || fail "report --csv to a file"
cmp "$W/want.csv" "$W/report.csv" || fail "the summary CSV differs, byte for byte"$'\n'"$report"
assert_ok "report (text)" audit report "$A3"
printf '%s\n' "$OUT"
assert_contains "$OUT" $'Read users from input data: 4\nCreated student: 1\nModified student: 1\nDeleted student: 2\nErrors: 1' \
    "the totals like the reference's log"
assert_ok "report --output" audit report "$A3" --output "$W/summary.csv"
assert_eq 600 "$(stat -c %a "$W/summary.csv")" "the CSV file is private"
cmp "$W/want.csv" "$W/summary.csv" || fail "the file holds another CSV"
assert_contains "$OUT" "Errors: 1" "the totals on stdout"
json_of 0 report "$A3" --json
assert_eq "E.Evil =Evil" "$(jq -r 'select(.record_uid=="S5") | "\(.username) \(.lastname)"' <<<"$OUT")" \
    "JSON keeps the name as it is"
assert_eq 1 "$(jq -r 'select(.kind=="totals") | .errors' <<<"$OUT")" "JSON totals"
assert_rc 1 "report of an unknown import" audit report 01a1ffff-0000-7000-8000-00000000ffff
assert_contains "$OUT" "unknown" "says so"

step "8. verify: the directory as the reconciler left it"
assert_rc 0 "verify" audit verify
printf '%s\n' "$OUT"
assert_contains "$OUT" "verify: " "the summary"
assert_contains "$OUT" ", 0 differences" "no drift"

step "9. verify: changes behind sisopi's back"
s3=$(dn_of S3)
s2=$(dn_of S2)
s5=$(dn_of S5)
s6=$(dn_of S6)
[[ -n $s3 && -n $s2 && -n $s5 && -n $s6 ]] || fail "persons missing before the drift"
# shellcheck disable=SC2119 # no arguments: the LDIF comes on stdin
ldap_modify >/dev/null <<EOF
dn: $s3
changetype: modify
delete: ucsschoolSchool
ucsschoolSchool: SchB

dn: cn=SchA-5b,cn=klassen,cn=schueler,cn=groups,ou=SchA,$BASE
changetype: modify
delete: uniqueMember
uniqueMember: $s2
-
delete: memberUid
memberUid: B.Beta

dn: $s6
changetype: modify
add: ucsschoolPurgeTimestamp
ucsschoolPurgeTimestamp: 20300101000000Z
EOF
ldap_delete "$s5"
assert_rc 2 "verify finds the drift" audit verify
printf '%s\n' "$OUT"
assert_contains "$OUT" "S3 schools: expected SchA SchB, directory has SchA" "the school taken away"
assert_contains "$OUT" "S2 classes[SchA]: expected SchA-5b, directory has (none)" "the class left"
assert_contains "$OUT" "S5 account: expected $s5, directory has none" "the account deleted"
assert_contains "$OUT" "S6 purge_at: expected (none), directory has 2030-01-01T00:00:00Z" \
    "the purge date added"
# The entry lost SchB, SchB's groups did not: the groups as the directory has them disagree.
assert_contains "$OUT" "S3 groups: expected its groups by DN and uid, no others, directory has wrongly in cn=Domain Users SchB,cn=groups,ou=SchB,$BASE" \
    "groups that hold a person who is not at their school"
assert_contains "$OUT" ", 5 differences" "nothing else"
json_of 2 verify --json
assert_eq "S2 S3 S3 S5 S6" "$(jq -r 'select(.kind=="difference") | .record_uid' <<<"$OUT" | sort | xargs)" \
    "JSON: one object per difference"
assert_eq 5 "$(jq -r 'select(.kind=="summary") | .differences' <<<"$OUT")" "JSON summary"

step "10. bad command lines and an unreachable broker"
assert_rc 64 "unknown command" "$AUDIT" -c "$CFG" frobnicate
assert_rc 64 "option of another command" "$AUDIT" -c "$CFG" imports --csv
assert_rc 64 "history without a record_uid" "$AUDIT" -c "$CFG" history
assert_ok "help" "$AUDIT" --help
for cmd in "history RECORD_UID" imports "report IMPORT_ID" verify --timeout --json; do
    assert_contains "$OUT" "$cmd" "--help names $cmd"
done
assert_rc 1 "no broker" "$AUDIT" -c "$CFG" --bootstrap 127.0.0.1:1 imports --timeout 3
