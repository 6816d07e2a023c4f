# shellcheck shell=bash
# connector_lib.sh: helpers of the sisopi-connector tests (source it after lib.sh or
# fault_lib.sh, and after start_stack): school authorities' own directories (stack.sh start
# --no-broker, stopped at exit), a config with a connector section, searches there, and the
# programs run once.
#
#   start_authority nord "Gym1 Gs2"; connector_cfg "$CFG0" "$CFG" "$MAPPING" nord sued
#   connect nord; a_val nord P-1 sn

B_=$SISOPI_BUILD/services
declare -A AURI=() ADN=() ABASE=() ADIR=()
CONNECTOR_AUTHORITIES=()

# start_authority NAME SCHOOLS: a bare directory with sisopi's schema and layout, base
# dc=NAME,dc=org, its schools made by sisopi-admin.
start_authority() {
    local name=$1 schools=$2 dir=$STACK_DIR/auth-$1 k v
    run "$STACK_SH" start --dir "$dir" --no-broker --base "dc=$name,dc=org" --schools "$schools" \
        --build "$SISOPI_BUILD"
    ((RC == 0)) || fail "stack.sh start (authority $name) failed ($RC): $OUT"
    declare -A st=()
    while IFS='=' read -r k v; do st[$k]=$v; done <"$dir/stack.env"
    AURI[$name]=${st[URI]}
    ADN[$name]=${st[ROOTDN]}
    ABASE[$name]=${st[BASE]}
    ADIR[$name]=$dir
    if ((${#CONNECTOR_AUTHORITIES[@]} == 0)); then
        # shellcheck disable=SC2016 # expanded at exit, on purpose
        LIB_AT_EXIT+=('for a in "${CONNECTOR_AUTHORITIES[@]}"; do "$STACK_SH" stop --dir "$STACK_DIR/auth-$a" || true; done')
    fi
    CONNECTOR_AUTHORITIES+=("$name")
}

# authority_entry NAME [EXTRA]: one element of connector.authorities (bound as the rootdn of
# the test's directory).
authority_entry() {
    printf '    { name = "%s"; uri = "%s"; base = "%s";\n      bind_dn = "%s"; password_file = "%s"; %s }' \
        "$1" "${AURI[$1]}" "${ABASE[$1]}" "${ADN[$1]}" "${ADIR[$1]}/ldap.secret" "${2:-}"
}

aq() { # AUTH ARGS...: search an authority's directory as its rootdn
    local a=$1
    shift
    ldapsearch -x -LLL -o ldif-wrap=no -H "${AURI[$a]}" -D "${ADN[$a]}" \
        -y "${ADIR[$a]}/ldap.secret" -b "${ABASE[$a]}" "$@"
}
amod() { ldapmodify -x -H "${AURI[$1]}" -D "${ADN[$1]}" -y "${ADIR[$1]}/ldap.secret" >/dev/null; }
a_dn() { aq "$1" "(ucsschoolRecordUID=$2)" 1.1 | sed -n 's/^dn: //p'; }
a_val() { # AUTH RID ATTR: the values (base64 decoded), sorted, joined by |
    local line
    aq "$1" "(ucsschoolRecordUID=$2)" "$3" | while IFS= read -r line; do
        case $line in
        "$3:: "*) base64 -d <<<"${line#"$3":: }"; echo ;;
        "$3: "*) echo "${line#"$3": }" ;;
        esac
    done | LC_ALL=C sort | paste -sd'|'
}
a_uuid() { aq "$1" "(ucsschoolRecordUID=$2)" entryUUID | sed -n 's/^entryUUID: //p'; }
a_groups() { aq "$1" "(&(objectClass=sisopiGroup)(memberUid=$2))" cn | sed -n 's/^cn: //p' | LC_ALL=C sort | paste -sd'|'; }
a_count() { aq "$1" "(ucsschoolRole=sisopi_connector:authority:$1)" 1.1 | grep -c '^dn:' || true; }

# a_dump AUTH: the persons and groups of an authority, one "DN<TAB>attr<TAB>value" line each
# (values as ldapsearch prints them), the base written as BASE, sorted: equal for two
# directories that hold the same.
a_dump() {
    aq "$1" '(|(objectClass=ucsschoolType)(objectClass=sisopiGroup))' '*' pwdAccountLockedTime |
        awk -v base="${ABASE[$1]}" '
        /^dn: / { dn = substr($0, 5); sub(base "$", "BASE", dn); next }
        /^$/ { next }
        { i = index($0, ":"); a = substr($0, 1, i - 1); v = substr($0, i + 1)
          sub(/^:? /, "", v); gsub(base, "BASE", v)
          if (a == "ucsschoolRole") gsub(/authority:[a-z0-9]*$/, "authority:X", v)
          print tolower(dn) "\t" a "\t" v }' | LC_ALL=C sort
}

ingest() { # CFG SCHOOL ROLE FILE
    run "$B_/sisopi-ingest" -c "$1" -q --school "$2" --role "$3" "$4"
    ((RC == 0)) || fail "ingest $2/$3 failed ($RC): $OUT"
}
reconcile() { # CFG
    run timeout 180 "$B_/sisopi-reconciler" -c "$1" --until-idle --idle-open 3
    ((RC == 0)) || fail "reconciler failed ($RC): $OUT"
}
connect() { # CFG AUTH: one run of the authority's connector until it is caught up
    run timeout 180 "$B_/sisopi-connector" -c "$1" --authority "$2" --until-idle --metrics ""
    printf '%s\n' "$OUT" >>"$STACK_DIR/conn-$2.log"
    ((RC == 0)) || fail "connector $2 failed ($RC): $OUT"
}

# sisopi_cfg_for_moves CFG: the stack's config with no deletion guard (persons leave schools
# on purpose) and the CSV's password column mapped.
sisopi_cfg_for_moves() {
    sed -e 's/deletion_grace_period = "90d";/deletion_grace_period = "1h";\n  deletion_guard: { max_ratio = 1.0; max_count = 1000; };/' \
        -e 's/\[ "birthday", "birthday" \]/[ "birthday", "birthday" ],\n      [ "password", "password" ]/' \
        -e 's/allowed_missing_columns = \[/allowed_missing_columns = [ "password", /' \
        "$STACK_DIR/sisopi.cfg" >"$1"
    grep -q 'max_ratio = 1.0' "$1" || fail "could not write $1"
}
