/*
 * reconcile_int: what the parts of the reconcile core share (private; reconcile.h is the
 * interface): a batch, the items of its waves, and each part's functions.
 *   batch.c    the batch: each message to its handler, records and purges, the events, the
 *              state commit
 *   wave.c     the waves: journal, suspects read back and rebased, the writes, their outcome
 *   imports.c  each import's bookkeeping in a partition, its end marker, release and removals
 *   ownership.c  partitions that move (reconcile.h)
 */
#ifndef SISOPI_RECONCILE_INT_H
#define SISOPI_RECONCILE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "person_ldap.h"
#include "reconcile.h"
#include "strutil.h"

#define WAVE_MAX 1000

enum item_kind { ITEM_RECORD, ITEM_REMOVE, ITEM_PURGE };

/* One person's change in the current wave, with what its event needs. */
struct item {
    enum item_kind kind;
    struct apply_job job;
    struct person before;
    bool has_before;
    const struct user_record *record;       /* ITEM_RECORD: borrowed from the batch's message */
    unsigned char digest[STATE_DIGEST_LEN]; /* ITEM_RECORD, not a suspect: the record's digest */
    int32_t partition;
    int64_t offset;
    char *import_id;
    char *school; /* ITEM_REMOVE: the school taken away */
    bool dry_run;
    /* A suspect (reconcile.h): the change is carried out against its entry as the directory
     * holds it (actual), read just before the wave. */
    bool rebase;
    bool keep; /* nothing to change but that: no event */
    bool gone; /* rebase found no entry for a removal or a purge: nothing left to write */
    bool has_actual;
    struct person_entry actual;
};

/* The import a batch touched last, kept in memory and written back when another one is
 * touched or the batch ends: the records of one import come one after another, and reading
 * and writing its bookkeeping for each of them was a tenth of an unchanged record's cost. */
struct import_cache {
    bool valid, dirty;
    int32_t partition;
    struct import_state s;
};

struct batch {
    struct reconcile_core *core;
    struct state_txn *txn;
    struct import_cache ic;
    struct item *items;
    size_t n_items;
    struct uid_set *in_wave;
    struct event *events;
    size_t n_events, cap_events;
    bool lost;                  /* the directory went away: retry the batch */
    struct users_msg **decoded; /* the batch's messages, alive until it ends */
    size_t n_decoded;
    struct uid_set *touched; /* every person a wave of this batch touched: 1 + first offset */
    /* By partition (kafka.partitions of them): the next offset to apply, -1 not read yet. The
     * state learns them once, when the batch ends, in the same transaction. */
    int64_t *next_offset;
    bool *offset_dirty;
    char err[512];
    const char *topic;
};

enum count_kind {
    COUNT_CREATED,
    COUNT_MODIFIED,
    COUNT_UNCHANGED,
    COUNT_REMOVED,
    COUNT_LIMBO,
    COUNT_ERRORS
};

static inline char *strdup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* ---- batch.c ---- */

/* A new event of the batch, for the message at partition/offset. */
struct event *batch_new_event(struct batch *b, enum event_type t, int32_t partition,
                              int64_t offset);
/* The event of an applied (or, in a dry run, planned) change of one item. */
void batch_person_event(struct batch *b, const struct item *it, enum event_type t,
                        const char *reason);

/* ---- wave.c ---- */

struct item *wave_item_new(struct batch *b, enum item_kind kind, int32_t partition, int64_t offset,
                           const char *import_id, bool dry_run);
void wave_item_free(struct item *it);
/* Adds record_uid's change at offset to the wave, flushing it first when the person is in it
 * already or it is full. 0, or -1 (b->lost or b->err). */
int wave_add(struct batch *b, const char *record_uid, int64_t offset);
/* Carries out the current wave. 0, or -1 (b->lost or b->err). */
int wave_flush(struct batch *b);
/* The state's person: 0 found, 1 not found, -1 error; *rebase: a suspect (reconcile.h). */
int wave_get_person(struct batch *b, int32_t part, const char *rid, int64_t offset,
                    struct person *out, bool *rebase);

/* ---- imports.c ---- */

int imports_get(struct batch *b, int32_t part, const char *import_id, struct import_state *s,
                bool create_from_end, const struct import_end *e);
int imports_put(struct batch *b, int32_t part, const struct import_state *s);
/* Counts one outcome in the import's bookkeeping (for its ImportCompleted). */
int imports_bump(struct batch *b, int32_t partition, const char *import_id, enum count_kind kind);
int imports_count_outcome(struct batch *b, const struct item *it, bool ok);
/* Writes the cached import back if it changed; drops it (at the end of a batch). */
int imports_cache_flush(struct batch *b);
void imports_cache_drop(struct batch *b);
int imports_handle_end(struct batch *b, const rd_kafka_message_t *m, struct users_msg *u);
int imports_handle_release(struct batch *b, const rd_kafka_message_t *m, struct users_msg *u);

#endif
