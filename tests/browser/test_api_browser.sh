#!/usr/bin/env bash
# sisopi-api's web page in a real browser: Debian's Chromium, headless, driven through
# chromedriver by drive.py against the real sisopi-api on a real stack (slapd with our schema,
# the devbroker) with a sisopi-reconciler applying the import. A secretary of Gym1 (a directory
# account in an import group for Gym1/student) logs in, dry-runs a three-row export, starts it,
# waits for "finished" and downloads the summary and the first passwords; plus a wrong
# password, the deletion guard's warning on a dry run, markup in a file's name and cells, the
# phone width, log out, and the German page (tests/browser/README.md lists every check). Here:
# the page's files are served as they are in the source, the downloaded summary is the one
# `sisopi-audit report --csv` writes, the downloaded first passwords bind and are in no log,
# the accounts are in the directory, the dry run's job is a finished dry run.
# Screenshots of every step: $SISOPI_BUILD/test-artifacts/browser/ (paths printed).
# Without Chromium, chromedriver or python3-selenium the test fails: it never skips.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

B_=$SISOPI_BUILD/services
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # read by start_stack (lib.sh)
STACK_NEED_BROKER=1
ART=$SISOPI_BUILD/test-artifacts/browser

step "the browser and the programs are there"
[[ -x $B_/sisopi-api ]] || fail "$B_/sisopi-api is not built"
[[ -x $B_/sisopi-reconciler ]] || fail "$B_/sisopi-reconciler is not built"
# Debian's python3 has python3-selenium; a python3 earlier in PATH may not.
PY=""
for c in /usr/bin/python3 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import selenium' 2>/dev/null; then
        PY=$(command -v "$c")
        break
    fi
done
[[ -n $PY ]] || fail "no python3 with selenium (deploy/install-deps.sh --test-tools installs python3-selenium)"
CHROMIUM=/usr/lib/chromium/chromium
[[ -x $CHROMIUM ]] || fail "no $CHROMIUM (deploy/install-deps.sh --test-tools installs chromium)"
CHROMEDRIVER=$(command -v chromedriver) ||
    fail "no chromedriver (deploy/install-deps.sh --test-tools installs chromium-driver)"
for t in curl jq openssl slappasswd ldapwhoami; do
    command -v "$t" >/dev/null || fail "$t is not installed (deploy/install-deps.sh installs it)"
done
rm -rf "$ART"
mkdir -p "$ART"

step "start the stack with Gym1"
start_stack --schools "Gym1"
CFG=$SISOPI_CONFIG
BASE=$STACK_BASE
W=$STACK_DIR/work
mkdir -p "$W/api" "$W/downloads"

step "a secretary of Gym1 in an import group for Gym1's students"
# The password lives in a file only (no newline: slappasswd -T hashes the file as it is).
openssl rand -hex 12 | tr -d '\n' >"$W/anna.pw"
chmod 600 "$W/anna.pw"
HASH=$(slappasswd -T "$W/anna.pw")
# shellcheck disable=SC2119 # no arguments: the LDIF comes on stdin
ldap_add >/dev/null <<EOF
dn: cn=import-groups,$BASE
objectClass: organizationalRole
cn: import-groups

dn: uid=anna,cn=import-groups,$BASE
objectClass: inetOrgPerson
uid: anna
cn: Anna Sekretariat
sn: Sekretariat
userPassword: $HASH

dn: cn=gym1-students,cn=import-groups,$BASE
objectClass: groupOfNames
objectClass: ucsschoolImportGroup
cn: gym1-students
member: uid=anna,cn=import-groups,$BASE
ucsschoolImportSchool: Gym1
ucsschoolImportRole: student
EOF

PIDS=()
# shellcheck disable=SC2016 # expanded at exit, on purpose
LIB_AT_EXIT+=('for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; true')

step "start a reconciler and sisopi-api"
"$B_/sisopi-reconciler" -c "$CFG" --metrics "" >"$W/reconciler.log" 2>&1 &
PIDS+=($!)
# The api's own copy of the stack's configuration, with its state in the test's directory and
# any free port (logged as api_listening).
# It generates first passwords (import.initial_password), so the page offers passwords.csv.
API_CFG=$W/api.cfg
sed -e 's/^  tolerate_errors = 0;/&\n  initial_password = "generated";/' "$CFG" >"$API_CFG"
grep -q 'initial_password = "generated"' "$API_CFG" || fail "could not write $API_CFG"
if ! grep -q '^api[[:space:]]*[=:]' "$API_CFG"; then
    printf '\napi = {\n  state_dir = "%s";\n};\n' "$W/api" >>"$API_CFG"
