#!/usr/bin/env bash
# sisopi-connector against three real slapds (the stack's central one and two school
# authorities', nord and sued, each started with stack.sh --no-broker) and the devbroker.
# One person per role goes through create, modify, a school at the other authority, a move
# within nord, central limbo, a return within nord (same account: same entryUUID); a student
# moves from sued to nord through limbo; a purge by the scheduler and the reconciler reaches
# the authority;
# a person whose school one authority lacks is rejected there (Rejected event, dead letter)
# while the other gets it; a poison event does not block; verify finds a hand change that
# resync undoes. (Outages and SIGKILL: tests/fault/test_connector_faults.sh.)
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
command -v kcat >/dev/null || fail "kcat is not installed (deploy/install-deps.sh installs it)"
# shellcheck source=tests/integration/connector_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/connector_lib.sh"
ROLES=(student teacher staff teacher_and_staff)
PW="Sehr-Geheim-Passwort-42"

step "start the central stack and two authority directories"
start_stack --schools "Gym1 Gs2 Rs3 Both Extra"
W=$STACK_DIR/work
mkdir -p "$W"
CFG0=$W/sisopi.cfg
sisopi_cfg_for_moves "$CFG0"
start_authority nord "Gym1 Gs2 Both"
start_authority sued "Rs3" # Both is sued's too, but missing there: its persons are refused

# The central config plus the connector section (school names in another case on purpose).
CFG=$W/connector.cfg
cat "$CFG0" - >"$CFG" <<CFGEOF
connector = {
  metrics = "";
  authorities = (
    { name = "nord"; uri = "${AURI[nord]}"; base = "${ABASE[nord]}";
      bind_dn = "${ADN[nord]}"; password_file = "${ADIR[nord]}/ldap.secret";
      passwords = true; },
    { name = "sued"; uri = "${AURI[sued]}"; base = "${ABASE[sued]}";
      bind_dn = "${ADN[sued]}"; password_file = "${ADIR[sued]}/ldap.secret";
      attributes = { student = [ "givenName" ]; }; }
  );
  school_to_authority = ( [ "gym1", "nord" ], [ "GS2", "nord" ], [ "rs3", "sued" ],
                          [ "Both", "nord", "sued" ] );
};
CFGEOF

# SCHOOL LAST WITH: the school's export of every role; the persons P-<role> when WITH=1.
import_school() {
    local school=$1 last=$2 with=$3 role f
    for role in "${ROLES[@]}"; do
        f=$W/$school-$role.csv
        printf '%s\n' 'record_uid,firstname,lastname,school,classes,password' \
            "K-$role-$school,Anker,$school$role,$school,1x,$PW" >"$f"
        ((with)) && printf '%s\n' "P-$role,Paula,$last,$school,1a,$PW" >>"$f"
        ingest "$CFG0" "$school" "$role" "$f"
    done
}
sync_all() { reconcile "$CFG0"; connect "$CFG" nord; connect "$CFG" sued; }

step "create: every role at Gym1 (nord's) exists at nord only, under Gym1, with its groups"
import_school Gym1 Alt 1
sync_all
for role in "${ROLES[@]}"; do
    dn=$(a_dn nord "P-$role")
    [[ ${dn,,} == uid=*,cn=*,cn=users,ou=gym1,dc=nord,dc=org ]] || fail "$role at nord: '$dn'"
    assert_eq "Gym1" "$(a_val nord "P-$role" ucsschoolSchool)" "$role schools at nord"
    assert_eq "" "$(a_dn sued "P-$role")" "$role not at sued"
    assert_contains "$(a_groups nord "$(a_val nord "P-$role" uid)")" "Domain Users Gym1" "$role groups"
    [[ -n $(a_val nord "P-$role" userPassword) ]] || fail "$role: the password hash travels to nord"
done
assert_contains "$(a_groups nord "$(a_val nord P-student uid)")" "Gym1-1a" "the student's class at nord"
assert_eq "Paula" "$(a_val nord P-student givenName)" "givenName travels"
UUID_NORD=$(a_uuid nord P-student)
# The anchors too: every Gym1 person; nothing at sued.
assert_eq 8 "$(a_count nord)" "nord holds Gym1's eight persons"
assert_eq 0 "$(a_count sued)" "sued holds nobody"

