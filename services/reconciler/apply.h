/*
 * apply: carries out a wave of planned changes (at most one per person) against the directory,
 * many in flight at once: username counters, adds, moves, modifies, deletes, then the group
 * memberships of the whole wave, coalesced into one modify per group.
 *
 * A job whose entry changes succeeded is applied (its state must be saved) even if a group
 * change failed afterwards (logged, counted in group_errors): saving it avoids creating the
 * same person twice. A connection loss fails the jobs it hit with conn_lost; the caller
 * reconnects and re-plans them from the directory.
 */
#ifndef SISOPI_APPLY_H
#define SISOPI_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "dir_conn.h"
#include "plan.h"
#include "records.h"
#include "state_store.h"

enum apply_kind {
    APPLY_PLAN = 0, /* a PLAN_CREATE or PLAN_MODIFY */
    APPLY_DELETE,   /* a purge: the entry leaves every group that holds it, then is deleted */
    APPLY_NOTHING,  /* applied without a write: the entry is gone already (a change that a
                       crashed member made before a later one of its purged the person) */
};

struct apply_job {
    /* in */
    enum apply_kind kind;
    struct person_plan plan;     /* owned: person_plan_free() by the caller */
    const struct person *before; /* NULL for a creation */
    /* The DN the entry has now when it differs from before->dn (a change a crashed member
     * left half-done): where a move starts, what a purge deletes. NULL: before->dn. */
    const char *entry_dn;
    const struct user_record *record; /* creations: username, email, password, scheme values */
    /* The person may have been left half-changed (after a crash, by this member or another):
     * its memberships are taken from the directory, by its uid and every DN it has had, and
     * plan.groups is replaced by what makes them right (apply.c, resync_memberships). */
    bool resync_groups;
    /* out */
    bool applied;   /* the entry changes are in the directory: save plan.after */
    bool conn_lost; /* failed by a connection loss: re-plan after reconnecting */
    int rc;         /* the LDAP result code of the failing operation */
    char error[320];
    /* private */
    struct applier *a;
    int stage, tries;
    int last_rc;
    int64_t counter;
    char last_msg[200];
    char *counter_dn;
    void *names;       /* username/e-mail derivation state */
    void *purge;       /* a purge: the groups still holding the account */
    void *resync;      /* resync_groups: the groups the directory says hold the person */
    bool failed_early; /* refused before any write (its school is not in the directory) */
};

struct applier;

/* The directory connection, the config and the caches of groups known to exist. */
struct applier *applier_new(const struct config *cfg, struct dir_conn *c);
void applier_free(struct applier *a);

/* Carries out every job, then the group changes of the applied ones. Returns 0, or -1 when
 * the connection was lost (some jobs have conn_lost; the others are as their fields say). */
int apply_wave(struct applier *a, struct apply_job *jobs, size_t n);

struct apply_stats {
    int64_t adds, renames, modifies, deletes, counters, group_modifies, group_creates, group_errors;
};
struct apply_stats applier_stats(const struct applier *a);

/* Forgets the groups known to exist (after a connection loss, or when tests remove some). */
void applier_forget_groups(struct applier *a);

#endif
