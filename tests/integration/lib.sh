# shellcheck shell=bash disable=SC2034
# (SC2034: the STACK_* variables are for the tests that source this file.)
# lib.sh: shared helpers of the integration tests (source it; bash only).
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   start_stack --schools "Gym1"          # stack.sh start in a temp dir; stopped on exit
#   ldap_search -b "$STACK_BASE" '(uid=x)' dn
#   assert_eq "expected" "$actual" "what is checked"
#
# ctest sets SISOPI_SRC (repo root) and SISOPI_BUILD (build dir); both have defaults for runs
# by hand. After start_stack: STACK_DIR, STACK_URI, STACK_LDAPI, STACK_BASE, STACK_ROOTDN,
# STACK_SECRET (password file), STACK_HAS_BROKER (0/1), STACK_BOOTSTRAP, SISOPI_CONFIG.
# Set STACK_NEED_BROKER=1 before start_stack to fail when sisopi-devbroker is not built;
# otherwise the stack runs without a broker then. KEEP_STACK=1 keeps the temp dir.

set -Eeuo pipefail
# Any command that fails outside a condition ends the test with its line and text.
# shellcheck disable=SC2016 # expanded when the trap fires, on purpose
_LIB_ERR_TRAP='_lib_on_err "${BASH_SOURCE[0]##*/}:$LINENO" "$BASH_COMMAND"'
# shellcheck disable=SC2064
trap "$_LIB_ERR_TRAP" ERR
_lib_on_err() {
    printf '\nFAIL %s%s: command failed at %s: %s\n' "$TEST_NAME" "${STEP:+ [$STEP]}" \
        "$1" "$2" >&2
}

: "${SISOPI_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SISOPI_BUILD:=$SISOPI_SRC/build}"
export SISOPI_SRC SISOPI_BUILD
TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
STACK_SH=$SISOPI_SRC/deploy/stack.sh
STACK_DIR=""
STACK_HAS_BROKER=0
STEP=""
PATH=$PATH:/usr/sbin

# step NAME: names the check in progress; every failure message carries it.
step() {
    STEP=$*
    printf '%s: %s\n' "$TEST_NAME" "$STEP"
}

fail() {
    printf '\nFAIL %s%s: %s\n' "$TEST_NAME" "${STEP:+ [$STEP]}" "$*" >&2
    exit 1
}

assert_eq() { # EXPECTED ACTUAL MESSAGE
    [[ $1 == "$2" ]] ||
        fail "$3"$'\n'"  expected: $(printf '%q' "$1")"$'\n'"  actual:   $(printf '%q' "$2")"
}

assert_contains() { # HAYSTACK NEEDLE MESSAGE
    [[ $1 == *"$2"* ]] || fail "$3"$'\n'"  missing: $2"$'\n'"  in: $1"
}

assert_not_contains() { # HAYSTACK NEEDLE MESSAGE
    [[ $1 != *"$2"* ]] || fail "$3"$'\n'"  unexpected: $2"$'\n'"  in: $1"
}

# wait_for SECONDS WHAT CMD...: polls CMD every 0.5 s, at most SECONDS; fails the test after.
wait_for() {
    local n=$(($1 * 2)) what=$2
    shift 2
    while ((n-- > 0)); do
        "$@" && return 0
        sleep 0.5
    done
    fail "$what: not reached within the time allowed"
}

# run CMD...: runs a command that may fail; sets OUT (stdout+stderr) and RC. Never exits.
run() {
    set +eE
    trap - ERR
    OUT=$("$@" 2>&1)
    RC=$?
    # shellcheck disable=SC2064
    trap "$_LIB_ERR_TRAP" ERR
    set -eE
}

assert_ok() { # MESSAGE CMD...
    local msg=$1
    shift
    run "$@"
    ((RC == 0)) || fail "$msg (exit $RC)"$'\n'"$OUT"
}

assert_rc() { # EXPECTED_RC MESSAGE CMD...
    local want=$1 msg=$2
    shift 2
    run "$@"
    ((RC == want)) || fail "$msg: expected exit $want, got $RC"$'\n'"$OUT"
}

# proc_alive PID: the process runs (a zombie waiting to be reaped does not count).
proc_alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

have_devbroker() { [[ -x $SISOPI_BUILD/services/sisopi-devbroker ]]; }

