/*
 * dry_run: sisopi-ingest --dry-run. What the reconciler would do with the file now, computed in
 * the ingest's own process from the directory (the persons of the import's source, as
 * person_ldap reads them) and the SiSoPi rules (plan.h), printed person by person with the
 * deletion guard's decision. Nothing is published.
 */
#ifndef SISOPI_INGEST_DRY_RUN_H
#define SISOPI_INGEST_DRY_RUN_H

#include <stdio.h>

#include "config.h"
#include "dir_conn.h"
#include "records.h"
#include "strmap.h"

struct dry_run;

/* Reads every person of source_uid (with classes) over dc, which stays the caller's. NULL
 * with err. */
struct dry_run *dry_run_open(struct dir_conn *dc, const struct config *cfg, const char *source_uid,
                             char *err, size_t errlen);

/* One valid record of the file, in file order: its planned change is noted. */
void dry_run_record(struct dry_run *d, const struct user_record *r);

/*
 * The removals: every person of the source with school and role whom listed (the file's
 * record_uids, bad rows' included) does not name loses the school, as an ImportEnd produced
 * at now_ms would take it. Then prints the plan and its totals to out; guard says whether the
 * removals would be held.
 */
struct dry_run_totals {
    int64_t created, modified, unchanged, removed, limbo, rejected; /* removed: not to limbo */
    int64_t reactivated;                                            /* of modified */
};
void dry_run_finish(struct dry_run *d, const char *school, enum role role,
                    const struct strmap *listed, const struct guard_decision *guard, int64_t now_ms,
                    FILE *out);

/* The totals dry_run_finish printed. */
void dry_run_get_totals(const struct dry_run *d, struct dry_run_totals *out);

void dry_run_close(struct dry_run *d);

#endif
