#!/usr/bin/env bash
# The man pages and the shell completion agree with the programs:
#   - every option each program's --help names is in its man page (and every command of
#     sisopi-admin and sisopi-audit); every page renders with scdoc and was built;
#   - the bash completion offers the options, commands and roles, and the schools the
#     directory has (from `sisopi-admin school list`), never the limbo OU.
set -euo pipefail
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

B_=$SISOPI_BUILD/services
MAN_SRC=(
    "sisopi-ingest:services/ingest/sisopi-ingest.1.scd"
    "sisopi-reconciler:services/reconciler/sisopi-reconciler.1.scd"
    "sisopi-scheduler:services/scheduler/sisopi-scheduler.1.scd"
    "sisopi-audit:services/audit/sisopi-audit.1.scd"
    "sisopi-admin:services/admin/sisopi-admin.1.scd"
    "sisopi-devbroker:services/devbroker/sisopi-devbroker.1.scd"
    "sisopi-api:services/api/sisopi-api.1.scd"
    "sisopi-connector:services/connector/sisopi-connector.1.scd"
)

step "every option of --help is in the program's man page"
command -v scdoc >/dev/null || fail "scdoc is not installed (deploy/install-deps.sh installs it)"
for ps in "${MAN_SRC[@]}"; do
    prog=${ps%%:*} src=$SISOPI_SRC/${ps#*:}
    [[ -f $src ]] || fail "$prog: no man page source $src"
    help=$("$B_/$prog" --help) || fail "$prog --help failed"
    opts=$(grep -o -- '--[a-z][a-z-]*' <<<"$help" | sort -u)
    [[ $(wc -l <<<"$opts") -ge 3 ]] || fail "$prog: too few options found in --help: $opts"
    page=$(sed 's/\\//g' "$src") # scdoc escapes (\_) do not hide a word
    while read -r o; do
        grep -qF -- "*$o*" <<<"$page" || fail "$prog: $o is in --help but not in ${ps#*:}"
    done <<<"$opts"
    short=$(grep -oE '^ +-[a-zA-Z],' <<<"$help" | tr -d ' ,' | sort -u)
    while read -r o; do
        [[ -z $o ]] || grep -qF -- "*$o*" <<<"$page" || fail "$prog: $o is in --help but not in its page"
    done <<<"$short"
    scdoc <"$src" >/dev/null || fail "$prog: scdoc refuses ${ps#*:}"
done
for c in release "purge list" "topics check" "topics create" "school create" "school list" \
    "school show" "school delete" "import-group create" "import-group add-member" \
    "import-group remove-member" "import-group list" "import-group delete" "dlq replay"; do
    grep -qF "*$c*" "$SISOPI_SRC/services/admin/sisopi-admin.1.scd" || fail "sisopi-admin: $c"
    grep -qF "  $c" <<<"$("$B_/sisopi-admin" --help)" || fail "sisopi-admin --help lacks $c"
done
for c in dump history imports report verify; do
    grep -qF "*$c*" "$SISOPI_SRC/services/audit/sisopi-audit.1.scd" || fail "sisopi-audit: $c"
    grep -qF "  $c" <<<"$("$B_/sisopi-audit" --help)" || fail "sisopi-audit --help lacks $c"
done
scdoc <"$SISOPI_SRC/deploy/sisopi.cfg.5.scd" >/dev/null || fail "scdoc refuses sisopi.cfg.5.scd"
for g in kafka ldap import reconciler scheduler metrics output api connector; do
    grep -q "^$g:" "$SISOPI_SRC/deploy/sisopi.cfg.example" || fail "the example has no group $g"
    grep -qF "*$g*" "$SISOPI_SRC/deploy/sisopi.cfg.5.scd" || fail "sisopi.cfg(5) lacks the group $g"
done

step "the build rendered the pages (roff with a NAME section)"
for p in sisopi-ingest.1 sisopi-reconciler.1 sisopi-scheduler.1 sisopi-audit.1 sisopi-admin.1 \
    sisopi-api.1 sisopi-connector.1 sisopi.cfg.5; do
    [[ -s $SISOPI_BUILD/man/$p ]] || fail "$SISOPI_BUILD/man/$p was not built"
    grep -q '^\.SH NAME' "$SISOPI_BUILD/man/$p" || fail "$p: no NAME section"
done

step "completion: options, commands, roles, topics"
COMPLETION=$SISOPI_SRC/deploy/completion/sisopi.bash
export PATH="$B_:$PATH"
# complete_words WORD...: what the completion offers for the last word, sorted, one line.
complete_words() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
             _sisopi; printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd" " -' \
        _ "$COMPLETION" "$@"
}
assert_eq "--role" "$(complete_words sisopi-ingest --ro)" "ingest --ro"
assert_eq "--dry-run" "$(complete_words sisopi-ingest --dr)" "ingest --dr"
assert_eq "staff student teacher teacher_and_staff" "$(complete_words sisopi-ingest --role "")" \
    "roles"
assert_eq "release" "$(complete_words sisopi-admin rel)" "admin commands"
assert_eq "create delete list show" "$(complete_words sisopi-admin school "")" "school commands"
assert_eq "check create" "$(complete_words sisopi-admin -c x.cfg topics "")" "after -c FILE"
assert_eq "replay" "$(complete_words sisopi-admin dlq "")" "dlq commands"
assert_eq "add-member create delete list remove-member" \
    "$(complete_words sisopi-admin import-group "")" "import-group commands"
assert_eq "--member" "$(complete_words sisopi-admin import-group create x --school Gym1 --m)" \
    "import-group create options after --school S"
assert_eq "--dry-run" "$(complete_words sisopi-admin dlq replay --offset 3 --d)" \
    "dlq replay options after --offset N"
assert_eq "events" "$(complete_words sisopi-audit dump --topic e)" "audit topics"
assert_eq "--until-idle" "$(complete_words sisopi-reconciler --until)" "reconciler options"
assert_eq "--listen" "$(complete_words sisopi-api --li)" "api options"
assert_eq "resync verify" "$(complete_words sisopi-connector -a nord "")" "connector commands"
assert_eq "--dry-run" "$(complete_words sisopi-connector resync --authority nord --d)" \
    "connector resync options"

step "completion: the schools the directory has, without the limbo OU"
start_stack --schools "Gym1 Schule2"
assert_eq "Gym1 Schule2" "$(complete_words sisopi-ingest -c "$SISOPI_CONFIG" --school "")" \
    "schools after -c"
assert_eq "Gym1 Schule2" "$(complete_words sisopi-ingest --school "")" \
    "schools with \$SISOPI_CONFIG"
assert_eq "Gym1" "$(complete_words sisopi-admin school show G)" "school show G"

printf 'test_docs: ok\n'
