/*
 * purge_sweep: the directory's own list of purge dates: every entry with an
 * ucsschoolPurgeTimestamp up to a limit, as the reference's purge script searches it
 * (docs/reference.md §2.5). The scheduler sweeps with it; sisopi-admin purge list prints it.
 */
#ifndef SISOPI_PURGE_SWEEP_H
#define SISOPI_PURGE_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dir_conn.h"
#include "records.h"

/* One entry found. Strings are valid during the callback only; NULL when absent. */
struct purge_candidate {
    const char *dn;
    const char *record_uid; /* ucsschoolRecordUID */
    const char *source_uid; /* ucsschoolSourceUID */
    const char *username;   /* uid */
    int64_t purge_at_ms;
    bool has_role; /* student, teacher, staff or both: false for e.g. a pure administrator, whom
                      a purge skips with a warning, as the reference does */
    enum role role;
    bool locked; /* deactivated (pwdAccountLockedTime): in limbo */
};

/* Non-zero stops the sweep and is returned by purge_sweep. */
typedef int (*purge_sweep_cb)(const struct purge_candidate *c, void *opaque);

/*
 * Calls cb for every entry below ldap.base with (objectClass=ucsschoolType) and
 * ucsschoolPurgeTimestamp <= upto_ms (INT64_MAX: all of them), in the order the server sends
 * them. Returns 0, the callback's value, or -1 with err (search failed, connection lost).
 */
int purge_sweep(struct dir_conn *c, const struct config *cfg, int64_t upto_ms, purge_sweep_cb cb,
                void *opaque, char *err, size_t errlen);

#endif
