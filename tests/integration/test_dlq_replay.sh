#!/usr/bin/env bash
# Dead letters whose cause is fixed go back with `sisopi-admin dlq replay`, against a real
# slapd and the devbroker:
#   1. a reconciler with import.csv.max_field_bytes = 16 dead-letters a record with a first
#      name of 20 bytes (sisopi.ValidationError); 1.5 MiB of random bytes are dead-lettered
#      without their value (a stub, sisopi.DecodeError); a message written to the dead-letter
#      topic by hand names another origin topic. The headers say it the sisopi way and the
#      Kafka Connect way. R2 is refused the same way, then comes again with a short name.
#   2. refusals: no selector, --offset without --partition (64); a stub is counted and not
#      sent; the hand-made one is refused; R2's old record is refused (it would undo the
#      newer one); a dry run sends nothing. Nothing reaches sisopi.users.
#   3. the cause fixed (the limit back at its default): the replay re-sends the record, key and
#      value unchanged, to its partition; a reconciler applies it: the account exists, and
#      sisopi-audit verify agrees. A second replay of the same dead letter is refused.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
A=$B_/sisopi-admin
INJECT=$SISOPI_BUILD/tests/users_inject
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
[[ -x $INJECT ]] || fail "users_inject is not built in $SISOPI_BUILD"
command -v kcat >/dev/null || fail "kcat is not installed"

step "start the stack"
start_stack --schools "SchA"
W=$STACK_DIR/work
mkdir -p "$W"
CFG=$STACK_DIR/sisopi.cfg
# The cause to fix: a limit on field values below the record's first name.
sed -e 's/^\( *\)\(allowed_missing_columns = .*;\)$/\1\2\n\1max_field_bytes = 16;/' \
    "$CFG" >"$W/small.cfg"
grep -q 'max_field_bytes = 16;' "$W/small.cfg" || fail "could not write the test config"
DLQ=sisopi.users.dlq

reconcile() { # CFG
    run timeout 240 "$B_/sisopi-reconciler" -c "$1" --until-idle --idle-open 3
    ((RC == 0)) || fail "the reconciler failed or stalled (exit $RC):"$'\n'"$(tail -n 30 <<<"$OUT")"
}
dn_of() { ldap_search -b "$STACK_BASE" "(ucsschoolRecordUID=$1)" 1.1 | sed -n 's/^dn: //p'; }
# dlq: the dead letters, one line each: PARTITION<TAB>OFFSET<TAB>VALUE_BYTES<TAB>HEADERS.
dlq() { kcat -C -b "$STACK_BOOTSTRAP" -t "$DLQ" -e -q -f '%p\t%o\t%S\t%h\n'; }
# users_end P: the offset after the last message of sisopi.users [P] (0 when empty).
users_end() {
    local last
    last=$(kcat -C -b "$STACK_BOOTSTRAP" -t sisopi.users -p "$1" -o beginning -e -q -f '%o\n' |
        tail -n 1)
    echo $((${last:--1} + 1))
}
# inject ARGS...: users_inject; sets P and O, where the message went.
inject() {
    run "$INJECT" -c "$CFG" "$@"
    ((RC == 0)) || fail "users_inject $1: $OUT"
    read -r P O <<<"$(grep -E '^[0-9]+ [0-9]+$' <<<"$OUT" | tail -n 1)"
    [[ $P =~ ^[0-9]+$ && $O =~ ^[0-9]+$ ]] || fail "users_inject $1: no partition/offset: $OUT"
}
# dead_letter_of P O: sets DP and DO, where the dead letter of sisopi.users [P]@O is, and HDR.
dead_letter_of() {
    local line
    line=$(dlq | grep -F "sisopi-partition=$1,sisopi-offset=$2," || true)
    [[ -n $line ]] || fail "sisopi.users [$1]@$2 is not on the dead-letter topic"
    assert_eq 1 "$(grep -c . <<<"$line")" "sisopi.users [$1]@$2 dead-lettered once"
    read -r DP DO _ <<<"$line"
    HDR=$line
}

step "1. dead letters: one with a fixable cause, a stub, one of another topic"
IMP=01a1ffff-0000-7000-8000-00000000d1d0
inject record "$IMP" sisopi-demo SchA student R1 @20 Replay
RP=$P RO=$O
"$INJECT" -c "$CFG" -o "$W/r1.bin" record "$IMP" sisopi-demo SchA student R1 @20 Replay ||
    fail "encode R1"
