# shellcheck shell=bash disable=SC2034
# fault_lib.sh: helpers of the fault-injection tests (source it after nothing else; bash only).
# It sources tests/integration/lib.sh (start_stack, step, fail, assert_*, ldap_search, ...) and
# adds: a seeded random number generator that gives the same numbers on every bash, services
# run in the background that can be killed with SIGKILL and started again (logs appended, a
# death the test did not cause fails the test), and a directory dump normalised for comparing
# two runs of the same sequence.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"
#   rng_seed 42; rng 100; echo "$RNG"            # 0..99, the same on every run with seed 42
#   svc_start reconciler "$CFG" "$LOGDIR"; svc_kill9 reconciler; svc_start reconciler ...
#   svc_start reconciler2 "$CFG2" "$LOGDIR"        # a second sisopi-reconciler, its own log
#   dir_dump "$OUT" "$TS_LABELS"                  # sorted DN<TAB>attribute<TAB>value lines

# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh) # lib.sh named the file that sourced it

FAULT_BIN=$SISOPI_BUILD/services

now_ms() {
    local t=${EPOCHREALTIME/[,.]/}
    printf '%s' "${t:0:-3}"
}

# ---- a seeded generator (xorshift32 in bash arithmetic: no $RANDOM, no subshell) ----

RNG_STATE=1
RNG=0 # the result of rng, for the callers (SC2034)
rng_seed() { RNG_STATE=$((($1 ^ 2654435769) & 4294967295)); ((RNG_STATE)) || RNG_STATE=1; }
# rng N: RNG = a number in 0..N-1. Call it in the test's own shell (not in $(...)), or the
# state does not move on.
rng() {
    local x=$RNG_STATE
    x=$(((x ^ (x << 13)) & 4294967295))
    x=$((x ^ (x >> 17)))
    x=$(((x ^ (x << 5)) & 4294967295))
    RNG_STATE=$x
    RNG=$((x % $1))
}

# ---- services in the background ----

declare -gA SVC_PID=() SVC_LOG=() SVC_START_MS=()
declare -gA KILLS=()

# svc_start NAME CFG LOGDIR [ARGS...]: runs sisopi-NAME -c CFG ARGS in the background, its log
# appended to LOGDIR/NAME.log (a marker line per start). A NAME ending in digits is one of
# several processes of one program (reconciler1, reconciler2: sisopi-reconciler, each with its
# own log). SVC_START_MS[NAME] = when it was started (now_ms).
svc_start() {
    local name=$1 cfg=$2 dir=$3
    shift 3
    SVC_LOG[$name]=$dir/$name.log
    printf -- '--- start %s\n' "$(date -u +%FT%T.%3NZ)" >>"${SVC_LOG[$name]}"
    "$FAULT_BIN/sisopi-${name%%[0-9]*}" -c "$cfg" "$@" >>"${SVC_LOG[$name]}" 2>&1 &
    SVC_PID[$name]=$!
    SVC_START_MS[$name]=$(now_ms)
}

# svc_up NAME: the test started the service and has not killed or stopped it since.
svc_up() { [[ -n ${SVC_PID[$1]:-} ]]; }

# svc_log_since_start NAME: the log of the service's current (or last) process.
svc_log_since_start() {
    awk '/^--- start / { buf = ""; next } { buf = buf $0 "\n" } END { printf "%s", buf }' \
        "${SVC_LOG[$1]}"
}

# svc_alive_or_fail NAME: the service runs, unless the test stopped it; a service that died on
# its own (a crash, a sanitizer report, a fatal error) fails the test with its log.
svc_alive_or_fail() {
    local name=$1 pid=${SVC_PID[$1]:-}
    [[ -n $pid ]] || return 0
    proc_alive "$pid" && return 0
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    SVC_PID[$name]=""
    fail "sisopi-$name (pid $pid) died on its own (exit $rc):"$'\n'"$(tail -n 30 "${SVC_LOG[$name]}")"
}

# svc_kill9 NAME: SIGKILL, reaped; counted in KILLS[NAME] (and in KILLS[PROGRAM] for one of
# several processes of a program: reconciler2 counts as a reconciler too).
svc_kill9() {
    local name=$1 pid=${SVC_PID[$1]}
    svc_alive_or_fail "$name"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    SVC_PID[$name]=""
    printf -- '--- SIGKILL %s\n' "$(date -u +%FT%T.%3NZ)" >>"${SVC_LOG[$name]}"
    KILLS[$name]=$((${KILLS[$name]:-0} + 1))
    local prog=${name%%[0-9]*}
    [[ $prog == "$name" ]] || KILLS[$prog]=$((${KILLS[$prog]:-0} + 1))
}

