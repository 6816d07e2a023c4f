/*
 * ldap_entry: an LDAP entry as a small plain struct (DN + attribute -> values), built from a
 * search result or from the entry an RFC 4527 pre-/post-read control carries.
 *
 * Ownership: ldap_entry_from_msg/ldap_entry_from_control return a malloc'd entry that owns all
 * its strings; ldap_entry_free releases it. Entries handed to ldap_conn callbacks belong to
 * ldap_conn and live only during the call.
 */
#ifndef SISOPI_LDAP_ENTRY_H
#define SISOPI_LDAP_ENTRY_H

#include <ldap.h>
#include <stddef.h>

/* One attribute: n values, each NUL-terminated (lens[i] bytes before the NUL; a binary value
 * may hold NUL bytes itself). */
struct ldap_attr_info {
    char *name;
    char **values;
    size_t *lens;
    size_t n;
};

/* Read-only for callers. */
struct ldap_entry_info {
    char *dn; /* as the server wrote it: compare with ldap_dn_equal, never strcmp */
    struct ldap_attr_info *attrs;
    size_t n_attrs;
};

/* The attribute named name (case-insensitive, options included: "cn;lang-de"), or NULL. */
const struct ldap_attr_info *ldap_entry_attr(const struct ldap_entry_info *e, const char *name);

/* The first value of name, or NULL. */
const char *ldap_entry_value(const struct ldap_entry_info *e, const char *name);

/* Number of values of name (0 if absent). */
size_t ldap_entry_count(const struct ldap_entry_info *e, const char *name);

/* A copy of a search result entry (LDAP_RES_SEARCH_ENTRY). Never NULL. */
struct ldap_entry_info *ldap_entry_from_msg(LDAP *ld, LDAPMessage *msg);

/* The entry in a pre-/post-read control's value, or NULL when the value is malformed (server
 * data is never trusted to be well-formed). */
struct ldap_entry_info *ldap_entry_from_control(const LDAPControl *ctrl);

void ldap_entry_free(struct ldap_entry_info *e);

#endif
