#!/usr/bin/env bash
# sisopi-reconciler against a real slapd and the devbroker: the SiSoPi rules of
# docs/reference.md §2.3/§2.4/§7 for all four roles, checked in the directory attribute by
# attribute and group by group, and on sisopi.events: creation, spanning schools, losing a school (primary or not),
# limbo with purge date, coming back with the same account, classes per school, the deletion
# guard and its release, dry runs, an incomplete import, poison messages, unchanged imports,
# purges, a state directory lost and rebuilt from LDAP, and a mapping target the directory
# does not know (a config error at start).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
INJECT=$SISOPI_BUILD/tests/users_inject
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"

step "start the stack"
start_stack --schools "SchA SchB SchC"
W=$STACK_DIR/work
mkdir -p "$W"
BASE=$STACK_BASE
# Test settings: a one-hour grace period, a guard that lets the scenario's removals through.
sed -e 's/deletion_grace_period = "90d";/deletion_grace_period = "1h";\n  deletion_guard: { max_ratio = 1.0; max_count = 1000; };/' \
    "$STACK_DIR/sisopi.cfg" >"$W/sisopi.cfg"
CFG=$W/sisopi.cfg
grep -q 'max_ratio = 1.0' "$CFG" || fail "could not write the test config"

ingest() { # SCHOOL ROLE FILE [ARGS...]: publishes, sets IID
    local school=$1 role=$2 file=$3
    shift 3
    run "$B_/sisopi-ingest" -c "$CFG" -q --school "$school" --role "$role" "$@" "$file"
    [[ $RC -eq 0 ]] || fail "ingest $school/$role failed ($RC): $OUT"
    IID=$(sed -n 's/^import_id: *//p' <<<"$OUT")
}
reconcile() {
    local t0=$SECONDS
    run timeout 180 "$B_/sisopi-reconciler" -c "$CFG" --until-idle --idle-open 3
    [[ $RC -eq 0 ]] || fail "reconciler failed ($RC): $OUT"
    ROUT=$OUT
    printf '  (reconciler ran %d s)\n' $((SECONDS - t0))
}
csv() { # FILE LINE...: a student/teacher export
    local f=$1
    shift
    printf '%s\n' "record_uid,firstname,lastname,school,classes" "$@" >"$W/$f"
}
q() { ldap_search -b "$BASE" "$@"; }
attr() { # RID ATTR: the attribute's values (base64 ones decoded), sorted, space-separated
    q "(ucsschoolRecordUID=$1)" "$2" | while IFS= read -r line; do
        case $line in
        "$2:: "*) base64 -d <<<"${line#"$2":: }"; echo ;;
        "$2: "*) echo "${line#"$2": }" ;;
        esac
    done | sort | xargs
}
dn_of() { q "(ucsschoolRecordUID=$1)" 1.1 | sed -n 's/^dn: //p'; }
members() { # GROUP_DN: memberUid values, sorted
    ldap_search -b "$1" -s base "(objectClass=*)" memberUid | sed -n 's/^memberUid: //p' | sort | xargs
}
in_group() { [[ " $(members "$1") " == *" $2 "* ]]; }
grp() { echo "cn=$1,cn=groups,ou=$2,$BASE"; }
cls() { echo "cn=$1,cn=klassen,cn=schueler,cn=groups,ou=$2,$BASE"; }
events() { "$B_/sisopi-audit" -c "$CFG" dump --topic events 2>/dev/null; }
ev_types() { # RID: the event types about a person, in order
    events | jq -r "select(.event.record_uid==\"$1\") | [.partition, .offset, .event.type] | @tsv" |
        sort -n -k1 -k2 | cut -f3 | xargs
}

