#!/usr/bin/env bash
# bench_connector.sh: sisopi-connector's replication rate into one school authority's
# directory, beside that directory's own raw write rate measured in the same run, and the
# time from an import's last ImportCompleted to the authority being up to date. Prints the
# figures; asserts nothing about time, only that every person arrived (exit 1 loudly if not).
#
#   tests/bench/bench_connector.sh [options]
#     --persons N    students of one school, all of one authority (default 2000)
#     --build DIR    the build to measure (default $SISOPI_BUILD, else ./build of the
#                    repository); a sanitizer build works but measures the sanitizers
#     --budget SEC   hang guard for the whole run (default 1800); never compared with a figure
#     --keep         keep the work directory (stacks, logs)
#
# What it does, on one central stack (slapd + devbroker) and two authority directories
# (stack.sh --no-broker, the same slapd configuration), every wait bounded:
#   1. raw: bench_raw_ldap adds N student-shaped entries to authority B (school OU Raw) with
#      a window of 1 (one operation at a time, as the connector writes), modifies them (window
#      1), deletes them and adds them again with a window of 64;
#   2. live: authority A's connector runs while N students of SchA are imported (ingest, then
#      the reconciler): the time from the import's last ImportCompleted event (its CreateTime)
#      to A holding all N;
#   3. catch-up: authority B's connector starts after all of it and replicates the N from its
#      group's start: persons/s from its first entry to its last (B's raw rate beside it);
#   4. a change of every last name, replicated into B while the connector runs: modifies/s.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PROG=bench_connector.sh
PERSONS=2000
BUILD=${SISOPI_BUILD:-$SRC/build}
BUDGET=1800
KEEP=0
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }
while (($#)); do
    case $1 in
    --persons) PERSONS=$2 && shift ;;
    --build) BUILD=$2 && shift ;;
    --budget) BUDGET=$2 && shift ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' && exit 0 ;;
    *) die "unknown option $1 (--help)" ;;
    esac
    shift
done
[[ $PERSONS =~ ^[1-9][0-9]{0,6}$ ]] || die "--persons: a number from 1 to 9999999"
B=$BUILD/services
for p in sisopi-connector sisopi-ingest sisopi-reconciler sisopi-devbroker sisopi-admin; do
    [[ -x $B/$p ]] || die "$B/$p is not built"