inject record "$IMP" sisopi-demo SchA student R2 @20 Superseded
R2P=$P R2O=$O
inject record "$IMP" sisopi-demo SchA student R2 Rena Superseded
head -c $((1536 * 1024)) /dev/urandom >"$W/big.bin"
inject raw 2 big "$W/big.bin"
BP=$P BO=$O
reconcile "$W/small.cfg"
assert_eq "" "$(dn_of R1)" "R1 refused while its first name is over the limit"
[[ -n $(dn_of R2) ]] || fail "R2's newer record (a short name) was not applied"
dead_letter_of "$RP" "$RO"
R_DP=$DP R_DO=$DO
for want in "sisopi-error=a value is longer than import.csv.max_field_bytes" \
    "sisopi-topic=sisopi.users," "__connect.errors.topic=sisopi.users," \
    "__connect.errors.partition=$RP," "__connect.errors.offset=$RO," \
    "__connect.errors.exception.class.name=sisopi.ValidationError" \
    "__connect.errors.exception.message=a value is longer than import.csv.max_field_bytes"; do
    assert_contains "$HDR" "$want" "R1's dead letter: $want"
done
assert_not_contains "$HDR" "sisopi-value-omitted" "R1's dead letter keeps its value"
kcat -C -b "$STACK_BOOTSTRAP" -t "$DLQ" -p "$R_DP" -o "$R_DO" -c 1 -e -q -f '%s' >"$W/r1-dlq.bin"
cmp -s "$W/r1.bin" "$W/r1-dlq.bin" || fail "R1's dead letter: the value differs from the record"
dead_letter_of "$BP" "$BO"
S_DP=$DP S_DO=$DO
assert_eq -1 "$(cut -f3 <<<"$HDR")" "the big one is dead-lettered without its value"
assert_contains "$HDR" "sisopi-value-omitted=" "the stub says so"
assert_contains "$HDR" "__connect.errors.exception.class.name=sisopi.DecodeError" "stub: class"
assert_contains "$HDR" "__connect.errors.offset=$BO," "stub: the Connect offset header"
# A dead letter that did not come from sisopi.users: written by hand.
printf 'x' | kcat -P -b "$STACK_BOOTSTRAP" -t "$DLQ" -p 0 -k foreign -H "sisopi-topic=sisopi.other" \
    -H "sisopi-partition=0" -H "sisopi-offset=7" -H "sisopi-error=made by hand" ||
    fail "cannot write the hand-made dead letter"
F_DO=$(kcat -C -b "$STACK_BOOTSTRAP" -t "$DLQ" -p 0 -e -q -f '%o %h\n' |
    sed -n 's/^\([0-9]*\) .*sisopi-topic=sisopi.other.*/\1/p')
[[ $F_DO =~ ^[0-9]+$ ]] || fail "the hand-made dead letter is not on $DLQ [0]"
dead_letter_of "$R2P" "$R2O"
R2_DP=$DP R2_DO=$DO
N_DLQ=$(dlq | grep -c .)
assert_eq 4 "$N_DLQ" "four dead letters"

step "2. refusals and a dry run send nothing"
before_r=$(users_end "$RP") before_0=$(users_end 0) before_b=$(users_end "$BP")
before_2=$(users_end "$R2P")
assert_rc 64 "replay without a selector" "$A" -c "$CFG" dlq replay
assert_contains "$OUT" "say which dead letters" "the missing selector is named"
assert_rc 64 "replay --dry-run without a selector" "$A" -c "$CFG" dlq replay --dry-run
assert_rc 64 "--offset without --partition" "$A" -c "$CFG" dlq replay --offset "$R_DO"
assert_contains "$OUT" "needs --partition" "why --partition is needed"
assert_rc 64 "--offset with --all" "$A" -c "$CFG" dlq replay --all --offset 0 --partition 0
assert_rc 64 "dlq without replay" "$A" -c "$CFG" dlq
assert_rc 1 "a partition the topic does not have" "$A" -c "$CFG" dlq replay --all --partition 99
assert_contains "$OUT" "has partitions 0 to 11, not 99" "the partitions are named"
assert_rc 1 "an offset where no dead letter is" \
    "$A" -c "$CFG" dlq replay --offset 999 --partition "$R_DP"
assert_contains "$OUT" "no dead letter at ${DLQ}[$R_DP]@999" "said so"

assert_rc 1 "the stub" "$A" -c "$CFG" dlq replay --offset "$S_DO" --partition "$S_DP"
assert_contains "$OUT" "${DLQ}[$S_DP]@$S_DO  sisopi.users[$BP]@$BO  key=\"big\"" "the stub's line"
assert_contains "$OUT" "NOT REPLAYABLE: dead-lettered without its value" "why not"
assert_contains "$OUT" "1 selected, 0 replayed, 1 without value (not replayable), 0 refused, 0 failed" \
    "the stub is counted"
