#!/usr/bin/env bash
# The integrators' examples (examples/producer, examples/consumer), which know only schemas/
# and Debian's python3-avro and python3-confluent-kafka, against the devbroker and a real
# slapd: the producer's import is what sisopi's own decoder expects (framing, fingerprint, keys,
# murmur2 partitions, one end marker per partition with its count), the reconciler applies it
# (accounts in the directory, the import completed on every partition), and the consumer
# prints the resulting events. A second import that leaves a person out, with no guard
# decision on its markers, is held by that partition's own check until a release. The consumer
# reports a message framed with python3-avro's own fingerprint instead of skipping it.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
PART=$SISOPI_BUILD/tests/sisopi_partition
PRODUCE=$SISOPI_SRC/examples/producer/sisopi_produce.py
EVENTS=$SISOPI_SRC/examples/consumer/sisopi_events.py
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"

# Debian's python3 holds the two packages; a python3 earlier in PATH may not have them.
PY=""
for c in /usr/bin/python3 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import avro.schema, confluent_kafka' 2>/dev/null; then
        PY=$(command -v "$c")
        break
    fi
done
[[ -n $PY ]] || fail "no python3 with python3-avro and python3-confluent-kafka (deploy/install-deps.sh --test-tools)"

step "start the stack with a school made by sisopi-admin school create"
start_stack --schools "ExA"
CFG=$STACK_DIR/sisopi.cfg
W=$STACK_DIR/work
mkdir -p "$W"
BS=$STACK_BOOTSTRAP
export PYTHONDONTWRITEBYTECODE=1 # nothing written into the source tree

produce() { # ARGS...: runs the example producer, sets IID
    run timeout 120 "$PY" "$PRODUCE" -b "$BS" --school ExA --role student --source-uid sisopi-demo "$@"
    ((RC == 0)) || fail "sisopi_produce.py failed ($RC): $OUT"
    IID=$(sed -n 's/^import_id: *//p' <<<"$OUT")
    [[ -n $IID ]] || fail "no import_id in: $OUT"
}
reconcile() {
    run timeout 180 "$B_/sisopi-reconciler" -c "$CFG" --until-idle --idle-open 3
    ((RC == 0)) || fail "reconciler failed ($RC): $OUT"
}
dump() { "$B_/sisopi-audit" -c "$CFG" dump --topic "$1" 2>/dev/null; }
consume() { # the example consumer's lines; RC its exit status
    run timeout 120 "$PY" "$EVENTS" -b "$BS" --idle 20
}
of_import() { # TYPE IMPORT_ID: the partitions (input) of the consumer's summary lines, sorted
    awk -v t="$1" -v id="import_id=$2" '$3 == t && index($0, id) { print }' <<<"$OUT" |
        sed -n 's/.*input=sisopi\.users\[\([0-9]*\)\].*/\1/p' | sort -n | xargs
}
ALL=$(seq 0 11 | xargs)

step "1. the producer publishes an import of one school and one role"
printf '%s\n' "record_uid,firstname,lastname,school,classes,email,birthday" \
    'X-1,Anna,Äpfel,ExA,"5a,AG",,2014-03-09' "X-2,Bo,Berg,ExA,5b,bo@example.org," >"$W/exa.csv"
produce --csv "$W/exa.csv" --person "X-3,Cem,Can,5a"
IID1=$IID
assert_contains "$OUT" "published: 3 records and 12 end markers to sisopi.users" "producer summary"

step "1. sisopi's decoder reads it: keys, murmur2 partitions, fields"
D=$(dump users | jq -c -s 'sort_by(.partition, .offset) | .[]')
recs=$(jq -c 'select(.message.type=="UserRecord")' <<<"$D")
assert_eq "X-1 X-2 X-3" "$(jq -r .key <<<"$recs" | sort | xargs)" "one UserRecord per person, keyed by record_uid"
while IFS=$'\t' read -r key part uid iid; do
    assert_eq "$uid" "$key" "key of $uid"
    assert_eq "$("$PART" 12 "$key")" "$part" "partition of $key (murmur2)"
    assert_eq "$IID1" "$iid" "import_id of $key"
done < <(jq -r '[.key, .partition, .message.record_uid, .message.import_id] | @tsv' <<<"$recs")
r=$(jq -c 'select(.key=="X-1") | .message' <<<"$recs")
assert_eq '"Äpfel"' "$(jq .lastname <<<"$r")" "UTF-8 lastname"
assert_eq '["ExA-5a","ExA-AG"]' "$(jq -c .classes <<<"$r")" "classes with the school prefix, sorted"
assert_eq '"2014-03-09"' "$(jq .birthday <<<"$r")" "birthday"
assert_eq null "$(jq .password_hash <<<"$r")" "no password in the topic"
assert_eq '"bo@example.org"' "$(jq -c 'select(.key=="X-2") | .message.email' <<<"$recs")" "email"