step "a replay changes nothing: a second group reads every event again"
before=$(aq nord '(objectClass=*)' '*' '+' | grep -v -i '^\(modifyTimestamp\|entryCSN\|contextCSN\)' | md5sum)
sed 's/connector = {/connector = { group_prefix = "replay-";/' "$CFG" >"$W/replay.cfg"
run timeout 180 "$B_/sisopi-connector" -c "$W/replay.cfg" --authority nord --until-idle
((RC == 0)) || fail "replay failed: $OUT"
after=$(aq nord '(objectClass=*)' '*' '+' | grep -v -i '^\(modifyTimestamp\|entryCSN\|contextCSN\)' | md5sum)
assert_eq "$before" "$after" "the directory is unchanged by the replay"

step "modify: a new last name reaches nord"
import_school Gym1 Neu 1
sync_all
assert_eq "Neu" "$(a_val nord P-teacher sn)" "sn at nord"

step "a school of the other authority: the person exists at both with the right schools each"
import_school Rs3 Neu 1
sync_all
for role in "${ROLES[@]}"; do
    assert_eq "Gym1" "$(a_val nord "P-$role" ucsschoolSchool)" "$role schools at nord"
    assert_eq "Rs3" "$(a_val sued "P-$role" ucsschoolSchool)" "$role schools at sued"
    dn=$(a_dn sued "P-$role")
    [[ ${dn,,} == *,ou=rs3,dc=sued,dc=org ]] || fail "$role at sued: primary Rs3 (the authority's), '$dn'"
done
assert_eq "" "$(a_val sued P-teacher mail)" "no mail set: none travels"
assert_eq "" "$(a_val sued P-student userPassword)" "sued takes no password hashes"

step "a move within nord: Gs2 added, Gym1 dropped: a rename, the same entry"
import_school Gs2 Neu 1
import_school Gym1 Neu 0
sync_all
for role in "${ROLES[@]}"; do
    dn=$(a_dn nord "P-$role")
    [[ ${dn,,} == *,ou=gs2,dc=nord,dc=org ]] || fail "$role moved to Gs2 at nord: '$dn'"
    assert_eq "Gs2" "$(a_val nord "P-$role" ucsschoolSchool)" "$role schools at nord"
    assert_not_contains "$(a_groups nord "$(a_val nord "P-$role" uid)")" "Gym1" "$role left Gym1's groups"
done
assert_eq "$UUID_NORD" "$(a_uuid nord P-student)" "same entryUUID after the move"

step "central limbo: deactivated at both, kept"
import_school Gs2 Neu 0
import_school Rs3 Neu 0
sync_all
for role in "${ROLES[@]}"; do
    for a in nord sued; do
        dn=$(a_dn $a "P-$role")
        [[ ${dn,,} == *,ou=limbo,dc=$a,dc=org ]] || fail "$role in $a's limbo: '$dn'"
        assert_eq "1" "$(a_val $a "P-$role" shadowExpire)" "$role deactivated at $a"
        assert_eq "" "$(a_groups $a "$(a_val $a "P-$role" uid)")" "$role in no group at $a"
    done
done
assert_eq "$UUID_NORD" "$(a_uuid nord P-student)" "same entryUUID in limbo"

step "a return within nord keeps the account; sued lets it go (leave = delete)"
import_school Gym1 Neu 1
sync_all
for role in "${ROLES[@]}"; do
    dn=$(a_dn nord "P-$role")
    [[ ${dn,,} == *,ou=gym1,dc=nord,dc=org ]] || fail "$role back at Gym1 at nord: '$dn'"
    assert_eq "" "$(a_val nord "P-$role" shadowExpire)" "$role active again"
    assert_eq "" "$(a_dn sued "P-$role")" "$role deleted at sued"
done
assert_eq "$UUID_NORD" "$(a_uuid nord P-student)" "the same account at nord (entryUUID)"

