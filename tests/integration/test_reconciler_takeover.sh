#!/usr/bin/env bash
# Several reconcilers, one group, crashes at exact moments (SISOPI_FAILPOINT kills a member
# with SIGKILL there, every time): what one member leaves half-done, the next owner of the
# partition finishes, and the directory and sisopi.events end as an uninterrupted run leaves
# them. One partition, so that the waves are always the same. Each step failed on the
# reconciler before the journal (docs/reconciler.md):
#   1a. groups of a creation: member 1 killed between a wave's entries and its groups
#       (wave_entries): P5's entry is added, in no group; member 2, which never had the
#       partition, takes over: P5 in its groups, by DN and by uid;
#   1b. groups of removals: member 3 killed the same way with P2 moved to limbo and P3 to
#       another primary school (the groups still name their old DNs); member 4 takes over;
#   2.  a stale copy: SchB drops everyone; member 1 sends P3 and P4 to limbo and is killed before
#       its events, state and commit (wave_applied); member 4, which committed last, takes the partition back with
#       its own copy, older than the directory; SchA then lists P4: P4 comes back, active,
#       the same account, no Rejected on the way;
#   3.  events: member 2 killed after its directory writes, before their events (wave_applied,
#       P1 to limbo); member 5 takes over: P1's MovedToLimbo is on sisopi.events;
#   3b. the same, and the member that finishes it has a guard that allows no removal: the
#       removal is made already, so the import is not held (it was, and then undone);
#   4.  a move alone: the users container changed in the configuration, the same export again:
#       every student moves, no Rejected, the groups name the new DNs; again: no write;
#   5.  one state directory, one process: a second reconciler on it is refused, named;
#   6.  commits refused (the devbroker answers the next 3 OffsetCommits with
#       REBALANCE_IN_PROGRESS, as a rebalancing group does; the import's two messages make at
#       most two batches) are tried again while the member keeps the partition: the group
#       ends with the partition's end committed, though no new message carries a later one.
# After each step: `sisopi-audit verify` finds no difference (groups included), no Rejected.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
command -v jq >/dev/null || fail "jq is needed"

step "start the stack"
start_stack --schools "SchA SchB" --partitions 1
W=$STACK_DIR/work
mkdir -p "$W"
BASE=$STACK_BASE
H='record_uid,firstname,lastname,school,classes'

# Member N's config: its own state dir; short group timeouts so that a killed member's
# partitions move on within seconds (3 s works against the mock cluster).
member_cfg() { # N
    sed -e "s|state_dir = \".*\";|state_dir = \"$W/state$1\";|" \
        -e 's/deletion_grace_period = "90d";/&\n  deletion_guard: { max_ratio = 1.0; max_count = 100; };/' \
        -e 's/"session.timeout.ms", "6000"/"session.timeout.ms", "3000"/' \
        -e 's/"heartbeat.interval.ms", "500"/"heartbeat.interval.ms", "300"/' \
        "$SISOPI_CONFIG" >"$W/r$1.cfg"
    if ! grep -q "$W/state$1" "$W/r$1.cfg" || ! grep -q 'max_ratio = 1.0' "$W/r$1.cfg"; then
        fail "could not write the config of member $1"
    fi
}
for n in 1 2 3 4 5; do member_cfg "$n"; done

