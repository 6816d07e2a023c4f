#!/usr/bin/env bash
# sisopi-api with curl against a real slapd and the devbroker: every endpoint; logins (Basic,
# token, revoke, failed-login limits, no password in a log); import groups (a caller of school A
# gets 403 for school B and never sees its jobs); a dry run publishes nothing and predicts
# exactly the counts the real run then reports; a held import shows "held" and finishes after
# sisopi-admin release; passwords.csv for its principal only, with passwords that bind; a bad
# file's errors are sisopi-ingest --check's; upload and in-flight limits (413, 429); the broker
# stopped during an upload publishes no end marker (503); jobs survive a restart; the hostile
# corpus of tests/data/bad/ is refused with the reader's own message; TLS with a self-signed
# certificate; the directory away gives 503.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
API=$B_/sisopi-api
EX=$SISOPI_SRC/examples
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
for t in curl jq openssl; do command -v "$t" >/dev/null || fail "$t is not installed"; done

step "start the stack"
start_stack --schools "Gym1 Schule2 Schule1"
W=$STACK_DIR/work
mkdir -p "$W"
BASE=$STACK_BASE

# The API's config: the stack's, first passwords generated, deliveries bounded (the stopped
# broker), small limits so that the test reaches them.
sed -e 's/^  tolerate_errors = 0;/&\n  initial_password = "generated";/' \
    -e 's/\[ "heartbeat.interval.ms", "500" \]/&,\n    [ "message.timeout.ms", "8000" ]/' \
    "$STACK_DIR/sisopi.cfg" >"$W/api.cfg"
cat >>"$W/api.cfg" <<EOC
api:
{
  listen = "127.0.0.1:0";
  state_dir = "$W/api-state";
  max_upload_bytes = 65536;
  max_jobs_per_school = 2;
  login_failures = 3;
  login_failures_per_address = 12;
  login_window = "1h";
};
EOC
grep -q 'initial_password = "generated"' "$W/api.cfg" || fail "could not write api.cfg"
grep -q 'message.timeout.ms' "$W/api.cfg" || fail "could not write api.cfg (properties)"
CFG=$STACK_DIR/sisopi.cfg

step "people and import groups in the directory"
person() { # UID SCHOOL PASSWORD
    printf 'dn: uid=%s,ou=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n\n' \
        "$1" "$2" "$BASE" "$1" "$1" "$1" "$3"
}
group() { # NAME MEMBER_DN SCHOOL ROLES...
    local name=$1 member=$2 school=$3 r
    shift 3
    printf 'dn: cn=%s,ou=%s,%s\nobjectClass: groupOfNames\nobjectClass: ucsschoolImportGroup\ncn: %s\nmember: %s\nucsschoolImportSchool: %s\n' \
        "$name" "$school" "$BASE" "$name" "$member" "$school"
    for r in "$@"; do printf 'ucsschoolImportRole: %s\n' "$r"; done
    printf '\n'
}
{
    person anna Gym1 anna-pw-1
    person anke Gym1 anke-pw-1
    person bert Schule2 bert-pw-1
    person carl Schule2 carl-pw-1
    person dora Schule2 dora-pw-1
    person eva Schule1 eva-pw-1
    group import-gym1 "uid=anna,ou=Gym1,$BASE" Gym1 student teacher
    group import-gym1-b "uid=anke,ou=Gym1,$BASE" Gym1 student teacher
    group import-schule2 "uid=bert,ou=Schule2,$BASE" Schule2 student
    group import-schule1 "uid=eva,ou=Schule1,$BASE" Schule1 student
} >"$W/people.ldif"
assert_ok "add people and groups" ldap_add -f "$W/people.ldif"

