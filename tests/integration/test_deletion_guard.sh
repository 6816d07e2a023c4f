#!/usr/bin/env bash
# The deletion guard decided once for the whole import (the ingest counts against the
# directory, every end marker carries the decision), with the default limits (20 %, 500) and
# two reconcilers sharing the 12 partitions:
#   1. an import for a school the directory does not have is refused before anything is
#      published, naming the school and how to create it;
#   2. a normal night: 1 of 30 staff and 2 of 60 students leave: it goes through on every
#      partition (decided per partition, a school's 30 staff were 2-3 per partition and the
#      one leaver tripped the 20 %);
#   3. half the students missing: held on all 12 partitions, by both reconcilers, nobody loses
#      the school;
#   4. one `sisopi-admin release`: released on all 12 partitions, the 29 go to limbo;
#   5. `--wait` prints each import's outcome with its exit code (above: 0 completed, 3 held),
#      names rejected persons (2), says when no answer came in time (5), and `--watch --wait`
#      writes the outcome into the file's .report.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
OFFSETS=$SISOPI_BUILD/tests/group_offsets
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
command -v jq >/dev/null || fail "jq is needed"

step "start the stack: SchA, 12 partitions, the default deletion guard"
start_stack --schools "SchA"
W=$STACK_DIR/work
mkdir -p "$W"
CFG=$SISOPI_CONFIG
BASE=$STACK_BASE
grep -q '^ *deletion_guard' "$CFG" && fail "the stack's config sets a deletion guard: the test needs the defaults"
for n in 1 2; do
    # The stack's session.timeout.ms (6 s): step 5 stops both members for about 2.5 s.
    sed -e "s|state_dir = \".*\";|state_dir = \"$W/state$n\";|" "$CFG" >"$W/r$n.cfg"
    grep -q "$W/state$n" "$W/r$n.cfg" || fail "could not write the config of reconciler $n"
done

declare -A PID
for n in 1 2; do
    "$B_/sisopi-reconciler" -c "$W/r$n.cfg" --metrics "" >"$W/r$n.log" 2>&1 &
    PID[$n]=$!
    LIB_AT_EXIT+=("kill -CONT ${PID[$n]} 2>/dev/null; kill -KILL ${PID[$n]} 2>/dev/null; true")
done
both_assigned() {
    local n
    for n in 1 2; do
        grep -q 'partitions_assigned count=\([1-9]\|1[01]\)$' "$W/r$n.log" || return 1
    done
}
wait_for 60 "both reconcilers have partitions" both_assigned
alive() {
    local n
    for n in 1 2; do
        proc_alive "${PID[$n]}" || fail "reconciler $n died: $(tail -n 5 "$W/r$n.log")"
    done
}
all_committed() { group_caught_up "$CFG"; } # everything published is applied
ingest() { # ROLE FILE [EXIT]: publishes and waits for the outcome (--wait); sets IID
    run "$B_/sisopi-ingest" -c "$CFG" -q --school SchA --role "$1" --wait --timeout 90s "$2"
    ((RC == ${3:-0})) || fail "ingest --wait of $2: exit $RC, not ${3:-0}"$'\n'"$OUT"
    IID=$(sed -n 's/^import_id: *//p' <<<"$OUT")
    wait_for 90 "import $IID applied" all_committed
    alive
}
events_of() { # TYPE IMPORT_ID: the partitions with such an event, sorted, one line
    "$B_/sisopi-audit" -c "$CFG" dump --topic events 2>/dev/null |
        jq -r --arg t "$1" --arg i "$2" 'select(.event.type == $t and .event.import_id == $i)
            | .event.input_partition' | sort -n | uniq | paste -sd, -
}
ALL=0,1,2,3,4,5,6,7,8,9,10,11
in_school() { # ROLE: persons of that role at SchA
    ldap_search -b "$BASE" "(&(ucsschoolRole=$1:school:SchA)(ucsschoolSchool=SchA))" 1.1 |
        grep -c '^dn:' || true
}
csv() { # FILE ROLE FIRST LAST [SCHOOL]: persons FIRST..LAST of the role (at SchA)
    local i
    {
        echo "record_uid,firstname,lastname,school"
        for ((i = $3; i <= $4; i++)); do echo "$2-$i,Kim,Nach$i,${5:-SchA}"; done
    } >"$1"
}

step "1. an import for a school the directory does not have is refused before publishing"
csv "$W/x.csv" student 1 3 SchX
before=$("$OFFSETS" -c "$CFG" | awk '{ s += $3 } END { print s }')
assert_rc 1 "ingest for SchX" "$B_/sisopi-ingest" -c "$CFG" -q --school SchX --role student "$W/x.csv"
assert_contains "$OUT" "school SchX does not exist in the directory" "the reason"
assert_contains "$OUT" "sisopi-admin school create SchX" "what to do"
assert_contains "$OUT" "nothing was published" "the consequence"
assert_eq "$before" "$("$OFFSETS" -c "$CFG" | awk '{ s += $3 } END { print s }')" "messages on sisopi.users"

