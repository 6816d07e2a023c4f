#!/usr/bin/env bash
# Hostile input, end to end: CSV values built to break DNs, LDAP filters,
# spreadsheets or terminals go through sisopi-ingest, sisopi-reconciler and slapd.
#
#   1. refused: a school value with a DN in it, a record_uid with a control character, a NUL
#      byte, an overlong UTF-8 sequence, a class of another school, the limbo OU as the job's
#      school (in another case, and the limbo OU is not called "limbo" here), a school name
#      outside [A-Za-z0-9_-]: each with FILE:LINE:COLUMN (or the option) and why, exit 1,
#      nothing published, the directory unchanged
#   2. accepted: names with DN and filter characters (*)(uid=*, ,ou=SchB, \00, +, ", leading #,
#      \, <>;), spreadsheet formulas (=cmd|' /C calc'!A0, +, -, @), record_uids that are
#      filters (*, R)(ucsschoolRecordUID=*), R\2a, R,ou=SchB), classes with special characters
#      (replaced by default; kept, and escaped in the group's DN, with replacement ""): every
#      account carries the literal values, its DN is the one expected, nothing else was created
#      or changed (SchB's subtree compared before and after)
#   3. a second import without the person named *)(uid=* and the one whose record_uid is "*":
#      exactly these two go to limbo, nobody else is touched (a filter built from those values
#      unescaped would have matched everybody)
#   4. the state rebuilt from the directory (a search per source_uid) gives the same decisions:
#      the same file again changes nothing
#   5. sisopi-audit report IMPORT_ID --csv: every cell a spreadsheet would run is defused with
#      a leading ', and the values are otherwise literal; sisopi-audit verify agrees
# The CSV corpus of refused files is tests/data/bad/ (checked by tests/unit/ingest/test_import_reader).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

B_=$SISOPI_BUILD/services
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
for t in kcat jq; do command -v "$t" >/dev/null || fail "$t is not installed"; done
LIMBO=Abgang

step "start the stack (limbo OU: $LIMBO)"
start_stack --schools "SchA SchB" --limbo "$LIMBO"
W=$STACK_DIR/work
mkdir -p "$W"
BASE=$STACK_BASE
sed -e 's/deletion_grace_period = "90d";/deletion_grace_period = "1h";\n  deletion_guard: { max_ratio = 1.0; max_count = 1000; };/' \
    "$STACK_DIR/sisopi.cfg" >"$W/sisopi.cfg"
CFG=$W/sisopi.cfg
grep -q 'max_ratio = 1.0' "$CFG" || fail "could not write the test config"
# Classes keep every character (the reference's "" replacement): escaping must do the work.
sed -e 's/^  tolerate_errors = 0;/&\n  school_classes_invalid_character_replacement = "";/' "$CFG" >"$W/keep.cfg"
grep -q 'replacement = "";' "$W/keep.cfg" || fail "could not write keep.cfg"

ingest() { # CFG SCHOOL ROLE FILE: publishes, sets IID
    run "$B_/sisopi-ingest" -c "$1" -q --school "$2" --role "$3" "$4"
    ((RC == 0)) || fail "ingest $2/$3 of $4 failed ($RC): $OUT"
    IID=$(sed -n 's/^import_id: *//p' <<<"$OUT")
}
reconcile() {
    run timeout 240 "$B_/sisopi-reconciler" -c "$CFG" --until-idle --idle-open 3
    ((RC == 0)) || fail "the reconciler failed (exit $RC):"$'\n'"$(tail -n 30 <<<"$OUT")"
    ROUT=$OUT
}
events() { "$B_/sisopi-audit" -c "$CFG" dump --topic events 2>/dev/null; }
users_end() { kcat -C -b "$STACK_BOOTSTRAP" -t sisopi.users -e -q -f '%o\n' | wc -l; }
# ldap_escape VALUE: the value as an RFC 4515 filter assertion (every byte that is not
# alphanumeric as \XX), so that the test's own searches cannot be injected.
fesc() {
    local s=$1 out="" i c
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if [[ $c == [A-Za-z0-9] ]]; then out+=$c; else out+=$(printf '\\%02x' "'$c"); fi
    done
    printf '%s' "$out"
}
# by_rid RID ARGS...: entries whose ucsschoolRecordUID is RID exactly.
by_rid() {
    local r=$1
    shift
    ldap_search -b "$BASE" "(ucsschoolRecordUID=$(fesc "$r"))" "$@"
}
dn_of() { by_rid "$1" 1.1 | awk '/^dn: / { print substr($0, 5) } /^dn:: / { print substr($0, 6) | "base64 -d" }'; }
val() { # RID ATTR: the values (decoded), one per line
    local dn
    dn=$(dn_of "$1")
    [[ -n $dn ]] || return 0
    ldap_attr "$dn" "$2"
}
dump() { # FILE [BASE]: sorted "DN<TAB>line" of every entry below BASE (default: the base)
    ldap_search -b "${2:-$BASE}" '(objectClass=*)' '*' pwdAccountLockedTime |
        awk '/^dn::? / { dn = $0; next } /^$/ { next } { print dn "\t" $0 }' | LC_ALL=C sort >"$1"
}
csv() { # FILE LINE...: the stack's column names
    local f=$1
    shift
    printf '%s\r\n' "record_uid,firstname,lastname,school,classes" "$@" >"$W/$f"
}

