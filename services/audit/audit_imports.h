/*
 * audit_imports: every import the topics know of, summed up from its messages on sisopi.users
 * (records, ImportEnd markers) and its per-partition outcomes on sisopi.events, with its state.
 *
 * Pure: feed it decoded messages in topic order (per partition), then ask for the result.
 * Memory grows with imports x partitions, never with records.
 *
 * State of an import (the first that applies):
 *   incomplete  some partition reported ImportIncomplete, or records exist but no ImportEnd
 *               arrived at all (the ingest stopped before its markers);
 *   held        some partition's latest outcome is ImportHeld (waiting for sisopi-admin release);
 *   completed   every partition 0..partition_count-1 reported ImportCompleted or ImportReleased;
 *   pending     the markers are written, not every partition has reported yet.
 * The latest outcome of a (import, partition) wins: held, then released, is released.
 */
#ifndef SISOPI_AUDIT_IMPORTS_H
#define SISOPI_AUDIT_IMPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

enum audit_import_state {
    AUDIT_IMPORT_COMPLETED = 0,
    AUDIT_IMPORT_HELD,
    AUDIT_IMPORT_INCOMPLETE,
    AUDIT_IMPORT_PENDING,
};

/* "completed", "held", "incomplete", "pending". */
const char *audit_import_state_name(enum audit_import_state s);

/* What one partition of sisopi.users said about an import. */
struct audit_import_part {
    bool marker;          /* an ImportEnd arrived in this partition */
    int64_t record_count; /* its record_count */
    bool has_outcome;     /* an outcome event answered it */
    enum event_type outcome;
    struct import_counts counts; /* of the latest outcome */
};

struct audit_import {
    char *import_id;
    char *source_uid; /* NULL if no message named it */
    char *school;
    bool has_role;
    enum role role;
    bool dry_run;
    bool has_end;                /* at least one ImportEnd arrived */
    int64_t time_ms;             /* earliest ImportEnd produced_at, else first record's timestamp */
    int32_t partition_count;     /* from the ImportEnd, else the topic's */
    int32_t markers;             /* partitions that hold an ImportEnd */
    int32_t reported;            /* partitions < partition_count with an outcome */
    int64_t published;           /* UserRecords on the topic */
    int64_t total_records;       /* the ImportEnd's total_records; -1 without one */
    struct import_counts counts; /* sum of the latest outcomes over the partitions */
    enum audit_import_state state;
    /* internal: indexed by partition */
    struct audit_import_part *parts;
    size_t n_parts;
    int64_t first_record_ms, first_event_ms;
};

struct audit_imports;

/* default_partitions: the users topic's partition count, for imports whose ImportEnd is gone
 * (retention) but whose outcomes are still on sisopi.events. */
struct audit_imports *audit_imports_new(int32_t default_partitions);

/* A message of sisopi.users, from partition, with its Kafka timestamp. Only UserRecord and
 * ImportEnd count; m is only read. */
void audit_imports_users(struct audit_imports *a, const struct users_msg *m, int32_t partition,
                         int64_t timestamp_ms);

/* An event of sisopi.events with its Kafka timestamp; person events are ignored. */
void audit_imports_event(struct audit_imports *a, const struct event *e, int64_t timestamp_ms);

/* Finishes the counts and states and returns the imports sorted by time (then import_id).
 * The array and the imports belong to a (valid until audit_imports_free). */
struct audit_import **audit_imports_result(struct audit_imports *a, size_t *n);

/* The import of that id, or NULL (counts and state only after audit_imports_result). */
const struct audit_import *audit_imports_find(const struct audit_imports *a, const char *import_id);

void audit_imports_free(struct audit_imports *a);

#endif
