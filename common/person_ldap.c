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

int person_ldap_role(const struct dir_entry *e, enum role *out)
{
    const struct dir_attr *oc = dir_entry_attr(e, "objectClass");
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

int person_from_entry(const struct config *cfg, const struct dir_entry *e, struct person *out,
                      char *err, size_t n)
{
    memset(out, 0, sizeof(*out));
    const char *sid = dir_entry_value(e, "ucsschoolSourceUID");
    const char *rid = dir_entry_value(e, "ucsschoolRecordUID");
    const char *uid = dir_entry_value(e, "uid");
    if (!sid || !rid || !uid || person_ldap_role(e, &out->role) < 0) {
        snprintf(err, n, "%s: not a person sisopi manages", e->dn);
        return -1;
    }
    out->record_uid = xstrdup(rid);
    out->source_uid = xstrdup(sid);
    out->username = xstrdup(uid);
    out->dn = xstrdup(e->dn);
    out->limbo = dir_entry_value(e, "pwdAccountLockedTime") != NULL;
    const char *purge = dir_entry_value(e, "ucsschoolPurgeTimestamp");
    if (purge)
        layout_parse_generalized_time(purge, &out->purge_at_ms);
    const struct dir_attr *schools = dir_entry_attr(e, "ucsschoolSchool");
    const char *primary = dir_entry_value(e, "departmentNumber");
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
    char *s = dir_escape_filter_value(source_uid), *r = dir_escape_filter_value(record_uid);
    char *f = xasprintf("(&(ucsschoolSourceUID=%s)(ucsschoolRecordUID=%s))", s, r);
    free(s);
    free(r);
    return f;
}

/* ---- the scan: persons first, then every group, joined by the members' first RDN ---- */

enum held_how { HELD_DN = 1, HELD_STALE_DN = 2, HELD_UID = 4 };

/* A group that names a person, and how (enum held_how bits). */
struct held {
    size_t group; /* index into scan.groups */
    unsigned how;
};

struct found {
    char *key; /* the first RDN, lower-cased ("uid=a.b") */
    struct person p;
    struct held *held;
    size_t n_held;
};

struct scan {
    const struct config *cfg;
    struct found *v;
    size_t n, cap;
    char **groups; /* DNs of the groups that name any person */
    size_t n_groups;
    char err[256];
};

/* A person's key for joining group members to it: the first RDN, lower-cased ("uid=a.b").
 * uids are unique (slapo-unique), so it names the person wherever its entry is: a group that
 * still holds the DN from before a move (a reconciler killed between a wave's entries and its
 * groups) then still counts as the person's, and the check below calls it stale. */
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

static void on_person(const struct dir_entry *e, void *opaque)
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
    s->v[s->n] = (struct found){.key = dn_key(e->dn), .p = p};
    s->n++;
}

static int cmp_found(const void *a, const void *b)
{
    return strcmp(((const struct found *)a)->key, ((const struct found *)b)->key);
}

static struct found *find_by_key(struct scan *s, char *key)
{
    struct found k = {.key = key};
    struct found *f = bsearch(&k, s->v, s->n, sizeof(*s->v), cmp_found);
    free(key);
    return f;
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
    for (size_t i = 0; i < c->n_classes; i++) {
        if (strcmp(c->classes[i], klass) == 0)
            return;
    }
    c->classes = xrealloc(c->classes, (c->n_classes + 1) * sizeof(char *));
    c->classes[c->n_classes++] = xstrdup(klass);
}

static void note_held(struct found *f, size_t group, unsigned how)
{
    for (size_t i = 0; i < f->n_held; i++) {
        if (f->held[i].group == group) {
            f->held[i].how |= how;
            return;
        }
    }
    f->held = xrealloc(f->held, (f->n_held + 1) * sizeof(*f->held));
    f->held[f->n_held++] = (struct held){group, how};
}

static bool is_class_group(const struct dir_entry *e)
{
    const struct dir_attr *r = dir_entry_attr(e, "ucsschoolRole");
    for (size_t i = 0; r && i < r->n; i++) {
        if (strncasecmp(r->values[i], "school_class:", 13) == 0)
            return true;
    }
    return false;
}

/* A group: who it names, by DN (current or stale) and by uid; a class group also gives the
 * persons it holds by DN their class (the classes are what the directory says). */
