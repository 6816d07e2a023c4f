#!/usr/bin/env bash
# sisopi-admin topics check|create against the devbroker (librdkafka's mock cluster), as far
# as its API allows: metadata works (presence, partition counts), the Admin API does not
# (DescribeConfigs and CreateTopics time out), and the tool must say so instead of hanging or
# claiming success. A real broker is documented in docs/operations.md.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

A=$SISOPI_BUILD/services/sisopi-admin
have_devbroker || fail "sisopi-devbroker is not built in $SISOPI_BUILD"
start_stack --schools "SchA"
CFG=$STACK_DIR/sisopi.cfg
W=$STACK_DIR/work
mkdir -p "$W"

step "check: the four topics exist with the configured partitions"
assert_rc 0 "topics check" "$A" -c "$CFG" topics check --timeout 2
for t in sisopi.users sisopi.events sisopi.users.dlq sisopi.reconciler.journal; do
    assert_contains "$(grep " $t " <<<"$OUT")" "ok     12 partitions" "$t"
done
assert_contains "$OUT" "retention.ms not checked" "the mock cannot describe configs: said, not hidden"
assert_contains "$OUT" "the dev broker (cluster mockCluster" "says why at once, not after a timeout"

step "check: a partition count that differs from the config is a problem"
sed 's/partitions = 12;/partitions = 6;/' "$CFG" >"$W/six.cfg"
assert_rc 1 "topics check, 6 partitions configured" "$A" -c "$W/six.cfg" topics check --timeout 2
assert_contains "$OUT" "WRONG  12 partitions, the config says kafka.partitions = 6" "the mismatch"

step "check: a missing topic is reported (and not auto-created by asking)"
sed 's/dlq = "sisopi.users.dlq";/dlq = "sisopi.other.dlq";/' "$CFG" >"$W/other.cfg"
grep -q sisopi.other.dlq "$W/other.cfg" || fail "could not write the test config"
assert_rc 1 "topics check, a missing topic" "$A" -c "$W/other.cfg" topics check --timeout 2
assert_contains "$OUT" "MISSING" "missing topic"
assert_rc 1 "still missing" "$A" -c "$W/other.cfg" topics check --timeout 2

step "create: nothing missing is a no-op; a missing one fails clearly on the mock"
assert_rc 0 "topics create, all present" "$A" -c "$CFG" topics create --timeout 2
assert_rc 1 "topics create on the mock" "$A" -c "$W/other.cfg" topics create --timeout 2
assert_contains "$OUT" "CreateTopics failed" "the failure is named"
assert_contains "$OUT" "sisopi-devbroker cannot create topics" "and explained"
assert_rc 64 "topics without check/create" "$A" -c "$CFG" topics
