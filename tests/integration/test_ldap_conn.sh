#!/usr/bin/env bash
# common/dir_conn.c against a real slapd (tests/tools/dir_conn_check drives it): 2,000 adds with
# a window of 64 read back by a paged search, permissive modifies and read-back controls, a uid
# collision (unique overlay) failing only its own operation, atomic counters over two
# connections, rename/move, delete, bind failures with clear messages, ldapi:// with SASL
# EXTERNAL, and connection loss (slapd stopped, slapd killed and restarted) completing every
# outstanding operation; ldap.timeout and ldap.connect_timeout from the config against a
# stopped slapd and loopback ports that never answer. Rates are printed, never asserted.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOOL=$SISOPI_BUILD/tests/dir_conn_check
[[ -x $TOOL ]] || fail "$TOOL is not built"

step "start the stack"
start_stack --no-broker --schools "Gym1"
B=$STACK_BASE
CFG=$SISOPI_CONFIG
STU="cn=schueler,cn=users,ou=Gym1,$B"
TEA="cn=lehrer,cn=users,ou=Gym1,$B"
STAFF="cn=mitarbeiter,cn=users,ou=Gym1,$B"

# check NAME ARGS...: runs the tool (bounded), shows its output, fails unless it says "ok".
check() {
    local name=$1
    shift
    run timeout 120 "$TOOL" -c "$CFG" "$@"
    printf '%s\n' "$OUT" | grep -v '^20[0-9-]*T' | sed 's/^/    /'
    ((RC == 0)) || fail "$name: exit $RC"$'\n'"$OUT"
    assert_contains "$OUT" "ok $name" "$name reports ok"
}

step "open and read the base entry"
check open open
assert_contains "$OUT" "ldap_connected uri=$STACK_URI" "connect is logged"
assert_not_contains "$OUT" "$(<"$STACK_SECRET")" "the password is never logged"

step "2000 adds with a window of 64, paged read-back (page 300), 2000 modifies"
check bulk --window 64 --page-size 300 bulk "$STU" 2000
assert_eq 2000 "$(ldap_search -b "$STU" -s one '(ucsschoolSourceUID=lct)' 1.1 | grep -c '^dn:')" \
    "entries in the directory"
assert_eq "Müller, Hans+Co" "$(ldap_attr "uid=lct-01999,$STU" sn)" "a value with specials"

step "permissive modify, pre-read and post-read"
check permissive permissive "uid=lct-00001,$STU"
assert_eq "Gym1" "$(ldap_attr "uid=lct-00001,$STU" ucsschoolSchool)" "schools after the batch"
assert_eq "permissive batch" "$(ldap_attr "uid=lct-00001,$STU" description)" \
    "the other changes of the permissive batch were applied"

step "uid collision (unique overlay) fails only its own operation"
check unique --window 16 unique "$TEA" lct-00007
assert_contains "$OUT" "rc 19" "constraint violation reported"
assert_eq 49 "$(ldap_search -b "$TEA" -s one '(uid=luq-*)' 1.1 | grep -c '^dn:')" \
    "the other 49 adds of the batch"
ldap_exists "uid=lct-00007,$TEA" && fail "the colliding entry exists"

step "counters: missing -> 32, created from a callback, 40 takes over 2 connections"
CDN="cn=lct-counter,cn=unique-usernames,cn=ucsschool,cn=univention,$B"
check counter --window 64 counter "$CDN"
assert_eq 44 "$(ldap_attr "$CDN" ucsschoolUsernameNextNumber)" "counter after 42 takes"

step "rename: move to another OU container, special-character RDN, back"
check rename rename "uid=lct-00002,$STU" "$STAFF"
ldap_exists "uid=lct-00002,$STU" || fail "entry not back in place"

step "delete"
check delete delete "uid=lct-00003,$STU"
ldap_exists "uid=lct-00003,$STU" && fail "deleted entry still exists"

