/*
 * purge_schedule: the scheduler's in-memory list of accounts in limbo and their purge dates,
 * fed by directory sweeps and by sisopi.events, asked which PurgeDue orders are due now.
 * Pure logic (no I/O, no clock): the caller passes the time in.
 *
 * record_uids compare case-insensitively (ASCII), as LDAP's caseIgnoreMatch does. An order
 * that was emitted is not emitted again for the same date until reemit_ms have passed (the
 * reconciler deletes once; a repeat only helps when an order was skipped, e.g. a clock that
 * was behind). Memory: one small node per account in limbo.
 *
 * Ownership: the schedule copies every string it keeps; strings handed to callbacks are valid
 * during the call only.
 */
#ifndef SISOPI_PURGE_SCHEDULE_H
#define SISOPI_PURGE_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

struct purge_schedule;

struct purge_schedule *purge_schedule_new(int64_t reemit_ms);
void purge_schedule_free(struct purge_schedule *s); /* NULL is fine */

/* Sets the purge date of record_uid (adding it). A new date makes the order due again. */
void purge_schedule_set(struct purge_schedule *s, const char *record_uid, int64_t purge_at_ms);

/* Forgets record_uid. Returns true if it was there. */
bool purge_schedule_remove(struct purge_schedule *s, const char *record_uid);

/* Follows one event: MovedToLimbo (with a purge date) schedules the person; Created,
 * Reactivated and Deleted unschedule it. Dry-run events and the others change nothing.
 * Returns true if the schedule changed. */
bool purge_schedule_apply_event(struct purge_schedule *s, const struct event *e);

/* Called for each due order, by date then record_uid. Non-zero stops (that order and the
 * later ones stay due) and is returned by purge_schedule_take_due. */
typedef int (*purge_schedule_cb)(const char *record_uid, int64_t purge_at_ms, void *opaque);

/* Hands every order due at now_ms (purge date <= now, not emitted within reemit_ms) to cb and
 * marks it emitted. Returns the callback's non-zero value, else 0; *taken (may be NULL) counts
 * the orders taken. */
int purge_schedule_take_due(struct purge_schedule *s, int64_t now_ms, purge_schedule_cb cb,
                            void *opaque, size_t *taken);

/* When the next order becomes due (may be <= now_ms: due now); INT64_MAX if none. */
int64_t purge_schedule_next_due(const struct purge_schedule *s);

/* A directory sweep: begin, set() every account found, end. end() forgets the accounts whose
 * order was emitted and which the sweep no longer found (they are gone). Returns how many. */
void purge_schedule_sweep_begin(struct purge_schedule *s);
size_t purge_schedule_sweep_end(struct purge_schedule *s);

size_t purge_schedule_size(const struct purge_schedule *s);

/* Accounts whose purge date is <= now_ms (sent or not): due, still in the directory as far as
 * the schedule knows. */
size_t purge_schedule_count_due(const struct purge_schedule *s, int64_t now_ms);

/* The purge date of record_uid, or 0 if it is not scheduled. */
int64_t purge_schedule_get(const struct purge_schedule *s, const char *record_uid);

#endif