# svc_stop NAME: SIGTERM; the service must stop cleanly (exit 0) within 60 s.
svc_stop() {
    local name=$1 pid=${SVC_PID[$1]:-} i rc=0
    [[ -n $pid ]] || return 0
    svc_alive_or_fail "$name"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do
        proc_alive "$pid" || break
        sleep 0.1
    done
    if proc_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        SVC_PID[$name]=""
        fail "sisopi-$name did not stop within 60 s of SIGTERM"
    fi
    wait "$pid" 2>/dev/null || rc=$?
    SVC_PID[$name]=""
    ((rc == 0)) || fail "sisopi-$name stopped with exit $rc:"$'\n'"$(tail -n 20 "${SVC_LOG[$name]}")"
}

# svc_stop_all: at exit, whatever still runs (the test's own processes only, by pid).
svc_stop_all() {
    local name pid
    for name in "${!SVC_PID[@]}"; do
        pid=${SVC_PID[$name]}
        [[ -n $pid ]] || continue
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        SVC_PID[$name]=""
    done
}

# ---- the directory, dumped for comparing two runs ----

# dir_triples FILE: every entry under the base with its user attributes (and the
# operational pwdAccountLockedTime, the lock of an account in limbo), one value per line as
# DN<TAB>attribute<TAB>value (base64 values decoded), DNs as the server returns them.
# Operational attributes (entryUUID, entryCSN, create/modifyTimestamp, creatorsName, ...) are
# not asked for: they differ between any two runs and say nothing about the accounts.
dir_triples() {
    ldap_search -b "$STACK_BASE" '(objectClass=*)' '*' pwdAccountLockedTime |
        awk -F': ' '
        function dec(s,    cmd, out, line) {
            cmd = "printf %s \"" s "\" | base64 -d"
            out = ""
            while ((cmd | getline line) > 0) out = out (out == "" ? "" : "\n") line
            close(cmd)
            return out
        }
        /^$/ { dn = ""; next }
        /^dn:: / { dn = dec(substr($0, 6)); next }
        /^dn: / { dn = substr($0, 5); next }
        {
            i = index($0, ":")
            name = substr($0, 1, i - 1)
            if (substr($0, i + 1, 2) == ": ") value = dec(substr($0, i + 3))
            else value = substr($0, i + 2)
            print dn "\t" name "\t" value
        }' >"$1"
    [[ -s $1 ]] || fail "the directory dump $1 is empty"
}

# dir_normalise TRIPLES TS_LABELS OUT UIDMAP: what legitimately differs between two runs of
# the same sequence becomes the same, nothing else:
#   - a person's uid (in its DN, uid, and groups' uniqueMember/memberUid) becomes @RECORD_UID,
#     so a username a crash moved on by a counter number (compared apart, see
#     compare_usernames) does not hide everything else; a uid nobody has stays as it is
#     (a stale member shows);
#   - userPassword: (set) (random salt, random initial passwords);
#   - ucsschoolPurgeTimestamp: the label TS_LABELS gives it (the step whose import set it;
#     the dates derive from that run's ImportEnd produced_at);
#   - ucsschoolUsernameNextNumber: (counter) (compared apart, see compare_counters).
# UIDMAP gets RECORD_UID<TAB>uid of every person.
dir_normalise() {
    local triples=$1 labels=$2 out=$3 uidmap=$4
    awk -F'\t' -v OFS='\t' '$2 == "ucsschoolRecordUID" {
            dn = $1
            if (tolower(substr(dn, 1, 4)) == "uid=") {
                u = substr(dn, 5, index(dn, ",") - 5)
                print $3, u
            }
        }' "$triples" | LC_ALL=C sort >"$uidmap"
    awk -F'\t' -v OFS='\t' -v labels="$labels" -v uidmap="$uidmap" '
        BEGIN {
            while ((getline line < uidmap) > 0) { split(line, p, "\t"); U[p[2]] = "@" p[1] }
            while ((getline line < labels) > 0) { split(line, p, "\t"); TS[p[1]] = p[2] }
        }
        function ndn(dn,    c, u) {
            if (tolower(substr(dn, 1, 4)) != "uid=") return dn
            c = index(dn, ",")
            u = substr(dn, 5, c - 5)
            return (u in U) ? "uid=" U[u] substr(dn, c) : dn
        }
        {
            dn = ndn($1); a = $2; v = $3
            if (a == "uid" || a == "memberUid") { if (v in U) v = U[v] }
            else if (a == "uniqueMember") v = ndn(v)
            else if (a == "userPassword") v = "(set)"
            else if (a == "ucsschoolUsernameNextNumber") v = "(counter)"
            else if (a == "ucsschoolPurgeTimestamp") v = (v in TS) ? TS[v] : "(no step: " v ")"
            print dn, a, v
        }' "$triples" | LC_ALL=C sort >"$out"
}

