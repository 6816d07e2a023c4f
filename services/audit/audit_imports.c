/*
 * audit_imports: one struct audit_import per import_id in a hash map; the state is decided
 * once at the end, from the latest outcome of every partition.
 */
#include "audit_imports.h"

#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "strutil.h"

/* A partition number from a message: anything beyond this is not a real topic's. */
#define MAX_PARTITIONS 65536

struct audit_imports {
    struct strmap *by_id;
    int32_t default_partitions;
    struct audit_import **sorted;
    size_t n_sorted;
};

const char *audit_import_state_name(enum audit_import_state s)
{
    switch (s) {
    case AUDIT_IMPORT_COMPLETED:
        return "completed";
    case AUDIT_IMPORT_HELD:
        return "held";
    case AUDIT_IMPORT_INCOMPLETE:
        return "incomplete";
    case AUDIT_IMPORT_PENDING:
        return "pending";
    }
    return "?";
}

struct audit_imports *audit_imports_new(int32_t default_partitions)
{
    struct audit_imports *a = xcalloc(1, sizeof(*a));
    a->by_id = strmap_new(false);
    a->default_partitions = default_partitions;
    return a;
}

static struct audit_import *get(struct audit_imports *a, const char *import_id)
{
    void **slot = strmap_slot(a->by_id, import_id, NULL);
    if (!*slot) {
        struct audit_import *im = xcalloc(1, sizeof(*im));
        im->import_id = xstrdup(import_id);
        im->total_records = -1;
        im->time_ms = im->first_record_ms = im->first_event_ms = INT64_MAX;
        *slot = im;
    }
    return *slot;
}

static struct audit_import_part *part(struct audit_import *im, int32_t p)
{
    if (p < 0 || p >= MAX_PARTITIONS)
        return NULL;
    if ((size_t)p >= im->n_parts) {
        size_t n = (size_t)p + 1;
        im->parts = xrealloc(im->parts, n * sizeof(*im->parts));
        memset(im->parts + im->n_parts, 0, (n - im->n_parts) * sizeof(*im->parts));
        im->n_parts = n;
    }
    return &im->parts[p];
}

/* The first message that names them decides school, role and source. */
static void describe(struct audit_import *im, const char *source_uid, const char *school,
                     bool has_role, enum role role)
{
    if (!im->source_uid && source_uid)
        im->source_uid = xstrdup(source_uid);
    if (!im->school && school)
        im->school = xstrdup(school);
    if (!im->has_role && has_role) {
        im->has_role = true;
        im->role = role;
    }
}

void audit_imports_users(struct audit_imports *a, const struct users_msg *m, int32_t partition,
                         int64_t timestamp_ms)
{
    if (m->type == USERS_MSG_USER_RECORD) {
        const struct user_record *r = &m->u.user;
        struct audit_import *im = get(a, r->import_id);
        describe(im, r->source_uid, r->school, true, r->role);
        im->dry_run |= r->dry_run;
        im->published++;
        if (timestamp_ms < im->first_record_ms)
            im->first_record_ms = timestamp_ms;
    } else if (m->type == USERS_MSG_IMPORT_END) {
        const struct import_end *e = &m->u.end;
        struct audit_import *im = get(a, e->import_id);
        describe(im, e->source_uid, e->school, true, e->role);
        im->dry_run |= e->dry_run;
        im->has_end = true;
        if (e->produced_at_ms < im->time_ms)
            im->time_ms = e->produced_at_ms;
        if (e->partition_count > im->partition_count && e->partition_count <= MAX_PARTITIONS)
            im->partition_count = e->partition_count;
        im->total_records = e->total_records;
        struct audit_import_part *p = part(im, partition);
        if (p) {
            p->marker = true;
            p->record_count = e->record_count;
        }
    }
}

void audit_imports_event(struct audit_imports *a, const struct event *e, int64_t timestamp_ms)
{
    if (!e->import_id || e->record_uid)
        return;
    if (e->type != EVENT_IMPORT_COMPLETED && e->type != EVENT_IMPORT_HELD &&
        e->type != EVENT_IMPORT_INCOMPLETE && e->type != EVENT_IMPORT_RELEASED)
        return;
    struct audit_import *im = get(a, e->import_id);
    describe(im, e->source_uid, e->school, e->has_role, e->role);
    im->dry_run |= e->dry_run;
    if (timestamp_ms < im->first_event_ms)
        im->first_event_ms = timestamp_ms;
    struct audit_import_part *p = part(im, e->input_partition);
    if (!p)
        return;
    /* The events of one import share its key, so one partition of sisopi.events holds them
     * in the order they were written: the last one read is the latest. */
    p->has_outcome = true;
    p->outcome = e->type;
    if (e->has_counts)
        p->counts = e->counts;
    else
        memset(&p->counts, 0, sizeof(p->counts));
}

static void finish(struct audit_imports *a, struct audit_import *im)
{
    bool incomplete = false, held = false;
    int32_t done = 0;
    if (im->partition_count <= 0)
        im->partition_count = a->default_partitions;
    memset(&im->counts, 0, sizeof(im->counts));
    im->markers = im->reported = 0;
    for (size_t i = 0; i < im->n_parts; i++) {
        const struct audit_import_part *p = &im->parts[i];
        im->markers += p->marker;
        if (!p->has_outcome)
            continue;
        import_counts_add(&im->counts, &p->counts);
        incomplete |= p->outcome == EVENT_IMPORT_INCOMPLETE;
        held |= p->outcome == EVENT_IMPORT_HELD;
        if ((int64_t)i < im->partition_count) {
            im->reported++;
            done += p->outcome == EVENT_IMPORT_COMPLETED || p->outcome == EVENT_IMPORT_RELEASED;
        }
    }
    if (incomplete || (!im->has_end && im->published > 0))
        im->state = AUDIT_IMPORT_INCOMPLETE;
    else if (held)
        im->state = AUDIT_IMPORT_HELD;
    else if (done == im->partition_count)
        im->state = AUDIT_IMPORT_COMPLETED;
    else
        im->state = AUDIT_IMPORT_PENDING;
    if (!im->has_end)
        im->time_ms = im->first_record_ms != INT64_MAX ? im->first_record_ms : im->first_event_ms;
}

static int cmp_import(const void *x, const void *y)
{
    const struct audit_import *a = *(struct audit_import *const *)x;
    const struct audit_import *b = *(struct audit_import *const *)y;
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms ? -1 : 1;
    return strcmp(a->import_id, b->import_id);
}

struct audit_import **audit_imports_result(struct audit_imports *a, size_t *n)
{
    free(a->sorted);
    a->sorted = (struct audit_import **)strmap_values(a->by_id, &a->n_sorted);
    for (size_t i = 0; i < a->n_sorted; i++)
        finish(a, a->sorted[i]);
    if (a->n_sorted > 1)
        qsort(a->sorted, a->n_sorted, sizeof(*a->sorted), cmp_import);
    *n = a->n_sorted;
    return a->sorted;
}

const struct audit_import *audit_imports_find(const struct audit_imports *a, const char *import_id)
{
    return strmap_get(a->by_id, import_id);
}

static void import_free(void *v)
{
    struct audit_import *im = v;
    free(im->import_id);
    free(im->source_uid);
    free(im->school);
    free(im->parts);
    free(im);
}

void audit_imports_free(struct audit_imports *a)
{
    if (!a)
        return;
    strmap_free(a->by_id, import_free);
    free(a->sorted);
    free(a);
}
