#!/usr/bin/env bash
# Poison on sisopi.users: messages no reconciler may apply, written between
# real imports, with a reconciler running over them. Each one that cannot be decoded or breaks
# the message contract must land on sisopi.users.dlq unchanged, with headers that say why and
# where it came from; a valid message that breaks a rule of the directory is refused with a
# Rejected event (a purge order that does not fit is skipped and counted). Processing goes on:
# every partition holds a real record after its poison, and each of them is applied. Nothing
# else changes: a full dump of the directory before and after is equal except for what the real
# import changed, and that is checked value by value. The reconciler's summary counts agree.
#
#   1. baseline: SchA students (one per partition), SchB teachers, one student in limbo
#   2. poison (below), then a real import of SchA, one reconciler run over all of it
#   3. checks: DLQ entries (reason, origin, value unchanged), the Rejected event, the summary,
#      the real import applied in every partition, the directory otherwise unchanged
#   4. misplaced messages (no key, a key other than the record_uid), a gigantic but decodable
#      record, a purge order for nobody: what the reconciler must do with them
#   5. a client with security.protocol=ssl against the plaintext dev broker fails clearly
#
# Poison in step 2 (15 to the DLQ, 1 rejected, 2 purge orders skipped): random bytes, an empty
# value, an unknown schema fingerprint, the fingerprint of events.v1, a truncated and an
# overlong body, a role index out of range, an empty record_uid, a record_uid with a control
# character, a first name with a terminal escape, a school outside [A-Za-z0-9_-], a school
# named like the limbo OU (other case), an empty first name, an ImportEnd with a negative
# count, 3 MiB of random bytes (above the DLQ producer's message.max.bytes: dead-lettered
# without the value), a teacher listed as a student (Rejected), PurgeDue for an active person
# and PurgeDue ahead of its date (skipped).
#
# The dev broker (librdkafka's mock cluster) keeps at most 5 MiB per partition and drops the
# oldest messages beyond that, so "gigantic" is 3 MiB here: more than the reconciler's producer
# may send (message.max.bytes 1,000,000) and than max.partition.fetch.bytes (1 MiB), which the
# consumer exceeds for a single message (KIP-74), less than fetch.max.bytes (50 MiB).
# shellcheck disable=SC2016 # the conditions given to check_case() expand when they run
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

B_=$SISOPI_BUILD/services
INJECT=$SISOPI_BUILD/tests/users_inject
PARTITION=$SISOPI_BUILD/tests/sisopi_partition
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
[[ -x $INJECT && -x $PARTITION ]] || fail "the test tools are not built in $SISOPI_BUILD"
for t in kcat jq; do command -v "$t" >/dev/null || fail "$t is not installed"; done


step "start the stack"
start_stack --schools "SchA SchB"
W=$STACK_DIR/work
mkdir -p "$W"
BASE=$STACK_BASE
NP=12
# A guard that lets the one removal per partition through; grace: one hour.
sed -e 's/deletion_grace_period = "90d";/deletion_grace_period = "1h";\n  deletion_guard: { max_ratio = 1.0; max_count = 1000; };/' \
    "$STACK_DIR/sisopi.cfg" >"$W/sisopi.cfg"
CFG=$W/sisopi.cfg
grep -q 'max_ratio = 1.0' "$CFG" || fail "could not write the test config"
grep -q "partitions = $NP;" "$CFG" || fail "the stack does not have $NP partitions"

