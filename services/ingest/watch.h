/*
 * watch: sisopi-ingest --watch. Imports every file a source database drops into
 * DIR/<school>/<role>[-<anything>].csv and files it under done/ or failed/ with a report.
 */
#ifndef SISOPI_INGEST_WATCH_H
#define SISOPI_INGEST_WATCH_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "config.h"

struct watch_opts {
    const char *dir;
    const char *source_uid; /* NULL: the config's */
    bool dry_run;
    bool once;    /* import what is there now, then return */
    int interval; /* seconds between scans */
    bool progress;
    bool wait;                  /* wait for each import's outcome and write it into its .report */
    double timeout_s;           /* the wait's limit */
    const char *metrics_listen; /* /metrics and /healthz (not with once): "" = off */
};

/* Runs until SIGTERM/SIGINT (finishing the file at hand) or, with once, until the directory
 * holds no more ready file. Returns EXIT_OK, EXIT_WITH_ERRORS or EXIT_FAILED (worst seen). */
int watch_run(rd_kafka_t *rk, const struct config *cfg, const struct watch_opts *o);

#endif
