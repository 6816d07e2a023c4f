/*
 * sisopi-audit's commands and what they share: the parsed command line and a topic reader
 * that reports its own errors. Each command lives in its own file; main.c only dispatches.
 */
#ifndef SISOPI_AUDIT_CMD_H
#define SISOPI_AUDIT_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "records.h"
#include "topic_reader.h"

/* Exit code of verify when the directory differs from the history. */
#define AUDIT_EXIT_DRIFT 2

/* The options of a command, after parsing (only those the command accepts can be set). */
struct audit_args {
    bool json;          /* --json: one JSON object per line */
    bool csv;           /* --csv (report) */
    int timeout_s;      /* --timeout SEC for reading each topic (default 30) */
    const char *topic;  /* --topic (dump) */
    const char *output; /* --output FILE (report) */
    char **pos;         /* positional arguments after the command */
    int n_pos;
};

/* The commands, one file each (dump.c, ...): exit codes as cli.h and docs/audit.md say. Named
 * apart from the modules (struct audit_history, audit_imports, audit_report) they drive. */
int audit_cmd_dump(const struct config *cfg, const struct audit_args *a);
int audit_cmd_history(const struct config *cfg, const struct audit_args *a);
int audit_cmd_imports(const struct config *cfg, const struct audit_args *a);
int audit_cmd_report(const struct config *cfg, const struct audit_args *a);
int audit_cmd_verify(const struct config *cfg, const struct audit_args *a);

/* Reads the whole topic (topic_read_all) within the --timeout; on failure prints
 * "sisopi-audit: ..." and returns -1, else 0. */
int audit_read_topic(const struct config *cfg, const char *topic, const struct audit_args *a,
                     topic_reader_cb cb, void *opaque);

/* One decoded message of a read: u for sisopi.users, e for sisopi.events, the other NULL. The
 * callback may take the message over (leaving it zeroed); what is left is freed after it. */
typedef void (*audit_decoded_cb)(const rd_kafka_message_t *m, struct users_msg *u, struct event *e,
                                 void *opaque);
/* false: skip the message without decoding it (e.g. another person's key). */
typedef bool (*audit_keep_cb)(const rd_kafka_message_t *m, void *opaque);

/* Reads the whole topic (as audit_read_topic), decodes every message kept (keep NULL: all) as
 * an Event if topic is kafka.topic_events, else as a users message, calls cb for each one that
 * decodes, and warns about the rest on stderr. Returns 0 or -1. */
int audit_read_decoded(const struct config *cfg, const char *topic, const struct audit_args *a,
                       audit_keep_cb keep, audit_decoded_cb cb, void *opaque);

/* The Kafka timestamp of a message (ms). */
int64_t audit_msg_time(const rd_kafka_message_t *m);

/* Tells on stderr how many messages of a topic could not be decoded (when any were). */
void audit_warn_undecodable(const char *topic, int64_t n);

#endif
