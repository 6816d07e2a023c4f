/*
 * attr_list: sorted attribute sets and their differences.
 */
#include "attr_list.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strutil.h"

static size_t find_pos(const struct attr_list *l, const char *name, bool *found)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcasecmp(l->v[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void free_values(struct attr_values *a)
{
    for (size_t i = 0; i < a->n_values; i++)
        free(a->values[i]);
    free(a->values);
    a->values = NULL;
    a->n_values = 0;
}

void attr_list_set(struct attr_list *l, const char *name, const char *const *values, size_t n)
{
    bool found;
    size_t pos = find_pos(l, name, &found);
    if (found) {
        free_values(&l->v[pos]);
        if (n == 0) {
            free(l->v[pos].name);
            memmove(&l->v[pos], &l->v[pos + 1], (l->n - pos - 1) * sizeof(*l->v));
            l->n--;
            return;
        }
    } else {
        if (n == 0)
            return;
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 8;
            l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
        }
        memmove(&l->v[pos + 1], &l->v[pos], (l->n - pos) * sizeof(*l->v));
        l->n++;
        l->v[pos].name = xstrdup(name);
    }
    l->v[pos].values = xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        l->v[pos].values[i] = xstrdup(values[i]);
    l->v[pos].n_values = n;
}

void attr_list_set1(struct attr_list *l, const char *name, const char *value)
{
    attr_list_set(l, name, &value, value ? 1 : 0);
}

void attr_list_add_value(struct attr_list *l, const char *name, const char *value)
{
    bool found;
    size_t pos = find_pos(l, name, &found);
    if (!found) {
        attr_list_set1(l, name, value);
        return;
    }
    struct attr_values *a = &l->v[pos];
    for (size_t i = 0; i < a->n_values; i++) {
        if (strcmp(a->values[i], value) == 0)
            return;
    }
    a->values = xrealloc(a->values, (a->n_values + 1) * sizeof(char *));
    a->values[a->n_values++] = xstrdup(value);
}

const struct attr_values *attr_list_get(const struct attr_list *l, const char *name)
{
    bool found;
    size_t pos = find_pos(l, name, &found);
    return found ? &l->v[pos] : NULL;
}

void attr_list_copy(struct attr_list *dst, const struct attr_values *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        attr_list_set(dst, v[i].name, (const char *const *)v[i].values, v[i].n_values);
}

void attr_list_free(struct attr_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free_values(&l->v[i]);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* Same values, in any order (value sets are small: quadratic is fine). */
static bool same_values(const struct attr_values *a, const struct attr_values *b)
{
    if (a->n_values != b->n_values)
        return false;
    for (size_t i = 0; i < a->n_values; i++) {
        bool hit = false;
        for (size_t j = 0; j < b->n_values && !hit; j++)
            hit = strcmp(a->values[i], b->values[j]) == 0;
        if (!hit)
            return false;
    }
    return true;
}

size_t attr_list_diff(const struct attr_values *from, size_t n_from, const struct attr_values *to,
                      size_t n_to, struct attr_change **out)
{
    struct attr_change *c = xcalloc(n_from + n_to + 1, sizeof(*c));
    size_t n = 0, i = 0, j = 0;
    while (i < n_from || j < n_to) {
        int cmp = i == n_from ? 1 : j == n_to ? -1 : strcasecmp(from[i].name, to[j].name);
        if (cmp < 0) {
            c[n++] = (struct attr_change){from[i].name, NULL, 0};
            i++;
        } else if (cmp > 0) {
            c[n++] =
                (struct attr_change){to[j].name, (const char *const *)to[j].values, to[j].n_values};
            j++;
        } else {
            if (!same_values(&from[i], &to[j]))
                c[n++] = (struct attr_change){to[j].name, (const char *const *)to[j].values,
                                              to[j].n_values};
            i++;
            j++;
        }
    }
    *out = c;
    return n;
}
