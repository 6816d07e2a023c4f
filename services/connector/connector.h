/*
 * connector: the consumer group member of one authority: follows sisopi.events and, for each
 * event naming a person, makes the authority's directory equal to its view of the central
 * entry (sync.h). Offsets are committed only after the writes; a directory that is away is
 * retried with back-off; a person the authority refuses becomes a Rejected event and a dead
 * letter, and the partition goes on.
 */
#ifndef SISOPI_CONNECTOR_CONNECTOR_H
#define SISOPI_CONNECTOR_CONNECTOR_H

#include <stdbool.h>

#include "config.h"

struct connector_opts {
    const char *authority;      /* connector.authorities[].name */
    const char *metrics_listen; /* "" = off */
    bool until_idle;            /* exit once every assigned partition is caught up */
};

/* The consumer group of authority name: connector.group_prefix + name (malloc'd). */
char *connector_group_id(const struct config *cfg, const char *name);

/* Runs until a signal (or, until_idle, caught up). Returns an exit code (cli.h). */
int connector_run(const struct config *cfg, const struct connector_opts *o);

#endif
