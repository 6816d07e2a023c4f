/*
 * api_jobs: the API's import jobs. A job's metadata (school, role, principal, file name, time,
 * row errors, a dry run's prediction) is written to a file of the state directory when the
 * job is made, so it survives a restart; its status and counts come from sisopi.events, read
 * from the beginning at start and then followed (the reconcilers' answers per partition), and
 * how it ended is written to its file too.
 *
 * Threads: every function may be called from any thread (one mutex); the follower runs on a
 * thread of its own between api_jobs_follow_start and api_jobs_free.
 */
#ifndef SISOPI_API_JOBS_H
#define SISOPI_API_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "api_auth.h"
#include "config.h"
#include "import_id.h"
#include "records.h"

enum api_job_status {
    API_JOB_NEW = 0,
    API_JOB_SCHEDULED,
    API_JOB_STARTED,
    API_JOB_FINISHED,
    API_JOB_HELD,
    API_JOB_INCOMPLETE,
    API_JOB_ABORTED,
};
const char *api_job_status_name(enum api_job_status s);

struct api_row_error {
    int64_t line;
    char *column; /* NULL: the whole row */
    char *message;
};

struct api_counts {
    int64_t created, modified, unchanged, school_removed, to_limbo, reactivated, rejected;
};

/* What the API knows when it makes a job (all copied by api_jobs_add). */
struct api_job_spec {
    const char *id; /* the import_id */
    const char *school;
    enum role role;
    bool dryrun;
    const char *principal;
    const char *filename;
    int64_t created_ms;
    int64_t rows;
    int partitions; /* the end markers published (0: a dry run, or nothing published) */
    enum api_job_status status;
    const struct api_row_error *errors;
    size_t n_errors;
    bool guard_held;
    int64_t guard_removals, guard_members;
    struct api_counts counts; /* a dry run's prediction */
    bool passwords;           /* first passwords were generated for its new accounts */
};

struct api_jobs;

/* Opens (creating, 0700) state_dir/jobs and loads every job there. NULL with err. */
struct api_jobs *api_jobs_open(const struct config *cfg, char *err, size_t errlen);

/* Starts the thread that follows sisopi.events. */
int api_jobs_follow_start(struct api_jobs *j, char *err, size_t errlen);

/* Whether the follower has read the events up to now (for /healthz); why if not. */
bool api_jobs_following(struct api_jobs *j, char *why, size_t whylen);

void api_jobs_free(struct api_jobs *j);

/* Writes the job's file and adds it. 0 or -1 with err (the disk). */
int api_jobs_add(struct api_jobs *j, const struct api_job_spec *spec, char *err, size_t errlen);

/* An import about to be published as id with partitions end markers: its events are kept
 * until api_jobs_add makes the job (or api_jobs_forget drops them), since the reconcilers may
 * answer before the publisher returns. */
void api_jobs_expect(struct api_jobs *j, const char *id, int partitions);
void api_jobs_forget(struct api_jobs *j, const char *id);

/* Jobs of school not yet at an end (started, held), imports in progress included. */
int api_jobs_in_flight(struct api_jobs *j, const char *school);
/* Reserves a place for an upload of school when fewer than max of its jobs are in flight
 * (uploads being imported included): true, and the caller calls api_jobs_uploading(-1) when
 * the import is done; false when the school is at its limit. */
bool api_jobs_reserve(struct api_jobs *j, const char *school, int max);
/* An upload of school is being imported (+1) or done (-1): counted by api_jobs_in_flight. */
void api_jobs_uploading(struct api_jobs *j, const char *school, int delta);

enum api_job_access { API_JOB_OK, API_JOB_NOT_FOUND, API_JOB_FORBIDDEN };

/* The job as the API's JSON into f, if p may see it. */
enum api_job_access api_jobs_render(struct api_jobs *j, const char *id,
                                    const struct api_principal *p, FILE *f);

/* The list page (newest first, 20 a page) of the jobs p may see, filtered by school and role
 * (NULL: any), into f. base is the list's URL for next/previous. */
void api_jobs_render_list(struct api_jobs *j, const struct api_principal *p, const char *school,
                          const char *role, int page, FILE *f);

/* The job's facts for the downloads: school, dry run, principal, whether it has passwords, and
 * its created persons (record_uid -> username) for passwords.csv. */
struct api_job_facts {
    char school[80];
    bool dryrun, passwords;
    char principal[300];
    char **created_uids, **created_usernames; /* malloc'd, n_created each */
    size_t n_created;
    struct api_row_error *errors; /* copies (dry run summary) */
    size_t n_errors;
    enum role role;
    char filename[300];
};
enum api_job_access api_jobs_facts(struct api_jobs *j, const char *id,
                                   const struct api_principal *p, struct api_job_facts *out);
void api_job_facts_free(struct api_job_facts *f);

#endif
