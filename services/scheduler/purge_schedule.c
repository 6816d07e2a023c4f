/*
 * purge_schedule: a chained hash table of nodes keyed by the ASCII-lower-cased record_uid.
 * Finding the due orders scans every node: the table holds the accounts in limbo (thousands),
 * and the scheduler asks at most a few times a second.
 */
#include "purge_schedule.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strutil.h"

struct node {
    struct node *next;
    char *record_uid;
    uint64_t hash;
    int64_t purge_at_ms;
    int64_t emitted_at_ms; /* 0: not emitted for this date */
    unsigned sweep;        /* the last sweep that found it */
};

struct purge_schedule {
    struct node **buckets;
    size_t cap; /* a power of two */
    size_t count;
    int64_t reemit_ms;
    unsigned sweep;
};

struct purge_schedule *purge_schedule_new(int64_t reemit_ms)
{
    struct purge_schedule *s = xcalloc(1, sizeof(*s));
    s->cap = 256;
    s->buckets = xcalloc(s->cap, sizeof(*s->buckets));
    s->reemit_ms = reemit_ms;
    return s;
}

void purge_schedule_free(struct purge_schedule *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++) {
        for (struct node *n = s->buckets[i], *next; n; n = next) {
            next = n->next;
            free(n->record_uid);
            free(n);
        }
    }
    free(s->buckets);
    free(s);
}

static struct node **find(const struct purge_schedule *s, const char *record_uid, uint64_t h)
{
    struct node **p = &s->buckets[h & (s->cap - 1)];
    while (*p && !((*p)->hash == h && strcasecmp((*p)->record_uid, record_uid) == 0))
        p = &(*p)->next;
    return p;
}

static void grow(struct purge_schedule *s)
{
    size_t cap = s->cap * 2;
    struct node **b = xcalloc(cap, sizeof(*b));
    for (size_t i = 0; i < s->cap; i++) {
        for (struct node *n = s->buckets[i], *next; n; n = next) {
            next = n->next;
            n->next = b[n->hash & (cap - 1)];
            b[n->hash & (cap - 1)] = n;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->cap = cap;
}

void purge_schedule_set(struct purge_schedule *s, const char *record_uid, int64_t purge_at_ms)
{
    uint64_t h = str_hash_ci(record_uid);
    struct node **p = find(s, record_uid, h);
    if (!*p) {
        if (s->count + 1 > s->cap) {
            grow(s);
            p = find(s, record_uid, h);
        }
        struct node *n = xcalloc(1, sizeof(*n));
        n->record_uid = xstrdup(record_uid);
        n->hash = h;
        n->purge_at_ms = purge_at_ms;
        *p = n;
        s->count++;
    } else if ((*p)->purge_at_ms != purge_at_ms) {
        (*p)->purge_at_ms = purge_at_ms;
        (*p)->emitted_at_ms = 0;
    }
    (*p)->sweep = s->sweep;
}

static void unlink_node(struct purge_schedule *s, struct node **p)
{
    struct node *n = *p;
    *p = n->next;
    free(n->record_uid);
    free(n);
    s->count--;
}

bool purge_schedule_remove(struct purge_schedule *s, const char *record_uid)
{
    struct node **p = find(s, record_uid, str_hash_ci(record_uid));
    if (!*p)
        return false;
    unlink_node(s, p);
    return true;
}

bool purge_schedule_apply_event(struct purge_schedule *s, const struct event *e)
{
    if (e->dry_run || !e->record_uid)
        return false;
    switch (e->type) {
    case EVENT_MOVED_TO_LIMBO:
        if (e->purge_at_ms <= 0)
            return false;
        if (purge_schedule_get(s, e->record_uid) == e->purge_at_ms)
            return false;
        purge_schedule_set(s, e->record_uid, e->purge_at_ms);
        return true;
    case EVENT_CREATED:
    case EVENT_REACTIVATED:
    case EVENT_DELETED:
        return purge_schedule_remove(s, e->record_uid);
    default:
        return false;
    }
}

static int64_t due_at(const struct purge_schedule *s, const struct node *n)
{
    if (!n->emitted_at_ms)
        return n->purge_at_ms;
    int64_t again = n->emitted_at_ms + s->reemit_ms;
    return again > n->purge_at_ms ? again : n->purge_at_ms;
}

static int cmp_due(const void *a, const void *b)
{
    const struct node *x = *(struct node *const *)a, *y = *(struct node *const *)b;
    if (x->purge_at_ms != y->purge_at_ms)
        return x->purge_at_ms < y->purge_at_ms ? -1 : 1;
    return strcmp(x->record_uid, y->record_uid);
}

int purge_schedule_take_due(struct purge_schedule *s, int64_t now_ms, purge_schedule_cb cb,
                            void *opaque, size_t *taken)
{
    size_t n = 0;
    struct node **due = NULL;
    for (size_t i = 0; i < s->cap; i++) {
        for (struct node *x = s->buckets[i]; x; x = x->next) {
            if (due_at(s, x) <= now_ms) {
                due = xrealloc(due, (n + 1) * sizeof(*due));
                due[n++] = x;
            }
        }
    }
    if (n > 1)
        qsort(due, n, sizeof(*due), cmp_due);
    int rc = 0;
    size_t done = 0;
    for (; done < n; done++) {
        rc = cb(due[done]->record_uid, due[done]->purge_at_ms, opaque);
        if (rc)
            break;
        due[done]->emitted_at_ms = now_ms;
    }
    free(due);
    if (taken)
        *taken = done;
    return rc;
}

int64_t purge_schedule_next_due(const struct purge_schedule *s)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < s->cap; i++) {
        for (const struct node *x = s->buckets[i]; x; x = x->next) {
            int64_t t = due_at(s, x);
            if (t < next)
                next = t;
        }
    }
    return next;
}

void purge_schedule_sweep_begin(struct purge_schedule *s)
{
    s->sweep++;
}

size_t purge_schedule_sweep_end(struct purge_schedule *s)
{
    size_t gone = 0;
    for (size_t i = 0; i < s->cap; i++) {
        struct node **p = &s->buckets[i];
        while (*p) {
            if ((*p)->sweep != s->sweep && (*p)->emitted_at_ms) {
                unlink_node(s, p);
                gone++;
            } else {
                p = &(*p)->next;
            }
        }
    }
    return gone;
}

size_t purge_schedule_size(const struct purge_schedule *s)
{
    return s->count;
}

size_t purge_schedule_count_due(const struct purge_schedule *s, int64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < s->cap; i++) {
        for (const struct node *x = s->buckets[i]; x; x = x->next)
            n += x->purge_at_ms <= now_ms;
    }
    return n;
}

int64_t purge_schedule_get(const struct purge_schedule *s, const char *record_uid)
{
    struct node **p = find(s, record_uid, str_hash_ci(record_uid));
    return *p ? (*p)->purge_at_ms : 0;
}
