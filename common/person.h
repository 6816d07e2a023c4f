/*
 * person: one person as sisopi keeps it (the reconciler's state, what the directory holds of a
 * person as the audit and the scheduler read it), and the helpers that own it.
 *
 * Ownership: every string and array is the struct's own (person_free releases them);
 * person_copy makes a deep copy.
 */
#ifndef SISOPI_PERSON_H
#define SISOPI_PERSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"

/* The classes of one school: full names "S-1a", sorted. */
struct school_classes {
    char *school;
    char **classes;
    size_t n_classes;
};

/* One person as sisopi last wrote it to the directory. NULL strings are absent, "" is empty. */
struct person {
    char *record_uid; /* required, non-empty; stored as given, keyed lower-cased */
    char *source_uid; /* required */
    enum role role;
    char *dn;             /* current DN as sisopi wrote it */
    char *username;       /* uid */
    char *primary_school; /* the OU in the DN; the limbo OU name while in limbo */
    char **schools;       /* unique (case-insensitively); empty while in limbo */
    size_t n_schools;
    struct school_classes *classes; /* sorted by school */
    size_t n_classes;
    bool limbo;             /* deactivated and in the limbo OU */
    int64_t purge_at_ms;    /* 0: none */
    int64_t updated_offset; /* offset of the message that last changed it */
    /* The personal attributes as applied (givenName, sn, mail, birthday, extra columns...),
     * sorted by name, for the planner to diff against; names and values never NULL. */
    struct attr_values *attrs;
    size_t n_attrs;
};

/* Frees the members (not the struct) and zeroes it. NULL is fine. */
void person_free(struct person *p);
/* Deep copy of src into *dst (which is overwritten, not freed first). */
void person_copy(struct person *dst, const struct person *src);
/* True if every field is equal (strings byte-wise, NULL only equals NULL). */
bool person_equal(const struct person *a, const struct person *b);

#endif
