/*
 * outcome: what the reconcilers made of an import, read back from sisopi.events (--wait):
 * each partition of sisopi.users answers its end marker with ImportCompleted, ImportHeld or
 * ImportIncomplete, and every person the directory refused is a Rejected event of the import.
 */
#ifndef SISOPI_INGEST_OUTCOME_H
#define SISOPI_INGEST_OUTCOME_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "ingest.h"
#include "records.h"
#include "topic_reader.h"

/* Exit codes of --wait beyond cli.h's 0, 1, 2 (2 also: persons rejected). */
enum {
    EXIT_HELD = 3,       /* the deletion guard holds the import: nobody was removed yet */
    EXIT_INCOMPLETE = 4, /* a partition lacked records: nobody was removed there */
    EXIT_NO_OUTCOME = 5, /* not every partition answered within --timeout */
};

#define OUTCOME_MAX_LISTED 20 /* rejected persons named one by one */

struct import_outcome {
    int partitions; /* answers expected: one per partition */
    int answered, completed, held, incomplete;
    struct import_counts counts;           /* summed over the answers */
    int64_t rejected;                      /* Rejected events of the import */
    char *listed[OUTCOME_MAX_LISTED];      /* "record_uid: reason" of the first ones */
    char *held_reason, *incomplete_reason; /* the first of each */
};

/* A reader of sisopi.events from its end as of now: open it before publishing, so that no
 * answer can come before it looks. NULL with err. */
struct topic_tail *outcome_open(const struct config *cfg, char *err, size_t errlen);

/* Reads the answers to import_id until every one of out->partitions partitions answered or
 * timeout_s passed, saying every 10 s how many answered (unless quiet). Closes tail. 0 when
 * every partition answered, 1 on timeout; out filled either way (outcome_free it). */
int outcome_wait(struct topic_tail *tail, const char *import_id, double timeout_s, bool quiet,
                 struct import_outcome *out);

/* The outcome's lines for the summary ("outcome:", "rejected:"). */
void outcome_print(FILE *f, const struct import_outcome *o, const char *import_id);

/* The exit code of an import whose publishing ended with ingest_exit (EXIT_OK or
 * EXIT_WITH_ERRORS) and whose outcome is o; waited says every partition answered. */
int outcome_exit_code(const struct import_outcome *o, bool waited, int ingest_exit);

void outcome_free(struct import_outcome *o);

/*
 * One import as the command line and the watch mode run it: ingest_run, then, with wait
 * (and not check_only), its outcome for up to timeout_s (the reader is opened before anything
 * is published). The error goes to errors, the summary and the outcome to summary. Returns
 * the exit code; res as ingest_run leaves it.
 */
int outcome_run(rd_kafka_t *rk, const struct ingest_job *job, bool wait, double timeout_s,
                FILE *errors, FILE *summary, struct ingest_result *res);

#endif
