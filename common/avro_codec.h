/*
 * avro_codec: the bytes of sisopi.users and sisopi.events messages: Avro single-object encoding
 * (C3 01, fingerprint, binary body) of the structs in records.h, readable from every known version.
 *
 * Writers always use the family's current schema (schema_registry_current()). Readers decode with
 * the writer's schema and map fields by name, so a newer reader fills defaults for fields an older
 * writer lacked. Ownership: *buf from the encoders is malloc'd, the caller frees it with free();
 * a decoded struct owns its members, released with users_msg_free()/event_free() (also after a
 * failed decode, which leaves the struct zeroed).
 */
#ifndef SISOPI_AVRO_CODEC_H
#define SISOPI_AVRO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

#include "records.h"

/* C3 01 + 8-byte little-endian fingerprint. */
#define AVRO_CODEC_HEADER_SIZE 10

/* All return 0, or -1 with a one-line reason in err; they never abort on input. */
int users_msg_encode(const struct users_msg *m, void **buf, size_t *len, char *err, size_t errlen);
int users_msg_decode(const void *buf, size_t len, struct users_msg *out, char *err, size_t errlen);
/* The same through avro-c's generic values only, without users_wire's direct path: for the
 * tests and the fuzz target that prove the two give the same. */
int users_msg_encode_generic(const struct users_msg *m, void **buf, size_t *len, char *err,
                             size_t errlen);
int users_msg_decode_generic(const void *buf, size_t len, struct users_msg *out, char *err,
                             size_t errlen);
int event_encode(const struct event *e, void **buf, size_t *len, char *err, size_t errlen);
int event_decode(const void *buf, size_t len, struct event *out, char *err, size_t errlen);

/* The writer fingerprint of a framed message (for logs and DLQ headers). 0, or -1 if buf does
 * not start with a single-object header. */
int avro_codec_peek_fingerprint(const void *buf, size_t len, uint64_t *fp);

/* Frames any avro-c value as single-object encoding under the given schema fingerprint: how
 * tools and tests write a message with a schema other than the current one. */
int avro_codec_write_value(uint64_t fp, avro_value_t *v, void **buf, size_t *len, char *err,
                           size_t errlen);

#endif