fi
"$B_/sisopi-api" -c "$API_CFG" --listen 127.0.0.1:0 >"$W/api.log" 2>&1 &
API_PID=$!
PIDS+=("$API_PID")
printf '%s\n' "$API_PID" >"$W/api.pid"
# A restarted sisopi-api (restart-api.sh) is no child of this shell: stopped by its pid file,
# and awaited (bounded) before the stack goes away.
stop_restarted_api() {
    local p i
    p=$(cat "$W/api.pid") || return 0
    kill -TERM "$p" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        proc_alive "$p" || return 0
        sleep 0.1
    done
    printf '%s: sisopi-api %s still runs after 10 s\n' "$TEST_NAME" "$p" >&2
}
LIB_AT_EXIT+=(stop_restarted_api)
api_port() { sed -n 's/.*api_listening .*port=\([0-9]*\).*/\1/p' "$W/api.log" | tail -n 1; }
has_api_port() { proc_alive "$API_PID" && [[ -n $(api_port) ]]; }
wait_for 30 "sisopi-api logs its port" has_api_port
PORT=$(api_port)
URL=http://127.0.0.1:$PORT/
api_healthy() { [[ $(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "${URL}healthz") == 200 ]]; }
wait_for 30 "sisopi-api healthy" api_healthy

# restart-api.sh: what drive.py runs to end every session (tokens live in the process only):
# sisopi-api stopped and started again on the same address, bounded waits both ways.
cat >"$W/restart-api.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
old=\$(cat "$W/api.pid")
kill -TERM "\$old"
gone() { local s; s=\$(awk '{print \$3}' "/proc/\$old/stat" 2>/dev/null) || return 0; [[ \$s == Z ]]; }
for _ in \$(seq 100); do gone && break; sleep 0.1; done
gone || { echo "restart-api.sh: sisopi-api \$old did not stop" >&2; exit 1; }
"$B_/sisopi-api" -c "$API_CFG" --listen 127.0.0.1:$PORT >>"$W/api.log" 2>&1 &
echo \$! >"$W/api.pid"
for _ in \$(seq 150); do
    curl -fsS -o /dev/null --max-time 2 "${URL}healthz" && exit 0
    sleep 0.2
done
echo "restart-api.sh: sisopi-api not healthy again on $URL" >&2
exit 1
EOF
chmod +x "$W/restart-api.sh"

step "the page and its assets as the browser gets them"
headers=$(curl -sS --max-time 5 -D - -o "$W/index.html" "$URL")
assert_contains "$headers" "Content-Security-Policy: default-src 'self'" "the page's CSP"
cmp -s "$W/index.html" "$SISOPI_SRC/services/api/web/index.html" ||
    fail "GET / is not services/api/web/index.html"
for f in app.js app.css; do
    curl -fsS --max-time 5 -o "$W/$f" "${URL}static/$f" || fail "GET /static/$f"
    cmp -s "$W/$f" "$SISOPI_SRC/services/api/web/$f" || fail "/static/$f differs from the source"
done

step "an export of three students"
printf '%s\n' "record_uid,firstname,lastname,school,classes" \
    "WB1,Ada,Lovelace,Gym1,5a" "WB2,Alan,Turing,Gym1,5a" "WB3,Grace,Hopper,Gym1,5b" \
    >"$W/gym1-students.csv"
# Two of the three: one of three would lose Gym1, more than the guard's 20 %.
head -n 3 "$W/gym1-students.csv" >"$W/gym1-two.csv"
# Markup in a file's name and in a cell: the page must show it as text (drive.py checks that
# no element with these ids appears).
HOSTILE="$W/<img src=x id=pwned>.csv"
printf '%s\n' "record_uid,firstname,lastname,school,classes,email" \
    "WX1,Eve,Evil,Gym1,5a,<img src=x id=pwned-row>" >"$HOSTILE"