# start_api NAME CFG: runs sisopi-api in the background; sets API_URL from its log.
start_api() {
    local name=$1 cfg=$2 log=$W/$1.log
    "$API" -c "$cfg" >"$log" 2>&1 &
    printf '%s' $! >"$W/$name.pid"
    LIB_AT_EXIT+=("kill -TERM $! 2>/dev/null; wait $! 2>/dev/null")
    wait_for 20 "$name listening" grep -q 'api_listening' "$log"
    local port
    port=$(sed -n 's/.*api_listening.* port=\([0-9]*\).*/\1/p' "$log")
    API_URL="$(grep -q 'tls=yes' "$log" && echo https || echo http)://127.0.0.1:$port"
}
stop_api() { # NAME
    local pid
    pid=$(cat "$W/$1.pid")
    kill -TERM "$pid"
    wait "$pid" || fail "sisopi-api $1 did not stop cleanly"
}
# req ARGS...: curl; sets CODE, BODY and HDRS (the response headers).
req() {
    CODE=$(curl -sS -o "$W/body" -D "$W/headers" -w '%{http_code}' "$@") || CODE=000
    BODY=$(cat "$W/body")
    HDRS=$(tr -d '\r' <"$W/headers")
}
expect() { # CODE MESSAGE
    [[ $CODE == "$1" ]] || fail "$2: expected HTTP $1, got $CODE: $BODY"
}
upload() { # URL AUTH_ARGS... -- SCHOOL ROLE DRYRUN FILE
    local url=$1 args=()
    shift
    while [[ $1 != -- ]]; do args+=("$1"); shift; done
    shift
    req "${args[@]}" -F "school=$1" -F "user_role=$2" -F "dryrun=$3" -F "input_file=@$4" "$url/api/v1/imports/users/"
}
reconcile() {
    run timeout 240 "$B_/sisopi-reconciler" -c "$CFG" --until-idle --idle-open 3
    ((RC == 0)) || fail "the reconciler failed (exit $RC):"$'\n'"$(tail -n 30 <<<"$OUT")"
}
users_msgs() { "$B_/sisopi-audit" -c "$CFG" dump --topic users 2>/dev/null | wc -l; }
ends_of() { "$B_/sisopi-audit" -c "$CFG" dump --topic users 2>/dev/null | jq -c "select(.message.type==\"ImportEnd\" and .message.import_id==\"$1\")" | wc -l; }
status_is() { # URL AUTH ID STATUS
    req -u "$2" "$1/api/v1/imports/users/$3"
    [[ $(jq -r .status <<<"$BODY") == "$4" ]]
}

start_api main "$W/api.cfg"
U=$API_URL
A=anna:anna-pw-1

