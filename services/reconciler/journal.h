/*
 * journal: the reconciler's write-ahead record of the persons it is about to change, kept on a
 * Kafka topic partitioned like sisopi.users, so that whoever owns a partition next knows which
 * persons another member may have left half-changed, and the state their change was planned
 * from. docs/reconciler.md tells how the reconciler uses it; this module is the format.
 *
 * An entry (one Kafka message; the key is the record_uid): "SJ", u8 version (1), i64 BE
 * input_offset (the sisopi.users offset of the message that causes the change), u8 flags (bit 0:
 * a state before is present), then the state before as the person blob of state_codec.h. An
 * entry without a state before is a person the reconciler did not know (a creation).
 *
 * The mark (the metadata of an offset commit of sisopi.users): "sisopi1 owner=TOKEN
 * journal=POSITION": TOKEN names the state slice that made the commit (so that a member may
 * trust its own copy only if the last commit was its own), POSITION is the journal offset from
 * which entries may belong to work no commit covers yet.
 *
 * Pure: no I/O. Decoding is strict (an unknown version or flag, short data, trailing bytes),
 * so a damaged or foreign message is an error, never a guess.
 */
#ifndef SISOPI_JOURNAL_H
#define SISOPI_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state_codec.h"
#include "state_store.h"

#define JOURNAL_VERSION 1

struct journal_entry {
    int64_t input_offset;
    char *record_uid; /* the message key */
    bool has_before;
    struct person before; /* when has_before */
};

/* Replaces out's contents with the value of e (e->record_uid is the key, not in the value). */
void journal_entry_encode(const struct journal_entry *e, struct state_buf *out);
/* 0 and *out filled (free with journal_entry_free), or -1 with err and *out zeroed. */
int journal_entry_decode(const void *key, size_t key_len, const void *value, size_t len,
                         struct journal_entry *out, char *err, size_t errlen);
/* Frees the members (not the struct) and zeroes it. */
void journal_entry_free(struct journal_entry *e);

#define JOURNAL_OWNER_MAX 48

struct journal_mark {
    char owner[JOURNAL_OWNER_MAX]; /* "" when none */
    int64_t position;              /* -1 when none */
};

/* The mark as commit metadata (NUL-terminated in buf; at most ~90 bytes). */
void journal_mark_format(const struct journal_mark *m, char *buf, size_t n);
/* 0 and *out set, or -1 (*out = no owner, position -1) when the metadata is absent or not a
 * mark of this format (an older reconciler's commit, someone else's). */
int journal_mark_parse(const void *metadata, size_t len, struct journal_mark *out);

#endif
