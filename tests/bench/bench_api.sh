#!/usr/bin/env bash
# bench_api.sh: what an upload of one school's export costs through sisopi-api, beside the same
# kind of file through sisopi-ingest. Starts its own stack (slapd + the devbroker), a
# reconciler and sisopi-api in a temporary directory and always stops them again.
#
#   tests/bench/bench_api.sh [options]
#     --rows N       rows of each export (default 2000)
#     --build DIR    the build to use (default ./build of the repository; a release build
#                    gives the figures that matter, a sanitizer build is several times slower)
#     --keep         keep the temporary directory (files, logs, stack config)
#     --passwords    import.initial_password = "generated": the API makes, hashes and keeps
#                    a first password for every record it publishes (the command line leaves
#                    them to the reconciler)
#
# Two schools get an export of N new students each: Gym1 through the API, Schule2 through
# sisopi-ingest (record_uids differ, so both create N accounts). Printed, per path:
#   dry run        the dry run's answer (API: curl's total time of the upload; ingest:
#                  sisopi-ingest --dry-run's wall time)
#   published      the real run accepted (API: 201; ingest: sisopi-ingest without --wait)
#   finished       every partition answered (API: polling GET .../ID every 0.2 s from the
#                  upload's start; ingest: sisopi-ingest --wait, publishing included)
# Then the same files again (every account unchanged) through both paths.
#
# Exit status: 0 when every step succeeded; 1 otherwise. No figure is judged.
set -Eeuo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PROG=bench_api.sh
ROWS=2000
BUILD=$SRC/build
KEEP=0
PASSWORDS=0
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
while (($#)); do
    case $1 in
    --rows) ROWS=${2:?}; shift 2 ;;
    --build) BUILD=${2:?}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --passwords) PASSWORDS=1; shift ;;
    -h | --help) sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
done
if ! [[ $ROWS =~ ^[0-9]+$ ]] || ((ROWS == 0)); then die "--rows: not a positive number"; fi
B=$BUILD/services
for p in sisopi-api sisopi-ingest sisopi-reconciler sisopi-devbroker; do
    [[ -x $B/$p ]] || die "$B/$p is not built"
done
[[ -x $BUILD/tests/bench/bench_gen_csv ]] || die "$BUILD/tests/bench/bench_gen_csv is not built"
for t in curl jq; do command -v "$t" >/dev/null || die "$t is not installed"; done

