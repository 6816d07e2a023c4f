/*
 * audit_expect: one struct exp_person per record_uid in a case-folding hash map; the events
 * drive a small state machine, the records only the classes.
 */
#include "audit_expect.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "audit_text.h"
#include "dir_escape.h"
#include "strmap.h"
#include "strutil.h"
#include "uid_set.h"

enum exp_state {
    EXP_UNKNOWN = 0, /* only Rejected events: never had an account here */
    EXP_ACTIVE,
    EXP_LIMBO,
    EXP_DELETED,
};

/* What the history says about one school of a person. */
struct exp_school {
    char *school;
    int64_t removed_at; /* users offset of the last time the person lost it; -1 never */
    bool has_classes;
    int64_t classes_at; /* offset of the record the classes come from */
    char **classes;
    size_t n_classes;
};

struct exp_person {
    char *record_uid;
    enum exp_state state;
    /* A Created, Reactivated or MovedToLimbo event set the whole school list; before that
     * (history cut by retention) the schools and classes are not known. */
    bool complete;
    bool has_role;
    enum role role;
    char *dn;
    char **schools;
    size_t n_schools;
    int64_t purge_at_ms;
    int64_t reset_at; /* records before this users offset no longer count for classes */
    struct exp_school *per_school;
    size_t n_per_school;
    char **rejected; /* import_ids whose record of the person was rejected */
    size_t n_rejected;
    bool seen;
};

struct audit_expect {
    struct strmap *persons;
    struct uid_set *dead; /* "partition:offset" of dead-lettered users messages */
    size_t checked;
};

struct audit_expect *audit_expect_new(void)
{
    struct audit_expect *x = xcalloc(1, sizeof(*x));
    x->persons = strmap_new(true);
    x->dead = uid_set_new();
    return x;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void person_exp_free(void *v)
{
    struct exp_person *p = v;
    free(p->record_uid);
    free(p->dn);
    free_strv(p->schools, p->n_schools);
    for (size_t i = 0; i < p->n_per_school; i++) {
        free(p->per_school[i].school);
        free_strv(p->per_school[i].classes, p->per_school[i].n_classes);
    }
    free(p->per_school);
    free_strv(p->rejected, p->n_rejected);
    free(p);
}

void audit_expect_free(struct audit_expect *x)
{
    if (!x)
        return;
    strmap_free(x->persons, person_exp_free);
    uid_set_free(x->dead);
    free(x);
}

/* ---- small sets of strings, case-insensitive ---- */

static ssize_t find_ci(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(v[i], s) == 0)
            return (ssize_t)i;
    }
    return -1;
}

static void set_add(char ***v, size_t *n, const char *s)
{
    if (find_ci(*v, *n, s) >= 0)
        return;
    *v = xrealloc(*v, (*n + 1) * sizeof(char *));
    (*v)[(*n)++] = xstrdup(s);
}

static void set_del(char **v, size_t *n, const char *s)
{
    ssize_t i = find_ci(v, *n, s);
    if (i < 0)
        return;
    free(v[i]);
    v[i] = v[--*n];
}

static void set_clear(char **v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free(v[i]);
    *n = 0;
}

static int cmp_ci(const void *a, const void *b)
{
    int c = strcasecmp(*(char *const *)a, *(char *const *)b);
    return c ? c : strcmp(*(char *const *)a, *(char *const *)b);
}

/* The set as text, sorted, sep-separated; "(none)" when empty. malloc'd. */
static char *set_text(char *const *v, size_t n, const char *sep)
{
    if (n == 0)
        return xstrdup("(none)");
    char **s = xcalloc(n, sizeof(char *));
    memcpy(s, v, n * sizeof(char *));
    qsort(s, n, sizeof(char *), cmp_ci);
    char *t = audit_text_join(s, n, sep);
    free(s);
    return t;
}

static bool set_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
    size_t unique_a = 0;
    for (size_t i = 0; i < na; i++) {
        if (find_ci(b, nb, a[i]) < 0)
            return false;
        unique_a += find_ci(a, i, a[i]) < 0;
    }
    size_t unique_b = 0;
    for (size_t i = 0; i < nb; i++)
        unique_b += find_ci(b, i, b[i]) < 0;
    return unique_a == unique_b;
}