step "1. school A imports three students: accounts, groups, classes"
csv a1.csv "S1,Anna,Alpha,SchA,5a" "S2,Bert,Beta,SchA,5a" "S3,Cora,Gamma,SchA,5b"
ingest SchA student "$W/a1.csv"
reconcile
assert_eq "uid=A.Alpha,cn=schueler,cn=users,ou=SchA,$BASE" "$(dn_of S1)" "S1 DN"
assert_eq "SchA" "$(attr S1 ucsschoolSchool)" "S1 schools"
assert_eq "student:school:SchA" "$(attr S1 ucsschoolRole)" "S1 roles"
assert_eq "SchA" "$(attr S1 departmentNumber)" "S1 departmentNumber"
assert_eq "sisopi-demo" "$(attr S1 ucsschoolSourceUID)" "S1 source"
assert_eq "Anna Alpha" "$(q '(ucsschoolRecordUID=S1)' cn | sed -n 's/^cn: //p')" "S1 cn"
assert_eq "" "$(attr S1 shadowExpire)" "S1 active"
[[ -n $(attr S1 userPassword) ]] || fail "S1 has no password"
for g in "Domain Users SchA" schueler-scha; do
    assert_eq "A.Alpha B.Beta C.Gamma" "$(members "$(grp "$g" SchA)")" "members of $g"
done
assert_eq "A.Alpha B.Beta" "$(members "$(cls SchA-5a SchA)")" "class SchA-5a (created on first use)"
assert_eq "C.Gamma" "$(members "$(cls SchA-5b SchA)")" "class SchA-5b"
assert_eq "Created" "$(ev_types S1)" "S1 events"
ev=$(events | jq -c 'select(.event.record_uid=="S1")')
assert_eq "\"$IID\"" "$(jq .event.import_id <<<"$ev")" "event import_id"
assert_eq '"sisopi.users"' "$(jq .event.input_topic <<<"$ev")" "event input topic"
assert_contains "$(jq -c .event.changed <<<"$ev")" '"ucsschoolSchool"' "event lists attributes"
done_ev=$(events | jq -c "select(.event.type==\"ImportCompleted\" and .event.import_id==\"$IID\")")
assert_eq 12 "$(wc -l <<<"$done_ev")" "ImportCompleted per partition"
assert_eq 3 "$(jq -s 'map(.event.counts.created) | add' <<<"$done_ev")" "created count"

step "2. school B lists S3 and a new S4: S3 spans A and B, primary A"
csv b1.csv "S3,Cora,Gamma,SchB,7c" "S4,Dora,Delta,SchB,"
ingest SchB student "$W/b1.csv"
reconcile
assert_eq "uid=C.Gamma,cn=schueler,cn=users,ou=SchA,$BASE" "$(dn_of S3)" "S3 keeps primary A"
assert_eq "SchA SchB" "$(attr S3 ucsschoolSchool)" "S3 schools"
assert_eq "student:school:SchA student:school:SchB" "$(attr S3 ucsschoolRole)" "S3 roles"
in_group "$(grp 'Domain Users SchB' SchB)" C.Gamma || fail "S3 not in Domain Users SchB"
in_group "$(cls SchA-5b SchA)" C.Gamma || fail "S3 lost its A class"
assert_eq "C.Gamma" "$(members "$(cls SchB-7c SchB)")" "S3 in B's class"
assert_eq "Created SchoolAdded" "$(ev_types S3)" "S3 events"

