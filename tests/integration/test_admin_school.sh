#!/usr/bin/env bash
# sisopi-admin school create|list|show|delete against a real slapd and the devbroker: a school
# made whole from deploy/ldap/school.ldif.in (the same entries the limbo OU and the stack's
# schools have), made again (nothing changes), completed after an interruption, bad names
# refused (case clash, the limbo OU, DN and filter specials); list, --json and show counted
# against the directory after real imports and a reconciler run (the limbo OU included);
# delete refused while the school holds accounts or classes, and done on an empty one. And the
# reconciler: records for a school the directory does not have become Rejected events, with
# no account, no username counter and no school added to a person another school lists.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
A=$B_/sisopi-admin
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"

step "start the stack"
start_stack --schools "SchA" --limbo Abgang
W=$STACK_DIR/work
mkdir -p "$W"
BASE=$STACK_BASE
# A guard that lets this test's one removal through.
sed -e 's/deletion_grace_period = "90d";/deletion_grace_period = "1h";\n  deletion_guard: { max_ratio = 1.0; max_count = 1000; };/' \
    "$STACK_DIR/sisopi.cfg" >"$W/sisopi.cfg"
CFG=$W/sisopi.cfg
grep -q 'max_ratio = 1.0' "$CFG" || fail "could not write the test config"

admin() { run "$A" -c "$CFG" "$@"; }
# school_dns NAME: the DNs below ou=NAME, sorted, with the name replaced by @S@ and its
# lower-case form by @s@: the shape of a school, comparable between schools.
school_shape() {
    ldap_dns -b "ou=$1,$BASE" '(objectClass=*)' | sed -e "s/$1/@S@/g" -e "s/${1,,}/@s@/g"
}
# The shape the template says (its defaults for the containers).
template_shape() {
    sed -e 's/@SCHOOL@/@S@/g' -e 's/@school_lower@/@s@/g' -e "s/@BASE@/$BASE/g" \
        -e "s/@CONTAINER_STUDENT@/schueler/g" -e "s/@CONTAINER_TEACHER@/lehrer/g" \
        -e "s/@CONTAINER_STAFF@/mitarbeiter/g" \
        -e "s/@CONTAINER_TEACHER_AND_STAFF@/lehrer und mitarbeiter/g" \
        "$SISOPI_SRC/deploy/ldap/school.ldif.in" | sed -n 's/^dn: //p' | LC_ALL=C sort
}
last_write() { ldap_search -b "$BASE" "(objectClass=*)" entryCSN | sed -n 's/^entryCSN: //p' | sort | tail -1; }
ous() { ldap_dns -b "$BASE" -s one '(objectClass=organizationalUnit)'; }
count() { # FILTER [SEARCH OPTIONS]: how many entries (below the base, unless -b is given)
    local f=$1
    shift
    ldap_dns -b "$BASE" "$@" "$f" | grep -c . || true
}

step "create: every entry of a school, as the template, the stack and the limbo OU have them"
assert_rc 0 "create Gym1" "$A" -c "$CFG" school create Gym1 --display-name "Gymnasium Eins, Zweig B"
assert_contains "$OUT" "school Gym1 created: 13 entries below ou=Gym1,$BASE" "create says what it did"
assert_eq "$(template_shape)" "$(school_shape Gym1)" "Gym1 = the template"
assert_eq "$(school_shape SchA)" "$(school_shape Gym1)" "Gym1 = SchA (made by stack.sh)"
assert_eq "$(school_shape Abgang)" "$(school_shape Gym1)" "Gym1 = the limbo OU (base.ldif.in)"
assert_eq "Gymnasium Eins, Zweig B" "$(ldap_attr "ou=Gym1,$BASE" displayName)" "display name"
assert_eq "school:school:Gym1" "$(ldap_attr "ou=Gym1,$BASE" ucsschoolRole)" "OU role"
assert_eq "school_domain_group:school:Gym1" \
    "$(ldap_attr "cn=Domain Users Gym1,cn=groups,ou=Gym1,$BASE" ucsschoolRole)" "Domain Users role"
