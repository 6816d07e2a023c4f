/*
 * school_template: the entries of a school from deploy/ldap/school.ldif.in, and the school
 * name rules. The template stays the one description of a school: the LDAP image's entry point
 * renders the same file, and a unit test holds it to the reconciler's dir_layout.
 */
#include "school_template.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dir_escape.h"
#include "strutil.h"

int school_name_check(const char *name, const char *limbo_ou, char *err, size_t n)
{
    size_t len = strlen(name);
    if (len == 0 || len > 64) {
        snprintf(err, n, "\"%.80s\": a school name has 1 to 64 characters", name);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        bool edge = i == 0 || i == len - 1;
        if (!isascii(c) || !(isalnum(c) || (!edge && (c == '_' || c == '-')))) {
            snprintf(err, n,
                     "\"%.80s\" is not a valid school name: ASCII letters, digits, \"_\" and "
                     "\"-\", starting and ending with a letter or digit",
                     name);
            return -1;
        }
    }
    if (limbo_ou && strcasecmp(name, limbo_ou) == 0) {
        snprintf(err, n, "\"%s\" is the limbo OU (import.limbo_ou \"%s\"), not a school", name,
                 limbo_ou);
        return -1;
    }
    return 0;
}

int school_display_name_check(const char *s, char *err, size_t n)
{
    size_t len = strlen(s);
    if (len == 0 || len > 256) {
        snprintf(err, n, "--display-name: 1 to 256 bytes");
        return -1;
    }
    if (!str_utf8_valid(s, len)) {
        snprintf(err, n, "--display-name: not valid UTF-8");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            snprintf(err, n, "--display-name: control characters are not allowed");
            return -1;
        }
    }
    if (s[0] == ' ' || s[len - 1] == ' ') {
        snprintf(err, n, "--display-name: no leading or trailing spaces");
        return -1;
    }
    return 0;
}

void school_entries_free(struct school_entries *e)
{
    for (size_t i = 0; i < e->n; i++) {
        struct school_entry *x = &e->v[i];
        free(x->dn);
        for (size_t k = 0; k < x->n; k++) {
            free(x->attrs[k]);
            free(x->values[k]);
        }
        free(x->attrs);
        free(x->values);
    }
    free(e->v);
    e->v = NULL;
    e->n = 0;
}

/* The value of placeholder key (without the "@"), or NULL when it has none. */
static const char *param(const struct school_params *p, const char *key, size_t len, char *lower)
{
    static const char *const containers[4] = {"CONTAINER_STUDENT", "CONTAINER_TEACHER",
                                              "CONTAINER_STAFF", "CONTAINER_TEACHER_AND_STAFF"};
#define IS(k) (len == strlen(k) && memcmp(key, k, len) == 0)
    if (IS("SCHOOL"))
        return p->name;
    if (IS("school_lower"))
        return lower;
    if (IS("BASE"))
        return p->base;
    if (IS("DISPLAY_NAME"))
        return p->display_name ? p->display_name : p->name;
    for (int r = 0; r < 4; r++) {
        if (IS(containers[r]))
            return p->containers[r];
    }
#undef IS
    return NULL;
}

/* text with every @KEY@ replaced; in a DN (dn) escaped as a DN value, except BASE, which is
 * a DN itself. NULL with err when a placeholder has no value. */
static char *substitute(const char *text, const struct school_params *p, char *lower, bool dn,
                        int line, char *err, size_t n)
{
    char *out = xstrdup("");
    const char *s = text;
    for (;;) {
        const char *at = strchr(s, '@');
        const char *end = at ? strchr(at + 1, '@') : NULL;
        if (!at || !end) {
            xappendf(&out, "%s", s);
            return out;
        }
        size_t klen = (size_t)(end - at - 1);
        const char *v = param(p, at + 1, klen, lower);
        if (!v) {
            snprintf(err, n, "school template line %d: placeholder @%.*s@ has no value", line,
                     (int)klen, at + 1);
            free(out);
            return NULL;
        }
        bool escape = dn && !(klen == 4 && memcmp(at + 1, "BASE", 4) == 0);
        char *e = escape ? dir_escape_dn_value(v) : xstrdup(v);
        xappendf(&out, "%.*s%s", (int)(at - s), s, e);
        free(e);
        s = end + 1;
    }
}

static void entry_add(struct school_entry *e, char *attr, char *value)
{
    e->attrs = xrealloc(e->attrs, (e->n + 1) * sizeof(*e->attrs));
    e->values = xrealloc(e->values, (e->n + 1) * sizeof(*e->values));
    e->attrs[e->n] = attr;
    e->values[e->n++] = value;
}

int school_entries_build(const char *template_text, const struct school_params *p,
                         struct school_entries *out, char *err, size_t n)
{
    memset(out, 0, sizeof(*out));
    char *lower = xstrdup(p->name);
    for (char *c = lower; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    char *copy = xstrdup(template_text);
    struct school_entry *cur = NULL;
    int line = 0, rc = -1;
    char *save = NULL;
    /* strtok_r would skip empty lines, which end entries: split by hand. */
    for (char *l = copy; l; l = save) {
        char *nl = strchr(l, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        line++;
        if (l[0] == '#')
            continue;
        if (l[0] == '\0') {
            cur = NULL;
            continue;
        }
        char *colon = strstr(l, ": ");
        if (!colon || colon == l || colon[2] == ' ' || colon[2] == ':' || l[0] == ' ') {
            snprintf(err, n, "school template line %d: expected \"attribute: value\"", line);
            goto out;
        }
        *colon = '\0';
        bool is_dn = strcasecmp(l, "dn") == 0;
        char *value = substitute(colon + 2, p, lower, is_dn, line, err, n);
        if (!value)
            goto out;
        if (is_dn) {
            out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
            cur = &out->v[out->n++];
            memset(cur, 0, sizeof(*cur));
            cur->dn = value;
        } else if (!cur) {
            free(value);
            snprintf(err, n, "school template line %d: an attribute before any \"dn:\"", line);
            goto out;
        } else {
            entry_add(cur, xstrdup(l), value);
        }
    }
    if (out->n == 0)
        snprintf(err, n, "school template: no entries");
    else
        rc = 0;
out:
    if (rc < 0)
        school_entries_free(out);
    free(copy);
    free(lower);
    return rc;
}
