/*
 * member: sisopi-reconciler's life as a consumer-group member (cooperative-sticky): it
 * hands batches of sisopi.users to the reconcile core (reconcile.h), keeps the state slices of its
 * partitions current across rebalances, retries with back-off while the directory or the broker is
 * away, and commits Kafka offsets only after the state before them is durable.
 *
 * During a retry every assigned partition is paused and the consumer is still polled, so an
 * outage of any length keeps the member in the group (max.poll.interval.ms) and rebalances go
 * on: a partition revoked meanwhile leaves the batch unapplied, one assigned meanwhile stays
 * paused. A partition whose state slice must be rebuilt while the directory is away stays
 * assigned and paused until the rebuild succeeds. The directory away at start: exit 1.
 */
#ifndef SISOPI_MEMBER_H
#define SISOPI_MEMBER_H

#include <stdbool.h>

#include "config.h"

struct member_opts {
    bool until_idle;            /* exit once caught up with every assigned partition */
    int idle_open_seconds;      /* with until_idle: exit even with open imports after this long */
    const char *metrics_listen; /* /metrics and /healthz: "HOST:PORT", "" = off */
};

/* Runs until SIGTERM/SIGINT (or idle). Returns an exit code (EXIT_OK, EXIT_FAILED). */
int member_run(const struct config *cfg, const struct member_opts *o);

#endif