assert_eq "school_teacher_group:school:Gym1" \
    "$(ldap_attr "cn=lehrer-gym1,cn=groups,ou=Gym1,$BASE" ucsschoolRole)" "teacher group role"
assert_eq "$(printf '%s\n' sisopiGroup ucsschoolGroup)" \
    "$(ldap_attr "cn=schueler-gym1,cn=groups,ou=Gym1,$BASE" objectClass | sort)" "group classes"

step "create again: says it exists, changes nothing, exit 0"
csn=$(last_write)
assert_rc 0 "create Gym1 again" "$A" -c "$CFG" school create Gym1
assert_contains "$OUT" "school Gym1 exists already with all its 13 entries: nothing changed" "said"
assert_eq "$csn" "$(last_write)" "nothing was written"
assert_rc 0 "with another display name" "$A" -c "$CFG" school create Gym1 --display-name Other
assert_contains "$OUT" "its display name stays \"Gymnasium Eins, Zweig B\"" "display name kept, said"
assert_eq "Gymnasium Eins, Zweig B" "$(ldap_attr "ou=Gym1,$BASE" displayName)" "display name kept"

step "an interrupted create is completed by running it again"
ldap_delete "cn=klassen,cn=schueler,cn=groups,ou=Gym1,$BASE" \
    "cn=lehrer und mitarbeiter,cn=users,ou=Gym1,$BASE" "cn=mitarbeiter-gym1,cn=groups,ou=Gym1,$BASE"
assert_rc 0 "show an incomplete school" "$A" -c "$CFG" school show Gym1
assert_contains "$OUT" "entries:       10 of the 13 a school has (incomplete" "show: incomplete"
assert_contains "$OUT" "MISSING  cn=klassen,cn=schueler,cn=groups,ou=Gym1,$BASE" "show: what is missing"
assert_rc 0 "create completes" "$A" -c "$CFG" school create Gym1
assert_contains "$OUT" "school Gym1 completed: 3 missing entries added, 10 were there" "said"
assert_eq "$(template_shape)" "$(school_shape Gym1)" "Gym1 whole again"
# An OU alone (a create that died after its first add).
assert_rc 0 "create Part1" "$A" -c "$CFG" school create Part1
ldap_dns -b "ou=Part1,$BASE" '(objectClass=*)' | grep -v "^ou=Part1," |
    awk '{ print gsub(/,/, ",") "\t" $0 }' | sort -rn | cut -f2- | # deepest first
    while IFS= read -r dn; do ldap_delete "$dn"; done
assert_eq "ou=Part1,$BASE" "$(ldap_dns -b "ou=Part1,$BASE" '(objectClass=*)')" "only the OU is left"
assert_rc 0 "create completes Part1" "$A" -c "$CFG" school create Part1
assert_contains "$OUT" "12 missing entries added, 1 were there" "said"
assert_eq "$(template_shape)" "$(school_shape Part1)" "Part1 whole"

step "bad names are refused (exit 64) and make nothing"
before=$(ous)
assert_rc 64 "a name that differs only in case" "$A" -c "$CFG" school create gym1
assert_contains "$OUT" "\"gym1\" differs only in case from the existing \"Gym1\"" "case clash said"
assert_rc 64 "the limbo OU, other case" "$A" -c "$CFG" school create ABGANG
assert_contains "$OUT" "\"ABGANG\" is the limbo OU" "limbo said"
for bad in "a,b" "a=b" "a+b" "a b" "a*" "a(b)" 'a\b' "Gymnäsium" "_a" "a-" "-a" \
    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij12345"; do
    assert_rc 64 "bad name $bad" "$A" -c "$CFG" school create -- "$bad"
    assert_contains "$OUT" "school name" "bad name $bad: said why"
done
assert_rc 64 "an OU that is no school (base.ldif.in's policies)" "$A" -c "$CFG" school create policies
assert_contains "$OUT" "ou=policies,$BASE exists and is not a school OU" "said"
assert_eq "cn=default,ou=policies,$BASE" "$(ldap_dns -b "ou=policies,$BASE" -s one '(objectClass=*)')" \
    "nothing added below ou=policies"
