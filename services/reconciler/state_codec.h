/*
 * state_codec: the versioned binary format of the values the state store keeps in LMDB
 * (persons and imports), and the helpers that own struct person / struct import_state.
 *
 * Format 2 of a person: u8 version (2), str record_uid, str source_uid, u8 role, u8 flags
 * (bit 0 limbo), str dn, str username, str primary_school, uvarint n + str schools[n],
 * uvarint n + (str school, uvarint m + str classes[m])[n], svarint purge_at_ms,
 * svarint updated_offset, uvarint n + (str name, uvarint m + str values[m])[n] attrs.
 * Format 2 of an import: u8 version (2), str import_id, str source_uid, str school, u8 role,
 * u8 status, u8 flags (bit 0 dry_run), svarint records_seen, first_offset, last_offset,
 * ended_at_offset, expected_records, produced_at_ms, and the seven import_counts.
 * str = uvarint (length + 1) then the bytes; 0 encodes NULL. uvarint = LEB128 (at most 10
 * bytes); svarint = zig-zag LEB128. No checksum: LMDB's copy-on-write commits never expose a
 * torn value; decoding is strict (unknown version or flag, short data, trailing bytes, NUL
 * inside a string, absurd counts) so an older, newer or damaged value is an error, not a crash.
 *
 * A person value may carry the digests of records seen to change nothing (record_digest.h):
 * u8 3, u8 n (1..STATE_CODEC_NOOP_MAX), n digests of 16 bytes, then the format 2 encoding. A
 * new encoding of the person (any change) drops them: a digest vouches only for the state it
 * was recorded with.
 */
#ifndef SISOPI_STATE_CODEC_H
#define SISOPI_STATE_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "state_store.h"

#define STATE_CODEC_PERSON_VERSION 2 /* 2: personal attributes as attrs only */
#define STATE_CODEC_IMPORT_VERSION 2 /* 2: counts */
#define STATE_CODEC_PERSON_NOOP    3 /* the no-op digests' header */
#define STATE_CODEC_NOOP_MAX       4 /* digests kept per person (a person listed by 4 schools) */

/* A growable byte buffer, reused between encodes. Owned by whoever declared it. */
struct state_buf {
    unsigned char *p;
    size_t len, cap;
};

void state_codec_buf_free(struct state_buf *b);
/* Appends n bytes at p to b, growing it. */
void state_codec_buf_append(struct state_buf *b, const void *p, size_t n);

/* Replaces b's contents with the encoding of p. p must have a record_uid and a source_uid. */
void state_codec_person_encode(const struct person *p, struct state_buf *b);
/* 0 and *out filled (free with person_free), or STATE_ERR_CORRUPT with *out zeroed. */
int state_codec_person_decode(const void *data, size_t len, struct person *out, char *err,
                              size_t errlen);

/* Whether the person value data[len] carries digest among its no-op digests. */
bool state_codec_person_has_noop(const void *data, size_t len,
                                 const unsigned char digest[STATE_DIGEST_LEN]);
/* Replaces b's contents with the person value data[len] (which must not alias b) carrying
 * digest first, then up to STATE_CODEC_NOOP_MAX - 1 of its digests so far. */
void state_codec_person_add_noop(const void *data, size_t len,
                                 const unsigned char digest[STATE_DIGEST_LEN], struct state_buf *b);

/* Replaces b's contents with the encoding of s. s must have an import_id. */
void state_codec_import_encode(const struct import_state *s, struct state_buf *b);
/* 0 and *out filled (free with import_state_free), or STATE_ERR_CORRUPT with *out zeroed. */
int state_codec_import_decode(const void *data, size_t len, struct import_state *out, char *err,
                              size_t errlen);

#endif
