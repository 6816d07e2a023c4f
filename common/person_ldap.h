/*
 * person_ldap: persons as the directory holds them, which is the truth: every person sisopi
 * manages (an entry with ucsschoolSourceUID and ucsschoolRecordUID and a student/teacher/staff
 * class), with its classes read from the class groups and its other memberships checked
 * against the groups it should be in (the reconciler's rebuilds, the audit's verify); and the
 * entries of given persons exactly as they are (the reconciler's repair of a half-done change).
 */
#ifndef SISOPI_PERSON_LDAP_H
#define SISOPI_PERSON_LDAP_H

#include <stddef.h>

#include "attr_list.h"
#include "config.h"
#include "dir_conn.h"
#include "person.h"

/* The role an entry's object classes give (ucsschoolStudent, ...Teacher, ...Staff, both of the
 * last two: teacher_and_staff). Returns 0, or -1 when it has none of them (an administrator). */
int person_ldap_role(const struct dir_entry *e, enum role *out);

/* The person an entry describes (classes not included). Returns 0, or -1 with err when the
 * entry is not a person sisopi manages (no ids, no role class). */
int person_from_entry(const struct config *cfg, const struct dir_entry *e, struct person *out,
                      char *err, size_t errlen);

/* How the groups hold a person, against the groups it should be in (layout_person_groups of the
 * person as read: Domain Users and the role groups of each school, its classes; none in limbo). */
struct person_ldap_groups {
    size_t missing;   /* groups it should be in that lack its DN or its uid */
    size_t extra;     /* groups sisopi manages that hold it although it should not be there */
    size_t stale;     /* groups holding a DN it no longer has (same first RDN) */
    char detail[320]; /* the first of these, readable; "" when all is right */
};

/* Called once per person found, with its classes and how the groups hold it; both are freed
 * after the call. A non-zero return stops the scan. */
typedef int (*person_ldap_cb)(const struct person *p, const struct person_ldap_groups *g,
                              void *opaque);

/*
 * Reads the persons matching filter (an extra LDAP filter ANDed to sisopi's, already escaped;
 * NULL: all) and every sisopi group, and calls cb for each person. Returns 0, the callback's
 * non-zero value, or -1 with err (LDAP error or connection loss).
 */
int person_ldap_scan(struct dir_conn *c, const struct config *cfg, const char *filter,
                     person_ldap_cb cb, void *opaque, char *err, size_t errlen);

/* A person's entry as the directory holds it now. */
struct person_entry {
    char *record_uid;
    char *source_uid;
    char *dn;
    char *username;
    struct attr_list managed; /* the attributes plan_entry_attrs() manages, as they are */
};

void person_entry_free(struct person_entry *e);

/* Called once per entry found; it takes *e over (free with person_entry_free). */
typedef void (*person_entry_cb)(struct person_entry *e, void *opaque);

/* Reads the entries of n persons (source_uids[i], record_uids[i]), a hundred to a search; cb for
 * each found (a person not found gets no call). Returns 0, or -1 with err (LDAP error or
 * connection loss). */
int person_ldap_fetch(struct dir_conn *c, const struct config *cfg, const char *const *source_uids,
                      const char *const *record_uids, size_t n, person_entry_cb cb, void *opaque,
                      char *err, size_t errlen);

/* The filter part selecting one person: (&(ucsschoolSourceUID=sid)(ucsschoolRecordUID=rid)),
 * escaped; malloc'd. */
char *person_ldap_filter_one(const char *source_uid, const char *record_uid);

#endif