assert_rc 1 "delete an OU that is no school" "$A" -c "$CFG" school delete policies
assert_contains "$OUT" "is not a school OU" "said"
assert_rc 64 "two names that differ only in case" "$A" -c "$CFG" school create NewA newa
assert_rc 64 "--display-name with two names" "$A" -c "$CFG" school create NewA NewB --display-name X
assert_rc 64 "a display name with a line break" "$A" -c "$CFG" school create NewA --display-name $'a\nb'
assert_rc 64 "no name" "$A" -c "$CFG" school create
assert_rc 64 "no subcommand" "$A" -c "$CFG" school
assert_rc 64 "unknown subcommand" "$A" -c "$CFG" school rename Gym1
assert_eq "$before" "$(ous)" "no OU was made"

step "directory trouble: exit 1"
sed 's|uri = "ldap://127.0.0.1:[0-9]*/";|uri = "ldap://127.0.0.1:1/";|' "$CFG" >"$W/down.cfg"
grep -q '127.0.0.1:1/' "$W/down.cfg" || fail "could not write the unreachable config"
assert_rc 1 "create with the directory away" timeout 60 "$A" -c "$W/down.cfg" school create NewA
assert_contains "$OUT" "127.0.0.1:1" "the error names the directory"
assert_rc 1 "list with the directory away" timeout 60 "$A" -c "$W/down.cfg" school list

step "imports: SchA and Gym1 students, SchA teachers; P2 in both schools"
ingest() { # SCHOOL ROLE FILE
    run "$B_/sisopi-ingest" -c "$CFG" -q --school "$1" --role "$2" "$3"
    [[ $RC -eq 0 ]] || fail "ingest $1/$2 failed ($RC): $OUT"
}
reconcile() {
    run timeout 180 "$B_/sisopi-reconciler" -c "$CFG" --until-idle --idle-open 3
    [[ $RC -eq 0 ]] || fail "reconciler failed ($RC): $OUT"
    ROUT=$OUT
}
csv() { # FILE LINE...
    local f=$1
    shift
    printf '%s\n' "record_uid,firstname,lastname,school,classes" "$@" >"$W/$f"
}
csv a-st.csv "P1,Paula,Eins,SchA,5a" "P2,Peter,Zwei,SchA,5a" "P3,Pia,Drei,SchA,6b"
csv a-t.csv "T1,Tom,Lehrer,SchA,"
csv g-st.csv "G1,Gina,Gym,Gym1,7c" "P2,Peter,Zwei,Gym1,7c"
ingest SchA student "$W/a-st.csv"
ingest SchA teacher "$W/a-t.csv"
reconcile
ingest Gym1 student "$W/g-st.csv"
reconcile
# P3 leaves SchA, its last school: limbo.
csv a-st2.csv "P1,Paula,Eins,SchA,5a" "P2,Peter,Zwei,SchA,5a"
ingest SchA student "$W/a-st2.csv"
reconcile
assert_eq "Abgang" "$(ldap_search -b "$BASE" '(ucsschoolRecordUID=P3)' ucsschoolSchool | sed -n 's/^ucsschoolSchool: //p')" "P3 in limbo"

step "list and --json: the accounts per role and school, as the directory counts them"
n_of() { # SCHOOL OBJECTCLASS-FILTER
    count "(&(ucsschoolSchool=$1)$2)"
}
ST='(objectClass=ucsschoolStudent)'
TE='(&(objectClass=ucsschoolTeacher)(!(objectClass=ucsschoolStaff)))'
assert_rc 0 "list --json" "$A" -c "$CFG" school list --json
JSON=$(grep '^{' <<<"$OUT")
jq -e . >/dev/null <<<"$JSON" || fail "list --json is not JSON lines: $JSON"
assert_eq "Gym1 Part1 SchA Abgang" "$(jq -r .name <<<"$JSON" | xargs)" "the schools, limbo last"
for s in SchA Gym1 Abgang; do
    row=$(jq -c "select(.name==\"$s\")" <<<"$JSON")
    assert_eq "$(n_of "$s" "$ST")" "$(jq .accounts.student <<<"$row")" "$s students"
    assert_eq "$(n_of "$s" "$TE")" "$(jq .accounts.teacher <<<"$row")" "$s teachers"
    assert_eq "$(n_of "$s" '(objectClass=ucsschoolType)')" "$(jq .accounts.total <<<"$row")" "$s total"