ingest() { # SCHOOL ROLE FILE: publishes, sets IID
    run "$B_/sisopi-ingest" -c "$CFG" -q --school "$1" --role "$2" "$3"
    ((RC == 0)) || fail "ingest $1/$2 failed ($RC): $OUT"
    IID=$(sed -n 's/^import_id: *//p' <<<"$OUT")
}
# reconcile: one run until idle, bounded; ROUT: its log, SUMMARY: its summary line.
reconcile() {
    run timeout 240 "$B_/sisopi-reconciler" -c "$CFG" --until-idle --idle-open 3
    ((RC == 0)) || fail "the reconciler failed or stalled (exit $RC):"$'\n'"$(tail -n 30 <<<"$OUT")"
    ROUT=$OUT
    SUMMARY=$(grep ' summary messages=' <<<"$ROUT" | tail -n 1)
    [[ -n $SUMMARY ]] || fail "no summary from the reconciler"
}
summary_count() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$SUMMARY"; }
csv() { # FILE LINE...
    local f=$1
    shift
    printf '%s\n' "record_uid,firstname,lastname,school,classes" "$@" >"$W/$f"
}
q() { ldap_search -b "$BASE" "$@"; }
dn_of() { q "(ucsschoolRecordUID=$1)" 1.1 | sed -n 's/^dn: //p'; }
attr() { # RID ATTR: values, sorted, space-separated
    q "(ucsschoolRecordUID=$1)" "$2" | sed -n "s/^$2: //p" | sort | xargs
}
events() { "$B_/sisopi-audit" -c "$CFG" dump --topic events 2>/dev/null; }
# dlq: the dead letters, one line each: PARTITION<TAB>OFFSET<TAB>VALUE_BYTES<TAB>HEADERS.
dlq() { kcat -C -b "$STACK_BOOTSTRAP" -t sisopi.users.dlq -e -q -f '%p\t%o\t%S\t%h\n'; }
# dump FILE: every entry with its user attributes (and the lock of an account in limbo), one
# line per value, "DN<TAB>attribute: value", sorted; operational attributes left out.
dump() {
    ldap_search -b "$BASE" '(objectClass=*)' '*' pwdAccountLockedTime |
        awk '/^dn::? / { dn = $0; next } /^$/ { next } { print dn "\t" $0 }' |
        LC_ALL=C sort >"$1"
    [[ -s $1 ]] || fail "the directory dump $1 is empty"
}

# One legitimate student per partition (L<n>), so that every partition holds a real record
# after its poison; lp[P] is the record_uid of partition P.
declare -a lp=()
mapfile -t cand < <(seq -f 'L%g' 1 400)
mapfile -t cpart < <("$PARTITION" "$NP" "${cand[@]}")
for i in "${!cand[@]}"; do
    [[ -n ${lp[${cpart[$i]}]:-} ]] || lp[${cpart[$i]}]=${cand[$i]}
done
for ((p = 0; p < NP; p++)); do [[ -n ${lp[$p]:-} ]] || fail "no candidate for partition $p"; done

step "1. baseline: SchA students (one per partition) and D1, SchB teachers; D1 to limbo"
rows=()
for ((p = 0; p < NP; p++)); do rows+=("${lp[$p]},Lea,Part$p,SchA,5a"); done
csv a1.csv "${rows[@]}" "D1,Dora,Limbus,SchA,5a"
ingest SchA student "$W/a1.csv"
csv b1.csv "T1,Tim,Lehrer,SchB,7a" "T2,Tom,Lehrer,SchB,7b"
ingest SchB teacher "$W/b1.csv"
reconcile
csv a2.csv "${rows[@]}"
ingest SchA student "$W/a2.csv"
reconcile
assert_eq "limbo" "$(attr D1 ucsschoolSchool)" "D1 in limbo"
D1_TS=$(attr D1 ucsschoolPurgeTimestamp)
[[ $D1_TS =~ ^[0-9]{14}Z$ ]] || fail "D1 purge timestamp: $D1_TS"
D1_MS=$(($(date -u -d "${D1_TS:0:8} ${D1_TS:8:2}:${D1_TS:10:2}:${D1_TS:12:2}" +%s) * 1000))
for ((p = 0; p < NP; p++)); do
    [[ -n $(dn_of "${lp[$p]}") ]] || fail "${lp[$p]} was not created"
done
dump "$W/before.dump"
dlq_before=$(dlq | grep -c . || true)
# The events.v1 fingerprint, as any event carries it (bytes 2-9 of the value).
EVFP=$(kcat -C -b "$STACK_BOOTSTRAP" -t sisopi.events -p 0 -o beginning -c 1 -e -q -f '%s' |
    head -c 10 | tail -c 8 | od -An -tx1 | tr -d ' \n')
