/*
 * import_fields: value rules of the CSV import.
 */
#include "import_fields.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "password.h"
#include "strutil.h"
#include "text_norm.h"

#define EMAIL_MAX_CHARS 254

void import_fields_free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void push(char ***v, size_t *n, size_t *cap, char *s)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *v = xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = s;
}

size_t import_fields_split(const char *cell, const char *delim, char ***items)
{
    size_t n = 0, cap = 0, dl = delim ? strlen(delim) : 0;
    *items = NULL;
    const char *p = cell;
    for (;;) {
        const char *end = dl ? strstr(p, delim) : NULL;
        size_t len = end ? (size_t)(end - p) : strlen(p);
        size_t off, tn;
        text_norm_trim_span(p, len, &off, &tn);
        if (tn > 0)
            push(items, &n, &cap, xstrndup(p + off, tn));
        if (!end)
            break;
        p = end + dl;
    }
    return n;
}

bool import_fields_same_school(const char *value, const char *school)
{
    char *a = text_norm_class_part(value, ""), *b = text_norm_class_part(school, "");
    bool same = strcasecmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}

static int cmp_bytes(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Drops case-insensitive duplicates (the first spelling stays), then sorts with strcmp. */
static size_t sort_unique(char **v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcasecmp(v[i], v[j]) == 0;
        if (dup)
            free(v[i]);
        else
            v[k++] = v[i];
    }
    if (k > 1)
        qsort(v, k, sizeof(*v), cmp_bytes);
    return k;
}

/* One item of a class cell -> "<school>-<class>", or NULL with errstr. */
static char *one_class(const char *item, const char *school, const char *replacement, char *errstr,
                       size_t errstr_size)
{
    const char *dash = strchr(item, '-');
    char *name = NULL, *out = NULL;
    if (dash) {
        char *sch = text_norm_trim(xstrndup(item, (size_t)(dash - item)));
        name = text_norm_trim(xstrdup(dash + 1));
        if (!*name)
            snprintf(errstr, errstr_size, "class \"%s\": no class name after the \"-\"", item);
        else if (!*sch)
            snprintf(errstr, errstr_size, "class \"%s\": no school before the \"-\"", item);
        else if (!import_fields_same_school(sch, school))
            snprintf(errstr, errstr_size,
                     "class \"%s\" belongs to school \"%s\", but this import is for school "
                     "\"%s\" (if the \"-\" is part of the class name, write \"%s-%s\")",
                     item, sch, school, school, item);
        bool bad = !*name || !*sch || !import_fields_same_school(sch, school);
        free(sch);
        if (bad)
            goto out;
    } else {
        name = xstrdup(item);
    }
    char *norm = text_norm_class_part(name, replacement);
    out = xasprintf("%s-%s", school, norm);
    free(norm);
out:
    free(name);
    return out;
}

int import_fields_classes(const char *cell, const char *delim, const char *school,
                          const char *replacement, char ***classes, size_t *n, char *errstr,
                          size_t errstr_size)
{
    char **items = NULL;
    size_t ni = import_fields_split(cell, delim, &items);
    int rc = -1;
    *classes = NULL;
    *n = 0;
    for (size_t i = 0; i < ni; i++) {
        char *c = one_class(items[i], school, replacement ? replacement : "", errstr, errstr_size);
        if (!c)
            goto out;
        free(items[i]);
        items[i] = c;
    }
    *n = sort_unique(items, ni);
    *classes = *n ? items : NULL;
    if (!*n)
        free(items);
    items = NULL;
    ni = 0;
    rc = 0;
out:
    import_fields_free_strv(items, ni);
    return rc;
}

/* Reads 1..max digits at *p; returns the number or -1. */
static int digits(const char **p, int min, int max, int *ndigits)
{
    int v = 0, k = 0;
    while (k < max && **p >= '0' && **p <= '9') {
        v = v * 10 + (**p - '0');
        (*p)++;
        k++;
    }
    if (ndigits)
        *ndigits = k;
    return k >= min ? v : -1;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int split_date(const char *in, int current_year, int *y, int *m, int *d)
{
    const char *p = in;
    int a = digits(&p, 1, 4, NULL), yd = 0;
    if (a < 0)
        return -1;
    if (*p == '-' && p - in == 4) { /* yyyy-mm-dd */
        p++;
        const char *q = p;
        *y = a;
        *m = digits(&p, 2, 2, NULL);
        if (*p++ != '-' || p - q != 3)
            return -1;
        *d = digits(&p, 2, 2, NULL);
    } else if ((*p == '.' || *p == '/') && p - in <= 2) {
        char sep = *p++;
        int b = digits(&p, 1, 2, NULL);
        if (b < 0 || *p++ != sep)
            return -1;
        *y = digits(&p, 2, 4, &yd);
        if (yd == 3)
            return -1;
        if (yd == 2)
            *y += *y <= current_year % 100 ? 2000 : 1900;
        *d = sep == '.' ? a : b;
        *m = sep == '.' ? b : a;
    } else {
        return -1;
    }
    return *p || *y < 0 || *m < 0 || *d < 0 ? -1 : 0;
}

int import_fields_birthday(const char *in, int current_year, char out[11], char *errstr,
                           size_t errstr_size)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (split_date(in, current_year, &y, &m, &d) < 0) {
        snprintf(errstr, errstr_size,
                 "birthday \"%s\" is not a date as yyyy-mm-dd, dd.mm.yyyy, dd.mm.yy, "
                 "mm/dd/yyyy or mm/dd/yy",
                 in);
        return -1;
    }
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap(y))) {
        snprintf(errstr, errstr_size, "birthday \"%s\": there is no day %02d of month %02d in %d",
                 in, d, m, y);
        return -1;
    }
    if (y < 1900 || y > current_year) {
        snprintf(errstr, errstr_size, "birthday \"%s\": the year %d is not between 1900 and %d", in,
                 y, current_year);
        return -1;
    }
    /* The ranges above make it exactly 10 characters; the big buffer keeps gcc sure of it. */
    char buf[40];
    snprintf(buf, sizeof(buf), "%04d-%02d-%02d", y, m, d);
    memcpy(out, buf, 11);
    return 0;
}

char *import_fields_email(const char *in, char *errstr, size_t errstr_size)
{
    size_t len = strlen(in), o = 0;
    char *s = xmalloc(len + 1);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = text_norm_utf8_next(in + i, len - i, &cp);
        if (!text_norm_is_space(cp)) {
            memcpy(s + o, in + i, k);
            o += k;
        }
        i += k;
    }
    s[o] = '\0';
    if (!*s)
        return s;
    const char *at = strchr(s, '@');
    const char *dot = at && at > s && at[1] ? strchr(at + 2, '.') : NULL;
    if (!dot || !dot[1]) {
        snprintf(errstr, errstr_size, "email \"%s\" is not an address like name@example.org", s);
        free(s);
        return NULL;
    }
    if (text_norm_utf8_length(s) > EMAIL_MAX_CHARS) {
        snprintf(errstr, errstr_size, "email is longer than %d characters", EMAIL_MAX_CHARS);
        free(s);
        return NULL;
    }
    return s;
}

char *import_fields_hash_password(const char *password, char *errstr, size_t errstr_size)
{
    return password_hash(password, errstr, errstr_size);
}