step "3. A drops S2 and changes S3's class: S2 to limbo, S3's A classes replaced only"
csv a2.csv "S1,Anna,Alpha,SchA,5a" "S3,Cora,Gamma,SchA,5c"
ingest SchA student "$W/a2.csv"
reconcile
assert_eq "uid=B.Beta,cn=schueler,cn=users,ou=limbo,$BASE" "$(dn_of S2)" "S2 in limbo"
assert_eq "1" "$(attr S2 shadowExpire)" "S2 deactivated (shadowExpire)"
assert_eq "000001010000Z" "$(attr S2 pwdAccountLockedTime)" "S2 locked"
ts=$(attr S2 ucsschoolPurgeTimestamp)
[[ $ts =~ ^[0-9]{14}Z$ ]] || fail "S2 purge timestamp: $ts"
assert_eq "limbo" "$(attr S2 ucsschoolSchool)" "S2 school is limbo"
in_group "$(grp 'Domain Users SchA' SchA)" B.Beta && fail "S2 still in Domain Users SchA"
in_group "$(cls SchA-5a SchA)" B.Beta && fail "S2 still in class 5a"
assert_eq "C.Gamma" "$(members "$(cls SchA-5c SchA)")" "S3 in A's new class"
in_group "$(cls SchA-5b SchA)" C.Gamma && fail "S3 still in A's old class"
in_group "$(cls SchB-7c SchB)" C.Gamma || fail "S3 lost B's class"
assert_eq "Created MovedToLimbo" "$(ev_types S2)" "S2 events"
pts=$(events | jq -r 'select(.event.record_uid=="S2" and .event.type=="MovedToLimbo") | .event.purge_at')
[[ $pts -gt 0 ]] || fail "MovedToLimbo carries no purge date"

step "4. A drops S3 (primary A): S3 moves to B"
csv a3.csv "S1,Anna,Alpha,SchA,5a"
ingest SchA student "$W/a3.csv"
reconcile
assert_eq "uid=C.Gamma,cn=schueler,cn=users,ou=SchB,$BASE" "$(dn_of S3)" "S3 primary now B"
assert_eq "SchB" "$(attr S3 ucsschoolSchool)" "S3 schools"
assert_eq "student:school:SchB" "$(attr S3 ucsschoolRole)" "S3 roles"
assert_eq "SchB" "$(attr S3 departmentNumber)" "S3 departmentNumber"
in_group "$(grp 'Domain Users SchA' SchA)" C.Gamma && fail "S3 still in A"
newdn=$(dn_of S3)
b_members=$(ldap_search -b "$(grp 'Domain Users SchB' SchB)" -s base "(objectClass=*)" uniqueMember)
assert_contains "$b_members" "$newdn" "B's group has S3's new DN"
assert_not_contains "$b_members" "ou=SchA" "B's group has no stale DN"

step "5. C lists S2: back from limbo, same uid and password, active"
pw_before=$(attr S2 userPassword)
csv c1.csv "S2,Bert,Beta,SchC,9a"
ingest SchC student "$W/c1.csv"
reconcile
assert_eq "uid=B.Beta,cn=schueler,cn=users,ou=SchC,$BASE" "$(dn_of S2)" "S2 in C with the same uid"
assert_eq "$pw_before" "$(attr S2 userPassword)" "S2 keeps its password"
assert_eq "" "$(attr S2 shadowExpire)$(attr S2 pwdAccountLockedTime)$(attr S2 ucsschoolPurgeTimestamp)" \
    "S2 active, no purge date"
assert_eq "SchC" "$(attr S2 ucsschoolSchool)" "S2 school"
in_group "$(cls SchC-9a SchC)" B.Beta || fail "S2 not in C's class"
assert_eq "Created MovedToLimbo Reactivated" "$(ev_types S2)" "S2 events"

step "6. the same file again: nothing changes, nothing is written"
before=$(events | wc -l)
# The newest change stamp of any entry: equal afterwards means not one write happened.
last_write() { ldap_search -b "$BASE" "(objectClass=*)" entryCSN | sed -n 's/^entryCSN: //p' | sort | tail -1; }
csn=$(last_write)
[[ -n $csn ]] || fail "no entryCSN to compare"
ingest SchC student "$W/c1.csv"
reconcile
assert_eq "$csn" "$(last_write)" "no LDAP write for an unchanged import"
assert_eq 12 "$(( $(events | wc -l) - before ))" "only the 12 ImportCompleted events"
u=$(events | jq -s "map(select(.event.import_id==\"$IID\") | .event.counts.unchanged) | add")
assert_eq 1 "$u" "counted as unchanged"

