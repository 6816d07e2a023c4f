/*
 * reconcile: one batch of sisopi.users messages, in order, to directory changes, state and
 * events (DESIGN.md §4). The Kafka side (consumer group, rebalances, commits) is reconciler.c.
 *
 * A batch is all or nothing for the state: LDAP writes run in waves (one change per person in
 * flight), the events of the batch are produced and flushed, and only then the state (persons,
 * import bookkeeping, each partition's next offset) is committed in one LMDB transaction.
 * Before each wave the persons it touches are written to an in-flight file (fsync'd); after a
 * crash or a connection loss those persons are read back from the directory before they are
 * planned again, so a repeated batch converges on the same directory.
 */
#ifndef SISOPI_RECONCILE_H
#define SISOPI_RECONCILE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "apply.h"
#include "config.h"
#include "event_sink.h"
#include "ldap_conn.h"
#include "state_store.h"
#include "uid_set.h"

struct reconcile_core {
    const struct config *cfg;
    struct ldap_conn *ldap;
    struct applier *applier;
    struct state_store *state;
    struct event_sink *events;
    struct uid_set *suspects; /* record_uids to read back from the directory before planning */
    struct uid_set *resolved; /* suspects read back in the current batch */
    char *inflight_path;
    int64_t totals[EVENT_TYPE_COUNT]; /* events emitted, by type */
    int64_t unchanged, dead_letters, messages;
    int64_t purges_skipped; /* PurgeDue orders that deleted nothing (came back, not due, ...) */
};

enum reconcile_rc {
    RECONCILE_OK = 0,     /* applied and committed */
    RECONCILE_RETRY = 1,  /* directory or broker unavailable: nothing committed, retry later */
    RECONCILE_FATAL = -1, /* the state store failed: stop */
};

/* Opens what the core needs besides the connections (state store, in-flight recovery). */
int reconcile_core_open(struct reconcile_core *core, const struct config *cfg, char *err, size_t n);
void reconcile_core_close(struct reconcile_core *core);

/* Processes msgs (all from sisopi.users, in partition order). */
enum reconcile_rc reconcile_batch(struct reconcile_core *core, rd_kafka_message_t **msgs, size_t n,
                                  char *err, size_t errn);

/* Forgets the slices of partitions this member gave up: whoever owns them next may change the
 * directory without its commit reaching the group, so a slice that comes back is rebuilt. */
int reconcile_forget_partitions(struct reconcile_core *core, const int32_t *partitions, size_t n,
                                char *err, size_t errn);

/* The next offset the state expects in partition (what is applied), or -1 on error. */
int64_t reconcile_next_offset(struct reconcile_core *core, int32_t partition);

/* Open imports (no ImportEnd yet) in the given partitions. */
size_t reconcile_open_imports(struct reconcile_core *core, const int32_t *partitions, size_t n);

/* Makes the state slices of the given partitions current: those not known complete at
 * next_offset >= committed[i] (and with the same owner epoch) are rebuilt from the directory.
 * committed[i] < 0: nothing committed. Returns 0 or -1 with err. */
int reconcile_prepare_partitions(struct reconcile_core *core, const int32_t *partitions,
                                 const int64_t *committed, size_t n, char *err, size_t errn);

#endif
