#!/usr/bin/env bash
# common/dir_conn.c over TLS: a second slapd (the stack's config plus a certificate from a test
# CA made here with openssl) on loopback; StartTLS and ldaps:// succeed with the CA and fail
# with a verification error without it, with another CA, or for a name the certificate does not
# carry. openssl comes from deploy/install-deps.sh.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TOOL=$SISOPI_BUILD/tests/dir_conn_check
[[ -x $TOOL ]] || fail "$TOOL is not built"
command -v openssl >/dev/null || fail "openssl is missing (deploy/install-deps.sh installs it)"

step "start the stack"
start_stack --no-broker
CFG=$SISOPI_CONFIG
T=$STACK_DIR/tls
mkdir -p "$T/data" "$T/run"

step "a test CA, a server certificate for 127.0.0.1, and an unrelated CA"
ossl() { openssl "$@" >>"$T/openssl.log" 2>&1 || fail "openssl $1 failed: $(tail -n 5 "$T/openssl.log")"; }
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sisopi test CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem"
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=some other CA" \
    -keyout "$T/other.key" -out "$T/other.pem"
ossl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$T/server.key" \
    -out "$T/server.csr"
printf '%s\n' "subjectAltName=IP:127.0.0.1" "basicConstraints=CA:FALSE" \
    "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$T/ext.cnf"
ossl x509 -req -days 2 -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
    -CAcreateserial -extfile "$T/ext.cnf" -out "$T/server.pem"
