#!/usr/bin/env bash
# /metrics and /healthz of the three long-running services, scraped with curl while they work
# against a real slapd and the devbroker: the reconciler's messages, events, lag per partition,
# LDAP operations by type and result with their latency histogram, held imports, the time of
# the last completed import per school and role (not moved by a held import, moved by its
# release); its health while the directory is down and after it is back; the scheduler's
# purges, sweeps and the time of its last successful sweep; the
# watching ingest's files and records. Plus the endpoint's own behaviour: 404, 405, a bad
# address, a port in use.
# shellcheck disable=SC2016 # expressions in single quotes are for eval, later
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
command -v curl >/dev/null || fail "curl is not installed (deploy/install-deps.sh installs it)"

step "start the stack"
start_stack --schools "SchA"
W=$STACK_DIR/work
mkdir -p "$W/drop/SchA"
CFG=$STACK_DIR/sisopi.cfg
BASE=$STACK_BASE

PIDS=()
LIB_AT_EXIT+=('for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; true')
port_of() { sed -n 's/.*metrics_listening .*port=\([0-9]*\).*/\1/p' "$1" | tail -n 1; }
has_port() { [[ -n $(port_of "$1") ]]; }
# serve NAME LOG CMD...: starts a long-running service, waits for the port it logs; sets PORT.
serve() {
    local name=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 &
    PIDS+=($!)
    wait_for 30 "the $name logs its metrics port" has_port "$log"
    PORT=$(port_of "$log")
    wait_for 30 "the $name healthy" healthy "$PORT"
}
scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$1/metrics"; }
# value PORT SERIES: the value of one exact series line (name{labels}), or nothing.
value() { scrape "$1" | awk -v s="$2" '$1 == s { print $2 }'; }
value_is() { [[ $(value "$1" "$2") == "$3" ]]; }
health() { curl -sS --max-time 5 -o "$W/health.body" -w '%{http_code}' "http://127.0.0.1:$1/healthz"; }
healthy() { [[ $(health "$1") == 200 ]]; }
has_value() { [[ -n $(value "$1" "$2") ]]; }
# within WHAT VALUE LO HI: fails unless LO <= VALUE <= HI (numbers; Unix times here).
within() {
    awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v != "" && v + 0 >= lo && v + 0 <= hi) }' ||
        fail "$1: $2 is not within [$3, $4]"
}
# The end of a time window that began with `date +%s` (a whole second, rounded down).
now_ceil() { echo $(($(date +%s) + 1)); }
LAST_IMPORT='sisopi_last_import_completed_timestamp_seconds{school="SchA",role="student"}'
unhealthy() { [[ $(health "$1") == 503 ]]; }
exists() { [[ -n $(ldap_search -b "$BASE" "(ucsschoolRecordUID=$1)" 1.1 2>/dev/null | sed -n 's/^dn: //p') ]]; }
csv() { printf '%s\n' "record_uid,firstname,lastname,school,classes" "$@" >"$W/in.csv"; }
ingest() {
    run "$B_/sisopi-ingest" -c "$CFG" -q --school SchA --role student "$W/in.csv"
    ((RC == 0)) || fail "ingest: $OUT"
    IID=$(sed -n 's/^import_id: *//p' <<<"$OUT")
}

step "the reconciler serves /metrics and /healthz on the port it logs"
serve reconciler "$W/rec.log" "$B_/sisopi-reconciler" -c "$CFG"
RP=$PORT
assert_eq "ok" "$(cat "$W/health.body")" "/healthz body"
assert_eq 1 "$(value "$RP" 'sisopi_up{service="reconciler"}')" "sisopi_up"

