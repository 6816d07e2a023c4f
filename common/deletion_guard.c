/*
 * deletion_guard: the rule and its words.
 */
#include "deletion_guard.h"

#include <inttypes.h>

#include "strutil.h"

bool deletion_guard_trips(const struct import_config *im, int64_t removals, int64_t members)
{
    return removals > 0 && (removals > im->deletion_guard_count ||
                            (double)removals > im->deletion_guard_ratio * (double)members);
}

char *deletion_guard_reason(const struct import_config *im, const char *school, enum role role,
                            int64_t removals, int64_t members, const char *import_id)
{
    return xasprintf("would take %s from %" PRId64 " of its %" PRId64 " %s (deletion guard: at "
                     "most %" PRId64 " and %.0f%%); release with: sisopi-admin release %s",
                     school, removals, members, role_name(role), im->deletion_guard_count,
                     im->deletion_guard_ratio * 100, import_id);
}
