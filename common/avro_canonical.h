/*
 * avro_canonical: the Avro Parsing Canonical Form of a parsed schema, and the CRC-64-AVRO
 * (Rabin) fingerprint that names a schema in single-object encoding. avro-c has neither.
 */
#ifndef SISOPI_AVRO_CANONICAL_H
#define SISOPI_AVRO_CANONICAL_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

/* The fingerprint of the empty string; also the seed of the CRC. */
#define AVRO_FINGERPRINT_EMPTY UINT64_C(0xc15d213aa4d7a795)

/*
 * Writes the Parsing Canonical Form of s (spec "Parsing Canonical Form for Schemas": fullnames,
 * no doc/aliases/defaults/logicalType/order, fixed key order, no whitespace) to *out, a
 * NUL-terminated string the caller frees with free(). Returns 0, or -1 with err filled.
 */
int avro_canonical_form(avro_schema_t s, char **out, char *err, size_t errlen);

/* CRC-64-AVRO of len bytes: the 64-bit Rabin fingerprint the Avro spec defines. */
uint64_t avro_fingerprint64(const void *buf, size_t len);

#endif
