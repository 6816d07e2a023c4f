/*
 * person_ldap: entries to persons; classes joined from the class groups by member DN.
 */
#include "person_ldap.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "attr_list.h"
#include "dir_layout.h"
#include "strutil.h"

/* The personal attributes sisopi writes, besides the extra ones the CSV mapping names. */
static const char *const personal[] = {"givenName",      "sn", "cn", "displayName", "mail",
                                       "sisopiBirthday", NULL};

static bool is_personal(const struct config *cfg, const char *name)
{
    for (const char *const *p = personal; *p; p++) {
        if (strcasecmp(*p, name) == 0)
            return true;
    }
    const struct csv_config *cc = &cfg->import.csv;
    for (size_t i = 0; i < cc->n_mapping; i++) {
        if (cc->mapping[i].target == CSV_T_EXTRA && strcasecmp(cc->mapping[i].attribute, name) == 0)
            return true;
    }
    return false;
}

int person_ldap_role(const struct ldap_entry_info *e, enum role *out)
{
    const struct ldap_attr_info *oc = ldap_entry_attr(e, "objectClass");
    bool st = false, t = false, s = false;
    for (size_t i = 0; oc && i < oc->n; i++) {
        st |= strcasecmp(oc->values[i], "ucsschoolStudent") == 0;
        t |= strcasecmp(oc->values[i], "ucsschoolTeacher") == 0;
        s |= strcasecmp(oc->values[i], "ucsschoolStaff") == 0;
    }
    if (t && s)
        *out = ROLE_TEACHER_AND_STAFF;
    else if (t)
        *out = ROLE_TEACHER;
    else if (s)
        *out = ROLE_STAFF;
    else if (st)
        *out = ROLE_STUDENT;
    else
        return -1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int person_from_entry(const struct config *cfg, const struct ldap_entry_info *e, struct person *out,
                      char *err, size_t n)
{
    memset(out, 0, sizeof(*out));
    const char *sid = ldap_entry_value(e, "ucsschoolSourceUID");
    const char *rid = ldap_entry_value(e, "ucsschoolRecordUID");
    const char *uid = ldap_entry_value(e, "uid");
    if (!sid || !rid || !uid || person_ldap_role(e, &out->role) < 0) {
        snprintf(err, n, "%s: not a person sisopi manages", e->dn);
        return -1;
    }
    out->record_uid = xstrdup(rid);
    out->source_uid = xstrdup(sid);
    out->username = xstrdup(uid);
    out->dn = xstrdup(e->dn);
    out->limbo = ldap_entry_value(e, "pwdAccountLockedTime") != NULL;
    const char *purge = ldap_entry_value(e, "ucsschoolPurgeTimestamp");
    if (purge)
        layout_parse_generalized_time(purge, &out->purge_at_ms);
    const struct ldap_attr_info *schools = ldap_entry_attr(e, "ucsschoolSchool");
    const char *primary = ldap_entry_value(e, "departmentNumber");
    if (out->limbo) {
        out->primary_school = xstrdup(cfg->import.limbo_ou);
    } else {
        out->schools = xcalloc(schools ? schools->n : 1, sizeof(char *));
        for (size_t i = 0; schools && i < schools->n; i++)
            out->schools[out->n_schools++] = xstrdup(schools->values[i]);
        if (out->n_schools)
            qsort(out->schools, out->n_schools, sizeof(char *), cmp_str);
        out->primary_school = xstrdup(primary          ? primary
                                      : out->n_schools ? out->schools[0]
                                                       : cfg->import.limbo_ou);
    }
    struct attr_list l = {0};
    for (size_t i = 0; i < e->n_attrs; i++) {
        if (is_personal(cfg, e->attrs[i].name))
            attr_list_set(&l, e->attrs[i].name, (const char *const *)e->attrs[i].values,
                          e->attrs[i].n);
    }
    out->attrs = l.v;
    out->n_attrs = l.n;
    return 0;
}

char *person_ldap_filter_one(const char *source_uid, const char *record_uid)
{
    char *s = ldap_escape_filter_value(source_uid), *r = ldap_escape_filter_value(record_uid);
    char *f = xasprintf("(&(ucsschoolSourceUID=%s)(ucsschoolRecordUID=%s))", s, r);
    free(s);
    free(r);
    return f;
}

/* ---- the scan: persons first, then the class groups joined by normalized member DN ---- */

struct found {
    char *key; /* normalized DN, lower-cased */
    struct person p;
};

struct scan {
    const struct config *cfg;
    struct found *v;
    size_t n, cap;
    char err[256];
};

/* A person's key for joining class members to it: the first RDN, lower-cased ("uid=a.b").
 * uids are unique (slapo-unique), so it names the person wherever its entry is; a class group
 * that still holds the DN from before a move (a reconciler killed between a wave's entries
 * and its groups) then still counts as the person's class, and the next change replaces the
 * old DN there instead of dropping the class (found by test_crash_convergence). */
static char *dn_key(const char *dn)
{
    LDAPDN parsed = NULL;
    char *rdn = NULL, *k = NULL;
    if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS && parsed && parsed[0] &&
        ldap_rdn2str(parsed[0], &rdn, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS) {
        k = xstrdup(rdn);
        ldap_memfree(rdn);
    }
    if (parsed)
        ldap_dnfree(parsed);
    if (!k)
        k = xstrdup(dn);
    for (char *p = k; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return k;
}

static void on_person(const struct ldap_entry_info *e, void *opaque)
{
    struct scan *s = opaque;
    struct person p;
    char err[256];
    if (person_from_entry(s->cfg, e, &p, err, sizeof(err)) < 0)
        return; /* e.g. an administrator: not sisopi's */
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n].key = dn_key(e->dn);
    s->v[s->n++].p = p;
}

static int cmp_found(const void *a, const void *b)
{
    return strcmp(((const struct found *)a)->key, ((const struct found *)b)->key);
}

static void add_class(struct person *p, const char *school, const char *klass)
{
    struct school_classes *c = NULL;
    for (size_t i = 0; i < p->n_classes && !c; i++)
        c = strcasecmp(p->classes[i].school, school) == 0 ? &p->classes[i] : NULL;
    if (!c) {
        p->classes = xrealloc(p->classes, (p->n_classes + 1) * sizeof(*p->classes));
        c = &p->classes[p->n_classes++];
        memset(c, 0, sizeof(*c));
        c->school = xstrdup(school);
    }
    c->classes = xrealloc(c->classes, (c->n_classes + 1) * sizeof(char *));
    c->classes[c->n_classes++] = xstrdup(klass);
}

static void on_class_group(const struct ldap_entry_info *e, void *opaque)
{
    struct scan *s = opaque;
    const char *cn = ldap_entry_value(e, "cn");
    const struct ldap_attr_info *m = ldap_entry_attr(e, "uniqueMember");
    if (!cn || !m)
        return;
    char *school = layout_class_school(cn);
    for (size_t i = 0; i < m->n; i++) {
        struct found key = {.key = dn_key(m->values[i])};
        struct found *f = bsearch(&key, s->v, s->n, sizeof(*s->v), cmp_found);
        free(key.key);
        if (f && !f->p.limbo)
            add_class(&f->p, school, cn);
    }
    free(school);
}

static int cmp_classes(const void *a, const void *b)
{
    return strcasecmp(((const struct school_classes *)a)->school,
                      ((const struct school_classes *)b)->school);
}

static void on_done(const struct ldap_result_info *r, void *opaque)
{
    struct scan *s = opaque;
    if (r->rc != LDAP_SUCCESS && !s->err[0])
        snprintf(s->err, sizeof(s->err), "search under %s: %s (%s)", r->dn, ldap_err2string(r->rc),
                 r->message ? r->message : "");
}

int person_ldap_scan(struct ldap_conn *c, const struct config *cfg, const char *filter,
                     person_ldap_cb cb, void *opaque, char *err, size_t n)
{
    struct scan s = {.cfg = cfg};
    static const char *const person_attrs[] = {"*", "pwdAccountLockedTime", NULL};
    static const char *const group_attrs[] = {"cn", "uniqueMember", NULL};
    char *f = xasprintf("(&(objectClass=ucsschoolType)(ucsschoolSourceUID=*)(ucsschoolRecordUID=*)"
                        "(|(objectClass=ucsschoolStudent)(objectClass=ucsschoolTeacher)"
                        "(objectClass=ucsschoolStaff))%s)",
                        filter ? filter : "");
    int rc = 0;
    ldap_conn_search(c, cfg->ldap.base, LDAP_SCOPE_SUBTREE, f, person_attrs, on_person, on_done,
                     &s);
    ldap_conn_drain(c);
    free(f);
    if (!s.err[0] && s.n > 0) {
        qsort(s.v, s.n, sizeof(*s.v), cmp_found);
        ldap_conn_search(c, cfg->ldap.base, LDAP_SCOPE_SUBTREE,
                         "(&(objectClass=sisopiGroup)(ucsschoolRole=school_class:*)"
                         "(uniqueMember=*))",
                         group_attrs, on_class_group, on_done, &s);
        ldap_conn_drain(c);
    }
    if (s.err[0]) {
        snprintf(err, n, "%s", s.err);
        rc = -1;
    }
    for (size_t i = 0; i < s.n; i++) {
        struct person *p = &s.v[i].p;
        if (p->n_classes)
            qsort(p->classes, p->n_classes, sizeof(*p->classes), cmp_classes);
        for (size_t k = 0; k < p->n_classes; k++)
            qsort(p->classes[k].classes, p->classes[k].n_classes, sizeof(char *), cmp_str);
        if (rc == 0)
            rc = cb(p, opaque);
        person_free(p);
        free(s.v[i].key);
    }
    free(s.v);
    return rc;
}