done
# And the figures themselves: a test that only compares could agree with a broken count.
assert_eq '{"student":2,"teacher":1,"staff":0,"teacher_and_staff":0,"total":3}' \
    "$(jq -c 'select(.name=="SchA") | .accounts' <<<"$JSON")" "SchA counts"
assert_eq '{"student":2,"teacher":0,"staff":0,"teacher_and_staff":0,"total":2}' \
    "$(jq -c 'select(.name=="Gym1") | .accounts' <<<"$JSON")" "Gym1 counts (P2 counts in both)"
assert_eq '{"student":1,"teacher":0,"staff":0,"teacher_and_staff":0,"total":1}' \
    "$(jq -c 'select(.name=="Abgang") | .accounts' <<<"$JSON")" "limbo counts"
assert_eq "true false" "$(jq -r 'select(.name=="Abgang" or .name=="SchA") | .limbo' <<<"$JSON" | sort -r | xargs)" "limbo flag"
assert_eq "Gymnasium Eins, Zweig B" "$(jq -r 'select(.name=="Gym1") | .display_name' <<<"$JSON")" "display name"
assert_rc 0 "list" "$A" -c "$CFG" school list
line=$(grep '^SchA ' <<<"$OUT") || fail "no SchA line: $OUT"
assert_eq "SchA SchA 2 1 0 0 3" "$(xargs <<<"$line")" "SchA row"
line=$(grep '^Gym1 ' <<<"$OUT") || fail "no Gym1 line: $OUT"
assert_eq "Gym1 Gymnasium Eins, Zweig B 2 0 0 0 2" "$(xargs <<<"$line")" "Gym1 row"
assert_contains "$OUT" "3 schools;" "summary line"

step "show: entries, accounts, classes"
assert_rc 0 "show Gym1" "$A" -c "$CFG" school show Gym1
assert_contains "$OUT" "school Gym1 (ou=Gym1,$BASE)" "show names the OU"
assert_contains "$OUT" "entries:       13 of the 13 a school has"$'\n' "show: complete"
assert_contains "$OUT" "accounts:      2 students, 0 teachers, 0 staff, 0 teachers and staff (listing the school in ucsschoolSchool); 1 of them in its OU" "show: accounts"
assert_contains "$OUT" "classes:       1"$'\n' "show: classes"
assert_rc 1 "show a school that does not exist" "$A" -c "$CFG" school show Nope
assert_contains "$OUT" "school Nope does not exist" "said"

step "delete: refused while the school holds accounts or classes"
csn=$(last_write)
assert_rc 1 "delete Gym1" "$A" -c "$CFG" school delete Gym1
assert_contains "$OUT" "refused: the school holds 2 accounts (1 in its OU, 1 elsewhere listing it in ucsschoolSchool), 1 classes and 0 other entries" "says how many"
assert_rc 1 "delete SchA" "$A" -c "$CFG" school delete SchA
assert_contains "$OUT" "the school holds 3 accounts (3 in its OU, 0 elsewhere" "SchA: how many"
assert_contains "$OUT" "$(count "(objectClass=*)" -s one -b "cn=klassen,cn=schueler,cn=groups,ou=SchA,$BASE") classes" "SchA: classes"
assert_eq "$csn" "$(last_write)" "nothing was deleted"
assert_rc 64 "delete the limbo OU" "$A" -c "$CFG" school delete abgang