step "an import shows up as messages, events, LDAP operations and no lag"
assert_eq "" "$(value "$RP" "$LAST_IMPORT")" "no completed import before the first one"
csv "S1,Ann,One,SchA,1a" "S2,Ben,Two,SchA,1a" "S3,Cem,Three,SchA,1b"
T0=$(date +%s)
ingest
wait_for 60 "three accounts" eval 'exists S1 && exists S2 && exists S3'
wait_for 10 "three Created events counted" value_is "$RP" 'sisopi_events_total{type="Created"}' 3
# The records are applied as they come; the end markers of partitions without a record may
# still be on their way when the accounts exist, so the count is awaited, not read once.
consumed_at_least() {
    local c
    c=$(scrape "$RP" | awk '$1 == "sisopi_messages_consumed_total" { print $2 }')
    ((${c:-0} >= $1))
}
wait_for 30 "3 records + 12 end markers consumed" consumed_at_least $((3 + 12))
M=$(scrape "$RP")
adds=$(awk '$1 == "sisopi_ldap_operations_total{op=\"add\",result=\"success\"}" { print $2 }' <<<"$M")
((adds >= 3)) || fail "LDAP adds counted: $adds"$'\n'"$M"
inf=$(awk '$1 == "sisopi_ldap_latency_seconds_bucket{op=\"add\",le=\"+Inf\"}" { print $2 }' <<<"$M")
cnt=$(awk '$1 == "sisopi_ldap_latency_seconds_count{op=\"add\"}" { print $2 }' <<<"$M")
[[ -n $inf && $inf == "$cnt" ]] || fail "histogram +Inf bucket ($inf) != count ($cnt)"
# Buckets never decrease.
awk -F'[ ]' '/^sisopi_ldap_latency_seconds_bucket\{op="add"/ { if ($2 < last) bad = 1; last = $2 }
    END { exit bad }' <<<"$M" || fail "add latency buckets decrease"
assert_eq 12 "$(grep -c '^sisopi_consumer_lag{partition="[0-9]*"}' <<<"$M")" "lag of 12 partitions"
wait_for 10 "lag 0 everywhere" eval \
    '[[ -z $(scrape "$RP" | awk '"'"'/^sisopi_consumer_lag/ && $2 != 0'"'"') ]]'
