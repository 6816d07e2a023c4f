/*
 * person: owning, copying and comparing struct person.
 */
#include "person.h"

#include <stdlib.h>
#include <string.h>

#include "strutil.h"

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void person_free(struct person *p)
{
    if (!p)
        return;
    free(p->record_uid);
    free(p->source_uid);
    free(p->dn);
    free(p->username);
    free(p->primary_school);
    free_strv(p->schools, p->n_schools);
    for (size_t i = 0; i < p->n_classes; i++) {
        free(p->classes[i].school);
        free_strv(p->classes[i].classes, p->classes[i].n_classes);
    }
    free(p->classes);
    for (size_t i = 0; i < p->n_attrs; i++) {
        free(p->attrs[i].name);
        free_strv(p->attrs[i].values, p->attrs[i].n_values);
    }
    free(p->attrs);
    memset(p, 0, sizeof(*p));
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static char **dup_strv(char *const *v, size_t n)
{
    if (!n)
        return NULL;
    char **out = xcalloc(n, sizeof(*out));
    for (size_t i = 0; i < n; i++)
        out[i] = dup_or_null(v[i]);
    return out;
}

void person_copy(struct person *dst, const struct person *src)
{
    *dst = *src;
    dst->record_uid = dup_or_null(src->record_uid);
    dst->source_uid = dup_or_null(src->source_uid);
    dst->dn = dup_or_null(src->dn);
    dst->username = dup_or_null(src->username);
    dst->primary_school = dup_or_null(src->primary_school);
    dst->schools = dup_strv(src->schools, src->n_schools);
    dst->classes = src->n_classes ? xcalloc(src->n_classes, sizeof(*dst->classes)) : NULL;
    for (size_t i = 0; i < src->n_classes; i++) {
        dst->classes[i].school = dup_or_null(src->classes[i].school);
        dst->classes[i].classes = dup_strv(src->classes[i].classes, src->classes[i].n_classes);
        dst->classes[i].n_classes = src->classes[i].n_classes;
    }
    dst->attrs = src->n_attrs ? xcalloc(src->n_attrs, sizeof(*dst->attrs)) : NULL;
    for (size_t i = 0; i < src->n_attrs; i++) {
        dst->attrs[i].name = dup_or_null(src->attrs[i].name);
        dst->attrs[i].values = dup_strv(src->attrs[i].values, src->attrs[i].n_values);
        dst->attrs[i].n_values = src->attrs[i].n_values;
    }
}

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_eq(a[i], b[i]))
            return false;
    return true;
}

bool person_equal(const struct person *a, const struct person *b)
{
    if (!str_eq(a->record_uid, b->record_uid) || !str_eq(a->source_uid, b->source_uid) ||
        a->role != b->role || !str_eq(a->dn, b->dn) || !str_eq(a->username, b->username) ||
        !str_eq(a->primary_school, b->primary_school) || a->limbo != b->limbo ||
        a->purge_at_ms != b->purge_at_ms || a->updated_offset != b->updated_offset ||
        !strv_eq(a->schools, a->n_schools, b->schools, b->n_schools) ||
        a->n_classes != b->n_classes || a->n_attrs != b->n_attrs)
        return false;
    for (size_t i = 0; i < a->n_classes; i++)
        if (!str_eq(a->classes[i].school, b->classes[i].school) ||
            !strv_eq(a->classes[i].classes, a->classes[i].n_classes, b->classes[i].classes,
                     b->classes[i].n_classes))
            return false;
    for (size_t i = 0; i < a->n_attrs; i++)
        if (!str_eq(a->attrs[i].name, b->attrs[i].name) ||
            !strv_eq(a->attrs[i].values, a->attrs[i].n_values, b->attrs[i].values,
                     b->attrs[i].n_values))
            return false;
    return true;
}
