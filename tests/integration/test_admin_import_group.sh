#!/usr/bin/env bash
# sisopi-admin import-group create|add-member|remove-member|list|delete against a real slapd,
# bound as the admin account (the ACLs for import groups): a group with two schools, two roles
# and a name full of DN and filter specials, made in its first school's OU with members as DNs;
# listed (table, --json, --school); members added and removed; the refusals (missing school,
# the limbo OU, unknown uid, bad role, duplicate name, the last member); deleted.
# And end to end: sisopi-api gives a member made this way exactly the granted schools and
# roles, and a fresh login after remove-member gets none.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
A=$B_/sisopi-admin
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
for t in curl jq; do command -v "$t" >/dev/null || fail "$t is not installed"; done

step "start the stack"
start_stack --schools "Gym1 Schule2 Schule3"
W=$STACK_DIR/work
mkdir -p "$W"
BASE=$STACK_BASE
CFG=$STACK_DIR/sisopi.cfg
assert_contains "$(cat "$CFG")" "cn=admin,cn=sisopi-accounts,$BASE" "sisopi-admin binds as its account"

step "persons to grant"
person() { # UID SCHOOL PASSWORD
    printf 'dn: uid=%s,ou=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n\n' \
        "$1" "$2" "$BASE" "$1" "$1" "$1" "$3"
}
{
    person anna Gym1 anna-pw-1
    person bert Schule2 bert-pw-1
    person carl Schule3 carl-pw-1
} >"$W/people.ldif"
assert_ok "add persons" ldap_add -f "$W/people.ldif"
ANNA="uid=anna,ou=Gym1,$BASE"
BERT="uid=bert,ou=Schule2,$BASE"
CARL="uid=carl,ou=Schule3,$BASE"

# A name with every DN and filter special: escaped in the DN, matched only by itself.
NAME='office, Gym1+S2 (*) \ "x"'
DN="cn=office\\, Gym1\\+S2 (*) \\\\ \\\"x\\\",ou=Gym1,$BASE"

step "create: two schools, two roles, a member; in the first school's OU"
assert_rc 0 "create" "$A" -c "$CFG" import-group create "$NAME" --school Gym1 --school schule2 \
    --role student --role teacher --member anna
assert_contains "$OUT" "import group $NAME created" "create says what it did"
ldap_exists "$DN" || fail "no entry $DN"$'\n'"$(ldap_dns -b "ou=Gym1,$BASE" '(objectClass=groupOfNames)')"
assert_eq "$(printf '%s\n' groupOfNames ucsschoolImportGroup)" "$(ldap_attr "$DN" objectClass | sort)" \
    "object classes"
assert_eq "$NAME" "$(ldap_attr "$DN" cn)" "cn"
assert_eq "$ANNA" "$(ldap_attr "$DN" member)" "member as a DN"
assert_eq "$(printf '%s\n' Gym1 Schule2)" "$(ldap_attr "$DN" ucsschoolImportSchool | sort)" \
    "schools as the directory spells them"
assert_eq "$(printf '%s\n' student teacher)" "$(ldap_attr "$DN" ucsschoolImportRole | sort)" "roles"

step "refusals: nothing is written"
count() { ldap_dns -b "$BASE" '(objectClass=ucsschoolImportGroup)' | grep -c . || true; }
assert_eq 1 "$(count)" "one import group"
assert_rc 1 "duplicate name" "$A" -c "$CFG" import-group create "$NAME" --school Schule3 \
    --role staff --member carl
assert_contains "$OUT" "exists already (cn=office" "says the name exists, and where"
assert_contains "$OUT" ",ou=Gym1,$BASE)" "says the name exists, and where"
assert_rc 1 "duplicate name in another case" "$A" -c "$CFG" import-group create "${NAME^^}" \
    --school Schule3 --role staff --member carl
assert_rc 1 "missing school" "$A" -c "$CFG" import-group create g2 --school Gym1 \
    --school Nowhere --role student --member anna