static void on_group(const struct dir_entry *e, void *opaque)
{
    struct scan *s = opaque;
    const char *cn = dir_entry_value(e, "cn");
    const struct dir_attr *m = dir_entry_attr(e, "uniqueMember");
    const struct dir_attr *u = dir_entry_attr(e, "memberUid");
    if (!cn || (!m && !u) || s->n == 0)
        return;
    size_t g = s->n_groups;
    bool used = false;
    char *school = is_class_group(e) ? layout_class_school(cn) : NULL;
    for (size_t i = 0; m && i < m->n; i++) {
        struct found *f = find_by_key(s, dn_key(m->values[i]));
        if (!f)
            continue;
        note_held(f, g, dir_dn_equal(m->values[i], f->p.dn) ? HELD_DN : HELD_STALE_DN);
        used = true;
        if (school && !f->p.limbo)
            add_class(&f->p, school, cn);
    }
    for (size_t i = 0; u && i < u->n; i++) {
        char *key = xasprintf("uid=%s", u->values[i]);
        for (char *k = key; *k; k++)
            *k = (char)tolower((unsigned char)*k);
        struct found *f = find_by_key(s, key);
        if (f) {
            note_held(f, g, HELD_UID);
            used = true;
        }
    }
    free(school);
    if (used) {
        s->groups = xrealloc(s->groups, (s->n_groups + 1) * sizeof(char *));
        s->groups[s->n_groups++] = xstrdup(e->dn);
    }
}

static int cmp_classes(const void *a, const void *b)
{
    return strcasecmp(((const struct school_classes *)a)->school,
                      ((const struct school_classes *)b)->school);
}

static void on_done(const struct dir_result *r, void *opaque)
{
    struct scan *s = opaque;
    if (r->rc != LDAP_SUCCESS && !s->err[0])
        snprintf(s->err, sizeof(s->err), "search under %s: %s (%s)", r->dn, ldap_err2string(r->rc),
                 r->message ? r->message : "");
}

static void note_problem(struct person_ldap_groups *g, const char *what, const char *group)
{
    size_t len = strlen(g->detail);
    if (len + 8 >= sizeof(g->detail))
        return;
    if (len && len + 3 < sizeof(g->detail)) {
        memcpy(g->detail + len, "; ", 3);
        len += 2;
    }
    snprintf(g->detail + len, sizeof(g->detail) - len, "%s %s", what, group);
    if (strlen(g->detail) == sizeof(g->detail) - 1)
        memcpy(g->detail + sizeof(g->detail) - 4, "...", 4);
}

/* The groups holding f against the groups f's person should be in. */
static void check_groups(const struct scan *s, const struct found *f, struct person_ldap_groups *g)
{
    memset(g, 0, sizeof(*g));
    char **want = NULL;
    size_t nw = layout_person_groups(s->cfg, &f->p, &want);
    for (size_t w = 0; w < nw; w++) {
        unsigned how = 0;
        for (size_t i = 0; i < f->n_held; i++) {
            if (dir_dn_equal(s->groups[f->held[i].group], want[w]))
                how = f->held[i].how;
        }
        if ((how & (HELD_DN | HELD_UID)) != (HELD_DN | HELD_UID)) {
            g->missing++;
            note_problem(g, !(how & HELD_DN) ? "not by DN in" : "not by uid in", want[w]);
        }
    }
    for (size_t i = 0; i < f->n_held; i++) {
        const char *dn = s->groups[f->held[i].group];
        bool wanted = false;
        for (size_t w = 0; w < nw && !wanted; w++)
            wanted = dir_dn_equal(dn, want[w]);
        if (f->held[i].how & HELD_STALE_DN) {
            g->stale++;
            note_problem(g, "an old DN in", dn);
        } else if (!wanted && layout_managed_group(s->cfg, dn, f->p.role)) {
            g->extra++;
            note_problem(g, "wrongly in", dn);
        }
    }
    for (size_t w = 0; w < nw; w++)
        free(want[w]);
    free(want);
}