ingest() { # SCHOOL FILE
    run "$B_/sisopi-ingest" -c "$W/r1.cfg" -q --school "$1" --role student "$2"
    [[ $RC -eq 0 ]] || fail "ingest $1 failed ($RC): $OUT"
}
# member N [FAILPOINT]: runs member N until it is idle (exit 0), or until the failpoint kills
# it (exit 137, which is then required). Its log goes to $W/rN.log.
member() {
    local n=$1 fp=${2:-}
    printf -- '--- start%s\n' "${fp:+ with SISOPI_FAILPOINT=$fp}" >>"$W/r$n.log"
    run timeout 240 env SISOPI_FAILPOINT="$fp" "$B_/sisopi-reconciler" -c "$W/r$n.cfg" \
        --until-idle --idle-open 3 --metrics ""
    printf '%s\n' "$OUT" >>"$W/r$n.log"
    if [[ -n $fp ]]; then
        ((RC == 137)) || fail "member $n was to be killed at $fp, exit $RC: $(tail -n 5 <<<"$OUT")"
        assert_contains "$OUT" "failpoint name=$fp" "member $n killed at $fp"
    else
        ((RC == 0)) || fail "member $n failed ($RC): $(tail -n 5 <<<"$OUT")"
    fi
}
dn_of() { ldap_search -b "$BASE" "(ucsschoolRecordUID=$1)" 1.1 | sed -n 's/^dn: //p'; }
uid_of() { ldap_search -b "$BASE" "(ucsschoolRecordUID=$1)" uid | sed -n 's/^uid: //p'; }
# The groups naming DN (uniqueMember) or UID (memberUid), as sorted cns.
groups_of() { # DN UID
    ldap_search -b "$BASE" "(|(uniqueMember=$1)(memberUid=$2))" cn | sed -n 's/^cn: //p' |
        sort | paste -sd, -
}
# Both ways: by DN alone and by uid alone, each must give the same groups.
assert_groups() { # RECORD_UID EXPECTED WHAT
    local dn uid
    dn=$(dn_of "$1")
    uid=$(uid_of "$1")
    assert_eq "$2" "$(ldap_search -b "$BASE" "(uniqueMember=$dn)" cn | sed -n 's/^cn: //p' |
        sort | paste -sd, -)" "$3 (by DN)"
    assert_eq "$2" "$(ldap_search -b "$BASE" "(memberUid=$uid)" cn | sed -n 's/^cn: //p' |
        sort | paste -sd, -)" "$3 (by uid)"
}
no_group_names() { # DN WHAT
    assert_eq "" "$(ldap_search -b "$BASE" "(uniqueMember=$1)" 1.1 | sed -n 's/^dn: //p')" "$2"
}
events() { "$B_/sisopi-audit" -c "$W/r1.cfg" dump --topic events 2>/dev/null; }
verify_clean() { # WHAT
    run "$B_/sisopi-audit" -c "$W/r1.cfg" verify
    ((RC == 0)) || fail "$1: verify found differences (exit $RC):"$'\n'"$OUT"
    local rejected
    rejected=$(events | jq -r 'select(.event.type == "Rejected") | "\(.event.record_uid): \(.event.reason)"')
    assert_eq "" "$rejected" "$1: Rejected events"
}

step "0. the first night, all applied by member 1: P1..P3 at SchA (P3 also at SchB), P4 at SchB"
printf '%s\n%s\n%s\n%s\n' "$H" "P1,Paula,Eins,SchA,5a" "P2,Peter,Zwei,SchA,5a" \
    "P3,Petra,Drei,SchA,5a" >"$W/a0.csv"
printf '%s\n%s\n%s\n' "$H" "P3,Petra,Drei,SchB,6b" "P4,Paul,Vier,SchB,6b" >"$W/b0.csv"
ingest SchA "$W/a0.csv"
ingest SchB "$W/b0.csv"
member 1
for p in P1 P2 P3 P4; do [[ -n $(dn_of $p) ]] || fail "$p was not created"; done
p2_old=$(dn_of P2)
p3_old=$(dn_of P3)
verify_clean "after step 0"

step "1a. groups of a creation: member 1 killed between entries and groups; member 2 takes over"
printf '%s\n%s\n%s\n%s\n%s\n' "$H" "P1,Paula,Eins,SchA,5a" "P2,Peter,Zwei,SchA,5a" \
    "P3,Petra,Drei,SchA,5a" "P5,Pia,Fuenf,SchA,5b" >"$W/a1.csv"
ingest SchA "$W/a1.csv"
member 1 wave_entries
[[ -n $(dn_of P5) ]] || fail "P5's entry was not added before the kill"
assert_eq "" "$(groups_of "$(dn_of P5)" "$(uid_of P5)")" "P5 is in no group yet"
member 2
assert_contains "$(cat "$W/r2.log")" "journal_recovered" "member 2 found member 1's half-done wave"
assert_groups P5 "Domain Users SchA,SchA-5b,schueler-scha" "P5's groups"
assert_eq "1" "$(events | jq -r 'select(.event.record_uid == "P5") | .event.type' | sort -u | grep -c Created)" \
    "P5's Created is on sisopi.events"
verify_clean "after step 1a"