/* ---- 1. events ---- */

static struct exp_person *person_get(struct audit_expect *x, const char *rid)
{
    void **slot = strmap_slot(x->persons, rid, NULL);
    if (!*slot) {
        struct exp_person *p = xcalloc(1, sizeof(*p));
        p->record_uid = xstrdup(rid);
        p->reset_at = -1;
        *slot = p;
    }
    return *slot;
}

static struct exp_school *school_get(struct exp_person *p, const char *school)
{
    for (size_t i = 0; i < p->n_per_school; i++) {
        if (strcasecmp(p->per_school[i].school, school) == 0)
            return &p->per_school[i];
    }
    p->per_school = xrealloc(p->per_school, (p->n_per_school + 1) * sizeof(*p->per_school));
    struct exp_school *s = &p->per_school[p->n_per_school++];
    memset(s, 0, sizeof(*s));
    s->school = xstrdup(school);
    s->removed_at = s->classes_at = -1;
    return s;
}

/* Only the school given: Created, Reactivated. */
static void only_school(struct exp_person *p, const char *school)
{
    set_clear(p->schools, &p->n_schools);
    if (school)
        set_add(&p->schools, &p->n_schools, school);
    p->complete = true;
}

static void lost_school(struct exp_person *p, const char *school, int64_t at)
{
    if (!school)
        return;
    set_del(p->schools, &p->n_schools, school);
    struct exp_school *s = school_get(p, school);
    if (at > s->removed_at)
        s->removed_at = at;
}

/* A change to an account the history did not see created (retention): it exists, but what
 * else it has is not known. */
static void exists_now(struct exp_person *p)
{
    if (p->state == EXP_ACTIVE || p->state == EXP_LIMBO)
        return;
    p->state = EXP_ACTIVE;
    p->complete = false;
    set_clear(p->schools, &p->n_schools);
}

static void reject(struct exp_person *p, const char *import_id)
{
    if (import_id)
        set_add(&p->rejected, &p->n_rejected, import_id);
}

void audit_expect_event(struct audit_expect *x, const struct event *e)
{
    if (e->dry_run || !e->record_uid)
        return;
    struct exp_person *p = person_get(x, e->record_uid);
    if (e->type == EVENT_REJECTED) {
        reject(p, e->import_id); /* nothing changed; its record's classes do not count */
        return;
    }
    if (e->has_role) {
        p->has_role = true;
        p->role = e->role;
    }
    switch (e->type) {
    case EVENT_CREATED:
    case EVENT_REACTIVATED:
        p->state = EXP_ACTIVE;
        only_school(p, e->school);
        p->purge_at_ms = 0;
        p->reset_at = e->input_offset;
        break;
    case EVENT_SCHOOL_ADDED:
    case EVENT_MODIFIED:
        exists_now(p);
        if (e->school)
            set_add(&p->schools, &p->n_schools, e->school);
        break;
    case EVENT_SCHOOL_REMOVED:
        exists_now(p);
        lost_school(p, e->school, e->input_offset);
        break;
    case EVENT_MOVED_TO_LIMBO:
        lost_school(p, e->school, e->input_offset);
        p->state = EXP_LIMBO;
        only_school(p, NULL);
        p->purge_at_ms = e->purge_at_ms;
        p->reset_at = e->input_offset;
        break;
    case EVENT_DELETED:
        p->state = EXP_DELETED;
        only_school(p, NULL);
        p->purge_at_ms = 0;
        p->reset_at = e->input_offset;
        break;
    default:
        return;
    }
    free(p->dn);
    p->dn = e->dn_after ? xstrdup(e->dn_after) : NULL;
}

/* ---- 2. dead letters, 3. records ---- */

static void pos_key(char *buf, size_t n, int32_t partition, int64_t offset)
{
    snprintf(buf, n, "%" PRId32 ":%" PRId64, partition, offset);
}

