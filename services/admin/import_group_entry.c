/*
 * import_group_entry: an import group's name rule and its place in the directory, without a
 * connection (unit-tested in tests/unit/admin/test_import_group_entry.c).
 */
#include "import_group_entry.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir_escape.h"
#include "strutil.h"

int import_group_name_check(const char *name, char *err, size_t n)
{
    size_t len = strlen(name);
    bool ok = len > 0 && len <= IMPORT_GROUP_NAME_MAX && name[0] != ' ' && name[len - 1] != ' ';
    for (size_t i = 0; ok && i < len; i++)
        ok = (unsigned char)name[i] >= 0x20 && name[i] != 0x7f;
    if (!ok)
        snprintf(err, n,
                 "\"%s\" is not an import group name (1-%d bytes, no control characters, no "
                 "space at either end)",
                 name, IMPORT_GROUP_NAME_MAX);
    return ok ? 0 : -1;
}

char *import_group_dn(const char *name, const char *school_dn)
{
    char *v = dir_escape_dn_value(name);
    char *dn = xasprintf("cn=%s,%s", v, school_dn);
    free(v);
    return dn;
}