int person_ldap_scan(struct dir_conn *c, const struct config *cfg, const char *filter,
                     person_ldap_cb cb, void *opaque, char *err, size_t n)
{
    struct scan s = {.cfg = cfg};
    static const char *const person_attrs[] = {"*", "pwdAccountLockedTime", NULL};
    static const char *const group_attrs[] = {"cn", "ucsschoolRole", "uniqueMember", "memberUid",
                                              NULL};
    char *f = xasprintf("(&(objectClass=ucsschoolType)(ucsschoolSourceUID=*)(ucsschoolRecordUID=*)"
                        "(|(objectClass=ucsschoolStudent)(objectClass=ucsschoolTeacher)"
                        "(objectClass=ucsschoolStaff))%s)",
                        filter ? filter : "");
    int rc = 0;
    dir_conn_search(c, cfg->ldap.base, LDAP_SCOPE_SUBTREE, f, person_attrs, on_person, on_done, &s);
    dir_conn_drain(c);
    free(f);
    if (!s.err[0] && s.n > 0) {
        qsort(s.v, s.n, sizeof(*s.v), cmp_found);
        dir_conn_search(c, cfg->ldap.base, LDAP_SCOPE_SUBTREE,
                        "(&(objectClass=sisopiGroup)(|(uniqueMember=*)(memberUid=*)))", group_attrs,
                        on_group, on_done, &s);
        dir_conn_drain(c);
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
        if (rc == 0) {
            struct person_ldap_groups g;
            check_groups(&s, &s.v[i], &g);
            rc = cb(p, &g, opaque);
        }
        person_free(p);
        free(s.v[i].key);
        free(s.v[i].held);
    }
    for (size_t i = 0; i < s.n_groups; i++)
        free(s.groups[i]);
    free(s.groups);
    free(s.v);
    return rc;
}

/* ---- entries as they are ---- */

static bool is_managed_attr(const struct config *cfg, const char *name)
{
    static const char *const status[] = {"ucsschoolSchool",
                                         "ucsschoolRole",
                                         "departmentNumber",
                                         "shadowExpire",
                                         "pwdAccountLockedTime",
                                         "ucsschoolPurgeTimestamp",
                                         NULL};
    for (const char *const *a = status; *a; a++) {
        if (strcasecmp(*a, name) == 0)
            return true;
    }
    return is_personal(cfg, name);
}

void person_entry_free(struct person_entry *e)
{
    free(e->record_uid);
    free(e->source_uid);
    free(e->dn);
    free(e->username);
    attr_list_free(&e->managed);
    memset(e, 0, sizeof(*e));
}

struct fetch {
    const struct config *cfg;
    person_entry_cb cb;
    void *opaque;
    char err[256];
};

static void on_fetched(const struct dir_entry *e, void *opaque)
{
    struct fetch *f = opaque;
    const char *sid = dir_entry_value(e, "ucsschoolSourceUID");
    const char *rid = dir_entry_value(e, "ucsschoolRecordUID");
    const char *uid = dir_entry_value(e, "uid");
    if (!sid || !rid || !uid)
        return;
    struct person_entry pe = {.record_uid = xstrdup(rid),
                              .source_uid = xstrdup(sid),
                              .dn = xstrdup(e->dn),
                              .username = xstrdup(uid)};
    for (size_t i = 0; i < e->n_attrs; i++) {
        if (is_managed_attr(f->cfg, e->attrs[i].name))
            attr_list_set(&pe.managed, e->attrs[i].name, (const char *const *)e->attrs[i].values,
                          e->attrs[i].n);
    }
    f->cb(&pe, f->opaque);
}

static void on_fetch_done(const struct dir_result *r, void *opaque)
{
    struct fetch *f = opaque;
    if (r->rc != LDAP_SUCCESS && !f->err[0])
        snprintf(f->err, sizeof(f->err), "search under %s: %s (%s)", r->dn, ldap_err2string(r->rc),
                 r->message ? r->message : "");
}

#define FETCH_CHUNK 100

int person_ldap_fetch(struct dir_conn *c, const struct config *cfg, const char *const *source_uids,
                      const char *const *record_uids, size_t n, person_entry_cb cb, void *opaque,
                      char *err, size_t errlen)
{
    static const char *const attrs[] = {"*", "pwdAccountLockedTime", NULL};
    struct fetch f = {.cfg = cfg, .cb = cb, .opaque = opaque};
    for (size_t i = 0; i < n && !f.err[0]; i += FETCH_CHUNK) {
        size_t m = n - i < FETCH_CHUNK ? n - i : FETCH_CHUNK;
        char *filter = xstrdup("(|");
        for (size_t k = i; k < i + m; k++) {
            char *one = person_ldap_filter_one(source_uids[k], record_uids[k]);
            xappendf(&filter, "%s", one);
            free(one);
        }
        xappendf(&filter, ")");
        dir_conn_search(c, cfg->ldap.base, LDAP_SCOPE_SUBTREE, filter, attrs, on_fetched,
                        on_fetch_done, &f);
        free(filter);
    }
    dir_conn_drain(c);
    if (f.err[0] || dir_conn_is_down(c)) {
        snprintf(err, errlen, "%s", f.err[0] ? f.err : "the directory connection was lost");
        return -1;
    }
    return 0;
}