step "2. the first import, then a normal night: 1 of 30 staff and 2 of 60 students leave"
csv "$W/staff0.csv" staff 1 30
csv "$W/stud0.csv" student 1 60
ingest staff "$W/staff0.csv"
ingest student "$W/stud0.csv"
assert_eq 30 "$(in_school staff)" "staff at SchA"
assert_eq 60 "$(in_school student)" "students at SchA"
csv "$W/staff1.csv" staff 2 30
ingest staff "$W/staff1.csv"
assert_contains "$OUT" "guard:      passes: 1 of the directory's 30 staff of SchA not listed" \
    "the ingest's decision"
assert_contains "$OUT" "outcome:    completed on all 12 partitions" "--wait: the outcome"
assert_contains "$OUT" "changes:    0 created, 0 modified, 29 unchanged, 1 lost the school (1 of them to limbo), 0 rejected" \
    "--wait: the changes"
assert_eq "$ALL" "$(events_of ImportCompleted "$IID")" "partitions that completed the staff night"
assert_eq "" "$(events_of ImportHeld "$IID")" "partitions that held the staff night"
csv "$W/stud1.csv" student 3 60
ingest student "$W/stud1.csv"
assert_eq "$ALL" "$(events_of ImportCompleted "$IID")" "partitions that completed the students' night"
assert_eq 29 "$(in_school staff)" "staff at SchA after the night"
assert_eq 58 "$(in_school student)" "students at SchA after the night"

step "3. half the students missing: held on all 12 partitions, by both reconcilers"
csv "$W/stud2.csv" student 3 31
ingest student "$W/stud2.csv" 3
HID=$IID
assert_contains "$OUT" "outcome:    HELD on 12 of 12 partitions by the deletion guard" "--wait: held"
assert_contains "$OUT" "the deletion guard holds this import" "the ingest says so"
assert_contains "$OUT" "would take SchA from 29 of its 58 student" "with the counts"
assert_eq "$ALL" "$(events_of ImportHeld "$HID")" "partitions that held"
assert_eq "" "$(events_of ImportCompleted "$HID")" "partitions that completed"
for n in 1 2; do
    grep -q "import_held import_id=$HID" "$W/r$n.log" || fail "reconciler $n held nothing of $HID"
done
assert_eq 58 "$(in_school student)" "students at SchA while held"

step "4. one release: released on all 12 partitions, the 29 in limbo"
assert_rc 0 "release" "$B_/sisopi-admin" -c "$CFG" release "$HID"
wait_for 90 "the release applied" all_committed
released_everywhere() { [[ $(events_of ImportReleased "$HID") == "$ALL" ]]; }
wait_for 30 "released everywhere" released_everywhere
assert_eq 29 "$(in_school student)" "students at SchA after the release"
assert_eq 31 "$(ldap_search -b "ou=limbo,$BASE" "(ucsschoolRole=student:school:limbo)" 1.1 |
    grep -c '^dn:')" "students in limbo (the night's 2 and these 29)"

step "5. --wait: rejected persons named (exit 2), no answer in time (exit 5), --watch's report"
# staff-5 listed as a student: the reconciler refuses to change a person's role.
{ cat "$W/stud2.csv" && echo "staff-5,Kim,Nach5,SchA"; } >"$W/stud3.csv"
ingest student "$W/stud3.csv" 2
assert_contains "$OUT" "rejected:   staff-5: " "--wait names the rejected person"
kill -STOP "${PID[1]}" "${PID[2]}"
run "$B_/sisopi-ingest" -c "$CFG" -q --school SchA --role student --wait --timeout 2s "$W/stud3.csv"
kill -CONT "${PID[1]}" "${PID[2]}"
assert_eq 5 "$RC" "exit code without an answer"$'\n'"$OUT"
assert_contains "$OUT" "outcome:    NO OUTCOME from 12 of 12 partitions" "--wait says none answered"
wait_for 90 "the import applied after all" all_committed
mkdir -p "$W/drop/SchA"
cp "$W/staff1.csv" "$W/drop/SchA/.staff.csv"
mv "$W/drop/SchA/.staff.csv" "$W/drop/SchA/staff.csv"
run timeout 120 "$B_/sisopi-ingest" -c "$CFG" -q --watch "$W/drop" --once --interval 1 --wait \
    --timeout 90s --metrics ""
assert_eq 0 "$RC" "--watch --once --wait: exit code"$'\n'"$OUT"
report=$(find "$W/drop/done" -name '*.report' -print -quit)
[[ -n $report ]] || fail "no report in $W/drop/done"
assert_contains "$(cat "$report")" "outcome:    completed on all 12 partitions" "the report's outcome"
alive
# Both at once: a member leaving hands the other an assignment while it closes.
for n in 1 2; do kill -TERM "${PID[$n]}"; done
gone() { ! proc_alive "$1"; }
for n in 1 2; do
    wait_for 60 "reconciler $n stopped after SIGTERM" gone "${PID[$n]}"
    wait "${PID[$n]}" || fail "reconciler $n did not stop cleanly"
done
echo "test_deletion_guard: ok"
