#!/usr/bin/env bash
# ldap-entrypoint.sh: entry point of sisopi's OpenLDAP image (deploy/Dockerfile, target
# "openldap"). Renders deploy/ldap/slapd.conf.in and base.ldif.in the way deploy/stack.sh
# does, and school.ldif.in (the template compiled into `sisopi-admin school create`, which
# this image does not hold) once per school; loads the fixed entries (base, counters, password
# policy, the limbo OU, the schools, the programs' accounts) into an empty database once,
# sets the programs' account passwords from their files on every start, and runs slapd in
# the foreground.
#
#   ldap-entrypoint.sh [run]    render slapd.conf, initialise an empty database, exec slapd
#   ldap-entrypoint.sh init     render and initialise only; slapd is not started
#   ldap-entrypoint.sh health   exit 0 if slapd answers a search of the limbo OU over ldapi://
#
# Environment (default in brackets):
#   SISOPI_LDAP_BASE           the suffix, dc=NAME[,dc=...] [dc=example,dc=org]. The rootdn is
#                              cn=admin,BASE: sisopi's ldap.bind_dn in deploy/docker/sisopi.cfg
#   SISOPI_LDAP_LIMBO          the limbo OU, import.limbo_ou of sisopi.cfg [limbo]
#   SISOPI_LDAP_SCHOOLS        school OUs created with the database, space-separated, with
#                              the default container names of ldap.containers [];
#                              later schools: sisopi-admin school create
#   SISOPI_LDAP_PASSWORD_FILE  the rootdn's password, read as sisopi reads it: the first line,
#                              without its line break [/run/secrets/ldap_password]. For the
#                              operator only: no sisopi program binds as the rootdn
#   SISOPI_LDAP_ACCOUNTS_DIR   the passwords of the programs' own directory accounts
#                              cn=PROGRAM,cn=sisopi-accounts,BASE, one file per program:
#                              ldap_PROGRAM_password (PROGRAM: reconciler, scheduler, audit,
#                              ingest, admin), read like the rootdn's [/run/secrets]
#   SISOPI_LDAP_DIR            slapd.conf, data/ (the mdb database) [/var/lib/sisopi-ldap]
#   SISOPI_LDAP_SRC            sisopi.schema and the *.in templates [/usr/share/sisopi/ldap]
#   SISOPI_LDAP_URLS           slapd -h; health uses the first ldapi:// [ldap:/// ldapi:///]
#   SISOPI_LDAP_USER           the user slapd drops to when started as root [openldap];
#                              empty: slapd keeps the user it was started as
#   SISOPI_LDAP_LOGLEVEL       slapd -d LEVEL, to stderr [none]; "stats": one line per operation
#   SISOPI_LDAP_NOSYNC         1: unsynced commits, about 10x faster, for tests only [0]
#
# slapd.conf is rendered on every start, and the accounts' password hashes are written into
# the database before slapd starts (slapmodify), so a new password in any of the files takes
# effect with a restart (docs/operations.md, "Directory accounts"); a database made before
# the accounts existed gets them then. The database is initialised only while DIR/data
# holds no completed initialisation. The base and
# limbo OU of an initialised database are kept in DIR/init.env; a later start with others is
# refused rather than serving an empty tree.
set -euo pipefail

