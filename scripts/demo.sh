#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, starts the local stack (slapd +
# dev broker in ./.stack) and a reconciler, then walks one person, Zeynep Yılmaz (S-1003),
# through what sisopi is for, printing the directory's view after each step:
#   1. two schools list her: one account, both schools
#   2. Gym1 drops her: only Gym1 is taken away, her account moves to Schule2
#   3. Schule2, her last school, drops her: limbo, deactivated, a purge date
#   4. Schule3 lists her: the same account comes back
#   5. Schule3 drops her again, the short grace period passes: the purge deletes her
#   6. starts sisopi-api, the HTTP import, and prints its web page's address
# The stack keeps running afterwards, for you to explore.
#   scripts/demo.sh          run it
#   scripts/demo.sh stop     stop the reconciler, sisopi-api and the stack, saying what was stopped
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SISOPI_BUILD:-$PWD/build}
STACK=${SISOPI_STACK_DIR:-$PWD/.stack}
B=$BUILD/services
GRACE=10 # seconds in limbo before the purge (90 days in the example config)

stop_reconciler() {
    local pid
    pid=$(cat "$STACK/demo-reconciler.pid" 2>/dev/null) || return 0
    rm -f "$STACK/demo-reconciler.pid"
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        echo "demo: stopped sisopi-reconciler (pid $pid)"
    fi
}

stop_api() {
    local pid
    pid=$(cat "$STACK/demo-api.pid" 2>/dev/null) || return 0
    rm -f "$STACK/demo-api.pid"
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        echo "demo: stopped sisopi-api (pid $pid)"
    fi
}

if [ "${1:-}" = stop ]; then
    stop_reconciler
    stop_api
    deploy/stack.sh stop --dir "$STACK"
    echo "demo: stopped the stack in $STACK (slapd and the dev broker)"
    exit 0
fi

deploy/install-deps.sh
echo "== build in $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

echo "== local stack in $STACK"
stop_reconciler
stop_api
deploy/stack.sh stop --dir "$STACK" >/dev/null 2>&1 || true
deploy/stack.sh start --dir "$STACK" --build "$BUILD" --schools "Gym1 Schule2 Schule3"
# The demo's own settings: a grace period of seconds, and a deletion guard that lets a school
# drop one of its few persons (an import that drops more than 20 % is held otherwise).
CFG=$STACK/demo.cfg
sed -e "s/deletion_grace_period = \"90d\";/deletion_grace_period = \"${GRACE}s\";\n  deletion_guard: { max_ratio = 1.0; max_count = 500; };/" \
    "$STACK/sisopi.cfg" >"$CFG"
grep -q "\"${GRACE}s\"" "$CFG" || { echo "demo: could not set the grace period in $CFG" >&2; exit 1; }
URI=$(sed -n 's/^ *uri = "\(.*\)";/\1/p' "$CFG")
BASE=$(sed -n 's/^ *base = "\(.*\)";/\1/p' "$CFG")
ldap() { ldapsearch -x -LLL -o ldif-wrap=no -H "$URI" -D "cn=admin,$BASE" -y "$STACK/ldap.secret" "$@"; }

"$B/sisopi-reconciler" -c "$CFG" >"$STACK/demo-reconciler.log" 2>&1 &
echo $! >"$STACK/demo-reconciler.pid"
echo "sisopi-reconciler running (pid $!, log $STACK/demo-reconciler.log)"

# import SCHOOL FILE: publishes the file and waits (--wait) until the reconciler has applied
# it; prints the outcome lines.
import() {
    echo "\$ sisopi-ingest --school $1 --role student --wait $(basename "$2")"
    "$B/sisopi-ingest" -c "$CFG" -q --school "$1" --role student --wait --timeout 2m "$2" \
        2>>"$STACK/demo-ingest.log" | grep -E '^(outcome|changes|guard):' | sed 's/^/  /'
}

# show: the directory's view of S-1003, in words.
show() {
    local entry uid dn
    entry=$(ldap -b "$BASE" '(ucsschoolRecordUID=S-1003)' uid entryUUID ucsschoolSchool \
        shadowExpire ucsschoolPurgeTimestamp pwdAccountLockedTime 2>/dev/null)
    echo "  the directory now:"
    if [ -z "$entry" ]; then
        echo "  account:   none for S-1003 (deleted)"
        return
    fi
    uid=$(sed -n 's/^uid: //p' <<<"$entry")
    dn=$(sed -n 's/^dn: //p' <<<"$entry")
    printf '  account:   %s (entryUUID %s)\n' "$uid" "$(sed -n 's/^entryUUID: //p' <<<"$entry")"
    printf '  DN:        %s\n' "$dn"
    printf '  schools:   %s\n' "$(sed -n 's/^ucsschoolSchool: //p' <<<"$entry" | paste -sd' ' -)"
    printf '  groups:    %s\n' "$(ldap -b "$BASE" "(memberUid=$uid)" cn 2>/dev/null |
        sed -n 's/^cn: //p' | sort | paste -sd',' - | sed 's/,/, /g')"
    if grep -q '^pwdAccountLockedTime:' <<<"$entry"; then
        printf '  state:     deactivated, purge date %s\n' \
            "$(sed -n 's/^ucsschoolPurgeTimestamp: //p' <<<"$entry")"
    else
        printf '  state:     active\n'
    fi
}

