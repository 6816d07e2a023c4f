/*
 * sync: makes one person at one authority equal to the authority's view of the central entry
 * (view.h): reads the central entry and its classes, reads the entry the authority holds (by
 * source and record uid) and its groups, applies the diff one operation at a time.
 *
 * Both connections belong to the caller; a connection that is down is reconnected here.
 * Nothing is retried here: SYNC_RETRY tells the caller to back off and call again.
 */
#ifndef SISOPI_CONNECTOR_SYNC_H
#define SISOPI_CONNECTOR_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "dir_conn.h"
#include "view.h"

struct sync_ctx {
    const struct config *cfg; /* the central config */
    struct config acfg;       /* the authority's (view_authority_config; borrows) */
    const struct connector_authority *a;
    struct dir_conn *central, *target;
    /* Counters since the start, for the metrics. */
    uint64_t writes[VIEW_OP_KIND_COUNT][2]; /* [kind][0 ok, 1 failed] */
    uint64_t persons, unchanged, rejected;
};

enum sync_result {
    SYNC_OK = 0,   /* the authority holds the view (changed now, or already) */
    SYNC_RETRY,    /* a directory is unavailable: nothing decided, try again later */
    SYNC_REJECTED, /* the authority refuses the person (or holds an entry that is not ours) */
};

struct sync_outcome {
    size_t n_ops; /* operations applied (or, dry run, that would be) */
    char dn_before[512];
    char dn_after[512];
    char reason[512]; /* SYNC_RETRY, SYNC_REJECTED: why */
};

/* Fills s (connections not opened). */
void sync_init(struct sync_ctx *s, const struct config *cfg, const struct connector_authority *a);

/* Opens both connections. 0, or -1 with err. */
int sync_open(struct sync_ctx *s, char *err, size_t errlen);
void sync_close(struct sync_ctx *s);

/*
 * Syncs the person (source_uid may be NULL: found by record_uid alone). With plan != NULL
 * nothing is written: each operation that would be is printed there, one line each
 * ("AUTHORITY OP DN ...").
 */
enum sync_result sync_person(struct sync_ctx *s, const char *source_uid, const char *record_uid,
                             FILE *plan, struct sync_outcome *out);

#endif