void audit_expect_dead_letter(struct audit_expect *x, int32_t partition, int64_t offset)
{
    char k[48];
    pos_key(k, sizeof(k), partition, offset);
    uid_set_add(x->dead, k, 1);
}

void audit_expect_record(struct audit_expect *x, const struct user_record *r, int32_t partition,
                         int64_t offset)
{
    char k[48];
    /* Staff have no classes; without a class column the classes stay as they were. */
    if (r->dry_run || !r->classes_given || r->role == ROLE_STAFF)
        return;
    struct exp_person *p = strmap_get(x->persons, r->record_uid);
    if (!p || p->state == EXP_UNKNOWN || p->state == EXP_DELETED || offset < p->reset_at)
        return;
    pos_key(k, sizeof(k), partition, offset);
    if (uid_set_has(x->dead, k) || find_ci(p->rejected, p->n_rejected, r->import_id) >= 0)
        return;
    struct exp_school *s = school_get(p, r->school);
    if (offset <= s->removed_at || (s->has_classes && offset < s->classes_at))
        return;
    free_strv(s->classes, s->n_classes);
    s->classes = xcalloc(r->n_classes + 1, sizeof(char *));
    s->n_classes = 0;
    for (size_t i = 0; i < r->n_classes; i++)
        s->classes[s->n_classes++] = xstrdup(r->classes[i]);
    s->has_classes = true;
    s->classes_at = offset;
}

/* ---- 4. comparison ---- */

struct differ {
    const char *record_uid;
    audit_diff_cb cb;
    void *opaque;
    size_t n;
};

static void diff(struct differ *d, const char *field, const char *expected, const char *actual)
{
    struct audit_diff a = {d->record_uid, field, expected, actual};
    d->cb(&a, d->opaque);
    d->n++;
}

/* Takes both texts over. */
static void diff_free(struct differ *d, const char *field, char *expected, char *actual)
{
    diff(d, field, expected, actual);
    free(expected);
    free(actual);
}

static const struct exp_school *school_find(const struct exp_person *p, const char *school)
{
    for (size_t i = 0; i < p->n_per_school; i++) {
        if (strcasecmp(p->per_school[i].school, school) == 0)
            return &p->per_school[i];
    }
    return NULL;
}

/* The classes the history gives the person at school (none unless a record set them since
 * the person last lost the school or was reset). */
static void expected_classes(const struct exp_person *p, const char *school, char *const **v,
                             size_t *n)
{
    const struct exp_school *s = school_find(p, school);
    *v = NULL;
    *n = 0;
    if (p->state != EXP_ACTIVE || find_ci(p->schools, p->n_schools, school) < 0 || !s ||
        !s->has_classes || s->classes_at < p->reset_at || s->classes_at <= s->removed_at)
        return;
    *v = s->classes;
    *n = s->n_classes;
}

static const struct school_classes *actual_classes(const struct person *a, const char *school)
{
    for (size_t i = 0; i < a->n_classes; i++) {
        if (strcasecmp(a->classes[i].school, school) == 0)
            return &a->classes[i];
    }
    return NULL;
}

static void compare_one_school(struct differ *d, const struct exp_person *p, const struct person *a,
                               const char *school)
{
    char *const *ev;
    size_t en;
    expected_classes(p, school, &ev, &en);
    const struct school_classes *ac = actual_classes(a, school);
    char *const *av = ac ? ac->classes : NULL;
    size_t an = ac ? ac->n_classes : 0;
    if (set_equal(ev, en, av, an))
        return;
    char field[128];
    snprintf(field, sizeof(field), "classes[%.100s]", school);
    diff_free(d, field, set_text(ev, en, ","), set_text(av, an, ","));
}

/* Per school the person has or should have: the classes. */
static void compare_classes(struct differ *d, const struct exp_person *p, const struct person *a)
{
    char **seen = NULL;
    size_t n_seen = 0;
    for (size_t i = 0; i < p->n_schools; i++)
        set_add(&seen, &n_seen, p->schools[i]);
    for (size_t i = 0; i < a->n_classes; i++)
        set_add(&seen, &n_seen, a->classes[i].school);
    if (n_seen > 1)
        qsort(seen, n_seen, sizeof(char *), cmp_ci);
    for (size_t i = 0; i < n_seen; i++)
        compare_one_school(d, p, a, seen[i]);
    free_strv(seen, n_seen);
}

