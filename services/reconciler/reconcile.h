/*
 * reconcile: one batch of sisopi.users messages, in order, to directory changes, state and
 * events (DESIGN: "How a partial import becomes directory changes"), and the ownership of a
 * partition's state slice across members and crashes. The Kafka side (consumer group,
 * rebalances, commits) is member.c.
 *
 * A batch is all or nothing for the state: LDAP writes run in waves (one change per person in
 * flight); before a wave writes, every person it changes is written to the journal topic with
 * its state before (journal.h), acknowledged; the events of the batch are produced and flushed,
 * and only then the state (persons, import bookkeeping, each partition's next offset) is
 * committed in one LMDB transaction; then member.c commits the offsets with a mark
 * (reconcile_commit_mark) naming the slice and where the journal's uncommitted part begins.
 *
 * Suspects: persons a crash (of this member or another) or a lost connection may have left
 * half-changed. Their state is the one their change was planned from (the journal's, or this
 * member's unsaved batch's), so re-processing the messages gives the same changes and events;
 * each change is carried out against the entry and the groups as the directory holds them
 * (plan_rebase, apply_job.resync_groups), so nothing done twice and nothing half-done remains.
 * docs/reconciler.md tells the whole story.
 */
#ifndef SISOPI_RECONCILE_H
#define SISOPI_RECONCILE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "apply.h"
#include "config.h"
#include "dir_conn.h"
#include "event_sink.h"
#include "journal.h"
#include "record_digest.h"
#include "state_store.h"
#include "uid_set.h"

struct part_journal; /* ownership.c: what this member knows of a partition's journal */

/* The last import of a school and role this process saw through to the end on any of its
 * partitions: its ImportCompleted or ImportReleased saved with the batch (not a dry run). */
struct import_done {
    char *school;
    enum role role;
    int64_t at_ms; /* wall clock, the event's produced_at_ms */
};

struct reconcile_core {
    const struct config *cfg;
    struct dir_conn *ldap;
    struct applier *applier;
    struct state_store *state;
    struct event_sink *events;
    rd_kafka_t *consumer; /* sees an assignment lost in the middle of a batch; NULL: none */
    /* record_uid -> 1 + the sisopi.users offset from which the person's change is carried out
     * against its entry as it is (the first message a crash may have left half-applied). */
    struct uid_set *suspects;
    struct uid_set *resolved;         /* suspects carried out in the current batch */
    struct part_journal *journal;     /* by partition */
    int lock_fd;                      /* the state directory's lock, held while open */
    int64_t totals[EVENT_TYPE_COUNT]; /* events emitted, by type */
    int64_t unchanged, dead_letters, messages;
    int64_t unchanged_by_digest; /* of unchanged: known by their no-op digest, not planned */
    int64_t purges_skipped; /* PurgeDue orders that deleted nothing (came back, not due, ...) */
    struct import_done *imports_done; /* by school and role, in the order first seen */
    size_t n_imports_done;
    struct record_digest_ctx digest; /* no-op digests of records, keyed by the state store */
};

enum reconcile_rc {
    RECONCILE_OK = 0,     /* applied and committed */
    RECONCILE_RETRY = 1,  /* directory or broker unavailable: nothing committed, retry later */
    RECONCILE_FATAL = -1, /* the state store failed: stop */
};

/* Opens what the core needs besides the connections: the state store, locked for this process
 * (another process on the same state_dir: -1, err names it). */
int reconcile_core_open(struct reconcile_core *core, const struct config *cfg, char *err,
                        size_t errlen);
void reconcile_core_close(struct reconcile_core *core);

/* Processes msgs (all from sisopi.users, in partition order). */
enum reconcile_rc reconcile_batch(struct reconcile_core *core, rd_kafka_message_t **msgs, size_t n,
                                  char *err, size_t errlen);

/* Partitions this member gave up: what it knew of their journals and their suspects goes; the
 * slices stay (the mark of the next commit tells whether they may be trusted again). */
void reconcile_release_partitions(struct reconcile_core *core, const int32_t *partitions, size_t n);

/* The mark to commit with offset `committed` of partition (journal.h), once the batch before
 * it is saved: this member's slice, and the journal position before which no entry can belong
 * to work after `committed`. */
void reconcile_commit_mark(struct reconcile_core *core, int32_t partition, int64_t committed,
                           struct journal_mark *out);

/* Whether rid's change at offset is to be carried out against its entry as it is. */
bool reconcile_is_suspect(const struct reconcile_core *core, const char *rid, int64_t offset);
/* After a batch that was not saved: its persons (touched: record_uid -> 1 + first offset)
 * become suspects from that offset on. */
void reconcile_add_suspects(struct reconcile_core *core, const struct uid_set *touched);
/* After a batch was saved: the suspects it carried out are suspects no more. */
void reconcile_settle_suspects(struct reconcile_core *core);

/* The next offset the state expects in partition (what is applied), or -1 on error. */
int64_t reconcile_next_offset(struct reconcile_core *core, int32_t partition);

/* Open imports (no ImportEnd yet) in the given partitions. */
size_t reconcile_open_imports(struct reconcile_core *core, const int32_t *partitions, size_t n);

/*
 * Makes the state slices of newly assigned partitions current, from the group's committed
 * offsets and their marks (committed[i] < 0: nothing committed; marks[i] as parsed, "no
 * mark" when the commit carries none). A slice is kept only if it is complete, at exactly the
 * committed offset, and the last commit was its own (the mark's owner); otherwise it is rebuilt
 * from the directory, whose persons' groups are checked and repaired. Then the journal is read
 * from the mark's position: every person an entry of work after the committed offset names
 * becomes a suspect, with the state that entry says it had.
 * Returns 0; 1 when it must wait (the journal cannot be read now); -1 with err (the state store
 * or the directory failed: the caller tells which by dir_conn_is_down).
 */
int reconcile_prepare_partitions(struct reconcile_core *core, const int32_t *partitions,
                                 const int64_t *committed, const struct journal_mark *marks,
                                 size_t n, char *err, size_t errlen);

#endif
