#!/usr/bin/env bash
# Installs the Debian package scripts/package.sh built on THIS machine, as an operator would,
# and checks it: programs, man pages, completion, the user and directories its maintainer
# scripts make, the units (systemd-analyze verify), and a school imported by the installed
# programs, with the reconciler started by its unit's own ExecStart= line against a local
# stack (slapd + dev broker). Then purges the package.
#
#   tests/package/test_install.sh DEB BUILD_DIR     (BUILD_DIR: a build holding the dev broker)
#
# It changes the machine (apt-get install, a system user): it runs only as root and only
# when CI=true or SISOPI_PACKAGE_TEST=1 says the machine may be changed. systemctl start
# needs systemd as PID 1, which CI machines and containers do not run: the unit's ExecStart=
# is run directly instead, and the unit files are checked with systemd-analyze verify.
set -euo pipefail
DEB=$(realpath "$1")
SISOPI_BUILD=$(realpath "$2")
export SISOPI_BUILD
TEST_NAME=test_install
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

[[ $(id -u) == 0 ]] || fail "must run as root (it installs a package)"
[[ ${CI:-} == true || ${SISOPI_PACKAGE_TEST:-} == 1 ]] ||
    fail "refusing to install a package on this machine: set CI=true or SISOPI_PACKAGE_TEST=1"

step "install $(basename "$DEB")"
export DEBIAN_FRONTEND=noninteractive
run apt-get install -y -q "$DEB"
((RC == 0)) || fail "apt-get install: $OUT"
assert_eq "install ok installed" "$(dpkg-query -W -f='${Status}' sisopi)" "dpkg status"

step "the programs, their version and commit"
for p in ingest reconciler scheduler audit admin; do
    [[ $(command -v "sisopi-$p") == /usr/bin/sisopi-$p ]] || fail "sisopi-$p not in /usr/bin"
    v=$("/usr/bin/sisopi-$p" -V) || fail "sisopi-$p -V"
    [[ $v == "sisopi-$p 0.1.0 (commit "* ]] || fail "sisopi-$p -V: $v"
done
[[ ! -e /usr/bin/sisopi-devbroker ]] || fail "the dev broker is packaged"

step "man pages and completion"
for p in sisopi-ingest sisopi-reconciler sisopi-scheduler sisopi-audit sisopi-admin; do
    assert_eq "/usr/share/man/man1/$p.1.gz" "$(man -w "$p")" "man -w $p"
done
assert_eq "/usr/share/man/man5/sisopi.cfg.5.gz" "$(man -w 5 sisopi.cfg)" "man -w 5 sisopi.cfg"
assert_contains "$(MANWIDTH=80 man -P cat sisopi-ingest 2>/dev/null)" "publish one school's export" \
    "man sisopi-ingest shows the page"
got=$(bash -c 'source /usr/share/bash-completion/completions/sisopi-ingest
               COMP_WORDS=(sisopi-ingest --ro); COMP_CWORD=1; _sisopi; echo "${COMPREPLY[*]}"')
assert_eq "--role" "$got" "completion of sisopi-ingest --ro"

step "the maintainer scripts made the user, the group and the directories"
getent passwd sisopi >/dev/null || fail "no user sisopi"
getent group sisopi-drop >/dev/null || fail "no group sisopi-drop"
assert_eq "750 root sisopi" "$(stat -c '%a %U %G' /etc/sisopi)" "/etc/sisopi"
assert_eq "2770 sisopi sisopi-drop" "$(stat -c '%a %U %G' /srv/sisopi/drop)" "the drop directory"
dpkg-query -W -f='${Conffiles}' sisopi | grep -q "/etc/sisopi/sisopi.cfg" ||
    fail "/etc/sisopi/sisopi.cfg is not a conffile"
for u in sisopi-reconciler@.service sisopi-scheduler.service sisopi-ingest-watch.service \
    sisopi-verify.service sisopi-verify.timer sisopi.target; do
    [[ -f /lib/systemd/system/$u ]] || fail "no /lib/systemd/system/$u"
done
if [[ -d /run/systemd/system ]]; then
    systemctl is-enabled --quiet sisopi-scheduler.service &&
        fail "the package enabled sisopi-scheduler.service (it must start nothing)"
fi

step "systemd-analyze verify the installed units"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (package systemd)"
run systemd-analyze verify --man=no --generators=no sisopi-scheduler.service \
    sisopi-ingest-watch.service sisopi-reconciler@1.service sisopi-verify.service \
    sisopi-verify.timer sisopi.target
if ((RC != 0)) || [[ -n $OUT ]]; then fail "systemd-analyze verify (exit $RC): $OUT"; fi

step "the installed programs import a school; the reconciler runs as its unit says"
start_stack --partitions 12
CFG=$SISOPI_CONFIG
run /usr/bin/sisopi-admin -c "$CFG" school create PkgA
((RC == 0)) || fail "school create: $OUT"
printf '%s\n' "record_uid,firstname,lastname,school,classes" "PK-1,Paula,Paket,PkgA,1a" \
    >"$STACK_DIR/pkg.csv"
run /usr/bin/sisopi-ingest -c "$CFG" -q --school PkgA --role student "$STACK_DIR/pkg.csv"
((RC == 0)) || fail "ingest: $OUT"
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/sisopi-reconciler@.service)
[[ $exec_start == "/usr/bin/sisopi-reconciler -c /etc/sisopi/sisopi.cfg --metrics \${SISOPI_METRICS}" ]] ||
    fail "the unit's ExecStart changed: $exec_start (update this test)"
# The unit's command line, with this stack's config and any free metrics port.
read -r -a cmd <<<"${exec_start//\/etc\/sisopi\/sisopi.cfg/$CFG}"
cmd=("${cmd[@]/\$\{SISOPI_METRICS\}/127.0.0.1:0}")
run timeout 120 "${cmd[@]}" --until-idle --idle-open 3
((RC == 0)) || fail "${cmd[*]} --until-idle: exit $RC: $OUT"
dn=$(ldap_search -b "$STACK_BASE" "(ucsschoolRecordUID=PK-1)" 1.1 | sed -n 's/^dn: //p')
[[ $dn == *",ou=PkgA,$STACK_BASE" ]] || fail "PK-1 not created in PkgA: $dn"
stop_stack

step "purge"
run apt-get purge -y -q sisopi
((RC == 0)) || fail "apt-get purge: $OUT"
[[ ! -e /usr/bin/sisopi-ingest && ! -e /etc/sisopi/sisopi.cfg ]] || fail "files left after purge"

printf 'test_install: ok\n'