dump "$W/start.dump"
users_start=$(users_end)

step "1. refused: file, line, column and why; nothing published, nothing changed"
# refuse NAME RC WANT SCHOOL FILE: the ingest refuses with exit RC and says WANT.
refuse() {
    run "$B_/sisopi-ingest" -c "$CFG" --school "$4" --role student "$5"
    ((RC == $2)) || fail "$1: expected exit $2, got $RC: $OUT"
    assert_contains "$OUT" "$3" "$1: the error"
    printf '  %-16s %s\n' "$1:" "$(grep -m1 -F "$3" <<<"$OUT")"
}
csv r-school.csv "H1,Anna,Muster,SchA,5a" '"R2",Ben,Muster,"SchA,ou=SchB",5a'
refuse school-dn 1 "r-school.csv:3:4: column \"school\": record_uid \"R2\": school \"SchA,ou=SchB\" is not the school of this import (\"SchA\")" SchA "$W/r-school.csv"
csv r-uid.csv $'R\x1b[2J,Cora,Muster,SchA,5a'
refuse uid-control 1 "r-uid.csv:2:1: column \"record_uid\"" SchA "$W/r-uid.csv"
assert_contains "$OUT" "control character U+001B in the value" "uid-control: why"
printf 'record_uid,firstname,lastname,school,classes\nR3,Dora,Mu\0ster,SchA,5a\n' >"$W/r-nul.csv"
refuse nul-byte 1 "r-nul.csv:2: character 11: NUL byte" SchA "$W/r-nul.csv"
assert_contains "$OUT" "NUL byte" "nul-byte: why"
printf 'record_uid,firstname,lastname,school,classes\nR4,J\xc3\xbcrgen,M,SchA,5a\nR5,E,Mu\xe0\x80\xafster,SchA,5a\n' >"$W/r-overlong.csv"
refuse overlong 1 "r-overlong.csv:3: character 8: overlong UTF-8 sequence" SchA "$W/r-overlong.csv"
assert_contains "$OUT" "overlong UTF-8 sequence" "overlong: why"
csv r-class.csv 'R6,Emil,Muster,SchA,"5a,SchB-7c"'
refuse class-school 1 "r-class.csv:2:5: column \"classes\": record_uid \"R6\": class \"SchB-7c\" belongs to school \"SchB\"" SchA "$W/r-class.csv"
csv r-limbo.csv "R7,Fritz,Muster,${LIMBO^^},"
refuse limbo-job 64 "is the limbo OU" "${LIMBO^^}" "$W/r-limbo.csv"
refuse limbo-job-lower 64 "is the limbo OU" "${LIMBO,,}" "$W/r-limbo.csv"
refuse school-option 64 "not a valid school name" 'SchA,ou=SchB' "$W/r-limbo.csv"
assert_eq "$users_start" "$(users_end)" "nothing was published to sisopi.users"
dump "$W/after-refused.dump"
cmp -s "$W/start.dump" "$W/after-refused.dump" || fail "the directory changed"