# Every sample belongs to a family declared with # TYPE before it (Prometheus text format).
awk '/^# TYPE / { t[$3] = 1; next } /^#/ { next }
     { n = $1; sub(/\{.*/, "", n); b = n; sub(/_(bucket|sum|count)$/, "", b)
       if (!(n in t) && !(b in t)) { print "undeclared: " n; bad = 1 } } END { exit bad }' \
    <<<"$M" || fail "a sample without # TYPE"

step "the completed import's time, by school and role"
wait_for 10 "the last completed import shown" has_value "$RP" "$LAST_IMPORT"
DONE1=$(value "$RP" "$LAST_IMPORT")
within "the last completed import" "$DONE1" "$T0" "$(now_ceil)"
assert_eq 1 "$(scrape "$RP" | grep -c '^sisopi_last_import_completed_timestamp_seconds{')" \
    "one school and role imported, one series"

step "a held import is counted until it is released"
csv "S1,Ann,One,SchA,1a"
ingest # drops two of three: more than the default guard (20 %) allows
# Counted per partition: the ingest decided for the whole import, so all 12 hold it.
wait_for 30 "the import held on every partition" value_is "$RP" 'sisopi_imports{state="held"}' 12
# Published together with the held count (the imports every 5 s, the rest every second).
assert_eq "$DONE1" "$(value "$RP" "$LAST_IMPORT")" "a held import is not a completed one"
T1=$(date +%s)
assert_ok "release" "$B_/sisopi-admin" -c "$CFG" release "$IID"
wait_for 30 "no held import" value_is "$RP" 'sisopi_imports{state="held"}' 0
moved() { [[ $(value "$RP" "$LAST_IMPORT") != "$DONE1" ]]; }
wait_for 10 "the released import counted as completed" moved
within "the last completed import after the release" "$(value "$RP" "$LAST_IMPORT")" "$T1" "$(now_ceil)"

step "after a restart, lag counts from the committed offsets until a partition is consumed"
# Everything is applied and committed: a new reconciler (same group, same state) that has not
# consumed anything yet has no position on any partition, and must not report the whole
# partition as lag (an alert on lag would fire after every restart).
wait_for 30 "lag 0 everywhere before the restart" eval \
    '[[ -z $(scrape "$RP" | awk '"'"'/^sisopi_consumer_lag/ && $2 != 0'"'"') ]]'
kill "${PIDS[0]}"
wait "${PIDS[0]}" || fail "the reconciler did not stop cleanly"
PIDS=("${PIDS[@]:1}")
serve reconciler "$W/rec2.log" "$B_/sisopi-reconciler" -c "$CFG"
RP=$PORT
lag_series() { [[ $(scrape "$RP" | grep -c '^sisopi_consumer_lag{partition="[0-9]*"}') == 12 ]]; }
wait_for 60 "lag of 12 partitions after the restart" lag_series
M=$(scrape "$RP")
assert_eq 12 "$(value "$RP" sisopi_partitions_assigned)" "all partitions assigned"
assert_eq "" "$(awk '/^sisopi_consumer_lag/ && $2 != 0' <<<"$M")" "no lag: all was committed"
# A new import: its partitions are counted from the committed offset, then consumed to 0.
# The time of the last completed import is kept in memory only: none until the next one.
assert_eq "" "$(value "$RP" "$LAST_IMPORT")" "no completed import known after the restart"
csv "S1,Ann,One,SchA,1a" "S6,Fay,Six,SchA,1a"
T2=$(date +%s)
ingest
wait_for 60 "S6 created" exists S6
wait_for 30 "the new import's completion shown" has_value "$RP" "$LAST_IMPORT"
within "the last completed import after the restart" "$(value "$RP" "$LAST_IMPORT")" "$T2" "$(now_ceil)"
wait_for 10 "lag 0 everywhere after the new import" eval \
    '[[ -z $(scrape "$RP" | awk '"'"'/^sisopi_consumer_lag/ && $2 != 0'"'"') ]]'

step "/healthz says 503 while the directory is down, 200 once it is back"
SLAPD_PID=$(cat "$STACK_DIR/slapd.pid")
mapfile -d '' SLAPD_CMD <"/proc/$SLAPD_PID/cmdline"
[[ ${SLAPD_CMD[0]} == *slapd ]] || fail "unexpected slapd command line: ${SLAPD_CMD[*]}"
# The ingest reads the directory before it publishes: the import goes out with the reconciler
# stopped (SIGSTOP, shorter than session.timeout.ms), and slapd is gone before it applies it.
csv "S1,Ann,One,SchA,1a" "S4,Dan,Four,SchA,1a"
kill -STOP "${PIDS[0]}"
ingest
kill -9 "$SLAPD_PID"
wait_for 10 "slapd gone" eval '! proc_alive "$SLAPD_PID"'
kill -CONT "${PIDS[0]}"
wait_for 60 "the reconciler unhealthy" unhealthy "$RP"
assert_contains "$(cat "$W/health.body")" "retrying" "why it is unhealthy"
"${SLAPD_CMD[@]}" </dev/null >>"$STACK_DIR/slapd.log" 2>&1 &
printf '%s\n' "$!" >"$STACK_DIR/slapd.pid"
wait_for 90 "S4 created after the outage" exists S4
wait_for 30 "the reconciler healthy again" healthy "$RP"
losses=$(value "$RP" 'sisopi_ldap_connection_losses_total')
((losses >= 1)) || fail "connection losses counted: $losses"

step "the scheduler's purges and sweeps"
T3=$(date +%s)
serve scheduler "$W/sch.log" "$B_/sisopi-scheduler" -c "$CFG"
SP=$PORT
wait_for 10 "one sweep" value_is "$SP" 'sisopi_sweeps_total{result="ok"}' 1
within "the last successful sweep" "$(value "$SP" sisopi_last_sweep_timestamp_seconds)" "$T3" "$(now_ceil)"
assert_eq 2 "$(value "$SP" sisopi_purges_scheduled)" "S2 and S3 in limbo (90-day date)"
assert_eq 0 "$(value "$SP" sisopi_purges_due)" "none due"
assert_eq 1 "$(value "$SP" 'sisopi_up{service="scheduler"}')" "sisopi_up"

step "the watching ingest's files and records"
serve ingest "$W/ing.log" "$B_/sisopi-ingest" -c "$CFG" --watch "$W/drop" --interval 1
IP=$PORT
printf '%s\n' "record_uid,firstname,lastname,school,classes" "S1,Ann,One,SchA,1a" \
    "S4,Dan,Four,SchA,1a" "S5,Eva,Five,SchA,1a" >"$W/drop/SchA/.student.csv"
mv "$W/drop/SchA/.student.csv" "$W/drop/SchA/student.csv"
wait_for 30 "one file done" value_is "$IP" 'sisopi_import_files_total{result="done"}' 1
assert_eq 3 "$(value "$IP" sisopi_records_produced_total)" "records produced"
assert_eq 12 "$(value "$IP" sisopi_end_markers_produced_total)" "end markers produced"
healthy "$IP" || fail "the ingest unhealthy: $(cat "$W/health.body")"

step "the endpoint: 404 elsewhere, 405 for POST, a bad address, a port in use"
assert_eq 404 "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$RP/other")" "404"
assert_eq 405 "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$RP/metrics")" "405"
assert_rc 1 "a bad address" "$B_/sisopi-scheduler" -c "$CFG" --metrics "localhost:x"
assert_contains "$OUT" "not HOST:PORT" "the error says what is wrong"
assert_rc 1 "a port in use" "$B_/sisopi-scheduler" -c "$CFG" --metrics "127.0.0.1:$RP"
assert_contains "$OUT" "cannot listen on 127.0.0.1:$RP" "the error names the address"
sed 's/scheduler = "127.0.0.1:0";/scheduler = "127.0.0.1:99999";/' "$CFG" >"$W/bad.cfg"
assert_rc 1 "a bad port in the config" "$B_/sisopi-scheduler" -c "$W/bad.cfg" --once
assert_contains "$OUT" "metrics.scheduler" "the config error names the key"

