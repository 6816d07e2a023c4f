/*
 * resync: every person of one authority, both ways: those the central directory gives the
 * authority's schools and those the authority holds with the connector's mark, each made equal
 * to the authority's view (sync.h); verify only reports what differs.
 */
#ifndef SISOPI_CONNECTOR_RESYNC_H
#define SISOPI_CONNECTOR_RESYNC_H

#include <stdbool.h>

#include "config.h"

struct resync_opts {
    const char *authority;
    const char *school;     /* NULL: all of the authority's schools */
    const char *record_uid; /* NULL: everybody */
    bool dry_run;           /* print what would be done, write nothing */
    bool verify;            /* dry run; exit 2 when anything differs */
};

/* Returns an exit code: 0 done (verify: no drift), 2 drift (verify) or persons rejected,
 * 1 a directory failed, 64 bad usage (unknown authority, a school not the authority's). */
int resync_run(const struct config *cfg, const struct resync_opts *o);

#endif
