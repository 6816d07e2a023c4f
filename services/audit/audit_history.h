/*
 * audit_history: everything the topics say about one person: its messages on sisopi.users
 * (UserRecord, PurgeDue) and its events on sisopi.events, merged into one time line.
 *
 * Pure: offer it every decoded message; it keeps those about the record_uid (compared ASCII
 * case-insensitively, as the directory compares ucsschoolRecordUID), so memory grows with one
 * person's history only. Order: Kafka timestamp, then users before events, then partition and
 * offset.
 */
#ifndef SISOPI_AUDIT_HISTORY_H
#define SISOPI_AUDIT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "records.h"

struct audit_history_item {
    bool is_event;
    char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* the Kafka message timestamp */
    struct users_msg msg; /* !is_event */
    struct event event;   /* is_event */
};

struct audit_history {
    char *record_uid;
    struct audit_history_item *items;
    size_t n, cap;
};

void audit_history_init(struct audit_history *h, const char *record_uid);
void audit_history_free(struct audit_history *h);

/* Whether a Kafka key (len bytes, may be NULL) can belong to a message about the person:
 * persons' messages and events are keyed by their record_uid. Lets the caller skip decoding. */
bool audit_history_key_matches(const struct audit_history *h, const void *key, size_t len);

/* Keeps the message if it is about the person: then it takes *m over (leaving it zeroed) and
 * returns true; else *m is untouched and stays the caller's. */
bool audit_history_add_users(struct audit_history *h, const char *topic, int32_t partition,
                             int64_t offset, int64_t timestamp_ms, struct users_msg *m);
bool audit_history_add_event(struct audit_history *h, const char *topic, int32_t partition,
                             int64_t offset, int64_t timestamp_ms, struct event *e);

/* Puts the items in time order. */
void audit_history_sort(struct audit_history *h);

/* One line per item for people:
 *   TIME  TOPIC[PARTITION]@OFFSET  IMPORT_ID|CAUSE  TYPE  what changed  [(dry run)] */
void audit_history_write_text(const struct audit_history *h, FILE *f);
/* One JSON object per item: time, timestamp, topic, partition, offset, import_id, cause,
 * type, dry_run and the whole message or event (json_out.h; no password hash). */
void audit_history_write_json(const struct audit_history *h, FILE *f);

#endif