assert_rc 1 "another topic's dead letter" "$A" -c "$CFG" dlq replay --offset "$F_DO" --partition 0
assert_contains "$OUT" "REFUSED: it came from sisopi.other; only sisopi.users" "refused, and why"
assert_contains "$OUT" "0 replayed, 0 without value (not replayable), 1 refused" "counted"
assert_rc 1 "R2's old record" "$A" -c "$CFG" dlq replay --offset "$R2_DO" --partition "$R2_DP"
assert_contains "$OUT" "REFUSED: a newer message of this key is at sisopi.users[$R2P]@$((R2O + 1))" \
    "refused: it would undo the newer record"

assert_rc 0 "dry run of R1's dead letter" \
    "$A" -c "$CFG" dlq replay --dry-run --offset "$R_DO" --partition "$R_DP"
assert_contains "$OUT" "${DLQ}[$R_DP]@$R_DO  sisopi.users[$RP]@$RO  key=\"R1\"" "R1's line"
assert_contains "$OUT" "error=\"a value is longer than import.csv.max_field_bytes\"" "the reason"
assert_contains "$OUT" "would replay to sisopi.users[$RP] (dry run)" "what would be done"
assert_contains "$OUT" "summary (dry run, nothing sent): 1 selected, 1 would be replayed" "summary"
assert_rc 1 "dry run of everything: not all replayable" "$A" -c "$CFG" dlq replay --all --dry-run
assert_contains "$OUT" "4 selected, 1 would be replayed, 1 without value (not replayable), 2 refused" \
    "every dead letter judged"
assert_eq 4 "$(grep -cF "${DLQ}[" <<<"$OUT")" "one line per dead letter"
assert_eq "$before_r $before_0 $before_b $before_2" \
    "$(users_end "$RP") $(users_end 0) $(users_end "$BP") $(users_end "$R2P")" \
    "nothing was sent to sisopi.users"

step "3. the cause fixed: the replay re-sends R1, the reconciler applies it"
assert_rc 0 "replay R1's dead letter" "$A" -c "$CFG" dlq replay --offset "$R_DO" --partition "$R_DP"
NEW=$(sed -n "s/.*replayed as sisopi.users\[$RP\]@\([0-9]*\).*/\1/p" <<<"$OUT")
[[ $NEW =~ ^[0-9]+$ ]] || fail "no new offset in the replay's output: $OUT"
((NEW >= before_r)) || fail "replayed at $NEW, before the end $before_r of partition $RP"
assert_contains "$OUT" "summary: 1 selected, 1 replayed, 0 without value (not replayable), 0 refused, 0 failed" \
    "summary"
assert_eq $((before_r + 1)) "$(users_end "$RP")" "one message sent to sisopi.users [$RP]"
kcat -C -b "$STACK_BOOTSTRAP" -t sisopi.users -p "$RP" -o "$NEW" -c 1 -e -q -f '%s' >"$W/r1-again.bin"
cmp -s "$W/r1.bin" "$W/r1-again.bin" || fail "the replayed value differs from the original"
got=$(kcat -C -b "$STACK_BOOTSTRAP" -t sisopi.users -p "$RP" -o "$NEW" -c 1 -e -q -f '%k\t%h\n')
assert_eq "R1" "$(cut -f1 <<<"$got")" "the replayed key"
assert_contains "$got" "sisopi-replay-of=${DLQ}[$R_DP]@$R_DO" "where it was replayed from"
assert_rc 1 "the same dead letter again" \
    "$A" -c "$CFG" dlq replay --offset "$R_DO" --partition "$R_DP"
assert_contains "$OUT" "REFUSED: replayed already, as sisopi.users[$RP]@$NEW" "said so"
assert_eq $((before_r + 1)) "$(users_end "$RP")" "nothing sent the second time"
reconcile "$CFG"
[[ -n $(dn_of R1) ]] || fail "R1 was not created after the replay"
assert_eq "xxxxxxxxxxxxxxxxxxxx" \
    "$(ldap_search -b "$STACK_BASE" '(ucsschoolRecordUID=R1)' givenName | sed -n 's/^givenName: //p')" \
    "R1's first name, as the record had it"
assert_eq "$N_DLQ" "$(dlq | grep -c .)" "no new dead letter"
# The audit takes the dead-lettered original as never applied and the replayed copy as applied.
assert_rc 0 "sisopi-audit verify after the replay" "$B_/sisopi-audit" -c "$CFG" verify
assert_contains "$OUT" ", 0 differences" "the directory agrees with the topics"

printf 'test_dlq_replay: ok\n'