step "ldapi:// with SASL EXTERNAL (no bind DN)"
if [[ -n $STACK_LDAPI ]]; then
    check open --uri "$STACK_LDAPI" --bind-dn "" open
    assert_contains "$OUT" "bind_dn=\"(SASL EXTERNAL)\"" "EXTERNAL bind logged"
else
    printf 'note: the stack has no ldapi socket (path too long); EXTERNAL not checked\n'
fi

step "bind failures name the URI and the reason"
bad=$STACK_DIR/wrong.secret
(umask 077 && printf '%s' 'not-the-password' >"$bad")
run "$TOOL" -c "$CFG" --password-file "$bad" open
assert_eq 2 "$RC" "wrong password: exit"$'\n'"$OUT"
assert_contains "$OUT" "open failed: rc=49: $STACK_URI: bind as $STACK_ROOTDN failed: Invalid credentials (49)" \
    "wrong password: message"
assert_not_contains "$OUT" "not-the-password" "the wrong password is not echoed"
chmod 640 "$bad"
run "$TOOL" -c "$CFG" --password-file "$bad" open
assert_eq 2 "$RC" "group-readable password file: exit"$'\n'"$OUT"
assert_contains "$OUT" "rc=-2" "group-readable password file: LDAP_LOCAL_ERROR"
assert_contains "$OUT" "readable by group or others" "group-readable password file: message"
run "$TOOL" -c "$CFG" --password-file "$STACK_DIR/does-not-exist" open
assert_contains "$OUT" "cannot open the bind password file" "missing password file"
run timeout 30 "$TOOL" -c "$CFG" --uri "ldap://127.0.0.1:1/" open
assert_eq 2 "$RC" "unreachable server: exit"$'\n'"$OUT"
assert_contains "$OUT" "rc=-1: ldap://127.0.0.1:1/: cannot connect: Can't contact LDAP server (-1)" \
    "unreachable server: message"
run "$TOOL" -c "$CFG" --bind-dn "" open
assert_contains "$OUT" "ldap.bind_dn is not set" "no bind DN over ldap://"

SLAPD_PID=$(<"$STACK_DIR/slapd.pid")
proc_alive "$SLAPD_PID" || fail "slapd (pid $SLAPD_PID) is not running"
# If anything goes wrong while slapd is stopped, let it run again so the stack can stop.
LIB_AT_EXIT+=("kill -CONT $SLAPD_PID 2>/dev/null")

step "slapd stopped (SIGSTOP) mid-window: every outstanding op times out after ldap.timeout"
# The operation timeout comes from the config (ldap.timeout), not from a tool option.
sed 's|^  starttls = false;|&\n  timeout = "2s";|' "$CFG" >"$STACK_DIR/timeout.cfg"
grep -q 'timeout = "2s"' "$STACK_DIR/timeout.cfg" || fail "could not write timeout.cfg"
run timeout 120 "$TOOL" -c "$STACK_DIR/timeout.cfg" --window 64 down "$STU" 600 "$SLAPD_PID" STOP -
printf '%s\n' "$OUT" | grep -v '^20[0-9-]*T' | sed 's/^/    /'
((RC == 0)) || fail "down STOP: exit $RC"$'\n'"$OUT"
assert_contains "$OUT" "ok down STOP" "down STOP reports ok"
assert_contains "$OUT" "ldap_connection_lost" "the loss is logged"
assert_contains "$OUT" "no answer for 2000 ms (ldap.timeout)" "the loss names the setting and its value"
assert_contains "$OUT" "ldap_reconnected" "the reconnect is logged"

step "slapd killed (SIGKILL) mid-window: every outstanding op gets LDAP_SERVER_DOWN; restart"
# The same command line as the stack's slapd (same config, port and socket).
mapfile -d '' SLAPD_CMD <"/proc/$SLAPD_PID/cmdline"
[[ ${SLAPD_CMD[0]} == *slapd ]] || fail "unexpected slapd command line: ${SLAPD_CMD[*]}"
flag=$STACK_DIR/killed.flag
rm -f "$flag"
timeout 120 "$TOOL" -c "$CFG" --window 64 --result-timeout 5000 \
    down "$STU" 600 "$SLAPD_PID" KILL "$flag" >"$STACK_DIR/down.out" 2>&1 &