step "7. teachers, staff, teachers-and-staff: containers, role groups, classes"
printf '%s\n' "record_uid,firstname,lastname,school,classes" "T1,Tom,Teach,SchA,5a" >"$W/t.csv"
printf '%s\n' "record_uid,firstname,lastname,school,classes" "M1,Mia,Staff,SchA,5a" >"$W/m.csv"
printf '%s\n' "record_uid,firstname,lastname,school,classes" "X1,Xena,Both,SchA,5a" >"$W/x.csv"
ingest SchA teacher "$W/t.csv"
ingest SchA staff "$W/m.csv"
ingest SchA teacher_and_staff "$W/x.csv"
reconcile
assert_eq "uid=T.Teach,cn=lehrer,cn=users,ou=SchA,$BASE" "$(dn_of T1)" "teacher DN"
assert_eq "uid=M.Staff,cn=mitarbeiter,cn=users,ou=SchA,$BASE" "$(dn_of M1)" "staff DN"
assert_eq "uid=X.Both,cn=lehrer und mitarbeiter,cn=users,ou=SchA,$BASE" "$(dn_of X1)" "t&s DN"
assert_eq "staff:school:SchA teacher:school:SchA" "$(attr X1 ucsschoolRole)" "t&s roles"
assert_eq "T.Teach X.Both" "$(members "$(grp lehrer-scha SchA)")" "lehrer group"
assert_eq "M.Staff X.Both" "$(members "$(grp mitarbeiter-scha SchA)")" "mitarbeiter group"
assert_eq "A.Alpha T.Teach X.Both" "$(members "$(cls SchA-5a SchA)")" "staff get no classes"
oc=$(attr X1 objectClass)
assert_contains "$oc" "ucsschoolTeacher" "t&s object class T"
assert_contains "$oc" "ucsschoolStaff" "t&s object class S"

step "8. roles never change: a teacher listed as student is rejected"
csv s-t1.csv "T1,Tom,Teach,SchA,5a" "S1,Anna,Alpha,SchA,5a"
ingest SchA student "$W/s-t1.csv"
reconcile
assert_eq "uid=T.Teach,cn=lehrer,cn=users,ou=SchA,$BASE" "$(dn_of T1)" "T1 unchanged"
rej=$(events | jq -r 'select(.event.record_uid=="T1" and .event.type=="Rejected") | .event.reason')
assert_contains "$rej" "roles never change" "Rejected with a reason"

step "9. the deletion guard holds an import that would remove too many, release lets it go"
csv b-many.csv "B1,Ben,Eins,SchB," "B2,Ben,Zwei,SchB," "B3,Ben,Drei,SchB," "B4,Ben,Vier,SchB," "S3,Cora,Gamma,SchB,7c" "S4,Dora,Delta,SchB,"
ingest SchB student "$W/b-many.csv"
reconcile
sed 's/max_ratio = 1.0; max_count = 1000;/max_ratio = 0.5; max_count = 1000;/' "$CFG" >"$W/guard.cfg"
csv b-few.csv "S3,Cora,Gamma,SchB,7c"
run "$B_/sisopi-ingest" -c "$W/guard.cfg" -q --school SchB --role student "$W/b-few.csv"
HID=$(sed -n 's/^import_id: *//p' <<<"$OUT")
run timeout 180 "$B_/sisopi-reconciler" -c "$W/guard.cfg" --until-idle --idle-open 3
[[ $RC -eq 0 ]] || fail "reconciler (guard) failed: $OUT"
assert_eq "SchB" "$(attr B1 ucsschoolSchool)" "held: B1 keeps its school"
held=$(events | jq -c "select(.event.type==\"ImportHeld\" and .event.import_id==\"$HID\")")
[[ -n $held ]] || fail "no ImportHeld event"
assert_contains "$held" "sisopi-admin release $HID" "ImportHeld says how to release"
assert_rc 0 "release" "$B_/sisopi-admin" -c "$CFG" release "$HID"
reconcile
assert_eq "limbo" "$(attr B1 ucsschoolSchool)" "released: B1 in limbo"
assert_eq "limbo" "$(attr S4 ucsschoolSchool)" "released: S4 in limbo"
assert_eq "SchB" "$(attr S3 ucsschoolSchool)" "released: S3 stays"
rel=$(events | jq -c "select(.event.type==\"ImportReleased\" and .event.import_id==\"$HID\")")
[[ -n $rel ]] || fail "no ImportReleased event"

