/*
 * import_id: identifiers of imports, UUID version 7 (RFC 9562): unique without coordination,
 * and sorting them sorts imports by the time they started, which auditors appreciate.
 */
#ifndef SISOPI_IMPORT_ID_H
#define SISOPI_IMPORT_ID_H

#include <stdbool.h>
#include <stdint.h>

#define IMPORT_ID_LEN 36 /* without the NUL */

/* Writes a new UUIDv7 for time unix_ms into out (IMPORT_ID_LEN + 1 bytes). Returns 0 or -1
 * when no randomness could be had. */
int import_id_new(char out[IMPORT_ID_LEN + 1], int64_t unix_ms);

/* True for a canonical lower-case UUID string (any version). */
bool import_id_valid(const char *s);

#endif