step "drive the page in Chromium"
run "$PY" "$HERE/drive.py" --url "$URL" --user anna --password-file "$W/anna.pw" \
    --school Gym1 --role student --csv "$W/gym1-students.csv" --expect created=3 \
    --passwords --guard-csv "$W/gym1-two.csv" --guard-text "1 of 3" --guard-start \
    --restart-cmd "$W/restart-api.sh" \
    --hostile-csv "$HOSTILE" --artifacts "$ART" --downloads "$W/downloads" --result "$W/result.json" \
    --chromium "$CHROMIUM" --chromedriver "$CHROMEDRIVER" --import-timeout 180
printf '%s\n' "$OUT"
case $RC in
0) ;;
2) fail "Chromium could not be started or driven (see $ART/chromedriver.log)" ;;
*) fail "the page did not behave (exit $RC); screenshots in $ART" ;;
esac
IID=$(jq -r '.import_id // empty' "$W/result.json")
DRY=$(jq -r '.dry_run_id // empty' "$W/result.json")
SUMMARY=$(jq -r '.summary // empty' "$W/result.json")
[[ -n $IID && -n $DRY && -f $SUMMARY ]] || fail "drive.py's result is incomplete: $(cat "$W/result.json")"

step "the accounts are in Gym1; the held import took nobody away"
[[ -n $(jq -r '.held_id // empty' "$W/result.json") ]] || fail "drive.py saw no held import"
for r in WB1 WB2 WB3; do
    [[ -n $(ldap_dns -b "ou=Gym1,$BASE" "(ucsschoolRecordUID=$r)") ]] ||
        fail "no account for $r in ou=Gym1 after the import finished (and one was held)"
done

step "the downloaded summary is the audit's report of the import"
"$B_/sisopi-audit" -c "$CFG" report "$IID" --csv >"$W/want.csv" 2>"$W/audit.err" ||
    fail "sisopi-audit report $IID --csv: $(cat "$W/audit.err")"
cmp "$W/want.csv" "$SUMMARY" || fail "the downloaded summary differs from sisopi-audit report --csv"
assert_eq 4 "$(wc -l <"$SUMMARY")" "lines of the summary (a header and three rows)"
for r in WB1 WB2 WB3; do
    assert_eq 1 "$(grep -c "^\"[0-9]*\",\"1\",\"0\",\"A\",\"student\",.*,\"$r\",\"\"" "$SUMMARY")" \
        "the summary's row of $r: line, success, action A (created), role student"
done

step "the downloaded first passwords bind and are in no log"
PASSWORDS=$(jq -r '.passwords // empty' "$W/result.json")
[[ -f $PASSWORDS ]] || fail "drive.py downloaded no passwords.csv"
assert_eq 4 "$(wc -l <"$PASSWORDS")" "lines of passwords.csv (a header and three accounts)"
IFS=, read -r pu pp _ < <(sed -n '2p' "$PASSWORDS" | tr -d '"\r')
pdn=$(ldap_dns -b "$BASE" "(uid=$pu)")
[[ -n $pdn && -n $pp ]] || fail "passwords.csv's first row names no account: $(sed -n 2p "$PASSWORDS")"
printf '%s' "$pp" >"$W/first.pw"
assert_ok "the first password of $pu binds" ldapwhoami -x -H "$STACK_URI" -D "$pdn" -y "$W/first.pw"
assert_not_contains "$(cat "$W/api.log" "$W/reconciler.log")" "$pp" "a first password in a log"

step "the dry run's job is a finished dry run of the same file"
# The password goes to curl on stdin, never on a command line.
TOKEN=$(jq -n --rawfile p "$W/anna.pw" '{username: "anna", password: $p}' |
    curl -fsS --max-time 5 -H 'Content-Type: application/json' --data-binary @- \
        "${URL}api/v1/token" | jq -r .token)
[[ -n $TOKEN && $TOKEN != null ]] || fail "no token for anna"
curl -fsS --max-time 5 -H "Authorization: Bearer $TOKEN" \
    "${URL}api/v1/imports/users/$DRY" -o "$W/dry.json" || fail "GET the dry run's job"
assert_eq "true finished gym1-students.csv 3" \
    "$(jq -r '[.dryrun, .status, .filename, .counts.created] | map(tostring) | join(" ")' "$W/dry.json")" \
    "the dry run's job"

printf '%s: screenshots:\n' "$TEST_NAME"
for f in "$ART"/*.png; do printf '  %s\n' "$f"; done