step "10. a dry run reports, publishes nothing, and changes nothing"
csv c-dry.csv "S9,Neu,Person,SchC,1a"
n_events=$(events | wc -l)
ingest SchC student "$W/c-dry.csv" --dry-run
assert_contains "$OUT" "published:  nothing (--dry-run)" "the dry run says so"
assert_contains "$OUT" "$(printf '  Created\tS9\t')" "dry run reports the creation"
assert_contains "$OUT" "$(printf '  MovedToLimbo\tS2\tuid=B.Beta,cn=schueler,cn=users,ou=limbo,%s' "$BASE")" \
    "dry run reports the removal, with the account's place in limbo"
reconcile
assert_eq "" "$(dn_of S9)" "dry run created nobody"
assert_eq "uid=B.Beta,cn=schueler,cn=users,ou=SchC,$BASE" "$(dn_of S2)" "dry run removed nobody"
assert_eq "$n_events" "$(events | wc -l)" "events after a dry run"

step "11. an end marker whose count does not match removes nobody"
"$INJECT" -c "$CFG" end 0 01a1ffff-0000-7000-8000-000000000001 sisopi-demo SchC student 5 >/dev/null 2>&1 ||
    fail "inject end marker"
reconcile
assert_eq "SchC" "$(attr S2 ucsschoolSchool)" "incomplete import: S2 stays"
inc=$(events | jq -r 'select(.event.type=="ImportIncomplete") | .event.reason')
assert_contains "$inc" "holds 0 of the import's 5 records" "ImportIncomplete explains"

step "12. poison on sisopi.users goes to the dead-letter topic, the rest goes on"
head -c 300 /dev/urandom >"$W/poison.bin"
"$INJECT" -c "$CFG" raw 3 poison "$W/poison.bin" >/dev/null 2>&1 || fail "inject poison"
"$INJECT" -c "$CFG" record 01a1ffff-0000-7000-8000-000000000002 sisopi-demo 'a,ou=x' student P1 Evil Name \
    >/dev/null 2>&1 || fail "inject invalid record"
csv a-after.csv "S1,Anna,Alpha,SchA,5a" "S5,Emil,Epsilon,SchA,5a"
ingest SchA student "$W/a-after.csv"
reconcile
# Exit 2: the random bytes are (and stay) undecodable, also for the dump.
assert_rc 2 "dump the dead letters" "$B_/sisopi-audit" -c "$CFG" dump --topic dlq
dlq=$(grep '^{' <<<"$OUT")
assert_eq 2 "$(wc -l <<<"$dlq")" "two dead letters"
assert_eq 1 "$(grep -c '"error"' <<<"$dlq")" "one of them undecodable"
hdr=$(kcat -C -b "$STACK_BOOTSTRAP" -t sisopi.users.dlq -e -q -f '%h\n')
assert_contains "$hdr" "sisopi-error=" "reason header"
assert_contains "$hdr" "school is not a valid school name" "invalid record explained"
assert_eq "uid=E.Epsilon,cn=schueler,cn=users,ou=SchA,$BASE" "$(dn_of S5)" "processing went on"
assert_eq "" "$(dn_of P1)" "the invalid record created nobody"

