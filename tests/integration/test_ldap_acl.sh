#!/usr/bin/env bash
# Least privilege in the directory (deploy/ldap/slapd.conf.in's ACLs, docs/decisions.md): the
# whole pipeline runs with every program bound as its own account and none as the rootdn
# (checked in slapd's log); then each account, a student and an anonymous client try what
# they may and may not do, and the directory is checked after every refused write.
# The checks of outcomes use the rootdn (lib.sh's ldap_search), as every test does.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"

step "start the stack (slapd logs every operation)"
start_stack --schools "Gym1 Schule2" --loglevel stats
BASE=$STACK_BASE
CFG=$STACK_DIR/sisopi.cfg
LOG=$STACK_DIR/slapd.log
W=$STACK_DIR/work
mkdir -p "$W"

acct() { printf 'cn=%s,cn=sisopi-accounts,%s' "$1" "$BASE"; }
# The tools bound as WHO: a program's account (its password file from the stack), or
# "student" (the password set below), or "anon".
bind_args() { # WHO
    case $1 in
    anon) printf '%s\n' -x ;;
    student) printf '%s\n' -x -D "$STUDENT_DN" -y "$W/student.secret" ;;
    *) printf '%s\n' -x -D "$(acct "$1")" -y "$STACK_DIR/ldap-$1.secret" ;;
    esac
}
search_as() { # WHO ARGS...
    local who=$1 a
    shift
    mapfile -t a < <(bind_args "$who")
    timeout 20 ldapsearch -LLL -o ldif-wrap=no -o nettimeout=10 -H "$STACK_URI" "${a[@]}" "$@"
}
modify_as() { # WHO LDIF (changetype in it)
    local who=$1 a
    mapfile -t a < <(bind_args "$who")
    timeout 20 ldapmodify -o nettimeout=10 -H "$STACK_URI" "${a[@]}" <<<"$2"
}
# attr_as WHO DN ATTR: the values WHO reads of ATTR of one entry, one per line, base64 ones
# decoded (empty if none or refused).
attr_as() {
    local line out
    out=$(search_as "$1" -s base -b "$2" '(objectClass=*)' "$3" 2>/dev/null) || true
    while IFS= read -r line; do
        case ${line,,} in
        "${3,,}:: "*) printf '%s\n' "${line#*:: }" | base64 -d; printf '\n' ;;
        "${3,,}: "*) printf '%s\n' "${line#*: }" ;;
        esac
    done <<<"$out"
}
# refused WHO WHAT LDIF: the write must fail with insufficientAccess (50).
refused() {
    run modify_as "$1" "$3"
    ((RC == 50)) || fail "$1 may not $2: expected insufficient access (50), got exit $RC"$'\n'"$OUT"
}
allowed() { # WHO WHAT LDIF
    run modify_as "$1" "$3"
    ((RC == 0)) || fail "$1 must be able to $2 (exit $RC)"$'\n'"$OUT"
}

# ---------------------------------------------------------------------------------------------
step "the stack's config gives every program its own account, and they exist"
for p in reconciler scheduler audit ingest admin; do
    assert_contains "$(cat "$CFG")" "$p: { bind_dn = \"$(acct "$p")\"" "ldap.accounts.$p in sisopi.cfg"
    assert_eq "600" "$(stat -c %a "$STACK_DIR/ldap-$p.secret")" "ldap-$p.secret mode"
    assert_ok "$p binds with its password file" search_as "$p" -s base -b "" 1.1
done
assert_not_contains "$(cat "$STACK_DIR/slapd.conf")" "$(<"$STACK_DIR/ldap-reconciler.secret")" \
    "a plain account password in slapd.conf"

# ---------------------------------------------------------------------------------------------
step "the pipeline with no program bound as the rootdn"
mark=$(wc -l <"$LOG")
assert_ok "ingest Gym1 students" "$B_/sisopi-ingest" -q --school Gym1 --role student \
    "$SISOPI_SRC/examples/Gym1-student.csv"
