#!/usr/bin/env bash
# A reconciler killed between a wave's entries and its groups leaves entries that are new and
# groups that are old; the wave's persons are in its in-flight file. On the next start they
# are read back from the directory, and their memberships must be made right from what the
# directory holds (found by tests/fault/test_crash_convergence.sh; this test makes the state
# of such a crash by hand, so that it happens every time):
#   P1 is in no group at all (its creation's groups were never written);
#   P2 moved to limbo, but is still in its old school's groups (its removals were never
#      written); SchB then lists it;
#   P3 changed its primary school (A -> B), but the groups still hold its old DN, its SchB
#      class too (read back, that class must still count as its class: SchB's next file has
#      no class column, so the class is kept from what was read back).
# Then the exports again (SchB now with P2): every group is as an uninterrupted run leaves it.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"

ingest() { # SCHOOL FILE
    run "$B_/sisopi-ingest" -c "$SISOPI_CONFIG" -q --school "$1" --role student "$2"
    [[ $RC -eq 0 ]] || fail "ingest $1 failed ($RC): $OUT"
}
reconcile() {
    run timeout 180 "$B_/sisopi-reconciler" -c "$SISOPI_CONFIG" --until-idle --idle-open 3 \
        --metrics ""
    [[ $RC -eq 0 ]] || fail "reconciler failed ($RC): $(tail -n 5 <<<"$OUT")"
}
dn_of() { ldap_search -b "$STACK_BASE" "(ucsschoolRecordUID=$1)" 1.1 | sed -n 's/^dn: //p'; }
uid_of() { ldap_search -b "$STACK_BASE" "(ucsschoolRecordUID=$1)" uid | sed -n 's/^uid: //p'; }
# The groups holding DN (uniqueMember) and UID (memberUid), sorted, one "cn" per line.
groups_of() { # DN UID
    ldap_search -b "$STACK_BASE" "(|(uniqueMember=$1)(memberUid=$2))" cn | sed -n 's/^cn: //p' |
        sort | paste -sd, -
}
group() { # SCHOOL NAME -> DN
    case $2 in
    du) echo "cn=Domain Users $1,cn=groups,ou=$1,$STACK_BASE" ;;
    st) echo "cn=schueler-${1,,},cn=groups,ou=$1,$STACK_BASE" ;;
    *) echo "cn=$1-$2,cn=klassen,cn=schueler,cn=groups,ou=$1,$STACK_BASE" ;;
    esac
}
# Takes (op=delete) or puts (op=add) DN and UID in a group.
member() { # OP GROUP DN UID
    # shellcheck disable=SC2119 # no arguments: the LDIF comes on stdin
    ldap_modify >/dev/null <<EOF
dn: $2
changetype: modify
$1: uniqueMember
uniqueMember: $3
-
$1: memberUid
memberUid: $4
EOF
}

step "start the stack"
start_stack --schools "SchA SchB"
W=$STACK_DIR/work
mkdir -p "$W"
# Two of SchA's three leave in step 2: a guard that lets them.
sed -i -e 's/deletion_grace_period = "90d";/&\n  deletion_guard: { max_ratio = 1.0; max_count = 100; };/' "$SISOPI_CONFIG"
grep -q 'max_ratio = 1.0' "$SISOPI_CONFIG" || fail "could not set the deletion guard"
STATE=$(sed -n 's/^ *state_dir = "\(.*\)";/\1/p' "$SISOPI_CONFIG")
[[ -n $STATE ]] || fail "no reconciler.state_dir in $SISOPI_CONFIG"
H='record_uid,firstname,lastname,school,classes'

step "1. the first night: P1..P3 at SchA, P3 also at SchB"
printf '%s\n%s\n%s\n%s\n' "$H" "P1,Paula,Eins,SchA,5a" "P2,Peter,Zwei,SchA,5a" \
    "P3,Petra,Drei,SchA,5a" >"$W/a1.csv"
printf '%s\n%s\n' "$H" "P3,Petra,Drei,SchB,6b" >"$W/b1.csv"
ingest SchA "$W/a1.csv"
ingest SchB "$W/b1.csv"
reconcile
for p in P1 P2 P3; do [[ -n $(dn_of $p) ]] || fail "$p was not created"; done
want_p1=$(groups_of "$(dn_of P1)" "$(uid_of P1)")
assert_eq "Domain Users SchA,SchA-5a,schueler-scha" "$want_p1" "P1's groups after the first night"

