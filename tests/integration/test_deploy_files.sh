#!/usr/bin/env bash
# The deployment files, checked without a Docker engine, a broker or systemd running:
# - docker-compose.yml: the services, health checks, depends_on conditions, volumes, secrets,
#   loopback-only ports, and agreement with deploy/docker/sisopi.cfg (PyYAML if installed);
#   Compose's own validation (`docker compose config`, or Debian's docker-compose) if installed;
# - deploy/Dockerfile: the build stage runs deploy/install-deps.sh and demo.sh's cmake
#   commands, every COPY source exists, what the unit tests read is copied, the runtime
#   packages provide every library the built programs link against, a non-root user;
# - deploy/docker/sisopi.cfg: loaded by the real programs, which then fail on the network
#   (in a private network namespace when possible), never on the config; its CSV mapping reads
#   the sample files;
# - the OpenLDAP image's entry point: a real slapd from the rendered files, on a loopback
#   port, as the image runs it (slapd drops to openldap when the test runs as root): layout,
#   sisopi's own bind with a password file that ends in a newline, overlays, restart, refusals;
# - deploy/docker/create-topics.sh --plan: partitions and retention of the four topics;
# - deploy/systemd: systemd-analyze verify (binaries' paths substituted) and security (exposure
#   at most 2.0), the hardening and credential lines, the nightly verify service and timer,
#   sysusers and tmpfiles applied to a temporary root;
# - deploy/prometheus/sisopi-rules.yml: promtool check rules (required: install-deps.sh
#   --test-tools installs it), promtool unit tests of the alerts, and every metric it names is
#   one the C sources declare; deploy/grafana/sisopi-dashboard.json: valid JSON in Grafana's
#   shape (jq), its queries on the datasource input, its metrics declared too.
# (deploy/docker/README.md and deploy/systemd/README.md say what was validated beyond this.)
# Checks whose tool is missing are reported as skipped; each check is shown able to fail by a
# broken copy of its input.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S=$SISOPI_SRC
B=$SISOPI_BUILD/services
COMPOSE=$S/docker-compose.yml
DOCKERFILE=$S/deploy/Dockerfile
DCFG=$S/deploy/docker/sisopi.cfg
UNITS=$S/deploy/systemd
ENTRY=$S/deploy/docker/ldap-entrypoint.sh
TOPICS=$S/deploy/docker/create-topics.sh
RULES=$S/deploy/prometheus/sisopi-rules.yml
DASH=$S/deploy/grafana/sisopi-dashboard.json
for p in sisopi-reconciler sisopi-scheduler sisopi-ingest sisopi-admin sisopi-audit sisopi-api; do
    [[ -x $B/$p ]] || fail "$B/$p is not built"
done
W=$(mktemp -d "${TMPDIR:-/tmp}/sisopi-${TEST_NAME}.XXXXXX")
SLAPD_PID=""
cleanup() {
    if [[ -n $SLAPD_PID ]] && proc_alive "$SLAPD_PID"; then
        kill -TERM "$SLAPD_PID" 2>/dev/null || true
        wait "$SLAPD_PID" 2>/dev/null || true
    fi
    if [[ ${KEEP_STACK:-0} == 1 ]]; then
        printf '%s: work directory kept: %s\n' "$TEST_NAME" "$W" >&2
    else
        rm -rf "$W"
    fi
}
LIB_AT_EXIT+=(cleanup)
trap _lib_on_exit EXIT
SKIPPED=()
skip() { # WHAT WHY
    SKIPPED+=("$1 ($2)")
    printf '%s: SKIPPED %s: %s\n' "$TEST_NAME" "$1" "$2"
}