assert_contains "$OUT" "school Nowhere does not exist" "says which school is missing"
assert_rc 1 "the limbo OU" "$A" -c "$CFG" import-group create g2 --school limbo --role student \
    --member anna
assert_contains "$OUT" "limbo OU, never grantable" "says why"
assert_rc 1 "unknown uid" "$A" -c "$CFG" import-group create g2 --school Gym1 --role student \
    --member anna --member nobody
assert_contains "$OUT" "uid nobody is unknown" "says which uid"
assert_rc 64 "bad role" "$A" -c "$CFG" import-group create g2 --school Gym1 --role pupil \
    --member anna
assert_contains "$OUT" "--role pupil: not a role" "says which role"
assert_rc 64 "no member" "$A" -c "$CFG" import-group create g2 --school Gym1 --role student
assert_rc 64 "bad school name" "$A" -c "$CFG" import-group create g2 --school 'a*)(' \
    --role student --member anna
assert_rc 64 "control character in the name" "$A" -c "$CFG" import-group create $'g\t2' \
    --school Gym1 --role student --member anna
assert_eq 1 "$(count)" "the refusals wrote nothing"
# An ambiguous uid (two persons carry it) is refused too, but the stack's unique overlay on uid
# keeps the directory from holding one, even for the rootdn.
if ldap_add -f /dev/stdin >/dev/null 2>&1 <<EOF; then
dn: cn=dup,ou=Schule3,$BASE
objectClass: inetOrgPerson
cn: dup
sn: dup
uid: carl
EOF
    fail "the directory took a second uid carl: the unique overlay is gone"
fi

step "list: table, --json, --school"
assert_rc 0 "list" "$A" -c "$CFG" import-group list
assert_contains "$OUT" "$NAME" "the name"
assert_contains "$OUT" "Gym1,Schule2 student,teacher anna" "schools, roles, members as uids"
assert_contains "$OUT" "1 import groups" "the count"
assert_rc 0 "list --json" "$A" -c "$CFG" import-group list --json
JSON=$(grep '^{' <<<"$OUT")
assert_eq "$NAME" "$(jq -r .name <<<"$JSON")" "json name"
assert_eq '["Gym1","Schule2"]' "$(jq -c '.schools | sort' <<<"$JSON")" "json schools"
assert_eq '["student","teacher"]' "$(jq -c '.roles | sort' <<<"$JSON")" "json roles"
assert_eq '[{"uid":"anna","dn":"'"$ANNA"'"}]' "$(jq -c .members <<<"$JSON")" "json members"
assert_rc 0 "list --school Schule3" "$A" -c "$CFG" import-group list --school Schule3
assert_contains "$OUT" "0 import groups granting Schule3" "no group grants Schule3"
assert_rc 0 "list --school '*'" "$A" -c "$CFG" import-group list --school '*' --json
assert_eq "" "$(grep '^{' <<<"$OUT" || true)" "--school * matches only a school named *"

step "add-member, remove-member"
assert_rc 0 "add bert and carl" "$A" -c "$CFG" import-group add-member "$NAME" bert carl anna
assert_contains "$OUT" "2 members added (bert,carl), 1 were members already" "says what it did"
assert_eq "$(printf '%s\n' "$ANNA" "$BERT" "$CARL" | sort)" "$(ldap_attr "$DN" member | sort)" \
    "three members"
assert_rc 1 "add an unknown uid" "$A" -c "$CFG" import-group add-member "$NAME" nobody
assert_rc 1 "add to a missing group" "$A" -c "$CFG" import-group add-member nogroup anna
assert_contains "$OUT" "import group \"nogroup\" does not exist" "says so"
assert_rc 0 "remove carl" "$A" -c "$CFG" import-group remove-member "$NAME" carl
assert_eq "$(printf '%s\n' "$ANNA" "$BERT" | sort)" "$(ldap_attr "$DN" member | sort)" "two members"
assert_rc 1 "remove a non-member" "$A" -c "$CFG" import-group remove-member "$NAME" carl
assert_contains "$OUT" "is not a member" "says so"
assert_rc 1 "remove every member" "$A" -c "$CFG" import-group remove-member "$NAME" anna bert
assert_contains "$OUT" "without members" "says why"
assert_eq 2 "$(ldap_attr "$DN" member | grep -c .)" "nothing removed"