assert_ok "reconciler" timeout 180 "$B_/sisopi-reconciler" --until-idle --idle-open 3
assert_ok "dry run of the same file (reads the directory)" "$B_/sisopi-ingest" -q --dry-run \
    --school Gym1 --role student "$SISOPI_SRC/examples/Gym1-student.csv"
assert_ok "scheduler sweep" timeout 60 "$B_/sisopi-scheduler" --once
assert_ok "audit verify" timeout 120 "$B_/sisopi-audit" verify
assert_ok "admin school list" "$B_/sisopi-admin" school list
assert_contains "$OUT" "Gym1" "school list shows Gym1"
assert_ok "admin school create" "$B_/sisopi-admin" school create AclNew
assert_ok "admin school delete" "$B_/sisopi-admin" school delete AclNew
binds=$(tail -n +"$((mark + 1))" "$LOG" | grep -o 'BIND dn="[^"]*"' | sort -u)
ldap_exists "ou=AclNew,$BASE" && fail "school AclNew still exists after delete"
assert_not_contains "${binds,,}" "dn=\"${STACK_ROOTDN,,}\"" "a program bound as the rootdn"
for p in reconciler scheduler audit ingest admin; do
    assert_contains "${binds,,}" "dn=\"$(acct "$p")\"" "sisopi-$p bound as its own account"
done
S1=$(ldap_search -b "$BASE" '(ucsschoolRecordUID=S-1001)' 1.1 | sed -n 's/^dn: //p')
S2=$(ldap_search -b "$BASE" '(ucsschoolRecordUID=S-1002)' 1.1 | sed -n 's/^dn: //p')
[[ -n $S1 && -n $S2 ]] || fail "the reconciler did not create S-1001 and S-1002"
CLASS="cn=Gym1-5a,cn=klassen,cn=schueler,cn=groups,ou=Gym1,$BASE"
ldap_exists "$CLASS" || fail "no class group $CLASS"
# What the others must not see is there (read as the rootdn).
[[ -n $(ldap_attr "$S2" sisopiBirthday) ]] || fail "S-1002 has no sisopiBirthday to hide"
ldap_modify -f /dev/stdin >/dev/null <<EOF
dn: $S2
changetype: modify
replace: ucsschoolPurgeTimestamp
ucsschoolPurgeTimestamp: 20990101000000Z
EOF

# ---------------------------------------------------------------------------------------------
step "reconciler: writes persons and counters, nothing else"
NEW="uid=acl.test,cn=schueler,cn=users,ou=Gym1,$BASE"
allowed reconciler "add a person" "dn: $NEW
changetype: add
objectClass: inetOrgPerson
objectClass: shadowAccount
objectClass: ucsschoolStudent
uid: acl.test
cn: Acl Test
sn: Test
userPassword: {SSHA}c2lzb3BpYWNsdGVzdHNhbHQ=
ucsschoolRecordUID: ACL-1
ucsschoolSchool: Gym1"
allowed reconciler "deactivate a person (ppolicy lock)" "dn: $NEW
changetype: modify
replace: shadowExpire
shadowExpire: 1
-
replace: pwdAccountLockedTime
pwdAccountLockedTime: 000001010000Z"
assert_eq "000001010000Z" "$(ldap_attr "$NEW" pwdAccountLockedTime)" "the lock was written"
allowed reconciler "move a person to limbo" "dn: $NEW
changetype: modrdn
newrdn: uid=acl.test
deleteoldrdn: 1
newsuperior: cn=schueler,cn=users,ou=limbo,$BASE"
NEW_LIMBO="uid=acl.test,cn=schueler,cn=users,ou=limbo,$BASE"
ldap_exists "$NEW_LIMBO" || fail "the move to limbo left no $NEW_LIMBO"
COUNTER="cn=acl.test,cn=unique-usernames,cn=ucsschool,cn=univention,$BASE"
allowed reconciler "create a username counter" "dn: $COUNTER
changetype: add
objectClass: ucsschoolUsername
cn: acl.test
ucsschoolUsernameNextNumber: 2"
allowed reconciler "take a number" "dn: $COUNTER
changetype: modify
increment: ucsschoolUsernameNextNumber
ucsschoolUsernameNextNumber: 1"
assert_eq "3" "$(ldap_attr "$COUNTER" ucsschoolUsernameNextNumber)" "the counter moved"
[[ -n $(attr_as reconciler cn=Subschema attributeTypes) ]] ||
    fail "the reconciler cannot read the subschema (its mapping check)"
