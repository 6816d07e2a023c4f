/*
 * strmap: open addressing with linear probing, FNV-1a over the (folded) key; the load stays
 * under 70 % so probe runs stay short.
 */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strutil.h"

struct slot {
    char *key; /* NULL: empty */
    uint64_t hash;
    void *value;
};

struct strmap {
    struct slot *slots;
    size_t cap; /* a power of two */
    size_t count;
    bool fold;
};

static uint64_t hash_key(const char *s, bool fold)
{
    if (fold)
        return str_hash_ci(s); /* the same folding as the state keys */
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static bool key_eq(const struct strmap *m, const char *a, const char *b)
{
    return m->fold ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

struct strmap *strmap_new(bool fold_case)
{
    struct strmap *m = xcalloc(1, sizeof(*m));
    m->cap = 256;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    m->fold = fold_case;
    return m;
}

static struct slot *find(const struct strmap *m, struct slot *slots, size_t cap, const char *key,
                         uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    while (slots[i].key && !(slots[i].hash == h && key_eq(m, slots[i].key, key)))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static void grow(struct strmap *m)
{
    size_t cap = m->cap * 2;
    struct slot *slots = xcalloc(cap, sizeof(*slots));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key)
            *find(m, slots, cap, m->slots[i].key, m->slots[i].hash) = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

void *strmap_get(const struct strmap *m, const char *key)
{
    struct slot *s = find(m, m->slots, m->cap, key, hash_key(key, m->fold));
    return s->key ? s->value : NULL;
}

void **strmap_slot(struct strmap *m, const char *key, bool *created)
{
    uint64_t h = hash_key(key, m->fold);
    if ((m->count + 1) * 10 > m->cap * 7)
        grow(m);
    struct slot *s = find(m, m->slots, m->cap, key, h);
    if (created)
        *created = s->key == NULL;
    if (!s->key) {
        s->key = xstrdup(key);
        s->hash = h;
        s->value = NULL;
        m->count++;
    }
    return &s->value;
}

void strmap_each(const struct strmap *m, void (*cb)(const char *key, void *value, void *op),
                 void *opaque)
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key)
            cb(m->slots[i].key, m->slots[i].value, opaque);
    }
}

void **strmap_values(const struct strmap *m, size_t *n)
{
    void **v = xcalloc(m->count + 1, sizeof(void *));
    size_t k = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key)
            v[k++] = m->slots[i].value;
    }
    *n = k;
    return v;
}

size_t strmap_count(const struct strmap *m)
{
    return m->count;
}

void strmap_free(struct strmap *m, void (*free_value)(void *))
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key) {
            free(m->slots[i].key);
            if (free_value)
                free_value(m->slots[i].value);
        }
    }
    free(m->slots);
    free(m);
}
