/*
 * dir_layout: where things live in the directory (docs/reference.md §4): the DNs of users, school
 * groups, classes and counters, and the values sisopi writes for roles and dates. Pure.
 *
 * Every function returns a malloc'd string the caller frees. Values are escaped for the DN
 * (RFC 4514); school names are restricted by str_is_school_name() and need no escaping, but
 * are escaped anyway so that no caller has to know.
 */
#ifndef SISOPI_DIR_LAYOUT_H
#define SISOPI_DIR_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "person.h"
#include "records.h"

/* ou=<school>,<base> */
char *layout_school_dn(const struct config *cfg, const char *school);

/* cn=<container of role>,cn=users,ou=<school>,<base>: where a user of that role lives. */
char *layout_users_container_dn(const struct config *cfg, const char *school, enum role role);

/* uid=<uid>,<users container of role at school> */
char *layout_user_dn(const struct config *cfg, const char *uid, const char *school, enum role role);

/* cn=Domain Users <school>,cn=groups,ou=<school>,<base> */
char *layout_domain_users_dn(const struct config *cfg, const char *school);

/* The role groups of a role at a school: schueler-<s>, lehrer-<s>, mitarbeiter-<s> (school
 * lower-cased); teachers-and-staff are in two. Writes up to 2 DNs to out, returns how many. */
size_t layout_role_group_dns(const struct config *cfg, const char *school, enum role role,
                             char *out[2]);

/* cn=<class>,cn=klassen,cn=schueler,cn=groups,ou=<school>,<base>; class is the full name. */
char *layout_class_dn(const struct config *cfg, const char *school, const char *klass);

/* cn=<key>,cn=unique-usernames|unique-email,cn=ucsschool,cn=univention,<base> */
char *layout_counter_dn(const struct config *cfg, const char *store, const char *key);

/* The school a class belongs to: the part before the first "-" of its full name. */
char *layout_class_school(const char *klass);

/* "<student|teacher|staff>:school:<school>"; teachers-and-staff have two. Returns how many. */
size_t layout_role_values(enum role role, const char *school, char *out[2]);

/* The object classes of a user of role, NULL-terminated, static. */
const char *const *layout_user_object_classes(enum role role);

/* Unix ms -> LDAP GeneralizedTime "YYYYMMDDHHMMSSZ" (UTC) in out (16 bytes). */
void layout_generalized_time(int64_t unix_ms, char out[16]);

/* "YYYYMMDDHHMMSSZ" (also with fractions or "+0000") -> Unix ms. Returns 0 or -1. */
int layout_parse_generalized_time(const char *s, int64_t *unix_ms);

#define LAYOUT_LOCKED_TIME "000001010000Z" /* pwdAccountLockedTime: locked by an admin */

/* The first RDN's value (*cn) and the first ou= value (*school) of a group DN, malloc'd.
 * Returns 0, or -1 (both NULL) when the DN does not parse or has no ou=. */
int layout_group_parts(const char *dn, char **cn, char **school);

/* Whether dn is a group sisopi keeps for role at a school: Domain Users, the role groups, the
 * classes. Groups made by hand are not. */
bool layout_managed_group(const struct config *cfg, const char *dn, enum role role);

/* The DNs of the groups a person belongs to (sorted, unique): Domain Users and the role groups
 * of each of its schools, its classes; none in limbo. Returns the count; *out and each DN are
 * malloc'd. */
size_t layout_person_groups(const struct config *cfg, const struct person *p, char ***out);

#endif