refused reconciler "modify the base" "dn: $BASE
changetype: modify
replace: o
o: hijacked"
refused reconciler "add an OU below the base" "dn: ou=Rogue,$BASE
changetype: add
objectClass: organizationalUnit
ou: Rogue"
refused reconciler "change the password policy" "dn: cn=default,ou=policies,$BASE
changetype: modify
replace: pwdMaxFailure
pwdMaxFailure: 3"
refused reconciler "change another program's account" "dn: $(acct scheduler)
changetype: modify
replace: description
description: hijacked"
refused reconciler "set another program's password" "dn: $(acct admin)
changetype: modify
replace: userPassword
userPassword: {SSHA}c2lzb3BpYWNsdGVzdHNhbHQ="
[[ -z $(search_as reconciler -b "$(acct admin)" -s base '(objectClass=*)' dn 2>/dev/null) ]] ||
    fail "the reconciler can see the admin account"

# ---------------------------------------------------------------------------------------------
step "scheduler, audit, ingest: read what they need, write nothing"
for p in scheduler audit ingest; do
    out=$(search_as "$p" -b "$BASE" '(ucsschoolPurgeTimestamp<=20991231000000Z)' \
        ucsschoolPurgeTimestamp ucsschoolRecordUID)
    assert_contains "$out" "ucsschoolRecordUID: S-1002" "$p finds the person due for purge"
    assert_contains "$out" "ucsschoolPurgeTimestamp: 20990101000000Z" "$p reads the purge date"
    out=$(search_as "$p" -b "$BASE" '(ucsschoolSourceUID=sisopi-demo)' ucsschoolRecordUID)
    assert_contains "$out" "ucsschoolRecordUID: S-1001" "$p finds the persons of a source"
    assert_contains "$(attr_as "$p" "$CLASS" uniqueMember)" "$S1" "$p reads a class's members"
    assert_eq "" "$(attr_as "$p" "$S1" userPassword)" "$p reads no password hash"
    if [[ $p == scheduler ]]; then
        assert_eq "" "$(attr_as "$p" "$S2" sisopiBirthday)" "the scheduler reads a birthday"
    else
        [[ -n $(attr_as "$p" "$S2" sisopiBirthday) ]] || fail "$p cannot read a birthday"
    fi
    refused "$p" "modify a person" "dn: $S1
changetype: modify
replace: givenName
givenName: Changed"
    refused "$p" "delete a person" "dn: $S1
changetype: delete"
    refused "$p" "add a class" "dn: cn=Gym1-$p,cn=klassen,cn=schueler,cn=groups,ou=Gym1,$BASE
changetype: add
objectClass: sisopiGroup
cn: Gym1-$p"
    refused "$p" "take a username number" "dn: $COUNTER
changetype: modify
increment: ucsschoolUsernameNextNumber
ucsschoolUsernameNextNumber: 1"
done
assert_eq "3" "$(ldap_attr "$COUNTER" ucsschoolUsernameNextNumber)" "the counter is unchanged"
assert_eq "Anna" "$(ldap_attr "$S1" givenName)" "S-1001 is unchanged"

# ---------------------------------------------------------------------------------------------
step "connector: reads what it copies to the authorities (hashes too), writes nothing"
[[ -n $(attr_as connector "$S1" userPassword) ]] || fail "the connector cannot read a password hash"
[[ -n $(attr_as connector "$S2" sisopiBirthday) ]] || fail "the connector cannot read a birthday"
assert_eq "S-1001" "$(attr_as connector "$S1" ucsschoolRecordUID)" "the connector reads the ids"
assert_contains "$(attr_as connector "$CLASS" uniqueMember)" "$S1" "the connector reads a class's members"
refused connector "modify a person" "dn: $S1
changetype: modify
replace: givenName
givenName: Changed"
refused connector "change a password hash" "dn: $S1
changetype: modify
replace: userPassword
userPassword: {SSHA}c2lzb3BpYWNsdGVzdHNhbHQ="
refused connector "delete a person" "dn: $S1
changetype: delete"
[[ -z $(search_as connector -b "$(acct admin)" -s base '(objectClass=*)' dn 2>/dev/null) ]] ||
    fail "the connector can see the admin account"

