/*
 * state_fixtures: the persons the state store and state codec tests build. Header-only: each
 * unit test is one executable.
 */
#ifndef SISOPI_TEST_STATE_FIXTURES_H
#define SISOPI_TEST_STATE_FIXTURES_H

#include <string.h>

#include "state_store.h"
#include "strutil.h"

#define SID "sisdb"

/* A heap array of the non-NULL ones of a and b; *n gets its length. */
static inline char **strv2(const char *a, const char *b, size_t *n)
{
    char **v = xcalloc(2, sizeof(char *));
    *n = 0;
    if (a)
        v[(*n)++] = xstrdup(a);
    if (b)
        v[(*n)++] = xstrdup(b);
    return v;
}

/* A person with the schools s1, s2 (each may be NULL), no classes. */
static inline void mk_person(struct person *p, const char *rid, enum role role, const char *s1,
                             const char *s2)
{
    memset(p, 0, sizeof(*p));
    p->record_uid = xstrdup(rid);
    p->source_uid = xstrdup(SID);
    p->role = role;
    p->schools = strv2(s1, s2, &p->n_schools);
    p->primary_school = p->n_schools ? xstrdup(p->schools[0]) : NULL;
    p->username = xasprintf("u.%s", rid);
}

#endif
