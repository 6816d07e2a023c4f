/*
 * plan: what must change in the directory for one person, by the SiSoPi rules (docs/reference.md
 * §2.3, §2.4, §7). Pure: from the person's state and a message to the target state, and from
 * the two states to the attributes, the move and the group memberships to write.
 *
 * Every change is the difference of two derived views of a person: the managed attributes of
 * its entry (plan_entry_attrs) and the groups it belongs to (layout_person_groups). So creation,
 * a new school, a lost school, limbo and reactivation are one mechanism, and the events can
 * name exactly the attributes that changed.
 */
#ifndef SISOPI_PLAN_H
#define SISOPI_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attr_list.h"
#include "config.h"
#include "records.h"
#include "person.h"

enum plan_action {
    PLAN_NONE = 0, /* nothing to change */
    PLAN_CREATE,   /* a new account: allocate a username, then plan_finish_create() */
    PLAN_MODIFY,   /* move and/or modify an existing account */
    PLAN_REJECT,   /* the message cannot be applied to this person: see reason */
};

/* One membership to add or remove; the applier coalesces them per group. */
struct group_change {
    char *group_dn;
    bool add;
    char *member_dn;  /* the uniqueMember value */
    char *member_uid; /* the memberUid value; NULL: leave memberUid as it is (DN-only change) */
};

struct person_plan {
    enum plan_action action;
    enum event_type event;                      /* what to report when applied */
    struct person after;                        /* the target state (owned) */
    bool move;                                  /* after.dn differs from the current DN */
    struct attr_list before_entry, after_entry; /* managed entry attributes */
    struct attr_change *mods; /* after_entry - before_entry; borrows from those lists */
    size_t n_mods;
    struct group_change *groups;
    size_t n_groups;
    char reason[256];
};

/*
 * A UserRecord of school r->school: creates the person (before == NULL), adds the school,
 * brings it back from limbo, or updates it. The job school's classes are replaced by the
 * record's when the record has a class column. Returns out->action.
 */
enum plan_action plan_user_record(const struct config *cfg, const struct person *before,
                                  const struct user_record *r, struct person_plan *out);

/* Completes a PLAN_CREATE once the username is known: DN, entry and groups. */
void plan_finish_create(const struct config *cfg, struct person_plan *p, const char *uid);

/*
 * school no longer lists the person (an ImportEnd): the school goes; the primary school moves
 * to the sorted-first remaining one; without any school left the person goes to limbo,
 * deactivated, with purge date plan_purge_date(produced_at_ms) (an existing purge date is
 * kept). Returns out->action (PLAN_NONE if the person does not have the school).
 */
/* The purge date of a person who reaches limbo by an import produced at produced_at_ms:
 * + the deletion grace period, rounded up to a whole second (what LDAP can hold). */
int64_t plan_purge_date(const struct config *cfg, int64_t produced_at_ms);

enum plan_action plan_remove_school(const struct config *cfg, const struct person *before,
                                    const char *school, int64_t produced_at_ms,
                                    struct person_plan *out);

/* The managed attributes of a person's entry: names, mail, birthday, extra attributes,
 * ucsschoolSchool, ucsschoolRole, departmentNumber, and the deactivation and purge
 * attributes while in limbo. */
void plan_entry_attrs(const struct config *cfg, const struct person *p, struct attr_list *out);

/* The attributes written only when an entry is created (objectClass, uid, the source and
 * record ids) followed by the managed ones; password_hash may be NULL. */
void plan_create_attrs(const struct person_plan *p, const char *password_hash,
                       struct attr_list *out);

/* A plan that leaves the person as its state says (the target is before itself, its DN as the
 * configuration makes it), never PLAN_NONE: for a person whose entry and groups must be made
 * to match its state (plan_rebase) when no message changes it. */
void plan_keep(const struct config *cfg, const struct person *before, struct person_plan *out);

/*
 * Turns a plan made from the person's last known state into one that carries the change out
 * against the entry as the directory holds it now (at dn, named username, with the managed
 * attributes `managed`): what a crashed member left half-done. The attributes to write become
 * the difference between the entry's and the target's, the move starts from dn. The groups are
 * the applier's to make right from the groups themselves (apply_job.resync_groups). A
 * PLAN_CREATE whose entry exists already (added before the crash) keeps that entry's username
 * (and a generated mail address) and becomes a PLAN_MODIFY; its event stays Created.
 * plan must be PLAN_CREATE or PLAN_MODIFY with its after state complete.
 */
void plan_rebase(const struct config *cfg, struct person_plan *p, const char *dn,
                 const char *username, const struct attr_list *managed);

void person_plan_free(struct person_plan *p);

#endif