step "verify finds no drift"
for a in nord sued; do
    assert_rc 0 "verify $a" "$B_/sisopi-connector" -c "$CFG" verify --authority "$a"
done

step "a hand change at nord is found by verify and undone by resync"
dn=$(a_dn nord P-teacher)
uid=$(a_val nord P-teacher uid)
printf 'dn: %s\nchangetype: modify\nreplace: sn\nsn: Falsch\n' "$dn" | amod nord
printf 'dn: cn=Domain Users Gym1,cn=groups,ou=Gym1,%s\nchangetype: modify\ndelete: memberUid\nmemberUid: %s\n' \
    "${ABASE[nord]}" "$uid" | amod nord
assert_rc 2 "verify reports the drift" "$B_/sisopi-connector" -c "$CFG" verify --authority nord
assert_contains "$OUT" "sn=Neu" "verify names the attribute"
assert_contains "$OUT" "+memberUid=$uid" "verify names the lost membership"
assert_rc 0 "resync --dry-run" "$B_/sisopi-connector" -c "$CFG" resync --authority nord --dry-run
assert_eq "Falsch" "$(a_val nord P-teacher sn)" "a dry run changes nothing"
assert_rc 0 "resync" "$B_/sisopi-connector" -c "$CFG" resync --authority nord --school gym1
assert_eq "Neu" "$(a_val nord P-teacher sn)" "sn restored"
assert_contains "$(a_groups nord "$uid")" "Domain Users Gym1" "membership restored"
assert_rc 0 "verify after resync" "$B_/sisopi-connector" -c "$CFG" verify --authority nord

step "rejected at sued (no school Both there) while nord gets it; a poison event does not block"
f=$W/both.csv
printf '%s\n' 'record_uid,firstname,lastname,school,classes' "B-1,Bea,Beide,Both,1a" >"$f"
ingest "$CFG0" Both student "$f"
reconcile "$CFG0"
printf 'not avro at all' | kcat -P -b "$STACK_BOOTSTRAP" -t sisopi.events -k poison
printf '%s\n' 'record_uid,firstname,lastname,school,classes' "E-1,Emil,Extra,Extra,1a" >"$W/extra.csv"
ingest "$CFG0" Extra student "$W/extra.csv"
import_school Rs3 Spaet 1
reconcile "$CFG0"
connect "$CFG" nord
connect "$CFG" sued
assert_eq "Both" "$(a_val nord B-1 ucsschoolSchool)" "B-1 at nord"
assert_eq "" "$(a_dn sued B-1)" "B-1 refused at sued"
assert_eq "Spaet" "$(a_val sued P-staff sn)" "the partition went on at sued after the refusal"
assert_eq "" "$(a_dn nord E-1)$(a_dn sued E-1)" "a school of no authority goes nowhere"
dlq=$(timeout 30 kcat -C -b "$STACK_BOOTSTRAP" -t sisopi.connector.dlq -e -q -f '%k %h\n' 2>&1) || true
assert_contains "$dlq" "B-1 " "B-1's event is a dead letter"
assert_contains "$dlq" "sisopi-authority=sued" "the dead letter names the authority"
assert_contains "$dlq" "poison " "the poison event is a dead letter"
rejected=$("$B_/sisopi-audit" -c "$CFG0" history B-1 2>&1) || true
assert_contains "$rejected" "Rejected" "a Rejected event for B-1"
assert_contains "$rejected" "connector:sued" "... caused by sued's connector"