[[ ${#EVFP} == 16 ]] || fail "cannot read the events fingerprint"

step "2. poison on sisopi.users, then a real import of SchA, one reconciler run"
PI=01a1ffff-0000-7000-8000-00000000b0b0 # the poison's import_id
declare -A WHERE=() WANT=() FILEOF=()
# inject NAME WANT_REASON ARGS...: users_inject ARGS; remembers where the message went.
inject() {
    local name=$1 want=$2
    shift 2
    run "$INJECT" -c "$CFG" "$@"
    ((RC == 0)) || fail "inject $name: $OUT"
    WHERE[$name]=$(grep -E '^[0-9]+ [0-9]+$' <<<"$OUT" | tail -n 1 || true)
    [[ ${WHERE[$name]} =~ ^[0-9]+\ [0-9]+$ ]] || fail "inject $name: no partition/offset: $OUT"
    WANT[$name]=$want
}
# inject_file NAME WANT PARTITION KEY FILE: raw bytes.
inject_file() {
    FILEOF[$1]=$5
    inject "$1" "$2" raw "$3" "$4" "$5"
}
rec() { # FILE ARGS of "record": the encoded value of a record, for altering
    "$INJECT" -c "$CFG" -o "$1" record "${@:2}" || fail "encode $1"
}

head -c 300 /dev/urandom >"$W/random.bin"
inject_file random "not Avro single-object encoding" 0 junk "$W/random.bin"
: >"$W/empty.bin"
inject_file empty "message of 0 bytes is shorter than the 10-byte Avro header" 1 empty "$W/empty.bin"
rec "$W/fp.bin" "$PI" sisopi-demo SchB teacher P1 Fin Gerprint
printf '\x01\x02\x03\x04\x05\x06\x07\x08' | dd of="$W/fp.bin" bs=1 seek=2 conv=notrunc status=none
inject_file fingerprint "unknown schema fingerprint 0807060504030201" 2 P1 "$W/fp.bin"
rec "$W/evfp.bin" "$PI" sisopi-demo SchB teacher P2 Event Print
evfp_bytes=""
for ((i = 0; i < 16; i += 2)); do evfp_bytes+="\\x${EVFP:i:2}"; done
printf '%b' "$evfp_bytes" | dd of="$W/evfp.bin" bs=1 seek=2 conv=notrunc status=none
inject_file events-fingerprint "is events v1, not a users schema" 3 P2 "$W/evfp.bin"
rec "$W/full.bin" "$PI" sisopi-demo SchB teacher P3 Trun Cated
head -c -4 "$W/full.bin" >"$W/truncated.bin"
inject_file truncated "truncated" 4 P3 "$W/truncated.bin"
{ cat "$W/full.bin" && printf 'MORE'; } >"$W/trailing.bin"
inject_file trailing "4 trailing bytes after the users v2 body" 5 P3 "$W/trailing.bin"
inject bad-role "enum index 9 out of range" record "$PI" sisopi-demo SchB '#9' P4 Bad Role
inject empty-uid "UserRecord.record_uid is empty" record "$PI" sisopi-demo SchB teacher '' Empty Uid
inject control-uid "UserRecord.record_uid has the control character U+0001" \
    record "$PI" sisopi-demo SchB teacher $'P5\x01x' Ctl Uid
inject escape-name "UserRecord.firstname has the control character U+001B" \
    record "$PI" sisopi-demo SchB teacher P6 $'\e[31mRed' Escape
inject bad-school "school is not a valid school name" \
    record "$PI" sisopi-demo 'Sch B' teacher P7 Bad School
inject limbo-school "school is the limbo OU" record "$PI" sisopi-demo LIMBO teacher P8 Limbo School
inject empty-name "empty firstname or lastname" record "$PI" sisopi-demo SchB teacher P9 '' Noname
# Were it taken for a complete import of SchB's teachers, T1 and T2 would go to limbo.
inject negative-count "ImportEnd.record_count -1 is negative" \
    end 6 "$PI" sisopi-demo SchB teacher -1
head -c $((3 * 1024 * 1024)) /dev/urandom >"$W/gigantic.bin"
inject_file gigantic "not Avro single-object encoding" 7 gigantic "$W/gigantic.bin"
N_DLQ=${#WANT[@]}
# Valid, but refused by a rule: the role of a person never changes.
inject role-change "" record "$PI" sisopi-demo SchB student T1 Tim Lehrer
# Valid purge orders that do not fit: skipped and counted, nothing deleted.
inject purge-active "" purge "${lp[0]}" "$(($(date +%s) * 1000))"
inject purge-early "" purge D1 "$D1_MS"
unset 'WANT[role-change]' 'WANT[purge-active]' 'WANT[purge-early]'
poison_parts=$(for n in "${!WHERE[@]}"; do echo "${WHERE[$n]% *}"; done | sort -un | xargs)
printf '  %d poison messages in partitions %s\n' $((N_DLQ + 3)) "$poison_parts"

# The real import after the poison: every L gets class 6a, except the one of partition 0, who
# is dropped (to limbo); NEW1 is created.
rows=()
for ((p = 1; p < NP; p++)); do rows+=("${lp[$p]},Lea,Part$p,SchA,6a"); done
csv a3.csv "${rows[@]}" "NEW1,Nina,Neu,SchA,6a"
ingest SchA student "$W/a3.csv"
A3=$IID
reconcile

step "3a. every poison message is on the dead-letter topic, unchanged, with why and where"
dlq_all=$(dlq)
assert_eq $((dlq_before + N_DLQ)) "$(grep -c . <<<"$dlq_all")" "dead letters written"
for name in "${!WANT[@]}"; do
    read -r p o <<<"${WHERE[$name]}"
    line=$(grep -F "sisopi-partition=$p,sisopi-offset=$o" <<<"$dlq_all" || true)
    [[ -n $line ]] || fail "$name (partition $p offset $o) is not on the dead-letter topic"
    assert_eq 1 "$(grep -c . <<<"$line")" "$name dead-lettered once"
    assert_contains "$line" "sisopi-error=" "$name: reason header"
    assert_contains "$line" "${WANT[$name]}" "$name: the reason"
    assert_contains "$line" "sisopi-topic=sisopi.users," "$name: origin topic"
    # The same as Kafka Connect names it, with the kind of failure as the exception's class.
    assert_contains "$line" "__connect.errors.topic=sisopi.users,__connect.errors.partition=$p,__connect.errors.offset=$o," \
        "$name: Kafka Connect's origin headers"
    case $name in
    bad-school | limbo-school | empty-name) class=sisopi.ValidationError ;;
    *) class=sisopi.DecodeError ;;
    esac
    assert_contains "$line" "__connect.errors.exception.class.name=$class," "$name: $class"
    reason=${line#*sisopi-error=}
    reason=${reason%%,sisopi-topic=*}
    assert_contains "$line" "__connect.errors.exception.message=$reason" \
        "$name: Kafka Connect's reason header, the same as sisopi-error"
done
# The values are the original bytes (the gigantic one: left out, and said so).
for name in random fingerprint events-fingerprint truncated trailing; do
    read -r p o <<<"${WHERE[$name]}"
    read -r dp do_ _ <<<"$(grep -F "sisopi-partition=$p,sisopi-offset=$o" <<<"$dlq_all")"
    kcat -C -b "$STACK_BOOTSTRAP" -t sisopi.users.dlq -p "$dp" -o "$do_" -c 1 -e -q \
        -f '%s' >"$W/dlq-$name.bin"
    cmp -s "${FILEOF[$name]}" "$W/dlq-$name.bin" || fail "$name: the dead letter's value differs"
done
g=$(grep -F "sisopi-partition=${WHERE[gigantic]% *},sisopi-offset=${WHERE[gigantic]#* }" <<<"$dlq_all")
assert_eq -1 "$(cut -f3 <<<"$g")" "gigantic: dead-lettered without its value (null)"
assert_contains "$g" "sisopi-value-bytes=3145728" "gigantic: the size is given"
assert_contains "$g" "the message stays in sisopi.users [${WHERE[gigantic]% *}] at offset" \
    "gigantic: where the original is"
assert_contains "$ROUT" "dead_letter_without_value" "gigantic: logged"

step "3b. the valid but refused: a Rejected event, purge orders skipped and counted"
rej=$(events | jq -r 'select(.event.record_uid=="T1" and .event.type=="Rejected") | .event.reason')
assert_contains "$rej" "roles never change" "T1 listed as a student is rejected"
assert_contains "$ROUT" 'purge_skipped record_uid=D1' "the early purge order is skipped"
assert_contains "$ROUT" 'purge date not reached' "... because its date has not come"
assert_contains "$ROUT" "purge_skipped record_uid=${lp[0]}" "the purge order for an active person"
assert_eq "$N_DLQ" "$(summary_count dead_letters)" "summary: dead letters"
assert_eq 1 "$(summary_count rejected)" "summary: rejected"
assert_eq 2 "$(summary_count purges_skipped)" "summary: purges skipped"
assert_eq 0 "$(summary_count deleted)" "summary: nobody deleted"
assert_eq 1 "$(summary_count created)" "summary: created (NEW1 only)"
assert_eq 1 "$(summary_count limbo)" "summary: to limbo (the one dropped)"

step "3c. the real import after the poison is applied in every partition"
done_ev=$(events | jq -c "select(.event.type==\"ImportCompleted\" and .event.import_id==\"$A3\")")
assert_eq "$NP" "$(grep -c . <<<"$done_ev")" "ImportCompleted in every partition"
assert_eq 11 "$(jq -s 'map(.event.counts.modified) | add' <<<"$done_ev")" "modified"
assert_eq 1 "$(jq -s 'map(.event.counts.created) | add' <<<"$done_ev")" "created"
assert_eq 1 "$(jq -s 'map(.event.counts.limbo) | add' <<<"$done_ev")" "to limbo"
for ((p = 1; p < NP; p++)); do
    u=$(q "(ucsschoolRecordUID=${lp[$p]})" uid | sed -n 's/^uid: //p')
    m=$(ldap_search -b "cn=SchA-6a,cn=klassen,cn=schueler,cn=groups,ou=SchA,$BASE" -s base \
        '(objectClass=*)' memberUid | sed -n 's/^memberUid: //p')
    grep -qx "$u" <<<"$m" || fail "partition $p: ${lp[$p]} ($u) is not in class 6a"
done
assert_eq "limbo" "$(attr "${lp[0]}" ucsschoolSchool)" "partition 0: ${lp[0]} dropped to limbo"
assert_eq "SchA" "$(attr NEW1 ucsschoolSchool)" "NEW1 created"
assert_eq "$D1_TS" "$(attr D1 ucsschoolPurgeTimestamp)" "D1 still in limbo, same date"
for r in P1 P2 P3 P4 P5 P6 P7 P8 P9; do
    assert_eq "" "$(q "(ucsschoolRecordUID=$r*)" 1.1)" "poison $r created nobody"
done

step "3d. nothing else in the directory changed"
dump "$W/after.dump"
# What the real import changed: the entries of its persons (old and new DNs), SchA's groups
# (class 6a, memberships) and the username counters. Checked above; the rest must be equal.
legit=()
for r in "${lp[@]}" NEW1; do legit+=("$(dn_of "$r")"); done
legit+=("$(awk -F'\t' -v want="ucsschoolRecordUID: ${lp[0]}" '$2 == want { sub(/^dn: /, "", $1); print $1 }' "$W/before.dump")")
printf '%s\n' "${legit[@]}" | sed 's/^/dn: /' | LC_ALL=C sort -u >"$W/legit.dns"
keep() {
    awk -F'\t' -v lf="$W/legit.dns" '
        BEGIN { while ((getline l < lf) > 0) skip[l] = 1 }
        $1 in skip { next }
        $1 ~ /,cn=groups,ou=SchA,/ || $1 ~ /,cn=shares,ou=SchA,/ || $1 ~ /,cn=unique-usernames,/ { next }
        { print }' "$1"
}
diff <(keep "$W/before.dump") <(keep "$W/after.dump") >"$W/dump.diff" ||
    fail "the directory changed beyond the real import:"$'\n'"$(head -n 40 "$W/dump.diff")"
printf '  %d values compared outside the real import, all equal\n' "$(keep "$W/after.dump" | wc -l)"

step "4. misplaced messages, a gigantic decodable record, a purge order for nobody"
# check_case ID WHAT CMD...: CMD must succeed.
check_case() {
    local id=$1 what=$2
    shift 2
    "$@" || fail "$id: $what"
}
dlq_has() { dlq | grep -F "sisopi-partition=${WHERE[$1]% *},sisopi-offset=${WHERE[$1]#* }" | grep -qF "$2"; }
nobody() { [[ -z $(dn_of "$1") ]]; }
# No key, in the partition of its record_uid: a producer that does not key would scatter a
# person's messages over partitions.
inject null-key "" record "$PI" sisopi-demo SchB teacher Q1 Null Key -
# Keyed by another person: in that person's partition, where Q2's state is not.
inject other-key "" record "$PI" sisopi-demo SchB teacher Q2 Other Key T1
# Decodable, but a first name of 3 MB (the CSV refuses more than import.csv.max_field_bytes).
inject huge-record "" record "$PI" sisopi-demo SchB teacher Q3 @3000000 Huge
inject purge-nobody "" purge NOBODY-9 1000
reconcile
check_case null-key "a UserRecord without a key goes to the dead-letter topic" \
    eval 'dlq_has null-key "no key" && nobody Q1'
check_case other-key "a UserRecord keyed by another record_uid goes to the dead-letter topic" \
    eval 'dlq_has other-key "is not the record_uid" && nobody Q2'
check_case huge-record "a record with a 3 MB first name goes to the dead-letter topic" \
    eval 'dlq_has huge-record "max_field_bytes" && nobody Q3'
check_case null-key "the dead letter of a message without a key is a misplaced one" \
    dlq_has null-key "exception.class.name=sisopi.MisplacedError,"
check_case other-key "the dead letter of a message keyed by another person is a misplaced one" \
    dlq_has other-key "exception.class.name=sisopi.MisplacedError,"
check_case huge-record "the dead letter of a record over max_field_bytes is a validation error" \
    dlq_has huge-record "exception.class.name=sisopi.ValidationError,"
check_case purge-nobody "a purge order for an unknown person is logged and counted" \
    eval '[[ $ROUT == *"purge_skipped record_uid=NOBODY-9"* ]]'

step "5. security.protocol=ssl against the plaintext dev broker: a clear error, no hang"
sed -e 's/\[ "heartbeat.interval.ms", "500" \]/&,\n    [ "security.protocol", "ssl" ]/' \
    "$CFG" >"$W/ssl.cfg"
grep -q '"security.protocol", "ssl"' "$W/ssl.cfg" || fail "could not write ssl.cfg"
csv ssl.csv "L9999,Sam,Ssl,SchA,5a"
# Two clients (a producer, and the scheduler's consumer and producer): the property reaches
# librdkafka, which says what is wrong; the programs fail after their metadata timeout.
run timeout 120 "$B_/sisopi-ingest" -c "$W/ssl.cfg" -q --school SchA --role student "$W/ssl.csv"
((RC == 1)) || fail "ingest over SSL to a plaintext broker: expected exit 1, got $RC: $OUT"
assert_contains "$OUT" "SSL handshake failed" "the ingest's log says why"
assert_contains "$OUT" "cannot read the cluster's metadata" "the ingest's error"
run timeout 120 "$B_/sisopi-scheduler" -c "$W/ssl.cfg" --once
((RC == 1)) || fail "scheduler over SSL to a plaintext broker: expected exit 1, got $RC: $OUT"
assert_contains "$OUT" "SSL handshake failed" "the scheduler's log says why"
assert_eq "" "$(dn_of L9999)" "nothing was published"

printf 'figure: poison messages: %d dead-lettered, 1 rejected, 2 purge orders skipped; ' "$N_DLQ"
printf '%d further cases checked (misplaced, oversized, purge for nobody)\n' 4