done
RAW=$BUILD/tests/bench/bench_raw_ldap
[[ -x $RAW ]] || die "$RAW is not built"
command -v kcat >/dev/null || die "kcat is not installed (deploy/install-deps.sh)"
BTYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)
SAN=$(sed -n 's/^SISOPI_SANITIZE:BOOL=//p' "$BUILD/CMakeCache.txt" 2>/dev/null || true)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sisopi-bench-connector.XXXXXX")
START_S=$(date +%s)
remaining() { echo $((BUDGET - ($(date +%s) - START_S) > 1 ? BUDGET - ($(date +%s) - START_S) : 1)); }
PIDS=()
cleanup() {
    local p d
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    for d in central authA authB; do
        if [[ -d $WORK/$d ]]; then
            "$SRC/deploy/stack.sh" stop --dir "$WORK/$d" >/dev/null 2>&1 || true
        fi
    done
    if ((KEEP)); then note "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
now_ms() {
    local t=${EPOCHREALTIME/[,.]/}
    printf '%s' "${t:0:-3}"
}
# wait_until SEC WHAT CMD...: polls CMD every 0.25 s (each poll is one search of the
# authority's directory: the figures below are +-0.25 s).
wait_until() {
    local n=$(($1 * 4)) what=$2
    shift 2
    while ((n-- > 0)); do
        "$@" && return 0
        sleep 0.25
    done
    die "$what: not reached within $1 s"
}

declare -A URI=() RDN=() BASE=()
stack() { # NAME ARGS...
    local name=$1 k v
    shift
    "$SRC/deploy/stack.sh" start --dir "$WORK/$name" --build "$BUILD" "$@" >"$WORK/$name.start.log" 2>&1 ||
        die "stack.sh start $name failed: $(tail -n 5 "$WORK/$name.start.log")"
    declare -A st=()
    while IFS='=' read -r k v; do st[$k]=$v; done <"$WORK/$name/stack.env"
    URI[$name]=${st[URI]}
    RDN[$name]=${st[ROOTDN]}
    BASE[$name]=${st[BASE]}
}
count() { # AUTH: entries the connector made there
    ldapsearch -x -LLL -H "${URI[$1]}" -D "${RDN[$1]}" -y "$WORK/$1/ldap.secret" -b "${BASE[$1]}" \
        "(ucsschoolRole=sisopi_connector:authority:$1)" 1.1 2>/dev/null | grep -c '^dn:' || true
}
count_sn() { # AUTH SUFFIX: entries there whose sn ends with SUFFIX
    ldapsearch -x -LLL -H "${URI[$1]}" -D "${RDN[$1]}" -y "$WORK/$1/ldap.secret" -b "${BASE[$1]}" \
        "(&(ucsschoolRole=sisopi_connector:authority:$1)(sn=*$2))" 1.1 2>/dev/null | grep -c '^dn:' || true
}
reached() { (($(count "$1") >= $2)); }
reached_sn() { (($(count_sn "$1" "$2") >= $3)); }

note "stacks: central (slapd + devbroker), authorities authA and authB"
stack central --schools SchA
stack authA --no-broker --schools SchA --base dc=authA,dc=org
stack authB --no-broker --schools "SchA Raw" --base dc=authB,dc=org
CFG=$WORK/connector.cfg
{
    cat "$WORK/central/sisopi.cfg"
    printf 'connector = {\n  authorities = (\n'
    for a in authA authB; do
        printf '    { name = "%s"; uri = "%s"; base = "%s"; bind_dn = "%s";\n      password_file = "%s"; passwords = true; }%s\n' \
            "$a" "${URI[$a]}" "${BASE[$a]}" "${RDN[$a]}" "$WORK/$a/ldap.secret" "$([[ $a == authA ]] && echo ,)"
    done
    printf '  );\n  school_to_authority = ( [ "SchA", "authA", "authB" ] );\n};\n'
} >"$CFG"

# ---- 1. raw ----
note "raw: $PERSONS adds into authB (window 1), modifies (window 1), adds again (window 64)"
RAWCFG=$WORK/authB/sisopi.cfg
PARENT="cn=schueler,cn=users,ou=Raw,${BASE[authB]}"
out=$(timeout "$(remaining)" "$RAW" -c "$RAWCFG" "$PARENT" "$PERSONS" 1 2>"$WORK/raw1.err") ||
    die "bench_raw_ldap failed: $out $(tail -n 3 "$WORK/raw1.err")"
RAW_ADD1=$(awk '{ print $6 }' <<<"$out")
out=$(timeout "$(remaining)" "$RAW" -c "$RAWCFG" --modify "$PARENT" "$PERSONS" 1 2>"$WORK/rawm.err") ||
    die "bench_raw_ldap --modify failed: $out $(tail -n 3 "$WORK/rawm.err")"
RAW_MOD1=$(awk '{ print $6 }' <<<"$out")
# The same uids again (the directory keeps uid unique): the first ones go first.
seq 0 $((PERSONS - 1)) | sed "s/.*/uid=raw.user&,$PARENT/" |
    ldapdelete -x -c -H "${URI[authB]}" -D "${RDN[authB]}" -y "$WORK/authB/ldap.secret" \
        >"$WORK/rawdel.log" 2>&1 || die "could not delete the raw entries: $(tail -n 3 "$WORK/rawdel.log")"
out=$(timeout "$(remaining)" "$RAW" -c "$RAWCFG" "$PARENT" "$PERSONS" 64 2>"$WORK/raw64.err") ||
    die "bench_raw_ldap (window 64) failed: $out $(tail -n 3 "$WORK/raw64.err")"
RAW_ADD64=$(awk '{ print $6 }' <<<"$out")

# ---- 2. live: authA's connector runs during the import ----
"$B/sisopi-connector" -c "$CFG" --authority authA --metrics "" >"$WORK/connA.log" 2>&1 &
PIDS+=($!)
F=$WORK/SchA.csv
awk -v n="$PERSONS" 'BEGIN { print "record_uid,firstname,lastname,school,classes";
    for (i = 1; i <= n; i++) printf "R%07d,Vor%d,Nach%d,SchA,%da\n", i, i, i, i % 12 + 1 }' >"$F"
note "live: import of $PERSONS students at SchA, authA's connector running"
sleep 4 # its group join (the mock broker's first join takes 3 s)
IMPORT_START=$(now_ms)
"$B/sisopi-ingest" -c "$WORK/central/sisopi.cfg" -q --school SchA --role student "$F" \
    >"$WORK/ingest.log" 2>&1 || die "ingest failed: $(tail -n 5 "$WORK/ingest.log")"
