#!/usr/bin/env bash
# create-topics.sh: the one-shot "topics" job of docker-compose.yml. Runs in the apache/kafka
# image with Kafka's own tools and creates sisopi's four topics, or checks and updates them
# when they exist. Names, partitions, replication factor and bootstrap come from sisopi.cfg,
# so the topics and the programs cannot disagree.
# (`sisopi-admin topics create|check`, sisopi's own, works from the config through the Admin
# API and can replace this job; `check` agrees with the retention below for events and dead
# letters.)
#
#   create-topics.sh           create or check the topics, enforce their settings
#   create-topics.sh --plan    print the commands it would run and exit (no broker needed)
#
# Environment (default in brackets):
#   SISOPI_CONFIG        the sisopi config to read [/etc/sisopi/sisopi.cfg]
#   BOOTSTRAP            overrides kafka.bootstrap of the config
#   KAFKA_BIN            where kafka-topics.sh and kafka-configs.sh are [/opt/kafka/bin]
#   COMMAND_CONFIG       a client properties file for a TLS/SASL cluster (--command-config)
#   USERS_RETENTION_MS   retention of sisopi.users [34560000000 = 400 days]
#
# Retention (docs/operations.md explains it):
#   sisopi.events        kept forever (retention.ms=-1, retention.bytes=-1): it is the audit
#                        trail that auditors replay; never compacted (a key has many events).
#   sisopi.users         400 days: longer than a school year, so that an import held by the
#                        deletion guard can still be released, a moved partition can re-read
#                        an open import's records, and `sisopi-audit report` and `verify` can
#                        rebuild last year's imports (verify needs the records that made the
#                        classes). About 300 bytes a record: 100k persons imported weekly is
#                        ~1.5 GB a year.
#   sisopi.users.dlq     kept forever, like the events: each dead letter is input that changed
#                        nothing and someone must look at; `sisopi-audit verify` reads them to
#                        tell which records were never applied; there are few.
#   sisopi.reconciler.journal  7 days: the reconciler's own write-ahead record of the persons
#                        it is changing; only the part no offset commit covers yet is ever
#                        read (normally minutes old).
# An existing topic with another partition count is an error (the ImportEnd markers count
# records per partition); its retention and cleanup settings are set to the above.
set -euo pipefail

PROG="create-topics"
CFG=${SISOPI_CONFIG:-/etc/sisopi/sisopi.cfg}
KAFKA_BIN=${KAFKA_BIN:-/opt/kafka/bin}
USERS_RETENTION_MS=${USERS_RETENTION_MS:-34560000000}
PLAN=0

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }

case ${1:-} in
"") ;;
--plan) PLAN=1 ;;
*) die "usage: create-topics.sh [--plan]" ;;
esac

# cfg_value KEY: the value of the one "KEY = VALUE;" line of the config (quotes removed).
# Not a libconfig parser: enough for sisopi.cfg's own layout, and loud when in doubt.
cfg_value() {
    local key=$1 lines
    lines=$(sed -n -E "s/^[[:space:]]*${key}[[:space:]]*[=:][[:space:]]*(\"[^\"]*\"|[0-9]+)[[:space:]]*;.*$/\\1/p" "$CFG")
    [[ -n $lines ]] || die "$CFG: no \"$key = ...;\" line"
    [[ $lines != *$'\n'* ]] || die "$CFG: \"$key\" is set more than once; cannot tell which is meant"
    lines=${lines#\"}
    printf '%s' "${lines%\"}"
}

[[ -r $CFG ]] || die "cannot read $CFG (SISOPI_CONFIG)"
TOPIC_USERS=$(cfg_value users)
TOPIC_EVENTS=$(cfg_value events)
TOPIC_DLQ=$(cfg_value dlq)
TOPIC_JOURNAL=$(cfg_value journal)
PARTITIONS=$(cfg_value partitions)
RF=$(cfg_value replication_factor)
BOOTSTRAP=${BOOTSTRAP:-$(cfg_value bootstrap)}
[[ $(printf '%s\n' "$TOPIC_USERS" "$TOPIC_EVENTS" "$TOPIC_DLQ" "$TOPIC_JOURNAL" | sort -u | wc -l) == 4 ]] ||
    die "$CFG: the four topics must have different names"
[[ $PARTITIONS =~ ^[1-9][0-9]*$ ]] || die "$CFG: partitions \"$PARTITIONS\" is not a positive number"
[[ $RF =~ ^[1-9][0-9]*$ ]] || die "$CFG: replication_factor \"$RF\" is not a positive number"
[[ $USERS_RETENTION_MS =~ ^(-1|[1-9][0-9]*)$ ]] ||
    die "USERS_RETENTION_MS \"$USERS_RETENTION_MS\" is not -1 or a number of milliseconds"
# With acks=all (sisopi's producers), a write needs this many replicas in sync: one lost
# broker of three loses nothing.
MIN_ISR=1
((RF < 3)) || MIN_ISR=2

common=(--bootstrap-server "$BOOTSTRAP")
[[ -z ${COMMAND_CONFIG:-} ]] || common+=(--command-config "$COMMAND_CONFIG")

# settings TOPIC: the topic's configs, k=v separated by commas.
settings() {
    local base="cleanup.policy=delete,min.insync.replicas=$MIN_ISR"
    case $1 in
    "$TOPIC_EVENTS" | "$TOPIC_DLQ") printf '%s' "$base,retention.ms=-1,retention.bytes=-1" ;;
    "$TOPIC_USERS") printf '%s' "$base,retention.ms=$USERS_RETENTION_MS" ;;
    "$TOPIC_JOURNAL") printf '%s' "$base,retention.ms=604800000" ;;
    esac
}

run() {
    if ((PLAN)); then
        printf '%q ' "$@" | sed 's/ $//'
        printf '\n'
    else
        "$@"
    fi
}

ensure_topic() {
    local topic=$1 conf c kv create=() out count
    conf=$(settings "$topic")
    IFS=, read -r -a c <<<"$conf"
    for kv in "${c[@]}"; do create+=(--config "$kv"); done
    run "$KAFKA_BIN/kafka-topics.sh" "${common[@]}" --create --if-not-exists --topic "$topic" \
        --partitions "$PARTITIONS" --replication-factor "$RF" "${create[@]}"
    # --if-not-exists says nothing about a topic made earlier with other settings.
    if ((PLAN)); then
        run "$KAFKA_BIN/kafka-topics.sh" "${common[@]}" --describe --topic "$topic"
    else
        out=$("$KAFKA_BIN/kafka-topics.sh" "${common[@]}" --describe --topic "$topic")
        count=$(printf '%s\n' "$out" | grep -o 'PartitionCount: *[0-9]*' | head -n 1 | grep -o '[0-9]*$') ||
            die "$topic: no partition count in: $out"
        [[ $count == "$PARTITIONS" ]] ||
            die "$topic has $count partitions, $CFG says $PARTITIONS: sisopi's end markers count records per partition; make new topics (or fix kafka.partitions), never add partitions"
    fi
    run "$KAFKA_BIN/kafka-configs.sh" "${common[@]}" --alter --entity-type topics \
        --entity-name "$topic" --add-config "$conf"
    ((PLAN)) || note "$topic: $PARTITIONS partitions, replication $RF, $conf"
}

((PLAN)) || note "bootstrap $BOOTSTRAP, config $CFG"
for t in "$TOPIC_USERS" "$TOPIC_EVENTS" "$TOPIC_DLQ" "$TOPIC_JOURNAL"; do
    ensure_topic "$t"
done
((PLAN)) || note "done"
