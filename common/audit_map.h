/*
 * audit_map: a string-keyed hash map for the audit's per-person and per-import state, so a
 * replay of a whole topic costs memory per person, not per message.
 *
 * Keys are copied; a map made with fold_case compares them ASCII case-insensitively (record_uid
 * is caseIgnoreMatch in the directory), otherwise byte-wise (import_id is an opaque token).
 * Values are the caller's: audit_map_free() hands each to free_value (may be NULL).
 */
#ifndef SISOPI_AUDIT_MAP_H
#define SISOPI_AUDIT_MAP_H

#include <stdbool.h>
#include <stddef.h>

struct audit_map;

struct audit_map *audit_map_new(bool fold_case);

/* The value stored under key, or NULL. */
void *audit_map_get(const struct audit_map *m, const char *key);

/* The value slot of key, inserted (holding NULL) when absent; *created (may be NULL) tells
 * which. The pointer is valid until the next insertion. */
void **audit_map_slot(struct audit_map *m, const char *key, bool *created);

/* Calls cb for every entry, in no particular order; the map must not change meanwhile. */
void audit_map_each(const struct audit_map *m, void (*cb)(const char *key, void *value, void *op),
                    void *opaque);

/* The values in an array the caller frees (not the values): for sorting before output. */
void **audit_map_values(const struct audit_map *m, size_t *n);

size_t audit_map_count(const struct audit_map *m);

/* Frees the map and its keys, and each value with free_value (unless NULL). NULL is fine. */
void audit_map_free(struct audit_map *m, void (*free_value)(void *));

#endif
