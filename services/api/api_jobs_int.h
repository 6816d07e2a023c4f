/*
 * api_jobs_int: what the jobs' store (api_jobs.c: files, status, JSON) and the follower of
 * sisopi.events (api_follow.c) share. Everything here is used under api_jobs.lock.
 */
#ifndef SISOPI_API_JOBS_INT_H
#define SISOPI_API_JOBS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "api_jobs.h"
#include "strmap.h"

#define API_JOBS_MAX_PARTITIONS 10000
/* A person's events and its import's answers are in different partitions of sisopi.events
 * (keyed by record_uid and import_id), so the answers may be read first: a job is finished
 * once the Created events the answers count have been read too, or this long after its last
 * answer (when fewer come: a replay, a retention that dropped some). */
#define API_JOBS_SETTLE_S 10

/* Monotonic seconds. */
int64_t api_jobs_now_s(void);

enum answer { ANSWER_NONE = 0, ANSWER_COMPLETED, ANSWER_HELD, ANSWER_INCOMPLETE };

struct job {
    char id[IMPORT_ID_LEN + 1];
    char *school, *principal, *filename;
    enum role role;
    bool dryrun, passwords;
    bool hidden; /* expected (api_jobs_expect), not made yet: collects events only */
    int64_t created_ms, rows;
    int partitions;
    enum api_job_status status; /* as made; with partitions, the answers decide */
    struct api_row_error *errors;
    size_t n_errors;
    bool guard_held;
    int64_t guard_removals, guard_members;
    struct api_counts counts; /* a dry run's prediction; else from the answers */
    /* From sisopi.events (not stored: re-read at start). */
    enum answer *answers;              /* per partition, the latest */
    struct import_counts *part_counts; /* per partition, the latest answer's */
    int64_t reactivated, rejected;
    struct strmap *created; /* record_uid -> username (malloc'd) */
    int64_t last_answer_s;  /* monotonic seconds of the latest answer taken */
};

struct api_jobs {
    const struct config *cfg;
    char *dir;
    pthread_mutex_t lock;
    struct strmap *jobs;      /* id -> struct job */
    struct strmap *uploading; /* school -> (intptr_t) count */
    pthread_t follower;
    bool follower_started, stop, following;
    char follow_error[600];
};

/* The status now: the answers decide once anything was published. */
enum api_job_status api_job_status_now(const struct job *j);
/* The counts now: a dry run's prediction, the answers' sums, or what the file kept. */
struct api_counts api_job_counts(const struct job *j);
/* Writes the job's file (atomically). 0 or -1 with err. */
int api_job_write(struct api_jobs *js, const struct job *j, char *err, size_t errlen);

#endif