step "1. one end marker per partition, with that partition's count"
ends=$(jq -c 'select(.message.type=="ImportEnd")' <<<"$D")
assert_eq "$ALL" "$(jq -r .partition <<<"$ends" | sort -n | xargs)" "a marker in every partition"
for p in $(seq 0 11); do
    e=$(jq -c "select(.partition==$p)" <<<"$ends")
    assert_eq "$IID1" "$(jq -r .key <<<"$e")" "marker $p keyed by the import_id"
    assert_eq "$(jq -r "select(.partition==$p) | .key" <<<"$recs" | wc -l)" "$(jq .message.record_count <<<"$e")" "record_count of partition $p"
    first=$(jq -r "select(.partition==$p) | .offset" <<<"$recs" | head -n 1)
    assert_eq "${first:--1}" "$(jq .message.first_offset <<<"$e")" "first_offset of partition $p"
    assert_eq "$p 12 3 null" "$(jq -r '.message | "\(.partition) \(.partition_count) \(.total_records) \(.guard)"' <<<"$e")" "marker $p"
    last_rec=$(jq -r "select(.partition==$p) | .offset" <<<"$recs" | tail -n 1)
    [[ -z $last_rec || $last_rec -lt $(jq .offset <<<"$e") ]] || fail "marker of partition $p precedes a record"
done

step "1. the reconciler applies it: the accounts exist, the import completes everywhere"
reconcile
assert_eq 0 "$(dump dlq | wc -l)" "nothing dead-lettered"
for uid in X-1 X-2 X-3; do
    dn=$(ldap_dns -b "ou=ExA,$STACK_BASE" "(ucsschoolRecordUID=$uid)")
    [[ $dn == uid=*,cn=schueler,cn=users,ou=ExA,$STACK_BASE ]] || fail "no account of $uid in ExA: '$dn'"
done
assert_eq "A.Aepfel" "$(ldap_attr "uid=A.Aepfel,cn=schueler,cn=users,ou=ExA,$STACK_BASE" uid)" "username from the naming scheme"
assert_eq "Äpfel" "$(ldap_attr "uid=A.Aepfel,cn=schueler,cn=users,ou=ExA,$STACK_BASE" sn)" "sn"

step "1. the consumer prints the events: Created for each person, ImportCompleted everywhere"
consume
((RC == 0)) || fail "sisopi_events.py failed ($RC): $OUT"
assert_eq "$(dump events | wc -l)" "$(wc -l <<<"$OUT")" "one line per event on the topic"
assert_eq "X-1 X-2 X-3" "$(awk '$3 == "Created" { print $4 }' <<<"$OUT" | sort | xargs)" "Created events"
created=$(awk '$3 == "Created" && $4 == "X-1"' <<<"$OUT")
assert_contains "$created" "school=ExA  role=student  import_id=$IID1" "Created X-1: school, role, import"
assert_contains "$created" "dn: (none) -> uid=A.Aepfel,cn=schueler,cn=users,ou=ExA,$STACK_BASE" "Created X-1: its DN"
assert_contains "$created" "input=sisopi.users[$("$PART" 12 X-1)]@" "Created X-1: the input's position"
assert_eq "$ALL" "$(of_import ImportCompleted "$IID1")" "ImportCompleted on every partition"

step "2. an import without X-3, no guard decision: X-3's partition holds it alone"
produce --person "X-1,Anna,Äpfel,5a,AG" --person "X-2,Bo,Berg,5b"
IID2=$IID
reconcile
P3=$("$PART" 12 X-3)
consume
((RC == 0)) || fail "sisopi_events.py failed ($RC): $OUT"
assert_eq "$P3" "$(of_import ImportHeld "$IID2")" "held where X-3 is (1 of its 1 members)"
assert_eq "$(seq 0 11 | grep -vx "$P3" | xargs)" "$(of_import ImportCompleted "$IID2")" "completed elsewhere"
assert_eq 1 "$(ldap_dns -b "ou=ExA,$STACK_BASE" "(ucsschoolRecordUID=X-3)" | wc -l)" "X-3 still in ExA"

step "2. released: X-3 goes to limbo, and the consumer shows it"
assert_rc 0 "release" "$B_/sisopi-admin" -c "$CFG" release "$IID2"
reconcile
assert_eq 1 "$(ldap_dns -b "ou=limbo,$STACK_BASE" "(ucsschoolRecordUID=X-3)" | wc -l)" "X-3 in limbo"
consume
((RC == 0)) || fail "sisopi_events.py failed ($RC): $OUT"
assert_eq "$P3" "$(of_import ImportReleased "$IID2")" "released where it was held"
assert_eq "X-3" "$(awk -v id="import_id=$IID2" '$3 == "MovedToLimbo" && index($0, id) { print $4 }' <<<"$OUT" | xargs)" "MovedToLimbo X-3"

step "3. a message framed with python3-avro's own fingerprint is reported, not skipped"
# c3 01, then 86fbdad7f8e20dbd (events.v1 as python3-avro 1.11.1 fingerprints it) little-endian
printf '\xc3\x01\xbd\x0d\xe2\xf8\xd7\xda\xfb\x86\x00' >"$W/bad.bin"
assert_ok "kcat -P" kcat -P -b "$BS" -t sisopi.events -p 0 -k bad "$W/bad.bin"
consume
assert_eq 2 "$RC" "exit status with an undecodable message"$'\n'"$OUT"
assert_contains "$OUT" "UNDECODABLE  unknown schema fingerprint 86fbdad7f8e20dbd" "the bad message named"
assert_contains "$OUT" "1 messages could not be decoded" "summary on stderr"
assert_eq "X-1 X-2 X-3" "$(awk '$3 == "Created" { print $4 }' <<<"$OUT" | sort | xargs)" "the good ones still printed"
