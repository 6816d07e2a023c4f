/*
 * import_group_entry: the rules of an import group's entry that need no directory: which names
 * are allowed and where the entry lives. Pure; sisopi-admin import-group does the I/O.
 */
#ifndef SISOPI_ADMIN_IMPORT_GROUP_ENTRY_H
#define SISOPI_ADMIN_IMPORT_GROUP_ENTRY_H

#include <stddef.h>

#define IMPORT_GROUP_NAME_MAX 64

/* A group name (its cn): 1-64 bytes, no control characters, no space at either end (cn
 * matching ignores them, so "x " and "x" would be one name). Anything else is allowed: it is
 * escaped wherever it goes. Returns 0, or -1 with the reason in err. */
int import_group_name_check(const char *name, char *err, size_t n);

/* cn=<name, escaped for a DN>,<school_dn>: where a group lives (its first school's OU).
 * malloc'd; the caller frees it. */
char *import_group_dn(const char *name, const char *school_dn);

#endif
