/*
 * dir_schema: the subschema subentry's attributeTypes, parsed with libldap's RFC 4512 parser
 * (ldap_str2attributetype), kept as a case-insensitive set of names and OIDs.
 */
#include "dir_schema.h"

#include <ldap.h>
#include <ldap_schema.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir_entry.h"
#include "log.h"
#include "strutil.h"
#include "uid_set.h"

struct dir_schema {
    struct uid_set *names; /* ASCII case-insensitive, as LDAP compares descriptors */
    size_t attributes;
    size_t skipped;
    char *where; /* the subschema subentry's DN, for errors */
};

struct dir_schema *dir_schema_from_values(const char *const *values, size_t n, const char *where)
{
    struct dir_schema *s = xcalloc(1, sizeof(*s));
    s->names = uid_set_new();
    s->where = xstrdup(where ? where : "");
    for (size_t i = 0; i < n; i++) {
        int code = 0;
        const char *at_err = NULL;
        LDAPAttributeType *at =
            ldap_str2attributetype(values[i], &code, &at_err, LDAP_SCHEMA_ALLOW_ALL);
        if (!at) {
            s->skipped++;
            continue;
        }
        s->attributes++;
        if (at->at_oid)
            uid_set_add(s->names, at->at_oid, 1);
        for (char **nm = at->at_names; nm && *nm; nm++)
            uid_set_add(s->names, *nm, 1);
        ldap_attributetype_free(at);
    }
    return s;
}

bool dir_schema_has_attribute(const struct dir_schema *s, const char *name)
{
    return s && name && uid_set_has(s->names, name);
}

size_t dir_schema_attribute_count(const struct dir_schema *s)
{
    return s ? s->attributes : 0;
}

size_t dir_schema_skipped(const struct dir_schema *s)
{
    return s ? s->skipped : 0;
}

void dir_schema_free(struct dir_schema *s)
{
    if (!s)
        return;
    uid_set_free(s->names);
    free(s->where);
    free(s);
}

/* One base search's result: the values of one attribute of the entry, and how it ended. */
struct read_one {
    const char *attr;
    char **values;
    size_t n;
    int rc;
    char message[256];
};

static void on_entry(const struct dir_entry *e, void *opaque)
{
    struct read_one *r = opaque;
    const struct dir_attr *a = dir_entry_attr(e, r->attr);
    for (size_t i = 0; a && i < a->n; i++) {
        r->values = xrealloc(r->values, (r->n + 1) * sizeof(char *));
        r->values[r->n++] = xstrdup(a->values[i]);
    }
}

static void read_one_free(struct read_one *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->values[i]);
    free(r->values);
}

/* Reads attr of the entry dn (a base search); r->rc is the outcome. */
static void read_attr(struct dir_conn *c, const char *dn, const char *filter, const char *attr,
                      struct read_one *r)
{
    const char *attrs[] = {attr, NULL};
    memset(r, 0, sizeof(*r));
    r->attr = attr;
    r->rc = dir_conn_search_wait(c, dn, LDAP_SCOPE_BASE, filter, attrs, on_entry, r, NULL,
                                 r->message, sizeof(r->message));
}

int dir_schema_read(struct dir_conn *c, const char *base, struct dir_schema **out, char *err,
                    size_t n)
{
    *out = NULL;
    struct read_one sub, types;
    read_attr(c, base, "(objectClass=*)", "subschemaSubentry", &sub);
    if (sub.rc != LDAP_SUCCESS || sub.n == 0) {
        int rc = sub.rc != LDAP_SUCCESS ? sub.rc : LDAP_NO_SUCH_ATTRIBUTE;
        snprintf(err, n, "%s: reading subschemaSubentry of %s: %s%s%s", dir_conn_uri(c), base,
                 sub.rc != LDAP_SUCCESS ? ldap_err2string(sub.rc) : "the entry shows none",
                 sub.message[0] ? ": " : "", sub.message);
        read_one_free(&sub);
        return rc;
    }
    const char *dn = sub.values[0];
    read_attr(c, dn, "(objectClass=subschema)", "attributeTypes", &types);
    int rc = types.rc;
    if (rc == LDAP_SUCCESS && types.n == 0)
        rc = LDAP_NO_SUCH_ATTRIBUTE;
    if (rc != LDAP_SUCCESS) {
        snprintf(err, n, "%s: reading attributeTypes of %s: %s%s%s", dir_conn_uri(c), dn,
                 types.rc != LDAP_SUCCESS ? ldap_err2string(types.rc) : "the entry shows none",
                 types.message[0] ? ": " : "", types.message);
    } else {
        *out = dir_schema_from_values((const char *const *)types.values, types.n, dn);
    }
    read_one_free(&types);
    read_one_free(&sub);
    return rc;
}

int dir_schema_check_mapping(const struct dir_schema *s, const struct config *cfg, char *err,
                             size_t n)
{
    const struct csv_config *cc = &cfg->import.csv;
    for (size_t i = 0; i < cc->n_mapping; i++) {
        const struct csv_column_map *m = &cc->mapping[i];
        if (m->target != CSV_T_EXTRA || !m->attribute || dir_schema_has_attribute(s, m->attribute))
            continue;
        snprintf(err, n,
                 "%s:%d: import.csv.mapping[%zu]: column \"%s\": \"%s\" is not an attribute "
                 "type the directory knows (%s): misspelt? The directory would refuse every "
                 "record",
                 cfg->path ? cfg->path : "(config)", m->line, i + 1, m->column, m->attribute,
                 s->where);
        return -1;
    }
    return 0;
}

int dir_schema_check_directory(struct dir_conn *c, const struct config *cfg, char *err, size_t n)
{
    struct dir_schema *s = NULL;
    if (dir_schema_read(c, cfg->ldap.base, &s, err, n) != LDAP_SUCCESS) {
        if (dir_conn_is_down(c))
            return -1;
        log_kv(LEVEL_WARN, "schema_unreadable", "error", err, "msg",
               "the attributes of import.csv.mapping were not checked against the schema", NULL);
        return 0;
    }
    int bad = dir_schema_check_mapping(s, cfg, err, n);
    dir_schema_free(s);
    return bad < 0 ? -1 : 0;
}
