/*
 * person_ldap: the reconciler's state rebuilt from the directory, which is the truth: every
 * person sisopi manages (an entry with ucsschoolSourceUID and ucsschoolRecordUID and a
 * student/teacher/staff class), with its classes read from the class groups.
 */
#ifndef SISOPI_PERSON_LDAP_H
#define SISOPI_PERSON_LDAP_H

#include <stddef.h>

#include "config.h"
#include "ldap_conn.h"
#include "state_store.h"

/* The role an entry's object classes give (ucsschoolStudent, ...Teacher, ...Staff, both of the
 * last two: teacher_and_staff). Returns 0, or -1 when it has none of them (an administrator). */
int person_ldap_role(const struct ldap_entry_info *e, enum role *out);

/* The person an entry describes (classes not included). Returns 0, or -1 with err when the
 * entry is not a person sisopi manages (no ids, no role class). */
int person_from_entry(const struct config *cfg, const struct ldap_entry_info *e, struct person *out,
                      char *err, size_t n);

/* Called once per person found, with its classes; the person is freed after the call. A
 * non-zero return stops the scan. */
typedef int (*person_ldap_cb)(const struct person *p, void *opaque);

/*
 * Reads the persons matching filter (an extra LDAP filter ANDed to sisopi's, already escaped;
 * NULL: all) and the class groups, and calls cb for each person. Returns 0, the callback's
 * non-zero value, or -1 with err (LDAP error or connection loss).
 */
int person_ldap_scan(struct ldap_conn *c, const struct config *cfg, const char *filter,
                     person_ldap_cb cb, void *opaque, char *err, size_t n);

/* The filter part selecting one person: (&(ucsschoolSourceUID=sid)(ucsschoolRecordUID=rid)),
 * escaped; malloc'd. */
char *person_ldap_filter_one(const char *source_uid, const char *record_uid);

#endif
