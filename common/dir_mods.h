/*
 * dir_mods: a builder for the changes of one add or modify, so that no caller hand-builds
 * LDAPMod arrays. Values are copied; the builder owns everything it holds.
 *
 *   struct dir_mods *m = dir_mods_new();
 *   dir_mods_add1(m, LDAP_MOD_REPLACE, "sn", "Müller");
 *   dir_mods_add(m, LDAP_MOD_ADD, "ucsschoolSchool", schools, n_schools);
 *   dir_conn_modify(c, dn, m, 0, NULL, cb, opaque);   // dir_conn copies what it sends
 *   dir_mods_destroy(m);
 *
 * (Not "ldap_mods_free": libldap already has a function of that name.)
 */
#ifndef SISOPI_DIR_MODS_H
#define SISOPI_DIR_MODS_H

#include <ldap.h>
#include <stddef.h>

struct dir_mods;

/* An empty set of changes. Never NULL (allocation failure aborts, see strutil.h). */
struct dir_mods *dir_mods_new(void);

/*
 * Appends one change of attr with n values (copied). op is LDAP_MOD_ADD, LDAP_MOD_REPLACE,
 * LDAP_MOD_DELETE or LDAP_MOD_INCREMENT:
 *   ADD        n >= 1 values to add; for dir_conn_add every change is an ADD;
 *   REPLACE    n >= 0 (0: remove the attribute if present);
 *   DELETE     n >= 0 (0: remove the whole attribute);
 *   INCREMENT  exactly 1 value, the (integer) amount.
 * An ADD of an attribute whose last change in m is also an ADD is merged into it (same
 * meaning for a modify; an add must name each attribute once).
 * Returns 0, or -EINVAL (m unchanged) for a bad op, attribute name, value count or NULL value.
 */
int dir_mods_add(struct dir_mods *m, int op, const char *attr, const char *const *values, size_t n);

/* dir_mods_add with one value, or none when value is NULL (DELETE/REPLACE of everything). */
int dir_mods_add1(struct dir_mods *m, int op, const char *attr, const char *value);

/* Number of changes (after merging). */
size_t dir_mods_count(const struct dir_mods *m);

/* The NULL-terminated LDAPMod array (LDAP_MOD_BVALUES) for libldap; owned by m, valid until the
 * next dir_mods_add or dir_mods_destroy. */
LDAPMod **dir_mods_array(const struct dir_mods *m);

/*
 * The array to send with the Permissive Modify control. slapd 2.5.13 answers a permissive
 * delete of specific values with noSuchAttribute when the LAST value listed is missing (mods.c,
 * modify_delete_vindex keeps the lookup's code), failing the whole modify. So every DELETE with
 * values is preceded by an ADD of the same values: "add v; delete v" in one modify removes v
 * atomically whether it was there or not. (Deleting uid values this way passes through the
 * unique overlay's check of the added values.) One allocation: free() it; it borrows m's
 * strings, so m must outlive it.
 */
LDAPMod **dir_mods_array_permissive(const struct dir_mods *m);

/* Frees m and everything in it; NULL is fine. */
void dir_mods_destroy(struct dir_mods *m);

#endif