step "delete: an empty school goes, deepest first"
assert_rc 0 "delete Part1" "$A" -c "$CFG" school delete Part1
assert_contains "$OUT" "school Part1 deleted: 13 entries" "said"
ldap_exists "ou=Part1,$BASE" && fail "ou=Part1 is still there"
assert_rc 1 "delete it again" "$A" -c "$CFG" school delete Part1
assert_contains "$OUT" "school Part1 does not exist" "said"
# A school whose classes are gone (emptied by hand) can go too.
assert_rc 0 "create Empty2" "$A" -c "$CFG" school create Empty2
ldap_add -c >/dev/null <<EOF
dn: cn=Empty2-1a,cn=klassen,cn=schueler,cn=groups,ou=Empty2,$BASE
objectClass: sisopiGroup
objectClass: ucsschoolGroup
cn: Empty2-1a
ucsschoolRole: school_class:school:Empty2
EOF
assert_rc 1 "delete Empty2 with a class" "$A" -c "$CFG" school delete Empty2
assert_contains "$OUT" "0 accounts (0 in its OU, 0 elsewhere listing it in ucsschoolSchool), 1 classes" "the class"
ldap_delete "cn=Empty2-1a,cn=klassen,cn=schueler,cn=groups,ou=Empty2,$BASE"
assert_rc 0 "delete Empty2" "$A" -c "$CFG" school delete Empty2
ldap_exists "ou=Empty2,$BASE" && fail "ou=Empty2 is still there"

step "reconciler: a school the directory does not have is rejected, nothing half-made"
# SchX has no OU. X1 is new; P1 (SchA) is listed by SchX too. The ingest refuses such an
# import before it publishes; a producer of its own may still send the records.
csv x.csv "X1,Xaver,Neu,SchX,1a" "P1,Paula,Eins,SchX,1a"
assert_rc 1 "the ingest for SchX" "$B_/sisopi-ingest" -c "$CFG" -q --school SchX --role student "$W/x.csv"
assert_contains "$OUT" "school SchX does not exist in the directory" "the ingest says why"
for rid in X1 P1; do
    run "$SISOPI_BUILD/tests/users_inject" -c "$CFG" record 01a1ffff-0000-7000-8000-0000000000e1 \
        sisopi-demo SchX student "$rid" Xaver Neu
    ((RC == 0)) || fail "inject $rid: $OUT"
done
csn=$(last_write)
reconcile
events=$("$B_/sisopi-audit" -c "$CFG" dump --topic events 2>/dev/null)
for rid in X1 P1; do
    reason=$(jq -r "select(.event.record_uid==\"$rid\" and .event.school==\"SchX\") | .event.type + \": \" + .event.reason" <<<"$events")
    assert_eq "Rejected: school SchX does not exist in the directory (sisopi-admin school create SchX)" \
        "$reason" "$rid rejected with the reason"
done
assert_eq "" "$(ldap_dns -b "$BASE" '(ucsschoolRecordUID=X1)')" "no account for X1"
assert_eq "" "$(ldap_dns -b "cn=unique-usernames,cn=ucsschool,cn=univention,$BASE" '(cn=X*)')" \
    "no username counter for X1"
assert_eq "SchA" "$(ldap_attr "$(ldap_dns -b "$BASE" '(ucsschoolRecordUID=P1)')" ucsschoolSchool)" \
    "P1 keeps SchA only"
assert_eq "student:school:SchA" \
    "$(ldap_attr "$(ldap_dns -b "$BASE" '(ucsschoolRecordUID=P1)')" ucsschoolRole)" "P1 roles"
assert_eq "$csn" "$(last_write)" "the directory is unchanged"
assert_contains "$ROUT" "rejected=2" "the reconciler counts two rejections"

step "once the school exists, the same records go through"
assert_rc 0 "create SchX" "$A" -c "$CFG" school create SchX
ingest SchX student "$W/x.csv"
reconcile
assert_eq "SchX" "$(ldap_attr "$(ldap_dns -b "$BASE" '(ucsschoolRecordUID=X1)')" ucsschoolSchool)" "X1 made"
assert_eq "SchA SchX" "$(ldap_attr "$(ldap_dns -b "$BASE" '(ucsschoolRecordUID=P1)')" ucsschoolSchool | sort | xargs)" \
    "P1 in both"
step "done"