step "2. accepted: hostile names, record_uids, classes; literal values, correct DNs"
# The persons: record_uid, firstname, lastname, classes (written CSV-quoted).
RID=() FN=() LN=() CL=()
person() { RID+=("$1") FN+=("$2") LN+=("$3") CL+=("$4"); }
person H1 '*)(uid=*' Stern 5a
person H2 Anna ',ou=SchB' 5a
person H3 Zero '\00' 5a
person H4 Paul 'Plus+cn=admin' 5a
person H5 Quinn '"Quote" Q' 5a
person H6 Hanna '#Hash' 5a
person H7 Bernd 'Back\slash' 5a
person H8 "=cmd|' /C calc'!A0" Formula 5a
person H9 '+SUM(1+1)' '@Mention' 5a
person H10 '-2+3' Minus 5a
person H11 Tanja '<Tag>;semi' '5a*)(cn=*'
person '*' Star Wildcard 5a
person 'R)(ucsschoolRecordUID=*' Paren Filter 5a
person 'R\2a' Slash Escape 5a
person 'R,ou=SchB' Comma Dn 5a
person N1 Norma Normal 5a
NPERS=${#RID[@]}
q() { printf '"%s"' "${1//\"/\"\"}"; }
rows=()
for ((i = 0; i < NPERS; i++)); do
    rows+=("$(q "${RID[i]}"),$(q "${FN[i]}"),$(q "${LN[i]}"),SchA,$(q "${CL[i]}")")
done
csv a1.csv "${rows[@]}"
dump "$W/schb-before.dump" "ou=SchB,$BASE"
ingest "$CFG" SchA student "$W/a1.csv"
A1=$IID
# SchB with classes kept as written: the group DNs need escaping.
csv b1.csv 'K1,Karl,Klasse,SchB,"7b*)(cn=*,8c\00+x#<>;="""'
ingest "$W/keep.cfg" SchB student "$W/b1.csv"
reconcile
for ((i = 0; i < NPERS; i++)); do
    rid=${RID[i]} fn=${FN[i]} ln=${LN[i]}
    dn=$(dn_of "$rid")
    [[ -n $dn ]] || fail "$rid: no account"
    assert_eq 1 "$(grep -c . <<<"$dn")" "$rid: one account"
    assert_eq "$fn" "$(val "$rid" givenName)" "$rid: givenName literal"
    assert_eq "$ln" "$(val "$rid" sn)" "$rid: sn literal"
    assert_eq "$rid" "$(val "$rid" ucsschoolRecordUID)" "$rid: ucsschoolRecordUID literal"
    u=$(val "$rid" uid)
    [[ $u =~ ^[A-Za-z0-9.]+$ ]] || fail "$rid: username \"$u\" has characters a scheme removes"
    assert_eq "uid=$u,cn=schueler,cn=users,ou=SchA,$BASE" "$dn" "$rid: the DN"
    ldap_exists "$dn" || fail "$rid: its DN does not resolve"
    assert_eq "SchA" "$(val "$rid" ucsschoolSchool)" "$rid: school"
done
assert_eq "$NPERS" "$(ldap_dns -b "ou=SchA,$BASE" '(ucsschoolRecordUID=*)' | grep -c .)" \
    "as many accounts in SchA as rows"
# Each hostile value, searched for exactly (escaped by the test), finds its own person only.
for ((i = 0; i < NPERS; i++)); do
    rid=${RID[i]} fn=${FN[i]} ln=${LN[i]}
    hits=$(ldap_dns -b "$BASE" "(&(givenName=$(fesc "$fn"))(sn=$(fesc "$ln")))" | grep -c .)
    assert_eq 1 "$hits" "$rid: an exact search finds one entry"
done
# Classes: the default replacement makes a class of the allowed characters only...
cls=$(ldap_dns -b "cn=klassen,cn=schueler,cn=groups,ou=SchA,$BASE" '(memberUid='"$(fesc "$(val H11 uid)")"')')
assert_eq 1 "$(grep -c . <<<"$cls")" "H11: one class"
[[ $cls =~ ^cn=SchA-5a[-A-Za-z0-9._\ ]*,cn=klassen, ]] || fail "H11: class $cls"
# ... kept as written (replacement ""), the groups' DNs are escaped and their cn literal.
k1=$(val K1 uid)
mapfile -t kcls < <(ldap_search -b "cn=klassen,cn=schueler,cn=groups,ou=SchB,$BASE" \
    "(memberUid=$(fesc "$k1"))" cn | awk '/^cn: / { print substr($0, 5) } /^cn:: / { print substr($0, 6) | "base64 -d" }' | LC_ALL=C sort)
assert_eq 2 "${#kcls[@]}" "K1: two classes"
assert_eq 'SchB-7b*)(cn=*' "${kcls[0]}" "K1: class 1 literal"
assert_eq 'SchB-8c\00+x#<>;="' "${kcls[1]}" "K1: class 2 literal"
for c in "${kcls[@]}"; do
    n=$(ldap_dns -b "cn=klassen,cn=schueler,cn=groups,ou=SchB,$BASE" "(cn=$(fesc "$c"))" | grep -c .)
    assert_eq 1 "$n" "class \"$c\": one group"
done
# Nothing else in SchB: its subtree is what it was, plus K1, its groups and memberships.
dump "$W/schb-after.dump" "ou=SchB,$BASE"
k1dn=$(dn_of K1)
extra=$(LC_ALL=C comm -13 "$W/schb-before.dump" "$W/schb-after.dump" |
    awk -F'\t' -v dn="dn: $k1dn" -v mu="memberUid: $k1" -v um="uniqueMember: $k1dn" '
        $1 == dn || $1 ~ /,cn=klassen,cn=schueler,cn=groups,ou=SchB,/ || $2 == mu || $2 == um { next }
        { print }')
[[ -z $extra ]] || fail "SchB changed beyond K1 and its classes:"$'\n'"$extra"
gone=$(LC_ALL=C comm -23 "$W/schb-before.dump" "$W/schb-after.dump")
[[ -z $gone ]] || fail "SchB lost values:"$'\n'"$gone"
assert_eq "" "$(ldap_dns -b "ou=SchA,$BASE" '(objectClass=*)' | grep -F 'ou=SchB' || true)" \
    "no entry below SchA names SchB in its DN"

step "3. a second import without '*)(uid=*' and record_uid '*': exactly those two go"
dump "$W/before-a2.dump"
rows2=()
for r in "${rows[@]}"; do
    [[ $r == '"H1",'* || $r == '"*",'* ]] || rows2+=("$r")
done
assert_eq $((${#rows[@]} - 2)) "${#rows2[@]}" "the second file lists two fewer"
csv a2.csv "${rows2[@]}"
ingest "$CFG" SchA student "$W/a2.csv"
A2=$IID
reconcile
for ((i = 0; i < NPERS; i++)); do
    rid=${RID[i]}
    want=SchA
    [[ $rid == H1 || $rid == '*' ]] && want=$LIMBO
    assert_eq "$want" "$(val "$rid" ucsschoolSchool)" "$rid after the second import"
done
lim=$(events | jq -r "select(.event.import_id==\"$A2\" and .event.type==\"MovedToLimbo\") | .event.record_uid" 2>/dev/null | LC_ALL=C sort | xargs)
assert_eq '* H1' "$lim" "MovedToLimbo events of the second import"
changed=$(events | jq -r "select(.event.import_id==\"$A2\" and .event.record_uid!=null) | .event.record_uid" | LC_ALL=C sort -u | xargs)
assert_eq '* H1' "$changed" "nobody else has an event of the second import"

step "4. the state rebuilt from the directory: the same file again changes nothing"
last_write() { ldap_search -b "$BASE" '(objectClass=*)' entryCSN | sed -n 's/^entryCSN: //p' | sort | tail -1; }
csn=$(last_write)
rm -rf "$STACK_DIR/reconciler"
ingest "$CFG" SchA student "$W/a2.csv"
A3=$IID
reconcile
assert_contains "$ROUT" "partitions_rebuilt" "the state was rebuilt"
assert_eq "$csn" "$(last_write)" "no LDAP write"
u=$(events | jq -s "map(select(.event.import_id==\"$A3\" and .event.type==\"ImportCompleted\") | .event.counts.unchanged) | add")
assert_eq $((NPERS - 2)) "$u" "all unchanged after the rebuild"

step "5. the audit's summary CSV defuses formulas; verify agrees with the directory"
run "$B_/sisopi-audit" -c "$CFG" report "$A1" --csv --output "$W/report.csv"
((RC == 0)) || fail "audit report: $OUT"
assert_eq 600 "$(stat -c %a "$W/report.csv")" "the report is mode 0600"
report=$(cat "$W/report.csv")
assert_eq $((NPERS + 1)) "$(grep -c . <<<"$report")" "a header and a row per person"
# No cell starts with what a spreadsheet runs; the dangerous ones carry a leading '.
bad=$(grep -nE '(^|,)"[=+@-]' <<<"$report" || true)
[[ -z $bad ]] || fail "cells a spreadsheet would run:"$'\n'"$bad"
assert_contains "$report" "\"'=cmd|' /C calc'!A0\"" "the formula, defused, otherwise literal"
assert_contains "$report" "\"'+SUM(1+1)\"" "+ defused"
assert_contains "$report" "\"'@Mention\"" "@ defused"
assert_contains "$report" "\"'-2+3\"" "- defused"
assert_contains "$report" '"""Quote"" Q"' "quotes doubled, as CSV wants"
assert_contains "$report" '"<Tag>;semi"' "other characters literal"
assert_contains "$report" '"*)(uid=*"' "filter characters literal"
run "$B_/sisopi-audit" -c "$CFG" verify
((RC == 0)) || fail "audit verify (exit $RC): $OUT"

printf 'figure: hostile inputs: %d refused end to end; %d accounts with hostile values and 2 ' 8 "$NPERS"
printf 'classes kept literally checked; %d formula cells defused\n' 4