step "a move from sued's Rs3 to nord's Gym1 through limbo"
rs3() { # WITH_M: Rs3's student export, with M-1 or without
    printf '%s\n' 'record_uid,firstname,lastname,school,classes,password' \
        "K-student-Rs3,Anker,Rs3student,Rs3,1x,$PW" "P-student,Paula,Spaet,Rs3,1a,$PW" >"$W/rs3.csv"
    (($1)) && printf '%s\n' "M-1,Max,Wandert,Rs3,2b,$PW" >>"$W/rs3.csv"
    ingest "$CFG0" Rs3 student "$W/rs3.csv"
}
rs3 1
sync_all
[[ $(a_dn sued M-1) == *,ou=Rs3,* ]] || fail "M-1 at sued's Rs3: '$(a_dn sued M-1)'"
rs3 0
sync_all
[[ $(a_dn sued M-1) == *,ou=limbo,* ]] || fail "M-1 in sued's limbo: '$(a_dn sued M-1)'"
assert_eq "" "$(a_dn nord M-1)" "M-1 not at nord while in limbo"
printf '%s\n' 'record_uid,firstname,lastname,school,classes,password' \
    "K-student-Gym1,Anker,Gym1student,Gym1,1x,$PW" "P-student,Paula,Neu,Gym1,1a,$PW" \
    "M-1,Max,Wandert,Gym1,3c,$PW" >"$W/gym1.csv"
ingest "$CFG0" Gym1 student "$W/gym1.csv"
sync_all
[[ $(a_dn nord M-1) == *,ou=Gym1,* ]] || fail "M-1 at nord's Gym1: '$(a_dn nord M-1)'"
assert_eq "" "$(a_dn sued M-1)" "M-1 gone from sued"
assert_contains "$(a_groups nord "$(a_val nord M-1 uid)")" "Gym1-3c" "M-1's new class at nord"

step "a purge at the centre (scheduler, reconciler) purges at the authority too"
# A grace period of one second, so that the purge is due at once.
sed 's/deletion_grace_period = "1h";/deletion_grace_period = "1s";/' "$CFG0" >"$W/purge.cfg"
grep -q 'deletion_grace_period = "1s"' "$W/purge.cfg" || fail "could not write $W/purge.cfg"
f=$W/gs2-purge.csv
printf '%s\n' 'record_uid,firstname,lastname,school,classes,password' \
    "K-student-Gs2,Anker,Gs2student,Gs2,1x,$PW" "U-1,Ute,Weg,Gs2,1a,$PW" >"$f"
ingest "$W/purge.cfg" Gs2 student "$f"
reconcile "$W/purge.cfg"
connect "$CFG" nord
[[ -n $(a_dn nord U-1) ]] || fail "U-1 at nord"
sed -i '/^U-1,/d' "$f"
ingest "$W/purge.cfg" Gs2 student "$f"
reconcile "$W/purge.cfg"
connect "$CFG" nord
[[ $(a_dn nord U-1) == *,ou=limbo,* ]] || fail "U-1 in nord's limbo: '$(a_dn nord U-1)'"
[[ -n $(a_val nord U-1 ucsschoolPurgeTimestamp) ]] || fail "U-1's purge date travels"
sleep 2
run timeout 60 "$B_/sisopi-scheduler" -c "$W/purge.cfg" --once
((RC == 0)) || fail "scheduler --once ($RC): $OUT"
reconcile "$W/purge.cfg"
assert_eq "" "$(ldap_dns -b "$STACK_BASE" "(ucsschoolRecordUID=U-1)")" "U-1 purged at the centre"
connect "$CFG" nord
assert_eq "" "$(a_dn nord U-1)" "U-1 purged at nord"

step "resync removes what the connector made when the centre lost it without an event"
cdn=$(ldap_dns -b "$STACK_BASE" "(ucsschoolRecordUID=B-1)")
# shellcheck disable=SC2119 # ldap_modify takes no arguments here, the LDIF on stdin
ldap_modify <<LDIF >/dev/null
dn: cn=Domain Users Both,cn=groups,ou=Both,$STACK_BASE
changetype: modify
delete: uniqueMember
uniqueMember: $cdn
LDIF
ldap_delete "$cdn"
assert_rc 2 "verify sees B-1 to remove" "$B_/sisopi-connector" -c "$CFG" verify --authority nord
assert_rc 0 "resync" "$B_/sisopi-connector" -c "$CFG" resync --authority nord
assert_eq "" "$(a_dn nord B-1)" "B-1 gone at nord"
assert_rc 0 "verify" "$B_/sisopi-connector" -c "$CFG" verify --authority nord
