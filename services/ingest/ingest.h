/*
 * ingest: one school's export from a file to sisopi.users. Validates every row first
 * (publishing nothing when there are too many bad rows), then publishes the records keyed by
 * record_uid and, once all are acknowledged, one ImportEnd per partition.
 */
#ifndef SISOPI_INGEST_H
#define SISOPI_INGEST_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "import_id.h"
#include "import_reader.h"
#include "records.h"

struct ingest_job {
    const struct config *cfg;
    const char *path;
    const char *school;
    enum role role;
    const char *source_uid; /* NULL: cfg->import.source_uid */
    bool dry_run;           /* plan against the directory and print it; publish nothing */
    bool check_only;        /* validate and report, publish nothing */
    FILE *report;           /* per-line errors and warnings go here (stderr if NULL) */
    FILE *plan;             /* a dry run's plan goes here (stdout if NULL) */
    bool rows_in_summary;   /* bad rows only in the summary, not also on report as found */
    bool progress;          /* a progress line every few seconds on long files */
    /* For programs other than the command line (sisopi-api); all may be left 0/NULL. */
    const char *name; /* the file's name in every message (the upload's own name); NULL: path */
    const char *import_id; /* the import's id, made by import_id_new; NULL: a new one */
    bool refuse_empty;     /* a file without any data row fails instead of removing everyone */
    /* Called with every bad row (the first INGEST_MAX_PRINTED_ERRORS), in file order. */
    void (*row_error)(const struct import_error *e, void *opaque);
    /* Called with every record about to be published (not in a dry run or check): may set
     * what the record lacks, e.g. a password hash. Non-zero stops publishing before any end
     * marker, with err. */
    int (*before_publish)(struct user_record *r, void *opaque, char *err, size_t errlen);
    void *opaque; /* of row_error and before_publish */
};

#define INGEST_MAX_PRINTED_ERRORS 1000

/* Why an import failed (exit_code EXIT_FAILED), for callers that answer differently. */
enum ingest_failure {
    INGEST_FAIL_NONE = 0,
    INGEST_FAIL_FILE,      /* the file itself: unreadable, undecodable, too many bad rows, empty */
    INGEST_FAIL_DIRECTORY, /* the directory could not be read, or it refused the job */
    INGEST_FAIL_BROKER,    /* publishing failed: no end marker went out for what was sent */
    INGEST_FAIL_OTHER,     /* memory, randomness */
};

/* What a dry run predicts (the totals it prints). */
struct ingest_plan_counts {
    int64_t created, modified, unchanged, removed, limbo, rejected;
    int64_t reactivated; /* of modified */
};

struct ingest_result {
    char import_id[IMPORT_ID_LEN + 1];
    char encoding[64]; /* as detected, or the declared import.csv.encoding */
    char delimiter;
    int64_t rows;    /* data rows read */
    int64_t records; /* published (or, with check_only, valid) */
    int64_t errors;  /* bad rows */
    /* The bad rows as "FILE:LINE[:COLUMN]: why" lines (the first INGEST_MAX_PRINTED_ERRORS,
     * then a count of the rest), for the summary; malloc'd, NULL if none: free it with
     * ingest_result_free(). */
    char *error_lines;
    int64_t markers; /* ImportEnd messages published */
    bool empty;      /* no data row at all: would remove every person of school/role */
    /* The deletion guard's decision for the whole import (carried by every end marker):
     * decided once the directory was read; removals of members, held or not. */
    bool guard_decided, guard_held;
    int64_t guard_removals, guard_members;
    int partitions;
    double seconds;
    bool planned;                   /* a dry run computed its plan: */
    struct ingest_plan_counts plan; /* removed excludes limbo, as in events' counts */
    enum ingest_failure failure;    /* with EXIT_FAILED */
    int exit_code;    /* EXIT_OK, EXIT_WITH_ERRORS (tolerated bad rows) or EXIT_FAILED */
    char error[1024]; /* why it failed, when exit_code == EXIT_FAILED */
};

/*
 * Runs one import. rk is an idempotent producer (kafka_producer_new) whose delivery report
 * callback is ingest_dr_cb and whose opaque is NULL; it may be NULL with check_only.
 * Overwrites *res (free a used one first). Returns res->exit_code.
 */
int ingest_run(rd_kafka_t *rk, const struct ingest_job *job, struct ingest_result *res);

/* The delivery report callback ingest_run relies on; set it on the producer's conf. */
void ingest_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

/* Checks a job's school (a valid name, not the limbo OU), role and source_uid before anything
 * is read; fills *out. Returns 0; -1 with err when the school or role itself is not valid (a
 * usage error on the command line); -2 with err when no source_uid is configured. */
int ingest_check_job(const struct config *cfg, const char *school, const char *role,
                     const char *source_uid, enum role *out, char *err, size_t errlen);

/* Prints the human summary of a finished import, ending with "Errors: N" and the bad rows
 * (the reference's import statistics do the same). */
void ingest_print_summary(FILE *f, const struct ingest_job *job, const struct ingest_result *res);

/* Frees what ingest_run allocated in *res. */
void ingest_result_free(struct ingest_result *res);

#endif