step "13. the state directory lost: rebuilt from the directory, decisions unchanged"
rm -rf "$STACK_DIR/reconciler"
csv a-final.csv "S1,Anna,Alpha,SchA,5a"
ingest SchA student "$W/a-final.csv"
reconcile
assert_contains "$ROUT" "partitions_rebuilt" "the state was rebuilt"
assert_eq "limbo" "$(attr S5 ucsschoolSchool)" "S5 removed after the rebuild"
assert_eq "SchA" "$(attr S1 ucsschoolSchool)" "S1 kept"
assert_eq "uid=T.Teach,cn=lehrer,cn=users,ou=SchA,$BASE" "$(dn_of T1)" "teachers untouched by a student import"

step "14. PurgeDue deletes only a person still in limbo with that purge date, never before it"
# B1's date is an hour ahead: an order for it (a wrong clock, a hand-made message) waits.
b1ts=$(attr B1 ucsschoolPurgeTimestamp)
b1ms=$(($(date -u -d "${b1ts:0:8} ${b1ts:8:2}:${b1ts:10:2}:${b1ts:12:2}" +%s) * 1000))
"$INJECT" -c "$CFG" purge B1 "$b1ms" >/dev/null 2>&1 || fail "inject purge"
# P9 reaches limbo with a 2-second grace (another config, same reconciler state).
sed -e 's/deletion_grace_period = "1h";/deletion_grace_period = "2s";/' "$CFG" >"$W/short.cfg"
csv m9.csv "P9,Pia,Neun,SchC,"
ingest SchC staff "$W/m9.csv"
reconcile
assert_contains "$ROUT" "purge date not reached" "the early order for B1 was refused"
[[ -n $(dn_of B1) ]] || fail "B1 deleted before its purge date"
csv m9b.csv "P8,Per,Acht,SchC,"
CFG_MAIN=$CFG
CFG=$W/short.cfg
ingest SchC staff "$W/m9b.csv"
reconcile
CFG=$CFG_MAIN
p9ts=$(attr P9 ucsschoolPurgeTimestamp)
[[ $p9ts =~ ^[0-9]{14}Z$ ]] || fail "P9 purge timestamp: $p9ts"
p9ms=$(($(date -u -d "${p9ts:0:8} ${p9ts:8:2}:${p9ts:10:2}:${p9ts:12:2}" +%s) * 1000))
sleep 3 # P9's date has passed
"$INJECT" -c "$CFG" purge P9 $((p9ms + 1000)) >/dev/null 2>&1 || fail "inject purge"
"$INJECT" -c "$CFG" purge S2 "$p9ms" >/dev/null 2>&1 || fail "inject purge"
reconcile
[[ -n $(dn_of P9) ]] || fail "P9 deleted for another purge date"
[[ -n $(dn_of S2) ]] || fail "S2 (active) deleted"
"$INJECT" -c "$CFG" purge P9 "$p9ms" >/dev/null 2>&1 || fail "inject purge"
"$INJECT" -c "$CFG" purge P9 "$p9ms" >/dev/null 2>&1 || fail "inject purge"
reconcile
assert_eq "" "$(dn_of P9)" "P9 purged"
assert_eq 1 "$(events | jq -r 'select(.event.record_uid=="P9" and .event.type=="Deleted") | .offset' | wc -l)" \
    "one Deleted event for two PurgeDue"

step "15. a misspelt LDAP attribute in import.csv.mapping stops the reconciler at its start"
# "klass" looks like an attribute name, so the config loads; only the directory's schema knows
# there is no such attribute (every record would be refused with "Undefined attribute type").
sed -e 's/^      \[ "birthday", "birthday" \]$/&,\n      [ "Telefon", "TelephoneNumber" ],\n      [ "Klasse", "klass" ]/' \
    -e 's/allowed_missing_columns = \[/&"Telefon", "Klasse", /' "$CFG" >"$W/klass.cfg"