step "2. SchA drops P2 and P3: P2 to limbo, P3's DN moves to SchB"
printf '%s\n%s\n' "$H" "P1,Paula,Eins,SchA,5a" >"$W/a2.csv"
ingest SchA "$W/a2.csv"
p2_old=$(dn_of P2)
p3_old=$(dn_of P3)
reconcile
assert_contains "$(dn_of P2)" "ou=limbo" "P2 is in limbo"
assert_contains "$(dn_of P3)" "ou=SchB" "P3's DN is at SchB"
p2_want=$(groups_of "$(dn_of P2)" "$(uid_of P2)")
p3_want=$(groups_of "$(dn_of P3)" "$(uid_of P3)")
assert_eq "" "$p2_want" "P2 in limbo is in no group"
assert_eq "Domain Users SchB,SchB-6b,schueler-schb" "$p3_want" "P3's groups"

step "3. the state of a reconciler killed between entries and groups"
# P1's groups were never written; P2's and P3's removals were never written (old DNs).
member delete "$(group SchA du)" "$(dn_of P1)" "$(uid_of P1)"
member delete "$(group SchA st)" "$(dn_of P1)" "$(uid_of P1)"
member delete "$(group SchA 5a)" "$(dn_of P1)" "$(uid_of P1)"
for g in du st 5a; do member add "$(group SchA $g)" "$p2_old" "$(uid_of P2)"; done
for g in du st 5a; do member add "$(group SchA $g)" "$p3_old" "$(uid_of P3)"; done
for g in du 6b; do
    member delete "$(group SchB $g)" "$(dn_of P3)" "$(uid_of P3)"
    member add "$(group SchB $g)" "$p3_old" "$(uid_of P3)"
done
assert_eq "" "$(groups_of "$(dn_of P1)" "$(uid_of P1)")" "P1 in no group now"
# P9: a suspect that no later batch touches; it must stay one, on disk, until one does.
printf '%s\n' P1 P2 P3 P9 >>"$STATE/inflight"

step "4. the exports again, SchB with P2: the read-back persons' groups are made right"
printf '%s\n%s\n%s\n' "record_uid,firstname,lastname,school" "P3,Petra,Drei,SchB" \
    "P2,Peter,Zwei,SchB" >"$W/b2.csv" # no class column: the classes stay as they are
ingest SchA "$W/a2.csv"
ingest SchB "$W/b2.csv"
reconcile
assert_contains "$OUT" "inflight_recovered" "the in-flight persons are recovered"
assert_eq "$want_p1" "$(groups_of "$(dn_of P1)" "$(uid_of P1)")" "P1 is back in its groups"
assert_contains "$(dn_of P2)" "ou=SchB" "P2 is back, at SchB"
assert_eq "Domain Users SchB,schueler-schb" "$(groups_of "$(dn_of P2)" "$(uid_of P2)")" \
    "P2 is in SchB's groups and in none of SchA's"
assert_eq "" "$(ldap_search -b "$STACK_BASE" "(uniqueMember=$p2_old)" 1.1 | sed -n 's/^dn: //p')" \
    "no group holds P2's old DN"
assert_eq "$p3_want" "$(groups_of "$(dn_of P3)" "$(uid_of P3)")" "P3 is in SchB's groups"
assert_eq "" "$(ldap_search -b "$STACK_BASE" "(uniqueMember=$p3_old)" 1.1 | sed -n 's/^dn: //p')" \
    "no group holds P3's old DN"
assert_eq "P9" "$(cat "$STATE/inflight")" \
    "the settled suspects left the in-flight file, the untouched one stays (a second kill)"

step "5. nothing more to do: a third run writes nothing"
ingest SchA "$W/a2.csv"
ingest SchB "$W/b2.csv"
reconcile
assert_contains "$OUT" "inflight_recovered persons=1" "P9 is still a suspect after a restart"
assert_contains "$OUT" "modifies=0 deletes=0 group_modifies=0" "no LDAP write"
echo "test_reconciler_resync: ok"