csv() { # FILE ROW...: a file of a school's students
    local f=$STACK/$1
    shift
    printf '%s\n' "record_uid,firstname,lastname,school,classes" "$@" >"$f"
    printf '%s' "$f"
}
ZEYNEP="S-1003,Zeynep,Yılmaz"

echo
echo "== 1. Gym1 (class 5b) and Schule2 (class 7c) list Zeynep: one account, both schools"
import Gym1 "$(csv gym1.csv "S-1001,Anna,Bohnenkämper,Gym1,5a" "$ZEYNEP,Gym1,5b")"
import Schule2 "$(csv schule2.csv "S-2001,Ömer,Kaya,Schule2,7c" "$ZEYNEP,Schule2,7c")"
show

echo
echo "== 2. Gym1 drops her: only Gym1 is taken away; her account moves to Schule2"
import Gym1 "$(csv gym1-b.csv "S-1001,Anna,Bohnenkämper,Gym1,5a")"
show

echo
echo "== 3. Schule2, her last school, drops her: limbo, deactivated, purge date in ${GRACE} s"
import Schule2 "$(csv schule2-b.csv "S-2001,Ömer,Kaya,Schule2,7c")"
show

echo
echo "== 4. Schule3 lists her: the same account (same uid, same entryUUID) is back"
import Schule3 "$(csv schule3.csv "S-3001,Lea,Lang,Schule3,8a" "$ZEYNEP,Schule3,8a")"
show

echo
echo "== 5. Schule3 drops her again; once the grace period has passed, the scheduler orders"
echo "==    the purge and the reconciler deletes the account"
import Schule3 "$(csv schule3-b.csv "S-3001,Lea,Lang,Schule3,8a")"
show
purge=$(ldap -b "$BASE" '(ucsschoolRecordUID=S-1003)' ucsschoolPurgeTimestamp 2>/dev/null |
    sed -n 's/^ucsschoolPurgeTimestamp: //p')
echo "  waiting for the purge date ($purge) ..."
due=$(date -u -d "$(sed -E 's/^(....)(..)(..)(..)(..)(..)Z$/\1-\2-\3 \4:\5:\6 UTC/' <<<"$purge")" +%s)
for _ in $(seq 1 $((GRACE * 2 + 20))); do (($(date +%s) > due)) && break; sleep 0.5; done
echo "\$ sisopi-scheduler --once"
"$B/sisopi-scheduler" -c "$CFG" --once 2>/dev/null | sed 's/^/  /'
for _ in $(seq 1 60); do
    [ -z "$(ldap -b "$BASE" '(ucsschoolRecordUID=S-1003)' 1.1 2>/dev/null)" ] && break
    sleep 0.5
done
show

echo
echo "== what happened to her, from the topics (sisopi-audit history S-1003)"
"$B/sisopi-audit" -c "$CFG" history S-1003 2>/dev/null |
    awk '/^20/ { $1 = substr($1, 12, 8) } { print "  " $0 }' | cut -c1-150

# The HTTP import: an office account of Gym1 and Schule2 (its password in a file only), an
# import group granting it students and teachers there, and sisopi-api on any free port.
API_PW=$STACK/demo-api.password
(umask 077 && od -An -tx1 -N9 /dev/urandom | tr -d ' \n' >"$API_PW")
{
    printf 'dn: uid=sekretariat,ou=Gym1,%s\nobjectClass: inetOrgPerson\nuid: sekretariat\n' "$BASE"
    printf 'cn: Sekretariat\nsn: Sekretariat\nuserPassword: %s\n\n' "$(cat "$API_PW")"
    printf 'dn: cn=import-office,ou=Gym1,%s\nobjectClass: groupOfNames\n' "$BASE"
    printf 'objectClass: ucsschoolImportGroup\ncn: import-office\n'
    printf 'member: uid=sekretariat,ou=Gym1,%s\nucsschoolImportSchool: Gym1\n' "$BASE"
    printf 'ucsschoolImportSchool: Schule2\nucsschoolImportRole: student\nucsschoolImportRole: teacher\n'
} | ldapadd -x -H "$URI" -D "cn=admin,$BASE" -y "$STACK/ldap.secret" >/dev/null
printf 'api:\n{\n  listen = "127.0.0.1:0";\n  state_dir = "%s/api-state";\n};\n' "$STACK" >>"$CFG"
"$B/sisopi-api" -c "$CFG" >"$STACK/demo-api.log" 2>&1 &
echo $! >"$STACK/demo-api.pid"
for _ in $(seq 1 100); do grep -q api_listening "$STACK/demo-api.log" && break; sleep 0.1; done
API_PORT=$(sed -n 's/.*api_listening.* port=\([0-9]*\).*/\1/p' "$STACK/demo-api.log")

cat <<EOM

The web page (the HTTP import): http://127.0.0.1:${API_PORT:-?}/
  log in as sekretariat, password in $API_PW (Gym1 and Schule2: students and
  teachers; upload examples/Gym1-student.csv, look at the dry run, start it)

The stack, the reconciler and sisopi-api keep running. To look further:
  export SISOPI_CONFIG=$CFG
  $B/sisopi-audit imports             every import, its counts and state
  $B/sisopi-audit history S-2001      another person
  $B/sisopi-admin school list         the schools and their accounts
  $B/sisopi-ingest --school Gym1 --role student --dry-run examples/Gym1-student.csv
  man -l $BUILD/man/sisopi-ingest.1    the programs' manuals; README.md, docs/
  scripts/demo.sh stop                stops the reconciler, sisopi-api and the stack
EOM