chmod 600 "$T"/*.key
printf 'not a certificate\n' >"$T/garbage.pem"

step "a second slapd with TLS: the stack's config, its own database"
# TLS settings are global: they go before the first "database" line.
sed -e "s|^directory .*|directory $T/data|" \
    -e "/^database /i TLSCACertificateFile $T/ca.pem\nTLSCertificateFile $T/server.pem\nTLSCertificateKeyFile $T/server.key\n" \
    "$STACK_DIR/slapd.conf" >"$T/slapd.conf"
grep -q "^TLSCertificateFile $T/server.pem" "$T/slapd.conf" || fail "TLS lines not inserted"
assert_ok "slapadd the base entries" slapadd -q -f "$T/slapd.conf" -l "$STACK_DIR/init.ldif"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
TLS_PID=""
for ((attempt = 0; attempt < 8; attempt++)); do
    P1=$((RANDOM % 20000 + 30000))
    P2=$((P1 + 1))
    if ! port_free "$P1" || ! port_free "$P2"; then continue; fi
    # 127.0.0.2 is loopback too: the certificate does not name it.
    slapd -h "ldap://127.0.0.1:$P1/ ldaps://127.0.0.1:$P2/ ldaps://127.0.0.2:$P2/" \
        -f "$T/slapd.conf" -d 0 </dev/null >"$T/slapd.log" 2>&1 &
    TLS_PID=$!
    LIB_AT_EXIT+=("kill $TLS_PID 2>/dev/null; wait $TLS_PID 2>/dev/null")
    for ((i = 0; i < 100; i++)); do # 10 s
        proc_alive "$TLS_PID" || break
        ldapsearch -x -LLL -o nettimeout=2 -H "ldap://127.0.0.1:$P1/" -D "$STACK_ROOTDN" \
            -y "$STACK_SECRET" -s base -b "$STACK_BASE" 1.1 >/dev/null 2>&1 && break 2
        sleep 0.1
    done
    kill "$TLS_PID" 2>/dev/null || true
    wait "$TLS_PID" 2>/dev/null || true
    TLS_PID=""
done
[[ -n $TLS_PID ]] || fail "the TLS slapd did not start: $(tail -n 20 "$T/slapd.log")"

# tls_open EXPECTED_EXIT ARGS...: the tool's "open" against the TLS slapd.
tls_open() {
    local want=$1
    shift
    run timeout 60 "$TOOL" -c "$CFG" "$@" open
    printf '%s\n' "$OUT" | grep -v '^20[0-9-]*T' | sed 's/^/    /'
    ((RC == want)) || fail "expected exit $want, got $RC"$'\n'"$OUT"
}

step "StartTLS with the CA"
tls_open 0 --uri "ldap://127.0.0.1:$P1/" --starttls 1 --ca-file "$T/ca.pem"
assert_contains "$OUT" "tls=starttls" "StartTLS in use"

step "ldaps:// with the CA"
tls_open 0 --uri "ldaps://127.0.0.1:$P2/" --ca-file "$T/ca.pem"
assert_contains "$OUT" "tls=ldaps" "ldaps in use"

step "StartTLS with another CA fails verification"
tls_open 2 --uri "ldap://127.0.0.1:$P1/" --starttls 1 --ca-file "$T/other.pem"
assert_contains "$OUT" "ldap://127.0.0.1:$P1/: StartTLS failed: Connect error (-11)" "message"
assert_contains "${OUT,,}" "certificate" "the verification error is named"

step "ldaps:// with another CA fails verification"
tls_open 2 --uri "ldaps://127.0.0.1:$P2/" --ca-file "$T/other.pem"
assert_contains "$OUT" "rc=-11: ldaps://127.0.0.1:$P2/: cannot connect (TLS): Connect error (-11): TLS handshake failed: is the server certificate issued by a CA in $T/other.pem" "message"

step "ldaps:// and StartTLS without a CA file (system CAs) fail verification"
tls_open 2 --uri "ldaps://127.0.0.1:$P2/"
assert_contains "$OUT" "cannot connect (TLS)" "ldaps message"
tls_open 2 --uri "ldap://127.0.0.1:$P1/" --starttls 1
assert_contains "$OUT" "StartTLS failed" "StartTLS message"

step "a name the certificate does not carry fails, even with the right CA"
tls_open 2 --uri "ldaps://127.0.0.2:$P2/" --ca-file "$T/ca.pem"
assert_contains "$OUT" "cannot connect (TLS)" "hostname mismatch"
# The listener itself works: without verification (ldapsearch told not to check) it answers.
assert_ok "127.0.0.2 answers when nobody checks the name" env LDAPTLS_REQCERT=never \
    ldapsearch -x -LLL -o nettimeout=5 -H "ldaps://127.0.0.2:$P2/" -D "$STACK_ROOTDN" \
    -y "$STACK_SECRET" -s base -b "$STACK_BASE" 1.1

step "verification cannot be switched off from the environment (LDAPTLS_REQCERT=never)"
run timeout 60 env LDAPTLS_REQCERT=never "$TOOL" -c "$CFG" --uri "ldaps://127.0.0.1:$P2/" \
    --ca-file "$T/other.pem" open
assert_eq 2 "$RC" "ldaps with another CA and LDAPTLS_REQCERT=never"$'\n'"$OUT"
assert_contains "$OUT" "TLS handshake failed" "still a verification failure"

step "an unusable CA file is refused before connecting"
tls_open 2 --uri "ldaps://127.0.0.1:$P2/" --ca-file "$T/garbage.pem"
assert_contains "$OUT" "rc=-2: ldaps://127.0.0.1:$P2/: ldap.ca_file $T/garbage.pem holds no PEM certificate" \
    "garbage CA file"
tls_open 2 --uri "ldaps://127.0.0.1:$P2/" --ca-file "$T/missing.pem"
assert_contains "$OUT" "cannot read ldap.ca_file $T/missing.pem: No such file or directory" \
    "missing CA file"

step "an ldaps:// port where nothing listens is LDAP_SERVER_DOWN, not a TLS failure"
tls_open 2 --uri "ldaps://127.0.0.1:1/" --ca-file "$T/ca.pem"
assert_contains "$OUT" "rc=-1: ldaps://127.0.0.1:1/: cannot connect (TLS): Can't contact LDAP server (-1)" \
    "unreachable ldaps"
assert_not_contains "$OUT" "TLS handshake failed" "no TLS hint for an unreachable server"

step "done"