tool_pid=$!
for ((i = 0; i < 300; i++)); do # 30 s
    [[ -e $flag ]] && break
    proc_alive "$tool_pid" || break
    sleep 0.1
done
[[ -e $flag ]] || fail "the tool did not report the kill"$'\n'"$(cat "$STACK_DIR/down.out")"
for ((i = 0; i < 100; i++)); do # 10 s
    proc_alive "$SLAPD_PID" || break
    sleep 0.1
done
proc_alive "$SLAPD_PID" && fail "slapd survived SIGKILL"
"${SLAPD_CMD[@]}" </dev/null >>"$STACK_DIR/slapd.log" 2>&1 &
printf '%s\n' "$!" >"$STACK_DIR/slapd.pid"
rc=0
wait "$tool_pid" || rc=$?
OUT=$(<"$STACK_DIR/down.out")
printf '%s\n' "$OUT" | grep -v '^20[0-9-]*T' | sed 's/^/    /'
((rc == 0)) || fail "down KILL: exit $rc"$'\n'"$OUT"
assert_contains "$OUT" "ok down KILL" "down KILL reports ok"
assert_contains "$OUT" "(rc -1)" "outstanding operations completed with LDAP_SERVER_DOWN"
assert_eq 1999 "$(ldap_search -b "$STU" -s one '(ucsschoolSourceUID=lct)' 1.1 | grep -c '^dn:')" \
    "the directory after the restart (2000 added, 1 deleted)"

step "ldap.connect_timeout and ldap.timeout against a port that never answers"
# A loopback listener that never accepts: with its accept queue full (backlog 0 and one
# connection waiting) the kernel drops further SYNs, so connecting hangs; without that, the
# TCP connection is made but nobody reads, so the bind waits for an answer that never comes.
cat >"$STACK_DIR/blackhole.py" <<'PY'
import os, socket, sys, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
port = s.getsockname()[1]
fillers = []
if mode == "full":
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.2)
with open(path + ".tmp", "w") as f:
    f.write(str(port))
os.rename(path + ".tmp", path)
time.sleep(120)
PY
ports_written() { [[ -s $STACK_DIR/full.port && -s $STACK_DIR/silent.port ]]; }
for mode in full silent; do
    python3 "$STACK_DIR/blackhole.py" "$STACK_DIR/$mode.port" "$mode" &
    LIB_AT_EXIT+=("kill $! 2>/dev/null")
done
wait_for 10 "the listeners' ports" ports_written
to_port() { # PORT FILE: the stack's config with ldap.uri on PORT and short timeouts
    sed -e "s|^  uri = .*|  uri = \"ldap://127.0.0.1:$1/\";|" \
        -e 's|^  starttls = false;|&\n  connect_timeout = "1s";\n  timeout = "2s";|' "$CFG" >"$2"
    grep -q 'connect_timeout = "1s"' "$2" || fail "could not write $2"
}
to_port "$(<"$STACK_DIR/full.port")" "$STACK_DIR/full.cfg"
to_port "$(<"$STACK_DIR/silent.port")" "$STACK_DIR/silent.cfg"
run timeout 60 "$TOOL" -c "$STACK_DIR/full.cfg" open
((RC != 0 && RC != 124)) || fail "connecting to a full accept queue: exit $RC"$'\n'"$OUT"
assert_contains "$OUT" "cannot connect" "the connect failed"
assert_contains "$OUT" "no connection within 1 s (ldap.connect_timeout)" "the connect timeout named"
run timeout 60 "$TOOL" -c "$STACK_DIR/silent.cfg" open
((RC != 0 && RC != 124)) || fail "binding to a silent server: exit $RC"$'\n'"$OUT"
assert_contains "$OUT" "bind as $STACK_ROOTDN failed: Timed out" "the bind timed out"
assert_contains "$OUT" "no answer within 2 s (ldap.timeout)" "the operation timeout named"

step "done"