# ---------------------------------------------------------------------------------------------
step "admin: adds and deletes school OUs and import groups, reads accounts, changes none"
allowed admin "add a school OU" "dn: ou=AclSchool,$BASE
changetype: add
objectClass: organizationalUnit
objectClass: ucsschoolOrganizationalUnit
ou: AclSchool"
allowed admin "delete a school OU" "dn: ou=AclSchool,$BASE
changetype: delete"
out=$(search_as admin -b "$BASE" '(&(objectClass=inetOrgPerson)(ucsschoolSchool=Gym1))' 1.1)
assert_contains "$out" "dn: $S1" "admin finds the accounts of a school (its counts)"
refused admin "modify a person" "dn: $S1
changetype: modify
replace: givenName
givenName: Changed"
refused admin "add a person" "dn: uid=acl.admin,cn=schueler,cn=users,ou=Gym1,$BASE
changetype: add
objectClass: inetOrgPerson
uid: acl.admin
cn: Acl Admin
sn: Admin"
refused admin "delete a person" "dn: $S1
changetype: delete"
IG="cn=acl-import,ou=Gym1,$BASE"
allowed admin "add an import group" "dn: $IG
changetype: add
objectClass: groupOfNames
objectClass: ucsschoolImportGroup
cn: acl-import
member: $S1
ucsschoolImportSchool: Gym1
ucsschoolImportRole: student"
allowed admin "add a member to an import group" "dn: $IG
changetype: modify
add: member
member: $S2
-
add: ucsschoolImportRole
ucsschoolImportRole: teacher"
assert_eq "$(printf '%s\n' "$S1" "$S2" | sort)" "$(ldap_attr "$IG" member | sort)" "the members written"
assert_eq "$(printf '%s\n' "$S1" "$S2" | sort)" "$(attr_as api "$IG" member | sort)" \
    "the api reads an import group's members"
assert_eq "$(printf '%s\n' student teacher)" "$(attr_as api "$IG" ucsschoolImportRole | sort)" \
    "the api reads an import group's roles"
out=$(search_as api -b "$BASE" "(&(objectClass=ucsschoolImportGroup)(member=$S1))" 1.1)
assert_contains "$out" "dn: $IG" "the api finds a person's import groups (its login)"
assert_eq "" "$(attr_as reconciler "$IG" member)" "the reconciler reads an import group"
refused reconciler "change an import group" "dn: $IG
changetype: modify
add: ucsschoolImportSchool
ucsschoolImportSchool: Schule2"
refused api "change an import group" "dn: $IG
changetype: modify
add: ucsschoolImportSchool
ucsschoolImportSchool: Schule2"
assert_eq "Gym1" "$(ldap_attr "$IG" ucsschoolImportSchool)" "the refused writes left the group"
refused admin "modify a person after writing an import group" "dn: $S1
changetype: modify
replace: givenName
givenName: Changed"
allowed admin "delete an import group" "dn: $IG
changetype: delete"
ldap_exists "$IG" && fail "$IG still exists after its delete"
refused admin "delete a container of the limbo OU" "dn: cn=klassen,cn=schueler,cn=groups,ou=limbo,$BASE
changetype: delete"
refused admin "modify the base" "dn: $BASE
changetype: modify
replace: o
o: hijacked"
refused admin "take a username number" "dn: $COUNTER
changetype: modify
increment: ucsschoolUsernameNextNumber
ucsschoolUsernameNextNumber: 1"
assert_eq "" "$(attr_as admin "$S2" sisopiBirthday)" "admin reads no birthday"
assert_eq "20990101000000Z" "$(attr_as admin "$S2" ucsschoolPurgeTimestamp)" \
    "admin reads a purge date (purge list)"
