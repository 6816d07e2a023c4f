/*
 * attr_list: a set of LDAP attributes with their values (name -> values), kept sorted by
 * name, and the difference of two such sets. What the planner compares and the applier writes.
 *
 * Names compare ASCII case-insensitively (as LDAP does); values compare exactly. The list owns
 * its strings (struct attr_values from records.h).
 */
#ifndef SISOPI_ATTR_LIST_H
#define SISOPI_ATTR_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "records.h"

struct attr_list {
    struct attr_values *v;
    size_t n, cap;
};

/* Sets name's values (replacing any before; n == 0 removes the attribute). Copies. */
void attr_list_set(struct attr_list *l, const char *name, const char *const *values, size_t n);
void attr_list_set1(struct attr_list *l, const char *name, const char *value);
/* Adds one value to name, keeping values unique. */
void attr_list_add_value(struct attr_list *l, const char *name, const char *value);
const struct attr_values *attr_list_get(const struct attr_list *l, const char *name);
void attr_list_copy(struct attr_list *dst, const struct attr_values *v, size_t n);
void attr_list_free(struct attr_list *l);

/* One attribute to write: the new values replace the old ones; n_values == 0 deletes it. */
struct attr_change {
    const char *name;          /* borrowed from the "to" list or the "from" list */
    const char *const *values; /* borrowed from the "to" list; NULL when deleted */
    size_t n_values;
};

/* The attributes whose values differ between from and to (in name order). *out is malloc'd
 * (free() it; the strings stay borrowed). Returns the count. Value order does not matter. */
size_t attr_list_diff(const struct attr_values *from, size_t n_from, const struct attr_values *to,
                      size_t n_to, struct attr_change **out);

#endif