W=$(mktemp -d "${TMPDIR:-/tmp}/sisopi-bench-api.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    "$SRC/deploy/stack.sh" stop --dir "$W/stack" >/dev/null 2>&1 || true
    if ((KEEP)); then printf '%s: kept %s\n' "$PROG" "$W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

"$SRC/deploy/stack.sh" start --dir "$W/stack" --build "$BUILD" --schools "Gym1 Schule2 Warmup" >/dev/null
BASE=$(sed -n 's/^BASE=//p' "$W/stack/stack.env")
URI=$(sed -n 's/^URI=//p' "$W/stack/stack.env")
# No deletion guard in the way, and the API on any free port.
sed -e 's/deletion_grace_period = "90d";/&\n  deletion_guard: { max_ratio = 1.0; max_count = 1000000; };/' \
    "$W/stack/sisopi.cfg" >"$W/sisopi.cfg"
printf 'api:\n{\n  listen = "127.0.0.1:0";\n  state_dir = "%s/api";\n  max_upload_bytes = 104857600;\n};\n' "$W" >>"$W/sisopi.cfg"
CFG=$W/sisopi.cfg
if ((PASSWORDS)); then
    sed -i 's/^  tolerate_errors = 0;/&\n  initial_password = "generated";/' "$CFG"
    grep -q 'initial_password = "generated"' "$CFG" || die "could not set initial_password"
fi
PW=bench-$(od -An -tx1 -N6 /dev/urandom | tr -d ' \n')
{
    printf 'dn: uid=office,ou=Gym1,%s\nobjectClass: inetOrgPerson\nuid: office\ncn: office\nsn: office\nuserPassword: %s\n\n' "$BASE" "$PW"
    printf 'dn: cn=import-gym1,ou=Gym1,%s\nobjectClass: groupOfNames\nobjectClass: ucsschoolImportGroup\ncn: import-gym1\n' "$BASE"
    printf 'member: uid=office,ou=Gym1,%s\nucsschoolImportSchool: Gym1\nucsschoolImportRole: student\n' "$BASE"
} | ldapadd -x -H "$URI" -D "cn=admin,$BASE" -y "$W/stack/ldap.secret" >/dev/null

"$BUILD/tests/bench/bench_gen_csv" "$ROWS" Gym1 1 >"$W/gym1.csv"
"$BUILD/tests/bench/bench_gen_csv" "$ROWS" Schule2 2 >"$W/schule2.csv"

"$B/sisopi-reconciler" -c "$CFG" >"$W/reconciler.log" 2>&1 &
PIDS+=($!)
"$B/sisopi-api" -c "$CFG" >"$W/api.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q api_listening "$W/api.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*api_listening.* port=\([0-9]*\).*/\1/p' "$W/api.log")
[[ -n $PORT ]] || die "sisopi-api did not start: $(cat "$W/api.log")"
U=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do [[ $(curl -s -o /dev/null -w '%{http_code}' "$U/healthz") == 200 ]] && break; sleep 0.2; done
TOK=$(curl -sf -X POST -u "office:$PW" "$U/api/v1/token" | jq -r .token)
# The reconciler's first group join takes seconds: one small import first, not measured.
"$BUILD/tests/bench/bench_gen_csv" 1 Warmup 3 >"$W/warmup.csv"
"$B/sisopi-ingest" -c "$CFG" -q --school Warmup --role student --wait --timeout 2m "$W/warmup.csv" \
    >"$W/warmup.out" 2>&1 || die "warm-up import: $(tail -n 5 "$W/warmup.out")"

# api_upload DRYRUN: prints "SECONDS ID".
api_upload() {
    local out
    out=$(curl -sS -w '\n%{http_code} %{time_total}' -H "Authorization: Bearer $TOK" \
        -F school=Gym1 -F user_role=student -F "dryrun=$1" -F "input_file=@$W/gym1.csv" \
        "$U/api/v1/imports/users/")
    local code t
    read -r code t < <(tail -n 1 <<<"$out")
    [[ $code == 201 ]] || die "upload (dryrun=$1): HTTP $code: $(head -n 1 <<<"$out")"
    printf '%s %s\n' "$t" "$(head -n 1 <<<"$out" | jq -r .id)"
}
api_finished() { # ID START: waits for finished, prints seconds since START
    local st
    for _ in $(seq 1 3000); do
        st=$(curl -s -H "Authorization: Bearer $TOK" "$U/api/v1/imports/users/$1" | jq -r .status)
        [[ $st == finished ]] && { since "$2"; return; }
        [[ $st == started ]] || die "job $1: status $st"
        sleep 0.2
    done
    die "job $1 not finished within 600 s"
}
ingest() { # ARGS...: prints the wall time
    local t0
    t0=$(now)
    "$B/sisopi-ingest" -c "$CFG" -q --school Schule2 --role student "$@" "$W/schule2.csv" >"$W/ingest.out" 2>&1 ||
        die "sisopi-ingest $*: $(tail -n 5 "$W/ingest.out")"
    since "$t0"
}

printf '%s: %s rows per school, build %s%s\n' "$PROG" "$ROWS" "$BUILD" \
    "$( ((PASSWORDS)) && echo ', first passwords generated')"
printf '%-28s %12s %12s\n' "step (seconds)" "sisopi-api" "ingest"
for round in new unchanged; do
    read -r a_dry _ < <(api_upload true)
    i_dry=$(ingest --dry-run)
    t0=$(now)
    read -r a_pub id < <(api_upload false)
    a_fin=$(api_finished "$id" "$t0")
    i_fin=$(ingest --wait --timeout 10m)
    printf '%-28s %12s %12s\n' "$round: dry run answered" "$a_dry" "$i_dry"
    printf '%-28s %12s %12s\n' "$round: published" "$a_pub" "-"
    printf '%-28s %12s %12s\n' "$round: finished" "$a_fin" "$i_fin"
done