# dir_integrity TRIPLES: every uniqueMember names an entry that exists and every memberUid a
# uid that exists (the directory has no refint overlay: sisopi keeps groups right itself).
# Prints the violations; returns 1 if there are any.
dir_integrity() {
    awk -F'\t' '
        { dns[tolower($1)] = 1 }
        $2 == "uid" { uids[$3] = 1 }
        $2 == "uniqueMember" { um[++n] = $1 "\t" $3 }
        $2 == "memberUid" { mu[++m] = $1 "\t" $3 }
        END {
            bad = 0
            for (i = 1; i <= n; i++) {
                split(um[i], p, "\t")
                if (!(tolower(p[2]) in dns)) { print "  " p[1] ": uniqueMember " p[2] " does not exist"; bad++ }
            }
            for (i = 1; i <= m; i++) {
                split(mu[i], p, "\t")
                if (!(p[2] in uids)) { print "  " p[1] ": memberUid " p[2] " does not exist"; bad++ }
            }
            exit bad > 0
        }' "$1"
}

# dir_rules_check STATE TRIPLES BASE LIMBO: the directory (dir_triples) against the state the
# rules call for (STATE: lines RECORD_UID ROLE A|L PRIMARY SCHOOLS CLASSES, as
# data/sisopi_model.awk writes them), person by person:
#   - exactly one entry per record_uid that should exist, none of one that should not;
#   - its DN is uid=<its uid>,cn=<role container>,cn=users,ou=<primary school or LIMBO>,BASE;
#   - ucsschoolSchool is its schools (in limbo: LIMBO);
#   - shadowExpire and pwdAccountLockedTime are there if and only if it is in limbo;
#   - each group it belongs to (Domain Users <S>, the role group of each school S, each class
#     of S: cn=<S>-<class>,cn=klassen,cn=schueler,cn=groups,ou=<S>) exists and holds it by
#     uniqueMember (its current DN) and by memberUid (its uid), and under no other DN;
#   - no other managed group (Domain Users, role and class groups of any OU, the limbo OU's
#     included) holds it: not by its DN, not by its uid, not by a stale DN whose first RDN is
#     its uid. Nobody in limbo is in any group.
# DNs and uids are compared without case. Prints one line per person that breaks a rule (its
# record_uid, its uid, what is wrong), sorted; returns 1 if there are any.
dir_rules_check() {
    local out
    out=$(LC_ALL=C awk -F'\t' -v state="$1" -v base="$3" -v limbo="$4" '
        function lc(s) { return tolower(s) }
        function rdn_uid(dn,    c) {
            if (substr(dn, 1, 4) != "uid=") return ""
            c = index(dn, ",")
            return c ? substr(dn, 5, c - 5) : ""
        }
        function cn_of(dn,    c) {
            c = index(dn, ",")
            return substr(dn, 4, c - 4)
        }
        function managed(g,    p) {
            if (length(g) <= LB || substr(g, length(g) - LB + 1) != B) return 0
            p = substr(g, 1, length(g) - LB)
            return p ~ /^cn=domain users [^,]*,cn=groups,ou=[^,]*$/ ||
                p ~ /^cn=(schueler|lehrer|mitarbeiter)-[^,]*,cn=groups,ou=[^,]*$/ ||
                p ~ /^cn=[^,]*,cn=klassen,cn=schueler,cn=groups,ou=[^,]*$/
        }
        function set_add(s, x,    n, i, a, out, done) {
            if (s == "") return x
            n = split(s, a, " ")
            out = ""; done = 0
            for (i = 1; i <= n; i++) {
                if (!done && x < a[i]) { out = out (out == "" ? "" : " ") x; done = 1 }
                out = out (out == "" ? "" : " ") a[i]
            }
            return done ? out : out " " x
        }
        function note(g, u) {
            if (u == "" || ((g, u) in SEEN)) return
            SEEN[g, u] = 1
            REFG[u] = REFG[u] "\001" g
        }
        function expect_group(g) { EG[lc(g)] = 1 }
        BEGIN {
            B = "," lc(base); LB = length(B)
            CONT["student"] = "schueler"; RG["student"] = "schueler"
            CONT["teacher"] = "lehrer"; RG["teacher"] = "lehrer"
            CONT["staff"] = "mitarbeiter"; RG["staff"] = "mitarbeiter"
        }
        { d = lc($1) }
        $2 == "ucsschoolRecordUID" { N[$3]++; DNOF[$3] = $1; ENTRY_RID[d] = $3; next }
        $2 == "uid" { UID[d] = $3; next }
        $2 == "ucsschoolSchool" { SCH[d] = set_add(SCH[d], $3); next }
        $2 == "shadowExpire" { SE[d] = 1; next }
        $2 == "pwdAccountLockedTime" { LK[d] = 1; next }
        $2 == "uniqueMember" && managed(d) {
            MG[d] = $1; v = lc($3); HASDN[d, v] = 1; ORIG[v] = $3; u = rdn_uid(v)
            if (u != "") { note(d, u); RDNS[d, u] = RDNS[d, u] "\001" v }
            next
        }
        $2 == "memberUid" && managed(d) { MG[d] = $1; HASMU[d, lc($3)] = 1; note(d, lc($3)); next }
        $2 == "objectClass" && managed(d) { MG[d] = $1; next }
        END {
            while ((getline l < state) > 0) {
                split(l, f, "\t")
                rid = f[1]; role = f[2]; st = f[3]; prim = f[4]; schools = f[5]; classes = f[6]
                WANT[rid] = 1
                if (!(rid in N)) {
                    print "  " rid ": no entry, expected " (st == "L" ? "in limbo" : "active in " schools " (primary " prim ")")
                    continue
                }
                msg = ""
                if (N[rid] > 1) msg = msg "; " N[rid] " entries"
                dn = DNOF[rid]; d = lc(dn); u = lc(UID[d])
                if (u == "") { u = rdn_uid(d); msg = msg "; no uid" }
                if (!(role in CONT)) { msg = msg "; role " role " not known to the check"; CONT[role] = role; RG[role] = role }
                if (d != lc("uid=" UID[d] ",cn=" CONT[role] ",cn=users,ou=" prim "," base))
                    msg = msg "; DN " dn ", expected under ou=" prim
                want = st == "L" ? limbo : schools
                if (SCH[d] != want) msg = msg "; ucsschoolSchool \"" SCH[d] "\", expected \"" want "\""
                if ((st == "L") != (d in SE)) msg = msg "; shadowExpire " ((d in SE) ? "set" : "missing")
                if ((st == "L") != (d in LK)) msg = msg "; pwdAccountLockedTime " ((d in LK) ? "set" : "missing")
                split("", EG)
                if (st == "A") {
                    ns = split(schools, s, " ")
                    for (i = 1; i <= ns; i++) {
                        ou = ",cn=groups,ou=" s[i] "," base
                        expect_group("cn=Domain Users " s[i] ou)
                        expect_group("cn=" RG[role] "-" lc(s[i]) ou)
                    }
                    nc = split(classes == "-" ? "" : classes, c, " ")
                    for (i = 1; i <= nc; i++) {
                        sc = c[i]; sub(/-.*/, "", sc)
                        expect_group("cn=" c[i] ",cn=klassen,cn=schueler" ",cn=groups,ou=" sc "," base)
                    }
                }
                missing = ""
                for (g in EG) {
                    if (!(g in MG)) { missing = missing ", " cn_of(g) " (no such group)"; continue }
                    how = ((g, d) in HASDN) ? "" : "uniqueMember"
                    if (!((g, u) in HASMU)) how = how (how == "" ? "" : "+") "memberUid"
                    if (how != "") missing = missing ", " cn_of(MG[g]) " (" how ")"
                }
                if (missing != "") msg = msg "; not in" substr(missing, 2)
                extra = ""
                nr = split(substr(REFG[u], 2), gl, "\001")
                for (i = 1; i <= nr; i++) {
                    g = gl[i]; how = ""
                    nv = split(substr(RDNS[g, u], 2), vl, "\001")
                    for (k = 1; k <= nv; k++)
                        if (vl[k] != d) how = how (how == "" ? "" : " and ") "stale DN " ORIG[vl[k]]
                    if (!(g in EG)) {
                        if ((g, d) in HASDN) how = how (how == "" ? "" : " and ") "uniqueMember"
                        if ((g, u) in HASMU) how = how (how == "" ? "" : " and ") "memberUid"
                    }
                    if (how != "") extra = extra ", " cn_of(MG[g]) " (" how ")"
                }
                if (extra != "") msg = msg "; held by" substr(extra, 2)
                if (msg != "") print "  " rid " (uid " UID[d] ", " (st == "L" ? "should be in limbo" : "should be active, primary " prim) "): " substr(msg, 3)
            }
            for (rid in N)
                if (!(rid in WANT)) print "  " rid ": " N[rid] " entries (" DNOF[rid] "), expected none"
        }' "$2" | LC_ALL=C sort)
    [[ -z $out ]] && return 0
    printf '%s\n' "$out"
    return 1
}
