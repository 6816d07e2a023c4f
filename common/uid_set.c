/*
 * uid_set: open addressing with linear probing, FNV-1a over the ASCII-lower-cased key.
 */
#include "uid_set.h"

#include <stdlib.h>
#include <strings.h>

#include "strutil.h"

struct uid_entry {
    char *uid; /* NULL: empty slot */
    uint64_t hash;
    int64_t line;
};

struct uid_set {
    struct uid_entry *slots;
    size_t cap; /* a power of two */
    size_t count;
};

struct uid_set *uid_set_new(void)
{
    struct uid_set *s = xcalloc(1, sizeof(*s));
    s->cap = 1024;
    s->slots = xcalloc(s->cap, sizeof(*s->slots));
    return s;
}

static struct uid_entry *find_slot(struct uid_entry *slots, size_t cap, const char *uid, uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    while (slots[i].uid && !(slots[i].hash == h && strcasecmp(slots[i].uid, uid) == 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static void grow(struct uid_set *s)
{
    size_t cap = s->cap * 2;
    struct uid_entry *slots = xcalloc(cap, sizeof(*slots));
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i].uid)
            *find_slot(slots, cap, s->slots[i].uid, s->slots[i].hash) = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
}

int64_t uid_set_add(struct uid_set *s, const char *uid, int64_t line)
{
    uint64_t h = str_hash_ci(uid);
    struct uid_entry *e = find_slot(s->slots, s->cap, uid, h);
    if (e->uid)
        return e->line;
    e->uid = xstrdup(uid);
    e->hash = h;
    e->line = line;
    /* Keep the load under 70 % so probe runs stay short. */
    if (++s->count * 10 > s->cap * 7)
        grow(s);
    return 0;
}

bool uid_set_has(const struct uid_set *s, const char *uid)
{
    return find_slot(s->slots, s->cap, uid, str_hash_ci(uid))->uid != NULL;
}

int64_t uid_set_get(const struct uid_set *s, const char *uid)
{
    const struct uid_entry *e = find_slot(s->slots, s->cap, uid, str_hash_ci(uid));
    return e->uid ? e->line : 0;
}

void uid_set_each_line(const struct uid_set *s,
                       void (*cb)(const char *uid, int64_t line, void *opaque), void *opaque)
{
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i].uid)
            cb(s->slots[i].uid, s->slots[i].line, opaque);
    }
}

void uid_set_each(const struct uid_set *s, void (*cb)(const char *uid, void *opaque), void *opaque)
{
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i].uid)
            cb(s->slots[i].uid, opaque);
    }
}

size_t uid_set_count(const struct uid_set *s)
{
    return s->count;
}

void uid_set_free(struct uid_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i].uid);
    free(s->slots);
    free(s);
}
