#!/usr/bin/env bash
# The local stack's directory does what sisopi relies on: the layout of base, limbo and school
# OUs, uid uniqueness (unique overlay), deactivation by pwdAccountLockedTime (ppolicy), the
# purge-timestamp search, atomic counters (increment + post-read), DNs with special characters,
# and the stack's own life cycle (start, status, school-add, stop, restart, cn=config schema).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCHOOL_TPL=$SISOPI_SRC/deploy/ldap/school.ldif.in

step "start the stack"
start_stack --schools "Gym1 Schule2"
B=$STACK_BASE
assert_eq "dc=example,dc=org" "$B" "default base"

step "stack files"
assert_eq "600" "$(stat -c %a "$STACK_SECRET")" "ldap.secret mode"
secret=$(<"$STACK_SECRET")
[[ ${#secret} -ge 32 ]] || fail "ldap.secret holds a short password"
assert_not_contains "$(cat "$STACK_DIR/slapd.conf")" "$secret" "plaintext password in slapd.conf"
assert_contains "$(cat "$STACK_DIR/slapd.conf")" "rootpw {SSHA}" "rootpw is an SSHA hash"
cfg=$(<"$SISOPI_CONFIG")
assert_contains "$cfg" "uri = \"$STACK_URI\";" "sisopi.cfg ldap.uri"
assert_contains "$cfg" "base = \"$B\";" "sisopi.cfg ldap.base"
assert_contains "$cfg" "password_file = \"$STACK_SECRET\";" "sisopi.cfg ldap.password_file"
assert_contains "$cfg" "state_dir = \"$STACK_DIR/reconciler\";" "sisopi.cfg reconciler.state_dir"
assert_contains "$cfg" "[ \"classes\", \"school_classes\" ]" "sisopi.cfg csv mapping"
if ((STACK_HAS_BROKER)); then
    step "devbroker"
    assert_eq "$(head -n 1 "$STACK_DIR/bootstrap" | tr -d '[:space:]')" "$STACK_BOOTSTRAP" \
        "stack.env bootstrap = the devbroker's bootstrap file"
    assert_contains "$cfg" "bootstrap = \"$STACK_BOOTSTRAP\";" "sisopi.cfg kafka.bootstrap"
    assert_ok "kcat lists the devbroker's metadata" timeout 10 kcat -b "$STACK_BOOTSTRAP" -L -m 5
fi

# school_dns NAME: the DNs school.ldif.in creates for a school, sorted.
school_dns() {
    sed -e "s/@SCHOOL@/$1/g" -e "s/@school_lower@/${1,,}/g" -e "s/@BASE@/$B/g" \
        -e "s/@CONTAINER_STUDENT@/schueler/g" -e "s/@CONTAINER_TEACHER@/lehrer/g" \
        -e "s/@CONTAINER_STAFF@/mitarbeiter/g" \
        -e "s/@CONTAINER_TEACHER_AND_STAFF@/lehrer und mitarbeiter/g" "$SCHOOL_TPL" |
        sed -n 's/^dn: //p' | LC_ALL=C sort
}

step "layout: base, counters, policies"
for dn in "$B" "cn=univention,$B" "cn=ucsschool,cn=univention,$B" \
    "cn=unique-usernames,cn=ucsschool,cn=univention,$B" \
    "cn=unique-email,cn=ucsschool,cn=univention,$B" "ou=policies,$B" "cn=default,ou=policies,$B"; do
    ldap_exists "$dn" || fail "missing entry $dn"
done
assert_eq "TRUE" "$(ldap_attr "cn=default,ou=policies,$B" pwdLockout)" "default policy locks"

step "layout: limbo and school OUs"
for s in limbo Gym1 Schule2; do
    assert_eq "$(school_dns "$s")" "$(ldap_dns -b "ou=$s,$B" '(objectClass=*)')" \
        "entries below ou=$s"
    assert_eq "school:school:$s" "$(ldap_attr "ou=$s,$B" ucsschoolRole)" "role of ou=$s"
done
# Spelled out, independent of the template:
for dn in "cn=schueler,cn=users,ou=Gym1,$B" "cn=lehrer,cn=users,ou=Gym1,$B" \
    "cn=mitarbeiter,cn=users,ou=Gym1,$B" "cn=lehrer und mitarbeiter,cn=users,ou=Schule2,$B" \
    "cn=Domain Users Gym1,cn=groups,ou=Gym1,$B" "cn=schueler-gym1,cn=groups,ou=Gym1,$B" \
    "cn=lehrer-schule2,cn=groups,ou=Schule2,$B" "cn=mitarbeiter-schule2,cn=groups,ou=Schule2,$B" \
    "cn=klassen,cn=schueler,cn=groups,ou=Gym1,$B" "cn=klassen,cn=schueler,cn=groups,ou=limbo,$B" \
    "cn=lehrer und mitarbeiter,cn=users,ou=limbo,$B"; do
    ldap_exists "$dn" || fail "missing entry $dn"
done
assert_eq "school_student_group:school:Gym1" \
    "$(ldap_attr "cn=schueler-gym1,cn=groups,ou=Gym1,$B" ucsschoolRole)" "role of schueler-gym1"
assert_eq "school_domain_group:school:Schule2" \
    "$(ldap_attr "cn=Domain Users Schule2,cn=groups,ou=Schule2,$B" ucsschoolRole)" \
    "role of Domain Users Schule2"
assert_eq "$(printf '%s\n' "ou=Gym1,$B" "ou=Schule2,$B" "ou=limbo,$B" | LC_ALL=C sort)" \
    "$(ldap_dns -b "$B" '(objectClass=ucsschoolOrganizationalUnit)')" "school OUs"
assert_eq "" "$(ldap_dns -b "$B" '(&(objectClass=sisopiGroup)(|(uniqueMember=*)(memberUid=*)))')" \
    "new school groups are empty"

step "stack.sh school-add"
assert_ok "school-add Schule3" "$STACK_SH" school-add Schule3 --dir "$STACK_DIR"
assert_eq "$(school_dns Schule3)" "$(ldap_dns -b "ou=Schule3,$B" '(objectClass=*)')" \
    "entries below ou=Schule3"
run "$STACK_SH" school-add Schule3 --dir "$STACK_DIR"
((RC != 0)) || fail "school-add of an existing school succeeded"
assert_contains "$OUT" "Already exists" "school-add of an existing school says why"
assert_rc 1 "school-add refuses a bad name" "$STACK_SH" school-add "bad,name" --dir "$STACK_DIR"

# user_ldif DN UID CLASS [EXTRA LDIF LINES...]
user_ldif() {
    local dn=$1 uid=$2 cls=$3
    shift 3
    printf 'dn: %s\nobjectClass: inetOrgPerson\nobjectClass: shadowAccount\n' "$dn"
    printf 'objectClass: %s\nuid: %s\ncn: %s\nsn: %s\n' "$cls" "$uid" "$uid" "${uid#*.}"
    printf '%s\n' "$@"
    printf '\n'
}
stu() { printf 'uid=%s,cn=schueler,cn=users,ou=%s,%s' "$1" "$2" "$B"; }
tea() { printf 'uid=%s,cn=lehrer,cn=users,ou=%s,%s' "$1" "$2" "$B"; }

step "unique uid (unique overlay)"
assert_ok "add max.muster in Gym1" ldap_add -f <(user_ldif "$(stu max.muster Gym1)" max.muster \
    ucsschoolStudent "ucsschoolSchool: Gym1" "ucsschoolRole: student:school:Gym1")
run ldap_add -f <(user_ldif "$(tea max.muster Schule2)" max.muster ucsschoolTeacher)
assert_eq 19 "$RC" "second max.muster (other OU) fails with constraintViolation"$'\n'"$OUT"
assert_contains "$OUT" "Constraint violation" "second max.muster: message"
run ldap_add -f <(user_ldif "$(tea Max.Muster Schule2)" Max.Muster ucsschoolTeacher)
assert_eq 19 "$RC" "uid differing only in case fails too"$'\n'"$OUT"
ldap_exists "$(tea max.muster Schule2)" && fail "the duplicate entry exists"
assert_ok "add erika.muster in Schule2" ldap_add -f <(user_ldif "$(tea erika.muster Schule2)" \
    erika.muster ucsschoolTeacher)
run ldap_modify -f <(printf 'dn: %s\nchangetype: modify\nreplace: uid\nuid: max.muster\n-\n' \
    "$(tea erika.muster Schule2)")
assert_eq 19 "$RC" "a modify to a taken uid fails"$'\n'"$OUT"

step "deactivation (ppolicy)"
pwfile=$STACK_DIR/user.pw
(umask 077 && printf '%s' 'Schul-Passwort-7' >"$pwfile")
hash=$(slappasswd -h '{SSHA}' -T "$pwfile")
assert_ok "add an active and a locked user" ldap_add -f <(
    user_ldif "$(stu anna.aktiv Gym1)" anna.aktiv ucsschoolStudent "userPassword: $hash"
    user_ldif "$(stu lara.locked Gym1)" lara.locked ucsschoolStudent "userPassword: $hash" \
        "shadowExpire: 1" "pwdAccountLockedTime: 000001010000Z"
)
bind_as() { ldapwhoami -x -H "$STACK_URI" -D "$1" -y "$pwfile"; }
assert_ok "an active user binds" bind_as "$(stu anna.aktiv Gym1)"
assert_contains "$OUT" "dn:$(stu anna.aktiv Gym1)" "whoami of the active user"
assert_rc 49 "a locked user cannot bind" bind_as "$(stu lara.locked Gym1)"
assert_ok "lock anna.aktiv" ldap_modify -f <(printf '%s\n' "dn: $(stu anna.aktiv Gym1)" \
    "changetype: modify" "add: shadowExpire" "shadowExpire: 1" "-" \
    "add: pwdAccountLockedTime" "pwdAccountLockedTime: 000001010000Z" "-")
assert_rc 49 "a user locked by modify cannot bind" bind_as "$(stu anna.aktiv Gym1)"
assert_ok "unlock anna.aktiv" ldap_modify -f <(printf '%s\n' "dn: $(stu anna.aktiv Gym1)" \
    "changetype: modify" "delete: shadowExpire" "-" "delete: pwdAccountLockedTime" "-")
assert_ok "an unlocked user binds again" bind_as "$(stu anna.aktiv Gym1)"
printf '%s' 'wrong' >"$pwfile"
assert_rc 49 "a wrong password fails" bind_as "$(stu anna.aktiv Gym1)"

step "purge timestamp search"
assert_ok "add users with purge timestamps" ldap_add -f <(
    user_ldif "$(stu p.one limbo)" p.one ucsschoolStudent "ucsschoolPurgeTimestamp: 20261120000000Z"
    user_ldif "$(stu p.two limbo)" p.two ucsschoolStudent "ucsschoolPurgeTimestamp: 20261121000000Z"
    user_ldif "$(stu p.three limbo)" p.three ucsschoolTeacher "ucsschoolPurgeTimestamp: 20261122000000Z"
    user_ldif "$(stu p.none limbo)" p.none ucsschoolStudent
)
assert_eq "$(printf '%s\n' "$(stu p.one limbo)" "$(stu p.two limbo)" | LC_ALL=C sort)" \
    "$(ldap_dns -b "$B" '(&(objectClass=ucsschoolType)(ucsschoolPurgeTimestamp<=20261121000000Z))')" \
    "(ucsschoolPurgeTimestamp<=20261121000000Z)"
assert_eq "$(stu p.three limbo)" \
    "$(ldap_dns -b "$B" '(ucsschoolPurgeTimestamp>=20261121000001Z)')" \
    "(ucsschoolPurgeTimestamp>=20261121000001Z)"
assert_eq "$(stu p.two limbo)" "$(ldap_dns -b "$B" '(ucsschoolPurgeTimestamp=20261121000000Z)')" \
    "(ucsschoolPurgeTimestamp=20261121000000Z)"

step "counter: increment with post-read"
cdn="cn=max.muster,cn=unique-usernames,cn=ucsschool,cn=univention,$B"
assert_ok "add a counter" ldap_add -f <(printf '%s\n' "dn: $cdn" "objectClass: ucsschoolUsername" \
    "cn: max.muster" "ucsschoolUsernameNextNumber: 2")
incr_ldif() { printf '%s\n' "dn: $cdn" "changetype: modify" \
    "increment: ucsschoolUsernameNextNumber" "ucsschoolUsernameNextNumber: 1" "-"; }
assert_ok "increment with pre- and post-read" ldap_modify \
    -e preread=ucsschoolUsernameNextNumber -e postread=ucsschoolUsernameNextNumber -f <(incr_ldif)
assert_contains "$OUT" $'# ==> preread\n'"dn: $cdn"$'\nucsschoolUsernameNextNumber: 2' "pre-read value"
assert_contains "$OUT" $'# ==> postread\n'"dn: $cdn"$'\nucsschoolUsernameNextNumber: 3' "post-read value"
# 20 concurrent allocations: every one gets its own number.
for i in $(seq 1 20); do
    ldap_modify -e postread=ucsschoolUsernameNextNumber -f <(incr_ldif) >"$STACK_DIR/incr.$i" 2>&1 &
done
wait
got=$(sed -n '/# ==> postread/,/# <== postread/s/^ucsschoolUsernameNextNumber: //p' \
    "$STACK_DIR"/incr.* | sort -n | tr '\n' ' ')
assert_eq "$(seq 4 23 | tr '\n' ' ')" "$got" "20 concurrent increments return distinct numbers"
assert_eq 23 "$(ldap_attr "$cdn" ucsschoolUsernameNextNumber)" "counter after 21 increments"

step "groups may be empty"
gdn="cn=Gym1-5a,cn=klassen,cn=schueler,cn=groups,ou=Gym1,$B"
assert_ok "add an empty class" ldap_add -f <(printf '%s\n' "dn: $gdn" "objectClass: sisopiGroup" \
    "objectClass: ucsschoolGroup" "cn: Gym1-5a" "ucsschoolRole: school_class:school:Gym1")
assert_ok "add a member" ldap_modify -f <(printf '%s\n' "dn: $gdn" "changetype: modify" \
    "add: uniqueMember" "uniqueMember: $(stu max.muster Gym1)" "-" \
    "add: memberUid" "memberUid: max.muster" "-")
assert_eq "$gdn" "$(ldap_dns -b "$B" "(&(objectClass=sisopiGroup)(uniqueMember=$(stu max.muster Gym1)))")" \
    "group found by member DN"
assert_ok "remove the last member" ldap_modify -f <(printf '%s\n' "dn: $gdn" "changetype: modify" \
    "delete: uniqueMember" "uniqueMember: $(stu max.muster Gym1)" "-" \
    "delete: memberUid" "memberUid: max.muster" "-")
assert_eq "" "$(ldap_attr "$gdn" uniqueMember)" "class is empty again"

step "DN with special characters round-trips"
raw='Gym1-Müller, Hans+Co <5a>; "x" \ y=z'
# RFC 4514 escaping of the RDN value, as a C author would produce with ldap_dn2str.
esc=$raw
esc=${esc//\\/\\\\}
for c in ',' '+' '"' '<' '>' ';'; do esc=${esc//"$c"/"\\$c"}; done
sdn="cn=$esc,cn=klassen,cn=schueler,cn=groups,ou=Gym1,$B"
b64() { printf '%s' "$1" | base64 -w0; }
assert_ok "add the entry (dn:: base64 LDIF)" ldap_add -f <(printf '%s\n' "dn:: $(b64 "$sdn")" \
    "objectClass: sisopiGroup" "objectClass: ucsschoolGroup" "cn:: $(b64 "$raw")" \
    "ucsschoolRole: school_class:school:Gym1")
# Filter escaping (RFC 4515): \ ( ) * NUL.
fval=${raw//\\/\\5c}
fval=${fval//\(/\\28}
fval=${fval//\)/\\29}
fval=${fval//\*/\\2a}
found=$(ldap_dns -b "cn=klassen,cn=schueler,cn=groups,ou=Gym1,$B" "(cn=$fval)")
# slapd returns its own escaping (\2C, \3D, ... hex), not the client's: DNs must be compared
# as DNs (ldap_str2dn/ldap_dn_normalize), never as strings. Decode the RDN value and compare.
unescape_dn_value() {
    local LC_ALL=C s=$1 out="" i c
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if [[ $c == "\\" ]]; then
            if [[ ${s:i+1:2} =~ ^[0-9A-Fa-f]{2}$ ]]; then
                printf -v c '%b' "\\x${s:i+1:2}"
                i=$((i + 2))
            else
                i=$((i + 1))
                c=${s:i:1}
            fi
        fi
        out+=$c
    done
    printf '%s' "$out"
}
parent=",cn=klassen,cn=schueler,cn=groups,ou=Gym1,$B"
[[ $found == "cn="*"$parent" ]] || fail "the server found \"$found\", not an entry below cn=klassen"
rdnval=${found%"$parent"}
assert_eq "$raw" "$(unescape_dn_value "${rdnval#cn=}")" "the RDN value of the DN the server returns"
ldap_exists "$found" || fail "the DN in the server's escaping does not name the entry: $found"
assert_eq "$raw" "$(ldap_attr "$sdn" cn)" "cn value, read by DN"
assert_ok "modify by that DN" ldap_modify -f <(printf '%s\n' "dn:: $(b64 "$sdn")" \
    "changetype: modify" "replace: description" "description: special" "-")
assert_eq "special" "$(ldap_attr "$sdn" description)" "description after modify"
assert_ok "delete by that DN" ldap_delete "$sdn"
ldap_exists "$sdn" && fail "entry still exists after delete"

step "ldapi:// with SASL EXTERNAL is the rootdn"
if [[ -n $STACK_LDAPI ]]; then
    assert_ok "whoami over ldapi" ldapwhoami -Q -Y EXTERNAL -H "$STACK_LDAPI"
    assert_contains "$OUT" "dn:$STACK_ROOTDN" "ldapi EXTERNAL maps to the rootdn"
fi

step "anonymous users read nothing but the root DSE"
run ldapsearch -x -LLL -H "$STACK_URI" -b "$B" '(uid=max.muster)' dn
assert_not_contains "$OUT" "dn:" "anonymous search of users"
assert_ok "anonymous root DSE" ldapsearch -x -LLL -H "$STACK_URI" -b "" -s base namingContexts
assert_contains "$OUT" "namingContexts: $B" "root DSE names the base"

step "status, stop, idempotent stop"
assert_ok "status of a running stack" "$STACK_SH" status --dir "$STACK_DIR"
assert_contains "$OUT" "answers on $STACK_URI" "status output"
slapd_pid=$(<"$STACK_DIR/slapd.pid")
broker_pid=$(cat "$STACK_DIR/devbroker.pid" 2>/dev/null || true)
assert_ok "stop" "$STACK_SH" stop --dir "$STACK_DIR"
[[ ! -e $STACK_DIR/slapd.pid ]] || fail "slapd.pid left behind"
proc_alive "$slapd_pid" && fail "slapd (pid $slapd_pid) still runs after stop"
[[ -z $broker_pid ]] || ! proc_alive "$broker_pid" || fail "devbroker still runs after stop"
assert_rc 3 "status of a stopped stack" "$STACK_SH" status --dir "$STACK_DIR"
run ldapsearch -x -LLL -o nettimeout=2 -H "$STACK_URI" -b "" -s base
((RC != 0)) || fail "the old LDAP port still answers"
assert_ok "a second stop" "$STACK_SH" stop --dir "$STACK_DIR"

step "restart in the same directory builds a fresh directory"
args=(--no-broker)
((STACK_HAS_BROKER)) && args=(--build "$SISOPI_BUILD")
assert_ok "restart" "$STACK_SH" start --dir "$STACK_DIR" --schools Gym1 "${args[@]}"
new_uri=$(sed -n 's/^URI=//p' "$STACK_DIR/stack.env")
run ldapsearch -x -LLL -H "$new_uri" -D "$STACK_ROOTDN" -y "$STACK_SECRET" -b "$B" '(uid=max.muster)' dn
assert_eq 0 "$RC" "search after restart"$'\n'"$OUT"
assert_eq "" "$OUT" "users of the old directory are gone"
assert_rc 1 "start twice refuses" "$STACK_SH" start --dir "$STACK_DIR" --no-broker
assert_contains "$OUT" "already running" "start twice says why"
assert_ok "stop after restart" "$STACK_SH" stop --dir "$STACK_DIR"
other=$(mktemp -d)
LIB_AT_EXIT+=("rm -rf '$other'")
: >"$other/precious"
assert_rc 1 "start refuses a foreign non-empty directory" "$STACK_SH" start --dir "$other" --no-broker
[[ -e $other/precious ]] || fail "start touched a foreign directory"

step "sisopi.ldif is up to date"
assert_ok "schema-ldif" "$STACK_SH" schema-ldif
assert_eq "$(cat "$SISOPI_SRC/deploy/ldap/sisopi.ldif")" "$OUT" \
    "deploy/ldap/sisopi.ldif differs from sisopi.schema: deploy/stack.sh schema-ldif > deploy/ldap/sisopi.ldif"

step "sisopi.ldif loads into a cn=config directory (README procedure)"
cc=$STACK_DIR/cnconfig
mkdir -p "$cc/slapd.d" "$cc/data"
peer="gidNumber=$(id -g)+uidNumber=$(id -u),cn=peercred,cn=external,cn=auth"
{
    printf '%s\n' "dn: cn=config" "objectClass: olcGlobal" "cn: config" "" \
        "dn: cn=schema,cn=config" "objectClass: olcSchemaConfig" "cn: schema" ""
    for s in core cosine inetorgperson nis; do
        cat "/etc/ldap/schema/$s.ldif"
        printf '\n'
    done
    printf '%s\n' "dn: olcDatabase={0}config,cn=config" "objectClass: olcDatabaseConfig" \
        "olcDatabase: {0}config" "olcAccess: {0}to * by dn.exact=$peer manage by * none" ""
} >"$cc/config.ldif"
assert_ok "slapadd -n0" slapadd -n0 -F "$cc/slapd.d" -l "$cc/config.ldif"
cc_sock=$cc/ldapi
cc_uri="ldapi://$(printf '%s' "$cc_sock" | sed 's|/|%2F|g')"
slapd -h "$cc_uri" -F "$cc/slapd.d" -d none </dev/null >"$cc/slapd.log" 2>&1 &
cc_pid=$!
LIB_AT_EXIT+=("kill $cc_pid 2>/dev/null; wait $cc_pid 2>/dev/null")
for i in $(seq 1 100); do
    ldapwhoami -Q -Y EXTERNAL -H "$cc_uri" >/dev/null 2>&1 && break
    kill -0 "$cc_pid" 2>/dev/null || fail "cn=config slapd exited: $(cat "$cc/slapd.log")"
    sleep 0.05
done
assert_ok "ldapadd sisopi.ldif" ldapadd -Q -Y EXTERNAL -H "$cc_uri" -f "$SISOPI_SRC/deploy/ldap/sisopi.ldif"
assert_ok "read the loaded schema" ldapsearch -Q -LLL -o ldif-wrap=no -Y EXTERNAL -H "$cc_uri" \
    -b cn=schema,cn=config '(cn=*sisopi)' olcObjectClasses
assert_contains "$OUT" "NAME 'sisopiGroup'" "sisopiGroup loaded over cn=config"
assert_contains "$OUT" "NAME 'ucsschoolUsername'" "ucsschoolUsername loaded over cn=config"
kill "$cc_pid"
wait "$cc_pid" || true

step "done"
