/*
 * dir_entry: an LDAP entry as a small plain struct (DN + attribute -> values), built from a
 * search result or from the entry an RFC 4527 pre-/post-read control carries.
 *
 * Ownership: dir_entry_from_msg/dir_entry_from_control return a malloc'd entry that owns all
 * its strings; dir_entry_free releases it. Entries handed to dir_conn callbacks belong to
 * dir_conn and live only during the call.
 */
#ifndef SISOPI_DIR_ENTRY_H
#define SISOPI_DIR_ENTRY_H

#include <ldap.h>
#include <stddef.h>

/* One attribute: n values, each NUL-terminated (lens[i] bytes before the NUL; a binary value
 * may hold NUL bytes itself). */
struct dir_attr {
    char *name;
    char **values;
    size_t *lens;
    size_t n;
};

/* Read-only for callers. */
struct dir_entry {
    char *dn; /* as the server wrote it: compare with dir_dn_equal, never strcmp */
    struct dir_attr *attrs;
    size_t n_attrs;
};

/* The attribute named name (case-insensitive, options included: "cn;lang-de"), or NULL. */
const struct dir_attr *dir_entry_attr(const struct dir_entry *e, const char *name);

/* The first value of name, or NULL. */
const char *dir_entry_value(const struct dir_entry *e, const char *name);

/* Number of values of name (0 if absent). */
size_t dir_entry_count(const struct dir_entry *e, const char *name);

/* A copy of a search result entry (LDAP_RES_SEARCH_ENTRY). Never NULL. */
struct dir_entry *dir_entry_from_msg(LDAP *ld, LDAPMessage *msg);

/* The entry in a pre-/post-read control's value, or NULL when the value is malformed (server
 * data is never trusted to be well-formed). */
struct dir_entry *dir_entry_from_control(const LDAPControl *ctrl);

void dir_entry_free(struct dir_entry *e);

#endif
