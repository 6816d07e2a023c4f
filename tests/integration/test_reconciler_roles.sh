#!/usr/bin/env bash
# The life of one person in each of the four roles, through three schools and limbo, with
# binds: A -> A+B+C -> lose C (not primary) -> lose A (primary: the DN moves to B) -> lose B
# (limbo: deactivated, the bind fails) -> C lists it again (same uid and password, the bind
# works, nothing of limbo left). Names and classes carry LDAP's special characters. A dry run
# must report exactly what the real run then does; a header-only file is held by the guard; records
# without an end marker remove nobody. The whole scenario runs twice, with one reconciler and
# with two in one consumer group, and both directories must be equal attribute by attribute.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
INJECT=$SISOPI_BUILD/tests/users_inject
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
ROLES=(student teacher staff teacher_and_staff)
# Names with , + " \ < > ; = a leading #, spaces and non-ASCII letters (CSV-quoted).
declare -A FIRST=([student]='#Zoë, "Z"' [teacher]='Jürgen+Paul' [staff]='Anne <A> = B' [teacher_and_staff]='Łukasz\; Ö')
declare -A LAST=([student]='Müller, Jr.' [teacher]='O\Brien' [staff]='Şahin;x' [teacher_and_staff]=' Groß ')
PW_OK="Sehr-Geheim-Passwort-42"

ingest() { # CFG SCHOOL ROLE FILE [ARGS]
    local cfg=$1 school=$2 role=$3 file=$4
    shift 4
    run "$B_/sisopi-ingest" -c "$cfg" -q --school "$school" --role "$role" "$@" "$file"
    [[ $RC -eq 0 ]] || fail "ingest $school/$role failed ($RC): $OUT"
    IID=$(sed -n 's/^import_id: *//p' <<<"$OUT")
}

# Runs $NREC reconcilers in one group (own state dirs) until idle.
reconcile() {
    local pids=() i rc=0
    for ((i = 1; i <= NREC; i++)); do
        timeout 180 "$B_/sisopi-reconciler" -c "$W/rec$i.cfg" --until-idle --idle-open 3 \
            >>"$W/rec$i.log" 2>&1 &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || rc=$?; done
    ((rc == 0)) || fail "a reconciler failed ($rc): $(tail -n 5 "$W"/rec*.log)"
}

q() { ldap_search -b "$STACK_BASE" "$@"; }
attr() {
    q "(ucsschoolRecordUID=$1)" "$2" | while IFS= read -r line; do
        case $line in
        "$2:: "*) base64 -d <<<"${line#"$2":: }"; echo ;;
        "$2: "*) echo "${line#"$2": }" ;;
        esac
    done | sort | xargs -0 printf '%s' | tr '\n' '|' | sed 's/|$//'
}
dn_of() { q "(ucsschoolRecordUID=$1)" 1.1 | sed -n 's/^dn: //p'; }
can_bind() { ldapwhoami -x -H "$STACK_URI" -D "$1" -y "$W/pw" >/dev/null 2>&1; }
group_members() { q "(&(objectClass=sisopiGroup)(memberUid=$1))" cn | sed -n 's/^cn: //p' | sort | xargs; }

