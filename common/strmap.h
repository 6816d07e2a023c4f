/*
 * strmap: a string-keyed hash map, the one sisopi has: the audit's per-person and per-import
 * state (a replay of a whole topic costs memory per person, not per message), and under uid_set
 * the sets of record_uids of the ingest and the reconciler.
 *
 * Keys are copied; a map made with fold_case compares them ASCII case-insensitively (record_uid
 * is caseIgnoreMatch in the directory), otherwise byte-wise (import_id is an opaque token).
 * Values are the caller's: strmap_free() hands each to free_value (may be NULL).
 */
#ifndef SISOPI_STRMAP_H
#define SISOPI_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct strmap;

struct strmap *strmap_new(bool fold_case);

/* The value stored under key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);

/* The value slot of key, inserted (holding NULL) when absent; *created (may be NULL) tells
 * which. The pointer is valid until the next insertion. */
void **strmap_slot(struct strmap *m, const char *key, bool *created);

/* Calls cb for every entry, in no particular order; the map must not change meanwhile. */
void strmap_each(const struct strmap *m, void (*cb)(const char *key, void *value, void *op),
                 void *opaque);

/* The values in an array the caller frees (not the values): for sorting before output. */
void **strmap_values(const struct strmap *m, size_t *n);

size_t strmap_count(const struct strmap *m);

/* Frees the map and its keys, and each value with free_value (unless NULL). NULL is fine. */
void strmap_free(struct strmap *m, void (*free_value)(void *));

#endif