IID=$(sed -n 's/^import_id: *//p' "$WORK/ingest.log")
[[ -n $IID ]] || die "no import_id in $(cat "$WORK/ingest.log")"
timeout "$(remaining)" "$B/sisopi-reconciler" -c "$WORK/central/sisopi.cfg" --until-idle \
    --idle-open 3 >"$WORK/reconciler.log" 2>&1 || die "reconciler failed: $(tail -n 5 "$WORK/reconciler.log")"
wait_until "$(remaining)" "authA holds $PERSONS" reached authA "$PERSONS"
UPTODATE_A=$(now_ms)
# The last ImportCompleted of the import: its messages on sisopi.events are keyed by the
# import_id; %T is the CreateTime the reconciler gave it.
BS=$(cat "$WORK/central/bootstrap")
LAST_IC=$(timeout 60 kcat -C -b "$BS" -t sisopi.events -e -q -f '%k %T\n' 2>/dev/null |
    awk -v k="$IID" '$1 == k && $2 > m { m = $2 } END { printf "%.0f\n", m }')
((LAST_IC > 0)) || die "no ImportCompleted of $IID found on sisopi.events"

# ---- 3. catch-up into authB ----
note "catch-up: authB's connector replicates the $PERSONS from its group's start"
T0=$(now_ms)
"$B/sisopi-connector" -c "$CFG" --authority authB --metrics "" >"$WORK/connB.log" 2>&1 &
PIDS+=($!)
wait_until "$(remaining)" "authB's first entry" reached authB 1
T1=$(now_ms)
wait_until "$(remaining)" "authB holds $PERSONS" reached authB "$PERSONS"
T2=$(now_ms)

# ---- 4. a change of everybody, replicated into authB (and authA) while running ----
note "modify: every last name changes"
awk -v n="$PERSONS" 'BEGIN { print "record_uid,firstname,lastname,school,classes";
    for (i = 1; i <= n; i++) printf "R%07d,Vor%d,Nach%dx,SchA,%da\n", i, i, i, i % 12 + 1 }' >"$F"
"$B/sisopi-ingest" -c "$WORK/central/sisopi.cfg" -q --school SchA --role student "$F" \
    >"$WORK/ingest2.log" 2>&1 || die "ingest failed: $(tail -n 5 "$WORK/ingest2.log")"
timeout "$(remaining)" "$B/sisopi-reconciler" -c "$WORK/central/sisopi.cfg" --until-idle \
    --idle-open 3 >>"$WORK/reconciler.log" 2>&1 || die "reconciler failed"
M0=$(now_ms)
wait_until "$(remaining)" "authB has every new name" reached_sn authB x "$PERSONS"
M1=$(now_ms)
wait_until "$(remaining)" "authA has every new name" reached_sn authA x "$PERSONS"
for v in authA authB; do
    out=$("$B/sisopi-connector" -c "$CFG" verify --authority "$v" 2>&1) ||
        die "verify $v after the bench: $(tail -n 5 <<<"$out")"
done

rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }'; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
printf '\nsisopi-connector benchmark: %s persons, build %s%s, %s\n' "$PERSONS" "${BTYPE:-?}" \
    "$([[ $SAN == ON ]] && echo ' (sanitizers)')" "$(date -u +%FT%TZ)"
printf '  %-58s %10s\n' "authority directory, raw adds, 1 at a time (/s)" "$RAW_ADD1"
printf '  %-58s %10s\n' "authority directory, raw adds, 64 in flight (/s)" "$RAW_ADD64"
printf '  %-58s %10s\n' "authority directory, raw modifies, 1 at a time (/s)" "$RAW_MOD1"
printf '  %-58s %10s\n' "connector catch-up into authB, new persons (/s)" "$(rate "$PERSONS" $((T2 - T1)))"
printf '  %-58s %10s\n' "  (group join and start until its first entry, s)" "$(secs $((T1 - T0)))"
printf '  %-58s %10s\n' "connector, every last name changed, authB (persons/s)" "$(rate "$PERSONS" $((M1 - M0)))"
printf '  %-58s %10s\n' "live: import start to authA up to date (s)" "$(secs $((UPTODATE_A - IMPORT_START)))"
printf '  %-58s %10s\n' "live: last ImportCompleted to authA up to date (s)" "$(secs $((UPTODATE_A - LAST_IC)))"