/* Purge dates match at whole seconds: the directory holds seconds, the event milliseconds
 * (cut, or rounded up by a reconciler that rounds). */
static bool purge_equal(int64_t expected_ms, int64_t actual_ms)
{
    if (!expected_ms || !actual_ms)
        return expected_ms == actual_ms;
    int64_t lo = expected_ms / 1000, hi = (expected_ms + 999) / 1000, got = actual_ms / 1000;
    return got == lo || got == hi;
}

static char *time_text(int64_t ms, bool with_ms)
{
    char t[AUDIT_TIME_SIZE];
    if (!ms)
        return xstrdup("(none)");
    if (with_ms)
        audit_text_time_ms(ms, t);
    else
        audit_text_time_s(ms, t);
    return xstrdup(t);
}

static void compare_fields(struct differ *d, const struct exp_person *p, const struct person *a)
{
    if (p->dn && !dir_dn_equal(p->dn, a->dn))
        diff(d, "dn", p->dn, a->dn);
    if (p->has_role && p->role != a->role)
        diff(d, "role", role_name(p->role), role_name(a->role));
    bool limbo = p->state == EXP_LIMBO;
    if (limbo != a->limbo)
        diff(d, "state", limbo ? "limbo" : "active", a->limbo ? "limbo" : "active");
    if (p->complete && !set_equal(p->schools, p->n_schools, a->schools, a->n_schools))
        diff_free(d, "schools", set_text(p->schools, p->n_schools, " "),
                  set_text(a->schools, a->n_schools, " "));
    int64_t want = limbo ? p->purge_at_ms : 0;
    if (!purge_equal(want, a->purge_at_ms))
        diff_free(d, "purge_at", time_text(want, true), time_text(a->purge_at_ms, false));
    if (p->complete)
        compare_classes(d, p, a);
}

size_t audit_expect_compare(struct audit_expect *x, const struct person *a, audit_diff_cb cb,
                            void *opaque)
{
    struct differ d = {a->record_uid, cb, opaque, 0};
    struct exp_person *p = strmap_get(x->persons, a->record_uid);
    x->checked++;
    if (p && p->seen) {
        /* Two entries with one record_uid: the second is one too many. */
        diff(&d, "account", "one account", a->dn);
        return d.n;
    }
    if (p)
        p->seen = true;
    if (!p || p->state == EXP_UNKNOWN)
        diff(&d, "account", "none (not in the topic history)", a->dn);
    else if (p->state == EXP_DELETED)
        diff(&d, "account", "none (deleted)", a->dn);
    else
        compare_fields(&d, p, a);
    return d.n;
}

static int cmp_person(const void *a, const void *b)
{
    const struct exp_person *x = *(struct exp_person *const *)a;
    const struct exp_person *y = *(struct exp_person *const *)b;
    int c = strcasecmp(x->record_uid, y->record_uid);
    return c ? c : strcmp(x->record_uid, y->record_uid);
}

size_t audit_expect_missing(struct audit_expect *x, audit_diff_cb cb, void *opaque)
{
    size_t n, missing = 0;
    struct exp_person **v = (struct exp_person **)strmap_values(x->persons, &n);
    for (size_t i = 0; i < n; i++) {
        if (!v[i]->seen && (v[i]->state == EXP_ACTIVE || v[i]->state == EXP_LIMBO))
            v[missing++] = v[i];
    }
    if (missing > 1)
        qsort(v, missing, sizeof(*v), cmp_person);
    for (size_t i = 0; i < missing; i++) {
        struct differ d = {v[i]->record_uid, cb, opaque, 0};
        diff(&d, "account", v[i]->dn ? v[i]->dn : "an account", "none");
        x->checked++;
    }
    free(v);
    return missing;
}

size_t audit_expect_checked(const struct audit_expect *x)
{
    return x->checked;
}
