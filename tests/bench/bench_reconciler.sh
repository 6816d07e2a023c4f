#!/usr/bin/env bash
# The reconciler's initial load beside the directory's own limit, in the same run and the same
# slapd: N students (default 10,000) of one school ingested, then sisopi-reconciler --until-idle
# from the first message to idle (group join excluded), against bench_raw_ldap adding N
# entries of the same shape with the same window. Prints figures; asserts nothing about time.
#   tests/bench/bench_reconciler.sh [--rows N] [--build DIR]
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROWS=10000
BUILD=$SRC/build
while (($#)); do
    case $1 in
    --rows) ROWS=$2; shift ;;
    --build) BUILD=$2; shift ;;
    *) echo "usage: $0 [--rows N] [--build DIR]" >&2; exit 64 ;;
    esac
    shift
done
if [[ ! -x $BUILD/services/sisopi-reconciler ]]; then
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" >/dev/null
fi
DIR=$(mktemp -d /tmp/sisopi-bench-rec.XXXXXX)
trap '"$SRC/deploy/stack.sh" stop --dir "$DIR/stack" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
"$SRC/deploy/stack.sh" start --dir "$DIR/stack" --build "$BUILD" --schools "Bench Raw" >/dev/null 2>&1
CFG=$DIR/stack/sisopi.cfg
BASE=$(sed -n 's/^ *base = "\(.*\)";/\1/p' "$CFG")

# The limit: the same number of adds, same window, into the same slapd.
raw=$("$BUILD/tests/bench/bench_raw_ldap" -c "$CFG" "cn=schueler,cn=users,ou=Raw,$BASE" "$ROWS")
raw_rate=$(sed -n 's/.*adds_per_s \([0-9]*\).*/\1/p' <<<"$raw")

"$BUILD/tests/bench/bench_gen_csv" "$ROWS" Bench 42 >"$DIR/bench.csv"
"$BUILD/services/sisopi-ingest" -c "$CFG" -q --school Bench --role student "$DIR/bench.csv" >"$DIR/ingest.out"
/usr/bin/time -f '%e %M' -o "$DIR/time" "$BUILD/services/sisopi-reconciler" -c "$CFG" --until-idle \
    >"$DIR/rec.log" 2>&1 || { tail "$DIR/rec.log"; exit 1; }
t_assign=$(sed -n 's/^\([^ ]*\) info reconciler partitions_assigned.*/\1/p' "$DIR/rec.log" | head -1)
t_end=$(sed -n 's/^\([^ ]*\) info reconciler summary.*/\1/p' "$DIR/rec.log")
secs=$(( $(date -d "$t_end" +%s%3N) - $(date -d "$t_assign" +%s%3N) ))
created=$(sed -n 's/.* created=\([0-9]*\).*/\1/p' "$DIR/rec.log")
rss=$(cut -d' ' -f2 "$DIR/time")
ldap_users=$(ldapsearch -x -LLL -H "$(sed -n 's/^ *uri = "\(.*\)";/\1/p' "$CFG")" \
    -D "cn=admin,$BASE" -y "$DIR/stack/ldap.secret" -b "ou=Bench,$BASE" '(objectClass=inetOrgPerson)' 1.1 |
    grep -c '^dn:')
awk -v n="$ROWS" -v ms="$secs" -v raw="$raw_rate" -v c="$created" -v u="$ldap_users" -v rss="$rss" 'BEGIN {
    rate = n / (ms / 1000.0)
    printf "reconciler initial load: %d persons (%d created, %d in the directory)\n", n, c, u
    printf "%-34s %10s %12s %10s\n", "", "seconds", "persons/s", "vs raw"
    printf "%-34s %10.2f %12.0f %10.2f\n", "sisopi-reconciler (join excluded)", ms / 1000.0, rate, rate / raw
    printf "%-34s %10.2f %12.0f %10.2f\n", "raw async ldap_add, same window", n / raw, raw, 1.0
    printf "reconciler peak RSS: %.1f MiB\n", rss / 1024.0
}'
