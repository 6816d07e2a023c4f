/*
 * dry_run: the persons by record_uid, one plan per record and per removal, a line each.
 */
#include "dry_run.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dir_conn.h"
#include "dir_escape.h"
#include "person_ldap.h"
#include "plan.h"
#include "strutil.h"

struct dry_run {
    const struct config *cfg;
    struct strmap *persons; /* record_uid (folded) -> struct person * */
    char *text;             /* the lines, in order */
    size_t len;
    FILE *lines;
    int64_t created, modified, unchanged, removed, limbo, rejected;
    int64_t reactivated; /* of modified */
};

static int keep_person(const struct person *p, const struct person_ldap_groups *g, void *opaque)
{
    (void)g;
    struct dry_run *d = opaque;
    void **slot = strmap_slot(d->persons, p->record_uid, NULL);
    if (!*slot) {
        struct person *copy = xcalloc(1, sizeof(*copy));
        person_copy(copy, p);
        *slot = copy;
    }
    return 0;
}

static void free_person(void *p)
{
    person_free(p);
    free(p);
}

struct dry_run *dry_run_open(struct dir_conn *dc, const struct config *cfg, const char *source_uid,
                             char *err, size_t n)
{
    struct dry_run *d = xcalloc(1, sizeof(*d));
    d->cfg = cfg;
    d->persons = strmap_new(true);
    d->lines = open_memstream(&d->text, &d->len);
    char e[512];
    char *v = dir_escape_filter_value(source_uid);
    char *filter = xasprintf("(ucsschoolSourceUID=%s)", v);
    int rc = person_ldap_scan(dc, cfg, filter, keep_person, d, e, sizeof(e));
    free(v);
    free(filter);
    if (rc < 0) {
        snprintf(err, n, "the dry run cannot read the persons of source %s: %s", source_uid, e);
        dry_run_close(d);
        return NULL;
    }
    return d;
}

/* One line: the event the change would be, the person, and where its account would be (or
 * why not). */
static void line(struct dry_run *d, const struct person_plan *p, const char *record_uid,
                 const char *note)
{
    const char *where = p->action == PLAN_REJECT ? p->reason
                        : p->action == PLAN_CREATE
                            ? "- (a new account: its username comes from the scheme then)"
                        : p->after.dn ? p->after.dn
                                      : "-";
    fprintf(d->lines, "  %s\t%s\t%s%s\n", event_type_name(p->event), record_uid, where,
            note ? note : "");
}

void dry_run_record(struct dry_run *d, const struct user_record *r)
{
    const struct person *before = strmap_get(d->persons, r->record_uid);
    struct person_plan p;
    memset(&p, 0, sizeof(p));
    switch (plan_user_record(d->cfg, before, r, &p)) {
    case PLAN_NONE:
        d->unchanged++;
        break;
    case PLAN_CREATE:
        d->created++;
        line(d, &p, r->record_uid, NULL);
        break;
    case PLAN_MODIFY:
        d->modified++;
        if (p.event == EVENT_REACTIVATED)
            d->reactivated++;
        line(d, &p, r->record_uid, NULL);
        break;
    case PLAN_REJECT:
        d->rejected++;
        line(d, &p, r->record_uid, NULL);
        break;
    }
    person_plan_free(&p);
}

static bool has_school(const struct person *p, const char *school)
{
    for (size_t i = 0; i < p->n_schools; i++)
        if (strcasecmp(p->schools[i], school) == 0)
            return true;
    return false;
}

static int by_uid(const void *a, const void *b)
{
    const struct person *x = *(const struct person *const *)a;
    const struct person *y = *(const struct person *const *)b;
    return strcmp(x->record_uid, y->record_uid);
}

void dry_run_finish(struct dry_run *d, const char *school, enum role role,
                    const struct strmap *listed, const struct guard_decision *guard, int64_t now_ms,
                    FILE *out)
{
    size_t n = 0;
    void **all = strmap_values(d->persons, &n);
    qsort(all, n, sizeof(*all), by_uid); /* the same order every time */
    const char *held = guard->held ? "\t(held by the deletion guard until a release)" : NULL;
    for (size_t i = 0; i < n; i++) {
        const struct person *before = all[i];
        if (before->role != role || before->limbo || !has_school(before, school) ||
            strmap_get(listed, before->record_uid))
            continue;
        struct person_plan p;
        memset(&p, 0, sizeof(p));
        if (plan_remove_school(d->cfg, before, school, now_ms, &p) == PLAN_MODIFY) {
            if (p.event == EVENT_MOVED_TO_LIMBO)
                d->limbo++;
            else
                d->removed++;
            line(d, &p, before->record_uid, held);
        }
        person_plan_free(&p);
    }
    free(all);
    fflush(d->lines);
    fprintf(out, "dry run:    nothing was published; what the reconciler would do now, person "
                 "by person (event, record_uid, account):\n");
    fwrite(d->text, 1, d->len, out);
    fprintf(out,
            "would:      %" PRId64 " created, %" PRId64 " modified, %" PRId64 " unchanged, %" PRId64
            " lose the school (%" PRId64 " of them to limbo)%s, %" PRId64 " rejected\n",
            d->created, d->modified, d->unchanged, d->removed + d->limbo, d->limbo,
            guard->held ? " once released" : "", d->rejected);
}

void dry_run_get_totals(const struct dry_run *d, struct dry_run_totals *out)
{
    out->created = d->created;
    out->modified = d->modified;
    out->unchanged = d->unchanged;
    out->removed = d->removed;
    out->limbo = d->limbo;
    out->rejected = d->rejected;
    out->reactivated = d->reactivated;
}

void dry_run_close(struct dry_run *d)
{
    if (!d)
        return;
    if (d->lines)
        fclose(d->lines);
    free(d->text);
    strmap_free(d->persons, free_person);
    free(d);
}
