# bash completion for sisopi's programs: options (read from each program's --help, so they
# always agree), the commands of sisopi-admin, sisopi-audit and sisopi-connector, roles,
# topics, and school names (asked of the directory with `sisopi-admin school list`, at most 5 s).
# Installed once per program name under /usr/share/bash-completion/completions/.

# The config given on the command line so far (-c FILE / --config FILE), if any.
_sisopi_config() {
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -c | --config) printf '%s' "${COMP_WORDS[i + 1]}" && return ;;
        --config=*) printf '%s' "${COMP_WORDS[i]#--config=}" && return ;;
        esac
    done
}

# The schools of the directory, the limbo OU left out.
_sisopi_schools() {
    local cfg args=()
    cfg=$(_sisopi_config)
    [[ -n $cfg ]] && args=(-c "$cfg")
    timeout 5 sisopi-admin "${args[@]}" school list --json 2>/dev/null |
        sed -n 's/^{"name":"\([^"]*\)".*"limbo":false.*/\1/p'
}

_sisopi_options() {
    "$1" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u
}

_sisopi() {
    local cmd=${COMP_WORDS[0]##*/} cur=${COMP_WORDS[COMP_CWORD]} prev=""
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()
    case $prev in
    -c | --config | --output | --bootstrap-file)
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
        ;;
    --watch)
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        return
        ;;
    -r | --role)
        mapfile -t COMPREPLY < <(compgen -W "student teacher staff teacher_and_staff" -- "$cur")
        return
        ;;
    -s | --school)
        mapfile -t COMPREPLY < <(compgen -W "$(_sisopi_schools)" -- "$cur")
        return
        ;;
    --topic)
        mapfile -t COMPREPLY < <(compgen -W "users events dlq" -- "$cur")
        return
        ;;
    -b | --bootstrap | --timeout | --interval | --metrics | --source-uid | --idle-open | \
        --brokers | --display-name | --offset | --partition | -l | --listen | -a | --authority | \
        --record-uid | --member)
        return # a value the shell cannot guess
        ;;
    esac
    # The command of sisopi-admin / sisopi-audit: the first word that is not an option or an
    # option's value.
    local i words=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -c | --config | -b | --bootstrap | --timeout | --offset | --partition | -a | --authority | \
            -s | --school | -r | --role | --member | --record-uid | --metrics) ((i++)) ;;
        -*) ;;
        *) words+=("${COMP_WORDS[i]}") ;;
        esac
    done
    local list=""
    case $cmd in
    sisopi-admin)
        case "${words[*]}" in
        "") list="release purge topics school import-group dlq" ;;
        dlq) list="replay" ;;
        "dlq replay") list="--offset --partition --all --dry-run --timeout" ;;
        purge) list="list" ;;
        topics) list="check create" ;;
        school) list="create list show delete" ;;
        "school show" | "school delete" | "school create") list=$(_sisopi_schools) ;;
        "purge list") list="--due --json" ;;
        "school list") list="--json" ;;
        "topics check" | "topics create") list="--timeout" ;;
        import-group) list="create add-member remove-member list delete" ;;
        "import-group list") list="--school --json" ;;
        "import-group create "*) list="--school --role --member" ;;
        esac
        ;;
    sisopi-audit)
        case "${words[*]}" in
        "") list="dump history imports report verify" ;;
        dump) list="--topic --timeout" ;;
        history | imports | verify) list="--json --timeout" ;;
        report) list="--csv --output --json --timeout" ;;
        esac
        ;;
    sisopi-connector)
        case "${words[*]}" in
        "") list="resync verify" ;;
        resync) list="--authority --school --record-uid --dry-run" ;;
        verify) list="--authority --school --record-uid" ;;
        esac
        ;;
    esac
    if [[ -n $list && $cur != -* ]] || [[ $list == --* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$list" -- "$cur")
        [[ ${#COMPREPLY[@]} -gt 0 || $cur != -* ]] && return
    fi
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_sisopi_options "${COMP_WORDS[0]}")" -- "$cur")
    elif [[ $cmd == sisopi-ingest ]]; then
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
}

complete -F _sisopi sisopi-ingest sisopi-reconciler sisopi-scheduler sisopi-audit sisopi-admin \
    sisopi-devbroker sisopi-api sisopi-connector