step "1b. groups of removals: member 3 killed between entries and groups; member 4 takes over"
# SchA drops P2 (to limbo) and P3 (its primary school moves to SchB).
printf '%s\n%s\n%s\n' "$H" "P1,Paula,Eins,SchA,5a" "P5,Pia,Fuenf,SchA,5b" >"$W/a1b.csv"
ingest SchA "$W/a1b.csv"
member 3 wave_entries
assert_contains "$(dn_of P2)" "ou=limbo" "P2's entry is in limbo already"
assert_contains "$(dn_of P3)" "ou=SchB" "P3's entry is at SchB already"
assert_contains "$(groups_of "$p2_old" "$(uid_of P2)")" "Domain Users SchA" \
    "SchA's groups still hold P2"
member 4
assert_contains "$(cat "$W/r4.log")" "journal_recovered" "member 4 found member 3's half-done wave"
assert_groups P2 "" "P2 in limbo is in no group"
no_group_names "$p2_old" "no group holds P2's old DN"
assert_groups P3 "Domain Users SchB,SchB-6b,schueler-schb" "P3's groups"
no_group_names "$p3_old" "no group holds P3's old DN"
assert_groups P1 "Domain Users SchA,SchA-5a,schueler-scha" "P1's groups"
verify_clean "after step 1b"

step "2. a stale copy: member 1 sends P4 to limbo, killed before its commit; member 4 comes back"
# A header-only export: its one end marker is all member 1 gets, so it commits nothing at all
# (a record in a batch of its own would be committed, and the committed offset would then
# tell member 4 that its copy is old).
printf '%s\n' "$H" >"$W/b2.csv"
ingest SchB "$W/b2.csv"
member 1 wave_applied
assert_contains "$(dn_of P4)" "ou=limbo" "member 1 moved P4 to limbo"
# SchA lists P4 now: it must come back, the same account.
p4_uid=$(uid_of P4)
printf '%s\n%s\n%s\n%s\n' "$H" "P1,Paula,Eins,SchA,5a" "P5,Pia,Fuenf,SchA,5b" \
    "P4,Paul,Vier,SchA,5b" >"$W/a2.csv"
ingest SchA "$W/a2.csv"
member 4
assert_contains "$(tail -n 40 "$W/r4.log")" "journal_recovered" \
    "member 4 found member 1's uncommitted work"
assert_contains "$(dn_of P4)" "ou=SchA" "P4 is back, at SchA"
assert_eq "$p4_uid" "$(uid_of P4)" "P4 keeps its username"
assert_eq "" "$(ldap_attr "$(dn_of P4)" shadowExpire)$(ldap_attr "$(dn_of P4)" pwdAccountLockedTime)" \
    "P4 is active"
assert_groups P4 "Domain Users SchA,SchA-5b,schueler-scha" "P4's groups"
verify_clean "after step 2"

step "3. events: member 2 killed after its directory writes, before their events; member 5 takes over"
printf '%s\n%s\n%s\n' "$H" "P5,Pia,Fuenf,SchA,5b" "P4,Paul,Vier,SchA,5b" >"$W/a3.csv"
run "$B_/sisopi-ingest" -c "$W/r1.cfg" --school SchA --role student "$W/a3.csv"
((RC == 0)) || fail "ingest SchA failed ($RC): $OUT"
iid=$(sed -n 's/^import_id: *//p' <<<"$OUT")
[[ -n $iid ]] || fail "no import_id: $OUT"
member 2 wave_applied
assert_contains "$(dn_of P1)" "ou=limbo" "member 2 moved P1 to limbo"
limbo_events() {
    events | jq -r --arg i "$iid" 'select(.event.import_id == $i and .event.type == "MovedToLimbo") | .event.record_uid' | sort -u
}
assert_eq "" "$(limbo_events)" "no MovedToLimbo yet (member 2 died before its events)"
member 5
assert_eq "P1" "$(limbo_events)" "P1's MovedToLimbo is on sisopi.events"
assert_groups P1 "" "P1 in limbo is in no group"
verify_clean "after step 3"

