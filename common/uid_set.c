/*
 * uid_set: a case-folding strmap whose values are the lines (any int64 > 0, kept in the pointer).
 */
#include "uid_set.h"

#include <stdint.h>

#include "strmap.h"

_Static_assert(sizeof(void *) >= sizeof(int64_t), "uid_set keeps a line in a pointer");

struct uid_set *uid_set_new(void)
{
    return (struct uid_set *)strmap_new(true);
}

static struct strmap *map(const struct uid_set *s)
{
    return (struct strmap *)s;
}

int64_t uid_set_add(struct uid_set *s, const char *uid, int64_t line)
{
    bool created;
    void **v = strmap_slot(map(s), uid, &created);
    if (!created)
        return (int64_t)(intptr_t)*v;
    *v = (void *)(intptr_t)line;
    return 0;
}

bool uid_set_has(const struct uid_set *s, const char *uid)
{
    return strmap_get(map(s), uid) != NULL;
}

int64_t uid_set_get(const struct uid_set *s, const char *uid)
{
    return (int64_t)(intptr_t)strmap_get(map(s), uid);
}

struct each_ctx {
    void (*uid)(const char *uid, void *opaque);
    void (*line)(const char *uid, int64_t line, void *opaque);
    void *opaque;
};

static void each_one(const char *key, void *value, void *opaque)
{
    struct each_ctx *c = opaque;
    if (c->uid)
        c->uid(key, c->opaque);
    else
        c->line(key, (int64_t)(intptr_t)value, c->opaque);
}

void uid_set_each_line(const struct uid_set *s,
                       void (*cb)(const char *uid, int64_t line, void *opaque), void *opaque)
{
    struct each_ctx c = {.line = cb, .opaque = opaque};
    strmap_each(map(s), each_one, &c);
}

void uid_set_each(const struct uid_set *s, void (*cb)(const char *uid, void *opaque), void *opaque)
{
    struct each_ctx c = {.uid = cb, .opaque = opaque};
    strmap_each(map(s), each_one, &c);
}

size_t uid_set_count(const struct uid_set *s)
{
    return strmap_count(map(s));
}

void uid_set_free(struct uid_set *s)
{
    strmap_free(map(s), NULL);
}
