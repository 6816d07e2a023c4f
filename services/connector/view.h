/*
 * view: what one school authority's directory should hold of a person (its view of the central
 * entry), and the operations that make the entry found there equal to it. Pure: entries and
 * the config in, plain structs out; sync.c reads and writes.
 *
 * The view depends on the central entry alone, never on the event that led here, so replaying
 * any event changes nothing and a missed one is caught up by the next (level-triggered).
 * The person at the authority is found by its (ucsschoolSourceUID, ucsschoolRecordUID) pair,
 * never by DN: a move or a return from limbo is a rename of the same entry.
 *
 * Ownership: every struct filled here owns its members (free with its *_free function); the
 * inputs are only read.
 */
#ifndef SISOPI_CONNECTOR_VIEW_H
#define SISOPI_CONNECTOR_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "attr_list.h"
#include "config.h"
#include "dir_entry.h"
#include "person.h"

/* The ucsschoolRole value that marks an entry as the connector's at authority NAME:
 * "sisopi_connector:authority:NAME". Only marked entries are ever changed or removed. */
char *view_owner_mark(const char *authority);

/* Whether e carries the mark of authority. */
bool view_owned(const struct dir_entry *e, const char *authority);

/*
 * The config as seen from an authority: ldap.uri, base, bind account, TLS and import.limbo_ou
 * are the authority's; everything else (containers, kafka) the central config's. A shallow
 * copy that borrows every string: never config_free() it.
 */
void view_authority_config(const struct config *central, const struct connector_authority *a,
                           struct config *out);

enum view_kind {
    VIEW_ABSENT = 0, /* nothing of the person belongs at the authority */
    VIEW_ACTIVE,     /* an active account under its primary school there */
    VIEW_LIMBO,      /* deactivated in the authority's limbo OU */
};

struct view {
    enum view_kind kind;
    struct person p;        /* as the authority holds it: DN, schools, primary, classes */
    struct attr_list entry; /* every attribute the connector writes (objectClass included) */
    char **groups;          /* DNs of the authority's groups it belongs to, sorted */
    size_t n_groups;
};

/*
 * The view of authority a (acfg: view_authority_config) of the central person c (NULL: no
 * such person centrally any more: purged) whose central entry is ce (the attributes that travel
 * come from it). present: the authority holds the person now (a person in central limbo, or
 * one who left with leave = "limbo", is kept there deactivated only if it is there already).
 * Rules: the schools of the authority only; primary = the central primary if it is one of
 * them, else the sorted-first; the classes of those schools; the role's mapped attributes;
 * userPassword only with passwords = true.
 */
void view_compute(const struct config *acfg, const struct connector_authority *a,
                  const struct person *c, const struct dir_entry *ce, bool present,
                  struct view *out);

void view_free(struct view *v);

/* One write at the authority. */
enum view_op_kind {
    VIEW_OP_ADD = 0,
    VIEW_OP_RENAME,
    VIEW_OP_MODIFY,
    VIEW_OP_DELETE,
    VIEW_OP_GROUP,
    VIEW_OP_KIND_COUNT
};

struct view_op {
    enum view_op_kind kind;
    char *dn;
    char *newrdn, *newsuperior; /* RENAME */
    /* ADD: the entry's attributes. MODIFY: the attributes to replace (a single "" value:
     * delete the attribute; no attribute sisopi writes may be empty).
     * GROUP: "+uniqueMember", "-uniqueMember", "+memberUid", "-memberUid" with their values. */
    struct attr_list attrs;
    char **changed; /* MODIFY: names of the attributes changed */
    size_t n_changed;
};

/* The entry found at the authority. */
struct view_found {
    const struct dir_entry *entry; /* NULL: none found */
    /* The groups (sisopiGroup) naming its DN as uniqueMember, and its uid as memberUid. */
    char **groups_dn;
    size_t n_groups_dn;
    char **groups_uid;
    size_t n_groups_uid;
};

struct view_diff {
    struct view_op *ops; /* in the order to apply them; none: nothing to do */
    size_t n_ops;
    bool conflict;    /* the entry there is not the connector's: nothing to do, reject */
    char reason[512]; /* why, when conflict */
};

/* The attributes view_diff compares for role: what the connector writes and removes. NULL-
 * terminated, malloc'd array of borrowed and static strings: free() the array only. */
const char **view_managed_attrs(const struct connector_authority *a, enum role role);

/*
 * The operations that turn found into v at authority a. Order (each step is safe to crash
 * after, the next run finishes it): add the entry; fix the groups (the new DN goes in and
 * the old one out before the rename, so no group is left holding a DN that no longer
 * exists); rename; modify the attributes; delete last (after leaving its groups).
 */
void view_diff(const struct config *acfg, const struct connector_authority *a, const struct view *v,
               const struct view_found *found, struct view_diff *out);

void view_diff_free(struct view_diff *d);

const char *view_op_name(enum view_op_kind k);

#endif