step "3b. a removal made before a crash is not held by the guard of the member that finishes it"
# SchA drops P4; member 1 takes SchA from it (limbo) and dies before its events and commit.
# Member 3 then runs with a guard that allows no removal at all: the removal is made already,
# so re-processing it must not hold the import (and so undo it when P4 is next touched).
printf '%s\n%s\n' "$H" "P5,Pia,Fuenf,SchA,5b" >"$W/a3b.csv"
run "$B_/sisopi-ingest" -c "$W/r1.cfg" --school SchA --role student "$W/a3b.csv"
((RC == 0)) || fail "ingest SchA failed ($RC): $OUT"
iid=$(sed -n 's/^import_id: *//p' <<<"$OUT")
member 1 wave_applied
assert_contains "$(dn_of P4)" "ou=limbo" "member 1 moved P4 to limbo"
cp "$W/r3.cfg" "$W/r3.keep"
sed -i 's/max_ratio = 1.0; max_count = 100;/max_ratio = 0.0; max_count = 0;/' "$W/r3.cfg"
grep -q 'max_count = 0;' "$W/r3.cfg" || fail "could not make the guard strict"
member 3
mv "$W/r3.keep" "$W/r3.cfg"
assert_eq "" "$(events | jq -r --arg i "$iid" 'select(.event.import_id == $i and .event.type == "ImportHeld") | .event.reason')" \
    "the import is not held"
assert_eq "P4" "$(limbo_events)" "P4's MovedToLimbo is on sisopi.events"
assert_contains "$(dn_of P4)" "ou=limbo" "P4 stays in limbo"
verify_clean "after step 3b"

step "4. a move alone: the users container of students changes, the same export again"
for ou in SchA SchB limbo; do
    # shellcheck disable=SC2119 # no arguments: the LDIF comes on stdin
    ldap_add >/dev/null <<EOF
dn: cn=students,cn=users,ou=$ou,$BASE
objectClass: organizationalRole
cn: students
EOF
done
for n in 1 2 3 4 5; do sed -i 's/student = "schueler";/student = "students";/' "$W/r$n.cfg"; done
grep -q 'student = "students";' "$W/r2.cfg" || fail "could not change the container"
p5_old=$(dn_of P5)
ingest SchA "$W/a3.csv"
member 4
assert_eq "uid=$(uid_of P5),cn=students,cn=users,ou=SchA,$BASE" "$(dn_of P5)" "P5 moved"
assert_groups P5 "Domain Users SchA,SchA-5b,schueler-scha" "P5's groups after the move"
no_group_names "$p5_old" "no group holds P5's old DN"
assert_eq "Modified" "$(events | jq -r 'select(.event.record_uid == "P5") | .event.type' | tail -n 1)" \
    "the move is a Modified event"
verify_clean "after step 4"
# Nothing more to do: the same export again changes nothing.
ingest SchA "$W/a3.csv"
member 4
assert_contains "$OUT" "adds=0 moves=0 modifies=0 deletes=0 group_modifies=0" \
    "no LDAP write on a repeated export"

step "5. one state directory, one process"
"$B_/sisopi-reconciler" -c "$W/r4.cfg" --metrics "" >"$W/long.log" 2>&1 &
long=$!
for ((i = 0; i < 100; i++)); do
    [[ -s $W/state4/lock ]] && grep -q "^$long\$" "$W/state4/lock" && break
    sleep 0.1
done
((i < 100)) || fail "the running member did not take its state dir's lock"
assert_rc 1 "a second member on the same state dir" timeout 30 "$B_/sisopi-reconciler" \
    -c "$W/r4.cfg" --until-idle --metrics ""
assert_contains "$OUT" "is in use by another process (pid $long" "the other process is named"
kill -TERM "$long"
wait "$long" || fail "the long-running member did not stop cleanly"

step "6. a commit refused while the member keeps its partition is tried again"
printf '%s\n%s\n' "$H" "P6,Pia,Sechs,SchA,5a" >"$W/a6.csv"
ingest SchA "$W/a6.csv"
kill -HUP "$(cat "$STACK_DIR/devbroker.pid")"
wait_for 10 "the devbroker set the refusal" grep -q commit_refusal_set "$STACK_DIR/devbroker.log"
member 4
assert_contains "$OUT" "commit_failed error=\"Broker: Group rebalance in progress\"" \
    "the commit was refused once"
[[ -n $(dn_of P6) ]] || fail "P6 was not created"
offsets=$("$SISOPI_BUILD/tests/group_offsets" -c "$W/r4.cfg") || fail "cannot read the offsets"
assert_eq "" "$(awk '$2 != $3' <<<"$offsets")" "partitions whose end the group has not committed"
echo "test_reconciler_takeover: ok"
