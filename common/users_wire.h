/*
 * users_wire: the UserRecord body of users.v1 read and written directly, for the per-record
 * hot paths of the ingest and the reconciler; avro_codec uses it and falls back to avro-c for
 * everything else. Not a second codec: what it takes and gives is exactly what the generic
 * path takes and gives (fuzz_avro_decode and test_avro_codec compare the two).
 */
#ifndef SISOPI_USERS_WIRE_H
#define SISOPI_USERS_WIRE_H

#include <stddef.h>

#include "records.h"

/* Reads a users.v1 body (the bytes after the 10-byte header). 0: a UserRecord, in *out (free
 * with users_msg_free); 1: not one this reader takes (another body, or anything it is not
 * sure of), *out zeroed. */
int users_wire_read_v1(const void *body, size_t len, struct users_msg *out);

/* Writes header (C3 01 + the users.v1 fingerprint) and the body of u into a new buffer
 * (*buf, free()). 0, or 1 when the generic path must say what is wrong (a NULL string, text
 * that is not UTF-8, a role out of range). */
int users_wire_write_v1(const struct user_record *u, const unsigned char header[10], void **buf,
                        size_t *len);

#endif
