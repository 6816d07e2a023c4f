#!/usr/bin/env bash
# Installs the Debian 12 packages sisopi builds, tests and runs with. Does nothing when they are
# all present. The same list serves the README's commands, CI and deploy/Dockerfile.
#   deploy/install-deps.sh [--test-tools] [--bench-tools] [--coverage-tools] [--package-tools]
set -euo pipefail

PACKAGES=(build-essential cmake pkg-config clang-format
          librdkafka-dev libavro-dev libldap-dev libcsv-dev libconfig-dev libcmocka-dev
          liblmdb-dev lmdb-utils libcrypt-dev libmicrohttpd-dev scdoc curl slapd ldap-utils kcat jq
          openssl iproute2 procps time)

# --test-tools: also what only the tests use: clang (libFuzzer, tests/fuzz), and what keeps
# every check of test_deploy_files from being skipped (PyYAML and Debian's docker-compose to
# parse the compose file, shellcheck, systemd-analyze), promtool (package prometheus), which
# that test requires for the Prometheus rules, and Apache Avro's Python library and
# confluent-kafka for the integrators' examples (examples/producer, examples/consumer) that
# test_examples runs, and Chromium with its chromedriver and Selenium for the web page's
# browser test (tests/browser), with a font so that its screenshots show text (Chromium only
# recommends one).
# --bench-tools: also what only tests/bench/bench_authority.sh uses: gnuplot (without X) for
# its plot of throughput over time.
# --coverage-tools: gcovr, for scripts/dev.sh coverage.
# --package-tools: debhelper, lintian and dpkg-dev, for scripts/package.sh (the Debian
# package); man-db to read the installed pages in the package's test.
for opt in "$@"; do
    case $opt in
    --test-tools) PACKAGES+=(clang python3-yaml docker-compose shellcheck systemd prometheus
                             python3-avro python3-confluent-kafka
                             chromium chromium-driver python3-selenium fonts-dejavu-core) ;;
    --bench-tools) PACKAGES+=(gnuplot-nox) ;;
    --coverage-tools) PACKAGES+=(gcovr) ;;
    --package-tools) PACKAGES+=(debhelper lintian dpkg-dev fakeroot man-db) ;;
    *) echo "usage: deploy/install-deps.sh [--test-tools] [--bench-tools] [--coverage-tools] [--package-tools]" >&2; exit 64 ;;
    esac
done

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# Never let the package start a system slapd on port 389: sisopi runs its own.
$SUDO mkdir -p /etc/ldap && $SUDO touch /etc/ldap/noslapd
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
