/*
 * api: what every part of sisopi-api shares: the config, the login checks, the jobs, the one
 * producer, and the lock that lets one import at a time use it (the ingest's delivery reports
 * are per process).
 */
#ifndef SISOPI_API_H
#define SISOPI_API_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "api_auth.h"
#include "api_jobs.h"
#include "config.h"
#include "metrics.h"

struct api {
    const struct config *cfg;
    struct api_auth *auth;
    struct api_jobs *jobs;
    rd_kafka_t *producer;
    pthread_mutex_t ingest_lock;
    struct metrics *metrics;
    pthread_mutex_t stats_lock;
    int64_t replies[600];  /* by HTTP status */
    int64_t logins[4];     /* by enum api_auth_rc */
    int64_t imports[2][4]; /* [dry run][enum api_import_rc] */
};

/* Counters for /metrics (main.c publishes them). */
void api_count_reply(struct api *api, unsigned status);
void api_count_login(struct api *api, int rc);
void api_count_import(struct api *api, bool dryrun, int rc);

#endif