# start_stack [stack.sh start options]: a fresh stack in a temp dir, stopped at exit.
start_stack() {
    local args=() line k v
    STACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sisopi-${TEST_NAME}.XXXXXX")
    trap _lib_on_exit EXIT
    if have_devbroker; then
        STACK_HAS_BROKER=1
        args+=(--build "$SISOPI_BUILD")
    elif [[ ${STACK_NEED_BROKER:-0} == 1 ]]; then
        fail "$SISOPI_BUILD/services/sisopi-devbroker is not built"
    else
        STACK_HAS_BROKER=0
        args+=(--no-broker)
        printf '%s: note: no sisopi-devbroker in %s, LDAP only\n' "$TEST_NAME" "$SISOPI_BUILD"
    fi
    run "$STACK_SH" start --dir "$STACK_DIR" "${args[@]}" "$@"
    ((RC == 0)) || fail "stack.sh start failed (exit $RC)"$'\n'"$OUT"
    printf '%s\n' "$OUT" | sed -n 1p
    declare -gA STACK_STATE=()
    while IFS='=' read -r k v; do STACK_STATE[$k]=$v; done <"$STACK_DIR/stack.env"
    STACK_URI=${STACK_STATE[URI]}
    STACK_LDAPI=${STACK_STATE[LDAPI]}
    STACK_BASE=${STACK_STATE[BASE]}
    STACK_ROOTDN=${STACK_STATE[ROOTDN]}
    STACK_BOOTSTRAP=${STACK_STATE[BOOTSTRAP]}
    STACK_SECRET=$STACK_DIR/ldap.secret
    export SISOPI_CONFIG=$STACK_DIR/sisopi.cfg
}

stop_stack() {
    [[ -n $STACK_DIR && -d $STACK_DIR ]] || return 0
    "$STACK_SH" stop --dir "$STACK_DIR" || printf '%s: stack.sh stop failed\n' "$TEST_NAME" >&2
}

# Tests may append commands to run at exit (before the stack stops).
LIB_AT_EXIT=()
_lib_on_exit() {
    local rc=$? c
    for c in "${LIB_AT_EXIT[@]}"; do eval "$c" || true; done
    stop_stack
    if [[ -n $STACK_DIR && -d $STACK_DIR ]]; then
        if ((rc != 0)) || [[ ${KEEP_STACK:-0} == 1 ]]; then
            printf '%s: stack directory kept: %s\n' "$TEST_NAME" "$STACK_DIR" >&2
        else
            rm -rf "$STACK_DIR"
        fi
    fi
    ((rc == 0)) && printf 'PASS %s\n' "$TEST_NAME"
    exit "$rc"
}

# LDAP tools bound as the rootdn with the password file (never -w). Unwrapped LDIF output.
ldap_search() { ldapsearch -x -LLL -o ldif-wrap=no -H "$STACK_URI" -D "$STACK_ROOTDN" -y "$STACK_SECRET" "$@"; }
ldap_add() { ldapadd -x -H "$STACK_URI" -D "$STACK_ROOTDN" -y "$STACK_SECRET" "$@"; }
ldap_modify() { ldapmodify -x -o ldif-wrap=no -H "$STACK_URI" -D "$STACK_ROOTDN" -y "$STACK_SECRET" "$@"; }
ldap_delete() { ldapdelete -x -H "$STACK_URI" -D "$STACK_ROOTDN" -y "$STACK_SECRET" "$@"; }

# ldap_dns ARGS... (ARGS must end with the filter): the DNs a search returns, one per line,
# base64 decoded, sorted.
ldap_dns() {
    local line
    ldap_search "$@" 1.1 | while IFS= read -r line; do
        case $line in
        'dn:: '*) printf '%s\n' "${line#dn:: }" | base64 -d; printf '\n' ;;
        'dn: '*) printf '%s\n' "${line#dn: }" ;;
        esac
    done | LC_ALL=C sort
}

# ldap_attr DN ATTR: the values of ATTR of one entry, one per line, base64 decoded.
ldap_attr() {
    local line
    ldap_search -s base -b "$1" "(objectClass=*)" "$2" | while IFS= read -r line; do
        case ${line,,} in
        "${2,,}:: "*) printf '%s\n' "${line#*:: }" | base64 -d; printf '\n' ;;
        "${2,,}: "*) printf '%s\n' "${line#*: }" ;;
        esac
    done
}

# ldap_exists DN: true if the entry exists.
ldap_exists() { ldap_search -s base -b "$1" 1.1 >/dev/null 2>&1; }

# group_caught_up CFG: the reconcilers' group (CFG's) has committed the end of every partition
# of sisopi.users: everything is applied (offsets are committed after the state and the
# directory). Asks the coordinator, never joins the group.
group_caught_up() {
    local o
    o=$("$SISOPI_BUILD/tests/group_offsets" -c "$1" 2>/dev/null) || return 1
    [[ -n $o && -z $(awk '($2 < 0 ? 0 : $2) != $3' <<<"$o") ]]
}