kline=$(grep -n '"klass"' "$W/klass.cfg" | cut -d: -f1)
[[ -n $kline ]] || fail "could not write klass.cfg"
csv m15.csv "S15,Fynn,Fuenfzehn,SchA,1a"
# The ingest reads the schema too before it publishes: refused, nothing published.
assert_rc 1 "the ingest with a misspelt mapping target" \
    "$B_/sisopi-ingest" -c "$W/klass.cfg" -q --school SchA --role student "$W/m15.csv"
assert_contains "$OUT" "$W/klass.cfg:$kline: import.csv.mapping[9]: column \"Klasse\": \"klass\" is not an attribute type the directory knows" \
    "the ingest names the file, the line, the key and the value"
assert_contains "$OUT" "nothing was published" "the ingest published nothing"
ingest SchA student "$W/m15.csv"
assert_rc 1 "the reconciler with a misspelt mapping target" \
    timeout 120 "$B_/sisopi-reconciler" -c "$W/klass.cfg" --until-idle --idle-open 3
assert_contains "$OUT" "sisopi-reconciler: $W/klass.cfg:$kline: import.csv.mapping[9]: column \"Klasse\": \"klass\" is not an attribute type the directory knows (cn=Subschema)" \
    "the error names the file, the line, the key and the value"
assert_eq "" "$(dn_of S15)" "nothing was applied"
# Spelt right (in any case, as LDAP compares names), the same mapping starts and applies.
sed 's/"klass"/"Description"/' "$W/klass.cfg" >"$W/fixed.cfg"
CFG=$W/fixed.cfg
reconcile
CFG=$CFG_MAIN
[[ -n $(dn_of S15) ]] || fail "S15 not created with the corrected mapping"

step "16. a record seen to change nothing is known by its digest; any other change forgets it"
csv z1.csv "Z1,Zoe,Zed,SchB," "Z2,Zack,Zorn,SchB,"
ingest SchB staff "$W/z1.csv"
reconcile
assert_eq "uid=Z.Zed,cn=mitarbeiter,cn=users,ou=SchB,$BASE" "$(dn_of Z1)" "Z1 created"
csn=$(last_write)
ingest SchB staff "$W/z1.csv"
reconcile
assert_contains "$ROUT" " unchanged=2 unchanged_by_digest=2 " "both records known unchanged by their digests"
assert_eq "$csn" "$(last_write)" "no LDAP write for the known records"
# Z1 dropped: the state changes, so the digest stored with the old state is gone with it.
csv z2.csv "Z2,Zack,Zorn,SchB,"
ingest SchB staff "$W/z2.csv"
reconcile
assert_eq "uid=Z.Zed,cn=mitarbeiter,cn=users,ou=limbo,$BASE" "$(dn_of Z1)" "Z1 in limbo"
ingest SchB staff "$W/z1.csv"
reconcile
assert_eq "uid=Z.Zed,cn=mitarbeiter,cn=users,ou=SchB,$BASE" "$(dn_of Z1)" \
    "Z1 back from limbo by the very record its digest once said changed nothing"
assert_eq "" "$(attr Z1 shadowExpire)" "Z1 active again"
assert_eq "Created MovedToLimbo Reactivated" "$(ev_types Z1)" "Z1 events"
# A digest made under one configuration never vouches under another (here: the grace period).
ingest SchB staff "$W/z1.csv"
CFG=$W/short.cfg
reconcile
CFG=$CFG_MAIN
assert_contains "$ROUT" " unchanged=2 unchanged_by_digest=0 " "another configuration plans every record"
csv z3.csv "Z1,Zoe,Zet,SchB," "Z2,Zack,Zorn,SchB,"
ingest SchB staff "$W/z3.csv"
reconcile
assert_eq "Zet" "$(attr Z1 sn)" "a changed record is applied"
assert_contains "$ROUT" " unchanged=1 unchanged_by_digest=1 " "Z2 still known by its digest"