ldap_exists "$S1" || fail "S-1001 was deleted"

# ---------------------------------------------------------------------------------------------
step "a student: classmates' names and groups, not their private data; its own entry"
STUDENT_DN=$S1
(umask 077 && printf '%s' "acl-student-pw-1" >"$W/student.secret")
hash=$(slappasswd -h '{SSHA}' -T "$W/student.secret")
ldap_modify -f /dev/stdin >/dev/null <<EOF
dn: $S1
changetype: modify
replace: userPassword
userPassword: $hash
EOF
assert_eq "Jörg" "$(attr_as student "$S2" givenName)" "a student reads a classmate's first name"
assert_eq "" "$(attr_as student "$S2" sisopiBirthday)" "a student reads a classmate's birthday"
assert_eq "" "$(attr_as student "$S2" ucsschoolRecordUID)" "a student reads a classmate's record_uid"
assert_eq "" "$(attr_as student "$S2" ucsschoolSourceUID)" "a student reads a classmate's source"
assert_eq "" "$(attr_as student "$S2" ucsschoolPurgeTimestamp)" "a student reads a classmate's purge date"
assert_eq "" "$(attr_as student "$NEW_LIMBO" pwdAccountLockedTime)" "a student reads a lock"
assert_eq "" "$(attr_as student "$S2" userPassword)" "a student reads a classmate's hash"
[[ -n $(attr_as student "$S2" uid) ]] || fail "a student cannot read a classmate's username"
assert_contains "$(attr_as student "$CLASS" uniqueMember)" "$S2" "a student reads the class's members"
search_as student -b "$BASE" '(sisopiBirthday=*)' 1.1 | grep -v "^dn: $S1\$" | grep -q '^dn:' &&
    fail "a student finds others by their birthday"
[[ -z $(search_as student -b "$BASE" '(ucsschoolRecordUID=S-1002)' 1.1) ]] ||
    fail "a student finds a classmate by record_uid"
[[ -n $(attr_as student "$S1" sisopiBirthday) ]] || fail "a student cannot read its own birthday"
assert_eq "S-1001" "$(attr_as student "$S1" ucsschoolRecordUID)" "a student reads its own record_uid"
refused student "change its own name" "dn: $S1
changetype: modify
replace: givenName
givenName: Changed"
refused student "change a classmate's name" "dn: $S2
changetype: modify
replace: givenName
givenName: Changed"
refused student "add itself to another group" "dn: cn=lehrer-gym1,cn=groups,ou=Gym1,$BASE
changetype: modify
add: uniqueMember
uniqueMember: $S1"
[[ -z $(search_as student -b "$(acct reconciler)" -s base '(objectClass=*)' dn 2>/dev/null) ]] ||
    fail "a student can see a program's account"
(umask 077 && printf '%s' "acl-student-pw-2" >"$W/student2.secret")
assert_ok "a student changes its own password" timeout 20 ldappasswd -x -H "$STACK_URI" \
    -D "$S1" -y "$W/student.secret" -T "$W/student2.secret"
mv -f "$W/student2.secret" "$W/student.secret"
assert_ok "the new password binds" search_as student -s base -b "" 1.1

# ---------------------------------------------------------------------------------------------
step "anonymous: the root DSE and the schema, nothing of the tree"
[[ -n $(search_as anon -s base -b "" namingContexts) ]] || fail "anonymous cannot read the root DSE"
out=$(search_as anon -b "$BASE" '(objectClass=*)' 1.1 2>&1 || true)
assert_not_contains "$out" "dn:" "anonymous sees entries"
assert_eq "" "$(attr_as anon "$S1" uid)" "anonymous reads a person"
run modify_as anon "dn: ou=Anon,$BASE
changetype: add
objectClass: organizationalUnit
ou: Anon"
((RC != 0)) || fail "anonymous added an entry"
ldap_exists "ou=Anon,$BASE" && fail "ou=Anon exists"
true
