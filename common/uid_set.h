/*
 * uid_set: a set of record_uids (or usernames), each with a number > 0 given when it was first
 * added: the line an import first saw it on, the offset from which a person is a suspect. The
 * ingest's only per-row state (memory grows with people, not with the file) and the
 * reconciler's sets of persons. A strmap underneath.
 *
 * Keys compare ASCII case-insensitively: the directory matches ucsschoolRecordUID with
 * caseIgnoreMatch, so "A1" and "a1" would be one person there.
 */
#ifndef SISOPI_UID_SET_H
#define SISOPI_UID_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uid_set;

struct uid_set *uid_set_new(void);

/* Adds uid (copied) with line (> 0). Returns 0 if it is new, else the line it was first added
 * with (the set keeps that one). */
int64_t uid_set_add(struct uid_set *s, const char *uid, int64_t line);

/* Whether uid (ASCII case-insensitively) is in the set. */
bool uid_set_has(const struct uid_set *s, const char *uid);

/* The line uid was first added with, or 0 when it is not in the set. */
int64_t uid_set_get(const struct uid_set *s, const char *uid);

/* Calls cb for every uid with its line, in no particular order. */
void uid_set_each_line(const struct uid_set *s,
                       void (*cb)(const char *uid, int64_t line, void *opaque), void *opaque);

/* Calls cb for every uid, in no particular order. */
void uid_set_each(const struct uid_set *s, void (*cb)(const char *uid, void *opaque), void *opaque);

size_t uid_set_count(const struct uid_set *s);

/* Frees the set and its copies. NULL is fine. */
void uid_set_free(struct uid_set *s);

#endif