step "sisopi-api honours the group: exactly the granted schools and roles"
cat "$CFG" - >"$W/api.cfg" <<EOC
api:
{
  listen = "127.0.0.1:0";
  state_dir = "$W/api-state";
};
EOC
"$B_/sisopi-api" -c "$W/api.cfg" >"$W/api.log" 2>&1 &
API_PID=$!
LIB_AT_EXIT+=("kill -TERM $API_PID 2>/dev/null; wait $API_PID 2>/dev/null")
wait_for 20 "sisopi-api listening" grep -q 'api_listening' "$W/api.log"
U="http://127.0.0.1:$(sed -n 's/.*api_listening.* port=\([0-9]*\).*/\1/p' "$W/api.log")"
req() { # ARGS...: sets CODE and BODY
    CODE=$(curl -sS -o "$W/body" -w '%{http_code}' "$@") || CODE=000
    BODY=$(cat "$W/body")
}
token() { # USER PASSWORD: a fresh login's token
    req -X POST -u "$1:$2" "$U/api/v1/token"
    [[ $CODE == 200 ]] || fail "login $1: HTTP $CODE: $BODY"
    jq -r .token <<<"$BODY"
}
upload() { # TOKEN: a dry run of Gym1's students
    req -H "Authorization: Bearer $1" -F school=Gym1 -F user_role=student -F dryrun=true \
        -F "input_file=@$SISOPI_SRC/examples/Gym1-student.csv" "$U/api/v1/imports/users/"
}
T=$(token anna anna-pw-1)
req -H "Authorization: Bearer $T" "$U/api/v1/schools/"
[[ $CODE == 200 ]] || fail "GET /api/v1/schools/: HTTP $CODE: $BODY"
assert_eq '[{"name":"Gym1","roles":["student","teacher"]},{"name":"Schule2","roles":["student","teacher"]}]' \
    "$(jq -c '[.results[] | {name, roles}] | sort_by(.name)' <<<"$BODY")" "anna's grants"
upload "$T"
[[ $CODE == 201 ]] || fail "anna's dry run of Gym1 students: expected 201, got $CODE: $BODY"

step "after remove-member a fresh login has no grants"
assert_rc 0 "remove anna" "$A" -c "$CFG" import-group remove-member "$NAME" anna
assert_eq "$BERT" "$(ldap_attr "$DN" member)" "bert is left"
T=$(token anna anna-pw-1)
req -H "Authorization: Bearer $T" "$U/api/v1/schools/"
[[ $CODE == 200 ]] || fail "GET /api/v1/schools/: HTTP $CODE: $BODY"
assert_eq '[]' "$(jq -c .results <<<"$BODY")" "anna's grants after removal"
upload "$T"
[[ $CODE == 403 ]] || fail "anna's upload after removal: expected 403, got $CODE: $BODY"
T=$(token bert bert-pw-1)
req -H "Authorization: Bearer $T" "$U/api/v1/schools/"
assert_eq '["Gym1","Schule2"]' "$(jq -c '[.results[].name] | sort' <<<"$BODY")" "bert keeps his"

step "delete"
assert_rc 0 "delete" "$A" -c "$CFG" import-group delete "$NAME"
assert_contains "$OUT" "import group $NAME deleted" "says so"
ldap_exists "$DN" && fail "$DN still exists"
assert_eq 0 "$(count)" "no import group left"
assert_rc 1 "delete again" "$A" -c "$CFG" import-group delete "$NAME"
assert_rc 64 "delete without a name" "$A" -c "$CFG" import-group delete
true
