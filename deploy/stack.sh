#!/usr/bin/env bash
# stack.sh: sisopi's local stack for development and tests: a real slapd (Debian's package,
# our schema, a private directory, a free loopback port) and the dev Kafka broker
# (sisopi-devbroker, librdkafka's mock cluster). Writes a sisopi.cfg pointing at both.
#
#   deploy/stack.sh start [options]    fresh directory + slapd + devbroker, then a summary
#     --dir DIR          stack directory (default ./.stack, or $SISOPI_STACK_DIR)
#     --base DN          LDAP base, dc=...[,dc=...] (default dc=example,dc=org)
#     --schools "A B"    school OUs to create with `sisopi-admin school create` (default
#                        none; see school-add)
#     --build DIR        build directory holding services/sisopi-devbroker and
#                        services/sisopi-admin (default $SISOPI_BUILD, else ./build of the
#                        repository)
#     --partitions N     kafka.partitions (default 12)
#     --source-uid X     import.source_uid (default sisopi-demo)
#     --limbo NAME       import.limbo_ou (default limbo)
#     --brokers N        brokers of the mock cluster (default: the devbroker's)
#     --no-broker        LDAP only
#     --durable          synced LDAP commits, as in production (default: nosync, ~10x faster)
#     --maxsize BYTES    slapd's mdb maxsize (default 4294967296; sparse: costs no disk until
#                        used); a directory of more than about a million persons needs more
#     --loglevel LEVEL   slapd -d level into DIR/slapd.log (default none; stats: every op)
#   deploy/stack.sh stop   [--dir DIR]      SIGTERM (SIGKILL after 10 s); idempotent
#   deploy/stack.sh status [--dir DIR]      exit 0 running, 1 not answering, 3 stopped
#   deploy/stack.sh env    [--dir DIR]      export lines: eval "$(deploy/stack.sh env)"
#   deploy/stack.sh school-add NAME [--dir DIR]   adds a school to the running slapd
#                          (sisopi-admin school create; fails if it exists already)
#   deploy/stack.sh schema-ldif             cn=config form of sisopi.schema on stdout
#
# DIR holds: sisopi.cfg, ldap.secret (the rootdn's password, 0600: for the operator and the
# tests' own checks), ldap-PROGRAM.secret (the password of each program's directory account:
# reconciler, scheduler, audit, ingest, admin; 0600), slapd.conf, data/ (mdb), run/ldapi,
# slapd.log, devbroker.log, bootstrap, *.pid, stack.env, reconciler/.
# sisopi.cfg gives every program its own account (ldap.accounts); none binds as the rootdn.
# Everything listens on loopback only; every wait is bounded. The bind password is only ever
# passed to tools as a file (-y), never as an argument.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LDAP_SRC=$SRC/deploy/ldap
PROG=stack.sh
MARKER=.sisopi-stack
# The programs with a directory account of their own, and what each is for (accounts.list).
ACCOUNTS=()
declare -A ACCOUNT_DESC=()
while IFS=$'\t' read -r name desc; do
    [[ -z $name || $name == \#* ]] || { ACCOUNTS+=("$name") && ACCOUNT_DESC[$name]=$desc; }
done <"$LDAP_SRC/accounts.list"

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }

usage() {
    local rc=${1:-0}
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' |
        if ((rc)); then cat >&2; else cat; fi
    exit "$rc"
}

# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------

OPT_DIR=${SISOPI_STACK_DIR:-./.stack}
OPT_BASE="dc=example,dc=org"
OPT_SCHOOLS=""
OPT_BUILD=${SISOPI_BUILD:-$SRC/build}
OPT_PARTITIONS=12
OPT_SOURCE_UID="sisopi-demo"
OPT_LIMBO="limbo"
OPT_BROKERS=""
OPT_NO_BROKER=0
OPT_DURABLE=0
OPT_MAXSIZE=4294967296
OPT_LOGLEVEL="none"
ARGS=()

parse_opts() {
    while (($#)); do
        case $1 in
        --dir) OPT_DIR=${2:?--dir needs a value}; shift ;;
        --base) OPT_BASE=${2:?--base needs a value}; shift ;;
        --schools) OPT_SCHOOLS=${2?--schools needs a value}; shift ;;
        --build) OPT_BUILD=${2:?--build needs a value}; shift ;;
        --partitions) OPT_PARTITIONS=${2:?--partitions needs a value}; shift ;;
        --source-uid) OPT_SOURCE_UID=${2:?--source-uid needs a value}; shift ;;
        --limbo) OPT_LIMBO=${2:?--limbo needs a value}; shift ;;
        --brokers) OPT_BROKERS=${2:?--brokers needs a value}; shift ;;
        --no-broker) OPT_NO_BROKER=1 ;;
        --durable) OPT_DURABLE=1 ;;
        --maxsize) OPT_MAXSIZE=${2:?--maxsize needs a value}; shift ;;
        --loglevel) OPT_LOGLEVEL=${2:?--loglevel needs a value}; shift ;;
        -h | --help) usage 0 ;;
        --) shift; ARGS+=("$@"); break ;;
        -*) die "unknown option $1 (try --help)" ;;
        *) ARGS+=("$1") ;;
        esac
        shift
    done
    [[ $OPT_DIR == /* ]] || OPT_DIR=$PWD/${OPT_DIR#./}
    OPT_DIR=${OPT_DIR%/}
}

# An OU name for the limbo OU: letters, digits, "_" and "-" inside; it goes into DNs and LDIF
# as is. School names are checked by `sisopi-admin school create` (the same rule).
valid_school() { [[ $1 =~ ^[A-Za-z0-9]([A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$ ]]; }

validate_start_opts() {
    [[ $OPT_BASE =~ ^dc=([A-Za-z0-9-]+)(,(dc|o|ou|c|l|st)=[A-Za-z0-9._\ -]+)*$ ]] ||
        die "--base \"$OPT_BASE\": expected dc=NAME[,dc=...] (plain letters, digits, -)"
    BASE_DC=${BASH_REMATCH[1]}
    [[ $OPT_PARTITIONS =~ ^[1-9][0-9]{0,3}$ ]] || die "--partitions must be 1..9999"
    [[ -z $OPT_BROKERS || $OPT_BROKERS =~ ^[1-9][0-9]?$ ]] || die "--brokers must be 1..99"
    valid_school "$OPT_LIMBO" || die "--limbo \"$OPT_LIMBO\" is not a valid OU name"
    # School names are sisopi-admin's to check (create_schools), with the same rule.
    [[ $OPT_SCHOOLS != *[![:alnum:][:space:]_-]* ]] ||
        die "--schools \"$OPT_SCHOOLS\": school names are letters, digits, _ and -, separated by spaces"
    [[ $OPT_SOURCE_UID =~ ^[[:print:]]+$ ]] || die "--source-uid must be printable text"
    [[ $OPT_LOGLEVEL =~ ^[A-Za-z0-9,]+$ ]] || die "--loglevel: e.g. none, stats, stats,sync"
    [[ $OPT_MAXSIZE =~ ^[1-9][0-9]{7,14}$ ]] || die "--maxsize must be a number of bytes, at least 10000000"
}

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

now() { printf '%s' "${EPOCHREALTIME/[,.]/}"; } # microseconds

# render TEMPLATE KEY=VALUE...: replaces every @KEY@. The quoted replacement keeps "&" literal
# (bash 5.2 patsub_replacement).
render() {
    local template=$1 text kv
    text=$(<"$template")
    shift
    for kv in "$@"; do
        text=${text//"@${kv%%=*}@"/"${kv#*=}"}
    done
    local left
    left=$(printf '%s\n' "$text" | grep -v '^#' | grep -o '@[A-Za-z_]*@' | head -n 1) || true
    [[ -z $left ]] || die "$template: placeholder $left has no value"
    printf '%s\n' "$text"
}

# create_schools CFG NAME...: the schools, made by the one program that knows what a school
# looks like (deploy/ldap/school.ldif.in, compiled into sisopi-admin).
create_schools() {
    local cfg=$1 out
    shift
    (($#)) || return 0
    out=$("$OPT_BUILD/services/sisopi-admin" -c "$cfg" school create -- "$@" 2>&1) ||
        die "sisopi-admin school create $* failed:"$'\n'"$out"
}

# Percent-encodes a path for an ldapi:// URL.
url_encode() {
    local LC_ALL=C s=$1 out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if [[ $c =~ [A-Za-z0-9._~-] ]]; then out+=$c; else out+=$(printf '%%%02X' "'$c"); fi
    done
    printf '%s' "$out"
}

# Escapes a string for a libconfig "..." literal.
cfgstr() {
    local s=${1//\\/\\\\}
    printf '"%s"' "${s//\"/\\\"}"
}

# True if PID is a live (not zombie) process whose command line contains every further argument.
pid_is() {
    local pid=$1 cmdline state
    shift
    [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ $state != Z && $state != X ]] || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    local want
    for want in "$@"; do
        [[ $cmdline == *"$want"* ]] || return 1
    done
}

# True once our child PID has exited (a zombie until waited for). Not `! pid_is PID NAME`:
# right after the fork /proc/PID/cmdline is still this shell's until the exec, and the wait
# that followed then hung forever on a child that was running fine.
exited() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
    [[ $state == Z || $state == X ]]
}

port_in_use() {
    if command -v ss >/dev/null 2>&1; then
        [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# True once PID itself listens on PORT (so a ping never talks to a foreign listener).
# Without ss(8) we cannot tell and rely on the bounded ping.
pid_listens() { # PORT PID
    command -v ss >/dev/null 2>&1 || return 0
    [[ $(ss -Hltnp "sport = :$1" 2>/dev/null) == *"pid=$2,"* ]]
}

# A port below the kernel's ephemeral range (ip_local_port_range, 32768-60999 by default): a
# port in it can be taken as the local port of any outgoing connection while slapd is down
# (a test that stops and restarts slapd then meets "Address already in use").
random_port() {
    local lo=32768
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    if ((lo > 12000)); then
        printf '%d' $(((RANDOM * 32768 + RANDOM) % (lo - 10000) + 10000))
    else
        printf '%d' $(((RANDOM * 32768 + RANDOM) % 40001 + 20000))
    fi
}

# The state a running stack leaves in DIR/stack.env (KEY=VALUE lines, read, never sourced).
declare -A ST=()
load_state() {
    local dir=$1 k v
    ST=()
    [[ -r $dir/stack.env ]] || return 1
    while IFS='=' read -r k v; do
        [[ $k =~ ^[A-Z_]+$ ]] && ST[$k]=$v
    done <"$dir/stack.env"
}

save_state() { # KEY=VALUE...
    local dir=$OPT_DIR kv
    : >"$dir/stack.env.tmp"
    for kv in "$@"; do printf '%s\n' "$kv" >>"$dir/stack.env.tmp"; done
    mv -f "$dir/stack.env.tmp" "$dir/stack.env"
}

# Bounded by timeout(1): ldapsearch has no client-side limit once connected, and a port that
# a foreign process holds may accept and never answer.
ldap_ping() { # URI BASE ROOTDN SECRET
    timeout 3 ldapsearch -x -LLL -o nettimeout=2 -H "$1" -D "$3" -y "$4" -s base -b "$2" 1.1 \
        >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# stop
# ---------------------------------------------------------------------------------------------

# stop_proc NAME PIDFILE MATCH...: SIGTERM, bounded wait, SIGKILL; only if the pid's command
# line proves it is the process this stack started.
stop_proc() {
    local name=$1 pidfile=$2 pid i
    shift 2
    [[ -f $pidfile ]] || return 0
    pid=$(<"$pidfile")
    if ! pid_is "$pid" "$@"; then
        [[ -d /proc/$pid ]] && [[ $pid =~ ^[0-9]+$ ]] &&
            note "$name: pid $pid is not this stack's $name; leaving it alone"
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 500; i++)); do # 10 s
        pid_is "$pid" "$@" || break
        sleep 0.02
    done
    if pid_is "$pid" "$@"; then
        note "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do # 5 s
            pid_is "$pid" "$@" || break
            sleep 0.1
        done
        pid_is "$pid" "$@" && die "$name (pid $pid) survived SIGKILL"
    fi
    rm -f "$pidfile"
}

do_stop() {
    local dir=$OPT_DIR
    [[ -d $dir ]] || return 0
    stop_proc devbroker "$dir/devbroker.pid" sisopi-devbroker "$dir/sisopi.cfg"
    stop_proc slapd "$dir/slapd.pid" slapd "$dir/slapd.conf"
    rm -f "$dir/run/ldapi"
}

# ---------------------------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------------------------

# Refuses a directory that is not (or not yet) a stack directory, so that a mistyped --dir
# never loses anyone's files; then clears what a previous start left.
prepare_dir() {
    local dir=$OPT_DIR
    if [[ -e $dir && ! -e $dir/$MARKER ]]; then
        [[ -d $dir ]] || die "$dir exists and is not a directory"
        [[ -z $(ls -A "$dir") ]] || die "$dir is not empty and not a stack directory ($MARKER missing)"
    fi
    if [[ -e $dir/$MARKER ]]; then
        if pid_is "$(cat "$dir/slapd.pid" 2>/dev/null)" slapd "$dir/slapd.conf" ||
            pid_is "$(cat "$dir/devbroker.pid" 2>/dev/null)" sisopi-devbroker "$dir/sisopi.cfg"; then
            die "a stack is already running in $dir (deploy/stack.sh stop --dir $dir)"
        fi
        rm -rf "$dir/data" "$dir/run" "$dir/reconciler"
        rm -f "$dir"/ldap-*.secret
        rm -f "$dir"/{slapd.conf,init.ldif,ldap.secret,sisopi.cfg,bootstrap,stack.env}{,.tmp} \
            "$dir"/{slapd.log,slapadd.log,devbroker.log,slapd.pid,devbroker.pid}
    fi
    mkdir -p "$dir"
    chmod 700 "$dir"
    : >"$dir/$MARKER"
    mkdir -p "$dir/data" "$dir/run" "$dir/reconciler"
}

# make_secret FILE: a random password in FILE (0600).
make_secret() {
    local file=$1 secret
    secret=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
    [[ ${#secret} -eq 48 ]] || die "could not read 24 random bytes"
    # No trailing newline: ldap tools use the whole file (-y) as the password.
    (umask 077 && printf '%s' "$secret" >"$file")
    chmod 600 "$file"
}

make_secrets() {
    local dir=$OPT_DIR a
    make_secret "$dir/ldap.secret"
    for a in "${ACCOUNTS[@]}"; do
        make_secret "$dir/ldap-$a.secret"
    done
}

ssha() { # FILE: the {SSHA} hash of the password in FILE
    local hash
    hash=$(slappasswd -h '{SSHA}' -T "$1") || die "slappasswd failed on $1"
    [[ $hash == '{SSHA}'* ]] || die "slappasswd gave no {SSHA} hash for $1"
    printf '%s' "$hash"
}

write_slapd_conf() {
    local dir=$OPT_DIR hash envflags
    hash=$(ssha "$dir/ldap.secret")
    if ((OPT_DURABLE)); then
        envflags="# envflags: none (--durable: synced commits, as in production)"
    else
        envflags="envflags nosync writemap"
    fi
    render "$LDAP_SRC/slapd.conf.in" \
        "BASE=$OPT_BASE" "ROOTDN=$ROOTDN" "ROOTPW=$hash" "DIR=$dir" \
        "SISOPI_SCHEMA=$LDAP_SRC/sisopi.schema" "UID=$(id -u)" "GID=$(id -g)" \
        "ENVFLAGS=$envflags" "LIMBO=$OPT_LIMBO" "MAXSIZE=$OPT_MAXSIZE" >"$dir/slapd.conf"
    chmod 600 "$dir/slapd.conf"
}

# The fixed entries and the programs' accounts; the schools follow once slapd runs
# (create_schools, as sisopi-admin's account).
load_initial_ldif() {
    local dir=$OPT_DIR a
    {
        render "$LDAP_SRC/base.ldif.in" "BASE=$OPT_BASE" "BASE_DC=$BASE_DC" \
            "LIMBO=$OPT_LIMBO" "limbo_lower=${OPT_LIMBO,,}"
        for a in "${ACCOUNTS[@]}"; do
            printf '\n'
            render "$LDAP_SRC/accounts.ldif.in" "PROGRAM=$a" "BASE=$OPT_BASE" \
                "PASSWORD_HASH=$(ssha "$dir/ldap-$a.secret")" "DESCRIPTION=${ACCOUNT_DESC[$a]}"
        done
    } >"$dir/init.ldif"
    # Offline bulk load before slapd runs: fast, and nobody can see a half-built tree.
    slapadd -q -f "$dir/slapd.conf" -l "$dir/init.ldif" >"$dir/slapadd.log" 2>&1 ||
        die "slapadd failed:"$'\n'"$(cat "$dir/slapadd.log")"
}

# Starts slapd on a free random port; retries with another port if the bind fails.
start_slapd() {
    local dir=$OPT_DIR attempt port pid i deadline listen
    local sock=$dir/run/ldapi
    LDAPI_URI=""
    if ((${#sock} <= 100)); then
        LDAPI_URI="ldapi://$(url_encode "$sock")"
    else
        note "no ldapi:// socket: $sock is too long for a unix socket path"
    fi
    for ((attempt = 1; attempt <= 8; attempt++)); do
        port=$(random_port)
        for ((i = 0; i < 20; i++)); do
            port_in_use "$port" || break
            port=$(random_port)
        done
        LDAP_URI="ldap://127.0.0.1:$port/"
        listen=$LDAP_URI${LDAPI_URI:+ $LDAPI_URI}
        # -d keeps slapd in the foreground and sends its log to slapd.log ("none": only
        # messages without a level, e.g. a failed bind(), "stats": one line per operation).
        slapd -h "$listen" -f "$dir/slapd.conf" -d "$OPT_LOGLEVEL" </dev/null >"$dir/slapd.log" 2>&1 &
        pid=$!
        printf '%s\n' "$pid" >"$dir/slapd.pid"
        deadline=$(($(now) + 10000000))
        for ((i = 0; i < 400; i++)); do
            if exited "$pid" || grep -q 'bind(.*failed' "$dir/slapd.log"; then
                kill -TERM "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                rm -f "$dir/slapd.pid"
                break
            fi
            if pid_listens "$port" "$pid" &&
                ldap_ping "$LDAP_URI" "$OPT_BASE" "$ROOTDN" "$dir/ldap.secret"; then
                SLAPD_PORT=$port
                return 0
            fi
            (($(now) < deadline)) || break
            sleep 0.02
        done
        if pid_is "$pid" slapd; then
            kill -TERM "$pid" 2>/dev/null || true
            die "slapd did not answer on $LDAP_URI within 10 s; see $dir/slapd.log"
        fi
        if grep -q -e 'Address already in use' -e 'bind(.*failed' "$dir/slapd.log"; then
            note "port $port was taken; trying another"
            continue
        fi
        die "slapd exited at start:"$'\n'"$(tail -n 20 "$dir/slapd.log")"
    done
    die "slapd found no free port after 8 attempts"
}

# write_cfg BOOTSTRAP: the config every service reads (keys as in deploy/sisopi.cfg.example).
write_cfg() {
    local dir=$OPT_DIR bs=$1 bsline
    if [[ -n $bs ]]; then
        bsline="  bootstrap = $(cfgstr "$bs");   # the devbroker's listeners ($dir/bootstrap)"
    else
        bsline="  # bootstrap: not set, the stack runs without a broker (--no-broker)"
    fi
    local accounts="" a
    for a in "${ACCOUNTS[@]}"; do
        accounts+="    $a: { bind_dn = $(cfgstr "cn=$a,cn=sisopi-accounts,$OPT_BASE");"
        accounts+=" password_file = $(cfgstr "$dir/ldap-$a.secret"); };"$'\n'
    done
    cat >"$dir/sisopi.cfg.tmp" <<EOF
# sisopi configuration of the local stack in $dir.
# Written by deploy/stack.sh start; rewritten on every start (edit the script, not this file).

kafka:
{
$bsline
  topics:
  {
    users = "sisopi.users";
    events = "sisopi.events";
    dlq = "sisopi.users.dlq";
    journal = "sisopi.reconciler.journal";
  };
  partitions = $OPT_PARTITIONS;
  replication_factor = 1;   # the devbroker ignores it
  # The mock broker needs short group timeouts (docs/platform.md); production keeps its own.
  # It also answers a fetch that found nothing only when fetch.wait.max.ms is over, even if
  # messages arrive meanwhile (a real broker answers at once): 100 ms, not 500, keeps a
  # running reconciler close behind the ingest.
  properties = (
    [ "session.timeout.ms", "6000" ],
    [ "heartbeat.interval.ms", "500" ],
    [ "fetch.wait.max.ms", "100" ]
  );
};

ldap:
{
  uri = $(cfgstr "$LDAP_URI");
  base = $(cfgstr "$OPT_BASE");
  # The rootdn: only for tools that are no sisopi program (the tests' own checks). Every
  # program binds with its own account below, whose rights slapd.conf's ACLs give.
  bind_dn = $(cfgstr "$ROOTDN");
  password_file = $(cfgstr "$dir/ldap.secret");
  accounts:
  {
$accounts  };
  starttls = false;
  containers:
  {
    student = "schueler";
    teacher = "lehrer";
    staff = "mitarbeiter";
    teacher_and_staff = "lehrer und mitarbeiter";
  };
};

import:
{
  source_uid = $(cfgstr "$OPT_SOURCE_UID");
  limbo_ou = $(cfgstr "$OPT_LIMBO");
  deletion_grace_period = "90d";
  tolerate_errors = 0;
  csv:
  {
    # The column names of the files in examples/.
    mapping = (
      [ "record_uid", "record_uid" ],
      [ "firstname", "firstname" ],
      [ "lastname", "lastname" ],
      [ "school", "school" ],
      [ "classes", "school_classes" ],
      [ "email", "email" ],
      [ "birthday", "birthday" ]
    );
    allowed_missing_columns = [ "classes", "email", "birthday" ];
  };
};

reconciler:
{
  state_dir = $(cfgstr "$dir/reconciler");
};

scheduler:
{
  sweep_interval = "1h";
};

output:
{
  log_format = "kv";
  log_level = "info";
};

# Any free loopback port (logged as metrics_listening): stacks and tests run side by side.
metrics:
{
  reconciler = "127.0.0.1:0";
  scheduler = "127.0.0.1:0";
  ingest = "127.0.0.1:0";
};
EOF
    mv -f "$dir/sisopi.cfg.tmp" "$dir/sisopi.cfg"
}

start_broker() {
    local dir=$OPT_DIR bin=$OPT_BUILD/services/sisopi-devbroker pid i deadline
    local args=(-c "$dir/sisopi.cfg" --bootstrap-file "$dir/bootstrap")
    [[ -n $OPT_BROKERS ]] && args+=(--brokers "$OPT_BROKERS")
    rm -f "$dir/bootstrap"
    "$bin" "${args[@]}" </dev/null >"$dir/devbroker.log" 2>&1 &
    pid=$!
    printf '%s\n' "$pid" >"$dir/devbroker.pid"
    BOOTSTRAP=""
    deadline=$(($(now) + 10000000))
    for ((i = 0; i < 500; i++)); do
        if [[ -s $dir/bootstrap ]]; then
            BOOTSTRAP=$(head -n 1 "$dir/bootstrap" | tr -d '[:space:]')
            [[ -n $BOOTSTRAP ]] && return 0
        fi
        if exited "$pid"; then
            wait "$pid" 2>/dev/null || true
            rm -f "$dir/devbroker.pid"
            die "sisopi-devbroker exited at start:"$'\n'"$(tail -n 20 "$dir/devbroker.log")"
        fi
        (($(now) < deadline)) || break
        sleep 0.02
    done
    die "sisopi-devbroker wrote no $dir/bootstrap within 10 s; see $dir/devbroker.log"
}

START_DONE=0
on_start_exit() {
    local rc=$?
    if ((!START_DONE)); then
        note "start failed; stopping what was started"
        do_stop || true
    fi
    return "$rc"
}

do_start() {
    validate_start_opts
    local dir=$OPT_DIR t0 bin=$OPT_BUILD/services/sisopi-devbroker
    t0=$(now)
    local t
    for t in slapd slapadd slappasswd ldapsearch; do
        command -v "$t" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
        command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install slapd ldap-utils)"
    done
    if ((!OPT_NO_BROKER)) && [[ ! -x $bin ]]; then
        die "$bin not found: build it (cmake --build BUILD) or give --build DIR, or --no-broker"
    fi
    if [[ -n $OPT_SCHOOLS && ! -x $OPT_BUILD/services/sisopi-admin ]]; then
        die "$OPT_BUILD/services/sisopi-admin not found (it makes the schools): build it or give --build DIR"
    fi
    ROOTDN="cn=admin,$OPT_BASE"
    prepare_dir
    trap on_start_exit EXIT
    make_secrets
    write_slapd_conf
    load_initial_ldif
    start_slapd
    local t_ldap=$(($(now) - t0))
    write_cfg ""
    # shellcheck disable=SC2086 # the names are checked, one word each
    create_schools "$dir/sisopi.cfg" $OPT_SCHOOLS
    BOOTSTRAP=""
    if ((!OPT_NO_BROKER)); then
        start_broker
        write_cfg "$BOOTSTRAP"
    fi
    save_state "URI=$LDAP_URI" "LDAPI=$LDAPI_URI" "BASE=$OPT_BASE" "ROOTDN=$ROOTDN" \
        "PORT=$SLAPD_PORT" "LIMBO=$OPT_LIMBO" "BOOTSTRAP=$BOOTSTRAP" "SCHOOLS=$OPT_SCHOOLS" \
        "BROKER=$((!OPT_NO_BROKER))"
    START_DONE=1
    trap - EXIT
    local t_all=$(($(now) - t0))
    printf 'sisopi stack started in %d.%03d s (slapd ready after %d.%03d s): %s\n' \
        $((t_all / 1000000)) $((t_all / 1000 % 1000)) $((t_ldap / 1000000)) \
        $((t_ldap / 1000 % 1000)) "$dir"
    print_summary
}

print_summary() {
    local dir=$OPT_DIR
    load_state "$dir" || die "no stack state in $dir"
    printf '  ldap:      %s%s\n' "${ST[URI]}" "${ST[LDAPI]:+  (and ${ST[LDAPI]} with -Y EXTERNAL)}"
    printf '  base:      %s\n' "${ST[BASE]}"
    printf '  bind:      -D "%s" -y %s\n' "${ST[ROOTDN]}" "$dir/ldap.secret"
    printf '  accounts:  cn=PROGRAM,cn=sisopi-accounts,%s -y %s\n' "${ST[BASE]}" \
        "$dir/ldap-PROGRAM.secret"
    printf '  limbo:     ou=%s  schools: %s\n' "${ST[LIMBO]}" "${ST[SCHOOLS]:-(none)}"
    printf '  bootstrap: %s\n' "${ST[BOOTSTRAP]:-(no broker)}"
    printf '  config:    %s\n' "$dir/sisopi.cfg"
    printf '  export SISOPI_CONFIG=%q\n' "$dir/sisopi.cfg"
}

# ---------------------------------------------------------------------------------------------
# status, env, school-add, schema-ldif
# ---------------------------------------------------------------------------------------------

do_status() {
    local dir=$OPT_DIR rc=0 pid
    if ! load_state "$dir"; then
        printf 'no stack in %s\n' "$dir"
        return 3
    fi
    pid=$(cat "$dir/slapd.pid" 2>/dev/null || true)
    if pid_is "$pid" slapd "$dir/slapd.conf"; then
        if ldap_ping "${ST[URI]}" "${ST[BASE]}" "${ST[ROOTDN]}" "$dir/ldap.secret"; then
            printf 'slapd:     running (pid %s), answers on %s\n' "$pid" "${ST[URI]}"
        else
            printf 'slapd:     running (pid %s), NOT answering on %s\n' "$pid" "${ST[URI]}"
            rc=1
        fi
    else
        printf 'slapd:     stopped\n'
        rc=3
    fi
    if [[ ${ST[BROKER]} == 1 ]]; then
        pid=$(cat "$dir/devbroker.pid" 2>/dev/null || true)
        if pid_is "$pid" sisopi-devbroker "$dir/sisopi.cfg"; then
            printf 'devbroker: running (pid %s), bootstrap %s\n' "$pid" "${ST[BOOTSTRAP]}"
        else
            printf 'devbroker: stopped\n'
            rc=3
        fi
    else
        printf 'devbroker: not started (--no-broker)\n'
    fi
    printf 'config:    %s\n' "$dir/sisopi.cfg"
    return "$rc"
}

do_env() {
    local dir=$OPT_DIR
    load_state "$dir" || die "no stack in $dir"
    printf 'export SISOPI_CONFIG=%q\n' "$dir/sisopi.cfg"
    printf 'export SISOPI_STACK_DIR=%q\n' "$dir"
    # Defaults of the OpenLDAP tools: ldapsearch -x -D "$ROOTDN" -y "$SISOPI_STACK_DIR/ldap.secret"
    printf 'export LDAPURI=%q\n' "${ST[URI]}"
    printf 'export LDAPBASE=%q\n' "${ST[BASE]}"
}

# A new school only: an existing one is an error here (sisopi-admin school create would
# complete it instead).
do_school_add() {
    local dir=$OPT_DIR name=${ARGS[0]:-} out rc=0
    [[ ${#ARGS[@]} -eq 1 ]] || die "usage: stack.sh school-add NAME [--dir DIR]"
    load_state "$dir" || die "no stack in $dir"
    [[ -x $OPT_BUILD/services/sisopi-admin ]] ||
        die "$OPT_BUILD/services/sisopi-admin not found: build it or give --build DIR"
    if [[ $name =~ ^[A-Za-z0-9_-]+$ ]]; then
        # ou matching ignores case, so this finds an existing school in any case.
        timeout 10 ldapsearch -x -LLL -o nettimeout=5 -H "${ST[URI]}" -D "${ST[ROOTDN]}" \
            -y "$dir/ldap.secret" -s base -b "ou=$name,${ST[BASE]}" 1.1 >/dev/null 2>&1 || rc=$?
        ((rc != 0)) || die "adding school $name failed: Already exists (68): ou=$name,${ST[BASE]}"
    fi
    out=$("$OPT_BUILD/services/sisopi-admin" -c "$dir/sisopi.cfg" school create -- "$name" 2>&1) ||
        die "adding school $name failed:"$'\n'"$out"
    local schools="${ST[SCHOOLS]:+${ST[SCHOOLS]} }$name" kv=() k
    for k in "${!ST[@]}"; do
        [[ $k == SCHOOLS ]] || kv+=("$k=${ST[$k]}")
    done
    save_state "${kv[@]}" "SCHOOLS=$schools"
    printf 'school %s added: ou=%s,%s\n' "$name" "$name" "${ST[BASE]}"
}

# The cn=config form of sisopi.schema (for `ldapadd -Y EXTERNAL -H ldapi:/// -f sisopi.ldif`
# on a directory configured with cn=config), converted by slaptest.
do_schema_ldif() {
    local tmp f
    tmp=$(mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" RETURN
    mkdir "$tmp/slapd.d"
    cat >"$tmp/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include $LDAP_SRC/sisopi.schema
EOF
    slaptest -f "$tmp/slapd.conf" -F "$tmp/slapd.d" >"$tmp/log" 2>&1 ||
        die "slaptest failed:"$'\n'"$(cat "$tmp/log")"
    f=$(ls "$tmp"/slapd.d/cn=config/cn=schema/cn=\{*\}sisopi.ldif)
    printf '# sisopi.schema in cn=config form. Generated by "deploy/stack.sh schema-ldif";\n'
    printf '# regenerate after every change of sisopi.schema. Load with\n'
    printf '#   ldapadd -Y EXTERNAL -H ldapi:/// -f sisopi.ldif\n'
    printf '# after core, cosine, inetorgperson and nis (see deploy/ldap/README.md).\n'
    # Drop slaptest's checksum comment and the operational attributes; name it cn=sisopi.
    sed -e '/^#/d' \
        -e '/^\(structuralObjectClass\|entryUUID\|creatorsName\|createTimestamp\|entryCSN\|modifiersName\|modifyTimestamp\):/d' \
        -e 's/^dn: cn={[0-9]*}sisopi$/dn: cn=sisopi,cn=schema,cn=config/' \
        -e 's/^cn: {[0-9]*}sisopi$/cn: sisopi/' "$f"
}

# ---------------------------------------------------------------------------------------------

main() {
    local cmd=${1:-}
    [[ -n $cmd ]] || usage 2
    shift
    parse_opts "$@"
    case $cmd in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    env) do_env ;;
    school-add) do_school_add ;;
    schema-ldif) do_schema_ldif ;;
    -h | --help | help) usage 0 ;;
    *) die "unknown command \"$cmd\" (start, stop, status, env, school-add, schema-ldif)" ;;
    esac
}

main "$@"
