/*
 * audit_expect: what the directory should hold for every person, replayed from the topics, and
 * the comparison with what it does hold (struct person, as person_ldap_scan reads it).
 *
 * Pure. Feed, in this order:
 *   1. every event of sisopi.events, in topic order (one person's events are in one partition,
 *      keyed by its record_uid, so their order is the order they happened);
 *   2. the sisopi.users positions (partition, offset) the reconciler dead-lettered;
 *   3. every UserRecord of sisopi.users with its partition and offset;
 * then compare each directory person, then ask for the persons the directory lacks.
 *
 * The events give the account (Created exists, Deleted gone), its DN, role, schools, limbo and
 * purge date; dry-run events change nothing. The classes of a school come from the latest
 * UserRecord of that school that was applied: not a dry run, not dead-lettered, not answered by
 * a Rejected event of its import, with a class column, not older than the last time the person
 * lost that school (SchoolRemoved, MovedToLimbo) or was created, reactivated or sent to limbo
 * (the input offsets of those events say when, in the same partition as the records).
 * Memory grows with persons (and the schools and rejected imports of each), not messages.
 */
#ifndef SISOPI_AUDIT_EXPECT_H
#define SISOPI_AUDIT_EXPECT_H

#include <stddef.h>
#include <stdint.h>

#include "person.h"
#include "records.h"

/* One difference: FIELD is "account", "dn", "role", "state", "schools", "purge_at" or
 * "classes[SCHOOL]"; expected and actual are short texts ("(none)" for nothing). Valid during
 * the callback only. */
struct audit_diff {
    const char *record_uid;
    const char *field;
    const char *expected;
    const char *actual;
};

typedef void (*audit_diff_cb)(const struct audit_diff *d, void *opaque);

struct audit_expect;

struct audit_expect *audit_expect_new(void);

void audit_expect_event(struct audit_expect *x, const struct event *e);
void audit_expect_dead_letter(struct audit_expect *x, int32_t partition, int64_t offset);
void audit_expect_record(struct audit_expect *x, const struct user_record *r, int32_t partition,
                         int64_t offset);

/* Compares one directory person with its expected state; calls cb per difference and returns
 * their number. An account the history says is deleted, or does not know, is one difference
 * ("account"). */
size_t audit_expect_compare(struct audit_expect *x, const struct person *p, audit_diff_cb cb,
                            void *opaque);

/* After every directory person was compared: one "account" difference per person the history
 * says exists (active or in limbo) that the directory does not have, by record_uid. Returns
 * their number. */
size_t audit_expect_missing(struct audit_expect *x, audit_diff_cb cb, void *opaque);

/* Persons checked so far: directory persons compared plus the missing ones reported. */
size_t audit_expect_checked(const struct audit_expect *x);

void audit_expect_free(struct audit_expect *x);

#endif
