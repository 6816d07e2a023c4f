/*
 * api_import: one upload through the ingest, as the command line runs it (same reader, same
 * checks, same publisher and end markers): a dry run answers with the prediction, a real run
 * publishes and makes the job. A file that fails the checks, a directory or broker that is
 * away: nothing is published, or nothing that removes anyone (no end marker).
 */
#ifndef SISOPI_API_IMPORT_H
#define SISOPI_API_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "api.h"
#include "import_id.h"

struct api_upload {
    const char *spool_path; /* the upload, in a private file */
    const char *filename;   /* the client's name for it: metadata only */
    const char *school;
    enum role role;
    bool dryrun;
    const char *principal;
};

enum api_import_rc {
    API_IMPORT_OK = 0,      /* the job was made: id */
    API_IMPORT_INVALID,     /* 422: msg, and the row errors as a JSON array into errors_json */
    API_IMPORT_UNAVAILABLE, /* 503: msg */
    API_IMPORT_FAILED,      /* 500: msg */
};

/* Runs the upload. id gets the job's id (IMPORT_ID_LEN + 1). errors_json gets the "errors"
 * array for API_IMPORT_INVALID (it may stay empty otherwise). */
enum api_import_rc api_import_run(struct api *api, const struct api_upload *u, char *id,
                                  FILE *errors_json, char *msg, size_t msglen);

#endif