step "the services stop cleanly on SIGTERM"
for p in "${PIDS[@]}"; do kill "$p"; done
for p in "${PIDS[@]}"; do wait "$p" || fail "a service did not stop cleanly (pid $p)"; done
PIDS=()

step "logs: one JSON object a line with output.log_format json; no password in any log"
sed 's/log_format = "kv";/log_format = "json";/' "$CFG" >"$W/json.cfg"
grep -q 'log_format = "json"' "$W/json.cfg" || fail "could not write the JSON config"
CFG=$W/json.cfg
csv "S1,Ann,One,SchA,1a" # drops S4 and S5: more than the guard allows, held
ingest
timeout 120 "$B_/sisopi-reconciler" -c "$CFG" --until-idle --idle-open 3 --metrics "" \
    >/dev/null 2>"$W/json.log" || fail "reconciler: $(tail -n 3 "$W/json.log")"
[[ -s $W/json.log ]] || fail "no log lines"
jq -e -s 'length > 3 and all(.[]; (.ts | test("^20[0-9-]+T[0-9:.]+Z$")) and .level != null
    and .service == "reconciler" and .event != null)' "$W/json.log" >/dev/null ||
    fail "not one JSON object with ts, level, service, event per line:"$'\n'"$(head -n 5 "$W/json.log")"
assert_contains "$(jq -r 'select(.event == "import_held") | .import_id' "$W/json.log")" "$IID" \
    "the held import's log line carries its import_id"
pw=$(head -n 1 "$STACK_SECRET")
[[ -n $pw ]] || fail "empty LDAP password file"
! grep -rqF -- "$pw" "$W"/*.log "$STACK_DIR"/*.log || fail "the LDAP password appears in a log"