file_for() { # SCHOOL ROLE CLASS WITH_PERSON: the school's export of one role
    local school=$1 role=$2 cls=$3 with=$4
    local f=$W/$school-$role.csv
    printf '%s\n' 'record_uid,firstname,lastname,school,classes,password' >"$f"
    # An anchor per school and role keeps the file non-empty when the person leaves.
    printf '%s\n' "K-$role-$school,Anker,$school$role,$school,1x,$PW_OK" >>"$f"
    if [[ $with == 1 ]]; then
        local fn=${FIRST[$role]//\"/\"\"} ln=${LAST[$role]//\"/\"\"} cl=${cls//\"/\"\"}
        printf '%s\n' "P-$role,\"$fn\",\"$ln\",$school,\"$cl\",$PW_OK" >>"$f"
    fi
    echo "$f"
}

import_all() { # SCHOOL WITH_PERSON CLASS [ARGS]: one file per role
    local school=$1 with=$2 cls=$3
    shift 3
    IIDS=()
    for role in "${ROLES[@]}"; do
        ingest "$CFG" "$school" "$role" "$(file_for "$school" "$role" "$cls" "$with")" "$@"
        IIDS+=("$IID")
    done
}

scenario() {
    W=$STACK_DIR/work
    mkdir -p "$W"
    printf '%s' "$PW_OK" >"$W/pw"
    chmod 600 "$W/pw"
    sed -e 's/deletion_grace_period = "90d";/deletion_grace_period = "1h";\n  deletion_guard: { max_ratio = 1.0; max_count = 1000; };/' \
        -e 's/\[ "birthday", "birthday" \]/[ "birthday", "birthday" ],\n      [ "password", "password" ]/' \
        -e 's/allowed_missing_columns = \[/allowed_missing_columns = [ "password", /' \
        "$STACK_DIR/sisopi.cfg" >"$W/sisopi.cfg"
    CFG=$W/sisopi.cfg
    for i in 1 2; do
        sed "s|state_dir = \"$STACK_DIR/reconciler\";|state_dir = \"$STACK_DIR/reconciler$i\";|" "$CFG" >"$W/rec$i.cfg"
    done

    step "[$NREC] A lists each role's person (special characters in names and classes)"
    import_all SchA 1 '5a +"x" y'
    reconcile
    for role in "${ROLES[@]}"; do
        dn=$(dn_of "P-$role")
        [[ $dn == *",ou=SchA,$STACK_BASE" ]] || fail "$role: DN $dn"
        assert_eq "SchA" "$(attr "P-$role" ucsschoolSchool)" "$role: school"
        assert_eq "${FIRST[$role]}" "$(attr "P-$role" givenName)" "$role: givenName kept exactly"
        assert_eq "$(sed 's/^ *//; s/ *$//' <<<"${LAST[$role]}")" "$(attr "P-$role" sn)" "$role: sn (trimmed)"
        can_bind "$dn" || fail "$role: cannot bind with the CSV password"
    done
    cls=$(q "(&(objectClass=sisopiGroup)(memberUid=$(attr P-student uid)))" cn | sed -n 's/^cn: \(SchA-5a.*\)/\1/p')
    assert_eq "SchA-5a --x- y" "$cls" "class name with replaced characters"

    step "[$NREC] B and C list them too: one account, schools and classes per school"
    import_all SchB 1 6b
    import_all SchC 1 7c
    reconcile
    for role in "${ROLES[@]}"; do
        [[ $(dn_of "P-$role") == *",ou=SchA,$STACK_BASE" ]] || fail "$role: primary moved"
        assert_eq "SchA|SchB|SchC" "$(attr "P-$role" ucsschoolSchool)" "$role: schools"
        assert_eq 1 "$(q "(ucsschoolRecordUID=P-$role)" 1.1 | grep -c '^dn:')" "$role: one account"
    done
    g=$(group_members "$(attr P-student uid)")
    for c in "SchA-5a --x- y" SchB-6b SchC-7c "Domain Users SchA" "Domain Users SchB" "Domain Users SchC"; do
        assert_contains "$g" "$c" "student groups"
    done
    assert_not_contains "$(group_members "$(attr P-staff uid)")" "SchB-6b" "staff: no classes"

    step "[$NREC] C drops them (not primary): C's groups go, the rest stays"
    import_all SchC 0 7c
    reconcile
    for role in "${ROLES[@]}"; do
        assert_eq "SchA|SchB" "$(attr "P-$role" ucsschoolSchool)" "$role: schools after C"
        assert_not_contains "$(group_members "$(attr "P-$role" uid)")" "SchC" "$role: C groups left"
    done

    step "[$NREC] a dry run of A dropping them reports what the real run then does"
    # The ingest plans against the directory and prints "  EVENT<TAB>RECORD_UID<TAB>DN".
    dry=""
    for role in "${ROLES[@]}"; do
        ingest "$CFG" SchA "$role" "$(file_for SchA "$role" 5a 0)" --dry-run
        dry+=$(sed -n 's/^  \([A-Za-z]*\)\t\([^\t]*\)\t\([^\t]*\)$/\2 \1 \3/p' <<<"$OUT")$'\n'
    done
    dry=$(sed '/^$/d' <<<"$dry" | sort)
    [[ -n $dry ]] || fail "the dry runs planned nothing"
    reconcile
    for role in "${ROLES[@]}"; do
        [[ $(dn_of "P-$role") == *",ou=SchA,"* ]] || fail "$role: the dry run moved it"
    done

    step "[$NREC] A drops them (primary): the DN moves to B, the sorted-first remaining school"
    import_all SchA 0 5a
    reconcile
    ids=$(printf '"%s",' "${IIDS[@]}")
    # Events are at least once: a member whose commit was refused in a rebalance redoes the
    # work, and its events come again. Deduplicated as an auditor does, by input partition,
    # input offset and type.
    real=$("$B_/sisopi-audit" -c "$CFG" dump --topic events 2>/dev/null |
        jq -r "select(.event.import_id as \$i | [${ids%,}] | index(\$i)) | select(.event.record_uid != null) | \"\(.event.input_partition)/\(.event.input_offset)/\(.event.type)\t\(.event.record_uid) \(.event.type) \(.event.dn_after)\"" |
        sort -u -t $'\t' -k1,1 | cut -f2 | sort)
    assert_eq "$dry" "$real" "dry run and real run agree"
    for role in "${ROLES[@]}"; do
        [[ $(dn_of "P-$role") == *",ou=SchB,$STACK_BASE" ]] || fail "$role: not moved to B"
        assert_eq "SchB" "$(attr "P-$role" ucsschoolSchool)" "$role: school B"
        can_bind "$(dn_of "P-$role")" || fail "$role: cannot bind after the move"
    done

    step "[$NREC] B drops them: limbo, deactivated, the bind fails"
    import_all SchB 0 6b
    reconcile
    for role in "${ROLES[@]}"; do
        dn=$(dn_of "P-$role")
        [[ $dn == *",ou=limbo,$STACK_BASE" ]] || fail "$role: not in limbo: $dn"
        can_bind "$dn" && fail "$role: a person in limbo can still bind"
        assert_eq "" "$(group_members "$(attr "P-$role" uid)")" "$role: in no group"
        [[ -n $(attr "P-$role" ucsschoolPurgeTimestamp) ]] || fail "$role: no purge date"
    done
    UIDS=$(for r in "${ROLES[@]}"; do attr "P-$r" uid; done | xargs)

    step "[$NREC] C lists them again: same uid and password, the bind works, limbo is gone"
    import_all SchC 1 8d
    reconcile
    assert_eq "$UIDS" "$(for r in "${ROLES[@]}"; do attr "P-$r" uid; done | xargs)" "same uids"
    for role in "${ROLES[@]}"; do
        dn=$(dn_of "P-$role")
        [[ $dn == *",ou=SchC,$STACK_BASE" ]] || fail "$role: not in C: $dn"
        can_bind "$dn" || fail "$role: cannot bind after coming back"
        assert_eq "" "$(attr "P-$role" ucsschoolPurgeTimestamp)$(attr "P-$role" shadowExpire)" "$role: active"
        assert_not_contains "$(group_members "$(attr "P-$role" uid)")" "limbo" "$role: no limbo group"
    done

    step "[$NREC] a header-only file (nobody) is held by the deletion guard"
    # The ingest decides the guard for the whole import: its config has the stricter one.
    sed 's/max_ratio = 1.0; max_count = 1000;/max_ratio = 0.5; max_count = 1000;/' "$CFG" >"$W/guard.cfg"
    grep -q 'max_ratio = 0.5' "$W/guard.cfg" || fail "could not write $W/guard.cfg"
    printf '%s
' 'record_uid,firstname,lastname,school,classes,password' >"$W/nobody.csv"
    ingest "$W/guard.cfg" SchC student "$W/nobody.csv"
    reconcile
    assert_eq "SchC" "$(attr P-student ucsschoolSchool)" "held: nobody removed"
    held=$("$B_/sisopi-audit" -c "$CFG" dump --topic events 2>/dev/null | jq -c "select(.event.type==\"ImportHeld\" and .event.import_id==\"$IID\")")
    [[ -n $held ]] || fail "the import of nobody was not held"

    step "[$NREC] records without an end marker remove nobody"
    "$INJECT" -c "$CFG" record 01a1ffff-0000-7000-8000-0000000000aa sisopi-demo SchC student K-student-SchC Anker SchCstudent \
        >/dev/null 2>&1 || fail "inject"
    reconcile
    assert_eq "SchC" "$(attr P-student ucsschoolSchool)" "no marker: nobody removed"
}

# A directory dump without what legitimately differs between runs (password salts): one line
# per value, "DN<TAB>attribute: value", sorted.
dump_dir() {
    ldap_search -b "$STACK_BASE" "(|(objectClass=inetOrgPerson)(objectClass=sisopiGroup)(objectClass=ucsschoolUsername))" '*' |
        awk '/^dn:/{dn=$0; next} /^$/{next} /^userPassword/{next} {print dn "\t" $0}' | sort
}

NREC=1
start_stack --schools "SchA SchB SchC"
scenario
ONE=$(mktemp "${TMPDIR:-/tmp}/sisopi-one.XXXXXX")
ONE_EVENTS=$ONE.events
LIB_AT_EXIT+=("rm -f '$ONE' '$ONE_EVENTS'")
dump_dir >"$ONE"
"$B_/sisopi-audit" -c "$CFG" dump --topic events >"$ONE_EVENTS" 2>/dev/null
stop_stack

NREC=2
start_stack --schools "SchA SchB SchC"
scenario
step "two reconcilers in one group give the same directory as one"
# Both took part: each was assigned a share of the partitions and handled messages.
for i in 1 2; do
    grep -q 'partitions_assigned count=\([1-9]\|1[01]\)$' "$STACK_DIR/work/rec$i.log" ||
        fail "reconciler $i never shared the partitions: $(grep partitions_ "$STACK_DIR/work/rec$i.log" | head -5)"
    n=$(sed -n 's/.* summary messages=\([0-9]*\) .*/\1/p' "$STACK_DIR/work/rec$i.log" | awk '{s+=$1} END{print s+0}')
    ((n > 0)) || fail "reconciler $i handled no message"
done
dump_dir >"$STACK_DIR/two.dump"
# Kept with the stack directory when the comparison fails: what each run did.
"$B_/sisopi-audit" -c "$CFG" dump --topic events >"$STACK_DIR/two.events" 2>/dev/null
cp "$ONE" "$STACK_DIR/one.dump"
cp "$ONE_EVENTS" "$STACK_DIR/one.events"
diff "$ONE" "$STACK_DIR/two.dump" >"$STACK_DIR/dirs.diff" || true
if [[ -s $STACK_DIR/dirs.diff ]]; then
    fail "the directories differ: $(head -20 "$STACK_DIR/dirs.diff")"
fi