PROG=sisopi-ldap
BASE=${SISOPI_LDAP_BASE:-dc=example,dc=org}
LIMBO=${SISOPI_LDAP_LIMBO:-limbo}
SCHOOLS=${SISOPI_LDAP_SCHOOLS:-}
PASSWORD_FILE=${SISOPI_LDAP_PASSWORD_FILE:-/run/secrets/ldap_password}
DIR=${SISOPI_LDAP_DIR:-/var/lib/sisopi-ldap}
SRC=${SISOPI_LDAP_SRC:-/usr/share/sisopi/ldap}
URLS=${SISOPI_LDAP_URLS:-ldap:/// ldapi:///}
RUN_AS=${SISOPI_LDAP_USER-openldap}
LOGLEVEL=${SISOPI_LDAP_LOGLEVEL:-none}
NOSYNC=${SISOPI_LDAP_NOSYNC:-0}
ACCOUNTS_DIR=${SISOPI_LDAP_ACCOUNTS_DIR:-/run/secrets}
ROOTDN="cn=admin,$BASE"
# The programs with a directory account of their own, and what each is for (accounts.list).
ACCOUNTS=()
declare -A ACCOUNT_DESC=()
while IFS=$'\t' read -r name desc; do
    [[ -z $name || $name == \#* ]] || { ACCOUNTS+=("$name") && ACCOUNT_DESC[$name]=$desc; }
done <"$SRC/accounts.list"
PATH=$PATH:/usr/sbin

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }

# The rule of `sisopi-admin school create` (and of deploy/stack.sh's limbo OU): names go into
# DNs and LDIF as they are.
valid_school() { [[ $1 =~ ^[A-Za-z0-9]([A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$ ]]; }

validate() {
    [[ $BASE =~ ^dc=([A-Za-z0-9-]+)(,(dc|o|ou|c|l|st)=[A-Za-z0-9._\ -]+)*$ ]] ||
        die "SISOPI_LDAP_BASE \"$BASE\": expected dc=NAME[,dc=...] (plain letters, digits, -)"
    BASE_DC=${BASH_REMATCH[1]}
    valid_school "$LIMBO" || die "SISOPI_LDAP_LIMBO \"$LIMBO\" is not a valid OU name"
    local s
    for s in $SCHOOLS; do
        valid_school "$s" || die "school \"$s\" (SISOPI_LDAP_SCHOOLS) is not a valid OU name"
        [[ ${s,,} != "${LIMBO,,}" ]] || die "a school may not be named like the limbo OU"
    done
    [[ $LOGLEVEL =~ ^[A-Za-z0-9,]+$ ]] || die "SISOPI_LDAP_LOGLEVEL: e.g. none, stats"
    [[ $NOSYNC == 0 || $NOSYNC == 1 ]] || die "SISOPI_LDAP_NOSYNC must be 0 or 1"
    local f
    for f in sisopi.schema slapd.conf.in base.ldif.in school.ldif.in accounts.ldif.in; do
        [[ -r $SRC/$f ]] || die "$SRC/$f is missing (SISOPI_LDAP_SRC)"
    done
}

# render TEMPLATE KEY=VALUE...: replaces every @KEY@, as deploy/stack.sh's render() does; a
# placeholder left outside a comment is an error.
render() {
    local template=$1 text kv left
    text=$(<"$template")
    shift
    for kv in "$@"; do
        text=${text//"@${kv%%=*}@"/"${kv#*=}"}
    done
    left=$(printf '%s\n' "$text" | grep -v '^#' | grep -o '@[A-Za-z_]*@' | head -n 1) || true
    [[ -z $left ]] || die "$template: placeholder $left has no value"
    printf '%s\n' "$text"
}

# password_hash FILE WHAT: the {SSHA} hash of a password as sisopi reads a password file: the
# first line without CR/LF. Hashing the whole file (slappasswd -T) would include the line
# break most editors and `echo` add, and sisopi's binds would then fail with
# invalidCredentials. WHAT names the setting in messages.
password_hash() {
    local file=$1 what=$2 line tmp hash
    [[ -r $file ]] || die "cannot read the password file $file ($what)"
    IFS= read -r line <"$file" || [[ -n $line ]] || die "$file is empty"
    line=${line%$'\r'}
    [[ -n $line ]] || die "the first line of $file is empty"
    [[ $line != REPLACE-ME* ]] ||
        die "$file still holds the placeholder of ldap_password.example; write a real password"
    tmp=$(mktemp "${TMPDIR:-/tmp}/sisopi-ldap-pw.XXXXXX")
    chmod 600 "$tmp"
    printf '%s' "$line" >"$tmp"
    hash=$(slappasswd -h '{SSHA}' -T "$tmp" 2>/dev/null) || { rm -f "$tmp"; die "slappasswd failed"; }
    rm -f "$tmp"
    [[ $hash == '{SSHA}'* ]] || die "slappasswd gave no {SSHA} hash"
    printf '%s' "$hash"
}

write_slapd_conf() {
    local hash envflags
    hash=$(password_hash "$PASSWORD_FILE" SISOPI_LDAP_PASSWORD_FILE)
    if ((NOSYNC)); then
        envflags="envflags nosync writemap"
    else
        envflags="# envflags: none (synced commits: a crash loses no acknowledged write)"
    fi
    # UID/GID: whoever runs this script (root in the image) is the rootdn on ldapi:// with
    # SASL EXTERNAL, which is what `health` uses; no password needed inside the container.
    render "$SRC/slapd.conf.in" \
        "BASE=$BASE" "ROOTDN=$ROOTDN" "ROOTPW=$hash" "DIR=$DIR" \
        "SISOPI_SCHEMA=$SRC/sisopi.schema" "UID=$(id -u)" "GID=$(id -g)" \
        "ENVFLAGS=$envflags" "LIMBO=$LIMBO" "MAXSIZE=4294967296" >"$DIR/slapd.conf.tmp"
    chmod 600 "$DIR/slapd.conf.tmp"
    mv -f "$DIR/slapd.conf.tmp" "$DIR/slapd.conf"
}

# The programs' account entries, with the hashes of their password files (hashed once per
# start: ACCOUNT_HASH, filled by hash_accounts).
declare -A ACCOUNT_HASH=()
hash_accounts() {
    local a
    for a in "${ACCOUNTS[@]}"; do
        ACCOUNT_HASH[$a]=$(password_hash "$ACCOUNTS_DIR/ldap_${a}_password" SISOPI_LDAP_ACCOUNTS_DIR)
    done
}
account_ldif() { # PROGRAM
    render "$SRC/accounts.ldif.in" "PROGRAM=$1" "BASE=$BASE" \
        "PASSWORD_HASH=${ACCOUNT_HASH[$1]}" "DESCRIPTION=${ACCOUNT_DESC[$1]}"
}

write_init_ldif() {
    local s a
    {
        render "$SRC/base.ldif.in" "BASE=$BASE" "BASE_DC=$BASE_DC" \
            "LIMBO=$LIMBO" "limbo_lower=${LIMBO,,}"
        for a in "${ACCOUNTS[@]}"; do
            printf '\n'
            account_ldif "$a"
        done
        for s in $SCHOOLS; do
            printf '\n'
            render "$SRC/school.ldif.in" "SCHOOL=$s" "school_lower=${s,,}" "BASE=$BASE" \
                "DISPLAY_NAME=$s" "CONTAINER_STUDENT=schueler" "CONTAINER_TEACHER=lehrer" \
                "CONTAINER_STAFF=mitarbeiter" "CONTAINER_TEACHER_AND_STAFF=lehrer und mitarbeiter"
        done
    } >"$DIR/init.ldif"
}

# init.env: what the database was made with (KEY=VALUE lines, read, never sourced).
check_init_env() {
    local k v base="" limbo=""
    while IFS='=' read -r k v; do
        case $k in
        BASE) base=$v ;;
        LIMBO) limbo=$v ;;
        esac
    done <"$DIR/init.env"
    [[ $base == "$BASE" ]] ||
        die "the database in $DIR/data was made for base \"$base\", not \"$BASE\"; keep SISOPI_LDAP_BASE or start with an empty volume"
    [[ $limbo == "$LIMBO" ]] ||
        die "the database in $DIR/data was made with limbo OU \"$limbo\", not \"$LIMBO\""
}

# An initialised database: every start sets the accounts' passwords from their files (a
# rotation), offline with slapmodify before slapd runs; accounts a database made before
# they existed lacks are added.
sync_accounts() {
    local have a dn
    have=$(slapcat -f "$DIR/slapd.conf" -a "(|(cn=sisopi-accounts)(objectClass=simpleSecurityObject))" \
        -o ldif-wrap=no 2>"$DIR/slapcat.log") ||
        die "slapcat failed:"$'\n'"$(cat "$DIR/slapcat.log")"
    {
        if [[ ${have,,} != *"dn: cn=sisopi-accounts,${BASE,,}"* ]]; then
            printf 'dn: cn=sisopi-accounts,%s\nchangetype: add\nobjectClass: organizationalRole\n' "$BASE"
            printf 'cn: sisopi-accounts\ndescription: the directory accounts of the sisopi programs\n\n'
        fi
        for a in "${ACCOUNTS[@]}"; do
            dn="cn=$a,cn=sisopi-accounts,$BASE"
            if [[ ${have,,} == *"dn: ${dn,,}"* ]]; then
                printf 'dn: %s\nchangetype: modify\nreplace: userPassword\nuserPassword: %s\n-\n\n' \
                    "$dn" "${ACCOUNT_HASH[$a]}"
            else
                account_ldif "$a" | grep -v '^#' | sed '/^dn: /a changetype: add'
                printf '\n'
            fi
        done
    } >"$DIR/accounts.ldif"
    slapmodify -q -f "$DIR/slapd.conf" -l "$DIR/accounts.ldif" >"$DIR/slapmodify.log" 2>&1 ||
        die "slapmodify (the accounts' passwords) failed:"$'\n'"$(cat "$DIR/slapmodify.log")"
    rm -f "$DIR/accounts.ldif"
}

init_database() {
    mkdir -p "$DIR/data"
    if [[ -e $DIR/data/.sisopi-initialised ]]; then
        check_init_env
        [[ -z $SCHOOLS ]] ||
            note "database exists; SISOPI_LDAP_SCHOOLS is only read when it is created (add schools with sisopi-admin school create)"
        sync_accounts
        return 0
    fi
    # No marker: nothing was ever served from data/, so a half-made database can go.
    rm -f "$DIR/data/data.mdb" "$DIR/data/lock.mdb" "$DIR/init.env"
    write_init_ldif
    # Offline bulk load before slapd runs: fast, and nobody sees a half-built tree.
    slapadd -q -f "$DIR/slapd.conf" -l "$DIR/init.ldif" >"$DIR/slapadd.log" 2>&1 ||
        die "slapadd failed:"$'\n'"$(cat "$DIR/slapadd.log")"
    printf 'BASE=%s\nLIMBO=%s\nSCHOOLS=%s\n' "$BASE" "$LIMBO" "$SCHOOLS" >"$DIR/init.env"
    : >"$DIR/data/.sisopi-initialised"
    note "initialised $DIR/data: base $BASE, limbo OU $LIMBO, schools: ${SCHOOLS:-(none)}"
}

# When started as root, slapd opens its listeners as root (port 389) and then runs as RUN_AS,
# which must own the database and read the config.
own_files() {
    [[ $(id -u) == 0 && -n $RUN_AS ]] || return 0
    id "$RUN_AS" >/dev/null 2>&1 || die "user $RUN_AS does not exist (SISOPI_LDAP_USER)"
    chown -R "$RUN_AS:" "$DIR/data"
    chown "$RUN_AS:" "$DIR" "$DIR/slapd.conf"
    # The default ldapi:/// socket of Debian's libldap.
    if [[ " $URLS " == *" ldapi:/// "* ]]; then
        install -d -m 0755 -o "$RUN_AS" -g "$(id -gn "$RUN_AS")" /var/run/slapd
    fi
}

prepare() {
    validate
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    write_slapd_conf
    hash_accounts
    init_database
    own_files
}

do_run() {
    prepare
    local args=(-h "$URLS" -f "$DIR/slapd.conf" -d "$LOGLEVEL")
    if [[ $(id -u) == 0 && -n $RUN_AS ]]; then
        args+=(-u "$RUN_AS" -g "$(id -gn "$RUN_AS")")
    fi
    note "starting slapd on $URLS"
    exec slapd "${args[@]}" </dev/null
}

do_health() {
    local url ldapi=""
    for url in $URLS; do
        if [[ $url == ldapi://* ]]; then
            ldapi=$url
            break
        fi
    done
    [[ -n $ldapi ]] || die "health needs an ldapi:// URL in SISOPI_LDAP_URLS"
    # Bounded: ldapsearch has no limit of its own once connected.
    timeout 10 ldapsearch -LLL -Q -Y EXTERNAL -H "$ldapi" -o nettimeout=5 -s base \
        -b "ou=$LIMBO,$BASE" 1.1 >/dev/null
}

case ${1:-run} in
run) do_run ;;
init) prepare ;;
health) do_health ;;
*) die "unknown command \"$1\" (run, init, health)" ;;
esac