# cfg_str KEY: the value of the one `KEY = "VALUE";` (or number) line of the container config.
cfg_str() {
    local v
    v=$(sed -n -E "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"?([^\";]*)\"?[[:space:]]*;.*/\\1/p" "$DCFG")
    [[ -n $v && $v != *$'\n'* ]] || fail "$DCFG: expected exactly one \"$1 = ...;\" line"
    printf '%s' "$v"
}

# -----------------------------------------------------------------------------------------
step "files end with a newline, scripts pass bash -n and shellcheck"
for f in "$COMPOSE" "$DOCKERFILE" "$S"/deploy/docker/* "$S/deploy/docker/.gitignore" "$UNITS"/* \
    "$S/docs/operations.md" "$RULES" "$DASH" "${BASH_SOURCE[0]}"; do
    [[ ! -d $f ]] || continue # deploy/docker/secrets/, where an operator keeps the real one
    [[ -f $f ]] || fail "missing file $f"
    [[ -z $(tail -c 1 "$f") ]] || fail "$f does not end with a newline"
done
for f in "$ENTRY" "$TOPICS"; do
    [[ -x $f ]] || fail "$f is not executable"
    assert_ok "bash -n $f" bash -n "$f"
done
[[ -x $S/deploy/docker/chroot-build.py ]] || fail "deploy/docker/chroot-build.py is not executable"
if command -v python3 >/dev/null; then
    assert_ok "chroot-build.py --help" python3 "$S/deploy/docker/chroot-build.py" --help
fi
if command -v shellcheck >/dev/null; then
    # From the repository root, where the "shellcheck source=" paths start.
    assert_ok "shellcheck" env -C "$S" shellcheck -x deploy/docker/ldap-entrypoint.sh \
        deploy/docker/create-topics.sh tests/integration/test_deploy_files.sh
else
    skip shellcheck "not installed"
fi

step "no secret is committed; the compose secret is ignored by git"
assert_eq "REPLACE-ME" "$(head -c 10 "$S/deploy/docker/ldap_password.example")" \
    "the example secret holds a placeholder"
if git -C "$S" rev-parse --git-dir >/dev/null 2>&1; then
    assert_ok "deploy/docker/secrets/ldap_password is git-ignored" \
        git -C "$S" check-ignore -q deploy/docker/secrets/ldap_password
    tracked=$(git -C "$S" ls-files deploy/docker/secrets)
    assert_eq "" "$tracked" "files under deploy/docker/secrets are tracked"
else
    skip "git check-ignore" "not a git checkout"
fi

# -----------------------------------------------------------------------------------------
step "docker-compose.yml: services, health checks, depends_on, volumes, secrets, ports"
STATE_DIR=$(cfg_str state_dir)
PARTITIONS=$(cfg_str partitions)
export COMPOSE DCFG STATE_DIR PARTITIONS SISOPI_SRC
export CFG_BASE CFG_LIMBO CFG_M_RECONCILER CFG_M_SCHEDULER CFG_M_INGEST CFG_M_API CFG_M_CONNECTOR
export CFG_ACCOUNTS
CFG_BASE=$(cfg_str base)
CFG_LIMBO=$(cfg_str limbo_ou)
# The image's rootdn: the operator's, never a program's.
ROOTDN="cn=admin,$CFG_BASE"
grep -Eq '^  (bind_dn|password_file)[[:space:]]*=' "$DCFG" &&
    fail "$DCFG: a shared ldap.bind_dn/password_file (every program has its own account)"
# cfg_account PROGRAM KEY: ldap.accounts.PROGRAM.KEY of the container config.
cfg_account() { sed -n "/^ *$1: *{/,/};/s/.*$2 = \"\\([^\"]*\\)\";.*/\\1/p" "$DCFG"; }
CFG_ACCOUNTS=""
for p in reconciler scheduler ingest audit admin api connector; do
    assert_eq "cn=$p,cn=sisopi-accounts,$CFG_BASE" "$(cfg_account "$p" bind_dn)" \
        "$DCFG: ldap.accounts.$p.bind_dn"
    assert_eq "/run/secrets/ldap_${p}_password" "$(cfg_account "$p" password_file)" \
        "$DCFG: ldap.accounts.$p.password_file is not the compose secret"
    CFG_ACCOUNTS+="$p "
done
CFG_M_RECONCILER=$(cfg_str reconciler)
CFG_M_SCHEDULER=$(cfg_str scheduler)
CFG_M_INGEST=$(cfg_str ingest)
CFG_M_API=$(cfg_str listen) # the API serves /healthz on its own listener
CFG_M_CONNECTOR=$(sed -n '/^connector:/,/^};/s/^ *metrics = "\([^"]*\)";.*/\1/p' "$DCFG")
# The checks as a program, so that a broken copy of the file can show they fail.
cat >"$W/check_compose.py" <<'PY'
import os, re, sys
import yaml

path = sys.argv[1]
src = os.environ["SISOPI_SRC"]
d = yaml.safe_load(open(path))
errors = []
def err(msg): errors.append(msg)

svcs = d.get("services") or {}
want = {"kafka", "topics", "openldap", "reconciler", "scheduler", "ingest", "api", "tools",
        "authority-ldap", "connector"}
if set(svcs) != want:
    err("services are %s, expected %s" % (sorted(svcs), sorted(want)))
# On demand only (a profile: `up` does not start them): the operator's tools.
ondemand = {n for n, s in svcs.items() if s.get("profiles")}
if ondemand != {"tools"}:
    err("services with a profile are %s, expected tools" % sorted(ondemand))
oneshot = {n for n, s in svcs.items() if str(s.get("restart", "")) == "no" and n not in ondemand}
if oneshot != {"topics"}:
    err("one-shot jobs (restart: \"no\") are %s, expected topics" % sorted(oneshot))

def hc_ok(s):
    hc = s.get("healthcheck") or {}
    t = hc.get("test")
    return not hc.get("disable") and isinstance(t, list) and len(t) > 1 and t[0] in ("CMD", "CMD-SHELL")

for n, s in svcs.items():
    if n not in oneshot and n not in ondemand and not hc_ok(s):
        err("%s: no health check" % n)
    dependencies = s.get("depends_on") or {}
    if not isinstance(dependencies, dict):
        err("%s: depends_on must use the long form with conditions" % n)
        dependencies = {}
    for dep, spec in dependencies.items():
        cond = (spec or {}).get("condition")
        if dep not in svcs:
            err("%s depends on unknown %s" % (n, dep))
        elif dep in oneshot:
            if cond != "service_completed_successfully":
                err("%s: waits for one-shot %s with %s" % (n, dep, cond))
        elif cond != "service_healthy":
            err("%s: waits for %s with %s, expected service_healthy" % (n, dep, cond))
    for p in s.get("ports") or []:
        if not str(p).startswith("127.0.0.1:"):
            err("%s publishes %s beyond loopback" % (n, p))
    if "container_name" in s:
        err("%s has a container_name (cannot scale)" % n)
    if "privileged" in s or "network_mode" in s:
        err("%s: privileged or network_mode" % n)

sisopi = ["reconciler", "scheduler", "ingest", "api", "connector"]
deps = {"reconciler": {"kafka", "topics", "openldap"}, "scheduler": {"kafka", "topics", "openldap"},
        "ingest": {"kafka", "topics", "openldap"}, "api": {"kafka", "topics", "openldap"},
        "connector": {"kafka", "topics", "openldap", "authority-ldap"}}
ports = {"reconciler": os.environ["CFG_M_RECONCILER"], "scheduler": os.environ["CFG_M_SCHEDULER"],
         "ingest": os.environ["CFG_M_INGEST"], "api": os.environ["CFG_M_API"],
         "connector": os.environ["CFG_M_CONNECTOR"]}
images = set()
for n in sisopi:
    s = svcs.get(n) or {}
    images.add(s.get("image"))
    b = s.get("build") or {}
    if b.get("dockerfile") != "deploy/Dockerfile" or b.get("target") != "runtime" or b.get("context") != ".":
        err("%s: build must be context ., deploy/Dockerfile, target runtime: %s" % (n, b))
    if set(s.get("depends_on") or {}) != deps[n]:
        err("%s depends on %s, expected %s" % (n, sorted(s.get("depends_on") or {}), sorted(deps[n])))
    cmd = s.get("command") or []
    if not cmd or cmd[0] != "sisopi-" + n or cmd[1:3] != ["-c", "/etc/sisopi/sisopi.cfg"]:
        err("%s: command %s" % (n, cmd))
    targets = {c.get("target"): c.get("source") for c in s.get("configs") or []}
    if targets.get("/etc/sisopi/sisopi.cfg") != "sisopi_cfg":
        err("%s: sisopi.cfg not mounted at /etc/sisopi/sisopi.cfg" % n)
    listen = ports[n]
    m = re.fullmatch(r"0\.0\.0\.0:(\d+)", listen)
    if not m:
        err("%s: metrics address %r in sisopi.cfg must be 0.0.0.0:PORT in a container" % (n, listen))
    else:
        url = "http://127.0.0.1:%s/healthz" % m.group(1)
        if url not in ((s.get("healthcheck") or {}).get("test") or []):
            err("%s: the health check does not curl %s" % (n, url))
        if not any(str(p).endswith(":" + m.group(1)) for p in s.get("ports") or []):
            err("%s: metrics port %s not published on loopback" % (n, m.group(1)))
    if not s.get("read_only"):
        err("%s: root file system not read_only" % n)
    if "ALL" not in (s.get("cap_drop") or []):
        err("%s: capabilities not dropped" % n)
if len(images) != 1:
    err("the sisopi services must share one image: %s" % images)
ingest = svcs.get("ingest") or {}
if ingest.get("command", [])[3:] != ["--watch", "/srv/sisopi/drop"]:
    err("ingest: not --watch /srv/sisopi/drop: %s" % ingest.get("command"))
if not any(str(v).endswith(":/srv/sisopi/drop") for v in ingest.get("volumes") or []):
    err("ingest: /srv/sisopi/drop is not a volume")

rec = svcs.get("reconciler") or {}
if os.environ["STATE_DIR"] not in [str(v) for v in rec.get("volumes") or []]:
    err("reconciler: its state dir %s is not an anonymous (per-container) volume" % os.environ["STATE_DIR"])
if any(re.fullmatch(r"127\.0\.0\.1:\d+:\d+", str(p)) for p in rec.get("ports") or []):
    err("reconciler: a fixed host port prevents --scale")

# The rootdn's password (ldap_password) goes to openldap only; each program's account
# password to openldap (which sets it) and to that program's container only.
secrets = d.get("secrets") or {}
accounts = os.environ["CFG_ACCOUNTS"].split()
names = ["ldap_password"] + ["ldap_%s_password" % a for a in accounts]
for name in names:
    pw = (secrets.get(name) or {}).get("file", "")
    if os.path.normpath(pw) != "deploy/docker/secrets/" + name:
        err("secret %s comes from %r" % (name, pw))
want_secrets = {"openldap": set(names), "reconciler": {"ldap_reconciler_password"},
                "scheduler": {"ldap_scheduler_password"}, "ingest": {"ldap_ingest_password"},
                "api": {"ldap_api_password"},
                "tools": {"ldap_audit_password", "ldap_admin_password"},
                "connector": {"ldap_connector_password", "authority_reconciler_password"},
                "authority-ldap": {"authority_ldap_password", "authority_reconciler_password"}}
for n, s in svcs.items():
    got = {x if isinstance(x, str) else x.get("source") for x in s.get("secrets") or []}
    if got != want_secrets.get(n, set()):
        err("%s: secrets %s, expected %s" % (n, sorted(got), sorted(want_secrets.get(n, set()))))
tools = svcs.get("tools") or {}
if tools.get("image") != (svcs.get("reconciler") or {}).get("image"):
    err("tools: not the sisopi image")
if str((tools.get("environment") or {}).get("SISOPI_CONFIG", "")) != "/etc/sisopi/sisopi.cfg":
    err("tools: SISOPI_CONFIG is not the mounted sisopi.cfg")
for name, c in (d.get("configs") or {}).items():
    if not os.path.isfile(os.path.join(src, c.get("file", ""))):
        err("config %s: %s does not exist" % (name, c.get("file")))
for n, s in svcs.items():
    for v in s.get("volumes") or []:
        v = str(v)
        if ":" in v and not v.startswith(("/", ".")) and v.split(":")[0] not in (d.get("volumes") or {}):
            err("%s: volume %s is not declared" % (n, v))

k = svcs.get("kafka") or {}
env = {str(a): str(b) for a, b in (k.get("environment") or {}).items()}
if not str(k.get("image", "")).startswith("apache/kafka:3."):
    err("kafka image %s" % k.get("image"))
if "controller" not in env.get("KAFKA_PROCESS_ROLES", "") or env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") != "false":
    err("kafka: KRaft with broker,controller and no auto-created topics expected")
if not any(str(v).endswith(":" + env.get("KAFKA_LOG_DIRS", "?")) for v in k.get("volumes") or []):
    err("kafka: its log dir is not on a volume")
if "PLAINTEXT://kafka:9092" not in env.get("KAFKA_ADVERTISED_LISTENERS", ""):
    err("kafka does not advertise kafka:9092 (sisopi.cfg's bootstrap)")
t = svcs.get("topics") or {}
if t.get("image") != k.get("image"):
    err("topics must use the kafka image (kafka-topics.sh)")
tenv = {str(a): str(b) for a, b in (t.get("environment") or {}).items()}
print("USERS_RETENTION_MS=%s" % tenv.get("USERS_RETENTION_MS", ""))

o = svcs.get("openldap") or {}
oenv = {str(a): str(b) for a, b in (o.get("environment") or {}).items()}
if (o.get("build") or {}).get("target") != "openldap":
    err("openldap: not built from the openldap stage")
if oenv.get("SISOPI_LDAP_BASE") != os.environ["CFG_BASE"]:
    err("openldap SISOPI_LDAP_BASE %s != ldap.base %s" % (oenv.get("SISOPI_LDAP_BASE"), os.environ["CFG_BASE"]))
if oenv.get("SISOPI_LDAP_ACCOUNTS_DIR") != "/run/secrets":
    err("openldap SISOPI_LDAP_ACCOUNTS_DIR %s is not /run/secrets" % oenv.get("SISOPI_LDAP_ACCOUNTS_DIR"))
if oenv.get("SISOPI_LDAP_LIMBO") != os.environ["CFG_LIMBO"]:
    err("openldap SISOPI_LDAP_LIMBO %s != import.limbo_ou %s" % (oenv.get("SISOPI_LDAP_LIMBO"), os.environ["CFG_LIMBO"]))
if not any(str(v).endswith(":/var/lib/sisopi-ldap") for v in o.get("volumes") or []):
    err("openldap: /var/lib/sisopi-ldap is not a volume")

for e in errors:
    print("ERROR " + e)
sys.exit(1 if errors else 0)
PY
if python3 -c 'import yaml' 2>/dev/null; then
    run python3 "$W/check_compose.py" "$COMPOSE"
    ((RC == 0)) || fail "docker-compose.yml:"$'\n'"$OUT"
    USERS_RET=$(printf '%s\n' "$OUT" | sed -n 's/^USERS_RETENTION_MS=//p')
    # The checks can fail: a copy without the reconciler's health check, with a published
    # port on every address and a one-shot dependency waited for as "healthy".
    sed -e '/http:\/\/127.0.0.1:9464\/healthz/d' -e 's/"127.0.0.1:9465:9465"/"9465:9465"/' \
        -e '0,/condition: service_completed_successfully/s//condition: service_healthy/' \
        "$COMPOSE" >"$W/broken-compose.yml"
    run python3 "$W/check_compose.py" "$W/broken-compose.yml"
    ((RC != 0)) || fail "the compose checks accept a broken file"
    assert_contains "$OUT" "reconciler: no health check" "broken copy: health check"
    assert_contains "$OUT" "scheduler publishes 9465:9465 beyond loopback" "broken copy: ports"
    assert_contains "$OUT" "waits for one-shot topics with service_healthy" "broken copy: depends_on"
    # ... and a copy that gives the reconciler the rootdn's password.
    sed -e '/^  reconciler:/,/^  scheduler:/s/      - ldap_reconciler_password/      - ldap_password/' \
        "$COMPOSE" >"$W/broken2-compose.yml"
    run python3 "$W/check_compose.py" "$W/broken2-compose.yml"
    assert_contains "$OUT" "reconciler: secrets ['ldap_password']" "broken copy: the rootdn's secret"
else
    # python3-yaml (Debian) would allow the full checks above; without it, what grep can tell.
    skip "full compose checks" "python3 with PyYAML (python3-yaml) not installed; grep checks only"
    for n in kafka topics openldap reconciler scheduler ingest api tools authority-ldap connector; do
        grep -q "^  $n:\$" "$COMPOSE" || fail "docker-compose.yml: no service $n"
    done
    (($(grep -c '^    healthcheck:' "$COMPOSE") == 10)) || fail "docker-compose.yml: 10 healthcheck blocks expected"
    (($(grep -c 'disable: true' "$COMPOSE") == 2)) || fail "only the topics job and the tools may disable their health check"
    (($(grep -c 'condition: service_completed_successfully' "$COMPOSE") == 5)) ||
        fail "each sisopi service must wait for the topics job"
    ! grep -E '^ *- "[0-9]+:[0-9]+"' "$COMPOSE" || fail "a port published beyond loopback"
    USERS_RET=$(sed -n 's/^ *USERS_RETENTION_MS: "\([0-9-]*\)".*/\1/p' "$COMPOSE")
fi

step "docker-compose.yml: Compose's own validation (docker compose config)"
# Compose v2 validates the file as it is; Debian 12's docker-compose (v1.29, package
# docker-compose) knows the same keys but not the top-level "name", so it gets a copy without.
compose_config() { # FILE
    if docker compose version >/dev/null 2>&1; then
        docker compose --project-directory "$S" -f "$1" config -q
    else
        sed '/^name: /d' "$1" >"$1.v1.yml"
        docker-compose --project-directory "$S" -f "$1.v1.yml" config -q
    fi
}
if docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; then
    cp "$COMPOSE" "$W/compose.yml"
    assert_ok "docker compose config" compose_config "$W/compose.yml"
    sed 's/stop_grace_period: 60s/stop_grace_perod: 60s/' "$COMPOSE" >"$W/typo-compose.yml"
    run compose_config "$W/typo-compose.yml"
    ((RC != 0)) || fail "docker compose config accepted a misspelt key"
    assert_contains "$OUT" "stop_grace_perod" "compose names the misspelt key"
else
    skip "docker compose config" "neither the compose plugin nor docker-compose (Debian package) is installed"
fi

if ! [[ $USERS_RET =~ ^[0-9]+$ ]] || ((USERS_RET < 365 * 86400000)); then
    fail "sisopi.users retention ($USERS_RET ms) must be at least a year"
fi

# -----------------------------------------------------------------------------------------
step "deploy/docker/create-topics.sh --plan: the topics of sisopi.cfg"
run env SISOPI_CONFIG="$DCFG" USERS_RETENTION_MS="$USERS_RET" "$TOPICS" --plan
((RC == 0)) || fail "create-topics.sh --plan failed:"$'\n'"$OUT"
PLAN=$OUT
for t in "$(cfg_str users)" "$(cfg_str events)" "$(cfg_str dlq)" "$(cfg_str journal)"; do
    line=$(printf '%s\n' "$PLAN" | grep -e "--create .*--topic $t " || true)
    [[ -n $line ]] || fail "no create of $t in:"$'\n'"$PLAN"
    assert_contains "$line" "--partitions $PARTITIONS --replication-factor $(cfg_str replication_factor)" \
        "$t: partitions and replication of sisopi.cfg"
    assert_contains "$line" "--bootstrap-server $(cfg_str bootstrap)" "$t: bootstrap of sisopi.cfg"
    assert_contains "$line" "--config cleanup.policy=delete" "$t: never compacted"
    printf '%s\n' "$PLAN" | grep -q -e "--alter .*--entity-name $t " ||
        fail "$t: settings of an existing topic not enforced"
done
assert_contains "$(printf '%s\n' "$PLAN" | grep -e "--topic $(cfg_str events) ")" \
    "--config retention.ms=-1 --config retention.bytes=-1" "sisopi.events kept forever"
assert_contains "$(printf '%s\n' "$PLAN" | grep -e "--create .*--topic $(cfg_str users) ")" \
    "--config retention.ms=$USERS_RET" "sisopi.users retention"
# Forever, as `sisopi-admin topics check` requires of the events and the dead letters.
assert_contains "$(printf '%s\n' "$PLAN" | grep -e "--create .*--topic $(cfg_str dlq) ")" \
    "--config retention.ms=-1 --config retention.bytes=-1" "sisopi.users.dlq kept forever"
# An ambiguous config is refused rather than guessed.
sed 's/^  partitions = .*/&\n  partitions = 3;/' "$DCFG" >"$W/twice.cfg"
run env SISOPI_CONFIG="$W/twice.cfg" "$TOPICS" --plan
((RC != 0)) || fail "create-topics.sh accepted partitions set twice"
assert_contains "$OUT" "set more than once" "create-topics.sh: ambiguous partitions"

# -----------------------------------------------------------------------------------------
step "deploy/Dockerfile: stages, the README's build, COPY sources, non-root runtime"
DF=$(<"$DOCKERFILE")
for st in build openldap runtime; do
    grep -Eq "^FROM [^ ]+ AS $st\$" "$DOCKERFILE" || fail "Dockerfile: no stage $st"
done
assert_contains "$(sed -n '/ARG DEBIAN_IMAGE/p' "$DOCKERFILE")" "debian:bookworm-slim" "base image"
# stage NAME: the lines of one stage.
stage() { awk -v s="$1" '/^FROM /{on=($NF==s)} on' "$DOCKERFILE"; }
BUILD_STAGE=$(stage build)
RUNTIME_STAGE=$(stage runtime)
assert_contains "$BUILD_STAGE" "RUN /src/deploy/install-deps.sh" "build stage runs install-deps.sh"
assert_contains "$(stage build | grep -A1 '^RUN cmake')" "cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo" \
    "build stage configures like scripts/demo.sh"
assert_contains "$(grep 'cmake -S' "$S/scripts/demo.sh")" "-DCMAKE_BUILD_TYPE=RelWithDebInfo" \
    "scripts/demo.sh still builds RelWithDebInfo"
# shellcheck disable=SC2016 # the Dockerfile's text, literally
assert_contains "$BUILD_STAGE" 'cmake --build /build -j"$(nproc)"' "build stage builds like scripts/demo.sh"
# Every COPY source (not --from another stage) exists in the build context (the repo root).
copies=$(printf '%s\n' "$DF" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep '^COPY ' | grep -v -- '--from=')
while read -r _ args; do
    read -r -a words <<<"$args"
    srcs=()
    for w in "${words[@]}"; do [[ $w == --* ]] || srcs+=("$w"); done
    unset 'srcs[${#srcs[@]}-1]' # the destination
    for f in "${srcs[@]}"; do
        [[ -e $S/$f ]] || fail "Dockerfile copies $f, which does not exist"
    done
done <<<"$copies"
# Whatever CMake needs is copied: each add_subdirectory of the top CMakeLists.txt.
while read -r sub; do
    assert_contains "$BUILD_STAGE" "COPY $sub/ /src/$sub/" "build stage copies $sub/"
done < <(sed -n 's/^ *add_subdirectory(\([a-z]*\)).*/\1/p' "$S/CMakeLists.txt")
# The unit tests the build stage runs may read files outside tests/ ("/../../PATH").
while read -r f; do
    [[ $BUILD_STAGE == *"COPY $f "* || $BUILD_STAGE == *"COPY ${f%%/*}/ /src/${f%%/*}/"* ]] ||
        fail "build stage copies neither $f, which a unit test reads, nor ${f%%/*}/"
done < <(grep -ho 'SISOPI_TEST_DATA "/\.\./\.\./[^"]*"' "$S"/tests/unit/*.c | sed 's|.*/\.\./\.\./||; s|"$||' | sort -u)
assert_contains "$(stage openldap)" "deploy/docker/ldap-entrypoint.sh" "openldap stage has the entry point"
for f in sisopi.schema slapd.conf.in base.ldif.in school.ldif.in accounts.ldif.in accounts.list; do
    assert_contains "$(stage openldap)" "deploy/ldap/$f" "openldap stage copies $f"
done
user=$(printf '%s\n' "$RUNTIME_STAGE" | sed -n 's/^USER //p' | tail -n 1)
[[ -n $user && ${user%%:*} != root && ${user%%:*} != 0 ]] || fail "runtime stage runs as root ($user)"
assert_contains "$RUNTIME_STAGE" "--uid 10001" "runtime user has the uid the docs name"
for p in sisopi-reconciler sisopi-scheduler sisopi-ingest sisopi-api; do
    assert_contains "$RUNTIME_STAGE" "/opt/sisopi/bin/$p" "runtime image has $p"
done
assert_not_contains "$RUNTIME_STAGE" "-dev " "runtime stage installs a -dev package"

step "deploy/Dockerfile: the runtime packages provide every library the programs need"
PKGS=$(sed -n '/^# BEGIN RUNTIME PACKAGES/,/^# END RUNTIME PACKAGES/p' "$DOCKERFILE" |
    sed -n '/install -y/,/rm -rf/{/rm -rf/!p}' | tr -c 'a-z0-9.+-' '\n' |
    grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -v -E '^(apt-get|install|noninteractive)$' | sort -u)
PKGLINE=" $(printf '%s\n' "$PKGS" | tr '\n' ' ')"
for p in curl ca-certificates librdkafka1 libldap-2.5-0 libconfig9; do
    printf '%s\n' "$PKGS" | grep -qx "$p" || fail "runtime package list lacks $p:"$'\n'"$PKGS"
done
if command -v apt-cache >/dev/null && command -v dpkg-query >/dev/null && command -v ldd >/dev/null &&
    command -v readelf >/dev/null; then
    for p in $PKGS; do
        apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -qv '(none)' ||
            fail "runtime package $p is unknown to apt on this Debian"
    done
    # Packages of a bookworm-slim image; the sanitizers' runtimes exist only in test builds.
    # Only the libraries a program names itself (NEEDED): apt brings their dependencies.
    base="libc6 libgcc-s1 libcrypt1"
    for p in sisopi-reconciler sisopi-scheduler sisopi-ingest sisopi-admin sisopi-audit sisopi-api; do
        needed=" $(readelf -d "$B/$p" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
        [[ $needed == *" librdkafka.so.1 "* ]] || fail "$p: readelf shows no librdkafka: $needed"
        while read -r lib _ path _; do
            [[ $needed == *" $lib "* ]] || continue
            [[ $path == /* ]] || fail "$p: $lib not found by ldd"
            case $lib in libasan.so* | libubsan.so*) continue ;; esac
            real=$(readlink -f "$path")
            pkg=$({ dpkg-query -S "$path" 2>/dev/null || dpkg-query -S "$real" 2>/dev/null || true; } | head -n 1)
            pkg=${pkg%%:*}
            [[ -n $pkg ]] || fail "$p: no package owns $path"
            [[ " $base$PKGLINE" == *" $pkg "* ]] ||
                fail "$p links $lib from package $pkg, which the runtime stage does not install"
        done < <(ldd "$B/$p" | grep '=>')
    done
else
    skip "runtime library check" "apt-cache, dpkg-query or ldd missing"
fi

# -----------------------------------------------------------------------------------------
step "deploy/docker/sisopi.cfg: the programs load it and fail on the network, not the config"
grep -q '^metrics:$' "$DCFG" || fail "$DCFG has no metrics section"
# In a private network namespace nothing can leave the machine (names do not even resolve),
# and the 0.0.0.0 metrics listeners are not reachable; without one, only the programs that
# listen on nothing are run.
NETNS=()
if unshare --net true 2>/dev/null; then
    NETNS=(unshare --net)
elif unshare --net --map-root-user true 2>/dev/null; then
    NETNS=(unshare --net --map-root-user)
fi
# probe CFG WANT CMD...: the program must get past the config (no "CFG:" error) and name WANT
# (the network endpoint it failed on, or a line of its output).
probe() {
    local cfg=$1 want=$2
    shift 2
    run timeout 60 "${NETNS[@]}" "$@"
    ((RC != 124)) || fail "$* did not finish within 60 s"
    assert_not_contains "$OUT" "$cfg:" "$1: a config error"
    assert_not_contains "$OUT" "AddressSanitizer" "$1: sanitizer report"
    assert_contains "$OUT" "$want" "$1: did not get as far as $want"
}
mkdir -p "$W/drop"
# --check: the container's CSV mapping reads the sample files (no network at all).
probe "$DCFG" "rows:       6 read, 6 valid, 0 bad" \
    "$B/sisopi-ingest" -c "$DCFG" --check --school Gym1 --role student "$S/examples/Gym1-student.csv"
((RC == 0)) || fail "sisopi-ingest --check with the container config: exit $RC"$'\n'"$OUT"
if ((${#NETNS[@]})); then
    # The reconciler opens its state directory before it connects: a copy of the config
    # that differs in that one line keeps it out of this machine's /var/lib.
    sed "s|^  state_dir = .*|  state_dir = \"$W/state\";|" "$DCFG" >"$W/state.cfg"
    ndiff=$(diff "$DCFG" "$W/state.cfg" | grep -c '^>' || true)
    assert_eq "1" "$ndiff" "the copy differs in one line"
    probe "$W/state.cfg" "ldap://openldap:389/" "$B/sisopi-reconciler" -c "$W/state.cfg" --until-idle
    [[ -d $W/state ]] || fail "the reconciler did not get as far as its state directory"
    ((RC == 1)) || fail "sisopi-reconciler without a network: exit $RC"$'\n'"$OUT"
    probe "$DCFG" "kafka:9092" "$B/sisopi-scheduler" -c "$DCFG" --once
    ((RC == 1)) || fail "sisopi-scheduler without a network: exit $RC"$'\n'"$OUT"
    probe "$DCFG" "kafka:9092" "$B/sisopi-ingest" -c "$DCFG" --watch "$W/drop" --once
else
    skip "reconciler/scheduler/ingest --watch probes" "no private network namespace (unshare --net)"
fi
# The probe can fail: an unknown setting in the metrics section is a config error.
sed 's/^  ingest = .*/&\n  bogus = "x";/' "$DCFG" >"$W/bad.cfg"
run "$B/sisopi-ingest" -c "$W/bad.cfg" --check --school Gym1 --role student "$S/examples/Gym1-student.csv"
((RC == 1)) || fail "an unknown metrics setting was accepted (exit $RC)"$'\n'"$OUT"
assert_contains "$OUT" "$W/bad.cfg:" "the config error names the file"
assert_contains "$OUT" "metrics.bogus" "the config error names the setting"

# -----------------------------------------------------------------------------------------
step "OpenLDAP image: the entry point renders and initialises a database"
PATH=$PATH:/usr/sbin
for t in slapd slapadd slappasswd ldapsearch ldapadd ldapmodify; do
    command -v "$t" >/dev/null || fail "$t not found (deploy/install-deps.sh installs slapd, ldap-utils)"
done
L=$W/ldap
mkdir -p "$L"
chmod 755 "$W" "$L" # slapd may run as openldap below
# A password file as an editor or `echo` writes it: with a line break. sisopi reads the first
# line; the image must hash exactly that.
PW="pw-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$PW" >"$L/secret"
printf '%s' "$PW" >"$L/secret.tool" # ldapsearch -y uses the whole file
chmod 600 "$L/secret" "$L/secret.tool"
SOCK=$L/ldapi
SOCK_URL="ldapi://$(printf '%s' "$SOCK" | sed -e 's/%/%25/g' -e 's|/|%2F|g')"
# slapd reads the schema as openldap: a copy it may read, wherever the clone is (a directory
# only root may enter, such as /root or a mktemp -d, included).
mkdir -p "$L/src"
cp "$S"/deploy/ldap/sisopi.schema "$S"/deploy/ldap/*.in "$S"/deploy/ldap/accounts.list "$L/src/"
chmod -R a+rX "$L/src"
# The programs' account passwords, as the compose secrets name them (with a line break too).
mkdir -p "$L/accounts"
for p in $CFG_ACCOUNTS; do
    printf 'pw-%s-%s\n' "$p" "$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')" >"$L/accounts/ldap_${p}_password"
done
chmod 600 "$L"/accounts/*
export SISOPI_LDAP_DIR=$L/db SISOPI_LDAP_SRC=$L/src SISOPI_LDAP_PASSWORD_FILE=$L/secret
export SISOPI_LDAP_ACCOUNTS_DIR=$L/accounts
export SISOPI_LDAP_BASE=$CFG_BASE SISOPI_LDAP_LIMBO=$CFG_LIMBO SISOPI_LDAP_SCHOOLS="Gym1 Schule2"
export SISOPI_LDAP_NOSYNC=0 SISOPI_LDAP_LOGLEVEL=none
if [[ $(id -u) == 0 ]] && id openldap >/dev/null 2>&1; then
    export SISOPI_LDAP_USER=openldap # as in the image: slapd drops to openldap
else
    export SISOPI_LDAP_USER=""
fi

run env SISOPI_LDAP_PASSWORD_FILE="$S/deploy/docker/ldap_password.example" "$ENTRY" init
((RC != 0)) || fail "the entry point accepted the example's placeholder password"
assert_contains "$OUT" "placeholder" "placeholder refused"
assert_ok "entry point init" "$ENTRY" init
assert_contains "$OUT" "initialised $L/db/data" "init message"
CONF=$(<"$L/db/slapd.conf")
assert_eq "600" "$(stat -c %a "$L/db/slapd.conf")" "slapd.conf mode"
assert_not_contains "$CONF" "$PW" "plaintext password in slapd.conf"
assert_contains "$CONF" "rootdn \"$ROOTDN\"" "rootdn = cn=admin,BASE"
assert_contains "$CONF" "access to dn.subtree=\"cn=sisopi-accounts,$CFG_BASE\"" "the ACLs are rendered"
assert_not_contains "$CONF" "$(head -n 1 "$L/accounts/ldap_reconciler_password")" "an account's password in slapd.conf"
grep -q '^envflags' "$L/db/slapd.conf" && fail "the image's slapd.conf has unsynced commits"
assert_contains "$CONF" "overlay unique" "unique overlay"
assert_contains "$CONF" "overlay ppolicy" "ppolicy overlay"
if [[ -n $SISOPI_LDAP_USER ]]; then
    assert_eq "openldap" "$(stat -c %U "$L/db/data/data.mdb")" "the database belongs to openldap"
fi

# start_slapd: runs the entry point (which execs slapd) on a free loopback port; sets LURI.
start_slapd() {
    local attempt port i
    for ((attempt = 1; attempt <= 6; attempt++)); do
        port=$(((RANDOM * 32768 + RANDOM) % 30000 + 30000))
        LURI="ldap://127.0.0.1:$port/"
        SISOPI_LDAP_URLS="$LURI $SOCK_URL" "$ENTRY" run >"$L/slapd.log" 2>&1 &
        SLAPD_PID=$!
        for ((i = 0; i < 200; i++)); do # 10 s
            proc_alive "$SLAPD_PID" || break
            if SISOPI_LDAP_URLS="$LURI $SOCK_URL" "$ENTRY" health 2>/dev/null; then
                assert_contains "$(tr '\0' ' ' <"/proc/$SLAPD_PID/cmdline")" "slapd -h $LURI" \
                    "the entry point execs slapd"
                return 0
            fi
            sleep 0.05
        done
        if proc_alive "$SLAPD_PID"; then
            kill -TERM "$SLAPD_PID"
            fail "slapd did not become healthy within 10 s:"$'\n'"$(cat "$L/slapd.log")"
        fi
        wait "$SLAPD_PID" 2>/dev/null || true
        grep -q -e 'Address already in use' -e 'bind(.*failed' "$L/slapd.log" ||
            fail "slapd exited at start:"$'\n'"$(cat "$L/slapd.log")"
    done
    fail "no free port for slapd in 6 attempts"
}
stop_slapd() {
    kill -TERM "$SLAPD_PID"
    local i
    for ((i = 0; i < 200; i++)); do
        proc_alive "$SLAPD_PID" || break
        sleep 0.05
    done
    proc_alive "$SLAPD_PID" && fail "slapd ignored SIGTERM for 10 s"
    wait "$SLAPD_PID" 2>/dev/null || true
}
lsearch() { ldapsearch -x -LLL -o ldif-wrap=no -o nettimeout=5 -H "$LURI" -D "$ROOTDN" -y "$L/secret.tool" "$@"; }

step "OpenLDAP image: slapd runs from the rendered files"
start_slapd
if [[ -n $SISOPI_LDAP_USER ]]; then
    assert_eq "openldap" "$(ps -o user= -p "$SLAPD_PID" | tr -d ' ')" "slapd runs as openldap"
fi
for dn in "ou=$CFG_LIMBO,$CFG_BASE" "cn=schueler,cn=users,ou=$CFG_LIMBO,$CFG_BASE" \
    "cn=klassen,cn=schueler,cn=groups,ou=Gym1,$CFG_BASE" "cn=Domain Users Schule2,cn=groups,ou=Schule2,$CFG_BASE" \
    "cn=unique-usernames,cn=ucsschool,cn=univention,$CFG_BASE" "cn=default,ou=policies,$CFG_BASE"; do
    assert_ok "entry $dn" lsearch -s base -b "$dn" 1.1
done

step "OpenLDAP image: sisopi binds with the container config's password file and searches"
# The container config, pointed at this slapd and this password file (with its newline).
sed -e "s|^  uri = .*|  uri = \"$LURI\";|" -e "s|/run/secrets/|$L/accounts/|" \
    "$DCFG" >"$W/local.cfg"
run timeout 30 "$B/sisopi-admin" -c "$W/local.cfg" purge list
((RC == 0)) || fail "sisopi-admin purge list against the image's slapd: exit $RC"$'\n'"$OUT"
assert_contains "$OUT" "0 accounts with a purge date" "purge list searched the tree"
assert_contains "$OUT" "bind_dn=\"cn=admin,cn=sisopi-accounts,$CFG_BASE\"" "sisopi-admin bound as its own account"

step "OpenLDAP image: the unique and ppolicy overlays work"
person() { # UID OU
    printf 'dn: uid=%s,cn=schueler,cn=users,ou=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: shadowAccount\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n\n' \
        "$1" "$2" "$CFG_BASE" "$1" "$1" "$1" "user-pw-1234"
}
person t.one Gym1 >"$W/p1.ldif"
assert_ok "add a person" ldapadd -x -o nettimeout=5 -H "$LURI" -D "$ROOTDN" -y "$L/secret.tool" -f "$W/p1.ldif"
person t.one Schule2 >"$W/p2.ldif"
assert_rc 19 "the same uid in another school" \
    ldapadd -x -o nettimeout=5 -H "$LURI" -D "$ROOTDN" -y "$L/secret.tool" -f "$W/p2.ldif"
U1="uid=t.one,cn=schueler,cn=users,ou=Gym1,$CFG_BASE"
# The person's password from a file (-y, never -w: no password on a command line).
printf '%s' "user-pw-1234" >"$W/u1.pw"
chmod 600 "$W/u1.pw"
assert_ok "the person binds" ldapsearch -x -LLL -o nettimeout=5 -H "$LURI" -D "$U1" -y "$W/u1.pw" -s base -b "$U1" 1.1
printf 'dn: %s\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n' "$U1" >"$W/lock.ldif"
assert_ok "deactivate" ldapmodify -x -o nettimeout=5 -H "$LURI" -D "$ROOTDN" -y "$L/secret.tool" -f "$W/lock.ldif"
assert_rc 49 "a deactivated person's bind" \
    ldapsearch -x -LLL -o nettimeout=5 -H "$LURI" -D "$U1" -y "$W/u1.pw" -s base -b "$U1" 1.1

step "OpenLDAP image: a restart keeps the data and sets a new account password; another base or a bad secret is refused"
stop_slapd
printf '%s' "$(head -n 1 "$L/accounts/ldap_scheduler_password")" >"$W/sched-old.pw"
printf 'pw-scheduler-rotated\n' >"$L/accounts/ldap_scheduler_password"
printf '%s' "pw-scheduler-rotated" >"$W/sched-new.pw"
chmod 600 "$W/sched-old.pw" "$W/sched-new.pw"
assert_ok "entry point init again" "$ENTRY" init
assert_not_contains "$OUT" "initialised" "an initialised database was loaded again"
start_slapd
SCHED="cn=scheduler,cn=sisopi-accounts,$CFG_BASE"
assert_ok "the scheduler binds with its new password" \
    ldapsearch -x -LLL -o nettimeout=5 -H "$LURI" -D "$SCHED" -y "$W/sched-new.pw" -s base -b "" 1.1
assert_rc 49 "the scheduler's old password" \
    ldapsearch -x -LLL -o nettimeout=5 -H "$LURI" -D "$SCHED" -y "$W/sched-old.pw" -s base -b "" 1.1
assert_ok "the person survived the restart" lsearch -s base -b "$U1" 1.1
assert_ok "health over ldapi" env SISOPI_LDAP_URLS="$LURI $SOCK_URL" "$ENTRY" health
stop_slapd
run env SISOPI_LDAP_BASE="dc=other,dc=org" "$ENTRY" init
((RC != 0)) || fail "the entry point accepted another base for an existing database"
assert_contains "$OUT" "was made for base \"$CFG_BASE\"" "base mismatch message"
printf '\n' >"$L/empty"
run env SISOPI_LDAP_PASSWORD_FILE="$L/empty" "$ENTRY" init
((RC != 0)) || fail "the entry point accepted an empty password"
assert_contains "$OUT" "is empty" "empty password message"
run env SISOPI_LDAP_URLS="$LURI $SOCK_URL" "$ENTRY" health
((RC != 0)) || fail "health succeeded with slapd stopped"
SLAPD_PID=""

# -----------------------------------------------------------------------------------------
step "deploy/systemd: systemd-analyze verify"
if command -v systemd-analyze >/dev/null; then
    # The units as `cmake --install` installs them: below another prefix, their ExecStart=
    # names that prefix's programs (the sources name /usr/bin, the package's path).
    V=$W/units
    mkdir -p "$V"
    run cmake --install "$SISOPI_BUILD" --prefix "$W/prefix"
    ((RC == 0)) || fail "cmake --install --prefix $W/prefix: $OUT"
    U=$W/prefix/lib/systemd/system
    for f in "$U"/*.service "$U"/*.timer "$U"/*.target; do
        n=$(basename "$f")
        [[ $n == *@.service ]] && n=${n/@./@1.} # verify an instance of a template
        grep -q "^ExecStart=/" "$f" && ! grep -q "^ExecStart=$W/prefix/bin/sisopi-" "$f" &&
            fail "$n: ExecStart does not name the installed program: $(grep ExecStart "$f")"
        cp "$f" "$V/$n"
    done
    verify() { (cd "$V" && systemd-analyze verify --man=no --generators=no "$@" 2>&1); }
    units=()
    for f in "$V"/*; do units+=("./$(basename "$f")"); done
    ((${#units[@]} == 8)) || fail "expected 6 services, a timer and a target, found ${units[*]}"
    run verify "${units[@]}"
    if ((RC != 0)) || [[ -n $OUT ]]; then fail "systemd-analyze verify (exit $RC):"$'\n'"$OUT"; fi
    # systemd's own rating of the sandbox: exposure at most 2.0 of 10 ("OK") for each service.
    for f in "$V"/*.service; do
        run env -C "$V" systemd-analyze security --offline=true --threshold=20 --no-pager "./$(basename "$f")"
        ((RC == 0)) || fail "$(basename "$f"): systemd-analyze security rates it above 2.0:"$'\n'"$(printf '%s\n' "$OUT" | tail -n 1)"
    done
    # It can fail: a misspelt hardening option.
    sed 's/^ProtectSystem=strict/ProtectSytem=strict/' "$V/sisopi-scheduler.service" >"$W/bad.service"
    run verify "$W/bad.service"
    assert_contains "$OUT" "Unknown key" "systemd-analyze verify sees a misspelt option"
else
    skip "systemd-analyze verify" "systemd-analyze not installed"
fi

step "deploy/systemd: hardening, credentials, state and watch directories"
# ex_pw PROGRAM: ldap.accounts.PROGRAM.password_file of the example config.
ex_pw() { sed -n "/^ *$1: *{/,/};/s/.*password_file = \"\\([^\"]*\\)\";.*/\\1/p" "$S/deploy/sisopi.cfg.example"; }
EX_STATE=$(sed -n '/^reconciler:/,/^};/s/^ *state_dir = "\(.*\)";.*/\1/p' "$S/deploy/sisopi.cfg.example")
for u in sisopi-reconciler@.service sisopi-scheduler.service sisopi-ingest-watch.service \
    sisopi-api.service sisopi-connector@.service; do
    f=$UNITS/$u
    # Whole lines (an empty CapabilityBoundingSet= is the point: no capability at all).
    for k in User=sisopi ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
        NoNewPrivileges=yes ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes \
        ProtectControlGroups=yes "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
        SystemCallFilter=@system-service CapabilityBoundingSet= AmbientCapabilities= \
        Restart=on-failure WantedBy=sisopi.target; do
        grep -qx -- "$k" "$f" || fail "$u lacks the line $k"
    done
    for k in RestartSec= TimeoutStopSec= "ExecStart=/usr/bin/sisopi-" " -c /etc/sisopi/sisopi.cfg"; do
        grep -qF -- "$k" "$f" || fail "$u lacks $k"
    done
done
R=$UNITS/sisopi-reconciler@.service
grep -qx 'StateDirectory=sisopi/reconciler-%i' "$R" || fail "reconciler: no per-instance StateDirectory"
grep -qx "BindPaths=%S/sisopi/reconciler-%i:$EX_STATE" "$R" ||
    fail "reconciler: its state directory is not mounted at reconciler.state_dir ($EX_STATE)"
# shellcheck disable=SC2016 # the unit's text, literally
grep -q -- '--metrics ${SISOPI_METRICS}' "$R" || fail "reconciler: no per-instance --metrics"
# The program adds the instance to the base port (PORT+N, tested in the unit tests): pasting
# %i after a prefix would give instance 10 the port 94710.
grep -qx 'Environment=SISOPI_METRICS=127.0.0.1:9470+%i' "$R" ||
    fail "reconciler: SISOPI_METRICS is not BASE+%i"
# Each unit gets the password of its own program's account, and no other.
for pu in reconciler:sisopi-reconciler@.service scheduler:sisopi-scheduler.service \
    ingest:sisopi-ingest-watch.service audit:sisopi-verify.service api:sisopi-api.service; do
    p=${pu%%:*} u=${pu#*:}
    EX_PW=$(ex_pw "$p")
    [[ $EX_PW == /etc/sisopi/ldap-$p.secret ]] ||
        fail "sisopi.cfg.example: ldap.accounts.$p.password_file is \"$EX_PW\""
    grep -qx "LoadCredential=ldap_password:$EX_PW" "$UNITS/$u" || fail "$u: no LoadCredential of $EX_PW"
    grep -qx "BindReadOnlyPaths=%d/ldap_password:$EX_PW" "$UNITS/$u" ||
        fail "$u: the credential is not where ldap.accounts.$p.password_file ($EX_PW) names it"
    [[ $(grep -c '^LoadCredential=' "$UNITS/$u") == 1 ]] || fail "$u: more than one credential"
done
I=$UNITS/sisopi-ingest-watch.service
grep -qx 'ReadWritePaths=/srv/sisopi/drop' "$I" || fail "ingest: the watch dir is not writable"
grep -qx 'SupplementaryGroups=sisopi-drop' "$I" || fail "ingest: not in the drop directory's group"
grep -q 'sisopi-drop' "$R" "$UNITS/sisopi-scheduler.service" && fail "a unit other than the ingest is in sisopi-drop"
grep -q -- '--watch /srv/sisopi/drop' "$I" || fail "ingest: not watching /srv/sisopi/drop"

step "deploy/systemd: the nightly verify service and its timer"
V_S=$UNITS/sisopi-verify.service
V_T=$UNITS/sisopi-verify.timer
# The long-running services' hardening, without their restart and target lines: a oneshot
# started by its timer.
for k in User=sisopi ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
    NoNewPrivileges=yes ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes \
    ProtectControlGroups=yes "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" \
    SystemCallFilter=@system-service CapabilityBoundingSet= AmbientCapabilities= Type=oneshot \
    TimeoutStartSec=3h; do
    grep -qx -- "$k" "$V_S" || fail "sisopi-verify.service lacks the line $k"
done
grep -qE '^ExecStart=/usr/bin/sisopi-audit -c /etc/sisopi/sisopi.cfg verify( |$)' "$V_S" ||
    fail "sisopi-verify.service does not run sisopi-audit -c /etc/sisopi/sisopi.cfg verify"
# Exit 2 (drift) and 1 (not read) must leave the unit failed: no "-" before the command, no
# exit status declared a success, no restart that would hide it.
grep -qE '^ExecStart=[-@:+!]' "$V_S" && fail "sisopi-verify.service: ExecStart= ignores a failure"
grep -qE '^(SuccessExitStatus|Restart)=' "$V_S" &&
    fail "sisopi-verify.service: SuccessExitStatus= or Restart= would hide a drift"
grep -q '^\[Install\]' "$V_S" && fail "sisopi-verify.service is started by its timer, not installed"
for k in OnCalendar= Persistent=true WantedBy=timers.target; do
    grep -q -- "^$k" "$V_T" || fail "sisopi-verify.timer lacks $k"
done
grep -q '^Unit=' "$V_T" && fail "sisopi-verify.timer: Unit= (it starts the service of its own name)"
if command -v systemd-analyze >/dev/null; then
    # The calendar expression is one systemd understands, and it fires once a day.
    cal=$(sed -n 's/^OnCalendar=//p' "$V_T")
    assert_ok "systemd-analyze calendar $cal" env TZ=UTC systemd-analyze calendar --iterations=2 "$cal"
    mapfile -t next < <(sed -n 's/^ *\(Next elapse\|Iter\. #2\): //p' <<<"$OUT")
    ((${#next[@]} == 2)) || fail "systemd-analyze calendar: two elapse times expected:"$'\n'"$OUT"
    gap=$(($(date -ud "${next[1]}" +%s) - $(date -ud "${next[0]}" +%s)))
    assert_eq 86400 "$gap" "sisopi-verify.timer: seconds between two runs"
else
    skip "systemd-analyze calendar" "systemd-analyze not installed"
fi

step "deploy/systemd: sysusers and tmpfiles applied to a temporary root"
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
    ROOT=$W/root
    mkdir -p "$ROOT/etc"
    assert_ok "systemd-sysusers" systemd-sysusers --root="$ROOT" "$UNITS/sisopi.sysusers.conf"
    uid=$(awk -F: '$1 == "sisopi" {print $3}' "$ROOT/etc/passwd")
    gid=$(awk -F: '$1 == "sisopi" {print $3}' "$ROOT/etc/group")
    dgid=$(awk -F: '$1 == "sisopi-drop" {print $3}' "$ROOT/etc/group")
    [[ -n $uid && -n $gid && -n $dgid ]] || fail "sysusers made no sisopi user and groups"
    assert_eq "" "$(awk -F: '$1 == "sisopi-drop" {print $4}' "$ROOT/etc/group")" \
        "sisopi-drop has no members: only the ingest unit gets it (SupplementaryGroups=)"
    assert_contains "$(grep '^sisopi:' "$ROOT/etc/passwd")" "nologin" "sisopi has no login shell"
    if [[ $(id -u) == 0 ]]; then
        assert_ok "systemd-tmpfiles" systemd-tmpfiles --root="$ROOT" --create "$UNITS/sisopi.tmpfiles.conf"
        assert_eq "2770 $uid $dgid" "$(stat -c '%a %u %g' "$ROOT/srv/sisopi/drop")" "the drop directory"
        assert_eq "750 0 $gid" "$(stat -c '%a %u %g' "$ROOT/etc/sisopi")" "/etc/sisopi"
    else
        skip "systemd-tmpfiles" "needs root to give the directories their owners"
    fi
else
    skip "sysusers/tmpfiles" "systemd-sysusers or systemd-tmpfiles not installed"
fi

# -----------------------------------------------------------------------------------------
step "deploy/prometheus: promtool check rules"
# Required, not skipped: deploy/install-deps.sh --test-tools installs it (package prometheus).
command -v promtool >/dev/null ||
    fail "promtool is not installed (deploy/install-deps.sh --test-tools installs package prometheus)"
assert_ok "promtool check rules" promtool check rules "$RULES"
# It can fail: a copy with an expression that does not parse.
sed '0,/expr: sisopi_up == 0/s//expr: sisopi_up == == 0/' "$RULES" >"$W/broken-rules.yml"
run promtool check rules "$W/broken-rules.yml"
((RC != 0)) || fail "promtool accepts a rule that does not parse"
# Every alert says how long its condition must hold and what to tell an operator.
n_alerts=$(grep -c '^ *- alert: ' "$RULES")
((n_alerts > 0)) || fail "$RULES: no alert"
for k in 'for' summary description; do
    assert_eq "$n_alerts" "$(grep -c "^ *$k: " "$RULES")" "$RULES: alerts with a $k:"
done

step "deploy/prometheus: the alerts fire when they should (promtool test rules)"
# promtool compares annotations too; these tests are about when an alert fires and with which
# labels, so they run on a copy without the annotations (whose texts use $value).
strip_annotations() {
    awk '/^ *annotations:/ { match($0, /^ */); ind = RLENGTH; skip = 1; next }
         skip { match($0, /^ */); if (RLENGTH > ind || /^ *$/) next; skip = 0 } { print }' "$1"
}
strip_annotations "$RULES" >"$W/rules.yml"
assert_eq 0 "$(grep -c 'annotations:' "$W/rules.yml" || true)" "annotations stripped"
assert_eq "$n_alerts" "$(grep -c '^ *- alert: ' "$W/rules.yml")" "every alert kept"
cat >"$W/rules-test.yml" <<'YML'
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  # SchA's last import completed at time 0, on a reconciler that restarted an hour later (its
  # series ends): still overdue at 27 h. SchB's imported again at 20 h: not overdue.
  - interval: 5m
    input_series:
      - series: 'sisopi_last_import_completed_timestamp_seconds{school="SchA",role="student",instance="r1",job="reconciler"}'
        values: '0x12'
      - series: 'sisopi_last_import_completed_timestamp_seconds{school="SchB",role="teacher",instance="r2",job="reconciler"}'
        values: '0x240 72000x100'
    alert_rule_test:
      - eval_time: 25h
        alertname: SisopiImportOverdue
        exp_alerts: []
      - eval_time: 27h
        alertname: SisopiImportOverdue
        exp_alerts:
          - exp_labels: {severity: warning, school: SchA, role: student}
  # A sweep at time 0 and none since; another scheduler sweeps every hour.
  - interval: 5m
    input_series:
      - series: 'sisopi_last_sweep_timestamp_seconds{instance="s1",job="scheduler"}'
        values: '0x60'
      - series: 'sisopi_last_sweep_timestamp_seconds{instance="s2",job="scheduler"}'
        values: '0x11 3600x12 7200x12 10800x12 14400x12'
    alert_rule_test:
      - eval_time: 2h
        alertname: SisopiSweepOverdue
        exp_alerts: []
      - eval_time: 3h
        alertname: SisopiSweepOverdue
        exp_alerts:
          - exp_labels: {severity: warning, instance: s1, job: scheduler}
  # Authority nord: events wait from 10 min on and its connector handles none (its directory
  # is away); authority sued: events wait too, but it keeps handling them.
  - interval: 1m
    input_series:
      - series: 'sisopi_connector_lag{authority="nord",instance="c1",job="connector"}'
        values: '0x10 5x60'
      - series: 'sisopi_connector_events_total{authority="nord",result="synced",instance="c1",job="connector"}'
        values: '0+1x10 10x60'
      - series: 'sisopi_connector_lag{authority="sued",instance="c2",job="connector"}'
        values: '5x70'
      - series: 'sisopi_connector_events_total{authority="sued",result="synced",instance="c2",job="connector"}'
        values: '0+1x70'
    alert_rule_test:
      - eval_time: 20m
        alertname: SisopiConnectorStuck
        exp_alerts: []
      - eval_time: 50m
        alertname: SisopiConnectorStuck
        exp_alerts:
          - exp_labels: {severity: critical, authority: nord}
  # Two reconcilers, one of which stops answering after 30 min; a scheduler unhealthy from
  # 20 min on; no ingest at all.
  - interval: 1m
    input_series:
      - series: 'sisopi_up{service="reconciler",instance="r1",job="reconciler"}'
        values: '1x120'
      - series: 'sisopi_up{service="reconciler",instance="r2",job="reconciler"}'
        values: '1x30'
      - series: 'sisopi_up{service="scheduler",instance="s",job="scheduler"}'
        values: '1x20 0x100'
    alert_rule_test:
      - eval_time: 60m
        alertname: SisopiServiceAbsent
        exp_alerts:
          - exp_labels: {severity: critical, service: ingest}
      - eval_time: 60m
        alertname: SisopiServiceGone
        exp_alerts:
          - exp_labels: {severity: critical, service: reconciler, instance: r2, job: reconciler}
      - eval_time: 60m
        alertname: SisopiServiceUnhealthy
        exp_alerts:
          - exp_labels: {severity: critical, service: scheduler, instance: s, job: scheduler}
  # r1: a backlog that nobody consumes, an import held from 10 min on. r2: a backlog that
  # grows while it consumes.
  - interval: 1m
    input_series:
      - series: 'sisopi_consumer_lag{partition="0",instance="r1",job="reconciler"}'
        values: '5x60'
      - series: 'sisopi_messages_consumed_total{instance="r1",job="reconciler"}'
        values: '100x60'
      - series: 'sisopi_imports{state="held",instance="r1",job="reconciler"}'
        values: '0x10 12x50'
    alert_rule_test:
      - eval_time: 45m
        alertname: SisopiConsumerLagStuck
        exp_alerts:
          - exp_labels: {severity: critical}
      - eval_time: 45m
        alertname: SisopiConsumerLagGrowing
        exp_alerts: []
      - eval_time: 12m
        alertname: SisopiImportHeld
        exp_alerts: []
      - eval_time: 20m
        alertname: SisopiImportHeld
        exp_alerts:
          - exp_labels: {severity: warning}
  - interval: 1m
    input_series:
      - series: 'sisopi_consumer_lag{partition="1",instance="r2",job="reconciler"}'
        values: '0+10x60'
      - series: 'sisopi_messages_consumed_total{instance="r2",job="reconciler"}'
        values: '0+5x60'
    alert_rule_test:
      - eval_time: 45m
        alertname: SisopiConsumerLagGrowing
        exp_alerts:
          - exp_labels: {severity: warning}
      - eval_time: 45m
        alertname: SisopiConsumerLagStuck
        exp_alerts: []
YML
run env -C "$W" promtool test rules rules-test.yml
((RC == 0)) || fail "promtool test rules:"$'\n'"$OUT"
# They can fail: the overdue alert without its look-back forgets a restarted reconciler's school.
sed 's/max_over_time(sisopi:last_import_completed_timestamp_seconds:max\[7d\])/sisopi:last_import_completed_timestamp_seconds:max/' \
    "$W/rules.yml" >"$W/rules-nolookback.yml"
! cmp -s "$W/rules.yml" "$W/rules-nolookback.yml" || fail "could not write the copy without the look-back"
sed 's/^rule_files: \[rules.yml\]/rule_files: [rules-nolookback.yml]/' "$W/rules-test.yml" >"$W/rules-test-broken.yml"
run env -C "$W" promtool test rules rules-test-broken.yml
((RC != 0)) || fail "promtool test rules passes without the look-back"
assert_contains "$OUT" "SisopiImportOverdue" "the failing test names the alert"

step "deploy/grafana: the dashboard is Grafana JSON on the datasource input"
command -v jq >/dev/null || fail "jq is not installed (deploy/install-deps.sh installs it)"
# check_dashboard FILE: prints what is wrong, exits non-zero if anything is.
check_dashboard() {
    local problems
    problems=$(jq -r '
      def ds_ok: . == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"};
      [ (if (.schemaVersion | type) != "number" then "no numeric schemaVersion" else empty end),
        (if ([.__inputs[]? | select(.name == "DS_PROMETHEUS" and .type == "datasource"
              and .pluginId == "prometheus")] | length) != 1
         then "no __inputs entry DS_PROMETHEUS (a Prometheus datasource)" else empty end),
        (if (.title | type) != "string" or (.uid | type) != "string" then "no title or uid" else empty end),
        (if ([.panels[]? | select(.type != "row")] | length) == 0 then "no panels" else empty end),
        (if ([.panels[].id] | length) != ([.panels[].id] | unique | length)
         then "panel ids are not unique" else empty end),
        (.panels[] | select(.type != "row") |
          (if (.gridPos | (.w | type) == "number" and (.h | type) == "number") | not
           then "panel \(.id): no gridPos" else empty end),
          (if (.datasource | ds_ok) | not then "panel \(.id): datasource is not ${DS_PROMETHEUS}" else empty end),
          (if ((.targets // []) | length) == 0 then "panel \(.id): no targets" else empty end),
          (.targets[]? |
            (if (.expr | type) != "string" or .expr == "" then "panel target \(.refId): no expr" else empty end),
            (if (.datasource | ds_ok) | not then "target \(.refId) of \(.expr): datasource is not ${DS_PROMETHEUS}" else empty end)))
      ] | .[]' "$1") || { echo "$1: not valid JSON"; return 1; }
    [[ -z $problems ]] || { printf '%s\n' "$problems"; return 1; }
}
run check_dashboard "$DASH"
((RC == 0)) || fail "$DASH:"$'\n'"$OUT"
# It can fail: a truncated file, a panel on another datasource.
head -c 2000 "$DASH" >"$W/broken-dash.json"
run check_dashboard "$W/broken-dash.json"
((RC != 0)) || fail "a truncated dashboard passes the checks"
jq '.panels[1].datasource.uid = "prom-prod"' "$DASH" >"$W/broken-dash2.json"
run check_dashboard "$W/broken-dash2.json"
assert_contains "$OUT" "datasource is not" "a panel on another datasource"

step "deploy/prometheus, deploy/grafana: every metric they name is declared in the C sources"
# What the services declare (metrics_declare) and what the registry renders itself (sample:
# sisopi_up, sisopi_build_info, process_*); a histogram's series add _bucket, _sum, _count.
declared=$(grep -rhoE '(metrics_declare\([a-z_.>-]+, |sample\(f, )"[a-z_]+"' "$S/services" "$S/common" |
    sed -E 's/.*"([a-z_]+)"/\1/' | sort -u)
histograms=$(grep -rhoE 'metrics_declare\([a-z_.>-]+, "[a-z_]+", METRICS_HISTOGRAM' "$S/services" "$S/common" |
    sed -E 's/.*"([a-z_]+)".*/\1/' | sort -u)
[[ $declared == *sisopi_consumer_lag* && $declared == *sisopi_up* && $declared == *process_open_fds* &&
    $histograms == sisopi_ldap_latency_seconds ]] ||
    fail "the declared metrics were not found in the sources:"$'\n'"$declared"$'\n'"histograms: $histograms"
# names_in TEXT: the metric names a text uses: every sisopi_/process_ word (in queries, help
# and descriptions alike), any other identifier a selector ({ or [) follows, and recorded
# series (level:metric:operations, with colons), which must have their record: line.
names_in() {
    grep -oE '\b(sisopi|process)_[a-z0-9_]+|\b[a-zA-Z_][a-zA-Z0-9_:]*[{[]|\b[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]*[a-zA-Z0-9_]' |
        sed -E 's/[{[]$//' | sort -u
}
undeclared() { # FILE TEXT
    local n base bad=0
    while read -r n; do
        [[ -n $n ]] || continue
        if [[ $n == *:* ]]; then
            grep -qE "^ *- record: $n\$" "$RULES" || { echo "$1: $n is not recorded by $RULES"; bad=1; }
            continue
        fi
        base=${n%_bucket} base=${base%_sum} base=${base%_count}
        grep -qx -- "$n" <<<"$declared" && continue
        [[ $base != "$n" ]] && grep -qx -- "$base" <<<"$histograms" && continue
        echo "$1: $n is not declared in the C sources"
        bad=1
    done < <(names_in <<<"$2")
    return $bad
}
run undeclared "$RULES" "$(cat "$RULES")"
((RC == 0)) || fail "$OUT"
run undeclared "$DASH" "$(jq -r '.. | objects | (.expr?, .description?, .title?) | strings' "$DASH")"
((RC == 0)) || fail "$OUT"
n_rules=$(names_in <"$RULES" | grep -c . || true)
n_dash=$(jq -r '.. | objects | .expr? | strings' "$DASH" | names_in | grep -c . || true)
((n_rules >= 10 && n_dash >= 20)) || fail "too few metric names found ($n_rules, $n_dash): the extraction is broken"
# It can fail: a misspelt metric, a Prometheus-only series, a recorded one nobody records.
run undeclared "$W/x" 'sisopi_consumer_lags > 0 or up{job="x"} == 0 or sisopi:nope:max > 1 or sisopi_ldap_latency_seconds_bucket{le="1"} > 0'
assert_contains "$OUT" "sisopi_consumer_lags is not declared" "a misspelt metric"
assert_contains "$OUT" "up is not declared" "Prometheus's own up"
assert_contains "$OUT" "sisopi:nope:max is not recorded" "an unrecorded series"
assert_not_contains "$OUT" "sisopi_ldap_latency_seconds_bucket" "a histogram's buckets"

((${#SKIPPED[@]} == 0)) || printf '%s: skipped: %s\n' "$TEST_NAME" "${SKIPPED[*]}"