step "the page, its files, the documents, health and metrics"
req "$U/"
expect 200 "GET /"
assert_contains "$HDRS" "Content-Type: text/html" "index.html's type"
assert_contains "$HDRS" "Content-Security-Policy: default-src 'self'" "a strict CSP"
assert_contains "$HDRS" "Cache-Control: no-cache" "the page is revalidated"
for f in "$SISOPI_SRC"/services/api/web/*; do
    [[ -f $f ]] || continue
    req "$U/static/$(basename "$f")"
    expect 200 "GET /static/$(basename "$f")"
    cmp -s "$W/body" "$f" || fail "/static/$(basename "$f") differs from the file"
    case $f in
    *.js) assert_contains "$HDRS" "Content-Type: text/javascript" "$f's type" ;;
    *.css) assert_contains "$HDRS" "Content-Type: text/css" "$f's type" ;;
    esac
done
req "$U/static/../../etc/passwd"
[[ $CODE == 404 || $CODE == 400 ]] || fail "a path outside the page: $CODE"
req "$U/api/v1/openapi.json"
expect 200 "openapi.json"
assert_eq "3.0.3" "$(jq -r .openapi <<<"$BODY")" "an OpenAPI 3 document"
for p in /api/v1/token /api/v1/schools/ /api/v1/imports/users/ '/api/v1/imports/users/{id}' \
    '/api/v1/imports/users/{id}/summary.csv' '/api/v1/imports/users/{id}/passwords.csv'; do
    jq -e --arg p "$p" '.paths[$p]' <<<"$BODY" >/dev/null || fail "openapi.json lacks $p"
done
req "$U/api/v1/docs"
expect 200 "docs"
assert_contains "$BODY" "/api/v1/imports/users/" "the docs page documents the jobs"
wait_for 20 "healthz 200" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' $U/healthz) == 200 ]]"
req "$U/metrics"
expect 200 "metrics"
assert_contains "$BODY" "sisopi_api_responses_total" "response counters"
req "$U/nothing"
expect 404 "an unknown path"
assert_eq not_found "$(jq -r .error <<<"$BODY")" "the error code"

step "logins: none, wrong, Basic, token, revoke"
req "$U/api/v1/schools/"
expect 401 "no login"
assert_contains "$HDRS" 'WWW-Authenticate: Basic realm="sisopi"' "the Basic challenge"
assert_eq unauthorized "$(jq -r .error <<<"$BODY")" "401's code"
req -u anna:wrong "$U/api/v1/schools/"
expect 401 "a wrong password"
req -u nobody:x "$U/api/v1/schools/"
expect 401 "an unknown user"
req -u anna: "$U/api/v1/schools/"
expect 401 "an empty password (an anonymous bind must not pass)"
req -u "$A" "$U/api/v1/schools/"
expect 200 "Basic"
assert_eq '[{"name":"Gym1","display_name":"Gym1","roles":["student","teacher"]}]' \
    "$(jq -c .results <<<"$BODY")" "anna's schools and roles"
req -X POST -H 'Content-Type: application/json' -d '{"username": "anna", "password": "anna-pw-1"}' "$U/api/v1/token"
expect 200 "token by JSON"
TOK=$(jq -r .token <<<"$BODY")
assert_eq 900 "$(jq -r .expires_in <<<"$BODY")" "expires_in"
assert_eq anna "$(jq -r .username <<<"$BODY")" "the token's username"
req -H "Authorization: Bearer $TOK" "$U/api/v1/schools/"
expect 200 "Bearer"
req -X POST -u "$A" "$U/api/v1/token"
expect 200 "token by Basic"
req -X POST -H 'Content-Type: application/json' -d '{"username": "anna", "password": "nope"}' "$U/api/v1/token"
expect 401 "token with a wrong password"
req -X POST -H 'Content-Type: application/json' -d '{"user": 1}' "$U/api/v1/token"
expect 400 "a body that is no login"
T2=$(curl -s -X POST -u "$A" "$U/api/v1/token" | jq -r .token)
req -X POST -H "Authorization: Bearer $T2" "$U/api/v1/token/revoke"
expect 204 "revoke"
req -H "Authorization: Bearer $T2" "$U/api/v1/schools/"
expect 401 "a revoked token"
req -H "Authorization: Bearer x$TOK" "$U/api/v1/schools/"
expect 401 "an unknown token"
req -u carl:carl-pw-1 "$U/api/v1/schools/"
expect 200 "a person in no import group"
assert_eq '[]' "$(jq -c .results <<<"$BODY")" "carl may import nothing"

step "failed logins are limited per account, and no password is logged"
for i in 1 2 3; do
    req -u dora:wrong-$i "$U/api/v1/schools/"
    expect 401 "dora's wrong password $i"
done
req -u dora:dora-pw-1 "$U/api/v1/schools/"
expect 429 "the right password after 3 failures"
assert_contains "$HDRS" "Retry-After: " "429 says when"
assert_eq too_many "$(jq -r .error <<<"$BODY")" "429's code"
req -u "$A" "$U/api/v1/schools/"
expect 200 "another account from the same address (its limit is higher)"
for pw in anna-pw-1 wrong-1 wrong-2 dora-pw-1 "$TOK"; do
    assert_not_contains "$(cat "$W/main.log")" "$pw" "a password or token in the log"
done

step "a dry run: the prediction, nothing published"
before=$(users_msgs)
upload "$U" -H "Authorization: Bearer $TOK" -- Gym1 student true "$EX/Gym1-student.csv"
expect 201 "dry run"
DRY=$BODY
DID=$(jq -r .id <<<"$DRY")
assert_contains "$HDRS" "Location: /api/v1/imports/users/$DID" "Location"
assert_eq finished "$(jq -r .status <<<"$DRY")" "a dry run is finished at once"
assert_eq true "$(jq -r .dryrun <<<"$DRY")" "dryrun"
assert_eq anna "$(jq -r .principal <<<"$DRY")" "principal"
assert_eq Gym1-student.csv "$(jq -r .filename <<<"$DRY")" "filename"
assert_eq 6 "$(jq -r .rows <<<"$DRY")" "rows"
assert_eq '{"created":6,"modified":0,"unchanged":0,"school_removed":0,"to_limbo":0,"reactivated":0,"rejected":0}' \
    "$(jq -c .counts <<<"$DRY")" "predicted counts"
assert_eq "$before" "$(users_msgs)" "a dry run publishes nothing"
req -u "$A" "$U/api/v1/imports/users/$DID/summary.csv"
expect 200 "a dry run's summary"
assert_contains "$HDRS" "Content-Type: text/csv" "summary type"
assert_contains "$HDRS" "filename=\"summary-$DID.csv\"" "summary file name"

step "permissions: another school, another role, nobody's school"
upload "$U" -u "$A" -- Schule2 student true "$EX/Schule2-student.csv"
expect 403 "anna for Schule2"
assert_eq forbidden "$(jq -r .error <<<"$BODY")" "403's code"
upload "$U" -u "$A" -- Gym1 staff true "$EX/Gym1-student.csv"
expect 403 "anna for a role of Gym1 not granted"
upload "$U" -u carl:carl-pw-1 -- Gym1 student true "$EX/Gym1-student.csv"
expect 403 "carl for any school"
upload "$U" -u "$A" -- "Gym1,ou=x" student true "$EX/Gym1-student.csv"
expect 400 "a school that is no name"
upload "$U" -u "$A" -- Gym1 pupil true "$EX/Gym1-student.csv"
expect 400 "a role that is none"

step "the real run: started, then finished with the predicted counts"
upload "$U" -u "$A" -- Gym1 student false "$EX/Gym1-student.csv"
expect 201 "real run"
ID1=$(jq -r .id <<<"$BODY")
assert_eq started "$(jq -r .status <<<"$BODY")" "published, not answered yet"
[[ $ID1 != "$DID" ]] || fail "a new id"
assert_eq 12 "$(ends_of "$ID1")" "one end marker per partition"
reconcile
wait_for 30 "finished" status_is "$U" "$A" "$ID1" finished
assert_eq "$(jq -c .counts <<<"$DRY")" "$(jq -c .counts <<<"$BODY")" "the dry run predicted the real counts"
assert_eq 6 "$(ldap_dns -b "ou=Gym1,$BASE" '(ucsschoolRecordUID=*)' | wc -l)" "six accounts in Gym1"

step "a caller of another school: 403 for the job, absent from its list"
B2=bert:bert-pw-1
req -u "$B2" "$U/api/v1/imports/users/$ID1"
expect 403 "bert reads anna's job"
req -u "$B2" "$U/api/v1/imports/users/$ID1/summary.csv"
expect 403 "bert reads anna's summary"
req -u "$B2" "$U/api/v1/imports/users/"
expect 200 "bert's list"
assert_eq 0 "$(jq .count <<<"$BODY")" "bert sees no job"
req -u "$B2" "$U/api/v1/imports/users/?school=Gym1"
expect 403 "bert lists Gym1"
req -u "$B2" "$U/api/v1/imports/users/00000000-0000-7000-8000-000000000000"
expect 404 "an id that does not exist"
req -u "$A" "$U/api/v1/imports/users/?school=Gym1&role=student"
expect 200 "anna's list"
assert_eq 2 "$(jq .count <<<"$BODY")" "anna sees her two jobs"
assert_eq "$ID1 $DID" "$(jq -r '[.results[].id] | join(" ")' <<<"$BODY")" "newest first"
assert_eq null "$(jq .next <<<"$BODY")" "one page"
req -u "$A" "$U/api/v1/imports/users/?role=teacher"
assert_eq 0 "$(jq .count <<<"$BODY")" "filtered by role"
req -u "$A" "$U/api/v1/imports/users/?page=x"
expect 400 "a page that is no number"

step "summary.csv is sisopi-audit report --csv"
req -u "$A" "$U/api/v1/imports/users/$ID1/summary.csv"
expect 200 "summary"
"$B_/sisopi-audit" -c "$CFG" report "$ID1" --csv >"$W/report.csv" 2>/dev/null
cmp -s "$W/body" "$W/report.csv" || fail "summary.csv differs from sisopi-audit report --csv:"$'\n'"$(diff "$W/body" "$W/report.csv")"
assert_eq 7 "$(wc -l <"$W/body")" "a header and six rows"

step "passwords.csv: the created accounts' first passwords, for the principal only"
req -u "$A" "$U/api/v1/imports/users/$ID1/passwords.csv"
expect 200 "anna's passwords"
assert_contains "$HDRS" "filename=\"passwords-$ID1.csv\"" "passwords file name"
assert_eq 7 "$(wc -l <"$W/body")" "a header and six accounts"
IFS=, read -r pu pp _ < <(sed -n '2p' "$W/body" | tr -d '"')
pdn=$(ldap_dns -b "$BASE" "(uid=$pu)")
[[ -n $pdn ]] || fail "no account $pu"
assert_ok "the first password binds" ldapwhoami -x -H "$STACK_URI" -D "$pdn" -w "$pp"
"$B_/sisopi-audit" -c "$CFG" dump --topic users >"$W/users.json" 2>/dev/null
assert_not_contains "$(cat "$W/users.json" "$W/main.log")" "$pp" "a first password on the topic or in the log"
req -u ANNA:anna-pw-1 "$U/api/v1/imports/users/$ID1/passwords.csv"
expect 200 "the principal, whatever case she types her uid in"
req -X POST -u ANNA:anna-pw-1 "$U/api/v1/token"
assert_eq anna "$(jq -r .username <<<"$BODY")" "the uid as the directory spells it"
req -u anke:anke-pw-1 "$U/api/v1/imports/users/$ID1/passwords.csv"
expect 403 "another member of Gym1's import group"
req -u anke:anke-pw-1 "$U/api/v1/imports/users/$ID1"
expect 200 "anke sees the job of her school"
req -u "$A" "$U/api/v1/imports/users/$DID/passwords.csv"
expect 404 "a dry run has no passwords"
assert_eq 'null' "$(jq -c .password_url <<<"$DRY")" "a dry run's password_url"
[[ $(stat -c %a "$W/api-state/passwords/$ID1") == 600 ]] || fail "the password file is not 0600"

step "a held import: the dry run warns, the job shows held, then finishes after a release"
head -n 3 "$EX/Gym1-student.csv" >"$W/gym1-two.csv" # 2 of 6: 4 would go to limbo
upload "$U" -u "$A" -- Gym1 student true "$W/gym1-two.csv"
expect 201 "dry run of two"
HDRY=$BODY
assert_eq true "$(jq -r .guard.would_hold <<<"$HDRY")" "the guard would hold"
assert_eq 4 "$(jq -r .guard.removals <<<"$HDRY")" "four removals"
assert_eq 4 "$(jq -r .counts.to_limbo <<<"$HDRY")" "four to limbo (once released)"
upload "$U" -u "$A" -- Gym1 student false "$W/gym1-two.csv"
expect 201 "real run of two"
HID=$(jq -r .id <<<"$BODY")
reconcile
wait_for 30 "held" status_is "$U" "$A" "$HID" held
assert_eq 6 "$(ldap_dns -b "ou=Gym1,$BASE" '(ucsschoolRecordUID=*)' | wc -l)" "nobody removed while held"
assert_ok "release" "$B_/sisopi-admin" -c "$CFG" release "$HID"
reconcile
wait_for 30 "finished after the release" status_is "$U" "$A" "$HID" finished
for k in created modified unchanged school_removed to_limbo; do
    assert_eq "$(jq .counts.$k <<<"$HDRY")" "$(jq .counts.$k <<<"$BODY")" "held import: predicted $k"
done
assert_eq 4 "$(ldap_dns -b "ou=limbo,$BASE" '(ucsschoolRecordUID=*)' | wc -l)" "four in limbo"
assert_eq 0 "$(wc -l <"$W/api-state/passwords/$HID")" "no first password kept for persons who existed"
assert_eq 6 "$(wc -l <"$W/api-state/passwords/$ID1")" "the created accounts' first passwords kept"
req -u "$A" "$U/api/v1/imports/users/$HID/passwords.csv"
assert_eq 1 "$(wc -l <"$W/body")" "passwords.csv of an import that created nobody: the header only"

step "a bad file: 422 with the rows sisopi-ingest --check reports"
before=$(users_msgs)
upload "$U" -u "$A" -- Gym1 student false "$EX/bad-student.csv"
expect 422 "bad file"
assert_eq invalid_file "$(jq -r .error <<<"$BODY")" "422's code"
run "$B_/sisopi-ingest" -c "$CFG" --check --school Gym1 --role student "$EX/bad-student.csv"
((RC == 1)) || fail "sisopi-ingest --check of the bad file: exit $RC"
want=$(grep -oE '^[^ ]*bad-student\.csv:[0-9]+' <<<"$OUT" | sed 's/.*://' | sort -n | uniq | xargs)
[[ -n $want ]] || fail "no row errors from sisopi-ingest --check: $OUT"
assert_eq "$want" "$(jq -r '[.errors[].line] | unique | join(" ")' <<<"$BODY")" "the same bad lines"
while IFS= read -r msg; do
    assert_contains "$OUT" "$msg" "sisopi-ingest --check says the API's message too"
done < <(jq -r '.errors[].message' <<<"$BODY")
assert_eq bad-student.csv "$(jq -r '.errors[0].file' <<<"$BODY")" "the upload's name, not a path"
assert_eq "$before" "$(users_msgs)" "a bad file publishes nothing"
printf '' >"$W/empty.csv"
upload "$U" -u "$A" -- Gym1 student false "$W/empty.csv"
expect 422 "an empty file"
head -n 1 "$EX/Gym1-student.csv" >"$W/header-only.csv"
upload "$U" -u "$A" -- Gym1 student false "$W/header-only.csv"
expect 422 "a file with no row (it would remove everyone)"
assert_eq "$before" "$(users_msgs)" "empty files publish nothing"

step "upload limit: 413, nothing published"
{ head -n 1 "$EX/Gym1-student.csv"; for i in $(seq 1 2000); do printf 'X-%05d,Vorname,Nachname,Gym1,,,\n' "$i"; done; } >"$W/big.csv"
(($(stat -c %s "$W/big.csv") > 65536)) || fail "big.csv is not big"
upload "$U" -u "$A" -- Gym1 student true "$W/big.csv"
expect 413 "too large"
assert_eq too_large "$(jq -r .error <<<"$BODY")" "413's code"
req -u "$A" -H 'Transfer-Encoding: chunked' -F school=Gym1 -F user_role=student -F dryrun=true -F "input_file=@$W/big.csv" "$U/api/v1/imports/users/"
expect 413 "too large, without a Content-Length"
assert_eq "$before" "$(users_msgs)" "nothing published"

step "jobs in flight per school: 429 beyond api.max_jobs_per_school"
for i in 1 2; do
    upload "$U" -u "$B2" -- Schule2 student false "$EX/Schule2-student.csv"
    expect 201 "Schule2 import $i (no reconciler runs)"
done
upload "$U" -u "$B2" -- Schule2 student false "$EX/Schule2-student.csv"
expect 429 "a third while two are in flight"
assert_contains "$HDRS" "Retry-After: " "429 says when"
upload "$U" -u "$A" -- Gym1 student true "$EX/Gym1-student.csv"
expect 201 "another school is not held up"
reconcile
upload "$U" -u "$B2" -- Schule2 student true "$EX/Schule2-student.csv"
expect 201 "once they finished"

step "the broker stopped during an upload: 503, no end marker"
before_ends=$("$B_/sisopi-audit" -c "$CFG" dump --topic users 2>/dev/null | jq -c 'select(.message.type=="ImportEnd")' | wc -l)
BPID=$(cat "$STACK_DIR/devbroker.pid")
LIB_AT_EXIT+=("kill -CONT $BPID 2>/dev/null")
# The upload trickles (about 4 s); the broker stops while it is on its way.
{ head -n 1 "$EX/Gym1-student.csv"; for i in $(seq 1 1200); do printf 'T-%05d,Vorname,Nachname,Gym1,,,\n' "$i"; done; } >"$W/teachers.csv"
(($(stat -c %s "$W/teachers.csv") < 65536)) || fail "teachers.csv is over the upload limit"
(upload "$U" -u "$A" --limit-rate 8k -- Gym1 teacher false "$W/teachers.csv"
    printf '%s\n' "$CODE" >"$W/slow.code"
    printf '%s\n' "$BODY" >"$W/slow.body") &
SLOW=$!
wait_for 20 "the upload under way" bash -c "ls '$W/api-state/spool/' 2>/dev/null | grep -q upload-"
kill -STOP "$BPID"
wait "$SLOW"
kill -CONT "$BPID"
CODE=$(cat "$W/slow.code") BODY=$(cat "$W/slow.body")
HDRS=$(tr -d '\r' <"$W/headers")
expect 503 "the broker away"
assert_contains "$HDRS" "Retry-After: " "503 says when"
assert_eq unavailable "$(jq -r .error <<<"$BODY")" "503's code"
after_ends=$("$B_/sisopi-audit" -c "$CFG" dump --topic users 2>/dev/null | jq -c 'select(.message.type=="ImportEnd")' | wc -l)
assert_eq "$before_ends" "$after_ends" "no end marker was published"
upload "$U" -u "$A" -- Gym1 teacher false "$EX/Gym1-teacher.csv"
expect 201 "the broker back: an upload goes through"
TID=$(jq -r .id <<<"$BODY")
reconcile
wait_for 30 "teachers finished" status_is "$U" "$A" "$TID" finished

step "metrics count logins and uploads"
wait_for 10 "the counters published" bash -c "curl -s $U/metrics | grep -q 'sisopi_api_uploads_total{dryrun=\"true\",result=\"invalid_file\"}'"
M=$(curl -s "$U/metrics")
assert_contains "$M" 'sisopi_api_logins_total{result="denied"}' "failed logins counted"
assert_contains "$M" 'sisopi_api_logins_total{result="limited"} 1' "the limited login counted"
assert_contains "$M" 'sisopi_api_uploads_total{dryrun="false",result="unavailable"} 1' "the 503 upload counted"
assert_contains "$M" 'sisopi_api_responses_total{code="413"} 2' "the 413s counted"

step "jobs survive a restart"
grep -qx 'status=finished' "$W/api-state/jobs/$ID1.job" || fail "the job's file does not keep how it ended"
req -u "$A" "$U/api/v1/imports/users/$ID1"
J1=$(jq -c 'del(.status)' <<<"$BODY")
stop_api main
start_api main "$W/api.cfg"
U=$API_URL
wait_for 30 "the job's status from the events again" status_is "$U" "$A" "$ID1" finished
assert_eq "$J1" "$(jq -c 'del(.status)' <<<"$BODY")" "the same job after a restart"
req -u "$A" "$U/api/v1/imports/users/$DID"
assert_eq "$(jq -c . <<<"$DRY")" "$(jq -c . <<<"$BODY")" "the same dry run after a restart"
[[ -z $(ls -A "$W/api-state/spool") ]] || fail "uploads left in the spool: $(ls "$W/api-state/spool")"

step "the hostile corpus of tests/data/bad/: refused with the reader's message"
python3 - "$W/api.cfg" "$W/corpus.cfg" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
m = '''mapping = (
      [ "Vorname", "firstname" ], [ "Nachname", "lastname" ], [ "Schueler-ID", "record_uid" ],
      [ "Klassen", "school_classes" ], [ "Geburtstag", "birthday" ], [ "Email", "email" ],
      [ "Schule", "school" ], [ "Schulen", "schools" ], [ "Benutzername", "name" ],
      [ "Passwort", "password" ], [ "Quelle", "source_uid" ],
      [ "Telefon", "telephoneNumber", ";" ], [ "Beschreibung", "description" ],
      [ "Bemerkung", "__ignore" ]
    );
    allowed_missing_columns = [ "Klassen", "Geburtstag", "Email", "Schule", "Schulen",
      "Benutzername", "Passwort", "Quelle", "Telefon", "Beschreibung", "Bemerkung" ];'''
s, n = re.subn(r'mapping = \(.*?\);\s*allowed_missing_columns = \[[^]]*\];', m, s, flags=re.S)
assert n == 1
s = s.replace('source_uid = "sisopi-demo";', 'source_uid = "test-src";')
s = re.sub(r'(api:\s*\{[^}]*state_dir = ")([^"]*)"', r'\1\2-corpus"', s)
s = s.replace('max_jobs_per_school = 2;', 'max_jobs_per_school = 2;\n  connection_timeout = "2s";\n  per_ip_connection_limit = 3;')
open(sys.argv[2], 'w').write(s)
PY
start_api corpus "$W/corpus.cfg"
UC=$API_URL
before=$(users_msgs)
n=0
for f in "$SISOPI_SRC"/tests/data/bad/*.csv; do
    name=$(basename "$f")
    exp=$(sed -E 's/^(row|fatal) [0-9]+:[0-9]+: //' "$f.expect")
    upload "$UC" -u eva:eva-pw-1 -- Schule1 student false "$f"
    [[ $CODE == 422 || $CODE == 413 ]] || fail "$name: expected 422 (or 413), got $CODE: $BODY"
    [[ $CODE == 413 ]] && continue
    text=$(jq -r '.message, (.errors[] | "\(.line): \(.message)")' <<<"$BODY")
    assert_contains "$text" "$exp" "$name: the reader's message"
    n=$((n + 1))
done
((n > 40)) || fail "only $n files of the corpus were checked"
assert_eq "$before" "$(users_msgs)" "the corpus published nothing"
wait_for 10 "the corpus API still answers" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' $UC/healthz) == 200 ]]"

step "slow clients: an idle connection is closed, connections per address are bounded"
CPORT=${UC##*:}
exec 5<>"/dev/tcp/127.0.0.1/$CPORT" 6<>"/dev/tcp/127.0.0.1/$CPORT" 7<>"/dev/tcp/127.0.0.1/$CPORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&5 # never finishes its headers
req --max-time 5 "$UC/healthz"
[[ $CODE != 200 ]] || fail "a fourth connection from one address was served (limit 3)"
# The server closes the idle connections (api.connection_timeout 2s): reading sees the end.
run timeout 20 cat <&5
((RC != 124)) || fail "an idle connection was not closed by the server"
exec 5<&- 6<&- 7<&-
wait_for 20 "served again once the idle connections are gone" \
    bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' $UC/healthz) == 200 ]]"

step "TLS: a self-signed certificate, HTTPS only"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$W/tls.key" -out "$W/tls.crt" 2>/dev/null
chmod 600 "$W/tls.key"
sed -e "s|^  listen = \"127.0.0.1:0\";|&\n  tls_cert = \"$W/tls.crt\";\n  tls_key = \"$W/tls.key\";|" \
    -e "s|api-state|api-state-tls|" "$W/api.cfg" >"$W/tls.cfg"
grep -q tls_key "$W/tls.cfg" || fail "could not write tls.cfg"
start_api tls "$W/tls.cfg"
URL_tls=$API_URL
[[ $URL_tls == https://* ]] || fail "the TLS server did not say tls=yes"
req --cacert "$W/tls.crt" -u "$A" "$URL_tls/api/v1/schools/"
expect 200 "HTTPS with the certificate"
assert_eq Gym1 "$(jq -r '.results[0].name' <<<"$BODY")" "schools over HTTPS"
req "${URL_tls/https/http}/healthz"
[[ $CODE != 200 ]] || fail "plain HTTP answered on the TLS port"
req "$URL_tls/healthz"
[[ $CODE == 000 ]] || fail "an unknown certificate was accepted: $CODE"

step "the directory away: 503 with Retry-After"
TOK=$(curl -s -X POST -u "$A" "$U/api/v1/token" | jq -r .token) # tokens live in memory only
kill -TERM "$(cat "$STACK_DIR/slapd.pid")"
wait_for 10 "slapd stopped" bash -c "! ldapwhoami -x -H '$STACK_URI' >/dev/null 2>&1"
req -u "$A" "$U/api/v1/schools/"
expect 503 "a login with the directory away"
assert_contains "$HDRS" "Retry-After: " "503 says when"
req -H "Authorization: Bearer $TOK" "$U/api/v1/imports/users/$ID1"
expect 200 "a token still reads its jobs"
upload "$U" -H "Authorization: Bearer $TOK" -- Gym1 student true "$EX/Gym1-student.csv"
expect 503 "a dry run needs the directory"
