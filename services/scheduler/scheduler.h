/*
 * scheduler: sisopi-scheduler's work. Finds the accounts in limbo whose purge date has passed
 * and writes a PurgeDue for each to sisopi.users (keyed and partitioned by record_uid, so it is
 * ordered with that person's imports); the reconciler then deletes, or not (docs/reference.md
 * §2.5).
 *
 * Where the dates come from: a sweep of the directory (every ucsschoolPurgeTimestamp) at start
 * and every scheduler.sweep_interval, and between sweeps sisopi.events (MovedToLimbo sets a
 * date, Reactivated/Deleted clear it) for exact timing. It keeps no state on disk: the tail of
 * sisopi.events is taken before the first sweep, so every change is either in the sweep or
 * read from the topic; losing the machine loses nothing.
 */
#ifndef SISOPI_SCHEDULER_H
#define SISOPI_SCHEDULER_H

#include <stdbool.h>

#include "config.h"

struct scheduler_opts {
    bool once;                  /* sweep for what is due now, send the orders, exit */
    const char *metrics_listen; /* /metrics and /healthz (not with once): "" = off */
};

/* Runs until SIGTERM/SIGINT (or once). Returns an exit code (cli.h): 0, or 1 when the
 * directory or the broker failed (--once: also when an order could not be delivered). */
int scheduler_run(const struct config *cfg, const struct scheduler_opts *o);

#endif
