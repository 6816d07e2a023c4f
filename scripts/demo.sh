#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, starts the local stack (slapd +
# dev broker in ./.stack), imports the sample schools, shows what went to Kafka, reconciles,
# and shows the directory, the audit's answers and the purges to come.
#   scripts/demo.sh          run it (the stack keeps running afterwards, for you to explore)
#   scripts/demo.sh stop     stop the stack
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SISOPI_BUILD:-$PWD/build}
STACK=${SISOPI_STACK_DIR:-$PWD/.stack}

if [ "${1:-}" = stop ]; then
    exec deploy/stack.sh stop --dir "$STACK"
fi

deploy/install-deps.sh
echo "== build in $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

echo "== local stack in $STACK"
deploy/stack.sh stop --dir "$STACK" >/dev/null 2>&1 || true
deploy/stack.sh start --dir "$STACK" --build "$BUILD" --schools "Gym1 Schule2"
CFG=$STACK/sisopi.cfg
BOOTSTRAP=$(cat "$STACK/bootstrap")

echo
echo "== sisopi-ingest: school Gym1, role student"
"$BUILD/services/sisopi-ingest" -c "$CFG" --school Gym1 --role student examples/Gym1-student.csv

echo
echo "== sisopi-ingest: a bad file is refused, line by line, and publishes nothing"
set +e
"$BUILD/services/sisopi-ingest" -c "$CFG" --school Gym1 --role student examples/bad-student.csv
echo "(exit status $?)"
set -e

echo
echo "== kcat: the messages on sisopi.users (partition, offset, key, size)"
kcat -C -b "$BOOTSTRAP" -t sisopi.users -e -q -f 'partition %p offset %o key %k (%S bytes)\n' | sort -n -k2 -k4

echo
echo "== sisopi-audit dump: the same messages decoded"
"$BUILD/services/sisopi-audit" -c "$CFG" dump --topic users

echo
echo "== more imports: Gym1's teachers, and Schule2 (S-1003 is listed by both schools)"
"$BUILD/services/sisopi-ingest" -c "$CFG" -q --school Gym1 --role teacher examples/Gym1-teacher.csv | head -1
"$BUILD/services/sisopi-ingest" -c "$CFG" -q --school Schule2 --role student examples/Schule2-student.csv | head -1

echo
echo "== sisopi-reconciler --until-idle: the directory follows the imports"
"$BUILD/services/sisopi-reconciler" -c "$CFG" --until-idle 2>&1 | grep -E 'summary|rejected|error' || true

URI=$(sed -n 's/^ *uri = "\(.*\)";/\1/p' "$CFG")
BASE=$(sed -n 's/^ *base = "\(.*\)";/\1/p' "$CFG")
echo
echo "== the accounts (uid, schools, DN)"
ldapsearch -x -LLL -o ldif-wrap=no -H "$URI" -D "cn=admin,$BASE" -y "$STACK/ldap.secret" -b "$BASE" \
    '(ucsschoolRecordUID=*)' uid ucsschoolSchool | grep -E '^(dn|uid|ucsschoolSchool):'
echo
echo "== the events on sisopi.events"
"$BUILD/services/sisopi-audit" -c "$CFG" dump --topic events 2>/dev/null |
    jq -r 'select(.event.record_uid != null) | "\(.event.type)\t\(.event.record_uid)\t\(.event.dn_after)"'

echo
echo "== sisopi-audit imports: every import, its counts and state"
"$BUILD/services/sisopi-audit" -c "$CFG" imports 2>/dev/null

echo
echo "== sisopi-audit history S-1003: one person listed by two schools"
"$BUILD/services/sisopi-audit" -c "$CFG" history S-1003 2>/dev/null

echo
echo "== sisopi-audit verify: does the directory match the topics?"
"$BUILD/services/sisopi-audit" -c "$CFG" verify 2>/dev/null

echo
echo "== sisopi-admin school list: the schools (the stack made them with sisopi-admin school create)"
"$BUILD/services/sisopi-admin" -c "$CFG" school list 2>/dev/null

echo
echo "== purges: sisopi-admin purge list, then sisopi-scheduler --once"
"$BUILD/services/sisopi-admin" -c "$CFG" purge list 2>/dev/null
"$BUILD/services/sisopi-scheduler" -c "$CFG" --once 2>/dev/null

echo
echo "The stack keeps running: export SISOPI_CONFIG=$CFG, and 'scripts/demo.sh stop' when done."
